#!/usr/bin/env bash
# Compare orctool with objtool 6.1 on a recorded kernel build's objects (the inputs
# scripts/kbuild.sh's wrapper kept, before objtool ran) for objtool actions the cloud
# build does not ask for: each sampled object is copied twice, objtool 6.1 runs on one
# copy and orctool on the other with the same ARGS, and everything is compared: every
# section's bytes and relocations (readelf -x, readelf -r -W), the symbol table, the
# warnings (stderr, the object's name normalised), standard output (--stats) and the
# exit status. An object objtool 6.1 crashes on (a signal) is counted apart.
#
#   scripts/compare-actions.sh --noinstr --link           # every 10th object
#   STEP=1 scripts/compare-actions.sh --mcount --orc      # every object
#
# Prints "N/M identical" and writes $OUT/results.txt (OBJECT same|diff|crash and what
# differs) and $OUT/diffs/OBJECT.txt (the differing lines) for each object that differs.
#
# Environment:
#   KBUILD   the recorded build (default ~/.cache/orctool/kbuild/6.1)
#   STEP     take every STEP-th object of the manifest (default 10)
#   OUT      where results go (default: a new temporary directory)
#   ORCTOOL  the orctool binary (default .build/debug/orctool)
set -euo pipefail
cd "$(dirname "$0")/.."
KBUILD="${KBUILD:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/kbuild/6.1}"
CACHE="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
# shellcheck disable=SC1091
source "$CACHE/corpus.env"
if [ -f "$KBUILD/objtool.env" ]; then
  set -a
  # shellcheck disable=SC1091
  source "$KBUILD/objtool.env"
  set +a
fi
BIN="${ORCTOOL:-$PWD/.build/debug/orctool}"
STEP="${STEP:-10}"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT/diffs"
: > "$OUT/results.txt"

# The bytes and relocations of every section but the relocation sections, section by section.
sections() { # FILE
  local s
  for s in $(readelf -S -W "$1" | sed -n 's/^ *\[ *[0-9]*\] \([^ ]*\) .*/\1/p' | grep -v '^\.rela' | sort -u); do
    echo "== $s"
    readelf -x "$s" "$1" 2>&1 | tail -n +2
    readelf -r -W "$1" | awk -v s="'.rela$s'" '
      /^Relocation section/ { on = ($3 == s); next } on && /^$/ { on = 0 } on { print }'
  done
  echo "== symtab"
  readelf -s -W "$1"
}

total=0 same=0 crashed=0
while read -r obj _; do
  total=$((total + 1))
  [ $(((total - 1) % STEP)) -eq 0 ] || continue
  t=$(mktemp -d)
  cp "$KBUILD/objects/$obj" "$t/o.o"
  cp "$KBUILD/objects/$obj" "$t/m.o"
  so=0 sm=0
  (cd "$t" && "$OBJTOOL61" "$@" o.o > o.out 2> o.err) || so=$?
  (cd "$t" && "$BIN" "$@" m.o > m.out 2> m.err) || sm=$?
  sed -i 's|^o\.o: |OBJ: |' "$t/o.err"
  sed -i 's|^m\.o: |OBJ: |' "$t/m.err"
  if [ "$so" -gt 128 ] && [ "$so" -ne 255 ]; then
    crashed=$((crashed + 1))
    echo "$obj crash objtool=$so" >> "$OUT/results.txt"
    rm -rf "$t"
    continue
  fi
  what=""
  [ "$so" = "$sm" ] || what+=" status($so,$sm)"
  cmp -s "$t/o.err" "$t/m.err" || what+=" warnings"
  cmp -s "$t/o.out" "$t/m.out" || what+=" stdout"
  if ! cmp -s "$t/o.o" "$t/m.o"; then
    sections "$t/o.o" > "$t/o.sec" 2>&1
    sections "$t/m.o" > "$t/m.sec" 2>&1
    cmp -s "$t/o.sec" "$t/m.sec" || what+=" sections"
  fi
  if [ -z "$what" ]; then
    same=$((same + 1))
    echo "$obj same" >> "$OUT/results.txt"
  else
    echo "$obj diff$what" >> "$OUT/results.txt"
    f="$OUT/diffs/$(echo "$obj" | tr / _).txt"
    { diff "$t/o.err" "$t/m.err" || true; diff "$t/o.out" "$t/m.out" || true
      [ -f "$t/o.sec" ] && { diff "$t/o.sec" "$t/m.sec" | head -40 || true; }; } > "$f"
  fi
  rm -rf "$t"
done < "$KBUILD/manifest"
sampled=$(( (total + STEP - 1) / STEP ))
echo "$* : $same/$((sampled - crashed)) identical ($crashed more objtool 6.1 crashed on) of $sampled sampled; $OUT/results.txt"
