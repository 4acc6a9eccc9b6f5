#!/usr/bin/env bash
# Build the Debian 6.1 cloud kernel's vmlinux from Debian's own kernel source
# with a recording wrapper (scripts/kbuild-objtool-wrapper.sh) in objtool's
# place: the result is every per-object objtool input of a real kernel build
# (copied before objtool modified it), the exact command lines, objtool's
# warnings and exit statuses, and the linked vmlinux.o. See
# ../shared/docs/oracles.md, "The kernel build itself".
#
# With --orctool, the same tree and configuration built a second time with
# OrcTool itself in objtool's place (no recording wrapper): the release binary
# users get (scripts/build-release.sh), installed in the cache so that the path
# kbuild records in each .o.cmd stays the same, is `objtool=`.
#
# Either build then goes on to bzImage and the one module a QEMU boot needs,
# qemu_fw_cfg.ko (CONFIG_FW_CFG_SYSFS=m: it hands VMCOREINFO to QEMU's
# `-device vmcoreinfo`), built alone: `make drivers/firmware/qemu_fw_cfg.ko`
# (kbuild's single-module target: modules_prepare, the object, modpost on it).
# scripts/kbuild-boot-check.sh boots both kernels.
#
# Usage: scripts/kbuild.sh [-j N] [--orctool] [--report]
#   -j N       parallel jobs for make (default: the number of CPUs)
#   --orctool  the OrcTool build (cache 6.1-orctool) instead of the recorded one
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
#   5. make bzImage, make drivers/firmware/qemu_fw_cfg.ko
#   6. vmlinux.o, vmlinux, bzImage, qemu_fw_cfg.ko copied to the cache; the
#      report (also in report.txt)
# With --orctool, stages 1-3 prepare the recorded build's tree as above; then
#   3b. that configured tree copied (cp -a, then make clean: the copy's own
#       objects, never hardlinks, since gcc writes .o files in place) to
#       6.1-orctool/src, once per configuration
#   3c. the release binary (scripts/build-release.sh) installed as
#       6.1-orctool/orctool, once: a build under way keeps the binary it
#       started with (rm -rf the cache to build with a newer one)
#   4-6 as above with objtool=6.1-orctool/orctool.
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
#   vmlinux, bzImage, qemu_fw_cfg.ko  the kernel and the module a QEMU boot needs
# and for --orctool, $ORCTOOL_KBUILD/6.1-orctool: src/, orctool (the binary
# given as objtool=, its sha256 in orctool.sha256), build.log, build-times, the
# same copies and report.txt (objtool's warnings there: the `warning:` lines of
# build.log).
set -euo pipefail

SERIES=6.1
JOBS=$(nproc)
REPORT_ONLY=0
ORCTOOL_BUILD=0
while [ $# -gt 0 ]; do
  case "$1" in
    -j) JOBS="${2:?-j needs a number}"; shift 2 ;;
    -j*) JOBS="${1#-j}"; shift ;;
    --orctool) ORCTOOL_BUILD=1; shift ;;
    --report) REPORT_ONLY=1; shift ;;
    *) echo "usage: $0 [-j N] [--orctool] [--report]" >&2; exit 2 ;;
  esac
done

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${ORCTOOL_KBUILD:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/kbuild}"
# BASE: the recorded build, whose configured tree the OrcTool build copies.
BASE="$ROOT/$SERIES"
BASESRC="$BASE/src"
if [ "$ORCTOOL_BUILD" = 1 ]; then CACHE="$ROOT/$SERIES-orctool"; else CACHE="$BASE"; fi
SRC="$CACHE/src"
CORPUS="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
log() { echo "kbuild: $*" >&2; }
mkdir -p "$BASE" "$CACHE"
# One run per cache directory at a time (a second make in the same tree would
# spoil both); --report reads only.
if [ "$REPORT_ONLY" = 0 ]; then
  exec 8> "$CACHE/.lock"
  flock -n 8 || { log "another scripts/kbuild.sh is running on $CACHE"; exit 1; }
fi

report() {
  local out="$CACHE/vmlinux.o" size secs lines n warned failed f
  [ -f "$out" ] || { log "no $out yet: the build has not finished"; return 1; }
  size=$(stat -c %s "$out")
  lines=$(readelf -S -W "$out" | wc -l)
  secs=$(readelf -h "$out" | awk -F: '/Number of section headers/ {gsub(/ /, "", $2); print $2}')
  {
    echo "kernel:      $(make -s -C "$SRC" kernelversion 2>/dev/null) (linux-source-$SERIES $(cat "$BASE/source-version" 2>/dev/null))"
    echo "objtool=     $OBJTOOL_ARG"
    [ "$ORCTOOL_BUILD" = 0 ] || echo "  sha256:    $(cat "$CACHE/orctool.sha256" 2>/dev/null)"
    echo "vmlinux.o:   $out"
    echo "  size:      $size bytes ($((size / 1048576)) MiB)"
    echo "  sections:  $secs section headers (readelf -S -W | wc -l: $lines lines)"
    for f in vmlinux bzImage qemu_fw_cfg.ko; do
      if [ -f "$CACHE/$f" ]; then echo "$(printf '%-12s' "$f:") $CACHE/$f ($(stat -c %s "$CACHE/$f") bytes)"; fi
    done
    # Each object objtool ran on has the objtool path in its .o.cmd (kbuild's record).
    echo "objects whose .cmd runs objtool=: $(grep -rlF --include='*.cmd' "$OBJTOOL_ARG" "$SRC" | wc -l)"
    if [ "$ORCTOOL_BUILD" = 0 ]; then
      n=$(wc -l < "$CACHE/manifest")
      warned=$(find "$CACHE/objects" -name '*.stderr' -size +0 | wc -l)
      failed=$(find "$CACHE/objects" -name '*.status' -exec cat {} + | grep -cvx 0 || true)
      echo "objects:     $CACHE/objects"
      echo "manifest:    $CACHE/manifest"
      echo "invocations: $n"
      echo "  with warnings (non-empty stderr): $warned"
      echo "  with a non-zero exit status:      $failed"
      echo "  distinct argument lists:"
      cut -d' ' -f2- "$CACHE/manifest" | sort | uniq -c | sort -rn | sed 's/^/    /'
    else
      echo "objtool warnings in build.log: $(grep -c ': warning: objtool: ' "$CACHE/build.log" || true)"
    fi
    echo "build wall time (seconds, per make run):"
    sed 's/^/    /' "$CACHE/build-times" 2>/dev/null || true
  } | tee "$CACHE/report.txt"
}

# What `objtool=` names: a path in the cache, so that it does not depend on the
# checkout running this script (kbuild records it in each .o.cmd, and a new
# path would rebuild everything).
WRAPPER="$BASE/objtool-wrapper"
if [ "$ORCTOOL_BUILD" = 1 ]; then OBJTOOL_ARG="$CACHE/orctool"; else OBJTOOL_ARG="$WRAPPER"; fi
# make's variables, the same for every make run (a change re-runs kconfig or
# rebuilds): Debian's compiler, and objtool's stand-in.
BASEVARS=(ARCH=x86 CC=gcc-12 "objtool=$WRAPPER")
MAKEVARS=(ARCH=x86 CC=gcc-12 "objtool=$OBJTOOL_ARG")

if [ "$REPORT_ONLY" = 1 ]; then report; exit; fi

# shellcheck source=scripts/kernel-source.sh
source "$HERE/kernel-source.sh"
ks_install_deps

# 1. The real objtool and the image's config, from the corpus cache.
ks_corpus "$CORPUS"
log "config $CONFIG (Linux $UPSTREAM), objtool $OBJTOOL61"

# 2. The kernel source of the same upstream version (for the recorded build's tree).
if [ ! -f "$BASE/.stamp-source" ]; then
  VER=$(ks_source_version)
  # A fresh tree starts a fresh record (a resumed build appends to it).
  rm -rf "$BASESRC" "$BASE/objects" "$BASE/manifest" "$BASE/objtool.env" "$BASE/build-times" \
    "$BASE/build.log" "$BASE/vmlinux.o" "$BASE"/.stamp-*
  ks_fetch_source "$VER" "$BASESRC" "$ROOT/debs"
  echo "$VER" > "$BASE/source-version"
  touch "$BASE/.stamp-source"
fi

# 3. The configuration (kernel-source.sh: debug info off, module signing as Debian has it).
STAMP=$(ks_config_stamp)
# Everything a build leaves in its cache directory (not the tree).
RECORD=(objects manifest objtool.env build-times build.log vmlinux.o vmlinux bzImage qemu_fw_cfg.ko report.txt
  .stamp-build .stamp-boot)
if [ "$(cat "$BASE/.stamp-config" 2>/dev/null)" != "$STAMP" ] || [ ! -f "$BASESRC/.config" ]; then
  if [ -s "$BASE/manifest" ]; then
    # A new configuration rebuilds everything: start the record afresh.
    log "configuration changed: make clean, a new record"
    make -C "$BASESRC" "${BASEVARS[@]}" clean >&2
    (cd "$BASE" && rm -rf "${RECORD[@]}")
  fi
  ks_configure "$BASESRC" "${BASEVARS[@]}"
  grep -qx CONFIG_FW_CFG_SYSFS=m "$BASESRC/.config" || { log "olddefconfig did not keep CONFIG_FW_CFG_SYSFS=m"; exit 1; }
  echo "$STAMP" > "$BASE/.stamp-config"
fi

if [ "$ORCTOOL_BUILD" = 1 ]; then
  # 3b. The configured tree, copied: its own files (gcc and objtool write
  # objects in place), without the recorded build's outputs.
  if [ "$(cat "$CACHE/.stamp-config" 2>/dev/null)" != "$STAMP" ] || [ ! -f "$SRC/.config" ]; then
    need_kb=$(du -sk "$BASESRC" | cut -f1)
    free_kb=$(df -Pk "$CACHE" | awk 'NR == 2 { print $4 }')
    [ "$free_kb" -gt $((need_kb + 1048576)) ] ||
      { log "not enough space in $CACHE: $((free_kb / 1024)) MiB free, the tree needs $((need_kb / 1024)) MiB"; exit 1; }
    log "copying $BASESRC ($((need_kb / 1024)) MiB) to $SRC, then make clean"
    rm -rf "$SRC"
    (cd "$CACHE" && rm -rf "${RECORD[@]}")
    cp -a "$BASESRC" "$SRC"
    make -C "$SRC" "${MAKEVARS[@]}" clean >&2
    echo "$STAMP" > "$CACHE/.stamp-config"
  fi
  # 3c. The binary users get, in the cache. Installed once per build: a build
  # under way (or done) keeps the binary it started with.
  log "building the release binary (scripts/build-release.sh)"
  RELEASE=$(bash "$HERE/build-release.sh")
  if [ ! -x "$OBJTOOL_ARG" ]; then
    install -m 755 "$RELEASE" "$OBJTOOL_ARG"
    sha256sum "$OBJTOOL_ARG" | cut -d' ' -f1 > "$CACHE/orctool.sha256"
  elif ! cmp -s "$RELEASE" "$OBJTOOL_ARG"; then
    if [ -f "$CACHE/build-times" ]; then
      log "note: $RELEASE differs from $OBJTOOL_ARG, which this build started with and keeps (rm -rf $CACHE to build with the new one)"
    else
      install -m 755 "$RELEASE" "$OBJTOOL_ARG"
      sha256sum "$OBJTOOL_ARG" | cut -d' ' -f1 > "$CACHE/orctool.sha256"
    fi
  fi
  "$OBJTOOL_ARG" --version >/dev/null || { log "$OBJTOOL_ARG does not run"; exit 1; }
else
  if ! cmp -s "$HERE/kbuild-objtool-wrapper.sh" "$WRAPPER"; then
    install -m 755 "$HERE/kbuild-objtool-wrapper.sh" "$WRAPPER"
  fi
  echo "$OBJTOOL61" > "$CACHE/real-objtool"
  mkdir -p "$CACHE/objects"; touch "$CACHE/manifest"
fi

# One make run: its output to build.log, its wall time to build-times.
run_make() { # TARGET...
  local start end status=0
  log "make -j$JOBS $* (log: $CACHE/build.log)"
  echo "=== $(date -u +%FT%TZ) make -j$JOBS ${MAKEVARS[*]} $*" >> "$CACHE/build.log"
  start=$(date +%s)
  make -C "$SRC" -j"$JOBS" "${MAKEVARS[@]}" "$@" >> "$CACHE/build.log" 2>&1 || status=$?
  end=$(date +%s)
  echo "$((end - start)) $*" >> "$CACHE/build-times"
  echo "=== exit $status after $((end - start)) s" >> "$CACHE/build.log"
  if [ "$status" != 0 ]; then
    log "make $* failed ($status) after $((end - start)) s; the end of $CACHE/build.log:"
    grep -E 'error|Error' "$CACHE/build.log" | tail -n 20 >&2 || true
    tail -n 20 "$CACHE/build.log" >&2
    exit "$status"
  fi
}

# 4. vmlinux.
if [ ! -f "$CACHE/.stamp-build" ]; then
  run_make vmlinux
  touch "$CACHE/.stamp-build"
fi

# 5. What a QEMU boot needs: bzImage, and qemu_fw_cfg.ko alone (kbuild's
# single-module target runs modules_prepare, builds the object, objtool with
# --module, and modpost on it).
if [ ! -f "$CACHE/.stamp-boot" ]; then
  run_make bzImage
  run_make drivers/firmware/qemu_fw_cfg.ko
  touch "$CACHE/.stamp-boot"
fi

# 6. The results in the cache; the report.
cp -f "$SRC/vmlinux.o" "$CACHE/vmlinux.o"
cp -f "$SRC/vmlinux" "$CACHE/vmlinux"
cp -f "$SRC/arch/x86/boot/bzImage" "$CACHE/bzImage"
cp -f "$SRC/drivers/firmware/qemu_fw_cfg.ko" "$CACHE/qemu_fw_cfg.ko"
report
