/* Parent/child functions and copies (seed 003), as GCC lays them out. */
	.text
	.globl f
	.type f, @function
f:	call __fentry__
	test %edi, %edi
	jne f.cold
.Lf_back:
	ret
	.size f, . - f

	.type g, @function
g:	call __fentry__
	ret
	.size g, . - g
	.type g.isra.0, @function
g.isra.0:
	call __fentry__
	ret
	.size g.isra.0, . - g.isra.0
	.type g.constprop.0, @function
g.constprop.0:
	call __fentry__
	ret
	.size g.constprop.0, . - g.constprop.0

	/* h calls its outlined part, which has its own fentry. */
	.type h, @function
h:	endbr64
	call __fentry__
	call h.part.0
	ret
	.size h, . - h
	.type h.part.0, @function
h.part.0:
	call __fentry__
	ret
	.size h.part.0, . - h.part.0

	/* k.isra.0 and its cold child k.isra.0.cold. */
	.type k.isra.0, @function
k.isra.0:
	call __fentry__
	jmp k.isra.0.cold
	.size k.isra.0, . - k.isra.0

	/* m.constprop.0 calls its part, which has no fentry. */
	.type m.constprop.0, @function
m.constprop.0:
	call __fentry__
	call m.constprop.0.part.0
	ret
	.size m.constprop.0, . - m.constprop.0
	.type m.constprop.0.part.0, @function
m.constprop.0.part.0:
	ret
	.size m.constprop.0.part.0, . - m.constprop.0.part.0

	/* n reaches n.cold only through a static key (jump label). */
	.type n, @function
n:	call __fentry__
1:	.byte 0x0f, 0x1f, 0x44, 0x00, 0x00
	ret
	.size n, . - n
	.pushsection __jump_table, "aw"
	.balign 8
	.long 1b - .
	.long n.cold - .
	.quad some_key - .
	.popsection

	.section .text.unlikely, "ax"
	.type f.cold, @function
f.cold:
	ud2
	jmp .Lf_back
	.size f.cold, . - f.cold
	.type k.isra.0.cold, @function
k.isra.0.cold:
	ud2
	.size k.isra.0.cold, . - k.isra.0.cold
	.type n.cold, @function
n.cold:
	ud2
	.size n.cold, . - n.cold

	/* q's fentry call was turned into a 5-byte NOP, recorded in __mcount_loc. */
	.text
	.type q, @function
q:	.byte 0x0f, 0x1f, 0x44, 0x00, 0x00
	ret
	.size q, . - q
	.pushsection __mcount_loc, "a"
	.quad q
	.popsection
