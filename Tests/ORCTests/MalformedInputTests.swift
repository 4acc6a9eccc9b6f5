import ELF
import Kernel
import ORC
import TestSupport
import Testing

/// Reads `source` as orctool does: the whole file, then its ORC dump.
func readEverything(_ source: MappedFile) throws(ELFError) -> String {
  let file = try ELFFile(source: source)
  try file.verify()
  let generation = GenerationDetector.detect(file)?.0 ?? .v6_1
  guard let table = try ORCTable.load(from: file, generation: generation) else { return "" }
  return try ORCDump.text(table)
}

@Suite("Malformed ELF input")
struct MalformedInputTests {
  @Test("every hand-made malformed file is built")
  func enoughCases() throws {
    // Building the cases must not fail quietly: a parameterised test over zero cases passes.
    #expect(try MalformedInputs.cases().count == MalformedInputs.expectedCount)
  }

  // The arguments are built when the test runs: an error building them fails the test.
  @Test("each malformed file gives its typed error at its offset", arguments: try MalformedInputs.cases())
  func typedError(_ c: MalformedCase) throws {
    let source = MappedFile(copying: c.bytes, path: "bad.o")
    do {
      let text = try readEverything(source)
      Issue.record("no error; read \(text.count) bytes of dump")
    } catch {
      #expect(c.expectKind(error.kind), "kind \(error.kind)")
      #expect(
        error.offset == c.offset,
        "offset 0x\(String(error.offset, radix: 16)) expected 0x\(String(c.offset, radix: 16))")
      #expect(error.path == "bad.o")
      #expect(!error.description.contains("\n"))
    }
  }

  @Test("the unmodified fixture reads without error")
  func goodFixture() throws {
    let path = try Fixtures.assemble("minimal.S")
    let text = try readEverything(try MappedFile(path: path))
    #expect(text == "f+0: sp:sp+8 bp:(und) type:call end:0\n")
  }
}
