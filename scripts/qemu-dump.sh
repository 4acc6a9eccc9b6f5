#!/usr/bin/env bash
# Boot a real Debian cloud kernel of the corpus under QEMU (TCG) with a busybox
# initramfs, let it print every task's stack with its own ORC unwinder (sysrq-t,
# on the serial console), optionally crash it, then dump guest memory and check
# with drgn that the dump is readable. For comparing other unwinders against
# the kernel's own.
#
# usage: scripts/qemu-dump.sh [--kernel 6.1|6.12] [--scenario NAME] OUTDIR
#        (or KERNEL=... SCENARIO=... in the environment)
#        scripts/qemu-dump.sh --bzimage PATH --vmlinux PATH --fwcfg PATH [--scenario default] OUTDIR
#        a kernel built from source instead of a Debian package (scripts/kbuild.sh
#        leaves bzImage, vmlinux and qemu_fw_cfg.ko in its cache): the vmlinux
#        must be the bzImage's (their version strings are compared); scenario
#        default (or default-kaslr) only (the others load the test module, built for the packaged
#        kernels); no drgn (such a build has no debug info): console.log,
#        vmcore and summary.txt
# Scenarios:
#   default  a few sleeping, blocked and running busybox tasks, sysrq-t; ELF core only
#            (the dump `make dump` makes for the tests)
#   busy     default + the test module Examples/dumpmod (scripts/dumpmod-build.sh):
#            its kthread orctool_kthr sleeping, a dd blocked in read() of
#            /dev/orctool_dumptest, a stty blocked in its ioctl(), then sysrq-t
#   oops     busy, booted with oops=panic panic=0, then `echo oops >
#            /dev/orctool_dumptest`: kthread orctool_oops dereferences NULL in the
#            module, the oops panics; dumped after the panic's end marker
#   sysrq-c  busy, panic=0, then `echo c > /proc/sysrq-trigger` (panic in process context)
#   nmi      busy, panic=0, kernel.unknown_nmi_panic=1, then QMP inject-nmi (every
#            CPU gets it): "NMI: Not continuing" panics in NMI context
# Every scenario but default is dumped twice from the same stopped state: ELF
# (vmcore) and kdump-compressed with zlib. QEMU 7.2 writes the kdump formats
# only as makedumpfile's flattened stream (vmcore.kdump.flat, kept as written);
# vmcore.kdump is the ordinary kdump file it encodes (scripts/kdump-unflatten.py,
# byte for byte what `makedumpfile -R` writes).
# Writes OUTDIR/console.log        serial console (boot log, sysrq-t, oops/panic at loglevel 7)
#        OUTDIR/vmcore             ELF core from QMP dump-guest-memory (paging=false)
#        OUTDIR/vmcore.kdump       the same state, kdump-compressed (zlib) (not for default)
#        OUTDIR/vmcore.kdump.flat  QEMU's flattened kdump-zlib output it came from
#        OUTDIR/drgn.txt           drgn's stack trace of every task (scripts/drgn-traces.py),
#                                  with the -dbg package's module debug info and the test module's
#        OUTDIR/drgn-cpus.txt      drgn's crashed thread and each CPU's trace (--cpus)
#        OUTDIR/orctool_dumptest.ko the test module the guest loaded (not for default)
#        OUTDIR/summary.txt        kernel, scenario, timings and sizes (also on stdout)
#        OUTDIR/qemu.log           QEMU's own stdout/stderr
# Environment: QEMU_DUMP_TIMEOUT (seconds to wait for the guest, default 600).
set -euo pipefail

die() { echo "qemu-dump: error: $*" >&2; exit 1; }
log() { echo "qemu-dump: $*" >&2; }
usage() {
  echo "usage: $0 [--kernel 6.1|6.12] [--scenario default|busy|oops|sysrq-c|nmi[-kaslr]] OUTDIR" >&2
  echo "       $0 --bzimage PATH --vmlinux PATH --fwcfg PATH [--scenario default[-kaslr]] OUTDIR" >&2
  exit 2
}

KERNEL="${KERNEL:-6.1}"
SCENARIO="${SCENARIO:-default}"
BZIMAGE=""; BUILT_VMLINUX=""; BUILT_FWCFG=""
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bzimage) [ $# -ge 2 ] || usage; BZIMAGE="$2"; shift 2 ;;
    --bzimage=*) BZIMAGE="${1#*=}"; shift ;;
    --vmlinux) [ $# -ge 2 ] || usage; BUILT_VMLINUX="$2"; shift 2 ;;
    --vmlinux=*) BUILT_VMLINUX="${1#*=}"; shift ;;
    --fwcfg) [ $# -ge 2 ] || usage; BUILT_FWCFG="$2"; shift 2 ;;
    --fwcfg=*) BUILT_FWCFG="${1#*=}"; shift ;;
    --kernel) [ $# -ge 2 ] || usage; KERNEL="$2"; shift 2 ;;
    --kernel=*) KERNEL="${1#*=}"; shift ;;
    --scenario) [ $# -ge 2 ] || usage; SCENARIO="$2"; shift 2 ;;
    --scenario=*) SCENARIO="${1#*=}"; shift ;;
    -h|--help) usage ;;
    -*) echo "qemu-dump: unknown option $1" >&2; usage ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
[ ${#ARGS[@]} -eq 1 ] || usage
case "$KERNEL" in 6.1|6.12) ;; *) die "unknown kernel '$KERNEL' (6.1 or 6.12)" ;; esac
# SCENARIO-kaslr: the same with the kernel's address randomization on (no nokaslr):
# the dump's KERNELOFFSET then moves every vmlinux address.
KASLR=0
case "$SCENARIO" in *-kaslr) KASLR=1; SCENARIO="${SCENARIO%-kaslr}" ;; esac
case "$SCENARIO" in default|busy|oops|sysrq-c|nmi) ;; *) die "unknown scenario '$SCENARIO'" ;; esac
BUILT=0
if [ -n "$BZIMAGE$BUILT_VMLINUX$BUILT_FWCFG" ]; then
  BUILT=1
  if [ -z "$BZIMAGE" ] || [ -z "$BUILT_VMLINUX" ] || [ -z "$BUILT_FWCFG" ]; then
    die "a built kernel needs all of --bzimage, --vmlinux and --fwcfg"
  fi
  [ "$SCENARIO" = default ] || die "a built kernel runs scenario default only (the others load the test module)"
  for f in "$BZIMAGE" "$BUILT_VMLINUX" "$BUILT_FWCFG"; do [ -f "$f" ] || die "no such file: $f"; done
fi
HERE="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "${ARGS[0]}" || die "cannot create ${ARGS[0]}"
OUT="$(cd "${ARGS[0]}" && pwd)"
TIMEOUT="${QEMU_DUMP_TIMEOUT:-600}"
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
if [ "$BUILT" = 0 ] && ! python3 -c 'import drgn' 2>/dev/null; then
  log "installing drgn"
  python3 -m pip install -q drgn==0.3.0 >&2 || die "pip install drgn==0.3.0 failed"
fi
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found"
[ -x /bin/busybox ] || die "/bin/busybox not found (busybox-static)"

if [ "$BUILT" = 1 ]; then
  # The version string the boot protocol header points to (kernel_version, at
  # 0x200 + the 16-bit value at 0x20e): "RELEASE (BY@HOST) UTS_VERSION"; the
  # vmlinux's linux_banner is "Linux version RELEASE (BY@HOST) (COMPILER) UTS_VERSION".
  off=$(od -An -tu2 -j 526 -N 2 "$BZIMAGE" | tr -d ' ')
  KVER_FULL=$(dd if="$BZIMAGE" bs=1 skip=$((off + 512)) count=256 status=none | tr '\0' '\n' | head -n 1)
  case "$KVER_FULL" in *") "*) ;; *) die "cannot read the version string of $BZIMAGE" ;; esac
  if ! strings -a "$BUILT_VMLINUX" | grep -F "Linux version ${KVER_FULL%% *} " | grep -qF ") ${KVER_FULL#*) }"; then
    die "$BUILT_VMLINUX has no linux_banner of $BZIMAGE's version '$KVER_FULL': not the same build"
  fi
  KVER="${KVER_FULL%% *}"
  VMLINUZ="$(cd "$(dirname "$BZIMAGE")" && pwd)/$(basename "$BZIMAGE")"
  FWCFG="$BUILT_FWCFG"
else
  if [ "$KERNEL" = 6.1 ]; then
    bash "$HERE/corpus.sh" --dbg || die "scripts/corpus.sh --dbg failed"
  else
    bash "$HERE/corpus.sh" --dbg --dbg612 || die "scripts/corpus.sh --dbg --dbg612 failed"
  fi
  CACHE="${ORCTOOL_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/orctool/corpus}"
  # shellcheck disable=SC1091
  source "$CACHE/corpus.env"
  if [ "$KERNEL" = 6.1 ]; then
    MODS="${MODULES61:-}"; VMLINUX="${VMLINUX61:-}"
    # The unsigned image package holds the vmlinuz; MODULES61 is its lib/modules/KREL/kernel.
    PKG="$(cd "$MODS/../../../.." 2>/dev/null && pwd)" || die "MODULES61 is not a directory: '$MODS'"
  else
    # MODULES612 is a decompressed copy of the image package's .ko.xz tree.
    MODS="${MODULES612:-}"; VMLINUX="${VMLINUX612:-}"
    [ -d "$MODS" ] || die "MODULES612 is not a directory: '$MODS'"
    PKG="$CACHE/x/linux-image-$(basename "$(dirname "$MODS")")-unsigned"
  fi
  [ -d "$MODS" ] || die "the $KERNEL modules directory is missing: '$MODS'"
  [ -f "$VMLINUX" ] || die "the $KERNEL -dbg vmlinux is missing: '$VMLINUX'"
  KVER="$(basename "$(dirname "$MODS")")"               # .../lib/modules/KVER/kernel
  VMLINUZ="$PKG/boot/vmlinuz-$KVER"
  FWCFG="$MODS/drivers/firmware/qemu_fw_cfg.ko"
  # The -dbg package's module debug info, for drgn (.../usr/lib/debug/boot/vmlinux-KVER).
  MODDEBUG="$(dirname "$(dirname "$VMLINUX")")/lib/modules/$KVER"
  [ -f "$VMLINUZ" ] || die "kernel image not found: $VMLINUZ"
  [ -f "$FWCFG" ] || die "module not found: $FWCFG"
  [ -d "$MODDEBUG" ] || die "module debug info not found: $MODDEBUG"
fi

# --- the scenario --------------------------------------------------------------
APPEND="console=ttyS0 nokaslr loglevel=7"
[ "$KASLR" = 0 ] || APPEND="console=ttyS0 loglevel=7"
# Three CPUs but for default: the busy loop keeps one in user mode and the
# crash takes one, so at a panic at least one is idle in the kernel, which the
# panic's stop IPI then catches on its hardirq stack (from user mode it would
# stay on the task stack).
TESTMOD=0; KDUMP=1; NMI=0; PANIC=""; SMP=3
case "$SCENARIO" in
  default) APPEND+=" panic=-1"; KDUMP=0; SMP=2 ;;
  busy) APPEND+=" panic=-1"; TESTMOD=1 ;;
  oops) APPEND+=" oops=panic panic=0"; TESTMOD=1; PANIC="Kernel panic - not syncing: Fatal exception" ;;
  sysrq-c) APPEND+=" panic=0"; TESTMOD=1; PANIC="Kernel panic - not syncing: sysrq triggered crash" ;;
  nmi) APPEND+=" panic=0"; TESTMOD=1; NMI=1; PANIC="Kernel panic - not syncing: NMI: Not continuing" ;;
esac

rm -f "$OUT/console.log" "$OUT/vmcore" "$OUT/vmcore.kdump" "$OUT/vmcore.kdump.flat" "$OUT/drgn.txt" "$OUT/drgn-cpus.txt" \
  "$OUT/orctool_dumptest.ko" "$OUT/summary.txt" "$OUT/qmp.sock" "$OUT/build.log"
if [ "$TESTMOD" = 1 ]; then
  bash "$HERE/dumpmod-build.sh" "$KERNEL" "$OUT" >/dev/null || die "building the test module failed"
fi

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
[ "$TESTMOD" = 0 ] || cp "$OUT/orctool_dumptest.ko" "$R/orctool_dumptest.ko"
echo "$SCENARIO" > "$R/scenario"
mknod -m 600 "$R/dev/console" c 5 1 2>/dev/null || true
cat > "$R/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
SCENARIO=$(cat /scenario)
echo "orctool-init: starting ($SCENARIO)"
# Publishes VMCOREINFO to QEMU's vmcoreinfo device (goes into the dump's notes).
insmod /qemu_fw_cfg.ko || echo "orctool-init: insmod qemu_fw_cfg.ko failed"
sleep 100000 &                             # sleeping in nanosleep
sh -c 'while :; do :; done' &              # busy, runnable
mkfifo /fifo; cat /fifo &                  # blocked in open() of a fifo
sleep 100000 | cat > /dev/null &           # blocked in read() on a pipe
if [ -f /orctool_dumptest.ko ]; then
  # kthread orctool_kthr starts sleeping in the module
  insmod /orctool_dumptest.ko || echo "orctool-init: insmod orctool_dumptest.ko failed"
  dd if=/dev/orctool_dumptest of=/dev/null bs=1 count=1 &   # blocked in the module's read()
  stty < /dev/orctool_dumptest &           # TCGETS, blocked in the module's ioctl()
fi
sleep 1
echo 1 > /proc/sys/kernel/sysrq
echo t > /proc/sysrq-trigger               # every task's stack, kernel ORC unwinder
sleep 2                                    # let the console drain
case "$SCENARIO" in
  nmi) echo 1 > /proc/sys/kernel/unknown_nmi_panic ;;  # the host injects the NMI
esac
echo "orctool-init: ORCTOOL-READY" > /dev/kmsg
echo "ORCTOOL-READY"
case "$SCENARIO" in
  oops) echo oops > /dev/orctool_dumptest ;;   # kthread orctool_oops dereferences NULL
  sysrq-c) sh -c 'echo c > /proc/sysrq-trigger' ;;   # panics in a child, not in init
esac
while :; do sleep 3600; done
INIT
chmod 755 "$R/init"
INITRD="$TMP/initrd.gz"
(cd "$R" && find . -print0 | cpio --null -o -H newc --quiet -R 0:0 | gzip -1) > "$INITRD" ||
  die "building the initramfs failed"

# --- 2. boot ---------------------------------------------------------------------
: > "$OUT/console.log"
QMP="$OUT/qmp.sock"
log "booting $VMLINUZ (TCG, $SMP CPUs), scenario $SCENARIO"
qemu-system-x86_64 -machine q35 -accel tcg -cpu max,la57=off -smp "$SMP" -m 512M \
  -kernel "$VMLINUZ" -initrd "$INITRD" -append "$APPEND" \
  -device vmcoreinfo -display none -vga none -nic none -monitor none -no-reboot \
  -serial "file:$OUT/console.log" -qmp "unix:$QMP,server=on,wait=off" \
  > "$OUT/qemu.log" 2>&1 &
QPID=$!

# --- 3. wait for the guest (and its panic), stop, dump, quit ---------------------------
deadline=$((SECONDS + TIMEOUT))
until grep -q '^ORCTOOL-READY' "$OUT/console.log" 2>/dev/null; do
  kill -0 "$QPID" 2>/dev/null || { QPID=""; tail -n 20 "$OUT/console.log" >&2; die "QEMU exited before the guest was ready (see $OUT/qemu.log)"; }
  [ $SECONDS -lt $deadline ] || { tail -n 20 "$OUT/console.log" >&2; die "guest not ready after ${TIMEOUT}s"; }
  sleep 1
done
READY=$((SECONDS - START))
log "guest ready after ${READY}s"

# The QMP session: optionally inject an NMI, wait for the panic's end marker on
# the console, stop the guest, dump (ELF, then kdump-zlib of the same state), quit.
python3 - "$QMP" "$OUT" "$TIMEOUT" "$NMI" "$PANIC" "$KDUMP" <<'PY' || die "the QMP session failed"
import json, os, socket, sys, time
path, out, timeout, nmi, panic, kdump = sys.argv[1:]
timeout, nmi, kdump = float(timeout), nmi == "1", kdump == "1"
console = os.path.join(out, "console.log")
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
def log(msg):
    print(f"qemu-dump: {msg}", file=sys.stderr, flush=True)
def console_has(text):
    with open(console, errors="replace") as c:
        return text in c.read()
recv()                                  # greeting
cmd("qmp_capabilities")
if nmi:
    log("injecting an NMI (QMP inject-nmi)")
    cmd("inject-nmi")
if panic:
    # The panic message, then its closing "---[ end Kernel panic - not syncing: ... ]---".
    deadline = time.monotonic() + timeout
    end = "---[ end " + panic
    while not console_has(end):
        if time.monotonic() > deadline:
            sys.exit(f"qmp: no '{end}' on the console after {timeout:.0f}s")
        time.sleep(0.5)
    time.sleep(1)                       # the panic loop has started
    log("the guest panicked")
cmd("stop")
t = time.monotonic()
cmd("dump-guest-memory", paging=False, protocol="file:" + os.path.join(out, "vmcore"), detach=False)
st = cmd("query-dump")
if st.get("status") != "completed":
    sys.exit(f"qmp: ELF dump status {st}")
times = [time.monotonic() - t]
if kdump:
    t = time.monotonic()
    cmd("dump-guest-memory", paging=False, protocol="file:" + os.path.join(out, "vmcore.kdump.flat"),
        format="kdump-zlib", detach=False)
    st = cmd("query-dump")
    if st.get("status") != "completed":
        sys.exit(f"qmp: kdump dump status {st}")
    times.append(time.monotonic() - t)
with open(os.path.join(out, "dump-times"), "w") as d:
    d.write(" ".join(f"{x:.1f}" for x in times) + "\n")
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
if [ "$KDUMP" = 1 ]; then
  [ -s "$OUT/vmcore.kdump.flat" ] || die "no vmcore.kdump.flat written"
  python3 "$HERE/kdump-unflatten.py" "$OUT/vmcore.kdump.flat" "$OUT/vmcore.kdump" ||
    die "cannot unflatten $OUT/vmcore.kdump.flat"
fi
read -r T_ELF T_KDUMP < "$OUT/dump-times" || true
rm -f "$OUT/dump-times"
DUMPED=$((SECONDS - START))

# --- 4. drgn ------------------------------------------------------------------------
if [ "$BUILT" = 1 ]; then
  log "no drgn: a kernel built without debug info"
else
  log "reading the dump with drgn"
  debuginfo=("$MODDEBUG")
  [ "$TESTMOD" = 0 ] || debuginfo+=("$OUT/orctool_dumptest.ko")
  python3 "$HERE/drgn-traces.py" "$OUT/vmcore" "$VMLINUX" "$OUT/drgn.txt" --cpus "$OUT/drgn-cpus.txt" \
    "${debuginfo[@]}" || die "drgn could not read $OUT/vmcore"
  if [ "$KDUMP" = 1 ]; then
    # The same state through the other format: drgn's kernel frames must be the same
    # (user-space frames past the stack's end differ). drgn reads a copy whose header
    # utsname is filled in (see kdump-unflatten.py --fill-utsname).
    python3 "$HERE/kdump-unflatten.py" --fill-utsname "$OUT/vmcore.kdump.flat" "$TMP/vmcore.kdump"
    python3 "$HERE/drgn-traces.py" "$TMP/vmcore.kdump" "$VMLINUX" "$TMP/drgn-kdump.txt" "${debuginfo[@]}" 2>/dev/null ||
      die "drgn could not read (a copy of) $OUT/vmcore.kdump"
    rm -f "$TMP/vmcore.kdump"
    kernel_frames() { awk '!/^#/ || $2 ~ /^0xffff[89a-f]/' "$1"; }
    if diff <(kernel_frames "$OUT/drgn.txt") <(kernel_frames "$TMP/drgn-kdump.txt") > "$TMP/kdiff"; then
      KDUMP_CHECK="drgn's kernel frames of vmcore.kdump are vmcore's"
    else
      KDUMP_CHECK="drgn's kernel frames of vmcore.kdump DIFFER from vmcore's ($(grep -c '^[<>]' "$TMP/kdiff") lines)"
      log "warning: $KDUMP_CHECK"
    fi
  fi
fi

# --- 5. summary ---------------------------------------------------------------------
if [ "$BUILT" = 0 ]; then
  tasks=$(grep -c '^task ' "$OUT/drgn.txt" || true)
  errs=$(grep -c '^error: ' "$OUT/drgn.txt" || true)
  frames=$(grep -c '^#' "$OUT/drgn.txt" || true)
  modframes=$(grep -c ' dumptest_' "$OUT/drgn.txt" || true)
fi
sysrq=$(grep -c 'task:' "$OUT/console.log" || true)
calltr=$(grep -c 'Call Trace:' "$OUT/console.log" || true)
size() { echo "$(stat -c %s "$1") bytes, $(du -h "$1" | cut -f1) on disk"; }
{
  echo "kernel:      $KVER ($VMLINUZ)"
  echo "scenario:    $SCENARIO ($SMP CPUs, append: $APPEND)"
  echo "vmcore:      $OUT/vmcore ($(size "$OUT/vmcore"); dumped in ${T_ELF:-?}s)"
  if [ "$KDUMP" = 1 ]; then
    echo "vmcore.kdump: $OUT/vmcore.kdump ($(size "$OUT/vmcore.kdump"); dumped in ${T_KDUMP:-?}s; $KDUMP_CHECK)"
    echo "vmcore.kdump.flat: $(size "$OUT/vmcore.kdump.flat")"
  fi
  if [ "$BUILT" = 0 ]; then
    echo "drgn:        $OUT/drgn.txt ($tasks tasks, $frames frames, $modframes in dumptest_*, $errs errors)"
    echo "drgn cpus:   $(head -n 1 "$OUT/drgn-cpus.txt")"
  else
    echo "built:       $KVER_FULL"
    echo "vmlinux:     $BUILT_VMLINUX"
    echo "module:      $FWCFG"
    echo "drgn:        none (no debug info)"
  fi
  echo "console.log: $OUT/console.log (sysrq-t: $sysrq 'task:' lines, $calltr 'Call Trace:' lines)"
  echo "took:        ${READY}s to ready, ${DUMPED}s to dumped, $((SECONDS - START))s in all"
} | tee "$OUT/summary.txt"
[ "$sysrq" -gt 0 ] || echo "warning: no sysrq-t output in console.log" >&2
