import ELF
import Kernel

/// Where an ORC entry applies: a symbol (or section) plus an offset, as the
/// relocations of `.orc_unwind_ip` say in an object, or an address in a
/// linked image without them.
public enum ORCLocation: Hashable, Sendable {
  /// `name + addend`, from `.rela.orc_unwind_ip`.
  case symbolic(name: String, addend: Int64)
  /// An absolute address, from `.orc_unwind_ip`'s relative offsets.
  case address(UInt64)
}

/// The ORC table of one object: `.orc_unwind` (the entries) and
/// `.orc_unwind_ip` (one 32-bit self-relative IP per entry), with
/// `.rela.orc_unwind_ip` when the object still has relocations.
///
/// The sections are found by name, as objtool's dump finds them; entries
/// are decoded on access from the mapped bytes.
public struct ORCTable: Sendable {
  /// The file the table was read from.
  public let file: ELFFile
  /// The entry layout of the file's generation.
  public let layout: ORCLayout
  /// The number of entries (`.orc_unwind` size / 6).
  public let count: Int
  /// `sh_addr` of `.orc_unwind_ip`.
  public let ipSectionAddress: UInt64
  /// The file offset of `.orc_unwind_ip`'s section header, for errors.
  let ipSectionHeaderOffset: UInt64
  let entries: ByteView
  let ips: ByteView
  let ipRelocations: RelocationTable?
  let symbols: SymbolTable

  /// Reads the ORC table of `file` in `generation`'s layout.
  ///
  /// Returns nil when the file has no ORC to dump (no `.symtab`, `.strtab`,
  /// `.orc_unwind` or `.orc_unwind_ip`, or an empty one), as objtool prints
  /// nothing then.
  public static func load(from file: ELFFile, generation: KernelGeneration) throws(ELFError) -> ORCTable? {
    guard let symtab = file.section(named: ".symtab"),
      let strtab = file.section(named: ".strtab"),
      let orc = file.section(named: ".orc_unwind"),
      let orcIP = file.section(named: ".orc_unwind_ip")
    else { return nil }
    let entries = file.contents(of: orc)
    let ips = file.contents(of: orcIP)
    guard entries.count > 0, ips.count > 0 else { return nil }
    guard entries.count % ORCLayout.entrySize == 0 else {
      throw ELFError(
        .badSectionSize(
          section: ".orc_unwind", size: orc.size,
          entrySize: UInt64(ORCLayout.entrySize)),
        path: file.path, offset: orc.headerOffset)
    }
    let symbols = try file.symbolTable(symtab, strings: strtab)
    let count = entries.count / ORCLayout.entrySize
    var relocations: RelocationTable? = nil
    if let rela = file.section(named: ".rela.orc_unwind_ip") {
      let table = try file.relocations(rela)
      guard table.count >= count else {
        throw ELFError(
          .malformed(".rela.orc_unwind_ip has \(table.count) relocations for \(count) ORC entries"),
          path: file.path, offset: rela.headerOffset)
      }
      relocations = table
    } else if ips.count / 4 < count {
      throw ELFError(
        .malformed(".orc_unwind_ip has \(ips.count / 4) entries for \(count) ORC entries"),
        path: file.path, offset: orcIP.headerOffset)
    }
    return ORCTable(
      file: file, layout: .of(generation), count: count,
      ipSectionAddress: orcIP.address, ipSectionHeaderOffset: orcIP.headerOffset, entries: entries, ips: ips,
      ipRelocations: relocations, symbols: symbols)
  }

  /// Entry `index` (`0 ..< count`).
  @inline(__always)
  public func entry(_ index: Int) -> ORCEntry {
    let b = index * ORCLayout.entrySize
    return layout.decode(
      spOffset: entries.load(Int16.self, at: b), bpOffset: entries.load(Int16.self, at: b + 2),
      regs: entries.load(UInt8.self, at: b + 4), bits: entries.load(UInt8.self, at: b + 5))
  }

  /// Whether the table's locations come from relocations (an object) rather than addresses.
  public var isRelocatable: Bool { ipRelocations != nil }

  /// Where entry `index` applies.
  public func location(_ index: Int) throws(ELFError) -> ORCLocation {
    if let relocations = ipRelocations {
      let symbol = try relocations.symbol(of: index, in: symbols)
      return .symbolic(name: try file.displayName(of: symbol, in: symbols), addend: relocations[index].addend)
    }
    return .address(address(index))
  }

  /// The section and offset entry `index` applies to: the relocated symbol's section
  /// and value plus the addend in an object; in a linked image, the allocated section
  /// holding its address. Nil when it names no section of the file.
  public func place(_ index: Int) throws(ELFError) -> (section: Int, offset: UInt64)? {
    // A linked image linked with --emit-relocs keeps `.rela.orc_unwind_ip`, but its
    // symbol values are addresses: the address in `.orc_unwind_ip` says it directly.
    if let relocations = ipRelocations, file.fileType == .relocatable {
      let symbol = try relocations.symbol(of: index, in: symbols)
      guard symbol.sectionIndex > 0, symbol.sectionIndex < file.sections.count else { return nil }
      return (symbol.sectionIndex, symbol.value &+ UInt64(bitPattern: relocations[index].addend))
    }
    guard index * 4 + 4 <= ips.count else { return nil }
    let a = address(index)
    for s in file.sections where s.flags.contains(.alloc) && s.size > 0 && a >= s.address && a - s.address < s.size {
      return (s.index, a - s.address)
    }
    return nil
  }

  /// Checks that `.orc_unwind_ip` has an address for every entry, as
  /// ``address(_:)`` needs: `load` does not check it when relocations give the
  /// locations (objtool's dump reads only those then).
  public func requireAddresses() throws(ELFError) {
    guard ips.count / 4 < count else { return }
    throw ELFError(
      .malformed(".orc_unwind_ip has \(ips.count / 4) entries for \(count) ORC entries"),
      path: file.path, offset: ipSectionHeaderOffset)
  }

  /// The absolute address of entry `index` (`.orc_unwind_ip` is self-relative).
  /// `index` must be below `count`, and ``requireAddresses()`` must hold when the table has relocations.
  public func address(_ index: Int) -> UInt64 {
    let rel = Int64(ips.load(Int32.self, at: index * 4))
    return ipSectionAddress &+ UInt64(index * 4) &+ UInt64(bitPattern: rel)
  }
}
