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
  /// Per CPU, the top of its hardirq stack (`hardirq_stack_ptr` + 8).
  public let irqStackTops: [UInt64]

  /// `THREAD_SIZE` on x86-64 without KASAN (arch/x86/include/asm/page_64_types.h).
  public static let threadSize: UInt64 = 16384
  /// `IRQ_STACK_SIZE`.
  public static let irqStackSize: UInt64 = 16384

  /// The symbols the walk needs, by name.
  public static let symbolNames: Set<String> = ["init_task", "runqueues", "__per_cpu_offset", "hardirq_stack_ptr",
                                                "init_top_pgt"]

  /// Reads every task through `memory`; `symbols` holds the addresses of `symbolNames`.
  public init(symbols: [String: UInt64], btf: BTF, memory: KernelMemory, cpus: Int) throws(ELFError) {
    func need(_ v: Int?, _ what: String) throws(ELFError) -> UInt64 {
      guard let v else { throw ELFError(.malformed("BTF has no \(what)"), path: memory.dump.file.path, offset: 0) }
      return UInt64(v)
    }
    guard let initTask = symbols["init_task"] else {
      throw ELFError(.malformed("the vmlinux has no init_task symbol"), path: memory.dump.file.path, offset: 0)
    }
    let tasksOff = try need(btf.offset(of: "tasks", in: "task_struct"), "task_struct.tasks")
    let pidOff = try need(btf.offset(of: "pid", in: "task_struct"), "task_struct.pid")
    let commOff = try need(btf.offset(of: "comm", in: "task_struct"), "task_struct.comm")
    let stackOff = try need(btf.offset(of: "stack", in: "task_struct"), "task_struct.stack")
    let spOff = try need(btf.offset(of: "thread.sp", in: "task_struct"), "task_struct.thread.sp")
    let signalOff = try need(btf.offset(of: "signal", in: "task_struct"), "task_struct.signal")
    let threadNodeOff = try need(btf.offset(of: "thread_node", in: "task_struct"), "task_struct.thread_node")
    let threadHeadOff = try need(btf.offset(of: "thread_head", in: "signal_struct"), "signal_struct.thread_head")
    let currOff = btf.offset(of: "curr", in: "rq")

    // Which task each CPU runs.
    var running: [UInt64: Int] = [:]
    var irqTops: [UInt64] = []
    for cpu in 0..<cpus {
      let perCPU = symbols["__per_cpu_offset"].flatMap { memory.u64($0 + UInt64(cpu * 8)) } ?? 0
      if let rq = symbols["runqueues"], let currOff, let curr = memory.u64(rq &+ perCPU &+ UInt64(currOff)) {
        running[curr] = cpu
      }
      if let h = symbols["hardirq_stack_ptr"], let top = memory.u64(h &+ perCPU) { irqTops.append(top &+ 8) }
    }
    irqStackTops = irqTops

    func task(_ a: UInt64) -> KernelTask? {
      guard let pid = memory.u32(a + pidOff), let comm = memory.read(a + commOff, 16),
        let stack = memory.u64(a + stackOff), let sp = memory.u64(a + spOff)
      else { return nil }
      return KernelTask(address: a, pid: Int32(bitPattern: pid),
                        comm: String(decoding: comm.prefix { $0 != 0 }, as: UTF8.self),
                        stack: stack, threadSP: sp, cpu: running[a])
    }

    var out: [KernelTask] = []
    var seen = Set<UInt64>()
    var process = initTask
    for _ in 0..<1_000_000 {
      // The process's threads, through signal->thread_head.
      var threads: [UInt64] = [process]
      if let signal = memory.u64(process + signalOff), signal != 0 {
        let head = signal + threadHeadOff
        var node = memory.u64(head) ?? head
        var n = 0
        threads = []
        while node != head && n < 100_000 {
          threads.append(node &- threadNodeOff)
          node = memory.u64(node) ?? head
          n += 1
        }
        if threads.isEmpty { threads = [process] }
      }
      for t in threads where seen.insert(t).inserted {
        if let k = task(t) { out.append(k) }
      }
      guard let next = memory.u64(process + tasksOff) else { break }
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
