extension String {
  /// The index where the ASCII `needle` first occurs in the name, by a byte
  /// search: `firstRange(of:)` costs thousands of instructions a call, and the
  /// passes ask it of every function symbol (`.cold`, `.part.`).
  func firstIndex(ofASCII needle: StaticString) -> String.Index? {
    let n = needle.utf8CodeUnitCount
    let pattern = UnsafeBufferPointer(start: needle.utf8Start, count: n)
    let utf8 = self.utf8
    let found: Int?? = utf8.withContiguousStorageIfAvailable { bytes -> Int? in
      guard bytes.count >= n, n > 0 else { return n == 0 ? 0 : nil }
      var k = 0
      while k + n <= bytes.count {
        if bytes[k] == pattern[0] {
          var j = 1
          while j < n && bytes[k + j] == pattern[j] { j += 1 }
          if j == n { return k }
        }
        k += 1
      }
      return nil
    }
    if let found {
      return found.map { utf8.index(utf8.startIndex, offsetBy: $0) }
    }
    // A string without contiguous UTF-8 (bridged): search a copy.
    var copy = self
    copy.makeContiguousUTF8()
    return copy.firstIndex(ofASCII: needle).map { copy.utf8.distance(from: copy.utf8.startIndex, to: $0) }
      .map { utf8.index(utf8.startIndex, offsetBy: $0) }
  }

  /// Whether the ASCII `needle` occurs in the name (a byte search).
  public func contains(ascii needle: StaticString) -> Bool { firstIndex(ofASCII: needle) != nil }

  /// The name before the first occurrence of `needle`, if it occurs.
  func prefix(beforeASCII needle: StaticString) -> String? {
    firstIndex(ofASCII: needle).map { String(self[..<$0]) }
  }
}
