/* A hand-written .BTF (include/uapi/linux/btf.h) with struct
 * inactive_task_frame as x86-64 6.1 has it (arch/x86/include/asm/switch_to.h:
 * r15, r14, r13, r12, bx, bp, ret_addr; 56 bytes), for the unwinder's layout
 * lookup. VARIANT (default 0) picks what is there:
 *   0: the whole struct
 *   1: the struct without its last member, ret_addr
 *   2: no struct inactive_task_frame (a struct task_struct only) */
.ifndef VARIANT
VARIANT = 0
.endif

BTF_KIND_INT = 1
BTF_KIND_STRUCT = 4
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
	BTF_TYPE .Ls_ulong, BTF_KIND_INT, 0, 8                    /* 1: unsigned long */
	.long 64
.if VARIANT == 2
	BTF_TYPE .Ls_task_struct, BTF_KIND_STRUCT, 1, 8           /* 2 */
	BTF_MEMBER .Ls_bp, 1, 0
.else
	BTF_TYPE .Ls_frame, BTF_KIND_STRUCT, (7-VARIANT), 56      /* 2 */
	BTF_MEMBER .Ls_r15, 1, 0
	BTF_MEMBER .Ls_r14, 1, 64
	BTF_MEMBER .Ls_r13, 1, 128
	BTF_MEMBER .Ls_r12, 1, 192
	BTF_MEMBER .Ls_bx, 1, 256
	BTF_MEMBER .Ls_bp, 1, 320
.if VARIANT == 0
	BTF_MEMBER .Ls_ret_addr, 1, 384
.endif
.endif
.Ltypes_end:
.Lstr:
	.byte 0
.Ls_ulong: .asciz "long unsigned int"
.Ls_frame: .asciz "inactive_task_frame"
.Ls_task_struct: .asciz "task_struct"
.Ls_r15: .asciz "r15"
.Ls_r14: .asciz "r14"
.Ls_r13: .asciz "r13"
.Ls_r12: .asciz "r12"
.Ls_bx: .asciz "bx"
.Ls_bp: .asciz "bp"
.Ls_ret_addr: .asciz "ret_addr"
.Lstr_end:
