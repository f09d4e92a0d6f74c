/* lbq-cuda.h - C interface of the CUDA backend (no CUDA types; implemented in lbq-cuda.cu, or by
 * cuda-stub.c in CPU-only builds). */
#ifndef LBQ_CUDA_H
#define LBQ_CUDA_H

#include "lbq.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Quantize/dequantize flat elements [off, off+n) on the GPU: same contract as lbq_qdq() (host
 * buffers in and out; the tensor statistics st are uploaded as needed).  LBQ_ERR_CUDA without a
 * device. */
int lbq_cuda_qdq(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, int64_t n,
                 const float *x, float *xhat, uint8_t *codes);

#ifdef __cplusplus
}
#endif
#endif
