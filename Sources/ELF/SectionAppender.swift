#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A new section to add to an ELF file.
public struct NewSection: Sendable {
  public var name: String
  public var type: SectionType
  public var flags: SectionFlags
  public var link: UInt32
  /// `sh_info`; for a relocation section, the index of the section it patches.
  public var info: UInt32
  public var alignment: UInt64
  public var entrySize: UInt64
  public var data: [UInt8]

  public init(
    name: String, type: SectionType, flags: SectionFlags, link: UInt32 = 0, info: UInt32 = 0,
    alignment: UInt64, entrySize: UInt64, data: [UInt8]
  ) {
    (self.name, self.type, self.flags, self.link, self.info) = (name, type, flags, link, info)
    (self.alignment, self.entrySize, self.data) = (alignment, entrySize, data)
  }
}

/// New contents for an existing section (its old bytes stay in the file, unreferenced).
public struct SectionReplacement: Sendable {
  public var index: Int
  public var data: [UInt8]
  /// A new `sh_info`, if it changes (a symbol table's first non-local index).
  public var info: UInt32?
  public init(index: Int, data: [UInt8], info: UInt32? = nil) {
    (self.index, self.data, self.info) = (index, data, info)
  }
}

/// An ELF file with sections appended, as it is written: the input's bytes, read in place
/// from its mapping, behind a new ELF header, then the appended bytes. Nothing copies the
/// input (``ELFFile/appended(_:replacing:)``): writing it costs the write alone.
public struct AppendedFile: Sendable {
  /// The new ELF header: the input's first ``ELFFile/headerSize`` bytes, patched.
  public let header: [UInt8]
  /// The input, whose bytes after the header are written as they are.
  public let source: MappedFile
  /// What follows the input's bytes: new sections' data, names, the section header table.
  public let tail: [UInt8]

  /// The input's bytes after the header.
  public var body: UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(rebasing: source.bytes[header.count...])
  }

  /// The size of the file.
  public var count: Int { source.bytes.count + tail.count }

  /// The file's bytes in one array (a copy of the input with the rest).
  public var bytes: [UInt8] {
    var out = header
    out.reserveCapacity(count)
    out += body
    out += tail
    return out
  }

  /// The file's three parts in order.
  func withParts<R>(_ body: ([UnsafeRawBufferPointer]) throws(ELFError) -> R) throws(ELFError) -> R {
    let result: Result<R, ELFError> = header.withUnsafeBytes { h in
      tail.withUnsafeBytes { t in Result { () throws(ELFError) in try body([h, self.body, t]) } }
    }
    return try result.get()
  }
}

extension ELFFile {
  /// The bytes of this file with `sections` appended: the original bytes
  /// unchanged, then the new sections' data, a new section name table and a
  /// new section header table (the old headers, then the new ones, in order).
  /// A new section's `info` of `UInt32.max - k` refers to the k-th new section.
  /// Each of `replacing` gets its new data appended too, its header pointed at it.
  public func appending(_ sections: [NewSection], replacing: [SectionReplacement] = []) throws(ELFError) -> [UInt8] {
    try appended(sections, replacing: replacing).bytes
  }

  /// ``appending(_:replacing:)`` as an ``AppendedFile``: the input's bytes are not copied.
  public func appended(_ sections: [NewSection], replacing: [SectionReplacement] = []) throws(ELFError)
    -> AppendedFile
  {
    guard !self.sections.isEmpty else {
      throw ELFError(.malformed("cannot add sections to a file without section headers"), path: path, offset: 40)
    }
    let base = source.bytes.count
    var header = [UInt8](source.bytes[0..<Self.headerSize])
    var tail: [UInt8] = []
    /// The offset in the output file of the next appended byte.
    var end: Int { base + tail.count }
    func align(_ a: Int) { while end % a != 0 { tail.append(0) } }
    func put<T: FixedWidthInteger>(_ v: T, at o: Int) {
      withUnsafeBytes(of: v.littleEndian) { b in
        for (i, x) in b.enumerated() {
          if o + i < Self.headerSize { header[o + i] = x } else { tail[o + i - base] = x }
        }
      }
    }
    let firstNew = self.sections.count
    // New data of replaced sections.
    var replaced: [(index: Int, offset: Int, size: Int, info: UInt32?)] = []
    for r in replacing where r.index > 0 && r.index < self.sections.count {
      // A symbol table, its index table or relocations: 8 bytes suit them all (the
      // file's own sh_addralign is read from the input and may be anything).
      align(8)
      replaced.append((r.index, end, r.data.count, r.info))
      tail += r.data
    }
    // Data of the new sections.
    var offsets: [Int] = []
    for s in sections {
      align(Int(min(max(s.alignment, 1), 4096)))
      offsets.append(end)
      tail += s.data
    }
    // A new name table: the old one, then the new names.
    let oldNames = contents(of: self.sections[sectionNameTableIndex])
    var names = [UInt8](oldNames.bytes)
    var nameIndex: [UInt32] = []
    for s in sections {
      nameIndex.append(UInt32(names.count))
      names += Array(s.name.utf8) + [0]
    }
    let namesOffset = end
    tail += names
    // The header table: old headers copied, the name table's updated, new ones appended.
    align(8)
    let shoff = end
    let headers = ByteView(source.bytes, fileOffset: 0)
    for s in self.sections {
      tail += headers.bytes[Int(s.headerOffset)..<Int(s.headerOffset) + Self.sectionHeaderSize]
    }
    let strHeader = shoff + sectionNameTableIndex * Self.sectionHeaderSize
    put(UInt64(namesOffset), at: strHeader + 24)
    put(UInt64(names.count), at: strHeader + 32)
    for r in replaced {
      let h = shoff + r.index * Self.sectionHeaderSize
      put(UInt64(r.offset), at: h + 24)
      put(UInt64(r.size), at: h + 32)
      if let info = r.info { put(info, at: h + 44) }
    }
    for (k, s) in sections.enumerated() {
      var h = [UInt8](repeating: 0, count: Self.sectionHeaderSize)
      func set<T: FixedWidthInteger>(_ v: T, _ o: Int) {
        withUnsafeBytes(of: v.littleEndian) { b in for (i, x) in b.enumerated() { h[o + i] = x } }
      }
      set(nameIndex[k], 0)
      set(s.type.rawValue, 4)
      set(s.flags.rawValue, 8)
      set(UInt64(offsets[k]), 24)
      set(UInt64(s.data.count), 32)
      set(s.link, 40)
      let info = s.info >= UInt32.max - 64 ? UInt32(firstNew) + (UInt32.max - s.info) : s.info
      set(info, 44)
      set(s.alignment, 48)
      set(s.entrySize, 56)
      tail += h
    }
    put(UInt64(shoff), at: 40)
    let count = self.sections.count + sections.count
    if count < Int(SpecialSectionIndex.loReserve) {
      put(UInt16(count), at: 60)
    } else {
      // Extended numbering: e_shnum 0, the count in section 0's sh_size.
      put(UInt16(0), at: 60)
      put(UInt64(count), at: shoff + 32)
    }
    return AppendedFile(header: header, source: source, tail: tail)
  }
}

/// Writes `bytes` to a temporary file beside `path`, reads it back, and
/// renames it over `path`: a failure at any step (a full disk, a kill) leaves
/// `path` as it was. There is no fsync, as with the other tools of a kernel
/// build: a power loss may lose the new file, never damage the old one
/// (rename replaces atomically).
public func replaceFile(atPath path: String, with bytes: [UInt8]) throws(ELFError) {
  let result: Result<Void, ELFError> = bytes.withUnsafeBytes { b in
    Result { () throws(ELFError) in try replaceFile(atPath: path, withParts: [b]) }
  }
  try result.get()
}

/// ``replaceFile(atPath:with:)`` with `source`'s bytes, written from its mapping.
public func replaceFile(atPath path: String, withContentsOf source: MappedFile) throws(ELFError) {
  try replaceFile(atPath: path, withParts: [source.bytes])
}

/// ``replaceFile(atPath:with:)`` for an ``AppendedFile``: its input's bytes go from their
/// mapping to the new file, uncopied.
public func replaceFile(atPath path: String, with file: AppendedFile) throws(ELFError) {
  try file.withParts { (parts) throws(ELFError) in try replaceFile(atPath: path, withParts: parts) }
}

/// Writes `parts`, one after the other, as ``replaceFile(atPath:with:)`` writes its bytes.
func replaceFile(atPath path: String, withParts parts: [UnsafeRawBufferPointer]) throws(ELFError) {
  let temporary = path + ".orctool-\(getpid()).tmp"
  let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
  guard fd >= 0 else {
    throw ELFError(.io("cannot create \(temporary): " + String(cString: strerror(errno))), path: path, offset: 0)
  }
  var st = stat()
  if stat(path, &st) == 0 { fchmod(fd, st.st_mode & 0o7777) }
  var ok = true
  for b in parts where ok && b.count > 0 {
    var written = 0
    while written < b.count {
      let n = write(fd, b.baseAddress! + written, b.count - written)
      if n <= 0 {
        if n < 0 && errno == EINTR { continue }
        ok = false
        break
      }
      written += n
    }
  }
  let closed = close(fd) == 0
  guard ok && closed else {
    let reason = String(cString: strerror(errno))
    unlink(temporary)
    throw ELFError(.io("writing \(temporary): \(reason)"), path: path, offset: 0)
  }
  // Re-read what was written before it replaces the original.
  let total = parts.reduce(0) { $0 + $1.count }
  var readBack = false
  if let check = try? MappedFile(path: temporary), check.bytes.count == total {
    readBack = true
    var at = 0
    for b in parts where b.count > 0 {
      if memcmp(b.baseAddress!, check.bytes.baseAddress! + at, b.count) != 0 {
        readBack = false
        break
      }
      at += b.count
    }
  }
  guard readBack else {
    unlink(temporary)
    throw ELFError(.io("\(temporary) does not read back as written"), path: path, offset: 0)
  }
  guard rename(temporary, path) == 0 else {
    let reason = String(cString: strerror(errno))
    unlink(temporary)
    throw ELFError(.io("rename \(temporary): \(reason)"), path: path, offset: 0)
  }
}
