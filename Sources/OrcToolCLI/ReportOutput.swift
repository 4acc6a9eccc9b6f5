import ArgumentParser
import FoundationEssentials

/// A per-file report with figures that add up over files.
protocol SummarizedReport: Encodable {
  var summary: [String: Int] { get }
}

/// Runs `analyse` on each file and prints the reports: `render` text, the
/// totals (`--summary`), or JSON. Errors are one line each; any error makes
/// the exit status 1 after everything else is printed.
func emitReports<R: SummarizedReport, E: CustomStringConvertible>(
  files: [String], format: OutputFormat, summary: Bool,
  analyse: (String) -> Result<R, E>, render: (R) -> String
) throws {
  var failed = false
  var reports: [R] = []
  var text = ""
  for path in files {
    switch analyse(path) {
    case .success(let r):
      reports.append(r)
      if format == .text && !summary { text += render(r) }
    case .failure(let e):
      printError(e.description)
      failed = true
    }
  }
  var totals: [String: Int] = ["files": reports.count]
  for r in reports { for (k, v) in r.summary { totals[k, default: 0] += v } }
  switch format {
  case .text:
    if summary { text = totals.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)\n" }.joined() }
    writeStandardOutput(Array(text.utf8))
  case .json:
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    let data = summary ? try encoder.encode(totals) : try encoder.encode(reports)
    writeStandardOutput(Array(data) + [0x0a])
  }
  if failed { throw ExitCode.failure }
}
