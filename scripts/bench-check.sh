#!/usr/bin/env bash
# Benchmark ORC generation: orctool (fully static release build) and the real
# objtool 6.1 side by side in one run, on the same inputs: every 6.1 cloud
# module with its ORC stripped (prepared first, not timed), each tool given
# its own copy, `--orc --module --link` once per module as kbuild runs it.
# Reports total wall time and the largest peak RSS of each, and the ratios.
# BASELINE=/path/to/an/older/orctool times that binary too, in the same run
# (before/after a change).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/corpus.sh 2>/dev/null
CACHE="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
# shellcheck disable=SC1091
source "$CACHE/corpus.env"
BIN="$(bash scripts/build-release.sh)"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/in" "$TMP/objtool" "$TMP/orctool" "$TMP/batch"
n=0
while IFS= read -r f; do
  n=$((n + 1))
  objcopy --remove-section=.orc_unwind --remove-section=.orc_unwind_ip --remove-section=.rela.orc_unwind_ip "$f" "$TMP/in/$n.ko"
done < <(find "$MODULES61" -name '*.ko' | sort)
cp "$TMP"/in/*.ko "$TMP/objtool/"; cp "$TMP"/in/*.ko "$TMP/orctool/"; cp "$TMP"/in/*.ko "$TMP/batch/"
if [ -n "${BASELINE:-}" ]; then mkdir -p "$TMP/baseline"; cp "$TMP"/in/*.ko "$TMP/baseline/"; fi
sync
run_all() { local tool="$1" dir="$2"; for f in "$dir"/*.ko; do "$tool" --orc --module --link "$f" 2>/dev/null || true; done; }
export -f run_all
/usr/bin/time -f "%e %M" -o "$TMP/to" bash -c 'run_all "$0" "$1"' "$OBJTOOL61" "$TMP/objtool"
/usr/bin/time -f "%e %M" -o "$TMP/tm" bash -c 'run_all "$0" "$1"' "$BIN" "$TMP/orctool"
# Batch mode: every module in one orctool process, across every core.
/usr/bin/time -f "%e %M" -o "$TMP/tbatch" bash -c '"$0" --orc --module --link "$1"/*.ko 2>/dev/null || true' "$BIN" "$TMP/batch"
read -r ot om < "$TMP/to"; read -r mt mm < "$TMP/tm"; read -r at am < "$TMP/tbatch"
if [ -n "${BASELINE:-}" ]; then
  /usr/bin/time -f "%e %M" -o "$TMP/tb" bash -c 'run_all "$0" "$1"' "$BASELINE" "$TMP/baseline"
  read -r bt bm < "$TMP/tb"
fi
same=0
for f in "$TMP"/in/*.ko; do
  b=$(basename "$f")
  cmp -s <("$OBJTOOL61" --dump=orc "$TMP/objtool/$b") <("$OBJTOOL61" --dump=orc "$TMP/orctool/$b") && same=$((same + 1))
done
echo "6.1 modules ($n, --orc --module --link, one process each):"
printf "  objtool 6.1: %6.2f s  %8d KB peak RSS (largest process)\n" "$ot" "$om"
printf "  orctool:     %6.2f s  %8d KB peak RSS (largest process)\n" "$mt" "$mm"
awk -v a="$mt" -v b="$ot" -v c="$mm" -v d="$om" 'BEGIN { printf "  ratio orctool/objtool: time %.3f, peak memory %.3f\n", a/b, c/d }'
echo "  identical ORC after both runs: $same/$n"
bsame=0
for f in "$TMP"/in/*.ko; do b=$(basename "$f"); cmp -s "$TMP/orctool/$b" "$TMP/batch/$b" && bsame=$((bsame + 1)); done
printf "  orctool batch (one process, %d cores): %6.2f s  %8d KB peak RSS\n" "$(nproc)" "$at" "$am"
awk -v a="$at" -v b="$ot" -v c="$am" -v d="$om" 'BEGIN { printf "  ratio batch/objtool: time %.3f, peak memory %.3f\n", a/b, c/d }'
echo "  byte-identical objects, batch vs one process each: $bsame/$n"
if [ -n "${BASELINE:-}" ]; then
  printf "  baseline:    %6.2f s  %8d KB peak RSS (%s)\n" "$bt" "$bm" "$BASELINE"
  awk -v a="$mt" -v b="$bt" -v c="$mm" -v d="$bm" 'BEGIN { printf "  ratio orctool/baseline: time %.3f, peak memory %.3f\n", a/b, c/d }'
  bsame=0
  for f in "$TMP"/in/*.ko; do b=$(basename "$f"); cmp -s "$TMP/baseline/$b" "$TMP/orctool/$b" && bsame=$((bsame + 1)); done
  echo "  byte-identical objects, orctool vs baseline: $bsame/$n"
fi
