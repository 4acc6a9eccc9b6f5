import ArgumentParser
import ELF
import FoundationEssentials
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
  @Option(
    help: """
      A file whose .BTF gives the structure layouts, for a vmlinux built without BTF \
      (another vmlinux of the same configuration).
      """)
  var btf: String?
  @Option(help: "Only the task with this PID.") var task: Int32?
  @Flag(help: "Every task (the default).") var all = false
  @Flag(help: "List the loaded modules the dump holds (text, ORC entries, symbols) instead of traces.")
  var modules = false
  @OptionGroup var generation: GenerationOptions
  @Option(help: "text or json.") var format: OutputFormat = .text

  func validate() throws {
    if all && task != nil { throw ValidationError("--all and --task exclude each other") }
    if modules && (all || task != nil) { throw ValidationError("--modules lists modules, not tasks") }
  }

  func run() throws {
    let session: DumpSession
    switch Result(catching: { () throws(ELFError) -> DumpSession in
      try DumpSession(vmlinux: vmlinux, core: core, generation: generation.policy, btf: btf)
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
    if modules {
      let list = session.modules?.modules ?? []
      switch format {
      case .text:
        var out = "vmlinux ORC from \(session.orcSource.rawValue); \(list.count) modules\n"
        for m in list {
          let text = m.text.map { "0x\(String($0.lowerBound, radix: 16))-0x\(String($0.upperBound, radix: 16))" }
          out +=
            "\(m.name) text \(text.joined(separator: ",")) orc \(m.orc?.entries.count ?? 0) symbols \(m.symbols.count)\n"
        }
        writeStandardOutput(Array(out.utf8))
      case .json:
        struct Row: Encodable {
          var name: String
          var text: [[UInt64]]
          var orcEntries: Int
          var symbols: Int
        }
        let rows = list.map {
          Row(
            name: $0.name, text: $0.text.map { [$0.lowerBound, $0.upperBound] }, orcEntries: $0.orc?.entries.count ?? 0,
            symbols: $0.symbols.count)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        writeStandardOutput(Array(try encoder.encode(rows)) + [0x0a])
      }
      return
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
        // As the kernel's show_trace_log_lvl(): a trace that crosses stacks marks each one.
        let marked = t.stacks.contains { $0 != "TASK" }
        var current: String? = nil
        for (i, f) in t.frames.enumerated() {
          let stack = i < t.stacks.count ? t.stacks[i] : ""
          if marked && stack != current {
            if let c = current, !c.isEmpty { out += "</\(c)>\n" }
            if !stack.isEmpty { out += "<\(stack)>\n" }
            current = stack
          }
          out += "#\(i) \(f)\n"
        }
        if marked, let c = current, !c.isEmpty { out += "</\(c)>\n" }
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
