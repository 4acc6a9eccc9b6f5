/// A malformed or unsupported input, named by file and byte offset.
///
/// Every check at the edge of the reader throws this one type, so a caller
/// (and `orctool`) can print it as one line: `FILE: error: MESSAGE (at offset 0xOFF)`
/// (the offset is left out for errors opening the file).
public struct ELFError: Error, Sendable, Equatable, CustomStringConvertible {
  /// What is wrong with the input.
  public enum Kind: Sendable, Equatable {
    /// The file could not be opened or mapped (`errno` text).
    case io(String)
    /// The file ends before a structure that must be there.
    case truncated(what: String, needed: UInt64, size: UInt64)
    /// The first four bytes are not `\x7fELF`.
    case badMagic
    /// `e_ident[EI_CLASS]` is not `ELFCLASS64`.
    case unsupportedClass(UInt8)
    /// `e_ident[EI_DATA]` is not `ELFDATA2LSB`.
    case unsupportedEncoding(UInt8)
    /// `e_machine` is neither `EM_X86_64` nor `EM_AARCH64`.
    case unsupportedMachine(UInt16)
    /// A header field that gives a structure size has the wrong value.
    case badEntrySize(what: String, value: UInt64, expected: UInt64)
    /// A section's contents lie (partly) outside the file.
    case sectionOutOfBounds(section: Int, offset: UInt64, size: UInt64, fileSize: UInt64)
    /// A section index that names no section.
    case badSectionIndex(Int)
    /// A string-table index past the end of its table.
    case badStringIndex(index: UInt64, tableSize: UInt64)
    /// A string that runs to the end of its table with no NUL.
    case unterminatedString(index: UInt64)
    /// A symbol index past the end of the symbol table.
    case badSymbolIndex(index: UInt64, count: Int)
    /// A relocation against a symbol the symbol table does not have.
    case missingRelocationSymbol(relocation: Int, symbol: UInt64, count: Int)
    /// A section whose size is not a whole number of its entries.
    case badSectionSize(section: String, size: UInt64, entrySize: UInt64)
    /// A section that is needed and absent.
    case missingSection(String)
    /// A struct (`member` nil) or a member of one (`thread.sp`) that the
    /// kernel's `.BTF` does not describe: a layout the tool needs and does not guess.
    case missingBTF(structure: String, member: String?)
    /// A `VMCOREINFO` key (`KERNELOFFSET`, `NUMBER(phys_base)`) that a dump
    /// lacks, or the whole note when `hasNote` is false: a value the tool does not guess.
    case missingVMCOREINFO(key: String, hasNote: Bool)
    /// Anything else, in words.
    case malformed(String)
    /// A condition objtool stops on, with objtool's words and place (`func+0xoff`).
    case objtool(place: String, message: String)
    /// Nothing tells which kernel generation's formats the file has: no
    /// `--generation`, no kbuild environment, no marker and no telling layout.
    case unknownGeneration
  }

  /// What is wrong.
  public var kind: Kind
  /// The file the error was found in.
  public var path: String
  /// The byte offset in the file where the bad data is.
  public var offset: UInt64

  /// Creates an error for `path` at file offset `offset`.
  public init(_ kind: Kind, path: String, offset: UInt64) {
    self.kind = kind
    self.path = path
    self.offset = offset
  }

  /// The message alone, without file or offset.
  public var message: String {
    switch kind {
    case .io(let text): return text
    case .truncated(let what, let needed, let size):
      return "truncated file: \(what) needs \(needed) bytes, file has \(size)"
    case .badMagic: return "not an ELF file (bad magic)"
    case .unsupportedClass(let c): return "unsupported ELF class \(c) (only ELF64 is supported)"
    case .unsupportedEncoding(let d):
      return "unsupported ELF data encoding \(d) (only little-endian is supported)"
    case .unsupportedMachine(let m):
      return "unsupported machine \(m) (only x86-64 and aarch64 are supported)"
    case .badEntrySize(let what, let value, let expected):
      return "bad \(what) \(value) (expected \(expected))"
    case .sectionOutOfBounds(let index, let offset, let size, let fileSize):
      return
        "section \(index) (offset 0x\(hex(offset)), size 0x\(hex(size))) extends past the end of the file (size 0x\(hex(fileSize)))"
    case .badSectionIndex(let index): return "bad section index \(index)"
    case .badStringIndex(let index, let tableSize):
      return "string index \(index) is past the end of its table (size \(tableSize))"
    case .unterminatedString(let index): return "string at index \(index) is not NUL-terminated"
    case .badSymbolIndex(let index, let count):
      return "symbol index \(index) is past the end of the symbol table (\(count) symbols)"
    case .missingRelocationSymbol(let rel, let sym, let count):
      return "relocation \(rel) refers to missing symbol \(sym) (symbol table has \(count))"
    case .badSectionSize(let name, let size, let entrySize):
      return "bad \(name) section size \(size) (not a multiple of \(entrySize))"
    case .missingSection(let name): return "missing section \(name)"
    case .missingBTF(let structure, nil): return ".BTF has no struct \(structure)"
    case .missingBTF(let structure, let member?): return ".BTF has no member \(member) in struct \(structure)"
    case .missingVMCOREINFO(let key, true): return "VMCOREINFO has no \(key)"
    case .missingVMCOREINFO(let key, false):
      return
        "no VMCOREINFO note, which gives \(key) (the guest publishes it with QEMU's -device vmcoreinfo and the qemu_fw_cfg module)"
    case .malformed(let text): return text
    case .objtool(let place, let message): return place.isEmpty ? message : "\(place): \(message)"
    case .unknownGeneration:
      return "cannot tell the kernel generation (no --generation, no VERSION/PATCHLEVEL from kbuild, "
        + "no .orc_header, vermagic or linux_banner, and no special-section layout that fits only one); "
        + "use --generation 6.1 or 6.12"
    }
  }

  /// One line: `FILE: error: MESSAGE (at offset 0xOFF)`.
  public var description: String {
    if case .io = kind { return "\(path): error: \(message)" }
    return "\(path): error: \(message) (at offset 0x\(hex(offset)))"
  }
}

@inline(__always)
func hex<T: BinaryInteger>(_ value: T) -> String { String(value, radix: 16) }
