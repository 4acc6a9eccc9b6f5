import ELF
import Foundation
import Kernel
import Program
import TestSupport
import Testing
import Validation

/// kbuild's environment for a vmlinux object (it carries no vermagic).
let kbuild61 = ["VERSION": "6", "PATCHLEVEL": "1"]

/// objtool 6.1's actions for every vmlinux object of the Debian cloud build (kbuild's line).
let kbuildActions = [
  "--hacks=jump_label", "--hacks=noinstr", "--orc", "--retpoline", "--rethunk", "--sls", "--static-call", "--uaccess",
]

/// The recorded Debian 6.1 build (scripts/kbuild.sh), if there is one.
let recordedBuild: String? = {
  let dir =
    (ProcessInfo.processInfo.environment["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")) + "/orctool/kbuild/6.1"
  return FileManager.default.fileExists(atPath: dir + "/objects") ? dir : nil
}()

/// Runs `check` on `path` with every action asked by `arguments` (objtool's names).
func runCheck(_ path: String, _ arguments: [String]) throws -> (CheckOutcome, ELFFile) {
  let file = try ELFFile(path: path)
  var actions = CheckActions()
  actions.orc = arguments.contains("--orc")
  actions.retpoline = arguments.contains("--retpoline")
  actions.rethunk = arguments.contains("--rethunk")
  actions.sls = arguments.contains("--sls")
  actions.staticCall = arguments.contains("--static-call")
  actions.hackJumpLabel = arguments.contains("--hacks=jump_label")
  actions.hackNoinstr = arguments.contains("--hacks=noinstr")
  actions.uaccess = arguments.contains("--uaccess")
  actions.module = arguments.contains("--module")
  return (Check.run(program: try Program(file: file), generation: .v6_1, actions: actions), file)
}

/// A created section's relocations as readelf names them: `.text+0x6`, `__SCK__tick+0x1`.
func relocationNames(_ s: CreatedSection, in file: ELFFile) throws -> [String] {
  let symbols = try #require(try file.symbolTable())
  return try s.relocations.map { r in
    switch r.target {
    case .code(let section): return "\(file.sections[section].name)+0x\(String(r.addend, radix: 16))"
    case .symbol(let k):
      return "\(try symbols.name(of: try symbols.symbol(at: k)))+0x\(String(r.addend, radix: 16))"
    }
  }
}

@Suite("--retpoline, --rethunk, --sls, --static-call, --hacks=jump_label (objtool 6.1)")
struct CallSiteTests {
  static let warnings = [
    "f+0xd: indirect call found in RETPOLINE build",
    "g+0x0: 'naked' return found in RETHUNK build",
    "h+0x0: indirect jump found in RETPOLINE build",
    "m+0x0: 'naked' return found in RETHUNK build",
    "g+0x0: missing int3 after ret",
    "h+0x0: missing int3 after indirect jump",
  ]

  @Test("the warnings in objtool's words and order: retpoline and rethunk before the validation, SLS after")
  func warnings() throws {
    let (outcome, _) = try runCheck(try Fixtures.assemble("callsites61.S"), kbuildActions)
    #expect(outcome.diagnostics.map(\.objtoolText) == Self.warnings)
    // Without --rethunk a plain return is no warning; without --retpoline nothing is.
    let (plain, _) = try runCheck(try Fixtures.assemble("callsites61.S"), ["--orc", "--retpoline"])
    #expect(plain.diagnostics.map(\.objtoolText) == [Self.warnings[0], Self.warnings[2]])
    // In a module, .init.text runs late: its indirect call is warned about too.
    let (module, _) = try runCheck(try Fixtures.assemble("callsites61.S"), kbuildActions + ["--module"])
    #expect(module.diagnostics.map(\.objtoolText).contains("i+0x0: indirect call found in RETPOLINE build"))
  }

  @Test(
    "--sls and --rethunk at the edges: a replacement's fake NOP follows its last instruction, the last one of a section has nothing after it, thunk jcc's are safe"
  )
  func edges() throws {
    let (outcome, _) = try runCheck(try Fixtures.assemble("sls61.S"), kbuildActions)
    #expect(
      outcome.diagnostics.map(\.objtoolText) == [
        "d+0x8: indirect jump found in RETPOLINE build",
        ".altinstr_replacement+0x0: 'naked' return found in RETHUNK build",
        ".altinstr_replacement+0x4: indirect jump found in RETPOLINE build",
        "e+0x0: 'naked' return found in RETHUNK build",
        ".altinstr_replacement+0x0: missing int3 after ret",
        ".altinstr_replacement+0x4: missing int3 after indirect jump",
        "e+0x0: missing int3 after ret",
      ])
  }

  @Test("the call-site sections: every site objtool lists, in its order, with its relocations")
  func sections() throws {
    let (outcome, file) = try runCheck(try Fixtures.assemble("callsites61.S"), kbuildActions)
    #expect(
      outcome.edits.sections.map(\.name) == [
        ".static_call_sites", ".retpoline_sites", ".return_sites", ".orc_unwind", ".orc_unwind_ip",
      ])
    let byName = Dictionary(uniqueKeysWithValues: outcome.edits.sections.map { ($0.name, $0) })
    let staticCalls = try #require(byName[".static_call_sites"])
    // Sibling calls first (add_jump_destinations() finds them), the tail flag in the key's addend.
    #expect(
      try relocationNames(staticCalls, in: file) == [
        ".text+0x23", "__SCK__tock+0x1", ".text+0x1", "__SCK__tick+0x0", ".init.text+0x2", "__SCK__tick+0x0",
      ])
    #expect(
      staticCalls.flags == .write && staticCalls.entrySize == 8 && staticCalls.data == [UInt8](repeating: 0, count: 24))
    // The retpoline jump of n() first, then the call of f(); not the replacement's thunk call.
    #expect(try relocationNames(try #require(byName[".retpoline_sites"]), in: file) == [".text+0x3e", ".text+0x6"])
    // A thunk jump in a replacement is listed too, as objtool 6.1 lists it; so is .init.text's.
    #expect(
      try relocationNames(try #require(byName[".return_sites"]), in: file) == [
        ".text+0x29", ".text+0x43", ".altinstr_replacement+0xc", ".text.unlikely+0x1", ".init.text+0x7",
      ])
  }

  @Test("--hacks=jump_label: each marked jmp becomes a NOP of its length, the far one's relocation voided")
  func jumpLabel() throws {
    let (outcome, file) = try runCheck(try Fixtures.assemble("callsites61.S"), kbuildActions)
    let text = try #require(file.section(named: ".text")).index
    #expect(
      outcome.edits.rewrites.instructions == [
        .init(section: text, offset: 0x14, bytes: [0x66, 0x90]),
        .init(section: text, offset: 0x16, bytes: [0x0f, 0x1f, 0x44, 0x00, 0x00]),
      ])
    let voided = try #require(outcome.edits.rewrites.voidedRelocations.first)
    #expect(file.sections[voided.relocationSection].name == ".rela.text")
    #expect(try file.relocations(file.sections[voided.relocationSection])[voided.index].offset == 0x17)
    let (none, _) = try runCheck(try Fixtures.assemble("callsites61.S"), ["--orc"])
    #expect(none.edits.rewrites.isEmpty)
  }

  @Test("a static call whose key the object does not name: objtool's error without --module, the trampoline with it")
  func missingKey() throws {
    let (stopped, file) = try runCheck(try Fixtures.assemble("static_call_nokey.S"), kbuildActions)
    #expect(stopped.stopped)
    #expect(stopped.diagnostics.map(\.objtoolText) == ["static_call: can't find static_call_key symbol: __SCK__tock"])
    // objtool stops there: the section it made is written with the one relocation it got to,
    // and nothing after it (.retpoline_sites, the ORC) is made.
    #expect(stopped.edits.sections.map(\.name) == [".static_call_sites"])
    #expect(try relocationNames(stopped.edits.sections[0], in: file) == [".text+0xa"])
    let (module, _) = try runCheck(try Fixtures.assemble("static_call_nokey.S"), kbuildActions + ["--module"])
    #expect(!module.stopped && module.diagnostics.isEmpty)
    #expect(
      try relocationNames(module.edits.sections[0], in: file) == [
        ".text+0xa", "__SCT__tock+0x1", ".text+0x0", "__SCK__tick+0x0",
      ])
  }

  @Test("a pass that stops the check after --hacks=jump_label: the NOP is written, no ORC")
  func stopAfterHack() throws {
    let path = try Fixtures.assemble("jump_label_stop.S")
    let r = try Fixtures.run(Fixtures.orctool, kbuildActions + [path], environment: kbuild61)
    #expect(r.status == 0 && r.stderr == "\(path): warning: objtool: f+0x2: unannotated intra-function call\n")
    let file = try ELFFile(path: path)
    let text = try #require(file.section(named: ".text"))
    #expect(Array(file.contents(of: text).bytes.prefix(2)) == [0x66, 0x90])
    #expect(file.section(named: ".orc_unwind") == nil)
    // orctool check says it did not finish; --dry-run leaves the file alone.
    let copy = try Fixtures.assemble("jump_label_stop.S")
    let before = try Data(contentsOf: URL(fileURLWithPath: copy))
    let dry = try Fixtures.run(
      Fixtures.orctool, ["check", "--orc", "--hacks", "jump_label", "--dry-run", copy], environment: kbuild61)
    let after = try Data(contentsOf: URL(fileURLWithPath: copy))
    #expect(dry.status == 1 && after == before)
  }

  @Test("a function's call to a label through its section's symbol is no error (find_call_destination())")
  func callToLabel() throws {
    let (outcome, _) = try runCheck(try Fixtures.assemble("call_label_section.S"), ["--orc"])
    #expect(outcome.failure == nil)
    #expect(outcome.diagnostics.map(\.objtoolText) == ["lab+0x0: unreachable instruction"])
  }

  @Test("a second run writes nothing new: the file stays byte for byte; --backup keeps the input as FILE.orig")
  func secondRun() throws {
    let path = try Fixtures.assemble("callsites61.S")
    let input = try Data(contentsOf: URL(fileURLWithPath: path))
    let first = try Fixtures.run(Fixtures.orctool, kbuildActions + ["--backup", path], environment: kbuild61)
    #expect(first.status == 0)
    #expect(try Data(contentsOf: URL(fileURLWithPath: path + ".orig")) == input)
    let written = try Data(contentsOf: URL(fileURLWithPath: path))
    #expect(written != input)
    let second = try Fixtures.run(Fixtures.orctool, kbuildActions + [path], environment: kbuild61)
    #expect(second.status == 0 && second.stderr.contains("file already has .orc_unwind section, skipping"))
    #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == written)
  }

  /// The argument lines compared with objtool 6.1: kbuild's, a module's, and each action alone.
  static let lines: [[String]] = [
    kbuildActions, kbuildActions + ["--module"], ["--retpoline"], ["--rethunk"], ["--sls", "--orc"],
    ["--static-call"], ["--static-call", "--module"], ["--hacks=jump_label"], ["--retpoline", "--rethunk", "--orc"],
    ["--uaccess", "--orc"], ["--hacks=noinstr"],
  ]

  /// Runs objtool 6.1 and orctool on two copies of `object` with `arguments`, twice (the
  /// second run meets the sections of the first); what differs, and both tools' warnings.
  static func compare(_ object: String, _ arguments: [String], objtool: String) throws -> (
    differences: [String], objtool: String, orctool: String
  ) {
    let dir = try Fixtures.temporaryDirectory()
    let theirs = dir.appendingPathComponent("o.o").path
    let ours = dir.appendingPathComponent("m.o").path
    try FileManager.default.copyItem(atPath: object, toPath: theirs)
    try FileManager.default.copyItem(atPath: object, toPath: ours)
    var warnings = ("", "")
    for _ in 0..<2 {
      let a = try Fixtures.run(objtool, arguments + [theirs])
      let b = try Fixtures.run(Fixtures.orctool, arguments + [ours], environment: kbuild61)
      #expect(a.status == b.status)
      warnings.0 += a.stderr.replacingOccurrences(of: theirs, with: "OBJ")
      warnings.1 += b.stderr.replacingOccurrences(of: ours, with: "OBJ")
    }
    return (try ObjectComparison.differences(theirs, ours, objtool: objtool), warnings.0, warnings.1)
  }

  @Test(
    "against objtool 6.1: every section, the symbol table, the ORC and the warnings, run twice",
    .enabled(if: Corpus.current != nil),
    arguments: [
      "callsites61.S", "static_call_nokey.S", "jump_label_stop.S", "call_label_section.S",
      "sls61.S",
    ],
    lines)
  func objtool(_ fixture: String, _ arguments: [String]) throws {
    let corpus = try #require(Corpus.current)
    let r = try Self.compare(try Fixtures.assemble(fixture), arguments, objtool: corpus.objtool61)
    #expect(r.differences.isEmpty)
    #expect(r.orctool == r.objtool)
  }

  @Test(
    "recorded 6.1 build objects: sections, code, ORC and warnings identical to objtool 6.1's",
    .enabled(if: recordedBuild != nil && Corpus.current != nil),
    arguments: [
      "kernel/sched/core.o", "arch/x86/xen/enlighten_pv.o", "kernel/bpf/core.o", "arch/x86/kernel/smp.o",
      "arch/x86/kernel/relocate_kernel_64.o", "lib/rbtree.o", "lib/kstrtox.o", "arch/x86/kernel/paravirt.o",
      "fs/userfaultfd.o", "arch/x86/kernel/alternative.o", "kernel/static_call_inline.o", "net/ipv4/tcp.o",
    ])
  func recorded(_ object: String) throws {
    let corpus = try #require(Corpus.current)
    let path = try #require(recordedBuild) + "/objects/" + object
    try #require(FileManager.default.fileExists(atPath: path), "not recorded yet: \(object)")
    let r = try Self.compare(path, kbuildActions, objtool: corpus.objtool61)
    #expect(r.differences.isEmpty)
    #expect(r.orctool == r.objtool)
  }

  /// objtool 6.1 gives each `.altinstructions` entry of a site its own CFI array (seed 000,
  /// `conflictObjtool` in CheckTests): in entry.o's `FILL_RETURN_BUFFER` the RSB-filling loop
  /// has 16 bytes on the stack at offset 13 of the site, where the one-slot replacement ends
  /// with 8, and objtool 6.1 does not compare them. OrcTool reports the conflict.
  @Test(
    "entry.o: the RSB-filling alternatives conflict at offset 13, which objtool 6.1 does not see",
    .enabled(if: recordedBuild != nil && Corpus.current != nil))
  func rsbConflict() throws {
    let corpus = try #require(Corpus.current)
    let path = try #require(recordedBuild) + "/objects/arch/x86/entry/entry.o"
    try #require(FileManager.default.fileExists(atPath: path))
    let r = try Self.compare(path, kbuildActions, objtool: corpus.objtool61)
    #expect(!r.objtool.contains("stack layout conflict"))
    #expect(
      r.orctool.hasPrefix(
        "OBJ: warning: objtool: .altinstr_replacement+0x2c: stack layout conflict in alternatives\n"))
  }
}
