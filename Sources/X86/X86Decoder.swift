import CZydis

/// The one x86-64 decoder (Zydis, without operand decoding: the fast path the
/// architecture notes measured); `decode(_:at:inFunction:)` classifies as objtool does.
public struct X86Decoder: @unchecked Sendable {
  var zydis = ZydisDecoder()
  /// For the opcodes that are invalid in 64-bit mode (`(i64)` in the kernel's
  /// x86-opcode-map.txt) and that the kernel's decoder, which has no notion of
  /// them, still decodes: their length as in compatibility mode.
  var compat = ZydisDecoder()

  /// A 64-bit long-mode decoder.
  public init() {
    ZydisDecoderInit(&zydis, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)
    // Without semantic analysis: classification reads only the length, the opcode and map, the
    // encoding, the REX/ModRM/SIB attributes and the raw fields, which this mode fills the same
    // (every byte offset of the 1,121 6.1 modules decoded both ways: identical); 15% faster.
    ZydisDecoderEnableMode(&zydis, ZYDIS_DECODER_MODE_MINIMAL, ZyanBool(ZYAN_TRUE))
    ZydisDecoderInit(&compat, ZYDIS_MACHINE_MODE_LONG_COMPAT_32, ZYDIS_STACK_WIDTH_32)
  }

  /// The one-byte opcodes marked `(i64)` in x86-opcode-map.txt whose encoding
  /// is the same in 32-bit mode (C4/C5/62 are VEX/EVEX prefixes in 64-bit mode):
  /// PUSH/POP ES, CS, SS, DS, DAA, DAS, AAA, AAS, PUSHA, POPA, group 1 at 0x82,
  /// far CALL, INTO, AAM, AAD, far JMP.
  static let invalidIn64: Set<UInt8> = [
    0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x60, 0x61, 0x82, 0x9a, 0xce, 0xd4, 0xd5, 0xea,
  ]
  static let legacyPrefixes: Set<UInt8> = [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]

  /// The length the kernel's decoder gives an `(i64)` opcode at `offset` in
  /// 64-bit code (32-bit code such as `pvh_start_xen`'s far jump, in `.text`
  /// of 64-bit objects), or nil when the bytes there are something else.
  func invalidIn64Length(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Int? {
    guard let base = bytes.baseAddress else { return nil }
    var i = offset
    while i < bytes.count && i - offset < 15 && Self.legacyPrefixes.contains(bytes[i]) { i += 1 }
    guard i < bytes.count, Self.invalidIn64.contains(bytes[i]) else { return nil }
    var insn = ZydisDecodedInstruction()
    var context = ZydisDecoderContext()
    let status = withUnsafePointer(to: self.compat) { d in
      ZydisDecoderDecodeInstruction(d, &context, base + offset, bytes.count - offset, &insn)
    }
    guard status & 0x8000_0000 == 0, insn.length > 0 else { return nil }
    return Int(insn.length)
  }
}

extension X86Decoder {
  /// AT&T text of the instructions in `bytes` (`pushf; pop %rax`), for reports.
  /// Stops at the first byte that does not decode and shows the rest in hex.
  public static func disassemble(_ bytes: [UInt8], address: UInt64 = 0) -> String {
    var parts: [String] = []
    var offset = 0
    bytes.withUnsafeBytes { buffer in
      while offset < buffer.count {
        var insn = ZydisDisassembledInstruction()
        let status = ZydisDisassembleATT(
          ZYDIS_MACHINE_MODE_LONG_64, address &+ UInt64(offset),
          buffer.baseAddress! + offset, buffer.count - offset, &insn)
        guard status & 0x8000_0000 == 0, insn.info.length > 0 else {
          parts.append(bytes[offset...].map { String($0, radix: 16).leftPadded(2) }.joined(separator: " "))
          return
        }
        let text = withUnsafeBytes(of: insn.text) { raw in
          String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        parts.append(text)
        offset += Int(insn.info.length)
      }
    }
    return parts.joined(separator: "; ")
  }
}

extension String {
  fileprivate func leftPadded(_ n: Int) -> String {
    count >= n ? self : String(repeating: "0", count: n - count) + self
  }
}

extension X86Decoder {
  /// The general-purpose registers (64-bit names: `rax`, `r11`) that the instructions in
  /// `bytes` write, explicitly or implicitly, other than `rsp` and `rip`; nil when some
  /// byte does not decode. For reports (full operand decoding, not the fast path).
  public static func writtenRegisters(_ bytes: [UInt8]) -> [String]? {
    var decoder = ZydisDecoder()
    ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)
    var written: [String] = []
    var offset = 0
    let ok = bytes.withUnsafeBytes { buffer -> Bool in
      while offset < buffer.count {
        var insn = ZydisDecodedInstruction()
        var operands = [ZydisDecodedOperand](repeating: ZydisDecodedOperand(), count: Int(ZYDIS_MAX_OPERAND_COUNT))
        let status = operands.withUnsafeMutableBufferPointer { ops in
          ZydisDecoderDecodeFull(&decoder, buffer.baseAddress! + offset, buffer.count - offset, &insn, ops.baseAddress)
        }
        guard status & 0x8000_0000 == 0, insn.length > 0 else { return false }
        for op in operands.prefix(Int(insn.operand_count))
        where op.type == ZYDIS_OPERAND_TYPE_REGISTER
          && op.actions & UInt8(ZYDIS_OPERAND_ACTION_MASK_WRITE.rawValue) != 0
        {
          let reg = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, op.reg.value)
          guard ZydisRegisterGetClass(reg) == ZYDIS_REGCLASS_GPR64, reg != ZYDIS_REGISTER_RSP,
            let name = ZydisRegisterGetString(reg).map({ String(cString: $0) }), !written.contains(name)
          else { continue }
          written.append(name)
        }
        offset += Int(insn.length)
      }
      return true
    }
    return ok ? written : nil
  }
}
