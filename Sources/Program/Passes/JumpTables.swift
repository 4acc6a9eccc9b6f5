import ELF
import Kernel
import X86

/// `add_jump_table_alts()`: switch jump tables. For each indirect jump, the
/// `.rodata` table a nearby instruction of its function points to
/// (`find_jump_table()`, `arch_find_switch_table()`); each entry that lands in
/// the same function is one more way the jump can go.
public struct JumpTables: Sendable {
  /// Per indirect jump that uses a table: its targets, in table order.
  public let paths: [Int: [Int]]
  /// Whether a table is reached through a PC-relative reference: a GCC quirk
  /// that can leave dead code behind, so objtool stops reporting unreachable code
  /// (`file->ignore_unreachables`).
  public let ignoreUnreachables: Bool

  /// The indirect jumps that use a table (not sibling calls).
  public var jumps: Set<Int> { Set(paths.keys) }

  /// A table found for a jump: the rodata section and the index of its first relocation.
  struct TableStart: Hashable {
    var section: Int
    var index: Int
  }

  /// - Parameters:
  ///   - type, jumpDest: each instruction's type and jump target after the earlier passes.
  ///   - parent, coldChild: the parent/child functions after the jump pass.
  /// objtool's C_JUMP_TABLE_SECTION, 6.1 and 6.12.
  static let cJumpTableSections: Set<String> = [".rodata..c_jump_table", ".data.rel.ro.c_jump_table"]

  public init(
    program: Program, table: InstructionTable, type: [InsnType], jumpDest: [Int32], parent: [Int],
    coldChild: [Int: Int]
  ) throws(ELFError) {
    // Switch tables are found only from indirect jumps: without one (most objects), nothing to read.
    guard type.contains(.jumpDynamic) else {
      paths = [:]
      ignoreUnreachables = false
      return
    }
    let file = program.file
    let functions = program.functions
    let function = table.function
    let offset = table.offset
    let rodata = Set(
      file.sections.filter {
        ($0.name.hasPrefix(".rodata") && !$0.name.contains(ascii: ".str1.")) || $0.name == ".data.rel.ro.c_jump_table"
      }.map(\.index))
    guard !rodata.isEmpty else {
      paths = [:]
      ignoreUnreachables = false
      return
    }
    // Each rodata section's relocations, in file order.
    var tables: [Int: [(offset: UInt64, section: Int, addend: Int64)]] = [:]
    for s in file.sections where s.type == .rela && rodata.contains(Int(s.info)) {
      let rel = try file.relocations(s)
      var list: [(UInt64, Int, Int64)] = []
      for k in 0..<rel.count {
        let sym = try program.symbols.symbol(at: Int(rel[k].symbolIndex))
        list.append((rel[k].offset, sym.isDefined ? sym.sectionIndex : -1, rel[k].addend))
      }
      tables[Int(s.info)] = list
    }
    var tableIndex: [Int: [UInt64: Int]] = [:]
    for (sec, list) in tables {
      var m: [UInt64: Int] = [:]
      for (k, e) in list.enumerated() where m[e.offset] == nil { m[e.offset] = k }
      tableIndex[sec] = m
    }
    // Symbols of each rodata section (a table inside a named object is not a switch table).
    var rodataSymbols: [Int: [(start: UInt64, end: UInt64)]] = [:]
    for k in 0..<program.symbols.count {
      guard let sym = try? program.symbols.symbol(at: k), sym.type != .section, rodata.contains(sym.sectionIndex)
      else { continue }
      rodataSymbols[sym.sectionIndex, default: []].append((sym.value, sym.value &+ sym.size))
    }
    func parentOf(_ i: Int) -> Int { function[i] >= 0 ? parent[Int(function[i])] : -1 }

    // `arch_find_switch_table()`: the table instruction `i` refers to, and whether
    // it does so PC-relatively.
    func switchTable(_ i: Int) -> (start: TableStart, pcRelative: Bool)? {
      let start = UInt64(offset[i])
      guard
        let r = program.relocations.first(in: Int(table.section[i]), start..<start + UInt64(table.length[i])),
        let sym = try? program.symbols.symbol(at: Int(r.symbolIndex)),
        sym.type == .section, rodata.contains(sym.sectionIndex)
      else { return nil }
      let pcRelative = r.type == X86RelocationType.pc32.rawValue
      let tableSection = sym.sectionIndex
      var tableOffset = UInt64(bitPattern: r.addend)
      if pcRelative { tableOffset &+= 4 }
      // C jump tables (`__annotate_jump_table`, C_JUMP_TABLE_SECTION: `.rodata..c_jump_table`
      // in 6.1, `.data.rel.ro.c_jump_table` later) have symbols; switch tables do not.
      if !Self.cJumpTableSections.contains(file.sections[tableSection].name),
        (rodataSymbols[tableSection] ?? []).contains(where: { $0.start <= tableOffset && tableOffset < $0.end })
      {
        return nil
      }
      guard let index = tableIndex[tableSection]?[tableOffset] else { return nil }
      return (TableStart(section: tableSection, index: index), pcRelative)
    }

    var ignoreUnreachables = false
    // Per instruction, the first jump (in function order) that reaches it forward, or -1.
    var firstJumpSource = [Int32](repeating: -1, count: table.count)
    // `find_jump_table()`: walk back from the indirect jump.
    func findTable(_ jump: Int, _ fn: Int) -> TableStart? {
      var insn: Int? = jump
      while let i = insn, function[i] >= 0, parentOf(i) == fn {
        if i != jump && type[i] == .jumpDynamic { break }
        if type[i] == .jumpUnconditional, jumpDest[i] >= 0,
          offset[Int(jumpDest[i])] <= offset[i] || offset[Int(jumpDest[i])] > offset[jump]
        {
          break
        }
        if let (t, pcRelative) = switchTable(i) {
          if pcRelative { ignoreUnreachables = true }
          if let e = tables[t.section]?[t.index], e.section >= 0,
            let dest = table.instruction(in: e.section, at: UInt64(bitPattern: e.addend)), function[dest] >= 0,
            parentOf(dest) == fn
          {
            return t
          }
        }
        if firstJumpSource[i] >= 0 {
          insn = Int(firstJumpSource[i])
        } else if i > 0, table.section[i - 1] == table.section[i], function[i - 1] == function[i] {
          insn = i - 1
        } else {
          insn = nil
        }
      }
      return nil
    }

    let candidates = functions.functions.filter { !functions.isAlias[$0.id] }
    var starts = Set<TableStart>()
    // Per instruction, its table (an index into `found`), or -1.
    var tableOf = [Int32](repeating: -1, count: table.count)
    var found: [TableStart] = []
    for f in candidates {
      table.forEachInstruction(ofFunction: f.id, in: functions, coldChild: coldChild) { i in
        if jumpDest[i] >= 0 && offset[Int(jumpDest[i])] > offset[i] && firstJumpSource[Int(jumpDest[i])] < 0 {
          firstJumpSource[Int(jumpDest[i])] = Int32(i)
        }
        guard type[i] == .jumpDynamic, let t = findTable(i, f.id) else { return }
        starts.insert(t)
        tableOf[i] = Int32(found.count)
        found.append(t)
      }
    }
    var paths: [Int: [Int]] = [:]
    for f in candidates where !found.isEmpty {
      for i in table.instructions(ofFunction: f.id, in: functions, coldChild: coldChild) {
        guard tableOf[i] >= 0, case let t = found[Int(tableOf[i])], let list = tables[t.section] else { continue }
        let fn = parentOf(i)
        let pf = functions.functions[fn]
        var previous: UInt64 = 0
        var k = t.index
        var targets: [Int] = []
        while k < list.count {
          let e = list[k]
          if k != t.index && starts.contains(TableStart(section: t.section, index: k)) { break }
          if previous != 0 && e.offset != previous + 8 { break }
          if e.section == pf.section && UInt64(bitPattern: e.addend) == pf.offset { break }
          guard e.section >= 0, let dest = table.instruction(in: e.section, at: UInt64(bitPattern: e.addend)),
            function[dest] >= 0, parentOf(dest) == fn
          else { break }
          targets.append(dest)
          previous = e.offset
          k += 1
        }
        if previous == 0 {
          throw program.stop(
            "can't find switch jump table", section: Int(table.section[i]),
            offset: UInt64(offset[i]))
        }
        paths[i, default: []] += targets
      }
    }
    self.paths = paths
    self.ignoreUnreachables = ignoreUnreachables
  }
}
