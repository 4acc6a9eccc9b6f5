import ELF
import Foundation
import Kernel
import ORC
import Program
import TestSupport
import Testing
import Validation

/// Validates `path` as a 6.1 object, with or without `--uaccess`.
func validate(_ path: String, uaccess: Bool) throws -> (Validator, ELFFile) {
  let file = try ELFFile(path: path)
  var rewrites = CodeRewrites()
  let graph = try ControlFlowGraph(
    program: try Program(file: file), generation: .v6_1, options: .init(uaccess: uaccess), rewrites: &rewrites)
  let v = Validator(graph: graph)
  v.run()
  return (v, file)
}

@Suite("--uaccess and the direction flag (objtool 6.1)")
struct UaccessTests {
  /// objtool 6.1's warnings on Fixtures/uaccess.S with `--uaccess`, one per function.
  static let uaccessWarnings = [
    "call_open+0x3: call to foo() with UACCESS enabled",
    "return_open+0x3: return with UACCESS enabled",
    "stac_twice+0x3: recursive UACCESS enable",
    "clac_closed+0x0: redundant UACCESS disable",
    "kasan_report+0x0: UACCESS-safe disables UACCESS",
    "call_df+0x1: call to foo() with DF set",
    "return_df+0x1: return with DF set",
    "std_twice+0x1: recursive STD",
    "cld_clear+0x0: redundant CLD",
    "kasan_check_range+0x5: return with UACCESS disabled from a UACCESS-safe function",
    "smap_call+0x3: call to bar() with UACCESS enabled",
    "safe_and_dynamic+0x8: call to {dynamic}() with UACCESS enabled",
    "both_states+0x7: call to foo() with UACCESS enabled",
    ".altinstr_replacement+0x3d: PUSHF stack exhausted",
  ]

  @Test("each UACCESS and DF warning, in objtool 6.1's words")
  func everyWarning() throws {
    let path = try Fixtures.assemble("uaccess.S")
    let (v, _) = try validate(path, uaccess: true)
    #expect(v.diagnostics.map(\.objtoolText) == Self.uaccessWarnings)
  }

  @Test("without --uaccess only the DF rules apply, and SMAP alternatives are not followed")
  func withoutUaccess() throws {
    let path = try Fixtures.assemble("uaccess.S")
    let (v, _) = try validate(path, uaccess: false)
    #expect(
      v.diagnostics.map(\.objtoolText) == [
        "call_df+0x1: call to foo() with DF set", "return_df+0x1: return with DF set",
        "std_twice+0x1: recursive STD", "cld_clear+0x0: redundant CLD",
      ])
  }

  @Test("an instruction is followed once with UACCESS disabled and once with it enabled")
  func visitedPerUaccessState() throws {
    // both_states: the jump reaches `call foo` first with UACCESS disabled; the path
    // through STAC reaches it again, enabled, and is followed on.
    let path = try Fixtures.assemble("uaccess.S")
    let (v, _) = try validate(path, uaccess: true)
    #expect(v.diagnostics.contains { $0.objtoolText == "both_states+0x7: call to foo() with UACCESS enabled" })
  }

  @Test("with --uaccess the SMAP replacements' PUSHF/POPF shape the ORC of the original NOPs")
  func smapStreamsInORC() throws {
    let path = try Fixtures.assemble("uaccess.S")
    let (on, file) = try validate(path, uaccess: true)
    let (off, _) = try validate(path, uaccess: false)
    // save_restore+0x4 (.text+0x56): after smap_save()'s PUSHF, 8 bytes deeper; +0xb after smap_restore()'s PUSH.
    let withUaccess = dump(on, file: file, generation: .v6_1)
    #expect(withUaccess.contains(".text+56: sp:sp+16 bp:(und) type:call end:0\n.text+57: sp:sp+8 bp:(und)"))
    #expect(withUaccess.contains(".text+5d: sp:sp+16 bp:(und) type:call end:0\n.text+5e: sp:sp+8 bp:(und)"))
    #expect(!dump(off, file: file, generation: .v6_1).contains(".text+56:"))
  }

  @Test(
    "warnings and ORC against the real objtool 6.1, with and without --uaccess",
    .enabled(if: Corpus.current != nil), arguments: [["--orc"], ["--orc", "--uaccess"], ["--uaccess"]])
  func againstObjtool(_ arguments: [String]) throws {
    let corpus = try #require(Corpus.current)
    let r = try CallSiteTests.compare(try Fixtures.assemble("uaccess.S"), arguments, objtool: corpus.objtool61)
    #expect(r.differences.isEmpty)
    #expect(r.orctool == r.objtool)
    if arguments.contains("--uaccess") {
      // Twice: the second run meets the first's ORC when there is one.
      let once = Self.uaccessWarnings.map { "OBJ: warning: objtool: \($0)\n" }.joined()
      #expect(r.objtool.hasPrefix(once))
    }
  }
}

@Suite("--hacks=noinstr (objtool 6.1)")
struct NoinstrHackTests {
  /// `.noinstr.text` after objtool 6.1's --hacks=noinstr: five calls NOPs (`0f 1f 44 00 00`),
  /// two tail calls `ret; int3; nop3`, `__tsan_read4` and the weak `weak_cov` kept.
  static let noinstrText: [UInt8] = [
    0x55, 0x0f, 0x1f, 0x44, 0x00, 0x00, 0x0f, 0x1f, 0x44, 0x00, 0x00, 0x0f, 0x1f, 0x44, 0x00, 0x00,
    0xe8, 0x00, 0x00, 0x00, 0x00, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x5d, 0xc3, 0xcc, 0x0f, 0x1f, 0x00,
    0x85, 0xff, 0x74, 0x05, 0xc3, 0xcc, 0x0f, 0x1f, 0x00, 0x0f, 0x1f, 0x44, 0x00, 0x00, 0xc3,
  ]

  /// The check of `path` (a 6.1 object) with `--hacks=noinstr` and `more`.
  static func check(_ path: String, _ more: (inout CheckActions) -> Void = { _ in }) throws -> (CheckOutcome, ELFFile) {
    let file = try ELFFile(path: path)
    var actions = CheckActions()
    actions.hackNoinstr = true
    more(&actions)
    return (Check.run(program: try Program(file: file), generation: .v6_1, actions: actions), file)
  }

  @Test("calls to instrumentation in noinstr sections become NOPs, tail calls ret; int3, relocations R_X86_64_NONE")
  func rewrites() throws {
    let path = try Fixtures.assemble("noinstr_hack.S")
    let (outcome, file) = try Self.check(path)
    #expect(outcome.failure == nil && outcome.diagnostics.isEmpty)
    let edited = try ELFFile(source: MappedFile(copying: try outcome.edits.bytes(of: file), path: path))
    let text = try #require(edited.section(named: ".noinstr.text"))
    #expect([UInt8](edited.contents(of: text).bytes) == Self.noinstrText)
    // The relocations: symbol and addend kept, type R_X86_64_NONE for the rewritten ones.
    let symbols = try #require(try edited.symbolTable())
    var types: [String: [UInt32]] = [:]
    for s in edited.sections where s.type == .rela {
      let table = try edited.relocations(s)
      for k in 0..<table.count {
        types[try symbols.name(of: try table.symbol(of: k, in: symbols)), default: []].append(table[k].type)
      }
    }
    #expect(types["__sanitizer_cov_trace_pc"] == [4, 0, 0, 0, 0])  // .text's call kept
    #expect(types["__tsan_func_entry"] == [0] && types["__tsan_func_exit"] == [0])
    #expect(types["__tsan_atomic_signal_fence"] == [0] && types["__sanitizer_cov_trace_cmp4"] == [0])
    #expect(types["__tsan_read4"] == [4] && types["weak_cov"] == [4])
    // The rewritten instructions are NOPs and returns to validation (the returns retpoline-safe).
    let graph = try #require(outcome.validator?.graph)
    let text0 = try #require(graph.table.sectionRange[text.index])
    #expect(graph.type[text0.lowerBound + 1] == .nop)
    let returns = graph.profilingCalls.filter { $0.value == .return }.map(\.key)
    #expect(returns.count == 2 && returns.allSatisfy(graph.retpolineSafe.contains))
    #expect(graph.profilingCalls.count == 8)
  }

  @Test("without the hack nothing is written")
  func nothingWithout() throws {
    let path = try Fixtures.assemble("noinstr_hack.S")
    let (outcome, _) = try Self.check(path) { $0.hackNoinstr = false }
    #expect(outcome.edits.isEmpty)
  }

  @Test(
    "every section (code and relocations), the symbol table, warnings and ORC identical to objtool 6.1's",
    .enabled(if: Corpus.current != nil),
    arguments: [["--hacks=noinstr"], ["--hacks=noinstr", "--orc"], ["--hacks=noinstr", "--orc", "--uaccess"]])
  func againstObjtool(_ arguments: [String]) throws {
    let corpus = try #require(Corpus.current)
    let r = try CallSiteTests.compare(try Fixtures.assemble("noinstr_hack.S"), arguments, objtool: corpus.objtool61)
    #expect(r.differences.isEmpty)
    #expect(r.orctool == r.objtool)
  }
}

@Suite("Recorded kernel-build objects with SMAP alternatives against objtool 6.1")
struct RecordedUaccessTests {
  /// Objects with the most `X86_FEATURE_SMAP` sites (entry_64.o aside: its RSB conflict,
  /// `CallSiteTests.rsbConflict`), with kbuild's whole line, `--uaccess --hacks=noinstr` included.
  @Test(
    "every section, the symbol table, the ORC and the warnings identical to objtool 6.1's",
    .enabled(if: recordedBuild != nil && Corpus.current != nil),
    arguments: [
      "arch/x86/lib/getuser.o", "fs/select.o", "fs/readdir.o", "arch/x86/kernel/fpu/signal.o",
      "arch/x86/lib/copy_user_64.o", "arch/x86/lib/putuser.o", "lib/iov_iter.o", "lib/strncpy_from_user.o",
      "kernel/futex/core.o",
    ])
  func recorded(_ object: String) throws {
    let corpus = try #require(Corpus.current)
    let path = try #require(recordedBuild) + "/objects/" + object
    try #require(FileManager.default.fileExists(atPath: path), "not recorded yet: \(object)")
    #expect(kbuildActions.contains("--uaccess") && kbuildActions.contains("--hacks=noinstr"))
    let r = try CallSiteTests.compare(path, kbuildActions, objtool: corpus.objtool61)
    #expect(r.differences.isEmpty)
    #expect(r.orctool == r.objtool)
  }

  /// Real code made to break the rules: each SMAP site of a recorded object whose
  /// replacement is a lone CLAC or STAC, made a 3-byte NOP one at a time (as
  /// scripts/mutate-smap.py does for the whole build), leaves UACCESS enabled at a
  /// call or return, or makes the next CLAC redundant.
  @Test(
    "a recorded object with one STAC or CLAC removed: objtool 6.1's UACCESS warning and ORC",
    .enabled(if: recordedBuild != nil && Corpus.current != nil),
    arguments: ["lib/strncpy_from_user.o", "lib/strnlen_user.o", "kernel/futex/core.o"])
  func mutated(_ object: String) throws {
    let corpus = try #require(Corpus.current)
    let path = try #require(recordedBuild) + "/objects/" + object
    try #require(FileManager.default.fileExists(atPath: path), "not recorded yet: \(object)")
    let file = try ELFFile(path: path)
    let smap = try AlternativesTable(file: file, generation: .v6_1).entries.filter {
      $0.feature == 9 * 32 + 20 && $0.replacementLength == 3
    }
    #expect(!smap.isEmpty)
    var warned = 0
    for entry in smap {
      let section = file.sections[entry.replacement.section]
      let at = Int(section.offset + entry.replacement.offset)
      var bytes = [UInt8](file.source.bytes)
      guard bytes[at] == 0x0f, bytes[at + 1] == 0x01, bytes[at + 2] == 0xca || bytes[at + 2] == 0xcb else { continue }
      bytes.replaceSubrange(at..<at + 3, with: [0x0f, 0x1f, 0x00])
      let mutated = try Fixtures.temporaryDirectory().appendingPathComponent("m.o").path
      try Data(bytes).write(to: URL(fileURLWithPath: mutated))
      let r = try CallSiteTests.compare(mutated, ["--orc", "--uaccess"], objtool: corpus.objtool61)
      #expect(r.differences.isEmpty, "site at \(entry.instruction)")
      #expect(r.orctool == r.objtool, "site at \(entry.instruction)")
      if r.objtool.contains("UACCESS") { warned += 1 }
    }
    #expect(warned > 0)
  }
}
