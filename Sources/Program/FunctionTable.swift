import ELF
import Kernel

/// Every function symbol of a file, with lookups by name and by place.
public struct FunctionTable: Sendable {
  /// The file.
  public let file: ELFFile
  /// The functions, in symbol-table order.
  public let functions: [Function]
  /// Per section (by index), function ids sorted by offset, size and id (for lookups by place).
  let bySection: [[Int]]
  /// Function ids by name, in symbol-table order.
  let byName: [String: [Int]]
  /// The symbol table.
  public let symbols: SymbolTable
  /// Whether each function is an alias of an earlier one (same section, offset and size):
  /// objtool keeps the first symbol of a place as the function and skips the others.
  public let isAlias: [Bool]
  /// Function ids by symbol-table index (-1: no function).
  let bySymbol: [Int32]
  /// Per section (by index), the sized symbols that are no function (asm `SYM_CODE` labels,
  /// objects), by offset, size and index: what `offstr()` names a place by when no function covers it.
  let labels: [[(offset: UInt64, size: UInt64, symbol: Int)]]

  /// Reads the function symbols of `file` (empty without a symbol table).
  public init(file: ELFFile) throws(ELFError) {
    self.file = file
    guard let symbols = try file.symbolTable() else {
      throw ELFError(.missingSection(".symtab"), path: file.path, offset: 0)
    }
    self.symbols = symbols
    let linked = file.fileType != .relocatable
    var functions: [Function] = []
    let sectionCount = file.sections.count
    var labels = [[(offset: UInt64, size: UInt64, symbol: Int)]](repeating: [], count: sectionCount)
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
          labels[s.sectionIndex].append((offset, s.size, i))
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
    for k in labels.indices where labels[k].count > 1 {
      labels[k].mergeSort { ($0.offset, $0.size, $0.symbol) < ($1.offset, $1.size, $1.symbol) }
    }
    self.labels = labels
    var bySection = [[Int]](repeating: [], count: sectionCount)
    var byName: [String: [Int]] = [:]
    var bySymbol = [Int32](repeating: -1, count: symbols.count)
    for f in functions {
      if f.section >= 0 && f.section < sectionCount { bySection[f.section].append(f.id) }
      byName[f.name, default: []].append(f.id)
      bySymbol[f.symbolIndex] = Int32(f.id)
    }
    // An alias: the same place and size as an earlier function, which sorts just before it
    // (by offset, size, then id: the earliest symbol first).
    var isAlias = Array(repeating: false, count: functions.count)
    for k in bySection.indices where bySection[k].count > 1 {
      bySection[k].mergeSort {
        (functions[$0].offset, functions[$0].size, $0) < (functions[$1].offset, functions[$1].size, $1)
      }
      let ids = bySection[k]
      for j in 1..<ids.count
      where functions[ids[j]].offset == functions[ids[j - 1]].offset
        && functions[ids[j]].size == functions[ids[j - 1]].size
      {
        isAlias[ids[j]] = true
      }
    }
    self.bySection = bySection
    self.byName = byName
    self.isAlias = isAlias
    self.bySymbol = bySymbol
  }

  /// The ids of the functions of `section`, sorted by offset, size and id (empty for none).
  func ids(in section: Int) -> [Int] {
    section >= 0 && section < bySection.count ? bySection[section] : []
  }

  /// The first function symbol that starts at `place` (the first in the symbol table).
  public func firstFunction(at place: SectionPlace) -> Int? {
    let ids = ids(in: place.section)
    var k = ids.partitioningIndex { functions[$0].offset >= place.offset }
    var first: Int? = nil
    while k < ids.count && functions[ids[k]].offset == place.offset {
      if first == nil || ids[k] < first! { first = ids[k] }
      k += 1
    }
    return first
  }

  /// The function of symbol-table entry `index`, if it is one.
  public func function(symbolIndex index: Int) -> Int? {
    index >= 0 && index < bySymbol.count && bySymbol[index] >= 0 ? Int(bySymbol[index]) : nil
  }

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
    let ids = ids(in: section)
    guard !ids.isEmpty else { return nil }
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
  /// `withSectionAddress` (objtool's `--sec-address`) adds ` (section+0xoff)` after a symbol's name.
  public func offstr(section: Int, offset: UInt64, withSectionAddress: Bool = false) -> String {
    let name = section >= 0 && section < file.sections.count ? file.sections[section].name : "?"
    let address = withSectionAddress ? " (\(name)+0x\(String(offset, radix: 16)))" : ""
    if let f = function(containing: offset, in: section) {
      return "\(f.name)+0x\(String(offset &- f.offset, radix: 16))" + address
    }
    if section >= 0 && section < labels.count,
      let l = labels[section].first(where: { $0.offset <= offset && offset &- $0.offset < $0.size }),
      let symbol = try? symbols.name(of: try symbols.symbol(at: l.symbol))
    {
      return "\(symbol)+0x\(String(offset &- l.offset, radix: 16))" + address
    }
    return "\(name)+0x\(String(offset, radix: 16))"
  }

  /// `func+0xoff/0xsize` (the kernel's `%pS` shape) when a function covers the place.
  public func offstrWithSize(section: Int, offset: UInt64) -> String? {
    guard let f = function(containing: offset, in: section) else { return nil }
    return "\(f.name)+0x\(String(offset &- f.offset, radix: 16))/0x\(String(f.size, radix: 16))"
  }
}
