# fig1-error-vs-bits.gp - quantization error vs bitwidth, one line per map, one panel per state
# (m, v, update), block-wise normalization at one block size (docs/figures.md, figure 1).
# Data (written by `lbq plot`): one block per panel: bits, then one column per map (rel-L2 error).
# Inputs: datafile, outfile, [title], npanels, keypanel, lcsN/dtsN/ptitleN per panel N.
lbq_dir(s) = (strlen(s) == 0) ? "" : (s[strlen(s):strlen(s)] eq "/") ? s : lbq_dir(s[1:strlen(s)-1])
load lbq_dir(ARG0).'lbq-style.gp'
if (!exists("npanels")) npanels = 3
if (!exists("keypanel")) keypanel = npanels - 1

fig_w = 3.6 + 2.6*npanels
kx = 1.0 - 2.7/fig_w          # the key column: the right 2.7 in
nkey = lbq_ncol(keypanel)
fig_h = (nkey > 11) ? 1.2 + 0.26*nkey : 4.0   # room for the key column
pbot = 0.8/fig_h                # panel bottom and top (screen)
ptop = 1.0 - 1.0/fig_h
array ymin[npanels]
array ymax[npanels]
lbq_pos = 1
do for [lbq_b=0:npanels-1] { eval lbq_yrange; ymin[lbq_b+1] = lbq_ymin; ymax[lbq_b+1] = lbq_ymax }

do for [fmt in formats] {
  eval lbq_term(fmt)
  set multiplot title title noenhanced font ",13"
  do for [i=0:npanels-1] {
    eval lbq_restore
    eval lbq_cell(i, 0, npanels, 1, 0.8/fig_w, kx - 0.1/fig_w, pbot, ptop, 0.72/fig_w, 0)
    set logscale y
    lbq_lo = ymin[i+1]; lbq_hi = ymax[i+1]
    eval lbq_logtics
    set xtics 1
    set autoscale fix
    set offsets 0.25, 0.25, graph 0.06, graph 0.06
    set xlabel "bits per element"
    set ylabel (i == 0 ? "relative L2 error" : "")
    set title lbq_ptitle(i) noenhanced
    unset key
    plot for [k=1:lbq_ncol(i)] datafile index i using 1:(column(k+1)) with linespoints lt lbq_lc(i,k) dt lbq_dt(i,k) notitle
  }
  # the shared key, from the panel with the most lines
  eval lbq_keyside(kx, 0.02, 1.0 - 0.6/fig_h)
  plot for [k=1:lbq_ncol(keypanel)] datafile index keypanel using 1:(NaN) with linespoints lt lbq_lc(keypanel,k) dt lbq_dt(keypanel,k) title columnheader(k+1)
  unset multiplot
  set output
}
