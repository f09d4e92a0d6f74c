# fig7-memory-vs-error.gp - memory vs update error for every configuration: x = bits per element
# including the scales, averaged over m and v; y = relative L2 error of the Adam update (log);
# colour = map, shape = normalization; the dashed black line joins the Pareto front (no other
# config is both smaller and more accurate), whose points are numbered and listed on the right
# (docs/figures.md, figure 7).
# Data: one block per map/normalization class (x, y, config label), then the front block
# (x, y, config label, number).
# Inputs: datafile, outfile, [title], nseries, lcs0 and pts0 (linetype / point type per class),
#         nfront and front1..front24 (labels of the front points, left to right).
lbq_dir(s) = (strlen(s) == 0) ? "" : (s[strlen(s):strlen(s)] eq "/") ? s : lbq_dir(s[1:strlen(s)-1])
load lbq_dir(ARG0).'lbq-style.gp'
if (!exists("nseries")) nseries = 1
if (!exists("nfront")) nfront = 0
nlist = (nfront < 24) ? nfront : 24
fig_w = 11.0
fig_h = (nseries + nlist > 16) ? 1.6 + 0.25*(nseries + nlist + 3) : 6.0
lt_of(k) = int(word(lcs0, k))
pt_of(k) = exists("pts0") ? int(word(pts0, k)) : 7
line = 0.25/fig_h                           # one key line, screen units
# the numbers of the front points sit above (odd) and below (even) their point: a factor on the log
# axis worth ~4% of its span (one plot element with no undefined point: gnuplot 5.4 can crash on a
# 'with labels' element whose points are all undefined)
ylo = 1e300; yhi = -1e300
do for [b=0:nseries] {
  stats datafile index b using 2 nooutput
  if (STATS_records > 0) { ylo = (STATS_min < ylo) ? STATS_min : ylo; yhi = (STATS_max > yhi) ? STATS_max : yhi }
}
lift = (ylo > 0 && yhi > ylo) ? (yhi/ylo)**0.04 : 1.15
lift = (lift < 1.15) ? 1.15 : lift
ktop = 1.0 - 0.6/fig_h

do for [fmt in formats] {
  eval lbq_term(fmt)
  eval lbq_restore
  set lmargin at screen 0.9/fig_w
  set rmargin at screen 0.72
  set tmargin at screen ktop
  set bmargin at screen 0.8/fig_h
  set title title noenhanced font ",13"
  set logscale y
  set format y "10^{%L}"
  set autoscale fix
  set offsets graph 0.03, graph 0.03, graph 0.05, graph 0.05
  set logscale x 2
  set xtics ("1" 1, "2" 2, "3" 3, "4" 4, "5" 5, "6" 6, "8" 8, "10" 10, "12" 12, "16" 16, "20" 20, "24" 24, "32" 32, "48" 48, "64" 64)
  set mxtics default
  set xlabel "bits per element (codes + scales), mean of m and v (log scale)"
  set ylabel "update relative L2 error"
  set key at screen 0.735, ktop left top vertical Left reverse noenhanced spacing 1.0 samplen 2
  unset label
  if (nlist > 0) {
    set label 100 (nlist < nfront ? sprintf("Pareto front (first %d of %d):", nlist, nfront) : "Pareto front, left to right:") at screen 0.74, screen ktop - (nseries + 2.0)*line left font ",11"
    do for [k=1:nlist] {
      set label 100+k sprintf("%2d  %s", k, value(sprintf("front%d", k))) at screen 0.74, screen ktop - (nseries + 2.0 + k)*line left font ",11" noenhanced
    }
  }
  plot for [k=1:nseries] datafile index (k-1) using 1:2 with points lt lt_of(k) pt pt_of(k) ps 1.1 title columnheader(1), \
       datafile index nseries using 1:2 with linespoints lt 9 lw 1.2 dt 2 pt 6 ps 1.6 title columnheader(1), \
       datafile index nseries using 1:($2 * (int($4) % 2 ? lift : 1.0/lift)):4 with labels offset char 0.4, 0 font ",10" textcolor rgb "#000000" notitle
  set output
}
