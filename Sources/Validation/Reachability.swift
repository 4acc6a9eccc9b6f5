import ORC
import Program
import X86

extension Validator {
  /// `validate_reachable_instructions()`: the first instruction no path reached
  /// is reported ("unreachable instruction").
  func validateReachable() {
    for i in 0..<graph.table.count where !visited[i] && !ignoreUnreachable(i) {
      warn(i, "unreachable instruction")
      if recordPaths { diagnostics[diagnostics.count - 1].path = unreachablePath(i) }
      return
    }
  }

  /// Why no path reaches instruction `x`: the path validation took to the last
  /// instruction reached before it in its function, and how the path ends there
  /// (a return, a jump elsewhere, a call to a noreturn function, a dead end). That
  /// path is found by validating again, keeping the path at that instruction.
  func unreachablePath(_ x: Int) -> [Diagnostic.PathStep] {
    let g = graph
    let t = g.table
    let layout = ORCLayout.of(g.generation)
    let fn = t.function[x]
    var p = x - 1
    while p >= 0 && t.section[p] == t.section[x] && t.function[p] == fn && !visited[p] { p -= 1 }
    guard p >= 0, t.section[p] == t.section[x], t.function[p] == fn, visited[p], x - p == 1 || fn >= 0 else {
      let owner =
        fn >= 0 ? "\(g.program.functions.functions[Int(fn)].name)() is never entered" : "not in any function"
      let note = "\(owner), and no unwind hint starts a path here"
      return [.init(kind: .noEntry, place: g.place(x), from: nil, cfi: "(not reached)", changes: [], note: note)]
    }
    let again = Validator(graph: g, stackValidation: stackValidation, recordPaths: true)
    again.wantedPaths = [p]
    again.runOnThisThread(noUnreachable: true)
    var steps = again.pathsAt[p] ?? []
    let cfi = state(at: p).map { ORCDump.registersText(ORCEntry(cfi: $0, layout: layout)) } ?? "(not reached)"
    let skipped = x - p - 1
    var note = "\(instructionText(p)): " + pathEndReason(p)
    if skipped > 0 { note += "; the \(skipped) instruction\(skipped == 1 ? "" : "s") after it are not reached either" }
    steps.append(.init(kind: .pathEnds, place: g.place(p), from: nil, cfi: cfi, changes: [], note: note))
    return steps
  }

  /// Why the path does not go on from instruction `p` to the next one.
  func pathEndReason(_ p: Int) -> String {
    let g = graph
    switch g.type[p] {
    case .return: return "the function returns"
    case .jumpUnconditional:
      let d = Int(g.jumpDest[p])
      return d >= 0 ? "the path jumps to \(g.place(d).text)" : "a sibling call: the path leaves the function"
    case .jumpDynamic: return "an indirect jump: the path continues through its targets"
    case .bug: return "BUG (ud2): a dead end"
    case .contextSwitch: return "a context switch: the path ends"
    default: break
    }
    if g.noreturn.isNoreturn(g.callDest[p]) {
      return "a call to a noreturn function: the path ends"
    }
    if g.deadEnd[p] { return "annotated unreachable (ANNOTATE_UNREACHABLE): a dead end" }
    return "the path does not go on to the next instruction"
  }

  /// `ignore_unreachable_insn()` (without the --link hole rules yet).
  func ignoreUnreachable(_ i: Int) -> Bool {
    let g = graph
    let t = g.table
    if g.ignored[i] || g.type[i] == .nop || g.type[i] == .trap { return true }
    let name = g.program.file.sections[Int(t.section[i])].name
    if name == ".altinstr_replacement" || name == ".altinstr_aux" { return true }
    let fn = Int(t.function[i])
    guard fn >= 0 else { return false }
    // Static call trampolines (`__SCT__*`, classify_symbols()).
    if g.program.functions.functions[fn].name.hasPrefix("__SCT__") { return true }
    if i > 0 {
      let prev = i - 1
      if g.isDeadEnd(prev) {
        if g.type[i] == .bug { return true }
        if g.type[i] == .jumpUnconditional, g.jumpDest[i] >= 0, g.type[Int(g.jumpDest[i])] == .bug { return true }
      }
    }
    return false
  }
}
