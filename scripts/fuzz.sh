#!/usr/bin/env bash
# Fuzz every reader and pass with libFuzzer (Fuzz/, a package beside the main
# one; Fuzz/Package.swift lists what each target drives). Seeds are made at
# run time, never checked in: the test fixtures (Fixtures/*.S, assembled with
# GNU as), real modules from the corpus cache (as they are, and with their ORC
# stripped for the pipeline targets), small ELF cores for FuzzCoreDump
# (scripts/fuzz-core-seeds.py, mapping the -dbg vmlinux's task-walk symbols)
# and the same memory kdump-compressed for FuzzKdump (its --kdump).
#
#   scripts/fuzz.sh            the long campaign: RUNS executions per target
#                              (default 5,000,000), or MAX_TIME seconds per target;
#                              40 small modules of each generation as seeds.
#                              KEEP_GOING=1 goes on after a crash (libFuzzer's
#                              -fork=1: one child at a time) to find more than one.
#   scripts/fuzz.sh --smoke    CI: each target for a short deterministic budget
#                              (-seed=1, SMOKE_RUNS executions, a fixed module list);
#                              exits non-zero when any target crashes.
#
# SANITIZE adds sanitizers to libFuzzer's, each build in its own directory:
#   SANITIZE=address     AddressSanitizer (-sanitize=fuzzer,address).
#   SANITIZE=undefined   Swift has no -sanitize=undefined (swiftc: "unsupported
#                        option"); its release builds already trap on overflow,
#                        bounds, nil and failed preconditions. What -O leaves out
#                        are the standard library's debug preconditions in the
#                        unsafe-pointer code inlined into ours (UnsafeBufferPointer
#                        bounds, alignment of load(as:)): so this builds -Onone
#                        (`-c debug`), where they are checked. Combines with
#                        address (SANITIZE=address,undefined).
# TARGETS picks targets. Crashing inputs land in $OUT/crashes.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=campaign
[ "${1:-}" = --smoke ] && MODE=smoke
ALL="FuzzELF FuzzKernelFormats FuzzORC FuzzPasses FuzzReports FuzzCheck FuzzCoreDump FuzzKdump"
TARGETS="${TARGETS:-$ALL}"
OUT="${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/orctool-fuzz.XXXXXX")}"
mkdir -p "$OUT/crashes"

# The corpus cache: fetched for the campaign; the smoke uses it only when it is there.
CACHE="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
[ "$MODE" = campaign ] && bash scripts/corpus.sh 2>/dev/null
MODULES61="" MODULES612="" VMLINUX61=""
# shellcheck disable=SC1091
[ -f "$CACHE/corpus.env" ] && source "$CACHE/corpus.env"

SAN=fuzzer CONFIG=release
for s in ${SANITIZE:+${SANITIZE//,/ }}; do
  case "$s" in
    undefined) CONFIG=debug ;;
    *) SAN="$SAN,$s" ;;
  esac
done
SCRATCH=".build${SANITIZE:+-${SANITIZE//,/-}}"
build_start=$(date +%s)
(cd Fuzz && swift build -c "$CONFIG" --scratch-path "$SCRATCH" -Xswiftc "-sanitize=$SAN" \
  -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp >&2)
BIN="Fuzz/$SCRATCH/$CONFIG"
echo "build (-c $CONFIG -sanitize=$SAN): $(($(date +%s) - build_start)) s" >&2

# Seeds.
OBJ="$OUT/seed-obj" CORE="$OUT/seed-core" KDUMP="$OUT/seed-kdump"
rm -rf "$OBJ" "$CORE" "$KDUMP"; mkdir -p "$OBJ" "$CORE" "$KDUMP"
for s in Fixtures/*.S; do
  as -I Fixtures -o "$OBJ/$(basename "$s" .S).o" "$s" 2>/dev/null || true
done
modules=()
if [ "$MODE" = smoke ]; then
  # Small modules with .altinstructions, .parainstructions, __jump_table, .BTF and .rodata between them.
  [ -n "$MODULES61" ] && [ -d "$MODULES61" ] && for m in crypto/aes_ti.ko crypto/async_tx/async_memcpy.ko \
    arch/x86/crypto/nhpoly1305-avx2.ko arch/x86/events/amd/power.ko arch/x86/crypto/crc32-pclmul.ko; do
    modules+=("$MODULES61/$m")
  done
  [ -n "$MODULES612" ] && [ -d "$MODULES612" ] && for m in crypto/async_tx/async_memcpy.ko \
    arch/x86/events/amd/power.ko arch/x86/crypto/crc32-pclmul.ko; do
    modules+=("$MODULES612/$m")
  done
else
  for dir in "$MODULES61" "$MODULES612"; do
    [ -n "$dir" ] && [ -d "$dir" ] || continue
    # (process substitution: a pipe into `head` would fail the script under pipefail when find gets SIGPIPE)
    mapfile -t small < <(find "$dir" -name '*.ko' -size -16k | sort)
    modules+=("${small[@]:0:40}")
  done
fi
n=0
for f in "${modules[@]}"; do
  [ -f "$f" ] || { echo "fuzz: missing seed module $f" >&2; exit 1; }
  n=$((n + 1))
  cp "$f" "$OBJ/$n-$(basename "$f")"
  objcopy --remove-section=.orc_unwind --remove-section=.orc_unwind_ip --remove-section=.rela.orc_unwind_ip \
    "$f" "$OBJ/$n-noorc-$(basename "$f")"
done
symbols=()
if [ -n "$VMLINUX61" ] && [ -f "$VMLINUX61" ]; then
  export ORCTOOL_FUZZ_VMLINUX="$VMLINUX61"
  mapfile -t symbols < <(nm "$VMLINUX61" | awk '$3 ~ /^(init_task|runqueues|__per_cpu_offset|hardirq_stack_ptr)$/ {print $3 "=" $1}' | sort)
fi
if command -v python3 > /dev/null; then
  python3 scripts/fuzz-core-seeds.py "$CORE" --kdump "$KDUMP" "${symbols[@]}"
else
  echo "fuzz: no python3: FuzzCoreDump and FuzzKdump start without seeds" >&2
fi

if [ "$MODE" = smoke ]; then
  budget=(-seed=1 -runs="${SMOKE_RUNS:-20000}")
else
  budget=(-runs="${RUNS:-5000000}")
  [ -n "${MAX_TIME:-}" ] && budget+=(-max_total_time="$MAX_TIME")
  [ "${KEEP_GOING:-0}" = 1 ] && budget+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
fi
failed=0
for target in $TARGETS; do
  seeds="$OBJ" max_len="${MAX_LEN:-20000}"
  # a core seed maps a few pages of the task walk: about 44 KB
  [ "$target" = FuzzCoreDump ] && seeds="$CORE" max_len="${MAX_LEN:-65536}"
  # a kdump seed: header, sub header and bitmap blocks, then about 20 pages, most of them zlib: about 40 KB
  [ "$target" = FuzzKdump ] && seeds="$KDUMP" max_len="${MAX_LEN:-65536}"
  corpus="$OUT/corpus-$target"
  # The smoke starts from the seeds alone each time, so that it is the same run every time.
  [ "$MODE" = smoke ] && rm -rf "$corpus"
  mkdir -p "$corpus"
  start=$(date +%s.%N)
  status=0
  # Swift's own crash reporter would take the signal before libFuzzer saves the input.
  SWIFT_BACKTRACE=enable=no "$BIN/$target" "${budget[@]}" -max_len="$max_len" -timeout="${TIMEOUT:-10}" \
    -rss_limit_mb=2048 -artifact_prefix="$OUT/crashes/$target-" -print_final_stats=1 \
    "$corpus" "$seeds" > "$OUT/$target.log" 2>&1 || status=$?
  seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$target.log" | tail -n 1)
  # (fork mode: the parent's last `#N: cov: ...` line)
  [ -n "$runs" ] || runs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$OUT/$target.log" | tail -n 1)
  crashes=$(find "$OUT/crashes" -name "$target-*" | wc -l)
  printf '%s: %s executions in %s s, exit %s, crashes: %s\n' "$target" "${runs:-?}" "$seconds" "$status" "$crashes"
  if [ "$status" != 0 ] || [ "$crashes" != 0 ]; then
    failed=1
    grep -m1 -A30 -E "ERROR: libFuzzer|Fatal error|SUMMARY|==ERROR" "$OUT/$target.log" >&2 || tail -n 30 "$OUT/$target.log" >&2
  fi
done
echo "logs and crashes: $OUT"
exit $failed
