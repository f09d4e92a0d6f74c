#!/usr/bin/env python3
"""Golden codebooks for tests/test-codebooks.c: tests/data/codebooks-golden.txt.

Run with the system interpreter (it has Debian's python3-torch 1.13):
    /usr/bin/python3 scripts/gen-codebooks.py /work/shared/reference/codebooks-all-bits.json \
        > tests/data/codebooks-golden.txt

Two sources, cross-checked:
  shared  the peers' own constructors run under torch 1.13 (the JSON given as argument: lpmm
          create_general_qmap, 4-bit Shampoo create_linear_map) for many (map, bits, sign) under
          ATEN_CPU_CAPABILITY = avx2, avx512 and default;
  torch   every other combination of bits 1-8 and sign, computed here by calling torch.linspace
          and the same tensor operations as the published constructions (docs/quantizers.md), one
          child process per capability (ATEN_CPU_CAPABILITY is read once, at import).
Every combination both sources have must agree bit for bit, or the script fails.  Without torch
only the shared tables are written.

Output: one line per table, "MAP BITS s|u CAP SOURCE HEX...", MAP in lbq's names
(dtree, dtree0, linear, pow2, linsq), values in ascending index order as the peer stores them.
"""
import json, os, subprocess, sys

CAPS = ("avx2", "avx512", "default")
PEER2LBQ = {"nonlinear": "dtree", "nonlinear-nozero": "dtree0", "power-1": "linear",
            "power-2": "pow2", "shampoo-linear2": "linsq"}
MAPS = ("dtree", "dtree0", "linear", "pow2", "linsq")

CHILD = r'''
import json, struct, sys, torch
def hx(t):
    return ["%08x" % struct.unpack("<I", struct.pack("<f", float(v)))[0] for v in t.tolist()]
def dynamic(bits, signed):
    # lpmm: 1 bit is [-1, 1] / [0, 1]; else decades i = 0..E-1 (E = bits-1) of the midpoints of
    # linspace(0.1, 1, n_i + 1), n_i = 2^i signed or 2^(i+1) unsigned, times the Python scalar 10**(i-E+1)
    if bits == 1:
        return torch.Tensor([-1.0, 1.0]) if signed else torch.Tensor([0.0, 1.0])
    E, data = bits - 1, []
    for i in range(E):
        n = 2 ** i if signed else 2 ** (i + 1)
        b = torch.linspace(0.1, 1, n + 1)
        m = (b[:-1] + b[1:]) / 2.0
        data += ((10 ** (i - E + 1)) * m).tolist()
        if signed:
            data += (-(10 ** (i - E + 1)) * m).tolist()
    data += [0, 1.0]
    data.sort()
    return torch.Tensor(data)
def pow_map(bits, signed, p):
    if bits == 1:
        return torch.Tensor([-1.0, 1.0]) if signed else torch.Tensor([0.0, 1.0])
    if signed:
        q = torch.linspace(-1, 1, 2 ** bits)
        return q if p == 1 else q.sign() * (q.abs() ** p)
    q = torch.linspace(0, 1, 2 ** bits + 1)[1:]
    return q if p == 1 else q ** p
def linear2(bits, signed):
    if signed:
        d = torch.linspace(-1, 1, 2 ** bits)
        d[2 ** (bits - 1) - 1] = 0
    else:
        d = torch.linspace(0, 1, 2 ** bits)
    return d.sign() * d.abs().pow(2)
out = {}
for b in range(1, 9):
    for s in (1, 0):
        k = "%d:%s" % (b, "s" if s else "u")
        out["dtree:" + k] = hx(dynamic(b, s))
        d0 = dynamic(b, s)
        if not s and b > 1:
            d0[0] = d0[1]
        out["dtree0:" + k] = hx(d0)
        out["linear:" + k] = hx(pow_map(b, s, 1))
        out["pow2:" + k] = hx(pow_map(b, s, 2))
        out["linsq:" + k] = hx(linear2(b, s))
json.dump(out, sys.stdout)
'''


def main(path):
    shared = json.load(open(path))
    tabs = {}       # (map, bits, sign, cap) -> (source, hexes)
    for cap in CAPS:
        for key, hexes in shared["lpmm"][cap].items():
            peer, bits, sign = key.split(":")
            tabs[(PEER2LBQ[peer], int(bits), sign, cap)] = ("shared", hexes)
    # 4-bit Shampoo's own run (one capability, the machine's default: avx2 under torch 1.13)
    for key, hexes in shared.get("shampoo", {}).items():
        peer, bits, sign = key.split(":")
        old = tabs.get((PEER2LBQ[peer], int(bits), sign, "avx2"))
        if old and old[1] != hexes:
            sys.exit(f"gen-codebooks: shampoo {key} differs from lpmm/avx2 run of the same constructor")
    have_torch = subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode == 0
    if have_torch:
        for cap in CAPS:
            env = dict(os.environ, ATEN_CPU_CAPABILITY=cap, OMP_NUM_THREADS="1")
            r = subprocess.run(["/usr/bin/python3", "-c", CHILD], env=env, capture_output=True, text=True)
            if r.returncode:
                sys.exit(f"gen-codebooks: torch child ({cap}) failed:\n{r.stderr}")
            for key, hexes in json.loads(r.stdout).items():
                m, bits, sign = key.split(":")
                k = (m, int(bits), sign, cap)
                if k in tabs:
                    if tabs[k][1] != hexes:
                        sys.exit(f"gen-codebooks: {k}: torch here and the shared run differ")
                else:
                    tabs[k] = ("torch", hexes)
    else:
        print("gen-codebooks: torch not importable; writing the shared tables only", file=sys.stderr)
    print("# Golden fp32 codebooks (hex), generated by scripts/gen-codebooks.py; do not edit.")
    print("# MAP BITS SIGN CAP SOURCE HEX...  (shared: /work/shared/reference/codebooks-all-bits.json,")
    print("# torch: torch.linspace and tensor ops under ATEN_CPU_CAPABILITY=CAP, Debian python3-torch 1.13)")
    for k in sorted(tabs, key=lambda k: (MAPS.index(k[0]), k[1], k[2], CAPS.index(k[3]))):
        src, hexes = tabs[k]
        print(k[0], k[1], k[2], k[3], src, " ".join(hexes))


main(sys.argv[1])
