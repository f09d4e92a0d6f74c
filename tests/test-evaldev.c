/* test-evaldev.c - the device-resident engine (src/eval-dev.c, src/cuda/engine.cu) against the CPU
 * engine (src/accum.c, src/metrics.c), through its CPU twin (same header accum-core.h, gcc):
 *
 * 1. lbq_accq_twin_add (the GPU kernel's work split and order on the CPU) against lbq_acc_base +
 *    lbq_acc_quant per 64K chunk (AVX2 and portable): counts, histograms and maxima equal, sums
 *    within 1e-12 relative (docs/cuda.md);
 * 2. lbq_eval_param with device 2 (the engine's driver with the twin backend: slabs, statistics
 *    pass, raw-state part, recipes, fp32 states) against device 0 on a written file, several slabs,
 *    several configurations: every count and histogram equal, the raw-state part bit for bit, sums
 *    within tolerance; run twice: bit-identical;
 * 3. eps = 0 files: the engine declines and the CPU path's result is returned unchanged;
 * 4. with a CUDA device: device 1 (GPU) against device 2 (twin), every field bit for bit, and
 *    lbq_devq_selfcheck; without one, device 1 fails with "no CUDA device (...)". */
#include "lbq.h"
#include "lbq-impl.h"
#include "lbq-metrics.h"
#include "lbq-evaldev.h"
#include "cuda/lbq-cuda.h"
#include "lbq-test.h"

#include <unistd.h>

static double g_worst;      /* largest relative sum difference seen */

static void near_sum(const char *what, double a, double b, double scale)
{
    double d = fabs(a - b), tol = 1e-12 * (scale > 0 ? scale : 0) + 1e-300;
    double rel = scale > 0 ? d / scale : d;
    if (rel > g_worst) g_worst = rel;
    CHECK_MSG(d <= tol, "%s: %.17g vs %.17g (rel %.3g)", what, a, b, rel);
}

/* every field of two accumulators: integers exactly, sums within tolerance (exact when `exact`) */
static void compare_acc(const char *tag, const struct lbq_acc *a, const struct lbq_acc *b, int exact)
{
    if (exact) {
        CHECK_MSG(memcmp(a, b, sizeof *a) == 0, "%s: accumulators differ (expected bit for bit)", tag);
        return;
    }
    const struct lbq_state_acc *S[2][2] = { { &a->m, &b->m }, { &a->v, &b->v } };
    char w[160];
    for (int s = 0; s < 2; s++) {
        const struct lbq_state_acc *x = S[s][0], *y = S[s][1];
        CHECK_EQ_INT(x->n, y->n); CHECK_EQ_INT(x->nonfinite, y->nonfinite);
        CHECK_EQ_INT(x->zero_in, y->zero_in); CHECK_EQ_INT(x->zero_in_moved, y->zero_in_moved);
        CHECK_EQ_INT(x->pos, y->pos); CHECK_EQ_INT(x->pos_to_zero, y->pos_to_zero);
        CHECK_EQ_INT(x->nonzero_to_zero, y->nonzero_to_zero);      /* structural-zero split */
        snprintf(w, sizeof w, "%s: state %d lifted_abs_uh", tag, s);
        near_sum(w, x->lifted_abs_uh, y->lifted_abs_uh, fabs(a->u.sum_abs_uh));
        snprintf(w, sizeof w, "%s: state %d lifted_sq_du", tag, s);
        near_sum(w, x->lifted_sq_du, y->lifted_sq_du, fabs(a->u.sum_sq_diff));
        CHECK_EQ_INT(x->blocks, y->blocks); CHECK_EQ_INT(x->outlier_blocks, y->outlier_blocks);
        CHECK_MSG(memcmp(x->rel_hist, y->rel_hist, sizeof x->rel_hist) == 0, "%s: state %d: rel_hist differs", tag, s);
        CHECK_MSG(x->sum_sq == y->sum_sq && x->sum_abs == y->sum_abs, "%s: state %d: raw-state sums differ", tag, s);
        CHECK_MSG(x->max_abs_err == y->max_abs_err, "%s: state %d: max_abs_err %.17g vs %.17g", tag, s, x->max_abs_err, y->max_abs_err);
        snprintf(w, sizeof w, "%s: state %d sum_sq_err", tag, s);
        near_sum(w, x->sum_sq_err, y->sum_sq_err, fabs(y->sum_sq_err));
        snprintf(w, sizeof w, "%s: state %d sum_abs_err", tag, s);
        near_sum(w, x->sum_abs_err, y->sum_abs_err, fabs(y->sum_abs_err));
    }
    const struct lbq_update_acc *u = &a->u, *v = &b->u;
    CHECK_EQ_INT(u->n, v->n); CHECK_EQ_INT(u->blowup, v->blowup); CHECK_EQ_INT(u->shrink, v->shrink);
    CHECK_MSG(memcmp(u->h_exact, v->h_exact, sizeof u->h_exact) == 0, "%s: h_exact differs", tag);
    CHECK_MSG(memcmp(u->h_quant, v->h_quant, sizeof u->h_quant) == 0, "%s: h_quant differs", tag);
    CHECK_MSG(u->sum_sq_u == v->sum_sq_u && u->sum_abs_u == v->sum_abs_u, "%s: exact-update sums differ", tag);
    snprintf(w, sizeof w, "%s: sum_sq_uh", tag);   near_sum(w, u->sum_sq_uh, v->sum_sq_uh, fabs(v->sum_sq_uh));
    snprintf(w, sizeof w, "%s: sum_dot", tag);     near_sum(w, u->sum_dot, v->sum_dot, sqrt(v->sum_sq_u) * sqrt(v->sum_sq_uh));
    snprintf(w, sizeof w, "%s: sum_sq_diff", tag); near_sum(w, u->sum_sq_diff, v->sum_sq_diff, fabs(v->sum_sq_diff));
    snprintf(w, sizeof w, "%s: sum_abs_uh", tag);  near_sum(w, u->sum_abs_uh, v->sum_abs_uh, fabs(v->sum_abs_uh));
    snprintf(w, sizeof w, "%s: collapsed_abs_u", tag);  near_sum(w, u->collapsed_abs_u, v->collapsed_abs_u, fabs(v->collapsed_abs_u));
    snprintf(w, sizeof w, "%s: collapsed_abs_uh", tag); near_sum(w, u->collapsed_abs_uh, v->collapsed_abs_uh, fabs(v->collapsed_abs_uh));
}

static void gen(float *m, float *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double s = exp(-5.0 * t_uniform());
        float x = (float)(t_normal() * 1e-3 * s);
        if (i % 89 == 3) x = 0.0f;
        if (i % 1009 == 5) x = 3e-41f;
        m[i] = x;
        v[i] = (float)((double)x * x * (0.5 + t_uniform()));
        if (i % 97 == 9) v[i] = 0.0f;
        if (i % 4099 == 11) m[i] = NAN;
        if (i % 5003 == 13) v[i] = INFINITY;
        if (i % 7919 == 17) m[i] = 0.5f;            /* outliers */
    }
}

/* 1. the twin's kernel against src/accum.c */
static void test_twin_kernel(void)
{
    const int64_t n = 300001;                       /* > 512*256: threads take several elements */
    const struct lbq_shape sh = { 1, { n }, n };
    float *m = malloc(sizeof(float) * n), *v = malloc(sizeof(float) * n), *mh = malloc(sizeof(float) * n),
          *vh = malloc(sizeof(float) * n), *scr = malloc(sizeof(float) * n), *tmp = malloc(sizeof(float) * 129);
    double *ue = malloc(sizeof(double) * n);
    uint8_t *ok = malloc(n);
    gen(m, v, n);
    struct lbq_tstats stm, stv;
    CHECK_OK(lbq_tstats_init(&stm, &sh)); CHECK_OK(lbq_tstats_init(&stv, &sh));
    lbq_tstats_add(&stm, 0, n, m); lbq_tstats_add(&stv, 0, n, v);
    int nlift = 0, ncoll = 0;
    const char *specs[][2] = { { "block128-dtree:b4", "block128-linear:b4" }, { "tensor-linear:b2", "block64-log:b2" },
                               { "block2048-dtree:b8:sr", "block128-fp8e4m3:dre" } };
    struct lbq_update_cfg cfgs[2] = { { 0.1, 0.001, 1e-8, 128, 10.0 }, { 1.0, 1.0, 1e-300, 128, 10.0 } };  /* k finite; k = inf */
    for (int ci = 0; ci < 2; ci++)
    for (int k = 0; k < 3; k++) {
        struct lbq_qspec qm, qv;
        struct lbq_qplan pm, pv;
        CHECK_OK(lbq_qspec_parse(specs[k][0], NULL, &qm)); CHECK_OK(lbq_qspec_parse(specs[k][1], NULL, &qv));
        CHECK_OK(lbq_qplan_init(&pm, &qm, LBQ_ROLE_M, 1)); CHECK_OK(lbq_qplan_init(&pv, &qv, LBQ_ROLE_V, 1));
        CHECK_OK(lbq_qdq(&pm, &stm, 0, n, m, mh, NULL, NULL, NULL, scr));
        CHECK_OK(lbq_qdq(&pv, &stv, 0, n, v, vh, NULL, NULL, NULL, scr));
        const struct lbq_update_cfg *cfg = &cfgs[ci];
        for (int simd = 0; simd < 2; simd++) {
            lbq_simd_enable(simd);
            struct lbq_acc cpu, ch, base, twin;
            lbq_acc_zero(&cpu); lbq_acc_zero(&base);
            for (int64_t o = 0; o < n; o += 65536) {
                int64_t cn = (n - o < 65536) ? n - o : 65536;
                lbq_acc_zero(&ch);
                lbq_acc_base(&ch, cfg, cn, m + o, v + o, ue + o, ok + o, tmp);
                lbq_acc_merge(&base, &ch);
                lbq_acc_zero(&ch);
                lbq_acc_quant(&ch, cfg, cn, m + o, mh + o, v + o, vh + o, ue + o, ok + o);
                lbq_acc_merge(&cpu, &ch);
            }
            lbq_acc_merge(&cpu, &base);
            struct lbq_accq q;
            memset(&q, 0, sizeof q);
            lbq_accq_twin_add(&q, cfg, n, m, mh, v, vh);
            lbq_acc_zero(&twin);
            lbq_accq_to_acc(&q, &twin);
            lbq_acc_merge(&twin, &base);
            char tag[128];
            snprintf(tag, sizeof tag, "twin kernel %s / %s eps %g simd %d", specs[k][0], specs[k][1], cfg->eps, simd);
            compare_acc(tag, &twin, &cpu, 0);
            /* the structural-zero split is exercised: lifted zeros with an update, collapsed non-zeros */
            nlift += (cpu.m.lifted_abs_uh > 0.0) + (cpu.v.lifted_abs_uh > 0.0);
            ncoll += (cpu.m.nonzero_to_zero > 0) + (cpu.v.nonzero_to_zero > 0);
            /* the twin is deterministic: a second run gives the same bits */
            struct lbq_accq q2;
            memset(&q2, 0, sizeof q2);
            lbq_accq_twin_add(&q2, cfg, n, m, mh, v, vh);
            CHECK(memcmp(&q, &q2, sizeof q) == 0);
        }
    }
    lbq_simd_enable(1);
    CHECK_MSG(nlift > 0 && ncoll > 0, "twin kernel: the data lift no zero (%d) or collapse no non-zero (%d)", nlift, ncoll);
    lbq_tstats_free(&stm); lbq_tstats_free(&stv);
    free(m); free(v); free(mh); free(vh); free(scr); free(tmp); free(ue); free(ok);
}

static int write_file(const char *path, const struct lbq_shape *sh, const float *m, const float *v, double eps)
{
    struct lbq_h5w *w = NULL;
    int dm, dv;
    int rc = lbq_h5w_open(path, &w);
    if (rc == LBQ_OK) rc = lbq_h5w_dset(w, "layer.weight", "exp_avg", LBQ_W_F32, sh, &dm);
    if (rc == LBQ_OK) rc = lbq_h5w_write(w, dm, 0, sh->numel, m);
    if (rc == LBQ_OK) rc = lbq_h5w_dset(w, "layer.weight", "exp_avg_sq", LBQ_W_F32, sh, &dv);
    if (rc == LBQ_OK) rc = lbq_h5w_write(w, dv, 0, sh->numel, v);
    if (rc == LBQ_OK) rc = lbq_h5w_attr_i64(w, "", "step", 300);
    if (rc == LBQ_OK) rc = lbq_h5w_attr_f64(w, "", "beta1", 0.9);
    if (rc == LBQ_OK) rc = lbq_h5w_attr_f64(w, "", "beta2", 0.999);
    if (rc == LBQ_OK) rc = lbq_h5w_attr_f64(w, "", "eps", eps);
    if (rc == LBQ_OK) return lbq_h5w_commit(w);
    lbq_h5w_abort(w);
    return rc;
}

#define NCONF 6
static void make_confs(struct lbq_config *conf)
{
    static const char *specs[NCONF][2] = {
        { "block128-dtree:b4", "block128-linear:b4" }, { "rank1-linear:b4", "rank1-linear:b4" },
        { "block2048-dtree:b8:sr", "block128-log:b2" }, { "tensor-dtree:b8", "col-linear:b4" },
        { "block128-fp8e4m3:dre", NULL }, { NULL, NULL },
    };
    memset(conf, 0, sizeof *conf * NCONF);
    for (int c = 0; c < NCONF; c++) {
        if (specs[c][0]) { CHECK_OK(lbq_qspec_parse(specs[c][0], NULL, &conf[c].m)); conf[c].has_m = 1; }
        if (specs[c][1]) { CHECK_OK(lbq_qspec_parse(specs[c][1], NULL, &conf[c].v)); conf[c].has_v = 1; }
        snprintf(conf[c].label, sizeof conf[c].label, "conf%d", c);
    }
}

static int eval(const char *path, int device, int64_t mem, struct lbq_param_eval *ev, const struct lbq_config *conf)
{
    struct lbq_file *f = NULL;
    int rc = lbq_file_open(path, NULL, &f);
    if (rc != LBQ_OK) return rc;
    struct lbq_eval_opts eo = { mem, 10.0, device, NULL, NULL, NULL };
    rc = lbq_eval_param(f, 0, conf, NCONF, &eo, ev);
    lbq_file_close(f);
    return rc;
}

int main(void)
{
    test_twin_kernel();

    char dir[] = "/tmp/lbq-test-evaldev-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[300], path0[300];
    snprintf(path, sizeof path, "%s/a.h5", dir);
    snprintf(path0, sizeof path0, "%s/eps0.h5", dir);
    const struct lbq_shape sh = { 2, { 700, 641 }, 700 * 641 };
    const int64_t n = sh.numel;
    float *m = malloc(sizeof(float) * n), *v = malloc(sizeof(float) * n);
    gen(m, v, n);
    CHECK_OK(write_file(path, &sh, m, v, 1e-8));
    CHECK_OK(write_file(path0, &sh, m, v, 0.0));
    struct lbq_config conf[NCONF];
    make_confs(conf);
    static struct lbq_param_eval cpu[NCONF], twin[NCONF], twin2[NCONF], gpu[NCONF];
    /* 2. the driver with the twin against the CPU engine: one slab (default budget) and several (4 MiB) */
    const int64_t mems[2] = { 0, (int64_t)4 << 20 };
    for (int mi = 0; mi < 2; mi++) {
        CHECK_OK(eval(path, 0, mems[mi], cpu, conf));
        CHECK_OK(eval(path, 2, mems[mi], twin, conf));
        CHECK_OK(eval(path, 2, mems[mi], twin2, conf));
        for (int c = 0; c < NCONF; c++) {
            char tag[96];
            snprintf(tag, sizeof tag, "engine twin vs cpu, conf %d, mem %lld", c, (long long)mems[mi]);
            compare_acc(tag, &twin[c].acc, &cpu[c].acc, 0);
            CHECK(strcmp(twin[c].m_plan, cpu[c].m_plan) == 0 && strcmp(twin[c].v_plan, cpu[c].v_plan) == 0);
            CHECK(twin[c].m_size.bits_per_elem == cpu[c].m_size.bits_per_elem && twin[c].kept_fp32 == cpu[c].kept_fp32);
            CHECK_MSG(memcmp(&twin[c].acc, &twin2[c].acc, sizeof twin[c].acc) == 0, "twin run twice: conf %d differs", c);
        }
        int64_t fin = 0;
        for (int64_t i = 0; i < n; i++) fin += isfinite(m[i]) && isfinite(v[i]);
        CHECK_EQ_INT(twin[0].acc.m.n, fin);             /* NaN m, Inf v elements excluded */
    }
    /* 3. eps = 0: the engine declines, the CPU path runs (device 2 = CPU quantizer): identical */
    CHECK_OK(eval(path0, 0, 0, cpu, conf));
    CHECK_OK(eval(path0, 2, 0, twin, conf));
    for (int c = 0; c < NCONF; c++) compare_acc("eps 0: twin device falls back to the CPU path", &twin[c].acc, &cpu[c].acc, 1);
    /* the self-check's own setup (specs, plans, data, comparison) with the twin on both sides */
    CHECK_OK(lbq_devq_compare(&lbq_devq_twin, &lbq_devq_twin));
    /* 4. the GPU */
    if (lbq_cuda_device_count() > 0) {
        CHECK_OK(lbq_devq_selfcheck());
        for (int mi = 0; mi < 2; mi++) {
            CHECK_OK(eval(path, 2, mems[mi], twin, conf));
            int rc = eval(path, 1, mems[mi], gpu, conf);
            CHECK_MSG(rc == LBQ_OK, "device 1: %s", lbq_errmsg());
            for (int c = 0; c < NCONF && rc == LBQ_OK; c++) compare_acc("engine gpu vs twin", &gpu[c].acc, &twin[c].acc, 1);
        }
    } else {
        lbq_err(LBQ_OK, "stale message");
        int rc = eval(path, 1, 0, gpu, conf);
        CHECK_EQ_INT(rc, LBQ_ERR_CUDA);
        CHECK_MSG(strncmp(lbq_errmsg(), "no CUDA device (", 16) == 0, "device 1 without a device: '%s'", lbq_errmsg());
        CHECK_EQ_INT(lbq_devq_selfcheck(), LBQ_ERR_CUDA);      /* --device auto would use the CPU */
        CHECK_MSG(strncmp(lbq_errmsg(), "no CUDA device (", 16) == 0, "self-check without a device: '%s'", lbq_errmsg());
        printf("test-evaldev: no CUDA device: GPU comparison skipped (%s)\n", lbq_errmsg());
    }
    printf("test-evaldev: largest relative difference of a sum, twin vs CPU engine: %.3g\n", g_worst);
    unlink(path); unlink(path0); rmdir(dir);
    free(m); free(v);
    return TEST_END();
}
