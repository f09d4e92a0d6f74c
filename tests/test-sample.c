/* test-sample.c - sampled evaluation (--sample, include/lbq-sample.h): the selection is
 * deterministic, stratified and seeded; --sample 1 is the exact evaluation; and the coverage test:
 * over 200 seeds, the stated 95% interval of each checked aggregate covers the exact value at least
 * 90% of the time (binomial: 95% of 200 is 190 +- 3.1, so 180 is 3.2 sd below; a correct 95%
 * interval fails this with probability < 0.1%).  LBQ_SAMPLE_TEST_SCALE=S multiplies every half-width by
 * S (S = 0.3: a deliberately too-narrow interval; the test must then fail); LBQ_SAMPLE_TEST_SEEDS,
 * LBQ_SAMPLE_TEST_SEED0, LBQ_SAMPLE_TEST_FRAC and LBQ_SAMPLE_TEST_HEAVY (a heavier-tailed file) are
 * for longer studies (docs/metrics.md quotes them). */
#include "lbq-test.h"
#include "lbq-impl.h"
#include "lbq-metrics.h"
#include "lbq-sample.h"

#include <unistd.h>

#define NT 5
#define NSEED_DEFAULT 200
#define NCONF 3

static const char *const g_specs[NCONF][2] = {
    { "block128-dtree:b4", "block128-dtree:b4" },
    { "rank1-linear:b4", "rank1-linear:b4" },
    { "block2048-dtree:b3", "block256-linsq:b3" },
};
/* the checked aggregates */
static const int g_met[] = { LBQ_SM_M0 + LBQ_SM_REL_L2, LBQ_SM_V0 + LBQ_SM_REL_L2, LBQ_SM_M0 + LBQ_SM_REL_MEAN_ABS_ERR,
                             LBQ_SM_U_REL_L2, LBQ_SM_U_COSINE };
#define NMET ((int)(sizeof g_met / sizeof g_met[0]))

/* a heterogeneous synthetic moment file (row scales, Student-t tails, zeros, a trend along the
 * tensor, outlier columns); heavy = 1: far heavier tails (a few elements dominate the sums) */
static int make_file(const char *path, int heavy)
{
    const double sr = heavy ? 1.0 : 0.5, sv = heavy ? 1.5 : 0.5, trend = heavy ? 20.0 : 3.0, oc = heavy ? 30.0 : 5.0;
    struct lbq_shape sh[NT] = { { 2, { 256, 1024 }, 262144 }, { 2, { 512, 768 }, 393216 }, { 1, { 100000 }, 100000 },
                                { 1, { 2000 }, 2000 }, { 2, { 64, 4096 }, 262144 } };
    const char *names[NT] = { "a.weight", "b.weight", "c.bias", "d.norm", "e.weight" };
    struct lbq_h5w *w = NULL;
    int rc = lbq_h5w_open(path, &w);
    for (int t = 0; t < NT && !rc; t++) {
        int64_t n = sh[t].numel, cols = sh[t].rank == 2 ? sh[t].dim[1] : n;
        float *m = malloc(sizeof(float) * (size_t)n), *v = malloc(sizeof(float) * (size_t)n);
        double rs = 1.0;
        for (int64_t i = 0; i < n; i++) {
            if (i % cols == 0) rs = exp(sr * t_normal());                /* a scale per row */
            double g = t_normal() * rs * 1e-3;
            if (t == 1) {                                               /* Student t tails (5 dof), or heavier */
                double c = 0;
                for (int k = 0; k < 5; k++) { double z = t_normal(); c += z * z; }
                g = heavy ? g / sqrt(t_uniform() + 1e-3) : g / sqrt(c / 5);
            }
            if (t == 4) g *= 1.0 + trend * (double)i / (double)n;       /* a trend */
            if (t == 0 && (i % cols) % 97 == 3) g *= oc;                /* outlier columns */
            m[i] = (float)(0.1 * g);
            double vv = g * g * exp(sv * t_normal());
            if (t == 2 && t_uniform() < 0.3) vv = 0.0;                  /* zeros */
            v[i] = (float)vv;
        }
        int dm, dv;
        rc = lbq_h5w_dset(w, names[t], "exp_avg", LBQ_W_F32, &sh[t], &dm);
        if (!rc) rc = lbq_h5w_write(w, dm, 0, n, m);
        if (!rc) rc = lbq_h5w_dset(w, names[t], "exp_avg_sq", LBQ_W_F32, &sh[t], &dv);
        if (!rc) rc = lbq_h5w_write(w, dv, 0, n, v);
        free(m); free(v);
    }
    if (!rc) rc = lbq_h5w_attr_i64(w, "", "step", 300);
    if (!rc) rc = lbq_h5w_attr_f64(w, "", "beta1", 0.9);
    if (!rc) rc = lbq_h5w_attr_f64(w, "", "beta2", 0.999);
    if (!rc) rc = lbq_h5w_attr_f64(w, "", "eps", 1e-8);
    if (!rc) rc = lbq_h5w_commit(w);
    return rc;
}

int main(void)
{
    const char *sc_env = getenv("LBQ_SAMPLE_TEST_SCALE");
    /* LBQ_SAMPLE_TEST_SEEDS=N (default 200) and LBQ_SAMPLE_TEST_SEED0=S: seeds S .. S+N-1, for a longer study */
    const int NSEED = getenv("LBQ_SAMPLE_TEST_SEEDS") ? atoi(getenv("LBQ_SAMPLE_TEST_SEEDS")) : NSEED_DEFAULT;
    const int seed0 = getenv("LBQ_SAMPLE_TEST_SEED0") ? atoi(getenv("LBQ_SAMPLE_TEST_SEED0")) : 0;
    if (NSEED < 10) { fprintf(stderr, "LBQ_SAMPLE_TEST_SEEDS: at least 10\n"); return 2; }
    const double scale = sc_env ? atof(sc_env) : 1.0;
    /* parsing */
    double fr = 0;
    CHECK_OK(lbq_sample_parse("5%", &fr)); CHECK_NEAR(fr, 0.05, 1e-15);
    CHECK_OK(lbq_sample_parse("0.25", &fr)); CHECK_NEAR(fr, 0.25, 0);
    CHECK_OK(lbq_sample_parse("1", &fr)); CHECK_NEAR(fr, 1.0, 0);
    CHECK(lbq_sample_parse("0", &fr) != 0); CHECK(lbq_sample_parse("1.5", &fr) != 0);
    CHECK(lbq_sample_parse("5%x", &fr) != 0); CHECK(lbq_sample_parse("abc", &fr) != 0);
    /* selection: n = round(f * units), deterministic per (seed, name), stratified cells */
    struct lbq_sample_opts so = { 0.1, 7 };
    struct lbq_sample_sel s1, s2;
    CHECK_OK(lbq_sample_select(&so, "x", 1000000, 2048, 65536, &s1));
    CHECK_OK(lbq_sample_select(&so, "x", 1000000, 2048, 65536, &s2));
    CHECK_EQ_INT(s1.nunits, 489); CHECK_EQ_INT(s1.nsel, 49);
    int64_t cnt = 0, diff = 0;
    for (int64_t u = 0; u < s1.nunits; u++) { cnt += s1.unit_in[u]; diff += s1.unit_in[u] != s2.unit_in[u]; }
    CHECK_EQ_INT(cnt, 49); CHECK_EQ_INT(diff, 0);
    CHECK_NEAR(s1.weight, 489.0 / 49.0, 1e-12);
    lbq_sample_sel_free(&s2);
    so.seed = 8;
    CHECK_OK(lbq_sample_select(&so, "x", 1000000, 2048, 65536, &s2));
    diff = 0;
    for (int64_t u = 0; u < s1.nunits; u++) diff += s1.unit_in[u] != s2.unit_in[u];
    CHECK(diff > 0);                    /* another seed, another sample */
    lbq_sample_sel_free(&s1); lbq_sample_sel_free(&s2);
    /* the design (Deville's systematic sampling over n zones): exactly n distinct units, one in
     * each zone or its straddling neighbour, and every unit's inclusion probability n/N: 37 units,
     * 8 drawn, over 4000 seeds each unit is drawn 4000 * 8/37 = 865 times, sd 26; allow 5 sd */
    {
        int hits[37] = { 0 };
        so.frac = 8.0 / 37.0;
        for (int sd = 0; sd < 4000; sd++) {
            so.seed = (uint64_t)sd;
            CHECK_OK(lbq_sample_select(&so, "pi", 37 * 128, 128, 2048, &s1));
            int got = 0, last = -1, gap = 0;
            for (int u = 0; u < 37; u++)
                if (s1.unit_in[u]) { hits[u]++; got++; if (u - last > gap) gap = u - last; last = u; }
            if (got != 8 || gap > 2 * 5) CHECK_MSG(0, "seed %d: %d units drawn (8), largest gap %d (<= 10)", sd, got, gap);
            lbq_sample_sel_free(&s1);
        }
        int lo = 4000, hi = 0;
        for (int u = 0; u < 37; u++) { if (hits[u] < lo) lo = hits[u]; if (hits[u] > hi) hi = hits[u]; }
        CHECK_MSG(lo >= 865 - 130 && hi <= 865 + 130, "inclusion counts %d..%d, expected 865 +- 130", lo, hi);
        printf("inclusion counts over 4000 seeds (37 units, 8 drawn; expected 865 each): %d..%d\n", lo, hi);
        so.seed = 7;
    }
    so.frac = 1e-6;
    CHECK_OK(lbq_sample_select(&so, "tiny", 100, 128, 65536, &s1));
    CHECK_EQ_INT(s1.nsel, 1); CHECK_EQ_INT(s1.cell_slot[0], LBQ_SAMPLE_GROUPS);   /* taken whole */
    lbq_sample_sel_free(&s1);

    char dir[] = "/tmp/lbq-test-sample-XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    char path[256];
    snprintf(path, sizeof path, "%s/s.h5", dir);
    const int heavy = getenv("LBQ_SAMPLE_TEST_HEAVY") != NULL;
    CHECK_OK(make_file(path, heavy));
    struct lbq_file *f = NULL;
    CHECK_OK(lbq_file_open(path, NULL, &f));
    if (!f) return TEST_END();
    int np = lbq_file_nparams(f);
    CHECK_EQ_INT(np, NT);
    struct lbq_config conf[NCONF];
    memset(conf, 0, sizeof conf);
    for (int c = 0; c < NCONF; c++) {
        CHECK_OK(lbq_qspec_parse(g_specs[c][0], NULL, &conf[c].m));
        CHECK_OK(lbq_qspec_parse(g_specs[c][1], NULL, &conf[c].v));
        conf[c].has_m = conf[c].has_v = 1;
        snprintf(conf[c].label, sizeof conf[c].label, "%s/%s", g_specs[c][0], g_specs[c][1]);
    }
    struct lbq_eval_opts eo = { 0, 10.0, 0, NULL, NULL, NULL };
    struct lbq_param_eval ev[NCONF];
    struct lbq_acc *exact = calloc(NCONF, sizeof *exact);
    struct lbq_sample_acc *sout = malloc(sizeof *sout * NCONF), *stot = malloc(sizeof *stot * NCONF);
    struct lbq_ci (*ci)[LBQ_SM_COUNT] = malloc(sizeof *ci * NCONF);
    double ex[NCONF][LBQ_SM_COUNT];
    for (int c = 0; c < NCONF; c++) lbq_acc_zero(&exact[c]);
    for (int i = 0; i < np; i++) {
        CHECK_OK(lbq_eval_param(f, i, conf, NCONF, &eo, ev));
        for (int c = 0; c < NCONF; c++) lbq_acc_merge(&exact[c], &ev[c].acc);
    }
    for (int c = 0; c < NCONF; c++) lbq_sample_metrics(&exact[c], ex[c]);

    /* --sample 1: every unit drawn, every stratum whole: the exact numbers, zero-width intervals */
    so.frac = 1.0; so.seed = 0;
    for (int c = 0; c < NCONF; c++) lbq_sample_acc_zero(&stot[c]);
    for (int i = 0; i < np; i++) {
        CHECK_OK(lbq_eval_param_sampled(f, i, conf, NCONF, &eo, &so, sout, ev));
        for (int c = 0; c < NCONF; c++) lbq_sample_acc_merge(&stot[c], &sout[c]);
    }
    for (int c = 0; c < NCONF; c++) {
        lbq_sample_ci(&stot[c], 1.0, ci[c]);
        for (int k = 0; k < NMET; k++) {
            CHECK_REL(ci[c][g_met[k]].est, ex[c][g_met[k]], 1e-12);
            CHECK(ci[c][g_met[k]].lo == ci[c][g_met[k]].est && ci[c][g_met[k]].hi == ci[c][g_met[k]].est);
        }
        CHECK_EQ_INT(stot[c].drawn, stot[c].numel);
    }

    /* the coverage test: 200 seeds at 10% */
    int cover[NCONF][NMET], narrow[NCONF][NMET], kmin = LBQ_SAMPLE_GROUPS;
    double width[NCONF][NMET], relerr[NCONF][NMET];
    memset(cover, 0, sizeof cover); memset(narrow, 0, sizeof narrow);
    memset(width, 0, sizeof width); memset(relerr, 0, sizeof relerr);
    int64_t drawn = 0, total = 0;
    const char *fr_env = getenv("LBQ_SAMPLE_TEST_FRAC");
    so.frac = fr_env ? atof(fr_env) : 0.1;
    for (int seed = 0; seed < NSEED; seed++) {
        so.seed = (uint64_t)(seed0 + seed);
        for (int c = 0; c < NCONF; c++) lbq_sample_acc_zero(&stot[c]);
        for (int i = 0; i < np; i++) {
            CHECK_OK(lbq_eval_param_sampled(f, i, conf, NCONF, &eo, &so, sout, ev));
            for (int c = 0; c < NCONF; c++) lbq_sample_acc_merge(&stot[c], &sout[c]);
        }
        drawn += stot[0].drawn; total += stot[0].numel;
        for (int c = 0; c < NCONF; c++) {
            int K = lbq_sample_groups_used(&stot[c]);
            if (K < kmin) kmin = K;
            lbq_sample_ci(&stot[c], scale, ci[c]);
            for (int k = 0; k < NMET; k++) {
                const struct lbq_ci *x = &ci[c][g_met[k]];
                double e = ex[c][g_met[k]];
                cover[c][k] += x->lo <= e && e <= x->hi;
                width[c][k] += (x->hi - x->lo) / 2 / fabs(e) / NSEED;
                relerr[c][k] += fabs(x->est - e) / fabs(e) / NSEED;
            }
            lbq_sample_ci(&stot[c], 0.3, ci[c]);    /* a deliberately too-narrow interval, for the report */
            for (int k = 0; k < NMET; k++) {
                const struct lbq_ci *x = &ci[c][g_met[k]];
                narrow[c][k] += x->lo <= ex[c][g_met[k]] && ex[c][g_met[k]] <= x->hi;
            }
        }
    }
    printf("coverage over %d seeds at --sample %g (%.1f%% of the elements drawn on average; >= %d of %d random groups used;\n"
           "interval half-width scale %g; the 0.3x too-narrow interval in brackets):\n",
           NSEED, so.frac, 100.0 * (double)drawn / (double)total, kmin, LBQ_SAMPLE_GROUPS, scale);
    int worst = NSEED;
    for (int c = 0; c < NCONF; c++)
        for (int k = 0; k < NMET; k++) {
            printf("  %-40s %-24s exact %.6g  covered %3d/%d (%5.1f%%) [%3d]  mean |est-exact|/exact %.3g  mean half-width/exact %.3g\n",
                   conf[c].label, lbq_sample_metric_name(g_met[k]), ex[c][g_met[k]], cover[c][k], NSEED,
                   100.0 * cover[c][k] / NSEED, narrow[c][k], relerr[c][k], width[c][k]);
            if (cover[c][k] < worst) worst = cover[c][k];
            const int bar = NSEED * 9 / 10;     /* the bar: 90% for every checked aggregate */
            CHECK_MSG(cover[c][k] >= bar, "%s %s: the 95%% interval covered the exact value %d/%d times (bar %d)",
                      conf[c].label, lbq_sample_metric_name(g_met[k]), cover[c][k], NSEED, bar);
        }
    printf("lowest coverage %d/%d (%.1f%%)\n", worst, NSEED, 100.0 * worst / NSEED);
    lbq_file_close(f);
    free(exact); free(sout); free(stot); free(ci);
    unlink(path);
    rmdir(dir);
    return TEST_END();
}
