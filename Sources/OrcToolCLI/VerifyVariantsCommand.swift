import ArgumentParser
import ELF
import FoundationEssentials
import Kernel
import ORC
import Program
import Validation

/// `orctool verify-variants FILE`: is the one ORC table right for every variant the
/// code can become (every alternative stream, every static key flipped)?
struct VerifyVariantsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "verify-variants",
    abstract: "Check the ORC table against every variant alternatives and static keys make of the code.",
    discussion: """
      For each alternative site, each stream (original and replacements, placed at the site and padded
      with NOPs) is run from the state validation found before the site, with no knowledge of the other
      streams, following its branches inside it; at each instruction boundary, where it falls off its
      end and where it jumps out, the table's entry must be the one that code needs. A static-key site
      flipped must find its own state where it then goes. A paravirt site (6.1 .parainstructions, 6.12
      ALT_FLAG_DIRECT_CALL) rewritten to a direct call or to NOPs must find the site's state at each
      boundary of the rewrite and after it. --orc file checks
      the table in the file (objtool's, for a module as built); --orc generated the one OrcTool
      generates. Exits 1 when a table is wrong for some variant.
      """)

  enum TableSource: String, ExpressibleByArgument, CaseIterable { case file, generated }

  @Option(help: "Which table: the one in the file, or the one OrcTool generates.") var orc: TableSource = .file
  @OptionGroup var generation: GenerationOptions
  @Option(help: "text or json.") var format: OutputFormat = .text
  @Flag(help: "List every site checked: its variants, boundaries and mismatches (text).") var sites = false
  @Argument(help: "An object, module or linked image.") var file: String

  func run() throws {
    let forced = generation.forced
    let source = orc
    let result = Result(catching: { () throws(ELFError) -> VariantReport in
      let elf = try ELFFile(path: file)
      let generation = try resolveGeneration(forced: forced, for: elf)
      let program = try Program(file: elf)
      let graph = try ControlFlowGraph(program: program, generation: generation)
      let v = Validator(graph: graph)
      v.link = try hasMultipleFiles(program)
      v.run(noUnreachable: true)
      let layout = ORCLayout.of(generation)
      var entries: [(section: Int, offset: UInt64, entry: ORCEntry)] = []
      switch source {
      case .generated: entries = v.orcEntries(layout: layout)
      case .file:
        guard let table = try ORCTable.load(from: elf, generation: generation) else {
          throw ELFError(.missingSection(".orc_unwind"), path: file, offset: 0)
        }
        for k in 0..<table.count {
          guard let p = try table.place(k) else { continue }
          entries.append((p.section, p.offset, table.entry(k)))
        }
      }
      return try v.verifyVariants(table: ORCEntriesBySection(entries), layout: layout)
    })
    let report: VariantReport
    switch result {
    case .success(let r): report = r
    case .failure(let e):
      printError(e.description)
      throw ExitCode.failure
    }
    if format == .json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      writeStandardOutput(Array(try encoder.encode(report)) + [0x0a])
    } else {
      var out = ""
      if sites {
        for s in report.siteReports {
          out += "\(s.site): \(s.kind): \(s.variants.joined(separator: ", ")); \(s.boundaries) boundaries, "
          out += "\(s.mismatches) mismatch\(s.mismatches == 1 ? "" : "es")\n"
        }
      }
      for m in report.mismatches {
        out += "\(m.site): \(m.variant), offset 0x\(String(m.offset, radix: 16)) (\(m.place)): "
        out += "the code needs \(m.derived), the table gives \(m.table)\n"
      }
      out += "\(report.sites) alternative sites, \(report.staticKeySites) static keys and "
      out += "\(report.paravirtSites) paravirt sites, "
      out += "\(report.variants) variants, \(report.boundaries) boundaries checked"
      if report.unreached > 0 { out += ", \(report.unreached) sites not reached by validation" }
      if report.neverApplied > 0 {
        out +=
          ", \(report.neverApplied) replacement\(report.neverApplied == 1 ? "" : "s") for !X86_FEATURE_ALWAYS never applied"
      }
      for (section, n) in report.uncovered.sorted(by: { $0.key < $1.key }) {
        out += ", \(n) jump\(n == 1 ? "" : "s") into \(section) (no unwind information there) not compared"
      }
      out += ": \(report.mismatches.count) mismatch\(report.mismatches.count == 1 ? "" : "es")"
      let undefined = report.mismatches.filter(\.tableUndefined).count
      if undefined > 0 { out += " (\(undefined) where the table has no unwind information)" }
      out += "\n"
      writeStandardOutput(Array(out.utf8))
    }
    if !report.mismatches.isEmpty { throw ExitCode.failure }
  }
}
