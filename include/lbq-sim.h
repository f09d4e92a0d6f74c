/* lbq-sim.h - multi-step simulations of Adam's moment EMAs with quantized states (docs/metrics.md,
 * "simulate"), and SOLO's swamping theory (thresholds, precision-specific beta1). */
#ifndef LBQ_SIM_H
#define LBQ_SIM_H

#include "lbq.h"
#include "lbq-metrics.h"
#include "lbq-json.h"

#ifdef __cplusplus
extern "C" {
#endif

enum lbq_sim_source { LBQ_SRC_GRADS = 0, LBQ_SRC_MOMENTS = 1, LBQ_SRC_SYNTHETIC = 2 };

struct lbq_sim_opts {
    int      source;
    int      steps;         /* T */
    int      every;         /* series resolution K (record steps K, 2K, ..., and T) */
    uint64_t seed;
    double   beta1, beta2, eps;
    int64_t  step0;         /* optimizer step of the initial state */
    int      bias_correct;  /* apply Adam's bias correction with step0 + t (the file has a step) */
    double   swamp_rel;     /* an fp32 state "changed" if |x_t - x_{t-1}| > swamp_rel * |x_{t-1}| */
    /* synthetic (SOLO case study): one unsigned state x, x_{t+1} = beta x_t + (1 - beta) z, z~U[0,1] */
    int64_t  size;
    double   start;
};
void lbq_sim_opts_init(struct lbq_sim_opts *o);

/* one recorded step */
struct lbq_sim_point {
    int    step;
    double m_rel, v_rel;            /* relative L2 of stored (dequantized) vs fp32 state */
    double u_rel, u_cos, blowup;    /* applied update vs fp32 update */
    /* the swamping metrics are NaN for a state stored in fp32 (no codes), and so are stuck_* */
    double swamp_m, swamp_v;        /* of elements whose fp32 state changed, share whose code did not */
    double unchanged_m, unchanged_v;/* share of all elements whose stored code did not change */
    double frozen_m, frozen_v;      /* of elements whose fp32 state changed, share whose stored value did not */
    double collapse_v;              /* v > 0 stored as exactly 0 */
    double mean_state, mean_state_fp32;   /* synthetic: mean of the stored / fp32 state */
    /* structural-zero split of the stored state against the fp32 run (docs/metrics.md "Zeros: kept,
     * lifted, collapsed"), [0] m, [1] v: fp32 zeros stored as 0, fp32 zeros stored non-zero, non-zero
     * fp32 values stored as 0 (m: zero, without an m state) */
    int64_t zkept[2], zlifted[2], zcollapsed[2];
};

struct lbq_sim_result {
    int     npoints;
    struct lbq_sim_point *pts;      /* owned; free with lbq_sim_result_free */
    int64_t n;                      /* elements */
    int     steps;
    /* end of run */
    double  stuck_all_m, stuck_all_v;   /* code never changed in the whole run (of elements whose fp32 state changed) */
    double  stuck_bias_m, stuck_bias_v; /* mean(x^ - x)/mean|x| over those stuck elements at the end */
    double  m_extra_var, m_grad_var;    /* mean (g~ - g)^2 and mean g^2 (signed state, Theorem 3.6) */
    double  m_extra_var_bound;          /* mean (beta/(1-beta) r_max s)^2 */
    double  final_mean, final_mean_fp32;/* synthetic */
    double  mean_swamp_m, mean_swamp_v; /* mean over the recorded steps of swamp_m / swamp_v */
    /* lbq_simulate_param: the recipe keeps this tensor in fp32; the specs actually applied (after a
     * rank fallback or SOLO's block fit), "fp32" for a state not quantized */
    int     kept_fp32;
    char    m_plan[128], v_plan[128];
};
void lbq_sim_result_free(struct lbq_sim_result *r);

/* Simulate parameter p of f (sources grads or moments) under config c. */
int lbq_simulate_param(struct lbq_file *f, int p, const struct lbq_config *c, const struct lbq_sim_opts *o,
                       struct lbq_sim_result *out);
/* SOLO's synthetic case study with the v quantizer of c at one beta. */
int lbq_simulate_synthetic(const struct lbq_config *c, double beta, const struct lbq_sim_opts *o,
                           struct lbq_sim_result *out);

/* ---- what `lbq simulate` reports (schema lbq.simulate, docs/schema.md) ---- */
struct lbq_sim_row {                /* one simulated parameter of a moment file */
    char    name[LBQ_NAME_MAX];
    int64_t numel;
    int     kept_fp32;              /* the recipe leaves this tensor's states in fp32 */
    struct lbq_sim_result r;
};
struct lbq_sim_run {                /* one synthetic run */
    double  beta;
    struct lbq_sim_result r;
};
struct lbq_sim_report {
    int     source;                 /* enum lbq_sim_source */
    char    label[300], m[128], v[128];     /* config label and spec texts ("fp32" if not quantized) */
    double  swamp_rel;
    uint64_t seed;
    char    file[LBQ_NAME_MAX];     /* file sources: path; the betas used */
    double  beta1, beta2;
    int64_t size;                   /* synthetic: elements, x0, T */
    double  start;
    int     steps;
    int     nrows, nruns;
    struct lbq_sim_row *rows;       /* file sources, in simulation order (owned) */
    struct lbq_sim_run *runs;       /* synthetic, in beta order (owned) */
};
/* Start a report for configuration c and the resolved options o (betas, steps); f: the moment file
 * of the file sources, NULL for the synthetic source. */
void lbq_sim_report_init(struct lbq_sim_report *rep, const struct lbq_config *c, const struct lbq_sim_opts *o,
                         const struct lbq_file *f);
/* Simulate parameter p of f (lbq_simulate_param) and append its row; the row is rep->rows[rep->nrows - 1]. */
int  lbq_sim_report_param(struct lbq_sim_report *rep, struct lbq_file *f, int p, const struct lbq_config *c,
                          const struct lbq_sim_opts *o);
/* Run the synthetic case study at beta (lbq_simulate_synthetic) and append it as rep->runs[rep->nruns - 1]. */
int  lbq_sim_report_synthetic(struct lbq_sim_report *rep, const struct lbq_config *c, double beta,
                              const struct lbq_sim_opts *o);
void lbq_sim_report_free(struct lbq_sim_report *rep);
/* The lbq.simulate JSON document of a report (NULL: out of memory) */
cJSON *lbq_sim_report_json(const struct lbq_sim_report *rep);

/* ---- theory (SOLO) ---- */
/* half-gaps of a plan's levels: r_k = min(adjacent gaps)/2 per level; the swamping threshold is
 * beta* = 1 - sorted(r)[n/2] (the upper median). */
double lbq_theory_beta_star(const struct lbq_qplan *p);
/* median and max of the half-gaps (q[i+1]-q[i])/2 over the n-1 gaps */
double lbq_theory_r_median(const struct lbq_qplan *p);
double lbq_theory_r_max(const struct lbq_qplan *p);
/* largest beta' with beta'/(1-beta') r(b') <= beta/(1-beta) r(b) */
double lbq_theory_beta_prime(double beta, double r_ref, double r_target);

#ifdef __cplusplus
}
#endif
#endif
