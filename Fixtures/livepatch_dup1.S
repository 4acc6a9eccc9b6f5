/* Unit 1 of two linked with `ld -r` (as a module is): a static dup and its
 * dup.cold, with no .file directive, so no STT_FILE symbols. */
	.text
	.type dup, @function
dup:	call __fentry__
	jne dup.cold
	ret
	.size dup, . - dup

	.section .text.unlikely, "ax"
	.type dup.cold, @function
dup.cold:
	ud2
	.size dup.cold, . - dup.cold
