/* plot.h - figures from results JSON through the gnuplot scripts in plots/ (docs/figures.md).
 * Each figure is written as DIR/<name>.png and DIR/<name>.pdf (temporary names, then renamed),
 * with its data in DIR/<name>.dat. */
#ifndef LBQ_PLOT_H
#define LBQ_PLOT_H

#include <cJSON.h>

#include "gnuplot.h"        /* the runner, and lbq_mkdirs */

/* All figures of a sweep results object (schema lbq.sweep/1).  Returns an lbq status. */
int lbq_plot_sweep(const cJSON *results, const char *dir, int quiet);
/* Remove the sweep figures (DIR/fig*.png, .pdf, .dat of every name lbq_plot_sweep draws), so no
 * figure of an earlier run stays beside new results. */
void lbq_plot_sweep_clear(const char *dir);
/* Figures of a simulate results object (schema lbq.simulate/1 or /2): swamping vs step, or final state vs beta. */
int lbq_plot_simulate(const cJSON *results, const char *dir, int quiet);

#endif
