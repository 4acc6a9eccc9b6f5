import ELF
import Kernel

/// objtool's `--dump=orc` text (`tools/objtool/orc_dump.c`), byte for byte,
/// in the layout of the table's generation:
///
/// ```
/// 6.1:   .text+1b: sp:sp+16 bp:(und) type:call end:0
/// 6.12:  .text+1b:type:call sp:sp+16 bp:(und) signal:0
/// ```
public enum ORCDump {
  /// The whole dump of `table`, appended to `out`.
  public static func render(_ table: ORCTable, into out: inout [UInt8]) throws(ELFError) {
    out.reserveCapacity(out.count + table.count * 48)
    // Names repeat (most entries are against a few sections): cache them.
    var lastName: String = ""
    var lastNameBytes: [UInt8] = []
    for i in 0..<table.count {
      switch try table.location(i) {
      case .symbolic(let name, let addend):
        if name != lastName {
          lastName = name
          lastNameBytes = Array(name.utf8)
        }
        out.append(contentsOf: lastNameBytes)
        out.append(UInt8(ascii: "+"))
        appendHex(UInt64(bitPattern: addend), to: &out)
        out.append(UInt8(ascii: ":"))
      case .address(let address):
        appendHex(address, to: &out)
        out.append(UInt8(ascii: ":"))
      }
      appendEntry(table.entry(i), layout: table.layout, to: &out)
    }
  }

  /// The dump of `table` as a string.
  public static func text(_ table: ORCTable) throws(ELFError) -> String {
    var out: [UInt8] = []
    try render(table, into: &out)
    return String(decoding: out, as: UTF8.self)
  }

  /// One entry's text after the location (`orc_print_dump()` / the 6.1 inline printf).
  public static func appendEntry(_ e: ORCEntry, layout: ORCLayout, to out: inout [UInt8]) {
    let type = layout.frameType(e.rawType).objtoolName
    switch layout.generation {
    case .v6_1:
      appendASCII(" sp:", to: &out)
      appendRegister(e.spReg, e.spOffset, to: &out)
      appendASCII(" bp:", to: &out)
      appendRegister(e.bpReg, e.bpOffset, to: &out)
      appendASCII(" type:", to: &out)
      appendASCII(type, to: &out)
      appendASCII(" end:", to: &out)
    case .v6_12:
      appendASCII("type:", to: &out)
      appendASCII(type, to: &out)
      appendASCII(" sp:", to: &out)
      appendRegister(e.spReg, e.spOffset, to: &out)
      appendASCII(" bp:", to: &out)
      appendRegister(e.bpReg, e.bpOffset, to: &out)
      appendASCII(" signal:", to: &out)
    }
    out.append(e.flag ? UInt8(ascii: "1") : UInt8(ascii: "0"))
    out.append(UInt8(ascii: "\n"))
  }

  /// `print_reg()`: `(bp+N)`, `(sp)+N`, `(und)` or `NAME+N`.
  static func appendRegister(_ reg: ORCRegister, _ offset: Int16, to out: inout [UInt8]) {
    switch reg {
    case .bpIndirect:
      appendASCII("(bp", to: &out)
      appendSigned(offset, to: &out)
      out.append(UInt8(ascii: ")"))
    case .spIndirect:
      appendASCII("(sp)", to: &out)
      appendSigned(offset, to: &out)
    case .undefined:
      appendASCII("(und)", to: &out)
    default:
      appendASCII(reg.objtoolName, to: &out)
      appendSigned(offset, to: &out)
    }
  }

  @inline(__always)
  static func appendASCII(_ s: String, to out: inout [UInt8]) {
    out.append(contentsOf: s.utf8)
  }

  /// `%+d`.
  static func appendSigned(_ v: Int16, to out: inout [UInt8]) {
    out.append(v < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
    appendDecimal(UInt64(v.magnitude), to: &out)
  }

  static func appendDecimal(_ v: UInt64, to out: inout [UInt8]) {
    if v < 10 {
      out.append(UInt8(ascii: "0") + UInt8(v))
      return
    }
    appendDecimal(v / 10, to: &out)
    out.append(UInt8(ascii: "0") + UInt8(v % 10))
  }

  /// `%llx`.
  static func appendHex(_ v: UInt64, to out: inout [UInt8]) {
    if v == 0 {
      out.append(UInt8(ascii: "0"))
      return
    }
    let digits = (64 - v.leadingZeroBitCount + 3) / 4
    for shift in stride(from: (digits - 1) * 4, through: 0, by: -4) {
      let d = UInt8((v >> UInt64(shift)) & 0xf)
      out.append(d < 10 ? UInt8(ascii: "0") + d : UInt8(ascii: "a") + d - 10)
    }
  }
}
