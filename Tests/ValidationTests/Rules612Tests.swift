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
