/* lbq-sample.h - sampled evaluation (analyze/sweep --sample F): a seeded, stratified sample of whole
 * quantization blocks, Horvitz-Thompson weighted accumulators, and confidence intervals from a
 * delete-a-group jackknife over random groups of the sample (docs/metrics.md "Sampled evaluation"). */
#ifndef LBQ_SAMPLE_H
#define LBQ_SAMPLE_H

#include "lbq-metrics.h"
#include "lbq-json.h"
#include "lbq-report.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LBQ_SAMPLE_GROUPS 20            /* G random groups; slot G holds the strata taken whole */
#define LBQ_SAMPLE_MIN_UNITS 8          /* at least this many units of every tensor (all if fewer) */

struct lbq_sample_opts {
    double   frac;                      /* fraction of each tensor's sampling units, (0, 1] */
    uint64_t seed;
};

/* Parse "0.05", "5%" or "1e-2" into a fraction in (0, 1]; LBQ_ERR_ARG otherwise. */
int lbq_sample_parse(const char *s, double *frac);

/* The sample of one tensor (one stratum).  The sampling unit is `unit` elements (a multiple of
 * every block size evaluated together, so a unit holds whole blocks; the last unit may be short);
 * n = min(nunits, max(8, round(frac * nunits))) units are drawn without replacement (Knuth's selection
 * sampling) from a generator seeded by (seed, tensor name).  Units are grouped in cells of `cell`
 * elements (the engine's chunk, a multiple of unit); every cell holding a drawn unit belongs to one
 * replicate group, assigned cyclically in file order from a random start; when n = nunits the
 * tensor is taken whole and its cells go to slot G (no sampling variance). */
struct lbq_sample_sel {
    int64_t  unit, cell, nunits, ncells, nsel;
    int64_t  drawn;                     /* elements in the drawn units */
    double   weight;                    /* nunits / nsel: the inverse inclusion probability */
    uint8_t *unit_in;                   /* [nunits] */
    int8_t  *cell_slot;                 /* [ncells]: -1 (nothing drawn), 0..G-1, or G */
};
int  lbq_sample_select(const struct lbq_sample_opts *o, const char *name, int64_t numel, int64_t unit, int64_t cell,
                       struct lbq_sample_sel *s);
void lbq_sample_sel_free(struct lbq_sample_sel *s);

/* Weighted accumulators of one configuration: g[0..G-1] the random groups, g[G] the whole strata.
 * Every slot is already multiplied by its stratum's weight (counts rounded to integers), so the
 * estimate of the full accumulator is the merge of all slots (lbq_sample_acc_total). */
struct lbq_sample_acc {
    struct lbq_acc g[LBQ_SAMPLE_GROUPS + 1];
    int64_t drawn, numel;               /* elements in the drawn units; all elements */
    int64_t slot_drawn[LBQ_SAMPLE_GROUPS + 1];  /* elements drawn into each slot (0: the slot is all zero) */
    int64_t certain_x;                  /* elements whose value sums slot G holds exactly (lbq_sample_acc_exact_x) */
};
void lbq_sample_acc_zero(struct lbq_sample_acc *s);
void lbq_sample_acc_merge(struct lbq_sample_acc *d, const struct lbq_sample_acc *s);
void lbq_sample_acc_total(const struct lbq_sample_acc *s, struct lbq_acc *tot);
/* The value sums of a state (its raw-state part: n, Σx², Σ|x|, zeros, positives, blocks; and the
 * update's n, Σu², Σ|u|, exact histogram) known exactly: for the states in `states` (bit 0: m, bit 1: v; the update's
 * with either), those fields of the random groups are set to 0 and slot G gets those of `full`
 * (the whole tensor's lbq_acc_base sums, `numel` elements), so every ratio of such a state is its
 * Horvitz-Thompson error total over the exact value total.  Used for a state whose normalization
 * takes tensor-wide statistics (rank-1): its error does not follow the unit's own values, and the
 * combined ratio estimator would carry the sampling error of the value total (docs/metrics.md).
 * Nothing is done for a tensor taken whole.  Call after the weights are applied. */
void lbq_sample_acc_exact_x(struct lbq_sample_acc *s, int states, const struct lbq_acc *full, int64_t numel);
/* a += w * b for every additive field (counts rounded to the nearest integer); max_abs_err is a max */
void lbq_acc_axpy(struct lbq_acc *a, const struct lbq_acc *b, double w);

/* lbq_eval_param on a sample: only the drawn units of the tensor are quantized and accumulated
 * (tensor-wide statistics, rank-1's included, still come from the whole tensor; the device-resident
 * engine is not used, a CUDA backend is).  out[c].acc receives the weighted estimate and sout[c]
 * (nconf of them) its replicate slots; the selection uses the engine's unit (a common multiple of
 * 128 and of every block size of conf[]) and its chunk as the cell. */
int lbq_eval_param_sampled(struct lbq_file *f, int p, const struct lbq_config *conf, int nconf,
                           const struct lbq_eval_opts *opts, const struct lbq_sample_opts *smp,
                           struct lbq_sample_acc *sout, struct lbq_param_eval *out);

/* The aggregates that get an interval, in a fixed order (lbq_sample_metric_name) */
enum {
    LBQ_SM_M0 = 0,                      /* m's state metrics start here, v's at LBQ_SM_V0 */
    LBQ_SM_N = 0, LBQ_SM_NONFINITE, LBQ_SM_REL_L2, LBQ_SM_MAX_ABS_ERR, LBQ_SM_REL_MEAN_ABS_ERR,
    LBQ_SM_P50, LBQ_SM_P90, LBQ_SM_P99, LBQ_SM_P999, LBQ_SM_POSITIVE, LBQ_SM_POSITIVE_TO_ZERO,
    LBQ_SM_ZERO_COLLAPSE, LBQ_SM_ZERO_INPUTS, LBQ_SM_ZERO_INPUTS_MOVED, LBQ_SM_BLOCKS, LBQ_SM_OUTLIER_BLOCKS,
    LBQ_SM_OUTLIER_BLOCK_FRAC, LBQ_SM_SOLO_BLOCKS, LBQ_SM_SOLO_ALL_ZERO, LBQ_SM_SOLO_TINY, LBQ_SM_SOLO_ZERO_Q,
    LBQ_SM_NSTATE,
    LBQ_SM_V0 = LBQ_SM_NSTATE,
    LBQ_SM_U0 = 2 * LBQ_SM_NSTATE,      /* update metrics */
    LBQ_SM_U_N = LBQ_SM_U0, LBQ_SM_U_REL_L2, LBQ_SM_U_COSINE, LBQ_SM_U_BLOWUP, LBQ_SM_U_SHRINK,
    LBQ_SM_U_COLLAPSE, LBQ_SM_U_COLLAPSE_Q,
    LBQ_SM_COUNT
};
/* "m.rel_l2", "update.cosine", ... */
const char *lbq_sample_metric_name(int k);
/* the value of every aggregate of an accumulator, as lbq_state_result / lbq_update_result compute them */
void lbq_sample_metrics(const struct lbq_acc *a, double v[LBQ_SM_COUNT]);

/* An aggregate's estimate and its interval.  lo/hi = est -/+ t * se, clipped to the metric's range;
 * max_abs_err has lo = est (a sample's max is a lower bound) and hi = +inf (not estimable). */
struct lbq_ci { double est, se, lo, hi; };
/* every aggregate of s with its 95% interval: est -/+ scale * t(0.975, K-1) * se over the K nonempty
 * random groups (scale 1; another scale only to test the test, tests/test-sample.c) */
void lbq_sample_ci(const struct lbq_sample_acc *s, double scale, struct lbq_ci ci[LBQ_SM_COUNT]);
/* the nonempty random groups K of s, and Student's t quantile 0.975 for df degrees of freedom */
int    lbq_sample_groups_used(const struct lbq_sample_acc *s);
double lbq_t975(int df);
/* {"level": 0.95, "m": {"rel_l2": [lo, hi], ...}, "v": {...}, "update": {...}} */
cJSON *lbq_sample_ci_json(const struct lbq_ci ci[LBQ_SM_COUNT]);

/* a sweep row's intervals (struct lbq_param_row ci_mode 1) from ci[] */
void lbq_param_row_set_ci(struct lbq_param_row *r, const struct lbq_ci ci[LBQ_SM_COUNT]);

/* Configurations on or near the Pareto front of (x, y) (x: bits per element, exact; y: an error
 * estimated with interval [lo, hi]): near[c] = 1 unless some c' != c with x[c'] <= x[c] has
 * hi[c'] < lo[c] (c is then dominated with confidence).  Non-finite x or y: not near.  Returns the
 * count of near configurations. */
int lbq_sample_near_front(int n, const double *x, const double *y, const double *lo, const double *hi, uint8_t *near);

#ifdef __cplusplus
}
#endif
#endif
