import ELF
import Kernel
import X86

/// `--hacks=noinstr`, the part of `annotate_call_site()` that helps compilers which
/// cannot keep instrumentation out of noinstr code: a call from a noinstr section
/// (`.noinstr.text`, `.entry.text`, `.text..__x86.*`) to a global profiling function
/// (`is_profiling_func()`: `__sanitizer_cov_*`, `__tsan_func_*`,
/// `__tsan_atomic_signal_fence`) becomes a NOP of its length, a tail call to one
/// `ret; int3` and NOPs (`arch_nop_insn()`, `arch_ret_insn()`), and the relocation
/// inside it `R_X86_64_NONE` (`elf_write_reloc()`), symbol and addend kept.
public struct ProfilingCalls: Sendable {
  /// The rewritten instructions and their new type: `.nop` for a call, `.return`
  /// for a tail call (objtool marks that one `retpoline_safe`).
  public let retyped: [Int: InsnType]
  /// The bytes objtool writes: the new instructions in their section, the
  /// relocations' new `r_info`.
  public let edits: [InPlaceEdit]

  /// objtool's `is_profiling_func()`.
  public static func isProfilingFunction(_ name: String) -> Bool {
    name.hasPrefix("__sanitizer_cov_") || name.hasPrefix("__tsan_func_") || name == "__tsan_atomic_signal_fence"
  }

  /// The sections objtool 6.1 takes as noinstr (`decode_instructions()`: `sec->noinstr`).
  public static func isNoinstrSection(_ name: String) -> Bool {
    name == ".noinstr.text" || name == ".entry.text" || name.hasPrefix(".text..__x86.")
  }

  /// `BYTES_NOP1` … `BYTES_NOP5` (tools/arch/x86/include/asm/nops.h, x86-64).
  static let nops: [[UInt8]] = [
    [0x90], [0x66, 0x90], [0x0f, 0x1f, 0x00], [0x0f, 0x1f, 0x40, 0x00], [0x0f, 0x1f, 0x44, 0x00, 0x00],
  ]

  /// `arch_ret_insn()`: `ret`, then `int3`, then a NOP over the rest.
  static func ret(_ length: Int) -> [UInt8] {
    length == 1 ? [0xc3] : [0xc3, 0xcc] + (length > 2 ? nops[length - 3] : [])
  }

  /// - Parameters:
  ///   - calls: each call and where it goes (`add_call_destinations()`).
  ///   - siblingCalls: each tail call and where it goes (`add_jump_destinations()`).
  public init(program: Program, table: InstructionTable, calls: [Int: CallDest], siblingCalls: [Int: CallDest])
    throws(ELFError)
  {
    let file = program.file
    var retyped: [Int: InsnType] = [:]
    var edits: [InPlaceEdit] = []
    let sites = calls.map { ($0.key, $0.value, false) } + siblingCalls.map { ($0.key, $0.value, true) }
    for (i, dest, sibling) in sites.sorted(by: { $0.0 < $1.0 }) {
      let section = Int(table.section[i])
      guard section < file.sections.count, Self.isNoinstrSection(file.sections[section].name) else { continue }
      let start = UInt64(table.offset[i])
      let length = Int(table.length[i])
      let reloc = program.relocations.first(in: section, start..<start + UInt64(length))
      // The symbol the call names: its destination function's, else its relocation's.
      let symbol: Symbol
      switch dest {
      case .function(let f): symbol = try program.symbols.symbol(at: program.functions.functions[f].symbolIndex)
      case .external:
        guard let reloc else { continue }
        symbol = try program.symbols.symbol(at: Int(reloc.symbolIndex))
      }
      // classify_symbols(): only STB_GLOBAL symbols are marked.
      guard symbol.binding == .global, Self.isProfilingFunction(try program.symbols.name(of: symbol)) else {
        continue
      }
      guard (1...5).contains(length) else {
        throw program.stop("invalid \(sibling ? "RET" : "NOP") size: \(length)", section: section, offset: start)
      }
      if let reloc, let entry = try Self.entryOffset(of: reloc, patching: section, in: file) {
        // r_info with ELF64_R_TYPE R_X86_64_NONE, ELF64_R_SYM kept.
        let info = UInt64(reloc.symbolIndex) << 32 | UInt64(X86RelocationType.none.rawValue)
        edits.append(InPlaceEdit(fileOffset: entry + 8, bytes: withUnsafeBytes(of: info.littleEndian) { Array($0) }))
      }
      edits.append(
        InPlaceEdit(
          fileOffset: file.sections[section].offset + start,
          bytes: sibling ? Self.ret(length) : Self.nops[length - 1]))
      retyped[i] = sibling ? .return : .nop
    }
    self.retyped = retyped
    self.edits = edits
  }

  /// The file offset of the `Elf64_Rela` entry `reloc` is, in the relocation section of `section`.
  static func entryOffset(of reloc: Relocation, patching section: Int, in file: ELFFile) throws(ELFError) -> UInt64? {
    for s in file.sections where s.type == .rela && Int(s.info) == section {
      let table = try file.relocations(s)
      for k in 0..<table.count where table[k] == reloc { return table.fileOffset(of: k) }
    }
    return nil
  }
}
