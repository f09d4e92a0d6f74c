/* map-linsq.c - 4-bit Shampoo's Linear-2 ("linear-square") map.
 *
 * signed: s_j = -1 + 2j/(2^b-1); R(j) = -s_j^2 for j < z, 0 for j = z, s_j^2 for j > z, with
 *         z = 2^(b-1)-1 (so one slightly negative grid point becomes the zero code).
 *         4-bit: {-1, -0.7511, ..., -0.0400, 0, 0.0044, 0.0400, ..., 1}.
 * unsigned: ((i+1)/2^b)^2 (lpmm power-2; zero excluded). */
#include "../src/lbq-impl.h"

static int linsq_build(const struct lbq_qspec *s, int bits, int is_signed, float *levels)
{
    (void)s;
    int n = 1 << bits;
    if (!is_signed) {
        for (int i = 0; i < n; i++) { double t = (double)(i + 1) / (double)n; levels[i] = (float)(t * t); }
        return n;
    }
    int z = (1 << (bits - 1)) - 1;
    for (int j = 0; j < n; j++) {
        double sj = -1.0 + 2.0 * (double)j / (double)(n - 1);
        levels[j] = (j < z) ? (float)(-sj * sj) : (j == z) ? 0.0f : (float)(sj * sj);
    }
    return n;
}

const struct lbq_map lbq_map_linsq = {
    .name = "linsq", .aliases = "linear-square,linear2,linear-2,l2",
    .help = "4-bit Shampoo Linear-2: signed squares of a linspace grid with a zero code",
    .min_bits = 1, .max_bits = 8, .sign_ok = LBQ_SIGNED_OK | LBQ_UNSIGNED_OK,
    .build = linsq_build,
    .sweepable = 1, .label = "Linear-2", .label_shampoo = "Linear-2", .line = 4,
};
