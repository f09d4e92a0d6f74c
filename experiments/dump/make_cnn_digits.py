#!/usr/bin/python3
"""A small CNN moment file with structural zeros: data/cnn-digits.h5 (CPU, offline, seconds).

Trains a ResNet-like CNN (4 stages of two BasicBlocks each, widths 16/32/48/64, stride 2 from
stage 2 on) on scikit-learn's bundled 8x8 digits with AdamW, and dumps the optimizer moments
(m, v; no param, no grads) with lbq's dump helper (python/lbq/moments.py).

The input is 8x8, so stage 4 works on 1x1 feature maps: the 3x3 convolutions there see
zero padding in 8 of their 9 taps (5 of 9 in the strided first one), whose gradients are exactly
0 at every step; their m and v stay exactly 0 in fp32 (structural zeros).  The file is the test
case for lbq's split of zeros kept / zeros lifted / non-zeros collapsed (docs/metrics.md).

Regenerate (from the repository root, Debian's interpreter with python3-torch, python3-h5py,
python3-numpy, python3-sklearn):

    /usr/bin/python3 experiments/dump/make_cnn_digits.py --out data/cnn-digits.h5
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from lbq.moments import dump_moments  # noqa: E402


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (self.down(x) if self.down is not None else x))


class SmallResNet(nn.Module):
    def __init__(self, widths=(16, 32, 48, 64), classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        layers, cin = [], widths[0]
        for i, w in enumerate(widths):
            s = 1 if i == 0 else 2
            layers.append(nn.Sequential(Block(cin, w, s), Block(w, w, 1)))
            cin = w
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="data/cnn-digits.h5")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)

    from sklearn.datasets import load_digits   # bundled with scikit-learn: no download
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    torch.use_deterministic_algorithms(True)
    d = load_digits()
    X = torch.tensor(d.images / 16.0, dtype=torch.float32).unsqueeze(1)   # [1797, 1, 8, 8] in [0, 1]
    y = torch.tensor(d.target, dtype=torch.long)
    model = SmallResNet()
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    g = torch.Generator().manual_seed(a.seed + 1)
    model.train()
    for step in range(1, a.steps + 1):
        idx = torch.randint(0, X.shape[0], (a.batch,), generator=g)
        loss = F.cross_entropy(model(X[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == 1:
            print(f"step {step:4d}  loss {loss.item():.4f}", flush=True)
    model.eval()
    with torch.no_grad():
        acc = (model(X).argmax(1) == y).float().mean().item()
    nparam = sum(p.numel() for p in model.parameters())
    src = (f"experiments/dump/make_cnn_digits.py: SmallResNet(16,32,48,64) on sklearn digits 8x8, "
           f"{a.steps} steps, batch {a.batch}, AdamW lr {a.lr} wd 0.01, seed {a.seed}; train acc {acc:.3f}")
    info = dump_moments(a.out, model, opt, step=a.steps, params=False, source=src)
    print(f"{a.out}: {nparam} parameters, train accuracy {acc:.3f}; {info}")


if __name__ == "__main__":
    main()
