import ELF
import Kernel

/// `read_instr_hints()`: `instrumentation_begin()` and `instrumentation_end()`
/// (include/linux/instrumentation.h) list, in `.discard.instr_begin` and
/// `.discard.instr_end`, where noinstr code may call instrumented code. Each
/// `instr_begin` place adds one to its instruction's count (`insn->instr`), each
/// `instr_end` place takes one away; with `--noinstr` validation adds the counts up
/// along a path in noinstr code (`state.instr`) and allows calls where the sum is positive.
public struct InstrumentationHints: Sendable {
  /// Per marked instruction: the sum of its marks (objtool's `s8 insn->instr`, wrapping).
  public let counts: [Int: Int8]

  /// Reads both sections, `.discard.instr_end` first; as objtool 6.1 does, `.discard.instr_begin`
  /// is read only when the object has `.rela.discard.instr_end`.
  public init(program: Program, table: InstructionTable) throws(ELFError) {
    var counts: [Int: Int8] = [:]
    for (name, delta) in [(".discard.instr_end", Int8(-1)), (".discard.instr_begin", Int8(1))] {
      guard program.file.section(named: ".rela" + name) != nil else { break }
      for (sym, addend, o) in try program.annotationPlaces(name) {
        guard sym.type == .section else {
          throw program.stop("unexpected relocation symbol type in .rela\(name)", at: o)
        }
        guard let i = table.instruction(in: sym.sectionIndex, at: UInt64(bitPattern: addend)) else {
          throw program.stop("bad \(name) entry", at: o)
        }
        counts[i, default: 0] &+= delta
      }
    }
    self.counts = counts
  }
}

/// `read_noendbr_hints()`: the instructions `.discard.noendbr` lists (`ANNOTATE_NOENDBR`,
/// include/linux/objtool.h): code reached indirectly that is known to need no `ENDBR`
/// (`insn->noendbr`), which `--ibt` does not warn about.
public struct NoendbrHints: Sendable {
  public let instructions: Set<Int>

  public init(program: Program, table: InstructionTable) throws(ELFError) {
    var instructions = Set<Int>()
    for (sym, addend, o) in try program.annotationPlaces(".discard.noendbr") {
      // reloc->sym->offset + reloc->addend: a section symbol's offset is 0.
      let base =
        program.isLinked && sym.sectionIndex < program.file.sections.count
        ? sym.value &- program.file.sections[sym.sectionIndex].address : sym.value
      guard let i = table.instruction(in: sym.sectionIndex, at: base &+ UInt64(bitPattern: addend)) else {
        throw program.stop("bad .discard.noendbr entry", at: o)
      }
      instructions.insert(i)
    }
    self.instructions = instructions
  }
}
