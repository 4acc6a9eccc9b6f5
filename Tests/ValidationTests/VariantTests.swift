import Foundation
import Kernel
import TestSupport
import Testing
import Validation

/// `orctool verify-variants`: the one ORC table against every variant of the code
/// (seed 000; objtool 6.1's table for a site whose stack-changing entry comes first).
@Suite("verify-variants: one ORC table, every patched variant")
struct VariantTests {
  @Test(
    "seed 000 (a): all three streams verify with OrcTool's table, both generations and entry orders",
    arguments: [KernelGeneration.v6_1, .v6_12], [false, true])
  func threeStreams(generation: KernelGeneration, reversed: Bool) throws {
    let path = try module(
      "vv-a-\(generation)-\(reversed).S", generation: generation, Seed000.threeStreams(reversed: reversed))
    let r = try Fixtures.run(Fixtures.orctool, ["verify-variants", "--orc", "generated", path])
    #expect(r.status == 0, "\(r.stdout)")
    #expect(
      r.stdout
        == "1 alternative sites, 0 static keys and 0 paravirt sites, 3 variants, 9 boundaries checked: 0 mismatches\n")
  }

  @Test("seed 000 (b): the conflicting pair is rejected at offset 0x7, for the variant the table cannot serve")
  func conflict() throws {
    let path = try module("vv-b.S", generation: .v6_1, Seed000.conflictingStreams(reversed: false))
    let r = try Fixtures.run(Fixtures.orctool, ["verify-variants", "--orc", "generated", path])
    #expect(r.status == 1)
    let lines = r.stdout.split(separator: "\n")
    #expect(lines.count == 3)
    #expect(
      lines.first
        == "f+0x0: original, offset 0x7 (f+0x7): the code needs sp:sp+8 bp:(und) type:call, the table gives sp:sp+16 bp:(und) type:call"
    )
    #expect(lines.last?.hasSuffix(": 2 mismatches") == true)
  }

  @Test(
    "objtool 6.1's table for a site whose pushf; pop entry comes first lacks the deeper entry; OrcTool's has it",
    .enabled(if: Corpus.current != nil))
  func objtoolMissesDeeperEntry() throws {
    let corpus = try #require(Corpus.current)
    let theirs = try module("vv-objtool.S", generation: .v6_1, Seed000.threeStreams(reversed: true))
    let ours = try module("vv-ours.S", generation: .v6_1, Seed000.threeStreams(reversed: true))
    #expect(try Fixtures.run(corpus.objtool61, ["--orc", "--module", "--link", theirs]).status == 0)
    #expect(try Fixtures.run(Fixtures.orctool, ["--orc", "--module", "--link", ours]).status == 0)
    let o = try Fixtures.run(Fixtures.orctool, ["verify-variants", theirs])
    #expect(o.status == 1)
    #expect(
      o.stdout.hasPrefix(
        "f+0x1: replacement 1 (X86_FEATURE_EPT_AD), offset 0x1 (f+0x2): the code needs sp:sp+24 bp:(und) type:call, the table gives sp:sp+16 bp:(und) type:call\n"
      ))
    let m = try Fixtures.run(Fixtures.orctool, ["verify-variants", ours])
    #expect(m.status == 0, "\(m.stdout)")
  }

  @Test(
    "kvm.ko: objtool's table verifies for every stream, static key and paravirt rewrite",
    .enabled(if: Corpus.current != nil))
  func kvm() throws {
    let corpus = try #require(Corpus.current)
    let module = try #require(Corpus.modules(under: corpus.modules61).first { $0.hasSuffix("/kvm.ko") })
    let r = try Fixtures.run(Fixtures.orctool, ["verify-variants", "--format", "json", module])
    #expect(r.status == 0)
    struct Report: Decodable {
      var sites: Int
      var staticKeySites: Int
      var paravirtSites: Int
      var variants: Int
      var uncovered: [String: Int]
      var mismatches: [VariantMismatch]
    }
    let report = try JSONDecoder().decode(Report.self, from: r.stdoutData)
    #expect(report.sites == 112 && report.staticKeySites == 278 && report.paravirtSites == 98)
    #expect(report.variants == 741)
    // static_cpu_has()'s jumps to .altinstr_aux, code with no ORC, run only before patching.
    #expect(report.uncovered == [".altinstr_aux": 33])
    #expect(report.mismatches.isEmpty)
  }
}

extension VariantTests {
  static let vmlinuxO = FileManager.default.homeDirectoryForCurrentUser
    .appendingPathComponent(".cache/orctool/kbuild/6.1/vmlinux.o").path

  /// The ORC objtool 6.1 wrote into the 6.1 cloud build's objects, linked into
  /// vmlinux.o (scripts/kbuild.sh): wrong for two variants, the RSB-filling streams (the
  /// seed 000 case in a real kernel), at three boundaries each: the stream's intra-function
  /// calls followed, the depth after each call is 8 bytes more than the table says.
  @Test(
    "vmlinux.o of the 6.1 cloud build: objtool's table is wrong for two variants, three boundaries each",
    .enabled(if: FileManager.default.fileExists(atPath: vmlinuxO)))
  func vmlinux() throws {
    let r = try Fixtures.run(Fixtures.orctool, ["verify-variants", "--generation", "6.1", Self.vmlinuxO])
    #expect(r.status == 1)
    let lines = r.stdout.split(separator: "\n").map(String.init)
    #expect(
      lines.dropLast() == [
        "entry_ibpb+0xf: replacement 1 (X86_BUG_IBPB_NO_RET), offset 0x7 (entry_ibpb+0x16): the code needs sp:sp+8 bp:(und) type:call, the table gives sp:sp+16 bp:(und) type:call",
        "entry_ibpb+0xf: replacement 1 (X86_BUG_IBPB_NO_RET), offset 0xd (entry_ibpb+0x1c): the code needs sp:sp+16 bp:(und) type:call, the table gives sp:sp+8 bp:(und) type:call",
        "entry_ibpb+0xf: replacement 1 (X86_BUG_IBPB_NO_RET), offset 0x13 (entry_ibpb+0x22): the code needs sp:sp+24 bp:(und) type:call, the table gives sp:sp+8 bp:(und) type:call",
        "__switch_to_asm+0x28: replacement 1 (X86_FEATURE_RSB_CTXSW), offset 0x7 (__switch_to_asm+0x2f): the code needs sp:sp+56 bp:prevsp-16 type:call, the table gives sp:sp+64 bp:prevsp-16 type:call",
        "__switch_to_asm+0x28: replacement 1 (X86_FEATURE_RSB_CTXSW), offset 0xd (__switch_to_asm+0x35): the code needs sp:sp+64 bp:prevsp-16 type:call, the table gives sp:sp+56 bp:prevsp-16 type:call",
        "__switch_to_asm+0x28: replacement 1 (X86_FEATURE_RSB_CTXSW), offset 0x13 (__switch_to_asm+0x3b): the code needs sp:sp+72 bp:prevsp-16 type:call, the table gives sp:sp+56 bp:prevsp-16 type:call",
      ])
    #expect(
      lines.last
        == "3520 alternative sites, 5980 static keys and 3679 paravirt sites, 21034 variants, 42327 boundaries checked, 32 sites not reached by validation, 2 replacements for !X86_FEATURE_ALWAYS never applied, 574 jumps into .altinstr_aux (no unwind information there) not compared: 6 mismatches"
    )
    // OrcTool's own table for the same vmlinux.o serves every variant.
    let ours = try Fixtures.run(
      Fixtures.orctool, ["verify-variants", "--orc", "generated", "--generation", "6.1", Self.vmlinuxO])
    #expect(ours.status == 0)
    #expect(ours.stdout.hasSuffix(": 0 mismatches\n"))
  }
}

extension VariantTests {
  /// The shipped kernel: the -dbg vmlinux's ORC (addresses, no relocations to read) has the
  /// same wrong entries as vmlinux.o; every other mismatch is a place its table gives no
  /// unwind information at all (Debian's build left `machine_real_restart` without ORC).
  @Test(
    "the 6.1 -dbg vmlinux: the RSB-filling variants objtool's table is wrong for; elsewhere no unwind information",
    .enabled(if: Corpus.current?.vmlinux61 != nil))
  func dbgVmlinux() throws {
    let vmlinux = try #require(Corpus.current?.vmlinux61)
    let r = try Fixtures.run(Fixtures.orctool, ["verify-variants", "--format", "json", vmlinux], timeout: 600)
    #expect(r.status == 1)
    struct Report: Decodable { var mismatches: [VariantMismatch] }
    let report = try JSONDecoder().decode(Report.self, from: r.stdoutData)
    let wrong = report.mismatches.filter { !$0.tableUndefined }
    #expect(
      wrong.map(\.site) == Array(repeating: "entry_ibpb+0xf", count: 3)
        + Array(repeating: "__switch_to_asm+0x28", count: 3))
    #expect(wrong.map(\.offset) == [7, 13, 19, 7, 13, 19])
    #expect(report.mismatches.allSatisfy { !$0.tableUndefined || $0.table.hasPrefix("sp:(und)") })
  }
}

extension VariantTests {
  /// Fixtures/patch61.S with OrcTool's ORC: every site, stream, key and rewrite listed.
  @Test("--sites: each alternative, static key and paravirt site with its variants")
  func sites() throws {
    let path = try Fixtures.assemble("patch61.S")
    #expect(
      try Fixtures.run(Fixtures.orctool, ["--orc", "--module", "--link", "--generation", "6.1", path]).status == 0)
    let r = try Fixtures.run(Fixtures.orctool, ["verify-variants", "--sites", "--generation", "6.1", path])
    #expect(r.status == 0)
    #expect(
      r.stdout == """
        pvf+0x1: alternative: original, replacement 1 (!X86_FEATURE_XENPV); 6 boundaries, 0 mismatches
        pvf+0x10: alternative: original, replacement 1 (X86_FEATURE_XMM2); 10 boundaries, 0 mismatches
        pvf+0x16: static key: static key flipped; 1 boundaries, 0 mismatches
        pvf+0x1: paravirt: direct call, nops; 5 boundaries, 0 mismatches
        pvf+0xa: paravirt: direct call, nops; 5 boundaries, 0 mismatches
        pvf+0x26: paravirt: direct call, nops; 5 boundaries, 0 mismatches
        2 alternative sites, 1 static keys and 3 paravirt sites, 11 variants, 32 boundaries checked: 0 mismatches

        """)
  }

  /// A table that is right for the code as built (the 6-byte indirect call) but not for
  /// its rewrite: an entry at site+5, inside the call, that only the direct call's
  /// padding NOP starts at.
  @Test("a table wrong only for the paravirt rewrite: the direct call's NOP at site+5 is named")
  func paravirtRewrite() throws {
    let path = try module(
      "vv-pv.S", generation: .v6_1,
      """
      	.text
      	.globl f
      	.type f, @function
      f:	push %rbx
      771:	call *pv_ops+0xf0(%rip)
      772:	pop %rbx
      	ret
      	.size f, . - f
      	.pushsection .parainstructions, "a"
      	.balign 8
      	.quad 771b
      	.byte 30, 6
      	.short 0x1
      	.balign 8
      	.popsection
      	ORC61 f, 8, 0, ORC_REG_SP, ORC_REG_UNDEFINED, 0, 0
      	ORC61 771b, 16, 0, ORC_REG_SP, ORC_REG_UNDEFINED, 0, 0
      	ORC61 771b+5, 8, 0, ORC_REG_SP, ORC_REG_UNDEFINED, 0, 0
      	ORC61 772b, 16, 0, ORC_REG_SP, ORC_REG_UNDEFINED, 0, 0
      	ORC61 772b+1, 8, 0, ORC_REG_SP, ORC_REG_UNDEFINED, 0, 0
      """)
    let r = try Fixtures.run(Fixtures.orctool, ["verify-variants", path])
    #expect(r.status == 1)
    #expect(
      r.stdout == """
        f+0x1: direct call, offset 0x5 (f+0x6): the code needs sp:sp+16 bp:(und) type:call, the table gives sp:sp+8 bp:(und) type:call
        0 alternative sites, 0 static keys and 1 paravirt sites, 2 variants, 5 boundaries checked: 1 mismatch

        """)
    // OrcTool's own table has no entry inside the site.
    let ours = try Fixtures.run(Fixtures.orctool, ["verify-variants", "--orc", "generated", path])
    #expect(ours.status == 0)
  }
}

extension VariantTests {
  /// 6.1's `FILL_RETURN_BUFFER`: `ALTERNATIVE_2 "jmp .Lskip", __FILL_RETURN_BUFFER (two
  /// annotated intra-function calls a loop), ftr, "nop; nop; __FILL_ONE_RETURN",
  /// ALT_NOT(X86_FEATURE_ALWAYS)` (entry_ibpb, `__switch_to_asm`, KVM's vmenter). The third
  /// stream is never applied, but objtool 6.1's one CFI array per site takes its states.
  static let rsbFill = """
    	.text
    	.globl g
    	.type g, @function
    g:	push %rbp
    661:	jmp 662f
    	.skip 29, 0x90
    662:	pop %rbp
    	ret
    	.size g, . - g
    	.section .altinstr_replacement, "ax"
    671:	mov $16, %rax
    772:	call 773f
    	int3
    773:	call 774f
    	int3
    774:	add $16, %rsp
    	dec %rax
    	jnz 772b
    	lfence
    672:	nop
    	nop
    775:	call 776f
    	int3
    776:	add $8, %rsp
    	lfence
    673:
    	.text
    	.pushsection .discard.intra_function_calls, "a"
    	.long 772b
    	.long 773b
    	.long 775b
    	.popsection
    	ALT_ENTRY 661b, 662b, 671b, 672b, (7*32+19)
    	ALT_ENTRY 661b, 662b, 672b, 673b, ((3*32+21)|(1<<15))
    """

  @Test(
    "the RSB-filling stream reproduced: objtool 6.1's table is wrong after its calls, OrcTool's is right",
    .enabled(if: Corpus.current != nil))
  func rsbFilling() throws {
    let corpus = try #require(Corpus.current)
    let theirs = try module("vv-rsb-objtool.S", generation: .v6_1, Self.rsbFill)
    let ours = try module("vv-rsb-ours.S", generation: .v6_1, Self.rsbFill)
    let o = try Fixtures.run(corpus.objtool61, ["--orc", "--module", "--link", theirs])
    #expect(o.status == 0, "\(o.stderr)")
    #expect(try Fixtures.run(Fixtures.orctool, ["--orc", "--module", "--link", ours]).status == 0)
    let r = try Fixtures.run(Fixtures.orctool, ["verify-variants", theirs])
    #expect(r.status == 1)
    #expect(
      r.stdout.split(separator: "\n") == [
        "g+0x1: replacement 1 (X86_FEATURE_RSB_CTXSW), offset 0xd (g+0xe): the code needs sp:sp+24 bp:prevsp-16 type:call, the table gives sp:sp+16 bp:prevsp-16 type:call",
        "g+0x1: replacement 1 (X86_FEATURE_RSB_CTXSW), offset 0x13 (g+0x14): the code needs sp:sp+32 bp:prevsp-16 type:call, the table gives sp:sp+16 bp:prevsp-16 type:call",
        "1 alternative sites, 0 static keys and 0 paravirt sites, 2 variants, 10 boundaries checked, 1 replacement for !X86_FEATURE_ALWAYS never applied: 2 mismatches",
      ])
    let m = try Fixtures.run(Fixtures.orctool, ["verify-variants", ours])
    #expect(m.status == 0, "\(m.stdout)")
  }
}
