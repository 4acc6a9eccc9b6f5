import ELF
import Foundation
import Kernel
import Program
import TestSupport
import Testing
import X86

/// A linked image (`vmlinux`): code without relocations, `.discard.*` dropped by the
/// link, 32-bit start-up code and data inside functions. objtool never reads one;
/// OrcTool's views do (Fixtures/linked.S, linked with GNU ld).
@Suite("Linked images: branches by address, symbols by address")
struct LinkedImageTests {
  func link() throws -> String {
    let object = try Fixtures.assemble("linked.S")
    let out = (object as NSString).deletingPathExtension
    let r = try Fixtures.run("ld", ["-o", out, "-Ttext=0xffffffff81000000", "-e", "pv_caller", object])
    guard r.status == 0 else { throw FixtureError("ld: \(r.stderr)") }
    return out
  }

  @Test("far jump in 32-bit code: the length the kernel's decoder gives it, INSN_OTHER")
  func farJump() {
    // pvh_start_xen+0x50 in the Debian 6.1 vmlinux: ljmp $0x8, $0x10008a7; mov $0xc0000101, %ecx
    let bytes: [UInt8] = [0xea, 0xa7, 0x08, 0x00, 0x01, 0x08, 0x00, 0xb9, 0x01, 0x01, 0x00, 0xc0]
    let decoder = X86Decoder()
    let insn = bytes.withUnsafeBytes { decoder.decode($0, at: 0, inFunction: { false }) }
    #expect(insn?.length == 7)
    #expect(insn?.type == .other)
    #expect(insn?.ops.isEmpty == true)
    let next = bytes.withUnsafeBytes { decoder.decode($0, at: 7, inFunction: { false }) }
    #expect(next?.length == 5)
    // A REX prefix makes 0xea something the kernel's decoder would not take either: still undecodable.
    let rex: [UInt8] = [0x48, 0xea, 0, 0, 0, 0, 0, 0]
    #expect(rex.withUnsafeBytes { decoder.decode($0, at: 0, inFunction: { false }) } == nil)
  }

  @Test("alternatives on a linked image: pv_ops slot, replacement call, thunks and cross-section jumps by address")
  func alternatives() throws {
    let image = try link()
    let r = try Fixtures.run(Fixtures.orctool, ["alternatives", "--generation", "6.1", image])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.isEmpty)
    let expected = """
      pv_caller+0x4: alternative site, 6 bytes, 1 replacement stream
        original:
          +0    call *pv_ops+0x8(%rip)           sp:bp+16 bp:prevsp-16
        replacement 1 (!X86_FEATURE_XENPV):
          +0    call native_fn                   sp:bp+16 bp:prevsp-16
          +5    (fake nop, 1 byte)               sp:bp+16 bp:prevsp-16
        flattened CFI by offset:
          +0    sp:bp+16 bp:prevsp-16            boundary of: original, replacement 1 (!X86_FEATURE_XENPV)
          +5    sp:bp+16 bp:prevsp-16            boundary of: replacement 1 (!X86_FEATURE_XENPV)

      """
    #expect(r.stdout == expected)
  }

  @Test("the link's lost annotations and labels: each branch resolved as the object's relocation had it")
  func branches() throws {
    let image = try link()
    let program = try Program(file: try ELFFile(path: image))
    #expect(program.isLinked)
    let text = try #require(program.file.section(named: ".text"))
    // `jz init_fn` reaches .init.text by address.
    let initText = try #require(program.file.section(named: ".init.text"))
    let past = text.size + (initText.address - text.address - text.size)
    #expect(program.branchPlace(section: text.index, offset: past) == SectionPlace(section: initText.index, offset: 0))
    let nm = try Fixtures.run("nm", [image]).stdout
    let thunk = try #require(
      nm.split(separator: "\n").first { $0.hasSuffix(" __x86_indirect_thunk_rax") }.flatMap {
        UInt64($0.prefix(16), radix: 16)
      })
    #expect(Set(program.linkedNames(at: thunk)) == ["__x86_indirect_thunk_array", "__x86_indirect_thunk_rax"])
    #expect(program.linkedSymbol(for: program.file.sections.first { $0.name == ".data" }!.address + 8) == "pv_ops+0x8")
    // check --orc over the image goes through every pass (thunk call, unannotated intra-function
    // call, the js into the movabs, the far jump) without stopping.
    let r = try Fixtures.run(Fixtures.orctool, ["check", "--generation", "6.1", image])
    #expect(!r.stderr.contains("can't decode"), "\(r.stderr)")
    #expect(!r.stderr.contains("can't find jump dest"), "\(r.stderr)")
    #expect(!r.stderr.contains("unannotated intra-function call"), "\(r.stderr)")
  }
}
