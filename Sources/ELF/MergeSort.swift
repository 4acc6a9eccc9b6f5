extension Array {
  /// The elements sorted by `areInIncreasingOrder`, equal ones in their original order: the
  /// result of the standard library's `sorted(by:)`, which is stable too.
  ///
  /// The one sort of the check's path. The standard library's keeps its runs in an array of
  /// `Range<Int>` through a specialisation whose type metadata the runtime resolves by name at
  /// its first use in a process, checking `Int: Comparable` by a scan of every protocol
  /// conformance in the binary (~250,000 instructions, measured with callgrind): a fifth of
  /// what checking a small module costs, paid in every one of kbuild's runs.
  @inlinable
  public func mergeSorted(by areInIncreasingOrder: (Element, Element) throws -> Bool) rethrows -> [Element] {
    var copy = self
    try copy.mergeSort(by: areInIncreasingOrder)
    return copy
  }

  /// Sorts in place by `areInIncreasingOrder`, equal elements keeping their order
  /// (``mergeSorted(by:)``): insertion sort of short runs, then bottom-up merges.
  @inlinable
  public mutating func mergeSort(by areInIncreasingOrder: (Element, Element) throws -> Bool) rethrows {
    let n = count
    guard n > 1 else { return }
    let run = 16
    try withUnsafeMutableBufferPointer { a in
      var start = 0
      while start < n {
        let end = Swift.min(start + run, n)
        var i = start + 1
        while i < end {
          let x = a[i]
          var j = i
          while j > start, try areInIncreasingOrder(x, a[j - 1]) {
            a[j] = a[j - 1]
            j -= 1
          }
          a[j] = x
          i += 1
        }
        start = end
      }
    }
    guard n > run else { return }
    var other = self
    var width = run
    // Merges runs of `width` from `source` into `target`; the sorted elements end in `self`.
    var inSelf = true
    while width < n {
      try withUnsafeMutableBufferPointer { a in
        try other.withUnsafeMutableBufferPointer { b in
          let (source, target) = inSelf ? (a, b) : (b, a)
          var low = 0
          while low < n {
            let middle = Swift.min(low + width, n)
            let high = Swift.min(low + 2 * width, n)
            var i = low
            var j = middle
            var k = low
            while i < middle && j < high {
              // Take from the right run only when strictly smaller: equal elements stay in order.
              if try areInIncreasingOrder(source[j], source[i]) {
                target[k] = source[j]
                j += 1
              } else {
                target[k] = source[i]
                i += 1
              }
              k += 1
            }
            while i < middle {
              target[k] = source[i]
              i += 1
              k += 1
            }
            while j < high {
              target[k] = source[j]
              j += 1
              k += 1
            }
            low = high
          }
        }
      }
      inSelf.toggle()
      width *= 2
    }
    if !inSelf { self = other }
  }
}

extension Sequence where Element: Comparable {
  /// The elements in increasing order (``Swift/Array/mergeSorted(by:)``).
  @inlinable
  public func mergeSorted() -> [Element] { Array(self).mergeSorted(by: <) }
}
