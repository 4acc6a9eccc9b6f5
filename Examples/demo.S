/*
 * The bundled example for `make demo`: a 6.1-generation module function
 * with a paravirt-style alternative (seed 001): the original
 * `call *pv_ops+8(%rip)` (6 bytes) is replaced on some CPUs by
 * `pushf; pop %rax` padded with NOPs, described by one 6.1 `alt_instr`
 * (12 bytes: instr_offset, repl_offset, cpuid, instrlen, replacementlen).
 *
 * The ORC entries are written by hand here, as objtool 6.1 would emit them
 * for the original stream; `orctool check --orc` will generate them once
 * stack validation lands.
 */
	.include "orc.inc"
	MODINFO_VERMAGIC 6.1.0-56-cloud-amd64

X86_FEATURE_ALWAYS = 3 * 32 + 21

	.text
	.globl demo_save_flags
	.type demo_save_flags, @function
demo_save_flags:
	push %rbp
1:	mov %rsp, %rbp
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

	/* CFI of the original stream (objtool's ORC for it). */
	ORC61 demo_save_flags, 8,   0, ORC_REG_SP, ORC_REG_UNDEFINED, 0, 0
	ORC61 1b,             16, -16, ORC_REG_SP, ORC_REG_PREV_SP,   0, 0
	ORC61 2b,             16, -16, ORC_REG_BP, ORC_REG_PREV_SP,   0, 0
	ORC61 5b,              8,   0, ORC_REG_SP, ORC_REG_UNDEFINED, 0, 0
