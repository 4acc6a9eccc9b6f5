/// One `Elf64_Rela` entry.
public struct Relocation: Sendable, Hashable {
  /// `r_offset`: where in the target section the relocation applies.
  public var offset: UInt64
  /// `ELF64_R_SYM(r_info)`.
  public var symbolIndex: UInt32
  /// `ELF64_R_TYPE(r_info)`.
  public var type: UInt32
  /// `r_addend`.
  public var addend: Int64

  public init(offset: UInt64, symbolIndex: UInt32, type: UInt32, addend: Int64) {
    (self.offset, self.symbolIndex, self.type, self.addend) = (offset, symbolIndex, type, addend)
  }
}

/// A relocation section (`SHT_RELA`): its entries and the section they patch.
public struct RelocationTable: Sendable {
  /// The `SHT_RELA` section.
  public let section: Section
  /// The number of entries.
  public let count: Int
  let view: ByteView
  let path: String
  /// Keeps the bytes `view` points into alive.
  let owner: MappedFile

  /// The size of one `Elf64_Rela`.
  public static let entrySize = 24

  init(section: Section, view: ByteView, path: String, owner: MappedFile) throws(ELFError) {
    guard view.count % Self.entrySize == 0 else {
      throw ELFError(
        .badSectionSize(
          section: section.name, size: UInt64(view.count),
          entrySize: UInt64(Self.entrySize)),
        path: path, offset: section.headerOffset)
    }
    self.section = section
    self.view = view
    self.path = path
    self.owner = owner
    self.count = view.count / Self.entrySize
  }

  /// The relocation at `index` (`0 ..< count`).
  public subscript(index: Int) -> Relocation {
    let base = index * Self.entrySize
    let info = view.load(UInt64.self, at: base + 8)
    return Relocation(
      offset: view.load(UInt64.self, at: base),
      symbolIndex: UInt32(truncatingIfNeeded: info >> 32),
      type: UInt32(truncatingIfNeeded: info),
      addend: view.load(Int64.self, at: base + 16))
  }

  /// The file offset of entry `index`, for error messages.
  public func fileOffset(of index: Int) -> UInt64 {
    view.fileOffset + UInt64(index * Self.entrySize)
  }

  /// The symbol entry `index` refers to, checked against `symbols`.
  public func symbol(of index: Int, in symbols: SymbolTable) throws(ELFError) -> Symbol {
    let rel = self[index]
    guard Int(rel.symbolIndex) < symbols.count else {
      throw ELFError(
        .missingRelocationSymbol(
          relocation: index, symbol: UInt64(rel.symbolIndex),
          count: symbols.count),
        path: path, offset: fileOffset(of: index))
    }
    return try symbols.symbol(at: Int(rel.symbolIndex))
  }
}
