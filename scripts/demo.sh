#!/usr/bin/env bash
# `make demo`: assemble the bundled example and show what orctool reads in it.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=.build/demo; mkdir -p "$OUT"
as -I Fixtures -o "$OUT/demo.o" Examples/demo.S
BIN="$(swift build --show-bin-path)/orctool"
echo "== orctool --orc --module --link $OUT/demo.o   (objtool's command line: validate, generate, write)"
"$BIN" --orc --module --link "$OUT/demo.o" && echo "(no warnings)"
echo
echo "== orctool alternatives $OUT/demo.o   (the streams side by side, CFI per byte offset)"
"$BIN" alternatives "$OUT/demo.o"
echo
echo "== orctool --dump=orc $OUT/demo.o   (objtool 6.1's text)"
"$BIN" --dump=orc "$OUT/demo.o"
echo
echo "== orctool elf info $OUT/demo.o"
"$BIN" elf info "$OUT/demo.o" | head -3
