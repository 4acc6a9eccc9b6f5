/* objtool 6.1's --ibt: an address of code taken outside a direct branch must name
 * an ENDBR, an ANNOTATE_NOENDBR place or its own function; the ENDBRs at function
 * starts no address names are listed in .ibt_endbr_seal; a jump past a function's
 * ENDBR is a sibling call; an UNWIND_HINT_IRET_REGS entry needs an ENDBR. */
.include "actions61.inc"

	.text
FUNC a				/* named by user's lea: used */
	endbr64
	ret
END a
FUNC b				/* named by nothing: sealed */
	endbr64
	ret
END b
FUNC c				/* named from .data: used */
	endbr64
	ret
END c
FUNC d				/* relocation to !ENDBR: d+0x0 */
	ret
END d
FUNC e				/* data relocation to !ENDBR: e+0x0 */
	ret
END e
FUNC g				/* user jumps past the ENDBR: a sibling call with --ibt */
	endbr64
.Lg_body:
	nop
	ret
END g
FUNC h				/* an ENDBR inside a function */
	nop
	endbr64
	ret
END h
FUNC __SCT__tick		/* a static call trampoline needs no ENDBR */
	ret
END __SCT__tick
FUNC user
	endbr64
	lea a(%rip), %rax
	lea d(%rip), %rax
	lea user(%rip), %rax		/* its own function */
	lea quiet(%rip), %rax		/* ANNOTATE_NOENDBR */
	lea __SCT__tick(%rip), %rax
	call b				/* a direct call needs none */
	test %eax, %eax
	jz .Lg_body
	ret
END user
FUNC quiet
	ANNOTATE_NOENDBR
	ret
END quiet
CODE iret_entry			/* UNWIND_HINT_IRET_REGS without ENDBR */
	UNWIND_HINT_IRET_REGS
	ud2
END iret_entry
CODE iret_endbr
	UNWIND_HINT_IRET_REGS
	endbr64
	ud2
END iret_endbr
CODE iret_noendbr
	ANNOTATE_NOENDBR
	UNWIND_HINT_IRET_REGS
	ud2
END iret_noendbr

	.data
	.quad c, e
	.section .discard.addressable, "aw"	/* a .discard section: not checked */
	.quad d
