# fig3-zero-point.gp - the zero-point problem (Li et al. 2023, Figure 3): histogram of
# log10(1/(sqrt(v)+eps)) over all elements, fp32 (grey bars) against one quantized v per panel
# (line); a v quantized to zero lands at log10(1/eps) = 8 (docs/figures.md, figure 3).
# Data: one block per panel: bin centre, fp32 count, quantized count.
# Inputs: datafile, outfile, [title], npanels, binwidth, lcsN/ptitleN/[noteN countsN [splitN]] per panel N
# (noteN: the counts in the bin of v = 0; countsN and splitN: the structural-zero split, fp32 zeros
# kept / lifted and non-zero v collapsed to 0).
lbq_dir(s) = (strlen(s) == 0) ? "" : (s[strlen(s):strlen(s)] eq "/") ? s : lbq_dir(s[1:strlen(s)-1])
load lbq_dir(ARG0).'lbq-style.gp'
if (!exists("npanels")) npanels = 1
if (!exists("binwidth")) binwidth = 0.05
ncols = (npanels == 4) ? 2 : npanels
nrows = (npanels == 4) ? 2 : 1

fig_w = (ncols == 1) ? 7.5 : (ncols == 2) ? 9.8 : 1.3 + 3.9*ncols
# a three-line caption: more room at the bottom than lbq-style's two lines
lbq_cap_h = 0.68
lbq_caption = 'set label 99 (exists("caption") ? caption : cap_default) at screen 0.008, screen 0.52/fig_h left font ",9" textcolor rgb "#333333" noenhanced front'
fig_h = ((nrows == 1) ? 4.2 : 7.9) + lbq_cap_h
cap_default = "Data: all v elements of all tensors of the input file. Statistic per panel: elements per bin of h, fp32 v (grey bars)\nand the panel's quantized v (line). A v quantized to zero lands at h = -log10(eps). Labels: the counts in that bin;\nfp32 zeros of v kept at 0 or lifted to a non-zero level; non-zero v collapsed to 0 (the zero-point problem)."
set style fill solid 0.45 noborder
set boxwidth binwidth absolute
# x range: the occupied bins of all panels; y from one element up
xmin = 1e300; xmax = -1e300; ymax = 1
do for [b=0:npanels-1] {
  stats datafile index b using (($2 > 0 || $3 > 0) ? $1 : NaN) nooutput
  if (STATS_records > 0) { xmin = (STATS_min < xmin) ? STATS_min : xmin; xmax = (STATS_max > xmax) ? STATS_max : xmax }
  stats datafile index b using ($2 > $3 ? $2 : $3) nooutput
  if (STATS_records > 0) { ymax = (STATS_max > ymax) ? STATS_max : ymax }
}
pad = 0.03*(xmax - xmin) + binwidth
zero(c) = (c > 0) ? c : 0.1       # an empty bin: below the axis, so the outline drops to it
zsplit(b) = exists(sprintf("split%d", b)) ? "\n".value(sprintf("split%d", b)) : ""
note(b) = exists(sprintf("note%d", b)) ? value(sprintf("note%d", b))."\n".value(sprintf("counts%d", b)).zsplit(b) : ""

do for [fmt in formats] {
  eval lbq_term(fmt)
  set multiplot title title noenhanced font ",12"
  do for [i=0:npanels-1] {
    eval lbq_restore
    eval lbq_cell(i % ncols, i / ncols, ncols, nrows, 1.0/fig_w, 1.0 - 0.2/fig_w, (0.75 + lbq_cap_h)/fig_h, 1.0 - 0.95/fig_h, 1.0/fig_w, 1.35/fig_h)
    set logscale y
    set format y "10^{%L}"
    set xrange [xmin - pad : xmax + pad]
    set yrange [1 : ymax*100]
    set xlabel "h = log_{10}(1/(√v + ε))  (dimensionless)"
    set label 1 note(i) at graph 0.99, graph 0.95 right font ",10" noenhanced
    set ylabel "elements per bin (count)"
    set title lbq_ptitle(i) noenhanced
    unset key
    if (i == npanels - 1) { eval lbq_caption }
    plot datafile index i using 1:(zero($2)) with boxes lc rgb "#9a9a9a" title columnheader(2), \
         ''       index i using 1:(zero($3)) with histeps lt lbq_lc(i,2) lw 1.5 title columnheader(3)
  }
  unset multiplot
  unset label 1
  unset label 99
  set output
}
