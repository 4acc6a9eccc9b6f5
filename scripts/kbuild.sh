#!/usr/bin/env bash
# Build the Debian 6.1 cloud kernel's vmlinux from Debian's own kernel source
# with a recording wrapper (scripts/kbuild-objtool-wrapper.sh) in objtool's
# place: the result is every per-object objtool input of a real kernel build
# (copied before objtool modified it), the exact command lines, objtool's
# warnings and exit statuses, and the linked vmlinux.o. See
# ../shared/docs/oracles.md, "The kernel build itself".
#
# Usage: scripts/kbuild.sh [-j N] [--report]
#   -j N       parallel jobs for make (default: the number of CPUs)
#   --report   only print the report of a finished build
# Environment: ORCTOOL_KBUILD (cache root), ORCTOOL_CORPUS (as scripts/corpus.sh).
#
# Stages, each skipped when already done (the script is re-runnable; a failed
# or interrupted build resumes where make stopped):
#   1. the real objtool and the cloud image's config: scripts/corpus.sh
#   2. linux-source-6.1 of the same upstream version as that config
#      (apt-get download, dpkg-deb -x, tar -x)
#   3. .config: the image's config with debug info off (scripts/config),
#      make olddefconfig; module signing stays on (see below)
#   4. make vmlinux objtool=<wrapper> (33 minutes measured on 2 cores, one busy)
#   5. vmlinux.o copied to the cache; the report (also in report.txt)
#
# Cache (outside the repository), $ORCTOOL_KBUILD/6.1, by default
# ${XDG_CACHE_HOME:-~/.cache}/orctool/kbuild/6.1:
#   src/            the kernel tree (built in place)
#   objects/<path>  each objtool input as it was before objtool ran, with
#                   <path>.args, <path>.stderr, <path>.status
#   manifest        one line per invocation: object path, then the arguments
#   objtool.env     the variables kbuild exported to objtool
#   build.log       make's output; build-times: wall seconds per make run
#   vmlinux.o       the linked object;  report.txt  the figures
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
ROOT="${ORCTOOL_KBUILD:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/kbuild}"
CACHE="$ROOT/$SERIES"
SRC="$CACHE/src"
CORPUS="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
log() { echo "kbuild: $*" >&2; }
mkdir -p "$CACHE"

report() {
  local out="$CACHE/vmlinux.o" size secs lines n warned failed
  [ -f "$out" ] || { log "no $out yet: the build has not finished"; return 1; }
  size=$(stat -c %s "$out")
  lines=$(readelf -S -W "$out" | wc -l)
  secs=$(readelf -h "$out" | awk -F: '/Number of section headers/ {gsub(/ /, "", $2); print $2}')
  n=$(wc -l < "$CACHE/manifest")
  warned=$(find "$CACHE/objects" -name '*.stderr' -size +0 | wc -l)
  failed=$(find "$CACHE/objects" -name '*.status' -exec cat {} + | grep -cvx 0 || true)
  {
    echo "kernel:      $(make -s -C "$SRC" kernelversion 2>/dev/null) (linux-source-$SERIES $(cat "$CACHE/source-version" 2>/dev/null))"
    echo "vmlinux.o:   $out"
    echo "  size:      $size bytes ($((size / 1048576)) MiB)"
    echo "  sections:  $secs section headers (readelf -S -W | wc -l: $lines lines)"
    echo "objects:     $CACHE/objects"
    echo "manifest:    $CACHE/manifest"
    echo "invocations: $n"
    echo "  with warnings (non-empty stderr): $warned"
    echo "  with a non-zero exit status:      $failed"
    echo "  distinct argument lists:"
    cut -d' ' -f2- "$CACHE/manifest" | sort | uniq -c | sort -rn | sed 's/^/    /'
    echo "build wall time (seconds, per make run): $(tr '\n' ' ' < "$CACHE/build-times" 2>/dev/null)"
  } | tee "$CACHE/report.txt"
}

if [ "$REPORT_ONLY" = 1 ]; then report; exit; fi

# shellcheck source=scripts/kernel-source.sh
source "$HERE/kernel-source.sh"
ks_install_deps

# 1. The real objtool and the image's config, from the corpus cache.
ks_corpus "$CORPUS"
log "config $CONFIG (Linux $UPSTREAM), objtool $OBJTOOL61"

# 2. The kernel source of the same upstream version.
if [ ! -f "$CACHE/.stamp-source" ]; then
  VER=$(ks_source_version)
  # A fresh tree starts a fresh record (a resumed build appends to it).
  rm -rf "$SRC" "$CACHE/objects" "$CACHE/manifest" "$CACHE/objtool.env" "$CACHE/build-times" \
    "$CACHE/build.log" "$CACHE/vmlinux.o" "$CACHE"/.stamp-*
  ks_fetch_source "$VER" "$SRC" "$ROOT/debs"
  echo "$VER" > "$CACHE/source-version"
  touch "$CACHE/.stamp-source"
fi

# make's variables, the same for every make run (a change re-runs kconfig or
# rebuilds): Debian's compiler, and the wrapper in objtool's place. The wrapper
# lives in the cache so that its path, which kbuild records in each .o.cmd,
# does not depend on the checkout running this script.
WRAPPER="$CACHE/objtool-wrapper"
MAKEVARS=(ARCH=x86 CC=gcc-12 "objtool=$WRAPPER")

# 3. The configuration (kernel-source.sh: debug info off, module signing as Debian has it).
STAMP=$(ks_config_stamp)
if [ "$(cat "$CACHE/.stamp-config" 2>/dev/null)" != "$STAMP" ] || [ ! -f "$SRC/.config" ]; then
  if [ -s "$CACHE/manifest" ]; then
    # A new configuration rebuilds everything: start the record afresh.
    log "configuration changed: make clean, a new record"
    make -C "$SRC" "${MAKEVARS[@]}" clean >&2
    rm -rf "$CACHE/objects" "$CACHE/manifest" "$CACHE/objtool.env" "$CACHE/build-times" \
      "$CACHE/build.log" "$CACHE/vmlinux.o" "$CACHE/.stamp-build"
  fi
  ks_configure "$SRC" "${MAKEVARS[@]}"
  echo "$STAMP" > "$CACHE/.stamp-config"
fi

# 4. The build.
if ! cmp -s "$HERE/kbuild-objtool-wrapper.sh" "$WRAPPER"; then
  install -m 755 "$HERE/kbuild-objtool-wrapper.sh" "$WRAPPER"
fi
echo "$OBJTOOL61" > "$CACHE/real-objtool"
if [ ! -f "$CACHE/.stamp-build" ]; then
  mkdir -p "$CACHE/objects"; touch "$CACHE/manifest"
  log "make -j$JOBS vmlinux (log: $CACHE/build.log)"
  echo "=== $(date -u +%FT%TZ) make -j$JOBS ${MAKEVARS[*]} vmlinux" >> "$CACHE/build.log"
  start=$(date +%s)
  status=0
  make -C "$SRC" -j"$JOBS" "${MAKEVARS[@]}" vmlinux >> "$CACHE/build.log" 2>&1 || status=$?
  end=$(date +%s)
  echo "$((end - start))" >> "$CACHE/build-times"
  echo "=== exit $status after $((end - start)) s" >> "$CACHE/build.log"
  if [ "$status" != 0 ]; then
    log "make failed ($status) after $((end - start)) s; the end of $CACHE/build.log:"
    grep -E 'error|Error' "$CACHE/build.log" | tail -n 20 >&2 || true
    tail -n 20 "$CACHE/build.log" >&2
    exit "$status"
  fi
  touch "$CACHE/.stamp-build"
fi

# 5. vmlinux.o and the report.
cp -f "$SRC/vmlinux.o" "$CACHE/vmlinux.o"
report
