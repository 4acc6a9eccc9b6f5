import ELF

/// A dump of a guest's or a crashed machine's physical memory with what the
/// unwinder needs besides: each CPU's registers and the kernel's VMCOREINFO.
/// ``CoreDump`` reads QEMU's ELF core, ``KdumpCompressed`` the
/// kdump-compressed format of makedumpfile and QEMU's `kdump-*` formats;
/// ``openMemoryDump(path:)`` picks one by the file's magic.
///
/// Instances are used from one thread at a time (``KdumpCompressed`` caches
/// decompressed pages).
public protocol MemoryDump: AnyObject, Sendable {
  /// The dump's path, for messages.
  var path: String { get }
  /// The `VMCOREINFO` keys and values (`SYMBOL(init_top_pgt)`, `NUMBER(phys_base)`, `KERNELOFFSET`, …).
  var vmcoreinfo: [String: String] { get }
  /// The file offset of the `VMCOREINFO` text, when the dump has one.
  var vmcoreinfoOffset: UInt64? { get }
  /// Registers per CPU, in note order (CPU 0 first).
  var cpus: [Registers] { get }
  /// What a partial dump lacks, as a one-line message (`partial dump: …`)
  /// at the offset that tells it; nil for a whole dump. Not an error: what
  /// the dump holds can be read.
  var partial: ELFError? { get }
  /// `count` bytes of guest-physical memory at `address`, or nil when the
  /// dump lacks them. The view is for immediate use: a decompressed page
  /// may be reused by later reads.
  func readPhysical(_ address: UInt64, _ count: Int) -> ByteView?
}

extension MemoryDump {
  /// A `NUMBER(name)` or `SYMBOL(name)` value of VMCOREINFO.
  public func vmcoreNumber(_ key: String, hex: Bool) -> UInt64? {
    guard let v = vmcoreinfo[key] else { return nil }
    return hex ? UInt64(v, radix: 16) : (UInt64(v) ?? Int64(v).map { UInt64(bitPattern: $0) })
  }

  /// `vmcoreNumber(key, hex:)`, or an error naming the key (or the note) the dump lacks.
  public func requireVMCOREINFO(_ key: String, hex: Bool) throws(ELFError) -> UInt64 {
    if let value = vmcoreNumber(key, hex: hex) { return value }
    guard let offset = vmcoreinfoOffset else {
      throw ELFError(.missingVMCOREINFO(key: key, hasNote: false), path: path, offset: 0)
    }
    if let text = vmcoreinfo[key] {
      throw ELFError(.malformed("VMCOREINFO \(key)=\(text) is not a number"), path: path, offset: offset)
    }
    throw ELFError(.missingVMCOREINFO(key: key, hasNote: true), path: path, offset: offset)
  }
}

/// Opens the memory dump at `path`: an ELF core (`\x7fELF`), a
/// kdump-compressed file (`KDUMP   `) or one in makedumpfile's flattened
/// format (`makedumpfile`, which QEMU 7.2's `kdump-*` formats write).
/// Anything else is an error at offset 0.
public func openMemoryDump(path: String) throws(ELFError) -> any MemoryDump {
  let source = try MappedFile(path: path)
  let magic = source.bytes.prefix(16)
  if magic.starts(with: [0x7f, 0x45, 0x4c, 0x46]) { return try CoreDump(file: ELFFile(source: source)) }
  if magic.starts(with: KdumpCompressed.signature) || magic.starts(with: KdumpCompressed.flattenedSignature) {
    return try KdumpCompressed(source: source)
  }
  if magic.starts(with: Array("DISKDUMP".utf8)) {
    throw ELFError(
      .malformed("a diskdump file (signature DISKDUMP): only ELF cores and kdump-compressed dumps are read"),
      path: path, offset: 0)
  }
  throw ELFError(
    .malformed(
      "not a memory dump: neither an ELF core (\\x7fELF) nor a kdump-compressed dump (\"KDUMP   \" or \"makedumpfile\")"
    ), path: path, offset: 0)
}

/// What the notes of a dump give: the `VMCOREINFO` note (its text's keys
/// and offset) and the registers of each `NT_PRSTATUS` note. Both dump
/// formats carry the same notes (a kdump-compressed dump at `offset_note`).
struct DumpNotes {
  var vmcoreinfo: [String: String] = [:]
  var vmcoreinfoOffset: UInt64? = nil
  var cpus: [Registers] = []

  /// The offset of `pr_reg` in x86-64 `struct elf_prstatus`.
  static let prRegOffset = 112

  init(_ notes: [ELFNote]) {
    for note in notes {
      if note.name == "VMCOREINFO" {
        vmcoreinfoOffset = note.descriptor.fileOffset
        vmcoreinfo = Self.keys(note.descriptor.bytes)
      } else if note.name == "CORE" && note.type == 1 && note.descriptor.count >= Self.prRegOffset + 27 * 8 {
        let regs = (0..<27).map { note.descriptor.load(UInt64.self, at: Self.prRegOffset + $0 * 8) }
        cpus.append(Registers(userRegs: regs))
      }
    }
  }

  /// The `KEY=value` lines of a VMCOREINFO text (up to its first NUL).
  static func keys(_ text: some Collection<UInt8>) -> [String: String] {
    var info: [String: String] = [:]
    let text = String(decoding: text.prefix { $0 != 0 }, as: UTF8.self)
    for line in text.split(separator: "\n") {
      if let eq = line.firstIndex(of: "=") { info[String(line[..<eq])] = String(line[line.index(after: eq)...]) }
    }
    return info
  }
}
