/// One symbol (`Elf64_Sym`). The name is an index into the symbol string
/// table; ``ELFFile/name(of:)`` resolves it.
public struct Symbol: Sendable, Hashable {
  /// The symbol's index in its table.
  public var index: Int
  /// `st_name`: index into the string table.
  public var nameIndex: UInt32
  /// `st_info`.
  public var info: UInt8
  /// `st_other`.
  public var other: UInt8
  /// The section index, with `SHN_XINDEX` already resolved through `.symtab_shndx`.
  public var sectionIndex: Int
  /// The raw `st_shndx`.
  public var rawSectionIndex: UInt16
  /// `st_value`.
  public var value: UInt64
  /// `st_size`.
  public var size: UInt64

  /// `ELF64_ST_TYPE(st_info)`.
  public var type: SymbolType { SymbolType(rawValue: info & 0xf) }
  /// `ELF64_ST_BIND(st_info)`.
  public var binding: SymbolBinding { SymbolBinding(rawValue: info >> 4) }
  /// Whether the symbol is defined in a section of this file.
  public var isDefined: Bool {
    rawSectionIndex != SpecialSectionIndex.undefined
      && (rawSectionIndex < SpecialSectionIndex.loReserve || rawSectionIndex == SpecialSectionIndex.extended)
  }
}

/// A symbol table section (`SHT_SYMTAB`) and its string table.
public struct SymbolTable: Sendable {
  /// The `SHT_SYMTAB` section.
  public let section: Section
  /// The string table its `sh_link` names.
  public let strings: StringTable
  /// The number of symbols, including the null symbol 0.
  public let count: Int
  let view: ByteView
  let extendedIndices: ByteView?
  let path: String
  /// Keeps the bytes the views point into alive.
  let owner: MappedFile

  /// The size of one `Elf64_Sym`.
  public static let entrySize = 24

  /// The symbol at `index`.
  public func symbol(at index: Int) throws(ELFError) -> Symbol {
    guard index >= 0, index < count else {
      throw ELFError(
        .badSymbolIndex(index: UInt64(truncatingIfNeeded: index), count: count),
        path: path, offset: section.offset)
    }
    let base = index * Self.entrySize
    let rawShndx = view.load(UInt16.self, at: base + 6)
    var shndx = Int(rawShndx)
    if rawShndx == SpecialSectionIndex.extended, let ext = extendedIndices, (index + 1) * 4 <= ext.count {
      shndx = Int(ext.load(UInt32.self, at: index * 4))
    }
    return Symbol(
      index: index,
      nameIndex: view.load(UInt32.self, at: base),
      info: view.load(UInt8.self, at: base + 4),
      other: view.load(UInt8.self, at: base + 5),
      sectionIndex: shndx,
      rawSectionIndex: rawShndx,
      value: view.load(UInt64.self, at: base + 8),
      size: view.load(UInt64.self, at: base + 16))
  }

  /// The name of `symbol` from this table's string table.
  public func name(of symbol: Symbol) throws(ELFError) -> String {
    try strings.string(at: UInt64(symbol.nameIndex))
  }
}
