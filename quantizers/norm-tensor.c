/* norm-tensor.c - one scale per tensor: max |x| over all finite elements. */
#include "lbq-quant-impl.h"

static void tensor_scales(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off,
                          int64_t n, const float *x, float *scale)
{
    (void)p; (void)off; (void)x;
    for (int64_t i = 0; i < n; i++) scale[i] = st->absmax;
}

static int64_t tensor_nscales(const struct lbq_qplan *p, const struct lbq_shape *s)
{
    (void)p; (void)s;
    return 1;
}

const struct lbq_norm lbq_norm_tensor = {
    .name = "tensor", .aliases = "per-tensor,global",
    .help = "one absmax scale for the whole tensor",
    .global_stats = 1, .scales = tensor_scales, .nscales = tensor_nscales,
    .kind = LBQ_NORM_TENSOR, .label = "Tensor", .point = 5,
};
