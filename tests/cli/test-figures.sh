#!/usr/bin/env bash
# test-figures.sh - every figure lbq draws, rendered from the bundled data, and every gnuplot script
# checked for axis labels (docs/figures.md, "House style").
#
#  - the axis-label check (tests/cli/check-axis-labels.awk): each data plot of each plots/*.gp sets a
#    non-blank x and y label; the check itself must fail on a script whose label is removed;
#  - a sweep of data/sample-late.h5 (5 maps x block/rank-1, bits 2 and 4, blocks 64 and 128) draws
#    the seven sweep figures; `lbq simulate --recipe bnb8` and a synthetic simulation draw theirs;
#    `lbq shampoo --plot` draws shampoo-bjorck: each as a PNG (signature, >= 800 px wide) and a PDF;
#  - the .dat files carry what the figures promise: fig7 lists every Pareto point (nfront labels),
#    fig2 names the line that coincides with another (DE-0 = DE in m), fig4 uses lbq's map names and
#    says the data are synthetic, simulate-swamping names the tensor kept in fp32 (and simulate's
#    table marks it), lists coinciding series in its legend and leaves out a state stored in fp32.
# Skips (77) when gnuplot or its cairo terminals are missing.
source "$(dirname "$0")/lib.sh"

command -v gnuplot >/dev/null 2>&1 || skip_all "gnuplot is not installed (apt-get install gnuplot-nox)"
TERMS=$(gnuplot -e 'set terminal' 2>&1 </dev/null)
case "$TERMS" in *pngcairo*) ;; *) skip_all "gnuplot has no pngcairo terminal" ;; esac
case "$TERMS" in *pdfcairo*) ;; *) skip_all "gnuplot has no pdfcairo terminal" ;; esac
[ -f "$SAMPLE_LATE" ] || { echo "missing $SAMPLE_LATE"; exit 1; }
CHECK=$LBQ_SRC/tests/cli/check-axis-labels.awk

# ---- axis labels in every script --------------------------------------------------------------
nscripts=0
for gp in "$LBQ_SRC"/plots/*.gp; do
    [ "$(basename "$gp")" = lbq-style.gp ] && continue
    nscripts=$((nscripts + 1))
    if msg=$(awk -f "$CHECK" "$gp" 2>&1); then pass "axis labels: $(basename "$gp")"
    else fail "axis labels: $(basename "$gp")" "$msg"; fi
done
check_num "scripts checked" "$nscripts" ">=" 10
# the check can fail: fig1 without its y label, fig4 with a blank x label
sed '/set ylabel/d' "$LBQ_SRC/plots/fig1-error-vs-bits.gp" >"$T/no-ylabel.gp"
if awk -f "$CHECK" "$T/no-ylabel.gp" >"$T/msg" 2>&1; then fail "check fails without a y label" "passed"
else check_grep "check names the missing y label" 'plot without a y axis label' "$T/msg"; fi
sed 's/set xlabel "EMA decay β"/set xlabel " "/' "$LBQ_SRC/plots/fig4-swamping.gp" >"$T/blank-xlabel.gp"
if awk -f "$CHECK" "$T/blank-xlabel.gp" >"$T/msg" 2>&1; then fail "check fails with a blank x label" "passed"
else check_grep "check names the missing x label" 'plot without an x axis label' "$T/msg"; fi

check_png() {   # NAME FILE
    local sig w
    if [ ! -s "$2" ]; then fail "$1: exists" "missing $2"; return; fi
    sig=$(head -c 8 "$2" | od -An -tx1 | tr -d ' \n')
    check_eq "$1: PNG signature" "89504e470d0a1a0a" "$sig"
    w=$(od -An -tu1 -j16 -N4 "$2" | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }')
    check_num "$1: width >= 800 px" "$w" ">=" 800
}
check_fig() {   # DIR NAME
    check_png "$2.png" "$1/$2.png"
    check_eq "$2.pdf: starts with %PDF" "%PDF" "$(head -c 4 "$1/$2.pdf" 2>/dev/null)"
    check "$2.dat exists" test -s "$1/$2.dat"
}

# ---- the sweep figures ----------------------------------------------------------------------------
S=$T/sweep
run sweep "$SAMPLE_LATE" -o "$S" --map dtree,dtree0,linear,uniform,log --bits 2,4 --block 64,128
check_rc "sweep with figures" 0
for fig in fig1-error-vs-bits fig2-error-vs-block fig3-zero-point fig4-swamping fig5-heatmap fig6-codebooks fig7-memory-vs-error fig8-groups; do
    check_fig "$S" "$fig"
done
# fig7: every front point in the list (no "first 24 of N"), label positions in the data
nfront=$(sed -n 2p "$S/fig7-memory-vs-error.dat" | grep -o 'nfront=[0-9]*' | cut -d= -f2)
check_num "fig7: front points" "${nfront:-0}" ">=" 2
check_grep "fig7: the last front point is listed" "front${nfront}='" "$S/fig7-memory-vs-error.dat"
check_grep "fig7: front block has label positions" 'number.label_x.label_y' "$S/fig7-memory-vs-error.dat"
# fig7: every published recipe of the registry ('lbq list') is a named point at its own memory and
# error, the sweep's configuration recipe:NAME; no two labels (names and numbers) overlap
NREG=$("$LBQ" list 2>/dev/null | awk '/^recipes/ { on = 1; next } on && /^[^ ]/ { on = 0 } on && /^  [a-z0-9]/ { n++ } END { print n + 0 }')
check_num "fig7: the registry has recipes" "$NREG" ">=" 5
awk -F '\t' '/^recipe\tupdate_rel_l2/ { on = 1; next } on && NF == 0 { exit } on' "$S/fig7-memory-vs-error.dat" >"$T/f7rec"
check_eq "fig7: one named point per registry recipe" "$NREG" "$(wc -l <"$T/f7rec")"
check_eq "fig7: each recipe point is its sweep configuration recipe:NAME" 0 "$(awk -F '\t' '$3 != "recipe:" $4' "$T/f7rec" | wc -l)"
for r in $(cut -f4 "$T/f7rec"); do
    read -r X Y < <(awk -F '\t' -v r="$r" '$4 == r { print $1, $2 }' "$T/f7rec")
    json_flat "$S/results.json" >"$T/flat" 2>/dev/null
    K=$(awk -F '\t' -v r="\"recipe:$r\"" '$1 ~ /^configs\.[0-9]+\.label$/ && $2 == r { split($1, a, "."); print a[2] }' "$T/flat")
    BM=$(json_get "$S/results.json" configs.$K.totals.bits_per_elem_m); BV=$(json_get "$S/results.json" configs.$K.totals.bits_per_elem_v)
    U=$(json_get "$S/results.json" configs.$K.aggregates.update_rel_l2.weighted_mean)
    check_close "fig7: $r at (bits_per_elem_m + bits_per_elem_v)/2 of recipe:$r" "$X" "$(awk -v m="$BM" -v v="$BV" 'BEGIN { printf "%.17g", (m + v) / 2 }')" 1e-8
    check_close "fig7: $r at the update rel_l2 (element-weighted mean) of recipe:$r" "$Y" "$U" 1e-8
done
awk -F '\t' '/^(Pareto front|recipe)\tupdate_rel_l2/ { on = 1; next } NF == 0 { on = 0 } on && $7 != "NaN" { print $7, $8, $9, $10, $4 }' \
    "$S/fig7-memory-vs-error.dat" >"$T/f7box"
check_num "fig7: label boxes of numbers and names" "$(wc -l <"$T/f7box")" ">=" "$((nfront + NREG))"
check_eq "fig7: no two labels overlap" "" "$(awk '{ x[NR] = $1; y[NR] = $2; w[NR] = $3; h[NR] = $4; t[NR] = $5 }
    END { for (i = 1; i <= NR; i++) for (j = i + 1; j <= NR; j++) { dx = x[i] - x[j]; dy = y[i] - y[j]; if (dx < 0) dx = -dx; if (dy < 0) dy = -dy;
          if (dx < (w[i] + w[j]) / 2 && dy < (h[i] + h[j]) / 2) print t[i] " / " t[j] } }' "$T/f7box")"
# the log map (v only) carries the m quantizer of the recipe that uses it, not fp32 m
check_grep "fig7: the log class names the recipe whose m it carries" 'log.*m as solo42' "$S/fig7-memory-vs-error.dat"
LOGK=$(awk -F '\t' '$1 ~ /^configs\.[0-9]+\.m_from_recipe$/ { split($1, a, "."); print a[2]; exit }' "$T/flat")
check "fig7: a log configuration with m_from_recipe" test -n "$LOGK"
check_eq "fig7: its m is solo42's m quantizer" "block128-dtree:b4:fit" "$(json_get "$S/results.json" configs.$LOGK.m_spec)"
check_num "fig7: its memory is below 8 bits/element (m no longer fp32)" \
    "$(awk -v m="$(json_get "$S/results.json" configs.$LOGK.totals.bits_per_elem_m)" -v v="$(json_get "$S/results.json" configs.$LOGK.totals.bits_per_elem_v)" 'BEGIN { print (m + v) / 2 }')" "<" 8
# fig2/fig1: DE and DE-0 have the same signed codebook, so the same m error; the key says so
check_grep "fig2: coinciding line named in the key" 'DE-0 \(m: same as DE\)' "$S/fig2-error-vs-block.dat"
check_grep "fig2: coinciding line marked for drawing" "dup0='" "$S/fig2-error-vs-block.dat"
# fig4: lbq's map names and the synthetic-data title
check_grep "fig4: lbq map name uniform" '^beta.*' "$S/fig4-swamping.dat"
check_grep "fig4: panel named by lbq's map name" "ptitle0='uniform" "$S/fig4-swamping.dat"
check_no_grep "fig4: no paper-only names" 'Ours/log|Linear \(uniform' "$S/fig4-swamping.dat"
check_grep "fig4: says the data are synthetic" 'synthetic' "$S/fig4-swamping.dat"
# fig5: the profiles are staircases: two points per row (lower and upper edge)
nrow=$(awk 'BEGIN { b = 0 } /^$/ { e++; next } { if (e >= 2) { b++; e = 0 } else e = 0; if (b == 2 && $1 ~ /^[0-9]/) n++ } END { print n + 0 }' "$S/fig5-heatmap.dat")
check_num "fig5: row-max staircase has points" "$nrow" ">=" 4
# fig6: the log-axis panel and the log map's example block
check_grep "fig6: log-axis panel" "logx1=1" "$S/fig6-codebooks.dat"
check_grep "fig6: the log map is shown" 'log \(SOLO\), xp = 0.001' "$S/fig6-codebooks.dat"

# ---- fig5 on an N-D tensor (a conv weight [16, 3, 3, 3] with one outlier row): drawn as 16 x 27 ----
if /usr/bin/python3 -c 'import h5py, numpy' >/dev/null 2>&1; then
    /usr/bin/python3 - "$T/conv.h5" <<'PY'
import sys, h5py, numpy as np
rng = np.random.default_rng(0)
with h5py.File(sys.argv[1], "w") as f:
    f.attrs["lbq_format"] = np.int64(1); f.attrs["step"] = np.int64(10)
    for k, v in dict(beta1=0.9, beta2=0.999, eps=1e-8, lr=1e-3, weight_decay=0.0).items(): f.attrs[k] = np.float64(v)
    m = rng.standard_normal((16, 3, 3, 3)).astype(np.float32) * 1e-3
    m[5] *= 100
    g = f.create_group("conv1.weight"); g["exp_avg"] = m; g["exp_avg_sq"] = (m * m * 10).astype(np.float32)
PY
    run sweep "$T/conv.h5" -o "$T/conv" --map dtree,linear --bits 4 --block 32,64 -q
    check_rc "sweep of a 4-D tensor" 0
    check_fig "$T/conv" fig5-heatmap
    check_grep "fig5: 4-D tensor drawn as dim0 x rest" "title='.m. of conv1.weight \[16 x 3 x 3 x 3\] as 16 x 27" "$T/conv/fig5-heatmap.dat"
    # the staircase has row i's maximum at x = i and x = i + 1 (its edges): the outlier row 5 is the
    # 2nd point at x = 5 and the 1st at x = 6, ten times above row 4 (the 1st point at x = 5)
    pick() { awk -v x="$1" -v k="$2" '/^row\tmax_abs_m/ { on = 1; next } on && /^$/ { on = 0 } on && $1 == x { n++; if (n == k) { print $2; exit } }' "$T/conv/fig5-heatmap.dat"; }
    r4=$(pick 5 1); r5a=$(pick 5 2); r5b=$(pick 6 1)
    check_eq "fig5: row 5's step spans its cell [5, 6]" "$r5a" "$r5b"
    check_num "fig5: row 5 is the outlier row" "${r5a:-0}" ">" "$(awk -v x="${r4:-1}" 'BEGIN { print 10 * x }')"
else
    skip "fig5 on an N-D tensor" "/usr/bin/python3 has no h5py"
fi

# ---- simulate figures -------------------------------------------------------------------------------
run simulate "$SAMPLE_LATE" --recipe bnb8 --json "$T/sim.json" -q
check_rc "simulate --json" 0
check_grep "simulate table: the fp32-kept tensor is marked, its swamping columns '-'" '^blocks\.1\.ln1\.weight +48 0\.000e\+00 0\.000e\+00 0\.000e\+00 +1\.00000 +- +- +- +- +0\.00000  fp32 \(recipe\)$' "$OUT"
check_no_grep "simulate table: quantized tensors are not marked" '^blocks\.1\.(attn|mlp).*(fp32|  -)' "$OUT"
check_grep "simulate table: the footnote explains '-'" '-: the state is stored in fp32, it has no codes' "$OUT"
run plot "$T/sim.json" -o "$T/simfigs"
check_rc "plot simulate" 0
check_fig "$T/simfigs" simulate-swamping
check_grep "simulate: fp32-kept tensor named, not drawn" "fp32note='kept in fp32 by the recipe, not drawn: blocks.1.ln1.weight" "$T/simfigs/simulate-swamping.dat"
check_no_grep "simulate: fp32-kept tensor has no series" '^step.blocks.1.ln1.weight' "$T/simfigs/simulate-swamping.dat"
# coinciding series (house style): lpmm4's v codes never change in 4 steps, so the four v lines lie
# at 1: the later three are listed as dupN (dotted, open circles) and a legend line says so
run simulate "$SAMPLE_LATE" --recipe lpmm4 --source moments --steps 4 --tensor 'blocks.0.*' --json "$T/simc.json" -q
check_rc "simulate lpmm4 moments --json" 0
run plot "$T/simc.json" -o "$T/simcfigs" -q
check_rc "plot simulate (coinciding v)" 0
check_grep "simulate: coinciding v series listed in both panels" "dup0='4 6 8'; dup1='4 6 8'" "$T/simcfigs/simulate-swamping.dat"
check_grep "simulate: the legend names the coinciding series" "dupnote='coinciding lines \(dotted, open circles\): v of 3 tensors same as v of blocks.0.attn.proj.weight'" "$T/simcfigs/simulate-swamping.dat"
check_grep "simulate: 8 fp32-kept tensors counted in the note" "fp32note='kept in fp32 by the recipe, not drawn \(8 tensors\): blocks.0.attn.proj.bias, blocks.0.attn.qkv.bias and 6 more'" "$T/simcfigs/simulate-swamping.dat"
# an fp32 m (--quant-v only) has no swamping numbers: no m series, no m key entry
run simulate "$SAMPLE_LATE" --quant-v block128-dtree:b8 --json "$T/simv.json" -q
check_rc "simulate --quant-v --json" 0
run plot "$T/simv.json" -o "$T/simvfigs" -q
check_rc "plot simulate (--quant-v)" 0
check_grep "simulate --quant-v: only the v key entry" "states='v'" "$T/simvfigs/simulate-swamping.dat"
check_no_grep "simulate --quant-v: no m series drawn" '^step.*\(m\)$' "$T/simvfigs/simulate-swamping.dat"
run simulate --source synthetic --quant-v block128-uniform:b2 --betas 0.80:0.99:0.01 --json "$T/syn.json" -q
check_rc "synthetic simulate --json" 0
run plot "$T/syn.json" -o "$T/synfigs"
check_rc "plot synthetic" 0
check_fig "$T/synfigs" simulate-final-vs-beta

# ---- shampoo ----------------------------------------------------------------------------------------
run shampoo --synthetic a2 --order 64 --plot "$T/sh" -q
if [ "$RC" = 0 ]; then check_fig "$T/sh" shampoo-bjorck; else fail "shampoo --plot" "exit $RC: $(head -c 300 "$ERR")"; fi

finish
