/* lbq-analysis.h - results of `lbq analyze` as a library object, the four aggregates of a metric
 * over tensors, and the role groups of tensors (docs/metrics.md "Aggregates over tensors",
 * "Groups").  The CLI parses options and prints; everything reported is computed here. */
#ifndef LBQ_ANALYSIS_H
#define LBQ_ANALYSIS_H

#include <stdint.h>
#include <stdio.h>

#include "lbq-json.h"
#include "lbq-metrics.h"
#include "lbq-report.h"

#ifdef __cplusplus
extern "C" {
#endif

struct lbq_groups;     /* role groups of tensors (below) */

/* ---- aggregates over tensors ------------------------------------------------------------------ */
/* The per-tensor metrics that are aggregated (keys as in results.tsv and the sweep's rows) */
enum { LBQ_MET_M_REL_L2, LBQ_MET_V_REL_L2, LBQ_MET_V_ZERO_COLLAPSE, LBQ_MET_UPDATE_REL_L2,
       LBQ_MET_UPDATE_COSINE, LBQ_MET_UPDATE_BLOWUP, LBQ_MET_BITS_M, LBQ_MET_BITS_V, LBQ_NMET };
extern const char *const lbq_met_key[LBQ_NMET];     /* "m_rel_l2", ..., "bits_per_elem_v" */
/* The four statistics: pooled over elements (the merged accumulators), element-weighted mean of the
 * per-tensor values, median of the per-tensor values, worst tensor (largest; for the cosine the
 * smallest) */
enum { LBQ_AGG_POOLED, LBQ_AGG_WMEAN, LBQ_AGG_MEDIAN, LBQ_AGG_WORST, LBQ_NAGG };
extern const char *const lbq_agg_key[LBQ_NAGG];     /* "pooled", "weighted_mean", "median", "worst" */
extern const char *const lbq_agg_label[LBQ_NAGG];   /* "pooled over elements", "element-weighted mean", ... */
/* The statistic every command ranks and orders by (analyze's TOTAL line, sweep's Pareto front and
 * figure ordering, recommend's objective): the element-weighted mean of per-tensor values. */
#define LBQ_AGG_RANK LBQ_AGG_WMEAN

struct lbq_agg {
    double v[LBQ_NAGG];     /* NaN where no tensor has a finite value */
    int    worst;           /* the worst tensor's parameter index (-1: none); the earlier on a tie */
    int    n;               /* tensors with a finite value */
    int    all_equal;       /* two or more tensors, every finite value the same (none is "worse") */
};

/* A compact per-tensor row: what the aggregates, the table and the worst marks need. */
struct lbq_trow {
    int32_t index;          /* parameter index in the file */
    int16_t group;          /* role group (lbq_groups_classify), 0 without groups */
    int8_t  kept_fp32;
    int64_t numel;
    double  val[LBQ_NMET];
    int64_t v_solo[3];      /* SOLO edge-case blocks of v (all zero, max < 1e-12, zero quantile) */
};
/* has_m/has_v 0: that metric is NaN (the state is not quantized in this configuration; sweep) */
void lbq_trow_from_eval(struct lbq_trow *r, int index, int64_t numel, const struct lbq_param_eval *e, int has_m, int has_v);
void lbq_trow_from_param_row(struct lbq_trow *r, int index, const struct lbq_param_row *p);
/* the pooled values of merged accumulators; bpe_m/bpe_v: element-weighted bits per element */
void lbq_pooled_values(const struct lbq_acc *a, double bpe_m, double bpe_v, int has_m, int has_v, double val[LBQ_NMET]);
/* The aggregates of every metric over rows[n] whose group is `group` (all when group < 0); pooled
 * from pooled[LBQ_NMET].  Non-finite per-tensor values are left out.  LBQ_ERR_NOMEM or LBQ_OK. */
int  lbq_aggregate(const struct lbq_trow *rows, int n, int group, const double *pooled, struct lbq_agg out[LBQ_NMET]);
/* {"m_rel_l2": {"pooled": x, "weighted_mean": x, "median": x, "worst": x, "worst_param": "name",
 *  "tensors": n}, ...}; name(ud, index) names the row index of a worst tensor */
typedef const char *(*lbq_name_fn)(const void *ud, int index);
cJSON *lbq_aggregates_json(const struct lbq_agg agg[LBQ_NMET], lbq_name_fn name, const void *ud);
const char *lbq_file_param_name(const void *f, int index);     /* lbq_name_fn of a struct lbq_file */

/* Pooled sums of a set of tensors without their histograms (for per-group totals of many
 * configurations: sweep); lbq_pool_values gives the same numbers as lbq_pooled_values would on
 * the merged accumulators. */
struct lbq_pool {
    double  m_err, m_sq, v_err, v_sq, u_diff, u_sq, u_sqh, u_dot, elems, bits_m, bits_v;
    int64_t v_pos, v_p2z, u_n, u_blow, v_solo[3];
};
void lbq_pool_add(struct lbq_pool *p, const struct lbq_acc *a, double numel, double bpe_m, double bpe_v);
void lbq_pool_values(const struct lbq_pool *p, int has_m, int has_v, double val[LBQ_NMET]);

/* sweep: one configuration's aggregates from its per-parameter rows: get(ud, k, &row) gives
 * parameter k's row (k < n), group_of[k] its group; gpool[ngroups] the groups' pooled sums, pooled[]
 * the configuration's pooled values.  Adds "aggregates" and "groups" to conf_obj (results.json) and,
 * when tsv is not NULL, fills tsv[] with the aggregate rows of results.tsv ("TOTAL:weighted_mean",
 * ..., "GROUP:NAME:pooled", ...; at most 3 + 4 * ngroups), *ntsv their count. */
typedef int (*lbq_row_get_fn)(void *ud, int k, struct lbq_param_row *row);
int lbq_conf_aggregates(int n, lbq_row_get_fn get, void *ud, const int *group_of, const struct lbq_groups *g,
                        const struct lbq_pool *gpool, const double *pooled, int64_t total_numel,
                        cJSON *conf_obj, struct lbq_param_row *tsv, int *ntsv);

/* ---- role groups of tensors -------------------------------------------------------------------- */
#define LBQ_GROUPS_MAX 32
enum { LBQ_GROUP_EMBEDDING, LBQ_GROUP_ATTENTION, LBQ_GROUP_MLP, LBQ_GROUP_NORM, LBQ_GROUP_BIAS,
       LBQ_GROUP_CONV, LBQ_GROUP_HEAD, LBQ_GROUP_OTHER, LBQ_GROUP_NBUILTIN };
struct lbq_groups;
int  lbq_groups_new(struct lbq_groups **g);
/* "REGEX=NAME" (POSIX extended regex, case-sensitive, matched against the name as lbq shows it;
 * NAME: 1-32 of [A-Za-z0-9_.-]); the rules added first are tried first, before the built-in rule.
 * LBQ_ERR_ARG with a message naming the problem. */
int  lbq_groups_add_rule(struct lbq_groups *g, const char *spec);
/* the group of a parameter: user rules (first match), then the built-in rule (docs/metrics.md) */
int  lbq_groups_classify(const struct lbq_groups *g, const char *name, const struct lbq_shape *shape);
int  lbq_groups_count(const struct lbq_groups *g);
const char *lbq_groups_name(const struct lbq_groups *g, int i);
void lbq_groups_free(struct lbq_groups *g);

/* ---- the result of `lbq analyze` --------------------------------------------------------------- */
struct lbq_group_res {
    int     ntensors;
    double  elems, bits_m, bits_v;
    struct lbq_acc tot;                     /* pooled */
    struct lbq_agg agg[LBQ_NMET];
};

struct lbq_analysis_info {                  /* the JSON's "config" (what produced the result) */
    const struct lbq_config *conf;
    const char *plan;                       /* --plan path, or NULL */
    const char *device;                     /* "cpu", "cuda", "twin" */
    double      outlier_k;
};

struct lbq_analysis {
    const struct lbq_file *f;
    const struct lbq_groups *groups;        /* NULL: one group */
    int     np, nrows;                      /* parameters of the file; rows added so far */
    struct lbq_trow *rows;                  /* [np], compact */
    struct lbq_acc tot;                     /* pooled over all elements */
    double  elems, bits_m, bits_v;          /* sums over parameters: numel, bits_per_elem x numel */
    double  bpe_m, bpe_v;                   /* element-weighted bits per element */
    int64_t nonfinite;                      /* elements excluded for NaN/Inf */
    int     worst[3];                       /* largest per-tensor update rel-L2 (> 0 shown), -1 none */
    double  fp32_bytes, q_bytes;
    double  nparams_x, x_fp32_gb, x_quantized_gb, x_saved_gb;     /* 0 unless nparams_x > 0 */
    double  pooled[LBQ_NMET];
    struct lbq_agg agg[LBQ_NMET];           /* over all tensors */
    int     ngroups;
    struct lbq_group_res *grp;              /* [ngroups] */
    struct lbq_out *out;                    /* the JSON being streamed, or NULL */
    /* --sample (include/lbq-sample.h): JSON items the caller sets and the next lbq_analysis_add
     * (row_ci: the row's "ci") or lbq_analysis_end (totals_ci: the totals' "ci"; sample: the
     * top-level "sample" object) takes over (and frees); NULL: none */
    cJSON  *row_ci, *totals_ci, *sample;
    int     done;
};
/* Start: json_path (or NULL) is opened now and the header written; per-parameter objects follow as
 * they are added, the rest at lbq_analysis_end.  groups may be NULL. */
int  lbq_analysis_begin(struct lbq_analysis *a, const struct lbq_file *f, const struct lbq_groups *groups,
                        double nparams_x, const char *json_path, const struct lbq_analysis_info *info);
/* Parameter i's evaluation, in parameter order; merged into the totals, kept as a compact row and
 * (with JSON) written out; the evaluation itself is not kept. */
int  lbq_analysis_add(struct lbq_analysis *a, int i, const struct lbq_param_eval *e);
/* Aggregates, worst tensors, memory; the JSON's tail, and the file renamed into place. */
int  lbq_analysis_end(struct lbq_analysis *a);
void lbq_analysis_free(struct lbq_analysis *a);     /* removes an unfinished JSON output */

#ifdef __cplusplus
}
#endif
#endif
