#!/usr/bin/env bash
# ThreadSanitizer over the parallel paths: orctool built with -sanitize=thread
# (its own scratch path, .build-tsan) runs `--orc --module --link --jobs=4` on
# the COUNT (default 50) largest 6.1 modules with their ORC stripped — the
# parallel decode starts only above 256 KiB of code, so the large ones. Each
# run gets its own copy (the tool writes the object). Fails when TSan reports
# anything. STRIPPED=dir takes the modules (*.ko, already stripped) from dir.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT="${COUNT:-50}"
CACHE="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
# shellcheck disable=SC1091
source "$CACHE/corpus.env"
start=$(date +%s)
ORCTOOL_DYNAMIC_RUNTIME=1 swift build -c release --scratch-path .build-tsan -Xswiftc -sanitize=thread --product orctool >&2
BIN="$(ORCTOOL_DYNAMIC_RUNTIME=1 swift build -c release --scratch-path .build-tsan -Xswiftc -sanitize=thread --show-bin-path)/orctool"
echo "tsan: build $(($(date +%s) - start)) s" >&2
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/in" "$TMP/run" "$TMP/log"
if [ -n "${STRIPPED:-}" ]; then
  mapfile -t modules < <(find "$STRIPPED" -name '*.ko' -printf '%s %p\n' | sort -k1,1nr -k2 | head -n "$COUNT" | cut -d' ' -f2-)
  for f in "${modules[@]}"; do cp "$f" "$TMP/in/"; done
else
  mapfile -t modules < <(find "$MODULES61" -name '*.ko' -printf '%s %p\n' | sort -k1,1nr -k2 | head -n "$COUNT" | cut -d' ' -f2-)
  for f in "${modules[@]}"; do
    objcopy --remove-section=.orc_unwind --remove-section=.orc_unwind_ip --remove-section=.rela.orc_unwind_ip \
      "$f" "$TMP/in/$(basename "$f")"
  done
fi
reports=0 failed=0 n=0
start=$(date +%s)
for f in "$TMP"/in/*.ko; do
  n=$((n + 1))
  name=$(basename "$f" .ko)
  cp "$f" "$TMP/run/$name.ko"
  status=0
  TSAN_OPTIONS="halt_on_error=0 exitcode=66 ${TSAN_OPTIONS:-}" "$BIN" --orc --module --link --jobs=4 "$TMP/run/$name.ko" \
    > /dev/null 2> "$TMP/log/$name.txt" || status=$?
  rm -f "$TMP/run/$name.ko"
  if grep -q "WARNING: ThreadSanitizer" "$TMP/log/$name.txt"; then
    reports=$((reports + $(grep -c "WARNING: ThreadSanitizer" "$TMP/log/$name.txt")))
    echo "tsan: $name: $(grep -c "WARNING: ThreadSanitizer" "$TMP/log/$name.txt") report(s)"
    sed -n '/WARNING: ThreadSanitizer/,/^SUMMARY/p' "$TMP/log/$name.txt" | head -n 60
  elif [ "$status" -gt 1 ]; then
    # 0 and 1 are objtool's statuses (1: warnings); anything else is a crash
    failed=$((failed + 1))
    echo "tsan: $name: exit $status"; tail -n 20 "$TMP/log/$name.txt"
  fi
done
echo "tsan: $n modules, --jobs=4, $(($(date +%s) - start)) s: $reports ThreadSanitizer report(s), $failed other failure(s)"
# Batch mode: all of them in one process, 4 objects at a time.
cp "$TMP"/in/*.ko "$TMP/run/"
start=$(date +%s)
status=0
TSAN_OPTIONS="halt_on_error=0 exitcode=66 ${TSAN_OPTIONS:-}" "$BIN" --orc --module --link --jobs=4 "$TMP"/run/*.ko \
  > /dev/null 2> "$TMP/log/batch.txt" || status=$?
batch=$(grep -c "WARNING: ThreadSanitizer" "$TMP/log/batch.txt" || true)
if [ "$batch" != 0 ]; then sed -n '/WARNING: ThreadSanitizer/,/^SUMMARY/p' "$TMP/log/batch.txt" | head -n 60; fi
if [ "$status" -gt 1 ]; then failed=$((failed + 1)); echo "tsan: batch: exit $status"; tail -n 20 "$TMP/log/batch.txt"; fi
echo "tsan: batch of $n modules in one process, --jobs=4, $(($(date +%s) - start)) s: $batch ThreadSanitizer report(s)"
reports=$((reports + batch))
[ "$reports" = 0 ] && [ "$failed" = 0 ]
