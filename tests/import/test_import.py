#!/usr/bin/python3
"""`lbq import` end to end (run by tests/cli/test-import.sh; needs python3-torch, -h5py, -torchvision).

Every input format is built from a real short training run on the CPU -- the bundled byte-level
transformer of experiments/dump/make_sample.py (with a tied head) and torchvision's resnet18 -- then
imported with the lbq binary, and m and v are compared bit for bit with the live optimizer's state:
  A  nanoGPT-style ckpt.pt (model + optimizer, dim>=2 / dim<2 groups, tied head), fp32
  B  Hugging Face Trainer directory: optimizer.pt + pytorch_model.bin + trainer_state.json, a model
     trained in bf16 (bf16 Adam states) with the Trainer's decay/no-decay groups
  B2 the same with model.safetensors (written without the safetensors package): refused without
     --order, identical output with --order
  B3 the same as two safetensors shards with model.safetensors.index.json, with --order
  C  separate optimizer.pt + model.pt: resnet18 with a frozen conv1 (not in the optimizer); and its
     states cast to fp16 (orig_dtype float16)
  D  ambiguous: resnet18 with bn1.weight frozen -> the exact one-line error; --names resolves it
  E  mismatched model -> the exact one-line error; bad --names; missing keys
  F  lbq quantize output loaded back into a torch optimizer (lbq.resume), dequantized and packed
  G  lbq analyze on a .pt -> the hint to use lbq import
Prints "N passed, M failed"; exit 1 on any failure.
"""
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import h5py
import numpy as np
import torch
import torch.nn.functional as F
import torchvision

SRC = os.environ.get("LBQ_SRC") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LBQ = os.environ.get("LBQ") or os.path.join(SRC, "build", "lbq")
sys.path.insert(0, os.path.join(SRC, "experiments", "dump"))
sys.path.insert(0, os.path.join(SRC, "python"))
from make_sample import ByteLM  # noqa: E402
from lbq.safetensors import save_file, load_file, read_header  # noqa: E402
from lbq.resume import load_quantized, dequantize, levels_from_lbq  # noqa: E402

torch.set_num_threads(2)
T = tempfile.mkdtemp(prefix="lbq-import-")
NP = NF = 0


def check(name, cond, detail=""):
    global NP, NF
    if cond:
        NP += 1
        if os.environ.get("VERBOSE"):
            print("ok   -", name)
    else:
        NF += 1
        print("FAIL -", name, ("\n       " + str(detail)) if detail else "")


def lbq(*args):
    r = subprocess.run([LBQ] + [str(a) for a in args], capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def bits_equal(a, b):
    a = np.ascontiguousarray(a, dtype=np.float32)
    b = np.ascontiguousarray(b, dtype=np.float32)
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def compare(label, h5path, model, opt, cast=None, orig="float32", params=True):
    """every parameter with state: the file's m, v equal the live state (as float32) bit for bit."""
    names = {}
    for n, p in model.named_parameters():
        names.setdefault(p, n)
    n_ok = n_bad = 0
    first_bad = None
    with h5py.File(h5path, "r") as f:
        for g in opt.param_groups:
            for p in g["params"]:
                st = opt.state.get(p)
                if not st:
                    continue
                name = names[p]
                for s in ("exp_avg", "exp_avg_sq"):
                    live = st[s] if cast is None else st[s].to(cast)
                    ok = name in f and bits_equal(f[name][s][...], live.float().numpy())
                    ok = ok and f[name][s].attrs.get("orig_dtype") == orig.encode()
                    n_ok += ok
                    n_bad += not ok
                    if not ok and first_bad is None:
                        first_bad = f"{name}/{s}"
                if params and name in f:
                    ok = bits_equal(f[name]["param"][...], p.detach().float().numpy())
                    n_ok += ok
                    n_bad += not ok
                    if not ok and first_bad is None:
                        first_bad = f"{name}/param"
        nfile = sum(1 for k in f if isinstance(f[k], h5py.Group))
    nlive = sum(1 for g in opt.param_groups for p in g["params"] if opt.state.get(p))
    check(f"{label}: m, v{', param' if params else ''} bit-identical to the live {orig} state "
          f"({n_ok} tensors)", n_bad == 0 and n_ok > 0, f"first mismatch {first_bad}")
    check(f"{label}: one group per parameter with state ({nlive})", nfile == nlive, f"file {nfile}")


def batches(seed, n, ctx=32, B=4):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (B, ctx + 1), generator=g) for _ in range(n)]


def train_lm(model, opt, steps, seed=1):
    for x in batches(seed, steps):
        logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, 256), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


# ---- A: nanoGPT-style ckpt.pt ---------------------------------------------------------------------
def sec_A():
    global lm, optA, decay, nodecay, outA, ckA
    torch.manual_seed(0)
    lm = ByteLM(d=32, n_layer=2, n_head=2, ctx=32, tie_head=True)
    decay = [p for n, p in lm.named_parameters() if p.dim() >= 2]
    nodecay = [p for n, p in lm.named_parameters() if p.dim() < 2]
    optA = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": nodecay, "weight_decay": 0.0}],
                             lr=6e-4, betas=(0.9, 0.95), eps=1e-8)
    train_lm(lm, optA, 4)
    ckA = os.path.join(T, "ckpt.pt")
    torch.save({"model": lm.state_dict(), "optimizer": optA.state_dict(), "model_args": {"d": 32}, "iter_num": 4,
                "best_val_loss": 5.5, "config": {"lr": 6e-4}}, ckA)
    outA = os.path.join(T, "a.h5")
    rc, so, se = yield ("import", ckA, "-o", outA)
    check("A: lbq import ckpt.pt exits 0", rc == 0, se)
    check("A: tied head named once, noted", "'head.weight' is tied to 'tok_emb.weight'" in se, se)
    compare("A", outA, lm, optA)
    with h5py.File(outA, "r") as f:
        a = f.attrs
        check("A: root step/beta1/beta2/eps/lr/weight_decay from the param groups",
              (int(a["step"]), float(a["beta1"]), float(a["beta2"]), float(a["eps"]), float(a["lr"]),
               float(a["weight_decay"])) == (4, 0.9, 0.95, 1e-8, 6e-4, 0.1), dict(a))
        check("A: per-group weight_decay on the parameter groups",
              float(f["blocks.0.ln1.weight"].attrs["weight_decay"]) == 0.0
              and float(f["blocks.0.attn.qkv.weight"].attrs["weight_decay"]) == 0.1)
        check("A: no head.weight group (tied)", "head.weight" not in f and "tok_emb.weight" in f)
    rc, so, se = yield ("inspect", outA)
    check("A: lbq inspect reads the import", rc == 0 and "tok_emb.weight" in so, se)

    # custom keys and torch.compile's _orig_mod. prefix
    ckA2 = os.path.join(T, "custom.pt")
    torch.save({"net": {"_orig_mod." + k: v for k, v in lm.state_dict().items()}, "opt_state": optA.state_dict()}, ckA2)
    rc, so, se = yield ("import", ckA2, "-o", os.path.join(T, "a2.h5"))
    want = (f"lbq: error: {ckA2}: no optimizer state dict under the usual keys (optimizer, optimizer_state_dict, "
            f"optim, optimizer_state, opt); its keys: net, opt_state (name it with --optim-key)\n")
    check("A: unknown optimizer key: the exact one-line error, exit 3", rc == 3 and se == want, repr(se))
    check("A: ... and no output", not os.path.exists(os.path.join(T, "a2.h5")))
    rc, so, se = yield ("import", ckA2, "--optim-key", "opt_state", "-o", os.path.join(T, "a2.h5"), "-q")
    check("A: --optim-key, _orig_mod. stripped: exit 0, quiet", rc == 0 and se == "", se)
    compare("A --optim-key", os.path.join(T, "a2.h5"), lm, optA)


# ---- B: Hugging Face Trainer directory, bf16 model and states -----------------------------------
def sec_B():
    global dB
    torch.manual_seed(1)
    lmB = ByteLM(d=32, n_layer=2, n_head=2, ctx=32, tie_head=True).to(torch.bfloat16)
    # the Trainer's own grouping: parameters inside nn.LayerNorm modules and biases are not decayed
    ln_names = {f"{mn}.{pn}" if mn else pn for mn, m in lmB.named_modules() if isinstance(m, torch.nn.LayerNorm)
                for pn, _ in m.named_parameters(recurse=False)}
    dec = [n for n, _ in lmB.named_parameters() if n not in ln_names and "bias" not in n]
    pB = dict(lmB.named_parameters())
    optB = torch.optim.AdamW([{"params": [pB[n] for n in dec], "weight_decay": 0.01},
                              {"params": [p for n, p in lmB.named_parameters() if n not in dec], "weight_decay": 0.0}],
                             lr=1e-3)
    train_lm(lmB, optB, 3, seed=2)
    check("B: the live states are bf16", optB.state[pB["tok_emb.weight"]]["exp_avg"].dtype == torch.bfloat16)
    dB = os.path.join(T, "checkpoint-3")
    os.makedirs(dB)
    torch.save(optB.state_dict(), os.path.join(dB, "optimizer.pt"))
    torch.save(lmB.state_dict(), os.path.join(dB, "pytorch_model.bin"))
    with open(os.path.join(dB, "trainer_state.json"), "w") as f:
        json.dump({"global_step": 3, "log_history": []}, f)
    outB = os.path.join(T, "b.h5")
    rc, so, se = yield ("import", dB, "-o", outB)
    check("B: lbq import checkpoint-3/ exits 0", rc == 0, se)
    check("B: summary names the bf16 conversion", "bfloat16, converted exactly to float32" in se, se)
    compare("B", outB, lmB, optB, orig="bfloat16")
    with h5py.File(outB, "r") as f:
        check("B: rule hf (or both rules) recorded", b"hf" in f.attrs["import_rule"], f.attrs["import_rule"])
    rc, so, se = yield ("inspect", outB)
    row = next((ln for ln in so.splitlines() if ln.startswith("tok_emb.weight")), "")
    check("B: inspect shows bf16 in the dtype column", row.split()[3:4] == ["bf16"], row)
    check("B: inspect explains the dtype column",
          "dtype: m's dtype in the optimizer before the import (attribute orig_dtype), stored as float32" in so, so[-300:])
    rc, so, se = yield ("inspect", outB, "--json")
    js = json.loads(so)
    check("B: inspect --json has orig_dtype", js["params"][0].get("orig_dtype", {}).get("exp_avg") == "bfloat16",
          js["params"][0])

    # B2: model.safetensors (the tied duplicate dropped, as Hugging Face does)
    dB2 = os.path.join(T, "checkpoint-3-st")
    os.makedirs(dB2)
    torch.save(optB.state_dict(), os.path.join(dB2, "optimizer.pt"))
    sd = {k: v for k, v in lmB.state_dict().items() if k != "head.weight"}
    save_file(sd, os.path.join(dB2, "model.safetensors"), metadata={"format": "pt"})
    back = load_file(os.path.join(dB2, "model.safetensors"))
    check("B2: our safetensors reader returns every tensor bit for bit (bf16 included)",
          set(back) == set(sd) and all(torch.equal(back[k].view(torch.int16) if back[k].dtype == torch.bfloat16
                                                   else back[k], sd[k].view(torch.int16) if sd[k].dtype == torch.bfloat16
                                                   else sd[k]) and back[k].dtype == sd[k].dtype for k in sd))
    hdr, _ = read_header(os.path.join(dB2, "model.safetensors"))
    check("B2: the safetensors key order is not the model order",
          [k for k in hdr if k != "__metadata__"] != list(sd))
    outB2 = os.path.join(T, "b2.h5")
    rc, so, se = yield ("import", dB2, "-o", outB2)
    want = (f"lbq: error: {os.path.join(dB2, 'model.safetensors')}: does not record the parameters' order "
            f"(safetensors files and shard indices sort their keys); give --order FILE (the names in "
            f"model.named_parameters() order) or --names FILE\n")
    check("B2: safetensors without --order: the exact one-line error, exit 3", rc == 3 and se == want, repr(se))
    order = os.path.join(T, "order.txt")
    with open(order, "w") as f:
        f.write("\n".join(n for n, _ in lmB.named_parameters()) + "\n")
    rc, so, se = yield ("import", dB2, "--order", order, "-o", outB2)
    check("B2: with --order exits 0", rc == 0, se)
    compare("B2", outB2, lmB, optB, orig="bfloat16")

    # B3: sharded safetensors (model-0000k-of-00002.safetensors + model.safetensors.index.json)
    dB3 = os.path.join(T, "checkpoint-3-shards")
    os.makedirs(dB3)
    torch.save(optB.state_dict(), os.path.join(dB3, "optimizer.pt"))
    keys = list(sd)
    wm = {}
    for i, part in enumerate((keys[:len(keys) // 2], keys[len(keys) // 2:]), 1):
        fn = f"model-0000{i}-of-00002.safetensors"
        save_file({k: sd[k] for k in part}, os.path.join(dB3, fn))
        wm.update({k: fn for k in part})
    with open(os.path.join(dB3, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": dict(sorted(wm.items()))}, f)
    outB3 = os.path.join(T, "b3.h5")
    rc, so, se = yield ("import", dB3, "--order", order, "-o", outB3)
    check("B3: sharded safetensors with --order exits 0", rc == 0, se)
    compare("B3", outB3, lmB, optB, orig="bfloat16")


# ---- C: separate optimizer and model files; resnet18 with a frozen conv1 --------------------------
def sec_C():
    global gen

    torch.manual_seed(2)
    rn = torchvision.models.resnet18(num_classes=10)
    rn.conv1.weight.requires_grad_(False)
    optC = torch.optim.Adam([p for p in rn.parameters() if p.requires_grad], lr=1e-3)
    gen = torch.Generator().manual_seed(3)
    for _ in range(2):
        x = torch.randn(2, 3, 32, 32, generator=gen)
        y = torch.randint(0, 10, (2,), generator=gen)
        loss = F.cross_entropy(rn(x), y)
        optC.zero_grad()
        loss.backward()
        optC.step()
    oC, mC = os.path.join(T, "optim.pt"), os.path.join(T, "model.pt")
    torch.save(optC.state_dict(), oC)
    torch.save(rn.state_dict(), mC)
    outC = os.path.join(T, "c.h5")
    rc, so, se = yield ("import", oC, "-o", outC)
    want = (f"lbq: error: {oC}: is an optimizer state dict alone; give the model state dict with --model FILE "
            f"(or the names with --names FILE)\n")
    check("C: optimizer alone: the exact one-line error, exit 3", rc == 3 and se == want, repr(se))
    rc, so, se = yield ("import", oC, "--model", mC, "-o", outC)
    check("C: lbq import optim.pt --model model.pt exits 0", rc == 0, se)
    check("C: the frozen conv1.weight is noted", "not in the optimizer (frozen?): conv1.weight" in se, se)
    compare("C resnet18", outC, rn, optC)
    with h5py.File(outC, "r") as f:
        check("C: BatchNorm buffers are not parameters", not any("running" in k for k in f))
    # fp16 states: the live fp32 states cast to fp16 (CPU training in fp16 is not supported by torch 1.13)
    sdH = optC.state_dict()
    sdH = {"state": {i: {k: (v.half() if k.startswith("exp_avg") else v) for k, v in s.items()}
                     for i, s in sdH["state"].items()}, "param_groups": sdH["param_groups"]}
    oH = os.path.join(T, "optim-fp16.pt")
    torch.save(sdH, oH)
    outH = os.path.join(T, "h.h5")
    rc, so, se = yield ("import", oH, "--model", mC, "-o", outH, "--no-param")
    check("C fp16: exits 0", rc == 0, se)
    compare("C fp16", outH, rn, optC, cast=torch.float16, orig="float16", params=False)


# ---- D: ambiguous (bn1.weight frozen: index 1 could be bn1.weight or bn1.bias) --------------------
def sec_D():
    torch.manual_seed(4)
    rd = torchvision.models.resnet18(num_classes=10)
    rd.bn1.weight.requires_grad_(False)
    optD = torch.optim.Adam([p for p in rd.parameters() if p.requires_grad], lr=1e-3)
    x = torch.randn(2, 3, 32, 32, generator=gen)
    F.cross_entropy(rd(x), torch.tensor([1, 2])).backward()
    optD.step()
    oD, mD = os.path.join(T, "optimD.pt"), os.path.join(T, "modelD.pt")
    torch.save(optD.state_dict(), oD)
    torch.save(rd.state_dict(), mD)
    outD = os.path.join(T, "d.h5")
    rc, so, se = yield ("import", oD, "--model", mD, "-o", outD)
    want = (f"lbq: error: {oD}: cannot name the optimizer states: rule 'all': optimizer index 1 (group 0, shape [64]) "
            f"could be 'bn1.weight' or 'bn1.bias' (frozen parameters of the same shape leave the order ambiguous); "
            f"give --names FILE\n")
    check("D: ambiguous: the exact one-line error, exit 3", rc == 3 and se == want, repr(se))
    check("D: ... and no output", not os.path.exists(outD))
    namesD = os.path.join(T, "names.txt")
    with open(namesD, "w") as f:
        f.write("\n".join(n for n, p in rd.named_parameters() if p.requires_grad) + "\n")
    rc, so, se = yield ("import", oD, "--model", mD, "--names", namesD, "-o", outD)
    check("D: --names resolves it: exit 0", rc == 0, se)
    compare("D --names", outD, rd, optD)


# ---- E: mismatches -----------------------------------------------------------------------------------
def sec_E():
    torch.manual_seed(5)
    other = ByteLM(d=48, n_layer=2, n_head=2, ctx=32, tie_head=True)
    mE = os.path.join(T, "other-model.pt")
    torch.save(other.state_dict(), mE)
    oE = os.path.join(T, "optimA.pt")
    torch.save(optA.state_dict(), oE)
    rc, so, se = yield ("import", oE, "--model", mE, "-o", os.path.join(T, "e.h5"))
    want = (f"lbq: error: {oE}: cannot name the optimizer states: no grouping rule fits the model (rule 'nanogpt': "
            f"optimizer index 0 (group 0) has shape [256, 32], the model's next parameter there is 'tok_emb.weight' "
            f"[256, 48]); give --names FILE\n")
    check("E: mismatched model: the exact one-line error, exit 3", rc == 3 and se == want, repr(se))
    bad = os.path.join(T, "bad-names.txt")
    with open(bad, "w") as f:
        f.write("a\nb\n")
    rc, so, se = yield ("import", oE, "--names", bad, "-o", os.path.join(T, "e.h5"))
    nA = sum(len(g["params"]) for g in optA.param_groups)
    check("E: --names with the wrong count: the exact one-line error, exit 3",
          rc == 3 and se == f"lbq: error: {bad}: 2 names for {nA} optimizer indices (--names wants one name per "
          f"index, in index order)\n", repr(se))
    h5in = os.path.join(T, "in.h5")
    with h5py.File(h5in, "w") as f:
        f["x/exp_avg"] = np.zeros(4, np.float32)
    rc, so, se = yield ("import", h5in, "-o", os.path.join(T, "e.h5"))
    check("E: an HDF5 input: the exact one-line error, exit 3",
          rc == 3 and se == f"lbq: error: {h5in}: is an HDF5 file (already a moment file? use 'lbq inspect {h5in}')\n",
          repr(se))
    rc, so, se = yield ("import", ckA, "-o", os.path.join(T, "no-dir", "e.h5"))
    check("E: missing output directory: exit 4, one line",
          rc == 4 and se == f"lbq: error: -o {os.path.join(T, 'no-dir', 'e.h5')}: directory {os.path.join(T, 'no-dir')}: No such file or directory\n", repr(se))
    rc, so, se = yield ("import", ckA, "-o", os.path.join(T, "e.h5"), "--rule", "bogus")
    check("E: bad --rule: exit 2, one line", rc == 2 and se.count("\n") == 1 and "'bogus'" in se, repr(se))
    rc, so, se = yield ("import", ckA, "-o", os.path.join(T, "e.h5"), "--rule", "all")
    check("E: --rule all on a two-group optimizer: exit 3, one line naming the group counts",
          rc == 3 and se == f"lbq: error: {ckA}: cannot name the optimizer states: no grouping rule fits the model "
          f"(rule 'all' makes 1 group(s), the optimizer has 2); give --names FILE\n", repr(se))


# ---- G: analyze on a checkpoint points to import ---------------------------------------------------
def sec_G():
    rc, so, se = yield ("analyze", ckA, "--recipe", "lpmm4", "-q")
    check("G: analyze ckpt.pt: exit 3 and the lbq import hint",
          rc == 3 and se == f"lbq: error: {ckA}: not an HDF5 file (a PyTorch checkpoint? convert it with "
          f"'lbq import {ckA} -o moments.h5')\n", repr(se))
    rc, so, se = yield ("inspect", dB)
    check("G: inspect on a Trainer directory: exit 3 and the hint",
          rc == 3 and se == f"lbq: error: {dB}: is a directory, not an HDF5 file (a Hugging Face Trainer checkpoint? "
          f"convert it with 'lbq import {dB} -o moments.h5')\n", repr(se))

    # an orig_dtype the reader does not take (a variable-length string, h5py's default; an unknown dtype)
    odd = os.path.join(T, "odd.h5")
    with h5py.File(odd, "w") as f:
        for n, val in (("a", "bfloat16"), ("b", "int8")):
            g = f.create_group(n)
            g["exp_avg"] = np.ones((4, 4), np.float32)
            g["exp_avg_sq"] = np.ones((4, 4), np.float32)
            g["exp_avg"].attrs["orig_dtype"] = val          # h5py writes a variable-length string
    rc, so, se = yield ("inspect", odd)
    check("G: an orig_dtype in another form is ignored with a notice, f32 shown",
          rc == 0 and se.count("attribute orig_dtype of exp_avg is not a known float dtype string; ignored") == 2
          and " f32 " in so.splitlines()[2] and "dtype:" not in so, se + so)


# ---- run the sections: their lbq commands in parallel (3 at a time), each section's in order ------
def run_sections(gens, workers=3):
    pool = ThreadPoolExecutor(workers)
    active = {}

    def advance(g, value=None, first=False):
        try:
            args = next(g) if first else g.send(value)
        except StopIteration:
            return
        active[pool.submit(lbq, *args)] = g
    for g in gens:
        advance(g, first=True)      # builds that section's checkpoints, then starts its first command
    while active:
        done, _ = wait(list(active), return_when=FIRST_COMPLETED)
        for fut in done:
            advance(active.pop(fut), fut.result())
    pool.shutdown()


run_sections([sec_A(), sec_B(), sec_C(), sec_D(), sec_E(), sec_G()])
check("E: no leftovers", not any(n.startswith(".e.h5") or n == "e.h5" for n in os.listdir(T)), os.listdir(T))

# ---- F: back into PyTorch -----------------------------------------------------------------------------
for recipe in ("torchao4", "lpmm4"):
    q = os.path.join(T, f"q-{recipe}.h5")
    rc, so, se = lbq("quantize", outA, "--recipe", recipe, "-o", q, "-q")
    check(f"F {recipe}: lbq quantize the import: exit 0", rc == 0, se)
    fresh = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": nodecay, "weight_decay": 0.0}],
                              lr=6e-4, betas=(0.9, 0.95))
    info = load_quantized(q, fresh, lm)
    ok = True
    with h5py.File(q, "r") as f:
        for n, p in lm.named_parameters():
            if n in f:
                ok &= bits_equal(fresh.state[p]["exp_avg"].numpy(), f[n]["exp_avg"][...])
                ok &= bits_equal(fresh.state[p]["exp_avg_sq"].numpy(), f[n]["exp_avg_sq"][...])
                ok &= float(fresh.state[p]["step"]) == 4.0
    check(f"F {recipe}: load_quantized puts the dequantized states in the optimizer ({len(info['loaded'])})",
          ok and len(info["loaded"]) == len(optA.state), info)
    train_lm(lm, fresh, 1, seed=9)
    check(f"F {recipe}: training resumes (one step; step 5)",
          all(float(s["step"]) == 5.0 for s in fresh.state.values()))
    packed = torch.optim.AdamW(lm.parameters(), lr=6e-4)
    load_quantized(q, packed, lm, mode="packed")
    nq = nbad = 0
    for n, p in lm.named_parameters():
        st = packed.state.get(p, {})
        for s in ("exp_avg", "exp_avg_sq"):
            if s + ".codes" not in st:
                continue
            qa = st[s + ".qattrs"]
            lv = levels_from_lbq(qa["map"], qa["bits"], bool(qa["signed"]), lbq=LBQ)
            x = dequantize(st[s + ".codes"].numpy(), st[s + ".scales"].numpy(), qa, p.shape, lv)
            nq += 1
            nbad += not bits_equal(x, st[s].numpy())
    check(f"F {recipe}: packed codes + scales rebuild the dequantized states bit for bit ({nq} states)",
          nq > 0 and nbad == 0, f"{nbad} differ")

import shutil  # noqa: E402
shutil.rmtree(T, ignore_errors=True)
print(f"test-import: {NP} passed, {NF} failed")
sys.exit(1 if NF else 0)
