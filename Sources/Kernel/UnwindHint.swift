import ELF

/// The layout of `struct unwind_hint`, the entries of `.discard.unwind_hints`,
/// in one kernel generation.
///
/// ```c
/// struct unwind_hint {       // 6.1: include/linux/objtool.h
///     u32 ip;                // 6.12: include/linux/objtool_types.h
///     s16 sp_offset;
///     u8  sp_reg;            // ORC_REG_*
///     u8  type;              // UNWIND_HINT_TYPE_*
///     u8  end;               // 6.12: u8 signal;
/// };                         // 12 bytes in both (`.balign 4` after each)
/// ```
///
/// `ip` is written `.long label - .`; in an object a relocation in
/// `.rela.discard.unwind_hints` at the entry's offset says where it points.
public struct UnwindHintLayout: Sendable, Hashable {
  /// The generation this layout is of.
  public let generation: KernelGeneration
  /// `sizeof(struct unwind_hint)`.
  public let entrySize: Int
  /// `offsetof(ip)`.
  public let ipOffset: Int
  /// `offsetof(sp_offset)`.
  public let spOffsetOffset: Int
  /// `offsetof(sp_reg)`.
  public let spRegOffset: Int
  /// `offsetof(type)`.
  public let typeOffset: Int
  /// The offset of the third byte: `end` (6.1) or `signal` (6.12).
  public let flagOffset: Int
  /// The C name of the third byte: `end` or `signal`.
  public let flagName: String

  /// The layout of `generation`.
  public static func of(_ generation: KernelGeneration) -> UnwindHintLayout {
    UnwindHintLayout(
      generation: generation, entrySize: 12, ipOffset: 0, spOffsetOffset: 4, spRegOffset: 6,
      typeOffset: 7, flagOffset: 8, flagName: generation == .v6_1 ? "end" : "signal")
  }
}

/// What an unwind hint says, whatever its number in a generation
/// (`UNWIND_HINT_TYPE_*`; 6.1 `include/linux/objtool.h`, 6.12
/// `include/linux/objtool_types.h`).
///
/// | kind          | 6.1 | 6.12 |
/// |---------------|-----|------|
/// | undefined     |  –  |  0   |
/// | endOfStack    |  –  |  1   |
/// | call          |  0  |  2   |
/// | regs          |  1  |  3   |
/// | regsPartial   |  2  |  4   |
/// | function      |  3  |  5   |
/// | entry         |  4  |  –   |
/// | save          |  5  |  6   |
/// | restore       |  6  |  7   |
public enum UnwindHintKind: Sendable, Hashable, CaseIterable {
  /// `UNWIND_HINT_TYPE_UNDEFINED` (6.12): a blind spot in ORC coverage.
  case undefined
  /// `UNWIND_HINT_TYPE_END_OF_STACK` (6.12): the end of the kernel stack unwind.
  case endOfStack
  /// `UNWIND_HINT_TYPE_CALL`: `sp_reg + sp_offset` is the caller's SP before the call.
  case call
  /// `UNWIND_HINT_TYPE_REGS`: `sp_reg + sp_offset` points to a full `pt_regs`.
  case regs
  /// `UNWIND_HINT_TYPE_REGS_PARTIAL`: `sp_reg + sp_offset` points to the iret frame.
  case regsPartial
  /// `UNWIND_HINT_TYPE_FUNC`: the unwind metadata of a callable function.
  case function
  /// `UNWIND_HINT_TYPE_ENTRY` (6.1): machine entry without a stack (SYSCALL, SYSENTER).
  case entry
  /// `UNWIND_HINT_TYPE_SAVE`: remember the CFI here.
  case save
  /// `UNWIND_HINT_TYPE_RESTORE`: take back the CFI remembered by the last SAVE.
  case restore

  /// The kind of `UNWIND_HINT_TYPE_*` number `raw` in `generation`, or nil when it names none.
  public init?(raw: UInt8, generation: KernelGeneration) {
    let kinds = Self.numbering(generation)
    guard Int(raw) < kinds.count else { return nil }
    self = kinds[Int(raw)]
  }

  /// The `UNWIND_HINT_TYPE_*` number of this kind in `generation`, or nil when
  /// that generation has no such hint.
  public func rawValue(in generation: KernelGeneration) -> UInt8? {
    Self.numbering(generation).firstIndex(of: self).map(UInt8.init)
  }

  /// The kinds in `UNWIND_HINT_TYPE_*` order.
  static func numbering(_ generation: KernelGeneration) -> [UnwindHintKind] {
    switch generation {
    case .v6_1: return [.call, .regs, .regsPartial, .function, .entry, .save, .restore]
    case .v6_12: return [.undefined, .endOfStack, .call, .regs, .regsPartial, .function, .save, .restore]
    }
  }
}

/// One `struct unwind_hint` of `.discard.unwind_hints`.
public struct UnwindHint: Sendable, Hashable {
  /// The entry's index in the section (`unwind_hints[index]` in objtool's messages).
  public var index: Int
  /// The instruction the hint is for (`ip`, through its relocation).
  public var place: SectionPlace
  /// `sp_offset`.
  public var spOffset: Int16
  /// `sp_reg`, a raw `ORC_REG_*` number.
  public var spReg: UInt8
  /// `type`, the raw `UNWIND_HINT_TYPE_*` number of the file's generation.
  public var rawType: UInt8
  /// `type` as a generation-neutral kind, nil when the number names none.
  public var kind: UnwindHintKind?
  /// 6.1 `end`: the last frame (false in 6.12).
  public var end: Bool
  /// 6.12 `signal`: the frame was interrupted, not called (false in 6.1).
  public var signal: Bool
}

/// The `.discard.unwind_hints` of an object, read as objtool's `read_unwind_hints()` reads it.
public struct UnwindHintTable: Sendable {
  /// The layout the entries were read in.
  public let layout: UnwindHintLayout
  /// Whether the object has `.discard.unwind_hints` at all (objtool's `file->hints`).
  public let hasSection: Bool
  /// The entries in section order.
  public let entries: [UnwindHint]

  /// Reads `.discard.unwind_hints` of `file` in `generation`'s layout.
  ///
  /// Errors carry objtool's words: `struct unwind_hint size mismatch` (at the
  /// section header) and `can't find reloc for unwind_hints[N]` (at the
  /// entry). A relocation against a symbol in no section (`SHN_ABS`, ...)
  /// counts as none; one against an undefined symbol gives a place in
  /// section 0, where no instruction is. When two relocations patch one
  /// entry, the later wins. A `SHT_NOBITS` section holds no entries.
  public init(file: ELFFile, generation: KernelGeneration) throws(ELFError) {
    let layout = UnwindHintLayout.of(generation)
    self.layout = layout
    let name = ".discard.unwind_hints"
    guard let section = file.section(named: name) else {
      hasSection = false
      entries = []
      return
    }
    hasSection = true
    guard section.size % UInt64(layout.entrySize) == 0 else {
      throw ELFError(
        .objtool(place: "", message: "struct unwind_hint size mismatch"), path: file.path,
        offset: section.headerOffset)
    }
    // find_reloc_by_dest(): the relocation at each entry's `ip`.
    var byOffset: [UInt64: SectionPlace] = [:]
    if let rela = file.section(named: ".rela" + name) {
      let table = try file.relocations(rela)
      guard let symbols = try file.symbolTable() else {
        throw ELFError(.missingSection(".symtab"), path: file.path, offset: rela.headerOffset)
      }
      for k in 0..<table.count {
        let r = table[k]
        let sym = try symbols.symbol(at: Int(r.symbolIndex))
        guard sym.sectionIndex < file.sections.count else { continue }  // SHN_ABS and the like point at no code
        // A section symbol's place is its addend (6.1's `reloc->addend`);
        // another symbol's, its value plus the addend (6.12's `sym->offset + addend`).
        let base = sym.type == .section ? 0 : Int64(bitPattern: sym.value)
        byOffset[r.offset] = SectionPlace(section: sym.sectionIndex, offset: UInt64(bitPattern: base &+ r.addend))
      }
    }
    let view = file.contents(of: section)
    var out: [UnwindHint] = []
    out.reserveCapacity(view.count / layout.entrySize)
    for k in 0..<(view.count / layout.entrySize) {
      let b = k * layout.entrySize
      guard let place = byOffset[UInt64(b + layout.ipOffset)] else {
        throw ELFError(
          .objtool(place: "", message: "can't find reloc for unwind_hints[\(k)]"), path: file.path,
          offset: section.offset + UInt64(b))
      }
      let rawType = view.load(UInt8.self, at: b + layout.typeOffset)
      let flag = view.load(UInt8.self, at: b + layout.flagOffset) != 0
      out.append(
        UnwindHint(
          index: k, place: place, spOffset: view.load(Int16.self, at: b + layout.spOffsetOffset),
          spReg: view.load(UInt8.self, at: b + layout.spRegOffset), rawType: rawType,
          kind: UnwindHintKind(raw: rawType, generation: generation),
          end: generation == .v6_1 && flag, signal: generation == .v6_12 && flag))
    }
    entries = out
  }
}
