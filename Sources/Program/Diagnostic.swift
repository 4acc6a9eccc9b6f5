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
    public init(role: String, place: Place) {
      self.role = role
      self.place = place
    }
  }

  public var kind: Kind
  /// The instruction it is about; nil for findings about a whole function or section.
  public var place: Place?
  /// objtool's words, without the place.
  public var message: String
  /// Places that explain it.
  public var related: [Related]

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
