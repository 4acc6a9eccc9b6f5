/* Hand-written .discard.unwind_hints entries in 6.12's struct unwind_hint
 * (include/linux/objtool_types.h: u32 ip; s16 sp_offset; u8 sp_reg; u8 type;
 * u8 signal; 12 bytes), one of each UNWIND_HINT_TYPE_* 6.12 has. */
	.include "orc.inc"
	.section .orc_header, "a"
	.byte 0

UNWIND_HINT_TYPE_UNDEFINED    = 0
UNWIND_HINT_TYPE_END_OF_STACK = 1
UNWIND_HINT_TYPE_CALL         = 2
UNWIND_HINT_TYPE_REGS         = 3
UNWIND_HINT_TYPE_REGS_PARTIAL = 4
UNWIND_HINT_TYPE_FUNC         = 5
UNWIND_HINT_TYPE_SAVE         = 6
UNWIND_HINT_TYPE_RESTORE      = 7

/* The argument order of 6.12's asm/unwind_hints.h UNWIND_HINT macro. */
.macro HINT612 ip, type, sp_reg, sp_offset, signal
	.pushsection .discard.unwind_hints
	.long \ip - .
	.short \sp_offset
	.byte \sp_reg
	.byte \type
	.byte \signal
	.balign 4
	.popsection
.endm

	.text
	.globl entry_612
entry_612:
1:	nop
2:	nop
3:	nop
4:	nop
5:	nop
6:	nop
7:	nop
8:	ret
	HINT612 1b, UNWIND_HINT_TYPE_UNDEFINED, ORC_REG_UNDEFINED, 0, 0
	HINT612 2b, UNWIND_HINT_TYPE_END_OF_STACK, ORC_REG_UNDEFINED, 0, 0
	HINT612 3b, UNWIND_HINT_TYPE_CALL, ORC_REG_SP, 8, 0
	HINT612 4b, UNWIND_HINT_TYPE_REGS, ORC_REG_SP, 168, 1
	HINT612 5b, UNWIND_HINT_TYPE_REGS_PARTIAL, ORC_REG_SP, 0, 1
	HINT612 6b, UNWIND_HINT_TYPE_FUNC, ORC_REG_SP, 8, 0
	HINT612 7b, UNWIND_HINT_TYPE_SAVE, ORC_REG_UNDEFINED, 0, 0
	HINT612 8b, UNWIND_HINT_TYPE_RESTORE, ORC_REG_UNDEFINED, 0, 0
