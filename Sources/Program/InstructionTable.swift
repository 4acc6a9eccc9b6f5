import ELF
import Kernel
import X86

/// Every instruction of a file's code sections as objtool decodes them, as a
/// struct of arrays in section then offset order (objtool's `file->insn_hash`
/// and `insn_list`). Synthetic instructions (fake NOPs of alternative groups)
/// follow the decoded ones.
public struct InstructionTable: Sendable {
  public internal(set) var section: [Int32] = []
  public internal(set) var offset: [UInt32] = []
  public internal(set) var length: [UInt8] = []
  /// The type as decoded (before any pass reclassifies a call or jump).
  public internal(set) var type: [InsnType] = []
  /// The first immediate, sign-extended (a branch's displacement).
  public internal(set) var immediate: [Int64] = []
  /// The stack operations as decoded, every instruction's in one array: instruction `i`'s
  /// are `opList[opStart[i] ..< opStart[i + 1]]` (see ``ops(_:)``).
  public internal(set) var opStart: [UInt32] = [0]
  public internal(set) var opList: [StackOp] = []
  /// The function symbol (not an alias) covering each instruction, or -1.
  public internal(set) var function: [Int32] = []
  /// Per code section: the range of its decoded instructions.
  public internal(set) var sectionRange: [Int: Range<Int>] = [:]
  /// `sectionRange` by section index (empty for a section with no code), for lookups by place.
  var rangeOfSection: [Range<Int>] = []
  /// Code sections in index order, and whether each counts as text for ORC.
  public internal(set) var codeSections: [(index: Int, text: Bool)] = []
  /// The number of decoded instructions; synthetic ones follow them.
  public internal(set) var decodedCount = 0

  /// The number of instructions, synthetic ones included.
  public var count: Int { section.count }

  /// The decoded instruction at `offset` of `section`, or nil.
  public func instruction(in section: Int, at offset: UInt64) -> Int? {
    guard section >= 0 && section < rangeOfSection.count, offset <= UInt64(UInt32.max) else { return nil }
    let r = rangeOfSection[section]
    let wanted = UInt32(offset)
    var low = r.lowerBound
    var count = r.count
    while count > 0 {
      let half = count / 2
      if self.offset[low + half] < wanted {
        low += half + 1
        count -= half + 1
      } else {
        count = half
      }
    }
    return low < r.upperBound && self.offset[low] == wanted ? low : nil
  }

  /// The next decoded instruction in the same section (never a synthetic one).
  public func next(_ i: Int) -> Int? {
    i + 1 < decodedCount && section[i + 1] == section[i] ? i + 1 : nil
  }

  /// The stack operations of instruction `i` as decoded.
  @inline(__always)
  public func ops(_ i: Int) -> StackOps {
    var ops = StackOps()
    for k in Int(opStart[i])..<Int(opStart[i + 1]) { ops.append(opList[k]) }
    return ops
  }

  /// The place of instruction `i`.
  public func place(_ i: Int) -> SectionPlace { SectionPlace(section: Int(section[i]), offset: UInt64(offset[i])) }

  /// The instructions of function `id` (`func_for_each_insn()`), followed by those
  /// of its `.cold` child when `coldChild` names one.
  public func instructions(ofFunction id: Int, in functions: FunctionTable, coldChild: [Int: Int]) -> [Int] {
    var out: [Int] = []
    forEachInstruction(ofFunction: id, in: functions, coldChild: coldChild) { out.append($0) }
    return out
  }

  /// Calls `body` with each of ``instructions(ofFunction:in:coldChild:)``, in order, without
  /// collecting them (the passes walk every function this way).
  @inline(__always)
  public func forEachInstruction(
    ofFunction id: Int, in functions: FunctionTable, coldChild: [Int: Int], _ body: (Int) throws -> Void
  ) rethrows {
    // The functions walked so far (a parent and its `.cold` child, rarely more): a cycle stops.
    var seen: [Int] = []
    var current: Int? = id
    while let fn = current, !seen.contains(fn) {
      seen.append(fn)
      let f = functions.functions[fn]
      if f.size > 0, var i = instruction(in: f.section, at: f.offset), function[i] == Int32(fn) {
        while function[i] == Int32(fn) {
          try body(i)
          guard let n = next(i) else { break }
          i = n
        }
      } else {
        break
      }
      current = coldChild.isEmpty ? nil : coldChild[fn]
    }
  }

  /// Appends an instruction that is in no section's list (a fake NOP); returns its index.
  mutating func appendSynthetic(section s: Int, offset o: UInt64, length l: Int, function fn: Int32) -> Int {
    section.append(Int32(s))
    offset.append(UInt32(clamping: o))
    length.append(UInt8(clamping: l))
    type.append(.nop)
    immediate.append(0)
    opStart.append(opStart[opStart.count - 1])
    function.append(fn)
    return section.count - 1
  }
}
