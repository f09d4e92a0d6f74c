#!/usr/bin/env bash
# test-plot.sh - `lbq plot` and the figures of `lbq sweep` (docs/figures.md).
#
#  - a small sweep of the bundled sample (5 maps x block/rank-1 x 2, 4 bits x blocks 64, 128) into a
#    directory whose name has spaces and quotes; the sweep draws its figures itself, then
#    `lbq plot results.json -o DIR/figs` redraws them: every expected PNG starts with the PNG
#    signature, is at least 800 px wide and not tiny; every PDF starts with %PDF and ends with
#    %%EOF; each figure has its .dat; no temporary file is left;
#  - `lbq plot` on simulate JSON (file and synthetic runs);
#  - bad inputs: truncated JSON, another schema, a configs entry with wrong types, a wrong type deep
#    inside (a histogram count), an oversized array, a non-object top level: exit 3, one stderr
#    line naming the key, and no figure (the output directory is not even created);
#  - NaN written as null is data, not an error; results with nothing drawable: exit 5, one line;
#  - gnuplot missing (PATH without it): exit 2 and "gnuplot not found (install gnuplot-nox)";
#  - a gnuplot script that fails: exit 4 and one error naming the figure, the other figures still
#    made, none of the failed figure's outputs or temporaries left; no scripts found: exit 2;
#    `shampoo --plot` follows the same two rules (one runner, cli/gnuplot.c);
#  - an output directory that cannot be made (it is a file): exit 4, one line.
# Skips (77) when gnuplot or its pngcairo/pdfcairo terminals are not installed.
source "$(dirname "$0")/lib.sh"

command -v gnuplot >/dev/null 2>&1 || skip_all "gnuplot is not installed (apt-get install gnuplot-nox)"
TERMS=$(gnuplot -e 'set terminal' 2>&1 </dev/null)
case "$TERMS" in *pngcairo*) ;; *) skip_all "gnuplot has no pngcairo terminal" ;; esac
case "$TERMS" in *pdfcairo*) ;; *) skip_all "gnuplot has no pdfcairo terminal" ;; esac
[ -f "$SAMPLE_LATE" ] || { echo "missing $SAMPLE_LATE"; exit 1; }
GNUPLOT=$(command -v gnuplot)

SWEEP_FIGS=(fig1-error-vs-bits fig2-error-vs-block fig3-zero-point fig4-swamping fig5-heatmap fig6-codebooks fig7-memory-vs-error fig8-groups)

# check_png NAME FILE: signature, width >= 800 px (IHDR), more than 10 kB
check_png() {
    local sig w sz
    if [ ! -f "$2" ]; then fail "$1: exists" "missing $2"; return; fi
    sig=$(head -c 8 "$2" | od -An -tx1 | tr -d ' \n')
    check_eq "$1: PNG signature" "89504e470d0a1a0a" "$sig"
    w=$(od -An -tu1 -j16 -N4 "$2" | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }')
    check_num "$1: width >= 800 px" "$w" ">=" 800
    sz=$(wc -c <"$2")
    check_num "$1: size > 10 kB" "$sz" ">" 10000
}
# check_pdf NAME FILE: %PDF at the start, %%EOF at the end
check_pdf() {
    if [ ! -f "$2" ]; then fail "$1: exists" "missing $2"; return; fi
    check_eq "$1: starts with %PDF" "%PDF" "$(head -c 4 "$2")"
    if tail -c 64 "$2" | grep -aq '%%EOF'; then pass "$1: ends with %%EOF"; else fail "$1: ends with %%EOF" "$(tail -c 64 "$2" | od -c | head -3)"; fi
    check_num "$1: size > 2 kB" "$(wc -c <"$2")" ">" 2000
}
check_fig() {   # check_fig DIR NAME
    check_png "$2.png" "$1/$2.png"
    check_pdf "$2.pdf" "$1/$2.pdf"
    check "$2.dat exists" test -s "$1/$2.dat"
}
# no figure of any kind under DIR (DIR may be missing)
check_no_figs() {   # NAME DIR
    local n=0
    [ -d "$2" ] && n=$(find "$2" \( -name '*.png' -o -name '*.pdf' -o -name '*.dat' \) | wc -l)
    check_eq "$1" 0 "$n"
}

# ---- a small sweep, with figures, into a path with spaces and quotes ---------------------------
S="$T/sweep dir 'it''s' \"q\""
run sweep "$SAMPLE_LATE" -o "$S" --map dtree,dtree0,linear,log,uniform --norm block,rank1 --bits 2,4 --block 64,128 -q
check_rc "sweep with figures: exit 0" 0
check_empty "sweep -q: silent" "$ERR"
for f in "${SWEEP_FIGS[@]}"; do check_fig "$S" "$f"; done
check_no_tmp "sweep figures: no temporaries" "$S"

# ---- lbq plot on the sweep's results -----------------------------------------------------------
run plot "$S/results.json" -o "$S/figs"
check_rc "plot sweep: exit 0" 0
check_grep "plot sweep: summary line" "wrote 8 figures" "$ERR"
for f in "${SWEEP_FIGS[@]}"; do check_fig "$S/figs" "$f"; done
check_no_tmp "plot: no temporaries" "$S/figs"
# the data file's first lines carry the command that redraws the figure
check_grep "fig1.dat: redraw command" "^# gnuplot -e \"datafile='fig1-error-vs-bits.dat'" "$S/figs/fig1-error-vs-bits.dat"
check_grep "fig1.dat: paper-style names" "B128/DE-0" "$S/figs/fig1-error-vs-bits.dat"
check_grep "fig2.dat: rank-1 reference" "Rank-1/Linear" "$S/figs/fig2-error-vs-block.dat"

# ---- a sweep with block-wise configurations only (no rank-1 line in fig2's key) ---------------
# gnuplot evaluates a plot-for clause over an empty word list once: fig2 failed (exit 4) here
run sweep "$SAMPLE_LATE" -o "$T/blockonly" --map log --bits 2,4 --block 64,128 -q
check_rc "sweep --map log (block-wise only): exit 0" 0
check_empty "sweep --map log: silent" "$ERR"
check_fig "$T/blockonly" fig2-error-vs-block
run sweep "$SAMPLE_LATE" -o "$T/rank1only" --map linear --norm rank1 --bits 2,4 -q
check_rc "sweep --norm rank1 (rank-1 only): exit 0" 0
check_empty "sweep --norm rank1: silent" "$ERR"

# ---- simulate results ---------------------------------------------------------------------------
run simulate "$SAMPLE_LATE" --recipe lpmm4 --json "$T/sim.json" -q
check_rc "simulate (file): exit 0" 0
run plot "$T/sim.json" -o "$T/simfigs" --quiet
check_rc "plot simulate (file): exit 0" 0
check_empty "plot --quiet: silent" "$ERR"
check_fig "$T/simfigs" simulate-swamping
run simulate --source synthetic --quant-v block128-uniform:b2 --betas 0.80:0.99:0.01 --json "$T/syn.json" -q
check_rc "simulate (synthetic): exit 0" 0
run plot "$T/syn.json" -o "$T/synfigs" -q
check_rc "plot simulate (synthetic): exit 0" 0
check_fig "$T/synfigs" simulate-final-vs-beta

# ---- bad inputs: exit 3, one line naming the file and the key, no figure -------------------------
B=$T/bad
mkdir -p "$B"
SZ=$(wc -c <"$S/results.json")
head -c $((SZ / 2)) "$S/results.json" >"$B/truncated.json"
printf '{"schema": "lbq.analyze", "schema_version": 1, "configs": []}\n' >"$B/schema.json"
printf '{"schema_version": 1, "configs": []}\n' >"$B/noschema.json"
printf '[1, 2, 3]\n' >"$B/array.json"
TOT='"totals": {"m": {"rel_l2": 0.1}, "v": {"rel_l2": 0.1}, "update": {"rel_l2": 0.2}, "bits_per_elem_m": 4.25, "bits_per_elem_v": 4.25}'
printf '{"schema": "lbq.sweep", "schema_version": 1, "configs": [{"label": "a", "map": "dtree", "norm": "block", "bits": 4, "block": 128, %s}, {"label": "b", "map": 7, "norm": "block", "bits": "four", "block": 128, %s}]}\n' "$TOT" "$TOT" >"$B/config-types.json"
printf '{"schema": "lbq.sweep", "schema_version": 1, "configs": [{"label": "a", "map": "dtree", "norm": "block", "bits": 4, "block": 128, "totals": {"m": {"rel_l2": 0.1}, "v": {"rel_l2": "big"}, "update": {"rel_l2": 0.2}}}]}\n' >"$B/value-type.json"
printf '{"schema": "lbq.sweep", "schema_version": 1, "configs": {"a": 1}}\n' >"$B/configs-object.json"
printf '{"schema": "lbq.sweep", "schema_version": 1, "configs": [{"label": "a", "map": "dtree", "norm": "block", "bits": 4, "block": 128, "totals": {"m": {"rel_l2": 0.1}, "v": {"rel_l2": 0.1}, "update": {"rel_l2": 0.2, "hist_log10_inv_sqrt_v": {"lo": -3, "hi": 9, "bins": 3, "exact": [1, 2, 3], "quant": [1, "x", 3]}}}}]}\n' >"$B/hist-type.json"
awk 'BEGIN { printf "{\"schema\": \"lbq.sweep\", \"schema_version\": 1, \"configs\": [], \"heatmap\": {\"param\": \"w\", \"values\": ["; for (i = 0; i < 3000; i++) printf "%s[1, 2]", (i ? ", " : ""); print "]}}" }' >"$B/huge-heatmap.json"
printf '{"schema": "lbq.sweep", "schema_version": 7, "configs": []}\n' >"$B/version.json"
printf '{"schema": "lbq.simulate", "schema_version": 1, "params": [{"name": "w", "series": {"step": [1, 2], "swamp_m": [0.1]}}]}\n' >"$B/sim-length.json"
printf '{"schema": "lbq.simulate", "schema_version": 1, "runs": [{"beta": "0.9", "summary": {}}]}\n' >"$B/syn-types.json"
declare -A KEY=([truncated]="not valid JSON" [schema]="'schema'" [noschema]="'schema'" [array]="top level"
    [config-types]="configs\\[1\\]\\.map" [value-type]="configs\\[0\\]\\.totals\\.v\\.rel_l2" [configs-object]="'configs'"
    [hist-type]="quant\\[1\\]" [huge-heatmap]="heatmap\\.values" [version]="schema_version"
    [sim-length]="swamp_m" [syn-types]="runs\\[0\\]\\.beta")
for c in truncated schema noschema array config-types value-type configs-object hist-type huge-heatmap version sim-length syn-types; do
    run plot "$B/$c.json" -o "$B/out-$c"
    check_error_contract "bad input $c" 3
    check_grep "bad input $c: names the file" "$c\\.json" "$ERR"
    check_grep "bad input $c: names the key" "${KEY[$c]}" "$ERR"
    check "bad input $c: no output directory" test ! -e "$B/out-$c"
done
run plot "$B/missing.json" -o "$B/out-missing"
check_error_contract "missing file" 3
check_no_figs "missing file: no figure" "$B/out-missing"
run plot "$S/results.json"
check_error_contract "no -o" 2

# NaN (null) values are data: a sweep whose errors are all null draws nothing and says so
printf '{"schema": "lbq.sweep", "schema_version": 1, "configs": [{"label": "a", "map": "dtree", "norm": "block", "bits": 4, "block": 128, "m_spec": null, "totals": {"m": {"rel_l2": null}, "v": {"rel_l2": null}, "update": {"rel_l2": null}, "bits_per_elem_m": null, "bits_per_elem_v": null}}], "heatmap": null, "codebooks": null}\n' >"$B/allnull.json"
run plot "$B/allnull.json" -o "$B/out-allnull"
check_error_contract "all-null results" 5
check_no_figs "all-null: no figure" "$B/out-allnull"
# partly null: the figures that have data are drawn
printf '{"schema": "lbq.sweep", "schema_version": 1, "configs": [{"label": "a", "map": "dtree", "norm": "block", "bits": 2, "block": 128, "totals": {"m": {"rel_l2": 0.5}, "v": {"rel_l2": null}, "update": {"rel_l2": 3}, "bits_per_elem_m": 2.25, "bits_per_elem_v": 2.25}}, {"label": "b", "map": "dtree", "norm": "block", "bits": 4, "block": 128, "totals": {"m": {"rel_l2": 0.1}, "v": {"rel_l2": null}, "update": {"rel_l2": 1}, "bits_per_elem_m": 4.25, "bits_per_elem_v": 4.25}}]}\n' >"$B/somenull.json"
run plot "$B/somenull.json" -o "$B/out-somenull" -q
check_rc "partly null results: exit 0" 0
check_png "partly null: fig1" "$B/out-somenull/fig1-error-vs-bits.png"
check_png "partly null: fig7" "$B/out-somenull/fig7-memory-vs-error.png"

# ---- no gnuplot -----------------------------------------------------------------------------------
run_env PATH=/nonexistent -- plot "$S/results.json" -o "$B/out-nognuplot"
check_error_contract "gnuplot missing" 2
check_grep "gnuplot missing: message" "gnuplot not found \\(install gnuplot-nox\\)" "$ERR"
check_no_figs "gnuplot missing: no figure" "$B/out-nognuplot"

# ---- a failing gnuplot script: one error naming the figure, the others still made -----------------
P=$T/plots
mkdir -p "$P"
cp "$LBQ_SRC"/plots/*.gp "$P/"
printf 'this is not gnuplot\n' >>"$P/fig3-zero-point.gp"
run_env LBQ_PLOTS_DIR="$P" -- plot "$S/results.json" -o "$B/out-broken"
check_error_contract "broken script" 4
check_grep "broken script: names the figure" "fig3-zero-point: gnuplot failed: .*line [0-9]+: invalid command; 7 other figures written" "$ERR"
check "broken script: no fig3.png" test ! -e "$B/out-broken/fig3-zero-point.png"
check "broken script: no fig3.pdf" test ! -e "$B/out-broken/fig3-zero-point.pdf"
check_png "broken script: fig4 still made" "$B/out-broken/fig4-swamping.png"
check_eq "broken script: no temporaries" "" "$(find "$B/out-broken" -name '*.tmp-*')"
run_env LBQ_PLOTS_DIR="$T/nowhere" -- plot "$S/results.json" -o "$B/out-noscripts"
check_error_contract "LBQ_PLOTS_DIR without scripts" 2

# ---- shampoo --plot goes through the same runner (cli/gnuplot.c): the same two rules ----------------
printf 'this is not gnuplot\n' >>"$P/shampoo.gp"
run_env LBQ_PLOTS_DIR="$P" -- shampoo --synthetic a2 --order 64 --plot "$B/sh-broken" -q
check_error_contract "shampoo: broken script" 4
check_grep "shampoo: broken script: names the figure" "shampoo-bjorck: gnuplot failed: .*line [0-9]+: invalid command" "$ERR"
check "shampoo: broken script: no png" test ! -e "$B/sh-broken/shampoo-bjorck.png"
check_eq "shampoo: broken script: no temporaries" "" "$(find "$B/sh-broken" -name '*.tmp-*')"
run_env LBQ_PLOTS_DIR="$T/nowhere" -- shampoo --synthetic a2 --order 64 --plot "$B/sh-noscripts" -q
check_error_contract "shampoo: LBQ_PLOTS_DIR without scripts" 2
check_grep "shampoo: LBQ_PLOTS_DIR without scripts: message" "LBQ_PLOTS_DIR=.*: no lbq gnuplot scripts there" "$ERR"

# ---- an output that cannot be written --------------------------------------------------------------
: >"$B/a-file"
run plot "$S/results.json" -o "$B/a-file"
check_error_contract "output is a file" 4
run plot "$S/results.json" -o "$B/a-file/sub"
check_error_contract "output under a file" 4

finish
