import Program
import X86

/// Why a stack operation could not be applied (objtool's words).
public struct CFIError: Error, Sendable {
  public var message: String
}

extension CFIState {
  mutating func saveReg(_ reg: UInt8, _ base: Int8, _ offset: Int32) {
    if Self.isCalleeSaved(reg) && regs[Int(reg)].base == CFIBase.undefined {
      regs[Int(reg)] = CFIReg(base, offset)
    }
  }

  mutating func restoreReg(_ reg: UInt8) {
    regs[Int(reg)] = CFIState.initialFunction.regs[Int(reg)]
  }

  /// `update_cfi_state_regs()`: in a REGS / REGS_PARTIAL frame only the CFA offset moves.
  mutating func applyToRegisterFrame(_ op: StackOp) {
    guard cfa.base == CFIBase.sp || cfa.base == CFIBase.spIndirect else { return }
    // Offsets wrap as objtool's `int` arithmetic does (`sub $0x7fffffff, %rsp` twice).
    if op.destType == .push || op.destType == .pushf { cfa.offset &+= 8 }
    if op.srcType == .pop || op.srcType == .popf { cfa.offset &-= 8 }
    if op.destType == .reg && op.srcType == .add && op.destReg == 4 && op.srcReg == 4 {
      cfa.offset &-= Int32(truncatingIfNeeded: op.srcOffset)
    }
  }

  /// Applies one stack operation (`update_cfi_state()` in tools/objtool/check.c, for
  /// ordinary CALL-type states). `inFunction`: the instruction belongs to a function;
  /// `nextIsHint`: the next instruction carries an unwind hint.
  ///
  /// The offsets are objtool's `int`s and wrap as they do: an immediate of the
  /// input (`sub $0x7fffffff, %rsp`) may take them past 32 bits, and objtool's
  /// ORC entry then holds the low 16 bits of the wrapped value.
  mutating func apply(_ op: StackOp, inFunction: Bool, nextIsHint: Bool = false, stackValidation: Bool = false)
    throws(CFIError)
  {
    let sp = Int8(CFIBase.sp)
    let bp = Int8(CFIBase.bp)
    if cfa.base == CFIBase.undefined {
      if inFunction { throw CFIError(message: "undefined stack state") }
      return
    }
    let srcReg = Int8(op.srcReg)
    let destReg = Int8(op.destReg)
    let srcOff = Int32(truncatingIfNeeded: op.srcOffset)
    let destOff = Int32(truncatingIfNeeded: op.destOffset)
    switch op.destType {
    case .reg:
      switch op.srcType {
      case .reg:
        if srcReg == sp && destReg == bp && cfa.base == sp && regs[5].base == CFIBase.cfa
          && regs[5].offset == 0 &- cfa.offset
        {
          // mov %rsp, %rbp
          cfa.base = destReg
          bpScratch = false
        } else if srcReg == sp && destReg == bp && drap {
          // drap: mov %rsp, %rbp
          regs[5] = CFIReg(bp, 0 &- stackSize)
          bpScratch = false
        } else if srcReg == sp && cfa.base == sp {
          // mov %rsp, %reg: remember the value
          vals[Int(op.destReg)] = CFIReg(CFIBase.cfa, 0 &- stackSize)
        } else if srcReg == bp && destReg == sp && (cfa.base == bp || cfa.base == drapReg) {
          // mov %rbp, %rsp
          stackSize = 0 &- regs[5].offset
        } else if destReg == cfa.base {
          // mov %reg, %rsp
          if cfa.base == sp && vals[Int(op.srcReg)].base == CFIBase.cfa {
            cfa.offset = 0 &- vals[Int(op.srcReg)].offset
            stackSize = cfa.offset
          } else if cfa.base == sp && vals[Int(op.srcReg)].base == CFIBase.spIndirect
            && vals[Int(op.srcReg)].offset == cfa.offset
          {
            cfa.base = CFIBase.spIndirect
          } else {
            cfa = CFIReg(CFIBase.undefined, 0)
          }
        } else if destReg == sp && vals[Int(op.srcReg)].base == CFIBase.spIndirect
          && vals[Int(op.srcReg)].offset == cfa.offset
        {
          stackSize &+= 8
        }
      case .add:
        if destReg == sp && srcReg == sp {
          // add imm, %rsp
          stackSize &-= srcOff
          if cfa.base == sp { cfa.offset &-= srcOff }
          break
        }
        if destReg == sp && srcReg == bp {
          // lea disp(%rbp), %rsp
          stackSize = 0 &- (srcOff &+ regs[5].offset)
          break
        }
        if srcReg == sp && cfa.base == sp {
          // drap: lea disp(%rsp), %drap
          drapReg = destReg
          vals[Int(op.destReg)] = CFIReg(CFIBase.cfa, (0 &- stackSize) &+ srcOff)
          break
        }
        if drap && destReg == sp && srcReg == drapReg {
          // drap: lea disp(%drap), %rsp
          cfa = CFIReg(sp, 0 &- srcOff)
          stackSize = 0 &- srcOff
          drapReg = CFIBase.undefined
          drap = false
          break
        }
        if destReg == cfa.base && !nextIsHint {
          throw CFIError(message: "unsupported stack register modification")
        }
      case .and:
        if destReg != sp || (drapReg != CFIBase.undefined && cfa.base != sp)
          || (drapReg == CFIBase.undefined && cfa.base != bp)
        {
          throw CFIError(message: "unsupported stack pointer realignment")
        }
        if drapReg != CFIBase.undefined {
          cfa = CFIReg(drapReg, 0)
          stackSize = 0
          drap = true
        }
      case .pop, .popf:
        if destReg == sp && cfa.base == CFIBase.spIndirect {
          cfa.base = sp
          break
        }
        if !drap && destReg == cfa.base { cfa.base = sp }
        if drap && cfa.base == CFIBase.bpIndirect && destReg == drapReg && drapOffset == 0 &- stackSize {
          cfa = CFIReg(drapReg, 0)
          drapOffset = -1
        } else if Int(op.destReg) < regs.count && stackSize == 0 &- regs[Int(op.destReg)].offset {
          restoreReg(op.destReg)
        }
        stackSize &-= 8
        if cfa.base == sp { cfa.offset &-= 8 }
      case .regIndirect:
        if !drap && destReg == cfa.base && destReg == bp {
          cfa = CFIReg(sp, stackSize)
        }
        if drap && srcReg == bp && srcOff == drapOffset {
          cfa = CFIReg(drapReg, 0)
          drapOffset = -1
        }
        let r = Int(op.destReg)
        if drap && srcReg == bp && srcOff == regs[r].offset {
          restoreReg(op.destReg)
        } else if srcReg == cfa.base && srcOff == regs[r].offset &+ cfa.offset {
          restoreReg(op.destReg)
        } else if srcReg == sp && srcOff == regs[r].offset &+ stackSize {
          restoreReg(op.destReg)
        }
      default:
        throw CFIError(message: "unknown stack-related instruction")
      }
    case .push, .pushf:
      stackSize &+= 8
      if cfa.base == sp { cfa.offset &+= 8 }
      guard op.srcType == .reg else { break }
      if drap {
        if srcReg == cfa.base && srcReg == drapReg {
          cfa = CFIReg(CFIBase.bpIndirect, 0 &- stackSize)
          drapOffset = 0 &- stackSize
        } else if srcReg == bp && cfa.base == drapReg {
          stackSize = 0
        } else {
          saveReg(op.srcReg, bp, 0 &- stackSize)
        }
      } else {
        saveReg(op.srcReg, CFIBase.cfa, 0 &- stackSize)
      }
      // Detect when BP is used as a scratch register (--stackval only).
      if stackValidation && inFunction && srcReg == bp && cfa.base != bp { bpScratch = true }
    case .regIndirect:
      if drap {
        if srcReg == cfa.base && srcReg == drapReg {
          cfa = CFIReg(CFIBase.bpIndirect, destOff)
          drapOffset = destOff
        } else {
          saveReg(op.srcReg, bp, destOff)
        }
      } else if destReg == cfa.base {
        saveReg(op.srcReg, CFIBase.cfa, destOff &- cfa.offset)
      } else if destReg == sp {
        saveReg(op.srcReg, CFIBase.cfa, destOff &- stackSize)
      } else if srcReg == sp && destOff == 0 {
        vals[Int(op.destReg)] = CFIReg(CFIBase.spIndirect, cfa.offset)
      }
    case .mem:
      guard op.srcType == .pop || op.srcType == .popf else {
        throw CFIError(message: "unknown stack-related memory operation")
      }
      stackSize &-= 8
      if cfa.base == sp { cfa.offset &-= 8 }
    }
  }
}
