import ELF
import ORC

/// Writes generated ORC into an object as objtool does (`orc_create()`):
/// `.orc_unwind` (the entries), `.orc_unwind_ip` (a 32-bit slot per entry)
/// and `.rela.orc_unwind_ip` (an `R_X86_64_PC32` per slot against the code
/// section's symbol, addend the instruction's offset).
public enum ORCWriter {
  /// The object's bytes with the ORC sections added.
  public static func bytes(
    of file: ELFFile, entries: [(section: Int, offset: UInt64, entry: ORCEntry)],
    layout: ORCLayout
  ) throws(ELFError) -> [UInt8] {
    if file.section(named: ".orc_unwind") != nil || file.section(named: ".orc_unwind_ip") != nil {
      throw ELFError(
        .objtool(place: "", message: "file already has .orc_unwind section, skipping"), path: file.path,
        offset: 0)
    }
    guard let symtab = try file.symbolTable() else {
      throw ELFError(.missingSection(".symtab"), path: file.path, offset: 0)
    }
    // The STT_SECTION symbol of each code section; one is made where the assembler left none.
    var sectionSymbol: [Int: Int] = [:]
    for i in 0..<symtab.count {
      let s = try symtab.symbol(at: i)
      if s.type == .section && sectionSymbol[s.sectionIndex] == nil { sectionSymbol[s.sectionIndex] = i }
    }
    var replacing: [SectionReplacement] = []
    var missing: [Int] = []
    for e in entries where sectionSymbol[e.section] == nil && missing.last != e.section && !missing.contains(e.section)
    {
      missing.append(e.section)
    }
    if !missing.isEmpty {
      let made = try SectionSymbols.create(for: missing, in: file, symtab: symtab.section)
      replacing = made.replacements
      for (section, index) in made.symbols { sectionSymbol[section] = index }
    }
    var orc: [UInt8] = []
    var rela: [UInt8] = []
    orc.reserveCapacity(entries.count * ORCLayout.entrySize)
    rela.reserveCapacity(entries.count * RelocationTable.entrySize)
    func append<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { rela += $0 } }
    for (i, e) in entries.enumerated() {
      orc += layout.encode(e.entry)
      guard let sym = sectionSymbol[e.section] else {
        throw ELFError(
          .objtool(place: "", message: "missing symbol for insn at offset 0x\(String(e.offset, radix: 16))"),
          path: file.path, offset: 0)
      }
      append(UInt64(i * 4))
      append(UInt64(sym) << 32 | UInt64(X86RelocationType.pc32.rawValue))
      append(Int64(bitPattern: e.offset))
    }
    return try file.appending(
      [
        NewSection(
          name: ".orc_unwind", type: .progbits, flags: .alloc, alignment: 1,
          entrySize: UInt64(ORCLayout.entrySize), data: orc),
        NewSection(
          name: ".orc_unwind_ip", type: .progbits, flags: .alloc, alignment: 1, entrySize: 4,
          data: [UInt8](repeating: 0, count: entries.count * 4)),
        NewSection(
          name: ".rela.orc_unwind_ip", type: .rela, flags: .infoLink, link: UInt32(symtab.section.index),
          info: UInt32.max - 1, alignment: 8, entrySize: UInt64(RelocationTable.entrySize), data: rela),
      ], replacing: replacing)
  }
}
