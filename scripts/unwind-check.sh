#!/usr/bin/env bash
# Issue "ORC unwinder": boot the Debian 6.1 cloud kernel under QEMU, dump it
# (scripts/qemu-dump.sh), then compare `orctool unwind --all` with drgn 0.3.0
# and with the kernel's own sysrq-t traces (scripts/unwind-compare.py), and
# time both unwinders on the same dump (frames per second, ratio).
# usage: scripts/unwind-check.sh [OUTDIR]   (REUSE=1 keeps an existing dump)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-$(mktemp -d)}"
mkdir -p "$OUT"
if [ "${REUSE:-0}" != 1 ] || [ ! -f "$OUT/vmcore" ]; then
  bash scripts/qemu-dump.sh "$OUT" >&2
fi
CACHE="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
# shellcheck disable=SC1091
source "$CACHE/corpus.env"
swift build -c release --product orctool >&2
BIN="$(swift build -c release --show-bin-path)/orctool"
"$BIN" unwind --vmlinux "$VMLINUX61" --core "$OUT/vmcore" --format json > "$OUT/orctool.json"
"$BIN" unwind --vmlinux "$VMLINUX61" --core "$OUT/vmcore" > "$OUT/orctool.txt"
python3 scripts/unwind-compare.py "$OUT/orctool.json" "$OUT/drgn.txt" "$OUT/console.log" "$VMLINUX61"

# Speed: each tool unwinds every task of the same dump, loading included.
frames_ours=$(python3 -c 'import json,sys; print(sum(len(t["frames"]) for t in json.load(open(sys.argv[1]))))' "$OUT/orctool.json")
# drgn goes on into user space (and sometimes garbage past it): count its kernel frames only.
frames_drgn=$(awk '/^#/ && $2 ~ /^0xffff[89a-f]/ {n++} END {print n+0}' "$OUT/drgn.txt")
best() { sort -n | head -n 1; }
for i in 1 2 3; do
  /usr/bin/time -f "%e" -o "$OUT/t" "$BIN" unwind --vmlinux "$VMLINUX61" --core "$OUT/vmcore" --format json > /dev/null
  cat "$OUT/t" >> "$OUT/t-ours"
  /usr/bin/time -f "%e" -o "$OUT/t" python3 scripts/drgn-traces.py "$OUT/vmcore" "$VMLINUX61" "$OUT/drgn-bench.txt" 2>/dev/null
  cat "$OUT/t" >> "$OUT/t-drgn"
done
to=$(best < "$OUT/t-ours"); td=$(best < "$OUT/t-drgn")
awk -v fo="$frames_ours" -v fd="$frames_drgn" -v to="$to" -v td="$td" 'BEGIN {
  printf "speed (best of 3, loading included): orctool %d kernel frames in %.2f s = %.0f frames/s; drgn %d kernel frames in %.2f s = %.0f frames/s; ratio %.1fx\n",
    fo, to, fo / to, fd, td, fd / td, (fo / to) / (fd / td) }'
echo "outputs in $OUT"
