/* Every call site objtool 6.1's --static-call, --retpoline and --rethunk list, the
 * warnings of --retpoline, --rethunk and --sls, and the static-key sites
 * --hacks=jump_label rewrites (Tests/ValidationTests/CallSiteTests.swift). */
	ALT_GEN = 61
	.include "seed000.inc"
	.include "callsites.inc"
	X86_FEATURE_RETPOLINE = 7*32+12
	X86_FEATURE_RETPOLINE_LFENCE = 7*32+13
	X86_FEATURE_RETHUNK = 11*32+14

	.text
	.globl f
	.type f, @function
f:	push %rbx
	call __SCT__tick			/* .static_call_sites */
	call __x86_indirect_thunk_rax		/* .retpoline_sites */
	ANNOTATE_RETPOLINE_SAFE
	call *%rbx				/* annotated: no warning */
	call *%rax				/* indirect call found in RETPOLINE build */
	/* CALL_NOSPEC: the replacements' thunk call is not listed, their annotation counts */
661:	ANNOTATE_RETPOLINE_SAFE
	call *%rcx
	.skip 3, 0x90
662:
	.pushsection .altinstr_replacement, "ax"
671:	call __x86_indirect_thunk_rcx
672:	lfence
	ANNOTATE_RETPOLINE_SAFE
	call *%rcx
673:
	.popsection
	ALT_ENTRY 661b, 662b, 671b, 672b, X86_FEATURE_RETPOLINE
	ALT_ENTRY 661b, 662b, 672b, 673b, X86_FEATURE_RETPOLINE_LFENCE
	STATIC_BRANCH_NOP_HACK 1f, key_x		/* 2-byte jmp: a 2-byte NOP */
	STATIC_BRANCH_NOP_HACK f.cold, key_x, 1	/* 5-byte jmp to .text.unlikely: NOP, relocation voided */
	STATIC_BRANCH_NOP 1f, key_y			/* already a NOP */
	STATIC_BRANCH_JUMP 2f, key_y			/* a jump objtool keeps */
2:	pop %rbx
	jmp __SCT__tock				/* a static tail call */
1:	pop %rbx
	/* RET: the return thunk, a plain return patched in */
663:	jmp __x86_return_thunk			/* .return_sites */
664:
	.pushsection .altinstr_replacement, "ax"
674:	ANNOTATE_RETPOLINE_SAFE
	ret
	int3
675:
	.popsection
	ALT_ENTRY 663b, 664b, 674b, 675b, X86_FEATURE_RETHUNK
	.size f, . - f

	/* A thunk jump in a replacement is listed in .return_sites all the same. */
	.globl r
	.type r, @function
r:
665:	ANNOTATE_RETPOLINE_SAFE
	ret
	int3
	.skip 3, 0xcc
666:
	.pushsection .altinstr_replacement, "ax"
676:	jmp __x86_return_thunk
677:
	.popsection
	ALT_ENTRY 665b, 666b, 676b, 677b, X86_FEATURE_RETHUNK
	.size r, . - r

	.type g, @function
g:	ret					/* 'naked' return, missing int3 after ret */
	.size g, . - g
	.type h, @function
h:	jmp *%rax				/* indirect jump; missing int3 after indirect jump */
	.size h, . - h
	.type k, @function
k:	ANNOTATE_RETPOLINE_SAFE
	ret					/* annotated: neither */
	int3
	.size k, . - k
	.type m, @function
m:	ret					/* 'naked' return only */
	int3
	.size m, . - m
	.type n, @function
n:	test %eax, %eax
	jz 3f
	jmp __x86_indirect_thunk_rdx		/* a retpoline jump: listed, no SLS warning */
3:	jmp __x86_return_thunk
	.size n, . - n

	.section .text.unlikely, "ax"
	.type f.cold, @function
f.cold:	pop %rbx
	jmp __x86_return_thunk
	.size f.cold, . - f.cold

	/* .init.text runs before user space: indirect calls there are warned about in modules only */
	.section .init.text, "ax"
	.type i, @function
i:	call *%rax
	call __SCT__tick
	jmp __x86_return_thunk
	.size i, . - i

	ADDRESSABLE __SCK__tick
	ADDRESSABLE __SCK__tock
