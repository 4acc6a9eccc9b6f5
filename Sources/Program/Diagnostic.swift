import Kernel

/// One finding of the tool, as a value: what kind, where, objtool's words, and
/// the places that explain it. The command line renders it as objtool's text
/// (``objtoolText``) or as JSON; nothing parses the text back.
public struct Diagnostic: Sendable, Hashable, Codable {
  /// How serious it is.
  public enum Kind: String, Sendable, Hashable, Codable {
    /// objtool warns and goes on (its `WARN_FUNC()`).
    case warning
    /// objtool stops on the file.
    case error
  }

  /// A place in the code, with objtool's `offstr()` text for it.
  public struct Place: Sendable, Hashable, Codable {
    public var section: Int
    public var offset: UInt64
    /// `func+0xoff` or `section+0xoff`.
    public var text: String
    public init(section: Int, offset: UInt64, text: String) {
      self.section = section
      self.offset = offset
      self.text = text
    }
  }

  /// Another place that belongs to the finding (the other stream of a conflict, say).
  public struct Related: Sendable, Hashable, Codable {
    /// What the place is to the finding.
    public var role: String
    public var place: Place
    /// The stack state there, as ORC prints it, when it matters (the two sides of a conflict).
    public var cfi: String?
    /// The stack-changing instructions that made that state (the other stream of a conflict).
    public var changes: [PathStep.StackChange]
    public init(role: String, place: Place, cfi: String? = nil, changes: [PathStep.StackChange] = []) {
      self.role = role
      self.place = place
      self.cfi = cfi
      self.changes = changes
    }
  }

  /// One stretch of the path validation followed to the finding: how it was
  /// entered, where it starts, the instruction of the previous stretch that led
  /// here, and the stack state after each stack-changing instruction of the stretch.
  public struct PathStep: Sendable, Hashable, Codable {
    /// The CFI after one stack-changing instruction.
    public struct StackChange: Sendable, Hashable, Codable {
      public var place: Place
      /// The instruction in AT&T syntax.
      public var instruction: String
      /// The state after it, as ORC prints it (`sp:sp+16 bp:(und)`).
      public var cfi: String
      public init(place: Place, instruction: String, cfi: String) {
        self.place = place
        self.instruction = instruction
        self.cfi = cfi
      }
    }
    public var kind: PathKind
    public var place: Place
    /// The branch, site or fixup instruction that led here (nil for the first stretch).
    public var from: Place?
    /// The state the stretch starts with.
    public var cfi: String
    public var changes: [StackChange]
    /// Why the path ends here (`pathEnds`, `noEntry` steps): `ret`, the jump's target, the noreturn callee.
    public var note: String?
    public init(kind: PathKind, place: Place, from: Place?, cfi: String, changes: [StackChange], note: String? = nil) {
      self.kind = kind
      self.place = place
      self.from = from
      self.cfi = cfi
      self.changes = changes
      self.note = note
    }
  }

  public var kind: Kind
  /// The instruction it is about; nil for findings about a whole function or section.
  public var place: Place?
  /// objtool's words, without the place.
  public var message: String
  /// Places that explain it.
  public var related: [Related]
  /// The path that led to it (empty unless paths were recorded, or for findings off any path).
  public var path: [PathStep] = []

  public init(_ kind: Kind = .warning, place: Place?, message: String, related: [Related] = []) {
    self.kind = kind
    self.place = place
    self.message = message
    self.related = related
  }

  /// objtool's text after `FILE: warning: objtool: ` (`func+0xoff: message`).
  public var objtoolText: String { place.map { "\($0.text): \(message)" } ?? message }
}

extension Program {
  /// The diagnostic place of `place`.
  public func diagnosticPlace(_ place: SectionPlace) -> Diagnostic.Place {
    Diagnostic.Place(section: place.section, offset: place.offset, text: offstr(place))
  }
}
