import ELF

/// Kernel virtual memory of a dump, translated through the guest's own page
/// tables (4-level, or 5-level when VMCOREINFO says `pgtable_l5_enabled=1`).
public final class KernelMemory: @unchecked Sendable {
  public let dump: any MemoryDump
  /// The physical address of the top-level page table (`init_top_pgt`).
  public let rootTable: UInt64
  public let fiveLevel: Bool
  private var cache: [UInt64: UInt64] = [:]

  /// `__START_KERNEL_map`: where the kernel image is mapped (arch/x86/include/asm/page_64_types.h).
  public static let startKernelMap: UInt64 = 0xffff_ffff_8000_0000
  static let addressMask: UInt64 = 0x000f_ffff_ffff_f000

  /// Memory of `dump`; `initTopPgt` (the virtual address of `init_top_pgt`) is
  /// taken from VMCOREINFO when present. `phys_base` (where the kernel image
  /// was loaded) must be in VMCOREINFO: it is not guessed.
  public init(dump: any MemoryDump, initTopPgt: UInt64?) throws(ELFError) {
    self.dump = dump
    let physBase = try dump.requireVMCOREINFO("NUMBER(phys_base)", hex: false)
    guard let pgt = dump.vmcoreNumber("SYMBOL(init_top_pgt)", hex: true) ?? initTopPgt else {
      throw ELFError(
        .malformed("no init_top_pgt in VMCOREINFO or the vmlinux symbols"), path: dump.path, offset: 0)
    }
    rootTable = pgt &- Self.startKernelMap &+ physBase
    fiveLevel = dump.vmcoreinfo["NUMBER(pgtable_l5_enabled)"] == "1"
  }

  /// The physical address of virtual `address`, or nil when it is not mapped.
  public func translate(_ address: UInt64) -> UInt64? {
    let page = address & ~0xfff
    if let p = cache[page] { return p | (address & 0xfff) }
    var table = rootTable
    let levels: [UInt64] = fiveLevel ? [48, 39, 30, 21, 12] : [39, 30, 21, 12]
    for (i, shift) in levels.enumerated() {
      let index = (address >> shift) & 0x1ff
      // The root comes from VMCOREINFO: a table whose entry lies past the
      // top of the physical address space is not in the dump.
      let (entryAddress, past) = table.addingReportingOverflow(index * 8)
      guard !past, let entryView = dump.readPhysical(entryAddress, 8) else { return nil }
      let entry = entryView.load(UInt64.self, at: 0)
      guard entry & 1 == 1 else { return nil }  // present
      let isLeaf = shift == 12 || ((shift == 30 || shift == 21) && entry & 0x80 != 0)  // PS: 1 GiB / 2 MiB page
      if isLeaf {
        let size: UInt64 = 1 << shift
        let base = entry & Self.addressMask & ~(size - 1)
        let physical = base | (address & (size - 1))
        cache[page] = physical & ~0xfff
        return physical
      }
      table = entry & Self.addressMask
      _ = i
    }
    return nil
  }

  /// `count` bytes at virtual `address` (crossing pages), or nil (also when
  /// they would run past the top of the address space).
  public func read(_ address: UInt64, _ count: Int) -> [UInt8]? {
    var out: [UInt8] = []
    out.reserveCapacity(count)
    var a = address
    var left = count
    while left > 0 {
      let chunk = min(left, Int(0x1000 - (a & 0xfff)))
      guard let p = translate(a), let v = dump.readPhysical(p, chunk) else { return nil }
      out.append(contentsOf: v.bytes)
      left -= chunk
      let (next, past) = a.addingReportingOverflow(UInt64(chunk))
      if past && left > 0 { return nil }
      a = next
    }
    return out
  }

  /// The 64-bit value at virtual `address`.
  public func u64(_ address: UInt64) -> UInt64? {
    if address & 0xfff <= 0xff8, let p = translate(address), let v = dump.readPhysical(p, 8) {
      return v.load(UInt64.self, at: 0)
    }
    return read(address, 8).map { b in b.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) } }
  }

  /// The 32-bit value at virtual `address`.
  public func u32(_ address: UInt64) -> UInt32? {
    read(address, 4).map { b in b.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) } }
  }
}
