/* map-dtree.c - dynamic tree / dynamic exponent map (bitsandbytes, lpmm "nonlinear", torchao)
 * and lpmm's DE-0 ("nonlinear-nozero").
 *
 * The levels are lpmm's create_general_qmap('nonlinear', bits, signed) to the last bit, computed
 * with PyTorch's fp32 arithmetic (torchmap.c): for E = bits - 1 decades k = 0..E-1, the fp32
 * midpoints (b[j] + b[j+1]) / 2 of b = torch.linspace(0.1, 1, n_k + 1), n_k = 2^k (signed) or
 * 2^(k+1) (unsigned), times the fp32 power of ten 10^(k-E+1), mirrored for signed; plus 0 and 1.
 * 1 bit: {-1, 1} signed, {0, 1} unsigned (lpmm).  At 4 and 8 bits these are also bitsandbytes'
 * and torchao's tables.  The CPU kernel torch ran (spec option :cpu-...) moves some last bits at
 * 5-8 bits. */
#include "lbq-quant-impl.h"
#include "torchmap.h"

static int dtree_build(const struct lbq_qspec *s, int bits, int is_signed, float *levels)
{
    return lbq_torch_dynamic_map(bits, is_signed, s->cpu, levels);
}

/* lpmm DE-0: for unsigned maps (2 bits and more) the zero entry is overwritten by the next level
 * (a duplicate, so 2^b - 1 distinct levels); lpmm leaves signed maps and 1-bit maps unchanged.
 * Use ":nz" to drop zero from a signed map too. */
static int dtree0_build(const struct lbq_qspec *s, int bits, int is_signed, float *levels)
{
    int n = dtree_build(s, bits, is_signed, levels);
    if (n > 2 && !is_signed) levels[0] = levels[1];
    return n;
}

const struct lbq_map lbq_map_dtree = {
    .name = "dtree", .aliases = "de,dynamic-tree,dt,nonlinear",
    .help = "dynamic tree / dynamic exponent (bitsandbytes, lpmm DE, torchao); has a zero code",
    .min_bits = 1, .max_bits = 8, .sign_ok = LBQ_SIGNED_OK | LBQ_UNSIGNED_OK,
    .build = dtree_build,
    .sweepable = 1, .label = "DE", .label_shampoo = "DT", .line = 1,
    .swamp = { .order = 2, .label = "dtree (DE)" },
};

const struct lbq_map lbq_map_dtree0 = {
    .name = "dtree0", .aliases = "de0,de-0,nonlinear-nozero",
    .help = "lpmm DE-0: dynamic tree with the unsigned zero code replaced by the smallest level",
    .min_bits = 1, .max_bits = 8, .sign_ok = LBQ_SIGNED_OK | LBQ_UNSIGNED_OK,
    .build = dtree0_build,
    .sweepable = 1, .label = "DE-0", .line = 2,
};
