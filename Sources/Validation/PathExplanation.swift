import ELF
import ORC
import Program
import X86

extension Validator {
  /// The most stretches an explanation lists (the first, then the last ones):
  /// a path through 200,000 nested branches is summarised, not copied.
  static let explainedStretches = 1000

  /// The path validation followed to instruction `end`: each stretch on the stack,
  /// how it was entered, the instruction that led to it, and the stack state after
  /// each stack-changing instruction up to the next stretch (or `end`).
  func explainPath(endingAt end: Int) -> [Diagnostic.PathStep] {
    let g = graph
    let layout = ORCLayout.of(g.generation)
    func cfiText(_ s: CFIState?) -> String {
      s.map { ORCDump.registersText(ORCEntry(cfi: $0, layout: layout)) } ?? "(not reached)"
    }
    var frames = Array(path.indices)
    if frames.count > Self.explainedStretches {
      frames = [0] + Array(frames.suffix(Self.explainedStretches - 1))
    }
    var steps: [Diagnostic.PathStep] = []
    for k in frames {
      let f = path[k]
      let start = Int(f.start)
      let stop = k + 1 < path.count ? Int(f.branchedAt) : end
      let changes = stackChanges(from: start, to: stop)
      let from = k > 0 && path[k - 1].branchedAt >= 0 ? g.place(Int(path[k - 1].branchedAt)) : nil
      steps.append(
        .init(
          kind: f.kind, place: g.place(start), from: from, cfi: cfiText(state(at: start)),
          changes: changes))
    }
    return steps
  }

  /// The stack-changing instructions of the straight-line code from `start` up to
  /// (not including) `stop`, each with the state after it.
  func stackChanges(from start: Int, to stop: Int) -> [Diagnostic.PathStep.StackChange] {
    let g = graph
    let layout = ORCLayout.of(g.generation)
    var changes: [Diagnostic.PathStep.StackChange] = []
    var j = start
    var walked = 0
    // The stretch is straight-line code: the branches taken inside it returned.
    while j != stop && walked < g.table.count {
      if g.hasOps(j), let after = stateAfter(j) {
        changes.append(
          .init(
            place: g.place(j), instruction: instructionText(j),
            cfi: ORCDump.registersText(ORCEntry(cfi: after, layout: layout))))
      }
      guard let n = nextToValidate(j) else { break }
      j = n
      walked += 1
    }
    return changes
  }

  /// The state after instruction `j` on the path that recorded its state.
  func stateAfter(_ j: Int) -> CFIState? {
    guard var s = state(at: j), derive(&s, through: j) else { return nil }
    return s
  }

  /// Instruction `i` in AT&T syntax with what its relocation names: a direct call or
  /// jump shows its target (`call copy_user_enhanced_fast_string`), an indirect one
  /// through a RIP-relative slot the slot (`call *pv_ops+0xb0(%rip)`), anything else
  /// the relocation beside it, as objdump -dr prints it (`# sym+0x8`).
  public func instructionText(_ i: Int) -> String {
    let g = graph
    let t = g.table
    if i >= t.decodedCount { return "(fake nop, \(t.length[i]) byte\(t.length[i] == 1 ? "" : "s"))" }
    let file = g.program.file
    let s = file.sections[Int(t.section[i])]
    let bytes = file.contents(of: s).slice(Int(t.offset[i]), Int(t.length[i])).map { Array($0.bytes) } ?? []
    let start = UInt64(t.offset[i])
    if g.program.isLinked { return g.program.linkedInstructionText(bytes, address: s.address &+ start) }
    let text = X86Decoder.disassemble(bytes)
    let type = t.type[i]
    guard let target = g.program.relocationTarget(in: Int(t.section[i]), start..<start + UInt64(t.length[i])) else {
      // A direct branch within its section: its target as objdump prints it (`jz 2b0d6 <f+0x106>`).
      let direct = type == .call || type == .jumpConditional || type == .jumpUnconditional
      if direct, let space = text.firstIndex(of: " ") {
        let dest = UInt64(bitPattern: Int64(start) &+ Int64(t.length[i]) &+ t.immediate[i])
        let name = g.program.functions.offstr(section: Int(t.section[i]), offset: dest)
        return "\(text[..<space]) \(String(dest, radix: 16)) <\(name)>"
      }
      return text
    }
    if type == .call || type == .jumpConditional || type == .jumpUnconditional, let space = text.firstIndex(of: " ") {
      return "\(text[..<space]) \(target)"
    }
    // Zydis prints a RIP-relative slot's address as if the code sat at 0; the relocation names it.
    let parts = text.split(separator: " ")
    if parts.count == 2, parts[1].hasPrefix("*0x"), type == .callDynamic || type == .jumpDynamic {
      return "\(parts[0]) *\(target)(%rip)"
    }
    return "\(text)  # \(target)"
  }

  /// objtool's `--backtrace` lines for a diagnostic with a path, innermost first:
  /// `func+0xoff: (alt)`, `(branch)` (`--unret`: `(branch-cond)`, `(call)`) where each
  /// stretch was entered, then `<=== (sym)` (or `(hint)`) at the path's start.
  public static func backtrace(_ d: Diagnostic) -> [String] {
    guard let first = d.path.first else { return [] }
    var lines: [String] = []
    for step in d.path.dropFirst().reversed() {
      guard let from = step.from else { continue }
      let how: String
      switch step.kind {
      case .jump: how = "(branch)"
      case .conditionalJump: how = "(branch-cond)"
      case .call: how = "(call)"
      default: how = "(alt)"
      }
      lines.append("  \(from.text): \(how)")
    }
    // validate_unret() names no starting point.
    if first.kind == .unretEntry { return lines }
    lines.append("  \(first.place.text): <=== \(first.kind == .unwindHint ? "(hint)" : "(sym)")")
    return lines
  }
}
