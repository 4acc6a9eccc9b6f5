import ELF
import Foundation
import Kernel
import Reports
import TestSupport
import Testing

@Suite("Paravirt patch sites (seeds 001, 002) and BTF")
struct ParavirtTests {
  func report(_ path: String) throws -> ParavirtReport {
    let file = try ELFFile(path: path)
    return try ParavirtReport(file: file, generation: .v6_1, btf: try BTF(file: file), btfSource: path)
  }

  @Test("BTF: struct members by path, typedefs resolved, single-member structs named by the outer member")
  func btf() throws {
    let btf = try BTF(file: try ELFFile(path: try Fixtures.assemble("paravirt.S")))
    let id = try #require(btf.find("paravirt_patch_template", kind: .structure))
    #expect(btf.members(of: id).map(\.name) == ["cpu", "irq"])
    #expect(
      btf.flattenedMembers(of: id).map { "\($0.offset):\($0.name)" }
        == ["0:cpu.io_delay", "8:cpu.cpuid", "16:irq.save_fl", "24:irq.irq_disable"])
    #expect(btf.find("nothing", kind: .structure) == nil)
  }

  @Test("BTF: a bad magic is a typed error at the section's offset")
  func badBTF() throws {
    let path = try Fixtures.assemble("paravirt.S")
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    let file = try ELFFile(path: path)
    let section = try #require(file.section(named: ".BTF"))
    bytes[Int(section.offset)] = 0
    let broken = try ELFFile(source: MappedFile(copying: bytes, path: "bad.o"))
    #expect(throws: ELFError.self) { try BTF(file: broken) }
    do {
      _ = try BTF(file: broken)
    } catch {
      #expect(error.offset == section.offset)
    }
  }

  @Test("each site: its slot named, its call decoded, seed 002's invariants checked")
  func sites() throws {
    let r = try report(try Fixtures.assemble("paravirt.S"))
    #expect(
      r.sites.map(\.slot) == [
        "irq.save_fl", "irq.irq_disable", "cpu.cpuid", "irq.irq_disable", "cpu.io_delay", "irq.save_fl",
      ])
    #expect(r.sites.map(\.callSlot) == [2, 3, 0, nil, 0, 2])
    #expect(r.sites.map(\.calleeSave) == [true, true, false, true, false, true])
    #expect(r.sites[0].clobbers == ["rax"] && r.sites[2].clobbers.count == 9)
    #expect(r.sites[0].instruction == "call *pv_ops+0x10(%rip)")
    #expect(r.sites[0].problems.isEmpty)
    #expect(r.sites[1].problems == ["site is 5 bytes, shorter than an indirect call (6)"])
    #expect(r.sites[2].problems == ["site calls pv_ops slot 0 (cpu.io_delay) but its type is 1"])
    #expect(r.sites[3].problems == ["site does not begin with call *pv_ops+off(%rip)"])
    #expect(r.summary["breaking_an_invariant"] == 5)
  }

  @Test("seed 002's clobbers: a C call needs every caller-saved register, a replacement only its own")
  func clobbers() throws {
    let r = try report(try Fixtures.assemble("paravirt.S"))
    #expect(
      r.sites[4].problems == [
        "site clobbers rax only, but a direct call to C code may change rcx, rdx, rdi, rsi, r8, r9, r10, r11 too"
      ])
    #expect(r.sites[5].problems == ["alternative replacement writes rcx, outside the site's clobbers (rax)"])
    // Without BTF the slot's kind is unknown: only the replacement is checked.
    let plain = try ParavirtReport(
      file: try ELFFile(path: try Fixtures.assemble("paravirt.S")), generation: .v6_1, btf: nil, btfSource: nil)
    #expect(plain.sites[4].problems.isEmpty && plain.sites[4].calleeSave == nil)
    #expect(plain.sites[5].problems.count == 1)
  }

  @Test("seed 001: the alternative over irq.save_fl is pushf; pop %rax, for !XENPV")
  func alternative() throws {
    let r = try report(try Fixtures.assemble("paravirt.S"))
    #expect(
      r.sites[0].alternatives == [
        SiteAlternative(
          feature: 8 * 32 + 16, inverted: true, replacementLength: 2,
          replacement: "pushfq; pop %rax")
      ])
    #expect(r.sites[1...4].allSatisfy { $0.alternatives.isEmpty })
  }

  @Test("the command line: --btf names slots, warnings in objtool's shape")
  func cli() throws {
    let path = try Fixtures.assemble("paravirt.S")
    let r = try Fixtures.run(Fixtures.orctool, ["paravirt", "--btf", path, path])
    #expect(r.status == 0)
    #expect(r.stdout.hasPrefix("\(path): 6 paravirt sites; 2 with an alternative; 5 breaking an invariant"))
    #expect(
      r.stdout.contains(
        "\(path): warning: orctool: pv_user+0x6: paravirt site: site is 5 bytes, shorter than an indirect call (6)\n"))
    let plain = try Fixtures.run(Fixtures.orctool, ["paravirt", path])
    #expect(plain.stdout.contains("no BTF: slots by number"))
  }

  @Test(
    "the 6.1 vmlinux: every site keeps the invariants; irq.save_fl sites carry pushf; pop %rax",
    .enabled(if: Corpus.current?.vmlinux61 != nil))
  func vmlinux() throws {
    let path = try #require(Corpus.current?.vmlinux61)
    let file = try ELFFile(path: path)
    let r = try ParavirtReport(file: file, generation: .v6_1, btf: try BTF(file: file), btfSource: path)
    #expect(r.sites.count > 3000)
    #expect(r.summary["breaking_an_invariant"] == nil)
    let saveFl = r.sites.filter { $0.slot == "irq.save_fl" }
    #expect(!saveFl.isEmpty)
    #expect(saveFl.allSatisfy { $0.alternatives.map(\.replacement) == ["pushfq; pop %rax"] })
  }
}
