/* A function's call to a sized label in another section goes through the section's
 * symbol: objtool 6.1 takes the label as the destination (find_call_destination()),
 * function or not, and only says the label's code is unreachable. */
	.text
	.globl f
	.type f, @function
f:	call lab
	ret
	.size f, . - f
	.section .text.other, "ax"
lab:	ret
	.size lab, . - lab
