#!/usr/bin/env python3
"""Real objects made to break objtool's UACCESS rules, one SMAP site at a time.

    mutate-smap.py IN                  the number of X86_FEATURE_SMAP entries
    mutate-smap.py IN OUT K            OUT = IN with the K-th entry's replacement,
                                       if it is a lone STAC or CLAC, made a 3-byte NOP;
                                       prints stac, clac or skip

compare-uaccess.sh runs objtool 6.1 and orctool with --uaccess on each such
object: a CLAC gone leaves UACCESS enabled at a call or return, a STAC gone
makes the CLAC redundant, in real code (6.1's 12-byte alt_instr)."""
import struct
import sys

SMAP = 9 * 32 + 20


def sections(data):
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    out = []
    for i in range(shnum):
        name, typ, _flags, _addr, off, size, link, info = struct.unpack_from(
            "<IIQQQQII", data, shoff + i * shentsize)
        out.append([name, typ, off, size, link, info])
    strings = out[shstrndx][2]
    for s in out:
        s[0] = data[strings + s[0]:data.index(b"\0", strings + s[0])].decode()
    return out


def smap_replacements(data):
    """(file offset, length) of each SMAP entry's replacement, in entry order."""
    secs = sections(data)
    names = [s[0] for s in secs]
    if ".altinstructions" not in names or ".rela.altinstructions" not in names:
        return []
    alt = secs[names.index(".altinstructions")]
    rela = secs[names.index(".rela.altinstructions")]
    symtab = secs[rela[4]]
    repl_of = {}
    for k in range(0, rela[3], 24):
        offset, info, addend = struct.unpack_from("<QQq", data, rela[2] + k)
        repl_of[offset] = (info >> 32, addend)
    out = []
    for e in range(0, alt[3] - alt[3] % 12, 12):
        feature, = struct.unpack_from("<H", data, alt[2] + e + 8)
        if feature != SMAP:
            continue
        replacement_length = data[alt[2] + e + 11]
        sym, addend = repl_of.get(e + 4, (None, None))
        if sym is None:
            out.append(None)
            continue
        _name, _info, _other, shndx, value, _size = struct.unpack_from("<IBBHQQ", data, symtab[2] + sym * 24)
        out.append((secs[shndx][2] + value + addend, replacement_length))
    return out


def main():
    data = bytearray(open(sys.argv[1], "rb").read())
    sites = smap_replacements(data)
    if len(sys.argv) == 2:
        print(len(sites))
        return
    site = sites[int(sys.argv[3])]
    what = "skip"
    if site and site[1] == 3:
        start = site[0]
        if data[start:start + 3] in (b"\x0f\x01\xca", b"\x0f\x01\xcb"):
            what = "clac" if data[start + 2] == 0xCA else "stac"
            data[start:start + 3] = b"\x0f\x1f\x00"
    open(sys.argv[2], "wb").write(data)
    print(what)


main()
