#!/usr/bin/env bash
# Exception-table and paravirt figures (seeds 001, 002, 004) over the corpus,
# from the tool itself: 6.1 / 6.12 / arm64 6.1 cloud modules and the 6.1 vmlinux.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/corpus.sh --dbg --arm64 2>/dev/null
CACHE="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
# shellcheck disable=SC1091
source "$CACHE/corpus.env"
swift build -c release --product orctool >&2
BIN="$(swift build -c release --show-bin-path)/orctool"
mods() { find "$1" -name '*.ko' | sort; }
for set in "6.1 modules:$MODULES61" "6.12 modules:$MODULES612" "arm64 6.1 modules:$MODULES61ARM64" "6.1 vmlinux:$VMLINUX61"; do
  label=${set%%:*}; path=${set#*:}
  if [ -d "$path" ]; then mapfile -t files < <(mods "$path"); else files=("$path"); fi
  echo "== extable: $label (${#files[@]} files)"
  "$BIN" extable --summary "${files[@]}" | sed 's/^/  /'
done
for set in "6.1 modules:$MODULES61" "6.1 vmlinux:$VMLINUX61"; do
  label=${set%%:*}; path=${set#*:}
  if [ -d "$path" ]; then mapfile -t files < <(mods "$path"); else files=("$path"); fi
  echo "== paravirt: $label (${#files[@]} files; slot names from the vmlinux .BTF)"
  "$BIN" paravirt --summary --btf "$VMLINUX61" "${files[@]}" | sed 's/^/  /'
done
