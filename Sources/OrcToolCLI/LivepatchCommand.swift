import ArgumentParser
import ELF
import FoundationEssentials
import Kernel
import Program
import Reports

/// Output format shared by the report commands.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
  case text, json
}

/// `orctool livepatch FILE...`: parent/child functions, fentry, copies, groups (seed 003).
struct LivepatchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "livepatch",
    abstract: "Show parent/child functions, fentry, copies of one function, and what must be patched together.")

  @Option(help: "text or json.") var format: OutputFormat = .text
  @Flag(help: "List every child and its branches, not only the summary and warnings.") var verbose = false
  @Flag(help: "Print only the totals over all files (text) or add them (json).") var summary = false
  @Argument(help: "Objects, modules or vmlinux.") var files: [String]

  func run() throws {
    var failed = false
    var reports: [LivepatchReport] = []
    var text = ""
    for path in files {
      switch Self.analyse(path) {
      case .success(let report):
        reports.append(report)
        if format == .text { text += render(report) }
        for orphan in report.orphans {
          printError("\(path): error: failed to find parent function for \(orphan)")
          failed = true
        }
      case .failure(let error):
        printError(error.description)
        failed = true
      }
    }
    var totals: [String: Int] = ["files": reports.count]
    for r in reports {
      for (k, v) in r.summary { totals[k, default: 0] += v }
      totals["orphans", default: 0] += r.orphans.count
    }
    if summary && format == .text {
      text = totals.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)\n" }.joined()
    }
    switch format {
    case .text: writeStandardOutput(Array(text.utf8))
    case .json:
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      if summary {
        writeStandardOutput(Array(try encoder.encode(totals)) + [0x0a])
      } else {
        writeStandardOutput(Array(try encoder.encode(reports)) + [0x0a])
      }
    }
    if failed { throw ExitCode.failure }
  }

  static func analyse(_ path: String) -> Result<LivepatchReport, ELFError> {
    Result { () throws(ELFError) -> LivepatchReport in try LivepatchReport(file: try ELFFile(path: path)) }
  }

  func render(_ r: LivepatchReport) -> String {
    var out = ""
    let s = r.summary
    out += "\(r.file): \(r.functions) functions; children: \(s["children.cold", default: 0]) cold, "
    out += "\(s["children.part", default: 0]) part; \(s["children.without_fentry", default: 0]) without fentry; "
    out += "\(s["functions.with_several_copies", default: 0]) functions with several copies; \(r.groups.count) groups\n"
    for c in r.children where verbose || c.fentry == .none || c.kpatchParent != nil {
      let parent = c.parent ?? "?"
      out +=
        "child \(c.name) (\(c.kind.rawValue)) of \(parent): \(c.fentry == .none ? "no fentry" : "fentry (\(c.fentry.rawValue))")\n"
      if verbose {
        for b in c.branchesIn { out += "  \(b.from) \(b.instruction) -> \(b.to)\n" }
        for b in c.branchesOut { out += "  \(b.from) \(b.instruction) -> \(b.to) (back)\n" }
      }
      if c.parent != nil && c.branchesIn.isEmpty {
        out += "\(r.file): warning: orctool: \(c.name): no branch from \(parent) into it found\n"
      }
      if let k = c.kpatchParent {
        let ours = c.parentSymbol.map { " (symbol \($0))" } ?? ""
        out +=
          "\(r.file): warning: orctool: \(c.name): parent is \(c.parent ?? "?")\(ours), kpatch-build would take \(k)\n"
      }
    }
    for g in r.groups {
      out += "group: \(([g.parent] + g.childrenWithoutFentry).joined(separator: " + ")) must be patched together"
      out += g.parentFentry == .none ? " (and \(g.parent) has no fentry either)\n" : "\n"
    }
    for c in r.copies {
      out +=
        "\(r.file): warning: orctool: \(c.copies.count) copies of \(c.source): \(c.copies.joined(separator: ", "))\n"
    }
    return out
  }
}

/// `orctool addr2func FILE ADDR...`: `func+0xoff/0xsize`, children named as such.
struct Addr2FuncCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "addr2func",
    abstract: "Print func+0xoff/0xsize for addresses (a .cold/.part child named with its parent).",
    discussion: """
      ADDR is an address in a linked image, an offset in .text of an object, or SECTION+0xOFF.
      """)

  @Argument(help: "An object, module or vmlinux.") var file: String
  @Argument(help: "Addresses.") var addresses: [String]

  func run() throws {
    try reportingErrors {
      let elf = try ELFFile(path: file)
      let program = try Program(file: elf)
      let table = program.functions
      let sub = Subfunctions(program: program)
      let extable = try ExceptionTable(file: elf)
      var out = ""
      var unresolved = false
      for a in addresses {
        guard let (section, offset) = parse(a, table) else {
          throw CLIError("\(file): error: cannot read address '\(a)'")
        }
        guard let f = table.function(containing: offset, in: section) else {
          // Anonymous fixup text maps back through __ex_table to the function it serves (seed 004).
          let serving = extable.entries.filter { $0.fixup.section == section && $0.fixup.offset <= offset }
            .max { $0.fixup.offset < $1.fixup.offset }
          if let e = serving, table.function(containing: e.insn.offset, in: e.insn.section) != nil {
            out += "\(a): \(table.offstr(section: section, offset: offset)) (fixup text for "
            out += "\(program.offstr(e.insn)), via __ex_table)\n"
          } else {
            out += "\(a): ?\n"
            unresolved = true
          }
          continue
        }
        out += "\(a): \(table.offstrWithSize(section: section, offset: offset) ?? "?")"
        if let link = sub.links[f.id], let p = link.parent {
          out += " (child of \(table.functions[p].name))"
        }
        out += "\n"
      }
      writeStandardOutput(Array(out.utf8))
      if unresolved { throw ExitCode.failure }
    }
  }

  func parse(_ text: String, _ table: FunctionTable) -> (Int, UInt64)? {
    func number(_ s: Substring) -> UInt64? {
      s.hasPrefix("0x") ? UInt64(s.dropFirst(2), radix: 16) : UInt64(s, radix: 16)
    }
    if let plus = text.lastIndex(of: "+"), let off = number(text[text.index(after: plus)...]) {
      let name = String(text[..<plus])
      if let s = table.file.section(named: name) { return (s.index, off) }
      if let f = table.functions(named: name).first { return (f.section, f.offset + off) }
      return nil
    }
    guard let value = number(Substring(text)) else { return nil }
    if table.file.fileType == .relocatable {
      guard let text = table.file.section(named: ".text") else { return nil }
      return (text.index, value)
    }
    return table.place(ofAddress: value)
  }
}
