#!/usr/bin/python3
"""Write real training checkpoints in the layouts `lbq import` reads (docs/import.md), from a short
CPU run of the bundled byte-level transformer (make_sample.py's ByteLM, with a GPT-2 style tied head):

    <out>/ckpt.pt          nanoGPT layout: {"model", "optimizer", "model_args", "iter_num", "config"};
                           AdamW groups dim >= 2 (weight decay) / dim < 2 (none)
    <out>/checkpoint-N/    Hugging Face Trainer layout: optimizer.pt, pytorch_model.bin,
                           trainer_state.json; AdamW groups decayed / biases and LayerNorm weights

    /usr/bin/python3 experiments/dump/make_checkpoint.py --out /tmp/run [--steps 30] [--dtype bf16]

--dtype bf16 trains the model in bfloat16, so the Adam states are bfloat16 too.
"""

import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_sample import DEFAULT_CORPUS, ByteLM, load_corpus  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32")
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--corpus", default=DEFAULT_CORPUS)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    torch.manual_seed(a.seed)
    torch.set_num_threads(2)
    data, _ = load_corpus(a.corpus)
    os.makedirs(a.out, exist_ok=True)
    dt = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    for layout in ("nanogpt", "hf"):
        torch.manual_seed(a.seed)
        model = ByteLM(d=a.d, n_layer=a.layers, n_head=4, ctx=a.ctx, tie_head=True).to(dt)
        if layout == "nanogpt":
            dec = [p for p in model.parameters() if p.dim() >= 2]
            nod = [p for p in model.parameters() if p.dim() < 2]
            wd = 0.1
        else:   # the Trainer: parameters of LayerNorm modules and biases are not decayed
            ln = {id(p) for m in model.modules() if isinstance(m, torch.nn.LayerNorm) for p in m.parameters()}
            dec = [p for n, p in model.named_parameters() if id(p) not in ln and "bias" not in n]
            nod = [p for n, p in model.named_parameters() if id(p) in ln or "bias" in n]
            wd = 0.01
        opt = torch.optim.AdamW([{"params": dec, "weight_decay": wd}, {"params": nod, "weight_decay": 0.0}],
                                lr=1e-3, betas=(0.9, 0.95))
        gen = torch.Generator().manual_seed(a.seed + 1)
        for step in range(1, a.steps + 1):
            ix = torch.randint(0, data.numel() - a.ctx - 1, (a.batch,), generator=gen)
            x = torch.stack([data[i:i + a.ctx] for i in ix.tolist()])
            y = torch.stack([data[i + 1:i + 1 + a.ctx] for i in ix.tolist()])
            loss = F.cross_entropy(model(x).float().reshape(-1, 256), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        print(f"{layout}: {a.steps} steps, loss {loss.item():.3f} ({loss.item() / math.log(2):.2f} bits/byte)")
        if layout == "nanogpt":
            p = os.path.join(a.out, "ckpt.pt")
            torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                        "model_args": dict(d=a.d, n_layer=a.layers, ctx=a.ctx), "iter_num": a.steps,
                        "best_val_loss": loss.item(), "config": vars(a)}, p)
        else:
            p = os.path.join(a.out, f"checkpoint-{a.steps}")
            os.makedirs(p, exist_ok=True)
            torch.save(opt.state_dict(), os.path.join(p, "optimizer.pt"))
            torch.save(model.state_dict(), os.path.join(p, "pytorch_model.bin"))
            with open(os.path.join(p, "trainer_state.json"), "w") as f:
                json.dump({"global_step": a.steps, "log_history": [{"step": a.steps, "loss": loss.item()}]}, f)
        print(f"wrote {p}")


if __name__ == "__main__":
    main()
