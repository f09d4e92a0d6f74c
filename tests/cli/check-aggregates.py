#!/usr/bin/python3
"""check-aggregates.py - recompute the four aggregates of every metric (docs/metrics.md "Aggregates
over tensors") directly from per-tensor values and compare them with what lbq wrote.

    check-aggregates.py analyze FILE.json     lbq analyze --json (lbq.analyze/3)
    check-aggregates.py sweep RESULTS.json    lbq sweep (lbq.sweep/3): every configuration
    check-aggregates.py tsv RESULTS.json RESULTS.tsv   the TSV's aggregate rows equal the JSON's

Weighted mean and median and worst are recomputed from the per-tensor values; pooled is checked
against the pooled totals (analyze: "totals"; sweep: the configuration's "totals") and, per group,
recomputed from the per-tensor sums where the document has them (analyze).  Prints one line per
mismatch and exits 1 on any; prints "ok N" (the number of values compared) otherwise.
Run with /usr/bin/python3 (any python3 with the standard library)."""
import json, math, sys

METRICS = ["m_rel_l2", "v_rel_l2", "v_zero_collapse", "update_rel_l2", "update_cosine",
           "update_blowup_frac", "bits_per_elem_m", "bits_per_elem_v"]
bad = []
ncmp = 0

def close(a, b, tol=1e-12):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tol * max(1.0, abs(b))

def expect(what, got, want, tol=1e-12):
    global ncmp
    ncmp += 1
    if not close(got, want, tol):
        bad.append("%s: lbq wrote %r, recomputed %r" % (what, got, want))

def fin(x):
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)

def aggregates(vals, metric):
    """vals: [(name, numel, value)] -> weighted_mean, median, worst, worst_name, n"""
    v = [(n, w, x) for (n, w, x) in vals if fin(x)]
    if not v:
        return None, None, None, None, 0
    sw = sum(w for _, w, _ in v)
    wm = sum(w * x for _, w, x in v) / sw if sw > 0 else None
    xs = sorted(x for _, _, x in v)
    m = len(xs)
    med = xs[m // 2] if m % 2 else 0.5 * (xs[m // 2 - 1] + xs[m // 2])
    worst_name, worst = None, None
    for (n, _, x) in v:                      # the earliest on a tie
        if worst is None or (x < worst if metric == "update_cosine" else x > worst):
            worst, worst_name = x, n
    return wm, med, worst, worst_name, m

def check_aggs(where, aggs, vals, pooled):
    for k in METRICS:
        a = aggs[k]
        wm, med, worst, wn, n = aggregates([(nm, w, x[k]) for (nm, w, x) in vals], k)
        expect("%s.%s.weighted_mean" % (where, k), a["weighted_mean"], wm)
        expect("%s.%s.median" % (where, k), a["median"], med)
        expect("%s.%s.worst" % (where, k), a["worst"], worst)
        global ncmp
        ncmp += 2
        # the named tensor has the worst value (JSON numbers keep about 15 digits, so a tie to the
        # last bit, which lbq breaks by parameter order, may read as a tie here: any of them is right)
        tied = [nm for (nm, w, x) in vals if fin(x[k]) and close(x[k], worst)]
        if (a["worst_param"] is None) != (wn is None) or (wn is not None and a["worst_param"] not in tied):
            bad.append("%s.%s.worst_param: lbq wrote %r, recomputed %r" % (where, k, a["worst_param"], wn))
        if a["tensors"] != n:
            bad.append("%s.%s.tensors: lbq wrote %r, recomputed %r" % (where, k, a["tensors"], n))
        if pooled is not None and k in pooled:
            expect("%s.%s.pooled" % (where, k), a["pooled"], pooled[k], 1e-9)

def pooled_from_sums(ps):
    """the pooled values of a list of per-tensor analyze objects, from their sums"""
    def s(f):
        return sum(f(p) for p in ps)
    # rel_l2 = sqrt(sum err^2 / sum x^2): the per-tensor rel_l2 and ||x|| give err^2 = rel^2 * ||x||^2;
    # analyze does not write ||x||^2, so only the count-based metrics are recomputed here
    out = {}
    pos = s(lambda p: p["v"]["positive"])
    out["v_zero_collapse"] = s(lambda p: p["v"]["positive_to_zero"]) / pos if pos else 0.0
    n = s(lambda p: p["numel"])
    out["bits_per_elem_m"] = s(lambda p: p["m"]["storage"]["bits_per_elem"] * p["numel"]) / n
    out["bits_per_elem_v"] = s(lambda p: p["v"]["storage"]["bits_per_elem"] * p["numel"]) / n
    return out

def analyze_values(p):
    return {"m_rel_l2": p["m"]["rel_l2"], "v_rel_l2": p["v"]["rel_l2"], "v_zero_collapse": p["v"]["zero_collapse"],
            "update_rel_l2": p["update"]["rel_l2"], "update_cosine": p["update"]["cosine"],
            "update_blowup_frac": p["update"]["blowup_frac"], "bits_per_elem_m": p["m"]["storage"]["bits_per_elem"],
            "bits_per_elem_v": p["v"]["storage"]["bits_per_elem"]}

def check_analyze(path):
    d = json.load(open(path))
    ps = d["params"]
    vals = [(p["name"], p["numel"], analyze_values(p)) for p in ps]
    t = d["totals"]
    pooled = {"m_rel_l2": t["m"]["rel_l2"], "v_rel_l2": t["v"]["rel_l2"], "v_zero_collapse": t["v"]["zero_collapse"],
              "update_rel_l2": t["update"]["rel_l2"], "update_cosine": t["update"]["cosine"],
              "update_blowup_frac": t["update"]["blowup_frac"], "bits_per_elem_m": t["bits_per_elem_m"],
              "bits_per_elem_v": t["bits_per_elem_v"]}
    pooled.update(pooled_from_sums(ps))      # the count-based ones recomputed from the rows, too
    check_aggs("aggregates", d["aggregates"], vals, pooled)
    if d["ranking_statistic"] != "weighted_mean":
        bad.append("ranking_statistic is %r" % d["ranking_statistic"])
    names = set()
    for g in d["groups"]:
        mine = [p for p in ps if p["group"] == g["name"]]
        names.add(g["name"])
        if g["tensors"] != len(mine) or g["numel"] != sum(p["numel"] for p in mine):
            bad.append("groups[%s]: tensors/numel %r/%r, recomputed %r/%r" % (g["name"], g["tensors"], g["numel"], len(mine), sum(p["numel"] for p in mine)))
        check_aggs("groups[%s]" % g["name"], g["aggregates"], [(p["name"], p["numel"], analyze_values(p)) for p in mine],
                   pooled_from_sums(mine))
    for p in ps:
        if p["group"] not in names:
            bad.append("param %s: group %r not in groups[]" % (p["name"], p["group"]))

def sweep_values(r):
    return {k: r[k] for k in METRICS}

def check_sweep(path):
    d = json.load(open(path))
    for c in d["configs"]:
        rows = c["params"]
        vals = [(r["name"], r["numel"], sweep_values(r)) for r in rows]
        t = c["totals"]
        pooled = {"update_rel_l2": t["update"]["rel_l2"], "update_cosine": t["update"]["cosine"],
                  "v_zero_collapse": t["v"]["zero_collapse"], "bits_per_elem_m": t["bits_per_elem_m"],
                  "bits_per_elem_v": t["bits_per_elem_v"]}
        check_aggs("configs[%s].aggregates" % c["label"], c["aggregates"], vals, pooled)
        for g in c["groups"]:
            mine = [r for r in rows if r["group"] == g["name"]]
            if g["tensors"] != len(mine):
                bad.append("configs[%s].groups[%s]: %r tensors, recomputed %r" % (c["label"], g["name"], g["tensors"], len(mine)))
            check_aggs("configs[%s].groups[%s]" % (c["label"], g["name"]), g["aggregates"],
                       [(r["name"], r["numel"], sweep_values(r)) for r in mine], None)

def num(s):
    return None if s in ("nan", "-nan") else float(s)

def check_tsv(jpath, tpath):
    d = json.load(open(jpath))
    lines = open(tpath).read().splitlines()
    head = lines[0].split("\t")
    col = {h: i for i, h in enumerate(head)}
    rows = {}
    for l in lines[1:]:
        f = l.split("\t")
        rows[(f[col["config"]], f[col["param"]])] = f
    for c in d["configs"]:
        keys = [("TOTAL:" + s, c["aggregates"], s) for s in ("weighted_mean", "median", "worst")]
        for g in c["groups"]:
            for s in ("pooled", "weighted_mean", "median", "worst"):
                keys.append(("GROUP:%s:%s" % (g["name"], s), g["aggregates"], s))
        for (pname, aggs, s) in keys:
            r = rows.get((c["label"], pname))
            if r is None:
                bad.append("results.tsv: no row %s of %s" % (pname, c["label"]))
                continue
            for k in METRICS:
                expect("results.tsv %s %s %s" % (c["label"], pname, k), num(r[col[k]]), aggs[k][s], 1e-5)

if __name__ == "__main__":
    kind = sys.argv[1]
    if kind == "analyze":
        check_analyze(sys.argv[2])
    elif kind == "sweep":
        check_sweep(sys.argv[2])
    elif kind == "tsv":
        check_tsv(sys.argv[2], sys.argv[3])
    else:
        sys.exit("unknown kind " + kind)
    for b in bad[:20]:
        print(b)
    if bad:
        print("%d mismatches of %d values" % (len(bad), ncmp))
        sys.exit(1)
    print("ok %d" % ncmp)
