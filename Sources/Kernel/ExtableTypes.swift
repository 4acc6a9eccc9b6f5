import ELF

/// The decoded handler of an exception-table entry, with the names of the
/// file's architecture and kernel generation.
public struct ExtableHandler: Sendable, Hashable, Codable {
  /// The `EX_TYPE_*` name without the prefix (`UACCESS`, `EFAULT_REG`, …).
  public var type: String
  /// The raw type number.
  public var typeNumber: Int
  /// A register named by the entry (x86 `reg`; arm64 err/data), if any.
  public var register: String?
  /// arm64: the second register (zero / addr), if any.
  public var register2: String?
  /// x86: the flags (`CLEAR_AX`, `CLEAR_DX`).
  public var flags: [String]
  /// x86: the signed immediate.
  public var immediate: Int?
}

/// `EX_TYPE_*` tables (one place per architecture and generation).
public enum ExtableTypes {
  /// x86, `arch/x86/include/asm/extable_fixup_types.h` of 6.1; 6.12 has
  /// `COPY` (4) unused and adds `ERETU` (21).
  static func x86Names(_ generation: KernelGeneration) -> [Int: String] {
    var names: [Int: String] = [
      0: "NONE", 1: "DEFAULT", 2: "FAULT", 3: "UACCESS", 4: "COPY", 5: "CLEAR_FS", 6: "FPU_RESTORE", 7: "BPF",
      8: "WRMSR", 9: "RDMSR", 10: "WRMSR_SAFE", 11: "RDMSR_SAFE", 12: "WRMSR_IN_MCE", 13: "RDMSR_IN_MCE",
      14: "DEFAULT_MCE_SAFE", 15: "FAULT_MCE_SAFE", 16: "POP_REG", 17: "IMM_REG", 18: "FAULT_SGX",
      19: "UCOPY_LEN", 20: "ZEROPAD",
    ]
    if generation == .v6_12 {
      names[4] = nil
      names[21] = "ERETU"
    }
    return names
  }

  /// arm64, `arch/arm64/include/asm/asm-extable.h` (the same in 6.1 and 6.12).
  static let arm64Names: [Int: String] = [
    0: "NONE", 1: "BPF", 2: "UACCESS_ERR_ZERO", 3: "KACCESS_ERR_ZERO", 4: "LOAD_UNALIGNED_ZEROPAD",
  ]

  /// x86 general registers in instruction-encoding order (`pt_regs_nr()` in `arch/x86/mm/extable.c`).
  static let x86Registers = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di",
                             "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]

  /// Decodes `raw` for `machine` in `generation`.
  public static func decode(_ raw: UInt32, machine: Machine, generation: KernelGeneration) -> ExtableHandler {
    if machine == .aarch64 {
      let type = Int(Int16(bitPattern: UInt16(raw & 0xffff)))
      let data = UInt16(raw >> 16)
      let name = arm64Names[type] ?? "UNKNOWN_\(type)"
      func gpr(_ n: UInt16) -> String { n == 31 ? "xzr" : "x\(n)" }
      var h = ExtableHandler(type: name, typeNumber: type, register: nil, register2: nil, flags: [], immediate: nil)
      switch type {
      case 2, 3:  // ERR_ZERO: err in 0–4, zero in 5–9
        h.register = gpr(data & 0x1f)
        h.register2 = gpr((data >> 5) & 0x1f)
      case 4:  // ZEROPAD: data in 0–4, addr in 5–9
        h.register = gpr(data & 0x1f)
        h.register2 = gpr((data >> 5) & 0x1f)
      default: break
      }
      return h
    }
    let type = Int(raw & 0xff)
    let reg = Int((raw >> 8) & 0xf)
    let flagBits = (raw >> 12) & 0xf
    let imm = Int(Int16(bitPattern: UInt16(raw >> 16)))
    var name = x86Names(generation)[type] ?? "UNKNOWN_\(type)"
    // The composite names of extable_fixup_types.h.
    switch (type, imm) {
    case (16, 0): name = "POP_ZERO"
    case (17, -14): name = "EFAULT_REG"
    case (17, 0): name = "ZERO_REG"
    case (17, 1): name = "ONE_REG"
    case (19, 1): name = "UCOPY_LEN1"
    case (19, 4): name = "UCOPY_LEN4"
    case (19, 8): name = "UCOPY_LEN8"
    default: break
    }
    var flags: [String] = []
    if flagBits & 1 != 0 { flags.append("CLEAR_AX") }
    if flagBits & 2 != 0 { flags.append("CLEAR_DX") }
    let usesRegister = [10, 11, 16, 17, 19].contains(type) || reg != 0
    return ExtableHandler(type: name, typeNumber: type, register: usesRegister ? x86Registers[reg] : nil,
                          register2: nil, flags: flags, immediate: imm != 0 || [16, 17, 19].contains(type) ? imm : nil)
  }
}
