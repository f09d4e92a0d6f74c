/*
 * lbq-ffi.h - the small, stable C ABI of the shared library liblbq.so, for language bindings and
 * training loops (python/lbq uses it through ctypes; docs/binding.md).
 *
 * What it does: quantize-dequantize one contiguous float32 tensor (C order) with one lbq quantizer
 * spec, exactly as `lbq quantize` does: the same spec grammar (lbq list, docs/quantizers.md), the same
 * plan resolution for the tensor's rank and role, and the same bits in the dequantized values and
 * codes.  Plus what a training loop needs around it: a per-step seed for stochastic rounding, the
 * published recipes with their fp32 exemptions, and per-call statistics.
 *
 * Stability rules
 *  - Only fixed-width integer types, double, float, char and opaque pointers cross the boundary; no
 *    struct of lbq.h does.  Every function that can fail returns an int status (0 = success, the
 *    numbers of enum lbq_status in lbq.h: 1 I/O, 2 format, 3 memory, 4 argument, 5 unsupported, ...)
 *    and never prints or exits; lbq_ffi_errmsg() has the one-line detail (per thread).
 *  - LBQ_FFI_ABI_VERSION changes (and the SONAME liblbq.so.N with it) whenever a signature or the
 *    layout of struct lbq_ffi_stats changes.  Bindings check lbq_ffi_abi_version() at load time.
 *    LBQ_FFI_ABI_MINOR counts backward-compatible additions (new functions) within a version:
 *    1.0 the host entry; 1.1 the device entry (lbq_ffi_qdq_device and its companions below).  A
 *    binding written for 1.1 checks lbq_ffi_abi_minor() >= 1 (or looks the symbol up) before using them.
 *  - The library never keeps a pointer it was given after a call returns; all calls are thread-safe
 *    (no global mutable state besides the per-thread error message).
 */
#ifndef LBQ_FFI_H
#define LBQ_FFI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LBQ_FFI_ABI_VERSION 1
#define LBQ_FFI_ABI_MINOR 1

#if defined(LBQ_FFI_BUILD) && defined(__GNUC__)
#define LBQ_FFI_API __attribute__((visibility("default")))
#else
#define LBQ_FFI_API
#endif

/* ABI version of the loaded library (compare with LBQ_FFI_ABI_VERSION of the header you built with). */
LBQ_FFI_API int         lbq_ffi_abi_version(void);
/* Its minor version (LBQ_FFI_ABI_MINOR; since 1.1, absent from 1.0 libraries). */
LBQ_FFI_API int         lbq_ffi_abi_minor(void);
/* lbq's release version ("0.1.0"). */
LBQ_FFI_API const char *lbq_ffi_version(void);
/* One-line detail of the last failure on the calling thread ("" if none). */
LBQ_FFI_API const char *lbq_ffi_errmsg(void);
/* Name of a status ("ok", "bad argument", ...). */
LBQ_FFI_API const char *lbq_ffi_status_str(int status);

/* Roles: the first moment m (exp_avg; signed maps by default) or the second moment v (exp_avg_sq;
 * unsigned by default).  The role also selects the random stream of stochastic rounding. */
#define LBQ_FFI_ROLE_M 0
#define LBQ_FFI_ROLE_V 1

/* Per-call statistics, counted over the whole tensor. */
struct lbq_ffi_stats {
    int64_t numel;          /* elements quantized                                                  */
    int64_t nonfinite;      /* NaN/Inf inputs (quantized as documented: NaN -> code of 0, Inf saturates) */
    int64_t zeroed;         /* finite x != 0 whose dequantized value is 0 ("sent to 0")            */
    int64_t lifted;         /* x == 0 (either sign) whose dequantized value is not 0 ("zeros lifted") */
    int64_t zeros_in;       /* x == 0 in the input                                                 */
    double  sum_sq_err;     /* sum over finite x of (xhat - x)^2, in double                        */
    double  sum_sq;         /* sum over finite x of x^2, in double                                  */
    double  bits_per_elem;  /* storage of codes + scales + per-block parameters, per element       */
    int32_t bits;           /* code width of the effective plan                                    */
    int32_t codes_used;     /* distinct codes that occur                                           */
    int64_t code_hist[256]; /* occurrences of each code                                            */
    char    plan[128];      /* effective spec after rank fallback and role, e.g. "block128-dtree:b4" */
};

/* Seed of stochastic rounding at a training step: step < 0 gives `seed` unchanged; step >= 0 gives
 * splitmix64(seed + (step + 1) * 0x9E3779B97F4A7C15) with the top bit cleared (so it is a valid
 * `lbq quantize --seed`).  lbq_ffi_qdq applies it itself; bindings use it to name the seed of a step. */
LBQ_FFI_API uint64_t lbq_ffi_step_seed(uint64_t seed, int64_t step);

/* Quantize-dequantize x[numel] (numel = product of shape[0..rank-1]; rank 0..8) with quantizer `spec`
 * (e.g. "block128-dtree:b4", "rank1-linear:b4", "block128-log:b2:sr"; defaults as in `lbq quantize`:
 * 4 bits, block 128, nearest rounding, p 0.1) for role m or v.  The values written to out[numel] and
 * codes[numel] (one code per byte; nullable) are bit for bit those of
 *     lbq quantize FILE --quant-m SPEC (or --quant-v SPEC) --seed lbq_ffi_step_seed(seed, step)
 * on a parameter of this shape holding x (spec options such as :sr included).  out may equal x (in
 * place); other overlaps are not allowed.  stats (nullable) receives the statistics.  Memory: the
 * library allocates about 10 bytes per element of a 1 Mi-element slab, plus the tensor's rank-1
 * maxima for global normalizations.  Returns 0, or 4 (bad spec/shape: lbq_ffi_errmsg names it),
 * 3 (out of memory).  Map files (block-file) are not available through this ABI (version 1). */
LBQ_FFI_API int lbq_ffi_qdq(const char *spec, int role, int rank, const int64_t *shape, uint64_t seed, int64_t step,
                const float *x, float *out, uint8_t *codes, struct lbq_ffi_stats *stats);

/* Check a spec for a role and shape without quantizing: the effective plan text (may be NULL) and
 * the storage in bits per element (may be NULL). */
LBQ_FFI_API int lbq_ffi_check(const char *spec, int role, int rank, const int64_t *shape, char *plan, size_t plan_len,
                  double *bits_per_elem);

/* ---- tensors in CUDA device memory (ABI 1.1) ---------------------------------------------------- */
/* 1 when lbq_ffi_qdq_device can run: the library was built with the CUDA backend and a CUDA device is
 * usable; else 0, and lbq_ffi_errmsg() says why ("built without the CUDA backend", "no CUDA device"). */
LBQ_FFI_API int lbq_ffi_device_available(void);

/* lbq_ffi_qdq for a float32 tensor that lives in CUDA device memory: x, out (may equal x) and codes
 * (nullable) are device pointers (cudaMalloc, a PyTorch CUDA tensor's data_ptr(); all on one device,
 * which is made current for the call); `stream` is the cudaStream_t the work is queued on (NULL: the
 * legacy default stream; PyTorch: torch.cuda.current_stream().cuda_stream), so it is ordered after
 * the caller's earlier work on that stream.  The call is synchronous: the stream is synchronized
 * before it returns.  The kernels are the CUDA backend's (src/cuda/, the per-element code of
 * quantizers/qcore.h, IEEE flags pinned as for `lbq --device cuda`): the values and codes are bit
 * for bit those of lbq_ffi_qdq on the same data.  stats (host memory, nullable): the integer
 * counts, code_hist, codes_used, bits, bits_per_elem and plan equal lbq_ffi_qdq's; sum_sq_err and
 * sum_sq are summed in a fixed order of their own (256 x 256 partial sums, then 256 parts), so they
 * agree with lbq_ffi_qdq's to rounding (relative ~1e-15), not bit for bit.  Scratch on the device,
 * from the stream-ordered allocator and freed before returning: one float per block of a blockwise
 * normalization; for global normalizations (tensor, row, col, rank1) the per-dimension maxima; with
 * stats, the codes when codes is NULL (1 byte/element) and, in place, a copy of x (4 bytes/element).
 * Returns 0; 5 (LBQ_ERR_UNSUPPORTED) when the library was built without CUDA or no device is usable
 * (lbq_ffi_errmsg says which; use lbq_ffi_qdq on host memory then); 4 for a bad spec or shape, a
 * pointer that is not device memory or buffers on different devices; 6 on a CUDA runtime failure. */
LBQ_FFI_API int lbq_ffi_qdq_device(const char *spec, int role, int rank, const int64_t *shape, uint64_t seed,
                                   int64_t step, const float *x, float *out, uint8_t *codes, void *stream,
                                   struct lbq_ffi_stats *stats);

/* The CPU twin of lbq_ffi_qdq_device: the same sequence (tensor statistics over the whole tensor,
 * the quantizer over the whole tensor as one piece, the statistics in the device's 256 x 256 split)
 * on host pointers, in every build.  Its values and codes equal lbq_ffi_qdq's and its statistics
 * equal lbq_ffi_qdq_device's bit for bit (sums included).  For tests; stream is ignored. */
LBQ_FFI_API int lbq_ffi_qdq_device_twin(const char *spec, int role, int rank, const int64_t *shape, uint64_t seed,
                                        int64_t step, const float *x, float *out, uint8_t *codes, void *stream,
                                        struct lbq_ffi_stats *stats);

/* Self-check of the device entry (scripts/gpu-check.sh; seconds): 15 specs (Table 1 of the 4-bit
 * paper, 2/3-bit DE and log maps, stochastic rounding, tensor/row/col/rank-1 normalizations) and
 * every recipe's m and v spec, both roles, 1-D/2-D/3-D shapes with zeros, tiny values, outliers and
 * NaN/Inf, out of place and in place: lbq_ffi_qdq_device (use_twin = 0; needs a device) or
 * lbq_ffi_qdq_device_twin (use_twin = 1) against lbq_ffi_qdq, values and codes bit for bit, integer
 * statistics exactly, sums to 1e-9 relative, and the device's sums against the twin's bit for bit.
 * *cases and *mismatches (nullable) receive the counts; first (nullable, first_len bytes) the first
 * mismatch.  Returns 0 when it ran (mismatches counted), 5 without a device, or the failing status. */
LBQ_FFI_API int lbq_ffi_device_selfcheck(int use_twin, int64_t *cases, int64_t *mismatches, char *first,
                                         size_t first_len);

/* ---- recipes (the published optimizers; `lbq list`) ------------------------------------------- */
LBQ_FFI_API int         lbq_ffi_recipe_count(void);
LBQ_FFI_API const char *lbq_ffi_recipe_name(int i);                 /* NULL out of range */
/* The m and v specs of a recipe and its fp32 exemptions: a tensor stays fp32 when
 * numel <= fp32_max_numel (lpmm; -1: none) or numel < fp32_min_numel (bnb, torchao, SOLO; 0: none) or
 * numel % fp32_indivisible != 0 (torchao; 0: none).  Any output pointer may be NULL.  4 if unknown. */
LBQ_FFI_API int lbq_ffi_recipe(const char *name, const char **m_spec, const char **v_spec, int64_t *fp32_max_numel,
                   int64_t *fp32_min_numel, int64_t *fp32_indivisible);
/* 1 if recipe `name` keeps a tensor of numel elements in fp32, 0 if it quantizes it, -4 if unknown. */
LBQ_FFI_API int lbq_ffi_recipe_keeps_fp32(const char *name, int64_t numel);

#ifdef __cplusplus
}
#endif
#endif /* LBQ_FFI_H */
