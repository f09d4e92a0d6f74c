/* test-simd.c - the vectorized CPU loops (src/simd.c) equal the portable loops and the per-element
 * qcore.h reference (the functions the CUDA kernels use) bit for bit: values, codes and scales, for
 * every registered table map x normalization x bitwidth x sign x zero exclusion, on data with ties
 * (values exactly on a midpoint times the scale), zeros, -0, denormals, NaN, +-Inf, all-zero and
 * all-NaN blocks, and block sizes that are not multiples of the vector width.  Maps that quantize
 * themselves (log, fp8) are checked SIMD against portable, including their per-block parameters;
 * the log map (SOLO's arithmetic and ':guarded', with half-zero, tiny-max and all-zero blocks)
 * also against the qcore.h per-element code.
 * Without AVX2 on the machine both runs take the portable loops and the test still checks them
 * against the reference. */
#include "lbq-impl.h"
#include "lbq-metrics.h"
#include "lbq-test.h"

#include <stdint.h>

static int g_bad;

static int same_bits(float a, float b) { return lbq_f2u(a) == lbq_f2u(b); }

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
    /* SOLO's other edge cases: a block with half zeros (p-quantile 0) and a block whose max is
     * below 1e-12 */
    if (block > 1 && n >= 6 * block) {
        for (int64_t i = 0; i < block; i++) x[4 * block + i] = (i & 1) ? 0.0f : fabsf(x[4 * block + i]) + 1e-3f;
        for (int64_t i = 0; i < block; i++) x[5 * block + i] = (float)(1e-14 * (0.1 + t_uniform()));
    }
}

static void run_one(const char *text, const struct lbq_shape *sh)
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
        lbq_simd_enable(1);
        CHECK_OK(lbq_qdq(&p, &st, 0, n, x, xa, ca, sa, pa, NULL));
        lbq_simd_enable(0);
        CHECK_OK(lbq_qdq(&p, &st, 0, n, x, xb, cb, sb, pb, NULL));
        lbq_simd_enable(1);
        int bad = 0;
        for (int64_t i = 0; i < n && bad < 3; i++) {
            /* the qcore reference, element by element, on the portable run's scales */
            float xn = lbq_normalize(x[i], sb[i]);
            int c = (p.spec.round == LBQ_ROUND_STOCHASTIC)
                ? lbq_table_code(p.q, p.mid, p.nlev, p.npow2, xn, 1,
                                 lbq_philox_uniform(p.spec.seed, p.stream, (uint64_t)i))
                : lbq_code_nearest(p.mid, p.npow2, xn);
            float ref = p.q[c] * sb[i];
            if (!table) { c = cb[i]; ref = xb[i]; }
            if (s.map == lbq_map_find("log") && p.spec.round == LBQ_ROUND_NEAREST) {
                /* the qcore reference of both log-map variants, with the portable run's scale and alpha */
                float alpha = pb[i / p.block];
                int nmax = (1 << p.bits) - 1;
                float xl = lbq_normalize(x[i], sb[i]);
                c = p.spec.guarded ? lbq_code_log(xl, alpha, nmax, 0, 0.0f) : lbq_code_log_solo(xl, alpha, nmax, 0, 0.0f);
                ref = lbq_log_level(alpha, c) * sb[i];
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
    int bad = 0, cases = 0;
    for (int n = 1; n <= 300; n += (n < 40 ? 1 : 37)) {
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
                for (int simd = 0; simd < 2; simd++) {
                    lbq_simd_enable(simd);
                    float got = lbq_quantile_nonneg(a, n, p);
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
        else if (r < 0.11) { v[i] = 0.0f; vh[i] = 0.0f; }
        else if (r < 0.12) mh[i] = m[i];
        else if (r < 0.13) mh[i] = m[i] * 1e-30f;        /* relative error near 1 and tiny values */
        else if (r < 0.14) mh[i] = m[i] * 3e7f;         /* relative error above 1e6 */
    }
    static const double epss[] = { 1e-8, 1e-300, 1e-30 };
    for (int ei = 0; ei < 3; ei++) {
        struct lbq_update_cfg cfg = { 0.9, 0.05, epss[ei], 128, 10.0 };
        struct lbq_acc *r = calloc(3, sizeof *r);
        for (int simd = 0; simd < 2; simd++) {
            lbq_simd_enable(simd);
            lbq_acc_base(&r[simd], &cfg, n, m, v, ue, ok, tmp);
            lbq_acc_quant(&r[simd], &cfg, n, m, mh, v, vh, ue, ok);
        }
        lbq_simd_enable(1);
        CHECK_MSG(memcmp(&r[0], &r[1], sizeof r[0]) == 0, "eps %g: SIMD and portable accumulations differ", epss[ei]);
        lbq_acc_add2(&r[2], &cfg, n, m, mh, v, vh, 1);
        const struct lbq_state_acc *S[2] = { &r[1].m, &r[1].v }, *R[2] = { &r[2].m, &r[2].v };
        for (int s = 0; s < 2; s++) {
            CHECK_EQ_INT(S[s]->n, R[s]->n);
            CHECK_EQ_INT(S[s]->nonfinite, R[s]->nonfinite);
            CHECK_EQ_INT(S[s]->zero_in, R[s]->zero_in);
            CHECK_EQ_INT(S[s]->zero_in_moved, R[s]->zero_in_moved);
            CHECK_EQ_INT(S[s]->pos, R[s]->pos);
            CHECK_EQ_INT(S[s]->pos_to_zero, R[s]->pos_to_zero);
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
        free(r);
    }
    free(m); free(mh); free(v); free(vh); free(ue); free(ok);
}

int main(void)
{
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
                                run_one(text, &shapes[si]);
                                ncase++;
                            }
        }
    }
    printf("%d spec x shape cases\n", ncase);
    CHECK(ncase > 100);
    return TEST_END();
}
