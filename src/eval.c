/* eval.c - the evaluation engine of analyze and sweep (lbq_eval_param): a parameter's m and v are
 * read once in slabs; every configuration is quantized on each slab, chunk by chunk, through a
 * backend (src/lbq-backend.h: the CPU reference or CUDA), into the accumulators of metrics.c. */
#include "lbq-impl.h"
#include "lbq-metrics.h"
#include "lbq-backend.h"
#include "lbq-errslot.h"
#include "lbq-evaldev.h"
#include "lbq-sample.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* ---- engine ---------------------------------------------------------------------------------- */
static int64_t gcd64(int64_t a, int64_t b) { while (b) { int64_t t = a % b; a = b; b = t; } return a; }
static int64_t lcm64(int64_t a, int64_t b) { return a / gcd64(a, b) * b; }

struct conf_plans {
    struct lbq_qplan q[2];      /* m, v */
    int has[2];                 /* the state is quantized (not fp32) */
};

int lbq_eval_base_chunks(const struct lbq_update_cfg *ucfg, int64_t n, int64_t chunk, const float *m, const float *v,
                         double *ue, uint8_t *okm, struct lbq_acc *chunk_acc, struct lbq_acc *base_total)
{
    int64_t nch = (n + chunk - 1) / chunk;
    struct lbq_errslot err = LBQ_ERRSLOT_INIT;
    #pragma omp parallel
    {
        float *tmp = malloc(sizeof(float) * (size_t)ucfg->outlier_block + sizeof(float));
        #pragma omp for schedule(dynamic, 1)
        for (int64_t k = 0; k < nch; k++) {
            int64_t o = k * chunk, cn = (n - o < chunk) ? n - o : chunk;
            lbq_acc_zero(&chunk_acc[k]);
            if (!tmp) { lbq_errslot_put(&err, lbq_err(LBQ_ERR_NOMEM, "out of memory")); continue; }
            lbq_acc_base(&chunk_acc[k], ucfg, cn, m + o, v + o, ue + o, okm + o, tmp);
        }
        free(tmp);
    }
    if (err.rc) return lbq_errslot_raise(&err);
    for (int64_t k = 0; k < nch; k++) lbq_acc_merge(base_total, &chunk_acc[k]);     /* in chunk order */
    return LBQ_OK;
}

int lbq_eval_conf_plans(const struct lbq_config *conf, const struct lbq_shape *sh, struct lbq_qplan q[2],
                        int has[2], struct lbq_param_eval *o, int64_t *unit, int *need_st)
{
    const int64_t N = sh->numel;
    memset(o, 0, sizeof *o);
    int keep = !conf->quantize_all && lbq_recipe_keeps_fp32(conf->recipe, N);
    o->kept_fp32 = keep;
    has[0] = conf->has_m && !keep;
    has[1] = conf->has_v && !keep;
    for (int s = 0; s < 2; s++) {
        char *txt = s ? o->v_plan : o->m_plan;
        struct lbq_qsize *sz = s ? &o->v_size : &o->m_size;
        if (!has[s]) {
            snprintf(txt, 128, "fp32");
            sz->code_bits = 32 * N; sz->bits_per_elem = 32.0;
            continue;
        }
        int rc = lbq_qplan_init(&q[s], s ? &conf->v : &conf->m, s ? LBQ_ROLE_V : LBQ_ROLE_M, sh->rank);
        if (rc) return rc;
        lbq_qplan_fit(&q[s], N);            /* SOLO's per-tensor block (log map) */
        lbq_qspec_format(&q[s].spec, txt, 128);
        if (q[s].norm != q[s].spec.norm || (q[s].norm->blockwise && q[s].block != q[s].spec.block)) {
            /* show the fallback or the fitted block actually used */
            struct lbq_qspec eff = q[s].spec;
            eff.norm = q[s].norm; eff.block = q[s].block;
            lbq_qspec_format(&eff, txt, 128);
        }
        lbq_qplan_size(&q[s], sh, sz);
        if (q[s].norm->global_stats) *need_st = 1;
        if (q[s].norm->blockwise) {
            *unit = lcm64(*unit, q[s].block);
            if (*unit > ((int64_t)1 << 24)) return lbq_err(LBQ_ERR_ARG, "block sizes of one sweep must have a common multiple <= 2^24");
        }
    }
    return LBQ_OK;
}

/* quantize-dequantize one chunk for one state on the backend; plan NULL = fp32 (copy) */
static int qdq_state(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, int64_t n,
                     const float *x, float *xh, float *scratch, const struct lbq_backend *be)
{
    if (!p) { memcpy(xh, x, sizeof(float) * (size_t)n); return LBQ_OK; }
    return be->qdq(p, st, off, n, x, xh, scratch);
}

/* LBQ_ERR_INTERRUPTED once the caller's cancel flag is set (lbq_eval_opts.cancel) */
static int eval_cancelled(const struct lbq_eval_opts *opts)
{
    if (opts && opts->cancel && *opts->cancel) return lbq_err(LBQ_ERR_INTERRUPTED, "interrupted");
    return LBQ_OK;
}

/* The chunk of the engine: the smallest multiple of `unit` (a common multiple of 128, the outlier
 * block, and of every block size evaluated together) that is >= 65536 elements.  Chunks are the
 * unit of parallel work and of the accumulation order, so they fix the floating-point sums. */
#define LBQ_SLAB_CAP ((int64_t)1 << 22)

static int64_t chunk_of_unit(int64_t unit)
{
    int64_t chunk = unit;
    while (chunk < 65536) chunk *= 2;
    return chunk;
}

/* one configuration on elements [pos, pos + n) of the tensor (m, v and the outputs point at pos):
 * quantize both states, then accumulate into acc */
static int eval_range(const struct conf_plans *pc, const struct lbq_tstats *stm, const struct lbq_tstats *stv,
                      int64_t pos, int64_t n, const float *m, const float *v, float *mh, float *vh, float *scr,
                      const struct lbq_backend *dev, struct lbq_acc *acc, int fast, const struct lbq_update_cfg *ucfg,
                      const double *ue, const uint8_t *okm, int outliers)
{
    int e1 = qdq_state(pc->has[0] ? &pc->q[0] : NULL, stm, pos, n, m, mh, scr, dev);
    int e2 = qdq_state(pc->has[1] ? &pc->q[1] : NULL, stv, pos, n, v, vh, scr, dev);
    if (e1 || e2) return e1 ? e1 : e2;
    if (pc->has[0]) lbq_log_edge_count(&pc->q[0], n, m, acc->m.solo);   /* log map only */
    if (pc->has[1]) lbq_log_edge_count(&pc->q[1], n, v, acc->v.solo);
    if (fast) lbq_acc_quant(acc, ucfg, n, m, mh, v, vh, ue, okm);
    /* outlier blocks depend on the raw states only: counted once (config 0), copied by the caller */
    else lbq_acc_add2(acc, ucfg, n, m, mh, v, vh, outliers);
    return LBQ_OK;
}

/* --sample: the next run [*a, *b) of drawn units in [a0, cn) of the chunk at tensor position pos
 * (pos and a0 are multiples of the unit); 0 when none is left */
static int next_run(const struct lbq_sample_sel *sel, int64_t pos, int64_t a0, int64_t cn, int64_t *a, int64_t *b)
{
    int64_t x = a0;
    while (x < cn && !sel->unit_in[(pos + x) / sel->unit]) x += sel->unit;
    if (x >= cn) return 0;
    int64_t y = x;
    while (y < cn && sel->unit_in[(pos + y) / sel->unit]) y += sel->unit;
    *a = x; *b = y < cn ? y : cn;
    return 1;
}

int lbq_eval_blocks_split_ok(const int64_t *blocks, int n)
{
    /* powers of two <= 65536 divide 65536, so any subset with the outlier block 128 has a unit
     * dividing 65536 and the chunk chunk_of_unit(unit) = 65536 */
    for (int i = 0; i < n; i++) {
        int64_t b = blocks[i];
        if (b <= 0 || b > 65536 || (b & (b - 1))) return 0;
    }
    return 1;
}

/* --sample: one slab [off, off + n).  Work items are (configuration, drawn cell), each into its own
 * accumulator, merged in cell order into the cell's replicate slot: as in the exact path, the
 * result does not depend on the thread count, the window or the slab size. */
struct sctx {
    const struct conf_plans *pl;
    int nconf, fast, cwin;
    const struct lbq_tstats *stm, *stv;
    const struct lbq_update_cfg *ucfg;
    const struct lbq_backend *dev;
    const struct lbq_sample_sel *sel;
    struct lbq_sample_acc *sout;
    struct lbq_acc *base_slot, *cacc;   /* raw-state part of the drawn units per slot; cwin x drawn
                                         * cells accumulators */
    int64_t *dc;                        /* the slab's drawn cells */
    const float *m, *v;                 /* the slab */
    double *ue;
    uint8_t *okm;
};

static int sampled_slab(struct sctx *x, int64_t off, int64_t n)
{
    const struct lbq_sample_sel *sel = x->sel;
    const int64_t cell = sel->cell;
    int64_t D = 0;
    for (int64_t k = off / cell; k * cell < off + n; k++) if (sel->cell_slot[k] >= 0) x->dc[D++] = k;
    struct lbq_errslot err = LBQ_ERRSLOT_INIT;
    if (x->fast) {      /* the raw-state part of the drawn units, once per drawn cell */
        #pragma omp parallel
        {
            float *tmp = malloc(sizeof(float) * (size_t)x->ucfg->outlier_block + sizeof(float));
            #pragma omp for schedule(dynamic, 1)
            for (int64_t j = 0; j < D; j++) {
                int64_t o = x->dc[j] * cell - off, cn = (n - o < cell) ? n - o : cell;
                lbq_acc_zero(&x->cacc[j]);
                if (!tmp) { lbq_errslot_put(&err, lbq_err(LBQ_ERR_NOMEM, "out of memory")); continue; }
                for (int64_t a = 0, b; next_run(sel, off + o, a, cn, &a, &b); a = b)
                    lbq_acc_base(&x->cacc[j], x->ucfg, b - a, x->m + o + a, x->v + o + a, x->ue + o + a, x->okm + o + a, tmp);
            }
            free(tmp);
        }
        if (err.rc) return lbq_errslot_raise(&err);
        for (int64_t j = 0; j < D; j++) lbq_acc_merge(&x->base_slot[sel->cell_slot[x->dc[j]]], &x->cacc[j]);
    }
    for (int c0 = 0; c0 < x->nconf; c0 += x->cwin) {
        int cw = (x->nconf - c0 < x->cwin) ? x->nconf - c0 : x->cwin;
        int64_t items = (int64_t)cw * D;
        #pragma omp parallel
        {
            float *buf = malloc(sizeof(float) * (size_t)cell * 3);
            #pragma omp for schedule(dynamic, 1)
            for (int64_t it = 0; it < items; it++) {
                int c = c0 + (int)(it / D);
                int64_t j = it % D, o = x->dc[j] * cell - off, cn = (n - o < cell) ? n - o : cell;
                struct lbq_acc *acc = &x->cacc[it];
                lbq_acc_zero(acc);
                if (!buf) { lbq_errslot_put(&err, lbq_err(LBQ_ERR_NOMEM, "out of memory")); continue; }
                float *mh = buf, *vh = buf + cell, *scr = buf + 2 * cell;
                int e = LBQ_OK;
                for (int64_t a = 0, b; !e && next_run(sel, off + o, a, cn, &a, &b); a = b)
                    e = eval_range(&x->pl[c], x->stm, x->stv, off + o + a, b - a, x->m + o + a, x->v + o + a, mh + a, vh + a, scr,
                                   x->dev, acc, x->fast, x->ucfg, x->fast ? x->ue + o + a : NULL, x->fast ? x->okm + o + a : NULL, c == 0);
                if (e) lbq_errslot_put(&err, e);
            }
            free(buf);
        }
        if (err.rc) return lbq_errslot_raise(&err);
        for (int c = c0; c < c0 + cw; c++)
            for (int64_t j = 0; j < D; j++)
                lbq_acc_merge(&x->sout[c].g[sel->cell_slot[x->dc[j]]], &x->cacc[(int64_t)(c - c0) * D + j]);
    }
    return LBQ_OK;
}

/* smp/sout: --sample (include/lbq-sample.h), or NULL for the exact evaluation */
static int eval_param(struct lbq_file *f, int p, const struct lbq_config *conf, int nconf, const struct lbq_eval_opts *opts,
                      const struct lbq_sample_opts *smp, struct lbq_sample_acc *sout, struct lbq_param_eval *out)
{
    if (opts && !smp && (opts->device == 1 || opts->device == 2)) {     /* device-resident engine: src/eval-dev.c */
        int r = lbq_eval_param_dev(f, p, conf, nconf, opts, opts->device == 2 ? &lbq_devq_twin : &lbq_devq_cuda, out);
        if (r != LBQ_DEVQ_NOT_HANDLED) return r;            /* eps <= 0: the path below */
    }
    int rc = LBQ_OK;
    const struct lbq_param_info *pi = lbq_file_param(f, p);
    const struct lbq_shape *sh = &pi->shape;
    const int64_t N = sh->numel;
    struct conf_plans *pl = NULL;
    struct lbq_tstats stm, stv;
    float *m = NULL, *v = NULL;
    size_t slab_f = 0, slab_d = 0, slab_b = 0;      /* bytes of m and v, of ue, of okm (lbq_big_free) */
    double *ue = NULL;                  /* fast path: the exact update of the slab */
    uint8_t *okm = NULL;                /* fast path: m and v finite */
    struct lbq_acc *chunk_acc = NULL, *base_total = NULL;
    struct lbq_sample_sel sel;          /* --sample: the drawn units of this tensor */
    const struct lbq_sample_sel *ss = NULL;
    struct lbq_acc *base_slot = NULL, *tmp_acc = NULL;
    memset(&sel, 0, sizeof sel);
    int have_st = 0, need_st = 0;
    memset(&stm, 0, sizeof stm); memset(&stv, 0, sizeof stv);
    struct lbq_update_cfg ucfg;
    lbq_update_cfg_from_file(f, &ucfg);
    if (opts && opts->outlier_k > 0) ucfg.outlier_k = opts->outlier_k;
    /* eps > 0: the raw-state part of the metrics is accumulated once per chunk, not per config */
    const int fast = ucfg.eps > 0.0;

    pl = calloc((size_t)nconf, sizeof *pl);
    if (!pl) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    int64_t unit = 128;         /* chunks are multiples of every block size and of the outlier block */
    for (int c = 0; c < nconf; c++)
        LBQ_TRY(lbq_eval_conf_plans(&conf[c], sh, pl[c].q, pl[c].has, &out[c], &unit, &need_st));
    /* slab size: whole rows, a multiple of the chunk unit where that fits the memory budget */
    int64_t budget = (opts && opts->mem_limit > 0) ? opts->mem_limit : ((int64_t)1 << 30);
    int64_t chunk = chunk_of_unit(unit);
    int64_t re = lbq_shape_row_elems(sh);
    int64_t align = lcm64(chunk, re);
    int64_t per_elem = fast ? 17 : 8;   /* m and v slabs (+ ue and ok) */
    /* the budget: 3/4 for the slabs, 1/8 for the HDF5 chunk caches of m and v, 1/8 (below) for
     * the chunk accumulators */
    lbq_file_set_chunk_cache(f, budget / 16);
    int64_t slab = (budget - budget / 4) / per_elem;
    if (align * per_elem <= budget) slab = (slab / align) * align; else slab = (slab / chunk) * chunk;
    if (slab < chunk) slab = chunk;
    {   /* at most about LBQ_SLAB_CAP elements (still whole rows where those fit): fresh pages cost
         * more than they save (a second read of the tensor for rank-1's statistics pass is cheaper
         * than first-touching 17 bytes per element under a hypervisor: bench/README.md); the
         * result does not depend on the slab size */
        int64_t a = (align * per_elem <= budget) ? align : chunk, cap = (LBQ_SLAB_CAP / a) * a;
        if (cap < a) cap = a;
        if (slab > cap) slab = cap;
    }
    int64_t cell = 0;
    if (smp) {      /* --sample: cells of >= 2048 elements; a slab's cell accumulators within 1/8 of the budget */
        cell = unit;
        while (cell < 2048 && cell < chunk) cell *= 2;
        int64_t cap = ((budget / 8) / (int64_t)sizeof(struct lbq_acc)) * cell / chunk * chunk;
        if (slab > cap) slab = cap > chunk ? cap : chunk;
    }
    if (slab > N) slab = N;
    int64_t nchunk_max = (slab + chunk - 1) / chunk;
    /* the slabs: big buffers (huge pages, reused from the previous tensor: src/misc.c) */
    slab_f = sizeof(float) * (size_t)slab; slab_d = sizeof(double) * (size_t)slab; slab_b = (size_t)slab;
    m = lbq_big_alloc(slab_f);
    v = lbq_big_alloc(slab_f);
    /* configurations evaluated together: their chunk accumulators within 1/8 of the budget */
    int64_t cwin64 = (budget / 8) / ((int64_t)sizeof(struct lbq_acc) * nchunk_max);
    int cwin = (int)(cwin64 < 1 ? 1 : (cwin64 > nconf ? nconf : cwin64));
    chunk_acc = malloc(sizeof *chunk_acc * (size_t)nchunk_max * (size_t)(cwin > 1 ? cwin : 1));
    if (fast) {
        ue = lbq_big_alloc(slab_d);
        okm = lbq_big_alloc(slab_b);
        base_total = calloc(1, sizeof *base_total);
    }
    struct sctx sx;
    int exact_x = 0;    /* --sample: a state normalized by tensor-wide statistics gets its exact value sums */
    if (smp && fast)
        for (int c = 0; c < nconf; c++)
            for (int s = 0; s < 2; s++) exact_x |= pl[c].has[s] && pl[c].q[s].norm->global_stats;
    if (smp) {
        LBQ_TRY(lbq_sample_select(smp, pi->name, N, unit, cell, &sel));
        ss = &sel;
        for (int c = 0; c < nconf; c++) lbq_sample_acc_zero(&sout[c]);
        base_slot = calloc(LBQ_SAMPLE_GROUPS + 1, sizeof *base_slot);
        tmp_acc = malloc(sizeof *tmp_acc);
        memset(&sx, 0, sizeof sx);
        sx.pl = pl; sx.nconf = nconf; sx.stm = &stm; sx.stv = &stv; sx.ucfg = &ucfg; sx.fast = fast;
        sx.dev = lbq_backend_get(opts ? opts->device : 0); sx.sel = ss; sx.sout = sout; sx.base_slot = base_slot;
        sx.m = m; sx.v = v; sx.ue = ue; sx.okm = okm;
        int64_t nd = 0;     /* drawn cells of a slab, at most */
        for (int64_t k = 0; k < sel.ncells; k++) nd += sel.cell_slot[k] >= 0;
        if (nd > slab / cell + 1) nd = slab / cell + 1;
        if (nd < 1) nd = 1;
        int64_t cw = (budget / 8) / ((int64_t)sizeof(struct lbq_acc) * nd);
        sx.cwin = (int)(cw < 1 ? 1 : (cw > nconf ? nconf : cw));
        sx.cacc = malloc(sizeof *sx.cacc * (size_t)nd * (size_t)sx.cwin);
        sx.dc = malloc(sizeof *sx.dc * (size_t)nd);
        if (!base_slot || !tmp_acc || !sx.cacc || !sx.dc) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
    }
    lbq_big_trim();     /* kept buffers no allocation above took */
    if (!m || !v || !chunk_acc || (fast && (!ue || !okm || !base_total))) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory (slab of %lld elements; lower --mem-limit?)", (long long)slab); goto cleanup; }
    int st_of[2] = { 0, 0 };    /* the states whose statistics some configuration uses */
    for (int c = 0; c < nconf; c++)
        for (int s = 0; s < 2; s++) st_of[s] |= pl[c].has[s] && pl[c].q[s].norm->global_stats;
    if (need_st) {
        LBQ_TRY(lbq_tstats_init(&stm, sh));
        LBQ_TRY(lbq_tstats_init(&stv, sh));
        have_st = 1;
        if (slab < N) {         /* pass 1 over the file: tensor-wide statistics (of those states) */
            for (int64_t off = 0; off < N; off += slab) {
                int64_t n = (N - off < slab) ? N - off : slab;
                if (st_of[0]) { LBQ_TRY(lbq_file_read(f, p, LBQ_DS_M, 0, off, n, m)); lbq_tstats_add(&stm, off, n, m); }
                if (st_of[1]) { LBQ_TRY(lbq_file_read(f, p, LBQ_DS_V, 0, off, n, v)); lbq_tstats_add(&stv, off, n, v); }
            }
        }
    }
    for (int64_t off = 0; off < N; off += slab) {
        int64_t n = (N - off < slab) ? N - off : slab;
        LBQ_TRY(eval_cancelled(opts));
        LBQ_TRY(lbq_file_read(f, p, LBQ_DS_M, 0, off, n, m));
        LBQ_TRY(lbq_file_read(f, p, LBQ_DS_V, 0, off, n, v));
        if (have_st && slab >= N) {
            if (st_of[0]) lbq_tstats_add(&stm, off, n, m);
            if (st_of[1]) lbq_tstats_add(&stv, off, n, v);
        }
        if (opts && opts->slab_cb) opts->slab_cb(opts->cb_ud, p, off, n, m, v);
        if (ss) {       /* --sample: the drawn cells of the slab only (and the value sums of all of it) */
            if (exact_x) LBQ_TRY(lbq_eval_base_chunks(&ucfg, n, chunk, m, v, ue, okm, chunk_acc, base_total));
            LBQ_TRY(sampled_slab(&sx, off, n));
            continue;
        }
        int64_t nch = (n + chunk - 1) / chunk;
        const struct lbq_backend *dev = lbq_backend_get(opts ? opts->device : 0);
        const int cpu = dev == lbq_backend_get(0);
        if (fast) {                     /* the raw-state part, once per chunk */
            LBQ_TRY(lbq_eval_base_chunks(&ucfg, n, chunk, m, v, ue, okm, chunk_acc, base_total));
        }
        /* configurations in windows of cw: the (configuration, chunk) items of a window run in one
         * parallel loop (no barrier per configuration), each into its own accumulator, merged in
         * chunk order: the result does not depend on the thread count or on the window */
        for (int c0 = 0; c0 < nconf; c0 += cwin) {
            int cw = (nconf - c0 < cwin) ? nconf - c0 : cwin;
            int64_t items = (int64_t)cw * nch;
            LBQ_TRY(eval_cancelled(opts));
            struct lbq_errslot err = LBQ_ERRSLOT_INIT;     /* the first worker's error, with its message */
            #pragma omp parallel
            {
                float *buf = malloc(sizeof(float) * (size_t)chunk * 3);
                #pragma omp for schedule(dynamic, 1)
                for (int64_t it = 0; it < items; it++) {
                    /* chunk-major: the configurations of one chunk run one after another (and on
                     * both threads at once), so its m, v, u and mask are read from the caches
                     * rather than from memory once per configuration; each item still has its
                     * own accumulator, merged below in the same order */
                    int c = c0 + (int)(it % cw);
                    int64_t k = it / cw;
                    int64_t o = k * chunk, cn = (n - o < chunk) ? n - o : chunk;
                    struct lbq_acc *acc = &chunk_acc[(int64_t)(c - c0) * nch + k];
                    lbq_acc_zero(acc);
                    if (opts && opts->cancel && *opts->cancel) continue;      /* checked after the loop */
                    if (!buf) { lbq_errslot_put(&err, lbq_err(LBQ_ERR_NOMEM, "out of memory")); continue; }
                    float *mh = buf, *vh = buf + chunk, *scr = buf + 2 * chunk;
                    /* a state kept in fp32 is its own x^ (no copy; lbq_acc_quant then adds only its bin 0) */
                    const float *mhp = pl[c].has[0] ? mh : m + o, *vhp = pl[c].has[1] ? vh : v + o;
                    /* the log map's edge counts (SOLO's edge cases): on the CPU with block absmax
                     * scales from the quantizer's own pass, else by a second pass */
                    const int fm = pl[c].has[0] && cpu && lbq_log_count_fusable(&pl[c].q[0]);
                    const int fv = pl[c].has[1] && cpu && lbq_log_count_fusable(&pl[c].q[1]);
                    int e1 = !pl[c].has[0] ? LBQ_OK : fm ? lbq_log_qdq_count(&pl[c].q[0], &stm, off + o, cn, m + o, mh, scr, acc->m.solo)
                                                    : qdq_state(&pl[c].q[0], &stm, off + o, cn, m + o, mh, scr, dev);
                    int e2 = !pl[c].has[1] ? LBQ_OK : fv ? lbq_log_qdq_count(&pl[c].q[1], &stv, off + o, cn, v + o, vh, scr, acc->v.solo)
                                                    : qdq_state(&pl[c].q[1], &stv, off + o, cn, v + o, vh, scr, dev);
                    if (e1 || e2) { lbq_errslot_put(&err, e1 ? e1 : e2); continue; }
                    if (pl[c].has[0] && !fm) lbq_log_edge_count(&pl[c].q[0], cn, m + o, acc->m.solo);   /* log map only */
                    if (pl[c].has[1] && !fv) lbq_log_edge_count(&pl[c].q[1], cn, v + o, acc->v.solo);
                    if (fast) lbq_acc_quant(acc, &ucfg, cn, m + o, mhp, v + o, vhp, ue + o, okm + o);
                    /* outlier blocks depend on the raw states only: counted once (config 0), copied below */
                    else lbq_acc_add2(acc, &ucfg, cn, m + o, mhp, v + o, vhp, c == 0);
                }
                free(buf);
            }
            if (err.rc) { rc = lbq_errslot_raise(&err); goto cleanup; }
            LBQ_TRY(eval_cancelled(opts));          /* items may have been skipped */
            for (int c = c0; c < c0 + cw; c++) {
                for (int64_t k = 0; k < nch; k++) lbq_acc_merge(&out[c].acc, &chunk_acc[(int64_t)(c - c0) * nch + k]);
                if (c > 0 && !fast) {
                    out[c].acc.m.blocks = out[0].acc.m.blocks; out[c].acc.m.outlier_blocks = out[0].acc.m.outlier_blocks;
                    out[c].acc.v.blocks = out[0].acc.v.blocks; out[c].acc.v.outlier_blocks = out[0].acc.v.outlier_blocks;
                }
            }
        }
    }
    /* the raw-state part is the same for every configuration (its fields are disjoint from the rest) */
    if (fast) for (int c = 0; c < nconf; c++) lbq_acc_merge(&out[c].acc, base_total);
    if (ss) {       /* --sample: the raw-state part and the outlier counts per slot, then the weights */
        for (int c = 0; c < nconf; c++) {
            struct lbq_sample_acc *sa = &sout[c];
            for (int g = 0; g <= LBQ_SAMPLE_GROUPS; g++) {
                if (fast) lbq_acc_merge(&sa->g[g], &base_slot[g]);
                else if (c > 0) {
                    const struct lbq_acc *a0 = &sout[0].g[g];
                    sa->g[g].m.blocks = a0->m.blocks; sa->g[g].m.outlier_blocks = a0->m.outlier_blocks;
                    sa->g[g].v.blocks = a0->v.blocks; sa->g[g].v.outlier_blocks = a0->v.outlier_blocks;
                }
            }
        }
        int64_t sd[LBQ_SAMPLE_GROUPS + 1] = { 0 };     /* elements drawn into each slot */
        for (int64_t u = 0; u < sel.nunits; u++)
            if (sel.unit_in[u]) sd[sel.cell_slot[u * unit / cell]] += (u + 1) * unit <= N ? unit : N - u * unit;
        for (int c = nconf - 1; c >= 0; c--) {     /* config 0 last: the others copied its unweighted counts */
            struct lbq_sample_acc *sa = &sout[c];
            for (int g = 0; g < LBQ_SAMPLE_GROUPS && sel.nsel < sel.nunits; g++) {     /* Horvitz-Thompson weights */
                if (!sd[g]) continue;       /* an empty group stays 0 */
                *tmp_acc = sa->g[g];
                lbq_acc_zero(&sa->g[g]);
                lbq_acc_axpy(&sa->g[g], tmp_acc, sel.weight);
            }
            sa->drawn = sel.drawn; sa->numel = N;
            memcpy(sa->slot_drawn, sd, sizeof sd);
            if (exact_x)
                lbq_sample_acc_exact_x(sa, (pl[c].has[0] && pl[c].q[0].norm->global_stats) | (pl[c].has[1] && pl[c].q[1].norm->global_stats) << 1,
                                       base_total, N);
            lbq_sample_acc_total(sa, &out[c].acc);
        }
    }
cleanup:
    if (ss) { free(sx.cacc); free(sx.dc); }
    lbq_sample_sel_free(&sel);
    free(base_slot); free(tmp_acc);
    if (have_st) { lbq_tstats_free(&stm); lbq_tstats_free(&stv); }
    lbq_big_free(m, slab_f); lbq_big_free(v, slab_f); lbq_big_free(ue, slab_d); lbq_big_free(okm, slab_b);
    free(base_total); free(chunk_acc); free(pl);
    return rc;
}

int lbq_eval_param(struct lbq_file *f, int p, const struct lbq_config *conf, int nconf,
                   const struct lbq_eval_opts *opts, struct lbq_param_eval *out)
{
    return eval_param(f, p, conf, nconf, opts, NULL, NULL, out);
}

int lbq_eval_param_sampled(struct lbq_file *f, int p, const struct lbq_config *conf, int nconf,
                           const struct lbq_eval_opts *opts, const struct lbq_sample_opts *smp,
                           struct lbq_sample_acc *sout, struct lbq_param_eval *out)
{
    if (!smp || !sout) return lbq_err(LBQ_ERR_ARG, "lbq_eval_param_sampled: no sample options or output");
    return eval_param(f, p, conf, nconf, opts, smp, sout, out);
}
