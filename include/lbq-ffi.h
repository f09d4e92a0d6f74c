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

#if defined(LBQ_FFI_BUILD) && defined(__GNUC__)
#define LBQ_FFI_API __attribute__((visibility("default")))
#else
#define LBQ_FFI_API
#endif

/* ABI version of the loaded library (compare with LBQ_FFI_ABI_VERSION of the header you built with). */
LBQ_FFI_API int         lbq_ffi_abi_version(void);
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
