import ELF

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What objtool's `classify_symbols()` marks on a global symbol, by its name.
public struct SymbolClass: OptionSet, Hashable, Sendable {
  public var rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue }
  /// `sym->static_call_tramp`: a static call trampoline, `__SCT__*`
  /// (`STATIC_CALL_TRAMP_PREFIX_STR`, include/linux/static_call_types.h).
  public static let staticCallTrampoline = SymbolClass(rawValue: 1 << 0)
  /// `sym->retpoline_thunk`: `__x86_indirect_*` (x86's `arch_is_retpoline()`); a call or
  /// jump to one is an indirect call or jump in disguise.
  public static let retpolineThunk = SymbolClass(rawValue: 1 << 1)
  /// `sym->return_thunk`: `__x86_return_thunk` (x86's `arch_is_rethunk()`); a jump to
  /// it is a return.
  public static let returnThunk = SymbolClass(rawValue: 1 << 2)
  /// `sym->embedded_insn`: `retbleed_return_thunk` or `srso_safe_ret`, labels inside
  /// another instruction's bytes (x86's `arch_is_embedded_insn()`, objtool 6.1.4x and later).
  public static let embeddedInstruction = SymbolClass(rawValue: 1 << 3)
  /// `sym->fentry`: `__fentry__`.
  public static let fentry = SymbolClass(rawValue: 1 << 4)
  /// `sym->profiling_func`: `__sanitizer_cov_*`, `__tsan_func_*`, `__tsan_atomic_signal_fence`
  /// (`is_profiling_func()`).
  public static let profilingFunction = SymbolClass(rawValue: 1 << 5)

  /// The class of a global symbol called `name`.
  public static func of(name: String) -> SymbolClass {
    var name = name
    return name.withUTF8 { of(nameBytes: UnsafeRawBufferPointer($0)) }
  }

  /// The class of a global symbol whose name is `bytes` (read in place from the string table:
  /// every global symbol is classified).
  public static func of(nameBytes bytes: UnsafeRawBufferPointer) -> SymbolClass {
    // Every name classified starts with one of these letters.
    guard let first = bytes.first,
      first == UInt8(ascii: "_") || first == UInt8(ascii: "r")
        || first == UInt8(ascii: "s")
    else { return [] }
    func starts(_ prefix: StaticString) -> Bool {
      let n = prefix.utf8CodeUnitCount
      return bytes.count >= n && memcmp(bytes.baseAddress!, prefix.utf8Start, n) == 0
    }
    func equals(_ name: StaticString) -> Bool { bytes.count == name.utf8CodeUnitCount && starts(name) }
    var c: SymbolClass = []
    if starts("__SCT__") { c.insert(.staticCallTrampoline) }
    if starts("__x86_indirect_") { c.insert(.retpolineThunk) }
    if equals("__x86_return_thunk") { c.insert(.returnThunk) }
    if equals("retbleed_return_thunk") || equals("srso_safe_ret") { c.insert(.embeddedInstruction) }
    if equals("__fentry__") { c.insert(.fentry) }
    if starts("__sanitizer_cov_") || starts("__tsan_func_") || equals("__tsan_atomic_signal_fence") {
      c.insert(.profilingFunction)
    }
    return c
  }
}

/// `classify_symbols()`: the global symbols (`STB_GLOBAL`, defined or not; a weak or
/// local symbol of the same name is not classified) objtool treats specially.
public struct SymbolClasses: Sendable {
  /// The class of each symbol, by symbol-table index (empty when objtool marks nothing on it).
  let byIndex: [SymbolClass]

  /// The class of each classified symbol, by symbol-table index.
  public var classes: [Int: SymbolClass] {
    var out: [Int: SymbolClass] = [:]
    for (i, c) in byIndex.enumerated() where !c.isEmpty { out[i] = c }
    return out
  }

  public init(program: Program) throws(ELFError) {
    let symbols = program.symbols
    var byIndex = [SymbolClass](repeating: [], count: symbols.count)
    for i in 0..<symbols.count {
      let s = try symbols.symbol(at: i)
      guard s.binding == .global else { continue }
      byIndex[i] = SymbolClass.of(nameBytes: try symbols.strings.bytes(at: UInt64(s.nameIndex)))
    }
    self.byIndex = byIndex
  }

  /// The class of symbol `index` (empty when objtool marks nothing on it).
  public subscript(index: Int) -> SymbolClass {
    index >= 0 && index < byIndex.count ? byIndex[index] : []
  }
}
