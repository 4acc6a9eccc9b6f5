#!/usr/bin/env bash
# Fuzz the ELF reader and the whole `check --orc` pipeline with libFuzzer
# (Fuzz/, a package beside the main one), seeded with real 6.1 modules (small
# ones, and for the check target the same with their ORC stripped) and the
# test fixtures. RUNS executions per target (default 5,000,000); SANITIZE adds
# sanitizers (e.g. SANITIZE=address). Crashing inputs land in $OUT/crashes.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5000000}"
OUT="${OUT:-$(mktemp -d)}"; mkdir -p "$OUT/crashes"
bash scripts/corpus.sh 2>/dev/null
CACHE="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
# shellcheck disable=SC1091
source "$CACHE/corpus.env"
SAN="fuzzer${SANITIZE:+,$SANITIZE}"
(cd Fuzz && swift build -c release -Xswiftc "-sanitize=$SAN" \
   -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp >&2)
BIN=Fuzz/.build/release
mkdir -p "$OUT/seed-elf" "$OUT/seed-check" "$OUT/corpus-elf" "$OUT/corpus-check"
# (process substitution: a pipe into `head` would fail the script under pipefail when find gets SIGPIPE)
mapfile -t small < <(find "$MODULES61" -name '*.ko' -size -16k | sort)
for f in "${small[@]:0:40}"; do
  cp "$f" "$OUT/seed-elf/"
  objcopy --remove-section=.orc_unwind --remove-section=.orc_unwind_ip --remove-section=.rela.orc_unwind_ip \
    "$f" "$OUT/seed-check/$(basename "$f")"
done
for s in Fixtures/*.S; do
  as -I Fixtures -o "$OUT/seed-check/$(basename "$s" .S).o" "$s" 2>/dev/null || true
done
for target in ${TARGETS:-FuzzELF FuzzCheck}; do
  seeds="$OUT/seed-elf"; corpus="$OUT/corpus-elf"
  [ "$target" = FuzzCheck ] && { seeds="$OUT/seed-check"; corpus="$OUT/corpus-check"; }
  start=$(date +%s)
  status=0
  # Swift's own crash reporter would take the signal before libFuzzer saves the input.
  SWIFT_BACKTRACE=enable=no "$BIN/$target" -runs="$RUNS" -max_len=20000 -timeout="${TIMEOUT:-10}" -rss_limit_mb=2048 \
    -artifact_prefix="$OUT/crashes/$target-" -print_final_stats=1 "$corpus" "$seeds" > "$OUT/$target.log" 2>&1 || status=$?
  end=$(date +%s)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$target.log" | tail -n 1)
  echo "$target: ${runs:-?} executions in $((end - start)) s, exit $status, crashes: $(ls "$OUT/crashes" | grep -c "^$target-" || true)"
done
echo "logs and crashes: $OUT"
