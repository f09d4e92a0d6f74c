/* map-pow3.c - lpmm's "power-3" map: levels are the cubes of the linear map's levels.  lbq does not
 * ship it: this file and the one line of registry-extra.def are the whole of it, compiled only into
 * the tests/extra-quantizer targets (docs/adding-a-quantizer.md), which show that a new map needs
 * nothing else.
 *
 * unsigned: ((i+1)/2^b)^3, i = 0..2^b-1 (zero excluded, largest level 1);
 * signed:   t^3 with t = linspace(-1, 1, 2^b) (no zero code for any b).
 * Evaluated in double and rounded once to fp32. */
#include "lbq-quant-impl.h"

static int pow3_build(const struct lbq_qspec *s, int bits, int is_signed, float *levels)
{
    (void)s;
    int n = 1 << bits;
    for (int i = 0; i < n; i++) {
        double t = is_signed ? -1.0 + 2.0 * (double)i / (double)(n - 1) : (double)(i + 1) / (double)n;
        levels[i] = (float)(t * t * t);
    }
    return n;                       /* ascending already; the engine pads and builds midpoints */
}

const struct lbq_map lbq_map_pow3 = {
    .name = "pow3", .aliases = "power-3,cube",
    .help = "lpmm power-3: unsigned ((i+1)/2^b)^3, signed linspace(-1,1,2^b)^3; no zero code",
    .min_bits = 1, .max_bits = 8, .sign_ok = LBQ_SIGNED_OK | LBQ_UNSIGNED_OK,
    .sweepable = 1,
    .build = pow3_build,
};
