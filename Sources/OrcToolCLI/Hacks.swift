/// The value of objtool's `--hacks[=LIST]` (`parse_hacks()`, tools/objtool/builtin-check.c):
/// each hack is on when its name occurs anywhere in the value (objtool's `strstr()`), and
/// both are on without a value.
struct Hacks {
  /// `jump_label`: static-key jumps and NOPs rewritten to their short forms.
  var jumpLabel: Bool
  /// `noinstr`: instrumentation calls in noinstr code turned into NOPs.
  var noinstr: Bool

  init(_ value: String?) {
    jumpLabel = value.map { $0.contains("jump_label") } ?? true
    noinstr = value.map { $0.contains("noinstr") } ?? true
  }

  /// The hacks objtool's command line `arguments` ask for (every `--hacks` and `--hacks=…`).
  static func requested(in arguments: [String]) -> [Hacks] {
    arguments.compactMap { a in
      if a == "--hacks" { return Hacks(nil) }
      return a.hasPrefix("--hacks=") ? Hacks(String(a.dropFirst("--hacks=".count))) : nil
    }
  }
}
