import ORC
import Program

extension Validator {
  /// `orc_create()` (tools/objtool/orc_gen.c): per text section in index order,
  /// one entry where the ORC changes and a terminator at the section's end; an
  /// alternative site contributes its flattened byte-offset CFI. Each entry is
  /// computed by `ORCEntry(cfi:layout:)` (`init_orc_entry()`).
  public func orcEntries(layout: ORCLayout) -> [(section: Int, offset: UInt64, entry: ORCEntry)] {
    let g = graph
    let t = g.table
    // The entry of each distinct state, computed once: instructions share a few states.
    let entryOfState = states.map { ORCEntry(cfi: $0, layout: layout) }
    let unreached = ORCEntry(cfi: nil, layout: layout)
    var out: [(Int, UInt64, ORCEntry)] = []
    for (s, text) in t.codeSections where text {
      guard let range = t.sectionRange[s] else { continue }
      var prev = ORCEntry.empty
      var empty = true
      var i = range.lowerBound
      while i < range.upperBound {
        let gi = Int(g.alternatives.group[i])
        if gi >= 0 && g.alternatives.groups[gi].original == nil {
          // An alternative site: the flattened byte-offset CFI of all its streams.
          let group = g.alternatives.groups[gi]
          for (k, id) in flattening.slots(of: gi).enumerated() where id >= 0 {
            let e = entryOfState[Int(id)]
            if e == prev { continue }
            out.append((s, UInt64(t.offset[group.first]) + UInt64(k), e))
            prev = e
            empty = false
          }
          i = group.last + 1
          continue
        }
        let e = cfi[i] >= 0 ? entryOfState[Int(cfi[i])] : unreached
        i += 1
        if e == prev { continue }
        out.append((s, UInt64(t.offset[i - 1]), e))
        prev = e
        empty = false
      }
      if !empty { out.append((s, g.program.file.sections[s].size, .empty)) }
    }
    return out
  }
}
