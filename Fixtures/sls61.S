/* Returns and indirect jumps at the edges objtool 6.1's --sls and --rethunk look at
 * (Tests/ValidationTests/CallSiteTests.swift): the instruction after a replacement's
 * last one is its fake NOP, conditional thunk jumps, a jump table. */
	ALT_GEN = 61
	.include "seed000.inc"
	.include "callsites.inc"
	X86_FEATURE_RETHUNK = 11*32+14
	X86_FEATURE_RETPOLINE = 7*32+12

	.text
	/* A replacement ending in a plain ret, shorter than the original: the fake NOP follows it. */
	.globl a
	.type a, @function
a:
661:	jmp __x86_return_thunk
662:
	.pushsection .altinstr_replacement, "ax"
671:	ret
672:
	.popsection
	ALT_ENTRY 661b, 662b, 671b, 672b, X86_FEATURE_RETHUNK
	.size a, . - a

	/* A replacement ending in an indirect jump as long as the original: the next
	 * replacement's first instruction follows it. */
	.globl b
	.type b, @function
b:
663:	jmp __x86_indirect_thunk_rax
664:
	.pushsection .altinstr_replacement, "ax"
673:	lfence
	jmp *%rax
674:
	.popsection
	ALT_ENTRY 663b, 664b, 673b, 674b, X86_FEATURE_RETPOLINE
	.size b, . - b

	/* Conditional jumps through the thunks: returns and indirect jumps in disguise. */
	.globl c
	.type c, @function
c:	test %edi, %edi
	jnz __x86_indirect_thunk_rax
	test %esi, %esi
	jz __x86_return_thunk
	ANNOTATE_RETPOLINE_SAFE
	nop
	jmp __x86_return_thunk
	.size c, . - c

	/* A switch through a table: an indirect jump all the same. */
	.globl d
	.type d, @function
d:	mov .Ltable(,%rdi,8), %rax
	jmp *%rax
	int3
1:	jmp __x86_return_thunk
2:	jmp __x86_return_thunk
	.size d, . - d

	/* The last instruction of a section: nothing follows it. */
	.section .text.last, "ax"
	.globl e
	.type e, @function
e:	ret
	.size e, . - e

	.section .rodata, "a"
.Ltable:
	.quad 1b, 2b
