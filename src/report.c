/* report.c - JSON renderings of evaluation results (docs/schema.md, docs/metrics.md). */
#include "lbq-impl.h"
#include "lbq-json.h"
#include "lbq-metrics.h"
#include "lbq-report.h"

/* sweep --sample: the keys of a row's intervals (struct lbq_param_row ci_lo/ci_hi) */
static const char *const g_ci_keys[6] = { "m_rel_l2", "v_rel_l2", "v_zero_collapse", "update_rel_l2", "update_cosine", "update_blowup_frac" };


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
    cJSON *m = state_json(&a->m, msz), *v = state_json(&a->v, vsz);
    cJSON_AddItemToObject(m, "zero_split", lbq_zero_split_json(&a->m, &a->u));
    cJSON_AddItemToObject(v, "zero_split", lbq_zero_split_json(&a->v, &a->u));
    cJSON_AddItemToObject(o, "m", m);
    cJSON_AddItemToObject(o, "v", v);
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

/* ---- sweep rows: one per configuration x parameter, and the TOTAL of a configuration ---------- */
void lbq_param_row_from_eval(struct lbq_param_row *r, const char *name, int64_t numel,
                             const struct lbq_param_eval *e, int has_m, int has_v)
{
    struct lbq_state_res mr, vr;
    struct lbq_update_res ur;
    lbq_state_result(&e->acc.m, &mr);
    lbq_state_result(&e->acc.v, &vr);
    lbq_update_result(&e->acc.u, &ur);
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->numel = numel;
    r->kept_fp32 = e->kept_fp32;
    snprintf(r->m_plan, sizeof r->m_plan, "%s", e->m_plan);
    snprintf(r->v_plan, sizeof r->v_plan, "%s", e->v_plan);
    r->m_rel_l2 = has_m ? mr.rel_l2 : NAN;
    r->v_rel_l2 = has_v ? vr.rel_l2 : NAN;
    r->v_zero_collapse = vr.zero_collapse;
    r->update_rel_l2 = ur.rel_l2;
    r->update_cosine = ur.cosine;
    r->update_blowup_frac = ur.blowup_frac;
    r->bits_per_elem_m = e->m_size.bits_per_elem;
    r->bits_per_elem_v = e->v_size.bits_per_elem;
    for (int k = 0; k < 3; k++) r->v_solo[k] = (double)e->acc.v.solo[k + 1];
    lbq_zero_row_fill(&r->zs, &e->acc);
    r->stored = 0;
}

void lbq_total_row(struct lbq_param_row *r, const struct lbq_acc *a, double numel, double bm, double bv, int has_m, int has_v)
{
    struct lbq_state_res mr, vr;
    struct lbq_update_res ur;
    lbq_state_result(&a->m, &mr);
    lbq_state_result(&a->v, &vr);
    lbq_update_result(&a->u, &ur);
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "TOTAL");
    r->numel = (int64_t)numel;
    r->m_rel_l2 = has_m ? mr.rel_l2 : NAN;
    r->v_rel_l2 = has_v ? vr.rel_l2 : NAN;
    r->v_zero_collapse = vr.zero_collapse;
    r->update_rel_l2 = ur.rel_l2;
    r->update_cosine = ur.cosine;
    r->update_blowup_frac = ur.blowup_frac;
    r->bits_per_elem_m = bm;
    r->bits_per_elem_v = bv;
    for (int k = 0; k < 3; k++) r->v_solo[k] = (double)a->v.solo[k + 1];
    lbq_zero_row_fill(&r->zs, a);
}

/* per-parameter SOLO edge-case block counts of v (log map; docs/metrics.md) */
static const char *const lbq_solo_row_keys[3] = { "v_solo_zero_blocks", "v_solo_tiny_blocks", "v_solo_zero_quantile_blocks" };

cJSON *lbq_param_row_json(const struct lbq_param_row *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", r->name);
    cJSON_AddNumberToObject(o, "numel", (double)r->numel);
    cJSON_AddBoolToObject(o, "kept_fp32", r->kept_fp32);
    cJSON_AddStringToObject(o, "m_plan", r->m_plan);
    cJSON_AddStringToObject(o, "v_plan", r->v_plan);
    lbq_json_add_num(o, "m_rel_l2", r->m_rel_l2);
    lbq_json_add_num(o, "v_rel_l2", r->v_rel_l2);
    lbq_json_add_num(o, "v_zero_collapse", r->v_zero_collapse);
    lbq_json_add_num(o, "update_rel_l2", r->update_rel_l2);
    lbq_json_add_num(o, "update_cosine", r->update_cosine);
    lbq_json_add_num(o, "update_blowup_frac", r->update_blowup_frac);
    lbq_json_add_num(o, "bits_per_elem_m", r->bits_per_elem_m);
    lbq_json_add_num(o, "bits_per_elem_v", r->bits_per_elem_v);
    for (int k = 0; k < 3; k++) lbq_json_add_num(o, lbq_solo_row_keys[k], r->v_solo[k]);
    lbq_zero_row_json(o, &r->zs);
    if (r->ci_mode == 1) {      /* sweep --sample: the row's 95% intervals */
        cJSON *ci = cJSON_AddObjectToObject(o, "ci");
        for (int k = 0; k < 6; k++) {
            cJSON *a = cJSON_AddArrayToObject(ci, g_ci_keys[k]);
            cJSON_AddItemToArray(a, lbq_json_num(r->ci_lo[k]));
            cJSON_AddItemToArray(a, lbq_json_num(r->ci_hi[k]));
        }
    }
    return o;
}

/* a number as results.json stores it: non-finite values are null there, read back as NaN */
static double stored(const struct lbq_param_row *r, double v) { return (r->stored || isfinite(v)) ? v : NAN; }

const char lbq_param_row_tsv_ci_head[] = "\testimate\tm_rel_l2_lo\tm_rel_l2_hi\tv_rel_l2_lo\tv_rel_l2_hi\tv_zero_collapse_lo\t"
    "v_zero_collapse_hi\tupdate_rel_l2_lo\tupdate_rel_l2_hi\tupdate_cosine_lo\tupdate_cosine_hi\tupdate_blowup_frac_lo\tupdate_blowup_frac_hi";

int lbq_param_row_tsv(char *buf, size_t n, const char *prefix, const struct lbq_param_row *r, int as_stored)
{
    if (r->ci_mode) {           /* sweep --sample: the usual columns, then the estimate kind and the intervals */
        struct lbq_param_row t = *r;
        t.ci_mode = 0;
        int k = lbq_param_row_tsv(buf, n, prefix, &t, as_stored);
        if (k <= 0 || (size_t)k >= n) return k;
        k--;                    /* over the newline */
        k += snprintf(buf + k, n - (size_t)k, "\t%s", r->ci_mode == 1 ? "sampled" : "exact");
        const double val[6] = { r->m_rel_l2, r->v_rel_l2, r->v_zero_collapse, r->update_rel_l2, r->update_cosine, r->update_blowup_frac };
        for (int j = 0; j < 6 && (size_t)k < n; j++)     /* exact (2): the value as both ends */
            k += snprintf(buf + k, n - (size_t)k, "\t%.6g\t%.6g", r->ci_mode == 1 ? r->ci_lo[j] : val[j], r->ci_mode == 1 ? r->ci_hi[j] : val[j]);
        if ((size_t)k < n) k += snprintf(buf + k, n - (size_t)k, "\n");
        return k;
    }
    struct lbq_param_row t = *r;
    if (as_stored) {
        t.m_rel_l2 = stored(r, r->m_rel_l2); t.v_rel_l2 = stored(r, r->v_rel_l2);
        t.v_zero_collapse = stored(r, r->v_zero_collapse); t.update_rel_l2 = stored(r, r->update_rel_l2);
        t.update_cosine = stored(r, r->update_cosine); t.update_blowup_frac = stored(r, r->update_blowup_frac);
        t.bits_per_elem_m = stored(r, r->bits_per_elem_m); t.bits_per_elem_v = stored(r, r->bits_per_elem_v);
    }
    int k = snprintf(buf, n, "%s\t%s\t%lld\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g\t%.0f\t%.0f\t%.0f",
                     prefix, t.name, (long long)t.numel, t.m_rel_l2, t.v_rel_l2, t.v_zero_collapse, t.update_rel_l2,
                     t.update_cosine, t.update_blowup_frac, t.bits_per_elem_m, t.bits_per_elem_v,
                     t.v_solo[0], t.v_solo[1], t.v_solo[2]);
    if (k < 0 || (size_t)k >= n) return k;
    int z = lbq_zero_row_tsv(buf + k, n - (size_t)k, &t.zs);      /* structural-zero split */
    if (z < 0 || (size_t)(k + z) >= n) return k + z;
    return k + z + snprintf(buf + k + z, n - (size_t)(k + z), "\n");
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

void lbq_param_row_from_json(struct lbq_param_row *r, const cJSON *o)
{
    memset(r, 0, sizeof *r);
    const cJSON *name = cJSON_GetObjectItem(o, "name"), *kept = cJSON_GetObjectItem(o, "kept_fp32");
    const cJSON *mp = cJSON_GetObjectItem(o, "m_plan"), *vp = cJSON_GetObjectItem(o, "v_plan");
    snprintf(r->name, sizeof r->name, "%s", cJSON_IsString(name) ? name->valuestring : "?");
    r->numel = (long long)jnum(o, "numel");
    r->kept_fp32 = cJSON_IsTrue(kept);
    snprintf(r->m_plan, sizeof r->m_plan, "%s", cJSON_IsString(mp) ? mp->valuestring : "");
    snprintf(r->v_plan, sizeof r->v_plan, "%s", cJSON_IsString(vp) ? vp->valuestring : "");
    r->m_rel_l2 = jnum(o, "m_rel_l2"); r->v_rel_l2 = jnum(o, "v_rel_l2");
    r->v_zero_collapse = jnum(o, "v_zero_collapse");
    r->update_rel_l2 = jnum(o, "update_rel_l2"); r->update_cosine = jnum(o, "update_cosine");
    r->update_blowup_frac = jnum(o, "update_blowup_frac");
    r->bits_per_elem_m = jnum(o, "bits_per_elem_m"); r->bits_per_elem_v = jnum(o, "bits_per_elem_v");
    for (int k = 0; k < 3; k++) r->v_solo[k] = jnum(o, lbq_solo_row_keys[k]);
    lbq_zero_row_from_json(&r->zs, o);
    r->stored = 1;
}

void lbq_total_row_from_json(struct lbq_param_row *r, const cJSON *tj, int has_m, int has_v)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "TOTAL");
    r->numel = (long long)jnum(tj, "numel");
    r->m_rel_l2 = has_m ? jnum(cJSON_GetObjectItem(tj, "m"), "rel_l2") : NAN;
    r->v_rel_l2 = has_v ? jnum(cJSON_GetObjectItem(tj, "v"), "rel_l2") : NAN;
    r->v_zero_collapse = jnum(cJSON_GetObjectItem(tj, "v"), "zero_collapse");
    r->update_rel_l2 = jnum(cJSON_GetObjectItem(tj, "update"), "rel_l2");
    r->update_cosine = jnum(cJSON_GetObjectItem(tj, "update"), "cosine");
    r->update_blowup_frac = jnum(cJSON_GetObjectItem(tj, "update"), "blowup_frac");
    r->bits_per_elem_m = jnum(tj, "bits_per_elem_m");
    r->bits_per_elem_v = jnum(tj, "bits_per_elem_v");
    static const char *const sk[3] = { "all_zero", "max_below_1e-12", "zero_quantile" };
    for (int k = 0; k < 3; k++) r->v_solo[k] = jnum(cJSON_GetObjectItem(cJSON_GetObjectItem(tj, "v"), "solo_edge_blocks"), sk[k]);
    lbq_zero_row_from_totals(&r->zs, tj);
    r->stored = 1;
}

/* ---- structural-zero split (docs/metrics.md "Zeros: kept, lifted, collapsed") ------------------ */
cJSON *lbq_zero_split_json(const struct lbq_state_acc *s, const struct lbq_update_acc *u)
{
    struct lbq_zero_split z;
    lbq_zero_split_of(s, u, &z);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "zeros", (double)z.zeros);
    cJSON_AddNumberToObject(o, "kept", (double)z.kept);
    cJSON_AddNumberToObject(o, "lifted", (double)z.lifted);
    cJSON_AddNumberToObject(o, "nonzero", (double)z.nonzero);
    cJSON_AddNumberToObject(o, "collapsed", (double)z.collapsed);
    lbq_json_add_num(o, "collapsed_frac", z.collapsed_frac);
    lbq_json_add_num(o, "lifted_uh_share", z.lifted_uh_share);
    lbq_json_add_num(o, "lifted_err_share", z.lifted_err_share);
    return o;
}

const char *const lbq_zero_row_keys[8] = {
    "m_zero_kept", "m_zero_lifted", "m_nonzero_collapsed", "m_lifted_uh_share",
    "v_zero_kept", "v_zero_lifted", "v_nonzero_collapsed", "v_lifted_uh_share",
};

void lbq_zero_row_fill(struct lbq_zero_row *z, const struct lbq_acc *a)
{
    const struct lbq_state_acc *S[2] = { &a->m, &a->v };
    for (int s = 0; s < 2; s++) {
        struct lbq_zero_split x;
        lbq_zero_split_of(S[s], &a->u, &x);
        z->kept[s] = (double)x.kept;
        z->lifted[s] = (double)x.lifted;
        z->collapsed[s] = (double)x.collapsed;
        z->lifted_uh_share[s] = x.lifted_uh_share;
    }
}

void lbq_zero_row_json(cJSON *o, const struct lbq_zero_row *z)
{
    for (int s = 0; s < 2; s++) {
        lbq_json_add_num(o, lbq_zero_row_keys[4 * s + 0], z->kept[s]);
        lbq_json_add_num(o, lbq_zero_row_keys[4 * s + 1], z->lifted[s]);
        lbq_json_add_num(o, lbq_zero_row_keys[4 * s + 2], z->collapsed[s]);
        lbq_json_add_num(o, lbq_zero_row_keys[4 * s + 3], z->lifted_uh_share[s]);
    }
}

void lbq_zero_row_from_json(struct lbq_zero_row *z, const cJSON *o)
{
    for (int s = 0; s < 2; s++) {           /* absent (a results.json of schema 2): NaN */
        z->kept[s] = jnum(o, lbq_zero_row_keys[4 * s + 0]);
        z->lifted[s] = jnum(o, lbq_zero_row_keys[4 * s + 1]);
        z->collapsed[s] = jnum(o, lbq_zero_row_keys[4 * s + 2]);
        z->lifted_uh_share[s] = jnum(o, lbq_zero_row_keys[4 * s + 3]);
    }
}

void lbq_zero_row_from_totals(struct lbq_zero_row *z, const cJSON *totals)
{
    static const char *const st[2] = { "m", "v" };
    for (int s = 0; s < 2; s++) {
        const cJSON *zs = cJSON_GetObjectItem(cJSON_GetObjectItem(totals, st[s]), "zero_split");
        z->kept[s] = jnum(zs, "kept");
        z->lifted[s] = jnum(zs, "lifted");
        z->collapsed[s] = jnum(zs, "collapsed");
        z->lifted_uh_share[s] = jnum(zs, "lifted_uh_share");
    }
}

int lbq_zero_row_tsv(char *buf, size_t n, const struct lbq_zero_row *z)
{
    return snprintf(buf, n, "\t%.0f\t%.0f\t%.0f\t%.6g\t%.0f\t%.0f\t%.0f\t%.6g",
                    z->kept[0], z->lifted[0], z->collapsed[0], z->lifted_uh_share[0],
                    z->kept[1], z->lifted[1], z->collapsed[1], z->lifted_uh_share[1]);
}
