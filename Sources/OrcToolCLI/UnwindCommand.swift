import ArgumentParser
import ELF
import Foundation
import Kernel
import Unwind

/// `orctool unwind`: stack traces of a dumped kernel's tasks, with a reliability verdict.
struct UnwindCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "unwind",
    abstract: "Unwind the tasks of a QEMU guest memory dump with the vmlinux's ORC tables.")

  @Option(help: "The vmlinux the dumped kernel was built from (symbols, .BTF, ORC).") var vmlinux: String
  @Option(help: "The ELF core written by QEMU's dump-guest-memory.") var core: String
  @Option(help: "Only the task with this PID.") var task: Int32?
  @Flag(help: "Every task (the default).") var all = false
  @OptionGroup var generation: GenerationOptions
  @Option(help: "text or json.") var format: OutputFormat = .text

  func validate() throws {
    if all && task != nil { throw ValidationError("--all and --task exclude each other") }
  }

  func run() throws {
    let session: DumpSession
    switch Result(catching: { () throws(ELFError) -> DumpSession in
      try DumpSession(vmlinux: vmlinux, core: core, generation: generation.policy)
    }) {
    case .success(let s): session = s
    case .failure(let e):
      printError(e.description)
      throw ExitCode.failure
    }
    let selected = session.tasks.tasks.filter { task == nil || $0.pid == task }
    if let task, selected.isEmpty {
      printError("\(core): error: no task with PID \(task)")
      throw ExitCode.failure
    }
    let traces = selected.map(session.trace)
    switch format {
    case .text:
      var out = ""
      for t in traces {
        out += "task \(t.pid) \(t.comm)\(t.cpu.map { " (running on CPU \($0))" } ?? "")\n"
        for (i, f) in t.frames.enumerated() { out += "#\(i) \(f)\n" }
        out += t.verdict + "\n"
      }
      writeStandardOutput(Array(out.utf8))
    case .json:
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      writeStandardOutput(Array(try encoder.encode(traces)) + [0x0a])
    }
  }
}
