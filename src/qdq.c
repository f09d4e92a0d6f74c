/* qdq.c - the CPU reference quantize/dequantize loops, tensor statistics and bit packing.
 * Per-element work is done by quantizers/qcore.h, shared with the CUDA kernels. */
#include "lbq-impl.h"

int lbq_tstats_init(struct lbq_tstats *st, const struct lbq_shape *shape)
{
    memset(st, 0, sizeof *st);
    st->shape = *shape;
    if (shape->rank >= 2) {
        int64_t tot = 0;
        for (int d = 0; d < shape->rank; d++) { st->dimoff[d] = tot; tot += shape->dim[d]; }
        st->dimbuf = calloc((size_t)tot + 1, sizeof(float));
        if (!st->dimbuf) return lbq_err(LBQ_ERR_NOMEM, "out of memory for tensor statistics");
        for (int d = 0; d < shape->rank; d++) st->dimmax[d] = st->dimbuf + st->dimoff[d];
    }
    return LBQ_OK;
}

void lbq_tstats_reset(struct lbq_tstats *st)
{
    st->absmax = 0.0f; st->nonfinite = 0; st->seen = 0;
    for (int d = 0; d < st->shape.rank; d++)
        if (st->dimmax[d]) memset(st->dimmax[d], 0, sizeof(float) * (size_t)st->shape.dim[d]);
}

void lbq_tstats_add(struct lbq_tstats *st, int64_t off, int64_t n, const float *x)
{
    const struct lbq_shape *s = &st->shape;
    float am = st->absmax;
    int64_t nf = 0;
    if (s->rank < 2) {
        for (int64_t i = 0; i < n; i++) {
            float a = lbq_absf(x[i]);
            if (!lbq_isfinite(a)) { nf++; continue; }
            if (a > am) am = a;
        }
    } else {
        int r = s->rank;
        int64_t idx[LBQ_MAX_RANK], rem = off;
        for (int d = r - 1; d >= 0; d--) { idx[d] = rem % s->dim[d]; rem /= s->dim[d]; }
        for (int64_t i = 0; i < n; i++) {
            float a = lbq_absf(x[i]);
            if (!lbq_isfinite(a)) nf++;
            else {
                if (a > am) am = a;
                for (int d = 0; d < r; d++) if (a > st->dimmax[d][idx[d]]) st->dimmax[d][idx[d]] = a;
            }
            for (int d = r - 1; d >= 0; d--) { if (++idx[d] < s->dim[d]) break; idx[d] = 0; }
        }
    }
    st->absmax = am;
    st->nonfinite += nf;
    st->seen += n;
}

void lbq_tstats_merge(struct lbq_tstats *a, const struct lbq_tstats *b)
{
    if (b->absmax > a->absmax) a->absmax = b->absmax;
    a->nonfinite += b->nonfinite;
    a->seen += b->seen;
    for (int d = 0; d < a->shape.rank; d++)
        if (a->dimmax[d] && b->dimmax[d])
            for (int64_t i = 0; i < a->shape.dim[d]; i++)
                if (b->dimmax[d][i] > a->dimmax[d][i]) a->dimmax[d][i] = b->dimmax[d][i];
}

void lbq_tstats_free(struct lbq_tstats *st)
{
    if (!st) return;
    free(st->dimbuf);
    st->dimbuf = NULL;
    for (int d = 0; d < LBQ_MAX_RANK; d++) st->dimmax[d] = NULL;
}

/* Table maps: nearest (lpmm tie rule) or stochastic (Philox) over the plan's codebook.
 * Nearest rounding runs in tiles: normalize a tile, then count the midpoints below each value
 * (lbq_code_nearest_count; the compiler vectorizes the loop over the tile), or binary-search for
 * large codebooks.  Both give exactly lbq_code_nearest's code. */
#define LBQ_TILE 256
/* x86-64: an AVX2 clone (8-wide compares) chosen at run time; same IEEE results as the default */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx2", "default")))
#endif
static void qdq_table(const struct lbq_qplan *p, int64_t off, int64_t n, const float *x,
                      const float *sc, float *xhat, uint8_t *codes)
{
    const float *q = p->q, *mid = p->mid;
    const int npow2 = p->npow2, nlev = p->nlev;
    if (p->spec.round == LBQ_ROUND_STOCHASTIC) {
        for (int64_t i = 0; i < n; i++) {
            float xn = lbq_normalize(x[i], sc[i]);
            float u = lbq_philox_uniform(p->spec.seed, p->stream, (uint64_t)(off + i));
            int c = lbq_table_code(q, mid, nlev, npow2, xn, 1, u);
            xhat[i] = q[c] * sc[i];
            if (codes) codes[i] = (uint8_t)c;
        }
        return;
    }
    float xn[LBQ_TILE];
    int32_t cc[LBQ_TILE];
    const int nmid = nlev - 1;
    for (int64_t t0 = 0; t0 < n; t0 += LBQ_TILE) {
        int tn = (n - t0 < LBQ_TILE) ? (int)(n - t0) : LBQ_TILE;
        for (int j = 0; j < tn; j++) xn[j] = lbq_normalize(x[t0 + j], sc[t0 + j]);
        if (nmid <= 32) {
            for (int j = 0; j < tn; j++) cc[j] = 0;
            for (int i = 0; i < nmid; i++) {       /* == lbq_code_nearest_count, interchanged loops */
                const float mi = mid[i];
                for (int j = 0; j < tn; j++) cc[j] += (mi < xn[j]);
            }
        } else {
            for (int j = 0; j < tn; j++) cc[j] = lbq_code_nearest(mid, npow2, xn[j]);
        }
        for (int j = 0; j < tn; j++) xhat[t0 + j] = q[cc[j]] * sc[t0 + j];
        if (codes) for (int j = 0; j < tn; j++) codes[t0 + j] = (uint8_t)cc[j];
    }
}

int lbq_qdq(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, int64_t n,
            const float *x, float *xhat, uint8_t *codes, float *scale, float *bparams, float *scratch)
{
    float *sc = scale ? scale : scratch;
    if (!sc) return lbq_err(LBQ_ERR_ARG, "lbq_qdq: no scale buffer");
    if (p->norm->blockwise && off % p->block != 0)
        return lbq_err(LBQ_ERR_ARG, "lbq_qdq: range start %lld is not a multiple of block %lld", (long long)off, (long long)p->block);
    if (p->norm->global_stats && (!st || st->seen < st->shape.numel))
        return lbq_err(LBQ_ERR_ARG, "lbq_qdq: normalization '%s' needs tensor statistics", p->norm->name);
    p->norm->scales(p, st, off, n, x, sc);
    if (p->spec.map->qdq) return p->spec.map->qdq(p, off, n, x, sc, xhat, codes, bparams);
    qdq_table(p, off, n, x, sc, xhat, codes);
    return LBQ_OK;
}

void lbq_pack(const uint8_t *codes, int64_t n, int bits, uint8_t *out)
{
    int64_t nb = (n * bits + 7) / 8;
    memset(out, 0, (size_t)nb);
    if (bits == 8) { memcpy(out, codes, (size_t)n); return; }
    for (int64_t i = 0; i < n; i++) lbq_pack_put(out, i, bits, codes[i]);
}

void lbq_unpack(const uint8_t *in, int64_t n, int bits, uint8_t *codes)
{
    if (bits == 8) { memcpy(codes, in, (size_t)n); return; }
    for (int64_t i = 0; i < n; i++) codes[i] = (uint8_t)lbq_pack_get(in, i, bits);
}
