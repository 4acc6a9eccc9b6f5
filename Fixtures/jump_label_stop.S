/* A static-key jmp objtool NOPs, then a pass that stops the check ("unannotated
 * intra-function call"): objtool 6.1 writes the NOP all the same, and no ORC. */
	.include "callsites.inc"
	.text
	.globl f
	.type f, @function
f:	STATIC_BRANCH_NOP_HACK 1f, key_x
	call 2f
1:	ret
2:	ret
	.size f, . - f
