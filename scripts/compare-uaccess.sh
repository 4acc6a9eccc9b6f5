#!/usr/bin/env bash
# Compare orctool with objtool 6.1 on the per-object corpus a kernel build
# recorded (scripts/kbuild.sh: $KBUILD/manifest, $KBUILD/objects/<obj> = the
# object before objtool ran, <obj>.stderr = objtool 6.1's warnings).
#
# For each object (every STEP-th of the manifest, at most LIMIT), three copies:
#   full    objtool 6.1 with the recorded arguments (what the build did);
#   subset  objtool 6.1 with only the arguments orctool supports;
#   orctool orctool with those same arguments.
# Arguments orctool refuses by name ("... is not supported yet") are dropped
# from the subset; which ones is printed. Compared:
#   - warnings (paths normalised) of orctool against subset and against full;
#     lines about UACCESS, DF and the stack are counted apart from the others;
#   - the ORC (objtool 6.1's --dump=orc of each copy) against subset and full;
#   - the code sections and their relocation sections, byte for byte
#     (scripts/section-digests.py), against subset: what --hacks=noinstr writes.
# Prints the counts; each object's line goes to $OUT/uaccess-results.txt and
# the differing ones, with their diffs, to $OUT/uaccess-mismatches.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
KBUILD="${KBUILD:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/kbuild/6.1}"
CACHE="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
# shellcheck disable=SC1091
source "$CACHE/corpus.env"
[ -f "$KBUILD/manifest" ] || { echo "no recorded build at $KBUILD (make kbuild)" >&2; exit 1; }
if [ -z "${BIN:-}" ]; then
  swift build -c release --product orctool >&2
  BIN="$(swift build -c release --show-bin-path)/orctool"
fi
OUT="${OUT:-$(mktemp -d)}"; mkdir -p "$OUT"
STEP="${STEP:-1}"; LIMIT="${LIMIT:-0}"; JOBS="${JOBS:-$(nproc)}"
# kbuild exports VERSION/PATCHLEVEL to objtool: the generation policy reads them.
set -a
# shellcheck disable=SC1091
[ -f "$KBUILD/objtool.env" ] && source "$KBUILD/objtool.env"
set +a

# The objects (path, then the arguments), every STEP-th, the first LIMIT of those.
mapfile -t lines < <(awk -v s="$STEP" 'NR % s == 0 && $1 != "-"' "$KBUILD/manifest" | sort -u -k1,1)
[ "$LIMIT" -gt 0 ] && lines=("${lines[@]:0:$LIMIT}")

# Which recorded arguments orctool takes: each is tried once on an object it can read.
probe="$KBUILD/objects/${lines[0]%% *}"
declare -A accepted=()
dropped=()
for a in $(printf '%s\n' "${lines[@]}" | cut -d' ' -f2- | tr ' ' '\n' | sort -u); do
  t=$(mktemp); cp "$probe" "$t"
  said=$("$BIN" "$a" --dry-run "$t" 2>&1 || true)
  if [[ "$said" == *"not supported yet"* ]]; then dropped+=("$a"); else accepted[$a]=1; fi
  rm -f "$t"
done
echo "orctool is given: ${!accepted[*]}; dropped (not done in this branch): ${dropped[*]:-none}"
export BIN OBJTOOL61 OUT
ACCEPTED="${!accepted[*]}"; export ACCEPTED

one() { # one "PATH ARGS..." -> "<w-sub> <w-full> <orc-sub> <orc-full> <code-sub> PATH"
  local line="$1" rel args=() sub=() t a
  rel="${line%% *}"; read -r -a args <<< "${line#* }"
  for a in "${args[@]}"; do [[ " $ACCEPTED " == *" $a "* ]] && sub+=("$a"); done
  t=$(mktemp -d)
  for c in full subset orctool plain; do cp "$KBUILD/objects/$rel" "$t/$c.o"; done
  "$OBJTOOL61" "${args[@]}" "$t/full.o" > /dev/null 2> "$t/full.w" || true
  "$OBJTOOL61" "${sub[@]}" "$t/subset.o" > /dev/null 2> "$t/subset.w" || true
  "$BIN" "${sub[@]}" "$t/orctool.o" > /dev/null 2> "$t/orctool.w" || true
  # Whether --uaccess matters here: objtool 6.1's ORC without it.
  local plain=()
  for a in "${sub[@]}"; do [ "$a" != --uaccess ] && plain+=("$a"); done
  "$OBJTOOL61" "${plain[@]}" "$t/plain.o" > /dev/null 2>&1 || true
  "$OBJTOOL61" --dump=orc "$t/plain.o" > "$t/plain.orc" 2>&1 || true
  for c in full subset orctool; do
    sed -i "s|$t/$c.o|X|g" "$t/$c.w"
    "$OBJTOOL61" --dump=orc "$t/$c.o" > "$t/$c.orc" 2>&1 || true
    python3 scripts/section-digests.py "$t/$c.o" > "$t/$c.code"
  done
  local r=()
  cmp -s "$t/subset.w" "$t/orctool.w" && r+=(w-sub-ok) || r+=(w-sub-diff)
  cmp -s "$t/full.w" "$t/orctool.w" && r+=(w-full-ok) || r+=(w-full-diff)
  cmp -s "$t/subset.orc" "$t/orctool.orc" && r+=(orc-sub-ok) || r+=(orc-sub-diff)
  cmp -s "$t/full.orc" "$t/orctool.orc" && r+=(orc-full-ok) || r+=(orc-full-diff)
  cmp -s "$t/subset.code" "$t/orctool.code" && r+=(code-sub-ok) || r+=(code-sub-diff)
  cmp -s "$t/subset.orc" "$t/plain.orc" && r+=(uaccess-same-orc) || r+=(uaccess-changes-orc)
  r+=("smap=$(python3 scripts/section-digests.py --smap "$KBUILD/objects/$rel")")
  echo "${r[*]} $rel"
  if [[ " ${r[*]} " == *-diff* ]]; then
    {
      echo "=== $rel (${r[*]})"
      diff "$t/subset.w" "$t/orctool.w" | sed 's/^/warnings subset|orctool: /' || true
      diff "$t/full.w" "$t/orctool.w" | sed 's/^/warnings full|orctool: /' || true
      diff "$t/subset.orc" "$t/orctool.orc" | head -20 | sed 's/^/orc subset|orctool: /' || true
      diff "$t/full.orc" "$t/orctool.orc" | head -20 | sed 's/^/orc full|orctool: /' || true
      diff "$t/subset.code" "$t/orctool.code" | sed 's/^/code subset|orctool: /' || true
    } > "$OUT/mismatch.$(echo "$rel" | tr / _)"
  fi
  # Every warning line, by kind, for the totals.
  grep -hE 'UACCESS|DF set|STD|CLD|PUSHF' "$t/orctool.w" | sed "s|^|$rel: |" >> "$OUT/uaccess-lines.txt" || true
  rm -rf "$t"
}
export -f one; export KBUILD

rm -f "$OUT"/mismatch.* "$OUT/uaccess-lines.txt"; : > "$OUT/uaccess-lines.txt"
printf '%s\0' "${lines[@]}" | xargs -0 -n 1 -P "$JOBS" bash -c 'one "$0"' > "$OUT/uaccess-results.txt"
cat "$OUT"/mismatch.* > "$OUT/uaccess-mismatches.txt" 2>/dev/null || : > "$OUT/uaccess-mismatches.txt"
rm -f "$OUT"/mismatch.*
total=$(wc -l < "$OUT/uaccess-results.txt")
count() { grep -c -- " $1 \|^$1 " "$OUT/uaccess-results.txt" || true; }
echo "objects: $total (every ${STEP}th recorded object of $KBUILD)"
echo "against objtool 6.1 with the same arguments: warnings $(count w-sub-ok)/$total, ORC $(count orc-sub-ok)/$total, code and relocation sections $(count code-sub-ok)/$total"
echo "against objtool 6.1 with the recorded arguments: warnings $(count w-full-ok)/$total, ORC $(count orc-full-ok)/$total"
smap_objects=$(grep -vc ' smap=0 ' "$OUT/uaccess-results.txt" || true)
smap_sites=$(grep -o 'smap=[0-9]*' "$OUT/uaccess-results.txt" | cut -d= -f2 | paste -sd+ | bc)
echo "objects with X86_FEATURE_SMAP alternatives (followed with --uaccess): $smap_objects, $smap_sites sites; objtool 6.1's ORC differs with and without --uaccess in $(count uaccess-changes-orc)"
echo "UACCESS/DF warning lines orctool gave: $(wc -l < "$OUT/uaccess-lines.txt")"
echo "results: $OUT/uaccess-results.txt; mismatches: $OUT/uaccess-mismatches.txt"
