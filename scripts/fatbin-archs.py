#!/usr/bin/python3
"""fatbin-archs.py OBJ_OR_ARCHIVE... - list what CUDA code a host object (or a static library of
them) embeds: one line per fatbinary entry, "sass sm_NN" or "ptx compute_NN", sorted, unique.

The fatbinary (section .nv_fatbin, or anywhere in an archive) is a header (magic 0xBA55ED50,
u16 version, u16 header size, u64 size) followed by entries (u16 kind: 1 PTX, 2 ELF/SASS; u16;
u32 entry header size; u64 payload size; ...; u32 at byte 28: the architecture).  This is the
layout `cuobjdump --list-elf/--list-ptx` reads; tests/cli/test-cuda-build.sh compares the two where
cuobjdump exists.  Used where cuobjdump is not installed (nvcc without the binary utilities)."""
import struct
import sys

MAGIC = struct.pack('<I', 0xBA55ED50)


def entries(data):
    out = set()
    i = data.find(MAGIC)
    while i >= 0:
        _, _, hsz, fsz = struct.unpack_from('<IHHQ', data, i)
        p, end = i + hsz, i + hsz + fsz
        while p + 32 <= end and p + 32 <= len(data):
            kind, _, ehs, psz = struct.unpack_from('<HHIQ', data, p)
            arch = struct.unpack_from('<I', data, p + 28)[0]
            if kind == 2:
                out.add('sass sm_%d' % arch)
            elif kind == 1:
                out.add('ptx compute_%d' % arch)
            else:
                break
            if ehs == 0:
                break
            p += ehs + psz
        i = data.find(MAGIC, max(end, i + 4))
    return out


def main():
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    found = set()
    for path in sys.argv[1:]:
        with open(path, 'rb') as f:
            found |= entries(f.read())
    for e in sorted(found):
        print(e)
    return 0


if __name__ == '__main__':
    sys.exit(main())
