import ELF
import Kernel
import Program

/// The sections objtool 6.1 creates from its call-site lists (tools/objtool/check.c):
/// `.static_call_sites` (`--static-call`), `.retpoline_sites` (`--retpoline`),
/// `.return_sites` (`--rethunk`), `__mcount_loc` (`--mcount`) and `.ibt_endbr_seal`
/// (`--ibt`). Each is a value ``ObjectEdits`` writes.
public enum CallSiteSections {
  /// What one of them gives: the section (nil when objtool creates none), the warnings,
  /// and whether the check stops there (objtool's `goto out`: nothing after it is created).
  public struct Outcome: Sendable {
    public var section: CreatedSection?
    public var diagnostics: [Diagnostic] = []
    public var stops = false
  }

  /// `create_static_call_sections()`: one `struct static_call_site` per site
  /// (include/linux/static_call_types.h, 8 bytes: `s32 addr; s32 key;`, both relative),
  /// `addr` relocated to the call, `key` to the static call's key `__SCK__name` (the
  /// trampoline `__SCT__name` renamed), addend `STATIC_CALL_SITE_TAIL` (1) for a sibling
  /// call. A key this object does not name is an error, except in a module (`--module`),
  /// where the key may not be exported: the site names the trampoline, and
  /// `static_call_add_module()` fixes it up at load time.
  public static func staticCallSites(_ graph: ControlFlowGraph, module: Bool) throws(ELFError) -> Outcome {
    let file = graph.program.file
    if file.section(named: ".static_call_sites") != nil {
      return Outcome(
        section: nil,
        diagnostics: [Diagnostic(place: nil, message: "file already has .static_call_sites section, skipping")])
    }
    let sites = graph.callSites.staticCalls
    guard !sites.isEmpty else { return Outcome(section: nil) }
    let symbols = graph.program.symbols
    // find_symbol_by_name(): the last symbol of a name (objtool's name hash keeps the newest first).
    var keys: [String: Int] = [:]
    for i in 0..<symbols.count {
      let s = try symbols.symbol(at: i)
      guard s.type != .section, s.nameIndex != 0 else { continue }
      let name = try symbols.name(of: s)
      if name.hasPrefix(keyPrefix) { keys[name] = i }
    }
    var relocations: [SiteRelocation] = []
    let entrySize = 8
    var outcome = Outcome(section: nil)
    for (k, site) in sites.enumerated() {
      let place = graph.table.place(site.instruction)
      relocations.append(
        SiteRelocation(
          offset: UInt64(k * entrySize), target: .code(section: place.section),
          addend: Int64(bitPattern: place.offset)))
      let trampoline = try symbols.name(of: try symbols.symbol(at: site.trampoline))
      let key = keyPrefix + trampoline.dropFirst(trampolinePrefix.count)
      var keySymbol = keys[key]
      if keySymbol == nil {
        guard module else {
          outcome.diagnostics.append(
            Diagnostic(place: nil, message: "static_call: can't find static_call_key symbol: \(key)"))
          outcome.stops = true
          break
        }
        keySymbol = site.trampoline
      }
      relocations.append(
        SiteRelocation(
          offset: UInt64(k * entrySize + 4), target: .symbol(keySymbol!),
          addend: site.tail ? staticCallSiteTail : 0))
    }
    outcome.section = CreatedSection(
      name: ".static_call_sites", flags: .write, entrySize: UInt64(entrySize),
      data: [UInt8](repeating: 0, count: sites.count * entrySize), relocations: relocations)
    return outcome
  }

  /// `create_retpoline_sites_sections()`: a 32-bit slot per call or jump through a
  /// retpoline thunk, relocated to it (`arch/x86/kernel/alternative.c` rewrites them).
  public static func retpolineSites(_ graph: ControlFlowGraph) -> Outcome {
    sites(graph, name: ".retpoline_sites", graph.callSites.retpolineCalls)
  }

  /// `create_return_sites_sections()`: a 32-bit slot per jump to `__x86_return_thunk`.
  public static func returnSites(_ graph: ControlFlowGraph) -> Outcome {
    sites(graph, name: ".return_sites", graph.callSites.returnThunks)
  }

  /// `create_mcount_loc_sections()`: an 8-byte slot per call to `__fentry__` made a NOP
  /// (``ControlFlowGraph/fentryCalls``), `R_X86_64_64` to it; ftrace reads the addresses.
  public static func mcountLocations(_ graph: ControlFlowGraph) -> Outcome {
    sites(
      graph, name: "__mcount_loc", graph.fentryCalls, entrySize: 8, type: .abs64,
      exists: "file already has __mcount_loc section, skipping")
  }

  /// `create_ibt_endbr_seal_sections()`: a 32-bit slot per `ENDBR` at a function start
  /// that no address taken names (`apply_ibt_endbr()` seals them at boot).
  public static func ibtEndbrSeal(_ graph: ControlFlowGraph, used: Set<Int>) -> Outcome {
    sites(graph, name: ".ibt_endbr_seal", graph.endbr.functionStarts.filter { !used.contains($0) })
  }

  static func sites(
    _ graph: ControlFlowGraph, name: String, _ instructions: [Int], entrySize: Int = 4,
    type: X86RelocationType = .pc32, exists: String? = nil
  ) -> Outcome {
    if graph.program.file.section(named: name) != nil {
      let message = exists ?? "file already has \(name), skipping"
      return Outcome(section: nil, diagnostics: [Diagnostic(place: nil, message: message)])
    }
    guard !instructions.isEmpty else { return Outcome(section: nil) }
    let relocations = instructions.enumerated().map { k, i in
      let place = graph.table.place(i)
      return SiteRelocation(
        offset: UInt64(k * entrySize), target: .code(section: place.section), addend: Int64(bitPattern: place.offset),
        type: type)
    }
    return Outcome(
      section: CreatedSection(
        name: name, entrySize: UInt64(entrySize), data: [UInt8](repeating: 0, count: instructions.count * entrySize),
        relocations: relocations))
  }

  /// `STATIC_CALL_TRAMP_PREFIX_STR` and `STATIC_CALL_KEY_PREFIX_STR` (include/linux/static_call_types.h).
  static let trampolinePrefix = "__SCT__"
  static let keyPrefix = "__SCK__"
  /// `STATIC_CALL_SITE_TAIL`: the site is a tail call.
  static let staticCallSiteTail: Int64 = 1
}
