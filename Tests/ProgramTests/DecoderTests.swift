import ELF
import Foundation
import TestSupport
import Testing
import X86

/// The common encodings the decoder reads itself against Zydis, which decodes the rest:
/// every instruction must come out the same either way.
@Suite("Decoder: common encodings as Zydis decodes them")
struct DecoderTests {
  let decoder = X86Decoder()

  /// Offsets of `bytes` where the two decodings differ (at most a few, for the message).
  func differences(_ bytes: [UInt8], at offsets: some Sequence<Int>) -> [String] {
    var out: [String] = []
    bytes.withUnsafeBytes { b in
      for o in offsets where out.count < 5 {
        let common = decoder.decode(b, at: o, inFunction: { true })
        let zydis = decoder.decodeWithZydis(b, at: o, inFunction: { true })
        if common != zydis {
          let hex = bytes[o..<min(o + 15, bytes.count)].map { String($0, radix: 16) }.joined(separator: " ")
          out.append("\(o): \(hex): \(String(describing: common)) against \(String(describing: zydis))")
        }
      }
    }
    return out
  }

  @Test("the encodings of compiled kernel code, with their prefixes and every ModRM form")
  func kernelEncodings() {
    // push/pop, mov, lea, add/sub/and with immediates, test, calls, jumps, nops, ud2, clac/stac.
    let instructions: [[UInt8]] = [
      [0x55], [0x41, 0x57], [0x5d], [0x48, 0x89, 0xe5], [0x48, 0x83, 0xec, 0x10], [0x48, 0x81, 0xec, 0, 1, 0, 0],
      [0x48, 0x8d, 0x64, 0x24, 0x08], [0x48, 0x8b, 0x45, 0xf8], [0x4c, 0x89, 0x74, 0x24, 0x10],
      [0x48, 0x83, 0xe4, 0xf0], [0xe8, 0, 0, 0, 0], [0xe9, 0, 0, 0, 0], [0xeb, 0xfe], [0x0f, 0x84, 0, 0, 0, 0],
      [0x74, 0x05], [0xc3], [0xcc], [0xc9], [0x0f, 0x0b], [0x0f, 0x01, 0xca], [0x0f, 0x01, 0xcb],
      [0x66, 0x90], [0x0f, 0x1f, 0x44, 0, 0], [0x66, 0x0f, 0x1f, 0x44, 0, 0],
      [0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0], [0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0],
      [0xf3, 0x48, 0xab], [0xf3, 0x90], [0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8], [0x66, 0xb8, 1, 2], [0xb8, 1, 2, 3, 4],
      [0xf6, 0x05, 0, 0, 0, 0, 1], [0xf7, 0xc7, 1, 0, 0, 0], [0x66, 0xf7, 0xc7, 1, 0],
      [0x66, 0x48, 0x81, 0xc0, 1, 2, 3, 4],
      [0xff, 0xd0], [0xff, 0xe0], [0xff, 0x25, 0, 0, 0, 0], [0xff, 0x14, 0x25, 0, 0, 0, 0], [0x0f, 0xba, 0xe0, 3],
      [0x65, 0x48, 0x8b, 0x04, 0x25, 0x28, 0, 0, 0], [0x8f, 0xc0], [0xc7, 0x04, 0x24, 1, 2, 3, 4], [0xc2, 8, 0],
    ]
    for bytes in instructions {
      #expect(differences(bytes + [0x90, 0x90], at: [0]).isEmpty, "\(bytes.map { String($0, radix: 16) })")
    }
  }

  @Test("every opcode after every prefix, with varied ModRM, SIB and following bytes")
  func exhaustiveOpcodes() {
    let prefixes: [[UInt8]] = [
      [], [0x66], [0xf2], [0xf3], [0xf0], [0x67], [0x2e], [0x65], [0x48], [0x41], [0x66, 0x48], [0x48, 0x66], [0x0f],
      [0x66, 0x0f], [0xf3, 0x0f], [0x48, 0x0f],
    ]
    let tails: [[UInt8]] = [
      [0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0xc0, 1, 2, 3, 4, 5, 6, 7, 8], [0x44, 0x24, 0x08, 1, 2, 3, 4, 5],
      [0x05, 0x10, 0x20, 0x30, 0x40, 1, 2, 3, 4], [0x84, 0x25, 1, 2, 3, 4, 5, 6, 7, 8], [0x3c, 0x25, 1, 2, 3, 4, 5],
      [0xf8, 9, 9, 9, 9, 9], [0xca], [0x4c], [0x94, 0xc5, 0x80, 0, 0, 0, 1, 2],
    ]
    var failures: [String] = []
    for p in prefixes {
      for op in 0...255 {
        for tail in tails {
          failures += differences(p + [UInt8(op)] + tail, at: [0])
        }
      }
    }
    #expect(failures.isEmpty, "\(failures.prefix(5))")
  }

  @Test("random byte strings")
  func random() {
    var state: UInt64 = 0x9e37_79b9_7f4a_7c15
    func next() -> UInt64 {
      state ^= state << 13
      state ^= state >> 7
      state ^= state << 17
      return state
    }
    let prefixes: [UInt8] = [0x66, 0x2e, 0x3e, 0x26, 0x36, 0x64, 0x65, 0xf2, 0xf3, 0xf0, 0x67, 0x40, 0x48, 0x4c, 0x0f]
    var bytes = [UInt8](repeating: 0, count: 200_000 * 16)
    for k in stride(from: 0, to: bytes.count, by: 16) {
      for j in 0..<16 { bytes[k + j] = UInt8(truncatingIfNeeded: next()) }
      for j in 0..<Int(next() % 3) { bytes[k + j] = prefixes[Int(next() % UInt64(prefixes.count))] }
    }
    #expect(differences(bytes, at: stride(from: 0, to: bytes.count, by: 16)).isEmpty)
  }

  @Test(
    "every byte offset of 20 real modules", .enabled(if: Corpus.current != nil || Corpus.required))
  func corpusModules() throws {
    let corpus = try #require(Corpus.current)
    for path in Corpus.sample(Corpus.modules(under: corpus.modules61), count: 20) {
      let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
      #expect(differences(bytes, at: 0..<bytes.count).isEmpty, "\(path)")
    }
  }
}
