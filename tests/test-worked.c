/* test-worked.c - the worked examples of the reference notes (shared/research):
 * lpmm's 8-value m block (codes, dequantized values, packed bytes), lpmm's 3x4 rank-1 v example,
 * SOLO's 11-value 2-bit qema block, and the tie rule (an exact midpoint takes the lower code). */
#include "lbq.h"
#include "lbq-test.h"
#include "qcore.h"

static void plan(const char *spec, enum lbq_role role, int rank, struct lbq_qplan *p)
{
    struct lbq_qspec s;
    CHECK_OK(lbq_qspec_parse(spec, NULL, &s));
    CHECK_OK(lbq_qplan_init(p, &s, role, rank));
}

int main(void)
{
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
    float bp[2];
    plan("block128-log:b2", LBQ_ROLE_V, 1, &p);
    CHECK_OK(lbq_qdq(&p, NULL, 0, 11, q, xh, codes, sc, bp, NULL));
    for (int i = 0; i < 11; i++) CHECK_EQ_INT(codes[i], qc[i]);
    CHECK_NEAR(bp[0], 0.4446, 5e-5);
    CHECK_NEAR(xh[0], 0.08, 1e-6);          /* smallest level = the quantile */
    CHECK_NEAR(xh[5], 0.4046, 5e-5);
    CHECK_NEAR(xh[3], 0.1799, 5e-5);
    CHECK_NEAR(xh[10], 0.91, 1e-7);

    /* tie rule: a value exactly on an fp32 midpoint takes the lower code (lpmm CUDA) */
    plan("tensor-dtree", LBQ_ROLE_M, 1, &p);
    for (int i = 0; i + 1 < p.nlev; i++) {
        CHECK_EQ_INT(lbq_code_nearest(p.mid, p.npow2, p.mid[i]), i);
        float above = nextafterf(p.mid[i], 2.0f);
        CHECK_EQ_INT(lbq_code_nearest(p.mid, p.npow2, above), i + 1);
    }
    return TEST_END();
}
