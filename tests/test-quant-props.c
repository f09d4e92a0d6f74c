/* test-quant-props.c - properties of every registered quantizer, checked against definitions.
 *
 * For every map (lbq_map_at) x normalization (lbq_norm_at) x bitwidth x sign x rounding (and fp8
 * with and without ':dre'), on odd sizes and 1-D/2-D/3-D shapes:
 *   - only the documented combinations are rejected (log: block norm only, unsigned only; signed
 *     uniform is undefined at 1 bit; 'file' needs --map-file and is tested separately);
 *   - the scales are the normalization's definition (block/tensor/row/col absmax, rank-1 min of
 *     per-dimension maxima), recomputed here;
 *   - x^ = q[code] * s for table maps; nearest rounding picks a nearest level (|x^ - x| is at most
 *     half the local gap times s); stochastic rounding picks one of the two bracketing levels and is
 *     unbiased; the log map's alpha and codes follow SOLO's definition; fp8 matches a double-precision
 *     round-to-nearest-even reference; COAT's DRE parameters and codes follow their definition;
 *   - dequantize(quantize(x)) is a fixed point (table maps, nearest rounding);
 *   - lbq_qdq over block-aligned sub-ranges equals the whole-tensor call bit for bit (streaming);
 *   - all-zero groups give exactly 0, NaN acts as 0, +-Inf saturate, outliers and denormals give
 *     finite values; rank-1 maxima normalize to exactly +-1; fallbacks; storage accounting;
 *   - fp8 encode/decode over all 256 codes, qcore log2/exp2/pow accuracy, Philox against the
 *     Random123 known-answer vectors, uniformity (chi-square), bit packing.
 * All expected values are computed here from the definitions (lbq.h, quantizers/ file headers, the
 * research notes), never copied from lbq's output. */
#include "lbq.h"
#include "lbq-test.h"
#include "qcore.h"

#include <float.h>
#include <stdint.h>
#include <time.h>
#include <dirent.h>
#include <unistd.h>

#define MAXN 4096           /* largest tensor used below */
#define MAXBAD 4            /* detail lines printed per failing property and case */

static const struct lbq_map *g_log, *g_e4m3, *g_e5m2, *g_file, *g_uniform;
static const struct lbq_norm *g_block, *g_tensor, *g_rank1, *g_row, *g_col;

static int is_fp8(const struct lbq_map *m) { return m == g_e4m3 || m == g_e5m2; }
static double ulpf(float f)     /* spacing of floats at |f| (2^-149 for denormals and zero) */
{
    float a = fabsf(f);
    if (!isfinite(a)) return INFINITY;
    return (double)nextafterf(a, INFINITY) - (double)a;
}
static int same_bits(float a, float b) { return lbq_f2u(a) == lbq_f2u(b); }

/* ================================================================================================
 * Reference FP8 (OCP): E4M3FN: bias 7, 3 mantissa bits, no infinities, S.1111.111 is NaN, max 448.
 * E5M2: bias 15, 2 mantissa bits, exponent 31 is Inf/NaN, max 57344.  Values built with ldexp.
 * ============================================================================================== */
struct fp8ref { int n; double v[128]; int code[128]; };
static struct fp8ref g_fp8[2];

static int fp8_code_finite(int c, int e5m2)
{
    c &= 0x7f;
    if (e5m2) return (c >> 2) != 31;
    return c != 0x7f;
}
static double fp8_ref_decode(int c, int e5m2)
{
    int mb = e5m2 ? 2 : 3, bias = e5m2 ? 15 : 7;
    int e = (c & 0x7f) >> mb, m = c & ((1 << mb) - 1);
    double a = (e == 0) ? ldexp((double)m, 1 - bias - mb) : ldexp(1.0 + (double)m / (double)(1 << mb), e - bias);
    return (c & 0x80) ? -a : a;
}
static void fp8_ref_init(void)
{
    for (int f = 0; f < 2; f++) {
        g_fp8[f].n = 0;
        for (int c = 0; c < 128; c++) {     /* positive codes are increasing in value */
            if (!fp8_code_finite(c, f)) continue;
            g_fp8[f].v[g_fp8[f].n] = fp8_ref_decode(c, f);
            g_fp8[f].code[g_fp8[f].n++] = c;
        }
    }
}
/* round to nearest, ties to the even code, saturating at the largest finite value; NaN -> +0
 * (lbq.h: non-finite inputs are quantized as 0 (NaN) or saturate (Inf)).  Returns the code. */
static int fp8_ref_round(double x, int e5m2, double *val)
{
    const struct fp8ref *g = &g_fp8[e5m2];
    int neg = signbit(x) != 0;
    double a = fabs(x);
    int k;
    if (x != x) { *val = 0.0; return 0; }
    if (a >= g->v[g->n - 1]) k = g->n - 1;
    else {
        int lo = 0, hi = g->n - 1;            /* largest index with v <= a */
        while (lo < hi) { int md = (lo + hi + 1) / 2; if (g->v[md] <= a) lo = md; else hi = md - 1; }
        k = lo;
        if (g->v[k] != a) {
            double dlo = a - g->v[k], dhi = g->v[k + 1] - a;
            if (dhi < dlo || (dhi == dlo && (g->code[k + 1] & 1) == 0)) k++;
        }
    }
    *val = neg ? -g->v[k] : g->v[k];
    return (neg ? 0x80 : 0) | g->code[k];
}
/* half the distance between the two grid values around a (>= 0) */
static double fp8_ref_halfgap(double a, int e5m2)
{
    const struct fp8ref *g = &g_fp8[e5m2];
    if (a >= g->v[g->n - 1]) return 0.5 * (g->v[g->n - 1] - g->v[g->n - 2]);
    int k = 0;
    while (k + 1 < g->n && g->v[k + 1] <= a) k++;
    return 0.5 * (g->v[k + 1] - g->v[k]);
}

/* ================================================================================================
 * Test inputs
 * ============================================================================================== */
/* Adam-like states: m ~ N(0,1) * 10^(-3u); v = (N(0,1) * 10^(-3u))^2 (>= 0); ~4% exact zeros */
static void gen_states(float *x, int64_t n, int is_signed)
{
    for (int64_t i = 0; i < n; i++) {
        double g = t_normal() * pow(10.0, -3.0 * t_uniform());
        if (t_uniform() < 0.04) g = 0.0;
        x[i] = is_signed ? (float)g : (float)(g * g * 1e3);
    }
}

/* strides of a row-major shape */
static void strides(const struct lbq_shape *sh, int64_t *st)
{
    int64_t s = 1;
    for (int d = sh->rank - 1; d >= 0; d--) { st[d] = s; s *= sh->dim[d]; }
}

/* Make the max-|x| element of every group a normalization can use (the tensor, every block of
 * `block`, every index of every dimension) positive.  Needed for the fixed-point property of
 * signed maps whose lowest level is not -1 (dtree: -0.8875 at 4 bits): a negative group maximum
 * would dequantize to less than the scale and the scale would shrink on re-quantization. */
static void make_maxima_positive(float *x, const struct lbq_shape *sh, int64_t block)
{
    int64_t n = sh->numel, best = 0;
    for (int64_t i = 0; i < n; i++) if (fabsf(x[i]) > fabsf(x[best])) best = i;
    x[best] = fabsf(x[best]);
    for (int64_t b0 = 0; b0 < n; b0 += block) {
        int64_t e = b0 + block < n ? b0 + block : n, bi = b0;
        for (int64_t i = b0; i < e; i++) if (fabsf(x[i]) > fabsf(x[bi])) bi = i;
        x[bi] = fabsf(x[bi]);
    }
    if (sh->rank < 2) return;
    int64_t st[LBQ_MAX_RANK];
    strides(sh, st);
    for (int d = 0; d < sh->rank; d++) {
        int64_t *arg = malloc(sizeof(int64_t) * (size_t)sh->dim[d]);
        for (int64_t j = 0; j < sh->dim[d]; j++) arg[j] = -1;
        for (int64_t i = 0; i < n; i++) {
            int64_t j = (i / st[d]) % sh->dim[d];
            if (arg[j] < 0 || fabsf(x[i]) > fabsf(x[arg[j]])) arg[j] = i;
        }
        for (int64_t j = 0; j < sh->dim[d]; j++) x[arg[j]] = fabsf(x[arg[j]]);
        free(arg);
    }
}

/* ================================================================================================
 * Reference normalization scales (definitions from quantizers/norm-*.c and lbq.h)
 * ============================================================================================== */
static float absfin(float v) { return isfinite(v) ? fabsf(v) : 0.0f; }

/* per-dimension maxima mx[d][j] = max |x| over elements with index j on dimension d */
static float *dim_maxima(const struct lbq_shape *sh, const float *x, int64_t *off)
{
    int64_t tot = 0, st[LBQ_MAX_RANK];
    for (int d = 0; d < sh->rank; d++) { off[d] = tot; tot += sh->dim[d]; }
    float *mx = calloc((size_t)tot + 1, sizeof(float));
    strides(sh, st);
    for (int64_t i = 0; i < sh->numel; i++)
        for (int d = 0; d < sh->rank; d++) {
            float *m = &mx[off[d] + (i / st[d]) % sh->dim[d]];
            if (absfin(x[i]) > *m) *m = absfin(x[i]);
        }
    return mx;
}

static void ref_scales(const struct lbq_qplan *p, const struct lbq_shape *sh, const float *x, float *rs)
{
    int64_t n = sh->numel;
    if (p->norm == g_block) {
        for (int64_t b0 = 0; b0 < n; b0 += p->block) {
            int64_t e = b0 + p->block < n ? b0 + p->block : n;
            float m = 0.0f;
            for (int64_t i = b0; i < e; i++) if (absfin(x[i]) > m) m = absfin(x[i]);
            for (int64_t i = b0; i < e; i++) rs[i] = m;
        }
        return;
    }
    if (p->norm == g_tensor) {
        float m = 0.0f;
        for (int64_t i = 0; i < n; i++) if (absfin(x[i]) > m) m = absfin(x[i]);
        for (int64_t i = 0; i < n; i++) rs[i] = m;
        return;
    }
    int64_t off[LBQ_MAX_RANK], st[LBQ_MAX_RANK];
    float *mx = dim_maxima(sh, x, off);
    strides(sh, st);
    for (int64_t i = 0; i < n; i++) {
        if (p->norm == g_row) rs[i] = mx[off[0] + i / st[0]];
        else if (p->norm == g_col) rs[i] = mx[off[1] + (i / st[1]) % sh->dim[1]];
        else {                                    /* rank1: min over dims */
            float m = INFINITY;
            for (int d = 0; d < sh->rank; d++) {
                float v = mx[off[d] + (i / st[d]) % sh->dim[d]];
                if (v < m) m = v;
            }
            rs[i] = m;
        }
    }
    free(mx);
}

/* lbq_normalize's definition: x / s with IEEE division; zero scale and NaN give 0 */
static float norm_def(float x, float s)
{
    float xn = (s > 0.0f) ? x / s : 0.0f;
    return (xn == xn) ? xn : 0.0f;
}

/* largest index with q <= xn (-1 if none) and smallest with q >= xn (n if none) */
static void bracket(const float *q, int n, float xn, int *lo, int *hi)
{
    int l = -1, h = n;
    for (int a = 0, b = n - 1; a <= b;) { int m = (a + b) / 2; if (q[m] <= xn) { l = m; a = m + 1; } else b = m - 1; }
    for (int a = 0, b = n - 1; a <= b;) { int m = (a + b) / 2; if (q[m] >= xn) { h = m; b = m - 1; } else a = m + 1; }
    *lo = l; *hi = h;
}

/* torch.quantile (linear interpolation) of a block, in double */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double ref_quantile(const float *x, int64_t n, double p, double *minpos)
{
    double *v = malloc(sizeof(double) * (size_t)n);
    *minpos = INFINITY;
    for (int64_t i = 0; i < n; i++) {
        double a = (isfinite(x[i]) && x[i] > 0.0f) ? (double)x[i] : 0.0;
        v[i] = a;
        if (a > 0.0 && a < *minpos) *minpos = a;
    }
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    double pos = (double)((float)p * (float)(n - 1));      /* torch.quantile: the rank in float32 */
    int64_t lo = (int64_t)floor(pos);
    double w = pos - (double)lo, r = (lo + 1 < n) ? v[lo] + w * (v[lo + 1] - v[lo]) : v[lo];
    free(v);
    return r;
}

/* ================================================================================================
 * The per-call checker: scales, codes, values and rounding of one lbq_qdq result
 * ============================================================================================== */
struct qres { float *xh, *sc, *bp; uint8_t *codes; };

static int qres_alloc(struct qres *r, int64_t n)
{
    r->xh = malloc(sizeof(float) * (size_t)n);
    r->sc = malloc(sizeof(float) * (size_t)n);
    r->bp = malloc(sizeof(float) * (size_t)(2 * n + 2));
    r->codes = malloc((size_t)n);
    return r->xh && r->sc && r->bp && r->codes;
}
static void qres_free(struct qres *r) { free(r->xh); free(r->sc); free(r->bp); free(r->codes); }

static int run_qdq(const struct lbq_qplan *p, const struct lbq_shape *sh, const float *x, struct qres *r)
{
    struct lbq_tstats st;
    int rc = lbq_tstats_init(&st, sh);
    if (rc) return rc;
    lbq_tstats_add(&st, 0, sh->numel, x);
    rc = lbq_qdq(p, &st, 0, sh->numel, x, r->xh, r->codes, r->sc, r->bp, NULL);
    lbq_tstats_free(&st);
    return rc;
}

struct bad { int n; const char *what; };
#define BAD(b, lbl, ...) do { if ((b).n++ < MAXBAD) { fprintf(stderr, "  [%s] %s: ", lbl, (b).what); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

/* Check one result against the definitions.  `x` may contain zeros, denormals and non-finite
 * values.  Returns nothing; counts CHECKs per property. */
static void check_result(const struct lbq_qplan *p, const struct lbq_shape *sh, const float *x,
                         const struct qres *r, const char *lbl)
{
    const struct lbq_map *m = p->spec.map;
    int64_t n = sh->numel;
    int sr = p->spec.round == LBQ_ROUND_STOCHASTIC;
    struct bad bfin = { 0, "non-finite output" }, bcode = { 0, "code out of range" },
               bscale = { 0, "scale differs from the normalization's definition" },
               bval = { 0, "dequantized value is not the code's level times the scale" },
               bround = { 0, "rounding picks a wrong level" }, bbound = { 0, "error above half the local gap" },
               bparam = { 0, "per-block parameter differs from its definition" },
               binf = { 0, "+-Inf does not saturate" };
    float *rs = malloc(sizeof(float) * (size_t)n);
    ref_scales(p, sh, x, rs);
    int ncode = 1 << p->bits;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(r->xh[i])) BAD(bfin, lbl, "x[%lld]=%g -> %g", (long long)i, (double)x[i], (double)r->xh[i]);
        if (r->codes[i] >= ncode || (m->build && r->codes[i] >= p->nlev))
            BAD(bcode, lbl, "code[%lld]=%d (bits %d, %d levels)", (long long)i, r->codes[i], p->bits, p->nlev);
    }

    if (m->build) {                                       /* ---- table maps ---- */
        float mids[LBQ_MAX_LEVELS];
        for (int k = 0; k + 1 < p->nlev; k++) mids[k] = (p->q[k] + p->q[k + 1]) * 0.5f;
        for (int64_t i = 0; i < n; i++) {
            float s = r->sc[i];
            if (!same_bits(s, rs[i])) { BAD(bscale, lbl, "scale[%lld]=%a want %a", (long long)i, (double)s, (double)rs[i]); continue; }
            int c = r->codes[i];
            if (c >= p->nlev) continue;
            if (!same_bits(r->xh[i], p->q[c] * s)) BAD(bval, lbl, "[%lld] %a vs q[%d]*s %a", (long long)i, (double)r->xh[i], c, (double)(p->q[c] * s));
            float xn = norm_def(x[i], s);
            int lo, hi;
            bracket(p->q, p->nlev, xn, &lo, &hi);
            if (isinf(xn) && s > 0.0f) {
                if (c != (xn > 0 ? p->nlev - 1 : 0)) BAD(binf, lbl, "x[%lld]=%g code %d", (long long)i, (double)x[i], c);
                continue;
            }
            if (!sr) {
                double dmin = INFINITY;
                if (lo >= 0) dmin = (double)xn - p->q[lo];
                if (hi < p->nlev && (double)p->q[hi] - xn < dmin) dmin = (double)p->q[hi] - xn;
                double d = fabs((double)p->q[c] - xn);
                /* slack: the fp32 midpoints (q[i]+q[i+1])*0.5f are off the exact midpoint by <= 2^-24 */
                if (d > dmin + 0x1p-23) BAD(bround, lbl, "x[%lld]=%a xn=%a -> q[%d]=%a, nearest distance %g", (long long)i, (double)x[i], (double)xn, c, (double)p->q[c], dmin);
                /* and exactly the documented rule (lpmm): the code is the number of fp32 midpoints
                 * (q[k]+q[k+1])*0.5f strictly below x/s, so an exact midpoint takes the lower code */
                int cdef = 0;                           /* first midpoint >= xn (mids are sorted) */
                for (int a = 0, b = p->nlev - 2; a <= b;) { int md = (a + b) / 2; if (mids[md] < xn) { cdef = md + 1; a = md + 1; } else b = md - 1; }
                if (p->q[c] != p->q[cdef]) BAD(bround, lbl, "x[%lld] xn=%a -> q[%d]=%a, midpoint rule gives q[%d]=%a", (long long)i, (double)xn, c, (double)p->q[c], cdef, (double)p->q[cdef]);
                if (lo >= 0 && hi < p->nlev && isfinite(x[i])) {
                    double gap = (double)p->q[hi] - p->q[lo];
                    double bound = 0.5 * gap * s + 0x1p-23 * s + 0x1p-24 * (fabs(x[i]) + fabs(r->xh[i])) + 0x1p-148;
                    if (fabs((double)r->xh[i] - x[i]) > bound)
                        BAD(bbound, lbl, "x[%lld]=%a x^=%a gap %g s %a", (long long)i, (double)x[i], (double)r->xh[i], gap, (double)s);
                }
            } else {
                int l = lo < 0 ? 0 : lo, h = hi >= p->nlev ? p->nlev - 1 : hi;
                if (p->q[c] != p->q[l] && p->q[c] != p->q[h])
                    BAD(bround, lbl, "SR x[%lld] xn=%a -> q[%d]=%a, bracket [%a, %a]", (long long)i, (double)xn, c, (double)p->q[c], (double)p->q[l], (double)p->q[h]);
            }
        }
    } else if (m == g_log) {                              /* ---- SOLO log map ---- */
        int N = (1 << p->bits) - 1;
        for (int64_t b0 = 0; b0 < n; b0 += p->block) {
            int64_t bn = b0 + p->block < n ? p->block : n - b0;
            const int guarded = p->spec.guarded;
            float delta = rs[b0], alpha = r->bp[b0 / p->block];
            /* SOLO: scale = max(delta, 1e-12), alpha = (quantile/scale)^(1/N), 0 for a zero quantile,
             * 1 for xp = 1.  guarded: scale = delta; quantile 0 -> smallest positive value;
             * degenerate -> 1 */
            if (!guarded && !(delta > 1e-12f)) delta = 1e-12f;
            double minpos, qv = ref_quantile(x + b0, bn, (double)p->spec.quantile, &minpos);
            double xp = delta > 0.0f ? qv / delta : 0.0;
            if (guarded && !(xp > 0.0) && isfinite(minpos) && delta > 0.0f) xp = minpos / delta;
            double aref = (xp > 0.0 && xp < 1.0) ? pow(xp, 1.0 / N) : (guarded || xp >= 1.0) ? 1.0 : 0.0;
            /* fp32 error of alpha: a few ulp, plus the quantile's absolute error on the denormal grid
             * (lerp and subtraction round to multiples of 2^-149), scaled by 1/N through the root */
            double qbase = qv > 0.0 ? qv : minpos;
            double arel = 2e-6 + (isfinite(qbase) && qbase > 0.0 ? 3.0 * 0x1p-149 / qbase / N : 0.0);
            /* alpha = exp2(log2(xp)/N): lbq_log2f's 4 ulp of |log2 xp| (large when SOLO's 1e-12 clamp
             * makes xp tiny) carry into alpha's relative error times ln 2 / N */
            if (xp > 0.0 && xp < 1.0) arel += 4.0 * 0.6932 * ldexp(1.0, ilogb(fabs(log2(xp))) - 23) / N;
            if (!(fabs(alpha - aref) <= arel * aref) && !(aref == 0.0 && alpha == 0.0f)) BAD(bparam, lbl, "block %lld alpha %.9g want %.9g", (long long)(b0 / p->block), (double)alpha, aref);
            float lev[256];
            lev[0] = 1.0f;
            for (int k = 1; k <= N; k++) lev[k] = lev[k - 1] * alpha;
            for (int64_t i = b0; i < b0 + bn; i++) {
                if (!same_bits(r->sc[i], delta)) { BAD(bscale, lbl, "delta[%lld]=%a want %a", (long long)i, (double)r->sc[i], (double)delta); continue; }
                int c = r->codes[i];
                if (c > N) continue;
                if (!same_bits(r->xh[i], lev[c] * delta)) BAD(bval, lbl, "[%lld] %a vs alpha^%d*delta", (long long)i, (double)r->xh[i], c);
                float xn = norm_def(x[i], delta);
                int clo, chi;                          /* allowed codes */
                if (!(alpha < 1.0f) || (!guarded && !(alpha > 0.0f))) clo = chi = 0;   /* SOLO: NaN -> 0 */
                else if (!guarded && xn < 0.0f) clo = chi = 0;
                else if (!(xn > 0.0f)) clo = chi = N;
                else if (isinf(xn)) clo = chi = 0;          /* +Inf: log_alpha = -inf -> code 0 */
                else {
                    double li = log((double)xn) / log((double)alpha);
                    double tol = 1e-3 + 1e-5 * fabs(li);
                    /* SR: guarded floor(li + u), SOLO round(li + u - 0.5): both floor or ceil of li */
                    double a = sr ? floor(li - tol) : floor(li + 0.5 - tol), b = sr ? ceil(li + tol) : floor(li + 0.5 + tol);
                    if (a < 0) a = 0;
                    if (a > N) a = N;
                    if (b < 0) b = 0;
                    if (b > N) b = N;
                    clo = (int)a; chi = (int)b;
                }
                if (c < clo || c > chi) BAD(bround, lbl, "x[%lld]=%a xn=%a alpha %a code %d, want %d..%d", (long long)i, (double)x[i], (double)xn, (double)alpha, c, clo, chi);
            }
        }
    } else if (is_fp8(m) && !p->spec.dre) {              /* ---- plain FP8 ---- */
        int e5 = m == g_e5m2;
        float fmax = e5 ? 57344.0f : 448.0f;
        for (int64_t i = 0; i < n; i++) {
            /* torchao: max(absmax, 1e-12)/FMAX; ':coat': (absmax + 1e-20)/FMAX */
            float s = (p->spec.coat ? rs[i] + 1e-20f : fmaxf(rs[i], 1e-12f)) / fmax;
            if (!same_bits(r->sc[i], s)) { BAD(bscale, lbl, "fp8 scale[%lld]=%a want %a", (long long)i, (double)r->sc[i], (double)s); continue; }
            double v;
            int code = fp8_ref_round((double)norm_def(x[i], s), e5, &v);
            if (r->codes[i] != code) BAD(bround, lbl, "x[%lld]=%a s=%a code %#x want %#x", (long long)i, (double)x[i], (double)s, r->codes[i], code);
            if (!same_bits(r->xh[i], (float)v * s)) BAD(bval, lbl, "[%lld] %a vs %a", (long long)i, (double)r->xh[i], (double)((float)v * s));
        }
    } else if (is_fp8(m)) {                               /* ---- COAT DRE ---- */
        int e5 = m == g_e5m2;
        double fmax = e5 ? 57344.0 : 448.0;
        for (int64_t b0 = 0; b0 < n; b0 += p->block) {
            int64_t bn = b0 + p->block < n ? p->block : n - b0;
            /* the group max and min as COAT's kernel reduces them (its tree: test-worked.c) */
            float mx, mn;
            lbq_coat_group_stats(x + b0, bn, p->block, &mx, &mn);
            float M = mx + 1e-30f, m0 = mn + 1e-30f;
            double lr = log2((double)M / (double)m0);
            double kref = floor(log2(fmax * fmax / 2.0) / lr * 16.0) / 16.0;      /* no clamp */
            double k = r->bp[2 * (b0 / p->block)], g = r->bp[2 * (b0 / p->block) + 1];
            double gref = sqrt((double)M) * sqrt((double)m0);
            if (M == m0) {          /* k = inf: every element comes back as +-g (pow(., 1/inf) = 1) */
                if (!isinf(k)) BAD(bparam, lbl, "block %lld k %g want inf", (long long)(b0 / p->block), k);
                for (int64_t i = b0; i < b0 + bn; i++)
                    if (fabs((double)r->xh[i]) != g) BAD(bval, lbl, "[%lld] %g vs +-g %g (k = inf)", (long long)i, (double)r->xh[i], g);
                continue;
            }
            /* k is a floor of a ratio of float logs: accept the neighbour 1/16 step at a boundary */
            if (!(fabs(k - kref) <= 0.0625 + 1e-9 && fmod(k * 16.0, 1.0) == 0.0)) BAD(bparam, lbl, "block %lld k %g want %g", (long long)(b0 / p->block), k, kref);
            if (!(fabs(g - gref) <= 1e-6 * gref)) BAD(bparam, lbl, "block %lld g %g want %g", (long long)(b0 / p->block), g, gref);
            double s = r->sc[b0], sref = pow((double)M / g, k) / fmax;
            if (!(fabs(s - sref) <= 1e-4 * sref)) BAD(bscale, lbl, "block %lld s %g want %g", (long long)(b0 / p->block), s, sref);
            for (int64_t i = b0; i < b0 + bn; i++) {
                if (r->sc[i] != r->sc[b0]) BAD(bscale, lbl, "scale not constant in block at %lld", (long long)i);
                int c = r->codes[i];
                double rv = fp8_ref_decode(c & 0x7f, e5);
                double a = (x[i] == x[i]) ? fabs((double)x[i]) : 0.0;
                if (isinf(a)) {
                    if (rv != g_fp8[e5].v[g_fp8[e5].n - 1]) BAD(binf, lbl, "x[%lld]=%g code %#x", (long long)i, (double)x[i], c);
                    continue;
                }
                double y = pow(a / g, k) / s;           /* the value fp8 must round */
                double tol = fp8_ref_halfgap(y, e5) * (1 + 1e-9) + 1e-4 * y;
                if (y > g_fp8[e5].v[g_fp8[e5].n - 1]) tol += y - g_fp8[e5].v[g_fp8[e5].n - 1];
                if (!(fabs(rv - y) <= tol)) BAD(bround, lbl, "x[%lld]=%a y=%g code %#x (%g)", (long long)i, (double)x[i], y, c, rv);
                double back = rv > 0 ? pow(rv * s, 1.0 / k) * g : 0.0;
                if (signbit(x[i]) && x[i] == x[i]) back = -back;
                if (!(fabs(r->xh[i] - back) <= 2e-4 * fabs(back) + 0x1p-148)) BAD(bval, lbl, "[%lld] %g vs %g", (long long)i, (double)r->xh[i], back);
            }
        }
    }
    free(rs);
    CHECK_MSG(bfin.n == 0, "%s: %d %s", lbl, bfin.n, bfin.what);
    CHECK_MSG(bcode.n == 0, "%s: %d %s", lbl, bcode.n, bcode.what);
    CHECK_MSG(bscale.n == 0, "%s: %d %s", lbl, bscale.n, bscale.what);
    CHECK_MSG(bval.n == 0, "%s: %d %s", lbl, bval.n, bval.what);
    CHECK_MSG(bround.n == 0, "%s: %d %s", lbl, bround.n, bround.what);
    CHECK_MSG(bbound.n == 0, "%s: %d %s", lbl, bbound.n, bbound.what);
    CHECK_MSG(bparam.n == 0, "%s: %d %s", lbl, bparam.n, bparam.what);
    CHECK_MSG(binf.n == 0, "%s: %d %s", lbl, binf.n, binf.what);
}

static int64_t first_diff(const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++) if (!same_bits(a[i], b[i])) return i;
    return -1;
}
static int64_t first_diff_u8(const uint8_t *a, const uint8_t *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++) if (a[i] != b[i]) return i;
    return -1;
}

/* ================================================================================================
 * Properties of one plan on one shape
 * ============================================================================================== */
static int nparams_of(const struct lbq_qplan *p)
{
    return (p->spec.map->nparams && p->norm->blockwise) ? p->spec.map->nparams(&p->spec) : 0;
}

/* lbq_qdq over sub-ranges [off, off+len) (block-aligned for blockwise norms) == the whole call */
static void check_split(const struct lbq_qplan *p, const struct lbq_shape *sh, const float *x,
                        const struct qres *whole, const char *lbl)
{
    int64_t n = sh->numel;
    int np = nparams_of(p);
    struct qres r;
    if (!qres_alloc(&r, n)) { CHECK(0); return; }
    memset(r.bp, 0, sizeof(float) * (size_t)(2 * n + 2));
    struct lbq_tstats st;
    CHECK_OK(lbq_tstats_init(&st, sh));
    lbq_tstats_add(&st, 0, n, x);
    int ok = 1;
    for (int64_t off = 0; off < n;) {
        int64_t len;
        if (p->norm->blockwise) len = p->block * (1 + (int64_t)(t_uniform() * 3));
        else len = 1 + (int64_t)(t_uniform() * 200);
        if (off + len > n) len = n - off;
        float *bp = np ? r.bp + (off / p->block) * np : NULL;
        int rc = lbq_qdq(p, &st, off, len, x + off, r.xh + off, r.codes + off, r.sc + off, bp, NULL);
        if (rc) { ok = 0; fprintf(stderr, "  [%s] split at %lld+%lld: %s\n", lbl, (long long)off, (long long)len, lbq_errmsg()); break; }
        off += len;
    }
    int64_t d1 = first_diff(r.xh, whole->xh, n), d2 = first_diff_u8(r.codes, whole->codes, n), d3 = first_diff(r.sc, whole->sc, n);
    int64_t nb = p->norm->blockwise ? (n + p->block - 1) / p->block : 0;
    int64_t d4 = np ? first_diff(r.bp, whole->bp, nb * np) : -1;
    CHECK_MSG(ok && d1 < 0 && d2 < 0 && d3 < 0 && d4 < 0, "%s: sub-range qdq differs from the whole (xhat@%lld codes@%lld scale@%lld params@%lld)",
              lbl, (long long)d1, (long long)d2, (long long)d3, (long long)d4);
    if (p->norm->blockwise && p->block > 1 && n > p->block) {   /* a misaligned start is refused */
        int rc = lbq_qdq(p, &st, 1, n - 1, x + 1, r.xh, r.codes, r.sc, r.bp, NULL);
        CHECK_MSG(rc == LBQ_ERR_ARG, "%s: misaligned range start accepted (rc %d)", lbl, rc);
    }
    lbq_tstats_free(&st);
    qres_free(&r);
}

/* the largest element of every index of every dimension normalizes to exactly +-1 (rank-1) */
static void check_rank1_maxima(const struct lbq_qplan *p, const struct lbq_shape *sh, const float *x,
                               const struct qres *r, const char *lbl)
{
    int64_t off[LBQ_MAX_RANK], st[LBQ_MAX_RANK];
    float *mx = dim_maxima(sh, x, off);
    strides(sh, st);
    int bad = 0, exact_bad = 0, tested = 0;
    int top1 = p->spec.map->build && p->q[p->nlev - 1] == 1.0f && p->spec.round == LBQ_ROUND_NEAREST;
    for (int64_t i = 0; i < sh->numel; i++) {
        if (!isfinite(x[i]) || x[i] == 0.0f) continue;
        int is_max = 0;
        for (int d = 0; d < sh->rank; d++) if (fabsf(x[i]) == mx[off[d] + (i / st[d]) % sh->dim[d]]) is_max = 1;
        if (!is_max) continue;
        tested++;
        /* fp8 stores s = absmax / FMAX as its scale */
        float fmax = p->spec.map == g_e4m3 ? 448.0f : p->spec.map == g_e5m2 ? 57344.0f : 1.0f;
        float xn = fmax == 1.0f ? x[i] / r->sc[i] : (r->sc[i] == fabsf(x[i]) / fmax ? copysignf(1.0f, x[i]) : 0.0f);
        if (!(xn == 1.0f || xn == -1.0f)) { if (bad++ < MAXBAD) fprintf(stderr, "  [%s] max element %lld: x/s = %.9g\n", lbl, (long long)i, (double)xn); }
        if (top1 && x[i] > 0.0f && r->xh[i] != x[i]) exact_bad++;
    }
    free(mx);
    CHECK_MSG(tested > 0 && bad == 0, "%s: %d of %d row/column maxima do not normalize to +-1", lbl, bad, tested);
    CHECK_MSG(exact_bad == 0, "%s: %d positive row/column maxima not reproduced exactly", lbl, exact_bad);
}

static void check_size(const struct lbq_qplan *p, const struct lbq_shape *sh, const char *lbl)
{
    struct lbq_qsize qs;
    lbq_qplan_size(p, sh, &qs);
    int64_t nsc, nb = (sh->numel + p->block - 1) / p->block;
    if (p->norm == g_block) nsc = nb;
    else if (p->norm == g_tensor) nsc = 1;
    else if (p->norm == g_row) nsc = sh->dim[0];
    else if (p->norm == g_col) nsc = sh->dim[1];
    else { nsc = 0; for (int d = 0; d < sh->rank; d++) nsc += sh->dim[d]; }
    int64_t npar = 0;
    if (p->spec.map == g_log) npar = nb;
    if (is_fp8(p->spec.map) && p->spec.dre) npar = 2 * nb;
    CHECK_MSG(qs.code_bits == sh->numel * p->bits, "%s: code_bits %lld want %lld", lbl, (long long)qs.code_bits, (long long)(sh->numel * p->bits));
    CHECK_MSG(qs.scale_bits == 32 * nsc, "%s: scale_bits %lld want %lld", lbl, (long long)qs.scale_bits, (long long)(32 * nsc));
    CHECK_MSG(qs.param_bits == 32 * npar, "%s: param_bits %lld want %lld", lbl, (long long)qs.param_bits, (long long)(32 * npar));
    double bpe = (double)(sh->numel * p->bits + 32 * nsc + 32 * npar) / (double)sh->numel;
    CHECK_MSG(fabs(qs.bits_per_elem - bpe) <= 1e-12 * bpe, "%s: bits/elem %g want %g", lbl, qs.bits_per_elem, bpe);
}

/* Zero groups, outliers, denormals, NaN/Inf */
static void check_specials(const struct lbq_qplan *p, const struct lbq_shape *sh, const char *lbl0)
{
    int64_t n = sh->numel;
    char lbl[256];
    float *x = malloc(sizeof(float) * (size_t)n), *x0 = malloc(sizeof(float) * (size_t)n);
    struct qres r, r0;
    if (!x || !x0 || !qres_alloc(&r, n) || !qres_alloc(&r0, n)) { CHECK(0); return; }
    int64_t st[LBQ_MAX_RANK];
    strides(sh, st);

    /* all zero: exactly 0 everywhere (every scale is 0); SOLO's log map: 1e-12 everywhere (its
     * scale clamp, the all-zero edge case) */
    const int solo = p->spec.map == g_log && !p->spec.guarded;
    const float zval = solo ? 1e-12f : 0.0f;
    snprintf(lbl, sizeof lbl, "%s zeros", lbl0);
    for (int64_t i = 0; i < n; i++) x[i] = 0.0f;
    CHECK_OK(run_qdq(p, sh, x, &r));
    int nz = 0;
    /* COAT's expansion kernel: an all-zero group has k = inf and comes back as g = ~1e-30 */
    const int dre = p->spec.dre;
    for (int64_t i = 0; i < n; i++) if (dre ? !(fabsf(r.xh[i]) <= 2e-30f) : r.xh[i] != zval) nz++;
    CHECK_MSG(nz == 0, "%s: %d nonzero outputs", lbl, nz);
    check_result(p, sh, x, &r, lbl);

    /* one all-zero group inside nonzero data: that group dequantizes to exactly 0 */
    snprintf(lbl, sizeof lbl, "%s zero group", lbl0);
    gen_states(x, n, p->is_signed);
    for (int64_t i = 0; i < n; i++) if (x[i] == 0.0f) x[i] = 1e-3f;
    int64_t g0 = 0, g1 = 0;                 /* zero the elements i with g0 <= key(i) < g1 */
    int key_dim = -1;
    if (p->norm == g_block) { g0 = n > p->block ? p->block : 0; g1 = g0 + p->block; }
    else if (p->norm == g_row || p->norm == g_rank1) { key_dim = 0; g0 = sh->dim[0] > 1 ? 1 : 0; g1 = g0 + 1; }
    else if (p->norm == g_col) { key_dim = 1; g0 = 0; g1 = 1; }
    else { g0 = 0; g1 = n; }                /* tensor: the whole tensor is the group */
    for (int64_t i = 0; i < n; i++) {
        int64_t key = key_dim < 0 ? i : (i / st[key_dim]) % sh->dim[key_dim];
        if (key >= g0 && key < g1) x[i] = 0.0f;
    }
    CHECK_OK(run_qdq(p, sh, x, &r));
    nz = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t key = key_dim < 0 ? i : (i / st[key_dim]) % sh->dim[key_dim];
        if (key >= g0 && key < g1 && (dre ? !(fabsf(r.xh[i]) <= 2e-30f) : r.xh[i] != zval)) nz++;
    }
    CHECK_MSG(nz == 0, "%s: %d nonzero outputs in the zero group", lbl, nz);
    check_result(p, sh, x, &r, lbl);

    /* a single positive outlier */
    snprintf(lbl, sizeof lbl, "%s outlier", lbl0);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(1e-3 * (p->is_signed ? t_normal() : t_uniform()));
    int64_t k = n / 2;
    x[k] = 1e4f;
    CHECK_OK(run_qdq(p, sh, x, &r));
    check_result(p, sh, x, &r, lbl);
    if (p->spec.map->build || p->spec.map == g_log)  /* scale = the outlier, its level is 1 */
        CHECK_MSG(r.xh[k] == 1e4f, "%s: outlier -> %.9g", lbl, (double)r.xh[k]);
    else
        CHECK_MSG(fabs(r.xh[k] - 1e4) <= 1e4 * 2e-4, "%s: outlier -> %.9g", lbl, (double)r.xh[k]);

    /* denormal inputs (mixed with normal ones, then all denormal) */
    for (int pass = 0; pass < 2; pass++) {
        snprintf(lbl, sizeof lbl, "%s denormals%s", lbl0, pass ? " only" : "");
        for (int64_t i = 0; i < n; i++) {
            double mag = (pass || i % 3) ? ldexp(t_uniform(), -126 - (int)(t_uniform() * 23)) : 1e-30 * t_uniform();
            x[i] = (float)((p->is_signed && t_uniform() < 0.5) ? -mag : mag);
        }
        CHECK_OK(run_qdq(p, sh, x, &r));
        check_result(p, sh, x, &r, lbl);
    }

    /* NaN and +-Inf: valid codes, finite outputs, NaN acts exactly as 0, Inf saturates */
    snprintf(lbl, sizeof lbl, "%s NaN/Inf", lbl0);
    gen_states(x, n, p->is_signed);
    for (int64_t i = 0; i < n; i++) {
        x0[i] = x[i];
        if (i % 7 == 3) { x[i] = NAN; x0[i] = 0.0f; }
        else if (i % 11 == 5) x0[i] = x[i] = INFINITY;
        else if (i % 13 == 6) x0[i] = x[i] = -INFINITY;
    }
    CHECK_OK(run_qdq(p, sh, x, &r));
    CHECK_OK(run_qdq(p, sh, x0, &r0));
    check_result(p, sh, x, &r, lbl);
    CHECK_MSG(first_diff(r.xh, r0.xh, n) < 0 && first_diff_u8(r.codes, r0.codes, n) < 0,
              "%s: NaN is not quantized exactly as 0 (first difference at %lld)", lbl, (long long)first_diff(r.xh, r0.xh, n));
    /* every element non-finite: finite output; all-NaN gives exactly 0 */
    for (int pass = 0; pass < 3; pass++) {
        for (int64_t i = 0; i < n; i++) x[i] = pass == 0 ? NAN : pass == 1 ? INFINITY : (i & 1 ? -INFINITY : INFINITY);
        CHECK_OK(run_qdq(p, sh, x, &r));
        int bad = 0;
        for (int64_t i = 0; i < n; i++) if (!isfinite(r.xh[i]) || (pass == 0 && (dre ? !(fabsf(r.xh[i]) <= 2e-30f) : r.xh[i] != zval))) bad++;
        CHECK_MSG(bad == 0, "%s all-%s: %d bad outputs", lbl0, pass == 0 ? "NaN" : "Inf", bad);
    }
    qres_free(&r); qres_free(&r0);
    free(x); free(x0);
}

static void check_plan_on(const struct lbq_qplan *p, const struct lbq_shape *sh, const char *lbl, int specials)
{
    int64_t n = sh->numel;
    float *x = malloc(sizeof(float) * (size_t)n), *x2 = malloc(sizeof(float) * (size_t)n);
    struct qres r, r2;
    if (!x || !x2 || !qres_alloc(&r, n) || !qres_alloc(&r2, n)) { CHECK(0); return; }
    const struct lbq_map *m = p->spec.map;
    int table = m->build != NULL, sr = p->spec.round == LBQ_ROUND_STOCHASTIC;

    gen_states(x, n, p->is_signed);
    if (table && p->is_signed && p->q[0] != -1.0f) make_maxima_positive(x, sh, p->block);
    CHECK_OK(run_qdq(p, sh, x, &r));
    check_result(p, sh, x, &r, lbl);

    /* fixed point: table maps with nearest rounding.  The largest element of every scale group is
     * quantized to level +-1 (maxima made positive above where -1 is not a level), so re-computing
     * the scales from x^ gives the same scales, and x^/s is within an ulp of its level, far from any
     * decision midpoint: quantizing x^ again reproduces x^ bit for bit.  Not checked for: stochastic
     * rounding (an ulp above a level rounds up with a tiny probability), the log map (alpha is
     * recomputed from the quantile of x^, which differs from that of x), fp8 (absmax/448*448 need
     * not equal absmax, so the scale moves by an ulp). */
    if (table && !sr) {
        memcpy(x2, r.xh, sizeof(float) * (size_t)n);
        CHECK_OK(run_qdq(p, sh, x2, &r2));
        int64_t d = first_diff(r2.xh, r.xh, n);
        CHECK_MSG(d < 0, "%s: qdq(qdq(x)) != qdq(x) at %lld: %a -> %a (scale %a -> %a)", lbl, (long long)d,
                  d < 0 ? 0.0 : (double)r.xh[d], d < 0 ? 0.0 : (double)r2.xh[d], d < 0 ? 0.0 : (double)r.sc[d], d < 0 ? 0.0 : (double)r2.sc[d]);
    }

    check_split(p, sh, x, &r, lbl);

    /* a different seed gives different stochastic roundings (fp8 has no stochastic rounding).
     * Expected only when two independent draws agreeing everywhere is unlikely: the product over
     * elements strictly inside a gap (rounding-up probability p) of p^2 + (1-p)^2 is below 1e-6. */
    double p_same = 1.0;
    if (sr && table) {
        for (int64_t i = 0; i < n; i++) {
            float xn = norm_def(x[i], r.sc[i]);
            int lo, hi;
            bracket(p->q, p->nlev, xn, &lo, &hi);
            if (lo < 0 || hi >= p->nlev || !(p->q[lo] < xn && xn < p->q[hi])) continue;
            double pr = ((double)xn - p->q[lo]) / ((double)p->q[hi] - p->q[lo]);
            p_same *= pr * pr + (1 - pr) * (1 - pr);
        }
    } else if (sr && m == g_log) {
        int N = (1 << p->bits) - 1;
        for (int64_t i = 0; i < n; i++) {
            float alpha = r.bp[i / p->block], xn = norm_def(x[i], r.sc[i]);
            if (!(alpha < 1.0f) || !(xn > 0.0f)) continue;
            double li = log((double)xn) / log((double)alpha), fr = li - floor(li);
            if (li <= 0 || li >= N) continue;
            p_same *= fr * fr + (1 - fr) * (1 - fr);
        }
    }
    if (sr && (table || m == g_log) && p_same < 1e-6) {
        struct lbq_qplan p2 = *p;
        p2.spec.seed = p->spec.seed + 1;
        CHECK_OK(run_qdq(&p2, sh, x, &r2));
        CHECK_MSG(first_diff(r2.xh, r.xh, n) >= 0, "%s: seed %llu and %llu give identical results", lbl,
                  (unsigned long long)p->spec.seed, (unsigned long long)p2.spec.seed);
        check_result(&p2, sh, x, &r2, lbl);
    }

    if (p->norm == g_rank1) check_rank1_maxima(p, sh, x, &r, lbl);
    check_size(p, sh, lbl);
    if (specials) check_specials(p, sh, lbl);
    qres_free(&r); qres_free(&r2);
    free(x); free(x2);
}

/* ================================================================================================
 * The combination loop
 * ============================================================================================== */
static const struct lbq_shape g_shapes[] = {
    { 1, { 1 }, 1 }, { 1, { 3 }, 3 }, { 1, { 127 }, 127 }, { 1, { 129 }, 129 }, { 1, { 1023 }, 1023 },
    { 2, { 33, 65 }, 33 * 65 }, { 2, { 1, 7 }, 7 }, { 2, { 9, 13 }, 117 }, { 3, { 5, 7, 9 }, 315 },
};
static const int64_t g_blocks[] = { 64, 5, 128, 1, 64, 33, 2, 16, 7 };   /* per shape */
#define NSHAPES ((int)(sizeof g_shapes / sizeof g_shapes[0]))

static int g_combos, g_rejected;

static void combo_loop(void)
{
    for (int mi = 0; mi < lbq_map_count(); mi++) {
        const struct lbq_map *m = lbq_map_at(mi);
        if (m == g_file) continue;                        /* needs --map-file: test_file_map() */
        int b0 = m->fixed_bits ? m->fixed_bits : m->min_bits, b1 = m->fixed_bits ? m->fixed_bits : m->max_bits;
        for (int ni = 0; ni < lbq_norm_count(); ni++) {
            const struct lbq_norm *nm = lbq_norm_at(ni);
            for (int bits = b0; bits <= b1; bits++)
                for (int sg = 0; sg < 2; sg++)
                    for (int sr = 0; sr < 2; sr++)
                        for (int dre = 0; dre <= (is_fp8(m) || m == g_log ? 1 : 0); dre++)   /* log: :guarded */
                            for (int si = 0; si < NSHAPES; si++) {
                                const struct lbq_shape *sh = &g_shapes[si];
                                /* time budget (sanitizer builds): the two largest shapes at 1, 2, 4
                                 * and 8 bits only; every other shape at every width */
                                if (sh->numel > 1000 && !m->fixed_bits && !(bits == 1 || bits == 2 || bits == 4 || bits == 8)) continue;
                                char text[128], lbl[200], nname[48], bstr[8], shs[64];
                                if (nm->blockwise) snprintf(nname, sizeof nname, "%s%lld", nm->name, (long long)g_blocks[si]);
                                else snprintf(nname, sizeof nname, "%s", nm->name);
                                if (m->fixed_bits) bstr[0] = 0;
                                else snprintf(bstr, sizeof bstr, ":b%d", bits);
                                snprintf(text, sizeof text, "%s-%s%s%s%s%s", nname, m->name, bstr,
                                         sg ? ":signed" : ":unsigned", sr ? ":sr" : "", dre ? (m == g_log ? ":guarded" : ":dre") : "");
                                lbq_shape_str(sh, shs, sizeof shs);
                                snprintf(lbl, sizeof lbl, "%s %s", text, shs);
                                struct lbq_qdefaults d;
                                lbq_qdefaults_init(&d);
                                d.seed = 1234 + (uint64_t)si;
                                struct lbq_qspec s;
                                int rc = lbq_qspec_parse(text, &d, &s);
                                /* documented rejections at parse time */
                                int want_block = (m == g_log || (dre && is_fp8(m))) && !nm->blockwise;
                                int want_unsigned = m == g_log && sg;
                                if (want_block || want_unsigned) {
                                    CHECK_MSG(rc == LBQ_ERR_ARG && strstr(lbq_errmsg(), want_block ? "needs block" : "unsigned only"),
                                              "%s: want LBQ_ERR_ARG (%s), got %d: %s", lbl, want_block ? "needs block" : "unsigned only", rc, lbq_errmsg());
                                    g_rejected++;
                                    continue;
                                }
                                CHECK_MSG(rc == LBQ_OK, "%s: parse failed: %s", lbl, lbq_errmsg());
                                if (rc) continue;
                                struct lbq_qplan p;
                                rc = lbq_qplan_init(&p, &s, sg ? LBQ_ROLE_M : LBQ_ROLE_V, sh->rank);
                                if (m == g_uniform && sg && bits == 1) {   /* 2^1-1 = 1 level: undefined */
                                    CHECK_MSG(rc == LBQ_ERR_ARG && strstr(lbq_errmsg(), "not defined"), "%s: want 'not defined', got %d: %s", lbl, rc, lbq_errmsg());
                                    g_rejected++;
                                    continue;
                                }
                                CHECK_MSG(rc == LBQ_OK, "%s: plan failed: %s", lbl, lbq_errmsg());
                                if (rc) continue;
                                CHECK_EQ_INT(p.is_signed, sg);
                                CHECK_EQ_INT(p.bits, m->fixed_bits ? m->fixed_bits : bits);
                                /* effective normalization: rank1 on 1-D -> block128; row/col on 1-D -> tensor */
                                const struct lbq_norm *eff = nm;
                                int64_t eblock = g_blocks[si];
                                if (sh->rank < 2 && nm == g_rank1) { eff = g_block; eblock = 128; }
                                if (sh->rank < 2 && (nm == g_row || nm == g_col)) eff = g_tensor;
                                CHECK_MSG(p.norm == eff && (!eff->blockwise || p.block == eblock), "%s: effective norm %s/%lld, want %s/%lld",
                                          lbl, p.norm->name, (long long)p.block, eff->name, (long long)eblock);
                                g_combos++;
                                /* special inputs on one shape: [9, 13] where the normalization
                                 * uses the dimensions (rank1, row, col), else [129] */
                                int specials = (nm == g_rank1 || nm == g_row || nm == g_col) ? si == 7 : si == 3;
                                check_plan_on(&p, sh, lbl, specials);
                            }
        }
    }
}

/* fallbacks give exactly the fallback normalization's result */
static void test_fallbacks(void)
{
    const char *pairs[][2] = { { "rank1-dtree", "block128-dtree" }, { "rank1-linear:sr", "block128-linear:sr" },
                               { "row-linsq", "tensor-linsq" }, { "col-uniform:sr", "tensor-uniform:sr" },
                               { "rank1-fp8e4m3", "block128-fp8e4m3" } };
    struct lbq_shape sh = { 1, { 300 }, 300 };
    float x[300];
    struct qres a, b;
    qres_alloc(&a, 300); qres_alloc(&b, 300);
    for (int k = 0; k < 5; k++) {
        for (int role = 0; role < 2; role++) {
            gen_states(x, 300, role == LBQ_ROLE_M);
            struct lbq_qdefaults d;
            lbq_qdefaults_init(&d);
            d.block = 32;                                  /* rank1's fallback is block128 regardless */
            struct lbq_qspec s1, s2;
            struct lbq_qplan p1, p2;
            CHECK_OK(lbq_qspec_parse(pairs[k][0], &d, &s1));
            CHECK_OK(lbq_qspec_parse(pairs[k][1], &d, &s2));
            CHECK_OK(lbq_qplan_init(&p1, &s1, (enum lbq_role)role, 1));
            CHECK_OK(lbq_qplan_init(&p2, &s2, (enum lbq_role)role, 1));
            CHECK_OK(run_qdq(&p1, &sh, x, &a));
            CHECK_OK(run_qdq(&p2, &sh, x, &b));
            CHECK_MSG(first_diff(a.xh, b.xh, 300) < 0 && first_diff_u8(a.codes, b.codes, 300) < 0,
                      "%s on 1-D differs from %s", pairs[k][0], pairs[k][1]);
            /* on 2-D the fallback is not used */
            CHECK_OK(lbq_qplan_init(&p1, &s1, (enum lbq_role)role, 2));
            CHECK(p1.norm == s1.norm);
        }
    }
    qres_free(&a); qres_free(&b);
    /* sign from the role: m signed, v unsigned */
    struct lbq_qspec s;
    struct lbq_qplan p;
    CHECK_OK(lbq_qspec_parse("block128-dtree", NULL, &s));
    CHECK_EQ_INT(s.sign, -1);
    CHECK_OK(lbq_qplan_init(&p, &s, LBQ_ROLE_M, 2)); CHECK_EQ_INT(p.is_signed, 1);
    CHECK_OK(lbq_qplan_init(&p, &s, LBQ_ROLE_V, 2)); CHECK_EQ_INT(p.is_signed, 0);
    /* log for m (signed by role) is refused at plan time with a hint */
    CHECK_OK(lbq_qspec_parse("block128-log", NULL, &s));
    CHECK_EQ_INT(lbq_qplan_init(&p, &s, LBQ_ROLE_M, 2), LBQ_ERR_ARG);
    CHECK_MSG(strstr(lbq_errmsg(), "unsigned") != NULL, "log for m: %s", lbq_errmsg());
    /* scratch instead of a scale buffer; neither is an error; global norm without stats is an error */
    float xs[10] = { 1, -2, 3, -4, 5, 0.5f, -0.25f, 0, 7, 8 }, xh1[10], xh2[10], sc[10], scratch[10];
    CHECK_OK(lbq_qspec_parse("block4-dtree", NULL, &s));
    CHECK_OK(lbq_qplan_init(&p, &s, LBQ_ROLE_M, 1));
    CHECK_OK(lbq_qdq(&p, NULL, 0, 10, xs, xh1, NULL, sc, NULL, NULL));
    CHECK_OK(lbq_qdq(&p, NULL, 0, 10, xs, xh2, NULL, NULL, NULL, scratch));
    CHECK(memcmp(xh1, xh2, sizeof xh1) == 0);
    CHECK_EQ_INT(lbq_qdq(&p, NULL, 0, 10, xs, xh2, NULL, NULL, NULL, NULL), LBQ_ERR_ARG);
    CHECK_OK(lbq_qspec_parse("tensor-dtree", NULL, &s));
    CHECK_OK(lbq_qplan_init(&p, &s, LBQ_ROLE_M, 1));
    CHECK_EQ_INT(lbq_qdq(&p, NULL, 0, 10, xs, xh2, NULL, sc, NULL, NULL), LBQ_ERR_ARG);
}

/* ================================================================================================
 * Stochastic rounding is unbiased (table maps)
 * ============================================================================================== */
static void test_sr_unbiased(void)
{
    enum { N = 4096 };
    static float x[N], xh[N], xh2[N], sc[N];
    static uint8_t codes[N];
    int ngaps_tested = 0;
    for (int mi = 0; mi < lbq_map_count(); mi++) {
        const struct lbq_map *m = lbq_map_at(mi);
        if (!m->build || m == g_file) continue;
        for (int bits = m->min_bits; bits <= m->max_bits; bits++)
            for (int sg = 0; sg < 2; sg++) {
                char text[96];
                snprintf(text, sizeof text, "block%d-%s:b%d:sr:%s", N, m->name, bits, sg ? "signed" : "unsigned");
                struct lbq_qdefaults d;
                lbq_qdefaults_init(&d);
                d.seed = 99;
                struct lbq_qspec s;
                struct lbq_qplan p;
                CHECK_OK(lbq_qspec_parse(text, &d, &s));
                if (lbq_qplan_init(&p, &s, sg ? LBQ_ROLE_M : LBQ_ROLE_V, 1) != LBQ_OK) continue;  /* uniform s1 */
                /* three gaps: the first, the middle and the last between distinct levels */
                int gi[3] = { 0, p.nlev / 2 - 1, p.nlev - 2 };
                const double frac[3] = { 0.3, 0.5, 0.81 };
                for (int g = 0; g < 3; g++) {
                    int lo = gi[g] < 0 ? 0 : gi[g];
                    while (lo + 1 < p.nlev && p.q[lo + 1] == p.q[lo]) lo++;      /* skip duplicates */
                    if (lo + 1 >= p.nlev) continue;
                    double ql = p.q[lo], qh = p.q[lo + 1];
                    float xv = (float)(ql + frac[g] * (qh - ql));
                    if (!(xv > ql && xv < qh) || fabsf(xv) >= 1.0f) continue;
                    /* element 0 = 1.0 fixes the block scale at exactly 1, so x/s = x */
                    x[0] = 1.0f;
                    for (int i = 1; i < N; i++) x[i] = xv;
                    CHECK_OK(lbq_qdq(&p, NULL, 0, N, x, xh, codes, sc, NULL, NULL));
                    double sum = 0.0;
                    int outside = 0;
                    for (int i = 1; i < N; i++) {
                        sum += xh[i];
                        if (xh[i] != (float)ql && xh[i] != (float)qh) outside++;
                    }
                    double mean = sum / (N - 1), pr = ((double)xv - ql) / (qh - ql);
                    /* 4 sigma of the mean of N-1 Bernoulli(p) choices between ql and qh, plus the
                     * fp32 error of p computed as (x - q_lo)/(q_hi - q_lo) (a few ulp relative) */
                    double tol = 4.0 * (qh - ql) * sqrt(pr * (1.0 - pr) / (N - 1)) + 1e-6 * (qh - ql);
                    CHECK_MSG(outside == 0, "%s: %d SR outputs outside {q_lo, q_hi}", text, outside);
                    CHECK_MSG(fabs(mean - xv) <= tol, "%s gap %d: E[x^] = %.9g, x = %.9g, tol %.3g (p %.3f)", text, lo, mean, (double)xv, tol, pr);
                    ngaps_tested++;
                    /* another seed: different choices, also unbiased */
                    struct lbq_qplan p2 = p;
                    p2.spec.seed = 100;
                    CHECK_OK(lbq_qdq(&p2, NULL, 0, N, x, xh2, codes, sc, NULL, NULL));
                    CHECK_MSG(memcmp(xh, xh2, sizeof xh) != 0, "%s: seeds 99 and 100 agree", text);
                    /* exactly on a level: always that level */
                    for (int i = 1; i < N; i++) x[i] = (float)qh;
                    CHECK_OK(lbq_qdq(&p, NULL, 0, N, x, xh, codes, sc, NULL, NULL));
                    int off_level = 0;
                    for (int i = 1; i < N; i++) if (xh[i] != (float)qh) off_level++;
                    CHECK_MSG(off_level == 0, "%s: %d values exactly on a level moved", text, off_level);
                }
            }
    }
    CHECK(ngaps_tested > 100);
}

/* ================================================================================================
 * Tie rule through lbq_qdq (every table map, width and sign, so both the small-codebook and the
 * binary-search code paths): x/s exactly on an fp32 midpoint takes the lower level, the next float
 * above it the upper one.
 * ============================================================================================== */
static void test_ties(void)
{
    static float x[1 + 2 * 255], xh[1 + 2 * 255], sc[1 + 2 * 255];
    static uint8_t codes[1 + 2 * 255];
    int tested = 0;
    for (int mi = 0; mi < lbq_map_count(); mi++) {
        const struct lbq_map *m = lbq_map_at(mi);
        if (!m->build || m == g_file) continue;
        for (int bits = m->min_bits; bits <= m->max_bits; bits++)
            for (int sg = 0; sg < 2; sg++) {
                char text[80];
                snprintf(text, sizeof text, "tensor-%s:b%d:%s", m->name, bits, sg ? "signed" : "unsigned");
                struct lbq_qspec s;
                struct lbq_qplan p;
                CHECK_OK(lbq_qspec_parse(text, NULL, &s));
                if (lbq_qplan_init(&p, &s, sg ? LBQ_ROLE_M : LBQ_ROLE_V, 1) != LBQ_OK) continue;
                /* x[0] = 1 fixes the tensor scale at 1, so x/s = x exactly */
                int n = 1, nt = 0, lo_of[2 * 255];
                x[0] = 1.0f;
                for (int k = 0; k + 1 < p.nlev; k++) {
                    if (!(p.q[k] < p.q[k + 1])) continue;
                    float mid = (p.q[k] + p.q[k + 1]) * 0.5f;
                    if (!(mid > p.q[k] && mid < p.q[k + 1])) continue;      /* adjacent floats */
                    lo_of[nt++] = k; x[n++] = mid;
                    lo_of[nt++] = -(k + 1) - 1; x[n++] = nextafterf(mid, INFINITY);
                }
                struct lbq_shape sh = { 1, { n }, n };
                struct lbq_tstats st;
                CHECK_OK(lbq_tstats_init(&st, &sh));
                lbq_tstats_add(&st, 0, n, x);
                CHECK_OK(lbq_qdq(&p, &st, 0, n, x, xh, codes, sc, NULL, NULL));
                lbq_tstats_free(&st);
                int bad = 0;
                for (int j = 0; j < nt; j++) {
                    int want = lo_of[j] >= 0 ? lo_of[j] : -lo_of[j] - 1;
                    if (xh[1 + j] != p.q[want]) { if (bad++ < MAXBAD) fprintf(stderr, "  %s: x=%a -> %a, want q[%d]=%a\n", text, (double)x[1 + j], (double)xh[1 + j], want, (double)p.q[want]); }
                }
                CHECK_MSG(bad == 0, "%s: %d of %d midpoint cases violate the tie rule", text, bad, nt);
                tested += nt;
            }
    }
    CHECK(tested > 1000);
}

/* ================================================================================================
 * User codebook from a file (map 'file')
 * ============================================================================================== */
static char g_tmpdir[256];

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    if (!fp) { CHECK_MSG(0, "cannot write %s", path); return; }
    fputs(text, fp);
    fclose(fp);
}

static void test_file_map(void)
{
    char path[512], txt[8192];
    struct lbq_qdefaults d;
    struct lbq_qspec s;
    struct lbq_qplan p;
    lbq_qdefaults_init(&d);

    /* without --map-file */
    CHECK_EQ_INT(lbq_qspec_parse("block128-file", &d, &s), LBQ_ERR_ARG);
    CHECK_MSG(strstr(lbq_errmsg(), "--map-file") != NULL, "%s", lbq_errmsg());

    /* 5 levels, separators and comments, unsorted: bits = ceil(log2 5) = 3 */
    snprintf(path, sizeof path, "%s/levels5.txt", g_tmpdir);
    write_text(path, "# a user codebook\n0.25, -1 1\t0  # zero\n-0.5\n");
    d.map_file = path;
    const float want5[5] = { -1.0f, -0.5f, 0.0f, 0.25f, 1.0f };
    for (int sr = 0; sr < 2; sr++)
        for (int ni = 0; ni < lbq_norm_count(); ni++) {
            const struct lbq_norm *nm = lbq_norm_at(ni);
            char text[64];
            snprintf(text, sizeof text, "%s%s-file%s", nm->name, nm->blockwise ? "16" : "", sr ? ":sr" : "");
            CHECK_OK(lbq_qspec_parse(text, &d, &s));
            for (int si = 0; si < NSHAPES; si++) {
                for (int role = 0; role < 2; role++) {
                    CHECK_OK(lbq_qplan_init(&p, &s, (enum lbq_role)role, g_shapes[si].rank));
                    CHECK_EQ_INT(p.nlev, 5);
                    CHECK_EQ_INT(p.bits, 3);
                    for (int i = 0; i < 5; i++) CHECK(p.q[i] == want5[i]);
                    char lbl[200], shs[64];
                    lbq_shape_str(&g_shapes[si], shs, sizeof shs);
                    snprintf(lbl, sizeof lbl, "%s (file, %s) %s", text, role ? "v" : "m", shs);
                    check_plan_on(&p, &g_shapes[si], lbl, si == 3 || si == 7);
                }
            }
        }
    /* level counts -> bits */
    const int counts[] = { 2, 3, 4, 5, 16, 17, 129, 256 }, wantb[] = { 1, 2, 2, 3, 4, 5, 8, 8 };
    for (int k = 0; k < 8; k++) {
        int o = 0;
        for (int i = 0; i < counts[k]; i++) o += snprintf(txt + o, sizeof txt - (size_t)o, "%.9g\n", -1.0 + 2.0 * i / (counts[k] - 1));
        snprintf(path, sizeof path, "%s/levels-n%d.txt", g_tmpdir, counts[k]);
        write_text(path, txt);
        d.map_file = path;
        CHECK_OK(lbq_qspec_parse("block64-file", &d, &s));
        CHECK_OK(lbq_qplan_init(&p, &s, LBQ_ROLE_M, 1));
        CHECK_EQ_INT(p.nlev, counts[k]);
        CHECK_MSG(p.bits == wantb[k], "%d levels: bits %d want %d", counts[k], p.bits, wantb[k]);
        struct lbq_qsize qs;
        struct lbq_shape sh = { 1, { 1000 }, 1000 };
        lbq_qplan_size(&p, &sh, &qs);
        CHECK_EQ_INT(qs.code_bits, 1000 * wantb[k]);
    }
    /* ':nz' on a file map with a zero level, including a duplicated zero */
    const char *zfiles[] = { "-1 0 0.5 1", "0 0.5 1", "0 0 0.5 1", "-1 0 0 1", "-1 -0 0.25 1" };
    for (int k = 0; k < 5; k++) {
        snprintf(path, sizeof path, "%s/levels-z%d.txt", g_tmpdir, k);
        write_text(path, zfiles[k]);
        d.map_file = path;
        CHECK_OK(lbq_qspec_parse("block64-file:nz", &d, &s));
        CHECK_OK(lbq_qplan_init(&p, &s, LBQ_ROLE_M, 1));
        int zeros = 0;
        for (int i = 0; i < p.nlev; i++) if (p.q[i] == 0.0f) zeros++;
        CHECK_MSG(zeros == 0, "file map '%s' with :nz still has %d zero level(s)", zfiles[k], zeros);
    }
    /* errors: missing file (I/O), bad level, out of range, one level, 257 levels */
    struct { const char *content; int status; const char *msg; } errs[] = {
        { NULL, LBQ_ERR_IO, "cannot open" },
        { "0 0.5 abc 1", LBQ_ERR_ARG, "abc" },
        { "0 0.5 1.5", LBQ_ERR_ARG, "1.5" },
        { "-2 0 1", LBQ_ERR_ARG, "-2" },
        { "0.5", LBQ_ERR_ARG, "at least 2" },
        { "# nothing\n", LBQ_ERR_ARG, "at least 2" },
        { "0 nan 1", LBQ_ERR_ARG, "nan" },
        { NULL, LBQ_ERR_ARG, "more than 256" },
    };
    for (int k = 0; k < (int)(sizeof errs / sizeof errs[0]); k++) {
        snprintf(path, sizeof path, "%s/bad%d.txt", g_tmpdir, k);
        if (errs[k].content) write_text(path, errs[k].content);
        else if (errs[k].status == LBQ_ERR_ARG) {
            int o = 0;
            for (int i = 0; i < 257; i++) o += snprintf(txt + o, sizeof txt - (size_t)o, "%.6f ", i / 256.0);
            write_text(path, txt);
        }
        d.map_file = path;
        /* the levels file is read when the spec is parsed (its bitwidth follows from the count) */
        int rc = lbq_qspec_parse("block64-file", &d, &s);
        if (rc == LBQ_OK) rc = lbq_qplan_init(&p, &s, LBQ_ROLE_M, 1);
        CHECK_MSG(rc == errs[k].status && strstr(lbq_errmsg(), errs[k].msg) && strstr(lbq_errmsg(), path),
                  "map file case %d: rc %d, message '%s' (want %d, '%s' and the path)", k, rc, lbq_errmsg(), errs[k].status, errs[k].msg);
    }
}

/* ================================================================================================
 * Tensor statistics accumulated in pieces equal the whole
 * ============================================================================================== */
static void test_tstats_pieces(void)
{
    for (int si = 0; si < NSHAPES; si++) {
        const struct lbq_shape *sh = &g_shapes[si];
        int64_t n = sh->numel;
        float *x = malloc(sizeof(float) * (size_t)n);
        gen_states(x, n, 1);
        if (n > 5) { x[2] = NAN; x[4] = -INFINITY; }
        struct lbq_tstats whole, part, a, b;
        CHECK_OK(lbq_tstats_init(&whole, sh));
        CHECK_OK(lbq_tstats_init(&part, sh));
        CHECK_OK(lbq_tstats_init(&a, sh));
        CHECK_OK(lbq_tstats_init(&b, sh));
        lbq_tstats_add(&whole, 0, n, x);
        for (int64_t off = 0; off < n;) {
            int64_t len = 1 + (int64_t)(t_uniform() * 37);
            if (off + len > n) len = n - off;
            lbq_tstats_add(&part, off, len, x + off);
            off += len;
        }
        int64_t h = n / 3;
        lbq_tstats_add(&a, 0, h, x);
        lbq_tstats_add(&b, h, n - h, x + h);
        lbq_tstats_merge(&a, &b);
        /* reference */
        float am = 0.0f;
        int64_t nf = 0;
        for (int64_t i = 0; i < n; i++) { if (!isfinite(x[i])) nf++; else if (fabsf(x[i]) > am) am = fabsf(x[i]); }
        int64_t off[LBQ_MAX_RANK];
        float *mx = sh->rank >= 2 ? dim_maxima(sh, x, off) : NULL;
        const struct lbq_tstats *all[3] = { &whole, &part, &a };
        for (int k = 0; k < 3; k++) {
            const struct lbq_tstats *t = all[k];
            CHECK_MSG(t->absmax == am && t->nonfinite == nf && t->seen == n, "tstats %d shape %d: absmax %g/%g nonfinite %lld/%lld seen %lld",
                      k, si, (double)t->absmax, (double)am, (long long)t->nonfinite, (long long)nf, (long long)t->seen);
            if (mx) {
                int bad = 0;
                for (int d = 0; d < sh->rank; d++)
                    for (int64_t j = 0; j < sh->dim[d]; j++) if (t->dimmax[d][j] != mx[off[d] + j]) bad++;
                CHECK_MSG(bad == 0, "tstats %d shape %d: %d per-dimension maxima differ", k, si, bad);
            }
        }
        lbq_tstats_reset(&part);
        CHECK(part.absmax == 0.0f && part.seen == 0 && part.nonfinite == 0);
        free(mx);
        lbq_tstats_free(&whole); lbq_tstats_free(&part); lbq_tstats_free(&a); lbq_tstats_free(&b);
        free(x);
    }
    lbq_tstats_free(NULL);
}

/* ================================================================================================
 * FP8 encode/decode and rounding
 * ============================================================================================== */
static void test_fp8(void)
{
    for (int e5 = 0; e5 < 2; e5++) {
        const char *nm = e5 ? "e5m2" : "e4m3";
        /* every code: value against the reference decoding; bits(value(c)) == c for finite codes */
        int bad_val = 0, bad_rt = 0, nfin = 0;
        for (int c = 0; c < 256; c++) {
            if (!fp8_code_finite(c, e5)) continue;
            nfin++;
            float v = lbq_fp8_value(c, e5);
            double ref = fp8_ref_decode(c, e5);
            if (!((double)v == ref && (signbit(v) != 0) == ((c & 0x80) != 0))) { if (bad_val++ < MAXBAD) fprintf(stderr, "  %s value(%#x) = %a want %a\n", nm, c, (double)v, ref); }
            if (lbq_fp8_bits(v, e5) != c) { if (bad_rt++ < MAXBAD) fprintf(stderr, "  %s bits(value(%#x)) = %#x\n", nm, c, lbq_fp8_bits(v, e5)); }
        }
        CHECK_EQ_INT(nfin, e5 ? 256 - 8 : 256 - 2);          /* e4m3fn: 0x7f, 0xff NaN; e5m2: exponent 31 */
        CHECK_MSG(bad_val == 0, "%s: %d code values differ from the OCP definition", nm, bad_val);
        CHECK_MSG(bad_rt == 0, "%s: %d codes do not round-trip", nm, bad_rt);
        CHECK(lbq_fp8_value(0x80, e5) == 0.0f && signbit(lbq_fp8_value(0x80, e5)));
        CHECK_EQ_INT(lbq_fp8_bits(-0.0f, e5), 0x80);
        CHECK_EQ_INT(lbq_fp8_bits(0.0f, e5), 0);

        /* rounding: grid points, midpoints (ties to even), an ulp either side, random values */
        const struct fp8ref *g = &g_fp8[e5];
        double maxv = g->v[g->n - 1];
        CHECK(maxv == (e5 ? 57344.0 : 448.0));
        int bad = 0, ties = 0, tested = 0;
        float cases[8];
        for (int i = 0; i < g->n; i++) {
            int nc = 0;
            cases[nc++] = (float)g->v[i];
            if (i + 1 < g->n) {
                float mid = (float)(0.5 * (g->v[i] + g->v[i + 1]));   /* exact in fp32 */
                cases[nc++] = mid;
                cases[nc++] = nextafterf(mid, 0.0f);
                cases[nc++] = nextafterf(mid, INFINITY);
                ties++;
            }
            cases[nc++] = nextafterf((float)g->v[i], INFINITY);
            for (int k = 0; k < nc; k++)
                for (int sgn = 0; sgn < 2; sgn++) {
                    float xv = sgn ? -cases[k] : cases[k];
                    double rv;
                    fp8_ref_round(xv, e5, &rv);
                    float got = lbq_fp8_round(xv, e5);
                    tested++;
                    if (!((double)got == rv && (signbit(got) != 0) == (signbit(rv) != 0))) { if (bad++ < MAXBAD) fprintf(stderr, "  %s round(%a) = %a want %a\n", nm, (double)xv, (double)got, rv); }
                    else if (got == got && lbq_fp8_bits(got, e5) != fp8_ref_round(xv, e5, &rv)) { if (bad++ < MAXBAD) fprintf(stderr, "  %s bits(round(%a))\n", nm, (double)xv); }
                }
        }
        /* ties went to the even code: check one explicitly (between codes 1 and 2, and 0x3c/0x3d) */
        CHECK(lbq_fp8_round((float)(0.5 * (fp8_ref_decode(1, e5) + fp8_ref_decode(2, e5))), e5) == (float)fp8_ref_decode(2, e5));
        CHECK(lbq_fp8_round((float)(0.5 * (fp8_ref_decode(2, e5) + fp8_ref_decode(3, e5))), e5) == (float)fp8_ref_decode(2, e5));
        CHECK(lbq_fp8_round((float)(0.5 * fp8_ref_decode(1, e5)), e5) == 0.0f);
        for (int k = 0; k < 200000; k++) {
            float xv = (float)((t_uniform() < 0.5 ? -1 : 1) * ldexp(1.0 + t_uniform(), (int)(t_uniform() * 50) - 30));
            double rv;
            fp8_ref_round(xv, e5, &rv);
            float got = lbq_fp8_round(xv, e5);
            tested++;
            if (!((double)got == rv && (signbit(got) != 0) == (signbit(rv) != 0))) { if (bad++ < MAXBAD) fprintf(stderr, "  %s round(%a) = %a want %a\n", nm, (double)xv, (double)got, rv); }
        }
        CHECK_MSG(bad == 0, "%s: %d of %d roundings differ from round-to-nearest-even", nm, bad, tested);
        CHECK(ties == g->n - 1);
        /* saturation */
        const float big[] = { (float)maxv, nextafterf((float)maxv, INFINITY), (float)(maxv * 1.0625), (float)(maxv * 1.125),
                              (float)(maxv * 2), 1e30f, FLT_MAX, INFINITY };
        for (int k = 0; k < 8; k++) {
            CHECK_MSG(lbq_fp8_round(big[k], e5) == (float)maxv, "%s round(%g) = %g", nm, (double)big[k], (double)lbq_fp8_round(big[k], e5));
            CHECK(lbq_fp8_round(-big[k], e5) == -(float)maxv);
        }
        CHECK(lbq_fp8_round(NAN, e5) == 0.0f);
        CHECK(lbq_fp8_round(0.0f, e5) == 0.0f && !signbit(lbq_fp8_round(0.0f, e5)));
        CHECK(lbq_fp8_round(-0.0f, e5) == 0.0f && signbit(lbq_fp8_round(-0.0f, e5)));
        CHECK(lbq_fp8_round(1e-30f, e5) == 0.0f);
    }
}

/* ================================================================================================
 * qcore deterministic math
 * ============================================================================================== */
/* error of f against the exact value d, in units of the fp32 spacing at d */
static double ulp_err(float f, double d)
{
    if (f == d) return 0.0;
    float df = (float)d;
    double u = ulpf(df);
    if (fabs(d) < (double)fabsf(df)) u = ulpf(nextafterf(df, 0.0f));   /* just below a power of two */
    return fabs((double)f - d) / u;
}

static void test_qcore_math(void)
{
    /* log2: all positive finite floats sampled uniformly in bit pattern (so every binade) */
    double worst = 0.0; float wx = 0;
    for (int k = 0; k < 400000; k++) {
        uint32_t u = 1u + (uint32_t)(t_uniform() * (double)0x7f7fffffu);
        float x = lbq_u2f(u);
        double e = ulp_err(lbq_log2f(x), log2((double)x));
        if (e > worst) { worst = e; wx = x; }
    }
    for (uint32_t u = 0x3f000000u; u < 0x40000000u; u += 7) {    /* [0.5, 2) densely: the worst binades */
        float x = lbq_u2f(u);
        double e = ulp_err(lbq_log2f(x), log2((double)x));
        if (e > worst) { worst = e; wx = x; }
    }
    for (int k = -2000; k <= 2000; k++) {                       /* around 1 and sqrt(2) */
        float x1 = 1.0f + (float)k * 0x1p-23f, x2 = 1.41421356f + (float)k * 0x1p-23f;
        double e = ulp_err(lbq_log2f(x1), log2((double)x1));
        if (e > worst) { worst = e; wx = x1; }
        e = ulp_err(lbq_log2f(x2), log2((double)x2));
        if (e > worst) { worst = e; wx = x2; }
    }
    CHECK_MSG(worst <= 4.0, "lbq_log2f: %.2f ulp at x = %a (documented: about 2 ulp)", worst, (double)wx);
    printf("lbq_log2f: max error %.2f ulp\n", worst);
    for (int k = -149; k <= 127; k++) CHECK_MSG(lbq_log2f(lbq_pow2i(k)) == (float)k, "log2(2^%d)", k);
    CHECK(lbq_log2f(0.0f) == -INFINITY);
    CHECK(isnan(lbq_log2f(-1.0f)));
    CHECK(isnan(lbq_log2f(NAN)));
    CHECK(lbq_log2f(INFINITY) == INFINITY);

    /* exp2 over the whole range, including subnormal results */
    worst = 0.0; wx = 0;
    for (int k = 0; k < 400000; k++) {
        float y = (k & 1) ? (float)(-149.0 + t_uniform() * 276.99) : (float)((t_uniform() - 0.5) * ldexp(1.0, -(int)(t_uniform() * 30)));
        double e = ulp_err(lbq_exp2f(y), exp2((double)y));
        if (e > worst) { worst = e; wx = y; }
    }
    CHECK_MSG(worst <= 4.0, "lbq_exp2f: %.2f ulp at y = %a (documented: about 2 ulp)", worst, (double)wx);
    printf("lbq_exp2f: max error %.2f ulp\n", worst);
    for (int k = -149; k <= 127; k++) CHECK_MSG(lbq_exp2f((float)k) == (float)ldexp(1.0, k), "exp2(%d)", k);
    CHECK(lbq_exp2f(128.0f) == INFINITY);
    CHECK(lbq_exp2f(-151.0f) == 0.0f);
    CHECK(isnan(lbq_exp2f(NAN)));
    CHECK(lbq_pow2i(128) == INFINITY && lbq_pow2i(-150) == 0.0f && lbq_pow2i(-149) == 0x1p-149f && lbq_pow2i(0) == 1.0f);

    /* pow: x^k = 2^(k log2 x).  Error budget from the two steps: log2's error (4 ulp of log2 x)
     * times k, plus rounding y = k*log2(x) to fp32 (half an ulp of y), both scaled by ln 2 into a
     * relative error of the result, plus exp2's 4 ulp. */
    const float ks[] = { 0.0625f, 0.25f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 7.25f, 16.0f, 64.0f, 1.0f / 3.0f };
    int badp = 0;
    for (int k = 0; k < 200000; k++) {
        float kk = ks[k % 11];
        float x = (float)ldexp(1.0 + t_uniform(), (int)(t_uniform() * 60) - 30);
        double ref = pow((double)x, (double)kk);
        if (!(ref > 1e-37 && ref < 1e37)) continue;
        double l2 = log2((double)x), y = kk * l2;
        double relbudget = 0.69314718055994531 * (kk * 4.0 * ulpf((float)l2) + 0.5 * ulpf((float)y)) + 4.0 * 0x1p-23;
        float got = lbq_powf_pos(x, kk);
        if (!(fabs(got - ref) <= relbudget * ref)) { if (badp++ < MAXBAD) fprintf(stderr, "  powf_pos(%a, %g) = %a want %a\n", (double)x, (double)kk, (double)got, ref); }
    }
    CHECK_MSG(badp == 0, "lbq_powf_pos: %d results outside the error budget", badp);
    CHECK(lbq_powf_pos(0.0f, 2.0f) == 0.0f);
    CHECK(lbq_powf_pos(1.0f, 7.0f) == 1.0f);
    CHECK(lbq_powf_pos(4.0f, 0.5f) == 2.0f);
}

/* Philox4x32-10 written from Salmon et al. (SC'11) / Random123, checked on its known answers */
static void philox_ref(const uint32_t ctr_in[4], const uint32_t key_in[2], uint32_t out[4])
{
    uint32_t c[4] = { ctr_in[0], ctr_in[1], ctr_in[2], ctr_in[3] }, k[2] = { key_in[0], key_in[1] };
    for (int r = 0; r < 10; r++) {
        if (r > 0) { k[0] += 0x9E3779B9u; k[1] += 0xBB67AE85u; }
        uint64_t p0 = (uint64_t)0xD2511F53u * c[0], p1 = (uint64_t)0xCD9E8D57u * c[2];
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k[0], n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k[1], n3 = (uint32_t)p0;
        c[0] = n0; c[1] = n1; c[2] = n2; c[3] = n3;
    }
    memcpy(out, c, sizeof c);
}

static void test_philox(void)
{
    /* Random123 kat_vectors, philox4x32 10 */
    const uint32_t kat[3][10] = {
        { 0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 },
        { 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd },
        { 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1 },
    };
    for (int k = 0; k < 3; k++) {
        uint32_t out[4];
        philox_ref(kat[k], kat[k] + 4, out);
        CHECK_MSG(memcmp(out, kat[k] + 6, sizeof out) == 0, "reference Philox KAT %d", k);
    }
    /* lbq_philox_uniform: counter (index lo, index hi, stream, 0x6c62710a), key = seed; the top 24
     * bits of the first output word, times 2^-24 */
    int bad = 0;
    for (int k = 0; k < 20000; k++) {
        uint64_t seed = (k % 3 == 0) ? (uint64_t)k : ((uint64_t)(t_uniform() * 4294967296.0) << 32) ^ (uint64_t)(t_uniform() * 4294967296.0);
        uint32_t stream = (uint32_t)(k % 5);
        uint64_t idx = (k % 2) ? (uint64_t)k : ((uint64_t)(t_uniform() * 4294967296.0) << 32) | (uint64_t)(t_uniform() * 4294967296.0);
        uint32_t ctr[4] = { (uint32_t)idx, (uint32_t)(idx >> 32), stream, 0x6c62710au }, key[2] = { (uint32_t)seed, (uint32_t)(seed >> 32) }, out[4];
        philox_ref(ctr, key, out);
        float want = (float)(out[0] >> 8) * 0x1p-24f;
        if (lbq_philox_uniform(seed, stream, idx) != want) bad++;
    }
    CHECK_MSG(bad == 0, "lbq_philox_uniform differs from Philox4x32-10 in %d cases", bad);

    /* range and uniformity: chi-square over 256 bins, N = 2^20.  Threshold: the 1 - 1e-6 quantile
     * of chi2(255) by Wilson-Hilferty, z = 4.753. */
    enum { NB = 256, NS = 1 << 20 };
    static long hist[NB];
    memset(hist, 0, sizeof hist);
    int out_of_range = 0, not_grid = 0;
    double s1 = 0, s12 = 0, prev = 0;
    for (int i = 0; i < NS; i++) {
        float u = lbq_philox_uniform(42, 1, (uint64_t)i);
        if (!(u >= 0.0f && u < 1.0f)) { out_of_range++; continue; }
        if (u * 16777216.0f != floorf(u * 16777216.0f)) not_grid++;
        hist[(int)(u * NB)]++;
        s1 += u; s12 += (double)u * prev; prev = u;
    }
    double e = (double)NS / NB, chi = 0;
    for (int b = 0; b < NB; b++) chi += (hist[b] - e) * (hist[b] - e) / e;
    double df = NB - 1, z = 4.753, thr = df * pow(1.0 - 2.0 / (9.0 * df) + z * sqrt(2.0 / (9.0 * df)), 3.0);
    CHECK_EQ_INT(out_of_range, 0);
    CHECK_EQ_INT(not_grid, 0);
    CHECK_MSG(chi < thr, "Philox chi-square %.1f >= %.1f (255 dof, p = 1e-6)", chi, thr);
    printf("philox: chi-square %.1f (threshold %.1f)\n", chi, thr);
    double mean = s1 / NS, corr = (s12 / (NS - 1) - mean * mean) / (1.0 / 12.0);
    CHECK_MSG(fabs(mean - 0.5) < 5.0 * sqrt(1.0 / 12.0 / NS), "Philox mean %.6f", mean);
    CHECK_MSG(fabs(corr) < 5.0 / sqrt((double)NS), "Philox lag-1 correlation %.5f", corr);
    /* streams and seeds are different sequences */
    int same_stream = 0, same_seed = 0;
    for (int i = 0; i < 1000; i++) {
        if (lbq_philox_uniform(42, 0, (uint64_t)i) == lbq_philox_uniform(42, 1, (uint64_t)i)) same_stream++;
        if (lbq_philox_uniform(42, 0, (uint64_t)i) == lbq_philox_uniform(43, 0, (uint64_t)i)) same_seed++;
    }
    CHECK(same_stream < 5 && same_seed < 5);
}

/* ================================================================================================
 * Bit packing
 * ============================================================================================== */
static void test_pack(void)
{
    const int64_t lens[] = { 1, 2, 3, 7, 9, 127, 129, 1023 };
    for (int bits = 1; bits <= 8; bits++)
        for (int li = 0; li < 8; li++) {
            int64_t n = lens[li], nb = (n * bits + 7) / 8;
            uint8_t *codes = malloc((size_t)n), *back = malloc((size_t)n);
            uint8_t *packed = malloc((size_t)nb), *ref = calloc((size_t)nb, 1);
            for (int64_t i = 0; i < n; i++) codes[i] = (uint8_t)(t_uniform() * (1 << bits));
            if (n > 2) { codes[0] = 0; codes[n - 1] = (uint8_t)((1 << bits) - 1); }
            /* reference: element i's bit j is stream bit i*b + j; stream bit t is bit t%8 of byte t/8 */
            for (int64_t i = 0; i < n; i++)
                for (int j = 0; j < bits; j++)
                    if (codes[i] >> j & 1) ref[(i * bits + j) / 8] |= (uint8_t)(1u << ((i * bits + j) % 8));
            memset(packed, 0xA5, (size_t)nb);                  /* lbq_pack must clear the output */
            lbq_pack(codes, n, bits, packed);
            CHECK_MSG(memcmp(packed, ref, (size_t)nb) == 0, "pack bits %d n %lld differs from the bit-stream definition", bits, (long long)n);
            memset(back, 0xA5, (size_t)n);
            lbq_unpack(packed, n, bits, back);
            CHECK_MSG(memcmp(back, codes, (size_t)n) == 0, "unpack(pack()) bits %d n %lld", bits, (long long)n);
            free(codes); free(back); free(packed); free(ref);
        }
    /* 4-bit: even element in the low nibble (lpmm) */
    uint8_t c4[3] = { 0x1, 0x2, 0xF }, p4[2];
    lbq_pack(c4, 3, 4, p4);
    CHECK_EQ_INT(p4[0], 0x21);
    CHECK_EQ_INT(p4[1], 0x0F);
}

/* lbq_qplan_zero_floor by its definition, on every registered map at every bitwidth it takes (v role,
 * block 128, nearest): in a block whose scale is 1, a value 1% under the floor dequantizes to exactly
 * 0 and a value 1% over it does not; a floor of 0 means even 1e-30 stays non-zero. */
static void test_zero_floor(void)
{
    int checked = 0, with_zero = 0;
    for (int mi = 0; mi < lbq_map_count(); mi++) {
        const struct lbq_map *m = lbq_map_at(mi);
        if (m->user_levels) continue;
        for (int b = m->min_bits; b <= m->max_bits && b <= 8; b++) {
            char text[96];
            struct lbq_qdefaults d;
            struct lbq_qspec sp;
            struct lbq_qplan pl;
            lbq_qdefaults_init(&d);
            snprintf(text, sizeof text, "block128-%s:b%d", m->name, b);
            if (!lbq_qspec_supported(text, &d, &sp) || !lbq_qplan_supported(&pl, &sp, LBQ_ROLE_V, 1)) continue;
            double z = lbq_qplan_zero_floor(&pl);
            struct lbq_shape sh = { 1, { 2 }, 2 };
            struct qres r;
            if (!qres_alloc(&r, 2)) { CHECK(0); return; }
            float lo[2] = { 1.0f, (float)(z * 0.99) }, hi[2] = { 1.0f, (float)(z * 1.01) }, tiny[2] = { 1.0f, 1e-30f };
            checked++;
            if (z > 0) {
                with_zero++;
                CHECK_MSG(z < 1.0, "%s: zero floor %g", text, z);
                CHECK(run_qdq(&pl, &sh, lo, &r) == LBQ_OK);
                CHECK_MSG(r.xh[1] == 0.0f, "%s: %g (0.99 x its zero floor %g) dequantizes to %g, not 0", text, (double)lo[1], z, (double)r.xh[1]);
                CHECK(run_qdq(&pl, &sh, hi, &r) == LBQ_OK);
                CHECK_MSG(r.xh[1] != 0.0f, "%s: %g (1.01 x its zero floor %g) dequantizes to 0", text, (double)hi[1], z);
            } else {
                CHECK(run_qdq(&pl, &sh, tiny, &r) == LBQ_OK);
                CHECK_MSG(r.xh[1] != 0.0f, "%s: zero floor 0, but 1e-30 dequantizes to 0", text);
            }
            qres_free(&r);
        }
    }
    printf("zero floor: %d plans, %d with a zero level\n", checked, with_zero);
    CHECK(checked > 40 && with_zero > 10);
}

int main(void)
{
    g_log = lbq_map_find("log"); g_e4m3 = lbq_map_find("fp8e4m3"); g_e5m2 = lbq_map_find("fp8e5m2");
    g_file = lbq_map_find("file"); g_uniform = lbq_map_find("uniform");
    g_block = lbq_norm_find("block", NULL); g_tensor = lbq_norm_find("tensor", NULL); g_rank1 = lbq_norm_find("rank1", NULL);
    g_row = lbq_norm_find("row", NULL); g_col = lbq_norm_find("col", NULL);
    CHECK(g_log && g_e4m3 && g_e5m2 && g_file && g_uniform && g_block && g_tensor && g_rank1 && g_row && g_col);
    if (!(g_log && g_e4m3 && g_e5m2 && g_file && g_uniform && g_block && g_tensor && g_rank1 && g_row && g_col)) return TEST_END();
    snprintf(g_tmpdir, sizeof g_tmpdir, "/tmp/lbq-test-quant-XXXXXX");
    if (!mkdtemp(g_tmpdir)) { perror("mkdtemp"); return 1; }
    fp8_ref_init();

    struct { const char *name; void (*fn)(void); } parts[] = {
        { "fp8", test_fp8 }, { "qcore math", test_qcore_math }, { "philox", test_philox }, { "pack", test_pack },
        { "tstats", test_tstats_pieces }, { "fallbacks", test_fallbacks }, { "SR unbiased", test_sr_unbiased },
        { "ties", test_ties }, { "combinations", combo_loop }, { "file map", test_file_map },
        { "zero floor", test_zero_floor },
    };
    for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        parts[k].fn();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("%-14s %.2f s\n", parts[k].name, (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    }
    printf("%d valid combinations x shapes checked, %d documented rejections\n", g_combos, g_rejected);
    CHECK(g_combos > 5000);

    /* clean up the temp dir (flat: files only) */
    DIR *dir = opendir(g_tmpdir);
    if (dir) {
        struct dirent *de;
        char fp[600];
        while ((de = readdir(dir)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
            snprintf(fp, sizeof fp, "%s/%s", g_tmpdir, de->d_name);
            unlink(fp);
        }
        closedir(dir);
    }
    CHECK_MSG(rmdir(g_tmpdir) == 0, "cannot remove %s", g_tmpdir);
    return TEST_END();
}
