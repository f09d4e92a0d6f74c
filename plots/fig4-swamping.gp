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

fig_w = 1.0 + 3.7*npanels
fig_h = 4.8
cap_default = "Synthetic data, independent of the input file: x <- beta x + (1-beta) z, z ~ U[0,1], x0 = 1, 1,000 elements, stored quantized (block 128)\nafter every step. Statistic per panel: mean of x over the elements after step 100 (x is a plain number), for beta = 0.80, 0.81, ..., 0.99."

do for [fmt in formats] {
  eval lbq_term(fmt)
  set multiplot title title noenhanced font ",13"
  do for [i=0:npanels-1] {
    eval lbq_restore
    eval lbq_cell(i, 0, npanels, 1, 0.85/fig_w, 1.0 - 0.15/fig_w, (1.3 + lbq_cap_h)/fig_h, 1.0 - 1.0/fig_h, 0.85/fig_w, 0)
    set yrange [0.4:1.05]
    set autoscale xfix
    set offsets graph 0.02, graph 0.02, 0, 0
    set xtics 0.05
    set format y "%g"
    set xlabel "EMA decay β"
    set ylabel "mean x after 100 steps" offset 0.6, 0
    set title lbq_ptitle(i) noenhanced
    unset key
    plot for [k=1:lbq_ncol(i)] datafile index i using 1:(column(k+1)) \
         with linespoints lt lbq_lc(i,k) dt lbq_dt(i,k) lw (k == 1 ? 2.2 : 1.6) ps (k == 1 ? 0 : 0.7) notitle
  }
  eval lbq_keyband(lbq_cap_h/fig_h, (lbq_cap_h + 0.45)/fig_h)
  eval lbq_caption
  plot for [k=1:lbq_ncol(keypanel)] datafile index keypanel using 1:(NaN) \
       with linespoints lt lbq_lc(keypanel,k) dt lbq_dt(keypanel,k) lw (k == 1 ? 2.2 : 1.6) ps (k == 1 ? 0 : 0.7) title columnheader(k+1)
  unset label 99
  unset multiplot
  set output
}
