/// The base register of an ORC `sp_reg` / `bp_reg` field (mirrors `ORC_REG_*`
/// in `arch/x86/include/asm/orc_types.h`; the same in 6.1 and 6.12).
public struct ORCRegister: RawRepresentable, Hashable, Sendable {
  public var rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue & 0xf }
  /// The corresponding C constant is `ORC_REG_UNDEFINED`.
  public static let undefined = ORCRegister(rawValue: 0)
  /// The corresponding C constant is `ORC_REG_PREV_SP`.
  public static let prevSP = ORCRegister(rawValue: 1)
  /// The corresponding C constant is `ORC_REG_DX`.
  public static let dx = ORCRegister(rawValue: 2)
  /// The corresponding C constant is `ORC_REG_DI`.
  public static let di = ORCRegister(rawValue: 3)
  /// The corresponding C constant is `ORC_REG_BP`.
  public static let bp = ORCRegister(rawValue: 4)
  /// The corresponding C constant is `ORC_REG_SP`.
  public static let sp = ORCRegister(rawValue: 5)
  /// The corresponding C constant is `ORC_REG_R10`.
  public static let r10 = ORCRegister(rawValue: 6)
  /// The corresponding C constant is `ORC_REG_R13`.
  public static let r13 = ORCRegister(rawValue: 7)
  /// The corresponding C constant is `ORC_REG_BP_INDIRECT`.
  public static let bpIndirect = ORCRegister(rawValue: 8)
  /// The corresponding C constant is `ORC_REG_SP_INDIRECT`.
  public static let spIndirect = ORCRegister(rawValue: 9)

  /// objtool's name for the register (`reg_name()` in its ORC dump).
  public var objtoolName: String {
    switch self {
    case .prevSP: return "prevsp"
    case .dx: return "dx"
    case .di: return "di"
    case .bp: return "bp"
    case .sp: return "sp"
    case .r10: return "r10"
    case .r13: return "r13"
    case .bpIndirect: return "bp(ind)"
    case .spIndirect: return "sp(ind)"
    default: return "?"
    }
  }
}
