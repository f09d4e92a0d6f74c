// engine.cu - the device-resident evaluation engine's GPU backend (src/lbq-evaldev.h, docs/cuda.md).
// Per slab: m and v are uploaded once (pinned host memory, one stream); for every configuration the
// qdq kernels of lbq-cuda.cu write m^ and v^ into device buffers, k_accq accumulates the quantized
// part of the metrics with the per-element functions of src/accum-core.h (the same ones the CPU
// engine runs) and k_accq_final folds the block partial sums in block order.  Only the
// accumulators (struct lbq_accq, about 11 KB per configuration) come back, at finish().
//
// Reduction order (fixed, so results do not depend on the GPU or on timing; the CPU twin in
// src/eval-dev.c repeats it): LBQ_ACCQ_GRID blocks x LBQ_ACCQ_THREADS threads, thread t of block b
// takes elements b*T + t + j*G*T in order; block tree in shared memory; block partials summed in
// block order per slab, slab totals in slab order.  Counts and histograms: integer atomics (exact).
#include <cuda_runtime.h>

#include <stdlib.h>
#include <string.h>

#include "lbq-cuda-impl.cuh"
#include "lbq-evaldev.h"

namespace lbqcuda {

constexpr int AT = LBQ_ACCQ_THREADS, AG = LBQ_ACCQ_GRID, NS = LBQ_ACCQ_NSUMS, NP = LBQ_ACCQ_NSUMS + 2;
static_assert(AT == 256, "the tree below assumes 256 threads");

__global__ void __launch_bounds__(AT) k_accq(const float *m, const float *mh, const float *v, const float *vh, int64_t n,
                                             double k, const __grid_constant__ lbq_update_cfg cfg, double *partial,
                                             lbq_accq *acc)
{
    __shared__ unsigned hr[2][LBQ_REL_NBINS];
    __shared__ unsigned hq[LBQ_H_NBINS];
    __shared__ unsigned long long cnt[LBQ_ACCQ_NCOUNTS];
    __shared__ double red[AT];
    const int t = threadIdx.x;
    for (int i = t; i < LBQ_REL_NBINS; i += AT) { hr[0][i] = 0; hr[1][i] = 0; }
    for (int i = t; i < LBQ_H_NBINS; i += AT) hq[i] = 0;
    if (t < LBQ_ACCQ_NCOUNTS) cnt[t] = 0;
    __syncthreads();
    double s[NS];
    for (int j = 0; j < NS; j++) s[j] = 0.0;
    double x0 = 0.0, x1 = 0.0;
    unsigned c[LBQ_ACCQ_NCOUNTS] = { 0 };
    struct lbq_accq_elem r;
    const int64_t stride = (int64_t)AG * AT;
    for (int64_t i = (int64_t)blockIdx.x * AT + t; i < n; i += stride) {
        int ok;
        double sv;
        const double u = lbq_acc_exact_update(m[i], v[i], k, &cfg, &ok, &sv);
        lbq_accq_elem(m[i], mh[i], v[i], vh[i], u, ok, k, &cfg, &r);
        for (int j = 0; j < NS; j++) s[j] += r.s[j];
        x0 = r.e[0] > x0 ? r.e[0] : x0;
        x1 = r.e[1] > x1 ? r.e[1] : x1;
        for (int j = 0; j < LBQ_ACCQ_NCOUNTS; j++) c[j] += (unsigned)r.c[j];
        if (ok) {
            atomicAdd(&hr[0][r.rbin[0]], 1u);
            atomicAdd(&hr[1][r.rbin[1]], 1u);
            atomicAdd(&hq[r.hbin], 1u);
        }
    }
    for (int j = 0; j < LBQ_ACCQ_NCOUNTS; j++)
        if (c[j]) atomicAdd(&cnt[j], (unsigned long long)c[j]);
    // the block's tree, one quantity at a time (sums, then the two maxima)
    for (int j = 0; j < NP; j++) {
        red[t] = (j < NS) ? s[j] : (j == NS ? x0 : x1);
        __syncthreads();
        for (int st = AT / 2; st > 0; st >>= 1) {
            if (t < st) red[t] = (j < NS) ? red[t] + red[t + st] : (red[t + st] > red[t] ? red[t + st] : red[t]);
            __syncthreads();
        }
        if (t == 0) partial[(int64_t)blockIdx.x * NP + j] = red[0];
        __syncthreads();
    }
    for (int i = t; i < LBQ_REL_NBINS; i += AT) {
        if (hr[0][i]) atomicAdd((unsigned long long *)&acc->rel_hist[0][i], (unsigned long long)hr[0][i]);
        if (hr[1][i]) atomicAdd((unsigned long long *)&acc->rel_hist[1][i], (unsigned long long)hr[1][i]);
    }
    for (int i = t; i < LBQ_H_NBINS; i += AT)
        if (hq[i]) atomicAdd((unsigned long long *)&acc->h_quant[i], (unsigned long long)hq[i]);
    if (t < LBQ_ACCQ_NCOUNTS && cnt[t]) atomicAdd((unsigned long long *)&acc->cnt[t], cnt[t]);
}

// One thread per quantity: the slab's block partials in block order, added to the running total.
__global__ void k_accq_final(const double *partial, lbq_accq *acc)
{
    const int j = threadIdx.x;
    if (j >= NP) return;
    double a = 0.0;
    for (int b = 0; b < AG; b++) {
        const double p = partial[(int64_t)b * NP + j];
        a = (j < NS) ? a + p : (p > a ? p : a);
    }
    if (j < NS) acc->sum[j] += a;
    else acc->mx[j - NS] = a > acc->mx[j - NS] ? a : acc->mx[j - NS];
}

struct Engine {
    cudaStream_t s;
    cudaEvent_t uploaded;
    int nconf;
    int64_t cap;
    float *d_m, *d_v, *d_mh, *d_vh, *d_bscale, *d_dim[2];
    double *d_partial;
    lbq_accq *d_acc;
    Plan *pm, *pv;                      // per configuration; map < 0: fp32
    int *has_m, *has_v;
    lbq_update_cfg cfg;
    double k;
};

void engine_free(Engine *e)
{
    if (!e) return;
    if (e->s) cudaStreamSynchronize(e->s);
    cudaFree(e->d_m); cudaFree(e->d_v); cudaFree(e->d_mh); cudaFree(e->d_vh); cudaFree(e->d_bscale);
    cudaFree(e->d_dim[0]); cudaFree(e->d_dim[1]); cudaFree(e->d_partial); cudaFree(e->d_acc);
    if (e->uploaded) cudaEventDestroy(e->uploaded);
    if (e->s) cudaStreamDestroy(e->s);
    free(e->pm); free(e->pv); free(e->has_m); free(e->has_v);
    free(e);
    cudaGetLastError();                 // a non-sticky error of the teardown is not the caller's
}

// Upload the per-dimension maxima of st (row, col, rank1 read them) into d_dim.
int upload_stats(Engine *e, const struct lbq_tstats *st, int which)
{
    if (!st || st->shape.rank < 2 || !st->dimbuf) return LBQ_OK;
    const int r = st->shape.rank;
    const int64_t tot = st->dimoff[r - 1] + st->shape.dim[r - 1];
    TRY_CUDA(cudaMalloc((void **)&e->d_dim[which], sizeof(float) * (size_t)(tot > 0 ? tot : 1)));
    if (tot > 0) TRY_CUDA(cudaMemcpy(e->d_dim[which], st->dimbuf, sizeof(float) * (size_t)tot, cudaMemcpyHostToDevice));
    return LBQ_OK;
}

int engine_begin(Engine *e, int64_t cap, int nconf, const struct lbq_devq_conf *conf, const struct lbq_tstats *stm,
                 const struct lbq_tstats *stv, const struct lbq_update_cfg *cfg)
{
    TRY(check_device());
    e->nconf = nconf;
    e->cap = cap > 0 ? cap : 1;
    e->cfg = *cfg;
    e->k = lbq_update_k(cfg);
    e->pm = (Plan *)calloc((size_t)nconf + 1, sizeof(Plan));
    e->pv = (Plan *)calloc((size_t)nconf + 1, sizeof(Plan));
    e->has_m = (int *)calloc((size_t)nconf + 1, sizeof(int));
    e->has_v = (int *)calloc((size_t)nconf + 1, sizeof(int));
    if (!e->pm || !e->pv || !e->has_m || !e->has_v) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    TRY_CUDA(cudaStreamCreateWithFlags(&e->s, cudaStreamNonBlocking));
    TRY_CUDA(cudaEventCreateWithFlags(&e->uploaded, cudaEventDisableTiming));
    const size_t fb = sizeof(float) * (size_t)e->cap;
    TRY_CUDA(cudaMalloc((void **)&e->d_m, fb));
    TRY_CUDA(cudaMalloc((void **)&e->d_v, fb));
    TRY_CUDA(cudaMalloc((void **)&e->d_mh, fb));
    TRY_CUDA(cudaMalloc((void **)&e->d_vh, fb));
    TRY_CUDA(cudaMalloc((void **)&e->d_bscale, fb));       // one scale per block: at most one per element
    TRY_CUDA(cudaMalloc((void **)&e->d_partial, sizeof(double) * (size_t)AG * NP));
    TRY_CUDA(cudaMalloc((void **)&e->d_acc, sizeof(lbq_accq) * (size_t)nconf + 1));
    TRY_CUDA(cudaMemset(e->d_acc, 0, sizeof(lbq_accq) * (size_t)nconf + 1));
    TRY(upload_stats(e, stm, 0));
    TRY(upload_stats(e, stv, 1));
    for (int c = 0; c < nconf; c++) {
        if (conf[c].m) {
            TRY(make_plan(conf[c].m, stm, &e->pm[c]));
            e->pm[c].a.dimbuf = e->d_dim[0];
            e->has_m[c] = 1;
        }
        if (conf[c].v) {
            TRY(make_plan(conf[c].v, stv, &e->pv[c]));
            e->pv[c].a.dimbuf = e->d_dim[1];
            e->has_v[c] = 1;
        }
    }
    return LBQ_OK;
}

int engine_submit(Engine *e, int64_t off, int64_t n, const float *m, const float *v)
{
    if (n <= 0) return LBQ_OK;
    if (n > e->cap) return lbq_err(LBQ_ERR_ARG, "CUDA engine: slab of %lld elements > capacity %lld", (long long)n, (long long)e->cap);
    const size_t fb = sizeof(float) * (size_t)n;
    TRY_CUDA(cudaMemcpyAsync(e->d_m, m, fb, cudaMemcpyHostToDevice, e->s));
    TRY_CUDA(cudaMemcpyAsync(e->d_v, v, fb, cudaMemcpyHostToDevice, e->s));
    TRY_CUDA(cudaEventRecord(e->uploaded, e->s));
    for (int c = 0; c < e->nconf; c++) {
        const float *mh = e->d_m, *vh = e->d_v;
        if (e->has_m[c]) {
            KArgs a = e->pm[c].a;
            a.n = n;
            a.off = off;
            TRY(launch_piece(e->pm[c], a, e->d_m, e->d_bscale, e->d_mh, nullptr, e->s));
            mh = e->d_mh;
        }
        if (e->has_v[c]) {
            KArgs a = e->pv[c].a;
            a.n = n;
            a.off = off;
            TRY(launch_piece(e->pv[c], a, e->d_v, e->d_bscale, e->d_vh, nullptr, e->s));
            vh = e->d_vh;
        }
        k_accq<<<AG, AT, 0, e->s>>>(e->d_m, mh, e->d_v, vh, n, e->k, e->cfg, e->d_partial, e->d_acc + c);
        TRY_CUDA(cudaGetLastError());
        k_accq_final<<<1, 32, 0, e->s>>>(e->d_partial, e->d_acc + c);
        TRY_CUDA(cudaGetLastError());
    }
    return LBQ_OK;
}

// ---- the backend table --------------------------------------------------------------------------------
void *eng_host_alloc(size_t bytes)
{
    void *p = nullptr;
    if (cudaHostAlloc(&p, bytes ? bytes : 1, cudaHostAllocDefault) != cudaSuccess) {
        cudaGetLastError();
        return malloc(bytes ? bytes : 1);           // pageable: still correct, uploads synchronous
    }
    return p;
}
void eng_host_free(void *p)
{
    cudaPointerAttributes at;
    if (cudaPointerGetAttributes(&at, p) == cudaSuccess && at.type == cudaMemoryTypeHost) cudaFreeHost(p);
    else { cudaGetLastError(); free(p); }
}
int eng_begin(void **ctx, int64_t cap, int nconf, const struct lbq_devq_conf *conf, const struct lbq_tstats *stm,
              const struct lbq_tstats *stv, const struct lbq_update_cfg *cfg)
{
    Engine *e = (Engine *)calloc(1, sizeof(Engine));
    *ctx = e;
    if (!e) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    return engine_begin(e, cap, nconf, conf, stm, stv, cfg);
}
int eng_submit(void *ctx, int64_t off, int64_t n, const float *m, const float *v)
{
    return engine_submit((Engine *)ctx, off, n, m, v);
}
int eng_wait(void *ctx)
{
    TRY_CUDA(cudaEventSynchronize(((Engine *)ctx)->uploaded));
    return LBQ_OK;
}
int eng_finish(void *ctx, struct lbq_accq *out)
{
    Engine *e = (Engine *)ctx;
    TRY_CUDA(cudaMemcpyAsync(out, e->d_acc, sizeof(lbq_accq) * (size_t)e->nconf, cudaMemcpyDeviceToHost, e->s));
    TRY_CUDA(cudaStreamSynchronize(e->s));
    return LBQ_OK;
}
void eng_end(void *ctx) { engine_free((Engine *)ctx); }

} // namespace lbqcuda

extern "C" const struct lbq_devq_ops lbq_devq_cuda = {
    "cuda", lbqcuda::eng_host_alloc, lbqcuda::eng_host_free, lbqcuda::eng_begin, lbqcuda::eng_submit,
    lbqcuda::eng_wait, lbqcuda::eng_finish, lbqcuda::eng_end,
};
