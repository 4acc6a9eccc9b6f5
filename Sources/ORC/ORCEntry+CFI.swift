import Program

extension ORCEntry {
  /// The entry that says "no state": objtool 6.1's CALL with an undefined SP; 6.12 encodes its type as UNDEFINED.
  public static let empty = ORCEntry(
    spOffset: 0, bpOffset: 0, spReg: .undefined, bpReg: .undefined, rawType: 0,
    flag: false)

  /// `init_orc_entry()` (tools/objtool/orc_gen.c): the ORC entry of an
  /// instruction whose CFI is `state` (nil: never reached), in `layout`'s encoding.
  public init(cfi state: CFIState?, layout: ORCLayout) {
    self = .empty
    guard let s = state else { return }  // 6.1: CALL with sp undefined; 6.12: ORC_TYPE_UNDEFINED
    flag = layout.generation == .v6_12 ? s.signal : s.end
    guard s.cfa.base != CFIBase.undefined else {
      if layout.generation == .v6_12 { rawType = layout.rawType(.call) ?? 0 }
      return
    }
    switch s.cfa.base {
    case CFIBase.sp: spReg = .sp
    case CFIBase.spIndirect: spReg = .spIndirect
    case CFIBase.bp: spReg = .bp
    case CFIBase.bpIndirect: spReg = .bpIndirect
    case CFIBase.r10: spReg = .r10
    case CFIBase.r13: spReg = .r13
    case CFIBase.di: spReg = .di
    case CFIBase.dx: spReg = .dx
    default: break
    }
    let bp = s.regs[5]
    switch bp.base {
    case CFIBase.cfa: bpReg = .prevSP
    case CFIBase.bp: bpReg = .bp
    default: bpReg = .undefined
    }
    spOffset = Int16(truncatingIfNeeded: s.cfa.offset)
    bpOffset = Int16(truncatingIfNeeded: bp.offset)
    // The state's type is objtool 6.1's UNWIND_HINT_TYPE_* (CALL 0, REGS 1, REGS_PARTIAL 2);
    // the layout encodes it (6.12: ORC_TYPE_CALL is 2).
    let frame: ORCFrameType = s.type == 1 ? .regs : s.type == 2 ? .regsPartial : .call
    rawType = layout.rawType(frame) ?? s.type
  }
}

extension ORCDump {
  /// `sp:REG+N bp:REG+N` of `e`, as `--dump=orc` prints those two fields.
  public static func registersText(_ e: ORCEntry) -> String {
    var out: [UInt8] = []
    appendASCII("sp:", to: &out)
    appendRegister(e.spReg, e.spOffset, to: &out)
    appendASCII(" bp:", to: &out)
    appendRegister(e.bpReg, e.bpOffset, to: &out)
    return String(decoding: out, as: UTF8.self)
  }
}
