import ELF
import Kernel
import Program
import TestSupport
import Testing

@Suite("struct jump_entry")
struct JumpTableTests {
  @Test("an object: code, target, key and its flags through the relocations")
  func object() throws {
    let file = try ELFFile(path: try Fixtures.assemble("jump_table.S"))
    let entries = try JumpTable(file: file).entries
    let text = try #require(file.section(named: ".text")).index
    let data = try #require(file.section(named: ".data")).index
    // The third entry has no target relocation: left out.
    #expect(entries.map(\.index) == [0, 1])
    #expect(entries.map(\.code) == [SectionPlace(section: text, offset: 0), SectionPlace(section: text, offset: 5)])
    #expect(entries.map(\.target) == [SectionPlace(section: text, offset: 7), SectionPlace(section: text, offset: 8)])
    #expect(entries[0].key == SectionPlace(section: data, offset: 0))
    #expect(entries[1].key == nil, "other_key is in another file")
    #expect(entries.map(\.keyFlags) == [[], [.branch, .jumpLabelHack]])
  }

  @Test("a linked image: the same entries through the stored values")
  func linked() throws {
    let obj = try Fixtures.assemble("jump_table.S")
    let exe = try Fixtures.temporaryDirectory().appendingPathComponent("jt").path
    let link = try Fixtures.run("ld", ["-e", "0", "-Ttext=0x401000", "--defsym=other_key=local_key+8", "-o", exe, obj])
    #expect(link.status == 0, "\(link.stderr)")
    let file = try ELFFile(path: exe)
    let entries = try JumpTable(file: file).entries
    let text = try #require(file.section(named: ".text")).index
    let data = try #require(file.section(named: ".data")).index
    #expect(entries.count >= 2)
    func at(_ s: Int, _ offsets: UInt64...) -> [SectionPlace] { offsets.map { SectionPlace(section: s, offset: $0) } }
    #expect(entries.prefix(2).map(\.code) == at(text, 0, 5))
    #expect(entries.prefix(2).map(\.target) == at(text, 7, 8))
    #expect(entries.prefix(2).map(\.key) == at(data, 0, 8))
    #expect(entries.prefix(2).map(\.keyFlags) == [[], [.branch, .jumpLabelHack]])
  }

  @Test(
    "real modules: every entry's code is a NOP or JMP instruction and its target an instruction",
    .enabled(if: Corpus.current != nil))
  func corpus() throws {
    let corpus = try #require(Corpus.current)
    var total = 0
    var hacks = 0
    for dir in [corpus.modules61, corpus.modules612] {
      for path in Corpus.sample(Corpus.modules(under: dir), count: 30) {
        let file = try ELFFile(path: path)
        let entries = try JumpTable(file: file).entries
        // Each entry has relocations for code, target and key.
        let relocations = try file.section(named: ".rela__jump_table").map { try file.relocations($0).count } ?? 0
        #expect(entries.count == relocations / 3, "\(path)")
        let table = try InstructionTable.decode(try Program(file: file))
        for e in entries {
          let code = table.instruction(in: e.code.section, at: e.code.offset)
          let target = table.instruction(in: e.target.section, at: e.target.offset)
          #expect(code.map { [.nop, .jumpUnconditional].contains(table.type[$0]) } == true, "\(path) #\(e.index)")
          #expect(target != nil, "\(path) #\(e.index)")
        }
        hacks += entries.filter { $0.keyFlags.contains(.jumpLabelHack) }.count
        total += entries.count
      }
    }
    #expect(total > 100)
    #expect(hacks > 0, "Debian builds with CONFIG_HAVE_JUMP_LABEL_HACK: static_branch_unlikely sites carry bit 1")
  }
}
