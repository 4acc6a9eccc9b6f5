import ELF
import Kernel
import ORC

/// libFuzzer entry: the ELF reader, the whole-file verification, generation
/// detection and the ORC dump over arbitrary bytes. Errors are fine; traps are not.
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let source = MappedFile(copying: UnsafeBufferPointer(start: data, count: size), path: "fuzz")
  guard let file = try? ELFFile(source: source) else { return 0 }
  _ = try? file.verify()
  _ = try? file.programHeaders()
  _ = try? file.notes()
  for generation in KernelGeneration.allCases {
    if let table = try? ORCTable.load(from: file, generation: generation) {
      var out: [UInt8] = []
      _ = try? ORCDump.render(table, into: &out)
    }
  }
  _ = try? ExceptionTable(file: file)
  _ = try? AlternativesTable(file: file, generation: .v6_1)
  _ = try? ParavirtSites(file: file)
  _ = try? BTF(file: file)
  return 0
}
