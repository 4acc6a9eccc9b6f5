import ArgumentParser
import Kernel

/// objtool's own command line (`objtool <actions> [<options>] file.o`), so
/// that anything that runs objtool can run orctool.
///
/// Only `--dump[=orc]` is done so far; every other objtool action or option
/// is refused by name, never silently ignored.
struct ObjtoolCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "orctool", abstract: "objtool-compatible command line.")

  /// objtool 6.1's actions and options (`tools/objtool/builtin-check.c`). Arrays, not sets:
  /// they are read once per run, and a linear search of a few dozen names costs less than
  /// building a set at start-up.
  static let objtoolOptions: [String] = [
    "--dump", "--orc", "--hacks", "--ibt", "--mcount", "--noinstr", "--retpoline", "--rethunk",
    "--static-call", "--uaccess", "--prefix", "--stackval", "--sls", "--cfi", "--backtrace",
    "--backup", "--dry-run", "--link", "--module", "--mnop", "--no-unreachable", "--sec-address",
    "--stats", "--verbose", "--werror", "--unret", "--noabs", "--disas",
  ]

  /// Whether `argument` starts objtool's command line.
  static func isObjtoolOption(_ argument: String) -> Bool {
    objtoolOptions.contains(optionName(argument))
  }

  /// An option's name: `argument` up to its first `=`.
  static func optionName(_ argument: String) -> String {
    guard let equals = argument.utf8.firstIndex(of: UInt8(ascii: "=")) else { return argument }
    return String(argument[..<equals])
  }

  @Option(name: .long, help: ArgumentHelp("Dump metadata (only 'orc').", valueName: "orc"))
  var dump: String?

  @OptionGroup var generation: GenerationOptions

  @Argument(help: "The object file.") var file: String

  mutating func validate() throws {
    if let d = dump, d != "orc" {
      throw ValidationError("--dump=\(d): only --dump=orc is supported")
    }
    if dump == nil {
      throw ValidationError("no action given (only --dump=orc is supported so far)")
    }
  }

  func run() throws { try dumpORC(path: file, generation: generation.forced) }

  /// The common invocation, `--dump[=orc] [--generation V] FILE`, parsed by
  /// hand: kbuild runs objtool once per object, so start-up time counts, and
  /// ArgumentParser's reflection costs more than the dump of a small module
  /// (measured by scripts/bench-dump.sh). Returns nil for anything else.
  static func fastPath(_ arguments: [String]) -> (file: String, generation: KernelGeneration?)? {
    var file: String? = nil
    var generation: String? = nil
    var dump = false
    var i = 0
    while i < arguments.count {
      let a = arguments[i]
      if a == "--dump" || a == "--dump=orc" {
        dump = true
      } else if a == "--generation", i + 1 < arguments.count {
        generation = arguments[i + 1]
        i += 1
      } else if a.hasPrefix("--generation=") {
        generation = String(a.dropFirst("--generation=".count))
      } else if !a.hasPrefix("-"), file == nil {
        file = a
      } else {
        return nil
      }
      i += 1
    }
    guard dump, let file else { return nil }
    guard let generation else { return (file, nil) }
    guard let forced = KernelGeneration(versionString: generation) else { return nil }
    return (file, forced)
  }

  /// objtool actions and options `orctool check` carries out (`--hacks` only with the
  /// values `CheckOptions.hacksDone` lists).
  static let checkOptions: [String] = [
    "--orc", "--module", "--link", "--dry-run", "--backup", "--no-unreachable",
    "--stackval", "--backtrace", "--disas", "--retpoline", "--rethunk", "--sls", "--static-call", "--hacks",
    "--uaccess", "--noinstr", "--mcount", "--ibt", "--unret", "--stats", "--sec-address",
  ]

  /// The objtool actions that start a check (with `--dump`, the other command): objtool 6.1's
  /// `opts_valid()` list (`--unret` is none: alone it needs `--rethunk`).
  static let checkActions: [String] = [
    "--orc", "--stackval", "--retpoline", "--rethunk", "--sls", "--static-call", "--hacks", "--uaccess",
    "--noinstr", "--mcount", "--ibt",
  ]

  /// Parses objtool's command line; `--dump` alone means `--dump=orc`.
  static func main(_ arguments: [String]) -> Never {
    let names = arguments.filter { $0.hasPrefix("--") }.map(optionName)
    // opts_valid(): without an action, --unret is an error of its own.
    if names.contains("--unret") && !names.contains(where: checkActions.contains) && !names.contains("--dump") {
      writeStandardError(Array("error: objtool: --unret requires --rethunk\n".utf8))
      terminate(1)
    }
    if names.contains(where: checkActions.contains) {
      // Stack validation (and ORC): objtool's check actions.
      if let refused = names.first(where: {
        !checkOptions.contains($0) && $0 != "--generation" && objtoolOptions.contains($0)
      }) {
        printError(
          "objtool option \(refused) is not supported yet (check supports \(checkOptions.sorted().joined(separator: " ")))"
        )
        terminate(1)
      }
      var files: [String] = []
      var generation: KernelGeneration? = nil
      var jobs = defaultJobs()
      var disas: [String] = []
      var options = CheckOptions()
      var i = 0
      var usable = true
      while i < arguments.count {
        let a = arguments[i]
        if a == "--generation", i + 1 < arguments.count, let g = KernelGeneration(versionString: arguments[i + 1]) {
          generation = g
          i += 1
        } else if a.hasPrefix("--jobs="), let n = Int(a.dropFirst(7)), n > 0 {
          jobs = n
        } else if a == "--jobs", i + 1 < arguments.count, let n = Int(arguments[i + 1]), n > 0 {
          jobs = n
          i += 1
        } else if a.hasPrefix("--disas=") {
          disas += disasPatterns(String(a.dropFirst(8)))
        } else if a == "--hacks" || a.hasPrefix("--hacks=") {
          if let refused = options.addHacks(a == "--hacks" ? nil : String(a.dropFirst("--hacks=".count))) {
            printError("objtool option --hacks=\(refused): objtool's hacks are jump_label and noinstr")
            terminate(1)
          }
        } else if !a.hasPrefix("-") || a == "-" {
          files.append(a)
        } else if !checkOptions.contains(a) {
          usable = false
        }
        i += 1
      }
      // Several objects, or `-` (their paths on standard input): a batch.
      if files == ["-"] {
        files = []
        while let line = readLine() {
          if !line.isEmpty { files.append(line) }
        }
        guard !files.isEmpty else {
          printError("no object paths on standard input")
          terminate(1)
        }
      }
      guard usable, !files.isEmpty, !files.contains("-") else {
        CheckCommand.main(arguments.filter { $0 != "--stackval" })
        terminate(0)
      }
      options.actions.orc = names.contains("--orc")
      options.actions.stackValidation = names.contains("--stackval")
      options.actions.retpoline = names.contains("--retpoline")
      options.actions.rethunk = names.contains("--rethunk")
      options.actions.sls = names.contains("--sls")
      options.actions.staticCall = names.contains("--static-call")
      options.actions.uaccess = names.contains("--uaccess")
      options.actions.noinstr = names.contains("--noinstr")
      options.actions.mcount = names.contains("--mcount")
      options.actions.ibt = names.contains("--ibt")
      options.actions.unret = names.contains("--unret")
      options.actions.stats = names.contains("--stats")
      options.sectionAddresses = names.contains("--sec-address")
      options.actions.noUnreachable = names.contains("--no-unreachable")
      options.actions.module = names.contains("--module")
      options.dryRun = names.contains("--dry-run")
      options.backup = names.contains("--backup")
      options.link = names.contains("--link")
      options.backtrace = names.contains("--backtrace")
      options.disas = disas
      options.generation = generation
      options.jobs = jobs
      options.objtoolExitStatus = true
      // A list on standard input is a batch, even of one path.
      if files.count > 1 || arguments.contains("-") {
        if !disas.isEmpty {
          printError("--disas takes one object")
          terminate(1)
        }
        terminate(runBatch(files: files, options, jobs: jobs))
      }
      options.exitsAfter = true
      terminate(runCheck(file: files[0], options))
    }
    if let (file, generation) = fastPath(arguments) {
      do {
        try dumpORC(path: file, generation: generation)
        terminate(0)
      } catch {
        terminate(1)
      }
    }
    var args: [String] = []
    for a in arguments {
      if a == "--dump" {
        args.append("--dump=orc")
        continue
      }
      let name = optionName(a)
      if a.hasPrefix("--"), name != "--dump", name != "--generation", objtoolOptions.contains(name) {
        printError(
          "objtool option \(name) is not supported yet (only --dump=orc, and the check with \(checkOptions.sorted().joined(separator: " ")))"
        )
        terminate(1)
      }
      args.append(a)
    }
    self.main(args as [String]?)
    terminate(0)
  }
}
