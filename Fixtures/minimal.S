/* The smallest useful object for the malformed-input tests: text, data,
 * a symbol table, a relocation and an ORC table. */
	.include "orc.inc"
	MODINFO_VERMAGIC 6.1.0-56-cloud-amd64

	.text
	.globl f
	.type f, @function
f:
	call g
	ret
	.size f, . - f

	ORC61 f, 8, 0, ORC_REG_SP, ORC_REG_UNDEFINED, 0, 0
