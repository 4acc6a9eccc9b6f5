import ELF
import X86

/// `annotate_call_site()` and `add_return_call()`: the call sites objtool lists for
/// the sections it writes, each list in objtool's order (`list_add_tail()` as
/// `add_jump_destinations()`, then `add_call_destinations()`, reach each site, in
/// instruction order). Sites in `.altinstr_replacement` (template code the kernel copies)
/// are not listed as static calls or retpoline calls; returns through the thunk are.
public struct CallSites: Sendable {
  /// A call or sibling call through a static call trampoline (`file->static_call_list`).
  public struct StaticCall: Sendable, Hashable {
    /// The call (or jump) instruction.
    public var instruction: Int
    /// The trampoline's symbol (`__SCT__name`), by symbol-table index.
    public var trampoline: Int
    /// A sibling call (`is_sibling_call()`: `STATIC_CALL_SITE_TAIL`).
    public var tail: Bool
  }

  /// `file->static_call_list`: what `.static_call_sites` is made from.
  public let staticCalls: [StaticCall]
  /// `file->retpoline_call_list`: calls and jumps through a retpoline thunk (`.retpoline_sites`).
  public let retpolineCalls: [Int]
  /// `file->return_thunk_list`: jumps to `__x86_return_thunk` (`.return_sites`).
  public let returnThunks: [Int]

  public init(
    program: Program, table: InstructionTable, classes: SymbolClasses, jumps: JumpDestinations,
    calls: CallDestinations
  ) {
    let replacement = program.file.sections.map { $0.name == ".altinstr_replacement" }
    func annotated(_ i: Int) -> Bool { !replacement[Int(table.section[i])] }
    var staticCalls: [StaticCall] = []
    var retpolineCalls: [Int] = []
    // add_jump_destinations(): sibling calls and jumps through a retpoline thunk (JumpDestinations
    // makes a jump one or the other), in instruction order.
    var jumpSites: [(instruction: Int, symbol: Int)] = []
    for (i, sym) in jumps.siblingCallSymbols where classes[sym].contains(.staticCallTrampoline) {
      jumpSites.append((i, sym))
    }
    for (i, t) in jumps.retyped
    where jumps.siblingCallSymbols[i] == nil && (t == .jumpDynamic || t == .jumpDynamicConditional) {
      jumpSites.append((i, -1))
    }
    for (i, sym) in jumpSites.mergeSorted(by: { $0.instruction < $1.instruction }) where annotated(i) {
      if sym >= 0 {
        staticCalls.append(StaticCall(instruction: i, trampoline: sym, tail: true))
      } else {
        retpolineCalls.append(i)
      }
    }
    // add_call_destinations(): calls (through a retpoline thunk or to a symbol, never both).
    var callSites: [(instruction: Int, symbol: Int)] = []
    for i in calls.retpolineCalls { callSites.append((i, -1)) }
    for (i, sym) in calls.callSymbols
    where !calls.retpolineCalls.contains(i) && classes[sym].contains(.staticCallTrampoline) {
      callSites.append((i, sym))
    }
    for (i, sym) in callSites.mergeSorted(by: { $0.instruction < $1.instruction }) where annotated(i) {
      if sym >= 0 {
        staticCalls.append(StaticCall(instruction: i, trampoline: sym, tail: false))
      } else {
        retpolineCalls.append(i)
      }
    }
    self.staticCalls = staticCalls
    self.retpolineCalls = retpolineCalls
    self.returnThunks = jumps.returnThunkJumps
  }
}

/// `read_retpoline_hints()`: the instructions `.discard.retpoline_safe` lists
/// (`ANNOTATE_RETPOLINE_SAFE`, `ANNOTATE_UNRET_SAFE`): an indirect jump, indirect call,
/// return or NOP the retpoline, rethunk and SLS checks leave alone.
public struct RetpolineSafeHints: Sendable {
  public let instructions: Set<Int>

  /// - Parameter type: each instruction's type once the other passes have classified it.
  public init(program: Program, table: InstructionTable, type: [InsnType]) throws(ELFError) {
    var instructions = Set<Int>()
    let name = ".rela.discard.retpoline_safe"
    for (sym, addend, o) in try program.annotationPlaces(".discard.retpoline_safe") {
      guard sym.type == .section else {
        throw program.stop("unexpected relocation symbol type in \(name)", at: o)
      }
      guard let i = table.instruction(in: sym.sectionIndex, at: UInt64(bitPattern: addend)) else {
        throw program.stop("bad .discard.retpoline_safe entry", at: o)
      }
      switch type[i] {
      case .jumpDynamic, .callDynamic, .return, .nop: break
      default:
        throw program.stop(
          "retpoline_safe hint not an indirect jump/call/ret/nop", section: Int(table.section[i]),
          offset: UInt64(table.offset[i]))
      }
      instructions.insert(i)
    }
    self.instructions = instructions
  }
}
