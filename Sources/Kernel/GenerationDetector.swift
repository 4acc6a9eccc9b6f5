import ELF

/// How the kernel generation of an object was decided.
public enum GenerationEvidence: Sendable, Equatable, CustomStringConvertible {
  /// `.orc_header` exists only from Linux 6.5 on.
  case orcHeader
  /// `vermagic=` in a module's `.modinfo`.
  case vermagic(String)
  /// The `linux_banner` string of a kernel image.
  case banner(String)
  /// Given by the user (`--generation`).
  case forced
  /// kbuild's `VERSION` and `PATCHLEVEL` (`VERSION=6 PATCHLEVEL=12`), which the
  /// kernel's top Makefile exports to the tools it runs.
  case environment(String)
  /// The layout of a special section, in words (`.altinstructions relocations every 14 bytes`).
  case layout(String)

  public var description: String {
    switch self {
    case .orcHeader: return ".orc_header section"
    case .vermagic(let v): return "vermagic=\(v)"
    case .banner(let b): return "linux_banner \"\(b)\""
    case .forced: return "--generation"
    case .environment(let e): return "\(e) from kbuild"
    case .layout(let l): return l
    }
  }
}

/// Decides which ``KernelGeneration`` an object belongs to from the markers
/// in the object itself (one step of ``GenerationPolicy``).
public enum GenerationDetector {
  /// The generation of `file` from its markers (`.orc_header`, `vermagic=`,
  /// `linux_banner`) and the evidence, or nil when it has none.
  public static func detect(_ file: ELFFile) -> (KernelGeneration, GenerationEvidence)? {
    if file.section(named: ".orc_header") != nil {
      return (.v6_12, .orcHeader)
    }
    if let modinfo = file.section(named: ".modinfo"),
      let vermagic = findString(in: file.contents(of: modinfo), prefix: "vermagic="),
      let version = KernelVersion(parsing: vermagic)
    {
      return (KernelGeneration(major: version.major, minor: version.minor), .vermagic(vermagic))
    }
    if let banner = linuxBanner(file), let version = KernelVersion(parsing: banner.dropFirst("Linux version ".count)) {
      return (KernelGeneration(major: version.major, minor: version.minor), .banner(banner))
    }
    return nil
  }

  /// The `linux_banner` string of a kernel image, read through its symbol.
  static func linuxBanner(_ file: ELFFile) -> String? {
    guard let symbols = try? file.symbolTable() else { return nil }
    // The symbol sits near the end of vmlinux's table in practice; a linear
    // scan of names is cheap next to reading the table at all.
    for i in 0..<symbols.count {
      guard let sym = try? symbols.symbol(at: i), sym.type == .object,
        let nameBytes = try? symbols.strings.bytes(at: UInt64(sym.nameIndex)),
        nameBytes.elementsEqual("linux_banner".utf8),
        let section = try? file.section(at: sym.sectionIndex, referencedAt: 0),
        section.hasFileContents
      else { continue }
      let data = file.contents(of: section)
      // In a linked image the value is an address; in an object, an offset.
      let offset = file.fileType == .relocatable ? sym.value : sym.value &- section.address
      guard offset < UInt64(data.count), let text = data.slice(Int(offset), data.count - Int(offset))
      else { return nil }
      let end = text.bytes.firstIndex(of: 0) ?? text.count
      let s = String(decoding: text.bytes[..<min(end, 256)], as: UTF8.self)
      return s.hasPrefix("Linux version ") ? s.trimmingSuffixNewlines() : nil
    }
    return nil
  }

  /// The text after `prefix` of the first NUL-separated string that starts with it.
  static func findString(in view: ByteView, prefix: String) -> String? {
    let p = Array(prefix.utf8)
    var start = 0
    let bytes = view.bytes
    while start < bytes.count {
      let end = bytes[start...].firstIndex(of: 0) ?? bytes.count
      if end - start >= p.count, bytes[start..<start + p.count].elementsEqual(p) {
        return String(decoding: bytes[(start + p.count)..<end], as: UTF8.self)
      }
      start = end + 1
    }
    return nil
  }
}

extension String {
  fileprivate func trimmingSuffixNewlines() -> String {
    var s = Substring(self)
    while s.last == "\n" { s = s.dropLast() }
    return String(s)
  }
}
