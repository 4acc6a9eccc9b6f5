import ELF

/// The layout of `struct alt_instr` (`arch/x86/include/asm/alternative.h`) in
/// one kernel generation.
///
/// ```c
/// struct alt_instr {            // 6.1: 12 bytes        6.12: 14 bytes
///     s32 instr_offset;
///     s32 repl_offset;
///     u16 cpuid;                // 6.1: bit 15 = ALTINSTR_FLAG_INV
///     u16 flags;                // 6.12 only: ALT_FLAG_NOT, ALT_FLAG_DIRECT_CALL
///     u8  instrlen;
///     u8  replacementlen;
/// } __packed;
/// ```
public struct AlternativeLayout: Sendable {
  public let entrySize: Int
  let flagsOffset: Int?
  let instrLengthOffset: Int

  /// The layout of `generation`.
  public static func of(_ generation: KernelGeneration) -> AlternativeLayout {
    switch generation {
    case .v6_1: return AlternativeLayout(entrySize: 12, flagsOffset: nil, instrLengthOffset: 10)
    case .v6_12: return AlternativeLayout(entrySize: 14, flagsOffset: 10, instrLengthOffset: 12)
    }
  }
}

/// One entry of `.altinstructions`: code at `instruction` that the kernel
/// replaces by `replacement` when the CPU feature is (or, inverted, is not) present.
public struct AlternativeEntry: Sendable, Hashable {
  public var index: Int
  public var instruction: SectionPlace
  public var replacement: SectionPlace
  /// The X86_FEATURE_* number (`cpuid` without flag bits).
  public var feature: Int
  /// Replace when the feature is absent (6.1 `ALTINSTR_FLAG_INV`, 6.12 `ALT_FLAG_NOT`).
  public var inverted: Bool
  /// 6.12 `ALT_FLAG_DIRECT_CALL`: the replacement is a direct call to the pv_ops target.
  public var directCall: Bool
  public var instructionLength: Int
  public var replacementLength: Int
}

/// The `.altinstructions` table of a file.
public struct AlternativesTable: Sendable {
  public let entries: [AlternativeEntry]

  /// Reads `.altinstructions` of `file` in `generation`'s layout.
  public init(file: ELFFile, generation: KernelGeneration) throws(ELFError) {
    let layout = AlternativeLayout.of(generation)
    guard let section = file.section(named: ".altinstructions"), section.size > 0 else {
      entries = []
      return
    }
    guard section.size % UInt64(layout.entrySize) == 0 else {
      throw ELFError(.badSectionSize(section: ".altinstructions", size: section.size,
                                     entrySize: UInt64(layout.entrySize)),
                     path: file.path, offset: section.headerOffset)
    }
    let places = try RelativeFields(file: file, section: section)
    let view = file.contents(of: section)
    var out: [AlternativeEntry] = []
    // A NOBITS section has a size and no bytes: the entries are what the file holds.
    for i in 0..<(view.count / layout.entrySize) {
      let b = i * layout.entrySize
      guard let instr = places.place(at: b, view: view), let repl = places.place(at: b + 4, view: view) else {
        throw ELFError(.malformed(".altinstructions entry \(i) has no relocation for a relative field"),
                       path: file.path, offset: section.offset + UInt64(b))
      }
      let cpuid = view.load(UInt16.self, at: b + 8)
      let flags = layout.flagsOffset.map { view.load(UInt16.self, at: b + $0) } ?? 0
      out.append(AlternativeEntry(
        index: i, instruction: instr, replacement: repl,
        feature: Int(layout.flagsOffset == nil ? cpuid & 0x7fff : cpuid),
        inverted: layout.flagsOffset == nil ? cpuid & 0x8000 != 0 : flags & 1 != 0,
        directCall: flags & 2 != 0,
        instructionLength: Int(view.load(UInt8.self, at: b + layout.instrLengthOffset)),
        replacementLength: Int(view.load(UInt8.self, at: b + layout.instrLengthOffset + 1))))
    }
    entries = out
  }
}

/// The places that self-relative (`.long x - .`) or absolute (`.quad x`)
/// fields of a special section point to: through its relocations in an
/// object, through the stored values in a linked image.
public struct RelativeFields: Sendable {
  let file: ELFFile
  let section: Section
  let relocated: [UInt64: SectionPlace]?

  /// The fields of `section` in `file`.
  public init(file: ELFFile, section: Section) throws(ELFError) {
    self.file = file
    self.section = section
    guard file.fileType == .relocatable else {
      relocated = nil
      return
    }
    var places: [UInt64: SectionPlace] = [:]
    if let rela = file.sections.first(where: { $0.type == .rela && Int($0.info) == section.index }) {
      let rel = try file.relocations(rela)
      let symbols = try file.symbolTable(try file.section(at: Int(rela.link), referencedAt: rela.headerOffset + 40))
      for i in 0..<rel.count {
        let s = try rel.symbol(of: i, in: symbols)
        guard s.isDefined, s.sectionIndex < file.sections.count else { continue }
        places[rel[i].offset] = SectionPlace(
          section: s.sectionIndex, offset: UInt64(bitPattern: Int64(bitPattern: s.value) &+ rel[i].addend))
      }
    }
    relocated = places
  }

  /// The place a 32-bit self-relative field at `offset` points to.
  public func place(at offset: Int, view: ByteView) -> SectionPlace? {
    if let relocated { return relocated[UInt64(offset)] }
    let field = section.address &+ UInt64(offset)
    return place(ofAddress: field &+ UInt64(bitPattern: Int64(view.load(Int32.self, at: offset))))
  }

  /// The place a 64-bit absolute field at `offset` points to.
  public func absolutePlace(at offset: Int, view: ByteView) -> SectionPlace? {
    if let relocated { return relocated[UInt64(offset)] }
    return place(ofAddress: view.load(UInt64.self, at: offset))
  }

  /// The section and offset of a linked-image address.
  public func place(ofAddress address: UInt64) -> SectionPlace? {
    for s in file.sections where s.flags.contains(.alloc) && s.size > 0 && address >= s.address
      && address - s.address < s.size
    {
      return SectionPlace(section: s.index, offset: address - s.address)
    }
    return nil
  }
}
