/// A CFI base (objtool's `CFI_*` numbering, tools/objtool/arch/x86/include/arch/cfi_regs.h
/// and include/objtool/cfi.h): registers 0–15 in x86 encoding order, then
/// the pseudo-bases.
public enum CFIBase {
  public static let undefined: Int8 = -1
  public static let cfa: Int8 = -2
  public static let spIndirect: Int8 = -3
  public static let bpIndirect: Int8 = -4
  public static let sp: Int8 = 4
  public static let bp: Int8 = 5
  public static let dx: Int8 = 2
  public static let di: Int8 = 7
  public static let r10: Int8 = 10
  public static let r13: Int8 = 13
}

/// `struct cfi_reg`: where a value lives, relative to a base.
public struct CFIReg: Hashable, Sendable {
  public var base: Int8
  public var offset: Int32
  public init(_ base: Int8, _ offset: Int32) {
    self.base = base
    self.offset = offset
  }
  public static let undefined = CFIReg(CFIBase.undefined, 0)
}

/// `struct cfi_state`: the stack state at an instruction.
public struct CFIState: Hashable, Sendable {
  /// Where the canonical frame address is.
  public var cfa: CFIReg
  /// Where each callee-saved register (and `CFI_RA`) was saved.
  public var regs: [CFIReg]
  /// Values of registers that hold stack addresses (`mov %rsp, %reg`).
  public var vals: [CFIReg]
  public var stackSize: Int32 = 0
  public var drapReg: Int8 = CFIBase.undefined
  public var drapOffset: Int32 = -1
  public var drap = false
  public var bpScratch = false
  /// `end`: the unwinder should stop here (6.1 hints).
  public var end = false
  /// `signal`: the frame was interrupted, not called (6.12 hints).
  public var signal = false
  /// The unwind hint type (`UNWIND_HINT_TYPE_CALL` 0 …).
  public var type: UInt8 = 0

  /// `initial_func_cfi`: at a function's entry the CFA is SP+8 and the return address at CFA-8.
  public static let initialFunction: CFIState = {
    var regs = Array(repeating: CFIReg.undefined, count: 17)
    regs[16] = CFIReg(CFIBase.cfa, -8)
    // set_func_state(): stack_size starts at the CFA offset.
    return CFIState(
      cfa: CFIReg(CFIBase.sp, 8), regs: regs, vals: Array(repeating: .undefined, count: 17),
      stackSize: 8)
  }()

  /// `init_cfi`: nothing known (the base of unwind hints and of paths started at one).
  public static let initialHint = CFIState(
    cfa: .undefined, regs: Array(repeating: .undefined, count: 17), vals: Array(repeating: .undefined, count: 17))

  /// One word folded from every field `==` compares (a multiply-xorshift mix), given to the
  /// hasher once: validation interns a state at every instruction whose state changed, and
  /// the synthesized hash fed the hasher some 80 separate fields (14% of a large module's
  /// instructions, measured with callgrind).
  public func hash(into hasher: inout Hasher) {
    var h: UInt64 = 0x9e37_79b9_7f4a_7c15
    @inline(__always) func mix(_ v: UInt64) {
      h = (h ^ v) &* 0xff51_afd7_ed55_8ccd
      h ^= h >> 29
    }
    @inline(__always) func word(_ r: CFIReg) -> UInt64 {
      UInt64(UInt8(bitPattern: r.base)) << 32 | UInt64(UInt32(bitPattern: r.offset))
    }
    mix(word(cfa))
    mix(UInt64(regs.count) << 40 | UInt64(vals.count))
    for r in regs { mix(word(r)) }
    for v in vals { mix(word(v)) }
    mix(UInt64(UInt32(bitPattern: stackSize)) << 32 | UInt64(UInt32(bitPattern: drapOffset)))
    var flags = UInt64(UInt8(bitPattern: drapReg)) << 8 | UInt64(type)
    flags = flags << 4 | (drap ? 8 : 0) | (bpScratch ? 4 : 0) | (end ? 2 : 0) | (signal ? 1 : 0)
    mix(flags)
    hasher.combine(h)
  }

  /// `arch_callee_saved_reg()`: BX, BP, R12–R15.
  public static func isCalleeSaved(_ reg: UInt8) -> Bool {
    switch reg {
    case 3, 5, 12, 13, 14, 15: return true
    default: return false
    }
  }
}
