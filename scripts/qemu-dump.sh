#!/usr/bin/env bash
# Boot the real Debian 6.1 cloud kernel of the corpus under QEMU (TCG) with a
# busybox initramfs, let it print every task's stack with its own ORC unwinder
# (sysrq-t, on the serial console), then dump guest memory as an ELF core and
# check with drgn that the dump is readable. For comparing other unwinders
# against the kernel's own.
#
# usage: scripts/qemu-dump.sh OUTDIR
# Writes OUTDIR/console.log  serial console (boot log + sysrq-t traces)
#        OUTDIR/vmcore       ELF core from QMP dump-guest-memory (paging=false)
#        OUTDIR/drgn.txt     drgn's stack trace of every task (scripts/drgn-traces.py)
#        OUTDIR/qemu.log     QEMU's own stdout/stderr
# Environment: QEMU_DUMP_TIMEOUT (seconds to wait for the guest, default 300).
set -euo pipefail

die() { echo "qemu-dump: error: $*" >&2; exit 1; }
log() { echo "qemu-dump: $*" >&2; }

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
HERE="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$1" || die "cannot create $1"
OUT="$(cd "$1" && pwd)"
TIMEOUT="${QEMU_DUMP_TIMEOUT:-300}"
START=$SECONDS

# --- dependencies -----------------------------------------------------------
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
need=()
for p in qemu-system-x86 busybox-static cpio; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  $SUDO apt-get install -y -qq "${need[@]}" >&2 ||
    { $SUDO apt-get update -qq >&2 && $SUDO apt-get install -y -qq "${need[@]}" >&2; } ||
    die "apt-get install ${need[*]} failed"
fi
if ! python3 -c 'import drgn' 2>/dev/null; then
  log "installing drgn"
  python3 -m pip install -q drgn==0.3.0 >&2 || die "pip install drgn==0.3.0 failed"
fi
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found"
[ -x /bin/busybox ] || die "/bin/busybox not found (busybox-static)"

bash "$HERE/corpus.sh" --dbg || die "scripts/corpus.sh --dbg failed"
CACHE="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
# shellcheck disable=SC1091
source "$CACHE/corpus.env"
[ -d "${MODULES61:-}" ] || die "MODULES61 is not a directory: '${MODULES61:-}'"
[ -f "${VMLINUX61:-}" ] || die "VMLINUX61 is not a file: '${VMLINUX61:-}'"
KVER="$(basename "$(dirname "$MODULES61")")"          # .../lib/modules/KVER/kernel
PKG="$(cd "$MODULES61/../../../.." && pwd)"            # contains lib/ and boot/
[ -d "$PKG/lib" ] && [ -d "$PKG/boot" ] || die "cannot find the package root above $MODULES61"
VMLINUZ="$PKG/boot/vmlinuz-$KVER"
FWCFG="$MODULES61/drivers/firmware/qemu_fw_cfg.ko"
[ -f "$VMLINUZ" ] || die "kernel image not found: $VMLINUZ"
[ -f "$FWCFG" ] || die "module not found: $FWCFG"

# --- cleanup: kill our QEMU on any exit --------------------------------------
TMP="$(mktemp -d)"
QPID=""
cleanup() {
  local rc=$?
  if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
    kill "$QPID" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$QPID" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$QPID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
  [ $rc -eq 0 ] || echo "qemu-dump: failed (exit $rc); see $OUT/console.log and $OUT/qemu.log" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. busybox initramfs ------------------------------------------------------
R="$TMP/root"
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp}
cp /bin/busybox "$R/bin/busybox"
/bin/busybox --list-full | while IFS= read -r a; do
  [ "$a" = bin/busybox ] || [ -e "$R/$a" ] || ln -s /bin/busybox "$R/$a"
done
cp "$FWCFG" "$R/qemu_fw_cfg.ko"
mknod -m 600 "$R/dev/console" c 5 1 2>/dev/null || true
cat > "$R/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
echo "orctool-init: starting"
# Publishes VMCOREINFO to QEMU's vmcoreinfo device (goes into the dump's notes).
insmod /qemu_fw_cfg.ko || echo "orctool-init: insmod qemu_fw_cfg.ko failed"
sleep 100000 &                             # sleeping in nanosleep
sh -c 'while :; do :; done' &              # busy, runnable
mkfifo /fifo; cat /fifo &                  # blocked in open() of a fifo
sleep 100000 | cat > /dev/null &           # blocked in read() on a pipe
sleep 1
echo 1 > /proc/sys/kernel/sysrq
echo t > /proc/sysrq-trigger               # every task's stack, kernel ORC unwinder
sleep 2                                    # let the console drain
echo "orctool-init: ORCTOOL-READY" > /dev/kmsg
echo "ORCTOOL-READY"
while :; do sleep 3600; done
INIT
chmod 755 "$R/init"
INITRD="$TMP/initrd.gz"
(cd "$R" && find . -print0 | cpio --null -o -H newc --quiet -R 0:0 | gzip -1) > "$INITRD" ||
  die "building the initramfs failed"

# --- 2. boot ---------------------------------------------------------------------
rm -f "$OUT/console.log" "$OUT/vmcore" "$OUT/drgn.txt" "$OUT/qmp.sock"
: > "$OUT/console.log"
QMP="$OUT/qmp.sock"
log "booting $VMLINUZ (TCG, 2 CPUs)"
qemu-system-x86_64 -machine q35 -accel tcg -cpu max,la57=off -smp 2 -m 512M \
  -kernel "$VMLINUZ" -initrd "$INITRD" \
  -append "console=ttyS0 nokaslr loglevel=7 panic=-1" \
  -device vmcoreinfo -display none -vga none -nic none -monitor none -no-reboot \
  -serial "file:$OUT/console.log" -qmp "unix:$QMP,server=on,wait=off" \
  > "$OUT/qemu.log" 2>&1 &
QPID=$!

# --- 3. wait for the guest, dump, quit --------------------------------------------
deadline=$((SECONDS + TIMEOUT))
until grep -q '^ORCTOOL-READY' "$OUT/console.log" 2>/dev/null; do
  kill -0 "$QPID" 2>/dev/null || { QPID=""; tail -n 20 "$OUT/console.log" >&2; die "QEMU exited before the guest was ready (see $OUT/qemu.log)"; }
  [ $SECONDS -lt $deadline ] || { tail -n 20 "$OUT/console.log" >&2; die "guest not ready after ${TIMEOUT}s"; }
  sleep 1
done
log "guest ready after $((SECONDS - START))s; dumping memory"

python3 - "$QMP" "$OUT/vmcore" "$TIMEOUT" <<'PY' || die "QMP dump-guest-memory failed"
import json, socket, sys, time
path, vmcore, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_UNIX)
s.settimeout(timeout)
for _ in range(50):
    try:
        s.connect(path); break
    except OSError:
        time.sleep(0.2)
else:
    sys.exit(f"qmp: cannot connect to {path}")
f = s.makefile("rw")
def recv():
    line = f.readline()
    if not line:
        sys.exit("qmp: connection closed")
    return json.loads(line)
def cmd(name, **args):
    f.write(json.dumps({"execute": name, "arguments": args} if args else {"execute": name}) + "\n")
    f.flush()
    while True:
        m = recv()
        if "return" in m:
            return m["return"]
        if "error" in m:
            sys.exit(f"qmp: {name}: {m['error'].get('desc', m['error'])}")
        # asynchronous events (STOP, DUMP_COMPLETED, ...) are ignored
recv()                                  # greeting
cmd("qmp_capabilities")
cmd("stop")
cmd("dump-guest-memory", paging=False, protocol="file:" + vmcore, detach=False)
st = cmd("query-dump")
if st.get("status") != "completed":
    sys.exit(f"qmp: dump status {st}")
try:
    cmd("quit")
except SystemExit:
    pass                                # QEMU may close the socket before replying
PY
for _ in $(seq 1 20); do kill -0 "$QPID" 2>/dev/null || break; sleep 0.5; done
kill -0 "$QPID" 2>/dev/null && { kill "$QPID" 2>/dev/null || true; }
wait "$QPID" 2>/dev/null || true
QPID=""
rm -f "$QMP"
[ -s "$OUT/vmcore" ] || die "no vmcore written"

# --- 4. drgn ------------------------------------------------------------------------
log "reading the dump with drgn"
python3 "$HERE/drgn-traces.py" "$OUT/vmcore" "$VMLINUX61" "$OUT/drgn.txt" ||
  die "drgn could not read $OUT/vmcore"

# --- 5. summary ---------------------------------------------------------------------
tasks=$(grep -c '^task ' "$OUT/drgn.txt" || true)
errs=$(grep -c '^error: ' "$OUT/drgn.txt" || true)
frames=$(grep -c '^#' "$OUT/drgn.txt" || true)
sysrq=$(grep -c 'task:' "$OUT/console.log" || true)
calltr=$(grep -c 'Call Trace:' "$OUT/console.log" || true)
echo "vmcore:      $OUT/vmcore ($(stat -c %s "$OUT/vmcore") bytes, $(du -h "$OUT/vmcore" | cut -f1) on disk)"
echo "drgn:        $OUT/drgn.txt ($tasks tasks, $frames frames, $errs errors)"
echo "console.log: $OUT/console.log (sysrq-t: $sysrq 'task:' lines, $calltr 'Call Trace:' lines)"
[ "$sysrq" -gt 0 ] || echo "warning: no sysrq-t output in console.log" >&2
echo "took:        $((SECONDS - START))s"
