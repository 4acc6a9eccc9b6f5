import ELF
import Kernel
import TestSupport
import Testing

@Suite("struct unwind_hint per generation")
struct UnwindHintTests {
  @Test("both layouts are 12 bytes; the third byte is end in 6.1, signal in 6.12")
  func layouts() {
    let a = UnwindHintLayout.of(.v6_1)
    let b = UnwindHintLayout.of(.v6_12)
    #expect(a.entrySize == 12 && b.entrySize == 12)
    #expect([a.ipOffset, a.spOffsetOffset, a.spRegOffset, a.typeOffset, a.flagOffset] == [0, 4, 6, 7, 8])
    #expect([b.ipOffset, b.spOffsetOffset, b.spRegOffset, b.typeOffset, b.flagOffset] == [0, 4, 6, 7, 8])
    #expect(a.flagName == "end" && b.flagName == "signal")
  }

  @Test("UNWIND_HINT_TYPE_* numbers of each generation")
  func kinds() {
    #expect(UnwindHintKind(raw: 0, generation: .v6_1) == .call)
    #expect(UnwindHintKind(raw: 4, generation: .v6_1) == .entry)
    #expect(UnwindHintKind(raw: 7, generation: .v6_1) == nil)
    #expect(UnwindHintKind(raw: 0, generation: .v6_12) == .undefined)
    #expect(UnwindHintKind(raw: 7, generation: .v6_12) == .restore)
    #expect(UnwindHintKind(raw: 8, generation: .v6_12) == nil)
    #expect(UnwindHintKind.entry.rawValue(in: .v6_12) == nil)
    #expect(UnwindHintKind.endOfStack.rawValue(in: .v6_1) == nil)
    for g in KernelGeneration.allCases {
      for k in UnwindHintKind.allCases {
        if let raw = k.rawValue(in: g) { #expect(UnwindHintKind(raw: raw, generation: g) == k) }
      }
    }
  }

  @Test("6.1 hints: place through the relocation, sp, type, end")
  func read61() throws {
    let file = try ELFFile(path: try Fixtures.assemble("unwind_hints61.S"))
    let table = try UnwindHintTable(file: file, generation: .v6_1)
    let text = try #require(file.section(named: ".text")).index
    #expect(table.hasSection)
    #expect(table.entries.map(\.place) == (0..<8).map { SectionPlace(section: text, offset: UInt64($0)) })
    #expect(table.entries.map(\.kind) == [.call, .regs, .regsPartial, .function, .entry, .save, .restore, nil])
    #expect(table.entries.map(\.rawType) == [0, 1, 2, 3, 4, 5, 6, 9])
    #expect(table.entries.map(\.spOffset) == [0, 168, 0, 8, -8, 0, 0, 16])
    #expect(table.entries.map(\.spReg) == [0, 5, 5, 5, 4, 0, 0, 9])
    #expect(table.entries.map(\.end) == [true, false, false, false, false, false, false, false])
    #expect(table.entries.allSatisfy { !$0.signal })
    #expect(table.entries.map(\.index) == Array(0..<8))
  }

  @Test("6.12 hints: UNDEFINED, END_OF_STACK and the signal byte")
  func read612() throws {
    let file = try ELFFile(path: try Fixtures.assemble("unwind_hints612.S"))
    let table = try UnwindHintTable(file: file, generation: .v6_12)
    let text = try #require(file.section(named: ".text")).index
    #expect(table.entries.map(\.place) == (0..<8).map { SectionPlace(section: text, offset: UInt64($0)) })
    #expect(
      table.entries.map(\.kind)
        == [.undefined, .endOfStack, .call, .regs, .regsPartial, .function, .save, .restore])
    #expect(table.entries.map(\.signal) == [false, false, false, true, true, false, false, false])
    #expect(table.entries.allSatisfy { !$0.end })
    #expect(table.entries[3].spOffset == 168 && table.entries[3].spReg == 5)
  }

  @Test("no section: no hints, and no file->hints")
  func none() throws {
    let table = try UnwindHintTable(file: try ELFFile(path: try Fixtures.assemble("minimal.S")), generation: .v6_1)
    #expect(!table.hasSection && table.entries.isEmpty)
  }

  @Test("a size that is no multiple of 12 is objtool's size mismatch, at the section header")
  func sizeMismatch() throws {
    let path = try Fixtures.assemble("hintsize.S", source: ".text\nf: ret\n.section .discard.unwind_hints\n.long 0\n")
    let file = try ELFFile(path: path)
    let header = try #require(file.section(named: ".discard.unwind_hints")).headerOffset
    #expect(
      throws: ELFError(
        .objtool(place: "", message: "struct unwind_hint size mismatch"), path: path,
        offset: header)
    ) {
      try UnwindHintTable(file: file, generation: .v6_12)
    }
  }

  @Test("an entry without a relocation is objtool's can't find reloc, at the entry")
  func missingReloc() throws {
    let path = try Fixtures.assemble(
      "hintreloc.S",
      source: """
        .text
        f: ret
        .section .discard.unwind_hints
        .long f - .
        .short 0
        .byte 5, 2, 0
        .balign 4
        .long 0
        .short 0
        .byte 5, 2, 0
        .balign 4
        """)
    let file = try ELFFile(path: path)
    let section = try #require(file.section(named: ".discard.unwind_hints"))
    #expect(
      throws: ELFError(
        .objtool(place: "", message: "can't find reloc for unwind_hints[1]"), path: path,
        offset: section.offset + 12)
    ) {
      try UnwindHintTable(file: file, generation: .v6_1)
    }
  }

  @Test("a NOBITS section holds no entries")
  func nobits() throws {
    let path = try Fixtures.assemble(
      "hintnobits.S", source: ".text\nf: ret\n.section .discard.unwind_hints, \"\", @nobits\n.skip 24\n")
    let table = try UnwindHintTable(file: try ELFFile(path: path), generation: .v6_1)
    #expect(table.hasSection && table.entries.isEmpty)
  }
}
