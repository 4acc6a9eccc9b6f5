import ELF
import Foundation
import TestSupport
import Testing
import Unwind

/// Builds a small QEMU-style ELF core: 64 KiB of "physical" memory in one
/// PT_LOAD, a VMCOREINFO note and one NT_PRSTATUS note.
struct CoreBuilder {
  var memory = [UInt8](repeating: 0, count: 0x10000)
  var vmcoreinfo = ""
  /// Whether the core has a VMCOREINFO note at all.
  var hasVMCOREINFO = true
  var rip: UInt64 = 0

  mutating func put(_ value: UInt64, at physical: Int) {
    for i in 0..<8 { memory[physical + i] = UInt8((value >> (8 * UInt64(i))) & 0xff) }
  }

  func bytes() -> [UInt8] {
    var out = [UInt8]()
    func u16(_ v: UInt16) { out += [UInt8(v & 0xff), UInt8(v >> 8)] }
    func u32(_ v: UInt32) { for i in 0..<4 { out.append(UInt8((v >> (8 * UInt32(i))) & 0xff)) } }
    func u64(_ v: UInt64) { for i in 0..<8 { out.append(UInt8((v >> (8 * UInt64(i))) & 0xff)) } }
    func note(_ name: String, _ type: UInt32, _ desc: [UInt8]) -> [UInt8] {
      var n = [UInt8]()
      let nameBytes = Array(name.utf8) + [0]
      for v in [UInt32(nameBytes.count), UInt32(desc.count), type] {
        for i in 0..<4 { n.append(UInt8((v >> (8 * UInt32(i))) & 0xff)) }
      }
      n += nameBytes + [UInt8](repeating: 0, count: (4 - nameBytes.count % 4) % 4)
      n += desc + [UInt8](repeating: 0, count: (4 - desc.count % 4) % 4)
      return n
    }
    var prstatus = [UInt8](repeating: 0, count: 336)
    for i in 0..<8 { prstatus[112 + 16 * 8 + i] = UInt8((rip >> (8 * UInt64(i))) & 0xff) }
    let notes = note("CORE", 1, prstatus) + (hasVMCOREINFO ? note("VMCOREINFO", 0, Array(vmcoreinfo.utf8)) : [])
    let notesOffset = 64 + 2 * 56
    let memoryOffset = notesOffset + notes.count
    // ELF header
    out += [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0] + [UInt8](repeating: 0, count: 8)
    u16(4); u16(62); u32(1); u64(0); u64(64); u64(0); u32(0); u16(64); u16(56); u16(2); u16(64); u16(0); u16(0)
    // PT_NOTE
    u32(4); u32(0); u64(UInt64(notesOffset)); u64(0); u64(0); u64(UInt64(notes.count)); u64(UInt64(notes.count)); u64(0)
    // PT_LOAD at physical 0
    u32(1); u32(0); u64(UInt64(memoryOffset)); u64(0); u64(0); u64(UInt64(memory.count)); u64(UInt64(memory.count));
    u64(0)
    return out + notes + memory
  }
}

@Suite("QEMU core dumps and the guest's page tables")
struct CoreDumpTests {
  func build() -> CoreBuilder {
    var c = CoreBuilder()
    c.vmcoreinfo = "OSRELEASE=6.1.0-test\nSYMBOL(init_top_pgt)=ffffffff80001000\nNUMBER(phys_base)=0\nKERNELOFFSET=0\n"
    c.rip = 0xffff_ffff_8100_1234
    let va: UInt64 = 0xffff_c900_0000_0000
    // 4-level walk: PML4 at 0x1000 -> PDPT 0x2000 -> PD 0x3000 -> PT 0x4000 -> page 0x5000.
    c.put(0x2003, at: 0x1000 + Int((va >> 39) & 0x1ff) * 8)
    c.put(0x3003, at: 0x2000 + Int((va >> 30) & 0x1ff) * 8)
    c.put(0x4003, at: 0x3000 + Int((va >> 21) & 0x1ff) * 8)
    c.put(0x5003, at: 0x4000 + Int((va >> 12) & 0x1ff) * 8)
    c.put(0xfeed_face_cafe_beef, at: 0x5008)
    // A 2 MiB page (PS) mapping 0xffff888000000000 to physical 0.
    let direct: UInt64 = 0xffff_8880_0000_0000
    c.put(0x6003, at: 0x1000 + Int((direct >> 39) & 0x1ff) * 8)
    c.put(0x7003, at: 0x6000 + Int((direct >> 30) & 0x1ff) * 8)
    c.put(0x0083, at: 0x7000 + Int((direct >> 21) & 0x1ff) * 8)
    return c
  }

  func write(_ bytes: [UInt8]) throws -> String {
    let path = try Fixtures.temporaryDirectory().appendingPathComponent("vmcore").path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
  }

  @Test("notes: VMCOREINFO keys and the CPU registers of NT_PRSTATUS")
  func notes() throws {
    let dump = try CoreDump(path: try write(build().bytes()))
    #expect(dump.vmcoreinfo["OSRELEASE"] == "6.1.0-test")
    #expect(dump.vmcoreNumber("SYMBOL(init_top_pgt)", hex: true) == 0xffff_ffff_8000_1000)
    #expect(dump.cpus.count == 1 && dump.cpus[0].ip == 0xffff_ffff_8100_1234)
    #expect(!dump.cpus[0].isUserMode)
  }

  @Test("virtual addresses translate through 4 KiB and 2 MiB pages; unmapped ones do not")
  func translation() throws {
    let dump = try CoreDump(path: try write(build().bytes()))
    let memory = try KernelMemory(dump: dump, initTopPgt: nil)
    #expect(memory.u64(0xffff_c900_0000_0008) == 0xfeed_face_cafe_beef)
    #expect(memory.translate(0xffff_8880_0000_5008) == 0x5008)
    #expect(memory.u64(0xffff_8880_0000_5008) == 0xfeed_face_cafe_beef)
    #expect(memory.u64(0xffff_c900_0000_1000) == nil)
    #expect(memory.u64(0xffff_8880_0002_0000) == nil, "mapped but past the dumped memory")
  }

  @Test("a VMCOREINFO without phys_base, or no VMCOREINFO at all, is an error naming what is missing")
  func missingVMCOREINFO() throws {
    var c = build()
    c.vmcoreinfo = "OSRELEASE=6.1.0-test\nSYMBOL(init_top_pgt)=ffffffff80001000\nKERNELOFFSET=0\n"
    let path = try write(c.bytes())
    let dump = try CoreDump(path: path)
    let noteOffset = try #require(dump.vmcoreinfoOffset)
    #expect(
      throws: ELFError(.missingVMCOREINFO(key: "NUMBER(phys_base)", hasNote: true), path: path, offset: noteOffset)
    ) {
      try KernelMemory(dump: dump, initTopPgt: nil)
    }
    c.hasVMCOREINFO = false
    let bare = try write(c.bytes())
    #expect(throws: ELFError(.missingVMCOREINFO(key: "NUMBER(phys_base)", hasNote: false), path: bare, offset: 0)) {
      try KernelMemory(dump: try CoreDump(path: bare), initTopPgt: 0xffff_ffff_8000_1000)
    }
  }

  @Test(
    "orctool unwind: a dump without KERNELOFFSET is one line of error naming it, exit status 1",
    .enabled(if: Corpus.current?.vmlinux61 != nil || Corpus.required))
  func missingKernelOffset() throws {
    var c = build()
    c.vmcoreinfo = "OSRELEASE=6.1.0-test\nSYMBOL(init_top_pgt)=ffffffff80001000\nNUMBER(phys_base)=0\n"
    let path = try write(c.bytes())
    let offset = try #require(try CoreDump(path: path).vmcoreinfoOffset)
    let vmlinux = try #require(Corpus.current?.vmlinux61)
    let r = try Fixtures.run(Fixtures.orctool, ["unwind", "--vmlinux", vmlinux, "--core", path], timeout: 120)
    #expect(r.status == 1 && r.stdout.isEmpty)
    #expect(
      r.stderr == "orctool: \(path): error: VMCOREINFO has no KERNELOFFSET (at offset 0x\(String(offset, radix: 16)))\n"
    )
  }

  @Test("a file that is not a core is refused with a typed error")
  func notACore() throws {
    let obj = try Fixtures.assemble("minimal.S")
    #expect(throws: ELFError.self) { try CoreDump(path: obj) }
    var bytes = build().bytes()
    bytes[64 + 56 + 32] = 0xff  // the PT_LOAD's size past the end of the file
    bytes[64 + 56 + 33] = 0xff
    bytes[64 + 56 + 34] = 0xff
    #expect(throws: ELFError.self) { try CoreDump(path: try write(bytes)) }
  }
}
