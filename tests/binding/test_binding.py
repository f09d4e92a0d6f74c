"""The Python binding (python/lbq: _native, lbq.qdq, lbq.torch) against `lbq quantize`, bit for bit.

Run by tests/cli/test-binding.sh (ctest cli-test-binding) with Debian's /usr/bin/python3:
    LBQ=build/lbq LBQ_SRC=. LBQ_BUILD=build /usr/bin/python3 tests/binding/test_binding.py
1. every recipe, and the closed-loop experiment's specs, on data/sample-late.h5: `lbq quantize` output
   read with h5py == lbq.qdq on the same tensors (values and packed codes), stochastic rounding with
   a step seed (`--seed lbq.step_seed(s, t)`), fp32 exemptions == keeps_fp32;
2. numpy arrays, non-contiguous, bfloat16 and in-place torch tensors;
3. lbq.torch.quantize_states (recipe=, m=/v=, plan=) == the same training loop with lbq.qdq applied by
   hand after each step (parameters and states bitwise), statistics == a direct count, remove(),
   the torch >= 2 post-hook path (a stand-in optimizer with register_step_post_hook);
4. errors: bad spec, bad plan, LBQ_LIBRARY pointing nowhere;
5. the device entry (ABI 1.1): its CPU twin (lbq_ffi_qdq_device_twin, the device entry's sequence on
   host memory) == the host entry on every tensor of the bundled file for every recipe and the
   closed-loop experiment's specs (values, codes, counts; sums to 1e-9), in place too; the library's
   self-check through the twin; without a device (or a CUDA build) lbq_ffi_qdq_device says so with
   status 5; with a GPU and torch.cuda, CUDA tensors through lbq.qdq == CPU tensors bit for bit.
"""
import os
import subprocess
import sys
import tempfile

SRC = os.environ.get("LBQ_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
LBQ = os.environ.get("LBQ", os.path.join(SRC, "build", "lbq"))
sys.path.insert(0, os.path.join(SRC, "python"))

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import lbq  # noqa: E402

SAMPLE = os.path.join(SRC, "data", "sample-late.h5")
PASS = FAIL = 0


def check(cond, msg):
    global PASS, FAIL
    if cond:
        PASS += 1
    else:
        FAIL += 1
        print("FAIL:", msg, flush=True)


def same_bits(a, b):
    a = np.ascontiguousarray(a, dtype=np.float32)
    b = np.ascontiguousarray(b, dtype=np.float32)
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def pack(codes, bits):
    """lbq's code layout: element i at bits [i*b, (i+1)*b), LSB first."""
    c = codes.reshape(-1).astype(np.uint64)
    n = c.size
    bitpos = np.arange(n, dtype=np.uint64) * np.uint64(bits)
    out = np.zeros((n * bits + 7) // 8, dtype=np.uint64)
    for k in range(bits):
        bit = (c >> np.uint64(k)) & np.uint64(1)
        pos = bitpos + np.uint64(k)
        np.add.at(out, (pos >> np.uint64(3)).astype(np.int64), bit << (pos & np.uint64(7)))
    return out.astype(np.uint8)


def params_of(f):
    names = []
    f.visit(lambda n: names.append(n.rsplit("/", 1)[0]) if n.endswith("/exp_avg") or n == "exp_avg" else None)
    return names


def attr(ds, k):
    v = ds.attrs[k]
    return v.decode() if isinstance(v, bytes) else v


def compare_file(args, tag, seed=0, step=-1, recipe=None):
    """lbq quantize SAMPLE ARGS vs lbq.qdq on every tensor."""
    out = os.path.join(TMP, "q.h5")
    r = subprocess.run([LBQ, "quantize", SAMPLE, "-o", out, "-q"] + args, capture_output=True, text=True)
    check(r.returncode == 0, f"{tag}: lbq quantize failed: {r.stderr.strip()}")
    if r.returncode:
        return
    n_q = n_fp32 = n_same = 0
    with h5py.File(SAMPLE, "r") as f, h5py.File(out, "r") as q:
        for g in params_of(f):
            for key, role in (("exp_avg", "m"), ("exp_avg_sq", "v")):
                if key not in q[g]:
                    continue
                ds = q[g][key]
                x = np.asarray(f[g][key][()], dtype=np.float32)
                if recipe is not None:
                    check(lbq.keeps_fp32(recipe, x.size) == (attr(ds, "quantized") == 0),
                          f"{tag} {g}/{key}: keeps_fp32 disagrees with lbq quantize")
                if attr(ds, "quantized") == 0:
                    n_fp32 += 1
                    continue
                spec = attr(ds, "spec")
                y, st, codes = lbq.qdq(torch.from_numpy(x), spec, role=role, seed=seed, step=step, stats=True,
                                       codes=True)
                ok = same_bits(y.numpy(), ds[()])
                check(ok, f"{tag} {g}/{key} ({spec}): values differ from lbq quantize")
                okc = np.array_equal(pack(codes.numpy(), st["bits"]), q[g][key + ".codes"][()])
                check(okc, f"{tag} {g}/{key} ({spec}): codes differ from lbq quantize")
                n_same += ok and okc
                ref = ds[()]
                check(st["zeroed"] == int(np.sum((x != 0) & np.isfinite(x) & (ref == 0))) and
                      st["lifted"] == int(np.sum((x == 0) & (ref != 0))), f"{tag} {g}/{key}: zeroed/lifted counts")
                n_q += 1
    check(n_q > 0, f"{tag}: nothing quantized")
    print(f"  {tag}: {n_same} of {n_q} quantized tensors bit-identical to lbq quantize (values and codes), "
          f"{n_fp32} kept fp32", flush=True)


def test_files():
    for r in lbq.recipes():
        compare_file(["--recipe", r], f"recipe {r}", recipe=r)
    # solo42's v rounds stochastically: a per-step seed is `lbq quantize --seed lbq.step_seed(s, t)`
    compare_file(["--recipe", "solo42", "--seed", str(lbq.step_seed(5, 17))], "solo42 seed 5 step 17",
                 seed=5, step=17, recipe="solo42")
    # the closed-loop experiment's quantizers (experiments/closed-loop/configs.py), all tensors
    for m, v in (("block2048-dtree:b4", "block2048-dtree:b4"), ("block2048-dtree:b4", "block128-dtree:b4:sr"),
                 ("block2048-dtree:b4", "block128-dtree:b4:nz"), ("block2048-dtree:b4", "rank1-linear:b4"),
                 ("block128-dtree:b3", "block128-log:b3"), ("block128-dtree:b2", "block128-dtree:b2:sr")):
        compare_file(["--quant-m", m, "--quant-v", v, "--seed", str(lbq.step_seed(3, 2))], f"m={m} v={v}",
                     seed=3, step=2)


def test_forms():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 300, generator=g) * 1e-3
    ref = lbq.qdq(x, "block128-dtree:b4")
    check(same_bits(lbq.qdq(x.numpy(), "block128-dtree:b4"), ref.numpy()), "numpy == torch")
    check(same_bits(lbq.qdq(x.numpy().astype(np.float64), "block128-dtree:b4"), ref.numpy()), "float64 numpy input")
    xt = x.t().contiguous().t()                     # same values, column-major strides
    check(same_bits(lbq.qdq(xt, "block128-dtree:b4").contiguous().numpy(), ref.numpy()), "non-contiguous input")
    y = x.clone()
    r = lbq.qdq(y, "block128-dtree:b4", inplace=True)
    check(r is y and same_bits(y.numpy(), ref.numpy()), "inplace")
    check(same_bits(x.numpy(), torch.randn(64, 300, generator=torch.Generator().manual_seed(1)).mul(1e-3).numpy()),
          "input left alone")
    xb = x.to(torch.bfloat16)
    with np.errstate(all="ignore"):
        yb = lbq.qdq(xb, "block128-dtree:b4")
    check(yb.dtype == torch.bfloat16 and torch.equal(yb, lbq.qdq(xb.float(), "block128-dtree:b4").to(torch.bfloat16)),
          "bfloat16: quantized as float32, rounded back")
    s1 = lbq.qdq(x.abs(), "block128-dtree:b4:sr", role="v", seed=1, step=1)
    s2 = lbq.qdq(x.abs(), "block128-dtree:b4:sr", role="v", seed=1, step=2)
    check(not torch.equal(s1, s2), "stochastic rounding differs between steps")
    check(torch.equal(s1, lbq.qdq(x.abs(), "block128-dtree:b4:sr", role="v", seed=1, step=1)), "SR reproducible")
    plan, bpe = lbq.check_spec("rank1-linear:b4", "v", (4096,))
    check(plan.startswith("block128-linear") and abs(bpe - 4.25) < 1e-12, f"check_spec fallback: {plan} {bpe}")
    try:
        lbq.qdq(x, "block128-nosuchmap")
        check(False, "bad spec accepted")
    except lbq.LbqError as e:
        check("nosuchmap" in str(e) and e.status == 4, f"bad spec message: {e}")
    try:
        lbq.qdq(x, "block128-log:b2", role="m")
        check(False, "unsigned map accepted for m")
    except lbq.LbqError as e:
        check("unsigned" in str(e), f"unsigned map for m: {e}")


class TinyNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(64, 96)        # 6144 elements
        self.fc = torch.nn.Linear(96, 96)            # 9216 + 96
        self.ln = torch.nn.LayerNorm(96)
        self.out = torch.nn.Linear(96, 64)           # 6144 + 64

    def forward(self, i):
        return self.out(self.ln(torch.relu(self.fc(self.emb(i)))))


def run_loop(hook_kw=None, manual=None, steps=6, opt_cls=torch.optim.AdamW):
    torch.manual_seed(0)
    net = TinyNet()
    opt = opt_cls(net.parameters(), lr=1e-2, eps=1e-8)
    q = lbq.torch.quantize_states(opt, **hook_kw) if hook_kw else None
    g = torch.Generator().manual_seed(2)
    stats = []
    for t in range(1, steps + 1):
        i = torch.randint(0, 64, (32, 8), generator=g)
        loss = torch.nn.functional.cross_entropy(net(i).reshape(-1, 64), torch.roll(i, 1, 1).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if manual:
            stats.append(manual(opt, net, t))
        elif q:
            stats.append(q.last)
    return net, opt, q, stats


def manual_qdq(recipe=None, m=None, v=None, seed=0):
    def f(opt, net, t):
        out = []
        k = -1
        for grp in opt.param_groups:
            for p in grp["params"]:
                k += 1
                st = opt.state[p]
                if recipe and lbq.keeps_fp32(recipe, p.numel()):
                    continue
                ms, vs = (lbq.recipe(recipe)["m"], lbq.recipe(recipe)["v"]) if recipe else (m, v)
                for role, key, spec in (("m", "exp_avg", ms), ("v", "exp_avg_sq", vs)):
                    if spec:
                        _, d = lbq.qdq(st[key], spec, role=role, seed=seed + k, step=t, inplace=True, stats=True)
                        out.append((role, d["zeroed"], d["lifted"]))
        return out
    return f


def same_run(a, b, tag):
    na, oa = a[0], a[1]
    nb, ob = b[0], b[1]
    okp = all(torch.equal(p, q) for p, q in zip(na.parameters(), nb.parameters()))
    oks = all(torch.equal(oa.state[p][k], ob.state[q][k]) for p, q in zip(na.parameters(), nb.parameters())
              for k in ("exp_avg", "exp_avg_sq"))
    check(okp and oks, f"{tag}: hook run != hand-applied qdq run (params {okp}, states {oks})")


def test_hook():
    base = run_loop()
    for r in ("lpmm4", "solo42", "torchao4"):
        h = run_loop({"recipe": r, "seed": 11})
        same_run(h, run_loop(manual=manual_qdq(recipe=r, seed=11)), f"recipe {r}")
        q = h[2]
        kept = [p.numel() for p in h[0].parameters() if lbq.keeps_fp32(r, p.numel())]
        check(q.last["m"]["fp32_tensors"] == len(kept) and q.last["m"]["tensors"] == len(list(h[0].parameters())) - len(kept),
              f"{r}: exemptions {q.last['m']}")
        check(len(q.history) == 6 and q.history[-1]["step"] == 6, f"{r}: history {len(q.history)}")
        # statistics == a direct count (the hand run's per-tensor numbers)
        man = run_loop(manual=manual_qdq(recipe=r, seed=11))[3][-1]
        check(sum(z for role, z, _ in man if role == "v") == q.last["v"]["zeroed"], f"{r}: zeroed total")
        check(not all(torch.equal(p, b) for p, b in zip(h[0].parameters(), base[0].parameters())),
              f"{r}: quantization changed nothing")
    h = run_loop({"m": "block2048-dtree:b4", "v": "block128-dtree:b4:sr", "seed": 3})
    same_run(h, run_loop(manual=manual_qdq(m="block2048-dtree:b4", v="block128-dtree:b4:sr", seed=3)), "m=/v= specs")
    check(h[2].last["v"]["zeroed"] >= 0 and h[2].last["v"]["numel"] > 0, "m=/v= stats")
    # v only: m stays fp32
    h = run_loop({"v": "rank1-linear:b4"})
    same_run(h, run_loop(manual=manual_qdq(v="rank1-linear:b4")), "v only")
    # plan: per-tensor specs by name
    planfile = os.path.join(TMP, "plan.json")
    with open(planfile, "w") as f:
        f.write('{"tensors": [{"name": "fc.weight", "m": "block128-dtree:b4", "v": "block128-linear:b4:nz"},'
                ' {"name": "emb.weight", "m": "fp32", "v": "rank1-linear:b4"}]}')
    torch.manual_seed(0)
    net = TinyNet()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2)
    q = lbq.torch.quantize_states(opt, plan=planfile, model=net)
    net(torch.zeros(2, 3, dtype=torch.long)).sum().backward()
    opt.step()
    t = {(d["name"], d["role"]): d["plan"] for d in q.last["tensors"]}
    check(t == {("fc.weight", "m"): "block128-dtree:b4", ("fc.weight", "v"): "block128-linear:b4:nz",
                ("emb.weight", "v"): "rank1-linear:b4"}, f"plan: {t}")
    q.remove()
    before = opt.state[net.fc.weight]["exp_avg"].clone()
    net(torch.zeros(2, 3, dtype=torch.long)).sum().backward()
    opt.step()
    check(not torch.equal(before, opt.state[net.fc.weight]["exp_avg"]) and len(q.history) == 1, "remove()")
    for bad, why in (({"plan": '{"tensors": [{"name": "nope", "m": "block128-dtree"}]}', "model": net}, "nope"),
                     ({"m": "block128-nosuch"}, "nosuch"), ({"recipe": "lpmm5"}, "lpmm5"),
                     ({"recipe": "lpmm4", "m": "block128-dtree"}, "exactly one")):
        try:
            lbq.torch.quantize_states(torch.optim.AdamW(net.parameters()), **bad)
            check(False, f"accepted {bad}")
        except (ValueError, lbq.LbqError) as e:
            check(why in str(e), f"error for {bad}: {e}")

    # LR schedulers wrap optimizer.step (torch 1.13: through __self__), created before or after the hook
    for before in (True, False):
        torch.manual_seed(0)
        net = TinyNet()
        opt = torch.optim.AdamW(net.parameters(), lr=1e-2)
        sch = torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5) if before else None
        q = lbq.torch.quantize_states(opt, recipe="bnb8")
        sch = sch or torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)
        for _ in range(2):
            net(torch.zeros(2, 3, dtype=torch.long)).sum().backward()
            opt.step()
            sch.step()
        check(len(q.history) == 2 and abs(opt.param_groups[0]["lr"] - 2.5e-3) < 1e-12,
              f"scheduler created {'before' if before else 'after'} the hook: {len(q.history)} steps")

    class PostHookAdamW(torch.optim.AdamW):       # the torch >= 2 path, on any torch
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self._post = []

        def register_step_post_hook(self, fn):
            self._post.append(fn)
            lst = self._post

            class H:
                def remove(self):
                    lst.remove(fn)
            return H()

        def step(self, closure=None):
            out = super().step(closure)
            for fn in list(self._post):
                fn(self, (), {})
            return out
    h = run_loop({"recipe": "lpmm4", "seed": 11}, opt_cls=PostHookAdamW)
    same_run(h, run_loop(manual=manual_qdq(recipe="lpmm4", seed=11)), "post-hook path")
    check(h[2]._orig_step is None, "post-hook path used")


def test_device():
    nat = lbq._native
    check(nat._has_device_abi, f"{nat.library_path()} has no device entry (ABI 1.1)")
    ok, why = nat.device_available()
    print(f"  device entry: {'available' if ok else 'not available: ' + why}", flush=True)
    # the twin: the device entry's own sequence, on host memory, against the host entry
    specs = sorted({s for r in lbq.recipes() for s in (lbq.recipe(r)["m"], lbq.recipe(r)["v"])} |
                   {"block2048-dtree:b4", "block128-dtree:b4:sr", "block128-dtree:b4:nz", "rank1-linear:b4",
                    "block128-dtree:b2", "block128-log:b3", "block128-log:b2:sr", "tensor-linear:b8"})
    n = bad = 0
    with h5py.File(SAMPLE, "r") as f:
        names = params_of(f)
        for si, spec in enumerate(specs):
            for key, role in (("exp_avg", "m"), ("exp_avg_sq", "v")):
                try:
                    lbq.check_spec(spec, role, (4096,))
                except lbq.LbqError:
                    continue
                for g in names[si % 3::3]:        # a third of the tensors per spec, every tensor across specs
                    x = np.ascontiguousarray(f[g][key][()], dtype=np.float32)
                    y, st, c = lbq.qdq(x, spec, role=role, seed=7, step=si, stats=True, codes=True)
                    yt, ct = np.empty_like(x), np.empty(x.shape, dtype=np.uint8)
                    tt = nat.qdq_device_ptr(spec, role, x.shape, x.ctypes.data, yt.ctypes.data, ct.ctypes.data,
                                            seed=7, step=si, twin=True).as_dict(hist=True)
                    xi = x.copy()                   # in place, statistics kept from the input
                    ti = nat.qdq_device_ptr(spec, role, x.shape, xi.ctypes.data, xi.ctypes.data, 0, seed=7,
                                            step=si, twin=True).as_dict(hist=True)
                    same = (same_bits(y, yt) and np.array_equal(c, ct) and same_bits(y, xi) and
                            all(tt[k] == st[k] == ti[k] for k in ("numel", "zeroed", "lifted", "nonfinite", "zeros_in",
                                                                 "codes_used", "code_hist", "plan", "bits")) and
                            abs(tt["sum_sq_err"] - st["sum_sq_err"]) <= 1e-9 * st["sum_sq_err"] and
                            abs(tt["sum_sq"] - st["sum_sq"]) <= 1e-9 * st["sum_sq"] and
                            tt["sum_sq_err"] == ti["sum_sq_err"])
                    n += 1
                    bad += not same
                    check(same, f"device twin {spec} {g}/{key}: differs from the host entry")
    print(f"  device entry's CPU twin: {n - bad} of {n} (spec, tensor) pairs identical to the host entry", flush=True)
    cases, mism, first = nat.device_selfcheck(twin=True)
    check(cases > 200 and mism == 0, f"device self-check (twin): {cases} cases, {mism} mismatches: {first}")
    print(f"  lbq_ffi_device_selfcheck(twin): {cases} cases, {mism} mismatches", flush=True)
    x = np.ones(256, dtype=np.float32)
    if not ok:
        try:
            nat.qdq_device_ptr("block128-dtree:b4", "m", x.shape, x.ctypes.data, x.ctypes.data)
            check(False, "lbq_ffi_qdq_device without a device succeeded")
        except lbq.LbqError as e:
            check(e.status == 5 and ("CUDA" in str(e) or "device" in str(e)), f"no device: status {e.status}: {e}")
        try:
            nat.device_selfcheck()
            check(False, "lbq_ffi_device_selfcheck without a device succeeded")
        except lbq.LbqError as e:
            check(e.status == 5, f"self-check without a device: status {e.status}: {e}")
    elif torch.cuda.is_available():                 # a GPU: the device entry itself, through lbq.qdq
        cases, mism, first = nat.device_selfcheck()
        check(cases > 200 and mism == 0, f"device self-check: {cases} cases, {mism} mismatches: {first}")
        with h5py.File(SAMPLE, "r") as f:
            for g in params_of(f)[:12]:
                for key, role, spec in (("exp_avg", "m", "block2048-dtree:b4"), ("exp_avg_sq", "v", "rank1-linear:b4"),
                                        ("exp_avg_sq", "v", "block128-log:b2:sr")):
                    x = torch.from_numpy(np.asarray(f[g][key][()], dtype=np.float32))
                    y, st = lbq.qdq(x, spec, role=role, seed=1, step=3, stats=True)
                    yd, sd = lbq.qdq(x.cuda(), spec, role=role, seed=1, step=3, stats=True)
                    check(yd.is_cuda and same_bits(y.numpy(), yd.cpu().numpy()) and sd["zeroed"] == st["zeroed"],
                          f"CUDA tensor {g}/{key} {spec}: differs from the CPU tensor")


def test_readme():
    """README's "Check it in the loop" example: 10 lines, runs as pasted (a toy model, loader, optimizer)."""
    text = open(os.path.join(SRC, "README.md")).read()
    sec = text[text.index("## Check it in the loop"):]
    a = sec.index("```python\n") + len("```python\n")
    code = sec[a:sec.index("```", a)]
    check(len(code.strip().splitlines()) == 10, f"README example has {len(code.strip().splitlines())} lines, not 10")
    code = code.replace("/path/to/lbq/python", os.path.join(SRC, "python"))

    class Out:
        pass

    class Toy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(80, 80)         # 6400 weights: lpmm4 quantizes them (> 4096)

        def forward(self, b):
            o = Out()
            o.loss = self.fc(b).pow(2).mean()
            return o
    torch.manual_seed(0)
    model = Toy()
    g = torch.Generator().manual_seed(3)
    printed = []
    ns = {"model": model, "optimizer": torch.optim.AdamW(model.parameters(), lr=1e-3),
          "loader": [torch.randn(4, 80, generator=g) for _ in range(3)], "print": lambda *a: printed.append(a)}
    exec(compile(code, "README.md", "exec"), ns)
    q = ns["q"]
    check(len(q.history) == 3 and q.last["m"]["tensors"] == 1 and q.last["m"]["fp32_tensors"] == 1 and
          len(printed) == 1 and len(printed[0]) == 4, f"README example: history {len(q.history)}, printed {printed}")


def test_library_lookup():
    env = dict(os.environ, LBQ_LIBRARY=os.path.join(TMP, "nowhere", "liblbq.so.1"), PYTHONPATH=os.path.join(SRC, "python"))
    r = subprocess.run([sys.executable, "-c", "import lbq; lbq.qdq([1.0, 2.0], 'block128-dtree')"], env=env,
                       capture_output=True, text=True)
    check(r.returncode != 0 and "nowhere" in r.stderr and "LBQ_LIBRARY" in r.stderr,
          f"LBQ_LIBRARY missing: {r.stderr.strip()[-300:]}")
    env["LBQ_LIBRARY"] = lbq._native.library_path()
    r = subprocess.run([sys.executable, "-c", "import lbq; print(lbq.qdq([0.5, 1.0], 'tensor-linear:b8', role='v'))"],
                       env=env, capture_output=True, text=True)
    check(r.returncode == 0 and "1." in r.stdout, f"LBQ_LIBRARY given: {r.stdout} {r.stderr}")
    r = subprocess.run([sys.executable, "-c", "import lbq, sys; print('torch' in sys.modules)"], env=env,
                       capture_output=True, text=True)
    check(r.stdout.strip() == "False", f"import lbq imports torch: {r.stdout} {r.stderr}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as TMP:
        print(f"liblbq: {lbq._native.library_path()} (lbq {lbq._native.version()}), torch {torch.__version__}")
        test_files()
        test_forms()
        test_hook()
        test_device()
        test_readme()
        test_library_lookup()
    print(f"test_binding.py: {PASS} passed, {FAIL} failed")
    sys.exit(1 if FAIL else 0)
