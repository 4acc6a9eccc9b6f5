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

extension ELFFile {
  /// The bytes of this file with `sections` appended: the original bytes
  /// unchanged, then the new sections' data, a new section name table and a
  /// new section header table (the old headers, then the new ones, in order).
  /// A new section's `info` of `UInt32.max - k` refers to the k-th new section.
  /// Each of `replacing` gets its new data appended too, its header pointed at it.
  public func appending(_ sections: [NewSection], replacing: [SectionReplacement] = []) throws(ELFError) -> [UInt8] {
    guard !self.sections.isEmpty else {
      throw ELFError(.malformed("cannot add sections to a file without section headers"), path: path, offset: 40)
    }
    var out = [UInt8](source.bytes)
    func align(_ a: Int) { while out.count % a != 0 { out.append(0) } }
    func put<T: FixedWidthInteger>(_ v: T, at o: Int) {
      withUnsafeBytes(of: v.littleEndian) { b in for (i, x) in b.enumerated() { out[o + i] = x } }
    }
    let firstNew = self.sections.count
    // New data of replaced sections.
    var replaced: [(index: Int, offset: Int, size: Int, info: UInt32?)] = []
    for r in replacing where r.index > 0 && r.index < self.sections.count {
      // A symbol table, its index table or relocations: 8 bytes suit them all (the
      // file's own sh_addralign is read from the input and may be anything).
      align(8)
      replaced.append((r.index, out.count, r.data.count, r.info))
      out += r.data
    }
    // Data of the new sections.
    var offsets: [Int] = []
    for s in sections {
      align(Int(min(max(s.alignment, 1), 4096)))
      offsets.append(out.count)
      out += s.data
    }
    // A new name table: the old one, then the new names.
    let oldNames = contents(of: self.sections[sectionNameTableIndex])
    var names = [UInt8](oldNames.bytes)
    var nameIndex: [UInt32] = []
    for s in sections {
      nameIndex.append(UInt32(names.count))
      names += Array(s.name.utf8) + [0]
    }
    let namesOffset = out.count
    out += names
    // The header table: old headers copied, the name table's updated, new ones appended.
    align(8)
    let shoff = out.count
    let headers = ByteView(source.bytes, fileOffset: 0)
    for s in self.sections {
      out += headers.bytes[Int(s.headerOffset)..<Int(s.headerOffset) + Self.sectionHeaderSize]
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
      out += h
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
    return out
  }
}

/// Writes `bytes` to a temporary file beside `path`, reads it back, and
/// renames it over `path`: a failure at any step (a full disk, a kill) leaves
/// `path` as it was. There is no fsync, as with the other tools of a kernel
/// build: a power loss may lose the new file, never damage the old one
/// (rename replaces atomically).
public func replaceFile(atPath path: String, with bytes: [UInt8]) throws(ELFError) {
  let temporary = path + ".orctool-\(getpid()).tmp"
  let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
  guard fd >= 0 else {
    throw ELFError(.io("cannot create \(temporary): " + String(cString: strerror(errno))), path: path, offset: 0)
  }
  var st = stat()
  if stat(path, &st) == 0 { fchmod(fd, st.st_mode & 0o7777) }
  var written = 0
  let ok: Bool = bytes.withUnsafeBytes { b in
    while written < b.count {
      let n = write(fd, b.baseAddress! + written, b.count - written)
      if n <= 0 { if errno == EINTR { continue }; return false }
      written += n
    }
    return true
  }
  let closed = close(fd) == 0
  guard ok && closed else {
    let reason = String(cString: strerror(errno))
    unlink(temporary)
    throw ELFError(.io("writing \(temporary): \(reason)"), path: path, offset: 0)
  }
  // Re-read what was written before it replaces the original.
  let readBack: Bool
  do {
    let check = try MappedFile(path: temporary)
    readBack =
      check.bytes.count == bytes.count
      && bytes.withUnsafeBytes { memcmp($0.baseAddress!, check.bytes.baseAddress!, bytes.count) == 0 }
  } catch {
    readBack = false
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
