import ELF
import Foundation
import Kernel
import Program
import TestSupport
import Testing
import Validation

/// `--disas=PATTERN` and `orctool disas`: each instruction with its CFI and ORC,
/// the alternative streams inline (seed 000's three streams).
@Suite("--disas: functions with their CFI, ORC and alternative streams")
struct DisasTests {
  @Test("seed 000: the site's original instruction, its streams inline, CFI and ORC beside each instruction")
  func seed000() throws {
    let path = try module("disas000.S", generation: .v6_1, Seed000.threeStreams(reversed: false))
    let r = try Fixtures.run(Fixtures.orctool, ["check", "--orc", "--dry-run", "--disas=f", path])
    #expect(r.status == 0, "\(r.stderr)")
    let lines = r.stdout.split(separator: "\n").map(String.init)
    #expect(lines.first?.hasPrefix("0000000000000000 <f> (.text, ") == true)
    // The site at f+0x1: the pv_ops call named through its relocation, the state before it, the ORC entry there.
    let site = try #require(lines.firstIndex { $0.contains("call *pv_ops+0x8(%rip)") })
    #expect(lines[site].hasPrefix("       1: ff 15 00 00 00 00 "))
    #expect(lines[site].contains("sp:sp+16 bp:(und)"))
    #expect(lines[site].hasSuffix("* sp:sp+16 bp:(und) type:call end:0"))
    #expect(lines[site + 1] == "          | replacement 1 (X86_FEATURE_XENPV):")
    // pushf; pop %rax: the deeper state inside the stream, as the flattened ORC has it.
    #expect(
      lines.contains {
        $0.hasPrefix("          |   +1") && $0.contains("pop %rax") && $0.hasSuffix("sp:sp+24 bp:(und)")
      })
    #expect(lines.contains("          | replacement 2 (X86_FEATURE_EPT_AD):"))
  }

  @Test("objtool's command line takes --disas=PATTERN; JSON from orctool disas; no match is an error")
  func commandLines() throws {
    let path = try module("disas000b.S", generation: .v6_1, Seed000.threeStreams(reversed: false))
    let objtool = try Fixtures.run(Fixtures.orctool, ["--orc", "--dry-run", "--disas=f", path])
    let check = try Fixtures.run(Fixtures.orctool, ["check", "--orc", "--dry-run", "--disas=f", path])
    #expect(objtool.status == 0 && !objtool.stdout.isEmpty && objtool.stdout == check.stdout)
    let disas = try Fixtures.run(Fixtures.orctool, ["disas", "f", path])
    #expect(disas.stdout == check.stdout)
    let json = try Fixtures.run(Fixtures.orctool, ["disas", "--format", "json", "f*", path])
    let functions = try JSONDecoder().decode([DisassembledFunction].self, from: json.stdoutData)
    #expect(functions.map(\.name) == ["f"])
    let line = try #require(functions.first?.lines.first { $0.alternatives != nil })
    #expect(line.location == "f+0x1" && line.orcStarts && line.alternatives?.count == 2)
    let none = try Fixtures.run(Fixtures.orctool, ["disas", "nosuch*", path])
    #expect(none.status == 1 && none.stderr == "orctool: \(path): no function matches nosuch*\n")
    let refused = try Fixtures.run(Fixtures.orctool, ["check", "--format", "json", "--disas=f", path])
    #expect(refused.status != 0 && refused.stderr.contains("orctool disas --format json"))
  }
}
