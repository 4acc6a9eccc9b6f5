/*
 * A linked image (ld, as vmlinux is linked): no relocations in the code and
 * no .discard.* sections. Branches are resolved by address, and the
 * alternatives view names every address by its symbol.
 */
	.section .text, "ax"

	.globl	pv_caller
	.type	pv_caller, @function
pv_caller:
	push	%rbp
	mov	%rsp, %rbp
661:	call	*pv_ops+8(%rip)
662:
	.section .altinstr_replacement, "ax"
6631:	call	native_fn
6641:
	.previous
	.section .altinstructions, "a"
	.long	661b - .
	.long	6631b - .
	.word	0x110 | (1 << 15)	/* !X86_FEATURE_XENPV */
	.byte	662b - 661b
	.byte	6641b - 6631b
	.previous
	/* A call to a label inside a thunk array: the object's relocation named the thunk. */
	call	__x86_indirect_thunk_rax
	/* An intra-function call whose annotation (.discard.intra_function_calls) the link dropped. */
	call	1f
	int3
1:	add	$8, %rsp
	pop	%rbp
	/* A sibling call into another section, then the return thunk. */
	test	%rax, %rax
	jz	init_fn
	jmp	__x86_return_thunk
	.size	pv_caller, . - pv_caller

	.globl	native_fn
	.type	native_fn, @function
native_fn:
	ret
	.size	native_fn, . - native_fn

	/* Xen's emulate prefix: data that decodes as `ud2; js .+0x67; outsb; cpuid`,
	 * whose js lands inside the movabs below. */
	.globl	xen_fn
	.type	xen_fn, @function
xen_fn:
	.byte	0x0f, 0x0b, 0x78, 0x65, 0x6e
	cpuid
	ret
	.fill	0x64 - (. - xen_fn), 1, 0x90
	movabs	$0x1122334455667788, %rax
	ret
	.size	xen_fn, . - xen_fn

	.globl	__x86_indirect_thunk_array
__x86_indirect_thunk_array:
	.globl	__x86_indirect_thunk_rax
__x86_indirect_thunk_rax:
	jmp	*%rax
	int3

	.globl	__x86_return_thunk
	.type	__x86_return_thunk, @function
__x86_return_thunk:
	ret
	int3
	.size	__x86_return_thunk, . - __x86_return_thunk

	/* 32-bit start-up code (pvh_start_xen): a far jump, invalid in 64-bit mode. */
	.code32
	.globl	start32
start32:
	ljmp	$0x8, $0x1000
	.code64

	.section .init.text, "ax"
	.globl	init_fn
	.type	init_fn, @function
init_fn:
	ret
	.size	init_fn, . - init_fn

	.data
	.globl	pv_ops
	.type	pv_ops, @object
pv_ops:
	.quad	0, 0, 0
	.size	pv_ops, . - pv_ops
