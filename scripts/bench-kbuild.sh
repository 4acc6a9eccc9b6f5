#!/usr/bin/env bash
# Benchmark the per-object set of the Debian 6.1 cloud build (issue 12/14): every
# vmlinux object kept aside by `make kbuild` before objtool ran, with kbuild's own
# objtool arguments ($KBUILD/manifest), one process per object as kbuild runs it:
# the real objtool 6.1 and orctool (the release binary of scripts/build-release.sh)
# in one run, each on its own copy. Prints total wall time, CPU time and the
# largest peak RSS of each, the ratios, and on how many objects the ORC is identical.
set -euo pipefail
cd "$(dirname "$0")/.."
KBUILD="${KBUILD:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/kbuild/6.1}"
[ -f "$KBUILD/manifest" ] || { echo "bench-kbuild: no $KBUILD/manifest: run make kbuild first" >&2; exit 1; }
OBJTOOL="$(cat "$KBUILD/real-objtool" 2>/dev/null || true)"
if [ ! -x "$OBJTOOL" ]; then
  # shellcheck disable=SC1091
  source "${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}/corpus.env"
  OBJTOOL="$OBJTOOL61"
fi
BIN="$(bash scripts/build-release.sh)"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/objtool" "$TMP/orctool"
# The list: N<TAB>args, the inputs copied flat as N.o (not timed).
n=0
: > "$TMP/list"
while read -r path args; do
  [ -f "$KBUILD/objects/$path" ] || continue
  n=$((n + 1))
  cp "$KBUILD/objects/$path" "$TMP/objtool/$n.o"
  cp "$KBUILD/objects/$path" "$TMP/orctool/$n.o"
  printf '%s\t%s\n' "$n" "$args" >> "$TMP/list"
done < "$KBUILD/manifest"
sync
run_all() { # TOOL DIR: each object once, with its arguments
  local tool="$1" dir="$2" k args
  while IFS=$'\t' read -r k args; do
    # shellcheck disable=SC2086
    "$tool" $args "$dir/$k.o" >/dev/null 2>&1 || true
  done < "$LIST"
}
export -f run_all; export LIST="$TMP/list"
/usr/bin/time -f "%e %U %S %M" -o "$TMP/to" bash -c 'run_all "$0" "$1"' "$OBJTOOL" "$TMP/objtool"
/usr/bin/time -f "%e %U %S %M" -o "$TMP/tm" bash -c 'run_all "$0" "$1"' "$BIN" "$TMP/orctool"
read -r ow ou os om < "$TMP/to"; read -r mw mu ms mm < "$TMP/tm"
same=0
for f in "$TMP"/objtool/*.o; do
  cmp -s <("$OBJTOOL" --dump=orc "$f" 2>&1) <("$OBJTOOL" --dump=orc "$TMP/orctool/$(basename "$f")" 2>&1) && same=$((same + 1))
done
awk -v n="$n" -v k="$KBUILD" -v ow="$ow" -v ou="$ou" -v os="$os" -v om="$om" -v mw="$mw" -v mu="$mu" -v ms="$ms" \
  -v mm="$mm" -v same="$same" 'BEGIN {
  printf "per-object set: %d objects of %s, one process each\n", n, k
  printf "objtool 6.1: %.2fs wall, %.2fs CPU, peak %d KB\n", ow, ou + os, om
  printf "orctool:     %.2fs wall, %.2fs CPU, peak %d KB\n", mw, mu + ms, mm
  printf "ratio orctool/objtool: wall %.2f, CPU %.2f, peak RSS %.2f\n", mw / ow, (mu + ms) / (ou + os), mm / om
  printf "ORC identical (objtool --dump=orc of both outputs): %d / %d\n", same, n }'
