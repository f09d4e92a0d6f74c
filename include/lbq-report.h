/* lbq-report.h - JSON renderings of results shared by analyze and sweep (docs/schema.md). */
#ifndef LBQ_REPORT_H
#define LBQ_REPORT_H

#include "lbq-json.h"
#include "lbq-metrics.h"

/* {"m": {...}, "v": {...}, "update": {...}}; sizes may be NULL; with_hist adds the histograms */
cJSON *lbq_acc_json(const struct lbq_acc *a, const struct lbq_qsize *msz, const struct lbq_qsize *vsz, int with_hist);
cJSON *lbq_hparams_json(const struct lbq_file *f);

/* `lbq analyze`'s result object (totals, aggregates, groups, worst tensors, memory): lbq-analysis.h */

/* Structural-zero split of a row (docs/metrics.md "Zeros: kept, lifted, collapsed"), [0] m, [1] v:
 * fp32 zeros kept at 0, fp32 zeros lifted to non-zero, non-zero values collapsed to 0 (counts), and
 * the lifted zeros' share of sum |u^|.  Rendered as the row keys/columns m_zero_kept, m_zero_lifted,
 * m_nonzero_collapsed, m_lifted_uh_share and the same for v (lbq_zero_row_keys). */
struct lbq_zero_row { double kept[2], lifted[2], collapsed[2], lifted_uh_share[2]; };
extern const char *const lbq_zero_row_keys[8];
void lbq_zero_row_fill(struct lbq_zero_row *z, const struct lbq_acc *a);
void lbq_zero_row_json(cJSON *o, const struct lbq_zero_row *z);
void lbq_zero_row_from_json(struct lbq_zero_row *z, const cJSON *o);
/* the same from a state object's zero_split (analyze's totals, a sweep's configs[].totals) */
void lbq_zero_row_from_totals(struct lbq_zero_row *z, const cJSON *totals);
/* "\tK\tL\tC\tS..." for the 8 values, %.0f counts and %.6g shares; returns snprintf's count */
int  lbq_zero_row_tsv(char *buf, size_t n, const struct lbq_zero_row *z);
/* {"zeros", "kept", "lifted", "nonzero", "collapsed", "collapsed_frac", "lifted_uh_share",
 * "lifted_err_share"}: the zero_split object of a state (lbq_acc_json adds it to m and v) */
cJSON *lbq_zero_split_json(const struct lbq_state_acc *s, const struct lbq_update_acc *u);

/* A row of a sweep's tables: one configuration on one parameter, or a configuration's TOTAL
 * (results.json configs[].params[] and totals; results.tsv).  Both files are rendered from it. */
struct lbq_param_row {
    char    name[LBQ_NAME_MAX];     /* parameter, or "TOTAL" */
    int64_t numel;
    int     kept_fp32;
    char    m_plan[128], v_plan[128];
    double  m_rel_l2, v_rel_l2;     /* NaN: the state is not quantized in this configuration */
    double  v_zero_collapse, update_rel_l2, update_cosine, update_blowup_frac;
    double  bits_per_elem_m, bits_per_elem_v;
    double  v_solo[3];              /* SOLO edge-case blocks of v: all zero, max < 1e-12, zero p-quantile */
    int     stored;                 /* read back from a results.json (--resume) */
    /* sweep --sample (include/lbq-sample.h): 0 not a sampled sweep; 1 a sampled estimate, with
     * 95% intervals [ci_lo, ci_hi] of m_rel_l2, v_rel_l2, v_zero_collapse, update_rel_l2,
     * update_cosine, update_blowup_frac (in that order); 2 evaluated exactly in a sampled sweep */
    int     ci_mode;
    double  ci_lo[6], ci_hi[6];
    struct lbq_zero_row zs;         /* structural-zero split */
};
void   lbq_param_row_from_eval(struct lbq_param_row *r, const char *name, int64_t numel,
                               const struct lbq_param_eval *e, int has_m, int has_v);
/* TOTAL of a configuration: the merged accumulators, elements and element-weighted bits */
void   lbq_total_row(struct lbq_param_row *r, const struct lbq_acc *a, double numel, double bm, double bv, int has_m, int has_v);
cJSON *lbq_param_row_json(const struct lbq_param_row *r);
/* One TSV line "PREFIX\tNAME\tNUMEL\t..." (%.6g numbers).  as_stored: numbers as results.json keeps
 * them (a non-finite value is null there, so "nan"): the per-parameter rows; the fresh TOTAL rows
 * print the computed values.  Returns snprintf's count. */
int    lbq_param_row_tsv(char *buf, size_t n, const char *prefix, const struct lbq_param_row *r, int as_stored);
/* the TSV header's extra columns of a sampled sweep (after the usual ones, before the newline) */
extern const char lbq_param_row_tsv_ci_head[];
/* --resume: a row, or a TOTAL row, of a previous results.json */
void   lbq_param_row_from_json(struct lbq_param_row *r, const cJSON *o);
void   lbq_total_row_from_json(struct lbq_param_row *r, const cJSON *totals, int has_m, int has_v);

#endif
