/// Seed 000's two scenarios (../shared/seeds/000_*): one alternative site with
/// several streams, as assembly for the fixtures' `ALT_ENTRY` macro
/// (Fixtures/seed000.inc), shared by the pass, validation and CLI tests.
public enum Seed000 {
  /// Seed 000 (a): one site, three streams: `call *pv_ops+8(%rip)` (6 bytes), a
  /// direct call (5 bytes), `pushf; pop %rax` (2 bytes).
  public static func threeStreams(reversed: Bool) -> String {
    let entries = [
      "ALT_ENTRY 661b, 662b, 671b, 672b, 272",
      "ALT_ENTRY 661b, 662b, 672b, 673b, 273",
    ]
    return """
      .text
      .globl f
      .type f, @function
      f:	push %rbx
      661:	call *pv_ops+8(%rip)
      662:	pop %rbx
      	ret
      	.size f, . - f
      	.section .altinstr_replacement, "ax"
      671:	call native_save_fl
      672:	pushf
      	pop %rax
      673:
      	.text
      \((reversed ? entries.reversed() : entries).joined(separator: "\n"))
      """
  }

  /// Seed 000 (b): offset 7 of the site is a boundary of the original and of two
  /// replacements: one pushes (8 bytes deeper there), one does what the original does.
  /// Whichever replacement is validated second reports the conflict.
  public static func conflictingStreams(reversed: Bool) -> String {
    let entries = ["ALT_ENTRY 661b, 662b, 671b, 672b, 272", "ALT_ENTRY 661b, 662b, 672b, 673b, 273"]
    return """
      .text
      .globl f
      .type f, @function
      f:
      661:	mov $1, %rax
      	nop
      662:	ret
      	.size f, . - f
      	.section .altinstr_replacement, "ax"
      671:	push %rax
      	mov $1, %eax
      	nop
      	pop %rax
      672:	mov $1, %rax
      	nop
      673:
      	.text
      \((reversed ? entries.reversed() : entries).joined(separator: "\n"))
      """
  }
}
