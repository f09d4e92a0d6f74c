/* map-log.c - SOLO's logarithmic map "qema" for unsigned states.
 *
 * Per block (block normalization only): delta = max(x) (the block scale), xp = p-quantile of the
 * block's raw values (torch.quantile, linear interpolation) / delta, alpha = xp^(1/N) with
 * N = 2^b - 1, levels alpha^k * delta for k = 0..N.  Code: nearest in the exponent domain
 * (rint of log_alpha(x/delta), ties to even) or, with stochastic rounding, floor(log_alpha + u).
 * Zero and negative inputs take the smallest level (code N): no zero point.
 * Degenerate blocks: xp = 0 (more than a fraction p of zeros) -> xp = smallest positive value /
 * delta; no positive value or all values equal -> alpha = 1 (one level, delta).
 * Stored per block: delta (scale) and alpha (parameter). */
#include "../src/lbq-impl.h"

static int log_nparams(const struct lbq_qspec *s) { (void)s; return 1; }

static int log_qdq(const struct lbq_qplan *p, int64_t off, int64_t n, const float *x,
                   float *scale, float *xhat, uint8_t *codes, float *bparams)
{
    int rc = LBQ_OK;
    int64_t B = p->block;
    int nmax = (1 << p->bits) - 1;
    int stoch = p->spec.round == LBQ_ROUND_STOCHASTIC;
    float *tmp = malloc(sizeof(float) * (size_t)(B < n ? B : n) + sizeof(float));
    float lev[LBQ_MAX_LEVELS] = { 0 };
    if (!tmp) return lbq_err(LBQ_ERR_NOMEM, "log map: out of memory");
    for (int64_t b0 = 0; b0 < n; b0 += B) {
        int64_t bn = (n - b0 < B) ? n - b0 : B;
        float delta = scale[b0];
        float minpos = lbq_log_clean_block(x + b0, bn, tmp);
        float quant = (delta > 0.0f) ? lbq_quantile_nonneg(tmp, bn, (double)p->spec.quantile) : 0.0f;
        float alpha = lbq_log_block_alpha(delta, quant, minpos, nmax);
        lev[0] = 1.0f;
        for (int k = 1; k <= nmax; k++) lev[k] = lev[k - 1] * alpha;  /* == lbq_log_level */
        if (!stoch) lbq_log_block(x + b0, bn, delta, alpha, nmax, lev, xhat + b0, codes ? codes + b0 : NULL);
        else for (int64_t i = 0; i < bn; i++) {
            int64_t e = b0 + i;
            float xn = lbq_normalize(x[e], delta);
            float u = lbq_philox_uniform(p->spec.seed, p->stream, (uint64_t)(off + e));
            int c = lbq_code_log(xn, alpha, nmax, 1, u);
            xhat[e] = lev[c] * delta;
            if (codes) codes[e] = (uint8_t)c;
        }
        if (bparams) bparams[b0 / B] = alpha;
    }
    free(tmp);
    return rc;
}

const struct lbq_map lbq_map_log = {
    .name = "log", .aliases = "qema,logarithmic,solo",
    .help = "SOLO logarithmic map: per-block levels alpha^k*max, alpha from the --quantile p; unsigned",
    .min_bits = 1, .max_bits = 8, .sign_ok = LBQ_UNSIGNED_OK, .needs_block = 1,
    .nparams = log_nparams, .qdq = log_qdq,
    .kind = LBQ_MAP_LOG, .sweepable = 1, .label = "log (SOLO)", .line = 5,
    .swamp = { .order = 3, .sr = 1, .label = "Ours/log (SOLO, SR)" },
};
