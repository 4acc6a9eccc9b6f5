import Kernel
import Testing

@Suite("CPU feature names per generation")
struct CPUFeatureTests {
  @Test("9*32+9 is X86_FEATURE_ERMS in both generations")
  func erms() {
    let erms = CPUFeature(word: 9, bit: 9)
    #expect(erms.rawValue == 297 && erms.description == "9*32+9")
    #expect(erms.name(in: .v6_1) == "X86_FEATURE_ERMS")
    #expect(erms.name(in: .v6_12) == "X86_FEATURE_ERMS")
  }

  @Test("names round-trip, with or without the prefix, in any case")
  func roundTrip() throws {
    for g in KernelGeneration.allCases {
      for n in [0, 297, 3 * 32 + 18, 11 * 32 + 12] {
        guard let name = CPUFeature(rawValue: n).name(in: g) else { continue }
        #expect(CPUFeature(name: name, generation: g)?.rawValue == n)
        let bare = String(name.dropFirst("X86_FEATURE_".count)).lowercased()
        #expect(CPUFeature(name: bare, generation: g)?.rawValue == n)
      }
    }
    #expect(CPUFeature(name: "erms", generation: .v6_1) == CPUFeature(word: 9, bit: 9))
    #expect(CPUFeature(name: "X86_FEATURE_XENPV", generation: .v6_1) == CPUFeature(word: 8, bit: 16))
    #expect(CPUFeature(name: "NO_SUCH_FEATURE", generation: .v6_12) == nil)
  }

  @Test("X86_BUG_* are NCAPINTS*32 + bit")
  func bugs() throws {
    let spectre = try #require(CPUFeature(name: "X86_BUG_SPECTRE_V2", generation: .v6_1))
    #expect(spectre.rawValue == 22 * 32 + 16)
    #expect(spectre.isBug(in: .v6_1) && !CPUFeature(word: 9, bit: 9).isBug(in: .v6_1))
    #expect(CPUFeature(name: "X86_BUG_SRSO", generation: .v6_12)?.rawValue == 23 * 32 + 0)
    #expect(CPUFeature(rawValue: 23 * 32 + 0).name(in: .v6_12) == "X86_BUG_SRSO")
    // A bare name is a feature first: X86_FEATURE_SRSO (11*32+24) is not X86_BUG_SRSO.
    #expect(CPUFeature(name: "srso", generation: .v6_12) == CPUFeature(word: 11, bit: 24))
    #expect(CPUFeature(name: "gds", generation: .v6_1) == CPUFeature(name: "X86_BUG_GDS", generation: .v6_1))
  }
}
