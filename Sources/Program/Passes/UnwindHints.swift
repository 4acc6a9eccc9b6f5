import ELF
import Kernel

/// `read_unwind_hints()`: `.discard.unwind_hints` (`UNWIND_HINT_*` in the
/// kernel's assembly) gives the CFI an instruction starts with, whatever path
/// reaches it; `UNWIND_HINT_SAVE` / `RESTORE` bracket code whose state is restored.
public struct UnwindHints: Sendable {
  /// Per hinted instruction: the CFI it starts with (`insn->cfi`).
  public let states: [Int: CFIState]
  /// Instructions that carry a hint (`insn->hint`; a SAVE hint does not).
  public let hinted: Set<Int>
  /// `UNWIND_HINT_SAVE` and `UNWIND_HINT_RESTORE` instructions.
  public let saves: Set<Int>
  public let restores: Set<Int>
  /// Whether the object has the section at all (`file->hints`).
  public let present: Bool

  public init(program: Program, table: InstructionTable) throws(ELFError) {
    let file = program.file
    var states: [Int: CFIState] = [:]
    var hinted = Set<Int>()
    var saves = Set<Int>()
    var restores = Set<Int>()
    guard let sec = file.section(named: ".discard.unwind_hints") else {
      (self.states, self.hinted, self.saves, self.restores, present) = ([:], [], [], [], false)
      return
    }
    // 6.1 `struct unwind_hint` (include/linux/objtool.h): u32 ip; s16 sp_offset; u8 sp_reg; u8 type; u8 end; 12 bytes.
    let entrySize = 12
    guard sec.size % UInt64(entrySize) == 0 else {
      throw program.stop("struct unwind_hint size mismatch", at: sec.headerOffset)
    }
    present = true
    let view = file.contents(of: sec)
    var byOffset: [UInt64: (Symbol, Int64)] = [:]
    for (sym, addend, o) in try program.annotationPlaces(".discard.unwind_hints") { byOffset[o] = (sym, addend) }
    var cfi = CFIState.initialHint
    // The hints the file holds (a NOBITS section has a size and no bytes).
    for k in 0..<(view.count / entrySize) {
      let at = sec.offset + UInt64(k * entrySize)
      guard let (sym, addend) = byOffset[UInt64(k * entrySize)] else {
        throw program.stop("can't find reloc for unwind_hints[\(k)]", at: at)
      }
      let place = UInt64(bitPattern: Int64(bitPattern: sym.type == .section ? 0 : sym.value) &+ addend)
      guard let i = table.instruction(in: sym.sectionIndex, at: place) else {
        throw program.stop("can't find insn for unwind_hints[\(k)]", at: at)
      }
      let spOffset = view.load(Int16.self, at: k * entrySize + 4)
      let spReg = view.load(UInt8.self, at: k * entrySize + 6)
      var hintType = view.load(UInt8.self, at: k * entrySize + 7)
      let end = view.load(UInt8.self, at: k * entrySize + 8)
      hinted.insert(i)
      switch hintType {
      case 5:  // UNWIND_HINT_TYPE_SAVE
        hinted.remove(i)
        saves.insert(i)
        continue
      case 6:  // UNWIND_HINT_TYPE_RESTORE
        restores.insert(i)
        continue
      case 4:  // UNWIND_HINT_TYPE_ENTRY: a CALL hint at an entry point
        hintType = 0
      case 3:  // UNWIND_HINT_TYPE_FUNC
        states[i] = CFIState.initialFunction
        continue
      default: break
      }
      if let existing = states[i] { cfi = existing }
      // arch_decode_hint_reg(): ORC_REG_* to CFI base.
      switch spReg {
      case 0: cfi.cfa.base = CFIBase.undefined
      case 5: cfi.cfa.base = CFIBase.sp
      case 4: cfi.cfa.base = CFIBase.bp
      case 9: cfi.cfa.base = CFIBase.spIndirect
      case 6: cfi.cfa.base = CFIBase.r10
      case 7: cfi.cfa.base = CFIBase.r13
      case 3: cfi.cfa.base = CFIBase.di
      case 2: cfi.cfa.base = CFIBase.dx
      default:
        throw program.stop("unsupported unwind_hint sp base reg \(spReg)", section: Int(table.section[i]),
                           offset: UInt64(table.offset[i]))
      }
      cfi.cfa.offset = Int32(spOffset)
      cfi.type = hintType
      cfi.end = end != 0
      states[i] = cfi
    }
    (self.states, self.hinted, self.saves, self.restores) = (states, hinted, saves, restores)
  }
}
