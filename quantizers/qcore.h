/*
 * qcore.h - lbq's per-element quantization math, shared by the CPU reference loops (gcc, C11)
 * and the CUDA kernels (nvcc).  Everything here is a pure `static inline` function of its
 * arguments: no allocation, no I/O, no globals.  Only the loops around these functions differ
 * between devices, so codes and dequantized values agree bit for bit as long as both compilers
 * keep IEEE semantics (gcc: -ffp-contract=off; nvcc: --fmad=false, no --use_fast_math).
 *
 * No libm calls appear here: log2/exp2/pow are computed by lbq_log2f/lbq_exp2f below from
 * +,-,*,/ and bit manipulation only, because libm and CUDA's math library may differ by an ulp.
 * sqrtf, floorf, rintf and fmaf are correctly rounded on both sides and are allowed.
 */
#ifndef LBQ_QCORE_H
#define LBQ_QCORE_H

#include <stdint.h>

#include <math.h>
#include <string.h>
#if defined(__CUDACC__)
#  define LBQ_HD static __host__ __device__ __forceinline__
#else
#  define LBQ_HD static inline
#endif
#define LBQ_INF (lbq_u2f(0x7f800000u))

#define LBQ_MAX_LEVELS 256 /* a map has at most 2^8 levels */
#define LBQ_STR_(x) #x
#define LBQ_STR(x) LBQ_STR_(x)

/* ---- bit casts ------------------------------------------------------------------------ */
LBQ_HD uint32_t lbq_f2u(float f) { uint32_t u; memcpy(&u, &f, sizeof u); return u; }
LBQ_HD float lbq_u2f(uint32_t u) { float f; memcpy(&f, &u, sizeof f); return f; }
LBQ_HD int lbq_isfinite(float x) { return (lbq_f2u(x) & 0x7f800000u) != 0x7f800000u; }
LBQ_HD float lbq_absf(float x) { return lbq_u2f(lbq_f2u(x) & 0x7fffffffu); }

/* 2^n as a float for n in [-149, 127] (0 below, +inf above). */
LBQ_HD float lbq_pow2i(int n)
{
    if (n > 127) return LBQ_INF;
    if (n >= -126) return lbq_u2f((uint32_t)(n + 127) << 23);
    if (n >= -149) return lbq_u2f(1u << (n + 149));
    return 0.0f;
}

/* ---- deterministic elementary functions ----------------------------------------------- */
/* log2(x) for x > 0 (at most 4 ulp, measured exhaustively on [0.5, 4)); -inf for 0, NaN for negative or NaN. */
LBQ_HD float lbq_log2f(float x)
{
    if (!(x > 0.0f)) return (x == 0.0f) ? -LBQ_INF : (x - x) / (x - x);
    if (!lbq_isfinite(x)) return x;
    int e = 0;
    if (x < 1.17549435e-38f) { x *= 8388608.0f; e = -23; }          /* subnormal: scale by 2^23 */
    uint32_t u = lbq_f2u(x);
    e += (int)((u >> 23) & 0xff) - 127;
    float m = lbq_u2f((u & 0x007fffffu) | 0x3f800000u);             /* m in [1,2) */
    if (m > 1.41421356f) { m *= 0.5f; e += 1; }                      /* m in [0.707, 1.414] */
    float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;                   /* |t| <= 0.1716 */
    /* ln m = 2 atanh t = 2 (t + t^3/3 + t^5/5 + ...) */
    float p = 1.0f / 13.0f;
    p = p * t2 + 1.0f / 11.0f; p = p * t2 + 1.0f / 9.0f; p = p * t2 + 1.0f / 7.0f;
    p = p * t2 + 1.0f / 5.0f;  p = p * t2 + 1.0f / 3.0f; p = p * t2 + 1.0f;
    float lnm = 2.0f * t * p;
    return (float)e + lnm * 1.44269504088896341f;
}

/* 2^y (about 2 ulp); 0 for y < -149, +inf for y >= 128. */
LBQ_HD float lbq_exp2f(float y)
{
    if (y != y) return y;
    if (y >= 128.0f) return LBQ_INF;
    if (y < -150.0f) return 0.0f;
    float n = floorf(y);
    float f = (y - n) * 0.693147180559945309f;                      /* f in [0, ln2) */
    /* e^f by Taylor to degree 10: truncation < 1e-9 */
    float p = 1.0f / 3628800.0f;
    p = p * f + 1.0f / 362880.0f; p = p * f + 1.0f / 40320.0f; p = p * f + 1.0f / 5040.0f;
    p = p * f + 1.0f / 720.0f;    p = p * f + 1.0f / 120.0f;   p = p * f + 1.0f / 24.0f;
    p = p * f + 1.0f / 6.0f;      p = p * f + 0.5f;            p = p * f + 1.0f;
    p = p * f + 1.0f;
    int ni = (int)n;
    if (ni < -126) return p * lbq_pow2i(ni + 64) * lbq_pow2i(-64);
    return p * lbq_pow2i(ni);
}

/* x^k for x >= 0 with C's pow special cases where COAT's k = inf (a group of equal values) needs
 * them: x^0 = 1 (any x), 1^k = 1 (any k), 0^k = 0 for k > 0; x^inf = 0 for x < 1, inf for x > 1. */
LBQ_HD float lbq_powf_pos(float x, float k)
{
    if (k == 0.0f || x == 1.0f) return 1.0f;
    if (x == 0.0f) return 0.0f;
    return lbq_exp2f(k * lbq_log2f(x));
}

/* ---- counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11) ----------------- */
/* One uniform float in [0,1) per (seed, stream, index): identical on every device and for any
 * thread count, because it depends only on its arguments. */
LBQ_HD float lbq_philox_uniform(uint64_t seed, uint32_t stream, uint64_t index)
{
    uint32_t c0 = (uint32_t)index, c1 = (uint32_t)(index >> 32), c2 = stream, c3 = 0x6c62710au;
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1; c3 = (uint32_t)p0; c0 = n0; c2 = n2;
        k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
    }
    return (float)(c0 >> 8) * (1.0f / 16777216.0f);
}

/* ---- normalization --------------------------------------------------------------------- */
/* x / s with IEEE division (lpmm, torchao).  Zero scale (an all-zero block) and NaN give 0,
 * so no NaN ever reaches a code; +-Inf saturate to the end codes. */
LBQ_HD float lbq_normalize(float x, float s)
{
    float xn = (s > 0.0f) ? x / s : 0.0f;
    return (xn == xn) ? xn : 0.0f;
}

/* ---- codebook maps --------------------------------------------------------------------- */
/* A codebook is a sorted table q[0..n-1] and its fp32 decision midpoints
 * mid[i] = (q[i] + q[i+1]) * 0.5f for i < n-1, padded with +inf up to npow2 (a power of two >= n).
 *
 * Nearest code, lpmm's tie rule: the code is the number of midpoints strictly below x, so a value
 * exactly on a midpoint takes the LOWER code.  Branch-free binary search, log2(npow2) steps. */
LBQ_HD int lbq_code_nearest(const float *mid, int npow2, float xn)
{
    int c = 0;
    for (int s = npow2 >> 1; s > 0; s >>= 1)
        c += (mid[c + s - 1] < xn) ? s : 0;
    return c;
}

/* The same code as lbq_code_nearest (the number of midpoints strictly below x) by a linear count:
 * no dependent loads, so the CPU loop over a tile of elements vectorizes for small codebooks. */
LBQ_HD int lbq_code_nearest_count(const float *mid, int nmid, float xn)
{
    int c = 0;
    for (int i = 0; i < nmid; i++) c += (mid[i] < xn);
    return c;
}

/* lpmm's PyTorch 'nearest' (":argmin"): the argmin over the levels of the fp32 distance |xn - q[i]|,
 * the lowest index on equal distances (torch.argmin).  The fp32 distance grows away from xn, so the
 * argmin is one of the two levels around xn: among c-1, c, c+1 for the midpoint-rule code c, then
 * moved down over equal levels (a duplicated level, as in DE-0). */
LBQ_HD int lbq_code_argmin(const float *q, int nlev, float xn, int c)
{
    int lo = c > 0 ? c - 1 : 0, hi = c + 1 < nlev ? c + 1 : nlev - 1, best = lo;
    float bd = lbq_absf(xn - q[lo]);
    for (int i = lo + 1; i <= hi; i++) {
        float d = lbq_absf(xn - q[i]);
        if (d < bd) { bd = d; best = i; }
    }
    while (best > 0 && q[best - 1] == q[best]) best--;
    return best;
}

/* torchao's nearest (quantize_4bit_with_qmap / quantize_8bit_with_qmap, read to learn it; also
 * SOLO's DE quantizer): c = the largest index with q[c] <= xn (0 if none; a branch-free search over
 * powers of two), then up to c+1 (clamped to n-1) iff xn - q[c] >= (q[c+1] - q[c]) * 0.5, so an
 * exact tie takes the UPPER code.  qpad: q padded with +inf to npow2 entries. */
LBQ_HD int lbq_code_torchao(const float *qpad, int n, int npow2, float xn)
{
    int c = 0;
    for (int s = npow2 >> 1; s > 0; s >>= 1)
        c += (xn >= qpad[c + s]) && (c + s < n) ? s : 0;
    int up = c + 1 < n ? c + 1 : n - 1;
    return (xn - qpad[c] >= (qpad[up] - qpad[c]) * 0.5f) ? up : c;
}

/* Stochastic rounding in the linear domain: with q[lo] <= x < q[lo+1], round up with
 * probability (x - q[lo]) / (q[lo+1] - q[lo]), decided by u ~ U[0,1).  Outside [q0, q[n-1]]
 * the end code.  qpad is q padded with +inf to npow2 entries. */
LBQ_HD int lbq_code_stochastic(const float *qpad, int n, int npow2, float xn, float u)
{
    if (!(xn > qpad[0])) return 0;
    if (xn >= qpad[n - 1]) return n - 1;
    int c = 0;                                      /* number of levels <= xn, >= 1 here */
    for (int s = npow2 >> 1; s > 0; s >>= 1)
        c += (qpad[c + s - 1] <= xn) ? s : 0;
    int lo = c - 1;
    float p = (xn - qpad[lo]) / (qpad[lo + 1] - qpad[lo]);
    return (u < p) ? lo + 1 : lo;
}

/* ---- SOLO's logarithmic map (qema) ----------------------------------------------------- */
/* Per block: delta = max(x), xp = p-quantile(x)/delta, alpha = xp^(1/N), N = 2^b - 1; levels
 * alpha^k * delta for k = 0..N (code 0 is the block maximum, code N the quantile).
 * Two variants (map-log.c): SOLO's own arithmetic (lbq_log_params with guarded = 0,
 * lbq_code_log_solo), and lbq's guarded one (":guarded": lbq_log_alpha, lbq_code_log), where
 * degenerate blocks get alpha = 1 (one level). */
#define LBQ_SOLO_EPS 1e-12f     /* SOLO's scale clamp: scale = max(block max, 1e-12) */

/* SOLO (quantizer/utils.py, read to learn it): scale = max(delta, 1e-12); xp = quantile / scale;
 * alpha = xp^(1/N) with the exponent rounded to float as torch's pow sees it.  xp = 0 (more than
 * a p-share of zeros, or an all-zero block) gives alpha = 0; xp = 1 gives alpha = 1. */
LBQ_HD float lbq_solo_alpha(float quantile, float scale, int nmax)
{
    float xp = quantile / scale;
    if (!(xp > 0.0f)) return 0.0f;
    if (!(xp < 1.0f)) return 1.0f;
    return lbq_exp2f(lbq_log2f(xp) * (1.0f / (float)nmax));
}

/* SOLO's code of xn = x/scale: clip(round(log2(xn)/log2(alpha) [+ u - 0.5]), 0, N) with round half
 * to even, where torch's NaN (0/0, inf/inf) becomes code 0 in the uint8 cast.  Hence: alpha = 0 or
 * 1 -> every code 0 (the element comes back as the scale); xn = 0 -> N; xn < 0 -> 0. */
LBQ_HD int lbq_code_log_solo(float xn, float alpha, int nmax, int stochastic, float u)
{
    if (!(alpha > 0.0f) || !(alpha < 1.0f)) return 0;
    if (xn == 0.0f) return nmax;                    /* log2(0) = -inf, / log2(alpha) < 0 = +inf */
    if (!(xn > 0.0f)) return 0;                     /* log2 of a negative: NaN */
    float li = lbq_log2f(xn) / lbq_log2f(alpha);
    float c = stochastic ? rintf(li + (u - 0.5f)) : rintf(li);
    if (!(c > 0.0f)) return 0;
    if (c > (float)nmax) return nmax;
    return (int)c;
}

LBQ_HD float lbq_log_alpha(float xp, int nmax)
{
    if (!(xp > 0.0f) || !(xp < 1.0f)) return 1.0f;
    return lbq_exp2f(lbq_log2f(xp) / (float)nmax);
}

/* Code for a normalized value xn = x/delta in [0,1].  Nearest in the exponent domain
 * (rintf: ties to even, as torch.round); stochastic: floor(li + u), up with probability frac(li). */
LBQ_HD int lbq_code_log(float xn, float alpha, int nmax, int stochastic, float u)
{
    if (!(alpha < 1.0f)) return 0;
    if (!(xn > 0.0f)) return nmax;                  /* zero (or negative) -> smallest level */
    float li = lbq_log2f(xn) / lbq_log2f(alpha);    /* log_alpha(xn) >= 0 for xn <= 1 */
    float c = stochastic ? floorf(li + u) : rintf(li);
    if (!(c > 0.0f)) return 0;
    if (c > (float)nmax) return nmax;
    return (int)c;
}

/* alpha^code by repeated multiplication (exactly the same product on every device). */
LBQ_HD float lbq_log_level(float alpha, int code)
{
    float y = 1.0f;
    for (int k = 0; k < code; k++) y *= alpha;
    return y;
}

/* ---- FP8 (OCP E4M3FN and E5M2), round to nearest even, saturating ---------------------- */
/* Rounds |a| to the FP8 grid with `mbits` mantissa bits, minimum normal exponent `emin`
 * and largest finite value `maxv`.  Exact: scaling by powers of two and rintf only. */
LBQ_HD float lbq_fp8_round_abs(float a, int mbits, int emin, float maxv)
{
    if (!(a == a)) return 0.0f;
    if (a >= maxv) return maxv;
    int e = (int)((lbq_f2u(a) >> 23) & 0xff) - 127;
    if (e < emin) e = emin;                         /* subnormal range: fixed quantum */
    float quantum = lbq_pow2i(e - mbits);
    float r = rintf(a / quantum) * quantum;
    return (r > maxv) ? maxv : r;
}
LBQ_HD float lbq_fp8_round(float x, int e5m2)
{
    float a = lbq_absf(x);
    float r = e5m2 ? lbq_fp8_round_abs(a, 2, -14, 57344.0f) : lbq_fp8_round_abs(a, 3, -6, 448.0f);
    return (lbq_f2u(x) >> 31) ? -r : r;
}
/* FP8 bit pattern of a value already on the grid (from lbq_fp8_round). */
LBQ_HD int lbq_fp8_bits(float r, int e5m2)
{
    int mb = e5m2 ? 2 : 3, bias = e5m2 ? 15 : 7, emin = 1 - bias;
    int sign = (int)(lbq_f2u(r) >> 31);
    float a = lbq_absf(r);
    int code;
    if (a == 0.0f) code = 0;
    else {
        int e = (int)((lbq_f2u(a) >> 23) & 0xff) - 127;
        if (e < emin) code = (int)(a / lbq_pow2i(emin - mb));                     /* subnormal */
        else code = ((e + bias) << mb) | (int)((a / lbq_pow2i(e) - 1.0f) * (float)(1 << mb));
    }
    return (sign << 7) | code;
}
LBQ_HD float lbq_fp8_value(int bits, int e5m2)
{
    int mb = e5m2 ? 2 : 3, bias = e5m2 ? 15 : 7;
    int ex = (bits >> mb) & (e5m2 ? 0x1f : 0xf), man = bits & ((1 << mb) - 1);
    float a = (ex == 0) ? (float)man * lbq_pow2i(1 - bias - mb)
                        : (1.0f + (float)man / (float)(1 << mb)) * lbq_pow2i(ex - bias);
    return (bits & 0x80) ? -a : a;
}

/* COAT dynamic range expansion, per group: y = sign(x) (|x|/g)^k, stored as fp8(y / s).
 * Returns the dequantized value of x; the group parameters come from lbq_dre_params. */
LBQ_HD float lbq_dre_qdq(float x, float s, float k, float g, int e5m2, int *bits)
{
    float a = lbq_absf(x);
    float y = lbq_powf_pos(a / g, k);
    float r = lbq_fp8_round(y / s, e5m2);
    if (bits) *bits = lbq_fp8_bits(r, e5m2) | ((lbq_f2u(x) >> 31) && r != 0.0f ? 0x80 : 0);
    float back = lbq_powf_pos(r * s, 1.0f / k) * g;
    return (lbq_f2u(x) >> 31) ? -back : back;
}

/* ---- per-block parameters (used by the CPU loops and the CUDA kernels alike) ------------ */
/* Position of the p-quantile among n sorted values as torch.quantile computes it (linear
 * interpolation): rank = p * (n - 1) in float32 (q becomes a tensor of the input's dtype),
 * lo = trunc(rank), w = rank - lo; the result is lerp(v[lo], v[lo+1], w) (lbq_quantile_lerp). */
LBQ_HD void lbq_quantile_pos(int64_t n, double p, int64_t *lo, float *w)
{
    float rank = (float)p * (float)(n - 1);
    int64_t l = (int64_t)rank;
    if (l < 0) l = 0;
    if (l > n - 1) l = n - 1;
    *lo = l;
    *w = rank - (float)l;
}
/* torch.lerp as its CPU kernel (and nvcc) computes it: each branch one fused multiply-add
 * (checked against torch 1.13's quantile on 4000 random blocks). */
LBQ_HD float lbq_quantile_lerp(float vlo, float vhi, float w)
{
    if (w == 0.0f) return vlo;
    float d = vhi - vlo;
    return (w < 0.5f) ? fmaf(w, d, vlo) : fmaf(-d, 1.0f - w, vhi);
}

/* Log map alpha of a block from its max (delta), raw p-quantile and smallest positive value. */
LBQ_HD float lbq_log_block_alpha(float delta, float quantile, float minpos, int nmax)
{
    if (!(delta > 0.0f)) return 1.0f;
    float xp = quantile / delta;
    if (!(xp > 0.0f) && lbq_isfinite(minpos)) xp = minpos / delta;
    return lbq_log_alpha(xp, nmax);
}

/* Per-block log-map parameters from the block max over finite x (delta), the raw p-quantile and the
 * smallest positive value: returns alpha and sets *scale (what x is divided by and the levels are
 * multiplied by).  SOLO: scale = max(delta, 1e-12), lbq_solo_alpha.  guarded: scale = delta,
 * lbq_log_block_alpha. */
LBQ_HD float lbq_log_params(float delta, float quantile, float minpos, int nmax, int guarded, float *scale)
{
    if (guarded) { *scale = delta; return lbq_log_block_alpha(delta, quantile, minpos, nmax); }
    float s = (delta > LBQ_SOLO_EPS) ? delta : LBQ_SOLO_EPS;
    *scale = s;
    return lbq_solo_alpha(quantile, s, nmax);
}

/* SOLO edge cases of a block, counted by analyze and sweep (docs/metrics.md): bit 0 an all-zero
 * block (comes back as 1e-12 everywhere), bit 1 a block whose max is below 1e-12 (scaled by 1e-12),
 * bit 2 a nonzero block whose p-quantile is 0 (alpha = 0: every element comes back as the max). */
LBQ_HD int lbq_solo_edge(float delta, float quantile)
{
    return (delta == 0.0f ? 1 : 0) | (delta > 0.0f && delta < LBQ_SOLO_EPS ? 2 : 0) |
           (delta > 0.0f && !(quantile > 0.0f) ? 4 : 0);
}

/* ---- COAT's expansion kernel (fp8_adamw_expand_cuda_kernel.cu, read to learn it) ------------- */
/* CUDA fmaxf/fminf: a NaN operand is ignored. */
LBQ_HD float lbq_fmaxf(float a, float b) { return (a != a) ? b : (b != b) ? a : (a > b ? a : b); }
LBQ_HD float lbq_fminf(float a, float b) { return (a != a) ? b : (b != b) ? a : (a < b ? a : b); }

/* One warp of COAT's group reduction: for i = 16, 8, 4, 2, 1 every lane l takes lane l+i's
 * partials (shfl_down; lanes past 31 keep their own) as max = fmax(max, |r|) and, skipping a zero,
 * min = |r| > 0 ? fmin(min, |r|) : min.  Lane 0 ends with the warp's result.  A lane whose own value
 * is 0 keeps min 0, so the partial minima it carries are lost: the kernel's min is not the minimum
 * over the nonzero values. */
LBQ_HD void lbq_coat_warp(float *mx, float *mn)
{
    for (int i = 16; i > 0; i >>= 1)
        for (int l = 0; l + i < 32; l++) {          /* ascending: lane l+i is not updated yet */
            float a = lbq_absf(mn[l + i]);
            mx[l] = lbq_fmaxf(mx[l], lbq_absf(mx[l + i]));
            mn[l] = (a > 0.0f) ? lbq_fminf(mn[l], a) : mn[l];
        }
}

/* COAT's per-group max and min |x| exactly as its kernel reduces them: one thread per element
 * (B threads, warps of 32), each starting from its own |x| for both (threads past the end of the
 * tensor: 0 and FLT_MAX), lbq_coat_warp per warp, then lbq_coat_warp over the warp results (lanes
 * beyond the warp count: 0 and 1e9).  n <= B elements of the group.  Non-finite x count as 0
 * (lbq's rule for non-finite states).  COAT's kernel exists for B = 128 only; B > 1024 folds the
 * results of warps w and w + 32k first. */
LBQ_HD void lbq_coat_group_stats(const float *x, int64_t n, int64_t B, float *mxo, float *mno)
{
    float wmx[32], wmn[32], mx[32], mn[32];
    const int nw = (int)((B + 31) / 32);
    for (int l = 0; l < 32; l++) { wmx[l] = 0.0f; wmn[l] = 1e9f; }
    for (int w = 0; w < nw; w++) {
        for (int l = 0; l < 32; l++) {
            int64_t t = (int64_t)w * 32 + l;
            float a = (t < n) ? (lbq_isfinite(x[t]) ? lbq_absf(x[t]) : 0.0f) : 0.0f;
            mx[l] = a;
            mn[l] = (t < n) ? a : 3.40282347e+38f;
        }
        lbq_coat_warp(mx, mn);
        if (w < 32) { wmx[w] = mx[0]; wmn[w] = mn[0]; }
        else {
            float a = lbq_absf(mn[0]);
            wmx[w % 32] = lbq_fmaxf(wmx[w % 32], mx[0]);
            wmn[w % 32] = (a > 0.0f) ? lbq_fminf(wmn[w % 32], a) : wmn[w % 32];
        }
    }
    lbq_coat_warp(wmx, wmn);
    *mxo = wmx[0]; *mno = wmn[0];
}

/* COAT dynamic range expansion parameters of a group from the kernel's max and min |x|
 * (lbq_coat_group_stats): M = max + 1e-30, m0 = min + 1e-30 (QUANT_MIN_VAL), g = sqrt(M) sqrt(m0),
 * k = floor(log2(FMAX^2/2) / log2(M/m0) * 16) / 16 with no clamp (M = m0 gives k = inf),
 * s = (M/g)^k / FMAX. */
LBQ_HD void lbq_dre_params(float mx, float mn, int e5m2, float *s, float *k, float *g)
{
    const float fmax = e5m2 ? 57344.0f : 448.0f;
    float M = mx + 1e-30f, m0 = mn + 1e-30f;
    float kk = floorf(lbq_log2f(fmax * fmax * 0.5f) / lbq_log2f(M / m0) * 16.0f) / 16.0f;
    float gg = sqrtf(M) * sqrtf(m0);
    *k = kk; *g = gg;
    *s = lbq_powf_pos(M / gg, kk) / fmax;
}

/* Plain FP8 scale of a group: torchao max(absmax, 1e-12) / FMAX, or COAT's non-expanded kernel
 * (absmax + 1e-20) / FMAX (QUANT_MIN_VAL of fp8_adamw_cuda_kernel.cu). */
LBQ_HD float lbq_fp8_scale(float absmax, int e5m2, int coat)
{
    float a = coat ? absmax + 1e-20f : (absmax > 1e-12f ? absmax : 1e-12f);
    return a / (e5m2 ? 57344.0f : 448.0f);
}

/* Plain FP8 element with scale s (lbq_fp8_scale); returns the dequantized value. */
LBQ_HD float lbq_fp8_qdq(float x, float s, int e5m2, float *s_out, int *bits)
{
    float r = lbq_fp8_round(lbq_normalize(x, s), e5m2);
    if (bits) *bits = lbq_fp8_bits(r, e5m2);
    if (s_out) *s_out = s;
    return r * s;
}

/* Table-map element: nearest (lpmm tie rule) or stochastic with u; returns the code. */
LBQ_HD int lbq_table_code(const float *q, const float *mid, int nlev, int npow2, float xn, int stochastic, float u)
{
    return stochastic ? lbq_code_stochastic(q, nlev, npow2, xn, u) : lbq_code_nearest(mid, npow2, xn);
}

/* Rank-1 scale of the element with multi-index idx: min over dims of dimmax[d][idx[d]], where the
 * per-dimension maxima are stored back to back (dimmax + offs[d]). */
LBQ_HD float lbq_rank1_scale(const float *dimmax, const int64_t *offs, const int64_t *idx, int rank)
{
    float m = dimmax[offs[0] + idx[0]];
    for (int d = 1; d < rank; d++) { float v = dimmax[offs[d] + idx[d]]; if (v < m) m = v; }
    return m;
}

/* ---- per-block statistics: accumulation rules (CPU loops and CUDA reductions alike) ----- */
/* Running max |x| over finite x (block absmax, COAT group max).  Also the combine of two partial
 * maxima (both finite and >= 0), so a tree reduction in any order gives the same value. */
LBQ_HD float lbq_absmax_acc(float m, float x)
{
    float a = lbq_absf(x);
    return (a > m && lbq_isfinite(a)) ? a : m;
}
/* Running min of nonzero finite |x| (+inf while there is none); also the combine of two partial
 * minima. */
LBQ_HD float lbq_minabs_acc(float mn, float x)
{
    float a = lbq_absf(x);
    return (a > 0.0f && a < mn && lbq_isfinite(a)) ? a : mn;
}
/* The value the log map's per-block quantile and smallest positive value see: finite positive x,
 * anything else 0.  (Always +0 or a positive finite float, so the order of the values is the
 * order of their bit patterns.) */
LBQ_HD float lbq_log_clean(float x) { return (lbq_isfinite(x) && x > 0.0f) ? x : 0.0f; }
/* lbq_quantile: whether the (lo+1)-th order statistic is needed (else the quantile is v[lo]). */
LBQ_HD int lbq_quantile_needs_hi(int64_t n, int64_t lo, float w) { return w != 0.0f && lo + 1 < n; }

/* COAT element: NaN is quantized as 0, then lbq_dre_qdq. */
LBQ_HD float lbq_dre_qdq_elem(float x, float s, float k, float g, int e5m2, int *bits)
{
    if (!(x == x)) x = 0.0f;
    return lbq_dre_qdq(x, s, k, g, e5m2, bits);
}

/* ---- element -> scale index for the tensor-statistics normalizations ---------------------- */
/* Product of dim[from..rank-1] (1 if from >= rank). */
LBQ_HD int64_t lbq_inner_elems(const int64_t *dim, int rank, int from)
{
    int64_t p = 1;
    for (int d = from; d < rank; d++) p *= dim[d];
    return p;
}
/* Row (index on dim 0) of flat element i, with row_elems = lbq_shape_row_elems(). */
LBQ_HD int64_t lbq_row_of(int64_t i, int64_t row_elems) { return i / row_elems; }
/* Column (index on dim 1) of flat element i, with inner = lbq_inner_elems(dim, rank, 2), d1 = dim[1]. */
LBQ_HD int64_t lbq_col_of(int64_t i, int64_t inner, int64_t d1) { return (i / inner) % d1; }
/* Multi-index idx[0..rank-1] of flat element i of a row-major tensor. */
LBQ_HD void lbq_unravel(int64_t i, const int64_t *dim, int rank, int64_t *idx)
{
    for (int d = rank - 1; d >= 0; d--) { idx[d] = i % dim[d]; i /= dim[d]; }
}

/* ---- bit packing: element i occupies bits [i*b, (i+1)*b) of the little-endian stream ------ */
/* (4-bit: even element in the low nibble, as lpmm.)  `out` must be zeroed beforehand. */
LBQ_HD void lbq_pack_put(uint8_t *out, int64_t i, int bits, unsigned code)
{
    int64_t bit = i * bits;
    int64_t byte = bit >> 3;
    int sh = (int)(bit & 7);
    unsigned v = code << sh;
    out[byte] |= (uint8_t)(v & 0xff);
    if (sh + bits > 8) out[byte + 1] |= (uint8_t)(v >> 8);
}
LBQ_HD unsigned lbq_pack_get(const uint8_t *in, int64_t i, int bits)
{
    int64_t bit = i * bits;
    int64_t byte = bit >> 3;
    int sh = (int)(bit & 7);
    unsigned v = in[byte];
    if (sh + bits > 8) v |= (unsigned)in[byte + 1] << 8;
    return (v >> sh) & ((1u << bits) - 1u);
}

#endif /* LBQ_QCORE_H */
