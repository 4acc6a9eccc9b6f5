import ELF
import ORC
import Program

/// One checked boundary where the ORC table disagrees with the code a variant runs.
public struct VariantMismatch: Sendable, Codable, Hashable {
  /// The site (`func+0xoff`).
  public var site: String
  /// The variant: `original`, `replacement N (FEATURE)`, `static key flipped`, ….
  public var variant: String
  /// The byte offset in the site (or, for a static key, the place the flipped site goes to).
  public var offset: Int
  public var place: String
  /// The ORC entry the variant's code needs there, derived from its instructions.
  public var derived: String
  /// The entry the table gives there.
  public var table: String
}

/// What `verify-variants` checked and found.
public struct VariantReport: Sendable, Codable {
  /// Alternative sites, and static-key sites, checked.
  public var sites = 0
  public var staticKeySites = 0
  /// Variants checked: every stream of every alternative site, and each static key flipped.
  public var variants = 0
  /// Instruction boundaries (and stream ends) compared with the table.
  public var boundaries = 0
  /// Sites validation never reached (no state to start from): not checked.
  public var unreached = 0
  public var mismatches: [VariantMismatch] = []
  public init() {}
}

/// The ORC entries of a table by section, in offset order, for lookups by place.
public struct ORCEntriesBySection: Sendable {
  var bySection: [Int: [(offset: UInt64, entry: ORCEntry)]] = [:]

  public init(_ entries: [(section: Int, offset: UInt64, entry: ORCEntry)]) {
    for e in entries { bySection[e.section, default: []].append((e.offset, e.entry)) }
    for (s, list) in bySection { bySection[s] = list.sorted { $0.offset < $1.offset } }
  }

  /// The entry in effect at `offset` of `section`: the last one at or before it.
  public func entry(section: Int, offset: UInt64) -> ORCEntry? {
    guard let list = bySection[section] else { return nil }
    let k = list.partitioningIndex { $0.offset > offset }
    return k > 0 ? list[k - 1].entry : nil
  }
}

extension Validator {
  /// Checks `table` against every variant the code can become, after `run()`: for each
  /// alternative site, each stream (the original and every replacement, placed at the
  /// site and padded with NOPs) is run as straight-line code from the state validation
  /// found before the site, with no knowledge of the other streams; at each of its
  /// instruction boundaries, and where it ends, the entry the table gives for that
  /// address must be the entry the derived state needs. A static-key site flipped
  /// must find at the place it then goes to the entry of its own state. Sites are
  /// independent: the work is linear in the streams' instructions.
  public func verifyVariants(table: ORCEntriesBySection, layout: ORCLayout) -> VariantReport {
    let g = graph
    let t = g.table
    var report = VariantReport()
    func text(_ e: ORCEntry?) -> String {
      e.map { ORCDump.registersText($0) + " type:" + layout.frameType($0.rawType).objtoolName } ?? "(none)"
    }
    func check(
      site: String, variant: String, offset: Int, section: Int, at: UInt64, needs: ORCEntry
    ) {
      report.boundaries += 1
      let has = table.entry(section: section, offset: at)
      if has != needs {
        report.mismatches.append(
          .init(
            site: site, variant: variant, offset: offset,
            place: g.program.functions.offstr(section: section, offset: at),
            derived: text(needs), table: text(has)))
      }
    }
    for (gi, group) in g.alternatives.groups.enumerated() where group.original == nil {
      report.sites += 1
      guard let start = state(at: group.first) else {
        report.unreached += 1
        continue
      }
      let section = Int(t.section[group.first])
      let base = UInt64(t.offset[group.first])
      let site = g.offstr(group.first)
      var streams: [(label: String, group: AltGroup)] = [("original", group)]
      var n = 0
      for (r, rg) in g.alternatives.groups.enumerated() where rg.original == gi {
        n += 1
        var label = "replacement \(n)"
        if let e = g.alternatives.entry[r] {
          label += " (\(e.inverted ? "!" : "")\(e.cpuFeature.name(in: g.generation) ?? "feature \(e.feature)"))"
        }
        streams.append((label, rg))
      }
      // The code after the site, where every variant continues.
      var after: Int? = group.last
      while let a = after, UInt64(t.offset[a]) < base + UInt64(group.length) { after = t.next(a) }
      for (label, stream) in streams {
        report.variants += 1
        var s = start
        var i = stream.first
        var ended = false
        while true {
          // An unwind hint sets the state, as validation does (UNWIND_HINT in entry code).
          if i < t.decodedCount && g.isHint[i], let hinted = state(at: i) { s = hinted }
          let offset = Int(t.offset[i]) - Int(t.offset[stream.first])
          check(
            site: site, variant: label, offset: offset, section: section, at: base + UInt64(offset),
            needs: ORCEntry(cfi: s, layout: layout))
          if !derive(&s, through: i) {
            ended = true
            break
          }
          let type = g.type[i]
          if type == .return || type == .jumpUnconditional || type == .jumpDynamic || g.isDeadEnd(i) {
            ended = true
            break
          }
          if i == stream.last { break }
          guard let next = nextToValidate(i) else { break }
          i = next
        }
        // Where the variant falls through: the instruction after the site.
        if !ended, let a = after, t.section[a] == t.section[group.first], state(at: a) != nil, !g.isHint[a] {
          check(
            site: site, variant: label, offset: group.length, section: section, at: UInt64(t.offset[a]),
            needs: ORCEntry(cfi: s, layout: layout))
        }
      }
    }
    // Static keys: flipped, the site goes the other way with its own state.
    for (i, kinds) in g.altKinds.sorted(by: { $0.key < $1.key }) where kinds.contains(.staticKey) {
      guard let s = state(at: i) else { continue }
      report.staticKeySites += 1
      for (k, target) in (g.alts[i] ?? []).enumerated() where kinds[k] == .staticKey {
        report.variants += 1
        check(
          site: g.offstr(i), variant: "static key flipped", offset: 0, section: Int(t.section[target]),
          at: UInt64(t.offset[target]), needs: ORCEntry(cfi: s, layout: layout))
      }
    }
    return report
  }

  /// Applies instruction `i`'s stack operations to `s`; false when one cannot be applied.
  func derive(_ s: inout CFIState, through i: Int) -> Bool {
    let g = graph
    let next = nextToValidate(i)
    for op in g.ops(i) {
      if s.type == 1 || s.type == 2 {
        s.applyToRegisterFrame(op)
        continue
      }
      do {
        try s.apply(
          op, inFunction: g.table.function[i] >= 0, nextIsHint: next.map { g.isHint[$0] } ?? false,
          stackValidation: stackValidation)
      } catch {
        return false
      }
    }
    return true
  }
}
