import ELF

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
    var c: SymbolClass = []
    if name.hasPrefix("__SCT__") { c.insert(.staticCallTrampoline) }
    if name.hasPrefix("__x86_indirect_") { c.insert(.retpolineThunk) }
    if name == "__x86_return_thunk" { c.insert(.returnThunk) }
    if name == "retbleed_return_thunk" || name == "srso_safe_ret" { c.insert(.embeddedInstruction) }
    if name == "__fentry__" { c.insert(.fentry) }
    if name.hasPrefix("__sanitizer_cov_") || name.hasPrefix("__tsan_func_") || name == "__tsan_atomic_signal_fence" {
      c.insert(.profilingFunction)
    }
    return c
  }
}

/// `classify_symbols()`: the global symbols (`STB_GLOBAL`, defined or not; a weak or
/// local symbol of the same name is not classified) objtool treats specially.
public struct SymbolClasses: Sendable {
  /// The class of each classified symbol, by symbol-table index.
  public let classes: [Int: SymbolClass]

  public init(program: Program) throws(ELFError) {
    var classes: [Int: SymbolClass] = [:]
    let symbols = program.symbols
    for i in 0..<symbols.count {
      let s = try symbols.symbol(at: i)
      guard s.binding == .global else { continue }
      let c = SymbolClass.of(name: try symbols.name(of: s))
      if !c.isEmpty { classes[i] = c }
    }
    self.classes = classes
  }

  /// The class of symbol `index` (empty when objtool marks nothing on it).
  public subscript(index: Int) -> SymbolClass { classes[index] ?? [] }
}
