import Dispatch
import ELF
import Kernel
import X86

extension InstructionTable {
  /// The code size from which sections are decoded in parallel.
  public static let parallelDecodeThreshold = 256 * 1024

  /// `decode_instructions()`: decodes every code section of `program`'s file,
  /// `jobs` sections at a time, merged in section order (the same table for any
  /// `jobs`), and places each instruction in its function.
  public static func decode(_ program: Program, jobs: Int = 1) throws(ELFError) -> InstructionTable {
    let file = program.file
    let functions = program.functions
    let code = file.sections.filter { $0.flags.contains(.execInstr) && $0.hasFileContents }
    // Instruction offsets are 32-bit, as objtool's (`unsigned long` in a kernel object is far
    // below this): a larger code section is refused before minutes of decoding.
    if let huge = code.first(where: { $0.size > UInt64(UInt32.max) }) {
      throw ELFError(
        .malformed("code section \(huge.name) is 0x\(String(huge.size, radix: 16)) bytes, more than 4 GiB"),
        path: file.path, offset: huge.headerOffset &+ 32)
    }
    /// One section's instructions, column by column (what the table takes in one append each).
    struct Decoded {
      var offsets: [UInt32] = []
      var lengths: [UInt8] = []
      var types: [InsnType] = []
      var immediates: [Int64] = []
      /// Per instruction, the end of its stack operations in `opList`.
      var opEnds: [UInt32] = []
      var opList: [StackOp] = []
      var failure: Int? = nil
    }
    func decodeSection(_ s: Section) -> Decoded {
      let decoder = X86Decoder()
      let view = file.contents(of: s)
      var out = Decoded()
      // About four bytes an instruction in kernel code.
      let expected = view.count / 4 + 16
      out.offsets.reserveCapacity(expected)
      out.lengths.reserveCapacity(expected)
      out.types.reserveCapacity(expected)
      out.immediates.reserveCapacity(expected)
      out.opEnds.reserveCapacity(expected)
      out.opList.reserveCapacity(expected / 2)
      var at = 0
      while at < view.count {
        let position = at
        guard
          let d = decoder.decode(
            view.bytes, at: at,
            inFunction: {
              functions.function(containing: UInt64(position), in: s.index) != nil
            })
        else {
          out.failure = at
          break
        }
        out.offsets.append(UInt32(at))
        out.lengths.append(UInt8(d.length))
        out.types.append(d.type)
        out.immediates.append(d.immediate)
        for op in d.ops { out.opList.append(op) }
        out.opEnds.append(UInt32(out.opList.count))
        at += d.length
      }
      return out
    }
    var results = [Decoded](repeating: Decoded(), count: code.count)
    // Threads pay off only on large objects; small ones decode faster alone.
    let codeSize = code.reduce(0) { $0 + Int($1.size) }
    let jobs = max(1, jobs)
    if jobs > 1 && code.count > 1 && codeSize >= parallelDecodeThreshold {
      let workers = min(jobs, code.count)
      results.withUnsafeMutableBufferPointer { buffer in
        // Each worker writes only its own slots: k ≡ worker (mod workers).
        nonisolated(unsafe) let out = buffer
        nonisolated(unsafe) let decodeOne = decodeSection
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
          var k = worker
          while k < code.count {
            out[k] = decodeOne(code[k])
            k += workers
          }
        }
      }
    } else {
      for (k, s) in code.enumerated() { results[k] = decodeSection(s) }
    }
    var table = InstructionTable()
    for (k, s) in code.enumerated() {
      let r = results[k]
      if let at = r.failure {
        throw program.stop(
          "can't decode instruction at \(s.name):0x\(String(at, radix: 16))",
          at: s.offset + UInt64(at))
      }
      let text = s.name != ".altinstr_replacement" && s.name != ".altinstr_aux" && !s.name.hasPrefix(".discard.")
      table.codeSections.append((s.index, text))
      let start = table.section.count
      table.section.append(contentsOf: repeatElement(Int32(s.index), count: r.offsets.count))
      table.offset.append(contentsOf: r.offsets)
      table.length.append(contentsOf: r.lengths)
      table.type.append(contentsOf: r.types)
      table.immediate.append(contentsOf: r.immediates)
      let opBase = UInt32(table.opList.count)
      table.opStart.append(contentsOf: r.opEnds.lazy.map { opBase + $0 })
      table.opList.append(contentsOf: r.opList)
      table.sectionRange[s.index] = start..<table.section.count
      if table.rangeOfSection.count <= s.index {
        table.rangeOfSection += Array(repeating: 0..<0, count: s.index + 1 - table.rangeOfSection.count)
      }
      table.rangeOfSection[s.index] = start..<table.section.count
    }
    table.decodedCount = table.section.count
    table.function = Array(repeating: -1, count: table.count)
    for f in functions.functions where !functions.isAlias[f.id] && f.size > 0 {
      guard var i = table.instruction(in: f.section, at: f.offset) else { continue }
      while UInt64(table.offset[i]) < f.endOffset {
        table.function[i] = Int32(f.id)
        guard let n = table.next(i) else { break }
        i = n
      }
    }
    return table
  }
}
