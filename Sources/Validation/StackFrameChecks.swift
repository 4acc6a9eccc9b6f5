import Program
import X86

/// The checks validation makes of a CFI state, each raising objtool's warning
/// at the instruction where it fails.
extension Validator {
  /// `has_valid_stack_frame()`: BP is the frame pointer and the caller's BP is saved below the return address.
  func hasValidStackFrame(_ s: CFIState) -> Bool {
    if s.cfa.base == CFIBase.bp && s.regs[5].base == CFIBase.cfa && s.regs[5].offset == -16 { return true }
    return s.drap && s.regs[5].base == CFIBase.bp
  }

  /// `is_special_call()`: a call to `__fentry__` needs no frame.
  func isFentryCall(_ i: Int) -> Bool {
    guard graph.type[i] == .call else { return false }
    switch graph.callDest[i] {
    case .external(let name): return name == "__fentry__"
    case .function(let id): return graph.program.functions.functions[id].name == "__fentry__"
    case .none: return false
    }
  }

  /// `has_modified_stack_frame()`.
  func hasModifiedStackFrame(_ s: CFIState) -> Bool {
    let initial = CFIState.initialFunction
    return s.cfa != initial.cfa || s.drap || s.stackSize != initial.cfa.offset || s.regs != initial.regs
  }

  /// `insn_cfi_match()`: the state a second path brings must be the first one's
  /// ("stack state mismatch").
  func cfiMatch(_ i: Int, _ s2: CFIState) -> Bool {
    guard cfi[i] >= 0 else {
      warn("CFI missing")
      return false
    }
    let s1 = states[Int(cfi[i])]
    if s1.cfa != s2.cfa {
      warn(
        i,
        "stack state mismatch: cfa1=\(s1.cfa.base)\(signed(s1.cfa.offset)) cfa2=\(s2.cfa.base)\(signed(s2.cfa.offset))")
    } else if s1.regs != s2.regs {
      for r in 0..<s1.regs.count where s1.regs[r] != s2.regs[r] {
        warn(
          i,
          "stack state mismatch: reg1[\(r)]=\(s1.regs[r].base)\(signed(s1.regs[r].offset)) reg2[\(r)]=\(s2.regs[r].base)\(signed(s2.regs[r].offset))"
        )
        break
      }
    } else if s1.type != s2.type {
      warn(i, "stack state mismatch: type1=\(s1.type) type2=\(s2.type)")
    } else if s1.drap != s2.drap || (s1.drap && s1.drapReg != s2.drapReg) || (s1.drap && s1.drapOffset != s2.drapOffset)
    {
      warn(
        i,
        "stack state mismatch: drap1=\(s1.drap ? 1 : 0)(\(s1.drapReg),\(s1.drapOffset)) drap2=\(s2.drap ? 1 : 0)(\(s2.drapReg),\(s2.drapOffset))"
      )
    } else {
      return true
    }
    return false
  }

  func signed(_ v: Int32) -> String { v < 0 ? "\(v)" : "+\(v)" }
}
