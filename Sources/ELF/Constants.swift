/// ELF constants as typed values (mirrors `<elf.h>` / `include/uapi/linux/elf.h`).
///
/// Each is a `RawRepresentable` struct so that a kernel engineer can grep the C name.

/// A machine architecture, `e_machine`.
public struct Machine: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
  public var rawValue: UInt16
  public init(rawValue: UInt16) { self.rawValue = rawValue }
  /// The corresponding C constant is `EM_X86_64`.
  public static let x86_64 = Machine(rawValue: 62)
  /// The corresponding C constant is `EM_AARCH64`.
  public static let aarch64 = Machine(rawValue: 183)
  public var description: String {
    switch self {
    case .x86_64: return "x86-64"
    case .aarch64: return "aarch64"
    default: return "machine \(rawValue)"
    }
  }
}

/// The object file type, `e_type`.
public struct FileType: RawRepresentable, Hashable, Sendable {
  public var rawValue: UInt16
  public init(rawValue: UInt16) { self.rawValue = rawValue }
  /// The corresponding C constant is `ET_REL`.
  public static let relocatable = FileType(rawValue: 1)
  /// The corresponding C constant is `ET_EXEC`.
  public static let executable = FileType(rawValue: 2)
  /// The corresponding C constant is `ET_DYN`.
  public static let shared = FileType(rawValue: 3)
  /// The corresponding C constant is `ET_CORE`.
  public static let core = FileType(rawValue: 4)
}

/// A section type, `sh_type`.
public struct SectionType: RawRepresentable, Hashable, Sendable {
  public var rawValue: UInt32
  public init(rawValue: UInt32) { self.rawValue = rawValue }
  /// The corresponding C constant is `SHT_NULL`.
  public static let null = SectionType(rawValue: 0)
  /// The corresponding C constant is `SHT_PROGBITS`.
  public static let progbits = SectionType(rawValue: 1)
  /// The corresponding C constant is `SHT_SYMTAB`.
  public static let symtab = SectionType(rawValue: 2)
  /// The corresponding C constant is `SHT_STRTAB`.
  public static let strtab = SectionType(rawValue: 3)
  /// The corresponding C constant is `SHT_RELA`.
  public static let rela = SectionType(rawValue: 4)
  /// The corresponding C constant is `SHT_NOBITS`.
  public static let nobits = SectionType(rawValue: 8)
  /// The corresponding C constant is `SHT_REL`.
  public static let rel = SectionType(rawValue: 9)
  /// The corresponding C constant is `SHT_GROUP`.
  public static let group = SectionType(rawValue: 17)
  /// The corresponding C constant is `SHT_SYMTAB_SHNDX`.
  public static let symtabShndx = SectionType(rawValue: 18)
}

/// Section flags, `sh_flags`.
public struct SectionFlags: OptionSet, Hashable, Sendable {
  public var rawValue: UInt64
  public init(rawValue: UInt64) { self.rawValue = rawValue }
  /// The corresponding C constant is `SHF_WRITE`.
  public static let write = SectionFlags(rawValue: 0x1)
  /// The corresponding C constant is `SHF_ALLOC`.
  public static let alloc = SectionFlags(rawValue: 0x2)
  /// The corresponding C constant is `SHF_EXECINSTR`.
  public static let execInstr = SectionFlags(rawValue: 0x4)
  /// The corresponding C constant is `SHF_INFO_LINK`.
  public static let infoLink = SectionFlags(rawValue: 0x40)
}

/// A symbol type, `ELF64_ST_TYPE(st_info)`.
public struct SymbolType: RawRepresentable, Hashable, Sendable {
  public var rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue }
  /// The corresponding C constant is `STT_NOTYPE`.
  public static let notype = SymbolType(rawValue: 0)
  /// The corresponding C constant is `STT_OBJECT`.
  public static let object = SymbolType(rawValue: 1)
  /// The corresponding C constant is `STT_FUNC`.
  public static let function = SymbolType(rawValue: 2)
  /// The corresponding C constant is `STT_SECTION`.
  public static let section = SymbolType(rawValue: 3)
  /// The corresponding C constant is `STT_FILE`.
  public static let file = SymbolType(rawValue: 4)
}

/// A symbol binding, `ELF64_ST_BIND(st_info)`.
public struct SymbolBinding: RawRepresentable, Hashable, Sendable {
  public var rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue }
  /// The corresponding C constant is `STB_LOCAL`.
  public static let local = SymbolBinding(rawValue: 0)
  /// The corresponding C constant is `STB_GLOBAL`.
  public static let global = SymbolBinding(rawValue: 1)
  /// The corresponding C constant is `STB_WEAK`.
  public static let weak = SymbolBinding(rawValue: 2)
}

/// Special section indices (`SHN_*`).
public enum SpecialSectionIndex {
  /// The corresponding C constant is `SHN_UNDEF`.
  public static let undefined: UInt16 = 0
  /// The corresponding C constant is `SHN_LORESERVE`.
  public static let loReserve: UInt16 = 0xff00
  /// The corresponding C constant is `SHN_ABS`.
  public static let absolute: UInt16 = 0xfff1
  /// The corresponding C constant is `SHN_COMMON`.
  public static let common: UInt16 = 0xfff2
  /// The corresponding C constant is `SHN_XINDEX`.
  public static let extended: UInt16 = 0xffff
}

/// An x86-64 relocation type, `ELF64_R_TYPE(r_info)` (mirrors `R_X86_64_*`).
public struct X86RelocationType: RawRepresentable, Hashable, Sendable {
  public var rawValue: UInt32
  public init(rawValue: UInt32) { self.rawValue = rawValue }
  /// The corresponding C constant is `R_X86_64_NONE`.
  public static let none = X86RelocationType(rawValue: 0)
  /// The corresponding C constant is `R_X86_64_64`.
  public static let abs64 = X86RelocationType(rawValue: 1)
  /// The corresponding C constant is `R_X86_64_PC32`.
  public static let pc32 = X86RelocationType(rawValue: 2)
  /// The corresponding C constant is `R_X86_64_PLT32`.
  public static let plt32 = X86RelocationType(rawValue: 4)
  /// The corresponding C constant is `R_X86_64_32`.
  public static let abs32 = X86RelocationType(rawValue: 10)
  /// The corresponding C constant is `R_X86_64_32S`.
  public static let abs32s = X86RelocationType(rawValue: 11)
  /// The corresponding C constant is `R_X86_64_PC64`.
  public static let pc64 = X86RelocationType(rawValue: 24)
}
