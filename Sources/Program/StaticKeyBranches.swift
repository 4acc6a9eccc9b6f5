import ELF

/// The branches static keys add: each `__jump_table` entry (`struct
/// jump_entry { s32 code; s32 target; long key; }`, 16 bytes in 6.1 and 6.12;
/// `include/linux/jump_label.h`) is a NOP or JMP at `code` that can go to `target`.
public struct StaticKeyBranch: Sendable, Hashable {
  /// The section and offset of the patched instruction.
  public var code: (section: Int, offset: UInt64)
  /// Where it jumps when enabled.
  public var target: (section: Int, offset: UInt64)

  public static func == (a: Self, b: Self) -> Bool {
    a.code == b.code && a.target == b.target
  }
  public func hash(into h: inout Hasher) {
    h.combine(code.section); h.combine(code.offset); h.combine(target.section); h.combine(target.offset)
  }
}

extension StaticKeyBranch {
  /// The size of `struct jump_entry` on x86-64.
  public static let entrySize = 16

  /// Every static-key branch of `table`'s file.
  public static func all(in table: FunctionTable) throws(ELFError) -> [StaticKeyBranch] {
    let file = table.file
    guard let jt = file.section(named: "__jump_table"), jt.size > 0 else { return [] }
    var out: [StaticKeyBranch] = []
    if file.fileType == .relocatable {
      guard let rela = file.section(named: ".rela__jump_table") else { return [] }
      let rel = try file.relocations(rela)
      var code: [UInt64: (Int, UInt64)] = [:]
      var target: [UInt64: (Int, UInt64)] = [:]
      for i in 0..<rel.count {
        let r = rel[i]
        let s = try rel.symbol(of: i, in: table.symbols)
        guard s.isDefined, s.sectionIndex < file.sections.count else { continue }
        let place = (s.sectionIndex, UInt64(bitPattern: Int64(bitPattern: s.value) &+ r.addend))
        switch r.offset % UInt64(entrySize) {
        case 0: code[r.offset] = place
        case 4: target[r.offset - 4] = place
        default: break
        }
      }
      for (entry, c) in code.sorted(by: { $0.key < $1.key }) {
        if let t = target[entry] { out.append(StaticKeyBranch(code: c, target: t)) }
      }
    } else {
      let view = file.contents(of: jt)
      var i = 0
      while i + entrySize <= view.count {
        let base = jt.address &+ UInt64(i)
        let c = base &+ UInt64(bitPattern: Int64(view.load(Int32.self, at: i)))
        let t = base &+ 4 &+ UInt64(bitPattern: Int64(view.load(Int32.self, at: i + 4)))
        if let cp = table.place(ofAddress: c), let tp = table.place(ofAddress: t) {
          out.append(StaticKeyBranch(code: cp, target: tp))
        }
        i += entrySize
      }
    }
    return out
  }
}
