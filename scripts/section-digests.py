#!/usr/bin/env python3
"""Print one line per code section of an ELF64 object, and per relocation section
of a code section: `NAME SHA256`, sorted by name. compare-uaccess.sh compares
what two tools left in the same object: the bytes objtool's hacks rewrite in
place (.text, the relocations' r_info), whatever the file layout around them.
With --smap: the number of X86_FEATURE_SMAP entries in .altinstructions (6.1's
12-byte alt_instr), what --uaccess follows instead of skipping."""
import hashlib
import struct
import sys

SHT_RELA = 4
SHF_EXECINSTR = 4


def digests(path, smap=False):
    data = open(path, "rb").read()
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    sections = []
    for i in range(shnum):
        name, typ, flags, _addr, off, size, _link, info = struct.unpack_from(
            "<IIQQQQII", data, shoff + i * shentsize)
        sections.append((name, typ, flags, off, size, info))
    strings_off = sections[shstrndx][3]

    def name_of(s):
        start = strings_off + s[0]
        return data[start:data.index(b"\0", start)].decode()

    if smap:
        alt = [s for s in sections if name_of(s) == ".altinstructions"]
        if not alt:
            return 0
        off, size = alt[0][3], alt[0][4]
        return sum(1 for k in range(0, size - size % 12, 12)
                   if struct.unpack_from("<H", data, off + k + 8)[0] == 9 * 32 + 20)
    out = []
    for s in sections:
        _name, typ, flags, off, size, info = s
        code = flags & SHF_EXECINSTR and typ != 8  # not SHT_NOBITS
        reloc_of_code = typ == SHT_RELA and info < len(sections) and sections[info][2] & SHF_EXECINSTR
        if code or reloc_of_code:
            out.append((name_of(s), hashlib.sha256(data[off:off + size]).hexdigest()))
    return sorted(out)


if sys.argv[1] == "--smap":
    print(digests(sys.argv[2], smap=True))
else:
    for name, digest in digests(sys.argv[1]):
        print(name, digest)
