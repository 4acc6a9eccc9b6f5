import ELF
import Kernel
import ORC
import Program
import X86

/// Stack validation of an object (objtool's `validate_functions()`,
/// `validate_unwind_hints()` and `validate_reachable_instructions()`): follows
/// every path from each function's entry and each unwind hint with the CFI
/// state machine, recording the state at every instruction it reaches.
public final class Validator {
  public let graph: ControlFlowGraph
  /// What validation found, in the order objtool reports it.
  public internal(set) var diagnostics: [Diagnostic] = []
  /// Per instruction, the `VISITED_BRANCH` bits (`insn->visited`): bit 0 reached with
  /// UACCESS disabled, bit 1 with it enabled (`VISITED_BRANCH << state.uaccess`); with
  /// `--uaccess` an instruction is followed once in each state.
  var visited: [UInt8]
  /// Per instruction: an index into `states` (interned, as objtool's `cfi_hash`), or -1.
  var cfi: [Int32]
  var states: [CFIState] = []
  var stateIDs: [CFIState: Int32] = [:]
  /// The flattened CFI of each alternative site (seed 000).
  var flattening: AlternativeFlattening

  /// objtool's `--stackval`: frame-pointer checks (calls need a frame; BP is not scratch).
  public let stackValidation: Bool

  /// Whether each diagnostic on a path carries that path (`Diagnostic.path`: objtool's
  /// `--backtrace`, `orctool explain`); off, validation only keeps the stack of stretches.
  public let recordPaths: Bool

  /// One stretch of the path being followed: its first instruction, how it was
  /// entered, and the instruction where it branched into the next (-1 while last).
  struct PathFrame {
    var start: Int32
    var kind: PathKind
    var branchedAt: Int32
  }
  var path: [PathFrame] = []
  /// Instructions whose path is kept when validation first reaches them (`pathsAt`):
  /// an unreachable instruction's explanation is the path to the last one reached before it.
  var wantedPaths = Set<Int>()
  var pathsAt: [Int: [Diagnostic.PathStep]] = [:]

  public init(graph: ControlFlowGraph, stackValidation: Bool = false, recordPaths: Bool = false) {
    self.graph = graph
    self.stackValidation = stackValidation
    self.recordPaths = recordPaths
    diagnostics = graph.readWarnings
    visited = Array(repeating: 0, count: graph.table.count)
    cfi = Array(repeating: -1, count: graph.table.count)
    flattening = AlternativeFlattening(groups: graph.alternatives.groups)
    pvClean = Array(repeating: false, count: graph.paravirt?.slotCount ?? 0)
    // Hinted instructions carry their CFI whether or not a path reaches them.
    for (i, state) in Array(graph.hints.states).mergeSorted(by: { $0.key < $1.key }) { cfi[i] = intern(state) }
  }

  /// The number of distinct CFI states.
  public var distinctStates: Int { states.count }

  /// The distinct CFI states recorded (hinted instructions' and those validation reached).
  public var recordedStates: [CFIState] { states }

  /// `nr_insns_visited`: the times validation reached an instruction no path had been
  /// through (one whose path stopped before it was marked, at a CFI restore, counts again).
  public internal(set) var visitedCount = 0

  /// The CFI state validation recorded at instruction `i`, if it reached it.
  public func state(at i: Int) -> CFIState? { cfi[i] >= 0 ? states[Int(cfi[i])] : nil }

  /// objtool's `--link` (or an object of several units, where objtool forces it): code
  /// no symbol covers may be a dropped weak function (see `ignoreInHole`).
  public var link = false
  /// Instructions of `.cold` functions a symbol hole jumps to (`ignoreInHole`).
  var ignoredByHoles = Set<Int>()
  /// Per section, its symbols by offset and size (`holeSize`).
  var holeSymbols: [Int: [(offset: UInt64, size: UInt64)]] = [:]

  /// Functions already warned about (objtool 6.12's `sym->warned`).
  var warnedFunctions = Set<Int32>()

  /// `--noinstr`: per `pv_ops` slot, whether `pv_call_dest()` found it clean (`pv_ops[idx].clean`).
  var pvClean: [Bool]
  /// Instructions whose relocation objtool has looked up during validation (`insn->reloc`
  /// cached by `pv_call_dest()`), which `call_dest_name()` then reads.
  var relocationLookedUp = Set<Int>()
  /// `--unret`: the instructions `validate_entry()` has followed (`VISITED_ENTRY`), and the
  /// stretches of the path it is on.
  var entryVisited: [Bool] = []
  /// `--stats`: the states looked up in the CFI hash during validation, and the times a
  /// state was taken from the previous instruction or a SAVE hint instead (`nr_cfi_reused`).
  public internal(set) var cfiLookups = 0
  public internal(set) var cfiReused = 0
  var unretPath: [UnretStretch] = []

  /// Whether a warning about instruction `i` is given: always in 6.1; in 6.12 once per function.
  func mayWarn(_ i: Int) -> Bool {
    guard graph.rules.warnsOncePerFunction else { return true }
    let fn = graph.table.function[i]
    return fn < 0 || warnedFunctions.insert(fn).inserted
  }

  func warn(_ i: Int, _ message: String, related: [Diagnostic.Related] = [], pathEnd: Int? = nil) {
    guard mayWarn(i) else { return }
    var d = Diagnostic(place: graph.place(i), message: message, related: related)
    if recordPaths && !path.isEmpty { d.path = explainPath(endingAt: pathEnd ?? i) }
    diagnostics.append(d)
  }

  /// A warning about instruction `i` that objtool 6.1's `validate_branch()` places in the
  /// section its path started in (`WARN_FUNC(..., sec, insn->offset)`, `sec` taken at the
  /// start): a path that began in a replacement stream and went on into the original
  /// code names `.altinstr_replacement` and the instruction's offset in its own section.
  func warnInPathSection(_ i: Int, _ message: String) {
    let g = graph
    let start = path.last.map { Int($0.start) } ?? i
    guard g.table.section[start] != g.table.section[i] else {
      warn(i, message)
      return
    }
    guard mayWarn(i) else { return }
    var place = g.place(i)
    place.text = g.program.offstr(SectionPlace(section: Int(g.table.section[start]), offset: place.offset))
    var d = Diagnostic(place: place, message: message)
    if recordPaths && !path.isEmpty { d.path = explainPath(endingAt: i) }
    diagnostics.append(d)
  }

  /// A finding objtool words without a place (a function or section named in the message);
  /// `pathEnd` is the instruction the path had reached, if any.
  func warn(_ message: String, pathEnd: Int? = nil) {
    var d = Diagnostic(place: nil, message: message)
    if recordPaths, let end = pathEnd, !path.isEmpty { d.path = explainPath(endingAt: end) }
    diagnostics.append(d)
  }

  func intern(_ state: CFIState) -> Int32 {
    if let id = stateIDs[state] { return id }
    let id = Int32(states.count)
    states.append(state)
    stateIDs[state] = id
    return id
  }

  /// Validates every function, then (when that found nothing) reachability,
  /// on a thread with a large stack (path following recurses at every branch).
  /// `priorWarnings` counts what the check warned about before (objtool's `warnings`,
  /// `validate_retpoline()`'s among them): any skips the reachability check too.
  public func run(noUnreachable: Bool = false, priorWarnings: Int = 0) {
    runOnLargeStack { self.runOnThisThread(noUnreachable: noUnreachable, priorWarnings: priorWarnings) }
  }

  /// The deepest branch nesting followed before giving up on a path.
  public static let maximumDepth = 200_000
  var depth = 0

  func runOnThisThread(noUnreachable: Bool, priorWarnings: Int = 0) {
    var count = priorWarnings
    for (s, _) in graph.table.codeSections { count += validateSection(s) }
    count += validateUnwindHints(in: nil)
    if count == 0 && !noUnreachable && !graph.ignoreUnreachables { validateReachable() }
  }

  /// `validate_section()`: each function of code section `s` from its first instruction,
  /// with the initial function state; the number of paths that stopped on an error.
  func validateSection(_ s: Int) -> Int {
    let g = graph
    let t = g.table
    let functions = g.program.functions
    var count = 0
    let funcs = functions.functions.filter { $0.section == s }
      .mergeSorted { ($0.offset, $0.symbolIndex) < ($1.offset, $1.symbolIndex) }
    let noinstr = startsNoinstr(in: s)
    for f in funcs {
      if f.size == 0 {
        warn("\(f.name)() is missing an ELF size annotation")
        count += 1
        continue
      }
      guard g.parent[f.id] == f.id, !functions.isAlias[f.id],
        let start = t.instruction(in: f.section, at: f.offset), visited[start] == 0, !g.ignored[start]
      else { continue }
      // validate_symbol(): with --uaccess a uaccess-safe function starts with UACCESS enabled.
      let flags = InsnFlags(uaccess: g.options.uaccess && isUaccessSafe(f.id), noinstr: noinstr)
      if validateBranch(function: f.id, from: start, state: .initialFunction, flags: flags, via: .functionEntry) {
        count += 1
      }
    }
    return count
  }

  /// `validate_unwind_hints()`: paths that start at a hint no function reached, in
  /// `section` or (nil) everywhere; the number that stopped on an error.
  func validateUnwindHints(in section: Int?) -> Int {
    let g = graph
    let t = g.table
    guard g.hints.present else { return 0 }
    let range = section.map { t.sectionRange[$0] ?? 0..<0 } ?? 0..<t.decodedCount
    let flags = InsnFlags(noinstr: startsNoinstr(in: section))
    var count = 0
    for i in range where g.isHint[i] && visited[i] == 0 && !g.ignored[i] {
      if validateBranch(function: Int(t.function[i]), from: i, state: .initialHint, flags: flags, via: .unwindHint) {
        count += 1
      }
    }
    return count
  }

  /// `validate_branch()`: follows one path; true when it stopped on an error. `flags`
  /// are the rest of objtool's `insn_state`: UACCESS (with `--uaccess`) and DF.
  func validateBranch(
    function fn: Int, from start: Int, state initial: CFIState, flags initialFlags: InsnFlags, via kind: PathKind
  ) -> Bool {
    depth += 1
    path.append(PathFrame(start: Int32(start), kind: kind, branchedAt: -1))
    defer {
      depth -= 1
      path.removeLast()
    }
    if depth > Self.maximumDepth {
      warn(start, "too many nested branches (more than \(Self.maximumDepth))")
      return true
    }
    let g = graph
    var i = start
    var state = initial
    var flags = initialFlags
    // The interned id of `state` while it is known to equal `states[lastID]`, else -1.
    var lastID: Int32 = -1
    while true {
      let next = nextToValidate(i)
      let insnFunc = Int(g.table.function[i])
      if fn >= 0 && insnFunc >= 0 && fn != g.parent[insnFunc] { return fallsThrough(fn, into: insnFunc, at: i) }
      if fn >= 0 && g.ignored[i] {
        warnInPathSection(i, "BUG: why am I validating an ignored function?")
        return true
      }
      let visitedBit: UInt8 = flags.uaccess ? 2 : 1
      if visited[i] != 0 {
        if !g.isHint[i] && !cfiMatch(i, state) { return true }
        if visited[i] & visitedBit != 0 { return false }
      } else {
        visitedCount += 1
      }
      if g.isHint[i] {
        if g.hints.restores.contains(i) && !restoreSavedState(i) { return true }
        state = states[Int(cfi[i])]
        lastID = cfi[i]
      } else if lastID >= 0 {
        // Consecutive instructions mostly share a state: reuse its id (objtool's nr_cfi_reused).
        // Only stack operations change the state; after one, `lastID` is checked again.
        cfi[i] = lastID
        cfiReused += 1
      } else {
        cfi[i] = intern(state)
        cfiLookups += 1
        lastID = cfi[i]
      }
      if flags.noinstr, let mark = g.instrumentation[i] { flags.instr &+= mark }
      visited[i] |= visitedBit
      if !wantedPaths.isEmpty && wantedPaths.contains(i) && pathsAt[i] == nil {
        pathsAt[i] = explainPath(endingAt: i)
      }

      if g.alternatives.group[i] >= 0 && propagateAlternativeCFI(i) { return true }

      if g.hasAlternatives[i] && !g.ignoreAlternatives.contains(i) {
        let alts = g.alts[i] ?? []
        path[path.count - 1].branchedAt = Int32(i)
        for (k, alt) in alts.enumerated() {
          if validateBranch(
            function: fn, from: alt, state: state, flags: flags, via: g.altKinds[i]?[k] ?? .alternative)
          {
            return true
          }
        }
        if g.alternatives.skipOriginal.contains(i) { return false }
      }

      if g.hasOps(i) {
        if !applyStackOps(i, to: &state, flags: &flags, inFunction: insnFunc >= 0, next: next) { return true }
        if lastID >= 0 && states[Int(lastID)] != state { lastID = -1 }
      }

      switch g.type[i] {
      case .return:
        if !validateReturnFlags(i, function: fn, flags) { return true }
        if fn >= 0 && hasModifiedStackFrame(state) {
          warn(i, "return with modified stack frame")
          return true
        }
        if state.bpScratch {
          warn(i, "BP used as a scratch register")
          return true
        }
        return false
      case .call, .callDynamic:
        if !validateCall(i, flags) { return true }
        if stackValidation && fn >= 0 && !isFentryCall(i) && !hasValidStackFrame(state) {
          warnInPathSection(i, "call without frame pointer save/setup")
          return true
        }
        if g.isDeadEnd(i) { return false }
      case .jumpConditional, .jumpUnconditional:
        if g.isSiblingCall(i) {
          if hasModifiedStackFrame(state) {
            warn(i, "sibling call from callable instruction with modified stack frame")
            return true
          }
          if !validateCall(i, flags) { return true }
        } else if g.jumpDest[i] >= 0 {
          path[path.count - 1].branchedAt = Int32(i)
          if validateBranch(function: fn, from: Int(g.jumpDest[i]), state: state, flags: flags, via: .jump) {
            return true
          }
        }
        if g.type[i] == .jumpUnconditional { return false }
      case .jumpDynamic, .jumpDynamicConditional:
        if g.isSiblingCall(i) {
          if hasModifiedStackFrame(state) {
            warn(i, "sibling call from callable instruction with modified stack frame")
            return true
          }
          if !validateCall(i, flags) { return true }
        }
        if g.type[i] == .jumpDynamic { return false }
      case .contextSwitch:
        guard fn >= 0 else { return false }
        if let n = next, g.isHint[n] { break }
        warnInPathSection(i, "unsupported instruction in callable function")
        return true
      case .stac, .clac, .std, .cld:
        if !updateFlags(i, function: fn, &flags) { return true }
      default:
        break
      }
      if g.deadEnd[i] { return false }
      guard let n = next else {
        if state.cfa.base == CFIBase.undefined || g.ignoreUnreachables { return false }
        // validate_branch() names the section the path started in.
        warn("\(g.program.file.sections[Int(g.table.section[start])].name): unexpected end of section", pathEnd: i)
        return true
      }
      i = n
    }
  }

  // The steps below are functions of their own, out of line, so that the frame of
  // validate_branch() (one per nested branch, up to `maximumDepth`) stays small.

  /// A path leaves its function for the next one: objtool's "falls through to next
  /// function" (not for kCFI `__cfi_` preambles, nor in a file objtool stops reporting
  /// unreachable code for); true when it is a warning.
  @inline(never)
  func fallsThrough(_ fn: Int, into next: Int, at i: Int) -> Bool {
    let functions = graph.program.functions.functions
    let name = functions[fn].name
    if name.hasPrefix("__cfi_") || (graph.rules.prefixSymbolsFallThrough && name.hasPrefix("__pfx_"))
      || graph.ignoreUnreachables
    {
      return false
    }
    warn("\(functions[fn].name)() falls through to next function \(functions[next].name)()", pathEnd: i)
    warnedFunctions.insert(Int32(fn))
    return true
  }

  /// `handle_insn_ops()`: applies instruction `i`'s stack operations to `state` and,
  /// with `--uaccess`, a PUSHF/POPF in an alternative to the saved UACCESS bits;
  /// false (after the warning) when one cannot be applied.
  @inline(never)
  func applyStackOps(_ i: Int, to state: inout CFIState, flags: inout InsnFlags, inFunction: Bool, next: Int?) -> Bool {
    let g = graph
    for op in g.ops(i) {
      if state.type == 1 || state.type == 2 {
        state.applyToRegisterFrame(op)  // update_cfi_state_regs(): REGS and REGS_PARTIAL hints
      } else {
        do {
          try state.apply(
            op, inFunction: inFunction, nextIsHint: next.map { g.isHint[$0] } ?? false,
            stackValidation: stackValidation)
        } catch {
          warn(i, error.message)
          return false
        }
      }
      if g.options.uaccess && g.alternatives.group[i] >= 0 && !applyUaccessStack(op, at: i, &flags) { return false }
    }
    return true
  }

  /// `propagate_alt_cfi()`: records instruction `i`'s state in its site's flattened
  /// CFI; true (after the warning) when another stream brought a different state there
  /// and the generation's rules stop the function there.
  @inline(never)
  func propagateAlternativeCFI(_ i: Int) -> Bool {
    let g = graph
    let gi = Int(g.alternatives.group[i])
    guard let conflict = flattening.record(cfi[i], at: i, group: gi, table: g.table) else { return false }
    let layout = ORCLayout.of(g.generation)
    func cfiText(_ j: Int) -> String? { state(at: j).map { ORCDump.registersText(ORCEntry(cfi: $0, layout: layout)) } }
    // Both sides: the state another stream recorded first, and the one this stream brings.
    let slot = Int(g.table.offset[i]) - Int(g.table.offset[g.alternatives.groups[gi].first])
    let offset = "at offset 0x\(String(slot, radix: 16)) of the site"
    // The other stream's stack changes up to the boundary, when recording paths.
    var otherChanges: [Diagnostic.PathStep.StackChange] = []
    if recordPaths, case let og = Int(g.alternatives.group[conflict]), og >= 0 {
      otherChanges = stackChanges(from: g.alternatives.groups[og].first, to: conflict)
    }
    let first0 = Diagnostic.Related(
      role: "state first recorded \(offset) by", place: g.place(conflict), cfi: cfiText(conflict),
      changes: otherChanges)
    let here = Diagnostic.Related(role: "conflicting state brought \(offset) by", place: g.place(i), cfi: cfiText(i))
    let site = g.alternatives.groups[gi].original ?? gi
    // A conflict objtool 6.1 cannot see (between two `.altinstructions` entries of one
    // site) is reported once per site and the path goes on, as objtool 6.1's does.
    let stops =
      g.rules.alternativeConflictStops
      || flattening.objtool61Sees(gi, Int(g.alternatives.group[conflict]))
    if !stops && !flattening.reported.insert(site).inserted { return false }
    if g.rules.conflictReportedAtSite {
      let group = g.alternatives.groups[gi]
      let first = g.alternatives.groups[group.original ?? gi].first
      warn(first, "stack layout conflict in alternatives: \(g.offstr(i))", related: [here, first0], pathEnd: i)
    } else {
      warn(i, "stack layout conflict in alternatives", related: [here, first0])
    }
    return stops
  }

  /// `UNWIND_HINT_RESTORE`: the instruction takes the state the matching
  /// `UNWIND_HINT_SAVE` recorded, earlier in its symbol; false (after the warning) when there is none.
  @inline(never)
  func restoreSavedState(_ i: Int) -> Bool {
    let g = graph
    let t = g.table
    var k = i - 1
    var save: Int? = nil
    while k >= 0 && t.section[k] == t.section[i] && t.function[k] == t.function[i] {
      if g.hints.saves.contains(k) {
        save = k
        break
      }
      k -= 1
    }
    guard let save else {
      warnInPathSection(i, "no corresponding CFI save for CFI restore")
      return false
    }
    guard visited[save] != 0 else {
      warnInPathSection(i, "objtool isn't smart enough to handle this CFI save/restore combo")
      return false
    }
    cfi[i] = cfi[save]
    cfiReused += 1
    return true
  }

  /// `next_insn_to_validate()`: a replacement stream continues after its original.
  func nextToValidate(_ i: Int) -> Int? { graph.nextToValidate(i) }
}
