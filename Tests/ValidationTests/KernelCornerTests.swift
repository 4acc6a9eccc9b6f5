import Foundation
import Kernel
import TestSupport
import Testing
import X86

/// What `vmlinux.o` of the 6.1 cloud build has and the modules do not
/// (Fixtures/kernel_corners.inc); each once stopped OrcTool or made it warn where objtool 6.1 does not.
@Suite("Kernel corners: emulate prefix, C jump tables, calls to labels")
struct KernelCornerTests {
  @Test("Xen's and KVM's emulate prefix is part of the instruction after it, as the kernel's decoder has it")
  func emulatePrefix() {
    let decoder = X86Decoder()
    for prefix: [UInt8] in [[0x0f, 0x0b, 0x78, 0x65, 0x6e], [0x0f, 0x0b, 0x6b, 0x76, 0x6d]] {
      let bytes = prefix + [0x0f, 0xa2, 0xc3]  // cpuid; ret
      let insn = bytes.withUnsafeBytes { decoder.decode($0, at: 0, inFunction: { true }) }
      #expect(insn?.length == 7 && insn?.type == .other)
    }
    // A plain ud2 stays a 2-byte BUG.
    let ud2: [UInt8] = [0x0f, 0x0b, 0xc3]
    #expect(ud2.withUnsafeBytes { decoder.decode($0, at: 0, inFunction: { true }) }?.type == .bug)
  }

  @Test("the corners checked as objtool 6.1 checks them: the same warning, the same ORC")
  func corners() throws {
    let source = try String(
      contentsOfFile: Fixtures.root.appendingPathComponent("Fixtures/kernel_corners.inc").path, encoding: .utf8)
    let path = try module("corners.S", generation: .v6_1, source)
    let copy = path + ".objtool.o"
    try? FileManager.default.removeItem(atPath: copy)
    try FileManager.default.copyItem(atPath: path, toPath: copy)
    let r = try Fixtures.run(Fixtures.orctool, ["--orc", "--link", path])
    #expect(r.status == 0)
    // No "can't find jump dest" (xen_cpuid), no sibling-call warning (the C jump table),
    // no "unannotated intra-function call" (swap): only what objtool 6.1 says.
    #expect(r.stderr == "\(path): warning: objtool: .text+0x1f: unreachable instruction\n")
    if let corpus = Corpus.current {
      let o = try Fixtures.run(corpus.objtool61, ["--orc", "--link", copy])
      #expect(o.stderr.replacingOccurrences(of: copy, with: path) == r.stderr)
      let a = try Fixtures.run(corpus.objtool61, ["--dump=orc", path]).stdout
      let b = try Fixtures.run(corpus.objtool61, ["--dump=orc", copy]).stdout
      #expect(!a.isEmpty && a == b)
    }
  }
}

extension KernelCornerTests {
  /// arch/x86/kernel/smp.o: `fred_sysvec_reboot()` calls the local `__sysvec_reboot()`, which
  /// never returns (it ends in `stop_this_cpu()`), and `.discard.reachable` marks the
  /// call as one a path goes on after; objtool applies that after deciding noreturn calls.
  @Test("an annotated-reachable call to a noreturn function: the path goes on, as in objtool 6.1")
  func reachableNoreturnCall() throws {
    let body = """
      .text
      .type dead, @function
      dead:
       call stop_this_cpu
      .size dead, . - dead
      .globl f
      .type f, @function
      f:
       push %rbx
       call dead
      1: pop %rbx
       ret
      .size f, . - f
      .section .discard.reachable, "", @progbits
       .long 1b - .

      """
    let path = try module("reachable-noreturn.S", generation: .v6_1, body)
    let copy = path + ".objtool.o"
    try? FileManager.default.removeItem(atPath: copy)
    try FileManager.default.copyItem(atPath: path, toPath: copy)
    let r = try Fixtures.run(Fixtures.orctool, ["--orc", path])
    #expect(r.status == 0 && r.stderr.isEmpty, "\(r.stderr)")
    if let corpus = Corpus.current {
      #expect(try Fixtures.run(corpus.objtool61, ["--orc", copy]).stderr.isEmpty)
      let a = try Fixtures.run(corpus.objtool61, ["--dump=orc", path]).stdout
      let b = try Fixtures.run(corpus.objtool61, ["--dump=orc", copy]).stdout
      #expect(a.contains(".text+c: sp:sp+8 bp:(und)") && a == b)
    }
  }
}
