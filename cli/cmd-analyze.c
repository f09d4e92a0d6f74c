/* cmd-analyze.c - `lbq analyze`: per-parameter state, update and zero-point errors, and memory. */
#include "cli.h"
#include "lbq-analysis.h"
#include "lbq-mpi.h"
#include "plan.h"
#include "lbq-sample.h"

/* the human table: stdout, or stderr when the JSON goes to stdout (--json -) */
static FILE *tout;

const char lbq_usage_analyze[] =
"usage: lbq analyze FILE (--quant SPEC | --quant-m SPEC --quant-v SPEC | --recipe R | --plan P) [options]\n"
"\n"
"Quantize and dequantize every parameter's m (exp_avg) and v (exp_avg_sq) and report, per parameter,\n"
"per role group and in total (four aggregates over tensors: element-weighted mean, the ranking statistic;\n"
"pooled over elements; median; worst tensor): state errors (relative L2, max and mean abs error, quantiles of\n"
"the per-element relative error), the Adam update error (relative L2, cosine, blow-up |u^|>10|u| and\n"
"shrink |u^|<0.1|u| fractions) with bias correction from the file's step and betas, zero-point\n"
"collapse (v > 0 dequantized to exactly 0, and the share of the update those elements carry),\n"
"outlier blocks, and memory.  Metric definitions: docs/metrics.md.\n"
"\n"
"quantizer:\n"
"  --quant SPEC        NORM-MAP[:opt...] for both states, e.g. rank1-linear, block128-dtree\n"
"  --quant-m SPEC      m only (v stays fp32 unless --quant-v is given)\n"
"  --quant-v SPEC      v only\n"
"  --recipe R          lpmm4, bnb8, torchao4, solo42, coat (see 'lbq list')\n"
"  --bits B            bits where the spec does not say (1-8, default 4)\n"
"  --block N           block size for 'block' without a size (default 128)\n"
"  --round nearest|stochastic   rounding (default nearest); --seed S for stochastic\n"
"  --quantile P        log map quantile p (default 0.1)\n"
"  --map-file F        user codebook for the 'file' map\n"
"  --quantize-all      also quantize tensors a recipe leaves in fp32\n"
"  --plan PLAN.json    per tensor the m and v specs of a plan ('lbq recommend -o'; schema lbq.plan/1)\n"
"output:\n"
"  --json OUT          everything, with histograms (schema lbq.analyze/3), streamed to a temporary file\n"
"                      renamed at the end\n"
"  --params N          extrapolate optimizer-state memory to N parameters (e.g. 7e9)\n"
"  --tensor GLOB       only parameters matching GLOB\n"
"  --group REGEX=NAME  put parameters whose name matches REGEX (POSIX extended) in group NAME; repeatable,\n"
"                      the first match wins, before the built-in rule (docs/metrics.md \"Groups\")\n"
"  --outlier-k K       outlier block threshold: max|x| > K * median|x| (default 10)\n"
"  --device auto|cpu|cuda|twin   (default auto: CUDA when a device is present and passes a quick\n"
"                      self-check of its engine; twin: the CUDA engine's CPU twin, for checks)\n"
"  --mem-limit SIZE    slab memory cap (default 1G)\n"
"  --sample F          evaluate a seeded (--seed) sample of whole blocks, F of each tensor (0.05 or 5%%),\n"
"                      and report every aggregate with a 95%% interval (docs/metrics.md)\n"
"  --m-name/--v-name PAT    dataset names (see 'lbq inspect --help')\n"
"  -q, --quiet         no notices on stderr\n";

enum { O_JSON = 1, O_PARAMS, O_TENSOR, O_OUTK, O_DEVICE, O_MEM, O_MNAME, O_VNAME, O_QUIET, O_PLAN, O_GROUP, O_SAMPLE };
static const struct cli_opt own_opts[] = {
    { "json", 1, O_JSON }, { "params", 1, O_PARAMS }, { "tensor", 1, O_TENSOR }, { "outlier-k", 1, O_OUTK },
    { "device", 1, O_DEVICE }, { "mem-limit", 1, O_MEM }, { "m-name", 1, O_MNAME }, { "v-name", 1, O_VNAME },
    { "quiet", 0, O_QUIET }, { "plan", 1, O_PLAN }, { "group", 2, O_GROUP }, { "sample", 1, O_SAMPLE },
};

/* own options + the shared quantizer options in one table */
static struct cli_opt g_opts[64];
static void build_opts(void)
{
    int n = 0;
    for (size_t i = 0; i < sizeof own_opts / sizeof own_opts[0]; i++) g_opts[n++] = own_opts[i];
    for (const struct cli_opt *o = cli_qopt_table; o->name; o++) g_opts[n++] = *o;
    g_opts[n].name = NULL;
}

/* --device auto without a GPU: the note "no CUDA device; using the CPU" is printed only once the
 * work starts (cpu_note), not before an error in the arguments or the input file */
static int g_cpu_note;
static void cpu_note(void)
{
    if (g_cpu_note) cli_note("no CUDA device%s; using the CPU", strstr(lbq_cuda_build_info(), "not built") ? " (CPU-only build)" : "");
    g_cpu_note = 0;
}

int cli_device_select(const char *cmd, const char *dev, int *use_cuda)
{
    *use_cuda = 0;
    if (!dev || strcmp(dev, "auto") == 0) {
        if (lbq_cuda_device_count() > 0) {
            /* the GPU engine only after it reproduces its CPU twin on this device (src/eval-dev.c) */
            if (lbq_devq_selfcheck() == LBQ_OK) *use_cuda = 1;
            else cli_note("CUDA device present but the CUDA engine's self-check failed (%s); using the CPU", lbq_errmsg());
        } else g_cpu_note = 1;
        return 0;
    }
    if (strcmp(dev, "cpu") == 0) return 0;
    if (strcmp(dev, "twin") == 0) { *use_cuda = 2; return 0; }
    if (strcmp(dev, "cuda") == 0 || strcmp(dev, "gpu") == 0) {
        if (lbq_cuda_device_count() == 0) {
            fprintf(stderr, "lbq %s: error: --device cuda: no CUDA device found (%s)\n", cmd, lbq_cuda_build_info());
            return -1;
        }
        *use_cuda = 1;
        return 0;
    }
    cli_usage_error(cmd, "--device: '%s' is not auto, cpu, cuda or twin", dev);
    return -2;
}

static double fmt_pct(double x) { return 100.0 * x; }

/* the structural-zero split of the totals, one line per state (docs/metrics.md "Zeros: kept, lifted,
 * collapsed") */
static void print_zero_split(FILE *out, const struct lbq_acc *tot)
{
    const struct lbq_state_acc *S[2] = { &tot->m, &tot->v };
    for (int s = 0; s < 2; s++) {
        struct lbq_zero_split z;
        lbq_zero_split_of(S[s], &tot->u, &z);
        fprintf(out, "zeros %s: %lld fp32 zeros: %lld kept at 0, %lld lifted to non-zero (%.2f%% of |u^|, %.2f%% of the squared update error); "
                "non-zero collapsed to 0: %lld of %lld (%.4f%%)\n", s ? "v" : "m", (long long)z.zeros, (long long)z.kept,
                (long long)z.lifted, fmt_pct(z.lifted_uh_share), fmt_pct(z.lifted_err_share), (long long)z.collapsed,
                (long long)z.nonzero, fmt_pct(z.collapsed_frac));
    }
}

static struct lbq_file *g_f;

static void note_nonfinite(int i, const struct lbq_param_eval *e)
{
    if (e->acc.m.nonfinite)
        cli_note("warning: tensor '%s': %lld elements with NaN/Inf in m or v, excluded from the metrics",
                 lbq_file_param(g_f, i)->name, (long long)e->acc.m.nonfinite);
}

/* MPI (cli/lbq-mpi.h): a parameter's evaluation goes to rank 0 as bytes (plain data, identical
 * binaries); rank 0 adds each to the analysis as it arrives, in parameter order */
struct mpi_ctx { struct lbq_param_eval *ev; struct lbq_analysis *an; };
static void *mpi_get_eval(void *ud, int i, size_t *len)
{
    const struct mpi_ctx *x = ud;
    void *b = malloc(sizeof *x->ev);
    if (b) memcpy(b, &x->ev[i], sizeof *x->ev);
    *len = sizeof *x->ev;
    return b;
}
static int mpi_put_eval(void *ud, int i, const void *blob, size_t len)
{
    struct mpi_ctx *x = ud;
    if (blob) {
        if (len != sizeof *x->ev) return lbq_err(LBQ_ERR_UNSUPPORTED, "MPI: parameter %d: %zu bytes received, %zu expected (the same lbq binary must run on every rank)", i, len, sizeof *x->ev);
        memcpy(&x->ev[i], blob, sizeof *x->ev);
    }
    note_nonfinite(i, &x->ev[i]);
    return lbq_analysis_add(x->an, i, &x->ev[i]);
}

static const char dashes[] = "--------------------------------------------------------------------------------------------------------------------------------";

/* one line of the table: a tensor (r) or an aggregate (label, v[metric]) */
static void table_line(const char *label, const char *numel, const double *v, const char *mark)
{
    char bits[32];
    snprintf(bits, sizeof bits, "%.2f/%.2f", v[LBQ_MET_BITS_M], v[LBQ_MET_BITS_V]);
    fprintf(tout, "%-34.34s %9s %9.3e %9.3e %8.3f %9.3e %8.5f %8.3f %11s  %s\n", label, numel,
            v[LBQ_MET_M_REL_L2], v[LBQ_MET_V_REL_L2], fmt_pct(v[LBQ_MET_V_ZERO_COLLAPSE]), v[LBQ_MET_UPDATE_REL_L2],
            v[LBQ_MET_UPDATE_COSINE], fmt_pct(v[LBQ_MET_UPDATE_BLOWUP]), bits, mark);
}

static void print_report(const struct lbq_analysis *an, const struct lbq_config *conf, int show_groups,
                         const struct lbq_sample_opts *smp, const struct lbq_sample_acc *s_tot, const struct lbq_ci *t_ci)
{
    const struct lbq_file *f = an->f;
    const struct lbq_hparams *hp = lbq_file_hparams(f);
    const struct lbq_acc *tot = &an->tot;
    fprintf(tout, "%s: %s   (step %lld, beta1 %g, beta2 %g, eps %g)\n", lbq_file_path(f), conf->label, (long long)hp->step, hp->beta1, hp->beta2, hp->eps);
    if (smp)
        fprintf(tout, "SAMPLED: %.4g%% of each tensor's blocks (seed %llu), %lld of %lld elements quantized; every number below\n"
                      "is an estimate; 95%% intervals of the totals follow the table (docs/metrics.md, sampled evaluation)\n",
                100.0 * smp->frac, (unsigned long long)smp->seed, (long long)s_tot->drawn, (long long)s_tot->numel);
    fprintf(tout, "%-34s %9s %9s %9s %8s %9s %8s %8s %11s  %s\n", "parameter", "numel", "m rel-L2", "v rel-L2", "v->0 %",
           "upd relL2", "upd cos", "blowup%", "bits m/v", "");
    for (int k = 0; k < an->nrows; k++) {
        const struct lbq_trow *r = &an->rows[k];
        char mark[128] = "", numel[32];
        if (r->kept_fp32) snprintf(mark, sizeof mark, "fp32 (recipe)");
        for (int w = 0; w < 3; w++) if (an->worst[w] == r->index && r->val[LBQ_MET_UPDATE_REL_L2] > 0) snprintf(mark + strlen(mark), sizeof mark - strlen(mark), "%s<- worst #%d", mark[0] ? " " : "", w + 1);
        if (r->v_solo[0] + r->v_solo[1] + r->v_solo[2]) snprintf(mark + strlen(mark), sizeof mark - strlen(mark), "%sSOLO edge blocks %lld/%lld/%lld", mark[0] ? " " : "",
                                   (long long)r->v_solo[0], (long long)r->v_solo[1], (long long)r->v_solo[2]);
        snprintf(numel, sizeof numel, "%lld", (long long)r->numel);
        table_line(lbq_file_param(f, r->index)->name, numel, r->val, mark);
    }
    fprintf(tout, "%.*s\n", 128, dashes);
    /* the TOTAL lines, each naming its statistic; the ranking statistic first (docs/metrics.md) */
    static const int order[LBQ_NAGG] = { LBQ_AGG_RANK, LBQ_AGG_POOLED, LBQ_AGG_MEDIAN, LBQ_AGG_WORST };
    for (int o = 0; o < LBQ_NAGG; o++) {
        int s = order[o];
        double v[LBQ_NMET];
        char label[64], numel[32], mark[128] = "";
        for (int k = 0; k < LBQ_NMET; k++) v[k] = an->agg[k].v[s];
        static const char *const short_label[LBQ_NAGG] = { "pooled over elements", "element-weighted mean", "median of tensors", "worst tensor" };
        snprintf(label, sizeof label, "TOTAL (%s)", short_label[s]);
        if (s == LBQ_AGG_POOLED || s == LBQ_AGG_WMEAN) snprintf(numel, sizeof numel, "%lld", (long long)an->elems);
        else snprintf(numel, sizeof numel, "-");
        if (s == LBQ_AGG_RANK) snprintf(mark, sizeof mark, "(ranking statistic)");
        if (s == LBQ_AGG_POOLED && tot->v.solo[1] + tot->v.solo[2] + tot->v.solo[3])
            snprintf(mark, sizeof mark, "SOLO edge blocks %lld/%lld/%lld", (long long)tot->v.solo[1], (long long)tot->v.solo[2], (long long)tot->v.solo[3]);
        table_line(label, numel, v, mark);
    }
    if (smp) {
        static const struct { int k; const char *lab; } show[] = {
            { LBQ_SM_M0 + LBQ_SM_REL_L2, "m rel-L2" }, { LBQ_SM_V0 + LBQ_SM_REL_L2, "v rel-L2" },
            { LBQ_SM_V0 + LBQ_SM_ZERO_COLLAPSE, "v->0 (fraction)" }, { LBQ_SM_U_REL_L2, "update rel-L2" },
            { LBQ_SM_U_COSINE, "update cosine" }, { LBQ_SM_U_BLOWUP, "blow-up (fraction)" },
        };
        fprintf(tout, "TOTAL (pooled), sampled estimate [95%% interval]:");
        for (size_t k = 0; k < sizeof show / sizeof show[0]; k++)
            fprintf(tout, "%s %s %.4g [%.4g, %.4g]", k ? ";" : "", show[k].lab, t_ci[show[k].k].est, t_ci[show[k].k].lo, t_ci[show[k].k].hi);
        fprintf(tout, "\n");
    }
    fprintf(tout, "worst tensor per column:");
    for (int k = 0; k < LBQ_NMET; k++) {
        if (k == LBQ_MET_BITS_V) continue;
        struct lbq_agg g0 = an->agg[k];
        const struct lbq_agg *g = &g0;
        if (g0.all_equal) g0.worst = -1;       /* every tensor the same: none is worst */
        if (k == LBQ_MET_BITS_M) {      /* bits: the tensor with the most bits per element of m */
            fprintf(tout, "%s bits m %s", k ? ";" : "", g->worst >= 0 ? lbq_file_param(f, g->worst)->name : "(all equal)");
            continue;
        }
        static const char *const col[LBQ_NMET] = { "m rel-L2", "v rel-L2", "v->0", "upd relL2", "upd cos", "blowup" };
        fprintf(tout, "%s %s %s", k ? ";" : "", col[k], g->worst >= 0 ? lbq_file_param(f, g->worst)->name : "(all equal)");
    }
    fprintf(tout, "\n");
    if (show_groups) {
        fprintf(tout, "per group (update rel-L2 as pooled / element-weighted mean / median / worst; m, v rel-L2: element-weighted means):\n");
        fprintf(tout, "%-12s %7s %9s %9s %9s %9s %9s %9s %9s %11s  %s\n", "group", "tensors", "numel", "m rel-L2", "v rel-L2",
                "upd pool", "upd mean", "upd med", "upd worst", "bits m/v", "worst tensor");
        for (int g = 0; g < an->ngroups; g++) {
            const struct lbq_group_res *gr = &an->grp[g];
            if (!gr->ntensors) continue;
            const struct lbq_agg *u = &gr->agg[LBQ_MET_UPDATE_REL_L2];
            char bits[32];
            snprintf(bits, sizeof bits, "%.2f/%.2f", gr->bits_m / gr->elems, gr->bits_v / gr->elems);
            fprintf(tout, "%-12.12s %7d %9lld %9.3e %9.3e %9.3e %9.3e %9.3e %9.3e %11s  %s\n",
                    an->groups ? lbq_groups_name(an->groups, g) : "all", gr->ntensors, (long long)gr->elems,
                    gr->agg[LBQ_MET_M_REL_L2].v[LBQ_AGG_WMEAN], gr->agg[LBQ_MET_V_REL_L2].v[LBQ_AGG_WMEAN],
                    u->v[LBQ_AGG_POOLED], u->v[LBQ_AGG_WMEAN], u->v[LBQ_AGG_MEDIAN], u->v[LBQ_AGG_WORST], bits,
                    u->worst < 0 ? "-" : u->all_equal ? "(all equal)" : lbq_file_param(f, u->worst)->name);
        }
    }
    struct lbq_state_res tvr;
    struct lbq_update_res tur;
    lbq_state_result(&tot->v, &tvr);
    lbq_update_result(&tot->u, &tur);
    fprintf(tout, "zero-point: %lld of %lld positive v elements dequantize to 0 (%.4f%%); they carry %.2f%% of |u| (exact) and %.2f%% of |u^|\n",
           (long long)tot->v.pos_to_zero, (long long)tot->v.pos, fmt_pct(tvr.zero_collapse), fmt_pct(tur.collapse_share), fmt_pct(tur.collapse_share_quant));
    print_zero_split(tout, tot);
    fprintf(tout, "memory: m+v fp32 %.3f MB -> quantized %.3f MB (%.2f + %.2f bits/element incl. scales; %.1fx smaller)\n",
           an->fp32_bytes / 1e6, an->q_bytes / 1e6, an->bpe_m, an->bpe_v, an->q_bytes > 0 ? an->fp32_bytes / an->q_bytes : 0.0);
    if (an->nparams_x > 0)
        fprintf(tout, "at %.3g parameters: fp32 states %.2f GB, quantized %.2f GB, saved %.2f GB\n", an->nparams_x,
               an->x_fp32_gb, an->x_quantized_gb, an->x_saved_gb);
}

static int run_analyze(struct cli_parser *pp, struct cli_qopts *qo, struct lbq_open_opts *oo, struct lbq_eval_opts *eo,
                       const char *json_out, const char *device, const char *plan_path, const struct lbq_groups *groups,
                       double nparams_x, long long mem, const struct lbq_sample_opts *smp)
{
    struct cli_parser p = *pp;
    struct cli_plan *plan = NULL;
    int rc = LBQ_OK, exitc = 0;
    if (p.npos != 1) return cli_usage_error("analyze", p.npos ? "expected one FILE, got %d arguments" : "missing FILE%.0d", p.npos);
    if ((exitc = cli_check_output("--json", json_out, p.positional[0], CLI_OUT_TEXT))) return exitc;
    struct lbq_config conf;
    if (plan_path) {        /* per tensor its own m and v specs (cli/plan.c) */
        if (qo->quant || qo->quant_m || qo->quant_v || qo->recipe) return cli_usage_error("analyze", "--plan cannot be combined with --quant/--quant-m/--quant-v/--recipe");
        if ((rc = cli_plan_load(plan_path, &plan)) != LBQ_OK) return cli_fail(rc);
        memset(&conf, 0, sizeof conf);
        snprintf(conf.label, sizeof conf.label, "plan %s", plan_path);
    } else if (cli_qopts_config(qo, "analyze", &conf)) return LBQ_EXIT_USAGE;
    tout = (json_out && strcmp(json_out, "-") == 0) ? stderr : stdout;
    int use_cuda = 0;
    int dr = cli_device_select("analyze", device, &use_cuda);
    if (dr == -2) { cli_plan_free(plan); return LBQ_EXIT_USAGE; }
    if (lbq_mpi_agree(dr == -1 ? LBQ_ERR_CUDA : LBQ_OK)) { cli_plan_free(plan); return LBQ_EXIT_CUDA; }   /* -1: message printed */
    eo->device = use_cuda;
    eo->mem_limit = mem;

    struct lbq_file *f = NULL;
    struct lbq_param_eval *ev = NULL;       /* MPI: every parameter's evaluation; else one at a time */
    struct lbq_analysis an;
    struct lbq_sample_acc *s_one = NULL, *s_tot = NULL;
    struct lbq_ci *s_ci = NULL;
    int *owner = NULL;
    int64_t *numel = NULL;
    memset(&an, 0, sizeof an);
    cli_guard_file(p.positional[0]);
    rc = lbq_file_open(p.positional[0], oo, &f);
    if (!rc) rc = lbq_file_set_mem_limit(f, mem);       /* the file's chunking vs --mem-limit */
    if (!rc) lbq_file_set_fingerprint(f, 0);            /* only sweep's resume identity needs it */
    if (!rc && plan) rc = cli_plan_check(plan, f, oo->tensor_glob == NULL);
    if ((rc = lbq_mpi_agree(rc)) != 0) goto cleanup;
    g_f = f;
    cpu_note();
    cli_print_file_notes(f);
    int np = lbq_file_nparams(f);
    int mpi = lbq_mpi_size() > 1;
    ev = calloc(mpi ? (size_t)np : 1, sizeof *ev);
    owner = calloc((size_t)np + 1, sizeof *owner);
    numel = calloc((size_t)np + 1, sizeof *numel);
    if (!ev || !owner || !numel) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
    if (smp) {      /* --sample: a tensor's replicate slots, the totals', an interval set */
        s_one = malloc(sizeof *s_one); s_tot = malloc(sizeof *s_tot); s_ci = malloc(sizeof(struct lbq_ci) * LBQ_SM_COUNT);
        if (!s_one || !s_tot || !s_ci) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
        lbq_sample_acc_zero(s_tot);
    }
    /* the result object (src/analysis.c): rank 0 opens the JSON output now and streams into it */
    struct lbq_analysis_info info = { &conf, plan ? plan_path : NULL, use_cuda == 2 ? "twin" : use_cuda ? "cuda" : "cpu", eo->outlier_k };
    if (lbq_mpi_rank() == 0) rc = lbq_analysis_begin(&an, f, groups, nparams_x, json_out, &info);
    if ((rc = lbq_mpi_agree(rc)) != 0) goto cleanup;
    /* MPI: parameters split over the ranks by element count (one rank: all are ours) */
    for (int i = 0; i < np; i++) numel[i] = lbq_file_param(f, i)->shape.numel;
    lbq_mpi_partition(numel, np, owner);
    lbq_mpi_note_balance("analyze", numel, owner, np, "tensors");
    for (int i = 0; i < np; i++) {
        if (owner[i] != lbq_mpi_rank()) continue;
        struct lbq_config pc = conf;
        struct lbq_param_eval *e = mpi ? &ev[i] : ev;
        if (plan) LBQ_TRY(cli_plan_config(plan, lbq_file_param(f, i)->name, &pc));
        if (smp) {      /* the estimate in e, its interval into the row's JSON, the slots into the totals' */
            LBQ_TRY(lbq_eval_param_sampled(f, i, &pc, 1, eo, smp, s_one, e));
            lbq_sample_ci(s_one, 1.0, s_ci);
            lbq_sample_acc_merge(s_tot, s_one);
            an.row_ci = lbq_sample_ci_json(s_ci);
        } else LBQ_TRY(lbq_eval_param(f, i, &pc, 1, eo, e));
        if (!mpi) {
            note_nonfinite(i, e);
            LBQ_TRY(lbq_analysis_add(&an, i, e));      /* merged, a compact row kept, JSON written */
        }
    }
    if (mpi) {   /* every evaluation to rank 0, in parameter order */
        struct mpi_ctx x = { ev, &an };
        LBQ_TRY(lbq_mpi_agree(LBQ_OK));
        rc = lbq_mpi_collect(owner, np, mpi_get_eval, mpi_put_eval, &x);
        LBQ_TRY(lbq_mpi_agree(rc));
        if (lbq_mpi_rank() != 0) goto cleanup;
    }
    if (smp) {
        lbq_sample_ci(s_tot, 1.0, s_ci);
        an.totals_ci = lbq_sample_ci_json(s_ci);
        cJSON *so = an.sample = cJSON_CreateObject();
        cJSON_AddNumberToObject(so, "fraction", smp->frac);
        cJSON_AddNumberToObject(so, "seed", (double)smp->seed);
        cJSON_AddNumberToObject(so, "groups", LBQ_SAMPLE_GROUPS);
        cJSON_AddNumberToObject(so, "level", 0.95);
        cJSON_AddNumberToObject(so, "elements_drawn", (double)s_tot->drawn);
        cJSON_AddNumberToObject(so, "elements", (double)s_tot->numel);
    }
    LBQ_TRY(lbq_analysis_end(&an));
    print_report(&an, &conf, groups != NULL, smp, s_tot, s_ci);
cleanup:
    rc = lbq_mpi_agree(rc);     /* pairs with the other ranks' next agreement; identity without MPI */
    if (rc) exitc = lbq_mpi_fail(rc);
    lbq_analysis_free(&an);     /* an unfinished JSON output is removed */
    free(ev); free(owner); free(numel); free(s_one); free(s_tot); free(s_ci);
    if (!exitc) cli_print_read_notes(f);     /* negative v (issue 16) */
    lbq_file_close(f);
    cli_plan_free(plan);
    return exitc;
}

int cmd_analyze(int argc, char **argv)
{
    build_opts();
    struct cli_parser p = { "analyze", g_opts, argc, argv, 1, {0}, 0 };
    struct cli_qopts qo;
    struct lbq_open_opts oo = { 0, 0, 0 };
    struct lbq_eval_opts eo = { 0, 10.0, 0, NULL, NULL, NULL };
    const char *val, *json_out = NULL, *device = "auto", *plan_path = NULL;
    struct lbq_groups *groups = NULL;
    double nparams_x = 0;
    long long mem = 1LL << 30;
    int id, exitc = 0, sampled = 0;
    struct lbq_sample_opts smp = { 1.0, 0 };
    cli_qopts_init(&qo);
    if (lbq_groups_new(&groups)) return cli_fail(LBQ_ERR_NOMEM);
    while ((id = cli_next(&p, &val)) != 0) {
        if (id < 0) { exitc = LBQ_EXIT_USAGE; goto out; }
        if (id == 'h') { exitc = cli_help("analyze"); goto out; }
        int t = cli_qopts_take(&qo, "analyze", id, val);
        if (t < 0) { exitc = LBQ_EXIT_USAGE; goto out; }
        if (t > 0) continue;
        switch (id) {
        case O_JSON: json_out = val; break;
        case O_PARAMS: if (cli_double("analyze", "--params", val, 1.0, 1e15, &nparams_x)) { exitc = LBQ_EXIT_USAGE; goto out; } break;
        case O_TENSOR: oo.tensor_glob = val; break;
        case O_OUTK: if (cli_double("analyze", "--outlier-k", val, 1.0, 1e9, &eo.outlier_k)) { exitc = LBQ_EXIT_USAGE; goto out; } break;
        case O_DEVICE: device = val; break;
        case O_MEM: if (cli_bytes("analyze", "--mem-limit", val, &mem)) { exitc = LBQ_EXIT_USAGE; goto out; } break;
        case O_MNAME: oo.m_name = val; break;
        case O_VNAME: oo.v_name = val; break;
        case O_QUIET: g_cli_quiet = 1; break;
        case O_PLAN: plan_path = val; break;
        case O_GROUP:
            if (lbq_groups_add_rule(groups, val)) { exitc = cli_usage_error("analyze", "%s", lbq_errmsg()); goto out; }
            break;
        case O_SAMPLE:
            if (lbq_sample_parse(val, &smp.frac)) { exitc = cli_usage_error("analyze", "%s", lbq_errmsg()); goto out; }
            sampled = 1;
            break;
        }
    }
    if (sampled && lbq_mpi_size() > 1) { exitc = cli_usage_error("analyze", "--sample is not supported under MPI (run one process)"); goto out; }
    smp.seed = qo.d.seed;
    exitc = run_analyze(&p, &qo, &oo, &eo, json_out, device, plan_path, groups, nparams_x, mem, sampled ? &smp : NULL);
out:
    lbq_groups_free(groups);
    return exitc;
}
