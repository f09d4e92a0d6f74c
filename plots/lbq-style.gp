# lbq-style.gp - the look shared by every lbq figure (docs/figures.md); loaded by plots/*.gp with
#   load lbq_dir(ARG0).'lbq-style.gp'
#
# Inputs every figure script takes (gnuplot -e "datafile='...'; outfile='...'; ..." plots/<fig>.gp):
#   datafile   the TSV written by `lbq plot` (first line: the command that redraws it)
#   outfile    output name without extension: the script writes outfile.png and outfile.pdf
#   title      optional figure title
#   formats    optional, default "png pdf" (one terminal per word)
#   dpi        optional, PNG pixels per inch (default 120: a 10 in wide figure is 1200 px)
#   caption    optional, replaces the figure's caption line (bottom left: which data, which statistic)
# Wide-table figures also take, per data block N (0-based): lcsN, dtsN (linetype / dashtype of each
# data column after the x column), ptitleN (panel title), and npanels.

if (!exists("formats")) formats = "png pdf"
if (!exists("dpi")) dpi = 120.0
if (!exists("title")) title = ""
if (!exists("fontname")) fontname = "Sans"
if (!exists("fontsize")) fontsize = 11

# the command strings that open one output; scripts set fig_w / fig_h (inches) first
lbq_font = sprintf("%s,%g", fontname, fontsize)
lbq_term(fmt) = (fmt eq "png") \
  ? sprintf("set terminal pngcairo size %d,%d enhanced font '%s' fontscale %g linewidth %g rounded background '#ffffff'; set output outfile.'.png'", \
            int(fig_w*dpi), int(fig_h*dpi), lbq_font, dpi/72.0, dpi/72.0) \
  : sprintf("set terminal pdfcairo size %gin,%gin enhanced font '%s' fontscale 1.0 linewidth 1 rounded background '#ffffff'; set output outfile.'.pdf'", \
            fig_w, fig_h, lbq_font)

# per-block style lists (missing list: linetype = column, solid)
lbq_lc(b, k) = exists(sprintf("lcs%d", b)) ? int(word(value(sprintf("lcs%d", b)), k)) : k
lbq_dt(b, k) = exists(sprintf("dts%d", b)) ? int(word(value(sprintf("dts%d", b)), k)) : 1
lbq_ncol(b) = exists(sprintf("lcs%d", b)) ? words(value(sprintf("lcs%d", b))) : 1
# columns (1-based, after x) of block b whose values coincide with an earlier column's (dupN: "3 5")
lbq_isdup(b, k) = exists(sprintf("dup%d", b)) ? (strstrt(" ".value(sprintf("dup%d", b))." ", sprintf(" %d ", k)) > 0) : 0
lbq_ptitle(b) = exists(sprintf("ptitle%d", b)) ? value(sprintf("ptitle%d", b)) : ""

set datafile separator "\t"
set datafile missing "?"
set encoding utf8

# Colours (Okabe-Ito first): 1..8 maps, 9 black reference, 10..15 further maps,
# 21..28 bitwidths 1..8, 31..40 categorical (simulate parameters).
set linetype 1  lc rgb "#0072B2" lw 1.6 pt 7  ps 0.8   # DE (dtree)
set linetype 2  lc rgb "#D55E00" lw 1.6 pt 5  ps 0.8   # DE-0 (dtree0)
set linetype 3  lc rgb "#009E73" lw 1.6 pt 9  ps 0.9   # Linear
set linetype 4  lc rgb "#CC79A7" lw 1.6 pt 11 ps 0.9   # Linear-2 (linsq)
set linetype 5  lc rgb "#E69F00" lw 1.6 pt 13 ps 0.9   # log (SOLO)
set linetype 6  lc rgb "#56B4E9" lw 1.6 pt 15 ps 0.9   # Uniform
set linetype 7  lc rgb "#7F7F7F" lw 1.6 pt 4  ps 0.8   # FP8-E4M3
set linetype 8  lc rgb "#999933" lw 1.6 pt 6  ps 0.8   # FP8-E5M2
set linetype 9  lc rgb "#000000" lw 1.6 pt 1  ps 0.8   # fp32 / exact / Pareto front
set linetype 10 lc rgb "#9467BD" lw 1.6 pt 8  ps 0.8
set linetype 11 lc rgb "#8C564B" lw 1.6 pt 10 ps 0.8
set linetype 12 lc rgb "#17BECF" lw 1.6 pt 12 ps 0.8
set linetype 13 lc rgb "#BCBD22" lw 1.6 pt 14 ps 0.8
set linetype 14 lc rgb "#F0E442" lw 1.6 pt 2  ps 0.8
set linetype 15 lc rgb "#882255" lw 1.6 pt 3  ps 0.8
set linetype 21 lc rgb "#882255" lw 1.6 pt 3  ps 0.7   # 1 bit
set linetype 22 lc rgb "#D55E00" lw 1.6 pt 5  ps 0.7   # 2 bits
set linetype 23 lc rgb "#E69F00" lw 1.6 pt 9  ps 0.8   # 3 bits
set linetype 24 lc rgb "#0072B2" lw 1.6 pt 7  ps 0.7   # 4 bits
set linetype 25 lc rgb "#009E73" lw 1.6 pt 11 ps 0.8   # 5 bits
set linetype 26 lc rgb "#56B4E9" lw 1.6 pt 13 ps 0.8   # 6 bits
set linetype 27 lc rgb "#CC79A7" lw 1.6 pt 15 ps 0.8   # 7 bits
set linetype 28 lc rgb "#7F7F7F" lw 1.6 pt 4  ps 0.8   # 8 bits
set linetype 31 lc rgb "#1F77B4" lw 1.6
set linetype 32 lc rgb "#FF7F0E" lw 1.6
set linetype 33 lc rgb "#2CA02C" lw 1.6
set linetype 34 lc rgb "#D62728" lw 1.6
set linetype 35 lc rgb "#9467BD" lw 1.6
set linetype 36 lc rgb "#8C564B" lw 1.6
set linetype 37 lc rgb "#E377C2" lw 1.6
set linetype 38 lc rgb "#7F7F7F" lw 1.6
set linetype 39 lc rgb "#BCBD22" lw 1.6
set linetype 40 lc rgb "#17BECF" lw 1.6

set style line 100 lc rgb "#d9d9d9" lw 0.6 dt 1        # grid
set grid xtics ytics ls 100
set border 3 lw 1.0
set tics nomirror out scale 0.6
set key noenhanced noautotitle
set key samplen 2.5 spacing 1.1

# ---- layout helpers: panels are placed by screen margins so that they line up exactly ----------
# command string placing a panel in column c (0-based) of nc columns, row r of nr rows, inside the
# screen box [L, R] x [B, T] with gaps gx, gy between panels
lbq_cell(c, r, nc, nr, L, R, B, T, gx, gy) = sprintf( \
  "set lmargin at screen %g; set rmargin at screen %g; set tmargin at screen %g; set bmargin at screen %g", \
  L + c*((R-L-(nc-1)*gx)/nc + gx), L + c*((R-L-(nc-1)*gx)/nc + gx) + (R-L-(nc-1)*gx)/nc, \
  T - r*((T-B-(nr-1)*gy)/nr + gy), T - r*((T-B-(nr-1)*gy)/nr + gy) - (T-B-(nr-1)*gy)/nr)
# command string for an invisible full-width plot in the screen band [y0, y1] that only draws the key
lbq_keyband(y0, y1) = sprintf( \
  "set lmargin at screen 0.01; set rmargin at screen 0.99; set bmargin at screen %g; set tmargin at screen %g; " . \
  "unset border; unset tics; unset xlabel; unset ylabel; unset title; unset grid; unset logscale; unset format; " . \
  "set xrange [0:1]; set yrange [0:1]; set key center center horizontal noenhanced samplen 2.5 width 1", y0, y1)
# y range of data block b over its lbq_ncol(b) columns -> lbq_ymin, lbq_ymax (positive values only if pos)
lbq_yrange = 'lbq_ymin = 1e300; lbq_ymax = -1e300; do for [lbq_k=1:lbq_ncol(lbq_b)] { ' . \
  'stats datafile index lbq_b using (lbq_pos && column(lbq_k+1) <= 0 ? NaN : column(lbq_k+1)) nooutput; ' . \
  'if (STATS_records > 0) { lbq_ymin = (STATS_min < lbq_ymin) ? STATS_min : lbq_ymin; lbq_ymax = (STATS_max > lbq_ymax) ? STATS_max : lbq_ymax } }'
# y tics of a log axis over [lbq_lo, lbq_hi]: powers of ten written 10^k when the range spans more
# than 2.5 decades, else plain numbers with tics added at 1-2-5 (or finer) steps so that a narrow
# range still has a few labels; a range narrower than 1.5x (one point) is widened to 2.5x
lbq_mlist(r) = (r < 2.5) ? "1 1.2 1.4 1.6 1.8 2 2.5 3 3.5 4 5 6 7 8 9" : (r < 12) ? "1 1.5 2 3 4 5 7" : "1 2 5"
# lbq_tlo / lbq_thi: the labelled tics just outside [lbq_lo, lbq_hi], so that a figure can end its
# axis on labelled tics at both ends (set yrange [lbq_tlo:lbq_thi])
lbq_logtics = 'set ytics autofreq nomirror; if (lbq_lo > 0 && lbq_hi < 1.5*lbq_lo) { lbq_c = sqrt(lbq_lo*lbq_hi); lbq_lo = lbq_c/1.6; lbq_hi = lbq_c*1.6; set yrange [lbq_lo:lbq_hi] }; ' . \
  'lbq_tlo = 10.0**floor(log10(lbq_lo)); lbq_thi = 10.0**ceil(log10(lbq_hi)); ' . \
  'if (lbq_lo > 0 && lbq_hi/lbq_lo > 300) { set format y "10^{%L}" } else { set format y "%g"; ' . \
  'lbq_ml = lbq_mlist(lbq_hi/lbq_lo); do for [lbq_e=floor(log10(lbq_lo))-1:ceil(log10(lbq_hi))] { do for [lbq_m in lbq_ml] { lbq_v = lbq_m*10.0**lbq_e; ' . \
  'if (lbq_v <= lbq_lo*1.0000001 && lbq_v > lbq_tlo) { lbq_tlo = lbq_v }; if (lbq_v >= lbq_hi/1.0000001 && lbq_v < lbq_thi) { lbq_thi = lbq_v } } }; ' . \
  'do for [lbq_e=floor(log10(lbq_lo))-1:ceil(log10(lbq_hi))] { do for [lbq_m in lbq_ml] { lbq_v = lbq_m*10.0**lbq_e; ' . \
  'if (lbq_v >= lbq_tlo/1.0000001 && lbq_v <= lbq_thi*1.0000001) { set ytics add (sprintf("%g", lbq_v) lbq_v) } } } }'
# command string for an invisible plot in the screen column [x0, 0.995] x [y0, y1] that only draws
# a vertical key (sample first, text left-aligned)
lbq_keyside(x0, y0, y1) = sprintf( \
  "set lmargin at screen %g; set rmargin at screen 0.995; set bmargin at screen %g; set tmargin at screen %g; " . \
  "unset border; unset tics; unset xlabel; unset ylabel; unset title; unset grid; unset logscale; unset format; " . \
  "set xrange [0:1]; set yrange [0:1]; set key center left vertical Left reverse noenhanced samplen 2.5 width 0 spacing 1.0", x0, y0, y1)
# the caption line at the bottom left of the figure (every figure has one: which data, which statistic);
# scripts set cap_default and leave cap_h (inches) free at the bottom; `caption` (-e) overrides it
lbq_cap_h = 0.45
if (!exists("cap_default")) cap_default = ""
lbq_caption = 'set label 99 (exists("caption") ? caption : cap_default) at screen 0.008, screen 0.30/fig_h left font ",9" textcolor rgb "#333333" noenhanced front'
# the style settings a key band unset, restored at the start of each panel
lbq_restore = "set border 3 lw 1.0; set tics nomirror out scale 0.6; set grid xtics ytics ls 100; set autoscale; set key noenhanced"
