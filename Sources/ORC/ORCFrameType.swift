/// What kind of frame an ORC entry describes, independent of its encoding.
///
/// 6.1 encodes CALL, REGS, REGS_PARTIAL as 0, 1, 2 (the `UNWIND_HINT_TYPE_*`
/// values); 6.12 encodes UNDEFINED, END_OF_STACK, CALL, REGS, REGS_PARTIAL
/// as 0–4 (`ORC_TYPE_*`). ``ORCLayout`` maps between the two.
public enum ORCFrameType: Hashable, Sendable {
  /// `ORC_TYPE_UNDEFINED` (6.12): no unwind information.
  case undefined
  /// `ORC_TYPE_END_OF_STACK` (6.12): the last frame.
  case endOfStack
  /// `ORC_TYPE_CALL`: a frame entered by CALL; the return address is at the CFA - 8.
  case call
  /// `ORC_TYPE_REGS`: a full `pt_regs` frame.
  case regs
  /// `ORC_TYPE_REGS_PARTIAL`: an IRET frame at the top of `pt_regs`.
  case regsPartial
  /// A value this generation does not define.
  case unknown(UInt8)

  /// objtool's name for the type (`orc_type_name()` in its ORC dump).
  public var objtoolName: String {
    switch self {
    case .undefined: return "(und)"
    case .endOfStack: return "end"
    case .call: return "call"
    case .regs: return "regs"
    case .regsPartial: return "regs (partial)"
    case .unknown: return "?"
    }
  }
}
