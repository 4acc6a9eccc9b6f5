/// One program header (`Elf64_Phdr`): a segment of a linked image or a core file.
public struct ProgramHeader: Sendable, Hashable {
  /// `p_type` (`PT_LOAD` 1, `PT_NOTE` 4, …).
  public var type: UInt32
  public var flags: UInt32
  /// `p_offset`: where the segment's bytes are in the file.
  public var offset: UInt64
  /// `p_vaddr`.
  public var virtualAddress: UInt64
  /// `p_paddr`: in a QEMU dump, the guest-physical address.
  public var physicalAddress: UInt64
  /// `p_filesz`.
  public var fileSize: UInt64
  /// `p_memsz`.
  public var memorySize: UInt64

  /// The corresponding C constant is `PT_LOAD`.
  public static let load: UInt32 = 1
  /// The corresponding C constant is `PT_NOTE`.
  public static let note: UInt32 = 4
}

/// One ELF note (`Elf64_Nhdr` + name + descriptor).
public struct ELFNote: Sendable {
  /// The owner name (`CORE`, `VMCOREINFO`, `QEMU`, …).
  public var name: String
  /// `n_type` (`NT_PRSTATUS` 1, …).
  public var type: UInt32
  /// The descriptor bytes.
  public var descriptor: ByteView
}

extension ELFFile {
  /// The size of `Elf64_Phdr`.
  public static let programHeaderSize = 56

  /// The program headers (empty when the file has none).
  public func programHeaders() throws(ELFError) -> [ProgramHeader] {
    let file = ByteView(source.bytes, fileOffset: 0)
    let phoff = file.load(UInt64.self, at: 32)
    let entsize = Int(file.load(UInt16.self, at: 54))
    let count = Int(file.load(UInt16.self, at: 56))
    guard phoff != 0, count > 0 else { return [] }
    guard entsize == Self.programHeaderSize else {
      throw ELFError(.badEntrySize(what: "e_phentsize", value: UInt64(entsize), expected: 56), path: path, offset: 54)
    }
    guard let table = file.slice(Int(clamping: phoff), count * entsize) else {
      throw ELFError(
        .truncated(
          what: "program header table", needed: phoff &+ UInt64(count * entsize),
          size: UInt64(file.count)), path: path, offset: 32)
    }
    var out: [ProgramHeader] = []
    for i in 0..<count {
      let b = i * entsize
      let h = ProgramHeader(
        type: table.load(UInt32.self, at: b), flags: table.load(UInt32.self, at: b + 4),
        offset: table.load(UInt64.self, at: b + 8), virtualAddress: table.load(UInt64.self, at: b + 16),
        physicalAddress: table.load(UInt64.self, at: b + 24), fileSize: table.load(UInt64.self, at: b + 32),
        memorySize: table.load(UInt64.self, at: b + 40))
      if h.fileSize > 0 && (h.offset > UInt64(file.count) || h.fileSize > UInt64(file.count) - h.offset) {
        throw ELFError(
          .malformed(
            "segment \(i) (offset 0x\(String(h.offset, radix: 16)), size 0x\(String(h.fileSize, radix: 16))) extends past the end of the file"
          ),
          path: path, offset: phoff + UInt64(b))
      }
      out.append(h)
    }
    return out
  }

  /// The bytes of segment `header` in the file (none when they lie outside it:
  /// `programHeaders()` checks only segments with a `p_filesz`, so an empty
  /// one may give any `p_offset`).
  public func contents(of header: ProgramHeader) -> ByteView {
    guard let offset = Int(exactly: header.offset), let size = Int(exactly: header.fileSize),
      let view = ByteView(source.bytes, fileOffset: 0).slice(offset, size)
    else { return ByteView(UnsafeRawBufferPointer(start: nil, count: 0), fileOffset: header.offset) }
    return view
  }

  /// The notes of every `PT_NOTE` segment.
  public func notes() throws(ELFError) -> [ELFNote] {
    var out: [ELFNote] = []
    for h in try programHeaders() where h.type == ProgramHeader.note {
      out += try ELFNote.notes(in: contents(of: h), path: path)
    }
    return out
  }
}

extension ELFNote {
  /// The notes (`Elf64_Nhdr`, name, descriptor, each padded to 4 bytes) that
  /// fill `area`: a `PT_NOTE` segment, or the note buffer of a
  /// kdump-compressed dump. A note that runs past `area` is an error at its offset.
  public static func notes(in area: ByteView, path: String) throws(ELFError) -> [ELFNote] {
    var out: [ELFNote] = []
    let v = area
    var at = 0
    while at + 12 <= v.count {
      let namesz = Int(v.load(UInt32.self, at: at))
      let descsz = Int(v.load(UInt32.self, at: at + 4))
      let type = v.load(UInt32.self, at: at + 8)
      let nameStart = at + 12
      let descStart = nameStart + (namesz + 3) & ~3
      guard let name = v.slice(nameStart, namesz), let desc = v.slice(descStart, descsz) else {
        throw ELFError(
          .malformed("note at 0x\(String(v.fileOffset + UInt64(at), radix: 16)) runs past its segment"),
          path: path, offset: v.fileOffset + UInt64(at))
      }
      let nameText = String(decoding: name.bytes.prefix { $0 != 0 }, as: UTF8.self)
      out.append(ELFNote(name: nameText, type: type, descriptor: desc))
      at = descStart + (descsz + 3) & ~3
    }
    return out
  }
}
