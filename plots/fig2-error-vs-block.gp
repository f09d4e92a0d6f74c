# fig2-error-vs-block.gp - quantization error vs block size at one bitwidth, one line per map, with
# the rank-1 normalization of the same map and bits as a dashed horizontal reference line
# (docs/figures.md, figure 2).  Data: one block per panel (m, v, update): block size, then per map
# the block-wise error and, if present, the rank-1 error repeated on every row.
# Inputs: datafile, outfile, [title], npanels, keypanel, lcsN/dtsN/ptitleN per panel N.
lbq_dir(s) = (strlen(s) == 0) ? "" : (s[strlen(s):strlen(s)] eq "/") ? s : lbq_dir(s[1:strlen(s)-1])
load lbq_dir(ARG0).'lbq-style.gp'
if (!exists("npanels")) npanels = 3
if (!exists("keypanel")) keypanel = npanels - 1

fig_w = 5.4 + 3.0*(npanels < 3 ? 3 : npanels)   # the caption lines need the width of three panels
kx = 1.0 - 4.4/fig_w          # the key column: the right 4.4 in (fits "Rank-1/DE-0 (m: same as DE)")
nkey = lbq_ncol(keypanel)
fig_h = (2.2 + 0.27*nkey > 4.4) ? 2.2 + 0.27*nkey : 4.4   # room for the key column
pbot = (1.05 + lbq_cap_h)/fig_h # panel bottom and top (screen), the caption line below
ptop = 1.0 - 1.0/fig_h
cap_default = (exists("statlab") && statlab eq "element-weighted mean over tensors") ? \
  "Data: all tensors of the input file. Solid: block-wise absmax scales over B elements; dashed, flat: rank-1 scales (no block size).\nStatistic per panel: relative L2 error sqrt(sum (x^-x)^2 / sum x^2) of each tensor, element-weighted mean over tensors (a ratio, log axis)." : \
  "Data: all tensors of the input file. Solid: block-wise absmax scales over B elements; dashed, flat: rank-1 scales (no block size).\nStatistic per panel: relative L2 error sqrt(sum (x^-x)^2 / sum x^2) over all elements of the state (a ratio, log axis)."
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
    set logscale x 2
    lbq_lo = ymin[i+1]; lbq_hi = ymax[i+1]
    eval lbq_logtics
    set format x "%g"
    set xtics rotate by 45 right offset 0.5, 0
    set autoscale xfix
    set yrange [lbq_tlo:lbq_thi]      # both ends of the y axis on labelled tics
    set offsets graph 0.05, graph 0.05, 0, 0
    set xlabel "block size B (elements)"
    set ylabel "relative L2 error (ratio)" offset 0.4, 0
    set title lbq_ptitle(i) noenhanced
    unset key
    # block-wise lines with points; rank-1 references (dash type 2) as plain dashed lines; a line that
    # coincides with an earlier one (dupN; the key says which) dotted with large open circles
    plot for [k=1:lbq_ncol(i)] datafile index i using 1:(lbq_isdup(i,k) || lbq_dt(i,k) != 1 ? NaN : column(k+1)) \
         with linespoints lt lbq_lc(i,k) notitle, \
         for [k=1:lbq_ncol(i)] datafile index i using 1:(lbq_isdup(i,k) || lbq_dt(i,k) == 1 ? NaN : column(k+1)) \
         with lines lt lbq_lc(i,k) dt (12,7) notitle, \
         for [k=1:lbq_ncol(i)] datafile index i using 1:(lbq_isdup(i,k) ? column(k+1) : NaN) \
         with linespoints lt lbq_lc(i,k) dt 3 pt 6 ps 1.7 notitle
  }
  eval lbq_keyside(kx, pbot, 1.0 - 0.6/fig_h)
  eval lbq_caption
  kb = ""; kr = ""          # the key: block-wise lines first, then the rank-1 references
  do for [k=1:lbq_ncol(keypanel)] { if (lbq_dt(keypanel,k) == 1) { kb = kb.sprintf(" %d", k) } else { kr = kr.sprintf(" %d", k) } }
  # gnuplot evaluates a plot-for clause even over an empty word list: plot only the nonempty ones
  if (strlen(kr) == 0) {
    plot for [sk in kb] datafile index keypanel using 1:(NaN) with linespoints lt lbq_lc(keypanel,int(sk)) title columnheader(int(sk)+1)
  } else { if (strlen(kb) == 0) {
    plot for [sk in kr] datafile index keypanel using 1:(NaN) with lines lt lbq_lc(keypanel,int(sk)) dt (12,7) title columnheader(int(sk)+1)
  } else {
    plot for [sk in kb] datafile index keypanel using 1:(NaN) with linespoints lt lbq_lc(keypanel,int(sk)) title columnheader(int(sk)+1), \
         for [sk in kr] datafile index keypanel using 1:(NaN) with lines lt lbq_lc(keypanel,int(sk)) dt (12,7) title columnheader(int(sk)+1)
  } }
  unset label 99
  unset multiplot
  set output
}
