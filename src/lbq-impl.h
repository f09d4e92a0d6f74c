/* lbq-impl.h - internals shared by the library's source files (not part of the public API). */
#ifndef LBQ_IMPL_H
#define LBQ_IMPL_H

#include "lbq.h"
#include "../quantizers/qcore.h"

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

#define LBQ_TRY(expr) do { int lbq_rc_ = (expr); if (lbq_rc_ != LBQ_OK) { rc = lbq_rc_; goto cleanup; } } while (0)

/* fp32 value of an IEEE bit pattern */
static inline float lbq_hexf(uint32_t u) { return lbq_u2f(u); }
/* copy a hex table into levels; returns n */
int lbq_levels_from_hex(const uint32_t *tab, int n, float *levels);
/* sort ascending (insertion sort; n <= 256) */
void lbq_levels_sort(float *levels, int n);
/* k-th smallest of a[0..n-1] (0-based), reorders a */
float lbq_select_kth(float *a, int64_t n, int64_t k);
/* torch.quantile (linear interpolation) of a[0..n-1]; reorders a */
float lbq_quantile(float *a, int64_t n, double p);
/* case-insensitive equality */
int lbq_streq_ci(const char *a, const char *b);
/* 1 if `name` equals `primary` or one of the comma-separated aliases (case-insensitive) */
int lbq_name_matches(const char *name, const char *primary, const char *aliases);

/* h5io.c: one square float matrix of an HDF5 file (lbq shampoo --dataset), opened with the moment
 * reader's type, shape and storage checks; handles are HDF5 hid_t values.  open: on failure
 * everything is closed and lbq_errmsg() says why; read: all order^2 elements as float64. */
struct lbq_h5_matrix {
    int64_t fid, did, order, esize; uint64_t fsize; const char *path, *dataset; char what[LBQ_NAME_MAX + 64];
};
int  lbq_h5_matrix_open(const char *path, const char *dataset, struct lbq_h5_matrix *m);
/* the stored data are all there (call after limiting the order, before allocating) */
int  lbq_h5_matrix_check(struct lbq_h5_matrix *m);
int  lbq_h5_matrix_read(struct lbq_h5_matrix *m, double *out);
void lbq_h5_matrix_close(struct lbq_h5_matrix *m);

/* eval.c: one configuration's plans for a tensor of shape sh (shared by the CPU engine and the
 * device engine, eval-dev.c): the recipe's fp32 exemption, plan init, SOLO's block fit, plan texts
 * and sizes in o (zeroed first); has[s]: state s (0 m, 1 v) is quantized in q[s]; *unit grows to a
 * common multiple of the block sizes (<= 2^24); *need_st is set when a normalization needs tensor
 * statistics. */
struct lbq_config; struct lbq_param_eval;
int lbq_eval_conf_plans(const struct lbq_config *conf, const struct lbq_shape *sh, struct lbq_qplan q[2],
                        int has[2], struct lbq_param_eval *o, int64_t *unit, int *need_st);

/* accum.c: the histogram bin of f by the engine's bit-pattern tables (which 0: relative error, equal to
 * lbq_rel_bin(f, lbq_log2f_or0(f)); 1: h, equal to lbq_h_bin(f, lbq_log2f_or0(f))); -1 if the tables
 * could not be built (then the engine uses the scalar functions) */
int lbq_acc_table_bin(int which, float f);

/* lbq_log2f_or0: accum-core.h */
#include "accum-core.h"

/* simd.c: vectorized inner loops, bit-identical to the qcore.h per-element functions */
/* lbq_simd_level(): include/lbq.h */
void  lbq_simd_enable(int on);          /* 0 forces the portable loops (tests); 1 the best available */
/* max |x| over the finite x[0..n-1], +0 if none (lbq_absmax_acc) */
float lbq_block_absmax(const float *x, int64_t n);
/* Nearest rounding on a table plan: xhat[i] = q[c] * sc[i] with c = the number of midpoints below
 * lbq_normalize(x[i], sc[i]); codes nullable. */
void  lbq_table_nearest(const struct lbq_qplan *p, int64_t n, const float *x, const float *sc,
                        float *xhat, uint8_t *codes);
/* The same with block absmax scales (p->block consecutive elements; n a multiple of the block or
 * the range ends the tensor), computed block by block; scale (nullable) receives them per element. */
void  lbq_table_nearest_blocks(const struct lbq_qplan *p, int64_t n, const float *x, float *xhat,
                               uint8_t *codes, float *scale);
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
/* Plain FP8: sc[i] in: the normalization's scale (absmax); out: lbq_fp8_scale of it; xhat[i] =
 * lbq_fp8_qdq(x[i], sc[i]), codes (nullable) its lbq_fp8_bits */
void  lbq_fp8_run(int64_t n, const float *x, float *sc, float *xhat, uint8_t *codes, int e5m2, int coat);
/* COAT's dynamic range expansion on one group of n <= B elements: lbq_coat_group_stats,
 * lbq_dre_params, lbq_dre_qdq_elem; scale[i] = s, codes nullable, *k and *g the group's parameters */
void  lbq_dre_group(const float *x, int64_t n, int64_t B, int e5m2, float *xhat, uint8_t *codes,
                    float *scale, float *k, float *g);
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
