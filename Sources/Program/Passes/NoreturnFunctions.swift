import Kernel
import X86

/// `dead_end_function()`: the functions a call never returns from — objtool's
/// list of global noreturn functions, and functions of this file that have no
/// return instruction and whose first sibling call (if any) goes to one.
public struct NoreturnFunctions: Sendable {
  /// objtool 6.1's `global_noreturns` (tools/objtool/check.c).
  public static let globalNoreturns: Set<String> = [
    "__invalid_creds", "__module_put_and_kthread_exit", "__reiserfs_panic", "__stack_chk_fail",
    "__ubsan_handle_builtin_unreachable", "cpu_bringup_and_idle", "cpu_startup_entry", "do_exit", "do_group_exit",
    "do_task_dead", "ex_handler_msr_mce", "fortify_panic", "kthread_complete_and_exit", "kthread_exit",
    "kunit_try_catch_throw", "lbug_with_loc", "machine_real_restart", "make_task_dead", "panic",
    "rewind_stack_and_make_dead", "sev_es_terminate", "snp_abort", "stop_this_cpu", "usercopy_abort",
    "xen_start_kernel",
  ]

  /// Per function: whether a call to it never returns (decided for the functions that
  /// calls and sibling calls go to, `destinations`; false for the others, which nothing asks about).
  public let functions: [Bool]

  /// Decides every function of `program` on the finished control flow.
  public init(
    program: Program, table: InstructionTable, type: [InsnType], jumpDest: [Int32],
    siblingCall: (Int) -> Bool, coldChild: [Int: Int], destinations: [CallDest?]
  ) {
    let fns = program.functions
    func deadEnd(_ id: Int, recursion: Int) -> Bool {
      let f = fns.functions[id]
      if f.binding == .weak { return false }
      if f.binding == .global && Self.globalNoreturns.contains(f.name) { return true }
      let insns = table.instructions(ofFunction: id, in: fns, coldChild: coldChild)
      if insns.isEmpty { return false }
      if insns.contains(where: { type[$0] == .return }) { return false }
      for i in insns where siblingCall(i) {
        // The first sibling call decides, as objtool's loop does.
        if jumpDest[i] < 0 { return false }
        if recursion == 5 { return false }
        let d = Int(table.function[Int(jumpDest[i])])
        return d >= 0 && deadEnd(d, recursion: recursion + 1)
      }
      return true
    }
    var decided = [Bool](repeating: false, count: fns.functions.count)
    var asked = [Bool](repeating: false, count: fns.functions.count)
    for case .function(let id)? in destinations where !asked[id] {
      asked[id] = true
      decided[id] = deadEnd(id, recursion: 0)
    }
    functions = decided
  }

  /// Whether a call to `dest` never returns.
  public func isNoreturn(_ dest: CallDest?) -> Bool {
    switch dest {
    case .none: return false
    case .external(let name): return Self.globalNoreturns.contains(name)
    case .function(let id): return functions[id]
    }
  }
}
