import ArgumentParser
import ELF
import Foundation
import Kernel
import ORC
import Program
import Validation

#if canImport(Glibc)
  import Glibc
#endif

/// `orctool check`: stack validation and ORC generation.
struct CheckCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check",
    abstract: "Validate the stack of every function and generate ORC (objtool 6.1's rules).")

  @Flag(help: "Generate ORC.") var orc = false
  @Flag(help: "The object is part of a module (objtool 6.1 reads it only for --static-call).") var module = false
  @Flag(help: "The object is linked from several units (else a multi-unit object is reported, as objtool does).")
  var link = false
  @Flag(help: "After each warning on a path, how validation got there (objtool's --backtrace).")
  var backtrace = false
  @Flag(help: "Frame-pointer checks: calls need a frame, BP is not scratch (objtool's --stackval).") var stackval =
    false
  @Flag(name: .customLong("dry-run"), help: "Don't write the object.") var dryRun = false
  @Flag(help: "Keep the original as FILE.orig before writing (objtool's --backup).") var backup = false
  @Flag(name: .customLong("print-orc"), help: "Print the generated ORC in objtool's --dump=orc text.") var printORC =
    false
  @Flag(name: .customLong("no-unreachable"), help: "Skip the unreachable-instruction check.") var noUnreachable = false
  @Flag(help: "Validate STAC/CLAC regions for SMAP (objtool's --uaccess).") var uaccess = false
  @Option(
    name: .customLong("hacks"),
    help: ArgumentHelp("Patch toolchain limitations (objtool's --hacks; 'noinstr' so far).", valueName: "noinstr"))
  var hacks: [String] = []
  @Option(
    name: .customLong("disas"),
    help: ArgumentHelp(
      "Disassemble the functions matching PATTERN (shell globs, comma-separated) with each instruction's CFI and ORC entry and the alternative streams inline (objtool's newest --disas).",
      valueName: "PATTERN"))
  var disas: String?
  @OptionGroup var generation: GenerationOptions
  @Option(help: "text (objtool's warning lines) or json.") var format: OutputFormat = .text
  @Option(help: "Threads (default: every core). The output is the same for any number.") var jobs: Int?
  @Argument(help: "The object file.") var file: String

  func validate() throws {
    if !orc && printORC { throw ValidationError("--print-orc needs --orc") }
    for h in hacks {
      let parsed = Hacks(h)
      if parsed.jumpLabel { throw ValidationError("--hacks=jump_label is not supported yet (only --hacks=noinstr)") }
      if !parsed.noinstr { throw ValidationError("--hacks=\(h): objtool's hacks are jump_label and noinstr") }
    }
    if disas != nil && format == .json {
      throw ValidationError("--disas prints text; for JSON use: orctool disas --format json PATTERN FILE")
    }
    if let disas, disasPatterns(disas).isEmpty { throw ValidationError("--disas needs a function pattern") }
  }

  func run() throws {
    var options = CheckOptions()
    options.orc = orc
    options.stackValidation = stackval
    options.dryRun = dryRun
    options.backup = backup
    options.noUnreachable = noUnreachable
    options.printORC = printORC
    options.json = format == .json
    options.module = module
    options.link = link
    options.backtrace = backtrace
    options.disas = disas.map(disasPatterns) ?? []
    options.actions = CheckActions(uaccess: uaccess, hackNoinstr: !hacks.isEmpty)
    options.generation = generation.forced
    options.jobs = jobs ?? defaultJobs()
    let status = runCheck(file: file, options)
    if status != 0 { throw ExitCode(status) }
  }
}

/// What objtool's `check` is asked to do (`struct opts` of tools/objtool/builtin-check.c, the part done so far).
struct CheckOptions {
  var orc = false
  var stackValidation = false
  var dryRun = false
  var backup = false
  var noUnreachable = false
  var printORC = false
  var json = false
  /// `--module`: objtool 6.1 reads it only for `--static-call` (a module's static-call
  /// keys may be unexported); it changes nothing the actions done so far do.
  var module = false
  /// `--link`: the object is linked from several units. Without it, objtool 6.1 says
  /// "Linked object detected, forcing --link" for an object with several `STT_FILE` symbols.
  var link = false
  var generation: KernelGeneration? = nil
  var jobs = defaultJobs()
  /// objtool's `--backtrace`: after each warning on a path, where each stretch of the path
  /// was entered (`(branch)`, `(alt)`) back to the function (`<=== (sym)`).
  var backtrace = false
  /// `--disas=PATTERN`: the functions whose names match these globs, disassembled on
  /// standard output after the warnings, with their CFI and ORC.
  var disas: [String] = []
  /// `--uaccess`, `--hacks=noinstr`: what the passes and validation do differently.
  var actions = CheckActions()
  /// Whether the functions are validated: always for `orctool check`; on objtool's command
  /// line only for `--orc`, `--stackval` and `--uaccess` (`check()`), not `--hacks` alone.
  var validate = true
  /// objtool's exit status: objtool 6.1 and 6.12 exit 0 after a fatal warning (check.c:
  /// "For now, don't fail the kernel build on fatal warnings"), so the object is
  /// left without ORC and the build goes on. `orctool check` exits 1 instead.
  var objtoolExitStatus = false
}

/// objtool's `has_multiple_files()`: more than one `STT_FILE` symbol.
func hasMultipleFiles(_ program: Program) throws(ELFError) -> Bool {
  var files = 0
  for k in 0..<program.symbols.count where try program.symbols.symbol(at: k).type == .file {
    files += 1
    if files > 1 { return true }
  }
  return false
}

/// Validates `file` and (with `orc`) writes its ORC, printing the diagnostics in
/// objtool's format (or JSON); returns the exit status. Shared by `orctool check`
/// and objtool's own command line (which parses its flags by hand: start-up time
/// counts when kbuild runs it once per object).
func runCheck(file: String, _ options: CheckOptions) -> Int32 {
  func report(_ e: ELFError) {
    if case .objtool = e.kind {
      if options.json {
        emitJSON(file: file, [Diagnostic(.error, place: nil, message: e.message)])
      } else {
        writeStandardError(Array("\(file): warning: objtool: \(e.message)\n".utf8))
      }
    } else {
      printError(e.description)
    }
  }
  let validated = Result(catching: { () throws(ELFError) -> (Validator, ORCLayout) in
    let elf = try ELFFile(path: file)
    let generation = try resolveGeneration(forced: options.generation, for: elf)
    let program = try Program(file: elf)
    var link = options.link
    if !options.link, try hasMultipleFiles(program) {
      writeStandardError(Array("error: objtool: Linked object detected, forcing --link\n".utf8))
      link = true
    }
    let graph = try ControlFlowGraph(
      program: program, generation: generation, jobs: options.jobs, actions: options.actions)
    let v = Validator(
      graph: graph, stackValidation: options.stackValidation,
      recordPaths: options.backtrace || options.json)
    v.link = link
    if options.validate {
      v.run(noUnreachable: options.noUnreachable)
    }
    return (v, ORCLayout.of(generation))
  })
  func failure(_ e: ELFError) -> Int32 {
    report(e)
    if case .objtool = e.kind, options.objtoolExitStatus { return 0 }
    return 1
  }
  guard case .success(let (v, layout)) = validated else {
    if case .failure(let e) = validated { return failure(e) }
    return 1
  }
  if options.json {
    emitJSON(file: file, v.diagnostics)
  } else {
    // objtool's own format, unprefixed, so that its consumers read ours.
    let text = v.diagnostics.map { d in
      ([d.objtoolText] + (options.backtrace ? Validator.backtrace(d) : [])).map {
        "\(file): warning: objtool: \($0)\n"
      }.joined()
    }.joined()
    writeStandardError(Array(text.utf8))
  }
  if !options.disas.isEmpty {
    let functions = v.disassembly(matching: options.disas, layout: layout)
    if functions.isEmpty {
      writeStandardError(Array("\(file): no function matches --disas=\(options.disas.joined(separator: ","))\n".utf8))
    }
    writeStandardOutput(Array(Validator.disassemblyText(functions).utf8))
  }
  let elf = v.graph.program.file
  let edits = v.graph.edits
  let entries = options.orc ? v.orcEntries(layout: layout) : []
  if options.printORC {
    var out: [UInt8] = []
    for (s, o, e) in entries {
      out += Array("\(elf.sections[s].name)+\(String(o, radix: 16)):".utf8)
      ORCDump.appendEntry(e, layout: layout, to: &out)
    }
    writeStandardOutput(out)
  }
  guard !options.dryRun, !entries.isEmpty || !edits.isEmpty else { return 0 }
  let written = Result(catching: { () throws(ELFError) in
    // What objtool wrote into the object while reading it (--hacks=noinstr), then the ORC.
    var bytes = try elf.applying(edits)
    if !entries.isEmpty {
      let edited = edits.isEmpty ? elf : try ELFFile(source: MappedFile(copying: bytes, path: file))
      bytes = try ORCWriter.bytes(of: edited, entries: entries, layout: layout)
    }
    if options.backup { try replaceFile(atPath: file + ".orig", with: [UInt8](elf.source.bytes)) }
    try replaceFile(atPath: file, with: bytes)
  })
  if case .failure(let e) = written { return failure(e) }
  return 0
}

/// One JSON object per diagnostic: `file`, `kind`, `location` (objtool's `func+0xoff`,
/// empty for findings about a whole function or section), `message`, and `related`
/// places when there are any.
func emitJSON(file: String, _ diagnostics: [Diagnostic]) {
  struct Item: Encodable {
    var file: String
    var kind: String
    var location: String
    var message: String
    var related: [Related]?
    /// The path validation took to the finding (`orctool explain`'s steps); absent off a path.
    var path: [Diagnostic.PathStep]?
    struct Related: Encodable {
      var role: String
      var location: String
    }
  }
  let items = diagnostics.map { d in
    Item(
      file: file, kind: d.kind.rawValue, location: d.place?.text ?? "", message: d.message,
      related: d.related.isEmpty ? nil : d.related.map { Item.Related(role: $0.role, location: $0.place.text) },
      path: d.path.isEmpty ? nil : d.path)
  }
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
  writeStandardOutput(Array((try? encoder.encode(items)) ?? Data()) + [0x0a])
}

/// The globs of a `--disas` value: comma- or space-separated.
func disasPatterns(_ value: String) -> [String] {
  value.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
}

/// Every online core.
func defaultJobs() -> Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
