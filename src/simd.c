/* simd.c - the vectorized CPU inner loops of quantization, equal bit for bit to the per-element
 * functions of quantizers/qcore.h (which the CUDA kernels use): table maps with nearest rounding
 * (and the block absmax fused with them), SOLO's log map with nearest and stochastic rounding
 * (Philox draws identical to lbq_philox_uniform), plain FP8 (E4M3, E5M2) and COAT's dynamic range
 * expansion (its warp-tree group statistics included), and the exact small-array quantile of the
 * log map and of the outlier-block medians.
 *
 * Why they are equal: every step is the same IEEE single operation, lane by lane.
 *   normalize   xn = x / s (vdivps, correctly rounded like the scalar division), then 0 where
 *               !(s > 0) or xn is NaN (lbq_normalize);
 *   code        the branch-free binary search of lbq_code_nearest over the padded midpoints
 *               (ordered less-than compares), its probe tables in registers or gathered;
 *   value       q[code] * s (a table permute or gather, then vmulps);
 *   block max   max over |x| of the finite x, starting at +0 (lbq_absmax_acc): |x| is masked to
 *               0 where not finite, and max is exact whatever the order;
 *   log map     lbq_code_log / lbq_code_log_solo with lbq_log2f evaluated operation for operation in
 *               8 lanes; stochastic: Philox4x32-10 per lane (vpmuludq gives the 32x32 -> 64 products);
 *   fp8         lbq_fp8_scale and the normalizing division per lane; the rounding to the FP8 grid by
 *               integer operations on the bits (round to nearest even at the kept mantissa bits),
 *               which give exactly rintf(a / q) * q for the power-of-two quantum q;
 *   dre         lbq_coat_group_stats as its halving tree (a zero lane drops the partial minima, as in
 *               COAT's kernel), then lbq_powf_pos = lbq_exp2f(k * lbq_log2f(x)) in 8 lanes; lanes
 *               with an infinite intermediate take the scalar function;
 *   quantile    an exact order statistic (any exact method gives the same value).
 * No FMA is used anywhere.  tests/test-simd.c compares both paths and the qcore reference on every
 * registered map, normalization, bitwidth, sign and rounding, with ties, zeros, NaN and Inf.
 *
 * The AVX2 path is chosen at run time (cpuid); where the CPU also has AVX-512 F (level 3) the log
 * map's code loop and its per-block quantile (n <= 128) run in 16-lane registers with mask registers
 * (src/lbq-avx512.h), the same operations lane by lane; where it also has AVX-512 VL/BW/DQ, COAT's
 * expansion runs an AVX-512 build of its AVX2 code (32 registers: 8 chains interleaved).  lbq_simd_enable(0) forces the portable
 * path, lbq_simd_enable(2) the AVX2 loops. */
#include "lbq-impl.h"
#include "lbq-avx2.h"
#include "lbq-avx512.h"

static int g_simd = -1;                 /* -1: not probed; 0: portable; 2: AVX2; 3: AVX2 and AVX-512 F */
static int g_bmi2 = -1;                 /* BMI2 (pext/pdep: bit packing), with level >= 2 */
static int g_avx512vl = -1;             /* AVX-512 VL, BW, DQ besides F (COAT's expansion), with level 3 */

static int simd_probe(void)
{
#if LBQ_HAVE_AVX2_CODE
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2")) return 0;
    return __builtin_cpu_supports("avx512f") ? 3 : 2;
#else
    return 0;
#endif
}

static int bmi2_probe(void)
{
#if LBQ_HAVE_AVX2_CODE
    __builtin_cpu_init();
    return __builtin_cpu_supports("bmi2") ? 1 : 0;
#else
    return 0;
#endif
}

static int avx512vl_probe(void)
{
#if LBQ_HAVE_AVX2_CODE
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
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

static int simd_bmi2(void)
{
    int b = __atomic_load_n(&g_bmi2, __ATOMIC_RELAXED);
    if (b < 0) { b = bmi2_probe(); __atomic_store_n(&g_bmi2, b, __ATOMIC_RELAXED); }
    return b && lbq_simd_level() >= 2;
}

static int simd_avx512vl(void)
{
    int b = __atomic_load_n(&g_avx512vl, __ATOMIC_RELAXED);
    if (b < 0) { b = avx512vl_probe(); __atomic_store_n(&g_avx512vl, b, __ATOMIC_RELAXED); }
    return b && lbq_simd_level() >= 3;
}

void lbq_simd_enable(int on)
{
    int best = simd_probe();
    __atomic_store_n(&g_simd, on <= 0 ? 0 : on == 1 ? best : (on < best ? on : best), __ATOMIC_RELAXED);
}

int lbq_simd_set(int level)
{
    lbq_simd_enable(level < 0 ? 1 : level < 2 ? 0 : level);
    return lbq_simd_level();
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

/* the 8 codes (0..255 in 32-bit lanes) as 8 bytes: two saturating packs (exact for 0..255) and one
 * 64-bit store, no round trip through memory per lane */
LBQ_AVX2_INLINE void store_codes8(uint8_t *codes, __m256i c)
{
    __m256i t = _mm256_packus_epi32(c, c);              /* per 128-bit half: c0..c3 c0..c3 as u16 */
    t = _mm256_packus_epi16(t, t);                      /* bytes c0..c3 (x4) | c4..c7 (x4) */
    uint32_t lo = (uint32_t)_mm_cvtsi128_si32(_mm256_castsi256_si128(t));
    uint32_t hi = (uint32_t)_mm_cvtsi128_si32(_mm256_extracti128_si256(t, 1));
    uint64_t v = (uint64_t)lo | ((uint64_t)hi << 32);
    memcpy(codes, &v, 8);
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
                                         float *xhat, uint8_t *codes, float *scale, float *bscale)
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
        if (bscale) bscale[b0 / B] = s;
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

/* Rank-1 scales fused: along a row run the scale of element j is min(M_last[j], m) with m the min
 * of the outer dimensions' maxima (rank1_scales, quantizers/norm-rank1.c, lbq_rank1_scale), taken
 * here lane by lane (vminps: M < m ? M : m, as the scalar rule) instead of a per-element array */
LBQ_AVX2_INLINE void rank1_rows(const struct nk *k, const struct lbq_qplan *p, const int L, const struct lbq_tstats *st,
                                int64_t off, int64_t n, const float *x, float *xhat, uint8_t *codes)
{
    const struct lbq_shape *s = &st->shape;
    const int r = s->rank;
    int64_t idx[LBQ_MAX_RANK];
    lbq_unravel(off, s->dim, r, idx);
    const int64_t dl = s->dim[r - 1];
    const float *ml = st->dimmax[r - 1];
    for (int64_t i = 0; i < n;) {
        float m = st->dimmax[0][idx[0]];
        for (int d = 1; d < r - 1; d++) { float v = st->dimmax[d][idx[d]]; if (v < m) m = v; }
        int64_t run = dl - idx[r - 1];
        if (run > n - i) run = n - i;
        const float *mr = ml + idx[r - 1];
        const __m256 mv = _mm256_set1_ps(m);
        int64_t j = 0;
        for (; j + 8 <= run; j += 8) {
            __m256 sv = _mm256_min_ps(_mm256_loadu_ps(mr + j), mv);
            __m256i c;
            _mm256_storeu_ps(xhat + i + j, nk_qdq8(k, p, L, normalize8(_mm256_loadu_ps(x + i + j), sv), sv, &c));
            if (codes) store_codes8(codes + i + j, c);
        }
        if (j < run) {
            float sc[8];
            for (int64_t q = j; q < run; q++) sc[q - j] = (mr[q] < m) ? mr[q] : m;
            nearest_portable(p, run - j, x + i + j, sc, 0.0f, xhat + i + j, codes ? codes + i + j : NULL);
        }
        i += run;
        idx[r - 1] += run;
        for (int d = r - 1; d > 0 && idx[d] == s->dim[d]; d--) { idx[d] = 0; idx[d - 1]++; }
    }
}

LBQ_AVX2 static void nearest_rank1_avx2(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, int64_t n,
                                        const float *x, float *xhat, uint8_t *codes)
{
    struct nk k;
    nk_init(&k, p);
#define BODY(L) rank1_rows(&k, p, L, st, off, n, x, xhat, codes)
    LBQ_NK_DISPATCH(k.nstep, BODY)
#undef BODY
}
#endif

/* ---- dispatch ------------------------------------------------------------------------------ */
int lbq_table_nearest_rank1(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, int64_t n,
                            const float *x, float *xhat, uint8_t *codes)
{
#if LBQ_HAVE_AVX2_CODE
    if (lbq_simd_level() >= 2 && st->shape.rank >= 2) { nearest_rank1_avx2(p, st, off, n, x, xhat, codes); return 1; }
#else
    (void)p; (void)st; (void)off; (void)n; (void)x; (void)xhat; (void)codes;
#endif
    return 0;
}

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
                              uint8_t *codes, float *scale, float *bscale)
{
#if LBQ_HAVE_AVX2_CODE
    if (lbq_simd_level() >= 2) { nearest_blocks_avx2(p, n, x, xhat, codes, scale, bscale); return; }
#endif
    for (int64_t b0 = 0; b0 < n; b0 += p->block) {
        int64_t bn = (n - b0 < p->block) ? n - b0 : p->block;
        float s = absmax_portable(x + b0, bn);
        if (scale) for (int64_t i = 0; i < bn; i++) scale[b0 + i] = s;
        if (bscale) bscale[b0 / p->block] = s;
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

#if LBQ_HAVE_AVX2_CODE
/* kth2_avx2 and minmax_avx2 for n <= 128 with the values held in 8 AVX-512 registers (lanes past n
 * hold 0xffffffff, above every threshold): a count is 8 compares into mask registers and their
 * popcounts, with no reload and no horizontal sum; the bracket search is kth2_avx2's step for step,
 * the candidates are picked out by vpcompressd.  Returns r0, r1 as kth2_avx2 (and lo, hi unused). */
#define KQ _Pragma("GCC unroll 8") for (int q = 0; q < 8; q++)
LBQ_AVX512_INLINE int64_t count_le_z(const __m512i *v, uint32_t t)
{
    const __m512i tv = _mm512_set1_epi32((int32_t)t);
    int64_t c = 0;
    KQ c += __builtin_popcount(_cvtmask16_u32(_mm512_cmple_epu32_mask(v[q], tv)));
    return c;
}
LBQ_AVX512_INLINE uint32_t min_above_z(const __m512i *v, uint32_t t)
{
    const __m512i tv = _mm512_set1_epi32((int32_t)t), all = _mm512_set1_epi32(-1);
    __m512i mn = all;
    KQ mn = _mm512_min_epu32(mn, _mm512_mask_mov_epi32(all, _mm512_cmpgt_epu32_mask(v[q], tv), v[q]));
    return (uint32_t)_mm512_reduce_min_epu32(mn);
}
LBQ_AVX512 static void kth2_small_avx512(const uint32_t *u, int64_t n, int64_t k, uint32_t *r0, uint32_t *r1)
{
    __m512i v[8];
    __m512i mn = _mm512_set1_epi32(-1), mx = _mm512_setzero_si512();
    KQ {
        int64_t left = n - 16 * q;
        __mmask16 ld = (__mmask16)(left >= 16 ? 0xffffu : left > 0 ? (1u << left) - 1u : 0u);
        v[q] = _mm512_mask_loadu_epi32(_mm512_set1_epi32(-1), ld, u + 16 * q);
        mn = _mm512_min_epu32(mn, v[q]);
        mx = _mm512_mask_max_epu32(mx, ld, mx, v[q]);
    }
    uint32_t lo = (uint32_t)_mm512_reduce_min_epu32(mn), hi = (uint32_t)_mm512_reduce_max_epu32(mx);
    const int64_t want = k + 1;
    int64_t clo = 0, chi = n;
    while (hi - lo >= 3 && chi - clo > 16) {
        uint32_t t1 = lo + (hi - lo) / 2;
        uint32_t ta = lo + (t1 - lo) / 2, tb = t1 + 1 + (hi - t1 - 1) / 2;
        int64_t c0 = count_le_z(v, t1);
        int up = c0 < want;
        uint32_t l1 = up ? t1 + 1 : lo, h1 = up ? hi : t1;
        int64_t cl1 = up ? c0 : clo, ch1 = up ? chi : c0;
        uint32_t t2 = up ? tb : ta;
        int64_t c2 = count_le_z(v, t2);
        int up2 = c2 < want;
        lo = up2 ? t2 + 1 : l1;
        hi = up2 ? h1 : t2;
        clo = up2 ? c2 : cl1;
        chi = up2 ? ch1 : c2;
    }
    while (lo < hi && chi - clo > 16) {
        uint32_t t = lo + (hi - lo) / 2;
        int64_t c = count_le_z(v, t);
        if (c < want) { lo = t + 1; clo = c; } else { hi = t; chi = c; }
    }
    if (lo == hi) {                     /* positions clo .. chi-1 all hold lo */
        *r0 = lo;
        *r1 = (want < chi || k + 1 >= n) ? lo : min_above_z(v, hi);
        return;
    }
    uint32_t cand[48];                  /* chi - clo <= 16 values in [lo, hi], + a full store */
    int m = 0;
    const __m512i lov = _mm512_set1_epi32((int32_t)lo), hiv = _mm512_set1_epi32((int32_t)hi);
    KQ {
        __mmask16 in = _mm512_cmpge_epu32_mask(v[q], lov) & _mm512_cmple_epu32_mask(v[q], hiv);
        if (m <= 16) {
            _mm512_storeu_si512((void *)(cand + m), _mm512_maskz_compress_epi32(in, v[q]));
            m += __builtin_popcount(_cvtmask16_u32(in));
        }
    }
    m = m < 16 ? m : 16;
    int64_t at = want - clo - 1;        /* 0 <= at < m by the counts */
    at = at < m ? at : m - 1;
    at = at > 0 ? at : 0;
    /* the at-th and (at+1)-th smallest of the m candidates without sorting: lane i holds the r-th
     * smallest when lt_i <= r < le_i (lt, le: how many candidates are <, <= it); lanes past m hold
     * 0xffffffff, above every candidate, so they change no count of a candidate lane */
    const __m512i c = _mm512_mask_loadu_epi32(_mm512_set1_epi32(-1), (__mmask16)((1u << m) - 1u), cand);
    __m512i lt = _mm512_setzero_si512(), le = _mm512_setzero_si512();
    const __m512i one = _mm512_set1_epi32(1);
    for (int j = 0; j < m; j++) {
        const __m512i b = _mm512_set1_epi32((int32_t)cand[j]);
        lt = _mm512_mask_add_epi32(lt, _mm512_cmplt_epu32_mask(b, c), lt, one);
        le = _mm512_mask_add_epi32(le, _mm512_cmple_epu32_mask(b, c), le, one);
    }
    const __m512i r0v = _mm512_set1_epi32((int32_t)at), r1v = _mm512_set1_epi32((int32_t)(at + 1));
    __mmask16 k0 = _mm512_cmple_epi32_mask(lt, r0v) & _mm512_cmpgt_epi32_mask(le, r0v);
    __mmask16 k1 = _mm512_cmple_epi32_mask(lt, r1v) & _mm512_cmpgt_epi32_mask(le, r1v);
    *r0 = (uint32_t)_mm512_mask_reduce_min_epu32(k0, c);
    if (k + 1 >= n) *r1 = *r0;
    else if (at + 1 < m) *r1 = (uint32_t)_mm512_mask_reduce_min_epu32(k1, c);
    else *r1 = min_above_z(v, hi);
}
#undef KQ
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
    int64_t k;
    float w;
    lbq_quantile_pos(n, p, &k, &w);
#if LBQ_HAVE_AVX2_CODE
    if (n <= 128 && lbq_simd_level() >= 3) {
        kth2_small_avx512(u, n, k, &r0, &r1);
        return lbq_quantile_needs_hi(n, k, w) ? lbq_quantile_lerp(lbq_u2f(r0), lbq_u2f(r1), w) : lbq_u2f(r0);
    }
#endif
    minmax_u32(u, n, &lo, &hi);
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
struct log_sr { int on; uint64_t seed; uint32_t stream; uint64_t index0; };  /* u of element i: index0 + i */

static void log_block_portable(const float *x, int64_t n, float delta, float alpha, int nmax,
                               const float *lev, float *xhat, uint8_t *codes, int solo, const struct log_sr *sr)
{
    for (int64_t i = 0; i < n; i++) {
        float xn = lbq_normalize(x[i], delta);
        float u = sr->on ? lbq_philox_uniform(sr->seed, sr->stream, sr->index0 + (uint64_t)i) : 0.0f;
        int c = solo ? lbq_code_log_solo(xn, alpha, nmax, sr->on, u) : lbq_code_log(xn, alpha, nmax, sr->on, u);
        xhat[i] = lev[c] * delta;
        if (codes) codes[i] = (uint8_t)c;
    }
}

#if LBQ_HAVE_AVX2_CODE

LBQ_AVX2 static void log_block_avx2(const float *x, int64_t n, float delta, float alpha, float la, int nmax,
                                    const float *lev, float *xhat, uint8_t *codes, int solo, const struct log_sr *sr)
{
    int64_t i = 0;
    /* else every code is 0 or nmax: the portable loop */
    if (alpha < 1.0f && delta > 0.0f && (!solo || alpha > 0.0f)) {
        const __m256 dv = _mm256_set1_ps(delta), lav = _mm256_set1_ps(la), zero = _mm256_setzero_ps();
        const __m256 nmf = _mm256_set1_ps((float)nmax);
        const __m256 inf = _mm256_castsi256_ps(_mm256_set1_epi32(0x7f800000));
        const __m256i nmi = _mm256_set1_epi32(nmax);
        const __m256i nonpos = solo ? _mm256_setzero_si256() : nmi;   /* code of xn < 0 */
        __m256 levlo = _mm256_loadu_ps(lev);          /* lev has 256 entries */
        struct lbq_philox_run R = { { 0 }, { 0 }, 0, 0, 0, 0 };
        if (sr->on) lbq_philox_run_init(&R, sr->seed, sr->stream, (uint32_t)(sr->index0 >> 32));
        for (; i + 32 <= n; i += 32) {                  /* four vectors interleaved */
            uint64_t ix = sr->index0 + (uint64_t)i;
            if (sr->on && (uint32_t)ix > 0xffffffe0u) break;        /* crosses 2^32: one vector at a time */
            __m256 xn[4], pos[4], fin[4], l2[4], c[4], u[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
            LBQ_X4 {
                xn[j] = _mm256_div_ps(_mm256_loadu_ps(x + i + 8 * j), dv);
                xn[j] = _mm256_and_ps(xn[j], _mm256_cmp_ps(xn[j], xn[j], _CMP_ORD_Q));
                pos[j] = _mm256_cmp_ps(xn[j], zero, _CMP_GT_OQ);
                fin[j] = _mm256_cmp_ps(xn[j], inf, _CMP_LT_OQ);
                l2[j] = _mm256_blendv_ps(_mm256_set1_ps(1.0f), xn[j], _mm256_and_ps(pos[j], fin[j]));
            }
            if (sr->on) lbq_philox_uniform8x4(&R, ix, u);    /* ix >> 32 == index0 >> 32 here */
            lbq_log2f8x4(l2);
            LBQ_X4 {
                __m256 li = _mm256_div_ps(_mm256_blendv_ps(inf, l2[j], fin[j]), lav);
                if (!sr->on) c[j] = _mm256_round_ps(li, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                else c[j] = solo ? _mm256_round_ps(_mm256_add_ps(li, _mm256_sub_ps(u[j], _mm256_set1_ps(0.5f))),
                                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
                                 : _mm256_round_ps(_mm256_add_ps(li, u[j]), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
                c[j] = _mm256_and_ps(c[j], _mm256_cmp_ps(c[j], zero, _CMP_GT_OQ));
                c[j] = _mm256_min_ps(c[j], nmf);
                __m256i ci = _mm256_cvttps_epi32(c[j]);
                __m256i npc = _mm256_blendv_epi8(nonpos, nmi, _mm256_castps_si256(_mm256_cmp_ps(xn[j], zero, _CMP_EQ_OQ)));
                ci = _mm256_blendv_epi8(npc, ci, _mm256_castps_si256(pos[j]));
                __m256 lv = (nmax < 8) ? _mm256_permutevar8x32_ps(levlo, ci) : _mm256_i32gather_ps(lev, ci, 4);
                _mm256_storeu_ps(xhat + i + 8 * j, _mm256_mul_ps(lv, dv));
                if (codes) store_codes8(codes + i + 8 * j, ci);
            }
        }
        for (; i + 8 <= n; i += 8) {
            uint64_t ix = sr->index0 + (uint64_t)i;
            if (sr->on && (uint32_t)ix > 0xfffffff8u) break;        /* crosses 2^32: portable tail */
            __m256 xn = _mm256_div_ps(_mm256_loadu_ps(x + i), dv);
            xn = _mm256_and_ps(xn, _mm256_cmp_ps(xn, xn, _CMP_ORD_Q));          /* lbq_normalize */
            __m256 pos = _mm256_cmp_ps(xn, zero, _CMP_GT_OQ);
            __m256 fin = _mm256_cmp_ps(xn, inf, _CMP_LT_OQ);
            __m256 l2 = lbq_log2f8(_mm256_blendv_ps(_mm256_set1_ps(1.0f), xn, _mm256_and_ps(pos, fin)));
            l2 = _mm256_blendv_ps(inf, l2, fin);                                 /* log2(inf) = inf */
            __m256 li = _mm256_div_ps(l2, lav), c;
            if (!sr->on) c = _mm256_round_ps(li, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            else {
                __m256 u = lbq_philox_uniform8(sr->seed, sr->stream, ix);
                c = solo ? _mm256_round_ps(_mm256_add_ps(li, _mm256_sub_ps(u, _mm256_set1_ps(0.5f))),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
                         : _mm256_round_ps(_mm256_add_ps(li, u), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
            }
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
    if (i < n) {
        struct log_sr t = *sr;
        t.index0 += (uint64_t)i;
        log_block_portable(x + i, n - i, delta, alpha, nmax, lev, xhat + i, codes ? codes + i : NULL, solo, &t);
    }
}
#endif

#if LBQ_HAVE_AVX2_CODE
/* log_block_avx2 in 16 lanes with mask registers (the same operations per lane), Philox in 64-bit
 * lanes (lbq_philox_uniform16x2); the levels of a map of up to 16 by one vpermps.  What is left
 * (under 16 elements, or a run of indices that crosses a multiple of 2^32) goes to log_block_avx2. */
LBQ_AVX512 static void log_block_avx512(const float *x, int64_t n, float delta, float alpha, float la, int nmax,
                                        const float *lev, float *xhat, uint8_t *codes, int solo, const struct log_sr *sr)
{
    int64_t i = 0;
    if (alpha < 1.0f && delta > 0.0f && (!solo || alpha > 0.0f)) {
        const __m512 dv = _mm512_set1_ps(delta), lav = _mm512_set1_ps(la), zero = _mm512_setzero_ps();
        const __m512 nmf = _mm512_set1_ps((float)nmax), one = _mm512_set1_ps(1.0f), half = _mm512_set1_ps(0.5f);
        const __m512 inf = _mm512_castsi512_ps(_mm512_set1_epi32(0x7f800000));
        const __m512i nmi = _mm512_set1_epi32(nmax);
        const __m512i nonpos = solo ? _mm512_setzero_si512() : nmi;   /* code of xn < 0 */
        const __m512 lev16 = _mm512_loadu_ps(lev);                     /* lev has 256 entries */
        struct lbq_philox_run R = { { 0 }, { 0 }, 0, 0, 0, 0 };
        if (sr->on) lbq_philox_run_init(&R, sr->seed, sr->stream, (uint32_t)(sr->index0 >> 32));
        for (; i + 64 <= n; i += 64) {
            uint64_t ix = sr->index0 + (uint64_t)i;
            if (sr->on && (uint32_t)ix > 0xffffffc0u) break;        /* crosses 2^32: log_block_avx2 */
            __m512 xn[4], l2[4], u[4] = { zero, zero, zero, zero };
            __mmask16 pos[4], fin[4];
            LBQ_X4 {
                xn[j] = _mm512_div_ps(_mm512_loadu_ps(x + i + 16 * j), dv);
                xn[j] = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(xn[j], xn[j], _CMP_ORD_Q), xn[j]);  /* lbq_normalize */
                pos[j] = _mm512_cmp_ps_mask(xn[j], zero, _CMP_GT_OQ);
                fin[j] = _mm512_cmp_ps_mask(xn[j], inf, _CMP_LT_OQ);
                l2[j] = _mm512_mask_blend_ps(pos[j] & fin[j], one, xn[j]);
            }
            if (sr->on) {               /* ix >> 32 == index0 >> 32 here */
                lbq_philox_uniform16x2(&R, ix, u);
                lbq_philox_uniform16x2(&R, ix + 32, u + 2);
            }
            lbq_log2f16x4(l2);
            LBQ_X4 {
                __m512 li = _mm512_div_ps(_mm512_mask_blend_ps(fin[j], inf, l2[j]), lav), c;   /* log2(inf) = inf */
                if (!sr->on) c = _mm512_roundscale_ps(li, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                else c = solo ? _mm512_roundscale_ps(_mm512_add_ps(li, _mm512_sub_ps(u[j], half)),
                                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
                              : _mm512_roundscale_ps(_mm512_add_ps(li, u[j]), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
                c = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(c, zero, _CMP_GT_OQ), c);   /* !(c > 0) -> 0 */
                c = _mm512_min_ps(c, nmf);                                              /* c > nmax -> nmax */
                __m512i ci = _mm512_cvttps_epi32(c);
                /* !(xn > 0): 0 -> nmax; negative -> nmax (guarded) or 0 (SOLO's NaN code) */
                __m512i npc = _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(xn[j], zero, _CMP_EQ_OQ), nonpos, nmi);
                ci = _mm512_mask_blend_epi32(pos[j], npc, ci);
                __m512 lv = (nmax < 16) ? _mm512_permutexvar_ps(ci, lev16) : _mm512_i32gather_ps(ci, lev, 4);
                _mm512_storeu_ps(xhat + i + 16 * j, _mm512_mul_ps(lv, dv));
                if (codes) _mm_storeu_si128((__m128i *)(void *)(codes + i + 16 * j), _mm512_cvtepi32_epi8(ci));
            }
        }
    }
    if (i < n) {
        struct log_sr t = *sr;
        t.index0 += (uint64_t)i;
        log_block_avx2(x + i, n - i, delta, alpha, la, nmax, lev, xhat + i, codes ? codes + i : NULL, solo, &t);
    }
}
#endif

/* la = lbq_log2f(alpha), used where 0 <= alpha < 1 (the vector loops' condition) */
static void log_block_run(const float *x, int64_t n, float delta, float alpha, float la, int nmax, const float *lev,
                          float *xhat, uint8_t *codes, int solo, const struct log_sr *sr)
{
#if LBQ_HAVE_AVX2_CODE
    if (lbq_simd_level() >= 3) { log_block_avx512(x, n, delta, alpha, la, nmax, lev, xhat, codes, solo, sr); return; }
    if (lbq_simd_level() >= 2) { log_block_avx2(x, n, delta, alpha, la, nmax, lev, xhat, codes, solo, sr); return; }
#else
    (void)la;
#endif
    log_block_portable(x, n, delta, alpha, nmax, lev, xhat, codes, solo, sr);
}

void lbq_log_block(const float *x, int64_t n, float delta, float alpha, int nmax, const float *lev,
                   float *xhat, uint8_t *codes, int solo)
{
    const struct log_sr sr = { 0, 0, 0, 0 };
    log_block_run(x, n, delta, alpha, lbq_log2f(alpha), nmax, lev, xhat, codes, solo, &sr);
}

void lbq_log_block_sr(const float *x, int64_t n, float delta, float alpha, int nmax, const float *lev,
                      float *xhat, uint8_t *codes, int solo, uint64_t seed, uint32_t stream, uint64_t index0)
{
    const struct log_sr sr = { 1, seed, stream, index0 };
    log_block_run(x, n, delta, alpha, lbq_log2f(alpha), nmax, lev, xhat, codes, solo, &sr);
}

void lbq_log_block_la(const float *x, int64_t n, float delta, float alpha, float la, int nmax, const float *lev,
                      float *xhat, uint8_t *codes, int solo, int stochastic, uint64_t seed, uint32_t stream, uint64_t index0)
{
    const struct log_sr sr = { stochastic != 0, seed, stream, index0 };
    log_block_run(x, n, delta, alpha, la, nmax, lev, xhat, codes, solo, &sr);
}

/* ---- per-block parameters of the log map, 8 blocks at a time -------------------------------- */
static void log_params_portable(int nb, const float *delta, const float *quant, const float *minpos, int nmax,
                                int guarded, float *sc, float *alpha, float *la)
{
    for (int b = 0; b < nb; b++) {
        alpha[b] = lbq_log_params(delta[b], quant[b], minpos[b], nmax, guarded, &sc[b]);
        la[b] = (alpha[b] >= 0.0f && alpha[b] < 1.0f) ? lbq_log2f(alpha[b]) : 0.0f;
    }
}

#if LBQ_HAVE_AVX2_CODE
/* lbq_log_params (lbq_solo_alpha or lbq_log_block_alpha) with its branches as lane masks: lanes
 * outside the general case evaluate log2 of 0.5 and take the special value; the general case is
 * lbq_log2f, the scaling by 1/N (SOLO: times the float 1/N; guarded: divided by N) and lbq_exp2f,
 * operation for operation (lbq_log2f8, lbq_exp2f8); la by lbq_log2f8 (alpha = 0: -inf). */
LBQ_AVX2 static void log_params_avx2(int nb, const float *delta, const float *quant, const float *minpos, int nmax,
                                     int guarded, float *sc, float *alpha, float *la)
{
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f);
    const __m256 inf = _mm256_castsi256_ps(_mm256_set1_epi32(0x7f800000));
    int b = 0;
    for (; b + 8 <= nb; b += 8) {
        __m256 d = _mm256_loadu_ps(delta + b), q = _mm256_loadu_ps(quant + b), a, s;
        if (!guarded) {
            const __m256 eps = _mm256_set1_ps(LBQ_SOLO_EPS);
            s = _mm256_blendv_ps(eps, d, _mm256_cmp_ps(d, eps, _CMP_GT_OQ));
            __m256 xp = _mm256_div_ps(q, s);
            __m256 posv = _mm256_cmp_ps(xp, zero, _CMP_GT_OQ), gen = _mm256_and_ps(posv, _mm256_cmp_ps(xp, one, _CMP_LT_OQ));
            __m256 y = _mm256_mul_ps(lbq_log2f8(_mm256_blendv_ps(half, xp, gen)), _mm256_set1_ps(1.0f / (float)nmax));
            a = _mm256_blendv_ps(_mm256_and_ps(one, posv), lbq_exp2f8(y), gen);   /* !(xp > 0): 0; !(xp < 1): 1 */
        } else {
            s = d;
            __m256 xp = _mm256_div_ps(q, d);
            __m256 alt = _mm256_andnot_ps(_mm256_cmp_ps(xp, zero, _CMP_GT_OQ),
                                          _mm256_cmp_ps(_mm256_loadu_ps(minpos + b), inf, _CMP_LT_OQ));
            xp = _mm256_blendv_ps(xp, _mm256_div_ps(_mm256_loadu_ps(minpos + b), d), alt);
            __m256 gen = _mm256_and_ps(_mm256_cmp_ps(xp, zero, _CMP_GT_OQ), _mm256_cmp_ps(xp, one, _CMP_LT_OQ));
            __m256 y = _mm256_div_ps(lbq_log2f8(_mm256_blendv_ps(half, xp, gen)), _mm256_set1_ps((float)nmax));
            a = _mm256_blendv_ps(one, lbq_exp2f8(y), _mm256_and_ps(gen, _mm256_cmp_ps(d, zero, _CMP_GT_OQ)));
        }
        __m256 in01 = _mm256_and_ps(_mm256_cmp_ps(a, zero, _CMP_GT_OQ), _mm256_cmp_ps(a, one, _CMP_LT_OQ));
        __m256 l = _mm256_and_ps(lbq_log2f8(_mm256_blendv_ps(half, a, in01)), in01);
        l = _mm256_blendv_ps(l, _mm256_sub_ps(zero, inf), _mm256_cmp_ps(a, zero, _CMP_EQ_OQ));   /* log2(0) = -inf */
        _mm256_storeu_ps(sc + b, s);
        _mm256_storeu_ps(alpha + b, a);
        _mm256_storeu_ps(la + b, l);
    }
    if (b < nb) log_params_portable(nb - b, delta + b, quant + b, minpos + b, nmax, guarded, sc + b, alpha + b, la + b);
}
#endif

void lbq_log_params_blocks(int nb, const float *delta, const float *quant, const float *minpos, int nmax,
                           int guarded, float *sc, float *alpha, float *la)
{
#if LBQ_HAVE_AVX2_CODE
    if (lbq_simd_level() >= 2) { log_params_avx2(nb, delta, quant, minpos, nmax, guarded, sc, alpha, la); return; }
#endif
    log_params_portable(nb, delta, quant, minpos, nmax, guarded, sc, alpha, la);
}

/* ---- FP8 (E4M3FN, E5M2): plain scaling and COAT's dynamic range expansion ------------------------ */
struct fp8f { int mb, emin, bias; float maxv; };
static struct fp8f fp8_fmt(int e5m2)
{
    struct fp8f f = { e5m2 ? 2 : 3, e5m2 ? -14 : -6, e5m2 ? 15 : 7, e5m2 ? 57344.0f : 448.0f };
    return f;
}

static void fp8_portable(int64_t n, const float *x, float *sc, float *xhat, uint8_t *codes, int e5m2, int coat)
{
    for (int64_t i = 0; i < n; i++) {
        int bits = 0;
        xhat[i] = lbq_fp8_qdq(x[i], lbq_fp8_scale(sc[i], e5m2, coat), e5m2, &sc[i], &bits);
        if (codes) codes[i] = (uint8_t)bits;
    }
}

static void dre_group_portable(const float *x, int64_t n, int64_t B, int e5m2, float *xhat, uint8_t *codes,
                               float *sout, float *kout, float *gout)
{
    float mx, mn, s, k, g;
    lbq_coat_group_stats(x, n, B, &mx, &mn);
    lbq_dre_params(mx, mn, e5m2, &s, &k, &g);
    for (int64_t i = 0; i < n; i++) {
        int bits = 0;
        xhat[i] = lbq_dre_qdq_elem(x[i], s, k, g, e5m2, codes ? &bits : 0);
        if (codes) codes[i] = (uint8_t)bits;
    }
    *sout = s; *kout = k; *gout = g;
}

static void fp8_blocks_portable(int64_t n, int64_t B, const float *x, float *bscale, float *xhat, uint8_t *codes,
                                int e5m2, int coat)
{
    for (int64_t b0 = 0; b0 < n; b0 += B) {
        int64_t bn = (n - b0 < B) ? n - b0 : B;
        float s = lbq_fp8_scale(absmax_portable(x + b0, bn), e5m2, coat);
        bscale[b0 / B] = s;
        for (int64_t i = b0; i < b0 + bn; i++) {
            int bits = 0;
            xhat[i] = lbq_fp8_qdq(x[i], s, e5m2, NULL, &bits);
            if (codes) codes[i] = (uint8_t)bits;
        }
    }
}

#if LBQ_HAVE_AVX2_CODE
/* lbq_fp8_round_abs for 8 lanes of a >= 0 (or NaN), by integer operations on the bits: NaN -> 0,
 * a >= maxv -> maxv; from 2^emin on, round to nearest even at mb mantissa bits (add half an ulp
 * minus one plus the kept last bit, clear the dropped bits: a carry moves the exponent); below
 * 2^emin the fixed quantum q = 2^(emin - mb) by (a + 2^23 q) - 2^23 q, which rounds a to a multiple
 * of q to nearest even exactly as rintf(a / q) * q does. */
LBQ_AVX2_INLINE __m256 fp8_round_abs8(__m256 a, const struct fp8f *f)
{
    const int sh = 23 - f->mb;
    __m256i u = _mm256_castps_si256(a);
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, sh), _mm256_set1_epi32(1));
    __m256i rn = _mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32((1 << (sh - 1)) - 1), lsb));
    rn = _mm256_and_si256(rn, _mm256_set1_epi32(-(1 << sh)));
    const __m256 C = _mm256_set1_ps(lbq_pow2i(f->emin - f->mb + 23));
    __m256 rs = _mm256_sub_ps(_mm256_add_ps(a, C), C);
    __m256 r = _mm256_blendv_ps(rs, _mm256_castsi256_ps(rn),
                                _mm256_cmp_ps(a, _mm256_set1_ps(lbq_pow2i(f->emin)), _CMP_GE_OQ));
    const __m256 mv = _mm256_set1_ps(f->maxv);
    r = _mm256_min_ps(r, mv);
    r = _mm256_blendv_ps(r, mv, _mm256_cmp_ps(a, mv, _CMP_GE_OQ));
    return _mm256_and_ps(r, _mm256_cmp_ps(a, a, _CMP_ORD_Q));
}

/* lbq_fp8_bits of a magnitude r >= 0 on the grid, without the sign: below 2^emin r / 2^(emin - mb)
 * (exact), else the float's exponent and top mantissa bits rebiased */
LBQ_AVX2_INLINE __m256i fp8_bits_abs8(__m256 r, const struct fp8f *f)
{
    __m256i sub = _mm256_cvttps_epi32(_mm256_mul_ps(r, _mm256_set1_ps(lbq_pow2i(f->mb - f->emin))));
    __m256i nor = _mm256_sub_epi32(_mm256_srli_epi32(_mm256_castps_si256(r), 23 - f->mb),
                                   _mm256_set1_epi32((127 - f->bias) << f->mb));
    return _mm256_blendv_epi8(sub, nor, _mm256_castps_si256(_mm256_cmp_ps(r, _mm256_set1_ps(lbq_pow2i(f->emin)), _CMP_GE_OQ)));
}

LBQ_AVX2 static void fp8_avx2(int64_t n, const float *x, float *sc, float *xhat, uint8_t *codes, int e5m2, int coat)
{
    const struct fp8f f = fp8_fmt(e5m2);
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 fmax = _mm256_set1_ps(f.maxv), eps = _mm256_set1_ps(coat ? 1e-20f : 1e-12f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 am = _mm256_loadu_ps(sc + i);                                    /* lbq_fp8_scale */
        am = coat ? _mm256_add_ps(am, eps) : _mm256_blendv_ps(eps, am, _mm256_cmp_ps(am, eps, _CMP_GT_OQ));
        __m256 s = _mm256_div_ps(am, fmax);
        __m256 xn = normalize8(_mm256_loadu_ps(x + i), s);
        __m256 sign = _mm256_andnot_ps(absmask, xn);
        __m256 r = fp8_round_abs8(_mm256_and_ps(xn, absmask), &f);
        _mm256_storeu_ps(sc + i, s);
        _mm256_storeu_ps(xhat + i, _mm256_mul_ps(_mm256_or_ps(r, sign), s));
        if (codes) {
            __m256i b = _mm256_or_si256(fp8_bits_abs8(r, &f), _mm256_srli_epi32(_mm256_castps_si256(sign), 24));
            store_codes8(codes + i, b);
        }
    }
    if (i < n) fp8_portable(n - i, x + i, sc + i, xhat + i, codes ? codes + i : NULL, e5m2, coat);
}

/* plain FP8 with block absmax scales: fp8_avx2 on a scale that is the same for every lane */
LBQ_AVX2 static void fp8_blocks_avx2(int64_t n, int64_t B, const float *x, float *bscale, float *xhat, uint8_t *codes,
                                     int e5m2, int coat)
{
    const struct fp8f f = fp8_fmt(e5m2);
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int64_t b0 = 0; b0 < n; b0 += B) {
        const int64_t bn = (n - b0 < B) ? n - b0 : B;
        const float *xb = x + b0;
        float *yb = xhat + b0;
        uint8_t *cb = codes ? codes + b0 : NULL;
        const float s = lbq_fp8_scale(absmax_avx2(xb, bn), e5m2, coat);      /* > 0 and finite */
        bscale[b0 / B] = s;
        const __m256 sv = _mm256_set1_ps(s);
        int64_t i = 0;
        for (; i + 8 <= bn; i += 8) {
            __m256 xn = _mm256_div_ps(_mm256_loadu_ps(xb + i), sv);
            xn = _mm256_and_ps(xn, _mm256_cmp_ps(xn, xn, _CMP_ORD_Q));          /* lbq_normalize, s > 0 */
            __m256 sign = _mm256_andnot_ps(absmask, xn);
            __m256 r = fp8_round_abs8(_mm256_and_ps(xn, absmask), &f);
            _mm256_storeu_ps(yb + i, _mm256_mul_ps(_mm256_or_ps(r, sign), sv));
            if (cb) {
                __m256i bb = _mm256_or_si256(fp8_bits_abs8(r, &f), _mm256_srli_epi32(_mm256_castps_si256(sign), 24));
                store_codes8(cb + i, bb);
            }
        }
        for (; i < bn; i++) {
            int bits = 0;
            yb[i] = lbq_fp8_qdq(xb[i], s, e5m2, NULL, &bits);
            if (cb) cb[i] = (uint8_t)bits;
        }
    }
}

/* one step of COAT's warp tree on the minima: lane l takes r's lane (r > 0 ? fmin(l, r) : l);
 * no NaN reaches it, so fmin is vminps */
LBQ_AVX2_INLINE __m256 coat_comb8(__m256 l, __m256 r)
{
    return _mm256_blendv_ps(l, _mm256_min_ps(l, r), _mm256_cmp_ps(r, _mm256_setzero_ps(), _CMP_GT_OQ));
}

/* lbq_coat_group_stats for a full group (n == B, B a multiple of 32, at most 1024 = 32 warps): a
 * warp's lane 0 after lbq_coat_warp is the halving tree 32 -> 16 -> 8 -> 4 -> 2 -> 1 (lane l < i
 * combines with lane l + i at step i), evaluated here on registers; the maximum of non-negative
 * values is the plain maximum in any order (the group's absmax over finite x). */
LBQ_AVX2_INLINE void coat_stats_avx2(const float *x, int64_t B, float *mxo, float *mno)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 inf = _mm256_castsi256_ps(_mm256_set1_epi32(0x7f800000));
    float wmn[32];
    __m256 mx = _mm256_setzero_ps();
    const int nw = (int)(B / 32);
    for (int w = 0; w < nw; w++) {
        __m256 v[4];
        for (int j = 0; j < 4; j++) {
            __m256 a = _mm256_and_ps(_mm256_loadu_ps(x + 32 * w + 8 * j), absmask);
            v[j] = _mm256_and_ps(a, _mm256_cmp_ps(a, inf, _CMP_LT_OQ));     /* non-finite -> 0 */
            mx = _mm256_max_ps(mx, v[j]);
        }
        __m256 c = coat_comb8(coat_comb8(v[0], v[2]), coat_comb8(v[1], v[3]));  /* steps 16, 8 */
        __m128 h = _mm_blendv_ps(_mm256_castps256_ps128(c),
                                 _mm_min_ps(_mm256_castps256_ps128(c), _mm256_extractf128_ps(c, 1)),
                                 _mm_cmpgt_ps(_mm256_extractf128_ps(c, 1), _mm_setzero_ps()));   /* step 4 */
        __m128 h2 = _mm_movehl_ps(h, h);                                                     /* step 2 */
        h = _mm_blendv_ps(h, _mm_min_ps(h, h2), _mm_cmpgt_ps(h2, _mm_setzero_ps()));
        __m128 h1 = _mm_shuffle_ps(h, h, 1);                                                  /* step 1 */
        h = _mm_blendv_ps(h, _mm_min_ps(h, h1), _mm_cmpgt_ps(h1, _mm_setzero_ps()));
        wmn[w] = _mm_cvtss_f32(h);
    }
    for (int w = nw; w < 32; w++) wmn[w] = 1e9f;
    {                                                 /* the block-level lbq_coat_warp, lane 0 */
        __m256 c = coat_comb8(coat_comb8(_mm256_loadu_ps(wmn), _mm256_loadu_ps(wmn + 16)),
                              coat_comb8(_mm256_loadu_ps(wmn + 8), _mm256_loadu_ps(wmn + 24)));   /* steps 16, 8 */
        __m128 h = _mm_blendv_ps(_mm256_castps256_ps128(c),
                                 _mm_min_ps(_mm256_castps256_ps128(c), _mm256_extractf128_ps(c, 1)),
                                 _mm_cmpgt_ps(_mm256_extractf128_ps(c, 1), _mm_setzero_ps()));   /* step 4 */
        __m128 h2 = _mm_movehl_ps(h, h);                                                     /* step 2 */
        h = _mm_blendv_ps(h, _mm_min_ps(h, h2), _mm_cmpgt_ps(h2, _mm_setzero_ps()));
        __m128 h1 = _mm_shuffle_ps(h, h, 1);                                                  /* step 1 */
        h = _mm_blendv_ps(h, _mm_min_ps(h, h1), _mm_cmpgt_ps(h1, _mm_setzero_ps()));
        wmn[0] = _mm_cvtss_f32(h);
    }
    float lane[8], m = 0.0f;
    _mm256_storeu_ps(lane, mx);
    for (int k = 0; k < 8; k++) m = lane[k] > m ? lane[k] : m;
    *mxo = m; *mno = wmn[0];
}

/* lbq_powf_pos(xv, k) for 8 lanes of finite xv >= 0 and finite k > 0 */
LBQ_AVX2_INLINE __m256 powf_pos8(__m256 xv, __m256 kv)
{
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    __m256 is1 = _mm256_cmp_ps(xv, one, _CMP_EQ_OQ), is0 = _mm256_cmp_ps(xv, zero, _CMP_EQ_OQ);
    __m256 l = lbq_log2f8(_mm256_blendv_ps(xv, one, _mm256_or_ps(is1, is0)));
    __m256 r = lbq_exp2f8(_mm256_mul_ps(kv, l));
    r = _mm256_blendv_ps(r, one, is1);
    return _mm256_andnot_ps(is0, r);
}

/* one group of COAT's expansion: lbq_coat_group_stats, lbq_dre_params, lbq_dre_qdq_elem lane by
 * lane (lanes with an infinite intermediate, from an infinite x or an overflowing x / g, take the
 * scalar function) */
#define DRE_XN LBQ_XN

/* the elements of one group with its parameters s, k, g (lbq_dre_qdq_elem lane by lane) */
LBQ_AVX2_INLINE void dre_elems_body(const float *x, int64_t n, int e5m2, const float s, const float k, const float g,
                                    float *xhat, uint8_t *codes, const int NV)
{
    const float ik = 1.0f / k;
    int64_t i = 0;
    if (lbq_isfinite(s) && s > 0.0f && lbq_isfinite(k) && k > 0.0f && lbq_isfinite(g) && g > 0.0f &&
        lbq_isfinite(ik) && ik > 0.0f) {
        const struct fp8f f = fp8_fmt(e5m2);
        const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
        const __m256 inf = _mm256_castsi256_ps(_mm256_set1_epi32(0x7f800000));
        const __m256 sv = _mm256_set1_ps(s), kv = _mm256_set1_ps(k), gv = _mm256_set1_ps(g), ikv = _mm256_set1_ps(ik);
        const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
        for (; i + 8 * NV <= n; i += 8 * NV) {          /* NV vectors interleaved */
            __m256 sign[8], xg[8], okg[8], is1[8], is0[8], l[8], r[8], rs[8], ok[8];
            DRE_XN {                                    /* y = lbq_powf_pos(|x| / g, k) */
                __m256 xv = _mm256_loadu_ps(x + i + 8 * j);
                xv = _mm256_and_ps(xv, _mm256_cmp_ps(xv, xv, _CMP_ORD_Q));
                sign[j] = _mm256_andnot_ps(absmask, xv);
                xg[j] = _mm256_div_ps(_mm256_and_ps(xv, absmask), gv);
                okg[j] = _mm256_cmp_ps(xg[j], inf, _CMP_LT_OQ);
                xg[j] = _mm256_and_ps(xg[j], okg[j]);
                is1[j] = _mm256_cmp_ps(xg[j], one, _CMP_EQ_OQ);
                is0[j] = _mm256_cmp_ps(xg[j], zero, _CMP_EQ_OQ);
                l[j] = _mm256_blendv_ps(xg[j], one, _mm256_or_ps(is1[j], is0[j]));
            }
            lbq_log2f8xn(l, NV);
            DRE_XN l[j] = _mm256_mul_ps(kv, l[j]);
            lbq_exp2f8xn(l, NV);
            DRE_XN {                                    /* r = fp8(y / s); back = lbq_powf_pos(r s, 1/k) g */
                __m256 y = _mm256_andnot_ps(is0[j], _mm256_blendv_ps(l[j], one, is1[j]));
                r[j] = fp8_round_abs8(_mm256_div_ps(y, sv), &f);
                rs[j] = _mm256_mul_ps(r[j], sv);
                ok[j] = _mm256_and_ps(okg[j], _mm256_cmp_ps(rs[j], inf, _CMP_LT_OQ));
                rs[j] = _mm256_and_ps(rs[j], ok[j]);
                is1[j] = _mm256_cmp_ps(rs[j], one, _CMP_EQ_OQ);
                is0[j] = _mm256_cmp_ps(rs[j], zero, _CMP_EQ_OQ);
                l[j] = _mm256_blendv_ps(rs[j], one, _mm256_or_ps(is1[j], is0[j]));
            }
            lbq_log2f8xn(l, NV);
            DRE_XN l[j] = _mm256_mul_ps(ikv, l[j]);
            lbq_exp2f8xn(l, NV);
            DRE_XN {
                __m256 back = _mm256_mul_ps(_mm256_andnot_ps(is0[j], _mm256_blendv_ps(l[j], one, is1[j])), gv);
                _mm256_storeu_ps(xhat + i + 8 * j, _mm256_or_ps(back, sign[j]));
                if (codes) {
                    __m256 nz = _mm256_cmp_ps(r[j], zero, _CMP_NEQ_UQ);
                    __m256i sb = _mm256_srli_epi32(_mm256_castps_si256(_mm256_and_ps(sign[j], nz)), 24);
                    store_codes8(codes + i + 8 * j, _mm256_or_si256(fp8_bits_abs8(r[j], &f), sb));
                }
            }
            DRE_XN {
                unsigned bad = ~(unsigned)_mm256_movemask_ps(ok[j]) & 0xffu;
                for (; bad; bad &= bad - 1) {
                    int q = (int)(8 * j) + __builtin_ctz(bad), bits = 0;
                    xhat[i + q] = lbq_dre_qdq_elem(x[i + q], s, k, g, e5m2, codes ? &bits : 0);
                    if (codes) codes[i + q] = (uint8_t)bits;
                }
            }
        }
        for (; i + 8 <= n; i += 8) {
            __m256 xv = _mm256_loadu_ps(x + i);
            xv = _mm256_and_ps(xv, _mm256_cmp_ps(xv, xv, _CMP_ORD_Q));          /* NaN -> 0 */
            __m256 sign = _mm256_andnot_ps(absmask, xv);
            __m256 xg = _mm256_div_ps(_mm256_and_ps(xv, absmask), gv);
            __m256 okg = _mm256_cmp_ps(xg, inf, _CMP_LT_OQ);
            __m256 y = powf_pos8(_mm256_and_ps(xg, okg), kv);
            __m256 r = fp8_round_abs8(_mm256_div_ps(y, sv), &f);
            __m256 rs = _mm256_mul_ps(r, sv);
            __m256 ok = _mm256_and_ps(okg, _mm256_cmp_ps(rs, inf, _CMP_LT_OQ));
            __m256 back = _mm256_mul_ps(powf_pos8(_mm256_and_ps(rs, ok), ikv), gv);
            _mm256_storeu_ps(xhat + i, _mm256_or_ps(back, sign));
            if (codes) {
                __m256 nz = _mm256_cmp_ps(r, _mm256_setzero_ps(), _CMP_NEQ_UQ);
                __m256i sb = _mm256_srli_epi32(_mm256_castps_si256(_mm256_and_ps(sign, nz)), 24);
                store_codes8(codes + i, _mm256_or_si256(fp8_bits_abs8(r, &f), sb));
            }
            unsigned bad = ~(unsigned)_mm256_movemask_ps(ok) & 0xffu;
            for (; bad; bad &= bad - 1) {
                int j = __builtin_ctz(bad), bits = 0;
                xhat[i + j] = lbq_dre_qdq_elem(x[i + j], s, k, g, e5m2, codes ? &bits : 0);
                if (codes) codes[i + j] = (uint8_t)bits;
            }
        }
    }
    for (; i < n; i++) {
        int bits = 0;
        xhat[i] = lbq_dre_qdq_elem(x[i], s, k, g, e5m2, codes ? &bits : 0);
        if (codes) codes[i] = (uint8_t)bits;
    }
}

LBQ_AVX2_INLINE void dre_group_body(const float *x, int64_t n, int64_t B, int e5m2, float *xhat, uint8_t *codes,
                                    float *sout, float *kout, float *gout, const int NV)
{
    float mx, mn, s, k, g;
    if (n == B && B % 32 == 0 && B <= 1024) coat_stats_avx2(x, B, &mx, &mn);
    else lbq_coat_group_stats(x, n, B, &mx, &mn);
    lbq_dre_params(mx, mn, e5m2, &s, &k, &g);
    *sout = s; *kout = k; *gout = g;
    dre_elems_body(x, n, e5m2, s, k, g, xhat, codes, NV);
}

/* lbq_dre_params of 8 groups in 8 lanes, operation for operation; a lane whose intermediate values
 * leave the range where the vector functions equal the scalar ones (M / m0 not finite and
 * positive, k not finite or 0, M / g not finite and positive or exactly 1: the special cases of
 * lbq_powf_pos) takes the scalar function */
LBQ_AVX2_INLINE void dre_params8(const float *mx, const float *mn, int e5m2, float *s, float *k, float *g)
{
    const float fmax = e5m2 ? 57344.0f : 448.0f;
    const __m256 c = _mm256_set1_ps(lbq_log2f(fmax * fmax * 0.5f)), one = _mm256_set1_ps(1.0f);
    const __m256 inf = _mm256_castsi256_ps(_mm256_set1_epi32(0x7f800000)), zero = _mm256_setzero_ps();
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 M = _mm256_add_ps(_mm256_loadu_ps(mx), _mm256_set1_ps(1e-30f));
    __m256 m0 = _mm256_add_ps(_mm256_loadu_ps(mn), _mm256_set1_ps(1e-30f));
    __m256 q = _mm256_div_ps(M, m0);
    __m256 ok = _mm256_and_ps(_mm256_cmp_ps(q, zero, _CMP_GT_OQ), _mm256_cmp_ps(q, inf, _CMP_LT_OQ));
    __m256 lq = lbq_log2f8(_mm256_blendv_ps(one, q, ok));
    __m256 kk = _mm256_div_ps(_mm256_round_ps(_mm256_mul_ps(_mm256_div_ps(c, lq), _mm256_set1_ps(16.0f)),
                                              _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC), _mm256_set1_ps(16.0f));
    __m256 gg = _mm256_mul_ps(_mm256_sqrt_ps(M), _mm256_sqrt_ps(m0));
    __m256 xv = _mm256_div_ps(M, gg);
    __m256 ak = _mm256_and_ps(kk, absmask);
    ok = _mm256_and_ps(ok, _mm256_and_ps(_mm256_cmp_ps(ak, inf, _CMP_LT_OQ), _mm256_cmp_ps(ak, zero, _CMP_GT_OQ)));
    ok = _mm256_and_ps(ok, _mm256_and_ps(_mm256_cmp_ps(xv, zero, _CMP_GT_OQ), _mm256_cmp_ps(xv, inf, _CMP_LT_OQ)));
    ok = _mm256_and_ps(ok, _mm256_cmp_ps(xv, one, _CMP_NEQ_OQ));
    __m256 y = _mm256_mul_ps(_mm256_blendv_ps(zero, kk, ok), lbq_log2f8(_mm256_blendv_ps(one, xv, ok)));
    __m256 sv = _mm256_div_ps(lbq_exp2f8(y), _mm256_set1_ps(fmax));
    _mm256_storeu_ps(s, sv);
    _mm256_storeu_ps(k, kk);
    _mm256_storeu_ps(g, gg);
    unsigned bad = ~(unsigned)_mm256_movemask_ps(ok) & 0xffu;
    for (; bad; bad &= bad - 1) {
        int j = __builtin_ctz(bad);
        lbq_dre_params(mx[j], mn[j], e5m2, &s[j], &k[j], &g[j]);
    }
}

/* COAT's expansion on consecutive groups of B (the last may be shorter): the statistics of up to 8
 * groups, their parameters in 8 lanes (dre_params8), then the elements group by group.  scale:
 * one per block (per_block) or per element; bparams (nullable): k, g per block */
LBQ_AVX2_INLINE void dre_blocks_body(const float *x, int64_t n, int64_t B, int e5m2, float *xhat, uint8_t *codes,
                                     float *scale, int per_block, float *bparams, const int NV)
{
    const int vstats = B % 32 == 0 && B <= 1024;
    for (int64_t b0 = 0; b0 < n; b0 += 8 * B) {
        float mx[8], mn[8], sv[8], kv[8], gv[8];
        int ng = 0;
        for (; ng < 8 && b0 + ng * B < n; ng++) {
            const int64_t o = b0 + ng * B, bn = (n - o < B) ? n - o : B;
            if (bn == B && vstats) coat_stats_avx2(x + o, B, &mx[ng], &mn[ng]);
            else lbq_coat_group_stats(x + o, bn, B, &mx[ng], &mn[ng]);
        }
        for (int j = ng; j < 8; j++) { mx[j] = 1.0f; mn[j] = 0.5f; }    /* unused lanes */
        dre_params8(mx, mn, e5m2, sv, kv, gv);
        for (int j = 0; j < ng; j++) {
            const int64_t o = b0 + j * B, bn = (n - o < B) ? n - o : B, b = o / B;
            dre_elems_body(x + o, bn, e5m2, sv[j], kv[j], gv[j], xhat + o, codes ? codes + o : NULL, NV);
            if (per_block) scale[b] = sv[j];
            else for (int64_t i = 0; i < bn; i++) scale[o + i] = sv[j];
            if (bparams) { bparams[2 * b] = kv[j]; bparams[2 * b + 1] = gv[j]; }
        }
    }
}

LBQ_AVX2 static void dre_group_avx2(const float *x, int64_t n, int64_t B, int e5m2, float *xhat, uint8_t *codes,
                                    float *sout, float *kout, float *gout)
{
    dre_group_body(x, n, B, e5m2, xhat, codes, sout, kout, gout, 4);
}

LBQ_AVX2 static void dre_blocks_avx2(const float *x, int64_t n, int64_t B, int e5m2, float *xhat, uint8_t *codes,
                                     float *scale, int per_block, float *bparams)
{
    dre_blocks_body(x, n, B, e5m2, xhat, codes, scale, per_block, bparams, 4);
}

#ifndef DRE_NV512
#define DRE_NV512 8
#endif
/* The same operations compiled for AVX-512 (F, VL, BW, DQ): the EVEX encoding's 32 vector registers
 * hold the four interleaved chains without spills, and compares go to mask registers.  The
 * intrinsics are the AVX2 ones, so each lane performs the same IEEE single operations in the same
 * order (no FMA: the build contracts nothing, -ffp-contract=off). */
LBQ_AVX512_VLBWDQ static void dre_group_avx512(const float *x, int64_t n, int64_t B, int e5m2, float *xhat, uint8_t *codes,
                                        float *sout, float *kout, float *gout)
{
    dre_group_body(x, n, B, e5m2, xhat, codes, sout, kout, gout, DRE_NV512);
}

LBQ_AVX512_VLBWDQ static void dre_blocks_avx512(const float *x, int64_t n, int64_t B, int e5m2, float *xhat, uint8_t *codes,
                                         float *scale, int per_block, float *bparams)
{
    dre_blocks_body(x, n, B, e5m2, xhat, codes, scale, per_block, bparams, DRE_NV512);
}
#endif

void lbq_fp8_run(int64_t n, const float *x, float *sc, float *xhat, uint8_t *codes, int e5m2, int coat)
{
#if LBQ_HAVE_AVX2_CODE
    if (lbq_simd_level() >= 2) { fp8_avx2(n, x, sc, xhat, codes, e5m2, coat); return; }
#endif
    fp8_portable(n, x, sc, xhat, codes, e5m2, coat);
}

void lbq_dre_group(const float *x, int64_t n, int64_t B, int e5m2, float *xhat, uint8_t *codes,
                   float *s, float *k, float *g)
{
#if LBQ_HAVE_AVX2_CODE
    if (simd_avx512vl()) { dre_group_avx512(x, n, B, e5m2, xhat, codes, s, k, g); return; }
    if (lbq_simd_level() >= 2) { dre_group_avx2(x, n, B, e5m2, xhat, codes, s, k, g); return; }
#endif
    dre_group_portable(x, n, B, e5m2, xhat, codes, s, k, g);
}

void lbq_dre_blocks(int64_t n, int64_t B, const float *x, float *scale, int per_block, float *xhat, uint8_t *codes,
                    float *bparams, int e5m2)
{
#if LBQ_HAVE_AVX2_CODE
    if (simd_avx512vl()) { dre_blocks_avx512(x, n, B, e5m2, xhat, codes, scale, per_block, bparams); return; }
    if (lbq_simd_level() >= 2) { dre_blocks_avx2(x, n, B, e5m2, xhat, codes, scale, per_block, bparams); return; }
#endif
    for (int64_t b0 = 0; b0 < n; b0 += B) {
        const int64_t bn = (n - b0 < B) ? n - b0 : B, b = b0 / B;
        float s, k, g;
        dre_group_portable(x + b0, bn, B, e5m2, xhat + b0, codes ? codes + b0 : NULL, &s, &k, &g);
        if (per_block) scale[b] = s;
        else for (int64_t i = 0; i < bn; i++) scale[b0 + i] = s;
        if (bparams) { bparams[2 * b] = k; bparams[2 * b + 1] = g; }
    }
}

void lbq_fp8_blocks(int64_t n, int64_t B, const float *x, float *bscale, float *xhat, uint8_t *codes, int e5m2, int coat)
{
#if LBQ_HAVE_AVX2_CODE
    if (lbq_simd_level() >= 2) { fp8_blocks_avx2(n, B, x, bscale, xhat, codes, e5m2, coat); return; }
#endif
    fp8_blocks_portable(n, B, x, bscale, xhat, codes, e5m2, coat);
}

/* ---- bit packing (lbq_pack / lbq_unpack, qdq.c) ----------------------------------------------- */
/* Eight codes of b bits fill b whole bytes of the little-endian stream: one pext of the eight code
 * bytes with the mask of each byte's low b bits gives those bytes (code i at bits [i b, (i+1) b)),
 * the stream lbq_pack_put builds; pdep reverses it.  Codes with bits at or above b (which the
 * scalar definition ORs into the neighbours) make lbq_pack_simd return 0: the caller packs by the
 * definition. */
#if LBQ_HAVE_AVX2_CODE
#  define LBQ_BMI2 __attribute__((target("bmi2")))
LBQ_BMI2 static int pack_bmi2(const uint8_t *codes, int64_t n, int bits, uint8_t *out)
{
    const uint64_t mask = 0x0101010101010101ull * ((1u << bits) - 1u);
    const int64_t ng = n / 8, nb = (n * bits + 7) / 8;
    uint64_t over = 0;
    int64_t g = 0;
    for (; g < ng && g * bits + 8 <= nb; g++) {         /* 8-byte stores: the next group overwrites the excess */
        uint64_t u, v;
        memcpy(&u, codes + 8 * g, 8);
        over |= u & ~mask;
        v = _pext_u64(u, mask);
        memcpy(out + g * bits, &v, 8);
    }
    for (; g < ng; g++) {
        uint64_t u, v;
        memcpy(&u, codes + 8 * g, 8);
        over |= u & ~mask;
        v = _pext_u64(u, mask);
        memcpy(out + g * bits, &v, (size_t)bits);      /* little-endian: the low b bytes */
    }
    for (int64_t i = 8 * ng; i < n; i++) over |= codes[i] >> bits;
    if (over) return 0;
    if (nb > ng * bits) memset(out + ng * bits, 0, (size_t)(nb - ng * bits));
    for (int64_t i = 8 * ng; i < n; i++) lbq_pack_put(out, i, bits, codes[i]);
    return 1;
}

LBQ_BMI2 static void unpack_bmi2(const uint8_t *in, int64_t n, int bits, uint8_t *codes)
{
    const uint64_t mask = 0x0101010101010101ull * ((1u << bits) - 1u);
    const int64_t ng = n / 8, nb = (n * bits + 7) / 8;
    for (int64_t g = 0; g < ng; g++) {
        uint64_t v = 0, u;
        if (g * bits + 8 <= nb) memcpy(&v, in + g * bits, 8);
        else memcpy(&v, in + g * bits, (size_t)bits);
        u = _pdep_u64(v, mask);                          /* bits above 8 b of v are not used */
        memcpy(codes + 8 * g, &u, 8);
    }
    for (int64_t i = 8 * ng; i < n; i++) codes[i] = (uint8_t)lbq_pack_get(in, i, bits);
}
#endif

int lbq_pack_simd(const uint8_t *codes, int64_t n, int bits, uint8_t *out)
{
#if LBQ_HAVE_AVX2_CODE
    if (bits >= 1 && bits <= 7 && simd_bmi2()) return pack_bmi2(codes, n, bits, out);
#else
    (void)codes; (void)n; (void)bits; (void)out;
#endif
    return 0;
}

int lbq_unpack_simd(const uint8_t *in, int64_t n, int bits, uint8_t *codes)
{
#if LBQ_HAVE_AVX2_CODE
    if (bits >= 1 && bits <= 7 && simd_bmi2()) { unpack_bmi2(in, n, bits, codes); return 1; }
#else
    (void)in; (void)n; (void)bits; (void)codes;
#endif
    return 0;
}

/* ---- tensor statistics (lbq_tstats_add, qdq.c): one row's run of the per-index maxima --------- */
/* max over the run of |x| (non-finite x as 0), mr[j] = max(mr[j], |x[j]|) the same way, and the
 * number of non-finite x added to *nf.  The maximum of non-negative values is exact in any order. */
static float row_absmax_portable(const float *x, int64_t n, float *mr, int64_t *nf)
{
    float rm = 0.0f;
    int64_t c = 0;
    for (int64_t j = 0; j < n; j++) {
        float a = lbq_absf(x[j]);
        c += !lbq_isfinite(a);
        a = lbq_isfinite(a) ? a : 0.0f;
        rm = (a > rm) ? a : rm;
        mr[j] = (a > mr[j]) ? a : mr[j];
    }
    *nf += c;
    return rm;
}

#if LBQ_HAVE_AVX2_CODE
LBQ_AVX2 static float row_absmax_avx2(const float *x, int64_t n, float *mr, int64_t *nf)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 inf = _mm256_castsi256_ps(_mm256_set1_epi32(0x7f800000));
    __m256 m = _mm256_setzero_ps();
    int64_t c = 0, j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 a = _mm256_and_ps(_mm256_loadu_ps(x + j), absmask);
        __m256 fin = _mm256_cmp_ps(a, inf, _CMP_LT_OQ);
        c += 8 - __builtin_popcount((unsigned)_mm256_movemask_ps(fin));
        a = _mm256_and_ps(a, fin);
        m = _mm256_max_ps(m, a);
        _mm256_storeu_ps(mr + j, _mm256_max_ps(a, _mm256_loadu_ps(mr + j)));   /* a > mr ? a : mr */
    }
    float lane[8], rm = 0.0f;
    _mm256_storeu_ps(lane, m);
    for (int k = 0; k < 8; k++) rm = (lane[k] > rm) ? lane[k] : rm;
    *nf += c;
    if (j < n) { float r2 = row_absmax_portable(x + j, n - j, mr + j, nf); rm = (r2 > rm) ? r2 : rm; }
    return rm;
}
#endif

float lbq_row_absmax(const float *x, int64_t n, float *mr, int64_t *nf)
{
#if LBQ_HAVE_AVX2_CODE
    if (lbq_simd_level() >= 2) return row_absmax_avx2(x, n, mr, nf);
#endif
    return row_absmax_portable(x, n, mr, nf);
}
