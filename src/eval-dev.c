/* eval-dev.c - the device-resident evaluation engine's host driver and the GPU's CPU twin
 * (src/lbq-evaldev.h, docs/cuda.md).  The driver mirrors lbq_eval_param (src/metrics.c): the same
 * plans, chunk and slab sizes, tensor statistics and raw-state accumulation, so everything but the
 * quantized part is computed by the CPU engine's own code. */
#include "lbq-impl.h"
#include "lbq-metrics.h"
#include "lbq-evaldev.h"
#include "lbq-errslot.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* ---- the quantized part in the GPU's order ---------------------------------------------------- */
void lbq_accq_twin_add(struct lbq_accq *acc, const struct lbq_update_cfg *cfg, int64_t n, const float *m,
                       const float *mh, const float *v, const float *vh)
{
    enum { T = LBQ_ACCQ_THREADS, G = LBQ_ACCQ_GRID, NS = LBQ_ACCQ_NSUMS };
    static _Thread_local double ts[T][NS], tm[T][2];
    const double k = lbq_update_k(cfg);
    const int64_t stride = (int64_t)G * T;
    double slab[NS] = { 0 }, mx[2] = { 0.0, 0.0 };
    struct lbq_accq_elem r;
    for (int b = 0; b < G; b++) {
        /* thread t of CUDA block b takes elements b*T + t + j*G*T, j = 0, 1, ... in order: looping
         * over j outside and t inside keeps every thread's order and reads 256 contiguous elements */
        for (int t = 0; t < T; t++) {
            for (int j = 0; j < NS; j++) ts[t][j] = 0.0;
            tm[t][0] = tm[t][1] = 0.0;
        }
        for (int64_t i0 = (int64_t)b * T; i0 < n; i0 += stride) {
            const int tn = (n - i0 < T) ? (int)(n - i0) : T;
            for (int t = 0; t < tn; t++) {
                const int64_t i = i0 + t;
                int ok;
                double sv, u = lbq_acc_exact_update(m[i], v[i], k, cfg, &ok, &sv);
                lbq_accq_elem(m[i], mh[i], v[i], vh[i], u, ok, k, cfg, &r);
                for (int j = 0; j < NS; j++) ts[t][j] += r.s[j];
                tm[t][0] = r.e[0] > tm[t][0] ? r.e[0] : tm[t][0];
                tm[t][1] = r.e[1] > tm[t][1] ? r.e[1] : tm[t][1];
                for (int c = 0; c < LBQ_ACCQ_NCOUNTS; c++) acc->cnt[c] += (uint64_t)r.c[c];
                if (ok) { acc->rel_hist[0][r.rbin[0]]++; acc->rel_hist[1][r.rbin[1]]++; acc->h_quant[r.hbin]++; }
            }
        }
        for (int st = T / 2; st > 0; st >>= 1)          /* the block's tree */
            for (int t = 0; t < st; t++) {
                for (int j = 0; j < NS; j++) ts[t][j] += ts[t + st][j];
                for (int j = 0; j < 2; j++) tm[t][j] = tm[t + st][j] > tm[t][j] ? tm[t + st][j] : tm[t][j];
            }
        for (int j = 0; j < NS; j++) slab[j] += ts[0][j];        /* blocks in order */
        for (int j = 0; j < 2; j++) mx[j] = tm[0][j] > mx[j] ? tm[0][j] : mx[j];
    }
    for (int j = 0; j < NS; j++) acc->sum[j] += slab[j];
    for (int j = 0; j < 2; j++) acc->mx[j] = mx[j] > acc->mx[j] ? mx[j] : acc->mx[j];
}

void lbq_accq_to_acc(const struct lbq_accq *q, struct lbq_acc *a)
{
    struct lbq_state_acc *S[2] = { &a->m, &a->v };
    for (int s = 0; s < 2; s++) {
        S[s]->sum_sq_err += q->sum[LBQ_ACCQ_SSE_M + s];
        S[s]->sum_abs_err += q->sum[LBQ_ACCQ_SAE_M + s];
        if (q->mx[s] > S[s]->max_abs_err) S[s]->max_abs_err = q->mx[s];
        S[s]->zero_in_moved += (int64_t)q->cnt[LBQ_ACCQ_ZMOVED_M + s];
        S[s]->pos_to_zero += (int64_t)q->cnt[LBQ_ACCQ_PZERO_M + s];
        S[s]->nonzero_to_zero += (int64_t)q->cnt[LBQ_ACCQ_NZZERO_M + s];    /* structural-zero split */
        S[s]->lifted_abs_uh += q->sum[LBQ_ACCQ_LAUH_M + s];
        S[s]->lifted_sq_du += q->sum[LBQ_ACCQ_LD2_M + s];
        for (int b = 0; b < LBQ_REL_NBINS; b++) S[s]->rel_hist[b] += (int64_t)q->rel_hist[s][b];
    }
    struct lbq_update_acc *u = &a->u;
    u->sum_sq_uh += q->sum[LBQ_ACCQ_UH2];
    u->sum_dot += q->sum[LBQ_ACCQ_DOT];
    u->sum_sq_diff += q->sum[LBQ_ACCQ_D2];
    u->sum_abs_uh += q->sum[LBQ_ACCQ_AUH];
    u->collapsed_abs_u += q->sum[LBQ_ACCQ_CU];
    u->collapsed_abs_uh += q->sum[LBQ_ACCQ_CUH];
    u->blowup += (int64_t)q->cnt[LBQ_ACCQ_BLOWUP];
    u->shrink += (int64_t)q->cnt[LBQ_ACCQ_SHRINK];
    for (int b = 0; b < LBQ_H_NBINS; b++) u->h_quant[b] += (int64_t)q->h_quant[b];
}

/* ---- the twin backend: lbq_qdq + lbq_accq_twin_add ----------------------------------------------- */
struct twin {
    int nconf;
    const struct lbq_devq_conf *conf;
    const struct lbq_tstats *stm, *stv;
    struct lbq_update_cfg cfg;
    float *mh, *vh, *scr;
    struct lbq_accq *acc;
};

static void *twin_host_alloc(size_t bytes) { return malloc(bytes ? bytes : 1); }
static void twin_host_free(void *p) { free(p); }

static void twin_end(void *ctx)
{
    struct twin *t = ctx;
    if (!t) return;
    free(t->mh); free(t->vh); free(t->scr); free(t->acc); free(t);
}

static int twin_begin(void **ctx, int64_t cap, int nconf, const struct lbq_devq_conf *conf,
                      const struct lbq_tstats *stm, const struct lbq_tstats *stv, const struct lbq_update_cfg *cfg)
{
    struct twin *t = calloc(1, sizeof *t);
    *ctx = t;
    if (!t) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    t->nconf = nconf; t->conf = conf; t->stm = stm; t->stv = stv; t->cfg = *cfg;
    t->mh = malloc(sizeof(float) * (size_t)cap);
    t->vh = malloc(sizeof(float) * (size_t)cap);
    t->scr = malloc(sizeof(float) * (size_t)cap);
    t->acc = calloc((size_t)nconf, sizeof *t->acc);
    if (!t->mh || !t->vh || !t->scr || !t->acc) return lbq_err(LBQ_ERR_NOMEM, "out of memory (device twin, slab of %lld elements)", (long long)cap);
    return LBQ_OK;
}

static int twin_submit(void *ctx, int64_t off, int64_t n, const float *m, const float *v)
{
    struct twin *t = ctx;
    for (int c = 0; c < t->nconf; c++) {
        const float *mh = m, *vh = v;
        if (t->conf[c].m) { int rc = lbq_qdq(t->conf[c].m, t->stm, off, n, m, t->mh, NULL, NULL, NULL, t->scr); if (rc) return rc; mh = t->mh; }
        if (t->conf[c].v) { int rc = lbq_qdq(t->conf[c].v, t->stv, off, n, v, t->vh, NULL, NULL, NULL, t->scr); if (rc) return rc; vh = t->vh; }
        lbq_accq_twin_add(&t->acc[c], &t->cfg, n, m, mh, v, vh);
    }
    return LBQ_OK;
}

static int twin_wait(void *ctx) { (void)ctx; return LBQ_OK; }

static int twin_finish(void *ctx, struct lbq_accq *out)
{
    struct twin *t = ctx;
    memcpy(out, t->acc, sizeof *out * (size_t)t->nconf);
    return LBQ_OK;
}

const struct lbq_devq_ops lbq_devq_twin = {
    "twin", twin_host_alloc, twin_host_free, twin_begin, twin_submit, twin_wait, twin_finish, twin_end,
};

/* ---- the driver ---------------------------------------------------------------------------------- */
static int64_t gcd64(int64_t a, int64_t b) { while (b) { int64_t t = a % b; a = b; b = t; } return a; }
static int64_t lcm64(int64_t a, int64_t b) { return a / gcd64(a, b) * b; }

int lbq_eval_param_dev(struct lbq_file *f, int p, const struct lbq_config *conf, int nconf,
                       const struct lbq_eval_opts *opts, const struct lbq_devq_ops *ops,
                       struct lbq_param_eval *out)
{
    struct lbq_update_cfg ucfg;
    lbq_update_cfg_from_file(f, &ucfg);
    if (opts && opts->outlier_k > 0) ucfg.outlier_k = opts->outlier_k;
    if (!(ucfg.eps > 0.0)) return LBQ_DEVQ_NOT_HANDLED;

    int rc = LBQ_OK;
    const struct lbq_param_info *pi = lbq_file_param(f, p);
    const struct lbq_shape *sh = &pi->shape;
    const int64_t N = sh->numel;
    struct lbq_qplan *plans = NULL;
    struct lbq_devq_conf *dc = NULL;
    struct lbq_accq *accq = NULL;
    struct { int64_t m[4], v[4]; } *solo = NULL;      /* SOLO edge-case block counts per configuration */
    struct lbq_tstats stm, stv;
    float *m = NULL, *v = NULL;
    double *ue = NULL;
    uint8_t *okm = NULL;
    struct lbq_acc *chunk_acc = NULL, *base_total = NULL;
    void *ctx = NULL;
    int have_st = 0, need_st = 0, begun = 0;
    memset(&stm, 0, sizeof stm); memset(&stv, 0, sizeof stv);

    plans = calloc((size_t)nconf * 2, sizeof *plans);
    dc = calloc((size_t)nconf, sizeof *dc);
    accq = calloc((size_t)nconf, sizeof *accq);
    solo = calloc((size_t)nconf, sizeof *solo);
    if (!plans || !dc || !accq || !solo) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
    int64_t unit = 128;         /* as lbq_eval_param: chunks are multiples of every block and of the outlier block */
    for (int c = 0; c < nconf; c++) {      /* plans, texts and sizes as lbq_eval_param (src/eval.c) */
        int has[2];
        LBQ_TRY(lbq_eval_conf_plans(&conf[c], sh, &plans[2 * c], has, &out[c], &unit, &need_st));
        dc[c].m = has[0] ? &plans[2 * c] : NULL;
        dc[c].v = has[1] ? &plans[2 * c + 1] : NULL;
    }
    /* slabs and chunks exactly as lbq_eval_param's fast path (17 bytes per element) */
    int64_t budget = (opts && opts->mem_limit > 0) ? opts->mem_limit : ((int64_t)1 << 30);
    int64_t chunk = unit;
    while (chunk < 65536) chunk *= 2;
    int64_t re = lbq_shape_row_elems(sh);
    int64_t align = lcm64(chunk, re);
    const int64_t per_elem = 17;
    lbq_file_set_chunk_cache(f, budget / 16);
    int64_t slab = (budget - budget / 4) / per_elem;
    if (align * per_elem <= budget) slab = (slab / align) * align; else slab = (slab / chunk) * chunk;
    if (slab < chunk) slab = chunk;
    if (slab > N) slab = N;
    int64_t nchunk_max = (slab + chunk - 1) / chunk;
    m = ops->host_alloc(sizeof(float) * (size_t)slab);
    v = ops->host_alloc(sizeof(float) * (size_t)slab);
    ue = malloc(sizeof(double) * (size_t)slab);
    okm = malloc((size_t)slab);
    chunk_acc = malloc(sizeof *chunk_acc * (size_t)nchunk_max);
    base_total = calloc(1, sizeof *base_total);
    if (!m || !v || !ue || !okm || !chunk_acc || !base_total) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory (slab of %lld elements; lower --mem-limit?)", (long long)slab); goto cleanup; }
    if (need_st) {
        LBQ_TRY(lbq_tstats_init(&stm, sh));
        LBQ_TRY(lbq_tstats_init(&stv, sh));
        have_st = 1;
        if (slab < N) {
            for (int64_t off = 0; off < N; off += slab) {
                int64_t n = (N - off < slab) ? N - off : slab;
                LBQ_TRY(lbq_file_read(f, p, LBQ_DS_M, 0, off, n, m));
                LBQ_TRY(lbq_file_read(f, p, LBQ_DS_V, 0, off, n, v));
                lbq_tstats_add(&stm, off, n, m);
                lbq_tstats_add(&stv, off, n, v);
            }
        }
    }
    if (N > 0) {
        LBQ_TRY(lbq_file_read(f, p, LBQ_DS_M, 0, 0, slab, m));
        LBQ_TRY(lbq_file_read(f, p, LBQ_DS_V, 0, 0, slab, v));
    }
    for (int64_t off = 0; off < N; off += slab) {
        int64_t n = (N - off < slab) ? N - off : slab;
        if (have_st && slab >= N) { lbq_tstats_add(&stm, off, n, m); lbq_tstats_add(&stv, off, n, v); }
        if (!begun) {                   /* the statistics are complete here */
            rc = ops->begin(&ctx, slab, nconf, dc, have_st ? &stm : NULL, have_st ? &stv : NULL, &ucfg);
            begun = 1;
            if (rc) goto cleanup;
        }
        if (opts && opts->slab_cb) opts->slab_cb(opts->cb_ud, p, off, n, m, v);
        LBQ_TRY(ops->submit(ctx, off, n, m, v));        /* the device works on this slab ... */
        /* ... while the host accumulates its raw-state part (the CPU engine's code and order) */
        LBQ_TRY(lbq_eval_base_chunks(&ucfg, n, chunk, m, v, ue, okm, chunk_acc, base_total));
        /* SOLO's edge-case blocks of log-map configurations (raw states only; as lbq_eval_param) */
        for (int c = 0; c < nconf; c++) {
            if (dc[c].m) lbq_log_edge_count(dc[c].m, n, m, solo[c].m);
            if (dc[c].v) lbq_log_edge_count(dc[c].v, n, v, solo[c].v);
        }
        /* ... and reads the next slab once the upload of this one is done */
        LBQ_TRY(ops->wait_upload(ctx));
        int64_t noff = off + slab;
        if (noff < N) {
            int64_t nn = (N - noff < slab) ? N - noff : slab;
            LBQ_TRY(lbq_file_read(f, p, LBQ_DS_M, 0, noff, nn, m));
            LBQ_TRY(lbq_file_read(f, p, LBQ_DS_V, 0, noff, nn, v));
        }
    }
    if (begun) {
        LBQ_TRY(ops->finish(ctx, accq));
        for (int c = 0; c < nconf; c++) lbq_accq_to_acc(&accq[c], &out[c].acc);
    }
    for (int c = 0; c < nconf; c++) {
        lbq_acc_merge(&out[c].acc, base_total);
        for (int j = 0; j < 4; j++) { out[c].acc.m.solo[j] += solo[c].m[j]; out[c].acc.v.solo[j] += solo[c].v[j]; }
    }
cleanup:
    if (begun) ops->end(ctx);
    if (have_st) { lbq_tstats_free(&stm); lbq_tstats_free(&stv); }
    if (m) ops->host_free(m);
    if (v) ops->host_free(v);
    free(ue); free(okm); free(chunk_acc); free(base_total); free(plans); free(dc); free(accq); free(solo);
    return rc;
}

/* ---- quick self-check of the GPU engine -------------------------------------------------------- */
int lbq_devq_selfcheck(void) { return lbq_devq_compare(&lbq_devq_cuda, &lbq_devq_twin); }

int lbq_devq_compare(const struct lbq_devq_ops *A, const struct lbq_devq_ops *B)
{
    static const char *const specs[][2] = {
        { "block128-dtree:b4", "block128-linear:b4" }, { "block128-dtree:b4:sr", "block128-log:b2" },
        { "rank1-linear:b4", "rank1-linear:b4" }, { "block128-fp8e4m3:dre", "tensor-linear:b8" }, { NULL, NULL },
    };
    enum { NC = 5 };
    struct lbq_shape sh;
    memset(&sh, 0, sizeof sh);
    sh.rank = 2; sh.dim[0] = 3 * 4 + 1; sh.dim[1] = 1024 - 33; sh.numel = sh.dim[0] * sh.dim[1];
    const int64_t n = sh.numel;
    int rc = LBQ_OK;
    struct lbq_qplan plans[2 * NC];
    struct lbq_devq_conf dc[NC];
    struct lbq_accq *a = calloc(2 * NC, sizeof *a);
    float *m = lbq_devq_cuda.host_alloc(sizeof(float) * (size_t)n), *v = lbq_devq_cuda.host_alloc(sizeof(float) * (size_t)n);
    struct lbq_tstats stm, stv;
    int have_st = 0;
    void *ctx = NULL;
    if (!a || !m || !v) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
    uint64_t z = 0x9E3779B97F4A7C15ull;
    for (int64_t i = 0; i < n; i++) {
        z ^= z >> 12; z ^= z << 25; z ^= z >> 27;
        double u = (double)((z * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
        m[i] = (float)((u - 0.5) * 2e-3 * ((i % 97 == 0) ? 100.0 : 1.0));
        v[i] = m[i] * m[i] * (float)(1.0 + u);
        if (i % 301 == 7) { m[i] = 0.0f; v[i] = 0.0f; }
    }
    m[17] = NAN; v[1000] = INFINITY;
    LBQ_TRY(lbq_tstats_init(&stm, &sh));
    LBQ_TRY(lbq_tstats_init(&stv, &sh));
    have_st = 1;
    lbq_tstats_add(&stm, 0, n, m);
    lbq_tstats_add(&stv, 0, n, v);
    for (int c = 0; c < NC; c++) {
        dc[c].m = dc[c].v = NULL;
        for (int s = 0; s < 2 && specs[c][s]; s++) {
            struct lbq_qspec qs;
            LBQ_TRY(lbq_qspec_parse(specs[c][s], NULL, &qs));
            LBQ_TRY(lbq_qplan_init(&plans[2 * c + s], &qs, s ? LBQ_ROLE_V : LBQ_ROLE_M, 2));
            if (s) dc[c].v = &plans[2 * c + s]; else dc[c].m = &plans[2 * c + s];
        }
    }
    struct lbq_update_cfg cfg = { 1.0 - 0.9, 1.0 - 0.999, 1e-8, 128, 10.0 };
    for (int b = 0; b < 2; b++) {
        const struct lbq_devq_ops *ops = b ? B : A;
        rc = ops->begin(&ctx, n, NC, dc, &stm, &stv, &cfg);
        if (rc == LBQ_OK) rc = ops->submit(ctx, 0, n, m, v);
        if (rc == LBQ_OK) rc = ops->finish(ctx, a + b * NC);
        ops->end(ctx);
        ctx = NULL;
        if (rc) goto cleanup;
    }
    for (int c = 0; c < NC; c++)
        if (memcmp(&a[c], &a[NC + c], sizeof *a) != 0) {
            rc = lbq_err(LBQ_ERR_DATA, "CUDA engine self-check: configuration %d (%s, %s): the accumulators of '%s' differ from those of '%s'",
                         c, specs[c][0] ? specs[c][0] : "fp32", specs[c][1] ? specs[c][1] : "fp32", A->name, B->name);
            break;
        }
cleanup:
    if (have_st) { lbq_tstats_free(&stm); lbq_tstats_free(&stv); }
    if (m) lbq_devq_cuda.host_free(m);
    if (v) lbq_devq_cuda.host_free(v);
    free(a);
    return rc;
}
