import ELF
import FuzzSupport
import Kernel
import Program

/// libFuzzer entry: the program model and each pass of Sources/Program/Passes
/// on its own, in the order ControlFlowGraph runs them, so that a crash's
/// stack names the pass. Program (functions, relocation index), Subfunctions,
/// InstructionTable.decode, then per generation: IgnoredFunctions,
/// IgnoredAlternatives, AlternativeGroups, StaticKeyPaths, ExceptionPaths,
/// JumpDestinations, IntraFunctionCalls, CallDestinations, DeadEnds,
/// JumpTables, UnwindHints, NoreturnFunctions. A pass that throws leaves the
/// ones after it to run on what came before, where they can.
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  guard let file = try? ELFFile(source: fuzzInput(data, size)), let program = try? Program(file: file) else {
    return 0
  }
  let functions = program.functions
  let subfunctions = Subfunctions(table: functions, program: program)
  _ = subfunctions.orphans
  for id in functions.functions.indices.prefix(256) {
    _ = subfunctions.root(of: id)
    _ = subfunctions.descendants(of: id)
    let f = functions.functions[id]
    _ = program.offstr(SectionPlace(section: f.section, offset: f.offset &+ 1))
    _ = functions.function(containing: f.offset, in: f.section)
  }
  guard let decoded = try? InstructionTable.decode(program) else { return 0 }

  var byName = Array(functions.functions.indices)
  for link in subfunctions.links.values where link.kind == .cold {
    if let p = link.parent { byName[link.child] = p }
  }
  let nameColdChild = JumpDestinations.coldChildren(parent: byName, functions: functions)
  _ = try? IgnoredFunctions(program: program, table: decoded, coldChild: nameColdChild)
  _ = try? IgnoredAlternatives(program: program, table: decoded)

  guard let classes = try? SymbolClasses(program: program) else { return 0 }
  for generation in KernelGeneration.allCases {
    let groups = try? AlternativeGroups(program: program, table: decoded, generation: generation)
    let table = groups?.table ?? decoded
    _ = try? StaticKeyPaths(program: program, table: table)
    var rewrites = CodeRewrites()
    _ = try? StaticKeyPaths(program: program, table: table, hackJumpLabel: true, rewrites: &rewrites)
    _ = try? ExceptionPaths(program: program, table: table)
    let jumps = try? JumpDestinations(
      program: program, table: table, preset: groups?.jumpDest ?? [:], parent: byName, classes: classes)
    let intra = try? IntraFunctionCalls(program: program, table: table)
    let calls = try? CallDestinations(
      program: program, table: table, skip: intra?.jumpDest ?? [:], classes: classes)
    _ = try? DeadEnds(program: program, table: table)
    _ = try? UnwindHints(program: program, table: table, generation: generation)
    guard let jumps else { continue }

    // The types and destinations the later passes read, merged as ControlFlowGraph merges them.
    var type = table.type
    var jumpDest = jumps.jumpDest
    var callDest = [CallDest?](repeating: nil, count: table.count)
    for (i, t) in jumps.retyped { type[i] = t }
    for (i, d) in jumps.siblingCalls { callDest[i] = d }
    for (i, d) in intra?.jumpDest ?? [:] {
      type[i] = .jumpUnconditional
      jumpDest[i] = Int32(d)
    }
    for i in 0..<table.count where type[i] == .call && intra?.jumpDest[i] == nil {
      if calls?.retpolineCalls.contains(i) == true { type[i] = .callDynamic }
      callDest[i] = calls?.callDest[i]
    }
    let jumpTables = try? JumpTables(
      program: program, table: table, type: type, jumpDest: jumpDest, parent: jumps.parent,
      coldChild: jumps.coldChild)
    let usesJumpTable = jumpTables?.jumps ?? []
    let finalType = type
    let finalCallDest = callDest
    let noreturn = NoreturnFunctions(
      program: program, table: table, type: type, jumpDest: jumpDest,
      siblingCall: { i in
        guard table.function[i] >= 0 else { return false }
        if finalType[i] == .jumpDynamic { return !usesJumpTable.contains(i) }
        return (finalType[i] == .jumpConditional || finalType[i] == .jumpUnconditional) && finalCallDest[i] != nil
      },
      coldChild: jumps.coldChild, destinations: callDest, generation: generation)
    for d in callDest.prefix(4096) { _ = noreturn.isNoreturn(d) }
    if let calls { _ = CallSites(program: program, table: table, classes: classes, jumps: jumps, calls: calls) }
    _ = try? RetpolineSafeHints(program: program, table: table, type: type)
  }
  return 0
}
