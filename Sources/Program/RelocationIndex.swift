import ELF

/// The relocations of an object's code sections, each section's sorted by
/// offset: the one relocation lookup of the program (objtool's `find_reloc_by_dest_range()`).
public struct RelocationIndex: Sendable {
  /// Per code section: its relocations in offset order (file order among equal offsets).
  let bySection: [Int: [Relocation]]

  /// The index of an object's relocations against its executable sections (empty for a
  /// linked image: its branches are resolved, and `--emit-relocs` copies are not needed).
  public init(file: ELFFile) throws(ELFError) {
    var bySection: [Int: [Relocation]] = [:]
    for s in file.sections where s.type == .rela && file.fileType == .relocatable {
      let target = Int(s.info)
      guard target < file.sections.count, file.sections[target].flags.contains(.execInstr) else { continue }
      let table = try file.relocations(s)
      // The assembler writes relocations in fixup order, which is not always ascending.
      let order = (0..<table.count).sorted { (table[$0].offset, $0) < (table[$1].offset, $1) }
      bySection[target, default: []] += order.map { table[$0] }
    }
    self.bySection = bySection
  }

  /// The first relocation whose offset lies in `range` of `section` (`insn_reloc()`: the
  /// relocation inside an instruction's bytes).
  public func first(in section: Int, _ range: Range<UInt64>) -> Relocation? {
    guard let rels = bySection[section] else { return nil }
    let k = rels.partitioningIndex { $0.offset >= range.lowerBound }
    return k < rels.count && rels[k].offset < range.upperBound ? rels[k] : nil
  }

  /// The relocation at exactly `offset` of `section`.
  public func at(_ section: Int, _ offset: UInt64) -> Relocation? {
    first(in: section, offset..<offset &+ 1)
  }
}
