#!/usr/bin/env bash
# Boot the two kernels scripts/kbuild.sh builds from the same Debian 6.1 cloud
# source and config, one with the real objtool 6.1 (cache 6.1) and one with
# OrcTool in objtool's place (6.1-orctool, `scripts/kbuild.sh --orctool`), under
# QEMU (scripts/qemu-dump.sh --bzimage ..., scenario default: busybox
# initramfs, qemu_fw_cfg.ko for VMCOREINFO, sysrq-t, an ELF dump), then
#   1. compares their sysrq-t traces task by task, by function names
#      (scripts/sysrq-compare.py: offsets differ between the builds, `?` lines
#      are guesses),
#   2. greps both consoles for the kernel unwinder's complaints,
#   3. unwinds each dump with `orctool unwind` (the release binary), the
#      struct layouts from the Debian 6.1 -dbg vmlinux's .BTF (`--btf`: these
#      builds have no debug info and no BTF), and compares that with the
#      kernel's own sysrq-t printout (scripts/unwind-compare.py; no drgn,
#      which cannot read a kernel without debug info: an empty drgn file).
# Prints the figures; exits 1 when a sleeping task's functions differ between
# the two printouts, the kernel's unwinder complained, or orctool calls one of
# its traces unreliable or cannot unwind a dump. (orctool's traces against the
# printout are counted, not judged: the dump is taken seconds later, and a task
# may have moved on.)
#
# usage: scripts/kbuild-boot-check.sh [OUTDIR]   (default $ORCTOOL_KBUILD/boot)
#   OUTDIR/objtool, OUTDIR/orctool: qemu-dump.sh's output (console.log, vmcore,
#   summary.txt), orctool.json (orctool unwind), unwind-compare.txt;
#   OUTDIR/*.sysrq-t.txt: each console's traces as compared; OUTDIR/report.txt.
# A dump newer than its bzImage is reused; FORCE=1 boots again.
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "kbuild-boot-check: error: $*" >&2; exit 1; }
log() { echo "kbuild-boot-check: $*" >&2; }

ROOT="${ORCTOOL_KBUILD:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/kbuild}"
OUT="${1:-$ROOT/boot}"
mkdir -p "$OUT"
CORPUS="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
[ -f "$CORPUS/corpus.env" ] || die "no $CORPUS/corpus.env (run scripts/corpus.sh --dbg)"
VMLINUX61=$(sed -n 's/^VMLINUX61=//p' "$CORPUS/corpus.env")
[ -f "$VMLINUX61" ] || die "no Debian 6.1 -dbg vmlinux at '$VMLINUX61' (run scripts/corpus.sh --dbg)"

# label -> cache directory
declare -A DIR=([objtool]="$ROOT/6.1" [orctool]="$ROOT/6.1-orctool")
LABELS=(objtool orctool)
for l in "${LABELS[@]}"; do
  d="${DIR[$l]}"
  for f in bzImage vmlinux qemu_fw_cfg.ko; do
    [ -f "$d/$f" ] || die "no $d/$f (run scripts/kbuild.sh$([ "$l" = orctool ] && echo ' --orctool'))"
  done
done

# 1. Boot and dump each kernel.
for l in "${LABELS[@]}"; do
  d="${DIR[$l]}"
  if [ "${FORCE:-0}" = 1 ] || [ ! -s "$OUT/$l/vmcore" ] || [ "$OUT/$l/vmcore" -ot "$d/bzImage" ]; then
    log "booting the $l build"
    bash scripts/qemu-dump.sh --bzimage "$d/bzImage" --vmlinux "$d/vmlinux" --fwcfg "$d/qemu_fw_cfg.ko" \
      --scenario default "$OUT/$l" > /dev/null
  fi
done

BIN=$(bash scripts/build-release.sh 2>/dev/null) || die "scripts/build-release.sh failed"
status=0
{
  echo "kernels:"
  for l in "${LABELS[@]}"; do
    d="${DIR[$l]}"
    echo "  $l: $d/bzImage ($(sed -n 's/^built: *//p' "$OUT/$l/summary.txt")), $(sed -n 's/^took: *//p' "$OUT/$l/summary.txt")"
  done

  # 2. sysrq-t, task by task.
  echo "sysrq-t, objtool build against orctool build (scripts/sysrq-compare.py):"
  python3 scripts/sysrq-compare.py --out "$OUT" objtool "$OUT/objtool/console.log" orctool "$OUT/orctool/console.log" \
    > "$OUT/sysrq-compare.txt" || status=1
  sed 's/^/  /' "$OUT/sysrq-compare.txt"

  # 3. The unwinder's complaints.
  # (ORC as a word: the init script's own ORCTOOL-READY marker is no complaint.)
  PATTERN="WARNING: stack|unwind|can't find|\\bORC\\b|stack going in the wrong direction"
  echo "unwinder warnings on the console (grep -E \"$PATTERN\"):"
  for l in "${LABELS[@]}"; do
    n=$(grep -cE "$PATTERN" "$OUT/$l/console.log" || true)
    echo "  $l: $n"
    if [ "$n" != 0 ]; then grep -E "$PATTERN" "$OUT/$l/console.log" | head -n 20 | sed 's/^/    /'; status=1; fi
  done

  # 4. orctool unwind on each dump against the kernel's own printout.
  echo "orctool unwind --btf $VMLINUX61 against the kernel's sysrq-t (scripts/unwind-compare.py):"
  for l in "${LABELS[@]}"; do
    d="${DIR[$l]}"
    : > "$OUT/$l/drgn-none.txt"
    t0=$(date +%s.%N)
    if ! "$BIN" unwind --vmlinux "$d/vmlinux" --btf "$VMLINUX61" --core "$OUT/$l/vmcore" --format json \
        > "$OUT/$l/orctool.json" 2> "$OUT/$l/orctool.err"; then
      echo "  $l: orctool unwind failed: $(head -n 1 "$OUT/$l/orctool.err")"
      status=1
      continue
    fi
    t1=$(date +%s.%N)
    python3 scripts/unwind-compare.py "$OUT/$l/orctool.json" "$OUT/$l/drgn-none.txt" "$OUT/$l/console.log" \
      "$d/vmlinux" > "$OUT/$l/unwind-compare.txt" || true
    tasks=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' "$OUT/$l/orctool.json")
    frames=$(python3 -c 'import json, sys; print(sum(len(t["frames"]) for t in json.load(open(sys.argv[1]))))' "$OUT/$l/orctool.json")
    echo "  $l: $tasks tasks, $frames frames in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
    grep -E "^(orctool vs the kernel's sysrq-t|idle tasks)" "$OUT/$l/unwind-compare.txt" | sed 's/^/    /'
    # orctool's verdict on each of its traces: all must be reliable.
    verdicts=$(sed -n '/^idle tasks/,$ s/^ *\([0-9][0-9]*\)  \(.*\)/\1 \2/p' "$OUT/$l/unwind-compare.txt")
    while read -r v; do echo "    verdict (tasks): $v"; done <<< "$verdicts"
    if grep -qv '^[0-9]* reliable' <<< "$verdicts"; then status=1; fi
    # The dump is taken seconds after the printout: a task running then has moved
    # on, and a sleeping one may have woken and slept elsewhere in between
    # (rcu_preempt, kworkers on timers). Counted apart; not a failure by itself.
    running=0; sleeping=0
    while read -r pid; do
      state=$(awk -v p="$pid" '$1 == p { sub(/:$/, "", $3); print $3 }' "$OUT/$l.sysrq-t.txt")
      if [ "$state" = R ]; then running=$((running + 1)); else sleeping=$((sleeping + 1)); fi
      echo "    differs ($([ "$state" = R ] && echo 'running at sysrq-t' || echo "state $state")):" \
        "$(grep -E "^kernel: task $pid " "$OUT/$l/unwind-compare.txt" | cut -c 9- | cut -c 1-300)"
    done < <(sed -n 's/^kernel: task \([0-9]*\) .*/\1/p' "$OUT/$l/unwind-compare.txt")
    echo "    tasks that differ: $running running when sysrq-t printed them, $sleeping sleeping then" \
      "(woken and asleep elsewhere by the dump, or a wrong trace: see above)"
    grep -q "^orctool vs the kernel's sysrq-t" "$OUT/$l/unwind-compare.txt" || status=1
  done
} > "$OUT/report.txt"
cat "$OUT/report.txt"
echo "verdict: $([ "$status" = 0 ] && echo pass || echo FAIL) (outputs in $OUT)"
exit "$status"
