import ELF
import Kernel
import Program
import X86

/// objtool 6.1's `--noinstr` rules (`validate_call()`'s first check, `noinstr_call_dest()`,
/// `pv_call_dest()`, `validate_return()`'s first check): code in a noinstr section
/// (`.noinstr.text`, `.entry.text`, `.text..__x86.*`) may call only noinstr code, outside
/// an `instrumentation_begin()`/`_end()` stretch (where `InsnFlags.instr` is positive).
/// objtool needs the whole vmlinux to know where a callee is (`--link`); in a single
/// object every call to another object's function is reported.
extension Validator {
  /// Whether a path through section `s` starts with the noinstr rules on
  /// (`init_insn_state()`: `opts.link && opts.noinstr && sec->noinstr`).
  func startsNoinstr(in s: Int?) -> Bool {
    guard let s, graph.options.noinstr, link else { return false }
    return graph.isNoinstrSection(s)
  }

  /// The noinstr part of `validate_call()`: false after "call to X() leaves .noinstr.text section".
  func validateNoinstrCall(_ i: Int, _ flags: InsnFlags) -> Bool {
    guard flags.noinstr && flags.instr <= 0 && !isNoinstrCallDestination(i) else { return true }
    warn(i, "call to \(callDestName(i))() leaves .noinstr.text section")
    return false
  }

  /// `noinstr_call_dest()`: a callee in a noinstr section, or a `__ubsan_handle_*()` (which,
  /// like WARN(), only runs when something went wrong); an indirect call only through a
  /// `pv_ops` slot whose every known function is noinstr (``pvCallDestination(_:)``).
  func isNoinstrCallDestination(_ i: Int) -> Bool {
    let program = graph.program
    guard let k = graph.callDestSymbol[i], let symbol = try? program.symbols.symbol(at: k) else {
      // We can't deal with indirect function calls at present; assume they're instrumented.
      return graph.paravirt != nil && pvCallDestination(i)
    }
    if symbol.isDefined && symbol.sectionIndex < program.file.sections.count
      && graph.isNoinstrSection(symbol.sectionIndex)
    {
      return true
    }
    let name = (try? program.file.displayName(of: symbol, in: program.symbols)) ?? ""
    return name.hasPrefix("__ubsan_handle_")
  }

  /// `pv_call_dest()`: an indirect call through `pv_ops` slot N (its relocation's addend
  /// plus 4, over 8) is clean when every function known for N is noinstr; the first time a
  /// slot is checked, each one that is not is reported ("pv_ops[N]: name"), and a clean slot
  /// is not checked again. The call's relocation is looked up here, so "call to X()" names
  /// it afterwards (``callDestName(_:)``). A slot past the table (an object that only
  /// refers to `pv_ops`, where objtool 6.1 reads past its array) has no known function and
  /// is not clean.
  func pvCallDestination(_ i: Int) -> Bool {
    let g = graph
    relocationLookedUp.insert(i)
    guard let pv = g.paravirt, i < g.table.decodedCount else { return false }
    let section = Int(g.table.section[i])
    let start = UInt64(g.table.offset[i])
    guard let r = g.program.relocations.first(in: section, start..<start + UInt64(g.table.length[i])),
      let symbol = try? g.program.symbols.symbol(at: Int(r.symbolIndex)),
      (try? g.program.file.displayName(of: symbol, in: g.program.symbols)) == "pv_ops"
    else { return false }
    // arch_dest_reloc_offset(int addend) + 4, as an unsigned long, over 8, into an int.
    let offset = UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: r.addend) &+ 4))
    let slot = Int(Int32(truncatingIfNeeded: offset / 8))
    guard slot >= 0, slot < pv.slotCount else { return false }
    if pvClean[slot] { return true }
    pvClean[slot] = true
    for target in pv.targets[slot] ?? [] where !target.noinstr {
      warn("pv_ops[\(slot)]: \(target.name)")
      pvClean[slot] = false
    }
    return pvClean[slot]
  }

  /// `validate_noinstr_sections()` (`--noinstr` without `--orc`, `--stackval` or
  /// `--uaccess`): the functions and the unwind hints of `.noinstr.text`, then of
  /// `.entry.text`, with the noinstr rules on; nothing else, and no reachability check.
  public func runNoinstrSections() {
    runOnLargeStack {
      for name in [".noinstr.text", ".entry.text"] {
        guard let s = self.graph.program.file.section(named: name) else { continue }
        _ = self.validateSection(s.index)
        _ = self.validateUnwindHints(in: s.index)
      }
    }
  }
}
