import ELF
import Kernel
import Program

/// Where an exception fixup lies relative to the instruction it serves (seed 004).
public enum FixupPlacement: String, Sendable, Codable, Hashable {
  /// Inside the faulting function: what seed 004 made the rule.
  case sameFunction = "same function"
  /// In the faulting function's parent or child (`f` / `f.cold`): still named.
  case sameFamily = "parent or child"
  /// In another named function.
  case otherFunction = "other function"
  /// In a `.fixup` section or text no function symbol covers: backtraces through it lose the function.
  case anonymous = "anonymous"
}

/// One decoded entry of `__ex_table` with both places resolved to functions.
public struct ExtableEntryReport: Sendable, Codable {
  public var index: Int
  /// `func+0xoff` of the instruction that may fault.
  public var insn: String
  public var insnFunction: String?
  /// `func+0xoff` (or `section+0xoff` when anonymous) of the fixup.
  public var fixup: String
  public var fixupFunction: String?
  public var placement: FixupPlacement
  public var handler: ExtableHandler
}

/// `orctool extable`: the exception table of one file.
public struct ExtableReport: Sendable, Codable {
  public var file: String
  public var machine: String
  public var generation: String
  public var entries: [ExtableEntryReport]
  /// For a linked image: whether the table is in sorttable's order (nil for an object).
  public var sorted: Bool?
  /// The first entry out of order, when not sorted.
  public var firstUnsorted: Int?
  /// Entries by `type.NAME` and by `placement.NAME`.
  public var summary: [String: Int]

  /// Decodes and places the exception table of `file`, with the `EX_TYPE_*`
  /// names of `generation`. The generation may be nil (shown as `unknown`)
  /// where the names do not depend on it: on arm64, or in a file without
  /// entries; x86 entries without it are refused (``ELFError/Kind/unknownGeneration``).
  public init(file: ELFFile, generation: KernelGeneration?) throws(ELFError) {
    let table = try ExceptionTable(file: file)
    if generation == nil && file.machine != .aarch64 && !table.entries.isEmpty {
      throw ELFError(.unknownGeneration, path: file.path, offset: 0)
    }
    let program = try Program(file: file)
    let functions = program.functions
    let sub = Subfunctions(program: program)
    self.file = file.path
    self.machine = file.machine.description
    self.generation = generation?.rawValue ?? "unknown"

    func describe(_ p: SectionPlace) -> (String, Function?) {
      (program.offstr(p), functions.function(containing: p.offset, in: p.section))
    }

    var summary: [String: Int] = ["entries": table.entries.count]
    var out: [ExtableEntryReport] = []
    out.reserveCapacity(table.entries.count)
    for e in table.entries {
      let (insn, insnFn) = describe(e.insn)
      let (fixup, fixupFn) = describe(e.fixup)
      let fixupSection = e.fixup.section < file.sections.count ? file.sections[e.fixup.section].name : ""
      let placement: FixupPlacement
      if fixupFn == nil || fixupSection == ".fixup" {
        placement = .anonymous
      } else if let a = insnFn, let b = fixupFn, a.id == b.id {
        placement = .sameFunction
      } else if let a = insnFn, let b = fixupFn, sub.root(of: a.id) == sub.root(of: b.id) {
        placement = .sameFamily
      } else {
        placement = .otherFunction
      }
      let handler =
        generation.map { ExtableTypes.decode(e.rawData, machine: file.machine, generation: $0) }
        ?? ExtableTypes.decodeARM64(e.rawData)
      summary["type." + handler.type, default: 0] += 1
      summary["placement." + placement.rawValue.replacingSpaces(), default: 0] += 1
      out.append(
        ExtableEntryReport(
          index: e.index, insn: insn, insnFunction: insnFn?.name, fixup: fixup,
          fixupFunction: fixupFn?.name, placement: placement, handler: handler))
    }
    entries = out
    if file.fileType != .relocatable && !table.entries.isEmpty {
      firstUnsorted = table.firstUnsorted
      sorted = firstUnsorted == nil
      summary["unsorted_tables"] = sorted == true ? 0 : 1
    }
    self.summary = summary
  }

  /// The entry whose anonymous fixup text holds `place`: the one with the
  /// greatest fixup start at or before it in the same section (seed 004:
  /// "a PC in fixup text must still map to its function").
  public func entryServing(_ place: SectionPlace, in table: ExceptionTable) -> ExtableEntryReport? {
    var best: ExceptionTableEntry? = nil
    for e in table.entries where e.fixup.section == place.section && e.fixup.offset <= place.offset {
      if best == nil || e.fixup.offset > best!.fixup.offset { best = e }
    }
    return best.map { entries[$0.index] }
  }
}

extension String {
  fileprivate func replacingSpaces() -> String { String(map { $0 == " " ? "_" : $0 }) }
}
