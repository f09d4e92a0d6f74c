// lbq-cuda.cu - CUDA backend.  Per-element math comes from quantizers/qcore.h (the same header the
// CPU reference compiles), so the kernels only add the iteration, reductions and memory layout.
// Compiled with --fmad=false and without fast math: IEEE results identical to gcc -ffp-contract=off.
// docs/cuda.md walks through every kernel.
#include <cuda_runtime.h>

#include <mutex>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lbq-cuda-impl.cuh"

namespace lbqcuda {

// ---- device helpers ----------------------------------------------------------------------------

// Scale of piece element i: the same lookups as quantizers/norm-*.c, through qcore.h.
__device__ float elem_scale(const KArgs &a, const float *bscale, int64_t i)
{
    const int64_t g = a.off + i;
    switch (a.norm) {
    case N_BLOCK: return bscale[i / a.B];          // pieces start on block boundaries
    case N_ROW:   return a.dimbuf[a.dimoff[0] + lbq_row_of(g, a.row_elems)];
    case N_COL:   return a.dimbuf[a.dimoff[1] + lbq_col_of(g, a.inner, a.d1)];
    case N_RANK1: {
        int64_t idx[LBQ_MAX_RANK];
        lbq_unravel(g, a.dim, a.rank, idx);
        return lbq_rank1_scale(a.dimbuf, a.dimoff, idx, a.rank);
    }
    default:      return a.absmax;
    }
}

struct OpMax    { __device__ static float f(float m, float v) { return lbq_absmax_acc(m, v); } };
struct OpMinAbs { __device__ static float f(float m, float v) { return lbq_minabs_acc(m, v); } };

// Reduce v over a team of TEAM threads (32: the warp; THREADS: the CUDA block) with the qcore.h
// accumulation rule; every thread of the team gets the result.  Max and min are exact, so the
// order of the tree does not matter.  All threads of the CUDA block must call it (TEAM = THREADS).
template <int TEAM, class Op>
__device__ float team_reduce(float v, float *red)
{
    for (int o = 16; o > 0; o >>= 1) v = Op::f(v, __shfl_xor_sync(FULL_MASK, v, o));
    if constexpr (TEAM == 32) {
        (void)red;
        return v;
    } else {
        static_assert(TEAM == THREADS, "teams are a warp or the CUDA block");
        if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
        __syncthreads();
        float r = red[0];
        for (int w = 1; w < WARPS; w++) r = Op::f(r, red[w]);
        __syncthreads();                        // red may be reused right away
        return r;
    }
}

// Inclusive prefix sum of one value per thread over the 256-thread block.
__device__ unsigned block_scan(unsigned v, unsigned *wsum)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int o = 1; o < 32; o <<= 1) {
        unsigned y = __shfl_up_sync(FULL_MASK, v, o);
        if (lane >= o) v += y;
    }
    if (lane == 31) wsum[warp] = v;
    __syncthreads();
    unsigned before = 0;
    for (int w = 0; w < warp; w++) before += wsum[w];
    __syncthreads();
    return v + before;
}

// k-th smallest (0-based) of lbq_log_clean(xb[0..n-1]), exact: a radix selection on the bit
// patterns (for +0 and positive finite floats the order of the patterns is the order of the
// values), 8 bits per pass from the top.  Each pass histograms the values that match the digits
// chosen so far and picks the digit whose bin holds rank k.  Called by all 256 threads.
__device__ float log_select_kth(const float *xb, int64_t n, int64_t k, unsigned *hist, unsigned *wsum,
                                unsigned *sel)
{
    uint32_t prefix = 0, mask = 0;
    unsigned kk = (unsigned)k;                  // rank among the values matching prefix (n <= 2^30)
    for (int shift = 24; shift >= 0; shift -= 8) {
        hist[threadIdx.x] = 0;
        __syncthreads();
        for (int64_t i = threadIdx.x; i < n; i += THREADS) {
            uint32_t key = lbq_f2u(lbq_log_clean(xb[i]));
            if ((key & mask) == prefix) atomicAdd(&hist[(key >> shift) & 0xffu], 1u);
        }
        __syncthreads();
        const unsigned cnt = hist[threadIdx.x];
        const unsigned incl = block_scan(cnt, wsum), excl = incl - cnt;
        if (excl <= kk && kk < incl) { sel[0] = threadIdx.x; sel[1] = excl; }   // exactly one bin
        __syncthreads();
        prefix |= sel[0] << shift;
        mask |= 0xffu << shift;
        kk -= sel[1];
        __syncthreads();                        // sel and hist are rewritten by the next pass
    }
    return lbq_u2f(prefix);
}

// ---- kernels -------------------------------------------------------------------------------------

// Block absmax (norm-block.c): one team (a warp, or the whole CUDA block for big blocks) per
// quantization block; bscale[b] = max over the block of lbq_absmax_acc.
template <int TEAM>
__global__ void __launch_bounds__(THREADS) k_block_absmax(const float *x, int64_t n, int64_t B, float *bscale)
{
    __shared__ float red[WARPS];
    constexpr int TEAMS = THREADS / TEAM;
    const int team = threadIdx.x / TEAM, lane = threadIdx.x % TEAM;
    const int64_t nb = (n + B - 1) / B;
    for (int64_t base = (int64_t)blockIdx.x * TEAMS; base < nb; base += (int64_t)gridDim.x * TEAMS) {
        const int64_t b = base + team, b0 = b * B;
        const int64_t bn = (b < nb) ? ((n - b0 < B) ? n - b0 : B) : 0;
        float m = 0.0f;
        for (int64_t i = lane; i < bn; i += TEAM) m = lbq_absmax_acc(m, x[b0 + i]);
        m = team_reduce<TEAM, OpMax>(m, red);
        if (b < nb && lane == 0) bscale[b] = m;
    }
}

// Table maps (qdq.c qdq_table): one thread per element.
__global__ void __launch_bounds__(THREADS) k_table_qdq(const __grid_constant__ KArgs a, const __grid_constant__ KTable t,
                                                       const float *x, const float *bscale, float *xhat, uint8_t *codes)
{
    __shared__ float q[LBQ_MAX_LEVELS], mid[LBQ_MAX_LEVELS];
    for (int j = threadIdx.x; j < LBQ_MAX_LEVELS; j += THREADS) { q[j] = t.q[j]; mid[j] = t.mid[j]; }
    __syncthreads();
    for (int64_t i = (int64_t)blockIdx.x * THREADS + threadIdx.x; i < a.n; i += (int64_t)gridDim.x * THREADS) {
        const float s = elem_scale(a, bscale, i);
        const float xn = lbq_normalize(x[i], s);
        const float u = a.stochastic ? lbq_philox_uniform(a.seed, a.stream, (uint64_t)(a.off + i)) : 0.0f;
        const float st = (a.tie == 2 && !(s >= 1e-12f)) ? 1e-12f : s;      // ':torchao' scale clip
        const float xt = (st == s) ? xn : lbq_normalize(x[i], st);
        int c = lbq_table_code(q, mid, a.nlev, a.npow2, xt, a.stochastic, u);
        if (a.tie == 1 && !a.stochastic) c = lbq_code_argmin(q, a.nlev, xt, c);
        if (a.tie == 2 && !a.stochastic) c = lbq_code_torchao(q, a.nlev, a.npow2, xt);
        xhat[i] = q[c] * st;
        if (codes) codes[i] = (uint8_t)c;
    }
}

// Plain FP8 (map-fp8.c without ':dre'): one thread per element.
__global__ void __launch_bounds__(THREADS) k_fp8_qdq(const __grid_constant__ KArgs a, const float *x, const float *bscale,
                                                     float *xhat, uint8_t *codes)
{
    for (int64_t i = (int64_t)blockIdx.x * THREADS + threadIdx.x; i < a.n; i += (int64_t)gridDim.x * THREADS) {
        int bits = 0;
        xhat[i] = lbq_fp8_qdq(x[i], lbq_fp8_scale(elem_scale(a, bscale, i), a.e5m2, a.coat), a.e5m2, nullptr, &bits);
        if (codes) codes[i] = (uint8_t)bits;
    }
}

// FP8 with COAT's dynamic range expansion (map-fp8.c ':dre'): one team per group; the group max
// and min by COAT's own reduction order (lbq_coat_group_stats, run by the team's first thread),
// lbq_dre_params, then every element.
template <int TEAM>
__global__ void __launch_bounds__(THREADS) k_dre_qdq(const __grid_constant__ KArgs a, const float *x, float *xhat,
                                                     uint8_t *codes)
{
    constexpr int TEAMS = THREADS / TEAM;
    __shared__ float gmx[TEAMS], gmn[TEAMS];
    const int team = threadIdx.x / TEAM, lane = threadIdx.x % TEAM;
    const int64_t nb = (a.n + a.B - 1) / a.B;
    for (int64_t base = (int64_t)blockIdx.x * TEAMS; base < nb; base += (int64_t)gridDim.x * TEAMS) {
        const int64_t b = base + team, b0 = b * a.B;
        const int64_t bn = (b < nb) ? ((a.n - b0 < a.B) ? a.n - b0 : a.B) : 0;
        if (lane == 0 && bn > 0) lbq_coat_group_stats(x + b0, bn, a.B, &gmx[team], &gmn[team]);
        __syncthreads();
        const float mx = gmx[team], mn = gmn[team];
        __syncthreads();                        // gmx/gmn are rewritten for the next groups
        float s, k, g;
        lbq_dre_params(mx, mn, a.e5m2, &s, &k, &g);
        for (int64_t i = lane; i < bn; i += TEAM) {
            int bits = 0;
            xhat[b0 + i] = lbq_dre_qdq_elem(x[b0 + i], s, k, g, a.e5m2, &bits);
            if (codes) codes[b0 + i] = (uint8_t)bits;
        }
    }
}

// SOLO's log map (map-log.c): one CUDA block per quantization block.  delta = bscale[b] (block
// absmax pass), smallest positive value by a block reduction, the p-quantile by exact radix
// selection of the order statistics lbq_quantile picks, lbq_log_params, the levels
// lbq_log_level(alpha, k) (the same repeated multiplication as map-log.c's table), then the codes.
__global__ void __launch_bounds__(THREADS) k_log_qdq(const __grid_constant__ KArgs a, const float *x, const float *bscale,
                                                     float *xhat, uint8_t *codes)
{
    __shared__ unsigned hist[256], wsum[WARPS], sel[2];
    __shared__ float red[WARPS], lev[LBQ_MAX_LEVELS];
    const int64_t nb = (a.n + a.B - 1) / a.B;
    for (int64_t b = blockIdx.x; b < nb; b += gridDim.x) {
        const int64_t b0 = b * a.B, bn = (a.n - b0 < a.B) ? a.n - b0 : a.B;
        const float *xb = x + b0;
        const float delta = bscale[b];
        float minpos = LBQ_INF;
        for (int64_t i = threadIdx.x; i < bn; i += THREADS) minpos = lbq_minabs_acc(minpos, lbq_log_clean(xb[i]));
        minpos = team_reduce<THREADS, OpMinAbs>(minpos, red);
        float quant = 0.0f;
        if (delta > 0.0f) {                     // uniform over the CUDA block
            int64_t lo;
            float w;
            lbq_quantile_pos(bn, (double)a.quantile, &lo, &w);
            const float vlo = log_select_kth(xb, bn, lo, hist, wsum, sel);
            quant = lbq_quantile_needs_hi(bn, lo, w)
                  ? lbq_quantile_lerp(vlo, log_select_kth(xb, bn, lo + 1, hist, wsum, sel), w) : vlo;
        }
        float sc;                               // SOLO: max(delta, 1e-12); guarded: delta
        const float alpha = lbq_log_params(delta, quant, minpos, a.nmax, a.guarded, &sc);
        for (int k = threadIdx.x; k <= a.nmax; k += THREADS) lev[k] = lbq_log_level(alpha, k);
        __syncthreads();
        for (int64_t i = threadIdx.x; i < bn; i += THREADS) {
            const int64_t e = b0 + i;
            const float xn = lbq_normalize(x[e], sc);
            const float u = a.stochastic ? lbq_philox_uniform(a.seed, a.stream, (uint64_t)(a.off + e)) : 0.0f;
            const int c = a.guarded ? lbq_code_log(xn, alpha, a.nmax, a.stochastic, u)
                                    : lbq_code_log_solo(xn, alpha, a.nmax, a.stochastic, u);
            xhat[e] = lev[c] * sc;
            if (codes) codes[e] = (uint8_t)c;
        }
        __syncthreads();                        // lev is rewritten for the next block
    }
}

// ---- host side -------------------------------------------------------------------------------------

unsigned grid_for(int64_t work, int64_t per_block)
{
    int64_t g = (work + per_block - 1) / per_block;
    if (g < 1) g = 1;
    if (g > MAX_GRID) g = MAX_GRID;
    return (unsigned)g;
}

// ---- errors ----------------------------------------------------------------------------------------
// The message is composed in the failing thread (lbq_err: thread-local); callers running CUDA from
// worker threads carry it to the caller's thread (src/lbq-errslot.h).  A sticky error (the context
// is unusable: an illegal address, a kernel trap, ...) is also remembered process-wide, under a
// mutex, and every later call fails fast with it instead of a confusing follow-on error.
std::mutex g_sticky_mu;
char g_sticky_msg[512];                 // "" until a sticky error; guarded by g_sticky_mu

bool sticky_code(cudaError_t e)
{
    switch (e) {
    case cudaErrorIllegalAddress: case cudaErrorLaunchTimeout: case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction: case cudaErrorMisalignedAddress: case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc: case cudaErrorLaunchFailure: case cudaErrorAssert: case cudaErrorECCUncorrectable:
    case cudaErrorContextIsDestroyed:
        return true;
    default:
        return false;
    }
}

int error_text(const char *what, cudaError_t e, bool probe)
{
    bool sticky = sticky_code(e);
    if (probe) {                        // clear a non-sticky error; a sticky one stays
        cudaGetLastError();
        if (cudaPeekAtLastError() != cudaSuccess) sticky = true;
    }
    if (!sticky)
        return lbq_err(LBQ_ERR_CUDA, "CUDA: %s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
    char msg[512];
    snprintf(msg, sizeof msg, "CUDA: %s: %s (%s); sticky error: the CUDA context is unusable, "
             "every later CUDA call of this process fails (run lbq again)", what, cudaGetErrorString(e), cudaGetErrorName(e));
    {
        std::lock_guard<std::mutex> lock(g_sticky_mu);
        if (!g_sticky_msg[0]) snprintf(g_sticky_msg, sizeof g_sticky_msg, "%s", msg);
    }
    return lbq_err(LBQ_ERR_CUDA, "%s", msg);
}

int cuda_error(const char *what, cudaError_t e) { return error_text(what, e, true); }

int check_device(void)
{
    {
        std::lock_guard<std::mutex> lock(g_sticky_mu);
        if (g_sticky_msg[0]) return lbq_err(LBQ_ERR_CUDA, "%s [an earlier error]", g_sticky_msg);
    }
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return lbq_err(LBQ_ERR_CUDA, "no CUDA device (cudaGetDeviceCount: %s (%s))", cudaGetErrorString(e), cudaGetErrorName(e));
    }
    if (n == 0) return lbq_err(LBQ_ERR_CUDA, "no CUDA device (cudaGetDeviceCount found none)");
    return LBQ_OK;
}

// Resolve a plan: which kernels, and their arguments except the piece (n, off) and dimbuf.
int make_plan(const struct lbq_qplan *p, const struct lbq_tstats *st, Plan *pl)
{
    memset(pl, 0, sizeof *pl);
    KArgs &a = pl->a;
    const struct lbq_map *m = p->spec.map;
    const char *nn = p->norm->name;
    // the registries' kind slots say which kernel implements a map or normalization
    if (m->kind == LBQ_MAP_TABLE && m->build) pl->map = M_TABLE;   // any table map: the engine's search
    else if (m->kind == LBQ_MAP_LOG) pl->map = M_LOG;
    else if (lbq_map_is_fp8(m)) pl->map = M_FP8;
    else return lbq_err(LBQ_ERR_UNSUPPORTED, "CUDA backend: map '%s' has no kernel (src/cuda/lbq-cuda.cu)", m->name);
    switch (p->norm->kind) {
    case LBQ_NORM_TENSOR: a.norm = N_TENSOR; break;
    case LBQ_NORM_BLOCK:  a.norm = N_BLOCK; break;
    case LBQ_NORM_ROW:    a.norm = N_ROW; break;
    case LBQ_NORM_COL:    a.norm = N_COL; break;
    case LBQ_NORM_RANK1:  a.norm = N_RANK1; break;
    default: return lbq_err(LBQ_ERR_UNSUPPORTED, "CUDA backend: normalization '%s' has no kernel (src/cuda/lbq-cuda.cu)", nn);
    }
    pl->dre = p->spec.dre;
    pl->blockwise = p->norm->blockwise;
    if ((pl->map == M_LOG || pl->dre) && a.norm != N_BLOCK)
        return lbq_err(LBQ_ERR_ARG, "lbq_cuda_qdq: map '%s%s' needs block normalization", m->name, pl->dre ? ":dre" : "");
    pl->needs_bscale = (a.norm == N_BLOCK) && !(pl->map == M_FP8 && pl->dre);
    pl->needs_dims = (a.norm == N_ROW || a.norm == N_COL || a.norm == N_RANK1);
    a.B = pl->blockwise ? p->block : 1;
    a.absmax = st ? st->absmax : 0.0f;
    if (pl->needs_dims) {
        const struct lbq_shape *s = &st->shape;
        if (s->rank < 2 || !st->dimbuf)
            return lbq_err(LBQ_ERR_ARG, "lbq_cuda_qdq: normalization '%s' needs tensor statistics of rank >= 2", nn);
        a.rank = s->rank;
        for (int d = 0; d < s->rank; d++) { a.dim[d] = s->dim[d]; a.dimoff[d] = st->dimoff[d]; }
        a.row_elems = lbq_shape_row_elems(s);
        a.inner = lbq_inner_elems(s->dim, s->rank, 2);
        a.d1 = s->dim[1];
    }
    a.seed = p->spec.seed;
    a.stream = p->stream;
    a.stochastic = p->spec.round == LBQ_ROUND_STOCHASTIC;
    a.nlev = p->nlev;
    a.npow2 = p->npow2;
    a.nmax = (1 << p->bits) - 1;
    a.quantile = p->spec.quantile;
    a.guarded = p->spec.guarded;
    a.coat = p->spec.coat;
    a.tie = p->spec.tie;
    a.e5m2 = m->kind == LBQ_MAP_FP8_E5M2;
    memcpy(pl->t.q, p->q, sizeof pl->t.q);
    memcpy(pl->t.mid, p->mid, sizeof pl->t.mid);
    return LBQ_OK;
}

// Launch the kernels of one piece on stream s: d_x[0..a.n) in, d_xhat and d_codes (nullable) out,
// d_bscale scratch (one float per block).
int launch_piece(const Plan &pl, const KArgs &a, const float *d_x, float *d_bscale, float *d_xhat,
                 uint8_t *d_codes, cudaStream_t s)
{
    if (a.n <= 0) return LBQ_OK;
    const int64_t nb = (a.n + a.B - 1) / a.B;
    const bool warp_team = a.B <= WARP_TEAM_MAX_BLOCK;
    if (pl.needs_bscale) {
        if (warp_team) k_block_absmax<32><<<grid_for(nb, WARPS), THREADS, 0, s>>>(d_x, a.n, a.B, d_bscale);
        else k_block_absmax<THREADS><<<grid_for(nb, 1), THREADS, 0, s>>>(d_x, a.n, a.B, d_bscale);
        TRY_CUDA(cudaGetLastError());
    }
    switch (pl.map) {
    case M_TABLE:
        k_table_qdq<<<grid_for(a.n, THREADS), THREADS, 0, s>>>(a, pl.t, d_x, d_bscale, d_xhat, d_codes);
        break;
    case M_LOG:
        k_log_qdq<<<grid_for(nb, 1), THREADS, 0, s>>>(a, d_x, d_bscale, d_xhat, d_codes);
        break;
    default:
        if (!pl.dre) k_fp8_qdq<<<grid_for(a.n, THREADS), THREADS, 0, s>>>(a, d_x, d_bscale, d_xhat, d_codes);
        else if (warp_team) k_dre_qdq<32><<<grid_for(nb, WARPS), THREADS, 0, s>>>(a, d_x, d_xhat, d_codes);
        else k_dre_qdq<THREADS><<<grid_for(nb, 1), THREADS, 0, s>>>(a, d_x, d_xhat, d_codes);
        break;
    }
    TRY_CUDA(cudaGetLastError());
    return LBQ_OK;
}

// ---- streaming context: two slots (stream + pinned and device buffers), grown on demand ----------
struct Slot {
    cudaStream_t s;
    float *h_x, *h_xhat;                // pinned staging
    uint8_t *h_codes;
    float *d_x, *d_xhat, *d_bscale;
    uint8_t *d_codes;
    int64_t cap, cap_blocks;            // elements / blocks the buffers hold
    int64_t pos, len;                   // piece in flight (len == 0: none)
};
struct Ctx {
    std::mutex mu;                      // calls are serialized (the engine calls from OpenMP threads)
    Slot slot[2];
    float *d_dim;
    int64_t cap_dim;
    int64_t piece;
};
Ctx g_ctx;                              // zero-initialized; never torn down (the process exit frees it)

int slot_reserve(Slot &sl, int64_t elems, int64_t blocks)
{
    if (!sl.s) TRY_CUDA(cudaStreamCreateWithFlags(&sl.s, cudaStreamNonBlocking));
    if (elems > sl.cap) {
        cudaFreeHost(sl.h_x); cudaFreeHost(sl.h_xhat); cudaFreeHost(sl.h_codes);
        cudaFree(sl.d_x); cudaFree(sl.d_xhat); cudaFree(sl.d_codes);
        sl.h_x = sl.h_xhat = nullptr; sl.h_codes = nullptr;
        sl.d_x = sl.d_xhat = nullptr; sl.d_codes = nullptr;
        sl.cap = 0;
        const size_t fb = sizeof(float) * (size_t)elems, cb = (size_t)elems;
        TRY_CUDA(cudaHostAlloc((void **)&sl.h_x, fb, cudaHostAllocDefault));
        TRY_CUDA(cudaHostAlloc((void **)&sl.h_xhat, fb, cudaHostAllocDefault));
        TRY_CUDA(cudaHostAlloc((void **)&sl.h_codes, cb, cudaHostAllocDefault));
        TRY_CUDA(cudaMalloc((void **)&sl.d_x, fb));
        TRY_CUDA(cudaMalloc((void **)&sl.d_xhat, fb));
        TRY_CUDA(cudaMalloc((void **)&sl.d_codes, cb));
        sl.cap = elems;
    }
    if (blocks > sl.cap_blocks) {
        cudaFree(sl.d_bscale);
        sl.d_bscale = nullptr;
        sl.cap_blocks = 0;
        TRY_CUDA(cudaMalloc((void **)&sl.d_bscale, sizeof(float) * (size_t)blocks));
        sl.cap_blocks = blocks;
    }
    return LBQ_OK;
}

// Wait for the slot's piece and copy its results out of the pinned buffers.
int slot_finish(Slot &sl, float *xhat, uint8_t *codes)
{
    if (sl.len == 0) return LBQ_OK;
    TRY_CUDA(cudaStreamSynchronize(sl.s));
    memcpy(xhat + sl.pos, sl.h_xhat, sizeof(float) * (size_t)sl.len);
    if (codes) memcpy(codes + sl.pos, sl.h_codes, (size_t)sl.len);
    sl.len = 0;
    return LBQ_OK;
}

// After a failure: drain both streams and clear a non-sticky error so the next call starts clean.
void ctx_recover(Ctx &c)
{
    for (Slot &sl : c.slot) {
        if (sl.s) cudaStreamSynchronize(sl.s);
        sl.len = 0;
    }
    cudaGetLastError();
}

int64_t piece_elems(const Ctx &c, const Plan &pl)
{
    int64_t P = c.piece > 0 ? c.piece : DEFAULT_PIECE;
    if (pl.blockwise) P = (P < pl.a.B) ? pl.a.B : P / pl.a.B * pl.a.B;   // whole blocks, >= one
    return P;
}

// Upload st->dimbuf (all per-dimension maxima back to back) when the normalization reads it.
int upload_dims(Ctx &c, Plan &pl, const struct lbq_tstats *st, cudaStream_t s)
{
    if (!pl.needs_dims) return LBQ_OK;
    const int r = st->shape.rank;
    const int64_t tot = st->dimoff[r - 1] + st->shape.dim[r - 1];
    if (tot > c.cap_dim) {
        cudaFree(c.d_dim);
        c.d_dim = nullptr;
        c.cap_dim = 0;
        TRY_CUDA(cudaMalloc((void **)&c.d_dim, sizeof(float) * (size_t)(tot > 0 ? tot : 1)));
        c.cap_dim = tot;
    }
    if (tot > 0) TRY_CUDA(cudaMemcpyAsync(c.d_dim, st->dimbuf, sizeof(float) * (size_t)tot, cudaMemcpyHostToDevice, s));
    TRY_CUDA(cudaStreamSynchronize(s));         // both streams read it
    pl.a.dimbuf = c.d_dim;
    return LBQ_OK;
}

// The streaming loop: piece k uses slot k % 2.  While the GPU works on piece k, the host copies
// piece k+1 into the other slot's pinned buffer and queues its upload, kernels and download on the
// other stream, so transfers of one piece overlap the kernels of the other.
int qdq_locked(Ctx &c, Plan &pl, const struct lbq_tstats *st, int64_t off, int64_t n, const float *x,
               float *xhat, uint8_t *codes)
{
    const int64_t P = piece_elems(c, pl);
    const int64_t first = (n < P) ? n : P;
    const int64_t blocks = pl.blockwise ? (first + pl.a.B - 1) / pl.a.B : 0;
    const int64_t npieces = (n + P - 1) / P;
    TRY(slot_reserve(c.slot[0], first, blocks));
    if (npieces > 1) TRY(slot_reserve(c.slot[1], first, blocks));
    TRY(upload_dims(c, pl, st, c.slot[0].s));
    for (int64_t k = 0; k < npieces; k++) {
        Slot &sl = c.slot[k & 1];
        TRY(slot_finish(sl, xhat, codes));      // piece k-2 used this slot
        const int64_t pos = k * P, len = (n - pos < P) ? n - pos : P;
        memcpy(sl.h_x, x + pos, sizeof(float) * (size_t)len);
        TRY_CUDA(cudaMemcpyAsync(sl.d_x, sl.h_x, sizeof(float) * (size_t)len, cudaMemcpyHostToDevice, sl.s));
        KArgs a = pl.a;
        a.n = len;
        a.off = off + pos;
        TRY(launch_piece(pl, a, sl.d_x, sl.d_bscale, sl.d_xhat, codes ? sl.d_codes : nullptr, sl.s));
        TRY_CUDA(cudaMemcpyAsync(sl.h_xhat, sl.d_xhat, sizeof(float) * (size_t)len, cudaMemcpyDeviceToHost, sl.s));
        if (codes) TRY_CUDA(cudaMemcpyAsync(sl.h_codes, sl.d_codes, (size_t)len, cudaMemcpyDeviceToHost, sl.s));
        sl.pos = pos;
        sl.len = len;
    }
    TRY(slot_finish(c.slot[0], xhat, codes));
    TRY(slot_finish(c.slot[1], xhat, codes));
    return LBQ_OK;
}

// The argument checks of lbq_qdq, then the plan.
int qdq_prepare(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, Plan *pl)
{
    if (p->norm->blockwise && off % p->block != 0)
        return lbq_err(LBQ_ERR_ARG, "lbq_cuda_qdq: range start %lld is not a multiple of block %lld", (long long)off, (long long)p->block);
    if (p->norm->global_stats && (!st || st->seen < st->shape.numel))
        return lbq_err(LBQ_ERR_ARG, "lbq_cuda_qdq: normalization '%s' needs tensor statistics", p->norm->name);
    return make_plan(p, st, pl);
}

// ---- benchmark helpers ----------------------------------------------------------------------------
struct BenchBufs {
    cudaStream_t s;
    cudaEvent_t e0, e1;
    float *d_m, *d_v, *d_xhat, *d_bscale, *d_dim;
    uint8_t *d_codes;
    float *h_m, *h_xhat;
    uint8_t *h_codes;
    struct lbq_tstats st;
    int have_st;
};

void bench_free(BenchBufs &b)
{
    if (b.s) cudaStreamSynchronize(b.s);
    cudaFree(b.d_m); cudaFree(b.d_v); cudaFree(b.d_xhat); cudaFree(b.d_bscale); cudaFree(b.d_dim); cudaFree(b.d_codes);
    if (b.e0) cudaEventDestroy(b.e0);
    if (b.e1) cudaEventDestroy(b.e1);
    if (b.s) cudaStreamDestroy(b.s);
    free(b.h_m); free(b.h_xhat); free(b.h_codes);
    if (b.have_st) lbq_tstats_free(&b.st);
    cudaGetLastError();
}

void bench_row(struct lbq_cuda_bench_row *r, const char *name, int64_t elems, double bytes, double ms)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->elems = elems;
    r->bytes = bytes;
    r->ms = ms;
    r->gbps = (ms > 0.0) ? bytes / (ms * 1e-3) / 1e9 : 0.0;
}

// Mean milliseconds of `reps` runs of fn() on b.s after one warm-up run, by cudaEvents.
template <class F>
int bench_time(BenchBufs &b, int reps, F fn, double *ms)
{
    TRY(fn());
    TRY_CUDA(cudaEventRecord(b.e0, b.s));
    for (int r = 0; r < reps; r++) TRY(fn());
    TRY_CUDA(cudaEventRecord(b.e1, b.s));
    TRY_CUDA(cudaEventSynchronize(b.e1));
    float t = 0.0f;
    TRY_CUDA(cudaEventElapsedTime(&t, b.e0, b.e1));
    *ms = (double)t / reps;
    return LBQ_OK;
}

int bench_run(BenchBufs &b, int64_t N, int reps, struct lbq_cuda_bench_row *rows, int max_rows, int *nrows)
{
    const int64_t cols = 4096, nrow = N / cols;
    struct lbq_shape sh;
    memset(&sh, 0, sizeof sh);
    sh.rank = 2; sh.dim[0] = nrow; sh.dim[1] = cols; sh.numel = N;
    const size_t fb = sizeof(float) * (size_t)N;
    b.h_m = (float *)malloc(fb);
    b.h_xhat = (float *)malloc(fb);
    b.h_codes = (uint8_t *)malloc((size_t)N);
    if (!b.h_m || !b.h_xhat || !b.h_codes) return lbq_err(LBQ_ERR_NOMEM, "lbq_cuda_bench: out of memory");
    uint64_t z = 0x9E3779B97F4A7C15ull;          // m-like data: sum of 4 uniforms, centred, tiny scale
    for (int64_t i = 0; i < N; i++) {
        float acc = 0.0f;
        for (int j = 0; j < 4; j++) {
            z ^= z >> 12; z ^= z << 25; z ^= z >> 27;
            acc += (float)((z * 2685821657736338717ull) >> 40) * (1.0f / 16777216.0f);
        }
        b.h_m[i] = (acc - 2.0f) * 1e-3f;
    }
    TRY(lbq_tstats_init(&b.st, &sh));
    b.have_st = 1;
    lbq_tstats_add(&b.st, 0, N, b.h_m);
    TRY_CUDA(cudaStreamCreateWithFlags(&b.s, cudaStreamNonBlocking));
    TRY_CUDA(cudaEventCreate(&b.e0));
    TRY_CUDA(cudaEventCreate(&b.e1));
    TRY_CUDA(cudaMalloc((void **)&b.d_m, fb));
    TRY_CUDA(cudaMalloc((void **)&b.d_v, fb));
    TRY_CUDA(cudaMalloc((void **)&b.d_xhat, fb));
    TRY_CUDA(cudaMalloc((void **)&b.d_codes, (size_t)N));
    TRY_CUDA(cudaMalloc((void **)&b.d_bscale, sizeof(float) * (size_t)N));   // room for any block size
    TRY_CUDA(cudaMalloc((void **)&b.d_dim, sizeof(float) * (size_t)(nrow + cols)));
    TRY_CUDA(cudaMemcpy(b.d_m, b.h_m, fb, cudaMemcpyHostToDevice));
    TRY_CUDA(cudaMemcpy(b.d_dim, b.st.dimbuf, sizeof(float) * (size_t)(nrow + cols), cudaMemcpyHostToDevice));
    for (int64_t i = 0; i < N; i++) b.h_xhat[i] = b.h_m[i] * b.h_m[i];      // v-like data
    TRY_CUDA(cudaMemcpy(b.d_v, b.h_xhat, fb, cudaMemcpyHostToDevice));
    // the v statistics are not needed: the v rows below use block normalization or rank1 of |m|
    int nr = 0;
    double ms = 0.0, base_gbps = 0.0;
    // 1. baseline: device-to-device copy of N floats (reads 4N, writes 4N bytes)
    TRY(bench_time(b, reps, [&]() -> int {
        TRY_CUDA(cudaMemcpyAsync(b.d_xhat, b.d_m, fb, cudaMemcpyDeviceToDevice, b.s));
        return LBQ_OK; }, &ms));
    if (nr < max_rows) bench_row(&rows[nr++], "memcpy d2d (baseline)", N, 8.0 * (double)N, ms);
    if (nr > 0) base_gbps = rows[0].gbps;
    // 2. block absmax alone (block 128)
    TRY(bench_time(b, reps, [&]() -> int {
        k_block_absmax<32><<<grid_for((N + 127) / 128, WARPS), THREADS, 0, b.s>>>(b.d_m, N, 128, b.d_bscale);
        TRY_CUDA(cudaGetLastError());
        return LBQ_OK; }, &ms));
    if (nr < max_rows) bench_row(&rows[nr++], "block absmax B128", N, 4.0 * (double)N + 4.0 * (double)((N + 127) / 128), ms);
    // 3. whole qdq per spec on device-resident data (absmax pass included): reads x (4N), writes
    //    xhat (4N) and codes (N); the block scales are counted too.
    static const struct { const char *spec; int role; } specs[] = {
        { "block128-dtree:b4", LBQ_ROLE_M }, { "block128-dtree:b4:sr", LBQ_ROLE_M },
        { "block128-linear:b4", LBQ_ROLE_V }, { "block2048-dtree:b8", LBQ_ROLE_M },
        { "tensor-dtree:b8", LBQ_ROLE_M }, { "rank1-linear:b4", LBQ_ROLE_M },
        { "col-linear:b4", LBQ_ROLE_M }, { "block128-log:b2", LBQ_ROLE_V },
        { "block128-fp8e4m3", LBQ_ROLE_M }, { "block128-fp8e4m3:dre", LBQ_ROLE_M },
    };
    for (size_t k = 0; k < sizeof specs / sizeof specs[0] && nr < max_rows; k++) {
        struct lbq_qdefaults d;
        struct lbq_qspec qs;
        struct lbq_qplan p;
        Plan pl;
        lbq_qdefaults_init(&d);
        if (lbq_qspec_parse(specs[k].spec, &d, &qs) != LBQ_OK || lbq_qplan_init(&p, &qs, (enum lbq_role)specs[k].role, 2) != LBQ_OK
            || make_plan(&p, &b.st, &pl) != LBQ_OK)
            continue;                           /* a spec this build's registry lacks */
        pl.a.dimbuf = b.d_dim;
        pl.a.n = N;
        pl.a.off = 0;
        const float *src = (specs[k].role == LBQ_ROLE_M) ? b.d_m : b.d_v;
        TRY(bench_time(b, reps, [&]() -> int { return launch_piece(pl, pl.a, src, b.d_bscale, b.d_xhat, b.d_codes, b.s); }, &ms));
        const double nb = pl.blockwise ? (double)((N + pl.a.B - 1) / pl.a.B) : 0.0;
        char name[48];
        snprintf(name, sizeof name, "qdq %s", specs[k].spec);
        bench_row(&rows[nr++], name, N, 9.0 * (double)N + 8.0 * nb, ms);
    }
    // 4. the host entry point (pinned staging, two streams, PCIe both ways), host clock
    if (nr < max_rows) {
        struct lbq_qdefaults d;
        struct lbq_qspec qs;
        struct lbq_qplan p;
        Plan pl;
        lbq_qdefaults_init(&d);
        TRY(lbq_qspec_parse("block128-dtree:b4", &d, &qs));
        TRY(lbq_qplan_init(&p, &qs, LBQ_ROLE_M, 2));
        TRY(qdq_prepare(&p, &b.st, 0, &pl));
        TRY(qdq_locked(g_ctx, pl, &b.st, 0, N, b.h_m, b.h_xhat, b.h_codes));     // warm-up, allocation
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int r = 0; r < reps; r++) TRY(qdq_locked(g_ctx, pl, &b.st, 0, N, b.h_m, b.h_xhat, b.h_codes));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ms = ((double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6) / reps;
        bench_row(&rows[nr++], "host lbq_cuda_qdq block128-dtree:b4", N, 9.0 * (double)N, ms);
    }
    for (int i = 0; i < nr; i++) rows[i].of_copy = (base_gbps > 0.0) ? rows[i].gbps / base_gbps : 0.0;
    *nrows = nr;
    return LBQ_OK;
}

} // namespace lbqcuda
using namespace lbqcuda;

// ---- C entry points ------------------------------------------------------------------------------

extern "C" int lbq_cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) { cudaGetLastError(); return 0; }
    return n;
}

// What this object really holds: __CUDA_ARCH_LIST__ is what nvcc compiled for (the same in the
// host pass), LBQ_CUDA_SASS / LBQ_CUDA_PTX how CMake asked for it (machine code / PTX); the test
// test-cuda-build.sh checks both against the fatbinary of the built objects.
#define LBQ_VSTR_(...) #__VA_ARGS__
#define LBQ_VSTR(...) LBQ_VSTR_(__VA_ARGS__)
#ifndef __CUDA_ARCH_LIST__
#error "nvcc >= 11.5 is needed (__CUDA_ARCH_LIST__)"
#endif
#ifndef LBQ_CUDA_SASS
#define LBQ_CUDA_SASS "?"
#define LBQ_CUDA_PTX "?"
#endif

extern "C" const char *lbq_cuda_build_info(void)
{
    return "CUDA " LBQ_STR(__CUDACC_VER_MAJOR__) "." LBQ_STR(__CUDACC_VER_MINOR__)
           " (SASS: " LBQ_CUDA_SASS "; PTX: " LBQ_CUDA_PTX "; __CUDA_ARCH_LIST__ " LBQ_VSTR(__CUDA_ARCH_LIST__) ")";
}

// "sm_80 sm_90" -> does it hold machine code the device (major.minor) can run?  SASS of sm_XY runs
// on devices of the same major version with minor >= Y; "sm_90a" only on sm_90.
static int sass_for(const char *list, int major, int minor, int *best)
{
    *best = -1;
    for (const char *p = strstr(list, "sm_"); p; p = strstr(p + 3, "sm_")) {
        int v = atoi(p + 3), vmaj = v / 10, vmin = v % 10;
        const char *q = p + 3;
        while (*q >= '0' && *q <= '9') q++;
        bool special = (*q == 'a' || *q == 'f');
        if (vmaj == major && (special ? vmin == minor : vmin <= minor) && v > *best) *best = v;
    }
    return *best >= 0;
}
static int ptx_for(const char *list, int cc, int *best)
{
    *best = -1;
    for (const char *p = strstr(list, "compute_"); p; p = strstr(p + 8, "compute_")) {
        int v = atoi(p + 8);
        if (v <= cc && v > *best) *best = v;
    }
    return *best >= 0;
}

extern "C" const char *lbq_cuda_device_info(void)
{
    static char buf[640];
    if (check_device() != LBQ_OK) { snprintf(buf, sizeof buf, "%s", lbq_errmsg()); return buf; }
    int dev = 0, drv = 0, rt = 0;
    cudaDeviceProp prop;
    cudaError_t e;
    if ((e = cudaGetDevice(&dev)) != cudaSuccess || (e = cudaGetDeviceProperties(&prop, dev)) != cudaSuccess) {
        error_text("cudaGetDeviceProperties", e, true);
        snprintf(buf, sizeof buf, "%s", lbq_errmsg());
        return buf;
    }
    cudaDriverGetVersion(&drv);
    cudaRuntimeGetVersion(&rt);
    const int cc = prop.major * 10 + prop.minor;
    int sass = -1, ptx = -1;
    char how[96];
    if (sass_for(LBQ_CUDA_SASS, prop.major, prop.minor, &sass)) snprintf(how, sizeof how, "runs SASS sm_%d", sass);
    else if (ptx_for(LBQ_CUDA_PTX, cc, &ptx)) snprintf(how, sizeof how, "JIT-compiles PTX compute_%d at start (no SASS for sm_%d)", ptx, cc);
    else snprintf(how, sizeof how, "no code for sm_%d in this build (rebuild with -DCMAKE_CUDA_ARCHITECTURES=%d)", cc, cc);
    // what the runtime actually loaded for one kernel (binaryVersion: the SASS it runs)
    cudaFuncAttributes fa;
    char loaded[64] = "";
    if (cudaFuncGetAttributes(&fa, k_block_absmax<32>) == cudaSuccess)
        snprintf(loaded, sizeof loaded, "; kernel binary sm_%d, ptx %d", fa.binaryVersion, fa.ptxVersion);
    else
        cudaGetLastError();
    snprintf(buf, sizeof buf, "%s (sm_%d, %d SMs, %.1f GiB), %s%s; driver %d.%d, runtime %d.%d", prop.name, cc,
             prop.multiProcessorCount, (double)prop.totalGlobalMem / 1073741824.0, how, loaded,
             drv / 1000, (drv % 1000) / 10, rt / 1000, (rt % 1000) / 10);
    return buf;
}

// Test hook: the message and sticky bookkeeping of a failed call `call` with CUDA error `code`,
// exactly as a real failure produces them (tests/test-cuda-errors.c).
extern "C" int lbq_cuda_test_error(const char *call, int code)
{
    return error_text(call, (cudaError_t)code, false);
}

extern "C" int lbq_cuda_qdq(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, int64_t n,
                            const float *x, float *xhat, uint8_t *codes)
{
    TRY(check_device());
    Plan pl;
    TRY(qdq_prepare(p, st, off, &pl));
    if (n <= 0) return LBQ_OK;
    std::lock_guard<std::mutex> lock(g_ctx.mu);
    int rc = qdq_locked(g_ctx, pl, st, off, n, x, xhat, codes);
    if (rc != LBQ_OK) ctx_recover(g_ctx);
    return rc;
}

extern "C" int lbq_cuda_check(void) { return check_device(); }

extern "C" int64_t lbq_cuda_set_piece_elems(int64_t n)
{
    std::lock_guard<std::mutex> lock(g_ctx.mu);
    int64_t old = g_ctx.piece > 0 ? g_ctx.piece : DEFAULT_PIECE;
    g_ctx.piece = (n > 0) ? n : 0;
    return old;
}

extern "C" int lbq_cuda_bench(int64_t numel, int reps, struct lbq_cuda_bench_row *rows, int max_rows, int *nrows)
{
    *nrows = 0;
    TRY(check_device());
    if (numel <= 0) numel = (int64_t)1 << 24;
    numel = (numel + 4095) / 4096 * 4096;       // a [numel/4096, 4096] matrix for rank1 and col
    if (reps <= 0) reps = 20;
    std::lock_guard<std::mutex> lock(g_ctx.mu);  // the host row uses the shared streaming context
    BenchBufs b;
    memset(&b, 0, sizeof b);
    int rc = bench_run(b, numel, reps, rows, max_rows, nrows);
    bench_free(b);
    if (rc != LBQ_OK) ctx_recover(g_ctx);
    return rc;
}
