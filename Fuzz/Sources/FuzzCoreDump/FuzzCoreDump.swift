import ELF
import FuzzSupport
import Kernel
import ORC
import Program
import Unwind

#if canImport(Glibc)
  import Glibc
#endif

/// libFuzzer entry: the unwinder's dump readers over arbitrary core bytes.
/// CoreDump (program headers, `NT_PRSTATUS` and `VMCOREINFO` notes, physical
/// reads), KernelMemory (the guest's 4- and 5-level page tables: translations
/// of each CPU's ip and sp, the kernel map, and addresses from the input's
/// tail; reads across pages). With a vmlinux in `ORCTOOL_FUZZ_VMLINUX`
/// (loaded once), also the task walk (KernelTasks, offsets from its `.BTF`) and
/// the ORC unwinder over every task's stack, as DumpSession starts them.
/// `CoreDump` opens only paths: the input is handed over in a memfd.
/// With `ORCTOOL_FUZZ_DUMPSESSION=1` each input also goes through DumpSession
/// itself (its init and `trace` of every task): real, but slow (the vmlinux's
/// symbols and `.BTF` are read again for each input).
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let core = Context.core
  core.set(data, size)
  let dump: CoreDump
  do { dump = try CoreDump(path: core.path) } catch {
    ProcessInfo.trace("CoreDump: \(error)")
    return 0
  }
  for key in ["KERNELOFFSET", "NUMBER(phys_base)", "SYMBOL(init_top_pgt)", "NUMBER(pgtable_l5_enabled)"] {
    _ = dump.vmcoreNumber(key, hex: true)
    _ = dump.vmcoreNumber(key, hex: false)
    _ = try? dump.requireVMCOREINFO(key, hex: false)
  }
  let words = (0..<4).map { tailWord(data, size, $0) }
  for w in words {
    _ = dump.readPhysical(w, 8)
    _ = dump.readPhysical(w, Int(w >> 52))
  }
  let context = Context.vmlinux
  let memory: KernelMemory
  do { memory = try KernelMemory(dump: dump, initTopPgt: context?.symbols["init_top_pgt"] ?? words[0]) } catch {
    ProcessInfo.trace("KernelMemory: \(error)")
    return 0
  }
  var addresses = [KernelMemory.startKernelMap] + words
  for r in dump.cpus.prefix(64) { addresses += [r.ip, r.sp, r.bp] }
  for a in addresses {
    _ = memory.translate(a)
    _ = memory.u64(a)
    _ = memory.u32(a)
    _ = memory.read(a, 0x1800)
  }
  if let context {
    if ProcessInfo.dumpSession, let session = try? DumpSession(vmlinux: context.path, core: core.path) {
      for task in session.tasks.tasks.prefix(64) { _ = session.trace(task) }
    }
    context.walk(dump: dump, memory: memory)
  }
  return 0
}

enum ProcessInfo {
  static let dumpSession = getenv("ORCTOOL_FUZZ_DUMPSESSION").map { String(cString: $0) == "1" } ?? false
  /// `ORCTOOL_FUZZ_VERBOSE=1`: say where each input stopped (for checking the seeds).
  static let verbose = getenv("ORCTOOL_FUZZ_VERBOSE").map { String(cString: $0) == "1" } ?? false
  static func trace(_ message: @autoclosure () -> String) { if verbose { print("FuzzCoreDump: " + message()) } }
}

/// What DumpSession reads from the vmlinux, read once per process.
final class Context: Sendable {
  static let core = MemoryFile(name: "fuzz-core")
  static let vmlinux: Context? = {
    guard let p = getenv("ORCTOOL_FUZZ_VMLINUX") else { return nil }
    do {
      return try Context(path: String(cString: p))
    } catch {
      print("FuzzCoreDump: cannot read the vmlinux: \(error)")
      exit(2)
    }
  }()

  let path: String
  let symbols: [String: UInt64]
  let btf: BTF
  let taskFrame: InactiveTaskFrame
  let unwinder: Unwinder

  init(path: String) throws(ELFError) {
    self.path = path
    let vmlinux = try ELFFile(path: path)
    let policy = GenerationPolicy(forced: nil, environment: [:])
    let (generation, _) = try policy.resolve(vmlinux)
    guard let table = try ORCTable.load(from: vmlinux, generation: generation) else {
      throw ELFError(.missingSection(".orc_unwind"), path: path, offset: 0)
    }
    let functions = try FunctionTable(file: vmlinux)
    var symbols: [String: UInt64] = [:]
    for i in 0..<functions.symbols.count {
      let s = try functions.symbols.symbol(at: i)
      guard s.isDefined, let name = try? functions.symbols.name(of: s), KernelTasks.symbolNames.contains(name) else {
        continue
      }
      if symbols[name] == nil { symbols[name] = s.value }
    }
    self.symbols = symbols
    let text = vmlinux.sections.filter { $0.flags.contains(.execInstr) && $0.flags.contains(.alloc) && $0.size > 0 }
      .filter { $0.address &+ $0.size >= $0.address }.map { $0.address..<($0.address + $0.size) }
    unwinder = Unwinder(lookup: ORCLookup(table: table, textEnd: text.map(\.upperBound).max()), text: text)
    btf = try BTF(file: vmlinux)
    taskFrame = try InactiveTaskFrame(btf: btf)
  }

  /// The task walk and each task's unwind, started as DumpSession.trace starts them.
  func walk(dump: CoreDump, memory: KernelMemory) {
    guard let slide = try? dump.requireVMCOREINFO("KERNELOFFSET", hex: true) else { return }
    let slid = symbols.mapValues { $0 &+ slide }
    let tasks: KernelTasks
    do {
      let memory = try KernelMemory(dump: dump, initTopPgt: slid["init_top_pgt"])
      tasks = try KernelTasks(symbols: slid, btf: btf, memory: memory, cpus: dump.cpus.count)
    } catch {
      ProcessInfo.trace("KernelTasks: \(error)")
      return
    }
    ProcessInfo.trace("\(tasks.tasks.count) tasks")
    for task in tasks.tasks.prefix(64) {
      let (stackEnd, o1) = task.stack.addingReportingOverflow(KernelTasks.threadSize)
      guard !o1 else { continue }
      var stacks = [KernelStack(.task, task.stack..<stackEnd)]
      if let cpu = task.cpu, cpu < dump.cpus.count {
        let r = dump.cpus[cpu]
        if cpu < tasks.cpuStacks.count { stacks += tasks.cpuStacks[cpu] }  // IRQ, exception and entry stacks
        _ = unwinder.unwind(
          ip: r.ip, sp: r.sp, bp: r.bp, signal: true,
          startRegisters: [16: r.r13, 32: r.bp, 56: r.r10, 96: r.dx, 112: r.di], stacks: stacks, memory: memory)
      } else {
        let frame = task.threadSP
        guard let ret = memory.u64(frame &+ taskFrame.returnAddress), let bp = memory.u64(frame &+ taskFrame.bp)
        else { continue }
        _ = unwinder.unwind(
          ip: ret, sp: frame &+ taskFrame.size, bp: bp, signal: false, stacks: stacks, memory: memory)
      }
    }
  }
}
