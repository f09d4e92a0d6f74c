/* norm-rank1.c - lpmm's rank-1 normalization (SM3-like).  For every dimension d of an N-D tensor
 * (N >= 2), M_d[i] = max |x| over the elements whose index on d is i; the scale of an element is
 * min_d M_d[i_d].  2-D: min(row max, column max).  The largest element of every row and column
 * normalizes to exactly +-1.  1-D tensors fall back to block128, as lpmm does. */
#include "lbq-quant-impl.h"

static void rank1_scales(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off,
                         int64_t n, const float *x, float *scale)
{
    (void)p; (void)x;
    const struct lbq_shape *s = &st->shape;
    int r = s->rank;
    int64_t idx[LBQ_MAX_RANK];
    lbq_unravel(off, s->dim, r, idx);     /* then stepped in row-major order, a row at a time */
    const int64_t dl = s->dim[r - 1];
    const float *ml = st->dimmax[r - 1];
    for (int64_t i = 0; i < n;) {
        /* == lbq_rank1_scale: the min over dims; the outer dims are constant along a row */
        float m = st->dimmax[0][idx[0]];
        for (int d = 1; d < r - 1; d++) { float v = st->dimmax[d][idx[d]]; if (v < m) m = v; }
        int64_t run = dl - idx[r - 1];
        if (run > n - i) run = n - i;
        const float *mr = ml + idx[r - 1];
        for (int64_t j = 0; j < run; j++) scale[i + j] = (mr[j] < m) ? mr[j] : m;
        i += run;
        idx[r - 1] += run;
        for (int d = r - 1; d > 0 && idx[d] == s->dim[d]; d--) { idx[d] = 0; idx[d - 1]++; }
    }
}

static int64_t rank1_nscales(const struct lbq_qplan *p, const struct lbq_shape *s)
{
    (void)p;
    int64_t t = 0;
    for (int d = 0; d < s->rank; d++) t += s->dim[d];
    return t;
}

extern const struct lbq_norm lbq_norm_block;   /* the fallback on 1-D tensors */

const struct lbq_norm lbq_norm_rank1 = {
    .name = "rank1", .aliases = "rank-1,sm3",
    .help = "lpmm rank-1: scale min over dims of per-index max |x| (1-D: block128)",
    .global_stats = 1, .min_rank = 2, .fallback = &lbq_norm_block, .fallback_block = 128,
    .scales = rank1_scales, .nscales = rank1_nscales,
    .kind = LBQ_NORM_RANK1, .scale_dims = LBQ_SCALE_DIMS_ALL, .label = "Rank-1", .point = 9,
};
