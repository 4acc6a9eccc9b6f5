#!/usr/bin/env bash
# objtool 6.1's UACCESS rules on real code that breaks them: on the recorded
# kernel build (scripts/kbuild.sh: $KBUILD/objects/<obj> is each object as it
# was before objtool ran), every X86_FEATURE_SMAP site whose replacement is a
# lone STAC or CLAC is made a 3-byte NOP, one site at a time
# (scripts/mutate-smap.py), and objtool 6.1 and orctool run with
# `--orc --uaccess` on copies of the result. A CLAC gone leaves UACCESS enabled
# at a call or a return, a STAC gone makes the next CLAC redundant, and the paths
# after it are followed again with the other UACCESS state. Compared: the
# warnings (path normalised) and the ORC (objtool 6.1's --dump=orc).
#
# The unmutated objects with kbuild's whole line (--uaccess and --hacks=noinstr
# among it) are scripts/compare-kbuild.sh's.
#
# Environment: KBUILD (default ~/.cache/orctool/kbuild/6.1), OUT (default a new
# temporary directory), JOBS (default 1: the machine is shared), FILTER (an
# extended regex the object paths must match), NO_BUILD=1 / ORCTOOL as in
# compare-kbuild.sh. Prints the counts; $OUT/mutation-results.txt has a line
# per mutated site, $OUT/mutation-warnings.txt objtool 6.1's warnings there,
# $OUT/mutation-mismatches.txt the diffs of those that differ.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
KBUILD="${KBUILD:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/kbuild/6.1}"
CACHE="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
# shellcheck disable=SC1091
source "$CACHE/corpus.env"
[ -f "$KBUILD/manifest" ] || { echo "compare-uaccess: no $KBUILD/manifest (run scripts/kbuild.sh)" >&2; exit 1; }
# What kbuild exports to objtool (VERSION, PATCHLEVEL, …): orctool's generation policy reads it.
if [ -f "$KBUILD/objtool.env" ]; then
  set -a
  # shellcheck disable=SC1091
  source "$KBUILD/objtool.env"
  set +a
fi
if [ -z "${ORCTOOL:-}" ] && [ "${NO_BUILD:-0}" != 1 ]; then swift build -c release --product orctool >&2; fi
BIN="${ORCTOOL:-$ROOT/.build/release/orctool}"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
JOBS="${JOBS:-1}"

mutate() { # mutate "OBJECT K" -> "w-ok|w-diff orc-ok|orc-diff stac|clac OBJECT K"; nothing for a site left alone
  local obj="${1% *}" k="${1##* }" t what
  t=$(mktemp -d)
  what=$(python3 "$ROOT/scripts/mutate-smap.py" "$KBUILD/objects/$obj" "$t/in.o" "$k")
  if [ "$what" != skip ]; then
    cp "$t/in.o" "$t/o.o"
    cp "$t/in.o" "$t/m.o"
    (cd "$t" && "$OBJTOOL61" --orc --uaccess o.o > /dev/null 2> ow) || true
    (cd "$t" && "$BIN" --orc --uaccess m.o > /dev/null 2> mw) || true
    sed -i 's|o\.o: |OBJ: |' "$t/ow"
    sed -i 's|m\.o: |OBJ: |' "$t/mw"
    "$OBJTOOL61" --dump=orc "$t/o.o" > "$t/od" 2>&1 || true
    "$OBJTOOL61" --dump=orc "$t/m.o" > "$t/md" 2>&1 || true
    local w=w-ok o=orc-ok
    cmp -s "$t/ow" "$t/mw" || w=w-diff
    cmp -s "$t/od" "$t/md" || o=orc-diff
    sed "s|^|$obj site $k ($what): |" "$t/ow" >> "$OUT/mutation-warnings.txt"
    if [ $w = w-diff ] || [ $o = orc-diff ]; then
      { echo "=== $obj site $k ($what)"; diff "$t/ow" "$t/mw" || true; diff "$t/od" "$t/md" | head -20 || true; } \
        > "$OUT/mismatches.d/$(echo "$obj" | tr / _).$k"
    fi
    echo "$w $o $what $obj $k"
  fi
  rm -rf "$t"
}
export -f mutate
export KBUILD OBJTOOL61 BIN OUT ROOT

: > "$OUT/mutation-warnings.txt"
rm -rf "$OUT/mismatches.d"; mkdir -p "$OUT/mismatches.d"
mapfile -t objects < <(grep -v '^- ' "$KBUILD/manifest" | awk '{ print $1 }' | awk '!seen[$0]++')
if [ -n "${FILTER:-}" ]; then mapfile -t objects < <(printf '%s\n' "${objects[@]}" | grep -E "^(${FILTER})$" || true); fi
sites=()
with=0
for obj in "${objects[@]}"; do
  n=$(python3 scripts/mutate-smap.py "$KBUILD/objects/$obj")
  [ "$n" -gt 0 ] && with=$((with + 1))
  for ((k = 0; k < n; k++)); do sites+=("$obj $k"); done
done
echo "objects: ${#objects[@]}, with X86_FEATURE_SMAP alternatives: $with, SMAP sites: ${#sites[@]}"
printf '%s\0' "${sites[@]}" | xargs -0 -n 1 -P "$JOBS" bash -c 'mutate "$0"' > "$OUT/mutation-results.txt"
find "$OUT/mismatches.d" -type f | sort -V | xargs -r cat > "$OUT/mutation-mismatches.txt"
rm -rf "$OUT/mismatches.d"
m=$(wc -l < "$OUT/mutation-results.txt")
c() { grep -c -- "$1" "$OUT/mutation-results.txt" || true; }
echo "sites made NOPs (a lone STAC or CLAC): $m ($(c ' stac ') STAC, $(c ' clac ') CLAC)"
echo "  warnings identical: $(c '^w-ok') / $m; ORC identical: $(c ' orc-ok ') / $m"
echo "  objtool 6.1's warnings there: $(wc -l < "$OUT/mutation-warnings.txt") lines, by kind:"
sed 's/.*: warning: objtool: [^ ]*: //' "$OUT/mutation-warnings.txt" | sed 's/call to .*() with/call to X() with/' \
  | sort | uniq -c | sort -rn | sed 's/^/    /'
echo "  the sites that differ, by object (an object that differs unmutated too is in compare-kbuild.sh's list):"
grep -v '^w-ok orc-ok' "$OUT/mutation-results.txt" | awk '{ print $4 }' | sort | uniq -c | sed 's/^/    /' || true
echo "results: $OUT/mutation-results.txt; differences: $OUT/mutation-mismatches.txt"
