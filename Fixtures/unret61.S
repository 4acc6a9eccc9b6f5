/* objtool 6.1's --unret: from each entry point (UNWIND_HINT_ENTRY, or an
 * UNWIND_HINT_IRET_REGS at a global symbol) every path must reach the end of
 * UNTRAIN_RET (VALIDATE_UNRET_END) or a call before a return or an indirect branch.
 * objtool 6.1 also writes each UNWIND_HINT_ENTRY back as a CALL hint. */
.include "actions61.inc"
ALT_GEN = 61
.include "seed000.inc"

	.section .entry.text, "ax"
CODE ent_good			/* untrains first */
	UNWIND_HINT_ENTRY
	call untrain
	ret
END ent_good
CODE ent_jcc			/* RET before UNTRAIN, on the branch taken */
	UNWIND_HINT_ENTRY
	test %eax, %eax
	jz 1f
	call untrain
1:	ret
END ent_jcc
CODE ent_alt			/* through a replacement into a function that returns first */
	UNWIND_HINT_ENTRY
661:	.skip 5, 0x90
662:
	.pushsection .altinstr_replacement, "ax"
671:	call early_ret
672:
	.popsection
	ALT_ENTRY 661b, 662b, 671b, 672b, 11*32+10
	call untrain
	ud2
END ent_alt
CODE ent_indirect		/* early indirect call */
	UNWIND_HINT_ENTRY
	jmp *%rax
END ent_indirect
CODE ent_end			/* VALIDATE_UNRET_END itself */
	UNWIND_HINT_ENTRY
	VALIDATE_UNRET_END
	ret
END ent_end
CODE ent_iret			/* an IRET_REGS hint at a global symbol is an entry too */
	UNWIND_HINT_IRET_REGS
	ret
END ent_iret
local_iret:			/* not global: no entry */
	UNWIND_HINT_IRET_REGS
	ret

	.text
LOCAL_FUNC untrain
	VALIDATE_UNRET_END
	ret
END untrain
LOCAL_FUNC early_ret
	ret
END early_ret
