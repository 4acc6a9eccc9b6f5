#!/usr/bin/env python3
"""Compare `orctool unwind` with drgn and with the kernel's own sysrq-t traces.

usage: unwind-compare.py OURS.json DRGN.txt CONSOLE.log VMLINUX

OURS.json   `orctool unwind --all --format json`
DRGN.txt    scripts/drgn-traces.py output (drgn's non-inline frames, by PC)
CONSOLE.log the serial console with the kernel's sysrq-t output
VMLINUX     to turn the kernel's `sym+0xoff` lines into addresses

Frames are compared by address. drgn's user-space frames (below the kernel
half) are dropped; the kernel's `? ` lines (guesses) and register lines too.
Prints per-task differences and the counts.
"""
import json
import re
import subprocess
import sys

KERNEL_HALF = 0xFFFF800000000000


def read_drgn(path):
    tasks, cur = {}, None
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if line.startswith("task "):
            _, pid, *comm = line.split(" ")
            cur = tasks.setdefault(int(pid), {"comm": " ".join(comm), "pcs": [], "error": None})
        elif cur is not None and line.startswith("#"):
            pc = int(line.split()[1], 16)
            if pc >= KERNEL_HALF:
                cur["pcs"].append(pc)
        elif cur is not None and line.startswith("error:"):
            cur["error"] = line
    return tasks


def symbol_addresses(vmlinux):
    out = subprocess.run(["nm", vmlinux], capture_output=True, text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            table.setdefault(parts[2], []).append(int(parts[0], 16))
    return table


def read_console(path, symbols):
    """sysrq-t: `task:COMM state:... pid:N`, then frames until `</TASK>`."""
    tasks, cur = {}, None
    head = re.compile(r"task:(\S+)\s+state:.*\spid:\s*(\d+)")
    frame = re.compile(r"^\s*([A-Za-z0-9_.$]+)\+0x([0-9a-f]+)/0x[0-9a-f]+(?:\s+\[(\S+)\])?")
    for raw in open(path, errors="replace"):
        line = re.sub(r"^\[\s*[0-9.]+\]\s?", "", raw.rstrip("\n"))
        m = head.search(line)
        if m:
            cur = tasks.setdefault(int(m.group(2)), {"comm": m.group(1), "addrs": []})
            continue
        if cur is None:
            continue
        if "</TASK>" in line:
            cur = None
            continue
        if line.lstrip().startswith("?"):
            continue
        f = frame.match(line)
        if f:
            if f.group(3):  # a module frame: `sym+0xoff/0xsize [module]`, matched by name and offset
                cur["addrs"].append(f"{f.group(1)}+0x{f.group(2)} [{f.group(3)}]")
            else:
                cur["addrs"].append([a + int(f.group(2), 16) for a in symbols.get(f.group(1), [])])
    return tasks


def read_panic(path):
    """The last oops or panic printout of the console: its CPU and PID, and its
    frames as `sym+0xoff` (module frames with ` [module]`), the `RIP:` line
    among them where the kernel prints it, `?` lines dropped. None without one."""
    lines = [re.sub(r"^\[\s*[0-9.]+\]\s?", "", raw.rstrip("\n")) for raw in open(path, errors="replace")]
    head = re.compile(r"^CPU: (\d+) .*PID: (\d+) Comm: (\S+)")
    starts = [i for i, l in enumerate(lines) if head.match(l)]
    if not starts:
        return None
    i = starts[-1]
    m = head.match(lines[i])
    frame = re.compile(r"^\s*(?:RIP: [0-9a-f]{4}:)?([A-Za-z0-9_.$]+)\+0x([0-9a-f]+)/0x[0-9a-f]+(?:\s+\[(\S+)\])?")
    frames, in_trace = [], False
    for line in lines[i + 1:]:
        if line.startswith("---[ end") or (in_trace and "</TASK>" in line):
            break
        if line.startswith("Call Trace:"):
            in_trace = True
            continue
        if line.lstrip().startswith("?") or not (in_trace or line.startswith("RIP: ")):
            continue
        f = frame.match(line)
        if f:
            frames.append(f"{f.group(1)}+0x{f.group(2)}" + (f" [{f.group(3)}]" if f.group(3) else ""))
    return {"cpu": int(m.group(1)), "pid": int(m.group(2)), "comm": m.group(3), "frames": frames}


def name_offset(text):
    """`sym+0xoff/0xsize [mod]` -> `sym+0xoff [mod]`."""
    return re.sub(r"/0x[0-9a-f]+", "", text)


def same_frame(pc, text, kernel):
    """Our frame (address, `sym+0xoff/0xsize [mod]`) against one of the kernel's."""
    if isinstance(kernel, str):
        m = re.match(r"(\S+)/0x[0-9a-f]+ \[(\S+)\]$", text)
        return m is not None and f"{m.group(1)} [{m.group(2)}]" == kernel
    return pc in kernel


def main(argv):
    ours_path, drgn_path, console_path, vmlinux = argv[1:5]
    ours = {}
    for t in json.load(open(ours_path)):
        ours.setdefault(t["pid"], []).append(t)
    drgn = read_drgn(drgn_path)
    # With KASLR the kernel's addresses are the vmlinux's plus the offset its panic printout names.
    slide = 0
    for line in open(console_path, errors="replace"):
        m = re.search(r"Kernel Offset: 0x([0-9a-f]+) from", line)
        if m:
            slide = int(m.group(1), 16)
    symbols = {k: [a + slide for a in v] for k, v in symbol_addresses(vmlinux).items()}
    console = read_console(console_path, symbols)

    same_drgn = diff_drgn = 0
    for pid, d in sorted(drgn.items()):
        mine = [t for t in ours.get(pid, []) if t.get("cpu") is None] or ours.get(pid, [])
        if not mine:
            print(f"drgn: task {pid} {d['comm']}: not found by orctool")
            diff_drgn += 1
            continue
        pcs = mine[0]["addresses"]
        if pcs == d["pcs"]:
            same_drgn += 1
        else:
            diff_drgn += 1
            print(f"drgn: task {pid} {d['comm']}: orctool {[hex(p) for p in pcs]} drgn {[hex(p) for p in d['pcs']]}")
    same_k = diff_k = 0
    for pid, k in sorted(console.items()):
        mine = ours.get(pid)
        if not mine:
            print(f"kernel: task {pid} {k['comm']}: not in the dump (exited before it)")
            diff_k += 1
            continue
        pcs = mine[0]["addresses"]
        ok = len(pcs) == len(k["addrs"]) and all(
            same_frame(p, f, c) for p, f, c in zip(pcs, mine[0]["frames"], k["addrs"]))
        if ok:
            same_k += 1
        else:
            diff_k += 1
            print(f"kernel: task {pid} {k['comm']}: orctool {mine[0]['frames']} kernel {len(k['addrs'])} frames")
    print(f"orctool vs drgn 0.3.0: {same_drgn}/{same_drgn + diff_drgn} tasks identical (drgn's kernel frames, by PC)")
    print(f"orctool vs the kernel's sysrq-t: {same_k}/{same_k + diff_k} tasks identical (lines without '?')")
    panic = read_panic(console_path)
    if panic:
        mine = [t for t in ours.get(panic["pid"], []) if t.get("cpu") == panic["cpu"]]
        k = panic["frames"]
        o = [name_offset(f) for f in mine[0]["frames"]] if mine else []
        # The dump is taken after the printout: the frames above the panic differ (the
        # printout's dump_stack against the dump's panic loop); the rest must be the same.
        n = 0
        while n < min(len(k), len(o)) and k[-1 - n] == o[-1 - n]:
            n += 1
        above = [f for f in k[: len(k) - n]]
        print(f"panic printout (CPU {panic['cpu']}, PID {panic['pid']} {panic['comm']}): "
              f"orctool's last {n} of {len(k)} frames identical; the printout's frames above them: {above}")
        if mine:
            print("  orctool: " + " | ".join(
                (f"<{st}> " if i == 0 or mine[0]["stacks"][i - 1] != st else "") + f
                for i, (f, st) in enumerate(zip(mine[0]["frames"], mine[0].get("stacks", [""] * 99)))))
    idle = [t for ts in ours.values() for t in ts if t["pid"] == 0]
    print(f"idle tasks (neither drgn nor sysrq-t shows them): {len(idle)}, verdicts: "
          + ", ".join(sorted({t['verdict'] for t in idle})))
    verdicts = {}
    for ts in ours.values():
        for t in ts:
            verdicts[t["verdict"]] = verdicts.get(t["verdict"], 0) + 1
    for v, n in sorted(verdicts.items(), key=lambda x: -x[1]):
        print(f"  {n:4d}  {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
