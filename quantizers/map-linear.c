/* map-linear.c - lpmm's power maps ("power-1" = linear, "power-2" = pow2), torchao's and SOLO's
 * linear map, and the zero-including uniform grid.
 *
 * linear, unsigned: torch.linspace(0, 1, 2^b + 1)[1:] = (i+1)/2^b (zero excluded; exact).
 * linear, signed:   torch.linspace(-1, 1, 2^b) (no zero code), fp32 as torch computes it.
 * pow2:             lpmm power-2: signed sign(l) l^2 of l = linspace(-1, 1, 2^b) (no zero code);
 *                   unsigned linspace(0, 1, 2^b + 1)[1:]^2.
 * 1 bit (lpmm, both maps): {-1, 1} signed, {0, 1} unsigned.
 * uniform, unsigned: i/(2^b-1), i = 0..2^b-1 (includes 0 and 1: SOLO's swamping baseline).
 * uniform, signed:  q/(2^(b-1)-1), q = -(2^(b-1)-1)..(2^(b-1)-1): 2^b-1 levels with 0 (lpmm's
 *                   integer "linear"); undefined for 1 bit.
 * linear and pow2 follow the CPU kernel torch ran (spec option :cpu-..., torchmap.c). */
#include "lbq-quant-impl.h"
#include "torchmap.h"

static int linear_build(const struct lbq_qspec *s, int bits, int is_signed, float *levels)
{
    return lbq_torch_pow_map(bits, is_signed, 1, s->cpu, levels);
}

static int pow2_build(const struct lbq_qspec *s, int bits, int is_signed, float *levels)
{
    return lbq_torch_pow_map(bits, is_signed, 2, s->cpu, levels);
}

static int uniform_build(const struct lbq_qspec *s, int bits, int is_signed, float *levels)
{
    (void)s;
    if (!is_signed) {
        int n = 1 << bits;
        for (int i = 0; i < n; i++) levels[i] = (float)((double)i / (double)(n - 1));
        return n;
    }
    if (bits < 2) return -LBQ_ERR_ARG;
    int mrq = (1 << (bits - 1)) - 1, n = 0;
    for (int q = -mrq; q <= mrq; q++) levels[n++] = (float)((double)q / (double)mrq);
    return n;
}

const struct lbq_map lbq_map_linear = {
    .name = "linear", .aliases = "power-1,lin",
    .help = "lpmm/torchao linear: unsigned (i+1)/2^b without zero, signed linspace(-1,1,2^b)",
    .min_bits = 1, .max_bits = 8, .sign_ok = LBQ_SIGNED_OK | LBQ_UNSIGNED_OK,
    .build = linear_build,
    .sweepable = 1, .label = "Linear", .line = 3,
};

const struct lbq_map lbq_map_pow2 = {
    .name = "pow2", .aliases = "power-2",
    .help = "lpmm power-2: signed sign(l)*l^2 of linspace(-1,1,2^b) (no zero), unsigned ((i+1)/2^b)^2",
    .min_bits = 1, .max_bits = 8, .sign_ok = LBQ_SIGNED_OK | LBQ_UNSIGNED_OK,
    .build = pow2_build,
    .sweepable = 1, .label = "Power-2",
};

const struct lbq_map lbq_map_uniform = {
    .name = "uniform", .aliases = "int,uniform0",
    .help = "uniform grid including zero: unsigned i/(2^b-1); signed symmetric 2^b-1 levels",
    .min_bits = 1, .max_bits = 8, .sign_ok = LBQ_SIGNED_OK | LBQ_UNSIGNED_OK,
    .build = uniform_build,
    .sweepable = 1, .label = "Uniform", .line = 6,
    .swamp = { .order = 1, .label = "uniform (has level 0)" },
};
