import ELF
import Kernel
import Program
import TestSupport
import Testing
import X86

/// Assembles `body` (with the fixtures' macros) and reads its program and instruction table.
func load(_ name: String, _ body: String, generation: KernelGeneration = .v6_1) throws
  -> (Program, InstructionTable)
{
  let source = """
    ALT_GEN = \(generation == .v6_1 ? 61 : 612)
    .include "seed000.inc"
    .include "unwind_hint.inc"
    \(body)
    """
  let path = try Fixtures.assemble(name, source: source)
  let program = try Program(file: try ELFFile(path: path))
  return (program, try InstructionTable.decode(program))
}

/// The instruction at `offset` of `section` (`.text` by default).
func insn(_ p: Program, _ t: InstructionTable, _ offset: UInt64, _ section: String = ".text") throws -> Int {
  let s = try #require(p.file.section(named: section))
  return try #require(t.instruction(in: s.index, at: offset))
}

/// A function's id by name.
func fn(_ p: Program, _ name: String) throws -> Int { try #require(p.functions.functions(named: name).first).id }

/// The text of an objtool stop.
func stopMessage(_ body: () throws -> Void) -> String? {
  do {
    try body()
    return nil
  } catch let error as ELFError {
    return error.message
  } catch {
    return "\(error)"
  }
}

let twoFunctions = """
  .text
  .globl f
  .type f, @function
  f: push %rbx
  mov $1, %eax
  pop %rbx
  ret
  .size f, . - f
  .type g, @function
  g: ret
  .size g, . - g
  """

@Suite("Program model")
struct ProgramModelTests {
  @Test("decode_instructions(): every instruction once, in its function, with objtool's types and stack ops")
  func decode() throws {
    let (p, t) = try load("decode.S", twoFunctions)
    #expect(t.decodedCount == 5 && t.count == 5)
    #expect(t.offset == [0, 1, 6, 7, 8])
    #expect(t.type == [.other, .other, .other, .return, .return])
    #expect(t.ops(0).count == 1 && t.ops(0)[0].destType == .push && t.ops(0)[0].srcReg == CFIRegister.bx)
    let (f, g) = (Int32(try fn(p, "f")), Int32(try fn(p, "g")))
    #expect(t.function == [f, f, f, f, g])
    #expect(t.instruction(in: t.codeSections[0].index, at: 6) == 2)
    #expect(t.instruction(in: t.codeSections[0].index, at: 2) == nil, "not an instruction boundary")
  }

  @Test("the same table at any number of threads")
  func parallel() throws {
    let (p, t) = try load("decode.S", twoFunctions)
    let t4 = try InstructionTable.decode(p, jobs: 4)
    #expect(t4.offset == t.offset && t4.type == t.type && t4.function == t.function)
  }

  @Test("offstr(): func+0xoff inside a function, section+0xoff outside, and aliases are not functions")
  func offstr() throws {
    let (p, _) = try load("offstr.S", twoFunctions + "\n.globl h\n.type h, @function\n.set h, g\n.size h, 1\nnop\n")
    let text = try #require(p.file.section(named: ".text")).index
    #expect(p.offstr(SectionPlace(section: text, offset: 1)) == "f+0x1")
    #expect(p.offstr(SectionPlace(section: text, offset: 8)) == "g+0x0")
    #expect(p.offstr(SectionPlace(section: text, offset: 9)) == ".text+0x9")
    let (h, g) = (try fn(p, "h"), try fn(p, "g"))
    #expect(p.functions.isAlias[h] && !p.functions.isAlias[g])
  }

  @Test("a decode failure stops with objtool's words and the file offset")
  func undecodable() throws {
    let path = try Fixtures.assemble("bad.S", source: ".text\n.globl f\nf: .byte 0x0f, 0x0b, 0xc4\n")
    let p = try Program(file: try ELFFile(path: path))
    #expect(stopMessage { _ = try InstructionTable.decode(p) } == "can't decode instruction at .text:0x2")
  }
}

@Suite("Passes: annotations")
struct AnnotationPassTests {
  @Test("add_ignores(): a STACK_FRAME_NON_STANDARD function's instructions, its .cold child's too")
  func ignores() throws {
    let (p, t) = try load(
      "ignore.S",
      twoFunctions + """

        .type f.cold, @function
        f.cold: ud2
        .size f.cold, . - f.cold
        .pushsection .discard.func_stack_frame_non_standard, "aw"
        .quad f
        .popsection
        """)
    var parent = Array(p.functions.functions.indices)
    parent[try fn(p, "f.cold")] = try fn(p, "f")
    let cold = JumpDestinations.coldChildren(parent: parent, functions: p.functions)
    let ignored = try IgnoredFunctions(program: p, table: t, coldChild: cold).instructions
    #expect(ignored == [true, true, true, true, false, true])
  }

  @Test("add_ignore_alternatives(): the annotated site")
  func ignoreAlts() throws {
    let (p, t) = try load(
      "ignorealts.S",
      """
      .text
      .type f, @function
      f: push %rbx
      1: mov $1, %eax
      pop %rbx
      ret
      .size f, . - f
      .pushsection .discard.ignore_alts, "aw"
      .long 1b - .
      .popsection
      """)
    #expect(try IgnoredAlternatives(program: p, table: t).sites == [try insn(p, t, 1)])
  }

  @Test("add_dead_ends(): ud2 is a dead end unless annotated reachable; unreachable marks the instruction before")
  func deadEnds() throws {
    let (p, t) = try load(
      "deadends.S",
      """
      .text
      .type f, @function
      f: ud2
      nop
      1: ud2
      2: call g
      3: ret
      .size f, . - f
      .pushsection .discard.reachable, "aw"
      .long 2b - .
      .popsection
      .pushsection .discard.unreachable, "aw"
      .long 3b - .
      .popsection
      """)
    #expect(try DeadEnds(program: p, table: t).instructions == [true, false, false, true, false])
  }

  @Test("read_intra_function_calls(): an annotated call is a jump to its target")
  func intraFunctionCalls() throws {
    let (p, t) = try load(
      "intra.S",
      """
      .text
      .type f, @function
      f: 1: call 2f
      2: pop %rax
      ret
      .size f, . - f
      .pushsection .discard.intra_function_calls, "aw"
      .long 1b - .
      .popsection
      """)
    #expect(try IntraFunctionCalls(program: p, table: t).jumpDest == [0: 1])
  }

  @Test("read_unwind_hints(): states chain from hint to hint; SAVE is no hint, RESTORE is")
  func unwindHints() throws {
    let (p, t) = try load(
      "hints.S",
      """
      .text
      .type f, @function
      f: UNWIND_HINT type=2 sp_reg=5 sp_offset=8
      push %rax
      UNWIND_HINT type=5
      nop
      UNWIND_HINT type=6
      nop
      UNWIND_HINT type=0 sp_reg=4 sp_offset=16 end=1
      ret
      .size f, . - f
      """)
    let h = try UnwindHints(program: p, table: t, generation: .v6_1)
    #expect(h.present && h.hinted == [0, 2, 3] && h.saves == [1] && h.restores == [2])
    #expect(h.states[0]?.cfa == CFIReg(CFIBase.sp, 8) && h.states[0]?.type == 2)
    #expect(h.states[3]?.cfa == CFIReg(CFIBase.bp, 16) && h.states[3]?.end == true && h.states[3]?.type == 0)
  }
}

@Suite("Passes: jumps and calls")
struct BranchPassTests {
  let source = """
    .text
    .globl f
    .type f, @function
    f: jz 1f
    jmp g
    1: jmp f.cold
    .size f, . - f
    .type g, @function
    g: call f
    call external
    call __x86_indirect_thunk_rax
    jmp __x86_return_thunk
    .size g, . - g
    .type f.cold, @function
    f.cold: jmp __x86_indirect_thunk_rax
    .size f.cold, . - f.cold
    """

  @Test("add_jump_destinations(): local targets, sibling calls, retpoline and return thunks, .cold parents")
  func jumps() throws {
    let (p, t) = try load("jumps.S", source)
    let (f, g, cold) = (try fn(p, "f"), try fn(p, "g"), try fn(p, "f.cold"))
    let j = try JumpDestinations(
      program: p, table: t, preset: [:], parent: Array(p.functions.functions.indices),
      classes: try SymbolClasses(program: p))
    #expect(j.jumpDest[0] == 2 && j.jumpDest[2] == 7)
    #expect(j.siblingCalls == [1: .function(g)])
    #expect(j.retyped == [6: .return, 7: .jumpDynamic])
    #expect(j.parent[cold] == f && j.coldChild == [f: cold])
  }

  @Test("add_call_destinations(): functions, undefined symbols, retpoline calls")
  func calls() throws {
    let (p, t) = try load("jumps.S", source)
    let c = try CallDestinations(program: p, table: t, skip: [:], classes: try SymbolClasses(program: p))
    #expect(c.callDest == [3: .function(try fn(p, "f")), 4: .external("external")])
    #expect(c.retpolineCalls == [5])
  }

  @Test("a call into the middle of a function is objtool's 'unannotated intra-function call'")
  func unannotated() throws {
    let (p, t) = try load("intra2.S", ".text\n.type f, @function\nf: call 1f\n1: ret\n.size f, . - f\n")
    #expect(
      stopMessage { _ = try CallDestinations(program: p, table: t, skip: [:], classes: try SymbolClasses(program: p)) }
        == "f+0x0: unannotated intra-function call")
  }

  @Test("dead_end_function(): no return and no sibling call, or objtool's list; weak never")
  func noreturns() throws {
    let (p, t) = try load(
      "noreturn.S",
      """
      .text
      .type f, @function
      f: call g
      ud2
      .size f, . - f
      .type g, @function
      g: jmp g
      .size g, . - g
      .weak w
      .type w, @function
      w: ud2
      .size w, . - w
      .type r, @function
      r: ret
      .size r, . - r
      """)
    let j = try JumpDestinations(
      program: p, table: t, preset: [:], parent: Array(p.functions.functions.indices),
      classes: try SymbolClasses(program: p))
    let n = NoreturnFunctions(
      program: p, table: t, type: t.type, jumpDest: j.jumpDest, siblingCall: { _ in false },
      coldChild: [:], destinations: p.functions.functions.indices.map { .function($0) }, generation: .v6_1)
    #expect(n.functions == [true, true, false, false])
    #expect(n.isNoreturn(.external("panic")) && !n.isNoreturn(.external("printk")))
    // Each generation's list: `__fortify_panic` is on 6.12's (noreturns.h), `fortify_panic` on 6.1's.
    #expect(n.isNoreturn(.external("fortify_panic")) && !n.isNoreturn(.external("__fortify_panic")))
    let n612 = NoreturnFunctions(
      program: p, table: t, type: t.type, jumpDest: j.jumpDest, siblingCall: { _ in false },
      coldChild: [:], destinations: p.functions.functions.indices.map { .function($0) }, generation: .v6_12)
    #expect(n612.isNoreturn(.external("__fortify_panic")) && !n612.isNoreturn(.external("fortify_panic")))
    #expect(n612.isNoreturn(.external("_RNvNtCs1234_4core9panicking9panic_fmt")))
  }
}

@Suite("Passes: special sections")
struct SpecialSectionPassTests {
  @Test(
    "handle_group_alt(): shorter replacements get fake NOPs, each stream goes on after the site",
    arguments: [KernelGeneration.v6_1, .v6_12])
  func groups(_ generation: KernelGeneration) throws {
    let (p, t) = try load("alt.S", Seed000.threeStreams(reversed: false), generation: generation)
    let a = try AlternativeGroups(program: p, table: t, generation: generation)
    let site = try insn(p, t, 1)
    let call = try insn(p, t, 0, ".altinstr_replacement")
    let (pushf, pop) = (call + 1, call + 2)
    let (nop1, nop2) = (t.count, t.count + 1)  // the synthetic instructions
    #expect(a.table.count == t.count + 2 && a.table.length[nop1] == 1 && a.table.length[nop2] == 4)
    #expect(a.table.type[nop1] == .nop && a.table.type[nop2] == .nop)
    #expect(
      a.groups == [
        AltGroup(first: site, last: site, original: nil, length: 6),
        AltGroup(first: call, last: nop1, original: 0, length: 6),
        AltGroup(first: pushf, last: nop2, original: 0, length: 6),
      ])
    #expect(a.streams == [site: [call, pushf]])
    #expect(a.nextOverride == [call: nop1, nop1: site + 1, pop: nop2, nop2: site + 1])
    #expect(a.table.function[pushf] == a.table.function[site], "the replacement runs in the site's function")
    #expect(a.entry[1]?.feature == 272 && a.entry[2]?.feature == 273)
  }

  @Test("empty alternative entry: objtool's warning, and no stream")
  func empty() throws {
    let (p, t) = try load(
      "empty.S",
      """
      .text
      .type f, @function
      f: 661: 662: ret
      .size f, . - f
      .section .altinstr_replacement, "ax"
      671: nop
      672:
      .text
      ALT_ENTRY 661b, 662b, 671b, 672b, 273
      """)
    let a = try AlternativeGroups(program: p, table: t, generation: .v6_1)
    #expect(a.warnings.map(\.objtoolText) == ["f+0x0: empty alternative entry"] && a.streams.isEmpty)
  }

  @Test("static keys: a NOP can jump, a JMP can fall through; exception fixups are paths too")
  func staticKeysAndFixups() throws {
    let (p, t) = try load(
      "keys.S",
      """
      .text
      .type f, @function
      f: 1: nopl 0(%rax,%rax,1)
      2: jmp 3f
      nop
      3: 4: mov (%rdi), %rax
      5: ret
      .size f, . - f
      .pushsection __jump_table, "aw"
      .long 1b - ., 3b - .
      .quad key
      .long 2b - ., 3b - .
      .quad key
      .popsection
      .pushsection __ex_table, "a"
      .long 4b - ., 5b - ., 3
      .popsection
      """)
    #expect(try StaticKeyPaths(program: p, table: t).paths == [0: [3], 1: [2]])
    #expect(try ExceptionPaths(program: p, table: t).paths == [3: [4]])
  }

  @Test("add_jump_table_alts(): a switch table's entries are paths of the indirect jump")
  func jumpTables() throws {
    let (p, t) = try load(
      "switch.S",
      """
      .text
      .type f, @function
      f: mov .Ltable(,%rdi,8), %rax
      jmp *%rax
      1: ret
      2: ret
      .size f, . - f
      .section .rodata, "a"
      .Ltable: .quad 1b, 2b
      """)
    let j = try JumpDestinations(
      program: p, table: t, preset: [:], parent: Array(p.functions.functions.indices),
      classes: try SymbolClasses(program: p))
    let tables = try JumpTables(
      program: p, table: t, type: t.type, jumpDest: j.jumpDest, parent: j.parent,
      coldChild: j.coldChild)
    #expect(tables.paths == [1: [2, 3]] && tables.jumps == [1] && !tables.ignoreUnreachables)
  }
}

@Suite("objtool 6.1's call sites, symbol classes and --hacks=jump_label, pass by pass")
struct CallSitePassTests {
  @Test("classify_symbols(): only a global symbol is classified, by its name")
  func classes() throws {
    let (p, _) = try load(
      "classes.S",
      """
      .text
      .globl __SCT__g, __x86_indirect_thunk_rax
      __SCT__g: ret
      __SCT__l: ret
      .weak __x86_return_thunk
      __x86_return_thunk: ret
      __x86_indirect_thunk_rax: ret
      call __fentry__
      call __sanitizer_cov_trace_pc
      """)
    var byName: [String: SymbolClass] = [:]
    let classes = try SymbolClasses(program: p)
    for (k, c) in classes.classes { byName[try p.symbols.name(of: try p.symbols.symbol(at: k))] = c }
    #expect(
      byName == [
        "__SCT__g": .staticCallTrampoline, "__x86_indirect_thunk_rax": .retpolineThunk, "__fentry__": .fentry,
        "__sanitizer_cov_trace_pc": .profilingFunction,
      ])
  }

  @Test("handle_jump_alt() with --hacks=jump_label: a marked jmp is a NOP, its other way the target")
  func jumpLabelHack() throws {
    let (p, t) = try load(
      "hack.S",
      """
      .text
      .type f, @function
      f: 1: jmp 3f
      2: jmp 4f
      nop
      3: ret
      .size f, . - f
      .section .text.unlikely, "ax"
      4: ret
      .pushsection __jump_table, "aw"
      .long 1b - ., 3b - .
      .quad key + 2 - .
      .long 2b - ., 4b - .
      .quad key + 3 - .
      .popsection
      """)
    var rewrites = CodeRewrites()
    let hacked = try StaticKeyPaths(program: p, table: t, hackJumpLabel: true, rewrites: &rewrites)
    let unlikely = try insn(p, t, 0, ".text.unlikely")
    #expect(hacked.nopped == [0, 1])
    #expect(hacked.paths == [0: [3], 1: [unlikely]])
    let text = try #require(p.file.section(named: ".text")).index
    #expect(
      rewrites.instructions == [
        .init(section: text, offset: 0, bytes: [0x66, 0x90]),
        .init(section: text, offset: 2, bytes: [0x0f, 0x1f, 0x44, 0x00, 0x00]),
      ])
    // The 5-byte jmp to another section has a relocation: objtool makes it R_X86_64_NONE.
    #expect(rewrites.voidedRelocations.map(\.index) == [0])
    // Without the hack the jmps stay; their other way is the next instruction.
    var none = CodeRewrites()
    let plain = try StaticKeyPaths(program: p, table: t, hackJumpLabel: false, rewrites: &none)
    #expect(plain.nopped.isEmpty && none.isEmpty && plain.paths == [0: [1], 1: [2]])
  }

  @Test("annotate_call_site(): sibling calls before calls, .altinstr_replacement not listed")
  func listOrder() throws {
    let (p, t) = try load(
      "order.S",
      """
      .text
      .globl f
      .type f, @function
      f: call __SCT__a
      call __x86_indirect_thunk_rax
      test %eax, %eax
      jz 1f
      jmp __x86_indirect_thunk_rcx
      1: jmp __SCT__b
      .size f, . - f
      .section .altinstr_replacement, "ax"
      call __x86_indirect_thunk_rdx
      jmp __x86_return_thunk
      """)
    let classes = try SymbolClasses(program: p)
    let jumps = try JumpDestinations(
      program: p, table: t, preset: [:], parent: Array(p.functions.functions.indices), classes: classes)
    let calls = try CallDestinations(program: p, table: t, skip: [:], classes: classes)
    let sites = CallSites(program: p, table: t, classes: classes, jumps: jumps, calls: calls)
    #expect(sites.staticCalls.map(\.instruction) == [5, 0] && sites.staticCalls.map(\.tail) == [true, false])
    #expect(sites.retpolineCalls == [4, 1])
    #expect(sites.returnThunks == [try insn(p, t, 5, ".altinstr_replacement")])
  }

  @Test("read_retpoline_hints(): an annotation on anything but an indirect branch, return or NOP stops the check")
  func retpolineHint() throws {
    let (p, t) = try load(
      "hint.S",
      """
      .text
      .type f, @function
      f: 1: inc %eax
      ret
      .size f, . - f
      .pushsection .discard.retpoline_safe
      .quad 1b
      .popsection
      """)
    #expect(
      stopMessage { _ = try RetpolineSafeHints(program: p, table: t, type: t.type) }
        == "f+0x0: retpoline_safe hint not an indirect jump/call/ret/nop")
  }
}

@Suite("Passes: objtool 6.1's other actions")
struct ActionPassTests {
  @Test(
    "pv_ops slots: the tables in order, each function once, _paravirt_nop left out, .init.text stores, last found first"
  )
  func paravirtSlots() throws {
    let path = try Fixtures.assemble("noinstr61.S")
    let p = try Program(file: try ELFFile(path: path))
    let t = try InstructionTable.decode(p)
    let pv = try #require(try ParavirtCallTargets.read(program: p, table: t))
    #expect(pv.slotCount == 6)
    let names = pv.targets.mapValues { $0.map { "\($0.name)\($0.noinstr ? "" : " (instrumented)")" } }
    #expect(
      names == [1: ["n_leaf"], 2: ["n_leaf2", "t (instrumented)"], 3: ["t2 (instrumented)"], 4: ["t3 (instrumented)"]])
    // An object without pv_ops has no table at all (objtool's file->pv_ops is NULL).
    let (q, u) = try load("nopv.S", ".text\nf: call *%rax\nret\n")
    #expect(try ParavirtCallTargets.read(program: q, table: u) == nil)
  }

  @Test("instrumentation marks add up per instruction; instr_begin is read only beside instr_end, as objtool 6.1 does")
  func instrumentationMarks() throws {
    let begin = ".Lb\\@: nop\n.pushsection .discard.instr_begin\n.long .Lb\\@ - .\n.popsection\n"
    let end = ".Le\\@: nop\n.pushsection .discard.instr_end\n.long .Le\\@ - .\n.popsection\n"
    let source = ".macro B\n\(begin).endm\n.macro E\n\(end).endm\n.text\nB\nE\nret\n"
    let (p, t) = try load("instr.S", source)
    #expect(try InstrumentationHints(program: p, table: t).counts == [0: 1, 1: -1])
    let (q, u) = try load("instr_begin_only.S", ".macro B\n\(begin).endm\n.text\nB\nret\n")
    #expect(try InstrumentationHints(program: q, table: u).counts.isEmpty)
  }

  @Test("ENDBRs: those at a function's start in function order, those inside counted")
  func endbrs() throws {
    let (p, t) = try load(
      "endbr.S",
      ".text\n.type f, @function\nf: endbr64\nnop\nendbr64\nret\n.size f, . - f\n"
        + ".type g, @function\ng: endbr64\nret\n.size g, . - g\n")
    let e = EndbrInstructions(program: p, table: t)
    #expect(e.functionStarts == [try insn(p, t, 0), try insn(p, t, 10)])
    #expect(e.insideFunctions == 1)
  }
}
