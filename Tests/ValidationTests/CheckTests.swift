import ELF
import Foundation
import Kernel
import ORC
import Program
import TestSupport
import Testing
import Validation

/// Assembles `body` as a module of `generation` and returns its path.
func module(_ name: String, generation: KernelGeneration, _ body: String) throws -> String {
  let vermagic = generation == .v6_1 ? "6.1.0-56-cloud-amd64" : "6.12.117+deb12-cloud-amd64"
  let source = """
    ALT_GEN = \(generation == .v6_1 ? 61 : 612)
    .include "orc.inc"
    .include "seed000.inc"
    MODINFO_VERMAGIC \(vermagic)
    \(body)
    """
  return try Fixtures.assemble(name, source: source)
}

/// orctool's check: its warnings (objtool's text) and its ORC in objtool's dump text.
func check(_ path: String, generation: KernelGeneration) throws -> (warnings: [String], dump: String) {
  let (v, file) = try validate(path, generation: generation)
  return (v.diagnostics.map(\.objtoolText), dump(v, file: file, generation: generation))
}

/// Runs every pass and the validation of `path`.
func validate(_ path: String, generation: KernelGeneration) throws -> (Validator, ELFFile) {
  let file = try ELFFile(path: path)
  let v = Validator(graph: try ControlFlowGraph(program: try Program(file: file), generation: generation))
  v.run()
  return (v, file)
}

/// The ORC `v` generates, in objtool's dump text.
func dump(_ v: Validator, file: ELFFile, generation: KernelGeneration) -> String {
  let layout = ORCLayout.of(generation)
  var out: [UInt8] = []
  for (s, o, e) in v.orcEntries(layout: layout) {
    out += Array("\(file.sections[s].name)+\(String(o, radix: 16)):".utf8)
    ORCDump.appendEntry(e, layout: layout, to: &out)
  }
  return String(decoding: out, as: UTF8.self)
}

@Suite("Stack validation and ORC generation (objtool 6.1 rules)")
struct CheckTests {
  static let expected61 = """
    .text+0: sp:sp+8 bp:(und) type:call end:0
    .text+1: sp:sp+16 bp:(und) type:call end:0
    .text+2: sp:sp+24 bp:(und) type:call end:0
    .text+3: sp:sp+16 bp:(und) type:call end:0
    .text+8: sp:sp+8 bp:(und) type:call end:0
    .text+9: sp:(und) bp:(und) type:call end:0

    """
  static let expected612 = """
    .text+0:type:call sp:sp+8 bp:(und) signal:0
    .text+1:type:call sp:sp+16 bp:(und) signal:0
    .text+2:type:call sp:sp+24 bp:(und) signal:0
    .text+3:type:call sp:sp+16 bp:(und) signal:0
    .text+8:type:call sp:sp+8 bp:(und) signal:0
    .text+9:type:(und) sp:(und) bp:(und) signal:0

    """

  @Test(
    "seed 000 (a): three streams flatten to one table, the pop one 8 bytes deeper, in any entry order",
    arguments: [KernelGeneration.v6_1, .v6_12], [false, true])
  func threeStreamsFlatten(_ generation: KernelGeneration, _ reversed: Bool) throws {
    let path = try module("seed000a.S", generation: generation, Seed000.threeStreams(reversed: reversed))
    let (warnings, dump) = try check(path, generation: generation)
    #expect(warnings.isEmpty)
    #expect(dump == (generation == .v6_1 ? Self.expected61 : Self.expected612))
  }

  @Test("seed 000 (a) against the real objtool 6.1", .enabled(if: Corpus.current != nil))
  func threeStreamsObjtool() throws {
    let corpus = try #require(Corpus.current)
    let path = try module("seed000a.S", generation: .v6_1, Seed000.threeStreams(reversed: false))
    let r = try Fixtures.run(corpus.objtool61, ["--orc", "--module", "--link", path])
    #expect(r.status == 0 && r.stderr.isEmpty)
    let dump = try Fixtures.run(corpus.objtool61, ["--dump=orc", path])
    #expect(dump.stdout == Self.expected61)
  }

  /// Where the conflict is reported: at offset 7 of the stream validated second
  /// (`.altinstr_replacement` holds the pushing stream at 0, the other at 8).
  static func conflictPlaces(reversed: Bool) -> (reported: String, first: String) {
    reversed
      ? (".altinstr_replacement+0x7", ".altinstr_replacement+0xf")
      : (".altinstr_replacement+0xf", ".altinstr_replacement+0x7")
  }

  @Test(
    "seed 000 (b): a shared boundary at different depths is a stack layout conflict, in any entry order",
    arguments: [KernelGeneration.v6_1, .v6_12], [false, true])
  func conflict(_ generation: KernelGeneration, _ reversed: Bool) throws {
    let path = try module("seed000b.S", generation: generation, Seed000.conflictingStreams(reversed: reversed))
    let (v, _) = try validate(path, generation: generation)
    if generation == .v6_1 {
      let places = Self.conflictPlaces(reversed: reversed)
      #expect(v.diagnostics.map(\.objtoolText) == ["\(places.reported): stack layout conflict in alternatives"])
      // The diagnostic names the instruction of the other stream that recorded the state first.
      #expect(v.diagnostics.first?.related.map(\.place.text) == [places.reported, places.first])
      // The two states side by side: this stream's 8 bytes deeper or shallower than the first one's.
      #expect(Set(v.diagnostics.first?.related.compactMap(\.cfi) ?? []) == ["sp:sp+16 bp:(und)", "sp:sp+8 bp:(und)"])
    } else {
      // objtool 6.12 validates the last entry's stream first and reports at the site.
      let places = Self.conflictPlaces(reversed: !reversed)
      #expect(
        v.diagnostics.map(\.objtoolText)
          == ["f+0x0: stack layout conflict in alternatives: \(places.reported)"])
      #expect(v.diagnostics.first?.related.map(\.place.text) == [places.reported, places.first])
    }
  }

  /// objtool 6.1 gives each `.altinstructions` entry of a site its own CFI array and
  /// points the original at the last one, so a stream of an earlier entry is never
  /// compared with the others: with the pushing stream first it misses the conflict
  /// (and its ORC lacks that stream's states); with it last, it reports the conflict
  /// at the original's instruction. OrcTool flattens every stream into one array
  /// (seed 000) and reports it in both orders (the test above).
  @Test(
    "seed 000 (b): objtool 6.1 sees the conflict only when the pushing stream is the last entry",
    .enabled(if: Corpus.current != nil), arguments: [false, true])
  func conflictObjtool(_ reversed: Bool) throws {
    let corpus = try #require(Corpus.current)
    let path = try module("seed000b.S", generation: .v6_1, Seed000.conflictingStreams(reversed: reversed))
    let r = try Fixtures.run(corpus.objtool61, ["--orc", "--module", "--link", path])
    #expect(r.stderr == (reversed ? "\(path): warning: objtool: f+0x7: stack layout conflict in alternatives\n" : ""))
  }

  @Test(
    "objtool's diagnostics, in its words",
    arguments: [
      ("ret_modified", "f: push %rbx\n ret\n", "f+0x1: return with modified stack frame"),
      (
        "fallthrough", "f: nop\n .size f, .-f\n .type g, @function\ng: ret\n .size g, .-g\n",
        "f() falls through to next function g()"
      ),
      ("unreachable", "f: ret\n nop\n inc %eax\n", "f+0x2: unreachable instruction"),
      (
        "sibling", "f: push %rbx\n jmp other\n",
        "f+0x1: sibling call from callable instruction with modified stack frame"
      ),
      ("realign", "f: and $-16, %rsp\n ret\n", "f+0x0: unsupported stack pointer realignment"),
    ])
  func diagnostics(_ name: String, _ body: String, _ expected: String) throws {
    var src = ".text\n.globl f\n.type f, @function\n" + body
    if !body.contains(".size f") { src += "\n.size f, . - f\n" }
    let path = try module(name + ".S", generation: .v6_1, src)
    let (warnings, _) = try check(path, generation: .v6_1)
    #expect(warnings == [expected])
  }

  @Test("orctool --orc writes the sections; readelf, ld -r and objtool read them", .enabled(if: Corpus.current != nil))
  func writes() throws {
    let corpus = try #require(Corpus.current)
    let path = try module("seed000a.S", generation: .v6_1, Seed000.threeStreams(reversed: false))
    let r = try Fixtures.run(Fixtures.orctool, ["--orc", "--module", "--link", path])
    #expect(r.status == 0 && r.stderr.isEmpty)
    let readelf = try Fixtures.run("readelf", ["-a", path])
    #expect(readelf.status == 0 && readelf.stderr.isEmpty)
    let linked = path + ".ld.o"
    #expect(try Fixtures.run("ld", ["-r", "-o", linked, path]).status == 0)
    #expect(try Fixtures.run(corpus.objtool61, ["--dump=orc", path]).stdout == Self.expected61)
    // Once is enough: a second run refuses, in objtool's words and with its exit status
    // (0: objtool does not fail the build on fatal warnings), and leaves the file alone.
    let before = try Data(contentsOf: URL(fileURLWithPath: path))
    let again = try Fixtures.run(Fixtures.orctool, ["--orc", "--module", "--link", path])
    #expect(again.status == 0)
    let checked = try Fixtures.run(Fixtures.orctool, ["check", "--orc", path])
    #expect(checked.status == 1, "orctool check says it did not finish")
    #expect(again.stderr == "\(path): warning: objtool: file already has .orc_unwind section, skipping\n")
    #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
  }

  @Test("100 Debian 6.1 modules: ORC and warnings identical to objtool 6.1's", .enabled(if: Corpus.current != nil))
  func corpus() throws {
    let corpus = try #require(Corpus.current)
    let dir = try Fixtures.temporaryDirectory()
    var identical = 0
    let sample = Corpus.sample(Corpus.modules(under: corpus.modules61), count: 100)
    for (n, module) in sample.enumerated() {
      let stripped = dir.appendingPathComponent("\(n).ko").path
      let strip = try Fixtures.run(
        "objcopy",
        [
          "--remove-section=.orc_unwind", "--remove-section=.orc_unwind_ip",
          "--remove-section=.rela.orc_unwind_ip", module, stripped,
        ])
      #expect(strip.status == 0)
      let theirs = stripped + ".objtool.ko"
      let ours = stripped + ".orctool.ko"
      try FileManager.default.copyItem(atPath: stripped, toPath: theirs)
      try FileManager.default.copyItem(atPath: stripped, toPath: ours)
      let o = try Fixtures.run(corpus.objtool61, ["--orc", "--module", "--link", theirs])
      let m = try Fixtures.run(Fixtures.orctool, ["--orc", "--module", "--link", ours])
      let od = try Fixtures.run(corpus.objtool61, ["--dump=orc", theirs])
      let md = try Fixtures.run(corpus.objtool61, ["--dump=orc", ours])
      let sameWarnings =
        o.stderr.replacingOccurrences(of: theirs, with: "X") == m.stderr.replacingOccurrences(of: ours, with: "X")
      if od.stdout == md.stdout && sameWarnings {
        identical += 1
      } else {
        Issue.record("differs from objtool: \(module)")
      }
    }
    #expect(identical == sample.count, "\(identical) of \(sample.count)")
  }
}

@Suite("Switch jump tables")
struct JumpTableTests {
  @Test(
    "crc32c-intel.ko: the targets of crc_pcl's table are followed as objtool follows them",
    .enabled(if: Corpus.current != nil))
  func crc32c() throws {
    let corpus = try #require(Corpus.current)
    let module = try #require(Corpus.modules(under: corpus.modules61).first { $0.hasSuffix("/crc32c-intel.ko") })
    let dir = try Fixtures.temporaryDirectory()
    let ours = dir.appendingPathComponent("m.ko").path
    let theirs = dir.appendingPathComponent("o.ko").path
    for out in [ours, theirs] {
      #expect(
        try Fixtures.run(
          "objcopy",
          [
            "--remove-section=.orc_unwind", "--remove-section=.orc_unwind_ip",
            "--remove-section=.rela.orc_unwind_ip", module, out,
          ]
        ).status == 0)
    }
    #expect(try Fixtures.run(Fixtures.orctool, ["--orc", "--module", "--link", ours]).stderr.isEmpty)
    _ = try Fixtures.run(corpus.objtool61, ["--orc", "--module", "--link", theirs])
    let a = try Fixtures.run(corpus.objtool61, ["--dump=orc", ours]).stdout
    let b = try Fixtures.run(corpus.objtool61, ["--dump=orc", theirs]).stdout
    #expect(!a.isEmpty && a == b)
  }
}

@Suite("The alternatives view (seed 000's table)")
struct AlternativesViewTests {
  @Test("each stream's instructions with their CFI, the flattened table, and a conflict marked")
  func view() throws {
    let a = try module("seed000a.S", generation: .v6_1, Seed000.threeStreams(reversed: false))
    let r = try Fixtures.run(Fixtures.orctool, ["alternatives", a])
    #expect(r.status == 0)
    let lines = r.stdout.split(separator: "\n").map(String.init)
    #expect(lines.first == "f+0x1: alternative site, 6 bytes, 2 replacement streams")
    // Features by their names in the file's generation (8*32+16, 8*32+17 in 6.1's cpufeatures.h).
    #expect(
      lines.contains("  replacement 1 (X86_FEATURE_XENPV):") && lines.contains("  replacement 2 (X86_FEATURE_EPT_AD):"))
    // Targets through their relocations: the pv_ops slot of the original, the direct call's symbol.
    #expect(lines.contains { $0.contains("call *pv_ops+0x8(%rip)") })
    #expect(lines.contains { $0.contains("call native_save_fl") })
    #expect(lines.contains { $0.contains("pop %rax") && $0.hasSuffix("sp:sp+24 bp:(und)") })
    #expect(lines.contains { $0.contains("(fake nop, 4 bytes)") && $0.hasSuffix("sp:sp+16 bp:(und)") })
    #expect(!r.stdout.contains("conflict"))
    let b = try module("seed000b.S", generation: .v6_1, Seed000.conflictingStreams(reversed: false))
    let c = try Fixtures.run(Fixtures.orctool, ["alternatives", "--format", "json", b])
    let sites = try JSONDecoder().decode([AlternativeSite].self, from: c.stdoutData)
    #expect(sites.count == 1 && sites[0].hasConflict)
    // In stream order: the original's state (its path goes on past a conflict objtool 6.1
    // does not see, between two entries), then the replacement's that differs.
    #expect(sites[0].boundaries.first { $0.offset == 7 }?.states == ["sp:sp+8 bp:(und)", "sp:sp+16 bp:(und)"])
  }
  @Test("static keys and exception fixups: the other way each site goes, with the CFI there")
  func otherWays() throws {
    let keys = try Fixtures.assemble("jump_table.S")
    let r = try Fixtures.run(Fixtures.orctool, ["alternatives", "--generation", "6.1", keys])
    #expect(r.status == 0)
    #expect(
      r.stdout.hasPrefix(
        """
        f+0x0: static key site, 5 bytes, 1 other way
          original:
            +0    nop %eax, (%rax,%rax,1)          sp:sp+8 bp:(und)
          static key flipped: the NOP becomes a jump at f+0x7:
            +0    nop                              sp:sp+8 bp:(und)
            +1    ret                              sp:sp+8 bp:(und)
        f+0x5: static key site, 2 bytes, 1 other way
          original:
            +0    jmp 7 <f+0x7>                    sp:sp+8 bp:(und)
          static key flipped: the jump becomes a NOP at f+0x7:

        """))
    let extable = try Fixtures.assemble("extable_x86.S")
    let e = try Fixtures.run(Fixtures.orctool, ["alternatives", "--format", "json", "--generation", "6.1", extable])
    let sites = try JSONDecoder().decode([AlternativeSite].self, from: e.stdoutData)
    let g = try #require(sites.first { $0.site == "g+0x0" })
    #expect(g.kind == "exception fixup" && g.streams.map(\.target) == [nil, ".fixup+0x0"])
    #expect(g.streams.last?.steps.map(\.text) == ["mov $-0x0E, %eax", "jmp g+0x2"])
    #expect(g.streams.last?.steps.map(\.cfi) == ["sp:sp+8 bp:(und)", "sp:sp+8 bp:(und)"])
  }
}

@Suite("The alternatives view on real modules")
struct AlternativesViewCorpusTests {
  @Test("kvm.ko: no bare feature numbers, no call or jump to a bare address", .enabled(if: Corpus.current != nil))
  func kvm() throws {
    let corpus = try #require(Corpus.current)
    let module = try #require(Corpus.modules(under: corpus.modules61).first { $0.hasSuffix("/kvm.ko") })
    let r = try Fixtures.run(Fixtures.orctool, ["alternatives", module])
    #expect(r.status == 0)
    let lines = r.stdout.split(separator: "\n")
    #expect(lines.filter { $0.hasSuffix(":") && $0.contains("replacement") }.count > 100)
    #expect(!lines.contains { $0.contains("(feature ") || $0.contains("(!feature ") })
    #expect(!lines.contains { $0.contains("call 0x") || $0.contains("jmp 0x") || $0.contains("call *0x") })
    #expect(lines.contains { $0.contains("call copy_user_enhanced_fast_string") })
  }
}

@Suite("check --format json")
struct CheckJSONTests {
  @Test("diagnostics as objects with file, location and message")
  func json() throws {
    let path = try module(
      "json.S", generation: .v6_1, ".text\n.globl f\n.type f, @function\nf: push %rbx\n ret\n.size f, . - f\n")
    let r = try Fixtures.run(Fixtures.orctool, ["check", "--format", "json", path])
    #expect(r.status == 0)
    struct Item: Decodable, Equatable {
      var file: String
      var kind: String
      var location: String
      var message: String
      var path: [Diagnostic.PathStep]?
    }
    let items = try JSONDecoder().decode([Item].self, from: r.stdoutData)
    #expect(
      items.map { [$0.file, $0.kind, $0.location, $0.message] } == [
        [path, "warning", "f+0x1", "return with modified stack frame"]
      ])
    // The path validation took, as `orctool explain --format json` gives it: the function's
    // entry, then the stack state after `push %rbx`.
    let steps = try #require(items.first?.path)
    #expect(steps.map(\.kind) == [.functionEntry])
    #expect(steps.first?.place.text == "f+0x0")
    #expect(steps.first?.changes.map(\.instruction) == ["push %rbx"])
    #expect(steps.first?.changes.map(\.cfi) == ["sp:sp+16 bp:(und)"])
  }
}

@Suite("objtool 6.1's annotations")
struct AnnotationTests {
  @Test(
    "unwind hints, save/restore, non-standard functions and reachable markers: ORC as objtool writes it",
    .enabled(if: Corpus.current != nil))
  func annotations() throws {
    let corpus = try #require(Corpus.current)
    let ours = try Fixtures.assemble("annotations.S")
    let theirs = ours + ".objtool.o"
    try FileManager.default.copyItem(atPath: ours, toPath: theirs)
    let m = try Fixtures.run(Fixtures.orctool, ["--orc", "--module", "--link", ours])
    let o = try Fixtures.run(corpus.objtool61, ["--orc", "--module", "--link", theirs])
    #expect(m.status == 0 && m.stderr.isEmpty && o.stderr.isEmpty)
    let a = try Fixtures.run(corpus.objtool61, ["--dump=orc", ours]).stdout
    #expect(a == (try Fixtures.run(corpus.objtool61, ["--dump=orc", theirs]).stdout))
    #expect(a.hasPrefix(".text+0: sp:sp+0 bp:(und) type:regs (partial) end:0\n"))
    #expect(a.contains("type:call end:1\n"), "the CALL hint with end=1")
  }

  @Test("a restore hint without a save is reported in objtool's words")
  func restoreWithoutSave() throws {
    let src = """
      .include "unwind_hint.inc"
      .text
      .globl f
      .type f, @function
      f: push %rbp
      UNWIND_HINT type=6
      pop %rbp
      ret
      .size f, . - f
      """
    let path = try module("restore.S", generation: .v6_1, src)
    let (warnings, _) = try check(path, generation: .v6_1)
    // Once from f's path, once more from the hint itself (validate_unwind_hints()), as objtool 6.1 reports it.
    #expect(warnings == Array(repeating: "f+0x1: no corresponding CFI save for CFI restore", count: 2))
    if let corpus = Corpus.current {
      let r = try Fixtures.run(corpus.objtool61, ["--orc", "--module", "--link", path])
      #expect(r.stderr == warnings.map { "\(path): warning: objtool: \($0)\n" }.joined())
    }
  }
}

@Suite("--stackval (frame pointers)")
struct StackvalTests {
  @Test("a call without a frame is reported; a call to __fentry__ and a framed call are not")
  func frames() throws {
    let src = """
      .text
      .globl f
      .type f, @function
      f: call __fentry__
      call g
      ret
      .size f, . - f
      .globl h
      .type h, @function
      h: push %rbp
      mov %rsp, %rbp
      call g
      pop %rbp
      ret
      .size h, . - h
      """
    let path = try module("fp.S", generation: .v6_1, src)
    let r = try Fixtures.run(Fixtures.orctool, ["--stackval", path])
    #expect(r.stderr == "\(path): warning: objtool: f+0x5: call without frame pointer save/setup\n")
    if let corpus = Corpus.current {
      let copy = path + ".objtool.o"
      try FileManager.default.copyItem(atPath: path, toPath: copy)
      let o = try Fixtures.run(corpus.objtool61, ["--stackval", copy])
      #expect(o.stderr.replacingOccurrences(of: copy, with: path) == r.stderr)
    }
  }
}

@Suite("Determinism")
struct DeterminismTests {
  @Test("100 real modules: the same bytes at 1 and 4 threads, run after run", .enabled(if: Corpus.current != nil))
  func sameBytes() throws {
    let corpus = try #require(Corpus.current)
    let dir = try Fixtures.temporaryDirectory()
    let all = Corpus.modules(under: corpus.modules61)
    // The largest modules decode their code sections in parallel.
    let large = all.filter { $0.hasSuffix("/xfs.ko") || $0.hasSuffix("/btrfs.ko") || $0.hasSuffix("/kvm.ko") }
    let sample = Corpus.sample(all, count: 97) + large
    var parallel = 0
    var withORC = 0
    for (n, module) in sample.enumerated() {
      var outputs: [Data] = []
      for (k, jobs) in ["1", "4", "4"].enumerated() {
        let copy = dir.appendingPathComponent("\(n)-\(k).ko").path
        let strip = try Fixtures.run(
          "objcopy",
          [
            "--remove-section=.orc_unwind", "--remove-section=.orc_unwind_ip",
            "--remove-section=.rela.orc_unwind_ip", module, copy,
          ])
        #expect(strip.status == 0)
        let stripped = try Data(contentsOf: URL(fileURLWithPath: copy))
        let r = try Fixtures.run(Fixtures.orctool, ["--orc", "--module", "--link", "--jobs=\(jobs)", copy])
        #expect(r.status == 0, "\(module): \(r.stderr)")
        let written = try Data(contentsOf: URL(fileURLWithPath: copy))
        // ORC was added (every module has code): the run did its work, it did not merely fail alike.
        let hasORC = try ELF.ELFFile(path: copy).section(named: ".orc_unwind") != nil
        // ORC was added, or objtool's words say why not (kvm-amd's replacement code makes
        // objtool 6.1 stop too): every run did its work, none merely failed alike.
        if hasORC { withORC += 1 } else { #expect(written == stripped && r.stderr.contains(": warning: objtool: ")) }
        outputs.append(written)
      }
      #expect(outputs[0] == outputs[1] && outputs[1] == outputs[2], "\(module)")
      let file = try ELF.ELFFile(path: module)
      let code = file.sections.filter { $0.flags.contains(.execInstr) }.reduce(0) { $0 + Int($1.size) }
      if code >= InstructionTable.parallelDecodeThreshold
        && file.sections.filter({ $0.flags.contains(.execInstr) }).count > 1
      {
        parallel += 1
      }
    }
    #expect(parallel > 0, "the sample includes objects decoded in parallel")
    #expect(withORC >= 3 * (sample.count - 4), "ORC written for all but a few modules, three runs each")
  }
}

@Suite("--module and --link, with objtool 6.1's meaning")
struct LinkOptionTests {
  /// An object linked (`ld -r`) from two units: two `STT_FILE` symbols.
  static func linkedObject() throws -> String {
    let a = try Fixtures.assemble(
      "a.S", source: ".file \"a.c\"\n.text\n.globl f\n.type f, @function\nf: ret\n.size f, . - f\n")
    let b = try Fixtures.assemble(
      "b.S", source: ".file \"b.c\"\n.text\n.globl g\n.type g, @function\ng: ret\n.size g, . - g\n")
    let out = a + ".linked.o"
    #expect(try Fixtures.run("ld", ["-r", "-o", out, a, b]).status == 0)
    return out
  }

  @Test("without --link, an object of several units is reported as objtool reports it; with it, not")
  func link() throws {
    let path = try Self.linkedObject()
    let line = "error: objtool: Linked object detected, forcing --link\n"
    let without = try Fixtures.run(Fixtures.orctool, ["--orc", "--generation", "6.1", "--dry-run", path])
    #expect(without.status == 0 && without.stderr == line)
    let with = try Fixtures.run(Fixtures.orctool, ["--orc", "--link", "--generation", "6.1", "--dry-run", path])
    #expect(with.status == 0 && with.stderr.isEmpty)
    if let corpus = Corpus.current {
      let copy = path + ".objtool.o"
      try FileManager.default.copyItem(atPath: path, toPath: copy)
      #expect(try Fixtures.run(corpus.objtool61, ["--orc", copy]).stderr == line)
    }
  }

  @Test(
    "--module changes nothing --orc writes (objtool 6.1 reads it for --static-call only)",
    .enabled(if: Corpus.current != nil))
  func module() throws {
    let corpus = try #require(Corpus.current)
    let source = try #require(Corpus.sample(Corpus.modules(under: corpus.modules61), count: 1).first)
    let dir = try Fixtures.temporaryDirectory()
    var outputs: [Data] = []
    for (k, flags) in [["--orc"], ["--orc", "--module"]].enumerated() {
      let copy = dir.appendingPathComponent("\(k).ko").path
      #expect(
        try Fixtures.run(
          "objcopy",
          [
            "--remove-section=.orc_unwind", "--remove-section=.orc_unwind_ip",
            "--remove-section=.rela.orc_unwind_ip", source, copy,
          ]
        ).status == 0)
      #expect(try Fixtures.run(Fixtures.orctool, flags + [copy]).status == 0)
      outputs.append(try Data(contentsOf: URL(fileURLWithPath: copy)))
    }
    #expect(outputs[0] == outputs[1])
  }
}

@Suite("The generation policy on plain 6.12 objects (seed 000, no vermagic, no .orc_header)")
struct PlainObjectGenerationTests {
  /// Seed 000's scenario assembled with 14-byte `alt_instr` entries and nothing else that names a generation.
  static func plain(_ name: String, _ body: String) throws -> String {
    try Fixtures.assemble(name, source: "ALT_GEN = 612\n.include \"seed000.inc\"\n" + body)
  }

  static let scenarios: [(String, String)] = [
    ("seed000a.S", Seed000.threeStreams(reversed: false)), ("seed000b.S", Seed000.conflictingStreams(reversed: false)),
    ("seed000b-reversed.S", Seed000.conflictingStreams(reversed: true)),
  ]

  @Test(
    "the flag, kbuild's VERSION/PATCHLEVEL, or the layout alone: objtool 6.12's ORC and warnings",
    .enabled(if: Corpus.current != nil), arguments: 0..<3)
  func sameAsObjtool612(_ k: Int) throws {
    let corpus = try #require(Corpus.current)
    let (name, body) = Self.scenarios[k]
    let path = try Self.plain(name, body)
    let env = ["SRCARCH": "x86"]
    func copy(_ suffix: String) throws -> String {
      let c = path + suffix
      try FileManager.default.copyItem(atPath: path, toPath: c)
      return c
    }
    let theirs = try copy(".objtool.o")
    let o = try Fixtures.run(corpus.objtool612, ["--orc", "--module", "--link", theirs], environment: env)
    let expectedDump = try Fixtures.run(corpus.objtool612, ["--dump=orc", theirs], environment: env).stdout
    #expect(!expectedDump.isEmpty)
    let runs: [(String, [String], [String: String])] = [
      ("flag", ["--generation", "6.12"], [:]), ("env", [], ["VERSION": "6", "PATCHLEVEL": "12"]), ("layout", [], [:]),
    ]
    for (label, flags, environment) in runs {
      let ours = try copy(".\(label).o")
      let m = try Fixtures.run(
        Fixtures.orctool, ["--orc", "--module", "--link"] + flags + [ours],
        environment: environment)
      #expect(m.status == 0, "\(label)")
      #expect(
        m.stderr.replacingOccurrences(of: ours, with: "X") == o.stderr.replacingOccurrences(of: theirs, with: "X"),
        "\(name) \(label)")
      #expect(
        try Fixtures.run(corpus.objtool612, ["--dump=orc", ours], environment: env).stdout == expectedDump,
        "\(name) \(label)")
    }
  }

  @Test("kbuild's environment decides over the layout; the flag over both")
  func precedence() throws {
    let path = try Self.plain("seed000a.S", Seed000.threeStreams(reversed: false))
    // VERSION=6 PATCHLEVEL=1 reads the 14-byte entries as 12-byte ones: the size does not divide.
    let env61 = try Fixtures.run(
      Fixtures.orctool, ["check", "--orc", "--dry-run", path],
      environment: ["VERSION": "6", "PATCHLEVEL": "1"])
    #expect(env61.status == 1 && env61.stderr.contains("bad .altinstructions section size 28 (not a multiple of 12)"))
    let flag = try Fixtures.run(
      Fixtures.orctool, ["check", "--orc", "--dry-run", "--generation", "6.12", path],
      environment: ["VERSION": "6", "PATCHLEVEL": "1"])
    #expect(flag.status == 0 && flag.stderr.isEmpty)
  }

  @Test("nothing tells the generation: one line that names the flag, exit 1")
  func unknown() throws {
    let path = try Fixtures.assemble("plain.S", source: ".text\n.globl f\n.type f, @function\nf: ret\n.size f, . - f\n")
    let r = try Fixtures.run(Fixtures.orctool, ["--orc", path])
    #expect(r.status == 1)
    #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("use --generation 6.1 or 6.12"))
  }
}

@Suite("--backtrace, as objtool 6.1 prints it")
struct BacktraceTests {
  static let cases: [(String, String)] = [
    ("branch", "f: push %rbx\n test %eax, %eax\n jz 1f\n pop %rbx\n1: ret\n"),
    ("ret_modified", "f: push %rbx\n ret\n"),
    ("fallthrough", "f: nop\n .size f, .-f\n .type g, @function\ng: ret\n .size g, .-g\n"),
    ("nested", "f: test %eax, %eax\n jz 1f\n ret\n1: push %rbx\n jnz 2f\n pop %rbx\n ret\n2: ret\n"),
  ]

  @Test("the same lines as objtool 6.1 after each warning", .enabled(if: Corpus.current != nil), arguments: 0..<4)
  func sameAsObjtool(_ k: Int) throws {
    let corpus = try #require(Corpus.current)
    let (name, body) = Self.cases[k]
    var src = ".text\n.globl f\n.type f, @function\n" + body
    if !body.contains(".size f") { src += "\n.size f, . - f\n" }
    let path = try module(name + ".S", generation: .v6_1, src)
    let theirs = path + ".objtool.o"
    try FileManager.default.copyItem(atPath: path, toPath: theirs)
    let o = try Fixtures.run(corpus.objtool61, ["--orc", "--dry-run", "--backtrace", theirs])
    let m = try Fixtures.run(Fixtures.orctool, ["--orc", "--dry-run", "--backtrace", path])
    #expect(o.stderr.contains("<=== (sym)"))
    #expect(m.stderr.replacingOccurrences(of: path, with: "X") == o.stderr.replacingOccurrences(of: theirs, with: "X"))
  }

  @Test("seed 000 (b), pushing stream last: the conflict is reached through the site's stream (alt)")
  func alternative() throws {
    let path = try module("seed000b.S", generation: .v6_1, Seed000.conflictingStreams(reversed: true))
    let r = try Fixtures.run(Fixtures.orctool, ["--orc", "--dry-run", "--backtrace", path])
    let lines = r.stderr.split(separator: "\n").map { String($0.dropFirst(path.count)) }
    #expect(
      lines == [
        ": warning: objtool: .altinstr_replacement+0x7: stack layout conflict in alternatives",
        ": warning: objtool:   f+0x0: (alt)", ": warning: objtool:   f+0x0: <=== (sym)",
      ])
  }
}

@Suite("orctool explain")
struct ExplainTests {
  @Test("seed 000 (b): both streams at offset 0x7, the two states and the instruction that made each")
  func conflict() throws {
    let path = try module("seed000b.S", generation: .v6_1, Seed000.conflictingStreams(reversed: false))
    let r = try Fixtures.run(Fixtures.orctool, ["explain", "--format", "json", path])
    #expect(r.status == 0)
    let diagnostics = try JSONDecoder().decode([Diagnostic].self, from: r.stdoutData)
    let d = try #require(diagnostics.first)
    #expect(diagnostics.count == 1 && d.message == "stack layout conflict in alternatives")
    #expect(
      d.related.map(\.role) == [
        "conflicting state brought at offset 0x7 of the site by",
        "state first recorded at offset 0x7 of the site by",
      ])
    #expect(d.related.map(\.cfi) == ["sp:sp+8 bp:(und)", "sp:sp+16 bp:(und)"])
    // The pushing stream's push made the deeper state.
    #expect(d.related[1].changes.map(\.instruction) == ["push %rax"])
    // The path: the function's entry, then the second replacement stream, entered at the site.
    #expect(d.path.map(\.kind) == [.functionEntry, .alternative])
    #expect(d.path.last?.from?.text == "f+0x0" && d.path.last?.place.text == ".altinstr_replacement+0x8")
  }

  @Test("a warning after a branch: the jump taken and the stack change before it")
  func branch() throws {
    let src =
      ".text\n.globl f\n.type f, @function\nf: push %rbx\n test %eax, %eax\n jz 1f\n pop %rbx\n1: ret\n.size f, . - f\n"
    let path = try module("branch.S", generation: .v6_1, src)
    let r = try Fixtures.run(Fixtures.orctool, ["explain", path])
    #expect(r.status == 0)
    let lines = r.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    #expect(lines.first == "\(path): warning: f+0x6: return with modified stack frame")
    #expect(lines.contains { $0.hasPrefix("f+0x0: push %rbx") && $0.hasSuffix("-> sp:sp+16 bp:(und)") })
    #expect(lines.contains { $0.hasPrefix("jump taken at f+0x6 (from f+0x3)") })
  }
  @Test("an unreachable instruction: the path to the last instruction reached before it, and why it ends there")
  func unreachable() throws {
    let src = """
      .text
      .globl f
      .type f, @function
      f: push %rbx
       test %edi, %edi
       jz 1f
       pop %rbx
       ret
       inc %rax
       inc %rax
      1: pop %rbx
       ret
      .size f, . - f

      """
    let path = try module("unreachable.S", generation: .v6_1, src)
    let r = try Fixtures.run(Fixtures.orctool, ["explain", "--format", "json", path])
    let d = try #require(try JSONDecoder().decode([Diagnostic].self, from: r.stdoutData).first)
    #expect(d.message == "unreachable instruction" && d.place?.text == "f+0x7")
    // Entry, push and pop on the straight line to the `ret` at f+0x6, where the path ends.
    #expect(d.path.map(\.kind) == [.functionEntry, .pathEnds])
    #expect(d.path.first?.changes.map(\.instruction) == ["push %rbx", "pop %rbx"])
    #expect(d.path.last?.place.text == "f+0x6" && d.path.last?.cfi == "sp:sp+8 bp:(und)")
    #expect(d.path.last?.note == "ret: the function returns")
    // The same in check's JSON and the text of explain.
    let check = try Fixtures.run(Fixtures.orctool, ["check", "--format", "json", path])
    #expect(check.stdout.contains("\"note\" : \"ret: the function returns"))
    let text = try Fixtures.run(Fixtures.orctool, ["explain", path]).stdout
    #expect(text.contains("    path ends at f+0x6 ") && text.contains("      ret: the function returns"))
  }

  @Test("an unreachable instruction no path can start at: code outside any function")
  func noEntry() throws {
    let src = ".text\n.globl f\n.type f, @function\nf: ret\n.size f, . - f\ng: inc %rax\n ret\n"
    let path = try module("noentry.S", generation: .v6_1, src)
    let r = try Fixtures.run(Fixtures.orctool, ["explain", "--format", "json", path])
    let d = try #require(try JSONDecoder().decode([Diagnostic].self, from: r.stdoutData).first)
    #expect(d.message == "unreachable instruction" && d.place?.text == ".text+0x1")
    #expect(d.path.map(\.kind) == [.noEntry])
    #expect(d.path.first?.note == "not in any function, and no unwind hint starts a path here")
  }
}
