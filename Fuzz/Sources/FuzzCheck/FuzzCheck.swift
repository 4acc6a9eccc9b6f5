import ELF
import ORC
import Validation

/// libFuzzer entry: the whole `check --orc` pipeline (decode, link, validate,
/// flatten alternatives, generate and serialise ORC) over arbitrary bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let source = MappedFile(copying: UnsafeBufferPointer(start: data, count: size), path: "fuzz")
  guard let file = try? ELFFile(source: source), let program = try? ObjectProgram(file: file) else { return 0 }
  let v = Validator(program: program)
  v.run()
  let layout = ORCLayout.of(.v6_1)
  let entries = v.orcEntries(layout: layout)
  _ = try? ORCWriter.bytes(of: file, entries: entries, layout: layout)
  _ = v.alternativeSites(layout: layout)
  return 0
}
