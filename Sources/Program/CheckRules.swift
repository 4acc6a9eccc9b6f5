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

  /// The rules of `generation`.
  public static func of(_ generation: KernelGeneration) -> CheckRules {
    switch generation {
    case .v6_1: return CheckRules(alternativesLastAddedFirst: false, conflictReportedAtSite: false)
    case .v6_12: return CheckRules(alternativesLastAddedFirst: true, conflictReportedAtSite: true)
    }
  }
}
