/* A 6.1-generation module: every ORC register base and type in the 6.1 layout. */
	.include "orc.inc"
	MODINFO_VERMAGIC 6.1.0-56-cloud-amd64

	.text
	.globl frame_func
	.type frame_func, @function
frame_func:
	push %rbp
1:	mov %rsp, %rbp
2:	push %rbx
3:	pop %rbx
4:	pop %rbp
5:	ret
	.size frame_func, . - frame_func

	.section .text.unlikely, "ax"
cold_part:
	ud2
6:	nop

	/* UNWIND_HINT types 6.1: CALL 0, REGS 1, REGS_PARTIAL 2; type 3 is undefined. */
	ORC61 frame_func,  8,   0,  ORC_REG_SP,          ORC_REG_UNDEFINED,   0, 0
	ORC61 1b,         16, -16,  ORC_REG_SP,          ORC_REG_PREV_SP,     0, 0
	ORC61 2b,         16, -16,  ORC_REG_BP,          ORC_REG_PREV_SP,     0, 0
	ORC61 3b,          0,   0,  ORC_REG_DX,          ORC_REG_DI,          1, 0
	ORC61 4b,        160,   8,  ORC_REG_R10,         ORC_REG_R13,         2, 0
	ORC61 5b,       -32768, 32767, ORC_REG_SP_INDIRECT, ORC_REG_BP_INDIRECT, 3, 1
	ORC61 cold_part,   0,   0,  ORC_REG_UNDEFINED,   ORC_REG_UNDEFINED,   0, 1
	ORC61 6b,          8,   0,  15,                  10,                  0, 0
