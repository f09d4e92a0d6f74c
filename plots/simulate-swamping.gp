# simulate-swamping.gp - `lbq simulate FILE --json` results: per parameter and state, the share of
# elements whose fp32 state moved but whose stored code did not (swamped), and the share of all
# codes that did not change, vs step; one colour and point type per parameter, m solid, v dashed;
# tensors the recipe keeps in fp32 are not drawn but named below the key; a series that coincides
# with an earlier one is drawn dotted with large open circles and its key entry says so (docs/figures.md).
# Data: one block per parameter/state: step, swamped, unchanged (headers: parameter, "name (m|v)").
# Inputs: datafile, outfile, [title], nseries, lcs0, dts0 and pts0 (linetype / dashtype / point type
#         per block), keys0 (the blocks, 1-based, that get a key entry: the first of each parameter),
#         [fp32note] (the line naming the tensors kept in fp32), [dupnote] (the line naming the
#         coinciding series), [dup0]/[dup1] (the blocks whose
#         swamped / unchanged column coincides with an earlier block's), [states] ("m v", "m" or "v":
#         the states drawn, which get a line-style key entry).
lbq_dir(s) = (strlen(s) == 0) ? "" : (s[strlen(s):strlen(s)] eq "/") ? s : lbq_dir(s[1:strlen(s)-1])
load lbq_dir(ARG0).'lbq-style.gp'
if (!exists("nseries")) nseries = 1
if (!exists("keys0")) keys0 = "1"
if (!exists("fp32note")) fp32note = ""
if (!exists("states")) states = "m v"
if (!exists("dupnote")) dupnote = ""
nnotes = (strlen(fp32note) > 0) + (strlen(dupnote) > 0)
lt_of(k) = int(word(lcs0, k))
dt_of(k) = exists("dts0") ? int(word(dts0, k)) : 1
pt_of(k) = exists("pts0") ? int(word(pts0, k)) : 7
krows = int((words(keys0) + words(states) + 1) / 2)     # the key: two columns below the panels (+ m / v entries)
band = 0.3 + 0.25*krows + 0.3*nnotes     # inches
fig_w = 10.6
fig_h = 3.9 + band + lbq_cap_h
cap_default = "Data: tensors of the input file, simulated with quantized m and v next to fp32 on the same gradients. Statistic per panel:\nshare of a tensor's elements at each step (swamped: among the elements whose fp32 state moved by more than --swamp-rel)."

do for [fmt in formats] {
  eval lbq_term(fmt)
  set multiplot title title noenhanced font ",13"
  do for [i=0:1] {
    eval lbq_restore
    eval lbq_cell(i, 0, 2, 1, 1.0/fig_w, 1.0 - 0.15/fig_w, (band + lbq_cap_h + 0.75)/fig_h, 1.0 - 0.95/fig_h, 1.3/fig_w, 0)
    set yrange [-0.02:1.02]
    set autoscale xfix
    set xlabel "optimizer step"
    set ylabel "share of elements (0 to 1)" offset 0.5, 0
    set title (i == 0 ? "swamped: fp32 state moved, stored code did not" : "stored code unchanged (all elements)") noenhanced
    unset key
    # a series that coincides with an earlier one (dupN; the key says which) is drawn dotted with large
    # open circles, so that the line below it stays visible
    plot for [k=1:nseries] datafile index (k-1) using 1:(lbq_isdup(i,k) ? NaN : column(i+2)) with linespoints lt lt_of(k) dt dt_of(k) pt pt_of(k) ps 0.9 pi -6 notitle, \
         for [k=1:nseries] datafile index (k-1) using 1:(lbq_isdup(i,k) ? column(i+2) : NaN) with linespoints lt lt_of(k) dt 3 pt 6 ps 1.7 pi -6 notitle
  }
  eval lbq_keyband((lbq_cap_h + 0.3*nnotes)/fig_h, (band + lbq_cap_h)/fig_h)
  set key maxrows krows
  if (strlen(fp32note) > 0) { set label 98 fp32note at screen 0.5, screen (lbq_cap_h + 0.12)/fig_h center font ",10" noenhanced }
  if (strlen(dupnote) > 0) { set label 97 dupnote at screen 0.5, screen (lbq_cap_h + 0.12 + 0.3*(strlen(fp32note) > 0))/fig_h center font ",10" noenhanced }
  eval lbq_caption
  plot for [s in keys0] datafile index (int(s)-1) using 1:(NaN) with linespoints lt lt_of(int(s)) dt 1 pt pt_of(int(s)) title columnheader(2), \
       NaN with lines lt 9 dt 1 title (strstrt(states, "m") > 0 ? "m (first moment): solid" : ""), \
       NaN with lines lt 9 dt 2 title (strstrt(states, "v") > 0 ? "v (second moment): dashed" : "")
  unset label 98
  unset label 97
  unset label 99
  unset multiplot
  set output
}
