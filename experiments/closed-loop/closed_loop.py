#!/usr/bin/python3
"""The closed-loop experiment: train the bundled byte-level transformer with quantized Adam states and
ask whether lbq's static metrics predict what training does (experiments/closed-loop/README.md).

    /usr/bin/python3 experiments/closed-loop/closed_loop.py --out out/closed-loop      (make closed-loop)
    /usr/bin/python3 experiments/closed-loop/closed_loop.py --smoke --out /tmp/cl      (the ctest smoke)

For every configuration (configs below) and seed: the same initialization and batch order as the fp32
run of that seed, AdamW (lr 3e-3, betas 0.9/0.999, eps 1e-8, wd 0.01, constant lr), and after every
step exp_avg/exp_avg_sq replaced by lbq's quantize-dequantize (lbq.torch.quantize_states).  Recorded:
the training loss at every step, the validation loss (fixed held-out batches) every --eval-every steps
and at the end, and the hook's per-step statistics (v zeroed, rel-L2).  Static metrics: `lbq analyze`
of each configuration on a moment dump of the fp32 run (seed 0) at step --dump-step.
Outcome: final validation loss gap to fp32 (same seed; mean over seeds) and divergence (criterion in
DIVERGED below).  Writes OUT/results.json, OUT/table.md, OUT/curves-*.tsv, OUT/scatter.tsv and the figures.
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import multiprocessing.connection
import os
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "python"))
sys.path.insert(0, os.path.join(SRC, "experiments", "dump"))

# name, group, m spec, v spec, recipe (None: every tensor quantized with m/v; "plan:B": the plan of
# `lbq recommend FP32-DUMP --budget B`), paper's Table 1 unstable %
B2048DE = "block2048-dtree:b4"
PLAN_BUDGET = 4
PLAN_NAME = f"plan <={PLAN_BUDGET} bits"
CONFIGS = [
    ("fp32", "reference", None, None, None, "0"),
    ("bnb8", "recipe", None, None, "bnb8", ""),
    ("lpmm4", "recipe", None, None, "lpmm4", ""),
    ("torchao4", "recipe", None, None, "torchao4", ""),
    ("solo42", "recipe", None, None, "solo42", ""),
    ("coat", "recipe", None, None, "coat", ""),
    (PLAN_NAME, "recipe", None, None, f"plan:{PLAN_BUDGET}", ""),
    ("v B2048/DE", "table1", B2048DE, "block2048-dtree:b4", None, "33"),
    ("v B128/DE", "table1", B2048DE, "block128-dtree:b4", None, "66"),
    ("v B128/DE+SR", "table1", B2048DE, "block128-dtree:b4:sr", None, "33"),
    ("v B128/DE-0", "table1", B2048DE, "block128-dtree:b4:nz", None, "0"),
    ("v Rank-1/Linear", "table1", B2048DE, "rank1-linear:b4", None, "0"),
    ("v B128/DE 3-bit", "lowbit", B2048DE, "block128-dtree:b3", None, ""),
    ("v B128/DE 2-bit", "lowbit", B2048DE, "block128-dtree:b2", None, ""),
    ("v B128/log 3-bit", "lowbit", B2048DE, "block128-log:b3", None, ""),
    ("v B128/log 2-bit", "lowbit", B2048DE, "block128-log:b2", None, ""),
]
SMOKE = ["fp32", "lpmm4", "v B128/DE", "v Rank-1/Linear", PLAN_NAME]
# divergence: a non-finite training loss at any step, or a final validation loss more than
# DIVERGE_GAP nats above the fp32 run of the same seed
DIVERGE_GAP = 0.5
STATIC = ["update.rel_l2", "update.cosine", "update.blowup_frac", "update.collapse_share", "v.zero_collapse",
          "v.rel_l2", "m.rel_l2"]


def corpus(limit_bytes):
    import glob
    import torch
    files = sorted(glob.glob("/usr/lib/python3.11/*.py")) or sorted(glob.glob("/usr/lib/python3*/*.py"))
    if not files:
        raise SystemExit("closed-loop: no corpus (/usr/lib/python3.11/*.py)")
    data = b""
    for p in files:
        data += open(p, "rb").read()
        if len(data) >= limit_bytes:
            break
    return torch.frombuffer(bytearray(data[:limit_bytes]), dtype=torch.uint8).long()


def run_one(job):
    """One training run; returns its record (losses, val, hook stats)."""
    fail = os.environ.get("LBQ_CLOSED_LOOP_TEST_FAIL", "")     # tests only: "CONFIG:exit|raise|hang"
    if fail and fail.rsplit(":", 1)[0] == job["config"][0]:
        mode = fail.rsplit(":", 1)[1]
        if mode == "exit":
            os._exit(7)                 # a worker that dies without a word (as under the OOM killer)
        if mode == "hang":
            time.sleep(1e9)
        raise RuntimeError(f"test failure injected into {job['config'][0]}")
    import torch
    import torch.nn.functional as F
    import lbq
    from make_sample import ByteLM
    a = argparse.Namespace(**job["args"])
    torch.set_num_threads(1)
    torch.manual_seed(1000 + job["seed"])
    data = corpus(a.corpus_bytes)
    split = int(data.numel() * 0.9)
    train, val = data[:split], data[split:]
    model = ByteLM(d=a.d, n_layer=a.layers, n_head=a.heads, ctx=a.ctx)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    name, _, m, v, recipe, _ = job["config"]
    q = None
    if recipe and recipe.startswith("plan:"):
        q = lbq.torch.quantize_states(opt, plan=job["plan_path"], seed=job["seed"], model=model)
    elif recipe:
        q = lbq.torch.quantize_states(opt, recipe=recipe, seed=job["seed"], model=model)
    elif m or v:
        q = lbq.torch.quantize_states(opt, m=m, v=v, seed=job["seed"], model=model)
    g = torch.Generator().manual_seed(2000 + job["seed"])
    gv = torch.Generator().manual_seed(7)
    vix = torch.randint(0, val.numel() - a.ctx - 1, (a.val_batches * a.batch,), generator=gv).tolist()
    vx = torch.stack([val[i:i + a.ctx] for i in vix])
    vy = torch.stack([val[i + 1:i + 1 + a.ctx] for i in vix])

    def val_loss():
        model.eval()
        with torch.no_grad():
            tot = 0.0
            for b in range(a.val_batches):
                sl = slice(b * a.batch, (b + 1) * a.batch)
                lo = model(vx[sl])
                tot += F.cross_entropy(lo.reshape(-1, 256), vy[sl].reshape(-1)).item()
        model.train()
        return tot / a.val_batches

    losses, vals, vz, vrel = [], [], [], []
    t0, c0 = time.time(), time.process_time()
    for step in range(1, a.steps + 1):
        ix = torch.randint(0, train.numel() - a.ctx - 1, (a.batch,), generator=g).tolist()
        x = torch.stack([train[i:i + a.ctx] for i in ix])
        y = torch.stack([train[i + 1:i + 1 + a.ctx] for i in ix])
        loss = F.cross_entropy(model(x).reshape(-1, 256), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        lv = loss.item()
        losses.append(round(lv, 5) if math.isfinite(lv) else None)
        if q is not None:
            st = q.last["v"]
            vz.append(st["zeroed"] / max(1, st["numel"] - st["zeros_in"]))
            vrel.append(st["rel_l2"])
        if job.get("dump_step") == step:
            from lbq.moments import dump_moments
            dump_moments(job["dump_path"], model, opt, step=step, params=False,
                         source=f"closed-loop fp32 run seed {job['seed']} step {step}")
        if step % a.eval_every == 0 or step == a.steps:
            vl = val_loss() if math.isfinite(lv) else float("nan")
            vals.append((step, vl if math.isfinite(vl) else None))
        if not math.isfinite(lv):       # diverged: the rest of the run is NaN
            losses += [None] * (a.steps - step)
            vals.append((a.steps, None))
            break
    return {"config": name, "seed": job["seed"], "loss": losses, "val": vals,
            "final_val": vals[-1][1], "seconds": time.time() - t0, "cpu_seconds": time.process_time() - c0,
            "hook_v_zeroed_frac": sum(vz) / len(vz) if vz else 0.0,
            "hook_v_rel_l2": sum(vrel) / len(vrel) if vrel else 0.0}

class RunFailed(Exception):
    """A training run failed (an exception, a worker that died, or one past --run-timeout)."""


def _child(job, conn):
    try:                                # die with the parent (Linux): a killed experiment leaves no runs
        import ctypes
        import signal
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)      # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    try:
        conn.send(("ok", run_one(job)))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def schedule(jobs, n_par, timeout_s, on_done):
    """Run the jobs, n_par at a time, each in its own forked process (the parent never imports torch,
    so forking is safe), and call on_done(result) as each finishes; on_done may return more jobs.
    A run that raises, a worker that dies (killed, crashed) and a run past timeout_s seconds raise
    RunFailed naming the run, after the other workers are killed: the experiment never waits forever."""
    ctx = multiprocessing.get_context("fork")
    pending, running = list(jobs), {}
    try:
        while pending or running:
            while pending and len(running) < n_par:
                job = pending.pop(0)
                rd, wr = ctx.Pipe(duplex=False)
                p = ctx.Process(target=_child, args=(job, wr), daemon=True)
                p.start()
                wr.close()
                running[rd] = (p, job, time.time())
            for rd in multiprocessing.connection.wait(list(running), timeout=2.0):
                p, job, _ = running.pop(rd)
                label = f"{job['config'][0]} seed {job['seed']}"
                try:
                    kind, payload = rd.recv()
                except (EOFError, OSError):
                    kind, payload = "died", None
                rd.close()
                p.join(30)
                if kind == "died":
                    raise RunFailed(f"run {label}: the worker died without a result (exit status {p.exitcode}; "
                                    "negative: killed by that signal, e.g. -9 by the OOM killer)")
                if kind != "ok":
                    raise RunFailed(f"run {label} failed:\n{payload}")
                pending += on_done(payload) or []
            now = time.time()
            for rd, (p, job, t0) in running.items():
                if now - t0 > timeout_s:
                    raise RunFailed(f"run {job['config'][0]} seed {job['seed']}: no result after {timeout_s:.0f} s "
                                    "(--run-timeout); killed")
    finally:
        for rd, (p, _, _) in running.items():
            p.kill()
            p.join(30)
            rd.close()


def spearman(x, y):
    """Spearman rank correlation (average ranks for ties); None with < 3 points or a constant side."""
    pts = [(a, b) for a, b in zip(x, y) if a is not None and b is not None and math.isfinite(a) and math.isfinite(b)]
    if len(pts) < 3:
        return None

    def ranks(v):
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        i = 0
        while i < len(v):
            j = i
            while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2.0 + 1
            i = j + 1
        return r
    rx, ry = ranks([p[0] for p in pts]), ranks([p[1] for p in pts])
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def get(d, path):
    for k in path.split("."):
        d = d.get(k) if isinstance(d, dict) else None
    return d


def static_metrics(lbq_bin, dump, cfg, out_dir, plan_path=None):
    name, _, m, v, recipe, _ = cfg
    if recipe and recipe.startswith("plan:"):
        q = ["--plan", plan_path]
    elif recipe:
        q = ["--recipe", recipe]
    elif m or v:
        q = ["--quant-m", m, "--quant-v", v]
    else:
        return None
    js = os.path.join(out_dir, "analyze-" + stem(name) + ".json")
    r = subprocess.run([lbq_bin, "analyze", dump, "--json", js, "-q", "--device", "cpu"] + q,
                       capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"closed-loop: lbq analyze failed for {name}: {r.stderr.strip()}")
    with open(js) as f:
        t = json.load(f)["totals"]
    return {k: get(t, k) for k in STATIC}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="out/closed-loop")
    ap.add_argument("--lbq", default=os.environ.get("LBQ", os.path.join(SRC, "build", "lbq")))
    ap.add_argument("--smoke", action="store_true", help="4 configurations, 1 seed, 30 steps, a tiny model")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--dump-step", type=int, default=0, help="step of the fp32 dump (default steps/2)")
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ctx", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--val-batches", type=int, default=8)
    ap.add_argument("--corpus-bytes", type=int, default=4 << 20)
    ap.add_argument("--jobs", type=int, default=2, help="training runs in parallel (one thread each)")
    ap.add_argument("--run-timeout", type=float, default=0,
                    help="seconds one training run may take before the experiment fails (default max(300, 3 x steps))")
    ap.add_argument("--configs", default="", help="comma-separated configuration names (default all)")
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("--replot", action="store_true", help="only redraw the figures of --out from its results.json")
    a = ap.parse_args(argv)
    if a.smoke:
        a.seeds, a.steps, a.d, a.layers, a.ctx, a.batch, a.eval_every, a.val_batches = 1, 30, 32, 1, 32, 8, 15, 2
        a.corpus_bytes = 1 << 20
    if a.replot:
        with open(os.path.join(a.out, "results.json")) as f:
            res = json.load(f)
        a.smoke = res["settings"].get("smoke", False)
        return plots(a, res["rows"])
    if not a.dump_step:
        a.dump_step = max(1, a.steps // 2)
    names = [s.strip() for s in a.configs.split(",") if s.strip()] or (SMOKE if a.smoke else [c[0] for c in CONFIGS])
    unknown = [n for n in names if n not in [c[0] for c in CONFIGS]]
    if unknown:
        raise SystemExit(f"closed-loop: unknown configuration '{unknown[0]}' (known: {', '.join(c[0] for c in CONFIGS)})")
    if "fp32" not in names:
        names = ["fp32"] + names
    if not os.access(a.lbq, os.X_OK):
        raise SystemExit(f"closed-loop: no lbq binary at {a.lbq} (build first, or --lbq PATH)")
    configs = [c for c in CONFIGS if c[0] in names]
    os.makedirs(a.out, exist_ok=True)
    dump = os.path.join(a.out, "fp32-dump.h5")
    jargs = {k: getattr(a, k) for k in ("steps", "d", "layers", "heads", "ctx", "batch", "lr", "eval_every",
                                        "val_batches", "corpus_bytes")}
    plan_cfgs = [c for c in configs if c[4] and c[4].startswith("plan:")]
    jobs = [{"config": c, "seed": s, "args": jargs} for c in configs for s in range(a.seeds) if c not in plan_cfgs]
    for j in jobs:
        if j["config"][0] == "fp32" and j["seed"] == 0:
            j["dump_step"], j["dump_path"] = a.dump_step, dump
    jobs.sort(key=lambda j: not j.get("dump_step"))      # the dump's run first: the plan rows wait for it
    plan_path = os.path.join(a.out, f"plan-{PLAN_BUDGET}.json")
    if not a.run_timeout:
        a.run_timeout = max(300.0, 3.0 * a.steps)
    t0 = time.time()
    n_runs = len(configs) * a.seeds
    print(f"closed-loop: {len(configs)} configurations x {a.seeds} seeds = {n_runs} runs of {a.steps} steps "
          f"(d={a.d}, layers={a.layers}, ctx={a.ctx}, batch={a.batch}), {a.jobs} at a time, "
          f"each at most {a.run_timeout:.0f} s", flush=True)
    runs = []

    def done(r):
        runs.append(r)
        print(f"  {r['config']:18s} seed {r['seed']}: final val {r['final_val']}  "
              f"({r['seconds']:.1f}s, {len(runs)}/{n_runs} done, {time.time() - t0:.0f}s)", flush=True)
        if r["config"] == "fp32" and r["seed"] == 0 and plan_cfgs:
            # the plan of `lbq recommend` on the fp32 run's dump (the static metrics' snapshot)
            cmd = [a.lbq, "recommend", dump, "--budget", str(PLAN_BUDGET), "-o", plan_path, "-q"]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode:
                raise RunFailed(f"{' '.join(cmd)} failed (exit {p.returncode}): {p.stderr.strip()}")
            with open(os.path.join(a.out, f"plan-{PLAN_BUDGET}.txt"), "w") as f:
                f.write(p.stdout)
            return [{"config": c, "seed": s, "args": jargs, "plan_path": plan_path}
                    for c in plan_cfgs for s in range(a.seeds)]
        return []
    try:
        schedule(jobs, max(1, a.jobs), a.run_timeout, done)
    except RunFailed as e:
        raise SystemExit(f"closed-loop: {e}")
    train_s = time.time() - t0
    # outcomes
    fp = {r["seed"]: r["final_val"] for r in runs if r["config"] == "fp32"}
    rows = []
    for c in configs:
        rs = sorted([r for r in runs if r["config"] == c[0]], key=lambda r: r["seed"])
        gaps, div = [], 0
        for r in rs:
            bad = any(x is None for x in r["loss"]) or r["final_val"] is None
            gap = None if r["final_val"] is None or fp.get(r["seed"]) is None else r["final_val"] - fp[r["seed"]]
            if bad or (gap is not None and gap > DIVERGE_GAP):
                div += 1
                r["diverged"] = True
            else:
                r["diverged"] = False
            if gap is not None:
                gaps.append(gap)
        st = static_metrics(a.lbq, dump, c, a.out, plan_path)
        label = (c[4] and (f"lbq recommend --budget {c[4][5:]}" if c[4].startswith("plan:") else f"recipe {c[4]}"))
        rows.append({"config": c[0], "group": c[1], "m": c[2] or label or "fp32",
                     "v": c[3] or label or "fp32", "paper_unstable_pct": c[5],
                     "runs": len(rs), "diverged": div, "unstable_pct": 100.0 * div / max(1, len(rs)),
                     "gap_mean": sum(gaps) / len(gaps) if gaps else None,
                     "gap_min": min(gaps) if gaps else None, "gap_max": max(gaps) if gaps else None,
                     "final_val_mean": (sum(r["final_val"] for r in rs if r["final_val"] is not None) /
                                        sum(r["final_val"] is not None for r in rs)
                                        if any(r["final_val"] is not None for r in rs) else None),
                     "hook_v_zeroed_frac": sum(r["hook_v_zeroed_frac"] for r in rs) / max(1, len(rs)),
                     "hook_v_rel_l2": sum(r["hook_v_rel_l2"] for r in rs) / max(1, len(rs)),
                     "static": st})
        if c in plan_cfgs:
            with open(plan_path) as f:
                pl = json.load(f)
            rows[-1]["plan"] = {"file": os.path.basename(plan_path), "budget_bits_per_elem": pl["budget_bits_per_elem"],
                                "bits_per_elem": pl["totals"]["bits_per_elem"],
                                "choices": {x["name"]: [x["m"], x["v"]] for x in pl["params"]}}
    # rank correlations over the quantized configurations
    q = [r for r in rows if r["static"] is not None]
    corr = {}
    metrics = STATIC + ["hook_v_zeroed_frac", "hook_v_rel_l2"]
    for k in metrics:
        xs = [r["static"][k] if k in r["static"] else r[k] for r in q]
        corr[k] = {"vs_gap": spearman(xs, [r["gap_mean"] for r in q]),
                   "vs_unstable": spearman(xs, [r["unstable_pct"] for r in q])}
    res = {"schema": "lbq.closed-loop", "schema_version": 1, "settings": vars(a), "diverge_gap_nats": DIVERGE_GAP,
           "train_seconds": train_s, "seconds_per_step": sum(r["seconds"] for r in runs) / sum(len(r["loss"]) for r in runs),
           "cpu_seconds_per_step": sum(r["cpu_seconds"] for r in runs) / sum(len(r["loss"]) for r in runs),
           "rows": rows, "spearman": corr, "runs": runs}
    path = os.path.join(a.out, "results.json")      # written atomically, no NaN (docs/schema.md conventions)
    with open(path + f".tmp-{os.getpid()}", "w") as f:
        json.dump(res, f, indent=1, allow_nan=False)
        f.write("\n")
    os.replace(path + f".tmp-{os.getpid()}", path)
    write_tables(a, rows, corr, runs, res)
    if not a.no_plots:
        plots(a, rows)
    print(f"closed-loop: done in {time.time() - t0:.0f}s ({res['seconds_per_step'] * 1000:.1f} ms wall, "
          f"{res['cpu_seconds_per_step'] * 1000:.1f} ms CPU per training step per run); {a.out}/table.md, "
          f"results.json, figures", flush=True)
    return res


def fmt(x, p=3):
    return "–" if x is None else (f"{x:.{p}g}" if isinstance(x, float) else str(x))


def write_tables(a, rows, corr, runs, res):
    L = [f"Closed loop: {len(rows)} configurations x {a.seeds} seeds, {a.steps} steps, d={a.d} layers={a.layers} "
         f"ctx={a.ctx} batch={a.batch} lr={a.lr}; static metrics from `lbq analyze` of the fp32 run (seed 0) at step "
         f"{a.dump_step}. Diverged: non-finite loss, or final validation loss > fp32 (same seed) + {DIVERGE_GAP} nats.",
         "",
         "| configuration | m | v | unstable (paper T1) | unstable (here) | final val gap to fp32, mean [min, max] (nats) | "
         "update rel-L2 | update cosine | v zero-collapse | hook: v sent to 0 per step |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = r["static"] or {}
        L.append(f"| {r['config']} | {r['m']} | {r['v']} | {r['paper_unstable_pct'] + '%' if r['paper_unstable_pct'] else '–'} | "
                 f"{r['diverged']}/{r['runs']} | {fmt(r['gap_mean'])} [{fmt(r['gap_min'])}, {fmt(r['gap_max'])}] | "
                 f"{fmt(s.get('update.rel_l2'))} | {fmt(s.get('update.cosine'))} | {fmt(s.get('v.zero_collapse'))} | "
                 f"{fmt(r['hook_v_zeroed_frac'])} |")
    L += ["", "Spearman rank correlation over the quantized configurations (None: fewer than 3 points or a constant side):",
          "", "| metric | vs final gap | vs unstable share |", "|---|---|---|"]
    for k, c in corr.items():
        L.append(f"| {k} | {fmt(c['vs_gap'], 2)} | {fmt(c['vs_unstable'], 2)} |")
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write("\n".join(L) + "\n")
    print("\n".join(L))
    # curves: one TSV per configuration: step, mean, min, max of the training loss (smoothed over 10 steps)
    for r in rows:
        rs = [x for x in runs if x["config"] == r["config"]]
        fn = os.path.join(a.out, "curves-" + stem(r["config"]) + ".tsv")
        with open(fn, "w") as f:
            f.write("# step\tmean\tmin\tmax (training loss, mean over the last 10 steps; NaN runs end)\n")
            for t in range(a.steps):
                vals = []
                for x in rs:
                    w = [v for v in x["loss"][max(0, t - 9):t + 1] if v is not None]
                    if x["loss"][t] is not None and w:
                        vals.append(sum(w) / len(w))
                if vals:
                    f.write(f"{t + 1}\t{sum(vals) / len(vals):.5f}\t{min(vals):.5f}\t{max(vals):.5f}\n")
    with open(os.path.join(a.out, "scatter.tsv"), "w") as f:
        f.write("# config\tupdate_rel_l2\tv_zero_collapse\tupdate_cosine\thook_v_zeroed\tgap_mean\tunstable_pct\t"
                "plotted (gap capped at 1; every seed diverged: 1)\n")
        for r in rows:
            if r["static"] is None:
                continue
            s = r["static"]
            f.write("\t".join([r["config"]] + [fmt(x, 6) if x is not None else "?" for x in
                                               (s["update.rel_l2"], s["v.zero_collapse"], s["update.cosine"],
                                                r["hook_v_zeroed_frac"], r["gap_mean"], r["unstable_pct"])] +
                             [fmt(min(1.0, r["gap_mean"]) if r["gap_mean"] is not None and r["unstable_pct"] < 100 else 1.0, 6)])
                    + "\n")


def stem(name):
    return name.replace(" ", "_").replace("/", "-")


def plots(a, rows):
    """Write OUT/closed-loop.gp (house style: plots/lbq-style.gp) and run it: loss curves (mean and range
    over seeds) in one panel per group, and static metric vs outcome scatters."""
    groups = [("recipe", "published recipes"), ("table1", "4-bit paper Table 1 (m B2048/DE)"),
              ("lowbit", "2/3-bit v (m B2048/DE)")]
    style = os.path.join(SRC, "plots", "lbq-style.gp")
    G = [f"# closed-loop.gp - redraw: gnuplot {os.path.join(a.out, 'closed-loop.gp')} (written by closed_loop.py)",
         f"load '{style}'", f"cd '{os.path.abspath(a.out)}'", "fig_w = 13.0", "fig_h = 4.6",
         "do for [fmt in formats] {", "  outfile = 'loss-curves'", "  eval lbq_term(fmt)", "  eval lbq_restore",
         "  set multiplot", "  unset title"]
    present = [g for g in groups if any(r["group"] == g[0] for r in rows)]
    for i, (g, title) in enumerate(present):
        rs = [r for r in rows if r["group"] == g]
        G.append(f"  eval lbq_cell({i}, 0, {len(present)}, 1, 0.085, 0.99, 0.17, 0.90, 0.05, 0.0)")
        G.append(f"  set title '{title}' noenhanced font ',11'")
        G.append("  set xlabel 'step'; set ylabel " + ("'training loss (nats, 10-step mean)'" if i == 0 else "''"))
        G.append("  set key top right noenhanced font ',9'; set yrange [*:6.5]")
        parts = [f"'curves-fp32.tsv' using 1:3:($4 > 6.5 ? 6.5 : $4) with filledcurves lc 9 fs transparent solid 0.15 noborder notitle",
                 f"'curves-fp32.tsv' using 1:2 with lines lt 9 lw 1.6 title 'fp32'"]
        for k, r in enumerate(rs):
            lt = 1 + k
            f = f"curves-{stem(r['config'])}.tsv"
            parts.append(f"'{f}' using 1:($3 > 6.5 ? 6.5 : $3):($4 > 6.5 ? 6.5 : $4) with filledcurves lc {lt} fs transparent solid 0.15 noborder notitle")
            parts.append(f"'{f}' using 1:2 with lines lt {lt} title '{r['config']}'")
        G.append("  plot " + ", \\\n       ".join(parts))
    G += ["  unset multiplot", "  set output", "}"]
    # scatter: static metric vs outcome
    G += ["set autoscale y", "fig_w = 13.0", "fig_h = 4.4", "do for [fmt in formats] {", "  outfile = 'metric-vs-outcome'",
          "  eval lbq_term(fmt)", "  eval lbq_restore", "  set multiplot", "  set key off"]
    cols = [("2", "update rel-L2 (lbq analyze, fp32 dump)"), ("($3 + 1e-6)", "v zero-collapse (lbq analyze) + 1e-6"),
            ("($5 + 1e-6)", "v sent to 0 per step (hook) + 1e-6")]
    for i, (c, lab) in enumerate(cols):
        logx = 1
        G.append(f"  eval lbq_cell({i}, 0, 3, 1, 0.1, 0.99, 0.17, 0.92, 0.07, 0.0)")
        G.append(("  set logscale x; set format x '10^{%L}'" if logx else "  unset logscale x; set format x '%g'"))
        G.append("  set offsets graph 0.05, graph 0.4, graph 0.05, graph 0.05; set xtics font ',9'")
        G.append(f"  set xlabel '{lab}' noenhanced; set ylabel " + ("'val gap to fp32 (nats; 1 = diverged)'" if i == 0 else "''"))
        G.append(f"  set yrange [*:1.1]; plot 'scatter.tsv' using {c}:($7 < 100 ? $8 : NaN) with points lt 1 pt 7 ps 0.9, "
                 f"'' using {c}:($7 >= 100 ? $8 : NaN) with points lt 2 pt 5 ps 0.9, "
                 f"'' using {c}:8:1 with labels font ',7' offset 0.4,0.4 left noenhanced rotate by 20")
    G += ["  unset multiplot", "  set output", "}"]
    gp = os.path.join(a.out, "closed-loop.gp")
    with open(gp, "w") as f:
        f.write("\n".join(G) + "\n")
    r = subprocess.run(["gnuplot", "-e", "formats='png'" if a.smoke else "formats='png pdf'", gp],
                       capture_output=True, text=True)
    if r.returncode:
        print(f"closed-loop: gnuplot failed: {r.stderr.strip()}", file=sys.stderr)
        return False
    return True


if __name__ == "__main__":
    main()
