/* lbq-backend.h - the engine's backends (private to src/): where a plan's quantize-dequantize runs.
 * The engine (eval.c) calls only through this table; the CUDA entry wraps src/cuda/lbq-cuda.h. */
#ifndef LBQ_BACKEND_H
#define LBQ_BACKEND_H

#include "lbq.h"

struct lbq_backend {
    const char *name;           /* "cpu", "cuda" */
    /* lbq_qdq's contract without codes and scales: xhat[n] for flat elements [off, off+n);
     * scratch holds n floats (the CPU uses it for the scales; CUDA ignores it) */
    int (*qdq)(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, int64_t n,
               const float *x, float *xhat, float *scratch);
};

/* device: 0 the CPU reference, 1 CUDA (lbq_eval_opts.device) */
const struct lbq_backend *lbq_backend_get(int device);

#endif
