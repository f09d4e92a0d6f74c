#!/usr/bin/python3
"""The structural-zero split (docs/metrics.md "Zeros: kept, lifted, collapsed") of `lbq analyze --json`
and `lbq sweep` against a direct computation: every tensor of FILE is quantized with the Python
binding (lbq.qdq, bit for bit `lbq quantize`), and the counts of fp32 zeros kept at 0 / lifted to
non-zero / non-zero values collapsed to 0, and the lifted zeros' share of sum |u^|, are counted here
with numpy, for m and v, per tensor and in total.

    check_zero_split.py FILE ANALYZE_JSON_DIR SWEEP_RESULTS_JSON SPEC...

ANALYZE_JSON_DIR holds one `lbq analyze FILE --quant-m SPEC --quant-v SPEC --json DIR/<SPEC>.json`
per SPEC; SWEEP_RESULTS_JSON is a sweep over FILE whose configs include every SPEC (label = SPEC).
Prints one line per SPEC with the totals and exits 1 on any mismatch.  Also prints the expected
character of the three quantizers on a file with structural zeros (keeps / lifts / collapses) as
"property" lines, which the calling shell test checks."""
import json
import math
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import lbq  # noqa: E402

bad = []


def split(x, xh, uh, lift_w=None):
    z = x == 0
    return {
        "zeros": int(z.sum()),
        "kept": int((z & (xh == 0)).sum()),
        "lifted": int((z & (xh != 0)).sum()),
        "nonzero": int((~z).sum()),
        "collapsed": int((~z & (xh == 0)).sum()),
        "lifted_abs_uh": float(np.abs(uh[z & (xh != 0)]).sum()),
    }


def main():
    path, adir, sweep_json, specs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    with h5py.File(path, "r") as f:
        step = int(f.attrs.get("step", 0))
        b1, b2, eps = (float(f.attrs.get(k, d)) for k, d in (("beta1", 0.9), ("beta2", 0.999), ("eps", 1e-8)))
        tensors = [(name, np.ascontiguousarray(f[name]["exp_avg"], dtype=np.float32),
                    np.ascontiguousarray(f[name]["exp_avg_sq"], dtype=np.float32)) for name in f.keys()
                   if isinstance(f[name], h5py.Group) and "exp_avg" in f[name]]
    bc1 = 1 - b1 ** step if step > 0 else 1.0
    bc2 = 1 - b2 ** step if step > 0 else 1.0
    with open(sweep_json) as fh:
        sw = {c["label"]: c for c in json.load(fh)["configs"]}
    for spec in specs:
        with open(os.path.join(adir, spec + ".json")) as fh:
            an = json.load(fh)
        rows = {p["name"]: p for p in an["params"]}
        srows = {p["name"]: p for p in sw[spec]["params"]} if spec in sw else None
        if srows is None:
            bad.append(f"{spec}: not in the sweep")
        tot = {s: {"zeros": 0, "kept": 0, "lifted": 0, "nonzero": 0, "collapsed": 0, "lifted_abs_uh": 0.0} for s in "mv"}
        tot_auh = 0.0
        for name, m, v in tensors:
            # the tensor's own shape (rank-1 normalization reads it), then flat
            mh = np.asarray(lbq.qdq(m.copy(), spec, role="m"), dtype=np.float32).ravel()
            vh = np.asarray(lbq.qdq(v.copy(), spec, role="v"), dtype=np.float32).ravel()
            m, v = m.ravel(), v.ravel()
            ok = np.isfinite(m) & np.isfinite(v)
            m64, mh64 = m[ok].astype(np.float64), mh[ok].astype(np.float64)
            v64, vh64 = v[ok].astype(np.float64), vh[ok].astype(np.float64)
            uh = (mh64 / bc1) / (np.sqrt(np.maximum(vh64, 0) / bc2) + eps)
            auh = float(np.abs(uh).sum())
            tot_auh += auh
            got = rows[name]
            for s, x, xh in (("m", m64, mh64), ("v", v64, vh64)):
                ref = split(x, xh, uh)
                zs = got[s]["zero_split"]
                for k in ("zeros", "kept", "lifted", "nonzero", "collapsed"):
                    if zs[k] != ref[k]:
                        bad.append(f"{spec} {name} {s}.zero_split.{k}: lbq {zs[k]}, direct {ref[k]}")
                share = ref["lifted_abs_uh"] / auh if auh > 0 else 0.0
                if not math.isclose(zs["lifted_uh_share"], share, rel_tol=1e-6, abs_tol=1e-12):
                    bad.append(f"{spec} {name} {s}.zero_split.lifted_uh_share: lbq {zs['lifted_uh_share']}, direct {share}")
                if srows is not None:
                    r = srows[name]
                    for key, val in ((f"{s}_zero_kept", ref["kept"]), (f"{s}_zero_lifted", ref["lifted"]),
                                     (f"{s}_nonzero_collapsed", ref["collapsed"])):
                        if r[key] != val:
                            bad.append(f"{spec} {name} sweep {key}: {r[key]}, direct {val}")
                    if not math.isclose(r[f"{s}_lifted_uh_share"], share, rel_tol=1e-6, abs_tol=1e-12):
                        bad.append(f"{spec} {name} sweep {s}_lifted_uh_share: {r[f'{s}_lifted_uh_share']}, direct {share}")
                for k in tot[s]:
                    tot[s][k] += ref[k]
        for s in "mv":
            zs = an["totals"][s]["zero_split"]
            for k in ("zeros", "kept", "lifted", "nonzero", "collapsed"):
                if zs[k] != tot[s][k]:
                    bad.append(f"{spec} TOTAL {s}.zero_split.{k}: lbq {zs[k]}, direct {tot[s][k]}")
                if spec in sw and sw[spec]["totals"][s]["zero_split"][k] != tot[s][k]:
                    bad.append(f"{spec} sweep TOTAL {s}.zero_split.{k}: {sw[spec]['totals'][s]['zero_split'][k]}, direct {tot[s][k]}")
            share = tot[s]["lifted_abs_uh"] / tot_auh if tot_auh > 0 else 0.0
            if not math.isclose(zs["lifted_uh_share"], share, rel_tol=1e-6, abs_tol=1e-12):
                bad.append(f"{spec} TOTAL {s}.lifted_uh_share: lbq {zs['lifted_uh_share']}, direct {share}")
        t = tot["v"]
        print(f"{spec}: v zeros {t['zeros']} kept {t['kept']} lifted {t['lifted']}; non-zero {t['nonzero']} collapsed "
              f"{t['collapsed']}; m zeros {tot['m']['zeros']} kept {tot['m']['kept']} lifted {tot['m']['lifted']} "
              f"collapsed {tot['m']['collapsed']}")
        print(f"property {spec} v_kept {t['kept']} v_lifted {t['lifted']} v_collapsed {t['collapsed']}")
    for b in bad[:20]:
        print("MISMATCH", b)
    if bad:
        print(f"{len(bad)} mismatches")
        return 1
    print("all split counts agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
