/* qdq.c - the CPU reference quantize/dequantize loops, tensor statistics and bit packing.
 * Per-element work is done by quantizers/qcore.h, shared with the CUDA kernels. */
#include "lbq-impl.h"

#ifdef _OPENMP
#include <omp.h>
#endif

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

static void tstats_add_serial(struct lbq_tstats *st, int64_t off, int64_t n, const float *x)
{
    const struct lbq_shape *s = &st->shape;
    float am = st->absmax;
    int64_t nf = 0;
    if (s->rank < 2) {
        for (int64_t i = 0; i < n; i++) {
            float a = lbq_absf(x[i]);
            int fin = lbq_isfinite(a);
            nf += !fin;
            a = fin ? a : 0.0f;
            am = (a > am) ? a : am;
        }
    } else {
        int r = s->rank;
        int64_t idx[LBQ_MAX_RANK];
        lbq_unravel(off, s->dim, r, idx);
        const int64_t dl = s->dim[r - 1];
        float *ml = st->dimmax[r - 1];
        for (int64_t i = 0; i < n;) {          /* a row (run along the last dim) at a time */
            int64_t run = dl - idx[r - 1];
            if (run > n - i) run = n - i;
            float *mr = ml + idx[r - 1];
            float rm = lbq_row_absmax(x + i, run, mr, &nf);      /* simd.c; non-finite: counted, no max */
            if (rm > am) am = rm;
            for (int d = 0; d < r - 1; d++) if (rm > st->dimmax[d][idx[d]]) st->dimmax[d][idx[d]] = rm;
            i += run;
            idx[r - 1] += run;
            for (int d = r - 1; d > 0 && idx[d] == s->dim[d]; d--) { idx[d] = 0; idx[d - 1]++; }
        }
    }
    st->absmax = am;
    st->nonfinite += nf;
    st->seen += n;
}

/* Large ranges in parallel: one statistics object per thread over a contiguous piece, merged
 * (maxima and counts: the same result in any order) */
void lbq_tstats_add(struct lbq_tstats *st, int64_t off, int64_t n, const float *x)
{
#ifdef _OPENMP
    int nt = omp_get_max_threads();
    const struct lbq_shape *s = &st->shape;
    int64_t dims = s->rank >= 2 ? st->dimoff[s->rank - 1] + s->dim[s->rank - 1] : 0;
    if (nt > 1 && n >= ((int64_t)1 << 20) && dims <= n / 16 && !omp_in_parallel()) {
        struct lbq_tstats *part = calloc((size_t)nt, sizeof *part);
        int ok = part != NULL, ni = 0;
        for (; ok && ni < nt; ni++) {
            if (s->rank >= 2) {     /* as lbq_tstats_init, without its error message */
                part[ni].shape = *s;
                part[ni].dimbuf = calloc((size_t)dims + 1, sizeof(float));
                if (!part[ni].dimbuf) { ok = 0; break; }
                for (int d = 0; d < s->rank; d++) { part[ni].dimoff[d] = st->dimoff[d]; part[ni].dimmax[d] = part[ni].dimbuf + st->dimoff[d]; }
            } else part[ni].shape = *s;
        }
        if (ok) {
            const int64_t piece = (n + nt - 1) / nt;
            #pragma omp parallel for schedule(static)
            for (int t = 0; t < nt; t++) {
                int64_t a = (int64_t)t * piece, b = a + piece < n ? a + piece : n;
                if (a < b) tstats_add_serial(&part[t], off + a, b - a, x + a);
            }
            for (int t = 0; t < nt; t++) lbq_tstats_merge(st, &part[t]);
        }
        for (int t = 0; part && t < nt; t++) free(part[t].dimbuf);
        free(part);
        if (ok) return;
    }
#endif
    tstats_add_serial(st, off, n, x);
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

/* Table maps, stochastic rounding (Philox); nearest rounding is lbq_table_nearest (simd.c). */
static void qdq_table_sr(const struct lbq_qplan *p, int64_t off, int64_t n, const float *x,
                         const float *sc, float *xhat, uint8_t *codes)
{
    for (int64_t i = 0; i < n; i++) {
        float xn = lbq_normalize(x[i], sc[i]);
        float u = lbq_philox_uniform(p->spec.seed, p->stream, (uint64_t)(off + i));
        int c = lbq_table_code(p->q, p->mid, p->nlev, p->npow2, xn, 1, u);
        xhat[i] = p->q[c] * sc[i];
        if (codes) codes[i] = (uint8_t)c;
    }
}

/* Table maps, nearest with lpmm's PyTorch tie rule (":argmin") or torchao's (":torchao": the scale
 * clipped to >= 1e-12, written back, and ties up): scalar, rare. */
static void qdq_table_argmin(const struct lbq_qplan *p, int64_t n, const float *x, float *sc,
                             float *xhat, uint8_t *codes)
{
    for (int64_t i = 0; i < n; i++) {
        if (p->spec.tie == 2 && !(sc[i] >= 1e-12f)) sc[i] = 1e-12f;
        float xn = lbq_normalize(x[i], sc[i]);
        int c = p->spec.tie == 2 ? lbq_code_torchao(p->q, p->nlev, p->npow2, xn)
                                 : lbq_code_argmin(p->q, p->nlev, xn, lbq_code_nearest(p->mid, p->npow2, xn));
        xhat[i] = p->q[c] * sc[i];
        if (codes) codes[i] = (uint8_t)c;
    }
}

/* scale: per-element scales (nullable); bscale: per-block scales of blockwise norms (nullable);
 * scratch: n floats where neither holds the per-element scales the path needs */
static int qdq_impl(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, int64_t n,
                    const float *x, float *xhat, uint8_t *codes, float *scale, float *bscale,
                    float *bparams, float *scratch)
{
    if (p->norm->blockwise && off % p->block != 0)
        return lbq_err(LBQ_ERR_ARG, "lbq_qdq: range start %lld is not a multiple of block %lld", (long long)off, (long long)p->block);
    if (p->norm->global_stats && (!st || st->seen < st->shape.numel))
        return lbq_err(LBQ_ERR_ARG, "lbq_qdq: normalization '%s' needs tensor statistics", p->norm->name);
    const int64_t B = p->block, nb = p->norm->blockwise ? (n + B - 1) / B : 0;
    if (p->norm->block_absmax && !p->spec.map->qdq && p->spec.round == LBQ_ROUND_NEAREST && !p->spec.tie) {
        /* fused: each block's absmax and its quantization while the block is in L1 */
        lbq_table_nearest_blocks(p, n, x, xhat, codes, scale, bscale);
        return LBQ_OK;
    }
    if (p->norm->block_absmax && p->spec.map->qdq_blocks && (bscale || scale || scratch)) {
        /* the map takes each block's statistics itself: one scale per block, spread on request */
        float *bs = bscale ? bscale : scale ? scale : scratch;
        int rc = p->spec.map->qdq_blocks(p, off, n, x, bs, xhat, codes, bparams);
        if (rc) return rc;
        if (scale)
            for (int64_t b = nb - 1; b >= 0; b--) {     /* backwards: bs may be scale itself */
                const float v = bs[b];
                const int64_t e = (b + 1) * B < n ? (b + 1) * B : n;
                for (int64_t i = b * B; i < e; i++) scale[i] = v;
            }
        return LBQ_OK;
    }
    if (!scale && p->norm->kind == LBQ_NORM_RANK1 && !p->spec.map->qdq && p->spec.round == LBQ_ROUND_NEAREST &&
        !p->spec.tie && lbq_table_nearest_rank1(p, st, off, n, x, xhat, codes))
        return LBQ_OK;              /* the rank-1 scale of each element taken in the loop (simd.c) */
    float *sc = scale ? scale : scratch;
    if (!sc) return lbq_err(LBQ_ERR_ARG, "lbq_qdq: no scale buffer");
    p->norm->scales(p, st, off, n, x, sc);
    int rc = LBQ_OK;
    if (p->spec.map->qdq) rc = p->spec.map->qdq(p, off, n, x, sc, xhat, codes, bparams);
    else if (p->spec.round == LBQ_ROUND_STOCHASTIC) qdq_table_sr(p, off, n, x, sc, xhat, codes);
    else if (p->spec.tie) qdq_table_argmin(p, n, x, sc, xhat, codes);
    else lbq_table_nearest(p, n, x, sc, xhat, codes);
    if (rc == LBQ_OK && bscale) for (int64_t b = 0; b < nb; b++) bscale[b] = sc[b * B];
    return rc;
}

int lbq_qdq(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, int64_t n,
            const float *x, float *xhat, uint8_t *codes, float *scale, float *bparams, float *scratch)
{
    if (!scale && !scratch) return lbq_err(LBQ_ERR_ARG, "lbq_qdq: no scale buffer");
    return qdq_impl(p, st, off, n, x, xhat, codes, scale, NULL, bparams, scale ? NULL : scratch);
}

int lbq_qdq_stored(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, int64_t n,
                   const float *x, float *xhat, uint8_t *codes, float *bscale, float *bparams, float *scratch)
{
    if (!scratch) return lbq_err(LBQ_ERR_ARG, "lbq_qdq_stored: no scratch buffer");
    return qdq_impl(p, st, off, n, x, xhat, codes, NULL, p->norm->blockwise ? bscale : NULL, bparams, scratch);
}

void lbq_pack(const uint8_t *codes, int64_t n, int bits, uint8_t *out)
{
    int64_t nb = (n * bits + 7) / 8;
    if (bits == 8) { memcpy(out, codes, (size_t)n); return; }
    if (lbq_pack_simd(codes, n, bits, out)) return;                  /* simd.c: the same bytes */
    memset(out, 0, (size_t)nb);                                      /* (a partial fast pass) */
    for (int64_t i = 0; i < n; i++) lbq_pack_put(out, i, bits, codes[i]);
}

void lbq_unpack(const uint8_t *in, int64_t n, int bits, uint8_t *codes)
{
    if (bits == 8) { memcpy(codes, in, (size_t)n); return; }
    if (lbq_unpack_simd(in, n, bits, codes)) return;
    for (int64_t i = 0; i < n; i++) codes[i] = (uint8_t)lbq_pack_get(in, i, bits);
}
