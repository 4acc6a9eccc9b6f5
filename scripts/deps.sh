#!/usr/bin/env bash
# Install what the build, the demo and the tests need beyond the Swift toolchain.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
need=()
for p in binutils binutils-aarch64-linux-gnu xz-utils libelf1 time libzydis-dev zlib1g-dev strace; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}" >&2
  $SUDO apt-get update -qq >&2 || true
  $SUDO apt-get install -y -qq "${need[@]}" >&2
fi
