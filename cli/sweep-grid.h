/* sweep-grid.h - the default axes of `lbq sweep`, shared with `lbq recommend` (its default grid;
 * both pair a v-only map with a recipe's m quantizer by lbq_sweep_pair_m, include/lbq-sweep.h). */
#ifndef LBQ_SWEEP_GRID_H
#define LBQ_SWEEP_GRID_H
#define LBQ_SWEEP_MAPS   "dtree,dtree0,linear,linsq,log,uniform"
#define LBQ_SWEEP_NORMS  "block,rank1"
#define LBQ_SWEEP_BITS   "2-8"
#define LBQ_SWEEP_BLOCKS "32,64,128,256,512,2048"
#endif
