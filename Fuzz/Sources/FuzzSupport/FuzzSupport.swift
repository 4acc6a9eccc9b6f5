import ELF

#if canImport(Glibc)
  import Glibc
#endif

/// glibc's `memfd_create` (since 2.27), which the Glibc module does not export.
@_silgen_name("memfd_create")
func c_memfd_create(_ name: UnsafePointer<CChar>, _ flags: UInt32) -> Int32

/// The fuzzer's input as a file the readers take: an owned copy labelled "fuzz".
public func fuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> MappedFile {
  MappedFile(copying: UnsafeBufferPointer(start: data, count: size), path: "fuzz")
}

/// For readers that only open paths (`CoreDump(path:)`): the input in an
/// in-memory file (`memfd_create`, made once per process), reached as
/// `/proc/self/fd/N`, so nothing touches the disk.
public final class MemoryFile: @unchecked Sendable {
  public let fd: Int32
  public let path: String

  public init(name: String) {
    fd = c_memfd_create(name, 0)
    precondition(fd >= 0, "memfd_create failed")
    path = "/proc/self/fd/\(fd)"
  }

  /// Replaces the file's contents with `size` bytes at `data`.
  public func set(_ data: UnsafePointer<UInt8>, _ size: Int) {
    _ = ftruncate(fd, 0)
    var written = 0
    while written < size {
      let n = pwrite(fd, data + written, size - written, off_t(written))
      precondition(n > 0, "pwrite to the memfd failed")
      written += n
    }
  }
}

/// A little-endian UInt64 read from `data` at `offset`, 0 beyond the end (for
/// targets that take extra parameters from the input's tail).
public func tailWord(_ data: UnsafePointer<UInt8>, _ size: Int, _ k: Int) -> UInt64 {
  let offset = size - 8 * (k + 1)
  guard offset >= 0 else { return 0 }
  var v: UInt64 = 0
  for b in 0..<8 { v |= UInt64(data[offset + b]) << (8 * UInt64(b)) }
  return v
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
  _ argc: UnsafeMutablePointer<Int32>,
  _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
  _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32

/// Runs libFuzzer's driver over `test`: each target's entry point (SwiftPM's
/// `TARGET_main`) calls this, so the fuzzer runs whether or not libFuzzer's own
/// `main` is linked.
public func runFuzzer(
  _ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
  _ test: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32 {
  var argc = argc
  var argv = argv
  return LLVMFuzzerRunDriver(&argc, &argv, test)
}
