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

/// An x86 exception-fixup type, bits 0–7 of `exception_table_entry.data`
/// (`arch/x86/include/asm/extable_fixup_types.h`).
///
/// The numbers are the same in 6.1 and 6.12 except that 6.12 dropped
/// `EX_TYPE_COPY` (4, now unused) and added `EX_TYPE_ERETU` (21).
public struct ExtableFixupType: RawRepresentable, Hashable, Sendable {
  public var rawValue: Int
  public init(rawValue: Int) { self.rawValue = rawValue }

  /// The corresponding C constant is `EX_TYPE_NONE` (6.1, 6.12).
  public static let none = ExtableFixupType(rawValue: 0)
  /// The corresponding C constant is `EX_TYPE_DEFAULT` (6.1, 6.12).
  public static let `default` = ExtableFixupType(rawValue: 1)
  /// The corresponding C constant is `EX_TYPE_FAULT` (6.1, 6.12).
  public static let fault = ExtableFixupType(rawValue: 2)
  /// The corresponding C constant is `EX_TYPE_UACCESS` (6.1, 6.12).
  public static let uaccess = ExtableFixupType(rawValue: 3)
  /// The corresponding C constant is `EX_TYPE_COPY` (6.1 only; 6.12 leaves 4 unused).
  public static let copy = ExtableFixupType(rawValue: 4)
  /// The corresponding C constant is `EX_TYPE_CLEAR_FS` (6.1, 6.12).
  public static let clearFS = ExtableFixupType(rawValue: 5)
  /// The corresponding C constant is `EX_TYPE_FPU_RESTORE` (6.1, 6.12).
  public static let fpuRestore = ExtableFixupType(rawValue: 6)
  /// The corresponding C constant is `EX_TYPE_BPF` (6.1, 6.12).
  public static let bpf = ExtableFixupType(rawValue: 7)
  /// The corresponding C constant is `EX_TYPE_WRMSR` (6.1, 6.12).
  public static let wrmsr = ExtableFixupType(rawValue: 8)
  /// The corresponding C constant is `EX_TYPE_RDMSR` (6.1, 6.12).
  public static let rdmsr = ExtableFixupType(rawValue: 9)
  /// The corresponding C constant is `EX_TYPE_WRMSR_SAFE` (6.1, 6.12): reg := -EIO.
  public static let wrmsrSafe = ExtableFixupType(rawValue: 10)
  /// The corresponding C constant is `EX_TYPE_RDMSR_SAFE` (6.1, 6.12): reg := -EIO.
  public static let rdmsrSafe = ExtableFixupType(rawValue: 11)
  /// The corresponding C constant is `EX_TYPE_WRMSR_IN_MCE` (6.1, 6.12).
  public static let wrmsrInMCE = ExtableFixupType(rawValue: 12)
  /// The corresponding C constant is `EX_TYPE_RDMSR_IN_MCE` (6.1, 6.12).
  public static let rdmsrInMCE = ExtableFixupType(rawValue: 13)
  /// The corresponding C constant is `EX_TYPE_DEFAULT_MCE_SAFE` (6.1, 6.12).
  public static let defaultMCESafe = ExtableFixupType(rawValue: 14)
  /// The corresponding C constant is `EX_TYPE_FAULT_MCE_SAFE` (6.1, 6.12).
  public static let faultMCESafe = ExtableFixupType(rawValue: 15)
  /// The corresponding C constant is `EX_TYPE_POP_REG` (6.1, 6.12): sp += sizeof(long).
  /// With immediate 0 it is `EX_TYPE_POP_ZERO`.
  public static let popReg = ExtableFixupType(rawValue: 16)
  /// The corresponding C constant is `EX_TYPE_IMM_REG` (6.1, 6.12): reg := (long)imm.
  /// With immediate -EFAULT, 0 or 1 it is `EX_TYPE_EFAULT_REG`, `EX_TYPE_ZERO_REG`, `EX_TYPE_ONE_REG`.
  public static let immReg = ExtableFixupType(rawValue: 17)
  /// The corresponding C constant is `EX_TYPE_FAULT_SGX` (6.1, 6.12).
  public static let faultSGX = ExtableFixupType(rawValue: 18)
  /// The corresponding C constant is `EX_TYPE_UCOPY_LEN` (6.1, 6.12): cx := reg + imm*cx.
  /// With immediate 1, 4 or 8 it is `EX_TYPE_UCOPY_LEN1`, `…LEN4`, `…LEN8`.
  public static let ucopyLen = ExtableFixupType(rawValue: 19)
  /// The corresponding C constant is `EX_TYPE_ZEROPAD` (6.1, 6.12): longword load with zeropad on fault.
  public static let zeropad = ExtableFixupType(rawValue: 20)
  /// The corresponding C constant is `EX_TYPE_ERETU` (6.12 only).
  public static let eretu = ExtableFixupType(rawValue: 21)

  /// The types of `generation` with their names, without the `EX_TYPE_` prefix.
  static func names(_ generation: KernelGeneration) -> [ExtableFixupType: String] {
    var names: [ExtableFixupType: String] = [
      .none: "NONE", .default: "DEFAULT", .fault: "FAULT", .uaccess: "UACCESS", .clearFS: "CLEAR_FS",
      .fpuRestore: "FPU_RESTORE", .bpf: "BPF", .wrmsr: "WRMSR", .rdmsr: "RDMSR", .wrmsrSafe: "WRMSR_SAFE",
      .rdmsrSafe: "RDMSR_SAFE", .wrmsrInMCE: "WRMSR_IN_MCE", .rdmsrInMCE: "RDMSR_IN_MCE",
      .defaultMCESafe: "DEFAULT_MCE_SAFE", .faultMCESafe: "FAULT_MCE_SAFE", .popReg: "POP_REG",
      .immReg: "IMM_REG", .faultSGX: "FAULT_SGX", .ucopyLen: "UCOPY_LEN", .zeropad: "ZEROPAD",
    ]
    switch generation {
    case .v6_1: names[.copy] = "COPY"
    case .v6_12: names[.eretu] = "ERETU"
    }
    return names
  }

  /// The name without the `EX_TYPE_` prefix in `generation`, or nil when the number names no type there.
  public func name(in generation: KernelGeneration) -> String? { Self.names(generation)[self] }

  /// The composite names of `extable_fixup_types.h`: a type with a given
  /// immediate (`EX_TYPE_EFAULT_REG` is `EX_TYPE_IMM_REG | EX_DATA_IMM(-EFAULT)`).
  static let composites: [(type: ExtableFixupType, immediate: Int, name: String)] = [
    (.popReg, 0, "POP_ZERO"), (.immReg, -14, "EFAULT_REG"), (.immReg, 0, "ZERO_REG"), (.immReg, 1, "ONE_REG"),
    (.ucopyLen, 1, "UCOPY_LEN1"), (.ucopyLen, 4, "UCOPY_LEN4"), (.ucopyLen, 8, "UCOPY_LEN8"),
  ]

  /// The types whose register field is always meaningful (`reg` of the
  /// `_ASM_EXTABLE_TYPE_REG` forms), even when it is 0 (`ax`).
  static let registerTypes: Set<ExtableFixupType> = [.wrmsrSafe, .rdmsrSafe, .popReg, .immReg, .ucopyLen]
  /// The types whose immediate is always meaningful, even when it is 0.
  static let immediateTypes: Set<ExtableFixupType> = [.popReg, .immReg, .ucopyLen]
}

/// An arm64 exception-fixup type, `exception_table_entry.type`
/// (`arch/arm64/include/asm/asm-extable.h`; the same in 6.1 and 6.12).
public struct ARM64ExtableFixupType: RawRepresentable, Hashable, Sendable {
  public var rawValue: Int
  public init(rawValue: Int) { self.rawValue = rawValue }

  /// The corresponding C constant is `EX_TYPE_NONE`.
  public static let none = ARM64ExtableFixupType(rawValue: 0)
  /// The corresponding C constant is `EX_TYPE_BPF`.
  public static let bpf = ARM64ExtableFixupType(rawValue: 1)
  /// The corresponding C constant is `EX_TYPE_UACCESS_ERR_ZERO`: err in data bits 0–4, zero in 5–9.
  public static let uaccessErrZero = ARM64ExtableFixupType(rawValue: 2)
  /// The corresponding C constant is `EX_TYPE_KACCESS_ERR_ZERO`: err in data bits 0–4, zero in 5–9.
  public static let kaccessErrZero = ARM64ExtableFixupType(rawValue: 3)
  /// The corresponding C constant is `EX_TYPE_LOAD_UNALIGNED_ZEROPAD`: data in bits 0–4, addr in 5–9.
  public static let loadUnalignedZeropad = ARM64ExtableFixupType(rawValue: 4)

  static let names: [ARM64ExtableFixupType: String] = [
    .none: "NONE", .bpf: "BPF", .uaccessErrZero: "UACCESS_ERR_ZERO", .kaccessErrZero: "KACCESS_ERR_ZERO",
    .loadUnalignedZeropad: "LOAD_UNALIGNED_ZEROPAD",
  ]

  /// The name without the `EX_TYPE_` prefix, or nil when the number names no type.
  public var name: String? { Self.names[self] }
}

/// Decodes exception-table data words with the `EX_TYPE_*` of each architecture and generation.
public enum ExtableTypes {
  /// x86 general registers in instruction-encoding order (`pt_regs_nr()` in `arch/x86/mm/extable.c`).
  static let x86Registers = [
    "ax", "cx", "dx", "bx", "sp", "bp", "si", "di",
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
  ]

  /// Decodes `raw` for `machine` in `generation`.
  public static func decode(_ raw: UInt32, machine: Machine, generation: KernelGeneration) -> ExtableHandler {
    if machine == .aarch64 { return decodeARM64(raw) }
    return decodeX86(raw, generation: generation)
  }

  /// Decodes an arm64 entry's `type` (bits 0–15 of `raw`) and `data` (16–31):
  /// the same in every generation.
  public static func decodeARM64(_ raw: UInt32) -> ExtableHandler {
    let type = Int(Int16(bitPattern: UInt16(raw & 0xffff)))
    let data = UInt16(raw >> 16)
    let arm64Type = ARM64ExtableFixupType(rawValue: type)
    let name = arm64Type.name ?? "UNKNOWN_\(type)"
    func gpr(_ n: UInt16) -> String { n == 31 ? "xzr" : "x\(n)" }
    var h = ExtableHandler(type: name, typeNumber: type, register: nil, register2: nil, flags: [], immediate: nil)
    switch arm64Type {
    case .uaccessErrZero, .kaccessErrZero:  // err in 0–4, zero in 5–9
      h.register = gpr(data & 0x1f)
      h.register2 = gpr((data >> 5) & 0x1f)
    case .loadUnalignedZeropad:  // data in 0–4, addr in 5–9
      h.register = gpr(data & 0x1f)
      h.register2 = gpr((data >> 5) & 0x1f)
    default: break
    }
    return h
  }

  /// Decodes an x86 `data` word in `generation`.
  public static func decodeX86(_ raw: UInt32, generation: KernelGeneration) -> ExtableHandler {
    let type = ExtableFixupType(rawValue: Int(raw & 0xff))
    let reg = Int((raw >> 8) & 0xf)
    let flagBits = (raw >> 12) & 0xf
    let imm = Int(Int16(bitPattern: UInt16(raw >> 16)))
    var name = type.name(in: generation) ?? "UNKNOWN_\(type.rawValue)"
    if let composite = ExtableFixupType.composites.first(where: { $0.type == type && $0.immediate == imm }) {
      name = composite.name
    }
    var flags: [String] = []
    if flagBits & 1 != 0 { flags.append("CLEAR_AX") }  // EX_FLAG_CLEAR_AX
    if flagBits & 2 != 0 { flags.append("CLEAR_DX") }  // EX_FLAG_CLEAR_DX
    let usesRegister = ExtableFixupType.registerTypes.contains(type) || reg != 0
    let usesImmediate = imm != 0 || ExtableFixupType.immediateTypes.contains(type)
    return ExtableHandler(
      type: name, typeNumber: type.rawValue, register: usesRegister ? x86Registers[reg] : nil,
      register2: nil, flags: flags, immediate: usesImmediate ? imm : nil)
  }
}
