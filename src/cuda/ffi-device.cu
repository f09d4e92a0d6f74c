// ffi-device.cu - the device-pointer entry of the C ABI (lbq_ffi_qdq_device, src/capi.c): one float32
// tensor that already lives in CUDA device memory, quantized by the kernels of lbq-cuda.cu (the
// per-element math of quantizers/qcore.h) without a round trip through host memory.
//
// The sequence (lbq_cuda_ffi_qdq), on the caller's stream, synchronous on return:
//   1. the tensor statistics a global normalization reads (tensor absmax; per-dimension maxima of
//      row, col, rank-1): k_tstats, an atomic max over the bit patterns of the finite |x| (for
//      non-negative floats the order of the patterns is the order of the values, and a maximum does
//      not depend on the order of the reduction, so the values equal lbq_tstats_add's);
//   2. the kernels of one piece over the whole tensor (launch_piece: block absmax, then the map);
//   3. the per-call statistics (k_ffi_stats): a fixed split over LBQ_FFI_DEV_BLOCKS x
//      LBQ_FFI_DEV_THREADS threads, a tree reduction in each CUDA block, and the per-block parts
//      summed on the host in block order.  src/capi.c's CPU twin runs the same split, so the twin's
//      double sums equal the GPU's bit for bit; against the host entry (which sums in element order)
//      they agree to rounding, the integer counts exactly.
// Scratch (block scales, a copy of x for in-place calls with statistics, codes for the histogram)
// comes from the stream-ordered allocator (cudaMallocAsync) and is freed before returning.
#include <cuda_runtime.h>

#include <string.h>

#include "lbq-cuda-impl.cuh"

namespace lbqcuda {

// 1. tensor statistics: absmax and (rank >= 2) every dimension's per-index maxima, as bit patterns
__global__ void __launch_bounds__(THREADS) k_tstats(const float *x, int64_t n, int rank, KArgs dims,
                                                    unsigned *absmax, unsigned *dimbits,
                                                    unsigned long long *nonfinite)
{
    unsigned long long nf = 0;
    unsigned am = 0;
    for (int64_t i = (int64_t)blockIdx.x * THREADS + threadIdx.x; i < n; i += (int64_t)gridDim.x * THREADS) {
        float a = lbq_absf(x[i]);
        if (!lbq_isfinite(a)) { nf++; a = 0.0f; }
        const unsigned u = lbq_f2u(a);
        if (u > am) am = u;
        if (rank >= 2 && u != 0) {
            int64_t idx[LBQ_MAX_RANK];
            lbq_unravel(i, dims.dim, rank, idx);
            for (int d = 0; d < rank; d++) atomicMax(&dimbits[dims.dimoff[d] + idx[d]], u);
        }
    }
    atomicMax(absmax, am);
    if (nf) atomicAdd(nonfinite, nf);
}

// 3. statistics: thread g of the fixed grid takes elements g, g + G, g + 2G, ... (G = blocks x
// threads), the CUDA block reduces its threads' partial sums as a tree (stride 128, 64, ..., 1), and
// writes one part; codes are counted in a shared histogram added once per CUDA block.
__global__ void __launch_bounds__(LBQ_FFI_DEV_THREADS) k_ffi_stats(const float *x, const float *xh,
                                                                   const uint8_t *codes, int64_t n,
                                                                   struct lbq_ffi_dev_part *parts,
                                                                   unsigned long long *hist)
{
    __shared__ int64_t c[4][LBQ_FFI_DEV_THREADS];
    __shared__ double s[2][LBQ_FFI_DEV_THREADS];
    __shared__ unsigned long long h[256];
    const int t = threadIdx.x;
    h[t] = 0;
    __syncthreads();
    struct lbq_ffi_dev_part p;
    memset(&p, 0, sizeof p);
    const int64_t G = (int64_t)LBQ_FFI_DEV_BLOCKS * LBQ_FFI_DEV_THREADS;
    for (int64_t i = (int64_t)blockIdx.x * LBQ_FFI_DEV_THREADS + t; i < n; i += G) {
        lbq_ffi_dev_acc(&p, x[i], xh[i]);
        atomicAdd(&h[codes[i]], 1ull);
    }
    c[0][t] = p.nonfinite; c[1][t] = p.zeroed; c[2][t] = p.lifted; c[3][t] = p.zeros_in;
    s[0][t] = p.sum_sq_err; s[1][t] = p.sum_sq;
    __syncthreads();
    for (int stride = LBQ_FFI_DEV_THREADS / 2; stride > 0; stride >>= 1) {
        if (t < stride) {
            for (int k = 0; k < 4; k++) c[k][t] += c[k][t + stride];
            s[0][t] += s[0][t + stride];
            s[1][t] += s[1][t + stride];
        }
        __syncthreads();
    }
    if (t == 0) {
        struct lbq_ffi_dev_part &o = parts[blockIdx.x];
        o.nonfinite = c[0][0]; o.zeroed = c[1][0]; o.lifted = c[2][0]; o.zeros_in = c[3][0];
        o.sum_sq_err = s[0][0]; o.sum_sq = s[1][0];
    }
    if (h[t]) atomicAdd(&hist[t], h[t]);
}

// Scratch of one call (stream-ordered); freed by release() on every path.
struct Scratch {
    cudaStream_t s;
    void *p[8];
    int n;
    int alloc(void **out, size_t bytes)
    {
        *out = nullptr;
        TRY_CUDA(cudaMallocAsync(out, bytes ? bytes : 1, s));
        p[n++] = *out;
        return LBQ_OK;
    }
    void release()
    {
        for (int i = 0; i < n; i++) cudaFreeAsync(p[i], s);
        n = 0;
        cudaStreamSynchronize(s);
    }
};

int ffi_qdq(const struct lbq_qplan *p, const struct lbq_shape *sh, const float *d_x, float *d_out,
            uint8_t *d_codes, cudaStream_t s, struct lbq_ffi_dev_stats *out, Scratch &sc)
{
    const int64_t N = sh->numel;
    struct lbq_tstats st;
    memset(&st, 0, sizeof st);
    st.shape = *sh;
    Plan pl;
    const float *src = d_x;
    // 1. tensor statistics, on the device; the host copy feeds make_plan (absmax, dimension offsets)
    const float *d_dim = nullptr;
    if (p->norm->global_stats) {
        int64_t tot = 0;
        for (int d = 0; d < sh->rank && sh->rank >= 2; d++) { st.dimoff[d] = tot; tot += sh->dim[d]; }
        unsigned *d_bits = nullptr;
        unsigned long long *d_nf = nullptr;
        TRY(sc.alloc((void **)&d_bits, sizeof(unsigned) * (size_t)(tot + 1)));
        TRY(sc.alloc((void **)&d_nf, sizeof(unsigned long long)));
        TRY_CUDA(cudaMemsetAsync(d_bits, 0, sizeof(unsigned) * (size_t)(tot + 1), s));
        TRY_CUDA(cudaMemsetAsync(d_nf, 0, sizeof(unsigned long long), s));
        KArgs dims;
        memset(&dims, 0, sizeof dims);
        for (int d = 0; d < sh->rank; d++) { dims.dim[d] = sh->dim[d]; dims.dimoff[d] = st.dimoff[d]; }
        k_tstats<<<grid_for(N, THREADS), THREADS, 0, s>>>(d_x, N, sh->rank, dims, d_bits, d_bits + 1, d_nf);
        TRY_CUDA(cudaGetLastError());
        unsigned am = 0;
        unsigned long long nf = 0;
        TRY_CUDA(cudaMemcpyAsync(&am, d_bits, sizeof am, cudaMemcpyDeviceToHost, s));
        TRY_CUDA(cudaMemcpyAsync(&nf, d_nf, sizeof nf, cudaMemcpyDeviceToHost, s));
        TRY_CUDA(cudaStreamSynchronize(s));
        st.absmax = lbq_u2f(am);
        st.nonfinite = (int64_t)nf;
        st.seen = N;
        if (sh->rank >= 2) {
            d_dim = (const float *)(d_bits + 1);      // the patterns are the floats themselves
            st.dimbuf = (float *)d_dim;               // make_plan checks it is set; never read on the host
            for (int d = 0; d < sh->rank; d++) st.dimmax[d] = st.dimbuf + st.dimoff[d];
        }
    }
    TRY(make_plan(p, p->norm->global_stats ? &st : nullptr, &pl));
    pl.a.dimbuf = d_dim;
    // in place with statistics: keep the input
    if (out && d_out == d_x && N > 0) {
        float *copy = nullptr;
        TRY(sc.alloc((void **)&copy, sizeof(float) * (size_t)N));
        TRY_CUDA(cudaMemcpyAsync(copy, d_x, sizeof(float) * (size_t)N, cudaMemcpyDeviceToDevice, s));
        src = copy;
    }
    uint8_t *codes = d_codes;
    if (!codes && out) TRY(sc.alloc((void **)&codes, (size_t)N));
    float *d_bscale = nullptr;
    if (pl.needs_bscale) TRY(sc.alloc((void **)&d_bscale, sizeof(float) * (size_t)((N + pl.a.B - 1) / pl.a.B)));
    // 2. the kernels, one piece over the whole tensor
    KArgs a = pl.a;
    a.n = N;
    a.off = 0;
    TRY(launch_piece(pl, a, src, d_bscale, d_out, codes, s));
    // 3. statistics
    if (out) {
        struct lbq_ffi_dev_part *d_parts = nullptr;
        unsigned long long *d_hist = nullptr;
        TRY(sc.alloc((void **)&d_parts, sizeof(struct lbq_ffi_dev_part) * LBQ_FFI_DEV_BLOCKS));
        TRY(sc.alloc((void **)&d_hist, sizeof(unsigned long long) * 256));
        TRY_CUDA(cudaMemsetAsync(d_hist, 0, sizeof(unsigned long long) * 256, s));
        if (N > 0) {
            k_ffi_stats<<<LBQ_FFI_DEV_BLOCKS, LBQ_FFI_DEV_THREADS, 0, s>>>(src, d_out, codes, N, d_parts, d_hist);
            TRY_CUDA(cudaGetLastError());
        } else {
            TRY_CUDA(cudaMemsetAsync(d_parts, 0, sizeof(struct lbq_ffi_dev_part) * LBQ_FFI_DEV_BLOCKS, s));
        }
        unsigned long long hist[256];
        TRY_CUDA(cudaMemcpyAsync(out->part, d_parts, sizeof out->part, cudaMemcpyDeviceToHost, s));
        TRY_CUDA(cudaMemcpyAsync(hist, d_hist, sizeof hist, cudaMemcpyDeviceToHost, s));
        TRY_CUDA(cudaStreamSynchronize(s));
        for (int k = 0; k < 256; k++) out->code_hist[k] = (int64_t)hist[k];
    }
    TRY_CUDA(cudaStreamSynchronize(s));
    return LBQ_OK;
}

} // namespace lbqcuda
using namespace lbqcuda;

extern "C" int lbq_cuda_ffi_qdq(const struct lbq_qplan *p, const struct lbq_shape *sh, const float *d_x,
                                float *d_out, uint8_t *d_codes, void *stream, struct lbq_ffi_dev_stats *out)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        cudaGetLastError();
        return lbq_err(LBQ_ERR_UNSUPPORTED, "no CUDA device (%s)", e != cudaSuccess ? cudaGetErrorString(e) : "cudaGetDeviceCount found none");
    }
    TRY(check_device());                        // an earlier sticky error fails fast
    // the tensor's device becomes current for the call (restored after)
    const void *ptrs[3] = { d_x, d_out, d_codes };
    int dev = -1;
    for (int k = 0; k < 3; k++) {
        if (!ptrs[k]) continue;
        cudaPointerAttributes at;
        e = cudaPointerGetAttributes(&at, ptrs[k]);
        if (e != cudaSuccess) { cudaGetLastError(); at.type = cudaMemoryTypeUnregistered; }
        if (at.type != cudaMemoryTypeDevice && at.type != cudaMemoryTypeManaged)
            return lbq_err(LBQ_ERR_ARG, "lbq_ffi_qdq_device: the %s pointer is not CUDA device memory",
                           k == 0 ? "input" : k == 1 ? "output" : "codes");
        if (dev < 0) dev = at.device;
        else if (at.device != dev)
            return lbq_err(LBQ_ERR_ARG, "lbq_ffi_qdq_device: the buffers are on different devices (%d and %d)", dev, at.device);
    }
    int prev = 0;
    TRY_CUDA(cudaGetDevice(&prev));
    if (dev >= 0 && dev != prev) TRY_CUDA(cudaSetDevice(dev));
    Scratch sc;
    memset(&sc, 0, sizeof sc);
    sc.s = (cudaStream_t)stream;
    int rc = ffi_qdq(p, sh, d_x, d_out, d_codes, sc.s, out, sc);
    sc.release();
    if (rc != LBQ_OK) cudaGetLastError();       // a non-sticky error does not leak into the next call
    if (dev >= 0 && dev != prev) cudaSetDevice(prev);
    return rc;
}

extern "C" int lbq_cuda_dev_alloc(void **p, size_t bytes)
{
    TRY_CUDA(cudaMalloc(p, bytes ? bytes : 1));
    return LBQ_OK;
}
extern "C" void lbq_cuda_dev_free(void *p) { cudaFree(p); }
extern "C" int lbq_cuda_dev_copy(void *dst, const void *src, size_t bytes, int to_device)
{
    TRY_CUDA(cudaMemcpy(dst, src, bytes, to_device ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost));
    return LBQ_OK;
}
