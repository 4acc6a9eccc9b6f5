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

  @Test("real modules: the same branches as the static-key pass", .enabled(if: Corpus.current != nil))
  func corpus() throws {
    let corpus = try #require(Corpus.current)
    var total = 0
    var hacks = 0
    for dir in [corpus.modules61, corpus.modules612] {
      for path in Corpus.sample(Corpus.modules(under: dir), count: 30) {
        let file = try ELFFile(path: path)
        let entries = try JumpTable(file: file).entries
        let branches = try StaticKeyBranch.all(in: try FunctionTable(file: file))
        let read = entries.map { [$0.code.section, Int($0.code.offset), $0.target.section, Int($0.target.offset)] }
        let pass = branches.map { [$0.code.section, Int($0.code.offset), $0.target.section, Int($0.target.offset)] }
        #expect(read == pass, "\(path)")
        hacks += entries.filter { $0.keyFlags.contains(.jumpLabelHack) }.count
        total += entries.count
      }
    }
    #expect(total > 100)
    #expect(hacks > 0, "Debian builds with CONFIG_HAVE_JUMP_LABEL_HACK: static_branch_unlikely sites carry bit 1")
  }
}
