/* lbq-cuda.h - C interface of the CUDA backend (no CUDA types; implemented in lbq-cuda.cu, or by
 * cuda-stub.c in CPU-only builds).  docs/cuda.md describes the design. */
#ifndef LBQ_CUDA_H
#define LBQ_CUDA_H

#include "lbq.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Quantize/dequantize flat elements [off, off+n) on the GPU: same contract and the same results,
 * bit for bit, as lbq_qdq() (host buffers in and out; codes nullable; the tensor statistics st are
 * uploaded as needed).  The range is streamed through the device in pieces (lbq_cuda_set_piece_elems)
 * with pinned staging buffers and two streams.  Thread-safe (calls are serialized).
 * LBQ_ERR_ARG for the ranges lbq_qdq rejects, LBQ_ERR_UNSUPPORTED for a map or normalization with
 * no kernel, LBQ_ERR_CUDA without a device ("no CUDA device") or on a CUDA runtime failure. */
int lbq_cuda_qdq(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, int64_t n,
                 const float *x, float *xhat, uint8_t *codes);

/* LBQ_OK when a CUDA device is usable, else LBQ_ERR_CUDA with lbq_errmsg() "no CUDA device (why)". */
int lbq_cuda_check(void);

/* One line on the device this process would use: name, compute capability, whether it runs this
 * build's SASS or JIT-compiles its PTX, the driver and runtime versions; or why there is none.
 * Static storage (not thread-safe); `lbq --version` prints it. */
const char *lbq_cuda_device_info(void);

/* Test hook: set lbq_errmsg() (and the sticky-error state) exactly as a failed CUDA call `call`
 * returning error `code` does; returns LBQ_ERR_CUDA.  A sticky code makes every later CUDA entry
 * point of the process fail with that message. */
int lbq_cuda_test_error(const char *call, int code);

/* Largest piece streamed through the device per step, in elements (rounded down to whole blocks,
 * at least one block).  0 restores the default (2^24).  Returns the previous value.  Tests use
 * small pieces to exercise the two-stream pipeline on small tensors. */
int64_t lbq_cuda_set_piece_elems(int64_t n);

/* ---- agreement checks (src/cuda/cuda-selftest.c; compiled in CPU-only builds too) ----------- */
struct lbq_selftest_opts {
    int   cpu;          /* device-free CPU consistency checks (chunked vs whole range, decode) */
    int   cuda;         /* compare lbq_cuda_qdq with lbq_qdq bit for bit (needs a device)    */
    int   quick;        /* a smaller case set (fewer sizes, bitwidths and blocks)             */
    int   max_report;   /* mismatch lines printed in total (0: none)                          */
    FILE *out;          /* mismatch lines and one summary line per check; NULL: silent        */
};
struct lbq_selftest_result {
    int64_t cases;          /* quantizer x tensor combinations run                          */
    int64_t skipped;        /* combinations a map does not define (e.g. dtree at 1 bit)     */
    int64_t elems;          /* elements quantized by the CPU reference                      */
    int64_t cpu_failures;   /* elements failing a CPU consistency check                     */
    int64_t cuda_cases;     /* combinations compared with the GPU                           */
    int64_t cuda_mismatches;/* elements whose GPU code or value differs from the CPU        */
};
/* Every registered map x normalization x several bitwidths x nearest/stochastic on generated
 * tensors (odd sizes, 2-D and 3-D shapes, all-zero blocks, outliers, denormals, NaN/Inf, ties).
 * Returns LBQ_OK when the checks ran (failures are counted in *r), else the status that stopped
 * them (LBQ_ERR_CUDA: no device or a runtime failure). */
int lbq_selftest(const struct lbq_selftest_opts *o, struct lbq_selftest_result *r);
/* The GPU part alone: LBQ_OK when every code and value agrees, LBQ_ERR_DATA on any mismatch (the
 * first max_report are printed on out), LBQ_ERR_CUDA without a device or on a runtime failure. */
int lbq_cuda_selftest(FILE *out, int max_report);

/* One tensor of n elements (meant for n > 2^31: 64-bit indices, piece offsets and the stochastic
 * rounding counter beyond 2^31) through lbq_cuda_qdq against lbq_qdq (OpenMP over 2^24-element
 * ranges), spec block128-dtree:b4:sr, codes and values bit for bit.  Needs about 9 n bytes of host
 * memory.  Prints one line on out; LBQ_OK, LBQ_ERR_DATA on a mismatch, LBQ_ERR_NOMEM, LBQ_ERR_CUDA. */
int lbq_cuda_selftest_big(int64_t n, FILE *out);

/* ---- bandwidth benchmark ------------------------------------------------------------------- */
struct lbq_cuda_bench_row {
    char    name[48];       /* "memcpy d2d (baseline)", "table block128-dtree:b4", ...          */
    int64_t elems;
    double  bytes;          /* bytes each run must move through device memory (reads + writes) */
    double  ms;             /* mean time per run (cudaEvent timing; host clock for "host qdq")  */
    double  gbps;           /* bytes / time, 1e9 bytes per second                               */
    double  of_copy;        /* gbps / the baseline's gbps                                       */
};
/* Time every kernel on `numel` device-resident elements (0: 2^24), `reps` runs each (0: 20), next
 * to a device-to-device cudaMemcpy baseline measured in the same run (row 0), plus the host entry
 * lbq_cuda_qdq (transfers included).  Writes up to max_rows rows, their count in *nrows. */
int lbq_cuda_bench(int64_t numel, int reps, struct lbq_cuda_bench_row *rows, int max_rows, int *nrows);
/* Print the rows as a table (name, MB moved, ms, GB/s, fraction of the copy baseline). */
void lbq_cuda_bench_print(FILE *out, const struct lbq_cuda_bench_row *rows, int nrows);

/* ---- device-resident tensors: the C ABI's lbq_ffi_qdq_device (src/capi.c, src/cuda/ffi-device.cu) ---- */
/* The statistics' fixed work split: thread g of BLOCKS x THREADS takes elements g, g + G, ...; each
 * CUDA block reduces its threads as a tree (stride THREADS/2 ... 1) into one part; the host sums the
 * parts in block order.  The CPU twin (capi.c) runs the same split, so its sums equal the GPU's. */
#define LBQ_FFI_DEV_BLOCKS 256
#define LBQ_FFI_DEV_THREADS 256
struct lbq_ffi_dev_part { int64_t nonfinite, zeroed, lifted, zeros_in; double sum_sq_err, sum_sq; };
struct lbq_ffi_dev_stats {
    struct lbq_ffi_dev_part part[LBQ_FFI_DEV_BLOCKS];
    int64_t code_hist[256];
};
#ifdef __CUDACC__
#define LBQ_FFI_DEV_HD __host__ __device__ static inline
#else
#define LBQ_FFI_DEV_HD static inline
#endif
/* One element into a part: the same rules as lbq_ffi_qdq's statistics (include/lbq-ffi.h). */
LBQ_FFI_DEV_HD void lbq_ffi_dev_acc(struct lbq_ffi_dev_part *p, float a, float b)
{
    const int finite = (a - a) == (a - a);      /* inf - inf and NaN - NaN are NaN (IEEE, no fast math) */
    if (!finite) { p->nonfinite++; return; }
    if (a == 0.0f) { p->zeros_in++; p->lifted += (b != 0.0f); }
    else p->zeroed += (b == 0.0f);
    const double e = (double)b - (double)a;
    p->sum_sq_err += e * e;
    p->sum_sq += (double)a * (double)a;
}
/* Quantize-dequantize the device tensor d_x (shape sh, numel elements) into d_out (may equal d_x) and
 * d_codes (nullable) on CUDA stream `stream` (a cudaStream_t; NULL: the legacy default stream) with
 * plan p: values and codes bit for bit those of lbq_qdq over the whole tensor (the tensor statistics
 * of a global normalization are computed on the device).  out (nullable) receives the statistics'
 * parts and the code histogram.  Synchronous: the stream is synchronized before returning.  The
 * buffers' device is made current for the call.  LBQ_ERR_UNSUPPORTED without a device (or in a
 * build without CUDA), LBQ_ERR_ARG for a pointer that is not device memory, LBQ_ERR_CUDA on a
 * runtime failure. */
int lbq_cuda_ffi_qdq(const struct lbq_qplan *p, const struct lbq_shape *sh, const float *d_x, float *d_out,
                     uint8_t *d_codes, void *stream, struct lbq_ffi_dev_stats *out);
/* Plain device memory for the C ABI's self-check (cudaMalloc, cudaFree, cudaMemcpy). */
int  lbq_cuda_dev_alloc(void **p, size_t bytes);
void lbq_cuda_dev_free(void *p);
int  lbq_cuda_dev_copy(void *dst, const void *src, size_t bytes, int to_device);

#ifdef __cplusplus
}
#endif
#endif
