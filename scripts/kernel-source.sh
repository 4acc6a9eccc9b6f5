# shellcheck shell=bash
# The stages scripts/kbuild.sh (a full recorded build) and
# scripts/kernel-objects.sh (a few dozen objects compiled alone) share: the
# build dependencies, the real objtool 6.1 and the Debian cloud image's config
# (from scripts/corpus.sh's cache), linux-source-6.1 of the same upstream
# version, and that config with debug info off. Sourced, not run; the caller
# sets `set -euo pipefail`, defines log() (one line on stderr) and SERIES.
#
#   ks_install_deps                apt-get install what a vmlinux build needs
#   ks_corpus CORPUS               sets OBJTOOL61, MODULES61, CONFIG, UPSTREAM (fetching the corpus if needed)
#   ks_source_version              prints the linux-source-$SERIES version matching $UPSTREAM
#   ks_fetch_source VER DEST TMP   apt-get download linux-source-$SERIES=VER into TMP,
#                                  the tree extracted into DEST (which must not exist)
#   KS_CONFIG_OPTS                 scripts/config's arguments on the image's config
#   ks_config_stamp                prints what the configuration depends on (for a stamp file)
#   ks_configure SRC MAKEVAR...    the image's config, KS_CONFIG_OPTS, make olddefconfig, checked

KS_HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KS_SUDO=""; [ "$(id -u)" = 0 ] || KS_SUDO=sudo

# Build dependencies of a vmlinux with this config (no pahole: BTF is off;
# lz4: kbuild.sh's bzImage payload is LZ4-compressed).
ks_install_deps() {
  local need=() p
  for p in make gcc-12 libc6-dev bc bison flex libelf-dev libssl-dev cpio kmod xz-utils lz4 binutils python3 util-linux; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
  done
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    $KS_SUDO apt-get install -y -qq "${need[@]}" >&2
  fi
}

# The real objtool and the image's config, from the corpus cache.
ks_corpus() { # CORPUS
  local corpus="$1" configs
  if [ ! -f "$corpus/corpus.env" ]; then
    log "fetching the corpus (scripts/corpus.sh)"
    ORCTOOL_CORPUS="$corpus" bash "$KS_HERE/corpus.sh"
  fi
  OBJTOOL61=$(sed -n 's/^OBJTOOL61=//p' "$corpus/corpus.env")
  MODULES61=$(sed -n 's/^MODULES61=//p' "$corpus/corpus.env")
  [ -x "$OBJTOOL61" ] || { log "no objtool 6.1 at '$OBJTOOL61' (run scripts/corpus.sh)"; return 1; }
  configs=("${MODULES61%/lib/modules/*}"/boot/config-*)
  CONFIG="${configs[-1]}"
  [ -f "$CONFIG" ] || { log "no boot/config-* next to $MODULES61"; return 1; }
  UPSTREAM=$(sed -n 's/^# Linux\/x86 \([0-9.]*\) Kernel Configuration$/\1/p' "$CONFIG")
  [ -n "$UPSTREAM" ] || { log "cannot read the kernel version in $CONFIG"; return 1; }
}

# The newest linux-source-$SERIES of the config's upstream version (else the newest at all).
ks_source_version() {
  local versions ver
  if [ -z "$(apt-cache madison "linux-source-$SERIES" 2>/dev/null)" ]; then
    log "apt-get update"; $KS_SUDO apt-get update -qq >&2
  fi
  versions=$(apt-cache madison "linux-source-$SERIES" | awk -F'|' '{gsub(/ /, "", $2); print $2}')
  ver=$(grep -F "$UPSTREAM-" <<< "$versions" | sort -V | tail -n 1 || true)
  if [ -z "$ver" ]; then
    ver=$(sort -V <<< "$versions" | tail -n 1)
    log "warning: no linux-source-$SERIES $UPSTREAM-*; using $ver (the config may not match)"
  fi
  [ -n "$ver" ] || { log "no linux-source-$SERIES in apt's lists"; return 1; }
  echo "$ver"
}

ks_fetch_source() { # VER DEST TMP
  local ver="$1" dest="$2" tmp="$3"
  log "downloading linux-source-$SERIES=$ver"
  rm -rf "$tmp"; mkdir -p "$tmp/x"
  (cd "$tmp" && apt-get download -qq "linux-source-$SERIES=$ver" >&2)
  dpkg-deb -x "$tmp"/linux-source-"$SERIES"_*.deb "$tmp/x"
  log "extracting the source"
  mkdir -p "$dest"
  tar -xJf "$tmp/x/usr/src/linux-source-$SERIES.tar.xz" -C "$dest" --strip-components=1
  rm -rf "$tmp"
}

# The configuration. Debug info off: DEBUG_INFO_NONE and the toolchain-default
# DWARF are one choice, so the latter must go too, or kconfig keeps it (and
# DEBUG_INFO with it). Module signing stays as Debian has it: the lockdown LSM
# selects MODULE_SIG, and turning that off would change vmlinux's code; a
# vmlinux build then only generates a throwaway certs/signing_key.pem (openssl).
KS_CONFIG_OPTS=(--disable DEBUG_INFO --disable DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT --disable DEBUG_INFO_DWARF4
  --disable DEBUG_INFO_DWARF5 --enable DEBUG_INFO_NONE --disable DEBUG_INFO_BTF
  --set-str SYSTEM_TRUSTED_KEYS "" --set-str SYSTEM_REVOCATION_KEYS "")

ks_config_stamp() { echo "$CONFIG ${KS_CONFIG_OPTS[*]}"; }

ks_configure() { # SRC MAKEVAR...
  local src="$1" want unwanted
  shift
  log "configuring"
  cp "$CONFIG" "$src/.config"
  (cd "$src" && scripts/config "${KS_CONFIG_OPTS[@]}")
  make -C "$src" "$@" olddefconfig >&2
  for want in CONFIG_DEBUG_INFO_NONE=y CONFIG_OBJTOOL=y CONFIG_UNWINDER_ORC=y; do
    grep -qx "$want" "$src/.config" || { log "olddefconfig did not keep $want"; return 1; }
  done
  for unwanted in CONFIG_DEBUG_INFO CONFIG_DEBUG_INFO_BTF; do
    ! grep -q "^$unwanted=" "$src/.config" || { log "olddefconfig kept $unwanted"; return 1; }
  done
}
