/* Unit 2: another static dup and dup.cold of the same names. Only the code
 * tells that this dup.cold belongs to this dup (kpatch-build, reading the
 * linked object, would take unit 1's dup: its first match by name). */
	.text
	.type dup, @function
dup:	call __fentry__
	nop
	nop
	je dup.cold
	ret
	.size dup, . - dup

	.section .text.unlikely, "ax"
	.type dup.cold, @function
dup.cold:
	ud2
	ud2
	.size dup.cold, . - dup.cold
