#!/usr/bin/env bash
# Every crash/busy scenario of scripts/qemu-dump.sh on both kernels, one guest
# at a time, each into DUMPS/KERNEL-SCENARIO; a directory whose summary.txt
# exists (written last) is kept. Then one table of them all.
# usage: scripts/dumps.sh [DUMPS]   (default ${XDG_CACHE_HOME:-~/.cache}/orctool/dumps)
# Environment: KERNELS (default "6.1 6.12"), SCENARIOS (default "busy oops sysrq-c nmi oops-kaslr"),
#              FORCE=1 redoes existing ones.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
DUMPS="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/dumps}"
KERNELS="${KERNELS:-6.1 6.12}"
SCENARIOS="${SCENARIOS:-busy oops sysrq-c nmi oops-kaslr}"
mkdir -p "$DUMPS" || { echo "dumps: error: cannot create $DUMPS" >&2; exit 1; }

for k in $KERNELS; do
  for s in $SCENARIOS; do
    d="$DUMPS/$k-$s"
    if [ "${FORCE:-0}" != 1 ] && [ -f "$d/summary.txt" ]; then
      echo "dumps: $k-$s: kept ($d)" >&2
      continue
    fi
    echo "dumps: $k-$s" >&2
    bash "$HERE/qemu-dump.sh" --kernel "$k" --scenario "$s" "$d" > /dev/null ||
      { echo "dumps: error: $k-$s failed (see $d/console.log)" >&2; exit 1; }
  done
done

# kernel-scenario, seconds to ready / to dumped / in all, ELF and kdump sizes, drgn's crashed thread.
printf '%-14s %18s %10s %10s %6s  %s\n' dump "ready/dumped/all s" "ELF MB" "kdump MB" ratio "drgn crashed_thread"
for k in $KERNELS; do
  for s in $SCENARIOS; do
    d="$DUMPS/$k-$s"
    [ -f "$d/summary.txt" ] || continue
    t=$(sed -n 's/^took: *\([0-9]*\)s to ready, \([0-9]*\)s to dumped, \([0-9]*\)s in all/\1\/\2\/\3/p' "$d/summary.txt")
    e=$(stat -c %s "$d/vmcore"); z=$(stat -c %s "$d/vmcore.kdump")
    c=$(head -n 1 "$d/drgn-cpus.txt" | sed 's/^crashed_thread: //')
    awk -v n="$k-$s" -v t="$t" -v e="$e" -v z="$z" -v c="$c" \
      'BEGIN { printf "%-14s %18s %10.1f %10.1f %5.1fx  %s\n", n, t, e / 1048576, z / 1048576, e / z, c }'
  done
done
