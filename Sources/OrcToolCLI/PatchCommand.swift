import ArgumentParser
import ELF
import FoundationEssentials
import Kernel
import Reports

/// `orctool patch FILE -o OUT`: the object as the kernel patches it for one machine.
struct PatchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "patch",
    abstract: "Patch an object as the kernel would: paravirt sites, alternatives, static keys.",
    discussion: """
      Applies, in the kernel's order, 6.1's apply_paravirt() (each .parainstructions site a direct
      call to its pv_ops slot's function, NOPs for _paravirt_nop), apply_alternatives() for the CPU
      described by --features and --xen-pv (6.12's ALT_FLAG_DIRECT_CALL as alt_replace_call()), and
      jump_label_init() with every static key on or off (--static-keys default leaves the code as
      compiled). The pv_ops targets come from a vmlinux (--pv-ops): its pv_ops data for a native
      machine, with Xen's xen_cpu_ops, xen_irq_ops and xen_mmu_ops over it for --xen-pv. Moved code
      keeps its relocations, so the output links and disassembles as the patched text.
      Retpoline and return-thunk rewriting and IBT sealing are not done.
      """)

  @OptionGroup var generation: GenerationOptions
  @Option(
    name: .customShort("o"), help: ArgumentHelp("Where to write the patched object.", valueName: "out"))
  var output: String
  @Option(
    help: ArgumentHelp(
      "CPU features present: names (XMM2, X86_FEATURE_RETPOLINE, X86_BUG_…) or numbers (word*32+bit or N), comma-separated.",
      valueName: "list"))
  var features: String = ""
  @Flag(name: .customLong("xen-pv"), help: "A Xen PV guest: X86_FEATURE_XENPV set and Xen's pv_ops targets.")
  var xenPV = false
  @Option(name: .customLong("static-keys"), help: "on, off or default (as compiled).")
  var staticKeys: StaticKeyChoice = .default
  @Option(name: .customLong("pv-ops"), help: "A vmlinux whose pv_ops data gives each slot's function.")
  var pvOps: String?
  @Option(help: "text or json: the sites visited.") var format: OutputFormat = .text
  @Flag(help: "List every site visited (text).") var verbose = false
  @Argument(help: "An object or module.") var file: String

  func run() throws {
    let forced = generation.forced
    let (featureList, xen, keys, pvOpsPath, input) = (features, xenPV, staticKeys, pvOps, file)
    let result = Result(catching: { () throws(ELFError) -> KernelPatch in
      let elf = try ELFFile(path: input)
      let generation = try resolveGeneration(forced: forced, for: elf)
      var features = Set<Int>()
      for name in featureList.split(separator: ",").map(\.trimmingWhitespace)
      where !name.isEmpty {
        guard let n = Self.feature(name, generation: generation) else {
          throw ELFError(
            .malformed("--features: unknown CPU feature '\(name)' in \(generation)"), path: input, offset: 0)
        }
        features.insert(n)
      }
      let targets = try pvOpsPath.map { (p: String) throws(ELFError) -> PvOpsTargets in
        try PvOpsTargets(vmlinux: try ELFFile(path: p), environment: xen ? .xenPV : .native)
      }
      return try KernelPatch(
        file: elf, generation: generation,
        choices: PatchChoices(features: features, xenPV: xen, staticKeys: keys, pvOps: targets))
    })
    let patch: KernelPatch
    switch result {
    case .success(let p): patch = p
    case .failure(let e):
      printError(e.description)
      throw ExitCode.failure
    }
    do {
      try replaceFile(atPath: output, with: patch.bytes)
    } catch {
      printError(error.description)
      throw ExitCode.failure
    }
    if format == .json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      writeStandardOutput(Array(try encoder.encode(patch.records)) + [0x0a])
      return
    }
    var out = ""
    if verbose {
      for r in patch.records { out += "\(r.site): \(r.kind): \(r.result)\n" }
    }
    var counts: [String: (patched: Int, all: Int)] = [:]
    for r in patch.records {
      counts[r.kind, default: (0, 0)].all += 1
      if r.patched { counts[r.kind, default: (0, 0)].patched += 1 }
    }
    let parts = ["paravirt", "alternative", "static key"].compactMap { k in
      counts[k].map { "\($0.patched) of \($0.all) \(k) sites" }
    }
    out += "\(output): patched \(parts.isEmpty ? "nothing" : parts.joined(separator: ", "))\n"
    writeStandardOutput(Array(out.utf8))
  }

  /// A feature by name (in `generation`'s table) or number (`N` or `word*32+bit`).
  static func feature(_ text: String, generation: KernelGeneration) -> Int? {
    if let n = Int(text), n >= 0 { return n }
    let parts = text.split(separator: "*")
    if parts.count == 2, let w = Int(parts[0]), parts[1].hasPrefix("32+"), let b = Int(parts[1].dropFirst(3)),
      w >= 0, b >= 0, b < 32
    {
      return w * 32 + b
    }
    return CPUFeature(name: text, generation: generation)?.rawValue
  }
}

extension StaticKeyChoice: ExpressibleByArgument {}

extension Substring {
  /// The text without the spaces and tabs that start and end it (Foundation's
  /// `trimmingCharacters(in: .whitespaces)`: Unicode's space separators and the tab).
  fileprivate var trimmingWhitespace: String {
    func isSpace(_ u: Unicode.Scalar) -> Bool { u == "\t" || u.properties.generalCategory == .spaceSeparator }
    let scalars = unicodeScalars
    guard let first = scalars.firstIndex(where: { !isSpace($0) }),
      let last = scalars.lastIndex(where: { !isSpace($0) })
    else { return "" }
    return String(scalars[first...last])
  }
}
