import ELF
import Kernel

/// Every function symbol of a file, with lookups by name and by place.
public struct FunctionTable: Sendable {
  /// The file.
  public let file: ELFFile
  /// The functions, in symbol-table order.
  public let functions: [Function]
  /// Per section, function ids sorted by offset (for lookups by place).
  let bySection: [Int: [Int]]
  /// Function ids by name, in symbol-table order.
  let byName: [String: [Int]]
  /// The symbol table.
  public let symbols: SymbolTable
  /// Whether each function is an alias of an earlier one (same section, offset and size):
  /// objtool keeps the first symbol of a place as the function and skips the others.
  public let isAlias: [Bool]
  /// The first function symbol at each place.
  let firstAt: [SectionPlace: Int]
  /// Function ids by symbol-table index.
  let bySymbol: [Int: Int]
  /// Per section, the sized symbols that are no function (asm `SYM_CODE` labels, objects),
  /// by offset, size and index: what `offstr()` names a place by when no function covers it.
  let labels: [Int: [(offset: UInt64, size: UInt64, symbol: Int)]]

  /// Reads the function symbols of `file` (empty without a symbol table).
  public init(file: ELFFile) throws(ELFError) {
    self.file = file
    guard let symbols = try file.symbolTable() else {
      throw ELFError(.missingSection(".symtab"), path: file.path, offset: 0)
    }
    self.symbols = symbols
    let linked = file.fileType != .relocatable
    var functions: [Function] = []
    var labels: [Int: [(offset: UInt64, size: UInt64, symbol: Int)]] = [:]
    var unit: Int? = nil
    for i in 0..<symbols.count {
      let s = try symbols.symbol(at: i)
      if s.type == .file {
        unit = i
        continue
      }
      if s.type != .function {
        if s.type != .section, s.isDefined, s.size > 0, s.sectionIndex < file.sections.count {
          let offset = linked ? s.value &- file.sections[s.sectionIndex].address : s.value
          labels[s.sectionIndex, default: []].append((offset, s.size, i))
        }
        continue
      }
      guard s.isDefined else { continue }
      let section = try file.section(at: s.sectionIndex, referencedAt: symbols.section.offset + UInt64(i * 24) + 6)
      let offset = linked ? s.value &- section.address : s.value
      functions.append(
        Function(
          id: functions.count, name: try symbols.name(of: s), symbolIndex: i, section: s.sectionIndex,
          offset: offset, size: s.size, value: s.value, binding: s.binding,
          unit: s.binding == .local ? unit : nil))
    }
    self.functions = functions
    self.labels = labels.mapValues {
      $0.mergeSorted { ($0.offset, $0.size, $0.symbol) < ($1.offset, $1.size, $1.symbol) }
    }
    var bySection: [Int: [Int]] = [:]
    var byName: [String: [Int]] = [:]
    for f in functions {
      bySection[f.section, default: []].append(f.id)
      byName[f.name, default: []].append(f.id)
    }
    for (k, v) in bySection {
      bySection[k] = v.mergeSorted {
        (functions[$0].offset, functions[$0].size, $0) < (functions[$1].offset, functions[$1].size, $1)
      }
    }
    self.bySection = bySection
    self.byName = byName
    struct Extent: Hashable { var place: SectionPlace; var size: UInt64 }
    var seen = Set<Extent>()
    var isAlias = Array(repeating: false, count: functions.count)
    var firstAt: [SectionPlace: Int] = [:]
    var bySymbol: [Int: Int] = [:]
    for f in functions {
      let place = SectionPlace(section: f.section, offset: f.offset)
      if !seen.insert(Extent(place: place, size: f.size)).inserted { isAlias[f.id] = true }
      if firstAt[place] == nil { firstAt[place] = f.id }
      bySymbol[f.symbolIndex] = f.id
    }
    self.isAlias = isAlias
    self.firstAt = firstAt
    self.bySymbol = bySymbol
  }

  /// The first function symbol that starts at `place`.
  public func firstFunction(at place: SectionPlace) -> Int? { firstAt[place] }

  /// The function of symbol-table entry `index`, if it is one.
  public func function(symbolIndex index: Int) -> Int? { bySymbol[index] }

  /// The functions called `name`, in symbol-table order.
  public func functions(named name: String) -> [Function] {
    (byName[name] ?? []).map { functions[$0] }
  }

  /// The function called `name` that `from` would reach by that name: one in
  /// the same compilation unit first, else a global one, else the first.
  public func function(named name: String, nearestTo from: Function) -> Function? {
    let candidates = functions(named: name)
    if let local = candidates.first(where: { $0.unit != nil && $0.unit == from.unit }) { return local }
    if let global = candidates.first(where: { $0.unit == nil }) { return global }
    return candidates.count == 1 ? candidates[0] : nil
  }

  /// The function whose bytes contain `offset` of `section` (the smallest
  /// such one when symbols overlap), or nil.
  public func function(containing offset: UInt64, in section: Int) -> Function? {
    guard let ids = bySection[section] else { return nil }
    // The last function starting at or before `offset`.
    var i = ids.partitioningIndex { functions[$0].offset > offset } - 1
    var best: Function? = nil
    // Walk back over functions that start earlier but may still cover offset
    // (aliases share a start); stop after a few: symbols rarely nest deeper.
    var steps = 0
    while i >= 0 && steps < 8 {
      let f = functions[ids[i]]
      if offset < f.endOffset || (f.size == 0 && offset == f.offset) {
        // The smallest; among aliases (same place and size) the first in the symbol table.
        if best == nil || f.size < best!.size || (f.size == best!.size && f.symbolIndex < best!.symbolIndex) {
          best = f
        }
      }
      i -= 1
      steps += 1
    }
    return best
  }

  /// The section index and offset of a linked-image address, or nil.
  public func place(ofAddress address: UInt64) -> (section: Int, offset: UInt64)? {
    for s in file.sections where s.flags.contains(.alloc) && s.size > 0 {
      if address >= s.address && address - s.address < s.size { return (s.index, address - s.address) }
    }
    return nil
  }

  /// objtool's `offstr()`: `func+0xoff` when a function covers the place, else
  /// `sym+0xoff` when another sized symbol does (`find_symbol_containing()`: the first by
  /// offset, then size), else `section+0xoff`. The one formatter of places in the program.
  public func offstr(section: Int, offset: UInt64) -> String {
    if let f = function(containing: offset, in: section) {
      return "\(f.name)+0x\(String(offset &- f.offset, radix: 16))"
    }
    if let l = labels[section]?.first(where: { $0.offset <= offset && offset &- $0.offset < $0.size }),
      let name = try? symbols.name(of: try symbols.symbol(at: l.symbol))
    {
      return "\(name)+0x\(String(offset &- l.offset, radix: 16))"
    }
    let name = section >= 0 && section < file.sections.count ? file.sections[section].name : "?"
    return "\(name)+0x\(String(offset, radix: 16))"
  }

  /// `func+0xoff/0xsize` (the kernel's `%pS` shape) when a function covers the place.
  public func offstrWithSize(section: Int, offset: UInt64) -> String? {
    guard let f = function(containing: offset, in: section) else { return nil }
    return "\(f.name)+0x\(String(offset &- f.offset, radix: 16))/0x\(String(f.size, radix: 16))"
  }
}
