# fig2-error-vs-block.gp - quantization error vs block size at one bitwidth, one line per map, with
# the rank-1 normalization of the same map and bits as a dashed horizontal reference line
# (docs/figures.md, figure 2).  Data: one block per panel (m, v, update): block size, then per map
# the block-wise error and, if present, the rank-1 error repeated on every row.
# Inputs: datafile, outfile, [title], npanels, keypanel, lcsN/dtsN/ptitleN per panel N.
lbq_dir(s) = (strlen(s) == 0) ? "" : (s[strlen(s):strlen(s)] eq "/") ? s : lbq_dir(s[1:strlen(s)-1])
load lbq_dir(ARG0).'lbq-style.gp'
if (!exists("npanels")) npanels = 3
if (!exists("keypanel")) keypanel = npanels - 1

fig_w = 3.6 + 2.6*npanels
kx = 1.0 - 2.7/fig_w          # the key column: the right 2.7 in
nkey = lbq_ncol(keypanel)
fig_h = (nkey > 11) ? 1.2 + 0.26*nkey : 4.0   # room for the key column
pbot = 1.05/fig_h               # panel bottom and top (screen)
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
    set logscale x 2
    lbq_lo = ymin[i+1]; lbq_hi = ymax[i+1]
    eval lbq_logtics
    set format x "%g"
    set xtics rotate by 45 right offset 0.5, 0
    set autoscale fix
    set offsets graph 0.05, graph 0.05, graph 0.06, graph 0.06
    set xlabel "block size B (elements)"
    set ylabel (i == 0 ? "relative L2 error" : "")
    set title lbq_ptitle(i) noenhanced
    unset key
    plot for [k=1:lbq_ncol(i)] datafile index i using 1:(column(k+1)) \
         with linespoints lt lbq_lc(i,k) dt lbq_dt(i,k) ps (lbq_dt(i,k) == 1 ? 0.8 : 0) notitle
  }
  eval lbq_keyside(kx, 0.02, 1.0 - 0.6/fig_h)
  plot for [k=1:lbq_ncol(keypanel)] datafile index keypanel using 1:(NaN) \
       with linespoints lt lbq_lc(keypanel,k) dt lbq_dt(keypanel,k) ps (lbq_dt(keypanel,k) == 1 ? 0.8 : 0) title columnheader(k+1)
  unset multiplot
  set output
}
