import ELF
import Kernel
import ORC
import Program
import Validation

/// libFuzzer entry: the whole `check --orc` pipeline (decode, link, validate,
/// flatten alternatives, generate and serialise ORC) over arbitrary bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let source = MappedFile(copying: UnsafeBufferPointer(start: data, count: size), path: "fuzz")
  guard let file = try? ELFFile(source: source), let program = try? Program(file: file) else { return 0 }
  // Both generations' formats over the same bytes.
  for generation in KernelGeneration.allCases {
    guard let graph = try? ControlFlowGraph(program: program, generation: generation) else { continue }
    let v = Validator(graph: graph)
    v.run()
    let layout = ORCLayout.of(generation)
    let entries = v.orcEntries(layout: layout)
    _ = try? ObjectEdits(sections: ORCSections.created(entries: entries, layout: layout)).bytes(of: file)
    _ = v.alternativeSites(layout: layout)
  }
  return 0
}
