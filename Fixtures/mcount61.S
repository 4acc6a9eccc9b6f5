/* objtool 6.1's --mcount: each call to the global __fentry__ becomes a 5-byte NOP,
 * its relocation R_X86_64_NONE, and __mcount_loc lists it (R_X86_64_64 to the
 * call, tail calls first); a replacement's call is left alone. */
.include "actions61.inc"
ALT_GEN = 61
.include "seed000.inc"

	.text
FUNC f1
	call __fentry__
	push %rbp
	mov %rsp, %rbp
	call f2
	pop %rbp
	ret
END f1
FUNC f2
	call __fentry__
	ret
END f2
FUNC f3				/* Tail call to __fentry__ !?!? */
	jmp __fentry__
END f3
FUNC f4				/* in a replacement: not annotated */
661:	.skip 5, 0x90
662:
	.pushsection .altinstr_replacement, "ax"
671:	call __fentry__
672:
	.popsection
	ALT_ENTRY 661b, 662b, 671b, 672b, 3*32+21
	ret
END f4
	.section .text.unlikely, "ax"
FUNC f5
	call __fentry__
	ret
END f5
