#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The bytes of one input file: a read-only memory map, or (for tests and
/// in-memory inputs) an owned copy. Sections are views into it; it lives as
/// long as any ``ELFFile`` that reads it.
public final class MappedFile: @unchecked Sendable {
  /// The file's bytes. Valid for the lifetime of this object.
  public let bytes: UnsafeRawBufferPointer
  /// The path the bytes came from (or a label for in-memory bytes).
  public let path: String
  private let isMapped: Bool

  /// Maps `path` read-only.
  public init(path: String) throws(ELFError) {
    self.path = path
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 {
      throw ELFError(.io(String(cString: strerror(errno))), path: path, offset: 0)
    }
    defer { close(fd) }
    var st = stat()
    if fstat(fd, &st) != 0 {
      throw ELFError(.io(String(cString: strerror(errno))), path: path, offset: 0)
    }
    if (st.st_mode & S_IFMT) == S_IFDIR {
      throw ELFError(.io("is a directory"), path: path, offset: 0)
    }
    let size = Int(st.st_size)
    if size == 0 {
      bytes = UnsafeRawBufferPointer(start: nil, count: 0)
      isMapped = false
      return
    }
    guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
      throw ELFError(.io("mmap: " + String(cString: strerror(errno))), path: path, offset: 0)
    }
    bytes = UnsafeRawBufferPointer(start: base, count: size)
    isMapped = true
  }

  /// Copies `data` into memory owned by this object; `path` labels errors.
  public init(copying data: some Collection<UInt8>, path: String) {
    self.path = path
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(data.count, 1), alignment: 16)
    _ = buffer.initializeMemory(as: UInt8.self, from: data)
    bytes = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<data.count])
    isMapped = false
  }

  deinit {
    guard let base = bytes.baseAddress else { return }
    if isMapped {
      munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
    } else {
      UnsafeMutableRawPointer(mutating: base).deallocate()
    }
  }
}
