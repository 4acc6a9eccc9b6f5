import ELF
import Testing

/// The check's own sort against the standard library's (both stable).
@Suite("Merge sort orders as the standard library's stable sort")
struct MergeSortTests {
  /// Pairs with many equal keys, so that the order of equal elements shows.
  func pairs(_ count: Int, keys: Int, seed: UInt64) -> [(key: Int, tag: Int)] {
    var state = seed
    return (0..<count).map { tag in
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return (Int((state >> 33) % UInt64(keys)), tag)
    }
  }

  @Test("equal elements keep their order, at every length around the runs and merges")
  func stableAtEveryLength() {
    for count in [0, 1, 2, 15, 16, 17, 31, 32, 33, 64, 100, 257, 1000, 4099] {
      for keys in [1, 3, 50, 100_000] {
        let input = pairs(count, keys: keys, seed: UInt64(count * 31 + keys))
        let expected = input.sorted { $0.key < $1.key }
        let got = input.mergeSorted { $0.key < $1.key }
        #expect(got.map(\.key) == expected.map(\.key) && got.map(\.tag) == expected.map(\.tag))
        var inPlace = input
        inPlace.mergeSort { $0.key < $1.key }
        #expect(inPlace.map(\.tag) == expected.map(\.tag))
      }
    }
  }

  @Test("a sequence of comparable elements comes out in increasing order")
  func comparableSequence() {
    let set: Set<Int> = [5, 3, 99, -1, 42, 7, 0]
    #expect(set.mergeSorted() == set.sorted())
  }
}
