import ELF

/// What a dump session needs of the vmlinux's symbol table, read in one pass
/// without decoding every name: the function symbols and the code labels by
/// address (to name frames), and the values of a few symbols by name.
struct CodeSymbols: Sendable {
  struct Entry: Sendable {
    var address: UInt64
    var size: UInt64
    var symbol: Int
    var nameIndex: UInt32
  }
  /// `STT_FUNC` symbols with a section, by (address, size, symbol index).
  let functions: [Entry]
  /// Named code symbols (`STT_FUNC` or `STT_NOTYPE` in an executable section, not `.L` locals), by (address, symbol index).
  let labels: [Entry]
  /// The first defined value of each wanted name.
  let values: [String: UInt64]
  let strings: StringTable

  init(file: ELFFile, wanted: Set<String>) throws(ELFError) {
    guard let symbols = try file.symbolTable() else {
      throw ELFError(.missingSection(".symtab"), path: file.path, offset: 0)
    }
    strings = symbols.strings
    let lengths = Set(wanted.map(\.utf8.count))
    let exec = Set(file.sections.filter { $0.flags.contains(.execInstr) }.map(\.index))
    var functions: [Entry] = []
    var labels: [Entry] = []
    var values: [String: UInt64] = [:]
    for i in 0..<symbols.count {
      let s = try symbols.symbol(at: i)
      guard s.isDefined else { continue }
      let name = try symbols.strings.bytes(at: UInt64(s.nameIndex))
      if lengths.contains(name.count) {
        let text = String(decoding: name, as: UTF8.self)
        if wanted.contains(text), values[text] == nil { values[text] = s.value }
      }
      let entry = Entry(address: s.value, size: s.size, symbol: i, nameIndex: s.nameIndex)
      if s.type == .function, s.sectionIndex < file.sections.count { functions.append(entry) }
      if s.type == .function || s.type == .notype, exec.contains(s.sectionIndex), !name.isEmpty,
        !(name.count >= 2 && name[0] == UInt8(ascii: ".") && name[1] == UInt8(ascii: "L"))
      {
        labels.append(entry)
      }
    }
    self.functions = functions.sorted { ($0.address, $0.size, $0.symbol) < ($1.address, $1.size, $1.symbol) }
    self.labels = labels.sorted { ($0.address, $0.symbol) < ($1.address, $1.symbol) }
    self.values = values
  }

  func name(_ e: Entry) -> String { (try? strings.string(at: UInt64(e.nameIndex))) ?? "?" }

  /// The function whose bytes hold `address`: the smallest of those that do,
  /// the first in the symbol table among aliases (as `FunctionTable.function(containing:in:)`).
  func function(containing address: UInt64) -> Entry? {
    var i = functions.partitioningIndex { $0.address > address } - 1
    var best: Entry? = nil
    var steps = 0
    while i >= 0 && steps < 8 {
      let f = functions[i]
      if address &- f.address < f.size || (f.size == 0 && address == f.address) {
        if best == nil || f.size < best!.size || (f.size == best!.size && f.symbol < best!.symbol) { best = f }
      }
      i -= 1
      steps += 1
    }
    return best
  }

  /// The nearest code symbol at or before `address`, and the address of the next one (as kallsyms sizes a symbol).
  func label(before address: UInt64) -> (entry: Entry, next: UInt64?)? {
    let lo = labels.partitioningIndex { $0.address > address }
    guard lo > 0 else { return nil }
    let label = labels[lo - 1]
    var next = lo
    while next < labels.count && labels[next].address == label.address { next += 1 }
    return (label, next < labels.count ? labels[next].address : nil)
  }
}
