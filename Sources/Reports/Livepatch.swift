import ELF
import Kernel
import Program
import X86

/// How a function begins, as far as ftrace (and so livepatch) is concerned.
public enum FentryKind: String, Sendable, Codable {
  /// `call __fentry__` (after an optional `endbr64`).
  case call
  /// A 5-byte NOP that `__mcount_loc` lists: the call objtool or recordmcount replaced.
  case nop
  /// Neither: ftrace cannot hook this function, so it cannot be live-patched alone.
  case none
}

/// A branch between a parent and its child, as found in the code.
public struct SubfunctionBranch: Sendable, Codable, Hashable {
  /// `func+0xoff` of the branch instruction.
  public var from: String
  /// `func+0xoff` of its target.
  public var to: String
  /// `jmp`, `jcc`, `call` or `static key`.
  public var instruction: String

  public init(from: String, to: String, instruction: String) {
    self.from = from
    self.to = to
    self.instruction = instruction
  }
}

/// One child function in the live-patch view.
public struct ChildReport: Sendable, Codable {
  public var name: String
  public var kind: ChildKind
  public var parent: String?
  public var fentry: FentryKind
  /// Branches from the parent (or its other children) into this child.
  public var branchesIn: [SubfunctionBranch]
  /// Branches from this child back into its parent.
  public var branchesOut: [SubfunctionBranch]
  /// The parent kpatch-build would choose, when it differs from ours
  /// (`name (symbol N)`); ``parentSymbol`` is ours.
  public var kpatchParent: String?
  /// The symbol-table index of our parent.
  public var parentSymbol: Int?
}

/// A set of functions that must be live-patched together: a parent and its
/// children without fentry (which ftrace cannot redirect on their own).
public struct PatchGroup: Sendable, Codable {
  public var parent: String
  public var parentFentry: FentryKind
  public var childrenWithoutFentry: [String]
}

/// Several copies of one source function (`f`, `f.isra.0`, `f.constprop.0`, …).
public struct CopySet: Sendable, Codable {
  public var source: String
  public var copies: [String]
}

/// The live-patch view of one file (seed 003, `orctool livepatch`).
public struct LivepatchReport: Sendable, Codable {
  public var file: String
  public var functions: Int
  public var children: [ChildReport]
  /// `.cold` children whose parent is missing: kpatch-build stops on these.
  public var orphans: [String]
  public var copies: [CopySet]
  public var groups: [PatchGroup]
  /// Figures: children by kind, children without fentry, etc.
  public var summary: [String: Int]

  /// Analyses `file`.
  public init(file: ELFFile) throws(ELFError) {
    let program = try Program(file: file)
    let table = program.functions
    let sub = Subfunctions(program: program)
    let fentry = try FentryFinder(program: program)
    let fns = table.functions
    self.file = file.path
    self.functions = fns.count

    func place(_ section: Int, _ offset: UInt64) -> String { table.offstr(section: section, offset: offset) }

    // Branches between each family's members, decoded once per function.
    var branchesIn: [Int: [SubfunctionBranch]] = [:]
    var branchesOut: [Int: [SubfunctionBranch]] = [:]
    var decoded = Set<Int>()
    var staticKeys: [Int: [JumpEntry]] = [:]
    for b in try JumpTable(file: file).entries {
      if let f = table.function(containing: b.code.offset, in: b.code.section) {
        staticKeys[f.id, default: []].append(b)
      }
    }
    func record(_ branch: SubfunctionBranch, from member: Int, to target: Int) {
      if sub.links[target]?.parent == member || sub.ancestors(of: target).contains(member) {
        branchesIn[target, default: []].append(branch)
      } else if sub.links[member] != nil {
        branchesOut[member, default: []].append(branch)
      }
    }
    for parent in sub.children.keys.sorted() {
      let root = sub.root(of: parent)
      let family = Set([root] + sub.descendants(of: root))
      // In id order, so that branch lists come out the same on every run.
      for member in family.sorted() where !decoded.contains(member) {
        decoded.insert(member)
        let f = fns[member]
        for (offset, insn) in program.instructions(of: f) where insn.isDirectBranch {
          guard case .place(let s, let o)? = try program.target(of: insn, at: offset, in: f),
            let target = table.function(containing: o, in: s), target.id != member, family.contains(target.id)
          else { continue }
          let name = insn.type == .call ? "call" : insn.type == .jumpUnconditional ? "jmp" : "jcc"
          let branch = SubfunctionBranch(
            from: place(f.section, f.offset + UInt64(offset)), to: place(s, o), instruction: name)
          record(branch, from: member, to: target.id)
        }
        for b in staticKeys[member] ?? [] {
          guard let target = table.function(containing: b.target.offset, in: b.target.section),
            target.id != member, family.contains(target.id)
          else { continue }
          record(
            SubfunctionBranch(
              from: place(b.code.section, b.code.offset), to: place(b.target.section, b.target.offset),
              instruction: "static key"), from: member, to: target.id)
        }
      }
    }

    var children: [ChildReport] = []
    var summary: [String: Int] = ["functions": fns.count]
    for f in fns {
      // Padding before a function (`__pfx_`, CONFIG_FUNCTION_PADDING_ALIGNMENT;
      // `__cfi_`, kCFI): not functions of their own.
      if f.isPrefixSymbol {
        summary["functions.prefix_symbols", default: 0] += 1
        continue
      }
      switch fentry.kind(of: f) {
      case .call: summary["functions.fentry_call", default: 0] += 1
      case .nop: summary["functions.fentry_nop", default: 0] += 1
      case .none: summary["functions.no_fentry", default: 0] += 1
      }
    }
    for link in sub.links.values.sorted(by: { $0.child < $1.child }) {
      let f = fns[link.child]
      let fe = fentry.kind(of: f)
      summary["children." + link.kind.rawValue, default: 0] += 1
      if fe == .none { summary["children.without_fentry", default: 0] += 1 }
      if link.parent == nil { summary["children.without_parent", default: 0] += 1 }
      if link.parent != nil && (branchesIn[link.child] ?? []).isEmpty {
        summary["children.no_branch_from_parent", default: 0] += 1
      }
      if link.parent != link.kpatchParent { summary["children.kpatch_parent_differs", default: 0] += 1 }
      children.append(
        ChildReport(
          name: f.name, kind: link.kind, parent: link.parent.map { fns[$0].name }, fentry: fe,
          branchesIn: branchesIn[link.child] ?? [], branchesOut: branchesOut[link.child] ?? [],
          kpatchParent: link.parent == link.kpatchParent
            ? nil : link.kpatchParent.map { Self.describe(fns[$0], table) },
          parentSymbol: link.parent.map { fns[$0].symbolIndex }))
    }
    self.children = children
    self.orphans = sub.orphans.map { fns[$0.child].name }

    // Groups: each root with the children it drags along (no fentry, transitively).
    var groups: [PatchGroup] = []
    for root in sub.children.keys.sorted() where sub.links[root] == nil || sub.links[root]?.parent == nil {
      let needy = sub.descendants(of: root).filter { fentry.kind(of: fns[$0]) == .none }
      if !needy.isEmpty {
        groups.append(
          PatchGroup(
            parent: fns[root].name, parentFentry: fentry.kind(of: fns[root]),
            childrenWithoutFentry: needy.map { fns[$0].name }))
      }
    }
    self.groups = groups
    summary["groups"] = groups.count

    // Copies: entry points (not split children) that share a source function in one unit.
    var sets: [String: [Int]] = [:]
    var order: [String] = []
    for f in fns {
      let n = f.parsedName
      guard sub.links[f.id] == nil, !f.isPrefixSymbol else { continue }
      let key: String
      if n.isDerived, let base = table.function(named: n.sourceName, nearestTo: f) {
        key = "\(base.id)"
      } else if n.isDerived {
        key = "\(f.unit.map(String.init) ?? "g"):\(n.sourceName)"
      } else {
        key = "\(f.id)"
      }
      if sets[key] == nil { order.append(key) }
      sets[key, default: []].append(f.id)
    }
    self.copies = order.compactMap { key in
      guard let ids = sets[key], ids.count > 1 else { return nil }
      return CopySet(source: fns[ids[0]].parsedName.sourceName, copies: ids.map { fns[$0].name })
    }
    summary["functions.with_several_copies"] = copies.count
    self.summary = summary
  }

  /// `f (symbol N[, in unit.c])`: tells apart same-named static functions.
  static func describe(_ f: Function, _ table: FunctionTable) -> String {
    let unit = f.unit.flatMap { u in try? table.symbols.name(of: table.symbols.symbol(at: u)) }
    return "\(f.name) (symbol \(f.symbolIndex)\(unit.map { ", in \($0)" } ?? ""))"
  }
}

/// Decides ``FentryKind`` for functions of one file.
struct FentryFinder {
  let program: Program
  /// The place of `__fentry__` in a linked image.
  let fentryPlace: BranchTarget?
  /// Places `__mcount_loc` lists.
  let mcount: Set<BranchTarget>

  init(program: Program) throws(ELFError) {
    self.program = program
    let table = program.functions
    fentryPlace = table.functions(named: "__fentry__").first.map { .place(section: $0.section, offset: $0.offset) }
    var mcount = Set<BranchTarget>()
    let file = table.file
    if file.fileType == .relocatable, let rela = file.section(named: ".rela__mcount_loc") {
      let rel = try file.relocations(rela)
      for i in 0..<rel.count {
        let s = try rel.symbol(of: i, in: table.symbols)
        guard s.sectionIndex < file.sections.count else { continue }
        mcount.insert(
          .place(section: s.sectionIndex, offset: UInt64(bitPattern: Int64(bitPattern: s.value) &+ rel[i].addend)))
      }
    }
    self.mcount = mcount
  }

  func kind(of f: Function) -> FentryKind {
    let first = program.instructions(of: f, limit: 2)
    guard var (offset, insn) = first.first else { return .none }
    if insn.type == .endbr {
      guard first.count > 1 else { return .none }
      (offset, insn) = first[1]
    }
    if insn.type == .call, let target = try? program.target(of: insn, at: offset, in: f) {
      if target == .external("__fentry__") || (fentryPlace != nil && target == fentryPlace) { return .call }
    }
    if insn.type == .nop && insn.length == 5
      && mcount.contains(.place(section: f.section, offset: f.offset + UInt64(offset)))
    {
      return .nop
    }
    return .none
  }
}
