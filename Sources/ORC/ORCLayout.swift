import Kernel

/// The bit layout of `struct orc_entry` in one kernel generation
/// (`arch/x86/include/asm/orc_types.h`). Every generation-specific fact
/// about the entry lives here.
///
/// ```c
/// struct orc_entry {                 // 6 bytes, packed, little-endian
///     s16 sp_offset;
///     s16 bp_offset;
///     unsigned sp_reg:4;
///     unsigned bp_reg:4;
///     unsigned type:2;  unsigned end:1;      // 6.1
///     unsigned type:3;  unsigned signal:1;   // 6.12
/// } __packed;
/// ```
public struct ORCLayout: Sendable, Hashable {
  /// The generation this layout belongs to.
  public let generation: KernelGeneration
  /// The width of the `type` bit-field.
  public let typeBits: UInt8
  /// The name of the one-bit flag after `type`: `end` (6.1) or `signal` (6.12).
  public let flagName: String
  /// The frame types by their encoded value.
  public let types: [ORCFrameType]

  /// The size of one encoded entry.
  public static let entrySize = 6

  /// The layout of `generation`.
  public static func of(_ generation: KernelGeneration) -> ORCLayout {
    switch generation {
    case .v6_1:
      // UNWIND_HINT_TYPE_CALL 0, _REGS 1, _REGS_PARTIAL 2 (include/linux/objtool.h, 6.1)
      return ORCLayout(
        generation: .v6_1, typeBits: 2, flagName: "end",
        types: [.call, .regs, .regsPartial])
    case .v6_12:
      // ORC_TYPE_UNDEFINED 0 … ORC_TYPE_REGS_PARTIAL 4 (asm/orc_types.h, 6.12)
      return ORCLayout(
        generation: .v6_12, typeBits: 3, flagName: "signal",
        types: [.undefined, .endOfStack, .call, .regs, .regsPartial])
    }
  }

  /// The frame type encoded as `raw`.
  public func frameType(_ raw: UInt8) -> ORCFrameType {
    Int(raw) < types.count ? types[Int(raw)] : .unknown(raw)
  }

  /// The encoded value of `type`, or nil when this generation cannot express it.
  public func rawType(_ type: ORCFrameType) -> UInt8? {
    if case .unknown(let raw) = type { return raw < (1 << typeBits) ? raw : nil }
    return types.firstIndex(of: type).map { UInt8($0) }
  }

  /// Decodes the six bytes at `bytes`.
  @inline(__always)
  public func decode(spOffset: Int16, bpOffset: Int16, regs: UInt8, bits: UInt8) -> ORCEntry {
    let typeMask: UInt8 = (1 << typeBits) - 1
    return ORCEntry(
      spOffset: spOffset, bpOffset: bpOffset,
      spReg: ORCRegister(rawValue: regs & 0xf), bpReg: ORCRegister(rawValue: regs >> 4),
      rawType: bits & typeMask, flag: (bits >> typeBits) & 1 == 1)
  }

  /// The six bytes of `entry`, little-endian.
  public func encode(_ entry: ORCEntry) -> [UInt8] {
    let sp = UInt16(bitPattern: entry.spOffset)
    let bp = UInt16(bitPattern: entry.bpOffset)
    let typeMask: UInt8 = (1 << typeBits) - 1
    return [
      UInt8(sp & 0xff), UInt8(sp >> 8), UInt8(bp & 0xff), UInt8(bp >> 8),
      entry.spReg.rawValue | (entry.bpReg.rawValue << 4),
      (entry.rawType & typeMask) | ((entry.flag ? 1 : 0) << typeBits),
    ]
  }
}
