/* A 6.12-generation module: every 6.12 ORC type, the signal bit, .orc_header. */
	.include "orc.inc"
	MODINFO_VERMAGIC 6.12.117+deb12-cloud-amd64

	.section .orc_header, "a"
	.byte 0x4b, 0x4b, 0x2f, 0x3b, 0x52, 0xdd, 0x4d, 0x8e, 0x70, 0x42, 0x9c, 0x33, 0x4c, 0x73, 0x89, 0x36
	.byte 0xf0, 0x5c, 0xf2, 0xfd, 0x84, 0xb9, 0x5b, 0x21, 0x12, 0x90, 0x8f, 0x6a, 0x6e, 0x9b, 0x3f, 0xfd

	.text
	.globl entry_func
	.type entry_func, @function
entry_func:
	nop
1:	nop
2:	nop
3:	nop
4:	nop
5:	nop
6:	ret
	.size entry_func, . - entry_func

	/* ORC_TYPE_UNDEFINED 0, END_OF_STACK 1, CALL 2, REGS 3, REGS_PARTIAL 4; 5-7 undefined. */
	ORC612 entry_func, 0,  0,  ORC_REG_UNDEFINED,   ORC_REG_UNDEFINED, 0, 0
	ORC612 1b,         0,  0,  ORC_REG_UNDEFINED,   ORC_REG_UNDEFINED, 1, 0
	ORC612 2b,         8,  0,  ORC_REG_SP,          ORC_REG_UNDEFINED, 2, 0
	ORC612 3b,       168,  0,  ORC_REG_SP,          ORC_REG_UNDEFINED, 3, 1
	ORC612 4b,        40, -8,  ORC_REG_SP_INDIRECT, ORC_REG_BP_INDIRECT, 4, 1
	ORC612 5b,        16, -16, ORC_REG_BP,          ORC_REG_PREV_SP,   5, 0
	ORC612 6b,         8,  0,  ORC_REG_SP,          ORC_REG_UNDEFINED, 7, 1
