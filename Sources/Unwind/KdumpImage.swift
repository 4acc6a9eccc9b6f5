import ELF

/// The bytes of a kdump-compressed dump at the offsets its header and page
/// descriptors give ("logical" offsets): the file itself, or the records of
/// makedumpfile's flattened format (what `makedumpfile -F` and QEMU 7.2's
/// `kdump-*` formats write: a 4 KiB header `makedumpfile`, then records of
/// big-endian `offset`, `size` and `size` bytes, ended by an offset of -1),
/// which `makedumpfile -R` would write out at their offsets. Read in place:
/// a record written later wins where records overlap, a byte no record wrote
/// is absent.
struct KdumpImage {
  /// `size` bytes at logical `logical` are at `file` in the file.
  struct Extent {
    var logical: UInt64
    var size: UInt64
    var file: UInt64
    var end: UInt64 { logical + size }
  }

  let source: MappedFile
  /// Sorted by `logical`, not overlapping.
  let extents: [Extent]
  /// The end of the last extent.
  let size: UInt64
  let isFlattened: Bool
  /// Where a flattened stream stops without its end record (a stream cut short), else nil.
  let cutShortAt: UInt64?

  /// The size of makedumpfile's flattened-format header (`MAX_SIZE_MDF_HEADER`).
  static let flattenedHeaderSize = 4096

  /// The plain format: the file as it is.
  init(plain source: MappedFile) {
    self.source = source
    let count = UInt64(source.bytes.count)
    extents = count > 0 ? [Extent(logical: 0, size: count, file: 0)] : []
    size = count
    isFlattened = false
    cutShortAt = nil
  }

  /// The flattened format: every record indexed. A record header that runs
  /// past the end of the file, or a record cut short, ends the stream (a
  /// stream cut short: ``cutShortAt``); a negative offset or size, or one
  /// that overflows, is an error at the record.
  init(flattened source: MappedFile) throws(ELFError) {
    self.source = source
    isFlattened = true
    let path = source.path
    let file = ByteView(source.bytes, fileOffset: 0)
    guard file.count >= Self.flattenedHeaderSize else {
      throw ELFError(
        .truncated(
          what: "the flattened-format header", needed: UInt64(Self.flattenedHeaderSize), size: UInt64(file.count)),
        path: path, offset: 0)
    }
    let type = Int64(bigEndian: file.load(Int64.self, at: 16))
    let version = Int64(bigEndian: file.load(Int64.self, at: 24))
    guard type == 1 else {
      throw ELFError(.malformed("flattened-format type \(type) (expected 1)"), path: path, offset: 16)
    }
    guard version == 1 else {
      throw ELFError(.malformed("flattened-format version \(version) (expected 1)"), path: path, offset: 24)
    }
    // (logical start, logical end, file offset), in stream order.
    var records: [(start: UInt64, end: UInt64, file: UInt64)] = []
    var at = Self.flattenedHeaderSize
    var cut: UInt64? = nil
    while true {
      guard at <= file.count - 16 else {
        cut = UInt64(at)
        break
      }
      let offset = Int64(bigEndian: file.load(Int64.self, at: at))
      let size = Int64(bigEndian: file.load(Int64.self, at: at + 8))
      if offset == -1 { break }  // END_FLAG_FLAT_HEADER
      guard offset >= 0, size >= 0 else {
        throw ELFError(
          .malformed("flattened-format record with offset \(offset) and size \(size)"), path: path,
          offset: UInt64(at))
      }
      let data = at + 16
      let present = min(UInt64(size), UInt64(file.count - data))
      let (end, overflow) = UInt64(offset).addingReportingOverflow(present)
      guard !overflow else {
        throw ELFError(
          .malformed("flattened-format record at offset 0x\(String(offset, radix: 16)) overflows"), path: path,
          offset: UInt64(at))
      }
      if present > 0 { records.append((UInt64(offset), end, UInt64(data))) }
      guard present == UInt64(size) else {
        cut = UInt64(file.count)
        break
      }
      at = data + Int(size)
    }
    cutShortAt = cut
    extents = Self.resolve(records)
    size = extents.last?.end ?? 0
  }

  /// Non-overlapping extents from records in stream order, a later record winning where they overlap.
  static func resolve(_ records: [(start: UInt64, end: UInt64, file: UInt64)]) -> [Extent] {
    let order = records.indices.sorted { (records[$0].start, $0) < (records[$1].start, $1) }
    if zip(order, order.dropFirst()).allSatisfy({ records[$0].end <= records[$1].start }) {
      return order.map {
        Extent(logical: records[$0].start, size: records[$0].end - records[$0].start, file: records[$0].file)
      }
    }
    // Overlaps: a sweep over every boundary, the active record with the highest index winning.
    let boundaries = Array(Set(records.flatMap { [$0.start, $0.end] })).sorted()
    var heap = MaxHeap()
    var next = 0
    var out: [Extent] = []
    for (k, x) in boundaries.dropLast().enumerated() {
      while next < order.count && records[order[next]].start <= x {
        heap.push(order[next])
        next += 1
      }
      while let top = heap.top, records[top].end <= x { heap.pop() }
      guard let winner = heap.top else { continue }
      let r = records[winner]
      let piece = Extent(logical: x, size: boundaries[k + 1] - x, file: r.file + (x - r.start))
      if let last = out.last, last.end == piece.logical, last.file + last.size == piece.file {
        out[out.count - 1].size += piece.size
      } else {
        out.append(piece)
      }
    }
    return out
  }

  /// The index of the extent that holds logical `offset`.
  func extent(containing offset: UInt64) -> Int? {
    let i = extents.partitioningIndex { $0.logical > offset }
    guard i > 0, offset < extents[i - 1].end else { return nil }
    return i - 1
  }

  /// `count` bytes at logical `offset` in place, when one extent holds them all.
  func view(_ offset: UInt64, _ count: Int) -> ByteView? {
    guard count >= 0, let i = extent(containing: offset) else { return nil }
    let e = extents[i]
    guard UInt64(count) <= e.end - offset else { return nil }
    return ByteView(source.bytes, fileOffset: 0).slice(Int(e.file + (offset - e.logical)), count)
  }

  /// Whether every byte of logical `offset ..< offset + count` is present.
  func covers(_ offset: UInt64, _ count: UInt64) -> Bool {
    let (end, overflow) = offset.addingReportingOverflow(count)
    guard !overflow else { return false }
    guard count > 0 else { return true }
    guard var i = extent(containing: offset) else { return false }
    while extents[i].end < end {
      guard i + 1 < extents.count, extents[i + 1].logical == extents[i].end else { return false }
      i += 1
    }
    return true
  }

  /// A copy of logical `offset ..< offset + count`, or nil when a byte of it is absent.
  func bytes(_ offset: UInt64, _ count: Int) -> [UInt8]? {
    guard count >= 0, covers(offset, UInt64(count)) else { return nil }
    if let v = view(offset, count) { return Array(v.bytes) }
    var out: [UInt8] = []
    out.reserveCapacity(count)
    var at = offset
    while out.count < count, let i = extent(containing: at) {
      let e = extents[i]
      let n = Int(min(UInt64(count - out.count), e.end - at))
      out += ByteView(source.bytes, fileOffset: 0).slice(Int(e.file + (at - e.logical)), n)!.bytes
      at += UInt64(n)
    }
    return out
  }

  /// Calls `body` with logical `offset ..< offset + count`: in place when one
  /// extent holds it, else a copy (whose `fileOffset` is the logical offset);
  /// nil when a byte of it is absent.
  func withView<R, E: Error>(_ offset: UInt64, _ count: Int, _ body: (ByteView) throws(E) -> R) throws(E) -> R? {
    if let v = view(offset, count) { return try body(v) }
    guard let copy = bytes(offset, count) else { return nil }
    var result: Result<R, E>? = nil
    copy.withUnsafeBytes { raw in result = Result { () throws(E) -> R in try body(ByteView(raw, fileOffset: offset)) } }
    return try result!.get()
  }

  /// The file offset of logical `offset` for messages: where its byte is, or
  /// (absent, or past the end) the logical offset itself.
  func fileOffset(_ offset: UInt64) -> UInt64 {
    guard let i = extent(containing: offset) else { return offset }
    return extents[i].file + (offset - extents[i].logical)
  }
}

/// A binary max-heap of record indices (the sweep of ``KdumpImage/resolve(_:)``).
private struct MaxHeap {
  var items: [Int] = []
  var top: Int? { items.first }

  mutating func push(_ v: Int) {
    items.append(v)
    var i = items.count - 1
    while i > 0 && items[(i - 1) / 2] < items[i] {
      items.swapAt(i, (i - 1) / 2)
      i = (i - 1) / 2
    }
  }

  mutating func pop() {
    items.swapAt(0, items.count - 1)
    items.removeLast()
    var i = 0
    while true {
      let l = 2 * i + 1
      let r = l + 1
      var m = i
      if l < items.count && items[l] > items[m] { m = l }
      if r < items.count && items[r] > items[m] { m = r }
      if m == i { return }
      items.swapAt(i, m)
      i = m
    }
  }
}
