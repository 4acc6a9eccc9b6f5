#!/usr/bin/env bash
# Fetch and cache the real corpus (../shared/docs/oracles.md) outside the repository:
# the newest Debian 6.1 and 6.12 cloud module packages, the matching linux-kbuild
# packages (the real objtool), with --dbg the 6.1 -dbg vmlinux, and with --dbg612
# the 6.12 one (VMLINUX612; the package is 318 MB, 1.8 GB extracted).
# Prints nothing but progress on stderr; writes $CACHE/corpus.env with the paths.
set -euo pipefail

CACHE="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
WANT_DBG=0
WANT_DBG612=0
WANT_ARM64=0
for arg in "$@"; do
  case "$arg" in
    --dbg) WANT_DBG=1 ;;
    --dbg612) WANT_DBG612=1 ;;
    --arm64) WANT_ARM64=1 ;;
    *) echo "usage: $0 [--dbg] [--dbg612] [--arm64]" >&2; exit 2 ;;
  esac
done
mkdir -p "$CACHE/debs"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
log() { echo "corpus: $*" >&2; }

# apt lists are needed for apt-cache to find anything.
if [ -z "$(apt-cache search --names-only '^linux-kbuild-6\.1$' 2>/dev/null)" ]; then
  log "apt-get update"; $SUDO apt-get update -qq >&2
fi
# The real objtool needs libelf at run time; the script needs xz and dpkg.
need=()
for p in libelf1 xz-utils binutils; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
[ ${#need[@]} -eq 0 ] || { log "installing ${need[*]}"; $SUDO apt-get install -y -qq "${need[@]}" >&2; }

newest() { apt-cache search --names-only "$1" | awk '{print $1}' | sort -V | tail -n 1; }

fetch() { # fetch PKG[:ARCH] -> extracted dir path on stdout
  local pkg="$1" base="${1%%:*}" dir="$CACHE/x/${1/:/-}"
  if [ ! -f "$dir/.done" ]; then
    log "downloading $pkg"
    rm -rf "$dir"; mkdir -p "$dir"
    (cd "$CACHE/debs" && rm -f "${base}"_*.deb && apt-get download -qq "$pkg" >&2)
    dpkg -x "$CACHE"/debs/"${base}"_*.deb "$dir"
    rm -f "$CACHE"/debs/"${base}"_*.deb
    touch "$dir/.done"
  fi
  echo "$dir"
}

IMG61=$(newest '^linux-image-6\.1\.0-[0-9]+-cloud-amd64-unsigned$')
IMG612=$(newest '^linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64-unsigned$')
[ -n "$IMG61" ] && [ -n "$IMG612" ] || { echo "corpus: cannot resolve the cloud image packages with apt-cache" >&2; exit 1; }
VER612=${IMG612#linux-image-}; VER612=${VER612%-cloud-amd64-unsigned}
KB612="linux-kbuild-$VER612"

D61=$(fetch "$IMG61")
D612=$(fetch "$IMG612")
K61=$(fetch linux-kbuild-6.1)
K612=$(fetch "$KB612")

# 6.12 modules ship xz-compressed: keep a decompressed copy of the tree.
M612="$CACHE/modules-6.12-$VER612"
if [ ! -f "$M612/.done" ]; then
  log "decompressing 6.12 modules"
  rm -rf "$M612"; mkdir -p "$M612"
  (cd "$D612/lib/modules" && find . -name '*.ko.xz' -print0) |
    while IFS= read -r -d '' f; do
      out="$M612/${f%.xz}"; mkdir -p "$(dirname "$out")"
      xz -dc "$D612/lib/modules/$f" > "$out"
    done
  touch "$M612/.done"
fi

M61=$(ls -d "$D61"/lib/modules/*/kernel | head -n 1)
OBJTOOL61=$(ls "$K61"/usr/lib/linux-kbuild-6.1/tools/objtool/objtool)
OBJTOOL612=$(ls "$K612"/usr/lib/linux-kbuild-*/tools/objtool/objtool)

VMLINUX61=""
if [ "$WANT_DBG" = 1 ]; then
  DBG=${IMG61%-unsigned}-dbg
  DD=$(fetch "$DBG")
  VMLINUX61=$(ls "$DD"/usr/lib/debug/boot/vmlinux-* | head -n 1)
elif [ -f "$CACHE/corpus.env" ]; then
  VMLINUX61=$(sed -n 's/^VMLINUX61=//p' "$CACHE/corpus.env")
fi

VMLINUX612=""
if [ "$WANT_DBG612" = 1 ]; then
  DD612=$(fetch "${IMG612%-unsigned}-dbg")
  VMLINUX612=$(ls "$DD612"/usr/lib/debug/boot/vmlinux-* | head -n 1)
elif [ -f "$CACHE/corpus.env" ]; then
  VMLINUX612=$(sed -n 's/^VMLINUX612=//p' "$CACHE/corpus.env")
fi

MODULES61ARM64=""
if [ "$WANT_ARM64" = 1 ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    log "adding the arm64 architecture"; $SUDO dpkg --add-architecture arm64; $SUDO apt-get update -qq >&2
  fi
  IMGARM=$(newest '^linux-image-6\.1\.0-[0-9]+-cloud-arm64-unsigned$')
  DA=$(fetch "$IMGARM:arm64")
  MODULES61ARM64=$(ls -d "$DA"/lib/modules/*/kernel | head -n 1)
elif [ -f "$CACHE/corpus.env" ]; then
  MODULES61ARM64=$(sed -n 's/^MODULES61ARM64=//p' "$CACHE/corpus.env")
fi

cat > "$CACHE/corpus.env" <<ENV
CORPUS=$CACHE
MODULES61=$M61
MODULES612=$(ls -d "$M612"/*/kernel | head -n 1)
OBJTOOL61=$OBJTOOL61
OBJTOOL612=$OBJTOOL612
VMLINUX61=$VMLINUX61
VMLINUX612=$VMLINUX612
MODULES61ARM64=$MODULES61ARM64
ENV
log "ready: $CACHE/corpus.env"
cat "$CACHE/corpus.env" >&2
