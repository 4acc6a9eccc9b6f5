/* arm64 __ex_table entries ({ int insn, fixup; short type, data; },
 * arch/arm64/include/asm/asm-extable.h): one in the function, one in
 * anonymous .fixup text (what seed 004 removed from arm64). */
EX_TYPE_UACCESS_ERR_ZERO = 2
EX_TYPE_LOAD_UNALIGNED_ZEROPAD = 4

.macro EXTABLE insn, fixup, type, data
	.pushsection __ex_table, "a"
	.balign 4
	.long \insn - .
	.long \fixup - .
	.short \type
	.short \data
	.popsection
.endm

	.text
	.type get, @function
get:
1:	ldr x1, [x0]
2:	ret
	.size get, . - get
	/* err in x0 (bits 0-4), zero in x1 (bits 5-9) */
	EXTABLE 1b, 2b, EX_TYPE_UACCESS_ERR_ZERO, (0 | (1 << 5))

	.type zeropad, @function
zeropad:
3:	ldr x2, [x3]
4:	ret
	.size zeropad, . - zeropad
	.pushsection .fixup, "ax"
5:	mov x2, #0
	b 4b
	.popsection
	/* data in x2, addr in x3 */
	EXTABLE 3b, 5b, EX_TYPE_LOAD_UNALIGNED_ZEROPAD, (2 | (3 << 5))
