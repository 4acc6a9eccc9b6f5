import ELF
import Kernel
import X86

/// The program with objtool's control flow added (`decode_sections()` in
/// tools/objtool/check.c): each pass in `Passes/` reads what it needs and
/// returns the value it adds; this type runs them in objtool's order and holds
/// their results, read-only, for validation and the reports.
public final class ControlFlowGraph: Sendable {
  public let program: Program
  /// The kernel generation whose formats were read.
  public let generation: KernelGeneration
  /// The check rules of that generation.
  public let rules: CheckRules
  /// The instructions, fake NOPs of alternative groups included.
  public let table: InstructionTable
  /// Each instruction's type once the passes have classified it (a call through a
  /// retpoline thunk is `callDynamic`, an annotated intra-function call a jump, …).
  public let type: [InsnType]
  /// Jump target instruction, or -1.
  public let jumpDest: [Int32]
  /// Call or sibling-call destination.
  public let callDest: [CallDest?]
  /// `insn->dead_end`: ud2 and annotated unreachable places.
  public let deadEnd: [Bool]
  /// Instructions `.discard.reachable` says a path goes on after (even a call to a noreturn function).
  public let annotatedReachable: Set<Int>
  /// The functions calls to which never return.
  public let noreturn: NoreturnFunctions
  /// Parent of each function (`pfunc`; itself for most) and each parent's `.cold` child.
  public let parent: [Int]
  public let coldChild: [Int: Int]
  /// Instructions of `STACK_FRAME_NON_STANDARD` functions.
  public let ignored: [Bool]
  /// Alternative sites whose streams are not followed.
  public let ignoreAlternatives: Set<Int>
  /// The `.altinstructions` groups.
  public let alternatives: AlternativeGroups
  /// Paths that start at an instruction and are validated before it goes on
  /// (`insn->alts`): replacement streams, static keys, exception fixups, jump-table targets.
  public let alts: [Int: [Int]]
  /// What each of `alts` is, in the same order.
  public let altKinds: [Int: [PathKind]]
  /// Indirect jumps through a switch table (not sibling calls).
  public let usesJumpTable: Set<Int>
  /// objtool stops reporting unreachable code in this file (a PC-relative switch table).
  public let ignoreUnreachables: Bool
  /// Unwind hints.
  public let hints: UnwindHints
  /// Per-instruction flags, so the validator's loop looks in the dictionaries only where needed.
  public let isHint: [Bool]
  public let hasAlternatives: [Bool]
  public let hasOverride: [Bool]
  /// Warnings found while reading the object (objtool prints them and goes on).
  public let readWarnings: [Diagnostic]
  /// The global symbols objtool treats specially (`classify_symbols()`).
  public let classes: SymbolClasses
  /// The call sites objtool lists for `.static_call_sites`, `.retpoline_sites` and `.return_sites`.
  public let callSites: CallSites
  /// `insn->retpoline_safe`: calls and jumps through a thunk, and the instructions
  /// `.discard.retpoline_safe` lists; the retpoline, rethunk and SLS checks skip them.
  public let retpolineSafe: Set<Int>
  /// Static-key sites `--hacks=jump_label` turned into NOPs.
  public let noppedStaticKeys: [Int]
  /// Calls from noinstr code to instrumentation `--hacks=noinstr` turned into NOPs (tail calls into returns).
  public let profilingCalls: [Int: InsnType]
  /// The symbols that may be called with UACCESS enabled (`--uaccess`).
  public let uaccessSafe: UaccessSafeFunctions
  /// The symbol each call and sibling call names (`insn->call_dest`), by symbol-table index.
  public let callDestSymbol: [Int: Int]
  /// `instrumentation_begin()`/`_end()` marks per instruction (`insn->instr`).
  public let instrumentation: [Int: Int8]
  /// Instructions `ANNOTATE_NOENDBR` lists (`insn->noendbr`).
  public let noendbr: Set<Int>
  /// With `--noinstr`, the functions each `pv_ops` slot may hold (nil: the object has no `pv_ops`).
  public let paravirt: ParavirtCallTargets?
  /// With `--mcount`, the calls to `__fentry__` turned into NOPs, in `__mcount_loc` order.
  public let fentryCalls: [Int]
  /// The `ENDBR`s at function starts (the `--ibt` seal candidates) and inside functions.
  public let endbr: EndbrInstructions
  /// What the passes were asked to do.
  public let options: Options

  /// What the passes are asked to do besides reading the object (objtool's `--hacks`,
  /// and the actions that change how it is read: `--uaccess`, `--noinstr`, `--mcount`, `--ibt`).
  public struct Options: Sendable, Hashable {
    /// `--hacks=jump_label`: static-key `jmp`s marked for it become NOPs (`handle_jump_alt()`).
    public var hackJumpLabel = false
    /// `--hacks=noinstr`: calls from noinstr code to instrumentation become NOPs (``ProfilingCalls``).
    public var hackNoinstr = false
    /// `--uaccess`: the `X86_FEATURE_SMAP` alternatives are followed instead of their
    /// original (``AlternativeGroups``), the uaccess-safe functions marked
    /// (``UaccessSafeFunctions``), and validation follows STAC/CLAC.
    public var uaccess = false
    /// `--noinstr`: the `pv_ops` slots are read (``ParavirtCallTargets``).
    public var noinstr = false
    /// `--mcount`: calls to `__fentry__` become NOPs listed for `__mcount_loc` (``FentryCalls``).
    public var mcount = false
    /// `--ibt`: a jump past a function's leading `ENDBR` is a sibling call, and an
    /// `UNWIND_HINT_IRET_REGS` entry without `ENDBR` is warned about.
    public var ibt = false
    public init(
      hackJumpLabel: Bool = false, hackNoinstr: Bool = false, uaccess: Bool = false, noinstr: Bool = false,
      mcount: Bool = false, ibt: Bool = false
    ) {
      self.hackJumpLabel = hackJumpLabel
      self.hackNoinstr = hackNoinstr
      self.uaccess = uaccess
      self.noinstr = noinstr
      self.mcount = mcount
      self.ibt = ibt
    }
  }

  /// Decodes `program`'s code (`jobs` threads) and runs every pass, reading the
  /// kernel formats of `generation`.
  public convenience init(program: Program, generation: KernelGeneration, jobs: Int = 1) throws(ELFError) {
    var rewrites = CodeRewrites()
    try self.init(program: program, generation: generation, jobs: jobs, options: Options(), rewrites: &rewrites)
  }

  /// Decodes `program`'s code (`jobs` threads) and runs every pass with `options`,
  /// reading the kernel formats of `generation`. What the passes rewrite in the code
  /// is added to `rewrites` as they go, so that a pass that stops the check later
  /// leaves the earlier rewrites there (objtool writes them all the same).
  public convenience init(
    program: Program, generation: KernelGeneration, jobs: Int = 1, options: Options,
    rewrites: inout CodeRewrites
  ) throws(ELFError) {
    var statistics = ReadStatistics()
    try self.init(
      program: program, generation: generation, jobs: jobs, options: options, rewrites: &rewrites,
      statistics: &statistics)
  }

  /// The same, counting in `statistics` what objtool's `--stats` prints, pass by pass.
  public init(
    program: Program, generation: KernelGeneration, jobs: Int = 1, options: Options,
    rewrites: inout CodeRewrites, statistics: inout ReadStatistics
  ) throws(ELFError) {
    self.program = program
    self.generation = generation
    let rules = CheckRules.of(generation)
    self.rules = rules
    self.options = options
    let functions = program.functions
    let decoded = try InstructionTable.decode(program, jobs: jobs)
    // The .init.text stores into pv_ops are read while decoding (nr_insns is printed after).
    paravirt = options.noinstr ? try ParavirtCallTargets.read(program: program, table: decoded) : nil
    statistics.instructions = decoded.decodedCount

    // Parent/child by name (the one rule, `.cold` children only, as objtool's elf.c).
    var byName = Array(functions.functions.indices)
    for link in Subfunctions(table: functions, program: program).links.values where link.kind == .cold {
      if let p = link.parent { byName[link.child] = p }
    }
    let nameColdChild = JumpDestinations.coldChildren(parent: byName, functions: functions)

    let ignoredFunctions = try IgnoredFunctions(program: program, table: decoded, coldChild: nameColdChild)
    ignoreAlternatives = try IgnoredAlternatives(program: program, table: decoded).sites
    uaccessSafe = try UaccessSafeFunctions(program: program, generation: generation, enabled: options.uaccess)
    let noendbr = try NoendbrHints(program: program, table: decoded).instructions
    let classes = try SymbolClasses(program: program)
    let groups = try AlternativeGroups(
      program: program, table: decoded, generation: generation, uaccess: options.uaccess)
    var table = groups.table
    let staticKeys = try StaticKeyPaths(
      program: program, table: table, hackJumpLabel: options.hackJumpLabel, rewrites: &rewrites)
    for i in staticKeys.nopped { table.type[i] = .nop }
    let exceptions = try ExceptionPaths(program: program, table: table)
    statistics.jumpLabels = staticKeys.counts
    let jumps = try JumpDestinations(
      program: program, table: table, preset: groups.jumpDest, parent: byName, classes: classes, ibt: options.ibt)
    let intra = try IntraFunctionCalls(program: program, table: table)
    let calls = try CallDestinations(
      program: program, table: table, skip: intra.jumpDest, classes: classes, ignored: ignoredFunctions.instructions)
    let deadEnds = try DeadEnds(program: program, table: table)

    var type = table.type
    var jumpDest = jumps.jumpDest
    var callDest = [CallDest?](repeating: nil, count: table.count)
    for (i, t) in jumps.retyped { type[i] = t }
    for (i, d) in jumps.siblingCalls {
      callDest[i] = d
    }
    for (i, d) in intra.jumpDest {
      type[i] = .jumpUnconditional
      jumpDest[i] = Int32(d)
    }
    // The calls CallDestinations placed (every call but the intra-function ones).
    for (i, d) in calls.callDest where type[i] == .call && intra.jumpDest[i] == nil { callDest[i] = d }
    for i in calls.retpolineCalls where type[i] == .call && intra.jumpDest[i] == nil { type[i] = .callDynamic }
    let profiling =
      options.hackNoinstr
      ? try ProfilingCalls(
        program: program, table: table, classes: classes, jumps: jumps, calls: calls, rewrites: &rewrites
      ).retyped
      : [:]
    for (i, t) in profiling {
      type[i] = t
      callDest[i] = nil
    }
    let fentry =
      options.mcount
      ? try FentryCalls(
        program: program, table: table, classes: classes, jumps: jumps, calls: calls, rewrites: &rewrites)
      : nil
    for i in fentry?.sites ?? [] {
      type[i] = .nop
      callDest[i] = nil
    }
    let jumpTables = try JumpTables(
      program: program, table: table, type: type, jumpDest: jumpDest,
      parent: jumps.parent, coldChild: jumps.coldChild)
    let hints = try UnwindHints(
      program: program, table: table, generation: generation, ibt: options.ibt, noendbr: noendbr,
      rewrites: &rewrites)
    let retpolineHints = try RetpolineSafeHints(program: program, table: table, type: type)
    instrumentation = try InstrumentationHints(program: program, table: table).counts

    var alts: [Int: [Int]] = groups.streams
    var altKinds: [Int: [PathKind]] = groups.streams.mapValues { $0.map { _ in .alternative } }
    for (kind, paths) in [
      (PathKind.staticKey, staticKeys.paths), (.exceptionFixup, exceptions.paths),
      (.jumpTable, jumpTables.paths),
    ] {
      for (i, p) in paths {
        alts[i, default: []] += p
        altKinds[i, default: []] += p.map { _ in kind }
      }
    }
    if rules.alternativesLastAddedFirst {
      for (i, p) in alts { alts[i] = p.reversed() }
      for (i, k) in altKinds { altKinds[i] = k.reversed() }
    }
    self.table = table
    self.type = type
    self.jumpDest = jumpDest
    self.callDest = callDest
    self.deadEnd = deadEnds.instructions
    self.annotatedReachable = deadEnds.reachable
    self.parent = jumps.parent
    self.coldChild = jumps.coldChild
    self.ignored = ignoredFunctions.instructions + Array(repeating: false, count: table.count - decoded.count)
    self.alternatives = groups
    self.alts = alts
    self.altKinds = altKinds
    self.usesJumpTable = jumpTables.jumps
    self.ignoreUnreachables = jumpTables.ignoreUnreachables
    self.hints = hints
    self.readWarnings = groups.warnings + (fentry?.warnings ?? []) + hints.warnings
    self.noendbr = noendbr
    self.fentryCalls = fentry?.sites ?? []
    self.endbr = EndbrInstructions(program: program, table: decoded)
    self.callDestSymbol = jumps.siblingCallSymbols.merging(calls.callSymbols) { a, _ in a }
    self.classes = classes
    self.callSites = CallSites(program: program, table: table, classes: classes, jumps: jumps, calls: calls)
    // A tail call turned into `ret; int3` is retpoline_safe too (no SLS or rethunk warning).
    self.retpolineSafe = retpolineHints.instructions.union(jumps.retyped.keys).union(calls.retpolineCalls)
      .union(profiling.filter { $0.value == .return }.keys)
    self.profilingCalls = profiling
    self.noppedStaticKeys = staticKeys.nopped
    var isHint = [Bool](repeating: false, count: table.count)
    for i in hints.hinted { isHint[i] = true }
    self.isHint = isHint
    var hasAlternatives = [Bool](repeating: false, count: table.count)
    for i in alts.keys { hasAlternatives[i] = true }
    self.hasAlternatives = hasAlternatives
    var hasOverride = [Bool](repeating: false, count: table.count)
    for i in groups.nextOverride.keys { hasOverride[i] = true }
    self.hasOverride = hasOverride
    let usesJumpTable = jumpTables.jumps
    self.noreturn = NoreturnFunctions(
      program: program, table: table, type: type, jumpDest: jumpDest,
      siblingCall: { i in
        Self.isSiblingCall(i, table: table, type: type, callDest: callDest, usesJumpTable: usesJumpTable)
      },
      coldChild: jumps.coldChild, destinations: callDest, generation: generation)
  }

  /// `is_sibling_call()`: an indirect jump is one unless it uses a jump table; a
  /// direct jump is one when it has a call destination.
  static func isSiblingCall(
    _ i: Int, table: InstructionTable, type: [InsnType], callDest: [CallDest?],
    usesJumpTable: Set<Int>
  ) -> Bool {
    guard table.function[i] >= 0 else { return false }
    if type[i] == .jumpDynamic { return !usesJumpTable.contains(i) }
    return (type[i] == .jumpConditional || type[i] == .jumpUnconditional) && callDest[i] != nil
  }

  /// Instruction `i`'s stack operations: none for a call (`remove_insn_ops()` in
  /// `add_call_dest()`: the callee's return undoes its push), nor for a call turned
  /// into a NOP (`--hacks=noinstr`), else as decoded.
  @inline(__always)
  public func ops(_ i: Int) -> StackOps {
    opsRemoved(i) ? StackOps() : table.ops(i)
  }

  /// Whether instruction `i` has stack operations (``ops(_:)`` is not empty), without building them.
  @inline(__always)
  public func hasOps(_ i: Int) -> Bool {
    table.opStart[i] != table.opStart[i + 1] && !opsRemoved(i)
  }

  @inline(__always)
  func opsRemoved(_ i: Int) -> Bool {
    let t = type[i]
    return t == .call || t == .callDynamic || (t == .nop && table.type[i] == .call)
  }

  /// `is_sibling_call()`.
  public func isSiblingCall(_ i: Int) -> Bool {
    Self.isSiblingCall(i, table: table, type: type, callDest: callDest, usesJumpTable: usesJumpTable)
  }

  /// Whether instruction `i` ends every path through it: a dead end, or a call that never returns.
  public func isDeadEnd(_ i: Int) -> Bool {
    deadEnd[i] || (noreturn.isNoreturn(callDest[i]) && !annotatedReachable.contains(i))
  }

  /// Whether code section `s` is noinstr (`sec->noinstr`: `.noinstr.text`, `.entry.text`,
  /// `.text..__x86.*`).
  public func isNoinstrSection(_ s: Int) -> Bool {
    let section = program.file.sections[s]
    return section.flags.contains(.execInstr) && ProfilingCalls.isNoinstrSection(section.name)
  }

  /// `next_insn_to_validate()`: a replacement stream continues after its original.
  public func nextToValidate(_ i: Int) -> Int? {
    if hasOverride[i], let o = alternatives.nextOverride[i] { return o >= 0 ? o : nil }
    return table.next(i)
  }

  /// `offstr()` of instruction `i`.
  public func offstr(_ i: Int) -> String { program.offstr(table.place(i)) }

  /// The diagnostic place of instruction `i`.
  public func place(_ i: Int) -> Diagnostic.Place { program.diagnosticPlace(table.place(i)) }
}

/// How validation entered a stretch of a path (objtool's `--backtrace` says `(branch)`
/// or `(alt)` for the last two).
public enum PathKind: String, Sendable, Hashable, Codable {
  /// The first instruction of a function (`validate_symbol()`).
  case functionEntry = "function entry"
  /// An unwind hint no function reached (`validate_unwind_hints()`).
  case unwindHint = "unwind hint"
  /// A jump's target.
  case jump = "jump taken"
  /// A replacement stream of an `.altinstructions` site.
  case alternative = "alternative stream"
  /// The other way of a static-key site (`__jump_table`).
  case staticKey = "static key"
  /// An exception fixup (`__ex_table`).
  case exceptionFixup = "exception fixup"
  /// A switch table's target.
  case jumpTable = "jump table target"
  /// Where `--unret` starts (`insn->entry`: an `UNWIND_HINT_ENTRY`, or an
  /// `UNWIND_HINT_IRET_REGS` at a global symbol); objtool's backtrace does not name it.
  case unretEntry = "entry point"
  /// A conditional jump's target, where `--unret` went (`(branch-cond)`).
  case conditionalJump = "conditional jump taken"
  /// A called function, which `--unret` follows (`(call)`).
  case call = "call"
  /// Where the path stops short of the next instruction (a return, a jump elsewhere, a
  /// call to a noreturn function, a dead end): the last step of an unreachable
  /// instruction's explanation.
  case pathEnds = "path ends"
  /// An instruction no path starts at or reaches (code outside any function, an ignored function).
  case noEntry = "no path starts here"
}
