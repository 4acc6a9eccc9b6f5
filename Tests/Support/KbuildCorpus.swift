import Foundation

/// The per-object corpus a kernel build recorded (`scripts/kbuild.sh`): each object
/// as it was before objtool ran, the arguments kbuild gave objtool, and objtool
/// 6.1's warnings. `~/.cache/orctool/kbuild/6.1` (or `ORCTOOL_KBUILD_DIR`).
public struct KbuildCorpus: Sendable {
  /// The recording's directory.
  public var directory: String
  /// Each recorded object (its path in the kernel tree) and objtool's arguments for it.
  public var arguments: [String: [String]]
  /// The variables kbuild exports to objtool (`VERSION`, `PATCHLEVEL`, …).
  public var environment: [String: String]

  /// The recording, or nil when there is none.
  public static let current: KbuildCorpus? = {
    let env = ProcessInfo.processInfo.environment
    let dir =
      env["ORCTOOL_KBUILD_DIR"]
      ?? ((env["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")) + "/orctool/kbuild/6.1")
    guard let manifest = try? String(contentsOfFile: dir + "/manifest", encoding: .utf8) else { return nil }
    var arguments: [String: [String]] = [:]
    for line in manifest.split(separator: "\n") {
      let words = line.split(separator: " ").map(String.init)
      guard let path = words.first, path != "-" else { continue }
      arguments[path] = Array(words.dropFirst())
    }
    var environment: [String: String] = [:]
    if let text = try? String(contentsOfFile: dir + "/objtool.env", encoding: .utf8) {
      for line in text.split(separator: "\n") {
        let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
        if parts.count == 2 { environment[parts[0]] = parts[1] }
      }
    }
    return KbuildCorpus(directory: dir, arguments: arguments, environment: environment)
  }()

  /// The recorded input of `path` (the object before objtool ran), if it was recorded.
  public func object(_ path: String) -> String? {
    let file = directory + "/objects/" + path
    return arguments[path] != nil && FileManager.default.fileExists(atPath: file) ? file : nil
  }
}
