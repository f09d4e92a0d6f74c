/* simd.c - the vectorized CPU inner loops of quantization, equal bit for bit to the per-element
 * functions of quantizers/qcore.h (which the CUDA kernels use): table maps with nearest rounding
 * (and the block absmax fused with them), SOLO's log map with nearest rounding, and the exact
 * small-array quantile of the log map and of the outlier-block medians.
 *
 * Why they are equal: every step is the same IEEE single operation, lane by lane.
 *   normalize   xn = x / s (vdivps, correctly rounded like the scalar division), then 0 where
 *               !(s > 0) or xn is NaN (lbq_normalize);
 *   code        the branch-free binary search of lbq_code_nearest over the padded midpoints
 *               (ordered less-than compares), its probe tables in registers or gathered;
 *   value       q[code] * s (a table permute or gather, then vmulps);
 *   block max   max over |x| of the finite x, starting at +0 (lbq_absmax_acc): |x| is masked to
 *               0 where not finite, and max is exact whatever the order;
 *   log map     lbq_code_log with lbq_log2f evaluated operation for operation in 8 lanes;
 *   quantile    an exact order statistic (any exact method gives the same value).
 * No FMA is used anywhere.  tests/test-simd.c compares both paths and the qcore reference on every
 * registered map, normalization, bitwidth, sign and rounding, with ties, zeros, NaN and Inf.
 *
 * The AVX2 path is chosen at run time (cpuid); lbq_simd_enable(0) forces the portable path. */
#include "lbq-impl.h"
#include "lbq-avx2.h"

static int g_simd = -1;                 /* -1: not probed; 0: portable; 2: AVX2 */

static int simd_probe(void)
{
#if LBQ_HAVE_AVX2_CODE
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? 2 : 0;
#else
    return 0;
#endif
}

int lbq_simd_level(void)
{
    int s = __atomic_load_n(&g_simd, __ATOMIC_RELAXED);
    if (s < 0) { s = simd_probe(); __atomic_store_n(&g_simd, s, __ATOMIC_RELAXED); }
    return s;
}

void lbq_simd_enable(int on)
{
    __atomic_store_n(&g_simd, on ? simd_probe() : 0, __ATOMIC_RELAXED);
}

/* ---- portable path ------------------------------------------------------------------------- */
static float absmax_portable(const float *x, int64_t n)
{
    float m = 0.0f;
    for (int64_t i = 0; i < n; i++) m = lbq_absmax_acc(m, x[i]);
    return m;
}

/* Tiles of 256: normalize, count the midpoints below each value (the compiler vectorizes the
 * interchanged loops), then look the values up. */
#define LBQ_TILE 256
static void nearest_portable(const struct lbq_qplan *p, int64_t n, const float *x, const float *sc,
                             float s, float *xhat, uint8_t *codes)
{
    const float *q = p->q, *mid = p->mid;
    const int nmid = p->nlev - 1, npow2 = p->npow2;
    float xn[LBQ_TILE];
    int32_t cc[LBQ_TILE];
    for (int64_t t0 = 0; t0 < n; t0 += LBQ_TILE) {
        int tn = (n - t0 < LBQ_TILE) ? (int)(n - t0) : LBQ_TILE;
        for (int j = 0; j < tn; j++) xn[j] = lbq_normalize(x[t0 + j], sc ? sc[t0 + j] : s);
        if (nmid <= 32) {
            for (int j = 0; j < tn; j++) cc[j] = 0;
            for (int i = 0; i < nmid; i++) {
                const float mi = mid[i];
                for (int j = 0; j < tn; j++) cc[j] += (mi < xn[j]);
            }
        } else {
            for (int j = 0; j < tn; j++) cc[j] = lbq_code_nearest(mid, npow2, xn[j]);
        }
        if (sc) for (int j = 0; j < tn; j++) xhat[t0 + j] = q[cc[j]] * sc[t0 + j];
        else    for (int j = 0; j < tn; j++) xhat[t0 + j] = q[cc[j]] * s;
        if (codes) for (int j = 0; j < tn; j++) codes[t0 + j] = (uint8_t)cc[j];
    }
}

/* ---- AVX2 path ----------------------------------------------------------------------------- */
#if LBQ_HAVE_AVX2_CODE

LBQ_AVX2 static float absmax_avx2(const float *x, int64_t n)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 inf = _mm256_castsi256_ps(_mm256_set1_epi32(0x7f800000));
    __m256 m0 = _mm256_setzero_ps(), m1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a0 = _mm256_and_ps(_mm256_loadu_ps(x + i), absmask);
        __m256 a1 = _mm256_and_ps(_mm256_loadu_ps(x + i + 8), absmask);
        a0 = _mm256_and_ps(a0, _mm256_cmp_ps(a0, inf, _CMP_LT_OQ));     /* NaN, Inf -> 0 */
        a1 = _mm256_and_ps(a1, _mm256_cmp_ps(a1, inf, _CMP_LT_OQ));
        m0 = _mm256_max_ps(m0, a0);
        m1 = _mm256_max_ps(m1, a1);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 a0 = _mm256_and_ps(_mm256_loadu_ps(x + i), absmask);
        m0 = _mm256_max_ps(m0, _mm256_and_ps(a0, _mm256_cmp_ps(a0, inf, _CMP_LT_OQ)));
    }
    m0 = _mm256_max_ps(m0, m1);
    float lane[8];
    _mm256_storeu_ps(lane, m0);
    float m = 0.0f;
    for (int k = 0; k < 8; k++) m = lbq_absmax_acc(m, lane[k]);
    for (; i < n; i++) m = lbq_absmax_acc(m, x[i]);
    return m;
}

/* xn = lbq_normalize(x, s) for 8 lanes */
LBQ_AVX2 static inline __m256 normalize8(__m256 xv, __m256 sv)
{
    __m256 xn = _mm256_div_ps(xv, sv);
    xn = _mm256_and_ps(xn, _mm256_cmp_ps(sv, _mm256_setzero_ps(), _CMP_GT_OQ));
    return _mm256_and_ps(xn, _mm256_cmp_ps(xn, xn, _CMP_ORD_Q));
}

LBQ_AVX2 static void store_codes8(uint8_t *codes, __m256i c)
{
    int32_t lane[8];
    _mm256_storeu_si256((__m256i *)(void *)lane, c);
    for (int k = 0; k < 8; k++) codes[k] = (uint8_t)lane[k];
}

/* The branch-free binary search of lbq_code_nearest, vectorized.  At the step of width st the code
 * c so far is a multiple of 2*st and the probe is mid[c + st - 1]: the probes of one step form a
 * table T[j] = mid[j*2*st + st - 1], j = c / (2*st), of npow2 / (2*st) entries.  Tables of up to
 * 8 entries are one register (vpermps), 16 entries two; larger steps gather from mid.  For
 * codebooks of up to 16 levels the value q[c] comes from the last step directly:
 * c = 2j + b, q[c] = b ? Qodd[j] : Qeven[j]. */
struct nk {
    int     nstep;                  /* log2(npow2) */
    __m256  t[8][2];                /* per step: the probe table (low, high 8 entries) */
    __m256  qeven, qodd;            /* small: q[2j], q[2j+1] */
};

LBQ_AVX2 static void nk_init(struct nk *k, const struct lbq_qplan *p)
{
    memset(k, 0, sizeof *k);
    int L = 0;
    while ((1 << L) < p->npow2) L++;
    k->nstep = L;
    for (int i = 0; i < L; i++) {
        int st = p->npow2 >> (i + 1), tn = p->npow2 / (2 * st);
        float tab[16];
        for (int j = 0; j < 16; j++) tab[j] = p->mid[(j % tn) * 2 * st + st - 1];  /* tn = 1: broadcast */
        k->t[i][0] = _mm256_loadu_ps(tab);
        k->t[i][1] = _mm256_loadu_ps(tab + 8);
    }
    if (p->npow2 <= 16) {
        float qe[8], qo[8];
        for (int j = 0; j < 8; j++) {       /* q is padded with +inf to 256 entries */
            qe[j] = p->q[2 * j];
            qo[j] = p->q[2 * j + 1];
        }
        k->qeven = _mm256_loadu_ps(qe);
        k->qodd = _mm256_loadu_ps(qo);
    }
}

/* 8 lanes: the code of xn (stored to *code) and the dequantized value q[code] * sv.  L = log2(npow2)
 * is a constant at every call site (see the LBQ_NK_DISPATCH switch), so the steps unroll. */
LBQ_AVX2_INLINE __m256 nk_qdq8(const struct nk *k, const struct lbq_qplan *p, const int L,
                               __m256 xn, __m256 sv, __m256i *code)
{
    const __m256i seven = _mm256_set1_epi32(7);
    __m256i c = _mm256_setzero_si256();
    __m256 v = _mm256_setzero_ps();
    #pragma GCC unroll 8
    for (int i = 0; i < L; i++) {
        const int st = 1 << (L - 1 - i), tn = 1 << i;
        __m256 m;
        __m256i j = _mm256_srli_epi32(c, L - i);         /* c / (2*st) */
        if (tn == 1) m = k->t[i][0];
        else if (tn <= 8) m = _mm256_permutevar8x32_ps(k->t[i][0], j);
        else if (tn <= 16)
            m = _mm256_blendv_ps(_mm256_permutevar8x32_ps(k->t[i][0], j),
                                 _mm256_permutevar8x32_ps(k->t[i][1], j),
                                 _mm256_castsi256_ps(_mm256_cmpgt_epi32(j, seven)));
        else m = _mm256_i32gather_ps(p->mid, _mm256_add_epi32(c, _mm256_set1_epi32(st - 1)), 4);
        __m256 lt = _mm256_cmp_ps(m, xn, _CMP_LT_OQ);
        if (L <= 4 && i == L - 1)
            v = _mm256_blendv_ps(_mm256_permutevar8x32_ps(k->qeven, j),
                                 _mm256_permutevar8x32_ps(k->qodd, j), lt);
        c = _mm256_add_epi32(c, _mm256_and_si256(_mm256_castps_si256(lt), _mm256_set1_epi32(st)));
    }
    if (L > 4) v = _mm256_i32gather_ps(p->q, c, 4);
    *code = c;
    return _mm256_mul_ps(v, sv);
}

/* BODY(L) instantiated for each codebook size (npow2 = 2^L, 2..256 levels) */
#define LBQ_NK_DISPATCH(L_, BODY) switch (L_) { \
    case 1: BODY(1); break; case 2: BODY(2); break; case 3: BODY(3); break; case 4: BODY(4); break; \
    case 5: BODY(5); break; case 6: BODY(6); break; case 7: BODY(7); break; default: BODY(8); break; }

/* per-element scales */
LBQ_AVX2 static void nearest_avx2(const struct lbq_qplan *p, int64_t n, const float *x,
                                  const float *sc, float *xhat, uint8_t *codes)
{
    struct nk k;
    nk_init(&k, p);
    int64_t i = 0;
#define BODY(L) for (; i + 8 <= n; i += 8) { \
        __m256 sv = _mm256_loadu_ps(sc + i); \
        __m256i c; \
        _mm256_storeu_ps(xhat + i, nk_qdq8(&k, p, L, normalize8(_mm256_loadu_ps(x + i), sv), sv, &c)); \
        if (codes) store_codes8(codes + i, c); \
    }
    LBQ_NK_DISPATCH(k.nstep, BODY)
#undef BODY
    if (i < n) nearest_portable(p, n - i, x + i, sc + i, 0.0f, xhat + i, codes ? codes + i : NULL);
}

/* block absmax fused: one block at a time while it is in L1 */
LBQ_AVX2 static void nearest_blocks_avx2(const struct lbq_qplan *p, int64_t n, const float *x,
                                         float *xhat, uint8_t *codes, float *scale)
{
    struct nk k;
    nk_init(&k, p);
    const int64_t B = p->block;
    for (int64_t b0 = 0; b0 < n; b0 += B) {
        int64_t bn = (n - b0 < B) ? n - b0 : B;
        const float *xb = x + b0;
        float *yb = xhat + b0;
        uint8_t *cb = codes ? codes + b0 : NULL;
        float s = absmax_avx2(xb, bn);
        if (scale) for (int64_t i = 0; i < bn; i++) scale[b0 + i] = s;
        const __m256 sv = _mm256_set1_ps(s);
        int64_t i = 0;
        if (s > 0.0f) {              /* s is finite: x / s is NaN only for a NaN x */
#define BODY(L) for (; i + 8 <= bn; i += 8) { \
                __m256 xn = _mm256_div_ps(_mm256_loadu_ps(xb + i), sv); \
                xn = _mm256_and_ps(xn, _mm256_cmp_ps(xn, xn, _CMP_ORD_Q)); \
                __m256i c; \
                _mm256_storeu_ps(yb + i, nk_qdq8(&k, p, L, xn, sv, &c)); \
                if (cb) store_codes8(cb + i, c); \
            }
            LBQ_NK_DISPATCH(k.nstep, BODY)
#undef BODY
        }
        if (i < bn) nearest_portable(p, bn - i, xb + i, NULL, s, yb + i, cb ? cb + i : NULL);
    }
}
#endif

/* ---- dispatch ------------------------------------------------------------------------------ */
float lbq_block_absmax(const float *x, int64_t n)
{
#if LBQ_HAVE_AVX2_CODE
    if (lbq_simd_level() >= 2) return absmax_avx2(x, n);
#endif
    return absmax_portable(x, n);
}

void lbq_table_nearest(const struct lbq_qplan *p, int64_t n, const float *x, const float *sc,
                       float *xhat, uint8_t *codes)
{
#if LBQ_HAVE_AVX2_CODE
    if (lbq_simd_level() >= 2) { nearest_avx2(p, n, x, sc, xhat, codes); return; }
#endif
    nearest_portable(p, n, x, sc, 0.0f, xhat, codes);
}

void lbq_table_nearest_blocks(const struct lbq_qplan *p, int64_t n, const float *x, float *xhat,
                              uint8_t *codes, float *scale)
{
#if LBQ_HAVE_AVX2_CODE
    if (lbq_simd_level() >= 2) { nearest_blocks_avx2(p, n, x, xhat, codes, scale); return; }
#endif
    for (int64_t b0 = 0; b0 < n; b0 += p->block) {
        int64_t bn = (n - b0 < p->block) ? n - b0 : p->block;
        float s = absmax_portable(x + b0, bn);
        if (scale) for (int64_t i = 0; i < bn; i++) scale[b0 + i] = s;
        nearest_portable(p, bn, x + b0, NULL, s, xhat + b0, codes ? codes + b0 : NULL);
    }
}

/* ---- order statistics of small non-negative arrays (log map quantile, outlier medians) -------- */
/* For +0 and positive finite floats the order of the values is the order of their bit patterns,
 * so the k-th smallest is found by a binary search on the pattern t with count(a <= t) >= k + 1
 * (vectorized counting passes); a is not modified.  Exact: the same value as sorting. */
static int64_t count_le_portable(const uint32_t *a, int64_t n, uint32_t t)
{
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++) c += a[i] <= t;
    return c;
}

/* smallest pattern t in [lo, hi] with count(a <= t) >= want (want <= n) */
static uint32_t kth_portable(const uint32_t *u, int64_t n, int64_t want, uint32_t lo, uint32_t hi)
{
    uint32_t len = hi - lo + 1;         /* patterns < 2^31: no overflow */
    while (len > 1) {                   /* branch-free lower bound: the trip count depends on len */
        uint32_t half = len / 2;
        lo += (count_le_portable(u, n, lo + half - 1) < want) ? half : 0;
        len -= half;
    }
    return lo;
}

#if LBQ_HAVE_AVX2_CODE
LBQ_AVX2_INLINE int64_t count_le_avx2(const uint32_t *a, int64_t n, uint32_t t)
{
    const __m256i tv = _mm256_set1_epi32((int32_t)t);
    __m256i g0 = _mm256_setzero_si256(), g1 = _mm256_setzero_si256();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {  /* patterns < 2^31: the signed compare is the unsigned one */
        g0 = _mm256_sub_epi32(g0, _mm256_cmpgt_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(a + i)), tv));
        g1 = _mm256_sub_epi32(g1, _mm256_cmpgt_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(a + i + 8)), tv));
    }
    for (; i + 8 <= n; i += 8)
        g0 = _mm256_sub_epi32(g0, _mm256_cmpgt_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(a + i)), tv));
    g0 = _mm256_add_epi32(g0, g1);
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(g0), _mm256_extracti128_si256(g0, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    int64_t c = _mm_cvtsi128_si32(h);
    for (; i < n; i++) c += a[i] > t;
    return n - c;
}

/* counts of a <= t for three thresholds in one pass */
LBQ_AVX2_INLINE void count3_le_avx2(const uint32_t *a, int64_t n, uint32_t t0, uint32_t t1, uint32_t t2,
                                    int64_t *c)
{
    const __m256i v0 = _mm256_set1_epi32((int32_t)t0), v1 = _mm256_set1_epi32((int32_t)t1),
                  v2 = _mm256_set1_epi32((int32_t)t2);
    __m256i g0 = _mm256_setzero_si256(), g1 = _mm256_setzero_si256(), g2 = _mm256_setzero_si256();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(a + i));
        g0 = _mm256_sub_epi32(g0, _mm256_cmpgt_epi32(x, v0));
        g1 = _mm256_sub_epi32(g1, _mm256_cmpgt_epi32(x, v1));
        g2 = _mm256_sub_epi32(g2, _mm256_cmpgt_epi32(x, v2));
    }
    int32_t l0[8], l1[8], l2[8];
    _mm256_storeu_si256((__m256i *)(void *)l0, g0);
    _mm256_storeu_si256((__m256i *)(void *)l1, g1);
    _mm256_storeu_si256((__m256i *)(void *)l2, g2);
    int64_t s0 = 0, s1 = 0, s2 = 0;
    for (int k = 0; k < 8; k++) { s0 += l0[k]; s1 += l1[k]; s2 += l2[k]; }
    for (; i < n; i++) { s0 += a[i] > t0; s1 += a[i] > t1; s2 += a[i] > t2; }
    c[0] = n - s0; c[1] = n - s1; c[2] = n - s2;
}

/* smallest a[i] > t (0xffffffff if none) */
LBQ_AVX2_INLINE uint32_t min_above_avx2(const uint32_t *a, int64_t n, uint32_t t)
{
    const __m256i tv = _mm256_set1_epi32((int32_t)t), all = _mm256_set1_epi32(-1);
    __m256i mn = all;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(a + i));
        mn = _mm256_min_epu32(mn, _mm256_blendv_epi8(all, x, _mm256_cmpgt_epi32(x, tv)));
    }
    uint32_t l[8], m = 0xffffffffu;
    _mm256_storeu_si256((__m256i *)(void *)l, mn);
    for (int k = 0; k < 8; k++) m = l[k] < m ? l[k] : m;
    for (; i < n; i++) { uint32_t c = a[i] > t ? a[i] : 0xffffffffu; m = c < m ? c : m; }
    return m;
}

/* The k-th and (k+1)-th smallest (0-based; the second only if k + 1 < n, else = the first).
 * A binary search on the bracket [lo, hi] (the answer is in it; clo = count(u < lo) < k + 1 <=
 * chi = count(u <= hi)), two steps per pass: the probe of the first step and both possible probes
 * of the second are counted together.  Once at most 16 values lie in the bracket they are picked
 * out (a vector compare per 8 values and a bit scan of the hits) and sorted. */
LBQ_AVX2 static void kth2_avx2(const uint32_t *u, int64_t n, int64_t k, uint32_t lo, uint32_t hi,
                               uint32_t *r0, uint32_t *r1)
{
    const int64_t want = k + 1;
    int64_t clo = 0, chi = n;
    while (hi - lo >= 3 && chi - clo > 16) {
        uint32_t t1 = lo + (hi - lo) / 2;
        uint32_t ta = lo + (t1 - lo) / 2, tb = t1 + 1 + (hi - t1 - 1) / 2;
        int64_t c[3];
        count3_le_avx2(u, n, t1, ta, tb, c);
        int up = c[0] < want;
        uint32_t l1 = up ? t1 + 1 : lo, h1 = up ? hi : t1;
        int64_t cl1 = up ? c[0] : clo, ch1 = up ? chi : c[0];
        uint32_t t2 = up ? tb : ta;
        int64_t c2 = up ? c[2] : c[1];
        int up2 = c2 < want;
        lo = up2 ? t2 + 1 : l1;
        hi = up2 ? h1 : t2;
        clo = up2 ? c2 : cl1;
        chi = up2 ? ch1 : c2;
    }
    while (lo < hi && chi - clo > 16) {
        uint32_t t = lo + (hi - lo) / 2;
        int64_t c = count_le_avx2(u, n, t);
        if (c < want) { lo = t + 1; clo = c; } else { hi = t; chi = c; }
    }
    if (lo == hi) {                     /* positions clo .. chi-1 all hold lo */
        *r0 = lo;
        *r1 = (want < chi || k + 1 >= n) ? lo : min_above_avx2(u, n, hi);
        return;
    }
    uint32_t cand[16] = { 0 };          /* chi - clo <= 16 values in [lo, hi] */
    int m = 0;
    const __m256i lov = _mm256_set1_epi32((int32_t)lo), hiv = _mm256_set1_epi32((int32_t)hi);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {        /* few vectors hold a value of the bracket */
        __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(u + i));
        __m256i out = _mm256_or_si256(_mm256_cmpgt_epi32(lov, x), _mm256_cmpgt_epi32(x, hiv));
        unsigned bits = ~(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(out)) & 0xffu;
        for (; bits && m < 16; bits &= bits - 1) cand[m++] = u[i + __builtin_ctz(bits)];
    }
    for (; i < n; i++)
        if (u[i] >= lo && u[i] <= hi && m < 16) cand[m++] = u[i];
    for (int i = 1; i < m; i++) {
        uint32_t t = cand[i];
        int j = i;
        for (; j > 0 && cand[j - 1] > t; j--) cand[j] = cand[j - 1];
        cand[j] = t;
    }
    int64_t at = want - clo - 1;        /* 0 <= at < m by the counts */
    at = at < m ? at : m - 1;
    at = at > 0 ? at : 0;
    *r0 = cand[at];
    if (k + 1 >= n) *r1 = *r0;
    else if (at + 1 < m) *r1 = cand[at + 1];
    else *r1 = min_above_avx2(u, n, hi);
}

LBQ_AVX2 static void minmax_avx2(const uint32_t *u, int64_t n, uint32_t *lo, uint32_t *hi)
{
    __m256i mn = _mm256_set1_epi32(-1), mx = _mm256_setzero_si256();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(u + i));
        mn = _mm256_min_epu32(mn, v);
        mx = _mm256_max_epu32(mx, v);
    }
    uint32_t a[8], b[8], l = 0xffffffffu, h = 0;
    _mm256_storeu_si256((__m256i *)(void *)a, mn);
    _mm256_storeu_si256((__m256i *)(void *)b, mx);
    for (int k = 0; k < 8; k++) { l = a[k] < l ? a[k] : l; h = b[k] > h ? b[k] : h; }
    for (; i < n; i++) { l = u[i] < l ? u[i] : l; h = u[i] > h ? u[i] : h; }
    *lo = l; *hi = h;
}
#endif

static void minmax_u32(const uint32_t *u, int64_t n, uint32_t *lo, uint32_t *hi)
{
#if LBQ_HAVE_AVX2_CODE
    if (lbq_simd_level() >= 2) { minmax_avx2(u, n, lo, hi); return; }
#endif
    uint32_t l = 0xffffffffu, h = 0;
    for (int64_t i = 0; i < n; i++) { l = u[i] < l ? u[i] : l; h = u[i] > h ? u[i] : h; }
    *lo = l; *hi = h;
}

float lbq_quantile_nonneg(const float *a, int64_t n, double p)
{
    if (n <= 0) return 0.0f;
    const uint32_t *u = (const uint32_t *)(const void *)a;
    uint32_t lo, hi, r0, r1;
    minmax_u32(u, n, &lo, &hi);
    int64_t k;
    float w;
    lbq_quantile_pos(n, p, &k, &w);
#if LBQ_HAVE_AVX2_CODE
    if (lbq_simd_level() >= 2) {
        kth2_avx2(u, n, k, lo, hi, &r0, &r1);
        return lbq_quantile_needs_hi(n, k, w) ? lbq_quantile_lerp(lbq_u2f(r0), lbq_u2f(r1), w) : lbq_u2f(r0);
    }
#endif
    r0 = kth_portable(u, n, k + 1, lo, hi);
    if (!lbq_quantile_needs_hi(n, k, w)) return lbq_u2f(r0);
    r1 = r0;
    if (count_le_portable(u, n, r0) < k + 2) {     /* the next order statistic is larger */
        r1 = 0xffffffffu;
        for (int64_t i = 0; i < n; i++) { uint32_t c = u[i] > r0 ? u[i] : 0xffffffffu; r1 = c < r1 ? c : r1; }
    }
    return lbq_quantile_lerp(lbq_u2f(r0), lbq_u2f(r1), w);
}

/* out[i] = lbq_log_clean(x[i]); returns the smallest positive out[i] (+inf if none), as
 * lbq_minabs_acc over them */
#if LBQ_HAVE_AVX2_CODE
LBQ_AVX2 static float log_clean_avx2(const float *x, int64_t n, float *out)
{
    const __m256 zero = _mm256_setzero_ps(), inf = _mm256_castsi256_ps(_mm256_set1_epi32(0x7f800000));
    __m256 mn = inf;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 xv = _mm256_loadu_ps(x + i);
        __m256 ok = _mm256_and_ps(_mm256_cmp_ps(xv, zero, _CMP_GT_OQ), _mm256_cmp_ps(xv, inf, _CMP_LT_OQ));
        __m256 v = _mm256_and_ps(xv, ok);
        _mm256_storeu_ps(out + i, v);
        mn = _mm256_min_ps(mn, _mm256_blendv_ps(inf, v, ok));
    }
    float lane[8], m = LBQ_INF;
    _mm256_storeu_ps(lane, mn);
    for (int k = 0; k < 8; k++) m = lbq_minabs_acc(m, lane[k]);
    for (; i < n; i++) { out[i] = lbq_log_clean(x[i]); m = lbq_minabs_acc(m, out[i]); }
    return m;
}
#endif

float lbq_log_clean_block(const float *x, int64_t n, float *out)
{
#if LBQ_HAVE_AVX2_CODE
    if (lbq_simd_level() >= 2) return log_clean_avx2(x, n, out);
#endif
    float m = LBQ_INF;
    for (int64_t i = 0; i < n; i++) { out[i] = lbq_log_clean(x[i]); m = lbq_minabs_acc(m, out[i]); }
    return m;
}

/* ---- SOLO's log map, nearest rounding, one block --------------------------------------------- */
static void log_block_portable(const float *x, int64_t n, float delta, float alpha, int nmax,
                               const float *lev, float *xhat, uint8_t *codes, int solo)
{
    for (int64_t i = 0; i < n; i++) {
        float xn = lbq_normalize(x[i], delta);
        int c = solo ? lbq_code_log_solo(xn, alpha, nmax, 0, 0.0f) : lbq_code_log(xn, alpha, nmax, 0, 0.0f);
        xhat[i] = lev[c] * delta;
        if (codes) codes[i] = (uint8_t)c;
    }
}

#if LBQ_HAVE_AVX2_CODE

LBQ_AVX2 static void log_block_avx2(const float *x, int64_t n, float delta, float alpha, int nmax,
                                    const float *lev, float *xhat, uint8_t *codes, int solo)
{
    int64_t i = 0;
    /* else every code is 0 or nmax: the portable loop */
    if (alpha < 1.0f && delta > 0.0f && (!solo || alpha > 0.0f)) {
        const float la = lbq_log2f(alpha);
        const __m256 dv = _mm256_set1_ps(delta), lav = _mm256_set1_ps(la), zero = _mm256_setzero_ps();
        const __m256 nmf = _mm256_set1_ps((float)nmax);
        const __m256 inf = _mm256_castsi256_ps(_mm256_set1_epi32(0x7f800000));
        const __m256i nmi = _mm256_set1_epi32(nmax);
        const __m256i nonpos = solo ? _mm256_setzero_si256() : nmi;   /* code of xn < 0 */
        __m256 levlo = _mm256_loadu_ps(lev);          /* lev has 256 entries */
        for (; i + 8 <= n; i += 8) {
            __m256 xn = _mm256_div_ps(_mm256_loadu_ps(x + i), dv);
            xn = _mm256_and_ps(xn, _mm256_cmp_ps(xn, xn, _CMP_ORD_Q));          /* lbq_normalize */
            __m256 pos = _mm256_cmp_ps(xn, zero, _CMP_GT_OQ);
            __m256 fin = _mm256_cmp_ps(xn, inf, _CMP_LT_OQ);
            __m256 l2 = lbq_log2f8(_mm256_blendv_ps(_mm256_set1_ps(1.0f), xn, _mm256_and_ps(pos, fin)));
            l2 = _mm256_blendv_ps(inf, l2, fin);                                 /* log2(inf) = inf */
            __m256 c = _mm256_round_ps(_mm256_div_ps(l2, lav), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            c = _mm256_and_ps(c, _mm256_cmp_ps(c, zero, _CMP_GT_OQ));            /* !(c > 0) -> 0 */
            c = _mm256_min_ps(c, nmf);                                           /* c > nmax -> nmax */
            __m256i ci = _mm256_cvttps_epi32(c);
            /* !(xn > 0): 0 -> nmax; negative -> nmax (guarded) or 0 (SOLO's NaN code) */
            __m256i npc = _mm256_blendv_epi8(nonpos, nmi, _mm256_castps_si256(_mm256_cmp_ps(xn, zero, _CMP_EQ_OQ)));
            ci = _mm256_blendv_epi8(npc, ci, _mm256_castps_si256(pos));
            __m256 lv = (nmax < 8) ? _mm256_permutevar8x32_ps(levlo, ci) : _mm256_i32gather_ps(lev, ci, 4);
            _mm256_storeu_ps(xhat + i, _mm256_mul_ps(lv, dv));
            if (codes) store_codes8(codes + i, ci);
        }
    }
    if (i < n) log_block_portable(x + i, n - i, delta, alpha, nmax, lev, xhat + i, codes ? codes + i : NULL, solo);
}
#endif

void lbq_log_block(const float *x, int64_t n, float delta, float alpha, int nmax, const float *lev,
                   float *xhat, uint8_t *codes, int solo)
{
#if LBQ_HAVE_AVX2_CODE
    if (lbq_simd_level() >= 2) { log_block_avx2(x, n, delta, alpha, nmax, lev, xhat, codes, solo); return; }
#endif
    log_block_portable(x, n, delta, alpha, nmax, lev, xhat, codes, solo);
}
