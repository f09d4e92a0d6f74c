/* lbq-evaldev.h - the device-resident evaluation engine of analyze and sweep (docs/cuda.md).
 *
 * lbq_eval_param_dev() reads a parameter's m and v in slabs, as lbq_eval_param() does, and hands
 * every slab to a backend once: the backend uploads it, runs every configuration's
 * quantize-dequantize and the accumulation of the quantized part of the metrics (lbq_accq,
 * accum-core.h) where the slab lives, and returns only the accumulators at the end.  While it
 * works, the host accumulates the raw-state part (src/accum.c, the CPU engine's own code, once per
 * slab) and reads the next slab.
 *
 * Backends: lbq_devq_cuda (src/cuda/engine.cu; the GPU) and lbq_devq_twin (src/eval-dev.c; the
 * GPU's CPU twin: the same per-element functions, the same work split over 512 x 256 "threads"
 * and the same reduction order, compiled by gcc, so its sums equal the GPU's bit for bit while the
 * quantizer is lbq_qdq, which equals the GPU's lbq_cuda_qdq bit for bit).  Counts and histograms
 * equal the CPU engine's exactly; sums agree with the CPU engine's (which add in 4 lanes per
 * 64K-element chunk) to a relative 1e-12 of the sum of the terms' magnitudes (docs/cuda.md). */
#ifndef LBQ_EVALDEV_H
#define LBQ_EVALDEV_H

#include "lbq.h"
#include "lbq-metrics.h"
#include "accum-core.h"

#ifdef __cplusplus
extern "C" {
#endif

struct lbq_devq_conf {
    const struct lbq_qplan *m, *v;      /* NULL: that state stays fp32 */
};

struct lbq_devq_ops {
    const char *name;
    /* host memory for the slabs (pinned for the GPU, so uploads are asynchronous) */
    void *(*host_alloc)(size_t bytes);
    void  (*host_free)(void *p);
    /* allocate for slabs of up to slab_cap elements and nconf configurations; the plans, the tensor
     * statistics (complete; NULL when no plan reads them) and cfg stay valid until end() */
    int  (*begin)(void **ctx, int64_t slab_cap, int nconf, const struct lbq_devq_conf *conf,
                  const struct lbq_tstats *stm, const struct lbq_tstats *stv, const struct lbq_update_cfg *cfg);
    /* queue slab [off, off+n): upload m and v, every configuration's qdq and accumulation */
    int  (*submit)(void *ctx, int64_t off, int64_t n, const float *m, const float *v);
    /* wait until the host slab of the last submit may be overwritten */
    int  (*wait_upload)(void *ctx);
    /* wait for all work, copy the nconf accumulators out */
    int  (*finish)(void *ctx, struct lbq_accq *out);
    void (*end)(void *ctx);             /* frees; ctx may be NULL */
};

extern const struct lbq_devq_ops lbq_devq_cuda;   /* src/cuda/engine.cu, or a stub without CUDA */
extern const struct lbq_devq_ops lbq_devq_twin;   /* src/eval-dev.c */

/* lbq_eval_param through a backend.  Returns LBQ_DEVQ_NOT_HANDLED (nothing done) when the file's
 * eps <= 0 (the engine implements the split accumulation of src/accum.c, which needs eps > 0):
 * the caller then uses the CPU engine's path. */
#define LBQ_DEVQ_NOT_HANDLED (-1)
int lbq_eval_param_dev(struct lbq_file *f, int p, const struct lbq_config *conf, int nconf,
                       const struct lbq_eval_opts *opts, const struct lbq_devq_ops *ops,
                       struct lbq_param_eval *out);

/* The quantized part of one slab on the CPU in the GPU's work split and order, added to *acc
 * (the twin's kernel; tests compare it with src/accum.c). */
void lbq_accq_twin_add(struct lbq_accq *acc, const struct lbq_update_cfg *cfg, int64_t n, const float *m,
                       const float *mh, const float *v, const float *vh);
/* Add an lbq_accq into the matching fields of an lbq_acc. */
void lbq_accq_to_acc(const struct lbq_accq *q, struct lbq_acc *a);

/* lbq_devq_selfcheck(): include/lbq-metrics.h */
/* The same check between any two backends (lbq_devq_selfcheck: cuda against twin). */
int lbq_devq_compare(const struct lbq_devq_ops *a, const struct lbq_devq_ops *b);

#ifdef __cplusplus
}
#endif
#endif
