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
int lbq_cuda_check(void) { return lbq_err(LBQ_ERR_CUDA, "no CUDA device (this lbq was built without CUDA)"); }
const char *lbq_cuda_device_info(void) { return "no CUDA device (this lbq was built without CUDA)"; }
int lbq_cuda_test_error(const char *call, int code)
{
    return lbq_err(LBQ_ERR_CUDA, "CUDA: %s: error %d (this lbq was built without CUDA)", call, code);
}
int64_t lbq_cuda_set_piece_elems(int64_t n) { (void)n; return 0; }
int lbq_cuda_bench(int64_t numel, int reps, struct lbq_cuda_bench_row *rows, int max_rows, int *nrows)
{
    (void)numel; (void)reps; (void)rows; (void)max_rows;
    if (nrows) *nrows = 0;
    return lbq_err(LBQ_ERR_CUDA, "this lbq was built without CUDA (rebuild with -DLBQ_CUDA=ON)");
}

/* The agreement checks are plain C and also run here (CPU consistency checks only): CMake adds just
 * this file to CPU-only builds, so the harness is compiled through it. */
#include "cuda-selftest.c"
