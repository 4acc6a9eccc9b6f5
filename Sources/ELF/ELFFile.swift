/// An ELF64 little-endian object (x86-64 or aarch64): a relocatable object,
/// a kernel module or a linked image, read in place from its bytes.
///
/// The header and every section header are validated when the file is
/// opened (each section's contents must lie inside the file, each name must
/// be a valid string), so later reads of section contents need no checks of
/// their own. Symbols and relocations are decoded on demand.
public final class ELFFile: Sendable {
  /// The bytes this file reads.
  public let source: MappedFile
  /// The path, for messages.
  public var path: String { source.path }
  /// `e_machine`.
  public let machine: Machine
  /// `e_type`.
  public let fileType: FileType
  /// All section headers, index 0 (the null section) included.
  public let sections: [Section]
  /// The index of the section header string table.
  public let sectionNameTableIndex: Int
  private let sectionIndexByName: [String: Int]

  /// The size of `Elf64_Ehdr`.
  public static let headerSize = 64
  /// The size of `Elf64_Shdr`.
  public static let sectionHeaderSize = 64

  /// Opens and maps the file at `path`.
  public convenience init(path: String) throws(ELFError) {
    try self.init(source: MappedFile(path: path))
  }

  /// Reads an ELF file from `source`.
  public init(source: MappedFile) throws(ELFError) {
    self.source = source
    let path = source.path
    let file = ByteView(source.bytes, fileOffset: 0)
    let fileSize = UInt64(file.count)
    func fail(_ kind: ELFError.Kind, _ offset: UInt64) -> ELFError {
      ELFError(kind, path: path, offset: offset)
    }

    guard file.count >= 4 else {
      throw fail(.truncated(what: "ELF identification", needed: 4, size: fileSize), 0)
    }
    guard file.load(UInt32.self, at: 0) == 0x464c_457f else { throw fail(.badMagic, 0) }
    guard file.count >= Self.headerSize else {
      throw fail(.truncated(what: "ELF header", needed: UInt64(Self.headerSize), size: fileSize), 0)
    }
    let elfClass = file.load(UInt8.self, at: 4)
    guard elfClass == 2 else { throw fail(.unsupportedClass(elfClass), 4) }
    let encoding = file.load(UInt8.self, at: 5)
    guard encoding == 1 else { throw fail(.unsupportedEncoding(encoding), 5) }
    fileType = FileType(rawValue: file.load(UInt16.self, at: 16))
    machine = Machine(rawValue: file.load(UInt16.self, at: 18))
    guard machine == .x86_64 || machine == .aarch64 else {
      throw fail(.unsupportedMachine(machine.rawValue), 18)
    }

    let shoff = file.load(UInt64.self, at: 40)
    let shentsize = file.load(UInt16.self, at: 58)
    var shnum = UInt64(file.load(UInt16.self, at: 60))
    var shstrndx = UInt64(file.load(UInt16.self, at: 62))

    if shoff == 0 {
      // No section headers at all: nothing to read, but not malformed.
      sections = []
      sectionNameTableIndex = 0
      sectionIndexByName = [:]
      return
    }
    guard shentsize == Self.sectionHeaderSize else {
      throw fail(
        .badEntrySize(
          what: "e_shentsize", value: UInt64(shentsize),
          expected: UInt64(Self.sectionHeaderSize)), 58)
    }
    guard shoff <= fileSize, fileSize - shoff >= UInt64(Self.sectionHeaderSize) else {
      throw fail(
        .truncated(
          what: "section header table at 0x\(hex(shoff))",
          needed: shoff &+ UInt64(Self.sectionHeaderSize), size: fileSize), 40)
    }
    // Extended numbering: the real counts live in section header 0.
    if shnum == 0 { shnum = file.load(UInt64.self, at: Int(shoff) + 32) }
    if shstrndx == UInt64(SpecialSectionIndex.extended) {
      shstrndx = UInt64(file.load(UInt32.self, at: Int(shoff) + 40))
    }
    let (tableSize, overflow) = shnum.multipliedReportingOverflow(by: UInt64(Self.sectionHeaderSize))
    guard !overflow, tableSize <= fileSize - shoff else {
      // The bytes needed, saturating: a count read from the file may be near 2^64 / 64.
      let (end, past) = shoff.addingReportingOverflow(tableSize)
      throw fail(
        .truncated(
          what: "section header table (\(shnum) entries)",
          needed: overflow || past ? UInt64.max : end, size: fileSize), 40)
    }
    guard shstrndx < shnum else { throw fail(.badSectionIndex(Int(clamping: shstrndx)), 62) }

    // Raw headers first, then names (the name table is itself a section).
    var raw: [Section] = []
    raw.reserveCapacity(Int(shnum))
    for i in 0..<Int(shnum) {
      let h = Int(shoff) + i * Self.sectionHeaderSize
      let s = Section(
        index: i, name: "",
        type: SectionType(rawValue: file.load(UInt32.self, at: h + 4)),
        flags: SectionFlags(rawValue: file.load(UInt64.self, at: h + 8)),
        address: file.load(UInt64.self, at: h + 16),
        offset: file.load(UInt64.self, at: h + 24),
        size: file.load(UInt64.self, at: h + 32),
        link: file.load(UInt32.self, at: h + 40),
        info: file.load(UInt32.self, at: h + 44),
        alignment: file.load(UInt64.self, at: h + 48),
        entrySize: file.load(UInt64.self, at: h + 56),
        headerOffset: UInt64(h))
      if s.hasFileContents && (s.offset > fileSize || s.size > fileSize - s.offset) {
        throw fail(
          .sectionOutOfBounds(section: i, offset: s.offset, size: s.size, fileSize: fileSize),
          UInt64(h) + 24)
      }
      raw.append(s)
    }
    let strtabHeader = raw[Int(shstrndx)]
    guard strtabHeader.hasFileContents else {
      throw fail(
        .malformed("section name table (section \(shstrndx)) has no contents"),
        strtabHeader.headerOffset)
    }
    let names = StringTable(
      view: file.slice(Int(strtabHeader.offset), Int(strtabHeader.size))!, path: path)
    var byName: [String: Int] = [:]
    for i in raw.indices {
      let nameIndex = UInt64(file.load(UInt32.self, at: Int(raw[i].headerOffset)))
      if i == 0 && nameIndex == 0 { continue }
      do {
        raw[i].name = try names.string(at: nameIndex)
      } catch {
        // Name the offending header rather than the string table.
        var e = error
        e.offset = raw[i].headerOffset
        throw e
      }
      // objtool's lookups take the first section of a name.
      if byName[raw[i].name] == nil { byName[raw[i].name] = i }
    }
    sections = raw
    sectionNameTableIndex = Int(shstrndx)
    sectionIndexByName = byName
  }

  /// The first section called `name`, if any.
  public func section(named name: String) -> Section? {
    sectionIndexByName[name].map { sections[$0] }
  }

  /// The section at `index`, or an error naming `offset` as where the index came from.
  public func section(at index: Int, referencedAt offset: UInt64) throws(ELFError) -> Section {
    guard index >= 0, index < sections.count else {
      throw ELFError(.badSectionIndex(index), path: path, offset: offset)
    }
    return sections[index]
  }

  /// The contents of `section` (empty for `SHT_NOBITS`). Bounds were checked on open.
  public func contents(of section: Section) -> ByteView {
    guard section.hasFileContents, section.size > 0 else {
      return ByteView(UnsafeRawBufferPointer(start: nil, count: 0), fileOffset: section.offset)
    }
    return ByteView(source.bytes, fileOffset: 0).slice(Int(section.offset), Int(section.size))!
  }

  /// The string table in `section`.
  public func stringTable(_ section: Section) -> StringTable {
    StringTable(view: contents(of: section), path: path, owner: source)
  }

  /// The symbol table in `section` (`SHT_SYMTAB`), with the string table its
  /// `sh_link` names, or `strings` when given (objtool's dump uses `.strtab` by name).
  public func symbolTable(_ section: Section, strings: Section? = nil) throws(ELFError) -> SymbolTable {
    let view = contents(of: section)
    guard view.count % SymbolTable.entrySize == 0 else {
      throw ELFError(
        .badSectionSize(
          section: section.name, size: section.size,
          entrySize: UInt64(SymbolTable.entrySize)),
        path: path, offset: section.headerOffset)
    }
    let strtab: Section
    if let strings {
      strtab = strings
    } else {
      strtab = try self.section(at: Int(section.link), referencedAt: section.headerOffset + 40)
    }
    var ext: ByteView? = nil
    if let shndx = sections.first(where: { $0.type == .symtabShndx && Int($0.link) == section.index }) {
      ext = contents(of: shndx)
    }
    return SymbolTable(
      section: section, strings: stringTable(strtab),
      count: view.count / SymbolTable.entrySize, view: view,
      extendedIndices: ext, path: path, owner: source)
  }

  /// The file's `.symtab`, if it has one.
  public func symbolTable() throws(ELFError) -> SymbolTable? {
    guard let s = sections.first(where: { $0.type == .symtab }) else { return nil }
    return try symbolTable(s)
  }

  /// The relocations in `section` (`SHT_RELA`).
  public func relocations(_ section: Section) throws(ELFError) -> RelocationTable {
    try RelocationTable(section: section, view: contents(of: section), path: path, owner: source)
  }

  /// The name of `symbol`: its own name, or for an `STT_SECTION` symbol the section's.
  public func displayName(of symbol: Symbol, in symbols: SymbolTable) throws(ELFError) -> String {
    if symbol.type == .section {
      return try section(
        at: symbol.sectionIndex,
        referencedAt: symbols.section.offset + UInt64(symbol.index * SymbolTable.entrySize) + 6
      ).name
    }
    return try symbols.name(of: symbol)
  }
}

extension ELFFile {
  /// Reads everything the file refers to, so that any malformed part is found
  /// now: every symbol table with its string table (through `sh_link`), every
  /// symbol's name and section, every `SHT_RELA` section and the symbol of
  /// each of its entries.
  public func verify() throws(ELFError) {
    for section in sections where section.type == .symtab {
      let symbols = try symbolTable(section)
      for i in 0..<symbols.count {
        let symbol = try symbols.symbol(at: i)
        _ = try symbols.strings.bytes(at: UInt64(symbol.nameIndex))
        if symbol.isDefined && symbol.sectionIndex >= sections.count {
          throw ELFError(
            .badSectionIndex(symbol.sectionIndex), path: path,
            offset: section.offset + UInt64(i * SymbolTable.entrySize) + 6)
        }
      }
    }
    for section in sections where section.type == .rela {
      let relocations = try relocations(section)
      guard relocations.count > 0 else { continue }
      let symtab = try self.section(at: Int(section.link), referencedAt: section.headerOffset + 40)
      guard symtab.type == .symtab else {
        throw ELFError(
          .malformed("relocation section \(section.name) links to \(symtab.name), not a symbol table"),
          path: path, offset: section.headerOffset + 40)
      }
      let symbols = try symbolTable(symtab)
      for i in 0..<relocations.count { _ = try relocations.symbol(of: i, in: symbols) }
      if section.flags.contains(.infoLink) || section.info != 0 {
        _ = try self.section(at: Int(section.info), referencedAt: section.headerOffset + 44)
      }
    }
  }
}
