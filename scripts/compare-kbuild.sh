#!/usr/bin/env bash
# Compare orctool with objtool 6.1 object by object on a recorded kernel build
# (scripts/kbuild.sh's objtool wrapper keeps each object as it was before objtool
# ran, and objtool's arguments, in $KBUILD/manifest and $KBUILD/objects/).
#
# For each manifest line (object, then objtool's arguments) the recorded input is
# copied twice; the real objtool 6.1 runs on one copy with the recorded arguments,
# .build/release/orctool on the other with the same arguments, and the results are
# compared section by section:
#   static_call   .static_call_sites bytes (readelf -x) and relocations (readelf -r -W)
#   retpoline     .retpoline_sites bytes and relocations
#   return        .return_sites bytes and relocations
#   code          every executable section's bytes (the --hacks rewrites) and its relocations
#   orc           objtool 6.1's --dump=orc of each copy
#   orc_bytes     .orc_unwind and .orc_unwind_ip bytes, and their relocations
#   symtab        the symbol tables (readelf -s -W: section symbols objtool makes, globals it moves)
#   warnings      stderr, the object's path normalised
#   status        the exit status
# Prints, per section, how many objects are identical (absent from both counts as
# identical); each object that differs anywhere is listed with the sections that
# differ in $OUT/mismatches.txt, and every result in $OUT/results.txt.
#
# With BUILT=DIR (the OrcTool build, `scripts/kbuild.sh --orctool`: DIR is
# ~/.cache/orctool/kbuild/6.1-orctool), no tool runs: the objects as the two
# builds left them are compared, $KBUILD/src/OBJ (objtool 6.1 wrote into it)
# against DIR/src/OBJ (orctool did), for every object of the manifest, with the
# same sections but warnings and status (a missing object: missing=diff). Then
# vmlinux.o and vmlinux as wholes: .orc_unwind, .orc_unwind_ip (and its
# relocations in vmlinux.o), .retpoline_sites, .return_sites,
# .static_call_sites, .text, each section's bytes (objcopy -O binary) compared;
# vmlinux's sorted ORC table as address -> entry and its .text bytes, the
# addresses that differ named by function (DIR/orctool addr2func); and
# `orctool verify-variants` on each vmlinux.o (is the table right for every
# variant of every alternative site?).
#
# Environment:
#   KBUILD            the recorded build (default ~/.cache/orctool/kbuild/6.1)
#   OUT               where results go (default: a new temporary directory)
#   LIMIT             compare only LIMIT objects, spread evenly over the manifest
#   FILTER            compare only objects whose path matches this extended regex
#   JOBS              objects compared at once (default 1: the machine is shared)
#   ORCTOOL_SKIP_FLAGS  objtool flags dropped from orctool's arguments only (flags
#                     orctool does not do yet, e.g. "--uaccess --hacks=noinstr"); by
#                     default orctool gets the full recorded line
#   NO_BUILD=1        use .build/release/orctool as it is
#   ORCTOOL           another orctool binary (implies NO_BUILD)
#   BUILT             the other build's cache directory (see above; implies NO_BUILD)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
KBUILD="${KBUILD:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/kbuild/6.1}"
CACHE="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
# shellcheck disable=SC1091
source "$CACHE/corpus.env"
[ -f "$KBUILD/manifest" ] || { echo "compare-kbuild: no $KBUILD/manifest (run scripts/kbuild.sh)" >&2; exit 1; }
# What kbuild exports to objtool (VERSION, PATCHLEVEL, …): orctool's generation policy reads it.
if [ -f "$KBUILD/objtool.env" ]; then
  set -a
  # shellcheck disable=SC1091
  source "$KBUILD/objtool.env"
  set +a
fi
BUILT="${BUILT:-}"
if [ -n "$BUILT" ]; then
  [ -d "$BUILT/src" ] || { echo "compare-kbuild: no $BUILT/src (run scripts/kbuild.sh --orctool)" >&2; exit 1; }
  [ -f "$BUILT/.stamp-build" ] || { echo "compare-kbuild: the build in $BUILT has not finished" >&2; exit 1; }
  NO_BUILD=1
fi
if [ -z "${ORCTOOL:-}" ] && [ "${NO_BUILD:-0}" != 1 ]; then swift build -c release --product orctool >&2; fi
BIN="${ORCTOOL:-$ROOT/.build/release/orctool}"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
LIMIT="${LIMIT:-0}"
JOBS="${JOBS:-1}"
SKIP="${ORCTOOL_SKIP_FLAGS:-}"
if [ -n "$BUILT" ]; then
  SECTIONS="missing static_call retpoline return code orc orc_bytes symtab"
else
  SECTIONS="static_call retpoline return code orc orc_bytes symtab warnings status"
fi

# one LINE -> one result line: OBJECT then SECTION=same|diff for each section.
one() {
  local line="$1" obj args ours=() a t
  read -r -a args <<< "$line"
  obj="${args[0]}"
  args=("${args[@]:1}")
  for a in "${args[@]}"; do
    case " $SKIP " in *" $a "*) ;; *) ours+=("$a") ;; esac
  done
  t=$(mktemp -d)
  local so=0 sm=0 result="$obj"
  if [ -n "$BUILT" ]; then
    # The two builds' own objects (o: objtool 6.1's build, m: orctool's).
    if [ ! -f "$KBUILD/src/$obj" ] || [ ! -f "$BUILT/src/$obj" ]; then
      rm -rf "$t"; echo "$obj missing=diff"; return
    fi
    cp "$KBUILD/src/$obj" "$t/o.o"
    cp "$BUILT/src/$obj" "$t/m.o"
    result+=" missing=same"
  else
    cp "$KBUILD/objects/$obj" "$t/o.o"
    cp "$KBUILD/objects/$obj" "$t/m.o"
    (cd "$t" && "$OBJTOOL61" "${args[@]}" o.o > /dev/null 2> ow) || so=$?
    (cd "$t" && "$BIN" "${ours[@]}" m.o > /dev/null 2> mw) || sm=$?
    sed -i 's|o\.o: |OBJ: |' "$t/ow"
    sed -i 's|m\.o: |OBJ: |' "$t/mw"
  fi
  same() { if cmp -s "$t/$1.o.txt" "$t/$1.m.txt"; then echo same; else echo diff; fi; }
  # Bytes and relocations of one section (its relocation header without the file offset).
  dumpsec() { # FILE SECTION
    readelf -x "$2" "$1" 2>&1 | sed "s|$1|FILE|g"
    readelf -r -W "$1" 2>/dev/null | awk -v s="'.rela$2'" '
      /^Relocation section/ { on = ($3 == s); if (on) { sub(/ at offset 0x[0-9a-f]+/, ""); print }; next }
      on && /^$/ { on = 0 } on { print }'
  }
  # The executable sections (flags column with X; the column is absent when a section has no flags).
  codesecs() { readelf -S -W "$1" 2>/dev/null | sed -n 's/^ *\[ *[0-9]*\] //p' | awk 'NF >= 10 && $7 ~ /X/ { print $1 }'; }
  local k
  for k in static_call retpoline return; do
    local name
    case $k in static_call) name=.static_call_sites ;; retpoline) name=.retpoline_sites ;; return) name=.return_sites ;; esac
    dumpsec "$t/o.o" "$name" > "$t/$k.o.txt"
    dumpsec "$t/m.o" "$name" > "$t/$k.m.txt"
    result+=" $k=$(same "$k")"
  done
  : > "$t/code.o.txt"; : > "$t/code.m.txt"
  local s
  for s in $(codesecs "$t/o.o"); do
    dumpsec "$t/o.o" "$s" >> "$t/code.o.txt"
    dumpsec "$t/m.o" "$s" >> "$t/code.m.txt"
  done
  result+=" code=$(same code)"
  "$OBJTOOL61" --dump=orc "$t/o.o" > "$t/orc.o.txt" 2>&1 || true
  "$OBJTOOL61" --dump=orc "$t/m.o" > "$t/orc.m.txt" 2>&1 || true
  result+=" orc=$(same orc)"
  { dumpsec "$t/o.o" .orc_unwind; dumpsec "$t/o.o" .orc_unwind_ip; } > "$t/orc_bytes.o.txt"
  { dumpsec "$t/m.o" .orc_unwind; dumpsec "$t/m.o" .orc_unwind_ip; } > "$t/orc_bytes.m.txt"
  result+=" orc_bytes=$(same orc_bytes)"
  readelf -s -W "$t/o.o" > "$t/symtab.o.txt" 2>&1 || true
  readelf -s -W "$t/m.o" > "$t/symtab.m.txt" 2>&1 || true
  result+=" symtab=$(same symtab)"
  if [ -z "$BUILT" ]; then
    cp "$t/ow" "$t/warnings.o.txt"; cp "$t/mw" "$t/warnings.m.txt"
    result+=" warnings=$(same warnings)"
    echo "$so" > "$t/status.o.txt"; echo "$sm" > "$t/status.m.txt"
    result+=" status=$(same status)"
  fi
  if [[ "$result" == *=diff* ]] && [ -n "${KEEP:-}" ]; then
    mkdir -p "$OUT/kept/$(dirname "$obj")" && cp -r "$t" "$OUT/kept/$obj.d"
  fi
  rm -rf "$t"
  echo "$result"
}
export -f one
export KBUILD OBJTOOL61 BIN SKIP OUT BUILT

mapfile -t lines < <(grep -v '^- ' "$KBUILD/manifest" | awk '!seen[$0]++')
if [ -n "${FILTER:-}" ]; then mapfile -t lines < <(printf '%s\n' "${lines[@]}" | grep -E "^(${FILTER})( |$)" || true); fi
if [ "$LIMIT" -gt 0 ] && [ "${#lines[@]}" -gt "$LIMIT" ]; then
  n=${#lines[@]}
  mapfile -t lines < <(for ((i = 0; i < LIMIT; i++)); do printf '%s\n' "${lines[$((i * n / LIMIT))]}"; done)
fi
printf '%s\0' "${lines[@]}" | xargs -0 -n 1 -P "$JOBS" bash -c 'one "$0"' > "$OUT/results.txt"

total=$(wc -l < "$OUT/results.txt")
if [ -n "$BUILT" ]; then
  echo "objects compared: $total, as built in $KBUILD/src (objtool 6.1) and $BUILT/src (orctool)"
else
  echo "objects compared: $total (orctool flags dropped: ${SKIP:-none})"
fi
for k in $SECTIONS; do
  printf '%-12s identical %d / %d\n' "$k" "$(grep -c " $k=same" "$OUT/results.txt" || true)" "$total"
done
awk '{ d = ""; for (i = 2; i <= NF; i++) if ($i ~ /=diff$/) { sub(/=diff$/, "", $i); d = d " " $i }; if (d != "") print $1 ":" d }' \
  "$OUT/results.txt" > "$OUT/mismatches.txt"
echo "all identical: $((total - $(wc -l < "$OUT/mismatches.txt"))) / $total; differences: $OUT/mismatches.txt"

# The linked kernels, section by section.
if [ -n "$BUILT" ]; then
  t=$(mktemp -d)
  for f in vmlinux.o vmlinux; do
    if [ ! -f "$KBUILD/src/$f" ] || [ ! -f "$BUILT/src/$f" ]; then echo "$f: missing in one build"; continue; fi
    readelf -S -W "$KBUILD/src/$f" | sed -n 's/^ *\[ *[0-9]*\] \([^ ]*\) .*/\1/p' > "$t/sections"
    line="$f:"
    for sec in .orc_unwind .orc_unwind_ip .rela.orc_unwind_ip .retpoline_sites .return_sites .static_call_sites .text; do
      grep -qxF -- "$sec" "$t/sections" || continue
      if [ "$sec" = .rela.orc_unwind_ip ]; then
        # Relocation entries name symbols by index: compare them as readelf prints them.
        relas() { readelf -r -W "$1" | awk -v s="'.rela.orc_unwind_ip'" '/^Relocation section/ { on = ($3 == s); next } on && NF && $1 != "Offset"'; }
        relas "$KBUILD/src/$f" > "$t/o"
        relas "$BUILT/src/$f" > "$t/m"
        unit=relocations; so=$(wc -l < "$t/o"); sm=$(wc -l < "$t/m")
      else
        objcopy -O binary --only-section="$sec" "$KBUILD/src/$f" "$t/o"
        objcopy -O binary --only-section="$sec" "$BUILT/src/$f" "$t/m"
        unit=bytes; so=$(stat -c %s "$t/o"); sm=$(stat -c %s "$t/m")
      fi
      if cmp -s "$t/o" "$t/m"; then line+=" $sec=same ($so $unit)"
      elif [ "$so" = "$sm" ]; then line+=" $sec=DIFF ($so $unit)"
      else line+=" $sec=DIFF ($so $unit, orctool's $sm)"; fi
    done
    echo "$line"
  done | tee "$OUT/linked.txt"

  # Where the linked kernels differ: vmlinux's ORC table (sorted at link time)
  # as address -> entry, and its .text bytes, named by function.
  BIN61="$BUILT/orctool"
  name() { if [ -s "$1" ]; then xargs "$BIN61" addr2func "$KBUILD/src/vmlinux" < "$1" | sed 's/^[^ ]* /    /'; fi; }
  orc_table() { # vmlinux -> one line per entry: address, the 6 bytes in hex
    python3 - "$1" <<'PY2'
import struct, subprocess, sys
path = sys.argv[1]
secs = {}
for l in subprocess.run(["readelf", "-S", "-W", path], capture_output=True, text=True, check=True).stdout.splitlines():
    p = l.replace("[ ", "[").split()
    if len(p) > 5 and p[0][1:-1].isdigit():
        secs[p[1]] = (int(p[3], 16), int(p[4], 16), int(p[5], 16))
with open(path, "rb") as f:
    (aip, oip, sip), (_, ou, su) = secs[".orc_unwind_ip"], secs[".orc_unwind"]
    f.seek(oip); ip = f.read(sip); f.seek(ou); u = f.read(su)
for i in range(sip // 4):
    print(f"{(aip + 4 * i + struct.unpack_from('<i', ip, 4 * i)[0]) % 2**64:#x} {u[6 * i:6 * i + 6].hex()}")
PY2
  }
  orc_table "$KBUILD/src/vmlinux" > "$t/orc.o"
  orc_table "$BUILT/src/vmlinux" > "$t/orc.m"
  comm -3 "$t/orc.o" "$t/orc.m" | awk '{ print $1 }' | sort -u > "$t/orc.addrs"
  echo "vmlinux ORC entries (address and entry): $(wc -l < "$t/orc.o") (objtool 6.1), $(wc -l < "$t/orc.m") (orctool)," \
    "$(comm -12 "$t/orc.o" "$t/orc.m" | wc -l) in both; the addresses of the others:" | tee -a "$OUT/linked.txt"
  name "$t/orc.addrs" | tee -a "$OUT/linked.txt"
  objcopy -O binary --only-section=.text "$KBUILD/src/vmlinux" "$t/text.o"
  objcopy -O binary --only-section=.text "$BUILT/src/vmlinux" "$t/text.m"
  text=$(readelf -S -W "$KBUILD/src/vmlinux" | awk '$2 == ".text" || $3 == ".text" { for (i = 1; i <= NF; i++) if ($i == "PROGBITS") { print $(i + 1); exit } }')
  cmp -l "$t/text.o" "$t/text.m" | python3 -c 'import sys; [print(hex(int(sys.argv[1], 16) + int(l.split()[0]) - 1)) for l in sys.stdin]' "$text" \
    > "$t/text.addrs" || true
  echo "vmlinux .text bytes that differ: $(wc -l < "$t/text.addrs")" | tee -a "$OUT/linked.txt"
  name "$t/text.addrs" | tee -a "$OUT/linked.txt"
  # Is each build's table right for every variant of every alternative site?
  for b in "$KBUILD" "$BUILT"; do
    echo "verify-variants $b/src/vmlinux.o: $(VERSION=6 PATCHLEVEL=1 "$BIN61" verify-variants "$b/src/vmlinux.o" 2>&1 | tail -n 1)"
  done | tee -a "$OUT/linked.txt"
  rm -rf "$t"
fi
