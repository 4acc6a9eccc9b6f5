import ELF
import Foundation
import TestSupport
import Testing

@testable import Kernel

/// An object with one alternative site and `count` `.altinstructions` entries
/// in generation `alt` (61 or 612, seed000.inc's ALT_GEN), plus `extra` lines.
func altObject(_ name: String, alt: Int, count: Int = 2, extra: String = "") throws -> String {
  let entries = (0..<count).map { "ALT_ENTRY 1b, 2b, 3b, 4b, \($0 + 5)" }.joined(separator: "\n")
  return try Fixtures.assemble(
    name,
    source: """
      ALT_GEN = \(alt)
      .include "seed000.inc"
      .include "orc.inc"
      \(extra)
      .text
      f:
      1: nop
      2: ret
      .pushsection .altinstr_replacement, "ax"
      3: pause
      4:
      .popsection
      \(entries)

      """)
}

let noEnvironment: [String: String] = [:]
let kbuild612 = ["VERSION": "6", "PATCHLEVEL": "12", "SUBLEVEL": "117"]

@Suite("Generation policy: flag > kbuild environment > markers > layout > error")
struct GenerationPolicyTests {
  @Test("the flag wins over the environment, the markers and the layout")
  func flagWins() throws {
    let file = try ELFFile(path: try altObject("flag.S", alt: 612, extra: ".section .orc_header, \"a\"\n.byte 0"))
    let (gen, evidence) = try GenerationPolicy(forced: .v6_1, environment: kbuild612).resolve(file)
    #expect(gen == .v6_1 && evidence == .forced)
  }

  @Test("kbuild's VERSION/PATCHLEVEL beat the markers in the object")
  func environmentBeatsMarkers() throws {
    let file = try ELFFile(path: try altObject("env.S", alt: 61, extra: "MODINFO_VERMAGIC 6.1.0-56-cloud-amd64"))
    let (gen, evidence) = try GenerationPolicy(forced: nil, environment: kbuild612).resolve(file)
    #expect(gen == .v6_12)
    #expect(evidence == .environment("VERSION=6 PATCHLEVEL=12"))
    #expect(evidence.description == "VERSION=6 PATCHLEVEL=12 from kbuild")
    let old = try GenerationPolicy(forced: nil, environment: ["VERSION": "6", "PATCHLEVEL": "3"]).resolve(file)
    #expect(old.0 == .v6_1)
  }

  @Test("the environment counts only with both VERSION and PATCHLEVEL, both numeric")
  func environmentMustBeComplete() throws {
    let file = try ELFFile(path: try altObject("envbad.S", alt: 61, extra: "MODINFO_VERMAGIC 6.1.0-56-cloud-amd64"))
    for env in [
      ["VERSION": "6"], ["PATCHLEVEL": "12"], ["VERSION": "6", "PATCHLEVEL": "12a"],
      ["VERSION": "", "PATCHLEVEL": "12"], ["VERSION": "six", "PATCHLEVEL": "12"],
    ] {
      let (gen, evidence) = try GenerationPolicy(forced: nil, environment: env).resolve(file)
      #expect(gen == .v6_1, "\(env)")
      #expect(evidence == .vermagic("6.1.0-56-cloud-amd64 SMP preempt mod_unload modversions "), "\(env)")
    }
  }

  @Test("markers beat the layout")
  func markersBeatLayout() throws {
    let file = try ELFFile(path: try altObject("marker.S", alt: 612, extra: "MODINFO_VERMAGIC 6.1.0-56-cloud-amd64"))
    #expect(try GenerationPolicy(forced: nil, environment: noEnvironment).resolve(file).0 == .v6_1)
    let header = try ELFFile(path: try altObject("header.S", alt: 61, extra: ".section .orc_header, \"a\"\n.byte 0"))
    #expect(try GenerationPolicy(forced: nil, environment: noEnvironment).resolve(header) == (.v6_12, .orcHeader))
  }

  @Test("12-byte .altinstructions entries decide 6.1")
  func layout61() throws {
    let file = try ELFFile(path: try altObject("alt61.S", alt: 61, count: 7))
    let (gen, evidence) = try GenerationPolicy(forced: nil, environment: noEnvironment).resolve(file)
    #expect(gen == .v6_1)
    #expect(evidence == .layout(".altinstructions relocations every 12 bytes"))
  }

  @Test("14-byte .altinstructions entries decide 6.12")
  func layout612() throws {
    // Six 14-byte entries are 84 bytes, a multiple of 12 too: the relocations decide.
    let file = try ELFFile(path: try altObject("alt612.S", alt: 612, count: 6))
    let (gen, evidence) = try GenerationPolicy(forced: nil, environment: noEnvironment).resolve(file)
    #expect(gen == .v6_12)
    #expect(evidence == .layout(".altinstructions relocations every 14 bytes"))
  }

  @Test("one entry: relocations at 0 and 4 fit both, the section size decides")
  func layoutOneEntry() throws {
    let a = try ELFFile(path: try altObject("one61.S", alt: 61, count: 1))
    #expect(
      try GenerationPolicy(forced: nil, environment: noEnvironment).resolve(a)
        == (.v6_1, .layout(".altinstructions size 12, a multiple of 12 and not of 14")))
    let b = try ELFFile(path: try altObject("one612.S", alt: 612, count: 1))
    #expect(try GenerationPolicy(forced: nil, environment: noEnvironment).resolve(b).0 == .v6_12)
  }

  @Test("a linked image: the .altinstructions size decides when it is a multiple of only one")
  func layoutLinked() throws {
    let dir = try Fixtures.temporaryDirectory()
    for (alt, count, expected) in [(61, 2, KernelGeneration.v6_1), (612, 2, .v6_12)] {
      let exe = dir.appendingPathComponent("alt\(alt)").path
      let link = try Fixtures.run(
        "ld",
        [
          "-e", "0", "-Ttext=0x401000", "-o", exe,
          try altObject("linked\(alt).S", alt: alt, count: count),
        ])
      #expect(link.status == 0, "\(link.stderr)")
      let policy = GenerationPolicy(forced: nil, environment: noEnvironment)
      let (gen, evidence) = try policy.resolve(try ELFFile(path: exe))
      #expect(gen == expected)
      guard case .layout(let words) = evidence else {
        Issue.record("not decided by the layout: \(evidence)")
        continue
      }
      #expect(words.hasPrefix(".altinstructions size \(count * (alt == 61 ? 12 : 14))"))
    }
  }

  @Test("an object with no evidence is one clear error at offset 0")
  func noEvidence() throws {
    let file = try ELFFile(path: try Fixtures.assemble("bare.S", source: ".text\nf: ret\n"))
    #expect(GenerationPolicy(forced: nil, environment: noEnvironment).decide(file) == nil)
    #expect(throws: ELFError(.unknownGeneration, path: file.path, offset: 0)) {
      try GenerationPolicy(forced: nil, environment: noEnvironment).resolve(file)
    }
    let message = ELFError(.unknownGeneration, path: file.path, offset: 0).message
    #expect(message.hasPrefix("cannot tell the kernel generation (no --generation, no VERSION/PATCHLEVEL from kbuild"))
    #expect(message.hasSuffix("use --generation 6.1 or 6.12"))
  }

  @Test("a layout that fits neither generation decides nothing")
  func layoutFitsNeither() throws {
    // 24 bytes (a multiple of 12 only) but a relocation at 14: neither layout.
    let path = try Fixtures.assemble(
      "neither.S",
      source: """
        .text
        f: nop
        .section .altinstructions, "a"
        .long f - .
        .skip 10
        .long f - .
        .skip 6
        """)
    #expect(GenerationPolicy(forced: nil, environment: noEnvironment).decide(try ELFFile(path: path)) == nil)
  }

  @Test("the layout of real modules agrees with their vermagic", .enabled(if: Corpus.current != nil))
  func corpusLayout() throws {
    let corpus = try #require(Corpus.current)
    var decided = 0
    for (dir, expected) in [(corpus.modules61, KernelGeneration.v6_1), (corpus.modules612, .v6_12)] {
      for path in Corpus.sample(Corpus.modules(under: dir), count: 150) {
        let file = try ELFFile(path: path)
        #expect(GenerationDetector.detect(file)?.0 == expected, "\(path)")
        guard let alt = file.section(named: ".altinstructions"), alt.size > 0 else { continue }
        // Every module with alternatives tells its generation by their layout alone.
        #expect(GenerationPolicy.layoutEvidence(file)?.0 == expected, "\(path)")
        decided += 1
      }
    }
    #expect(decided > 10)
  }
}
