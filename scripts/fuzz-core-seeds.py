#!/usr/bin/env python3
"""Small QEMU-style ELF cores for FuzzCoreDump's seeds, made at run time (no
binaries in the repository): an ET_CORE file with NT_PRSTATUS notes, a
VMCOREINFO note and PT_LOAD segments holding guest page tables (4-level, one
with 2 MiB and 1 GiB pages, one 5-level) that map a stack page and the pages
of the vmlinux symbols the task walk reads (given as NAME=ADDRESS arguments).
With --kdump DIR, the same memory of the 4- and 5-level cores as
kdump-compressed files for FuzzKdump (as QEMU's dump/dump.c writes them:
zlib and raw pages; plain and flattened; an incomplete one, a split part,
one with an LZO page).

usage: fuzz-core-seeds.py OUTDIR [--kdump KDUMPDIR] [init_task=0xffffffff... runqueues=... ...]
"""
import os
import struct
import sys
import zlib

START_KERNEL_MAP = 0xFFFFFFFF80000000
INIT_TOP_PGT = 0xFFFFFFFF82A0A000  # a virtual address in the kernel map
PHYS_BASE = 0x1000000


def note(name, ntype, desc):
    n = name.encode() + b"\0"
    pad = lambda b: b + b"\0" * (-len(b) % 4)
    return struct.pack("<III", len(n), len(desc), ntype) + pad(n) + pad(desc)


def prstatus(ip, sp, bp, cs=0x10):
    regs = [0] * 27
    regs[4] = bp  # rbp
    regs[16], regs[17], regs[19], regs[20] = ip, cs, sp, 0x18
    return bytes(112) + struct.pack("<27Q", *regs) + bytes(8)  # struct elf_prstatus: 336 bytes


class Memory:
    """Guest-physical memory as sparse segments; page tables built on demand."""

    def __init__(self, levels, big=None):
        self.levels = levels
        self.big = big  # None, 21 (2 MiB) or 30 (1 GiB) leaf at that shift
        self.segments = {}  # physical address -> bytearray
        self.next_table = 0x100000
        self.root = INIT_TOP_PGT - START_KERNEL_MAP + PHYS_BASE
        self.tables = {self.root: {}}

    def alloc(self):
        a = self.next_table
        self.next_table += 0x1000
        self.tables[a] = {}
        return a

    def map(self, virtual, physical):
        shifts = [48, 39, 30, 21, 12][5 - self.levels:]
        table = self.root
        for shift in shifts:
            index = (virtual >> shift) & 0x1FF
            leaf = shift == 12 or shift == self.big
            if leaf:
                self.tables[table][index] = (physical & ~((1 << shift) - 1)) | 0x63 | (0x80 if shift != 12 else 0)
                return
            entry = self.tables[table].get(index)
            if entry is None:
                nxt = self.alloc()
                self.tables[table][index] = nxt | 0x63
                table = nxt
            else:
                table = entry & 0x000FFFFFFFFFF000

    def page(self, physical, data):
        self.segments[physical] = data

    def loads(self):
        # each used page-table entry as its own 8-byte segment: the seed stays small
        out = []
        for table, entries in self.tables.items():
            for index, value in entries.items():
                out.append((table + index * 8, struct.pack("<Q", value)))
        out += [(a, bytes(d)) for a, d in self.segments.items()]
        return sorted(out)


def core(path, memory, vmcoreinfo, cpus):
    notes = b"".join(note("CORE", 1, prstatus(*c)) for c in cpus)
    notes += note("VMCOREINFO", 0, vmcoreinfo.encode())
    loads = memory.loads()
    phnum = 1 + len(loads)
    offset = 64 + 56 * phnum
    ph = struct.pack("<IIQQQQQQ", 4, 4, offset, 0, 0, len(notes), 0, 4)
    body = notes
    for physical, data in loads:
        at = offset + len(body)
        ph += struct.pack("<IIQQQQQQ", 1, 7, at, physical + 0xFFFF888000000000, physical, len(data), len(data), 1)
        body += data
    ident = b"\x7fELF\x02\x01\x01" + bytes(9)
    eh = ident + struct.pack("<HHIQQQIHHHHHH", 4, 62, 1, 0, 64, 0, 0, 64, 56, phnum, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(eh + ph + body)


def kdump(path, memory, vmcoreinfo, cpus, flatten=False, status=1, split=None, lzo=False):
    """`memory` as a kdump-compressed file: every page that holds a used table
    entry or data, alternately zlib and raw (block size 4096)."""
    bs = 0x1000
    pages = {}
    for physical, data in memory.loads():
        for k, b in enumerate(data):
            a = physical + k
            pages.setdefault(a // bs, bytearray(bs))[a % bs] = b
    max_mapnr = max(pages) + 8
    notes = b"".join(note("CORE", 1, prstatus(*c)) for c in cpus)
    info_offset = bs + 104 + len(notes) + 24
    notes += note("VMCOREINFO", 0, vmcoreinfo.encode())
    sub_blocks = -(-(104 + len(notes)) // bs)
    bitmap_blocks = 2 * -(-(-(-max_mapnr // 8)) // bs)
    bitmap = bs * (1 + sub_blocks)
    descs = bitmap + bs * bitmap_blocks
    head = bytearray(descs)
    head[0:8] = b"KDUMP   "
    struct.pack_into("<i", head, 8, 6)
    head[12 + 130:12 + 135] = b"6.1.0"
    head[12 + 260:12 + 266] = b"x86_64"
    struct.pack_into("<IiiIII", head, 424, status, bs, sub_blocks, bitmap_blocks, max_mapnr & 0xFFFFFFFF, len(pages))
    struct.pack_into("<i", head, 460, len(cpus))
    start, end = split if split else (0, 0)
    struct.pack_into("<QiiQQQQQQQQQQQ", head, bs, 0, 1, 1 if split else 0, start, end, info_offset,
                     len(vmcoreinfo), bs + 104, len(notes), 0, 0, start, end, max_mapnr)
    head[bs + 104:bs + 104 + len(notes)] = notes
    for pfn in range(max(pages) + 1):
        head[bitmap + pfn // 8] |= 1 << (pfn % 8)
    for pfn in pages:
        head[bitmap + bs * bitmap_blocks // 2 + pfn // 8] |= 1 << (pfn % 8)
    data = descs + 24 * len(pages)
    table, body = b"", b""
    for i, pfn in enumerate(sorted(pages)):
        page = bytes(pages[pfn])
        stored, flags = (page, 0) if i % 4 == 1 else (zlib.compress(page), 1)
        if lzo and i == 1:
            stored, flags = page[:64], 2
        table += struct.pack("<qIIQ", data + len(body), len(stored), flags, 0)
        body += stored
    plain = bytes(head) + table + body
    if flatten:  # makedumpfile's flattened format, as QEMU 7.2 writes kdump-zlib
        out = b"makedumpfile" + bytes(4) + struct.pack(">qq", 1, 1)
        out += bytes(4096 - len(out))
        for k in range(0, len(plain), 4096):
            out += struct.pack(">qq", k, len(plain[k:k + 4096])) + plain[k:k + 4096]
        plain = out + struct.pack(">qq", -1, -1)
    with open(path, "wb") as f:
        f.write(plain)


def main():
    args = sys.argv[1:]
    kdump_dir = None
    if "--kdump" in args:
        i = args.index("--kdump")
        kdump_dir = args[i + 1]
        del args[i:i + 2]
        os.makedirs(kdump_dir, exist_ok=True)
    out = args[0]
    os.makedirs(out, exist_ok=True)
    symbols = dict((k, int(v, 16)) for k, v in (a.split("=") for a in args[1:]))
    stack = 0xFFFFC90000010000
    text = 0xFFFFFFFF81000000
    for name, levels, big in (("core-4level", 4, None), ("core-2m", 4, 21), ("core-1g", 4, 30), ("core-5level", 5, None)):
        m = Memory(levels, big)
        stack_page = bytearray(0x1000)
        for k in range(0, 0x1000, 16):  # return addresses and saved bp values on the stack
            struct.pack_into("<QQ", stack_page, k, stack + k + 16, text + 0x100 + k)
        m.map(stack, 0x200000)
        m.page(0x200000, bytes(stack_page))
        # The task walk's symbols: __per_cpu_offset[0] points the per-CPU runqueues at a mapped
        # page whose `curr` slot area holds init_task's address; init_task gets three pages.
        pages = {}
        per_cpu_base = 0xFFFF88807FC00000
        # per-CPU symbols (runqueues, hardirq_stack_ptr) are offsets from each CPU's base
        at = {k: a + per_cpu_base if a < START_KERNEL_MAP else a for k, a in symbols.items()}
        wanted = [a + k for a in at.values() for k in (0, 0x1000)]
        if "init_task" in symbols:
            wanted.append(symbols["init_task"] + 0x2000)
        physical = 0x300000
        regions = {}
        for address in sorted(set(a & ~0xFFF for a in wanted)):
            if big is None:
                m.map(address, physical)
                m.page(physical, pages.setdefault(address, bytearray(0x1000)))
                physical += 0x1000
            else:  # one large page per region, the data page at its offset in it
                region = address >> big
                if region not in regions:
                    regions[region] = (1 + len(regions)) << 32
                    m.map(address, regions[region])
                m.page(regions[region] + (address & ((1 << big) - 1)), pages.setdefault(address, bytearray(0x1000)))
        def poke(address, value):
            page = pages.get(address & ~0xFFF)
            if page is not None:
                struct.pack_into("<Q", page, address & 0xFF8, value)
        if "__per_cpu_offset" in symbols:
            poke(symbols["__per_cpu_offset"], per_cpu_base)  # both CPUs on one base
            poke(symbols["__per_cpu_offset"] + 8, per_cpu_base)
        if "init_task" in symbols:
            # every slot of init_task holds its own address: `tasks.next` points back at the
            # list head (a one-task list, whatever the offset of `tasks`), the thread list is empty
            for k in range(0, 0x3000, 8):
                poke(symbols["init_task"] + k, symbols["init_task"] + k)
        if "hardirq_stack_ptr" in at:
            poke(at["hardirq_stack_ptr"], stack + 0x1000 - 8)
        if "runqueues" in symbols and "init_task" in symbols:
            rq = per_cpu_base + symbols["runqueues"]
            for k in range(0, 0x1000, 8):  # `curr` is somewhere in the first 4 KiB of rq
                poke(rq + k, symbols["init_task"])
        info = "OSRELEASE=6.1.0\nPAGESIZE=4096\nKERNELOFFSET=0\nNUMBER(phys_base)=%d\nSYMBOL(init_top_pgt)=%x\n" % (
            PHYS_BASE, INIT_TOP_PGT)
        if levels == 5:
            info += "NUMBER(pgtable_l5_enabled)=1\n"
        cpus = [(text + 0x40, stack + 0x100, stack + 0x180), (text, stack, 0, 0x33)]
        core(os.path.join(out, name), m, info, cpus)
        if kdump_dir and big is None:
            k = name.replace("core", "kdump")
            kdump(os.path.join(kdump_dir, k), m, info, cpus)
            if levels == 4:
                kdump(os.path.join(kdump_dir, k + "-flat"), m, info, cpus, flatten=True)
                kdump(os.path.join(kdump_dir, k + "-incomplete"), m, info, cpus, status=1 | 8)
                kdump(os.path.join(kdump_dir, k + "-split"), m, info, cpus, split=(0x100, 0x300))
                kdump(os.path.join(kdump_dir, k + "-lzo"), m, info, cpus, lzo=True)


main()
