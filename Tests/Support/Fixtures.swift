import Foundation

/// Builds test inputs from the assembly sources in `Fixtures/` with GNU `as`,
/// and runs the real tools the tests compare against.
public enum Fixtures {
  /// The repository root (found from this file's path).
  public static let root: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  /// A fresh temporary directory.
  public static func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("orctool-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  /// Assembles `Fixtures/NAME` (or `source` text) with GNU `as` and returns the object's path.
  public static func assemble(_ name: String, source: String? = nil, arch: String = "x86_64") throws -> String {
    let dir = try temporaryDirectory()
    let src: URL
    if let source {
      src = dir.appendingPathComponent(name)
      try source.write(to: src, atomically: true, encoding: .utf8)
    } else {
      src = root.appendingPathComponent("Fixtures").appendingPathComponent(name)
    }
    let out = dir.appendingPathComponent((name as NSString).deletingPathExtension + ".o").path
    let assembler = arch == "aarch64" ? "aarch64-linux-gnu-as" : "as"
    let r = try run(assembler, ["-I", root.appendingPathComponent("Fixtures").path, "-o", out, src.path])
    guard r.status == 0 else { throw FixtureError("as \(name) failed: \(r.stderr)") }
    return out
  }

  /// The result of running a program.
  public struct RunResult: Sendable {
    /// The exit status, or the signal number when `signaled`.
    public var status: Int32
    /// Whether a signal ended the program (a Swift trap is SIGILL or SIGTRAP) rather than `exit`.
    public var signaled: Bool
    /// Wall-clock seconds from start to exit.
    public var seconds: Double
    /// Whether the program was still running after the `timeout` given to `run` and was killed (SIGKILL).
    public var timedOut: Bool
    public var stdout: String
    public var stderr: String
    public var stdoutData: Data
  }

  /// Runs `program` (looked up on PATH unless it contains a slash) with `arguments`;
  /// after `timeout` seconds, if given, the program is killed and the result says so.
  public static func run(
    _ program: String, _ arguments: [String], environment: [String: String] = [:],
    timeout: Double? = nil
  ) throws -> RunResult {
    let p = Process()
    if program.contains("/") {
      p.executableURL = URL(fileURLWithPath: program)
      p.arguments = arguments
    } else {
      p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      p.arguments = [program] + arguments
    }
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    p.environment = env
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    let start = Date()
    try p.run()
    let pid = p.processIdentifier
    nonisolated(unsafe) var timedOut = false
    let killer = DispatchWorkItem {
      timedOut = true
      kill(pid, SIGKILL)
    }
    if let timeout { DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer) }
    // Read both pipes concurrently so neither fills and blocks the child.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
      errData = err.fileHandleForReading.readDataToEndOfFile()
      group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    p.waitUntilExit()
    killer.cancel()
    return RunResult(
      status: p.terminationStatus, signaled: p.terminationReason == .uncaughtSignal,
      seconds: Date().timeIntervalSince(start), timedOut: timedOut,
      stdout: String(decoding: outData, as: UTF8.self),
      stderr: String(decoding: errData, as: UTF8.self), stdoutData: outData)
  }

  /// The built `orctool` executable (`ORCTOOL_BIN`, else beside the test bundle, else `.build/debug`).
  public static var orctool: String {
    if let bin = ProcessInfo.processInfo.environment["ORCTOOL_BIN"] { return bin }
    let bundleDir = Bundle.main.bundleURL.deletingLastPathComponent()
    for dir in [bundleDir, Bundle.main.bundleURL, root.appendingPathComponent(".build/debug")] {
      let candidate = dir.appendingPathComponent("orctool").path
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return root.appendingPathComponent(".build/debug/orctool").path
  }
}

/// The paths of the real corpus, from `scripts/corpus.sh`'s `corpus.env`.
public struct Corpus: Sendable {
  public var modules61: String
  public var modules612: String
  public var objtool61: String
  public var objtool612: String
  public var vmlinux61: String?
  /// The 6.12 -dbg vmlinux (`scripts/corpus.sh --dbg612`), when fetched.
  public var vmlinux612: String? = nil

  /// Whether the tests must have the corpus (`make test` sets `ORCTOOL_REQUIRE_CORPUS=1`).
  public static var required: Bool { ProcessInfo.processInfo.environment["ORCTOOL_REQUIRE_CORPUS"] == "1" }

  /// The corpus fetched by `scripts/corpus.sh`, or nil when it has not been fetched.
  public static let current: Corpus? = {
    let env = ProcessInfo.processInfo.environment
    let cache =
      env["ORCTOOL_CORPUS"]
      ?? ((env["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")) + "/orctool/corpus")
    guard let text = try? String(contentsOfFile: cache + "/corpus.env", encoding: .utf8) else { return nil }
    var values: [String: String] = [:]
    for line in text.split(separator: "\n") {
      let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
      if parts.count == 2 { values[parts[0]] = parts[1] }
    }
    guard let m61 = values["MODULES61"], let m612 = values["MODULES612"],
      let o61 = values["OBJTOOL61"], let o612 = values["OBJTOOL612"]
    else { return nil }
    let vm = values["VMLINUX61"].flatMap { $0.isEmpty ? nil : $0 }
    var corpus = Corpus(modules61: m61, modules612: m612, objtool61: o61, objtool612: o612, vmlinux61: vm)
    corpus.vmlinux612 = values["VMLINUX612"].flatMap { $0.isEmpty ? nil : $0 }
    return corpus
  }()

  /// Every `.ko` under `directory`, sorted.
  public static func modules(under directory: String) -> [String] {
    guard let e = FileManager.default.enumerator(atPath: directory) else { return [] }
    var out: [String] = []
    while let p = e.nextObject() as? String {
      if p.hasSuffix(".ko") { out.append(directory + "/" + p) }
    }
    return out.sorted()
  }

  /// `count` files spread evenly over `files` (always the same ones).
  public static func sample(_ files: [String], count: Int) -> [String] {
    guard files.count > count else { return files }
    return (0..<count).map { files[$0 * files.count / count] }
  }
}

/// A fixture could not be built.
public struct FixtureError: Error, CustomStringConvertible {
  public var description: String
  public init(_ d: String) { description = d }
}
