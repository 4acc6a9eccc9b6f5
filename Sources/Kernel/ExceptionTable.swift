import ELF

/// A place in a file: a section and an offset in it (and, in a linked image, its address).
public struct SectionPlace: Sendable, Hashable, Comparable {
  public var section: Int
  public var offset: UInt64
  public init(section: Int, offset: UInt64) {
    self.section = section
    self.offset = offset
  }
  public static func < (a: Self, b: Self) -> Bool { (a.section, a.offset) < (b.section, b.offset) }
}

/// One `struct exception_table_entry` of `__ex_table`.
///
/// x86 (`arch/x86/include/asm/extable.h`): `{ int insn, fixup, data; }`, the
/// type in data bits 0–7, a register in 8–11, flags in 12–15 and a signed
/// immediate in 16–31 (`asm/extable_fixup_types.h`). arm64
/// (`arch/arm64/include/asm/extable.h`): `{ int insn, fixup; short type, data; }`.
/// Both are 12 bytes, `insn` and `fixup` relative to their own field.
public struct ExceptionTableEntry: Sendable, Hashable {
  /// The entry's index in the table.
  public var index: Int
  /// The instruction that may fault.
  public var insn: SectionPlace
  /// Where execution continues after the fault (for handler types that use it).
  public var fixup: SectionPlace
  /// In a linked image, the address of `insn` (for the sort-order check).
  public var insnAddress: UInt64?
  /// In a linked image, the address of `fixup`.
  public var fixupAddress: UInt64?
  /// x86: the whole `data` word. arm64: `type` in bits 0–15 and `data` in 16–31.
  public var rawData: UInt32

  /// The size of one entry on both architectures.
  public static let size = 12
}

/// The `__ex_table` of one file, decoded.
public struct ExceptionTable: Sendable {
  /// The entries in table order.
  public let entries: [ExceptionTableEntry]
  /// The machine, which decides the entry format.
  public let machine: Machine

  /// Reads `__ex_table` of `file` (no entries when the file has none).
  public init(file: ELFFile) throws(ELFError) {
    machine = file.machine
    guard let section = file.section(named: "__ex_table"), section.size > 0 else {
      entries = []
      return
    }
    guard section.size % UInt64(ExceptionTableEntry.size) == 0 else {
      throw ELFError(
        .badSectionSize(section: "__ex_table", size: section.size, entrySize: 12), path: file.path,
        offset: section.headerOffset)
    }
    let view = file.contents(of: section)
    let count = view.count / ExceptionTableEntry.size  // a NOBITS section holds no entries
    var entries: [ExceptionTableEntry] = []
    entries.reserveCapacity(count)
    let fields = try RelativeFields(file: file, section: section)
    let linked = file.fileType != .relocatable
    for i in 0..<count {
      let b = i * ExceptionTableEntry.size
      guard let insn = fields.place(at: b, view: view), let fixup = fields.place(at: b + 4, view: view) else {
        throw ELFError(
          .malformed("__ex_table entry \(i) points outside the file's sections"),
          path: file.path, offset: section.offset + UInt64(b))
      }
      let field = section.address &+ UInt64(b)
      entries.append(
        ExceptionTableEntry(
          index: i, insn: insn, fixup: fixup,
          insnAddress: linked ? field &+ UInt64(bitPattern: Int64(view.load(Int32.self, at: b))) : nil,
          fixupAddress: linked ? field &+ 4 &+ UInt64(bitPattern: Int64(view.load(Int32.self, at: b + 4))) : nil,
          rawData: view.load(UInt32.self, at: b + 8)))
    }
    self.entries = entries
  }

  /// In a linked image: the index of the first entry out of the order the
  /// kernel's sorttable leaves (ascending `insn` address), or nil when sorted.
  public var firstUnsorted: Int? {
    var last: UInt64 = 0
    for e in entries {
      guard let a = e.insnAddress else { return nil }
      if a < last { return e.index }
      last = a
    }
    return nil
  }
}
