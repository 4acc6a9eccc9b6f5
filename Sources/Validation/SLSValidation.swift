import Program
import X86

/// `validate_sls()` (objtool's `--sls`): against straight-line speculation, a return
/// and an indirect jump are followed by `int3` ("missing int3 after ret", "missing int3
/// after indirect jump"); `retpoline_safe` instructions (thunk jumps and calls, annotated
/// ones) are left alone.
public enum SLSValidation {
  /// The warnings, in instruction order (objtool runs this after validating the functions).
  public static func diagnostics(_ graph: ControlFlowGraph) -> [Diagnostic] {
    let t = graph.table
    var out: [Diagnostic] = []
    for i in 0..<t.decodedCount {
      let type = graph.type[i]
      guard type == .return || type == .jumpDynamic, !graph.retpolineSafe.contains(i) else { continue }
      let next = nextInList(graph, i)
      if next.map({ graph.type[$0] }) == .trap { continue }
      let what = type == .return ? "ret" : "indirect jump"
      out.append(Diagnostic(place: graph.place(i), message: "missing int3 after \(what)"))
    }
    return out
  }

  /// `next_insn_same_sec()`: the instruction after `i` in objtool's list, in the same
  /// section. A replacement stream's fake NOP is listed right after the stream's last
  /// instruction (`handle_group_alt()`'s `list_add()`).
  static func nextInList(_ graph: ControlFlowGraph, _ i: Int) -> Int? {
    let t = graph.table
    if graph.hasOverride[i], let o = graph.alternatives.nextOverride[i], o >= t.decodedCount,
      t.section[o] == t.section[i]
    {
      return o
    }
    return t.next(i)
  }
}
