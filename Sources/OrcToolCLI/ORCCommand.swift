import ArgumentParser
import ELF
import Kernel
import ORC

/// `orctool orc …`: the ORC table of an object.
struct ORCCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "orc", abstract: "Read ORC unwind tables.", subcommands: [Dump.self])

  /// `orctool orc dump FILE`: objtool's `--dump=orc` text.
  struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print the ORC table in objtool's --dump=orc text for the file's kernel generation.")

    @OptionGroup var generation: GenerationOptions
    @Argument(help: "An object, module or vmlinux.") var file: String

    func run() throws { try dumpORC(path: file, generation: generation.forced) }
  }
}

/// Prints the ORC dump of `path` (shared by `orc dump` and `--dump=orc`).
func dumpORC(path: String, generation: KernelGeneration?) throws {
  try reportingErrors {
    let file = try ELFFile(path: path)
    // objtool prints nothing for a file without ORC: so do we, before
    // asking for a generation the file may not be able to tell.
    guard file.section(named: ".orc_unwind") != nil else { return }
    let gen = try resolveGeneration(forced: generation, for: file)
    guard let table = try ORCTable.load(from: file, generation: gen) else { return }
    var out: [UInt8] = []
    try ORCDump.render(table, into: &out)
    writeStandardOutput(out)
  }
}
