import ELF
import FuzzSupport
import Unwind

#if canImport(Glibc)
  import Glibc
#endif

/// libFuzzer entry: the kdump-compressed reader over arbitrary bytes, plain
/// and flattened (by the input's signature): the header, sub header, notes,
/// VMCOREINFO, bitmaps, the survey of every page descriptor (``partial``), then
/// reads: the first dumped pages whole (raw and zlib, through the page cache
/// and back), pages and ranges across pages at addresses from the input's
/// tail, and KernelMemory's page-table walks (4- and 5-level) from each CPU's
/// ip and sp. `openMemoryDump` takes the same bytes by magic (an ELF core
/// goes to CoreDump, anything else is refused).
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let source = fuzzInput(data, size)
  guard let dump = try? KdumpCompressed(source: source) else {
    // Refused, or another format: the factory sees it too (it opens paths: the input in a memfd).
    Verbose.trace("KdumpCompressed refused it")
    let file = Context.file
    file.set(data, size)
    _ = try? openMemoryDump(path: file.path)
    return 0
  }
  Verbose.trace("\(dump.dumpedPages) dumped pages, partial: \(dump.partial.map(String.init(describing:)) ?? "no")")
  for key in ["KERNELOFFSET", "NUMBER(phys_base)", "SYMBOL(init_top_pgt)"] {
    _ = try? dump.requireVMCOREINFO(key, hex: true)
  }
  // The first dumped pages, twice (the second time from the cache).
  var pfns: [UInt64] = []
  var pfn: UInt64 = 0
  while pfns.count < 48 && pfn < min(dump.maxMapnr, 1 << 16) {
    if dump.isDumped(pfn) { pfns.append(pfn) }
    _ = dump.isRAM(pfn)
    pfn += 1
  }
  for _ in 0..<2 {
    for p in pfns {
      _ = try? dump.page(p)
      _ = dump.readPhysical(p << UInt64(dump.blockSize.trailingZeroBitCount) | 0xff8, 16)
    }
  }
  let words = (0..<4).map { tailWord(data, size, $0) }
  for w in words {
    _ = dump.readPhysical(w, 8)
    _ = dump.readPhysical(w, Int(w >> 50))  // up to 16 KiB: across pages
  }
  if let memory = try? KernelMemory(dump: dump, initTopPgt: words[0]) {
    var addresses = [KernelMemory.startKernelMap] + words
    for r in dump.cpus.prefix(16) { addresses += [r.ip, r.sp] }
    var mapped = 0
    for a in addresses {
      if memory.translate(a) != nil { mapped += 1 }
      _ = memory.u64(a)
      _ = memory.read(a, 0x1800)
    }
    Verbose.trace("\(mapped) of \(addresses.count) addresses mapped")
  }
  return 0
}

enum Verbose {
  /// `ORCTOOL_FUZZ_VERBOSE=1`: say where each input stopped (for checking the seeds).
  static let on = getenv("ORCTOOL_FUZZ_VERBOSE").map { String(cString: $0) == "1" } ?? false
  static func trace(_ message: @autoclosure () -> String) { if on { print("FuzzKdump: " + message()) } }
}

enum Context {
  static let file = MemoryFile(name: "fuzz-kdump")
}
