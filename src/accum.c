/* accum.c - the fast metric accumulation of the evaluation engine (analyze, sweep), in two parts:
 *
 *   lbq_acc_base   once per chunk: everything that depends on the raw states only (counts, sums
 *                  of x^2 and |x|, the exact update u, its sums and h histogram, outlier blocks);
 *                  it also returns u and the finite mask for the second part;
 *   lbq_acc_quant  once per chunk and configuration: everything that depends on x^ (errors,
 *                  relative-error histograms, zero-point counts, the quantized update u^).
 *
 * Both compute exactly the per-element quantities of lbq_acc_add2 (docs/metrics.md); the sums are
 * accumulated in 4 lanes (element i in lane i mod 4, lanes added as (l0 + l1) + (l2 + l3) at the
 * end), so the portable loop and the AVX2 loop give the same bits.  Elements that do not count
 * add +0 (which leaves every sum unchanged).  Used only when eps > 0: then every finite element
 * has a defined update (accumulated scaled by eps, lbq_update_elem); with eps <= 0 the engine keeps
 * lbq_acc_add2. */
#include "lbq-impl.h"
#include "lbq-metrics.h"
#include "lbq-avx2.h"



static inline double lanes_sum(const double *l) { return (l[0] + l[1]) + (l[2] + l[3]); }
static inline double lanes_max(const double *l)
{
    double a = l[0] > l[1] ? l[0] : l[1], b = l[2] > l[3] ? l[2] : l[3];
    return a > b ? a : b;
}

/* ---- exact histogram bins from the float's bits -------------------------------------------------
 * The relative-error bin lbq_rel_bin(r, lbq_log2f_or0(r)) and the h bin lbq_h_bin(y, ...) are step
 * functions of a positive finite float: lbq_log2f is monotone non-decreasing on positive floats
 * (each operation of its reduced-argument chain is monotone in t; tests/test-metrics.c checks the
 * whole chain and every junction between reduced intervals), and every later operation is monotone.
 * So the bin of a positive finite float is a monotone function g of its bit pattern u.  The tables
 * below hold g on [ulo, uhi] in buckets of 2^shift consecutive patterns (bucket widths of 0.022 and
 * 0.044 in log2 against bin widths of 0.111 and 0.166, so a bucket holds at most one step): the bin
 * at the bucket's start and the offset of the step inside it (2^shift: none).  Outside [ulo, uhi]
 * g is constant (checked when the table is built); negative, NaN and zero patterns are mapped to 0,
 * which the clamp sends to ulo, whose bin is the one the scalar rules give them (0 for the relative
 * error, the last for h).  Every bin is g evaluated by the scalar functions themselves, so the
 * lookup returns exactly lbq_rel_bin / lbq_h_bin. */
#define BT_NONE_BITS 10
struct bintab {
    uint32_t ulo, uhi;          /* clamp range of the patterns */
    int shift, dec, top;        /* dec: g non-increasing, the table holds top - g */
    int n;
    uint32_t ent[8192];         /* bin | step offset << BT_NONE_BITS */
};

static int bt_rel(uint32_t u) { float f = lbq_u2f(u); return lbq_rel_bin(f, lbq_log2f_or0(f)); }
static int bt_h(uint32_t u) { float f = lbq_u2f(u); return lbq_h_bin(f, lbq_log2f_or0(f)); }

/* 0 on success; -1 if g is not monotone where the table needs it (the engine then computes the
 * bins by the scalar functions) */
static int bintab_build(struct bintab *T, int (*g)(uint32_t), float lo, float hi, int shift, int dec, int top)
{
    T->ulo = lbq_f2u(lo); T->uhi = lbq_f2u(hi) - 1u; T->shift = shift; T->dec = dec; T->top = top;
    if ((T->ulo & ((1u << shift) - 1u)) || ((T->uhi + 1u) & ((1u << shift) - 1u))) return -1;
    T->n = (int)((T->uhi + 1u - T->ulo) >> shift);
    if (T->n > (int)(sizeof T->ent / sizeof T->ent[0])) return -1;
#define G(u) (dec ? top - g(u) : g(u))
    /* constant outside: below ulo down to the smallest positive pattern and 0, above uhi up to inf */
    if (G(T->ulo) != G(1u) || G(T->ulo) != G(0u) || G(T->uhi) != G(0x7f800000u) || G(T->uhi) != G(0x7f7fffffu)) return -1;
    int prev = G(T->ulo);
    for (int b = 0; b < T->n; b++) {
        uint32_t u0 = T->ulo + ((uint32_t)b << shift), u1 = u0 + (1u << shift) - 1u;
        int g0 = G(u0), g1 = G(u1);
        if (g0 < prev || g1 < g0 || g1 > g0 + 1 || g0 > 1023) return -1;
        uint32_t off = 1u << shift;
        if (g1 > g0) {                  /* the first pattern with g1: binary search in (u0, u1] */
            uint32_t a = u0, c = u1;    /* G(a) = g0, G(c) = g1 */
            while (c - a > 1) { uint32_t mdl = a + (c - a) / 2; if (G(mdl) > g0) c = mdl; else a = mdl; }
            off = c - u0;
        }
        T->ent[b] = (uint32_t)g0 | (off << BT_NONE_BITS);
        prev = g1;
    }
#undef G
    return 0;
}

struct bintabs { struct bintab rel, h; };
static struct bintabs g_bt;
static int g_bt_state;          /* 0 not built, 1 building, 2 ready, 3 failed */

static const struct bintabs *bintabs_get(void)
{
    int s = __atomic_load_n(&g_bt_state, __ATOMIC_ACQUIRE);
    if (s == 0) {
        int z = 0;
        if (__atomic_compare_exchange_n(&g_bt_state, &z, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            /* relative error: bins vary on [1e-12, 1e6]; h: on (1e-9, 1e3) */
            int ok = !bintab_build(&g_bt.rel, bt_rel, 0x1p-45f, 0x1p22f, 17, 0, 0)
                  && !bintab_build(&g_bt.h, bt_h, 0x1p-35f, 0x1p14f, 17, 1, LBQ_H_NBINS - 1);
            __atomic_store_n(&g_bt_state, ok ? 2 : 3, __ATOMIC_RELEASE);
            return ok ? &g_bt : NULL;
        }
        while ((s = __atomic_load_n(&g_bt_state, __ATOMIC_ACQUIRE)) == 1) ;
    }
    while (s == 1) s = __atomic_load_n(&g_bt_state, __ATOMIC_ACQUIRE);
    return s == 2 ? &g_bt : NULL;
}

/* scalar lookup (the tests compare it with the scalar functions) */
static inline int bintab_bin(const struct bintab *T, float f)
{
    uint32_t u = lbq_f2u(f);
    if ((int32_t)u < 0 || u > 0x7f800000u) u = 0;
    u = u < T->ulo ? T->ulo : (u > T->uhi ? T->uhi : u);
    uint32_t r = u - T->ulo, e = T->ent[r >> T->shift];
    int b = (int)(e & 1023u) + ((r & ((1u << T->shift) - 1u)) >= (e >> BT_NONE_BITS));
    return T->dec ? T->top - b : b;
}

int lbq_acc_table_bin(int which, float f)
{
    const struct bintabs *T = bintabs_get();
    if (!T) return -1;
    return bintab_bin(which ? &T->h : &T->rel, f);
}

/* ---- base part -------------------------------------------------------------------------------- */
struct blanes {
    double sq[2][4], ab[2][4], usq[4], uab[4];
    int64_t bad, zin[2], pos[2];
};

/* elements [i0, n) one at a time, lane i mod 4 */
static void base_portable(struct blanes *L, struct lbq_acc *a, const struct lbq_update_cfg *cfg, int64_t i0,
                          int64_t n, const float *m, const float *v, double *ue, uint8_t *ok)
{
    const double k = lbq_update_k(cfg);
    const float *X[2] = { m, v };
    for (int64_t i = i0; i < n; i++) {
        int o;
        double sv, u = lbq_acc_exact_update(m[i], v[i], k, cfg, &o, &sv);    /* accum-core.h */
        ok[i] = (uint8_t)o;
        L->bad += !o;
        int l = (int)(i & 3);
        for (int s = 0; s < 2; s++) {
            double x = o ? (double)X[s][i] : 0.0;
            L->sq[s][l] += x * x;
            L->ab[s][l] += fabs(x);
            L->zin[s] += o && x == 0.0;
            L->pos[s] += o && x > 0.0;
        }
        ue[i] = u;
        L->usq[l] += u * u;
        L->uab[l] += fabs(u);
        if (o) {
            float y = (float)(sv + cfg->eps);
            a->u.h_exact[lbq_h_bin(y, lbq_log2f_or0(y))]++;
        }
    }
}

#if LBQ_HAVE_AVX2_CODE
static void base_avx2(struct blanes *L, struct lbq_acc *a, const struct lbq_update_cfg *cfg, int64_t n,
                      const float *m, const float *v, double *ue, uint8_t *ok);
#endif

/* Whether a block of bn values, c of them finite with largest |x| mx, is an outlier block
 * (mx > k * median of the finite |x|, the median as lbq_quantile_nonneg(., c, 0.5)) without the
 * median: 1 or 0 when two counts decide it, -1 when they do not.  The median lies between its
 * order statistics r0 <= r1 up to one float rounding (lbq_quantile_lerp), so with t = mx / k:
 * r1 < t / (1 + 1e-5) (at least k+2 finite values below it) makes the block an outlier and
 * r0 > t * (1 + 1e-5) (at most k values at or below it) makes it not; only blocks whose median is
 * within 1e-5 of t (relative) need the selection.  t outside [1e-30, 1e30] (float roundings of
 * subnormals, infinities): -1. */
static int outlier_quick(const float *x, int64_t bn, int64_t c, float mx, double k)
{
    int64_t lo;
    float w;
    lbq_quantile_pos(c, 0.5, &lo, &w);
    double t = (double)mx / k;
    if (!(t >= 1e-30 && t <= 1e30)) return -1;
    const float blo = (float)(t / (1.0 + 1e-5)), bhi = (float)(t * (1.0 + 1e-5));
    int64_t lt = 0, le = 0;     /* non-finite values count in neither (inf, NaN compare false) */
    for (int64_t i = 0; i < bn; i++) {
        float a = lbq_absf(x[i]);
        lt += a < blo;
        le += a <= bhi;
    }
    if (lt >= lo + 1 + lbq_quantile_needs_hi(c, lo, w)) return 1;
    if (le <= lo) return 0;
    return -1;
}

void lbq_acc_base(struct lbq_acc *a, const struct lbq_update_cfg *cfg, int64_t n, const float *m,
                  const float *v, double *ue, uint8_t *ok, float *tmp)
{
    struct lbq_state_acc *S[2] = { &a->m, &a->v };
    const float *X[2] = { m, v };
    struct blanes L;
    memset(&L, 0, sizeof L);
#if LBQ_HAVE_AVX2_CODE
    if (lbq_simd_level() >= 2 && isfinite(lbq_update_k(cfg))) base_avx2(&L, a, cfg, n, m, v, ue, ok);
    else
#endif
    base_portable(&L, a, cfg, 0, n, m, v, ue, ok);
    for (int s = 0; s < 2; s++) {
        S[s]->n += n - L.bad;
        S[s]->nonfinite += L.bad;
        S[s]->sum_sq += lanes_sum(L.sq[s]);
        S[s]->sum_abs += lanes_sum(L.ab[s]);
        S[s]->zero_in += L.zin[s];
        S[s]->pos += L.pos[s];
    }
    a->u.n += n - L.bad;
    a->u.sum_sq_u += lanes_sum(L.usq);
    a->u.sum_abs_u += lanes_sum(L.uab);
    /* outlier blocks: max |x| > k * median |x| of a block's finite values */
    for (int s = 0; s < 2; s++)
        for (int64_t b0 = 0; b0 < n; b0 += cfg->outlier_block) {
            int64_t bn = (n - b0 < cfg->outlier_block) ? n - b0 : cfg->outlier_block, c = 0;
            const float *xb = X[s] + b0;
            float mx = 0.0f;
            for (int64_t i = 0; i < bn; i++) {
                float x = lbq_absf(xb[i]);
                int fin = lbq_isfinite(x);
                c += fin;
                mx = (fin && x > mx) ? x : mx;
            }
            if (c == 0) continue;
            S[s]->blocks++;
            int o = outlier_quick(xb, bn, c, mx, cfg->outlier_k);
            if (o < 0) {        /* undecided: the median itself */
                c = 0;
                for (int64_t i = 0; i < bn; i++) {
                    float x = lbq_absf(xb[i]);
                    tmp[c] = x;
                    c += lbq_isfinite(x);
                }
                o = (double)mx > cfg->outlier_k * (double)lbq_quantile_nonneg(tmp, c, 0.5);
            }
            S[s]->outlier_blocks += o;
        }
}

/* ---- quantized part: lane partials ------------------------------------------------------------ */
struct qlanes {
    double sse[2][4], sae[2][4], mx[2][4];
    double uh2[4], dot[4], d2[4], auh[4], cu[4], cuh[4];
    int64_t zmoved[2], pzero[2], blowup, shrink;
    double lauh[2][4], ld2[2][4];       /* structural-zero split: the update of lifted zeros */
    int64_t nzzero[2];                  /* and non-zero x sent to 0 */
};

static void qlanes_fold(const struct qlanes *L, struct lbq_acc *a)
{
    struct lbq_state_acc *S[2] = { &a->m, &a->v };
    for (int s = 0; s < 2; s++) {
        S[s]->sum_sq_err += lanes_sum(L->sse[s]);
        S[s]->sum_abs_err += lanes_sum(L->sae[s]);
        double mx = lanes_max(L->mx[s]);
        if (mx > S[s]->max_abs_err) S[s]->max_abs_err = mx;
        S[s]->zero_in_moved += L->zmoved[s];
        S[s]->pos_to_zero += L->pzero[s];
        S[s]->nonzero_to_zero += L->nzzero[s];
        S[s]->lifted_abs_uh += lanes_sum(L->lauh[s]);
        S[s]->lifted_sq_du += lanes_sum(L->ld2[s]);
    }
    struct lbq_update_acc *u = &a->u;
    u->sum_sq_uh += lanes_sum(L->uh2);
    u->sum_dot += lanes_sum(L->dot);
    u->sum_sq_diff += lanes_sum(L->d2);
    u->sum_abs_uh += lanes_sum(L->auh);
    u->collapsed_abs_u += lanes_sum(L->cu);
    u->collapsed_abs_uh += lanes_sum(L->cuh);
    u->blowup += L->blowup;
    u->shrink += L->shrink;
}

/* elements [i0, n): one at a time, lane i mod 4; the per-element quantities are lbq_accq_elem
 * (accum-core.h), which the CUDA engine computes too */
static void quant_portable(struct qlanes *L, struct lbq_acc *a, const struct lbq_update_cfg *cfg,
                           int64_t i0, int64_t n, const float *m, const float *mh, const float *v,
                           const float *vh, const double *ue, const uint8_t *ok)
{
    struct lbq_state_acc *S[2] = { &a->m, &a->v };
    const double k = lbq_update_k(cfg);
    struct lbq_accq_elem r;
    for (int64_t i = i0; i < n; i++) {
        int l = (int)(i & 3);
        lbq_accq_elem(m[i], mh[i], v[i], vh[i], ue[i], ok[i], k, cfg, &r);
        for (int s = 0; s < 2; s++) {
            L->sse[s][l] += r.s[LBQ_ACCQ_SSE_M + s];
            L->sae[s][l] += r.s[LBQ_ACCQ_SAE_M + s];
            L->mx[s][l] = r.e[s] > L->mx[s][l] ? r.e[s] : L->mx[s][l];
            L->zmoved[s] += r.c[LBQ_ACCQ_ZMOVED_M + s];
            L->pzero[s] += r.c[LBQ_ACCQ_PZERO_M + s];
            L->nzzero[s] += r.c[LBQ_ACCQ_NZZERO_M + s];
            L->lauh[s][l] += r.s[LBQ_ACCQ_LAUH_M + s];
            L->ld2[s][l] += r.s[LBQ_ACCQ_LD2_M + s];
            if (r.ok) S[s]->rel_hist[r.rbin[s]]++;
        }
        L->uh2[l] += r.s[LBQ_ACCQ_UH2];
        L->dot[l] += r.s[LBQ_ACCQ_DOT];
        L->d2[l] += r.s[LBQ_ACCQ_D2];
        L->auh[l] += r.s[LBQ_ACCQ_AUH];
        L->cu[l] += r.s[LBQ_ACCQ_CU];
        L->cuh[l] += r.s[LBQ_ACCQ_CUH];
        L->blowup += r.c[LBQ_ACCQ_BLOWUP];
        L->shrink += r.c[LBQ_ACCQ_SHRINK];
        if (r.ok) a->u.h_quant[r.hbin]++;
    }
}

#if LBQ_HAVE_AVX2_CODE


/* lbq_log2f_or0 for 8 lanes: lbq_log2f where positive finite, else the log of 1 (unused) */
LBQ_AVX2_INLINE __m256 acc_l2_of8(__m256 f)
{
    __m256 okm = _mm256_and_ps(_mm256_cmp_ps(f, _mm256_setzero_ps(), _CMP_GT_OQ),
                               _mm256_cmp_ps(f, _mm256_castsi256_ps(_mm256_set1_epi32(0x7f800000)), _CMP_LT_OQ));
    return lbq_log2f8(_mm256_blendv_ps(_mm256_set1_ps(1.0f), f, okm));
}
LBQ_AVX2_INLINE __m256 acc_f8(__m256d lo, __m256d hi) { return _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo)); }
LBQ_AVX2_INLINE __m256d acc_abs(__m256d x) { return _mm256_andnot_pd(_mm256_set1_pd(-0.0), x); }
LBQ_AVX2_INLINE __m256d acc_ld(const float *p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
/* ok[i..i+3] as a double mask */
LBQ_AVX2_INLINE __m256d acc_okmask(const uint8_t *ok)
{
    int32_t w;
    memcpy(&w, ok, 4);
    __m128i b = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(w));
    __m256i q = _mm256_cvtepi32_epi64(_mm_cmpgt_epi32(b, _mm_setzero_si128()));
    return _mm256_castsi256_pd(q);
}
/* ok[i..i+7] as a float mask */
LBQ_AVX2_INLINE __m256 acc_okmask8(const uint8_t *ok)
{
    __m128i b = _mm_loadl_epi64((const __m128i *)(const void *)ok);
    return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_cvtepu8_epi32(b), _mm256_setzero_si256()));
}
LBQ_AVX2_INLINE int64_t acc_count(__m256d mask) { return __builtin_popcount((unsigned)_mm256_movemask_pd(mask)); }
LBQ_AVX2_INLINE __m256i acc_sel(__m256i a, __m256i b, __m256 mask) /* mask ? b : a */
{
    return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b), mask));
}

/* lbq_rel_bin for 8 lanes, with the x == 0 rule of the state loop (bin 0 if x^ == 0, else last) */
LBQ_AVX2_INLINE __m256i acc_rel_bins8(__m256 r, __m256 x, __m256 xh)
{
    const __m256 zero = _mm256_setzero_ps();
    const __m256i z = _mm256_setzero_si256(), last = _mm256_set1_epi32(LBQ_REL_NBINS - 1);
    __m256 t = _mm256_mul_ps(_mm256_sub_ps(_mm256_mul_ps(_mm256_set1_ps(LBQ_LOG10_2F), acc_l2_of8(r)),
                                           _mm256_set1_ps((float)LBQ_REL_LO)), _mm256_set1_ps((float)LBQ_REL_PER_DEC));
    __m256 lowt = _mm256_cmp_ps(t, zero, _CMP_NGE_UQ);                                   /* !(t >= 0) */
    __m256 hight = _mm256_cmp_ps(t, _mm256_set1_ps((float)(LBQ_REL_NBINS - 2)), _CMP_GE_OQ);
    t = _mm256_blendv_ps(t, zero, _mm256_or_ps(lowt, hight));
    __m256i b = _mm256_add_epi32(_mm256_set1_epi32(1), _mm256_cvttps_epi32(t));
    b = acc_sel(b, z, lowt);
    b = acc_sel(b, last, hight);
    b = acc_sel(b, last, _mm256_cmp_ps(r, _mm256_set1_ps(1e6f), _CMP_GE_OQ));
    b = acc_sel(b, z, _mm256_cmp_ps(r, zero, _CMP_NGT_UQ));                              /* !(r > 0) */
    __m256i b0 = acc_sel(last, z, _mm256_cmp_ps(xh, zero, _CMP_EQ_OQ));
    return acc_sel(b, b0, _mm256_cmp_ps(x, zero, _CMP_EQ_OQ));
}

/* lbq_h_bin for 8 lanes */
LBQ_AVX2_INLINE __m256i acc_h_bins8(__m256 y)
{
    const __m256 zero = _mm256_setzero_ps();
    __m256 h = _mm256_mul_ps(_mm256_set1_ps(-LBQ_LOG10_2F), acc_l2_of8(y));
    __m256 out = _mm256_or_ps(_mm256_cmp_ps(y, _mm256_set1_ps(1e-37f), _CMP_NGT_UQ),
                              _mm256_cmp_ps(y, _mm256_set1_ps(1e37f), _CMP_GT_OQ));
    __m256 inf = _mm256_blendv_ps(_mm256_set1_ps(INFINITY), _mm256_set1_ps(-INFINITY),
                                  _mm256_cmp_ps(y, _mm256_set1_ps(1.0f), _CMP_GT_OQ));
    h = _mm256_blendv_ps(h, inf, out);
    __m256 t = _mm256_mul_ps(_mm256_sub_ps(h, _mm256_set1_ps((float)LBQ_H_LO)),
                             _mm256_set1_ps((float)(LBQ_H_NBINS / (LBQ_H_HI - LBQ_H_LO))));
    __m256 lowt = _mm256_cmp_ps(t, zero, _CMP_NGT_UQ);                                   /* !(t > 0) */
    __m256 hight = _mm256_cmp_ps(t, _mm256_set1_ps((float)LBQ_H_NBINS), _CMP_GE_OQ);
    t = _mm256_blendv_ps(t, zero, _mm256_or_ps(lowt, hight));
    __m256i b = _mm256_cvttps_epi32(t);
    b = acc_sel(b, _mm256_setzero_si256(), lowt);
    return acc_sel(b, _mm256_set1_epi32(LBQ_H_NBINS - 1), hight);
}

/* bintab_bin for 8 lanes: one gather per 8 values */
#define BT_SHIFT 17
LBQ_AVX2_INLINE __m256i bt_bins8(const struct bintab *T, __m256 f, const int dec)
{
    const __m256i z = _mm256_setzero_si256();
    __m256i u = _mm256_castps_si256(f);
    __m256i bad = _mm256_or_si256(_mm256_cmpgt_epi32(z, u), _mm256_cmpgt_epi32(u, _mm256_set1_epi32(0x7f800000)));
    u = _mm256_andnot_si256(bad, u);
    u = _mm256_min_epi32(_mm256_max_epi32(u, _mm256_set1_epi32((int)T->ulo)), _mm256_set1_epi32((int)T->uhi));
    __m256i r = _mm256_sub_epi32(u, _mm256_set1_epi32((int)T->ulo));
    __m256i e = _mm256_i32gather_epi32((const int *)T->ent, _mm256_srli_epi32(r, BT_SHIFT), 4);
    __m256i low = _mm256_and_si256(r, _mm256_set1_epi32((1 << BT_SHIFT) - 1));
    __m256i b = _mm256_add_epi32(_mm256_and_si256(e, _mm256_set1_epi32(1023)), _mm256_set1_epi32(1));
    b = _mm256_add_epi32(b, _mm256_cmpgt_epi32(_mm256_srli_epi32(e, BT_NONE_BITS), low));  /* -1 before the step */
    return dec ? _mm256_sub_epi32(_mm256_set1_epi32(T->top), b) : b;
}

/* the histogram words of 8 bins: lane k counts into copy k mod 4 (copies of nb + 1 words, the last
 * a sink for the elements that do not count), so neighbouring equal bins do not chain increments */
LBQ_AVX2_INLINE void hist_add8(uint32_t *h, __m256i bin, __m256 okf, int nb)
{
    const __m256i off = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3), _mm256_set1_epi32(nb + 1));
    __m256i w = _mm256_add_epi32(acc_sel(_mm256_set1_epi32(nb), bin, okf), off);
    uint32_t ix[8];             /* unsigned: the lane extracts index without a sign extension */
    _mm256_storeu_si256((__m256i *)(void *)ix, w);
    for (int k = 0; k < 8; k++) h[ix[k]]++;
}
LBQ_AVX2_INLINE void hist_fold(int64_t *dst, const uint32_t *h, int nb)
{
    for (int b = 0; b < nb; b++)
        dst[b] += (int64_t)h[b] + h[(nb + 1) + b] + h[2 * (nb + 1) + b] + h[3 * (nb + 1) + b];
}
LBQ_AVX2_INLINE int64_t acc_hsum32(__m256i c)
{
    int32_t t[8];
    _mm256_storeu_si256((__m256i *)(void *)t, c);
    int64_t s = 0;
    for (int k = 0; k < 8; k++) s += t[k];
    return s;
}
LBQ_AVX2_INLINE int64_t acc_hsum64(__m256i c)
{
    int64_t t[4];
    _mm256_storeu_si256((__m256i *)(void *)t, c);
    return t[0] + t[1] + t[2] + t[3];
}
LBQ_AVX2_INLINE __m256d acc_lo_pd(__m256 f) { return _mm256_cvtps_pd(_mm256_castps256_ps128(f)); }
LBQ_AVX2_INLINE __m256d acc_hi_pd(__m256 f) { return _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1)); }
LBQ_AVX2_INLINE __m256d acc_mask_lo(__m256 m) { return _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(_mm256_castps_si256(m)))); }
LBQ_AVX2_INLINE __m256d acc_mask_hi(__m256 m) { return _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(_mm256_castps_si256(m), 1))); }

/* The quantized part, 8 elements at a time: the per-element quantities of lbq_accq_elem with the
 * same IEEE operations (x, x^ converted to double exactly; e = |x^ - x|; r = (float)e / |x| in
 * float; u^ by lbq_update_elem's k form), the bins by the tables above; zeroed lanes for the
 * elements that are not finite (they add +0 and count nowhere). */
LBQ_AVX2_INLINE void quant_body(struct qlanes *L, struct lbq_acc *a, const struct lbq_update_cfg *cfg,
                                const struct bintabs *T, int64_t n, const float *m, const float *mh,
                                const float *v, const float *vh, const double *ue, const uint8_t *ok)
{
    const __m256d kv = _mm256_set1_pd(lbq_update_k(cfg)), eps = _mm256_set1_pd(cfg->eps),
                  ten = _mm256_set1_pd(10.0), tenth = _mm256_set1_pd(0.1), one = _mm256_set1_pd(1.0);
    const __m256 absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)), zf = _mm256_setzero_ps();
    const __m256i lastb = _mm256_set1_epi32(LBQ_REL_NBINS - 1), z = _mm256_setzero_si256();
    const int NR = LBQ_REL_NBINS, NH = LBQ_H_NBINS;
    __m256d sse[2], sae[2], mx[2], lauh[2], ld2[2];
    for (int s = 0; s < 2; s++) {
        sse[s] = _mm256_loadu_pd(L->sse[s]); sae[s] = _mm256_loadu_pd(L->sae[s]); mx[s] = _mm256_loadu_pd(L->mx[s]);
        lauh[s] = _mm256_loadu_pd(L->lauh[s]); ld2[s] = _mm256_loadu_pd(L->ld2[s]);
    }
    __m256d uh2 = _mm256_loadu_pd(L->uh2), dot = _mm256_loadu_pd(L->dot), d2 = _mm256_loadu_pd(L->d2),
            auh = _mm256_loadu_pd(L->auh), cu = _mm256_loadu_pd(L->cu), cuh = _mm256_loadu_pd(L->cuh);
    __m256i czm[2] = { z, z }, cpz[2] = { z, z }, cnz[2] = { z, z }, cbl = z, csh = z;
    const float *X[2] = { m, v }, *XH[2] = { mh, vh };
    struct lbq_state_acc *S[2] = { &a->m, &a->v };
    uint32_t *hist = calloc((size_t)(2 * 4 * (NR + 1) + 4 * (NH + 1)), sizeof *hist);
    if (!hist) { quant_portable(L, a, cfg, 0, n, m, mh, v, vh, ue, ok); return; }
    uint32_t *hr[2] = { hist, hist + 4 * (NR + 1) }, *hq = hist + 8 * (NR + 1);
    /* a state passed as its own x^ (the engine does so for a state kept in fp32): every finite
     * element has e = 0 and relative-error bin 0, which adds +0 to the sums (never -0: they start
     * at +0), leaves the maxima and the zero-point counts, and counts into bin 0: so only bin 0 */
    const int same[2] = { mh == m, vh == v };
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 o8 = acc_okmask8(ok + i);
        __m256 xo[2], xho[2], lift[2] = { zf, zf };   /* lift: x == 0, x^ != 0 (structural-zero split) */
        for (int s = 0; s < 2; s++) {
            __m256 xf = _mm256_and_ps(_mm256_loadu_ps(X[s] + i), o8), xhf = _mm256_and_ps(_mm256_loadu_ps(XH[s] + i), o8);
            xo[s] = xf; xho[s] = xhf;
            if (same[s]) continue;
            __m256d e0, e1;
            {
                __m256d x = acc_lo_pd(xf), xh = acc_lo_pd(xhf);
                e0 = acc_abs(_mm256_sub_pd(xh, x));
                x = acc_hi_pd(xf); xh = acc_hi_pd(xhf);
                e1 = acc_abs(_mm256_sub_pd(xh, x));
            }
            sse[s] = _mm256_add_pd(sse[s], _mm256_mul_pd(e0, e0));
            sae[s] = _mm256_add_pd(sae[s], e0);
            mx[s] = _mm256_max_pd(e0, mx[s]);            /* e0 > mx ? e0 : mx (NaN keeps mx) */
            sse[s] = _mm256_add_pd(sse[s], _mm256_mul_pd(e1, e1));
            sae[s] = _mm256_add_pd(sae[s], e1);
            mx[s] = _mm256_max_pd(e1, mx[s]);
            __m256 x0 = _mm256_cmp_ps(xf, zf, _CMP_EQ_OQ), xh0 = _mm256_cmp_ps(xhf, zf, _CMP_EQ_OQ);
            lift[s] = _mm256_andnot_ps(xh0, _mm256_and_ps(o8, x0));
            czm[s] = _mm256_sub_epi32(czm[s], _mm256_castps_si256(lift[s]));
            cnz[s] = _mm256_sub_epi32(cnz[s], _mm256_castps_si256(_mm256_and_ps(xh0, _mm256_andnot_ps(x0, o8))));
            cpz[s] = _mm256_sub_epi32(cpz[s], _mm256_castps_si256(_mm256_and_ps(xh0, _mm256_and_ps(o8, _mm256_cmp_ps(xf, zf, _CMP_GT_OQ)))));
            __m256 r = _mm256_div_ps(acc_f8(e0, e1), _mm256_and_ps(xf, absm));    /* (float)e / |x| */
            __m256i b = bt_bins8(&T->rel, r, 0);
            b = acc_sel(b, acc_sel(lastb, z, xh0), x0);             /* x == 0: 0 if x^ == 0, else the last */
            hist_add8(hr[s], b, o8, NR);
        }
        __m256 vqf = _mm256_and_ps(xho[1], _mm256_cmp_ps(xho[1], zf, _CMP_GT_OQ));      /* v^ > 0 of the finite */
        __m256 colf = _mm256_and_ps(_mm256_cmp_ps(xo[1], zf, _CMP_GT_OQ), _mm256_cmp_ps(xho[1], zf, _CMP_EQ_OQ));
        __m256d y[2];
        for (int h = 0; h < 2; h++) {
            __m256d vq = h ? acc_hi_pd(vqf) : acc_lo_pd(vqf), mq = h ? acc_hi_pd(xho[0]) : acc_lo_pd(xho[0]);
            __m256d o = h ? acc_mask_hi(o8) : acc_mask_lo(o8), col = h ? acc_mask_hi(colf) : acc_mask_lo(colf);
            __m256d sq = _mm256_sqrt_pd(vq);
            __m256d uq = _mm256_div_pd(mq, _mm256_add_pd(_mm256_mul_pd(sq, kv), one));    /* lbq_update_elem; +0 where not ok */
            __m256d u = _mm256_loadu_pd(ue + i + 4 * h), d = _mm256_sub_pd(uq, u);
            __m256d au = acc_abs(u), aq = acc_abs(uq);
            uh2 = _mm256_add_pd(uh2, _mm256_mul_pd(uq, uq));
            dot = _mm256_add_pd(dot, _mm256_mul_pd(u, uq));
            d2 = _mm256_add_pd(d2, _mm256_mul_pd(d, d));
            auh = _mm256_add_pd(auh, aq);
            for (int s = 0; s < 2; s++) {
                __m256d lm = h ? acc_mask_hi(lift[s]) : acc_mask_lo(lift[s]);
                lauh[s] = _mm256_add_pd(lauh[s], _mm256_and_pd(aq, lm));
                ld2[s] = _mm256_add_pd(ld2[s], _mm256_and_pd(_mm256_mul_pd(d, d), lm));
            }
            cu = _mm256_add_pd(cu, _mm256_and_pd(au, col));
            cuh = _mm256_add_pd(cuh, _mm256_and_pd(aq, col));
            cbl = _mm256_sub_epi64(cbl, _mm256_castpd_si256(_mm256_and_pd(o, _mm256_cmp_pd(aq, _mm256_mul_pd(ten, au), _CMP_GT_OQ))));
            csh = _mm256_sub_epi64(csh, _mm256_castpd_si256(_mm256_and_pd(o, _mm256_cmp_pd(aq, _mm256_mul_pd(tenth, au), _CMP_LT_OQ))));
            y[h] = _mm256_add_pd(sq, eps);
        }
        hist_add8(hq, bt_bins8(&T->h, acc_f8(y[0], y[1]), 1), o8, NH);
    }
    for (int s = 0; s < 2; s++) {
        _mm256_storeu_pd(L->sse[s], sse[s]); _mm256_storeu_pd(L->sae[s], sae[s]); _mm256_storeu_pd(L->mx[s], mx[s]);
        L->zmoved[s] += acc_hsum32(czm[s]);
        L->pzero[s] += acc_hsum32(cpz[s]);
        L->nzzero[s] += acc_hsum32(cnz[s]);
        _mm256_storeu_pd(L->lauh[s], lauh[s]); _mm256_storeu_pd(L->ld2[s], ld2[s]);
    }
    L->blowup += acc_hsum64(cbl);
    L->shrink += acc_hsum64(csh);
    _mm256_storeu_pd(L->uh2, uh2); _mm256_storeu_pd(L->dot, dot); _mm256_storeu_pd(L->d2, d2);
    _mm256_storeu_pd(L->auh, auh); _mm256_storeu_pd(L->cu, cu); _mm256_storeu_pd(L->cuh, cuh);
    if (same[0] || same[1]) {
        int64_t nok = 0;
        for (int64_t j = 0; j < i; j++) nok += ok[j] != 0;
        for (int s = 0; s < 2; s++) if (same[s]) hr[s][0] += (uint32_t)nok;
    }
    for (int s = 0; s < 2; s++) hist_fold(S[s]->rel_hist, hr[s], NR);
    hist_fold(a->u.h_quant, hq, NH);
    free(hist);
    if (i < n) quant_portable(L, a, cfg, i, n, m, mh, v, vh, ue, ok);
}

/* The same loop compiled twice: for AVX2 (16 vector registers: the 18 accumulators and the
 * constants spill) and, where the CPU has it, for AVX-512VL (32 registers: none spill).  Both are
 * the same 256-bit operations (the compiler only picks EVEX encodings, mask registers for the
 * compares and blends, and more registers); no FMA (-ffp-contract=off, no fma intrinsics; the
 * build's objdump shows no vfmadd), so every lane has the same bits.  tests/test-simd.c compares
 * the two with the portable loop. */
LBQ_AVX2 static void quant_avx2(struct qlanes *L, struct lbq_acc *a, const struct lbq_update_cfg *cfg,
                                const struct bintabs *T, int64_t n, const float *m, const float *mh,
                                const float *v, const float *vh, const double *ue, const uint8_t *ok)
{
    quant_body(L, a, cfg, T, n, m, mh, v, vh, ue, ok);
}
#define LBQ_AVX512VL __attribute__((target("avx2,avx512f,avx512vl,avx512bw,avx512dq")))
LBQ_AVX512VL static void quant_avx512(struct qlanes *L, struct lbq_acc *a, const struct lbq_update_cfg *cfg,
                                      const struct bintabs *T, int64_t n, const float *m, const float *mh,
                                      const float *v, const float *vh, const double *ue, const uint8_t *ok)
{
    quant_body(L, a, cfg, T, n, m, mh, v, vh, ue, ok);
}

/* -1 not probed; 0 off; 1 on */
static int g_avx512 = -1;
static int avx512_probe(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
}
#endif

int lbq_acc_avx512(int on)
{
#if LBQ_HAVE_AVX2_CODE
    int s = __atomic_load_n(&g_avx512, __ATOMIC_RELAXED);
    if (on >= 0 || s < 0) {
        s = on == 0 ? 0 : avx512_probe();
        __atomic_store_n(&g_avx512, s, __ATOMIC_RELAXED);
    }
    return s;
#else
    (void)on;
    return 0;
#endif
}

#if LBQ_HAVE_AVX2_CODE
LBQ_AVX2 static void base_avx2(struct blanes *L, struct lbq_acc *a, const struct lbq_update_cfg *cfg, int64_t n,
                               const float *m, const float *v, double *ue, uint8_t *ok)
{
    const __m256d zero = _mm256_setzero_pd(), kv = _mm256_set1_pd(lbq_update_k(cfg)), eps = _mm256_set1_pd(cfg->eps),
                  one = _mm256_set1_pd(1.0);
    const __m256 inf = _mm256_castsi256_ps(_mm256_set1_epi32(0x7f800000)), absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256d sq[2], ab[2], usq = _mm256_loadu_pd(L->usq), uab = _mm256_loadu_pd(L->uab);
    for (int s = 0; s < 2; s++) { sq[s] = _mm256_loadu_pd(L->sq[s]); ab[s] = _mm256_loadu_pd(L->ab[s]); }
    uint32_t (*hq)[LBQ_H_NBINS] = calloc(4, sizeof *hq);
    if (!hq) { base_portable(L, a, cfg, 0, n, m, v, ue, ok); return; }
    const struct bintabs *T = bintabs_get();         /* NULL: the bins by lbq_log2f8 */
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 mf = _mm256_loadu_ps(m + i), vf = _mm256_loadu_ps(v + i);
        __m256 okf = _mm256_and_ps(_mm256_cmp_ps(_mm256_and_ps(mf, absm), inf, _CMP_LT_OQ),
                                   _mm256_cmp_ps(_mm256_and_ps(vf, absm), inf, _CMP_LT_OQ));
        int okbits = _mm256_movemask_ps(okf);
        for (int k = 0; k < 8; k++) ok[i + k] = (uint8_t)((okbits >> k) & 1);
        L->bad += 8 - __builtin_popcount((unsigned)okbits);
        __m256d o[2] = { acc_okmask(ok + i), acc_okmask(ok + i + 4) }, y[2];
        for (int h = 0; h < 2; h++) {
            __m256d xm = _mm256_and_pd(acc_ld(m + i + 4 * h), o[h]), xv = _mm256_and_pd(acc_ld(v + i + 4 * h), o[h]);
            __m256d xs[2] = { xm, xv };
            for (int s = 0; s < 2; s++) {
                sq[s] = _mm256_add_pd(sq[s], _mm256_mul_pd(xs[s], xs[s]));
                ab[s] = _mm256_add_pd(ab[s], acc_abs(xs[s]));
                L->zin[s] += acc_count(_mm256_and_pd(o[h], _mm256_cmp_pd(xs[s], zero, _CMP_EQ_OQ)));
                L->pos[s] += acc_count(_mm256_and_pd(o[h], _mm256_cmp_pd(xs[s], zero, _CMP_GT_OQ)));
            }
            __m256d vv = _mm256_and_pd(xv, _mm256_cmp_pd(xv, zero, _CMP_GT_OQ)), sv = _mm256_sqrt_pd(vv);
            __m256d u = _mm256_and_pd(_mm256_div_pd(xm, _mm256_add_pd(_mm256_mul_pd(sv, kv), one)), o[h]); /* lbq_update_elem */
            _mm256_storeu_pd(ue + i + 4 * h, u);
            usq = _mm256_add_pd(usq, _mm256_mul_pd(u, u));
            uab = _mm256_add_pd(uab, acc_abs(u));
            y[h] = _mm256_add_pd(sv, eps);
        }
        int32_t bins[8];
        __m256 yf = acc_f8(y[0], y[1]);
        _mm256_storeu_si256((__m256i *)(void *)bins, T ? bt_bins8(&T->h, yf, 1) : acc_h_bins8(yf));
        for (int k = 0; k < 8; k++) hq[k & 3][bins[k]] += ok[i + k];
    }
    for (int s = 0; s < 2; s++) { _mm256_storeu_pd(L->sq[s], sq[s]); _mm256_storeu_pd(L->ab[s], ab[s]); }
    _mm256_storeu_pd(L->usq, usq); _mm256_storeu_pd(L->uab, uab);
    for (int b = 0; b < LBQ_H_NBINS; b++) a->u.h_exact[b] += (int64_t)hq[0][b] + hq[1][b] + hq[2][b] + hq[3][b];
    free(hq);
    if (i < n) base_portable(L, a, cfg, i, n, m, v, ue, ok);
}
#endif

void lbq_acc_quant(struct lbq_acc *a, const struct lbq_update_cfg *cfg, int64_t n, const float *m,
                   const float *mh, const float *v, const float *vh, const double *ue, const uint8_t *ok)
{
    struct qlanes L;
    memset(&L, 0, sizeof L);
#if LBQ_HAVE_AVX2_CODE
    const struct bintabs *T = NULL;
    if (lbq_simd_level() >= 2 && isfinite(lbq_update_k(cfg)) && (T = bintabs_get()) != NULL)
    {
        if (lbq_acc_avx512(-1)) quant_avx512(&L, a, cfg, T, n, m, mh, v, vh, ue, ok);
        else quant_avx2(&L, a, cfg, T, n, m, mh, v, vh, ue, ok);
    }
    else
#endif
    quant_portable(&L, a, cfg, 0, n, m, mh, v, vh, ue, ok);
    qlanes_fold(&L, a);
}
