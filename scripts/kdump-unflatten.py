#!/usr/bin/env python3
"""Rewrite a flattened kdump file as the ordinary kdump-compressed file it encodes.

usage: kdump-unflatten.py [--fill-utsname] FLAT OUT

QEMU before 8.2 writes `dump-guest-memory` kdump formats only in makedumpfile's
flattened (streamable) form: a 4096-byte header starting "makedumpfile", then
records of (offset, size) as big-endian int64 followed by size bytes, ended by
the record (-1, -1). Writing each record's bytes at its offset gives the file
`makedumpfile -R` would (signature "KDUMP   "), which libkdumpfile (drgn),
crash and makedumpfile read.

--fill-utsname: QEMU (7.2) fills only utsname.machine of the header;
libkdumpfile takes the architecture from the utsname only when sysname is
"Linux" and release and version are set, and drgn 0.3.0 then fails with
"kdump_get_string_attr(KDUMP_ATTR_ARCH_NAME): Key has no value". With this
option empty sysname, release and version become "Linux", VMCOREINFO's
OSRELEASE and "#1", so that drgn can read the copy (qemu-dump.sh checks its
kdump dumps that way; the dumps it keeps are as QEMU wrote them).
"""
import struct
import sys

HEADER = 4096
UTS = 12          # struct disk_dump_header: signature[8], header_version, utsname
UTS_LEN = 65      # sysname, nodename, release, version, machine, domainname


def fill_utsname(path):
    with open(path, "r+b") as f:
        head = f.read(4096)
        if not head.startswith(b"KDUMP   "):
            sys.exit(f"kdump-unflatten: {path}: not a kdump file")
        fields = [head[UTS + i * UTS_LEN:UTS + (i + 1) * UTS_LEN] for i in range(6)]
        # VMCOREINFO sits among the notes of the sub-header, before the page bitmap.
        f.seek(0)
        start = f.read(1 << 20)
        i = start.find(b"OSRELEASE=")
        release = start[i + 10:start.index(b"\n", i)] if i >= 0 else b"unknown"
        want = {0: b"Linux", 2: release, 3: b"#1"}
        for n, value in want.items():
            if fields[n].strip(b"\0") == b"":
                f.seek(UTS + n * UTS_LEN)
                f.write(value[:UTS_LEN - 1].ljust(UTS_LEN, b"\0"))


def main(argv):
    fill = len(argv) > 1 and argv[1] == "--fill-utsname"
    if fill:
        argv = argv[:1] + argv[2:]
    if len(argv) != 3:
        print("usage: kdump-unflatten.py [--fill-utsname] FLAT OUT", file=sys.stderr)
        return 2
    flat, out = argv[1:]
    with open(flat, "rb") as f, open(out, "wb") as o:
        head = f.read(HEADER)
        if len(head) != HEADER or not head.startswith(b"makedumpfile\0"):
            sys.exit(f"kdump-unflatten: {flat}: not a flattened kdump file (no makedumpfile header)")
        kind, version = struct.unpack(">qq", head[16:32])
        if (kind, version) != (1, 1):
            sys.exit(f"kdump-unflatten: {flat}: flattened type {kind} version {version}, expected 1 1")
        records = 0
        while True:
            rec = f.read(16)
            if len(rec) != 16:
                sys.exit(f"kdump-unflatten: {flat}: truncated after {records} records (no end record)")
            offset, size = struct.unpack(">qq", rec)
            if offset == -1 and size == -1:
                break
            if offset < 0 or size < 0:
                sys.exit(f"kdump-unflatten: {flat}: record {records}: offset {offset}, size {size}")
            data = f.read(size)
            if len(data) != size:
                sys.exit(f"kdump-unflatten: {flat}: record {records} truncated")
            o.seek(offset)
            o.write(data)
            records += 1
    if fill:
        fill_utsname(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
