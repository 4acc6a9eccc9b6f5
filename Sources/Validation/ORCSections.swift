import ELF
import ORC

/// The ORC sections as objtool's `orc_create()` makes them: `.orc_unwind` (the
/// entries), `.orc_unwind_ip` (a 32-bit slot per entry) and its relocations (an
/// `R_X86_64_PC32` per slot against the code section's symbol, addend the
/// instruction's offset). ``ObjectEdits`` writes them.
public enum ORCSections {
  /// The two sections for `entries` (in `orc_create()`'s order: per text section, by offset).
  public static func created(
    entries: [(section: Int, offset: UInt64, entry: ORCEntry)], layout: ORCLayout
  ) -> [CreatedSection] {
    var orc: [UInt8] = []
    orc.reserveCapacity(entries.count * ORCLayout.entrySize)
    var relocations: [SiteRelocation] = []
    relocations.reserveCapacity(entries.count)
    for (i, e) in entries.enumerated() {
      orc += layout.encode(e.entry)
      relocations.append(
        SiteRelocation(offset: UInt64(i * 4), target: .code(section: e.section), addend: Int64(bitPattern: e.offset)))
    }
    return [
      CreatedSection(name: ".orc_unwind", entrySize: UInt64(ORCLayout.entrySize), data: orc, relocations: []),
      CreatedSection(
        name: ".orc_unwind_ip", entrySize: 4, data: [UInt8](repeating: 0, count: entries.count * 4),
        relocations: relocations),
    ]
  }

  /// objtool's refusal when the object has ORC already (`orc_create()` looks for
  /// `.orc_unwind` and stops the check).
  public static func alreadyPresent(in file: ELFFile) -> Bool { file.section(named: ".orc_unwind") != nil }
}
