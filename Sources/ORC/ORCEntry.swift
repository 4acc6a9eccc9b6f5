/// One ORC entry (`struct orc_entry`), as stored: the generation-specific
/// meaning of ``rawType`` and ``flag`` is given by an ``ORCLayout``.
public struct ORCEntry: Hashable, Sendable {
  /// `sp_offset`: the CFA is `sp_reg + sp_offset`.
  public var spOffset: Int16
  /// `bp_offset`: where the caller's BP was saved, relative to `bp_reg`.
  public var bpOffset: Int16
  /// `sp_reg`.
  public var spReg: ORCRegister
  /// `bp_reg`.
  public var bpReg: ORCRegister
  /// The encoded `type`.
  public var rawType: UInt8
  /// `end` (6.1) or `signal` (6.12).
  public var flag: Bool

  public init(
    spOffset: Int16, bpOffset: Int16, spReg: ORCRegister, bpReg: ORCRegister,
    rawType: UInt8, flag: Bool
  ) {
    self.spOffset = spOffset
    self.bpOffset = bpOffset
    self.spReg = spReg
    self.bpReg = bpReg
    self.rawType = rawType
    self.flag = flag
  }
}
