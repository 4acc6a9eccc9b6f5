import ELF
import Kernel
import ORC
import TestSupport
import Testing
import Unwind

/// Memory as a dictionary of 64-bit words.
struct WordMemory: UnwindMemory {
  var words: [UInt64: UInt64] = [:]
  func u64(_ address: UInt64) -> UInt64? { words[address] }
}

let text = 0xffff_ffff_8100_0000 as UInt64
let stackBase = 0xffff_c900_0000_0000 as UInt64
let stack = stackBase..<(stackBase + 0x4000)

func entry(
  _ sp: ORCRegister, _ spOff: Int16, _ bp: ORCRegister = .undefined, _ bpOff: Int16 = 0,
  _ type: ORCFrameType = .call, flag: Bool = false, _ gen: KernelGeneration = .v6_1
) -> ORCEntry {
  ORCEntry(
    spOffset: spOff, bpOffset: bpOff, spReg: sp, bpReg: bp,
    rawType: ORCLayout.of(gen).rawType(type)!, flag: flag)
}

/// Functions at text+0x100 * i; `table[i]` covers function i.
func unwinder(_ table: [ORCEntry], _ gen: KernelGeneration = .v6_1) -> Unwinder {
  let lookup = ORCLookup(
    layout: .of(gen), addresses: table.indices.map { text + UInt64($0) * 0x100 },
    entries: table, textEnd: text + UInt64(table.count) * 0x100)
  return Unwinder(lookup: lookup, text: [text..<(text + 0x10000)])
}

func fn(_ i: Int, _ off: UInt64 = 5) -> UInt64 { text + UInt64(i) * 0x100 + off }

@Suite("ORC unwinder")
struct UnwinderTests {
  let top = stackBase + 0x3000

  @Test("CALL frames up to the end of the stack (6.1 end bit): reliable")
  func callChain() {
    let u = unwinder([entry(.sp, 16), entry(.sp, 8), entry(.undefined, 0, flag: true)])
    var m = WordMemory()
    m.words[top + 8] = fn(1)  // f0's return address into f1, above its pushed word
    m.words[top + 16] = fn(2)  // f1 returns into f2
    let t = u.unwind(ip: fn(0), sp: top, bp: 0, signal: false, stacks: [stack], memory: m)
    #expect(t.frames.map(\.ip) == [fn(0), fn(1), fn(2)])
    #expect(t.end == .endOfStack && t.end.isReliable)
  }

  @Test("6.12: END_OF_STACK ends reliably, UNDEFINED does not")
  func generation612() {
    let u = unwinder(
      [
        entry(.sp, 8, .undefined, 0, .call, flag: false, .v6_12),
        entry(.undefined, 0, .undefined, 0, .endOfStack, flag: false, .v6_12),
        entry(.undefined, 0, .undefined, 0, .undefined, flag: false, .v6_12),
      ], .v6_12)
    var m = WordMemory()
    m.words[top] = fn(1)
    #expect(u.unwind(ip: fn(0), sp: top, bp: 0, signal: false, stacks: [stack], memory: m).end == .endOfStack)
    m.words[top] = fn(2)
    #expect(u.unwind(ip: fn(0), sp: top, bp: 0, signal: false, stacks: [stack], memory: m).end == .undefined(ip: fn(2)))
  }

  @Test("the ip - 1 rule: a return address just past a function's end is looked up in that function")
  func ipMinusOne() {
    // f1 is the end marker; a return address at exactly f1's start belongs to f0's last call.
    let u = unwinder([entry(.sp, 8), entry(.undefined, 0, flag: true), entry(.undefined, 0, flag: true)])
    var m = WordMemory()
    m.words[top] = fn(1, 0)  // returns to f1+0: looked up at f0's last byte
    m.words[top + 8] = fn(2)
    let t = u.unwind(ip: fn(0), sp: top, bp: 0, signal: false, stacks: [stack], memory: m)
    // f0's frame, then the return into f1+0 is looked up at f1 - 1 = inside f0: CALL sp+8 again.
    #expect(t.frames.map(\.ip) == [fn(0), fn(1, 0), fn(2)])
  }

  @Test("BP-based CFA and the caller's BP saved at prevsp-16")
  func framePointer() {
    let u = unwinder([entry(.bp, 16, .prevSP, -16), entry(.undefined, 0, flag: true)])
    var m = WordMemory()
    let bp = top + 0x40
    m.words[bp + 8] = fn(1)  // return address at CFA - 8
    m.words[bp] = 0x1234  // saved BP at CFA - 16
    let t = u.unwind(ip: fn(0), sp: top, bp: bp, signal: false, stacks: [stack], memory: m)
    #expect(t.frames.map(\.ip) == [fn(0), fn(1)])
    #expect(t.frames[1].sp == bp + 16)
    #expect(t.end == .endOfStack)
  }

  @Test("SP_INDIRECT and BP_INDIRECT: the CFA read from the stack")
  func indirect() {
    let u = unwinder([entry(.spIndirect, 8), entry(.bpIndirect, 8), entry(.undefined, 0, flag: true)])
    var m = WordMemory()
    let cfaBase = top + 0x100
    m.words[top] = cfaBase  // *(sp) + 8 = CFA
    m.words[cfaBase] = fn(1)  // ret at CFA - 8
    let bp = top + 0x200
    m.words[bp + 8] = top + 0x300  // *(bp + 8) = CFA
    m.words[top + 0x300 - 8] = fn(2)
    let t = u.unwind(ip: fn(0), sp: top, bp: bp, signal: false, stacks: [stack], memory: m)
    #expect(t.frames.map(\.ip) == [fn(0), fn(1), fn(2)])
  }

  @Test("a REGS frame in kernel mode goes on at the interrupted ip (looked up exactly); user mode ends reliably")
  func regsFrame() {
    let u = unwinder([entry(.sp, 0, .undefined, 0, .regs), entry(.sp, 8), entry(.undefined, 0, flag: true)])
    var m = WordMemory()
    let regs = top
    m.words[regs + 128] = fn(1, 0x10)  // ip
    m.words[regs + 136] = 0x10  // kernel cs
    m.words[regs + 152] = top + 0x400  // sp
    m.words[regs + 32] = 0xb0b  // bp
    m.words[top + 0x400] = fn(2)
    let t = u.unwind(ip: fn(0), sp: top, bp: 0, signal: false, stacks: [stack], memory: m)
    #expect(t.frames.map(\.ip) == [fn(0), fn(1, 0x10), fn(2)])
    #expect(t.frames[1].isSignal)
    m.words[regs + 136] = 0x33  // user cs
    #expect(u.unwind(ip: fn(0), sp: top, bp: 0, signal: false, stacks: [stack], memory: m).end == .userMode)
  }

  @Test("a REGS_PARTIAL (iret) frame")
  func iretFrame() {
    let u = unwinder([entry(.sp, 8, .undefined, 0, .regsPartial), entry(.undefined, 0, flag: true)])
    var m = WordMemory()
    let iret = top + 8
    m.words[iret] = fn(1, 0x20)
    m.words[iret + 8] = 0x10
    m.words[iret + 24] = top + 0x800
    let t = u.unwind(ip: fn(0), sp: top, bp: 0, signal: false, stacks: [stack], memory: m)
    #expect(t.frames.map(\.ip) == [fn(0), fn(1, 0x20)])
    #expect(t.end == .endOfStack)
  }

  @Test("each unreliable reason", arguments: 0..<7)
  func unreliable(_ which: Int) {
    var m = WordMemory()
    switch which {
    case 0:  // no ORC entry
      let u = unwinder([entry(.sp, 8)])
      let t = u.unwind(ip: text + 0x8000, sp: top, bp: 0, signal: true, stacks: [stack], memory: m)
      #expect(t.end == .noORC(ip: text + 0x8000))
    case 1:  // undefined stack state (6.1: sp undefined without end)
      let u = unwinder([entry(.undefined, 0)])
      #expect(
        u.unwind(ip: fn(0), sp: top, bp: 0, signal: false, stacks: [stack], memory: m).end == .undefined(ip: fn(0)))
    case 2:  // register frame not on a known stack: "can't access registers"
      let u = unwinder([entry(.sp, 0x4000, .undefined, 0, .regs)])
      #expect(
        u.unwind(ip: fn(0), sp: top, bp: 0, signal: false, stacks: [stack], memory: m).end
          == .cantAccessRegisters(ip: fn(0)))
    case 3:  // return address outside kernel text
      let u = unwinder([entry(.sp, 8)])
      m.words[top] = 0x40_1000
      #expect(
        u.unwind(ip: fn(0), sp: top, bp: 0, signal: false, stacks: [stack], memory: m).end
          == .badReturnAddress(ip: 0x40_1000))
    case 4:  // stack going in the wrong direction
      let u = unwinder([entry(.sp, 0), entry(.sp, 0)])
      m.words[top - 8] = fn(1)
      #expect(
        u.unwind(ip: fn(0), sp: top, bp: 0, signal: false, stacks: [stack], memory: m).end == .wrongDirection(ip: fn(0))
      )
    case 5:  // a saved value off every known stack
      let u = unwinder([entry(.sp, 8)])
      let t = u.unwind(ip: fn(0), sp: stack.upperBound, bp: 0, signal: false, stacks: [stack], memory: m)
      #expect(t.end == .stackAccess(ip: fn(0), address: stack.upperBound))
    default:  // an entry that needs R10 where no registers are known
      let u = unwinder([entry(.r10, 0)])
      #expect(
        u.unwind(ip: fn(0), sp: top, bp: 0, signal: false, stacks: [stack], memory: m).end
          == .missingRegister(ip: fn(0), register: "R10"))
    }
  }

  @Test(
    "the 256-byte block index finds what a plain binary search finds, on the vmlinux's real ORC",
    .enabled(if: Corpus.current?.vmlinux61 != nil))
  func realLookup() throws {
    let file = try ELFFile(path: try #require(Corpus.current?.vmlinux61))
    let table = try #require(try ORCTable.load(from: file, generation: .v6_1))
    let lookup = ORCLookup(table: table)
    #expect(lookup.addresses.count > 300_000)
    var rng = SystemRandomNumberGenerator()
    let lo = lookup.addresses.first!
    let hi = lookup.addresses.last!
    for _ in 0..<20_000 {
      let ip = UInt64.random(in: lo...hi, using: &rng)
      // Reference: the last entry at or before ip.
      var a = 0
      var b = lookup.addresses.count
      while a < b {
        let mid = (a + b) / 2
        if lookup.addresses[mid] <= ip { a = mid + 1 } else { b = mid }
      }
      #expect(lookup.entry(for: ip) == lookup.entries[a - 1])
    }
    #expect(lookup.entry(for: lo - 1) == nil)
  }
}

@Suite("Stacks the kernel switches to, and module code")
struct StackSwitchTests {
  let nmiStack = KernelStack(.nmi, 0xffff_fe00_0000_a000..<0xffff_fe00_0000_b000)
  let task = KernelStack(.task, stack)
  let top = stackBase + 0x3000

  /// An NMI handler (f0: CALL) whose caller (f1) is the entry code holding the
  /// pt_regs of the interrupted task (REGS), which was in f2 on the task stack.
  func nmiTrace(
    _ stacks: [KernelStack], regsOnTask: Bool = false
  ) -> (UnwindTrace, UInt64) {
    let u = unwinder([
      entry(.sp, 8), entry(.sp, 0, .undefined, 0, .regs), entry(.sp, 8), entry(.undefined, 0, flag: true),
    ])
    var m = WordMemory()
    let nmiSP = nmiStack.range.upperBound - 0x200
    m.words[nmiSP] = fn(1)  // f0 returns into the entry code
    let regs = regsOnTask ? top - 0x400 : nmiSP + 8
    if regsOnTask { m.words[nmiSP] = fn(1) }
    m.words[regs + 128] = fn(2, 0x10)  // interrupted ip
    m.words[regs + 136] = 0x10  // kernel cs
    m.words[regs + 152] = top  // interrupted sp, on the task stack
    m.words[top] = fn(3)  // f2 returns into f3: end of stack
    return (u.unwind(ip: fn(0), sp: nmiSP, bp: 0, signal: true, stacks: stacks, memory: m), nmiSP)
  }

  @Test("from the NMI stack through the pt_regs to the task stack, each frame naming its stack")
  func nmiToTask() {
    let (t, _) = nmiTrace([task, nmiStack])
    #expect(t.frames.map(\.ip) == [fn(0), fn(1), fn(2, 0x10), fn(3)])
    #expect(t.frames.map(\.stack) == [.nmi, .nmi, .task, .task])
    #expect(t.end == .endOfStack)
  }

  @Test("without the NMI stack among the known stacks the trace ends at the first read off the task stack")
  func unknownStack() {
    let (t, nmiSP) = nmiTrace([task])
    #expect(t.frames.map(\.ip) == [fn(0)])
    #expect(t.end == .stackAccess(ip: fn(0), address: nmiSP))
  }

  @Test("a stack is visited once: a switch back to the NMI stack is a stack access error")
  func visitOnce() {
    // f2 (on the task stack) claims its caller's frame is on the NMI stack again.
    let u = unwinder([entry(.sp, 8), entry(.sp, 0, .undefined, 0, .regs), entry(.spIndirect, 0)])
    var m = WordMemory()
    let nmiSP = nmiStack.range.upperBound - 0x200
    m.words[nmiSP] = fn(1)
    m.words[nmiSP + 8 + 128] = fn(2, 0x10)
    m.words[nmiSP + 8 + 136] = 0x10
    m.words[nmiSP + 8 + 152] = top
    m.words[top] = nmiSP + 0x100  // SP_INDIRECT: back onto the NMI stack
    let t = u.unwind(ip: fn(0), sp: nmiSP, bp: 0, signal: true, stacks: [task, nmiStack], memory: m)
    #expect(t.frames.map(\.ip) == [fn(0), fn(1), fn(2, 0x10)])
    #expect(t.end == .stackAccess(ip: fn(2, 0x10), address: nmiSP + 0x100 - 8))
  }

  @Test("module code: its own ORC table and text, outside the vmlinux's")
  func moduleCode() {
    let moduleText = 0xffff_ffff_c000_0000 as UInt64
    let modLookup = ORCLookup(
      layout: .of(.v6_1), addresses: [moduleText, moduleText + 0x100], entries: [entry(.sp, 8), entry(.sp, 16)],
      textEnd: moduleText + 0x200)
    let vmlinux = ORCLookup(
      layout: .of(.v6_1), addresses: [text, text + 0x100], entries: [entry(.sp, 8), entry(.undefined, 0, flag: true)],
      textEnd: text + 0x200)
    let module = ModuleCode(name: "m", text: [moduleText..<(moduleText + 0x200)], lookup: modLookup)
    var m = WordMemory()
    m.words[top] = moduleText + 0x105  // f0 returns into the module's second function
    m.words[top + 16] = fn(1)  // which (CFA sp+16) returns into vmlinux's end
    let with = Unwinder(lookup: vmlinux, text: [text..<(text + 0x200)], modules: [module])
    let t = with.unwind(ip: fn(0), sp: top, bp: 0, signal: false, stacks: [task], memory: m)
    #expect(t.frames.map(\.ip) == [fn(0), moduleText + 0x105, fn(1)])
    #expect(t.end == .endOfStack)
    let without = Unwinder(lookup: vmlinux, text: [text..<(text + 0x200)])
    #expect(
      without.unwind(ip: fn(0), sp: top, bp: 0, signal: false, stacks: [task], memory: m).end
        == .badReturnAddress(ip: moduleText + 0x105))
    let noORC = Unwinder(
      lookup: vmlinux, text: [text..<(text + 0x200)],
      modules: [ModuleCode(name: "m", text: module.text, lookup: nil)])
    #expect(
      noORC.unwind(ip: fn(0), sp: top, bp: 0, signal: false, stacks: [task], memory: m).end
        == .noORC(ip: moduleText + 0x105))
  }
}
