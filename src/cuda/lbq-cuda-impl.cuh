// lbq-cuda-impl.cuh - internals shared by the CUDA sources (lbq-cuda.cu: kernels, streaming,
// benchmark; engine.cu: the device-resident engine of analyze and sweep).  Not a public header.
#ifndef LBQ_CUDA_IMPL_CUH
#define LBQ_CUDA_IMPL_CUH

#include <cuda_runtime.h>

#include "lbq-cuda.h"
#include "qcore.h"

namespace lbqcuda {

constexpr int THREADS = 256;                // every kernel runs 256-thread CUDA blocks
constexpr int WARPS = THREADS / 32;
constexpr unsigned FULL_MASK = 0xffffffffu;
constexpr int64_t MAX_GRID = 65535;         // larger work is covered by grid-stride loops
constexpr int64_t DEFAULT_PIECE = (int64_t)1 << 24;    // elements streamed per step
constexpr int64_t WARP_TEAM_MAX_BLOCK = 512;           // blocks up to this size: one warp each

enum NormKind { N_TENSOR, N_BLOCK, N_ROW, N_COL, N_RANK1 };
enum MapKind { M_TABLE, M_LOG, M_FP8 };

// What a kernel needs to know about the plan, the tensor statistics and the piece: plain values,
// passed by value (__grid_constant__).
struct KArgs {
    int64_t  n;                         // elements in this piece
    int64_t  off;                       // flat tensor index of the piece's element 0
    int64_t  B;                         // block size (block normalization, log map, COAT groups)
    int      norm;                      // NormKind
    float    absmax;                    // tensor normalization: st->absmax
    const float *dimbuf;                // device copy of st->dimbuf (row, col, rank1)
    int64_t  dimoff[LBQ_MAX_RANK], dim[LBQ_MAX_RANK];
    int      rank;
    int64_t  row_elems, inner, d1;      // row: lbq_shape_row_elems; col: lbq_inner_elems(.., 2), dim[1]
    uint64_t seed;
    uint32_t stream;
    int      stochastic;
    int      nlev, npow2;               // table maps
    int      nmax;                      // log map: 2^bits - 1
    float    quantile;                  // log map: p
    int      guarded;                   // log map: lbq's guarded variant (else SOLO's arithmetic)
    int      coat;                      // plain fp8: COAT's (absmax + 1e-20) scale (else torchao's)
    int      tie;                       // table nearest: lpmm torch argmin (else midpoint -> lower)
    int      e5m2;                      // fp8 maps
};
// The plan's codebook, copied by value from lbq_qplan.q[] / .mid[].
struct KTable { float q[LBQ_MAX_LEVELS], mid[LBQ_MAX_LEVELS]; };

struct Plan {
    int    map;                         // MapKind
    int    dre;                         // fp8 ':dre'
    int    blockwise;
    int    needs_bscale;                // a block absmax pass runs first
    int    needs_dims;                  // st->dimbuf is uploaded
    KArgs  a;
    KTable t;
};

// ---- host helpers (lbq-cuda.cu) ----------------------------------------------------------------
unsigned grid_for(int64_t work, int64_t per_block);
// A failed CUDA call: LBQ_ERR_CUDA with "CUDA: <call>: <text> (<name>)" in lbq_errmsg(), marked
// as sticky (and remembered for every later call) when the CUDA context is unusable.
int cuda_error(const char *what, cudaError_t e);
// LBQ_OK when a device is usable; after a sticky error, that error again.
int check_device(void);
// Resolve a plan: which kernels, and their arguments except the piece (n, off) and dimbuf.
int make_plan(const struct lbq_qplan *p, const struct lbq_tstats *st, Plan *pl);
// Launch the kernels of one piece on stream s: d_x[0..a.n) in, d_xhat and d_codes (nullable) out,
// d_bscale scratch (one float per block).
int launch_piece(const Plan &pl, const KArgs &a, const float *d_x, float *d_bscale, float *d_xhat,
                 uint8_t *d_codes, cudaStream_t s);

#define TRY_CUDA(call) do { cudaError_t e_ = (call); if (e_ != cudaSuccess) return ::lbqcuda::cuda_error(#call, e_); } while (0)
#define TRY(expr) do { int rc_ = (expr); if (rc_ != LBQ_OK) return rc_; } while (0)

} // namespace lbqcuda
#endif
