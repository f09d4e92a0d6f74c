/* lbq-impl.h - internals shared by the library's source files (not part of the public API). */
#ifndef LBQ_IMPL_H
#define LBQ_IMPL_H

#include "lbq.h"
/* what the quantizers' files see (LBQ_ASSERT, level and name helpers, the vectorized block kernels
 * of simd.c they call), and through it qcore.h */
#include "../quantizers/lbq-quant-impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LBQ_TRY(expr) do { int lbq_rc_ = (expr); if (lbq_rc_ != LBQ_OK) { rc = lbq_rc_; goto cleanup; } } while (0)

/* misc.c: big buffers (slabs of the engine, quantize, simulate).  From LBQ_BIG_MIN bytes on, on
 * Linux, a 2 MiB-aligned anonymous mapping advised for transparent huge pages (one page fault per
 * 2 MiB instead of per 4 KiB: the fault cost dominated analyze under a hypervisor), elsewhere and
 * below that malloc.  lbq_big_free takes the size given to lbq_big_alloc; a freed mapping is kept
 * (at most LBQ_BIG_KEEP of them) for the next lbq_big_alloc of a size it fits, so the tensors of one
 * evaluation reuse resident pages; lbq_big_trim releases the kept ones no allocation took (the
 * engine calls it once its buffers are allocated, so kept pages never add to a tensor's peak).
 * Contents of a new buffer are unspecified (as malloc).  Thread-safe. */
#define LBQ_BIG_MIN ((size_t)4 << 20)
#define LBQ_BIG_KEEP 8
void *lbq_big_alloc(size_t bytes);
void  lbq_big_free(void *p, size_t bytes);
void  lbq_big_trim(void);

/* k-th smallest of a[0..n-1] (0-based), reorders a */
float lbq_select_kth(float *a, int64_t n, int64_t k);
/* torch.quantile (linear interpolation) of a[0..n-1]; reorders a */
float lbq_quantile(float *a, int64_t n, double p);

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
struct lbq_update_cfg;
struct lbq_acc;
/* The raw-state part of the accumulation (lbq_acc_base) of one slab of n elements, chunk by chunk
 * in parallel into chunk_acc[], then merged into base_total in chunk order; ue/okm receive the exact
 * update and the finite mask.  Shared by the CPU engine and the device engine's host side. */
int lbq_eval_base_chunks(const struct lbq_update_cfg *ucfg, int64_t n, int64_t chunk, const float *m, const float *v,
                         double *ue, uint8_t *okm, struct lbq_acc *chunk_acc, struct lbq_acc *base_total);
int lbq_eval_conf_plans(const struct lbq_config *conf, const struct lbq_shape *sh, struct lbq_qplan q[2],
                        int has[2], struct lbq_param_eval *o, int64_t *unit, int *need_st);

/* accum.c: the histogram bin of f by the engine's bit-pattern tables (which 0: relative error, equal to
 * lbq_rel_bin(f, lbq_log2f_or0(f)); 1: h, equal to lbq_h_bin(f, lbq_log2f_or0(f))); -1 if the tables
 * could not be built (then the engine uses the scalar functions) */
int lbq_acc_table_bin(int which, float f);
/* accum.c: the AVX-512VL compilation of the metric loop (same bits as the AVX2 one): on = 0 turns it
 * off, 1 on where the CPU has AVX-512 F/VL/BW/DQ, -1 asks; returns whether it is used */
int lbq_acc_avx512(int on);

/* lbq_log2f_or0: accum-core.h */
#include "accum-core.h"

/* simd.c: vectorized inner loops, bit-identical to the qcore.h per-element functions (the block
 * kernels the maps call are declared in quantizers/lbq-quant-impl.h) */
/* lbq_simd_level(): include/lbq.h */
void  lbq_simd_enable(int on);          /* 0 forces the portable loops (tests); 1 the best available; 2 (AVX2), 3 (AVX-512): at most that level */
/* At most this level (0 portable, 2 AVX2, 3 AVX-512; -1 the best available): tests run every level
 * the machine has.  Returns the level now in use. */
int   lbq_simd_set(int level);
/* lbq_pack / lbq_unpack for 1-7 bits with BMI2 (pext/pdep), the same bytes: returns 0 (nothing
 * usable written) where not available, or for pack where a code has bits at or above `bits` */
int   lbq_pack_simd(const uint8_t *codes, int64_t n, int bits, uint8_t *out);
int   lbq_unpack_simd(const uint8_t *in, int64_t n, int bits, uint8_t *codes);
/* One row run of lbq_tstats_add: returns max |x| over finite x (0 if none), mr[j] = max(mr[j], |x[j]|)
 * over finite x, *nf += the number of non-finite x */
float lbq_row_absmax(const float *x, int64_t n, float *mr, int64_t *nf);
/* Nearest rounding on a table plan: xhat[i] = q[c] * sc[i] with c = the number of midpoints below
 * lbq_normalize(x[i], sc[i]); codes nullable. */
void  lbq_table_nearest(const struct lbq_qplan *p, int64_t n, const float *x, const float *sc,
                        float *xhat, uint8_t *codes);
/* The same with block absmax scales (p->block consecutive elements; n a multiple of the block or
 * the range ends the tensor), computed block by block; scale (nullable) receives them per element,
 * bscale (nullable) one per block. */
void  lbq_table_nearest_blocks(const struct lbq_qplan *p, int64_t n, const float *x, float *xhat,
                               uint8_t *codes, float *scale, float *bscale);
/* The same with rank-1 scales (the normalization of kind LBQ_NORM_RANK1 on a tensor of rank >= 2,
 * statistics st), taken per element in the loop: returns 0 (nothing done) where there is no
 * vector path */
int   lbq_table_nearest_rank1(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, int64_t n,
                              const float *x, float *xhat, uint8_t *codes);

#endif
