import ELF
import Kernel
import Program

/// A task of the dumped kernel.
public struct KernelTask: Sendable, Hashable {
  /// The address of its `struct task_struct`.
  public var address: UInt64
  public var pid: Int32
  public var comm: String
  /// `task->stack`: the bottom of its kernel stack.
  public var stack: UInt64
  /// `task->thread.sp`: where `__switch_to_asm` left its `inactive_task_frame`.
  public var threadSP: UInt64
  /// The CPU it was running on when the dump was taken, if any.
  public var cpu: Int?
}

/// Reads the task list of a dump: `init_task.tasks` and each process's
/// threads (`signal->thread_head`), with structure offsets from `.BTF`.
public struct KernelTasks: Sendable {
  public let tasks: [KernelTask]
  /// Per CPU, the stacks a task running there may be on besides its own:
  /// the hardirq stack, the exception stacks of the CPU entry area (#DF, NMI,
  /// #DB, #MC, #VC, #VC2) and the entry trampoline stack, in the order of the
  /// kernel's `get_stack_info_noinstr()`.
  public let cpuStacks: [[KernelStack]]

  /// `THREAD_SIZE` on x86-64 without KASAN (arch/x86/include/asm/page_64_types.h).
  public static let threadSize: UInt64 = 16384
  /// `IRQ_STACK_SIZE`.
  public static let irqStackSize: UInt64 = 16384

  /// The stack `bottom ..< bottom + size` (a task's `task->stack`), cut at the
  /// top of the address space: `bottom` is read from the dump.
  public static func stack(bottom: UInt64, size: UInt64 = threadSize) -> Range<UInt64> {
    let (top, past) = bottom.addingReportingOverflow(size)
    return bottom..<(past ? UInt64.max : top)
  }

  /// The stack `top - size ..< top` (a hardirq stack), cut at address 0: `top` is read from the dump.
  public static func stack(top: UInt64, size: UInt64 = irqStackSize) -> Range<UInt64> {
    (top >= size ? top - size : 0)..<top
  }

  /// The symbols the walk needs, by name.
  public static let symbolNames: Set<String> = [
    "init_task", "runqueues", "__per_cpu_offset", "hardirq_stack_ptr", "pcpu_hot",
    "init_top_pgt", "cea_exception_stacks", "cpu_tss_rw", "modules",
    "__start_orc_unwind_ip", "__stop_orc_unwind_ip", "__start_orc_unwind", "ret_from_fork", "ret_from_fork_asm",
  ]

  /// The exception stacks of `struct cea_exception_stacks`, member by member.
  static let exceptionStacks: [(member: String, kind: KernelStack.Kind)] = [
    ("DF_stack", .doubleFault), ("NMI_stack", .nmi), ("DB_stack", .debug), ("MCE_stack", .machineCheck),
    ("VC_stack", .vc), ("VC2_stack", .vc2),
  ]

  /// Reads every task through `memory`; `symbols` holds the addresses of `symbolNames`.
  /// A structure layout `.BTF` lacks, or a per-CPU value the dump lacks, is an error, not a guess.
  public init(symbols: [String: UInt64], btf: BTF, memory: KernelMemory, cpus: Int) throws(ELFError) {
    func offset(_ path: String, in structure: String) throws(ELFError) -> UInt64 {
      UInt64(try btf.requireOffset(of: path, in: structure))
    }
    func symbol(_ name: String) throws(ELFError) -> UInt64 {
      guard let address = symbols[name] else {
        throw ELFError(.malformed("the vmlinux has no \(name) symbol"), path: memory.dump.path, offset: 0)
      }
      return address
    }
    // The addresses below are the guest's pointers (read from the dump, or
    // symbol values plus KERNELOFFSET) plus structure offsets: they wrap as
    // the kernel's pointer arithmetic does, and a wrapped one reads as unmapped.
    func read(_ address: UInt64, _ what: String) throws(ELFError) -> UInt64 {
      guard let value = memory.u64(address) else {
        throw ELFError(
          .malformed("the dump has no memory at \(what) (0x\(String(address, radix: 16)))"),
          path: memory.dump.path, offset: 0)
      }
      return value
    }
    let initTask = try symbol("init_task")
    let tasksOff = try offset("tasks", in: "task_struct")
    let pidOff = try offset("pid", in: "task_struct")
    let commOff = try offset("comm", in: "task_struct")
    let stackOff = try offset("stack", in: "task_struct")
    let spOff = try offset("thread.sp", in: "task_struct")
    let signalOff = try offset("signal", in: "task_struct")
    let threadNodeOff = try offset("thread_node", in: "task_struct")
    let threadHeadOff = try offset("thread_head", in: "signal_struct")
    let currOff = try offset("curr", in: "rq")
    let runqueues = try symbol("runqueues")

    // Where the CPU's other stacks are: hardirq_stack_ptr (a per-CPU variable up to 6.1, a member
    // of pcpu_hot since 6.2) points 8 bytes below the top of the IRQ stack; the exception
    // stacks lie in the CPU entry area at cea_exception_stacks; the TSS's sp0 is the top of
    // the entry trampoline stack. A kernel without one of them (no such symbol) has no such stack.
    var hardirq = symbols["hardirq_stack_ptr"]
    if hardirq == nil, let hot = symbols["pcpu_hot"] {
      hardirq = hot &+ (try offset("hardirq_stack_ptr", in: "pcpu_hot"))
    }
    let irqSize = btf.size(of: "irq_stack").map(UInt64.init) ?? Self.irqStackSize
    var exception: [(offset: UInt64, size: UInt64, kind: KernelStack.Kind)] = []
    if symbols["cea_exception_stacks"] != nil {
      for (member, kind) in Self.exceptionStacks {
        // The #VC stacks exist only with CONFIG_AMD_MEM_ENCRYPT: a layout without them has none.
        guard let at = btf.offset(of: member, in: "cea_exception_stacks") else { continue }
        let size = try btf.requireMemberSize(of: member, in: "cea_exception_stacks")
        if size > 0 { exception.append((UInt64(at), UInt64(size), kind)) }
      }
    }
    let sp0 = symbols["cpu_tss_rw"] != nil ? try offset("x86_tss.sp0", in: "tss_struct") : nil
    let entrySize = sp0 != nil ? UInt64(try btf.requireSize(of: "entry_stack")) : 0

    // Which task each CPU runs, and its stacks.
    var running: [UInt64: Int] = [:]
    var perCPUStacks: [[KernelStack]] = []
    for cpu in 0..<cpus {
      // Without CONFIG_SMP there is no __per_cpu_offset: per-CPU variables are at their own addresses.
      let perCPU =
        try symbols["__per_cpu_offset"].map { a throws(ELFError) in
          try read(a &+ UInt64(cpu * 8), "__per_cpu_offset[\(cpu)]")
        } ?? 0
      running[try read(runqueues &+ perCPU &+ currOff, "runqueues.curr of CPU \(cpu)")] = cpu
      var stacks: [KernelStack] = []
      if let base = symbols["cea_exception_stacks"], !exception.isEmpty {
        let area = try read(base &+ perCPU, "cea_exception_stacks of CPU \(cpu)")
        if area != 0 {
          for e in exception {
            let bottom = area &+ e.offset
            stacks.append(KernelStack(e.kind, Self.stack(bottom: bottom, size: e.size)))
          }
        }
      }
      if let h = hardirq {
        let ptr = try read(h &+ perCPU, "hardirq_stack_ptr of CPU \(cpu)")
        if ptr != 0 { stacks.append(KernelStack(.irq, Self.stack(top: ptr &+ 8, size: irqSize))) }
      }
      if let tss = symbols["cpu_tss_rw"], let sp0 {
        let top = try read(tss &+ perCPU &+ sp0, "cpu_tss_rw.x86_tss.sp0 of CPU \(cpu)")
        if top != 0 { stacks.append(KernelStack(.entry, Self.stack(top: top, size: entrySize))) }
      }
      perCPUStacks.append(stacks)
    }
    cpuStacks = perCPUStacks

    func task(_ a: UInt64) -> KernelTask? {
      guard let pid = memory.u32(a &+ pidOff), let comm = memory.read(a &+ commOff, 16),
        let stack = memory.u64(a &+ stackOff), let sp = memory.u64(a &+ spOff)
      else { return nil }
      return KernelTask(
        address: a, pid: Int32(bitPattern: pid),
        comm: String(decoding: comm.prefix { $0 != 0 }, as: UTF8.self),
        stack: stack, threadSP: sp, cpu: running[a])
    }

    var out: [KernelTask] = []
    var seen = Set<UInt64>()
    var process = initTask
    // A hostile or torn dump may link its lists into cycles that miss their heads, or
    // share one thread list among many processes: each process node and each thread
    // node is followed once in the whole walk (a thread belongs to one thread group),
    // so the work is linear in the distinct nodes the dump holds, and the walk as a
    // whole is bounded (the kernel's PID_MAX_LIMIT is 4M tasks).
    var processes = Set<UInt64>()
    var nodes = Set<UInt64>()
    var budget = 4_000_000
    while processes.insert(process).inserted && budget > 0 {
      // The process's threads, through signal->thread_head.
      var threads: [UInt64] = [process]
      if let signal = memory.u64(process &+ signalOff), signal != 0 {
        let head = signal &+ threadHeadOff
        var node = memory.u64(head) ?? head
        threads = []
        while node != head && budget > 0 && nodes.insert(node).inserted {
          threads.append(node &- threadNodeOff)
          node = memory.u64(node) ?? head
          budget -= 1
        }
        if threads.isEmpty { threads = [process] }
      }
      for t in threads where seen.insert(t).inserted {
        if let k = task(t) { out.append(k) }
      }
      budget -= 1
      guard let next = memory.u64(process &+ tasksOff) else { break }
      process = next &- tasksOff
      if process == initTask { break }
    }
    // Idle tasks of other CPUs are not on the task list: add the ones running.
    for (a, _) in running where !seen.contains(a) {
      if let k = task(a) { out.append(k) }
    }
    tasks = out.sorted { ($0.pid, $0.cpu ?? -1, $0.address) < ($1.pid, $1.cpu ?? -1, $1.address) }
  }
}
