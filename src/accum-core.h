/* accum-core.h - the per-element definitions of the metric accumulation (docs/metrics.md), shared
 * by the CPU engine (src/accum.c, src/metrics.c, compiled by gcc) and the device-resident CUDA
 * engine (src/cuda/engine.cu, compiled by nvcc) the way quantizers/qcore.h shares the quantizers:
 * every function is LBQ_HD (static inline for gcc, __host__ __device__ under nvcc), uses no libm
 * call beyond sqrt (correctly rounded on both sides) and no fast-math-sensitive operation.
 *
 * The accumulation is split as in src/accum.c: the raw-state part (once per chunk: counts, sums of
 * x^2 and |x|, the exact update u and its h histogram) and the quantized part (per configuration:
 * everything that depends on x^).  lbq_accq_elem gives one element's contribution to the quantized
 * part; struct lbq_accq holds the quantized part as the CUDA engine accumulates it. */
#ifndef LBQ_ACCUM_CORE_H
#define LBQ_ACCUM_CORE_H

#include "../quantizers/qcore.h"
#include "lbq-metrics.h"

#include <math.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* the bins (LBQ_REL_*, LBQ_H_*) and struct lbq_update_cfg: include/lbq-metrics.h */

/* lbq_log2f of a positive finite float, else 0 (for the histogram bins, which do not read it then) */
LBQ_HD float lbq_log2f_or0(float r) { return (r > 0.0f && lbq_isfinite(r)) ? lbq_log2f(r) : 0.0f; }

/* isfinite for doubles by the bit pattern (the same answer as C's isfinite, on both compilers) */
LBQ_HD int lbq_isfinite_d(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return (u & 0x7ff0000000000000ull) != 0x7ff0000000000000ull;
}

/* The update of one element as accumulated.  With eps > 0 the sums hold
 *   u' = m / ( sqrt(v) * k + 1 ),   k = lbq_update_k(cfg) = 1 / (eps * sqrt(bc2)),
 * which is u * eps * bc1: a constant factor, which cancels in every update metric (they are ratios
 * of sums of the same degree in u and u^), and |u'| <= |m|, so no sum can overflow however small
 * eps is.  sqrt(v) is the same square root the h histogram uses.  k = inf (eps below ~1e-308)
 * falls back to m / (sqrt(v/bc2)/eps + 1).  With eps <= 0: u = (m/bc1) / (sqrt(v/bc2) + eps).
 * sv = sqrt(max(v, 0)), in double. */
LBQ_HD double lbq_update_k(const struct lbq_update_cfg *cfg)
{
    return 1.0 / (cfg->eps * sqrt(cfg->bc2));
}
LBQ_HD double lbq_update_elem(double m, double v, double sv, double k, const struct lbq_update_cfg *cfg)
{
    if (cfg->eps > 0.0) return lbq_isfinite_d(k) ? m / (sv * k + 1.0) : m / (sqrt(v / cfg->bc2) / cfg->eps + 1.0);
    return (m / cfg->bc1) / (sqrt(v / cfg->bc2) + cfg->eps);
}

#define LBQ_LOG10_2F 0.30102999566398120f
/* relative-error bin of r = (float)e / |x| (float division, x != 0) given l2 = lbq_log2f(r) for
 * r > 0 finite: 0 if r is 0, the last bin from 1e6 up (and for inf), else
 * 1 + floor((log10(2) * l2 + 12) * 30) in float, clamped */
LBQ_HD int lbq_rel_bin(float r, float l2)
{
    if (!(r > 0.0f)) return 0;
    if (r >= 1e6f) return LBQ_REL_NBINS - 1;
    float t = (LBQ_LOG10_2F * l2 - (float)LBQ_REL_LO) * (float)LBQ_REL_PER_DEC;
    if (!(t >= 0.0f)) return 0;
    if (t >= (float)(LBQ_REL_NBINS - 2)) return LBQ_REL_NBINS - 1;
    return 1 + (int)t;
}
/* h bin of y = (float)(sqrt(v) + eps), h = log10(1/y) = -log10(2) * l2 with l2 = lbq_log2f(y) for
 * y in (1e-37, 1e37]; below that h = +inf, above -inf; bin floor((h + 3) * 20) in float, clamped */
LBQ_HD int lbq_h_bin(float y, float l2)
{
    float h = (!(y > 1e-37f) || y > 1e37f) ? (y > 1.0f ? -LBQ_INF : LBQ_INF) : -LBQ_LOG10_2F * l2;
    float t = (h - (float)LBQ_H_LO) * (float)(LBQ_H_NBINS / (LBQ_H_HI - LBQ_H_LO));
    if (!(t > 0.0f)) return 0;
    if (t >= (float)LBQ_H_NBINS) return LBQ_H_NBINS - 1;
    return (int)t;
}

/* ---- raw-state part: the exact update of one element ------------------------------------------ */
/* *ok = m and v finite; returns the exact update (0 where not ok) and, through *sv, sqrt(max(v,0))
 * (0 where not ok).  The h_exact bin of an ok element is lbq_h_bin of (float)(*sv + eps). */
LBQ_HD double lbq_acc_exact_update(float m, float v, double k, const struct lbq_update_cfg *cfg, int *ok, double *sv)
{
    const int o = lbq_isfinite(m) && lbq_isfinite(v);
    const double vv = (o && v > 0.0f) ? (double)v : 0.0, s = sqrt(vv);
    *ok = o;
    *sv = s;
    return o ? lbq_update_elem((double)m, vv, s, k, cfg) : 0.0;
}

/* ---- quantized part ------------------------------------------------------------------------------ */
/* the sums of the quantized part, in lbq_accq.sum[] and in the lanes of src/accum.c */
enum {
    LBQ_ACCQ_SSE_M, LBQ_ACCQ_SSE_V,     /* sum (x^ - x)^2 */
    LBQ_ACCQ_SAE_M, LBQ_ACCQ_SAE_V,     /* sum |x^ - x| */
    LBQ_ACCQ_UH2, LBQ_ACCQ_DOT, LBQ_ACCQ_D2, LBQ_ACCQ_AUH, LBQ_ACCQ_CU, LBQ_ACCQ_CUH,
    LBQ_ACCQ_LAUH_M, LBQ_ACCQ_LAUH_V,   /* structural-zero split: sum |u^| over lifted x (x == 0, x^ != 0) */
    LBQ_ACCQ_LD2_M, LBQ_ACCQ_LD2_V,     /* and sum (u^ - u)^2 over them */
    LBQ_ACCQ_NSUMS
};
/* the counts */
enum {
    LBQ_ACCQ_ZMOVED_M, LBQ_ACCQ_ZMOVED_V, LBQ_ACCQ_PZERO_M, LBQ_ACCQ_PZERO_V, LBQ_ACCQ_BLOWUP, LBQ_ACCQ_SHRINK,
    LBQ_ACCQ_NZZERO_M, LBQ_ACCQ_NZZERO_V,   /* structural-zero split: x != 0 (either sign), x^ == 0 */
    LBQ_ACCQ_NCOUNTS
};

/* One element's contribution to the quantized part (lbq_acc_quant of src/accum.c). */
struct lbq_accq_elem {
    double s[LBQ_ACCQ_NSUMS];   /* added to the sums (+0 where the element does not count) */
    double e[2];                /* |x^ - x| of m and v (for the maxima; 0 where not ok) */
    int    c[LBQ_ACCQ_NCOUNTS]; /* 0 or 1 */
    int    rbin[2];             /* relative-error bins of m and v (only where ok) */
    int    hbin;                /* h_quant bin (only where ok) */
    int    ok;
};

/* m, mh, v, vh: the element; u: its exact update (lbq_acc_exact_update); ok: m and v finite. */
LBQ_HD void lbq_accq_elem(float m, float mh, float v, float vh, double u, int ok, double k,
                          const struct lbq_update_cfg *cfg, struct lbq_accq_elem *r)
{
    const float X[2] = { m, v }, XH[2] = { mh, vh };
    r->ok = ok;
    for (int s = 0; s < 2; s++) {
        const double x = ok ? (double)X[s] : 0.0, xh = ok ? (double)XH[s] : 0.0, e = fabs(xh - x);
        r->s[LBQ_ACCQ_SSE_M + s] = e * e;
        r->s[LBQ_ACCQ_SAE_M + s] = e;
        r->e[s] = e;
        r->c[LBQ_ACCQ_ZMOVED_M + s] = ok && x == 0.0 && xh != 0.0;
        r->c[LBQ_ACCQ_PZERO_M + s] = ok && x > 0.0 && xh == 0.0;
        r->c[LBQ_ACCQ_NZZERO_M + s] = ok && x != 0.0 && xh == 0.0;
        if (ok) {
            const float rr = (float)e / (float)fabs(x);
            r->rbin[s] = (x == 0.0) ? (xh == 0.0 ? 0 : LBQ_REL_NBINS - 1) : lbq_rel_bin(rr, lbq_log2f_or0(rr));
        } else {
            r->rbin[s] = 0;
        }
    }
    const double vq = (ok && vh > 0.0f) ? (double)vh : 0.0, sq = sqrt(vq);
    const double uq = ok ? lbq_update_elem((double)mh, vq, sq, k, cfg) : 0.0;
    const double d = uq - u, au = fabs(u), aq = fabs(uq);
    r->s[LBQ_ACCQ_UH2] = uq * uq;
    r->s[LBQ_ACCQ_DOT] = u * uq;
    r->s[LBQ_ACCQ_D2] = d * d;
    r->s[LBQ_ACCQ_AUH] = aq;
    const int col = ok && v > 0.0f && vh == 0.0f;
    r->s[LBQ_ACCQ_CU] = col ? au : 0.0;
    r->s[LBQ_ACCQ_CUH] = col ? aq : 0.0;
    for (int s = 0; s < 2; s++) {      /* structural-zero split: the update of lifted zeros */
        const int lift = r->c[LBQ_ACCQ_ZMOVED_M + s];
        r->s[LBQ_ACCQ_LAUH_M + s] = lift ? aq : 0.0;
        r->s[LBQ_ACCQ_LD2_M + s] = lift ? d * d : 0.0;
    }
    r->c[LBQ_ACCQ_BLOWUP] = ok && aq > 10.0 * au;
    r->c[LBQ_ACCQ_SHRINK] = ok && aq < 0.1 * au;
    if (ok) {
        const float y = (float)(sq + cfg->eps);
        r->hbin = lbq_h_bin(y, lbq_log2f_or0(y));
    } else {
        r->hbin = 0;
    }
}

/* The quantized part as the CUDA engine (and its CPU twin) accumulates it over a parameter. */
struct lbq_accq {
    double   sum[LBQ_ACCQ_NSUMS];
    double   mx[2];                         /* max |x^ - x| of m and v */
    uint64_t cnt[LBQ_ACCQ_NCOUNTS];
    uint64_t rel_hist[2][LBQ_REL_NBINS];    /* finite elements only */
    uint64_t h_quant[LBQ_H_NBINS];
};

/* The engine's fixed work split and reduction order (src/cuda/engine.cu, twin in
 * src/eval-dev.c): LBQ_ACCQ_GRID CUDA blocks of LBQ_ACCQ_THREADS threads; thread t of block b
 * accumulates elements b*THREADS + t + j*GRID*THREADS, j = 0, 1, ... in order; the 256 thread sums
 * of a block are combined by the tree for (s = 128; s > 0; s /= 2) r[t] += r[t + s]; the block
 * sums are added in block order and that slab total to the running total. */
#define LBQ_ACCQ_GRID    512
#define LBQ_ACCQ_THREADS 256

#ifdef __cplusplus
}
#endif
#endif
