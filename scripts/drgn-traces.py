#!/usr/bin/env python3
"""Print every task's kernel stack trace from a Linux vmcore with drgn.

usage: drgn-traces.py VMCORE VMLINUX OUTFILE

For each task (drgn.helpers.linux.pid.for_each_task) OUTFILE gets a line
`task PID COMM`, then one line per non-inline frame of prog.stack_trace(task):
`#N 0xPC SYMBOL+0xOFF/0xSIZE` (N counts the printed frames from 0; the symbol
is drgn's frame.symbol(), which like the kernel's %pB looks up a return
address at PC-1 but prints the offset of PC; `?` when there is no symbol).
If the trace cannot be taken, the task's only other line is `error: MESSAGE`.
A one-line summary goes to stderr. Exits 1 if no task was found.
"""
import sys

import drgn
from drgn.helpers.linux.pid import for_each_task


def symbol_text(frame):
    try:
        sym = frame.symbol()
    except LookupError:
        name = frame.name
        return name if name else "?"
    return f"{sym.name}+{frame.pc - sym.address:#x}/{sym.size:#x}"


def main(argv):
    if len(argv) != 4:
        print("usage: drgn-traces.py VMCORE VMLINUX OUTFILE", file=sys.stderr)
        return 2
    vmcore, vmlinux, outfile = argv[1:]
    prog = drgn.Program()
    prog.set_core_dump(vmcore)
    if not (prog.flags & drgn.ProgramFlags.IS_LINUX_KERNEL):
        print(f"drgn-traces: {vmcore} is not recognized as a Linux kernel core "
              "(no VMCOREINFO note?)", file=sys.stderr)
        return 1
    try:
        prog.load_debug_info([vmlinux])
    except drgn.MissingDebugInfoError as e:
        # Loaded modules (e.g. qemu_fw_cfg) have no debug info; vmlinux is what matters.
        print(f"drgn-traces: warning: {e}", file=sys.stderr)
    if prog.main_module().debug_file_path is None:
        print(f"drgn-traces: {vmlinux} did not provide debug info for the kernel "
              "(build ID mismatch?)", file=sys.stderr)
        return 1

    ntasks = nframes_tasks = nerrors = 0
    with open(outfile, "w") as out:
        for task in for_each_task(prog):
            ntasks += 1
            pid = task.pid.value_()
            comm = task.comm.string_().decode(errors="replace")
            out.write(f"task {pid} {comm}\n")
            try:
                trace = prog.stack_trace(task)
                n = 0
                for frame in trace:
                    if frame.is_inline:
                        continue
                    out.write(f"#{n} {frame.pc:#x} {symbol_text(frame)}\n")
                    n += 1
            except Exception as e:  # drgn.FaultError, ValueError, ...
                out.write(f"error: {e}\n")
                nerrors += 1
                continue
            if n:
                nframes_tasks += 1
    print(f"drgn-traces: {ntasks} tasks, {nframes_tasks} with frames, "
          f"{nerrors} errors -> {outfile}", file=sys.stderr)
    return 0 if ntasks else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
