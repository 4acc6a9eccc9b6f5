/*
 * The bundled example for `make demo`: a 6.1-generation module function
 * with a paravirt-style alternative (seed 001): the original
 * `call *pv_ops+8(%rip)` (6 bytes) is replaced on some CPUs by
 * `pushf; pop %rax` padded with NOPs, described by one 6.1 `alt_instr`
 * (12 bytes: instr_offset, repl_offset, cpuid, instrlen, replacementlen).
 *
 * `make demo` runs `orctool --orc --module --link` on it (objtool's own
 * command line): the stack of every path is validated, the two streams are
 * flattened into one CFI table by byte offset (seed 000), and the ORC is
 * written into the object.
 */
	.include "orc.inc"
	MODINFO_VERMAGIC 6.1.0-56-cloud-amd64

X86_FEATURE_ALWAYS = 3 * 32 + 21

	.text
	.globl demo_save_flags
	.type demo_save_flags, @function
demo_save_flags:
	push %rbp
2:	push %rbx
3:
661:	call *pv_ops+8(%rip)
662:
	pop %rbx
	pop %rbp
5:	ret
	.size demo_save_flags, . - demo_save_flags

	.section .altinstr_replacement, "ax"
6641:	pushf
	pop %rax
	.skip 4, 0x90
6651:

	.section .altinstructions, "a"
	.long 661b - .
	.long 6641b - .
	.word X86_FEATURE_ALWAYS
	.byte 662b - 661b
	.byte 6651b - 6641b

