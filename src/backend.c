/* backend.c - the backend table of the engine (lbq-backend.h): the CPU reference (lbq_qdq) and the
 * CUDA backend (lbq_cuda_qdq, or its stub in CPU-only builds). */
#include "lbq-backend.h"
#include "cuda/lbq-cuda.h"

static int cpu_qdq(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, int64_t n,
                   const float *x, float *xhat, float *scratch)
{
    return lbq_qdq(p, st, off, n, x, xhat, NULL, NULL, NULL, scratch);
}

static int cuda_qdq(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, int64_t n,
                    const float *x, float *xhat, float *scratch)
{
    (void)scratch;
    return lbq_cuda_qdq(p, st, off, n, x, xhat, NULL);
}

static const struct lbq_backend g_cpu = { "cpu", cpu_qdq };
static const struct lbq_backend g_cuda = { "cuda", cuda_qdq };

const struct lbq_backend *lbq_backend_get(int device) { return device == 1 ? &g_cuda : &g_cpu; }
