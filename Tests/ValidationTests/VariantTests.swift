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
      r.stdout == "1 alternative sites and 0 static keys, 3 variants, 9 boundaries checked: 0 mismatches\n")
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

  @Test("kvm.ko: objtool's table verifies for every stream and static key", .enabled(if: Corpus.current != nil))
  func kvm() throws {
    let corpus = try #require(Corpus.current)
    let module = try #require(Corpus.modules(under: corpus.modules61).first { $0.hasSuffix("/kvm.ko") })
    let r = try Fixtures.run(Fixtures.orctool, ["verify-variants", "--format", "json", module])
    #expect(r.status == 0)
    struct Report: Decodable {
      var sites: Int
      var staticKeySites: Int
      var variants: Int
      var mismatches: [VariantMismatch]
    }
    let report = try JSONDecoder().decode(Report.self, from: r.stdoutData)
    #expect(report.sites == 112 && report.staticKeySites == 278 && report.variants == 545)
    #expect(report.mismatches.isEmpty)
  }
}

extension VariantTests {
  static let vmlinuxO = FileManager.default.homeDirectoryForCurrentUser
    .appendingPathComponent(".cache/orctool/kbuild/6.1/vmlinux.o").path

  /// The ORC objtool 6.1 wrote into the 6.1 cloud build's objects, linked into
  /// vmlinux.o (scripts/kbuild.sh): wrong for two variants, at the `call` that
  /// starts the RSB-filling stream (the seed 000 case in a real kernel).
  @Test(
    "vmlinux.o of the 6.1 cloud build: objtool's table is wrong for two variants",
    .enabled(if: FileManager.default.fileExists(atPath: vmlinuxO)))
  func vmlinux() throws {
    let r = try Fixtures.run(Fixtures.orctool, ["verify-variants", "--generation", "6.1", Self.vmlinuxO])
    #expect(r.status == 1)
    let lines = r.stdout.split(separator: "\n").map(String.init)
    #expect(
      lines.prefix(2) == [
        "entry_ibpb+0xf: replacement 1 (X86_BUG_IBPB_NO_RET), offset 0x7 (entry_ibpb+0x16): the code needs sp:sp+8 bp:(und) type:call, the table gives sp:sp+16 bp:(und) type:call",
        "__switch_to_asm+0x28: replacement 1 (X86_FEATURE_RSB_CTXSW), offset 0x7 (__switch_to_asm+0x2f): the code needs sp:sp+56 bp:prevsp-16 type:call, the table gives sp:sp+64 bp:prevsp-16 type:call",
      ])
    #expect(
      lines.last?.hasSuffix(
        "13710 variants, 23351 boundaries checked, 16 sites not reached by validation: 2 mismatches") == true)
  }
}

extension VariantTests {
  /// The shipped kernel: the -dbg vmlinux's ORC (addresses, no relocations to read) has the
  /// same two wrong entries as vmlinux.o.
  @Test(
    "the 6.1 -dbg vmlinux: the two RSB-filling variants objtool's table is wrong for",
    .enabled(if: Corpus.current?.vmlinux61 != nil))
  func dbgVmlinux() throws {
    let vmlinux = try #require(Corpus.current?.vmlinux61)
    let r = try Fixtures.run(Fixtures.orctool, ["verify-variants", vmlinux], timeout: 600)
    #expect(r.status == 1)
    let lines = r.stdout.split(separator: "\n")
    #expect(lines.first?.hasPrefix("entry_ibpb+0xf: replacement 1 (X86_BUG_IBPB_NO_RET), offset 0x7") == true)
    #expect(lines.dropFirst().first?.hasPrefix("__switch_to_asm+0x28: replacement 1 (X86_FEATURE_RSB_CTXSW)") == true)
  }
}
