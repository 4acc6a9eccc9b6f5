import ELF
import FuzzSupport
import Kernel

/// libFuzzer entry: every kernel-format reader over arbitrary bytes — for both
/// generations `.altinstructions` (AlternativesTable) and `.discard.unwind_hints`
/// (UnwindHintTable); `__jump_table`, `__ex_table` with each entry's type through
/// ExtableTypes for both machines, `.parainstructions`, `.BTF` (from the ELF
/// file and, when the input is no ELF file, the input itself as a `.BTF`
/// blob) with its queries, and the generation policy (markers, layout, kbuild's
/// environment from the input's tail). Errors are fine; traps are not.
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let source = fuzzInput(data, size)
  guard let file = try? ELFFile(source: source) else {
    btf(try? BTF(data: ByteView(source.bytes, fileOffset: 0), path: "fuzz"))
    if size <= 64 { _ = KernelVersion(parsing: String(decoding: source.bytes, as: UTF8.self)) }
    return 0
  }
  for generation in KernelGeneration.allCases {
    if let table = try? AlternativesTable(file: file, generation: generation) { _ = table.entries.count }
    if let hints = try? UnwindHintTable(file: file, generation: generation) {
      for h in hints.entries { _ = h.kind?.rawValue(in: generation) }
    }
  }
  _ = try? JumpTable(file: file)
  if let extable = try? ExceptionTable(file: file) {
    for e in extable.entries {
      for generation in KernelGeneration.allCases {
        _ = ExtableTypes.decode(e.rawData, machine: extable.machine, generation: generation)
        _ = ExtableTypes.decodeX86(e.rawData, generation: generation)
      }
      _ = ExtableTypes.decodeARM64(e.rawData)
    }
  }
  _ = try? ParavirtSites(file: file)
  btf(try? BTF(file: file))
  _ = GenerationDetector.detect(file)
  _ = GenerationPolicy(forced: nil, environment: [:]).decide(file)
  let word = tailWord(data, size, 0)
  let env = ["VERSION": String(word & 0xff), "PATCHLEVEL": String((word >> 8) & 0xffff)]
  _ = try? GenerationPolicy(forced: nil, environment: env).resolve(file)
  return 0
}

/// The queries the unwinder and the paravirt report ask of a `.BTF`.
func btf(_ btf: BTF?) {
  guard let btf else { return }
  for id in 1..<max(1, min(btf.endID, 65)) {
    _ = btf.name(of: id)
    _ = btf.resolve(id)
    _ = btf.members(of: id)
    _ = btf.flattenedMembers(of: id)
  }
  for name in ["task_struct", "paravirt_patch_template", "inactive_task_frame", "rq", "signal_struct"] {
    _ = btf.find(name, kind: .structure)
    _ = btf.size(of: name)
  }
  _ = btf.offset(of: "thread.sp", in: "task_struct")
  _ = btf.offset(of: "tasks", in: "task_struct")
}
