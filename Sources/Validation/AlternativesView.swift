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
  /// The original code or one replacement.
  public struct Stream: Sendable, Codable {
    public var label: String
    public var steps: [Step]
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
    let file = g.program.file
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
      var byOffset: [Int: (states: [String], streams: [String])] = [:]
      for s in streams {
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
          site: g.offstr(group.first), length: group.length, streams: streams,
          boundaries: boundaries))
    }
    return sites
  }
}
