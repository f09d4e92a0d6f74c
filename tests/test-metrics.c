/* test-metrics.c - every analyze metric (docs/metrics.md) against an independent double-precision
 * computation in this file: first on hand-made exact/approximate state pairs through the
 * accumulators, then end to end through lbq_eval_param on a small HDF5 file with real quantizers. */
#include "lbq.h"
#include "lbq-metrics.h"
#include "lbq-test.h"
#include "lbq-impl.h"      /* lbq_quantile_nonneg */

#include <unistd.h>

static int cmp_d(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

/* independent reference for one state */
struct ref_state { double rel_l2, max_abs, rel_mean_abs, collapse, q50, q90, q99; int64_t pos, pos0; };
static void ref_state(const float *x, const float *xh, int64_t n, struct ref_state *r)
{
    double se = 0, sx = 0, sae = 0, sax = 0, mx = 0;
    double *rel = malloc(sizeof(double) * (size_t)n);
    int64_t nr = 0;
    r->pos = r->pos0 = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = x[i], b = xh[i], e = fabs(b - a);
        se += e * e; sx += a * a; sae += e; sax += fabs(a);
        if (e > mx) mx = e;
        if (a > 0) { r->pos++; if (b == 0) r->pos0++; }
        rel[nr++] = (a != 0) ? e / fabs(a) : (b == 0 ? 0.0 : INFINITY);
    }
    qsort(rel, (size_t)nr, sizeof *rel, cmp_d);
    r->rel_l2 = sqrt(se / sx); r->max_abs = mx; r->rel_mean_abs = sae / sax;
    r->collapse = r->pos ? (double)r->pos0 / (double)r->pos : 0;
    r->q50 = rel[(int64_t)(0.5 * (double)(nr - 1))];
    r->q90 = rel[(int64_t)(0.9 * (double)(nr - 1))];
    r->q99 = rel[(int64_t)(0.99 * (double)(nr - 1))];
    free(rel);
}

struct ref_upd { double rel_l2, cosine, blowup, shrink, share, share_q; };
static void ref_update(const float *m, const float *mh, const float *v, const float *vh, int64_t n,
                       double bc1, double bc2, double eps, struct ref_upd *r)
{
    double su = 0, sq = 0, sd = 0, dot = 0, au = 0, aq = 0, cu = 0, cq = 0;
    int64_t bl = 0, sh = 0;
    for (int64_t i = 0; i < n; i++) {
        double u = (m[i] / bc1) / (sqrt((v[i] > 0 ? v[i] : 0) / bc2) + eps);
        double q = (mh[i] / bc1) / (sqrt((vh[i] > 0 ? vh[i] : 0) / bc2) + eps);
        su += u * u; sq += q * q; sd += (q - u) * (q - u); dot += u * q;
        au += fabs(u); aq += fabs(q);
        if (v[i] > 0 && vh[i] == 0) { cu += fabs(u); cq += fabs(q); }
        if (fabs(q) > 10 * fabs(u)) bl++;
        if (fabs(q) < 0.1 * fabs(u)) sh++;
    }
    r->rel_l2 = sqrt(sd / su); r->cosine = dot / (sqrt(su) * sqrt(sq));
    r->blowup = (double)bl / (double)n; r->shrink = (double)sh / (double)n;
    r->share = cu / au; r->share_q = cq / aq;
}

static int g_split_all;     /* part 1's data have kept, lifted and collapsed elements in m and v */

/* structural-zero split (docs/metrics.md "Zeros: kept, lifted, collapsed"), counted directly */
static void check_split(const char *what, const struct lbq_acc *a, const struct lbq_state_acc *st, const float *x,
                        const float *xh, const float *m, const float *mh, const float *v, const float *vh, int64_t n,
                        double bc1, double bc2, double eps)
{
    int64_t zeros = 0, kept = 0, lifted = 0, nonzero = 0, coll = 0;
    double luh = 0, ld2 = 0, auh = 0, d2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double u = (m[i] / bc1) / (sqrt((v[i] > 0 ? v[i] : 0) / bc2) + eps);
        double q = (mh[i] / bc1) / (sqrt((vh[i] > 0 ? vh[i] : 0) / bc2) + eps);
        auh += fabs(q); d2 += (q - u) * (q - u);
        if (x[i] == 0) { zeros++; if (xh[i] == 0) kept++; else { lifted++; luh += fabs(q); ld2 += (q - u) * (q - u); } }
        else { nonzero++; if (xh[i] == 0) coll++; }
    }
    struct lbq_zero_split z;
    lbq_zero_split_of(st, &a->u, &z);
    CHECK_MSG(z.zeros == zeros && z.kept == kept && z.lifted == lifted && z.nonzero == nonzero && z.collapsed == coll,
              "%s split: zeros %lld kept %lld lifted %lld nonzero %lld collapsed %lld, want %lld %lld %lld %lld %lld", what,
              (long long)z.zeros, (long long)z.kept, (long long)z.lifted, (long long)z.nonzero, (long long)z.collapsed,
              (long long)zeros, (long long)kept, (long long)lifted, (long long)nonzero, (long long)coll);
    if (g_split_all) CHECK_MSG(kept > 0 && lifted > 0 && coll > 0, "%s: the test data must have kept, lifted and collapsed elements", what);
    CHECK_NEAR(z.collapsed_frac, (double)coll / (double)nonzero, 1e-15);
    CHECK_REL(z.lifted_uh_share, luh / auh, 1e-9);
    CHECK_REL(z.lifted_err_share, ld2 / d2, 1e-9);
}

/* quantile from the histogram: within the bin resolution (10^(1/30) = 1.08) of the exact one */
static void check_quantile(double got, double want, const char *what)
{
    if (want == 0) { CHECK_MSG(got <= 1e-12, "%s: got %g want 0", what, got); return; }
    double ratio = got / want;
    CHECK_MSG(ratio > 1.0 / 1.09 && ratio < 1.09, "%s: histogram quantile %g vs exact %g", what, got, want);
}

static void compare(const struct lbq_acc *a, const float *m, const float *mh, const float *v, const float *vh, int64_t n,
                    double bc1, double bc2, double eps)
{
    struct lbq_state_res sm, sv;
    struct lbq_update_res su;
    struct ref_state rm, rv;
    struct ref_upd ru;
    lbq_state_result(&a->m, &sm);
    lbq_state_result(&a->v, &sv);
    lbq_update_result(&a->u, &su);
    ref_state(m, mh, n, &rm);
    ref_state(v, vh, n, &rv);
    ref_update(m, mh, v, vh, n, bc1, bc2, eps, &ru);
    CHECK_REL(sm.rel_l2, rm.rel_l2, 1e-9); CHECK_REL(sv.rel_l2, rv.rel_l2, 1e-9);
    CHECK_REL(sm.max_abs_err, rm.max_abs, 1e-12); CHECK_REL(sv.max_abs_err, rv.max_abs, 1e-12);
    CHECK_REL(sm.rel_mean_abs_err, rm.rel_mean_abs, 1e-9); CHECK_REL(sv.rel_mean_abs_err, rv.rel_mean_abs, 1e-9);
    CHECK_NEAR(sv.zero_collapse, rv.collapse, 1e-15);
    CHECK_EQ_INT(a->v.pos, rv.pos); CHECK_EQ_INT(a->v.pos_to_zero, rv.pos0);
    check_quantile(sm.q50, rm.q50, "m p50"); check_quantile(sm.q90, rm.q90, "m p90"); check_quantile(sm.q99, rm.q99, "m p99");
    check_quantile(sv.q50, rv.q50, "v p50"); check_quantile(sv.q90, rv.q90, "v p90");
    CHECK_REL(su.rel_l2, ru.rel_l2, 1e-9); CHECK_REL(su.cosine, ru.cosine, 1e-9);
    CHECK_NEAR(su.blowup_frac, ru.blowup, 1e-15); CHECK_NEAR(su.shrink_frac, ru.shrink, 1e-15);
    CHECK_REL(su.collapse_share, ru.share, 1e-9); CHECK_REL(su.collapse_share_quant, ru.share_q, 1e-9);
    check_split("m", a, &a->m, m, mh, m, mh, v, vh, n, bc1, bc2, eps);
    check_split("v", a, &a->v, v, vh, m, mh, v, vh, n, bc1, bc2, eps);
}

int main(void)
{
    /* 1. accumulators on synthetic pairs: perturbations of several sizes, exact zeros, collapses */
    const int64_t n = 5000;
    float *m = malloc(sizeof(float) * n), *mh = malloc(sizeof(float) * n), *v = malloc(sizeof(float) * n), *vh = malloc(sizeof(float) * n);
    for (int64_t i = 0; i < n; i++) {
        double g = t_normal() * 1e-3;
        m[i] = (float)g;
        v[i] = (float)(g * g * (0.2 + t_uniform())) + (i % 50 == 0 ? 0.0f : 1e-12f);
        double e = pow(10.0, -1.0 - 4.0 * t_uniform());
        mh[i] = (float)(m[i] * (1.0 + (t_uniform() < 0.5 ? -e : e)));
        vh[i] = (i % 17 == 0) ? 0.0f : (float)(v[i] * (1.0 + e));     /* every 17th collapses */
        if (i % 101 == 0) mh[i] = m[i];                                 /* exact */
        /* structural-zero split: m zeros kept or lifted, non-zero m of either sign collapsed,
         * v zeros lifted (every 50th v is 0; vh of those is 0 unless set here) */
        if (i % 43 == 0) { m[i] = 0.0f; mh[i] = (i % 215 == 0) ? 1e-7f : 0.0f; }   /* < 1% lifted: p99 stays finite */
        else if (i % 37 == 0) mh[i] = 0.0f;
        if (i % 50 == 0) { v[i] = 0.0f; vh[i] = (i % 150 == 0) ? 1e-10f : 0.0f; }
    }
    struct lbq_update_cfg cfg = { 1.0 - pow(0.9, 300), 1.0 - pow(0.999, 300), 1e-8, 128, 10.0 };
    struct lbq_acc a, b, c;
    g_split_all = 1;
    lbq_acc_zero(&a);
    lbq_acc_add(&a, &cfg, n, m, mh, v, vh);
    compare(&a, m, mh, v, vh, n, cfg.bc1, cfg.bc2, cfg.eps);
    /* merging two halves gives the same totals as one pass (element-weighted totals) */
    lbq_acc_zero(&b); lbq_acc_zero(&c);
    lbq_acc_add(&b, &cfg, 2560, m, mh, v, vh);
    lbq_acc_add(&c, &cfg, n - 2560, m + 2560, mh + 2560, v + 2560, vh + 2560);
    lbq_acc_merge(&b, &c);
    compare(&b, m, mh, v, vh, n, cfg.bc1, cfg.bc2, cfg.eps);
    CHECK_EQ_INT(b.u.blowup, a.u.blowup);
    g_split_all = 0;
    /* outlier blocks: block 128, k = 10, counted independently */
    {
        int64_t blocks = 0, out = 0;
        for (int64_t b0 = 0; b0 < n; b0 += 128) {
            int64_t bn = n - b0 < 128 ? n - b0 : 128;
            double *t = malloc(sizeof(double) * (size_t)bn), mx = 0;
            for (int64_t i = 0; i < bn; i++) { t[i] = fabs(m[b0 + i]); if (t[i] > mx) mx = t[i]; }
            qsort(t, (size_t)bn, sizeof *t, cmp_d);
            double pos = 0.5 * (double)(bn - 1), med = t[(int64_t)pos] + (pos - floor(pos)) * (t[(int64_t)pos + (bn > 1)] - t[(int64_t)pos]);
            blocks++;
            if (mx > 10.0 * med) out++;
            free(t);
        }
        CHECK_EQ_INT(a.m.blocks, blocks);
        CHECK_EQ_INT(a.m.outlier_blocks, out);
    }
    /* outlier blocks near the threshold: lbq_acc_base decides most blocks by counts against
     * max / k (src/accum.c outlier_quick); blocks whose max is k * median within a few ulps or
     * within the 1e-5 margin, with non-finite values, short blocks and various k, must count as
     * the direct rule max > k * lbq_quantile_nonneg(|finite x|, 0.5) does */
    {
        uint64_t st = 12345;
        float blk[128], vb[128], tmpb[129], fin[128];
        double ueb[128];
        uint8_t okb[128];
        int64_t agree = 0, tot = 0, outs = 0;
        static const double ks[] = { 10.0, 3.0, 1.0, 2.5, 1e-3, 1e6 };
        static const double rel[] = { 0.0, 1e-7, -1e-7, 3e-7, -3e-7, 9e-6, -9e-6, 1e-5, -1e-5, 1.1e-5, -1.1e-5, 1e-4, -1e-4, 0.5, -0.5 };
        for (int it = 0; it < 30000; it++) {
            int bn = (it % 7 == 0) ? 1 + (int)((st >> 33) % 128) : 128;
            double sig = 0.1 + 3.0 * (double)((st >> 20) % 1000) / 1000.0;
            for (int i = 0; i < bn; i++) {
                st = st * 6364136223846793005ULL + 1442695040888963407ULL;
                double u1 = ((double)(st >> 11) + 0.5) / 9007199254740992.0;
                st = st * 6364136223846793005ULL + 1442695040888963407ULL;
                double u2 = ((double)(st >> 11) + 0.5) / 9007199254740992.0;
                double g = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
                blk[i] = (float)((st & 1 ? 1.0 : -1.0) * exp(sig * g) * 1e-3);
                if (it % 5 == 0 && (st >> 40) % 4 == 0) blk[i] = (float)((st >> 8) % 5) * 1e-4f;   /* ties, zeros */
            }
            if (it % 11 == 0) blk[(st >> 17) % (uint64_t)bn] = (st & 2) ? LBQ_INF : NAN;
            double k = ks[it % 6];
            if (it % 3 != 0) {      /* the max set to k * median * (1 + rel) (the median unchanged) */
                int c = 0, imax = -1;
                float mx = 0.0f;
                for (int i = 0; i < bn; i++) if (isfinite(blk[i])) { fin[c++] = fabsf(blk[i]); if (fabsf(blk[i]) >= mx) { mx = fabsf(blk[i]); imax = i; } }
                if (c > 0) {
                    float med = lbq_quantile_nonneg(fin, c, 0.5);
                    float want = (float)(k * (double)med * (1.0 + rel[(it / 3) % 15]));
                    if (it % 13 == 0) want = nextafterf((float)(k * (double)med), (it & 1) ? LBQ_INF : 0.0f);
                    if (want >= mx && isfinite(want)) blk[imax] = blk[imax] < 0 ? -want : want;
                }
            }
            float mx = 0.0f;
            int c = 0;
            for (int i = 0; i < bn; i++) { vb[i] = fabsf(blk[i]); if (isfinite(blk[i])) { fin[c++] = fabsf(blk[i]); mx = fabsf(blk[i]) > mx ? fabsf(blk[i]) : mx; } }
            if (c == 0) continue;
            int direct = (double)mx > k * (double)lbq_quantile_nonneg(fin, c, 0.5);
            struct lbq_update_cfg oc = cfg;
            oc.outlier_k = k;
            struct lbq_acc ao;
            lbq_acc_zero(&ao);
            lbq_acc_base(&ao, &oc, bn, blk, vb, ueb, okb, tmpb);
            tot++; outs += direct;
            agree += ao.m.blocks == 1 && ao.m.outlier_blocks == direct;
        }
        CHECK_EQ_INT(agree, tot);
        CHECK(outs > tot / 10 && outs < tot - tot / 10);     /* both sides of the threshold */
    }
    /* histogram of log10(1/(sqrt(v)+eps)): every element lands in the bin of its exact value */
    {
        int64_t want[LBQ_H_NBINS] = {0}, tot = 0;
        for (int64_t i = 0; i < n; i++) {
            double h = -log10(sqrt((double)v[i]) + cfg.eps);
            int bi = (int)((h - LBQ_H_LO) / (LBQ_H_HI - LBQ_H_LO) * LBQ_H_NBINS);
            if (bi < 0) bi = 0;
            if (bi >= LBQ_H_NBINS) bi = LBQ_H_NBINS - 1;
            want[bi]++;
        }
        int64_t off = 0;
        for (int i = 0; i < LBQ_H_NBINS; i++) { tot += a.u.h_exact[i]; off += llabs(a.u.h_exact[i] - want[i]); }
        CHECK_EQ_INT(tot, n);
        CHECK_MSG(off <= 4, "h histogram: %lld elements off their exact bin (edge rounding only)", (long long)off);
    }

    /* 2. end to end: a file with two parameters through lbq_eval_param with real quantizers */
    char dir[] = "/tmp/lbq-metrics-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char path[256];
    snprintf(path, sizeof path, "%s/t.h5", dir);
    struct lbq_h5w *w = NULL;
    struct lbq_shape sh = { 2, { 40, 125 }, 5000 };
    int dm, dv;
    CHECK_OK(lbq_h5w_open(path, &w));
    CHECK_OK(lbq_h5w_dset(w, "p.weight", "exp_avg", LBQ_W_F32, &sh, &dm));
    CHECK_OK(lbq_h5w_write(w, dm, 0, n, m));
    CHECK_OK(lbq_h5w_dset(w, "p.weight", "exp_avg_sq", LBQ_W_F32, &sh, &dv));
    CHECK_OK(lbq_h5w_write(w, dv, 0, n, v));
    CHECK_OK(lbq_h5w_attr_i64(w, "", "step", 300));
    CHECK_OK(lbq_h5w_attr_f64(w, "", "beta1", 0.9));
    CHECK_OK(lbq_h5w_attr_f64(w, "", "beta2", 0.999));
    CHECK_OK(lbq_h5w_attr_f64(w, "", "eps", 1e-8));
    CHECK_OK(lbq_h5w_commit(w));
    struct lbq_file *f = NULL;
    CHECK_OK(lbq_file_open(path, NULL, &f));
    if (f) {
        const char *specs[][2] = { { "block128-dtree", "block128-dtree" }, { "block64-dtree:b2", "rank1-linear" }, { "rank1-linsq", "block128-log:b2" } };
        for (int k = 0; k < 3; k++) {
            struct lbq_config conf;
            memset(&conf, 0, sizeof conf);
            CHECK_OK(lbq_qspec_parse(specs[k][0], NULL, &conf.m));
            CHECK_OK(lbq_qspec_parse(specs[k][1], NULL, &conf.v));
            conf.has_m = conf.has_v = 1;
            struct lbq_eval_opts eo = { 0, 10.0, 0, NULL, NULL, NULL };
            struct lbq_param_eval ev;
            CHECK_OK(lbq_eval_param(f, 0, &conf, 1, &eo, &ev));
            /* the test's own quantization of the same tensors */
            struct lbq_qplan pm, pv;
            struct lbq_tstats sm, sv;
            CHECK_OK(lbq_qplan_init(&pm, &conf.m, LBQ_ROLE_M, 2));
            CHECK_OK(lbq_qplan_init(&pv, &conf.v, LBQ_ROLE_V, 2));
            lbq_qplan_fit(&pm, n); lbq_qplan_fit(&pv, n);      /* SOLO's per-tensor block (log map) */
            CHECK_OK(lbq_tstats_init(&sm, &sh)); CHECK_OK(lbq_tstats_init(&sv, &sh));
            lbq_tstats_add(&sm, 0, n, m); lbq_tstats_add(&sv, 0, n, v);
            float *sc = malloc(sizeof(float) * n);
            CHECK_OK(lbq_qdq(&pm, &sm, 0, n, m, mh, NULL, sc, NULL, NULL));
            CHECK_OK(lbq_qdq(&pv, &sv, 0, n, v, vh, NULL, sc, NULL, NULL));
            compare(&ev.acc, m, mh, v, vh, n, cfg.bc1, cfg.bc2, cfg.eps);
            /* storage accounting */
            struct lbq_qsize qs;
            lbq_qplan_size(&pm, &sh, &qs);
            CHECK_NEAR(ev.m_size.bits_per_elem, qs.bits_per_elem, 1e-12);
            free(sc);
            lbq_tstats_free(&sm); lbq_tstats_free(&sv);
        }
        /* fp32 (nothing quantized): every error is exactly 0, cosine 1 */
        struct lbq_config none;
        memset(&none, 0, sizeof none);
        struct lbq_eval_opts eo = { 0, 10.0, 0, NULL, NULL, NULL };
        struct lbq_param_eval ev;
        CHECK_OK(lbq_eval_param(f, 0, &none, 1, &eo, &ev));
        struct lbq_state_res r;
        struct lbq_update_res u;
        lbq_state_result(&ev.acc.m, &r);
        lbq_update_result(&ev.acc.u, &u);
        CHECK(r.rel_l2 == 0.0); CHECK(u.rel_l2 == 0.0); CHECK_NEAR(u.cosine, 1.0, 1e-12);
        CHECK_NEAR(ev.m_size.bits_per_elem, 32.0, 0);
        /* a set cancel flag (lbq_eval_opts.cancel, what sweep's Ctrl-C handler sets) stops the
         * evaluation with LBQ_ERR_INTERRUPTED; a clear one changes nothing */
        volatile sig_atomic_t stop = 1;
        struct lbq_config one;
        memset(&one, 0, sizeof one);
        CHECK_OK(lbq_qspec_parse("block128-dtree", NULL, &one.m));
        CHECK_OK(lbq_qspec_parse("rank1-linear", NULL, &one.v));
        one.has_m = one.has_v = 1;
        struct lbq_eval_opts ec = { 0, 10.0, 0, NULL, NULL, &stop };
        CHECK(lbq_eval_param(f, 0, &one, 1, &ec, &ev) == LBQ_ERR_INTERRUPTED);
        struct lbq_param_eval e0, e1;
        stop = 0;
        CHECK_OK(lbq_eval_param(f, 0, &one, 1, &ec, &e1));
        CHECK_OK(lbq_eval_param(f, 0, &one, 1, &eo, &e0));
        CHECK(memcmp(&e0.acc, &e1.acc, sizeof e0.acc) == 0);
        lbq_file_close(f);
    }
    unlink(path);
    rmdir(dir);
    free(m); free(mh); free(v); free(vh);
    return TEST_END();
}
