import Kernel
import ORC

/// Where an unwinder reads memory: kernel virtual addresses.
public protocol UnwindMemory {
  /// The 64-bit value at `address`, or nil when it cannot be read.
  func u64(_ address: UInt64) -> UInt64?
}

extension KernelMemory: UnwindMemory {}

/// Why a stack trace ended, and whether it is reliable, with the reasons of
/// the kernel's reliable-stacktrace rules (`arch_stack_walk_reliable()` in
/// arch/x86/kernel/stacktrace.c over `unwind_next_frame()` in unwind_orc.c).
public enum UnwindEnd: Sendable, Hashable, CustomStringConvertible {
  /// The ORC entry marks the end of the stack (6.1 `end`, 6.12 END_OF_STACK): a kernel thread's first frame.
  case endOfStack
  /// A register frame with user-mode registers: the top of a user task's kernel stack.
  case userMode
  /// No ORC entry covers the address.
  case noORC(ip: UInt64)
  /// The ORC entry says the stack state is undefined there.
  case undefined(ip: UInt64)
  /// A register frame whose `pt_regs` are not on a known stack ("can't access registers").
  case cantAccessRegisters(ip: UInt64)
  /// A saved value is not on a known stack.
  case stackAccess(ip: UInt64, address: UInt64)
  /// A return address outside kernel text.
  case badReturnAddress(ip: UInt64)
  /// The stack pointer did not move up ("stack going in the wrong direction?").
  case wrongDirection(ip: UInt64)
  /// An ORC entry needs a register only a register frame has (R10, R13, DI, DX).
  case missingRegister(ip: UInt64, register: String)
  /// The trace went on past any sane depth.
  case tooDeep

  /// Whether the trace is reliable (what livepatch's consistency check needs).
  public var isReliable: Bool {
    switch self {
    case .endOfStack, .userMode: return true
    default: return false
    }
  }

  public var description: String {
    func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
    switch self {
    case .endOfStack: return "reliable: end of stack"
    case .userMode: return "reliable: user-mode registers at the top of the stack"
    case .noORC(let ip): return "unreliable: no ORC entry for \(hex(ip))"
    case .undefined(let ip): return "unreliable: undefined stack state at \(hex(ip))"
    case .cantAccessRegisters(let ip): return "unreliable: can't access registers at \(hex(ip))"
    case .stackAccess(let ip, let a):
      return "unreliable: stack access at \(hex(a)) outside the task's stacks (at \(hex(ip)))"
    case .badReturnAddress(let ip): return "unreliable: return address \(hex(ip)) is outside kernel text"
    case .wrongDirection(let ip): return "unreliable: stack going in the wrong direction at \(hex(ip))"
    case .missingRegister(let ip, let r): return "unreliable: missing \(r) value at \(hex(ip))"
    case .tooDeep: return "unreliable: too many frames"
    }
  }
}

/// One frame of a trace.
public struct UnwindFrame: Sendable, Hashable {
  /// The address: the interrupted or current instruction for the first
  /// frame and for frames after register frames, a return address otherwise.
  public var ip: UInt64
  /// The stack pointer at that frame.
  public var sp: UInt64
  /// Whether `ip` is an exact instruction address (a signal / register frame) rather than a return address.
  public var isSignal: Bool
  /// The stack the frame's stack pointer is on, when it is on a known one.
  public var stack: KernelStack.Kind? = nil
}

/// A stack the kernel runs on (`enum stack_type`, arch/x86/include/asm/stacktrace.h),
/// named as the kernel's `stack_type_name()` does in its traces (`<NMI>`, `<IRQ>`).
public struct KernelStack: Sendable, Hashable {
  public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
    case task = "TASK"
    case irq = "IRQ"
    case entry = "ENTRY_TRAMPOLINE"
    case doubleFault = "#DF"
    case nmi = "NMI"
    case debug = "#DB"
    case machineCheck = "#MC"
    case vc = "#VC"
    case vc2 = "#VC2"
  }
  public var kind: Kind
  public var range: Range<UInt64>

  public init(_ kind: Kind, _ range: Range<UInt64>) {
    self.kind = kind
    self.range = range
  }

  /// Whether `n` bytes at `a` lie on the stack (`on_stack()`); `a` may come
  /// from the dump: compared without adding to it.
  func holds(_ a: UInt64, _ n: UInt64 = 8) -> Bool {
    a >= range.lowerBound && a <= range.upperBound && n <= range.upperBound - a
  }
}

/// A module's code as the dump holds it: its text ranges and the ORC table
/// the kernel sorted at load time (`mod->arch.orc_unwind_ip`, `orc_unwind`).
public struct ModuleCode: Sendable {
  public var name: String
  public var text: [Range<UInt64>]
  public var lookup: ORCLookup?

  public init(name: String, text: [Range<UInt64>], lookup: ORCLookup?) {
    self.name = name
    self.text = text
    self.lookup = lookup
  }
}

/// A stack trace and why it ended.
public struct UnwindTrace: Sendable {
  public var frames: [UnwindFrame]
  public var end: UnwindEnd
}

/// The ORC unwinder (arch/x86/kernel/unwind_orc.c, `unwind_next_frame`), over any memory.
public struct Unwinder: Sendable {
  /// The ORC tables.
  public let lookup: ORCLookup
  /// Kernel text ranges: return addresses must fall in one (or in a module's).
  public let text: [Range<UInt64>]
  /// Loaded modules: their text and ORC (`orc_module_find()`).
  public let modules: [ModuleCode]

  public init(lookup: ORCLookup, text: [Range<UInt64>], modules: [ModuleCode] = []) {
    self.lookup = lookup
    self.text = text
    self.modules = modules.sorted { ($0.text.first?.lowerBound ?? 0) < ($1.text.first?.lowerBound ?? 0) }
  }

  /// The module whose text holds `ip` (`__module_text_address()`).
  public func module(containing ip: UInt64) -> ModuleCode? {
    modules.first { $0.text.contains { $0.contains(ip) } }
  }

  /// The ORC entry for `ip` (`orc_find()`): the vmlinux table, else the module's.
  public func entry(for ip: UInt64) -> ORCEntry? {
    if let e = lookup.entry(for: ip) { return e }
    return module(containing: ip)?.lookup?.entry(for: ip)
  }

  /// Whether `ip` is kernel or module text (`__kernel_text_address()`).
  public func isText(_ ip: UInt64) -> Bool {
    text.contains { $0.contains(ip) } || module(containing: ip) != nil
  }

  /// `unwind(ip:sp:bp:signal:regsAddress:startRegisters:stacks:memory:maxFrames:)` over plain
  /// ranges, each taken as a task stack.
  public func unwind(
    ip: UInt64, sp: UInt64, bp: UInt64, signal: Bool, regsAddress: UInt64? = nil,
    startRegisters: [Int: UInt64] = [:], stacks: [Range<UInt64>], memory: some UnwindMemory, maxFrames: Int = 128
  ) -> UnwindTrace {
    unwind(
      ip: ip, sp: sp, bp: bp, signal: signal, regsAddress: regsAddress, startRegisters: startRegisters,
      stacks: stacks.map { KernelStack(.task, $0) }, memory: memory, maxFrames: maxFrames)
  }

  /// `struct pt_regs` offsets (arch/x86/include/asm/ptrace.h).
  enum PtRegs {
    static let r13 = 16, bp = 32, r10 = 56, dx = 96, di = 112, ip = 128, cs = 136, sp = 152
    /// `IRET_FRAME_OFFSET`: where the hardware iret frame starts in pt_regs.
    static let iretFrame = 128
  }

  /// Walks from `ip`/`sp`/`bp`; `regs` is the address of a full `pt_regs`
  /// when the start is a register frame; `stacks` are the stacks the task
  /// may be on (its own, and its CPU's when it was running). As the
  /// kernel's `stack_access_ok()` / `get_stack_info()`, a read off the current
  /// stack moves the walk to the stack that holds it, each stack once
  /// (the `visit_mask`): a second visit is a stack access error.
  public func unwind(
    ip startIP: UInt64, sp startSP: UInt64, bp startBP: UInt64, signal startSignal: Bool,
    regsAddress: UInt64? = nil, startRegisters: [Int: UInt64] = [:], stacks: [KernelStack],
    memory: some UnwindMemory, maxFrames: Int = 128
  ) -> UnwindTrace {
    var noteRegisters = startRegisters
    var ip = startIP
    var sp = startSP
    var bp = startBP
    var signal = startSignal
    var regs = regsAddress
    var fullRegs = regsAddress != nil
    var frames: [UnwindFrame] = []
    // The stack the walk is on, and the ones it has been on (`get_stack_info()`'s visit mask).
    var current = stacks.firstIndex { $0.holds(startSP) }
    var visited = Set(current.map { [stacks[$0].kind] } ?? [])
    // `a` is computed from values read from the stack: compare without adding to it.
    func onStack(_ a: UInt64, _ n: UInt64 = 8) -> Bool {
      if let c = current, stacks[c].holds(a, n) { return true }
      guard let next = stacks.firstIndex(where: { $0.holds(a, n) }), !visited.contains(stacks[next].kind) else {
        return false
      }
      current = next
      visited.insert(stacks[next].kind)
      return true
    }
    func read(_ a: UInt64) -> UInt64? { onStack(a) ? memory.u64(a) : nil }

    while frames.count < maxFrames {
      guard isText(ip) else { return UnwindTrace(frames: frames, end: .badReturnAddress(ip: ip)) }
      let on = stacks.first { $0.holds(sp) }?.kind
      frames.append(UnwindFrame(ip: ip, sp: sp, isSignal: signal, stack: on))
      guard let orc = entry(for: signal ? ip : ip &- 1) else {
        return UnwindTrace(frames: frames, end: .noORC(ip: ip))
      }
      let type = lookup.layout.frameType(orc.rawType)
      switch lookup.layout.generation {
      case .v6_1:
        if orc.spReg == .undefined {
          return UnwindTrace(frames: frames, end: orc.flag ? .endOfStack : .undefined(ip: ip))
        }
      case .v6_12:
        if type == .undefined { return UnwindTrace(frames: frames, end: .undefined(ip: ip)) }
        if type == .endOfStack { return UnwindTrace(frames: frames, end: .endOfStack) }
      }
      func regValue(_ offset: Int, _ name: String) -> UInt64? {
        if let v = noteRegisters[offset] { return v }
        guard let r = regs, fullRegs || offset >= PtRegs.iretFrame else { return nil }
        return read(r &+ UInt64(offset))  // wraps as the kernel's pointer does; `read` checks the stack
      }
      var newSP: UInt64
      var indirect = false
      let prevSP = sp
      let prevStack = current
      switch orc.spReg {
      case .sp: newSP = sp &+ UInt64(bitPattern: Int64(orc.spOffset))
      case .bp: newSP = bp &+ UInt64(bitPattern: Int64(orc.spOffset))
      case .spIndirect:
        newSP = sp
        indirect = true
      case .bpIndirect:
        newSP = bp &+ UInt64(bitPattern: Int64(orc.spOffset))
        indirect = true
      case .r10, .r13, .di, .dx:
        let (off, name) =
          orc.spReg == .r10
          ? (PtRegs.r10, "R10")
          : orc.spReg == .r13
            ? (PtRegs.r13, "R13")
            : orc.spReg == .di ? (PtRegs.di, "DI") : (PtRegs.dx, "DX")
        guard let v = regValue(off, name) else {
          return UnwindTrace(frames: frames, end: .missingRegister(ip: ip, register: name))
        }
        newSP = v &+ UInt64(bitPattern: Int64(orc.spOffset))
      default:
        return UnwindTrace(frames: frames, end: .undefined(ip: ip))
      }
      if indirect {
        guard let v = read(newSP) else { return UnwindTrace(frames: frames, end: .stackAccess(ip: ip, address: newSP)) }
        newSP = v
        if orc.spReg == .spIndirect { newSP = newSP &+ UInt64(bitPattern: Int64(orc.spOffset)) }
      }
      noteRegisters = [:]
      switch type {
      case .call:
        guard let ret = read(newSP &- 8) else {
          return UnwindTrace(frames: frames, end: .stackAccess(ip: ip, address: newSP &- 8))
        }
        ip = ret
        sp = newSP
        regs = nil
        signal = lookup.layout.generation == .v6_12 ? orc.flag : false
      case .regs:
        guard onStack(newSP, 168), let rip = memory.u64(newSP + 128), let rsp = memory.u64(newSP + 152),
          let cs = memory.u64(newSP + 136)
        else { return UnwindTrace(frames: frames, end: .cantAccessRegisters(ip: ip)) }
        if cs & 3 == 3 { return UnwindTrace(frames: frames, end: .userMode) }
        ip = rip
        sp = rsp
        regs = newSP
        fullRegs = true
        signal = true
      case .regsPartial:
        guard onStack(newSP, 40), let rip = memory.u64(newSP), let cs = memory.u64(newSP + 8),
          let rsp = memory.u64(newSP + 24)
        else { return UnwindTrace(frames: frames, end: .cantAccessRegisters(ip: ip)) }
        if cs & 3 == 3 { return UnwindTrace(frames: frames, end: .userMode) }
        ip = rip
        sp = rsp
        regs = newSP &- UInt64(PtRegs.iretFrame)
        fullRegs = false
        signal = true
      default:
        return UnwindTrace(frames: frames, end: .undefined(ip: ip))
      }
      switch orc.bpReg {
      case .undefined:
        if let r = regs, fullRegs, let v = read(r &+ UInt64(PtRegs.bp)) { bp = v }
      case .prevSP:
        let a = newSP &+ UInt64(bitPattern: Int64(orc.bpOffset))
        guard let v = read(a) else { return UnwindTrace(frames: frames, end: .stackAccess(ip: ip, address: a)) }
        bp = v
      case .bp:
        let a = bp &+ UInt64(bitPattern: Int64(orc.bpOffset))
        guard let v = read(a) else { return UnwindTrace(frames: frames, end: .stackAccess(ip: ip, address: a)) }
        bp = v
      default:
        return UnwindTrace(frames: frames, end: .undefined(ip: ip))
      }
      // The kernel compares within one stack only; a move to another stack is allowed.
      if let c = current, c == prevStack, stacks[c].holds(sp), sp <= prevSP {
        return UnwindTrace(frames: frames, end: .wrongDirection(ip: frames.last!.ip))
      }
    }
    return UnwindTrace(frames: frames, end: .tooDeep)
  }
}
