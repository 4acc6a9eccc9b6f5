import ELF
import Kernel
import ORC
import X86

/// Stack validation of an object (objtool's `validate_functions()` and
/// `validate_reachable_instructions()`), recording the CFI state of every
/// instruction it reaches.
public final class Validator {
  public let program: ObjectProgram
  /// Warnings in objtool's words, without the `FILE: warning: objtool: ` prefix.
  public private(set) var warnings: [String] = []
  var visited: [Bool]
  /// Per instruction: an index into `states` (interned, as objtool's `cfi_hash`), or -1.
  var cfi: [Int32]
  var states: [CFIState] = []
  var stateIDs: [CFIState: Int32] = [:]
  /// Per original alternative group: the CFI at each byte offset of the site,
  /// filled by every stream (`alt_group->cfi`, seed 000's flattening).
  var groupCFI: [Int: [Int32]] = [:]

  public init(program: ObjectProgram) {
    self.program = program
    warnings = program.readWarnings
    visited = Array(repeating: false, count: program.section.count)
    cfi = Array(repeating: -1, count: program.section.count)
    // Hinted instructions carry their CFI whether or not a path reaches them.
    for (i, state) in program.hints.sorted(by: { $0.key < $1.key }) { cfi[i] = intern(state) }
  }

  /// The number of distinct CFI states.
  public var distinctStates: Int { states.count }

  /// `func+0xoff` or `section+0xoff` (objtool's `offstr()`).
  func place(_ i: Int) -> String {
    let s = Int(program.section[i])
    let o = UInt64(program.offset[i])
    if let f = program.functions.function(containing: o, in: s) {
      return "\(f.name)+0x\(String(o - f.offset, radix: 16))"
    }
    return "\(program.file.sections[s].name)+0x\(String(o, radix: 16))"
  }

  func warn(_ i: Int, _ message: String) { warnings.append("\(place(i)): \(message)") }

  func intern(_ state: CFIState) -> Int32 {
    if let id = stateIDs[state] { return id }
    let id = Int32(states.count)
    states.append(state)
    stateIDs[state] = id
    return id
  }

  /// objtool's `--stackval`: frame-pointer checks (calls need a frame; BP is not scratch).
  public var stackValidation = false

  /// Validates every function, then (when that found nothing) reachability,
  /// on a thread with a large stack (path following recurses at every branch).
  public func run(noUnreachable: Bool = false) {
    runOnLargeStack { self.runOnThisThread(noUnreachable: noUnreachable) }
  }

  /// The deepest branch nesting followed before giving up on a path.
  public static let maximumDepth = 200_000
  var depth = 0

  func runOnThisThread(noUnreachable: Bool) {
    let p = program
    var count = 0
    for (s, _) in p.codeSections {
      let funcs = p.functions.functions.filter { $0.section == s }.sorted { ($0.offset, $0.symbolIndex) < ($1.offset, $1.symbolIndex) }
      for f in funcs {
        if f.size == 0 {
          warnings.append("\(f.name)() is missing an ELF size annotation")
          count += 1
          continue
        }
        guard p.parent[f.id] == f.id, !p.isAlias[f.id],
          let start = p.instruction(in: f.section, at: f.offset), !visited[start], !p.ignored[start]
        else { continue }
        if validateBranch(function: f.id, from: start, state: .initialFunction) { count += 1 }
      }
    }
    // validate_unwind_hints(): paths that start at a hint no function reached.
    if p.hasHints {
      for i in 0..<p.decodedCount where p.isHint[i] && !visited[i] && !p.ignored[i] {
        if validateBranch(function: Int(p.function[i]), from: i, state: .initialHint) { count += 1 }
      }
    }
    if count == 0 && !noUnreachable && !program.ignoreUnreachables { validateReachable() }
  }

  /// `validate_branch()`: follows one path; true when it stopped on an error.
  func validateBranch(function fn: Int, from start: Int, state initial: CFIState) -> Bool {
    depth += 1
    defer { depth -= 1 }
    if depth > Self.maximumDepth {
      warn(start, "too many nested branches (more than \(Self.maximumDepth))")
      return true
    }
    let p = program
    var i = start
    var state = initial
    var lastID: Int32 = -1
    while true {
      let next = nextToValidate(i)
      let insnFunc = Int(p.function[i])
      if fn >= 0 && insnFunc >= 0 && fn != p.parent[insnFunc] {
        if p.functions.functions[fn].name.hasPrefix("__cfi_") || p.ignoreUnreachables { return false }
        warnings.append("\(p.functions.functions[fn].name)() falls through to next function \(p.functions.functions[insnFunc].name)()")
        return true
      }
      if fn >= 0 && p.ignored[i] {
        warn(i, "BUG: why am I validating an ignored function?")
        return true
      }
      if visited[i] {
        if !p.isHint[i] && !cfiMatch(i, state) { return true }
        return false
      }
      if p.isHint[i] {
        if p.restoreHints.contains(i) {
          // The state the matching UNWIND_HINT_SAVE recorded, earlier in this symbol.
          var k = i - 1
          var save: Int? = nil
          while k >= 0 && p.section[k] == p.section[i] && p.function[k] == p.function[i] {
            if p.saveHints.contains(k) { save = k; break }
            k -= 1
          }
          guard let save else {
            warn(i, "no corresponding CFI save for CFI restore")
            return true
          }
          guard visited[save] else {
            warn(i, "objtool isn't smart enough to handle this CFI save/restore combo")
            return true
          }
          cfi[i] = cfi[save]
        }
        state = states[Int(cfi[i])]
        lastID = cfi[i]
      } else if lastID >= 0 && states[Int(lastID)] == state {
        // Consecutive instructions mostly share a state: reuse its id (objtool's nr_cfi_reused).
        cfi[i] = lastID
      } else {
        cfi[i] = intern(state)
        lastID = cfi[i]
      }
      visited[i] = true

      if p.group[i] >= 0 && propagateAlternativeCFI(i) { return true }

      if p.hasAlternatives[i] && !p.ignoreAlternatives.contains(i) {
        for alt in p.alts[i] ?? [] {
          if validateBranch(function: fn, from: alt, state: state) { return true }
        }
        if p.skipOriginal.contains(i) { return false }
      }

      for op in p.ops[i] {
        if state.type == 1 || state.type == 2 {
          state.applyToRegisterFrame(op)  // update_cfi_state_regs(): REGS and REGS_PARTIAL hints
          continue
        }
        do {
          try state.apply(op, inFunction: insnFunc >= 0, nextIsHint: next.map { p.isHint[$0] } ?? false,
                           stackValidation: stackValidation)
        } catch {
          warn(i, error.message)
          return true
        }
      }

      switch p.type[i] {
      case .return:
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
        if stackValidation && fn >= 0 && !isFentryCall(i) && !hasValidStackFrame(state) {
          warn(i, "call without frame pointer save/setup")
          return true
        }
        if p.deadEnd[i] { return false }
      case .jumpConditional, .jumpUnconditional:
        if p.isSiblingCall(i) {
          if hasModifiedStackFrame(state) {
            warn(i, "sibling call from callable instruction with modified stack frame")
            return true
          }
        } else if p.jumpDest[i] >= 0 {
          if validateBranch(function: fn, from: Int(p.jumpDest[i]), state: state) { return true }
        }
        if p.type[i] == .jumpUnconditional { return false }
      case .jumpDynamic, .jumpDynamicConditional:
        if p.isSiblingCall(i) && hasModifiedStackFrame(state) {
          warn(i, "sibling call from callable instruction with modified stack frame")
          return true
        }
        if p.type[i] == .jumpDynamic { return false }
      case .contextSwitch:
        guard fn >= 0 else { return false }
        if let n = next, p.isHint[n] { break }
        warn(i, "unsupported instruction in callable function")
        return true
      default:
        break
      }
      if p.deadEnd[i] { return false }
      guard let n = next else {
        if state.cfa.base == CFIBase.undefined || p.ignoreUnreachables { return false }
        warnings.append("\(p.file.sections[Int(p.section[i])].name): unexpected end of section")
        return true
      }
      i = n
    }
  }

  /// `next_insn_to_validate()`: a replacement stream continues after its original.
  func nextToValidate(_ i: Int) -> Int? {
    if program.hasOverride[i], let o = program.nextOverride[i] { return o >= 0 ? o : nil }
    return program.next(i)
  }

  /// `propagate_alt_cfi()`: records the state at this byte offset of its
  /// alternative site; a different state already there is a conflict.
  func propagateAlternativeCFI(_ i: Int) -> Bool {
    let p = program
    let g = Int(p.group[i])
    guard g >= 0 else { return false }
    let group = p.groups[g]
    let storage = group.original ?? g
    let slot = Int(p.offset[i]) - Int(p.offset[group.first])
    var array = groupCFI[storage] ?? Array(repeating: -1, count: p.groups[storage].length)
    guard slot >= 0 && slot < array.count else { return false }
    if array[slot] < 0 {
      array[slot] = cfi[i]
      groupCFI[storage] = array
    } else if array[slot] != cfi[i] {
      warn(i, "stack layout conflict in alternatives")
      return true
    }
    return false
  }

  /// `has_valid_stack_frame()`: BP is the frame pointer and the caller's BP is saved below the return address.
  func hasValidStackFrame(_ s: CFIState) -> Bool {
    if s.cfa.base == CFIBase.bp && s.regs[5].base == CFIBase.cfa && s.regs[5].offset == -16 { return true }
    return s.drap && s.regs[5].base == CFIBase.bp
  }

  /// `is_special_call()`: a call to `__fentry__` needs no frame.
  func isFentryCall(_ i: Int) -> Bool {
    guard program.type[i] == .call else { return false }
    switch program.callDest[i] {
    case .external(let name): return name == "__fentry__"
    case .function(let id): return program.functions.functions[id].name == "__fentry__"
    case .none: return false
    }
  }

  /// `has_modified_stack_frame()`.
  func hasModifiedStackFrame(_ s: CFIState) -> Bool {
    let initial = CFIState.initialFunction
    return s.cfa != initial.cfa || s.drap || s.stackSize != initial.cfa.offset || s.regs != initial.regs
  }

  /// `insn_cfi_match()`: the state a second path brings must be the first one's.
  func cfiMatch(_ i: Int, _ s2: CFIState) -> Bool {
    guard cfi[i] >= 0 else {
      warnings.append("CFI missing")
      return false
    }
    let s1 = states[Int(cfi[i])]
    if s1.cfa != s2.cfa {
      warn(i, "stack state mismatch: cfa1=\(s1.cfa.base)\(signed(s1.cfa.offset)) cfa2=\(s2.cfa.base)\(signed(s2.cfa.offset))")
    } else if s1.regs != s2.regs {
      for r in 0..<s1.regs.count where s1.regs[r] != s2.regs[r] {
        warn(i, "stack state mismatch: reg1[\(r)]=\(s1.regs[r].base)\(signed(s1.regs[r].offset)) reg2[\(r)]=\(s2.regs[r].base)\(signed(s2.regs[r].offset))")
        break
      }
    } else if s1.type != s2.type {
      warn(i, "stack state mismatch: type1=\(s1.type) type2=\(s2.type)")
    } else if s1.drap != s2.drap || (s1.drap && s1.drapReg != s2.drapReg) || (s1.drap && s1.drapOffset != s2.drapOffset) {
      warn(i, "stack state mismatch: drap1=\(s1.drap ? 1 : 0)(\(s1.drapReg),\(s1.drapOffset)) drap2=\(s2.drap ? 1 : 0)(\(s2.drapReg),\(s2.drapOffset))")
    } else {
      return true
    }
    return false
  }

  func signed(_ v: Int32) -> String { v < 0 ? "\(v)" : "+\(v)" }

  /// `validate_reachable_instructions()`: the first unreachable instruction is reported.
  func validateReachable() {
    let p = program
    for i in 0..<p.section.count where !visited[i] && !ignoreUnreachable(i) {
      warn(i, "unreachable instruction")
      return
    }
  }

  /// `ignore_unreachable_insn()` (without the --link hole rules yet).
  func ignoreUnreachable(_ i: Int) -> Bool {
    let p = program
    if p.ignored[i] || p.type[i] == .nop || p.type[i] == .trap { return true }
    let name = p.file.sections[Int(p.section[i])].name
    if name == ".altinstr_replacement" || name == ".altinstr_aux" { return true }
    let fn = Int(p.function[i])
    guard fn >= 0 else { return false }
    // Static call trampolines (`__SCT__*`, classify_symbols()).
    if p.functions.functions[fn].name.hasPrefix("__SCT__") { return true }
    if i > 0 {
      let prev = i - 1
      if p.deadEnd[prev] || p.isDeadEnd(p.callDest[prev], recursion: 0) {
        if p.type[i] == .bug { return true }
        if p.type[i] == .jumpUnconditional, p.jumpDest[i] >= 0, p.type[Int(p.jumpDest[i])] == .bug { return true }
      }
    }
    return false
  }

  /// objtool's ORC entries for the object (`orc_create()`): per text section in
  /// index order, one entry where the state changes, and a terminator at the
  /// section's end.
  public func orcEntries(layout: ORCLayout) -> [(section: Int, offset: UInt64, entry: ORCEntry)] {
    let p = program
    var out: [(Int, UInt64, ORCEntry)] = []
    let zero = ORCEntry(spOffset: 0, bpOffset: 0, spReg: .undefined, bpReg: .undefined, rawType: 0, flag: false)
    for (s, text) in p.codeSections where text {
      guard let range = p.sectionRange[s] else { continue }
      var prev = zero
      var empty = true
      var i = range.lowerBound
      while i < range.upperBound {
        let g = Int(p.group[i])
        if g >= 0 && p.groups[g].original == nil {
          // An alternative site: the flattened byte-offset CFI of all its streams.
          let group = p.groups[g]
          let slots = groupCFI[g] ?? []
          for (k, id) in slots.enumerated() where id >= 0 {
            let e = orcEntry(states[Int(id)], layout: layout)
            if e == prev { continue }
            out.append((s, UInt64(p.offset[group.first]) + UInt64(k), e))
            prev = e
            empty = false
          }
          i = group.last + 1
          continue
        }
        let e = orcEntry(cfi[i] >= 0 ? states[Int(cfi[i])] : nil, layout: layout)
        i += 1
        if e == prev { continue }
        out.append((s, UInt64(p.offset[i - 1]), e))
        prev = e
        empty = false
      }
      if !empty { out.append((s, p.file.sections[s].size, zero)) }
    }
    return out
  }

  /// `init_orc_entry()`.
  func orcEntry(_ state: CFIState?, layout: ORCLayout) -> ORCEntry {
    var e = ORCEntry(spOffset: 0, bpOffset: 0, spReg: .undefined, bpReg: .undefined, rawType: 0, flag: false)
    guard let s = state else { return e }  // 6.1: CALL with sp undefined; 6.12: ORC_TYPE_UNDEFINED
    e.flag = s.end
    guard s.cfa.base != CFIBase.undefined else {
      if layout.generation == .v6_12 { e.rawType = layout.rawType(.call) ?? 0 }
      return e
    }
    switch s.cfa.base {
    case CFIBase.sp: e.spReg = .sp
    case CFIBase.spIndirect: e.spReg = .spIndirect
    case CFIBase.bp: e.spReg = .bp
    case CFIBase.bpIndirect: e.spReg = .bpIndirect
    case CFIBase.r10: e.spReg = .r10
    case CFIBase.r13: e.spReg = .r13
    case CFIBase.di: e.spReg = .di
    case CFIBase.dx: e.spReg = .dx
    default: break
    }
    let bp = s.regs[5]
    switch bp.base {
    case CFIBase.cfa: e.bpReg = .prevSP
    case CFIBase.bp: e.bpReg = .bp
    default: e.bpReg = .undefined
    }
    e.spOffset = Int16(truncatingIfNeeded: s.cfa.offset)
    e.bpOffset = Int16(truncatingIfNeeded: bp.offset)
    // The state's type is objtool 6.1's UNWIND_HINT_TYPE_* (CALL 0, REGS 1, REGS_PARTIAL 2);
    // the layout encodes it (6.12: ORC_TYPE_CALL is 2).
    let frame: ORCFrameType = s.type == 1 ? .regs : s.type == 2 ? .regsPartial : .call
    e.rawType = layout.rawType(frame) ?? s.type
    if layout.generation == .v6_12 { e.flag = false }  // `signal`: only hints set it
    return e
  }
}
