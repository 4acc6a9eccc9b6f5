/* __jump_table entries as arch/x86/include/asm/jump_label.h writes them
 * (struct jump_entry { s32 code; s32 target; long key; }, 16 bytes):
 * `.long 1b - .`, `.long l_yes - .`, `.quad key + branch - .`. */
	.include "orc.inc"
	MODINFO_VERMAGIC 6.1.0-56-cloud-amd64

.macro JUMP_ENTRY code, target, key, branch
	.pushsection __jump_table, "aw"
	.balign 8
	.long \code - .
	.long \target - .
	.quad \key + \branch - .
	.popsection
.endm

	.data
	.balign 8
	.globl local_key
local_key:
	.quad 0, 0

	.text
	.globl f
	.type f, @function
f:
1:	.byte 0x0f, 0x1f, 0x44, 0x00, 0x00	/* 5-byte NOP: static_branch_unlikely(&local_key) */
	JUMP_ENTRY 1b, 3f, local_key, 0
	/* arch_static_branch(&other_key, true) under CONFIG_HAVE_JUMP_LABEL_HACK:
	 * a jmp for objtool to NOP (2 | branch), the key in another file. */
2:	jmp 3f
	JUMP_ENTRY 2b, 4f, other_key, 2 | 1
3:	nop
4:	ret
	.size f, . - f

	/* An entry whose target has no relocation: left out, as the static-key pass does. */
	.pushsection __jump_table, "aw"
	.balign 8
	.long 1b - .
	.long 0
	.quad local_key - .
	.popsection
