/* orctool patch and verify-variants (6.1): two paravirt sites (irq.save_fl with seed
 * 001's `pushf; pop %rax` for !XENPV, irq.irq_disable without an alternative), an
 * alternative whose replacement calls a function (its relocation moves with it), and a
 * static key (a 5-byte NOP, branch bit clear) over a block that pushes, where a third
 * site's slot is _paravirt_nop. The slots are 6.1's: irq.save_fl 30, irq.irq_disable 31,
 * irq.irq_enable 32. */
	.include "orc.inc"
	.include "callsites.inc"
	MODINFO_VERMAGIC 6.1.0-56-cloud-amd64

X86_FEATURE_XENPV = 8 * 32 + 16
X86_FEATURE_XMM2 = 0 * 32 + 26
ALTINSTR_FLAG_INV = 1 << 15

.macro PV_SITE label, type, len
	.pushsection .parainstructions, "a"
	.balign 8
	.quad \label
	.byte \type
	.byte \len
	.short 0x1
	.balign 8
	.popsection
.endm

.macro ALT orig, orig_end, repl, repl_end, feature
	.pushsection .altinstructions, "a"
	.long \orig - .
	.long \repl - .
	.word \feature
	.byte \orig_end - \orig
	.byte \repl_end - \repl
	.popsection
.endm

	.text
	.globl pvf
	.type pvf, @function
pvf:
	push %rbx
771:	call *pv_ops+0xf0(%rip)
772:	PV_SITE 771b, 30, (772b-771b)
	ALT 771b, 772b, 781f, 782f, X86_FEATURE_XENPV | ALTINSTR_FLAG_INV
	mov %rax, %rbx
773:	call *pv_ops+0xf8(%rip)
774:	PV_SITE 773b, 31, (774b-773b)
775:	.skip 6, 0x90
776:	ALT 775b, 776b, 783f, 784f, X86_FEATURE_XMM2
	STATIC_BRANCH_NOP 1f, some_key
	pop %rbx
	ret
1:	push %rbp
	mov %rsp, %rbp
	call helper
785:	call *pv_ops+0x100(%rip)
786:	PV_SITE 785b, 32, (786b-785b)
	pop %rbp
	pop %rbx
	ret
	.size pvf, . - pvf

	.pushsection .altinstr_replacement, "ax"
781:	pushf
	pop %rax
782:
783:	call helper
784:
	.popsection
