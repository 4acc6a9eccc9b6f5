import Program
import X86

/// `validate_retpoline()` (objtool's `--retpoline`, and `--rethunk` for returns): in a
/// build whose indirect branches go through thunks, an indirect call or jump left in
/// the code is "indirect call/jump found in RETPOLINE build", and (with `--rethunk`)
/// a return that is not a jump to `__x86_return_thunk` is "'naked' return found in
/// RETHUNK build". Instructions marked `retpoline_safe` (the thunks' own calls and
/// jumps, `ANNOTATE_RETPOLINE_SAFE`, `ANNOTATE_UNRET_SAFE`) are left alone, and so is
/// `.init.text` outside modules (it runs before user space).
public enum RetpolineValidation {
  /// The warnings, in instruction order (objtool runs this before validating the functions).
  public static func diagnostics(_ graph: ControlFlowGraph, rethunk: Bool, module: Bool) -> [Diagnostic] {
    let t = graph.table
    let sections = graph.program.file.sections
    var out: [Diagnostic] = []
    for i in 0..<t.decodedCount {
      let type = graph.type[i]
      guard type == .jumpDynamic || type == .callDynamic || type == .return, !graph.retpolineSafe.contains(i)
      else { continue }
      if !module && sections[Int(t.section[i])].name == ".init.text" { continue }
      if type == .return {
        guard rethunk else { continue }
        out.append(Diagnostic(place: graph.place(i), message: "'naked' return found in RETHUNK build"))
      } else {
        let kind = type == .jumpDynamic ? "jump" : "call"
        out.append(Diagnostic(place: graph.place(i), message: "indirect \(kind) found in RETPOLINE build"))
      }
    }
    return out
  }
}
