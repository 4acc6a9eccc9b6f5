import ELF
import Foundation
import Kernel
import ORC
import TestSupport
import Testing

/// `--dump=orc` against the real objtool on real Debian modules (fetched by `scripts/corpus.sh`).
@Suite("Corpus: ORC dump identical to objtool's", .enabled(if: Corpus.current != nil || Corpus.required))
struct CorpusDumpTests {
  static let sampleSize = 100

  func compare(modules: String, objtool: String, expected: KernelGeneration) throws {
    let files = Corpus.sample(Corpus.modules(under: modules), count: Self.sampleSize)
    #expect(files.count == Self.sampleSize)
    var identical = 0
    var entries = 0
    for path in files {
      let real = try Fixtures.run(objtool, ["--dump=orc", path], environment: ["SRCARCH": "x86"])
      #expect(real.status == 0, "objtool failed on \(path)")
      let file = try ELFFile(path: path)
      let generation = try #require(GenerationDetector.detect(file)?.0)
      #expect(generation == expected, "\(path)")
      var out: [UInt8] = []
      if let table = try ORCTable.load(from: file, generation: generation) {
        try ORCDump.render(table, into: &out)
        entries += table.count
      }
      if out == [UInt8](real.stdoutData) {
        identical += 1
      } else {
        Issue.record("dump differs from objtool's: \(path)")
      }
    }
    #expect(identical == files.count)
    #expect(entries > 10_000, "the sample should carry real ORC tables")
  }

  @Test("100 Debian 6.1 cloud modules")
  func modules61() throws {
    let corpus = try #require(Corpus.current, "run scripts/corpus.sh")
    try compare(modules: corpus.modules61, objtool: corpus.objtool61, expected: .v6_1)
  }

  @Test("100 Debian 6.12 cloud modules")
  func modules612() throws {
    let corpus = try #require(Corpus.current, "run scripts/corpus.sh")
    try compare(modules: corpus.modules612, objtool: corpus.objtool612, expected: .v6_12)
  }

  @Test(
    "the 6.1 -dbg vmlinux (when fetched with scripts/corpus.sh --dbg)",
    .enabled(if: Corpus.current?.vmlinux61 != nil))
  func vmlinux() throws {
    let corpus = try #require(Corpus.current)
    let path = try #require(corpus.vmlinux61)
    let real = try Fixtures.run(corpus.objtool61, ["--dump=orc", path])
    let file = try ELFFile(path: path)
    #expect(GenerationDetector.detect(file)?.0 == .v6_1)
    let table = try #require(try ORCTable.load(from: file, generation: .v6_1))
    var out: [UInt8] = []
    try ORCDump.render(table, into: &out)
    #expect(table.count > 300_000)
    #expect(out == [UInt8](real.stdoutData))
  }
}
