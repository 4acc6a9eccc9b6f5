/// One section header (`Elf64_Shdr`) with its resolved name.
public struct Section: Sendable, Hashable {
  /// The section's index in the section header table.
  public var index: Int
  /// The name, from the section header string table.
  public var name: String
  /// `sh_type`.
  public var type: SectionType
  /// `sh_flags`.
  public var flags: SectionFlags
  /// `sh_addr`: the address in a linked image (0 in a relocatable object).
  public var address: UInt64
  /// `sh_offset`: where the contents are in the file.
  public var offset: UInt64
  /// `sh_size`.
  public var size: UInt64
  /// `sh_link`.
  public var link: UInt32
  /// `sh_info`.
  public var info: UInt32
  /// `sh_addralign`.
  public var alignment: UInt64
  /// `sh_entsize`.
  public var entrySize: UInt64
  /// The file offset of this section's header, for error messages.
  public var headerOffset: UInt64

  /// Whether the section occupies bytes in the file (everything but `SHT_NOBITS`).
  public var hasFileContents: Bool { type != .nobits && type != .null }
}
