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
    struct Decoded {
      var offsets: [UInt32] = []
      var insns: [X86Instruction] = []
      var failure: Int? = nil
    }
    func decodeSection(_ s: Section) -> Decoded {
      let decoder = X86Decoder()
      let view = file.contents(of: s)
      var out = Decoded()
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
        out.insns.append(d)
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
      for (o, d) in zip(r.offsets, r.insns) {
        table.section.append(Int32(s.index))
        table.offset.append(o)
        table.length.append(UInt8(d.length))
        table.type.append(d.type)
        table.immediate.append(d.immediate)
        table.ops.append(d.ops)
      }
      table.sectionRange[s.index] = start..<table.section.count
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
