/// Bytes that overwrite part of a section the file already has, size unchanged: what
/// objtool writes into the sections it read (`elf_write_insn()` into `.text`,
/// `elf_write_reloc()` into a relocation entry), as opposed to the sections it adds.
public struct InPlaceEdit: Sendable, Hashable {
  /// Where the bytes go, from the start of the file.
  public var fileOffset: UInt64
  /// The new bytes.
  public var bytes: [UInt8]

  public init(fileOffset: UInt64, bytes: [UInt8]) {
    self.fileOffset = fileOffset
    self.bytes = bytes
  }
}

extension ELFFile {
  /// The file's bytes with `edits` applied in order (a later edit of the same bytes wins).
  public func applying(_ edits: [InPlaceEdit]) throws(ELFError) -> [UInt8] {
    var out = [UInt8](source.bytes)
    for e in edits {
      let (end, overflow) = e.fileOffset.addingReportingOverflow(UInt64(e.bytes.count))
      guard !overflow, end <= UInt64(out.count) else {
        throw ELFError(.malformed("an in-place edit runs past the end of the file"), path: path, offset: e.fileOffset)
      }
      out.replaceSubrange(Int(e.fileOffset)..<Int(end), with: e.bytes)
    }
    return out
  }
}
