import ELF
import Foundation
import Kernel
import ORC
import TestSupport
import Testing
import Unwind

/// Dumps and tables whose values sit at the edges of the address space: each
/// used to trap on an overflowing addition, and now reads as unmapped, off
/// the stack or absent.
@Suite("Hostile dumps: addresses at the edges")
struct HostileDumpTests {
  let top: UInt64 = 0xffff_ffff_ffff_f000

  /// `CoreDumpTests.build()` plus the last page of the address space
  /// (PML4, PDPT, PD, PT index 0x1ff) mapped to physical 0xb000.
  func build(physBase: String = "0") -> CoreBuilder {
    var c = CoreDumpTests().build()
    c.vmcoreinfo = "SYMBOL(init_top_pgt)=ffffffff80001000\nNUMBER(phys_base)=\(physBase)\nKERNELOFFSET=0\n"
    c.put(0x8003, at: 0x1000 + 0x1ff * 8)
    c.put(0x9003, at: 0x8000 + 0x1ff * 8)
    c.put(0xa003, at: 0x9000 + 0x1ff * 8)
    c.put(0xb003, at: 0xa000 + 0x1ff * 8)
    c.put(0x1122_3344_5566_7788, at: 0xbff8)
    return c
  }

  func write(_ bytes: [UInt8]) throws -> String { try CoreDumpTests().write(bytes) }

  /// The structures the task walk reads, at small offsets: task_struct (tasks 0x10, pid 0x20,
  /// comm 0x30, stack 0x40, thread.sp 0x50, signal 0x60, thread_node 0x70), signal_struct
  /// (thread_head 0x10) and rq (curr 0x8).
  static func taskBTF() throws -> BTF {
    var b = BTFBuilder()
    let int = b.int("long")
    let thread = b.structure("thread_struct", size: 8, members: [("sp", int, 0)])
    _ = b.structure(
      "task_struct", size: 0x100,
      members: [
        ("tasks", int, 0x10), ("pid", int, 0x20), ("comm", int, 0x30), ("stack", int, 0x40),
        ("thread", thread, 0x50), ("signal", int, 0x60), ("thread_node", int, 0x70),
      ])
    _ = b.structure("signal_struct", size: 0x20, members: [("thread_head", int, 0x10)])
    _ = b.structure("rq", size: 0x20, members: [("curr", int, 0x8)])
    let file = MappedFile(copying: b.bytes(), path: "btf")
    let btf = try BTF(data: ByteView(file.bytes, fileOffset: 0), path: "btf", owner: file)
    return btf
  }

  @Test(
    "an empty PT_NOTE at any p_offset holds no notes",
    arguments: [UInt64(0x200), 0x7fff_ffff_ffff_ffff, 0x8000_0000_0000_0000, UInt64.max])
  func emptyNoteSegment(offset: UInt64) throws {
    var bytes = build().bytes()
    bytes.put(offset, at: 64 + 8)  // p_offset of the PT_NOTE
    bytes.put(UInt64(0), at: 64 + 32)  // p_filesz
    let dump = try CoreDump(path: try write(bytes))
    #expect(dump.cpus.isEmpty && dump.vmcoreinfo.isEmpty)
  }

  @Test(
    "a page-table root at the top of physical memory: nothing translates",
    // init_top_pgt is at physical 0x1000 + phys_base: the root at 2^64 - 8, the last page, 16 MiB below the top.
    arguments: ["-4104", "-8192", "-16781312"])
  func rootAtTheTop(physBase: String) throws {
    let c = build(physBase: physBase)
    let memory = try KernelMemory(dump: try CoreDump(path: try write(c.bytes())), initTopPgt: nil)
    #expect(memory.translate(0) == nil)
    #expect(memory.translate(0xffff_c900_0000_0008) == nil)
    #expect(memory.u64(top + 0xff8) == nil)
  }

  @Test("reads that end at the top of the address space succeed; ones that would cross it are nil")
  func readsAtTheTop() throws {
    let memory = try KernelMemory(dump: try CoreDump(path: try write(build().bytes())), initTopPgt: nil)
    #expect(memory.u64(top + 0xff8) == 0x1122_3344_5566_7788)
    #expect(memory.read(top + 0xff8, 8) == [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11])
    #expect(memory.u32(top + 0xffc) == 0x1122_3344)
    #expect(memory.u32(top + 0xff8) == 0x5566_7788)
    #expect(memory.read(top + 0xfff, 1) == [0x11])
    #expect(memory.read(top + 0xfff, 2) == nil)
    #expect(memory.u64(top + 0xffc) == nil)
  }

  @Test("task and stack addresses read from the dump wrap to unmapped memory")
  func taskAddresses() throws {
    let btf = try Self.taskBTF()
    let memory = try KernelMemory(dump: try CoreDump(path: try write(build().bytes())), initTopPgt: nil)
    // runqueues at the direct map's physical 0x100 (curr = 0); init_task near the top.
    let runqueues: UInt64 = 0xffff_8880_0000_0100
    for initTask in [top + 0xff0, top + 0xf00, UInt64.max] {
      let tasks = try KernelTasks(
        symbols: ["init_task": initTask, "runqueues": runqueues], btf: btf, memory: memory, cpus: 1)
      #expect(tasks.tasks.allSatisfy { $0.address == initTask })
    }
    // __per_cpu_offset's slot of CPU 0 is the last word of the address space (holding 0): CPU 1's wraps to 0.
    var c = build()
    c.put(0, at: 0xbff8)
    let zeroed = try KernelMemory(dump: try CoreDump(path: try write(c.bytes())), initTopPgt: nil)
    #expect(
      throws: ELFError(
        .malformed("the dump has no memory at __per_cpu_offset[1] (0x0)"), path: zeroed.dump.path, offset: 0)
    ) {
      try KernelTasks(
        symbols: ["init_task": top, "runqueues": runqueues, "__per_cpu_offset": top + 0xff8], btf: btf,
        memory: zeroed, cpus: 2)
    }
  }

  /// The fuzzer's hang (FuzzCoreDump, 11 s on one 43 KB core): many processes whose `signal`
  /// shares one long thread list. Each process used to walk the whole list again, so the work
  /// grew with processes × threads until the walk's budget stopped it, before the processes at
  /// the end of the list. Each thread node is now followed once in the whole walk.
  @Test("processes sharing one long thread list: each node followed once, the last process still found")
  func sharedThreadList() throws {
    let btf = try Self.taskBTF()
    // Everything in the direct map's 2 MiB page: virtual = direct + physical.
    let direct: UInt64 = 0xffff_8880_0000_0000
    var c = CoreDumpTests().build()
    c.memory += [UInt8](repeating: 0, count: 0x100000 - c.memory.count)
    let processes = 2100
    let threads = 2000
    func process(_ i: Int) -> Int { 0x10000 + i * 0x100 }
    let shared = 0xa0000
    let own = 0xa0100
    let node = 0xb0000
    let loner = 0xc0000
    for i in 0..<processes {
      let next = i + 1 < processes ? process(i + 1) : process(0)
      c.put(direct + UInt64(next + 0x10), at: process(i) + 0x10)
      c.put(UInt64(i + 1), at: process(i) + 0x20)
      c.put(direct + UInt64(i + 1 < processes ? shared : own), at: process(i) + 0x60)
    }
    // The shared list: `threads` nodes, 8 bytes apart, the last back to its head.
    c.put(direct + UInt64(node), at: shared + 0x10)
    for j in 0..<threads {
      c.put(direct + UInt64(j + 1 < threads ? node + (j + 1) * 8 : shared + 0x10), at: node + j * 8)
    }
    // The last process's own list: one thread, pid 4242.
    c.put(direct + UInt64(loner + 0x70), at: own + 0x10)
    c.put(direct + UInt64(own + 0x10), at: loner + 0x70)
    c.put(4242, at: loner + 0x20)
    let memory = try KernelMemory(dump: try CoreDump(path: try write(c.bytes())), initTopPgt: nil)
    let tasks = try KernelTasks(
      symbols: ["init_task": direct + UInt64(process(0)), "runqueues": direct + 0x100], btf: btf,
      memory: memory, cpus: 1)
    #expect(tasks.tasks.contains { $0.pid == 4242 && $0.address == direct + UInt64(loner) })
    // The shared list's threads once each, the other processes (whose list holds no new node) as themselves.
    #expect(tasks.tasks.count == threads + (processes - 2) + 1)
  }

  @Test("stacks read from the dump are cut at the ends of the address space")
  func stackRanges() {
    #expect(KernelTasks.stack(bottom: 0x1000) == 0x1000..<0x5000)
    #expect(KernelTasks.stack(bottom: UInt64.max - 0x4000) == (UInt64.max - 0x4000)..<UInt64.max)
    #expect(KernelTasks.stack(bottom: UInt64.max - 0x3fff) == (UInt64.max - 0x3fff)..<UInt64.max)
    #expect(KernelTasks.stack(bottom: UInt64.max) == UInt64.max..<UInt64.max)
    #expect(KernelTasks.stack(top: 0x4000) == 0..<0x4000)
    #expect(KernelTasks.stack(top: 0x3fff) == 0..<0x3fff)
    #expect(KernelTasks.stack(top: 8) == 0..<8)
  }

  @Test("a CFA at the top of a stack that ends at the top of the address space")
  func stackAtTheTop() {
    let stack = (UInt64.max - 0x4000)..<UInt64.max
    let unwinder = Unwinder(
      lookup: ORCLookup(layout: .of(.v6_1), addresses: [text], entries: [entry(.sp, 16)], textEnd: text + 0x100),
      text: [text..<(text + 0x100)])
    var memory = WordMemory()
    memory.words[UInt64.max - 15] = text + 0x10
    memory.words[UInt64.max - 7] = text + 0x20
    // The return address at sp + 8: the last word that fits below the bound.
    let fits = unwinder.unwind(
      ip: text + 5, sp: UInt64.max - 23, bp: 0, signal: false, stacks: [stack], memory: memory, maxFrames: 2)
    #expect(fits.frames.count == 2 && fits.frames[1].ip == text + 0x10)
    // At sp + 16 it would end past the bound, wrapping to 0.
    let past = unwinder.unwind(
      ip: text + 5, sp: UInt64.max - 15, bp: 0, signal: false, stacks: [stack], memory: memory, maxFrames: 2)
    #expect(past.end == .stackAccess(ip: text + 5, address: UInt64.max - 7))
    let wrapped = unwinder.unwind(
      ip: text + 5, sp: UInt64.max - 7, bp: 0, signal: false, stacks: [stack], memory: memory, maxFrames: 2)
    #expect(wrapped.end == .stackAccess(ip: text + 5, address: 0))
  }

  @Test("pt_regs at the top of the address space: the register is missing")
  func registersAtTheTop() {
    let unwinder = Unwinder(
      lookup: ORCLookup(layout: .of(.v6_1), addresses: [text], entries: [entry(.r10, 0)], textEnd: text + 0x100),
      text: [text..<(text + 0x100)])
    for regs in [UInt64.max - 8, UInt64.max - 56, UInt64.max - 55] {
      let t = unwinder.unwind(
        ip: text + 5, sp: stackBase, bp: 0, signal: true, regsAddress: regs, stacks: [stack], memory: WordMemory())
      #expect(t.end == .missingRegister(ip: text + 5, register: "R10"))
    }
  }

  @Test("ORC lookups over addresses at the edges: no index, every entry searched")
  func lookupEdges() {
    let e = entry(.sp, 8)
    let atTop = ORCLookup(layout: .of(.v6_1), addresses: [UInt64.max - 1, UInt64.max], entries: [e, e])
    #expect(atTop.textEnd == UInt64.max)
    #expect(atTop.entry(for: UInt64.max - 1) == e)
    #expect(atTop.entry(for: UInt64.max) == nil)
    let below = ORCLookup(layout: .of(.v6_1), addresses: [0x2000], entries: [e], textEnd: 0x1000)
    #expect(below.entry(for: 0x2000) == nil && below.entry(for: 0x800) == nil)
    let f = entry(.bp, 16)
    let wide = ORCLookup(layout: .of(.v6_1), addresses: [0, 0xffff_ffff_ffff_0000], entries: [e, f])
    #expect(wide.entry(for: 5) == e)
    #expect(wide.entry(for: 0xffff_ffff_ffff_0000) == f)
    #expect(wide.entry(for: 0xffff_ffff_fffe_ffff) == e)
    let gig = ORCLookup(layout: .of(.v6_1), addresses: [0, 1 << 30], entries: [e, f], textEnd: (1 << 30) + 1)
    #expect(gig.entry(for: (1 << 30) - 1) == e && gig.entry(for: 1 << 30) == f)
  }

  @Test(
    "a vmlinux whose .orc_unwind_ip is shorter than .orc_unwind (with relocations): one line of error",
    arguments: [UInt64(2), 3])
  func shortIPTable(size: UInt64) throws {
    let obj = try Fixtures.assemble("minimal.S")
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: obj)))
    let elf = try ELFFile(source: MappedFile(copying: bytes, path: obj))
    let ip = try #require(elf.section(named: ".orc_unwind_ip"))
    let count = try #require(elf.section(named: ".orc_unwind")).size / 6
    try #require(count == 1)
    bytes.put(size, at: Int(ip.headerOffset) + 32)
    let vmlinux = try write(bytes)
    let core = try write(build().bytes())
    let r = try Fixtures.run(
      Fixtures.orctool, ["unwind", "--vmlinux", vmlinux, "--core", core, "--generation", "6.1"], timeout: 60)
    #expect(!r.signaled)
    #expect(r.status == 1 && r.stdout.isEmpty)
    #expect(
      r.stderr
        == "orctool: \(vmlinux): error: .orc_unwind_ip has 0 entries for \(count) ORC entries (at offset 0x\(String(ip.headerOffset, radix: 16)))\n"
    )
    // Its neighbour, a whole entry: the table is read and the error is the next thing missing.
    bytes.put(UInt64(4), at: Int(ip.headerOffset) + 32)
    let whole = try write(bytes)
    let ok = try Fixtures.run(
      Fixtures.orctool, ["unwind", "--vmlinux", whole, "--core", core, "--generation", "6.1"], timeout: 60)
    #expect(!ok.signaled && !ok.stderr.contains(".orc_unwind_ip"), "\(ok.stderr)")
  }
}
