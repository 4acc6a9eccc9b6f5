import Kernel

/// The rules of objtool's check that differ between the generations, chosen
/// from the generation the policy decided (never by accident). Each names the
/// objtool behaviour it mirrors.
public struct CheckRules: Sendable, Hashable {
  /// The extra paths of an instruction (`insn->alts`: replacement streams, static keys,
  /// exception fixups, jump-table targets) are validated last added first: objtool 6.2
  /// and later prepend to the list (`alt->next = orig_insn->alts`), 6.1 appends
  /// (`list_add_tail()`).
  public var alternativesLastAddedFirst: Bool
  /// "stack layout conflict in alternatives" is reported at the site's first
  /// original instruction and names where the streams disagree (objtool 6.3 and later:
  /// `WARN_INSN(orig, "...: %s", offstr(insn))`); 6.1 reports it at the instruction itself.
  public var conflictReportedAtSite: Bool
  /// A `__pfx_` prefix symbol (the padding before a function, objtool 6.2 and later:
  /// "Ignore KCFI type preambles, which always fall through") falls through into its
  /// function without a warning, as `__cfi_` preambles do in every generation.
  public var prefixSymbolsFallThrough: Bool
  /// `validate_reachable_instructions()` reports every unreachable instruction, and one
  /// after a call to a dead-end function as "X() is missing a __noreturn annotation"
  /// (objtool 6.4 and later); 6.1 reports the first unreachable instruction only.
  public var reportsEveryUnreachable: Bool
  /// A warning about an instruction is given once per function: objtool 6.3 and later's
  /// `WARN_INSN()` skips a symbol already `warned` (a fall-through warning marks it too).
  public var warnsOncePerFunction: Bool
  /// Consecutive `.altinstructions` entries for one site (a nested `ALTERNATIVE()`) all
  /// take the longest original length among them (objtool 6.10 and later's
  /// `arch_handle_alternative()`: "Recompute orig_len for nested ALTERNATIVE()s").
  public var nestedAlternativesShareLength: Bool
  /// "stack layout conflict in alternatives" ends the function's validation (objtool 6.3 and
  /// later, which flatten every entry of a site into one CFI array and see every conflict).
  /// objtool 6.1 keeps one array per `.altinstructions` entry and never sees a conflict
  /// between two entries of one site (none in the whole Debian 6.1 build): the conflict is
  /// reported but the path goes on, so the rest of the function keeps objtool 6.1's ORC
  /// (KVM's `__vmx_vcpu_run` loses it otherwise).
  public var alternativeConflictStops: Bool

  /// The rules of `generation`.
  public static func of(_ generation: KernelGeneration) -> CheckRules {
    switch generation {
    case .v6_1:
      return CheckRules(
        alternativesLastAddedFirst: false, conflictReportedAtSite: false, prefixSymbolsFallThrough: false,
        reportsEveryUnreachable: false, warnsOncePerFunction: false, nestedAlternativesShareLength: false,
        alternativeConflictStops: false)
    case .v6_12:
      return CheckRules(
        alternativesLastAddedFirst: true, conflictReportedAtSite: true, prefixSymbolsFallThrough: true,
        reportsEveryUnreachable: true, warnsOncePerFunction: true, nestedAlternativesShareLength: true,
        alternativeConflictStops: true)
    }
  }
}
