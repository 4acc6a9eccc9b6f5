import ELF
import Kernel
import Program
import X86

/// An alternative patched over a paravirt site (seed 001's `pushf; pop %rax`).
public struct SiteAlternative: Sendable, Codable, Hashable {
  public var feature: Int
  public var inverted: Bool
  public var replacementLength: Int
  /// The replacement as AT&T text.
  public var replacement: String

  public init(feature: Int, inverted: Bool, replacementLength: Int, replacement: String) {
    self.feature = feature
    self.inverted = inverted
    self.replacementLength = replacementLength
    self.replacement = replacement
  }
}

/// One paravirt patch site, checked against seed 002's invariants.
public struct ParavirtSiteReport: Sendable, Codable {
  public var index: Int
  /// `func+0xoff` of the site.
  public var site: String
  /// `type`: the pv_ops slot the site says it patches.
  public var type: Int
  /// That slot's member of `struct paravirt_patch_template` (`irq.save_fl`), from BTF.
  public var slot: String?
  /// `len`: the bytes the patcher may rewrite.
  public var length: Int
  /// The registers the site lets its code change (its `CLBR_*` bits).
  public var clobbers: [String]
  /// Whether the slot is a `struct paravirt_callee_save` (its targets save every register
  /// but the return one), from BTF; nil without BTF.
  public var calleeSave: Bool?
  /// The code at the site, as AT&T text.
  public var instruction: String
  /// The pv_ops slot the site's `call *pv_ops+off(%rip)` reads, when it is one.
  public var callSlot: Int?
  /// Alternatives over the same address: more streams for the CFI flattening.
  public var alternatives: [SiteAlternative]
  /// Broken invariants, in words.
  public var problems: [String]
}

/// `orctool paravirt`: the `.parainstructions` of one 6.1-generation file.
public struct ParavirtReport: Sendable, Codable {
  public var file: String
  public var sites: [ParavirtSiteReport]
  /// Where the slot names came from (`.BTF` of which file), if anywhere.
  public var btf: String?
  /// Sites by `slot.NAME`, `problem.KIND` counts, `with_alternative`.
  public var summary: [String: Int]

  /// The size of `call *disp32(%rip)`: the smallest valid site (seed 002, invariant 1).
  public static let indirectCallLength = 6
  /// The size of `call rel32`: what the patcher rewrites a site to.
  public static let directCallLength = 5

  /// Checks the sites of `file`; `btf` (vmlinux's) names the slots.
  /// `generation` gives the layout of `.altinstructions`, read to find the
  /// alternatives at each site; it may be nil only for a file without sites
  /// (else ``ELFError/Kind/unknownGeneration``).
  public init(file: ELFFile, generation: KernelGeneration?, btf: BTF?, btfSource: String?) throws(ELFError) {
    let sites = try ParavirtSites(file: file)
    let program = try Program(file: file)
    let table = program.functions
    var alternatives: [AlternativeEntry] = []
    if let generation {
      alternatives = try AlternativesTable(file: file, generation: generation).entries
    } else if !sites.sites.isEmpty {
      throw ELFError(.unknownGeneration, path: file.path, offset: 0)
    }
    var altsAt: [SectionPlace: [AlternativeEntry]] = [:]
    for a in alternatives { altsAt[a.instruction, default: []].append(a) }

    var slotNames: [Int: String] = [:]
    var calleeSaveSlots = Set<Int>()
    if let btf, let id = btf.find("paravirt_patch_template", kind: .structure) {
      for (offset, name, type) in btf.flattenedMemberTypes(of: id) where offset % 8 == 0 {
        slotNames[offset / 8] = name
        if btf.name(of: type) == "paravirt_callee_save" { calleeSaveSlots.insert(offset / 8) }
      }
    }
    let pvops = table.file.fileType == .relocatable ? nil : try Self.pvopsAddress(in: table)

    func bytes(_ p: SectionPlace, _ count: Int) -> [UInt8] {
      let s = file.sections[p.section]
      // The offset comes from a relocation's addend: compare without adding to it.
      guard s.hasFileContents, p.offset <= s.size, UInt64(count) <= s.size - p.offset else { return [] }
      let v = file.contents(of: s).slice(Int(p.offset), count)!
      return Array(v.bytes)
    }
    func describe(_ p: SectionPlace) -> String { program.offstr(p) }

    var summary: [String: Int] = ["sites": sites.sites.count]
    var out: [ParavirtSiteReport] = []
    for s in sites.sites {
      let code6 = bytes(s.instruction, max(s.length, Self.indirectCallLength))
      var problems: [String] = []
      var callSlot: Int? = nil
      var instruction = X86Decoder.disassemble(Array(code6.prefix(s.length)))
      if code6.count >= 6 && code6[0] == 0xff && code6[1] == 0x15 {
        let slotOffset: Int64?
        if let pvops {
          let disp = Int64(
            Int32(
              bitPattern: UInt32(code6[2]) | UInt32(code6[3]) << 8 | UInt32(code6[4]) << 16
                | UInt32(code6[5]) << 24))
          let site = file.sections[s.instruction.section].address &+ s.instruction.offset
          slotOffset = Int64(bitPattern: site &+ 6 &+ UInt64(bitPattern: disp) &- pvops)
        } else if let r = program.relocations.at(s.instruction.section, s.instruction.offset + 2),
          let sym = try? table.symbols.symbol(at: Int(r.symbolIndex)),
          (try? table.symbols.name(of: sym)) == "pv_ops"
        {
          slotOffset = r.addend &+ 4
        } else {
          slotOffset = nil
        }
        if let o = slotOffset, o >= 0, o % 8 == 0 {
          callSlot = Int(o / 8)
          instruction = "call *pv_ops+0x\(String(o, radix: 16))(%rip)"
        }
      }
      if s.length < Self.indirectCallLength {
        problems.append("site is \(s.length) bytes, shorter than an indirect call (\(Self.indirectCallLength))")
      }
      if let c = callSlot {
        if c != s.type {
          problems.append("site calls pv_ops slot \(c) (\(slotNames[c] ?? "?")) but its type is \(s.type)")
        }
      } else {
        problems.append("site does not begin with call *pv_ops+off(%rip)")
      }
      let alts = (altsAt[s.instruction] ?? []).map { a in
        SiteAlternative(
          feature: a.feature, inverted: a.inverted, replacementLength: a.replacementLength,
          replacement: X86Decoder.disassemble(bytes(a.replacement, a.replacementLength)))
      }
      for a in alts where a.replacementLength > s.length {
        problems.append("alternative replacement (\(a.replacementLength) bytes) is longer than the site")
      }
      // Seed 002: the site's clobbers against what its rewrites change. A direct call to C
      // code (apply_paravirt()'s rewrite of a slot that is not callee-save) may change
      // every caller-saved register; a replacement, the registers it writes.
      let calleeSave: Bool? = slotNames.isEmpty ? nil : calleeSaveSlots.contains(s.type)
      if calleeSave == false, !s.clobbers.isSuperset(of: .any) {
        let missing = ParavirtClobbers.any.subtracting(s.clobbers).names.joined(separator: ", ")
        problems.append(
          "site clobbers \(Self.list(s.clobbers.names)) only, but a direct call to C code may change \(missing) too"
        )
      }
      for a in (altsAt[s.instruction] ?? []) {
        guard let written = X86Decoder.writtenRegisters(bytes(a.replacement, a.replacementLength)) else {
          problems.append("alternative replacement does not decode")
          continue
        }
        let outside = written.filter { ParavirtClobbers.of($0).map { !s.clobbers.isSuperset(of: $0) } ?? true }
        if !outside.isEmpty {
          problems.append(
            "alternative replacement writes \(outside.joined(separator: ", ")), outside the site's clobbers (\(Self.list(s.clobbers.names)))"
          )
        }
      }
      let slot = slotNames[s.type]
      summary["slot." + (slot ?? "\(s.type)"), default: 0] += 1
      if !alts.isEmpty { summary["with_alternative", default: 0] += 1 }
      if !problems.isEmpty { summary["breaking_an_invariant", default: 0] += 1 }
      out.append(
        ParavirtSiteReport(
          index: s.index, site: describe(s.instruction), type: s.type, slot: slot,
          length: s.length, clobbers: s.clobbers.names, calleeSave: calleeSave,
          instruction: instruction, callSlot: callSlot,
          alternatives: alts, problems: problems))
    }
    self.file = file.path
    self.sites = out
    self.btf = btf == nil ? nil : btfSource
    self.summary = summary
  }

  static func list(_ names: [String]) -> String { names.isEmpty ? "nothing" : names.joined(separator: ", ") }

  static func pvopsAddress(in table: FunctionTable) throws(ELFError) -> UInt64? {
    for i in 0..<table.symbols.count {
      let s = try table.symbols.symbol(at: i)
      if s.type == .object, s.isDefined, (try? table.symbols.name(of: s)) == "pv_ops" { return s.value }
    }
    return nil
  }
}
