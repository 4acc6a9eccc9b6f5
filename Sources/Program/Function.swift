import ELF

/// A function symbol (`STT_FUNC`) placed in its section.
public struct Function: Sendable, Hashable {
  /// Index in ``FunctionTable/functions``.
  public var id: Int
  /// The symbol name.
  public var name: String
  /// The symbol's index in `.symtab`.
  public var symbolIndex: Int
  /// The section the code is in.
  public var section: Int
  /// The offset of the first byte in its section.
  public var offset: UInt64
  /// `st_size`.
  public var size: UInt64
  /// `st_value`: an address in a linked image, the section offset in an object.
  public var value: UInt64
  /// `STB_LOCAL`, `STB_GLOBAL` or `STB_WEAK`.
  public var binding: SymbolBinding
  /// The compilation unit: the index of the `STT_FILE` symbol a local
  /// symbol follows; nil for global symbols, which follow all units.
  public var unit: Int?

  /// The end offset in the section.
  public var endOffset: UInt64 {
    let (end, overflow) = offset.addingReportingOverflow(size)
    return overflow ? UInt64.max : end  // a size past the address space ends at its edge
  }
  /// Whether this is the padding symbol objtool puts before a function
  /// (`__pfx_f`, 6.2+ call padding; `__cfi_f`, kCFI) rather than a function.
  public var isPrefixSymbol: Bool { name.hasPrefix("__pfx_") || name.hasPrefix("__cfi_") }
  /// The parsed name.
  public var parsedName: FunctionName { FunctionName(name) }
}

/// The parts of a compiler-generated function name: `f.isra.0.cold` is the
/// source function `f` with the suffixes `isra.0` and `cold`.
public struct FunctionName: Sendable, Hashable {
  /// The whole name.
  public var name: String
  /// The source function's name: everything before the first known suffix.
  public var sourceName: String
  /// The suffixes, in order (`isra.0`, `cold`, …).
  public var suffixes: [String]

  /// GCC's and clang's clone and split suffixes.
  public static let knownSuffixes: Set<Substring> = [
    "cold", "part", "isra", "constprop", "lto_priv", "localalias", "llvm", "specialized",
  ]

  /// Parses `name`.
  public init(_ name: String) {
    self.name = name
    let parts = name.split(separator: ".", omittingEmptySubsequences: false)
    guard let first = parts.indices.dropFirst().first(where: { Self.knownSuffixes.contains(parts[$0]) }) else {
      sourceName = name
      suffixes = []
      return
    }
    sourceName = parts[..<first].joined(separator: ".")
    var out: [String] = []
    for p in parts[first...] {
      if let n = p.first, n.isNumber, !out.isEmpty {
        out[out.count - 1] += "." + p
      } else {
        out.append(String(p))
      }
    }
    suffixes = out
  }

  /// Whether the name has any clone or split suffix.
  public var isDerived: Bool { !suffixes.isEmpty }
}
