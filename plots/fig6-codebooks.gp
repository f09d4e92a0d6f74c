# fig6-codebooks.gp - the quantization levels of each map at one bitwidth, one horizontal row of
# points per map, signed (m) and unsigned (v) panels (docs/figures.md, figure 6).
# Data: one block per panel: level, row (0 = bottom), map name, linetype.
# Inputs: datafile, outfile, [title], npanels, ptitleN and nrowsN (maps) per panel N.
lbq_dir(s) = (strlen(s) == 0) ? "" : (s[strlen(s):strlen(s)] eq "/") ? s : lbq_dir(s[1:strlen(s)-1])
load lbq_dir(ARG0).'lbq-style.gp'
if (!exists("npanels")) npanels = 2
maxrows = 1
do for [b=0:npanels-1] { r = exists(sprintf("nrows%d", b)) ? value(sprintf("nrows%d", b)) : 6; maxrows = (r > maxrows) ? r : maxrows }
fig_w = 1.4 + 4.3*npanels
fig_h = 1.5 + 0.42*maxrows

do for [fmt in formats] {
  eval lbq_term(fmt)
  set multiplot title title noenhanced font ",13"
  do for [i=0:npanels-1] {
    eval lbq_restore
    eval lbq_cell(i, 0, npanels, 1, 1.2/fig_w, 1.0 - 0.2/fig_w, 1.0/fig_h, 1.0 - 0.95/fig_h, 1.3/fig_w, 0)
    nr = exists(sprintf("nrows%d", i)) ? value(sprintf("nrows%d", i)) : maxrows
    xlo = (strstrt(lbq_ptitle(i), "signed") == 1) ? -1.05 : -0.03
    set yrange [-0.6:nr-0.4]
    set xrange [xlo:1.05]
    set grid noxtics ytics ls 100
    xinc = (xlo < 0) ? 0.5 : 0.25
    set xtics xinc
    set xlabel "level (fraction of the scale)"
    set title lbq_ptitle(i) noenhanced
    unset key
    plot datafile index i using 1:2:4:ytic(3) with points pt 7 ps 0.75 lc variable notitle
  }
  unset multiplot
  set output
}
