import ELF
import Kernel
import ORC

/// The ORC table of a linked image, sorted by address, with the kernel's
/// lookup index (`orc_lookup`, arch/x86/kernel/unwind_orc.c): one slot per
/// 256-byte block of text that narrows the binary search to a few entries.
public struct ORCLookup: Sendable {
  /// The entry layout.
  public let layout: ORCLayout
  /// Entry addresses, ascending.
  public let addresses: [UInt64]
  /// Entries, in the order of `addresses`.
  public let entries: [ORCEntry]
  /// `blocks[i]`: the index of the last entry at or before `textStart + i * blockSize`.
  let blocks: [Int32]
  /// The start of the indexed range (the first entry's address, rounded down).
  public let textStart: UInt64
  /// The end of the indexed range.
  public let textEnd: UInt64

  /// `LOOKUP_BLOCK_SIZE` (`arch/x86/include/asm/orc_lookup.h`).
  public static let blockSize: UInt64 = 256
  /// The most blocks the index has: 1 GiB of text (a kernel's is tens of MiB).
  static let maxBlocks: UInt64 = 1 << 22

  /// The lookup of `table` (a linked image's `.orc_unwind` and `.orc_unwind_ip`).
  public init(table: ORCTable, textEnd: UInt64? = nil) {
    self.init(
      layout: table.layout, addresses: (0..<table.count).map { table.address($0) },
      entries: (0..<table.count).map { table.entry($0) }, textEnd: textEnd)
  }

  /// A lookup over `entries` at `addresses` (any order); the last covers up to `textEnd`.
  public init(
    layout: ORCLayout, addresses unsorted: [UInt64], entries unsortedEntries: [ORCEntry], textEnd: UInt64? = nil
  ) {
    self.layout = layout
    let order = unsorted.indices.sorted { unsorted[$0] < unsorted[$1] || (unsorted[$0] == unsorted[$1] && $0 < $1) }
    addresses = order.map { unsorted[$0] }
    entries = order.map { unsortedEntries[$0] }
    textStart = (addresses.first ?? 0) & ~(Self.blockSize - 1)
    // The addresses come from the file: one at the top of the address space ends there.
    self.textEnd = textEnd ?? ((addresses.last ?? 0) == UInt64.max ? UInt64.max : (addresses.last ?? 0) + 1)
    var blocks: [Int32] = []
    // The index covers textStart ..< textEnd; a range the file makes empty,
    // wider than `maxBlocks` blocks or with more entries than an Int32 counts
    // gets none, and `entry(for:)` searches all entries instead.
    let span = self.textEnd >= textStart ? self.textEnd - textStart : nil
    if !addresses.isEmpty, addresses.count <= Int(Int32.max), let span, span / Self.blockSize < Self.maxBlocks {
      let count = Int((span + Self.blockSize - 1) / Self.blockSize) + 1
      blocks.reserveCapacity(count)
      var i = 0
      for b in 0..<count {
        // The block after the last may start past the top of the address space: past every entry.
        let (blockStart, past) = textStart.addingReportingOverflow(UInt64(b) * Self.blockSize)
        let start = past ? UInt64.max : blockStart
        while i + 1 < addresses.count && addresses[i + 1] <= start { i += 1 }
        blocks.append(Int32(i))
      }
    }
    self.blocks = blocks
  }

  /// The entry for `ip`: the last one at or before it, or nil outside the table.
  public func entry(for ip: UInt64) -> ORCEntry? {
    guard !addresses.isEmpty, ip >= addresses[0], ip < textEnd else { return nil }
    var lo = 0
    var hi = addresses.count
    if !blocks.isEmpty {
      let block = Int((ip - textStart) / Self.blockSize)
      lo = min(Int(blocks[block]), addresses.count)
      hi = min(block + 1 < blocks.count ? Int(blocks[block + 1]) + 1 : addresses.count, addresses.count)
    }
    guard lo < hi else { return nil }
    // The last index in lo..<hi with addresses[index] <= ip.
    let after = addresses[lo..<hi].partitioningIndex { $0 > ip }
    return after > lo ? entries[after - 1] : nil
  }
}
