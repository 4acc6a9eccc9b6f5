/// What objtool 6.1's `--stats` prints while it reads an object, filled in by the passes
/// as they succeed (a pass that stops the check leaves the later ones unset, and objtool
/// prints only what it reached).
public struct ReadStatistics: Sendable, Hashable {
  /// `nr_insns` (`decode_instructions()`): the decoded instructions.
  public var instructions: Int?
  /// The `__jump_table` sites by kind (`add_special_section_alts()`).
  public var jumpLabels: JumpLabelCounts?

  public init() {}
}

/// `file->jl_nop_short`, `jl_short`, `jl_nop_long`, `jl_long`: each `__jump_table` entry's
/// site, a NOP or a JMP (after `--hacks=jump_label`), of two bytes or more.
public struct JumpLabelCounts: Sendable, Hashable {
  public var nopShort = 0
  public var jumpShort = 0
  public var nopLong = 0
  public var jumpLong = 0
  public init() {}
}
