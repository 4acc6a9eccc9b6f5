import ELF
import Kernel

/// `add_ignores()`: the instructions of the functions listed in
/// `.discard.func_stack_frame_non_standard` (`STACK_FRAME_NON_STANDARD()`),
/// which validation skips (`insn->ignore`).
public struct IgnoredFunctions: Sendable {
  /// Per decoded instruction: whether it is ignored.
  public let instructions: [Bool]

  /// Reads the annotation of `program`; `coldChild` extends a function by its `.cold` child.
  public init(program: Program, table: InstructionTable, coldChild: [Int: Int]) throws(ELFError) {
    var ignored = Array(repeating: false, count: table.count)
    for (sym, addend, _) in try program.annotationPlaces(".discard.func_stack_frame_non_standard") {
      let fn: Int?
      switch sym.type {
      case .function: fn = program.functions.function(symbolIndex: sym.index)
      case .section:
        fn = program.functions.firstFunction(
          at: SectionPlace(section: sym.sectionIndex, offset: UInt64(bitPattern: addend)))
      default: fn = nil
      }
      guard let fn else { continue }
      for i in table.instructions(ofFunction: fn, in: program.functions, coldChild: coldChild) { ignored[i] = true }
    }
    instructions = ignored
  }
}
