/* cmd-simulate.c - `lbq simulate`: multi-step EMA dynamics with quantized states. */
#include "cli.h"
#include "lbq-json.h"
#include "lbq-sim.h"

/* the human table: stdout, or stderr when the JSON goes to stdout (--json -) */
static FILE *tout;

const char lbq_usage_simulate[] =
"usage: lbq simulate FILE (--quant SPEC | --quant-m SPEC --quant-v SPEC | --recipe R) [options]\n"
"       lbq simulate --source synthetic --quant-v SPEC [--betas LO:HI:STEP | --beta B] [options]\n"
"\n"
"Run Adam's moment updates for T steps with the states stored quantized between steps (dequantize,\n"
"EMA update, requantize; the update uses the unquantized new states, as lpmm, SOLO and torchao do),\n"
"next to an fp32 reference run on the same gradients, and report how they diverge: state errors,\n"
"update error and blow-up, signal swamping (share of elements whose fp32 state moved but whose stored\n"
"code did not), the share stuck for the whole run and their bias, zero-point collapse of v over time,\n"
"and for m the measured extra gradient variance next to SOLO's Theorem 3.6 bound.  docs/metrics.md.\n"
"\n"
"  --source grads|moments|synthetic\n"
"                     grads: the file's recorded gradient stream [T, ...] (default);\n"
"                     moments: g ~ N(m, max(v - m^2, 0)) per element from the dumped moments (seeded);\n"
"                     synthetic: SOLO's case study, one unsigned state, z ~ U[0,1], x0 = --start\n"
"  --steps T          steps (grads: at most the stream length; moments default 100; synthetic 100)\n"
"  --every K          record the series every K steps (default 1)\n"
"  --beta1 B, --beta2 B   override the file's betas\n"
"  --beta B           synthetic: the EMA beta (default 0.9); --betas LO:HI:STEP runs a range\n"
"  --size N           synthetic: elements (default 1000); --start X: initial value (default 1)\n"
"  --swamp-rel R      'fp32 state changed' threshold |x_t - x_{t-1}| > R |x_{t-1}| (default 1e-3)\n"
"  --seed S           seed of the moments/synthetic streams and of stochastic rounding\n"
"  --tensor GLOB      only parameters matching GLOB (default: those with a gradient stream, or all\n"
"                     with --source moments)\n"
"  --json OUT         series and summaries (schema lbq.simulate/2), written atomically ('-': stdout,\n"
"                     the table then goes to stderr)\n"
"  --m-name/--v-name PAT   dataset names (see 'lbq inspect --help')\n"
"  Tensors are simulated in memory (m, v and a few same-size buffers): select big ones with --tensor.\n"
"  quantizer options as in 'lbq analyze --help' (--round stochastic for SR)\n"
"  -q, --quiet        no notices on stderr\n";

enum { O_SOURCE = 1, O_STEPS, O_EVERY, O_B1, O_B2, O_BETA, O_BETAS, O_SIZE, O_START, O_SWAMP, O_TENSOR, O_JSON, O_QUIET, O_MNAME, O_VNAME };
static struct cli_opt g_opts[64];
static void build_opts(void)
{
    static const struct cli_opt own[] = {
        { "source", 1, O_SOURCE }, { "steps", 1, O_STEPS }, { "every", 1, O_EVERY }, { "beta1", 1, O_B1 }, { "beta2", 1, O_B2 },
        { "beta", 1, O_BETA }, { "betas", 1, O_BETAS }, { "size", 1, O_SIZE }, { "start", 1, O_START },
        { "swamp-rel", 1, O_SWAMP }, { "tensor", 1, O_TENSOR }, { "json", 1, O_JSON }, { "quiet", 0, O_QUIET },
        { "m-name", 1, O_MNAME }, { "v-name", 1, O_VNAME },
    };
    int n = 0;
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) g_opts[n++] = own[i];
    for (const struct cli_opt *o = cli_qopt_table; o->name; o++) g_opts[n++] = *o;
    g_opts[n].name = NULL;
}

/* a table cell: "-" right-aligned when the value is undefined (a state stored in fp32 has no codes) */
static const char *cell(char *buf, size_t n, int width, int prec, double v, int *dash)
{
    if (isnan(v)) { snprintf(buf, n, "%*s", width, "-"); *dash = 1; }
    else snprintf(buf, n, "%*.*f", width, prec, v);
    return buf;
}

static int parse_betas(const char *s, double *lo, double *hi, double *st)
{
    char *e1, *e2, *e3;
    *lo = strtod(s, &e1);
    if (*e1 != ':') return -1;
    *hi = strtod(e1 + 1, &e2);
    if (*e2 != ':') return -1;
    *st = strtod(e2 + 1, &e3);
    if (*e3 || !(*st > 0) || !(*lo >= 0) || !(*hi < 1) || *hi < *lo) return -1;
    if ((*hi - *lo) / *st > 10000) return -2;     /* well-formed, but too many values */
    return 0;
}

int cmd_simulate(int argc, char **argv)
{
    build_opts();
    struct cli_parser p = { "simulate", g_opts, argc, argv, 1, {0}, 0 };
    struct cli_qopts qo;
    struct lbq_sim_opts so;
    struct lbq_open_opts oo = { 0, 0, 0 };
    const char *val, *json_out = NULL, *betas = NULL;
    double beta = 0.9, b1 = -1, b2 = -1, dv;
    long long iv;
    int id, rc = LBQ_OK, exitc = 0, steps_set = 0, tensor_set = 0, dash = 0;
    cli_qopts_init(&qo);
    lbq_sim_opts_init(&so);
    while ((id = cli_next(&p, &val)) != 0) {
        if (id < 0) return LBQ_EXIT_USAGE;
        if (id == 'h') return cli_help("simulate");
        int t = cli_qopts_take(&qo, "simulate", id, val);
        if (t < 0) return LBQ_EXIT_USAGE;
        if (t > 0) continue;
        switch (id) {
        case O_SOURCE:
            if (strcmp(val, "grads") == 0) so.source = LBQ_SRC_GRADS;
            else if (strcmp(val, "moments") == 0) so.source = LBQ_SRC_MOMENTS;
            else if (strcmp(val, "synthetic") == 0) so.source = LBQ_SRC_SYNTHETIC;
            else return cli_usage_error("simulate", "--source: '%s' is not grads, moments or synthetic", val);
            break;
        case O_STEPS: if (cli_int("simulate", "--steps", val, 1, 1000000, &iv)) return LBQ_EXIT_USAGE; so.steps = (int)iv; steps_set = 1; break;
        case O_EVERY: if (cli_int("simulate", "--every", val, 1, 1000000, &iv)) return LBQ_EXIT_USAGE; so.every = (int)iv; break;
        case O_B1: if (cli_double("simulate", "--beta1", val, 0.0, 0.999999, &b1)) return LBQ_EXIT_USAGE; break;
        case O_B2: if (cli_double("simulate", "--beta2", val, 0.0, 0.999999, &b2)) return LBQ_EXIT_USAGE; break;
        case O_BETA: if (cli_double("simulate", "--beta", val, 0.0, 0.999999, &beta)) return LBQ_EXIT_USAGE; break;
        case O_BETAS: betas = val; break;
        case O_SIZE: if (cli_int("simulate", "--size", val, 1, 100000000, &iv)) return LBQ_EXIT_USAGE; so.size = iv; break;
        case O_START: if (cli_double("simulate", "--start", val, 0.0, 1e30, &dv)) return LBQ_EXIT_USAGE; so.start = dv; break;
        case O_SWAMP: if (cli_double("simulate", "--swamp-rel", val, 0.0, 1e6, &so.swamp_rel)) return LBQ_EXIT_USAGE; break;
        case O_TENSOR: oo.tensor_glob = val; tensor_set = 1; break;
        case O_MNAME: oo.m_name = val; break;
        case O_VNAME: oo.v_name = val; break;
        case O_JSON: json_out = val; break;
        case O_QUIET: g_cli_quiet = 1; break;
        }
    }
    so.seed = qo.d.seed;
    tout = (json_out && strcmp(json_out, "-") == 0) ? stderr : stdout;
    struct lbq_config conf;
    if (cli_qopts_config(&qo, "simulate", &conf)) return LBQ_EXIT_USAGE;
    if (cli_check_output("--json", json_out, p.npos ? p.positional[0] : NULL, CLI_OUT_TEXT)) return LBQ_EXIT_OUTPUT;
    struct lbq_sim_report rep;
    memset(&rep, 0, sizeof rep);
    struct lbq_file *f = NULL;
    if (so.source == LBQ_SRC_SYNTHETIC) {
        if (p.npos) return cli_usage_error("simulate", "--source synthetic takes no FILE");
        if (!conf.has_v) return cli_usage_error("simulate", "--source synthetic needs --quant-v (or --quant) SPEC");
        if (!steps_set) so.steps = 100;
        double lo = beta, hi = beta, st = 1.0;
        int pb = betas ? parse_betas(betas, &lo, &hi, &st) : 0;
        if (pb) return pb == -2 ? cli_usage_error("simulate", "--betas: '%s' gives %.0f values; at most 10001 (a larger STEP)", betas, floor((hi - lo) / st) + 1)
                                : cli_usage_error("simulate", "--betas: '%s' is not LO:HI:STEP within [0, 1)", betas);
        lbq_sim_report_init(&rep, &conf, &so, NULL);
        fprintf(tout, "synthetic case study: %lld elements, x0 = %g, z ~ U[0,1], %d steps, v quantizer %s\n", (long long)so.size, so.start, so.steps, conf.v.text);
        fprintf(tout, "%8s %12s %12s %12s %12s %12s\n", "beta", "final mean", "fp32 mean", "swamp(last)", "frozen(last)", "stuck all");
        int nb = (int)floor((hi - lo) / st + 0.5) + 1;
        for (int k = 0; k < nb; k++) {
            double b = lo + k * st;
            rc = lbq_sim_report_synthetic(&rep, &conf, b, &so);
            if (rc) goto cleanup;
            const struct lbq_sim_result *r = &rep.runs[rep.nruns - 1].r;
            const struct lbq_sim_point *l = &r->pts[r->npoints - 1];
            fprintf(tout, "%8.4f %12.5f %12.5f %12.5f %12.5f %12.5f\n", b, r->final_mean, r->final_mean_fp32, l->swamp_v, l->frozen_v, r->stuck_all_v);
        }
    } else {
        if (p.npos != 1) return cli_usage_error("simulate", p.npos ? "expected one FILE, got %d arguments" : "missing FILE%.0d", p.npos);
        cli_guard_file(p.positional[0]);
        rc = lbq_file_open(p.positional[0], &oo, &f);
        if (rc) goto cleanup;
        cli_print_file_notes(f);
        const struct lbq_hparams *hp = lbq_file_hparams(f);
        so.beta1 = b1 >= 0 ? b1 : hp->beta1;
        so.beta2 = b2 >= 0 ? b2 : hp->beta2;
        so.eps = hp->eps;
        so.step0 = hp->step;
        so.bias_correct = hp->has_step;
        if (so.source == LBQ_SRC_MOMENTS && !steps_set) so.steps = 100;
        lbq_sim_report_init(&rep, &conf, &so, f);
        int64_t zk[2] = { 0, 0 }, zl[2] = { 0, 0 }, zc[2] = { 0, 0 };     /* structural-zero split */
        fprintf(tout, "%s: %s, source %s, beta1 %g, beta2 %g\n", lbq_file_path(f), conf.label, so.source == LBQ_SRC_GRADS ? "grads" : "moments", so.beta1, so.beta2);
        fprintf(tout, "%-30s %5s %9s %9s %9s %8s %9s %9s %9s %9s %9s\n", "parameter", "steps", "m rel-L2", "v rel-L2", "u rel-L2", "u cos",
               "swamp m", "swamp v", "stuck m", "stuck v", "v->0");
        for (int i = 0; i < lbq_file_nparams(f); i++) {
            const struct lbq_param_info *pi = lbq_file_param(f, i);
            if (so.source == LBQ_SRC_GRADS && !pi->has[LBQ_DS_GRADS]) {
                if (tensor_set) cli_note("tensor '%s' has no gradient stream: skipped (use --source moments)", pi->name);
                continue;
            }
            rc = lbq_sim_report_param(&rep, f, i, &conf, &so);
            if (rc) goto cleanup;
            const struct lbq_sim_row *row = &rep.rows[rep.nrows - 1];
            const struct lbq_sim_result *r = &row->r;
            const struct lbq_sim_point *l = &r->pts[r->npoints - 1];
            char c[4][32];
            fprintf(tout, "%-30.30s %5d %9.3e %9.3e %9.3e %8.5f %s %s %s %s %9.5f%s\n", row->name, r->steps, l->m_rel, l->v_rel, l->u_rel, l->u_cos,
                   cell(c[0], 32, 9, 4, r->mean_swamp_m, &dash), cell(c[1], 32, 9, 4, r->mean_swamp_v, &dash),
                   cell(c[2], 32, 9, 4, r->stuck_all_m, &dash), cell(c[3], 32, 9, 4, r->stuck_all_v, &dash), l->collapse_v,
                   row->kept_fp32 ? "  fp32 (recipe)" : "");
            for (int s = 0; s < 2; s++) { zk[s] += l->zkept[s]; zl[s] += l->zlifted[s]; zc[s] += l->zcollapsed[s]; }
        }
        if (!rep.nrows) { rc = lbq_err(LBQ_ERR_FORMAT, "%s: no parameter has a 'grads' stream; use --source moments", lbq_file_path(f)); goto cleanup; }
        /* the structural-zero split at the last recorded step, over the simulated tensors */
        for (int s = 0; s < 2; s++)
            fprintf(tout, "zeros %s (last step): %lld fp32 zeros kept at 0, %lld lifted to non-zero; %lld non-zero collapsed to 0%s\n", s ? "v" : "m",
                    (long long)zk[s], (long long)zl[s], (long long)zc[s], (!s && !conf.has_m) ? " (m not quantized)" : "");
        fprintf(tout, "(swamp = mean over recorded steps of the share of elements whose fp32 state moved by > %g relative but whose code did not; stuck = code never changed%s)\n", so.swamp_rel,
                dash ? "; -: the state is stored in fp32, it has no codes" : "");
    }
    if (json_out) {
        cJSON *root = lbq_sim_report_json(&rep);
        rc = root ? lbq_json_write(json_out, root) : lbq_err(LBQ_ERR_NOMEM, "out of memory");
        cJSON_Delete(root);
    }
cleanup:
    if (rc) exitc = cli_fail(rc);
    lbq_sim_report_free(&rep);
    if (!rc) cli_print_read_notes(f);     /* negative v (issue 16) */
    lbq_file_close(f);
    return exitc;
}
