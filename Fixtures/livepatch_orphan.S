/* A .cold child whose parent is gone: kpatch-build stops on this. */
	.section .text.unlikely, "ax"
	.type lonely.cold, @function
lonely.cold:
	ud2
	.size lonely.cold, . - lonely.cold
