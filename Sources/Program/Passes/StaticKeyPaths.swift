import ELF
import Kernel

/// The `__jump_table` part of `add_special_section_alts()`: a static-key site
/// (a NOP or a JMP, patched at run time) can also go the other way.
public struct StaticKeyPaths: Sendable {
  /// Per site instruction: the other way it can go, in `__jump_table` order.
  public let paths: [Int: [Int]]

  public init(program: Program, table: InstructionTable) throws(ELFError) {
    var paths: [Int: [Int]] = [:]
    for b in try JumpTable(file: program.file).entries {
      guard let site = table.instruction(in: b.code.section, at: b.code.offset),
        let target = table.instruction(in: b.target.section, at: b.target.offset)
      else { continue }
      switch table.type[site] {
      case .nop: paths[site, default: []].append(target)
      case .jumpUnconditional: if let n = table.next(site) { paths[site, default: []].append(n) }
      default:
        throw program.stop("unsupported instruction at jump label", section: b.code.section, offset: b.code.offset)
      }
    }
    self.paths = paths
  }
}
