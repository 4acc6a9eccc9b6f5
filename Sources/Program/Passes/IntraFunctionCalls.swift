import ELF
import Kernel

/// `read_intra_function_calls()`: calls annotated `ANNOTATE_INTRA_FUNCTION_CALL`
/// (`.discard.intra_function_calls`) are jumps within the function that push
/// a return address: they keep their stack operation and get a jump target.
public struct IntraFunctionCalls: Sendable {
  /// Per annotated call: the instruction it jumps to.
  public let jumpDest: [Int: Int]

  public init(program: Program, table: InstructionTable) throws(ELFError) {
    var jumpDest: [Int: Int] = [:]
    for (sym, addend, o) in try program.annotationPlaces(".discard.intra_function_calls") {
      guard sym.type == .section, let i = table.instruction(in: sym.sectionIndex, at: UInt64(bitPattern: addend)) else {
        throw program.stop("bad .discard.intra_function_call entry", at: o)
      }
      let section = Int(table.section[i])
      let offset = UInt64(table.offset[i])
      guard table.type[i] == .call else {
        throw program.stop("intra_function_call not a direct call", section: section, offset: offset)
      }
      let dest = UInt64(bitPattern: Int64(table.offset[i]) + Int64(table.length[i]) &+ table.immediate[i])
      guard let d = table.instruction(in: section, at: dest) else {
        throw program.stop(
          "can't find call dest at \(program.file.sections[section].name)+0x\(String(dest, radix: 16))",
          section: section, offset: offset)
      }
      jumpDest[i] = d
    }
    // A linked file has lost its `.discard.*` sections: there, a direct call to an
    // instruction that no symbol names (`return_to_handler`'s `call 1f; int3; 1:`)
    // is taken as the annotated intra-function call it was in the object.
    if program.isLinked {
      for i in 0..<table.count where table.type[i] == .call && jumpDest[i] == nil {
        let section = Int(table.section[i])
        let o = UInt64(bitPattern: Int64(table.offset[i]) + Int64(table.length[i]) &+ table.immediate[i])
        let place = program.branchPlace(section: section, offset: o)
        guard program.functions.firstFunction(at: place) == nil,
          program.linkedNames(at: program.address(of: place)).isEmpty,
          let d = table.instruction(in: place.section, at: place.offset)
        else { continue }
        jumpDest[i] = d
      }
    }
    self.jumpDest = jumpDest
  }
}
