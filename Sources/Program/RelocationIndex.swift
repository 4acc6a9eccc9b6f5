import ELF

/// The relocations of an object's code sections, each section's sorted by
/// offset: the one relocation lookup of the program (objtool's `find_reloc_by_dest_range()`).
public struct RelocationIndex: Sendable {
  /// Per section (by index, empty but for code sections): its relocations in offset order
  /// (file order among equal offsets). An array, not a dictionary: every branch and call
  /// looks its relocation up here.
  let bySection: [[Relocation]]
  /// Per section, parallel to `bySection`: each relocation's `.rela` section and entry index.
  let entries: [[(relocationSection: Int32, index: Int32)]]

  /// The index of an object's relocations against its executable sections (empty for a
  /// linked image: its branches are resolved, and `--emit-relocs` copies are not needed).
  public init(file: ELFFile) throws(ELFError) {
    var bySection = [[Relocation]](repeating: [], count: file.sections.count)
    var entries = [[(relocationSection: Int32, index: Int32)]](repeating: [], count: file.sections.count)
    for s in file.sections where s.type == .rela && file.fileType == .relocatable {
      let target = Int(s.info)
      guard target < file.sections.count, file.sections[target].flags.contains(.execInstr) else { continue }
      let table = try file.relocations(s)
      var relocations: [Relocation] = []
      relocations.reserveCapacity(table.count)
      var ascending = true
      for k in 0..<table.count {
        let r = table[k]
        if let last = relocations.last, r.offset < last.offset { ascending = false }
        relocations.append(r)
      }
      // The assembler writes relocations in fixup order, which is not always ascending.
      if ascending {
        bySection[target] += relocations
        entries[target] += (0..<relocations.count).map { (Int32(s.index), Int32($0)) }
      } else {
        let order = Array(0..<relocations.count).mergeSorted {
          (relocations[$0].offset, $0) < (relocations[$1].offset, $1)
        }
        bySection[target] += order.map { relocations[$0] }
        entries[target] += order.map { (Int32(s.index), Int32($0)) }
      }
    }
    self.bySection = bySection
    self.entries = entries
  }

  /// The first relocation whose offset lies in `range` of `section` (`insn_reloc()`: the
  /// relocation inside an instruction's bytes).
  public func first(in section: Int, _ range: Range<UInt64>) -> Relocation? {
    guard section >= 0 && section < bySection.count else { return nil }
    let k = bySection[section].partitioningIndex { $0.offset >= range.lowerBound }
    return k < bySection[section].count && bySection[section][k].offset < range.upperBound
      ? bySection[section][k] : nil
  }

  /// Where the relocation `first(in:_:)` finds is stored: its `.rela` section and entry index
  /// (what `elf_write_reloc()` rewrites).
  public func firstEntry(in section: Int, _ range: Range<UInt64>) -> (relocationSection: Int, index: Int)? {
    guard section >= 0 && section < bySection.count else { return nil }
    let rels = bySection[section]
    let k = rels.partitioningIndex { $0.offset >= range.lowerBound }
    guard k < rels.count && rels[k].offset < range.upperBound else { return nil }
    return (Int(entries[section][k].relocationSection), Int(entries[section][k].index))
  }

  /// Every relocation whose offset lies in `range` of `section`, in offset order.
  public func all(in section: Int, _ range: Range<UInt64>) -> ArraySlice<Relocation> {
    guard section >= 0 && section < bySection.count else { return [] }
    let rels = bySection[section]
    let lower = rels.partitioningIndex { $0.offset >= range.lowerBound }
    let upper = rels[lower...].partitioningIndex { $0.offset >= range.upperBound }
    return rels[lower..<upper]
  }

  /// The relocation at exactly `offset` of `section`.
  public func at(_ section: Int, _ offset: UInt64) -> Relocation? {
    first(in: section, offset..<offset &+ 1)
  }
}
