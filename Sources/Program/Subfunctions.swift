import ELF

/// How a child function was split from its parent.
public enum ChildKind: String, Sendable, Hashable, Codable {
  /// `f.cold`: the unlikely part of `f`, reached only by jumps from it; no fentry.
  case cold
  /// `f.part.N`: an outlined part of `f`, called from it; usually has fentry.
  case part
}

/// A child function (`.cold`, `.part.N`) and the parent it was split from.
public struct ChildLink: Sendable, Hashable {
  /// The child's function id.
  public var child: Int
  /// How it was split.
  public var kind: ChildKind
  /// The parent's name (the child's name before `.cold` / `.part.`).
  public var parentName: String
  /// The parent, found in the child's compilation unit first, else among
  /// globals; nil when there is none.
  public var parent: Int?
  /// The parent kpatch-build would pick: the first symbol of that name in
  /// the whole symbol table (`kpatch_detect_child_functions`).
  public var kpatchParent: Int?
}

/// Parent and child functions of one file (seed 003): the one parent/child
/// rule of the program, used by validation (objtool's `pfunc` of a `.cold`
/// child), livepatch, extable and addr2func.
///
/// The rule is kpatch-build's (`kpatch-build/create-diff-object.c`,
/// `kpatch_detect_child_functions`): a function whose name contains `.cold`
/// is the child of the name before the first `.cold` (and it is an error if
/// there is none); otherwise one whose name contains `.part.` is the child of
/// the name before the first `.part.`. kpatch runs on one compilation unit;
/// in a linked module or vmlinux the parent is looked up in the child's unit
/// first. Where that leaves several candidates (a module linked from several
/// objects, each with its own static `f` and `f.cold`, and no `STT_FILE`
/// symbols to tell their units apart), the code decides: the parent is the
/// candidate that branches into the child; failing that, the nearest
/// preceding symbol of that name.
public struct Subfunctions: Sendable {
  /// Child links by child id.
  public let links: [Int: ChildLink]
  /// Children by parent id, in symbol order.
  public let children: [Int: [Int]]

  /// Finds every child in `program`, reading its branches when names are ambiguous.
  public init(program: Program) {
    self.init(table: program.functions, program: program)
  }

  /// Finds every child in `table` by name alone, or reading branches through `program` when names are ambiguous.
  public init(table: FunctionTable, program: Program? = nil) {
    var links: [Int: ChildLink] = [:]
    var children: [Int: [Int]] = [:]
    for f in table.functions where !f.isPrefixSymbol {
      let kind: ChildKind
      let parentName: String
      if let name = f.name.prefix(beforeASCII: ".cold") {
        kind = .cold
        parentName = name
      } else if let name = f.name.prefix(beforeASCII: ".part.") {
        kind = .part
        parentName = name
      } else {
        continue
      }
      let parent = Self.parent(of: f, named: parentName, in: table, program: program)
      let kpatch = table.functions(named: parentName).first?.id
      links[f.id] = ChildLink(child: f.id, kind: kind, parentName: parentName, parent: parent, kpatchParent: kpatch)
      if let parent { children[parent, default: []].append(f.id) }
    }
    self.links = links
    self.children = children
  }

  static func parent(of child: Function, named name: String, in table: FunctionTable, program: Program?) -> Int? {
    let all = table.functions(named: name)
    var candidates = all.filter { $0.unit != nil && $0.unit == child.unit }
    if candidates.isEmpty { candidates = all.filter { $0.unit == nil } }
    if candidates.count <= 1 { return candidates.first?.id }
    if let program {
      let branching = candidates.filter { candidate in
        program.instructions(of: candidate).contains { (offset, insn) in
          guard insn.isDirectBranch,
            case .place(let s, let o)? = try? program.target(of: insn, at: offset, in: candidate)
          else {
            return false
          }
          return s == child.section && o >= child.offset && o < child.endOffset
        }
      }
      if branching.count == 1 { return branching[0].id }
      if branching.count > 1 { candidates = branching }
    }
    let before = candidates.filter { $0.symbolIndex < child.symbolIndex }
    return (before.max { $0.symbolIndex < $1.symbolIndex } ?? candidates.min { $0.symbolIndex < $1.symbolIndex })?.id
  }

  /// `.cold` children whose parent cannot be found (kpatch-build: "failed to find parent function").
  public var orphans: [ChildLink] {
    links.values.filter { $0.kind == .cold && $0.parent == nil }.mergeSorted { $0.child < $1.child }
  }

  /// The parent chain of `id`, nearest first (`f.part.0.cold` → `f.part.0` → `f`).
  public func ancestors(of id: Int) -> [Int] {
    var out: [Int] = []
    var current = id
    while let p = links[current]?.parent, !out.contains(p), p != id {
      out.append(p)
      current = p
    }
    return out
  }

  /// The outermost function `id` belongs to.
  public func root(of id: Int) -> Int { ancestors(of: id).last ?? id }

  /// Every descendant of `id`, depth first.
  public func descendants(of id: Int) -> [Int] {
    var out: [Int] = []
    var stack = (children[id] ?? []).reversed() as [Int]
    while let c = stack.popLast() {
      if out.contains(c) || c == id { continue }
      out.append(c)
      stack.append(contentsOf: (children[c] ?? []).reversed())
    }
    return out
  }
}
