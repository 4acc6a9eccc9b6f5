#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A string table section (`SHT_STRTAB`): NUL-terminated strings by byte index.
public struct StringTable: Sendable {
  let view: ByteView
  let path: String
  /// Keeps the bytes `view` points into alive.
  let owner: MappedFile?

  /// The table over `view`; `path` labels errors; `owner` holds the bytes.
  public init(view: ByteView, path: String, owner: MappedFile? = nil) {
    self.view = view
    self.path = path
    self.owner = owner
  }

  /// The size of the table in bytes.
  public var size: Int { view.count }

  /// The bytes of the string at `index`, without its NUL.
  public func bytes(at index: UInt64) throws(ELFError) -> UnsafeRawBufferPointer {
    guard index < UInt64(view.count) else {
      throw ELFError(
        .badStringIndex(index: index, tableSize: UInt64(view.count)),
        path: path, offset: view.fileOffset)
    }
    let start = Int(index)
    // memchr: a name lookup per symbol, and the generic search went byte by byte.
    guard let base = view.bytes.baseAddress, let nul = memchr(base + start, 0, view.count - start) else {
      throw ELFError(
        .unterminatedString(index: index), path: path,
        offset: view.fileOffset + index)
    }
    return UnsafeRawBufferPointer(start: base + start, count: UnsafeRawPointer(nul) - (base + start))
  }

  /// The string at `index`, decoded as UTF-8 (invalid bytes repaired).
  public func string(at index: UInt64) throws(ELFError) -> String {
    String(decoding: try bytes(at: index), as: UTF8.self)
  }
}
