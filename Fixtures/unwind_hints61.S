/* Hand-written .discard.unwind_hints entries in 6.1's struct unwind_hint
 * (include/linux/objtool.h: u32 ip; s16 sp_offset; u8 sp_reg; u8 type; u8 end;
 * 12 bytes), one of each UNWIND_HINT_TYPE_* 6.1 has. */
	.include "orc.inc"
	MODINFO_VERMAGIC 6.1.0-56-cloud-amd64

UNWIND_HINT_TYPE_CALL         = 0
UNWIND_HINT_TYPE_REGS         = 1
UNWIND_HINT_TYPE_REGS_PARTIAL = 2
UNWIND_HINT_TYPE_FUNC         = 3
UNWIND_HINT_TYPE_ENTRY        = 4
UNWIND_HINT_TYPE_SAVE         = 5
UNWIND_HINT_TYPE_RESTORE      = 6

.macro HINT61 ip, sp_offset, sp_reg, type, end
	.pushsection .discard.unwind_hints
	.long \ip - .
	.short \sp_offset
	.byte \sp_reg
	.byte \type
	.byte \end
	.balign 4
	.popsection
.endm

	.text
	.globl entry_61
entry_61:
1:	nop
2:	nop
3:	nop
4:	nop
5:	nop
6:	nop
7:	nop
8:	ret
	HINT61 1b, 0, ORC_REG_UNDEFINED, UNWIND_HINT_TYPE_CALL, 1
	HINT61 2b, 168, ORC_REG_SP, UNWIND_HINT_TYPE_REGS, 0
	HINT61 3b, 0, ORC_REG_SP, UNWIND_HINT_TYPE_REGS_PARTIAL, 0
	HINT61 4b, 8, ORC_REG_SP, UNWIND_HINT_TYPE_FUNC, 0
	HINT61 5b, -8, ORC_REG_BP, UNWIND_HINT_TYPE_ENTRY, 0
	HINT61 6b, 0, ORC_REG_UNDEFINED, UNWIND_HINT_TYPE_SAVE, 0
	HINT61 7b, 0, ORC_REG_UNDEFINED, UNWIND_HINT_TYPE_RESTORE, 0
	HINT61 8b, 16, ORC_REG_SP_INDIRECT, 9, 0
