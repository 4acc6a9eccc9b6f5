import ELF
import Kernel
import X86

/// `add_call_destinations()`: where each direct call goes. A call through a
/// retpoline thunk is an indirect call; a call within the file must land on a
/// function's first instruction (else "unannotated intra-function call").
/// Every direct call's stack operation is dropped: the callee's return undoes it.
public struct CallDestinations: Sendable {
  /// Per call: where it goes.
  public let callDest: [Int: CallDest]
  /// Calls through a retpoline thunk (`INSN_CALL_DYNAMIC`, `retpoline_safe`).
  public let retpolineCalls: Set<Int>
  /// The symbol each call names (`insn->call_dest`), by symbol-table index.
  public let callSymbols: [Int: Int]

  /// - Parameters:
  ///   - skip: calls that are not calls (annotated intra-function calls).
  ///   - classes: the global symbols objtool treats specially (`classify_symbols()`).
  ///   - ignored: instructions of ignored functions (no call there stops the check).
  public init(
    program: Program, table: InstructionTable, skip: [Int: Int], classes: SymbolClasses, ignored: [Bool] = []
  ) throws(ELFError) {
    let functions = program.functions
    let file = program.file
    var callDest: [Int: CallDest] = [:]
    var retpolineCalls = Set<Int>()
    var callSymbols: [Int: Int] = [:]
    // find_call_destination(): a function at the place, else any other symbol of some
    // size there (`swap_pages` in relocate_kernel_64.S), found once for all calls.
    var labels: [SectionPlace: (name: String, symbol: Int)]? = nil
    func label(at place: SectionPlace) throws(ELFError) -> (name: String, symbol: Int)? {
      if labels == nil {
        var map: [SectionPlace: (String, Int)] = [:]
        let symbols = program.symbols
        for k in 0..<symbols.count {
          let s = try symbols.symbol(at: k)
          // find_symbol_by_offset() searches an interval tree: a symbol of size 0 covers no offset.
          guard s.isDefined, s.type != .section, s.type != .file, s.size > 0, s.sectionIndex < file.sections.count
          else { continue }
          let offset = program.isLinked ? s.value &- file.sections[s.sectionIndex].address : s.value
          let p = SectionPlace(section: s.sectionIndex, offset: offset)
          if map[p] == nil { map[p] = (try symbols.name(of: s), k) }
        }
        labels = map
      }
      return labels?[place]
    }
    let ignoredCall = { (i: Int) in i < ignored.count && ignored[i] }
    for i in 0..<table.count where table.type[i] == .call && skip[i] == nil {
      let section = Int(table.section[i])
      let start = UInt64(table.offset[i])
      if let r = program.relocations.first(in: section, start..<start + UInt64(table.length[i])) {
        let sym = try program.symbols.symbol(at: Int(r.symbolIndex))
        if sym.type == .section {
          let o = UInt64(bitPattern: r.addend &+ 4)
          let place = SectionPlace(section: sym.sectionIndex, offset: o)
          if let f = functions.firstFunction(at: place) {
            callDest[i] = .function(f)
            callSymbols[i] = functions.functions[f].symbolIndex
          } else if let l = try label(at: place) {
            // Through a section symbol objtool 6.1 takes any symbol there, function or not.
            callDest[i] = .external(l.name)
            callSymbols[i] = l.symbol
          } else {
            let name = sym.sectionIndex < file.sections.count ? file.sections[sym.sectionIndex].name : "?"
            throw program.stop(
              "can't find call dest symbol at \(name)+0x\(String(o, radix: 16))",
              section: section, offset: start)
          }
        } else {
          if classes[Int(r.symbolIndex)].contains(.retpolineThunk) {
            retpolineCalls.insert(i)
          } else if sym.isDefined, let f = functions.function(symbolIndex: Int(r.symbolIndex)) {
            callDest[i] = .function(f)
            callSymbols[i] = Int(r.symbolIndex)
          } else {
            callDest[i] = .external(try program.symbols.name(of: sym))
            callSymbols[i] = Int(r.symbolIndex)
          }
        }
      } else {
        let o = UInt64(bitPattern: Int64(table.offset[i]) + Int64(table.length[i]) &+ table.immediate[i])
        let place = program.branchPlace(section: section, offset: o)
        if let f = functions.firstFunction(at: place) {
          callDest[i] = .function(f)
          callSymbols[i] = functions.functions[f].symbolIndex
        } else if !program.isLinked, let l = try label(at: place) {
          // add_call_dest() comes first: an ignored instruction keeps its destination.
          callDest[i] = .external(l.name)
          callSymbols[i] = l.symbol
          if !ignoredCall(i) && table.function[i] >= 0 {
            throw program.stop("unsupported call to non-function", section: section, offset: start)
          }
        } else if ignoredCall(i) {
          continue
        } else if program.isLinked, let name = program.linkedNames(at: program.address(of: place)).first {
          // A linked file's call to a label, where the object's relocation named it
          // (`__x86_indirect_thunk_rax` inside `__x86_indirect_thunk_array`).
          if program.linkedNames(at: program.address(of: place)).contains(where: isRetpolineThunk) {
            retpolineCalls.insert(i)
          } else {
            callDest[i] = .external(name)
          }
        } else {
          throw program.stop("unannotated intra-function call", section: section, offset: start)
        }
      }
    }
    self.callDest = callDest
    self.retpolineCalls = retpolineCalls
    self.callSymbols = callSymbols
  }
}
