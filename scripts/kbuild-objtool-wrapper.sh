#!/usr/bin/env bash
# Recording stand-in for objtool in a kernel build (scripts/kbuild.sh installs a
# copy as $DIR/objtool-wrapper and passes `objtool=$DIR/objtool-wrapper` to make).
#
# For each invocation `objtool ARGS... OBJECT` it
#   - copies OBJECT, before objtool modifies it, to $DIR/objects/<OBJECT's path
#     relative to the directory kbuild runs in (the object tree)>,
#   - appends one line to $DIR/manifest: the relative path, then the arguments
#     other than OBJECT (each `printf %q`-quoted, so plain ones read as is),
#   - writes next to the copy: <obj>.args (the full argument list, one a line),
#     <obj>.stderr (what objtool printed on stderr: its warnings) and
#     <obj>.status (its exit status),
#   - runs the real objtool with the same arguments, replays its stderr, and
#     exits with its status.
# The first invocation also writes $DIR/objtool.env: the variables kbuild
# exports to the tools it runs (VERSION, PATCHLEVEL, SRCARCH, ...).
#
# Environment:
#   ORCTOOL_KBUILD_DIR      where to record (default: the directory of this file)
#   ORCTOOL_KBUILD_OBJTOOL  the objtool to run (default: the path in $DIR/real-objtool)
set -euo pipefail

DIR="${ORCTOOL_KBUILD_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
REAL="${ORCTOOL_KBUILD_OBJTOOL:-}"
if [ -z "$REAL" ] && [ -f "$DIR/real-objtool" ]; then REAL=$(cat "$DIR/real-objtool"); fi
if [ -z "$REAL" ] || [ ! -x "$REAL" ]; then
  echo "objtool-wrapper: no real objtool (set ORCTOOL_KBUILD_OBJTOOL or write $DIR/real-objtool)" >&2
  exit 127
fi

if [ $# -eq 0 ]; then exec "$REAL"; fi
obj="${!#}"
opts=("${@:1:$#-1}")

# Where the record goes: the object's path relative to the object tree, or
# _abs/<absolute path> for an object outside it; "-" when the last argument
# is no file (objtool --help and the like: nothing to copy).
if [ -f "$obj" ]; then
  rel=$(realpath -m --relative-to="$PWD" "$obj")
  case "$rel" in ../*) rel="_abs$(realpath -m "$obj")" ;; esac
  rec="$DIR/objects/$rel"
  mkdir -p "$(dirname "$rec")"
  cp -f "$obj" "$rec"
else
  rel="-"
  rec="$DIR/objects/_nofile.$$"
  mkdir -p "$DIR/objects"
fi
printf '%s\n' "$@" > "$rec.args"

line=$(printf '%s' "$rel"; if [ ${#opts[@]} -gt 0 ]; then printf ' %q' "${opts[@]}"; fi)
{
  flock 9
  printf '%s\n' "$line" >&9
  if [ ! -f "$DIR/objtool.env" ]; then
    env | grep -E '^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION|KERNELRELEASE|KERNELVERSION|ARCH|SRCARCH|SUBARCH|srctree|objtree)=' \
      | sort > "$DIR/objtool.env" || true
  fi
} 9>> "$DIR/manifest"

status=0
"$REAL" "$@" 2> "$rec.stderr" || status=$?
echo "$status" > "$rec.status"
cat "$rec.stderr" >&2
exit "$status"
