/* capi.c - the stable C ABI of liblbq.so (include/lbq-ffi.h) over the library's own quantize path:
 * lbq_qspec_parse -> lbq_qplan_init -> lbq_tstats (global normalizations) -> lbq_qdq, slab by slab
 * with the slab alignment of `lbq quantize` (cli/cmd-quantize.c), so the bits are the same. */
#include "lbq-impl.h"
#include "../include/lbq-ffi.h"

int lbq_ffi_abi_version(void) { return LBQ_FFI_ABI_VERSION; }
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
    if (stats) memset(stats, 0, sizeof *stats);
    LBQ_TRY(make_plan(spec, role, rank, shape, lbq_ffi_step_seed(seed, step), &sh, &pl));
    const int64_t N = sh.numel;
    if (stats) {
        struct lbq_qsize qz;
        lbq_qplan_size(&pl, &sh, &qz);
        stats->bits_per_elem = qz.bits_per_elem;
        stats->bits = pl.bits;
        stats->numel = N;
        plan_text(&pl, stats->plan, sizeof stats->plan);
    }
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
        LBQ_TRY(lbq_qdq(&pl, have_st ? &st : NULL, off, n, in, out + off, c, sc, bp, NULL));
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
