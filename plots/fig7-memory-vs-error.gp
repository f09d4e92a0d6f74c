# fig7-memory-vs-error.gp - memory vs update error for every configuration: x = bits per element
# including the scales, averaged over m and v (log2); y = relative L2 error of the Adam update (log);
# colour = map, shape = normalization; the dashed black line joins the Pareto front of the grid (no
# other grid config is both smaller and more accurate), whose points are numbered and all listed on
# the right; every published recipe is a black star named next to it, at its own memory (its m and
# v quantizers and the tensors it keeps in fp32) and error (docs/figures.md, figure 7).  lbq places
# every number and name so that no two overlap (cli/plot.c, f7_place).
# Data: one block per map/normalization class (x, y, config label), then the front block (x, y,
# config label, number, label x, label y), then the recipe block (x, y, config label, recipe name,
# label x, label y), then the leaders (two-row segments from a point to its label placed away).
# Inputs: datafile, outfile, [title], nseries, lcs0 and pts0 (linetype / point type per class),
#         nfront and front1..frontN (labels of the front points, left to right), nrecipes,
#         xlo, xhi, ylo, yhi, ph (the axis ranges and plot height the labels were placed for).
lbq_dir(s) = (strlen(s) == 0) ? "" : (s[strlen(s):strlen(s)] eq "/") ? s : lbq_dir(s[1:strlen(s)-1])
load lbq_dir(ARG0).'lbq-style.gp'
if (!exists("nseries")) nseries = 1
if (!exists("nfront")) nfront = 0
if (!exists("nrecipes")) nrecipes = 0
nlist = (nfront < 200) ? nfront : 200
lper = 26                                   # list lines per column
lcols = (nlist + lper - 1) / lper
lrows = (nlist < lper) ? nlist : lper
line = 0.21                                 # inches per list line
kline = 0.25                                # inches per key line
pw = 7.0                                    # the plot area: 7 in x ph (from lbq, which placed the labels for it)
pl = 1.1; pb = 0.8 + lbq_cap_h             # its left and bottom edge
kx = pl + pw + 0.25                         # the key and the list
ltop = 0.6 + (nseries + 2 + (nrecipes > 0))*kline + 0.2     # inches from the top to the list's heading
need = ltop + (lrows + 1)*line + pb
if (!exists("ph")) { ph = (need - pb - 0.7 > 5.0) ? need - pb - 0.7 : 5.0 }
fig_h = ph + pb + 0.7
fig_w = kx + ((lcols > 1) ? 2.5*lcols : 2.9) + 0.1
lt_of(k) = int(word(lcs0, k))
pt_of(k) = exists("pts0") ? int(word(pts0, k)) : 7
ktop = 1.0 - 0.6/fig_h
cap_default = "Data: all tensors of the input file, one point per configuration. x: bits/element incl. block scales, mean of m and v (fp32: 32).\ny: relative L2 error of the Adam update m/(sqrt(v)+eps) over all elements (a ratio). Star: a published recipe with its fp32 exemptions."

do for [fmt in formats] {
  eval lbq_term(fmt)
  eval lbq_restore
  set lmargin at screen pl/fig_w
  set rmargin at screen (pl + pw)/fig_w
  set tmargin at screen (pb + ph)/fig_h
  set bmargin at screen pb/fig_h
  set title title noenhanced font ",13"
  set logscale y
  set format y "10^{%L}"
  set logscale x 2
  if (exists("xlo")) { set xrange [xlo:xhi]; set yrange [ylo:yhi] } else { set autoscale fix }
  set xtics ("1" 1, "2" 2, "3" 3, "4" 4, "5" 5, "6" 6, "8" 8, "10" 10, "12" 12, "16" 16, "20" 20, "24" 24, "32" 32, "48" 48, "64" 64)
  set mxtics default
  set xlabel "bits per element incl. scales, mean of m and v (log scale)"
  set ylabel "update relative L2 error (ratio)"
  set key at screen kx/fig_w, ktop left top vertical Left reverse noenhanced spacing 1.0 samplen 2
  unset label
  if (nlist > 0) {
    set label 100 (nlist < nfront ? sprintf("Pareto front (first %d of %d), left to right:", nlist, nfront) : "Pareto front, left to right:") \
        at screen kx/fig_w, screen 1.0 - ltop/fig_h left font ",10"
    do for [k=1:nlist] {
      set label 100+k sprintf("%2d  %s", k, value(sprintf("front%d", k))) \
          at screen (kx + 2.5*((k-1)/lper))/fig_w, screen 1.0 - (ltop + (1 + (k-1)%lper)*line)/fig_h left font ",10" noenhanced
    }
  }
  eval lbq_caption
  # (a 'with labels' element whose points are all undefined can crash gnuplot 5.4: the recipe
  # clauses only when there are recipes)
  if (nrecipes > 0) {
    plot for [k=1:nseries] datafile index (k-1) using 1:2 with points lt lt_of(k) pt pt_of(k) ps 1.1 title columnheader(1), \
         datafile index nseries using 1:2 with linespoints lt 9 lw 1.2 dt 2 pt 6 ps 1.6 title columnheader(1), \
         datafile index nseries using 5:6:4 with labels center font ",9" textcolor rgb "#000000" notitle, \
         datafile index (nseries+1) using 1:2 with points lt 9 pt 3 ps 2.4 lw 1.5 title "published recipe", \
         datafile index (nseries+1) using 5:6:4 with labels center font ",10" textcolor rgb "#000000" notitle, \
         datafile index (nseries+2) using 1:2 with lines lc rgb "#555555" lw 0.8 notitle
  } else {
    plot for [k=1:nseries] datafile index (k-1) using 1:2 with points lt lt_of(k) pt pt_of(k) ps 1.1 title columnheader(1), \
         datafile index nseries using 1:2 with linespoints lt 9 lw 1.2 dt 2 pt 6 ps 1.6 title columnheader(1), \
         datafile index nseries using 5:6:4 with labels center font ",9" textcolor rgb "#000000" notitle, \
         datafile index (nseries+2) using 1:2 with lines lc rgb "#555555" lw 0.8 notitle
  }
  unset label 99
  set output
}
