import ELF
import Program

/// objtool 6.1's `--stats`: the lines it prints on standard output as it goes
/// (`printf()` in elf.c's readers, `cfi_hash_alloc()`, `decode_instructions()`,
/// `add_special_section_alts()`, `create_ibt_endbr_seal_sections()` and the end of
/// `check()`). Each group is printed only when objtool gets that far.
public enum CheckStatistics {
  /// `elf_open_read()`'s lines and `check()`'s first, `cfi_bits`.
  public static func fileLines(_ file: ELFFile) -> [String] {
    let lines = elfLines(file)
    // cfi_hash_alloc(1UL << (symbol_bits - 3))
    return lines + ["cfi_bits: \(max(10, symbolBits(file) - 3))"]
  }

  /// `bits()` of the symbol table's entries.
  static func symbolBits(_ file: ELFFile) -> Int { bits(UInt64(symbolCount(file))) }

  /// The entries of the symbol table (`sh_size / sh_entsize`).
  static func symbolCount(_ file: ELFFile) -> Int {
    file.sections.first { $0.type == .symtab }.map { $0.entrySize > 0 ? Int($0.size / $0.entrySize) : 0 } ?? 0
  }

  /// `elf_open_read()`'s lines: the sections, symbols and relocations, and the bits of
  /// each hash table (`max(10, ilog2(n))`).
  public static func elfLines(_ file: ELFFile) -> [String] {
    let sections = file.sections.count
    let symbols = symbolCount(file)
    var maxRelocations = 0
    var totalRelocations = 0
    for s in file.sections where (s.type == .rela || s.type == .rel) && s.entrySize > 0 {
      let n = Int(s.size / s.entrySize)
      maxRelocations = max(maxRelocations, n)
      totalRelocations += n
    }
    let textSize = file.sections.filter { $0.flags.contains(.execInstr) }.reduce(UInt64(0)) { $0 &+ $1.size }
    return [
      "nr_sections: \(sections)", "section_bits: \(bits(UInt64(sections)))", "nr_symbols: \(symbols)",
      "symbol_bits: \(bits(UInt64(symbols)))", "max_reloc: \(maxRelocations)", "tot_reloc: \(totalRelocations)",
      "reloc_bits: \(bits(textSize / 16))",
    ]
  }

  /// `decode_instructions()`'s and `add_special_section_alts()`'s lines, as far as reading got.
  public static func readLines(_ read: ReadStatistics) -> [String] {
    var lines: [String] = []
    if let n = read.instructions { lines.append("nr_insns: \(n)") }
    if let jl = read.jumpLabels {
      lines += [
        "jl\\\tNOP\tJMP", "short:\t\(jl.nopShort)\t\(jl.jumpShort)", "long:\t\(jl.nopLong)\t\(jl.jumpLong)",
      ]
    }
    return lines
  }

  /// `create_ibt_endbr_seal_sections()`'s lines: the `ENDBR`s at function starts and inside
  /// functions, and those left to seal.
  public static func ibtLines(_ graph: ControlFlowGraph, sealed: Int) -> [String] {
    [
      "ibt: ENDBR at function start: \(graph.endbr.functionStarts.count)",
      "ibt: ENDBR inside functions:  \(graph.endbr.insideFunctions)",
      "ibt: superfluous ENDBR:       \(sealed)",
    ]
  }

  /// The end of `check()`: the instructions validation reached, and objtool's CFI hash:
  /// the states it allocated (every distinct state looked up but the initial ones, which
  /// the hash starts with), those taken from the previous instruction, and the lookups
  /// that found a state already there.
  public static func validationLines(_ v: Validator) -> [String] {
    var distinct = Set(v.graph.hints.cfiLookups).union(v.recordedStates)
    distinct.remove(.initialHint)
    distinct.remove(.initialFunction)
    let lookups = v.graph.hints.cfiLookups.count + v.cfiLookups
    return [
      "nr_insns_visited: \(v.visitedCount)", "nr_cfi: \(distinct.count)", "nr_cfi_reused: \(v.cfiReused)",
      "nr_cfi_cache: \(lookups - distinct.count)",
    ]
  }

  /// The kernel's `ilog2()` (-1 for 0), at least 10 (`elf_alloc_hash()`, `cfi_hash_alloc()`).
  static func bits(_ n: UInt64) -> Int {
    max(10, n == 0 ? -1 : 63 - n.leadingZeroBitCount)
  }
}
