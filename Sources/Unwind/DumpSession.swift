import ELF
import Kernel
import ORC
import Program

/// One task's trace, symbolized.
public struct TaskTrace: Sendable, Codable {
  public var pid: Int32
  public var comm: String
  /// The CPU the task ran on, when it was running.
  public var cpu: Int?
  /// `func+0xoff/0xsize` per frame (a `.cold` child named as such).
  public var frames: [String]
  /// Frame addresses.
  public var addresses: [UInt64]
  /// Per frame, the stack it is on (`TASK`, `IRQ`, `NMI`, `#DB`, … as the
  /// kernel names them; empty when on none the tool knows).
  public var stacks: [String] = []
  public var reliable: Bool
  /// The verdict in words.
  public var verdict: String
}

/// Where a session's vmlinux ORC table was read.
public enum ORCSource: String, Sendable, Codable {
  /// The vmlinux file's `.orc_unwind` and `.orc_unwind_ip`.
  case vmlinux
  /// The dumped kernel's memory, `__start_orc_unwind_ip` to `__stop_orc_unwind_ip`.
  case memory
}

/// A vmlinux and a dump of the kernel it built: tasks, their stacks, their traces.
public struct DumpSession: Sendable {
  public let vmlinux: ELFFile
  public let dump: any MemoryDump
  public let memory: KernelMemory
  public let unwinder: Unwinder
  public let tasks: KernelTasks
  /// The loaded modules, read from the dump (empty when the kernel has no `modules` list).
  public let modules: KernelModules?
  /// Where the vmlinux ORC came from: the vmlinux's `.orc_unwind` or, when it has none, the dump's memory.
  public let orcSource: ORCSource
  /// Where a sleeping task's trace starts (`task->thread.sp` points at one).
  public let taskFrame: InactiveTaskFrame
  /// The vmlinux's functions and code labels (`ret_from_fork`, entry code), by address.
  let codeSymbols: CodeSymbols
  /// Where a newly forked task first runs (`ret_from_fork`, 6.6+ `ret_from_fork_asm`).
  let retFromFork: UInt64?
  /// KERNELOFFSET: how far the running kernel's addresses are from the vmlinux's.
  public let kernelSlide: UInt64

  /// Opens `vmlinux` (with symbols, `.BTF` and ORC) and the QEMU dump `core`;
  /// `policy` decides the ORC layout (by default from the vmlinux alone:
  /// its `linux_banner`, `.orc_header` or layout). What the tool cannot know is
  /// not guessed: a `.BTF` without a layout it needs, a dump without the
  /// `VMCOREINFO` keys it needs are each an error that names it. `btf`
  /// names another file whose `.BTF` gives the structure layouts, for a
  /// vmlinux built without BTF (the same configuration's, such as the
  /// distribution's -dbg vmlinux): the caller vouches that they match.
  public init(
    vmlinux path: String, core: String,
    generation policy: GenerationPolicy = GenerationPolicy(forced: nil, environment: [:]),
    btf btfPath: String? = nil
  ) throws(ELFError) {
    vmlinux = try ELFFile(path: path)
    dump = try openMemoryDump(path: core)
    let (generation, _) = try policy.resolve(vmlinux)
    let code = try CodeSymbols(file: vmlinux, wanted: KernelTasks.symbolNames)
    codeSymbols = code
    var symbols = code.values
    // KASLR: VMCOREINFO's KERNELOFFSET shifts every vmlinux address (0 with nokaslr); per-CPU
    // symbols are offsets into each CPU's area (below __START_KERNEL_map) and do not move.
    let slide = try dump.requireVMCOREINFO("KERNELOFFSET", hex: true)
    for (k, v) in symbols where v >= KernelMemory.startKernelMap { symbols[k] = v &+ slide }
    let memory = try KernelMemory(dump: dump, initTopPgt: symbols["init_top_pgt"])
    self.memory = memory
    let layout = ORCLayout.of(generation)
    let text = vmlinux.sections.filter { $0.flags.contains(.execInstr) && $0.flags.contains(.alloc) && $0.size > 0 }
      .filter { $0.address &+ $0.size >= $0.address }.map { ($0.address &+ slide)..<($0.address &+ slide &+ $0.size) }
    let textEnd = text.map(\.upperBound).max()
    let lookup: ORCLookup
    if let table = try ORCTable.load(from: vmlinux, generation: generation), table.count > 0 {
      // The lookup reads every entry's address, which a table with relocations does not need to have.
      try table.requireAddresses()
      let file = ORCLookup(table: table, textEnd: textEnd)
      lookup =
        slide == 0
        ? file
        : ORCLookup(
          layout: layout, addresses: file.addresses.map { $0 &+ slide }, entries: file.entries, textEnd: textEnd)
      orcSource = .vmlinux
    } else {
      // A vmlinux without ORC (symbols and .BTF only): the kernel's own table, from its memory.
      guard let start = symbols["__start_orc_unwind_ip"], let stop = symbols["__stop_orc_unwind_ip"],
        let entries = symbols["__start_orc_unwind"], stop >= start
      else { throw ELFError(.missingSection(".orc_unwind (nor __start_orc_unwind_ip symbols)"), path: path, offset: 0) }
      guard
        let table = KernelModules.orcTable(
          count: UInt32(exactly: (stop - start) / 4), ips: start, entries: entries, layout: layout,
          textEnd: textEnd, memory: memory)
      else {
        throw ELFError(
          .malformed(
            "the dump has no memory at the kernel's ORC table (__start_orc_unwind_ip 0x\(String(start, radix: 16)))"),
          path: core, offset: 0)
      }
      lookup = table
      orcSource = .memory
    }
    let btf = try BTF(file: try btfPath.map { p throws(ELFError) in try ELFFile(path: p) } ?? vmlinux)
    let loaded =
      try symbols["modules"].map { head throws(ELFError) in
        try KernelModules(modulesHead: head, btf: btf, layout: layout, memory: memory)
      }
    modules = loaded
    unwinder = Unwinder(lookup: lookup, text: text, modules: loaded?.modules.map(\.code) ?? [])
    kernelSlide = slide
    // 6.6 and later start a new task in ret_from_fork_asm (ret_from_fork became C).
    retFromFork = symbols["ret_from_fork_asm"] ?? symbols["ret_from_fork"]
    taskFrame = try InactiveTaskFrame(btf: btf)
    tasks = try KernelTasks(symbols: symbols, btf: btf, memory: memory, cpus: dump.cpus.count)
  }

  /// The trace of `task`: from its CPU's registers when it was running,
  /// else from the `inactive_task_frame` that `__switch_to_asm` left.
  public func trace(_ task: KernelTask) -> TaskTrace {
    var stacks = [KernelStack(.task, KernelTasks.stack(bottom: task.stack))]
    let trace: UnwindTrace
    if let cpu = task.cpu, cpu < dump.cpus.count {
      let r = dump.cpus[cpu]
      if cpu < tasks.cpuStacks.count { stacks += tasks.cpuStacks[cpu] }
      if r.isUserMode {
        return TaskTrace(
          pid: task.pid, comm: task.comm, cpu: cpu, frames: [], addresses: [], reliable: true,
          verdict: UnwindEnd.userMode.description + " (running in user mode)")
      }
      trace = unwinder.unwind(
        ip: r.ip, sp: r.sp, bp: r.bp, signal: true,
        startRegisters: [16: r.r13, 32: r.bp, 56: r.r10, 96: r.dx, 112: r.di],
        stacks: stacks, memory: memory)
    } else {
      // `thread.sp` is read from the dump: offsets from it wrap as the kernel's pointers (to unmapped memory).
      let frame = task.threadSP
      guard let ret = memory.u64(frame &+ taskFrame.returnAddress), let bp = memory.u64(frame &+ taskFrame.bp) else {
        return TaskTrace(
          pid: task.pid, comm: task.comm, cpu: nil, frames: [], addresses: [], reliable: false,
          verdict: "unreliable: can't read the task's switch frame at 0x\(String(frame, radix: 16))")
      }
      // As unwind_start(): a task that has not run yet resumes at the fork entry's first
      // instruction, which is looked up exactly (its hint ends the stack).
      trace = unwinder.unwind(
        ip: ret, sp: frame &+ taskFrame.size, bp: bp, signal: ret == retFromFork, stacks: stacks, memory: memory)
    }
    return TaskTrace(
      pid: task.pid, comm: task.comm, cpu: task.cpu, frames: trace.frames.map(symbolize),
      addresses: trace.frames.map(\.ip), stacks: trace.frames.map { $0.stack?.rawValue ?? "" },
      reliable: trace.end.isReliable, verdict: trace.end.description)
  }

  /// `func+0xoff/0xsize` of a frame, as the kernel's `%pB` prints it: a
  /// return address is looked up at `ip - 1` (the call may be a function's
  /// last instruction), the offset is of `ip` itself.
  public func symbolize(_ frame: UnwindFrame) -> String {
    let lookupAddress = frame.isSignal ? frame.ip : frame.ip &- 1
    if let module = modules?.module(containing: lookupAddress) {
      return (module.symbol(for: lookupAddress, offsetOf: frame.ip) ?? "0x" + String(frame.ip, radix: 16))
        + " [\(module.name)]"
    }
    // The vmlinux's symbols are at its link addresses.
    let fileFrame = UnwindFrame(ip: frame.ip &- kernelSlide, sp: frame.sp, isSignal: frame.isSignal)
    return symbolizeVmlinux(fileFrame)
  }

  func symbolizeVmlinux(_ frame: UnwindFrame) -> String {
    let lookupAddress = frame.isSignal ? frame.ip : frame.ip &- 1
    if let f = codeSymbols.function(containing: lookupAddress) {
      return "\(codeSymbols.name(f))+0x\(String(frame.ip &- f.address, radix: 16))/0x\(String(f.size, radix: 16))"
    }
    // Code without a function symbol: the nearest preceding code symbol, sized to the next one (as kallsyms).
    guard let (label, next) = codeSymbols.label(before: lookupAddress) else {
      return "0x" + String(frame.ip, radix: 16)
    }
    let size = next.map { $0 - label.address } ?? 0
    return "\(codeSymbols.name(label))+0x\(String(frame.ip &- label.address, radix: 16))/0x\(String(size, radix: 16))"
  }
}
