import ELF

/// What each `pv_ops` slot points to in one environment, read from a vmlinux: the
/// functions a paravirt call site becomes a direct call to when the kernel patches it
/// (6.1's `apply_paravirt()` → `paravirt_patch()`, 6.12's `ALT_FLAG_DIRECT_CALL` →
/// `alt_replace_call()`).
///
/// Native: the initial value of `pv_ops` (`arch/x86/kernel/paravirt.c`). Xen PV: the
/// slots `xen_start_kernel()` copies from `xen_cpu_ops`, `xen_irq_ops` and `xen_mmu_ops`
/// (`typeof(pv_ops)` templates in `.init.data`, the same in 6.1 and 6.12) over the native
/// ones, then the slots Xen's start-up code sets one by one before the kernel patches
/// (``xenRuntimeSlots``, named through the vmlinux's `.BTF`).
public struct PvOpsTargets: Sendable {
  /// The environment the slots were read for.
  public enum Environment: String, Sendable {
    case native
    case xenPV = "xen-pv"
  }

  /// Slot number → the function's name; a slot missing from the map is NULL.
  public let slots: [Int: String]
  /// The number of slots (`sizeof(pv_ops) / 8`).
  public let count: Int
  public let environment: Environment
  /// The file the slots were read from.
  public let source: String

  /// The templates Xen PV copies over `pv_ops` (`arch/x86/xen/enlighten_pv.c`,
  /// `irq.c`, `mmu_pv.c`).
  public static let xenTemplates = ["xen_cpu_ops", "xen_irq_ops", "xen_mmu_ops"]

  /// The slots Xen PV sets in code before `alternative_instructions()` runs, in the order
  /// it sets them (6.1 and 6.12, `arch/x86/xen/`): `xen_pagetable_init()` and
  /// `xen_post_allocator_init()` (mmu_pv.c), `xen_setup_gdt()` (enlighten_pv.c, the
  /// final values) and `xen_setup_vcpu_info_placement()` (enlighten_pv.c). Each applies
  /// when the vmlinux has the function.
  public static let xenRuntimeSlots: [(member: String, function: String)] = [
    ("mmu.set_pte", "__xen_set_pte"),
    ("mmu.set_pte", "xen_set_pte"), ("mmu.set_pmd", "xen_set_pmd"), ("mmu.set_pud", "xen_set_pud"),
    ("mmu.set_p4d", "xen_set_p4d"), ("mmu.alloc_pte", "xen_alloc_pte"), ("mmu.alloc_pmd", "xen_alloc_pmd"),
    ("mmu.release_pte", "xen_release_pte"), ("mmu.release_pmd", "xen_release_pmd"),
    ("mmu.alloc_pud", "xen_alloc_pud"), ("mmu.release_pud", "xen_release_pud"),
    ("mmu.make_pte", "__raw_callee_save_xen_make_pte"), ("mmu.write_cr3", "xen_write_cr3"),
    ("cpu.write_gdt_entry", "xen_write_gdt_entry"), ("cpu.load_gdt", "xen_load_gdt"),
    ("irq.save_fl", "xen_save_fl_direct"), ("irq.irq_disable", "xen_irq_disable_direct"),
    ("irq.irq_enable", "xen_irq_enable_direct"), ("mmu.read_cr2", "xen_read_cr2_direct"),
  ]

  /// Reads the slots of `pv_ops` (and, for Xen PV, the templates) from `vmlinux`.
  public init(vmlinux: ELFFile, environment: Environment) throws(ELFError) {
    guard vmlinux.fileType != .relocatable else {
      throw ELFError(
        .malformed("pv_ops targets need a linked vmlinux (its pv_ops data), not an object"),
        path: vmlinux.path, offset: 0)
    }
    guard let symbols = try vmlinux.symbolTable() else {
      throw ELFError(.missingSection(".symtab"), path: vmlinux.path, offset: 0)
    }
    var objects: [String: Symbol] = [:]
    var functions: [UInt64: String] = [:]
    for i in 0..<symbols.count {
      let s = try symbols.symbol(at: i)
      guard s.isDefined else { continue }
      if s.type == .function {
        // A global name wins over a local alias at the same address.
        if functions[s.value] == nil || s.binding == .global {
          functions[s.value] = try symbols.name(of: s)
        }
      } else if s.type == .object {
        let name = try symbols.name(of: s)
        if name == "pv_ops" || Self.xenTemplates.contains(name) { objects[name] = s }
      }
    }
    guard let pvops = objects["pv_ops"] else {
      throw ELFError(.malformed("no pv_ops symbol: not a paravirt kernel"), path: vmlinux.path, offset: 0)
    }
    func words(of s: Symbol) throws(ELFError) -> [UInt64] {
      let name = (try? symbols.name(of: s)) ?? "?"
      guard s.sectionIndex < vmlinux.sections.count else {
        throw ELFError(.malformed("\(name) is in no section"), path: vmlinux.path, offset: 0)
      }
      let section = vmlinux.sections[s.sectionIndex]
      guard section.hasFileContents, s.value >= section.address, s.value - section.address <= section.size,
        s.size <= section.size - (s.value - section.address)
      else {
        throw ELFError(.malformed("\(name) lies outside its section's data"), path: vmlinux.path, offset: 0)
      }
      let view = vmlinux.contents(of: section)
      let base = Int(s.value - section.address)
      return (0..<Int(s.size / 8)).map { view.load(UInt64.self, at: base + 8 * $0) }
    }
    var values = try words(of: pvops)
    if environment == .xenPV {
      for name in Self.xenTemplates {
        guard let t = objects[name] else {
          throw ELFError(
            .malformed("no \(name) symbol: cannot tell Xen PV's pv_ops"), path: vmlinux.path, offset: 0)
        }
        for (k, v) in try words(of: t).enumerated() where v != 0 && k < values.count { values[k] = v }
      }
    }
    var named: [Int: String] = [:]
    if environment == .xenPV {
      guard vmlinux.section(named: ".BTF") != nil else {
        throw ELFError(
          .malformed("no .BTF: cannot name the pv_ops slots Xen PV sets at run time"), path: vmlinux.path, offset: 0)
      }
      let btf = try BTF(file: vmlinux)
      var slotOf: [String: Int] = [:]
      if let id = btf.find("paravirt_patch_template", kind: .structure) {
        for (offset, name) in btf.flattenedMembers(of: id) where offset % 8 == 0 { slotOf[name] = offset / 8 }
      }
      let present = Set(functions.values)
      for (member, function) in Self.xenRuntimeSlots where present.contains(function) {
        guard let k = slotOf[member] ?? slotOf[member + ".func"], k < values.count else {
          throw ELFError(
            .malformed("BTF has no pv_ops member \(member) for Xen's \(function)"), path: vmlinux.path, offset: 0)
        }
        named[k] = function
      }
    }
    var slots: [Int: String] = [:]
    for (k, v) in values.enumerated() where v != 0 {
      slots[k] = functions[v] ?? "0x" + String(v, radix: 16)
    }
    for (k, name) in named { slots[k] = name }
    self.slots = slots
    self.count = values.count
    self.environment = environment
    self.source = vmlinux.path
  }

  /// Slots given directly (tests).
  public init(slots: [Int: String], count: Int, environment: Environment, source: String) {
    (self.slots, self.count, self.environment, self.source) = (slots, count, environment, source)
  }
}
