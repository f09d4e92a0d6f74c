/* lbq-metrics.h - streaming metric accumulators and the evaluation engine behind analyze and sweep.
 * Every metric is defined in docs/metrics.md.  Accumulators are plain data: per-chunk instances are
 * merged in chunk order, so results do not depend on the thread count. */
#ifndef LBQ_METRICS_H
#define LBQ_METRICS_H

#include "lbq.h"

#include <math.h>
#include <signal.h>        /* sig_atomic_t (lbq_eval_opts.cancel) */

#ifdef __cplusplus
extern "C" {
#endif

/* per-element relative error |x^ - x| / |x| histogram: log10 bins */
#define LBQ_REL_LO      (-12.0)     /* log10 of the lowest edge */
#define LBQ_REL_PER_DEC 30
#define LBQ_REL_NBINS   (18 * LBQ_REL_PER_DEC + 2)   /* [0]: < 1e-12 (incl. exact), [last]: >= 1e6 */
/* histogram of h = log10(1 / (sqrt(v) + eps)) */
#define LBQ_H_LO        (-3.0)
#define LBQ_H_HI        (9.0)
#define LBQ_H_NBINS     240

struct lbq_update_cfg {
    double bc1, bc2, eps;       /* bias corrections (1 - beta^t) and epsilon */
    int64_t outlier_block;      /* block size for the outlier-block count */
    double  outlier_k;          /* threshold factor k */
};

struct lbq_state_acc {
    int64_t n;                  /* finite elements accumulated */
    int64_t nonfinite;          /* NaN/Inf inputs (excluded) */
    double  sum_sq_err, sum_sq, sum_abs_err, sum_abs, max_abs_err;
    int64_t zero_in, zero_in_moved;   /* x == 0, and of those x^ != 0 */
    int64_t pos, pos_to_zero;         /* x > 0, and of those x^ == 0 exactly (zero-point collapse) */
    int64_t rel_hist[LBQ_REL_NBINS];  /* every finite x; x == 0 counts as 0 (x^ == 0) or +inf (x^ != 0) */
    int64_t blocks, outlier_blocks;   /* blocks with max|x| > k * median|x| */
    int64_t solo[4];                  /* log map: blocks, and SOLO's edge cases among them: all zero,
                                       * max < 1e-12, zero p-quantile (lbq_log_edge_count) */
    /* structural-zero split (docs/metrics.md "Zeros: kept, lifted, collapsed"); with zero_in and
     * zero_in_moved: kept = zero_in - zero_in_moved, lifted = zero_in_moved, non-zero = n - zero_in */
    int64_t nonzero_to_zero;          /* x != 0 (either sign), x^ == 0 exactly: the collapse proper */
    double  lifted_abs_uh;            /* sum |u^| over the lifted elements (x == 0, x^ != 0) */
    double  lifted_sq_du;             /* sum (u^ - u)^2 over them (u, u^ as in lbq_update_acc) */
};

struct lbq_update_acc {
    int64_t n;
    double  sum_sq_u, sum_sq_uh, sum_dot, sum_sq_diff;
    int64_t blowup, shrink;           /* |u^| > 10|u|, |u^| < 0.1|u| */
    double  sum_abs_u, sum_abs_uh, collapsed_abs_u, collapsed_abs_uh;
    int64_t h_exact[LBQ_H_NBINS], h_quant[LBQ_H_NBINS];
};

struct lbq_acc {
    struct lbq_state_acc  m, v;
    struct lbq_update_acc u;
};

/* The per-element definitions (lbq_update_k, lbq_update_elem, lbq_rel_bin, lbq_h_bin) are in the
 * library's private src/accum-core.h, shared by the CPU and CUDA engines. */

void lbq_acc_zero(struct lbq_acc *a);
/* Accumulate n elements: exact m, v and their dequantized mh, vh. */
void lbq_acc_add(struct lbq_acc *a, const struct lbq_update_cfg *cfg, int64_t n,
                 const float *m, const float *mh, const float *v, const float *vh);
/* the same, counting outlier blocks only if `outliers` (they depend on the raw states alone) */
void lbq_acc_add2(struct lbq_acc *a, const struct lbq_update_cfg *cfg, int64_t n, const float *m, const float *mh,
                  const float *v, const float *vh, int outliers);
void lbq_acc_merge(struct lbq_acc *a, const struct lbq_acc *b);
/* The same accumulation split in two (src/accum.c; only for eps > 0, where every finite element has
 * a defined update): lbq_acc_base adds what depends on the raw states only (n, nonfinite, sums of
 * x^2 and |x|, zero and positive counts, outlier blocks, the exact update's n, sums and h
 * histogram) and writes ue[n] (the exact update, 0 where not finite) and ok[n] (m and v finite);
 * tmp holds cfg->outlier_block floats.  lbq_acc_quant adds what depends on x^.  The fields the two
 * write are disjoint, so base + quant (lbq_acc_merge) is the whole accumulation. */
void lbq_acc_base(struct lbq_acc *a, const struct lbq_update_cfg *cfg, int64_t n, const float *m,
                  const float *v, double *ue, uint8_t *ok, float *tmp);
void lbq_acc_quant(struct lbq_acc *a, const struct lbq_update_cfg *cfg, int64_t n, const float *m,
                   const float *mh, const float *v, const float *vh, const double *ue, const uint8_t *ok);

/* Derived numbers of one state */
struct lbq_state_res {
    double rel_l2, max_abs_err, rel_mean_abs_err;
    double q50, q90, q99, q999;     /* quantiles of the per-element relative error */
    double zero_collapse;           /* pos_to_zero / pos */
    double outlier_block_frac;
    int64_t n, nonfinite;
};
struct lbq_update_res {
    double rel_l2, cosine, blowup_frac, shrink_frac, collapse_share, collapse_share_quant;
};
void   lbq_state_result(const struct lbq_state_acc *s, struct lbq_state_res *r);

/* The structural-zero split of one state (docs/metrics.md "Zeros: kept, lifted, collapsed"):
 * fp32 zeros kept at 0, fp32 zeros lifted to a non-zero x^ (and the update they carry), and
 * non-zero x collapsed to 0.  Fractions are 0 when their denominator is 0. */
struct lbq_zero_split {
    int64_t zeros, kept, lifted;        /* #(x == 0), #(x == 0, x^ == 0), #(x == 0, x^ != 0) */
    int64_t nonzero, collapsed;         /* #(x != 0), #(x != 0, x^ == 0) */
    double  collapsed_frac;             /* collapsed / nonzero */
    double  lifted_uh_share;            /* sum_lifted |u^| / sum |u^| */
    double  lifted_err_share;           /* sum_lifted (u^ - u)^2 / sum (u^ - u)^2 */
};
void   lbq_zero_split_of(const struct lbq_state_acc *s, const struct lbq_update_acc *u, struct lbq_zero_split *z);
void   lbq_update_result(const struct lbq_update_acc *u, struct lbq_update_res *r);
double lbq_hist_quantile(const int64_t *hist, double q);     /* relative-error histogram */
double lbq_h_bin_center(int i);

/* ---- evaluation engine: one read of a parameter's m and v, many configurations ------------- */
struct lbq_config {
    char             label[300];
    struct lbq_qspec m, v;
    int              has_m, has_v;          /* 0: that state stays fp32 */
    const struct lbq_recipe *recipe;        /* fp32 exclusions, or NULL */
    int              quantize_all;          /* ignore the recipe's exclusions */
};

struct lbq_param_eval {
    int      kept_fp32;                     /* the recipe left this tensor in fp32 */
    char     m_plan[128], v_plan[128];      /* effective specs, "fp32" if not quantized */
    struct lbq_qsize m_size, v_size;        /* storage (fp32: 32 bits/elem) */
    struct lbq_acc   acc;
};

struct lbq_eval_opts {
    int64_t mem_limit;          /* bytes for slabs; 0 = default 1 GiB */
    double  outlier_k;          /* default 10 */
    int     device;             /* 0 cpu, 1 cuda (src/eval-dev.c), 2 the CUDA engine's CPU twin */
    /* optional: called once for every slab of m and v read in the evaluation pass, so a caller can
     * gather more statistics without reading the tensor again */
    void  (*slab_cb)(void *ud, int p, int64_t off, int64_t n, const float *m, const float *v);
    void   *cb_ud;
    /* optional: when *cancel becomes non-zero (a signal handler may set it), the evaluation stops
     * at its next slab or window of configurations and returns LBQ_ERR_INTERRUPTED, no results */
    const volatile sig_atomic_t *cancel;
};

/* Whether configurations with these block sizes (blockwise plans) may be evaluated in separate
 * calls and give the same bits as one call: the engine's chunk then does not depend on the subset
 * (src/eval.c keeps this rule next to the chunk it describes). */
int lbq_eval_blocks_split_ok(const int64_t *blocks, int n);
/* Evaluate nconf configurations on parameter p of f.  out[nconf] receives the results. */
int lbq_eval_param(struct lbq_file *f, int p, const struct lbq_config *conf, int nconf,
                   const struct lbq_eval_opts *opts, struct lbq_param_eval *out);
/* Quick self-check of the device-resident GPU engine (src/eval-dev.c; a few configurations on a
 * generated slab: the GPU against its CPU twin, every accumulator bit for bit).  LBQ_OK,
 * LBQ_ERR_DATA on a mismatch, or LBQ_ERR_CUDA; lbq_errmsg() says which.  `--device auto` uses the
 * GPU only when it passes. */
int lbq_devq_selfcheck(void);

/* Outlier structure of per-index maxima mx[n] (row or column maxima of |x|), two definitions kept
 * apart by name because two outputs show them:
 *  lbq_max_over_median: max/median over all n maxima (lbq inspect's rowmax/md, colmax/md): +inf
 *    when the median is 0 but the max is not, NaN when all are 0; *n_over (nullable) counts the
 *    maxima above k x median;
 *  lbq_max_over_nonzero_median: over the nonzero maxima only (sweep's choice of the heat-map
 *    tensor: all-zero rows of never-seen tokens are not outliers); 0 when none is nonzero. */
double lbq_max_over_median(const float *mx, int64_t n, float k, int64_t *n_over);
double lbq_max_over_nonzero_median(const float *mx, int64_t n);

/* Bias-correction and epsilon of a file (bc = 1 when step is absent or 0). */
void lbq_update_cfg_from_file(const struct lbq_file *f, struct lbq_update_cfg *cfg);

#ifdef __cplusplus
}
#endif
#endif
