import ELF
import Kernel
import X86

/// The `ENDBR` instructions `decode_instructions()` notes for `--ibt`: each one that
/// starts a function is a candidate for sealing (`file->endbr_list`; the kernel turns an
/// `ENDBR` no indirect branch reaches into a NOP at boot, `apply_ibt_endbr()`), each one
/// inside a function is counted (`file->nr_endbr_int`, for `--stats`).
public struct EndbrInstructions: Sendable {
  /// The `ENDBR`s at the start of a function, in objtool's order: code section by code
  /// section, function by function in offset order.
  public let functionStarts: [Int]
  /// How many `ENDBR`s inside a function were met, function by function.
  public let insideFunctions: Int

  public init(program: Program, table: InstructionTable) {
    let functions = program.functions
    var starts: [Int] = []
    var listed = Set<Int>()
    var inside = 0
    for (s, _) in table.codeSections {
      let funcs = functions.functions.filter { $0.section == s && !functions.isAlias[$0.id] }
        .sorted { ($0.offset, $0.symbolIndex) < ($1.offset, $1.symbolIndex) }
      for f in funcs {
        guard f.size > 0, var i = table.instruction(in: s, at: f.offset) else { continue }
        // sym_for_each_insn(): the instructions that start inside the symbol.
        while UInt64(table.offset[i]) < f.endOffset {
          if table.type[i] == .endbr && !listed.contains(i) {
            if UInt64(table.offset[i]) == f.offset {
              starts.append(i)
              listed.insert(i)
            } else {
              inside += 1
            }
          }
          guard let n = table.next(i) else { break }
          i = n
        }
      }
    }
    functionStarts = starts
    insideFunctions = inside
  }
}
