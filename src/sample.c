/* sample.c - sampled evaluation: the stratified sample of whole blocks, the weighted replicate
 * accumulators and the jackknife intervals (docs/metrics.md "Sampled evaluation"). */
#include "lbq-impl.h"
#include "lbq-metrics.h"
#include "lbq-sample.h"
#include "lbq-report.h"

#include <ctype.h>

#define G LBQ_SAMPLE_GROUPS

int lbq_sample_parse(const char *s, double *frac)
{
    char *end = NULL;
    if (!s || !*s) return lbq_err(LBQ_ERR_ARG, "--sample: empty value");
    double v = strtod(s, &end);
    if (end == s) return lbq_err(LBQ_ERR_ARG, "--sample: '%s' is not a fraction (e.g. 0.05 or 5%%)", s);
    if (*end == '%' && end[1] == 0) v /= 100.0;
    else if (*end) return lbq_err(LBQ_ERR_ARG, "--sample: '%s' is not a fraction (e.g. 0.05 or 5%%)", s);
    if (!(v > 0.0 && v <= 1.0)) return lbq_err(LBQ_ERR_ARG, "--sample: '%s' is outside (0, 1] (0%% < F <= 100%%)", s);
    *frac = v;
    return LBQ_OK;
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
/* uniform in [0, r), r >= 1 (Lemire's multiply-shift: the bias is below r / 2^64) */
static uint64_t urange(uint64_t *x, uint64_t r) { return (uint64_t)(((unsigned __int128)splitmix64(x) * r) >> 64); }

void lbq_sample_sel_free(struct lbq_sample_sel *s)
{
    free(s->unit_in); free(s->cell_slot);
    memset(s, 0, sizeof *s);
}

int lbq_sample_select(const struct lbq_sample_opts *o, const char *name, int64_t numel, int64_t unit, int64_t cell,
                      struct lbq_sample_sel *s)
{
    memset(s, 0, sizeof *s);
    if (!(o->frac > 0.0 && o->frac <= 1.0) || unit <= 0 || cell <= 0 || cell % unit || numel < 0)
        return lbq_err(LBQ_ERR_ARG, "lbq_sample_select: bad arguments");
    s->unit = unit; s->cell = cell;
    s->nunits = (numel + unit - 1) / unit;
    s->ncells = (numel + cell - 1) / cell;
    s->unit_in = calloc((size_t)(s->nunits ? s->nunits : 1), 1);
    s->cell_slot = malloc((size_t)(s->ncells ? s->ncells : 1));
    if (!s->unit_in || !s->cell_slot) { lbq_sample_sel_free(s); return lbq_err(LBQ_ERR_NOMEM, "out of memory"); }
    /* the stream of this stratum: the seed and the tensor's name (FNV-1a), so a tensor's sample does
     * not depend on which other tensors are evaluated */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)name; p && *p; p++) { h ^= *p; h *= 0x100000001b3ULL; }
    uint64_t st = o->seed * 0x9e3779b97f4a7c15ULL ^ h;
    splitmix64(&st);
    int64_t n = llround(o->frac * (double)s->nunits);
    if (n < LBQ_SAMPLE_MIN_UNITS) n = LBQ_SAMPLE_MIN_UNITS;
    if (n > s->nunits) n = s->nunits;
    s->nsel = n;
    s->weight = n ? (double)s->nunits / (double)n : 1.0;
    /* stratified by position (Deville's systematic sampling): the units are cut into n zones of
     * equal real length N/n (in the scaled coordinate below, unit u is [u*n, (u+1)*n) and zone i is
     * [i*N, (i+1)*N)); each zone draws one unit with probability proportional to its overlap, and a
     * unit straddling the boundary with the previous zone, if that zone took it, is not taken again
     * (the other units of the zone then share the probability; if not, it is taken with probability
     * overlap / (1 - its overlap with the previous zone)).  Every unit has inclusion probability
     * exactly n/N, the sample has exactly n distinct units, and it is spread over the tensor. */
    const int64_t N = s->nunits;
    int64_t prev = -1;
    for (int64_t i = 0; i < n && n < N; i++) {
        const int64_t a0 = i * N, b0 = (i + 1) * N;         /* the zone, scaled by n */
        const int64_t l = a0 / n, a = (a0 + n - 1) / n * n; /* the straddling unit; the first unit boundary >= a0 */
        int64_t u;
        if (a0 % n && prev != l && urange(&st, N - a0 + l * n) < (uint64_t)(a - a0)) u = l;
        else u = (a + (int64_t)urange(&st, (uint64_t)(b0 - a))) / n;
        s->unit_in[u] = 1;
        prev = u;
    }
    if (n == N) memset(s->unit_in, 1, (size_t)N);
    for (int64_t u = 0; u < N; u++)
        if (s->unit_in[u]) s->drawn += (u + 1) * unit <= numel ? unit : numel - u * unit;
    const int whole = n == s->nunits;
    int64_t per = cell / unit, j = (int64_t)(splitmix64(&st) % G);
    for (int64_t c = 0; c < s->ncells; c++) {
        int any = 0;
        for (int64_t u = c * per; u < (c + 1) * per && u < s->nunits; u++) any |= s->unit_in[u];
        s->cell_slot[c] = (int8_t)(!any ? -1 : whole ? G : (int)(j++ % G));
    }
    return LBQ_OK;
}

/* ---- weighted accumulators ------------------------------------------------------------------- */
static int64_t wround(int64_t x, double w) { return x ? (int64_t)llround((double)x * w) : 0; }

static void state_axpy(struct lbq_state_acc *a, const struct lbq_state_acc *b, double w)
{
    a->n += wround(b->n, w); a->nonfinite += wround(b->nonfinite, w);
    a->sum_sq_err += w * b->sum_sq_err; a->sum_sq += w * b->sum_sq;
    a->sum_abs_err += w * b->sum_abs_err; a->sum_abs += w * b->sum_abs;
    if (w > 0 && b->max_abs_err > a->max_abs_err) a->max_abs_err = b->max_abs_err;
    a->zero_in += wround(b->zero_in, w); a->zero_in_moved += wround(b->zero_in_moved, w);
    a->pos += wround(b->pos, w); a->pos_to_zero += wround(b->pos_to_zero, w);
    for (int i = 0; i < LBQ_REL_NBINS; i++) a->rel_hist[i] += wround(b->rel_hist[i], w);
    a->blocks += wround(b->blocks, w); a->outlier_blocks += wround(b->outlier_blocks, w);
    for (int i = 0; i < 4; i++) a->solo[i] += wround(b->solo[i], w);
}

void lbq_acc_axpy(struct lbq_acc *a, const struct lbq_acc *b, double w)
{
    state_axpy(&a->m, &b->m, w);
    state_axpy(&a->v, &b->v, w);
    struct lbq_update_acc *u = &a->u;
    const struct lbq_update_acc *x = &b->u;
    u->n += wround(x->n, w);
    u->sum_sq_u += w * x->sum_sq_u; u->sum_sq_uh += w * x->sum_sq_uh; u->sum_dot += w * x->sum_dot; u->sum_sq_diff += w * x->sum_sq_diff;
    u->blowup += wround(x->blowup, w); u->shrink += wround(x->shrink, w);
    u->sum_abs_u += w * x->sum_abs_u; u->sum_abs_uh += w * x->sum_abs_uh;
    u->collapsed_abs_u += w * x->collapsed_abs_u; u->collapsed_abs_uh += w * x->collapsed_abs_uh;
    for (int i = 0; i < LBQ_H_NBINS; i++) { u->h_exact[i] += wround(x->h_exact[i], w); u->h_quant[i] += wround(x->h_quant[i], w); }
}

/* slot g holds something: drawn elements, or (slot G) the exact value sums of certain_x elements */
static int slot_used(const struct lbq_sample_acc *s, int g)
{
    return s->slot_drawn[g] > 0 || (g == G && s->certain_x > 0);
}

/* the value sums (the raw-state part, lbq_acc_base's fields) of one state, or of the update */
static void state_base_set(struct lbq_state_acc *a, const struct lbq_state_acc *b)
{
    a->n = b->n; a->nonfinite = b->nonfinite; a->sum_sq = b->sum_sq; a->sum_abs = b->sum_abs;
    a->zero_in = b->zero_in; a->pos = b->pos; a->blocks = b->blocks; a->outlier_blocks = b->outlier_blocks;
}
static void update_base_set(struct lbq_update_acc *a, const struct lbq_update_acc *b)
{
    a->n = b->n; a->sum_sq_u = b->sum_sq_u; a->sum_abs_u = b->sum_abs_u;
    memcpy(a->h_exact, b->h_exact, sizeof a->h_exact);
}

void lbq_sample_acc_exact_x(struct lbq_sample_acc *s, int states, const struct lbq_acc *full, int64_t numel)
{
    int any = 0;
    for (int g = 0; g < G; g++) any |= s->slot_drawn[g] > 0;
    if (!any || !(states & 3)) return;     /* taken whole (slot G is exact already), or nothing to do */
    static const struct lbq_acc zero;       /* all fields 0 */
    for (int g = 0; g < G; g++) {
        if (states & 1) state_base_set(&s->g[g].m, &zero.m);
        if (states & 2) state_base_set(&s->g[g].v, &zero.v);
        update_base_set(&s->g[g].u, &zero.u);
    }
    if (states & 1) state_base_set(&s->g[G].m, &full->m);
    if (states & 2) state_base_set(&s->g[G].v, &full->v);
    update_base_set(&s->g[G].u, &full->u);
    s->certain_x = numel;
}

void lbq_sample_acc_zero(struct lbq_sample_acc *s)
{
    for (int g = 0; g <= G; g++) lbq_acc_zero(&s->g[g]);
    s->drawn = s->numel = s->certain_x = 0;
    memset(s->slot_drawn, 0, sizeof s->slot_drawn);
}

void lbq_sample_acc_merge(struct lbq_sample_acc *d, const struct lbq_sample_acc *s)
{
    for (int g = 0; g <= G; g++) if (slot_used(s, g)) lbq_acc_merge(&d->g[g], &s->g[g]);    /* an empty slot is 0 */
    d->drawn += s->drawn; d->numel += s->numel; d->certain_x += s->certain_x;
    for (int g = 0; g <= G; g++) d->slot_drawn[g] += s->slot_drawn[g];
}

void lbq_sample_acc_total(const struct lbq_sample_acc *s, struct lbq_acc *tot)
{
    lbq_acc_zero(tot);
    for (int g = 0; g <= G; g++) if (slot_used(s, g)) lbq_acc_merge(tot, &s->g[g]);
}

/* ---- aggregates and intervals ---------------------------------------------------------------- */
static const char *const state_names[LBQ_SM_NSTATE] = {
    "n", "nonfinite", "rel_l2", "max_abs_err", "rel_mean_abs_err", "rel_err_quantiles.p50",
    "rel_err_quantiles.p90", "rel_err_quantiles.p99", "rel_err_quantiles.p999", "positive", "positive_to_zero",
    "zero_collapse", "zero_inputs", "zero_inputs_moved", "blocks", "outlier_blocks", "outlier_block_frac",
    "solo_edge_blocks.blocks", "solo_edge_blocks.all_zero", "solo_edge_blocks.max_below_1e-12",
    "solo_edge_blocks.zero_quantile",
};
static const char *const update_names[LBQ_SM_COUNT - LBQ_SM_U0] = {
    "n", "rel_l2", "cosine", "blowup_frac", "shrink_frac", "collapse_share", "collapse_share_quant",
};

const char *lbq_sample_metric_name(int k)
{
    static char buf[3][64];     /* not thread-safe: names are for messages and tests */
    static int r;
    if (k < 0 || k >= LBQ_SM_COUNT) return "?";
    char *b = buf[r++ % 3];
    if (k >= LBQ_SM_U0) snprintf(b, 64, "update.%s", update_names[k - LBQ_SM_U0]);
    else snprintf(b, 64, "%s.%s", k >= LBQ_SM_V0 ? "v" : "m", state_names[k % LBQ_SM_NSTATE]);
    return b;
}

/* 0: a count (>= 0), 1: a nonnegative number, 2: a fraction [0, 1], 3: a cosine [-1, 1], 4: a max */
static int metric_kind(int k)
{
    if (k >= LBQ_SM_U0) {
        if (k == LBQ_SM_U_N) return 0;
        if (k == LBQ_SM_U_REL_L2) return 1;
        if (k == LBQ_SM_U_COSINE) return 3;
        return 2;
    }
    switch (k % LBQ_SM_NSTATE) {
    case LBQ_SM_REL_L2: case LBQ_SM_REL_MEAN_ABS_ERR: case LBQ_SM_P50: case LBQ_SM_P90: case LBQ_SM_P99: case LBQ_SM_P999: return 1;
    case LBQ_SM_MAX_ABS_ERR: return 4;
    case LBQ_SM_ZERO_COLLAPSE: case LBQ_SM_OUTLIER_BLOCK_FRAC: return 2;
    default: return 0;
    }
}

static void state_metrics(const struct lbq_state_acc *s, double *v)
{
    struct lbq_state_res r;
    lbq_state_result(s, &r);
    v[LBQ_SM_N] = (double)s->n; v[LBQ_SM_NONFINITE] = (double)s->nonfinite;
    v[LBQ_SM_REL_L2] = r.rel_l2; v[LBQ_SM_MAX_ABS_ERR] = r.max_abs_err; v[LBQ_SM_REL_MEAN_ABS_ERR] = r.rel_mean_abs_err;
    v[LBQ_SM_P50] = r.q50; v[LBQ_SM_P90] = r.q90; v[LBQ_SM_P99] = r.q99; v[LBQ_SM_P999] = r.q999;
    v[LBQ_SM_POSITIVE] = (double)s->pos; v[LBQ_SM_POSITIVE_TO_ZERO] = (double)s->pos_to_zero;
    v[LBQ_SM_ZERO_COLLAPSE] = r.zero_collapse;
    v[LBQ_SM_ZERO_INPUTS] = (double)s->zero_in; v[LBQ_SM_ZERO_INPUTS_MOVED] = (double)s->zero_in_moved;
    v[LBQ_SM_BLOCKS] = (double)s->blocks; v[LBQ_SM_OUTLIER_BLOCKS] = (double)s->outlier_blocks;
    v[LBQ_SM_OUTLIER_BLOCK_FRAC] = r.outlier_block_frac;
    for (int i = 0; i < 4; i++) v[LBQ_SM_SOLO_BLOCKS + i] = (double)s->solo[i];
}

void lbq_sample_metrics(const struct lbq_acc *a, double v[LBQ_SM_COUNT])
{
    state_metrics(&a->m, v + LBQ_SM_M0);
    state_metrics(&a->v, v + LBQ_SM_V0);
    struct lbq_update_res r;
    lbq_update_result(&a->u, &r);
    v[LBQ_SM_U_N] = (double)a->u.n; v[LBQ_SM_U_REL_L2] = r.rel_l2; v[LBQ_SM_U_COSINE] = r.cosine;
    v[LBQ_SM_U_BLOWUP] = r.blowup_frac; v[LBQ_SM_U_SHRINK] = r.shrink_frac;
    v[LBQ_SM_U_COLLAPSE] = r.collapse_share; v[LBQ_SM_U_COLLAPSE_Q] = r.collapse_share_quant;
}

double lbq_t975(int df)
{
    static const double t[20] = { NAN, 12.7062, 4.30265, 3.18245, 2.77645, 2.57058, 2.44691, 2.36462, 2.30600, 2.26216,
                                  2.22814, 2.20099, 2.17881, 2.16037, 2.14479, 2.13145, 2.11991, 2.10982, 2.10092, 2.09302 };
    if (df < 1) return INFINITY;
    return df < 20 ? t[df] : 1.95996 + 2.4 / df;        /* df >= 20 is not used with G = 20 */
}

int lbq_sample_groups_used(const struct lbq_sample_acc *s)
{
    int k = 0;
    for (int g = 0; g < G; g++) k += s->slot_drawn[g] > 0;
    return k;
}

void lbq_sample_ci(const struct lbq_sample_acc *s, double scale, struct lbq_ci ci[LBQ_SM_COUNT])
{
    /* JK1 over the K nonempty random groups: replicate g drops group g and weights the other
     * groups by K/(K-1); the strata taken whole (slot G) are in every replicate with weight 1;
     * se^2 = (K-1)/K sum (theta_g - mean)^2, half-width scale * t(0.975, K-1) * se */
    struct lbq_acc *tot = malloc(sizeof *tot), *rnd = malloc(sizeof *rnd), *rep = malloc(sizeof *rep);
    double est[LBQ_SM_COUNT], (*th)[LBQ_SM_COUNT] = malloc(sizeof(double) * LBQ_SM_COUNT * G);
    if (!tot || !rnd || !rep || !th) {          /* no memory: an interval we cannot compute is unbounded */
        for (int k = 0; k < LBQ_SM_COUNT; k++) { ci[k].est = NAN; ci[k].se = NAN; ci[k].lo = -INFINITY; ci[k].hi = INFINITY; }
        free(tot); free(rnd); free(rep); free(th);
        return;
    }
    lbq_sample_acc_total(s, tot);
    lbq_sample_metrics(tot, est);
    lbq_acc_zero(rnd);
    for (int g = 0; g < G; g++) if (s->slot_drawn[g]) lbq_acc_merge(rnd, &s->g[g]);
    int used[G], K = 0;
    for (int g = 0; g < G; g++) if (s->slot_drawn[g] > 0) used[K++] = g;
    const double w = K > 1 ? (double)K / (double)(K - 1) : 1.0, t = scale * lbq_t975(K - 1);
    for (int j = 0; j < K; j++) {
        int g = used[j];
        lbq_acc_zero(rep);
        lbq_acc_axpy(rep, rnd, w);
        lbq_acc_axpy(rep, &s->g[g], -w);
        if (slot_used(s, G)) lbq_acc_axpy(rep, &s->g[G], 1.0);
        lbq_sample_metrics(rep, th[j]);
    }
    for (int k = 0; k < LBQ_SM_COUNT; k++) {
        double mean = 0, ss = 0;
        int fin = 1;
        for (int j = 0; j < K; j++) { mean += th[j][k]; fin &= isfinite(th[j][k]) != 0; }
        mean /= K > 0 ? K : 1;
        for (int j = 0; j < K; j++) ss += (th[j][k] - mean) * (th[j][k] - mean);
        /* no random group: every stratum was taken whole (se 0); one group: no variance estimate */
        double se = K == 0 ? 0.0 : (fin && K > 1) ? sqrt((double)(K - 1) / K * ss) : INFINITY;
        struct lbq_ci *c = &ci[k];
        c->est = est[k]; c->se = se;
        c->lo = se > 0 ? est[k] - t * se : est[k]; c->hi = se > 0 ? est[k] + t * se : est[k];
        switch (metric_kind(k)) {
        case 0: case 1: if (c->lo < 0) c->lo = 0; break;
        case 2: if (c->lo < 0) c->lo = 0; if (c->hi > 1) c->hi = 1; break;
        case 3: if (c->lo < -1) c->lo = -1; if (c->hi > 1) c->hi = 1; break;
        case 4: c->lo = est[k]; c->hi = INFINITY; c->se = NAN; break;
        }
        if (!isfinite(est[k])) { c->lo = -INFINITY; c->hi = INFINITY; }
    }
    free(tot); free(rnd); free(rep); free(th);
}

cJSON *lbq_sample_ci_json(const struct lbq_ci ci[LBQ_SM_COUNT])
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "level", 0.95);
    const char *grp[3] = { "m", "v", "update" };
    for (int gi = 0; gi < 3; gi++) {
        cJSON *go = cJSON_AddObjectToObject(o, grp[gi]);
        int k0 = gi * LBQ_SM_NSTATE, k1 = gi < 2 ? k0 + LBQ_SM_NSTATE : LBQ_SM_COUNT;
        for (int k = k0; k < k1; k++) {
            const char *nm = gi < 2 ? state_names[k - k0] : update_names[k - k0];
            const char *dot = strchr(nm, '.');
            cJSON *dst = go;
            char sub[64];
            if (dot) {      /* "rel_err_quantiles.p50": a nested object as in the state object */
                snprintf(sub, sizeof sub, "%.*s", (int)(dot - nm), nm);
                dst = cJSON_GetObjectItem(go, sub);
                if (!dst) dst = cJSON_AddObjectToObject(go, sub);
                nm = dot + 1;
            }
            cJSON *a = cJSON_CreateArray();
            cJSON_AddItemToArray(a, lbq_json_num(ci[k].lo));
            cJSON_AddItemToArray(a, lbq_json_num(ci[k].hi));
            cJSON_AddItemToObject(dst, nm, a);
        }
    }
    return o;
}

int lbq_sample_near_front(int n, const double *x, const double *y, const double *lo, const double *hi, uint8_t *near)
{
    int cnt = 0;
    for (int c = 0; c < n; c++) {
        near[c] = 0;
        if (!isfinite(x[c]) || !isfinite(y[c])) continue;
        int dom = 0;
        for (int d = 0; d < n && !dom; d++)
            if (d != c && isfinite(x[d]) && x[d] <= x[c] && hi[d] < lo[c]) dom = 1;
        near[c] = (uint8_t)!dom;
        cnt += near[c];
    }
    return cnt;
}

void lbq_param_row_set_ci(struct lbq_param_row *r, const struct lbq_ci ci[LBQ_SM_COUNT])
{
    static const int k[6] = { LBQ_SM_M0 + LBQ_SM_REL_L2, LBQ_SM_V0 + LBQ_SM_REL_L2, LBQ_SM_V0 + LBQ_SM_ZERO_COLLAPSE,
                              LBQ_SM_U_REL_L2, LBQ_SM_U_COSINE, LBQ_SM_U_BLOWUP };
    const double val[6] = { r->m_rel_l2, r->v_rel_l2, r->v_zero_collapse, r->update_rel_l2, r->update_cosine, r->update_blowup_frac };
    r->ci_mode = 1;
    for (int j = 0; j < 6; j++) {       /* a state that is not quantized (NaN) has no interval */
        r->ci_lo[j] = isnan(val[j]) ? NAN : ci[k[j]].lo;
        r->ci_hi[j] = isnan(val[j]) ? NAN : ci[k[j]].hi;
    }
}
