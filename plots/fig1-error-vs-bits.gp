# fig1-error-vs-bits.gp - quantization error vs bitwidth, one line per map, one panel per state
# (m, v, update), block-wise normalization at one block size (docs/figures.md, figure 1).
# Data (written by `lbq plot`): one block per panel: bits, then one column per map (rel-L2 error).
# Inputs: datafile, outfile, [title], npanels, keypanel, lcsN/dtsN/ptitleN per panel N.
lbq_dir(s) = (strlen(s) == 0) ? "" : (s[strlen(s):strlen(s)] eq "/") ? s : lbq_dir(s[1:strlen(s)-1])
load lbq_dir(ARG0).'lbq-style.gp'
if (!exists("npanels")) npanels = 3
if (!exists("keypanel")) keypanel = npanels - 1

fig_w = 4.7 + 3.0*npanels
kx = 1.0 - 3.7/fig_w          # the key column: the right 3.7 in
nkey = lbq_ncol(keypanel)
fig_h = (2.2 + 0.27*nkey > 4.4) ? 2.2 + 0.27*nkey : 4.4   # room for the key column
pbot = (0.8 + lbq_cap_h)/fig_h  # panel bottom and top (screen), the caption line below
ptop = 1.0 - 1.0/fig_h
cap_default = (exists("statlab") && statlab eq "element-weighted mean over tensors") ? \
  "Data: all tensors of the input file, block-wise absmax scales. Statistic per panel: relative L2 error sqrt(sum (x^-x)^2 / sum x^2) of each tensor,\nelement-weighted mean over tensors (a ratio, log axis). x axis: bits of the code per element, the block scales not counted (fig7 counts them)." : \
  "Data: all tensors of the input file, block-wise absmax scales. Statistic per panel: relative L2 error sqrt(sum (x^-x)^2 / sum x^2)\nover all elements of the state (a ratio, log axis). x axis: bits of the code per element, the block scales not counted (fig7 counts them)."
array ymin[npanels]
array ymax[npanels]
lbq_pos = 1
do for [lbq_b=0:npanels-1] { eval lbq_yrange; ymin[lbq_b+1] = lbq_ymin; ymax[lbq_b+1] = lbq_ymax }

do for [fmt in formats] {
  eval lbq_term(fmt)
  set multiplot title title noenhanced font ",13"
  do for [i=0:npanels-1] {
    eval lbq_restore
    eval lbq_cell(i, 0, npanels, 1, 1.05/fig_w, kx - 0.1/fig_w, pbot, ptop, 1.05/fig_w, 0)
    set logscale y
    lbq_lo = ymin[i+1]; lbq_hi = ymax[i+1]
    eval lbq_logtics
    set xtics 1
    set autoscale xfix
    set yrange [lbq_tlo:lbq_thi]      # both ends of the y axis on labelled tics
    set offsets 0.25, 0.25, 0, 0
    set xlabel "code bits per element"
    set ylabel "relative L2 error (ratio)" offset 0.4, 0
    set title lbq_ptitle(i) noenhanced
    unset key
    # a line that coincides with an earlier one (dupN; the key says which) is drawn dotted with large
    # open circles, so that the line below it stays visible
    plot for [k=1:lbq_ncol(i)] datafile index i using 1:(lbq_isdup(i,k) ? NaN : column(k+1)) with linespoints lt lbq_lc(i,k) dt lbq_dt(i,k) notitle, \
         for [k=1:lbq_ncol(i)] datafile index i using 1:(lbq_isdup(i,k) ? column(k+1) : NaN) with linespoints lt lbq_lc(i,k) dt 3 pt 6 ps 1.7 notitle
  }
  # the shared key, from the panel with the most lines
  eval lbq_keyside(kx, pbot, 1.0 - 0.6/fig_h)
  eval lbq_caption
  plot for [k=1:lbq_ncol(keypanel)] datafile index keypanel using 1:(NaN) with linespoints lt lbq_lc(keypanel,k) dt lbq_dt(keypanel,k) title columnheader(k+1)
  unset label 99
  unset multiplot
  set output
}
