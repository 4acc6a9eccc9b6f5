import ELF
import Kernel

/// The `__ex_table` part of `add_special_section_alts()`: an instruction that
/// may fault can also continue at its fixup.
public struct ExceptionPaths: Sendable {
  /// Per faulting instruction: its fixups, in table order.
  public let paths: [Int: [Int]]

  public init(program: Program, table: InstructionTable) throws(ELFError) {
    var paths: [Int: [Int]] = [:]
    for e in try ExceptionTable(file: program.file).entries {
      guard let site = table.instruction(in: e.insn.section, at: e.insn.offset),
        let fixup = table.instruction(in: e.fixup.section, at: e.fixup.offset)
      else { continue }
      paths[site, default: []].append(fixup)
    }
    self.paths = paths
  }
}
