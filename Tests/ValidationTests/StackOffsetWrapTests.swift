import Foundation
import TestSupport
import Testing

/// Stack offsets are objtool's `int`s: an immediate that takes them past 32
/// bits wraps (objtool's ORC entry then holds the low 16 bits), it does not trap.
@Suite("Stack offsets wrap as objtool's")
struct StackOffsetWrapTests {
  /// `sub $imm, %rsp` (or `add`) and back, in one function.
  func object(_ instruction: String, _ undo: String) throws -> String {
    try Fixtures.assemble(
      "wrap.S",
      source: """
        .include "orc.inc"
        MODINFO_VERMAGIC 6.1.0-56-cloud-amd64
        .text
        .globl f
        .type f, @function
        f:
        \(instruction)
        \(undo)
        ret
        .size f, . - f
        """)
  }

  @Test(
    "sub/add of an immediate near 2^31: the ORC offset is the wrapped one (objtool 6.1's)",
    arguments: [
      ("sub $0x7ffffff7, %rsp", "add $0x7ffffff7, %rsp", "sp-1"),  // 8 + imm = Int32.max
      ("sub $0x7ffffff8, %rsp", "add $0x7ffffff8, %rsp", "sp+0"),  // one past
      ("sub $0x7fffffff, %rsp", "add $0x7fffffff, %rsp", "sp+7"),
      ("add $-0x80000000, %rsp", "sub $-0x80000000, %rsp", nil),  // sp+8 again: no entry of its own
    ])
  func wraps(instruction: String, undo: String, expected: String?) throws {
    let path = try object(instruction, undo)
    let r = try Fixtures.run(
      Fixtures.orctool, ["check", "--orc", "--link", "--dry-run", "--print-orc", path], timeout: 30)
    #expect(!r.signaled, "\(r.stderr)")
    #expect(r.status == 0 && r.stderr.isEmpty, "\(r.stderr)")
    var orc = [".text+0: sp:sp+8 bp:(und) type:call end:0"]
    if let expected {
      orc += [".text+7: sp:\(expected) bp:(und) type:call end:0", ".text+e: sp:sp+8 bp:(und) type:call end:0"]
    }
    orc.append(".text+f: sp:(und) bp:(und) type:call end:0")
    #expect(r.stdout == orc.joined(separator: "\n") + "\n")
    // The same ORC as objtool 6.1 writes.
    guard let objtool = Corpus.current?.objtool61 else { return }
    let copy = path + ".objtool.o"
    try FileManager.default.copyItem(atPath: path, toPath: copy)
    let o = try Fixtures.run(objtool, ["--stackval", "--orc", copy], timeout: 30)
    #expect(o.status == 0)
    let dump = try Fixtures.run(objtool, ["--dump=orc", copy], timeout: 30)
    #expect(dump.stdout == r.stdout)
  }
}
