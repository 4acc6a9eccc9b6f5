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

/// The patching flags of an `alt_instr`, in 6.12's encoding (the `u16 flags`
/// field, `arch/x86/include/asm/alternative.h`). 6.1 has one flag, written
/// as bit 15 of `cpuid` (``cpuidInvertBit``); it reads as ``not``.
public struct AltInstrFlags: OptionSet, Hashable, Sendable {
  public var rawValue: UInt16
  public init(rawValue: UInt16) { self.rawValue = rawValue }

  /// Patch when the feature is absent. The corresponding C constant is
  /// `ALT_FLAG_NOT` (6.12, `1 << 0` of `flags`); in 6.1 it is `ALTINSTR_FLAG_INV`
  /// (``cpuidInvertBit``).
  public static let not = AltInstrFlags(rawValue: 1 << 0)
  /// The replacement is a direct call to the `pv_ops` target. The
  /// corresponding C constant is `ALT_FLAG_DIRECT_CALL` (6.12 only, `1 << 1` of `flags`).
  public static let directCall = AltInstrFlags(rawValue: 1 << 1)

  /// The bit of 6.1's `cpuid` that means ``not``. The corresponding C
  /// constant is `ALTINSTR_FLAG_INV` (`1 << 15`; 6.1 only).
  public static let cpuidInvertBit: UInt16 = 1 << 15

  /// The flags of an entry with `cpuid` and (6.12) `flags` in `generation`.
  public init(cpuid: UInt16, flags: UInt16, generation: KernelGeneration) {
    switch generation {
    case .v6_1: self = cpuid & Self.cpuidInvertBit != 0 ? .not : []
    case .v6_12: self.init(rawValue: flags)
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
  /// The patching flags (6.1 `ALTINSTR_FLAG_INV` read as ``AltInstrFlags/not``).
  public var flags: AltInstrFlags
  public var instructionLength: Int
  public var replacementLength: Int

  /// ``feature`` as a ``CPUFeature`` (its name needs the generation: `cpuFeature.name(in:)`).
  public var cpuFeature: CPUFeature { CPUFeature(rawValue: feature) }

  /// Replace when the feature is absent (6.1 `ALTINSTR_FLAG_INV`, 6.12 `ALT_FLAG_NOT`).
  public var inverted: Bool {
    get { flags.contains(.not) }
    set { if newValue { flags.insert(.not) } else { flags.remove(.not) } }
  }

  /// 6.12 `ALT_FLAG_DIRECT_CALL`: the replacement is a direct call to the pv_ops target.
  public var directCall: Bool {
    get { flags.contains(.directCall) }
    set { if newValue { flags.insert(.directCall) } else { flags.remove(.directCall) } }
  }
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
      throw ELFError(
        .badSectionSize(
          section: ".altinstructions", size: section.size,
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
        throw ELFError(
          .malformed(".altinstructions entry \(i) has no relocation for a relative field"),
          path: file.path, offset: section.offset + UInt64(b))
      }
      let cpuid = view.load(UInt16.self, at: b + 8)
      let flags = layout.flagsOffset.map { view.load(UInt16.self, at: b + $0) } ?? 0
      out.append(
        AlternativeEntry(
          index: i, instruction: instr, replacement: repl,
          feature: Int(layout.flagsOffset == nil ? cpuid & ~AltInstrFlags.cpuidInvertBit : cpuid),
          flags: AltInstrFlags(cpuid: cpuid, flags: flags, generation: generation),
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
    for s in file.sections
    where s.flags.contains(.alloc) && s.size > 0 && address >= s.address
      && address - s.address < s.size
    {
      return SectionPlace(section: s.index, offset: address - s.address)
    }
    return nil
  }
}
