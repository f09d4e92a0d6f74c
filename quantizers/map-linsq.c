/* map-linsq.c - 4-bit Shampoo's Linear-2 ("linear-square") map, exactly as its create_linear_map
 * builds it in fp32 (torchmap.c):
 *
 * signed:   l = torch.linspace(-1, 1, 2^b); l[2^(b-1)-1] = 0 (one slightly negative grid point
 *           becomes the zero code); levels sign(l) l^2.
 *           4-bit: {-1, -0.7511, ..., -0.0400, 0, 0.0044, 0.0400, ..., 1}.  1 bit: {0, 1}.
 * unsigned: linspace(0, 1, 2^b)^2 (includes zero).  (lpmm's power-2 is the map pow2.)
 * The CPU kernel torch ran (spec option :cpu-...) moves some last bits. */
#include "lbq-quant-impl.h"
#include "torchmap.h"

static int linsq_build(const struct lbq_qspec *s, int bits, int is_signed, float *levels)
{
    return lbq_torch_linear2_map(bits, is_signed, s->cpu, levels);
}

const struct lbq_map lbq_map_linsq = {
    .name = "linsq", .aliases = "linear-square,linear2,linear-2,l2",
    .help = "4-bit Shampoo Linear-2: signed squares of a linspace grid with a zero code",
    .min_bits = 1, .max_bits = 8, .sign_ok = LBQ_SIGNED_OK | LBQ_UNSIGNED_OK,
    .build = linsq_build,
    .sweepable = 1, .label = "Linear-2", .label_shampoo = "Linear-2", .line = 4,
};
