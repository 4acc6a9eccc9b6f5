import ELF

/// A reader of BPF Type Format (`.BTF`, `include/uapi/linux/btf.h`): the
/// kernel's own description of its types, read here for structure layouts
/// (member names at byte offsets) without a debug-info package.
///
/// Split BTF (a module's `.BTF`, whose type ids and string offsets continue
/// those of vmlinux) is read on top of its base.
public final class BTF: Sendable {
  /// A BTF kind (`BTF_KIND_*`).
  public struct Kind: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// `BTF_KIND_INT`
    public static let int = Kind(rawValue: 1)
    /// `BTF_KIND_PTR`
    public static let pointer = Kind(rawValue: 2)
    /// `BTF_KIND_ARRAY`
    public static let array = Kind(rawValue: 3)
    /// `BTF_KIND_STRUCT`
    public static let structure = Kind(rawValue: 4)
    /// `BTF_KIND_UNION`
    public static let union = Kind(rawValue: 5)
    /// `BTF_KIND_ENUM`
    public static let enumeration = Kind(rawValue: 6)
    /// `BTF_KIND_FWD`
    public static let forward = Kind(rawValue: 7)
    /// `BTF_KIND_TYPEDEF`
    public static let typedef = Kind(rawValue: 8)
    /// `BTF_KIND_VOLATILE`
    public static let volatile = Kind(rawValue: 9)
    /// `BTF_KIND_CONST`
    public static let const = Kind(rawValue: 10)
    /// `BTF_KIND_RESTRICT`
    public static let restrict = Kind(rawValue: 11)
    /// `BTF_KIND_FUNC`
    public static let function = Kind(rawValue: 12)
    /// `BTF_KIND_FUNC_PROTO`
    public static let functionPrototype = Kind(rawValue: 13)
    /// `BTF_KIND_VAR`
    public static let variable = Kind(rawValue: 14)
    /// `BTF_KIND_DATASEC`
    public static let dataSection = Kind(rawValue: 15)
    /// `BTF_KIND_FLOAT`
    public static let float = Kind(rawValue: 16)
    /// `BTF_KIND_DECL_TAG`
    public static let declarationTag = Kind(rawValue: 17)
    /// `BTF_KIND_TYPE_TAG`
    public static let typeTag = Kind(rawValue: 18)
    /// `BTF_KIND_ENUM64`
    public static let enumeration64 = Kind(rawValue: 19)
  }

  /// One type (`struct btf_type`) and where its trailing data starts.
  public struct TypeRecord: Sendable {
    public var nameOffset: UInt32
    public var kind: Kind
    public var vlen: Int
    public var kindFlag: Bool
    /// `size` for INT/STRUCT/UNION/ENUM/DATASEC/FLOAT, `type` for the others.
    public var sizeOrType: UInt32
    let dataOffset: Int
  }

  /// A member of a struct or union.
  public struct Member: Sendable, Hashable {
    public var name: String
    public var type: Int
    /// The offset in bits from the start of the aggregate.
    public var bitOffset: Int
  }

  /// The base this split BTF extends (vmlinux's for a module).
  public let base: BTF?
  let types: [TypeRecord]
  let typeData: ByteView
  let strings: ByteView
  let firstID: Int
  let stringBase: Int
  let path: String
  /// The file offset of the BTF header (the `.BTF` section's start), for errors.
  let fileOffset: UInt64
  /// Keeps the mapped bytes alive as long as the views into them.
  let owner: (any Sendable)?

  /// `BTF_MAGIC`.
  public static let magic: UInt16 = 0xeB9F

  /// Reads the `.BTF` section of `file`, on top of `base` for split BTF.
  public convenience init(file: ELFFile, base: BTF? = nil) throws(ELFError) {
    guard let section = file.section(named: ".BTF") else {
      throw ELFError(.missingSection(".BTF"), path: file.path, offset: 0)
    }
    try self.init(data: file.contents(of: section), path: file.path, base: base, owner: file)
  }

  /// Reads BTF from `data` (a `.BTF` section's bytes); `owner` is kept alive
  /// as long as this object, for the memory `data` views.
  public init(data: ByteView, path: String, base: BTF? = nil, owner: (any Sendable)? = nil) throws(ELFError) {
    func fail(_ message: String, _ at: Int) -> ELFError {
      ELFError(.malformed(".BTF: " + message), path: path, offset: data.fileOffset + UInt64(at))
    }
    guard data.count >= 24 else { throw fail("truncated header", 0) }
    guard data.load(UInt16.self, at: 0) == Self.magic else { throw fail("bad magic", 0) }
    let hdrLen = Int(data.load(UInt32.self, at: 4))
    let typeOff = Int(data.load(UInt32.self, at: 8))
    let typeLen = Int(data.load(UInt32.self, at: 12))
    let strOff = Int(data.load(UInt32.self, at: 16))
    let strLen = Int(data.load(UInt32.self, at: 20))
    guard let types = data.slice(hdrLen + typeOff, typeLen) else { throw fail("type section out of bounds", 8) }
    guard let strings = data.slice(hdrLen + strOff, strLen) else { throw fail("string section out of bounds", 16) }
    self.base = base
    self.owner = owner
    self.typeData = types
    self.strings = strings
    self.path = path
    self.fileOffset = data.fileOffset
    self.firstID = base.map { $0.firstID + $0.types.count } ?? 1
    self.stringBase = base.map { $0.stringBase + $0.strings.count } ?? 0
    var records: [TypeRecord] = []
    var at = 0
    while at < types.count {
      guard at + 12 <= types.count else { throw fail("truncated type", hdrLen + typeOff + at) }
      let info = types.load(UInt32.self, at: at + 4)
      let kind = Kind(rawValue: UInt8((info >> 24) & 0x1f))
      let vlen = Int(info & 0xffff)
      let extra: Int
      switch kind {
      case .int, .variable, .declarationTag: extra = 4
      case .array: extra = 12
      case .structure, .union, .dataSection, .enumeration64: extra = 12 * vlen
      case .enumeration, .functionPrototype: extra = 8 * vlen
      case .pointer, .forward, .typedef, .volatile, .const, .restrict, .function, .float, .typeTag: extra = 0
      default: throw fail("unknown kind \(kind.rawValue)", hdrLen + typeOff + at)
      }
      guard at + 12 + extra <= types.count else { throw fail("truncated type data", hdrLen + typeOff + at) }
      records.append(
        TypeRecord(
          nameOffset: types.load(UInt32.self, at: at), kind: kind, vlen: vlen,
          kindFlag: info >> 31 == 1, sizeOrType: types.load(UInt32.self, at: at + 8),
          dataOffset: at + 12))
      at += 12 + extra
    }
    self.types = records
  }

  /// The number of the last type id plus one (ids start at 1; 0 is void).
  public var endID: Int { firstID + types.count }

  /// The type with id `id` (nil for void or an unknown id).
  public func type(_ id: Int) -> TypeRecord? {
    if id >= firstID && id < endID { return types[id - firstID] }
    return base?.type(id)
  }

  func owner(of id: Int) -> BTF? {
    if id >= firstID && id < endID { return self }
    return base?.owner(of: id)
  }

  /// The string at `offset` of the (possibly split) string section.
  public func string(_ offset: UInt32) -> String {
    let o = Int(offset)
    if o < stringBase, let base { return base.string(offset) }
    let local = o - stringBase
    guard local >= 0, local < strings.count else { return "" }
    let rest = strings.bytes[local...]
    let end = rest.firstIndex(of: 0) ?? strings.count
    return String(decoding: strings.bytes[local..<end], as: UTF8.self)
  }

  /// The name of type `id`.
  public func name(of id: Int) -> String { type(id).map { string($0.nameOffset) } ?? "" }

  /// The first type of `kind` called `name`.
  public func find(_ name: String, kind: Kind) -> Int? {
    if let base, let id = base.find(name, kind: kind) { return id }
    for (i, t) in types.enumerated() where t.kind == kind && string(t.nameOffset) == name { return firstID + i }
    return nil
  }

  /// The members of a struct or union.
  public func members(of id: Int) -> [Member] {
    guard let t = type(id), t.kind == .structure || t.kind == .union, let btf = owner(of: id) else { return [] }
    return (0..<t.vlen).map { i in
      let at = t.dataOffset + i * 12
      let offset = btf.typeData.load(UInt32.self, at: at + 8)
      return Member(
        name: string(btf.typeData.load(UInt32.self, at: at)),
        type: Int(btf.typeData.load(UInt32.self, at: at + 4)),
        bitOffset: Int(t.kindFlag ? offset & 0xff_ffff : offset))
    }
  }

  /// `id` with typedefs and qualifiers stripped.
  public func resolve(_ id: Int) -> Int {
    var current = id
    for _ in 0..<32 {
      guard let t = type(current) else { return current }
      switch t.kind {
      case .typedef, .volatile, .const, .restrict, .typeTag: current = Int(t.sizeOrType)
      default: return current
      }
    }
    return current
  }

  /// Every leaf member of struct `id` by byte offset, named by its path
  /// (`irq.save_fl`): nested aggregates are entered, except ones of a single
  /// member (such as `struct paravirt_callee_save { void *func; }`), which
  /// are named by the outer member.
  ///
  /// The `.BTF` is input: a struct that contains itself, or nests deeper than
  /// ``maxNesting``, is not entered past that depth, and at most
  /// ``maxFlattenedMembers`` members are listed.
  public func flattenedMembers(of id: Int, prefix: String = "", offset: Int = 0) -> [(offset: Int, name: String)] {
    flattenedMemberTypes(of: id, prefix: prefix, offset: offset).map { ($0.offset, $0.name) }
  }

  /// ``flattenedMembers(of:prefix:offset:)`` with each leaf's type (typedefs and
  /// qualifiers resolved): `struct paravirt_callee_save` for a callee-save pv_ops slot.
  public func flattenedMemberTypes(of id: Int, prefix: String = "", offset: Int = 0)
    -> [(offset: Int, name: String, type: Int)]
  {
    var out: [(offset: Int, name: String, type: Int)] = []
    flatten(id, prefix: prefix, offset: offset, depth: 0, into: &out)
    return out
  }

  /// How deep ``flattenedMembers(of:prefix:offset:)`` and ``offset(of:in:)``
  /// follow nested aggregates (C's own nesting in the kernel is a few levels).
  public static let maxNesting = 32
  /// The most members ``flattenedMembers(of:prefix:offset:)`` lists.
  public static let maxFlattenedMembers = 1 << 16

  private func flatten(
    _ id: Int, prefix: String, offset: Int, depth: Int, into out: inout [(offset: Int, name: String, type: Int)]
  ) {
    for m in members(of: id) {
      guard out.count < Self.maxFlattenedMembers else { return }
      let path = prefix.isEmpty ? m.name : prefix + "." + m.name
      // At most maxNesting levels of offsets below 2^29 bytes each: no overflow.
      let byteOffset = offset + m.bitOffset / 8
      let inner = resolve(m.type)
      if depth < Self.maxNesting, let t = type(inner), t.kind == .structure || t.kind == .union, t.vlen > 1 {
        flatten(inner, prefix: path, offset: byteOffset, depth: depth + 1, into: &out)
      } else {
        out.append((byteOffset, path, inner))
      }
    }
  }
}

extension BTF {
  /// The byte offset of `path` (`thread.sp`, `signal`) in struct `name`,
  /// looking through anonymous struct and union members as C does.
  public func offset(of path: String, in name: String) -> Int? {
    guard let id = find(name, kind: .structure) else { return nil }
    var current = id
    var total = 0
    for part in path.split(separator: ".") {
      guard let (bits, type) = memberOffset(String(part), in: current) else { return nil }
      total += bits / 8
      current = resolve(type)
    }
    return total
  }

  /// The size in bytes of struct `name`.
  public func size(of name: String) -> Int? {
    find(name, kind: .structure).flatMap { type($0) }.map { Int($0.sizeOrType) }
  }

  /// `offset(of:in:)`, or an error that names the struct or the member `.BTF`
  /// does not describe (at the offset of the `.BTF` header).
  public func requireOffset(of path: String, in name: String) throws(ELFError) -> Int {
    if let offset = offset(of: path, in: name) { return offset }
    let structure = find(name, kind: .structure) == nil
    throw ELFError(.missingBTF(structure: name, member: structure ? nil : path), path: self.path, offset: fileOffset)
  }

  /// `size(of:)`, or an error that names the struct `.BTF` does not describe.
  public func requireSize(of name: String) throws(ELFError) -> Int {
    guard let size = size(of: name) else {
      throw ELFError(.missingBTF(structure: name, member: nil), path: path, offset: fileOffset)
    }
    return size
  }

  func memberOffset(_ name: String, in id: Int, depth: Int = 0) -> (bits: Int, type: Int)? {
    // An anonymous member of the struct's own type (hostile `.BTF`) is not followed forever.
    guard depth <= Self.maxNesting else { return nil }
    for m in members(of: id) {
      if m.name == name { return (m.bitOffset, m.type) }
      if m.name.isEmpty, let inner = memberOffset(name, in: resolve(m.type), depth: depth + 1) {
        return (m.bitOffset + inner.bits, inner.type)
      }
    }
    return nil
  }
}

extension BTF {
  /// The size in bytes of type `id` (typedefs and qualifiers looked through;
  /// an array is its element's size times its length), or nil for a type
  /// without one (void, a function, a forward declaration) or one nested
  /// past ``maxNesting`` arrays.
  public func typeSize(_ id: Int, depth: Int = 0) -> Int? {
    guard depth <= Self.maxNesting, let t = type(resolve(id)) else { return nil }
    switch t.kind {
    case .int, .structure, .union, .enumeration, .enumeration64, .float, .dataSection: return Int(t.sizeOrType)
    case .pointer: return 8
    case .array:
      guard let btf = owner(of: resolve(id)) else { return nil }
      let element = Int(btf.typeData.load(UInt32.self, at: t.dataOffset))
      let count = Int(btf.typeData.load(UInt32.self, at: t.dataOffset + 8))
      guard let size = typeSize(element, depth: depth + 1) else { return nil }
      let (total, over) = size.multipliedReportingOverflow(by: count)
      return over ? nil : total
    default: return nil
    }
  }

  /// The size in bytes of member `path` of struct `name` (`NMI_stack` of `cea_exception_stacks`).
  public func memberSize(of path: String, in name: String) -> Int? {
    guard let id = find(name, kind: .structure) else { return nil }
    var current = id
    var last: Int? = nil
    for part in path.split(separator: ".") {
      guard let (_, type) = memberOffset(String(part), in: current) else { return nil }
      last = type
      current = resolve(type)
    }
    return last.flatMap { typeSize($0) }
  }

  /// `memberSize(of:in:)`, or an error that names what `.BTF` does not describe.
  public func requireMemberSize(of path: String, in name: String) throws(ELFError) -> Int {
    if let size = memberSize(of: path, in: name) { return size }
    let structure = find(name, kind: .structure) == nil
    throw ELFError(.missingBTF(structure: name, member: structure ? nil : path), path: self.path, offset: fileOffset)
  }

  /// `enumerator(_:)`, or an error that names the enumerator `.BTF` lacks.
  public func requireEnumerator(_ name: String, of enumeration: String) throws(ELFError) -> Int64 {
    if let value = enumerator(name) { return value }
    throw ELFError(.missingBTF(structure: enumeration, member: name), path: path, offset: fileOffset)
  }

  /// The value of enumerator `name` (`MOD_TEXT`) of any enum, or nil.
  public func enumerator(_ name: String) -> Int64? {
    for id in 1..<endID {
      guard let t = type(id), t.kind == .enumeration || t.kind == .enumeration64, let btf = owner(of: id) else {
        continue
      }
      let stride = t.kind == .enumeration ? 8 : 12
      for i in 0..<t.vlen {
        let at = t.dataOffset + i * stride
        guard string(btf.typeData.load(UInt32.self, at: at)) == name else { continue }
        if t.kind == .enumeration { return Int64(Int32(bitPattern: btf.typeData.load(UInt32.self, at: at + 4))) }
        let lo = UInt64(btf.typeData.load(UInt32.self, at: at + 4))
        let hi = UInt64(btf.typeData.load(UInt32.self, at: at + 8))
        return Int64(bitPattern: hi << 32 | lo)
      }
    }
    return nil
  }
}
