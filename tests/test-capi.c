/* test-capi.c - the C ABI of liblbq.so (include/lbq-ffi.h) against the library's internal quantize
 * path.  The shared library is loaded with dlopen from $LBQ_BUILD (as a binding would), so what is
 * tested is the exported ABI: every registered map and normalization at several bitwidths, both
 * roles, nearest and stochastic rounding, 1-D/2-D/3-D shapes with zeros, outliers and non-finite
 * values, a tensor of several slabs, in-place calls, the statistics, the step seed, the recipes, the
 * error paths, and that nothing but lbq_ffi_* is exported.  Skipped (77) when liblbq.so was not
 * built (-DLBQ_SHARED=OFF). */
#include "lbq-impl.h"
#include "lbq-test.h"
#include "../include/lbq-ffi.h"

#include <dlfcn.h>
#include <stdint.h>

static struct {
    int (*abi_version)(void);
    const char *(*version)(void);
    const char *(*errmsg)(void);
    uint64_t (*step_seed)(uint64_t, int64_t);
    int (*qdq)(const char *, int, int, const int64_t *, uint64_t, int64_t, const float *, float *, uint8_t *,
               struct lbq_ffi_stats *);
    int (*check)(const char *, int, int, const int64_t *, char *, size_t, double *);
    int (*recipe_count)(void);
    const char *(*recipe_name)(int);
    int (*recipe)(const char *, const char **, const char **, int64_t *, int64_t *, int64_t *);
    int (*keeps)(const char *, int64_t);
    /* ABI 1.1: the device entry */
    int (*abi_minor)(void);
    int (*dev_avail)(void);
    int (*selfcheck)(int, int64_t *, int64_t *, char *, size_t);
    int (*qdq_dev)(const char *, int, int, const int64_t *, uint64_t, int64_t, const float *, float *, uint8_t *, void *,
                   struct lbq_ffi_stats *);
} F;

/* the internal path: what cmd-quantize.c does, over the whole tensor in one range */
static int internal_qdq(const char *spec, int role, const struct lbq_shape *sh, uint64_t seed, const float *x,
                        float *out, uint8_t *codes)
{
    struct lbq_qdefaults d;
    lbq_qdefaults_init(&d);
    d.seed = seed;
    struct lbq_qspec qs;
    struct lbq_qplan pl;
    int rc = lbq_qspec_parse(spec, &d, &qs);
    if (rc) return rc;
    rc = lbq_qplan_init(&pl, &qs, role ? LBQ_ROLE_V : LBQ_ROLE_M, sh->rank);
    if (rc) return rc;
    lbq_qplan_fit(&pl, sh->numel);      /* as lbq quantize: SOLO's per-tensor block (log map) */
    struct lbq_tstats st;
    int have = 0;
    if (pl.norm->global_stats) {
        if ((rc = lbq_tstats_init(&st, sh))) return rc;
        lbq_tstats_add(&st, 0, sh->numel, x);
        have = 1;
    }
    float *sc = malloc(sizeof(float) * (size_t)sh->numel);
    int npar = qs.map->nparams && pl.norm->blockwise ? qs.map->nparams(&qs) : 0;
    float *bp = npar ? malloc(sizeof(float) * (size_t)(npar * (sh->numel / pl.block + 1))) : NULL;
    rc = lbq_qdq(&pl, have ? &st : NULL, 0, sh->numel, x, out, codes, sc, bp, NULL);
    free(sc); free(bp);
    if (have) lbq_tstats_free(&st);
    return rc;
}

static void fill(float *x, int64_t n, int role, int special)
{
    for (int64_t i = 0; i < n; i++) {
        double g = t_normal();
        float v = role ? (float)(g * g * 1e-6) : (float)(g * 1e-3);
        if (i % 97 == 5) v = 0.0f;                  /* exact zeros */
        if (i % 89 == 3) v *= 1000.0f;              /* outliers */
        if (i % 131 == 7) v = role ? 1e-20f : -1e-20f;   /* tiny values (sent to 0 by most maps) */
        x[i] = v;
    }
    if (special && n > 20) { x[11] = NAN; x[17] = INFINITY; x[19] = role ? 0.0f : -INFINITY; }
    if (n > 300) for (int64_t i = 128; i < 256; i++) x[i] = 0.0f;   /* an all-zero block */
}

static int64_t g_cases = 0, g_invalid = 0;

static void compare(const char *spec, int role, const struct lbq_shape *sh, uint64_t seed, int64_t step, int special)
{
    int64_t n = sh->numel;
    float *x = malloc(sizeof(float) * (size_t)(n + 1)), *a = malloc(sizeof(float) * (size_t)(n + 1));
    float *b = malloc(sizeof(float) * (size_t)(n + 1));
    uint8_t *ca = malloc((size_t)n + 1), *cb = malloc((size_t)n + 1);
    fill(x, n, role, special);
    uint64_t s = F.step_seed(seed, step);
    int ri = internal_qdq(spec, role, sh, s, x, a, ca);
    struct lbq_ffi_stats st;
    int rf = F.qdq(spec, role, sh->rank, sh->dim, seed, step, x, b, cb, &st);
    CHECK_MSG(ri == rf, "%s role %d: internal status %d, ffi %d (%s)", spec, role, ri, rf, F.errmsg());
    if (ri || rf) { g_invalid++; goto done; }
    g_cases++;
    int64_t bad = 0, badc = 0;
    for (int64_t i = 0; i < n; i++) {
        bad += memcmp(&a[i], &b[i], sizeof(float)) != 0;
        badc += ca[i] != cb[i];
    }
    CHECK_MSG(bad == 0 && badc == 0, "%s role %d n %lld step %lld: %lld values and %lld codes differ",
              spec, role, (long long)n, (long long)step, (long long)bad, (long long)badc);
    /* statistics against a direct count */
    int64_t zeroed = 0, lifted = 0, nonfin = 0, zin = 0, hist[256] = { 0 };
    double sse = 0, ss = 0;
    for (int64_t i = 0; i < n; i++) {
        hist[ca[i]]++;
        if (!isfinite(x[i])) { nonfin++; continue; }
        if (x[i] == 0.0f) { zin++; lifted += a[i] != 0.0f; } else zeroed += a[i] == 0.0f;
        sse += ((double)a[i] - x[i]) * ((double)a[i] - x[i]);
        ss += (double)x[i] * x[i];
    }
    CHECK_EQ_INT(st.numel, n);
    CHECK_EQ_INT(st.zeroed, zeroed);
    CHECK_EQ_INT(st.lifted, lifted);
    CHECK_EQ_INT(st.nonfinite, nonfin);
    CHECK_EQ_INT(st.zeros_in, zin);
    CHECK(st.sum_sq_err == sse && st.sum_sq == ss);
    CHECK(memcmp(hist, st.code_hist, sizeof hist) == 0);
    CHECK(st.bits >= 1 && st.bits <= 8 && st.bits_per_elem >= st.bits);
    /* in place, no codes, no stats: the same values */
    memcpy(b, x, sizeof(float) * (size_t)n);
    CHECK_OK(F.qdq(spec, role, sh->rank, sh->dim, seed, step, b, b, NULL, NULL));
    CHECK(memcmp(a, b, sizeof(float) * (size_t)n) == 0);
done:
    free(x); free(a); free(b); free(ca); free(cb);
}

static struct lbq_shape shape_of(int rank, int64_t d0, int64_t d1, int64_t d2)
{
    struct lbq_shape s;
    memset(&s, 0, sizeof s);
    s.rank = rank;
    int64_t d[3] = { d0, d1, d2 };
    s.numel = 1;
    for (int i = 0; i < rank; i++) { s.dim[i] = d[i]; s.numel *= d[i]; }
    return s;
}

int main(void)
{
    const char *dir = getenv("LBQ_BUILD");
    char path[4096];
    snprintf(path, sizeof path, "%s/liblbq.so.1", dir ? dir : ".");
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) { printf("SKIP: %s not loadable (%s); built with -DLBQ_SHARED=OFF?\n", path, dlerror()); return 77; }
#define SYM(field, name) do { *(void **)&F.field = dlsym(h, name); CHECK_MSG(F.field != NULL, "missing symbol %s", name); } while (0)
    SYM(abi_version, "lbq_ffi_abi_version"); SYM(version, "lbq_ffi_version"); SYM(errmsg, "lbq_ffi_errmsg");
    SYM(step_seed, "lbq_ffi_step_seed"); SYM(qdq, "lbq_ffi_qdq"); SYM(check, "lbq_ffi_check");
    SYM(recipe_count, "lbq_ffi_recipe_count"); SYM(recipe_name, "lbq_ffi_recipe_name");
    SYM(recipe, "lbq_ffi_recipe"); SYM(keeps, "lbq_ffi_recipe_keeps_fp32");
    if (g_t_fail) return TEST_END();
    /* only the ABI is exported */
    CHECK(dlsym(h, "lbq_qdq") == NULL && dlsym(h, "lbq_qspec_parse") == NULL && dlsym(h, "lbq_err") == NULL);
    CHECK_EQ_INT(F.abi_version(), LBQ_FFI_ABI_VERSION);
    CHECK(strcmp(F.version(), LBQ_VERSION_STRING) == 0);

    /* step seeds: step < 0 is the seed itself; steps differ; valid --seed values */
    CHECK(F.step_seed(12345, -1) == 12345);
    CHECK(F.step_seed(7, 0) != F.step_seed(7, 1) && F.step_seed(7, 1) != F.step_seed(8, 1));
    for (int64_t s = 0; s < 1000; s++) CHECK(F.step_seed((uint64_t)s * 0x1234567ull, s) >> 63 == 0);

    /* every map x normalization at 2, 4, 8 bits, both roles, nearest and stochastic */
    struct lbq_shape shapes[3] = { shape_of(2, 37, 61, 0), shape_of(1, 1000, 0, 0), shape_of(3, 5, 7, 24) };
    char spec[160];
    for (int ni = 0; ni < lbq_norm_count(); ni++) {
        const struct lbq_norm *nm = lbq_norm_at(ni);
        for (int mi = 0; mi < lbq_map_count(); mi++) {
            const struct lbq_map *mp = lbq_map_at(mi);
            if (mp == lbq_map_find("file")) continue;
            static const int bitsv[3] = { 2, 4, 8 };
            for (int bi = 0; bi < 3; bi++)
                for (int sr = 0; sr < 2; sr++)
                    for (int role = 0; role < 2; role++) {
                        snprintf(spec, sizeof spec, "%s%s-%s:b%d%s", nm->name, nm->blockwise ? "64" : "", mp->name,
                                 bitsv[bi], sr ? ":sr" : "");
                        const struct lbq_shape *sh = &shapes[(ni + mi + bi) % 3];
                        compare(spec, role, sh, 42, sr ? 3 : -1, (mi + bi) % 2);
                    }
        }
    }
    printf("map x normalization cases compared: %lld (invalid combinations agreed on the status: %lld)\n",
           (long long)g_cases, (long long)g_invalid);
    CHECK(g_cases > 100);
    /* the recipes' own specs, and a tensor spanning several 1 Mi-element slabs */
    for (int i = 0; i < F.recipe_count(); i++) {
        const char *ms, *vs;
        CHECK_OK(F.recipe(F.recipe_name(i), &ms, &vs, NULL, NULL, NULL));
        struct lbq_shape big = shape_of(2, 1100, 1024, 0);
        compare(ms, 0, &big, 9, 5, 1);
        compare(vs, 1, &big, 9, 5, 1);
        const struct lbq_recipe *r = lbq_recipe_at(i);
        CHECK(strcmp(ms, r->m_spec) == 0 && strcmp(vs, r->v_spec) == 0);
        for (int64_t nel = 1; nel < 10000; nel += 61) CHECK_EQ_INT(F.keeps(r->name, nel), lbq_recipe_keeps_fp32(r, nel));
    }
    CHECK_EQ_INT(F.recipe_count(), lbq_recipe_count());
    CHECK(F.recipe_name(-1) == NULL && F.recipe_name(F.recipe_count()) == NULL);
    CHECK_EQ_INT(F.keeps("nosuchrecipe", 10), -LBQ_ERR_ARG);
    CHECK(strstr(F.errmsg(), "nosuchrecipe") != NULL);

    /* check: effective plan after the rank fallback, and storage */
    char plan[128];
    double bpe = 0;
    int64_t d1[1] = { 4096 }, d2[2] = { 64, 64 };
    CHECK_OK(F.check("rank1-linear:b4", 1, 1, d1, plan, sizeof plan, &bpe));
    CHECK_MSG(strncmp(plan, "block128-linear", 15) == 0, "plan %s", plan);
    CHECK_NEAR(bpe, 4.0 + 32.0 / 128.0, 1e-12);
    CHECK_OK(F.check("rank1-linear:b4", 1, 2, d2, plan, sizeof plan, &bpe));
    CHECK_MSG(strncmp(plan, "rank1-linear", 12) == 0, "plan %s", plan);

    /* errors: one line naming what is wrong, nothing written */
    float x[4] = { 1, 2, 3, 4 }, y[4] = { 9, 9, 9, 9 };
    int64_t d4[1] = { 4 };
    CHECK_EQ_INT(F.qdq("block128-nosuchmap", 0, 1, d4, 0, -1, x, y, NULL, NULL), LBQ_ERR_ARG);
    CHECK(strstr(F.errmsg(), "nosuchmap") != NULL && y[0] == 9.0f);
    CHECK_EQ_INT(F.qdq("block128-dtree", 2, 1, d4, 0, -1, x, y, NULL, NULL), LBQ_ERR_ARG);
    CHECK_EQ_INT(F.qdq("block128-log", 0, 1, d4, 0, -1, x, y, NULL, NULL), LBQ_ERR_ARG);  /* unsigned map for m */
    CHECK_EQ_INT(F.qdq("block128-dtree", 0, 9, d4, 0, -1, x, y, NULL, NULL), LBQ_ERR_ARG);
    int64_t dneg[1] = { -4 };
    CHECK_EQ_INT(F.qdq("block128-dtree", 0, 1, dneg, 0, -1, x, y, NULL, NULL), LBQ_ERR_ARG);
    CHECK_EQ_INT(F.qdq("block128-dtree", 0, 1, d4, 0, -1, x, x + 1, NULL, NULL), LBQ_ERR_ARG);
    CHECK(strstr(F.errmsg(), "overlap") != NULL);
    CHECK_EQ_INT(F.qdq("block-file", 0, 1, d4, 0, -1, x, y, NULL, NULL), LBQ_ERR_ARG);  /* needs --map-file */

    /* the device entry (ABI 1.1): its CPU twin against the host entry always; with a device (or
     * LBQ_TEST_REQUIRE_DEVICE=1, as the GPU check kit sets) the GPU against the host entry too;
     * without one, status 5 and nothing written */
    SYM(abi_minor, "lbq_ffi_abi_minor"); SYM(dev_avail, "lbq_ffi_device_available");
    SYM(selfcheck, "lbq_ffi_device_selfcheck"); SYM(qdq_dev, "lbq_ffi_qdq_device");
    CHECK(dlsym(h, "lbq_ffi_qdq_device_twin") != NULL);
    CHECK(dlsym(h, "lbq_cuda_ffi_qdq") == NULL && dlsym(h, "lbq_cuda_qdq") == NULL && dlsym(h, "lbq_cuda_check") == NULL);
    CHECK_EQ_INT(F.abi_minor(), LBQ_FFI_ABI_MINOR);
    int64_t cases = 0, bad = 0;
    char first[256] = "";
    CHECK_OK(F.selfcheck(1, &cases, &bad, first, sizeof first));
    printf("device entry's CPU twin vs the host entry: %lld cases, %lld mismatches %s\n", (long long)cases,
           (long long)bad, first);
    CHECK(cases > 200 && bad == 0);
    const char *req = getenv("LBQ_TEST_REQUIRE_DEVICE");
    if (F.dev_avail()) {
        cases = bad = 0;
        first[0] = 0;
        CHECK_OK(F.selfcheck(0, &cases, &bad, first, sizeof first));
        printf("device entry (GPU) vs the host entry: %lld cases, %lld mismatches (values, codes, counts bit for "
               "bit; the sums against the twin's bit for bit) %s\n", (long long)cases, (long long)bad, first);
        CHECK(cases > 200 && bad == 0);
        CHECK_EQ_INT(F.qdq_dev("block128-dtree:b4", 0, 1, d4, 0, -1, x, y, NULL, NULL, NULL), LBQ_ERR_ARG);  /* host memory */
        CHECK(strstr(F.errmsg(), "not CUDA device memory") != NULL && y[0] == 9.0f);
    } else {
        printf("device entry: not available (%s)\n", F.errmsg());
        CHECK_MSG(!(req && *req == '1'), "LBQ_TEST_REQUIRE_DEVICE=1 but the device entry is not available: %s", F.errmsg());
        CHECK_EQ_INT(F.qdq_dev("block128-dtree:b4", 0, 1, d4, 0, -1, x, y, NULL, NULL, NULL), LBQ_ERR_UNSUPPORTED);
        CHECK(y[0] == 9.0f && F.errmsg()[0] != 0);
        CHECK_EQ_INT(F.selfcheck(0, &cases, &bad, NULL, 0), LBQ_ERR_UNSUPPORTED);
    }
    dlclose(h);
    return TEST_END();
}
