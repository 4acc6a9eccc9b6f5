#!/usr/bin/env bash
# Compare `orctool --dump=orc` with the real objtool's `--dump=orc`, byte for
# byte, over the whole corpus: every 6.1 and 6.12 cloud module and (with
# --dbg, or when already cached) the 6.1 -dbg vmlinux. Prints match counts;
# the names of differing files go to $OUT/mismatches.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
ARGS=(); for a in "$@"; do ARGS+=("$a"); done
bash scripts/corpus.sh "${ARGS[@]}" 2>/dev/null
CACHE="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
# shellcheck disable=SC1091
source "$CACHE/corpus.env"
swift build -c release --product orctool >&2
BIN="$(swift build -c release --show-bin-path)/orctool"
OUT="${OUT:-$(mktemp -d)}"; mkdir -p "$OUT"
: > "$OUT/mismatches.txt"

compare() { # compare GEN OBJTOOL FILE: prints "ok" or "diff"
  local gen="$1" objtool="$2" f="$3" a b
  a=$(mktemp); b=$(mktemp)
  SRCARCH=x86 "$objtool" --dump=orc "$f" > "$a" 2>&1 || true
  "$BIN" --dump=orc "$f" > "$b" 2>&1 || true
  if cmp -s "$a" "$b"; then echo "ok $gen $f"; else echo "diff $gen $f"; fi
  rm -f "$a" "$b"
}
export -f compare; export BIN

for gen in 6.1 6.12; do
  if [ "$gen" = 6.1 ]; then dir=$MODULES61; tool=$OBJTOOL61; else dir=$MODULES612; tool=$OBJTOOL612; fi
  find "$dir" -name '*.ko' -print0 | sort -z |
    xargs -0 -n 1 -P "$(nproc)" bash -c 'compare "$0" "$1" "$2"' "$gen" "$tool" > "$OUT/results-$gen.txt"
  total=$(wc -l < "$OUT/results-$gen.txt")
  same=$(grep -c '^ok ' "$OUT/results-$gen.txt" || true)
  grep '^diff ' "$OUT/results-$gen.txt" >> "$OUT/mismatches.txt" || true
  echo "$gen modules: $same/$total identical to objtool $gen --dump=orc"
done

if [ -n "${VMLINUX61:-}" ] && [ -f "$VMLINUX61" ]; then
  r=$(compare 6.1 "$OBJTOOL61" "$VMLINUX61")
  case "$r" in ok*) n=1 ;; *) n=0; echo "$r" >> "$OUT/mismatches.txt" ;; esac
  echo "6.1 vmlinux: $n/1 identical ($(basename "$VMLINUX61"), $("$BIN" --dump=orc "$VMLINUX61" | wc -l) entries)"
fi
echo "mismatches: $OUT/mismatches.txt ($(wc -l < "$OUT/mismatches.txt"))"
