import ArgumentParser
import ELF
import Kernel

/// `--generation`: the kernel layout generation, detected from the file unless given.
public struct GenerationOptions: ParsableArguments {
  @Option(
    name: .long,
    help: ArgumentHelp(
      "Kernel format generation (6.1 or 6.12, or any MAJOR.MINOR); detected from the object when absent.",
      valueName: "version"))
  public var generation: String?

  public init() {}

  public func validate() throws {
    if let g = generation, KernelGeneration(versionString: g) == nil {
      throw ValidationError("--generation: '\(g)' is not a kernel version (use 6.1 or 6.12)")
    }
  }

  /// The generation the user forced, if any.
  var forced: KernelGeneration? { generation.flatMap(KernelGeneration.init(versionString:)) }
}

/// The generation for `file`: the forced one, else the detected one.
func resolveGeneration(forced: KernelGeneration?, for file: ELFFile) throws -> KernelGeneration {
    if let forced { return forced }
    if let (detected, _) = GenerationDetector.detect(file) { return detected }
    throw CLIError(
      "\(file.path): error: cannot tell the kernel generation (no .orc_header, no vermagic, no linux_banner); use --generation 6.1 or 6.12"
    )
}

/// An error already worded for the user: printed as one line, exit status 1.
struct CLIError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
