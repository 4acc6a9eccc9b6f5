import ArgumentParser
import Dispatch
import ELF
import FoundationEssentials
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
  @Flag(help: "Indirect calls and jumps are warned about; .retpoline_sites lists the retpoline thunk calls.")
  var retpoline = false
  @Flag(help: "Plain returns are warned about; .return_sites lists the return thunk jumps.") var rethunk = false
  @Flag(help: "A return or indirect jump must be followed by int3 (straight-line speculation).") var sls = false
  @Flag(name: .customLong("static-call"), help: ".static_call_sites lists the static calls.") var staticCall = false
  @Flag(help: "STAC/CLAC regions are validated for SMAP (objtool's --uaccess).") var uaccess = false
  @Flag(help: "Noinstr code calls only noinstr code (objtool's --noinstr; needs --link).") var noinstr = false
  @Flag(help: "Calls to __fentry__ become NOPs listed in __mcount_loc (objtool's --mcount).") var mcount = false
  @Flag(
    help:
      "Addresses of code taken must name an ENDBR; .ibt_endbr_seal lists the others (objtool's --ibt; needs --link).")
  var ibt = false
  @Flag(help: "Entry code untrains the return predictor before any return (objtool's --unret; needs --link).")
  var unret = false
  @Flag(help: "Print objtool's statistics on standard output (objtool's --stats).") var stats = false
  @Flag(name: .customLong("sec-address"), help: "Places in warnings also name their section and offset.")
  var secAddress = false
  @Option(
    name: .customLong("hacks"),
    help: ArgumentHelp(
      "Patch toolchain limitations: jump_label (static-key jumps objtool NOPs become NOPs), noinstr (instrumentation calls in noinstr code become NOPs).",
      valueName: "jump_label,noinstr"))
  var hacks: [String] = []
  @Flag(
    help:
      "The object is part of a module (a missing static-call key is no error; .init.text is checked for retpolines).")
  var module = false
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
    if disas != nil && format == .json {
      throw ValidationError("--disas prints text; for JSON use: orctool disas --format json PATTERN FILE")
    }
    if let disas, disasPatterns(disas).isEmpty { throw ValidationError("--disas needs a function pattern") }
  }

  func run() throws {
    var options = CheckOptions()
    options.actions.validateFunctions = true
    options.actions.orc = orc
    options.actions.stackValidation = stackval
    options.actions.retpoline = retpoline
    options.actions.rethunk = rethunk
    options.actions.sls = sls
    options.actions.staticCall = staticCall
    options.actions.uaccess = uaccess
    options.actions.noinstr = noinstr
    options.actions.mcount = mcount
    options.actions.ibt = ibt
    options.actions.unret = unret
    options.actions.stats = stats
    options.sectionAddresses = secAddress
    options.actions.noUnreachable = noUnreachable
    options.actions.module = module
    for h in hacks {
      if let refused = options.addHacks(h) {
        throw ValidationError("--hacks=\(refused): objtool's hacks are jump_label and noinstr")
      }
    }
    options.dryRun = dryRun
    options.backup = backup
    options.printORC = printORC
    options.json = format == .json
    options.link = link
    options.backtrace = backtrace
    options.disas = disas.map(disasPatterns) ?? []
    options.generation = generation.forced
    options.jobs = jobs ?? defaultJobs()
    options.exitsAfter = true
    let status = runCheck(file: file, options)
    if status != 0 { throw ExitCode(status) }
  }
}

/// What objtool's `check` is asked to do (`struct opts` of tools/objtool/builtin-check.c,
/// the part done so far): the actions ``Check`` carries out, and how the results are shown.
struct CheckOptions {
  /// The actions (`--orc`, `--retpoline`, …) and `--module`, `--link`, `--no-unreachable`.
  var actions = CheckActions()
  var dryRun = false
  var backup = false
  var printORC = false
  var json = false
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
  /// objtool's exit status: objtool 6.1 and 6.12 exit 0 after a fatal warning (check.c:
  /// "For now, don't fail the kernel build on fatal warnings"), so the object is
  /// left without ORC and the build goes on. `orctool check` exits 1 instead.
  var objtoolExitStatus = false
  /// objtool's `--sec-address`: places in warnings name their section and offset too.
  var sectionAddresses = false
  /// The process exits after this check (one object, not a batch): what it built is not freed.
  var exitsAfter = false

  /// The `--hacks` values done so far (objtool's `parse_hacks()` takes a comma-separated list;
  /// no value means every hack).
  static let hacksDone: Set<String> = ["jump_label", "noinstr"]
  /// objtool 6.1's hacks (`--hacks=jump_label,noinstr`).
  static let hacksKnown: Set<String> = ["jump_label", "noinstr"]

  /// Takes one `--hacks` value (nil: `--hacks` alone, every hack); the name of a hack
  /// not done yet, if the value asks for one, or the value when it names none
  /// (`parse_hacks()` fails then).
  mutating func addHacks(_ value: String?) -> String? {
    // parse_hacks() looks for each name with strstr().
    let asked = value.map { v in Self.hacksKnown.filter { v.contains($0) } } ?? Self.hacksKnown
    if asked.isEmpty { return value ?? "" }
    if let refused = asked.subtracting(Self.hacksDone).sorted().first { return refused }
    if asked.contains("jump_label") { actions.hackJumpLabel = true }
    if asked.contains("noinstr") { actions.hackNoinstr = true }
    return nil
  }
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

/// Validates `file` and writes what the actions create (ORC, the call-site sections, the
/// `--hacks` rewrites) into it, printing the diagnostics in objtool's format (or JSON);
/// returns the exit status. Shared by `orctool check` and objtool's own command line
/// (which parses its flags by hand: start-up time counts when kbuild runs it once per object).
func runCheck(file: String, _ options: CheckOptions) -> Int32 {
  var out = CheckOutput()
  let status = runCheck(file: file, options, into: &out)
  out.flush()
  return status
}

/// What one object's check prints, kept until it is shown: a batch checks objects in
/// parallel and shows each one's lines together, in the order of the command line.
struct CheckOutput {
  var standardOutput: [UInt8] = []
  var standardError: [UInt8] = []

  mutating func error(_ text: String) { standardError.append(contentsOf: text.utf8) }
  mutating func output(_ bytes: [UInt8]) { standardOutput += bytes }

  /// Writes both, the warnings first.
  func flush() {
    if !standardError.isEmpty { writeStandardError(standardError) }
    if !standardOutput.isEmpty { writeStandardOutput(standardOutput) }
  }
}

/// `runCheck(file:_:)` printing into `out`.
func runCheck(file: String, _ options: CheckOptions, into out: inout CheckOutput) -> Int32 {
  func report(_ e: ELFError) {
    if case .objtool = e.kind {
      if options.json {
        out.output(jsonDiagnostics(file: file, [Diagnostic(.error, place: nil, message: e.message)]))
      } else {
        out.error("\(file): warning: objtool: \(e.message)\n")
      }
    } else {
      out.error("orctool: " + e.description + "\n")
    }
  }
  func failure(_ e: ELFError) -> Int32 {
    report(e)
    if case .objtool = e.kind, options.objtoolExitStatus { return 0 }
    return 1
  }
  let opened = Result(catching: { () throws(ELFError) -> (Program, KernelGeneration, Bool) in
    let elf = try ELFFile(path: file)
    let generation = try resolveGeneration(forced: options.generation, for: elf)
    var program = try Program(file: elf)
    program.showsSectionAddresses = options.sectionAddresses
    var link = options.link
    if !options.link, try hasMultipleFiles(program) {
      out.error("error: objtool: Linked object detected, forcing --link\n")
      link = true
    }
    return (program, generation, link)
  })
  guard case .success(let (program, generation, link)) = opened else {
    if case .failure(let e) = opened { return failure(e) }
    return 1
  }
  let actions61 = [
    ("--noinstr", options.actions.noinstr), ("--mcount", options.actions.mcount), ("--ibt", options.actions.ibt),
    ("--unret", options.actions.unret),
  ]
  if generation != .v6_1, let (name, _) = actions61.first(where: { $0.1 }) {
    out.error("orctool: \(name) follows objtool 6.1's rules only; \(file) is a \(generation) object\n")
    return 1
  }
  // objtool_open_read(): the backup is made when the object is opened, whatever follows.
  if options.backup {
    let backup = Result(catching: { () throws(ELFError) in
      try replaceFile(atPath: file + ".orig", withContentsOf: program.file.source)
    })
    if case .failure(let e) = backup { return failure(e) }
  }
  // link_opts_valid(): these need the whole vmlinux (or a linked module).
  if !link, let (name, _) = actions61.first(where: { $0.0 != "--mcount" && $0.1 }) {
    if options.actions.stats { out.output(statisticsText(CheckStatistics.elfLines(program.file))) }
    out.error("error: objtool: \(name) requires --link\n")
    return 1
  }
  var actions = options.actions
  actions.link = link
  actions.recordPaths = options.backtrace || options.json
  let outcome = Check.run(program: program, generation: generation, actions: actions, jobs: options.jobs)
  out.output(statisticsText(outcome.statistics))
  let elf = program.file
  /// Writes the edits (objtool writes whatever changed, even when the check stopped).
  func write() -> ELFError? {
    guard !options.dryRun, outcome.edits.changes(elf) else { return nil }
    let written = Result(catching: { () throws(ELFError) in
      try replaceFile(atPath: file, with: try outcome.edits.written(to: elf))
    })
    if case .failure(let e) = written { return e }
    return nil
  }
  if let e = outcome.failure {
    let status = failure(e)
    if let w = write() { return failure(w) }
    return status
  }
  if options.json {
    out.output(jsonDiagnostics(file: file, outcome.diagnostics))
  } else {
    // objtool's own format, unprefixed, so that its consumers read ours.
    for d in outcome.diagnostics {
      out.error("\(file): warning: objtool: \(d.objtoolText)\n")
      if options.backtrace {
        for line in Validator.backtrace(d) { out.error("\(file): warning: objtool: \(line)\n") }
      }
    }
  }
  // check() returned its error: objtool writes nothing and exits with it.
  if outcome.abandoned { return options.objtoolExitStatus ? 255 : 1 }
  let layout = ORCLayout.of(generation)
  if !options.disas.isEmpty, let v = outcome.validator {
    let functions = v.disassembly(matching: options.disas, layout: layout)
    if functions.isEmpty {
      out.error("\(file): no function matches --disas=\(options.disas.joined(separator: ","))\n")
    }
    out.output(Array(Validator.disassemblyText(functions).utf8))
  }
  if options.printORC {
    var text: [UInt8] = []
    for (s, o, e) in outcome.orcEntries {
      text += Array("\(elf.sections[s].name)+\(String(o, radix: 16)):".utf8)
      ORCDump.appendEntry(e, layout: layout, to: &text)
    }
    out.output(text)
  }
  if let w = write() { return failure(w) }
  if options.exitsAfter { ExitRetained.keep(program, outcome) }
  return outcome.stopped && !options.objtoolExitStatus ? 1 : 0
}

/// What a one-object run leaves to the end of the process: its program, graph and
/// validation are not torn down object by object before `exit()` (freeing them cost about
/// 2.5% of a small module's run, measured with callgrind).
final class ExitRetained {
  let program: Program
  let outcome: CheckOutcome
  private init(_ program: Program, _ outcome: CheckOutcome) { (self.program, self.outcome) = (program, outcome) }
  /// Keeps `program` and `outcome` referenced until the process exits.
  static func keep(_ program: Program, _ outcome: CheckOutcome) {
    _ = Unmanaged.passRetained(ExitRetained(program, outcome))
  }
}

/// objtool's command line with several objects (or `-`: their paths on standard input, one
/// a line): each checked as alone, in parallel across `jobs` threads (each object's own
/// check on one), each written atomically; each one's lines shown together in command-line
/// order, and a failure in one does not stop the others. The exit status is the first
/// non-zero one in that order (0 when all succeed).
func runBatch(files: [String], _ options: CheckOptions, jobs: Int) -> Int32 {
  var one = options
  one.jobs = 1
  let single = one
  let results = ParallelResults<(CheckOutput, Int32)>(count: files.count)
  let next = ParallelCounter()
  DispatchQueue.concurrentPerform(iterations: max(1, min(jobs, files.count))) { _ in
    while let i = next.take(below: files.count) {
      var out = CheckOutput()
      let status = runCheck(file: files[i], single, into: &out)
      results.set(i, (out, status))
    }
  }
  var status: Int32 = 0
  for (out, s) in results.values() {
    out.flush()
    if status == 0 { status = s }
  }
  return status
}

/// A fixed array of results that threads fill, each index once.
final class ParallelResults<T>: @unchecked Sendable {
  private var slots: [T?]
  private let lock = Lock()
  init(count: Int) { slots = Array(repeating: nil, count: count) }
  func set(_ i: Int, _ value: T) { lock.withLock { slots[i] = value } }
  func values() -> [T] { lock.withLock { slots.compactMap { $0 } } }
}

/// The next index for a pool of threads.
final class ParallelCounter: @unchecked Sendable {
  private var value = 0
  private let lock = Lock()
  func take(below limit: Int) -> Int? {
    lock.withLock {
      guard value < limit else { return nil }
      defer { value += 1 }
      return value
    }
  }
}

/// One JSON object per diagnostic: `file`, `kind`, `location` (objtool's `func+0xoff`,
/// empty for findings about a whole function or section), `message`, and `related`
/// places when there are any.
func emitJSON(file: String, _ diagnostics: [Diagnostic]) {
  writeStandardOutput(jsonDiagnostics(file: file, diagnostics))
}

/// The JSON `emitJSON(file:_:)` prints.
func jsonDiagnostics(file: String, _ diagnostics: [Diagnostic]) -> [UInt8] {
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
  return Array((try? encoder.encode(items)) ?? Data()) + [0x0a]
}

/// `--stats` lines as objtool prints them, one a line.
func statisticsText(_ lines: [String]) -> [UInt8] { Array(lines.map { $0 + "\n" }.joined().utf8) }

/// The globs of a `--disas` value: comma- or space-separated.
func disasPatterns(_ value: String) -> [String] {
  value.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
}

/// Every online core.
func defaultJobs() -> Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
