import ELF
import Foundation
import Program
import Reports
import TestSupport
import Testing

func livepatch(_ path: String) throws -> LivepatchReport {
  try LivepatchReport(file: try ELFFile(path: path))
}

func child(_ r: LivepatchReport, _ name: String) throws -> ChildReport {
  try #require(r.children.first { $0.name == name })
}

@Suite("Live-patch view (seed 003)")
struct LivepatchTests {
  @Test("a .cold child is joined to its parent, with the jump in and the jump back")
  func coldChild() throws {
    let r = try livepatch(try Fixtures.assemble("livepatch.S"))
    let c = try child(r, "f.cold")
    #expect(c.kind == .cold && c.parent == "f" && c.fentry == .none)
    #expect(c.branchesIn == [SubfunctionBranch(from: "f+0x7", to: "f.cold+0x0", instruction: "jcc")])
    #expect(c.branchesOut == [SubfunctionBranch(from: "f.cold+0x2", to: "f+0xd", instruction: "jmp")])
  }

  @Test("combined suffixes: k.isra.0.cold is the child of k.isra.0, m.constprop.0.part.0 of m.constprop.0")
  func combinedSuffixes() throws {
    let r = try livepatch(try Fixtures.assemble("livepatch.S"))
    #expect(try child(r, "k.isra.0.cold").parent == "k.isra.0")
    #expect(try child(r, "k.isra.0.cold").branchesIn.map(\.instruction) == ["jmp"])
    let m = try child(r, "m.constprop.0.part.0")
    #expect(m.kind == .part && m.parent == "m.constprop.0" && m.fentry == .none)
    #expect(m.branchesIn.map(\.instruction) == ["call"])
  }

  @Test("fentry: a call (after endbr64 too), a NOP listed in __mcount_loc, or none")
  func fentry() throws {
    let r = try livepatch(try Fixtures.assemble("livepatch.S"))
    #expect(try child(r, "h.part.0").fentry == .call)
    // f, g, g.isra.0, g.constprop.0, h (after endbr64), h.part.0, k.isra.0, m.constprop.0, n
    #expect(r.summary["functions.fentry_call"] == 9)
    #expect(r.summary["functions.fentry_nop"] == 1)  // q
    #expect(r.summary["children.without_fentry"] == 4)
  }

  @Test("a child reached only through a static key is still found")
  func staticKey() throws {
    let r = try livepatch(try Fixtures.assemble("livepatch.S"))
    #expect(
      try child(r, "n.cold").branchesIn == [
        SubfunctionBranch(from: "n+0x5", to: "n.cold+0x0", instruction: "static key")
      ])
  }

  @Test("copies of one source function are reported; split children are not copies")
  func copies() throws {
    let r = try livepatch(try Fixtures.assemble("livepatch.S"))
    #expect(r.copies.map(\.copies) == [["g", "g.isra.0", "g.constprop.0"]])
  }

  @Test("groups: each parent with the children that have no fentry")
  func groups() throws {
    let r = try livepatch(try Fixtures.assemble("livepatch.S"))
    let groups = Dictionary(uniqueKeysWithValues: r.groups.map { ($0.parent, $0.childrenWithoutFentry) })
    #expect(
      groups == [
        "f": ["f.cold"], "k.isra.0": ["k.isra.0.cold"], "m.constprop.0": ["m.constprop.0.part.0"],
        "n": ["n.cold"],
      ])
    #expect(groups["h"] == nil, "h.part.0 has its own fentry")
  }

  @Test("a .cold child without a parent is an orphan, as kpatch-build treats it")
  func orphan() throws {
    let r = try livepatch(try Fixtures.assemble("livepatch_orphan.S"))
    #expect(r.orphans == ["lonely.cold"])
    let cli = try Fixtures.run(Fixtures.orctool, ["livepatch", try Fixtures.assemble("livepatch_orphan.S")])
    #expect(cli.status == 1)
    #expect(cli.stderr.hasSuffix("error: failed to find parent function for lonely.cold\n"))
  }

  func linkedDuplicates(stripFileSymbols: Bool) throws -> String {
    let a = try Fixtures.assemble("livepatch_dup1.S")
    let b = try Fixtures.assemble("livepatch_dup2.S")
    let dir = try Fixtures.temporaryDirectory()
    let out = dir.appendingPathComponent("dup.o").path
    #expect(try Fixtures.run("ld", ["-r", "-o", out, a, b]).status == 0)
    guard stripFileSymbols else { return out }
    let stripped = dir.appendingPathComponent("dup-nofile.o").path
    let names = [a, b].map { URL(fileURLWithPath: $0).lastPathComponent }
    #expect(try Fixtures.run("objcopy", names.flatMap { ["--strip-symbol=\($0)"] } + [out, stripped]).status == 0)
    return stripped
  }

  @Test(
    "same-named statics from two units: each child gets the parent that branches into it",
    arguments: [false, true])
  func duplicates(stripFileSymbols: Bool) throws {
    let path = try linkedDuplicates(stripFileSymbols: stripFileSymbols)
    let r = try livepatch(path)
    let file = try ELFFile(path: path)
    let table = try FunctionTable(file: file)
    let dups = table.functions(named: "dup")
    let colds = table.functions(named: "dup.cold")
    #expect(dups.count == 2 && colds.count == 2)
    // Unit 2's dup branches at +0x7 (after two NOPs); unit 1's at +0x5.
    let second = try #require(r.children.first { $0.branchesIn.first?.from == "dup+0x7" })
    #expect(second.parentSymbol == dups[1].symbolIndex)
    #expect(second.kpatchParent?.hasPrefix("dup (symbol \(dups[0].symbolIndex)") == true)
    let first = try #require(r.children.first { $0.branchesIn.first?.from == "dup+0x5" })
    #expect(first.parentSymbol == dups[0].symbolIndex && first.kpatchParent == nil)
  }

  @Test("the text view warns of a child its parent never reaches and of kpatch-build's other choice")
  func textWarnings() throws {
    let nobranch = try Fixtures.assemble("livepatch_nobranch.S")
    let r = try Fixtures.run(Fixtures.orctool, ["livepatch", nobranch])
    #expect(r.status == 0)
    #expect(r.stdout.contains("\(nobranch): warning: orctool: r.part.0: no branch from r into it found\n"))
    #expect(r.stdout.contains("group: r + r.part.0 must be patched together\n"))
    let dup = try linkedDuplicates(stripFileSymbols: true)
    let d = try Fixtures.run(Fixtures.orctool, ["livepatch", dup])
    let warning = d.stdout.split(separator: "\n").filter { $0.contains("kpatch-build would take") }
    #expect(warning.count == 1)
    #expect(
      warning.first?.hasSuffix(
        "warning: orctool: dup.cold: parent is dup (symbol 7), kpatch-build would take dup (symbol 5)") == true)
  }

  @Test("addr2func names children with their parent")
  func addr2func() throws {
    let path = try Fixtures.assemble("livepatch.S")
    let r = try Fixtures.run(Fixtures.orctool, ["addr2func", path, ".text.unlikely+0x2", "0x5", "n.cold+1"])
    #expect(r.status == 0)
    #expect(
      r.stdout == """
        .text.unlikely+0x2: f.cold+0x2/0x7 (child of f)
        0x5: f+0x5/0xe
        n.cold+1: n.cold+0x1/0x2 (child of n)

        """)
    let miss = try Fixtures.run(Fixtures.orctool, ["addr2func", path, "0x10000"])
    #expect(miss.status == 1 && miss.stdout == "0x10000: ?\n")
  }

  @Test("--format json carries the same report")
  func json() throws {
    let path = try Fixtures.assemble("livepatch.S")
    let r = try Fixtures.run(Fixtures.orctool, ["livepatch", "--format", "json", path])
    #expect(r.status == 0)
    let decoded = try JSONDecoder().decode([LivepatchReport].self, from: r.stdoutData)
    #expect(decoded.count == 1)
    #expect(decoded[0].groups.count == 4)
    #expect(decoded[0].children.count == 5)
  }

  @Test(
    "100 real 6.1 modules: no orphans, cold children have no fentry and are reached from their parent",
    .enabled(if: Corpus.current != nil))
  func corpus() throws {
    let corpus = try #require(Corpus.current)
    var cold = 0
    var reached = 0
    for path in Corpus.sample(Corpus.modules(under: corpus.modules61), count: 100) {
      let r = try livepatch(path)
      #expect(r.orphans.isEmpty, "\(path)")
      for c in r.children where c.kind == .cold {
        cold += 1
        #expect(c.fentry == .none, "\(path): \(c.name)")
        #expect(c.parent != nil)
        if !c.branchesIn.isEmpty { reached += 1 }
      }
    }
    #expect(cold > 100)
    #expect(Double(reached) >= 0.98 * Double(cold), "\(reached) of \(cold)")
  }

  @Test(
    "the 6.1 vmlinux: fentry calls resolved through linked addresses", .enabled(if: Corpus.current?.vmlinux61 != nil))
  func vmlinux() throws {
    let r = try livepatch(try #require(Corpus.current?.vmlinux61))
    #expect(r.summary["functions.fentry_call", default: 0] > 30_000)
    #expect(r.orphans.isEmpty)
    #expect(r.summary["children.cold", default: 0] > 1_000)
  }
}
