import CZydis

/// objtool's instruction types (`enum insn_type`, tools/objtool/include/objtool/arch.h).
public enum InsnType: UInt8, Sendable {
  case other, call, callDynamic, jumpConditional, jumpUnconditional, jumpDynamic, jumpDynamicConditional
  case `return`, contextSwitch, bug, nop, stac, clac, std, cld, trap, endbr
}

/// A register in objtool's CFI numbering (`CFI_AX` … `CFI_R15`, x86 encoding order).
public enum CFIRegister {
  public static let ax: UInt8 = 0, cx: UInt8 = 1, dx: UInt8 = 2, bx: UInt8 = 3, sp: UInt8 = 4, bp: UInt8 = 5
  public static let si: UInt8 = 6, di: UInt8 = 7, r8: UInt8 = 8, r10: UInt8 = 10, r13: UInt8 = 13, r15: UInt8 = 15
  /// `CFI_RA`: the return address "register".
  public static let ra: UInt8 = 16
  /// The number of tracked registers (`CFI_NUM_REGS`).
  public static let count = 17
}

/// One effect of an instruction on the stack (`struct stack_op`).
@frozen
public struct StackOp: Sendable, Hashable {
  public enum SourceType: UInt8, Sendable { case reg, regIndirect, const, pop, popf, add, and }
  public enum DestinationType: UInt8, Sendable { case reg, regIndirect, push, pushf, mem }
  public var destType: DestinationType
  public var destReg: UInt8 = 0
  public var destOffset: Int64 = 0
  public var srcType: SourceType
  public var srcReg: UInt8 = 0
  public var srcOffset: Int64 = 0

  @inlinable
  public init(
    destType: DestinationType, destReg: UInt8 = 0, destOffset: Int64 = 0, srcType: SourceType, srcReg: UInt8 = 0,
    srcOffset: Int64 = 0
  ) {
    (self.destType, self.destReg, self.destOffset) = (destType, destReg, destOffset)
    (self.srcType, self.srcReg, self.srcOffset) = (srcType, srcReg, srcOffset)
  }
}

/// The stack operations of one instruction (`insn->stack_ops`), in order: at most two on
/// x86-64 (`leave`), kept inline so that decoding allocates nothing per instruction.
@frozen
public struct StackOps: RandomAccessCollection, Hashable, Sendable, ExpressibleByArrayLiteral {
  /// The most an instruction has.
  public static let capacity = 2
  @usableFromInline var stored: UInt8 = 0
  @usableFromInline var op0 = StackOp(destType: .reg, srcType: .reg)
  @usableFromInline var op1 = StackOp(destType: .reg, srcType: .reg)

  /// No operations.
  @inlinable public init() {}

  public init(arrayLiteral elements: StackOp...) {
    for op in elements { append(op) }
  }

  @inlinable public var startIndex: Int { 0 }
  @inlinable public var endIndex: Int { Int(stored) }

  @inlinable
  public subscript(position: Int) -> StackOp {
    precondition(position >= 0 && position < Int(stored), "stack operation index out of range")
    return position == 0 ? op0 : op1
  }

  /// Adds `op` after the others (at most ``capacity``).
  @inlinable
  public mutating func append(_ op: StackOp) {
    precondition(stored < 2, "more than two stack operations")
    if stored == 0 { op0 = op } else { op1 = op }
    stored += 1
  }

  public static func == (a: StackOps, b: StackOps) -> Bool { a.elementsEqual(b) }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(stored)
    for op in self { hasher.combine(op) }
  }
}

extension X86Decoder {
  /// Decodes the instruction at `offset` with objtool's classification
  /// (`arch_decode_instruction()`, tools/objtool/arch/x86/decode.c); nil if
  /// the bytes do not decode. `inFunction` says whether an STT_FUNC symbol
  /// covers it (IRET to self in `sync_core()`).
  public func decode(_ bytes: UnsafeRawBufferPointer, at offset: Int, inFunction: () -> Bool) -> X86Instruction? {
    decode(bytes, at: offset, commonEncodings: true, inFunction: inFunction)
  }

  func decode(_ bytes: UnsafeRawBufferPointer, at offset: Int, commonEncodings: Bool, inFunction: () -> Bool)
    -> X86Instruction?
  {
    guard offset >= 0, offset < bytes.count, bytes.baseAddress != nil else { return nil }
    // The kernel's decoder takes Xen's and KVM's emulate prefix (`ud2; .ascii "xen"`,
    // `ud2; .ascii "kvm"`: arch/x86/lib/insn.c, insn_get_emulate_prefix()) as part of
    // the instruction that follows it (`cpuid` in xen_cpuid()).
    if offset + Self.emulatePrefixLength < bytes.count, Self.hasEmulatePrefix(bytes, at: offset),
      var insn = decodeOne(
        bytes, at: offset + Self.emulatePrefixLength, commonEncodings: commonEncodings, inFunction: inFunction)
    {
      insn.length += Self.emulatePrefixLength
      if insn.immediateOffset > 0 { insn.immediateOffset += UInt8(Self.emulatePrefixLength) }
      return insn
    }
    return decodeOne(bytes, at: offset, commonEncodings: commonEncodings, inFunction: inFunction)
  }

  static let emulatePrefixLength = 5

  /// Whether `0f 0b 78 65 6e` (Xen) or `0f 0b 6b 76 6d` (KVM) starts at `offset`.
  static func hasEmulatePrefix(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Bool {
    guard bytes[offset] == 0x0f, bytes[offset + 1] == 0x0b else { return false }
    let tail = (bytes[offset + 2], bytes[offset + 3], bytes[offset + 4])
    return tail == (0x78, 0x65, 0x6e) || tail == (0x6b, 0x76, 0x6d)
  }

  /// ``decode(_:at:inFunction:)`` through Zydis alone, without the common encodings' own
  /// decoding (``InstructionFields/common(_:count:)``): the reference that one is checked
  /// against (tests decode every byte offset of real objects both ways).
  public func decodeWithZydis(_ bytes: UnsafeRawBufferPointer, at offset: Int, inFunction: () -> Bool)
    -> X86Instruction?
  {
    decode(bytes, at: offset, commonEncodings: false, inFunction: inFunction)
  }

  func decodeOne(_ bytes: UnsafeRawBufferPointer, at offset: Int, commonEncodings: Bool, inFunction: () -> Bool)
    -> X86Instruction?
  {
    guard offset >= 0, offset < bytes.count, let base = bytes.baseAddress else { return nil }
    let fields: InstructionFields
    if commonEncodings,
      let common = InstructionFields.common(
        base.assumingMemoryBound(to: UInt8.self) + offset, count: bytes.count - offset)
    {
      fields = common
    } else if let decoded = zydisFields(base + offset, count: bytes.count - offset) {
      fields = decoded
    } else {
      // objtool's decoder takes these as INSN_OTHER, without stack operations.
      return invalidIn64Length(bytes, at: offset).map {
        X86Instruction(length: $0, type: .other, immediate: 0, immediateOffset: 0, ops: StackOps())
      }
    }
    return classify(fields, bytes, at: offset, inFunction: inFunction)
  }

  /// What Zydis decodes at `p` (nil when it does not decode).
  func zydisFields(_ p: UnsafeRawPointer, count: Int) -> InstructionFields? {
    var insn = ZydisDecodedInstruction()
    var context = ZydisDecoderContext()
    let status = withUnsafePointer(to: self.zydis) { d in
      ZydisDecoderDecodeInstruction(d, &context, p, count, &insn)
    }
    guard status & 0x8000_0000 == 0 else { return nil }
    let raw = insn.raw
    var f = InstructionFields()
    f.length = insn.length
    f.legacy = insn.encoding == ZYDIS_INSTRUCTION_ENCODING_LEGACY || insn.encoding == ZYDIS_INSTRUCTION_ENCODING_3DNOW
    f.map = UInt8(truncatingIfNeeded: insn.opcode_map.rawValue)
    f.opcode = insn.opcode
    f.hasREX = insn.attributes & UInt64(ZYDIS_ATTRIB_HAS_REX) != 0
    if f.hasREX { (f.rexW, f.rexR, f.rexX, f.rexB) = (raw.rex.W, raw.rex.R, raw.rex.X, raw.rex.B) }
    f.hasModRM = insn.attributes & UInt64(ZYDIS_ATTRIB_HAS_MODRM) != 0
    if f.hasModRM { (f.mod, f.reg, f.rm) = (raw.modrm.mod, raw.modrm.reg, raw.modrm.rm) }
    f.hasSIB = insn.attributes & UInt64(ZYDIS_ATTRIB_HAS_SIB) != 0
    if f.hasSIB { (f.sibIndex, f.sibBase) = (raw.sib.index, raw.sib.base) }
    f.displacement = raw.disp.value
    if raw.imm.0.size > 0 {
      f.immediateBits = raw.imm.0.size
      f.immediateValue = raw.imm.0.value.u
      f.immediateOffset = raw.imm.0.offset
    }
    return f
  }

  /// objtool's classification of decoded `f` at `offset` of `bytes`.
  @inline(__always)
  func classify(_ f: InstructionFields, _ bytes: UnsafeRawBufferPointer, at offset: Int, inFunction: () -> Bool)
    -> X86Instruction
  {
    var out = X86Instruction(
      length: Int(f.length), type: .other, immediate: 0,
      immediateOffset: f.immediateBits > 0 ? f.immediateOffset : 0, ops: StackOps())
    // The first immediate, sign-extended from its size as the kernel's decoder stores it.
    var imm: Int64 = 0
    if f.immediateBits > 0 {
      let bits = Int64(f.immediateBits)
      let v = Int64(bitPattern: f.immediateValue)
      imm = bits >= 64 ? v : (v << (64 - bits)) >> (64 - bits)
    }
    out.immediate = imm
    guard f.legacy else { return out }

    let rexW: UInt8 = f.rexW
    let rexR: UInt8 = f.rexR
    let rexX: UInt8 = f.rexX
    let rexB: UInt8 = f.rexB
    let modrm: UInt8 = f.hasModRM ? (f.mod << 6) | (f.reg << 3) | f.rm : 0
    let mod: UInt8 = f.mod
    let reg: UInt8 = f.hasModRM ? f.reg + 8 * rexR : 0
    var rm: UInt8 = f.hasModRM ? f.rm + 8 * rexB : 0
    let sibIndex: UInt8 = f.hasSIB ? f.sibIndex + 8 * rexX : 0
    let sibBase: UInt8 = f.hasSIB ? f.sibBase + 8 * rexB : 0
    let disp = f.displacement
    // The first legacy prefix, as the kernel's decoder records it (insn.prefixes.bytes[0]).
    var prefix: UInt8 = 0
    switch bytes[offset] {
    case 0xf0, 0xf2, 0xf3, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65, 0x66, 0x67: prefix = bytes[offset]
    default: break
    }

    let modIsReg = mod == 3
    let modIsMem = !modIsReg
    let isRIP = (rm & 7) == CFIRegister.bp && mod == 0
    let haveSIB = (rm & 7) == CFIRegister.sp && modIsMem
    func rmIs(_ r: UInt8) -> Bool { haveSIB ? sibBase == r && sibIndex == CFIRegister.sp : rm == r }
    func rmIsMem(_ r: UInt8) -> Bool { modIsMem && !isRIP && rmIs(r) }
    func rmIsReg(_ r: UInt8) -> Bool { modIsReg && rm == r }

    let sp = CFIRegister.sp
    let bp = CFIRegister.bp
    func add(_ op: StackOp) { out.ops.append(op) }

    // The opcode bytes as the kernel's decoder numbers them: op1, op2, op3.
    let map = f.map
    var op1: UInt8 = f.opcode
    var op2: UInt8 = 0
    var op3: UInt8 = 0
    if map == InstructionFields.map0F {
      op1 = 0x0f; op2 = f.opcode
    } else if map == InstructionFields.map0F38 {
      op1 = 0x0f; op2 = 0x38; op3 = f.opcode
    } else if map == InstructionFields.map0F3A {
      op1 = 0x0f; op2 = 0x3a; op3 = f.opcode
    } else if map != InstructionFields.mapDefault {
      return out
    }
    _ = op3

    switch op1 {
    case 0x01, 0x29:
      if rexW != 0 && rmIsReg(sp) { add(StackOp(destType: .reg, destReg: sp, srcType: .add, srcReg: reg)) }
    case 0x50...0x57:
      add(StackOp(destType: .push, srcType: .reg, srcReg: (op1 & 7) + 8 * rexB))
    case 0x58...0x5f:
      add(StackOp(destType: .reg, destReg: (op1 & 7) + 8 * rexB, srcType: .pop))
    case 0x68, 0x6a:
      add(StackOp(destType: .push, srcType: .const))
    case 0x70...0x7f:
      out.type = .jumpConditional
    case 0x80...0x83:
      guard rexW != 0, rmIsReg(sp) else { break }
      var v = imm
      if op1 & 2 != 0 {
        v = op1 & 1 != 0 ? Int64(Int32(truncatingIfNeeded: v)) : Int64(Int8(truncatingIfNeeded: v))
      }
      switch reg & 7 {
      case 5: add(StackOp(destType: .reg, destReg: sp, srcType: .add, srcReg: sp, srcOffset: -v))
      case 0: add(StackOp(destType: .reg, destReg: sp, srcType: .add, srcReg: sp, srcOffset: v))
      case 4: add(StackOp(destType: .reg, destReg: sp, srcType: .and, srcReg: sp, srcOffset: imm))
      default: break
      }
    case 0x89, 0x88:
      guard rexW != 0 else { break }
      if op1 == 0x89 && reg == sp {
        if modIsReg {
          add(StackOp(destType: .reg, destReg: rm, srcType: .reg, srcReg: sp))
        } else if !isRIP {
          if haveSIB {
            rm = sibBase
            if sibIndex != sp { break }
          }
          add(StackOp(destType: .regIndirect, destReg: rm, destOffset: disp, srcType: .reg, srcReg: sp))
        }
        break
      }
      if op1 == 0x89 && rmIsReg(sp) {
        add(StackOp(destType: .reg, destReg: sp, srcType: .reg, srcReg: reg))
        break
      }
      if rmIsMem(bp) {
        add(StackOp(destType: .regIndirect, destReg: bp, destOffset: disp, srcType: .reg, srcReg: reg))
      } else if rmIsMem(sp) {
        add(StackOp(destType: .regIndirect, destReg: sp, destOffset: disp, srcType: .reg, srcReg: reg))
      }
    case 0x8b:
      guard rexW != 0 else { break }
      if rmIsMem(bp) {
        add(StackOp(destType: .reg, destReg: reg, srcType: .regIndirect, srcReg: bp, srcOffset: disp))
      } else if rmIsMem(sp) {
        add(StackOp(destType: .reg, destReg: reg, srcType: .regIndirect, srcReg: sp, srcOffset: disp))
      }
    case 0x8d:
      guard !modIsReg, rexW != 0, !isRIP else { break }
      if haveSIB {
        rm = sibBase
        if sibIndex != sp { break }
      }
      add(StackOp(destType: .reg, destReg: reg, srcType: disp == 0 ? .reg : .add, srcReg: rm, srcOffset: disp))
    case 0x8f:
      add(StackOp(destType: .mem, srcType: .pop))
    case 0x90:
      out.type = .nop
    case 0x9c:
      add(StackOp(destType: .pushf, srcType: .const))
    case 0x9d:
      add(StackOp(destType: .mem, srcType: .popf))
    case 0x0f:
      if op2 == 0x01 {
        if modrm == 0xca { out.type = .clac } else if modrm == 0xcb { out.type = .stac }
      } else if op2 >= 0x80 && op2 <= 0x8f {
        out.type = .jumpConditional
      } else if op2 == 0x05 || op2 == 0x07 || op2 == 0x34 || op2 == 0x35 {
        out.type = .contextSwitch
      } else if op2 == 0x0b || op2 == 0xb9 {
        out.type = .bug
      } else if op2 == 0x0d || op2 == 0x1f {
        out.type = .nop
      } else if op2 == 0x1e {
        if prefix == 0xf3 && (modrm == 0xfa || modrm == 0xfb) { out.type = .endbr }
      } else if op2 == 0xa0 || op2 == 0xa8 {
        add(StackOp(destType: .push, srcType: .const))
      } else if op2 == 0xa1 || op2 == 0xa9 {
        add(StackOp(destType: .mem, srcType: .pop))
      }
    case 0xc9:
      add(StackOp(destType: .reg, destReg: sp, srcType: .reg, srcReg: bp))
      add(StackOp(destType: .reg, destReg: bp, srcType: .pop))
    case 0xcc:
      out.type = .trap
    case 0xe3, 0xe0, 0xe1, 0xe2:
      out.type = .jumpConditional
    case 0xe9, 0xeb:
      out.type = .jumpUnconditional
    case 0xc2, 0xc3:
      out.type = .return
    case 0xcf:
      if inFunction() {
        add(StackOp(destType: .reg, destReg: sp, srcType: .add, srcReg: sp, srcOffset: 40))
      } else {
        out.type = .contextSwitch
      }
    case 0xca, 0xcb:
      out.type = .contextSwitch
    case 0xe8:
      out.type = .call
      add(StackOp(destType: .push, srcType: .const))
    case 0xfc:
      out.type = .cld
    case 0xfd:
      out.type = .std
    case 0xff:
      switch reg {
      case 2, 3: out.type = .callDynamic
      case 4: out.type = .jumpDynamic
      case 5: out.type = .contextSwitch
      case 6: add(StackOp(destType: .push, srcType: .const))
      default: break
      }
    default:
      break
    }
    return out
  }
}
