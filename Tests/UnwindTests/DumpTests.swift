import Foundation
import TestSupport
import Testing
import Unwind

/// The dump `scripts/qemu-dump.sh` wrote (`make test` makes one under the cache).
var dumpDirectory: String? {
  let env = ProcessInfo.processInfo.environment
  let dir = env["ORCTOOL_DUMP"]
    ?? ((env["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")) + "/orctool/dump")
  return FileManager.default.fileExists(atPath: dir + "/vmcore") && FileManager.default.fileExists(atPath: dir + "/drgn.txt")
    ? dir : nil
}

@Suite("Unwinding a real 6.1 kernel dumped by QEMU", .enabled(if: dumpDirectory != nil && Corpus.current?.vmlinux61 != nil))
struct DumpTests {
  /// drgn's kernel frames (by PC) per PID, from drgn-traces.py's output.
  func drgnFrames(_ path: String) throws -> [Int32: [UInt64]] {
    var out: [Int32: [UInt64]] = [:]
    var current: Int32? = nil
    for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
      if line.hasPrefix("task ") {
        current = Int32(line.split(separator: " ")[1])
        if let c = current { out[c] = [] }
      } else if line.hasPrefix("#"), let c = current,
        let pc = UInt64(line.split(separator: " ")[1].dropFirst(2), radix: 16), pc >= 0xffff_8000_0000_0000
      {
        out[c]?.append(pc)
      }
    }
    return out
  }

  @Test("every task's trace is drgn's, frame for frame, and sleeping tasks are reliable")
  func matchesDrgn() throws {
    let dir = try #require(dumpDirectory)
    let session = try DumpSession(vmlinux: try #require(Corpus.current?.vmlinux61), core: dir + "/vmcore")
    let drgn = try drgnFrames(dir + "/drgn.txt")
    #expect(drgn.count > 40)
    var compared = 0
    for task in session.tasks.tasks where task.pid != 0 {
      let trace = session.trace(task)
      guard let expected = drgn[task.pid] else {
        Issue.record("task \(task.pid) \(task.comm) is not in drgn's list")
        continue
      }
      #expect(trace.addresses == expected, "task \(task.pid) \(task.comm)")
      if task.cpu == nil { #expect(trace.reliable, "task \(task.pid) \(task.comm): \(trace.verdict)") }
      compared += 1
    }
    #expect(compared == drgn.count)
  }

  @Test("the command line prints task, frames and verdict")
  func cli() throws {
    let dir = try #require(dumpDirectory)
    let r = try Fixtures.run(Fixtures.orctool, ["unwind", "--vmlinux", try #require(Corpus.current?.vmlinux61),
                                                "--core", dir + "/vmcore", "--task", "2"])
    #expect(r.status == 0)
    let lines = r.stdout.split(separator: "\n")
    #expect(lines.first == "task 2 kthreadd")
    #expect(lines.contains("#0 __schedule+0x34d/0x9f3") || lines.count > 2)
    #expect(lines.last == "reliable: end of stack")
  }
}
