#!/usr/bin/env bash
# Builds the binary users get (`make release`, `make install`, and what the
# benchmark scripts measure): plain `swift build -c release`, which Package.swift
# makes a static-runtime binary linked by lld with packed relative relocations
# (no dynamic Swift runtime, Foundation or ICU to load at each of kbuild's runs).
# Prints the binary's path on stdout; build output goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT="${SWIFT:-swift}"
"$SWIFT" build -c release --product orctool >&2
echo "$("$SWIFT" build -c release --show-bin-path)/orctool"
