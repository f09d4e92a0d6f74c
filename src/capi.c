/* capi.c - the stable C ABI of liblbq.so (include/lbq-ffi.h) over the library's own quantize path:
 * lbq_qspec_parse -> lbq_qplan_init -> lbq_tstats (global normalizations) -> lbq_qdq, slab by slab
 * with the slab alignment of `lbq quantize` (cli/cmd-quantize.c), so the bits are the same. */
#include "lbq-impl.h"
#include "../include/lbq-ffi.h"
#include "cuda/lbq-cuda.h"

int lbq_ffi_abi_version(void) { return LBQ_FFI_ABI_VERSION; }
int lbq_ffi_abi_minor(void) { return LBQ_FFI_ABI_MINOR; }
const char *lbq_ffi_version(void) { return LBQ_VERSION_STRING; }
const char *lbq_ffi_errmsg(void) { return lbq_errmsg(); }
const char *lbq_ffi_status_str(int status) { return lbq_status_str(status); }

uint64_t lbq_ffi_step_seed(uint64_t seed, int64_t step)
{
    if (step < 0) return seed;
    uint64_t z = seed + ((uint64_t)step + 1u) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return z & 0x7fffffffffffffffull;
}

static int64_t gcd64(int64_t a, int64_t b) { while (b) { int64_t t = a % b; a = b; b = t; } return a; }
static int64_t lcm64(int64_t a, int64_t b) { return a / gcd64(a, b) * b; }

/* spec + role + shape -> plan; shape validated */
static int make_plan(const char *spec, int role, int rank, const int64_t *shape, uint64_t seed,
                     struct lbq_shape *sh, struct lbq_qplan *pl)
{
    if (!spec) return lbq_err(LBQ_ERR_ARG, "lbq_ffi: no quantizer spec");
    if (role != LBQ_FFI_ROLE_M && role != LBQ_FFI_ROLE_V)
        return lbq_err(LBQ_ERR_ARG, "lbq_ffi: role %d is not 0 (m) or 1 (v)", role);
    if (rank < 0 || rank > LBQ_MAX_RANK)
        return lbq_err(LBQ_ERR_ARG, "lbq_ffi: rank %d out of range (0-%d)", rank, LBQ_MAX_RANK);
    if (rank > 0 && !shape) return lbq_err(LBQ_ERR_ARG, "lbq_ffi: no shape for rank %d", rank);
    memset(sh, 0, sizeof *sh);
    sh->rank = rank;
    sh->numel = 1;
    for (int d = 0; d < rank; d++) {
        if (shape[d] < 0) return lbq_err(LBQ_ERR_ARG, "lbq_ffi: dimension %d is negative (%lld)", d, (long long)shape[d]);
        if (shape[d] && sh->numel > INT64_MAX / 8 / shape[d])
            return lbq_err(LBQ_ERR_ARG, "lbq_ffi: shape too large");
        sh->dim[d] = shape[d];
        sh->numel *= shape[d];
    }
    struct lbq_qdefaults d;
    lbq_qdefaults_init(&d);
    d.seed = seed;
    struct lbq_qspec qs;
    int rc = lbq_qspec_parse(spec, &d, &qs);
    if (rc) return rc;
    if (qs.map->user_levels)
        return lbq_err(LBQ_ERR_UNSUPPORTED, "quantizer '%s': map files are not available through the C ABI (version %d)", spec, LBQ_FFI_ABI_VERSION);
    rc = lbq_qplan_init(pl, &qs, role == LBQ_FFI_ROLE_M ? LBQ_ROLE_M : LBQ_ROLE_V, rank);
    if (rc) return rc;
    lbq_qplan_fit(pl, sh->numel);       /* SOLO's per-tensor block (log map), as lbq quantize */
    return LBQ_OK;
}

static void plan_text(const struct lbq_qplan *pl, char *buf, size_t len)
{
    struct lbq_qspec eff = pl->spec;    /* effective normalization and block after rank fallback */
    eff.norm = pl->norm;
    eff.block = pl->block;
    eff.bits = pl->bits;
    lbq_qspec_format(&eff, buf, len);
}

int lbq_ffi_check(const char *spec, int role, int rank, const int64_t *shape, char *plan, size_t plan_len,
                  double *bits_per_elem)
{
    struct lbq_shape sh;
    struct lbq_qplan pl;
    int rc = make_plan(spec, role, rank, shape, 0, &sh, &pl);
    if (rc) return rc;
    if (plan && plan_len) plan_text(&pl, plan, plan_len);
    if (bits_per_elem) {
        struct lbq_qsize qz;
        lbq_qplan_size(&pl, &sh, &qz);
        *bits_per_elem = qz.bits_per_elem;
    }
    return LBQ_OK;
}

/* The plan of one call (the per-step seed) and the statistics known before any work: zeroed, then
 * the plan's storage, bits, numel and text.  Shared by the host and device entries. */
static int call_plan(const char *spec, int role, int rank, const int64_t *shape, uint64_t seed, int64_t step,
                     struct lbq_ffi_stats *stats, struct lbq_shape *sh, struct lbq_qplan *pl)
{
    if (stats) memset(stats, 0, sizeof *stats);
    int rc = make_plan(spec, role, rank, shape, lbq_ffi_step_seed(seed, step), sh, pl);
    if (rc || !stats) return rc;
    struct lbq_qsize qz;
    lbq_qplan_size(pl, sh, &qz);
    stats->bits_per_elem = qz.bits_per_elem;
    stats->bits = pl->bits;
    stats->numel = sh->numel;
    plan_text(pl, stats->plan, sizeof stats->plan);
    return LBQ_OK;
}

int lbq_ffi_qdq(const char *spec, int role, int rank, const int64_t *shape, uint64_t seed, int64_t step,
                const float *x, float *out, uint8_t *codes, struct lbq_ffi_stats *stats)
{
    int rc = LBQ_OK;
    struct lbq_shape sh;
    struct lbq_qplan pl;
    struct lbq_tstats st;
    int have_st = 0;
    float *in = NULL, *sc = NULL, *bp = NULL;
    uint8_t *cb = NULL;
    LBQ_TRY(call_plan(spec, role, rank, shape, seed, step, stats, &sh, &pl));
    const int64_t N = sh.numel;
    if (N == 0) return LBQ_OK;
    if (!x || !out) return lbq_err(LBQ_ERR_ARG, "lbq_ffi_qdq: NULL tensor pointer");
    uintptr_t xa = (uintptr_t)x, oa = (uintptr_t)out, nb = (uintptr_t)N * sizeof(float);
    if (xa != oa && ((xa < oa && xa + nb > oa) || (oa < xa && oa + nb > xa)))
        return lbq_err(LBQ_ERR_ARG, "lbq_ffi_qdq: input and output overlap without being the same buffer");
    /* slabs aligned as in `lbq quantize`: whole rows, whole bytes of packed codes, whole blocks */
    int64_t unit = lcm64(lcm64(lbq_shape_row_elems(&sh), 8), pl.norm->blockwise ? pl.block : 1);
    int64_t slab = ((int64_t)1 << 20) / unit * unit;
    if (slab < unit) slab = unit;
    if (slab > N) slab = N;
    in = malloc(sizeof(float) * (size_t)slab);
    sc = malloc(sizeof(float) * (size_t)slab);
    cb = malloc((size_t)slab);
    int npar = pl.spec.map->nparams && pl.norm->blockwise ? pl.spec.map->nparams(&pl.spec) : 0;
    if (npar) bp = malloc(sizeof(float) * (size_t)(npar * (slab / pl.block + 1)));
    if (!in || !sc || !cb || (npar && !bp)) { rc = lbq_err(LBQ_ERR_NOMEM, "lbq_ffi_qdq: out of memory for a %lld-element slab", (long long)slab); goto cleanup; }
    if (pl.norm->global_stats) {
        LBQ_TRY(lbq_tstats_init(&st, &sh));
        have_st = 1;
        for (int64_t off = 0; off < N; off += slab) {
            int64_t n = N - off < slab ? N - off : slab;
            lbq_tstats_add(&st, off, n, x + off);
        }
    }
    for (int64_t off = 0; off < N; off += slab) {
        int64_t n = N - off < slab ? N - off : slab;
        memcpy(in, x + off, sizeof(float) * (size_t)n);     /* out may be x */
        uint8_t *c = codes ? codes + off : cb;
        LBQ_TRY(lbq_qdq(&pl, have_st ? &st : NULL, off, n, in, out + off, c, NULL, bp, sc));
        if (!stats) continue;
        const float *xh = out + off;
        for (int64_t i = 0; i < n; i++) {
            float a = in[i], b = xh[i];
            stats->code_hist[c[i]]++;
            if (!isfinite(a)) { stats->nonfinite++; continue; }
            if (a == 0.0f) { stats->zeros_in++; stats->lifted += (b != 0.0f); }
            else stats->zeroed += (b == 0.0f);
            double e = (double)b - (double)a;
            stats->sum_sq_err += e * e;
            stats->sum_sq += (double)a * (double)a;
        }
    }
    if (stats)
        for (int k = 0; k < 256; k++) stats->codes_used += stats->code_hist[k] != 0;
cleanup:
    if (have_st) lbq_tstats_free(&st);
    free(in); free(sc); free(cb); free(bp);
    return rc;
}

int lbq_ffi_recipe_count(void) { return lbq_recipe_count(); }
const char *lbq_ffi_recipe_name(int i)
{
    const struct lbq_recipe *r = lbq_recipe_at(i);
    return r ? r->name : NULL;
}

int lbq_ffi_recipe(const char *name, const char **m_spec, const char **v_spec, int64_t *fp32_max_numel,
                   int64_t *fp32_min_numel, int64_t *fp32_indivisible)
{
    const struct lbq_recipe *r = name ? lbq_recipe_find(name) : NULL;
    if (!r) {
        const char *s = name ? lbq_name_suggest(name) : NULL;
        return lbq_err(LBQ_ERR_ARG, "unknown recipe '%s'%s%s%s; see 'lbq list'", name ? name : "(null)",
                       s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
    }
    if (m_spec) *m_spec = r->m_spec;
    if (v_spec) *v_spec = r->v_spec;
    if (fp32_max_numel) *fp32_max_numel = r->fp32_max_numel;
    if (fp32_min_numel) *fp32_min_numel = r->fp32_min_numel;
    if (fp32_indivisible) *fp32_indivisible = r->fp32_indivisible;
    return LBQ_OK;
}

int lbq_ffi_recipe_keeps_fp32(const char *name, int64_t numel)
{
    const struct lbq_recipe *r = name ? lbq_recipe_find(name) : NULL;
    if (!r) return -lbq_ffi_recipe(name, NULL, NULL, NULL, NULL, NULL);
    return lbq_recipe_keeps_fp32(r, numel);
}

/* ---- device tensors (ABI 1.1): lbq_ffi_qdq_device over src/cuda/ffi-device.cu, and its CPU twin ---- */

int lbq_ffi_device_available(void)
{
    if (lbq_cuda_check() != LBQ_OK) return 0;           /* lbq_errmsg: why (no device, CPU-only build) */
#ifndef LBQ_FFI_CUDA
    lbq_err(LBQ_ERR_UNSUPPORTED, "liblbq.so was built without the CUDA backend (rebuild with nvcc and -DLBQ_CUDA=ON)");
    return 0;
#else
    return 1;
#endif
}

/* The device entry's sequence on host memory: tensor statistics over the whole tensor, lbq_qdq over
 * the whole tensor as one piece, the statistics in the GPU's work split (lbq-cuda.h). */
static int twin_qdq(const struct lbq_qplan *p, const struct lbq_shape *sh, const float *x, float *out,
                    uint8_t *codes, void *stream, struct lbq_ffi_dev_stats *ds)
{
    (void)stream;
    const int64_t N = sh->numel;
    int rc = LBQ_OK, have_st = 0;
    struct lbq_tstats st;
    float *copy = NULL, *sc = NULL, *bp = NULL;
    uint8_t *cb = NULL;
    const float *src = x;
    if (p->norm->global_stats) {
        LBQ_TRY(lbq_tstats_init(&st, sh));
        have_st = 1;
        lbq_tstats_add(&st, 0, N, x);
    }
    if (ds && out == x && N > 0) {
        if (!(copy = malloc(sizeof(float) * (size_t)N))) { rc = lbq_err(LBQ_ERR_NOMEM, "lbq_ffi_qdq_device_twin: out of memory"); goto cleanup; }
        memcpy(copy, x, sizeof(float) * (size_t)N);
        src = copy;
    }
    if (!codes && ds && !(codes = cb = malloc((size_t)N + 1))) { rc = lbq_err(LBQ_ERR_NOMEM, "lbq_ffi_qdq_device_twin: out of memory"); goto cleanup; }
    int npar = p->spec.map->nparams && p->norm->blockwise ? p->spec.map->nparams(&p->spec) : 0;
    sc = malloc(sizeof(float) * (size_t)(N + 1));
    if (npar) bp = malloc(sizeof(float) * (size_t)(npar * (N / p->block + 1)));
    if (!sc || (npar && !bp)) { rc = lbq_err(LBQ_ERR_NOMEM, "lbq_ffi_qdq_device_twin: out of memory"); goto cleanup; }
    if (N > 0) LBQ_TRY(lbq_qdq(p, have_st ? &st : NULL, 0, N, src, out, codes, sc, bp, NULL));
    if (ds) {
        const int64_t G = (int64_t)LBQ_FFI_DEV_BLOCKS * LBQ_FFI_DEV_THREADS;
        static const struct lbq_ffi_dev_part zero;
        struct lbq_ffi_dev_part *th = malloc(sizeof *th * LBQ_FFI_DEV_THREADS);
        if (!th) { rc = lbq_err(LBQ_ERR_NOMEM, "lbq_ffi_qdq_device_twin: out of memory"); goto cleanup; }
        memset(ds->code_hist, 0, sizeof ds->code_hist);
        for (int b = 0; b < LBQ_FFI_DEV_BLOCKS; b++) {
            for (int t = 0; t < LBQ_FFI_DEV_THREADS; t++) {
                th[t] = zero;
                for (int64_t i = (int64_t)b * LBQ_FFI_DEV_THREADS + t; i < N; i += G) {
                    lbq_ffi_dev_acc(&th[t], src[i], out[i]);
                    ds->code_hist[codes[i]]++;
                }
            }
            for (int stride = LBQ_FFI_DEV_THREADS / 2; stride > 0; stride >>= 1)
                for (int t = 0; t < stride; t++) {
                    th[t].nonfinite += th[t + stride].nonfinite; th[t].zeroed += th[t + stride].zeroed;
                    th[t].lifted += th[t + stride].lifted; th[t].zeros_in += th[t + stride].zeros_in;
                    th[t].sum_sq_err += th[t + stride].sum_sq_err; th[t].sum_sq += th[t + stride].sum_sq;
                }
            ds->part[b] = th[0];
        }
        free(th);
    }
cleanup:
    if (have_st) lbq_tstats_free(&st);
    free(copy); free(cb); free(sc); free(bp);
    return rc;
}

typedef int (*dev_backend)(const struct lbq_qplan *, const struct lbq_shape *, const float *, float *, uint8_t *,
                           void *, struct lbq_ffi_dev_stats *);

static int qdq_device_with(dev_backend run, const char *spec, int role, int rank, const int64_t *shape, uint64_t seed,
                           int64_t step, const float *x, float *out, uint8_t *codes, void *stream,
                           struct lbq_ffi_stats *stats)
{
    struct lbq_shape sh;
    struct lbq_qplan pl;
    int rc = call_plan(spec, role, rank, shape, seed, step, stats, &sh, &pl);
    if (rc) return rc;
    const int64_t N = sh.numel;
    if (N == 0) return LBQ_OK;
    if (!x || !out) return lbq_err(LBQ_ERR_ARG, "lbq_ffi_qdq_device: NULL tensor pointer");
    uintptr_t xa = (uintptr_t)x, oa = (uintptr_t)out, nb = (uintptr_t)N * sizeof(float);
    if (xa != oa && ((xa < oa && xa + nb > oa) || (oa < xa && oa + nb > xa)))
        return lbq_err(LBQ_ERR_ARG, "lbq_ffi_qdq_device: input and output overlap without being the same buffer");
    struct lbq_ffi_dev_stats *ds = NULL;
    if (stats && !(ds = malloc(sizeof *ds))) return lbq_err(LBQ_ERR_NOMEM, "lbq_ffi_qdq_device: out of memory");
    rc = run(&pl, &sh, x, out, codes, stream, ds);
    if (rc == LBQ_OK && stats) {
        for (int b = 0; b < LBQ_FFI_DEV_BLOCKS; b++) {      /* the parts in block order */
            const struct lbq_ffi_dev_part *q = &ds->part[b];
            stats->nonfinite += q->nonfinite; stats->zeroed += q->zeroed;
            stats->lifted += q->lifted; stats->zeros_in += q->zeros_in;
            stats->sum_sq_err += q->sum_sq_err; stats->sum_sq += q->sum_sq;
        }
        for (int k = 0; k < 256; k++) {
            stats->code_hist[k] = ds->code_hist[k];
            stats->codes_used += ds->code_hist[k] != 0;
        }
    }
    free(ds);
    return rc;
}

int lbq_ffi_qdq_device(const char *spec, int role, int rank, const int64_t *shape, uint64_t seed, int64_t step,
                       const float *x, float *out, uint8_t *codes, void *stream, struct lbq_ffi_stats *stats)
{
#ifndef LBQ_FFI_CUDA
    (void)spec; (void)role; (void)rank; (void)shape; (void)seed; (void)step; (void)x; (void)out; (void)codes; (void)stream;
    if (stats) memset(stats, 0, sizeof *stats);
    return lbq_err(LBQ_ERR_UNSUPPORTED, "lbq_ffi_qdq_device: liblbq.so was built without the CUDA backend "
                   "(rebuild with nvcc and -DLBQ_CUDA=ON; lbq_ffi_qdq takes host memory)");
#else
    return qdq_device_with(lbq_cuda_ffi_qdq, spec, role, rank, shape, seed, step, x, out, codes, stream, stats);
#endif
}

int lbq_ffi_qdq_device_twin(const char *spec, int role, int rank, const int64_t *shape, uint64_t seed, int64_t step,
                            const float *x, float *out, uint8_t *codes, void *stream, struct lbq_ffi_stats *stats)
{
    return qdq_device_with(twin_qdq, spec, role, rank, shape, seed, step, x, out, codes, stream, stats);
}

/* ---- the device entry's self-check (scripts/gpu-check.sh, tests/test-capi.c) ----------------------- */
static uint64_t sc_rng(uint64_t *s)
{
    *s += 0x9E3779B97F4A7C15ull;
    uint64_t z = *s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Adam-like data: m signed, v >= 0, with exact zeros, tiny values, outliers and (m only) a NaN/Inf. */
static void sc_fill(float *x, int64_t n, int role, uint64_t seed)
{
    uint64_t s = seed;
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = sc_rng(&s);
        double u = (double)(r >> 11) * (1.0 / 9007199254740992.0);
        double g = (u - 0.5) * 2e-3 * ((r & 0xff) < 3 ? 300.0 : 1.0);
        float v = role == LBQ_FFI_ROLE_M ? (float)g : (float)(g * g);
        if ((r >> 8 & 0x3f) == 0) v = 0.0f;
        if ((r >> 14 & 0x3ff) == 1) v = role == LBQ_FFI_ROLE_M ? -1e-30f : 1e-38f;
        x[i] = v;
    }
    if (role == LBQ_FFI_ROLE_M && n > 40) { x[17] = NAN; x[n - 3] = INFINITY; }
}

static int sc_same_stats(const struct lbq_ffi_stats *a, const struct lbq_ffi_stats *b, int exact)
{
    if (a->numel != b->numel || a->nonfinite != b->nonfinite || a->zeroed != b->zeroed || a->lifted != b->lifted ||
        a->zeros_in != b->zeros_in || a->codes_used != b->codes_used || a->bits != b->bits ||
        memcmp(a->code_hist, b->code_hist, sizeof a->code_hist) || strcmp(a->plan, b->plan))
        return 0;
    if (exact) return a->sum_sq_err == b->sum_sq_err && a->sum_sq == b->sum_sq;
    return fabs(a->sum_sq_err - b->sum_sq_err) <= 1e-9 * fabs(b->sum_sq_err) + 1e-300 &&
           fabs(a->sum_sq - b->sum_sq) <= 1e-9 * fabs(b->sum_sq) + 1e-300;
}

int lbq_ffi_device_selfcheck(int use_twin, int64_t *cases_out, int64_t *mismatches_out, char *first, size_t first_len)
{
    static const char *const specs[] = {
        "block2048-dtree:b4", "block128-dtree:b4", "block128-dtree:b4:sr", "block128-dtree:b4:nz", "rank1-linear:b4",
        "block128-dtree:b3", "block128-dtree:b2", "block128-log:b3", "block128-log:b2", "block128-log:b2:sr",
        "block64-linear:b4", "tensor-linear:b8", "row-dtree:b4", "col-linear:b4", "rank1-dtree0:b3:sr",
    };
    /* the last shape is larger than the statistics' grid (65536 threads): every thread loops */
    static const int64_t shapes[][3] = { {1, 1000, 0}, {2, 37, 129}, {3, 4, 33}, {2, 256, 320} };
    static const int64_t shape3[] = { 4, 33, 65 };
    int64_t cases = 0, bad = 0;
    int rc = LBQ_OK;
    if (first && first_len) first[0] = 0;
    if (!use_twin && !lbq_ffi_device_available()) {
        char why[256];
        snprintf(why, sizeof why, "%s", lbq_errmsg());       /* lbq_err writes the buffer it would read */
        return lbq_err(LBQ_ERR_UNSUPPORTED, "lbq_ffi_device_selfcheck: %s", why);
    }
    int nspec = (int)(sizeof specs / sizeof *specs), nrec = lbq_recipe_count();
    const int64_t maxn = 256 * 320;
    float *x = malloc(sizeof(float) * maxn), *yh = malloc(sizeof(float) * maxn), *yd = malloc(sizeof(float) * maxn);
    uint8_t *ch = malloc(maxn), *cd = malloc(maxn);
    void *dx = NULL, *dy = NULL, *dc = NULL;
    if (!x || !yh || !yd || !ch || !cd) { rc = lbq_err(LBQ_ERR_NOMEM, "lbq_ffi_device_selfcheck: out of memory"); goto cleanup; }
    if (!use_twin) {
        LBQ_TRY(lbq_cuda_dev_alloc(&dx, sizeof(float) * maxn));
        LBQ_TRY(lbq_cuda_dev_alloc(&dy, sizeof(float) * maxn));
        LBQ_TRY(lbq_cuda_dev_alloc(&dc, maxn));
    }
    for (int k = 0; k < nspec + 2 * nrec; k++) {
        const char *spec = k < nspec ? specs[k] : (k - nspec) % 2 == 0 ? lbq_recipe_at((k - nspec) / 2)->m_spec
                                                                       : lbq_recipe_at((k - nspec) / 2)->v_spec;
        for (int role = 0; role < 2; role++)
            for (int si = 0; si < 4; si++) {
                int rank = (int)shapes[si][0];
                const int64_t *shp = rank == 3 ? shape3 : &shapes[si][1];
                int64_t n = 1;
                for (int d = 0; d < rank; d++) n *= shp[d];
                sc_fill(x, n, role, 0x5eed + (uint64_t)(k * 8 + role * 4 + si));
                struct lbq_ffi_stats sh, sd, stw;
                uint64_t seed = 11u + (uint64_t)k;
                int64_t step = si;
                int r1 = lbq_ffi_qdq(spec, role, rank, shp, seed, step, x, yh, ch, &sh);
                if (r1 == LBQ_ERR_ARG) continue;    /* a spec this role/shape does not take: not a case */
                if (r1) { rc = r1; goto cleanup; }
                for (int inplace = 0; inplace < 2; inplace++) {
                    cases++;
                    int r2;
                    if (use_twin) {
                        memcpy(yd, x, sizeof(float) * (size_t)n);
                        r2 = lbq_ffi_qdq_device_twin(spec, role, rank, shp, seed, step, inplace ? yd : x, yd, cd, NULL, &sd);
                    } else {
                        LBQ_TRY(lbq_cuda_dev_copy(dx, x, sizeof(float) * (size_t)n, 1));
                        r2 = lbq_ffi_qdq_device(spec, role, rank, shp, seed, step, dx, inplace ? dx : dy, dc, NULL, &sd);
                        if (!r2) r2 = lbq_cuda_dev_copy(yd, inplace ? dx : dy, sizeof(float) * (size_t)n, 0);
                        if (!r2) r2 = lbq_cuda_dev_copy(cd, dc, (size_t)n, 0);
                    }
                    if (r2) { rc = r2; goto cleanup; }
                    /* the twin's statistics: equal to the device's bit for bit (same split) */
                    int ok = memcmp(yh, yd, sizeof(float) * (size_t)n) == 0 && memcmp(ch, cd, (size_t)n) == 0 &&
                             sc_same_stats(&sd, &sh, 0);
                    if (ok && !use_twin) {
                        r2 = lbq_ffi_qdq_device_twin(spec, role, rank, shp, seed, step, x, yd, cd, NULL, &stw);
                        if (r2) { rc = r2; goto cleanup; }
                        ok = sc_same_stats(&sd, &stw, 1);
                    }
                    if (!ok) {
                        bad++;
                        if (first && first_len && !first[0])
                            snprintf(first, first_len, "%s role %s rank %d numel %lld%s: %s differ", spec, role ? "v" : "m",
                                     rank, (long long)n, inplace ? " in place" : "",
                                     memcmp(yh, yd, sizeof(float) * (size_t)n) ? "values" :
                                     memcmp(ch, cd, (size_t)n) ? "codes" : "statistics");
                    }
                }
            }
    }
cleanup:
    if (dx) lbq_cuda_dev_free(dx);
    if (dy) lbq_cuda_dev_free(dy);
    if (dc) lbq_cuda_dev_free(dc);
    free(x); free(yh); free(yd); free(ch); free(cd);
    if (cases_out) *cases_out = cases;
    if (mismatches_out) *mismatches_out = bad;
    return rc;
}
