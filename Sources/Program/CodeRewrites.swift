import ELF

/// What the passes rewrite in an object's code before validation: instructions
/// replaced in place (objtool's `elf_write_insn()`) and the relocations inside them
/// voided (`reloc->type = R_NONE; elf_write_reloc()`). objtool writes them even when
/// a later pass stops the check, so they are kept apart from the passes' results.
public struct CodeRewrites: Sendable, Hashable {
  /// New bytes for an instruction, the same length as the old.
  public struct Instruction: Sendable, Hashable {
    public var section: Int
    public var offset: UInt64
    public var bytes: [UInt8]
    public init(section: Int, offset: UInt64, bytes: [UInt8]) {
      (self.section, self.offset, self.bytes) = (section, offset, bytes)
    }
  }

  /// A relocation made `R_X86_64_NONE` (its symbol and addend kept): entry `index` of
  /// `.rela` section `relocationSection`.
  public struct VoidedRelocation: Sendable, Hashable {
    public var relocationSection: Int
    public var index: Int
    public init(relocationSection: Int, index: Int) {
      (self.relocationSection, self.index) = (relocationSection, index)
    }
  }

  /// The rewritten instructions, in the order the passes rewrote them.
  public internal(set) var instructions: [Instruction] = []
  /// The voided relocations, in the same order.
  public internal(set) var voidedRelocations: [VoidedRelocation] = []
  /// Bytes objtool changes in a section's data in memory only: objtool 6.1's
  /// `read_unwind_hints()` makes each `UNWIND_HINT_ENTRY` a CALL hint in
  /// `.discard.unwind_hints`. They reach the file when it is written for another reason
  /// (`elf_write()` writes every section's data), never on their own.
  public internal(set) var incidental: [Instruction] = []

  public init() {}

  /// Whether nothing is rewritten that objtool would write the file for.
  public var isEmpty: Bool { instructions.isEmpty && voidedRelocations.isEmpty }

  /// Records an ``incidental`` change.
  mutating func appendIncidental(section: Int, offset: UInt64, bytes: [UInt8]) {
    incidental.append(Instruction(section: section, offset: offset, bytes: bytes))
  }

  /// The new contents of every section these rewrites touch, from the file's bytes
  /// (the ``incidental`` ones too when `incidental` is set).
  public func sectionContents(in file: ELFFile, incidental withIncidental: Bool = false) -> [Int: [UInt8]] {
    var out: [Int: [UInt8]] = [:]
    for r in instructions + (withIncidental ? incidental : []) {
      if out[r.section] == nil { out[r.section] = [UInt8](file.contents(of: file.sections[r.section]).bytes) }
      out[r.section]!.replaceSubrange(Int(r.offset)..<Int(r.offset) + r.bytes.count, with: r.bytes)
    }
    for v in voidedRelocations {
      if out[v.relocationSection] == nil {
        out[v.relocationSection] = [UInt8](file.contents(of: file.sections[v.relocationSection]).bytes)
      }
      // r_info's low 32 bits are the type: R_X86_64_NONE is 0.
      let o = v.index * RelocationTable.entrySize + 8
      out[v.relocationSection]!.replaceSubrange(o..<o + 4, with: [0, 0, 0, 0])
    }
    return out
  }
}

/// x86's NOPs of one to five bytes as objtool writes them (`arch_nop_insn()`,
/// `BYTES_NOP1`…`BYTES_NOP5` of arch/x86/include/asm/nops.h, x86-64).
public enum X86NOP {
  public static func bytes(length: Int) -> [UInt8]? {
    switch length {
    case 1: return [0x90]
    case 2: return [0x66, 0x90]
    case 3: return [0x0f, 0x1f, 0x00]
    case 4: return [0x0f, 0x1f, 0x40, 0x00]
    case 5: return [0x0f, 0x1f, 0x44, 0x00, 0x00]
    default: return nil
    }
  }
}
