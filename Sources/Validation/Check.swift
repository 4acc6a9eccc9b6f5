import ELF
import Kernel
import ORC
import Program

/// What objtool's `check` is asked to do (the actions and options of `struct opts`,
/// tools/objtool/include/objtool/builtin.h, that OrcTool carries out).
public struct CheckActions: Sendable, Hashable {
  /// `--orc`: generate ORC.
  public var orc = false
  /// `--stackval`: frame-pointer checks.
  public var stackValidation = false
  /// `--retpoline`: "indirect call/jump found in RETPOLINE build", `.retpoline_sites`.
  public var retpoline = false
  /// `--rethunk`: "'naked' return found in RETHUNK build", `.return_sites`.
  public var rethunk = false
  /// `--sls`: "missing int3 after ret / indirect jump".
  public var sls = false
  /// `--static-call`: `.static_call_sites`.
  public var staticCall = false
  /// `--hacks=jump_label`: static-key `jmp`s marked for it become NOPs in the code.
  public var hackJumpLabel = false
  /// `--hacks=noinstr`: calls from noinstr code to instrumentation become NOPs in the code.
  public var hackNoinstr = false
  /// `--uaccess`: STAC/CLAC regions are validated (and the SMAP alternatives followed).
  public var uaccess = false
  /// `--noinstr`: noinstr code calls only noinstr code ("call to X() leaves .noinstr.text
  /// section"); alone, only `.noinstr.text` and `.entry.text` are validated.
  public var noinstr = false
  /// `--mcount`: calls to `__fentry__` become NOPs, listed in `__mcount_loc`.
  public var mcount = false
  /// `--ibt`: addresses of code taken must name an `ENDBR` ("relocation to !ENDBR");
  /// `.ibt_endbr_seal` lists the unused ones.
  public var ibt = false
  /// `--unret`: from each entry point, `UNTRAIN_RET` before any return ("RET before UNTRAIN").
  public var unret = false
  /// `--stats`: objtool's counters (``CheckOutcome/statistics``).
  public var stats = false
  /// `--module`: a missing static-call key is no error, `.init.text` is checked for retpolines.
  public var module = false
  /// `--link` (or forced by an object of several units).
  public var link = false
  /// `--no-unreachable`.
  public var noUnreachable = false
  /// Keep the path behind each diagnostic (`--backtrace`, JSON).
  public var recordPaths = false
  /// Validate the functions whatever else is asked (`orctool check` always does).
  public var validateFunctions = false

  public init() {}

  /// Whether the functions are validated (objtool: `opts.stackval || opts.orc || opts.uaccess`).
  public var validatesFunctions: Bool { validateFunctions || orc || stackValidation || uaccess }
}

/// The result of objtool's `check()` on one object: the diagnostics in objtool's order,
/// what to write into the object, and where the check stopped.
public struct CheckOutcome {
  /// The validation (nil when reading the object stopped the check).
  public var validator: Validator?
  /// Every diagnostic, in the order objtool prints them.
  public var diagnostics: [Diagnostic] = []
  /// What to write: the code rewrites and the created sections (empty: the object is left as it is).
  public var edits = ObjectEdits()
  /// The ORC entries generated (empty without `--orc`).
  public var orcEntries: [(section: Int, offset: UInt64, entry: ORCEntry)] = []
  /// The error that stopped the check while the object was read (objtool's `decode_sections()`
  /// failing); its code rewrites until then are still in `edits`.
  public var failure: ELFError?
  /// Whether a later step stopped the check (a static-call key missing, ORC already there):
  /// its diagnostic is the last one; the sections after it are not created.
  public var stopped = false
  /// Whether objtool's `check()` returned an error (`--unret`: "Failed UNRET validation"):
  /// nothing after it runs, nothing is written (not even the code rewrites), and objtool exits 255.
  public var abandoned = false
  /// With `--stats`, objtool's lines for standard output (``CheckStatistics``), as far as the check got.
  public var statistics: [String] = []
}

/// objtool 6.1's `check()` (tools/objtool/check.c), in its order: read the object
/// (`decode_sections()`, the `--hacks` and `--mcount` rewrites among it),
/// `validate_retpoline()`, the function validation (or `validate_noinstr_sections()`),
/// `validate_unret()`, `validate_ibt()`, `validate_sls()`, then the sections:
/// `.static_call_sites`, `.retpoline_sites`, `.return_sites`, `__mcount_loc`,
/// `.ibt_endbr_seal`, the ORC.
public enum Check {
  public static func run(
    program: Program, generation: KernelGeneration, actions: CheckActions, jobs: Int = 1
  ) -> CheckOutcome {
    var outcome = CheckOutcome()
    var rewrites = CodeRewrites()
    var read = ReadStatistics()
    let built = Result { () throws(ELFError) -> ControlFlowGraph in
      try ControlFlowGraph(
        program: program, generation: generation, jobs: jobs,
        options: ControlFlowGraph.Options(
          hackJumpLabel: actions.hackJumpLabel, hackNoinstr: actions.hackNoinstr, uaccess: actions.uaccess,
          noinstr: actions.noinstr, mcount: actions.mcount, ibt: actions.ibt),
        rewrites: &rewrites, statistics: &read)
    }
    outcome.edits.rewrites = rewrites
    if actions.stats {
      outcome.statistics = CheckStatistics.fileLines(program.file) + CheckStatistics.readLines(read)
    }
    let graph: ControlFlowGraph
    switch built {
    case .failure(let e):
      outcome.failure = e
      return outcome
    case .success(let g): graph = g
    }
    let v = Validator(graph: graph, stackValidation: actions.stackValidation, recordPaths: actions.recordPaths)
    v.link = actions.link
    outcome.validator = v
    outcome.diagnostics = graph.readWarnings
    guard graph.table.decodedCount > 0 else { return outcome }
    validateAndCreate(graph, v, actions, &outcome)
    return outcome
  }

  /// Everything after reading the object; stops where objtool's `check()` goes to `out`.
  static func validateAndCreate(
    _ graph: ControlFlowGraph, _ v: Validator, _ actions: CheckActions, _ outcome: inout CheckOutcome
  ) {
    let program = graph.program
    let generation = graph.generation

    let retpoline =
      actions.retpoline
      ? RetpolineValidation.diagnostics(graph, rethunk: actions.rethunk, module: actions.module) : []
    outcome.diagnostics += retpoline
    if actions.validatesFunctions {
      v.run(noUnreachable: actions.noUnreachable, priorWarnings: retpoline.count)
      outcome.diagnostics += v.diagnostics.dropFirst(graph.readWarnings.count)
    } else if actions.noinstr {
      v.runNoinstrSections()
      outcome.diagnostics += v.diagnostics.dropFirst(graph.readWarnings.count)
    }
    if actions.unret {
      let unret = v.validateUnret()
      outcome.diagnostics += unret.diagnostics
      if unret.failed {
        outcome.abandoned = true
        return
      }
    }
    var usedEndbr = Set<Int>()
    if actions.ibt {
      do {
        let ibt = try IBTValidation.validate(graph)
        outcome.diagnostics += ibt.diagnostics
        usedEndbr = ibt.used
      } catch {
        outcome.failure = error
        return
      }
    }
    if actions.sls { outcome.diagnostics += SLSValidation.diagnostics(graph) }

    func add(_ o: CallSiteSections.Outcome) -> Bool {
      outcome.diagnostics += o.diagnostics
      if let s = o.section { outcome.edits.sections.append(s) }
      outcome.stopped = o.stops
      return !o.stops
    }
    if actions.staticCall {
      do {
        guard add(try CallSiteSections.staticCallSites(graph, module: actions.module)) else { return }
      } catch {
        outcome.failure = error
        return
      }
    }
    if actions.retpoline { _ = add(CallSiteSections.retpolineSites(graph)) }
    if actions.rethunk { _ = add(CallSiteSections.returnSites(graph)) }
    if actions.mcount { _ = add(CallSiteSections.mcountLocations(graph)) }
    if actions.ibt {
      let seal = CallSiteSections.ibtEndbrSeal(graph, used: usedEndbr)
      if actions.stats && program.file.section(named: ".ibt_endbr_seal") == nil {
        outcome.statistics += CheckStatistics.ibtLines(graph, sealed: seal.section.map { $0.data.count / 4 } ?? 0)
      }
      _ = add(seal)
    }
    if actions.orc {
      let layout = ORCLayout.of(generation)
      outcome.orcEntries = v.orcEntries(layout: layout)
      if !outcome.orcEntries.isEmpty {
        if ORCSections.alreadyPresent(in: program.file) {
          outcome.diagnostics.append(
            Diagnostic(.error, place: nil, message: "file already has .orc_unwind section, skipping"))
          outcome.stopped = true
        } else {
          outcome.edits.sections += ORCSections.created(entries: outcome.orcEntries, layout: layout)
        }
      }
    }
    if actions.stats && !outcome.stopped { outcome.statistics += CheckStatistics.validationLines(v) }
  }
}
