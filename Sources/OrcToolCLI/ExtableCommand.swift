import ArgumentParser
import ELF
import FoundationEssentials
import Kernel
import Reports

/// `orctool extable FILE...`: the exception tables, with every fixup placed (seed 004).
struct ExtableCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "extable",
    abstract: "Decode __ex_table (x86-64, arm64) and check that every fixup lies inside its function.")

  @OptionGroup var generation: GenerationOptions
  @Option(help: "text or json.") var format: OutputFormat = .text
  @Flag(help: "List every entry.") var verbose = false
  @Flag(help: "Print only the totals over all files.") var summary = false
  @Argument(help: "Objects, modules or vmlinux (x86-64 or arm64).") var files: [String]

  func run() throws {
    try emitReports(
      files: files, format: format, summary: summary,
      analyse: { [policy = generation.policy] path in Self.analyse(path, policy: policy) }, render: render)
  }

  static func analyse(_ path: String, policy: GenerationPolicy) -> Result<ExtableReport, CLIError> {
    Result(catching: { () throws(ELFError) -> ExtableReport in
      let file = try ELFFile(path: path)
      // x86's EX_TYPE_* names depend on the generation (4 is COPY in 6.1 and
      // unused in 6.12; 21 is ERETU in 6.12 only). arm64's are the same in
      // both, and an empty table names none: there the generation is shown
      // when known ("unknown" otherwise) and not required.
      let hasEntries = file.section(named: "__ex_table").map { $0.size > 0 } ?? false
      let needsGeneration = file.machine != .aarch64 && hasEntries
      let gen = needsGeneration ? try policy.resolve(file).0 : policy.decide(file)?.0
      return try ExtableReport(file: file, generation: gen)
    }).mapError { CLIError($0.description) }
  }

  func render(_ r: ExtableReport) -> String {
    var out = "\(r.file): \(r.entries.count) entries (\(r.machine), \(r.generation))"
    let types = r.summary.filter { $0.key.hasPrefix("type.") }.sorted {
      $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key)
    }
    if !types.isEmpty { out += ": " + types.map { "\($0.key.dropFirst(5)) \($0.value)" }.joined(separator: ", ") }
    let placements = FixupPlacement.allCases.map { p in
      "\(p.rawValue) \(r.summary["placement." + String(p.rawValue.map { $0 == " " ? "_" : $0 }), default: 0])"
    }
    out += "; fixups: " + placements.joined(separator: ", ")
    if let sorted = r.sorted { out += sorted ? "; sorted" : "; NOT sorted (entry \(r.firstUnsorted ?? 0))" }
    out += "\n"
    for e in r.entries {
      if verbose {
        var h = e.handler.type
        if let reg = e.handler.register { h += " reg=\(reg)" }
        if let reg2 = e.handler.register2 { h += ",\(reg2)" }
        if !e.handler.flags.isEmpty { h += " flags=\(e.handler.flags.joined(separator: "|"))" }
        if let imm = e.handler.immediate { h += " imm=\(imm)" }
        out += "  #\(e.index) \(e.insn) -> \(e.fixup) \(h) [\(e.placement.rawValue)]\n"
      }
      switch e.placement {
      case .anonymous:
        out += "\(r.file): warning: orctool: \(e.insn): exception fixup \(e.fixup) is in anonymous text\n"
      case .otherFunction:
        out += "\(r.file): warning: orctool: \(e.insn): exception fixup \(e.fixup) is in another function\n"
      default: break
      }
    }
    return out
  }
}

extension FixupPlacement: CaseIterable {
  public static let allCases: [FixupPlacement] = [.sameFunction, .sameFamily, .otherFunction, .anonymous]
}

extension ExtableReport: SummarizedReport {}
