import ArgumentParser

/// objtool's own command line (`objtool <actions> [<options>] file.o`), so
/// that anything that runs objtool can run orctool.
///
/// Only `--dump[=orc]` is done so far; every other objtool action or option
/// is refused by name, never silently ignored.
struct ObjtoolCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "orctool", abstract: "objtool-compatible command line.")

  /// objtool 6.1's actions and options (`tools/objtool/builtin-check.c`).
  static let objtoolOptions: Set<String> = [
    "--dump", "--orc", "--hacks", "--ibt", "--mcount", "--noinstr", "--retpoline", "--rethunk",
    "--static-call", "--uaccess", "--prefix", "--stackval", "--sls", "--cfi", "--backtrace",
    "--backup", "--dry-run", "--link", "--module", "--mnop", "--no-unreachable", "--sec-address",
    "--stats", "--verbose", "--werror", "--unret", "--noabs",
  ]

  /// Whether `argument` starts objtool's command line.
  static func isObjtoolOption(_ argument: String) -> Bool {
    let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
    return objtoolOptions.contains(name)
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

  func run() throws { try dumpORC(path: file, generation: generation) }

  /// Parses objtool's command line; `--dump` alone means `--dump=orc`.
  static func main(_ arguments: [String]) -> Never {
    var args: [String] = []
    for a in arguments {
      if a == "--dump" {
        args.append("--dump=orc")
        continue
      }
      let name = a.split(separator: "=", maxSplits: 1).first.map(String.init) ?? a
      if a.hasPrefix("--"), name != "--dump", name != "--generation", objtoolOptions.contains(name) {
        printError("objtool option \(name) is not supported yet (only --dump=orc is)")
        terminate(1)
      }
      args.append(a)
    }
    self.main(args as [String]?)
    terminate(0)
  }
}

