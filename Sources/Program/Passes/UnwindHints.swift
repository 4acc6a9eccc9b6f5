import ELF
import Kernel

/// `read_unwind_hints()`: `.discard.unwind_hints` (`UNWIND_HINT_*` in the
/// kernel's assembly; `struct unwind_hint` of either generation, read by
/// `Kernel.UnwindHintTable`) gives the CFI an instruction starts with, whatever path
/// reaches it; `UNWIND_HINT_SAVE` / `RESTORE` bracket code whose state is restored.
public struct UnwindHints: Sendable {
  /// Per hinted instruction: the CFI it starts with (`insn->cfi`).
  public let states: [Int: CFIState]
  /// Instructions that carry a hint (`insn->hint`; a SAVE hint does not).
  public let hinted: Set<Int>
  /// `UNWIND_HINT_SAVE` and `UNWIND_HINT_RESTORE` instructions.
  public let saves: Set<Int>
  public let restores: Set<Int>
  /// Whether the object has the section at all (`file->hints`).
  public let present: Bool
  /// The entry points `--unret` validates from (`insn->entry`): each `UNWIND_HINT_ENTRY`
  /// (6.1), and each `UNWIND_HINT_IRET_REGS` (a REGS_PARTIAL hint) at a global symbol.
  public let entries: Set<Int>
  /// The states objtool looks up in its CFI hash while reading the hints, in order
  /// (`cfi_hash_find_or_add()`: one a hint but SAVE, RESTORE and FUNC), for `--stats`.
  public let cfiLookups: [CFIState]
  /// With `--ibt`, "UNWIND_HINT_IRET_REGS without ENDBR" at each such global entry that is
  /// neither an `ENDBR` nor annotated `ANNOTATE_NOENDBR` (objtool warns and goes on).
  public let warnings: [Diagnostic]

  /// Reads the hints of `program`'s file in `generation`'s `struct unwind_hint`.
  /// - Parameters:
  ///   - ibt: objtool's `--ibt`; `noendbr` the instructions `.discard.noendbr` lists.
  ///   - rewrites: where objtool 6.1 turns each `UNWIND_HINT_ENTRY` into a CALL hint in the
  ///     section's data (``CodeRewrites/incidental``), hint by hint.
  public init(
    program: Program, table: InstructionTable, generation: KernelGeneration, ibt: Bool = false,
    noendbr: Set<Int> = [], rewrites: inout CodeRewrites
  ) throws(ELFError) {
    let hints = try UnwindHintTable(file: program.file, generation: generation)
    var states: [Int: CFIState] = [:]
    var hinted = Set<Int>()
    var saves = Set<Int>()
    var restores = Set<Int>()
    var entries = Set<Int>()
    var warnings: [Diagnostic] = []
    var cfiLookups: [CFIState] = []
    var cfi = CFIState.initialHint
    let section = program.file.section(named: ".discard.unwind_hints")
    var symbolsByPlace: [SectionPlace: Symbol]? = nil
    for h in hints.entries {
      guard let i = table.instruction(in: h.place.section, at: h.place.offset) else {
        throw program.stop(
          "can't find insn for unwind_hints[\(h.index)]",
          at: (program.file.section(named: ".discard.unwind_hints")?.offset ?? 0)
            &+ UInt64(h.index * hints.layout.entrySize))
      }
      hinted.insert(i)
      // The state's type in objtool 6.1's numbering (CALL 0, REGS 1, REGS_PARTIAL 2), whatever the generation.
      var type: UInt8
      var end = h.end
      switch h.kind {
      case .save:
        hinted.remove(i)
        saves.insert(i)
        continue
      case .restore:
        restores.insert(i)
        continue
      case .function:
        states[i] = CFIState.initialFunction
        continue
      case .entry:
        // A CALL hint at an entry point; objtool 6.1 writes the CALL type into the hint itself.
        type = 0
        entries.insert(i)
        if let section, let call = UnwindHintKind.call.rawValue(in: generation) {
          rewrites.appendIncidental(
            section: section.index, offset: UInt64(h.index * hints.layout.entrySize + hints.layout.typeOffset),
            bytes: [call])
        }
      case .call, .undefined: type = 0
      case .endOfStack:  // 6.12's END_OF_STACK is 6.1's UNWIND_HINT_EMPTY: a CALL hint with end set
        type = 0
        end = true
      case .regs: type = 1
      case .regsPartial:
        type = 2
        if symbolsByPlace == nil { symbolsByPlace = try program.symbolsByPlace() }
        if symbolsByPlace?[h.place]?.binding == .global {
          if ibt && table.type[i] != .endbr && !noendbr.contains(i) {
            warnings.append(
              Diagnostic(
                place: program.diagnosticPlace(table.place(i)), message: "UNWIND_HINT_IRET_REGS without ENDBR"))
          }
          entries.insert(i)
        }
      case nil: type = h.rawType
      }
      if let existing = states[i] { cfi = existing }
      // arch_decode_hint_reg(): ORC_REG_* to CFI base.
      switch h.spReg {
      case 0: cfi.cfa.base = CFIBase.undefined
      case 5: cfi.cfa.base = CFIBase.sp
      case 4: cfi.cfa.base = CFIBase.bp
      case 9: cfi.cfa.base = CFIBase.spIndirect
      case 6: cfi.cfa.base = CFIBase.r10
      case 7: cfi.cfa.base = CFIBase.r13
      case 3: cfi.cfa.base = CFIBase.di
      case 2: cfi.cfa.base = CFIBase.dx
      default:
        throw program.stop(
          "unsupported unwind_hint sp base reg \(h.spReg)", section: Int(table.section[i]),
          offset: UInt64(table.offset[i]))
      }
      cfi.cfa.offset = Int32(h.spOffset)
      cfi.type = type
      cfi.end = end
      cfi.signal = h.signal
      states[i] = cfi
      cfiLookups.append(cfi)
    }
    (self.states, self.hinted, self.saves, self.restores, present) = (states, hinted, saves, restores, hints.hasSection)
    (self.entries, self.warnings, self.cfiLookups) = (entries, warnings, cfiLookups)
  }

  /// The hints of `program`'s file, the ENTRY hints' rewrite left out.
  public init(program: Program, table: InstructionTable, generation: KernelGeneration) throws(ELFError) {
    var rewrites = CodeRewrites()
    try self.init(program: program, table: table, generation: generation, rewrites: &rewrites)
  }

}
