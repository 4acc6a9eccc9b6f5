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
  /// Per original group, its last replacement in `.altinstructions` order.
  let lastReplacement: [Int: Int]
  /// The sites where a conflict was reported.
  var reported = Set<Int>()

  init(groups: [AltGroup]) {
    self.groups = groups
    var last: [Int: Int] = [:]
    for (g, group) in groups.enumerated() {
      if let o = group.original { last[o] = max(last[o] ?? g, g) }
    }
    lastReplacement = last
  }

  /// Whether objtool 6.1 sees a conflict between streams of groups `a` and `b` of one site.
  /// It keeps one CFI array per `.altinstructions` entry, shared by the entry's replacement
  /// and the original, whose instructions point at the array of the site's last entry
  /// (`handle_group_alt()` sets `orig_insn->alt_group` entry by entry): it compares the
  /// original with the last entry's replacement, and a stream with itself, and nothing else.
  func objtool61Sees(_ a: Int, _ b: Int) -> Bool {
    if a == b { return true }
    let (ga, gb) = (groups[a], groups[b])
    switch (ga.original, gb.original) {
    case (nil, nil): return true
    case (nil, let site?): return lastReplacement[site] == b
    case (let site?, nil): return lastReplacement[site] == a
    default: return false
    }
  }

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
