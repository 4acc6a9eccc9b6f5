import ELF
import Kernel

/// objtool's symbol and relocation lookups the passes share beyond functions
/// (tools/objtool/elf.c).
extension Program {
  /// The relocation section of section `base` (objtool's `sec->reloc`: the last `SHT_RELA`
  /// whose `sh_info` names it), if any.
  public func relocationSection(for base: Int) -> Section? {
    file.sections.last { $0.type == .rela && Int($0.info) == base }
  }

  /// A symbol's offset in its section (`sym->offset`): its value in an object, the value
  /// less the section's address in a linked image.
  public func symbolOffset(_ s: Symbol) -> UInt64 {
    isLinked && s.sectionIndex < file.sections.count ? s.value &- file.sections[s.sectionIndex].address : s.value
  }

  /// `find_symbol_by_offset()` for every place: the sized symbol other than a section's
  /// that starts there, the first in the symbol table.
  public func symbolsByPlace() throws(ELFError) -> [SectionPlace: Symbol] {
    var map: [SectionPlace: Symbol] = [:]
    for k in 0..<symbols.count {
      let s = try symbols.symbol(at: k)
      guard s.type != .section, s.isDefined, s.size > 0, s.sectionIndex < file.sections.count else { continue }
      let place = SectionPlace(section: s.sectionIndex, offset: symbolOffset(s))
      if map[place] == nil { map[place] = s }
    }
    return map
  }
}
