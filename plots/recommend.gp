# recommend.gp - `lbq recommend --curve TSV`: predicted error against memory.  x = bits per element
# incl. scales, mean of m and v; y = element-weighted mean of the per-tensor update rel-L2 (log).
# The black line joins the recommended plans at budgets from the minimum achievable to 9 bits per
# element (steps of 0.25); the published recipes are labelled points at their own memory, evaluated
# with the same statistic; the star is the plan of the run's --budget (docs/metrics.md,
# "Recommendation").
# Data (the TSV lbq recommend --curve writes): block 0 (budget, bits, objective, lower bound),
# block 1 (bits, objective, recipe name, label x, label y: placed by lbq), block 2 (bits, objective, budget).
# Inputs: datafile, outfile, [title], [formats], [dpi], [caption].
lbq_dir(s) = (strlen(s) == 0) ? "" : (s[strlen(s):strlen(s)] eq "/") ? s : lbq_dir(s[1:strlen(s)-1])
load lbq_dir(ARG0).'lbq-style.gp'
fig_w = 9.5
fig_h = 5.6
cap_default = "Data: all tensors of the input file. x: bits/element incl. block scales, mean of m and v (fp32: 32).\ny: element-weighted mean over tensors of the update's relative L2 error. Line: plans; squares: recipes."
do for [fmt in formats] {
  eval lbq_term(fmt)
  eval lbq_restore
  set lmargin at screen 1.0/fig_w
  set rmargin at screen (fig_w - 0.3)/fig_w
  set tmargin at screen (fig_h - 0.6)/fig_h
  set bmargin at screen (0.75 + lbq_cap_h)/fig_h
  set title title noenhanced font ",13"
  set logscale y
  set format y "%g"
  set xrange [2:9.5]
  set xtics 1
  set mxtics 4
  set xlabel "bits per element incl. scales, mean of m and v"
  set ylabel "update rel-L2, element-weighted mean over tensors"
  set key bottom left vertical Left reverse noenhanced spacing 1.1 samplen 2 box lc rgb "#bbbbbb"
  eval lbq_caption
  plot datafile index 0 using 2:3 with linespoints lt 9 lw 1.6 pt 7 ps 0.6 title "recommended plan at each budget", \
       datafile index 1 using 1:2 with points lt 2 pt 5 ps 1.4 title "published recipe (its own memory)", \
       datafile index 1 using 4:5:3 with labels left font ",10" textcolor rgb "#000000" notitle, \
       datafile index 2 using 1:2 with points lt 1 pt 3 ps 2.6 lw 1.6 title "plan at --budget"
  unset label 99
  set output
}
