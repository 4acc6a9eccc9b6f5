import ELF
import Kernel
import X86

/// `--hacks=noinstr`, the part of `annotate_call_site()` that helps compilers which
/// cannot keep instrumentation out of noinstr code: a call from a noinstr section
/// (`.noinstr.text`, `.entry.text`, `.text..__x86.*`) to a global profiling function
/// (``SymbolClass/profilingFunction``: `__sanitizer_cov_*`, `__tsan_func_*`,
/// `__tsan_atomic_signal_fence`) becomes a NOP of its length, a tail call `ret; int3`
/// and a NOP (`arch_nop_insn()`, `arch_ret_insn()`), and the relocation inside it
/// `R_X86_64_NONE`, symbol and addend kept (`elf_write_reloc()`).
public struct ProfilingCalls: Sendable {
  /// The rewritten instructions and their new type: `.nop` for a call, `.return`
  /// for a tail call (which objtool also marks `retpoline_safe`).
  public let retyped: [Int: InsnType]

  /// The sections objtool 6.1 takes as noinstr (`decode_instructions()`: `sec->noinstr`).
  public static func isNoinstrSection(_ name: String) -> Bool {
    name == ".noinstr.text" || name == ".entry.text" || name.hasPrefix(".text..__x86.")
  }

  /// `arch_ret_insn()`: `ret`, then `int3`, then a NOP over the rest.
  static func ret(length: Int) -> [UInt8]? {
    switch length {
    case 1: return [0xc3]
    case 2: return [0xc3, 0xcc]
    case 3...5: return [0xc3, 0xcc] + (X86NOP.bytes(length: length - 2) ?? [])
    default: return nil
    }
  }

  /// - Parameters:
  ///   - jumps: the sibling calls and the symbols they name (`add_jump_destinations()`,
  ///     which annotates them first).
  ///   - calls: the calls and the symbols they name (`add_call_destinations()`).
  ///   - rewrites: the NOPs and returns written, and the relocations voided, call by call.
  public init(
    program: Program, table: InstructionTable, classes: SymbolClasses, jumps: JumpDestinations,
    calls: CallDestinations, rewrites: inout CodeRewrites
  ) throws(ELFError) {
    let file = program.file
    var retyped: [Int: InsnType] = [:]
    let sites =
      Array(jumps.siblingCallSymbols).mergeSorted { $0.key < $1.key }.map { ($0.key, $0.value, true) }
      + Array(calls.callSymbols).mergeSorted { $0.key < $1.key }.map { ($0.key, $0.value, false) }
    for (i, symbol, sibling) in sites where classes[symbol].contains(.profilingFunction) {
      let section = Int(table.section[i])
      guard Self.isNoinstrSection(file.sections[section].name) else { continue }
      let start = UInt64(table.offset[i])
      let length = Int(table.length[i])
      guard let bytes = sibling ? Self.ret(length: length) : X86NOP.bytes(length: length) else {
        throw program.stop("invalid \(sibling ? "RET" : "NOP") size: \(length)", section: section, offset: start)
      }
      if let r = program.relocations.firstEntry(in: section, start..<start + UInt64(length)) {
        rewrites.voidedRelocations.append(.init(relocationSection: r.relocationSection, index: r.index))
      }
      rewrites.instructions.append(.init(section: section, offset: start, bytes: bytes))
      retyped[i] = sibling ? .return : .nop
    }
    self.retyped = retyped
  }
}
