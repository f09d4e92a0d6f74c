/* map-fp8.c - FP8 states (torchao, COAT): E4M3FN (max 448) and E5M2 (max 57344), round to nearest
 * even, saturating.
 *
 * plain: s = max(absmax, 1e-12) / FMAX (torchao's AdamWFp8), or with ":coat" (absmax + 1e-20) / FMAX
 *   (COAT's non-expanded kernel); code = fp8(x / s), value = code * s.
 * ":dre" (COAT dynamic range expansion as its CUDA kernel computes it; block normalization), per
 *   group: max and min |x| by the kernel's warp-tree reduction (lbq_coat_group_stats: a zero on a
 *   reducing lane drops the partial minima it carries), M = max + 1e-30, m0 = min + 1e-30,
 *   g = sqrt(M) sqrt(m0), k = floor(log2(R_t)/log2(M/m0) * 16)/16 with R_t = FMAX^2/2 (COAT:
 *   448^2/2), no clamp; y = sign(x)(|x|/g)^k; s = (M/g)^k / FMAX; code = fp8(y / s);
 *   value = sign(c s) |c s|^(1/k) g.  Stored per group: s (as the scale), k and g. */
#include "lbq-quant-impl.h"

static int fp8_nparams(const struct lbq_qspec *s) { return s->dre ? 2 : 0; }

static int fp8_qdq_any(const struct lbq_qplan *p, int64_t off, int64_t n, const float *x,
                       float *scale, float *xhat, uint8_t *codes, float *bparams, int e5m2)
{
    (void)off;
    if (!p->spec.dre) lbq_fp8_run(n, x, scale, xhat, codes, e5m2, p->spec.coat);     /* simd.c */
    else lbq_dre_blocks(n, p->block, x, scale, 0, xhat, codes, bparams, e5m2);
    return LBQ_OK;
}

/* block absmax normalization: the block statistics taken here (the engine skips its scale pass;
 * COAT's expansion never used the absmax), one scale per block */
static int fp8_qdq_blocks_any(const struct lbq_qplan *p, int64_t off, int64_t n, const float *x,
                              float *bscale, float *xhat, uint8_t *codes, float *bparams, int e5m2)
{
    (void)off;
    if (!p->spec.dre) lbq_fp8_blocks(n, p->block, x, bscale, xhat, codes, e5m2, p->spec.coat);
    else lbq_dre_blocks(n, p->block, x, bscale, 1, xhat, codes, bparams, e5m2);
    return LBQ_OK;
}

static int e4m3_qdq(const struct lbq_qplan *p, int64_t off, int64_t n, const float *x,
                    float *scale, float *xhat, uint8_t *codes, float *bparams)
{ return fp8_qdq_any(p, off, n, x, scale, xhat, codes, bparams, 0); }
static int e5m2_qdq(const struct lbq_qplan *p, int64_t off, int64_t n, const float *x,
                    float *scale, float *xhat, uint8_t *codes, float *bparams)
{ return fp8_qdq_any(p, off, n, x, scale, xhat, codes, bparams, 1); }
static int e4m3_qdq_blocks(const struct lbq_qplan *p, int64_t off, int64_t n, const float *x,
                           float *bscale, float *xhat, uint8_t *codes, float *bparams)
{ return fp8_qdq_blocks_any(p, off, n, x, bscale, xhat, codes, bparams, 0); }
static int e5m2_qdq_blocks(const struct lbq_qplan *p, int64_t off, int64_t n, const float *x,
                           float *bscale, float *xhat, uint8_t *codes, float *bparams)
{ return fp8_qdq_blocks_any(p, off, n, x, bscale, xhat, codes, bparams, 1); }

const struct lbq_map lbq_map_fp8e4m3 = {
    .name = "fp8e4m3", .aliases = "e4m3,fp8",
    .help = "FP8 E4M3 codes with max(absmax,1e-12)/448 scaling (':coat': (absmax+1e-20)/448); ':dre' adds COAT's dynamic range expansion",
    .min_bits = 8, .max_bits = 8, .fixed_bits = 8, .sign_ok = LBQ_SIGNED_OK | LBQ_UNSIGNED_OK,
    .nparams = fp8_nparams, .qdq = e4m3_qdq, .qdq_blocks = e4m3_qdq_blocks,
    .kind = LBQ_MAP_FP8_E4M3, .sweepable = 1, .label = "FP8-E4M3", .line = 7,
};

const struct lbq_map lbq_map_fp8e5m2 = {
    .name = "fp8e5m2", .aliases = "e5m2",
    .help = "FP8 E5M2 codes with max(absmax,1e-12)/57344 scaling (':coat': (absmax+1e-20)/57344); ':dre' adds COAT's dynamic range expansion",
    .min_bits = 8, .max_bits = 8, .fixed_bits = 8, .sign_ok = LBQ_SIGNED_OK | LBQ_UNSIGNED_OK,
    .nparams = fp8_nparams, .qdq = e5m2_qdq, .qdq_blocks = e5m2_qdq_blocks,
    .kind = LBQ_MAP_FP8_E5M2, .sweepable = 1, .label = "FP8-E5M2", .line = 8,
};
