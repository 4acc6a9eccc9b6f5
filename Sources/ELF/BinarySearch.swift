extension RandomAccessCollection {
  /// The index of the first element for which `isInSecondPart` is true, in a
  /// collection partitioned so that every element for which it is false comes
  /// first (`endIndex` when there is none): the one binary search of the project.
  @inlinable
  public func partitioningIndex(where isInSecondPart: (Element) throws -> Bool) rethrows -> Index {
    var low = startIndex
    var count = self.count
    while count > 0 {
      let half = count / 2
      let middle = index(low, offsetBy: half)
      if try isInSecondPart(self[middle]) {
        count = half
      } else {
        low = index(after: middle)
        count -= half + 1
      }
    }
    return low
  }
}
