/* --hacks=noinstr: calls from noinstr sections to global instrumentation
 * functions become NOPs (a tail call ret; int3), their relocations
 * R_X86_64_NONE; other calls, and those from .text, stay. */
	.section .noinstr.text, "ax"
	.globl n1
	.type n1, @function
n1:	push %rbp
	call __sanitizer_cov_trace_pc
	call __tsan_func_entry
	call __tsan_atomic_signal_fence
	call __tsan_read4		/* not a profiling function */
	call weak_cov			/* not global */
	pop %rbp
	jmp __tsan_func_exit		/* a tail call: ret; int3; nop3 */
	.size n1, . - n1
	.globl n2
	.type n2, @function
n2:	test %edi, %edi
	jz 1f
	jmp __sanitizer_cov_trace_cmp4
1:	call __sanitizer_cov_trace_pc
	ret
	.size n2, . - n2
	.section .entry.text, "ax"
	.globl e1
	.type e1, @function
e1:	call __sanitizer_cov_trace_pc
	ret
	.size e1, . - e1
	.section .text..__x86.indirect_thunk, "ax"
	.globl t1
	.type t1, @function
t1:	call __sanitizer_cov_trace_pc
	ret
	.size t1, . - t1
	.text
	.globl f
	.type f, @function
f:	call __sanitizer_cov_trace_pc	/* .text is not noinstr */
	ret
	.size f, . - f
	.weak weak_cov
