import ELF
import Kernel
import TestSupport
import Testing

@Suite("alt_instr flags and EX_TYPE constants")
struct FormatConstantTests {
  @Test("alt_instr.cpuid read as a feature: the paravirt fixture's XENPV site")
  func alternativeFeature() throws {
    let file = try ELFFile(path: try Fixtures.assemble("paravirt.S"))
    let entry = try #require(try AlternativesTable(file: file, generation: .v6_1).entries.first)
    #expect(entry.cpuFeature.name(in: .v6_1) == "X86_FEATURE_XENPV")
    #expect(entry.flags == .not && entry.inverted && !entry.directCall)
  }

  @Test("6.1's ALTINSTR_FLAG_INV and 6.12's ALT_FLAG_NOT read as one flag")
  func altFlags() {
    #expect(AltInstrFlags(cpuid: 0x8000 | 297, flags: 0, generation: .v6_1) == .not)
    #expect(AltInstrFlags(cpuid: 297, flags: 0xffff, generation: .v6_1) == [])
    #expect(AltInstrFlags(cpuid: 297, flags: 3, generation: .v6_12) == [.not, .directCall])
  }

  @Test("6.12 alt_instr flags field through the table")
  func altFlags612() throws {
    let path = try Fixtures.assemble(
      "alt612flags.S",
      source: """
        .text
        1: nop
        2:
        .pushsection .altinstr_replacement, "ax"
        3: pause
        4:
        .popsection
        .pushsection .altinstructions, "a"
        .long 1b - .
        .long 3b - .
        .word 3 * 32 + 18
        .word 3
        .byte 2b - 1b, 4b - 3b
        .popsection
        """)
    let entry = try #require(try AlternativesTable(file: try ELFFile(path: path), generation: .v6_12).entries.first)
    #expect(entry.feature == 3 * 32 + 18 && entry.flags == [.not, .directCall] && entry.inverted && entry.directCall)
  }

  @Test("EX_TYPE_* names per generation")
  func extableTypes() {
    #expect(ExtableFixupType.uaccess.name(in: .v6_1) == "UACCESS")
    #expect(ExtableFixupType.copy.name(in: .v6_1) == "COPY" && ExtableFixupType.copy.name(in: .v6_12) == nil)
    #expect(ExtableFixupType.eretu.name(in: .v6_12) == "ERETU" && ExtableFixupType.eretu.name(in: .v6_1) == nil)
    #expect(ARM64ExtableFixupType.loadUnalignedZeropad.name == "LOAD_UNALIGNED_ZEROPAD")
    #expect(
      ExtableTypes.decode(17 | 0x100 | UInt32(bitPattern: -14 << 16), machine: .x86_64, generation: .v6_12).type
        == "EFAULT_REG")
  }
}
