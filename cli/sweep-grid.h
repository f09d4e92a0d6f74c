/* sweep-grid.h - the default axes of `lbq sweep`, shared with `lbq recommend` (its default grid),
 * and the pairing of a v-only map with a recipe's m quantizer (cli/sweep-grid.c). */
#ifndef LBQ_SWEEP_GRID_H
#define LBQ_SWEEP_GRID_H
#include "lbq.h"

#define LBQ_SWEEP_MAPS   "dtree,dtree0,linear,linsq,log,uniform"
#define LBQ_SWEEP_NORMS  "block,rank1"
#define LBQ_SWEEP_BITS   "2-8"
#define LBQ_SWEEP_BLOCKS "32,64,128,256,512,2048"

/* A grid point of a map that quantizes v only (its m plan is unsupported: the log map) takes, with
 * both states quantized, the m quantizer of the first published recipe (registry order) whose v
 * quantizer uses the same map: SOLO's m for the log map (docs/figures.md, fig7).  Fills *m (parsed
 * with the defaults d) and *recipe and returns 1; 0 when no recipe pairs that map (m stays fp32). */
int cli_grid_pair_m(const struct lbq_map *map, const struct lbq_qdefaults *d, struct lbq_qspec *m,
                    const struct lbq_recipe **recipe);
/* the label of a grid point: its spec when m and v share it, else "MSPEC/VSPEC" ("fp32" for a state
 * left unquantized); `lbq sweep` and `lbq recommend` name their candidates alike */
void cli_grid_label(char *buf, size_t n, const struct lbq_qspec *m, int has_m, const struct lbq_qspec *v, int has_v);
#endif
