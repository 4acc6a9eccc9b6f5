import CZydis

/// An x86-64 decoder (Zydis, without operand decoding: the fast path the
/// architecture notes measured) that classifies what control flow needs.
public struct X86Decoder: @unchecked Sendable {
  var zydis = ZydisDecoder()

  /// A 64-bit long-mode decoder.
  public init() {
    ZydisDecoderInit(&zydis, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)
  }

  /// Decodes the instruction at `offset` in `bytes`, or nil when the bytes there are not one.
  public func decode(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> X86Instruction? {
    guard offset >= 0, offset < bytes.count, let base = bytes.baseAddress else { return nil }
    var insn = ZydisDecodedInstruction()
    var context = ZydisDecoderContext()
    let status = withUnsafePointer(to: zydis) { d in
      ZydisDecoderDecodeInstruction(d, &context, base + offset, bytes.count - offset, &insn)
    }
    guard status & 0x8000_0000 == 0 else { return nil }  // ZYAN_SUCCESS: the error bit is clear
    var result = X86Instruction(offset: offset, length: Int(insn.length), kind: .other,
                                immediateOffset: 0, immediateSize: 0, displacement: 0)
    let imm = insn.raw.imm.0
    let relative = imm.is_relative != 0
    switch insn.meta.category {
    case ZYDIS_CATEGORY_CALL:
      result.kind = relative ? .call : .indirectCall
    case ZYDIS_CATEGORY_UNCOND_BR:
      result.kind = relative ? .jump : .indirectJump
    case ZYDIS_CATEGORY_COND_BR:
      result.kind = .conditionalJump
    case ZYDIS_CATEGORY_RET:
      result.kind = .ret
    case ZYDIS_CATEGORY_NOP, ZYDIS_CATEGORY_WIDENOP:
      result.kind = .nop
    default:
      switch insn.mnemonic {
      case ZYDIS_MNEMONIC_ENDBR64: result.kind = .endbr
      case ZYDIS_MNEMONIC_UD2, ZYDIS_MNEMONIC_INT3, ZYDIS_MNEMONIC_HLT: result.kind = .trap
      case ZYDIS_MNEMONIC_NOP: result.kind = .nop
      default: break
      }
    }
    if relative && result.isDirectBranch {
      result.immediateOffset = Int(imm.offset)
      result.immediateSize = Int(imm.size) / 8
      result.displacement = imm.value.s
    }
    return result
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
        let status = ZydisDisassembleATT(ZYDIS_MACHINE_MODE_LONG_64, address &+ UInt64(offset),
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
  fileprivate func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
