import ELF
import Kernel
import X86

/// The one program model of a file: its functions (with aliases and
/// parent/child), its code relocations and objtool's `offstr()`, shared by
/// validation, the alternatives view, livepatch, extable, paravirt and addr2func.
/// Instructions are decoded once into an ``InstructionTable``
/// (``InstructionTable/decode(_:jobs:)``); the passes in `Passes/` add
/// control flow to it and ``ControlFlowGraph`` holds the result.
public struct Program: Sendable {
  /// The file.
  public let file: ELFFile
  /// Its function symbols.
  public let functions: FunctionTable
  /// Its code relocations, sorted.
  public let relocations: RelocationIndex
  /// objtool's `--sec-address`: a place a symbol names is followed by its section and
  /// offset, `func+0x12 (.text+0x52)` (``offstr(_:)``).
  public var showsSectionAddresses = false

  /// In a linked file, the names of its symbols (functions, objects such as `pv_ops`
  /// and labels such as `__x86_indirect_thunk_array`) by address: what an object's
  /// relocations name. Empty for an object file.
  let linkedLabels: [(address: UInt64, name: String)]

  /// Reads the functions and relocations of `file`.
  public init(file: ELFFile) throws(ELFError) {
    self.file = file
    functions = try FunctionTable(file: file)
    relocations = try RelocationIndex(file: file)
    var labels: [(address: UInt64, name: String)] = []
    if file.fileType == .executable || file.fileType == .shared {
      let alloc = Set(file.sections.filter { $0.flags.contains(.alloc) }.map(\.index))
      let symbols = functions.symbols
      for i in 0..<symbols.count {
        let s = try symbols.symbol(at: i)
        guard s.isDefined, s.type == .function || s.type == .notype || s.type == .object, alloc.contains(s.sectionIndex)
        else { continue }
        let name = try symbols.name(of: s)
        if !name.isEmpty && !name.hasPrefix(".L") { labels.append((s.value, name)) }
      }
      labels.mergeSort { $0.address < $1.address }
    }
    linkedLabels = labels
  }

  /// Whether the file is linked (`vmlinux`): branches are resolved by address, not relocations.
  public var isLinked: Bool { file.fileType == .executable || file.fileType == .shared }

  /// In a linked file, the names of the symbols at `address` (see `linkedLabels`).
  public func linkedNames(at address: UInt64) -> [String] {
    var k = linkedLabels.partitioningIndex { $0.address >= address }
    var names: [String] = []
    while k < linkedLabels.count && linkedLabels[k].address == address {
      names.append(linkedLabels[k].name)
      k += 1
    }
    return names
  }

  /// In a linked file, `address` as objdump names it: `sym` or `sym+0xoff` after the
  /// nearest symbol at or below it in the same section; nil when none is.
  public func linkedSymbol(for address: UInt64) -> String? {
    let k = linkedLabels.partitioningIndex { $0.address > address }
    guard k > 0, let place = functions.place(ofAddress: address) else { return nil }
    let label = linkedLabels[k - 1]
    let start = file.sections[place.section].address
    guard label.address >= start else { return nil }
    let off = address - label.address
    return off == 0 ? label.name : "\(label.name)+0x\(String(off, radix: 16))"
  }

  /// AT&T text of a linked file's instruction at `address`, every kernel address in
  /// it (a branch target, a RIP-relative slot) named by its symbol:
  /// `call copy_user_enhanced_fast_string`, `call *pv_ops+0xb0(%rip)`.
  public func linkedInstructionText(_ bytes: [UInt8], address: UInt64) -> String {
    let text = X86Decoder.disassemble(bytes, address: address)
    var out: [Substring] = []
    for token in text.split(separator: " ", omittingEmptySubsequences: false) {
      var t = token
      let star = t.hasPrefix("*")
      if star { t = t.dropFirst() }
      let comma = t.hasSuffix(",")
      if comma { t = t.dropLast() }
      guard t.hasPrefix("0x"), t.count > 10, let value = UInt64(t.dropFirst(2), radix: 16),
        let name = linkedSymbol(for: value)
      else {
        out.append(token)
        continue
      }
      // Zydis prints a RIP-relative operand as its absolute address; objdump as `sym(%rip)`.
      let ripRelative = bytes.count > 4 && value != address &+ UInt64(bytes.count) && isRIPRelative(bytes)
      out.append(Substring((star ? "*" : "") + name + (ripRelative ? "(%rip)" : "") + (comma ? "," : "")))
    }
    return out.joined(separator: " ")
  }

  /// Whether the instruction's ModRM byte (after prefixes and opcode) selects RIP-relative addressing.
  func isRIPRelative(_ bytes: [UInt8]) -> Bool {
    var i = 0
    while i < bytes.count, [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3].contains(bytes[i]) {
      i += 1
    }
    if i < bytes.count, bytes[i] & 0xf0 == 0x40 { i += 1 }
    guard i < bytes.count else { return false }
    if bytes[i] == 0x0f {
      i += 1
      if i < bytes.count, bytes[i] == 0x38 || bytes[i] == 0x3a { i += 1 }
    }
    i += 1
    guard i < bytes.count else { return false }
    return bytes[i] & 0xc7 == 0x05
  }

  /// The address of a place in a linked file.
  public func address(of place: SectionPlace) -> UInt64 {
    place.section >= 0 && place.section < file.sections.count
      ? file.sections[place.section].address &+ place.offset : place.offset
  }

  /// objtool's `offstr()`: `func+0xoff` or `section+0xoff` (with `--sec-address`,
  /// `func+0xoff (section+0xoff)`).
  public func offstr(_ place: SectionPlace) -> String {
    functions.offstr(section: place.section, offset: place.offset, withSectionAddress: showsSectionAddresses)
  }

  /// The symbol table.
  public var symbols: SymbolTable { functions.symbols }

  /// The places a `.discard.*` annotation section lists: the symbol and addend of
  /// each relocation of its `.rela` companion, and the entry's offset.
  public func annotationPlaces(_ name: String) throws(ELFError) -> [(symbol: Symbol, addend: Int64, offset: UInt64)] {
    guard let rela = file.section(named: ".rela" + name) else { return [] }
    let table = try file.relocations(rela)
    var out: [(Symbol, Int64, UInt64)] = []
    for k in 0..<table.count {
      let sym = try symbols.symbol(at: Int(table[k].symbolIndex))
      guard sym.sectionIndex < file.sections.count else { continue }  // SHN_ABS and the like point at no code
      out.append((sym, table[k].addend, table[k].offset))
    }
    return out
  }

  /// An error objtool stops on, at `offset` of `section`, placed by `offstr()`.
  public func stop(_ message: String, section: Int, offset: UInt64) -> ELFError {
    let base = section >= 0 && section < file.sections.count ? file.sections[section].offset : 0
    return ELFError(
      .objtool(place: offstr(SectionPlace(section: section, offset: offset)), message: message),
      path: file.path, offset: base &+ offset)
  }

  /// Where a relative branch from `section` to `offset` (a section offset the
  /// displacement gives) lands. In an object file that is `offset` in `section`
  /// (its relocations name any other section). In a linked file (`vmlinux`,
  /// ET_EXEC or ET_DYN) branches cross sections by address (`.text` into
  /// `.init.text`): an offset outside `section` is looked up among the
  /// executable sections by address. objtool, which runs on object files, stops there.
  public func branchPlace(section: Int, offset: UInt64) -> SectionPlace {
    guard isLinked, section >= 0, section < file.sections.count,
      offset >= file.sections[section].size
    else { return SectionPlace(section: section, offset: offset) }
    let address = file.sections[section].address &+ offset
    for s in file.sections
    where s.flags.contains(.execInstr) && s.flags.contains(.alloc) && s.type != .nobits && address >= s.address
      && address - s.address < s.size
    {
      return SectionPlace(section: s.index, offset: address - s.address)
    }
    return SectionPlace(section: section, offset: offset)
  }

  /// An error objtool stops on that names no instruction.
  public func stop(_ message: String, at fileOffset: UInt64) -> ELFError {
    ELFError(.objtool(place: "", message: message), path: file.path, offset: fileOffset)
  }
}

/// Where a direct branch or call goes.
public enum BranchTarget: Sendable, Hashable {
  /// A place in this file: section index and offset.
  case place(section: Int, offset: UInt64)
  /// An undefined symbol (resolved at link or load time), such as `__fentry__`.
  case external(String)
}

extension Program {
  /// The instructions of `function` by linear sweep with the one decoder (stops at
  /// the first undecodable byte), each with its offset in the function; at most `limit`.
  public func instructions(of function: Function, limit: Int = .max) -> [(offset: Int, insn: X86Instruction)] {
    let section = file.sections[function.section]
    guard section.hasFileContents, function.endOffset <= section.size,
      let view = file.contents(of: section).slice(Int(function.offset), Int(function.size))
    else { return [] }
    let decoder = X86Decoder()
    var out: [(Int, X86Instruction)] = []
    var offset = 0
    while out.count < limit, offset < view.count,
      let insn = decoder.decode(view.bytes, at: offset, inFunction: { true })
    {
      out.append((offset, insn))
      offset += insn.length
    }
    return out
  }

  /// Where the direct branch `insn` at `offset` of `function` goes: through its
  /// relocation in an object, through its displacement in a linked image.
  public func target(of insn: X86Instruction, at offset: Int, in function: Function) throws(ELFError) -> BranchTarget? {
    guard insn.isDirectBranch else { return nil }
    let insnStart = function.offset + UInt64(offset)
    let insnEnd = insnStart + UInt64(insn.length)
    if file.fileType == .relocatable {
      let place = insnStart + UInt64(insn.immediateOffset)
      if let rel = relocations.at(function.section, place) {
        let symbol = try symbols.symbol(at: Int(rel.symbolIndex))
        if !symbol.isDefined { return .external(try symbols.name(of: symbol)) }
        let value = Int64(bitPattern: symbol.value) &+ rel.addend &+ Int64(insnEnd - place)
        return .place(section: symbol.sectionIndex, offset: UInt64(bitPattern: value))
      }
      return .place(section: function.section, offset: UInt64(bitPattern: Int64(insnEnd) &+ insn.immediate))
    }
    let address = UInt64(
      bitPattern: Int64(bitPattern: function.value &+ UInt64(offset + insn.length)) &+ insn.immediate)
    let section = file.sections[function.section]
    if address >= section.address && address - section.address < section.size {
      return .place(section: function.section, offset: address - section.address)
    }
    if let p = functions.place(ofAddress: address) { return .place(section: p.section, offset: p.offset) }
    return nil
  }
}

extension Program {
  /// What the relocation inside instruction bytes `range` of `section` names, as
  /// objdump's `-r` would: `symbol+0xN`, or `func+0xoff` for a section symbol; for a
  /// PC-relative field, the place the instruction reaches (the addend plus the
  /// distance from the field to the instruction's end). Nil without a relocation.
  public func relocationTarget(in section: Int, _ range: Range<UInt64>) -> String? {
    guard let r = relocations.first(in: section, range), let sym = try? symbols.symbol(at: Int(r.symbolIndex))
    else { return nil }
    let pcRelative = r.type == X86RelocationType.pc32.rawValue || r.type == X86RelocationType.plt32.rawValue
    // Wrapping: both values come from the file; a nonsense addend gives a nonsense name, not a trap.
    let addend = pcRelative ? r.addend &+ Int64(bitPattern: range.upperBound &- r.offset) : r.addend
    if sym.type == .section {
      guard sym.sectionIndex < file.sections.count else { return nil }
      return functions.offstr(section: sym.sectionIndex, offset: UInt64(bitPattern: addend))
    }
    guard let name = try? symbols.name(of: sym) else { return nil }
    if addend == 0 { return name }
    return addend > 0
      ? "\(name)+0x\(String(addend, radix: 16))" : "\(name)-0x\(String(addend.magnitude, radix: 16))"
  }
}
