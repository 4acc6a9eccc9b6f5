import Foundation
import TestSupport
import Testing

/// objtool's command line with several objects: a batch in one process.
@Suite("batch: many objects in one orctool process")
struct BatchTests {
  /// Fixtures with warnings and with ORC to write, and one malformed object between them.
  static let fixtures = ["orc61.S", "sls61.S", "uaccess.S", "callsites61.S", "unwind_hints61.S"]

  /// Copies of the assembled fixtures (and `bad.o`) in a new directory, by name.
  func copies(_ objects: [String], malformed: [UInt8]?) throws -> (dir: String, files: [String]) {
    let dir = try Fixtures.temporaryDirectory().path
    var files: [String] = []
    for (i, object) in objects.enumerated() {
      let path = dir + "/\(i).o"
      try FileManager.default.copyItem(atPath: object, toPath: path)
      files.append(path)
      if i == 1, let malformed {
        let bad = dir + "/bad.o"
        try Data(malformed).write(to: URL(fileURLWithPath: bad))
        files.append(bad)
      }
    }
    return (dir, files)
  }

  @Test("a batch writes each object and prints each one's warnings as one run per object does, in order")
  func sameAsOneByOne() throws {
    let objects = try Self.fixtures.map { try Fixtures.assemble($0) }
    let arguments = ["--hacks=jump_label", "--orc", "--retpoline", "--rethunk", "--sls", "--static-call", "--uaccess"]
    let malformed = try #require(try MalformedInputs.cases().first).bytes
    // One process per object, as kbuild runs objtool.
    let (singleDir, single) = try copies(objects, malformed: malformed)
    var expected = ""
    var statuses: [Int32] = []
    for f in single {
      let r = try Fixtures.run(Fixtures.orctool, arguments + [f])
      expected += r.stderr
      statuses.append(r.status)
    }
    #expect(statuses.filter { $0 != 0 }.count == 1, "only the malformed object fails: \(statuses)")
    #expect(expected.contains("warning: objtool: "), "the fixtures have warnings")
    // One process for all of them, on 1 and on 3 threads, and with the paths on standard input.
    for jobs in ["--jobs=1", "--jobs=3"] {
      let (dir, files) = try copies(objects, malformed: malformed)
      let r = try Fixtures.run(Fixtures.orctool, arguments + [jobs] + files)
      #expect(r.status == 1, "the first failure's status")
      #expect(r.stderr.replacingOccurrences(of: dir, with: singleDir) == expected, "\(jobs)")
      for (a, b) in zip(single, files) {
        #expect(FileManager.default.contents(atPath: a) == FileManager.default.contents(atPath: b), "\(b)")
      }
    }
    let (dir, files) = try copies(objects, malformed: malformed)
    let list = files.joined(separator: "\n")
    let piped = try Fixtures.run(
      "sh", ["-c", "printf '%s\\n' \"$1\" | \"$0\" " + arguments.joined(separator: " ") + " -", Fixtures.orctool, list])
    #expect(piped.status == 1)
    #expect(piped.stderr.replacingOccurrences(of: dir, with: singleDir) == expected)
    for (a, b) in zip(single, files) {
      #expect(FileManager.default.contents(atPath: a) == FileManager.default.contents(atPath: b), "\(b)")
    }
  }

  @Test("an empty list on standard input is one line of error")
  func emptyList() throws {
    let r = try Fixtures.run("sh", ["-c", "printf '' | \"$0\" --orc -", Fixtures.orctool])
    #expect(r.status == 1 && r.stderr == "orctool: no object paths on standard input\n", "\(r.stderr)")
  }
}
