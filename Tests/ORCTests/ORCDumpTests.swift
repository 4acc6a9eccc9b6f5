import ELF
import Kernel
import ORC
import TestSupport
import Testing

func dump(_ path: String, generation: KernelGeneration? = nil) throws -> String {
  let file = try ELFFile(path: path)
  let gen = try #require(generation ?? GenerationDetector.detect(file)?.0)
  let table = try #require(try ORCTable.load(from: file, generation: gen))
  return try ORCDump.text(table)
}

@Suite("ORC dump text")
struct ORCDumpTests {
  @Test("6.1 layout: every register base and type in objtool 6.1's words")
  func dump61() throws {
    let text = try dump(try Fixtures.assemble("orc61.S"))
    #expect(
      text == """
        frame_func+0: sp:sp+8 bp:(und) type:call end:0
        .text+1: sp:sp+16 bp:prevsp-16 type:call end:0
        .text+4: sp:bp+16 bp:prevsp-16 type:call end:0
        .text+5: sp:dx+0 bp:di+0 type:regs end:0
        .text+6: sp:r10+160 bp:r13+8 type:regs (partial) end:0
        .text+7: sp:(sp)-32768 bp:(bp+32767) type:? end:1
        .text.unlikely+0: sp:(und) bp:(und) type:call end:1
        .text.unlikely+2: sp:?+8 bp:?+0 type:call end:0

        """)
  }

  @Test("6.12 layout: UNDEFINED, END_OF_STACK, the signal bit, in objtool 6.12's words")
  func dump612() throws {
    let text = try dump(try Fixtures.assemble("orc612.S"))
    #expect(
      text == """
        entry_func+0:type:(und) sp:(und) bp:(und) signal:0
        .text+1:type:end sp:(und) bp:(und) signal:0
        .text+2:type:call sp:sp+8 bp:(und) signal:0
        .text+3:type:regs sp:sp+168 bp:(und) signal:1
        .text+4:type:regs (partial) sp:(sp)+40 bp:(bp-8) signal:1
        .text+5:type:? sp:bp+16 bp:prevsp-16 signal:0
        .text+6:type:? sp:sp+8 bp:(und) signal:1

        """)
  }

  @Test("a forced generation reads the same bytes in the other layout")
  func forcedGeneration() throws {
    let path = try Fixtures.assemble("orc61.S")
    let as612 = try dump(path, generation: .v6_12)
    // 6.1 byte 5 = type | end<<2: the last entry (type 3, end 1) is type 7 in 6.12's 3-bit field.
    #expect(as612.split(separator: "\n")[5] == ".text+7:type:? sp:(sp)-32768 bp:(bp+32767) signal:0")
    #expect(as612.split(separator: "\n")[0] == "frame_func+0:type:(und) sp:sp+8 bp:(und) signal:0")
  }

  @Test("the fixtures' dumps are identical to the real objtool's", .enabled(if: Corpus.current != nil))
  func matchesObjtool() throws {
    let corpus = try #require(Corpus.current)
    for (fixture, objtool) in [("orc61.S", corpus.objtool61), ("orc612.S", corpus.objtool612)] {
      let path = try Fixtures.assemble(fixture)
      let real = try Fixtures.run(objtool, ["--dump=orc", path], environment: ["SRCARCH": "x86"])
      #expect(real.status == 0)
      #expect(try dump(path) == real.stdout, "\(fixture)")
    }
  }
}

@Suite("ORC entry layout")
struct ORCLayoutTests {
  @Test("encode then decode gives the entry back, in both generations", arguments: KernelGeneration.allCases)
  func roundTrip(_ generation: KernelGeneration) {
    let layout = ORCLayout.of(generation)
    let maxType: UInt8 = (1 << layout.typeBits) - 1
    for raw in 0...maxType {
      for flag in [false, true] {
        let e = ORCEntry(spOffset: -12345, bpOffset: 321, spReg: .spIndirect, bpReg: .r13, rawType: raw, flag: flag)
        let b = layout.encode(e)
        let d = layout.decode(
          spOffset: Int16(bitPattern: UInt16(b[0]) | UInt16(b[1]) << 8),
          bpOffset: Int16(bitPattern: UInt16(b[2]) | UInt16(b[3]) << 8), regs: b[4], bits: b[5])
        #expect(d == e)
      }
    }
  }

  @Test("type numbering differs: CALL is 0 in 6.1 and 2 in 6.12")
  func typeNumbers() {
    #expect(ORCLayout.of(.v6_1).rawType(.call) == 0)
    #expect(ORCLayout.of(.v6_12).rawType(.call) == 2)
    #expect(ORCLayout.of(.v6_1).rawType(.endOfStack) == nil)
    #expect(ORCLayout.of(.v6_12).frameType(1) == .endOfStack)
    #expect(ORCLayout.of(.v6_1).frameType(3) == .unknown(3))
  }
}

@Suite("Kernel generation detection")
struct GenerationTests {
  @Test("vermagic 6.1 in .modinfo gives 6.1")
  func vermagic61() throws {
    let file = try ELFFile(path: try Fixtures.assemble("orc61.S"))
    let (gen, evidence) = try #require(GenerationDetector.detect(file))
    #expect(gen == .v6_1)
    #expect(evidence == .vermagic("6.1.0-56-cloud-amd64 SMP preempt mod_unload modversions "))
  }

  @Test(".orc_header gives 6.12")
  func orcHeader() throws {
    let file = try ELFFile(path: try Fixtures.assemble("orc612.S"))
    #expect(GenerationDetector.detect(file)?.0 == .v6_12)
    #expect(GenerationDetector.detect(file)?.1 == .orcHeader)
  }

  @Test("vermagic 6.4 without .orc_header already has the new layout")
  func vermagic64() throws {
    let path = try Fixtures.assemble("v64.S", source: ".include \"orc.inc\"\nMODINFO_VERMAGIC 6.4.0-1-amd64\n")
    #expect(GenerationDetector.detect(try ELFFile(path: path))?.0 == .v6_12)
  }

  @Test("linux_banner in a kernel image")
  func banner() throws {
    let src = """
      .section .rodata, "a"
      .globl linux_banner
      .type linux_banner, @object
      linux_banner: .asciz "Linux version 6.12.117+deb12-cloud-amd64 (debian-kernel@lists.debian.org)\\n"
      .size linux_banner, . - linux_banner
      """
    let file = try ELFFile(path: try Fixtures.assemble("banner.S", source: src))
    let (gen, evidence) = try #require(GenerationDetector.detect(file))
    #expect(gen == .v6_12)
    #expect(evidence == .banner("Linux version 6.12.117+deb12-cloud-amd64 (debian-kernel@lists.debian.org)"))
  }

  @Test("an object that says nothing has no generation")
  func nothing() throws {
    let file = try ELFFile(path: try Fixtures.assemble("plain.S", source: "nop\n"))
    #expect(GenerationDetector.detect(file) == nil)
  }

  @Test(
    "versions parse to generations",
    arguments: [
      ("6.1", KernelGeneration.v6_1), ("6.12", .v6_12), ("6.3.13", .v6_1), ("6.4", .v6_12), ("5.10.0-30-amd64", .v6_1),
      ("7.0", .v6_12),
    ])
  func versions(_ text: String, _ gen: KernelGeneration) {
    #expect(KernelGeneration(versionString: text) == gen)
  }
}
