#!/usr/bin/python3
"""Produce lbq's sample moment files from a small real training run (CPU, offline).

Trains a byte-level (vocab 256) transformer LM on the Python standard library
sources shipped by Debian (/usr/lib/python3.11/*.py, sorted) with AdamW, and
dumps the optimizer moments at an early and a late step:

    <out>/sample-early.h5   m, v at step --early         (no param, no grads)
    <out>/sample-late.h5    m, v, param at step --steps   + grads[T] for 3 params

Regenerate (from the repository root):

    /usr/bin/python3 experiments/dump/make_sample.py --out data/

Use Debian's /usr/bin/python3 (python3-torch, python3-h5py, python3-numpy).
"""

from __future__ import annotations

import argparse
import glob
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lbq_dump import GradRecorder, dump_moments  # noqa: E402  (shim over python/lbq/moments.py)

DEFAULT_CORPUS = "/usr/lib/python3.11/*.py"


class Attention(nn.Module):
    def __init__(self, d: int, n_head: int):
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x, mask):
        B, T, C = x.shape
        h = self.n_head
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, h, C // h).transpose(1, 2)
        k = k.view(B, T, h, C // h).transpose(1, 2)
        v = v.view(B, T, h, C // h).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // h))
        att = att.masked_fill(mask[:T, :T], float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        return self.proj(y)


class MLP(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, d: int, n_head: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = Attention(d, n_head)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = MLP(d)

    def forward(self, x, mask):
        x = x + self.attn(self.ln1(x), mask)
        return x + self.mlp(self.ln2(x))


class ByteLM(nn.Module):
    def __init__(self, d: int = 96, n_layer: int = 3, n_head: int = 4, ctx: int = 128,
                 vocab: int = 256, tie_head: bool = False):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab, d)
        self.pos_emb = nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList([Block(d, n_head) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)  # untied output head
        self.register_buffer("mask", torch.triu(torch.ones(ctx, ctx, dtype=torch.bool), 1),
                             persistent=False)
        for mod in self.modules():
            if isinstance(mod, (nn.Linear, nn.Embedding)):
                nn.init.normal_(mod.weight, std=0.02)
                if getattr(mod, "bias", None) is not None:
                    nn.init.zeros_(mod.bias)
        if tie_head:        # GPT-2 style: the output head shares the token embedding (one parameter)
            self.head.weight = self.tok_emb.weight

    def forward(self, idx):
        B, T = idx.shape
        pos = torch.arange(T, device=idx.device)
        x = self.tok_emb(idx) + self.pos_emb(pos)[None]
        for b in self.blocks:
            x = b(x, self.mask)
        return self.head(self.ln_f(x))


def load_corpus(pattern: str) -> tuple[torch.Tensor, list[str]]:
    files = sorted(glob.glob(pattern))
    if not files:
        raise SystemExit(f"no corpus files match {pattern}")
    data = b"".join(open(p, "rb").read() for p in files)
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).long(), files


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="data/", help="output directory (default data/)")
    ap.add_argument("--corpus", default=DEFAULT_CORPUS, help="glob of text files (sorted)")
    ap.add_argument("--steps", type=int, default=300, help="training steps (late dump)")
    ap.add_argument("--early", type=int, default=20, help="step of the early dump")
    ap.add_argument("--T", type=int, default=48, help="gradient-stream length in the late file")
    ap.add_argument("--d", type=int, default=96)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ctx", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--grad-params", default="blocks.1.attn.proj.weight,"
                    "blocks.1.mlp.fc1.weight,blocks.1.ln1.weight",
                    help="comma-separated parameter names that get a grads stream")
    a = ap.parse_args(argv)

    t0 = time.time()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    torch.use_deterministic_algorithms(True)

    data, files = load_corpus(a.corpus)
    n_seen = int(torch.unique(data).numel())
    print(f"corpus: {len(files)} files, {data.numel()} bytes, {n_seen} distinct byte values "
          f"({a.corpus})", flush=True)

    model = ByteLM(d=a.d, n_layer=a.layers, n_head=a.heads, ctx=a.ctx)
    n_total = sum(p.numel() for p in model.parameters())
    big = [n for n, p in model.named_parameters() if p.numel() > 4096]
    print(f"model: {n_total} parameters in {len(list(model.parameters()))} tensors, "
          f"{len(big)} with > 4096 elements", flush=True)

    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=0.01)
    grad_names = [s for s in a.grad_params.split(",") if s]
    rec = GradRecorder(grad_names, T=a.T)
    gen = torch.Generator().manual_seed(a.seed + 1)

    source = (f"lbq make_sample.py: byte-level transformer LM (d={a.d}, layers={a.layers}, "
              f"heads={a.heads}, ctx={a.ctx}, vocab=256, untied head) on "
              f"{a.corpus} ({len(files)} files, {data.numel()} bytes); AdamW lr={a.lr} "
              f"wd=0.01, batch={a.batch}, seed={a.seed}, constant lr")
    os.makedirs(a.out, exist_ok=True)
    early_path = os.path.join(a.out, "sample-early.h5")
    late_path = os.path.join(a.out, "sample-late.h5")
    results = []

    model.train()
    for step in range(1, a.steps + 1):
        ix = torch.randint(0, data.numel() - a.ctx - 1, (a.batch,), generator=gen)
        x = torch.stack([data[i:i + a.ctx] for i in ix.tolist()])
        y = torch.stack([data[i + 1:i + 1 + a.ctx] for i in ix.tolist()])
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if step > a.steps - a.T:
            rec.record(model)
        opt.step()
        if step == 1 or step % 25 == 0 or step == a.steps:
            print(f"step {step:4d}  loss {loss.item():.4f}  bits/byte "
                  f"{loss.item() / math.log(2):.3f}  ({time.time() - t0:.0f}s)", flush=True)
        if step == a.early:
            results.append(dump_moments(early_path, model, opt, step=step, params=False,
                                        source=source + f"; early dump at step {step}"))
    results.append(dump_moments(late_path, model, opt, step=a.steps, grads=rec, params=True,
                                grads_compression="gzip", compression_opts=4,
                                source=source + f"; late dump at step {a.steps}, grads = "
                                f"last {len(rec)} steps (oldest first)"))
    elapsed = time.time() - t0
    for r in results:
        g = f", grads on {','.join(r['grads'])} (T={len(rec)})" if r["grads"] else ""
        print(f"{r['path']}: step={r['step']} params={r['params']} elements={r['elements']} "
              f"bytes={r['bytes']}{g}")
    print(f"total run time {elapsed:.1f}s")


if __name__ == "__main__":
    main()
