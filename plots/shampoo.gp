# shampoo.gp - `lbq shampoo --plot DIR`: Bjorck rectification of a quantized eigenvector matrix
# (4-bit Shampoo, docs/shampoo.md).  Panels vs the number of Bjorck steps t:
#   orthogonality ||V_t^T V_t - I||_F, NRE and AE of f(V_t diag(w) V_t^T) against f(A), and the
#   NRE of the shortcut V_t diag(f(w)) V_t^T (no eigendecomposition, as PIRU computes it).
# Data: one block per series (map x bits), first line a header whose 2nd column is the series name;
# columns: t, (name), orth, NRE, AE_deg, NRE_direct, AE_direct_deg, NRE_offdiag, AE_offdiag_deg.
# Inputs: datafile, outfile, [title], nseries, lcs0 and dts0 (linetype / dashtype per series).
#   gnuplot -e "datafile='shampoo-bjorck.dat'; outfile='shampoo-bjorck'; nseries=2; lcs0='4 1'; dts0='1 1'" plots/shampoo.gp
lbq_dir(s) = (strlen(s) == 0) ? "" : (s[strlen(s):strlen(s)] eq "/") ? s : lbq_dir(s[1:strlen(s)-1])
load lbq_dir(ARG0).'lbq-style.gp'
if (!exists("nseries")) nseries = 1
if (!exists("lcs0")) lcs0 = "4 1 3 2 5 6 7 8"
fig_w = 10.6
fig_h = 9.0 + lbq_cap_h
cap_default = "Data: the preconditioner in the title; its eigenvector matrix quantized as in the key, then t Bjorck steps.\nPer panel: the statistic in its title against f(A) = A^(-1/4) (NRE: relative Frobenius error; AE: angle, degrees)."
lt_of(k) = int(word(lcs0, k))
dt_of(k) = exists("dts0") ? int(word(dts0, k)) : 1
ycol(i) = (i == 0) ? 3 : (i == 1) ? 4 : (i == 2) ? 5 : 6
ptitle(i) = (i == 0) ? "orthogonality ||V_t^T V_t - I||_F" : \
            (i == 1) ? "NRE of f(V_t diag(w) V_t^T)" : \
            (i == 2) ? "AE of f(V_t diag(w) V_t^T), degrees" : \
                       "NRE of V_t diag(f(w)) V_t^T (shortcut)"

do for [fmt in formats] {
  eval lbq_term(fmt)
  set multiplot title title noenhanced font ",11"
  do for [i=0:3] {
    eval lbq_restore
    eval lbq_cell(i % 2, i / 2, 2, 2, 1.15/fig_w, 1.0 - 0.2/fig_w, (2.0 + lbq_cap_h)/fig_h, 1.0 - 0.95/fig_h, 1.25/fig_w, 1.3/fig_h)
    set logscale y
    set format y (i == 0 ? "10^{%L}" : "%g")
    set xtics 1
    set xrange [-0.15:*]
    set xlabel "Bjorck steps t (count)"
    set ylabel (i == 0 ? "Frobenius norm" : (i == 2 ? "angle (degrees)" : "relative error (ratio)"))
    set title ptitle(i) noenhanced
    unset key
    plot for [k=1:nseries] datafile index (k-1) using 1:(column(ycol(i)) > 0 ? column(ycol(i)) : NaN) \
         with linespoints lt lt_of(k) dt dt_of(k) notitle
  }
  eval lbq_keyband(lbq_cap_h/fig_h, (lbq_cap_h + 0.75)/fig_h)
  eval lbq_caption
  plot for [k=1:nseries] datafile index (k-1) using 1:(NaN) with linespoints lt lt_of(k) dt dt_of(k) title columnheader(2)
  unset label 99
  unset multiplot
  set output
}
