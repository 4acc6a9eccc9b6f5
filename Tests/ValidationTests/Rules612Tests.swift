import ELF
import Foundation
import Kernel
import TestSupport
import Testing

/// objtool 6.12's check rules, chosen by the generation (never by accident): `__pfx_`
/// prefix symbols, its noreturn list, every unreachable instruction reported once per
/// function, "missing a __noreturn annotation", the `--link` symbol-hole rule, and
/// nested alternatives sharing one original length.
@Suite("objtool 6.12's rules")
struct Rules612Tests {
  static let body = """
    .text
    .type __pfx_f, @function
    __pfx_f:
     .fill 16, 1, 0x90
    .size __pfx_f, 16
    .globl f
    .type f, @function
    f:
     push %rbx
     call __fortify_panic
     inc %rax
    .size f, . - f
    .globl g
    .type g, @function
    g:
     ret
     inc %rax
     inc %rbx
    .size g, . - g
    .globl h
    .type h, @function
    h:
     ret
     inc %rcx
    .size h, . - h
    .fill (16 - ((. - f) % 16)) % 16, 1, 0xcc
     call __fentry__
     ret
    .type __pfx_k, @function
    __pfx_k:
     .fill 16, 1, 0x90
    .size __pfx_k, 16
    .globl k
    .type k, @function
    k:
     ret
    .size k, . - k

    """

  func warnings(_ path: String, objtool: String? = nil) throws -> [String] {
    let r =
      try objtool.map { try Fixtures.run($0, ["--orc", "--module", "--link", path], environment: ["SRCARCH": "x86"]) }
      ?? Fixtures.run(Fixtures.orctool, ["--orc", "--module", "--link", "--dry-run", path])
    return r.stderr.split(separator: "\n").map { String($0.dropFirst(path.count + 2)) }
  }

  @Test("prefix symbols fall through silently, __fortify_panic does not return, each function's first unreachable")
  func rules() throws {
    let path = try module("rules612.S", generation: .v6_12, Self.body)
    let expected = [
      "warning: objtool: f+0x6: __fortify_panic() is missing a __noreturn annotation",
      "warning: objtool: g+0x1: unreachable instruction",
      "warning: objtool: h+0x1: unreachable instruction",
    ]
    #expect(try warnings(path) == expected)
    // The real objtool 6.12 on the same object.
    if let corpus = Corpus.current {
      let copy = path + ".objtool.o"
      try? FileManager.default.removeItem(atPath: copy)
      try FileManager.default.copyItem(atPath: path, toPath: copy)
      #expect(try warnings(copy, objtool: corpus.objtool612) == expected)
    }
  }

  @Test("the same code under 6.1's rules: the prefix symbol falls through, and 6.1 stops there")
  func rules61() throws {
    let path = try module("rules61.S", generation: .v6_1, Self.body)
    let lines = try warnings(path)
    #expect(lines.first == "warning: objtool: __pfx_f() falls through to next function f()")
    #expect(!lines.contains { $0.contains("unreachable") || $0.contains("__noreturn") })
  }

  @Test(
    "6.12 modules against objtool 6.12: ORC and warnings identical (kvm-amd's nested alternatives, 8021q's warnings)",
    .enabled(if: Corpus.current != nil))
  func corpus() throws {
    let corpus = try #require(Corpus.current)
    let all = Corpus.modules(under: corpus.modules612)
    let named = all.filter { $0.hasSuffix("/kvm-amd.ko") || $0.hasSuffix("/8021q.ko") || $0.hasSuffix("/btrfs.ko") }
    #expect(named.count == 3)
    let dir = try Fixtures.temporaryDirectory()
    for (k, module) in (named + Corpus.sample(all, count: 12)).enumerated() {
      let ours = dir.appendingPathComponent("m\(k).ko").path
      let theirs = dir.appendingPathComponent("o\(k).ko").path
      for out in [ours, theirs] {
        let r = try Fixtures.run(
          "objcopy",
          [
            "--remove-section=.orc_unwind", "--remove-section=.orc_unwind_ip",
            "--remove-section=.rela.orc_unwind_ip", module, out,
          ])
        #expect(r.status == 0)
      }
      let env = ["SRCARCH": "x86"]
      let m = try Fixtures.run(Fixtures.orctool, ["--orc", "--module", "--link", ours])
      let o = try Fixtures.run(corpus.objtool612, ["--orc", "--module", "--link", theirs], environment: env)
      #expect(
        m.stderr.replacingOccurrences(of: ours, with: "X") == o.stderr.replacingOccurrences(of: theirs, with: "X"),
        "\(module)")
      let a = try Fixtures.run(corpus.objtool612, ["--dump=orc", ours], environment: env).stdout
      let b = try Fixtures.run(corpus.objtool612, ["--dump=orc", theirs], environment: env).stdout
      #expect(a == b, "\(module)")
    }
  }
}

/// Writing ORC needs a symbol for each code section (`.rela.orc_unwind_ip` is against it);
/// GNU as leaves out the section symbols nothing refers to, and objtool makes one.
@Suite("ORC for a section without a section symbol")
struct SectionSymbolTests {
  static let body = """
    .text
    .globl f
    .type f, @function
    f:
     call g
     call h
     ret
    .size f, . - f
    .globl g
    .type g, @function
    g:
     ret
    .size g, . - g

    """

  @Test(
    "a local STT_SECTION symbol at sh_info, the first global moved to the end, its relocations following it",
    arguments: [KernelGeneration.v6_1, .v6_12])
  func made(generation: KernelGeneration) throws {
    let path = try module("nosecsym-\(generation).S", generation: generation, Self.body)
    let before = try Fixtures.run("readelf", ["-s", "-W", path]).stdout
    #expect(!before.contains("SECTION LOCAL  DEFAULT    1 "))
    let r = try Fixtures.run(Fixtures.orctool, ["--orc", "--module", "--link", path])
    #expect(r.status == 0 && r.stderr.isEmpty, "\(r.stderr)")
    let symbols = try Fixtures.run("readelf", ["-s", "-W", path]).stdout
    let relocations = try Fixtures.run("readelf", ["-r", "-W", path]).stdout
    // The calls still name g and h; the ORC slots are against the new .text symbol.
    #expect(relocations.contains("R_X86_64_PLT32         000000000000000b g - 4"))
    #expect(relocations.contains("R_X86_64_PLT32         0000000000000000 h - 4"))
    #expect(relocations.contains("R_X86_64_PC32          0000000000000000 .text + 0"))
    #expect(symbols.contains("SECTION LOCAL  DEFAULT    1 .text"))
    // ld accepts it.
    let linked = path + ".r.o"
    #expect(try Fixtures.run("ld", ["-r", "-o", linked, path]).status == 0)
    // objtool writes the same symbol table and relocations.
    if let corpus = Corpus.current {
      let theirs = try module("nosecsym-o-\(generation).S", generation: generation, Self.body)
      let objtool = generation == .v6_1 ? corpus.objtool61 : corpus.objtool612
      _ = try Fixtures.run(objtool, ["--orc", "--module", "--link", theirs], environment: ["SRCARCH": "x86"])
      #expect(try Fixtures.run("readelf", ["-s", "-W", theirs]).stdout == symbols)
      func entries(_ text: String) -> [String] {
        text.split(separator: "\n").filter { $0.hasPrefix("0000") }.map(String.init)
      }
      #expect(entries(try Fixtures.run("readelf", ["-r", "-W", theirs]).stdout) == entries(relocations))
    }
  }
}

extension SectionSymbolTests {
  /// FuzzCheck's timeout (the smoke, the commit that made section symbols): the symbol
  /// table is rewritten, and its sh_addralign, read from the file, was used to pad the
  /// output: 2^40 meant a terabyte of zeros. The rewritten tables are 8-aligned.
  @Test("a symbol table with a huge sh_addralign is rewritten at once")
  func hugeAlignment() throws {
    let path = try module("nosecsym-align.S", generation: .v6_1, Self.body)
    let file = try ELFFile(path: path)
    let symtab = try #require(file.section(named: ".symtab"))
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    withUnsafeBytes(of: (UInt64(1) << 40).littleEndian) {
      bytes.replaceSubrange(Int(symtab.headerOffset) + 48..<Int(symtab.headerOffset) + 56, with: $0)
    }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    let r = try Fixtures.run(Fixtures.orctool, ["--orc", "--module", "--link", path], timeout: 60)
    #expect(!r.timedOut && r.status == 0 && r.stderr.isEmpty, "\(r.stderr)")
    #expect(try Fixtures.run("readelf", ["-s", "-W", path]).stdout.contains("SECTION LOCAL  DEFAULT    1 .text"))
  }
}
