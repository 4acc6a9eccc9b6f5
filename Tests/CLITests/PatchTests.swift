import Foundation
import TestSupport
import Testing

/// `orctool patch`: the object as the kernel patches it, checked with objdump, readelf and ld.
@Suite("orctool patch: paravirt sites, alternatives and static keys applied as the kernel does")
struct PatchTests {
  /// Fixtures/patch61.S assembled, and Fixtures/pvops-vmlinux.S linked into an image whose
  /// pv_ops gives slots 30 and 31 their native functions.
  static func inputs() throws -> (object: String, vmlinux: String) {
    let object = try Fixtures.assemble("patch61.S")
    let pv = try Fixtures.assemble("pvops-vmlinux.S")
    let vmlinux = pv + ".linked"
    let ld = try Fixtures.run("ld", ["-o", vmlinux, pv])
    try #require(ld.status == 0, "\(ld.stderr)")
    return (object, vmlinux)
  }

  static func disassembly(_ path: String) throws -> String {
    let r = try Fixtures.run("objdump", ["-dr", "--no-show-raw-insn", "-j", ".text", path])
    try #require(r.status == 0, "\(r.stderr)")
    return normalized(r.stdout)
  }

  /// objdump's text with each run of blanks one space and each line trimmed.
  static func normalized(_ text: String) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
      line.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }.joined(separator: "\n")
  }

  @Test("native, XMM2, keys on: calls to pv_ops' functions, seed 001's pushf; pop %rax, a moved call, a jump")
  func native() throws {
    let (object, vmlinux) = try Self.inputs()
    let out = object + ".native"
    let r = try Fixtures.run(
      Fixtures.orctool,
      [
        "patch", "--generation", "6.1", "--pv-ops", vmlinux, "--features", "XMM2", "--static-keys", "on",
        "--verbose", "-o", out, object,
      ])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(
      r.stdout == """
        pvf+0x1: paravirt: call native_save_fl
        pvf+0xa: paravirt: call pv_native_irq_disable
        pvf+0x26: paravirt: nops (_paravirt_nop)
        pvf+0x1: alternative: pushfq; pop %rax; nop %eax, (%rax) (!X86_FEATURE_XENPV)
        pvf+0x10: alternative: call helper; nop (X86_FEATURE_XMM2)
        pvf+0x16: static key: jmp pvf+0x1d
        \(out): patched 3 of 3 paravirt sites, 2 of 2 alternative sites, 1 of 1 static key sites

        """)
    let d = try Self.disassembly(out)
    // The irq.save_fl site: apply_paravirt()'s call, then the !XENPV alternative over it,
    // its 4 bytes of padding one NOP (6.1's optimize_nops()).
    #expect(d.contains("1: pushf\n2: pop %rax\n3: nopl 0x0(%rax)\n"))
    // irq.irq_disable has no alternative: the direct call stays, its relocation made.
    #expect(d.contains("a: call f <pvf+0xf>\nb: R_X86_64_PLT32 pv_native_irq_disable-0x4\nf: nop\n"))
    // The replacement's call moved with its relocation; the static key's NOP became a jump.
    #expect(d.contains("10: call 15 <pvf+0x15>\n11: R_X86_64_PLT32 helper-0x4\n"))
    #expect(d.contains("16: jmp 1d <pvf+0x1d>\n"))
    // The pv_ops relocations of the rewritten sites are gone.
    #expect(!d.contains("pv_ops"))
    // readelf reads it without complaint; ld links it.
    let readelf = try Fixtures.run("readelf", ["-aW", out])
    #expect(readelf.status == 0 && !readelf.stderr.contains("Warning") && !readelf.stderr.contains("Error"))
    #expect(readelf.stdout.contains("UND pv_native_irq_disable"))
    let ld = try Fixtures.run("ld", ["-r", "-o", out + ".ld", out])
    #expect(ld.status == 0, "\(ld.stderr)")
  }

  @Test("no features, keys off: the XMM2 site keeps its NOPs, the key its NOP; a _paravirt_nop slot is NOPs")
  func defaults() throws {
    let (object, vmlinux) = try Self.inputs()
    let out = object + ".plain"
    let r = try Fixtures.run(
      Fixtures.orctool,
      ["patch", "--generation", "6.1", "--pv-ops", vmlinux, "--static-keys", "off", "-o", out, object])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout == "\(out): patched 3 of 3 paravirt sites, 1 of 2 alternative sites, 0 of 1 static key sites\n")
    let d = try Self.disassembly(out)
    // 6.1's optimize_nops(): six single-byte NOPs become one 6-byte NOP.
    #expect(d.contains("10: nopw 0x0(%rax,%rax,1)\n"))
    #expect(d.contains("16: nopl 0x0(%rax,%rax,1)\n"))
    // apply_paravirt() for a _paravirt_nop slot: add_nops() over the whole site.
    #expect(d.contains("26: nopw 0x0(%rax,%rax,1)\n2c: pop %rbp\n"))
  }

  @Test("errors: paravirt sites without --pv-ops, an unknown feature, a linked image: one line, exit 1")
  func errors() throws {
    let (object, vmlinux) = try Self.inputs()
    let out = object + ".err"
    let noPvOps = try Fixtures.run(Fixtures.orctool, ["patch", "--generation", "6.1", "-o", out, object])
    #expect(noPvOps.status == 1)
    #expect(
      noPvOps.stderr
        == "orctool: \(object): error: 3 paravirt sites (first at pvf+0x1) need the pv_ops targets: give --pv-ops VMLINUX (at offset 0x0)\n"
    )
    let feature = try Fixtures.run(
      Fixtures.orctool,
      ["patch", "--generation", "6.1", "--pv-ops", vmlinux, "--features", "NOSUCH", "-o", out, object])
    #expect(feature.status == 1 && feature.stderr.contains("unknown CPU feature 'NOSUCH'"))
    let linked = try Fixtures.run(Fixtures.orctool, ["patch", "--generation", "6.1", "-o", out, vmlinux])
    #expect(linked.status == 1 && linked.stderr.contains("a linked image is not supported yet"))
    #expect(!FileManager.default.fileExists(atPath: out))
    // Xen PV needs Xen's templates in the vmlinux.
    let xen = try Fixtures.run(
      Fixtures.orctool, ["patch", "--generation", "6.1", "--pv-ops", vmlinux, "--xen-pv", "-o", out, object])
    #expect(xen.status == 1 && xen.stderr.contains("no xen_cpu_ops symbol"))
  }

  /// The irq.save_fl site of kvm_on_user_return in kvm.ko: native and Xen PV.
  @Test(
    "kvm.ko (6.1 and 6.12): pushf; pop %rax at irq.save_fl natively, a direct call to xen_save_fl_direct on Xen PV",
    .enabled(if: Corpus.current?.vmlinux61 != nil && Corpus.current?.vmlinux612 != nil),
    arguments: ["6.1", "6.12"])
  func kvm(generation: String) throws {
    let corpus = try #require(Corpus.current)
    let modules = generation == "6.1" ? corpus.modules61 : corpus.modules612
    let vmlinux = try #require(generation == "6.1" ? corpus.vmlinux61 : corpus.vmlinux612)
    let module = try #require(Corpus.modules(under: modules).first { $0.hasSuffix("/kvm.ko") })
    let dir = try Fixtures.temporaryDirectory()
    func disassemble(_ extra: [String]) throws -> String {
      let out = dir.appendingPathComponent("kvm-\(generation)-\(extra.count).ko").path
      let r = try Fixtures.run(Fixtures.orctool, ["patch", "--pv-ops", vmlinux, "-o", out] + extra + [module])
      try #require(r.status == 0, "\(r.stderr)")
      let d = try Fixtures.run("objdump", ["-dr", "--no-show-raw-insn", "--disassemble=kvm_on_user_return", out])
      try #require(d.status == 0)
      #expect(try Fixtures.run("ld", ["-r", "-o", out + ".o", out]).status == 0)
      // The real objtool of that generation reads it (its ORC, kept as built).
      let objtool = generation == "6.1" ? corpus.objtool61 : corpus.objtool612
      #expect(try Fixtures.run(objtool, ["--dump=orc", out], environment: ["SRCARCH": "x86"]).status == 0)
      return Self.normalized(d.stdout)
    }
    let native = try disassemble([])
    #expect(native.contains(": pushf\n"))
    #expect(native.contains(": pop %rax\n"))
    #expect(!native.contains("pv_ops"))
    let xen = try disassemble(["--xen-pv"])
    #expect(xen.contains("R_X86_64_PLT32 xen_save_fl_direct-0x4\n"))
    #expect(!xen.contains(": pushf"))
  }
}
