import ELF
import X86

/// Where a direct branch or call goes.
public enum BranchTarget: Sendable, Hashable {
  /// A place in this file: section index and offset.
  case place(section: Int, offset: UInt64)
  /// An undefined symbol (resolved at link or load time), such as `__fentry__`.
  case external(String)
}

/// Decodes the code of functions and resolves their direct branches, through
/// the relocations of an object or the resolved displacements of a linked image.
public struct CodeReader: Sendable {
  /// The functions of the file.
  public let table: FunctionTable
  let decoder = X86Decoder()
  /// For an object: per code section, its relocation offsets in ascending
  /// order and, for each, the index of the relocation in its table.
  let relocations: [Int: (offsets: [UInt64], indices: [Int], table: RelocationTable)]

  /// A reader over `table`'s file.
  public init(table: FunctionTable) throws(ELFError) {
    self.table = table
    let file = table.file
    var relocations: [Int: (offsets: [UInt64], indices: [Int], table: RelocationTable)] = [:]
    if file.fileType == .relocatable {
      for s in file.sections where s.type == .rela {
        let target = Int(s.info)
        guard target < file.sections.count, file.sections[target].flags.contains(.execInstr) else { continue }
        let rel = try file.relocations(s)
        // The assembler writes relocations in fixup order, which is not
        // always ascending: sort a permutation.
        let indices = (0..<rel.count).sorted { rel[$0].offset < rel[$1].offset }
        relocations[target] = (indices.map { rel[$0].offset }, indices, rel)
      }
    }
    self.relocations = relocations
  }

  /// The bytes of `function` (empty when its range is outside its section or it has no bytes).
  public func bytes(of function: Function) -> ByteView? {
    let section = table.file.sections[function.section]
    guard section.hasFileContents, function.endOffset <= section.size else { return nil }
    return table.file.contents(of: section).slice(Int(function.offset), Int(function.size))
  }

  /// The instructions of `function`, by linear sweep (stops at the first undecodable byte).
  public func instructions(of function: Function) -> [X86Instruction] {
    guard let view = bytes(of: function) else { return [] }
    var out: [X86Instruction] = []
    var offset = 0
    while offset < view.count, let insn = decoder.decode(view.bytes, at: offset) {
      out.append(insn)
      offset += insn.length
    }
    return out
  }

  /// The first instruction of `function` and the one after it.
  public func firstInstructions(of function: Function, count: Int) -> [X86Instruction] {
    guard let view = bytes(of: function) else { return [] }
    var out: [X86Instruction] = []
    var offset = 0
    while out.count < count, offset < view.count, let insn = decoder.decode(view.bytes, at: offset) {
      out.append(insn)
      offset += insn.length
    }
    return out
  }

  /// The relocation at `offset` of `section`, for an object.
  public func relocation(in section: Int, at offset: UInt64) -> Relocation? {
    guard let r = relocations[section] else { return nil }
    var lo = 0
    var hi = r.offsets.count
    while lo < hi {
      let mid = (lo + hi) / 2
      if r.offsets[mid] < offset { lo = mid + 1 } else { hi = mid }
    }
    return lo < r.offsets.count && r.offsets[lo] == offset ? r.table[r.indices[lo]] : nil
  }

  /// Where the direct branch `insn` (decoded from `function`'s bytes) goes.
  public func target(of insn: X86Instruction, in function: Function) throws(ELFError) -> BranchTarget? {
    guard insn.isDirectBranch else { return nil }
    let file = table.file
    let insnStart = function.offset + UInt64(insn.offset)
    let insnEnd = insnStart + UInt64(insn.length)
    if file.fileType == .relocatable {
      let place = insnStart + UInt64(insn.immediateOffset)
      if let rel = relocation(in: function.section, at: place) {
        let symbol = try table.symbols.symbol(at: Int(rel.symbolIndex))
        if !symbol.isDefined { return .external(try table.symbols.name(of: symbol)) }
        let value = Int64(bitPattern: symbol.value) &+ rel.addend &+ Int64(insnEnd - place)
        return .place(section: symbol.sectionIndex, offset: UInt64(bitPattern: value))
      }
      return .place(section: function.section, offset: UInt64(bitPattern: Int64(insnEnd) &+ insn.displacement))
    }
    let address = UInt64(bitPattern: Int64(bitPattern: function.value &+ UInt64(insn.offset + insn.length)) &+ insn.displacement)
    let section = file.sections[function.section]
    if address >= section.address && address - section.address < section.size {
      return .place(section: function.section, offset: address - section.address)
    }
    if let p = table.place(ofAddress: address) { return .place(section: p.section, offset: p.offset) }
    return nil
  }
}
