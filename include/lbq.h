/*
 * lbq.h - public API of liblbq, the library behind the `lbq` command.
 *
 * Conventions
 *  - Every function that can fail returns an `int` status (enum lbq_status, 0 = success) and never
 *    exits or prints.  A one-line human-readable detail of the last failure on the calling thread is
 *    available from lbq_errmsg().
 *  - The caller owns every buffer it passes in; objects come in lbq_<class>_open/_init and
 *    lbq_<class>_close/_free pairs, and *_free(NULL) / *_close(NULL) are no-ops.
 *  - Tensors are float32, row-major (C order), addressed by "flat" element index 0..numel-1.
 *    A "row" is one index of dimension 0 (row_elems = numel / dim[0] elements); 1-D tensors have
 *    one element per row.  Slabs are ranges of rows.
 *  - Units: element counts are int64_t; bits are bits; bytes are bytes; angles are degrees.
 */
#ifndef LBQ_H
#define LBQ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LBQ_VERSION_STRING "0.1.0"
#define LBQ_MAX_RANK 8
#define LBQ_NAME_MAX 512

/* ---- status -------------------------------------------------------------------------------- */
enum lbq_status {               /* numbers are pinned: they are part of the CLI's exit codes */
    LBQ_OK                = 0,
    LBQ_ERR_IO            = 1,  /* input file missing or unreadable                            */
    LBQ_ERR_FORMAT        = 2,  /* not HDF5, truncated, missing dataset, wrong dtype or shape */
    LBQ_ERR_NOMEM         = 3,
    LBQ_ERR_ARG           = 4,  /* bad option, spec, bits, block, unknown name                */
    LBQ_ERR_UNSUPPORTED   = 5,  /* valid request this build or combination cannot do          */
    LBQ_ERR_CUDA          = 6,  /* no CUDA device, or a CUDA runtime failure                   */
    LBQ_ERR_DATA          = 7,  /* input values unusable (for example all non-finite)          */
    LBQ_ERR_INTERRUPTED   = 8,
    LBQ_ERR_OUTPUT        = 9,  /* an output cannot be written (missing/read-only dir, disk full) */
};
const char *lbq_status_str(int status);
/* Detail of the last failure on this thread ("" if none). Valid until the next failure. */
const char *lbq_errmsg(void);
/* Record a failure detail (printf format) and return `status`.  For library code. */
int lbq_err(int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- shapes -------------------------------------------------------------------------------- */
struct lbq_shape {
    int     rank;                   /* 0..LBQ_MAX_RANK */
    int64_t dim[LBQ_MAX_RANK];
    int64_t numel;                  /* product of dims (1 for rank 0) */
};
int64_t lbq_shape_row_elems(const struct lbq_shape *s);     /* numel / dim[0]; 1 for rank <= 1 */
void    lbq_shape_str(const struct lbq_shape *s, char *buf, size_t len);   /* "[96, 384]" */

/* ---- moment files (HDF5), see docs/format.md ------------------------------------------------ */
enum lbq_ds { LBQ_DS_M = 0, LBQ_DS_V = 1, LBQ_DS_PARAM = 2, LBQ_DS_GRADS = 3, LBQ_DS_COUNT = 4 };

struct lbq_hparams {
    int64_t step;   double beta1, beta2, eps, lr;
    int     has_step, has_beta1, has_beta2, has_eps, has_lr;   /* 0: default used */
};

struct lbq_param_info {
    char             name[LBQ_NAME_MAX];    /* group path without the leading '/', escaped (lbq_name_escape) */
    struct lbq_shape shape;                 /* of exp_avg (== exp_avg_sq == param) */
    int              has[LBQ_DS_COUNT];     /* dataset present */
    int              dtype_bits[LBQ_DS_COUNT]; /* 16, 32 or 64 (float storage width) */
    int64_t          grads_T;               /* length of the gradient stream, 0 if none */
    char             orig_dtype[LBQ_DS_COUNT][12]; /* attribute orig_dtype ("bfloat16", ...; docs/format.md), "" if none */
};

struct lbq_open_opts {
    const char *m_name;     /* dataset name of m inside a parameter group; NULL = "exp_avg"    */
    const char *v_name;     /* dataset name of v; NULL = "exp_avg_sq"                            */
    const char *tensor_glob;/* keep only parameters whose name matches (fnmatch); NULL = all     */
};

struct lbq_file;
/* Open a moment file and discover its parameters by walking every group.  On failure *out is NULL
 * and lbq_errmsg() names the file and, where relevant, the tensor. */
int  lbq_file_open(const char *path, const struct lbq_open_opts *opts, struct lbq_file **out);
void lbq_file_close(struct lbq_file *f);
/* HDF5 chunk cache, in bytes, of each dataset being read (default and minimum 1 MiB): the chunked
 * datasets of the parameter being read stay open between reads, so a compressed chunk that spans
 * two slabs is decompressed once (contiguous datasets are reopened for every read).  Count it in memory budgets (two datasets are open at a time). */
void lbq_file_set_chunk_cache(struct lbq_file *f, int64_t bytes);
const struct lbq_hparams    *lbq_file_hparams(const struct lbq_file *f);
int                          lbq_file_nparams(const struct lbq_file *f);
const struct lbq_param_info *lbq_file_param(const struct lbq_file *f, int i);
/* the name as stored in the file (info.name is it escaped for display: docs/format.md, "Parameter
 * names"); quantize writes its output groups under it */
const char *lbq_file_param_raw_name(const struct lbq_file *f, int i);
/* --mem-limit: LBQ_ERR_ARG, naming the tensor and the limit needed, when a chunked exp_avg or
 * exp_avg_sq's uncompressed chunk exceeds bytes/16 (the chunk cache of a dataset holds one whole chunk, so that
 * each chunk is decompressed once); call right after lbq_file_open, before any read */
int lbq_file_set_mem_limit(struct lbq_file *f, int64_t bytes);
/* negative exp_avg_sq values read so far in parameter p (each element counted once, on the first
 * pass of reads in increasing offsets); the unsigned v quantizers map them to 0 */
int64_t lbq_file_negative_v(const struct lbq_file *f, int p);
const char                  *lbq_file_path(const struct lbq_file *f);
/* Notices collected while opening (conversions, skipped scalars, defaults): n lines. */
int         lbq_file_nnotes(const struct lbq_file *f);
const char *lbq_file_note(const struct lbq_file *f, int i);
/* Read flat elements [off, off+n) of dataset `ds` of parameter `p` as float32 into out[n].
 * For LBQ_DS_GRADS, `t` selects the step 0..grads_T-1 (ignored otherwise).  Reads whole rows,
 * so a range that is not row-aligned costs the partial rows at its ends. */
int  lbq_file_read(struct lbq_file *f, int p, enum lbq_ds ds, int64_t t, int64_t off, int64_t n, float *out);
/* Elements read so far, per parameter (for tests that check a command reads each tensor once). */
int64_t lbq_file_elems_read(const struct lbq_file *f, int p, enum lbq_ds ds);
/* Fingerprint of parameter p's m and v as read (64-bit FNV-1a over the float32 words, each element
 * once, in order; computed inside lbq_file_read at no extra read): 1 and *h when every element of
 * both has been read, else 0.  _set records one computed elsewhere (MPI: by another rank); _read
 * reads what is still missing, in slabs of at most 1/8 of the file's --mem-limit. */
int  lbq_file_fingerprint(const struct lbq_file *f, int p, uint64_t *h);
void lbq_file_fingerprint_set(struct lbq_file *f, int p, uint64_t h);
int  lbq_file_fingerprint_read(struct lbq_file *f, int p);
/* Whether reads compute the fingerprint (default 1).  A serial multiply chain over every element,
 * about 5% of analyze, which does not need it (sweep's resume identity does): analyze calls
 * lbq_file_set_fingerprint(f, 0) right after opening.  Off, lbq_file_fingerprint returns 0 for a
 * parameter read since (unless _set); lbq_file_fingerprint_read turns it back on. */
void lbq_file_set_fingerprint(struct lbq_file *f, int on);

/* Writer for lbq's own HDF5 outputs: written under a temporary name, renamed by commit. */
enum lbq_wtype { LBQ_W_F32 = 0, LBQ_W_U8 = 1, LBQ_W_F64 = 2, LBQ_W_I64 = 3 };
struct lbq_h5w;
int  lbq_h5w_open(const char *path, struct lbq_h5w **out);
/* Create dataset `name` in group `group` (created with parents if missing; "" = root). Returns a
 * dataset handle index in *ds. */
int  lbq_h5w_dset(struct lbq_h5w *w, const char *group, const char *name, enum lbq_wtype type,
                  const struct lbq_shape *shape, int *ds);
/* Write flat elements [off, off+n) of dataset ds (must be whole rows of the dataset). */
int  lbq_h5w_write(struct lbq_h5w *w, int ds, int64_t off, int64_t n, const void *data);
int  lbq_h5w_attr_str(struct lbq_h5w *w, const char *obj, const char *name, const char *value);
int  lbq_h5w_attr_f64(struct lbq_h5w *w, const char *obj, const char *name, double value);
int  lbq_h5w_attr_i64(struct lbq_h5w *w, const char *obj, const char *name, int64_t value);
int  lbq_h5w_commit(struct lbq_h5w *w);    /* close and rename into place; frees w */
void lbq_h5w_abort(struct lbq_h5w *w);     /* close and delete the temporary; frees w; NULL ok */

/* ---- quantizer registries (quantizers/) ---------------------------------------------------- */
struct lbq_qplan;
struct lbq_tstats;
struct lbq_qspec;

/* A map (codebook).  Table maps fill `levels` (sorted ascending, <= 256 entries, values in
 * [-1, 1] signed or [0, 1] unsigned) and let the engine do the nearest/stochastic search;
 * the others (log, fp8) implement qdq themselves with the shared per-element code.
 * Layers above quantizers/ never compare a map's name: they read its capability slots (kind,
 * user_levels, sweepable, labels), so a new map is one file plus one registry line. */
enum lbq_map_kind {
    LBQ_MAP_TABLE = 0,          /* levels from build(); the engine's table search (CPU and CUDA) */
    LBQ_MAP_LOG   = 1,          /* SOLO's per-block logarithmic map (qdq; CUDA kernel M_LOG)      */
    LBQ_MAP_FP8_E4M3 = 2,       /* an fp8 cast with a per-block scale (qdq; CUDA kernel M_FP8)    */
    LBQ_MAP_FP8_E5M2 = 3,
};
/* SOLO's synthetic swamping study (sweep's figure 4): which maps it runs, in which order. */
struct lbq_map_swamp {
    int         order;          /* 1, 2, ...: position in the study; 0 = not run */
    int         sr;             /* run with stochastic rounding (SOLO's log map) */
    const char *label;          /* the figure's panel title */
};
struct lbq_map {
    const char *name;
    const char *aliases;        /* comma-separated, "" if none */
    const char *help;           /* one line */
    int  min_bits, max_bits;    /* valid --bits range (fixed_bits overrides) */
    int  fixed_bits;            /* 0, or the only bitwidth (fp8: 8) */
    int  sign_ok;               /* LBQ_SIGNED_OK | LBQ_UNSIGNED_OK */
    int  needs_block;           /* per-block parameters: only with block normalization */
    /* extra fp32 values stored per block beside the scale (log: alpha; fp8:dre: k, g); NULL = 0 */
    int  (*nparams)(const struct lbq_qspec *s);
    /* table maps: write the levels for (bits, signed) and return their count, or a negative
     * status if undefined there.  NULL for non-table maps. */
    int  (*build)(const struct lbq_qspec *s, int bits, int is_signed, float *levels);
    /* non-table maps: qdq flat elements [off, off+n) (block-aligned) given per-element scales
     * (the normalization's absmax); a map that stores a different scale (fp8 s = absmax/448,
     * COAT's s) writes it back into scale[].  bparams: nparams() values per block, nullable. */
    int  (*qdq)(const struct lbq_qplan *p, int64_t off, int64_t n, const float *x,
                float *scale, float *xhat, uint8_t *codes, float *bparams);
    /* optional, maps whose per-block work starts from the block's own statistics (fp8: the block
     * absmax; fp8:dre: COAT's group max and min): with a block_absmax normalization the engine
     * calls this instead of the normalization's per-element scales and qdq, with the same results;
     * bscale receives one scale per block (the value qdq writes to every element of the block).
     * NULL: scales, then qdq. */
    int  (*qdq_blocks)(const struct lbq_qplan *p, int64_t off, int64_t n, const float *x,
                       float *bscale, float *xhat, uint8_t *codes, float *bparams);
    /* ---- capability slots ---- */
    int  kind;                  /* enum lbq_map_kind (table maps: LBQ_MAP_TABLE, the zero default) */
    int  user_levels;           /* levels come from --map-file; the bitwidth follows from their count */
    int  sweepable;             /* `lbq sweep --map` accepts it (every map but the user codebook) */
    const char *label;          /* figure legend ("DE"); NULL = the name */
    const char *label_shampoo;  /* 4-Bit Shampoo's name for it ("DT"); NULL = the name */
    int  line;                  /* linetype 1..8 of plots/lbq-style.gp; 0 = by first appearance */
    struct lbq_map_swamp swamp; /* SOLO's swamping study (figure 4) */
};
/* A map with a fixed codebook: a table map whose levels are not the user's (theory, `list --json`
 * levels, the sweep's codebook figure). */
static inline int lbq_map_fixed_table(const struct lbq_map *m) { return m->kind == LBQ_MAP_TABLE && !m->user_levels; }
/* Levels of a map whose codebook depends on each block (the log map: alpha^k, alpha = xp^(1/N),
 * N = 2^bits - 1) for one example block with p-quantile xp relative to the block max, in
 * ascending order (the last is 1), into lev[2^bits].  Returns the count, or 0 for maps with a fixed table. */
int lbq_map_example_levels(const struct lbq_map *m, int bits, float xp, float *lev);
static inline int lbq_map_is_fp8(const struct lbq_map *m) { return m->kind == LBQ_MAP_FP8_E4M3 || m->kind == LBQ_MAP_FP8_E5M2; }
#define LBQ_SIGNED_OK   1
#define LBQ_UNSIGNED_OK 2

/* A normalization: how the scale of each element is computed. */
enum lbq_norm_kind {            /* the scale rule, for backends that implement each in a kernel */
    LBQ_NORM_TENSOR = 0, LBQ_NORM_BLOCK = 1, LBQ_NORM_ROW = 2, LBQ_NORM_COL = 3, LBQ_NORM_RANK1 = 4,
};
#define LBQ_SCALE_DIMS_ALL 0xffu      /* scale_dims: every dimension */
#define LBQ_SCALE_DIM_LAST 0x100u     /* scale_dims: the last dimension, whatever the rank */
struct lbq_norm {
    const char *name;
    const char *aliases;
    const char *help;
    int  global_stats;          /* needs tensor-wide statistics first (a first pass) */
    int  blockwise;             /* one scale per block of plan->block consecutive elements */
    int  block_absmax;          /* blockwise, and a block's scale is its max |x| over finite x
                                 * (lbq_absmax_acc): the engine fuses it with the quantization */
    int  min_rank;              /* below it, `fallback` is used (rank1 on 1-D -> block128) */
    const struct lbq_norm *fallback;  /* the normalization used below min_rank, or NULL */
    int64_t fallback_block;     /* its block size (blockwise fallbacks); 0 = the spec's */
    /* scale[i] for flat elements [off, off+n); blockwise norms see whole blocks. */
    void (*scales)(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, int64_t n,
                   const float *x, float *scale);
    /* number of fp32 scales stored for a tensor of this shape */
    int64_t (*nscales)(const struct lbq_qplan *p, const struct lbq_shape *shape);
    /* ---- capability slots ---- */
    int  kind;                  /* enum lbq_norm_kind */
    /* non-blockwise norms: the stored scales (lbq quantize) are the per-index maxima dimmax[d] of
     * every dimension d in this bit mask, back to back (LBQ_SCALE_DIMS_ALL: all dims); 0 = the
     * tensor's absmax alone.  A single stored scale is always the absmax. */
    unsigned scale_dims;
    const char *label;          /* figure legend ("Rank-1"; blockwise: "Block") */
    const char *abbrev;         /* blockwise: the prefix before the block size ("B" -> "B128") */
    int  point;                 /* gnuplot pointtype in the memory-vs-error figure; 0 = 13 */
};

int                    lbq_map_count(void);
const struct lbq_map  *lbq_map_at(int i);
const struct lbq_map  *lbq_map_find(const char *name);      /* name or alias, case-insensitive */
int                    lbq_norm_count(void);
const struct lbq_norm *lbq_norm_at(int i);
/* Find a normalization by name; "block128" / "B128" give block with *block = 128. */
const struct lbq_norm *lbq_norm_find(const char *name, int64_t *block);
/* Closest registered name to `name` (for "did you mean"), or NULL. */
const char *lbq_name_suggest(const char *name);

/* ---- quantizer specs and plans -------------------------------------------------------------- */
enum lbq_round { LBQ_ROUND_NEAREST = 0, LBQ_ROUND_STOCHASTIC = 1 };
enum lbq_role  { LBQ_ROLE_M = 0, LBQ_ROLE_V = 1 };

struct lbq_qspec {
    const struct lbq_norm *norm;
    const struct lbq_map  *map;
    int      bits;          /* 1..8 */
    int64_t  block;         /* block size for blockwise norms */
    int      sign;          /* -1: from the role (m signed, v unsigned); 0 unsigned; 1 signed */
    int      round;         /* enum lbq_round */
    uint64_t seed;
    float    quantile;      /* log map: p, default 0.1 */
    int      nz;            /* exclude the zero code (":nz") */
    int      dre;           /* fp8: COAT dynamic range expansion (":dre") */
    int      cpu;           /* table maps: the PyTorch CPU kernel whose fp32 codebook is reproduced:
                             * 0 avx2 (torch's default), 1 avx512 (":cpu-avx512"), 2 default (":cpu-default") */
    int      tie;           /* nearest on a table: 0 lpmm CUDA real-nearest (a value on a midpoint takes the
                             * lower code), 1 lpmm torch 'nearest' (argmin of fp32 distances, ":argmin"),
                             * 2 torchao (ties up, scale clipped to >= 1e-12, ":torchao") */
    int      guarded;       /* log map: lbq's guarded degenerate blocks (":guarded") instead of SOLO's own */
    int      coat;          /* plain fp8: COAT's scale (absmax + 1e-20)/FMAX (":coat") instead of torchao's */
    int      fit;           /* blockwise: block = the largest divisor of numel <= block (":fit", SOLO's
                             * rule; implied for the log map unless ":guarded"), see lbq_qplan_fit */
    char     map_file[LBQ_NAME_MAX];   /* user codebook ("--map-file"), "" if none */
    char     text[128];     /* canonical spec text, e.g. "block128-dtree:b4" */
};

/* Defaults a spec string does not say: bits, block, rounding, seed, quantile, map file. */
struct lbq_qdefaults {
    int bits; int64_t block; int round; uint64_t seed; float quantile; const char *map_file;
    int bits_set;           /* --bits given explicitly (an fp8 spec then rejects bits != 8) */
};
void lbq_qdefaults_init(struct lbq_qdefaults *d);   /* bits 4, block 128, nearest, seed 0, p 0.1 */

/* The CPU quantization loops in use: 2 the AVX2 paths (src/simd.c), 3 those and the AVX-512 F log-map loop,
 * 0 the portable loops. */
int lbq_simd_level(void);

/* ATen CPU capability whose codebook kernels are reproduced (ATEN_CPU_CAPABILITY; qspec.cpu). */
enum lbq_cpu { LBQ_CPU_AVX2 = 0, LBQ_CPU_AVX512 = 1, LBQ_CPU_DEFAULT = 2 };
/* "avx2", "avx512", "default" */
const char *lbq_cpu_name(int cpu);

/* Parse "NORM-MAP[:opt...]" (opts: bN, nz, dre, signed, unsigned, sr, nearest, pX, cpu-avx2,
 * cpu-avx512, cpu-default, argmin, torchao, guarded, coat, fit; docs/quantizers.md).  Validates bits,
 * block and map/norm compatibility; errors name the offending part. */
int lbq_qspec_parse(const char *text, const struct lbq_qdefaults *d, struct lbq_qspec *out);
/* Probe whether `text` parses at defaults d (out, nullable, receives the spec).  Returns 1 or 0 and
 * leaves no error detail behind (lbq_errmsg() is "" afterwards): for code that enumerates
 * combinations (sweep axes, codebook tables) instead of parsing and clearing the error itself. */
int lbq_qspec_supported(const char *text, const struct lbq_qdefaults *d, struct lbq_qspec *out);
/* Canonical text of a spec (also stored in out->text by parse). */
void lbq_qspec_format(const struct lbq_qspec *s, char *buf, size_t len);

/* A plan is a spec resolved for one role and tensor rank: effective normalization (fallbacks),
 * signedness, and the codebook with its midpoints.  Plain data, no heap: copy freely. */
struct lbq_qplan {
    struct lbq_qspec       spec;
    const struct lbq_norm *norm;        /* effective (after rank fallback) */
    int64_t                block;       /* effective block size (blockwise norms) */
    int                    is_signed;
    int                    bits;
    int                    nlev;        /* number of levels (table maps) */
    int                    npow2;       /* table size padded to a power of two */
    uint32_t               stream;      /* random stream: role */
    float                  q[256];      /* levels padded with +inf */
    float                  mid[256];    /* midpoints padded with +inf */
};
int lbq_qplan_init(struct lbq_qplan *p, const struct lbq_qspec *s, enum lbq_role role, int rank);
/* Fit the plan to a tensor of numel elements: SOLO's block rule (":fit", the log map unless
 * ":guarded") makes the block the largest divisor of numel that is <= the block size (numel
 * itself when numel <= it).  No-op otherwise.  Call after lbq_qplan_init, before any qdq. */
void lbq_qplan_fit(struct lbq_qplan *p, int64_t numel);
/* The same probe for a plan: 1 when lbq_qplan_init succeeds (p, nullable, receives the plan), else 0;
 * lbq_errmsg() is "" afterwards. */
int lbq_qplan_supported(struct lbq_qplan *p, const struct lbq_qspec *s, enum lbq_role role, int rank);

/* Storage of a quantized tensor in bits: codes, scales and per-block parameters. */
struct lbq_qsize { int64_t code_bits, scale_bits, param_bits; double bits_per_elem; };
void lbq_qplan_size(const struct lbq_qplan *p, const struct lbq_shape *shape, struct lbq_qsize *out);

/* The zero floor of a plan: the largest |x| / scale that it can dequantize to exactly 0 from a
 * non-zero x (scale: the normalization's, so |x| / scale <= 1); 0 when no non-zero value can become 0
 * (no zero level: ":nz", zero-excluding maps, the log map).  Table maps: the midpoint between the
 * zero level and its nearest neighbour (the neighbour itself with stochastic rounding); fp8: half the
 * smallest subnormal over the largest finite value (docs/metrics.md "zero floor"). */
double lbq_qplan_zero_floor(const struct lbq_qplan *p);

/* The stored scales of a non-blockwise plan (lbq quantize, docs/format.md): nsc =
 * norm->nscales(plan, shape) values from the statistics (norm slot scale_dims). */
void lbq_qplan_global_scales(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t nsc, float *out);

/* The library's counter-based random numbers (Philox, quantizers/qcore.h): a uniform float in
 * [0, 1) for element i of stream `stream` under `seed`, as stochastic rounding draws them. */
float lbq_uniform(uint64_t seed, uint32_t stream, uint64_t i);

/* ---- quantized files (docs/format.md, "quantized files"; lbq quantize) ---------------------- */
/* The root attributes of a quantized file: format version, source file, config label, hparams. */
int lbq_quantize_header(struct lbq_h5w *w, const struct lbq_file *f, const char *config_label);
/* Quantize state `ds` of parameter p with plan pl (NULL: copy it as float32, quantized = 0) and
 * write its datasets LABEL, LABEL.codes, LABEL.scales, LABEL.params and attributes under the
 * parameter's group of w, in slabs of about mem/16 elements.  *nonfinite receives the count of
 * NaN/Inf inputs once they are all read (the caller may warn). */
int lbq_quantize_state(struct lbq_file *f, int p, enum lbq_ds ds, const struct lbq_qplan *pl, struct lbq_h5w *w,
                       int64_t mem, const char *label, int64_t *nonfinite);

/* ---- tensor statistics needed by normalizations (pass 1) ------------------------------------ */
struct lbq_tstats {
    struct lbq_shape shape;
    float   absmax;                     /* max |x| over finite x */
    float  *dimmax[LBQ_MAX_RANK];       /* dimmax[d][i] = max |x| over elements with index i on d */
    float  *dimbuf;                     /* all dimmax vectors back to back (rank >= 2), owned */
    int64_t dimoff[LBQ_MAX_RANK];       /* dimmax[d] == dimbuf + dimoff[d] */
    int64_t nonfinite;
    int64_t seen;                       /* elements accumulated */
};
int  lbq_tstats_init(struct lbq_tstats *st, const struct lbq_shape *shape);
void lbq_tstats_reset(struct lbq_tstats *st);
void lbq_tstats_add(struct lbq_tstats *st, int64_t off, int64_t n, const float *x);
/* Combine b into a (same shape). */
void lbq_tstats_merge(struct lbq_tstats *a, const struct lbq_tstats *b);
void lbq_tstats_free(struct lbq_tstats *st);

/* ---- quantize / dequantize (CPU reference) -------------------------------------------------- */
/* Quantize and dequantize flat elements [off, off+n) of a tensor.  For blockwise norms off must be
 * a multiple of the block and n too unless the range ends the tensor.  xhat[n] receives the
 * dequantized values; codes[n] (nullable) one code per byte; bparams (nullable) per-block
 * parameters (nblocks * map->nparams(spec)); scale (nullable) the per-element scales; scratch must
 * hold n floats when scale is NULL.  Non-finite inputs are quantized as 0 (NaN) or saturate (Inf).
 * Returns LBQ_OK or LBQ_ERR_ARG for a misaligned range. */
int lbq_qdq(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, int64_t n,
            const float *x, float *xhat, uint8_t *codes, float *scale, float *bparams, float *scratch);
/* lbq_qdq with the scales as `lbq quantize` stores them: for blockwise normalizations bscale
 * (nullable) receives one scale per block (nblocks values: the scale lbq_qdq gives the block's
 * elements), and no per-element scale array is written where the block statistics are fused with
 * the quantization (table maps with nearest rounding, maps with qdq_blocks); non-blockwise
 * normalizations: bscale is not used (the stored scales are lbq_qplan_global_scales).  scratch
 * must hold n floats (used where per-element scales are needed).  Same values, codes and
 * parameters as lbq_qdq. */
int lbq_qdq_stored(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, int64_t n,
                   const float *x, float *xhat, uint8_t *codes, float *bscale, float *bparams, float *scratch);
/* Pack one-byte codes into a dense little-endian bit stream (element i at bits [i*b, (i+1)*b)). */
void lbq_pack(const uint8_t *codes, int64_t n, int bits, uint8_t *out);   /* out: ceil(n*b/8) */
void lbq_unpack(const uint8_t *in, int64_t n, int bits, uint8_t *codes);

/* ---- recipes --------------------------------------------------------------------------------- */
struct lbq_recipe {
    const char *name;
    const char *help;
    const char *m_spec, *v_spec;   /* spec texts with their bits (":bN") */
    int64_t     fp32_max_numel;    /* tensors with numel <= this keep fp32 states (-1: none) */
    int64_t     fp32_min_numel;    /* ...or numel < this (bnb/torchao rule); 0: none */
    int64_t     fp32_indivisible;  /* keep fp32 if numel % this != 0 (torchao); 0: none */
};
int                      lbq_recipe_count(void);
const struct lbq_recipe *lbq_recipe_at(int i);
const struct lbq_recipe *lbq_recipe_find(const char *name);
/* 1 if the recipe leaves a tensor of numel elements in fp32. */
int lbq_recipe_keeps_fp32(const struct lbq_recipe *r, int64_t numel);

/* ---- misc --------------------------------------------------------------------------------- */
int  lbq_threads(void);                 /* OpenMP threads in use (1 without OpenMP) */
int  lbq_cuda_device_count(void);       /* 0 without a device or without a CUDA build */
const char *lbq_cuda_build_info(void);  /* "CUDA 13.0 (sm_80 sm_90)" or "not built" */

#ifdef __cplusplus
}
#endif
#endif /* LBQ_H */
