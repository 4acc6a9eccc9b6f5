import ArgumentParser

#if canImport(Glibc)
  import Glibc
#endif

/// The `orctool` command tree.
public struct OrcTool: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "orctool",
    abstract: "Stack validation and ORC unwind metadata for x86-64 kernel objects.",
    discussion: """
      objtool's own command line works too: `orctool --dump=orc FILE`.
      """,
    version: "0.1.0",
    subcommands: [
      ORCCommand.self, ELFCommand.self, LivepatchCommand.self, Addr2FuncCommand.self, ExtableCommand.self,
      ParavirtCommand.self, UnwindCommand.self, CheckCommand.self, AlternativesCommand.self, ExplainCommand.self,
      DisasCommand.self, VerifyVariantsCommand.self, PatchCommand.self,
    ])

  public init() {}
}

/// The entry point: objtool's command line (`orctool --dump=orc FILE`) or
/// orctool's own tree of commands.
public enum OrcToolMain {
  /// Runs with `arguments` (without the program name) and exits.
  public static func main(_ arguments: [String] = commandLineArguments()) -> Never {
    // A file-size limit must fail a write (and leave the original alone), not kill the process.
    signal(SIGXFSZ, SIG_IGN)
    if let first = arguments.first, ObjtoolCommand.isObjtoolOption(first) {
      ObjtoolCommand.main(arguments)
    } else {
      OrcTool.main(arguments)
    }
    terminate(0)
  }

  /// The process's arguments without the program name, read from `argv`: the standard
  /// library's `CommandLine.arguments` builds its array through generic code whose type
  /// metadata the runtime looks up by name at first use (~35,000 instructions of start-up,
  /// measured with callgrind), and kbuild starts orctool once per object.
  public static func commandLineArguments() -> [String] {
    let argc = Int(CommandLine.argc)
    guard argc > 1 else { return [] }
    var arguments: [String] = []
    arguments.reserveCapacity(argc - 1)
    for k in 1..<argc {
      guard let argument = CommandLine.unsafeArgv[k] else { break }
      arguments.append(String(cString: argument))
    }
    return arguments
  }
}
