#!/usr/bin/env bash
# Live-patch figures (issue: seed 003) over the whole corpus, from the tool itself:
# the 6.1 and 6.12 cloud modules and the 6.1 -dbg vmlinux. Also lists every child
# whose parent differs from the one kpatch-build's name rule would take, with
# whether ours branches into the child.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/corpus.sh --dbg 2>/dev/null
CACHE="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
# shellcheck disable=SC1091
source "$CACHE/corpus.env"
swift build -c release --product orctool >&2
BIN="$(swift build -c release --show-bin-path)/orctool"
for set in "6.1 modules:$MODULES61" "6.12 modules:$MODULES612" "6.1 vmlinux:$VMLINUX61"; do
  label=${set%%:*}; path=${set#*:}
  if [ -d "$path" ]; then mapfile -t files < <(find "$path" -name '*.ko' | sort); else files=("$path"); fi
  echo "== $label (${#files[@]} files)"
  "$BIN" livepatch --summary "${files[@]}" | sed 's/^/  /' || true
  "$BIN" livepatch --format json "${files[@]}" 2>/dev/null | python3 -c '
import json, sys
reports = json.load(sys.stdin)
diff = [(r["file"], c) for r in reports for c in r["children"] if c.get("kpatchParent")]
ok = sum(1 for _, c in diff if c["branchesIn"])
print(f"  kpatch rule picks another parent: {len(diff)}; of these ours branches into the child: {ok}")
for f, c in diff[:50]:
    short = f.split("/kernel/")[-1]
    print("    %s: %s: ours symbol %s, kpatch %s" % (short, c["name"], c.get("parentSymbol", "none (no parent in its unit)"), c["kpatchParent"]))
' || true
done
