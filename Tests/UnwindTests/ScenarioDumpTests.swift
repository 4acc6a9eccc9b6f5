import ELF
import Foundation
import TestSupport
import Testing
import Unwind

/// The scenario dumps `scripts/qemu-dump.sh --scenario` writes (`make dumps`):
/// `DIR/<kernel>-<scenario>/` with `vmcore`, `drgn.txt`, `console.log`.
enum ScenarioDumps {
  static var root: String {
    let env = ProcessInfo.processInfo.environment
    return env["ORCTOOL_DUMPS"] ?? ((env["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")) + "/orctool/dumps")
  }

  /// The dump directory of `name` (`6.1-nmi`) with the vmlinux of its kernel, when both are there.
  static func dump(_ name: String) -> (dir: String, vmlinux: String)? {
    let dir = root + "/" + name
    let vmlinux = name.hasPrefix("6.12-") ? Corpus.current?.vmlinux612 : Corpus.current?.vmlinux61
    guard let vmlinux, FileManager.default.fileExists(atPath: dir + "/vmcore"),
      FileManager.default.fileExists(atPath: dir + "/drgn.txt")
    else { return nil }
    return (dir, vmlinux)
  }

  static let all = [
    "6.1-busy", "6.1-oops", "6.1-sysrq-c", "6.1-nmi", "6.1-oops-kaslr",
    "6.12-busy", "6.12-oops", "6.12-sysrq-c", "6.12-nmi", "6.12-oops-kaslr",
  ]
  static var available: [String] { all.filter { dump($0) != nil } }

  /// The console's last oops or panic printout: `CPU: N PID: P`, and its frames as
  /// `sym+0xoff` (` [module]` for a module's), the `RIP:` line where the kernel prints it.
  static func panicPrintout(_ path: String) throws -> (cpu: Int, pid: Int32, frames: [String])? {
    let lines = try String(contentsOfFile: path, encoding: .utf8).split(whereSeparator: \.isNewline).map {
      line -> Substring in
      // "[    5.9] text" -> "text"
      guard line.hasPrefix("["), let close = line.firstIndex(of: "]") else { return line }
      return line[line.index(after: close)...].drop { $0 == " " }
    }
    guard let start = lines.lastIndex(where: { $0.hasPrefix("CPU: ") && $0.contains(" PID: ") }) else { return nil }
    let head = lines[start].split(separator: " ")
    guard let cpu = Int(head[1]), let pidIndex = head.firstIndex(of: "PID:"), let pid = Int32(head[pidIndex + 1])
    else { return nil }
    var frames: [String] = []
    var inTrace = false
    for line in lines[(start + 1)...] {
      if line.hasPrefix("---[ end") || (inTrace && line.contains("</TASK>")) { break }
      if line.hasPrefix("Call Trace:") {
        inTrace = true
        continue
      }
      var text = line.drop { $0 == " " }
      if text.hasPrefix("RIP: ") {
        text = text.dropFirst("RIP: 0010:".count)
      } else if !inTrace || text.hasPrefix("?") || text.hasPrefix("<") {
        continue
      }
      // sym+0xoff/0xsize [module]
      guard let slash = text.firstIndex(of: "/"), text[..<slash].contains("+0x") else { continue }
      let module = text.split(separator: " ").dropFirst().first { $0.hasPrefix("[") }
      frames.append(String(text[..<slash]) + (module.map { " " + $0 } ?? ""))
    }
    return (cpu, pid, frames)
  }

  /// `sym+0xoff/0xsize [module]` -> `sym+0xoff [module]`.
  static func nameOffset(_ frame: String) -> String {
    guard let slash = frame.firstIndex(of: "/") else { return frame }
    let rest = frame[slash...].drop { $0 != " " }
    return String(frame[..<slash]) + rest
  }
}

@Suite(
  "Unwinding crash dumps: module frames, oops, NMI and IRQ stacks, 6.1 and 6.12",
  .enabled(if: !ScenarioDumps.available.isEmpty || Corpus.required))
struct ScenarioDumpTests {
  @Test("make dumps made every scenario of both kernels (when the corpus is required)", .enabled(if: Corpus.required))
  func allThere() {
    #expect(ScenarioDumps.available == ScenarioDumps.all, "missing: run make dumps")
  }

  @Test("every task's trace is drgn's, module frames included", arguments: ScenarioDumps.available)
  func matchesDrgn(_ name: String) throws {
    let (dir, vmlinux) = try #require(ScenarioDumps.dump(name))
    let session = try DumpSession(vmlinux: vmlinux, core: dir + "/vmcore")
    let drgn = try drgnTasks(dir + "/drgn.txt")
    #expect(drgn.count > 60)
    var moduleFrames = 0
    for task in session.tasks.tasks where task.pid != 0 {
      let trace = session.trace(task)
      let expected = try #require(drgn[task.pid], "task \(task.pid) \(task.comm) is not in drgn's list")
      #expect(trace.addresses == expected.pcs, "\(name): task \(task.pid) \(task.comm): \(trace.frames)")
      moduleFrames += trace.frames.filter { $0.hasSuffix(" [orctool_dumptest]") }.count
      if task.cpu == nil { #expect(trace.reliable, "\(name): task \(task.pid) \(task.comm): \(trace.verdict)") }
    }
    // The test module's kthread and the tasks blocked in its read and ioctl: 4 + 4 + 4 frames at least.
    #expect(moduleFrames >= 12, "\(name): \(moduleFrames) frames in the test module")
    let module = try #require(session.modules?.modules.first { $0.name == "orctool_dumptest" })
    #expect(module.orc != nil && module.symbols.count > 10)
  }

  @Test(
    "the panicking CPU's trace is the console's oops or panic printout, through the exception frame",
    arguments: ScenarioDumps.available.filter { !$0.hasSuffix("-busy") })
  func matchesPrintout(_ name: String) throws {
    let (dir, vmlinux) = try #require(ScenarioDumps.dump(name))
    let printout = try #require(try ScenarioDumps.panicPrintout(dir + "/console.log"), "\(name): no printout")
    let session = try DumpSession(vmlinux: vmlinux, core: dir + "/vmcore")
    let task = try #require(session.tasks.tasks.first { $0.pid == printout.pid && $0.cpu == printout.cpu })
    let trace = session.trace(task)
    #expect(trace.reliable, "\(name): \(trace.verdict)")
    let ours = trace.frames.map(ScenarioDumps.nameOffset)
    // The dump is taken after the printout: above panic() the two differ (its
    // dump_stack() against the dump's panic loop); from panic()'s caller down they are one.
    let expected = Array(printout.frames.drop { !$0.hasPrefix("panic+") }.dropFirst())
    let tail = expected.isEmpty ? printout.frames : expected
    #expect(tail.count >= 4, "\(name): \(printout.frames)")
    #expect(Array(ours.suffix(tail.count)) == tail, "\(name): ours \(ours), the printout's \(printout.frames)")
    if name.hasSuffix("-oops") || name.hasSuffix("-oops-kaslr") {
      // The fault in the module: the trace crosses asm_exc_page_fault's pt_regs to the faulting instruction.
      let fault = try #require(ours.firstIndex { $0.hasPrefix("asm_exc_page_fault+") }, "\(ours)")
      #expect(ours[fault + 1].hasPrefix("dumptest_oops_inner+") && ours[fault + 1].hasSuffix("[orctool_dumptest]"))
      #expect(tail.first == ours[fault + 1], "the printout's RIP is the frame after the exception frame")
    }
    if name.hasSuffix("-nmi") {
      // The panic runs on the NMI stack; the trace crosses back to the interrupted idle task's stack.
      let stacks = trace.stacks
      #expect(stacks.first == "NMI" && stacks.last == "TASK", "\(stacks)")
      #expect(stacks.firstIndex(of: "TASK")! > stacks.lastIndex(of: "NMI")!)
    }
  }

  @Test(
    "a CPU stopped by the panic's IPI: its trace crosses from the IRQ stack to the task it interrupted",
    arguments: ScenarioDumps.available.filter { !$0.hasSuffix("-busy") })
  func irqStack(_ name: String) throws {
    let (dir, vmlinux) = try #require(ScenarioDumps.dump(name))
    let session = try DumpSession(vmlinux: vmlinux, core: dir + "/vmcore")
    let traces = session.tasks.tasks.filter { $0.cpu != nil }.map(session.trace)
    let crossing = traces.filter { $0.stacks.first == "IRQ" && $0.stacks.last == "TASK" }
    #expect(!crossing.isEmpty, "\(name): \(traces.map { ($0.pid, $0.stacks) })")
    for t in crossing {
      #expect(t.frames.first?.hasPrefix("stop_this_cpu+") == true, "\(t.frames)")
      #expect(t.reliable, "\(t.verdict)")
    }
  }
}

@Suite("orctool unwind on the crash dumps", .enabled(if: ScenarioDumps.dump("6.1-nmi") != nil))
struct ScenarioCLITests {
  @Test("a trace that leaves the task stack marks each stack as the kernel's printout; --modules lists the modules")
  func markers() throws {
    let (dir, vmlinux) = try #require(ScenarioDumps.dump("6.1-nmi"))
    let arguments = ["unwind", "--vmlinux", vmlinux, "--core", dir + "/vmcore"]
    let idle = try Fixtures.run(Fixtures.orctool, arguments + ["--task", "0"], timeout: 300)
    try #require(idle.status == 0, "\(idle.stderr)")
    let block = try #require(idle.stdout.components(separatedBy: "task 0 ").first { $0.hasPrefix("swapper/0 ") })
    #expect(block.hasPrefix("swapper/0 (running on CPU 0)\n<NMI>\n#0 "), "\(block)")
    #expect(block.contains("\n</NMI>\n<TASK>\n#"), "\(block)")
    #expect(block.hasSuffix("\n</TASK>\nreliable: end of stack\n"), "\(block)")
    let modules = try Fixtures.run(Fixtures.orctool, arguments + ["--modules"], timeout: 300)
    try #require(modules.status == 0, "\(modules.stderr)")
    let lines = modules.stdout.split(separator: "\n")
    #expect(lines.first == "vmlinux ORC from vmlinux; 2 modules")
    #expect(lines.contains { $0.hasPrefix("orctool_dumptest text 0xffffffffc0") && $0.contains(" orc ") })
    let both = try Fixtures.run(Fixtures.orctool, arguments + ["--modules", "--task", "1"], timeout: 60)
    #expect(both.status != 0 && both.stderr.contains("--modules lists modules, not tasks"))
  }
}
