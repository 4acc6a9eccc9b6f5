import Kernel
import ORC
import Program
import Testing

@Suite("init_orc_entry(): CFI to ORC entry")
struct ORCEntryFromCFITests {
  @Test("a function's entry state: CFA at SP+8, BP undefined, a CALL frame in each generation's encoding")
  func functionEntry() {
    let e61 = ORCEntry(cfi: .initialFunction, layout: .of(.v6_1))
    #expect(e61 == ORCEntry(spOffset: 8, bpOffset: 0, spReg: .sp, bpReg: .undefined, rawType: 0, flag: false))
    let e612 = ORCEntry(cfi: .initialFunction, layout: .of(.v6_12))
    #expect(e612.rawType == ORCLayout.of(.v6_12).rawType(.call) && e612.spReg == .sp && e612.spOffset == 8)
  }

  @Test("a frame-pointer state: CFA at BP+16, the caller's BP at CFA-16")
  func framePointer() {
    var s = CFIState.initialFunction
    s.cfa = CFIReg(CFIBase.bp, 16)
    s.regs[5] = CFIReg(CFIBase.cfa, -16)
    let e = ORCEntry(cfi: s, layout: .of(.v6_1))
    #expect(e.spReg == .bp && e.spOffset == 16 && e.bpReg == .prevSP && e.bpOffset == -16)
  }

  @Test("no state, and an undefined CFA: 6.1 writes a CALL with SP undefined, 6.12 the UNDEFINED type")
  func undefined() {
    #expect(ORCEntry(cfi: nil, layout: .of(.v6_1)) == .empty)
    var end = CFIState.initialHint
    end.end = true
    let e61 = ORCEntry(cfi: end, layout: .of(.v6_1))
    #expect(e61.spReg == .undefined && e61.flag && e61.rawType == 0)
    let e612 = ORCEntry(cfi: end, layout: .of(.v6_12))
    #expect(e612.spReg == .undefined && e612.rawType == ORCLayout.of(.v6_12).rawType(.call))
  }

  @Test("REGS and REGS_PARTIAL hint states keep their frame type")
  func regs() {
    var s = CFIState.initialHint
    s.cfa = CFIReg(CFIBase.sp, 160)
    s.type = 1
    #expect(ORCEntry(cfi: s, layout: .of(.v6_1)).rawType == ORCLayout.of(.v6_1).rawType(.regs))
    s.type = 2
    #expect(ORCEntry(cfi: s, layout: .of(.v6_12)).rawType == ORCLayout.of(.v6_12).rawType(.regsPartial))
  }
}
