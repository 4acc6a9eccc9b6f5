import ELF
import Kernel
import ORC
import Program
import X86

/// One alternative site with its streams side by side and the CFI at each
/// byte offset of each stream (seed 000's table, from the validated code).
public struct AlternativeSite: Sendable, Codable {
  /// One instruction of a stream.
  public struct Step: Sendable, Codable {
    public var offset: Int
    public var text: String
    /// The CFI before the instruction, as ORC prints it (`sp:sp+16 bp:(und)`), or nil when not reached.
    public var cfi: String?
  }
  /// The original code or one replacement; or the other way the site can go (a static
  /// key's jump or NOP, an exception fixup): then `target` is where it continues, and
  /// `steps` are the first instructions there (offsets from the target).
  public struct Stream: Sendable, Codable {
    public var label: String
    public var steps: [Step]
    public var target: String? = nil
  }
  /// One byte offset of the flattened table.
  public struct Boundary: Sendable, Codable {
    public var offset: Int
    /// The distinct states the streams bring here; more than one is a conflict.
    public var states: [String]
    /// The streams with an instruction boundary here.
    public var streams: [String]
  }
  public var site: String
  /// What patches or redirects the site: `alternative`, `static key`, `exception fixup`
  /// (several, comma-separated, when one instruction is more than one).
  public var kind: String = "alternative"
  public var length: Int
  public var streams: [Stream]
  public var boundaries: [Boundary]
  public var hasConflict: Bool { boundaries.contains { $0.states.count > 1 } }
}

extension Validator {
  /// Every alternative site (optionally of function `function`), after `run()`.
  public func alternativeSites(function: String? = nil, layout: ORCLayout) -> [AlternativeSite] {
    let g = graph
    let t = g.table
    func cfiText(_ i: Int) -> String? {
      state(at: i).map { ORCDump.registersText(ORCEntry(cfi: $0, layout: layout)) }
    }
    func steps(_ group: AltGroup) -> [AlternativeSite.Step] {
      var out: [AlternativeSite.Step] = []
      var i = group.first
      while true {
        let text = instructionText(i)
        out.append(.init(offset: Int(t.offset[i]) - Int(t.offset[group.first]), text: text, cfi: cfiText(i)))
        if i == group.last { break }
        guard let n = nextToValidate(i) else { break }
        i = n
      }
      return out
    }
    var sites: [AlternativeSite] = []
    for (gi, group) in g.alternatives.groups.enumerated() where group.original == nil {
      let first = t.place(group.first)
      if let function, g.program.functions.function(containing: first.offset, in: first.section)?.name != function {
        continue
      }
      var streams = [AlternativeSite.Stream(label: "original", steps: steps(group))]
      var n = 0
      for (r, rg) in g.alternatives.groups.enumerated() where rg.original == gi {
        n += 1
        var label = "replacement \(n)"
        if let e = g.alternatives.entry[r] {
          // The feature's name in the file's generation (`X86_FEATURE_ERMS`), its number when it has none.
          let name = e.cpuFeature.name(in: g.generation) ?? "feature \(e.feature)"
          label += " (\(e.inverted ? "!" : "")\(name))"
        }
        streams.append(.init(label: label, steps: steps(rg)))
      }
      let kinds = ["alternative"] + otherWays(group.first, into: &streams)
      var byOffset: [Int: (states: [String], streams: [String])] = [:]
      for s in streams where s.target == nil {
        for step in s.steps {
          var b = byOffset[step.offset] ?? ([], [])
          if let c = step.cfi, !b.states.contains(c) { b.states.append(c) }
          b.streams.append(s.label)
          byOffset[step.offset] = b
        }
      }
      let boundaries = byOffset.keys.sorted().map {
        AlternativeSite.Boundary(offset: $0, states: byOffset[$0]!.states, streams: byOffset[$0]!.streams)
      }
      sites.append(
        AlternativeSite(
          site: g.offstr(group.first), kind: kinds.joined(separator: ", "), length: group.length, streams: streams,
          boundaries: boundaries))
    }
    // Static-key sites and faulting instructions that are no alternative site: the instruction
    // itself, and the other ways it goes.
    for i in g.alts.keys.sorted() where g.alternatives.group[i] < 0 {
      let first = t.place(i)
      if let function, g.program.functions.function(containing: first.offset, in: first.section)?.name != function {
        continue
      }
      let original = AlternativeSite.Step(offset: 0, text: instructionText(i), cfi: cfiText(i))
      var streams = [AlternativeSite.Stream(label: "original", steps: [original])]
      let kinds = otherWays(i, into: &streams)
      guard !kinds.isEmpty else { continue }
      sites.append(
        AlternativeSite(
          site: g.offstr(i), kind: kinds.joined(separator: ", "), length: Int(t.length[i]), streams: streams,
          boundaries: [.init(offset: 0, states: original.cfi.map { [$0] } ?? [], streams: ["original"])]))
    }
    return sites
  }

  /// The instructions a redirected path runs first: from `start`, up to four, to the
  /// first branch or end of the straight line.
  func stretch(from start: Int) -> [AlternativeSite.Step] {
    let t = graph.table
    var out: [AlternativeSite.Step] = []
    var i = start
    while out.count < 4 {
      let cfi = state(at: i).map { ORCDump.registersText(ORCEntry(cfi: $0, layout: ORCLayout.of(graph.generation))) }
      out.append(.init(offset: Int(t.offset[i]) - Int(t.offset[start]), text: instructionText(i), cfi: cfi))
      let type = graph.type[i]
      if type != .other && type != .nop && type != .call { break }
      guard let n = nextToValidate(i) else { break }
      i = n
    }
    return out
  }

  /// Appends to `streams` the ways instruction `i` goes besides its own bytes (a static
  /// key's other way, exception fixups); returns their kinds, in order.
  func otherWays(_ i: Int, into streams: inout [AlternativeSite.Stream]) -> [String] {
    let g = graph
    var kinds: [String] = []
    for (k, target) in (g.alts[i] ?? []).enumerated() {
      let kind = g.altKinds[i]?[k] ?? .alternative
      let label: String
      switch kind {
      case .staticKey:
        label =
          g.type[i] == .nop
          ? "static key flipped: the NOP becomes a jump" : "static key flipped: the jump becomes a NOP"
      case .exceptionFixup: label = "exception fixup (__ex_table)"
      default: continue
      }
      if !kinds.contains(kind.rawValue) { kinds.append(kind.rawValue) }
      streams.append(.init(label: label, steps: stretch(from: target), target: g.offstr(target)))
    }
    return kinds
  }
}
