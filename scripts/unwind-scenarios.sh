#!/usr/bin/env bash
# Issue "the unwinder on real crash dumps": for every scenario dump of `make dumps`
# (DUMPS/<kernel>-<scenario>), `orctool unwind` of the ELF core and of the
# kdump-compressed file against drgn 0.3.0 (module debug info loaded), the
# kernel's sysrq-t traces and its oops/panic printout (scripts/unwind-compare.py);
# then both unwinders timed on the same dump, loading included (best of 3).
# usage: scripts/unwind-scenarios.sh [DUMPS]   Environment: SCENARIOS="6.1-busy ..." to pick some.
set -euo pipefail
cd "$(dirname "$0")/.."
DUMPS="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/dumps}"
CACHE="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
# shellcheck disable=SC1091
source "$CACHE/corpus.env"
BIN="$(bash scripts/build-release.sh)"
SCENARIOS="${SCENARIOS:-6.1-busy 6.1-oops 6.1-sysrq-c 6.1-nmi 6.1-oops-kaslr 6.12-busy 6.12-oops 6.12-sysrq-c 6.12-nmi 6.12-oops-kaslr}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
best() { sort -n | head -n 1; }
rows=()
for s in $SCENARIOS; do
  d="$DUMPS/$s"
  [ -f "$d/vmcore" ] || { echo "unwind-scenarios: error: no dump $d/vmcore (run make dumps)" >&2; exit 1; }
  case "$s" in 6.12-*) V="${VMLINUX612:-}" ;; *) V="${VMLINUX61:-}" ;; esac
  [ -f "$V" ] || { echo "unwind-scenarios: error: no vmlinux for $s (scripts/corpus.sh --dbg --dbg612)" >&2; exit 1; }
  echo "=== $s"
  "$BIN" unwind --vmlinux "$V" --core "$d/vmcore" --format json > "$OUT/elf.json"
  "$BIN" unwind --vmlinux "$V" --core "$d/vmcore.kdump" --format json > "$OUT/kdump.json"
  if cmp -s "$OUT/elf.json" "$OUT/kdump.json"; then echo "kdump-compressed: every trace identical to the ELF core's"
  else echo "kdump-compressed: traces DIFFER from the ELF core's"; fi
  python3 scripts/unwind-compare.py "$OUT/elf.json" "$d/drgn.txt" "$d/console.log" "$V" | grep -v '^  *[0-9]'
  # Speed, loading included: every task of the dump, orctool against drgn (with the test module's debug info).
  frames_ours=$(python3 -c 'import json,sys; print(sum(len(t["frames"]) for t in json.load(open(sys.argv[1]))))' "$OUT/elf.json")
  frames_drgn=$(awk '/^#/ && $2 ~ /^0xffff[89a-f]/ {n++} END {print n+0}' "$d/drgn.txt")
  : > "$OUT/t-ours"; : > "$OUT/t-drgn"; : > "$OUT/t-kdump"
  for _ in 1 2 3; do
    /usr/bin/time -f "%e" -o "$OUT/t" "$BIN" unwind --vmlinux "$V" --core "$d/vmcore" --format json > /dev/null
    cat "$OUT/t" >> "$OUT/t-ours"
    /usr/bin/time -f "%e" -o "$OUT/t" "$BIN" unwind --vmlinux "$V" --core "$d/vmcore.kdump" --format json > /dev/null
    cat "$OUT/t" >> "$OUT/t-kdump"
    /usr/bin/time -f "%e" -o "$OUT/t" python3 scripts/drgn-traces.py "$d/vmcore" "$V" "$OUT/drgn.txt" \
      "$d/orctool_dumptest.ko" 2>/dev/null
    cat "$OUT/t" >> "$OUT/t-drgn"
  done
  to=$(best < "$OUT/t-ours"); tk=$(best < "$OUT/t-kdump"); td=$(best < "$OUT/t-drgn")
  rows+=("$(awk -v s="$s" -v fo="$frames_ours" -v fd="$frames_drgn" -v to="$to" -v tk="$tk" -v td="$td" 'BEGIN {
    printf "%-14s %6d %7.2f %7.2f %8.0f %6d %7.2f %8.0f %6.1fx", s, fo, to, tk, fo / to, fd, td, fd / td, (fo / to) / (fd / td) }')")
done
echo
printf '%-14s %6s %7s %7s %8s %6s %7s %8s %7s\n' dump frames "ELF s" "kdump s" frames/s drgn "drgn s" frames/s ratio
printf '%s\n' "${rows[@]}"
