/// The objtool actions that change how the program is read or validated (the part
/// of `struct opts`, tools/objtool/include/objtool/builtin.h, that the passes and the
/// validator look at). The command line's `CheckOptions` carries the rest.
public struct CheckActions: Sendable, Hashable {
  /// `--uaccess` (`opts.uaccess`): STAC/CLAC are followed through validation, the
  /// functions of the generation's `uaccess_safe_builtin` list may be called with
  /// UACCESS enabled, and the `X86_FEATURE_SMAP` alternatives are followed instead of
  /// the original (`arch_handle_alternative()`: `skip_orig`).
  public var uaccess = false
  /// `--hacks=noinstr` (`opts.hack_noinstr`): calls from noinstr code (`.noinstr.text`,
  /// `.entry.text`, `.text..__x86.*`) to instrumentation (`__sanitizer_cov_*`,
  /// `__tsan_func_*`, `__tsan_atomic_signal_fence`) are turned into NOPs (a tail call into
  /// `ret; int3`), their relocations into `R_X86_64_NONE` (`annotate_call_site()`).
  public var hackNoinstr = false

  public init(uaccess: Bool = false, hackNoinstr: Bool = false) {
    self.uaccess = uaccess
    self.hackNoinstr = hackNoinstr
  }
}
