# fig5-heatmap.gp - magnitude of the first moment over one 2-D parameter (Li et al. 2023, Figures
# 1-2): max |m| per cell of a pooled grid, logarithmic colours, with the column maxima above and the
# row maxima to the right so that outlier rows and columns stand out (docs/figures.md, figure 5).
# Data: block 0 "col row value" per cell (cell centres in parameter indices; scan lines separated
# by one blank line; NaN = |m| = 0); block 1 "col max"; block 2 "row max".
# Inputs: datafile, outfile, [title], [subtitle], nrows, ncols (parameter shape).
lbq_dir(s) = (strlen(s) == 0) ? "" : (s[strlen(s):strlen(s)] eq "/") ? s : lbq_dir(s[1:strlen(s)-1])
load lbq_dir(ARG0).'lbq-style.gp'
if (!exists("subtitle")) subtitle = ""
fig_w = 8.5
fig_h = 7.2
# viridis
set palette defined (0 "#440154", 1 "#482878", 2 "#3E4A89", 3 "#31688E", 4 "#26828E", 5 "#1F9E89", 6 "#35B779", 7 "#6DCD59", 8 "#B4DE2C", 9 "#FDE725")
lbq_pos = 1
stats datafile index 0 using 3 nooutput
vmin = STATS_min
vmax = STATS_max

do for [fmt in formats] {
  eval lbq_term(fmt)
  set multiplot title title."\n".subtitle noenhanced font ",12"
  # column maxima (top)
  eval lbq_restore
  eval lbq_cell(0, 0, 1, 1, 0.13, 0.66, 0.73, 0.86, 0, 0)
  set xrange [0:ncols]
  set logscale y
  set format y "10^{%L}"
  set format x ""
  set ylabel "col max"
  unset xlabel
  unset title
  unset key
  plot datafile index 1 using 1:2 with steps lt 1 lw 1.4 notitle
  # row maxima (right)
  eval lbq_restore
  eval lbq_cell(0, 0, 1, 1, 0.675, 0.81, 0.12, 0.71, 0, 0)
  unset logscale
  set logscale x
  set format x "10^{%L}"
  set xtics 100
  set format y ""
  set yrange [nrows:0]
  unset ylabel
  set xlabel "row max"
  unset key
  plot datafile index 2 using 2:1 with steps lt 1 lw 1.4 notitle
  # the grid
  eval lbq_restore
  eval lbq_cell(0, 0, 1, 1, 0.13, 0.66, 0.12, 0.71, 0, 0)
  unset logscale
  set xtics autofreq
  set logscale cb
  set cbrange [vmin:vmax]
  set format cb "10^{%L}"
  set colorbox user origin screen 0.845, 0.12 size screen 0.025, 0.59
  set cblabel "max |m| in cell (white: 0)"
  set xrange [0:ncols]
  set yrange [nrows:0]
  set format x "%g"
  set format y "%g"
  set xlabel "column (input feature)"
  set ylabel "row (output feature / token)"
  unset grid
  set border 15
  set xtics mirror
  set ytics mirror
  unset key
  plot datafile index 0 using 1:2:3 with image notitle
  unset colorbox
  unset cblabel
  unset multiplot
  set output
}
