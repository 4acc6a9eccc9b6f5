#!/usr/bin/env python3
"""Print every task's kernel stack trace from a Linux vmcore with drgn.

usage: drgn-traces.py VMCORE VMLINUX OUTFILE [--cpus FILE] [DEBUGINFO ...]

For each task (drgn.helpers.linux.pid.for_each_task) OUTFILE gets a line
`task PID COMM`, then one line per non-inline frame of prog.stack_trace(task):
`#N 0xPC SYMBOL+0xOFF/0xSIZE` (N counts the printed frames from 0; the symbol
is drgn's frame.symbol(), which like the kernel's %pB looks up a return
address at PC-1 but prints the offset of PC; `?` when there is no symbol).
If the trace cannot be taken, the task's only other line is `error: MESSAGE`.

DEBUGINFO: debug info for loaded kernel modules, each a .ko file or a
directory searched (recursively) for `NAME.ko` of every module the dump has
loaded (e.g. the -dbg package's usr/lib/debug/lib/modules/KREL); drgn takes a
file only if its build ID is the loaded module's. Without them module frames
have no symbol (`?`).

--cpus FILE: what drgn says about the CPUs, for dumps of a panic: the line
`crashed_thread: PID COMM cpu N` (prog.crashed_thread(), which the kernel's
panic_cpu names) or `crashed_thread: none (WHY)`; then per present CPU (a panic takes the CPUs it stops offline)
`cpu N task PID COMM`, `regs pc=0x.. sp=0x..` (frame 0's registers: for a
task on a CPU, drgn's initial registers are that CPU's NT_PRSTATUS note), and
its frames as above. A CPU's current task may be its idle task, which
OUTFILE (for_each_task) does not list.

A one-line summary goes to stderr. Exits 1 if no task was found.
"""
import os
import sys

import drgn
from drgn.helpers.linux.cpumask import for_each_present_cpu
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.sched import cpu_curr, task_cpu


def symbol_text(frame):
    try:
        sym = frame.symbol()
    except LookupError:
        name = frame.name
        return name if name else "?"
    return f"{sym.name}+{frame.pc - sym.address:#x}/{sym.size:#x}"


def write_trace(out, trace):
    """The non-inline frames of `trace`; returns how many."""
    n = 0
    for frame in trace:
        if frame.is_inline:
            continue
        out.write(f"#{n} {frame.pc:#x} {symbol_text(frame)}\n")
        n += 1
    return n


def module_files(prog, paths):
    """The files of `paths` to offer drgn: .ko files as given, and in directories
    the NAME.ko of each loaded module (module names use _ where files may use -)."""
    names = {m.name for m, _ in prog.loaded_modules()
             if isinstance(m, drgn.RelocatableModule)}
    files, found = [], set()
    for path in paths:
        if os.path.isfile(path):
            files.append(path)
            continue
        if not os.path.isdir(path):
            raise SystemExit(f"drgn-traces: {path}: no such file or directory")
        for root, _, entries in os.walk(path):
            for entry in entries:
                if entry.endswith(".ko"):
                    name = entry[:-3].replace("-", "_")
                    if name in names and name not in found:
                        found.add(name)
                        files.append(os.path.join(root, entry))
    return files


def write_cpus(prog, path):
    with open(path, "w") as out:
        try:
            t = prog.crashed_thread()
            task = t.object
            out.write(f"crashed_thread: {t.tid} {task.comm.string_().decode(errors='replace')} "
                      f"cpu {task_cpu(task)}\n")
        except (LookupError, ValueError) as e:
            out.write(f"crashed_thread: none ({type(e).__name__}: {e})\n")
        for cpu in for_each_present_cpu(prog):
            task = cpu_curr(prog, cpu)
            out.write(f"cpu {cpu} task {task.pid.value_()} "
                      f"{task.comm.string_().decode(errors='replace')}\n")
            try:
                trace = prog.stack_trace(task)
                regs = trace[0].registers()
                out.write(f"regs pc={trace[0].pc:#x} sp={regs.get('rsp', 0):#x}\n")
                write_trace(out, trace)
            except Exception as e:  # drgn.FaultError, ValueError, ...
                out.write(f"error: {e}\n")


def main(argv):
    args, cpus = [], None
    it = iter(argv[1:])
    for a in it:
        if a == "--cpus":
            cpus = next(it, None)
            if cpus is None:
                args = []
                break
        else:
            args.append(a)
    if len(args) < 3:
        print("usage: drgn-traces.py VMCORE VMLINUX OUTFILE [--cpus FILE] [DEBUGINFO ...]",
              file=sys.stderr)
        return 2
    vmcore, vmlinux, outfile, *extra = args
    prog = drgn.Program()
    prog.set_core_dump(vmcore)
    if not (prog.flags & drgn.ProgramFlags.IS_LINUX_KERNEL):
        print(f"drgn-traces: {vmcore} is not recognized as a Linux kernel core "
              "(no VMCOREINFO note?)", file=sys.stderr)
        return 1
    # The kernel first: drgn finds the loaded modules through its debug info.
    missing = None
    try:
        prog.load_debug_info([vmlinux])
    except drgn.MissingDebugInfoError as e:
        missing = e
    if prog.main_module().debug_file_path is None:
        print(f"drgn-traces: {vmlinux} did not provide debug info for the kernel "
              "(build ID mismatch?)", file=sys.stderr)
        return 1
    if extra:
        missing = None
        try:
            prog.load_debug_info(module_files(prog, extra))
        except drgn.MissingDebugInfoError as e:
            missing = e
    if missing is not None:
        # Loaded modules without debug info: their frames have no symbols; vmlinux is what matters.
        print(f"drgn-traces: warning: {missing}", file=sys.stderr)
    mods = [m for m in prog.modules() if isinstance(m, drgn.RelocatableModule)]
    with_debug = [m.name for m in mods if m.debug_file_path is not None]

    ntasks = nframes_tasks = nerrors = 0
    with open(outfile, "w") as out:
        for task in for_each_task(prog):
            ntasks += 1
            pid = task.pid.value_()
            comm = task.comm.string_().decode(errors="replace")
            out.write(f"task {pid} {comm}\n")
            try:
                n = write_trace(out, prog.stack_trace(task))
            except Exception as e:  # drgn.FaultError, ValueError, ...
                out.write(f"error: {e}\n")
                nerrors += 1
                continue
            if n:
                nframes_tasks += 1
    if cpus:
        write_cpus(prog, cpus)
    print(f"drgn-traces: {ntasks} tasks, {nframes_tasks} with frames, "
          f"{nerrors} errors; modules with debug info: {len(with_debug)}/{len(mods)} "
          f"({' '.join(sorted(with_debug))}) -> {outfile}", file=sys.stderr)
    return 0 if ntasks else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
