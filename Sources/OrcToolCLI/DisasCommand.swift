import ArgumentParser
import ELF
import FoundationEssentials
import Kernel
import ORC
import Program
import Validation

/// `orctool disas PATTERN FILE`: the matching functions disassembled with their CFI,
/// ORC and alternative streams (`check --disas=PATTERN` prints the same text after the warnings).
struct DisasCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "disas",
    abstract: "Disassemble functions with each instruction's CFI and ORC entry and the alternative streams inline.",
    discussion: """
      PATTERN is one or more shell globs, comma-separated (`kvm_*,vmx_vcpu_run`). Each line: the
      offset, the bytes, the instruction in AT&T syntax with relocations named, the CFI validation
      found before it, and the ORC entry that covers it (`*` where one starts). --format json gives
      the same as DisassembledFunction values.
      """)

  @OptionGroup var generation: GenerationOptions
  @Option(help: "text or json.") var format: OutputFormat = .text
  @Argument(help: "Function names or shell globs, comma-separated.") var pattern: String
  @Argument(help: "An object, module or linked image.") var file: String

  func validate() throws {
    if disasPatterns(pattern).isEmpty { throw ValidationError("no function pattern given") }
  }

  func run() throws {
    let forced = generation.forced
    let result = Result(catching: { () throws(ELFError) -> (Validator, ORCLayout) in
      let elf = try ELFFile(path: file)
      let generation = try resolveGeneration(forced: forced, for: elf)
      let graph = try ControlFlowGraph(program: try Program(file: elf), generation: generation)
      let v = Validator(graph: graph)
      v.run(noUnreachable: true)
      return (v, ORCLayout.of(generation))
    })
    guard case .success(let (v, layout)) = result else {
      if case .failure(let e) = result { printError(e.description) }
      throw ExitCode.failure
    }
    let functions = v.disassembly(matching: disasPatterns(pattern), layout: layout)
    if functions.isEmpty {
      printError("\(file): no function matches \(pattern)")
      throw ExitCode.failure
    }
    if format == .json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      writeStandardOutput(Array(try encoder.encode(functions)) + [0x0a])
      return
    }
    writeStandardOutput(Array(Validator.disassemblyText(functions).utf8))
  }
}
