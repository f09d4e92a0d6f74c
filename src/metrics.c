/* metrics.c - metric accumulators (docs/metrics.md) and the evaluation engine: a parameter's m and
 * v are read once in slabs; every configuration is evaluated on each slab, chunk by chunk. */
#include "lbq-impl.h"
#include "lbq-metrics.h"
#include "cuda/lbq-cuda.h"
#include "lbq-errslot.h"
#include "lbq-evaldev.h"

#ifdef _OPENMP
#include <omp.h>
#endif

void lbq_acc_zero(struct lbq_acc *a) { memset(a, 0, sizeof *a); }


double lbq_h_bin_center(int i) { return LBQ_H_LO + (i + 0.5) * (LBQ_H_HI - LBQ_H_LO) / LBQ_H_NBINS; }

static void state_add(struct lbq_state_acc *s, const float *x, const float *xh, int64_t n, const unsigned char *ok)
{
    for (int64_t i = 0; i < n; i++) {
        if (!ok[i]) continue;
        double a = x[i], b = xh[i], e = fabs(b - a);
        s->n++;
        s->sum_sq_err += e * e; s->sum_sq += a * a;
        s->sum_abs_err += e; s->sum_abs += fabs(a);
        if (e > s->max_abs_err) s->max_abs_err = e;
        if (a == 0.0) { s->zero_in++; if (b != 0.0) s->zero_in_moved++; s->rel_hist[b == 0.0 ? 0 : LBQ_REL_NBINS - 1]++; }
        else { float r = (float)e / (float)fabs(a); s->rel_hist[lbq_rel_bin(r, lbq_log2f_or0(r))]++; }
        if (a > 0.0) { s->pos++; if (b == 0.0) s->pos_to_zero++; }
    }
}

/* blocks of the raw state whose max |x| exceeds k times their median |x| */
static void outlier_blocks(struct lbq_state_acc *s, const float *x, int64_t n, int64_t B, double k, float *tmp)
{
    for (int64_t b0 = 0; b0 < n; b0 += B) {
        int64_t bn = (n - b0 < B) ? n - b0 : B, m = 0;
        float mx = 0.0f;
        for (int64_t i = 0; i < bn; i++) {
            float a = lbq_absf(x[b0 + i]);
            if (!lbq_isfinite(a)) continue;
            tmp[m++] = a;
            if (a > mx) mx = a;
        }
        if (m == 0) continue;
        s->blocks++;
        float med = lbq_quantile(tmp, m, 0.5);
        if ((double)mx > k * (double)med) s->outlier_blocks++;
    }
}

void lbq_acc_add(struct lbq_acc *a, const struct lbq_update_cfg *cfg, int64_t n,
                 const float *m, const float *mh, const float *v, const float *vh)
{
    lbq_acc_add2(a, cfg, n, m, mh, v, vh, 1);
}

void lbq_acc_add2(struct lbq_acc *a, const struct lbq_update_cfg *cfg, int64_t n,
                  const float *m, const float *mh, const float *v, const float *vh, int outliers)
{
    unsigned char *ok = calloc((size_t)n + 1, 1);
    float *tmp = malloc(sizeof(float) * (size_t)(cfg->outlier_block < n ? cfg->outlier_block : n) + sizeof(float));
    if (!ok || !tmp) { free(ok); free(tmp); return; }    /* callers size chunks small; see eval */
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        ok[i] = lbq_isfinite(m[i]) && lbq_isfinite(v[i]);
        bad += !ok[i];
    }
    a->m.nonfinite += bad; a->v.nonfinite += bad;
    state_add(&a->m, m, mh, n, ok);
    state_add(&a->v, v, vh, n, ok);
    if (outliers) {
        outlier_blocks(&a->m, m, n, cfg->outlier_block, cfg->outlier_k, tmp);
        outlier_blocks(&a->v, v, n, cfg->outlier_block, cfg->outlier_k, tmp);
    }
    struct lbq_update_acc *u = &a->u;
    for (int64_t i = 0; i < n; i++) {
        if (!ok[i]) continue;
        double vv = v[i] > 0.0f ? v[i] : 0.0, vq = vh[i] > 0.0f ? vh[i] : 0.0;
        /* eps = 0 and v = 0: the update is 0/0; such elements carry no defined update and are
         * left out of the update metrics (they still count in the state metrics) */
        if (!(sqrt(vv / cfg->bc2) + cfg->eps > 0.0) || !(sqrt(vq / cfg->bc2) + cfg->eps > 0.0)) continue;
        double se = sqrt(vv), sq = sqrt(vq), k = lbq_update_k(cfg);
        double ue = lbq_update_elem((double)m[i], vv, se, k, cfg);
        double uq = lbq_update_elem((double)mh[i], vq, sq, k, cfg);
        double d = uq - ue, ae = fabs(ue), aq = fabs(uq);
        u->n++;
        u->sum_sq_u += ue * ue; u->sum_sq_uh += uq * uq; u->sum_dot += ue * uq; u->sum_sq_diff += d * d;
        if (aq > 10.0 * ae) u->blowup++;
        if (aq < 0.1 * ae) u->shrink++;
        u->sum_abs_u += ae; u->sum_abs_uh += aq;
        if (v[i] > 0.0f && vh[i] == 0.0f) { u->collapsed_abs_u += ae; u->collapsed_abs_uh += aq; }
        float ye = (float)(se + cfg->eps), yq = (float)(sq + cfg->eps);
        u->h_exact[lbq_h_bin(ye, lbq_log2f_or0(ye))]++;
        u->h_quant[lbq_h_bin(yq, lbq_log2f_or0(yq))]++;
    }
    free(ok); free(tmp);
}

static void state_merge(struct lbq_state_acc *a, const struct lbq_state_acc *b)
{
    a->n += b->n; a->nonfinite += b->nonfinite;
    a->sum_sq_err += b->sum_sq_err; a->sum_sq += b->sum_sq;
    a->sum_abs_err += b->sum_abs_err; a->sum_abs += b->sum_abs;
    if (b->max_abs_err > a->max_abs_err) a->max_abs_err = b->max_abs_err;
    a->zero_in += b->zero_in; a->zero_in_moved += b->zero_in_moved;
    a->pos += b->pos; a->pos_to_zero += b->pos_to_zero;
    for (int i = 0; i < LBQ_REL_NBINS; i++) a->rel_hist[i] += b->rel_hist[i];
    a->blocks += b->blocks; a->outlier_blocks += b->outlier_blocks;
    for (int i = 0; i < 4; i++) a->solo[i] += b->solo[i];
}

void lbq_acc_merge(struct lbq_acc *a, const struct lbq_acc *b)
{
    state_merge(&a->m, &b->m);
    state_merge(&a->v, &b->v);
    struct lbq_update_acc *u = &a->u;
    const struct lbq_update_acc *w = &b->u;
    u->n += w->n;
    u->sum_sq_u += w->sum_sq_u; u->sum_sq_uh += w->sum_sq_uh; u->sum_dot += w->sum_dot; u->sum_sq_diff += w->sum_sq_diff;
    u->blowup += w->blowup; u->shrink += w->shrink;
    u->sum_abs_u += w->sum_abs_u; u->sum_abs_uh += w->sum_abs_uh;
    u->collapsed_abs_u += w->collapsed_abs_u; u->collapsed_abs_uh += w->collapsed_abs_uh;
    for (int i = 0; i < LBQ_H_NBINS; i++) { u->h_exact[i] += w->h_exact[i]; u->h_quant[i] += w->h_quant[i]; }
}

double lbq_hist_quantile(const int64_t *hist, double q)
{
    int64_t tot = 0;
    for (int i = 0; i < LBQ_REL_NBINS; i++) tot += hist[i];
    if (tot == 0) return NAN;
    double target = q * (double)tot, cum = 0.0;
    for (int i = 0; i < LBQ_REL_NBINS; i++) {
        if (hist[i] == 0) continue;
        if (cum + (double)hist[i] >= target) {
            if (i == 0) return 0.0;                  /* below 1e-12: reported as 0 */
            if (i == LBQ_REL_NBINS - 1) return INFINITY;
            double f = (target - cum) / (double)hist[i];
            double lo = LBQ_REL_LO + (double)(i - 1) / LBQ_REL_PER_DEC;
            return pow(10.0, lo + f / LBQ_REL_PER_DEC);   /* geometric interpolation in the bin */
        }
        cum += (double)hist[i];
    }
    return INFINITY;
}

static double ratio(double a, double b) { return b > 0.0 ? a / b : (a > 0.0 ? INFINITY : 0.0); }

void lbq_state_result(const struct lbq_state_acc *s, struct lbq_state_res *r)
{
    r->n = s->n; r->nonfinite = s->nonfinite;
    r->rel_l2 = s->sum_sq > 0.0 ? sqrt(s->sum_sq_err / s->sum_sq) : (s->sum_sq_err > 0.0 ? INFINITY : 0.0);
    r->max_abs_err = s->max_abs_err;
    r->rel_mean_abs_err = ratio(s->sum_abs_err, s->sum_abs);
    r->q50 = lbq_hist_quantile(s->rel_hist, 0.5);
    r->q90 = lbq_hist_quantile(s->rel_hist, 0.9);
    r->q99 = lbq_hist_quantile(s->rel_hist, 0.99);
    r->q999 = lbq_hist_quantile(s->rel_hist, 0.999);
    r->zero_collapse = s->pos ? (double)s->pos_to_zero / (double)s->pos : 0.0;
    r->outlier_block_frac = s->blocks ? (double)s->outlier_blocks / (double)s->blocks : 0.0;
}

void lbq_update_result(const struct lbq_update_acc *u, struct lbq_update_res *r)
{
    r->rel_l2 = u->sum_sq_u > 0.0 ? sqrt(u->sum_sq_diff / u->sum_sq_u) : (u->sum_sq_diff > 0.0 ? INFINITY : 0.0);
    double den = sqrt(u->sum_sq_u) * sqrt(u->sum_sq_uh);
    r->cosine = den > 0.0 ? u->sum_dot / den : (u->sum_sq_u == 0.0 && u->sum_sq_uh == 0.0 ? 1.0 : 0.0);
    r->blowup_frac = u->n ? (double)u->blowup / (double)u->n : 0.0;
    r->shrink_frac = u->n ? (double)u->shrink / (double)u->n : 0.0;
    r->collapse_share = u->sum_abs_u > 0.0 ? u->collapsed_abs_u / u->sum_abs_u : 0.0;
    r->collapse_share_quant = u->sum_abs_uh > 0.0 ? u->collapsed_abs_uh / u->sum_abs_uh : 0.0;
}

void lbq_update_cfg_from_file(const struct lbq_file *f, struct lbq_update_cfg *cfg)
{
    const struct lbq_hparams *hp = lbq_file_hparams(f);
    cfg->bc1 = 1.0; cfg->bc2 = 1.0;
    if (hp->has_step && hp->step > 0) {
        cfg->bc1 = 1.0 - pow(hp->beta1, (double)hp->step);
        cfg->bc2 = 1.0 - pow(hp->beta2, (double)hp->step);
        if (!(cfg->bc1 > 0.0)) cfg->bc1 = 1.0;
        if (!(cfg->bc2 > 0.0)) cfg->bc2 = 1.0;
    }
    cfg->eps = hp->eps;
    cfg->outlier_block = 128;
    cfg->outlier_k = 10.0;
}

/* ---- engine ---------------------------------------------------------------------------------- */
static int64_t gcd64(int64_t a, int64_t b) { while (b) { int64_t t = a % b; a = b; b = t; } return a; }
static int64_t lcm64(int64_t a, int64_t b) { return a / gcd64(a, b) * b; }

struct conf_plans {
    struct lbq_qplan m, v;
    int has_m, has_v;
};

/* quantize-dequantize one chunk for one state; plan NULL = fp32 (copy) */
static int qdq_state(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t off, int64_t n,
                     const float *x, float *xh, float *scratch, int device)
{
    if (!p) { memcpy(xh, x, sizeof(float) * (size_t)n); return LBQ_OK; }
    if (device == 1) return lbq_cuda_qdq(p, st, off, n, x, xh, NULL);
    return lbq_qdq(p, st, off, n, x, xh, NULL, NULL, NULL, scratch);
}

int lbq_eval_param(struct lbq_file *f, int p, const struct lbq_config *conf, int nconf,
                   const struct lbq_eval_opts *opts, struct lbq_param_eval *out)
{
    if (opts && (opts->device == 1 || opts->device == 2)) {     /* device-resident engine: src/eval-dev.c */
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
    double *ue = NULL;                  /* fast path: the exact update of the slab */
    uint8_t *okm = NULL;                /* fast path: m and v finite */
    struct lbq_acc *chunk_acc = NULL, *base_total = NULL;
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
    for (int c = 0; c < nconf; c++) {
        struct lbq_param_eval *o = &out[c];
        memset(o, 0, sizeof *o);
        int keep = !conf[c].quantize_all && lbq_recipe_keeps_fp32(conf[c].recipe, N);
        o->kept_fp32 = keep;
        pl[c].has_m = conf[c].has_m && !keep;
        pl[c].has_v = conf[c].has_v && !keep;
        if (pl[c].has_m) LBQ_TRY(lbq_qplan_init(&pl[c].m, &conf[c].m, LBQ_ROLE_M, sh->rank));
        if (pl[c].has_v) LBQ_TRY(lbq_qplan_init(&pl[c].v, &conf[c].v, LBQ_ROLE_V, sh->rank));
        if (pl[c].has_m) lbq_qplan_fit(&pl[c].m, N);            /* SOLO's per-tensor block */
        if (pl[c].has_v) lbq_qplan_fit(&pl[c].v, N);
        for (int s = 0; s < 2; s++) {
            const struct lbq_qplan *q = s ? &pl[c].v : &pl[c].m;
            int has = s ? pl[c].has_v : pl[c].has_m;
            char *txt = s ? o->v_plan : o->m_plan;
            struct lbq_qsize *sz = s ? &o->v_size : &o->m_size;
            if (!has) {
                snprintf(txt, 128, "fp32");
                sz->code_bits = 32 * N; sz->bits_per_elem = 32.0;
                continue;
            }
            lbq_qspec_format(&q->spec, txt, 128);
            if (q->norm != q->spec.norm || (q->norm->blockwise && q->block != q->spec.block)) {
                /* show the fallback or the fitted block actually used */
                struct lbq_qspec eff = q->spec;
                eff.norm = q->norm; eff.block = q->block;
                lbq_qspec_format(&eff, txt, 128);
            }
            lbq_qplan_size(q, sh, sz);
            if (q->norm->global_stats) need_st = 1;
            if (q->norm->blockwise) {
                unit = lcm64(unit, q->block);
                if (unit > ((int64_t)1 << 24)) { rc = lbq_err(LBQ_ERR_ARG, "block sizes of one sweep must have a common multiple <= 2^24"); goto cleanup; }
            }
        }
    }
    /* slab size: whole rows, a multiple of the chunk unit where that fits the memory budget */
    int64_t budget = (opts && opts->mem_limit > 0) ? opts->mem_limit : ((int64_t)1 << 30);
    int64_t chunk = unit;
    while (chunk < 65536) chunk *= 2;
    int64_t re = lbq_shape_row_elems(sh);
    int64_t align = lcm64(chunk, re);
    int64_t per_elem = fast ? 17 : 8;   /* m and v slabs (+ ue and ok) */
    /* the budget: 3/4 for the slabs, 1/8 for the HDF5 chunk caches of m and v, 1/8 (below) for
     * the chunk accumulators */
    lbq_file_set_chunk_cache(f, budget / 16);
    int64_t slab = (budget - budget / 4) / per_elem;
    if (align * per_elem <= budget) slab = (slab / align) * align; else slab = (slab / chunk) * chunk;
    if (slab < chunk) slab = chunk;
    if (slab > N) slab = N;
    int64_t nchunk_max = (slab + chunk - 1) / chunk;
    m = malloc(sizeof(float) * (size_t)slab);
    v = malloc(sizeof(float) * (size_t)slab);
    /* configurations evaluated together: their chunk accumulators within 1/8 of the budget */
    int64_t cwin64 = (budget / 8) / ((int64_t)sizeof(struct lbq_acc) * nchunk_max);
    int cwin = (int)(cwin64 < 1 ? 1 : (cwin64 > nconf ? nconf : cwin64));
    chunk_acc = malloc(sizeof *chunk_acc * (size_t)nchunk_max * (size_t)(cwin > 1 ? cwin : 1));
    if (fast) {
        ue = malloc(sizeof(double) * (size_t)slab);
        okm = malloc((size_t)slab);
        base_total = calloc(1, sizeof *base_total);
    }
    if (!m || !v || !chunk_acc || (fast && (!ue || !okm || !base_total))) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory (slab of %lld elements; lower --mem-limit?)", (long long)slab); goto cleanup; }
    if (need_st) {
        LBQ_TRY(lbq_tstats_init(&stm, sh));
        LBQ_TRY(lbq_tstats_init(&stv, sh));
        have_st = 1;
        if (slab < N) {         /* pass 1 over the file: tensor-wide statistics */
            for (int64_t off = 0; off < N; off += slab) {
                int64_t n = (N - off < slab) ? N - off : slab;
                LBQ_TRY(lbq_file_read(f, p, LBQ_DS_M, 0, off, n, m));
                LBQ_TRY(lbq_file_read(f, p, LBQ_DS_V, 0, off, n, v));
                lbq_tstats_add(&stm, off, n, m);
                lbq_tstats_add(&stv, off, n, v);
            }
        }
    }
    for (int64_t off = 0; off < N; off += slab) {
        int64_t n = (N - off < slab) ? N - off : slab;
        LBQ_TRY(lbq_file_read(f, p, LBQ_DS_M, 0, off, n, m));
        LBQ_TRY(lbq_file_read(f, p, LBQ_DS_V, 0, off, n, v));
        if (have_st && slab >= N) { lbq_tstats_add(&stm, off, n, m); lbq_tstats_add(&stv, off, n, v); }
        if (opts && opts->slab_cb) opts->slab_cb(opts->cb_ud, p, off, n, m, v);
        int64_t nch = (n + chunk - 1) / chunk;
        const int dev = opts ? opts->device : 0;
        if (fast) {                     /* the raw-state part, once per chunk */
            struct lbq_errslot err = LBQ_ERRSLOT_INIT;
            #pragma omp parallel
            {
                float *tmp = malloc(sizeof(float) * (size_t)ucfg.outlier_block + sizeof(float));
                #pragma omp for schedule(dynamic, 1)
                for (int64_t k = 0; k < nch; k++) {
                    int64_t o = k * chunk, cn = (n - o < chunk) ? n - o : chunk;
                    lbq_acc_zero(&chunk_acc[k]);
                    if (!tmp) { lbq_errslot_put(&err, lbq_err(LBQ_ERR_NOMEM, "out of memory")); continue; }
                    lbq_acc_base(&chunk_acc[k], &ucfg, cn, m + o, v + o, ue + o, okm + o, tmp);
                }
                free(tmp);
            }
            if (err.rc) { rc = lbq_errslot_raise(&err); goto cleanup; }
            for (int64_t k = 0; k < nch; k++) lbq_acc_merge(base_total, &chunk_acc[k]);
        }
        /* configurations in windows of cw: the (configuration, chunk) items of a window run in one
         * parallel loop (no barrier per configuration), each into its own accumulator, merged in
         * chunk order: the result does not depend on the thread count or on the window */
        for (int c0 = 0; c0 < nconf; c0 += cwin) {
            int cw = (nconf - c0 < cwin) ? nconf - c0 : cwin;
            int64_t items = (int64_t)cw * nch;
            struct lbq_errslot err = LBQ_ERRSLOT_INIT;     /* the first worker's error, with its message */
            #pragma omp parallel
            {
                float *buf = malloc(sizeof(float) * (size_t)chunk * 3);
                #pragma omp for schedule(dynamic, 1)
                for (int64_t it = 0; it < items; it++) {
                    int c = c0 + (int)(it / nch);
                    int64_t k = it % nch;
                    int64_t o = k * chunk, cn = (n - o < chunk) ? n - o : chunk;
                    struct lbq_acc *acc = &chunk_acc[it];
                    lbq_acc_zero(acc);
                    if (!buf) { lbq_errslot_put(&err, lbq_err(LBQ_ERR_NOMEM, "out of memory")); continue; }
                    float *mh = buf, *vh = buf + chunk, *scr = buf + 2 * chunk;
                    int e1 = qdq_state(pl[c].has_m ? &pl[c].m : NULL, &stm, off + o, cn, m + o, mh, scr, dev);
                    int e2 = qdq_state(pl[c].has_v ? &pl[c].v : NULL, &stv, off + o, cn, v + o, vh, scr, dev);
                    if (e1 || e2) { lbq_errslot_put(&err, e1 ? e1 : e2); continue; }
                    if (pl[c].has_m) lbq_log_edge_count(&pl[c].m, cn, m + o, acc->m.solo);   /* log map only */
                    if (pl[c].has_v) lbq_log_edge_count(&pl[c].v, cn, v + o, acc->v.solo);
                    if (fast) lbq_acc_quant(acc, &ucfg, cn, m + o, mh, v + o, vh, ue + o, okm + o);
                    /* outlier blocks depend on the raw states only: counted once (config 0), copied below */
                    else lbq_acc_add2(acc, &ucfg, cn, m + o, mh, v + o, vh, c == 0);
                }
                free(buf);
            }
            if (err.rc) { rc = lbq_errslot_raise(&err); goto cleanup; }
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
cleanup:
    if (have_st) { lbq_tstats_free(&stm); lbq_tstats_free(&stv); }
    free(m); free(v); free(ue); free(okm); free(base_total); free(chunk_acc); free(pl);
    return rc;
}
