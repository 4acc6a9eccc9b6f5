import ELF
import Foundation
import TestSupport
import Testing

/// Checks what every run of orctool on a hostile input must end in: an exit
/// (never a signal: a Swift trap is SIGILL or SIGTRAP) within `seconds` (run
/// it with `Fixtures.run(..., timeout: seconds)`, so a hang ends too), with
/// status 0 or 1, and whole lines on stderr, each an objtool warning about
/// `file` (`FILE: warning: objtool: ...`; only `check` and objtool's own
/// command line warn) or, with status 1, exactly one line
/// `orctool: FILE: error: ...`. A failure with nothing on stderr is a defect too.
func expectWellFormed(
  _ r: Fixtures.RunResult, file: String, warns: Bool, seconds: Double = 10,
  _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(!r.signaled, "\(what): killed by signal \(r.status): \(r.stderr)", sourceLocation: sourceLocation)
  #expect(
    !r.timedOut && r.seconds < seconds, "\(what): took \(r.seconds) s, more than \(seconds)",
    sourceLocation: sourceLocation)
  #expect(r.status == 0 || r.status == 1, "\(what): exit \(r.status): \(r.stderr)", sourceLocation: sourceLocation)
  #expect(r.stderr.isEmpty || r.stderr.hasSuffix("\n"), "\(what): \(r.stderr)", sourceLocation: sourceLocation)
  let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
  let warnings = warns && lines.allSatisfy { $0.hasPrefix("\(file): warning: objtool: ") }
  let oneError = lines.count == 1 && lines[0].hasPrefix("orctool: \(file): error: ")
  if r.status == 0 {
    #expect(warnings || lines.isEmpty, "\(what): exit 0 with stderr: \(r.stderr)", sourceLocation: sourceLocation)
  } else {
    #expect(
      !lines.isEmpty && (warnings || oneError), "\(what): exit \(r.status) with stderr: \(r.stderr)",
      sourceLocation: sourceLocation)
  }
}

/// Objects built to hurt: each must end in output or a one-line error, within
/// bounded time, never a trap or a hang.
@Suite("Hostile inputs")
struct HostileInputTests {
  func object(_ name: String, _ body: String) throws -> String {
    try Fixtures.assemble(name, source: ".include \"orc.inc\"\nMODINFO_VERMAGIC 6.1.0-56-cloud-amd64\n" + body)
  }

  /// `orctool check --orc --dry-run path`, checked by `expectWellFormed`.
  func checkRuns(_ path: String, seconds: Double, sourceLocation: SourceLocation = #_sourceLocation) throws
    -> Fixtures.RunResult
  {
    let r = try Fixtures.run(Fixtures.orctool, ["check", "--orc", "--dry-run", path], timeout: seconds)
    expectWellFormed(r, file: path, warns: true, seconds: seconds, "check", sourceLocation: sourceLocation)
    #expect(r.stdout.isEmpty, sourceLocation: sourceLocation)
    return r
  }

  @Test("cycles of jumps end")
  func cycles() throws {
    let path = try object(
      "cycle.S",
      """
      .text
      .type f, @function
      f: 1: jmp 2f
      2: jz 1b
      jmp 1b
      .size f, . - f
      """)
    let r = try checkRuns(path, seconds: 10)
    #expect(r.status == 0 && r.stderr.isEmpty, "\(r.stderr)")  // objtool 6.1 is silent too
  }

  @Test("250,000 nested conditional branches: no stack overflow, a warning")
  func deepBranches() throws {
    let path = try object(
      "deep.S",
      """
      .text
      .type f, @function
      f:
      .rept 250000
      jz 1f
      1:
      .endr
      ret
      .size f, . - f
      """)
    let r = try checkRuns(path, seconds: 60)
    #expect(r.status == 0)
    // The 200,000th `jz` (2 bytes each) is where the walk gives up, with one warning.
    #expect(r.stderr == "\(path): warning: objtool: f+0x61a80: too many nested branches (more than 200000)\n")
  }

  @Test("200,000 tiny functions in linear time")
  func manyFunctions() throws {
    let path = try object(
      "many.S",
      """
      .text
      .irpc a,0123456789
      .irpc b,0123456789
      .irpc c,0123456789
      .irpc d,0123456789
      .irpc e,0123456789
      .irpc g,01
      .type f\\a\\b\\c\\d\\e\\g, @function
      f\\a\\b\\c\\d\\e\\g: ret
      .size f\\a\\b\\c\\d\\e\\g, 1
      .endr
      .endr
      .endr
      .endr
      .endr
      .endr
      """)
    let r = try checkRuns(path, seconds: 30)
    #expect(r.status == 0 && r.stderr.isEmpty)
  }

  @Test("an alternative entry pointing outside the code is a one-line error")
  func alternativeOutside() throws {
    let path = try object(
      "altout.S",
      """
      .text
      .type f, @function
      f: ret
      .size f, . - f
      .section .altinstr_replacement, "ax"
      3: nop
      .section .altinstructions, "a"
      .long f + 0x100 - .
      .long 3b - .
      .word 1
      .byte 1, 1
      """)
    let r = try checkRuns(path, seconds: 10)
    #expect(r.status == 1)
    #expect(r.stderr == "\(path): warning: objtool: .text+0x100: special: can't find orig instruction\n")
    // Before the section, where offsets wrap (found by fuzzing).
    let below = try object(
      "altbelow.S",
      """
      .text
      .type f, @function
      f: ret
      .size f, . - f
      .section .altinstr_replacement, "ax"
      3: nop
      .section .altinstructions, "a"
      .long f - 0x100 - .
      .long 3b - .
      .word 1
      .byte 1, 1
      """)
    let w = try checkRuns(below, seconds: 10)
    #expect(w.status == 1)
    #expect(w.stderr == "\(below): warning: objtool: .text+0xffffffffffffff00: special: can't find orig instruction\n")
  }

  @Test("special sections that are NOBITS: sizes with no bytes (found by fuzzing)")
  func nobitsSpecialSections() throws {
    let path = try object(
      "nobits.S",
      """
      .text
      .type f, @function
      f: ret
      .size f, . - f
      .section .altinstructions, "a", @nobits
      .skip 24
      .section __ex_table, "a", @nobits
      .skip 24
      .section .parainstructions, "a", @nobits
      .skip 32
      .section .discard.unwind_hints, "", @nobits
      .skip 24
      """)
    let check = try checkRuns(path, seconds: 10)
    #expect(check.status == 0 && check.stderr.isEmpty, "\(check.stderr)")
    // A NOBITS section has no entries to read: each report says so and succeeds.
    let expected: [(command: [String], stdout: String)] = [
      (["extable", path], "\(path): 0 entries "),
      (["paravirt", path], "\(path): 0 paravirt sites;"),
      (["alternatives", path], ""),
      (["--dump=orc", path], ""),
    ]
    for (command, stdout) in expected {
      let r = try Fixtures.run(Fixtures.orctool, command, timeout: 10)
      expectWellFormed(r, file: path, warns: false, command[0])
      #expect(r.status == 0 && r.stderr.isEmpty, "\(command[0]): \(r.stderr)")
      #expect(stdout.isEmpty ? r.stdout.isEmpty : r.stdout.hasPrefix(stdout), "\(command[0]): \(r.stdout)")
    }
  }

  @Test("a replacement that starts past its section is a one-line error (found by fuzzing)")
  func replacementPastSection() throws {
    let path = try object("altpast.S", altSite(replacement: "3b + 0x7ffffff0", lengths: "1, 0"))
    let r = try checkRuns(path, seconds: 10)
    #expect(r.status == 1)
    #expect(r.stderr == "\(path): warning: objtool: f+0x0: special: can't find new instruction\n")
  }

  @Test("a replacement length past its section is not followed past the section")
  func replacementOverrun() throws {
    let path = try object("altlong.S", altSite(replacement: "3b", lengths: "1, 200"))
    let r = try checkRuns(path, seconds: 10)
    #expect(r.status == 0 && r.stderr.isEmpty, "\(r.stderr)")  // objtool 6.1 is silent too
  }

  @Test("a jump table whose entries leave the function")
  func jumpTableOutside() throws {
    let path = try object(
      "jt.S",
      """
      .text
      .type f, @function
      f: lea 1f(%rip), %rax
      jmp *(%rax)
      ret
      .size f, . - f
      .type g, @function
      g: ret
      .size g, . - g
      .section .rodata, "a"
      1: .quad g
      .quad g + 0x10000
      """)
    let r = try checkRuns(path, seconds: 10)
    #expect(r.status == 0 && r.stderr.isEmpty, "\(r.stderr)")  // objtool 6.1 is silent too
  }

  /// The names of the ORC sections of the object at `path` that have bytes.
  func orcSections(_ path: String) throws -> [String] {
    let file = try ELFFile(path: path)
    return [".orc_unwind", ".orc_unwind_ip", ".rela.orc_unwind_ip"].filter { (file.section(named: $0)?.size ?? 0) > 0 }
  }

  @Test("a full disk (a file-size limit) leaves the original object intact and says so in one line")
  func fullDisk() throws {
    // An object without ORC, larger than the limit (32 blocks of 1 KiB): reading it is allowed, writing is not.
    let dir = try Fixtures.temporaryDirectory()
    let target = dir.appendingPathComponent("big.o").path
    let big = try object(
      "bigtext.S",
      ".text\n.type f, @function\nf:\n.rept 20000\npush %rbx\npop %rbx\n.endr\nret\n.size f, . - f\n.data\n.quad f\n")
    try FileManager.default.copyItem(atPath: big, toPath: target)
    let before = try Data(contentsOf: URL(fileURLWithPath: target))
    // Without the limit the same command writes ORC: the limit is what stops it.
    let free = dir.appendingPathComponent("free.o").path
    try FileManager.default.copyItem(atPath: big, toPath: free)
    let written = try Fixtures.run(Fixtures.orctool, ["--orc", "--module", "--link", free], timeout: 10)
    #expect(written.status == 0 && written.stderr.isEmpty, "\(written.stderr)")
    #expect(try orcSections(free).count == 3)

    let r = try Fixtures.run(
      "bash", ["-c", "ulimit -f 32; exec \"$0\" --orc --module --link \"$1\"", Fixtures.orctool, target],
      timeout: 10)
    expectWellFormed(r, file: target, warns: false, "--orc under ulimit -f 32")
    #expect(r.status == 1)
    #expect(
      r.stderr.hasPrefix("orctool: \(target): error: writing \(target).orctool-")
        && r.stderr.hasSuffix(".tmp: File too large\n"), "\(r.stderr)")
    #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == before)
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".orctool-") }
    #expect(leftovers.isEmpty)
  }

  @Test(
    "killed during the write, the object is the old one or the complete new one",
    .enabled(if: Corpus.current != nil || Corpus.required))
  func killDuringWrite() throws {
    let corpus = try #require(Corpus.current)
    let module = try #require(Corpus.modules(under: corpus.modules61).first { $0.hasSuffix("/xfs.ko") })
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }  // 16 copies of a 3 MB module
    let stripped = dir.appendingPathComponent("s.ko").path
    let strip = try Fixtures.run(
      "objcopy",
      [
        "--remove-section=.orc_unwind", "--remove-section=.orc_unwind_ip",
        "--remove-section=.rela.orc_unwind_ip", module, stripped,
      ])
    try #require(strip.status == 0, "objcopy: \(strip.stderr)")
    try #require(try orcSections(stripped).isEmpty)
    let original = try Data(contentsOf: URL(fileURLWithPath: stripped))

    // Uninterrupted, it writes the new object: ORC sections present after.
    let complete = dir.appendingPathComponent("complete.ko").path
    try FileManager.default.copyItem(atPath: stripped, toPath: complete)
    let run = try Fixtures.run(Fixtures.orctool, ["--orc", "--module", "--link", complete], timeout: 60)
    expectWellFormed(run, file: complete, warns: true, seconds: 60, "uninterrupted run")
    try #require(run.status == 0, "\(run.stderr)")
    let finished = try Data(contentsOf: URL(fileURLWithPath: complete))
    try #require(finished != original, "an uninterrupted run left the object as it was")
    #expect(try orcSections(complete) == [".orc_unwind", ".orc_unwind_ip", ".rela.orc_unwind_ip"])

    // Killed while it reads and checks (at fractions of that run's time), and
    // while it writes: from the moment anything in the directory changes (the
    // object itself, or a new file beside it), after a few delays. Never
    // anything but the old or the new bytes.
    let schedule: [(afterWriteBegins: Bool, delay: Double)] =
      [0.0, 0.3, 0.6].map { (false, run.seconds * $0) }
      + [0, 0.0002, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.008, 0.012, 0.02, 0.05].map { (true, $0) }
    var killed = 0
    var killedWhileWriting = 0
    var outcomes: [String] = []
    for (i, step) in schedule.enumerated() {
      let work = dir.appendingPathComponent("k\(i)")
      try FileManager.default.createDirectory(at: work, withIntermediateDirectories: false)
      let target = work.appendingPathComponent("m.ko").path
      try FileManager.default.copyItem(atPath: stripped, toPath: target)
      let unchanged = try FileManager.default.attributesOfItem(atPath: target)[.modificationDate] as? Date
      let p = Process()
      p.executableURL = URL(fileURLWithPath: Fixtures.orctool)
      p.arguments = ["--orc", "--module", "--link", target]
      p.standardOutput = FileHandle.nullDevice
      p.standardError = FileHandle.nullDevice
      try p.run()
      var writing = false
      if step.afterWriteBegins {
        let deadline = Date().addingTimeInterval(60)
        while p.isRunning && Date() < deadline {
          let names = (try? FileManager.default.contentsOfDirectory(atPath: work.path)) ?? []
          let attributes = try? FileManager.default.attributesOfItem(atPath: target)
          if names.count != 1 || attributes?[.modificationDate] as? Date != unchanged
            || attributes?[.size] as? Int != original.count
          {
            writing = true
            break
          }
        }
      }
      Thread.sleep(forTimeInterval: step.delay)
      kill(p.processIdentifier, SIGKILL)
      p.waitUntilExit()
      if p.terminationReason == .uncaughtSignal {
        #expect(p.terminationStatus == SIGKILL)
        killed += 1
        if writing { killedWhileWriting += 1 }
      } else {
        #expect(p.terminationStatus == 0, "a run that finished before the kill, step \(i)")
      }
      let now = try Data(contentsOf: URL(fileURLWithPath: target))
      let outcome = now == original ? "old" : now == finished ? "new" : "damaged"
      #expect(
        outcome != "damaged",
        "a damaged object (\(now.count) bytes) after a kill \(step.delay) s after \(step.afterWriteBegins ? "the write began" : "the start")"
      )
      outcomes.append(outcome)
    }
    #expect(
      killed > 0 && killedWhileWriting > 0, "runs killed: \(killed), while writing: \(killedWhileWriting): \(outcomes)")
  }

  /// Whether `strace` is installed (`scripts/deps.sh` installs it).
  static let hasStrace = FileManager.default.isExecutableFile(atPath: "/usr/bin/strace")

  @Test(
    "killed at each step of the write (strace), the object is the old one or the complete new one",
    .enabled(if: hasStrace),
    arguments: [
      // The temporary file exists, nothing is written yet.
      ("fchmod", "old"),
      // The temporary file is complete and read back; the rename has not happened.
      ("rename,renameat,renameat2", "old"),
      // The rename is done; the process is exiting.
      ("exit_group", "new"),
    ])
  func killAtStep(_ syscalls: String, _ expected: String) throws {
    let dir = try Fixtures.temporaryDirectory()
    let source = try object(
      "killstep.S",
      ".text\n.type f, @function\nf:\n.rept 1000\npush %rbx\npop %rbx\n.endr\nret\n.size f, . - f\n.data\n.quad f\n")
    let original = try Data(contentsOf: URL(fileURLWithPath: source))
    let complete = dir.appendingPathComponent("complete.o").path
    try FileManager.default.copyItem(atPath: source, toPath: complete)
    let run = try Fixtures.run(Fixtures.orctool, ["--orc", "--module", "--link", complete], timeout: 10)
    try #require(run.status == 0 && run.stderr.isEmpty, "\(run.stderr)")
    let finished = try Data(contentsOf: URL(fileURLWithPath: complete))
    try #require(finished != original)
    #expect(try orcSections(complete).count == 3)

    let target = dir.appendingPathComponent("target.o").path
    try FileManager.default.copyItem(atPath: source, toPath: target)
    let r = try Fixtures.run(
      "strace",
      [
        "-f", "-o", "/dev/null", "-e", "trace=\(syscalls)",
        "-e", "inject=\(syscalls):signal=KILL", Fixtures.orctool,
        "--orc", "--module", "--link", target,
      ], timeout: 30)
    // strace ends as its tracee did: by SIGKILL, which shows the kill happened at that step.
    #expect(r.signaled && r.status == SIGKILL, "strace: exit \(r.status) \(r.stderr)")
    let now = try Data(contentsOf: URL(fileURLWithPath: target))
    #expect(
      now == (expected == "old" ? original : finished),
      "killed at \(syscalls): \(now == original ? "old" : now == finished ? "new" : "damaged") bytes")
  }
}

@Suite("Fuzzing regressions")
struct FuzzRegressionTests {
  @Test("a jump whose relocation names a section symbol of no section (found by fuzzing)")
  func jumpToNoSection() throws {
    let path = try Fixtures.assemble(
      "jumpsec.S",
      source: """
        .include "orc.inc"
        MODINFO_VERMAGIC 6.1.0-56-cloud-amd64
        .text
        .type f, @function
        f: jmp 1f
        .size f, . - f
        .section .text.unlikely, "ax"
        1: ret
        """)
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    // Point every STT_SECTION symbol of the table at section 0x7777.
    let shoff = Int(bytes[40..<48].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
    let shnum = Int(bytes[60..<62].withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) })
    for k in 0..<shnum {
      let h = shoff + k * 64
      let type = bytes[(h + 4)..<(h + 8)].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
      guard type == 2 else { continue }  // SHT_SYMTAB
      let off = Int(bytes[(h + 24)..<(h + 32)].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
      let size = Int(bytes[(h + 32)..<(h + 40)].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
      for s in stride(from: off, to: off + size, by: 24) where bytes[s + 4] & 0xf == 3 {
        bytes[s + 6] = 0x77
        bytes[s + 7] = 0x77
      }
    }
    let broken = try Fixtures.temporaryDirectory().appendingPathComponent("broken.o").path
    try Data(bytes).write(to: URL(fileURLWithPath: broken))
    let r = try Fixtures.run(Fixtures.orctool, ["check", "--orc", "--dry-run", broken], timeout: 10)
    expectWellFormed(r, file: broken, warns: true, "check")
    // The jump goes nowhere, so the code it jumped to is never reached.
    #expect(r.status == 0)
    #expect(r.stderr == "\(broken): warning: objtool: .text.unlikely+0x0: unreachable instruction\n")
  }
}

@Suite("Hostile layouts")
struct HostileLayoutTests {
  /// The fixture's bytes with `mutate` applied, written to a new file.
  func mutated(_ mutate: (inout [UInt8], ELFLayout) throws -> Void) throws -> String {
    let path = try Fixtures.assemble("livepatch.S")
    let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    var bytes = original
    try mutate(&bytes, ELFLayout(bytes))
    try #require(bytes != original, "the mutation changed nothing")
    let out = try Fixtures.temporaryDirectory().appendingPathComponent("hostile.o").path
    try Data(bytes).write(to: URL(fileURLWithPath: out))
    return out
  }

  /// Runs each command over `path`; every run must end as `expectWellFormed`
  /// says, and with the exit status `statuses` gives for its name (`check`,
  /// `elf`, `livepatch`, `extable`, `alternatives`). The results, by name.
  @discardableResult
  func survives(_ path: String, statuses: [String: Int32], sourceLocation: SourceLocation = #_sourceLocation) throws
    -> [String: Fixtures.RunResult]
  {
    var results: [String: Fixtures.RunResult] = [:]
    // livepatch.S names no kernel generation: the commands that read generation formats are told it.
    for command in [
      ["check", "--orc", "--dry-run", "--generation", "6.1", path], ["elf", "info", path],
      ["livepatch", path], ["extable", path], ["alternatives", "--generation", "6.1", path],
    ] {
      let r = try Fixtures.run(Fixtures.orctool, command, timeout: 10)
      expectWellFormed(r, file: path, warns: command[0] == "check", command[0], sourceLocation: sourceLocation)
      if r.status == 0 && command[0] != "check" {
        #expect(
          !r.stdout.isEmpty || command[0] == "alternatives", "\(command[0]): no output",
          sourceLocation: sourceLocation)
      }
      results[command[0]] = r
    }
    #expect(results.mapValues(\.status) == statuses, sourceLocation: sourceLocation)
    return results
  }

  @Test("overlapping sections")
  func overlapping() throws {
    let r = try survives(
      try mutated { b, l in
        let text = try #require(l.section(".text"))
        let data = try #require(l.section(".data"))
        l.put64(&b, data + 24, l.get64(b, text + 24))
      }, statuses: ["check": 0, "elf": 0, "livepatch": 0, "extable": 0, "alternatives": 0])
    #expect(r["check"]?.stderr.hasSuffix(": warning: objtool: f.cold+0x2: unreachable instruction\n") == true)
  }

  @Test("relocations outside their section")
  func relocationOutside() throws {
    let r = try survives(
      try mutated { b, l in
        let rela = try #require(l.section(".rela.text"))
        l.put64(&b, Int(l.get64(b, rela + 24)), 0xffff_fff0)  // the first relocation's r_offset
      }, statuses: ["check": 1, "elf": 0, "livepatch": 0, "extable": 0, "alternatives": 1])
    // The call at f+0 lost its relocation: an intra-function call, fatal.
    #expect(r["check"]?.stderr.hasSuffix(": warning: objtool: f+0x0: unannotated intra-function call\n") == true)
    #expect(r["alternatives"]?.stderr.contains("error: f+0x0: unannotated intra-function call") == true)
  }

  /// The fixture with every function symbol's `st_size` set to `size`.
  func functionSizes(_ size: UInt64) throws -> String {
    try mutated { b, l in
      let symtab = try #require(l.section(".symtab"))
      let off = Int(l.get64(b, symtab + 24))
      let count = Int(l.get64(b, symtab + 32))
      for s in stride(from: off + 24, to: off + count, by: 24) where b[s + 4] & 0xf == 2 {  // STT_FUNC
        l.put64(&b, s + 16, size)
      }
    }
  }

  @Test("symbol sizes past the section end")
  func symbolPastEnd() throws {
    let r = try survives(
      try functionSizes(0x10_0000),
      statuses: ["check": 0, "elf": 0, "livepatch": 0, "extable": 0, "alternatives": 0])
    #expect(r["check"]?.stderr.contains(": warning: objtool: g() falls through to next function f()\n") == true)
  }
}

@Suite("More fuzzing regressions")
struct MoreFuzzRegressionTests {
  @Test("a function size that wraps the address space (found by fuzzing)")
  func wrappingSize() throws {
    let layout = HostileLayoutTests()
    let r = try layout.survives(
      try layout.functionSizes(0xffff_ffff_ffff_ff00),
      statuses: ["check": 0, "elf": 0, "livepatch": 0, "extable": 0, "alternatives": 0])
    #expect(r["check"]?.stderr.contains(": warning: objtool: g() falls through to next function f()\n") == true)
  }

  @Test("an alternative entry of length 0 is objtool's warning, not a trap (found by fuzzing)")
  func emptyAlternative() throws {
    let path = try Fixtures.assemble(
      "altempty.S",
      source: """
        .include "orc.inc"
        MODINFO_VERMAGIC 6.1.0-56-cloud-amd64
        .text
        .type f, @function
        f: 1: nop
        ret
        .size f, . - f
        .section .altinstr_replacement, "ax"
        3: nop
        .section .altinstructions, "a"
        .long 1b - .
        .long 3b - .
        .word 1
        .byte 0, 0
        """)
    let r = try Fixtures.run(Fixtures.orctool, ["check", "--orc", "--dry-run", path], timeout: 10)
    expectWellFormed(r, file: path, warns: true, "check")
    #expect(r.status == 0)
    #expect(r.stderr == "\(path): warning: objtool: f+0x0: empty alternative entry\n")
  }

  @Test("a linked image whose special section sits at the top of the address space (found by fuzzing)")
  func wrappingAddress() throws {
    let obj = try Fixtures.assemble(
      "seed000a-linked.S",
      source: """
        .include "orc.inc"
        .include "seed000.inc"
        ALT_GEN = 61
        MODINFO_VERMAGIC 6.1.0-56-cloud-amd64
        .text
        .globl _start
        .type _start, @function
        _start: 661: nop
        662: ret
        .size _start, . - _start
        .section .altinstr_replacement, "ax"
        671: nop
        672:
        .text
        ALT_ENTRY 661b, 662b, 671b, 672b, 1
        .pushsection __ex_table, "a"
        .long 661b - ., 662b - ., 1
        .popsection
        """)
    let exe = try Fixtures.temporaryDirectory().appendingPathComponent("linked").path
    try #require(try Fixtures.run("ld", ["-o", exe, obj]).status == 0)
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: exe)))
    let layout = ELFLayout(bytes)
    for name in [".altinstructions", "__ex_table"] {
      layout.put64(&bytes, try #require(layout.section(name)) + 16, 0xffff_ffff_ffff_fff0)  // sh_addr
    }
    try Data(bytes).write(to: URL(fileURLWithPath: exe))
    let r = try HostileLayoutTests().survives(
      exe, statuses: ["check": 1, "elf": 0, "livepatch": 0, "extable": 1, "alternatives": 1])
    #expect(r["extable"]?.stderr.contains("error: __ex_table entry 0 points outside the file's sections") == true)
    #expect(r["alternatives"]?.stderr.contains("error: .altinstructions entry 0 has no relocation") == true)
  }
}

/// A function `f` whose first instruction (a NOP) is an alternative site with
/// one entry: the replacement's place and the `instrlen, replacementlen` bytes.
func altSite(replacement: String, lengths: String) -> String {
  """
  .text
  .type f, @function
  f: 1: nop
  ret
  .size f, . - f
  .section .altinstr_replacement, "ax"
  3: nop
  .section .altinstructions, "a"
  .long 1b - .
  .long \(replacement) - .
  .word 1
  .byte \(lengths)
  """
}

/// Section headers of an ELF64 file, by name, for mutations.
struct ELFLayout {
  var headers: [String: Int] = [:]
  init(_ b: [UInt8]) {
    let shoff = Int(get64(b, 40))
    let shnum = Int(b[60]) | Int(b[61]) << 8
    let shstrndx = Int(b[62]) | Int(b[63]) << 8
    let strOff = Int(get64(b, shoff + shstrndx * 64 + 24))
    for k in 0..<shnum {
      let h = shoff + k * 64
      var n = strOff + Int(get32(b, h))
      var name = ""
      while b[n] != 0 { name.append(Character(UnicodeScalar(b[n]))); n += 1 }
      if headers[name] == nil { headers[name] = h }
    }
  }
  func section(_ name: String) -> Int? { headers[name] }
  func get32(_ b: [UInt8], _ o: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(b[o + $1]) << (8 * UInt32($1)) } }
  func get64(_ b: [UInt8], _ o: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(b[o + $1]) << (8 * UInt64($1)) } }
  func put64(_ b: inout [UInt8], _ o: Int, _ v: UInt64) {
    for i in 0..<8 { b[o + i] = UInt8((v >> (8 * UInt64(i))) & 0xff) }
  }
}

@Suite("A code section past 4 GiB")
struct HugeCodeSectionTests {
  @Test("refused in one line before decoding (instruction offsets are 32-bit), with a sparse file")
  func huge() throws {
    let src = try Fixtures.assemble("minimal.S")
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: src)))
    let layout = ELFLayout(bytes)
    let text = try #require(layout.section(".text"))
    let size: UInt64 = (1 << 32) + 0x10
    layout.put64(&bytes, text + 32, size)
    let path = try Fixtures.temporaryDirectory().appendingPathComponent("huge.o").path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }
    // Sparse: the file reaches past the section's end without taking disk space.
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    try handle.truncate(atOffset: layout.get64(bytes, text + 24) + size)
    try handle.close()
    for command in [
      ["check", "--orc", "--dry-run", "--generation", "6.1", path],
      ["alternatives", "--generation", "6.1", path],
    ] {
      let r = try Fixtures.run(Fixtures.orctool, command, timeout: 30)
      #expect(r.status == 1, "\(command[0])")
      #expect(
        r.stderr
          == "orctool: \(path): error: code section .text is 0x100000010 bytes, more than 4 GiB (at offset 0x\(String(text + 32, radix: 16)))\n",
        "\(command[0])")
    }
  }
}
