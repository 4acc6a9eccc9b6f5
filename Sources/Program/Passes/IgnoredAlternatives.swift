import ELF
import Kernel

/// `add_ignore_alternatives()`: the sites listed in `.discard.ignore_alts`
/// (`ANNOTATE_IGNORE_ALTERNATIVE`), whose replacement streams are not followed.
public struct IgnoredAlternatives: Sendable {
  /// The original instructions of those sites.
  public let sites: Set<Int>

  public init(program: Program, table: InstructionTable) throws(ELFError) {
    var sites = Set<Int>()
    for (sym, addend, o) in try program.annotationPlaces(".discard.ignore_alts") {
      guard sym.type == .section, let i = table.instruction(in: sym.sectionIndex, at: UInt64(bitPattern: addend)) else {
        throw program.stop("bad .discard.ignore_alts entry", at: o)
      }
      sites.insert(i)
    }
    self.sites = sites
  }
}
