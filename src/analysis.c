/* analysis.c - aggregates of per-tensor metrics (pooled, element-weighted mean, median, worst), and
 * the result object of `lbq analyze` with its one JSON renderer (docs/metrics.md "Aggregates over
 * tensors", docs/schema.md lbq.analyze/3).  Memory: one compact row per parameter; evaluations are
 * merged into running totals and their JSON is streamed to the output as they arrive. */
#include "lbq-impl.h"
#include "lbq-analysis.h"

const char *const lbq_met_key[LBQ_NMET] = { "m_rel_l2", "v_rel_l2", "v_zero_collapse", "update_rel_l2",
    "update_cosine", "update_blowup_frac", "bits_per_elem_m", "bits_per_elem_v" };
const char *const lbq_agg_key[LBQ_NAGG] = { "pooled", "weighted_mean", "median", "worst" };
const char *const lbq_agg_label[LBQ_NAGG] = { "pooled over elements", "element-weighted mean of tensors",
    "median of tensors", "worst tensor" };

/* ---- per-tensor values ------------------------------------------------------------------------ */
static void values(const struct lbq_acc *a, double bm, double bv, int has_m, int has_v, double *val)
{
    struct lbq_state_res mr, vr;
    struct lbq_update_res ur;
    lbq_state_result(&a->m, &mr);
    lbq_state_result(&a->v, &vr);
    lbq_update_result(&a->u, &ur);
    val[LBQ_MET_M_REL_L2] = has_m ? mr.rel_l2 : NAN;
    val[LBQ_MET_V_REL_L2] = has_v ? vr.rel_l2 : NAN;
    val[LBQ_MET_V_ZERO_COLLAPSE] = vr.zero_collapse;
    val[LBQ_MET_UPDATE_REL_L2] = ur.rel_l2;
    val[LBQ_MET_UPDATE_COSINE] = ur.cosine;
    val[LBQ_MET_UPDATE_BLOWUP] = ur.blowup_frac;
    val[LBQ_MET_BITS_M] = bm;
    val[LBQ_MET_BITS_V] = bv;
}

void lbq_trow_from_eval(struct lbq_trow *r, int index, int64_t numel, const struct lbq_param_eval *e, int has_m, int has_v)
{
    memset(r, 0, sizeof *r);
    r->index = index;
    r->kept_fp32 = (int8_t)(e->kept_fp32 != 0);
    r->numel = numel;
    values(&e->acc, e->m_size.bits_per_elem, e->v_size.bits_per_elem, has_m, has_v, r->val);
    for (int k = 0; k < 3; k++) r->v_solo[k] = e->acc.v.solo[k + 1];
}

void lbq_trow_from_param_row(struct lbq_trow *r, int index, const struct lbq_param_row *p)
{
    memset(r, 0, sizeof *r);
    r->index = index;
    r->kept_fp32 = (int8_t)(p->kept_fp32 != 0);
    r->numel = p->numel;
    r->val[LBQ_MET_M_REL_L2] = p->m_rel_l2;
    r->val[LBQ_MET_V_REL_L2] = p->v_rel_l2;
    r->val[LBQ_MET_V_ZERO_COLLAPSE] = p->v_zero_collapse;
    r->val[LBQ_MET_UPDATE_REL_L2] = p->update_rel_l2;
    r->val[LBQ_MET_UPDATE_COSINE] = p->update_cosine;
    r->val[LBQ_MET_UPDATE_BLOWUP] = p->update_blowup_frac;
    r->val[LBQ_MET_BITS_M] = p->bits_per_elem_m;
    r->val[LBQ_MET_BITS_V] = p->bits_per_elem_v;
    for (int k = 0; k < 3; k++) r->v_solo[k] = (int64_t)p->v_solo[k];
}

void lbq_pooled_values(const struct lbq_acc *a, double bpe_m, double bpe_v, int has_m, int has_v, double val[LBQ_NMET])
{
    values(a, bpe_m, bpe_v, has_m, has_v, val);
}

/* ---- aggregates --------------------------------------------------------------------------------- */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int lbq_aggregate(const struct lbq_trow *rows, int n, int group, const double *pooled, struct lbq_agg out[LBQ_NMET])
{
    double *tmp = malloc(sizeof *tmp * (size_t)(n > 0 ? n : 1));
    if (!tmp) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    for (int k = 0; k < LBQ_NMET; k++) {
        struct lbq_agg *g = &out[k];
        int m = 0, lower_is_worse = k == LBQ_MET_UPDATE_COSINE;
        double sw = 0, swx = 0, wv = NAN;
        g->worst = -1;
        for (int i = 0; i < n; i++) {
            const struct lbq_trow *r = &rows[i];
            double x = r->val[k];
            if ((group >= 0 && r->group != group) || !isfinite(x)) continue;
            tmp[m++] = x;
            sw += (double)r->numel;
            swx += (double)r->numel * x;
            /* strictly worse by more than 1e-12 relative: values that differ only in the last bits (the
             * CPU and device engines sum in different orders) are a tie, which the earlier tensor wins */
            double tol = 1e-12 * fabs(wv);
            if (g->worst < 0 || (lower_is_worse ? x < wv - tol : x > wv + tol)) { wv = x; g->worst = r->index; }
        }
        qsort(tmp, (size_t)m, sizeof *tmp, cmp_double);
        g->n = m;
        g->all_equal = m > 1 && tmp[m - 1] - tmp[0] <= 1e-12 * fmax(fabs(tmp[0]), fabs(tmp[m - 1]));
        g->v[LBQ_AGG_POOLED] = pooled ? pooled[k] : NAN;
        g->v[LBQ_AGG_WMEAN] = m && sw > 0 ? swx / sw : NAN;
        g->v[LBQ_AGG_MEDIAN] = m == 0 ? NAN : (m & 1) ? tmp[m / 2] : 0.5 * (tmp[m / 2 - 1] + tmp[m / 2]);
        g->v[LBQ_AGG_WORST] = m ? wv : NAN;
    }
    free(tmp);
    return LBQ_OK;
}

const char *lbq_file_param_name(const void *f, int index)
{
    return lbq_file_param((const struct lbq_file *)f, index)->name;
}

cJSON *lbq_aggregates_json(const struct lbq_agg agg[LBQ_NMET], lbq_name_fn name, const void *ud)
{
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; k < LBQ_NMET; k++) {
        cJSON *m = cJSON_AddObjectToObject(o, lbq_met_key[k]);
        for (int s = 0; s < LBQ_NAGG; s++) lbq_json_add_num(m, lbq_agg_key[s], agg[k].v[s]);
        if (agg[k].worst >= 0 && name) cJSON_AddStringToObject(m, "worst_param", name(ud, agg[k].worst));
        else cJSON_AddNullToObject(m, "worst_param");
        cJSON_AddNumberToObject(m, "tensors", agg[k].n);
    }
    return o;
}

/* ---- pooled sums without histograms ------------------------------------------------------------ */
void lbq_pool_add(struct lbq_pool *p, const struct lbq_acc *a, double numel, double bpe_m, double bpe_v)
{
    p->m_err += a->m.sum_sq_err; p->m_sq += a->m.sum_sq;
    p->v_err += a->v.sum_sq_err; p->v_sq += a->v.sum_sq;
    p->v_pos += a->v.pos; p->v_p2z += a->v.pos_to_zero;
    p->u_diff += a->u.sum_sq_diff; p->u_sq += a->u.sum_sq_u; p->u_sqh += a->u.sum_sq_uh; p->u_dot += a->u.sum_dot;
    p->u_n += a->u.n; p->u_blow += a->u.blowup;
    p->elems += numel; p->bits_m += bpe_m * numel; p->bits_v += bpe_v * numel;
    for (int k = 0; k < 3; k++) p->v_solo[k] += a->v.solo[k + 1];
}

void lbq_pool_values(const struct lbq_pool *p, int has_m, int has_v, double val[LBQ_NMET])
{
    static const struct lbq_acc zero;
    struct lbq_acc *a = malloc(sizeof *a);      /* the same formulas as on merged accumulators */
    if (!a) { for (int k = 0; k < LBQ_NMET; k++) val[k] = NAN; return; }
    *a = zero;
    a->m.sum_sq_err = p->m_err; a->m.sum_sq = p->m_sq;
    a->v.sum_sq_err = p->v_err; a->v.sum_sq = p->v_sq;
    a->v.pos = p->v_pos; a->v.pos_to_zero = p->v_p2z;
    a->u.sum_sq_diff = p->u_diff; a->u.sum_sq_u = p->u_sq; a->u.sum_sq_uh = p->u_sqh; a->u.sum_dot = p->u_dot;
    a->u.n = p->u_n; a->u.blowup = p->u_blow;
    values(a, p->elems > 0 ? p->bits_m / p->elems : NAN, p->elems > 0 ? p->bits_v / p->elems : NAN, has_m, has_v, val);
    free(a);
}

/* ---- sweep: one configuration's aggregates -------------------------------------------------------- */
static void agg_row(struct lbq_param_row *r, const char *name, int64_t numel, const struct lbq_agg *agg, int stat, const int64_t *solo)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->numel = numel;
    double *dst[LBQ_NMET] = { &r->m_rel_l2, &r->v_rel_l2, &r->v_zero_collapse, &r->update_rel_l2, &r->update_cosine,
                              &r->update_blowup_frac, &r->bits_per_elem_m, &r->bits_per_elem_v };
    for (int k = 0; k < LBQ_NMET; k++) *dst[k] = agg[k].v[stat];
    for (int k = 0; k < 3; k++) r->v_solo[k] = (double)solo[k];
}

int lbq_conf_aggregates(int n, lbq_row_get_fn get, void *ud, const int *group_of, const struct lbq_groups *g,
                        const struct lbq_pool *gpool, const double *pooled, int64_t total_numel,
                        cJSON *conf_obj, struct lbq_param_row *tsv, int *ntsv)
{
    int rc = LBQ_OK, ng = g ? lbq_groups_count(g) : 0, nt = 0;
    struct lbq_trow *tr = malloc(sizeof *tr * (size_t)(n > 0 ? n : 1));
    struct lbq_param_row *row = malloc(sizeof *row);
    struct lbq_agg agg[LBQ_NMET];
    int64_t solo[3] = { 0, 0, 0 };
    int has_m = 0, has_v = 0;
    if (ntsv) *ntsv = 0;
    if (!tr || !row) { free(tr); free(row); return lbq_err(LBQ_ERR_NOMEM, "out of memory"); }
    for (int k = 0; k < n && !rc; k++) {
        if ((rc = get(ud, k, row))) break;
        lbq_trow_from_param_row(&tr[k], k, row);
        tr[k].group = (int16_t)(group_of ? group_of[k] : 0);
        for (int j = 0; j < 3; j++) solo[j] += tr[k].v_solo[j];
        has_m |= !isnan(row->m_rel_l2);
        has_v |= !isnan(row->v_rel_l2);
    }
    /* worst tensors are named through the getter: one name at a time */
    #define NAMED_JSON(dst, A) do { \
        cJSON *j_ = lbq_aggregates_json((A), NULL, NULL); \
        for (int k_ = 0; k_ < LBQ_NMET && j_; k_++) if ((A)[k_].worst >= 0 && !get(ud, (A)[k_].worst, row)) { \
            cJSON *m_ = cJSON_GetObjectItemCaseSensitive(j_, lbq_met_key[k_]); \
            cJSON_ReplaceItemInObjectCaseSensitive(m_, "worst_param", cJSON_CreateString(row->name)); } \
        (dst) = j_; } while (0)
    if (!rc) rc = lbq_aggregate(tr, n, -1, pooled, agg);
    if (!rc) {
        cJSON *j;
        NAMED_JSON(j, agg);
        cJSON_AddItemToObject(conf_obj, "aggregates", j);
        for (int s = 1; s < LBQ_NAGG && tsv; s++) {
            char nm[64];
            snprintf(nm, sizeof nm, "TOTAL:%s", lbq_agg_key[s]);
            agg_row(&tsv[nt++], nm, total_numel, agg, s, solo);
        }
    }
    cJSON *ga = rc ? NULL : cJSON_AddArrayToObject(conf_obj, "groups");
    for (int gi = 0; gi < ng && !rc; gi++) {
        int cnt = 0;
        for (int k = 0; k < n; k++) cnt += tr[k].group == gi;
        if (!cnt) continue;
        double pv[LBQ_NMET];
        lbq_pool_values(&gpool[gi], has_m, has_v, pv);
        if ((rc = lbq_aggregate(tr, n, gi, pv, agg))) break;
        cJSON *go = cJSON_CreateObject(), *j;
        cJSON_AddStringToObject(go, "name", lbq_groups_name(g, gi));
        cJSON_AddNumberToObject(go, "tensors", cnt);
        cJSON_AddNumberToObject(go, "numel", gpool[gi].elems);
        NAMED_JSON(j, agg);
        cJSON_AddItemToObject(go, "aggregates", j);
        cJSON_AddItemToArray(ga, go);
        for (int s = 0; s < LBQ_NAGG && tsv; s++) {
            char nm[96];
            snprintf(nm, sizeof nm, "GROUP:%s:%s", lbq_groups_name(g, gi), lbq_agg_key[s]);
            agg_row(&tsv[nt++], nm, (int64_t)gpool[gi].elems, agg, s, gpool[gi].v_solo);
        }
    }
    #undef NAMED_JSON
    free(tr);
    free(row);
    if (ntsv) *ntsv = nt;
    return rc;
}

/* ---- the analysis object ------------------------------------------------------------------------ */
/* Printed JSON, pieces of one document: cJSON_Print of an object at depth 0, re-indented by `depth`
 * tabs, so that the streamed document is byte for byte what printing the whole tree would give. */
static int out_json(struct lbq_analysis *a, const char *s, int depth)
{
    size_t need = lbq_name_escape(s, NULL, 0, LBQ_ESC_JSON), nl = 0;
    for (const char *p = s; *p; p++) nl += *p == '\n';
    char *e = malloc(need + nl * (size_t)depth + 1);
    if (!e) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    char *t = e;
    if (need != strlen(s)) {
        char *x = malloc(need + 1);
        if (!x) { free(e); return lbq_err(LBQ_ERR_NOMEM, "out of memory"); }
        lbq_name_escape(s, x, need + 1, LBQ_ESC_JSON);
        for (const char *p = x; *p; p++) { *t++ = *p; if (*p == '\n') for (int d = 0; d < depth; d++) *t++ = '\t'; }
        free(x);
    } else {
        for (const char *p = s; *p; p++) { *t++ = *p; if (*p == '\n') for (int d = 0; d < depth; d++) *t++ = '\t'; }
    }
    int rc = lbq_out_write(a->out, e, (size_t)(t - e));
    free(e);
    return rc;
}

static cJSON *config_json(const struct lbq_analysis_info *in)
{
    const struct lbq_config *conf = in->conf;
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "label", conf->label);
    cJSON_AddStringToObject(c, "m", in->plan ? "plan" : conf->has_m ? conf->m.text : "fp32");
    cJSON_AddStringToObject(c, "v", in->plan ? "plan" : conf->has_v ? conf->v.text : "fp32");
    if (in->plan) cJSON_AddStringToObject(c, "plan", in->plan);
    if (conf->recipe) cJSON_AddStringToObject(c, "recipe", conf->recipe->name); else cJSON_AddNullToObject(c, "recipe");
    cJSON_AddBoolToObject(c, "quantize_all", conf->quantize_all);
    cJSON_AddStringToObject(c, "device", in->device);
    cJSON_AddNumberToObject(c, "outlier_k", in->outlier_k);
    cJSON *cc = cJSON_AddObjectToObject(c, "codebook_cpu");    /* torch CPU kernel of the codebooks */
    if (conf->has_m && conf->m.map->build) cJSON_AddStringToObject(cc, "m", lbq_cpu_name(conf->m.cpu)); else cJSON_AddNullToObject(cc, "m");
    if (conf->has_v && conf->v.map->build) cJSON_AddStringToObject(cc, "v", lbq_cpu_name(conf->v.cpu)); else cJSON_AddNullToObject(cc, "v");
    return c;
}

int lbq_analysis_begin(struct lbq_analysis *a, const struct lbq_file *f, const struct lbq_groups *groups,
                       double nparams_x, const char *json_path, const struct lbq_analysis_info *info)
{
    memset(a, 0, sizeof *a);
    a->f = f;
    a->groups = groups;
    a->np = lbq_file_nparams(f);
    a->nparams_x = nparams_x;
    for (int k = 0; k < 3; k++) a->worst[k] = -1;
    lbq_acc_zero(&a->tot);
    a->ngroups = groups ? lbq_groups_count(groups) : 1;
    a->rows = calloc((size_t)(a->np > 0 ? a->np : 1), sizeof *a->rows);
    a->grp = calloc((size_t)a->ngroups, sizeof *a->grp);
    if (!a->rows || !a->grp) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    for (int g = 0; g < a->ngroups; g++) lbq_acc_zero(&a->grp[g].tot);
    if (!json_path) return LBQ_OK;
    int rc = lbq_out_open(json_path, &a->out);
    if (rc) return rc;
    /* the header: the document up to the opening bracket of "params" */
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "schema", "lbq.analyze");
    cJSON_AddNumberToObject(root, "schema_version", 3);
    cJSON_AddStringToObject(root, "lbq_version", LBQ_VERSION_STRING);
    cJSON_AddStringToObject(root, "file", lbq_file_path(f));
    cJSON_AddItemToObject(root, "hparams", lbq_hparams_json(f));
    cJSON_AddItemToObject(root, "config", config_json(info));
    cJSON_AddArrayToObject(root, "params");
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    if (!s) return lbq_err(LBQ_ERR_NOMEM, "out of memory printing JSON");
    char *br = strstr(s, "\t\"params\":\t[]\n}");
    if (!br) { free(s); return lbq_err(LBQ_ERR_NOMEM, "internal: unexpected JSON layout"); }
    br[strlen("\t\"params\":\t[")] = 0;
    rc = out_json(a, s, 0);
    free(s);
    return rc;
}

int lbq_analysis_add(struct lbq_analysis *a, int i, const struct lbq_param_eval *e)
{
    if (i < 0 || i >= a->np || a->done) return lbq_err(LBQ_ERR_ARG, "internal: analysis: parameter %d out of order", i);
    const struct lbq_param_info *pi = lbq_file_param(a->f, i);
    struct lbq_trow *r = &a->rows[a->nrows];
    lbq_trow_from_eval(r, i, pi->shape.numel, e, 1, 1);
    r->group = (int16_t)(a->groups ? lbq_groups_classify(a->groups, pi->name, &pi->shape) : 0);
    /* totals: in parameter order (floating-point sums) */
    double n = (double)pi->shape.numel;
    lbq_acc_merge(&a->tot, &e->acc);
    a->nonfinite += e->acc.m.nonfinite;
    a->elems += n;
    a->bits_m += e->m_size.bits_per_elem * n;
    a->bits_v += e->v_size.bits_per_elem * n;
    struct lbq_group_res *g = &a->grp[r->group];
    lbq_acc_merge(&g->tot, &e->acc);
    g->ntensors++;
    g->elems += n;
    g->bits_m += e->m_size.bits_per_elem * n;
    g->bits_v += e->v_size.bits_per_elem * n;
    if (a->out) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", pi->name);
        cJSON *sa = cJSON_AddArrayToObject(o, "shape");
        for (int d = 0; d < pi->shape.rank; d++) cJSON_AddItemToArray(sa, cJSON_CreateNumber((double)pi->shape.dim[d]));
        cJSON_AddNumberToObject(o, "numel", (double)pi->shape.numel);
        cJSON_AddBoolToObject(o, "kept_fp32", e->kept_fp32);
        cJSON_AddStringToObject(o, "m_plan", e->m_plan);
        cJSON_AddStringToObject(o, "v_plan", e->v_plan);
        cJSON_AddStringToObject(o, "group", a->groups ? lbq_groups_name(a->groups, r->group) : "all");
        cJSON *mets = lbq_acc_json(&e->acc, &e->m_size, &e->v_size, 1);
        cJSON *it = mets->child;
        while (it) { cJSON *nx = it->next; cJSON_AddItemToObject(o, it->string, cJSON_DetachItemViaPointer(mets, it)); it = nx; }
        cJSON_Delete(mets);
        if (a->row_ci) { cJSON_AddItemToObject(o, "ci", a->row_ci); a->row_ci = NULL; }
        char *s = cJSON_Print(o);
        cJSON_Delete(o);
        if (!s) return lbq_err(LBQ_ERR_NOMEM, "out of memory printing JSON");
        int rc = a->nrows ? lbq_out_write(a->out, ", ", 2) : LBQ_OK;
        if (!rc) rc = out_json(a, s, 2);
        free(s);
        if (rc) return rc;
    }
    cJSON_Delete(a->row_ci);     /* not taken: no JSON output */
    a->row_ci = NULL;
    a->nrows++;
    return LBQ_OK;
}

int lbq_analysis_end(struct lbq_analysis *a)
{
    int rc;
    a->done = 1;
    a->bpe_m = a->elems > 0 ? a->bits_m / a->elems : 0;
    a->bpe_v = a->elems > 0 ? a->bits_v / a->elems : 0;
    /* worst offenders: the three largest update errors (the earlier parameter on a tie) */
    for (int i = 0; i < a->nrows; i++) {
        double u = a->rows[i].val[LBQ_MET_UPDATE_REL_L2];
        for (int k = 0; k < 3; k++) {
            if (a->worst[k] < 0 || u > a->rows[a->worst[k]].val[LBQ_MET_UPDATE_REL_L2]) {
                for (int j = 2; j > k; j--) a->worst[j] = a->worst[j - 1];
                a->worst[k] = i;
                break;
            }
        }
    }
    for (int k = 0; k < 3; k++) if (a->worst[k] >= 0) a->worst[k] = a->rows[a->worst[k]].index;
    a->fp32_bytes = a->elems * 8.0;
    a->q_bytes = (a->bits_m + a->bits_v) / 8.0;
    if (a->nparams_x > 0) {
        a->x_fp32_gb = a->nparams_x * 8.0 / 1e9;
        a->x_quantized_gb = a->nparams_x * (a->bpe_m + a->bpe_v) / 8.0 / 1e9;
        a->x_saved_gb = a->nparams_x * (8.0 - (a->bpe_m + a->bpe_v) / 8.0) / 1e9;
    }
    lbq_pooled_values(&a->tot, a->bpe_m, a->bpe_v, 1, 1, a->pooled);
    if ((rc = lbq_aggregate(a->rows, a->nrows, -1, a->pooled, a->agg))) return rc;
    for (int g = 0; g < a->ngroups; g++) {
        struct lbq_group_res *gr = &a->grp[g];
        double pv[LBQ_NMET];
        lbq_pooled_values(&gr->tot, gr->elems > 0 ? gr->bits_m / gr->elems : NAN, gr->elems > 0 ? gr->bits_v / gr->elems : NAN, 1, 1, pv);
        if ((rc = lbq_aggregate(a->rows, a->nrows, g, gr->ntensors ? pv : NULL, gr->agg))) return rc;
    }
    if (!a->out) return LBQ_OK;
    /* the tail: after "params", the rest of the document */
    cJSON *root = cJSON_CreateObject();
    cJSON *t = lbq_acc_json(&a->tot, NULL, NULL, 1);
    cJSON_AddNumberToObject(t, "numel", a->elems);
    lbq_json_add_num(t, "bits_per_elem_m", a->bpe_m);
    lbq_json_add_num(t, "bits_per_elem_v", a->bpe_v);
    if (a->totals_ci) { cJSON_AddItemToObject(t, "ci", a->totals_ci); a->totals_ci = NULL; }
    cJSON_AddItemToObject(root, "totals", t);
    if (a->sample) { cJSON_AddItemToObject(root, "sample", a->sample); a->sample = NULL; }
    cJSON_AddStringToObject(root, "ranking_statistic", lbq_agg_key[LBQ_AGG_RANK]);
    cJSON_AddItemToObject(root, "aggregates", lbq_aggregates_json(a->agg, lbq_file_param_name, a->f));
    cJSON *ga = cJSON_AddArrayToObject(root, "groups");
    for (int g = 0; g < a->ngroups; g++) {
        if (!a->grp[g].ntensors) continue;
        cJSON *go = cJSON_CreateObject();
        cJSON_AddStringToObject(go, "name", a->groups ? lbq_groups_name(a->groups, g) : "all");
        cJSON_AddNumberToObject(go, "tensors", a->grp[g].ntensors);
        cJSON_AddNumberToObject(go, "numel", a->grp[g].elems);
        cJSON_AddItemToObject(go, "aggregates", lbq_aggregates_json(a->grp[g].agg, lbq_file_param_name, a->f));
        cJSON_AddItemToArray(ga, go);
    }
    cJSON *mem_o = cJSON_AddObjectToObject(root, "memory");
    cJSON_AddNumberToObject(mem_o, "fp32_bytes", a->fp32_bytes);
    cJSON_AddNumberToObject(mem_o, "quantized_bytes", a->q_bytes);
    if (a->nparams_x > 0) {
        cJSON_AddNumberToObject(mem_o, "extrapolate_params", a->nparams_x);
        cJSON_AddNumberToObject(mem_o, "extrapolate_fp32_gb", a->x_fp32_gb);
        cJSON_AddNumberToObject(mem_o, "extrapolate_quantized_gb", a->x_quantized_gb);
    }
    cJSON_AddNumberToObject(root, "nonfinite_excluded", (double)a->nonfinite);
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    if (!s) return lbq_err(LBQ_ERR_NOMEM, "out of memory printing JSON");
    /* "{\n\t\"totals\"..." -> "],\n\t\"totals\"...}\n" */
    rc = lbq_out_write(a->out, "],\n", 3);
    if (!rc) rc = out_json(a, s + 2, 0);
    if (!rc) rc = lbq_out_write(a->out, "\n", 1);
    free(s);
    if (!rc) { rc = lbq_out_commit(a->out); a->out = NULL; }
    return rc;
}

void lbq_analysis_free(struct lbq_analysis *a)
{
    cJSON_Delete(a->row_ci); cJSON_Delete(a->totals_ci); cJSON_Delete(a->sample);
    a->row_ci = a->totals_ci = a->sample = NULL;
    lbq_out_abort(a->out);
    a->out = NULL;
    free(a->rows);
    free(a->grp);
    a->rows = NULL;
    a->grp = NULL;
}
