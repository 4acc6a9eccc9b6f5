import ELF

/// The x86-64 general registers of a CPU, as `struct user_regs_struct`
/// stores them in an `NT_PRSTATUS` note (`arch/x86/include/asm/user_64.h`).
public struct Registers: Sendable, Hashable {
  public var r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, origAx, ip, cs, flags, sp, ss: UInt64

  /// The registers in `pr_reg` order.
  public init(userRegs v: [UInt64]) {
    (r15, r14, r13, r12, bp, bx, r11, r10, r9, r8) = (v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9])
    (ax, cx, dx, si, di, origAx, ip, cs, flags, sp, ss) = (
      v[10], v[11], v[12], v[13], v[14], v[15], v[16], v[17], v[18], v[19], v[20]
    )
  }

  /// Whether the CPU was in user mode (`user_mode()`: CPL 3).
  public var isUserMode: Bool { cs & 3 == 3 }
}

/// A guest memory dump as QEMU's `dump-guest-memory` writes it: an ELF core
/// whose `PT_LOAD` segments hold guest-physical memory (by `p_paddr`), with
/// one `NT_PRSTATUS` note per CPU and the guest's `VMCOREINFO` note.
public final class CoreDump: MemoryDump {
  /// The core file.
  public let file: ELFFile
  /// `PT_LOAD` segments sorted by physical address.
  let segments: [ProgramHeader]
  /// The `VMCOREINFO` keys and values (`SYMBOL(init_top_pgt)`, `NUMBER(phys_base)`, `KERNELOFFSET`, …).
  public let vmcoreinfo: [String: String]
  /// The file offset of the `VMCOREINFO` note's text, when there is one.
  public let vmcoreinfoOffset: UInt64?
  /// Registers per CPU, in note order (CPU 0 first).
  public let cpus: [Registers]
  /// The core's path.
  public var path: String { file.path }
  /// Nil: a core whose segments run past its end is not opened.
  public var partial: ELFError? { nil }

  /// Opens the dump at `path`.
  public convenience init(path: String) throws(ELFError) {
    try self.init(file: ELFFile(path: path))
  }

  /// The dump in `file`.
  public init(file: ELFFile) throws(ELFError) {
    self.file = file
    guard file.fileType == .core else {
      throw ELFError(.malformed("not a core file (e_type \(file.fileType.rawValue))"), path: file.path, offset: 16)
    }
    segments = try file.programHeaders().filter { $0.type == ProgramHeader.load && $0.fileSize > 0 }
      .sorted { $0.physicalAddress < $1.physicalAddress }
    let notes = DumpNotes(try file.notes())
    vmcoreinfo = notes.vmcoreinfo
    vmcoreinfoOffset = notes.vmcoreinfoOffset
    cpus = notes.cpus
  }

  /// `count` bytes of guest-physical memory at `address`, or nil when the dump lacks them.
  public func readPhysical(_ address: UInt64, _ count: Int) -> ByteView? {
    let lo = segments.partitioningIndex { $0.physicalAddress > address }
    guard lo > 0 else { return nil }
    let s = segments[lo - 1]
    let delta = address - s.physicalAddress
    guard delta < s.fileSize, UInt64(count) <= s.fileSize - delta else { return nil }
    return file.contents(of: s).slice(Int(delta), count)
  }
}
