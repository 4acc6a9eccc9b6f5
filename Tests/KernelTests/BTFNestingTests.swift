import ELF
import Kernel
import TestSupport
import Testing

/// A `.BTF` is input: a struct that contains itself must not be followed forever.
@Suite("BTF nesting bounds")
struct BTFNestingTests {
  func btf(_ build: (inout BTFBuilder) -> Void) throws -> BTF {
    var b = BTFBuilder()
    build(&b)
    let file = MappedFile(copying: b.bytes(), path: "btf")
    return try BTF(data: ByteView(file.bytes, fileOffset: 0), path: "btf", owner: file)
  }

  @Test("an anonymous member of the struct's own type: offset(of:in:) ends with nil")
  func selfAnonymous() throws {
    let btf = try btf { b in
      let int = b.int("int")
      _ = b.structure("s", size: 8, members: [("a", int, 0), ("", b.count + 1, 4)])
    }
    #expect(btf.offset(of: "a", in: "s") == 0)
    #expect(btf.offset(of: "missing", in: "s") == nil)
  }

  @Test("anonymous members nested up to the bound are still found")
  func nestedAnonymous() throws {
    let depth = BTF.maxNesting
    let btf = try btf { b in
      let int = b.int("int")
      var inner = b.structure("", size: 4, members: [("x", int, 0)])
      for _ in 0..<(depth - 1) { inner = b.structure("", size: 4, members: [("", inner, 0)]) }
      _ = b.structure("s", size: 8, members: [("pad", int, 0), ("", inner, 4)])
    }
    #expect(btf.offset(of: "x", in: "s") == 4)
  }

  @Test("a struct of two members of its own type: flattenedMembers ends, bounded")
  func selfFlattened() throws {
    let btf = try btf { b in
      let id = b.count + 1
      _ = b.structure("s", size: 16, members: [("a", id, 0), ("b", id, 8)])
    }
    let id = try #require(btf.find("s", kind: .structure))
    let members = btf.flattenedMembers(of: id)
    #expect(members.count == BTF.maxFlattenedMembers)
    #expect(members.first?.name.hasPrefix("a.a.a.") == true)
  }

  @Test("an ordinary nested struct flattens as before")
  func ordinary() throws {
    let btf = try btf { b in
      let int = b.int("int")
      let pair = b.structure("pair", size: 8, members: [("lo", int, 0), ("hi", int, 4)])
      _ = b.structure("s", size: 16, members: [("p", pair, 0), ("q", pair, 8)])
    }
    let id = try #require(btf.find("s", kind: .structure))
    #expect(btf.flattenedMembers(of: id).map(\.name) == ["p.lo", "p.hi", "q.lo", "q.hi"])
    #expect(btf.flattenedMembers(of: id).map(\.offset) == [0, 4, 8, 12])
  }
}
