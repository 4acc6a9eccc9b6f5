#!/usr/bin/env bash
# Builds the binary users get (`make release`, `make install`, and what the
# benchmark scripts measure): release, the Swift runtime linked statically,
# lld with packed relative relocations (fewer pages touched at start-up).
# Prints the binary's path on stdout; build output goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT="${SWIFT:-swift}"
FLAGS=(-c release --static-swift-stdlib --scratch-path .build-static
       -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs)
"$SWIFT" build "${FLAGS[@]}" --product orctool >&2
echo "$("$SWIFT" build "${FLAGS[@]}" --show-bin-path)/orctool"
