import ArgumentParser
import Foundation
#if canImport(Glibc)
  import Glibc
#endif
import ELF
import Kernel
import ORC
import Validation

/// `orctool check`: stack validation and ORC generation (work in progress:
/// 6.1 objects; generated ORC is printed, not yet written into the object).
struct CheckCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check",
    abstract: "Validate the stack of every function and generate ORC (6.1 objects; --dry-run only so far).")

  @Flag(help: "Generate ORC.") var orc = false
  @Flag(help: "The object is a module.") var module = false
  @Flag(help: "The object is a linked object.") var link = false
  @Flag(help: "Frame-pointer checks: calls need a frame, BP is not scratch (objtool's --stackval).") var stackval = false
  @Flag(name: .customLong("dry-run"), help: "Don't write the object.") var dryRun = false
  @Flag(help: "Keep the original as FILE.orig before writing (objtool's --backup).") var backup = false
  @Flag(name: .customLong("print-orc"), help: "Print the generated ORC in objtool's --dump=orc text.") var printORC = false
  @Flag(name: .customLong("no-unreachable"), help: "Skip the unreachable-instruction check.") var noUnreachable = false
  @OptionGroup var generation: GenerationOptions
  @Option(help: "text (objtool's warning lines) or json.") var format: OutputFormat = .text
  @Option(help: "Threads (default: every core). The output is the same for any number.") var jobs: Int?
  @Argument(help: "The object file.") var file: String

  func validate() throws {
    if !orc && printORC { throw ValidationError("--print-orc needs --orc") }
  }

  func run() throws {
    let status = runCheck(file: file, orc: orc, dryRun: dryRun, backup: backup, noUnreachable: noUnreachable,
                          printORC: printORC, generation: generation.forced, json: format == .json,
                          stackValidation: stackval, jobs: jobs ?? defaultJobs())
    if status != 0 { throw ExitCode(status) }
  }
}

/// Validates `file` and (with `orc`) writes its ORC, printing warnings in
/// objtool's format; returns the exit status. Shared by `orctool check` and
/// objtool's own command line (which parses its flags by hand: start-up time
/// counts when kbuild runs it once per object).
func runCheck(file: String, orc: Bool, dryRun: Bool, backup: Bool, noUnreachable: Bool, printORC: Bool,
              generation: KernelGeneration?, json: Bool = false, stackValidation: Bool = false,
              jobs: Int = defaultJobs()) -> Int32 {
  func report(_ e: ELFError) {
    if case .objtool = e.kind {
      writeStandardError(Array("\(file): warning: objtool: \(e.message)\n".utf8))
    } else {
      printError(e.description)
    }
  }
  let validated = Result(catching: { () throws(ELFError) -> (Validator, ORCLayout) in
    let elf = try ELFFile(path: file)
    let gen = generation ?? GenerationDetector.detect(elf)?.0 ?? .v6_1
    let v = Validator(program: try ObjectProgram(file: elf, jobs: jobs))
    v.stackValidation = stackValidation
    v.run(noUnreachable: noUnreachable)
    return (v, ORCLayout.of(gen))
  })
  guard case .success(let (v, layout)) = validated else {
    if case .failure(let e) = validated { report(e) }
    return 1
  }
  if json {
    // One object per diagnostic: {"file", "location", "message"} (location empty for file-wide ones).
    let items = v.warnings.map { w -> [String: String] in
      if let r = w.range(of: ": "), !w[..<r.lowerBound].contains(" ") {
        return ["file": file, "location": String(w[..<r.lowerBound]), "message": String(w[r.upperBound...])]
      }
      return ["file": file, "location": "", "message": w]
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    writeStandardOutput(Array((try? encoder.encode(items)) ?? Data()) + [0x0a])
  } else {
    // objtool's own format, unprefixed, so that its consumers read ours.
    let text = v.warnings.map { "\(file): warning: objtool: \($0)\n" }.joined()
    writeStandardError(Array(text.utf8))
  }
  guard orc else { return 0 }
  let entries = v.orcEntries(layout: layout)
  if printORC {
    var out: [UInt8] = []
    for (s, o, e) in entries {
      out += Array("\(v.program.file.sections[s].name)+\(String(o, radix: 16)):".utf8)
      ORCDump.appendEntry(e, layout: layout, to: &out)
    }
    writeStandardOutput(out)
  }
  guard !dryRun, !entries.isEmpty else { return 0 }
  let written = Result(catching: { () throws(ELFError) in
    let bytes = try ORCWriter.bytes(of: v.program.file, entries: entries, layout: layout)
    if backup { try replaceFile(atPath: file + ".orig", with: [UInt8](v.program.file.source.bytes)) }
    try replaceFile(atPath: file, with: bytes)
  })
  if case .failure(let e) = written {
    report(e)
    return 1
  }
  return 0
}

/// Every online core.
func defaultJobs() -> Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
