import ArgumentParser
import ELF
import Kernel

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// `--generation`: the kernel layout generation; without it, ``GenerationPolicy``
/// decides (kbuild's environment, then the file's markers, then its layout).
public struct GenerationOptions: ParsableArguments {
  @Option(
    name: .long,
    help: ArgumentHelp(
      "Kernel format generation (6.1 or 6.12, or any MAJOR.MINOR); when absent, kbuild's VERSION/PATCHLEVEL, else detected from the object.",
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

extension GenerationOptions {
  /// The generation policy of this invocation: the flag, then kbuild's environment, then the file.
  var policy: GenerationPolicy { GenerationPolicy(forced: forced, environment: kbuildEnvironment()) }
}

/// The variables ``GenerationPolicy`` reads (kbuild's `VERSION`, `PATCHLEVEL`)
/// from the process environment, with `getenv`: no Foundation on the start-up path.
func kbuildEnvironment() -> [String: String] {
  var environment: [String: String] = [:]
  for name in GenerationPolicy.environmentVariables {
    if let value = getenv(name) { environment[name] = String(cString: value) }
  }
  return environment
}

/// The generation for `file` by ``GenerationPolicy``: the forced one, else
/// kbuild's, else the file's markers or layout; an error when nothing tells.
func resolveGeneration(forced: KernelGeneration?, for file: ELFFile) throws(ELFError) -> KernelGeneration {
  try GenerationPolicy(forced: forced, environment: kbuildEnvironment()).resolve(file).0
}

/// An error already worded for the user: printed as one line, exit status 1.
struct CLIError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
