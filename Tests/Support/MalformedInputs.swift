import ELF
import Foundation

/// Hand-made malformed ELF files: each a mutation of a valid fixture object,
/// with the error kind and file offset the reader must report.
public struct MalformedCase: Sendable, CustomStringConvertible {
  /// What is broken, for test names.
  public var name: String
  /// The broken bytes.
  public var bytes: [UInt8]
  /// Whether `kind` is the expected one.
  public var expectKind: @Sendable (ELFError.Kind) -> Bool
  /// The file offset the error must name.
  public var offset: UInt64
  /// Whether `--dump=orc` reads the broken part (objtool's dump reads only
  /// the ORC sections, `.symtab` and `.strtab` by name).
  public var affectsDump: Bool = true

  public var description: String { name }
}

extension [UInt8] {
  public mutating func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
    withUnsafeMutableBytes { $0.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self) }
  }
  public func get<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
    withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
  }
}

public enum MalformedInputs {
  /// How many cases `cases()` builds: the tests parameterised over them check
  /// this, so a builder that stops early or builds nothing cannot pass unseen.
  public static let expectedCount = 26
  /// How many of them `--dump=orc` reads (`affectsDump`).
  public static let expectedDumpCount = 24

  /// Every case, built from `Fixtures/minimal.S`.
  public static func cases() throws -> [MalformedCase] {
    let path = try Fixtures.assemble("minimal.S")
    let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    let elf = try ELFFile(source: MappedFile(copying: good, path: path))
    func header(_ name: String) throws -> Int {
      guard let s = elf.section(named: name) else { throw FixtureError("minimal.o has no \(name)") }
      return Int(s.headerOffset)
    }
    let shoff = Int(good.get(UInt64.self, at: 40))
    let shnum = Int(good.get(UInt16.self, at: 60))
    let shstrndx = Int(good.get(UInt16.self, at: 62))
    let shstrHeader = shoff + shstrndx * 64
    let symtab = elf.section(named: ".symtab")!
    let orcRela = elf.section(named: ".rela.orc_unwind_ip")!
    let symbols = try elf.symbolTable(symtab)
    let relocs = try elf.relocations(orcRela)
    let orcSymIndex = Int(relocs[0].symbolIndex)
    let orcSym = try symbols.symbol(at: orcSymIndex)
    let orcSymOffset = Int(symtab.offset) + orcSymIndex * 24

    var out: [MalformedCase] = []
    func add(
      _ name: String, offset: Int, affectsDump: Bool = true,
      _ kind: @escaping @Sendable (ELFError.Kind) -> Bool, _ mutate: (inout [UInt8]) -> Void
    ) {
      var b = good
      mutate(&b)
      out.append(
        MalformedCase(
          name: name, bytes: b, expectKind: kind, offset: UInt64(offset),
          affectsDump: affectsDump))
    }

    add("empty file", offset: 0, { if case .truncated = $0 { true } else { false } }) { $0 = [] }
    add("three bytes", offset: 0, { if case .truncated = $0 { true } else { false } }) { $0 = Array($0[0..<3]) }
    add("bad magic", offset: 0, { $0 == .badMagic }) { $0[1] = UInt8(ascii: "X") }
    add("header cut at 40 bytes", offset: 0, { if case .truncated = $0 { true } else { false } }) {
      $0 = Array($0[0..<40])
    }
    add("ELFCLASS32", offset: 4, { $0 == .unsupportedClass(1) }) { $0[4] = 1 }
    add("big-endian", offset: 5, { $0 == .unsupportedEncoding(2) }) { $0[5] = 2 }
    add("i386 machine", offset: 18, { $0 == .unsupportedMachine(3) }) { $0.put(UInt16(3), at: 18) }
    add("e_shentsize 40", offset: 58, { if case .badEntrySize = $0 { true } else { false } }) {
      $0.put(UInt16(40), at: 58)
    }
    add("section headers past the end", offset: 40, { if case .truncated = $0 { true } else { false } }) {
      $0.put(UInt64($0.count + 8), at: 40)
    }
    add("e_shnum larger than the file", offset: 40, { if case .truncated = $0 { true } else { false } }) {
      $0.put(UInt16(0xfff0), at: 60)
    }
    add("e_shstrndx past e_shnum", offset: 62, { $0 == .badSectionIndex(shnum + 3) }) {
      $0.put(UInt16(shnum + 3), at: 62)
    }
    let textHeader = try header(".text")
    add(
      "section offset past the end", offset: textHeader + 24,
      { if case .sectionOutOfBounds = $0 { true } else { false } }
    ) {
      $0.put(UInt64($0.count + 0x1000), at: textHeader + 24)
    }
    add(
      "section claiming a gigabyte", offset: textHeader + 24,
      { if case .sectionOutOfBounds = $0 { true } else { false } }
    ) {
      $0.put(UInt64(1 << 30), at: textHeader + 32)
    }
    add(
      "section size wrapping the offset", offset: textHeader + 24,
      { if case .sectionOutOfBounds = $0 { true } else { false } }
    ) {
      $0.put(UInt64.max - 4, at: textHeader + 32)
    }
    add(
      "section name index past the name table", offset: textHeader,
      { if case .badStringIndex = $0 { true } else { false } }
    ) {
      $0.put(UInt32(0x00ff_ffff), at: textHeader)
    }
    add(
      "name table without a final NUL", offset: shoff + 64,
      { if case .unterminatedString = $0 { true } else { false } }
    ) {
      // Point section 1's name at the last byte of a name table whose NUL was overwritten.
      let tableOffset = Int($0.get(UInt64.self, at: shstrHeader + 24))
      let tableSize = Int($0.get(UInt64.self, at: shstrHeader + 32))
      $0[tableOffset + tableSize - 1] = UInt8(ascii: "x")
      $0.put(UInt32(1), at: shoff + 64)
      for i in 1..<tableSize { $0[tableOffset + i] = UInt8(ascii: "y") }
    }
    add("name table is NOBITS", offset: shstrHeader, { if case .malformed = $0 { true } else { false } }) {
      $0.put(SectionType.nobits.rawValue, at: shstrHeader + 4)
    }
    add("file cut in half", offset: 40, { if case .truncated = $0 { true } else { false } }) {
      $0 = Array($0[0..<($0.count / 2)])
    }
    add(
      "symbol table size not a multiple of 24", offset: Int(symtab.headerOffset),
      { if case .badSectionSize = $0 { true } else { false } }
    ) {
      $0.put(symtab.size - 5, at: Int(symtab.headerOffset) + 32)
    }
    add(
      "relocation against a missing symbol", offset: Int(orcRela.offset),
      { if case .missingRelocationSymbol = $0 { true } else { false } }
    ) {
      $0.put(UInt32(9999), at: Int(orcRela.offset) + 12)
    }
    add(
      ".orc_unwind size not a multiple of 6", offset: try header(".orc_unwind"),
      { if case .badSectionSize = $0 { true } else { false } }
    ) {
      $0.put(UInt64(5), at: try! header(".orc_unwind") + 32)
    }
    add(
      ".rela.orc_unwind_ip size not a multiple of 24", offset: Int(orcRela.headerOffset),
      { if case .badSectionSize = $0 { true } else { false } }
    ) {
      $0.put(UInt64(23), at: Int(orcRela.headerOffset) + 32)
    }
    add(
      "fewer ORC relocations than entries", offset: Int(orcRela.headerOffset),
      { if case .malformed = $0 { true } else { false } }
    ) {
      $0.put(UInt64(0), at: Int(orcRela.headerOffset) + 32)
    }
    if orcSym.type == .section {
      add(
        "section symbol with a bad section index", offset: orcSymOffset + 6,
        { if case .badSectionIndex = $0 { true } else { false } }
      ) {
        $0.put(UInt16(0x7777), at: orcSymOffset + 6)
      }
    } else {
      add(
        "symbol name index past the string table", offset: Int(elf.section(named: ".strtab")!.offset),
        { if case .badStringIndex = $0 { true } else { false } }
      ) {
        $0.put(UInt32(0x00ff_ffff), at: orcSymOffset)
      }
    }
    add(
      "symbol table sh_link past e_shnum", offset: Int(symtab.headerOffset) + 40, affectsDump: false,
      { if case .badSectionIndex = $0 { true } else { false } }
    ) {
      $0.put(UInt32(500), at: Int(symtab.headerOffset) + 40)
    }
    add(
      "relocation section linked to a non-symbol table", offset: Int(orcRela.headerOffset) + 40,
      affectsDump: false, { if case .malformed = $0 { true } else { false } }
    ) {
      $0.put(UInt32(1), at: Int(orcRela.headerOffset) + 40)
    }
    return out
  }
}
