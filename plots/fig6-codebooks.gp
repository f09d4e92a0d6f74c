# fig6-codebooks.gp - the quantization levels of each map at one bitwidth, one horizontal row of
# points per map: signed levels (m) on [-1, 1], unsigned levels (v) on [0, 1], and the unsigned
# levels again on a log axis, where the levels near 0 differ visibly (DE's 0 against DE-0's smallest
# level); a level 0 is drawn there as an open circle at the left edge (docs/figures.md, figure 6).
# Data: one block per panel: level, row (0 = bottom), map label, linetype; every map has the same row
# in every panel (a map without levels in a panel: one NaN line, so that its name still labels the row).
# Inputs: datafile, outfile, [title], npanels, and per panel N: ptitleN, nrowsN (maps), logxN (1: log
# axis), signedN (1: levels in [-1, 1]).
lbq_dir(s) = (strlen(s) == 0) ? "" : (s[strlen(s):strlen(s)] eq "/") ? s : lbq_dir(s[1:strlen(s)-1])
load lbq_dir(ARG0).'lbq-style.gp'
if (!exists("npanels")) npanels = 2
pval(name, b, dflt) = exists(sprintf("%s%d", name, b)) ? value(sprintf("%s%d", name, b)) : dflt
maxrows = 1
do for [b=0:npanels-1] { r = pval("nrows", b, 6); maxrows = (r > maxrows) ? r : maxrows }
fig_w = 3.4 + 3.4*npanels
fig_h = 2.0 + lbq_cap_h + 0.42*maxrows
cap_default = "Data: the codebooks of lbq's maps at this bitwidth (not the input file). Each point is one level, as a fraction of the block scale\n(absmax). log (SOLO) has per-block levels alpha^k (alpha = xp^(1/N)); shown for one example block whose p-quantile xp is given."

do for [fmt in formats] {
  eval lbq_term(fmt)
  set multiplot title title noenhanced font ",13"
  do for [i=0:npanels-1] {
    eval lbq_restore
    set format y "%g"
    set ytics autofreq
    eval lbq_cell(i, 0, npanels, 1, 3.2/fig_w, 1.0 - 0.25/fig_w, (1.0 + lbq_cap_h)/fig_h, 1.0 - 0.95/fig_h, 0.35/fig_w, 0)
    nr = pval("nrows", i, maxrows)
    lg = pval("logx", i, 0)
    sgn = pval("signed", i, 0)
    set yrange [-0.6:nr-0.4]
    set grid noxtics ytics ls 100
    set ylabel (i == 0 ? "map" : " ")     # shared axis: every panel has the same rows, named in the first
    set xlabel "level / block scale (ratio)"
    set title lbq_ptitle(i) noenhanced
    unset key
    if (i > 0) { set ytics 1; set format y "" }
    if (i == npanels - 1) { eval lbq_caption }
    if (lg) {
      stats datafile index i using ($1 > 0 ? $1 : NaN) nooutput
      x0 = 10.0**floor(log10(STATS_min) - 0.5)          # where a level 0 is drawn
      set logscale x
      set xrange [x0/1.6:1.6]
      set format x "10^{%L}"
      set xtics 10
      set xtics add ("0" x0)
      plot datafile index i using ($1 > 0 ? $1 : NaN):2:4 with points pt 7 ps 0.75 lc variable notitle, \
           ''       index i using ($1 > 0 ? NaN : x0):2:4 with points pt 6 ps 1.3 lc variable notitle
    } else {
      unset logscale x
      set format x "%g"
      set xrange [(sgn ? -1.05 : -0.03):1.05]
      xinc = sgn ? 0.5 : 0.25
      set xtics xinc
      if (i == 0) {
        plot datafile index i using 1:2:4:ytic(3) with points pt 7 ps 0.75 lc variable notitle
      } else {
        plot datafile index i using 1:2:4 with points pt 7 ps 0.75 lc variable notitle
      }
    }
    unset label 99
  }
  unset multiplot
  set output
}
