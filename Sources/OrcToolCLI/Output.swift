import ArgumentParser
import ELF

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Writes `bytes` to standard output in full.
func writeStandardOutput(_ bytes: [UInt8]) {
  bytes.withUnsafeBytes { buffer in
    var offset = 0
    while offset < buffer.count {
      let n = write(1, buffer.baseAddress! + offset, buffer.count - offset)
      if n < 0 {
        if errno == EINTR { continue }
        return
      }
      offset += n
    }
  }
}

/// Writes `bytes` to standard error in full.
func writeStandardError(_ bytes: [UInt8]) {
  bytes.withUnsafeBytes { buffer in
    var offset = 0
    while offset < buffer.count {
      let n = write(2, buffer.baseAddress! + offset, buffer.count - offset)
      if n <= 0 { return }
      offset += n
    }
  }
}

/// Prints `message` as one line on standard error, prefixed `orctool: `.
func printError(_ message: String) {
  let line = Array(("orctool: " + message + "\n").utf8)
  line.withUnsafeBytes { _ = write(2, $0.baseAddress!, $0.count) }
}

/// Runs `body`, turning a file error into one line on stderr and exit status 1.
func reportingErrors(_ body: () throws -> Void) throws {
  do {
    try body()
  } catch let error as ELFError {
    printError(error.description)
    throw ExitCode.failure
  } catch let error as CLIError {
    printError(error.description)
    throw ExitCode.failure
  }
}

/// Exits the process with `code`.
func terminate(_ code: Int32) -> Never { exit(code) }
