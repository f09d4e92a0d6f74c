/* test-simulate.c - multi-step simulations.
 * (1) SOLO's synthetic case study (1000 elements, z ~ U[0,1], x0 = 1, 100 steps, block 128):
 *     the 2-bit uniform map (zero included) is stuck for beta >= 0.833: the final mean stays at the
 *     start (> 0.95) while fp32 decays to 0.5 + 0.5 beta^100; below the threshold (beta = 0.80) it
 *     moves (< 0.70).  The 2-bit log map stays within 0.06 of the fp32 curve for beta <= 0.96.
 *     Tolerances: the stuck test needs all codes frozen (theory: no level change once
 *     (1-beta)(1-z) < 1/6 for every z, i.e. beta >= 5/6); 0.95 allows the block scale's own drift.
 *     The log-map bound 0.06 is about 3x the largest deviation measured with several seeds.
 * (2) Short simulations against a straightforward double-precision reference written here: the fp32
 *     run's states, and the quantized run's stored states (dequantize -> EMA -> requantize with
 *     lbq_qdq as the quantizer), reproduced step by step; swamping counts recomputed. */
#include "lbq.h"
#include "lbq-sim.h"
#include "lbq-test.h"

#include <unistd.h>

static double synthetic_final(const char *spec, double beta, double *fp32)
{
    struct lbq_config c;
    memset(&c, 0, sizeof c);
    if (lbq_qspec_parse(spec, NULL, &c.v)) return NAN;
    c.has_v = 1;
    struct lbq_sim_opts o;
    lbq_sim_opts_init(&o);
    o.steps = 100; o.size = 1000; o.start = 1.0; o.every = 100; o.seed = 1;
    struct lbq_sim_result r;
    if (lbq_simulate_synthetic(&c, beta, &o, &r)) return NAN;
    double fm = r.final_mean;
    if (fp32) *fp32 = r.final_mean_fp32;
    lbq_sim_result_free(&r);
    return fm;
}

int main(void)
{
    double f32;
    /* (1) thresholds */
    CHECK(synthetic_final("block128-uniform:b2", 0.80, &f32) < 0.70);
    for (double b = 0.84; b < 0.995; b += 0.03) {
        double fm = synthetic_final("block128-uniform:b2", b, &f32);
        CHECK_MSG(fm > 0.95, "uniform 2-bit at beta %.2f: final %.4f (expected stuck near 1)", b, fm);
        CHECK_MSG(f32 < 0.95, "fp32 at beta %.2f: %.4f", b, f32);
        CHECK_NEAR(f32, 0.5 + 0.5 * pow(b, 100), 0.02);      /* E[z] = 0.5 with 1000 samples/step */
    }
    for (double b = 0.80; b <= 0.9601; b += 0.02) {
        double fm = synthetic_final("block128-log:b2", b, &f32);
        CHECK_MSG(fabs(fm - f32) < 0.06, "log 2-bit at beta %.2f: final %.4f vs fp32 %.4f", b, fm, f32);
    }
    /* DE 2-bit: partly stuck below its threshold, fully stuck from about 0.89 (SOLO: ~0.888) */
    CHECK(synthetic_final("block128-dtree:b2", 0.80, &f32) < 0.75);
    CHECK(synthetic_final("block128-dtree:b2", 0.90, &f32) > 0.95);

    /* (2) a small parameter with a gradient stream, against a reference loop here */
    const int R = 8, C = 40, T = 12;
    const int64_t n = (int64_t)R * C;
    float *m0 = malloc(sizeof(float) * n), *v0 = malloc(sizeof(float) * n), *g = malloc(sizeof(float) * n * T);
    for (int64_t i = 0; i < n; i++) { m0[i] = (float)(t_normal() * 1e-3); v0[i] = m0[i] * m0[i] * 2 + 1e-10f; }
    for (int64_t i = 0; i < n * T; i++) g[i] = (float)(t_normal() * 1e-3);
    char dir[] = "/tmp/lbq-sim-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char path[256];
    snprintf(path, sizeof path, "%s/s.h5", dir);
    struct lbq_h5w *w = NULL;
    struct lbq_shape sh = { 2, { R, C }, n }, gs = { 3, { T, R, C }, n * T };
    int d1, d2, d3;
    CHECK_OK(lbq_h5w_open(path, &w));
    CHECK_OK(lbq_h5w_dset(w, "w", "exp_avg", LBQ_W_F32, &sh, &d1)); CHECK_OK(lbq_h5w_write(w, d1, 0, n, m0));
    CHECK_OK(lbq_h5w_dset(w, "w", "exp_avg_sq", LBQ_W_F32, &sh, &d2)); CHECK_OK(lbq_h5w_write(w, d2, 0, n, v0));
    CHECK_OK(lbq_h5w_dset(w, "w", "grads", LBQ_W_F32, &gs, &d3)); CHECK_OK(lbq_h5w_write(w, d3, 0, n * T, g));
    CHECK_OK(lbq_h5w_attr_i64(w, "", "step", 50));
    CHECK_OK(lbq_h5w_commit(w));
    struct lbq_file *f = NULL;
    CHECK_OK(lbq_file_open(path, NULL, &f));
    if (f) {
        struct lbq_config c;
        memset(&c, 0, sizeof c);
        CHECK_OK(lbq_qspec_parse("block32-dtree:b3", NULL, &c.m));
        CHECK_OK(lbq_qspec_parse("rank1-linear:b3", NULL, &c.v));
        c.has_m = c.has_v = 1;
        struct lbq_sim_opts o;
        lbq_sim_opts_init(&o);
        o.source = LBQ_SRC_GRADS; o.steps = T; o.every = 1; o.beta1 = 0.9; o.beta2 = 0.999; o.eps = 1e-8; o.step0 = 50; o.bias_correct = 1;
        struct lbq_sim_result r;
        CHECK_OK(lbq_simulate_param(f, 0, &c, &o, &r));
        CHECK_EQ_INT(r.npoints, T);
        /* reference */
        struct lbq_qplan pm, pv;
        CHECK_OK(lbq_qplan_init(&pm, &c.m, LBQ_ROLE_M, 2));
        CHECK_OK(lbq_qplan_init(&pv, &c.v, LBQ_ROLE_V, 2));
        double *M = malloc(sizeof(double) * n), *V = malloc(sizeof(double) * n);
        float *ms = malloc(sizeof(float) * n), *vs = malloc(sizeof(float) * n), *pre = malloc(sizeof(float) * n), *prev = malloc(sizeof(float) * n);
        float *mp = malloc(sizeof(float) * n), *vp = malloc(sizeof(float) * n), *sc = malloc(sizeof(float) * n);
        uint8_t *code = malloc((size_t)n), *code0 = malloc((size_t)n);
        struct lbq_tstats st;
        CHECK_OK(lbq_tstats_init(&st, &sh));
        for (int64_t i = 0; i < n; i++) { M[i] = m0[i]; V[i] = v0[i]; }
        CHECK_OK(lbq_qdq(&pm, NULL, 0, n, m0, ms, NULL, sc, NULL, NULL));
        lbq_tstats_add(&st, 0, n, v0);
        CHECK_OK(lbq_qdq(&pv, &st, 0, n, v0, vs, code0, sc, NULL, NULL));
        for (int t = 0; t < T; t++) {
            const float *gt = g + (int64_t)t * n;
            int64_t elig = 0, sw = 0;
            for (int64_t i = 0; i < n; i++) {
                M[i] = 0.9 * M[i] + 0.1 * gt[i];
                double vold = V[i];
                V[i] = 0.999 * V[i] + 0.001 * (double)gt[i] * gt[i];
                prev[i] = (float)vold;
                mp[i] = 0.9f * ms[i] + 0.1f * gt[i];
                vp[i] = 0.999f * vs[i] + 0.001f * (gt[i] * gt[i]);
            }
            memcpy(pre, vp, sizeof(float) * n);
            CHECK_OK(lbq_qdq(&pm, NULL, 0, n, mp, ms, NULL, sc, NULL, NULL));
            lbq_tstats_reset(&st);
            lbq_tstats_add(&st, 0, n, vp);
            CHECK_OK(lbq_qdq(&pv, &st, 0, n, vp, vs, code, sc, NULL, NULL));
            double em = 0, rm = 0, ev = 0, rv = 0;
            for (int64_t i = 0; i < n; i++) {
                em += (ms[i] - M[i]) * (ms[i] - M[i]); rm += M[i] * M[i];
                ev += (vs[i] - V[i]) * (vs[i] - V[i]); rv += V[i] * V[i];
                if (fabs(V[i] - prev[i]) > 1e-3 * fabs(prev[i])) { elig++; if (code[i] == code0[i]) sw++; }
            }
            memcpy(code0, code, (size_t)n);
            /* the library's fp32 run is float; the reference is double: agreement to float precision */
            CHECK_NEAR(r.pts[t].m_rel, sqrt(em / rm), 1e-4 * sqrt(em / rm) + 1e-6);
            CHECK_NEAR(r.pts[t].v_rel, sqrt(ev / rv), 1e-4 * sqrt(ev / rv) + 1e-6);
            CHECK_NEAR(r.pts[t].swamp_v, elig ? (double)sw / (double)elig : 0.0, 0.02);
            CHECK_EQ_INT(r.pts[t].step, t + 1);
        }
        /* no quantization: the quantized run equals the fp32 run exactly */
        struct lbq_config none;
        memset(&none, 0, sizeof none);
        struct lbq_sim_result r0;
        CHECK_OK(lbq_simulate_param(f, 0, &none, &o, &r0));
        for (int t = 0; t < r0.npoints; t++) { CHECK(r0.pts[t].m_rel == 0.0); CHECK(r0.pts[t].u_rel == 0.0); }
        /* fp32 states have no codes: their swamping metrics are undefined (NaN; JSON null) */
        for (int t = 0; t < r0.npoints; t++) CHECK(isnan(r0.pts[t].swamp_m) && isnan(r0.pts[t].swamp_v) && isnan(r0.pts[t].unchanged_v) && isnan(r0.pts[t].frozen_m));
        CHECK(isnan(r0.stuck_all_m) && isnan(r0.stuck_all_v) && isnan(r0.mean_swamp_v));
        CHECK(!strcmp(r0.m_plan, "fp32") && !strcmp(r0.v_plan, "fp32") && !r0.kept_fp32);
        lbq_sim_result_free(&r0);
        /* the report: one row per simulation, the spec applied, and its JSON rendering */
        {
            struct lbq_sim_report rep;
            lbq_sim_report_init(&rep, &c, &o, f);
            CHECK_OK(lbq_sim_report_param(&rep, f, 0, &c, &o));
            CHECK_EQ_INT(rep.nrows, 1);
            CHECK(!strcmp(rep.rows[0].r.m_plan, "block32-dtree:b3") && !strcmp(rep.rows[0].r.v_plan, "rank1-linear:b3"));
            CHECK(!rep.rows[0].kept_fp32 && rep.rows[0].numel == n);
            double msw = 0;
            for (int t = 0; t < rep.rows[0].r.npoints; t++) msw += rep.rows[0].r.pts[t].swamp_v;
            CHECK(rep.rows[0].r.mean_swamp_v == msw / rep.rows[0].r.npoints);
            cJSON *j = lbq_sim_report_json(&rep);
            const cJSON *p0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "params"), 0);
            CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "schema_version")) == 2);
            CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(p0, "v_plan")), "rank1-linear:b3"));
            CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(p0, "summary"), "mean_swamp_v")) == msw / rep.rows[0].r.npoints);
            cJSON_Delete(j);
            lbq_sim_report_free(&rep);
        }
        lbq_sim_result_free(&r);
        lbq_tstats_free(&st);
        free(M); free(V); free(ms); free(vs); free(pre); free(prev); free(mp); free(vp); free(sc); free(code); free(code0);
        lbq_file_close(f);
    }
    /* theory: SOLO's published numbers */
    struct lbq_qspec s;
    struct lbq_qplan p;
    const double lin[] = { 0, 0, 0.833, 0.929, 0.967 };
    for (int b = 2; b <= 4; b++) {
        struct lbq_qdefaults d;
        lbq_qdefaults_init(&d);
        d.bits = b;
        CHECK_OK(lbq_qspec_parse("tensor-uniform", &d, &s));
        CHECK_OK(lbq_qplan_init(&p, &s, LBQ_ROLE_V, 2));
        CHECK_NEAR(lbq_theory_beta_star(&p), lin[b], 0.0006);
    }
    {
        struct lbq_qdefaults d;
        lbq_qdefaults_init(&d);
        d.bits = 2;
        CHECK_OK(lbq_qspec_parse("tensor-dtree", &d, &s));
        CHECK_OK(lbq_qplan_init(&p, &s, LBQ_ROLE_V, 2));
        CHECK_NEAR(lbq_theory_beta_star(&p), 0.837, 0.001);
    }
    /* precision-specific beta1 table (published, reference beta 0.9): within +-0.015 */
    const double pub[3][4] = { { 0.350, 0.518, 0.695, 0.820 }, { 0.211, 0.348, 0.531, 0.694 }, { 0.116, 0.207, 0.357, 0.527 } };
    for (int bt = 4; bt >= 2; bt--)
        for (int br = 8; br >= 5; br--) {
            struct lbq_qdefaults d;
            struct lbq_qplan pt, pr;
            lbq_qdefaults_init(&d);
            d.bits = bt; CHECK_OK(lbq_qspec_parse("tensor-dtree", &d, &s)); CHECK_OK(lbq_qplan_init(&pt, &s, LBQ_ROLE_M, 2));
            d.bits = br; CHECK_OK(lbq_qspec_parse("tensor-dtree", &d, &s)); CHECK_OK(lbq_qplan_init(&pr, &s, LBQ_ROLE_M, 2));
            double bp = lbq_theory_beta_prime(0.9, lbq_theory_r_median(&pr), lbq_theory_r_median(&pt));
            CHECK_NEAR(bp, pub[4 - bt][8 - br], 0.015);
        }
    unlink(path);
    rmdir(dir);
    free(m0); free(v0); free(g);
    return TEST_END();
}
