#!/usr/bin/env bash
# Benchmark `--dump=orc`: orctool (release build) and the real objtool 6.1 side
# by side in one run, on the same inputs: the 6.1 -dbg vmlinux (368k ORC
# entries) and the whole 6.1 cloud module corpus. Reports wall time and peak
# resident memory (GNU time) for each tool and the orctool/objtool ratios.
# RUNS=N sets the repetitions on vmlinux (median reported; default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
bash scripts/corpus.sh --dbg 2>/dev/null
CACHE="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
# shellcheck disable=SC1091
source "$CACHE/corpus.env"
# A release build with the Swift runtime linked in, as it would ship
# (libZydis and libc stay shared: Debian ships no static libZydis), linked by
# lld with packed relative relocations (less start-up work for ld.so).
BIN="$(bash scripts/build-release.sh)"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT

measure() { # measure LABEL CMD... -> appends "seconds kb" to $TMP/LABEL
  /usr/bin/time -f "%e %M" -o "$TMP/t" "$@" > /dev/null
  cat "$TMP/t" >> "$TMP/$LABEL"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# Warm the page cache so neither tool pays for the first read.
cat "$VMLINUX61" > /dev/null
for i in $(seq "$RUNS"); do
  LABEL=objtool measure "$OBJTOOL61" --dump=orc "$VMLINUX61"
  LABEL=orctool measure "$BIN" --dump=orc "$VMLINUX61"
done
ot=$(cut -d' ' -f1 "$TMP/objtool" | median); om=$(cut -d' ' -f2 "$TMP/objtool" | median)
rt=$(cut -d' ' -f1 "$TMP/orctool" | median); rm_=$(cut -d' ' -f2 "$TMP/orctool" | median)
echo "vmlinux ($(basename "$VMLINUX61"), median of $RUNS runs):"
printf "  objtool 6.1: %6.2f s %8d KB peak RSS\n" "$ot" "$om"
printf "  orctool:     %6.2f s %8d KB peak RSS\n" "$rt" "$rm_"
awk -v a="$rt" -v b="$ot" -v c="$rm_" -v d="$om" \
  'BEGIN { printf "  ratio orctool/objtool: time %.3f, peak memory %.3f\n", a/b, c/d }'

# The whole module corpus, each tool once over every module.
find "$MODULES61" -name '*.ko' | sort > "$TMP/list"
n=$(wc -l < "$TMP/list")
run_all() { while read -r f; do "$@" --dump=orc "$f" > /dev/null; done < "$TMP/list"; }
export -f run_all; export TMP
/usr/bin/time -f "%e %M" -o "$TMP/mo" bash -c 'run_all "$0"' "$OBJTOOL61"
/usr/bin/time -f "%e %M" -o "$TMP/mr" bash -c 'run_all "$0"' "$BIN"
read -r mot mom < "$TMP/mo"; read -r mrt mrm < "$TMP/mr"
echo "6.1 modules ($n files, one process each):"
printf "  objtool 6.1: %6.2f s %8d KB peak RSS (largest process)\n" "$mot" "$mom"
printf "  orctool:     %6.2f s %8d KB peak RSS (largest process)\n" "$mrt" "$mrm"
awk -v a="$mrt" -v b="$mot" -v c="$mrm" -v d="$mom" \
  'BEGIN { printf "  ratio orctool/objtool: time %.3f, peak memory %.3f\n", a/b, c/d }'
