/* objtool 6.1's --noinstr: noinstr code (.noinstr.text, .entry.text,
 * .text..__x86.*) calls only noinstr code, except between instrumentation_begin()
 * and instrumentation_end(), and __ubsan_handle_*(); an indirect call through a
 * pv_ops slot only when every function known for the slot (pv_ops' and Xen's
 * templates' initialisers, .init.text stores) is noinstr. */
.include "actions61.inc"

	.section .noinstr.text, "ax"
FUNC n_calls_text		/* call to t() leaves .noinstr.text section */
	call t
	ret
END n_calls_text
LOCAL_FUNC n_leaf
	ret
END n_leaf
LOCAL_FUNC n_leaf2
	ret
END n_leaf2
FUNC n_calls_noinstr
	call n_leaf
	ret
END n_calls_noinstr
FUNC n_calls_ubsan
	call __ubsan_handle_add_overflow
	ret
END n_calls_ubsan
FUNC n_calls_extern		/* another object's function: leaves */
	call ext_func
	ret
END n_calls_extern
FUNC n_instrumented		/* allowed between begin and end */
	INSTRUMENTATION_BEGIN
	call t
	INSTRUMENTATION_END
	ret
END n_instrumented
FUNC n_instr_ret		/* return with instrumentation enabled */
	INSTRUMENTATION_BEGIN
	ret
END n_instr_ret
FUNC n_tail			/* a sibling call leaves too */
	jmp t
END n_tail
FUNC n_pv_clean			/* slot 1: n_leaf only */
	call *pv_ops+8(%rip)
	ret
END n_pv_clean
FUNC n_pv_dirty			/* slot 2: n_leaf2 and t; named pv_ops[1] (the addend over 8) */
	call *pv_ops+16(%rip)
	ret
END n_pv_dirty
FUNC n_pv_dirty_again		/* a dirty slot is checked again */
	call *pv_ops+16(%rip)
	ret
END n_pv_dirty_again
FUNC n_pv_xen			/* slot 3: t2, from xen_cpu_ops */
	call *pv_ops+24(%rip)
	ret
END n_pv_xen
FUNC n_pv_init			/* slot 4: t3, from an .init.text store */
	call *pv_ops+32(%rip)
	ret
END n_pv_init
FUNC n_pv_nop			/* slot 0: _paravirt_nop only, which is left out */
	call *pv_ops+0(%rip)
	ret
END n_pv_nop
FUNC n_pv_uaccess		/* the noinstr check looks the relocation up: pv_ops[0] after */
	stac
	call *pv_ops+8(%rip)
	clac
	ret
END n_pv_uaccess
FUNC n_indirect			/* {dynamic} */
	call *%rax
	ret
END n_indirect
FUNC n_retpoline		/* a retpoline thunk is a dynamic call */
	call __x86_indirect_thunk_rax
	ret
END n_retpoline
CODE n_hint			/* a path from a hint: noinstr only in validate_noinstr_sections() */
	UNWIND_HINT type=0 sp_reg=5 sp_offset=8
	call t
	ud2
END n_hint

	.section .entry.text, "ax"
FUNC e_calls_text
	call t
	ret
END e_calls_text

	.section .text..__x86.indirect_thunk, "ax"
FUNC x_calls_text		/* noinstr, but validate_noinstr_sections() skips it */
	call t
	ret
END x_calls_text

	.text
FUNC t
	ret
END t
FUNC t2
	ret
END t2
FUNC t3
	ret
END t3
FUNC _paravirt_nop
	ret
END _paravirt_nop
FUNC t_calls_text		/* .text: no rule */
	call t
	ret
END t_calls_text

	.section .init.text, "ax"
FUNC init_pv			/* x86's decoder reads these stores (movq $f, pv_ops+off(%rip)) */
	movq $t3, pv_ops+32(%rip)
	movq $n_leaf, pv_ops+40(%rip)	/* n_leaf is slot 1's already */
	ret
END init_pv

	.data
	.globl pv_ops
	.type pv_ops, @object
pv_ops:
	.quad _paravirt_nop, n_leaf, t, 0, 0, 0
	.size pv_ops, . - pv_ops
	.type xen_cpu_ops, @object
xen_cpu_ops:
	.quad 0, 0, n_leaf2, t2
	.size xen_cpu_ops, . - xen_cpu_ops
