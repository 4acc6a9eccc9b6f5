import CZlib
import ELF

/// A memory dump in the kdump-compressed format ("diskdump": makedumpfile's
/// output, and QEMU's `dump-guest-memory` with `kdump-zlib`, `kdump-lzo` or
/// `kdump-snappy`), plain (`KDUMP   `) or flattened (`makedumpfile`: QEMU 7.2
/// writes only this one; see ``KdumpImage``). Layout (makedumpfile's
/// `diskdump_mod.h`, crash's `diskdump.c`, QEMU's `dump/dump.c`), in blocks of
/// `block_size` bytes: `struct disk_dump_header` in block 0, `struct
/// kdump_sub_header` (and QEMU's ELF notes) from block 1 for `sub_hdr_size`
/// blocks, then `bitmap_blocks` blocks of two bitmaps (1st: the pfns that are
/// RAM, 2nd: the pfns dumped), then one 24-byte `page_desc` per dumped pfn in
/// pfn order, then the pages: raw (`size == block_size`, no flag) or
/// compressed (`DUMP_DH_COMPRESSED_ZLIB`). Registers come from the
/// `NT_PRSTATUS` notes at `offset_note`, VMCOREINFO from `offset_vmcoreinfo`
/// (or a `VMCOREINFO` note there).
///
/// This reads untrusted files: every value from the file is checked or
/// bounded before it is used. What becomes of each defect:
/// - an error at open (one line, file and offset): a header, sub header,
///   bitmap or note area the file does not hold, a block size that is not a
///   power of two from 512 to 64 KiB, a bitmap too small for `max_mapnr`, page
///   descriptors that end past the end of the file (no page data can follow
///   them), and a page compressed with LZO, snappy or zstd (named with its pfn:
///   such a dump has those throughout, and zeros would be a lie);
/// - nil from ``readPhysical(_:_:)`` (the unwinder then reports the memory as
///   unreadable), with the reason from ``page(_:)``: a pfn not in the dump
///   (not RAM, excluded by the dump level, outside a split part), and a dumped
///   page whose descriptor or data is missing (a dump cut short, an empty
///   descriptor of an incomplete dump), whose descriptor is malformed (size 0
///   or above `block_size`, a raw page not of `block_size`, a negative offset,
///   several compressions), or whose zlib data does not decompress to exactly
///   `block_size` bytes;
/// - ``partial``, one line found at open, when the header says the dump is
///   incomplete (`DUMP_DH_COMPRESSED_INCOMPLETE`), the file is one part of a
///   split dump, a flattened stream lacks its end record, or dumped pages lack
///   data or have malformed descriptors (counted, the first named).
///
/// Used from one thread: decompressed pages are cached (least recently used
/// out), so a view from ``readPhysical(_:_:)`` is for immediate use.
public final class KdumpCompressed: MemoryDump, @unchecked Sendable {
  /// `KDUMP_SIGNATURE`.
  public static let signature = Array("KDUMP   ".utf8)
  /// The flattened format's `MAKEDUMPFILE_SIGNATURE`, padded to 16 bytes.
  public static let flattenedSignature = Array("makedumpfile".utf8) + [0, 0, 0, 0]
  /// `DUMP_DH_COMPRESSED_ZLIB`, `_LZO`, `_SNAPPY`, `_ZSTD`: page descriptor
  /// flags (and, in the header's status, the compression used).
  public static let zlib: UInt32 = 0x1
  public static let lzo: UInt32 = 0x2
  public static let snappy: UInt32 = 0x4
  public static let zstd: UInt32 = 0x20
  /// `DUMP_DH_COMPRESSED_INCOMPLETE`: the header's status of a dump makedumpfile could not finish.
  public static let incomplete: UInt32 = 0x8
  /// `sizeof(struct disk_dump_header)` on 64-bit.
  public static let headerSize = 464
  /// `sizeof(page_desc_t)`.
  public static let descriptorSize = 24

  /// The file.
  public let source: MappedFile
  public var path: String { source.path }
  public let vmcoreinfo: [String: String]
  /// The file offset of the VMCOREINFO text (`offset_vmcoreinfo`, or the note's descriptor).
  public let vmcoreinfoOffset: UInt64?
  public let cpus: [Registers]
  public private(set) var partial: ELFError? = nil

  /// `header_version`.
  public let headerVersion: Int32
  /// `status`: the compression used, `DUMP_DH_COMPRESSED_INCOMPLETE`.
  public let status: UInt32
  /// `block_size`: the page size.
  public let blockSize: Int
  /// `max_mapnr_64` (header version 6 and later) or `max_mapnr`: pfns are below it.
  public let maxMapnr: UInt64
  /// `nr_cpus`.
  public let nrCPUs: Int32
  /// `utsname.release` and `utsname.machine`.
  public let release: String
  public let machine: String
  /// The sub header's `phys_base` (0 from QEMU, which leaves it to VMCOREINFO's `NUMBER(phys_base)`).
  public let physBase: UInt64
  /// The pfns this file holds: all below `max_mapnr`, or one part's `start_pfn ..< end_pfn` of a split dump.
  public let pfns: Range<UInt64>
  /// The number of dumped pages (bits of the 2nd bitmap in ``pfns``).
  public let dumpedPages: Int
  /// Whether the file is in the flattened format.
  public var isFlattened: Bool { image.isFlattened }
  /// Dumped pages that could not be read when asked for (not those ``partial``
  /// names), and the first such error.
  public private(set) var pageErrors = 0
  public private(set) var firstPageError: ELFError?

  let image: KdumpImage
  /// The 1st bitmap (RAM) and the 2nd (dumped, limited to `pfns`), 64 pfns a word.
  let ram: [UInt64]
  let dumped: [UInt64]
  /// Dumped pages before each group of 8 words of `dumped` (512 pfns): a pfn's descriptor index.
  let rankBase: [Int]
  /// The logical offset of the first `page_desc`.
  let descriptorsOffset: UInt64
  let shift: UInt64

  /// Decompressed pages: `slotCount` blocks, by pfn, least recently used out.
  private var slots: UnsafeMutableRawBufferPointer?
  private let slotCount: Int
  private var slotPFN: [UInt64]
  private var slotTick: [UInt64]
  private var slotOffset: [UInt64]
  private var cached: [UInt64: Int] = [:]
  private var tick: UInt64 = 0
  /// Reads across pages are assembled here.
  private var scratch: UnsafeMutableRawBufferPointer?

  /// One `page_desc`.
  struct PageDescriptor {
    var offset: Int64
    var size: UInt32
    var flags: UInt32
  }

  /// Opens the dump at `path`.
  public convenience init(path: String) throws(ELFError) {
    try self.init(source: MappedFile(path: path))
  }

  /// The dump in `source`, plain or flattened by its signature.
  public init(source: MappedFile) throws(ELFError) {
    self.source = source
    let path = source.path
    let flattened = source.bytes.starts(with: Self.flattenedSignature)
    let image = flattened ? try KdumpImage(flattened: source) : KdumpImage(plain: source)
    self.image = image
    func fail(_ message: String, _ logical: UInt64) -> ELFError {
      ELFError(.malformed(message), path: path, offset: image.fileOffset(logical))
    }
    func need(_ what: String, _ offset: UInt64, _ count: UInt64) throws(ELFError) -> [UInt8] {
      guard count <= UInt64(Int.max), let b = image.bytes(offset, Int(count)) else {
        let (end, overflow) = offset.addingReportingOverflow(count)
        throw ELFError(
          .truncated(
            what: what + (image.isFlattened ? " (in the flattened stream)" : ""),
            needed: overflow ? .max : end, size: image.size), path: path, offset: image.fileOffset(offset))
      }
      return b
    }

    // struct disk_dump_header
    let h = try need("the kdump header", 0, UInt64(Self.headerSize))
    guard h.starts(with: Self.signature) else {
      throw fail("not a kdump-compressed dump (signature \(Self.printable(h[0..<8])), expected \"KDUMP   \")", 0)
    }
    headerVersion = Int32(bitPattern: Self.u32(h, 8))
    release = Self.string(h[(12 + 2 * 65)..<(12 + 3 * 65)])
    machine = Self.string(h[(12 + 4 * 65)..<(12 + 5 * 65)])
    status = Self.u32(h, 424)
    let rawBlockSize = Int32(bitPattern: Self.u32(h, 428))
    let subHeaderBlocks = Int32(bitPattern: Self.u32(h, 432))
    let bitmapBlocks = UInt64(Self.u32(h, 436))
    nrCPUs = Int32(bitPattern: Self.u32(h, 460))
    guard headerVersion >= 1 else { throw fail("kdump header_version \(headerVersion) (1 or later is read)", 8) }
    guard (512...65536).contains(rawBlockSize), rawBlockSize.nonzeroBitCount == 1 else {
      throw fail("kdump block_size \(rawBlockSize) is not a power of two from 512 to 65536", 428)
    }
    blockSize = Int(rawBlockSize)
    shift = UInt64(rawBlockSize.trailingZeroBitCount)
    let block = UInt64(blockSize)
    guard subHeaderBlocks >= 1 else { throw fail("kdump sub_hdr_size \(subHeaderBlocks) (no sub header)", 432) }

    // struct kdump_sub_header, as much of it as the header version has
    let version = min(headerVersion, 6)
    let subSize: UInt64 = [1: 8, 2: 32, 3: 48, 4: 64, 5: 80, 6: 104][version]!
    let s = try need("the kdump sub header (version \(headerVersion))", block, subSize)
    physBase = Self.u64(s, 0)
    let split = version >= 2 && Self.u32(s, 12) != 0
    maxMapnr = version >= 6 ? Self.u64(s, 96) : UInt64(Self.u32(h, 440))
    var pfns = 0..<maxMapnr
    if split {
      let (start, end) = version >= 6 ? (Self.u64(s, 80), Self.u64(s, 88)) : (Self.u64(s, 16), Self.u64(s, 24))
      guard start <= end, end <= maxMapnr else {
        throw fail(
          "split dump with start_pfn 0x\(String(start, radix: 16)) and end_pfn 0x\(String(end, radix: 16)) "
            + "(max_mapnr 0x\(String(maxMapnr, radix: 16)))", block + 16)
      }
      pfns = start..<end
    }
    self.pfns = pfns

    // The bitmaps: two halves when the blocks hold two (crash's dump_is_partial), else one for both.
    let bitmapOffset = block * (1 + UInt64(subHeaderBlocks))  // below 2^48: no overflow
    let bitmapLength = block * bitmapBlocks
    let bitmapBytes = maxMapnr / 8 + (maxMapnr % 8 == 0 ? 0 : 1)
    let bitmapBlocksNeeded = bitmapBytes / block + (bitmapBytes % block == 0 ? 0 : 1)
    let second: UInt64
    if bitmapBlocks >= 2 * bitmapBlocksNeeded {
      second = bitmapOffset + bitmapLength / 2
    } else if bitmapLength >= bitmapBytes {
      second = bitmapOffset
    } else {
      throw fail(
        "kdump bitmap_blocks \(bitmapBlocks) (0x\(String(bitmapLength, radix: 16)) bytes) cannot hold max_mapnr "
          + "0x\(String(maxMapnr, radix: 16)) pfns", 436)
    }
    let first = try need("the 1st bitmap", bitmapOffset, bitmapBytes)
    let dumpedBytes = try need("the 2nd bitmap", second, bitmapBytes)
    ram = Self.words(first, bits: maxMapnr, in: 0..<maxMapnr)
    dumped = Self.words(dumpedBytes, bits: maxMapnr, in: pfns)
    var bases = [0]
    bases.reserveCapacity(dumped.count / 8 + 1)
    var total = 0
    for (i, w) in dumped.enumerated() {
      total += w.nonzeroBitCount
      if i % 8 == 7 { bases.append(total) }
    }
    rankBase = bases
    dumpedPages = total
    descriptorsOffset = bitmapOffset + bitmapLength
    let (descriptorsEnd, o1) = descriptorsOffset.addingReportingOverflow(UInt64(total) * UInt64(Self.descriptorSize))
    guard !o1, descriptorsEnd <= image.size else {
      throw ELFError(
        .truncated(
          what: "the page descriptors of \(total) dumped pages"
            + (image.isFlattened ? " (in the flattened stream)" : ""),
          needed: o1 ? .max : descriptorsEnd, size: image.size), path: path,
        offset: image.fileOffset(descriptorsOffset))
    }

    // Notes (registers) and VMCOREINFO.
    var notes = DumpNotes([])
    if version >= 4 {
      let offset = Self.u64(s, 48)
      let size = Self.u64(s, 56)
      if offset != 0 && size != 0 {
        _ = try need("the ELF notes (offset_note, size_note)", offset, size)
        notes =
          try image.withView(offset, Int(size)) { (v) throws(ELFError) in
            DumpNotes(try ELFNote.notes(in: v, path: path))
          } ?? notes
      }
    }
    var info = notes.vmcoreinfo
    var infoOffset = notes.vmcoreinfoOffset
    if version >= 3 {
      let offset = Self.u64(s, 32)
      let size = Self.u64(s, 40)
      if offset != 0 && size != 0 {
        info = DumpNotes.keys(try need("the VMCOREINFO text (offset_vmcoreinfo, size_vmcoreinfo)", offset, size))
        infoOffset = image.fileOffset(offset)
      }
    }
    vmcoreinfo = info
    vmcoreinfoOffset = infoOffset
    cpus = notes.cpus

    slotCount = max(32, (1 << 20) / blockSize)
    slotPFN = Array(repeating: .max, count: slotCount)
    slotTick = Array(repeating: 0, count: slotCount)
    slotOffset = Array(repeating: 0, count: slotCount)
    try survey(split: split)
  }

  deinit {
    slots?.deallocate()
    scratch?.deallocate()
  }

  /// Every page descriptor once: a compression this reader lacks is an
  /// error; pages without data and malformed descriptors are counted into ``partial``.
  private func survey(split: Bool) throws(ELFError) {
    var missing = 0
    var malformed = 0
    var firstMissing: PageFailure? = nil
    var firstMalformed: PageFailure? = nil
    var index = 0
    for (w, word) in dumped.enumerated() where word != 0 {
      var bits = word
      while bits != 0 {
        let pfn = UInt64(w) * 64 + UInt64(bits.trailingZeroBitCount)
        bits &= bits - 1
        do throws(PageFailure) {
          _ = try descriptor(pfn, index: index)
        } catch {
          switch error.kind {
          case .unsupported: throw failure(error)
          case .missing:
            missing += 1
            if firstMissing == nil { firstMissing = error }
          case .malformed:
            malformed += 1
            if firstMalformed == nil { firstMalformed = error }
          }
        }
        index += 1
      }
    }
    var parts: [String] = []
    var offset: UInt64? = nil
    if status & Self.incomplete != 0 {
      parts.append("makedumpfile marked it incomplete (DUMP_DH_COMPRESSED_INCOMPLETE in the header's status)")
      offset = 424
    }
    if split {
      parts.append(
        "one part of a split dump (makedumpfile --split): pfns 0x\(String(pfns.lowerBound, radix: 16))-0x"
          + "\(String(pfns.upperBound, radix: 16)) of 0x\(String(maxMapnr, radix: 16))")
      offset = offset ?? image.fileOffset(UInt64(blockSize) + 12)
    }
    if let cut = image.cutShortAt {
      parts.append("the flattened stream ends at 0x\(String(cut, radix: 16)) without its end record")
      offset = offset ?? cut
    }
    if let f = firstMissing {
      parts.append("\(missing) of \(dumpedPages) dumped pages have no data (the first: \(message(f)))")
      offset = offset ?? image.fileOffset(f.offset)
    }
    if let f = firstMalformed {
      parts.append("\(malformed) page descriptors are malformed (the first: \(message(f)))")
      offset = offset ?? image.fileOffset(f.offset)
    }
    if let offset {
      partial = ELFError(.malformed("partial dump: " + parts.joined(separator: "; ")), path: path, offset: offset)
    }
  }

  /// Why dumped page `pfn` cannot be read, found at logical `offset` (its
  /// message is made only when it is shown: the survey meets every failure).
  struct PageFailure: Error {
    enum Kind { case missing, malformed, unsupported }
    enum Reason {
      case noDescriptor
      case emptyDescriptor
      case severalCompressions(flags: UInt32)
      case unsupported(String)
      case badOffset(Int64)
      case badSize(UInt32, compressed: Bool)
      case dataAbsent(PageDescriptor)
    }
    var pfn: UInt64
    /// The logical offset of the page's descriptor.
    var descriptor: UInt64
    var reason: Reason

    var kind: Kind {
      switch reason {
      case .noDescriptor, .emptyDescriptor, .dataAbsent: .missing
      case .severalCompressions, .badOffset, .badSize: .malformed
      case .unsupported: .unsupported
      }
    }

    /// Where the error points: the descriptor, or its field at fault.
    var offset: UInt64 {
      switch reason {
      case .unsupported: descriptor + 12
      case .badSize: descriptor + 8
      default: descriptor
      }
    }
  }

  /// The message of `f`.
  func message(_ f: PageFailure) -> String {
    let page = "pfn 0x\(String(f.pfn, radix: 16))"
    let place = "page descriptor at 0x\(String(image.fileOffset(f.descriptor), radix: 16))"
    switch f.reason {
    case .noDescriptor:
      return "the page descriptor of \(page) is not in " + (image.isFlattened ? "the flattened stream" : "the file")
    case .emptyDescriptor: return "\(page) has an empty \(place) (a page never written)"
    case .severalCompressions(let flags):
      return "\(page): flags 0x\(String(flags, radix: 16)) name several compressions (\(place))"
    case .unsupported(let name):
      return "\(page) is compressed with \(name) (\(place)): only zlib-compressed and uncompressed pages are read "
        + "(makedumpfile -c, QEMU's kdump-zlib)"
    case .badOffset(let offset): return "\(page): data offset \(offset) (\(place))"
    case .badSize(let size, let compressed):
      return
        "\(page): \(compressed ? "zlib page" : "uncompressed page") of \(size) bytes, block size \(blockSize) (\(place))"
    case .dataAbsent(let d):
      let end =
        image.isFlattened
        ? "not in the flattened stream" : "past the end of the file (0x\(String(image.size, radix: 16)))"
      return "the data of \(page) (0x\(String(d.size, radix: 16)) bytes at 0x\(String(d.offset, radix: 16))) is \(end)"
    }
  }

  /// `f` as a one-line error at its file offset.
  func failure(_ f: PageFailure) -> ELFError {
    ELFError(.malformed(message(f)), path: path, offset: image.fileOffset(f.offset))
  }

  /// The descriptor of dumped `pfn` (the `index`th dumped page), checked.
  func descriptor(_ pfn: UInt64, index: Int) throws(PageFailure) -> (PageDescriptor, at: UInt64) {
    let at = descriptorsOffset + UInt64(index) * UInt64(Self.descriptorSize)  // below descriptorsEnd
    func fail(_ reason: PageFailure.Reason) -> PageFailure { PageFailure(pfn: pfn, descriptor: at, reason: reason) }
    guard
      let d = image.withView(
        at, Self.descriptorSize,
        { v in
          PageDescriptor(offset: v.load(at: 0), size: v.load(at: 8), flags: v.load(at: 12))
        })
    else { throw fail(.noDescriptor) }
    guard d.offset != 0 else { throw fail(.emptyDescriptor) }
    let compression = d.flags & (Self.zlib | Self.lzo | Self.snappy | Self.zstd)
    if compression.nonzeroBitCount > 1 { throw fail(.severalCompressions(flags: d.flags)) }
    if compression != 0 && compression != Self.zlib {
      throw fail(.unsupported([Self.lzo: "LZO", Self.snappy: "snappy", Self.zstd: "zstd"][compression]!))
    }
    guard d.offset > 0 else { throw fail(.badOffset(d.offset)) }
    guard d.size > 0, d.size <= blockSize, compression != 0 || d.size == blockSize else {
      throw fail(.badSize(d.size, compressed: compression != 0))
    }
    guard image.covers(UInt64(d.offset), UInt64(d.size)) else { throw fail(.dataAbsent(d)) }
    return (d, at)
  }

  /// Whether `pfn` is RAM by the 1st bitmap.
  public func isRAM(_ pfn: UInt64) -> Bool { pfn < maxMapnr && ram[Int(pfn / 64)] & (1 << (pfn % 64)) != 0 }

  /// Whether the 2nd bitmap dumps `pfn` (in this file's ``pfns``).
  public func isDumped(_ pfn: UInt64) -> Bool { pfn < maxMapnr && dumped[Int(pfn / 64)] & (1 << (pfn % 64)) != 0 }

  /// The `block_size` bytes of page `pfn`: nil when the dump does not have
  /// it (``isDumped(_:)``), an error at the page's descriptor when it is
  /// dumped but cannot be read (see the type's notes). A decompressed page
  /// stays valid for the next `slotCount - 1` pages read.
  public func page(_ pfn: UInt64) throws(ELFError) -> ByteView? {
    guard isDumped(pfn) else { return nil }
    if let slot = cached[pfn] {
      tick += 1
      slotTick[slot] = tick
      return slotView(slot, fileOffset: slotOffset[slot])
    }
    let w = Int(pfn / 64)
    var index = rankBase[w / 8]
    for k in (w / 8 * 8)..<w { index += dumped[k].nonzeroBitCount }
    index += (dumped[w] & ((1 << (pfn % 64)) - 1)).nonzeroBitCount
    let d: PageDescriptor
    let at: UInt64
    do throws(PageFailure) {
      (d, at) = try descriptor(pfn, index: index)
    } catch {
      throw failure(error)
    }
    let data = UInt64(d.offset)
    if d.flags & Self.zlib == 0, let v = image.view(data, blockSize) { return v }
    let slot = evict(for: pfn)
    let out = slotView(slot, fileOffset: image.fileOffset(data))
    let ok = try image.withView(data, Int(d.size)) { (v) throws(ELFError) -> Bool in
      let target = UnsafeMutableRawBufferPointer(mutating: out.bytes)
      if d.flags & Self.zlib == 0 {
        target.copyMemory(from: v.bytes)
        return true
      }
      var length = uLongf(blockSize)
      let status = uncompress(
        target.baseAddress!.assumingMemoryBound(to: Bytef.self), &length,
        v.bytes.baseAddress!.assumingMemoryBound(to: Bytef.self), uLong(d.size))
      guard status == Z_OK, length == blockSize else {
        let why =
          status == Z_OK ? "to \(length) bytes" : status == Z_BUF_ERROR ? "to more than that" : "(zlib error \(status))"
        throw ELFError(
          .malformed(
            "the zlib page of pfn 0x\(String(pfn, radix: 16)) (0x\(String(d.size, radix: 16)) bytes at "
              + "0x\(String(d.offset, radix: 16))) does not decompress to block_size \(blockSize) bytes: \(why)"),
          path: path, offset: image.fileOffset(data))
      }
      return true
    }
    guard ok == true else {  // `descriptor` checked the range
      throw ELFError(.malformed("page data of pfn 0x\(String(pfn, radix: 16)) is absent"), path: path, offset: at)
    }
    cached[pfn] = slot
    slotPFN[slot] = pfn
    slotOffset[slot] = out.fileOffset
    return out
  }

  /// The least recently used slot, emptied for `pfn`.
  private func evict(for pfn: UInt64) -> Int {
    if slots == nil {
      slots = UnsafeMutableRawBufferPointer.allocate(byteCount: slotCount * blockSize, alignment: 16)
    }
    var slot = 0
    for i in 1..<slotCount where slotTick[i] < slotTick[slot] { slot = i }
    if slotPFN[slot] != .max { cached[slotPFN[slot]] = nil }
    slotPFN[slot] = .max
    tick += 1
    slotTick[slot] = tick
    return slot
  }

  private func slotView(_ slot: Int, fileOffset: UInt64) -> ByteView {
    ByteView(
      UnsafeRawBufferPointer(rebasing: slots![(slot * blockSize)..<((slot + 1) * blockSize)]), fileOffset: fileOffset)
  }

  /// `count` bytes of physical memory at `address`, or nil when a page of
  /// them is not in the dump or cannot be read (``page(_:)`` says why). A
  /// read across pages is assembled in a buffer that the next such read reuses.
  public func readPhysical(_ address: UInt64, _ count: Int) -> ByteView? {
    guard count >= 0 else { return nil }
    let mask = UInt64(blockSize - 1)
    let offset = Int(address & mask)
    if count <= blockSize - offset {
      return readPage(address >> shift)?.slice(offset, count)
    }
    let (last, overflow) = address.addingReportingOverflow(UInt64(count) - 1)
    let (held, huge) = UInt64(dumpedPages).multipliedReportingOverflow(by: UInt64(blockSize))
    guard !overflow, huge || UInt64(count) <= held else { return nil }  // more than the dump holds
    let pages = (address >> shift)...(last >> shift)
    guard pages.allSatisfy(isDumped) else { return nil }
    if scratch.map({ $0.count < count }) ?? true {
      scratch?.deallocate()
      scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
    }
    var at = 0
    for pfn in pages {
      guard let page = readPage(pfn) else { return nil }
      let from = pfn == pages.lowerBound ? offset : 0
      let n = min(blockSize - from, count - at)
      UnsafeMutableRawBufferPointer(rebasing: scratch![at..<(at + n)]).copyMemory(
        from: UnsafeRawBufferPointer(rebasing: page.bytes[from..<(from + n)]))
      at += n
    }
    return ByteView(UnsafeRawBufferPointer(rebasing: scratch![0..<count]), fileOffset: 0)
  }

  /// ``page(_:)``, its errors counted (``pageErrors``).
  private func readPage(_ pfn: UInt64) -> ByteView? {
    do throws(ELFError) {
      return try page(pfn)
    } catch {
      pageErrors += 1
      if firstPageError == nil { firstPageError = error }
      return nil
    }
  }

  // MARK: - Bytes

  static func u32(_ b: [UInt8], _ at: Int) -> UInt32 {
    (0..<4).reduce(0) { $0 | UInt32(b[at + $1]) << (8 * $1) }
  }

  static func u64(_ b: [UInt8], _ at: Int) -> UInt64 {
    (0..<8).reduce(0) { $0 | UInt64(b[at + $1]) << (8 * $1) }
  }

  /// A NUL-padded C string.
  static func string(_ b: ArraySlice<UInt8>) -> String { String(decoding: b.prefix { $0 != 0 }, as: UTF8.self) }

  static func printable(_ b: ArraySlice<UInt8>) -> String {
    "\"" + b.map { (0x20..<0x7f).contains($0) ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16) }.joined()
      + "\""
  }

  /// A bitmap (bit `k % 8` of byte `k / 8` for pfn `k`) as words, only the bits of `pfns` kept.
  static func words(_ bytes: [UInt8], bits: UInt64, in pfns: Range<UInt64>) -> [UInt64] {
    var out = [UInt64](repeating: 0, count: Int((bits + 63) / 64))
    for (i, b) in bytes.enumerated() where b != 0 { out[i / 8] |= UInt64(b) << (8 * UInt64(i % 8)) }
    for (i, w) in out.enumerated() where w != 0 {
      let base = UInt64(i) * 64
      var keep = UInt64.max
      if base < pfns.lowerBound { keep &= pfns.lowerBound - base >= 64 ? 0 : ~((1 << (pfns.lowerBound - base)) - 1) }
      if base + 64 > pfns.upperBound { keep &= pfns.upperBound <= base ? 0 : (1 << (pfns.upperBound - base)) - 1 }
      out[i] = w & keep
    }
    return out
  }
}
