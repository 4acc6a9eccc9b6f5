import ELF
import Kernel
import ORC
import Program

#if canImport(Glibc)
  import Glibc
#endif

/// One function disassembled for `--disas=PATTERN`: each instruction with its
/// bytes, its AT&T text (relocations and, in a linked image, addresses named by
/// their symbols), the CFI validation found before it and the ORC entry that
/// covers it, and at each alternative site the replacement streams inline.
public struct DisassembledFunction: Sendable, Codable {
  public struct Line: Sendable, Codable {
    /// `func+0xoff`.
    public var location: String
    public var offset: UInt64
    /// The instruction's bytes in hex, as objdump prints them (`48 89 e5`).
    public var bytes: String
    public var text: String
    /// The CFI before the instruction (`sp:sp+16 bp:prevsp-16`), nil when validation never reached it.
    public var cfi: String?
    /// The ORC entry in effect at the instruction, in the generation's `--dump=orc` text; nil where none is.
    public var orc: String?
    /// Whether that ORC entry starts at this instruction.
    public var orcStarts: Bool
    /// At an alternative site: its replacement streams, with the CFI at each of their instructions.
    public var alternatives: [AlternativeSite.Stream]?
  }
  public var name: String
  public var section: String
  public var offset: UInt64
  public var size: UInt64
  public var lines: [Line]
}

extension Validator {
  /// Whether `name` matches one of `patterns` (shell globs, as objtool's `--disas` takes them).
  public static func disasMatches(_ name: String, _ patterns: [String]) -> Bool {
    patterns.contains { fnmatch($0, name, 0) == 0 }
  }

  /// The functions whose names match `patterns`, in section and offset order, after `run()`.
  public func disassembly(matching patterns: [String], layout: ORCLayout) -> [DisassembledFunction] {
    let g = graph
    let t = g.table
    let functions = g.program.functions
    let file = g.program.file
    let chosen = functions.functions.indices.filter {
      !functions.isAlias[$0] && functions.functions[$0].size > 0
        && Self.disasMatches(functions.functions[$0].name, patterns)
    }.sorted {
      let a = functions.functions[$0]
      let b = functions.functions[$1]
      return (a.section, a.offset, $0) < (b.section, b.offset, $1)
    }
    guard !chosen.isEmpty else { return [] }
    // The ORC entries of each section, by offset.
    var orc: [Int: [(offset: UInt64, entry: ORCEntry)]] = [:]
    for (s, o, e) in orcEntries(layout: layout) { orc[s, default: []].append((o, e)) }
    func orcText(_ e: ORCEntry) -> String {
      var bytes: [UInt8] = []
      ORCDump.appendEntry(e, layout: layout, to: &bytes)
      return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: " \n")
    }
    var out: [DisassembledFunction] = []
    for id in chosen {
      let f = functions.functions[id]
      var sites: [String: [AlternativeSite.Stream]] = [:]
      for site in alternativeSites(function: f.name, layout: layout) {
        sites[site.site] = Array(site.streams.dropFirst())
      }
      let entries = orc[f.section] ?? []
      let contents = file.contents(of: file.sections[f.section])
      var lines: [DisassembledFunction.Line] = []
      var next = t.instruction(in: f.section, at: f.offset)
      while let i = next, UInt64(t.offset[i]) < f.offset &+ f.size {
        let offset = UInt64(t.offset[i])
        let location = functions.offstr(section: f.section, offset: offset)
        let bytes = contents.slice(Int(offset), Int(t.length[i])).map { Array($0.bytes) } ?? []
        let k = entries.partitioningIndex { $0.offset > offset }
        let entry = k > 0 ? entries[k - 1] : nil
        lines.append(
          .init(
            location: location, offset: offset,
            bytes: bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " "),
            text: instructionText(i),
            cfi: state(at: i).map { ORCDump.registersText(ORCEntry(cfi: $0, layout: layout)) },
            orc: entry.map { orcText($0.entry) }, orcStarts: entry?.offset == offset,
            alternatives: sites[location]))
        next = t.next(i)
      }
      out.append(
        .init(name: f.name, section: file.sections[f.section].name, offset: f.offset, size: f.size, lines: lines))
    }
    return out
  }

  /// `--disas` text: objdump's `-d` layout (address, bytes, instruction) with the CFI and
  /// the ORC entry beside each instruction (`*` where an entry starts), and each
  /// alternative site's replacement streams inline under its original instruction.
  public static func disassemblyText(_ functions: [DisassembledFunction]) -> String {
    func pad(_ s: String, _ n: Int) -> String {
      s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count)
    }
    var out = ""
    for f in functions {
      out += "\(String(f.offset, radix: 16).leftPadded(16)) <\(f.name)> (\(f.section), \(f.size) bytes):\n"
      for l in f.lines {
        out += pad("\(String(l.offset, radix: 16).leftPadded(8, with: " ")):", 10)
        out += pad(l.bytes, 24) + pad(l.text, 40)
        out += pad(l.cfi ?? "(not reached)", 26)
        out += (l.orcStarts ? "* " : "  ") + (l.orc ?? "(no ORC)") + "\n"
        for stream in l.alternatives ?? [] {
          out += "          | \(stream.label)\(stream.target.map { " at \($0)" } ?? ""):\n"
          for step in stream.steps {
            out +=
              "          |   " + pad("+\(step.offset)", 6) + pad(step.text, 44) + (step.cfi ?? "(not reached)") + "\n"
          }
        }
      }
      out += "\n"
    }
    return out
  }
}

extension String {
  fileprivate func leftPadded(_ n: Int, with pad: Character = "0") -> String {
    count >= n ? self : String(repeating: pad, count: n - count) + self
  }

  fileprivate func trimmingCharacters(in set: String) -> String {
    let chars = Set(set)
    var s = Substring(self)
    while let c = s.first, chars.contains(c) { s = s.dropFirst() }
    while let c = s.last, chars.contains(c) { s = s.dropLast() }
    return String(s)
  }
}
