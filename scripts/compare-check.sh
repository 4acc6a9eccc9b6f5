#!/usr/bin/env bash
# Compare `orctool --orc --module --link` with objtool 6.1 on every 6.1 cloud
# module (GENERATION=6.12: objtool 6.12 on every 6.12 cloud module, with
# SRCARCH=x86 as it needs): strip the module's ORC (../shared/docs/oracles.md), let each tool
# regenerate it in its own copy, dump both copies with the real objtool's
# --dump=orc (so objtool reads what orctool wrote), and compare the dumps and
# the warning lines. Prints the match counts; differing modules go to
# $OUT/check-mismatches.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/corpus.sh 2>/dev/null
CACHE="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
# shellcheck disable=SC1091
source "$CACHE/corpus.env"
swift build -c release --product orctool >&2
BIN="$(swift build -c release --show-bin-path)/orctool"
OUT="${OUT:-$(mktemp -d)}"; mkdir -p "$OUT"
LIMIT="${LIMIT:-0}"
GENERATION="${GENERATION:-6.1}"
case "$GENERATION" in
  6.1) OBJTOOL="$OBJTOOL61" MODULES="$MODULES61" ;;
  6.12) OBJTOOL="$OBJTOOL612" MODULES="$MODULES612"; export SRCARCH=x86 ;;
  *) echo "compare-check: GENERATION must be 6.1 or 6.12" >&2; exit 1 ;;
esac

one() { # one MODULE -> "orc-ok|orc-diff warn-ok|warn-diff MODULE"
  local f="$1" t; t=$(mktemp -d)
  objcopy --remove-section=.orc_unwind --remove-section=.orc_unwind_ip --remove-section=.rela.orc_unwind_ip "$f" "$t/s.ko"
  cp "$t/s.ko" "$t/o.ko"
  "$OBJTOOL" --orc --module --link "$t/o.ko" 2> "$t/ow" >/dev/null || true
  "$OBJTOOL" --dump=orc "$t/o.ko" > "$t/od" 2>/dev/null || true
  "$BIN" --orc --module --link "$t/s.ko" > /dev/null 2> "$t/mw" || true
  "$OBJTOOL" --dump=orc "$t/s.ko" > "$t/md" 2>/dev/null || true
  sed -i "s|$t/o.ko|X|" "$t/ow"; sed -i "s|$t/s.ko|X|" "$t/mw"
  local a=orc-diff b=warn-diff
  cmp -s "$t/od" "$t/md" && a=orc-ok
  cmp -s "$t/ow" "$t/mw" && b=warn-ok
  echo "$a $b $f"
  rm -rf "$t"
}
export -f one; export BIN OBJTOOL

mapfile -t mods < <(find "$MODULES" -name '*.ko' | sort)
[ "$LIMIT" -gt 0 ] && mods=("${mods[@]:0:$LIMIT}")
printf '%s\0' "${mods[@]}" | xargs -0 -n 1 -P "$(nproc)" bash -c 'one "$0"' > "$OUT/check-results.txt"
total=$(wc -l < "$OUT/check-results.txt")
orc=$(grep -c '^orc-ok' "$OUT/check-results.txt" || true)
warn=$(grep -c ' warn-ok ' "$OUT/check-results.txt" || true)
both=$(grep -c '^orc-ok warn-ok' "$OUT/check-results.txt" || true)
grep -v '^orc-ok warn-ok' "$OUT/check-results.txt" > "$OUT/check-mismatches.txt" || true
echo "$GENERATION modules: ORC identical $orc/$total, warnings identical $warn/$total, both $both/$total"
echo "mismatches: $OUT/check-mismatches.txt"
