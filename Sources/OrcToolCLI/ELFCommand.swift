import ArgumentParser
import ELF
import Kernel
import ORC

/// `orctool elf …`: what the reader sees in a file.
struct ELFCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "elf", abstract: "Inspect an ELF file as orctool reads it.", subcommands: [Info.self])

  /// `orctool elf info FILE`: machine, generation and the kernel sections.
  struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Read the whole file (symbols, relocations) and print its machine, kernel generation and sections.")

    @Argument(help: "An ELF file.") var file: String

    func run() throws {
      try reportingErrors {
        let elf = try ELFFile(path: file)
        try elf.verify()
        var lines = ["\(elf.path): ELF64 \(elf.machine), \(elf.sections.count) sections"]
        // Info can go on without knowing the generation: it prints "unknown".
        let policy = GenerationPolicy(forced: nil, environment: kbuildEnvironment())
        if let (gen, evidence) = policy.decide(elf) {
          lines.append("kernel generation: \(gen) (from \(evidence))")
          if let table = try ORCTable.load(from: elf, generation: gen) {
            for i in 0..<table.count { _ = try table.location(i) }
            lines.append("ORC entries: \(table.count)")
          }
        } else {
          lines.append("kernel generation: unknown")
        }
        for s in elf.sections where s.index > 0 {
          let idx = String(s.index).leftPad(4)
          lines.append("[\(idx)] \(s.name.rightPad(24)) size 0x\(String(s.size, radix: 16))")
        }
        writeStandardOutput(Array((lines.joined(separator: "\n") + "\n").utf8))
      }
    }
  }
}

extension String {
  func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
  func rightPad(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}
