#!/usr/bin/env bash
# verify-variants over the whole corpus (issue 15): every 6.1 and 6.12 cloud module,
# the ORC objtool wrote into it (--orc file) and the ORC OrcTool generates for it
# (--orc generated); then the 6.1 -dbg vmlinux (its ORC) and, when `make kbuild` has made
# it, the 6.1 build's vmlinux.o (objtool's ORC and OrcTool's). Prints one line of totals
# per corpus and table; every mismatch goes to $OUT/mismatches-*.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/corpus.sh --dbg --dbg612 >/dev/null 2>&1 || bash scripts/corpus.sh >/dev/null
CACHE="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
# shellcheck disable=SC1091
source "$CACHE/corpus.env"
swift build -c release --product orctool >&2
BIN="$(swift build -c release --show-bin-path)/orctool"
OUT="${OUT:-$(mktemp -d)}"; mkdir -p "$OUT"
JOBS="${JOBS:-2}"
REPORTS="$OUT/reports"
VMLINUX_O="${VMLINUX_O:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/kbuild/6.1/vmlinux.o}"

# totals NAME: reads verify-variants JSON reports (one per line) on stdin.
totals() {
  python3 -c '
import json, sys
name, out = sys.argv[1], sys.argv[2]
keys = ["sites", "staticKeySites", "paravirtSites", "variants", "boundaries", "unreached", "neverApplied"]
t = dict.fromkeys(keys, 0); files = 0; failed = 0; uncovered = {}; mism = []; undefined = 0
for line in sys.stdin:
    line = line.strip()
    if not line: continue
    path, _, js = line.partition("\t")
    try: r = json.loads(js)
    except ValueError:
        failed += 1; mism.append(path + ": no report: " + js[:200]); continue
    files += 1
    for k in keys: t[k] += r.get(k, 0)
    for s, n in r.get("uncovered", {}).items(): uncovered[s] = uncovered.get(s, 0) + n
    for m in r["mismatches"]:
        undefined += m.get("tableUndefined", False)
        mism.append("%s: %s: %s, offset 0x%x (%s): the code needs %s, the table gives %s" % (
            path, m["site"], m["variant"], m["offset"], m["place"], m["derived"], m["table"]))
open(out, "w").write("".join(l + "\n" for l in mism))
print("%s: %d files%s; %d alternative sites, %d static keys, %d paravirt sites; %d variants, %d boundaries; "
      "%d sites not reached, %d !ALWAYS replacements, jumps not compared %s; %d mismatches, %d of them where the table has no unwind information (%s)" % (
      name, files, " (%d without a report)" % failed if failed else "", t["sites"], t["staticKeySites"],
      t["paravirtSites"], t["variants"], t["boundaries"], t["unreached"], t["neverApplied"],
      uncovered or "{}", len([m for m in mism if ": no report: " not in m]), undefined, out))
' "$1" "$OUT/mismatches-$1.txt"
}

one() { # one TABLE FILE [ARGS...] -> "FILE<TAB>json on one line"
  local table="$1" f="$2"; shift 2
  local out err; err=$(mktemp)
  out=$("$BIN" verify-variants --orc "$table" --format json "$@" "$f" 2>"$err" | tr -d '\n') || true
  [ -n "$out" ] || out=$(tr -d '\n' < "$err")
  rm -f "$err"
  # One file per report: parallel jobs writing long lines to one pipe would interleave.
  printf '%s\t%s\n' "$f" "$out" > "$(mktemp -p "$REPORTS")"
}
export -f one; export BIN REPORTS

for gen in 6.1 6.12; do
  if [ "$gen" = 6.1 ]; then dir="$MODULES61"; else dir="$MODULES612"; fi
  for table in file generated; do
    rm -rf "$REPORTS"; mkdir -p "$REPORTS"
    find "$dir" -name '*.ko' | sort | xargs -P "$JOBS" -I{} bash -c 'one "$0" "$1"' "$table" {}
    cat "$REPORTS"/* | totals "modules-$gen-$table"
  done
done
if [ -n "${VMLINUX61:-}" ] && [ -f "$VMLINUX61" ]; then
  rm -rf "$REPORTS"; mkdir -p "$REPORTS"
  one file "$VMLINUX61"; cat "$REPORTS"/* | totals "vmlinux-6.1-dbg-file"
fi
if [ -f "$VMLINUX_O" ]; then
  for table in file generated; do
    rm -rf "$REPORTS"; mkdir -p "$REPORTS"
    one "$table" "$VMLINUX_O" --generation 6.1; cat "$REPORTS"/* | totals "vmlinux.o-6.1-$table"
  done
fi
