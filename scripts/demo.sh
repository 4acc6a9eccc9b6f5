#!/usr/bin/env bash
# `make demo`: assemble the bundled example and show what orctool reads in it.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=.build/demo; mkdir -p "$OUT"
as -I Fixtures -o "$OUT/demo.o" Examples/demo.S
BIN="$(swift build --show-bin-path)/orctool"
echo "== orctool elf info $OUT/demo.o"
"$BIN" elf info "$OUT/demo.o"
echo
echo "== .altinstructions (objdump -dr)"
objdump -d -j .text -j .altinstr_replacement "$OUT/demo.o" | sed -n '/Disassembly/,$p'
echo
echo "== orctool --dump=orc $OUT/demo.o   (objtool 6.1's text)"
"$BIN" --dump=orc "$OUT/demo.o"
