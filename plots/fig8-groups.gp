# fig8-groups.gp - update error per role group of tensors (docs/metrics.md "Groups") for the sweep
# published recipes (the sweep's recipe:NAME configurations; in files without them, the grid
# configurations that are a published recipe's m or v quantizer): x = group (embedding, attention,
# MLP, norm, bias, conv, head, other, and --group names, in that order), y = relative L2 error of
# the Adam update per tensor, element-weighted mean over the group's tensors (log); one line per
# configuration, its points shifted sideways a little so that equal values stay visible
# (docs/figures.md, figure 8).
# Data: one block per configuration (group index, update rel-L2 or ?, group name, series title).
# Inputs: datafile, outfile, [title], nseries, ngroups, gname1..gnameN (group names),
#         stitle1..stitleN (series titles), lcs0 (linetype per series).
lbq_dir(s) = (strlen(s) == 0) ? "" : (s[strlen(s):strlen(s)] eq "/") ? s : lbq_dir(s[1:strlen(s)-1])
load lbq_dir(ARG0).'lbq-style.gp'
if (!exists("nseries")) nseries = 1
if (!exists("ngroups")) ngroups = 1
# a three-line caption: more room at the bottom than lbq-style's two lines
lbq_cap_h = 0.68
lbq_caption = 'set label 99 (exists("caption") ? caption : cap_default) at screen 0.008, screen 0.52/fig_h left font ",9" textcolor rgb "#333333" noenhanced front'
pw = 7.0; ph = 4.2                          # the plot area (inches)
pl = 1.1; pb = 0.85 + lbq_cap_h             # its left and bottom edge
kx = pl + pw + 0.25                         # the key, right of the plot: never over a series
fig_h = ph + pb + 0.7
fig_w = kx + 5.6
lt_of(k) = int(word(lcs0, k))
shift(k) = (nseries > 1) ? (k - (nseries + 1)/2.0) * 0.25/nseries : 0
cap_default = "Data: all tensors of the input file in role groups (names and shapes, docs/metrics.md). y: relative L2 error of the Adam update m/(sqrt(v)+eps)\nper tensor, element-weighted mean over the group's tensors (a ratio, log axis). One line per published recipe\nwith its fp32 exemptions: a tensor it keeps in fp32 counts 0, and a group it keeps wholly in fp32 (0 on a log axis) has no point."

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
  set xrange [-0.5:ngroups - 0.5]
  set xtics () scale 0
  do for [g = 1:ngroups] { set xtics add (value(sprintf("gname%d", g)) g - 1) }
  set grid noxtics ytics
  set xlabel "role group of the tensors (docs/metrics.md)"
  set ylabel "update relative L2 error (ratio)"
  set key at screen kx/fig_w, 1.0 - 0.6/fig_h left top vertical Left reverse noenhanced spacing 1.1 samplen 2
  eval lbq_caption
  plot for [k = 1:nseries] datafile index (k - 1) using ($1 + shift(k)):2 with linespoints lt lt_of(k) pt 7 ps 1.0 \
       title value(sprintf("stitle%d", k))
}
