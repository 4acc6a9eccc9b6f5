import ELF
import FuzzSupport
import Kernel
import ORC
import Unwind

/// libFuzzer entry: the ORC table reader (`.orc_unwind`, `.orc_unwind_ip` and
/// its relocations) in both generations' layouts, every entry's location and
/// address, the dump text (`orc dump`), and the unwinder's lookup index over
/// the table with lookups at every entry and around it.
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  guard let file = try? ELFFile(source: fuzzInput(data, size)) else { return 0 }
  for generation in KernelGeneration.allCases {
    guard let table = try? ORCTable.load(from: file, generation: generation) else { continue }
    var out: [UInt8] = []
    _ = try? ORCDump.render(table, into: &out)
    for i in 0..<min(table.count, 4096) {
      _ = try? table.location(i)
      _ = table.entry(i)
    }
    guard !table.isRelocatable else { continue }
    let lookup = ORCLookup(table: table)
    for i in 0..<min(table.count, 4096) {
      let a = table.address(i)
      _ = lookup.entry(for: a)
      _ = lookup.entry(for: a &- 1)
      _ = lookup.entry(for: a &+ 255)
    }
    _ = lookup.entry(for: tailWord(data, size, 0))
  }
  return 0
}
