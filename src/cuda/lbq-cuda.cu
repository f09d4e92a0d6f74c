// lbq-cuda.cu - CUDA backend.  Per-element math comes from quantizers/qcore.h (the same header the
// CPU reference compiles), so the kernels only add the iteration, reductions and memory layout.
#include <cuda_runtime.h>

#include "lbq-cuda.h"
#include "qcore.h"

extern "C" int lbq_cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) { cudaGetLastError(); return 0; }
    return n;
}

extern "C" const char *lbq_cuda_build_info(void)
{
    return "CUDA " LBQ_STR(__CUDACC_VER_MAJOR__) "." LBQ_STR(__CUDACC_VER_MINOR__) " (sm_80, sm_90, PTX compute_90)";
}

extern "C" int lbq_cuda_qdq(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, int64_t n,
                            const float *x, float *xhat, uint8_t *codes)
{
    (void)p; (void)st; (void)off; (void)n; (void)x; (void)xhat; (void)codes;
    if (lbq_cuda_device_count() == 0) return lbq_err(LBQ_ERR_CUDA, "no CUDA device found");
    return lbq_err(LBQ_ERR_UNSUPPORTED, "CUDA qdq not implemented yet");
}
