/* cuda-stub.c - the CUDA entry points of a build without the CUDA backend. */
#include "lbq.h"
#include "lbq-cuda.h"

int lbq_cuda_device_count(void) { return 0; }
const char *lbq_cuda_build_info(void) { return "not built (CPU-only build)"; }
int lbq_cuda_qdq(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, int64_t n,
                 const float *x, float *xhat, uint8_t *codes)
{
    (void)p; (void)st; (void)off; (void)n; (void)x; (void)xhat; (void)codes;
    return lbq_err(LBQ_ERR_CUDA, "this lbq was built without CUDA (rebuild with -DLBQ_CUDA=ON)");
}
