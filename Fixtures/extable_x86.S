/* __ex_table entries of each placement (seed 004), x86-64 6.1 layout:
 * { int insn, fixup, data; } with data = type | reg<<8 | flags<<12 | imm<<16. */
	.include "orc.inc"
	MODINFO_VERMAGIC 6.1.0-56-cloud-amd64

EX_TYPE_UACCESS = 3
EX_TYPE_IMM_REG = 17
EX_TYPE_UCOPY_LEN = 19

.macro EXTABLE insn, fixup, data
	.pushsection __ex_table, "a"
	.balign 4
	.long \insn - .
	.long \fixup - .
	.long \data
	.popsection
.endm

	.text
	/* Fixup inside the function: the rule since seed 004. */
	.type f, @function
f:	nop
1:	movq (%rdi), %rax
2:	ret
	EXTABLE 1b, 2b, EX_TYPE_UACCESS
	.size f, . - f

	/* Fixup in an anonymous .fixup section: EFAULT_REG, reg ax. */
	.type g, @function
g:
3:	movl (%rsi), %eax
4:	ret
	.size g, . - g
	.pushsection .fixup, "ax"
5:	movl $-14, %eax
	jmp 4b
	.popsection
	EXTABLE 3b, 5b, (EX_TYPE_IMM_REG | (0 << 8) | ((-14 & 0xffff) << 16))

	/* Fixup in the function's cold child: ZERO_REG on dx, clearing ax. */
	.type h, @function
h:
6:	movq (%rdx), %rdx
7:	ret
	.size h, . - h

	/* Fixup in some other function: UCOPY_LEN8 on cx. */
	.type k, @function
k:
8:	rep movsb
	ret
	.size k, . - k
	.type other, @function
other:
9:	ret
	.size other, . - other
	EXTABLE 8b, 9b, (EX_TYPE_UCOPY_LEN | (1 << 8) | (8 << 16))

	.section .text.unlikely, "ax"
	.type h.cold, @function
h.cold:
10:	xorl %edx, %edx
	jmp 7b
	.size h.cold, . - h.cold
	EXTABLE 6b, 10b, (EX_TYPE_IMM_REG | (2 << 8) | (1 << 12))
