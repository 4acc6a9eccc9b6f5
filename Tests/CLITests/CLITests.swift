import Foundation
import TestSupport
import Testing

@Suite("orctool command line")
struct CLITests {
  func write(_ c: MalformedCase) throws -> String {
    let dir = try Fixtures.temporaryDirectory()
    let path = dir.appendingPathComponent("bad.o").path
    try Data(c.bytes).write(to: URL(fileURLWithPath: path))
    return path
  }

  func expectOneLineError(_ r: Fixtures.RunResult, path: String, offset: UInt64?) {
    #expect(r.status != 0)
    #expect(r.stdout.isEmpty)
    let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false)
    #expect(lines.count == 2 && lines[1].isEmpty, "stderr: \(r.stderr)")
    #expect(r.stderr.hasPrefix("orctool: \(path): error: "), "stderr: \(r.stderr)")
    if let offset {
      #expect(r.stderr.hasSuffix("(at offset 0x\(String(offset, radix: 16)))\n"), "stderr: \(r.stderr)")
    }
    // A trap would be a signal (status > 128 from the shell, or a crash report).
    #expect(r.status == 1)
  }

  @Test("the malformed-input cases build, all of them, with distinct names")
  func casesBuild() throws {
    // Building the cases must not fail quietly: a parameterised test over zero cases passes.
    let cases = try MalformedInputs.cases()
    #expect(cases.count == MalformedInputs.expectedCount, "\(cases.map(\.name))")
    #expect(cases.filter(\.affectsDump).count == MalformedInputs.expectedDumpCount)
    #expect(Set(cases.map(\.name)).count == cases.count)
  }

  // The arguments are built when the test runs: an error building them fails the test.
  @Test(
    "elf info: each malformed file gives one line on stderr and exit status 1",
    arguments: try MalformedInputs.cases())
  func elfInfo(_ c: MalformedCase) throws {
    let path = try write(c)
    expectOneLineError(try Fixtures.run(Fixtures.orctool, ["elf", "info", path]), path: path, offset: c.offset)
  }

  @Test(
    "--dump=orc: each malformed file it reads gives one line and exit status 1",
    arguments: try MalformedInputs.cases().filter(\.affectsDump))
  func dumpORC(_ c: MalformedCase) throws {
    let path = try write(c)
    expectOneLineError(try Fixtures.run(Fixtures.orctool, ["--dump=orc", path]), path: path, offset: c.offset)
  }

  @Test("a missing file is one line and exit status 1")
  func missingFile() throws {
    expectOneLineError(
      try Fixtures.run(Fixtures.orctool, ["orc", "dump", "/nonexistent/x.o"]),
      path: "/nonexistent/x.o", offset: nil)
  }

  @Test("--dump=orc, --dump and orc dump print the same text")
  func spellings() throws {
    let path = try Fixtures.assemble("orc61.S")
    let a = try Fixtures.run(Fixtures.orctool, ["--dump=orc", path])
    let b = try Fixtures.run(Fixtures.orctool, ["--dump", path])
    let c = try Fixtures.run(Fixtures.orctool, ["orc", "dump", path])
    #expect(a.status == 0 && b.status == 0 && c.status == 0)
    #expect(a.stdout.hasPrefix("frame_func+0: sp:sp+8 bp:(und) type:call end:0\n"))
    #expect(a.stdout == b.stdout && b.stdout == c.stdout)
  }

  @Test("an object without a generation needs --generation, and takes it")
  func generationFlag() throws {
    let src = ".include \"orc.inc\"\nf: nop\nORC61 f, 8, 0, ORC_REG_SP, ORC_REG_UNDEFINED, 0, 0\n"
    let path = try Fixtures.assemble("nogen.S", source: src)
    let refused = try Fixtures.run(Fixtures.orctool, ["--dump=orc", path])
    #expect(refused.status == 1)
    #expect(refused.stderr.contains("cannot tell the kernel generation"))
    let forced = try Fixtures.run(Fixtures.orctool, ["orc", "dump", "--generation", "6.12", path])
    #expect(forced.status == 0)
    #expect(forced.stdout == ".text+0:type:(und) sp:sp+8 bp:(und) signal:0\n")
  }

  @Test("objtool options not done (later objtools') are refused by name")
  func refusedActions() throws {
    let path = try Fixtures.assemble("orc61.S")
    // Every objtool 6.1 option is done; objtool 6.2's --mnop and --prefix are not.
    for option in ["--mnop", "--prefix=16"] {
      let r = try Fixtures.run(Fixtures.orctool, ["--orc", "--retpoline", option, "--module", path])
      #expect(r.status == 1)
      #expect(r.stderr.hasPrefix("orctool: objtool option \(option.prefix { $0 != "=" }) is not supported yet"))
    }
    // --hacks alone asks for every hack: jump_label and noinstr are both done; a value
    // naming neither is refused, as objtool's parse_hacks() refuses it.
    let bad = try Fixtures.run(Fixtures.orctool, ["--orc", "--hacks=jump", path])
    #expect(bad.status == 1 && bad.stderr.contains("objtool's hacks are jump_label and noinstr"))
    let noinstr = try Fixtures.run(Fixtures.orctool, ["--hacks=noinstr", "--uaccess", "--dry-run", path])
    // --uaccess validates the functions; objtool 6.1 gives this one warning too.
    #expect(noinstr.status == 0)
    #expect(noinstr.stderr == "\(path): warning: objtool: .text.unlikely+0x0: unreachable instruction\n")
    let dump = try Fixtures.run(Fixtures.orctool, ["--dump=insns", path])
    #expect(dump.status != 0)
    #expect(dump.stderr.contains("only --dump=orc is supported"))
  }

  @Test("a file without ORC prints nothing and succeeds, as objtool does")
  func noORC() throws {
    let path = try Fixtures.assemble("plain.S", source: "nop\n")
    let r = try Fixtures.run(Fixtures.orctool, ["--dump=orc", path])
    #expect(r.status == 0)
    #expect(r.stdout.isEmpty && r.stderr.isEmpty)
  }
}
