import ELF
import Kernel

/// `add_dead_ends()`: instructions after which no path goes on. A `ud2`
/// (`INSN_BUG`) is one unless annotated reachable; `.discard.unreachable`
/// (`annotate_unreachable()`) marks the instruction before a place as one,
/// `.discard.reachable` (`annotate_reachable()`) as not one.
public struct DeadEnds: Sendable {
  /// Per instruction: whether it is a dead end (`insn->dead_end`).
  public let instructions: [Bool]
  /// Instructions `.discard.reachable` marks as no dead end: this runs after
  /// add_call_destinations(), so it also overrides a call to a noreturn function
  /// (`__sysvec_reboot()` in arch/x86/kernel/smp.o).
  public let reachable: Set<Int>

  public init(program: Program, table: InstructionTable) throws(ELFError) {
    var deadEnd = (0..<table.count).map { table.type[$0] == .bug }
    var reachable = Set<Int>()
    for (name, value) in [(".discard.unreachable", true), (".discard.reachable", false)] {
      for (sym, addend, _) in try program.annotationPlaces(name) where sym.type == .section {
        let place = UInt64(bitPattern: addend)
        var target: Int? = nil
        if let i = table.instruction(in: sym.sectionIndex, at: place) {
          target = i > 0 ? i - 1 : nil  // the previous instruction of the whole list, as objtool's
        } else if place == program.file.sections[sym.sectionIndex].size, let r = table.sectionRange[sym.sectionIndex],
          !r.isEmpty
        {
          target = r.upperBound - 1
        }
        if let t = target {
          deadEnd[t] = value
          if value { reachable.remove(t) } else { reachable.insert(t) }
        }
      }
    }
    instructions = deadEnd
    self.reachable = reachable
  }
}
