# simulate-swamping.gp - `lbq simulate FILE --json` results: per parameter and state, the share of
# elements whose fp32 state moved but whose stored code did not (swamped), and the share of all
# codes that did not change, vs step; one colour per parameter, m solid, v dashed (docs/figures.md).
# Data: one block per parameter/state: step, swamped, unchanged (headers: parameter, "name (m|v)").
# Inputs: datafile, outfile, [title], nseries, lcs0 and dts0 (linetype / dashtype per block),
#         keys0 (the blocks, 1-based, that get a key entry: the first of each parameter).
lbq_dir(s) = (strlen(s) == 0) ? "" : (s[strlen(s):strlen(s)] eq "/") ? s : lbq_dir(s[1:strlen(s)-1])
load lbq_dir(ARG0).'lbq-style.gp'
if (!exists("nseries")) nseries = 1
if (!exists("keys0")) keys0 = "1"
lt_of(k) = int(word(lcs0, k))
dt_of(k) = exists("dts0") ? int(word(dts0, k)) : 1
krows = int((words(keys0) + 1) / 2)         # the key: two columns below the panels
band = 0.3 + 0.25*krows                     # inches
fig_w = 10.0
fig_h = 3.9 + band

do for [fmt in formats] {
  eval lbq_term(fmt)
  set multiplot title title noenhanced font ",13"
  do for [i=0:1] {
    eval lbq_restore
    eval lbq_cell(i, 0, 2, 1, 0.8/fig_w, 1.0 - 0.15/fig_w, (band + 0.75)/fig_h, 1.0 - 0.95/fig_h, 0.9/fig_w, 0)
    set yrange [-0.02:1.02]
    set autoscale xfix
    set xlabel "step"
    set ylabel (i == 0 ? "share of elements" : "")
    set title (i == 0 ? "swamped: fp32 state moved, stored code did not" : "stored code unchanged (all elements)") noenhanced
    unset key
    plot for [k=1:nseries] datafile index (k-1) using 1:(column(i+2)) with lines lt lt_of(k) dt dt_of(k) notitle
  }
  eval lbq_keyband(0.0, band/fig_h)
  set key maxrows krows
  plot for [s in keys0] datafile index (int(s)-1) using 1:(NaN) with lines lt lt_of(int(s)) dt dt_of(int(s)) title columnheader(2)
  unset multiplot
  set output
}
