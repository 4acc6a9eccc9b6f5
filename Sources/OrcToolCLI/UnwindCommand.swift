import ArgumentParser
import ELF
import Foundation
import Kernel
import Unwind

/// `orctool unwind`: stack traces of a dumped kernel's tasks, with a reliability verdict.
struct UnwindCommand: ParsableCommand {
  /// `FILE: warning: MESSAGE (at offset 0xOFF)` on standard error.
  func printWarning(_ e: ELFError) {
    printError("\(e.path): warning: \(e.message) (at offset 0x\(String(e.offset, radix: 16)))")
  }

  static let configuration = CommandConfiguration(
    commandName: "unwind",
    abstract: "Unwind the tasks of a guest or kdump memory dump with the vmlinux's ORC tables.")

  @Option(help: "The vmlinux the dumped kernel was built from (symbols, .BTF, ORC).") var vmlinux: String
  @Option(
    help: """
      The memory dump: an ELF core (QEMU's dump-guest-memory), or kdump-compressed (makedumpfile, or \
      QEMU's kdump-zlib format; plain or flattened; zlib or uncompressed pages).
      """) var core: String
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
      // What a partial dump lacks explains an error about memory it does not have.
      if e.path == core, let partial = (try? openMemoryDump(path: core))?.partial { printWarning(partial) }
      printError(e.description)
      throw ExitCode.failure
    }
    // A partial dump is read as far as it goes: said once, then the traces (memory it lacks reads as unreadable).
    if let partial = session.dump.partial { printWarning(partial) }
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
    if let kdump = session.dump as? KdumpCompressed, let first = kdump.firstPageError {
      printError(
        "\(core): warning: \(kdump.pageErrors) reads of dumped pages failed; the first: \(first.message) "
          + "(at offset 0x\(String(first.offset, radix: 16)))")
    }
  }
}
