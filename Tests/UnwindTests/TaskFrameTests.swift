import ELF
import Foundation
import Kernel
import TestSupport
import Testing
import Unwind

@Suite("struct inactive_task_frame: its layout from .BTF, or an error naming what .BTF lacks")
struct TaskFrameTests {
  /// `Fixtures/task_frame_btf.S` assembled with `VARIANT` (0: whole struct,
  /// 1: no ret_addr, 2: no struct), its BTF, and the file offset of its `.BTF`.
  func btf(variant: Int) throws -> (btf: BTF, path: String, offset: UInt64) {
    let path = try Fixtures.assemble("tf\(variant).S", source: "VARIANT = \(variant)\n.include \"task_frame_btf.S\"\n")
    let file = try ELFFile(path: path)
    let section = try #require(file.section(named: ".BTF"))
    return (try BTF(file: file), path, section.offset)
  }

  @Test("the whole struct: 56 bytes, bp at 40, ret_addr at 48 (x86-64)")
  func whole() throws {
    #expect(try InactiveTaskFrame(btf: btf(variant: 0).btf) == InactiveTaskFrame(size: 56, bp: 40, returnAddress: 48))
  }

  @Test("a .BTF whose struct lacks ret_addr: an error naming the member, at the .BTF's offset")
  func missingMember() throws {
    let (btf, path, offset) = try btf(variant: 1)
    let expected = ELFError(
      .missingBTF(structure: "inactive_task_frame", member: "ret_addr"), path: path, offset: offset)
    #expect(throws: expected) { try InactiveTaskFrame(btf: btf) }
    #expect(
      expected.description
        == "\(path): error: .BTF has no member ret_addr in struct inactive_task_frame (at offset 0x\(String(offset, radix: 16)))"
    )
  }

  @Test("a .BTF without the struct: an error naming the struct")
  func missingStruct() throws {
    let (btf, path, offset) = try btf(variant: 2)
    let expected = ELFError(.missingBTF(structure: "inactive_task_frame", member: nil), path: path, offset: offset)
    #expect(throws: expected) { try InactiveTaskFrame(btf: btf) }
    #expect(expected.message == ".BTF has no struct inactive_task_frame")
    // A struct that is there, a member that is not: named with its path.
    #expect(throws: ELFError(.missingBTF(structure: "task_struct", member: "thread.sp"), path: path, offset: offset)) {
      try btf.requireOffset(of: "thread.sp", in: "task_struct")
    }
  }

  @Test(
    "the real 6.1 vmlinux: the same layout as the fixture",
    .enabled(if: Corpus.current?.vmlinux61 != nil || Corpus.required))
  func real() throws {
    let btf = try BTF(file: try ELFFile(path: try #require(Corpus.current?.vmlinux61)))
    #expect(try InactiveTaskFrame(btf: btf) == InactiveTaskFrame(size: 56, bp: 40, returnAddress: 48))
  }
}
