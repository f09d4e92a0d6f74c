#!/usr/bin/python3
"""Time the peers' own quantizer code on CPU next to `lbq bench` in the same run (issue 22's 20x target).

Run it with the SYSTEM interpreter, /usr/bin/python3 (Debian's python3-torch 1.13 and python3-numpy);
another `python3` earlier on PATH usually lacks torch.

    /usr/bin/python3 bench/peers/bench-peers.py --solo DIR --coat DIR --lpmm DIR --bnb DIR [--lbq build/lbq]

DIR is a checkout of the peer's repository (MTandHJ/SOLO, NVlabs/COAT, thu-ml/low-bit-optimizers,
bitsandbytes-foundation/bitsandbytes).
Their modules are imported from those directories; nothing of theirs is copied into lbq.  For every
row the script times quantize+dequantize of the same Adam-like m/v that `lbq bench` generates (the
same formula and counter-based random numbers as cli/cmd-bench.c's gen(), in numpy), on CPU with
torch.set_num_threads(T), and reports the minimum and median of R repetitions in GB/s of fp32 input
(2N floats for an m+v row).  In the same run, first, it runs `lbq bench --quant <the matching
specs> --recipes <...> --no-sweep --json` with OMP_NUM_THREADS=T, and at the end prints, per map:
the peer's GB/s, lbq's GB/s (as `lbq quantize` stores: statistics, codes, scales), their ratio, a
lower bound of the ratio had the peer had all T cores, and whether it meets issue 22's 20x.
See bench/README.md ("Issue 22: lbq next to the peers' own code").
"""
import argparse
import ast
import importlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import types

PROG = "bench-peers"
TARGET = 20.0
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

EPILOG = """\
The system interpreter must be used: /usr/bin/python3 (Debian python3-torch 1.13, python3-numpy).

Peers (pass the checkouts you want; rows of a peer not given are skipped and say so):
  --solo DIR  MTandHJ/SOLO: src/solo/quantizer/qema_2bit.py (QemaOptimState2bit's copy_ handler:
              utils.scale_tensor, alpha = xp^(1/3), utils.quantize_with_alpha with its stochastic
              rounding, 2-bit packing; then .dequantize()) on v, vs lbq block128-log:b2:sr.
  --coat DIR  NVlabs/COAT: coat/activation/fake_quantization/quantize_function.py block_cut +
              block_quant (SymmQuantizer) + block_reshape, E4M3 and E5M2, on m, vs
              block128-fp8e4m3:coat / block128-fp8e5m2:coat; and tests/test_fp8_adamw_expand.py's
              simulated_optimizer_expand_step (the dynamic range expansion reference) on m and v,
              vs lbq's recipe coat (m+v).  SymmQuantizer calls a Triton kernel
              (floatExMy_quantize_triton); the script substitutes COAT's own pure-PyTorch reference
              floatExMy_quantize_torch (the commented-out line next to that call).  The CUDA
              optimizer kernels (qoptim_cuda) have no CPU path: listed as skipped.
  --lpmm DIR  thu-ml/low-bit-optimizers: lpmm/functional.py vectorwise_quant + vectorwise_dequant,
              round_type 'nearest' (the CUDA default 'real-nearest' has no CPU path), as
              lpmm/optim/adamw.py calls them: DE (nonlinear) group 128 on m and power-1 rank-1 on
              v at 4 and 3 bits, DE group 128 at 8 bits (on --lpmm8-size elements: its argmin
              takes N x 256 x 4 bytes twice).
  --bnb DIR   bitsandbytes-foundation/bitsandbytes: bitsandbytes/backends/default/ops.py, the
              pure-PyTorch 'default' kernels of quantize_blockwise + dequantize_blockwise, with
              functional.py's create_dynamic_map, block 256: on m vs block256-dtree:b8, and m
              (signed map) + v (unsigned map) as AdamW8bit stores them vs lbq's recipe bnb8.  Its
              native CPU library and CUDA kernels are not built here: listed as skipped.

Exit status: 0 when every timed row ran (met or not), 2 on a usage error (a missing checkout or
file is named), 1 when a peer's code or lbq failed."""


def die(msg, code=2):
    print("%s: error: %s" % (PROG, msg), file=sys.stderr)
    sys.exit(code)


def parse_size(text, opt):
    t = text.strip()
    mul = 1
    if t and t[-1] in "kK":
        mul, t = 1024, t[:-1]
    elif t and t[-1] == "M":
        mul, t = 1 << 20, t[:-1]
    try:
        n = int(t) * mul
    except ValueError:
        die("%s: '%s' is not a size (e.g. 16M, 256K, 1048576)" % (opt, text))
    if n < 1024 or n > (1 << 30):
        die("%s: '%s' is not between 1K and 1G elements" % (opt, text))
    return n


# ---- the data: lbq bench's generator (cli/cmd-bench.c gen()), in numpy ----------------------------

def philox_uniform(np, seed, stream, idx):
    """lbq_philox_uniform (quantizers/qcore.h): Philox4x32-10 of (index, stream), top 24 bits of word 0."""
    M = np.uint64(0xFFFFFFFF)
    c0 = idx & M
    c1 = idx >> np.uint64(32)
    c2 = np.full_like(idx, stream)
    c3 = np.full_like(idx, 0x6C62710A)
    k0, k1 = seed & 0xFFFFFFFF, seed >> 32
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c0
        p1 = np.uint64(0xCD9E8D57) * c2
        n0 = (p1 >> np.uint64(32)) ^ c1 ^ np.uint64(k0)
        n2 = (p0 >> np.uint64(32)) ^ c3 ^ np.uint64(k1)
        c1, c3, c0, c2 = p1 & M, p0 & M, n0, n2
        k0 = (k0 + 0x9E3779B9) & 0xFFFFFFFF
        k1 = (k1 + 0xBB67AE85) & 0xFFFFFFFF
    return (c0 >> np.uint64(8)).astype(np.float32) * np.float32(1.0 / 16777216.0)


def gen_mv(np, n, cols=1024, chunk=1 << 21):
    """m, v of n elements (a multiple of cols) exactly as lbq bench's gen() computes them."""
    m = np.empty(n, dtype=np.float32)
    v = np.empty(n, dtype=np.float32)
    for o in range(0, n, chunk):
        idx = np.arange(o, min(n, o + chunk), dtype=np.uint64)
        u1 = philox_uniform(np, 7, 0, idx)
        u2 = philox_uniform(np, 7, 1, idx)
        g = (np.sqrt(-2.0 * np.log(u1.astype(np.float64) + 1e-12)) *
             np.cos(6.283185307179586 * u2.astype(np.float64))).astype(np.float32)
        hot = ((idx // np.uint64(cols)) % np.uint64(97) == 0).astype(np.float32)
        rs = np.float32(1e-3) * (np.float32(1.0) + np.float32(9.0) * hot)
        mm = g * rs
        m[o:o + len(idx)] = mm
        v[o:o + len(idx)] = (mm * mm) * (np.float32(0.5) + u2) + np.float32(1e-12)
    return m, v


# ---- loading the peers' code from their checkouts ---------------------------------------------------

def stub_module(name, **attrs):
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    sys.modules[name] = mod
    return mod


def stub_package(name, path):
    """A package whose __init__ is not run (the peers' __init__ files import their whole stack)."""
    mod = stub_module(name)
    mod.__path__ = [path]
    return mod


def load_lpmm(root, torch):
    """lpmm/functional.py; its import of the CUDA extension (lpmm.cpp_extension.quantization) gets a
    stand-in that fails if called (only the 'real-*' round types call it)."""
    def no_cuda(*_a, **_k):
        raise RuntimeError("lpmm's CUDA extension is not available on CPU")
    stub_package("lpmm", os.path.join(root, "lpmm"))
    ext = stub_package("lpmm.cpp_extension", os.path.join(root, "lpmm", "cpp_extension"))
    q = stub_module("lpmm.cpp_extension.quantization", pack_nonlinear=no_cuda, unpack_nonlinear=no_cuda)
    ext.quantization = q
    return importlib.import_module("lpmm.functional")


class _AnyOp:
    """Stand-in for an operator name torch 1.13 lacks (c10d_functional.*): only used as a dict key."""
    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        return _AnyOp(self._name + "." + attr)


def load_solo(root, torch, seed):
    """src/solo/quantizer/qema_2bit.py.  SOLO targets torch >= 2.4 with torchao; on 1.13 the module is
    given stand-ins for what it imports but the timed path never runs: torchao.utils (the
    TorchAOBaseTensor base class, reduced to its `implements` registry of aten handlers and a
    __torch_dispatch__ that calls them, and the version flags), torch.utils._python_dispatch.return_and_correct_aliasing, and the names of the
    c10d_functional collectives.  SOLO's global generator (init_adaq_generator makes a CUDA one) is
    a CPU torch.Generator seeded with `seed`."""
    class TorchAOBaseTensor(torch.Tensor):
        __torch_function__ = torch._C._disabled_torch_function_impl

        @classmethod
        def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
            fn = cls.__dict__.get("_handlers", {}).get(func)
            if fn is None:
                raise NotImplementedError("%s: %s is not implemented by SOLO's subclass" % (cls.__name__, func))
            return fn(func, types, args, kwargs or {})

        @classmethod
        def implements(cls, ops):
            ops = ops if isinstance(ops, (list, tuple)) else [ops]

            def deco(fn):
                table = cls.__dict__.get("_handlers")
                if table is None:
                    table = {}
                    setattr(cls, "_handlers", table)
                for op in ops:
                    table[op] = fn
                return fn
            return deco

    stub_module("torchao")
    stub_module("torchao.utils", TorchAOBaseTensor=TorchAOBaseTensor,
                TORCH_VERSION_AT_LEAST_2_4=False, TORCH_VERSION_AT_LEAST_2_5=False)
    import torch.utils._python_dispatch as pd
    if not hasattr(pd, "return_and_correct_aliasing"):
        def _no(*_a, **_k):
            raise RuntimeError("return_and_correct_aliasing needs torch >= 2.1")
        pd.return_and_correct_aliasing = _no
    for ns in ("c10d_functional", "_c10d_functional"):
        try:
            getattr(getattr(torch.ops, ns), "wait_tensor").default
        except (AttributeError, RuntimeError):
            setattr(torch.ops, ns, _AnyOp(ns))
    stub_package("solo", os.path.join(root, "src", "solo"))
    stub_package("solo.quantizer", os.path.join(root, "src", "solo", "quantizer"))
    utils = importlib.import_module("solo.quantizer.utils")
    utils.adaq_generator = torch.Generator().manual_seed(seed)
    return importlib.import_module("solo.quantizer.qema_2bit")


def load_coat(root, torch):
    """coat/activation/fake_quantization/quantize_function.py with COAT's pure-PyTorch reference
    floatExMy_quantize_torch in place of its Triton kernel (FloatPointQuantizeTriton imports triton,
    which has no CPU build here: that module gets a stand-in), and the dynamic range expansion
    reference simulated_optimizer_expand_step of tests/test_fp8_adamw_expand.py: the file's imports
    (but `import qoptim_cuda`, the CUDA extension), QArgs, qargs, RatioUpperbound, power_options and
    that function are executed from the file itself (its other top-level statements create CUDA
    tensors)."""
    fq = "coat.activation.fake_quantization"

    def no_triton(*_a, **_k):
        raise RuntimeError("COAT's Triton kernel is not available on CPU")
    if root not in sys.path:
        sys.path.insert(0, root)
    stub_module(fq + ".FloatPointQuantizeTriton", floatExMy_quantize_triton=no_triton)
    qf = importlib.import_module(fq + ".quantize_function")
    ref = importlib.import_module(fq + ".FloatPointQuantizeTorch")
    qf.floatExMy_quantize_triton = ref.floatExMy_quantize_torch
    return qf


def load_coat_dre(root, torch, m2d):
    path = os.path.join(root, "tests", "test_fp8_adamw_expand.py")
    with open(path) as f:
        tree = ast.parse(f.read(), filename=path)
    keep_assign = {"qargs", "RatioUpperbound", "power_options"}
    body = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            node.names = [a for a in node.names if a.name != "qoptim_cuda"]
            if node.names:
                body.append(node)
        elif isinstance(node, ast.ImportFrom):
            body.append(node)
        elif isinstance(node, ast.ClassDef) and node.name == "QArgs":
            body.append(node)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in keep_assign for t in node.targets):
            body.append(node)
        elif isinstance(node, ast.FunctionDef) and node.name == "simulated_optimizer_expand_step":
            body.append(node)
    tree.body = body
    g = {"__name__": "coat_test_fp8_adamw_expand", "fp_exp_avg": m2d}   # power_options = tensor(...).to(fp_exp_avg)
    exec(compile(tree, path, "exec"), g)
    if "simulated_optimizer_expand_step" not in g or "power_options" not in g:
        raise RuntimeError("%s: simulated_optimizer_expand_step or power_options not found" % path)
    return g


def load_bnb(root, torch):
    """bitsandbytes/backends/default/ops.py, the pure-PyTorch 'default' backend of the
    bitsandbytes::quantize_blockwise / dequantize_blockwise ops (the package itself needs torch >= 2
    and its native library to import): its relative imports get stand-ins (register_kernel records
    each kernel under its op name; _get_4bit_code is not on the timed path), torch.compile is absent
    on 1.13 so _try_torch_compile returns the plain function, as it does wherever compiling fails.
    The 8-bit maps are bitsandbytes/functional.py's create_dynamic_map, executed from that file
    alone (the module loads the native library)."""
    kernels = {}

    def register_kernel(name, backend):
        def deco(fn):
            kernels[(name, backend)] = fn
            return fn
        return deco

    def no_4bit(*_a, **_k):
        raise RuntimeError("not used")
    stub_package("bitsandbytes", os.path.join(root, "bitsandbytes"))
    stub_package("bitsandbytes.backends", os.path.join(root, "bitsandbytes", "backends"))
    stub_package("bitsandbytes.backends.default", os.path.join(root, "bitsandbytes", "backends", "default"))
    stub_module("bitsandbytes._ops", register_kernel=register_kernel)
    stub_module("bitsandbytes.backends.utils", _get_4bit_code=no_4bit)
    importlib.import_module("bitsandbytes.backends.default.ops")
    path = os.path.join(root, "bitsandbytes", "functional.py")
    with open(path) as f:
        tree = ast.parse(f.read(), filename=path)
    tree.body = [nd for nd in tree.body if isinstance(nd, ast.FunctionDef) and nd.name == "create_dynamic_map"]
    g = {"torch": torch}
    exec(compile(tree, path, "exec"), g)
    q = kernels[("bitsandbytes::quantize_blockwise", "default")]
    dq = kernels[("bitsandbytes::dequantize_blockwise", "default")]
    return q, dq, g["create_dynamic_map"]


# ---- timing -----------------------------------------------------------------------------------------

def time_row(fn, make_input, reps, budget):
    """Warm-up call, then up to `reps` timed calls within `budget` seconds (at least one).
    make_input() runs outside the timer; fn(inp) returns the dequantized tensor(s).  Each timing is
    (wall seconds, CPU seconds of this process, all threads)."""
    inp = make_input()
    a, c = time.perf_counter(), time.process_time()
    out = fn(inp)
    warm, warm_cpu = time.perf_counter() - a, time.process_time() - c
    del inp
    n = reps
    if warm * (reps + 1) > budget:
        n = max(1, int((budget - warm) / max(warm, 1e-9)))
    ts = []
    if n <= 0 or warm > budget:
        return [(warm, warm_cpu)], out, True
    for _ in range(n):
        inp = make_input()
        a, c = time.perf_counter(), time.process_time()
        out = fn(inp)
        ts.append((time.perf_counter() - a, time.process_time() - c))
        del inp
    return ts, out, False


def check(torch, xh, x):
    """(nRMSE, correlation) of a dequantized output against its input; None when the shapes differ."""
    if xh.numel() != x.numel():
        return None
    x = x.reshape(-1).double()
    xh = xh.reshape(-1).double()
    e = float(((xh - x) ** 2).mean().sqrt() / (x ** 2).mean().sqrt())
    xc, yc = x - x.mean(), xh - xh.mean()
    c = float((xc * yc).sum() / ((xc * xc).sum().sqrt() * (yc * yc).sum().sqrt()))
    return e, c


def main():
    ap = argparse.ArgumentParser(
        prog="/usr/bin/python3 bench/peers/bench-peers.py",
        description="Time the peers' own quantize+dequantize code on CPU (PyTorch, T threads) next to "
                    "`lbq bench` in the same run, and check issue 22's target: lbq at least 20x the "
                    "peer's CPU path on every map.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--solo", metavar="DIR", help="checkout of MTandHJ/SOLO")
    ap.add_argument("--coat", metavar="DIR", help="checkout of NVlabs/COAT")
    ap.add_argument("--lpmm", metavar="DIR", help="checkout of thu-ml/low-bit-optimizers")
    ap.add_argument("--bnb", metavar="DIR", help="checkout of bitsandbytes-foundation/bitsandbytes")
    ap.add_argument("--lbq", metavar="PATH", default=os.path.join(REPO, "build", "lbq"),
                    help="lbq binary (default: build/lbq of this repository)")
    ap.add_argument("--no-lbq", action="store_true", help="time the peers only (no lbq column)")
    ap.add_argument("--size", default="16M", help="elements of m and v (default 16M = 2^24; a multiple of 1024 is used)")
    ap.add_argument("--lpmm8-size", default="256K",
                    help="elements for lpmm's 8-bit row (default 256K: its argmin needs 2 x N x 1 KiB)")
    ap.add_argument("--reps", type=int, default=3, help="timed repetitions per peer row after one warm-up (default 3)")
    ap.add_argument("--lbq-reps", type=int, default=5, help="lbq bench --reps (default 5)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads and OMP_NUM_THREADS (default 2)")
    ap.add_argument("--budget", type=float, default=60.0,
                    help="seconds per peer row: fewer repetitions when the warm-up says R would not fit (default 60)")
    ap.add_argument("--seed", type=int, default=0, help="seed of SOLO's stochastic rounding generator (default 0)")
    args = ap.parse_args()

    # every input is checked before any work
    peers = {}
    need = {"solo": ("MTandHJ/SOLO", ["src/solo/quantizer/utils.py", "src/solo/quantizer/qema_2bit.py"]),
            "coat": ("NVlabs/COAT", ["coat/activation/fake_quantization/quantize_function.py",
                                     "coat/activation/fake_quantization/FloatPointQuantizeTorch.py",
                                     "tests/test_fp8_adamw_expand.py"]),
            "lpmm": ("thu-ml/low-bit-optimizers", ["lpmm/functional.py"]),
            "bnb": ("bitsandbytes-foundation/bitsandbytes", ["bitsandbytes/backends/default/ops.py",
                                                             "bitsandbytes/functional.py"])}
    for key, (repo, files) in need.items():
        d = getattr(args, key)
        if d is None:
            continue
        if not os.path.isdir(d):
            die("--%s: directory '%s' not found (a checkout of %s)" % (key, d, repo))
        for f in files:
            if not os.path.isfile(os.path.join(d, f)):
                die("--%s: '%s' has no %s (is it a checkout of %s?)" % (key, d, f, repo))
        peers[key] = os.path.abspath(d)
    if not peers:
        die("no peer checkout given: pass at least one of --solo DIR, --coat DIR, --lpmm DIR, --bnb DIR (see --help)")
    if args.reps < 1 or args.reps > 100:
        die("--reps: %d is not between 1 and 100" % args.reps)
    if args.lbq_reps < 1 or args.lbq_reps > 1000:
        die("--lbq-reps: %d is not between 1 and 1000" % args.lbq_reps)
    if args.threads < 1 or args.threads > 256:
        die("--threads: %d is not between 1 and 256" % args.threads)
    if not args.budget > 0:
        die("--budget: must be positive")
    n = (parse_size(args.size, "--size") + 1023) // 1024 * 1024
    n8 = min(n, (parse_size(args.lpmm8_size, "--lpmm8-size") + 1023) // 1024 * 1024)
    if not args.no_lbq:
        if not (os.path.isfile(args.lbq) and os.access(args.lbq, os.X_OK)):
            die("--lbq: '%s' is not an executable (build lbq first, or pass --lbq PATH or --no-lbq)" % args.lbq)
    try:
        import numpy as np
        import torch
    except ImportError as e:
        die("%s: run this script with the system interpreter /usr/bin/python3 (python3-torch, python3-numpy)" % e)

    torch.set_num_threads(args.threads)
    cols = 1024

    # rows: (peer, label, lbq spec or "recipe:NAME", elements, state(s), function, skip reason)
    rows = []

    def add(peer, label, lbq, elems, states, fn=None, skip=None, note="", prep=None):
        rows.append(dict(peer=peer, label=label, lbq=lbq, n=elems, states=states, fn=fn, skip=skip, note=note,
                         prep=prep or (lambda x: x)))

    # ---- data
    t0 = time.perf_counter()
    m_np, v_np = gen_mv(np, n, cols)
    m = torch.from_numpy(m_np).view(n // cols, cols)
    v = torch.from_numpy(v_np).view(n // cols, cols)
    gen_s = time.perf_counter() - t0

    # ---- lbq first (seconds), then the peers, in the same run
    lbq = {}
    lbq_specs = ["block128-dtree:b4", "rank1-linear:b4", "block128-dtree:b3", "rank1-linear:b3",
                 "block128-dtree:b8", "block128-log:b2:sr", "block128-log:b2", "block128-fp8e4m3:coat",
                 "block128-fp8e5m2:coat", "block256-dtree:b8"]
    lbq_recipes = ["coat", "bnb8"]
    lbq_text = ""
    lbq_cmd = []
    if not args.no_lbq:
        with tempfile.TemporaryDirectory(prefix="lbq-peers-") as td:
            jpath = os.path.join(td, "bench.json")
            lbq_cmd = [args.lbq, "bench", "--size", str(n), "--reps", str(args.lbq_reps), "--quant", ",".join(lbq_specs),
                       "--recipes", ",".join(lbq_recipes), "--no-sweep", "--json", jpath]
            env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
            r = subprocess.run(lbq_cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
            if r.returncode != 0:
                sys.stderr.write(r.stderr)
                die("lbq bench failed (exit %d): %s" % (r.returncode, " ".join(lbq_cmd)), 1)
            lbq_text = r.stdout
            with open(jpath) as f:
                bj = json.load(f)
        if len(bj.get("qdq", [])) != len(lbq_specs):
            die("lbq bench returned %d qdq rows for %d specs" % (len(bj.get("qdq", [])), len(lbq_specs)), 1)
        for spec, row in zip(lbq_specs, bj["qdq"]):
            lbq[spec] = row
        for row in bj.get("recipes", []):
            lbq["recipe:" + row["recipe"]] = row
        lbq["_memcpy"] = bj["memcpy"]

    # ---- lpmm
    if "lpmm" in peers:
        F = load_lpmm(peers["lpmm"], torch)

        def lpmm_row(bits, qt, scale, signed, x):
            q = F.create_general_qmap(qt, bits, signed)
            md = dict(b=bits, scale_type=scale, quant_type=qt, round_type="nearest", gp_sz=128, signed=signed)

            def fn(xx):   # as lpmm/optim/adamw.py calls them
                qx, gen = F.vectorwise_quant(xx, qmap=q, shape=xx.shape, **md)
                return F.vectorwise_dequant(qx, qmap=q, shape=xx.shape, **gen, **md)
            return fn
        for bits in (4, 3):
            add("lpmm", "lpmm %d-bit DE (nonlinear), group 128, m" % bits, "block128-dtree:b%d" % bits, n, "m",
                lpmm_row(bits, "nonlinear", "group", True, m))
            add("lpmm", "lpmm %d-bit power-1, rank-1, v" % bits, "rank1-linear:b%d" % bits, n, "v",
                lpmm_row(bits, "power-1", "rank1", False, v))
        add("lpmm", "lpmm 8-bit DE (nonlinear), group 128, m", "block128-dtree:b8", n8, "m",
            lpmm_row(8, "nonlinear", "group", True, m), note="peer on %d elements (N x 256 argmin temporaries)" % n8)
        add("lpmm", "lpmm real-nearest (CUDA default, packed codes)", None, n, "", skip="CUDA only (lpmm.cpp_extension)")
    else:
        add("lpmm", "lpmm maps (4-, 3-, 8-bit)", None, n, "", skip="no --lpmm checkout given")

    # ---- SOLO
    if "solo" in peers:
        Q = load_solo(peers["solo"], torch, args.seed)
        cls = Q.QemaOptimState2bit
        copy_handler = cls._handlers[torch.ops.aten.copy_.default]

        def solo_prep(xx):  # the optimizer's state, made once per parameter (outside the timer)
            return cls.zeros(tuple(xx.shape), signed=False, block_size=128, quantile=0.1), xx

        def solo_fn(inp):  # state.copy_(fp32 tensor), then .dequantize(), as SOLO's optimizer step does
            dst, xx = inp
            copy_handler(torch.ops.aten.copy_.default, (), (dst, xx), {})
            return dst.dequantize()
        add("solo", "SOLO qema 2-bit, block 128, p 0.1, stochastic rounding, v", "block128-log:b2:sr", n, "v", solo_fn,
            prep=solo_prep)
        add("solo", "SOLO qema 2-bit, nearest rounding", "block128-log:b2", n, "v",
            skip="SOLO has no nearest path: quantize_with_alpha always adds torch.rand - 0.5")
    else:
        add("solo", "SOLO qema 2-bit", None, n, "", skip="no --solo checkout given")

    # ---- COAT
    if "coat" in peers:
        QF = load_coat(peers["coat"], torch)

        def coat_fp8(fmt):
            def fn(xx):   # SymmQuantizer on COAT's per-group blocks (1 x 128), as its tests and fp8 path call it
                B = QF.block_cut(xx, 1, 128, pad_block=True)
                RQ, Qx, S = QF.block_quant(B, True, fmt, stochastic=False, epsilon=1e-8, apply_quantize=True,
                                           layer_name="first_order")
                QF.block_reshape(Qx, xx, 1, 128, pad_block=True)
                return QF.block_reshape(RQ, xx, 1, 128, pad_block=True)
            return fn
        add("coat", "COAT FP8 E4M3, group 128 (block_quant, torch reference), m", "block128-fp8e4m3:coat", n, "m",
            coat_fp8("E4M3"))
        add("coat", "COAT FP8 E5M2, group 128 (block_quant, torch reference), m", "block128-fp8e5m2:coat", n, "m",
            coat_fp8("E5M2"))
        G = load_coat_dre(peers["coat"], torch, m)
        tiny = torch.zeros(1, 1)
        params = torch.zeros_like(m)

        def dre_fn(pair):  # the reference quantizes the module globals fp_exp_avg / fp_exp_avg_sq in place
            G["fp_exp_avg"], G["fp_exp_avg_sq"] = pair
            G["simulated_optimizer_expand_step"](params, tiny, tiny.clone(), tiny.clone(), 0.9, 0.95, 0.0, 0.0, 1e-8,
                                                 1000, 128)
            return G["fp_exp_avg"], G["fp_exp_avg_sq"]
        add("coat", "COAT dynamic range expansion E4M3/E4M3, group 128 (simulated_optimizer_expand_step), m+v",
            "recipe:coat", n, "mv", dre_fn,
            note="its AdamW step runs too: params.mul_ and params.addcdiv_ on N elements; m, v states 1x1")
        add("coat", "COAT fp8_adamw_expand_step / fp8_adamw_step kernels", None, n, "",
            skip="CUDA only (qoptim_cuda extension)")
    else:
        add("coat", "COAT FP8 and dynamic range expansion", None, n, "", skip="no --coat checkout given")
    if "bnb" in peers:
        bq, bdq, dmap = load_bnb(peers["bnb"], torch)
        code_s = dmap(signed=True).to(torch.float32)     # Optimizer2State's "dynamic"
        code_u = dmap(signed=False).to(torch.float32)    # and "udynamic" maps

        def bnb_one(xx, code):
            qc, absmax = bq(xx, code, 256)
            return bdq(qc, absmax, code, 256, torch.float32)

        def bnb_mv(pair):
            return bnb_one(pair[0], code_s), bnb_one(pair[1], code_u)
        add("bnb", "bitsandbytes 8-bit dynamic map, block 256 (default backend quantize_blockwise), m",
            "block256-dtree:b8", n, "m", lambda xx: bnb_one(xx, code_s))
        add("bnb", "bitsandbytes AdamW8bit states: m dynamic, v udynamic, block 256 (default backend), m+v",
            "recipe:bnb8", n, "mv", bnb_mv)
        add("bnb", "bitsandbytes CPU backend (cquantize_blockwise_cpu_fp32) and CUDA kernels", None, n, "",
            skip="native library (not built here; the CUDA kernels have no CPU path)")
    else:
        add("bnb", "bitsandbytes blockwise 8-bit", None, n, "", skip="no --bnb checkout given")

    # ---- time the peers
    results = []
    for r in rows:
        if r["skip"]:
            results.append((r, None))
            continue
        k = r["n"]
        if r["states"] == "mv":
            def make(k=k, prep=r["prep"]):
                return prep((m.reshape(-1)[:k].view(k // cols, cols).clone(), v.reshape(-1)[:k].view(k // cols, cols).clone()))
            ref = (m.reshape(-1)[:k], v.reshape(-1)[:k])
        else:
            src = m if r["states"] == "m" else v

            def make(k=k, src=src, prep=r["prep"]):
                return prep(src.reshape(-1)[:k].view(k // cols, cols).clone())
            ref = src.reshape(-1)[:k]
        try:
            with torch.no_grad():
                ts, out, warm_only = time_row(r["fn"], make, args.reps, args.budget)
        except Exception as e:  # a peer's failure is reported, not hidden
            print("%s: error: %s: %s: %s" % (PROG, r["label"], type(e).__name__, e), file=sys.stderr)
            results.append((r, "failed: %s" % type(e).__name__))
            continue
        chk = [check(torch, o, x) for o, x in (zip(out, ref) if isinstance(out, tuple) else [(out, ref)])]
        if any(c is None or not (math.isfinite(c[0]) and c[1] >= 0.5) for c in chk):
            print("%s: error: %s: its output is not a quantization of the input (nRMSE, correlation: %s)"
                  % (PROG, r["label"], chk), file=sys.stderr)
            results.append((r, "failed: output check"))
            continue
        err = max(c[0] for c in chk)
        corr = min(c[1] for c in chk)
        floats = k * (2 if r["states"] == "mv" else 1)
        ts.sort()
        w = [t[0] for t in ts]
        med = w[len(w) // 2] if len(w) % 2 else 0.5 * (w[len(w) // 2 - 1] + w[len(w) // 2])
        results.append((r, dict(best=4.0 * floats / w[0] / 1e9, median=4.0 * floats / med / 1e9, reps=len(ts),
                                cores=ts[0][1] / w[0], cpu=ts[0][1], warm_only=warm_only, nrmse=err, corr=corr)))
        del out

    # ---- report
    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else ["?"] * 3
    print("bench-peers: torch %s, %d threads (torch.set_num_threads; OMP_NUM_THREADS for lbq), %d elements "
          "(lbq bench's generated m/v, %.1f s to generate), load average %s" % (torch.__version__, args.threads, n, gen_s,
                                                                                " ".join(load)))
    for key, d in sorted(peers.items()):
        h = ""
        try:
            h = subprocess.run(["git", "-C", d, "rev-parse", "--short=12", "HEAD"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, universal_newlines=True).stdout.strip()
        except OSError:
            pass
        print("  %s: %s%s" % (key, d, (" @ " + h) if h else " (not a git checkout: commit unknown)"))
    if lbq_cmd:
        print("  lbq: OMP_NUM_THREADS=%d %s" % (args.threads, " ".join(lbq_cmd[:-2] + ["--json", "TMP"])))
        print("".join("    | " + line + "\n" for line in lbq_text.rstrip("\n").split("\n")))
    print("Peer GB/s: fp32 input (N floats; 2N for m+v) / wall time of quantize+dequantize, fastest (median) of the reps "
          "after one warm-up; cores = CPU time of the process / wall time of the fastest rep (%d at most: below it, the "
          "row waited for the CPU); lbq GB/s: `lbq bench` as quantize stores, fastest (median); ratio = lbq fastest / "
          "peer fastest." % args.threads)
    print("ratio at T cores = ratio x cores / %d: a lower bound of the ratio had the peer had all %d cores (its CPU time "
          "per call unchanged, perfect scaling); met? = yes when that bound reaches %gx, no when the ratio itself does "
          "not, open when only the load decides." % (args.threads, args.threads, TARGET))
    hdr = ("map (peer's function)", "elements", "peer GB/s", "lbq spec", "lbq GB/s", "ratio", "ratio at T cores",
           "target", "met?")
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    failed = 0
    for r, res in results:
        label = r["label"] + ("; " + r["note"] if r["note"] else "")
        lspec = r["lbq"] or "-"
        lrow = lbq.get(r["lbq"]) if r["lbq"] else None
        lbq_s = ("%.3f (%.3f)" % (lrow["gbps_best"], lrow["gbps_median"])) if lrow else "-"
        lname = ("recipe %s (m+v): %s / %s" % (lrow["recipe"], lrow["m_spec"], lrow["v_spec"])) if lrow and "recipe" in lrow \
            else (lrow["spec"] if lrow else lspec)
        if res is None:
            print("| %s | - | skipped: %s | %s | %s | - | - | %gx | - |" % (label, r["skip"], lname, lbq_s, TARGET))
            continue
        if isinstance(res, str):
            failed += 1
            print("| %s | %d | %s | %s | %s | - | - | %gx | - |" % (label, r["n"], res, lname, lbq_s, TARGET))
            continue
        peer_s = "%.4f (%.4f), %d rep%s%s, %.1f cores" % (res["best"], res["median"], res["reps"],
                                                          "" if res["reps"] == 1 else "s",
                                                          " (warm-up only: over budget)" if res["warm_only"] else "",
                                                          res["cores"])
        if lrow:
            ratio = lrow["gbps_best"] / res["best"]
            bound = ratio * min(res["cores"], args.threads) / args.threads
            met = "yes" if bound >= TARGET else ("**no**" if ratio < TARGET else "open (load)")
            print("| %s | %d | %s | %s | %s | %.1fx | %.1fx | %gx | %s |" % (label, r["n"], peer_s, lname, lbq_s, ratio,
                                                                            bound, TARGET, met))
        else:
            print("| %s | %d | %s | %s | - | - | - | %gx | - |" % (label, r["n"], peer_s, lname, TARGET))
    print("Check that each peer's code quantized the input: its dequantized output against the input, nRMSE / "
          "correlation (worst of m and v), must be finite / >= 0.5: " +
          "; ".join("%s %.3g / %.3f" % (r["label"].split(",")[0], res["nrmse"], res["corr"])
                    for r, res in results if isinstance(res, dict)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
