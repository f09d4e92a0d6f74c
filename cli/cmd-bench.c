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
"usage: lbq bench [--size N] [--quant SPEC[,SPEC...]] [--reps R] [--json OUT] [--no-sweep] [--device cpu|cuda]\n"
"\n"
"Measure, on generated Adam-like m and v of N elements (default 16M) held in memory:\n"
"  memcpy      the same-run memory bandwidth baseline (N floats in, N floats out, all threads)\n"
"  qdq SPEC    quantize+dequantize throughput of each quantizer in GB/s of fp32 input, and its ratio\n"
"              to memcpy (the same bytes move: read x, write x^)\n"
"  analyze     quantize+dequantize of m and v plus every analyze metric (one config), elements/s\n"
"  sweep       the default sweep configurations (6 maps x 7 bitwidths x block sizes 32-2048 + rank-1)\n"
"              on the same data, elements x configs per second, and the projected time for a\n"
"              100M-element m/v pair\n"
"Each timing is repeated R times (default 5): minimum and median are reported.\n"
"\n"
"  --size N       elements (e.g. 16M, 100M; default 16M)\n"
"  --quant LIST   quantizers (default: block128-dtree, block128-linear, block128-linsq, block128-uniform,\n"
"                 rank1-linear, block128-log:b2, block128-fp8e4m3, block128-fp8e4m3:dre)\n"
"  --reps R       repetitions (default 5)\n"
"  --json OUT     results (schema lbq.bench/1)\n"
"  --no-sweep     skip the sweep measurement\n"
"  --device D     cpu (default) or cuda (GPU kernels on --size device-resident elements, --reps runs\n"
"                 each, as GB/s and as a fraction of a device-to-device memcpy; needs a GPU)\n";

enum { O_SIZE = 1, O_QUANT, O_REPS, O_JSON, O_NOSWEEP, O_DEVICE };
static const struct cli_opt opts[] = {
    { "size", 1, O_SIZE }, { "quant", 1, O_QUANT }, { "reps", 1, O_REPS }, { "json", 1, O_JSON },
    { "no-sweep", 0, O_NOSWEEP }, { "device", 1, O_DEVICE }, { 0, 0, 0 },
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

static int par_qdq(const struct lbq_qplan *p, const struct lbq_tstats *st, const float *x, float *xh, float *scratch, int64_t n)
{
    int64_t chunk = CHUNK;
    if (p->norm->blockwise) chunk = ((CHUNK + p->block - 1) / p->block) * p->block;
    int64_t nch = (n + chunk - 1) / chunk;
    int err = 0;
    #pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < nch; k++) {
        int64_t o = k * chunk, cn = (n - o < chunk) ? n - o : chunk;
        if (lbq_qdq(p, st, o, cn, x + o, xh + o, NULL, NULL, NULL, scratch + o)) err = 1;
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
    const char *val, *quants = "block128-dtree,block128-linear,block128-linsq,block128-uniform,rank1-linear,block128-log:b2,block128-fp8e4m3,block128-fp8e4m3:dre";
    const char *json_out = NULL, *device = "cpu";
    long long size = 16LL << 20, reps = 5;
    int id, rc = LBQ_OK, exitc = 0, nosweep = 0;
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
        }
    }
    if (p.npos) return cli_usage_error("bench", "unexpected argument '%s'", p.positional[0]);
    if (cli_check_output("--json", json_out, NULL, CLI_OUT_TEXT)) return LBQ_EXIT_OUTPUT;
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
    float *out = malloc(sizeof(float) * (size_t)n), *scr = malloc(sizeof(float) * (size_t)n);
    double *t = malloc(sizeof(double) * (size_t)reps);
    cJSON *root = cJSON_CreateObject();
    struct lbq_tstats st;
    int have_st = 0;
    if (!m || !v || !out || !scr || !t) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory for %lld elements", (long long)n); goto cleanup; }
    struct lbq_shape sh = { 2, { (n + cols - 1) / cols, cols }, 0 };
    n = sh.dim[0] * cols;
    sh.numel = n;
    gen(m, v, n, cols);
    LBQ_TRY(lbq_tstats_init(&st, &sh));
    have_st = 1;
    lbq_tstats_add(&st, 0, n, m);
    cJSON_AddStringToObject(root, "schema", "lbq.bench");
    cJSON_AddNumberToObject(root, "schema_version", 1);
    cJSON_AddNumberToObject(root, "elements", (double)n);
    cJSON_AddNumberToObject(root, "threads", lbq_threads());
    cJSON_AddNumberToObject(root, "reps", (double)reps);
    double gb = 4.0 * (double)n / 1e9;   /* GB of fp32 input */
    /* memcpy baseline (warm up once) */
    par_memcpy(out, m, n);
    for (int r = 0; r < reps; r++) { double a = now_s(); par_memcpy(out, m, n); t[r] = now_s() - a; }
    struct timing tm = summarize(t, (int)reps);
    double bw = gb / tm.min;
    printf("lbq bench: %lld elements (%.1f MB fp32), %d threads, %lld reps (min / median)\n", (long long)n, gb * 1e3, lbq_threads(), reps);
    printf("%-28s %10s %10s %8s\n", "kernel", "GB/s(min)", "GB/s(med)", "/memcpy");
    printf("%-28s %10.2f %10.2f %8.2f\n", "memcpy", gb / tm.min, gb / tm.median, 1.0);
    cJSON *memj = cJSON_AddObjectToObject(root, "memcpy");
    cJSON_AddNumberToObject(memj, "gbps_best", gb / tm.min);
    cJSON_AddNumberToObject(memj, "gbps_median", gb / tm.median);
    cJSON *qa = cJSON_AddArrayToObject(root, "qdq");
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", quants);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        struct lbq_qspec s;
        struct lbq_qplan pl;
        LBQ_TRY(lbq_qspec_parse(tok, NULL, &s));
        LBQ_TRY(lbq_qplan_init(&pl, &s, (s.map->sign_ok & LBQ_SIGNED_OK) ? LBQ_ROLE_M : LBQ_ROLE_V, 2));
        const float *x = (pl.is_signed) ? m : v;
        if (pl.is_signed == 0 && pl.norm->global_stats) { lbq_tstats_reset(&st); lbq_tstats_add(&st, 0, n, v); }
        else if (pl.norm->global_stats) { lbq_tstats_reset(&st); lbq_tstats_add(&st, 0, n, m); }
        LBQ_TRY(par_qdq(&pl, &st, x, out, scr, n));
        for (int r = 0; r < reps; r++) { double a = now_s(); rc = par_qdq(&pl, &st, x, out, scr, n); t[r] = now_s() - a; if (rc) goto cleanup; }
        struct timing tq = summarize(t, (int)reps);
        printf("%-28s %10.2f %10.2f %8.2f\n", s.text, gb / tq.min, gb / tq.median, (gb / tq.min) / bw);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "spec", s.text);
        cJSON_AddNumberToObject(o, "gbps_best", gb / tq.min);
        cJSON_AddNumberToObject(o, "gbps_median", gb / tq.median);
        cJSON_AddNumberToObject(o, "ratio_to_memcpy", (gb / tq.min) / bw);
        cJSON_AddItemToArray(qa, o);
    }
    /* analyze and sweep throughput through the real engine: write m, v to a temporary HDF5 file */
    {
        char path[256];
        snprintf(path, sizeof path, "/tmp/lbq-bench-%ld.h5", (long)getpid());
        struct lbq_h5w *w = NULL;
        int dm, dv;
        LBQ_TRY(lbq_h5w_open(path, &w));
        if ((rc = lbq_h5w_dset(w, "bench.weight", "exp_avg", LBQ_W_F32, &sh, &dm)) || (rc = lbq_h5w_write(w, dm, 0, n, m)) ||
            (rc = lbq_h5w_dset(w, "bench.weight", "exp_avg_sq", LBQ_W_F32, &sh, &dv)) || (rc = lbq_h5w_write(w, dv, 0, n, v)) ||
            (rc = lbq_h5w_attr_i64(w, "", "step", 1000))) { lbq_h5w_abort(w); goto cleanup; }
        LBQ_TRY(lbq_h5w_commit(w));
        free(out); out = NULL; free(scr); scr = NULL;
        struct lbq_file *f = NULL;
        struct lbq_open_opts oo = { 0, 0, 0 };
        rc = lbq_file_open(path, &oo, &f);
        if (rc) { unlink(path); goto cleanup; }
        struct lbq_config c;
        memset(&c, 0, sizeof c);
        lbq_qspec_parse("block128-dtree", NULL, &c.m);
        lbq_qspec_parse("rank1-linear", NULL, &c.v);
        c.has_m = c.has_v = 1;
        struct lbq_eval_opts eo = { 0, 10.0, 0, NULL, NULL };
        struct lbq_param_eval ev;
        int ar = (int)(reps < 3 ? reps : 3);
        for (int r = 0; r < ar; r++) { double a = now_s(); rc = lbq_eval_param(f, 0, &c, 1, &eo, &ev); t[r] = now_s() - a; if (rc) break; }
        if (!rc) {
            struct timing ta = summarize(t, ar);
            printf("%-28s %10.1f M elements/s (m+v quantized, all metrics, incl. reading the file)\n", "analyze lpmm4-like", (double)n / ta.min / 1e6);
            cJSON *aj = cJSON_AddObjectToObject(root, "analyze");
            cJSON_AddNumberToObject(aj, "elements_per_s", (double)n / ta.min);
        }
        if (!rc && !nosweep) {
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
                    printf("%-28s %10.1f M element-configs/s; %d configs on %lld elements: %.1f s; projected 100M-element pair: %.0f s\n",
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
    if (have_st) lbq_tstats_free(&st);
    cJSON_Delete(root);
    free(m); free(v); free(out); free(scr); free(t);
    return exitc;
}
