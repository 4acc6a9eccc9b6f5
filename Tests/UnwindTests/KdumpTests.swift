import ELF
import Foundation
import TestSupport
import Testing
import Unwind

@Suite("kdump-compressed dumps")
struct KdumpTests {
  /// `CoreDumpTests.build()`'s memory and notes as a kdump-compressed file.
  func build() -> (core: CoreBuilder, kdump: KdumpBuilder) {
    let c = CoreDumpTests().build()
    return (c, KdumpBuilder(memory: c.memory, vmcoreinfo: c.vmcoreinfo, rip: c.rip))
  }

  func write(_ bytes: [UInt8], _ name: String = "vmcore.kdump") throws -> String {
    let path = try Fixtures.temporaryDirectory().appendingPathComponent(name).path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
  }

  func open(_ bytes: [UInt8]) throws -> KdumpCompressed {
    let dump = try openMemoryDump(path: try write(bytes))
    return try #require(dump as? KdumpCompressed)
  }

  /// Every dumped page reads as the core's memory; other pfns read as absent.
  func expectSameMemory(_ dump: KdumpCompressed, _ core: CoreBuilder, _ kdump: KdumpBuilder) throws {
    let dumped = Set(kdump.pages.map(\.pfn))
    for pfn in 0..<kdump.maxMapnr + 2 {
      let view = dump.readPhysical(pfn * 4096, 4096)
      if dumped.contains(pfn) {
        let page = Array(core.memory[Int(pfn * 4096)..<Int(pfn * 4096 + 4096)])
        #expect(view.map { Array($0.bytes) } == page, "pfn \(pfn)")
      } else {
        #expect(view == nil, "pfn \(pfn)")
      }
    }
  }

  @Test("pages (raw and zlib), VMCOREINFO, registers and page-table walks read as from the ELF core")
  func reads() throws {
    let (core, kdump) = build()
    #expect(kdump.pages.count >= 4, "raw and zlib pages both")
    let (bytes, layout) = kdump.build()
    let dump = try open(bytes)
    let elf = try CoreDump(path: try CoreDumpTests().write(core.bytes()))
    #expect(dump.headerVersion == 6 && dump.blockSize == 4096 && dump.release == "6.1.0-kdump")
    #expect(dump.dumpedPages == kdump.pages.count && !dump.isFlattened && dump.partial == nil)
    #expect(dump.vmcoreinfo == elf.vmcoreinfo && dump.vmcoreinfo["OSRELEASE"] == "6.1.0-test")
    #expect(dump.vmcoreinfoOffset == UInt64(layout.vmcoreinfo))
    #expect(dump.cpus.count == 1 && dump.cpus[0].ip == core.rip && dump.cpus[0].sp == 0xffff_c900_0000_0ff0)
    #expect(!dump.cpus[0].isUserMode)
    try expectSameMemory(dump, core, kdump)
    // Within a page, across pages (the scratch buffer), across into a page that is not dumped.
    #expect(dump.readPhysical(0x5008, 8).map { Array($0.bytes) } == Array(core.memory[0x5008..<0x5010]))
    #expect(dump.readPhysical(0x1ff0, 0x20).map { Array($0.bytes) } == Array(core.memory[0x1ff0..<0x2010]))
    #expect(dump.readPhysical(0x7ff0, 0x20) == nil, "pfn 8 is a zero page, not dumped")
    #expect(dump.readPhysical(UInt64.max - 3, 8) == nil && dump.readPhysical(0x5000, -1) == nil)
    #expect(dump.isRAM(0) && !dump.isDumped(0) && dump.isDumped(1) && !dump.isRAM(kdump.maxMapnr - 1))
    // KernelMemory over both: the same translations and values.
    let a = try KernelMemory(dump: dump, initTopPgt: nil)
    let b = try KernelMemory(dump: elf, initTopPgt: nil)
    for va: UInt64 in [0xffff_c900_0000_0008, 0xffff_8880_0000_5008, 0xffff_8880_0000_1000, 0xffff_c900_0000_1000] {
      #expect(a.translate(va) == b.translate(va))
      #expect(a.u64(va) == b.u64(va))
    }
    #expect(a.u64(0xffff_c900_0000_0008) == 0xfeed_face_cafe_beef)
  }

  @Test("many pages through a small cache: each read is right after evictions")
  func cache() throws {
    var kdump = KdumpBuilder(memory: [], vmcoreinfo: "NUMBER(phys_base)=0\n", rip: 0)
    kdump.maxMapnr = 600
    kdump.pages = (0..<UInt64(520)).map { pfn in
      (pfn, [UInt8](repeating: UInt8(truncatingIfNeeded: pfn), count: 4095) + [0x5a], pfn % 3 == 0 ? .raw : .zlib)
    }
    let dump = try open(kdump.bytes())
    for round in 0..<2 {
      for pfn in stride(from: UInt64(round), to: 520, by: 1) {
        let v = try #require(dump.readPhysical(pfn * 4096 + 4094, 2), "pfn \(pfn)")
        #expect(v.load(UInt8.self, at: 0) == UInt8(truncatingIfNeeded: pfn) && v.load(UInt8.self, at: 1) == 0x5a)
      }
    }
    #expect(dump.pageErrors == 0)
  }

  @Test("makedumpfile's flattened format (QEMU 7.2's kdump-zlib) reads as the plain file; a later record wins")
  func flattened() throws {
    let (core, kdump) = build()
    let plain = kdump.bytes()
    let dump = try open(KdumpBuilder.flattened(plain))
    #expect(dump.isFlattened && dump.partial == nil)
    #expect(dump.vmcoreinfo["OSRELEASE"] == "6.1.0-test" && dump.cpus.first?.ip == core.rip)
    try expectSameMemory(dump, core, kdump)
    // Without its end record: the same memory, and a partial dump that says so.
    let cut = try open(KdumpBuilder.flattened(plain, end: false))
    try expectSameMemory(cut, core, kdump)
    let partial = try #require(cut.partial)
    #expect(partial.message.hasPrefix("partial dump: the flattened stream ends at 0x"))
    #expect(partial.message.hasSuffix("without its end record"))
  }

  @Test("a file that is neither format is one error at offset 0; a DISKDUMP file is named")
  func notADump() throws {
    let path = try write(Array("hello, world, this is not a dump".utf8))
    #expect(
      throws: ELFError(
        .malformed(
          "not a memory dump: neither an ELF core (\\x7fELF) nor a kdump-compressed dump (\"KDUMP   \" or \"makedumpfile\")"
        ), path: path, offset: 0)
    ) { try openMemoryDump(path: path) }
    var bytes = build().kdump.bytes()
    bytes.replaceSubrange(0..<8, with: Array("DISKDUMP".utf8))
    #expect(throws: ELFError.self) { try openMemoryDump(path: try write(bytes)) }
    #expect(throws: ELFError.self) { try openMemoryDump(path: try write([])) }
  }

  @Test("a file cut in its header, sub header, bitmaps or descriptors: one error naming what is missing")
  func truncated() throws {
    let (bytes, layout) = build().kdump.build()
    func expectTruncated(at size: Int, _ what: String, needed: Int, offset: Int) throws {
      let path = try write(Array(bytes.prefix(size)))
      #expect(
        throws: ELFError(
          .truncated(what: what, needed: UInt64(needed), size: UInt64(size)), path: path, offset: UInt64(offset))
      ) { try openMemoryDump(path: path) }
    }
    try expectTruncated(at: 100, "the kdump header", needed: 464, offset: 0)
    try expectTruncated(at: 4096, "the kdump sub header (version 6)", needed: 4096 + 104, offset: 4096)
    let second = layout.bitmap + (layout.descriptors - layout.bitmap) / 2
    try expectTruncated(at: second, "the 2nd bitmap", needed: second + 4, offset: second)
    let pages = build().kdump.pages.count
    try expectTruncated(
      at: layout.descriptors + 30, "the page descriptors of \(pages) dumped pages",
      needed: layout.descriptors + 24 * pages, offset: layout.descriptors)
  }

  @Test("a file cut in its page data: a partial dump naming the pages without data; those read as absent")
  func cutShort() throws {
    let (core, kdump) = build()
    let (bytes, layout) = kdump.build()
    let last = kdump.pages.count - 1
    let cut = layout.data[last] + 10
    let path = try write(Array(bytes.prefix(cut)))
    let dump = try #require(try openMemoryDump(path: path) as? KdumpCompressed)
    let pfn = kdump.pages[last].pfn
    let descriptor = UInt64(layout.descriptors + 24 * last)
    let size = bytes.count - layout.data[last]
    let lost =
      "the data of pfn 0x\(String(pfn, radix: 16)) (0x\(String(size, radix: 16)) bytes at "
      + "0x\(String(layout.data[last], radix: 16))) is past the end of the file (0x\(String(cut, radix: 16)))"
    #expect(
      dump.partial
        == ELFError(
          .malformed("partial dump: 1 of \(kdump.pages.count) dumped pages have no data (the first: \(lost))"),
          path: path, offset: descriptor))
    #expect(dump.readPhysical(pfn * 4096, 8) == nil)
    #expect(throws: ELFError(.malformed(lost), path: path, offset: descriptor)) { try dump.page(pfn) }
    #expect(dump.pageErrors == 1)
    let first = kdump.pages[0].pfn
    #expect(
      dump.readPhysical(first * 4096, 4096).map { Array($0.bytes) }
        == Array(core.memory[Int(first * 4096)..<Int(first * 4096 + 4096)]))
  }

  @Test("DUMP_DH_COMPRESSED_INCOMPLETE and an empty descriptor: a partial dump in one line")
  func incomplete() throws {
    var (_, kdump) = build()
    kdump.status |= 0x8
    var (bytes, layout) = kdump.build()
    let dump = try open(bytes)
    #expect(
      dump.partial?.message
        == "partial dump: makedumpfile marked it incomplete (DUMP_DH_COMPRESSED_INCOMPLETE in the header's status)")
    #expect(dump.partial?.offset == 424)
    // The last page's descriptor never written (zeros), as makedumpfile leaves it when it stops.
    let last = kdump.pages.count - 1
    bytes.replaceSubrange(
      (layout.descriptors + 24 * last)..<(layout.descriptors + 24 * last + 24), with: Array(repeating: 0, count: 24))
    let stopped = try open(bytes)
    let pfn = String(kdump.pages[last].pfn, radix: 16)
    let place = String(layout.descriptors + 24 * last, radix: 16)
    #expect(
      stopped.partial?.message
        == "partial dump: makedumpfile marked it incomplete (DUMP_DH_COMPRESSED_INCOMPLETE in the header's status); "
        + "1 of \(kdump.pages.count) dumped pages have no data (the first: pfn 0x\(pfn) has an empty page descriptor "
        + "at 0x\(place) (a page never written))")
    #expect(stopped.readPhysical(kdump.pages[last].pfn * 4096, 8) == nil)
    // One part of a split dump.
    kdump.status = 1
    kdump.split = 0..<4
    let part = try open(kdump.bytes())
    #expect(
      part.partial?.message == "partial dump: one part of a split dump (makedumpfile --split): pfns 0x0-0x4 of 0x20")
    #expect(part.dumpedPages == kdump.pages.filter { $0.pfn < 4 }.count)
    #expect(part.readPhysical(0x1000, 8) != nil && part.readPhysical(0x5000, 8) == nil)
  }

  @Test("an LZO, snappy or zstd page: one error naming the compression and the page")
  func unsupportedCompression() throws {
    for (flags, name) in [(UInt32(0x2), "LZO"), (0x4, "snappy"), (0x20, "zstd")] {
      var (_, kdump) = build()
      kdump.pages[1].storage = .stored([1, 2, 3, 4], flags: flags)
      let (bytes, layout) = kdump.build()
      let path = try write(bytes)
      let place = layout.descriptors + 24
      #expect(
        throws: ELFError(
          .malformed(
            "pfn 0x\(String(kdump.pages[1].pfn, radix: 16)) is compressed with \(name) (page descriptor at "
              + "0x\(String(place, radix: 16))): only zlib-compressed and uncompressed pages are read "
              + "(makedumpfile -c, QEMU's kdump-zlib)"), path: path, offset: UInt64(place + 12))
      ) { try openMemoryDump(path: path) }
    }
  }

  @Test("a descriptor past the end, a malformed one, a zlib page of the wrong size: nil, and why")
  func brokenPages() throws {
    var (_, kdump) = build()
    let pfns = kdump.pages.map(\.pfn)
    kdump.pages[2].storage = .stored(KdumpBuilder.zlib([UInt8](repeating: 7, count: 100)), flags: 1)
    kdump.pages[3].storage = .stored([UInt8](repeating: 0, count: 100), flags: 0)  // raw, not block_size
    var (bytes, layout) = kdump.build()
    bytes.put(Int64(1 << 40), at: layout.descriptors + 24 * 1)  // pfns[1]'s data far past the end
    let path = try write(bytes)
    let dump = try #require(try openMemoryDump(path: path) as? KdumpCompressed)
    let partial = try #require(dump.partial).message
    #expect(
      partial.hasPrefix(
        "partial dump: 1 of \(pfns.count) dumped pages have no data (the first: the data of pfn 0x\(String(pfns[1], radix: 16))"
      ))
    #expect(
      partial.hasSuffix(
        "1 page descriptors are malformed (the first: pfn 0x\(String(pfns[3], radix: 16)): uncompressed page of 100 bytes, block size 4096 (page descriptor at 0x\(String(layout.descriptors + 72, radix: 16))))"
      ))
    for pfn in pfns[1...3] { #expect(dump.readPhysical(pfn * 4096, 8) == nil) }
    #expect(
      throws: ELFError(
        .malformed(
          "the zlib page of pfn 0x\(String(pfns[2], radix: 16)) (0x\(String(KdumpBuilder.zlib([UInt8](repeating: 7, count: 100)).count, radix: 16)) bytes at "
            + "0x\(String(layout.data[2], radix: 16))) does not decompress to block_size 4096 bytes: to 100 bytes"),
        path: path, offset: UInt64(layout.data[2]))
    ) { try dump.page(pfns[2]) }
    #expect(dump.readPhysical(pfns[0] * 4096, 8) != nil && dump.readPhysical(pfns[4] * 4096, 8) != nil)
    #expect(dump.pageErrors >= 3 && dump.firstPageError != nil)
  }

  @Test("bad header fields are one-line errors")
  func badHeaders() throws {
    let (bytes, _) = build().kdump.build()
    func expectError(_ message: String, offset: UInt64, _ edit: (inout [UInt8]) -> Void) throws {
      var b = bytes
      edit(&b)
      let path = try write(b)
      #expect(throws: ELFError(.malformed(message), path: path, offset: offset)) { try openMemoryDump(path: path) }
    }
    try expectError("kdump block_size 1000 is not a power of two from 512 to 65536", offset: 428) {
      $0.put(Int32(1000), at: 428)
    }
    try expectError("kdump header_version 0 (1 or later is read)", offset: 8) { $0.put(Int32(0), at: 8) }
    try expectError("kdump sub_hdr_size -1 (no sub header)", offset: 432) { $0.put(Int32(-1), at: 432) }
    try expectError(
      "kdump bitmap_blocks 2 (0x2000 bytes) cannot hold max_mapnr 0x1000000000000 pfns", offset: 436
    ) { $0.put(UInt64(1) << 48, at: 4096 + 96) }
    // A max_mapnr the bitmaps hold, with every pfn dumped: the descriptors would run past the end.
    var b = bytes
    b.put(UInt64(0x8000), at: 4096 + 96)
    let layout = build().kdump.build().layout
    for i in (layout.bitmap + 4096)..<(layout.bitmap + 8192) { b[i] = 0xff }
    let path = try write(b)
    #expect(
      throws: ELFError(
        .truncated(
          what: "the page descriptors of 32768 dumped pages", needed: UInt64(layout.descriptors + 24 * 0x8000),
          size: UInt64(b.count)), path: path, offset: UInt64(layout.descriptors))
    ) { try openMemoryDump(path: path) }
  }

  @Test("every truncation and many single-byte changes of a dump: an error or a dump, never a crash")
  func hostile() throws {
    let plain = build().kdump.bytes()
    for bytes in [plain, KdumpBuilder.flattened(plain, chunk: 1000)] {
      var cases: [[UInt8]] = stride(from: 0, to: bytes.count, by: 97).map { Array(bytes.prefix($0)) }
      for at in stride(from: 0, to: min(bytes.count, 20000), by: 23) {
        var b = bytes
        b[at] ^= 0xa5
        cases.append(b)
      }
      for b in cases {
        guard let dump = try? KdumpCompressed(source: MappedFile(copying: b, path: "hostile")) else { continue }
        for pfn in 0..<UInt64(40) { _ = dump.readPhysical(pfn * 4096 + 8, 16) }
        _ = dump.readPhysical(0xff0, 0x3000)
        if let memory = try? KernelMemory(dump: dump, initTopPgt: nil) {
          _ = memory.read(0xffff_c900_0000_0000, 0x2000)
        }
      }
    }
  }
}
