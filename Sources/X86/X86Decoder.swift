import CZydis

/// The one x86-64 decoder (Zydis, without operand decoding: the fast path the
/// architecture notes measured); `decode(_:at:inFunction:)` classifies as objtool does.
public struct X86Decoder: @unchecked Sendable {
  var zydis = ZydisDecoder()

  /// A 64-bit long-mode decoder.
  public init() {
    ZydisDecoderInit(&zydis, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)
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
