import ELF
import Kernel
import X86

/// Where a call (or a sibling call) goes: a function of this file, or a symbol
/// it does not define.
public enum CallDest: Sendable, Hashable {
  case function(Int)
  case external(String)
}

/// Whether `name` is a retpoline thunk (`__x86_indirect_thunk_*`, `__x86_indirect_call_thunk_*`, …).
func isRetpolineThunk(_ name: String) -> Bool { name.hasPrefix("__x86_indirect_") }

/// `add_jump_destinations()`: where each direct jump goes. A jump to another
/// function's first instruction is a sibling call; a jump through a retpoline
/// thunk is an indirect jump; one to `__x86_return_thunk` a return; a jump from
/// a function into a `.cold` function makes that its child.
public struct JumpDestinations: Sendable {
  /// Per instruction: the jump target instruction, or -1.
  public let jumpDest: [Int32]
  /// Jumps that are sibling calls, and where they go.
  public let siblingCalls: [Int: CallDest]
  /// Jumps whose type changes: retpoline thunks (dynamic jumps), the return thunk (returns).
  /// Each is `retpoline_safe` (a thunk is the mitigation).
  public let retyped: [Int: InsnType]
  /// The symbol each sibling call names (`insn->call_dest`), by symbol-table index.
  public let siblingCallSymbols: [Int: Int]
  /// Jumps to `__x86_return_thunk` (`add_return_call(file, insn, true)`: `file->return_thunk_list`),
  /// in instruction order.
  public let returnThunkJumps: [Int]
  /// Parent of each function (`pfunc`), the jump rule applied.
  public let parent: [Int]
  /// Each parent's `.cold` child (`cfunc`), the jump rule applied.
  public let coldChild: [Int: Int]

  /// - Parameters:
  ///   - preset: jumps already placed (replacement jumps to the end of their stream).
  ///   - parent: each function's parent before this pass (by name).
  ///   - classes: the global symbols objtool treats specially (`classify_symbols()`).
  ///   - ibt: objtool's `--ibt`: a jump to the instruction after a function's leading
  ///     `ENDBR` is a sibling call too (`is_first_func_insn()`).
  public init(
    program: Program, table: InstructionTable, preset: [Int: Int], parent initialParent: [Int],
    classes: SymbolClasses, ibt: Bool = false
  ) throws(ELFError) {
    let functions = program.functions
    let file = program.file
    var jumpDest = [Int32](repeating: -1, count: table.count)
    for (i, d) in preset { jumpDest[i] = Int32(d) }
    var siblingCalls: [Int: CallDest] = [:]
    var retyped: [Int: InsnType] = [:]
    var siblingCallSymbols: [Int: Int] = [:]
    var returnThunkJumps: [Int] = []
    var parent = initialParent
    for i in 0..<table.count where table.type[i] == .jumpConditional || table.type[i] == .jumpUnconditional {
      if jumpDest[i] >= 0 { continue }
      let fn = table.function[i]
      var destSection = Int(table.section[i])
      var destOffset: UInt64
      let start = UInt64(table.offset[i])
      if let r = program.relocations.first(in: destSection, start..<start + UInt64(table.length[i])) {
        let sym = try program.symbols.symbol(at: Int(r.symbolIndex))
        let symbolClass = classes[Int(r.symbolIndex)]
        if sym.type == .section {
          guard sym.sectionIndex < file.sections.count else { continue }
          destSection = sym.sectionIndex
          destOffset = UInt64(bitPattern: r.addend &+ 4)
        } else if symbolClass.contains(.retpolineThunk) {
          retyped[i] = table.type[i] == .jumpUnconditional ? .jumpDynamic : .jumpDynamicConditional
          continue
        } else if symbolClass.contains(.returnThunk) {
          retyped[i] = .return
          returnThunkJumps.append(i)
          continue
        } else if fn >= 0 {
          let f = sym.isDefined ? functions.function(symbolIndex: Int(r.symbolIndex)) : nil
          if let f {
            siblingCalls[i] = .function(f)
          } else {
            siblingCalls[i] = .external(try program.symbols.name(of: sym))
          }
          siblingCallSymbols[i] = Int(r.symbolIndex)
          continue
        } else if sym.isDefined && sym.sectionIndex < file.sections.count {
          destSection = sym.sectionIndex
          destOffset = UInt64(bitPattern: Int64(bitPattern: sym.value) &+ r.addend &+ 4)
        } else {
          continue
        }
      } else {
        let place = program.branchPlace(
          section: destSection,
          offset: UInt64(bitPattern: Int64(table.offset[i]) + Int64(table.length[i]) &+ table.immediate[i]))
        destSection = place.section
        destOffset = place.offset
        if program.isLinked {
          // What the object's relocation named: a thunk, by its symbol at the address.
          let names = program.linkedNames(at: program.address(of: place))
          if names.contains(where: isRetpolineThunk) {
            retyped[i] = table.type[i] == .jumpUnconditional ? .jumpDynamic : .jumpDynamicConditional
            continue
          } else if names.contains("__x86_return_thunk") {
            retyped[i] = .return
            continue
          }
        }
      }
      guard let dest = table.instruction(in: destSection, at: destOffset) else {
        // retbleed_untrain_ret() jumps to the RET that starts a global symbol inside another
        // instruction (`retbleed_return_thunk`, `srso_safe_ret`: arch_is_embedded_insn()):
        // objtool takes the jump as a return (add_return_call(), not listed in .return_sites).
        if try Self.isEmbeddedInstruction(program: program, section: destSection, offset: destOffset) {
          retyped[i] = .return
          continue
        }
        let name = destSection >= 0 && destSection < file.sections.count ? file.sections[destSection].name : "?"
        throw program.stop(
          "can't find jump dest instruction at \(name)+0x\(String(destOffset, radix: 16))",
          section: Int(table.section[i]), offset: start)
      }
      let from = Int(fn)
      let to = Int(table.function[dest])
      if from >= 0 && to >= 0 && from != to {
        let fromName = functions.functions[from].name
        let toName = functions.functions[to].name
        if !fromName.contains(ascii: ".cold") && toName.contains(ascii: ".cold") {
          parent[to] = from
        } else if parent[from] != parent[to]
          && Self.isFirstInstruction(dest, of: functions.functions[to], table, ibt: ibt)
        {
          siblingCalls[i] = .function(to)
          siblingCallSymbols[i] = functions.functions[to].symbolIndex
          continue
        }
      }
      jumpDest[i] = Int32(dest)
    }
    self.jumpDest = jumpDest
    self.siblingCalls = siblingCalls
    self.retyped = retyped
    self.siblingCallSymbols = siblingCallSymbols
    self.returnThunkJumps = returnThunkJumps
    self.parent = parent
    self.coldChild = Self.coldChildren(parent: parent, functions: functions)
  }

  /// `is_first_func_insn()`: instruction `i` starts `function`, or with `--ibt` follows
  /// the `ENDBR` that starts it.
  static func isFirstInstruction(_ i: Int, of function: Function, _ table: InstructionTable, ibt: Bool) -> Bool {
    let offset = UInt64(table.offset[i])
    if offset == function.offset { return true }
    guard ibt, i > 0, table.section[i - 1] == table.section[i], table.function[i - 1] == table.function[i],
      table.type[i - 1] == .endbr
    else { return false }
    return offset == function.offset + UInt64(table.length[i - 1])
  }

  /// objtool 6.1's `arch_is_embedded_insn()` names: global symbols that start inside another instruction.
  public static let embeddedInstructionSymbols: Set<String> = ["retbleed_return_thunk", "srso_safe_ret"]

  /// Whether a global symbol of `embeddedInstructionSymbols` starts at `offset` of `section`
  /// (`find_symbol_by_offset()`: any symbol but a section's).
  static func isEmbeddedInstruction(program: Program, section: Int, offset: UInt64) throws(ELFError) -> Bool {
    let symbols = program.symbols
    let linked = program.isLinked
    for k in 0..<symbols.count {
      let s = try symbols.symbol(at: k)
      guard s.sectionIndex == section, s.type != .section, s.binding == .global, s.size > 0 else { continue }
      let at =
        linked && section < program.file.sections.count ? s.value &- program.file.sections[section].address : s.value
      if at == offset, embeddedInstructionSymbols.contains(try symbols.name(of: s)) { return true }
    }
    return false
  }

  /// Each parent's `.cold` child: the first `.cold` function (by symbol order) whose parent it is.
  public static func coldChildren(parent: [Int], functions: FunctionTable) -> [Int: Int] {
    var map: [Int: Int] = [:]
    for c in parent.indices
    where parent[c] != c && map[parent[c]] == nil
      && functions.functions[c].name.contains(ascii: ".cold")
    {
      map[parent[c]] = c
    }
    return map
  }
}
