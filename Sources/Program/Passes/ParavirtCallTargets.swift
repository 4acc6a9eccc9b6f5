import ELF
import Kernel
import X86

/// What objtool 6.1's `--noinstr` knows of the functions a paravirt call can reach:
/// `init_pv_ops()` reads the static initialisers of `pv_ops` and of Xen PV's templates
/// (`xen_cpu_ops`, `xen_irq_ops`, `xen_mmu_ops`, `typeof(pv_ops)` each) slot by slot,
/// and x86's `arch_decode_instruction()` the `.init.text` stores of a function into a slot
/// (`movq $func, pv_ops+off(%rip)`, 11 bytes). A call through slot N from noinstr code is
/// allowed when every function found for N is in a noinstr section (``isNoinstrSection(_:)``);
/// `_paravirt_nop` and `_paravirt_ident_64`, which `paravirt_patch()` turns into native code,
/// are left out, and a function is kept under the first slot it was found for only.
public struct ParavirtCallTargets: Sendable {
  /// A function found for a slot.
  public struct Target: Sendable, Hashable {
    /// Its name (what "pv_ops[N]: name" prints).
    public var name: String
    /// Whether its section is noinstr (`target->sec->noinstr`).
    public var noinstr: Bool
  }

  /// The number of slots: `pv_ops`'s size over 8 (`file->pv_ops`). An object that only
  /// refers to `pv_ops` has 0, and objtool 6.1 then indexes past its table (undefined
  /// behaviour; it crashes on such objects): OrcTool knows no target of such a slot.
  public let slotCount: Int
  /// Per slot, its functions in objtool's list order (the last found first: `list_add()`).
  public let targets: [Int: [Target]]

  /// The Xen PV templates objtool 6.1 reads after `pv_ops` (`pv_ops_tables[]`).
  public static let tables = ["pv_ops", "xen_cpu_ops", "xen_irq_ops", "xen_mmu_ops"]

  /// Reads `program`'s slots; nil when it has no `pv_ops` symbol (`file->pv_ops` is NULL).
  /// - Throws: objtool's "no func for pv_ops[]" when an `.init.text` store names no symbol.
  public static func read(program: Program, table: InstructionTable) throws(ELFError) -> ParavirtCallTargets? {
    let symbols = program.symbols
    // find_symbol_by_name(): the last symbol of the name (objtool's name hash keeps the newest first).
    var byName: [String: Symbol] = [:]
    for k in 0..<symbols.count {
      let s = try symbols.symbol(at: k)
      guard s.type != .section, s.nameIndex != 0 else { continue }
      let name = try symbols.name(of: s)
      if tables.contains(name) { byName[name] = s }
    }
    guard let pvOps = byName["pv_ops"] else { return nil }
    var builder = Builder(program: program, slotCount: Int(pvOps.size / 8))
    for name in tables {
      if let table = byName[name] { try builder.addTable(table) }
    }
    try builder.addInitTextStores(table)
    return ParavirtCallTargets(slotCount: builder.slotCount, targets: builder.targets)
  }

  /// `objtool_pv_add()` over the tables and the stores, in objtool's order.
  struct Builder {
    let program: Program
    let slotCount: Int
    var targets: [Int: [Target]] = [:]
    /// The symbols already added (`!list_empty(&func->pv_target)`).
    var added = Set<Int>()
    /// `find_symbol_by_offset()`, built on first use.
    var symbolsByPlace: [SectionPlace: Symbol]? = nil

    init(program: Program, slotCount: Int) {
      self.program = program
      self.slotCount = slotCount
    }

    /// `add_pv_ops()`: each relocation inside the table's bytes, in offset order, is the
    /// function of slot `(offset - start) / 8`.
    mutating func addTable(_ table: Symbol) throws(ELFError) {
      guard table.isDefined, let rela = program.relocationSection(for: table.sectionIndex) else { return }
      let relocations = try program.file.relocations(rela)
      let start = program.symbolOffset(table)
      let end = start &+ table.size
      // find_reloc_by_dest_range() finds the lowest offset; among equal ones the last entry.
      var inside: [(offset: UInt64, entry: Int)] = []
      for k in 0..<relocations.count where relocations[k].offset >= start && relocations[k].offset < end {
        inside.append((relocations[k].offset, k))
      }
      inside.sort { ($0.offset, -$0.entry) < ($1.offset, -$1.entry) }
      var last: UInt64? = nil
      for (offset, k) in inside where offset != last {
        last = offset
        let r = relocations[k]
        let symbol = try program.symbols.symbol(at: Int(r.symbolIndex))
        guard let function = try symbolForSlot(symbol, addend: r.addend) else { continue }
        try add(slot: Int((offset - start) / 8), function)
      }
    }

    /// The `.init.text` stores `arch_decode_instruction()` reads (opcode 0xc7, 11 bytes,
    /// a relocation against `pv_ops` at byte 3 and the function's at byte 7).
    mutating func addInitTextStores(_ table: InstructionTable) throws(ELFError) {
      let file = program.file
      for (s, _) in table.codeSections where file.sections[s].name.hasPrefix(".init.text") {
        guard let range = table.sectionRange[s] else { continue }
        let bytes = file.contents(of: file.sections[s]).bytes
        for i in range where table.length[i] == 11 && Self.opcode(bytes, at: Int(table.offset[i])) == 0xc7 {
          let start = UInt64(table.offset[i])
          guard let slot = program.relocations.at(s, start + 3),
            try program.symbols.name(of: try program.symbols.symbol(at: Int(slot.symbolIndex))) == "pv_ops"
          else { continue }
          // objtool dereferences the second relocation unchecked: a store without one is left out.
          guard let value = program.relocations.at(s, start + 7) else { continue }
          let symbol = try program.symbols.symbol(at: Int(value.symbolIndex))
          guard let function = try symbolForSlot(symbol, addend: value.addend) else {
            throw program.stop("no func for pv_ops[]", at: file.sections[s].offset &+ start)
          }
          // idx = (immr->addend + 8) / sizeof(void *): an unsigned division, truncated to an int.
          let slotIndex = Int(Int32(truncatingIfNeeded: UInt64(bitPattern: slot.addend &+ 8) / 8))
          try add(slot: slotIndex, function)
        }
      }
    }

    /// The symbol a relocation stores a pointer to: the symbol itself, or for a section
    /// symbol the one at the addend (`find_symbol_by_offset()`); nil when there is none.
    mutating func symbolForSlot(_ s: Symbol, addend: Int64) throws(ELFError) -> Symbol? {
      guard s.type == .section else { return s }
      if symbolsByPlace == nil { symbolsByPlace = try program.symbolsByPlace() }
      return symbolsByPlace?[SectionPlace(section: s.sectionIndex, offset: UInt64(bitPattern: addend))]
    }

    /// `objtool_pv_add()`. A slot past the table (objtool writes past its array) is not recorded.
    mutating func add(slot: Int, _ function: Symbol) throws(ELFError) {
      let name = try program.symbols.name(of: function)
      if name == "_paravirt_nop" || name == "_paravirt_ident_64" { return }
      guard slot >= 0, slot < slotCount, added.insert(function.index).inserted else { return }
      let file = program.file
      let noinstr =
        function.isDefined && function.sectionIndex < file.sections.count
        && file.sections[function.sectionIndex].flags.contains(.execInstr)
        && ProfilingCalls.isNoinstrSection(file.sections[function.sectionIndex].name)
      targets[slot, default: []].insert(Target(name: name, noinstr: noinstr), at: 0)
    }

    /// The opcode byte after the legacy and REX prefixes (`insn.opcode.bytes[0]`).
    static func opcode(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt8? {
      var k = offset
      while k < bytes.count, [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3].contains(bytes[k]) {
        k += 1
      }
      if k < bytes.count, bytes[k] & 0xf0 == 0x40 { k += 1 }
      return k < bytes.count ? bytes[k] : nil
    }
  }
}
