# fig4-swamping.gp - signal swamping, SOLO's case study: mean of a state x after 100 EMA steps
# x <- beta x + (1 - beta) z, z ~ U[0,1], x0 = 1, stored quantized between steps, vs beta; one
# panel per map, one line per bitwidth, fp32 in black (docs/figures.md, figure 4).
# Data: one block per panel: beta, fp32, then one column per bitwidth.
# Inputs: datafile, outfile, [title], npanels, lcsN/dtsN/ptitleN per panel N.
lbq_dir(s) = (strlen(s) == 0) ? "" : (s[strlen(s):strlen(s)] eq "/") ? s : lbq_dir(s[1:strlen(s)-1])
load lbq_dir(ARG0).'lbq-style.gp'
if (!exists("npanels")) npanels = 3
keypanel = 0
do for [b=1:npanels-1] { if (lbq_ncol(b) > lbq_ncol(keypanel)) { keypanel = b } }

fig_w = 1.0 + 3.0*npanels
fig_h = 4.2

do for [fmt in formats] {
  eval lbq_term(fmt)
  set multiplot title title noenhanced font ",13"
  do for [i=0:npanels-1] {
    eval lbq_restore
    eval lbq_cell(i, 0, npanels, 1, 0.075, 0.985, 0.30, 0.80, 0.05, 0)
    set yrange [0.4:1.05]
    set autoscale xfix
    set offsets graph 0.02, graph 0.02, 0, 0
    set xtics 0.05
    set format y (i == 0 ? "%g" : "")
    set xlabel "β"
    set ylabel (i == 0 ? "mean state after 100 steps" : "")
    set title lbq_ptitle(i) noenhanced
    unset key
    plot for [k=1:lbq_ncol(i)] datafile index i using 1:(column(k+1)) \
         with linespoints lt lbq_lc(i,k) dt lbq_dt(i,k) lw (k == 1 ? 2.2 : 1.6) ps (k == 1 ? 0 : 0.7) notitle
  }
  eval lbq_keyband(0.0, 0.12)
  plot for [k=1:lbq_ncol(keypanel)] datafile index keypanel using 1:(NaN) \
       with linespoints lt lbq_lc(keypanel,k) dt lbq_dt(keypanel,k) lw (k == 1 ? 2.2 : 1.6) ps (k == 1 ? 0 : 0.7) title columnheader(k+1)
  unset multiplot
  set output
}
