import ArgumentParser
import ELF
import FoundationEssentials
import Kernel
import ORC
import Program
import Validation

/// `orctool alternatives FILE`: every alternative site, its streams side by side, the CFI per offset.
struct AlternativesCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "alternatives",
    abstract: "Show each alternative site: its streams side by side with the CFI at every byte offset (seed 000).")

  @Option(help: "Only the sites in this function.") var function: String?
  @OptionGroup var generation: GenerationOptions
  @Option(help: "text or json.") var format: OutputFormat = .text
  @Argument(help: "An object or module.") var file: String

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
    let sites = v.alternativeSites(function: function, layout: layout)
    if format == .json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      writeStandardOutput(Array(try encoder.encode(sites)) + [0x0a])
      return
    }
    var out = ""
    for s in sites {
      let replacements = s.streams.filter { $0.label != "original" && $0.target == nil }.count
      let others = s.streams.filter { $0.target != nil }.count
      var header = "\(s.site): \(s.kind) site, \(s.length) bytes"
      if s.kind.hasPrefix("alternative") {
        header += ", \(replacements) replacement stream\(replacements == 1 ? "" : "s")"
      }
      if others > 0 { header += ", \(others) other way\(others == 1 ? "" : "s")" }
      out += header + (s.hasConflict ? " — CONFLICT" : "") + "\n"
      for stream in s.streams {
        out += "  \(stream.label)\(stream.target.map { " at \($0)" } ?? ""):\n"
        for step in stream.steps {
          out += "    +\(step.offset)".rightPad(10)
          out += step.text.rightPad(32) + " "
          out += (step.cfi ?? "(not reached)") + "\n"
        }
      }
      guard s.kind.hasPrefix("alternative") else { continue }
      out += "  flattened CFI by offset:\n"
      for b in s.boundaries {
        let mark = b.states.count > 1 ? "  <== stack layout conflict" : ""
        out += "    +\(b.offset)".rightPad(10)
        out += b.states.joined(separator: " | ").rightPad(32) + " "
        out += "boundary of: " + b.streams.joined(separator: ", ") + mark + "\n"
      }
    }
    writeStandardOutput(Array(out.utf8))
  }
}
