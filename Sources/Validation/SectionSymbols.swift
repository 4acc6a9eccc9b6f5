import ELF

/// `elf_create_section_symbol()`: a code section that needs relocations against it
/// (`.rela.orc_unwind_ip`) but has no `STT_SECTION` symbol (GNU as leaves out the
/// ones nothing refers to) gets one, as objtool makes it: a local symbol (name 0,
/// value 0, size 0) at the symbol table's first non-local index (`sh_info`); the
/// global symbol there moves to the end of the table, every relocation that names
/// it follows it, and `sh_info` grows by one.
enum SectionSymbols {
  static let entrySize = 24

  /// The new symbol index of each section in `sections`, where each moved symbol went
  /// (by its old index), and the rewritten symbol table (and `.symtab_shndx`) and
  /// relocation sections. `contents` gives a section's bytes where they differ from the
  /// file's (relocations already voided); such a relocation section is among the
  /// replacements whether or not a symbol it names moved.
  static func create(
    for sections: [Int], in file: ELFFile, symtab: Section, contents overrides: [Int: [UInt8]] = [:]
  ) throws(ELFError) -> (symbols: [Int: Int], moved: [Int: Int], replacements: [SectionReplacement]) {
    var table = [UInt8](file.contents(of: symtab).bytes)
    guard table.count % entrySize == 0 else {
      throw ELFError(
        .badSectionSize(section: symtab.name, size: symtab.size, entrySize: UInt64(entrySize)), path: file.path,
        offset: symtab.offset)
    }
    let shndxSection = file.sections.first { $0.type == .symtabShndx && Int($0.link) == symtab.index }
    var shndx = shndxSection.map { [UInt8](file.contents(of: $0).bytes) }
    var firstNonLocal = Int(symtab.info)
    var moved: [Int: Int] = [:]
    var made: [Int: Int] = [:]
    for section in sections {
      let count = table.count / entrySize
      var entry = [UInt8](repeating: 0, count: entrySize)
      entry[4] = 0x03  // STB_LOCAL << 4 | STT_SECTION
      var extended: UInt32 = 0
      if section >= Int(SpecialSectionIndex.loReserve) {
        guard shndx != nil else {
          throw ELFError(
            .malformed("section \(section) needs SHN_XINDEX but the file has no .symtab_shndx"), path: file.path,
            offset: symtab.offset)
        }
        entry[6] = 0xff
        entry[7] = 0xff
        extended = UInt32(section)
      } else {
        entry[6] = UInt8(section & 0xff)
        entry[7] = UInt8(section >> 8)
      }
      var index = count
      if firstNonLocal < count {
        // The first global moves to the end; the new local takes its place.
        let old = Array(table[(firstNonLocal * entrySize)..<((firstNonLocal + 1) * entrySize)])
        table += old
        table.replaceSubrange((firstNonLocal * entrySize)..<((firstNonLocal + 1) * entrySize), with: entry)
        if shndx != nil {
          let o = firstNonLocal * 4
          shndx! += Array(shndx![o..<(o + 4)])
          withUnsafeBytes(of: extended.littleEndian) { shndx!.replaceSubrange(o..<(o + 4), with: $0) }
        }
        // By original index: a symbol moved earlier in this loop may move again.
        if let from = moved.first(where: { $0.value == firstNonLocal })?.key {
          moved[from] = count
        } else {
          moved[firstNonLocal] = count
        }
        index = firstNonLocal
      } else {
        table += entry
        if shndx != nil { withUnsafeBytes(of: extended.littleEndian) { shndx! += $0 } }
      }
      firstNonLocal += 1
      made[section] = index
    }
    var replacements = [SectionReplacement(index: symtab.index, data: table, info: UInt32(firstNonLocal))]
    if let s = shndxSection, let data = shndx { replacements.append(SectionReplacement(index: s.index, data: data)) }
    // Relocations naming a moved symbol follow it.
    for s in file.sections where s.type == .rela && Int(s.link) == symtab.index {
      if moved.isEmpty && overrides[s.index] == nil { continue }
      var data = overrides[s.index] ?? [UInt8](file.contents(of: s).bytes)
      var changed = overrides[s.index] != nil
      var o = 0
      while o + 24 <= data.count {
        let info = data[(o + 8)..<(o + 16)].enumerated().reduce(UInt64(0)) {
          $0 | UInt64($1.element) << (8 * $1.offset)
        }
        if let to = moved[Int(info >> 32)] {
          let new = UInt64(to) << 32 | (info & 0xffff_ffff)
          withUnsafeBytes(of: new.littleEndian) { data.replaceSubrange((o + 8)..<(o + 16), with: $0) }
          changed = true
        }
        o += 24
      }
      if changed { replacements.append(SectionReplacement(index: s.index, data: data)) }
    }
    return (made, moved, replacements)
  }
}
