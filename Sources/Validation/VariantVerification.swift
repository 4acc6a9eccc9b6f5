import ELF
import Kernel
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
  /// Whether the table gives no unwind information there (its entry's sp is undefined):
  /// the unwinder stops as unreliable rather than following a wrong frame.
  public var tableUndefined = false
}

/// One site `verify-variants` checked: its variants, boundaries and mismatches.
public struct VariantSite: Sendable, Codable, Hashable {
  /// `func+0xoff`.
  public var site: String
  /// `alternative`, `paravirt` or `static key`.
  public var kind: String
  /// The variants checked there.
  public var variants: [String]
  public var boundaries = 0
  public var mismatches = 0
}

/// What `verify-variants` checked and found.
public struct VariantReport: Sendable, Codable {
  /// Alternative sites, static-key sites and paravirt sites checked.
  public var sites = 0
  public var staticKeySites = 0
  public var paravirtSites = 0
  /// Variants checked: every stream of every alternative site, each static key flipped,
  /// each paravirt rewrite.
  public var variants = 0
  /// Instruction boundaries (and stream ends, and places a stream jumps out to) compared
  /// with the table.
  public var boundaries = 0
  /// Sites validation never reached (no state to start from): not checked.
  public var unreached = 0
  /// Replacements for `!X86_FEATURE_ALWAYS`: never applied (every boot forces the feature),
  /// so not variants.
  public var neverApplied = 0
  /// Jumps out of a stream to code the table gives no unwind information for (no entry in
  /// its section at all, or an undefined one: the `.altinstr_aux` of `static_cpu_has()`,
  /// run only before the kernel patches the site): not compared, counted by section.
  public var uncovered: [String: Int] = [:]
  public var mismatches: [VariantMismatch] = []
  /// Every site checked, in the order checked.
  public var siteReports: [VariantSite] = []
  public init() {}
}

/// The ORC entries of a table by section, in offset order, for lookups by place.
public struct ORCEntriesBySection: Sendable {
  var bySection: [Int: [(offset: UInt64, entry: ORCEntry)]] = [:]

  public init(_ entries: [(section: Int, offset: UInt64, entry: ORCEntry)]) {
    for e in entries { bySection[e.section, default: []].append((e.offset, e.entry)) }
    for (s, list) in bySection { bySection[s] = list.sorted { $0.offset < $1.offset } }
  }

  /// Whether the table has any entry in `section`.
  public func covers(section: Int) -> Bool { bySection[section] != nil }

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
  public func verifyVariants(table: ORCEntriesBySection, layout: ORCLayout) throws(ELFError) -> VariantReport {
    let g = graph
    let t = g.table
    var report = VariantReport()
    var current = VariantSite(site: "", kind: "", variants: [])
    func text(_ e: ORCEntry?) -> String {
      e.map { ORCDump.registersText($0) + " type:" + layout.frameType($0.rawType).objtoolName } ?? "(none)"
    }
    func check(
      site: String, variant: String, offset: Int, section: Int, at: UInt64, needs: ORCEntry
    ) {
      report.boundaries += 1
      current.boundaries += 1
      let has = table.entry(section: section, offset: at)
      if has != needs {
        current.mismatches += 1
        report.mismatches.append(
          .init(
            site: site, variant: variant, offset: offset,
            place: g.program.functions.offstr(section: section, offset: at),
            derived: text(needs), table: text(has), tableUndefined: has?.spReg == .undefined))
      }
    }
    func begin(_ site: String, _ kind: String) { current = VariantSite(site: site, kind: kind, variants: []) }
    func end() { report.siteReports.append(current) }
    /// The first instruction after `length` bytes from instruction `i` (where every
    /// variant of a site of that length continues), if validation reached it.
    func after(_ i: Int, length: Int) -> Int? {
      let base = UInt64(t.offset[i])
      var a: Int? = i
      while let k = a, t.section[k] == t.section[i], UInt64(t.offset[k]) < base + UInt64(length) { a = t.next(k) }
      guard let k = a, t.section[k] == t.section[i], state(at: k) != nil, !g.isHint[k] else { return nil }
      return k
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
      begin(site, "alternative")
      var streams: [(label: String, group: AltGroup, index: Int)] = [("original", group, gi)]
      var n = 0
      for (r, rg) in g.alternatives.groups.enumerated() where rg.original == gi {
        n += 1
        var label = "replacement \(n)"
        if let e = g.alternatives.entry[r] {
          if e.inverted && e.cpuFeature == .always {
            report.neverApplied += 1
            continue
          }
          label += " (\(e.inverted ? "!" : "")\(e.cpuFeature.name(in: g.generation) ?? "feature \(e.feature)"))"
        }
        streams.append((label, rg, r))
      }
      // The code after the site, where every variant continues.
      let next = after(group.first, length: group.length)
      for (label, stream, index) in streams {
        report.variants += 1
        current.variants.append(label)
        // Every path through the stream: its branches inside it followed, a jump out of
        // it checked where it lands, a path that falls off its end checked after the site.
        var pending: [(Int, CFIState)] = [(stream.first, start)]
        var seen = Set<Int>()
        while let (first, state0) = pending.popLast() {
          var i = first
          var s = state0
          while seen.insert(i).inserted {
            // An unwind hint sets the state, as validation does (UNWIND_HINT in entry code).
            if i < t.decodedCount && g.isHint[i], let hinted = state(at: i) { s = hinted }
            let offset = Int(t.offset[i]) - Int(t.offset[stream.first])
            check(
              site: site, variant: label, offset: offset, section: section, at: base + UInt64(offset),
              needs: ORCEntry(cfi: s, layout: layout))
            if !derive(&s, through: i) { break }
            let type = g.type[i]
            if type == .jumpConditional || type == .jumpUnconditional, g.jumpDest[i] >= 0 {
              let d = Int(g.jumpDest[i])
              if d < g.alternatives.group.count && Int(g.alternatives.group[d]) == index {
                pending.append((d, s))
              } else if !table.covers(section: Int(t.section[d]))
                || (table.entry(section: Int(t.section[d]), offset: UInt64(t.offset[d]))?.spReg == .undefined
                  && ORCEntry(cfi: s, layout: layout).spReg != .undefined)
              {
                report.uncovered[g.program.file.sections[Int(t.section[d])].name, default: 0] += 1
              } else if state(at: d) != nil && !g.isHint[d] {
                check(
                  site: site, variant: label, offset: offset, section: Int(t.section[d]),
                  at: UInt64(t.offset[d]), needs: ORCEntry(cfi: s, layout: layout))
              }
            }
            if type == .return || type == .jumpUnconditional || type == .jumpDynamic || g.isDeadEnd(i) { break }
            if i == stream.last {
              // Where the variant falls through: the instruction after the site.
              if let a = next {
                check(
                  site: site, variant: label, offset: group.length, section: section, at: UInt64(t.offset[a]),
                  needs: ORCEntry(cfi: s, layout: layout))
              }
              break
            }
            guard let k = nextToValidate(i) else { break }
            i = k
          }
        }
      }
      end()
    }
    // Static keys: flipped, the site goes the other way with its own state.
    for (i, kinds) in g.altKinds.sorted(by: { $0.key < $1.key }) where kinds.contains(.staticKey) {
      guard let s = state(at: i) else { continue }
      report.staticKeySites += 1
      begin(g.offstr(i), "static key")
      for (k, target) in (g.alts[i] ?? []).enumerated() where kinds[k] == .staticKey {
        report.variants += 1
        current.variants.append("static key flipped")
        check(
          site: g.offstr(i), variant: "static key flipped", offset: 0, section: Int(t.section[target]),
          at: UInt64(t.offset[target]), needs: ORCEntry(cfi: s, layout: layout))
      }
      end()
    }
    // Paravirt rewrites: a direct call and NOPs over the whole site (6.1's apply_paravirt()
    // for any pv_ops target, _paravirt_nop's NOPs; 6.12's ALT_FLAG_DIRECT_CALL to nop_func).
    // A call leaves the caller's state as it was: every boundary needs the site's state.
    for (place, length) in try paravirtRewriteSites() {
      guard let i = t.instruction(in: place.section, at: place.offset) else { continue }
      report.paravirtSites += 1
      guard let s = state(at: i) else {
        report.unreached += 1
        continue
      }
      let site = g.offstr(i)
      begin(site, "paravirt")
      let needs = ORCEntry(cfi: s, layout: layout)
      let next = after(i, length: length)
      let rewrites: [(label: String, boundaries: [Int])] = [
        ("direct call", length > 5 ? [0, 5] : [0]), ("nops", [0]),
      ]
      for (label, boundaries) in rewrites {
        report.variants += 1
        current.variants.append(label)
        for b in boundaries {
          check(
            site: site, variant: label, offset: b, section: place.section, at: place.offset + UInt64(b), needs: needs)
        }
        if let a = next {
          check(
            site: site, variant: label, offset: length, section: place.section, at: UInt64(t.offset[a]),
            needs: needs)
        }
      }
      end()
    }
    return report
  }

  /// The sites the kernel rewrites to a direct call or NOPs, with their lengths: 6.1's
  /// `.parainstructions`, 6.12's `ALT_FLAG_DIRECT_CALL` alternatives.
  func paravirtRewriteSites() throws(ELFError) -> [(SectionPlace, Int)] {
    let file = graph.program.file
    switch graph.generation {
    case .v6_1:
      return try ParavirtSites(file: file).sites.map { ($0.instruction, $0.length) }
    case .v6_12:
      var seen = Set<SectionPlace>()
      return try AlternativesTable(file: file, generation: .v6_12).entries.compactMap { e in
        e.directCall && seen.insert(e.instruction).inserted ? (e.instruction, e.instructionLength) : nil
      }
    }
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
