import ELF
import Foundation
import TestSupport
import Testing
import Unwind

/// Directories holding `vmcore` (ELF) and `vmcore.kdump` (kdump-compressed;
/// and `vmcore.kdump.flat`, QEMU 7.2's flattened output, when it is there) of
/// one paused guest: `ORCTOOL_DUMP`, the cached dump, and each scenario of
/// the dump cache (`~/.cache/orctool/dumps/NAME`).
let kdumpPairs: [String] = {
  let env = ProcessInfo.processInfo.environment
  let cache = (env["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")) + "/orctool"
  var dirs = [env["ORCTOOL_DUMP"], cache + "/dump"].compactMap { $0 }
  let scenarios = (try? FileManager.default.contentsOfDirectory(atPath: cache + "/dumps")) ?? []
  dirs += scenarios.sorted().map { cache + "/dumps/" + $0 }
  var seen = Set<String>()
  return dirs.filter { dir in
    FileManager.default.fileExists(atPath: dir + "/vmcore")
      && FileManager.default.fileExists(atPath: dir + "/vmcore.kdump") && seen.insert(dir).inserted
  }
}()

@Suite("A guest dumped twice, as an ELF core and kdump-compressed", .enabled(if: !kdumpPairs.isEmpty))
struct KdumpPairTests {
  /// The vmlinux of the kernel dumped in `dir`: the corpus's whose name ends in VMCOREINFO's `OSRELEASE`.
  static func vmlinux(for dir: String) throws -> String? {
    let release = try CoreDump(path: dir + "/vmcore").vmcoreinfo["OSRELEASE"]
    return [Corpus.current?.vmlinux61, Corpus.current?.vmlinux612].compactMap { $0 }.first {
      release != nil && URL(fileURLWithPath: $0).lastPathComponent == "vmlinux-" + release!
    }
  }

  /// Each pair's kdump-compressed files: the plain one, and the flattened one when it is there.
  static let kdumpFiles: [String] = kdumpPairs.flatMap { dir in
    ["/vmcore.kdump", "/vmcore.kdump.flat"].map { dir + $0 }.filter { FileManager.default.fileExists(atPath: $0) }
  }

  @Test("the same VMCOREINFO, registers and physical pages", arguments: kdumpFiles)
  func samePhysicalMemory(path: String) throws {
    let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
    let elf = try CoreDump(path: dir + "/vmcore")
    let kdump = try #require(try openMemoryDump(path: path) as? KdumpCompressed)
    #expect(kdump.isFlattened || !path.hasSuffix(".flat"))
    #expect(kdump.partial == nil)
    #expect(kdump.vmcoreinfo == elf.vmcoreinfo && kdump.vmcoreinfo["OSRELEASE"] != nil)
    #expect(kdump.cpus == elf.cpus && !kdump.cpus.isEmpty)
    let size = kdump.blockSize
    var same = 0
    var different: [UInt64] = []
    var onlyELF: [UInt64] = []
    for pfn in 0..<kdump.maxMapnr {
      let a = elf.readPhysical(pfn * UInt64(size), size)
      guard let b = kdump.readPhysical(pfn * UInt64(size), size) else {
        if a != nil { onlyELF.append(pfn) }
        continue
      }
      if let a, memcmp(a.bytes.baseAddress!, b.bytes.baseAddress!, size) == 0 {
        same += 1
      } else {
        different.append(pfn)
      }
    }
    #expect(same == kdump.dumpedPages && same > 1000, "\(same) identical pages of \(kdump.dumpedPages)")
    #expect(different.isEmpty, "pages that differ: \(different.prefix(10))")
    #expect(onlyELF.isEmpty, "pages only the ELF core has: \(onlyELF.prefix(10))")
    #expect(kdump.pageErrors == 0, "\(kdump.firstPageError.map(String.init(describing:)) ?? "")")
  }

  @Test(
    "KernelMemory: the same tasks, page-table walks and bytes of every task's stack and task_struct; the same traces",
    arguments: kdumpPairs)
  func sameKernelMemory(dir: String) throws {
    guard let vmlinux = try Self.vmlinux(for: dir) else { return }  // a kernel the corpus has no vmlinux of
    let a = try DumpSession(vmlinux: vmlinux, core: dir + "/vmcore")
    let b = try DumpSession(vmlinux: vmlinux, core: dir + "/vmcore.kdump")
    #expect(b.dump is KdumpCompressed)
    #expect(a.tasks.tasks == b.tasks.tasks && a.tasks.tasks.count > 10)
    #expect(a.tasks.cpuStacks == b.tasks.cpuStacks)
    var pages = 0
    for task in a.tasks.tasks {
      let addresses =
        Array(stride(from: task.stack, to: task.stack &+ KernelTasks.threadSize, by: 4096)) + [task.address]
      for va in addresses {
        #expect(a.memory.translate(va) == b.memory.translate(va), "task \(task.pid) at 0x\(String(va, radix: 16))")
        let bytes = a.memory.read(va, 4096)
        #expect(bytes != nil && bytes == b.memory.read(va, 4096), "task \(task.pid) at 0x\(String(va, radix: 16))")
        pages += 1
      }
      let (x, y) = (a.trace(task), b.trace(task))
      #expect(x.frames == y.frames && x.stacks == y.stacks && x.verdict == y.verdict, "task \(task.pid) \(task.comm)")
    }
    #expect(pages > 50)
  }
}
