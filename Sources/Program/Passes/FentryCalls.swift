import ELF
import Kernel
import X86

/// `--mcount`, the part of `annotate_call_site()` that records ftrace's call sites
/// (`CONFIG_FTRACE_MCOUNT_USE_OBJTOOL`): each call to the global `__fentry__`
/// (``SymbolClass/fentry``, the call `-pg -mfentry` puts at the start of a traced
/// function) outside `.altinstr_replacement` becomes a NOP of its length
/// (`arch_nop_insn()`), the relocation inside it `R_X86_64_NONE`, symbol and addend
/// kept (`elf_write_reloc()`), and is listed for `__mcount_loc`, which ftrace patches at
/// boot. A tail call to `__fentry__` is rewritten the same way, after objtool's
/// "Tail call to __fentry__ !?!?".
public struct FentryCalls: Sendable {
  /// The rewritten calls in objtool's order (`file->mcount_loc_list`: the sibling calls
  /// `add_jump_destinations()` finds, then the calls `add_call_destinations()` finds, each
  /// in instruction order).
  public let sites: [Int]
  /// "Tail call to __fentry__ !?!?" at each tail call (objtool warns and goes on).
  public let warnings: [Diagnostic]

  /// - Parameters:
  ///   - jumps: the sibling calls and the symbols they name (`add_jump_destinations()`).
  ///   - calls: the calls and the symbols they name (`add_call_destinations()`).
  ///   - rewrites: the NOPs written and the relocations voided, call by call.
  public init(
    program: Program, table: InstructionTable, classes: SymbolClasses, jumps: JumpDestinations,
    calls: CallDestinations, rewrites: inout CodeRewrites
  ) throws(ELFError) {
    let file = program.file
    var sites: [Int] = []
    var warnings: [Diagnostic] = []
    let all =
      jumps.siblingCallSymbols.sorted { $0.key < $1.key }.map { ($0.key, $0.value, true) }
      + calls.callSymbols.sorted { $0.key < $1.key }.map { ($0.key, $0.value, false) }
    for (i, symbol, sibling) in all where classes[symbol].contains(.fentry) {
      let section = Int(table.section[i])
      // Replacement code is a template the kernel copies: not annotated.
      guard file.sections[section].name != ".altinstr_replacement" else { continue }
      let start = UInt64(table.offset[i])
      if sibling {
        warnings.append(
          Diagnostic(place: program.diagnosticPlace(table.place(i)), message: "Tail call to __fentry__ !?!?"))
      }
      let length = Int(table.length[i])
      guard let bytes = X86NOP.bytes(length: length) else {
        throw program.stop("invalid NOP size: \(length)", section: section, offset: start)
      }
      if let r = program.relocations.firstEntry(in: section, start..<start + UInt64(length)) {
        rewrites.voidedRelocations.append(.init(relocationSection: r.relocationSection, index: r.index))
      }
      rewrites.instructions.append(.init(section: section, offset: start, bytes: bytes))
      sites.append(i)
    }
    self.sites = sites
    self.warnings = warnings
  }
}
