import ELF
import Kernel

/// `add_uaccess_safe()` (with `--uaccess`): the symbols that may be called with
/// UACCESS enabled — for each name on the generation's `uaccess_safe_builtin` list,
/// the symbol `find_symbol_by_name()` finds (objtool's symbol name hash puts the last
/// symbol of a name first). They "must not directly change AC, but may PUSHF/POPF".
public struct UaccessSafeFunctions: Sendable {
  /// objtool 6.1's `uaccess_safe_builtin` (tools/objtool/check.c).
  public static let builtin61: Set<String> = [
    // KASAN
    "kasan_report", "kasan_check_range",
    // KASAN out-of-line
    "__asan_loadN_noabort", "__asan_load1_noabort", "__asan_load2_noabort", "__asan_load4_noabort",
    "__asan_load8_noabort", "__asan_load16_noabort", "__asan_storeN_noabort", "__asan_store1_noabort",
    "__asan_store2_noabort", "__asan_store4_noabort", "__asan_store8_noabort", "__asan_store16_noabort",
    "__kasan_check_read", "__kasan_check_write",
    // KASAN in-line
    "__asan_report_load_n_noabort", "__asan_report_load1_noabort", "__asan_report_load2_noabort",
    "__asan_report_load4_noabort", "__asan_report_load8_noabort", "__asan_report_load16_noabort",
    "__asan_report_store_n_noabort", "__asan_report_store1_noabort", "__asan_report_store2_noabort",
    "__asan_report_store4_noabort", "__asan_report_store8_noabort", "__asan_report_store16_noabort",
    // KCSAN
    "__kcsan_check_access", "__kcsan_mb", "__kcsan_wmb", "__kcsan_rmb", "__kcsan_release", "kcsan_found_watchpoint",
    "kcsan_setup_watchpoint", "kcsan_check_scoped_accesses", "kcsan_disable_current", "kcsan_enable_current_nowarn",
    // KCSAN/TSAN
    "__tsan_func_entry", "__tsan_func_exit", "__tsan_read_range", "__tsan_write_range", "__tsan_read1",
    "__tsan_read2", "__tsan_read4", "__tsan_read8", "__tsan_read16", "__tsan_write1", "__tsan_write2",
    "__tsan_write4", "__tsan_write8", "__tsan_write16", "__tsan_read_write1", "__tsan_read_write2",
    "__tsan_read_write4", "__tsan_read_write8", "__tsan_read_write16", "__tsan_volatile_read1",
    "__tsan_volatile_read2", "__tsan_volatile_read4", "__tsan_volatile_read8", "__tsan_volatile_read16",
    "__tsan_volatile_write1", "__tsan_volatile_write2", "__tsan_volatile_write4", "__tsan_volatile_write8",
    "__tsan_volatile_write16", "__tsan_atomic8_load", "__tsan_atomic16_load", "__tsan_atomic32_load",
    "__tsan_atomic64_load", "__tsan_atomic8_store", "__tsan_atomic16_store", "__tsan_atomic32_store",
    "__tsan_atomic64_store", "__tsan_atomic8_exchange", "__tsan_atomic16_exchange", "__tsan_atomic32_exchange",
    "__tsan_atomic64_exchange", "__tsan_atomic8_fetch_add", "__tsan_atomic16_fetch_add",
    "__tsan_atomic32_fetch_add", "__tsan_atomic64_fetch_add", "__tsan_atomic8_fetch_sub",
    "__tsan_atomic16_fetch_sub", "__tsan_atomic32_fetch_sub", "__tsan_atomic64_fetch_sub",
    "__tsan_atomic8_fetch_and", "__tsan_atomic16_fetch_and", "__tsan_atomic32_fetch_and",
    "__tsan_atomic64_fetch_and", "__tsan_atomic8_fetch_or", "__tsan_atomic16_fetch_or", "__tsan_atomic32_fetch_or",
    "__tsan_atomic64_fetch_or", "__tsan_atomic8_fetch_xor", "__tsan_atomic16_fetch_xor",
    "__tsan_atomic32_fetch_xor", "__tsan_atomic64_fetch_xor", "__tsan_atomic8_fetch_nand",
    "__tsan_atomic16_fetch_nand", "__tsan_atomic32_fetch_nand", "__tsan_atomic64_fetch_nand",
    "__tsan_atomic8_compare_exchange_strong", "__tsan_atomic16_compare_exchange_strong",
    "__tsan_atomic32_compare_exchange_strong", "__tsan_atomic64_compare_exchange_strong",
    "__tsan_atomic8_compare_exchange_weak", "__tsan_atomic16_compare_exchange_weak",
    "__tsan_atomic32_compare_exchange_weak", "__tsan_atomic64_compare_exchange_weak",
    "__tsan_atomic8_compare_exchange_val", "__tsan_atomic16_compare_exchange_val",
    "__tsan_atomic32_compare_exchange_val", "__tsan_atomic64_compare_exchange_val", "__tsan_atomic_thread_fence",
    "__tsan_atomic_signal_fence", "__tsan_unaligned_read16", "__tsan_unaligned_write16",
    // KCOV
    "write_comp_data", "check_kcov_mode", "__sanitizer_cov_trace_pc", "__sanitizer_cov_trace_const_cmp1",
    "__sanitizer_cov_trace_const_cmp2", "__sanitizer_cov_trace_const_cmp4", "__sanitizer_cov_trace_const_cmp8",
    "__sanitizer_cov_trace_cmp1", "__sanitizer_cov_trace_cmp2", "__sanitizer_cov_trace_cmp4",
    "__sanitizer_cov_trace_cmp8", "__sanitizer_cov_trace_switch",
    // KMSAN
    "kmsan_copy_to_user", "kmsan_report", "kmsan_unpoison_entry_regs", "kmsan_unpoison_memory",
    "__msan_chain_origin", "__msan_get_context_state", "__msan_instrument_asm_store",
    "__msan_metadata_ptr_for_load_1", "__msan_metadata_ptr_for_load_2", "__msan_metadata_ptr_for_load_4",
    "__msan_metadata_ptr_for_load_8", "__msan_metadata_ptr_for_load_n", "__msan_metadata_ptr_for_store_1",
    "__msan_metadata_ptr_for_store_2", "__msan_metadata_ptr_for_store_4", "__msan_metadata_ptr_for_store_8",
    "__msan_metadata_ptr_for_store_n", "__msan_poison_alloca", "__msan_warning",
    // UBSAN
    "ubsan_type_mismatch_common", "__ubsan_handle_type_mismatch", "__ubsan_handle_type_mismatch_v1",
    "__ubsan_handle_shift_out_of_bounds",
    // misc
    "csum_partial_copy_generic", "copy_mc_fragile", "copy_mc_fragile_handle_tail", "copy_mc_enhanced_fast_string",
    "ftrace_likely_update", "clear_user_erms", "clear_user_rep_good", "clear_user_original",
  ]

  /// objtool 6.12's list: 6.1's without `clear_user_*`, with KMSAN's enable/disable,
  /// `__ubsan_handle_load_invalid_value`, STACKLEAK, `__stack_chk_fail` and the
  /// `rep_*_alternative` and `copy_to_nontemporal` copy routines.
  public static let builtin612: Set<String> =
    builtin61
    .subtracting(["clear_user_erms", "clear_user_rep_good", "clear_user_original"])
    .union([
      "kmsan_disable_current", "kmsan_enable_current", "__ubsan_handle_load_invalid_value",
      "stackleak_track_stack", "__stack_chk_fail", "rep_stos_alternative", "rep_movs_alternative",
      "copy_to_nontemporal",
    ])

  /// The generation's list.
  public static func builtin(_ generation: KernelGeneration) -> Set<String> {
    switch generation {
    case .v6_1: return builtin61
    case .v6_12: return builtin612
    }
  }

  /// The symbol-table indices of the uaccess-safe symbols (empty without `--uaccess`).
  public let symbols: Set<Int>
  /// Their names.
  let names: Set<String>

  /// Marks the symbols of `program` named on `generation`'s list.
  public init(program: Program, generation: KernelGeneration, enabled: Bool) throws(ELFError) {
    guard enabled else {
      symbols = []
      names = []
      return
    }
    let names = Self.builtin(generation)
    var last: [String: Int] = [:]
    let table = program.symbols
    for k in 0..<table.count {
      let name = try table.name(of: try table.symbol(at: k))
      if names.contains(name) { last[name] = k }
    }
    symbols = Set(last.values)
    self.names = Set(last.keys)
  }

  /// `func_uaccess_safe()` of a call destination.
  public func contains(_ dest: CallDest?, in program: Program) -> Bool {
    switch dest {
    case .function(let f): return symbols.contains(program.functions.functions[f].symbolIndex)
    case .external(let name):
      // An undefined symbol (the only one of its name) or a label a relocation names.
      return names.contains(name)
    case .none: return false
    }
  }
}
