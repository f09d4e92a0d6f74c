/* map-dtree.c - dynamic tree / dynamic exponent map (bitsandbytes, lpmm "nonlinear", torchao)
 * and lpmm's DE-0 ("nonlinear-nozero").
 *
 * Closed form with E = bits - 1 decades: for k = 0..E-1, n_k = 2^k (signed) or 2^(k+1)
 * (unsigned), levels 10^(k-E+1) * (0.1 + 0.9 (j + 0.5) / n_k), j < n_k (the midpoints of
 * linspace(0.1, 1, n_k + 1)), mirrored for signed; plus 0 and 1.  The 4- and 8-bit tables are the
 * reference implementations' exact fp32 values (tables.h); other widths use the closed form
 * evaluated in double and rounded once to fp32. */
#include "../src/lbq-impl.h"
#include "tables.h"

static int dtree_closed_form(int bits, int is_signed, float *levels)
{
    int E = bits - 1, n = 0;
    for (int k = 0; k < E; k++) {
        int nk = is_signed ? (1 << k) : (1 << (k + 1));
        double dec = pow(10.0, (double)(k - (E - 1)));
        for (int j = 0; j < nk; j++) {
            double v = dec * (0.1 + 0.9 * ((double)j + 0.5) / (double)nk);
            levels[n++] = (float)v;
            if (is_signed) levels[n++] = (float)-v;
        }
    }
    levels[n++] = 0.0f;
    levels[n++] = 1.0f;
    lbq_levels_sort(levels, n);
    return n;
}

static int dtree_build(const struct lbq_qspec *s, int bits, int is_signed, float *levels)
{
    (void)s;
    if (bits == 4) return lbq_levels_from_hex(is_signed ? lbq_tab_dtree_s4 : lbq_tab_dtree_u4, 16, levels);
    if (bits == 8) return lbq_levels_from_hex(is_signed ? lbq_tab_dtree_s8 : lbq_tab_dtree_u8, 256, levels);
    return dtree_closed_form(bits, is_signed, levels);
}

/* lpmm DE-0: for unsigned maps the zero entry is overwritten by the next level (a duplicate, so
 * 2^b - 1 distinct levels); lpmm leaves signed maps unchanged (zero kept).  Use ":nz" to drop
 * zero from a signed map too. */
static int dtree0_build(const struct lbq_qspec *s, int bits, int is_signed, float *levels)
{
    int n = dtree_build(s, bits, is_signed, levels);
    if (n > 1 && !is_signed) levels[0] = levels[1];
    return n;
}

const struct lbq_map lbq_map_dtree = {
    .name = "dtree", .aliases = "de,dynamic-tree,dt,nonlinear",
    .help = "dynamic tree / dynamic exponent (bitsandbytes, lpmm DE, torchao); has a zero code",
    .min_bits = 1, .max_bits = 8, .sign_ok = LBQ_SIGNED_OK | LBQ_UNSIGNED_OK,
    .build = dtree_build,
    .sweepable = 1, .label = "DE", .label_shampoo = "DT", .line = 1,
    .swamp = { .order = 2, .label = "DE (dynamic tree)" },
};

const struct lbq_map lbq_map_dtree0 = {
    .name = "dtree0", .aliases = "de0,de-0,nonlinear-nozero",
    .help = "lpmm DE-0: dynamic tree with the unsigned zero code replaced by the smallest level",
    .min_bits = 1, .max_bits = 8, .sign_ok = LBQ_SIGNED_OK | LBQ_UNSIGNED_OK,
    .build = dtree0_build,
    .sweepable = 1, .label = "DE-0", .line = 2,
};
