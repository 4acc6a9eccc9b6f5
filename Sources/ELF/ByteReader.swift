/// Little-endian loads from a bounds-checked byte range.
///
/// Bounds are checked once, where a structure's range is validated; the
/// loads themselves are unaligned and do not copy.
public struct ByteView: @unchecked Sendable {  // a view into an immutable mapping
  /// The bytes (a view into a ``MappedFile``).
  public let bytes: UnsafeRawBufferPointer
  /// The file offset of `bytes[0]`, for error messages.
  public let fileOffset: UInt64

  /// A view of `bytes`, which starts at `fileOffset` in its file.
  public init(_ bytes: UnsafeRawBufferPointer, fileOffset: UInt64) {
    self.bytes = bytes
    self.fileOffset = fileOffset
  }

  /// The number of bytes.
  @inlinable public var count: Int { bytes.count }

  /// Loads a little-endian integer at `offset`; the caller has checked the range.
  @inlinable @inline(__always)
  public func load<T: FixedWidthInteger>(_: T.Type = T.self, at offset: Int) -> T {
    precondition(offset >= 0 && offset + MemoryLayout<T>.size <= bytes.count)
    return T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
  }

  /// The sub-view `offset ..< offset + count`, or nil when it is out of range.
  @inlinable
  public func slice(_ offset: Int, _ count: Int) -> ByteView? {
    guard offset >= 0, count >= 0, offset <= bytes.count, count <= bytes.count - offset else {
      return nil
    }
    return ByteView(
      UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count]),
      fileOffset: fileOffset + UInt64(offset))
  }
}
