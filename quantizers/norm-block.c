/* norm-block.c - block-wise absmax (bitsandbytes, lpmm "group", torchao): the flattened tensor is
 * cut into blocks of B consecutive elements (row-major, spanning row boundaries; the last block
 * may be shorter), each scaled by its max |x| over finite values. */
#include "lbq-quant-impl.h"

static void block_scales(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off,
                         int64_t n, const float *x, float *scale)
{
    (void)st; (void)off;
    int64_t B = p->block;
    for (int64_t b0 = 0; b0 < n; b0 += B) {
        int64_t bn = (n - b0 < B) ? n - b0 : B;
        float m = lbq_block_absmax(x + b0, bn);
        for (int64_t i = 0; i < bn; i++) scale[b0 + i] = m;
    }
}

static int64_t block_nscales(const struct lbq_qplan *p, const struct lbq_shape *s)
{
    return (s->numel + p->block - 1) / p->block;
}

const struct lbq_norm lbq_norm_block = {
    .name = "block", .aliases = "group,blockwise,b",
    .help = "block-wise absmax over B consecutive elements (blockN, e.g. block128; --block)",
    .blockwise = 1, .block_absmax = 1, .scales = block_scales, .nscales = block_nscales,
    .kind = LBQ_NORM_BLOCK, .label = "Block", .abbrev = "B", .point = 7,
};
