/// Builds a small `.BTF` blob (`include/uapi/linux/btf.h`): an `int` and
/// structs with members at byte offsets, for tests of layouts read from BTF.
public struct BTFBuilder {
  var strings: [UInt8] = [0]
  var types: [UInt8] = []
  /// The number of types so far: the id of the last one.
  public private(set) var count = 0

  public init() {}

  mutating func string(_ s: String) -> UInt32 {
    guard !s.isEmpty else { return 0 }
    let offset = UInt32(strings.count)
    strings += Array(s.utf8) + [0]
    return offset
  }

  mutating func word(_ v: UInt32) { for i in 0..<4 { types.append(UInt8((v >> (8 * UInt32(i))) & 0xff)) } }

  /// Adds a 4-byte `int` called `name`; returns its id.
  public mutating func int(_ name: String) -> Int {
    word(string(name))
    word(1 << 24)  // BTF_KIND_INT, vlen 0
    word(4)
    word(32)  // encoding: 32 bits
    count += 1
    return count
  }

  /// Adds `struct name` of `size` bytes with `members` (an empty name is an
  /// anonymous member; `type` may be the id this struct will get, `count + 1`); returns its id.
  public mutating func structure(_ name: String, size: UInt32, members: [(name: String, type: Int, byteOffset: Int)])
    -> Int
  {
    word(string(name))
    word(4 << 24 | UInt32(members.count))  // BTF_KIND_STRUCT
    word(size)
    for m in members {
      word(string(m.name))
      word(UInt32(m.type))
      word(UInt32(m.byteOffset * 8))
    }
    count += 1
    return count
  }

  /// The blob: header, types, strings.
  public func bytes() -> [UInt8] {
    var out: [UInt8] = [0x9f, 0xeb, 1, 0]
    for v in [UInt32(24), 0, UInt32(types.count), UInt32(types.count), UInt32(strings.count)] {
      for i in 0..<4 { out.append(UInt8((v >> (8 * UInt32(i))) & 0xff)) }
    }
    return out + types + strings
  }
}
