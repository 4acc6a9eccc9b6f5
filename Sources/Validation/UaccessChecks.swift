import Program
import X86

/// The part of objtool's `struct insn_state` beside the CFI that validation carries
/// along a path: whether user access is open (`uaccess`: STAC to CLAC, with
/// `--uaccess`), the UACCESS bits a PUSHF in an alternative saved (`uaccess_stack`),
/// and the direction flag (`df`: STD to CLD, always).
struct InsnFlags: Hashable {
  var uaccess = false
  /// A stack of bits with a 1 on top as its floor: 0 is empty (`uaccess_stack`).
  var uaccessStack: UInt32 = 0
  var df = false
  /// `--noinstr` in a noinstr section (`state.noinstr`), and the sum of the
  /// `instrumentation_begin()`/`_end()` marks met so far (`s8 state.instr`).
  var noinstr = false
  var instr: Int8 = 0
}

/// objtool's UACCESS (SMAP) and direction-flag rules (`validate_call()`,
/// `validate_return()`, the `INSN_STAC`/`INSN_CLAC`/`INSN_STD`/`INSN_CLD` cases of
/// `validate_branch()`, the PUSHF/POPF part of `handle_insn_ops()`), each raising
/// objtool's warning at the instruction where it fails.
extension Validator {
  /// `func_uaccess_safe()` of function `fn` (-1: none).
  func isUaccessSafe(_ fn: Int) -> Bool {
    fn >= 0 && graph.uaccessSafe.symbols.contains(graph.program.functions.functions[fn].symbolIndex)
  }

  /// `validate_call()`: no call from noinstr code to instrumented code (``validateNoinstrCall(_:_:)``),
  /// none with UACCESS enabled unless to a uaccess-safe function, none with DF set; false
  /// after the warning.
  func validateCall(_ i: Int, _ flags: InsnFlags) -> Bool {
    if !validateNoinstrCall(i, flags) { return false }
    if flags.uaccess && !graph.uaccessSafe.contains(graph.callDest[i], in: graph.program) {
      warn(i, "call to \(callDestName(i))() with UACCESS enabled")
      return false
    }
    if flags.df {
      warn(i, "call to \(callDestName(i))() with DF set")
      return false
    }
    return true
  }

  /// The flags part of `validate_return()`: noinstr code returns outside an
  /// instrumentation stretch, a function returns with UACCESS as it was entered
  /// (disabled, or enabled for a uaccess-safe one) and DF clear.
  func validateReturnFlags(_ i: Int, function fn: Int, _ flags: InsnFlags) -> Bool {
    if flags.noinstr && flags.instr > 0 {
      warn(i, "return with instrumentation enabled")
      return false
    }
    let safe = isUaccessSafe(fn)
    if flags.uaccess && !safe {
      warn(i, "return with UACCESS enabled")
      return false
    }
    if !flags.uaccess && safe {
      warn(i, "return with UACCESS disabled from a UACCESS-safe function")
      return false
    }
    if flags.df {
      warn(i, "return with DF set")
      return false
    }
    return true
  }

  /// STAC and CLAC (with `--uaccess`), STD and CLD: the flag they set or clear, and
  /// objtool's warnings for setting it twice or clearing it when clear (in a function).
  func updateFlags(_ i: Int, function fn: Int, _ flags: inout InsnFlags) -> Bool {
    switch graph.type[i] {
    case .stac:
      guard graph.options.uaccess else { return true }
      if flags.uaccess {
        warnInPathSection(i, "recursive UACCESS enable")
        return false
      }
      flags.uaccess = true
    case .clac:
      guard graph.options.uaccess else { return true }
      if !flags.uaccess && fn >= 0 {
        warnInPathSection(i, "redundant UACCESS disable")
        return false
      }
      if isUaccessSafe(fn) && flags.uaccessStack == 0 {
        warnInPathSection(i, "UACCESS-safe disables UACCESS")
        return false
      }
      flags.uaccess = false
    case .std:
      if flags.df {
        warnInPathSection(i, "recursive STD")
        return false
      }
      flags.df = true
    case .cld:
      if !flags.df && fn >= 0 {
        warnInPathSection(i, "redundant CLD")
        return false
      }
      flags.df = false
    default:
      break
    }
    return true
  }

  /// A PUSHF in an alternative (`smap_save()`) pushes the UACCESS bit, a POPF
  /// (`smap_restore()`) pops it back; false after "PUSHF stack exhausted" (32 deep).
  func applyUaccessStack(_ op: StackOp, at i: Int, _ flags: inout InsnFlags) -> Bool {
    if op.destType == .pushf {
      if flags.uaccessStack == 0 {
        flags.uaccessStack = 1
      } else if flags.uaccessStack >> 31 != 0 {
        warn(i, "PUSHF stack exhausted")
        return false
      }
      flags.uaccessStack = flags.uaccessStack << 1 | (flags.uaccess ? 1 : 0)
    }
    if op.srcType == .popf, flags.uaccessStack != 0 {
      flags.uaccess = flags.uaccessStack & 1 != 0
      flags.uaccessStack >>= 1
      if flags.uaccessStack == 1 { flags.uaccessStack = 0 }
    }
    return true
  }

  /// `call_dest_name()`: the destination's name; for an indirect call through `pv_ops`
  /// whose relocation objtool had looked up before (an instruction of a replacement
  /// stream, `handle_group_alt()`, or one `pv_call_dest()` checked), `pv_ops[N]`; else `{dynamic}`.
  func callDestName(_ i: Int) -> String {
    let g = graph
    switch g.callDest[i] {
    case .function(let f): return g.program.functions.functions[f].name
    case .external(let name): return name
    case .none: break
    }
    guard i < g.table.decodedCount else { return "{dynamic}" }
    let group = Int(g.alternatives.group[i])
    guard (group >= 0 && g.alternatives.groups[group].original != nil) || relocationLookedUp.contains(i) else {
      return "{dynamic}"
    }
    let start = UInt64(g.table.offset[i])
    let section = Int(g.table.section[i])
    guard let r = g.program.relocations.first(in: section, start..<start + UInt64(g.table.length[i])),
      let sym = try? g.program.symbols.symbol(at: Int(r.symbolIndex)), sym.type != .section,
      (try? g.program.symbols.name(of: sym)) == "pv_ops"
    else { return "{dynamic}" }
    // `rel->addend / sizeof(void *)`: an unsigned division, truncated to an int, in an
    // 18-character buffer (`pvname[19]`).
    let index = Int32(truncatingIfNeeded: UInt64(bitPattern: r.addend) / 8)
    return String("pv_ops[\(index)]".prefix(18))
  }
}
