#!/usr/bin/env python3
"""Compare two kernels' sysrq-t printouts task by task, by function names.

usage: sysrq-compare.py [--out DIR] LABEL_A CONSOLE_A LABEL_B CONSOLE_B

Each console's sysrq-t blocks (`task:COMM state:S ... pid:N`, then the frames
up to `</TASK>`) become one line per task, `PID COMM STATE: f1 f2 ...`: the
function names only (offsets differ between two builds of the same source),
`?` lines (the unwinder's guesses) and register lines dropped, `<IRQ>` and
`</IRQ>` kept as markers. Tasks are paired by PID and name; where the two
boots forked in another order (the init script's background jobs) or a
kworker ran on the other CPU (`kworker/0:2` against `kworker/1:2`), a task
left over is paired with one of the same name (kworker CPU numbers ignored)
and the same functions, then with one of the same name. A running task (state
R) is caught wherever it is when sysrq-t reaches it, so its trace depends on
timing: running and sleeping tasks are counted apart. Exits 1 when a sleeping
task differs, or a task left unpaired has functions no task of its name has
in the other console. With --out, each console's traces go to
DIR/LABEL.sysrq-t.txt.
"""
import re
import sys

HEAD = re.compile(r"task:(\S+)\s+state:(\S+).*\spid:\s*(\d+)")
FRAME = re.compile(r"^\s*([A-Za-z0-9_.$]+)\+0x[0-9a-f]+/0x[0-9a-f]+(?:\s+\[(\S+)\])?")


def traces(path):
    tasks, cur = {}, None
    for raw in open(path, errors="replace"):
        line = re.sub(r"^\[\s*[0-9.]+\]\s?", "", raw.rstrip("\n"))
        m = HEAD.search(line)
        if m:
            cur = {"comm": m.group(1), "state": m.group(2), "funcs": []}
            tasks[int(m.group(3))] = cur  # a later sysrq-t replaces an earlier one
            continue
        if cur is None:
            continue
        s = line.strip()
        if s == "</TASK>":
            cur = None
        elif s in ("<IRQ>", "</IRQ>", "<NMI>", "</NMI>"):
            cur["funcs"].append(s)
        elif not s.startswith("?"):
            f = FRAME.match(line)
            if f:
                cur["funcs"].append(f.group(1) + (f" [{f.group(2)}]" if f.group(2) else ""))
    return tasks


def fmt(pid, t):
    return f"{pid} {t['comm']} {t['state']}: {' '.join(t['funcs'])}"


def main(argv):
    out = None
    if len(argv) > 1 and argv[1] == "--out":
        out, argv = argv[2], [argv[0]] + argv[3:]
    if len(argv) != 5:
        sys.exit(__doc__.strip().splitlines()[2])
    la, pa, lb, pb = argv[1:]
    a, b = traces(pa), traces(pb)
    if out:
        for label, t in ((la, a), (lb, b)):
            with open(f"{out}/{label}.sysrq-t.txt", "w") as f:
                for pid in sorted(t):
                    f.write(fmt(pid, t[pid]) + "\n")
    def name(t):
        return re.sub(r"^kworker/[0-9u]+:", "kworker/N:", t["comm"])

    pairs = []  # (how, pid_a, pid_b)
    left_a, left_b = dict(a), dict(b)
    for pid in sorted(set(a) & set(b)):
        if a[pid]["comm"] == b[pid]["comm"]:
            pairs.append(("pid", pid, pid))
            del left_a[pid], left_b[pid]
    for same_funcs in (True, False):
        for pa in sorted(left_a):
            ta = left_a[pa]
            for pb in sorted(left_b):
                tb = left_b[pb]
                if name(ta) == name(tb) and (not same_funcs or ta["funcs"] == tb["funcs"]):
                    pairs.append(("name", pa, pb))
                    del left_a[pa], left_b[pb]
                    break
    counts = {"sleeping": [0, 0], "running": [0, 0]}
    moved = 0
    diffs = []
    for how, pa, pb in pairs:
        ta, tb = a[pa], b[pb]
        kind = "running" if "R" in (ta["state"], tb["state"]) else "sleeping"
        same = ta["funcs"] == tb["funcs"]
        counts[kind][0 if same else 1] += 1
        moved += how == "name"
        if not same:
            diffs.append((kind, pa, pb))
    print(f"sysrq-t tasks: {la} {len(a)}, {lb} {len(b)}; paired {len(pairs)} "
          f"({len(pairs) - moved} by PID, {moved} by name: other PIDs or another CPU's kworker)")
    for kind in ("sleeping", "running"):
        s, d = counts[kind]
        print(f"  {kind} tasks with the same functions: {s}/{s + d}")
    frames = sum(len(a[pa]["funcs"]) for _, pa, _ in pairs)
    print(f"  function names in {la}'s traces of the paired tasks ('?' lines dropped): {frames}")
    # A task only one boot has (one more kworker started, say) is harmless when
    # the other boot has a task of the same name with the same functions.
    def known(t, other):
        return any(name(o) == name(t) and o["funcs"] == t["funcs"] for o in other.values())

    unknown = 0
    print(f"  unpaired: {len(left_a)} in {la}, {len(left_b)} in {lb}")
    for label, left, other in ((la, left_a, b), (lb, left_b, a)):
        for pid in sorted(left):
            k = known(left[pid], other)
            unknown += not k
            note = "a task of that name has the same functions there" if k else "NO task of that name has these functions there"
            print(f"  only in {label} ({note}): {fmt(pid, left[pid])}")
    for kind, pa, pb in diffs:
        print(f"  differs ({kind}): {la}: {fmt(pa, a[pa])}")
        print(f"  {' ' * (len(kind) + 12)}{lb}: {fmt(pb, b[pb])}")
    return 1 if counts["sleeping"][1] + unknown else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
