import ELF
import Foundation
import TestSupport
import Testing
import Unwind

/// The dump `scripts/qemu-dump.sh` wrote (`make test` makes one under the cache).
var dumpDirectory: String? {
  let env = ProcessInfo.processInfo.environment
  let dir =
    env["ORCTOOL_DUMP"]
    ?? ((env["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")) + "/orctool/dump")
  return FileManager.default.fileExists(atPath: dir + "/vmcore")
    && FileManager.default.fileExists(atPath: dir + "/drgn.txt")
    ? dir : nil
}

/// One task of drgn's traces (scripts/drgn-traces.py).
struct DrgnTask {
  var comm: String
  /// The PCs of its kernel frames (drgn goes on into user space; those are dropped, as unwind-compare.py does).
  var pcs: [UInt64] = []
  /// drgn's `error: ...` line when it could not take the trace.
  var error: String?
}

/// drgn's tasks by PID, from drgn-traces.py's output.
func drgnTasks(_ path: String) throws -> [Int32: DrgnTask] {
  var out: [Int32: DrgnTask] = [:]
  var current: Int32? = nil
  for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
    let fields = line.split(separator: " ", omittingEmptySubsequences: false)
    if line.hasPrefix("task ") {
      current = try #require(Int32(fields[1]), "\(line)")
      out[current!] = DrgnTask(comm: fields.dropFirst(2).joined(separator: " "))
    } else if line.hasPrefix("#"), let c = current {
      let pc = try #require(UInt64(fields[1].dropFirst(2), radix: 16), "\(line)")
      if pc >= 0xffff_8000_0000_0000 { out[c]?.pcs.append(pc) }
    } else if line.hasPrefix("error:"), let c = current {
      out[c]?.error = String(line)
    }
  }
  return out
}

/// The addresses of every symbol of `vmlinux` by name, as `nm` (binutils) reads them.
func nmSymbols(_ vmlinux: String) throws -> [String: Set<UInt64>] {
  let r = try Fixtures.run("nm", [vmlinux], timeout: 120)
  try #require(r.status == 0, "nm: \(r.stderr)")
  var out: [String: Set<UInt64>] = [:]
  for line in r.stdout.split(separator: "\n") {
    let parts = line.split(separator: " ")
    if parts.count == 3, let address = UInt64(parts[0], radix: 16) {
      out[String(parts[2]), default: []].insert(address)
    }
  }
  return out
}

@Suite(
  "Unwinding a real 6.1 kernel dumped by QEMU",
  .enabled(if: (dumpDirectory != nil && Corpus.current?.vmlinux61 != nil) || Corpus.required))
struct DumpTests {
  @Test("every task's trace is drgn's, frame for frame, and sleeping tasks are reliable")
  func matchesDrgn() throws {
    let dir = try #require(dumpDirectory)
    let session = try DumpSession(vmlinux: try #require(Corpus.current?.vmlinux61), core: dir + "/vmcore")
    let drgn = try drgnTasks(dir + "/drgn.txt")
    #expect(drgn.count > 40)
    #expect(drgn.values.filter { !$0.pcs.isEmpty }.count > 40, "drgn has kernel frames for most tasks")
    var compared = 0
    for task in session.tasks.tasks where task.pid != 0 {
      let trace = session.trace(task)
      guard let expected = drgn[task.pid] else {
        Issue.record("task \(task.pid) \(task.comm) is not in drgn's list")
        continue
      }
      #expect(expected.error == nil, "drgn, task \(task.pid): \(expected.error ?? "")")
      #expect(trace.addresses == expected.pcs, "task \(task.pid) \(task.comm)")
      if task.cpu == nil { #expect(trace.reliable, "task \(task.pid) \(task.comm): \(trace.verdict)") }
      compared += 1
    }
    #expect(compared == drgn.count)
  }

  /// `orctool unwind`'s text: per task, its header line, its frame lines without `#N `, its verdict.
  func textBlocks(_ text: String) -> [(header: String, frames: [String], verdict: String)] {
    var out: [(header: String, frames: [String], verdict: String)] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) {
      if line.hasPrefix("task ") {
        out.append((line, [], ""))
      } else if line.hasPrefix("#"), !out.isEmpty, out[out.count - 1].verdict.isEmpty {
        let n = out[out.count - 1].frames.count
        #expect(line.hasPrefix("#\(n) "), "frame line \(line) after \(n) frames")
        out[out.count - 1].frames.append(String(line.dropFirst("#\(n) ".count)))
      } else if !out.isEmpty, out[out.count - 1].verdict.isEmpty {
        out[out.count - 1].verdict = line
      } else {
        Issue.record("unexpected line: \(line)")
      }
    }
    return out
  }

  @Test("the command line prints drgn's traces, task for task and frame for frame, text and JSON alike")
  func cli() throws {
    let dir = try #require(dumpDirectory)
    let vmlinux = try #require(Corpus.current?.vmlinux61)
    let core = dir + "/vmcore"
    let arguments = ["unwind", "--vmlinux", vmlinux, "--core", core]
    let text = try Fixtures.run(Fixtures.orctool, arguments, timeout: 300)
    let json = try Fixtures.run(Fixtures.orctool, arguments + ["--format", "json"], timeout: 300)
    try #require(text.status == 0 && text.stderr.isEmpty, "\(text.stderr)")
    try #require(json.status == 0 && json.stderr.isEmpty, "\(json.stderr)")
    let traces = try JSONDecoder().decode([TaskTrace].self, from: json.stdoutData)
    let blocks = textBlocks(text.stdout)

    // The two renderings say the same.
    try #require(blocks.count == traces.count)
    for (block, trace) in zip(blocks, traces) {
      #expect(block.header == "task \(trace.pid) \(trace.comm)" + (trace.cpu.map { " (running on CPU \($0))" } ?? ""))
      #expect(block.frames == trace.frames, "task \(trace.pid)")
      #expect(block.verdict == trace.verdict, "task \(trace.pid)")
      #expect(trace.frames.count == trace.addresses.count, "task \(trace.pid)")
    }

    // Every task drgn walked, walked alike: the same PCs, each named by a
    // symbol whose address plus the printed offset is that PC.
    let drgn = try drgnTasks(dir + "/drgn.txt")
    let symbols = try nmSymbols(vmlinux)
    let tasks = traces.filter { $0.pid != 0 }  // idle tasks: drgn has none
    #expect(drgn.count > 40)
    #expect(tasks.filter { !$0.addresses.isEmpty }.count > 40, "frames for most tasks")
    #expect(tasks.map(\.pid).sorted() == drgn.keys.sorted())
    for trace in tasks {
      guard let expected = drgn[trace.pid] else { continue }
      let task = "task \(trace.pid) \(trace.comm)"
      #expect(trace.comm == expected.comm, "\(task)")
      #expect(expected.error == nil, "drgn, \(task): \(expected.error ?? "")")
      #expect(trace.addresses == expected.pcs, "\(task): \(trace.frames)")
      for (frame, pc) in zip(trace.frames, expected.pcs) {
        // func+0xoff/0xsize
        let plus = try #require(frame.lastIndex(of: "+"), "\(task): \(frame)")
        let slash = try #require(frame.lastIndex(of: "/"), "\(task): \(frame)")
        let name = String(frame[..<plus])
        let offset = try #require(UInt64(frame[frame.index(plus, offsetBy: 3)..<slash], radix: 16), "\(task): \(frame)")
        let size = try #require(UInt64(frame[frame.index(slash, offsetBy: 3)...], radix: 16), "\(task): \(frame)")
        #expect(frame[plus...].hasPrefix("+0x") && frame[slash...].hasPrefix("/0x"), "\(task): \(frame)")
        #expect(
          symbols[name]?.contains(pc &- offset) == true,
          "\(task): \(frame) is not 0x\(String(pc, radix: 16)) (nm: \(name) at \(symbols[name].map { $0.map { String($0, radix: 16) } } ?? []))"
        )
        #expect(offset <= size, "\(task): \(frame)")
      }
      if trace.cpu == nil { #expect(trace.verdict.hasPrefix("reliable: "), "\(task): \(trace.verdict)") }
    }

    // --task prints that task's block of the full output, and an unknown PID is one line of error.
    let kthreadd = try Fixtures.run(Fixtures.orctool, arguments + ["--task", "2"], timeout: 300)
    #expect(kthreadd.status == 0 && kthreadd.stderr.isEmpty)
    let block = try #require(blocks.first { $0.header.hasPrefix("task 2 ") })
    #expect(block.header == "task 2 kthreadd")
    #expect(
      kthreadd.stdout
        == ([block.header] + block.frames.enumerated().map { "#\($0) \($1)" } + [block.verdict, ""]).joined(
          separator: "\n"))
    let missing = try Fixtures.run(Fixtures.orctool, arguments + ["--task", "999999"], timeout: 300)
    #expect(missing.status == 1 && missing.stdout.isEmpty)
    #expect(missing.stderr == "orctool: \(core): error: no task with PID 999999\n")
  }

  @Test("a vmlinux whose .BTF lacks struct inactive_task_frame: one line of error naming it, exit status 1")
  func missingTaskFrame() throws {
    let dir = try #require(dumpDirectory)
    let vmlinux = try #require(Corpus.current?.vmlinux61)
    let work = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: work) }  // two copies of 80 MB
    // Without its debug info (which the unwinder does not read) the copy is 80 MB, not 590.
    let stripped = work.appendingPathComponent("vmlinux").path
    let strip = try Fixtures.run("objcopy", ["--strip-debug", vmlinux, stripped], timeout: 120)
    try #require(strip.status == 0, "objcopy: \(strip.stderr)")
    let fine = try Fixtures.run(
      Fixtures.orctool, ["unwind", "--vmlinux", stripped, "--core", dir + "/vmcore", "--task", "2"],
      timeout: 300)
    #expect(fine.status == 0 && fine.stdout.hasPrefix("task 2 kthreadd\n#0 "), "\(fine.stderr)")

    // Rename the struct in the .BTF string table: inactive_task_frame -> inactive_task_framX.
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: stripped)))
    let btf = try #require(try ELFFile(path: stripped).section(named: ".BTF"))
    func u32(_ at: Int) -> Int { (0..<4).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
    let header = Int(btf.offset)
    let strings = header + u32(header + 4) + u32(header + 16)  // hdr_len + str_off
    let name = Array("\0inactive_task_frame\0".utf8)
    let found = bytes[strings..<(strings + u32(header + 20))].ranges(of: name)
    try #require(found.count == 1, "\(found.count) strings inactive_task_frame in .BTF")
    bytes[found[0].upperBound - 2] = UInt8(ascii: "X")
    let broken = work.appendingPathComponent("vmlinux-no-frame").path
    try Data(bytes).write(to: URL(fileURLWithPath: broken))

    let r = try Fixtures.run(
      Fixtures.orctool, ["unwind", "--vmlinux", broken, "--core", dir + "/vmcore"], timeout: 300)
    #expect(r.status == 1 && r.stdout.isEmpty)
    #expect(
      r.stderr
        == "orctool: \(broken): error: .BTF has no struct inactive_task_frame (at offset 0x\(String(btf.offset, radix: 16)))\n"
    )
  }
}
