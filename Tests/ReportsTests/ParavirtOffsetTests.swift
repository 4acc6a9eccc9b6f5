import Foundation
import TestSupport
import Testing

/// A `.parainstructions` site whose place (a relocation's addend) is near
/// 2^64: the report reads no bytes there and says so, it does not trap.
@Suite("Paravirt sites at offsets near 2^64")
struct ParavirtOffsetTests {
  @Test("orctool paravirt: a site at .text-1, -6, -7: the invariant warning, exit 0", arguments: [1, 6, 7, 0x1000])
  func siteNearTheTop(minus: Int) throws {
    let path = try Fixtures.assemble(
      "pv.S",
      source: """
        .include "orc.inc"
        MODINFO_VERMAGIC 6.1.0-56-cloud-amd64
        .text
        .globl f
        .type f, @function
        f:
        1: call *pv_ops(%rip)
        ret
        .size f, . - f
        .section .parainstructions,"a"
        .quad 1b - \(minus)
        .byte 0, 6
        .short 0
        .long 0
        """)
    let r = try Fixtures.run(Fixtures.orctool, ["paravirt", path], timeout: 30)
    #expect(!r.signaled, "\(r.stderr)")
    #expect(r.status == 0, "\(r.stderr)")
    let offset = String(UInt64.max - UInt64(minus) + 1, radix: 16)
    #expect(r.stderr.isEmpty)
    #expect(
      r.stdout.hasSuffix(
        "\(path): warning: orctool: .text+0x\(offset): paravirt site: site does not begin with call *pv_ops+off(%rip)\n"
      ))
  }

  @Test(
    "orctool patch: a site at .text-1, -6, -7: a one-line error naming it, no trap (found by fuzzing)",
    arguments: [1, 6, 7, 0x1000])
  func patchNearTheTop(minus: Int) throws {
    let path = try Fixtures.assemble(
      "pvp.S",
      source: """
        .include "orc.inc"
        MODINFO_VERMAGIC 6.1.0-56-cloud-amd64
        .text
        .globl f
        .type f, @function
        f:
        1: call *pv_ops(%rip)
        ret
        .size f, . - f
        .section .parainstructions,"a"
        .quad 1b - \(minus)
        .byte 0, 6
        .short 0
        .long 0
        """)
    let pv = try Fixtures.assemble("pvops-vmlinux.S")
    let vmlinux = pv + ".linked"
    #expect(try Fixtures.run("ld", ["-o", vmlinux, pv]).status == 0)
    let out = path + ".patched"
    let r = try Fixtures.run(
      Fixtures.orctool, ["patch", "--generation", "6.1", "--pv-ops", vmlinux, "-o", out, path], timeout: 30)
    #expect(!r.signaled, "\(r.stderr)")
    #expect(r.status == 1)
    let offset = String(UInt64.max - UInt64(minus) + 1, radix: 16)
    #expect(r.stderr.hasPrefix("orctool: \(path): error: patch site .text+0x\(offset) runs past the end of .text"))
    #expect(!FileManager.default.fileExists(atPath: out))
  }
}
