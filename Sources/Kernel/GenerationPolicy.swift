import ELF

/// The one rule for which kernel generation's formats a file has; every
/// command that reads a generation-dependent format asks it.
///
/// In order, the first that speaks decides:
/// 1. the `--generation` flag;
/// 2. kbuild's environment: `VERSION` and `PATCHLEVEL`, which the kernel's
///    top Makefile exports to the tools it runs (both present and numeric);
/// 3. markers in the file (``GenerationDetector/detect(_:)``: `.orc_header`,
///    `vermagic=`, `linux_banner`);
/// 4. the layout of `.altinstructions` on x86-64: `struct alt_instr` is 12
///    bytes in 6.1 and 14 in 6.12 (``AlternativeLayout``), so in an object the
///    relocations of its two relative fields fall at 0, 4, 12, 16, … or at
///    0, 4, 14, 18, …, and the section size is a multiple of the entry size;
///    in a linked image only the size is left. A layout that fits exactly one
///    generation decides.
///
/// When none speaks, ``resolve(_:)`` throws ``ELFError/Kind/unknownGeneration``:
/// there is no default.
public struct GenerationPolicy: Sendable {
  /// The generation given with `--generation`, if any.
  public let forced: KernelGeneration?
  /// The generation kbuild's `VERSION`/`PATCHLEVEL` give, with the evidence.
  let kbuild: (KernelGeneration, GenerationEvidence)?

  /// The environment variables the policy reads (`VERSION`, `PATCHLEVEL`).
  public static let environmentVariables = ["VERSION", "PATCHLEVEL"]

  /// A policy with the user's `forced` generation and the process
  /// `environment` (only ``environmentVariables`` are read).
  public init(forced: KernelGeneration?, environment: [String: String]) {
    self.forced = forced
    kbuild = Self.kbuildEvidence(environment)
  }

  /// The generation of `file` and what decided it.
  public func resolve(_ file: ELFFile) throws(ELFError) -> (KernelGeneration, GenerationEvidence) {
    guard let decided = decide(file) else { throw ELFError(.unknownGeneration, path: file.path, offset: 0) }
    return decided
  }

  /// The generation of `file` and what decided it, or nil when nothing does
  /// (for a command that can go on without knowing).
  public func decide(_ file: ELFFile) -> (KernelGeneration, GenerationEvidence)? {
    if let forced { return (forced, .forced) }
    if let kbuild { return kbuild }
    if let marked = GenerationDetector.detect(file) { return marked }
    return Self.layoutEvidence(file)
  }

  /// Step 2: `VERSION` and `PATCHLEVEL`, both present and all digits.
  static func kbuildEvidence(_ environment: [String: String]) -> (KernelGeneration, GenerationEvidence)? {
    func number(_ name: String) -> Int? {
      guard let text = environment[name], !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
        text.utf8.count <= 6
      else { return nil }
      return Int(text)
    }
    guard let major = number("VERSION"), let minor = number("PATCHLEVEL") else { return nil }
    return (KernelGeneration(major: major, minor: minor), .environment("VERSION=\(major) PATCHLEVEL=\(minor)"))
  }

  /// Step 4: the generation whose `struct alt_instr` alone fits
  /// `.altinstructions` of an x86-64 `file` (arm64's `alt_instr` is the same
  /// in both). A section that cannot be read tells nothing.
  static func layoutEvidence(_ file: ELFFile) -> (KernelGeneration, GenerationEvidence)? {
    guard file.machine == .x86_64, let section = file.section(named: ".altinstructions"), section.size > 0 else {
      return nil
    }
    let generations = KernelGeneration.allCases
    func sizeFits(_ g: KernelGeneration) -> Bool { section.size % UInt64(AlternativeLayout.of(g).entrySize) == 0 }
    func sizeWords(_ g: KernelGeneration) -> String {
      let other = generations.filter { $0 != g }.map { String(AlternativeLayout.of($0).entrySize) }
      return ".altinstructions size \(section.size), a multiple of \(AlternativeLayout.of(g).entrySize) and not of "
        + other.joined(separator: " or ")
    }
    guard file.fileType == .relocatable else {
      let fitting = generations.filter(sizeFits)
      guard fitting.count == 1 else { return nil }
      return (fitting[0], .layout(sizeWords(fitting[0])))
    }
    // The offsets of the relocations of `instr_offset` and `repl_offset`.
    var offsets: [UInt64] = []
    if let rela = file.sections.first(where: { $0.type == .rela && Int($0.info) == section.index }) {
      guard let table = try? file.relocations(rela) else { return nil }
      offsets = (0..<table.count).map { table[$0].offset }
    }
    func offsetsFit(_ g: KernelGeneration) -> Bool {
      let size = UInt64(AlternativeLayout.of(g).entrySize)
      return offsets.allSatisfy { $0 % size == 0 || $0 % size == 4 }
    }
    let fitting = generations.filter { sizeFits($0) && offsetsFit($0) }
    guard fitting.count == 1 else { return nil }
    let g = fitting[0]
    if !offsets.isEmpty && generations.filter(offsetsFit) == [g] {
      return (g, .layout(".altinstructions relocations every \(AlternativeLayout.of(g).entrySize) bytes"))
    }
    return (g, .layout(sizeWords(g)))
  }
}
