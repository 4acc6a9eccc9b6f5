import ELF
import Program

/// A relocation in a section the check creates: `R_X86_64_PC32` (or `type`) at `offset`,
/// against the code section of an instruction (objtool's `elf_add_reloc_to_insn()`: the
/// section's `STT_SECTION` symbol, made when the assembler left none) or against a symbol.
public struct SiteRelocation: Sendable, Hashable {
  public enum Target: Sendable, Hashable {
    /// The `STT_SECTION` symbol of code section `section` (the addend is the instruction's offset).
    case code(section: Int)
    /// Symbol-table entry `index` (wherever it ends up when section symbols are made).
    case symbol(Int)
  }
  public var offset: UInt64
  public var target: Target
  public var addend: Int64
  /// `R_X86_64_PC32` for the call-site lists, `R_X86_64_64` for `__mcount_loc`.
  public var type: X86RelocationType

  public init(offset: UInt64, target: Target, addend: Int64, type: X86RelocationType = .pc32) {
    (self.offset, self.target, self.addend, self.type) = (offset, target, addend, type)
  }
}

/// A section the check creates (`elf_create_section()`: `SHF_ALLOC` and `flags`,
/// alignment 1), and its relocations (`.rela` + name, made on the first one).
public struct CreatedSection: Sendable, Hashable {
  public var name: String
  public var flags: SectionFlags
  public var entrySize: UInt64
  public var data: [UInt8]
  public var relocations: [SiteRelocation]

  public init(name: String, flags: SectionFlags = [], entrySize: UInt64, data: [UInt8], relocations: [SiteRelocation]) {
    (self.name, self.flags, self.entrySize, self.data, self.relocations) = (name, flags, entrySize, data, relocations)
  }
}

/// Everything the check changes in an object, written in one go: the code the passes
/// rewrote (`--hacks`, `--mcount`) and the sections it creates, in objtool's order
/// (`.static_call_sites`, `.retpoline_sites`, `.return_sites`, `__mcount_loc`,
/// `.ibt_endbr_seal`, then the ORC).
public struct ObjectEdits: Sendable {
  public var rewrites: CodeRewrites
  public var sections: [CreatedSection]

  public init(rewrites: CodeRewrites = CodeRewrites(), sections: [CreatedSection] = []) {
    self.rewrites = rewrites
    self.sections = sections
  }

  /// Whether nothing is asked of the object (objtool's `elf->changed` unset).
  public var isEmpty: Bool { rewrites.isEmpty && sections.isEmpty }

  /// Whether the edits change `file`'s bytes: a rewrite may write what is there already
  /// (a second run's jump-label NOPs), which objtool writes again and OrcTool leaves.
  public func changes(_ file: ELFFile) -> Bool {
    !sections.isEmpty || !changedContents(of: file, incidental: false).isEmpty
  }

  /// The rewritten sections whose new contents differ from the file's (with the
  /// incidental changes, which are written along with the others, when `incidental` is set).
  func changedContents(of file: ELFFile, incidental: Bool = true) -> [Int: [UInt8]] {
    rewrites.sectionContents(in: file, incidental: incidental).filter { index, data in
      !data.elementsEqual(file.contents(of: file.sections[index]).bytes)
    }
  }

  /// The object's bytes with the edits made: rewritten sections replaced, the new
  /// sections (each followed by its relocations) appended. A code section that a new
  /// relocation names but that has no `STT_SECTION` symbol gets one, in the order the
  /// relocations need them (``SectionSymbols``); every relocation, old or new, that names
  /// a symbol moved to make room follows it.
  public func bytes(of file: ELFFile) throws(ELFError) -> [UInt8] {
    try written(to: file).bytes
  }

  /// ``bytes(of:)`` as an ``AppendedFile``: `file`'s bytes are written from its mapping, uncopied.
  public func written(to file: ELFFile) throws(ELFError) -> AppendedFile {
    guard let symtab = try file.symbolTable() else {
      throw ELFError(.missingSection(".symtab"), path: file.path, offset: 0)
    }
    var sectionSymbol: [Int: Int] = [:]
    for i in 0..<symtab.count {
      let s = try symtab.symbol(at: i)
      if s.type == .section && sectionSymbol[s.sectionIndex] == nil { sectionSymbol[s.sectionIndex] = i }
    }
    var missing: [Int] = []
    var listed = Set<Int>()
    for s in sections {
      for r in s.relocations {
        if case .code(let section) = r.target, sectionSymbol[section] == nil, listed.insert(section).inserted {
          missing.append(section)
        }
      }
    }
    let contents = changedContents(of: file)
    var replacing: [SectionReplacement] = []
    var moved: [Int: Int] = [:]
    let relocationSections = Set(contents.keys.filter { file.sections[$0].type == .rela })
    if !missing.isEmpty || !relocationSections.isEmpty {
      let made = try SectionSymbols.create(
        for: missing, in: file, symtab: symtab.section,
        contents: contents.filter { relocationSections.contains($0.key) })
      replacing = made.replacements
      moved = made.moved
      for (section, index) in made.symbols { sectionSymbol[section] = index }
    }
    let replaced = Set(replacing.map(\.index))
    for (index, data) in Array(contents).mergeSorted(by: { $0.key < $1.key }) where !replaced.contains(index) {
      replacing.append(SectionReplacement(index: index, data: data))
    }
    var new: [NewSection] = []
    for s in sections {
      new.append(
        NewSection(
          name: s.name, type: .progbits, flags: s.flags.union(.alloc), alignment: 1, entrySize: s.entrySize,
          data: s.data))
      guard !s.relocations.isEmpty else { continue }
      let base = UInt32(new.count - 1)
      var rela: [UInt8] = []
      rela.reserveCapacity(s.relocations.count * RelocationTable.entrySize)
      func append<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { rela += $0 } }
      for r in s.relocations {
        let symbol: Int
        switch r.target {
        case .code(let section):
          guard let k = sectionSymbol[section] else {
            throw ELFError(
              .objtool(place: "", message: "missing symbol for insn at offset 0x\(String(r.addend, radix: 16))"),
              path: file.path, offset: 0)
          }
          symbol = k
        case .symbol(let k):
          symbol = moved[k] ?? k
        }
        append(r.offset)
        append(UInt64(symbol) << 32 | UInt64(r.type.rawValue))
        append(r.addend)
      }
      new.append(
        NewSection(
          name: ".rela" + s.name, type: .rela, flags: .infoLink, link: UInt32(symtab.section.index),
          info: UInt32.max - base, alignment: 8, entrySize: UInt64(RelocationTable.entrySize), data: rela))
    }
    return try file.appended(new, replacing: replacing)
  }
}
