/* norm-rowcol.c - per-row (lpmm "dim0": max over all dims but 0) and per-column (lpmm "dim1":
 * max over all dims but 1) absmax.  Tensors of rank < 2 fall back to one scale per tensor. */
#include "lbq-quant-impl.h"

static void row_scales(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off,
                       int64_t n, const float *x, float *scale)
{
    (void)p; (void)x;
    int64_t re = lbq_shape_row_elems(&st->shape);
    for (int64_t i = 0; i < n; i++) scale[i] = st->dimmax[0][lbq_row_of(off + i, re)];
}

static void col_scales(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off,
                       int64_t n, const float *x, float *scale)
{
    (void)p; (void)x;
    int64_t inner = lbq_inner_elems(st->shape.dim, st->shape.rank, 2);
    int64_t d1 = st->shape.dim[1];
    for (int64_t i = 0; i < n; i++) scale[i] = st->dimmax[1][lbq_col_of(off + i, inner, d1)];
}

static int64_t row_nscales(const struct lbq_qplan *p, const struct lbq_shape *s) { (void)p; return s->dim[0]; }
static int64_t col_nscales(const struct lbq_qplan *p, const struct lbq_shape *s) { (void)p; return s->dim[1]; }

extern const struct lbq_norm lbq_norm_tensor;  /* the fallback on 1-D tensors */

const struct lbq_norm lbq_norm_row = {
    .name = "row", .aliases = "dim0,per-row",
    .help = "per-row absmax (index of dim 0); rank < 2: per tensor",
    .global_stats = 1, .min_rank = 2, .fallback = &lbq_norm_tensor,
    .scales = row_scales, .nscales = row_nscales,
    .kind = LBQ_NORM_ROW, .scale_dims = 1u << 0, .label = "Row",
};

const struct lbq_norm lbq_norm_col = {
    .name = "col", .aliases = "dim1,per-col,column",
    .help = "per-column absmax (index of dim 1); rank < 2: per tensor",
    .global_stats = 1, .min_rank = 2, .fallback = &lbq_norm_tensor,
    .scales = col_scales, .nscales = col_nscales,
    .kind = LBQ_NORM_COL, .scale_dims = 1u << 1, .label = "Col",
};
