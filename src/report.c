/* report.c - JSON renderings of evaluation results (docs/schema.md, docs/metrics.md). */
#include "lbq-impl.h"
#include "lbq-json.h"
#include "lbq-metrics.h"
#include "lbq-report.h"

static cJSON *state_json(const struct lbq_state_acc *a, const struct lbq_qsize *sz)
{
    struct lbq_state_res r;
    lbq_state_result(a, &r);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", (double)r.n);
    cJSON_AddNumberToObject(o, "nonfinite", (double)r.nonfinite);
    lbq_json_add_num(o, "rel_l2", r.rel_l2);
    lbq_json_add_num(o, "max_abs_err", r.max_abs_err);
    lbq_json_add_num(o, "rel_mean_abs_err", r.rel_mean_abs_err);
    cJSON *q = cJSON_AddObjectToObject(o, "rel_err_quantiles");
    lbq_json_add_num(q, "p50", r.q50);
    lbq_json_add_num(q, "p90", r.q90);
    lbq_json_add_num(q, "p99", r.q99);
    lbq_json_add_num(q, "p999", r.q999);
    cJSON_AddNumberToObject(o, "positive", (double)a->pos);
    cJSON_AddNumberToObject(o, "positive_to_zero", (double)a->pos_to_zero);
    lbq_json_add_num(o, "zero_collapse", r.zero_collapse);
    cJSON_AddNumberToObject(o, "zero_inputs", (double)a->zero_in);
    cJSON_AddNumberToObject(o, "zero_inputs_moved", (double)a->zero_in_moved);
    cJSON_AddNumberToObject(o, "blocks", (double)a->blocks);
    cJSON_AddNumberToObject(o, "outlier_blocks", (double)a->outlier_blocks);
    lbq_json_add_num(o, "outlier_block_frac", r.outlier_block_frac);
    cJSON *se = cJSON_AddObjectToObject(o, "solo_edge_blocks");     /* log map (docs/metrics.md) */
    cJSON_AddNumberToObject(se, "blocks", (double)a->solo[0]);
    cJSON_AddNumberToObject(se, "all_zero", (double)a->solo[1]);
    cJSON_AddNumberToObject(se, "max_below_1e-12", (double)a->solo[2]);
    cJSON_AddNumberToObject(se, "zero_quantile", (double)a->solo[3]);
    if (sz) {
        cJSON *s = cJSON_AddObjectToObject(o, "storage");
        cJSON_AddNumberToObject(s, "code_bits", (double)sz->code_bits);
        cJSON_AddNumberToObject(s, "scale_bits", (double)sz->scale_bits);
        cJSON_AddNumberToObject(s, "param_bits", (double)sz->param_bits);
        lbq_json_add_num(s, "bits_per_elem", sz->bits_per_elem);
    }
    return o;
}

static cJSON *update_json(const struct lbq_update_acc *u, int with_hist)
{
    struct lbq_update_res r;
    lbq_update_result(u, &r);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", (double)u->n);
    lbq_json_add_num(o, "rel_l2", r.rel_l2);
    lbq_json_add_num(o, "cosine", r.cosine);
    lbq_json_add_num(o, "blowup_frac", r.blowup_frac);
    lbq_json_add_num(o, "shrink_frac", r.shrink_frac);
    lbq_json_add_num(o, "collapse_share", r.collapse_share);
    lbq_json_add_num(o, "collapse_share_quant", r.collapse_share_quant);
    if (with_hist) {
        cJSON *h = cJSON_AddObjectToObject(o, "hist_log10_inv_sqrt_v");
        cJSON_AddNumberToObject(h, "lo", LBQ_H_LO);
        cJSON_AddNumberToObject(h, "hi", LBQ_H_HI);
        cJSON_AddNumberToObject(h, "bins", LBQ_H_NBINS);
        cJSON *e = cJSON_AddArrayToObject(h, "exact"), *q = cJSON_AddArrayToObject(h, "quant");
        for (int i = 0; i < LBQ_H_NBINS; i++) {
            cJSON_AddItemToArray(e, cJSON_CreateNumber((double)u->h_exact[i]));
            cJSON_AddItemToArray(q, cJSON_CreateNumber((double)u->h_quant[i]));
        }
    }
    return o;
}

cJSON *lbq_acc_json(const struct lbq_acc *a, const struct lbq_qsize *msz, const struct lbq_qsize *vsz, int with_hist)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "m", state_json(&a->m, msz));
    cJSON_AddItemToObject(o, "v", state_json(&a->v, vsz));
    cJSON_AddItemToObject(o, "update", update_json(&a->u, with_hist));
    return o;
}

cJSON *lbq_hparams_json(const struct lbq_file *f)
{
    const struct lbq_hparams *hp = lbq_file_hparams(f);
    cJSON *h = cJSON_CreateObject();
    cJSON_AddNumberToObject(h, "step", (double)hp->step);
    cJSON_AddNumberToObject(h, "beta1", hp->beta1);
    cJSON_AddNumberToObject(h, "beta2", hp->beta2);
    cJSON_AddNumberToObject(h, "eps", hp->eps);
    cJSON_AddNumberToObject(h, "lr", hp->lr);
    cJSON *defs = cJSON_AddArrayToObject(h, "defaults_used");
    if (!hp->has_step) cJSON_AddItemToArray(defs, cJSON_CreateString("step"));
    if (!hp->has_beta1) cJSON_AddItemToArray(defs, cJSON_CreateString("beta1"));
    if (!hp->has_beta2) cJSON_AddItemToArray(defs, cJSON_CreateString("beta2"));
    if (!hp->has_eps) cJSON_AddItemToArray(defs, cJSON_CreateString("eps"));
    if (!hp->has_lr) cJSON_AddItemToArray(defs, cJSON_CreateString("lr"));
    return h;
}
