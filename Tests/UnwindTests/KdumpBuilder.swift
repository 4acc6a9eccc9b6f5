import CZlib
import Foundation
import TestSupport

/// Builds a small kdump-compressed file as QEMU's `dump/dump.c` writes one:
/// `disk_dump_header` (block 0), `kdump_sub_header` with the ELF notes and
/// the VMCOREINFO text after it (from block 1), the two bitmaps, one
/// `page_desc` per dumped pfn, the page data.
struct KdumpBuilder {
  /// How a page is stored.
  enum Storage {
    /// `block_size` bytes, flags 0.
    case raw
    /// `compress2` output, `DUMP_DH_COMPRESSED_ZLIB`.
    case zlib
    /// These bytes as they are, with these descriptor flags.
    case stored([UInt8], flags: UInt32)
  }

  static let blockSize = 4096
  var blockSize = KdumpBuilder.blockSize
  var headerVersion: Int32 = 6
  /// `status`: `DUMP_DH_COMPRESSED_ZLIB`, as QEMU's kdump-zlib.
  var status: UInt32 = 1
  var maxMapnr: UInt64 = 32
  /// Dumped pages in pfn order.
  var pages: [(pfn: UInt64, bytes: [UInt8], storage: Storage)] = []
  var vmcoreinfo = ""
  /// One `NT_PRSTATUS` note per entry: `pr_reg` values by index (16 rip, 17 cs, 19 rsp).
  var cpus: [[Int: UInt64]] = []
  /// `split`, `start_pfn_64`, `end_pfn_64`.
  var split: Range<UInt64>? = nil

  /// Where the last `bytes()` put things.
  struct Layout {
    var subHeader = 0
    var vmcoreinfo = 0
    var bitmap = 0
    var descriptors = 0
    /// The data offset of each page, in `pages` order.
    var data: [Int] = []
  }

  /// The memory of `core` as dumped pages: zero pages left out (as makedumpfile's dump level 1),
  /// the others alternately zlib and raw.
  init(memory: [UInt8], vmcoreinfo: String, rip: UInt64) {
    self.vmcoreinfo = vmcoreinfo
    cpus = [[16: rip, 17: 0x10, 19: 0xffff_c900_0000_0ff0]]
    maxMapnr = UInt64(memory.count / blockSize) + 16  // a hole at the top
    for pfn in 0..<(memory.count / blockSize) {
      let page = Array(memory[(pfn * blockSize)..<((pfn + 1) * blockSize)])
      guard page.contains(where: { $0 != 0 }) else { continue }
      pages.append((UInt64(pfn), page, pages.count % 2 == 0 ? .zlib : .raw))
    }
  }

  static func zlib(_ data: [UInt8]) -> [UInt8] {
    var size = compressBound(uLong(data.count))
    var out = [UInt8](repeating: 0, count: Int(size))
    let status = compress2(&out, &size, data, uLong(data.count), 6)
    precondition(status == Z_OK)
    return Array(out.prefix(Int(size)))
  }

  static func note(_ name: String, _ type: UInt32, _ desc: [UInt8]) -> [UInt8] {
    var n = [UInt8](repeating: 0, count: 12)
    let nameBytes = Array(name.utf8) + [0]
    n.put(UInt32(nameBytes.count), at: 0)
    n.put(UInt32(desc.count), at: 4)
    n.put(type, at: 8)
    n += nameBytes + [UInt8](repeating: 0, count: (4 - nameBytes.count % 4) % 4)
    return n + desc + [UInt8](repeating: 0, count: (4 - desc.count % 4) % 4)
  }

  func bytes() -> [UInt8] { build().bytes }

  func build() -> (bytes: [UInt8], layout: Layout) {
    var layout = Layout()
    let bs = blockSize
    func roundUp(_ n: Int) -> Int { (n + bs - 1) / bs * bs }
    // Notes: the CPUs, then VMCOREINFO (whose text offset_vmcoreinfo names, as QEMU does).
    var notes: [UInt8] = []
    for regs in cpus {
      var prstatus = [UInt8](repeating: 0, count: 336)
      for (i, v) in regs { prstatus.put(v, at: 112 + 8 * i) }
      notes += Self.note("CORE", 1, prstatus)
    }
    let noteOffset = bs + 104
    layout.vmcoreinfo = noteOffset + notes.count + 12 + 12  // Nhdr + "VMCOREINFO\0" padded to 12
    notes += Self.note("VMCOREINFO", 0, Array(vmcoreinfo.utf8))
    let subHeaderBlocks = roundUp(104 + notes.count) / bs
    let bitmapBytes = Int((maxMapnr + 7) / 8)
    let bitmapBlocks = 2 * (roundUp(bitmapBytes) / bs)
    layout.subHeader = bs
    layout.bitmap = bs * (1 + subHeaderBlocks)
    layout.descriptors = layout.bitmap + bs * bitmapBlocks
    var out = [UInt8](repeating: 0, count: layout.descriptors)
    // disk_dump_header
    out.replaceSubrange(0..<8, with: Array("KDUMP   ".utf8))
    out.put(headerVersion, at: 8)
    out.replaceSubrange((12 + 130)..<(12 + 130 + 11), with: Array("6.1.0-kdump".utf8))
    out.replaceSubrange((12 + 260)..<(12 + 266), with: Array("x86_64".utf8))
    out.put(status, at: 424)
    out.put(Int32(bs), at: 428)
    out.put(Int32(subHeaderBlocks), at: 432)
    out.put(UInt32(bitmapBlocks), at: 436)
    out.put(UInt32(truncatingIfNeeded: maxMapnr), at: 440)
    out.put(Int32(cpus.count), at: 460)
    // kdump_sub_header
    let s = bs
    out.put(Int32(1), at: s + 8)  // dump_level
    if let split {
      out.put(Int32(1), at: s + 12)
      out.put(split.lowerBound, at: s + 16)
      out.put(split.upperBound, at: s + 24)
      out.put(split.lowerBound, at: s + 80)
      out.put(split.upperBound, at: s + 88)
    }
    out.put(UInt64(layout.vmcoreinfo), at: s + 32)
    out.put(UInt64(vmcoreinfo.utf8.count), at: s + 40)
    out.put(UInt64(noteOffset), at: s + 48)
    out.put(UInt64(notes.count), at: s + 56)
    out.put(maxMapnr, at: s + 96)
    out.replaceSubrange(noteOffset..<(noteOffset + notes.count), with: notes)
    // Bitmaps: RAM is every pfn below the dumped memory's top; dumped are `pages`.
    let ramTop = (pages.map(\.pfn).max() ?? 0) + 1
    for pfn in 0..<ramTop { out[layout.bitmap + Int(pfn / 8)] |= 1 << (pfn % 8) }
    let second = layout.bitmap + bs * bitmapBlocks / 2
    for p in pages { out[second + Int(p.pfn / 8)] |= 1 << (p.pfn % 8) }
    // Descriptors and data.
    var data = layout.descriptors + 24 * pages.count
    var descriptors: [UInt8] = []
    var body: [UInt8] = []
    for p in pages {
      let (stored, flags): ([UInt8], UInt32) =
        switch p.storage {
        case .raw: (p.bytes, 0)
        case .zlib: (Self.zlib(p.bytes), 1)
        case .stored(let b, let f): (b, f)
        }
      var d = [UInt8](repeating: 0, count: 24)
      d.put(Int64(data), at: 0)
      d.put(UInt32(stored.count), at: 8)
      d.put(flags, at: 12)
      descriptors += d
      layout.data.append(data)
      body += stored
      data += stored.count
    }
    return (out + descriptors + body, layout)
  }

  /// `plain` in makedumpfile's flattened format: the header, then records of
  /// `chunk` bytes each, last first (any order is allowed), after a stale
  /// record over the kdump header that the real one overwrites; `end` adds the end record.
  static func flattened(_ plain: [UInt8], chunk: Int = 3000, end: Bool = true) -> [UInt8] {
    var out = Array("makedumpfile".utf8) + [0, 0, 0, 0]
    out += withUnsafeBytes(of: Int64(1).bigEndian, Array.init) + withUnsafeBytes(of: Int64(1).bigEndian, Array.init)
    out += [UInt8](repeating: 0, count: 4096 - out.count)
    func record(_ offset: Int, _ bytes: [UInt8]) {
      out += withUnsafeBytes(of: Int64(offset).bigEndian, Array.init)
      out += withUnsafeBytes(of: Int64(bytes.count).bigEndian, Array.init)
      out += bytes
    }
    record(0, [UInt8](repeating: 0xee, count: 600))  // stale: the records after it win
    for start in stride(from: 0, to: plain.count, by: chunk).reversed() {
      record(start, Array(plain[start..<min(start + chunk, plain.count)]))
    }
    if end { out += withUnsafeBytes(of: Int64(-1).bigEndian, Array.init) + [UInt8](repeating: 0xff, count: 8) }
    return out
  }
}
