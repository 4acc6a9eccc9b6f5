import ELF
import Foundation
import TestSupport
import Testing

/// The reader against binutils' `readelf -W` on the same files.
@Suite("ELF reader agrees with readelf")
struct ELFReaderTests {
  /// `readelf -SW`: (index, name, type, size) of every section.
  func readelfSections(_ path: String) throws -> [(Int, String, String, UInt64)] {
    let r = try Fixtures.run("readelf", ["-SW", path])
    var out: [(Int, String, String, UInt64)] = []
    for line in r.stdout.split(separator: "\n") {
      guard let open = line.firstIndex(of: "["), let close = line.firstIndex(of: "]"),
        let index = Int(line[line.index(after: open)..<close].trimmingCharacters(in: .whitespaces))
      else { continue }
      let fields = line[line.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
      if index == 0 { continue }
      // name type address offset size ...
      out.append((index, String(fields[0]), String(fields[1]), UInt64(fields[4], radix: 16)!))
    }
    return out
  }

  func check(_ path: String) throws {
    let file = try ELFFile(path: path)
    let expected = try readelfSections(path)
    #expect(file.sections.count - 1 == expected.count)
    for (index, name, type, size) in expected {
      let s = file.sections[index]
      // readelf truncates nothing with -W; it names types, we compare the common ones.
      #expect(s.name == name, "section \(index)")
      #expect(s.size == size, "section \(index) \(name)")
      let typeNames: [String: SectionType] = [
        "PROGBITS": .progbits, "SYMTAB": .symtab, "STRTAB": .strtab,
        "RELA": .rela, "NOBITS": .nobits, "GROUP": .group,
      ]
      if let t = typeNames[type] { #expect(s.type == t, "section \(index) \(name)") }
    }
    try file.verify()
  }

  @Test("sections of an assembled fixture")
  func fixtureSections() throws {
    try check(try Fixtures.assemble("orc61.S"))
  }

  @Test("symbols of an assembled fixture")
  func fixtureSymbols() throws {
    let path = try Fixtures.assemble("orc61.S")
    let file = try ELFFile(path: path)
    let symbols = try #require(try file.symbolTable())
    let r = try Fixtures.run("readelf", ["-sW", path])
    var rows: [(Int, UInt64, String)] = []
    for line in r.stdout.split(separator: "\n") {
      let f = line.split(separator: " ", omittingEmptySubsequences: true)
      guard f.count >= 7, f[0].hasSuffix(":"), let n = Int(f[0].dropLast()) else { continue }
      rows.append((n, UInt64(f[1], radix: 16)!, f.count >= 8 ? String(f[7]) : ""))
    }
    #expect(rows.count == symbols.count)
    for (n, value, name) in rows {
      let s = try symbols.symbol(at: n)
      #expect(s.value == value)
      if s.type != .section { #expect(try symbols.name(of: s) == name) }
    }
    let f = try (0..<symbols.count).map { try symbols.symbol(at: $0) }.first {
      try symbols.name(of: $0) == "frame_func"
    }
    #expect(f?.type == .function && f?.binding == .global && f?.size == 8)
  }

  @Test("relocations of an assembled fixture")
  func fixtureRelocations() throws {
    let path = try Fixtures.assemble("orc61.S")
    let file = try ELFFile(path: path)
    let rela = try #require(file.section(named: ".rela.orc_unwind_ip"))
    let table = try file.relocations(rela)
    #expect(table.count == 8)
    let r = try Fixtures.run("readelf", ["-rW", path])
    let rows = r.stdout.split(separator: "\n").drop { !$0.contains(".rela.orc_unwind_ip") }.dropFirst(2)
      .prefix { !$0.isEmpty }
    #expect(rows.count == table.count)
    for (i, row) in rows.enumerated() {
      let f = row.split(separator: " ", omittingEmptySubsequences: true)
      #expect(UInt64(f[0], radix: 16) == table[i].offset)
      #expect(f[2] == "R_X86_64_PC32" && table[i].type == X86RelocationType.pc32.rawValue)
      // "... + 1" at the end of the row is the addend.
      #expect(Int64(f.last!, radix: 16) == table[i].addend)
    }
  }

  @Test("sections of 20 real modules of each generation", .enabled(if: Corpus.current != nil))
  func corpusSections() throws {
    let corpus = try #require(Corpus.current)
    for dir in [corpus.modules61, corpus.modules612] {
      for path in Corpus.sample(Corpus.modules(under: dir), count: 20) { try check(path) }
    }
  }

  @Test(
    "an aarch64 object is read", .enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/aarch64-linux-gnu-as")))
  func aarch64() throws {
    let path = try Fixtures.assemble("a64.S", source: ".text\nf: ret\n.data\n.quad f\n", arch: "aarch64")
    let file = try ELFFile(path: path)
    #expect(file.machine == .aarch64)
    try check(path)
  }
}

@Suite("Counts near the top of the address space (found by fuzzing)")
struct HugeCountTests {
  /// A real object whose `e_shnum` is 0, so that section header 0's `sh_size` gives the count.
  static func object(extendedCount: UInt64) throws -> [UInt8] {
    let path = try Fixtures.assemble("minimal.S")
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    let shoff = Int(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 40, as: UInt64.self) })
    bytes[60] = 0
    bytes[61] = 0
    withUnsafeBytes(of: extendedCount.littleEndian) { count in
      for k in 0..<8 { bytes[shoff + 32 + k] = count[k] }
    }
    return bytes
  }

  @Test(
    "a section count whose table size wraps is one truncation error at e_shoff, no trap",
    arguments: [0x03ff_ffff_ffff_ffff, (1 << 58) - 1, 1 << 58, (1 << 58) + 1, UInt64.max / 64, UInt64.max] as [UInt64])
  func hugeCount(_ count: UInt64) throws {
    let bytes = try Self.object(extendedCount: count)
    do {
      _ = try ELFFile(source: MappedFile(copying: bytes, path: "huge.o"))
      Issue.record("accepted a section count of \(count)")
    } catch {
      guard case .truncated = error.kind else {
        Issue.record("unexpected error \(error)")
        return
      }
      #expect(error.offset == 40)
    }
  }

  @Test(
    "every command prints one line of error and exits 1",
    .enabled(if: FileManager.default.isExecutableFile(atPath: Fixtures.orctool)))
  func commands() throws {
    let dir = try Fixtures.temporaryDirectory()
    let path = dir.appendingPathComponent("huge.o").path
    try Data(try Self.object(extendedCount: 0x03ff_ffff_ffff_ffff)).write(to: URL(fileURLWithPath: path))
    for args in [
      ["elf", "info", path], ["--dump=orc", path], ["--orc", "--generation", "6.1", path],
      ["check", "--orc", "--generation", "6.1", path],
    ] {
      let r = try Fixtures.run(Fixtures.orctool, args)
      #expect(r.status == 1, "\(args)")
      #expect(r.stderr.hasPrefix("orctool: \(path): error: truncated file: section header table"), "\(args)")
      #expect(r.stderr.split(separator: "\n").count == 1, "\(args)")
    }
  }
}
