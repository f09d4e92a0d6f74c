# simulate-final-vs-beta.gp - `lbq simulate --source synthetic --json` results: mean state at the
# end of the run vs beta, quantized and fp32 (SOLO's case study; docs/figures.md).
# Data: one block: beta, fp32, quantized.
# Inputs: datafile, outfile, [title], lcs0/dts0.
lbq_dir(s) = (strlen(s) == 0) ? "" : (s[strlen(s):strlen(s)] eq "/") ? s : lbq_dir(s[1:strlen(s)-1])
load lbq_dir(ARG0).'lbq-style.gp'
fig_w = 8.5
fig_h = 5.0 + lbq_cap_h
cap_default = "Synthetic data, no input file: x <- beta x + (1-beta) z, z ~ U[0,1], x0 = 1, stored quantized after every step.\nStatistic: mean of x over the elements after the last step, per beta (x is a plain number)."

do for [fmt in formats] {
  eval lbq_term(fmt)
  eval lbq_restore
  set title title noenhanced font ",12"
  set bmargin at screen (0.8 + lbq_cap_h)/fig_h
  set autoscale xfix
  set offsets graph 0.02, graph 0.02, graph 0.25, graph 0.05
  set xlabel "EMA decay β"
  set ylabel "mean x at the last step"
  set key top left noenhanced
  eval lbq_caption
  plot for [k=1:lbq_ncol(0)] datafile index 0 using 1:(column(k+1)) \
       with linespoints lt lbq_lc(0,k) dt lbq_dt(0,k) lw (k == 1 ? 2.2 : 1.6) ps (k == 1 ? 0 : 0.8) title columnheader(k+1)
  unset label 99
  set output
}
