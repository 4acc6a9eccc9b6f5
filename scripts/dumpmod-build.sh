#!/usr/bin/env bash
# Build the test module Examples/dumpmod (orctool_dumptest.ko, with debug info)
# for one of the corpus's Debian cloud kernels, against Debian's own
# linux-headers packages and with gcc-12, as Debian built the kernel.
#
# usage: scripts/dumpmod-build.sh 6.1|6.12 OUTDIR
# Writes OUTDIR/orctool_dumptest.ko (and OUTDIR/build.log); prints the .ko's path.
#
# The headers (linux-headers-KREL and its -common) are fetched with apt-get
# download into ${XDG_CACHE_HOME:-~/.cache}/orctool/headers and extracted into
# a private root there (root-KREL/usr/src/...), beside a link to the corpus's
# linux-kbuild tree at root-KREL/usr/lib/linux-kbuild-*: the packages' relative
# scripts/tools links then resolve, and the one absolute path (the arch
# Makefile's include of the -common Makefile) is rewritten. Nothing is installed.
set -euo pipefail

die() { echo "dumpmod-build: error: $*" >&2; exit 1; }
log() { echo "dumpmod-build: $*" >&2; }

[ $# -eq 2 ] || { echo "usage: $0 6.1|6.12 OUTDIR" >&2; exit 2; }
GEN="$1"
HERE="$(cd "$(dirname "$0")" && pwd)"
SRC="$HERE/../Examples/dumpmod"
[ -f "$SRC/orctool_dumptest.c" ] || die "module source not found: $SRC/orctool_dumptest.c"
mkdir -p "$2" || die "cannot create $2"
OUT="$(cd "$2" && pwd)"

CACHE="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
[ -f "$CACHE/corpus.env" ] || die "no $CACHE/corpus.env (run scripts/corpus.sh first)"
# shellcheck disable=SC1091
source "$CACHE/corpus.env"
case "$GEN" in
  6.1) MODS="${MODULES61:-}" ;;
  6.12) MODS="${MODULES612:-}" ;;
  *) die "unknown kernel generation '$GEN' (6.1 or 6.12)" ;;
esac
[ -d "$MODS" ] || die "the corpus has no $GEN modules directory: '$MODS'"
KREL="$(basename "$(dirname "$MODS")")"               # .../KREL/kernel

# dwarves: pahole, for the .BTF kbuild adds to 6.12 modules (its headers ship a vmlinux).
need=()
for p in gcc-12 make libelf1 dwarves; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get install -y -qq "${need[@]}" >&2 || die "apt-get install ${need[*]} failed"
fi

HC="${XDG_CACHE_HOME:-$HOME/.cache}/orctool/headers"
mkdir -p "$HC"
deb_of() { # deb_of PKG -> the cached .deb (downloaded once)
  local deb
  deb=$(find "$HC" -maxdepth 1 -name "${1}_*.deb" | sort -V | tail -n 1)
  if [ -z "$deb" ]; then
    log "downloading $1"
    (cd "$HC" && apt-get download -qq "$1" >&2 2>/dev/null) ||
      die "cannot download $1 (apt-get update?)"
    deb=$(find "$HC" -maxdepth 1 -name "${1}_*.deb" | sort -V | tail -n 1)
  fi
  [ -n "$deb" ] || die "no .deb for $1 in $HC"
  echo "$deb"
}

ROOT="$HC/root-$KREL"
KDIR="$ROOT/usr/src/linux-headers-$KREL"
if [ ! -f "$ROOT/.done" ]; then
  rm -rf "$ROOT"; mkdir -p "$ROOT"
  ARCHDEB=$(deb_of "linux-headers-$KREL")
  COMMON=$(dpkg-deb -f "$ARCHDEB" Depends | tr ',' '\n' | sed -n 's/^ *\(linux-headers-[^ ]*-common\).*/\1/p' | head -n 1)
  [ -n "$COMMON" ] || die "$ARCHDEB does not depend on a linux-headers-*-common package"
  COMMONDEB=$(deb_of "$COMMON")
  dpkg -x "$ARCHDEB" "$ROOT"
  dpkg -x "$COMMONDEB" "$ROOT"
  # scripts -> ../../lib/linux-kbuild-V/scripts: point usr/lib/linux-kbuild-V at the corpus's.
  KB=$(readlink "$KDIR/scripts" | sed -n 's|^\.\./\.\./lib/\(linux-kbuild-[^/]*\)/scripts$|\1|p')
  [ -n "$KB" ] || die "unexpected $KDIR/scripts link: $(readlink "$KDIR/scripts")"
  [ -d "$CACHE/x/$KB/usr/lib/$KB" ] || die "the corpus has no $KB (scripts/corpus.sh)"
  mkdir -p "$ROOT/usr/lib"
  ln -s "$CACHE/x/$KB/usr/lib/$KB" "$ROOT/usr/lib/$KB"
  sed -i "s|^include /usr/src/|include $ROOT/usr/src/|" "$KDIR/Makefile"
  grep -q "^include $ROOT/usr/src/.*/Makefile" "$KDIR/Makefile" || die "cannot rewrite $KDIR/Makefile"
  touch "$ROOT/.done"
fi

# Build in a copy, so the source tree gets no objects.
B="$(mktemp -d)"
trap 'rm -rf "$B"' EXIT
cp "$SRC/orctool_dumptest.c" "$SRC/Kbuild" "$B/"
log "building orctool_dumptest.ko for $KREL"
if ! make -C "$KDIR" M="$B" modules > "$OUT/build.log" 2>&1; then
  cat "$OUT/build.log" >&2
  die "the module build failed (log: $OUT/build.log)"
fi
if grep -E -i '(warning|error):' "$OUT/build.log" >&2; then
  die "the module build printed warnings (log: $OUT/build.log)"
fi
cp "$B/orctool_dumptest.ko" "$OUT/orctool_dumptest.ko"
vermagic=$(modinfo -F vermagic "$OUT/orctool_dumptest.ko" 2>/dev/null || true)
case "$vermagic" in "$KREL "*) ;; *) die "vermagic '$vermagic' is not $KREL's" ;; esac
sections=$(readelf -S -W "$OUT/orctool_dumptest.ko")
for s in .debug_info .orc_unwind .orc_unwind_ip; do
  grep -q " \\$s " <<< "$sections" || die "orctool_dumptest.ko has no $s section"
done
echo "$OUT/orctool_dumptest.ko"
