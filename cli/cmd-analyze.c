/* cmd-analyze.c - `lbq analyze`: per-parameter state, update and zero-point errors, and memory. */
#include "cli.h"
#include "lbq-report.h"
#include "lbq-mpi.h"
#include "plan.h"
#include "lbq-sample.h"

/* the human table: stdout, or stderr when the JSON goes to stdout (--json -) */
static FILE *tout;

const char lbq_usage_analyze[] =
"usage: lbq analyze FILE (--quant SPEC | --quant-m SPEC --quant-v SPEC | --recipe R | --plan P) [options]\n"
"\n"
"Quantize and dequantize every parameter's m (exp_avg) and v (exp_avg_sq) and report, per parameter\n"
"and in total (weighted by elements): state errors (relative L2, max and mean abs error, quantiles of\n"
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
"  --json OUT          everything, with histograms (schema lbq.analyze/3), written atomically\n"
"  --params N          extrapolate optimizer-state memory to N parameters (e.g. 7e9)\n"
"  --tensor GLOB       only parameters matching GLOB\n"
"  --outlier-k K       outlier block threshold: max|x| > K * median|x| (default 10)\n"
"  --device auto|cpu|cuda|twin   (default auto: CUDA when a device is present and passes a quick\n"
"                      self-check of its engine; twin: the CUDA engine's CPU twin, for checks)\n"
"  --mem-limit SIZE    slab memory cap (default 1G)\n"
"  --sample F          evaluate a seeded (--seed) sample of whole blocks, F of each tensor (0.05 or 5%%),\n"
"                      and report every aggregate with a 95%% interval (docs/metrics.md)\n"
"  --m-name/--v-name PAT    dataset names (see 'lbq inspect --help')\n"
"  -q, --quiet         no notices on stderr\n";

enum { O_JSON = 1, O_PARAMS, O_TENSOR, O_OUTK, O_DEVICE, O_MEM, O_MNAME, O_VNAME, O_QUIET, O_PLAN, O_SAMPLE };
static const struct cli_opt own_opts[] = {
    { "json", 1, O_JSON }, { "params", 1, O_PARAMS }, { "tensor", 1, O_TENSOR }, { "outlier-k", 1, O_OUTK },
    { "device", 1, O_DEVICE }, { "mem-limit", 1, O_MEM }, { "m-name", 1, O_MNAME }, { "v-name", 1, O_VNAME },
    { "quiet", 0, O_QUIET }, { "plan", 1, O_PLAN },
    { "sample", 1, O_SAMPLE },
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

static struct lbq_file *g_f;
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

static void note_nonfinite(int i, const struct lbq_param_eval *e)
{
    if (e->acc.m.nonfinite)
        cli_note("warning: tensor '%s': %lld elements with NaN/Inf in m or v, excluded from the metrics",
                 lbq_file_param(g_f, i)->name, (long long)e->acc.m.nonfinite);
}

/* MPI (cli/lbq-mpi.h): a parameter's evaluation goes to rank 0 as bytes (plain data, identical binaries) */
static void *mpi_get_eval(void *ud, int i, size_t *len)
{
    const struct lbq_param_eval *ev = ud;
    void *b = malloc(sizeof *ev);
    if (b) memcpy(b, &ev[i], sizeof *ev);
    *len = sizeof *ev;
    return b;
}
static int mpi_put_eval(void *ud, int i, const void *blob, size_t len)
{
    struct lbq_param_eval *ev = ud;
    if (blob) {
        if (len != sizeof *ev) return lbq_err(LBQ_ERR_UNSUPPORTED, "MPI: parameter %d: %zu bytes received, %zu expected (the same lbq binary must run on every rank)", i, len, sizeof *ev);
        memcpy(&ev[i], blob, sizeof *ev);
    }
    note_nonfinite(i, &ev[i]);
    return LBQ_OK;
}

int cmd_analyze(int argc, char **argv)
{
    build_opts();
    struct cli_parser p = { "analyze", g_opts, argc, argv, 1, {0}, 0 };
    struct cli_qopts qo;
    struct lbq_open_opts oo = { 0, 0, 0 };
    struct lbq_eval_opts eo = { 0, 10.0, 0, NULL, NULL };
    const char *val, *json_out = NULL, *device = "auto", *plan_path = NULL;
    struct cli_plan *plan = NULL;
    double nparams_x = 0;
    long long mem = 1LL << 30;
    int id, rc = LBQ_OK, exitc = 0, sampled = 0;
    struct lbq_sample_opts smp = { 1.0, 0 };
    cli_qopts_init(&qo);
    while ((id = cli_next(&p, &val)) != 0) {
        if (id < 0) return LBQ_EXIT_USAGE;
        if (id == 'h') return cli_help("analyze");
        int t = cli_qopts_take(&qo, "analyze", id, val);
        if (t < 0) return LBQ_EXIT_USAGE;
        if (t > 0) continue;
        switch (id) {
        case O_JSON: json_out = val; break;
        case O_PARAMS: if (cli_double("analyze", "--params", val, 1.0, 1e15, &nparams_x)) return LBQ_EXIT_USAGE; break;
        case O_TENSOR: oo.tensor_glob = val; break;
        case O_OUTK: if (cli_double("analyze", "--outlier-k", val, 1.0, 1e9, &eo.outlier_k)) return LBQ_EXIT_USAGE; break;
        case O_DEVICE: device = val; break;
        case O_MEM: if (cli_bytes("analyze", "--mem-limit", val, &mem)) return LBQ_EXIT_USAGE; break;
        case O_MNAME: oo.m_name = val; break;
        case O_VNAME: oo.v_name = val; break;
        case O_QUIET: g_cli_quiet = 1; break;
        case O_PLAN: plan_path = val; break;
        case O_SAMPLE: if (lbq_sample_parse(val, &smp.frac)) return cli_usage_error("analyze", "%s", lbq_errmsg()); sampled = 1; break;
        }
    }
    if (p.npos != 1) return cli_usage_error("analyze", p.npos ? "expected one FILE, got %d arguments" : "missing FILE%.0d", p.npos);
    if (sampled && lbq_mpi_size() > 1) return cli_usage_error("analyze", "--sample is not supported under MPI (run one process)");
    smp.seed = qo.d.seed;
    if ((exitc = cli_check_output("--json", json_out, p.positional[0], CLI_OUT_TEXT))) return exitc;
    struct lbq_config conf;
    if (plan_path) {        /* per tensor its own m and v specs (cli/plan.c) */
        if (qo.quant || qo.quant_m || qo.quant_v || qo.recipe) return cli_usage_error("analyze", "--plan cannot be combined with --quant/--quant-m/--quant-v/--recipe");
        if ((rc = cli_plan_load(plan_path, &plan)) != LBQ_OK) return cli_fail(rc);
        memset(&conf, 0, sizeof conf);
        snprintf(conf.label, sizeof conf.label, "plan %s", plan_path);
    } else if (cli_qopts_config(&qo, "analyze", &conf)) return LBQ_EXIT_USAGE;
    tout = (json_out && strcmp(json_out, "-") == 0) ? stderr : stdout;
    int use_cuda = 0;
    int dr = cli_device_select("analyze", device, &use_cuda);
    if (dr == -2) return LBQ_EXIT_USAGE;
    if (lbq_mpi_agree(dr == -1 ? LBQ_ERR_CUDA : LBQ_OK)) return LBQ_EXIT_CUDA;   /* -1: message printed */
    eo.device = use_cuda;
    eo.mem_limit = mem;

    struct lbq_file *f = NULL;
    struct lbq_param_eval *ev = NULL;
    cJSON *root = NULL;
    int *owner = NULL;
    int64_t *numel = NULL;
    struct lbq_sample_acc *s_one = NULL, *s_tot = NULL;     /* --sample: a tensor's slots, the totals' */
    struct lbq_ci (*s_ci)[LBQ_SM_COUNT] = NULL, *t_ci = NULL;
    cli_guard_file(p.positional[0]);
    rc = lbq_file_open(p.positional[0], &oo, &f);
    if (!rc) rc = lbq_file_set_mem_limit(f, mem);       /* the file's chunking vs --mem-limit */
    if (!rc && plan) rc = cli_plan_check(plan, f, oo.tensor_glob == NULL);
    if ((rc = lbq_mpi_agree(rc)) != 0) goto cleanup;
    g_f = f;
    cpu_note();
    cli_print_file_notes(f);
    int np = lbq_file_nparams(f);
    ev = calloc((size_t)np, sizeof *ev);
    owner = calloc((size_t)np, sizeof *owner);
    numel = calloc((size_t)np, sizeof *numel);
    if (!ev || !owner || !numel) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
    if (sampled) {
        s_one = malloc(sizeof *s_one); s_tot = malloc(sizeof *s_tot);
        s_ci = calloc((size_t)np + 1, sizeof *s_ci); t_ci = malloc(sizeof(struct lbq_ci) * LBQ_SM_COUNT);
        if (!s_one || !s_tot || !s_ci || !t_ci) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
        lbq_sample_acc_zero(s_tot);
    }
    /* MPI: parameters split over the ranks by element count (one rank: all are ours) */
    for (int i = 0; i < np; i++) numel[i] = lbq_file_param(f, i)->shape.numel;
    lbq_mpi_partition(numel, np, owner);
    lbq_mpi_note_balance("analyze", numel, owner, np, "tensors");
    for (int i = 0; i < np; i++) {
        if (owner[i] != lbq_mpi_rank()) continue;
        struct lbq_config pc = conf;
        if (plan) LBQ_TRY(cli_plan_config(plan, lbq_file_param(f, i)->name, &pc));
        if (sampled) {     /* the estimate in ev[i], its interval now, the slots into the totals' */
            LBQ_TRY(lbq_eval_param_sampled(f, i, &pc, 1, &eo, &smp, s_one, &ev[i]));
            lbq_sample_ci(s_one, 1.0, s_ci[i]);
            lbq_sample_acc_merge(s_tot, s_one);
        } else LBQ_TRY(lbq_eval_param(f, i, &pc, 1, &eo, &ev[i]));
        if (lbq_mpi_size() == 1) note_nonfinite(i, &ev[i]);
    }
    if (lbq_mpi_size() > 1) {   /* every evaluation to rank 0, in parameter order */
        LBQ_TRY(lbq_mpi_agree(LBQ_OK));
        rc = lbq_mpi_collect(owner, np, mpi_get_eval, mpi_put_eval, ev);
        LBQ_TRY(lbq_mpi_agree(rc));
        if (lbq_mpi_rank() != 0) goto cleanup;
    }
    /* totals, worst tensors and memory: the library's analysis object (src/report.c) */
    struct lbq_analysis an;
    lbq_analysis_totals(f, ev, np, nparams_x, &an);
    const struct lbq_acc tot = an.tot;
    const double elems = an.elems, bpe_m = an.bpe_m, bpe_v = an.bpe_v;
    const int64_t nonfinite = an.nonfinite;
    const int *worst = an.worst;
    const struct lbq_hparams *hp = lbq_file_hparams(f);
    fprintf(tout, "%s: %s   (step %lld, beta1 %g, beta2 %g, eps %g)\n", lbq_file_path(f), conf.label, (long long)hp->step, hp->beta1, hp->beta2, hp->eps);
    if (sampled) {
        lbq_sample_ci(s_tot, 1.0, t_ci);
        fprintf(tout, "SAMPLED: %.4g%% of each tensor's blocks (seed %llu), %lld of %lld elements quantized; every number below\n"
                      "is an estimate; 95%% intervals of the totals follow the table (docs/metrics.md, sampled evaluation)\n",
                100.0 * smp.frac, (unsigned long long)smp.seed, (long long)s_tot->drawn, (long long)s_tot->numel);
    }
    fprintf(tout, "%-34s %9s %9s %9s %8s %9s %8s %8s %11s  %s\n", "parameter", "numel", "m rel-L2", "v rel-L2", "v->0 %",
           "upd relL2", "upd cos", "blowup%", "bits m/v", "");
    for (int i = 0; i <= np; i++) {
        const struct lbq_acc *a = i < np ? &ev[i].acc : &tot;
        struct lbq_state_res mr, vr;
        struct lbq_update_res ur;
        lbq_state_result(&a->m, &mr);
        lbq_state_result(&a->v, &vr);
        lbq_update_result(&a->u, &ur);
        char bits[32], mark[128] = "";
        if (i < np) {
            snprintf(bits, sizeof bits, "%.2f/%.2f", ev[i].m_size.bits_per_elem, ev[i].v_size.bits_per_elem);
            if (ev[i].kept_fp32) snprintf(mark, sizeof mark, "fp32 (recipe)");
            for (int k = 0; k < 3; k++) if (worst[k] == i && ur.rel_l2 > 0) snprintf(mark + strlen(mark), sizeof mark - strlen(mark), "%s<- worst #%d", mark[0] ? " " : "", k + 1);
        }
        if (a->v.solo[1] + a->v.solo[2] + a->v.solo[3]) snprintf(mark + strlen(mark), sizeof mark - strlen(mark), "%sSOLO edge blocks %lld/%lld/%lld", mark[0] ? " " : "",
                                   (long long)a->v.solo[1], (long long)a->v.solo[2], (long long)a->v.solo[3]);
        if (i >= np) {
            fprintf(tout, "%.*s\n", 128, "--------------------------------------------------------------------------------------------------------------------------------");
            snprintf(bits, sizeof bits, "%.2f/%.2f", bpe_m, bpe_v);
        }
        fprintf(tout, "%-34.34s %9lld %9.3e %9.3e %8.3f %9.3e %8.5f %8.3f %11s  %s\n",
               i < np ? lbq_file_param(f, i)->name : "TOTAL (element-weighted)",
               i < np ? (long long)lbq_file_param(f, i)->shape.numel : (long long)elems,
               mr.rel_l2, vr.rel_l2, fmt_pct(vr.zero_collapse), ur.rel_l2, ur.cosine, fmt_pct(ur.blowup_frac), bits, mark);
    }
    if (sampled) {
        static const struct { int k; const char *lab; } show[] = {
            { LBQ_SM_M0 + LBQ_SM_REL_L2, "m rel-L2" }, { LBQ_SM_V0 + LBQ_SM_REL_L2, "v rel-L2" },
            { LBQ_SM_V0 + LBQ_SM_ZERO_COLLAPSE, "v->0 (fraction)" }, { LBQ_SM_U_REL_L2, "update rel-L2" },
            { LBQ_SM_U_COSINE, "update cosine" }, { LBQ_SM_U_BLOWUP, "blow-up (fraction)" },
        };
        fprintf(tout, "TOTAL, sampled estimate [95%% interval]:");
        for (size_t k = 0; k < sizeof show / sizeof show[0]; k++)
            fprintf(tout, "%s %s %.4g [%.4g, %.4g]", k ? ";" : "", show[k].lab, t_ci[show[k].k].est, t_ci[show[k].k].lo, t_ci[show[k].k].hi);
        fprintf(tout, "\n");
    }
    struct lbq_state_res tvr;
    struct lbq_update_res tur;
    lbq_state_result(&tot.v, &tvr);
    lbq_update_result(&tot.u, &tur);
    const double fp32_bytes = an.fp32_bytes, q_bytes = an.q_bytes;
    fprintf(tout, "zero-point: %lld of %lld positive v elements dequantize to 0 (%.4f%%); they carry %.2f%% of |u| (exact) and %.2f%% of |u^|\n",
           (long long)tot.v.pos_to_zero, (long long)tot.v.pos, fmt_pct(tvr.zero_collapse), fmt_pct(tur.collapse_share), fmt_pct(tur.collapse_share_quant));
    print_zero_split(tout, &tot);
    fprintf(tout, "memory: m+v fp32 %.3f MB -> quantized %.3f MB (%.2f + %.2f bits/element incl. scales; %.1fx smaller)\n",
           fp32_bytes / 1e6, q_bytes / 1e6, bpe_m, bpe_v, q_bytes > 0 ? fp32_bytes / q_bytes : 0.0);
    if (nparams_x > 0)
        fprintf(tout, "at %.3g parameters: fp32 states %.2f GB, quantized %.2f GB, saved %.2f GB\n", nparams_x,
               an.x_fp32_gb, an.x_quantized_gb, an.x_saved_gb);
    if (json_out) {
        root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "schema", "lbq.analyze");
        cJSON_AddNumberToObject(root, "schema_version", 3);
        cJSON_AddStringToObject(root, "lbq_version", LBQ_VERSION_STRING);
        cJSON_AddStringToObject(root, "file", lbq_file_path(f));
        cJSON_AddItemToObject(root, "hparams", lbq_hparams_json(f));
        if (sampled) {
            cJSON *so = cJSON_AddObjectToObject(root, "sample");
            cJSON_AddNumberToObject(so, "fraction", smp.frac);
            cJSON_AddNumberToObject(so, "seed", (double)smp.seed);
            cJSON_AddNumberToObject(so, "groups", LBQ_SAMPLE_GROUPS);
            cJSON_AddNumberToObject(so, "level", 0.95);
            cJSON_AddNumberToObject(so, "elements_drawn", (double)s_tot->drawn);
            cJSON_AddNumberToObject(so, "elements", (double)s_tot->numel);
        }
        cJSON *c = cJSON_AddObjectToObject(root, "config");
        cJSON_AddStringToObject(c, "label", conf.label);
        cJSON_AddStringToObject(c, "m", plan ? "plan" : conf.has_m ? conf.m.text : "fp32");
        cJSON_AddStringToObject(c, "v", plan ? "plan" : conf.has_v ? conf.v.text : "fp32");
        if (plan) cJSON_AddStringToObject(c, "plan", plan_path);
        if (conf.recipe) cJSON_AddStringToObject(c, "recipe", conf.recipe->name); else cJSON_AddNullToObject(c, "recipe");
        cJSON_AddBoolToObject(c, "quantize_all", conf.quantize_all);
        cJSON_AddStringToObject(c, "device", use_cuda == 2 ? "twin" : use_cuda ? "cuda" : "cpu");
        cJSON_AddNumberToObject(c, "outlier_k", eo.outlier_k);
        cJSON *cc = cJSON_AddObjectToObject(c, "codebook_cpu");    /* torch CPU kernel of the codebooks */
        if (conf.has_m && conf.m.map->build) cJSON_AddStringToObject(cc, "m", lbq_cpu_name(conf.m.cpu)); else cJSON_AddNullToObject(cc, "m");
        if (conf.has_v && conf.v.map->build) cJSON_AddStringToObject(cc, "v", lbq_cpu_name(conf.v.cpu)); else cJSON_AddNullToObject(cc, "v");
        cJSON *pa = cJSON_AddArrayToObject(root, "params");
        for (int i = 0; i < np; i++) {
            const struct lbq_param_info *pi = lbq_file_param(f, i);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", pi->name);
            cJSON *sa = cJSON_AddArrayToObject(o, "shape");
            for (int d = 0; d < pi->shape.rank; d++) cJSON_AddItemToArray(sa, cJSON_CreateNumber((double)pi->shape.dim[d]));
            cJSON_AddNumberToObject(o, "numel", (double)pi->shape.numel);
            cJSON_AddBoolToObject(o, "kept_fp32", ev[i].kept_fp32);
            cJSON_AddStringToObject(o, "m_plan", ev[i].m_plan);
            cJSON_AddStringToObject(o, "v_plan", ev[i].v_plan);
            cJSON *mets = lbq_acc_json(&ev[i].acc, &ev[i].m_size, &ev[i].v_size, 1);
            cJSON *it = mets->child;
            while (it) { cJSON *nx = it->next; cJSON_AddItemToObject(o, it->string, cJSON_DetachItemViaPointer(mets, it)); it = nx; }
            cJSON_Delete(mets);
            if (sampled) cJSON_AddItemToObject(o, "ci", lbq_sample_ci_json(s_ci[i]));
            cJSON_AddItemToArray(pa, o);
        }
        cJSON *t = lbq_acc_json(&tot, NULL, NULL, 1);
        cJSON_AddNumberToObject(t, "numel", elems);
        lbq_json_add_num(t, "bits_per_elem_m", bpe_m);
        lbq_json_add_num(t, "bits_per_elem_v", bpe_v);
        if (sampled) cJSON_AddItemToObject(t, "ci", lbq_sample_ci_json(t_ci));
        cJSON_AddItemToObject(root, "totals", t);
        cJSON *mem_o = cJSON_AddObjectToObject(root, "memory");
        cJSON_AddNumberToObject(mem_o, "fp32_bytes", fp32_bytes);
        cJSON_AddNumberToObject(mem_o, "quantized_bytes", q_bytes);
        if (nparams_x > 0) {
            cJSON_AddNumberToObject(mem_o, "extrapolate_params", nparams_x);
            cJSON_AddNumberToObject(mem_o, "extrapolate_fp32_gb", an.x_fp32_gb);
            cJSON_AddNumberToObject(mem_o, "extrapolate_quantized_gb", an.x_quantized_gb);
        }
        cJSON_AddNumberToObject(root, "nonfinite_excluded", (double)nonfinite);
        LBQ_TRY(lbq_json_write(json_out, root));
    }
cleanup:
    rc = lbq_mpi_agree(rc);     /* pairs with the other ranks' next agreement; identity without MPI */
    if (rc) exitc = lbq_mpi_fail(rc);
    cJSON_Delete(root);
    free(ev); free(owner); free(numel);
    free(s_one); free(s_tot); free(s_ci); free(t_ci);
    if (!exitc) cli_print_read_notes(f);     /* negative v (issue 16) */
    lbq_file_close(f);
    cli_plan_free(plan);
    return exitc;
}
