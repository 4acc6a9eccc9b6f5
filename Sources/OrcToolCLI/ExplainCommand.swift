import ArgumentParser
import ELF
import FoundationEssentials
import Kernel
import Program
import Validation

/// `orctool explain FILE`: every warning of the check with the path validation took to it.
struct ExplainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "explain",
    abstract: "Explain each warning: the path from the function's entry to it and the stack state along it.",
    discussion: """
      For every warning on a path: each stretch of the path (function entry, jump taken, alternative
      stream, static key, exception fixup, jump-table target) with the instruction that led to it and
      the stack state after each stack-changing instruction; for a conflict, the two states and the
      instructions that brought them. --format json gives the same as Diagnostic values.
      """)

  @Option(help: "Only the warnings in this function.") var function: String?
  @OptionGroup var generation: GenerationOptions
  @Option(help: "text or json.") var format: OutputFormat = .text
  @Flag(help: "Frame-pointer checks (objtool's --stackval).") var stackval = false
  @Argument(help: "An object or module.") var file: String

  func run() throws {
    let forced = generation.forced
    let result = Result(catching: { () throws(ELFError) -> Validator in
      let elf = try ELFFile(path: file)
      let generation = try resolveGeneration(forced: forced, for: elf)
      let program = try Program(file: elf)
      let graph = try ControlFlowGraph(program: program, generation: generation)
      let v = Validator(graph: graph, stackValidation: stackval, recordPaths: true)
      // As the check of an object of several units (a module), where objtool forces --link.
      v.link = try hasMultipleFiles(program)
      v.run()
      return v
    })
    let v: Validator
    switch result {
    case .success(let value): v = value
    case .failure(let e):
      printError(e.description)
      throw ExitCode.failure
    }
    let diagnostics = v.diagnostics.filter { d in
      guard let function else { return true }
      let places = [d.place?.text, d.path.first?.place.text].compactMap { $0 }
      return places.contains { $0.hasPrefix(function + "+") } || d.message.hasPrefix(function + "()")
    }
    if format == .json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      writeStandardOutput(Array(try encoder.encode(diagnostics)) + [0x0a])
      return
    }
    writeStandardOutput(Array(diagnostics.map { Self.render($0, file: file) }.joined().utf8))
  }

  /// One diagnostic as text: objtool's line, the related places, then the path.
  static func render(_ d: Diagnostic, file: String) -> String {
    var out = "\(file): \(d.kind.rawValue): \(d.objtoolText)\n"
    for r in d.related {
      out += "  \(r.role) \(r.place.text)\(r.cfi.map { ": \($0)" } ?? "")\n"
      for c in r.changes {
        let insn = "      \(c.place.text): \(c.instruction)"
        out += insn.paddedToColumn60 + "  -> \(c.cfi)\n"
      }
    }
    if d.path.isEmpty {
      out += "  (not on a path: objtool finds this outside path following)\n"
      return out
    }
    out += "  path:\n"
    for step in d.path {
      var line = "    \(step.kind.rawValue) at \(step.place.text)"
      if let from = step.from { line += " (from \(from.text))" }
      out += line.paddedToColumn60 + "  \(step.cfi)\n"
      if let note = step.note { out += "      \(note)\n" }
      for c in step.changes {
        let insn = "      \(c.place.text): \(c.instruction)"
        out += insn.paddedToColumn60 + "  -> \(c.cfi)\n"
      }
    }
    return out
  }
}

extension String {
  /// The text followed by spaces up to 60 UTF-16 units, when shorter (what Foundation's
  /// `padding(toLength: max(count, 60), withPad: " ", startingAt: 0)` gives ASCII text).
  fileprivate var paddedToColumn60: String {
    let length = utf16.count
    return length >= 60 ? self : self + String(repeating: " ", count: 60 - length)
  }
}
