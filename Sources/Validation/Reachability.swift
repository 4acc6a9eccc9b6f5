import Program
import X86

extension Validator {
  /// `validate_reachable_instructions()`: the first instruction no path reached
  /// is reported ("unreachable instruction").
  func validateReachable() {
    for i in 0..<graph.table.count where !visited[i] && !ignoreUnreachable(i) {
      warn(i, "unreachable instruction")
      return
    }
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
