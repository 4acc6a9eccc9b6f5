import Foundation
import TestSupport
import Testing

/// Objects built to hurt: each must end in output or a one-line error, within
/// bounded time, never a trap or a hang.
@Suite("Hostile inputs")
struct HostileInputTests {
  func object(_ name: String, _ body: String) throws -> String {
    try Fixtures.assemble(name, source: ".include \"orc.inc\"\nMODINFO_VERMAGIC 6.1.0-56-cloud-amd64\n" + body)
  }

  func checkRuns(_ path: String, seconds: Double) throws -> Fixtures.RunResult {
    let start = Date()
    let r = try Fixtures.run(Fixtures.orctool, ["check", "--orc", "--dry-run", path])
    #expect(Date().timeIntervalSince(start) < seconds, "took \(Date().timeIntervalSince(start)) s")
    #expect(r.status == 0 || r.status == 1, "exit \(r.status): \(r.stderr)")
    #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Crash"))
    return r
  }

  @Test("cycles of jumps end")
  func cycles() throws {
    let path = try object("cycle.S", """
      .text
      .type f, @function
      f: 1: jmp 2f
      2: jz 1b
      jmp 1b
      .size f, . - f
      """)
    let r = try checkRuns(path, seconds: 10)
    #expect(r.status == 0)
  }

  @Test("250,000 nested conditional branches: no stack overflow, a warning")
  func deepBranches() throws {
    let path = try object("deep.S", """
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
    #expect(r.stderr.contains("too many nested branches"))
  }

  @Test("200,000 tiny functions in linear time")
  func manyFunctions() throws {
    let path = try object("many.S", """
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
    let path = try object("altout.S", """
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
    #expect(r.stderr.hasSuffix("special: can't find orig instruction\n"))
    #expect(r.stderr.split(separator: "\n").count == 1)
    // Before the section, where offsets wrap (found by fuzzing).
    let below = try object("altbelow.S", """
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
    #expect(w.status == 1 && w.stderr.hasSuffix("special: can't find orig instruction\n"))
  }

  @Test("special sections that are NOBITS: sizes with no bytes (found by fuzzing)")
  func nobitsSpecialSections() throws {
    let path = try object("nobits.S", """
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
    _ = try checkRuns(path, seconds: 10)
    for command in [["extable", path], ["paravirt", path], ["alternatives", path], ["--dump=orc", path]] {
      let r = try Fixtures.run(Fixtures.orctool, command)
      #expect(r.status == 0 || r.status == 1, "\(command): \(r.stderr)")
      #expect(!r.stderr.contains("crashed"))
    }
  }

  @Test("a replacement that starts past its section is a one-line error (found by fuzzing)")
  func replacementPastSection() throws {
    let path = try object("altpast.S", altSite(replacement: "3b + 0x7ffffff0", lengths: "1, 0"))
    let r = try checkRuns(path, seconds: 10)
    #expect(r.status == 1 && r.stderr.hasSuffix("special: can't find new instruction\n"))
  }

  @Test("a replacement length past its section is not followed past the section")
  func replacementOverrun() throws {
    let path = try object("altlong.S", altSite(replacement: "3b", lengths: "1, 200"))
    _ = try checkRuns(path, seconds: 10)
  }

  @Test("a jump table whose entries leave the function")
  func jumpTableOutside() throws {
    let path = try object("jt.S", """
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
    _ = try checkRuns(path, seconds: 10)
  }

  @Test("a full disk (a file-size limit) leaves the original object intact and says so in one line")
  func fullDisk() throws {
    let path = try Fixtures.assemble("orc61.S")
    // A copy without ORC, large enough to cross a 1-block limit when rewritten.
    let dir = try Fixtures.temporaryDirectory()
    let target = dir.appendingPathComponent("big.o").path
    let big = try object(
      "bigtext.S", ".text\n.type f, @function\nf:\n.rept 20000\npush %rbx\npop %rbx\n.endr\nret\n.size f, . - f\n.data\n.quad f\n")
    try FileManager.default.copyItem(atPath: big, toPath: target)
    _ = path
    let before = try Data(contentsOf: URL(fileURLWithPath: target))
    let r = try Fixtures.run("bash", ["-c", "ulimit -f 32; exec \"$0\" --orc --module --link \"$1\"", Fixtures.orctool, target])
    #expect(r.status == 1)
    #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("error:"), "\(r.stderr)")
    #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == before)
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".orctool-") }
    #expect(leftovers.isEmpty)
  }

  @Test("killed during the write, the object is the old one or the complete new one", .enabled(if: Corpus.current != nil))
  func killDuringWrite() throws {
    let corpus = try #require(Corpus.current)
    let module = try #require(Corpus.modules(under: corpus.modules61).first { $0.hasSuffix("/xfs.ko") })
    let dir = try Fixtures.temporaryDirectory()
    let stripped = dir.appendingPathComponent("s.ko").path
    _ = try Fixtures.run("objcopy", ["--remove-section=.orc_unwind", "--remove-section=.orc_unwind_ip",
                                     "--remove-section=.rela.orc_unwind_ip", module, stripped])
    let original = try Data(contentsOf: URL(fileURLWithPath: stripped))
    let complete = dir.appendingPathComponent("complete.ko").path
    try FileManager.default.copyItem(atPath: stripped, toPath: complete)
    _ = try Fixtures.run(Fixtures.orctool, ["--orc", "--module", "--link", complete])
    let finished = try Data(contentsOf: URL(fileURLWithPath: complete))
    var outcomes: Set<String> = []
    for delay in [0.0, 0.02, 0.05, 0.08, 0.11, 0.14, 0.17, 0.2, 0.3, 0.5] {
      let target = dir.appendingPathComponent("k\(delay).ko").path
      try FileManager.default.copyItem(atPath: stripped, toPath: target)
      let p = Process()
      p.executableURL = URL(fileURLWithPath: Fixtures.orctool)
      p.arguments = ["--orc", "--module", "--link", target]
      p.standardError = FileHandle.nullDevice
      try p.run()
      Thread.sleep(forTimeInterval: delay)
      kill(p.processIdentifier, SIGKILL)
      p.waitUntilExit()
      let now = try Data(contentsOf: URL(fileURLWithPath: target))
      #expect(now == original || now == finished, "a damaged object after a kill at \(delay) s")
      outcomes.insert(now == original ? "old" : "new")
    }
    #expect(!outcomes.isEmpty)
  }
}

@Suite("Fuzzing regressions")
struct FuzzRegressionTests {
  @Test("a jump whose relocation names a section symbol of no section (found by fuzzing)")
  func jumpToNoSection() throws {
    let path = try Fixtures.assemble("jumpsec.S", source: """
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
    let r = try Fixtures.run(Fixtures.orctool, ["check", "--orc", "--dry-run", broken])
    #expect(r.status == 0 || r.status == 1)
    #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("crashed"), "\(r.stderr)")
  }
}

@Suite("Hostile layouts")
struct HostileLayoutTests {
  /// The fixture's bytes with `mutate` applied, written to a new file.
  func mutated(_ mutate: (inout [UInt8], ELFLayout) -> Void) throws -> String {
    let path = try Fixtures.assemble("livepatch.S")
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    mutate(&bytes, ELFLayout(bytes))
    let out = try Fixtures.temporaryDirectory().appendingPathComponent("hostile.o").path
    try Data(bytes).write(to: URL(fileURLWithPath: out))
    return out
  }

  func survives(_ path: String) throws {
    for command in [["check", "--orc", "--dry-run", path], ["elf", "info", path], ["livepatch", path],
                    ["extable", path], ["alternatives", path]] {
      let r = try Fixtures.run(Fixtures.orctool, command)
      #expect(r.status == 0 || r.status == 1, "\(command[0]): exit \(r.status)")
      #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("crashed"), "\(command[0]): \(r.stderr)")
      #expect(r.status == 0 || r.stderr.split(separator: "\n").count >= 1)
    }
  }

  @Test("overlapping sections")
  func overlapping() throws {
    try survives(try mutated { b, l in
      if let text = l.section(".text"), let data = l.section(".data") { l.put64(&b, data + 24, l.get64(b, text + 24)) }
    })
  }

  @Test("relocations outside their section")
  func relocationOutside() throws {
    try survives(try mutated { b, l in
      if let rela = l.section(".rela.text") {
        let off = Int(l.get64(b, rela + 24))
        l.put64(&b, off, 0xffff_fff0)
      }
    })
  }

  /// The fixture with every function symbol's `st_size` set to `size`.
  func functionSizes(_ size: UInt64) throws -> String {
    try mutated { b, l in
      guard let symtab = l.section(".symtab") else { return }
      let off = Int(l.get64(b, symtab + 24))
      let count = Int(l.get64(b, symtab + 32))
      for s in stride(from: off + 24, to: off + count, by: 24) where b[s + 4] & 0xf == 2 {
        l.put64(&b, s + 16, size)
      }
    }
  }

  @Test("symbol sizes past the section end")
  func symbolPastEnd() throws {
    try survives(try functionSizes(0x10_0000))
  }
}

@Suite("More fuzzing regressions")
struct MoreFuzzRegressionTests {
  @Test("a function size that wraps the address space (found by fuzzing)")
  func wrappingSize() throws {
    let layout = HostileLayoutTests()
    try layout.survives(try layout.functionSizes(0xffff_ffff_ffff_ff00))
  }

  @Test("an alternative entry of length 0 is objtool's warning, not a trap (found by fuzzing)")
  func emptyAlternative() throws {
    let path = try Fixtures.assemble("altempty.S", source: """
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
    let r = try Fixtures.run(Fixtures.orctool, ["check", "--orc", "--dry-run", path])
    #expect(r.status == 0)
    #expect(r.stderr == "\(path): warning: objtool: f+0x0: empty alternative entry\n")
  }

  @Test("a linked image whose special section sits at the top of the address space (found by fuzzing)")
  func wrappingAddress() throws {
    let obj = try Fixtures.assemble("seed000a-linked.S", source: """
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
    #expect(try Fixtures.run("ld", ["-o", exe, obj]).status == 0)
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: exe)))
    let layout = ELFLayout(bytes)
    for name in [".altinstructions", "__ex_table"] {
      if let h = layout.section(name) { layout.put64(&bytes, h + 16, 0xffff_ffff_ffff_fff0) }
    }
    try Data(bytes).write(to: URL(fileURLWithPath: exe))
    try HostileLayoutTests().survives(exe)
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
  func put64(_ b: inout [UInt8], _ o: Int, _ v: UInt64) { for i in 0..<8 { b[o + i] = UInt8((v >> (8 * UInt64(i))) & 0xff) } }
}
