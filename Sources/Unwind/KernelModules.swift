import ELF
import Kernel
import ORC

/// A module the dumped kernel had loaded, read from the dump's memory alone:
/// its text, the ORC table the kernel sorted when it loaded it, and its
/// kallsyms (`mod->kallsyms`), so that its frames unwind and are named
/// without any file on disk.
public struct KernelModule: Sendable {
  /// `mod->name`.
  public var name: String
  /// The address of its `struct module`.
  public var address: UInt64
  /// Its text: the core text, and the init text while it is there.
  public var text: [Range<UInt64>]
  /// `mod->arch.orc_unwind_ip` / `orc_unwind` / `num_orcs`, or nil when it has none.
  public var orc: ORCLookup?
  /// Named symbols with a section (`st_shndx != SHN_UNDEF`), by address.
  public var symbols: [(address: UInt64, name: String)]
  /// Its text and ORC, as the unwinder looks code up.
  public var code: ModuleCode { ModuleCode(name: name, text: text, lookup: orc) }

  /// `name+0xoff/0xsize` of `address`, as the kernel's `find_kallsyms_symbol()`
  /// finds it: the closest preceding named symbol, sized up to the next one
  /// or to the end of the text range that holds the address.
  public func symbol(for address: UInt64, offsetOf ip: UInt64) -> String? {
    guard let range = text.first(where: { $0.contains(address) }) else { return nil }
    let after = symbols.partitioningIndex { $0.address > address }
    guard after > 0 else { return nil }
    let best = symbols[after - 1]
    let next = after < symbols.count ? min(symbols[after].address, range.upperBound) : range.upperBound
    let hex = { (v: UInt64) in "0x" + String(v, radix: 16) }
    return "\(best.name)+\(hex(ip &- best.address))/\(hex(next &- best.address))"
  }
}

/// The loaded modules of a dump: the `modules` list, with the layouts of
/// `struct module`, its memory and its kallsyms from the kernel's `.BTF`
/// (6.1's `core_layout` / `init_layout`, 6.4 and later's `mem[MOD_TEXT]`).
public struct KernelModules: Sendable {
  public let modules: [KernelModule]

  /// The most modules, ORC entries and symbols per module read from a dump: a
  /// torn or hostile dump's counts are not followed further.
  static let maxModules = 1 << 14
  static let maxEntries = 1 << 22

  /// `MODULE_STATE_UNFORMED`: a module still being loaded, which the kernel's lookups skip.
  static let unformed: UInt32 = 3

  /// Reads the list at `modulesHead` (the address of the `modules` symbol).
  /// A layout `.BTF` lacks is an error; a module whose tables the dump lacks
  /// is kept without them (its frames end "no ORC entry", named by address).
  public init(modulesHead head: UInt64, btf: BTF, layout: ORCLayout, memory: KernelMemory) throws(ELFError) {
    func offset(_ path: String, _ structure: String = "module") throws(ELFError) -> UInt64 {
      UInt64(try btf.requireOffset(of: path, in: structure))
    }
    let listOff = try offset("list")
    let nameOff = try offset("name")
    let nameSize = try btf.requireMemberSize(of: "name", in: "module")
    let stateOff = try offset("state")
    let numOrcsOff = try offset("arch.num_orcs")
    let orcIPOff = try offset("arch.orc_unwind_ip")
    let orcOff = try offset("arch.orc_unwind")
    let kallsymsOff = try offset("kallsyms")
    let symtabOff = try offset("symtab", "mod_kallsyms")
    let numSymtabOff = try offset("num_symtab", "mod_kallsyms")
    let strtabOff = try offset("strtab", "mod_kallsyms")
    // Text ranges: (offset of the base pointer, offset of the u32 size) per range.
    var textFields: [(base: UInt64, size: UInt64)] = []
    if btf.offset(of: "core_layout", in: "module") != nil {
      // Up to 6.3: struct module_layout { void *base; unsigned int size, text_size, ... }.
      for layout in ["core_layout", "init_layout"] {
        textFields.append((try offset("\(layout).base"), try offset("\(layout).text_size")))
      }
    } else {
      // 6.4 and later: struct module_memory mem[MOD_MEM_NUM_TYPES], text in MOD_TEXT and MOD_INIT_TEXT.
      let memOff = try offset("mem")
      let memSize = UInt64(try btf.requireSize(of: "module_memory"))
      let baseOff = try offset("base", "module_memory")
      let sizeOff = try offset("size", "module_memory")
      for kind in ["MOD_TEXT", "MOD_INIT_TEXT"] {
        let index = try btf.requireEnumerator(kind, of: "enum mod_mem_type")
        guard index >= 0, index < 64 else { continue }
        let at = memOff + UInt64(index) * memSize
        textFields.append((at + baseOff, at + sizeOff))
      }
    }

    var out: [KernelModule] = []
    var seen = Set<UInt64>()
    var node = memory.u64(head) ?? head
    while node != head, out.count < Self.maxModules, seen.insert(node).inserted {
      let mod = node &- listOff
      defer { node = memory.u64(node) ?? head }
      guard let state = memory.u32(mod &+ stateOff), state != Self.unformed else { continue }
      let name = memory.read(mod &+ nameOff, nameSize).map { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
      var text: [Range<UInt64>] = []
      for f in textFields {
        guard let base = memory.u64(mod &+ f.base), base != 0, let size = memory.u32(mod &+ f.size), size > 0 else {
          continue
        }
        let (end, past) = base.addingReportingOverflow(UInt64(size))
        if !past { text.append(base..<end) }
      }
      let orc = Self.orcTable(
        count: memory.u32(mod &+ numOrcsOff), ips: memory.u64(mod &+ orcIPOff),
        entries: memory.u64(mod &+ orcOff), layout: layout, textEnd: text.first?.upperBound, memory: memory)
      var symbols: [(address: UInt64, name: String)] = []
      if let kallsyms = memory.u64(mod &+ kallsymsOff), kallsyms != 0,
        let symtab = memory.u64(kallsyms &+ symtabOff), let count = memory.u64(kallsyms &+ numSymtabOff),
        let strtab = memory.u64(kallsyms &+ strtabOff)
      {
        symbols = Self.symbols(
          symtab: symtab, count: min(count, UInt64(Self.maxEntries)), strtab: strtab, memory: memory)
      }
      out.append(
        KernelModule(name: name ?? "?", address: mod, text: text, orc: orc, symbols: symbols))
    }
    modules = out
  }

  /// The module whose text holds `address`.
  public func module(containing address: UInt64) -> KernelModule? {
    modules.first { $0.text.contains { $0.contains(address) } }
  }

  /// A relative ORC table in memory (`int orc_unwind_ip[]`, each relative
  /// to its own address; `struct orc_entry orc_unwind[]`), as the kernel's
  /// `__orc_find()` reads it. Nil when there is none or the dump lacks it.
  static func orcTable(
    count: UInt32?, ips: UInt64?, entries: UInt64?, layout: ORCLayout, textEnd: UInt64?, memory: KernelMemory
  ) -> ORCLookup? {
    guard let count, count > 0, count <= UInt32(maxEntries), let ips, ips != 0, let entries, entries != 0 else {
      return nil
    }
    let n = Int(count)
    guard let ipBytes = memory.read(ips, n * 4), let entryBytes = memory.read(entries, n * ORCLayout.entrySize) else {
      return nil
    }
    return ipBytes.withUnsafeBytes { ipRaw in
      entryBytes.withUnsafeBytes { e in
        var addresses: [UInt64] = []
        var decoded: [ORCEntry] = []
        addresses.reserveCapacity(n)
        decoded.reserveCapacity(n)
        for i in 0..<n {
          let rel = Int32(littleEndian: ipRaw.loadUnaligned(fromByteOffset: i * 4, as: Int32.self))
          addresses.append((ips &+ UInt64(i * 4)) &+ UInt64(bitPattern: Int64(rel)))
          let b = i * ORCLayout.entrySize
          decoded.append(
            layout.decode(
              spOffset: Int16(littleEndian: e.loadUnaligned(fromByteOffset: b, as: Int16.self)),
              bpOffset: Int16(littleEndian: e.loadUnaligned(fromByteOffset: b + 2, as: Int16.self)),
              regs: e[b + 4], bits: e[b + 5]))
        }
        return ORCLookup(layout: layout, addresses: addresses, entries: decoded, textEnd: textEnd)
      }
    }
  }

  /// `Elf64_Sym` (24 bytes): name, info, other, shndx, value, size.
  static let symbolSize = 24

  /// The named, defined symbols of a module's kallsyms, by address.
  static func symbols(symtab: UInt64, count: UInt64, strtab: UInt64, memory: KernelMemory) -> [(
    address: UInt64, name: String
  )] {
    let n = Int(count)
    guard n > 1, let raw = memory.read(symtab, n * symbolSize) else { return [] }
    var out: [(address: UInt64, name: String)] = []
    // ELF starts real symbols at 1.
    for i in 1..<n {
      let b = i * symbolSize
      let (nameOffset, shndx, value) = raw.withUnsafeBytes {
        (
          UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: b, as: UInt32.self)),
          UInt16(littleEndian: $0.loadUnaligned(fromByteOffset: b + 6, as: UInt16.self)),
          UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: b + 8, as: UInt64.self))
        )
      }
      guard shndx != 0, let name = cString(at: strtab &+ UInt64(nameOffset), memory: memory), !name.isEmpty,
        !isMappingSymbol(name)
      else { continue }
      out.append((value, name))
    }
    // Equal addresses keep symtab order: the kernel takes the first with a greater value (`thisval > bestval`).
    return out.enumerated().sorted { ($0.element.address, $0.offset) < ($1.element.address, $1.offset) }
      .map(\.element)
      .reduce(into: []) { acc, s in if acc.last?.address != s.address { acc.append(s) } }
  }

  /// `is_mapping_symbol()`: `$a`, `$d`, `$t`, `$x`, … and `.L` locals.
  static func isMappingSymbol(_ name: String) -> Bool {
    let u = Array(name.utf8)
    if u.count >= 2, u[0] == UInt8(ascii: "."), u[1] == UInt8(ascii: "L") { return true }
    return u.count >= 2 && u[0] == UInt8(ascii: "$") && (u.count == 2 || u[2] == UInt8(ascii: "."))
  }

  /// The NUL-terminated string at `address` (at most 512 bytes), read page by page.
  static func cString(at address: UInt64, memory: KernelMemory) -> String? {
    var bytes: [UInt8] = []
    var a = address
    while bytes.count < 512 {
      let chunk = min(512 - bytes.count, Int(0x1000 - (a & 0xfff)))
      guard let part = memory.read(a, chunk) else { return nil }
      if let nul = part.firstIndex(of: 0) {
        bytes += part[..<nul]
        return String(decoding: bytes, as: UTF8.self)
      }
      bytes += part
      let (next, past) = a.addingReportingOverflow(UInt64(chunk))
      if past { return nil }
      a = next
    }
    return nil
  }
}
