#!/usr/bin/env bash
# Real per-object objtool inputs without a kernel build: linux-source-6.1 with
# the Debian cloud image's config (as scripts/kbuild.sh configures it, through
# scripts/kernel-source.sh), `make prepare`, then only the objects listed in
# scripts/kernel-objects.list, each compiled alone by kbuild
# (`make ARCH=x86 CC=gcc-12 objtool=WRAPPER path/to/file.o`: kbuild's own flags,
# objtool's own command line, `--module` for an object of a module) with the
# recording wrapper (scripts/kbuild-objtool-wrapper.sh) in objtool's place.
# Tests/ValidationTests/KernelObjectsTests.swift (`make test`) runs objtool 6.1
# and orctool on what it keeps. A full build is `make kbuild`, not this.
#
# Usage: scripts/kernel-objects.sh [-j N] [--report]
#   -j N       parallel jobs for make (default: the number of CPUs)
#   --report   only print the report of a finished record
# Environment: ORCTOOL_KERNEL_OBJECTS (cache root), ORCTOOL_CORPUS (as scripts/corpus.sh).
#
# Stages, each skipped when already done; a rerun with the same list, config,
# wrapper and objtool only prints the report (about a second):
#   1. the real objtool and the image's config: scripts/corpus.sh's cache
#   2. linux-source-6.1 of the config's upstream version (apt-get download)
#   3. .config (kernel-source.sh: debug info off), make olddefconfig
#   4. make prepare (it builds the kernel's own tools/objtool as well)
#   5. make -k the listed objects not recorded yet, in one make run
#   6. each listed object checked: recorded, objtool's output kept; the report
#
# Cache (outside the repository), $ORCTOOL_KERNEL_OBJECTS/6.1, by default
# ${XDG_CACHE_HOME:-~/.cache}/orctool/kernel-objects/6.1:
#   src/                 the prepared kernel tree (1.6 GB; deleting it only costs
#                        the next change of the list a fresh download and prepare)
#   objects/<path>       each objtool input as it was before objtool ran, with
#                        <path>.args (objtool's arguments, one a line, the object last),
#                        <path>.stderr (its warnings), <path>.status (its exit status)
#                        and <path>.out (the object as objtool 6.1 left it)
#   manifest, objtool.env  the wrapper's (one line per invocation; kbuild's variables)
#   objects.list         the list the record was made from (comments dropped)
#   times                wall seconds per stage;  build.log  make's output
#   report.txt           the figures
set -euo pipefail

SERIES=6.1
JOBS=$(nproc)
REPORT_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    -j) JOBS="${2:?-j needs a number}"; shift 2 ;;
    -j*) JOBS="${1#-j}"; shift ;;
    --report) REPORT_ONLY=1; shift ;;
    *) echo "usage: $0 [-j N] [--report]" >&2; exit 2 ;;
  esac
done

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${ORCTOOL_KERNEL_OBJECTS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/kernel-objects}"
CACHE="$ROOT/$SERIES"
SRC="$CACHE/src"
CORPUS="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
KBUILD="${ORCTOOL_KBUILD:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/kbuild}/$SERIES"
log() { echo "kernel-objects: $*" >&2; }
mkdir -p "$CACHE"

mapfile -t OBJECTS < <(sed 's/#.*//; s/[[:space:]]*$//; /^$/d' "$HERE/kernel-objects.list")
[ ${#OBJECTS[@]} -gt 0 ] || { log "no objects in $HERE/kernel-objects.list"; exit 1; }

report() {
  local o n=0 modules=0 warned=0 failed=0 same=0 other=0 size=0
  [ -f "$CACHE/.stamp-objects" ] || { log "no finished record in $CACHE yet"; return 1; }
  for o in "${OBJECTS[@]}"; do
    n=$((n + 1))
    if grep -qx -- --module "$CACHE/objects/$o.args"; then modules=$((modules + 1)); fi
    if [ -s "$CACHE/objects/$o.stderr" ]; then warned=$((warned + 1)); fi
    if [ "$(cat "$CACHE/objects/$o.status")" != 0 ]; then failed=$((failed + 1)); fi
    size=$((size + $(stat -c %s "$CACHE/objects/$o")))
    # The same object in the full recorded build (scripts/kbuild.sh), when there is one.
    if [ -f "$KBUILD/objects/$o" ]; then
      if cmp -s "$KBUILD/objects/$o" "$CACHE/objects/$o"; then same=$((same + 1)); else other=$((other + 1)); fi
    fi
  done
  {
    echo "kernel:     $(cat "$CACHE/source-version") (linux-source-$SERIES), config $(cat "$CACHE/config-name")"
    echo "objects:    $n in $CACHE/objects ($((size / 1024)) KiB of inputs), $modules of them with --module"
    echo "  with warnings (non-empty stderr): $warned"
    echo "  with a non-zero exit status:      $failed"
    if [ $((same + other)) -gt 0 ]; then
      echo "  byte-identical to the full build's input ($KBUILD): $same / $((same + other)) recorded there"
    fi
    echo "  argument lists:"
    for o in "${OBJECTS[@]}"; do sed '$d' "$CACHE/objects/$o.args" | paste -sd' '; done | sort | uniq -c | sed 's/^/    /'
    echo "wall seconds per stage (last run of each):"
    sed 's/^/    /' "$CACHE/times"
  } | tee "$CACHE/report.txt"
}

# Stage times: one line per stage, the newest run replacing an older one.
stage_time() { # NAME START
  { grep -v "^$1 " "$CACHE/times" 2>/dev/null || true; echo "$1 $(($(date +%s) - $2))"; } > "$CACHE/times.new"
  mv "$CACHE/times.new" "$CACHE/times"
}

if [ "$REPORT_ONLY" = 1 ]; then report; exit; fi

exec 8> "$CACHE/.lock"
flock -n 8 || { log "another scripts/kernel-objects.sh is running on $CACHE"; exit 1; }

# shellcheck source=scripts/kernel-source.sh
source "$HERE/kernel-source.sh"

# 1. The real objtool and the image's config.
ks_corpus "$CORPUS"
CONFIG_STAMP=$(ks_config_stamp)
WRAPPER="$CACHE/objtool-wrapper"
# What the record depends on; the same again means nothing to do.
RECORD_STAMP=$(printf '%s\n' "$CONFIG_STAMP" "$OBJTOOL61" "$(sha256sum < "$HERE/kbuild-objtool-wrapper.sh")" "${OBJECTS[@]}")
if [ "$(cat "$CACHE/.stamp-objects" 2>/dev/null)" = "$RECORD_STAMP" ]; then report; exit; fi

ks_install_deps
log "config $CONFIG (Linux $UPSTREAM), objtool $OBJTOOL61"

# 2. The kernel source. A new tree starts a new record.
if [ ! -f "$CACHE/.stamp-source" ] || [ ! -d "$SRC" ]; then
  VER=$(ks_source_version)
  rm -rf "$SRC" "$CACHE/objects" "$CACHE/manifest" "$CACHE/objtool.env" "$CACHE"/.stamp-*
  start=$(date +%s)
  ks_fetch_source "$VER" "$SRC" "$CACHE/debs"
  stage_time source "$start"
  echo "$VER" > "$CACHE/source-version"
  touch "$CACHE/.stamp-source"
fi

# make's variables, the same for every make run: the wrapper lives in the cache
# so that its path, which kbuild records in each .o.cmd, does not depend on the
# checkout running this script.
MAKEVARS=(ARCH=x86 CC=gcc-12 "objtool=$WRAPPER")
if ! cmp -s "$HERE/kbuild-objtool-wrapper.sh" "$WRAPPER"; then
  install -m 755 "$HERE/kbuild-objtool-wrapper.sh" "$WRAPPER"
fi
echo "$OBJTOOL61" > "$CACHE/real-objtool"

# 3. The configuration; a new one is a new record.
if [ "$(cat "$CACHE/.stamp-config" 2>/dev/null)" != "$CONFIG_STAMP" ] || [ ! -f "$SRC/.config" ]; then
  if [ -d "$CACHE/objects" ]; then
    log "configuration changed: make clean, a new record"
    make -C "$SRC" "${MAKEVARS[@]}" clean >&2
    rm -rf "$CACHE/objects" "$CACHE/manifest" "$CACHE/objtool.env" "$CACHE/.stamp-prepare"
  fi
  start=$(date +%s)
  ks_configure "$SRC" "${MAKEVARS[@]}"
  stage_time configure "$start"
  basename "$CONFIG" > "$CACHE/config-name"
  echo "$CONFIG_STAMP" > "$CACHE/.stamp-config"
fi

run_make() { # TARGET...
  local status=0
  echo "=== $(date -u +%FT%TZ) make -j$JOBS ${MAKEVARS[*]} $*" >> "$CACHE/build.log"
  make -C "$SRC" -j"$JOBS" "${MAKEVARS[@]}" "$@" >> "$CACHE/build.log" 2>&1 || status=$?
  echo "=== exit $status" >> "$CACHE/build.log"
  return "$status"
}

# 4. make prepare.
if [ ! -f "$CACHE/.stamp-prepare" ]; then
  log "make -j$JOBS prepare (log: $CACHE/build.log)"
  start=$(date +%s)
  run_make prepare || { log "make prepare failed; the end of $CACHE/build.log:"; tail -n 20 "$CACHE/build.log" >&2; exit 1; }
  stage_time prepare "$start"
  touch "$CACHE/.stamp-prepare"
fi

# A new objtool 6.1 (a newer linux-kbuild-6.1 in the corpus) or wrapper: record every object again.
TOOLS_STAMP=$(printf '%s\n' "$OBJTOOL61" "$(sha256sum < "$HERE/kbuild-objtool-wrapper.sh")")
if [ -d "$CACHE/objects" ] && [ "$(cat "$CACHE/.stamp-tools" 2>/dev/null)" != "$TOOLS_STAMP" ]; then
  log "objtool or the wrapper changed: a new record"
  rm -rf "$CACHE/objects" "$CACHE/manifest" "$CACHE/objtool.env"
fi
echo "$TOOLS_STAMP" > "$CACHE/.stamp-tools"

# 5. The objects not recorded yet (a record is complete with its .status), in
# one make run: -k, so that one failure does not hide the others.
todo=()
for o in "${OBJECTS[@]}"; do
  [ -f "$CACHE/objects/$o.status" ] || todo+=("$o")
done
mkdir -p "$CACHE/objects"; touch "$CACHE/manifest"
if [ ${#todo[@]} -gt 0 ]; then
  # An object kbuild considers up to date would not run objtool again.
  for o in "${todo[@]}"; do rm -f "$SRC/$o"; done
  log "make -j$JOBS -k ${#todo[@]} objects (log: $CACHE/build.log)"
  start=$(date +%s)
  run_make -k "${todo[@]}" || log "make failed for some objects (see below)"
  stage_time objects "$start"
fi

# 6. Every listed object recorded, objtool 6.1's output kept beside its input.
missing=()
for o in "${OBJECTS[@]}"; do
  if [ ! -f "$CACHE/objects/$o.status" ] || [ ! -f "$SRC/$o" ]; then missing+=("$o"); continue; fi
  cp -f "$SRC/$o" "$CACHE/objects/$o.out"
done
if [ ${#missing[@]} -gt 0 ]; then
  grep -E ' error|Error ' "$CACHE/build.log" | tail -n 20 >&2 || true
  log "not compiled, or objtool did not run on it (not an objtool object?): ${missing[*]}"
  exit 1
fi
printf '%s\n' "${OBJECTS[@]}" > "$CACHE/objects.list"
echo "$RECORD_STAMP" > "$CACHE/.stamp-objects"
report
