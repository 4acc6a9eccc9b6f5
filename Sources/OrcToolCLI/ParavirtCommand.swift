import ArgumentParser
import ELF
import FoundationEssentials
import Kernel
import Reports

/// `orctool paravirt FILE...`: paravirt patch sites checked (seeds 001, 002).
struct ParavirtCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "paravirt",
    abstract: "Check .parainstructions sites (6.1): pv_ops slot, call form, length, alternatives at the site.")

  @OptionGroup var generation: GenerationOptions
  @Option(help: "A vmlinux whose .BTF names the pv_ops slots (a vmlinux names its own).") var btf: String?
  @Option(help: "text or json.") var format: OutputFormat = .text
  @Flag(help: "List every site.") var verbose = false
  @Flag(help: "Print only the totals over all files.") var summary = false
  @Argument(help: "Objects, modules or vmlinux.") var files: [String]

  func run() throws {
    var base: BTF? = nil
    if let btf {
      switch Result(catching: { () throws(ELFError) -> BTF in try BTF(file: try ELFFile(path: btf)) }) {
      case .success(let b): base = b
      case .failure(let e):
        printError(e.description)
        throw ExitCode.failure
      }
    }
    let policy = generation.policy
    try emitReports(
      files: files, format: format, summary: summary,
      analyse: { path in Self.analyse(path, policy: policy, base: base, baseSource: btf) },
      render: render)
  }

  static func analyse(_ path: String, policy: GenerationPolicy, base: BTF?, baseSource: String?)
    -> Result<ParavirtReport, CLIError>
  {
    Result(catching: { () throws(ELFError) -> ParavirtReport in
      let file = try ELFFile(path: path)
      // The generation gives the `.altinstructions` layout, read only to find
      // the alternatives at paravirt sites: a file without `.parainstructions`
      // has none to find, and is reported (no sites) without one.
      let hasSites = file.section(named: ".parainstructions").map { $0.size > 0 } ?? false
      let gen = hasSites ? try policy.resolve(file).0 : policy.decide(file)?.0
      var btf = base
      var source = baseSource
      if btf == nil, file.fileType != .relocatable, file.section(named: ".BTF") != nil {
        btf = try BTF(file: file)
        source = path
      }
      return try ParavirtReport(file: file, generation: gen, btf: btf, btfSource: source)
    }).mapError { CLIError($0.description) }
  }

  func render(_ r: ParavirtReport) -> String {
    let s = r.summary
    var out = "\(r.file): \(r.sites.count) paravirt sites; \(s["with_alternative", default: 0]) with an alternative; "
    out += "\(s["breaking_an_invariant", default: 0]) breaking an invariant"
    out +=
      r.btf.map { " (slot names from \($0))\n" }
      ?? (r.sites.isEmpty ? "\n" : " (no BTF: slots by number; use --btf vmlinux)\n")
    for site in r.sites {
      if verbose {
        out +=
          "  #\(site.index) \(site.site) type=\(site.type)\(site.slot.map { " (\($0))" } ?? "") len=\(site.length): \(site.instruction)\n"
        for a in site.alternatives {
          out += "      alternative (feature \(a.feature)\(a.inverted ? ", inverted" : "")): \(a.replacement)\n"
        }
      }
      for p in site.problems { out += "\(r.file): warning: orctool: \(site.site): paravirt site: \(p)\n" }
    }
    return out
  }
}

extension ParavirtReport: SummarizedReport {}
