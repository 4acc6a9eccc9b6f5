import ELF

/// One `struct paravirt_patch_site` of `.parainstructions` (6.1,
/// `arch/x86/include/asm/paravirt_types.h`): `{ u8 *instr; u8 type; u8 len; }`,
/// 16 bytes with padding. `type` is the pv_ops slot
/// (`offsetof(struct paravirt_patch_template, op) / sizeof(void *)`). The assembler
/// macro `_paravirt_alt()` still writes the site's clobbers as a `.short` after `len`
/// (byte 10), which the struct no longer names: `CLBR_*` bits of the registers the site
/// lets its code change.
public struct ParavirtSite: Sendable, Hashable {
  public var index: Int
  public var instruction: SectionPlace
  public var type: Int
  public var length: Int
  /// The `.short` after `len`: `CLBR_*` bits (``ParavirtClobbers``).
  public var clobbers: ParavirtClobbers

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
          length: Int(view.load(UInt8.self, at: b + 9)),
          clobbers: ParavirtClobbers(rawValue: view.load(UInt16.self, at: b + 10))))
    }
    sites = out
  }
}

/// The `CLBR_*` bits of a 6.1 paravirt site (`arch/x86/include/asm/paravirt_types.h`,
/// x86-64): the registers the site's code may change.
public struct ParavirtClobbers: OptionSet, Hashable, Sendable {
  public var rawValue: UInt16
  public init(rawValue: UInt16) { self.rawValue = rawValue }

  /// The registers by bit: `CLBR_RAX` (1 << 0) … `CLBR_R11` (1 << 8).
  public static let registers = ["rax", "rcx", "rdx", "rdi", "rsi", "r8", "r9", "r10", "r11"]
  /// `CLBR_ANY`: every caller-saved register, what a call to C code may change.
  public static let any = ParavirtClobbers(rawValue: (1 << 9) - 1)

  /// The bit of register `name` (`rax`), nil for a callee-saved register.
  public static func of(_ name: String) -> ParavirtClobbers? {
    registers.firstIndex(of: name).map { ParavirtClobbers(rawValue: 1 << UInt16($0)) }
  }

  /// The registers named, in bit order.
  public var names: [String] {
    Self.registers.indices.filter { rawValue & (1 << UInt16($0)) != 0 }.map { Self.registers[$0] }
  }
}
