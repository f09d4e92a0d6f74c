/* test-worked.c - the worked examples of the reference notes (shared/research):
 * lpmm's 8-value m block (codes, dequantized values, packed bytes), lpmm's 3x4 rank-1 v example,
 * SOLO's 11-value 2-bit qema block and its three edge cases (all-zero block, max below 1e-12, more
 * than a p-share of zeros) next to lbq's guarded variant, SOLO's block fitting, and the tie rule (an
 * exact midpoint takes the lower code). */
#include "lbq.h"
#include "lbq-test.h"
#include "qcore.h"
#include "lbq-impl.h"

static void plan(const char *spec, enum lbq_role role, int rank, struct lbq_qplan *p)
{
    struct lbq_qspec s;
    CHECK_OK(lbq_qspec_parse(spec, NULL, &s));
    CHECK_OK(lbq_qplan_init(p, &s, role, rank));
}

/* SOLO's qema on 40 v-like blocks of 128 (edge cases included) against torch's run of SOLO's
 * arithmetic (tests/data/solo-qema-golden.txt, scripts/gen-solo-golden.py): codes equal at 2, 3
 * and 4 bits; at 8 bits within one code where log2(x/s)/log2(alpha) sits on a rounding boundary;
 * alpha within 2^-20 and values within 2^-16 (lbq's log2/exp2 and repeated products vs torch's
 * pow; 2^-14 at 8 bits, alpha^255). */
static void check_solo_golden(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/solo-qema-golden.txt", LBQ_SRC_DIR);
    FILE *fp = fopen(path, "r");
    CHECK_MSG(fp != NULL, "cannot open %s", path);
    if (!fp) return;
    enum { B = 128, NB = 40 };
    static float x[NB][B];
    static char line[16384];
    float xh[B], sc[B], bp[1];
    uint8_t codes[B];
    int tc[B] = { 0 };                  /* torch's codes of the current (bits, block) */
    int nq = 0, codebad = 0, code8 = 0, valbad = 0, alphabad = 0;
    while (fgets(line, sizeof line, fp)) {
        char *t = strtok(line, " \n");
        if (!t || t[0] == '#') continue;
        if (t[0] == 'x') {
            int k = atoi(strtok(NULL, " \n"));
            for (int i = 0; i < B; i++) x[k][i] = lbq_u2f((uint32_t)strtoul(strtok(NULL, " \n"), NULL, 16));
            continue;
        }
        int bits = atoi(strtok(NULL, " \n")), k = atoi(strtok(NULL, " \n"));
        char spec[48];
        snprintf(spec, sizeof spec, "block128-log:b%d", bits);
        struct lbq_qspec s;
        struct lbq_qplan p;
        CHECK_OK(lbq_qspec_parse(spec, NULL, &s));
        CHECK_OK(lbq_qplan_init(&p, &s, LBQ_ROLE_V, 1));
        CHECK_OK(lbq_qdq(&p, NULL, 0, B, x[k], xh, codes, sc, bp, NULL));
        if (t[0] == 'q') {
            float a = lbq_u2f((uint32_t)strtoul(strtok(NULL, " \n"), NULL, 16));
            if (!(fabsf(bp[0] - a) <= 0x1p-20f * a)) { if (alphabad++ < 3) fprintf(stderr, "  b%d block %d alpha %a vs torch %a\n", bits, k, (double)bp[0], (double)a); }
            for (int i = 0; i < B; i++) {
                int c = tc[i] = atoi(strtok(NULL, " \n"));
                if (codes[i] != c) {
                    if (bits == 8 && abs(codes[i] - c) == 1) { code8++; continue; }
                    if (codebad++ < 3) fprintf(stderr, "  b%d block %d [%d] code %d vs torch %d\n", bits, k, i, codes[i], c);
                }
            }
            nq++;
        } else if (t[0] == 'v') {
            float tol = bits == 8 ? 0x1p-14f : 0x1p-16f;
            for (int i = 0; i < B; i++) {
                float v = lbq_u2f((uint32_t)strtoul(strtok(NULL, " \n"), NULL, 16));
                if (codes[i] != tc[i]) continue;        /* an 8-bit boundary case, counted above */
                if (!(fabsf(xh[i] - v) <= tol * v)) {
                    if (valbad++ < 3) fprintf(stderr, "  b%d block %d [%d] value %a vs torch %a\n", bits, k, i, (double)xh[i], (double)v);
                }
            }
        }
    }
    fclose(fp);
    CHECK_EQ_INT(nq, 4 * NB);
    CHECK_MSG(codebad == 0, "SOLO golden: %d codes differ", codebad);
    CHECK_MSG(code8 <= 8, "SOLO golden: %d 8-bit codes off by one (boundary cases)", code8);
    CHECK_MSG(alphabad == 0, "SOLO golden: %d alphas beyond 2^-20", alphabad);
    CHECK_MSG(valbad == 0, "SOLO golden: %d values beyond tolerance", valbad);
    printf("SOLO golden: %d blocks x 4 widths, codes equal (8-bit: %d off by one at a boundary)\n", NB, code8);
}

int main(void)
{
    check_solo_golden();
    struct lbq_qplan p;
    float sc[16], xh[16];
    uint8_t codes[16], packed[8];

    /* lpmm 1.8: m block, signed DE 4-bit, block 128 */
    const float m[8] = { 0.5f, -0.25f, 0.1f, -0.03f, 0.006f, 0.0f, -1.0f, 0.66f };
    const int mc[8] = { 12, 3, 10, 5, 8, 7, 0, 13 };
    const float md[8] = { 0.4375f, -0.2125f, 0.0775f, -0.0325f, 0.0055f, 0.0f, -0.8875f, 0.6625f };
    plan("block128-dtree", LBQ_ROLE_M, 1, &p);
    CHECK_OK(lbq_qdq(&p, NULL, 0, 8, m, xh, codes, sc, NULL, NULL));
    for (int i = 0; i < 8; i++) { CHECK_EQ_INT(codes[i], mc[i]); CHECK_NEAR(xh[i], md[i], 1e-7); CHECK(xh[i] == p.q[mc[i]]); }
    lbq_pack(codes, 8, 4, packed);
    CHECK_EQ_INT(packed[0], 0x3c); CHECK_EQ_INT(packed[1], 0x5a); CHECK_EQ_INT(packed[2], 0x78); CHECK_EQ_INT(packed[3], 0xd0);

    /* lpmm 1.8: rank-1 v, unsigned Linear 4-bit */
    const float v[12] = { 1e-4f, 4e-4f, 9e-4f, 1.6e-3f, 2e-6f, 1e-6f, 5e-6f, 8e-6f, 1e-2f, 1e-5f, 2e-5f, 3e-5f };
    const int vc[12] = { 0, 15, 15, 15, 3, 1, 9, 15, 15, 0, 0, 0 };
    struct lbq_shape sh = { 2, { 3, 4 }, 12 };
    struct lbq_tstats st;
    CHECK_OK(lbq_tstats_init(&st, &sh));
    lbq_tstats_add(&st, 0, 12, v);
    plan("rank1-linear", LBQ_ROLE_V, 2, &p);
    CHECK_OK(lbq_qdq(&p, &st, 0, 12, v, xh, codes, sc, NULL, NULL));
    for (int i = 0; i < 12; i++) CHECK_EQ_INT(codes[i], vc[i]);
    CHECK_REL(xh[8], 1e-2, 1e-6); CHECK_REL(xh[9], 2.5e-5, 1e-6); CHECK_REL(xh[10], 5.625e-5, 1e-6); CHECK_REL(xh[11], 1e-4, 1e-6);
    /* the same v, block 4 (torchao-style block-wise): row 0 codes [0,3,8,15] */
    plan("block4-linear", LBQ_ROLE_V, 2, &p);
    CHECK_OK(lbq_qdq(&p, NULL, 0, 12, v, xh, codes, sc, NULL, NULL));
    CHECK_EQ_INT(codes[0], 0); CHECK_EQ_INT(codes[1], 3); CHECK_EQ_INT(codes[2], 8); CHECK_EQ_INT(codes[3], 15);
    lbq_tstats_free(&st);

    /* SOLO 1.3: 2-bit qema, p = 0.1 */
    const float q[11] = { 0.06f, 0.08f, 0.21f, 0.22f, 0.29f, 0.54f, 0.54f, 0.58f, 0.77f, 0.90f, 0.91f };
    const int qc[11] = { 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, 0 };
    float bp[4];
    plan("block128-log:b2", LBQ_ROLE_V, 1, &p);
    CHECK_OK(lbq_qdq(&p, NULL, 0, 11, q, xh, codes, sc, bp, NULL));
    for (int i = 0; i < 11; i++) CHECK_EQ_INT(codes[i], qc[i]);
    CHECK_NEAR(bp[0], 0.4446, 5e-5);
    CHECK_NEAR(xh[0], 0.08, 1e-6);          /* smallest level = the quantile */
    CHECK_NEAR(xh[5], 0.4046, 5e-5);
    CHECK_NEAR(xh[3], 0.1799, 5e-5);
    CHECK_NEAR(xh[10], 0.91, 1e-7);

    /* SOLO's three edge cases (2-bit qema, p = 0.1, one block of 11), as SOLO's code computes them */
    {
        static const float zero[11] = { 0 };
        plan("block128-log:b2", LBQ_ROLE_V, 1, &p);
        CHECK_OK(lbq_qdq(&p, NULL, 0, 11, zero, xh, codes, sc, bp, NULL));
        for (int i = 0; i < 11; i++) { CHECK(xh[i] == 1e-12f); CHECK_EQ_INT(codes[i], 0); CHECK(sc[i] == 1e-12f); }
        CHECK(bp[0] == 0.0f);                                   /* all-zero block: 1e-12 everywhere */

        /* max below 1e-12: scaled by 1e-12, so even the max comes back as alpha * 1e-12 */
        static const float tiny[11] = { 1e-13f, 8e-14f, 6e-14f, 4e-14f, 2e-14f, 1e-14f, 8e-15f, 6e-15f, 4e-15f, 2e-15f, 1e-15f };
        CHECK_OK(lbq_qdq(&p, NULL, 0, 11, tiny, xh, codes, sc, bp, NULL));
        double aref = cbrt((double)2e-15f / (double)1e-12f);    /* quantile = 2nd smallest = 2e-15 */
        CHECK_REL(bp[0], aref, 0x1p-16);
        static const int tc[11] = { 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3 };
        for (int i = 0; i < 11; i++) {
            CHECK(sc[i] == 1e-12f);
            int cref = (int)rint(log((double)(tiny[i] / 1e-12f)) / log(aref));
            CHECK_EQ_INT(cref < 0 ? 0 : cref > 3 ? 3 : cref, tc[i]);
            CHECK_EQ_INT(codes[i], tc[i]);
            CHECK_REL(xh[i], pow(aref, tc[i]) * 1e-12, 0x1p-16);
        }
        CHECK_REL(xh[0], 1.2599e-13, 1e-4);                     /* the max 1e-13 -> 1.26e-13 */

        /* more than a p-share of zeros: quantile 0, alpha 0, every element (zeros too) -> the max */
        static const float holes[11] = { 0.5f, 0.0f, 0.0f, 0.25f, 0.0f, 0.125f, 0.0f, 0.0f, 0.3f, 0.0f, 0.0f };
        CHECK_OK(lbq_qdq(&p, NULL, 0, 11, holes, xh, codes, sc, bp, NULL));
        CHECK(bp[0] == 0.0f);
        for (int i = 0; i < 11; i++) { CHECK(xh[i] == 0.5f); CHECK_EQ_INT(codes[i], 0); }

        /* lbq's guarded variant on the same blocks: zeros stay 0, the tiny block keeps its own max,
         * a zero quantile falls back to the smallest positive value */
        plan("block128-log:b2:guarded", LBQ_ROLE_V, 1, &p);
        CHECK_OK(lbq_qdq(&p, NULL, 0, 11, zero, xh, codes, sc, bp, NULL));
        for (int i = 0; i < 11; i++) CHECK(xh[i] == 0.0f);
        CHECK_OK(lbq_qdq(&p, NULL, 0, 11, tiny, xh, codes, sc, bp, NULL));
        CHECK(xh[0] == 1e-13f && sc[0] == 1e-13f);
        CHECK_OK(lbq_qdq(&p, NULL, 0, 11, holes, xh, codes, sc, bp, NULL));
        CHECK_REL(bp[0], cbrt(0.125 / 0.5), 0x1p-16);
        CHECK(xh[1] == lbq_log_level(bp[0], 3) * 0.5f);          /* a zero -> the smallest level */

        /* the edge-case classification analyze and sweep count */
        CHECK_EQ_INT(lbq_solo_edge(0.0f, 0.0f), 1);
        CHECK_EQ_INT(lbq_solo_edge(1e-13f, 2e-15f), 2);
        CHECK_EQ_INT(lbq_solo_edge(0.5f, 0.0f), 4);
        CHECK_EQ_INT(lbq_solo_edge(1e-13f, 0.0f), 6);
        CHECK_EQ_INT(lbq_solo_edge(0.91f, 0.08f), 0);

        /* the counts analyze and sweep report: blocks of 8 = normal, all zero, max < 1e-12,
         * half zeros (zero 0.1-quantile), and a tiny block with half zeros (both counts) */
        float eb[40];
        for (int i = 0; i < 40; i++) eb[i] = 0.1f + 0.01f * (float)i;
        for (int i = 8; i < 16; i++) eb[i] = 0.0f;
        for (int i = 16; i < 24; i++) eb[i] = 1e-14f * (float)(i - 15);
        for (int i = 24; i < 32; i += 2) eb[i] = 0.0f;
        for (int i = 32; i < 40; i++) eb[i] = (i & 1) ? 1e-13f : 0.0f;
        struct lbq_qplan e8;
        int64_t cnt[4] = { 0 };
        plan("block8-log:b2", LBQ_ROLE_V, 1, &e8);
        lbq_log_edge_count(&e8, 40, eb, cnt);
        CHECK_EQ_INT(cnt[0], 5); CHECK_EQ_INT(cnt[1], 1); CHECK_EQ_INT(cnt[2], 2); CHECK_EQ_INT(cnt[3], 2);
        int64_t none[4] = { 0 };
        plan("block8-dtree", LBQ_ROLE_V, 1, &e8);
        lbq_log_edge_count(&e8, 40, eb, none);                  /* other maps: nothing counted */
        CHECK_EQ_INT(none[0], 0);

        /* SOLO's per-tensor block: the largest divisor of numel <= the block size */
        struct lbq_qplan f;
        plan("block128-log:b2", LBQ_ROLE_V, 1, &f);
        lbq_qplan_fit(&f, 1000); CHECK_EQ_INT(f.block, 125);
        f.block = 128; lbq_qplan_fit(&f, 100); CHECK_EQ_INT(f.block, 100);
        f.block = 128; lbq_qplan_fit(&f, 131); CHECK_EQ_INT(f.block, 1);      /* prime: blocks of 1 */
        f.block = 128; lbq_qplan_fit(&f, 4096); CHECK_EQ_INT(f.block, 128);
        plan("block128-log:b2:guarded", LBQ_ROLE_V, 1, &f);
        lbq_qplan_fit(&f, 1000); CHECK_EQ_INT(f.block, 128);                /* guarded: ragged tail */
        plan("block128-dtree:fit", LBQ_ROLE_M, 1, &f);
        lbq_qplan_fit(&f, 1000); CHECK_EQ_INT(f.block, 125);
        plan("block128-dtree", LBQ_ROLE_M, 1, &f);
        lbq_qplan_fit(&f, 1000); CHECK_EQ_INT(f.block, 128);
    }

    /* COAT's epsilon: a group whose absmax (1e-14) is below ~3e-13.  Plain fp8 e4m3, block 4. */
    {
        static const float g4[4] = { 1e-14f, -5e-15f, 2.5e-15f, 0.0f };
        /* COAT's non-expanded kernel: s = (absmax + 1e-20)/448, so the max maps to 447.9996 -> 448 */
        plan("block4-fp8e4m3:coat", LBQ_ROLE_M, 1, &p);
        CHECK_OK(lbq_qdq(&p, NULL, 0, 4, g4, xh, codes, sc, NULL, NULL));
        const float sc_coat = (1e-14f + 1e-20f) / 448.0f;
        CHECK(sc[0] == sc_coat && (1e-14f + 1e-20f) != 1e-14f);
        CHECK(xh[0] == 448.0f * sc_coat);                       /* 1.000001e-14, not 1e-14 */
        CHECK_EQ_INT(codes[0], 0x7e);                           /* e4m3 448 */
        CHECK(xh[3] == 0.0f);
        /* torchao (the default): s = max(absmax, 1e-12)/448, so the group uses 4.48 of 448 */
        plan("block4-fp8e4m3", LBQ_ROLE_M, 1, &p);
        CHECK_OK(lbq_qdq(&p, NULL, 0, 4, g4, xh, codes, sc, NULL, NULL));
        CHECK(sc[0] == 1e-12f / 448.0f);
        CHECK(xh[0] == 4.5f * (1e-12f / 448.0f));               /* 1e-14 * 448/1e-12 = 4.48 -> 4.5 */
        CHECK_REL(xh[0], 1.00446e-14, 1e-5);
        /* an absmax of 1e-12 or more: the three rules agree */
        static const float big[4] = { 1e-3f, -5e-4f, 2.5e-4f, 1.2345e-4f };
        float xa[4], xb[4];
        plan("block4-fp8e4m3:coat", LBQ_ROLE_M, 1, &p);
        CHECK_OK(lbq_qdq(&p, NULL, 0, 4, big, xa, NULL, sc, NULL, NULL));
        plan("block4-fp8e4m3", LBQ_ROLE_M, 1, &p);
        CHECK_OK(lbq_qdq(&p, NULL, 0, 4, big, xb, NULL, sc, NULL, NULL));
        for (int i = 0; i < 4; i++) CHECK(xa[i] == xb[i]);
    }

    /* COAT's expansion kernel: its group min is a warp tree that loses the partial minima a lane
     * with a zero carries.  x_i = 1000 - i except x_1 = 0 and x_3 = 5: lane 1 holds 0, so lane 3's 5
     * (reduced into lane 1 at step 2) never reaches lane 0, and the group min is x_127 = 873
     * (the smallest value of warps 1..3) instead of 5. */
    {
        float gx[128], mx, mn;
        for (int i = 0; i < 128; i++) gx[i] = 1000.0f - (float)i;
        gx[1] = 0.0f; gx[3] = 5.0f;
        lbq_coat_group_stats(gx, 128, 128, &mx, &mn);
        CHECK(mx == 1000.0f);
        CHECK(mn == 873.0f);                                    /* x_127 = 873 */
        gx[0] = 0.0f;                                           /* a zero on lane 0: min 0 */
        lbq_coat_group_stats(gx, 128, 128, &mx, &mn);
        CHECK(mn == 0.0f);
        for (int i = 0; i < 128; i++) gx[i] = 1000.0f - (float)i;
        lbq_coat_group_stats(gx, 128, 128, &mx, &mn);
        CHECK(mx == 1000.0f && mn == 873.0f);                   /* no zeros: the true min */
        lbq_coat_group_stats(gx, 40, 128, &mx, &mn);            /* a short last group */
        CHECK(mx == 1000.0f && mn == 961.0f);
        /* k rule: floor(log2(448^2/2)/log2(M/m0) * 16)/16, no clamp */
        float s, k, g;
        lbq_dre_params(1000.0f, 873.0f, 0, &s, &k, &g);
        CHECK(k == floorf(lbq_log2f(100352.0f) / lbq_log2f((1000.0f + 1e-30f) / (873.0f + 1e-30f)) * 16.0f) / 16.0f);
        CHECK(k > 64.0f);                                       /* lbq clamped k to 64 before */
        /* an all-zero group: M = m0 = 1e-30, k = inf, and every element comes back as g (~1e-30) */
        float z[8] = { 0 };
        plan("block8-fp8e4m3:dre", LBQ_ROLE_V, 1, &p);
        CHECK_OK(lbq_qdq(&p, NULL, 0, 8, z, xh, codes, sc, bp, NULL));
        CHECK(isinf(bp[0]));
        for (int i = 0; i < 8; i++) CHECK(xh[i] == bp[1] && bp[1] > 0.0f && bp[1] < 2e-30f);
    }

    /* tie rule: a value exactly on an fp32 midpoint takes the lower code (lpmm CUDA) */
    plan("tensor-dtree", LBQ_ROLE_M, 1, &p);
    for (int i = 0; i + 1 < p.nlev; i++) {
        CHECK_EQ_INT(lbq_code_nearest(p.mid, p.npow2, p.mid[i]), i);
        float above = nextafterf(p.mid[i], 2.0f);
        CHECK_EQ_INT(lbq_code_nearest(p.mid, p.npow2, above), i + 1);
    }
    /* lpmm's PyTorch 'nearest' (":argmin"): at the 15 exact fp32 midpoints of the signed 4-bit DE
     * map it gives [1,1,3,3,5,5,6,7,8,9,10,11,12,13,15] (research notes 1.5), the CUDA rule 0..14 */
    {
        static const int want[15] = { 1, 1, 3, 3, 5, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15 };
        plan("block16-dtree:argmin", LBQ_ROLE_M, 1, &p);
        CHECK(strstr(p.spec.text, ":argmin") != NULL);
        float mx[16];
        for (int i = 0; i < 15; i++) mx[i] = p.mid[i];
        mx[15] = 1.0f;                                           /* the block max: scale 1 */
        CHECK_OK(lbq_qdq(&p, NULL, 0, 16, mx, xh, codes, sc, NULL, NULL));
        for (int i = 0; i < 15; i++) { CHECK_EQ_INT(codes[i], want[i]); CHECK(xh[i] == p.q[want[i]]); }
        plan("block16-dtree", LBQ_ROLE_M, 1, &p);
        CHECK_OK(lbq_qdq(&p, NULL, 0, 16, mx, xh, codes, sc, NULL, NULL));
        for (int i = 0; i < 15; i++) CHECK_EQ_INT(codes[i], i);
        /* DE-0 unsigned: q0 = q1, so every value nearest to them takes code 0 under argmin */
        plan("block2-dtree0:argmin", LBQ_ROLE_V, 1, &p);
        float d0[2] = { 0.004f, 1.0f };
        CHECK_OK(lbq_qdq(&p, NULL, 0, 2, d0, xh, codes, sc, NULL, NULL));
        CHECK_EQ_INT(codes[0], 0);
        plan("block2-dtree0", LBQ_ROLE_V, 1, &p);
        CHECK_OK(lbq_qdq(&p, NULL, 0, 2, d0, xh, codes, sc, NULL, NULL));
        CHECK_EQ_INT(codes[0], 1);
        CHECK(xh[0] == p.q[0]);
        /* torchao's own rule (":torchao"): at the same 15 midpoints torchao's code gives
         * [1,2,3,4,5,6,7,8,9,9,11,11,13,13,15] (research notes 3.4: its residual test is itself
         * rounded, so mostly upper) */
        static const int tao[15] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 11, 11, 13, 13, 15 };
        plan("block16-dtree:torchao", LBQ_ROLE_M, 1, &p);
        CHECK(strstr(p.spec.text, ":torchao") != NULL);
        CHECK_OK(lbq_qdq(&p, NULL, 0, 16, mx, xh, codes, sc, NULL, NULL));
        for (int i = 0; i < 15; i++) CHECK_EQ_INT(codes[i], tao[i]);
        /* ... and torchao's scale clip: an all-zero v block comes back as 1e-12/16 = 6.25e-14 */
        float zz[4] = { 0 };
        plan("block4-linear:torchao", LBQ_ROLE_V, 1, &p);
        CHECK_OK(lbq_qdq(&p, NULL, 0, 4, zz, xh, codes, sc, NULL, NULL));
        for (int i = 0; i < 4; i++) { CHECK(sc[i] == 1e-12f); CHECK_EQ_INT(codes[i], 0); CHECK(xh[i] == 0.0625f * 1e-12f); }
        /* off ties, torchao's rule is nearest: brute force over every table map at 4 bits */
        int tbad = 0;
        for (int b = 1; b <= 8; b++) {
            struct lbq_qspec qs;
            struct lbq_qplan q;
            char spec[48];
            snprintf(spec, sizeof spec, "tensor-dtree:b%d", b);
            if (lbq_qspec_parse(spec, NULL, &qs) || lbq_qplan_init(&q, &qs, LBQ_ROLE_M, 1)) continue;
            for (int i = 0; i + 1 < q.nlev; i++) {
                float xa = nextafterf(q.mid[i], -2.0f), xb = nextafterf(q.mid[i], 2.0f);
                int ca = lbq_code_torchao(q.q, q.nlev, q.npow2, xa), cb = lbq_code_torchao(q.q, q.nlev, q.npow2, xb);
                tbad += (q.q[ca] != q.q[lbq_code_nearest(q.mid, q.npow2, xa)]) && (xa - q.q[i] != q.q[i + 1] - xa);
                tbad += (q.q[cb] != q.q[lbq_code_nearest(q.mid, q.npow2, xb)]) && (xb - q.q[i] != q.q[i + 1] - xb);
            }
            CHECK_EQ_INT(lbq_code_torchao(q.q, q.nlev, q.npow2, -2.0f), 0);
            CHECK_EQ_INT(lbq_code_torchao(q.q, q.nlev, q.npow2, 2.0f), q.nlev - 1);
        }
        CHECK_MSG(tbad <= 4, "torchao rule: %d off-tie codes differ from nearest", tbad);
        printf("torchao rule: %d of the near-midpoint values differ from the midpoint rule (rounded residual test)\n", tbad);

        /* lbq_code_argmin against a brute-force fp32 argmin (lowest index on ties) for every table
         * map, width and sign, on the midpoints, their fp32 neighbours and values between levels */
        static const char *maps[] = { "dtree", "dtree0", "linear", "pow2", "linsq", "uniform" };
        int bad = 0, cases = 0;
        for (int mi = 0; mi < 6; mi++)
            for (int b = 1; b <= 8; b++)
                for (int sg = 0; sg < 2; sg++) {
                    char spec[64];
                    snprintf(spec, sizeof spec, "tensor-%s:b%d:%s", maps[mi], b, sg ? "signed" : "unsigned");
                    struct lbq_qspec qs;
                    struct lbq_qplan q;
                    if (lbq_qspec_parse(spec, NULL, &qs) || lbq_qplan_init(&q, &qs, LBQ_ROLE_V, 1)) continue;
                    for (int i = 0; i + 1 < q.nlev; i++)
                        for (int k = 0; k < 5; k++) {
                            float xn = k == 0 ? q.mid[i] : k == 1 ? nextafterf(q.mid[i], -2.0f) : k == 2 ? nextafterf(q.mid[i], 2.0f)
                                     : k == 3 ? q.q[i] + (q.q[i + 1] - q.q[i]) * 0.3f : q.q[i];
                            int best = 0;
                            for (int j = 1; j < q.nlev; j++) if (fabsf(xn - q.q[j]) < fabsf(xn - q.q[best])) best = j;
                            int c = lbq_code_argmin(q.q, q.nlev, xn, lbq_code_nearest(q.mid, q.npow2, xn));
                            bad += c != best;
                            cases++;
                        }
                }
        CHECK_MSG(bad == 0 && cases > 10000, "argmin: %d of %d differ from brute force", bad, cases);
    }
    return TEST_END();
}
