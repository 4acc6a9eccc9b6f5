import ELF

/// The flags in the low bits of `jump_entry.key` (`include/linux/jump_label.h`
/// and `arch/x86/include/asm/jump_label.h`, the same in 6.1 and 6.12; a
/// `struct static_key` is aligned so that its address leaves them free).
public struct JumpEntryKeyFlags: OptionSet, Hashable, Sendable {
  public var rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue }
  /// Bit 0, `jump_entry_is_branch()`: the site was written by
  /// `arch_static_branch(key, true)` (`static_branch_likely` of a false key
  /// or `static_branch_unlikely` of a true one), the `branch` argument of
  /// `_ASM_PTR "%c0 + %c1 - ."`.
  public static let branch = JumpEntryKeyFlags(rawValue: 1 << 0)
  /// Bit 1 in a file: the site is a `jmp` that objtool turns into a NOP
  /// (`--hacks=jump_label`, objtool's `key_addend & 2`): x86's
  /// `arch_static_branch()` under `CONFIG_HAVE_JUMP_LABEL_HACK` writes
  /// `2 | branch`. At run time the kernel reuses the bit for
  /// `jump_entry_is_init()` (init text), setting or clearing it at boot.
  public static let jumpLabelHack = JumpEntryKeyFlags(rawValue: 1 << 1)
}

/// One `struct jump_entry` of `__jump_table`: a NOP or JMP at `code` that
/// static key `key` switches to go to `target`.
///
/// ```c
/// struct jump_entry {   // include/linux/jump_label.h, 16 bytes on x86-64
///     s32 code;         // relative to the field
///     s32 target;       // relative to the field
///     long key;         // relative to the field, low 2 bits are flags
/// };
/// ```
public struct JumpEntry: Sendable, Hashable {
  /// The size of `struct jump_entry` on x86-64 (`CONFIG_HAVE_ARCH_JUMP_LABEL_RELATIVE`).
  public static let size = 16

  /// The entry's index in `__jump_table` (its offset / 16).
  public var index: Int
  /// The patched instruction.
  public var code: SectionPlace
  /// Where it jumps when the key says so.
  public var target: SectionPlace
  /// The `struct static_key` (flags cleared), or nil when it is in no
  /// section of this file (an undefined symbol in an object).
  public var key: SectionPlace?
  /// The low bits of `key`.
  public var keyFlags: JumpEntryKeyFlags
}

/// The `__jump_table` of a file.
public struct JumpTable: Sendable {
  /// The entries in table order.
  public let entries: [JumpEntry]

  /// Reads `__jump_table` of `file`: through `.rela__jump_table` in an
  /// object, through the stored self-relative values in a linked image.
  ///
  /// An entry whose `code` or `target` points nowhere in the file is left
  /// out (as the static-key pass has always done); an object without
  /// `.rela__jump_table` has no entries.
  public init(file: ELFFile) throws(ELFError) {
    guard let section = file.section(named: "__jump_table"), section.size > 0 else {
      // A vmlinux: the linker script put the table in `.data..ro_after_init`, between
      // `__start___jump_table` and `__stop___jump_table`.
      entries = file.fileType == .relocatable ? [] : try Self.linkedEntries(file)
      return
    }
    let size = UInt64(JumpEntry.size)
    var out: [JumpEntry] = []
    if file.fileType == .relocatable {
      guard let rela = file.section(named: ".rela__jump_table") else {
        entries = []
        return
      }
      let rel = try file.relocations(rela)
      guard let symbols = try file.symbolTable() else {
        throw ELFError(.missingSection(".symtab"), path: file.path, offset: rela.headerOffset)
      }
      var code: [UInt64: SectionPlace] = [:]
      var target: [UInt64: SectionPlace] = [:]
      var key: [UInt64: SectionPlace] = [:]
      var flags: [UInt64: JumpEntryKeyFlags] = [:]
      for i in 0..<rel.count {
        let r = rel[i]
        let s = try rel.symbol(of: i, in: symbols)
        let entry = r.offset - r.offset % size
        let defined = s.isDefined && s.sectionIndex < file.sections.count
        let value = defined ? Int64(bitPattern: s.value) &+ r.addend : r.addend
        let place = SectionPlace(section: s.sectionIndex, offset: UInt64(bitPattern: value))
        switch r.offset % size {
        case 0 where defined: code[entry] = place
        case 4 where defined: target[entry] = place
        case 8:
          // `key + branch - .`: the flags ride in the addend even when the key is in another file.
          flags[entry] = JumpEntryKeyFlags(rawValue: UInt8(truncatingIfNeeded: value & 3))
          if defined { key[entry] = SectionPlace(section: s.sectionIndex, offset: UInt64(bitPattern: value & ~3)) }
        default: break
        }
      }
      for (entry, c) in Array(code).mergeSorted(by: { $0.key < $1.key }) {
        guard let t = target[entry] else { continue }
        out.append(
          JumpEntry(
            index: Int(entry / size), code: c, target: t, key: key[entry],
            keyFlags: flags[entry] ?? []))
      }
    } else {
      out = try Self.linkedEntries(file, section: section, range: 0..<Int(section.size))
    }
    entries = out
  }

  /// The entries of a linked image's table between `__start___jump_table` and
  /// `__stop___jump_table` (none when it has no such symbols).
  static func linkedEntries(_ file: ELFFile) throws(ELFError) -> [JumpEntry] {
    guard let symbols = try file.symbolTable() else { return [] }
    var start: UInt64? = nil
    var stop: UInt64? = nil
    for i in 0..<symbols.count {
      let s = try symbols.symbol(at: i)
      guard s.isDefined, s.binding != .local else { continue }
      let name = try symbols.name(of: s)
      if name == "__start___jump_table" { start = s.value } else if name == "__stop___jump_table" { stop = s.value }
      if start != nil && stop != nil { break }
    }
    guard let start, let stop, stop > start,
      let section = file.sections.first(where: {
        $0.flags.contains(.alloc) && $0.hasFileContents && start >= $0.address && stop <= $0.address &+ $0.size
      })
    else { return [] }
    return try linkedEntries(
      file, section: section, range: Int(start - section.address)..<Int(stop - section.address))
  }

  /// The entries of a linked image's table in bytes `range` of `section`.
  static func linkedEntries(_ file: ELFFile, section: Section, range: Range<Int>) throws(ELFError) -> [JumpEntry] {
    var out: [JumpEntry] = []
    let fields = try RelativeFields(file: file, section: section)
    let view = file.contents(of: section)  // a NOBITS section holds no entries
    var i = range.lowerBound
    while i + JumpEntry.size <= min(view.count, range.upperBound) {
      let base = section.address &+ UInt64(i)
      let c = base &+ UInt64(bitPattern: Int64(view.load(Int32.self, at: i)))
      let t = base &+ 4 &+ UInt64(bitPattern: Int64(view.load(Int32.self, at: i + 4)))
      let k = view.load(Int64.self, at: i + 8)
      if let cp = fields.place(ofAddress: c), let tp = fields.place(ofAddress: t) {
        out.append(
          JumpEntry(
            index: (i - range.lowerBound) / JumpEntry.size, code: cp, target: tp,
            key: fields.place(ofAddress: base &+ 8 &+ UInt64(bitPattern: k & ~3)),
            keyFlags: JumpEntryKeyFlags(rawValue: UInt8(truncatingIfNeeded: k & 3))))
      }
      i += JumpEntry.size
    }
    return out
  }
}
