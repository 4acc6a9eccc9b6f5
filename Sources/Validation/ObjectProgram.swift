import Dispatch
import ELF
import Kernel
import Program
import X86

/// Every instruction of an object's code sections, with objtool's view of
/// functions, branch targets, call targets and dead ends (`decode_sections()`
/// in tools/objtool/check.c, for objects without annotations).
public final class ObjectProgram {
  public let file: ELFFile
  public let functions: FunctionTable
  /// Instruction arrays (struct of arrays), in section then offset order.
  public internal(set) var section: [Int32] = []
  public internal(set) var offset: [UInt32] = []
  public internal(set) var length: [UInt8] = []
  public internal(set) var type: [InsnType] = []
  var immediate: [Int64] = []
  var ops: [[StackOp]] = []
  /// The function symbol (non-alias) covering each instruction, or -1.
  public internal(set) var function: [Int32] = []
  /// Jump target instruction, or -1.
  var jumpDest: [Int32] = []
  /// Call (or sibling-call) target: a function symbol id, an external symbol name, or nothing.
  var callDest: [CallDest?] = []
  var deadEnd: [Bool] = []
  /// Alternative paths that start at an instruction: static-key targets and
  /// replacement streams (`insn->alts`), validated before the instruction itself.
  var alts: [Int: [Int]] = [:]
  /// Per section: the first instruction index and the sorted offsets.
  var sectionRange: [Int: Range<Int>] = [:]
  /// Code sections in index order, and whether each counts as text for ORC.
  public internal(set) var codeSections: [(index: Int, text: Bool)] = []
  /// Parent function of each function symbol (`pfunc`); self for most.
  var parent: [Int]
  /// Whether each function symbol is an alias of another (same place and size).
  var isAlias: [Bool]
  /// The first function symbol at each place, and function ids by symbol index.
  var functionAt: [SectionPlaceKey: Int] = [:]
  var functionBySymbol: [Int: Int] = [:]

  struct SectionPlaceKey: Hashable {
    var section: Int
    var offset: UInt64
  }

  enum CallDest {
    case function(Int)
    case external(String)
  }

  /// How many threads decode sections (1: none).
  let jobs: Int
  /// The code size from which sections are decoded in parallel.
  public static let parallelDecodeThreshold = 256 * 1024

  /// Decodes `file`'s code sections (`jobs` at a time) and links branches and calls.
  public init(file: ELFFile, jobs: Int = 1) throws(ELFError) {
    self.file = file
    self.jobs = max(1, jobs)
    functions = try FunctionTable(file: file)
    parent = Array(functions.functions.indices)
    isAlias = Array(repeating: false, count: functions.functions.count)
    var firstAt: [String: Int] = [:]
    for f in functions.functions {
      let key = "\(f.section):\(f.offset):\(f.size)"
      if firstAt[key] == nil { firstAt[key] = f.id } else { isAlias[f.id] = true }
      let place = SectionPlaceKey(section: f.section, offset: f.offset)
      if functionAt[place] == nil { functionAt[place] = f.id }
      functionBySymbol[f.symbolIndex] = f.id
    }
    // .cold children: parent by name (the last symbol of that name, as objtool's hash finds it).
    var lastByName: [String: Int] = [:]
    for f in functions.functions { lastByName[f.name] = f.id }
    for f in functions.functions {
      if let r = f.name.firstRange(of: ".cold"), let p = lastByName[String(f.name[..<r.lowerBound])] {
        parent[f.id] = p
      }
    }
    try decode()
    try buildRelocationIndex()
    try addIgnores()
    try addIgnoreAlternatives()
    try addSpecialSectionAlternatives()
    try linkJumps()
    try readIntraFunctionCalls()
    try linkCalls()
    try addDeadEnds()
    try addJumpTables()
    try readUnwindHints()
    hasAlternatives = Array(repeating: false, count: section.count)
    for k in alts.keys { hasAlternatives[k] = true }
    hasOverride = Array(repeating: false, count: section.count)
    for k in nextOverride.keys { hasOverride[k] = true }
  }

  // MARK: Annotations (.discard.*), objtool 6.1's decode_sections() order.

  /// Instructions of functions in `.discard.func_stack_frame_non_standard` (`insn->ignore`).
  public internal(set) var ignored: [Bool] = []
  /// Sites whose alternatives are not followed (`.discard.ignore_alts`).
  var ignoreAlternatives = Set<Int>()
  /// Unwind hints: the CFI an instruction starts with (`insn->hint`, `insn->cfi`).
  var hints: [Int: CFIState] = [:]
  var isHint: [Bool] = []
  /// `UNWIND_HINT_SAVE` / `UNWIND_HINT_RESTORE` instructions.
  var saveHints = Set<Int>()
  var restoreHints = Set<Int>()
  /// Whether the object has `.discard.unwind_hints` (`file->hints`).
  public internal(set) var hasHints = false

  /// The relocations of a `.discard.*` section's `.rela` companion.
  func annotationPlaces(_ name: String) throws(ELFError) -> [(symbol: Symbol, addend: Int64, offset: UInt64)] {
    guard let rela = file.section(named: ".rela" + name) else { return [] }
    let table = try file.relocations(rela)
    var out: [(Symbol, Int64, UInt64)] = []
    for k in 0..<table.count {
      let sym = try functions.symbols.symbol(at: Int(table[k].symbolIndex))
      guard sym.sectionIndex < file.sections.count else { continue }  // SHN_ABS and the like point at no code
      out.append((sym, table[k].addend, table[k].offset))
    }
    return out
  }

  /// `add_ignores()`.
  func addIgnores() throws(ELFError) {
    ignored = Array(repeating: false, count: section.count)
    for (sym, addend, _) in try annotationPlaces(".discard.func_stack_frame_non_standard") {
      let fn: Int?
      switch sym.type {
      case .function: fn = functionBySymbol[sym.index]
      case .section: fn = functionAt[SectionPlaceKey(section: sym.sectionIndex, offset: UInt64(bitPattern: addend))]
      default: fn = nil
      }
      guard let fn else { continue }
      for i in instructions(ofFunction: fn) { ignored[i] = true }
    }
  }

  /// `add_ignore_alternatives()`.
  func addIgnoreAlternatives() throws(ELFError) {
    for (sym, addend, o) in try annotationPlaces(".discard.ignore_alts") {
      guard sym.type == .section, let i = instruction(in: sym.sectionIndex, at: UInt64(bitPattern: addend)) else {
        throw ELFError(.objtool(place: "", message: "bad .discard.ignore_alts entry"), path: file.path, offset: o)
      }
      ignoreAlternatives.insert(i)
    }
  }

  /// `read_intra_function_calls()`: annotated calls within a function are jumps that push.
  func readIntraFunctionCalls() throws(ELFError) {
    for (sym, addend, o) in try annotationPlaces(".discard.intra_function_calls") {
      guard sym.type == .section, let i = instruction(in: sym.sectionIndex, at: UInt64(bitPattern: addend)) else {
        throw ELFError(.objtool(place: "", message: "bad .discard.intra_function_call entry"), path: file.path, offset: o)
      }
      guard type[i] == .call else {
        throw stop("intra_function_call not a direct call", section: Int(section[i]), offset: UInt64(offset[i]))
      }
      type[i] = .jumpUnconditional
      let dest = UInt64(bitPattern: Int64(offset[i]) + Int64(length[i]) &+ immediate[i])
      guard let d = instruction(in: Int(section[i]), at: dest) else {
        throw stop("can't find call dest at \(file.sections[Int(section[i])].name)+0x\(String(dest, radix: 16))",
                   section: Int(section[i]), offset: UInt64(offset[i]))
      }
      jumpDest[i] = Int32(d)
    }
  }

  /// `add_dead_ends()`: `.discard.unreachable` marks the instruction before a
  /// place as a dead end, `.discard.reachable` as not one.
  func addDeadEnds() throws(ELFError) {
    for (name, value) in [(".discard.unreachable", true), (".discard.reachable", false)] {
      for (sym, addend, _) in try annotationPlaces(name) where sym.type == .section {
        let place = UInt64(bitPattern: addend)
        var target: Int? = nil
        if let i = instruction(in: sym.sectionIndex, at: place) {
          target = i > 0 ? i - 1 : nil  // the previous instruction of the whole list, as objtool's
        } else if place == file.sections[sym.sectionIndex].size, let r = sectionRange[sym.sectionIndex], !r.isEmpty {
          target = r.upperBound - 1
        }
        if let t = target { deadEnd[t] = value }
      }
    }
  }

  /// `read_unwind_hints()` (6.1 `struct unwind_hint`: ip, sp_offset, sp_reg, type, end; 12 bytes).
  func readUnwindHints() throws(ELFError) {
    isHint = Array(repeating: false, count: section.count)
    guard let sec = file.section(named: ".discard.unwind_hints") else { return }
    guard sec.size % 12 == 0 else {
      throw ELFError(.objtool(place: "", message: "struct unwind_hint size mismatch"), path: file.path, offset: sec.headerOffset)
    }
    hasHints = true
    let view = file.contents(of: sec)
    var byOffset: [UInt64: (Symbol, Int64)] = [:]
    for (sym, addend, o) in try annotationPlaces(".discard.unwind_hints") { byOffset[o] = (sym, addend) }
    var cfi = CFIState.initialHint
    // The hints the file holds (a NOBITS section has a size and no bytes).
    for k in 0..<(view.count / 12) {
      guard let (sym, addend) = byOffset[UInt64(k * 12)] else {
        throw ELFError(.objtool(place: "", message: "can't find reloc for unwind_hints[\(k)]"), path: file.path,
                       offset: sec.offset + UInt64(k * 12))
      }
      let place = UInt64(bitPattern: Int64(bitPattern: sym.type == .section ? 0 : sym.value) &+ addend)
      guard let i = instruction(in: sym.sectionIndex, at: place) else {
        throw ELFError(.objtool(place: "", message: "can't find insn for unwind_hints[\(k)]"), path: file.path,
                       offset: sec.offset + UInt64(k * 12))
      }
      let spOffset = view.load(Int16.self, at: k * 12 + 4)
      let spReg = view.load(UInt8.self, at: k * 12 + 6)
      var hintType = view.load(UInt8.self, at: k * 12 + 7)
      let end = view.load(UInt8.self, at: k * 12 + 8)
      isHint[i] = true
      switch hintType {
      case 5:  // UNWIND_HINT_TYPE_SAVE
        isHint[i] = false
        saveHints.insert(i)
        continue
      case 6:  // UNWIND_HINT_TYPE_RESTORE
        restoreHints.insert(i)
        continue
      case 4:  // UNWIND_HINT_TYPE_ENTRY: a CALL hint at an entry point
        hintType = 0
      case 3:  // UNWIND_HINT_TYPE_FUNC
        hints[i] = CFIState.initialFunction
        continue
      default: break
      }
      if let existing = hints[i] { cfi = existing }
      // arch_decode_hint_reg(): ORC_REG_* to CFI base.
      switch spReg {
      case 0: cfi.cfa.base = CFIBase.undefined
      case 5: cfi.cfa.base = CFIBase.sp
      case 4: cfi.cfa.base = CFIBase.bp
      case 9: cfi.cfa.base = CFIBase.spIndirect
      case 6: cfi.cfa.base = CFIBase.r10
      case 7: cfi.cfa.base = CFIBase.r13
      case 3: cfi.cfa.base = CFIBase.di
      case 2: cfi.cfa.base = CFIBase.dx
      default:
        throw stop("unsupported unwind_hint sp base reg \(spReg)", section: Int(section[i]), offset: UInt64(offset[i]))
      }
      cfi.cfa.offset = Int32(spOffset)
      cfi.type = hintType
      cfi.end = end != 0
      hints[i] = cfi
    }
  }

  /// Flags for the few instructions with alternatives or a `nextOverride`,
  /// so the validator's loop looks in the dictionaries only for them.
  var hasAlternatives: [Bool] = []
  var hasOverride: [Bool] = []

  /// An alternative group (`struct alt_group`): the original instructions at a
  /// site, or one replacement stream for it; both share the original's
  /// byte-offset CFI array.
  struct AltGroup {
    var first: Int
    var last: Int
    /// For a replacement: its original group. Nil for an original.
    var original: Int?
    /// The original's length in bytes (the size of the shared CFI array).
    var length: Int
  }

  /// Groups, and each instruction's group (-1 when none).
  var groups: [AltGroup] = []
  var group: [Int32] = []
  /// Where validation goes after an instruction when it is not the next in
  /// its section (the end of a replacement, a fake NOP); -1: nowhere.
  var nextOverride: [Int: Int] = [:]

  /// `.altinstructions`, `__jump_table` and `__ex_table` as alternative paths
  /// (`add_special_section_alts()`), in that order for each instruction.
  func addSpecialSectionAlternatives() throws(ELFError) {
    group = Array(repeating: -1, count: section.count)
    let generation = GenerationDetector.detect(file)?.0 ?? .v6_1
    for a in try AlternativesTable(file: file, generation: generation).entries {
      guard let orig = instruction(in: a.instruction.section, at: a.instruction.offset) else {
        throw stop("special: can't find orig instruction", section: a.instruction.section, offset: a.instruction.offset)
      }
      // arch_handle_alternative(): SMAP alternatives are not followed (without
      // --uaccess); POPCNT's original is not.
      let smap = a.feature == 9 * 32 + 20
      let popcnt = a.feature == 4 * 32 + 23
      if smap { continue }
      guard let start = try handleGroup(a, orig: orig) else { continue }
      alts[orig, default: []].append(start)
      if popcnt { skipOriginal.insert(orig) }
    }
    for b in try StaticKeyBranch.all(in: functions) {
      guard let site = instruction(in: b.code.section, at: b.code.offset),
        let target = instruction(in: b.target.section, at: b.target.offset)
      else { continue }
      switch type[site] {
      case .nop: alts[site, default: []].append(target)
      case .jumpUnconditional: if let n = next(site) { alts[site, default: []].append(n) }
      default:
        throw stop("unsupported instruction at jump label", section: b.code.section, offset: b.code.offset)
      }
    }
    for e in try ExceptionTable(file: file).entries {
      guard let site = instruction(in: e.insn.section, at: e.insn.offset),
        let fixup = instruction(in: e.fixup.section, at: e.fixup.offset)
      else { continue }
      alts[site, default: []].append(fixup)
    }
  }

  /// The `.altinstructions` entry behind each replacement group.
  var groupEntry: [Int: AlternativeEntry] = [:]

  /// Original instructions whose own path is not followed (`skip_orig`).
  var skipOriginal = Set<Int>()

  /// Warnings found while reading the object (objtool prints them and goes on).
  public internal(set) var readWarnings: [String] = []

  /// `handle_group_alt()`: returns the first instruction of the replacement stream.
  func handleGroup(_ a: AlternativeEntry, orig: Int) throws(ELFError) -> Int? {
    if a.instructionLength == 0 {
      let e = stop("empty alternative entry", section: Int(section[orig]), offset: UInt64(offset[orig]))
      readWarnings.append(e.message)
      return nil
    }
    func fail(_ message: String, _ i: Int) -> ELFError {
      stop(message, section: Int(section[i]), offset: UInt64(offset[i]))
    }
    let origEnd = UInt64(offset[orig]) + UInt64(a.instructionLength)
    let origGroup: Int
    if group[orig] < 0 {
      var last = orig
      var i = orig
      while true {
        group[i] = Int32(groups.count)
        last = i
        guard let n = next(i), UInt64(offset[n]) < origEnd else { break }
        i = n
      }
      groups.append(AltGroup(first: orig, last: last, original: nil, length: a.instructionLength))
      origGroup = groups.count - 1
    } else {
      origGroup = Int(group[orig])
      let g = groups[origGroup]
      if Int(offset[g.last]) + Int(length[g.last]) - Int(offset[orig]) != a.instructionLength {
        throw fail("weirdly overlapping alternative! \(Int(offset[g.last]) + Int(length[g.last]) - Int(offset[orig])) != \(a.instructionLength)", orig)
      }
    }
    let newGroup = groups.count
    let replacementSection = file.sections[a.replacement.section]
    guard a.replacement.offset <= replacementSection.size else {
      throw fail("special: can't find new instruction", orig)
    }
    var nop: Int? = nil
    if a.replacementLength < a.instructionLength {
      // A fake NOP pads the replacement to the original's length, so the
      // state after its last instruction lands in the shared CFI array.
      nop = appendSynthetic(section: a.replacement.section, offset: a.replacement.offset + UInt64(a.replacementLength),
                            length: a.instructionLength - a.replacementLength, function: function[orig])
      group[nop!] = Int32(newGroup)
    }
    var first: Int
    var last: Int
    if a.replacementLength == 0 {
      first = nop!
      last = nop!
    } else {
      guard let r = instruction(in: a.replacement.section, at: a.replacement.offset) else {
        throw fail("special: can't find new instruction", orig)
      }
      first = r
      last = r
      var i = r
      let end = a.replacement.offset + UInt64(a.replacementLength)
      while UInt64(offset[i]) < end {
        last = i
        function[i] = function[orig]
        group[i] = Int32(newGroup)
        if type[i] == .jumpConditional || type[i] == .jumpUnconditional, immediate[i] != 0 {
          let dest = Int64(offset[i]) + Int64(length[i]) &+ immediate[i]
          if dest == Int64(end) {
            guard let after = next(groups[origGroup].last) else {
              throw fail("can't find alternative jump destination", i)
            }
            jumpDest[i] = Int32(after)
          }
        }
        guard let n = next(i) else { break }
        i = n
      }
      if let nop {
        nextOverride[last] = nop
        last = nop
      }
    }
    nextOverride[last] = next(groups[origGroup].last) ?? -1
    groups.append(AltGroup(first: first, last: last, original: origGroup, length: a.instructionLength))
    groupEntry[groups.count - 1] = a
    return first
  }

  /// Appends an instruction that is in no section's list (a fake NOP).
  func appendSynthetic(section s: Int, offset o: UInt64, length l: Int, function fn: Int32) -> Int {
    section.append(Int32(s))
    offset.append(UInt32(clamping: o))
    length.append(UInt8(clamping: l))
    type.append(.nop)
    immediate.append(0)
    ops.append([])
    deadEnd.append(false)
    function.append(fn)
    jumpDest.append(-1)
    callDest.append(nil)
    group.append(-1)
    ignored.append(false)
    return section.count - 1
  }

  /// The instruction at `offset` of `section`, or nil.
  public func instruction(in section: Int, at offset: UInt64) -> Int? {
    guard let r = sectionRange[section], !r.isEmpty else { return nil }
    var lo = r.lowerBound
    var hi = r.upperBound
    while lo < hi {
      let mid = (lo + hi) / 2
      if UInt64(self.offset[mid]) < offset { lo = mid + 1 } else { hi = mid }
    }
    return lo < r.upperBound && UInt64(self.offset[lo]) == offset ? lo : nil
  }

  /// An error objtool stops on, at `offset` of `section` (`func+0xoff` when a function covers it).
  func stop(_ message: String, section sec: Int, offset off: UInt64) -> ELFError {
    let place: String
    if let f = functions.function(containing: off, in: sec) {
      place = "\(f.name)+0x\(String(off - f.offset, radix: 16))"
    } else {
      place = "\(file.sections[sec].name)+0x\(String(off, radix: 16))"
    }
    return ELFError(.objtool(place: place, message: message), path: file.path,
                    offset: file.sections[sec].offset &+ off)
  }

  /// The number of decoded instructions; synthetic ones (fake NOPs) follow them.
  var decodedCount = 0

  /// The next decoded instruction in the same section (never a synthetic one).
  func next(_ i: Int) -> Int? {
    i + 1 < decodedCount && section[i + 1] == section[i] ? i + 1 : nil
  }

  /// The decoded instructions of one code section.
  struct DecodedSection {
    var offsets: [UInt32] = []
    var insns: [DecodedInsn] = []
    var failure: Int? = nil
  }

  /// Decodes every code section, `jobs` sections at a time; the results are
  /// merged in section order, so the program is the same for any `jobs`.
  func decode() throws(ELFError) {
    let code = file.sections.filter { $0.flags.contains(.execInstr) && $0.hasFileContents }
    let functions = self.functions
    let file = self.file
    func decodeSection(_ s: Section) -> DecodedSection {
      let decoder = X86Decoder()
      let view = file.contents(of: s)
      var out = DecodedSection()
      var at = 0
      while at < view.count {
        let index = s.index
        let position = at
        guard let d = decoder.decodeForStack(view.bytes, at: at, inFunction: {
          functions.function(containing: UInt64(position), in: index) != nil
        }) else {
          out.failure = at
          break
        }
        out.offsets.append(UInt32(at))
        out.insns.append(d)
        at += d.length
      }
      return out
    }
    var results = [DecodedSection](repeating: DecodedSection(), count: code.count)
    // Threads pay off only on large objects; small ones decode faster alone.
    let codeSize = code.reduce(0) { $0 + Int($1.size) }
    if jobs > 1 && code.count > 1 && codeSize >= Self.parallelDecodeThreshold {
      let workers = min(jobs, code.count)
      results.withUnsafeMutableBufferPointer { buffer in
        // Each worker writes only its own slots: k ≡ worker (mod workers).
        nonisolated(unsafe) let out = buffer
        nonisolated(unsafe) let decodeOne = decodeSection
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
          var k = worker
          while k < code.count {
            out[k] = decodeOne(code[k])
            k += workers
          }
        }
      }
    } else {
      for (k, s) in code.enumerated() { results[k] = decodeSection(s) }
    }
    for (k, s) in code.enumerated() {
      let r = results[k]
      if let at = r.failure {
        throw ELFError(.objtool(place: "", message: "can't decode instruction at \(s.name):0x\(String(at, radix: 16))"),
                       path: file.path, offset: s.offset + UInt64(at))
      }
      let text = s.name != ".altinstr_replacement" && s.name != ".altinstr_aux" && !s.name.hasPrefix(".discard.")
      codeSections.append((s.index, text))
      let start = section.count
      for (o, d) in zip(r.offsets, r.insns) {
        section.append(Int32(s.index))
        offset.append(o)
        length.append(UInt8(d.length))
        type.append(d.type)
        immediate.append(d.immediate)
        ops.append(d.ops)
        deadEnd.append(d.type == .bug)
      }
      sectionRange[s.index] = start..<section.count
    }
    let n = section.count
    decodedCount = n
    function = Array(repeating: -1, count: n)
    jumpDest = Array(repeating: -1, count: n)
    callDest = Array(repeating: nil, count: n)
    for f in functions.functions where !isAlias[f.id] && f.size > 0 {
      guard var i = instruction(in: f.section, at: f.offset) else { continue }
      while UInt64(offset[i]) < f.endOffset {
        function[i] = Int32(f.id)
        guard let n = next(i) else { break }
        i = n
      }
    }
  }

  /// Per code section, its relocations sorted by offset.
  var relocationIndex: [Int: [Relocation]] = [:]

  func buildRelocationIndex() throws(ELFError) {
    for s in file.sections where s.type == .rela {
      let target = Int(s.info)
      guard target < file.sections.count, file.sections[target].flags.contains(.execInstr) else { continue }
      let table = try file.relocations(s)
      relocationIndex[target] = (0..<table.count).map { table[$0] }.sorted { $0.offset < $1.offset }
    }
  }

  /// The first relocation inside instruction `i`'s bytes, if any (`insn_reloc()`).
  func relocation(_ i: Int) -> Relocation? {
    guard let rels = relocationIndex[Int(section[i])] else { return nil }
    let start = UInt64(offset[i])
    var lo = 0
    var hi = rels.count
    while lo < hi {
      let mid = (lo + hi) / 2
      if rels[mid].offset < start { lo = mid + 1 } else { hi = mid }
    }
    return lo < rels.count && rels[lo].offset < start + UInt64(length[i]) ? rels[lo] : nil
  }

  func isRetpoline(_ name: String) -> Bool { name.hasPrefix("__x86_indirect_") }

  func linkJumps() throws(ELFError) {
    for i in 0..<section.count where type[i] == .jumpConditional || type[i] == .jumpUnconditional {
      if jumpDest[i] >= 0 { continue }  // set by handleGroup()
      var destSection = Int(section[i])
      var destOffset: UInt64
      if let r = relocation(i) {
        let sym = try functions.symbols.symbol(at: Int(r.symbolIndex))
        let name = sym.type == .section ? "" : try functions.symbols.name(of: sym)
        if sym.type == .section {
          guard sym.sectionIndex < file.sections.count else { continue }
          destSection = sym.sectionIndex
          destOffset = UInt64(bitPattern: r.addend &+ 4)
        } else if isRetpoline(name) {
          type[i] = type[i] == .jumpUnconditional ? .jumpDynamic : .jumpDynamicConditional
          ops[i] = []
          continue
        } else if name == "__x86_return_thunk" {
          type[i] = .return
          continue
        } else if function[i] >= 0 {
          callDest[i] = sym.isDefined ? (functionBySymbol[Int(r.symbolIndex)].map { .function($0) } ?? .external(name)) : .external(name)
          ops[i] = []
          continue
        } else if sym.isDefined && sym.sectionIndex < file.sections.count {
          destSection = sym.sectionIndex
          destOffset = UInt64(bitPattern: Int64(bitPattern: sym.value) &+ r.addend &+ 4)
        } else {
          continue
        }
      } else {
        destOffset = UInt64(bitPattern: Int64(offset[i]) + Int64(length[i]) &+ immediate[i])
      }
      guard let dest = instruction(in: destSection, at: destOffset) else {
        let name = destSection >= 0 && destSection < file.sections.count ? file.sections[destSection].name : "?"
        throw stop("can't find jump dest instruction at \(name)+0x\(String(destOffset, radix: 16))",
                   section: Int(section[i]), offset: UInt64(offset[i]))
      }
      let from = Int(function[i])
      let to = Int(function[dest])
      if from >= 0 && to >= 0 && from != to {
        let fromName = functions.functions[from].name
        let toName = functions.functions[to].name
        if !fromName.contains(".cold") && toName.contains(".cold") {
          parent[to] = from
        } else if parent[from] != parent[to] && UInt64(offset[dest]) == functions.functions[to].offset {
          callDest[i] = .function(to)
          continue
        }
      }
      jumpDest[i] = Int32(dest)
    }
  }

  func linkCalls() throws(ELFError) {
    for i in 0..<section.count where type[i] == .call {
      if let r = relocation(i) {
        let sym = try functions.symbols.symbol(at: Int(r.symbolIndex))
        if sym.type == .section {
          let o = UInt64(bitPattern: r.addend &+ 4)
          if let f = functionAt[SectionPlaceKey(section: sym.sectionIndex, offset: o)] {
            callDest[i] = .function(f)
          } else {
            let name = sym.sectionIndex < file.sections.count ? file.sections[sym.sectionIndex].name : "?"
            throw stop("can't find call dest symbol at \(name)+0x\(String(o, radix: 16))",
                       section: Int(section[i]), offset: UInt64(offset[i]))
          }
        } else {
          let name = try functions.symbols.name(of: sym)
          if isRetpoline(name) {
            type[i] = .callDynamic
            ops[i] = []
            continue
          }
          if sym.isDefined, let f = functionBySymbol[Int(r.symbolIndex)] {
            callDest[i] = .function(f)
          } else {
            callDest[i] = .external(name)
          }
        }
      } else {
        let o = UInt64(bitPattern: Int64(offset[i]) + Int64(length[i]) &+ immediate[i])
        guard let f = functionAt[SectionPlaceKey(section: Int(section[i]), offset: o)] else {
          throw stop("unannotated intra-function call", section: Int(section[i]), offset: UInt64(offset[i]))
        }
        callDest[i] = .function(f)
      }
      ops[i] = []
      if isDeadEnd(callDest[i], recursion: 0) { deadEnd[i] = true }
    }
  }

  /// objtool 6.1's `global_noreturns` (tools/objtool/check.c).
  static let globalNoreturns: Set<String> = [
    "__invalid_creds", "__module_put_and_kthread_exit", "__reiserfs_panic", "__stack_chk_fail",
    "__ubsan_handle_builtin_unreachable", "cpu_bringup_and_idle", "cpu_startup_entry", "do_exit", "do_group_exit",
    "do_task_dead", "ex_handler_msr_mce", "fortify_panic", "kthread_complete_and_exit", "kthread_exit",
    "kunit_try_catch_throw", "lbug_with_loc", "machine_real_restart", "make_task_dead", "panic",
    "rewind_stack_and_make_dead", "sev_es_terminate", "snp_abort", "stop_this_cpu", "usercopy_abort",
    "xen_start_kernel",
  ]

  var deadEndCache: [Int: Bool] = [:]
  /// Each parent's `.cold` child (`cfunc`), built on first use.
  var coldChild: [Int: Int]? = nil

  /// `dead_end_function()`: a call that never returns.
  func isDeadEnd(_ dest: CallDest?, recursion: Int) -> Bool {
    switch dest {
    case .none: return false
    case .external(let name): return Self.globalNoreturns.contains(name)
    case .function(let id):
      let f = functions.functions[id]
      if f.binding == .weak { return false }
      if f.binding == .global && Self.globalNoreturns.contains(f.name) { return true }
      if recursion == 0, let c = deadEndCache[id] { return c }
      let result = deadEndFunction(id, recursion: recursion)
      if recursion == 0 { deadEndCache[id] = result }
      return result
    }
  }

  /// The instructions of function `id` followed by those of its `.cold` child.
  func instructions(ofFunction id: Int) -> [Int] {
    let f = functions.functions[id]
    guard f.size > 0, var i = instruction(in: f.section, at: f.offset), function[i] == Int32(id) else { return [] }
    var out: [Int] = []
    while function[i] == Int32(id) {
      out.append(i)
      guard let n = next(i) else { break }
      i = n
    }
    if coldChild == nil {
      var map: [Int: Int] = [:]
      for c in parent.indices where parent[c] != c && map[parent[c]] == nil && functions.functions[c].name.contains(".cold") {
        map[parent[c]] = c
      }
      coldChild = map
    }
    if let child = coldChild?[id] { out += instructions(ofFunction: child) }
    return out
  }

  func deadEndFunction(_ id: Int, recursion: Int) -> Bool {
    let insns = instructions(ofFunction: id)
    if insns.isEmpty { return false }
    if insns.contains(where: { type[$0] == .return }) { return false }
    for i in insns where isSiblingCall(i) {
      // The first sibling call decides, as objtool's loop does.
      if jumpDest[i] < 0 { return false }
      if recursion == 5 { return false }
      let d = Int(function[Int(jumpDest[i])])
      return d >= 0 && isDeadEnd(.function(d), recursion: recursion + 1)
    }
    return true
  }

  /// `is_sibling_call()`: an indirect jump is one unless it uses a jump table.
  func isSiblingCall(_ i: Int) -> Bool {
    guard function[i] >= 0 else { return false }
    if type[i] == .jumpDynamic { return !usesJumpTable.contains(i) }
    return (type[i] == .jumpConditional || type[i] == .jumpUnconditional) && callDest[i] != nil
  }

  /// Indirect jumps through a switch table, and whether objtool would stop
  /// reporting unreachable code (a PC-relative table reference).
  var usesJumpTable = Set<Int>()
  public internal(set) var ignoreUnreachables = false

  /// Switch jump tables (`add_jump_table_alts()`): for an indirect jump, the
  /// `.rodata` table a nearby instruction points to; each entry that lands in
  /// the same function becomes an alternative path of the jump.
  func addJumpTables() throws(ELFError) {
    let rodata = Set(file.sections.filter {
      ($0.name.hasPrefix(".rodata") && !$0.name.contains(".str1.")) || $0.name == ".data.rel.ro.c_jump_table"
    }.map(\.index))
    guard !rodata.isEmpty else { return }
    // Each rodata section's relocations, in file order: (offset, place).
    var tables: [Int: [(offset: UInt64, section: Int, addend: Int64)]] = [:]
    for s in file.sections where s.type == .rela && rodata.contains(Int(s.info)) {
      let rel = try file.relocations(s)
      var list: [(UInt64, Int, Int64)] = []
      for k in 0..<rel.count {
        let sym = try functions.symbols.symbol(at: Int(rel[k].symbolIndex))
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
    for k in 0..<functions.symbols.count {
      guard let sym = try? functions.symbols.symbol(at: k), sym.type != .section, rodata.contains(sym.sectionIndex)
      else { continue }
      rodataSymbols[sym.sectionIndex, default: []].append((sym.value, sym.value &+ sym.size))
    }
    var firstJumpSource = [Int: Int]()
    var tableOf: [Int: (section: Int, index: Int)] = [:]
    var starts = Set<String>()
    func parentOf(_ i: Int) -> Int { function[i] >= 0 ? parent[Int(function[i])] : -1 }

    // `arch_find_switch_table()`.
    func switchTable(_ i: Int) -> (section: Int, index: Int)? {
      guard let r = relocation(i), let sym = try? functions.symbols.symbol(at: Int(r.symbolIndex)),
        sym.type == .section, rodata.contains(sym.sectionIndex)
      else { return nil }
      let tableSection = sym.sectionIndex
      var tableOffset = UInt64(bitPattern: r.addend)
      if r.type == X86RelocationType.pc32.rawValue { tableOffset &+= 4 }
      if file.sections[tableSection].name != ".data.rel.ro.c_jump_table",
        (rodataSymbols[tableSection] ?? []).contains(where: { $0.start <= tableOffset && tableOffset < $0.end })
      { return nil }
      guard let index = tableIndex[tableSection]?[tableOffset] else { return nil }
      if r.type == X86RelocationType.pc32.rawValue { ignoreUnreachables = true }
      return (tableSection, index)
    }

    // `find_jump_table()`: walk back from the indirect jump.
    func findTable(_ jump: Int, _ fn: Int) -> (section: Int, index: Int)? {
      var insn: Int? = jump
      while let i = insn, function[i] >= 0, parentOf(i) == fn {
        if i != jump && type[i] == .jumpDynamic { break }
        if type[i] == .jumpUnconditional, jumpDest[i] >= 0,
          offset[Int(jumpDest[i])] <= offset[i] || offset[Int(jumpDest[i])] > offset[jump]
        { break }
        if let t = switchTable(i), let e = tables[t.section]?[t.index], e.section >= 0,
          let dest = instruction(in: e.section, at: UInt64(bitPattern: e.addend)), function[dest] >= 0,
          parentOf(dest) == fn
        {
          return t
        }
        if let src = firstJumpSource[i] {
          insn = src
        } else if i > 0, section[i - 1] == section[i], function[i - 1] == function[i] {
          insn = i - 1
        } else {
          insn = nil
        }
      }
      return nil
    }

    let candidates = functions.functions.filter { !isAlias[$0.id] }
    for f in candidates {
      for i in instructions(ofFunction: f.id) {
        if jumpDest[i] >= 0 && offset[Int(jumpDest[i])] > offset[i] && firstJumpSource[Int(jumpDest[i])] == nil {
          firstJumpSource[Int(jumpDest[i])] = i
        }
        guard type[i] == .jumpDynamic, let t = findTable(i, f.id) else { continue }
        starts.insert("\(t.section):\(t.index)")
        tableOf[i] = t
      }
    }
    for f in candidates {
      for i in instructions(ofFunction: f.id) {
        guard let t = tableOf[i], let list = tables[t.section] else { continue }
        let fn = parentOf(i)
        let pf = functions.functions[fn]
        var previous: UInt64 = 0
        var k = t.index
        while k < list.count {
          let e = list[k]
          if k != t.index && starts.contains("\(t.section):\(k)") { break }
          if previous != 0 && e.offset != previous + 8 { break }
          if e.section == pf.section && UInt64(bitPattern: e.addend) == pf.offset { break }
          guard e.section >= 0, let dest = instruction(in: e.section, at: UInt64(bitPattern: e.addend)),
            function[dest] >= 0, parentOf(dest) == fn
          else { break }
          alts[i, default: []].append(dest)
          previous = e.offset
          k += 1
        }
        if previous == 0 {
          throw stop("can't find switch jump table", section: Int(section[i]), offset: UInt64(offset[i]))
        }
        usesJumpTable.insert(i)
      }
    }
  }
}
