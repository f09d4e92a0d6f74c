/* metrics.c - metric accumulators and their results (docs/metrics.md).  The evaluation engine that
 * feeds them is src/eval.c. */
#include "lbq-impl.h"
#include "lbq-metrics.h"

#ifdef _OPENMP
#include <omp.h>
#endif

void lbq_acc_zero(struct lbq_acc *a) { memset(a, 0, sizeof *a); }


double lbq_h_bin_center(int i) { return LBQ_H_LO + (i + 0.5) * (LBQ_H_HI - LBQ_H_LO) / LBQ_H_NBINS; }

static void state_add(struct lbq_state_acc *s, const float *x, const float *xh, int64_t n, const unsigned char *ok)
{
    for (int64_t i = 0; i < n; i++) {
        if (!ok[i]) continue;
        double a = x[i], b = xh[i], e = fabs(b - a);
        s->n++;
        s->sum_sq_err += e * e; s->sum_sq += a * a;
        s->sum_abs_err += e; s->sum_abs += fabs(a);
        if (e > s->max_abs_err) s->max_abs_err = e;
        if (a == 0.0) { s->zero_in++; if (b != 0.0) s->zero_in_moved++; s->rel_hist[b == 0.0 ? 0 : LBQ_REL_NBINS - 1]++; }
        else { float r = (float)e / (float)fabs(a); s->rel_hist[lbq_rel_bin(r, lbq_log2f_or0(r))]++; }
        if (a > 0.0) { s->pos++; if (b == 0.0) s->pos_to_zero++; }
        if (a != 0.0 && b == 0.0) s->nonzero_to_zero++;     /* structural-zero split */
    }
}

/* blocks of the raw state whose max |x| exceeds k times their median |x| */
static void outlier_blocks(struct lbq_state_acc *s, const float *x, int64_t n, int64_t B, double k, float *tmp)
{
    for (int64_t b0 = 0; b0 < n; b0 += B) {
        int64_t bn = (n - b0 < B) ? n - b0 : B, m = 0;
        float mx = 0.0f;
        for (int64_t i = 0; i < bn; i++) {
            float a = lbq_absf(x[b0 + i]);
            if (!lbq_isfinite(a)) continue;
            tmp[m++] = a;
            if (a > mx) mx = a;
        }
        if (m == 0) continue;
        s->blocks++;
        float med = lbq_quantile(tmp, m, 0.5);
        if ((double)mx > k * (double)med) s->outlier_blocks++;
    }
}

void lbq_acc_add(struct lbq_acc *a, const struct lbq_update_cfg *cfg, int64_t n,
                 const float *m, const float *mh, const float *v, const float *vh)
{
    lbq_acc_add2(a, cfg, n, m, mh, v, vh, 1);
}

void lbq_acc_add2(struct lbq_acc *a, const struct lbq_update_cfg *cfg, int64_t n,
                  const float *m, const float *mh, const float *v, const float *vh, int outliers)
{
    unsigned char *ok = calloc((size_t)n + 1, 1);
    float *tmp = malloc(sizeof(float) * (size_t)(cfg->outlier_block < n ? cfg->outlier_block : n) + sizeof(float));
    if (!ok || !tmp) { free(ok); free(tmp); return; }    /* callers size chunks small; see eval */
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        ok[i] = lbq_isfinite(m[i]) && lbq_isfinite(v[i]);
        bad += !ok[i];
    }
    a->m.nonfinite += bad; a->v.nonfinite += bad;
    state_add(&a->m, m, mh, n, ok);
    state_add(&a->v, v, vh, n, ok);
    if (outliers) {
        outlier_blocks(&a->m, m, n, cfg->outlier_block, cfg->outlier_k, tmp);
        outlier_blocks(&a->v, v, n, cfg->outlier_block, cfg->outlier_k, tmp);
    }
    struct lbq_update_acc *u = &a->u;
    for (int64_t i = 0; i < n; i++) {
        if (!ok[i]) continue;
        double vv = v[i] > 0.0f ? v[i] : 0.0, vq = vh[i] > 0.0f ? vh[i] : 0.0;
        /* eps = 0 and v = 0: the update is 0/0; such elements carry no defined update and are
         * left out of the update metrics (they still count in the state metrics) */
        if (!(sqrt(vv / cfg->bc2) + cfg->eps > 0.0) || !(sqrt(vq / cfg->bc2) + cfg->eps > 0.0)) continue;
        double se = sqrt(vv), sq = sqrt(vq), k = lbq_update_k(cfg);
        double ue = lbq_update_elem((double)m[i], vv, se, k, cfg);
        double uq = lbq_update_elem((double)mh[i], vq, sq, k, cfg);
        double d = uq - ue, ae = fabs(ue), aq = fabs(uq);
        u->n++;
        u->sum_sq_u += ue * ue; u->sum_sq_uh += uq * uq; u->sum_dot += ue * uq; u->sum_sq_diff += d * d;
        if (aq > 10.0 * ae) u->blowup++;
        if (aq < 0.1 * ae) u->shrink++;
        u->sum_abs_u += ae; u->sum_abs_uh += aq;
        if (v[i] > 0.0f && vh[i] == 0.0f) { u->collapsed_abs_u += ae; u->collapsed_abs_uh += aq; }
        /* structural-zero split: the update of lifted zeros (x == 0, x^ != 0), per state */
        if (m[i] == 0.0f && mh[i] != 0.0f) { a->m.lifted_abs_uh += aq; a->m.lifted_sq_du += d * d; }
        if (v[i] == 0.0f && vh[i] != 0.0f) { a->v.lifted_abs_uh += aq; a->v.lifted_sq_du += d * d; }
        float ye = (float)(se + cfg->eps), yq = (float)(sq + cfg->eps);
        u->h_exact[lbq_h_bin(ye, lbq_log2f_or0(ye))]++;
        u->h_quant[lbq_h_bin(yq, lbq_log2f_or0(yq))]++;
    }
    free(ok); free(tmp);
}

static void state_merge(struct lbq_state_acc *a, const struct lbq_state_acc *b)
{
    a->n += b->n; a->nonfinite += b->nonfinite;
    a->sum_sq_err += b->sum_sq_err; a->sum_sq += b->sum_sq;
    a->sum_abs_err += b->sum_abs_err; a->sum_abs += b->sum_abs;
    if (b->max_abs_err > a->max_abs_err) a->max_abs_err = b->max_abs_err;
    a->zero_in += b->zero_in; a->zero_in_moved += b->zero_in_moved;
    a->pos += b->pos; a->pos_to_zero += b->pos_to_zero;
    for (int i = 0; i < LBQ_REL_NBINS; i++) a->rel_hist[i] += b->rel_hist[i];
    a->blocks += b->blocks; a->outlier_blocks += b->outlier_blocks;
    for (int i = 0; i < 4; i++) a->solo[i] += b->solo[i];
    a->nonzero_to_zero += b->nonzero_to_zero;
    a->lifted_abs_uh += b->lifted_abs_uh; a->lifted_sq_du += b->lifted_sq_du;
}

void lbq_acc_merge(struct lbq_acc *a, const struct lbq_acc *b)
{
    state_merge(&a->m, &b->m);
    state_merge(&a->v, &b->v);
    struct lbq_update_acc *u = &a->u;
    const struct lbq_update_acc *w = &b->u;
    u->n += w->n;
    u->sum_sq_u += w->sum_sq_u; u->sum_sq_uh += w->sum_sq_uh; u->sum_dot += w->sum_dot; u->sum_sq_diff += w->sum_sq_diff;
    u->blowup += w->blowup; u->shrink += w->shrink;
    u->sum_abs_u += w->sum_abs_u; u->sum_abs_uh += w->sum_abs_uh;
    u->collapsed_abs_u += w->collapsed_abs_u; u->collapsed_abs_uh += w->collapsed_abs_uh;
    for (int i = 0; i < LBQ_H_NBINS; i++) { u->h_exact[i] += w->h_exact[i]; u->h_quant[i] += w->h_quant[i]; }
}

double lbq_hist_quantile(const int64_t *hist, double q)
{
    int64_t tot = 0;
    for (int i = 0; i < LBQ_REL_NBINS; i++) tot += hist[i];
    if (tot == 0) return NAN;
    double target = q * (double)tot, cum = 0.0;
    for (int i = 0; i < LBQ_REL_NBINS; i++) {
        if (hist[i] == 0) continue;
        if (cum + (double)hist[i] >= target) {
            if (i == 0) return 0.0;                  /* below 1e-12: reported as 0 */
            if (i == LBQ_REL_NBINS - 1) return INFINITY;
            double f = (target - cum) / (double)hist[i];
            double lo = LBQ_REL_LO + (double)(i - 1) / LBQ_REL_PER_DEC;
            return pow(10.0, lo + f / LBQ_REL_PER_DEC);   /* geometric interpolation in the bin */
        }
        cum += (double)hist[i];
    }
    return INFINITY;
}

static double ratio(double a, double b) { return b > 0.0 ? a / b : (a > 0.0 ? INFINITY : 0.0); }

void lbq_state_result(const struct lbq_state_acc *s, struct lbq_state_res *r)
{
    r->n = s->n; r->nonfinite = s->nonfinite;
    r->rel_l2 = s->sum_sq > 0.0 ? sqrt(s->sum_sq_err / s->sum_sq) : (s->sum_sq_err > 0.0 ? INFINITY : 0.0);
    r->max_abs_err = s->max_abs_err;
    r->rel_mean_abs_err = ratio(s->sum_abs_err, s->sum_abs);
    r->q50 = lbq_hist_quantile(s->rel_hist, 0.5);
    r->q90 = lbq_hist_quantile(s->rel_hist, 0.9);
    r->q99 = lbq_hist_quantile(s->rel_hist, 0.99);
    r->q999 = lbq_hist_quantile(s->rel_hist, 0.999);
    r->zero_collapse = s->pos ? (double)s->pos_to_zero / (double)s->pos : 0.0;
    r->outlier_block_frac = s->blocks ? (double)s->outlier_blocks / (double)s->blocks : 0.0;
}

void lbq_zero_split_of(const struct lbq_state_acc *s, const struct lbq_update_acc *u, struct lbq_zero_split *z)
{
    z->zeros = s->zero_in;
    z->lifted = s->zero_in_moved;
    z->kept = s->zero_in - s->zero_in_moved;
    z->nonzero = s->n - s->zero_in;
    z->collapsed = s->nonzero_to_zero;
    z->collapsed_frac = z->nonzero ? (double)z->collapsed / (double)z->nonzero : 0.0;
    z->lifted_uh_share = u->sum_abs_uh > 0.0 ? s->lifted_abs_uh / u->sum_abs_uh : 0.0;
    z->lifted_err_share = u->sum_sq_diff > 0.0 ? s->lifted_sq_du / u->sum_sq_diff : 0.0;
}

void lbq_update_result(const struct lbq_update_acc *u, struct lbq_update_res *r)
{
    r->rel_l2 = u->sum_sq_u > 0.0 ? sqrt(u->sum_sq_diff / u->sum_sq_u) : (u->sum_sq_diff > 0.0 ? INFINITY : 0.0);
    double den = sqrt(u->sum_sq_u) * sqrt(u->sum_sq_uh);
    r->cosine = den > 0.0 ? u->sum_dot / den : (u->sum_sq_u == 0.0 && u->sum_sq_uh == 0.0 ? 1.0 : 0.0);
    r->blowup_frac = u->n ? (double)u->blowup / (double)u->n : 0.0;
    r->shrink_frac = u->n ? (double)u->shrink / (double)u->n : 0.0;
    r->collapse_share = u->sum_abs_u > 0.0 ? u->collapsed_abs_u / u->sum_abs_u : 0.0;
    r->collapse_share_quant = u->sum_abs_uh > 0.0 ? u->collapsed_abs_uh / u->sum_abs_uh : 0.0;
}

void lbq_update_cfg_from_file(const struct lbq_file *f, struct lbq_update_cfg *cfg)
{
    const struct lbq_hparams *hp = lbq_file_hparams(f);
    cfg->bc1 = 1.0; cfg->bc2 = 1.0;
    if (hp->has_step && hp->step > 0) {
        cfg->bc1 = 1.0 - pow(hp->beta1, (double)hp->step);
        cfg->bc2 = 1.0 - pow(hp->beta2, (double)hp->step);
        if (!(cfg->bc1 > 0.0)) cfg->bc1 = 1.0;
        if (!(cfg->bc2 > 0.0)) cfg->bc2 = 1.0;
    }
    cfg->eps = hp->eps;
    cfg->outlier_block = 128;
    cfg->outlier_k = 10.0;
}

/* ---- max/median of per-index maxima (docs/metrics.md, inspect statistics; sweep's heat map) ---- */
double lbq_max_over_median(const float *mx, int64_t n, float k, int64_t *n_over)
{
    float *t = malloc(sizeof(float) * (size_t)n);
    if (n_over) *n_over = 0;
    if (!t) return NAN;
    memcpy(t, mx, sizeof(float) * (size_t)n);
    float med = lbq_quantile(t, n, 0.5);
    float big = 0.0f;
    for (int64_t i = 0; i < n; i++) { if (mx[i] > big) big = mx[i]; if (n_over && mx[i] > k * med) (*n_over)++; }
    free(t);
    return med > 0.0f ? (double)big / (double)med : (big > 0.0f ? INFINITY : NAN);
}

double lbq_max_over_nonzero_median(const float *x, int64_t n)
{
    float *t = malloc(sizeof(float) * (size_t)n);
    if (!t) return 0;
    int64_t k2 = 0;
    float mx = 0;
    for (int64_t k = 0; k < n; k++) { if (x[k] > 0) t[k2++] = x[k]; if (x[k] > mx) mx = x[k]; }
    float med = k2 ? lbq_quantile(t, k2, 0.5) : 0;
    free(t);
    return med > 0 ? (double)mx / med : 0;
}
