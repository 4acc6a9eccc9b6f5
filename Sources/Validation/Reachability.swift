import ORC
import Program
import X86

extension Validator {
  /// `validate_reachable_instructions()`: the first instruction no path reached
  /// is reported ("unreachable instruction").
  func validateReachable() {
    let g = graph
    let t = g.table
    var reported: [(diagnostic: Int, insn: Int)] = []
    for i in 0..<t.count where visited[i] == 0 && !ignoreUnreachable(i) {
      let before = diagnostics.count
      if g.rules.reportsEveryUnreachable, i > 0, t.section[i - 1] == t.section[i], g.isDeadEnd(i - 1),
        let dest = g.callDest[i - 1]
      {
        let name: String
        switch dest {
        case .function(let id): name = g.program.functions.functions[id].name
        case .external(let n): name = n
        }
        warn(i, "\(name)() is missing a __noreturn annotation")
      } else {
        warn(i, "unreachable instruction")
      }
      if diagnostics.count > before { reported.append((diagnostics.count - 1, i)) }
      if !g.rules.reportsEveryUnreachable { break }
    }
    guard recordPaths, !reported.isEmpty else { return }
    let paths = unreachablePaths(reported.map(\.insn))
    for (d, i) in reported { diagnostics[d].path = paths[i] ?? [] }
  }

  /// Why no path reaches each of `xs` (see `unreachablePath`), with one more validation for all.
  func unreachablePaths(_ xs: [Int]) -> [Int: [Diagnostic.PathStep]] {
    let ends = xs.map { lastReached(before: $0) }
    let again = Validator(graph: graph, stackValidation: stackValidation, recordPaths: true)
    again.wantedPaths = Set(ends.compactMap { $0 })
    again.runOnThisThread(noUnreachable: true)
    var out: [Int: [Diagnostic.PathStep]] = [:]
    for (x, p) in zip(xs, ends) { out[x] = unreachablePath(x, lastReached: p, pathsAt: again.pathsAt) }
    return out
  }

  /// The last instruction validation reached before `x` in its section and function, if any.
  func lastReached(before x: Int) -> Int? {
    let t = graph.table
    let fn = t.function[x]
    var p = x - 1
    while p >= 0 && t.section[p] == t.section[x] && t.function[p] == fn && visited[p] == 0 { p -= 1 }
    guard p >= 0, t.section[p] == t.section[x], t.function[p] == fn, visited[p] != 0 else { return nil }
    return p
  }

  /// Why no path reaches instruction `x`: the path validation took to the last
  /// instruction reached before it in its function, and how the path ends there
  /// (a return, a jump elsewhere, a call to a noreturn function, a dead end). That
  /// path is found by validating again, keeping the path at that instruction.
  func unreachablePath(_ x: Int, lastReached: Int?, pathsAt: [Int: [Diagnostic.PathStep]]) -> [Diagnostic.PathStep] {
    let g = graph
    let t = g.table
    let layout = ORCLayout.of(g.generation)
    let fn = t.function[x]
    guard let p = lastReached else {
      let owner =
        fn >= 0 ? "\(g.program.functions.functions[Int(fn)].name)() is never entered" : "not in any function"
      let note = "\(owner), and no unwind hint starts a path here"
      return [.init(kind: .noEntry, place: g.place(x), from: nil, cfi: "(not reached)", changes: [], note: note)]
    }
    var steps = pathsAt[p] ?? []
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

  /// `ignore_unreachable_insn()`.
  func ignoreUnreachable(_ i: Int) -> Bool {
    let g = graph
    let t = g.table
    if g.ignored[i] || ignoredByHoles.contains(i) || g.type[i] == .nop || g.type[i] == .trap { return true }
    let name = g.program.file.sections[Int(t.section[i])].name
    if name == ".altinstr_replacement" || name == ".altinstr_aux" { return true }
    let fn = Int(t.function[i])
    if link && fn < 0 { return ignoreInHole(i) }
    guard fn >= 0 else { return false }
    // Static call trampolines (`__SCT__*`, classify_symbols()).
    if g.classes[g.program.functions.functions[fn].symbolIndex].contains(.staticCallTrampoline) { return true }
    if i > 0 {
      let prev = i - 1
      if g.isDeadEnd(prev) {
        if g.type[i] == .bug { return true }
        if g.type[i] == .jumpUnconditional, g.jumpDest[i] >= 0, g.type[Int(g.jumpDest[i])] == .bug { return true }
      }
    }
    return false
  }

  /// With `--link`, code no symbol covers is what the linker left of a weak function
  /// it dropped ("Whole archive runs might encounter dead code from weak symbols"): an
  /// unreachable instruction in such a hole is ignored when the hole runs to the end of
  /// the section or when a reached instruction follows at or before its end; a `.cold`
  /// function the hole jumps to is ignored with it.
  func ignoreInHole(_ x: Int) -> Bool {
    let g = graph
    let t = g.table
    let section = Int(t.section[x])
    guard let size = holeSize(section: section, offset: UInt64(t.offset[x])) else { return false }
    guard size >= 0 else { return true }
    let end = UInt64(t.offset[x]) &+ UInt64(size)
    var i: Int? = x
    while let k = i {
      if visited[k] != 0 { return true }
      if UInt64(t.offset[k]) >= end { break }
      let d = Int(g.jumpDest[k])
      if d >= 0, case let f = Int(t.function[d]), f >= 0,
        g.program.functions.functions[f].name.contains(ascii: ".cold")
      {
        for j in t.instructions(ofFunction: f, in: g.program.functions, coldChild: [:]) { ignoredByHoles.insert(j) }
      }
      i = t.next(k)
    }
    return false
  }

  /// `find_symbol_hole_containing()`: nil when a symbol covers `offset` of `section` or
  /// none ends before it; -1 when no symbol follows the one that ends before it; else
  /// the distance from `offset` to the next symbol.
  func holeSize(section: Int, offset: UInt64) -> Int? {
    if holeSymbols[section] == nil {
      var list: [(offset: UInt64, size: UInt64)] = []
      let symbols = graph.program.symbols
      for k in 0..<symbols.count {
        guard let s = try? symbols.symbol(at: k), s.sectionIndex == section, s.type != .section else { continue }
        list.append((s.value, s.size))
      }
      holeSymbols[section] = list.mergeSorted { ($0.offset, $0.size) < ($1.offset, $1.size) }
    }
    let list = holeSymbols[section] ?? []
    if list.contains(where: { offset >= $0.offset && offset - $0.offset < $0.size }) { return nil }
    guard let before = list.lastIndex(where: { $0.offset &+ $0.size <= offset }) else { return nil }
    guard before + 1 < list.count else { return -1 }
    return Int(truncatingIfNeeded: Int64(bitPattern: list[before + 1].offset &- offset))
  }
}
