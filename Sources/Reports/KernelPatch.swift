import ELF
import Kernel
import Program
import X86

/// How `orctool patch` sets the static keys (`jump_label_init()`'s choice per key).
public enum StaticKeyChoice: String, Sendable, CaseIterable, Codable {
  /// Every key enabled: a site jumps when its entry's branch bit is clear.
  case on
  /// Every key disabled: a site jumps when its branch bit is set.
  case off
  /// Each key at its declared initial value: the code as compiled (and as objtool's
  /// `--hacks=jump_label` left it), which is what `jump_label_init()` finds.
  case `default`
}

/// The machine `orctool patch` patches an object for.
public struct PatchChoices: Sendable {
  /// X86_FEATURE_* numbers present (`X86_FEATURE_ALWAYS` is added: every boot forces it).
  public var features: Set<Int>
  /// Xen PV (`X86_FEATURE_XENPV` is added, the pv_ops targets are Xen's).
  public var xenPV: Bool
  public var staticKeys: StaticKeyChoice
  /// What each pv_ops slot calls; needed when the object has paravirt sites.
  public var pvOps: PvOpsTargets?

  public init(features: Set<Int>, xenPV: Bool, staticKeys: StaticKeyChoice, pvOps: PvOpsTargets?) {
    (self.features, self.xenPV, self.staticKeys, self.pvOps) = (features, xenPV, staticKeys, pvOps)
  }
}

/// One site `orctool patch` visited, and what it wrote there.
public struct PatchRecord: Sendable, Codable, Hashable {
  /// `paravirt`, `alternative` or `static key`.
  public var kind: String
  /// `func+0xoff`.
  public var site: String
  /// Whether the bytes there changed.
  public var patched: Bool
  /// What the site holds now, as AT&T text, or why it was left.
  public var result: String
}

/// An object patched as the kernel patches it at boot or module load, for one machine:
/// 6.1's `apply_paravirt()`, then `apply_alternatives()` in table order (later entries
/// overwrite earlier ones; padding NOPs as that generation's `add_nops()`/`add_nop()` and
/// `optimize_nops()` write them; 6.12's `ALT_FLAG_DIRECT_CALL` as `alt_replace_call()`),
/// then the static keys as `jump_label_init()` sets them. Code moved from
/// `.altinstr_replacement` takes its relocations along, so its calls and jumps reach the
/// same targets (the kernel re-aims them by the distance moved); a direct call to a pv_ops
/// target is a `R_X86_64_PLT32` relocation against that function (an undefined symbol
/// added when the object has none). Relocations inside a rewritten range are dropped.
/// Retpoline and return-thunk rewriting (`apply_retpolines()`, `apply_returns()`) and
/// IBT sealing are not done.
public struct KernelPatch: Sendable {
  /// The patched object's bytes.
  public let bytes: [UInt8]
  /// Every site visited, in the order the kernel visits them.
  public let records: [PatchRecord]

  /// Patches `file` (an object or module) for `choices`.
  public init(file: ELFFile, generation: KernelGeneration, choices: PatchChoices) throws(ELFError) {
    guard file.fileType == .relocatable else {
      throw ELFError(
        .malformed("orctool patch takes an object or module; a linked image is not supported yet"),
        path: file.path, offset: 16)
    }
    var p = try Patching(file: file, generation: generation)
    var features = choices.features
    features.insert(Self.alwaysFeature)
    if choices.xenPV { features.insert(Self.xenPVFeature) }
    if generation == .v6_1 { try p.applyParavirt(pvOps: choices.pvOps) }
    try p.applyAlternatives(features: features, pvOps: choices.pvOps)
    if choices.staticKeys != .default { try p.applyStaticKeys(enabled: choices.staticKeys == .on) }
    bytes = try p.output()
    records = p.records
  }

  static let alwaysFeature = CPUFeature.always.rawValue
  static let xenPVFeature = CPUFeature.xenPV.rawValue

  /// `x86_nops[n]` (`arch/x86/include/asm/nops.h`, x86-64, 6.1 and 6.12).
  static let nops: [[UInt8]] = [
    [],
    [0x90],
    [0x66, 0x90],
    [0x0f, 0x1f, 0x00],
    [0x0f, 0x1f, 0x40, 0x00],
    [0x0f, 0x1f, 0x44, 0x00, 0x00],
    [0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
    [0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
    [0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
  ]

  /// `len` bytes of padding as `generation` writes it: 6.1's `add_nops()` (the largest
  /// NOPs, in turn); 6.12's `add_nop()` (one NOP up to 8 bytes, else a jump over INT3s).
  static func padding(_ len: Int, generation: KernelGeneration) -> [UInt8] {
    guard len > 0 else { return [] }
    switch generation {
    case .v6_1:
      var out: [UInt8] = []
      var left = len
      while left > 0 {
        let n = min(left, 8)
        out += nops[n]
        left -= n
      }
      return out
    case .v6_12:
      if len <= 8 { return nops[len] }
      if len < 128 { return [0xeb, UInt8(len - 2)] + [UInt8](repeating: 0xcc, count: len - 2) }
      return [0xe9] + le32(Int32(len - 5)) + [UInt8](repeating: 0xcc, count: len - 5)
    }
  }

  static func le32(_ v: Int32) -> [UInt8] {
    withUnsafeBytes(of: v.littleEndian) { Array($0) }
  }
}

/// The work of one ``KernelPatch``: section bytes and relocations as they change.
struct Patching {
  let file: ELFFile
  let generation: KernelGeneration
  let program: Program
  let symbols: SymbolTable
  let decoder = X86Decoder()
  var records: [PatchRecord] = []
  /// Code sections rewritten so far.
  var code: [Int: [UInt8]] = [:]
  /// Relocations of sections touched so far (by the section they apply to).
  var relocations: [Int: [Relocation]] = [:]
  /// Symbol names → index, for relocations against functions by name.
  var globalSymbols: [String: Int] = [:]
  /// The first `STT_SECTION` symbol of each section.
  var sectionSymbols: [Int: Int] = [:]
  /// Undefined symbols to add, in order (index = symbols.count + k).
  var newSymbols: [String] = []

  init(file: ELFFile, generation: KernelGeneration) throws(ELFError) {
    self.file = file
    self.generation = generation
    program = try Program(file: file)
    guard let symbols = try file.symbolTable() else {
      throw ELFError(.missingSection(".symtab"), path: file.path, offset: 0)
    }
    self.symbols = symbols
    for i in 0..<symbols.count {
      let s = try symbols.symbol(at: i)
      if s.type == .section {
        if sectionSymbols[s.sectionIndex] == nil { sectionSymbols[s.sectionIndex] = i }
      } else if s.binding != .local {
        let name = try symbols.name(of: s)
        if globalSymbols[name] == nil { globalSymbols[name] = i }
      }
    }
  }

  // MARK: Bytes and relocations

  mutating func contents(_ section: Int) -> [UInt8] {
    if let c = code[section] { return c }
    let c = [UInt8](file.contents(of: file.sections[section]).bytes)
    code[section] = c
    return c
  }

  func relocationSection(of section: Int) -> Section? {
    file.sections.first { $0.type == .rela && Int($0.info) == section && Int($0.link) == symbols.section.index }
  }

  mutating func relocationList(_ section: Int) throws(ELFError) -> [Relocation] {
    if let r = relocations[section] { return r }
    var list: [Relocation] = []
    if let rela = relocationSection(of: section) {
      let table = try file.relocations(rela)
      list = (0..<table.count).map { table[$0] }
    }
    relocations[section] = list
    return list
  }

  /// Writes `bytes` at `place` and gives the range `relocs` (offsets relative to `place`)
  /// in place of the relocations it had.
  mutating func write(_ bytes: [UInt8], at place: SectionPlace, relocs: [Relocation]) throws(ELFError) {
    var c = contents(place.section)
    guard let start = Self.start(of: place, count: bytes.count, in: c) else {
      throw ELFError(
        .malformed("patch site \(program.offstr(place)) runs past the end of \(file.sections[place.section].name)"),
        path: file.path, offset: file.sections[place.section].offset &+ place.offset)
    }
    c.replaceSubrange(start..<start + bytes.count, with: bytes)
    code[place.section] = c
    let end = place.offset + UInt64(bytes.count)
    var list = try relocationList(place.section).filter { $0.offset < place.offset || $0.offset >= end }
    if !relocs.isEmpty && relocationSection(of: place.section) == nil {
      throw ELFError(
        .malformed("patch site \(program.offstr(place)) needs relocations but its section has none to extend"),
        path: file.path, offset: file.sections[place.section].offset + place.offset)
    }
    for var r in relocs {
      r.offset += place.offset
      list.append(r)
    }
    relocations[place.section] = list.sorted { $0.offset < $1.offset }
  }

  /// `place`'s offset as an index into `c` when `count` bytes from it lie inside `c`.
  /// (A place comes from a relocation's addend: it may be anywhere, even near 2^64.)
  static func start(of place: SectionPlace, count: Int, in c: [UInt8]) -> Int? {
    place.offset <= UInt64(c.count) && UInt64(count) <= UInt64(c.count) - place.offset ? Int(place.offset) : nil
  }

  /// The symbol-table index of the function `name` (added, undefined, when missing).
  mutating func symbolIndex(named name: String) -> Int {
    if let k = globalSymbols[name] { return k }
    let k = symbols.count + newSymbols.count
    newSymbols.append(name)
    globalSymbols[name] = k
    return k
  }

  /// `call name` (5 bytes) with its relocation.
  mutating func directCall(to name: String) -> (bytes: [UInt8], relocs: [Relocation]) {
    let k = symbolIndex(named: name)
    return (
      [0xe8, 0, 0, 0, 0],
      [Relocation(offset: 1, symbolIndex: UInt32(k), type: X86RelocationType.plt32.rawValue, addend: -4)]
    )
  }

  /// The length of the instruction at `offset` of `bytes`, as the kernel's decoder sees it.
  func instructionLength(_ bytes: [UInt8], at offset: Int) -> Int? {
    bytes.withUnsafeBytes { b in decoder.decode(b, at: offset, inFunction: { true })?.length }
  }

  // MARK: Paravirt (6.1)

  /// 6.1's `apply_paravirt()`: each `.parainstructions` site becomes a direct call to its
  /// pv_ops slot's function (`paravirt_BUG` for NULL), or NOPs for `_paravirt_nop`.
  mutating func applyParavirt(pvOps: PvOpsTargets?) throws(ELFError) {
    let sites = try ParavirtSites(file: file).sites
    guard !sites.isEmpty else { return }
    guard let pvOps else {
      throw ELFError(
        .malformed(
          "\(sites.count) paravirt sites (first at \(program.offstr(sites[0].instruction))) need the pv_ops targets: give --pv-ops VMLINUX"
        ), path: file.path, offset: 0)
    }
    for s in sites {
      let target = pvOps.slots[s.type] ?? "paravirt_BUG"
      var bytes: [UInt8] = []
      var relocs: [Relocation] = []
      if target != "_paravirt_nop" {
        (bytes, relocs) = directCall(to: target)
      }
      guard bytes.count <= s.length else {
        throw ELFError(
          .malformed("paravirt site \(program.offstr(s.instruction)) is \(s.length) bytes, too short for a call"),
          path: file.path, offset: 0)
      }
      bytes += KernelPatch.padding(s.length - bytes.count, generation: .v6_1)
      try write(bytes, at: s.instruction, relocs: relocs)
      records.append(
        PatchRecord(
          kind: "paravirt", site: program.offstr(s.instruction), patched: true,
          result: target == "_paravirt_nop" ? "nops (_paravirt_nop)" : "call \(target)"))
    }
  }

  // MARK: Alternatives

  mutating func applyAlternatives(features: Set<Int>, pvOps: PvOpsTargets?) throws(ELFError) {
    let entries = try AlternativesTable(file: file, generation: generation).entries
    var lengths = entries.map(\.instructionLength)
    if generation == .v6_12 {
      // Nested ALTERNATIVE()s: every entry of a site patches the longest length.
      for a in entries.indices {
        var b = a + 1
        while b < entries.count && entries[b].instruction == entries[a].instruction {
          let m = max(lengths[a], lengths[b])
          (lengths[a], lengths[b]) = (m, m)
          b += 1
        }
      }
    }
    for (k, a) in entries.enumerated() {
      let length = lengths[k]
      let site = program.offstr(a.instruction)
      let feature = a.cpuFeature.name(in: generation) ?? "feature \(a.feature)"
      if features.contains(a.feature) == a.inverted {
        try optimizeNops(at: a.instruction, length: length)
        records.append(
          PatchRecord(
            kind: "alternative", site: site, patched: false,
            result: "left (\(a.inverted ? "!" : "")\(feature))"))
        continue
      }
      var replacement = try self.replacement(of: a)
      var result = ""
      if a.directCall {
        let slot = try pvOpsSlot(calledAt: a.instruction)
        guard let pvOps else {
          throw ELFError(
            .malformed("direct-call alternative at \(site) needs the pv_ops targets: give --pv-ops VMLINUX"),
            path: file.path, offset: 0)
        }
        let target = pvOps.slots[slot] ?? "BUG_func"
        if target == "nop_func" {
          replacement = ([], [])
          result = "nops (nop_func)"
        } else {
          replacement = directCall(to: target)
          result = "call \(target)" + (length > 5 ? "; nop" : "")
        }
      }
      if generation == .v6_1 {
        try shortenJump6_1(&replacement, site: a.instruction)
      } else {
        try shortenJumps6_12(&replacement, site: a.instruction)
      }
      guard replacement.bytes.count <= length else {
        throw ELFError(
          .malformed(
            "alternative \(a.index) at \(site) is longer (\(replacement.bytes.count)) than its site (\(length))"),
          path: file.path, offset: 0)
      }
      let bytes = replacement.bytes + [UInt8](repeating: 0x90, count: length - replacement.bytes.count)
      try write(bytes, at: a.instruction, relocs: replacement.relocs)
      try optimizeNops(at: a.instruction, length: length)
      if result.isEmpty { result = try describe(a.instruction, length: length) }
      records.append(
        PatchRecord(
          kind: "alternative", site: site, patched: true,
          result: "\(result) (\(a.inverted ? "!" : "")\(feature))"))
    }
  }

  /// The code at `place` as AT&T text, a relocated call or jump named by its symbol.
  mutating func describe(_ place: SectionPlace, length: Int) throws(ELFError) -> String {
    let c = contents(place.section)
    let relocs = try relocationList(place.section)
    var parts: [String] = []
    guard var i = Self.start(of: place, count: length, in: c) else { return "" }
    let end = i + length
    while i < end, let n = instructionLength(c, at: i) {
      if n == 5, c[i] == 0xe8 || c[i] == 0xe9,
        let r = relocs.first(where: { $0.offset == UInt64(i + 1) }),
        let s = try? symbols.symbol(at: Int(r.symbolIndex)), let name = try? file.displayName(of: s, in: symbols)
      {
        let addend = r.addend + 4
        parts.append(
          (c[i] == 0xe8 ? "call " : "jmp ") + name
            + (addend == 0 ? "" : addend > 0 ? "+0x\(String(addend, radix: 16))" : "-0x\(String(-addend, radix: 16))"))
      } else {
        parts.append(X86Decoder.disassemble(Array(c[i..<min(i + n, end)])))
      }
      i += n
    }
    return parts.joined(separator: "; ")
  }

  /// The replacement's bytes and relocations (offsets relative to its start).
  mutating func replacement(of a: AlternativeEntry) throws(ELFError) -> (bytes: [UInt8], relocs: [Relocation]) {
    let r = a.replacement
    let c = contents(r.section)
    guard r.offset <= UInt64(c.count), UInt64(a.replacementLength) <= UInt64(c.count) - r.offset else {
      throw ELFError(
        .malformed(".altinstructions entry \(a.index): replacement outside its section"), path: file.path, offset: 0)
    }
    let bytes = Array(c[Int(r.offset)..<Int(r.offset) + a.replacementLength])
    let end = r.offset + UInt64(a.replacementLength)
    let relocs = try relocationList(r.section).filter { $0.offset >= r.offset && $0.offset < end }.map {
      var x = $0
      x.offset -= r.offset
      return x
    }
    return (bytes, relocs)
  }

  /// The pv_ops slot `call *pv_ops+off(%rip)` at `place` reads.
  mutating func pvOpsSlot(calledAt place: SectionPlace) throws(ELFError) -> Int {
    let c = contents(place.section)
    guard let o = Self.start(of: place, count: 6, in: c), c[o] == 0xff, c[o + 1] == 0x15,
      let r = try relocationList(place.section).first(where: { $0.offset == place.offset + 2 }),
      let s = try? symbols.symbol(at: Int(r.symbolIndex)), (try? symbols.name(of: s)) == "pv_ops",
      (r.addend + 4) >= 0, (r.addend + 4) % 8 == 0
    else {
      throw ELFError(
        .malformed("ALT_FLAG_DIRECT_CALL set for unrecognized indirect call at \(program.offstr(place))"),
        path: file.path, offset: 0)
    }
    return Int((r.addend + 4) / 8)
  }

  /// The place a relocated jump's displacement at `r` (relative to the replacement) aims
  /// at, when it is in section `section`: nil when elsewhere or unknown.
  func jumpTarget(_ r: Relocation, in section: Int) -> Int64? {
    guard r.type == X86RelocationType.pc32.rawValue || r.type == X86RelocationType.plt32.rawValue,
      let s = try? symbols.symbol(at: Int(r.symbolIndex)), s.isDefined, s.sectionIndex == section
    else { return nil }
    // S + A - P with P the field: the target is S + A + 4 (the field is the last 4 bytes).
    return Int64(bitPattern: s.value) &+ r.addend &+ 4
  }

  /// 6.1's `recompute_jump()`: a replacement that is one 5-byte JMP whose target is in the
  /// site's own section becomes a 2-byte JMP when the distance allows (then the relocation
  /// is resolved here).
  mutating func shortenJump6_1(
    _ rep: inout (bytes: [UInt8], relocs: [Relocation]), site: SectionPlace
  ) throws(ELFError) {
    guard rep.bytes.count == 5, rep.bytes[0] == 0xe9, rep.relocs.count == 1, rep.relocs[0].offset == 1,
      let target = jumpTarget(rep.relocs[0], in: site.section)
    else { return }
    let n = target &- Int64(bitPattern: site.offset)
    let two = n >= 0 ? n &- 2 <= 127 : ((n &- 2) & 0xff) == n &- 2
    if two {
      rep = ([0xeb, UInt8(truncatingIfNeeded: n &- 2)] + KernelPatch.padding(3, generation: .v6_1), [])
    } else {
      rep = ([0xe9] + KernelPatch.le32(Int32(truncatingIfNeeded: n &- 5)), [])
    }
  }

  /// 6.12's `__apply_relocation()`: a JMP.d32 whose target (through its relocation) is in
  /// the site's own section becomes a JMP.d8 and INT3s when it reaches.
  mutating func shortenJumps6_12(
    _ rep: inout (bytes: [UInt8], relocs: [Relocation]), site: SectionPlace
  ) throws(ELFError) {
    var i = 0
    while i < rep.bytes.count, let n = instructionLength(rep.bytes, at: i) {
      defer { i += n }
      guard n == 5, rep.bytes[i] == 0xe9,
        let k = rep.relocs.firstIndex(where: { $0.offset == UInt64(i + 1) }),
        let target = jumpTarget(rep.relocs[k], in: site.section)
      else { continue }
      let imm = target &- (Int64(bitPattern: site.offset) &+ Int64(i) &+ 2)
      guard imm >= -128 && imm <= 127 else { continue }
      rep.bytes.replaceSubrange(i..<i + 5, with: [0xeb, UInt8(truncatingIfNeeded: imm), 0xcc, 0xcc, 0xcc])
      rep.relocs.remove(at: k)
    }
  }

  /// `optimize_nops()` over `length` bytes at `place`: 6.1 turns each run of single-byte
  /// NOPs into the largest NOPs; 6.12 turns each run of NOPs (not the last instruction
  /// alone) into one NOP or a jump over INT3s.
  mutating func optimizeNops(at place: SectionPlace, length: Int) throws(ELFError) {
    var c = contents(place.section)
    guard let base = Self.start(of: place, count: length, in: c) else { return }
    var i = 0
    switch generation {
    case .v6_1:
      while i < length, let n = instructionLength(c, at: base + i) {
        if n == 1 && c[base + i] == 0x90 {
          var j = i
          while j < length && c[base + j] == 0x90 { j += 1 }
          if j - i > 1 {
            c.replaceSubrange(base + i..<base + j, with: KernelPatch.padding(j - i, generation: .v6_1))
          }
          i = j
        } else {
          i += n
        }
      }
    case .v6_12:
      while i < length, let n = instructionLength(c, at: base + i) {
        var next = i + n
        if isNop(c, at: base + i) {
          if next == length { break }
          while next < length, let m = instructionLength(c, at: base + next), isNop(c, at: base + next) {
            next += m
          }
          c.replaceSubrange(base + i..<base + next, with: KernelPatch.padding(next - i, generation: .v6_12))
        }
        i = next
      }
    }
    code[place.section] = c
  }

  /// 6.12's `insn_is_nop()`: NOP (not REP NOP) or NOPL, after legacy prefixes.
  func isNop(_ c: [UInt8], at offset: Int) -> Bool {
    var i = offset
    while i < c.count && [0x66, 0x2e, 0x3e, 0x26, 0x36, 0x64, 0x65, 0x67, 0xf2, 0xf3].contains(c[i]) { i += 1 }
    guard i < c.count else { return false }
    if c[i] == 0x90 { return i == offset || c[offset] != 0xf3 }
    return c[i] == 0x0f && i + 1 < c.count && c[i + 1] == 0x1f
  }

  // MARK: Static keys

  /// `jump_label_init()` with every key enabled or disabled: each site a JMP to its
  /// target or a NOP of its own size (`arch_jump_label_transform()`).
  mutating func applyStaticKeys(enabled: Bool) throws(ELFError) {
    for e in try JumpTable(file: file).entries {
      let site = program.offstr(e.code)
      let c = contents(e.code.section)
      guard let at = Self.start(of: e.code, count: 1, in: c), let size = instructionLength(c, at: at),
        size == 2 || size == 5, at + size <= c.count
      else {
        throw ELFError(
          .malformed("static key site \(site) is neither a 2- nor a 5-byte JMP or NOP"), path: file.path,
          offset: 0)
      }
      let jump = enabled != e.keyFlags.contains(.branch)
      var bytes = KernelPatch.nops[size]
      var relocs: [Relocation] = []
      if jump {
        if e.target.section == e.code.section {
          let d = Int64(bitPattern: e.target.offset &- e.code.offset) &- Int64(size)
          if size == 2 {
            guard d >= -128 && d <= 127 else {
              throw ELFError(
                .malformed("static key site \(site): a 2-byte jump cannot reach its target"), path: file.path,
                offset: 0)
            }
            bytes = [0xeb, UInt8(truncatingIfNeeded: d)]
          } else {
            bytes = [0xe9] + KernelPatch.le32(Int32(truncatingIfNeeded: d))
          }
        } else {
          guard size == 5, let k = sectionSymbols[e.target.section] else {
            throw ELFError(
              .malformed("static key site \(site): its target is in another section, out of its reach"),
              path: file.path, offset: 0)
          }
          bytes = [0xe9, 0, 0, 0, 0]
          relocs = [
            Relocation(
              offset: 1, symbolIndex: UInt32(k), type: X86RelocationType.pc32.rawValue,
              addend: Int64(bitPattern: e.target.offset) &- 4)
          ]
        }
      }
      let before = Array(c[at..<at + size])
      try write(bytes, at: e.code, relocs: relocs)
      records.append(
        PatchRecord(
          kind: "static key", site: site, patched: before != bytes || !relocs.isEmpty,
          result: jump ? "jmp \(program.offstr(e.target))" : "nop"))
    }
  }

  // MARK: Output

  /// The object with the rewritten sections, relocations and added symbols.
  func output() throws(ELFError) -> [UInt8] {
    var replacing: [SectionReplacement] = []
    for (section, data) in code.sorted(by: { $0.key < $1.key })
    where !data.elementsEqual(file.contents(of: file.sections[section]).bytes) {
      replacing.append(SectionReplacement(index: section, data: data))
    }
    for (section, list) in relocations.sorted(by: { $0.key < $1.key }) {
      guard let rela = relocationSection(of: section) else { continue }
      var data: [UInt8] = []
      data.reserveCapacity(list.count * RelocationTable.entrySize)
      func append<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { data += $0 } }
      for r in list {
        append(r.offset)
        append(UInt64(r.symbolIndex) << 32 | UInt64(r.type))
        append(r.addend)
      }
      if !data.elementsEqual(file.contents(of: rela).bytes) {
        replacing.append(SectionReplacement(index: rela.index, data: data))
      }
    }
    if !newSymbols.isEmpty {
      let strtab = file.sections[Int(symbols.section.link)]
      var strings = [UInt8](file.contents(of: strtab).bytes)
      var table = [UInt8](file.contents(of: symbols.section).bytes)
      for name in newSymbols {
        let nameIndex = UInt32(strings.count)
        strings += Array(name.utf8) + [0]
        var entry = [UInt8](repeating: 0, count: SymbolTable.entrySize)
        withUnsafeBytes(of: nameIndex.littleEndian) { for (i, b) in $0.enumerated() { entry[i] = b } }
        entry[4] = 0x10  // STB_GLOBAL << 4 | STT_NOTYPE, undefined
        table += entry
      }
      replacing.append(SectionReplacement(index: symbols.section.index, data: table))
      replacing.append(SectionReplacement(index: strtab.index, data: strings))
      if let shndx = file.sections.first(where: { $0.type == .symtabShndx && Int($0.link) == symbols.section.index }) {
        let data = [UInt8](file.contents(of: shndx).bytes) + [UInt8](repeating: 0, count: 4 * newSymbols.count)
        replacing.append(SectionReplacement(index: shndx.index, data: data))
      }
    }
    return try file.appending([], replacing: replacing)
  }
}
