/* simulate.c - Adam's moment EMAs over T steps with the states stored quantized between steps
 * (dequantize -> EMA update -> requantize, as lpmm, SOLO and torchao do), beside an fp32 reference
 * run on the same gradients; and SOLO's swamping theory.  Definitions: docs/metrics.md. */
#include "lbq-impl.h"
#include "lbq-sim.h"

void lbq_sim_opts_init(struct lbq_sim_opts *o)
{
    memset(o, 0, sizeof *o);
    o->source = LBQ_SRC_GRADS; o->steps = 0; o->every = 1; o->seed = 0;
    o->beta1 = 0.9; o->beta2 = 0.999; o->eps = 1e-8; o->step0 = 0;
    o->swamp_rel = 1e-3; o->size = 1000; o->start = 1.0;
}

void lbq_sim_result_free(struct lbq_sim_result *r)
{
    if (!r) return;
    free(r->pts);
    r->pts = NULL;
}

/* one state (m or v) of a simulation */
struct sim_state {
    const struct lbq_qplan *plan;   /* NULL: stored in fp32 */
    double   beta;
    int64_t  n;
    float   *x32, *xs, *xs_prev, *pre, *scale;
    uint8_t *code, *code_prev;
    unsigned char *fp32_changed_ever, *code_changed_ever;
    struct lbq_tstats st;
    int      have_st;
    /* per-step counters */
    int64_t  eligible, swamped, frozen, unchanged;
};

static void state_free(struct sim_state *s)
{
    free(s->x32); free(s->xs); free(s->xs_prev); free(s->pre); free(s->scale);
    free(s->code); free(s->code_prev); free(s->fp32_changed_ever); free(s->code_changed_ever);
    if (s->have_st) lbq_tstats_free(&s->st);
}

/* Requantize the state after step t.  Stochastic rounding draws a fresh random number per element
 * and step: the Philox stream is (role, step), so the CPU and GPU still draw identical numbers. */
static int requant(struct sim_state *s, const struct lbq_shape *sh, const float *in, int64_t t)
{
    (void)sh;
    if (!s->plan) { memcpy(s->xs, in, sizeof(float) * (size_t)s->n); return LBQ_OK; }
    if (s->have_st) { lbq_tstats_reset(&s->st); lbq_tstats_add(&s->st, 0, s->n, in); }
    struct lbq_qplan pl = *s->plan;
    pl.stream = s->plan->stream + 16u * (uint32_t)t;
    return lbq_qdq(&pl, s->have_st ? &s->st : NULL, 0, s->n, in, s->xs, s->code, s->scale, NULL, NULL);
}

static int state_init(struct sim_state *s, const struct lbq_qplan *plan, double beta, const struct lbq_shape *sh, const float *x0)
{
    int64_t n = sh->numel;
    memset(s, 0, sizeof *s);
    s->plan = plan; s->beta = beta; s->n = n;
    s->x32 = malloc(sizeof(float) * (size_t)n);
    s->xs = malloc(sizeof(float) * (size_t)n);
    s->xs_prev = malloc(sizeof(float) * (size_t)n);
    s->pre = malloc(sizeof(float) * (size_t)n);
    s->scale = malloc(sizeof(float) * (size_t)n);
    s->code = calloc((size_t)n, 1);
    s->code_prev = calloc((size_t)n, 1);
    s->fp32_changed_ever = calloc((size_t)n, 1);
    s->code_changed_ever = calloc((size_t)n, 1);
    if (!s->x32 || !s->xs || !s->xs_prev || !s->pre || !s->scale || !s->code || !s->code_prev || !s->fp32_changed_ever || !s->code_changed_ever)
        return lbq_err(LBQ_ERR_NOMEM, "out of memory for the simulation (%lld elements)", (long long)n);
    if (plan && plan->norm->global_stats) {
        int rc = lbq_tstats_init(&s->st, sh);
        if (rc) return rc;
        s->have_st = 1;
    }
    memcpy(s->x32, x0, sizeof(float) * (size_t)n);
    int rc = requant(s, sh, x0, 0);
    if (rc) return rc;
    memcpy(s->code_prev, s->code, (size_t)n);
    return LBQ_OK;
}

/* one EMA step with input `in` (g for m, g^2 for v): the fp32 reference, the applied pre-quantization
 * value from the stored state, requantization, and which codes stayed the same */
static int state_step(struct sim_state *s, const struct lbq_shape *sh, const float *in, double swamp_rel, int64_t t)
{
    const float b = (float)s->beta, ob = (float)(1.0 - s->beta);
    int64_t n = s->n;
    s->unchanged = 0;
    memcpy(s->xs_prev, s->xs, sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        float old = s->x32[i];
        float nw = b * old + ob * in[i];
        s->x32[i] = nw;
        if (fabsf(nw - old) > (float)swamp_rel * fabsf(old)) s->fp32_changed_ever[i] = 1;
        s->pre[i] = b * s->xs[i] + ob * in[i];
    }
    int rc = requant(s, sh, s->pre, t);
    if (rc || !s->plan) return rc;
    for (int64_t i = 0; i < n; i++) {
        int same = s->code[i] == s->code_prev[i];
        if (!same) s->code_changed_ever[i] = 1;
        s->unchanged += same;
    }
    return LBQ_OK;
}

static double rel_l2(const float *a, const float *ref, int64_t n)
{
    double e = 0, r = 0;
    for (int64_t i = 0; i < n; i++) { double d = (double)a[i] - ref[i]; e += d * d; r += (double)ref[i] * ref[i]; }
    return r > 0 ? sqrt(e / r) : (e > 0 ? INFINITY : 0.0);
}

static double max_half_gap(const struct lbq_qplan *p)
{
    if (!p || !p->spec.map->build || p->nlev < 2) return NAN;
    double r = 0;
    for (int i = 0; i + 1 < p->nlev; i++) { double h = 0.5 * ((double)p->q[i + 1] - p->q[i]); if (h > r) r = h; }
    return r;
}

static int push_point(struct lbq_sim_result *r, const struct lbq_sim_point *pt)
{
    struct lbq_sim_point *np = realloc(r->pts, sizeof *np * (size_t)(r->npoints + 1));
    if (!np) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    r->pts = np;
    r->pts[r->npoints++] = *pt;
    return LBQ_OK;
}

/* gaussian from two Philox uniforms (Box-Muller) */
static float philox_normal(uint64_t seed, uint64_t idx)
{
    float u1 = lbq_philox_uniform(seed, 2, idx), u2 = lbq_philox_uniform(seed, 3, idx);
    double a = (double)u1 + 0x1p-25;
    return (float)(sqrt(-2.0 * log(a)) * cos(6.283185307179586 * (double)u2));
}

/* The core loop shared by the parameter and synthetic simulations. */
struct sim_ctx {
    struct sim_state m, v;
    int has_m_state;            /* synthetic runs only v */
    int64_t n;
};

static void count_swamp(struct sim_state *s, const float *prev32, const float *now32, double thr)
{
    s->eligible = s->swamped = s->frozen = 0;
    if (!s->plan) return;
    for (int64_t i = 0; i < s->n; i++) {
        if (fabsf(now32[i] - prev32[i]) > (float)thr * fabsf(prev32[i])) {
            s->eligible++;
            if (s->code[i] == s->code_prev[i]) s->swamped++;
            if (s->xs[i] == s->xs_prev[i]) s->frozen++;
        }
    }
}

/* a state stored in fp32 has no codes: its swamping metrics are undefined (NaN, JSON null) */
static void stuck_summary(const struct sim_state *s, double *stuck_all, double *bias)
{
    *stuck_all = 0; *bias = 0;
    if (!s->plan) { *stuck_all = *bias = NAN; return; }
    int64_t elig = 0, stuck = 0;
    double db = 0, da = 0;
    for (int64_t i = 0; i < s->n; i++) {
        if (!s->fp32_changed_ever[i]) continue;
        elig++;
        if (!s->code_changed_ever[i]) { stuck++; db += (double)s->xs[i] - s->x32[i]; da += fabs((double)s->x32[i]); }
    }
    *stuck_all = elig ? (double)stuck / (double)elig : 0.0;
    *bias = da > 0 ? db / da : 0.0;
}

static int run_steps(struct sim_ctx *c, const struct lbq_shape *sh, const struct lbq_sim_opts *o, int T,
                     int (*grad)(void *ud, int t, float *g), void *ud, struct lbq_sim_result *res, int synthetic)
{
    int rc = LBQ_OK;
    int64_t n = c->n;
    float *g = malloc(sizeof(float) * (size_t)n), *g2 = malloc(sizeof(float) * (size_t)n);
    float *p32m = malloc(sizeof(float) * (size_t)n), *p32v = malloc(sizeof(float) * (size_t)n);
    double extra = 0, gvar = 0, bound = 0;
    int64_t ecount = 0;
    double rmax = max_half_gap(c->m.plan);
    if (!g || !g2 || !p32m || !p32v) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
    for (int t = 1; t <= T; t++) {
        LBQ_TRY(grad(ud, t - 1, g));
        for (int64_t i = 0; i < n; i++) g2[i] = synthetic ? g[i] : g[i] * g[i];
        memcpy(p32v, c->v.x32, sizeof(float) * (size_t)n);
        if (c->has_m_state) {
            memcpy(p32m, c->m.x32, sizeof(float) * (size_t)n);
            LBQ_TRY(state_step(&c->m, sh, g, o->swamp_rel, t));
            count_swamp(&c->m, p32m, c->m.x32, o->swamp_rel);
        }
        LBQ_TRY(state_step(&c->v, sh, g2, o->swamp_rel, t));
        count_swamp(&c->v, p32v, c->v.x32, o->swamp_rel);
        memcpy(c->v.code_prev, c->v.code, (size_t)n);
        if (c->has_m_state) memcpy(c->m.code_prev, c->m.code, (size_t)n);
        /* Theorem 3.6: the stored EMA equals an exact EMA of g~ = (m_t - b m_{t-1}) / (1 - b) */
        if (c->has_m_state && c->m.plan) {
            double b = c->m.beta;
            for (int64_t i = 0; i < n; i++) {
                double gt = ((double)c->m.xs[i] - b * c->m.xs_prev[i]) / (1.0 - b);
                double d = gt - g[i];
                extra += d * d; gvar += (double)g[i] * g[i];
                double bb = b / (1.0 - b) * rmax * c->m.scale[i];
                bound += bb * bb;
                ecount++;
            }
        }
        if (t % o->every != 0 && t != T) continue;
        struct lbq_sim_point pt;
        memset(&pt, 0, sizeof pt);
        pt.step = t;
        pt.v_rel = rel_l2(c->v.xs, c->v.x32, n);
        pt.swamp_v = !c->v.plan ? NAN : c->v.eligible ? (double)c->v.swamped / (double)c->v.eligible : 0.0;
        pt.frozen_v = !c->v.plan ? NAN : c->v.eligible ? (double)c->v.frozen / (double)c->v.eligible : 0.0;
        pt.unchanged_v = c->v.plan ? (double)c->v.unchanged / (double)n : NAN;
        int64_t pos = 0, z = 0;
        double ms = 0, m32 = 0;
        for (int64_t i = 0; i < n; i++) {
            if (c->v.x32[i] > 0) { pos++; if (c->v.xs[i] == 0.0f) z++; }
            ms += c->v.xs[i]; m32 += c->v.x32[i];
        }
        pt.collapse_v = pos ? (double)z / (double)pos : 0.0;
        for (int si = 0; si < 2; si++) {     /* structural-zero split (m: only with an m state) */
            const float *x32 = si ? c->v.x32 : c->m.x32, *xs = si ? c->v.xs : c->m.xs;
            if (!si && !c->has_m_state) continue;
            for (int64_t i = 0; i < n; i++) {
                if (x32[i] == 0.0f) { if (xs[i] == 0.0f) pt.zkept[si]++; else pt.zlifted[si]++; }
                else if (xs[i] == 0.0f) pt.zcollapsed[si]++;
            }
        }
        pt.mean_state = ms / (double)n; pt.mean_state_fp32 = m32 / (double)n;
        if (c->has_m_state) {
            pt.m_rel = rel_l2(c->m.xs, c->m.x32, n);
            pt.swamp_m = !c->m.plan ? NAN : c->m.eligible ? (double)c->m.swamped / (double)c->m.eligible : 0.0;
            pt.frozen_m = !c->m.plan ? NAN : c->m.eligible ? (double)c->m.frozen / (double)c->m.eligible : 0.0;
            pt.unchanged_m = c->m.plan ? (double)c->m.unchanged / (double)n : NAN;
            double bc1 = 1.0, bc2 = 1.0;
            int64_t step = o->step0 + t;
            if (o->bias_correct && step > 0) { bc1 = 1.0 - pow(o->beta1, (double)step); bc2 = 1.0 - pow(o->beta2, (double)step); }
            double su = 0, sq = 0, sd = 0, dot = 0;
            int64_t blow = 0;
            for (int64_t i = 0; i < n; i++) {
                double ve = c->v.x32[i] > 0 ? c->v.x32[i] : 0, vq = c->v.pre[i] > 0 ? c->v.pre[i] : 0;
                double ue = (c->m.x32[i] / bc1) / (sqrt(ve / bc2) + o->eps);
                double uq = (c->m.pre[i] / bc1) / (sqrt(vq / bc2) + o->eps);
                su += ue * ue; sq += uq * uq; sd += (uq - ue) * (uq - ue); dot += ue * uq;
                if (fabs(uq) > 10.0 * fabs(ue)) blow++;
            }
            pt.u_rel = su > 0 ? sqrt(sd / su) : (sd > 0 ? INFINITY : 0.0);   /* as analyze */
            pt.u_cos = (su > 0 && sq > 0) ? dot / (sqrt(su) * sqrt(sq)) : 1.0;
            pt.blowup = (double)blow / (double)n;
        } else {
            pt.m_rel = pt.u_rel = pt.u_cos = pt.blowup = pt.swamp_m = pt.frozen_m = pt.unchanged_m = NAN;
        }
        LBQ_TRY(push_point(res, &pt));
    }
    res->steps = T;
    res->n = n;
    stuck_summary(&c->m, &res->stuck_all_m, &res->stuck_bias_m);
    stuck_summary(&c->v, &res->stuck_all_v, &res->stuck_bias_v);
    res->m_extra_var = ecount ? extra / (double)ecount : NAN;
    res->m_grad_var = ecount ? gvar / (double)ecount : NAN;
    res->m_extra_var_bound = ecount ? bound / (double)ecount : NAN;
    double msw = 0, vsw = 0;
    for (int i = 0; i < res->npoints; i++) { msw += res->pts[i].swamp_m; vsw += res->pts[i].swamp_v; }
    res->mean_swamp_m = res->npoints ? msw / res->npoints : NAN;
    res->mean_swamp_v = res->npoints ? vsw / res->npoints : NAN;
    if (res->npoints) { res->final_mean = res->pts[res->npoints - 1].mean_state; res->final_mean_fp32 = res->pts[res->npoints - 1].mean_state_fp32; }
cleanup:
    free(g); free(g2); free(p32m); free(p32v);
    return rc;
}

/* ---- parameter simulations ---- */
struct grad_src {
    struct lbq_file *f;
    int p;
    int source;
    uint64_t seed;
    const float *m0, *v0;
    int64_t n;
};

static int grad_from_src(void *ud, int t, float *g)
{
    struct grad_src *s = ud;
    if (s->source == LBQ_SRC_GRADS) return lbq_file_read(s->f, s->p, LBQ_DS_GRADS, t, 0, s->n, g);
    for (int64_t i = 0; i < s->n; i++) {
        double var = (double)s->v0[i] - (double)s->m0[i] * s->m0[i];
        double sd = var > 0 ? sqrt(var) : 0.0;
        g[i] = (float)((double)s->m0[i] + sd * philox_normal(s->seed, (uint64_t)t * (uint64_t)s->n + (uint64_t)i));
    }
    return LBQ_OK;
}

int lbq_simulate_param(struct lbq_file *f, int p, const struct lbq_config *c, const struct lbq_sim_opts *o,
                       struct lbq_sim_result *out)
{
    int rc = LBQ_OK;
    const struct lbq_param_info *pi = lbq_file_param(f, p);
    const struct lbq_shape *sh = &pi->shape;
    int64_t n = sh->numel;
    struct sim_ctx ctx;
    float *m0 = NULL, *v0 = NULL;
    memset(&ctx, 0, sizeof ctx);
    memset(out, 0, sizeof *out);
    int T = o->steps;
    if (o->source == LBQ_SRC_GRADS) {
        if (!pi->has[LBQ_DS_GRADS]) return lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s' has no 'grads' stream (use --source moments)", lbq_file_path(f), pi->name);
        if (T <= 0 || T > pi->grads_T) T = (int)pi->grads_T;
    }
    if (T <= 0) return lbq_err(LBQ_ERR_ARG, "--steps must be >= 1");
    /* the engine's rule (eval.c): the recipe's fp32 exemption, plan init, SOLO's block fit, plan texts */
    struct lbq_qplan q[2];
    int has[2] = { 0, 0 }, need_st = 0;
    int64_t unit = 128;
    struct lbq_param_eval *pe = malloc(sizeof *pe);
    if (!pe) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    rc = lbq_eval_conf_plans(c, sh, q, has, pe, &unit, &need_st);
    out->kept_fp32 = pe->kept_fp32;
    memcpy(out->m_plan, pe->m_plan, sizeof out->m_plan);
    memcpy(out->v_plan, pe->v_plan, sizeof out->v_plan);
    free(pe);
    if (rc) return rc;
    m0 = malloc(sizeof(float) * (size_t)n);
    v0 = malloc(sizeof(float) * (size_t)n);
    if (!m0 || !v0) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
    LBQ_TRY(lbq_file_read(f, p, LBQ_DS_M, 0, 0, n, m0));
    LBQ_TRY(lbq_file_read(f, p, LBQ_DS_V, 0, 0, n, v0));
    for (int64_t i = 0; i < n; i++)
        if (!lbq_isfinite(m0[i]) || !lbq_isfinite(v0[i])) { rc = lbq_err(LBQ_ERR_DATA, "%s: tensor '%s': NaN/Inf in the initial state; cannot simulate", lbq_file_path(f), pi->name); goto cleanup; }
    ctx.n = n;
    ctx.has_m_state = 1;
    LBQ_TRY(state_init(&ctx.m, has[0] ? &q[0] : NULL, o->beta1, sh, m0));
    LBQ_TRY(state_init(&ctx.v, has[1] ? &q[1] : NULL, o->beta2, sh, v0));
    struct grad_src gs = { f, p, o->source, o->seed, m0, v0, n };
    rc = run_steps(&ctx, sh, o, T, grad_from_src, &gs, out, 0);
cleanup:
    state_free(&ctx.m); state_free(&ctx.v);
    free(m0); free(v0);
    if (rc) lbq_sim_result_free(out);
    return rc;
}

/* ---- SOLO's synthetic case study ---- */
struct syn_src { uint64_t seed; int64_t n; };
static int grad_synthetic(void *ud, int t, float *z)
{
    struct syn_src *s = ud;
    for (int64_t i = 0; i < s->n; i++) z[i] = lbq_philox_uniform(s->seed, 4, (uint64_t)t * (uint64_t)s->n + (uint64_t)i);
    return LBQ_OK;
}

int lbq_simulate_synthetic(const struct lbq_config *c, double beta, const struct lbq_sim_opts *o, struct lbq_sim_result *out)
{
    int rc = LBQ_OK;
    struct sim_ctx ctx;
    struct lbq_qplan pv;
    float *x0 = NULL;
    memset(&ctx, 0, sizeof ctx);
    memset(out, 0, sizeof *out);
    if (o->size < 1) return lbq_err(LBQ_ERR_ARG, "--size must be >= 1");
    if (o->steps < 1) return lbq_err(LBQ_ERR_ARG, "--steps must be >= 1");
    struct lbq_shape sh = { 1, { o->size }, o->size };
    if (c->has_v) LBQ_TRY(lbq_qplan_init(&pv, &c->v, LBQ_ROLE_V, 1));
    if (c->has_v) lbq_qplan_fit(&pv, o->size);      /* SOLO's block rule (log map) */
    x0 = malloc(sizeof(float) * (size_t)o->size);
    if (!x0) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
    for (int64_t i = 0; i < o->size; i++) x0[i] = (float)o->start;
    ctx.n = o->size;
    ctx.has_m_state = 0;
    LBQ_TRY(state_init(&ctx.v, c->has_v ? &pv : NULL, beta, &sh, x0));
    struct syn_src ss = { o->seed, o->size };
    rc = run_steps(&ctx, &sh, o, o->steps, grad_synthetic, &ss, out, 1);
cleanup:
    state_free(&ctx.v);
    free(x0);
    if (rc) lbq_sim_result_free(out);
    return rc;
}

/* ---- the report and its JSON (schema lbq.simulate, docs/schema.md) ---- */
void lbq_sim_report_init(struct lbq_sim_report *rep, const struct lbq_config *c, const struct lbq_sim_opts *o,
                         const struct lbq_file *f)
{
    memset(rep, 0, sizeof *rep);
    rep->source = o->source;
    snprintf(rep->label, sizeof rep->label, "%s", c->label);
    snprintf(rep->m, sizeof rep->m, "%s", c->has_m ? c->m.text : "fp32");
    snprintf(rep->v, sizeof rep->v, "%s", c->has_v ? c->v.text : "fp32");
    rep->swamp_rel = o->swamp_rel;
    rep->seed = o->seed;
    if (f) snprintf(rep->file, sizeof rep->file, "%s", lbq_file_path(f));
    rep->beta1 = o->beta1; rep->beta2 = o->beta2;
    rep->size = o->size; rep->start = o->start; rep->steps = o->steps;
}

int lbq_sim_report_param(struct lbq_sim_report *rep, struct lbq_file *f, int p, const struct lbq_config *c,
                         const struct lbq_sim_opts *o)
{
    struct lbq_sim_row *nr = realloc(rep->rows, sizeof *nr * (size_t)(rep->nrows + 1));
    if (!nr) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    rep->rows = nr;
    struct lbq_sim_row *row = &rep->rows[rep->nrows];
    memset(row, 0, sizeof *row);
    const struct lbq_param_info *pi = lbq_file_param(f, p);
    snprintf(row->name, sizeof row->name, "%s", pi->name);
    row->numel = pi->shape.numel;
    int rc = lbq_simulate_param(f, p, c, o, &row->r);
    if (rc) return rc;
    row->kept_fp32 = row->r.kept_fp32;
    rep->nrows++;
    return LBQ_OK;
}

int lbq_sim_report_synthetic(struct lbq_sim_report *rep, const struct lbq_config *c, double beta,
                             const struct lbq_sim_opts *o)
{
    struct lbq_sim_run *nr = realloc(rep->runs, sizeof *nr * (size_t)(rep->nruns + 1));
    if (!nr) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    rep->runs = nr;
    struct lbq_sim_run *run = &rep->runs[rep->nruns];
    memset(run, 0, sizeof *run);
    run->beta = beta;
    int rc = lbq_simulate_synthetic(c, beta, o, &run->r);
    if (rc) return rc;
    rep->nruns++;
    return LBQ_OK;
}

void lbq_sim_report_free(struct lbq_sim_report *rep)
{
    if (!rep) return;
    for (int i = 0; i < rep->nrows; i++) lbq_sim_result_free(&rep->rows[i].r);
    for (int i = 0; i < rep->nruns; i++) lbq_sim_result_free(&rep->runs[i].r);
    free(rep->rows); free(rep->runs);
    rep->rows = NULL; rep->runs = NULL;
    rep->nrows = rep->nruns = 0;
}

static cJSON *series_json(const struct lbq_sim_result *r, int synthetic)
{
    cJSON *s = cJSON_CreateObject();
    const char *keys[] = { "step", "m_rel", "v_rel", "u_rel", "u_cos", "blowup", "swamp_m", "swamp_v", "unchanged_m", "unchanged_v", "collapse_v", "mean_state", "mean_state_fp32", "frozen_m", "frozen_v" };
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        if (synthetic && (k == 1 || k == 3 || k == 4 || k == 5 || k == 6 || k == 8 || k == 10 || k == 13)) continue;
        cJSON *a = cJSON_AddArrayToObject(s, keys[k]);
        for (int i = 0; i < r->npoints; i++) {
            const struct lbq_sim_point *p = &r->pts[i];
            double v[] = { p->step, p->m_rel, p->v_rel, p->u_rel, p->u_cos, p->blowup, p->swamp_m, p->swamp_v, p->unchanged_m, p->unchanged_v, p->collapse_v, p->mean_state, p->mean_state_fp32, p->frozen_m, p->frozen_v };
            cJSON_AddItemToArray(a, lbq_json_num(v[k]));
        }
    }
    return s;
}

static cJSON *summary_json(const struct lbq_sim_result *r, int synthetic)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "elements", (double)r->n);
    cJSON_AddNumberToObject(o, "steps", r->steps);
    const struct lbq_sim_point *l = r->npoints ? &r->pts[r->npoints - 1] : NULL;
    if (l) {
        if (!synthetic) {
            lbq_json_add_num(o, "final_m_rel", l->m_rel);
            lbq_json_add_num(o, "final_u_rel", l->u_rel);
            lbq_json_add_num(o, "final_u_cos", l->u_cos);
            lbq_json_add_num(o, "final_blowup", l->blowup);
            lbq_json_add_num(o, "final_swamp_m", l->swamp_m);
            lbq_json_add_num(o, "final_collapse_v", l->collapse_v);
            cJSON *zs = cJSON_AddObjectToObject(o, "final_zero_split");    /* docs/metrics.md, structural zeros */
            for (int st = 0; st < 2; st++) {
                cJSON *so = cJSON_AddObjectToObject(zs, st ? "v" : "m");
                cJSON_AddNumberToObject(so, "kept", (double)l->zkept[st]);
                cJSON_AddNumberToObject(so, "lifted", (double)l->zlifted[st]);
                cJSON_AddNumberToObject(so, "collapsed", (double)l->zcollapsed[st]);
            }
        }
        lbq_json_add_num(o, "final_v_rel", l->v_rel);
        lbq_json_add_num(o, "final_swamp_v", l->swamp_v);
        lbq_json_add_num(o, "final_frozen_v", l->frozen_v);
    }
    if (!synthetic) {
        lbq_json_add_num(o, "mean_swamp_m", r->mean_swamp_m);
        lbq_json_add_num(o, "stuck_all_m", r->stuck_all_m);
        lbq_json_add_num(o, "stuck_bias_m", r->stuck_bias_m);
        lbq_json_add_num(o, "m_extra_var", r->m_extra_var);
        lbq_json_add_num(o, "m_grad_sq", r->m_grad_var);
        lbq_json_add_num(o, "m_extra_var_bound", r->m_extra_var_bound);
    }
    lbq_json_add_num(o, "mean_swamp_v", r->mean_swamp_v);
    lbq_json_add_num(o, "stuck_all_v", r->stuck_all_v);
    lbq_json_add_num(o, "stuck_bias_v", r->stuck_bias_v);
    if (synthetic) { lbq_json_add_num(o, "final_mean", r->final_mean); lbq_json_add_num(o, "final_mean_fp32", r->final_mean_fp32); }
    return o;
}

cJSON *lbq_sim_report_json(const struct lbq_sim_report *rep)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON_AddStringToObject(root, "schema", "lbq.simulate");
    cJSON_AddNumberToObject(root, "schema_version", 2);
    cJSON_AddStringToObject(root, "lbq_version", LBQ_VERSION_STRING);
    cJSON *cj = cJSON_AddObjectToObject(root, "config");
    cJSON_AddStringToObject(cj, "label", rep->label);
    cJSON_AddStringToObject(cj, "m", rep->m);
    cJSON_AddStringToObject(cj, "v", rep->v);
    cJSON_AddNumberToObject(cj, "swamp_rel", rep->swamp_rel);
    cJSON_AddNumberToObject(cj, "seed", (double)rep->seed);
    if (rep->source == LBQ_SRC_SYNTHETIC) {
        cJSON_AddStringToObject(cj, "source", "synthetic");
        cJSON_AddNumberToObject(cj, "size", (double)rep->size);
        cJSON_AddNumberToObject(cj, "start", rep->start);
        cJSON_AddNumberToObject(cj, "steps", rep->steps);
        cJSON *runs = cJSON_AddArrayToObject(root, "runs");
        for (int k = 0; k < rep->nruns; k++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "beta", rep->runs[k].beta);
            cJSON_AddItemToObject(o, "summary", summary_json(&rep->runs[k].r, 1));
            cJSON_AddItemToObject(o, "series", series_json(&rep->runs[k].r, 1));
            cJSON_AddItemToArray(runs, o);
        }
    } else {
        cJSON_AddStringToObject(cj, "source", rep->source == LBQ_SRC_GRADS ? "grads" : "moments");
        cJSON_AddStringToObject(cj, "file", rep->file);
        cJSON_AddNumberToObject(cj, "beta1", rep->beta1);
        cJSON_AddNumberToObject(cj, "beta2", rep->beta2);
        cJSON *pa = cJSON_AddArrayToObject(root, "params");
        for (int i = 0; i < rep->nrows; i++) {
            const struct lbq_sim_row *row = &rep->rows[i];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", row->name);
            cJSON_AddNumberToObject(o, "numel", (double)row->numel);
            /* the recipe leaves this tensor's states in fp32: its errors are 0 and its swamping
             * metrics null (nothing quantized); m_plan/v_plan say what each state was stored as */
            cJSON_AddBoolToObject(o, "kept_fp32", row->kept_fp32);
            cJSON_AddStringToObject(o, "m_plan", row->r.m_plan);
            cJSON_AddStringToObject(o, "v_plan", row->r.v_plan);
            cJSON_AddItemToObject(o, "summary", summary_json(&row->r, 0));
            cJSON_AddItemToObject(o, "series", series_json(&row->r, 0));
            cJSON_AddItemToArray(pa, o);
        }
    }
    return root;
}

/* ---- theory ---- */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double lbq_theory_beta_star(const struct lbq_qplan *p)
{
    if (!p->spec.map->build || p->nlev < 2) return NAN;
    double r[LBQ_MAX_LEVELS];
    int n = p->nlev;
    for (int k = 0; k < n; k++) {
        double gl = k > 0 ? (double)p->q[k] - p->q[k - 1] : INFINITY;
        double gr = k + 1 < n ? (double)p->q[k + 1] - p->q[k] : INFINITY;
        r[k] = 0.5 * (gl < gr ? gl : gr);
    }
    qsort(r, (size_t)n, sizeof r[0], cmp_double);
    return 1.0 - r[n / 2];
}

double lbq_theory_r_median(const struct lbq_qplan *p)
{
    if (!p->spec.map->build || p->nlev < 2) return NAN;
    double h[LBQ_MAX_LEVELS];
    int n = p->nlev - 1;
    for (int i = 0; i < n; i++) h[i] = 0.5 * ((double)p->q[i + 1] - p->q[i]);
    qsort(h, (size_t)n, sizeof h[0], cmp_double);
    return h[(n - 1) / 2];
}

double lbq_theory_r_max(const struct lbq_qplan *p) { return max_half_gap(p); }

double lbq_theory_beta_prime(double beta, double r_ref, double r_target)
{
    double x = beta / (1.0 - beta) * r_ref / r_target;
    return x / (1.0 + x);
}
