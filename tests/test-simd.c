/* test-simd.c - the vectorized CPU loops (src/simd.c) equal the portable loops and the per-element
 * qcore.h reference (the functions the CUDA kernels use) bit for bit: values, codes and scales, for
 * every registered table map x normalization x bitwidth x sign x zero exclusion, on data with ties
 * (values exactly on a midpoint times the scale), zeros, -0, denormals, NaN, +-Inf, all-zero and
 * all-NaN blocks, and block sizes that are not multiples of the vector width.  Maps that quantize
 * themselves (log, fp8) are checked SIMD against portable, including their per-block parameters;
 * the log map (SOLO's arithmetic and ':guarded', with half-zero, tiny-max and all-zero blocks)
 * also against the qcore.h per-element code.  The log map with stochastic rounding (the Philox draws
 * of the portable path, also across 2^32 indices), plain fp8 in both formats and both scale rules
 * (a stride through all float bit patterns and every tie between fp8 values) and COAT's range
 * expansion (the warp-tree statistics with their zero quirk, constant, all-zero, NaN/Inf, denormal,
 * overflowing and ragged groups) are checked against the qcore.h element functions as well.
 * Without AVX2 on the machine both runs take the portable loops and the test still checks them
 * against the reference. */
#include "lbq-impl.h"
#include "lbq-metrics.h"
#include "lbq-test.h"

#include <stdint.h>

static int g_bad;
static long long nref_log, nref_fp8, nref_dre, nlevel_cmp;     /* elements checked against the qcore reference */

static int same_bits(float a, float b) { return lbq_f2u(a) == lbq_f2u(b); }

/* every dispatch level this machine has: 0 (portable), 2 (AVX2), 3 (AVX-512) */
static int g_levels[3], g_nlev;
static void probe_levels(void)
{
    int best = lbq_simd_set(-1);
    g_nlev = 0;
    g_levels[g_nlev++] = 0;
    if (best >= 2) g_levels[g_nlev++] = 2;
    if (best >= 3) g_levels[g_nlev++] = 3;
}
#define FOR_LEVELS(simd) for (int li_ = 0, simd = 0; li_ < g_nlev && (simd = g_levels[li_], lbq_simd_set(simd), 1); li_++)

static void fill(float *x, int64_t n, const struct lbq_qplan *p, int64_t block)
{
    for (int64_t i = 0; i < n; i++) {
        double r = t_uniform();
        float scale = (float)pow(10.0, -6.0 + 6.0 * t_uniform());
        float v = (float)t_normal() * scale;
        if (!p->is_signed) v = fabsf(v);
        if (r < 0.02) v = 0.0f;
        else if (r < 0.03) v = -0.0f;
        else if (r < 0.035) v = NAN;
        else if (r < 0.04) v = (t_uniform() < 0.5) ? INFINITY : -INFINITY;
        else if (r < 0.05) v = 1e-41f;                       /* denormal */
        x[i] = v;
    }
    /* ties: in each block, make x[1] the block max and put the other values on midpoints * max */
    if (block > 2)
        for (int64_t b0 = 0; b0 + block <= n; b0 += 3 * block) {
            float s = 0.5f + (float)t_uniform();
            for (int64_t i = 0; i < block; i++) {
                int k = (int)(t_uniform() * (p->nlev - 1));
                x[b0 + i] = p->mid[k] * s;
            }
            x[b0 + 1] = s;
        }
    /* an all-zero block and an all-NaN block */
    if (block > 0 && n >= 3 * block) {
        for (int64_t i = 0; i < block; i++) x[block + i] = 0.0f;
        for (int64_t i = 0; i < block; i++) x[2 * block + i] = NAN;
    }
    /* fp8: a block whose max is the format's largest value (scale 1, so x / s = x exactly) and whose
     * other values lie exactly halfway between two fp8 values (ties to even), normal and subnormal */
    if (!strncmp(p->spec.map->name, "fp8", 3) && block > 1 && n >= 7 * block) {
        int e5 = !strcmp(p->spec.map->name, "fp8e5m2");
        for (int64_t i = 0; i < block; i++) {
            int c = (int)(t_uniform() * (e5 ? 122 : 125));      /* codes below the largest */
            float a = lbq_fp8_value(c, e5), b = lbq_fp8_value(c + 1, e5);
            float v = (a + b) * 0.5f;
            x[6 * block + i] = (t_uniform() < 0.5 && p->is_signed) ? -v : v;
        }
        x[6 * block] = e5 ? 57344.0f : 448.0f;
    }
    /* SOLO's other edge cases: a block with half zeros (p-quantile 0) and a block whose max is
     * below 1e-12 */
    if (block > 1 && n >= 6 * block) {
        for (int64_t i = 0; i < block; i++) x[4 * block + i] = (i & 1) ? 0.0f : fabsf(x[4 * block + i]) + 1e-3f;
        for (int64_t i = 0; i < block; i++) x[5 * block + i] = (float)(1e-14 * (0.1 + t_uniform()));
    }
}

static void run_one(const char *text, const struct lbq_shape *sh, int level)
{
    struct lbq_qspec s;
    struct lbq_qplan p;
    if (lbq_qspec_parse(text, NULL, &s) != LBQ_OK) return;          /* undefined combination */
    int table = !s.map->qdq;         /* other maps: SIMD == portable only (bit for bit) */
    for (int role = 0; role < 2; role++) {
        if (lbq_qplan_init(&p, &s, (enum lbq_role)role, sh->rank) != LBQ_OK) continue;
        int64_t n = sh->numel;
        float *x = malloc(sizeof(float) * (size_t)n), *xa = malloc(sizeof(float) * (size_t)n),
              *xb = malloc(sizeof(float) * (size_t)n), *sa = malloc(sizeof(float) * (size_t)n),
              *sb = malloc(sizeof(float) * (size_t)n), *scr = malloc(sizeof(float) * (size_t)n);
        uint8_t *ca = malloc((size_t)n), *cb = malloc((size_t)n);
        float *pa = calloc((size_t)(2 * n + 2), sizeof(float)), *pb = calloc((size_t)(2 * n + 2), sizeof(float));
        struct lbq_tstats st;
        CHECK_OK(lbq_tstats_init(&st, sh));
        fill(x, n, &p, p.norm->blockwise ? p.block : 0);
        lbq_tstats_add(&st, 0, n, x);
        lbq_simd_set(level);
        CHECK_OK(lbq_qdq(&p, &st, 0, n, x, xa, ca, sa, pa, NULL));
        lbq_simd_set(0);
        CHECK_OK(lbq_qdq(&p, &st, 0, n, x, xb, cb, sb, pb, NULL));
        lbq_simd_set(level);
        {   /* the stored form: one scale per block, the same values, codes and parameters */
            float *xs = malloc(sizeof(float) * (size_t)n), *bs = malloc(sizeof(float) * (size_t)n);
            float *ps = calloc((size_t)(2 * n + 2), sizeof(float));
            uint8_t *cs = malloc((size_t)n);
            CHECK_OK(lbq_qdq_stored(&p, &st, 0, n, x, xs, cs, bs, ps, scr));
            int d = 0;
            for (int64_t i = 0; i < n; i++)
                d += !same_bits(xs[i], xa[i]) || cs[i] != ca[i] || !same_bits(ps[i], pa[i]) ||
                     (p.norm->blockwise && i % p.block == 0 && !same_bits(bs[i / p.block], sa[i]));
            CHECK_MSG(d == 0, "%s level %d: lbq_qdq_stored differs from lbq_qdq in %d elements", text, level, d);
            free(xs); free(bs); free(ps); free(cs);
        }
        int bad = 0;
        const int is_fp8 = !strncmp(s.map->name, "fp8", 3), e5m2 = !strcmp(s.map->name, "fp8e5m2");
        for (int64_t i = 0; i < n && bad < 3; i++) {
            /* the qcore reference, element by element, on the portable run's scales */
            float xn = lbq_normalize(x[i], sb[i]);
            int c = (p.spec.round == LBQ_ROUND_STOCHASTIC)
                ? lbq_table_code(p.q, p.mid, p.nlev, p.npow2, xn, 1,
                                 lbq_philox_uniform(p.spec.seed, p.stream, (uint64_t)i))
                : lbq_code_nearest(p.mid, p.npow2, xn);
            float ref = p.q[c] * sb[i];
            if (!table) { c = cb[i]; ref = xb[i]; }
            if (s.map == lbq_map_find("log")) {
                /* the qcore reference of both log-map variants, nearest and stochastic (the same
                 * Philox draw per element index), with the portable run's scale and alpha */
                float alpha = pb[i / p.block];
                int nmax = (1 << p.bits) - 1, sr = p.spec.round == LBQ_ROUND_STOCHASTIC;
                float u = sr ? lbq_philox_uniform(p.spec.seed, p.stream, (uint64_t)i) : 0.0f;
                float xl = lbq_normalize(x[i], sb[i]);
                c = p.spec.guarded ? lbq_code_log(xl, alpha, nmax, sr, u) : lbq_code_log_solo(xl, alpha, nmax, sr, u);
                ref = lbq_log_level(alpha, c) * sb[i];
                nref_log += 1;
            } else if (is_fp8 && !p.spec.dre) {
                /* plain fp8: the element function on the portable run's scale */
                ref = lbq_fp8_qdq(x[i], sb[i], e5m2, NULL, &c);
                nref_fp8 += 1;
            } else if (is_fp8) {
                /* COAT: the group's statistics and parameters recomputed by the qcore functions */
                int64_t g0 = (i / p.block) * p.block, gn = n - g0 < p.block ? n - g0 : p.block;
                float mx, mn, s0, k0, gg0;
                lbq_coat_group_stats(x + g0, gn, p.block, &mx, &mn);
                lbq_dre_params(mx, mn, e5m2, &s0, &k0, &gg0);
                if (!same_bits(s0, sb[i]) || !same_bits(k0, pb[2 * (i / p.block)]) || !same_bits(gg0, pb[2 * (i / p.block) + 1])) bad++;
                ref = lbq_dre_qdq_elem(x[i], s0, k0, gg0, e5m2, &c);
                nref_dre += 1;
            }
            if (!same_bits(xa[i], xb[i]) || ca[i] != cb[i] || !same_bits(sa[i], sb[i]) ||
                !same_bits(pa[i], pb[i]) || cb[i] != c || !same_bits(xb[i], ref)) {
                fprintf(stderr, "%s role %d: element %lld x=%a: simd (%a, code %d, scale %a) "
                        "portable (%a, code %d, scale %a) reference (%a, code %d)\n", text, role,
                        (long long)i, (double)x[i], (double)xa[i], ca[i], (double)sa[i],
                        (double)xb[i], cb[i], (double)sb[i], (double)ref, c);
                bad++;
            }
        }
        CHECK_MSG(bad == 0, "%s: simd, portable and reference differ", text);
        g_bad += bad;
        /* every lower SIMD level available (the AVX2 loops where AVX-512 is the best): the same bits */
        for (int lv = lbq_simd_level() - 1; lv >= 2; lv--) {
            lbq_simd_enable(lv);
            CHECK_OK(lbq_qdq(&p, &st, 0, n, x, xb, cb, sb, pb, NULL));
            lbq_simd_enable(1);
            int diff = 0;
            for (int64_t i = 0; i < n; i++)
                diff += !same_bits(xa[i], xb[i]) || ca[i] != cb[i] || !same_bits(sa[i], sb[i]) || !same_bits(pa[i], pb[i]);
            CHECK_MSG(diff == 0, "%s: simd level %d differs from level %d in %d elements", text, lv, lbq_simd_level(), diff);
            g_bad += diff;
            nlevel_cmp += diff == 0;
        }
        /* the same through the scratch buffer (no scale output), and split at a block boundary */
        if (!p.norm->global_stats) {
            int64_t cut = p.norm->blockwise ? (n / 2 / p.block) * p.block : n / 2;
            CHECK_OK(lbq_qdq(&p, &st, 0, cut, x, xb, NULL, NULL, NULL, scr));
            CHECK_OK(lbq_qdq(&p, &st, cut, n - cut, x + cut, xb + cut, NULL, NULL, NULL, scr));
            int diff = 0;
            for (int64_t i = 0; i < n; i++) diff += !same_bits(xa[i], xb[i]);
            CHECK_MSG(diff == 0, "%s: split run differs in %d elements", text, diff);
        }
        lbq_tstats_free(&st);
        free(x); free(xa); free(xb); free(sa); free(sb); free(scr); free(ca); free(cb); free(pa); free(pb);
    }
}

static int cmpf(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* lbq_quantile_nonneg (SIMD and portable) == sorting, on arrays with duplicates, zeros, denormals
 * and wide or narrow ranges */
static void test_quantile(void)
{
    static const double ps[] = { 0.0, 0.1, 0.25, 0.5, 0.9, 0.999, 1.0 };
    int bad = 0, cases = 0, per_level[4] = { 0 };
    lbq_simd_enable(1);
    const int best = lbq_simd_level();
    for (int n = 1; n <= 300; n += (n < 40 ? 1 : n == 114 ? 13 : n == 127 ? 1 : 37)) {   /* 128: a full AVX-512 set */
        float *a = malloc(sizeof(float) * (size_t)n), *srt = malloc(sizeof(float) * (size_t)n);
        for (int kind = 0; kind < 5; kind++) {
            for (int i = 0; i < n; i++) {
                double r = t_uniform();
                float v;
                switch (kind) {
                case 0: v = (float)pow(10.0, -12.0 + 12.0 * r); break;            /* wide */
                case 1: v = 1.0f + (float)r * 1e-6f; break;                      /* narrow */
                case 2: v = (float)(int)(r * 4.0); break;                        /* many ties, zeros */
                case 3: v = (r < 0.5) ? 0.0f : (r < 0.7 ? 1e-42f : (float)r); break; /* zeros, denormals */
                default: v = (float)r; break;
                }
                a[i] = v;
            }
            for (int pi = 0; pi < 8; pi++) {
                double p = pi < 7 ? ps[pi] : t_uniform();
                memcpy(srt, a, sizeof(float) * (size_t)n);
                qsort(srt, (size_t)n, sizeof(float), cmpf);
                int64_t lo;
                float w;
                lbq_quantile_pos(n, p, &lo, &w);
                float ref = lbq_quantile_needs_hi(n, lo, w) ? lbq_quantile_lerp(srt[lo], srt[lo + 1], w) : srt[lo];
                for (int simd = 0; simd <= best; simd += (simd == 0 ? 2 : 1)) {   /* every level available */
                    lbq_simd_enable(simd);
                    float got = lbq_quantile_nonneg(a, n, p);
                    per_level[simd]++;
                    if (!same_bits(got, ref) && bad++ < 5)
                        fprintf(stderr, "quantile n=%d kind=%d p=%g simd=%d: %a, sorted %a\n", n, kind, p, simd, (double)got, (double)ref);
                    cases++;
                }
                lbq_simd_enable(1);
            }
        }
        free(a); free(srt);
    }
    CHECK_MSG(bad == 0, "quantile: %d of %d cases differ from sorting", bad, cases);
    printf("quantile: %d cases, per simd level 0/2/3: %d/%d/%d\n", cases, per_level[0], per_level[2], per_level[3]);
    CHECK(cases > 1000);
}

/* the split accumulation (lbq_acc_base + lbq_acc_quant): SIMD == portable bit for bit, and equal to
 * the one-pass lbq_acc_add2 (counts and histograms exactly, sums to rounding) */
static void test_accum(void)
{
    const int64_t n = 4099;             /* not a multiple of 8 */
    float *m = malloc(sizeof(float) * n), *mh = malloc(sizeof(float) * n), *v = malloc(sizeof(float) * n),
          *vh = malloc(sizeof(float) * n), tmp[129];
    double *ue = malloc(sizeof(double) * n);
    uint8_t *ok = malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) {
        double r = t_uniform();
        m[i] = (float)(t_normal() * 1e-3);
        v[i] = (float)(1e-8 * t_uniform() * t_uniform());
        mh[i] = m[i] * (float)(1.0 + 0.1 * t_normal());
        vh[i] = v[i] * (float)(0.5 + t_uniform());
        if (r < 0.05) vh[i] = 0.0f;                     /* zero-point collapse */
        else if (r < 0.08) { m[i] = 0.0f; mh[i] = (r < 0.07) ? 0.0f : 1e-6f; }
        else if (r < 0.09) mh[i] = 0.0f;
        else if (r < 0.095) v[i] = NAN;
        else if (r < 0.10) m[i] = INFINITY;
        else if (r < 0.105) { v[i] = 0.0f; vh[i] = 0.0f; }
        else if (r < 0.11) { v[i] = 0.0f; vh[i] = 1e-12f; }     /* a v zero lifted (structural-zero split) */
        else if (r < 0.12) mh[i] = m[i];
        else if (r < 0.13) mh[i] = m[i] * 1e-30f;        /* relative error near 1 and tiny values */
        else if (r < 0.14) mh[i] = m[i] * 3e7f;         /* relative error above 1e6 */
    }
    static const double epss[] = { 1e-8, 1e-300, 1e-30 };
    for (int ei = 0; ei < 3; ei++) {
        struct lbq_update_cfg cfg = { 0.9, 0.05, epss[ei], 128, 10.0 };
        struct lbq_acc *r = calloc(4, sizeof *r);
        for (int simd = 0; simd < 2; simd++) {
            lbq_simd_enable(simd);
            lbq_acc_avx512(0);              /* the AVX2 compilation of the metric loop */
            lbq_acc_base(&r[simd], &cfg, n, m, v, ue, ok, tmp);
            lbq_acc_quant(&r[simd], &cfg, n, m, mh, v, vh, ue, ok);
        }
        lbq_simd_enable(1);
        CHECK_MSG(memcmp(&r[0], &r[1], sizeof r[0]) == 0, "eps %g: SIMD and portable accumulations differ", epss[ei]);
        if (lbq_acc_avx512(1)) {            /* its AVX-512VL compilation, where the CPU has it */
            lbq_acc_base(&r[3], &cfg, n, m, v, ue, ok, tmp);
            lbq_acc_quant(&r[3], &cfg, n, m, mh, v, vh, ue, ok);
            CHECK_MSG(memcmp(&r[3], &r[1], sizeof r[0]) == 0, "eps %g: AVX-512VL and AVX2 accumulations differ", epss[ei]);
            if (ei == 0) printf("accum: AVX-512VL metric loop compared\n");
        }
        lbq_acc_add2(&r[2], &cfg, n, m, mh, v, vh, 1);
        const struct lbq_state_acc *S[2] = { &r[1].m, &r[1].v }, *R[2] = { &r[2].m, &r[2].v };
        for (int s = 0; s < 2; s++) {
            CHECK_EQ_INT(S[s]->n, R[s]->n);
            CHECK_EQ_INT(S[s]->nonfinite, R[s]->nonfinite);
            CHECK_EQ_INT(S[s]->zero_in, R[s]->zero_in);
            CHECK_EQ_INT(S[s]->zero_in_moved, R[s]->zero_in_moved);
            CHECK_EQ_INT(S[s]->pos, R[s]->pos);
            CHECK_EQ_INT(S[s]->pos_to_zero, R[s]->pos_to_zero);
            CHECK_EQ_INT(S[s]->nonzero_to_zero, R[s]->nonzero_to_zero);
            CHECK_REL(S[s]->lifted_abs_uh, R[s]->lifted_abs_uh, 1e-12);
            CHECK_REL(S[s]->lifted_sq_du, R[s]->lifted_sq_du, 1e-12);
            CHECK_EQ_INT(S[s]->blocks, R[s]->blocks);
            CHECK_EQ_INT(S[s]->outlier_blocks, R[s]->outlier_blocks);
            CHECK(memcmp(S[s]->rel_hist, R[s]->rel_hist, sizeof S[s]->rel_hist) == 0);
            CHECK_REL(S[s]->sum_sq_err, R[s]->sum_sq_err, 1e-12);
            CHECK_REL(S[s]->sum_sq, R[s]->sum_sq, 1e-12);
            CHECK_REL(S[s]->sum_abs_err, R[s]->sum_abs_err, 1e-12);
            CHECK_REL(S[s]->sum_abs, R[s]->sum_abs, 1e-12);
            CHECK(S[s]->max_abs_err == R[s]->max_abs_err);
        }
        const struct lbq_update_acc *u = &r[1].u, *w = &r[2].u;
        CHECK_EQ_INT(u->n, w->n);
        CHECK_EQ_INT(u->blowup, w->blowup);
        CHECK_EQ_INT(u->shrink, w->shrink);
        CHECK(memcmp(u->h_exact, w->h_exact, sizeof u->h_exact) == 0);
        CHECK(memcmp(u->h_quant, w->h_quant, sizeof u->h_quant) == 0);
        CHECK(isfinite(u->sum_sq_u) && isfinite(u->sum_sq_diff) && isfinite(u->sum_dot));   /* scaled by eps: no overflow */
        CHECK_REL(u->sum_sq_u, w->sum_sq_u, 1e-12);
        CHECK_REL(u->sum_sq_uh, w->sum_sq_uh, 1e-12);
        CHECK_REL(u->sum_dot, w->sum_dot, 1e-12);
        CHECK_REL(u->sum_sq_diff, w->sum_sq_diff, 1e-12);
        CHECK_REL(u->sum_abs_u, w->sum_abs_u, 1e-12);
        CHECK_REL(u->sum_abs_uh, w->sum_abs_uh, 1e-12);
        CHECK_REL(u->collapsed_abs_u, w->collapsed_abs_u, 1e-12);
        CHECK_REL(u->collapsed_abs_uh, w->collapsed_abs_uh, 1e-12);
        CHECK(u->n > 3000 && u->blowup > 0 && u->collapsed_abs_u > 0.0);
        CHECK(r[1].m.lifted_abs_uh > 0.0 && r[1].v.lifted_abs_uh > 0.0 && r[1].m.nonzero_to_zero > 0 && r[1].v.nonzero_to_zero > 0);
        /* a state passed as its own x^ (the engine's fp32 states): the AVX2 loop's shortcut gives
         * the bits of a pass over an equal copy */
        {
            float *mc = malloc(sizeof(float) * n), *vc = malloc(sizeof(float) * n);
            memcpy(mc, m, sizeof(float) * n); memcpy(vc, v, sizeof(float) * n);
            struct lbq_acc *q = calloc(4, sizeof *q);
            lbq_acc_base(&q[0], &cfg, n, m, v, ue, ok, tmp); q[1] = q[0]; q[2] = q[0]; q[3] = q[0];
            lbq_acc_quant(&q[0], &cfg, n, m, m, v, vh, ue, ok);
            lbq_acc_quant(&q[1], &cfg, n, m, mc, v, vh, ue, ok);
            lbq_acc_quant(&q[2], &cfg, n, m, mh, v, v, ue, ok);
            lbq_acc_quant(&q[3], &cfg, n, m, mh, v, vc, ue, ok);
            CHECK_MSG(memcmp(&q[0], &q[1], sizeof q[0]) == 0, "eps %g: m as its own x^ differs from a copy", epss[ei]);
            CHECK_MSG(memcmp(&q[2], &q[3], sizeof q[2]) == 0, "eps %g: v as its own x^ differs from a copy", epss[ei]);
            CHECK(q[0].m.rel_hist[0] == q[0].m.n && q[0].m.sum_sq_err == 0.0);
            free(q); free(mc); free(vc);
        }
        free(r);
    }
    free(m); free(mh); free(v); free(vh); free(ue); free(ok);
}

/* lbq_fp8_run (SIMD and portable) == lbq_fp8_qdq element by element, over a stride through all
 * 2^32 float bit patterns (zeros, denormals, NaN, Inf, huge and tiny values of both signs) and
 * every tie between two adjacent fp8 values, at scale 1 and at random scales, both formats, both
 * scale rules */
static void test_fp8_direct(void)
{
    const int64_t n = 200000;
    float *x = malloc(sizeof(float) * n), *sc0 = malloc(sizeof(float) * n), *sc = malloc(sizeof(float) * n),
          *y = malloc(sizeof(float) * n);
    uint8_t *c = malloc((size_t)n);
    int bad = 0;
    long long checked = 0;
    for (int e5 = 0; e5 < 2; e5++)
        for (int coat = 0; coat < 2; coat++) {
            const float fmax = e5 ? 57344.0f : 448.0f;
            int64_t m = 0;
            for (uint64_t u = 0; u < (1ull << 32) && m < n / 2; u += 65521) x[m++] = lbq_u2f((uint32_t)u);
            for (int k = 0; k + 1 < 256 && m + 4 < n; k++) {      /* ties and their neighbours */
                float a = lbq_fp8_value(k, e5), b = lbq_fp8_value(k + 1, e5);
                if (!(b > a)) continue;
                float t = (a + b) * 0.5f;
                x[m++] = t; x[m++] = -t; x[m++] = nextafterf(t, 0.0f); x[m++] = nextafterf(t, INFINITY);
            }
            while (m < n) x[m++] = (float)(t_normal() * pow(10.0, -30.0 + 40.0 * t_uniform()));
            for (int64_t i = 0; i < n; i++) {
                double r = t_uniform();
                sc0[i] = r < 0.6 ? fmax : r < 0.7 ? 0.0f : r < 0.75 ? 1e-30f : (float)pow(10.0, -20.0 + 30.0 * t_uniform());
            }
            FOR_LEVELS(simd) {
                memcpy(sc, sc0, sizeof(float) * n);
                lbq_fp8_run(n - simd, x, sc, y, c, e5, coat);          /* odd length: a portable tail */
                for (int64_t i = 0; i < n - simd; i++) {
                    int bits = 0;
                    float s = lbq_fp8_scale(sc0[i], e5, coat);
                    float ref = lbq_fp8_qdq(x[i], s, e5, NULL, &bits);
                    checked++;
                    if ((!same_bits(ref, y[i]) || bits != c[i] || !same_bits(s, sc[i])) && bad++ < 5)
                        fprintf(stderr, "fp8 e5m2=%d coat=%d simd=%d x=%a s=%a: %a code %d, reference %a code %d\n",
                                e5, coat, simd, (double)x[i], (double)s, (double)y[i], c[i], (double)ref, bits);
                }
            }
            lbq_simd_enable(1);
        }
    CHECK_MSG(bad == 0, "fp8: %d of %lld elements differ from lbq_fp8_qdq", bad, checked);
    free(x); free(sc0); free(sc); free(y); free(c);
}

/* lbq_dre_group (SIMD and portable) == the qcore functions on groups built for COAT's edge cases:
 * zeros that drop the partial minima of the warp tree, all-zero and constant groups (k = inf),
 * NaN, Inf, denormals, overflowing |x| / g, ragged groups, groups past 1024 */
static void test_dre_direct(void)
{
    static const int64_t Bs[] = { 128, 32, 64, 256, 1024, 2048, 100 };
    float x[2048], y[2048];
    uint8_t c[2048];
    int bad = 0;
    long long checked = 0, groups = 0;
    for (int e5 = 0; e5 < 2; e5++)
        for (int bi = 0; bi < 7; bi++)
            for (int kind = 0; kind < 12; kind++)
                for (int rep = 0; rep < 6; rep++) {
                    const int64_t B = Bs[bi];
                    int64_t n = (kind == 11) ? 1 + (int64_t)(t_uniform() * (double)(B - 1)) : B;
                    for (int64_t i = 0; i < n; i++) {
                        double r = t_uniform();
                        float v = (float)(t_normal() * pow(10.0, -6.0 + 6.0 * t_uniform()));
                        switch (kind) {
                        case 0: break;
                        case 1: if (r < 0.3) v = 0.0f; break;                       /* zeros: the quirk */
                        case 2: v = 0.0f; break;                                    /* all zero */
                        case 3: v = 0.25f; break;                                   /* constant: k = inf */
                        case 4: if (r < 0.05) v = NAN; else if (r < 0.1) v = (r < 0.075) ? INFINITY : -INFINITY; break;
                        case 5: if (r < 0.3) v = 1e-42f * (float)(1 + (int)(r * 10)); break;   /* denormals */
                        case 6: v = (float)(t_normal() * 1e30); if (r < 0.1) v = 1e-30f; break; /* x / g overflows */
                        case 7: v = (float)(t_normal() * 1e-36); break;             /* tiny group */
                        case 8: v = (i % 32 == 0) ? 0.0f : v; break;                /* lane 0 of each warp */
                        case 9: v = (r < 0.5) ? -0.0f : v; break;
                        case 10: v = (float)(1.0 + 1e-6 * t_normal()); break;        /* M / m0 close to 1 */
                        default: if (r < 0.1) v = 0.0f; break;
                        }
                        x[i] = v;
                    }
                    float mx, mn, s, k, g;
                    lbq_coat_group_stats(x, n, B, &mx, &mn);
                    lbq_dre_params(mx, mn, e5, &s, &k, &g);
                    groups++;
                    FOR_LEVELS(simd) {
                        float kk, gg, ss;
                        lbq_dre_group(x, n, B, e5, y, c, &ss, &kk, &gg);
                        if ((!same_bits(kk, k) || !same_bits(gg, g) || !same_bits(ss, s)) && bad++ < 5)
                            fprintf(stderr, "dre B=%lld kind %d simd=%d: s %a k %a g %a, reference %a %a %a\n", (long long)B, kind, simd,
                                    (double)ss, (double)kk, (double)gg, (double)s, (double)k, (double)g);
                        for (int64_t i = 0; i < n; i++) {
                            int bits = 0;
                            float ref = lbq_dre_qdq_elem(x[i], s, k, g, e5, &bits);
                            checked++;
                            if ((!same_bits(ref, y[i]) || bits != c[i]) && bad++ < 5)
                                fprintf(stderr, "dre e5m2=%d B=%lld kind %d simd=%d x=%a: %a code %d, reference %a code %d\n",
                                        e5, (long long)B, kind, simd, (double)x[i], (double)y[i], c[i], (double)ref, bits);
                        }
                    }
                    lbq_simd_enable(1);
                }
    CHECK_MSG(bad == 0, "dre: %d differences in %lld elements of %lld groups", bad, checked, groups);
}

/* lbq_log_block_sr and lbq_log_block at every SIMD level available (portable, AVX2, AVX-512) == the
 * qcore codes with lbq_philox_uniform at every index, including runs of indices that cross a
 * multiple of 2^32 (the high counter word changes) */
static void test_log_sr_direct(void)
{
    lbq_simd_enable(1);
    const int best = lbq_simd_level();
    int nlev = 0, levels[3];
    levels[nlev++] = 0;
    for (int lv = 2; lv <= best; lv++) levels[nlev++] = lv;
    static const uint64_t starts[] = { 0, 12345, 0xfffffff0ull, 0x1fffffffbull, 0xffffffff00000003ull };
    float x[300], y[300], lev[LBQ_MAX_LEVELS];
    uint8_t c[300];
    long long per_level[4] = { 0 };
    int bad = 0;
    long long checked = 0;
    for (int si = 0; si < 5; si++)
        for (int bits = 1; bits <= 8; bits++)
            for (int solo = 0; solo < 2; solo++) {
                const int nmax = (1 << bits) - 1, n = 300;
                for (int i = 0; i < n; i++) {
                    double r = t_uniform();
                    x[i] = r < 0.05 ? 0.0f : r < 0.07 ? -1e-3f : r < 0.09 ? NAN : r < 0.1 ? INFINITY :
                           r < 0.12 ? 1e-40f : (float)(t_uniform() * 1e-3);
                }
                const float delta = 1e-3f, alpha = 0.3f + 0.6f * (float)t_uniform();
                memset(lev, 0, sizeof lev);
                lev[0] = 1.0f;
                for (int k = 1; k <= nmax; k++) lev[k] = lev[k - 1] * alpha;
                for (int li = 0; li < nlev; li++)
                    for (int sr = 0; sr < 2; sr++) {
                        const int simd = levels[li];
                        lbq_simd_enable(simd);
                        if (sr) lbq_log_block_sr(x, n, delta, alpha, nmax, lev, y, c, solo, 0x1234567890abcdefull, 3, starts[si]);
                        else lbq_log_block(x, n, delta, alpha, nmax, lev, y, c, solo);
                        for (int i = 0; i < n; i++) {
                            float u = sr ? lbq_philox_uniform(0x1234567890abcdefull, 3, starts[si] + (uint64_t)i) : 0.0f;
                            float xn = lbq_normalize(x[i], delta);
                            int cr = solo ? lbq_code_log_solo(xn, alpha, nmax, sr, u) : lbq_code_log(xn, alpha, nmax, sr, u);
                            checked++;
                            per_level[li]++;
                            if ((cr != c[i] || !same_bits(y[i], lbq_log_level(alpha, cr) * delta)) && bad++ < 5)
                                fprintf(stderr, "log start %llx b%d solo=%d sr=%d simd=%d i=%d: code %d, reference %d\n",
                                        (unsigned long long)starts[si], bits, solo, sr, simd, i, c[i], cr);
                        }
                    }
                lbq_simd_enable(1);
            }
    CHECK_MSG(bad == 0, "log sr: %d of %lld elements differ from the qcore reference", bad, checked);
    for (int li = 0; li < nlev; li++) {
        printf("log map direct: simd level %d, %lld elements checked\n", levels[li], per_level[li]);
        CHECK(per_level[li] > 10000);
    }
}

/* The engine's histogram-bin tables (src/accum.c) rest on lbq_log2f being monotone on positive
 * floats.  Proof by exhaustion: every positive float x reduces to e + L(m') with the same L over
 * the reduced mantissas m' in [0.7071, 1.4142] for every exponent, so the check is L over every
 * float of that interval (8.4 million) plus, for every exponent, the junctions between reduced
 * intervals (at sqrt(2)·2^e) and between binades, and the subnormal range.  Then the tables are
 * compared with the scalar bin functions at every step of the bins (found here by bisection over
 * the bit patterns), around every bucket edge, on a stride through all 2^32 patterns and on 4
 * million random patterns. */
static int rel_bin_scalar(float f) { return lbq_rel_bin(f, lbq_log2f_or0(f)); }
static int h_bin_scalar(float f) { return lbq_h_bin(f, lbq_log2f_or0(f)); }

static void test_bin_tables(void)
{
    /* 1. monotone: the reduced interval */
    long long bad = 0, n = 0;
    float prev = lbq_log2f(0.70710677f);
    for (uint32_t u = lbq_f2u(0.70710677f) + 1; u <= lbq_f2u(1.41421356f); u++, n++) {
        float l = lbq_log2f(lbq_u2f(u));
        bad += l < prev;
        prev = l;
    }
    CHECK(n > 8000000);
    CHECK_MSG(bad == 0, "lbq_log2f decreases %lld times on the reduced interval", bad);
    /* junctions and binade edges for every exponent, and the whole subnormal range */
    bad = 0;
    for (int e = -149; e <= 127; e++) {
        float a = ldexpf(1.41421356f, e), b = ldexpf(1.0f, e);
        uint32_t us[2] = { lbq_f2u(a), lbq_f2u(b) };
        for (int j = 0; j < 2; j++)
            for (uint32_t u = us[j] > 64 ? us[j] - 64 : 1; u < us[j] + 64 && u < 0x7f800000u; u++)
                bad += lbq_log2f(lbq_u2f(u + 1)) < lbq_log2f(lbq_u2f(u));
    }
    for (uint32_t u = 1; u < 0x00800000u; u += 7) bad += lbq_log2f(lbq_u2f(u + 7 < 0x00800000u ? u + 7 : u)) < lbq_log2f(lbq_u2f(u));
    CHECK_MSG(bad == 0, "lbq_log2f is not monotone at %lld junctions", bad);

    /* 2. the tables against the scalar functions */
    CHECK(lbq_acc_table_bin(0, 1.0f) >= 0);
    for (int w = 0; w < 2; w++) {
        int (*g)(float) = w ? h_bin_scalar : rel_bin_scalar;
        long long wrong = 0, steps = 0, cnt = 0;
#define TB(u_) do { float f_ = lbq_u2f((uint32_t)(u_)); cnt++; if (lbq_acc_table_bin(w, f_) != g(f_)) { \
            if (wrong++ < 5) fprintf(stderr, "table %d: pattern 0x%08x: %d vs %d\n", w, (unsigned)(u_), lbq_acc_table_bin(w, f_), g(f_)); } } while (0)
        /* every step of g over the positive finite patterns, by bisection */
        uint32_t lo = 1;
        int glo = g(lbq_u2f(lo)), ghi = g(lbq_u2f(0x7f7fffffu));
        while (glo != ghi) {
            uint32_t a = lo, c = 0x7f7fffffu;       /* first pattern after lo with g != glo */
            while (c - a > 1) { uint32_t mdl = a + (c - a) / 2; if (g(lbq_u2f(mdl)) != glo) c = mdl; else a = mdl; }
            for (int d = -3; d <= 3; d++) TB(c + d);
            steps++;
            lo = c; glo = g(lbq_u2f(lo));
        }
        for (uint32_t u = 0x10000000u; u < 0x50000000u; u += 1u << 17) for (int d = -2; d <= 2; d++) TB(u + d);
        for (uint64_t u = 0; u < (1ull << 32); u += 65521) TB(u);
        static const uint32_t sp[] = { 0, 0x80000000u, 1, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc00000u, 0x7f7fffffu, 0x80000001u };
        for (int k = 0; k < (int)(sizeof sp / sizeof sp[0]); k++) TB(sp[k]);
        for (int k = 0; k < 4000000; k++) TB((uint32_t)(t_uniform() * 4294967296.0));
#undef TB
        CHECK_MSG(steps > (w ? 200 : 500), "table %d: only %lld steps", w, steps);
        CHECK_MSG(wrong == 0, "table %d: %lld of %lld patterns differ from the scalar bin", w, wrong, cnt);
    }
}
/* lbq_log_params_blocks at every SIMD level == lbq_log_params and lbq_log2f(alpha) per block, with
 * zero, tiny (below SOLO's 1e-12), subnormal and equal maxima, zero quantiles, quantile = max,
 * no positive value (minpos = inf) and every N; nb not a multiple of 8 */
static void test_log_params(void)
{
    enum { NB = 203 };
    float d[NB], q[NB], mp[NB], sc[NB], al[NB], la[NB];
    lbq_simd_enable(1);
    const int best = lbq_simd_level();
    int bad = 0;
    long long checked = 0, general = 0;
    for (int rep = 0; rep < 40; rep++)
        for (int bits = 1; bits <= 8; bits++)
            for (int guarded = 0; guarded < 2; guarded++) {
                const int nmax = (1 << bits) - 1;
                for (int b = 0; b < NB; b++) {
                    double r = t_uniform();
                    float dd = (float)(1e-3 * (0.01 + t_uniform()));
                    float qq = dd * (float)t_uniform() * (float)t_uniform();
                    float mm = qq * 0.5f;
                    if (r < 0.05) { dd = 0.0f; qq = 0.0f; mm = INFINITY; }
                    else if (r < 0.10) { dd = (float)(1e-14 * (0.1 + t_uniform())); qq = dd * 0.3f; mm = qq; }
                    else if (r < 0.15) { qq = 0.0f; mm = dd * (float)t_uniform(); }
                    else if (r < 0.18) { qq = 0.0f; mm = INFINITY; }
                    else if (r < 0.22) qq = dd;
                    else if (r < 0.25) { dd = 1e-40f; qq = 1e-42f; mm = 1e-45f; }
                    else if (r < 0.28) { qq = 1e-45f; mm = 1e-45f; }
                    else if (r < 0.30) { dd = 3e38f; qq = 1e-38f; mm = 1e-45f; }
                    d[b] = dd; q[b] = qq; mp[b] = mm;
                }
                for (int simd = 0; simd <= best; simd += (simd == 0 ? 2 : 1)) {
                    lbq_simd_enable(simd);
                    lbq_log_params_blocks(NB, d, q, mp, nmax, guarded, sc, al, la);
                    for (int b = 0; b < NB; b++) {
                        float s0, a0 = lbq_log_params(d[b], q[b], mp[b], nmax, guarded, &s0);
                        float l0 = (a0 >= 0.0f && a0 < 1.0f) ? lbq_log2f(a0) : 0.0f;
                        checked++;
                        general += a0 > 0.0f && a0 < 1.0f;
                        if ((!same_bits(s0, sc[b]) || !same_bits(a0, al[b]) || !same_bits(l0, la[b])) && bad++ < 5)
                            fprintf(stderr, "log params simd %d b%d guarded %d: delta %a q %a minpos %a: (%a %a %a), scalar (%a %a %a)\n",
                                    simd, bits, guarded, (double)d[b], (double)q[b], (double)mp[b], (double)sc[b],
                                    (double)al[b], (double)la[b], (double)s0, (double)a0, (double)l0);
                    }
                }
                lbq_simd_enable(1);
            }
    printf("log params: %lld blocks checked (%lld with 0 < alpha < 1), levels 0..%d\n", checked, general, best);
    CHECK_MSG(bad == 0, "log params: %d of %lld blocks differ from lbq_log_params", bad, checked);
    CHECK(general > 10000);
}


/* lbq_dre_blocks (every level) == the qcore functions group by group, on runs of groups of mixed
 * kinds (so that a batch of 8 groups has lanes whose parameters take the scalar function: all-zero,
 * constant and overflowing groups beside ordinary ones), with a ragged last group; scales per
 * block and per element, codes and k, g */
static void test_dre_blocks(void)
{
    static const int64_t Bs[] = { 128, 32, 64, 96, 1024, 100, 2048 };
    int bad = 0;
    long long checked = 0;
    for (int e5 = 0; e5 < 2; e5++)
        for (int bi = 0; bi < 7; bi++)
            for (int rep = 0; rep < 3; rep++) {
                const int64_t B = Bs[bi], ng = B >= 1024 ? 11 : 37, n = (ng - 1) * B + 1 + (int64_t)(t_uniform() * (double)(B - 1));
                float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n), *sc = malloc(sizeof(float) * n),
                      *bs = malloc(sizeof(float) * ng), *bp = malloc(sizeof(float) * 2 * ng);
                uint8_t *c = malloc((size_t)n);
                for (int64_t g0 = 0; g0 < n; g0 += B) {
                    int kind = (int)(t_uniform() * 9);
                    for (int64_t i = g0; i < n && i < g0 + B; i++) {
                        double r = t_uniform();
                        float v = (float)(t_normal() * pow(10.0, -6.0 + 6.0 * t_uniform()));
                        switch (kind) {
                        case 1: if (r < 0.3) v = 0.0f; break;
                        case 2: v = 0.0f; break;
                        case 3: v = 0.25f; break;
                        case 4: if (r < 0.05) v = NAN; else if (r < 0.1) v = (r < 0.075) ? INFINITY : -INFINITY; break;
                        case 5: if (r < 0.3) v = 1e-42f * (float)(1 + (int)(r * 10)); break;
                        case 6: v = (float)(t_normal() * 1e30); if (r < 0.1) v = 1e-30f; break;
                        case 7: v = (float)(t_normal() * 1e-36); break;
                        case 8: v = (float)(1.0 + 1e-6 * t_normal()); break;
                        default: break;
                        }
                        x[i] = v;
                    }
                }
                FOR_LEVELS(simd) {
                    for (int per_block = 0; per_block < 2; per_block++) {
                        lbq_dre_blocks(n, B, x, per_block ? bs : sc, per_block, y, c, bp, e5);
                        for (int64_t g0 = 0; g0 < n; g0 += B) {
                            const int64_t gn = n - g0 < B ? n - g0 : B, b = g0 / B;
                            float mx, mn, s0, k0, gg0;
                            lbq_coat_group_stats(x + g0, gn, B, &mx, &mn);
                            lbq_dre_params(mx, mn, e5, &s0, &k0, &gg0);
                            if ((!same_bits(k0, bp[2 * b]) || !same_bits(gg0, bp[2 * b + 1]) ||
                                 (per_block && !same_bits(s0, bs[b]))) && bad++ < 5)
                                fprintf(stderr, "dre blocks B=%lld level %d group %lld: s k g %a %a %a, reference %a %a %a\n",
                                        (long long)B, simd, (long long)b, (double)(per_block ? bs[b] : sc[g0]),
                                        (double)bp[2 * b], (double)bp[2 * b + 1], (double)s0, (double)k0, (double)gg0);
                            for (int64_t i = g0; i < g0 + gn; i++) {
                                int bits = 0;
                                float ref = lbq_dre_qdq_elem(x[i], s0, k0, gg0, e5, &bits);
                                checked++;
                                if ((!same_bits(ref, y[i]) || bits != c[i] || (!per_block && !same_bits(s0, sc[i]))) && bad++ < 5)
                                    fprintf(stderr, "dre blocks B=%lld level %d x=%a: %a code %d, reference %a code %d\n",
                                            (long long)B, simd, (double)x[i], (double)y[i], c[i], (double)ref, bits);
                            }
                        }
                    }
                }
                lbq_simd_enable(1);
                free(x); free(y); free(sc); free(bs); free(bp); free(c);
            }
    CHECK_MSG(bad == 0, "dre blocks: %d differences in %lld elements", bad, checked);
    CHECK(checked > 1000000);
}

/* lbq_pack / lbq_unpack at every level == the bit-stream definition (lbq_pack_put / lbq_pack_get of
 * qcore.h), for 1-8 bits and lengths around the 8-code groups, with codes in range and with codes
 * that have bits at or above b (which the definition ORs into the neighbours) */
static void test_pack_levels(void)
{
    int bad = 0;
    for (int bits = 1; bits <= 8; bits++)
        for (int n = 1; n <= 200; n += (n < 40 ? 1 : 23))
            for (int over = 0; over < 2; over++) {
                uint8_t codes[200], ref[200], out[208], back[200];
                const int64_t nb = ((int64_t)n * bits + 7) / 8;
                for (int i = 0; i < n; i++) codes[i] = (uint8_t)(t_uniform() * (1 << bits));
                if (over && bits < 8) codes[(int)(t_uniform() * n)] |= (uint8_t)(1u << bits);
                memset(ref, 0, sizeof ref);
                if (bits == 8) memcpy(ref, codes, (size_t)n);
                else for (int i = 0; i < n; i++) lbq_pack_put(ref, i, bits, codes[i]);
                FOR_LEVELS(simd) {
                    memset(out, 0xA5, sizeof out);
                    lbq_pack(codes, n, bits, out);
                    if ((memcmp(out, ref, (size_t)nb) != 0 || out[nb] != 0xA5) && bad++ < 5)
                        fprintf(stderr, "pack bits %d n %d over %d level %d differs from lbq_pack_put\n", bits, n, over, simd);
                    memset(back, 0xA5, sizeof back);
                    lbq_unpack(ref, n, bits, back);
                    for (int i = 0; i < n; i++)
                        if (back[i] != (bits == 8 ? ref[i] : lbq_pack_get(ref, i, bits)) && bad++ < 5)
                            fprintf(stderr, "unpack bits %d n %d over %d level %d element %d\n", bits, n, over, simd, i);
                }
                lbq_simd_enable(1);
            }
    CHECK_MSG(bad == 0, "pack: %d differences from the definition", bad);
}

/* lbq_tstats_add (its row runs vectorized) at every level == the portable loops: absmax, non-finite
 * count and every per-index maximum, over shapes whose rows are not multiples of 8, added in
 * chunks that start mid-row, with NaN, Inf, -0 and denormals */
static void test_tstats_levels(void)
{
    static const struct lbq_shape shs[] = {
        { .rank = 2, .dim = { 37, 53 }, .numel = 37 * 53 }, { .rank = 2, .dim = { 9, 4096 }, .numel = 9 * 4096 },
        { .rank = 3, .dim = { 5, 7, 19 }, .numel = 5 * 7 * 19 }, { .rank = 2, .dim = { 300, 3 }, .numel = 900 },
    };
    int bad = 0;
    for (int si = 0; si < 4; si++) {
        const struct lbq_shape *sh = &shs[si];
        const int64_t n = sh->numel;
        float *x = malloc(sizeof(float) * (size_t)n);
        for (int64_t i = 0; i < n; i++) {
            double r = t_uniform();
            x[i] = r < 0.02 ? NAN : r < 0.03 ? -INFINITY : r < 0.04 ? INFINITY : r < 0.06 ? -0.0f : r < 0.08 ? 1e-41f :
                   (float)(t_normal() * pow(10.0, -8.0 + 10.0 * t_uniform()));
        }
        struct lbq_tstats ref, st;
        CHECK_OK(lbq_tstats_init(&ref, sh));
        CHECK_OK(lbq_tstats_init(&st, sh));
        lbq_simd_set(0);
        lbq_tstats_add(&ref, 0, n, x);
        FOR_LEVELS(simd) {
            lbq_tstats_reset(&st);
            for (int64_t o = 0; o < n;) {
                int64_t c = 1 + (int64_t)(t_uniform() * 200);
                if (c > n - o) c = n - o;
                lbq_tstats_add(&st, o, c, x + o);
                o += c;
            }
            int d = !same_bits(st.absmax, ref.absmax) || st.nonfinite != ref.nonfinite || st.seen != ref.seen;
            for (int k = 0; k < sh->rank; k++)
                for (int64_t i = 0; i < sh->dim[k]; i++) d += !same_bits(st.dimmax[k][i], ref.dimmax[k][i]);
            if (d && bad++ < 5) fprintf(stderr, "tstats shape %d level %d: %d differences\n", si, simd, d);
        }
        lbq_simd_enable(1);
        lbq_tstats_free(&ref); lbq_tstats_free(&st);
        free(x);
    }
    CHECK_MSG(bad == 0, "tstats: %d shapes differ between levels", bad);
}

int main(void)
{
    probe_levels();
    printf("simd levels:");
    for (int i = 0; i < g_nlev; i++) printf(" %d", g_levels[i]);
    printf("\n");
    test_pack_levels();
    test_tstats_levels();
    test_dre_blocks();
    test_bin_tables();
    test_fp8_direct();
    test_dre_direct();
    test_log_sr_direct();
    test_log_params();
    test_quantile();
    test_accum();
    printf("simd level %d\n", lbq_simd_level());
    static const struct lbq_shape shapes[] = {
        { .rank = 1, .dim = { 1000 }, .numel = 1000 },
        { .rank = 2, .dim = { 37, 53 }, .numel = 37 * 53 },
        { .rank = 3, .dim = { 5, 7, 11 }, .numel = 385 },
    };
    static const int blocks[] = { 1, 7, 8, 13, 64, 128 };
    int ncase = 0;
    for (int mi = 0; mi < lbq_map_count(); mi++) {
        const struct lbq_map *m = lbq_map_at(mi);
        if (!m->build && !m->qdq) continue;
        if (!strcmp(m->name, "file")) continue;         /* needs a codebook file */
        for (int ni = 0; ni < lbq_norm_count(); ni++) {
            const struct lbq_norm *nm = lbq_norm_at(ni);
            int b0 = m->fixed_bits ? m->fixed_bits : m->min_bits, b1 = m->fixed_bits ? m->fixed_bits : m->max_bits;
            for (int bits = b0; bits <= b1; bits++)
                for (int nz = 0; nz < 2; nz++)
                    for (int sr = 0; sr < 2; sr++)
                        for (int si = 0; si < 3; si++)
                            for (int bi = 0; bi < (nm->blockwise ? 6 : 1); bi++) {
                                char text[128], nname[48];
                                if (nm->blockwise) snprintf(nname, sizeof nname, "%s%d", nm->name, blocks[bi]);
                                else snprintf(nname, sizeof nname, "%s", nm->name);
                                /* log map: the nz pass runs the ':guarded' variant */
                                snprintf(text, sizeof text, "%s-%s:b%d%s%s", nname, m->name, bits,
                                         nz ? (m->needs_block ? ":guarded" : ":nz") : "", sr ? ":sr" : "");
                                for (int li = g_nlev > 1 ? 1 : 0; li < g_nlev; li++) run_one(text, &shapes[si], g_levels[li]);
                                ncase++;
                            }
        }
    }
    /* COAT's variants of the fp8 maps: range expansion and the non-expanded kernel's scale */
    static const char *const fp8v[] = { ":dre", ":coat" };
    for (int mi = 0; mi < 2; mi++)
        for (int vi = 0; vi < 2; vi++)
            for (int ni = 0; ni < lbq_norm_count(); ni++) {
                const struct lbq_norm *nm = lbq_norm_at(ni);
                for (int si = 0; si < 3; si++)
                    for (int bi = 0; bi < (nm->blockwise ? 6 : 1); bi++) {
                        char text[128];
                        if (nm->blockwise) snprintf(text, sizeof text, "%s%d-%s%s", nm->name, blocks[bi], mi ? "fp8e5m2" : "fp8e4m3", fp8v[vi]);
                        else snprintf(text, sizeof text, "%s-%s%s", nm->name, mi ? "fp8e5m2" : "fp8e4m3", fp8v[vi]);
                        for (int li = g_nlev > 1 ? 1 : 0; li < g_nlev; li++) run_one(text, &shapes[si], g_levels[li]);
                        ncase++;
                    }
            }
    printf("%d spec x shape cases; elements checked against qcore: log %lld, fp8 %lld, dre %lld; "
           "runs equal at a lower simd level: %lld\n", ncase, nref_log, nref_fp8, nref_dre, nlevel_cmp);
    CHECK(lbq_simd_level() < 3 || nlevel_cmp > 1000);
    CHECK(nref_log > 10000 && nref_fp8 > 10000 && nref_dre > 10000);
    CHECK(ncase > 100);
    return TEST_END();
}
