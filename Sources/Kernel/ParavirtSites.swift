import ELF

/// One `struct paravirt_patch_site` of `.parainstructions` (6.1,
/// `arch/x86/include/asm/paravirt_types.h`): `{ u8 *instr; u8 type; u8 len; }`,
/// 16 bytes with padding. `type` is the pv_ops slot
/// (`offsetof(struct paravirt_patch_template, op) / sizeof(void *)`).
public struct ParavirtSite: Sendable, Hashable {
  public var index: Int
  public var instruction: SectionPlace
  public var type: Int
  public var length: Int

  /// The size of one entry.
  public static let size = 16
}

/// The `.parainstructions` table of a 6.1-generation file.
public struct ParavirtSites: Sendable {
  public let sites: [ParavirtSite]

  /// Reads `.parainstructions` of `file` (no sites when it has none).
  public init(file: ELFFile) throws(ELFError) {
    guard let section = file.section(named: ".parainstructions"), section.size > 0 else {
      sites = []
      return
    }
    guard section.size % UInt64(ParavirtSite.size) == 0 else {
      throw ELFError(
        .badSectionSize(section: ".parainstructions", size: section.size, entrySize: 16),
        path: file.path, offset: section.headerOffset)
    }
    let fields = try RelativeFields(file: file, section: section)
    let view = file.contents(of: section)
    var out: [ParavirtSite] = []
    // A NOBITS section has a size and no bytes: the entries are what the file holds.
    for i in 0..<(view.count / ParavirtSite.size) {
      let b = i * ParavirtSite.size
      guard let place = fields.absolutePlace(at: b, view: view) else {
        throw ELFError(
          .malformed(".parainstructions entry \(i) points nowhere"), path: file.path,
          offset: section.offset + UInt64(b))
      }
      out.append(
        ParavirtSite(
          index: i, instruction: place, type: Int(view.load(UInt8.self, at: b + 8)),
          length: Int(view.load(UInt8.self, at: b + 9))))
    }
    sites = out
  }
}
