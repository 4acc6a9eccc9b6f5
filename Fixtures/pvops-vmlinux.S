/* A linked image with 6.1's pv_ops slots 30 and 31 set (irq.save_fl,
 * irq.irq_disable), slot 32 _paravirt_nop: the pv_ops targets for orctool patch. */
	.text
	.globl native_save_fl, pv_native_irq_disable, _paravirt_nop, _start
	.type native_save_fl, @function
native_save_fl:
	pushf
	pop %rax
	ret
	.size native_save_fl, . - native_save_fl
	.type pv_native_irq_disable, @function
pv_native_irq_disable:
	cli
	ret
	.size pv_native_irq_disable, . - pv_native_irq_disable
	.type _paravirt_nop, @function
_paravirt_nop:
	ret
	.size _paravirt_nop, . - _paravirt_nop
_start:
	ret
	.data
	.globl pv_ops
	.type pv_ops, @object
	.balign 8
pv_ops:
	.skip 30 * 8
	.quad native_save_fl, pv_native_irq_disable, _paravirt_nop
	.skip 8
	.size pv_ops, . - pv_ops
