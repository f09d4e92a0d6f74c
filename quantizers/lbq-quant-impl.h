/* lbq-quant-impl.h - the internal header of quantizers/ (not part of the public API): what a map or
 * normalization file needs besides the registry entry types of include/lbq.h (struct lbq_map,
 * struct lbq_norm, struct lbq_qplan, struct lbq_tstats) and the per-element functions of qcore.h.
 * A file in quantizers/ includes this header (and torchmap.h, tables.h where it uses them), never a
 * header of src/ (docs/architecture.md).  The functions below are defined in quantizers/ (names,
 * lbq_log_edge_count) or in src/ (misc.c, simd.c: the vectorized loops the maps call); src/lbq-impl.h
 * includes this header, so the library sees the same declarations. */
#ifndef LBQ_QUANT_IMPL_H
#define LBQ_QUANT_IMPL_H

#include "lbq.h"
#include "qcore.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Internal invariants.  A failed LBQ_ASSERT is a bug in lbq, never a user error: it prints
 * "lbq: internal error: COND (FILE:LINE)" on stderr and aborts (SIGABRT, exit 134 from a shell),
 * in every build (not tied to NDEBUG).  User errors return an lbq_status instead. */
#define LBQ_ASSERT(cond) do { if (!(cond)) lbq_assert_fail(#cond, __FILE__, __LINE__); } while (0)
#if defined(__GNUC__)
__attribute__((noreturn))
#endif
void lbq_assert_fail(const char *cond, const char *file, int line);

/* ---- levels (table maps' build()) ---- */
/* fp32 value of an IEEE bit pattern */
static inline float lbq_hexf(uint32_t u) { return lbq_u2f(u); }
/* copy a hex table into levels; returns n */
int lbq_levels_from_hex(const uint32_t *tab, int n, float *levels);
/* sort ascending (insertion sort; n <= 256) */
void lbq_levels_sort(float *levels, int n);

/* ---- names (registry.c) ---- */
/* case-insensitive equality */
int lbq_streq_ci(const char *a, const char *b);
/* 1 if `name` equals `primary` or one of the comma-separated aliases (case-insensitive) */
int lbq_name_matches(const char *name, const char *primary, const char *aliases);

/* ---- block kernels of src/simd.c, bit-identical to the qcore.h per-element functions ---- */
/* max |x| over the finite x[0..n-1], +0 if none (lbq_absmax_acc) */
float lbq_block_absmax(const float *x, int64_t n);
/* torch.quantile (linear interpolation) of n values that are +0 or positive finite; exact, a is
 * not reordered (bit-pattern binary search with vectorized counting) */
float lbq_quantile_nonneg(const float *a, int64_t n, double p);
/* out[i] = lbq_log_clean(x[i]); returns their smallest positive value (+inf if none) */
float lbq_log_clean_block(const float *x, int64_t n, float *out);
/* SOLO log map, nearest rounding, one block: codes lbq_code_log_solo (solo) or lbq_code_log
 * (guarded) of lbq_normalize(x, delta), values lev[c] * delta (lev: 256 entries, lev[k] = alpha^k
 * for k <= nmax) */
void  lbq_log_block(const float *x, int64_t n, float delta, float alpha, int nmax, const float *lev,
                    float *xhat, uint8_t *codes, int solo);
/* The same with stochastic rounding: u of element i = lbq_philox_uniform(seed, stream, index0 + i) */
void  lbq_log_block_sr(const float *x, int64_t n, float delta, float alpha, int nmax, const float *lev,
                       float *xhat, uint8_t *codes, int solo, uint64_t seed, uint32_t stream, uint64_t index0);
/* Either of the two, with la = lbq_log2f(alpha) given (from lbq_log_params_blocks) */
void  lbq_log_block_la(const float *x, int64_t n, float delta, float alpha, float la, int nmax, const float *lev,
                       float *xhat, uint8_t *codes, int solo, int stochastic, uint64_t seed, uint32_t stream, uint64_t index0);
/* lbq_log_params of nb blocks: alpha[b] = lbq_log_params(delta[b], quant[b], minpos[b], nmax,
 * guarded, &sc[b]); la[b] = lbq_log2f(alpha[b]) where 0 <= alpha[b] < 1, else 0 */
void  lbq_log_params_blocks(int nb, const float *delta, const float *quant, const float *minpos, int nmax,
                            int guarded, float *sc, float *alpha, float *la);
/* Plain FP8: sc[i] in: the normalization's scale (absmax); out: lbq_fp8_scale of it; xhat[i] =
 * lbq_fp8_qdq(x[i], sc[i]), codes (nullable) its lbq_fp8_bits */
void  lbq_fp8_run(int64_t n, const float *x, float *sc, float *xhat, uint8_t *codes, int e5m2, int coat);
/* Plain FP8 with block absmax scales (blocks of B, the last may be shorter): bscale[b] =
 * lbq_fp8_scale(block absmax), xhat and codes (nullable) as lbq_fp8_run on that scale */
void  lbq_fp8_blocks(int64_t n, int64_t B, const float *x, float *bscale, float *xhat, uint8_t *codes,
                     int e5m2, int coat);
/* COAT's dynamic range expansion on one group of n <= B elements: lbq_coat_group_stats,
 * lbq_dre_params, lbq_dre_qdq_elem; codes nullable, *s, *k and *g the group's parameters */
void  lbq_dre_group(const float *x, int64_t n, int64_t B, int e5m2, float *xhat, uint8_t *codes,
                    float *s, float *k, float *g);
/* lbq_dre_group on consecutive groups of B elements of x[0..n) (the last may be shorter): scale
 * receives s per block (per_block) or per element, bparams (nullable) k, g per block */
void  lbq_dre_blocks(int64_t n, int64_t B, const float *x, float *scale, int per_block, float *xhat, uint8_t *codes,
                     float *bparams, int e5m2);
/* map-log.c: for a log-map plan, add to cnt[4] the number of blocks of x[0..n) (block-aligned) and
 * of SOLO's edge cases among them (lbq_solo_edge: all zero, max < 1e-12, zero p-quantile); no-op
 * for other maps */
void  lbq_log_edge_count(const struct lbq_qplan *p, int64_t n, const float *x, int64_t cnt[4]);
/* map-log.c: for a log-map plan whose scales are the block absmax (lbq_log_count_fusable), lbq_qdq
 * (no codes, scales in scratch[n]) and lbq_log_edge_count in one pass (one quantile per block) */
int   lbq_log_count_fusable(const struct lbq_qplan *p);
int   lbq_log_qdq_count(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, int64_t n,
                        const float *x, float *xhat, float *scratch, int64_t cnt[4]);

#endif
