/* map-linear.c - lpmm/torchao "linear" (power-1) and the zero-including uniform grid.
 *
 * linear, unsigned: (i+1)/2^b, i = 0..2^b-1 (zero excluded; exact in fp32).
 * linear, signed:   linspace(-1, 1, 2^b) (no zero code); 4-bit: the reference fp32 table.
 * uniform, unsigned: i/(2^b-1), i = 0..2^b-1 (includes 0 and 1: SOLO's swamping baseline).
 * uniform, signed:  q/(2^(b-1)-1), q = -(2^(b-1)-1)..(2^(b-1)-1): 2^b-1 levels with 0 (lpmm's
 *                   integer "linear"); undefined for 1 bit. */
#include "../src/lbq-impl.h"
#include "tables.h"

static int linear_build(const struct lbq_qspec *s, int bits, int is_signed, float *levels)
{
    (void)s;
    int n = 1 << bits;
    if (!is_signed) {
        for (int i = 0; i < n; i++) levels[i] = (float)(i + 1) / (float)n;
        return n;
    }
    if (bits == 4) return lbq_levels_from_hex(lbq_tab_linear_s4, 16, levels);
    for (int i = 0; i < n; i++) levels[i] = (float)(-1.0 + 2.0 * (double)i / (double)(n - 1));
    return n;
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

const struct lbq_map lbq_map_uniform = {
    .name = "uniform", .aliases = "int,uniform0",
    .help = "uniform grid including zero: unsigned i/(2^b-1); signed symmetric 2^b-1 levels",
    .min_bits = 1, .max_bits = 8, .sign_ok = LBQ_SIGNED_OK | LBQ_UNSIGNED_OK,
    .build = uniform_build,
    .sweepable = 1, .label = "Uniform", .line = 6,
    .swamp = { .order = 1, .label = "Linear (uniform, with 0)" },
};
