/* objtool 6.1 annotations: unwind hints (REGS_PARTIAL, REGS, CALL+end, SAVE/RESTORE),
 * .discard.func_stack_frame_non_standard and .discard.reachable after a ud2. */
	.include "orc.inc"
	MODINFO_VERMAGIC 6.1.0-56-cloud-amd64
	.include "unwind_hint.inc"
	.text
	/* entry code without a function symbol: an IRET-frame hint, then pushes */
	.globl entry_thing
entry_thing:
	UNWIND_HINT type=2 sp_reg=5 sp_offset=0
	push %rax
	push %rbx
	UNWIND_HINT type=1 sp_reg=5 sp_offset=168
	call do_thing
	pop %rbx
	pop %rax
	iretq
	/* a callable function that ends the stack */
	.globl start_thing
	.type start_thing, @function
start_thing:
	UNWIND_HINT type=0 sp_reg=0 end=1
	xor %ebp, %ebp
	call kernel_main
	ud2
	.size start_thing, . - start_thing
	/* a non-standard function: ignored */
	.type odd, @function
odd:	push %rbx
	ret
	.size odd, . - odd
	.pushsection .discard.func_stack_frame_non_standard, "aw"
	.quad odd
	.popsection
	/* save/restore around a stack switch */
	.globl f
	.type f, @function
f:	push %rbp
	UNWIND_HINT type=5
	mov %rsp, %rbp
	mov %rdi, %rsp
	push %rbx
	pop %rbx
	mov %rbp, %rsp
	UNWIND_HINT type=6
	pop %rbp
	ret
	.size f, . - f
	/* a WARN: reachable after ud2 */
	.type g, @function
g:	test %edi, %edi
	jz 1f
	ud2
2:	ret
1:	xor %eax, %eax
	jmp 2b
	.size g, . - g
	.pushsection .discard.reachable, "aw"
	.long 2b - .
	.popsection
