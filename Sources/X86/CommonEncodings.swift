/// What the classification reads of a decoded instruction (Zydis's `ZydisDecodedInstruction`
/// fields of those names, raw ModRM/SIB/REX bits): from Zydis, or for the common legacy
/// encodings from ``common(_:count:)``.
struct InstructionFields {
  static let mapDefault: UInt8 = 0
  static let map0F: UInt8 = 1
  static let map0F38: UInt8 = 2
  static let map0F3A: UInt8 = 3

  var length: UInt8 = 0
  /// Legacy (or 3DNow!) encoding: not VEX, EVEX, XOP.
  var legacy = true
  /// `ZydisOpcodeMap`: 0 one-byte, 1 `0F`, 2 `0F 38`, 3 `0F 3A`, others above.
  var map: UInt8 = 0
  var opcode: UInt8 = 0
  var hasREX = false
  var rexW: UInt8 = 0
  var rexR: UInt8 = 0
  var rexX: UInt8 = 0
  var rexB: UInt8 = 0
  var hasModRM = false
  var mod: UInt8 = 0
  var reg: UInt8 = 0
  var rm: UInt8 = 0
  var hasSIB = false
  var sibIndex: UInt8 = 0
  var sibBase: UInt8 = 0
  /// The displacement, sign-extended.
  var displacement: Int64 = 0
  /// The first immediate: its size in bits (0: none), raw bits and offset in the instruction.
  var immediateBits: UInt8 = 0
  var immediateValue: UInt64 = 0
  var immediateOffset: UInt8 = 0
}

extension InstructionFields {
  /// How a common opcode is followed: a ModRM byte or not, and which immediate.
  enum Immediate { case none, byte, word, full, wide, testByte, testFull }

  /// The fields of the instruction at `p` (`count` bytes readable) when it is one of the
  /// common legacy encodings decoded here, else nil (Zydis decodes it then): the one-byte
  /// and `0F` opcodes of compiled kernel code, with segment and operand-size prefixes and a
  /// REX prefix right before the opcode. Whatever is rarer or has a rule of its own (LOCK,
  /// address size, REP outside string instructions, mandatory prefixes, VEX/EVEX/XOP, x87,
  /// far and `moffs` forms, group encodings some of whose ModRM values are invalid) goes to
  /// Zydis, so that an instruction decoded here has what Zydis gives it: every byte offset of
  /// the 1,121 Debian 6.1 modules decodes the same both ways (`X86Decoder.decodeWithZydis`).
  ///
  /// Zydis costs ~290 instructions an instruction, this ~40: decoding was a third of a
  /// large module's check.
  @inline(__always)
  static func common(_ p: UnsafePointer<UInt8>, count: Int) -> InstructionFields? {
    var i = 0
    var operandSize = false
    var repeatPrefix = false
    // Legacy prefixes (LOCK and address size to Zydis).
    prefixes: while i < count {
      switch p[i] {
      case 0x66: operandSize = true
      case 0x2e, 0x3e, 0x26, 0x36, 0x64, 0x65: break
      case 0xf2, 0xf3: repeatPrefix = true
      case 0xf0, 0x67: return nil
      default: break prefixes
      }
      i += 1
      if i > 4 { return nil }
    }
    guard i < count else { return nil }
    var f = InstructionFields()
    // REX right before the opcode (anything else after it goes to Zydis).
    if p[i] & 0xf0 == 0x40 {
      let rex = p[i]
      f.hasREX = true
      f.rexW = (rex >> 3) & 1
      f.rexR = (rex >> 2) & 1
      f.rexX = (rex >> 1) & 1
      f.rexB = rex & 1
      i += 1
      guard i < count else { return nil }
      switch p[i] {
      case 0x40...0x4f, 0x66, 0x2e, 0x3e, 0x26, 0x36, 0x64, 0x65, 0xf2, 0xf3, 0xf0, 0x67: return nil
      default: break
      }
    }
    var op = p[i]
    i += 1
    let modrm: Bool
    let immediate: Immediate
    if op == 0x0f {
      guard i < count, !repeatPrefix else { return nil }
      op = p[i]
      i += 1
      f.map = map0F
      switch op {
      case 0x05, 0x0b, 0x31, 0xa2, 0xc8...0xcf:
        if operandSize { return nil }
        (modrm, immediate) = (false, .none)
      case 0x80...0x8f:
        if operandSize { return nil }
        (modrm, immediate) = (false, .full)
      case 0x1f, 0x40...0x4f, 0x90...0x9f, 0xa3, 0xab, 0xaf, 0xb3, 0xbb, 0xb6, 0xb7, 0xbe, 0xbf, 0xbc, 0xbd, 0xb0, 0xb1,
        0xc0, 0xc1, 0xa5, 0xad:
        (modrm, immediate) = (true, .none)
      case 0xa4, 0xac, 0xba:
        (modrm, immediate) = (true, .byte)
      case 0x01:
        // Only CLAC and STAC (0F 01 CA/CB), which the uaccess code is full of.
        guard !operandSize, i < count, p[i] == 0xca || p[i] == 0xcb else { return nil }
        (modrm, immediate) = (true, .none)
      default:
        return nil
      }
    } else {
      switch op {
      case 0x00...0x03, 0x08...0x0b, 0x10...0x13, 0x18...0x1b, 0x20...0x23, 0x28...0x2b, 0x30...0x33, 0x38...0x3b,
        0x63, 0x84...0x8b, 0x8d, 0x8f, 0xd0...0xd3, 0xfe, 0xff:
        (modrm, immediate) = (true, .none)
      case 0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3c, 0x6a, 0x70...0x7f, 0xa8, 0xb0...0xb7, 0xcd, 0xe0...0xe7,
        0xeb:
        (modrm, immediate) = (false, .byte)
      case 0x05, 0x0d, 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d, 0x68, 0xa9:
        (modrm, immediate) = (false, .full)
      case 0xe8, 0xe9:
        if operandSize { return nil }
        (modrm, immediate) = (false, .full)
      case 0x69, 0x81, 0xc7:
        (modrm, immediate) = (true, .full)
      case 0x6b, 0x80, 0x83, 0xc0, 0xc1, 0xc6:
        (modrm, immediate) = (true, .byte)
      case 0xf6: (modrm, immediate) = (true, .testByte)
      case 0xf7: (modrm, immediate) = (true, .testFull)
      case 0xb8...0xbf: (modrm, immediate) = (false, .wide)
      case 0xc2, 0xca: (modrm, immediate) = (false, .word)
      case 0x50...0x5f, 0x6c...0x6f, 0x90...0x99, 0x9b...0x9f, 0xa4...0xa7, 0xaa...0xaf, 0xc3, 0xc9, 0xcb, 0xcc, 0xcf,
        0xd7, 0xec...0xef, 0xf1, 0xf4, 0xf5, 0xf8...0xfd:
        (modrm, immediate) = (false, .none)
      default:
        return nil
      }
      // REP/REPNE only on string instructions, PAUSE and `rep ret`.
      if repeatPrefix {
        switch op {
        case 0x6c...0x6f, 0xa4...0xa7, 0xaa...0xaf, 0x90, 0xc3: break
        default: return nil
        }
      }
    }
    f.opcode = op
    var immediateBits: UInt8
    switch immediate {
    case .none, .testByte, .testFull: immediateBits = 0
    case .byte: immediateBits = 8
    case .word: immediateBits = 16
    case .full: immediateBits = operandSize && f.rexW == 0 ? 16 : 32
    case .wide: immediateBits = f.rexW != 0 ? 64 : operandSize ? 16 : 32
    }
    if modrm {
      guard i < count else { return nil }
      let m = p[i]
      i += 1
      f.hasModRM = true
      f.mod = m >> 6
      f.reg = (m >> 3) & 7
      f.rm = m & 7
      // The group encodings taken here (the others go to Zydis).
      if f.map == mapDefault {
        switch op {
        case 0x8d: if f.mod == 3 { return nil }
        case 0x8f, 0xc6, 0xc7: if f.reg != 0 { return nil }
        case 0xfe: if f.reg > 1 { return nil }
        case 0xff: if f.reg == 7 || (f.mod == 3 && (f.reg == 3 || f.reg == 5)) { return nil }
        case 0xc0, 0xc1, 0xd0...0xd3: if f.reg == 6 { return nil }
        case 0xf6, 0xf7:
          if f.reg == 1 { return nil }
          if f.reg == 0 { immediateBits = op == 0xf6 ? 8 : operandSize && f.rexW == 0 ? 16 : 32 }
        default: break
        }
      } else if op == 0xba && f.reg < 4 {
        return nil
      }
      if f.mod != 3 {
        var displacementBytes = f.mod == 1 ? 1 : f.mod == 2 ? 4 : 0
        if f.rm == 4 {
          guard i < count else { return nil }
          let sib = p[i]
          i += 1
          f.hasSIB = true
          f.sibIndex = (sib >> 3) & 7
          f.sibBase = sib & 7
          if f.mod == 0 && f.sibBase == 5 { displacementBytes = 4 }
        } else if f.mod == 0 && f.rm == 5 {
          displacementBytes = 4
        }
        guard i + displacementBytes <= count else { return nil }
        if displacementBytes == 1 {
          f.displacement = Int64(Int8(bitPattern: p[i]))
        } else if displacementBytes == 4 {
          f.displacement = Int64(Int32(bitPattern: load32(p + i)))
        }
        i += displacementBytes
      }
    }
    if immediateBits > 0 {
      let n = Int(immediateBits) / 8
      guard i + n <= count else { return nil }
      f.immediateBits = immediateBits
      f.immediateOffset = UInt8(i)
      switch n {
      case 1: f.immediateValue = UInt64(p[i])
      case 2: f.immediateValue = UInt64(p[i]) | UInt64(p[i + 1]) << 8
      case 4: f.immediateValue = UInt64(load32(p + i))
      default: f.immediateValue = UInt64(load32(p + i)) | UInt64(load32(p + i + 4)) << 32
      }
      i += n
    }
    guard i <= 15 else { return nil }
    f.length = UInt8(i)
    return f
  }

  @inline(__always)
  static func load32(_ p: UnsafePointer<UInt8>) -> UInt32 {
    UInt32(p[0]) | UInt32(p[1]) << 8 | UInt32(p[2]) << 16 | UInt32(p[3]) << 24
  }
}
