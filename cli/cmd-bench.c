/* cmd-bench.c - `lbq bench`: quantize+dequantize throughput per quantizer next to a memcpy baseline
 * measured in the same run, plus analyze and sweep throughput (docs: bench/README.md). */
#include "cli.h"
#include "lbq-json.h"
#include "lbq-cuda.h"

#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

const char lbq_usage_bench[] =
"usage: lbq bench [--size N] [--quant SPEC[,SPEC...]] [--recipes R[,R...]|none] [--reps R] [--json OUT]\n"
"                 [--no-sweep] [--kernel-only] [--device cpu|cuda]\n"
"\n"
"Measure, on generated Adam-like m and v of N elements (default 16M) held in memory:\n"
"  memcpy      the same-run memory bandwidth baseline (N floats in, N floats out, all threads)\n"
"  SPEC        what `lbq quantize` does to one state, in GB/s of fp32 input and as a ratio to memcpy:\n"
"              the tensor statistics pass where the normalization needs one (rank-1, tensor, row,\n"
"              col), quantize+dequantize (x^ written), the codes packed to SPEC's bits, the scales\n"
"              (one per block) and the per-block parameters written\n"
"  recipe R    the same for a published recipe: its m spec on m and its v spec on v in one timing\n"
"              (GB/s of the 2N input floats), with the recipe's fp32 exemption applied to the tensor\n"
"  analyze     quantize+dequantize of m and v plus every analyze metric (one config), elements/s\n"
"  sweep       the default sweep configurations (6 maps x 7 bitwidths x block sizes 32-2048 + rank-1)\n"
"              on the same data, elements x configs per second, and the projected time for a\n"
"              100M-element m/v pair\n"
"Each timing is repeated R times (default 5): minimum and median are reported.\n"
"\n"
"  --size N       elements (e.g. 16M, 100M; default 16M)\n"
"  --quant LIST   quantizers (default: block128-dtree, block128-linear, block128-linsq, block128-uniform,\n"
"                 rank1-linear, block128-log:b2, block128-log:b2:sr, block128-fp8e4m3, block128-fp8e5m2,\n"
"                 block128-fp8e4m3:dre; 'none' for no quantizer rows)\n"
"  --recipes LIST recipes (default: all of `lbq list`'s recipes; 'none' for no recipe rows)\n"
"  --reps R       repetitions (default 5)\n"
"  --json OUT     results (schema lbq.bench/2)\n"
"  --no-sweep     skip the analyze and sweep measurements\n"
"  --kernel-only  time the quantize+dequantize kernel alone (no statistics pass, no codes, no\n"
"                 scales: what lbq bench before schema 2 timed); rows are labelled 'kernel only'\n"
"  --device D     cpu (default) or cuda (GPU kernels on --size device-resident elements, --reps runs\n"
"                 each, as GB/s and as a fraction of a device-to-device memcpy; needs a GPU)\n";

enum { O_SIZE = 1, O_QUANT, O_REPS, O_JSON, O_NOSWEEP, O_DEVICE, O_RECIPES, O_KONLY };
static const struct cli_opt opts[] = {
    { "size", 1, O_SIZE }, { "quant", 1, O_QUANT }, { "reps", 1, O_REPS }, { "json", 1, O_JSON },
    { "no-sweep", 0, O_NOSWEEP }, { "device", 1, O_DEVICE }, { "recipes", 1, O_RECIPES },
    { "kernel-only", 0, O_KONLY }, { 0, 0, 0 },
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

struct timing { double min, median; };
static struct timing summarize(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_d);
    struct timing r = { t[0], (n % 2) ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]) };
    return r;
}

#define CHUNK (1 << 18)

static void par_memcpy(float *dst, const float *src, int64_t n)
{
    int64_t nch = (n + CHUNK - 1) / CHUNK;
    #pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < nch; k++) {
        int64_t o = k * CHUNK, cn = (n - o < CHUNK) ? n - o : CHUNK;
        memcpy(dst + o, src + o, sizeof(float) * (size_t)cn);
    }
}

/* Buffers of one quantized state as `lbq quantize` produces it: x^, the one-byte codes, the packed
 * codes, per-element scales (the library's interface) and the stored per-block scales and
 * parameters. */
struct qbufs {
    float   *xh, *sc, *bsc, *bp;
    uint8_t *codes, *packed;
    struct lbq_tstats st[64];       /* per-thread partial statistics, merged into st[0] */
    int      nst;
};

static int qbufs_init(struct qbufs *b, const struct lbq_shape *sh, int64_t n)
{
    memset(b, 0, sizeof *b);
    b->xh = malloc(sizeof(float) * (size_t)n);
    b->sc = malloc(sizeof(float) * (size_t)n);
    b->bsc = malloc(sizeof(float) * (size_t)n);
    b->bp = malloc(sizeof(float) * (size_t)(2 * n + 2));
    b->codes = malloc((size_t)n);
    b->packed = malloc((size_t)n + 8);
    if (!b->xh || !b->sc || !b->bsc || !b->bp || !b->codes || !b->packed) return lbq_err(LBQ_ERR_NOMEM, "out of memory for %lld elements", (long long)n);
    b->nst = lbq_threads() < 64 ? lbq_threads() : 64;
    for (int t = 0; t < b->nst; t++) { int rc = lbq_tstats_init(&b->st[t], sh); if (rc) { b->nst = t; return rc; } }
    return LBQ_OK;
}

static void qbufs_free(struct qbufs *b)
{
    free(b->xh); free(b->sc); free(b->bsc); free(b->bp); free(b->codes); free(b->packed);
    for (int t = 0; t < b->nst; t++) lbq_tstats_free(&b->st[t]);
    memset(b, 0, sizeof *b);
}

/* One state through a plan, timed as a whole by the caller.  kernel_only: quantize+dequantize alone
 * (the statistics precomputed into b->st[0] by the caller, no codes, no scales). */
static int par_qdq(const struct lbq_qplan *p, const float *x, int64_t n, struct qbufs *b, int kernel_only)
{
    int64_t chunk = CHUNK;
    if (p->norm->blockwise) chunk = ((CHUNK + 8 * p->block - 1) / (8 * p->block)) * (8 * p->block);
    int64_t nch = (n + chunk - 1) / chunk;
    int err = 0;
    if (p->norm->global_stats && !kernel_only) {     /* the statistics pass: per thread, merged */
        for (int t = 0; t < b->nst; t++) lbq_tstats_reset(&b->st[t]);
        #pragma omp parallel for schedule(static)
        for (int64_t k = 0; k < nch; k++) {
            int64_t o = k * chunk, cn = (n - o < chunk) ? n - o : chunk;
#ifdef _OPENMP
            int t = omp_get_thread_num();
#else
            int t = 0;
#endif
            lbq_tstats_add(&b->st[t < b->nst ? t : 0], o, cn, x + o);
        }
        for (int t = 1; t < b->nst; t++) lbq_tstats_merge(&b->st[0], &b->st[t]);
    }
    const int npar = p->spec.map->nparams && p->norm->blockwise ? p->spec.map->nparams(&p->spec) : 0;
    #pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < nch; k++) {
        int64_t o = k * chunk, cn = (n - o < chunk) ? n - o : chunk;
        if (kernel_only) {
            if (lbq_qdq(p, &b->st[0], o, cn, x + o, b->xh + o, NULL, NULL, NULL, b->sc + o)) err = 1;
            continue;
        }
        int64_t blk = p->norm->blockwise ? p->block : 1;
        if (lbq_qdq_stored(p, &b->st[0], o, cn, x + o, b->xh + o, b->codes + o, b->bsc + o / blk,   /* one stored scale per block */
                           npar ? b->bp + (o / blk) * npar : NULL, b->sc + o)) err = 1;
        lbq_pack(b->codes + o, cn, p->bits, b->packed + o * p->bits / 8);   /* o * bits is a multiple of 8 */
    }
    return err ? LBQ_ERR_ARG : LBQ_OK;
}

/* a 2-D Adam-like pair: m ~ N(0,1)*row scale, v = m^2-ish with heavy tails */
static void gen(float *m, float *v, int64_t n, int64_t cols)
{
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float u1 = lbq_uniform(7, 0, (uint64_t)i), u2 = lbq_uniform(7, 1, (uint64_t)i);
        float g = (float)(sqrt(-2.0 * log((double)u1 + 1e-12)) * cos(6.283185307179586 * (double)u2));
        float rs = 1e-3f * (1.0f + 9.0f * (float)((i / cols) % 97 == 0));
        m[i] = g * rs;
        v[i] = m[i] * m[i] * (0.5f + u2) + 1e-12f;
    }
}

int cmd_bench(int argc, char **argv)
{
    struct cli_parser p = { "bench", opts, argc, argv, 1, {0}, 0 };
    const char *val, *quants = "block128-dtree,block128-linear,block128-linsq,block128-uniform,rank1-linear,block128-log:b2,"
                               "block128-log:b2:sr,block128-fp8e4m3,block128-fp8e5m2,block128-fp8e4m3:dre";
    const char *json_out = NULL, *device = "cpu", *recipes = NULL;
    long long size = 16LL << 20, reps = 5;
    int id, rc = LBQ_OK, exitc = 0, nosweep = 0, konly = 0;
    while ((id = cli_next(&p, &val)) != 0) {
        if (id < 0) return LBQ_EXIT_USAGE;
        if (id == 'h') return cli_help("bench");
        switch (id) {
        case O_SIZE: {
            char *end; double v = strtod(val, &end); double mul = 1;
            if (*end == 'k' || *end == 'K') { mul = 1e3; end++; } else if (*end == 'M') { mul = 1048576; end++; } else if (*end == 'G') { mul = 1073741824.0; end++; }
            if (*end || !(v * mul >= 1024) || v * mul > 4e9) return cli_usage_error("bench", "--size: '%s' is not a size between 1K and 4G elements", val);
            size = (long long)(v * mul);
            break; }
        case O_QUANT: quants = val; break;
        case O_REPS: if (cli_int("bench", "--reps", val, 1, 1000, &reps)) return LBQ_EXIT_USAGE; break;
        case O_JSON: json_out = val; break;
        case O_NOSWEEP: nosweep = 1; break;
        case O_DEVICE: device = val; break;
        case O_RECIPES: recipes = val; break;
        case O_KONLY: konly = 1; break;
        }
    }
    if (p.npos) return cli_usage_error("bench", "unexpected argument '%s'", p.positional[0]);
    if (cli_check_output("--json", json_out, NULL, CLI_OUT_TEXT)) return LBQ_EXIT_OUTPUT;
    /* every spec and recipe named is checked before any work */
    if (strlen(quants) >= 1024) return cli_usage_error("bench", "--quant: list too long");
    if (strcmp(quants, "none") != 0) {
        char qb[1024];
        snprintf(qb, sizeof qb, "%s", quants);
        for (char *tok = strtok(qb, ","); tok; tok = strtok(NULL, ",")) {
            struct lbq_qspec s;
            struct lbq_qplan pl;
            if (lbq_qspec_parse(tok, NULL, &s) || lbq_qplan_init(&pl, &s, (s.map->sign_ok & LBQ_SIGNED_OK) ? LBQ_ROLE_M : LBQ_ROLE_V, 2))
                return cli_usage_error("bench", "--quant: '%s': %s", tok, lbq_errmsg());
        }
    }
    if (recipes && strcmp(recipes, "none") != 0) {
        if (strlen(recipes) >= 1024) return cli_usage_error("bench", "--recipes: list too long");
        char rb[1024];
        snprintf(rb, sizeof rb, "%s", recipes);
        for (char *tok = strtok(rb, ","); tok; tok = strtok(NULL, ","))
            if (!lbq_recipe_find(tok)) return cli_usage_error("bench", "--recipes: unknown recipe '%s' (see 'lbq list')", tok);
    }
    if (strcmp(device, "cuda") == 0) {
        if (lbq_cuda_device_count() == 0) { fprintf(stderr, "lbq bench: error: --device cuda: no CUDA device found (%s)\n", lbq_cuda_build_info()); return LBQ_EXIT_CUDA; }
        /* the GPU kernels on device-resident data next to a device-to-device memcpy of the same run */
        struct lbq_cuda_bench_row rows[32];
        int nrows = 0;
        rc = lbq_cuda_bench(size, (int)reps, rows, 32, &nrows);
        if (rc != LBQ_OK) return cli_fail(rc);
        lbq_cuda_bench_print(stdout, rows, nrows);
        return LBQ_EXIT_OK;
    } else if (strcmp(device, "cpu") != 0) return cli_usage_error("bench", "--device: '%s' is not cpu or cuda", device);

    int64_t n = size, cols = 1024;
    float *m = malloc(sizeof(float) * (size_t)n), *v = malloc(sizeof(float) * (size_t)n);
    float *out = malloc(sizeof(float) * (size_t)n);
    double *t = malloc(sizeof(double) * (size_t)reps);
    cJSON *root = cJSON_CreateObject();
    struct qbufs qb[2];
    int have_qb = 0;
    if (!m || !v || !out || !t) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory for %lld elements", (long long)n); goto cleanup; }
    struct lbq_shape sh = { 2, { (n + cols - 1) / cols, cols }, 0 };
    n = sh.dim[0] * cols;
    sh.numel = n;
    gen(m, v, n, cols);
    memset(qb, 0, sizeof qb);
    have_qb = 1;
    LBQ_TRY(qbufs_init(&qb[0], &sh, n));
    LBQ_TRY(qbufs_init(&qb[1], &sh, n));
    cJSON_AddStringToObject(root, "schema", "lbq.bench");
    cJSON_AddNumberToObject(root, "schema_version", 2);
    cJSON_AddNumberToObject(root, "elements", (double)n);
    cJSON_AddNumberToObject(root, "threads", lbq_threads());
    cJSON_AddNumberToObject(root, "reps", (double)reps);
    cJSON_AddStringToObject(root, "timed", konly ? "kernel_only" : "as_quantize");
    cJSON_AddNumberToObject(root, "simd_level", lbq_simd_level());
    double gb = 4.0 * (double)n / 1e9;   /* GB of fp32 input */
    /* memcpy baseline (warm up once) */
    par_memcpy(out, m, n);
    for (int r = 0; r < reps; r++) { double a = now_s(); par_memcpy(out, m, n); t[r] = now_s() - a; }
    struct timing tm = summarize(t, (int)reps);
    double bw = gb / tm.min;
    printf("lbq bench: %lld elements (%.1f MB fp32), %d threads, %lld reps (min / median)%s\n", (long long)n, gb * 1e3,
           lbq_threads(), reps, konly ? "; KERNEL ONLY: no statistics pass, no codes, no scales" : "");
    printf("%-36s %10s %10s %8s\n", "kernel", "GB/s(min)", "GB/s(med)", "/memcpy");
    printf("%-36s %10.2f %10.2f %8.2f\n", "memcpy", gb / tm.min, gb / tm.median, 1.0);
    cJSON *memj = cJSON_AddObjectToObject(root, "memcpy");
    cJSON_AddNumberToObject(memj, "gbps_best", gb / tm.min);
    cJSON_AddNumberToObject(memj, "gbps_median", gb / tm.median);
    cJSON *qa = cJSON_AddArrayToObject(root, "qdq");
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", strcmp(quants, "none") ? quants : "");
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        struct lbq_qspec s;
        struct lbq_qplan pl;
        LBQ_TRY(lbq_qspec_parse(tok, NULL, &s));
        LBQ_TRY(lbq_qplan_init(&pl, &s, (s.map->sign_ok & LBQ_SIGNED_OK) ? LBQ_ROLE_M : LBQ_ROLE_V, 2));
        lbq_qplan_fit(&pl, n);                           /* as lbq quantize (SOLO's per-tensor block) */
        const float *x = (pl.is_signed) ? m : v;
        if (konly && pl.norm->global_stats) { lbq_tstats_reset(&qb[0].st[0]); lbq_tstats_add(&qb[0].st[0], 0, n, x); }
        LBQ_TRY(par_qdq(&pl, x, n, &qb[0], konly));
        for (int r = 0; r < reps; r++) { double a = now_s(); rc = par_qdq(&pl, x, n, &qb[0], konly); t[r] = now_s() - a; if (rc) goto cleanup; }
        struct timing tq = summarize(t, (int)reps);
        char label[192];
        snprintf(label, sizeof label, "%s%s", s.text, konly ? " (kernel only)" : "");
        printf("%-36s %10.2f %10.2f %8.2f\n", label, gb / tq.min, gb / tq.median, (gb / tq.min) / bw);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "spec", s.text);
        cJSON_AddBoolToObject(o, "kernel_only", konly);
        cJSON_AddNumberToObject(o, "gbps_best", gb / tq.min);
        cJSON_AddNumberToObject(o, "gbps_median", gb / tq.median);
        cJSON_AddNumberToObject(o, "ratio_to_memcpy", (gb / tq.min) / bw);
        cJSON_AddItemToArray(qa, o);
    }
    /* published recipes: m and v together, as lbq quantize --recipe stores them */
    cJSON *ra = cJSON_AddArrayToObject(root, "recipes");
    for (int ri = 0; !konly && ri < lbq_recipe_count(); ri++) {
        const struct lbq_recipe *rcp = lbq_recipe_at(ri);
        if (recipes) {                                   /* only the listed ones */
            char rb[1024];
            int want = 0;
            snprintf(rb, sizeof rb, "%s", recipes);
            for (char *tok = strtok(rb, ","); tok; tok = strtok(NULL, ",")) want |= lbq_recipe_find(tok) == rcp;
            if (!want) continue;
        }
        const int keep = lbq_recipe_keeps_fp32(rcp, n);
        struct lbq_qspec sm, sv;
        struct lbq_qplan pm, pv;
        LBQ_TRY(lbq_qspec_parse(rcp->m_spec, NULL, &sm));
        LBQ_TRY(lbq_qspec_parse(rcp->v_spec, NULL, &sv));
        LBQ_TRY(lbq_qplan_init(&pm, &sm, LBQ_ROLE_M, 2));
        LBQ_TRY(lbq_qplan_init(&pv, &sv, LBQ_ROLE_V, 2));
        lbq_qplan_fit(&pm, n);
        lbq_qplan_fit(&pv, n);
        for (int r = -1; r < reps; r++) {                /* r = -1: warm-up */
            double a = now_s();
            if (keep) { par_memcpy(qb[0].xh, m, n); par_memcpy(qb[1].xh, v, n); }   /* fp32 states: copied */
            else if ((rc = par_qdq(&pm, m, n, &qb[0], 0)) || (rc = par_qdq(&pv, v, n, &qb[1], 0))) goto cleanup;
            if (r >= 0) t[r] = now_s() - a;
        }
        struct timing tr = summarize(t, (int)reps);
        char label[192];
        snprintf(label, sizeof label, "recipe %s (m+v)%s", rcp->name, keep ? " fp32" : "");
        printf("%-36s %10.2f %10.2f %8.2f\n", label, 2 * gb / tr.min, 2 * gb / tr.median, (2 * gb / tr.min) / bw);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "recipe", rcp->name);
        cJSON_AddStringToObject(o, "m_spec", sm.text);
        cJSON_AddStringToObject(o, "v_spec", sv.text);
        cJSON_AddBoolToObject(o, "fp32_exempt", keep);
        cJSON_AddNumberToObject(o, "gbps_best", 2 * gb / tr.min);
        cJSON_AddNumberToObject(o, "gbps_median", 2 * gb / tr.median);
        cJSON_AddNumberToObject(o, "ratio_to_memcpy", (2 * gb / tr.min) / bw);
        cJSON_AddItemToArray(ra, o);
    }
    /* analyze and sweep throughput through the real engine: write m, v to a temporary HDF5 file */
    if (!nosweep) {
        char path[256];
        snprintf(path, sizeof path, "/tmp/lbq-bench-%ld.h5", (long)getpid());
        struct lbq_h5w *w = NULL;
        int dm, dv;
        LBQ_TRY(lbq_h5w_open(path, &w));
        if ((rc = lbq_h5w_dset(w, "bench.weight", "exp_avg", LBQ_W_F32, &sh, &dm)) || (rc = lbq_h5w_write(w, dm, 0, n, m)) ||
            (rc = lbq_h5w_dset(w, "bench.weight", "exp_avg_sq", LBQ_W_F32, &sh, &dv)) || (rc = lbq_h5w_write(w, dv, 0, n, v)) ||
            (rc = lbq_h5w_attr_i64(w, "", "step", 1000))) { lbq_h5w_abort(w); goto cleanup; }
        LBQ_TRY(lbq_h5w_commit(w));
        free(out); out = NULL;
        qbufs_free(&qb[0]); qbufs_free(&qb[1]); have_qb = 0;
        struct lbq_file *f = NULL;
        struct lbq_open_opts oo = { 0, 0, 0 };
        rc = lbq_file_open(path, &oo, &f);
        if (rc) { unlink(path); goto cleanup; }
        lbq_file_set_fingerprint(f, 0);     /* as analyze */
        struct lbq_config c;
        memset(&c, 0, sizeof c);
        lbq_qspec_parse("block128-dtree", NULL, &c.m);
        lbq_qspec_parse("rank1-linear", NULL, &c.v);
        c.has_m = c.has_v = 1;
        struct lbq_eval_opts eo = { 0, 10.0, 0, NULL, NULL, NULL };
        struct lbq_param_eval ev;
        int ar = (int)(reps < 3 ? reps : 3);
        for (int r = 0; r < ar; r++) { double a = now_s(); rc = lbq_eval_param(f, 0, &c, 1, &eo, &ev); t[r] = now_s() - a; if (rc) break; }
        if (!rc) {
            struct timing ta = summarize(t, ar);
            printf("%-36s %10.1f M elements/s (m+v quantized, all metrics, incl. reading the file)\n", "analyze lpmm4-like", (double)n / ta.min / 1e6);
            cJSON *aj = cJSON_AddObjectToObject(root, "analyze");
            cJSON_AddNumberToObject(aj, "elements_per_s", (double)n / ta.min);
        }
        if (!rc) {
            static const char *const maps[] = { "dtree", "dtree0", "linear", "linsq", "log", "uniform" };
            static const int blocks[] = { 32, 64, 128, 256, 512, 2048 };
            struct lbq_config *cs = calloc(6 * 7 * 7, sizeof *cs);
            int nc = 0;
            for (int mi = 0; cs && mi < 6; mi++)
                for (int b = 2; b <= 8; b++)
                    for (int k = 0; k <= 6; k++) {
                        char spec[64];
                        if (k < 6) snprintf(spec, sizeof spec, "block%d-%s:b%d", blocks[k], maps[mi], b);
                        else snprintf(spec, sizeof spec, "rank1-%s:b%d", maps[mi], b);
                        struct lbq_config *cc = &cs[nc];
                        if (lbq_qspec_parse(spec, NULL, &cc->m)) continue;
                        cc->v = cc->m;
                        struct lbq_qplan tp;
                        cc->has_m = lbq_qplan_init(&tp, &cc->m, LBQ_ROLE_M, 2) == LBQ_OK;
                        cc->has_v = lbq_qplan_init(&tp, &cc->v, LBQ_ROLE_V, 2) == LBQ_OK;
                        if (cc->has_m || cc->has_v) nc++;
                    }
            struct lbq_param_eval *evs = cs ? calloc((size_t)nc, sizeof *evs) : NULL;
            if (!evs) rc = lbq_err(LBQ_ERR_NOMEM, "out of memory");
            else {
                double a = now_s();
                rc = lbq_eval_param(f, 0, cs, nc, &eo, evs);
                double el = now_s() - a;
                if (!rc) {
                    double proj = el * (100e6 / (double)n);
                    printf("%-36s %10.1f M element-configs/s; %d configs on %lld elements: %.1f s; projected 100M-element pair: %.0f s\n",
                           "sweep (default grid)", (double)n * nc / el / 1e6, nc, (long long)n, el, proj);
                    cJSON *sj = cJSON_AddObjectToObject(root, "sweep");
                    cJSON_AddNumberToObject(sj, "configs", nc);
                    cJSON_AddNumberToObject(sj, "seconds", el);
                    cJSON_AddNumberToObject(sj, "element_configs_per_s", (double)n * nc / el);
                    cJSON_AddNumberToObject(sj, "projected_seconds_100M", proj);
                }
            }
            free(evs); free(cs);
        }
        lbq_file_close(f);
        unlink(path);
        if (rc) goto cleanup;
    }
    if (json_out) LBQ_TRY(lbq_json_write(json_out, root));
cleanup:
    if (rc) exitc = cli_fail(rc);
    if (have_qb) { qbufs_free(&qb[0]); qbufs_free(&qb[1]); }
    cJSON_Delete(root);
    free(m); free(v); free(out); free(t);
    return exitc;
}
