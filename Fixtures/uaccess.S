/* objtool 6.1's UACCESS (--uaccess) and direction-flag rules, one function per
 * warning; ALT_SMAP pads the original with one-byte NOPs as 6.1's ALTERNATIVE()
 * does and puts up to three replacement instructions behind X86_FEATURE_SMAP. */
ALT_GEN = 61
.include "seed000.inc"
X86_FEATURE_SMAP = 9*32+20
.macro ALT_SMAP len, a, b, c
661:	.skip \len, 0x90
662:
	.pushsection .altinstr_replacement, "ax"
671:	\a
	.ifnb \b
	\b
	.endif
	.ifnb \c
	\c
	.endif
672:
	.popsection
	ALT_ENTRY 661b, 662b, 671b, 672b, X86_FEATURE_SMAP
.endm
.macro FUNC name
	.globl \name
	.type \name, @function
\name:
.endm
.macro END name
	.size \name, . - \name
.endm

	.text
FUNC call_open		/* call to foo() with UACCESS enabled */
	stac
	call foo
	clac
	ret
END call_open
FUNC return_open	/* return with UACCESS enabled */
	stac
	ret
END return_open
FUNC stac_twice		/* recursive UACCESS enable */
	stac
	stac
	clac
	ret
END stac_twice
FUNC clac_closed	/* redundant UACCESS disable */
	clac
	ret
END clac_closed
FUNC kasan_report	/* UACCESS-safe disables UACCESS */
	clac
	ret
END kasan_report
FUNC call_df		/* call to foo() with DF set */
	std
	call foo
	cld
	ret
END call_df
FUNC return_df		/* return with DF set */
	std
	ret
END return_df
FUNC std_twice		/* recursive STD */
	std
	std
	cld
	ret
END std_twice
FUNC cld_clear		/* redundant CLD */
	cld
	ret
END cld_clear
FUNC kasan_check_range	/* return with UACCESS disabled from a UACCESS-safe function */
	ALT_SMAP 5, pushf, "pop %rax", clac
	ret
END kasan_check_range
FUNC smap_call		/* SMAP alternatives, followed only with --uaccess */
	ALT_SMAP 3, stac
	call bar
	ALT_SMAP 3, clac
	ret
END smap_call
FUNC safe_and_dynamic	/* a uaccess-safe callee is fine, an indirect call is not */
	ALT_SMAP 3, stac
	call __kasan_check_read
	call *%rax
	ALT_SMAP 3, clac
	ret
END safe_and_dynamic
FUNC save_restore	/* smap_save()/smap_restore(): PUSHF/POPF keep the UACCESS bit */
	ALT_SMAP 3, stac
	ALT_SMAP 5, pushf, "pop %rax", clac
	mov (%rsi), %eax
	ALT_SMAP 2, "push %rax", popf
	ALT_SMAP 3, clac
	ret
END save_restore
FUNC both_states	/* 1: is followed twice, UACCESS disabled then enabled */
	test %edi, %edi
	jz 1f
	stac
1:	call foo
	ret
END both_states
FUNC pushf_deep		/* PUSHF stack exhausted (32 levels) */
661:	.skip 66, 0x90
662:
	ret
END pushf_deep
	.pushsection .altinstr_replacement, "ax"
671:	.rept 33
	pushf
	.endr
	.rept 33
	popf
	.endr
672:
	.popsection
	ALT_ENTRY 661b, 662b, 671b, 672b, X86_FEATURE_SMAP
