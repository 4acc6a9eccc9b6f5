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

  /// objtool 6.12's list (tools/objtool/noreturns.h).
  public static let globalNoreturns612: Set<String> = [
    "__fortify_panic", "__ia32_sys_exit", "__ia32_sys_exit_group", "__kunit_abort", "__module_put_and_kthread_exit",
    "__reiserfs_panic", "__stack_chk_fail", "__tdx_hypercall_failed", "__ubsan_handle_builtin_unreachable",
    "__x64_sys_exit", "__x64_sys_exit_group", "arch_cpu_idle_dead", "bch2_trans_in_restart_error",
    "bch2_trans_restart_error", "bch2_trans_unlocked_error", "cpu_bringup_and_idle", "cpu_startup_entry", "do_exit",
    "do_group_exit", "do_task_dead", "ex_handler_msr_mce", "hlt_play_dead", "hv_ghcb_terminate",
    "kthread_complete_and_exit", "kthread_exit", "kunit_try_catch_throw", "machine_real_restart", "make_task_dead",
    "mpt_halt_firmware", "nmi_panic_self_stop", "panic", "panic_smp_self_stop", "rest_init",
    "rewind_stack_and_make_dead", "rust_begin_unwind", "rust_helper_BUG", "sev_es_terminate", "snp_abort",
    "start_kernel", "stop_this_cpu", "usercopy_abort", "x86_64_start_kernel", "x86_64_start_reservations",
    "xen_cpu_bringup_again", "xen_start_kernel",
  ]

  /// Whether `name`, a global (or in 6.12 also weak) symbol, is on the generation's list;
  /// 6.12 adds its heuristics for Rust's panic functions (`is_rust_noreturn()`).
  public static func isGlobalNoreturn(_ name: String, generation: KernelGeneration) -> Bool {
    switch generation {
    case .v6_1: return globalNoreturns.contains(name)
    case .v6_12: return globalNoreturns612.contains(name) || isRustNoreturn(name)
    }
  }

  /// objtool 6.12's `is_rust_noreturn()`.
  static func isRustNoreturn(_ name: String) -> Bool {
    guard name.hasPrefix("_R") else { return false }
    let suffixes = [
      "_4core3num22from_ascii_radix_panic", "_4core5sliceSp15copy_from_slice17len_mismatch_fail",
      "_4core6option13expect_failed", "_4core6option13unwrap_failed", "_4core6result13unwrap_failed",
      "_4core6result13unwrap_failed19unwrap_failed_inner", "_4core9panicking5panic", "_4core9panicking9panic_fmt",
      "_4core9panicking14panic_explicit", "_4core9panicking14panic_nounwind", "_4core9panicking18panic_bounds_check",
      "_4core9panicking18panic_nounwind_fmt", "_4core9panicking19assert_failed_inner",
      "_4core9panicking30panic_null_pointer_dereference", "_4core9panicking32panic_null_reference_constructed",
      "_4core9panicking36panic_misaligned_pointer_dereference", "_7___rustc17rust_begin_unwind",
    ]
    if suffixes.contains(where: { name.hasSuffix($0) }) { return true }
    if name.contains("_4core9panicking13assert_failed") || name.contains("_4core9panicking11panic_const24panic_const_")
    {
      return true
    }
    return name.contains("_4core5slice5index") && name.contains("slice_") && name.hasSuffix("_fail")
  }

  /// Per function: whether a call to it never returns (decided for the functions that
  /// calls and sibling calls go to, `destinations`; false for the others, which nothing asks about).
  public let functions: [Bool]
  /// The generation whose list and rules decide.
  public let generation: KernelGeneration

  /// Decides every function of `program` on the finished control flow.
  public init(
    program: Program, table: InstructionTable, type: [InsnType], jumpDest: [Int32],
    siblingCall: (Int) -> Bool, coldChild: [Int: Int], destinations: [CallDest?], generation: KernelGeneration
  ) {
    self.generation = generation
    let fns = program.functions
    func deadEnd(_ id: Int, recursion: Int) -> Bool {
      let f = fns.functions[id]
      // 6.1 checks the list for global symbols only; 6.12 for global and weak ones.
      let listed =
        generation == .v6_1 ? f.binding == .global : f.binding == .global || f.binding == .weak
      if listed && Self.isGlobalNoreturn(f.name, generation: generation) { return true }
      if f.binding == .weak { return false }
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
    case .external(let name): return Self.isGlobalNoreturn(name, generation: generation)
    case .function(let id): return functions[id]
    }
  }
}
