import ELF
import Kernel

/// An alternative group (`struct alt_group`): the original instructions at a
/// site, or one replacement stream for it; all share the original's
/// byte-offset CFI array (seed 000).
public struct AltGroup: Sendable, Hashable {
  /// The first and last instruction of the stream (a fake NOP may be the last).
  public var first: Int
  public var last: Int
  /// For a replacement: its original group. Nil for an original.
  public var original: Int?
  /// The original's length in bytes (the size of the shared CFI array).
  public var length: Int

  public init(first: Int, last: Int, original: Int?, length: Int) {
    self.first = first
    self.last = last
    self.original = original
    self.length = length
  }
}

/// The `.altinstructions` part of `add_special_section_alts()`: each entry's
/// replacement becomes a stream of the original site (`handle_group_alt()`),
/// padded with a fake NOP when shorter than the original.
public struct AlternativeGroups: Sendable {
  /// The instruction table with the fake NOPs appended and each replacement
  /// instruction placed in its site's function.
  public let table: InstructionTable
  /// The groups, originals and replacements.
  public let groups: [AltGroup]
  /// Each instruction's group, or -1 (fake NOPs included).
  public let group: [Int32]
  /// The `.altinstructions` entry behind each replacement group.
  public let entry: [Int: AlternativeEntry]
  /// The first instruction of each replacement stream, by original instruction, in entry order.
  public let streams: [Int: [Int]]
  /// Where validation goes after an instruction that is not followed by the next in its
  /// section (the end of a replacement, a fake NOP); -1: nowhere.
  public let nextOverride: [Int: Int]
  /// Jumps in a replacement to its end: they go to the instruction after the site.
  public let jumpDest: [Int: Int]
  /// Sites whose original is not followed (`skip_orig`: POPCNT, and SMAP with `--uaccess`).
  public let skipOriginal: Set<Int>
  /// "empty alternative entry" warnings (objtool warns and goes on).
  public let warnings: [Diagnostic]

  /// `X86_FEATURE_SMAP` (9*32+20), in `arch_handle_alternative()`: with `--uaccess` the
  /// replacement (STAC, CLAC, the PUSHF/POPF of `smap_save()`/`smap_restore()`) is followed
  /// instead of the original (`skip_orig`); without, the replacement is not followed
  /// (`skip_alt`), "so that no path sees the STAC but takes the NOP instead of CLAC".
  static let smap = 9 * 32 + 20
  /// `X86_FEATURE_POPCNT` (4*32+23): the original is not followed (`arch_handle_alternative()`).
  static let popcnt = 4 * 32 + 23

  /// - Parameter uaccess: objtool's `--uaccess` (how `X86_FEATURE_SMAP` sites are followed).
  public init(program: Program, table decoded: InstructionTable, generation: KernelGeneration, uaccess: Bool = false)
    throws(ELFError)
  {
    var table = decoded
    var groups: [AltGroup] = []
    var group = [Int32](repeating: -1, count: table.count)
    var entry: [Int: AlternativeEntry] = [:]
    var streams: [Int: [Int]] = [:]
    var nextOverride: [Int: Int] = [:]
    var jumpDest: [Int: Int] = [:]
    var skipOriginal = Set<Int>()
    var warnings: [Diagnostic] = []
    let file = program.file

    func fail(_ message: String, _ i: Int) -> ELFError {
      program.stop(message, section: Int(table.section[i]), offset: UInt64(table.offset[i]))
    }

    var entries = try AlternativesTable(file: file, generation: generation).entries
    if CheckRules.of(generation).nestedAlternativesShareLength {
      var start = 0
      while start < entries.count {
        var end = start + 1
        while end < entries.count && entries[end].instruction == entries[start].instruction { end += 1 }
        let length = entries[start..<end].map(\.instructionLength).max() ?? 0
        for k in start..<end { entries[k].instructionLength = length }
        start = end
      }
    }
    for a in entries {
      guard let orig = table.instruction(in: a.instruction.section, at: a.instruction.offset) else {
        throw program.stop(
          "special: can't find orig instruction", section: a.instruction.section,
          offset: a.instruction.offset)
      }
      if a.feature == Self.smap && !uaccess { continue }
      if a.instructionLength == 0 {
        warnings.append(
          Diagnostic(place: program.diagnosticPlace(table.place(orig)), message: "empty alternative entry"))
        continue
      }
      // handle_group_alt()
      let origEnd = UInt64(table.offset[orig]) + UInt64(a.instructionLength)
      let origGroup: Int
      if group[orig] < 0 {
        var last = orig
        var i = orig
        while true {
          group[i] = Int32(groups.count)
          last = i
          guard let n = table.next(i), UInt64(table.offset[n]) < origEnd else { break }
          i = n
        }
        groups.append(AltGroup(first: orig, last: last, original: nil, length: a.instructionLength))
        origGroup = groups.count - 1
      } else {
        origGroup = Int(group[orig])
        let g = groups[origGroup]
        let length = Int(table.offset[g.last]) + Int(table.length[g.last]) - Int(table.offset[orig])
        if length != a.instructionLength {
          throw fail("weirdly overlapping alternative! \(length) != \(a.instructionLength)", orig)
        }
      }
      let newGroup = groups.count
      guard a.replacement.offset <= file.sections[a.replacement.section].size else {
        throw fail("special: can't find new instruction", orig)
      }
      var nop: Int? = nil
      if a.replacementLength < a.instructionLength {
        // A fake NOP pads the replacement to the original's length, so the
        // state after its last instruction lands in the shared CFI array.
        let n = table.appendSynthetic(
          section: a.replacement.section, offset: a.replacement.offset + UInt64(a.replacementLength),
          length: a.instructionLength - a.replacementLength, function: table.function[orig])
        group.append(Int32(newGroup))
        nop = n
      }
      var first: Int
      var last: Int
      if let nop, a.replacementLength == 0 {
        first = nop
        last = nop
      } else {
        guard let r = table.instruction(in: a.replacement.section, at: a.replacement.offset) else {
          throw fail("special: can't find new instruction", orig)
        }
        first = r
        last = r
        var i = r
        let end = a.replacement.offset + UInt64(a.replacementLength)
        while UInt64(table.offset[i]) < end {
          last = i
          table.function[i] = table.function[orig]
          group[i] = Int32(newGroup)
          let type = table.type[i]
          if type == .jumpConditional || type == .jumpUnconditional, table.immediate[i] != 0 {
            let dest = Int64(table.offset[i]) + Int64(table.length[i]) &+ table.immediate[i]
            if dest == Int64(end) {
              guard let after = table.next(groups[origGroup].last) else {
                throw fail("can't find alternative jump destination", i)
              }
              jumpDest[i] = after
            }
          }
          guard let n = table.next(i) else { break }
          i = n
        }
        if let nop {
          nextOverride[last] = nop
          last = nop
        }
      }
      nextOverride[last] = table.next(groups[origGroup].last) ?? -1
      groups.append(AltGroup(first: first, last: last, original: origGroup, length: a.instructionLength))
      entry[groups.count - 1] = a
      streams[orig, default: []].append(first)
      if a.feature == Self.popcnt || a.feature == Self.smap { skipOriginal.insert(orig) }
    }
    self.table = table
    self.groups = groups
    self.group = group
    self.entry = entry
    self.streams = streams
    self.nextOverride = nextOverride
    self.jumpDest = jumpDest
    self.skipOriginal = skipOriginal
    self.warnings = warnings
  }
}
