import ELF
import FuzzSupport
import Kernel
import Reports

/// libFuzzer entry: the reports over arbitrary bytes — livepatch (children,
/// fentry, patch groups), extable (without a generation and in each), and
/// paravirt (each generation, without and with the file's own `.BTF`), and the patcher
/// (each generation, every feature and every static key on, pv_ops slots all set).
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  guard let file = try? ELFFile(source: fuzzInput(data, size)) else { return 0 }
  _ = try? LivepatchReport(file: file)
  let btf = try? BTF(file: file)
  for generation in [nil] + KernelGeneration.allCases.map(Optional.some) {
    if let report = try? ExtableReport(file: file, generation: generation), let table = try? ExceptionTable(file: file)
    {
      for e in table.entries.prefix(256) { _ = report.entryServing(e.insn, in: table) }
    }
    _ = try? ParavirtReport(file: file, generation: generation, btf: nil, btfSource: nil)
    if let btf { _ = try? ParavirtReport(file: file, generation: generation, btf: btf, btfSource: "fuzz") }
  }
  let slots = Dictionary(uniqueKeysWithValues: (0..<128).map { ($0, $0 % 7 == 0 ? "_paravirt_nop" : "f\($0)") })
  for generation in KernelGeneration.allCases {
    let choices = PatchChoices(
      features: Set(0..<(32 * 32)), xenPV: true, staticKeys: .on,
      pvOps: PvOpsTargets(slots: slots, count: 128, environment: .xenPV, source: "fuzz"))
    _ = try? KernelPatch(file: file, generation: generation, choices: choices)
  }
  return 0
}
