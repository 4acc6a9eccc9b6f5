/// One decoded x86-64 instruction as objtool's decoder sees it
/// (`struct instruction`'s decoded fields, tools/objtool/include/objtool/check.h):
/// length, type, first immediate and stack operations.
public struct X86Instruction: Sendable, Hashable {
  /// Its length in bytes.
  public var length: Int
  /// objtool's instruction type.
  public var type: InsnType
  /// The first immediate, sign-extended (a direct branch's displacement).
  public var immediate: Int64
  /// The offset of the first immediate within the instruction (0 when there is none).
  public var immediateOffset: UInt8
  /// What the instruction does to the stack.
  public var ops: StackOps

  /// Whether this is a direct (relative) call or jump.
  public var isDirectBranch: Bool {
    (type == .call || type == .jumpConditional || type == .jumpUnconditional) && immediateOffset > 0
  }

  /// Creates an instruction.
  public init(length: Int, type: InsnType, immediate: Int64, immediateOffset: UInt8, ops: StackOps) {
    self.length = length
    self.type = type
    self.immediate = immediate
    self.immediateOffset = immediateOffset
    self.ops = ops
  }
}
