/* A static tail call whose key this object does not name (static_call_mod() in a
 * module): objtool 6.1 stops on it without --module, and names the trampoline as the
 * key with it (Tests/ValidationTests/CallSiteTests.swift). */
	.include "callsites.inc"
	.text
	.globl f
	.type f, @function
f:	call __SCT__tick
	call __x86_indirect_thunk_rax
	jmp __SCT__tock
	.size f, . - f
	ADDRESSABLE __SCK__tick
