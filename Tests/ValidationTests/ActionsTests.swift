import ELF
import Foundation
import Kernel
import Program
import TestSupport
import Testing
import Validation

/// Runs objtool 6.1's check on `path` with the actions `arguments` names (objtool's
/// spelling), `--link` as objtool takes it.
func runActions(_ path: String, _ arguments: [String]) throws -> (CheckOutcome, ELFFile) {
  let file = try ELFFile(path: path)
  var actions = CheckActions()
  actions.orc = arguments.contains("--orc")
  actions.rethunk = arguments.contains("--rethunk")
  actions.uaccess = arguments.contains("--uaccess")
  actions.noinstr = arguments.contains("--noinstr")
  actions.mcount = arguments.contains("--mcount")
  actions.ibt = arguments.contains("--ibt")
  actions.unret = arguments.contains("--unret")
  actions.stats = arguments.contains("--stats")
  actions.link = arguments.contains("--link")
  actions.hackJumpLabel = arguments.contains("--hacks=jump_label")
  return (Check.run(program: try Program(file: file), generation: .v6_1, actions: actions), file)
}

@Suite("--noinstr, --mcount, --ibt, --unret, --stats, --sec-address (objtool 6.1)")
struct ActionsTests {
  @Test("--noinstr alone: .noinstr.text and .entry.text, their functions then their hints, the noinstr rules on")
  func noinstrSections() throws {
    let (outcome, _) = try runActions(try Fixtures.assemble("noinstr61.S"), ["--noinstr", "--link"])
    #expect(
      outcome.diagnostics.map(\.objtoolText) == [
        "n_calls_text+0x0: call to t() leaves .noinstr.text section",
        "n_calls_extern+0x0: call to ext_func() leaves .noinstr.text section",
        "n_instr_ret+0x1: return with instrumentation enabled",
        "n_tail+0x0: call to t() leaves .noinstr.text section",
        "pv_ops[2]: t",
        "n_pv_dirty+0x0: call to pv_ops[1]() leaves .noinstr.text section",
        "pv_ops[2]: t",
        "n_pv_dirty_again+0x0: call to pv_ops[1]() leaves .noinstr.text section",
        "pv_ops[3]: t2",
        "n_pv_xen+0x0: call to pv_ops[2]() leaves .noinstr.text section",
        "pv_ops[4]: t3",
        "n_pv_init+0x0: call to pv_ops[3]() leaves .noinstr.text section",
        "n_indirect+0x0: call to {dynamic}() leaves .noinstr.text section",
        "n_retpoline+0x0: call to {dynamic}() leaves .noinstr.text section",
        "n_hint+0x0: call to t() leaves .noinstr.text section",
        "e_calls_text+0x0: call to t() leaves .noinstr.text section",
      ])
    // Nothing to write, and no ORC without --orc.
    #expect(outcome.edits.isEmpty)
  }

  @Test(
    "--noinstr with --orc: every code section, .text..__x86.* noinstr too, hints without the rules; the pv_ops check names the slot after"
  )
  func noinstrWithValidation() throws {
    let path = try Fixtures.assemble("noinstr61.S")
    let (outcome, _) = try runActions(path, ["--noinstr", "--link", "--orc", "--uaccess"])
    let text = outcome.diagnostics.map(\.objtoolText)
    #expect(!text.contains("n_hint+0x0: call to t() leaves .noinstr.text section"))
    #expect(text.contains("x_calls_text+0x0: call to t() leaves .noinstr.text section"))
    #expect(text.contains("n_pv_uaccess+0x3: call to pv_ops[0]() with UACCESS enabled"))
    // Without --noinstr the relocation was never looked up: {dynamic}.
    let (plain, _) = try runActions(path, ["--orc", "--uaccess"])
    #expect(plain.diagnostics.map(\.objtoolText) == ["n_pv_uaccess+0x3: call to {dynamic}() with UACCESS enabled"])
    // Without --link objtool 6.1 cannot know a callee's section: the rules stay off.
    let (unlinked, _) = try runActions(path, ["--noinstr", "--orc"])
    #expect(unlinked.diagnostics.isEmpty)
  }

  @Test("a pv_ops slot past the table (an object that only refers to pv_ops) has no known function: not clean")
  func pvSlotPastTable() throws {
    let path = try Fixtures.assemble(
      "pv_extern.S",
      source: """
        .include "actions61.inc"
        	.section .noinstr.text, "ax"
        FUNC n
        	call *pv_ops+16(%rip)
        	ret
        END n
        	.globl pv_ops
        """)
    let (outcome, _) = try runActions(path, ["--noinstr", "--link"])
    #expect(outcome.diagnostics.map(\.objtoolText) == ["n+0x0: call to pv_ops[1]() leaves .noinstr.text section"])
  }

  @Test(
    "--mcount: __fentry__ calls become NOPs with their relocations voided, __mcount_loc lists them, tail calls first")
  func mcount() throws {
    let (outcome, file) = try runActions(try Fixtures.assemble("mcount61.S"), ["--mcount"])
    #expect(outcome.diagnostics.map(\.objtoolText) == ["f3+0x0: Tail call to __fentry__ !?!?"])
    let text = try #require(file.section(named: ".text")).index
    let unlikely = try #require(file.section(named: ".text.unlikely")).index
    let nop5: [UInt8] = [0x0f, 0x1f, 0x44, 0x00, 0x00]
    #expect(
      outcome.edits.rewrites.instructions == [
        .init(section: text, offset: 0x16, bytes: nop5), .init(section: text, offset: 0x0, bytes: nop5),
        .init(section: text, offset: 0x10, bytes: nop5), .init(section: unlikely, offset: 0x0, bytes: nop5),
      ])
    #expect(outcome.edits.rewrites.voidedRelocations.count == 4)
    let mcount = try #require(outcome.edits.sections.first)
    #expect(mcount.name == "__mcount_loc" && mcount.entrySize == 8 && mcount.data == [UInt8](repeating: 0, count: 32))
    #expect(mcount.relocations.allSatisfy { $0.type == .abs64 })
    #expect(
      try relocationNames(mcount, in: file) == [".text+0x16", ".text+0x0", ".text+0x10", ".text.unlikely+0x0"])
  }

  @Test("--ibt: !ENDBR warnings for code and data, the unused ENDBRs sealed, a jump past an ENDBR a sibling call")
  func ibt() throws {
    let path = try Fixtures.assemble("ibt61.S")
    let (outcome, file) = try runActions(path, ["--ibt", "--link", "--orc", "--stats"])
    #expect(
      outcome.diagnostics.map(\.objtoolText) == [
        "iret_entry+0x0: UNWIND_HINT_IRET_REGS without ENDBR",
        "user+0xb: relocation to !ENDBR: d+0x0",
        ".data+0x8: data relocation to !ENDBR: e+0x0",
      ])
    let seal = try #require(outcome.edits.sections.first { $0.name == ".ibt_endbr_seal" })
    // b's ENDBR and g's (a jump, not an address taken, reaches g).
    #expect(try relocationNames(seal, in: file) == [".text+0x5", ".text+0x11"])
    #expect(seal.entrySize == 4 && seal.flags == [])
    #expect(
      outcome.statistics.filter { $0.hasPrefix("ibt:") } == [
        "ibt: ENDBR at function start: 5", "ibt: ENDBR inside functions:  1", "ibt: superfluous ENDBR:       2",
      ])
    // Without --ibt the jump past g's ENDBR goes into another function.
    let (plain, _) = try runActions(path, ["--orc"])
    #expect(plain.diagnostics.map(\.objtoolText) == ["user() falls through to next function g()"])
  }

  @Test(
    "--unret: RET before UNTRAIN, early indirect call; the ENTRY hints become CALL hints when the object is written")
  func unret() throws {
    let path = try Fixtures.assemble("unret61.S")
    let (outcome, file) = try runActions(path, ["--unret", "--rethunk", "--link", "--orc"])
    #expect(!outcome.abandoned)
    #expect(
      outcome.diagnostics.map(\.objtoolText) == [
        "ent_jcc+0x9: RET before UNTRAIN", "early_ret+0x0: RET before UNTRAIN",
        "ent_indirect+0x0: early indirect call", "ent_iret+0x0: RET before UNTRAIN",
      ])
    // Five ENTRY hints, each type byte (offset 7 of 12) made UNWIND_HINT_TYPE_CALL.
    let hints = try #require(file.section(named: ".discard.unwind_hints")).index
    let incidental = outcome.edits.rewrites.incidental
    #expect(incidental.map(\.offset) == [7, 19, 31, 43, 55])
    #expect(incidental.allSatisfy { $0.section == hints && $0.bytes == [0] })
    // Alone they are not a reason to write the object.
    let (quiet, _) = try runActions(path, ["--unret", "--rethunk", "--link"])
    #expect(quiet.edits.rewrites.incidental.count == 5 && !quiet.edits.changes(file))
  }

  static let unretFailures: [(source: String, warnings: [String])] = [
    (
      "CODE ent\n\tUNWIND_HINT_ENTRY\n\tcall ext_func\n\tret\nEND ent",
      ["Unresolved function after linking!?: ext_func", "ent+0x0: Failed UNRET validation"]
    ),
    (
      "CODE ent\n\tUNWIND_HINT_ENTRY\n\tjmp ext_code\nEND ent",
      ["ent+0x0: unresolved jump target after linking?!?", "ent+0x0: Failed UNRET validation"]
    ),
    ("CODE ent\n\tUNWIND_HINT_ENTRY\n\tnop\nEND ent", ["ent+0x0: teh end!", "ent+0x0: Failed UNRET validation"]),
  ]

  @Test("--unret failing: objtool stops there, writes nothing and exits 255", arguments: 0..<3)
  func unretFailure(_ k: Int) throws {
    let (source, warnings) = Self.unretFailures[k]
    let path = try Fixtures.assemble(
      "unret_fail\(k).S", source: ".include \"actions61.inc\"\n\t.section .entry.text, \"ax\"\n" + source + "\n")
    let (outcome, _) = try runActions(path, ["--unret", "--rethunk", "--link", "--orc"])
    #expect(outcome.abandoned)
    #expect(outcome.diagnostics.map(\.objtoolText) == warnings)
    let before = try Data(contentsOf: URL(fileURLWithPath: path))
    let r = try Fixtures.run(
      Fixtures.orctool, ["--unret", "--rethunk", "--link", "--orc", path], environment: kbuild61)
    #expect(r.status == 255)
    #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
  }

  @Test("--stats: objtool's counters in its order, as far as the check gets")
  func stats() throws {
    let (outcome, _) = try runActions(try Fixtures.assemble("mcount61.S"), ["--mcount", "--orc", "--stats"])
    #expect(
      outcome.statistics == [
        "nr_sections: 14", "section_bits: 10", "nr_symbols: 10", "symbol_bits: 10", "max_reloc: 4", "tot_reloc: 8",
        "reloc_bits: 10", "cfi_bits: 10", "nr_insns: 18", "jl\\\tNOP\tJMP", "short:\t0\t0", "long:\t0\t0",
        "nr_insns_visited: 18", "nr_cfi: 2", "nr_cfi_reused: 9", "nr_cfi_cache: 7",
      ])
    // A failed --unret ends the check before the last four.
    let fail = try Fixtures.assemble("unret_stats.S", source: ".include \"actions61.inc\"\n" + Self.unretFailures[0].0)
    let (failed, _) = try runActions(fail, ["--unret", "--rethunk", "--link", "--stats"])
    #expect(failed.statistics.last == "long:\t0\t0")
  }

  @Test("objtool's command line: what needs --link, what --unret needs, --sec-address places")
  func commandLine() throws {
    let path = try Fixtures.assemble("noinstr61.S")
    for (arguments, error) in [
      (["--noinstr"], "error: objtool: --noinstr requires --link\n"),
      (["--ibt", "--orc"], "error: objtool: --ibt requires --link\n"),
      (["--unret", "--rethunk"], "error: objtool: --unret requires --link\n"),
      (["--unret"], "error: objtool: --unret requires --rethunk\n"),
    ] {
      let r = try Fixtures.run(Fixtures.orctool, arguments + [path], environment: kbuild61)
      #expect(r.status == 1 && r.stderr == error, "\(arguments)")
    }
    let r = try Fixtures.run(
      Fixtures.orctool, ["--noinstr", "--link", "--sec-address", "--dry-run", path], environment: kbuild61)
    #expect(
      r.stderr.hasPrefix(
        "\(path): warning: objtool: n_calls_text+0x0 (.noinstr.text+0x0): call to t() leaves .noinstr.text section\n"))
    // The actions follow objtool 6.1's rules: a 6.12 object is refused by name.
    let refused = try Fixtures.run(Fixtures.orctool, ["--mcount", "--generation", "6.12", path])
    #expect(refused.status == 1 && refused.stderr.contains("--mcount follows objtool 6.1's rules only"))
  }

  /// One fixture and one objtool line.
  struct Line: Sendable, CustomTestStringConvertible {
    var fixture: String
    var arguments: [String]
    var source: String? = nil
    var testDescription: String { "\(fixture) \(arguments.joined(separator: " "))" }
  }

  static let lines: [Line] =
    [
      Line(fixture: "noinstr61.S", arguments: ["--noinstr", "--link"]),
      Line(fixture: "noinstr61.S", arguments: ["--noinstr", "--link", "--orc", "--uaccess", "--stats"]),
      Line(fixture: "noinstr61.S", arguments: ["--noinstr", "--link", "--orc", "--backtrace", "--sec-address"]),
      Line(fixture: "noinstr61.S", arguments: kbuildActions + ["--noinstr", "--link"]),
      Line(fixture: "mcount61.S", arguments: ["--mcount"]),
      Line(fixture: "mcount61.S", arguments: ["--mcount", "--orc", "--stats"]),
      Line(fixture: "mcount61.S", arguments: kbuildActions + ["--mcount"]),
      Line(fixture: "ibt61.S", arguments: ["--ibt", "--link"]),
      Line(fixture: "ibt61.S", arguments: ["--ibt", "--link", "--orc", "--stats"]),
      Line(fixture: "ibt61.S", arguments: ["--ibt", "--link", "--sec-address"]),
      Line(fixture: "ibt61.S", arguments: ["--orc"]),
      Line(fixture: "unret61.S", arguments: ["--unret", "--rethunk", "--link"]),
      Line(fixture: "unret61.S", arguments: ["--unret", "--rethunk", "--link", "--orc", "--backtrace", "--stats"]),
      Line(fixture: "unret61.S", arguments: ["--unret", "--link", "--orc", "--sec-address", "--backtrace"]),
      Line(fixture: "unret61.S", arguments: ["--orc"]),
    ]
    + unretFailures.indices.map { k in
      Line(
        fixture: "unret_fail\(k).S",
        arguments: ["--unret", "--rethunk", "--link", "--orc", "--backtrace", "--stats", "--hacks=jump_label"],
        source: ".include \"actions61.inc\"\n\t.section .entry.text, \"ax\"\n" + unretFailures[k].source + "\n")
    }

  @Test(
    "against objtool 6.1: every section, the symbol table, the ORC, the warnings, --stats and the status, run twice",
    .enabled(if: Corpus.current != nil), arguments: lines)
  func objtool(_ line: Line) throws {
    let corpus = try #require(Corpus.current)
    let object = try Fixtures.assemble(line.fixture, source: line.source)
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let theirs = dir.appendingPathComponent("o.o").path
    let ours = dir.appendingPathComponent("m.o").path
    try FileManager.default.copyItem(atPath: object, toPath: theirs)
    try FileManager.default.copyItem(atPath: object, toPath: ours)
    for _ in 0..<2 {
      let a = try Fixtures.run(corpus.objtool61, line.arguments + [theirs])
      let b = try Fixtures.run(Fixtures.orctool, line.arguments + [ours], environment: kbuild61)
      #expect(a.status == b.status)
      #expect(a.stdout == b.stdout)
      #expect(
        a.stderr.replacingOccurrences(of: theirs, with: "OBJ") == b.stderr.replacingOccurrences(of: ours, with: "OBJ"))
    }
    #expect(try ObjectComparison.differences(theirs, ours, objtool: corpus.objtool61).isEmpty)
  }
}
