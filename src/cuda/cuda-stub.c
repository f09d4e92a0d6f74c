/* cuda-stub.c - the CUDA entry points of a build without the CUDA backend. */
#include "lbq.h"
#include "lbq-cuda.h"
#include "lbq-evaldev.h"

#include <stdlib.h>

int lbq_cuda_device_count(void) { return 0; }
const char *lbq_cuda_build_info(void) { return "not built (CPU-only build)"; }
int lbq_cuda_qdq(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, int64_t n,
                 const float *x, float *xhat, uint8_t *codes)
{
    (void)p; (void)st; (void)off; (void)n; (void)x; (void)xhat; (void)codes;
    return lbq_err(LBQ_ERR_CUDA, "no CUDA device (this lbq was built without CUDA; rebuild with -DLBQ_CUDA=ON)");
}
int lbq_cuda_ffi_qdq(const struct lbq_qplan *p, const struct lbq_shape *sh, const float *d_x, float *d_out,
                     uint8_t *d_codes, void *stream, struct lbq_ffi_dev_stats *out)
{
    (void)p; (void)sh; (void)d_x; (void)d_out; (void)d_codes; (void)stream; (void)out;
    return lbq_err(LBQ_ERR_UNSUPPORTED, "no device entry point: this library was built without CUDA "
                   "(rebuild with nvcc and -DLBQ_CUDA=ON)");
}
int lbq_cuda_dev_alloc(void **p, size_t bytes)
{
    (void)bytes;
    *p = NULL;
    return lbq_err(LBQ_ERR_UNSUPPORTED, "this library was built without CUDA");
}
void lbq_cuda_dev_free(void *p) { (void)p; }
int lbq_cuda_dev_copy(void *dst, const void *src, size_t bytes, int to_device)
{
    (void)dst; (void)src; (void)bytes; (void)to_device;
    return lbq_err(LBQ_ERR_UNSUPPORTED, "this library was built without CUDA");
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

/* the device-resident engine's GPU backend: every start fails */
static void *stub_host_alloc(size_t bytes) { return malloc(bytes ? bytes : 1); }
static void stub_host_free(void *p) { free(p); }
static int stub_begin(void **ctx, int64_t cap, int nconf, const struct lbq_devq_conf *conf, const struct lbq_tstats *stm,
                      const struct lbq_tstats *stv, const struct lbq_update_cfg *cfg)
{
    (void)cap; (void)nconf; (void)conf; (void)stm; (void)stv; (void)cfg;
    *ctx = NULL;
    return lbq_err(LBQ_ERR_CUDA, "no CUDA device (this lbq was built without CUDA)");
}
static int stub_submit(void *ctx, int64_t off, int64_t n, const float *m, const float *v)
{
    (void)ctx; (void)off; (void)n; (void)m; (void)v;
    return lbq_err(LBQ_ERR_CUDA, "no CUDA device (this lbq was built without CUDA)");
}
static int stub_wait(void *ctx) { (void)ctx; return LBQ_OK; }
static int stub_finish(void *ctx, struct lbq_accq *out)
{
    (void)ctx; (void)out;
    return lbq_err(LBQ_ERR_CUDA, "no CUDA device (this lbq was built without CUDA)");
}
static void stub_end(void *ctx) { (void)ctx; }
const struct lbq_devq_ops lbq_devq_cuda = {
    "cuda", stub_host_alloc, stub_host_free, stub_begin, stub_submit, stub_wait, stub_finish, stub_end,
};

/* The agreement checks are plain C and also run here (CPU consistency checks only): CMake adds just
 * this file to CPU-only builds, so the harness is compiled through it. */
#include "cuda-selftest.c"
