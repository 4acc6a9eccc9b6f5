/// One decoded x86-64 instruction, classified for control flow.
public struct X86Instruction: Sendable, Hashable {
  /// What the instruction does to control flow.
  public enum Kind: Sendable, Hashable {
    /// `call rel32`.
    case call
    /// `call *…`.
    case indirectCall
    /// `jmp rel8/rel32`.
    case jump
    /// `jcc rel8/rel32` (and `jrcxz`, `loop`).
    case conditionalJump
    /// `jmp *…`.
    case indirectJump
    /// `ret` / `ret imm16`.
    case ret
    /// `endbr64`.
    case endbr
    /// A NOP of any length.
    case nop
    /// `ud2`, `int3`, `hlt`.
    case trap
    /// Anything else.
    case other
  }

  /// The offset of the instruction in the decoded buffer.
  public var offset: Int
  /// Its length in bytes.
  public var length: Int
  /// Its kind.
  public var kind: Kind
  /// For a direct branch: the offset of the relative immediate within the instruction.
  public var immediateOffset: Int
  /// For a direct branch: the size of the relative immediate in bytes.
  public var immediateSize: Int
  /// For a direct branch: the displacement from the end of the instruction.
  public var displacement: Int64

  /// Whether this is a direct (relative) branch or call.
  public var isDirectBranch: Bool {
    kind == .call || kind == .jump || kind == .conditionalJump
  }

  /// For a direct branch: the target, as an offset in the same buffer.
  public var targetOffset: Int64 { Int64(offset + length) + displacement }
}
