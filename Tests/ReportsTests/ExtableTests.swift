import ELF
import Foundation
import Kernel
import Reports
import TestSupport
import Testing

func extable(_ path: String, _ generation: KernelGeneration = .v6_1) throws -> ExtableReport {
  try ExtableReport(file: try ELFFile(path: path), generation: generation)
}

@Suite("Exception tables (seed 004)")
struct ExtableTests {
  @Test("x86: every entry's handler decoded and its fixup placed")
  func x86() throws {
    let r = try extable(try Fixtures.assemble("extable_x86.S"))
    #expect(r.machine == "x86-64")
    #expect(r.entries.map(\.insn) == ["f+0x1", "g+0x0", "k+0x0", "h+0x0"])
    #expect(r.entries.map(\.fixup) == ["f+0x4", ".fixup+0x0", "other+0x0", "h.cold+0x0"])
    #expect(r.entries.map(\.placement) == [.sameFunction, .anonymous, .otherFunction, .sameFamily])
    let h = r.entries.map(\.handler)
    #expect(h[0].type == "UACCESS" && h[0].register == nil)
    #expect(h[1].type == "EFAULT_REG" && h[1].register == "ax" && h[1].immediate == -14)
    #expect(h[2].type == "UCOPY_LEN8" && h[2].register == "cx" && h[2].immediate == 8)
    #expect(h[3].type == "ZERO_REG" && h[3].register == "dx" && h[3].flags == ["CLEAR_AX"])
    #expect(r.sorted == nil, "an object has no sort order to check")
  }

  @Test("x86 names follow the generation: 4 is COPY in 6.1, unused in 6.12; 21 is ERETU in 6.12")
  func generations() {
    #expect(ExtableTypes.decode(4, machine: .x86_64, generation: .v6_1).type == "COPY")
    #expect(ExtableTypes.decode(4, machine: .x86_64, generation: .v6_12).type == "UNKNOWN_4")
    #expect(ExtableTypes.decode(21, machine: .x86_64, generation: .v6_12).type == "ERETU")
    #expect(ExtableTypes.decode(16, machine: .x86_64, generation: .v6_1).type == "POP_ZERO")
  }

  @Test(
    "arm64: type and the ERR/ZERO and DATA/ADDR register fields",
    .enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/aarch64-linux-gnu-as")))
  func arm64() throws {
    let r = try extable(try Fixtures.assemble("extable_arm64.S", arch: "aarch64"))
    #expect(r.machine == "aarch64")
    #expect(r.entries.count == 2)
    let (a, b) = (r.entries[0], r.entries[1])
    #expect(a.handler.type == "UACCESS_ERR_ZERO" && a.handler.register == "x0" && a.handler.register2 == "x1")
    #expect(a.placement == .sameFunction && a.insn == "get+0x0" && a.fixup == "get+0x4")
    #expect(b.handler.type == "LOAD_UNALIGNED_ZEROPAD" && b.handler.register == "x2" && b.handler.register2 == "x3")
    #expect(b.placement == .anonymous && b.fixup == ".fixup+0x0")
  }

  @Test("a linked image: the sort order sorttable would leave is checked")
  func sortOrder() throws {
    let obj = try Fixtures.assemble("extable_x86.S")
    let dir = try Fixtures.temporaryDirectory()
    let exe = dir.appendingPathComponent("ex").path
    let link = try Fixtures.run("ld", ["-e", "0", "-Ttext=0x401000", "-o", exe, obj])
    #expect(link.status == 0, "\(link.stderr)")
    let r = try extable(exe)
    #expect(r.entries.map(\.placement) == [.sameFunction, .anonymous, .otherFunction, .sameFamily])
    // The entries are in source order: k (third) comes after h (fourth) in .text.
    #expect(r.sorted == false && r.firstUnsorted == 3)
  }

  @Test("the text view warns of anonymous and foreign fixups; addr2func maps fixup text back")
  func cli() throws {
    let path = try Fixtures.assemble("extable_x86.S")
    let r = try Fixtures.run(Fixtures.orctool, ["extable", path])
    #expect(r.status == 0)
    #expect(r.stdout.contains("\(path): warning: orctool: g+0x0: exception fixup .fixup+0x0 is in anonymous text\n"))
    #expect(r.stdout.contains("\(path): warning: orctool: k+0x0: exception fixup other+0x0 is in another function\n"))
    let a = try Fixtures.run(Fixtures.orctool, ["addr2func", path, ".fixup+0x5"])
    #expect(a.stdout == ".fixup+0x5: .fixup+0x5 (fixup text for g+0x0, via __ex_table)\n")
    let j = try Fixtures.run(Fixtures.orctool, ["extable", "--format", "json", path])
    let decoded = try JSONDecoder().decode([ExtableReport].self, from: j.stdoutData)
    #expect(decoded.first?.summary["placement.anonymous"] == 1)
  }

  @Test("the 6.1 vmlinux table is sorted and decodes to known types", .enabled(if: Corpus.current?.vmlinux61 != nil))
  func vmlinux() throws {
    let r = try extable(try #require(Corpus.current?.vmlinux61))
    #expect(r.sorted == true)
    #expect(r.entries.count > 500)
    #expect(!r.entries.contains { $0.handler.type.hasPrefix("UNKNOWN") })
  }
}
