/* Paravirt patch sites (6.1 .parainstructions) with seed 002's invariants
 * kept and broken, seed 001's alternative over irq.save_fl, and a small
 * hand-written .BTF that describes struct paravirt_patch_template. */
	.include "orc.inc"
	MODINFO_VERMAGIC 6.1.0-56-cloud-amd64

X86_FEATURE_XENPV = 8 * 32 + 16
ALTINSTR_FLAG_INV = 1 << 15

.macro PV_SITE label, type, len, clobbers=0x1ff
	.pushsection .parainstructions, "a"
	.balign 8
	.quad \label
	.byte \type
	.byte \len
	.short \clobbers
	.balign 8
	.popsection
.endm

	.text
	.type pv_user, @function
pv_user:
	/* A: irq.save_fl (slot 2), the site of seed 001, with its alternative. */
771:	call *pv_ops+16(%rip)
772:	PV_SITE 771b, 2, (772b-771b), 0x1
	.pushsection .altinstr_replacement, "ax"
773:	pushf
	pop %rax
774:	.popsection
	.pushsection .altinstructions, "a"
	.long 771b - .
	.long 773b - .
	.word X86_FEATURE_XENPV | ALTINSTR_FLAG_INV
	.byte 772b - 771b
	.byte 774b - 773b
	.popsection

	/* B: a site recorded as 5 bytes: shorter than the indirect call. */
775:	call *pv_ops+24(%rip)
	PV_SITE 775b, 3, 5

	/* C: type says cpu.cpuid (1), the call reads cpu.io_delay (0). */
776:	call *pv_ops+0(%rip)
	PV_SITE 776b, 1, 6

	/* D: native code where the call should be. */
777:	cli
	.skip 5, 0x90
	PV_SITE 777b, 3, 6

	/* E: cpu.io_delay (not callee-save) with CLBR_RAX only: a direct call to C
	 * code may change every caller-saved register (seed 002, invariant 2). */
778:	call *pv_ops+0(%rip)
	PV_SITE 778b, 0, 6, 0x1

	/* F: irq.save_fl whose replacement writes %rcx, outside its CLBR_RAX. */
779:	call *pv_ops+16(%rip)
780:	PV_SITE 779b, 2, (780b-779b), 0x1
	.pushsection .altinstr_replacement, "ax"
781:	pushf
	pop %rcx
782:	.popsection
	.pushsection .altinstructions, "a"
	.long 779b - .
	.long 781b - .
	.word X86_FEATURE_XENPV | ALTINSTR_FLAG_INV
	.byte 780b - 779b
	.byte 782b - 781b
	.popsection
	ret
	.size pv_user, . - pv_user

/* BTF (include/uapi/linux/btf.h): ids 1.. in order below. */
BTF_KIND_INT = 1
BTF_KIND_PTR = 2
BTF_KIND_STRUCT = 4
BTF_KIND_TYPEDEF = 8
.macro BTF_TYPE name, kind, vlen, size_or_type
	.long \name - .Lstr
	.long (\kind << 24) | \vlen
	.long \size_or_type
.endm
.macro BTF_MEMBER name, type, bits
	.long \name - .Lstr
	.long \type
	.long \bits
.endm
	.section .BTF, "", @progbits
	.short 0xeb9f
	.byte 1, 0
	.long 24
	.long 0
	.long .Ltypes_end - .Ltypes
	.long .Lstr - .Ltypes
	.long .Lstr_end - .Lstr
.Ltypes:
	BTF_TYPE .Ls_long, BTF_KIND_INT, 0, 8            /* 1 */
	.long 0x01000040
	BTF_TYPE .Lstr, BTF_KIND_PTR, 0, 0               /* 2: void * */
	BTF_TYPE .Ls_callee, BTF_KIND_STRUCT, 1, 8       /* 3 */
	BTF_MEMBER .Ls_func, 2, 0
	BTF_TYPE .Ls_cpu_ops, BTF_KIND_STRUCT, 2, 16     /* 4 */
	BTF_MEMBER .Ls_io_delay, 2, 0
	BTF_MEMBER .Ls_cpuid, 2, 64
	BTF_TYPE .Ls_irq_ops, BTF_KIND_STRUCT, 2, 16     /* 5 */
	BTF_MEMBER .Ls_save_fl, 3, 0
	BTF_MEMBER .Ls_irq_disable, 3, 64
	BTF_TYPE .Ls_cpu_t, BTF_KIND_TYPEDEF, 0, 4       /* 6: typedef struct pv_cpu_ops cpu_t */
	BTF_TYPE .Ls_template, BTF_KIND_STRUCT, 2, 32    /* 7 */
	BTF_MEMBER .Ls_cpu, 6, 0
	BTF_MEMBER .Ls_irq, 5, 128
.Ltypes_end:
.Lstr:
	.byte 0
.Ls_long: .asciz "long"
.Ls_callee: .asciz "paravirt_callee_save"
.Ls_func: .asciz "func"
.Ls_cpu_ops: .asciz "pv_cpu_ops"
.Ls_io_delay: .asciz "io_delay"
.Ls_cpuid: .asciz "cpuid"
.Ls_irq_ops: .asciz "pv_irq_ops"
.Ls_save_fl: .asciz "save_fl"
.Ls_irq_disable: .asciz "irq_disable"
.Ls_cpu_t: .asciz "cpu_t"
.Ls_template: .asciz "paravirt_patch_template"
.Ls_cpu: .asciz "cpu"
.Ls_irq: .asciz "irq"
.Lstr_end:
