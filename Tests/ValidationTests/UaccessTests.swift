import ELF
import Foundation
import Kernel
import ORC
import Program
import TestSupport
import Testing
import Validation

/// Validates `path` as a 6.1 object for objtool's `actions`.
func validate(_ path: String, actions: CheckActions) throws -> (Validator, ELFFile) {
  let file = try ELFFile(path: path)
  let graph = try ControlFlowGraph(program: try Program(file: file), generation: .v6_1, actions: actions)
  let v = Validator(graph: graph)
  v.run()
  return (v, file)
}

/// kbuild's environment for objtool: the generation policy reads VERSION/PATCHLEVEL.
let kbuild61 = ["VERSION": "6", "PATCHLEVEL": "1"]

/// Runs objtool 6.1 and orctool (objtool's command line) with `arguments` on two copies
/// of `object`: each one's warnings (paths replaced by X), ORC (objtool's dump) and
/// code and relocation sections afterwards.
func compareWithObjtool61(_ object: String, _ arguments: [String], objtool: String) throws -> (
  ours: (warnings: String, orc: String, sections: [String: [UInt8]]),
  theirs: (warnings: String, orc: String, sections: [String: [UInt8]])
) {
  let dir = try Fixtures.temporaryDirectory()
  func one(_ tool: String, _ name: String) throws -> (String, String, [String: [UInt8]]) {
    let copy = dir.appendingPathComponent(name).path
    try FileManager.default.copyItem(atPath: object, toPath: copy)
    let r = try Fixtures.run(tool, arguments + [copy], environment: kbuild61)
    let dump = try Fixtures.run(objtool, ["--dump=orc", copy]).stdout
    return (r.stderr.replacingOccurrences(of: copy, with: "X"), dump, try codeSections(copy))
  }
  let theirs = try one(objtool, "objtool.o")
  let ours = try one(Fixtures.orctool, "orctool.o")
  return ((ours.0, ours.1, ours.2), (theirs.0, theirs.1, theirs.2))
}

/// The bytes of each code section and of each code section's relocations.
func codeSections(_ path: String) throws -> [String: [UInt8]] {
  let file = try ELFFile(path: path)
  var out: [String: [UInt8]] = [:]
  for s in file.sections {
    let code = s.flags.contains(.execInstr) && s.hasFileContents
    let relocations =
      s.type == .rela && Int(s.info) < file.sections.count && file.sections[Int(s.info)].flags.contains(.execInstr)
    if code || relocations { out[s.name] = [UInt8](file.contents(of: s).bytes) }
  }
  return out
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
    let (v, _) = try validate(path, actions: CheckActions(uaccess: true))
    #expect(v.diagnostics.map(\.objtoolText) == Self.uaccessWarnings)
  }

  @Test("without --uaccess only the DF rules apply, and SMAP alternatives are not followed")
  func withoutUaccess() throws {
    let path = try Fixtures.assemble("uaccess.S")
    let (v, _) = try validate(path, actions: CheckActions())
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
    let (v, _) = try validate(path, actions: CheckActions(uaccess: true))
    #expect(v.diagnostics.contains { $0.objtoolText == "both_states+0x7: call to foo() with UACCESS enabled" })
  }

  @Test("with --uaccess the SMAP replacements' PUSHF/POPF shape the ORC of the original NOPs")
  func smapStreamsInORC() throws {
    let path = try Fixtures.assemble("uaccess.S")
    let (on, file) = try validate(path, actions: CheckActions(uaccess: true))
    let (off, _) = try validate(path, actions: CheckActions())
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
    let path = try Fixtures.assemble("uaccess.S")
    let (ours, theirs) = try compareWithObjtool61(path, arguments, objtool: corpus.objtool61)
    #expect(ours.warnings == theirs.warnings)
    #expect(ours.orc == theirs.orc)
    if arguments.contains("--uaccess") {
      #expect(theirs.warnings == Self.uaccessWarnings.map { "X: warning: objtool: \($0)\n" }.joined())
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

  @Test("calls to instrumentation in noinstr sections become NOPs, tail calls ret; int3, relocations R_X86_64_NONE")
  func rewrites() throws {
    let path = try Fixtures.assemble("noinstr_hack.S")
    let file = try ELFFile(path: path)
    let graph = try ControlFlowGraph(
      program: try Program(file: file), generation: .v6_1, actions: CheckActions(hackNoinstr: true))
    let edited = try ELFFile(source: MappedFile(copying: try file.applying(graph.edits), path: path))
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
    // The rewritten instructions are NOPs and returns to validation.
    let text0 = try #require(graph.table.sectionRange[text.index])
    #expect(graph.type[text0.lowerBound + 1] == .nop)
    #expect(graph.profilingCalls?.retyped.values.filter { $0 == .return }.count == 2)
  }

  @Test("without the hack nothing is written")
  func nothingWithout() throws {
    let path = try Fixtures.assemble("noinstr_hack.S")
    let graph = try ControlFlowGraph(program: try Program(file: try ELFFile(path: path)), generation: .v6_1)
    #expect(graph.edits.isEmpty)
  }

  @Test(
    "code, relocations, warnings and ORC byte-identical to the real objtool 6.1's",
    .enabled(if: Corpus.current != nil),
    arguments: [["--hacks=noinstr"], ["--hacks=noinstr", "--orc"], ["--hacks=noinstr", "--orc", "--uaccess"]])
  func againstObjtool(_ arguments: [String]) throws {
    let corpus = try #require(Corpus.current)
    let path = try Fixtures.assemble("noinstr_hack.S")
    let (ours, theirs) = try compareWithObjtool61(path, arguments, objtool: corpus.objtool61)
    #expect(ours.warnings == theirs.warnings)
    #expect(ours.orc == theirs.orc)
    #expect(ours.sections == theirs.sections)
    #expect(theirs.sections[".noinstr.text"] == Self.noinstrText)
  }
}

@Suite("Recorded kernel-build objects against objtool 6.1 (--orc --uaccess --hacks=noinstr)")
struct RecordedObjectTests {
  /// Objects with SMAP alternatives (the most sites first) and objects the issue names
  /// (they stopped before).
  static let objects = [
    "arch/x86/lib/getuser.o", "fs/select.o", "fs/readdir.o", "arch/x86/kernel/fpu/signal.o",
    "arch/x86/lib/copy_user_64.o", "arch/x86/lib/putuser.o", "lib/iov_iter.o", "lib/strncpy_from_user.o",
    "arch/x86/kernel/signal.o", "kernel/futex/core.o", "lib/rbtree.o", "lib/kstrtox.o", "arch/x86/kernel/paravirt.o",
    "fs/userfaultfd.o",
  ]

  /// The recorded arguments of `path` that orctool carries out in this branch.
  static func arguments(_ kbuild: KbuildCorpus, _ path: String) -> [String] {
    let done: Set<String> = ["--orc", "--uaccess", "--hacks=noinstr"]
    return (kbuild.arguments[path] ?? []).filter(done.contains)
  }

  @Test(
    "warnings, ORC, code and relocations identical to objtool 6.1 with the same arguments",
    .enabled(if: Corpus.current != nil && KbuildCorpus.current != nil), arguments: objects)
  func recorded(_ path: String) throws {
    let corpus = try #require(Corpus.current)
    let kbuild = try #require(KbuildCorpus.current)
    guard let object = kbuild.object(path) else { return }  // not built (yet) by this recording
    let arguments = Self.arguments(kbuild, path)
    #expect(arguments.contains("--uaccess"))
    let (ours, theirs) = try compareWithObjtool61(object, arguments, objtool: corpus.objtool61)
    #expect(ours.warnings == theirs.warnings)
    #expect(ours.orc == theirs.orc)
    #expect(ours.sections == theirs.sections)
  }

  /// entry_64.o (48 SMAP sites) and entry.o: `FILL_RETURN_BUFFER`'s two RSB-filling
  /// streams disagree at a shared boundary. objtool 6.1 gives each entry of a site its own
  /// CFI array and never compares them; OrcTool flattens the streams into one (seed 000)
  /// and reports the conflict, with or without --uaccess. That is the only difference.
  @Test(
    "entry_64.o and entry.o: only the RSB-filling conflict objtool 6.1 cannot see differs",
    .enabled(if: Corpus.current != nil && KbuildCorpus.current != nil),
    arguments: ["arch/x86/entry/entry_64.o", "arch/x86/entry/entry.o"])
  func rsbConflict(_ path: String) throws {
    let corpus = try #require(Corpus.current)
    let kbuild = try #require(KbuildCorpus.current)
    guard let object = kbuild.object(path) else { return }
    let (ours, theirs) = try compareWithObjtool61(object, Self.arguments(kbuild, path), objtool: corpus.objtool61)
    #expect(theirs.warnings.isEmpty)
    let lines = ours.warnings.split(separator: "\n")
    #expect(lines.count == 1 && lines.allSatisfy { $0.hasSuffix(": stack layout conflict in alternatives") })
    #expect(ours.sections == theirs.sections)
  }

  /// Real code made to break the rules: each SMAP site of a recorded object whose
  /// replacement is a lone CLAC or STAC, made a 3-byte NOP one at a time (as
  /// scripts/mutate-smap.py does for the whole corpus), leaves UACCESS enabled at a
  /// call or return, or makes the next CLAC redundant.
  @Test(
    "a recorded object with one STAC or CLAC removed: objtool 6.1's UACCESS warning and ORC",
    .enabled(if: Corpus.current != nil && KbuildCorpus.current != nil),
    arguments: ["lib/strncpy_from_user.o", "lib/strnlen_user.o", "kernel/futex/core.o"])
  func mutated(_ path: String) throws {
    let corpus = try #require(Corpus.current)
    let kbuild = try #require(KbuildCorpus.current)
    guard let object = kbuild.object(path) else { return }
    let file = try ELFFile(path: object)
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
      let (ours, theirs) = try compareWithObjtool61(mutated, ["--orc", "--uaccess"], objtool: corpus.objtool61)
      #expect(ours.warnings == theirs.warnings, "site at \(entry.instruction)")
      #expect(ours.orc == theirs.orc, "site at \(entry.instruction)")
      if theirs.warnings.contains("UACCESS") { warned += 1 }
    }
    #expect(warned > 0)
  }
}
