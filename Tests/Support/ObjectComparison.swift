import ELF
import Foundation

/// Two objects compared section by section as readelf prints them (what
/// scripts/compare-kbuild.sh compares): each section's bytes (`readelf -x`) with its
/// relocations (`readelf -r -W`, the file offset left out), the symbol table
/// (`readelf -s -W`), and the ORC as `objtool --dump=orc` prints it.
public enum ObjectComparison {
  /// `readelf -x SECTION` (the path replaced) and the relocations of `.rela` + SECTION.
  public static func dump(_ path: String, section: String) throws -> String {
    let hex = try Fixtures.run("readelf", ["-x", section, path])
    let relocations = try Fixtures.run("readelf", ["-r", "-W", path]).stdout
    var out = (hex.stdout + hex.stderr).replacingOccurrences(of: path, with: "FILE")
    var on = false
    for line in relocations.split(separator: "\n", omittingEmptySubsequences: false) {
      if line.hasPrefix("Relocation section") {
        on = line.contains("'.rela\(section)'")
        if on, let r = line.range(of: #" at offset 0x[0-9a-f]+"#, options: .regularExpression) {
          out += line.replacingCharacters(in: r, with: "") + "\n"
        }
        continue
      }
      if on && line.isEmpty { on = false }
      if on { out += line + "\n" }
    }
    return out
  }

  /// The section names of `path` (without the relocation sections, compared with their sections).
  public static func sections(_ path: String) throws -> [String] {
    let text = try Fixtures.run("readelf", ["-S", "-W", path]).stdout
    var names: [String] = []
    for line in text.split(separator: "\n") {
      guard let close = line.firstIndex(of: "]"), line.trimmingCharacters(in: .whitespaces).hasPrefix("[") else {
        continue
      }
      let rest = line[line.index(after: close)...].split(separator: " ")
      guard let name = rest.first, !name.hasPrefix(".rela"), name != "Name" else { continue }
      names.append(String(name))
    }
    return names
  }

  /// What differs between `a` and `b`: section names, `symtab`, `orc` (dumped by `objtool`).
  public static func differences(_ a: String, _ b: String, objtool: String) throws -> [String] {
    var out: [String] = []
    for s in Set(try sections(a) + sections(b)).sorted() where try dump(a, section: s) != dump(b, section: s) {
      out.append(s)
    }
    let symbols = { (p: String) in try Fixtures.run("readelf", ["-s", "-W", p]).stdout }
    if try symbols(a) != symbols(b) { out.append("symtab") }
    let orc = { (p: String) in try Fixtures.run(objtool, ["--dump=orc", p]).stdout }
    if try orc(a) != orc(b) { out.append("orc") }
    return out
  }
}

extension ObjectComparison {
  /// What differs between `a` and `b` read in process (fast enough for a build's worth of
  /// objects): each section's header fields but its file offset, and its bytes, compared
  /// by name in section order (the relocation sections and `.symtab` too, so relocations
  /// and symbols are compared entry by entry); "sections" when the lists of names differ.
  public static func sectionDifferences(_ a: String, _ b: String) throws -> [String] {
    let x = try ELFFile(path: a)
    let y = try ELFFile(path: b)
    guard x.sections.map(\.name) == y.sections.map(\.name) else { return ["sections"] }
    var out: [String] = []
    for (s, t) in zip(x.sections, y.sections) {
      let header = { (h: Section) in [h.type.rawValue, UInt32(truncatingIfNeeded: h.flags.rawValue), h.link, h.info] }
      let sizes = { (h: Section) in [h.size, h.entrySize, h.alignment, h.address] }
      let bytes = { (f: ELFFile, h: Section) in h.hasFileContents ? Array(f.contents(of: h).bytes) : [] }
      if header(s) != header(t) || sizes(s) != sizes(t) || bytes(x, s) != bytes(y, t) { out.append(s.name) }
    }
    return out
  }
}
