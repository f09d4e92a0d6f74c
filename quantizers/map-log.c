/* map-log.c - SOLO's logarithmic map "qema" for unsigned states.
 *
 * Default: SOLO's own arithmetic (MTandHJ/SOLO quantizer/utils.py and qema_*bit.py, read to learn
 * it), per block of the tensor (block size: the largest divisor of numel <= the block size, set by
 * lbq_qplan_fit):
 *   scale = max(block max, 1e-12); xp = p-quantile of the raw block (torch.quantile: linear
 *   interpolation, zeros included) / scale; alpha = xp^(1/N), N = 2^b - 1;
 *   code = clip(round(log2(x/scale)/log2(alpha)), 0, N), round half to even, or with
 *   round(... + u - 0.5) for stochastic rounding in the log domain; x^ = alpha^code * scale.
 * Its edge cases follow (lbq_code_log_solo): an all-zero block comes back as 1e-12 everywhere; a
 * block whose max is below 1e-12 is scaled by 1e-12; a block with more than a p-share of zeros has
 * xp = 0, alpha = 0, and every element (zeros included) comes back as the block max.  analyze and
 * sweep count these blocks (lbq_solo_edge).
 *
 * ":guarded" (lbq's variant): scale = block max; zeros come back as 0 when the max is 0; xp = 0 ->
 * xp = smallest positive value / max; no positive value or all values equal -> alpha = 1 (one
 * level, the max); rounding floor(log_alpha + u) when stochastic; the block size is the spec's,
 * with a ragged last block.
 *
 * Zero inputs take the smallest level (code N) in both.  Stored per block: scale and alpha. */
#include "lbq-quant-impl.h"

extern const struct lbq_map lbq_map_log;

static int log_nparams(const struct lbq_qspec *s) { (void)s; return 1; }

/* cnt (nullable): SOLO's edge cases added as lbq_log_edge_count adds them, from this pass's own
 * block max and quantile (equal to that function's when the scale is the block absmax) */
static int log_run(const struct lbq_qplan *p, int64_t off, int64_t n, const float *x,
                   float *scale, float *xhat, uint8_t *codes, float *bparams, int64_t *cnt)
{
    int rc = LBQ_OK;
    int64_t B = p->block;
    int nmax = (1 << p->bits) - 1;
    int stoch = p->spec.round == LBQ_ROUND_STOCHASTIC;
    int guarded = p->spec.guarded;
    float *tmp = malloc(sizeof(float) * (size_t)(B < n ? B : n) + sizeof(float));
    float lev[LBQ_MAX_LEVELS] = { 0 };
    if (!tmp) return lbq_err(LBQ_ERR_NOMEM, "log map: out of memory");
    /* groups of G blocks: each block's max, cleaned values and quantile, then the group's alphas
     * (lbq_log_params, and lbq_log2f of alpha for the code loop) in one vector pass, then the codes */
    enum { G = 16 };
    float delta[G], quant[G], minpos[G], scg[G], alpha[G], la[G];
    for (int64_t g0 = 0; g0 < n; g0 += G * B) {
        int nb = 0;
        for (int64_t b0 = g0; b0 < n && nb < G; b0 += B, nb++) {
            int64_t bn = (n - b0 < B) ? n - b0 : B;
            delta[nb] = scale[b0];
            minpos[nb] = lbq_log_clean_block(x + b0, bn, tmp);
            quant[nb] = (delta[nb] > 0.0f) ? lbq_quantile_nonneg(tmp, bn, (double)p->spec.quantile) : 0.0f;
        }
        lbq_log_params_blocks(nb, delta, quant, minpos, nmax, guarded, scg, alpha, la);
        for (int b = 0; b < nb; b++) {
            int64_t b0 = g0 + b * B, bn = (n - b0 < B) ? n - b0 : B;
            float sc = scg[b];
            if (cnt) {
                int e = lbq_solo_edge(delta[b], quant[b]);
                cnt[0]++;
                for (int k = 0; k < 3; k++) cnt[k + 1] += (e >> k) & 1;
            }
            lev[0] = 1.0f;
            for (int k = 1; k <= nmax; k++) lev[k] = lev[k - 1] * alpha[b];  /* == lbq_log_level */
            lbq_log_block_la(x + b0, bn, sc, alpha[b], la[b], nmax, lev, xhat + b0, codes ? codes + b0 : NULL, !guarded,
                             stoch, p->spec.seed, p->stream, (uint64_t)(off + b0));
            if (sc != delta[b]) for (int64_t i = 0; i < bn; i++) scale[b0 + i] = sc;
            if (bparams) bparams[b0 / B] = alpha[b];
        }
    }
    free(tmp);
    return rc;
}

static int log_qdq(const struct lbq_qplan *p, int64_t off, int64_t n, const float *x,
                   float *scale, float *xhat, uint8_t *codes, float *bparams)
{
    return log_run(p, off, n, x, scale, xhat, codes, bparams, NULL);
}

int lbq_log_qdq_count(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, int64_t n,
                      const float *x, float *xhat, float *scratch, int64_t cnt[4])
{
    if (!lbq_log_count_fusable(p)) return lbq_err(LBQ_ERR_ARG, "lbq_log_qdq_count: not a log map with block absmax scales");
    if (off % p->block != 0)
        return lbq_err(LBQ_ERR_ARG, "lbq_qdq: range start %lld is not a multiple of block %lld", (long long)off, (long long)p->block);
    p->norm->scales(p, st, off, n, x, scratch);                 /* as lbq_qdq: the block absmax */
    return log_run(p, off, n, x, scratch, xhat, NULL, NULL, cnt);
}

int lbq_log_count_fusable(const struct lbq_qplan *p)
{
    return p->spec.map == &lbq_map_log && p->norm->block_absmax && !p->norm->global_stats;
}

void lbq_log_edge_count(const struct lbq_qplan *p, int64_t n, const float *x, int64_t cnt[4])
{
    if (p->spec.map != &lbq_map_log || n <= 0) return;
    int64_t B = p->block;
    float *tmp = malloc(sizeof(float) * (size_t)(B < n ? B : n) + sizeof(float));
    for (int64_t b0 = 0; b0 < n; b0 += B) {
        int64_t bn = (n - b0 < B) ? n - b0 : B;
        float delta = lbq_block_absmax(x + b0, bn), quant = 0.0f;
        if (delta > 0.0f && tmp) {
            lbq_log_clean_block(x + b0, bn, tmp);
            quant = lbq_quantile_nonneg(tmp, bn, (double)p->spec.quantile);
        }
        int e = (delta > 0.0f && !tmp) ? 0 : lbq_solo_edge(delta, quant);
        cnt[0]++;
        for (int k = 0; k < 3; k++) cnt[k + 1] += (e >> k) & 1;
    }
    free(tmp);
}

const struct lbq_map lbq_map_log = {
    .name = "log", .aliases = "qema,logarithmic,solo",
    .help = "SOLO logarithmic map: per-block levels alpha^k*max, alpha from the --quantile p; unsigned",
    .min_bits = 1, .max_bits = 8, .sign_ok = LBQ_UNSIGNED_OK, .needs_block = 1,
    .nparams = log_nparams, .qdq = log_qdq,
    .kind = LBQ_MAP_LOG, .sweepable = 1, .label = "log (SOLO)", .line = 5,
    .swamp = { .order = 3, .sr = 1, .label = "log (SOLO), stoch. rounding" },
};
