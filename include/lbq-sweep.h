/* lbq-sweep.h - a sweep's result as a library object (src/sweep.c): its configurations (the grid of
 * maps x normalizations x bits x block sizes), the per-configuration totals, one row per
 * configuration x parameter, the heat-map statistics, the carried configurations of --resume with
 * the identity check, and the two renderings results.json and results.tsv (docs/schema.md).
 *
 * Memory: totals are one struct lbq_acc per configuration; rows are compact records (struct
 * lbq_param_row without its name) kept in memory while they fit in 1/8 of the memory limit, else in
 * an unlinked file in the output directory; the heat map keeps only the best parameter's grid; the
 * outputs are written as a stream.  So a sweep's memory does not grow with the parameter count beyond
 * a few bytes per parameter (docs/cli.md, "Memory").  The caller (cli/cmd-sweep.c) parses options,
 * runs the engine (lbq_eval_param) over parameters, moves results between MPI ranks and prints. */
#ifndef LBQ_SWEEP_H
#define LBQ_SWEEP_H

#include "lbq-report.h"

#define LBQ_SWEEP_MAX_LIST 64

struct lbq_sweep_axes {
    const struct lbq_map  *maps[LBQ_SWEEP_MAX_LIST];  int nmaps;
    const struct lbq_norm *norms[LBQ_SWEEP_MAX_LIST]; int nnorms;
    int     bits[LBQ_SWEEP_MAX_LIST];  int nbits;
    int64_t blocks[LBQ_SWEEP_MAX_LIST]; int nblocks;
    int     state;           /* 0 m, 1 v, 2 both */
    int     no_recipes;      /* with both states, leave out the recipes' configurations (--no-recipes) */
};

struct lbq_sweep_conf {
    struct lbq_config c;
    const struct lbq_map *map;
    const struct lbq_norm *norm;
    int bits;
    int64_t block;
    int done;               /* carried over from a previous results.json (--resume) */
    int evaluated;          /* every parameter folded in this run */
    const struct lbq_recipe *recipe;        /* a published recipe's point (label recipe:NAME; its fp32 exemptions apply) */
    const struct lbq_recipe *m_recipe;      /* a v-only map's point whose m is this recipe's m quantizer */
};

/* A grid point of a map that quantizes v only (its m plan is unsupported: the log map) takes, with
 * both states quantized, the m quantizer of the first published recipe (registry order) whose v
 * quantizer uses the same map: SOLO's m for the log map (docs/figures.md, fig7).  Fills *m (parsed
 * with the defaults d) and *recipe and returns 1; 0 when no recipe pairs that map (m stays fp32).
 * `lbq sweep` and `lbq recommend` build their grids with it. */
int  lbq_sweep_pair_m(const struct lbq_map *map, const struct lbq_qdefaults *d, struct lbq_qspec *m,
                      const struct lbq_recipe **recipe);
/* The label of a grid point: its spec when m and v share it, else "MSPEC/VSPEC" ("fp32" for a state
 * left unquantized). */
void lbq_sweep_label(char *buf, size_t n, const struct lbq_qspec *m, int has_m, const struct lbq_qspec *v, int has_v);

/* What else changes a sweep's results besides the grid and the file (recorded in results.json
 * "identity", compared by --resume). */
struct lbq_sweep_ident {
    const char *tensor_glob, *m_name, *v_name;      /* NULL: all / the defaults */
};

struct lbq_sweep;

/* The configurations of the grid (unsupported combinations skipped; a v-only map paired with a
 * recipe's m by lbq_sweep_pair_m when both states are quantized), then, with both states, every
 * published recipe as one more configuration recipe:NAME.  LBQ_ERR_ARG for more than 100000 or none. */
int  lbq_sweep_new(const struct lbq_sweep_axes *ax, const struct lbq_qdefaults *d, const struct lbq_sweep_ident *id,
                   struct lbq_sweep **out);
void lbq_sweep_free(struct lbq_sweep *s);
int  lbq_sweep_nconf(const struct lbq_sweep *s);
struct lbq_sweep_conf *lbq_sweep_conf(struct lbq_sweep *s, int c);
/* Bind the input file and allocate totals, rows and heat-map state.  Rows that do not fit in
 * mem_limit / 8 go to an unlinked file in spill_dir (rank 0: the output directory). */
int  lbq_sweep_begin(struct lbq_sweep *s, struct lbq_file *f, int64_t mem_limit, const char *spill_dir);

/* --resume: read DIR/results.json (path).  No file: LBQ_OK, nothing carried.  Otherwise check its
 * identity against this sweep (lbq version, input path, size, mtime, parameters, options: LBQ_ERR_ARG
 * naming the first difference; no identity block: LBQ_ERR_FORMAT), validate every configuration
 * (LBQ_ERR_FORMAT naming it) and mark the configurations it has as done.  Its configurations that
 * are not in this sweep's list are kept (written after this list's).  The tensor fingerprint is
 * compared by lbq_sweep_check_fingerprint once the tensors have been read. */
int  lbq_sweep_resume(struct lbq_sweep *s, const char *path);
/* The input fingerprint is complete (every parameter read, or its fingerprint set): compare it with
 * the resumed file's (LBQ_ERR_ARG when different).  Reads parameters not read yet when read_missing. */
int  lbq_sweep_check_fingerprint(struct lbq_sweep *s, int read_missing);

/* Heat map of |m| (docs/figures.md fig5): lbq_eval_opts.slab_cb with cb_ud = the sweep; after a
 * parameter's slabs, lbq_sweep_heat_done keeps its grid only if it is the best so far (largest row or
 * column max/median, the earlier parameter on a tie; any order of calls gives the same choice).
 * MPI transport of one parameter's data: pack (malloc'd blob; frees the data) and unpack (then done). */
void  lbq_sweep_heat_slab(void *ud, int p, int64_t off, int64_t n, const float *m, const float *v);
void  lbq_sweep_heat_done(struct lbq_sweep *s, int p);
void *lbq_sweep_heat_pack(struct lbq_sweep *s, int p, size_t *len);
int   lbq_sweep_heat_unpack(struct lbq_sweep *s, int p, const void *blob, size_t len);

/* Fold parameter p's results ev[n] of configurations conf[n] into their totals and rows.  For each
 * configuration, call in parameter order (the totals are floating-point sums). */
int  lbq_sweep_fold(struct lbq_sweep *s, int p, const int *conf, int n, const struct lbq_param_eval *ev);
/* elements of m and v read by other MPI ranks, for timing.elements_read_* */
void lbq_sweep_set_reads_other(struct lbq_sweep *s, int64_t m, int64_t v);

/* --sample (docs/metrics.md, sampled evaluation; include/lbq-sample.h).  set_sample before the
 * folds; fold_sampled instead of fold for a sampled evaluation (sout[n]: the replicate slots), which
 * also gives each row its interval; sample_front marks the configurations on or near the Pareto
 * front for the exact re-run, clears their totals and returns them in todo[] (*n); then plain
 * lbq_sweep_fold of their exact evaluations.  The writes then carry the sample object, the intervals
 * and the estimate columns (docs/schema.md). */
struct lbq_sample_opts;
struct lbq_sample_acc;
int  lbq_sweep_set_sample(struct lbq_sweep *s, const struct lbq_sample_opts *o);
int  lbq_sweep_fold_sampled(struct lbq_sweep *s, int p, const int *conf, int n, const struct lbq_param_eval *ev,
                            const struct lbq_sample_acc *sout);
int  lbq_sweep_sample_front(struct lbq_sweep *s, int *todo, int *n);
void lbq_sweep_sample_times(struct lbq_sweep *s, double sampled, double exact);

/* Write DIR/results.json and DIR/results.tsv (atomically, streamed) with every configuration
 * carried over or evaluated so far.  final: add SOLO's swamping runs (unless noswamp).  The
 * summary (the same document without the per-parameter rows, for the figures) is returned in
 * *summary when not NULL (caller frees). */
int  lbq_sweep_write(struct lbq_sweep *s, const char *dir, int final, int noswamp, cJSON **summary);
/* configurations a write puts in results.json: carried, evaluated, and earlier ones kept */
int  lbq_sweep_written(const struct lbq_sweep *s);

#endif
