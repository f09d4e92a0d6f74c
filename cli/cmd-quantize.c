/* cmd-quantize.c - `lbq quantize FILE -o OUT.h5`: packed codes, scales and dequantized states. */
#include "cli.h"

const char lbq_usage_quantize[] =
"usage: lbq quantize FILE (--quant SPEC | --quant-m SPEC --quant-v SPEC | --recipe R) -o OUT.h5 [options]\n"
"\n"
"For every parameter, write at the same group path of OUT.h5 (docs/format.md, 'quantized files'):\n"
"  exp_avg, exp_avg_sq            dequantized float32, original shape\n"
"  exp_avg.codes, ...sq.codes     packed codes: uint8 bit stream, element i at bits [i*b, (i+1)*b)\n"
"  exp_avg.scales, ...            float32 scales (per block; or the tensor/rank-1/row/col maxima)\n"
"  exp_avg.params, ...            per-block map parameters (log: alpha; fp8:dre: k, g), if any\n"
"with the spec, bits, normalization and map as attributes.  OUT.h5 is written under a temporary name\n"
"and renamed when complete.  Tensors a recipe keeps in fp32 are copied with attribute quantized=0.\n"
"\n"
"  --quant/--quant-m/--quant-v/--recipe/--bits/--block/--round/--seed/--quantile/--map-file/--quantize-all\n"
"                       as in 'lbq analyze --help'\n"
"  -o, --output OUT.h5  output file (required)\n"
"  --tensor GLOB        only parameters matching GLOB\n"
"  --mem-limit SIZE     slab memory cap (default 1G)\n"
"  --m-name/--v-name PAT   dataset names (see 'lbq inspect --help')\n"
"  -q, --quiet          no notices on stderr\n";

enum { O_OUT = 1, O_TENSOR, O_MEM, O_QUIET, O_MNAME, O_VNAME };
static struct cli_opt g_opts[64];
static void build_opts(void)
{
    static const struct cli_opt own[] = { { "output", 1, O_OUT }, { "tensor", 1, O_TENSOR }, { "mem-limit", 1, O_MEM }, { "quiet", 0, O_QUIET },
                                          { "m-name", 1, O_MNAME }, { "v-name", 1, O_VNAME } };
    int n = 0;
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) g_opts[n++] = own[i];
    for (const struct cli_opt *o = cli_qopt_table; o->name; o++) g_opts[n++] = *o;
    g_opts[n].name = NULL;
}

int cmd_quantize(int argc, char **argv)
{
    build_opts();
    struct cli_parser p = { "quantize", g_opts, argc, argv, 1, {0}, 0 };
    struct cli_qopts qo;
    struct lbq_open_opts oo = { 0, 0, 0 };
    const char *val, *out = NULL;
    long long mem = 1LL << 30;
    int id, rc = LBQ_OK, exitc = 0;
    cli_qopts_init(&qo);
    while ((id = cli_next(&p, &val)) != 0) {
        if (id < 0) return LBQ_EXIT_USAGE;
        if (id == 'h') return cli_help("quantize");
        int t = cli_qopts_take(&qo, "quantize", id, val);
        if (t < 0) return LBQ_EXIT_USAGE;
        if (t > 0) continue;
        switch (id) {
        case O_OUT: out = val; break;
        case O_TENSOR: oo.tensor_glob = val; break;
        case O_MNAME: oo.m_name = val; break;
        case O_VNAME: oo.v_name = val; break;
        case O_MEM: if (cli_bytes("quantize", "--mem-limit", val, &mem)) return LBQ_EXIT_USAGE; break;
        case O_QUIET: g_cli_quiet = 1; break;
        }
    }
    if (p.npos != 1) return cli_usage_error("quantize", p.npos ? "expected one FILE, got %d arguments" : "missing FILE%.0d", p.npos);
    if (!out) return cli_usage_error("quantize", "missing -o OUT.h5");
    if ((exitc = cli_check_output("-o", out, p.positional[0], CLI_OUT_H5))) return exitc;
    struct lbq_config conf;
    if (cli_qopts_config(&qo, "quantize", &conf)) return LBQ_EXIT_USAGE;
    struct lbq_file *f = NULL;
    struct lbq_h5w *w = NULL;
    cli_guard_file(p.positional[0]);
    rc = lbq_file_open(p.positional[0], &oo, &f);
    if (!rc && (rc = lbq_file_set_mem_limit(f, mem)) != LBQ_OK) { lbq_file_close(f); f = NULL; }
    if (rc) return cli_fail(rc);
    cli_print_file_notes(f);
    cli_guard_tmp(out);         /* OUT.tmp-<pid> exists from here until the commit or the abort */
    LBQ_TRY(lbq_h5w_open(out, &w));
    LBQ_TRY(lbq_quantize_header(w, f, conf.label));
    for (int i = 0; i < lbq_file_nparams(f); i++) {
        const struct lbq_param_info *pi = lbq_file_param(f, i);
        int keep = !conf.quantize_all && lbq_recipe_keeps_fp32(conf.recipe, pi->shape.numel);
        struct lbq_qplan pm, pv;
        if (conf.has_m && !keep) LBQ_TRY(lbq_qplan_init(&pm, &conf.m, LBQ_ROLE_M, pi->shape.rank));
        if (conf.has_v && !keep) LBQ_TRY(lbq_qplan_init(&pv, &conf.v, LBQ_ROLE_V, pi->shape.rank));
        if (conf.has_m && !keep) lbq_qplan_fit(&pm, pi->shape.numel);     /* SOLO's per-tensor block (log map) */
        if (conf.has_v && !keep) lbq_qplan_fit(&pv, pi->shape.numel);
        for (int s = 0; s < 2; s++) {      /* the format is written by the library (src/quantize.c) */
            const char *label = s ? "exp_avg_sq" : "exp_avg";
            int64_t nonfinite = 0;
            rc = lbq_quantize_state(f, i, s ? LBQ_DS_V : LBQ_DS_M, (s ? conf.has_v : conf.has_m) && !keep ? (s ? &pv : &pm) : NULL,
                                    w, mem, label, &nonfinite);
            if (nonfinite)
                cli_note("warning: tensor '%s': %lld NaN/Inf values in %s quantized as documented (NaN -> the code of 0, +-Inf -> the end codes)",
                         pi->name, (long long)nonfinite, label);
            if (rc) goto cleanup;
        }
    }
    rc = lbq_h5w_commit(w);
    w = NULL;
    if (rc == LBQ_OK) cli_note("wrote %s (%d parameters, %s)", out, lbq_file_nparams(f), conf.label);
cleanup:
    if (rc) exitc = cli_fail(rc);
    lbq_h5w_abort(w);
    cli_guard_tmp(NULL);
    if (!rc) cli_print_read_notes(f);     /* negative v (issue 16) */
    lbq_file_close(f);
    return exitc;
}
