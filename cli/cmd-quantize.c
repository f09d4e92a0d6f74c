/* cmd-quantize.c - `lbq quantize FILE -o OUT.h5`: packed codes, scales and dequantized states. */
#include "cli.h"
#include "lbq-impl.h"

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

static int64_t gcd64(int64_t a, int64_t b) { while (b) { int64_t t = a % b; a = b; b = t; } return a; }
static int64_t lcm64(int64_t a, int64_t b) { return a / gcd64(a, b) * b; }

/* quantize one state of one parameter and write its datasets */
static int write_state(struct lbq_file *f, int p, enum lbq_ds ds, const struct lbq_qplan *pl, struct lbq_h5w *w,
                       int64_t mem, const char *label)
{
    int rc = LBQ_OK;
    const struct lbq_param_info *pi = lbq_file_param(f, p);
    const struct lbq_shape *sh = &pi->shape;
    const int64_t N = sh->numel;
    float *x = NULL, *xh = NULL, *sc = NULL, *bp = NULL;
    uint8_t *codes = NULL, *packed = NULL;
    struct lbq_tstats st;
    int have_st = 0;
    int dq, dc = -1, ds_sc = -1, dp = -1;
    char name[LBQ_NAME_MAX + 64];
    int64_t re = lbq_shape_row_elems(sh);
    int64_t unit = lcm64(lcm64(re, 8), pl ? (pl->norm->blockwise ? pl->block : 1) : 1);
    int64_t slab = mem / 16;
    slab = (slab / unit) * unit;
    if (slab < unit) slab = unit;
    if (slab > N) slab = N;
    x = malloc(sizeof(float) * (size_t)slab);
    xh = malloc(sizeof(float) * (size_t)slab);
    if (!x || !xh) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory (lower --mem-limit)"); goto cleanup; }
    LBQ_TRY(lbq_h5w_dset(w, pi->name, label, LBQ_W_F32, sh, &dq));
    if (!pl) {
        for (int64_t off = 0; off < N; off += slab) {
            int64_t n = N - off < slab ? N - off : slab;
            LBQ_TRY(lbq_file_read(f, p, ds, 0, off, n, x));
            LBQ_TRY(lbq_h5w_write(w, dq, off, n, x));
        }
        snprintf(name, sizeof name, "%s/%s", pi->name, label);
        LBQ_TRY(lbq_h5w_attr_i64(w, name, "quantized", 0));
        goto cleanup;
    }
    sc = malloc(sizeof(float) * (size_t)slab);
    codes = malloc((size_t)slab);
    packed = malloc((size_t)slab + 8);
    int npar = pl->spec.map->nparams && pl->norm->blockwise ? pl->spec.map->nparams(&pl->spec) : 0;
    if (npar) bp = malloc(sizeof(float) * (size_t)(npar * (slab / pl->block + 1)));
    if (!sc || !codes || !packed || (npar && !bp)) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
    struct lbq_shape cs = { 1, { (N * pl->bits + 7) / 8 }, (N * pl->bits + 7) / 8 };
    snprintf(name, sizeof name, "%s.codes", label);
    LBQ_TRY(lbq_h5w_dset(w, pi->name, name, LBQ_W_U8, &cs, &dc));
    int64_t nsc = pl->norm->nscales(pl, sh);
    struct lbq_shape ss = { 1, { nsc }, nsc };
    snprintf(name, sizeof name, "%s.scales", label);
    LBQ_TRY(lbq_h5w_dset(w, pi->name, name, LBQ_W_F32, &ss, &ds_sc));
    if (npar) {
        int64_t nb = (N + pl->block - 1) / pl->block;
        struct lbq_shape ps = { 2, { nb, npar }, nb * npar };
        snprintf(name, sizeof name, "%s.params", label);
        LBQ_TRY(lbq_h5w_dset(w, pi->name, name, LBQ_W_F32, &ps, &dp));
    }
    if (pl->norm->global_stats) {
        LBQ_TRY(lbq_tstats_init(&st, sh));
        have_st = 1;
        for (int64_t off = 0; off < N; off += slab) {
            int64_t n = N - off < slab ? N - off : slab;
            LBQ_TRY(lbq_file_read(f, p, ds, 0, off, n, x));
            lbq_tstats_add(&st, off, n, x);
        }
    }
    int64_t nonfinite = 0;
    for (int64_t off = 0; off < N; off += slab) {
        int64_t n = N - off < slab ? N - off : slab;
        LBQ_TRY(lbq_file_read(f, p, ds, 0, off, n, x));
        for (int64_t i = 0; i < n; i++) nonfinite += !isfinite(x[i]);
        LBQ_TRY(lbq_qdq(pl, have_st ? &st : NULL, off, n, x, xh, codes, sc, bp, NULL));
        LBQ_TRY(lbq_h5w_write(w, dq, off, n, xh));
        lbq_pack(codes, n, pl->bits, packed);
        LBQ_TRY(lbq_h5w_write(w, dc, off * pl->bits / 8, (n * pl->bits + 7) / 8, packed));
        if (pl->norm->blockwise) {
            int64_t nb = (n + pl->block - 1) / pl->block;
            for (int64_t b = 0; b < nb; b++) sc[b] = sc[b * pl->block];
            LBQ_TRY(lbq_h5w_write(w, ds_sc, off / pl->block, nb, sc));
            if (npar) LBQ_TRY(lbq_h5w_write(w, dp, (off / pl->block) * npar, nb * npar, bp));
        }
    }
    if (!pl->norm->blockwise) {     /* global statistics are the stored scales */
        float *all = malloc(sizeof(float) * (size_t)nsc);
        if (!all) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
        lbq_qplan_global_scales(pl, &st, nsc, all);
        rc = lbq_h5w_write(w, ds_sc, 0, nsc, all);
        free(all);
        if (rc) goto cleanup;
    }
    if (nonfinite)
        cli_note("warning: tensor '%s': %lld NaN/Inf values in %s quantized as documented (NaN -> the code of 0, +-Inf -> the end codes)",
                 pi->name, (long long)nonfinite, label);
    snprintf(name, sizeof name, "%s/%s", pi->name, label);
    LBQ_TRY(lbq_h5w_attr_i64(w, name, "quantized", 1));
    LBQ_TRY(lbq_h5w_attr_i64(w, name, "nonfinite_inputs", nonfinite));
    LBQ_TRY(lbq_h5w_attr_str(w, name, "spec", pl->spec.text));
    LBQ_TRY(lbq_h5w_attr_str(w, name, "norm", pl->norm->name));
    LBQ_TRY(lbq_h5w_attr_str(w, name, "map", pl->spec.map->name));
    LBQ_TRY(lbq_h5w_attr_i64(w, name, "bits", pl->bits));
    LBQ_TRY(lbq_h5w_attr_i64(w, name, "block", pl->norm->blockwise ? pl->block : 0));
    LBQ_TRY(lbq_h5w_attr_i64(w, name, "signed", pl->is_signed));
    LBQ_TRY(lbq_h5w_attr_str(w, name, "code_order", "lsb-first"));
    struct lbq_qsize qs;
    lbq_qplan_size(pl, sh, &qs);
    LBQ_TRY(lbq_h5w_attr_f64(w, name, "bits_per_elem", qs.bits_per_elem));
cleanup:
    if (have_st) lbq_tstats_free(&st);
    free(x); free(xh); free(sc); free(bp); free(codes); free(packed);
    return rc;
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
    struct lbq_config conf;
    if (cli_qopts_config(&qo, "quantize", &conf)) return LBQ_EXIT_USAGE;
    struct lbq_file *f = NULL;
    struct lbq_h5w *w = NULL;
    cli_guard_file(p.positional[0]);
    rc = lbq_file_open(p.positional[0], &oo, &f);
    if (rc) return cli_fail(rc);
    cli_print_file_notes(f);
    cli_guard_tmp(out);         /* OUT.tmp-<pid> exists from here until the commit or the abort */
    LBQ_TRY(lbq_h5w_open(out, &w));
    const struct lbq_hparams *hp = lbq_file_hparams(f);
    LBQ_TRY(lbq_h5w_attr_i64(w, "", "lbq_format", 1));
    LBQ_TRY(lbq_h5w_attr_i64(w, "", "lbq_quantized", 1));
    LBQ_TRY(lbq_h5w_attr_str(w, "", "source_file", lbq_file_path(f)));
    LBQ_TRY(lbq_h5w_attr_str(w, "", "config", conf.label));
    if (hp->has_step) LBQ_TRY(lbq_h5w_attr_i64(w, "", "step", hp->step));
    LBQ_TRY(lbq_h5w_attr_f64(w, "", "beta1", hp->beta1));
    LBQ_TRY(lbq_h5w_attr_f64(w, "", "beta2", hp->beta2));
    LBQ_TRY(lbq_h5w_attr_f64(w, "", "eps", hp->eps));
    for (int i = 0; i < lbq_file_nparams(f); i++) {
        const struct lbq_param_info *pi = lbq_file_param(f, i);
        int keep = !conf.quantize_all && lbq_recipe_keeps_fp32(conf.recipe, pi->shape.numel);
        struct lbq_qplan pm, pv;
        if (conf.has_m && !keep) LBQ_TRY(lbq_qplan_init(&pm, &conf.m, LBQ_ROLE_M, pi->shape.rank));
        if (conf.has_v && !keep) LBQ_TRY(lbq_qplan_init(&pv, &conf.v, LBQ_ROLE_V, pi->shape.rank));
        LBQ_TRY(write_state(f, i, LBQ_DS_M, conf.has_m && !keep ? &pm : NULL, w, mem, "exp_avg"));
        LBQ_TRY(write_state(f, i, LBQ_DS_V, conf.has_v && !keep ? &pv : NULL, w, mem, "exp_avg_sq"));
    }
    rc = lbq_h5w_commit(w);
    w = NULL;
    if (rc == LBQ_OK) cli_note("wrote %s (%d parameters, %s)", out, lbq_file_nparams(f), conf.label);
cleanup:
    if (rc) exitc = cli_fail(rc);
    lbq_h5w_abort(w);
    cli_guard_tmp(NULL);
    lbq_file_close(f);
    return exitc;
}
