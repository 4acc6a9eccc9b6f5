import ELF
import ORC
import Program
import X86

/// objtool 6.1's `--unret` (`validate_unret()`, `validate_entry()`): from each entry
/// point (``UnwindHints/entries``) every path, through alternatives, jumps and calls, must
/// reach the end of `UNTRAIN_RET` (`VALIDATE_UNRET_END`: a NOP `ANNOTATE_UNRET_SAFE` marks,
/// arch/x86/include/asm/nospec-branch.h) before a return ("RET before UNTRAIN") or an
/// indirect branch ("early indirect call"). A call returns having untrained (its
/// callee's paths were checked); a callee or jump target outside the object stops the
/// validation ("Failed UNRET validation"), as does falling off the end of a section.
public struct UnretOutcome: Sendable {
  /// The warnings, in objtool's order.
  public var diagnostics: [Diagnostic] = []
  /// Whether an entry failed (`validate_entry()` returned -1): objtool's `check()` returns
  /// the error at once, nothing after it runs, the object is not written, and objtool exits 255.
  public var failed = false
}

extension Validator {
  /// `validate_unret()`: each entry point in instruction order; stops at the first failure.
  public func validateUnret() -> UnretOutcome {
    var outcome = UnretOutcome()
    runOnLargeStack {
      let before = self.diagnostics.count
      self.entryVisited = Array(repeating: false, count: self.graph.table.count)
      for entry in self.graph.hints.entries.sorted() {
        self.unretPath = [UnretStretch(start: entry, kind: .unretEntry, from: nil)]
        if self.validateEntry(entry) < 0 {
          self.warn(entry, "Failed UNRET validation")
          outcome.failed = true
          break
        }
      }
      self.unretPath = []
      outcome.diagnostics = Array(self.diagnostics[before...])
    }
    return outcome
  }

  /// `validate_entry()`: follows every path from `start`; 0 when each reached the end of
  /// `UNTRAIN_RET` (or a call), 1 after a warning, -1 when it cannot be validated.
  func validateEntry(_ start: Int) -> Int {
    let g = graph
    var i = start
    guard unretPath.count <= Self.maximumDepth else {
      unretWarn(i, "too many nested branches (more than \(Self.maximumDepth))")
      return -1
    }
    while true {
      let next = g.nextToValidate(i)
      if entryVisited[i] { return 0 }
      entryVisited[i] = true
      if g.hasAlternatives[i] && !g.ignoreAlternatives.contains(i) {
        for (k, alt) in (g.alts[i] ?? []).enumerated() {
          let r = followEntry(alt, kind: g.altKinds[i]?[k] ?? .alternative, from: i)
          if r != 0 { return r }
        }
        if g.alternatives.skipOriginal.contains(i) { return 0 }
      }
      let type = g.type[i]
      switch type {
      case .callDynamic, .jumpDynamic, .jumpDynamicConditional:
        unretWarn(i, "early indirect call")
        return 1
      case .jumpUnconditional where !g.isSiblingCall(i), .jumpConditional where !g.isSiblingCall(i):
        guard g.jumpDest[i] >= 0 else {
          unretWarn(i, "unresolved jump target after linking?!?")
          return -1
        }
        let r = followEntry(Int(g.jumpDest[i]), kind: type == .jumpConditional ? .conditionalJump : .jump, from: i)
        if r != 0 { return r }
        if type == .jumpUnconditional { return 0 }
      case .call, .jumpUnconditional, .jumpConditional:
        guard let dest = calledInstruction(i) else {
          unretWarn(nil, "Unresolved function after linking!?: \(callDestName(i))")
          return -1
        }
        // A call that returns without error has seen UNTRAIN_RET.
        return followEntry(dest, kind: .call, from: i)
      case .return:
        unretWarn(i, "RET before UNTRAIN")
        return 1
      case .nop:
        if g.retpolineSafe.contains(i) { return 0 }
      default:
        break
      }
      if g.deadEnd[i] { return 0 }
      guard let n = next else {
        unretWarn(i, "teh end!")
        return -1
      }
      i = n
    }
  }

  /// `validate_entry()` of a stretch entered from instruction `from`.
  func followEntry(_ start: Int, kind: PathKind, from: Int) -> Int {
    unretPath.append(UnretStretch(start: start, kind: kind, from: from))
    defer { unretPath.removeLast() }
    return validateEntry(start)
  }

  /// The first instruction of the function a call (or sibling call) names (`find_insn()` at
  /// `call_dest`), nil when it is not in this object.
  func calledInstruction(_ i: Int) -> Int? {
    let program = graph.program
    if let k = graph.callDestSymbol[i], let s = try? program.symbols.symbol(at: k) {
      guard s.isDefined, s.sectionIndex < program.file.sections.count else { return nil }
      return graph.table.instruction(in: s.sectionIndex, at: program.symbolOffset(s))
    }
    if case .function(let f) = graph.callDest[i] {
      let fn = program.functions.functions[f]
      return graph.table.instruction(in: fn.section, at: fn.offset)
    }
    return nil
  }

  /// A `--unret` warning at instruction `i` (nil: none named), with the path to it for `--backtrace`.
  func unretWarn(_ i: Int?, _ message: String) {
    var d = Diagnostic(place: i.map { graph.place($0) }, message: message)
    if recordPaths {
      let layout = ORCLayout.of(graph.generation)
      d.path = unretPath.map { s in
        Diagnostic.PathStep(
          kind: s.kind, place: graph.place(s.start), from: s.from.map { graph.place($0) },
          cfi: state(at: s.start).map { ORCDump.registersText(ORCEntry(cfi: $0, layout: layout)) } ?? "(not reached)",
          changes: [])
      }
    }
    diagnostics.append(d)
  }
}

/// One stretch of a `--unret` path: where it starts, how it was entered, and from where.
struct UnretStretch {
  var start: Int
  var kind: PathKind
  var from: Int?
}
