import Program

/// Seed 000's flattening (`propagate_alt_cfi()`, `alt_group->cfi`): every
/// stream of an alternative site writes the CFI at each of its instruction
/// boundaries into one byte-offset array of the original's length; the ORC of
/// the site is that array. Two streams that bring different states to one
/// shared boundary are a "stack layout conflict in alternatives".
struct AlternativeFlattening {
  let groups: [AltGroup]
  /// Per original group: the interned CFI at each byte offset (-1: no boundary),
  /// and the instruction that recorded it.
  var cfi: [Int: [Int32]] = [:]
  var recordedBy: [Int: [Int32]] = [:]

  init(groups: [AltGroup]) { self.groups = groups }

  /// Records `state` at instruction `i` (of group `g`) at its offset of the site;
  /// returns the instruction that recorded a different state there (a conflict), else nil.
  mutating func record(_ state: Int32, at i: Int, group g: Int, table: InstructionTable) -> Int? {
    let group = groups[g]
    let storage = group.original ?? g
    let slot = Int(table.offset[i]) - Int(table.offset[group.first])
    var array = cfi[storage] ?? Array(repeating: -1, count: groups[storage].length)
    guard slot >= 0 && slot < array.count else { return nil }
    if array[slot] < 0 {
      array[slot] = state
      cfi[storage] = array
      var by = recordedBy[storage] ?? Array(repeating: -1, count: array.count)
      by[slot] = Int32(i)
      recordedBy[storage] = by
      return nil
    }
    if array[slot] != state { return Int(recordedBy[storage]?[slot] ?? Int32(i)) }
    return nil
  }

  /// The flattened CFI of original group `g` (empty when no path reached it).
  func slots(of g: Int) -> [Int32] { cfi[g] ?? [] }
}
