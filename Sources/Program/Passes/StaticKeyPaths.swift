import ELF
import Kernel

/// The `__jump_table` part of `add_special_section_alts()` (`handle_jump_alt()`):
/// a static-key site (a NOP or a JMP, patched at run time) can also go the other way.
///
/// With objtool's `--hacks=jump_label`, a site whose key carries
/// ``JumpEntryKeyFlags/jumpLabelHack`` (x86's `arch_static_branch()` writes
/// `jmp l_yes # objtool NOPs this`) is turned into a NOP of the same length, its
/// relocation voided, before anything else reads it: its other way is then the jump target.
public struct StaticKeyPaths: Sendable {
  /// Per site instruction: the other way it can go, in `__jump_table` order.
  public let paths: [Int: [Int]]
  /// The sites turned into NOPs (`--hacks=jump_label`), in `__jump_table` order.
  public let nopped: [Int]
  /// Each entry's site by kind (`--stats`).
  public let counts: JumpLabelCounts

  /// - Parameters:
  ///   - hackJumpLabel: objtool's `--hacks=jump_label`.
  ///   - rewrites: the NOPs written, appended site by site (kept when a later site stops the pass).
  public init(program: Program, table: InstructionTable, hackJumpLabel: Bool = false, rewrites: inout CodeRewrites)
    throws(ELFError)
  {
    var paths: [Int: [Int]] = [:]
    var nopped: [Int] = []
    var nop = Set<Int>()
    var counts = JumpLabelCounts()
    let object = program.file.fileType == .relocatable
    for b in try JumpTable(file: program.file).entries {
      guard let site = table.instruction(in: b.code.section, at: b.code.offset) else {
        // objtool stops on an object; a linked image's entries are read as they come.
        if object {
          throw program.stop("special: can't find orig instruction", section: b.code.section, offset: b.code.offset)
        }
        continue
      }
      guard let target = table.instruction(in: b.target.section, at: b.target.offset) else {
        if object {
          throw program.stop(
            "special: can't find new instruction", section: b.target.section, offset: b.target.offset)
        }
        continue
      }
      let type = nop.contains(site) ? .nop : table.type[site]
      guard type == .nop || type == .jumpUnconditional else {
        throw program.stop("unsupported instruction at jump label", section: b.code.section, offset: b.code.offset)
      }
      if hackJumpLabel && b.keyFlags.contains(.jumpLabelHack) {
        let length = Int(table.length[site])
        guard let bytes = X86NOP.bytes(length: length) else {
          throw program.stop("invalid NOP size: \(length)", section: b.code.section, offset: b.code.offset)
        }
        let start = UInt64(table.offset[site])
        if let r = program.relocations.firstEntry(in: b.code.section, start..<start + UInt64(length)) {
          rewrites.voidedRelocations.append(.init(relocationSection: r.relocationSection, index: r.index))
        }
        rewrites.instructions.append(.init(section: b.code.section, offset: start, bytes: bytes))
        if nop.insert(site).inserted { nopped.append(site) }
      }
      let short = table.length[site] == 2
      if nop.contains(site) || table.type[site] == .nop {
        paths[site, default: []].append(target)
        if short { counts.nopShort += 1 } else { counts.nopLong += 1 }
      } else {
        if let n = table.next(site) { paths[site, default: []].append(n) }
        if short { counts.jumpShort += 1 } else { counts.jumpLong += 1 }
      }
    }
    self.paths = paths
    self.nopped = nopped
    self.counts = counts
  }

  /// The pass without `--hacks=jump_label`.
  public init(program: Program, table: InstructionTable) throws(ELFError) {
    var rewrites = CodeRewrites()
    try self.init(program: program, table: table, rewrites: &rewrites)
  }
}
