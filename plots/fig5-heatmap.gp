# fig5-heatmap.gp - magnitude of the first moment over one 2-D parameter (Li et al. 2023, Figures
# 1-2): max |m| per cell of a pooled grid, logarithmic colours, with the column maxima above and the
# row maxima to the right so that outlier rows and columns stand out (docs/figures.md, figure 5).
# Data: block 0 "col row value" per cell (cell centres in parameter indices; scan lines separated
# by one blank line; NaN = |m| = 0); block 1 "col max", block 2 "row max": staircases, two points
# per column / row (its lower and upper edge).  An N-D tensor is drawn as dim[0] rows x the other
# dims flattened (row-major), e.g. a conv weight [out, in, kh, kw] as out x (in*kh*kw).
# Inputs: datafile, outfile, [title], [subtitle], nrows, ncols (the matrix shape), [ndims].
lbq_dir(s) = (strlen(s) == 0) ? "" : (s[strlen(s):strlen(s)] eq "/") ? s : lbq_dir(s[1:strlen(s)-1])
load lbq_dir(ARG0).'lbq-style.gp'
if (!exists("subtitle")) subtitle = ""
if (!exists("ndims")) ndims = 2
fig_w = 8.5
fig_h = 8.0
cap_default = "Data: m of the tensor in the title (largest max/median of its row or column maxima).\nColour: max |m| per pooled cell (log). Top / right: max |m| per column / row (log axes, steps on the cell edges)."
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
  eval lbq_cell(0, 0, 1, 1, 0.14, 0.66, 0.73, 0.86, 0, 0)
  set xrange [0:ncols]
  set logscale y
  set format y "10^{%L}"
  set ytics 10
  set format x ""
  set ylabel "column max |m|" offset 0.5, 0 font ",9"
  set xlabel " "     # shared axis: the column index of the map below
  unset title
  unset key
  plot datafile index 1 using 1:2 with lines lt 1 lw 1.4 notitle
  # row maxima (right)
  eval lbq_restore
  eval lbq_cell(0, 0, 1, 1, 0.675, 0.81, 0.22, 0.71, 0, 0)
  unset logscale
  set logscale x
  set format x "10^{%L}"
  set xtics 10 rotate by 90 right offset 0, 0 font ",9"
  set format y ""
  set ytics autofreq
  set yrange [nrows:0]
  set ylabel " " font ""     # shared axis: the row index of the map on the left
  set xlabel "row max |m|"
  unset key
  plot datafile index 2 using 2:1 with lines lt 1 lw 1.4 notitle
  # the grid
  eval lbq_restore
  eval lbq_cell(0, 0, 1, 1, 0.14, 0.66, 0.22, 0.71, 0, 0)
  unset logscale
  set xtics autofreq norotate font ""
  set ytics autofreq
  set logscale cb
  set cbrange [vmin:vmax]
  set format cb "10^{%L}"
  set colorbox user origin screen 0.845, 0.22 size screen 0.025, 0.49
  set cblabel "max |m| in cell (white: 0)"
  set xrange [0:ncols]
  set yrange [nrows:0]
  set format x "%g"
  set format y "%g"
  set xlabel (ndims > 2 ? "column index (dims 1.. flattened)" : "column index (dim 1)")
  set ylabel "row index (dim 0)" font ""
  unset grid
  set border 15
  set xtics mirror
  set ytics mirror
  unset key
  eval lbq_caption
  plot datafile index 0 using 1:2:3 with image notitle
  unset label 99
  unset colorbox
  unset cblabel
  unset multiplot
  set output
}
