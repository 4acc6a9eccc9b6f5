import ELF
import Foundation
import TestSupport
import Testing

/// The objects `make kernel-objects` (scripts/kernel-objects.sh) compiles alone from
/// linux-source-6.1 with the Debian cloud config: each as it was before objtool ran,
/// kbuild's objtool command line for it, and what objtool 6.1 did with it in kbuild.
struct KernelObjects: Sendable {
  /// The record: `objects/<path>` with `.args`, `.stderr`, `.status`, `.out`.
  var directory: String
  /// What kbuild exported to objtool (VERSION, PATCHLEVEL, SRCARCH, ...).
  var environment: [String: String]

  /// scripts/kernel-objects.list without its comments.
  static let list: [String] = {
    let path = Fixtures.root.appendingPathComponent("scripts/kernel-objects.list").path
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
    return text.split(separator: "\n").compactMap { line in
      let path = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
        .trimmingCharacters(in: .whitespaces)
      return path.isEmpty ? nil : path
    }
  }()

  /// The record made by `make kernel-objects`, or nil when there is none.
  static let current: KernelObjects? = {
    let env = ProcessInfo.processInfo.environment
    let root =
      env["ORCTOOL_KERNEL_OBJECTS"]
      ?? ((env["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")) + "/orctool/kernel-objects")
    let dir = root + "/6.1"
    guard FileManager.default.fileExists(atPath: dir + "/objects.list"),
      let text = try? String(contentsOfFile: dir + "/objtool.env", encoding: .utf8)
    else { return nil }
    var environment: [String: String] = [:]
    for line in text.split(separator: "\n") {
      let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
      if parts.count == 2 { environment[parts[0]] = parts[1] }
    }
    return KernelObjects(directory: dir, environment: environment)
  }()

  func path(_ object: String) -> String { directory + "/objects/" + object }

  /// objtool's arguments in kbuild: the options, and the object as kbuild named it (the last one).
  func commandLine(_ object: String) throws -> (options: [String], object: String) {
    let lines = try String(contentsOfFile: path(object) + ".args", encoding: .utf8).split(separator: "\n")
    return (lines.dropLast().map(String.init), lines.last.map(String.init) ?? object)
  }
}

/// Where orctool and objtool 6.1 differ on a kept object, and why: all of them at
/// `FILL_RETURN_BUFFER`'s RSB-filling alternatives, whose loop has 16 bytes on the
/// stack at offset 13 of the site where the one-slot replacement ends with 8. objtool
/// 6.1 gives each `.altinstructions` entry of a site its own CFI array (seed 000) and
/// does not compare them; orctool reports the conflict, and as objtool does with any
/// fatal warning, stops validating the function there.
struct KnownDifference: Sendable {
  /// What ObjectComparison.differences finds.
  var differences: [String]
  /// orctool's warnings (objtool 6.1 gives none on these objects).
  var warnings: [String]
  /// `objtool --dump=orc` lines only in objtool's output, and only in orctool's.
  var objtoolORC: [String]
  var orctoolORC: [String]
  /// `orctool verify-variants` on objtool 6.1's output: where its table is wrong
  /// for a variant of an alternative (orctool's output has none).
  var objtoolVariants: [String]
}

@Suite(
  "make kernel-objects: single objects compiled with kbuild's flags, orctool against objtool 6.1",
  .enabled(if: KernelObjects.current != nil || Corpus.required))
struct KernelObjectsTests {
  static let conflict = "stack layout conflict in alternatives"

  static let known: [String: KnownDifference] = [
    // entry_ibpb: objtool 6.1's table is wrong for the one-slot variant.
    "arch/x86/entry/entry.o": KnownDifference(
      differences: [".orc_unwind", ".orc_unwind_ip", "orc"],
      warnings: [".altinstr_replacement+0x2c: \(conflict)"],
      objtoolORC: [".noinstr.text+19: sp:sp+8 bp:(und) type:call end:0"],
      orctoolORC: [
        ".noinstr.text+16: sp:sp+8 bp:(und) type:call end:0", ".noinstr.text+1c: sp:sp+16 bp:(und) type:call end:0",
        ".noinstr.text+22: sp:sp+24 bp:(und) type:call end:0", ".noinstr.text+26: sp:sp+8 bp:(und) type:call end:0",
      ],
      objtoolVariants: [
        "entry_ibpb+0xf: replacement 1 (X86_BUG_IBPB_NO_RET), offset 0x7 (entry_ibpb+0x16): the code needs sp:sp+8 bp:(und) type:call, the table gives sp:sp+16 bp:(und) type:call",
        "entry_ibpb+0xf: replacement 1 (X86_BUG_IBPB_NO_RET), offset 0xd (entry_ibpb+0x1c): the code needs sp:sp+16 bp:(und) type:call, the table gives sp:sp+8 bp:(und) type:call",
        "entry_ibpb+0xf: replacement 1 (X86_BUG_IBPB_NO_RET), offset 0x13 (entry_ibpb+0x22): the code needs sp:sp+24 bp:(und) type:call, the table gives sp:sp+8 bp:(und) type:call",
      ]),
    // __switch_to_asm: the same, with the callee-saved registers on the stack.
    "arch/x86/entry/entry_64.o": KnownDifference(
      differences: [".orc_unwind", ".orc_unwind_ip", "orc"],
      warnings: [".altinstr_replacement+0x52: \(conflict)"],
      objtoolORC: [".text+32: sp:sp+56 bp:prevsp-16 type:call end:0"],
      orctoolORC: [
        ".text+2f: sp:sp+56 bp:prevsp-16 type:call end:0", ".text+35: sp:sp+64 bp:prevsp-16 type:call end:0",
        ".text+3b: sp:sp+72 bp:prevsp-16 type:call end:0", ".text+3f: sp:sp+56 bp:prevsp-16 type:call end:0",
      ],
      objtoolVariants: [
        "__switch_to_asm+0x28: replacement 1 (X86_FEATURE_RSB_CTXSW), offset 0x7 (__switch_to_asm+0x2f): the code needs sp:sp+56 bp:prevsp-16 type:call, the table gives sp:sp+64 bp:prevsp-16 type:call",
        "__switch_to_asm+0x28: replacement 1 (X86_FEATURE_RSB_CTXSW), offset 0xd (__switch_to_asm+0x35): the code needs sp:sp+64 bp:prevsp-16 type:call, the table gives sp:sp+56 bp:prevsp-16 type:call",
        "__switch_to_asm+0x28: replacement 1 (X86_FEATURE_RSB_CTXSW), offset 0x13 (__switch_to_asm+0x3b): the code needs sp:sp+72 bp:prevsp-16 type:call, the table gives sp:sp+56 bp:prevsp-16 type:call",
      ]),
    // __vmx_vcpu_run (kvm-intel.ko): the CFA is %rbp-based there, so objtool 6.1's table
    // is right for every variant, and orctool's is the same: the conflict it sees (and
    // objtool 6.1 cannot, one CFI array per .altinstructions entry) is reported, and with
    // 6.1's rules the path goes on (CheckRules.alternativeConflictStops).
    "arch/x86/kvm/vmx/vmenter.o": KnownDifference(
      differences: [], warnings: [".altinstr_replacement+0x2c: \(conflict)"], objtoolORC: [], orctoolORC: [],
      objtoolVariants: []),
    // __svm_vcpu_run and __svm_sev_es_vcpu_run (kvm-amd.ko): objtool 6.1's table is wrong
    // at both sites; orctool's is right there, and the same as objtool's everywhere else.
    "arch/x86/kvm/svm/vmenter.o": KnownDifference(
      differences: [".orc_unwind", ".orc_unwind_ip", "orc"],
      warnings: [".altinstr_replacement+0x31: \(conflict)", ".altinstr_replacement+0x7b: \(conflict)"],
      objtoolORC: [
        ".noinstr.text+11a: sp:sp+64 bp:prevsp-16 type:call end:0",
        ".noinstr.text+243: sp:sp+64 bp:prevsp-16 type:call end:0",
      ],
      orctoolORC: [
        ".noinstr.text+117: sp:sp+64 bp:prevsp-16 type:call end:0",
        ".noinstr.text+11d: sp:sp+72 bp:prevsp-16 type:call end:0",
        ".noinstr.text+123: sp:sp+80 bp:prevsp-16 type:call end:0",
        ".noinstr.text+127: sp:sp+64 bp:prevsp-16 type:call end:0",
        ".noinstr.text+240: sp:sp+64 bp:prevsp-16 type:call end:0",
        ".noinstr.text+246: sp:sp+72 bp:prevsp-16 type:call end:0",
        ".noinstr.text+24c: sp:sp+80 bp:prevsp-16 type:call end:0",
        ".noinstr.text+250: sp:sp+64 bp:prevsp-16 type:call end:0",
      ],
      objtoolVariants: [
        "__svm_vcpu_run+0x110: replacement 1 (X86_FEATURE_RETPOLINE), offset 0x7 (__svm_vcpu_run+0x117): the code needs sp:sp+64 bp:prevsp-16 type:call, the table gives sp:sp+72 bp:prevsp-16 type:call",
        "__svm_vcpu_run+0x110: replacement 1 (X86_FEATURE_RETPOLINE), offset 0xd (__svm_vcpu_run+0x11d): the code needs sp:sp+72 bp:prevsp-16 type:call, the table gives sp:sp+64 bp:prevsp-16 type:call",
        "__svm_vcpu_run+0x110: replacement 1 (X86_FEATURE_RETPOLINE), offset 0x13 (__svm_vcpu_run+0x123): the code needs sp:sp+80 bp:prevsp-16 type:call, the table gives sp:sp+64 bp:prevsp-16 type:call",
        "__svm_sev_es_vcpu_run+0x29: replacement 1 (X86_FEATURE_RETPOLINE), offset 0x7 (__svm_sev_es_vcpu_run+0x30): the code needs sp:sp+64 bp:prevsp-16 type:call, the table gives sp:sp+72 bp:prevsp-16 type:call",
        "__svm_sev_es_vcpu_run+0x29: replacement 1 (X86_FEATURE_RETPOLINE), offset 0xd (__svm_sev_es_vcpu_run+0x36): the code needs sp:sp+72 bp:prevsp-16 type:call, the table gives sp:sp+64 bp:prevsp-16 type:call",
        "__svm_sev_es_vcpu_run+0x29: replacement 1 (X86_FEATURE_RETPOLINE), offset 0x13 (__svm_sev_es_vcpu_run+0x3c): the code needs sp:sp+80 bp:prevsp-16 type:call, the table gives sp:sp+64 bp:prevsp-16 type:call",
      ]),
  ]

  @Test("the list has the objects that once failed, module objects, and the known differences")
  func list() throws {
    let list = KernelObjects.list
    for object in [
      "lib/rbtree.o", "lib/kstrtox.o", "arch/x86/kernel/paravirt.o", "fs/userfaultfd.o", "arch/x86/entry/entry.o",
    ] {
      #expect(list.contains(object))
    }
    #expect(Set(Self.known.keys).isSubset(of: list))
    #expect(Set(list).count == list.count)
    let record = try #require(KernelObjects.current, "no record: run make kernel-objects")
    let recorded = try String(contentsOfFile: record.directory + "/objects.list", encoding: .utf8)
    #expect(recorded.split(separator: "\n").map(String.init) == list, "the record is older than the list: rerun it")
    // kbuild's line, --module for the objects of modules.
    let modules = try list.filter { try record.commandLine($0).options.contains("--module") }
    #expect(modules.count >= 2)
    #expect(modules.contains("arch/x86/kvm/vmx/vmenter.o"))
  }

  /// objtool 6.1's read_unwind_hints() turns each UNWIND_HINT_ENTRY (type 4) into
  /// UNWIND_HINT_TYPE_CALL (0) in the section's data itself, which elf_write() then
  /// writes back: its output's `.discard.unwind_hints` differs from the input there
  /// (a section the linker discards), and orctool's does the same. Checks exactly that
  /// and returns how many ENTRY hints `input` has.
  static func entryHints(input: String, objtool: String, orctool: String) throws -> Int {
    let hints = { (path: String) throws -> [UInt8] in
      let file = try ELFFile(path: path)
      guard let section = file.section(named: ".discard.unwind_hints") else { return [] }
      return Array(file.contents(of: section).bytes)
    }
    let before = try hints(input)
    #expect(before.count % 12 == 0)  // 6.1's struct unwind_hint: ip, sp_offset, sp_reg, type, end
    var after = before
    var count = 0
    for type in stride(from: 7, to: before.count, by: 12) where before[type] == 4 {
      after[type] = 0
      count += 1
    }
    #expect(try hints(objtool) == after)
    #expect(try hints(orctool) == after)
    return count
  }

  /// `objtool --dump=orc` of `path`, one string a line.
  static func orc(_ path: String, objtool: String) throws -> [String] {
    try Fixtures.run(objtool, ["--dump=orc", path]).stdout.split(separator: "\n").map(String.init)
  }

  /// What `orctool verify-variants` finds wrong in `path`'s table (the summary line left out).
  static func variantMismatches(_ path: String, environment: [String: String]) throws -> [String] {
    let r = try Fixtures.run(Fixtures.orctool, ["verify-variants", path], environment: environment)
    #expect(r.status == 0 || r.status == 1, "verify-variants: \(r.stderr)")
    return r.stdout.split(separator: "\n").map(String.init).filter { $0.contains(": replacement ") }
  }

  @Test(
    "each object: the sections objtool writes, the code after the hacks, symbols, ORC and warnings",
    arguments: KernelObjects.list)
  func object(_ object: String) throws {
    let corpus = try #require(Corpus.current, "no corpus: run make corpus")
    let record = try #require(KernelObjects.current, "no record: run make kernel-objects")
    let input = record.path(object)
    try #require(FileManager.default.fileExists(atPath: input + ".status"), "not recorded: \(object)")
    let (arguments, named) = try record.commandLine(object)
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let theirs = dir.appendingPathComponent("o.o").path
    let ours = dir.appendingPathComponent("m.o").path
    try FileManager.default.copyItem(atPath: input, toPath: theirs)
    try FileManager.default.copyItem(atPath: input, toPath: ours)
    let a = try Fixtures.run(corpus.objtool61, arguments + [theirs], environment: record.environment)
    let b = try Fixtures.run(Fixtures.orctool, arguments + [ours], environment: record.environment)
    let warnings = { (text: String, path: String) in
      text.split(separator: "\n").map { $0.replacingOccurrences(of: "\(path): warning: objtool: ", with: "") }
    }
    // objtool 6.1 here does what it did in kbuild: the same bytes, warnings and status.
    #expect(
      try Data(contentsOf: URL(fileURLWithPath: theirs)) == Data(contentsOf: URL(fileURLWithPath: input + ".out")))
    let recorded = try String(contentsOfFile: input + ".stderr", encoding: .utf8)
    #expect(warnings(recorded, named) == warnings(a.stderr, theirs))
    #expect(try String(contentsOfFile: input + ".status", encoding: .utf8) == "\(a.status)\n")
    #expect(a.status == b.status)

    let differences = try ObjectComparison.differences(theirs, ours, objtool: corpus.objtool61)
    let theirWarnings = warnings(a.stderr, theirs)
    let ourWarnings = warnings(b.stderr, ours)
    let expected = Self.known[object]?.differences ?? []
    _ = try Self.entryHints(input: input, objtool: theirs, orctool: ours)
    #expect(Set(differences) == Set(expected))
    guard let known = Self.known[object] else {
      #expect(ourWarnings == theirWarnings)
      return
    }
    #expect(theirWarnings.isEmpty)
    #expect(ourWarnings == known.warnings)
    let theirORC = try Self.orc(theirs, objtool: corpus.objtool61)
    let ourORC = try Self.orc(ours, objtool: corpus.objtool61)
    #expect(theirORC.filter { !Set(ourORC).contains($0) } == known.objtoolORC)
    #expect(ourORC.filter { !Set(theirORC).contains($0) } == known.orctoolORC)
    #expect(try Self.variantMismatches(theirs, environment: record.environment) == known.objtoolVariants)
    #expect(try Self.variantMismatches(ours, environment: record.environment).isEmpty)
  }

  /// objtool 6.1's actions the cloud build does not ask for, each object run with each.
  static let actionLines: [[String]] = [
    ["--noinstr", "--link"], ["--mcount"], ["--ibt", "--link", "--stats"],
    ["--unret", "--rethunk", "--link", "--backtrace"],
  ]

  /// Where orctool's `--noinstr --link` warnings differ from objtool 6.1's, and why: orctool's
  /// lines objtool does not print, and objtool's orctool does not. A `pv_ops` slot of an
  /// object that only refers to `pv_ops` is past objtool 6.1's empty table: it reads past its
  /// array (undefined behaviour: traps.o crashes it, elsewhere the bytes there say "clean"),
  /// where orctool knows no function of the slot and reports the call. entry.o is the
  /// RSB-filling conflict of `known`.
  static let noinstrDifferences: [String: (orctool: [String], objtool: [String])] = [
    "arch/x86/entry/entry.o": ([".altinstr_replacement+0x2c: \(conflict)"], []),
    "arch/x86/kernel/process_64.o": (
      [
        "__wrgsbase_inactive+0x13: call to pv_ops[23]() leaves .noinstr.text section",
        "__rdgsbase_inactive+0xa: call to pv_ops[22]() leaves .noinstr.text section",
      ], []
    ),
    "arch/x86/kernel/nmi.o": (
      ["exc_nmi+0x6f: call to pv_ops[0]() leaves .noinstr.text section"],
      ["exc_nmi+0x96: call to irqentry_nmi_enter() leaves .noinstr.text section"]
    ),
  ]

  /// The objects objtool 6.1 crashes on with `--noinstr --link` (see `noinstrDifferences`).
  static let noinstrCrashes: Set<String> = ["arch/x86/kernel/traps.o"]

  @Test(
    "each object with --noinstr, --mcount, --ibt (--stats), --unret (--backtrace): sections, warnings, stdout and status",
    arguments: KernelObjects.list)
  func actions(_ object: String) throws {
    let corpus = try #require(Corpus.current, "no corpus: run make corpus")
    let record = try #require(KernelObjects.current, "no record: run make kernel-objects")
    let input = record.path(object)
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let theirs = dir.appendingPathComponent("o.o").path
    let ours = dir.appendingPathComponent("m.o").path
    for line in Self.actionLines {
      try? FileManager.default.removeItem(atPath: theirs)
      try? FileManager.default.removeItem(atPath: ours)
      try FileManager.default.copyItem(atPath: input, toPath: theirs)
      try FileManager.default.copyItem(atPath: input, toPath: ours)
      let a = try Fixtures.run(corpus.objtool61, line + [theirs], environment: record.environment)
      let b = try Fixtures.run(Fixtures.orctool, line + [ours], environment: record.environment)
      let noinstr = line.contains("--noinstr")
      #expect(a.signaled == (noinstr && Self.noinstrCrashes.contains(object)), "\(line)")
      if a.signaled { continue }
      #expect(a.status == b.status, "\(line)")
      #expect(a.stdout == b.stdout, "\(line)")
      #expect(try ObjectComparison.sectionDifferences(theirs, ours).isEmpty, "\(line)")
      let theirWarnings = a.stderr.split(separator: "\n").map {
        $0.replacingOccurrences(of: "\(theirs): warning: objtool: ", with: "")
      }
      let ourWarnings = b.stderr.split(separator: "\n").map {
        $0.replacingOccurrences(of: "\(ours): warning: objtool: ", with: "")
      }
      let known = noinstr ? Self.noinstrDifferences[object] : nil
      #expect(ourWarnings.filter { !theirWarnings.contains($0) } == known?.orctool ?? [], "\(line)")
      #expect(theirWarnings.filter { !ourWarnings.contains($0) } == known?.objtool ?? [], "\(line)")
      if known == nil { #expect(ourWarnings == theirWarnings, "\(line)") }
    }
  }
}
