import ELF
import Kernel
import Program
import X86

/// objtool 6.1's `--ibt` (`validate_ibt()`): with Indirect Branch Tracking an indirect
/// call or jump must land on an `ENDBR`. Each address of code taken where it is not a
/// direct branch (a relocation in an instruction other than a call, jump, return or NOP:
/// "relocation to !ENDBR", or in a data section: "data relocation to !ENDBR") must name
/// an `ENDBR`, a place `ANNOTATE_NOENDBR` lists, or (from code) its own function. An
/// `ENDBR` so named is used; the others at function starts are listed in
/// `.ibt_endbr_seal` (``CallSiteSections/ibtEndbrSeal(_:used:)``) for the kernel to seal.
public enum IBTValidation {
  /// What `validate_ibt()` gives: its warnings in objtool's order, and the `ENDBR`s named
  /// by an address taken (`mark_endbr_used()`).
  public struct Outcome: Sendable {
    public var diagnostics: [Diagnostic] = []
    public var used = Set<Int>()
  }

  public static func validate(_ graph: ControlFlowGraph) throws(ELFError) -> Outcome {
    var outcome = Outcome()
    let program = graph.program
    let file = program.file
    let table = graph.table
    let symbols = program.symbols
    /// find_insn() at the place a relocation's symbol and `offset` from it name.
    func destination(_ symbol: Symbol, plus offset: UInt64) -> Int? {
      guard symbol.isDefined, symbol.sectionIndex < file.sections.count else { return nil }
      return table.instruction(in: symbol.sectionIndex, at: program.symbolOffset(symbol) &+ offset)
    }
    // validate_ibt_insn(): the instructions in order, each relocation inside one.
    for i in 0..<table.decodedCount {
      switch graph.type[i] {
      case .call, .callDynamic, .jumpConditional, .jumpUnconditional, .jumpDynamic, .jumpDynamicConditional,
        .return, .nop:
        continue
      default:
        break
      }
      let start = UInt64(table.offset[i])
      let relocations = program.relocations.all(in: Int(table.section[i]), start..<start + UInt64(table.length[i]))
      for (k, r) in relocations.enumerated() {
        // find_reloc_by_dest_range() from the offset after the last one: one relocation an
        // offset, the last of the file among equal ones.
        if k + 1 < relocations.count && relocations[relocations.startIndex + k + 1].offset == r.offset { continue }
        // static_call_update() takes the trampoline's address, which needs no ENDBR.
        if graph.classes[Int(r.symbolIndex)].contains(.staticCallTrampoline) { continue }
        let symbol = try symbols.symbol(at: Int(r.symbolIndex))
        let pcRelative = r.type == X86RelocationType.pc32.rawValue || r.type == X86RelocationType.plt32.rawValue
        // arch_dest_reloc_offset(int addend): the addend plus 4.
        let offset =
          pcRelative
          ? UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: r.addend) &+ 4)) : UInt64(bitPattern: r.addend)
        guard let dest = destination(symbol, plus: offset) else { continue }
        if table.type[dest] == .endbr {
          outcome.used.insert(dest)
          continue
        }
        // A reference to its own function: _THIS_IP_ or an IRET to self.
        if table.function[dest] >= 0 && table.function[dest] == table.function[i] { continue }
        if graph.noendbr.contains(dest) { continue }
        outcome.diagnostics.append(
          Diagnostic(place: graph.place(i), message: "relocation to !ENDBR: \(graph.offstr(dest))"))
      }
    }
    // validate_ibt_data_reloc(): the relocations of the other sections, in file order.
    for s in file.sections where !s.flags.contains(.execInstr) && !ignoresRelocations(in: s.name) {
      guard let rela = program.relocationSection(for: s.index) else { continue }
      let relocations = try file.relocations(rela)
      for k in 0..<relocations.count {
        let r = relocations[k]
        let symbol = try relocations.symbol(of: k, in: symbols)
        guard let dest = destination(symbol, plus: UInt64(bitPattern: r.addend)) else { continue }
        if table.type[dest] == .endbr {
          outcome.used.insert(dest)
          continue
        }
        if graph.noendbr.contains(dest) { continue }
        outcome.diagnostics.append(
          Diagnostic(
            place: program.diagnosticPlace(SectionPlace(section: s.index, offset: r.offset)),
            message: "data relocation to !ENDBR: \(graph.offstr(dest))"))
      }
    }
    return outcome
  }

  /// The sections whose addresses of code are not for indirect branches (`validate_ibt()`'s list).
  static func ignoresRelocations(in name: String) -> Bool {
    (name.hasPrefix(".discard") && name != ".discard.ibt_endbr_noseal") || name.hasPrefix(".debug")
      || ignoredSections.contains(name) || name.contains("__patchable_function_entries")
  }

  static let ignoredSections: Set<String> = [
    ".altinstructions", ".ibt_endbr_seal", ".orc_unwind_ip", ".parainstructions", ".retpoline_sites",
    ".smp_locks", ".static_call_sites", "_error_injection_whitelist", "_kprobe_blacklist", "__bug_table",
    "__ex_table", "__jump_table", "__mcount_loc", ".kcfi_traps",
  ]
}
