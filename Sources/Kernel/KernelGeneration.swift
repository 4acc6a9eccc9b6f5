import ELF

/// The layout generation of the kernel's special sections.
///
/// The ORC format changed in Linux 6.4 (`orc_entry` gained `signal` and the
/// UNDEFINED / END_OF_STACK types; `arch/x86/include/asm/orc_types.h`), and
/// 6.5 added `.orc_header`. Debian's 6.1 and 6.12 kernels sit either side.
public enum KernelGeneration: String, Sendable, CaseIterable, CustomStringConvertible {
  /// Linux up to 6.3, as in Debian's 6.1 (`type:2 end:1`).
  case v6_1 = "6.1"
  /// Linux 6.4 and later, as in Debian's 6.12 (`type:3 signal:1`).
  case v6_12 = "6.12"

  public var description: String { rawValue }

  /// The generation of kernel version `major.minor`.
  public init(major: Int, minor: Int) {
    self = (major, minor) >= (6, 4) ? .v6_12 : .v6_1
  }

  /// Parses `6.1`, `6.12`, or any `MAJOR.MINOR[...]` kernel version.
  public init?(versionString: String) {
    if let exact = KernelGeneration(rawValue: versionString) {
      self = exact
      return
    }
    guard let v = KernelVersion(parsing: versionString) else { return nil }
    self.init(major: v.major, minor: v.minor)
  }
}

/// A kernel release's `MAJOR.MINOR`, parsed from the front of a string such as `6.1.0-56-cloud-amd64`.
public struct KernelVersion: Sendable, Hashable, CustomStringConvertible {
  public var major: Int
  public var minor: Int

  /// Parses the leading `MAJOR.MINOR` of `text`.
  public init?(parsing text: some StringProtocol) {
    let parts = text.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
    guard parts.count >= 2, let major = Int(parts[0]) else { return nil }
    let minorDigits = parts[1].prefix(while: { $0.isASCII && $0.isNumber })
    guard let minor = Int(minorDigits) else { return nil }
    self.major = major
    self.minor = minor
  }

  public var description: String { "\(major).\(minor)" }
}
