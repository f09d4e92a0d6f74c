/* cmd-inspect.c - `lbq inspect FILE`: parameters, shapes, dtypes and statistics of m and v. */
#include "cli.h"
#include "lbq-json.h"

const char lbq_usage_inspect[] =
"usage: lbq inspect FILE [--json] [-o OUT] [--tensor GLOB] [--m-name PAT] [--v-name PAT] [--mem-limit SIZE]\n"
"\n"
"List the parameters of a moment file (docs/format.md) with shape, dtype and element count, and for\n"
"m (exp_avg) and v (exp_avg_sq): min, max, mean |x|, fraction exactly zero, NaN and Inf counts, and\n"
"for tensors of rank >= 2 the outlier structure: max/median of the row maxima and of the column\n"
"maxima, and how many rows/columns have a maximum above 10x the median.\n"
"\n"
"  --json           JSON (schema lbq.inspect/1, docs/schema.md) on stdout instead of the table\n"
"  -o, --output OUT write the JSON to OUT (atomically) instead of stdout\n"
"  --tensor GLOB    only parameters whose name matches GLOB (fnmatch, e.g. 'blocks.0.*')\n"
"  --m-name PAT     where m lives: a dataset name inside each parameter group (default exp_avg)\n"
"                   or a path pattern with {name}, e.g. 'state/{name}/m'\n"
"  --v-name PAT     the same for v (default exp_avg_sq)\n"
"  --mem-limit SIZE cap on the slab memory (default 1G), e.g. 256M\n"
"  -q, --quiet      no notices on stderr\n";

enum { O_JSON = 1, O_OUT, O_TENSOR, O_MNAME, O_VNAME, O_MEM, O_QUIET };
static const struct cli_opt opts[] = {
    { "json", 0, O_JSON }, { "output", 1, O_OUT }, { "tensor", 1, O_TENSOR }, { "m-name", 1, O_MNAME },
    { "v-name", 1, O_VNAME }, { "mem-limit", 1, O_MEM }, { "quiet", 0, O_QUIET }, { 0, 0, 0 },
};

struct istat {
    double min, max, sum_abs;
    int64_t n, zero, nan, inf;
    double row_ratio, col_ratio;
    int64_t out_rows, out_cols;
};

static void dim_ratio(const float *mx, int64_t n, double *ratio, int64_t *nout)
{
    *ratio = lbq_max_over_median(mx, n, 10.0f, nout);   /* src/metrics.c */
}

static int stat_state(struct lbq_file *f, int p, enum lbq_ds ds, int64_t slab, float *buf, struct istat *s)
{
    int rc = LBQ_OK;
    const struct lbq_shape *sh = &lbq_file_param(f, p)->shape;
    struct lbq_tstats st;
    memset(s, 0, sizeof *s);
    s->min = INFINITY; s->max = -INFINITY;
    LBQ_TRY(lbq_tstats_init(&st, sh));
    for (int64_t off = 0; off < sh->numel; off += slab) {
        int64_t n = sh->numel - off < slab ? sh->numel - off : slab;
        rc = lbq_file_read(f, p, ds, 0, off, n, buf);
        if (rc) { lbq_tstats_free(&st); goto cleanup; }
        lbq_tstats_add(&st, off, n, buf);
        for (int64_t i = 0; i < n; i++) {
            float x = buf[i];
            if (x != x) { s->nan++; continue; }
            if (!isfinite(x)) { s->inf++; continue; }
            s->n++;
            if (x < s->min) s->min = x;
            if (x > s->max) s->max = x;
            s->sum_abs += fabs((double)x);
            if (x == 0.0f) s->zero++;
        }
    }
    s->row_ratio = s->col_ratio = NAN;
    if (sh->rank >= 2) {
        dim_ratio(st.dimmax[0], sh->dim[0], &s->row_ratio, &s->out_rows);
        dim_ratio(st.dimmax[1], sh->dim[1], &s->col_ratio, &s->out_cols);
    }
    lbq_tstats_free(&st);
cleanup:
    return rc;
}

static cJSON *istat_json(const struct istat *s, int rank)
{
    cJSON *o = cJSON_CreateObject();
    lbq_json_add_num(o, "min", s->n ? s->min : NAN);
    lbq_json_add_num(o, "max", s->n ? s->max : NAN);
    lbq_json_add_num(o, "mean_abs", s->n ? s->sum_abs / (double)s->n : NAN);
    lbq_json_add_num(o, "frac_zero", s->n ? (double)s->zero / (double)s->n : NAN);
    cJSON_AddNumberToObject(o, "nan", (double)s->nan);
    cJSON_AddNumberToObject(o, "inf", (double)s->inf);
    if (rank >= 2) {
        lbq_json_add_num(o, "row_max_over_median", s->row_ratio);
        lbq_json_add_num(o, "col_max_over_median", s->col_ratio);
        cJSON_AddNumberToObject(o, "outlier_rows", (double)s->out_rows);
        cJSON_AddNumberToObject(o, "outlier_cols", (double)s->out_cols);
    }
    return o;
}

static const char *dtype_name(int bits) { return bits == 16 ? "float16" : bits == 64 ? "float64" : "float32"; }
static const char *dtype_short(int bits) { return bits == 16 ? "f16" : bits == 64 ? "f64" : "f32"; }
/* the table's dtype: the dtype before the import (attribute orig_dtype) when recorded, else the stored one */
static const char *dtype_col(const struct lbq_param_info *pi)
{
    static const char *const nm[][2] = { { "bfloat16", "bf16" }, { "float16", "f16" }, { "float32", "f32" }, { "float64", "f64" } };
    for (size_t i = 0; i < sizeof nm / sizeof nm[0]; i++) if (strcmp(pi->orig_dtype[LBQ_DS_M], nm[i][0]) == 0) return nm[i][1];
    return dtype_short(pi->dtype_bits[LBQ_DS_M]);
}

int cmd_inspect(int argc, char **argv)
{
    struct cli_parser p = { "inspect", opts, argc, argv, 1, {0}, 0 };
    struct lbq_open_opts oo = { 0, 0, 0 };
    const char *val, *out = NULL;
    int id, json = 0, rc = LBQ_OK, exitc = 0;
    long long mem = 1LL << 30;
    while ((id = cli_next(&p, &val)) != 0) {
        if (id < 0) return LBQ_EXIT_USAGE;
        if (id == 'h') return cli_help("inspect");
        switch (id) {
        case O_JSON: json = 1; break;
        case O_OUT: out = val; json = 1; break;
        case O_TENSOR: oo.tensor_glob = val; break;
        case O_MNAME: oo.m_name = val; break;
        case O_VNAME: oo.v_name = val; break;
        case O_MEM: if (cli_bytes("inspect", "--mem-limit", val, &mem)) return LBQ_EXIT_USAGE; break;
        case O_QUIET: g_cli_quiet = 1; break;
        }
    }
    if (p.npos != 1) return cli_usage_error("inspect", p.npos ? "expected one FILE, got %d arguments" : "missing FILE%.0d", p.npos);
    if ((exitc = cli_check_output("-o", out, p.positional[0], CLI_OUT_TEXT))) return exitc;
    struct lbq_file *f = NULL;
    float *buf = NULL;
    cJSON *root = NULL;
    cli_guard_file(p.positional[0]);
    rc = lbq_file_open(p.positional[0], &oo, &f);
    if (!rc && (rc = lbq_file_set_mem_limit(f, mem)) != LBQ_OK) { lbq_file_close(f); f = NULL; }
    if (rc) return cli_fail(rc);
    cli_print_file_notes(f);
    int64_t slab = mem / 4;
    int64_t maxn = 0;
    for (int i = 0; i < lbq_file_nparams(f); i++) if (lbq_file_param(f, i)->shape.numel > maxn) maxn = lbq_file_param(f, i)->shape.numel;
    if (slab > maxn) slab = maxn;
    buf = malloc(sizeof(float) * (size_t)slab);
    if (!buf) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory (lower --mem-limit)"); goto cleanup; }
    const struct lbq_hparams *hp = lbq_file_hparams(f);
    if (json) {
        root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "schema", "lbq.inspect");
        cJSON_AddNumberToObject(root, "schema_version", 1);
        cJSON_AddStringToObject(root, "lbq_version", LBQ_VERSION_STRING);
        cJSON_AddStringToObject(root, "file", lbq_file_path(f));
        cJSON *h = cJSON_AddObjectToObject(root, "hparams");
        cJSON_AddNumberToObject(h, "step", (double)hp->step);
        cJSON_AddNumberToObject(h, "beta1", hp->beta1);
        cJSON_AddNumberToObject(h, "beta2", hp->beta2);
        cJSON_AddNumberToObject(h, "eps", hp->eps);
        cJSON_AddNumberToObject(h, "lr", hp->lr);
        cJSON *defs = cJSON_AddArrayToObject(h, "defaults_used");
        if (!hp->has_step) cJSON_AddItemToArray(defs, cJSON_CreateString("step"));
        if (!hp->has_beta1) cJSON_AddItemToArray(defs, cJSON_CreateString("beta1"));
        if (!hp->has_beta2) cJSON_AddItemToArray(defs, cJSON_CreateString("beta2"));
        if (!hp->has_eps) cJSON_AddItemToArray(defs, cJSON_CreateString("eps"));
        if (!hp->has_lr) cJSON_AddItemToArray(defs, cJSON_CreateString("lr"));
        cJSON *notes = cJSON_AddArrayToObject(root, "notes");
        for (int i = 0; i < lbq_file_nnotes(f); i++) cJSON_AddItemToArray(notes, cJSON_CreateString(lbq_file_note(f, i)));
        cJSON_AddArrayToObject(root, "params");
    } else {
        printf("%s: %d parameters; step %lld, beta1 %g%s, beta2 %g%s, eps %g%s\n", lbq_file_path(f), lbq_file_nparams(f),
               (long long)hp->step, hp->beta1, hp->has_beta1 ? "" : " (default)", hp->beta2, hp->has_beta2 ? "" : " (default)",
               hp->eps, hp->has_eps ? "" : " (default)");
        printf("%-34s %-14s %-5s %9s %-2s %11s %11s %10s %7s %7s %9s %9s\n", "parameter", "shape", "dtype", "numel", "st",
               "min", "max", "mean|x|", "zero%", "nan/inf", "rowmax/md", "colmax/md");
    }
    int64_t total = 0;
    for (int i = 0; i < lbq_file_nparams(f); i++) {
        const struct lbq_param_info *pi = lbq_file_param(f, i);
        struct istat s[2];
        LBQ_TRY(stat_state(f, i, LBQ_DS_M, slab, buf, &s[0]));
        LBQ_TRY(stat_state(f, i, LBQ_DS_V, slab, buf, &s[1]));
        total += pi->shape.numel;
        char shp[64];
        lbq_shape_str(&pi->shape, shp, sizeof shp);
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", pi->name);
            cJSON *sa = cJSON_AddArrayToObject(o, "shape");
            for (int d = 0; d < pi->shape.rank; d++) cJSON_AddItemToArray(sa, cJSON_CreateNumber((double)pi->shape.dim[d]));
            cJSON_AddNumberToObject(o, "numel", (double)pi->shape.numel);
            cJSON *dt = cJSON_AddObjectToObject(o, "dtype");
            static const char *const lbl[4] = { "exp_avg", "exp_avg_sq", "param", "grads" };
            for (int k = 0; k < LBQ_DS_COUNT; k++) if (pi->has[k]) cJSON_AddStringToObject(dt, lbl[k], dtype_name(pi->dtype_bits[k]));
            int any_orig = 0;
            for (int k = 0; k < LBQ_DS_COUNT; k++) any_orig |= pi->orig_dtype[k][0] != 0;
            if (any_orig) {     /* recorded by lbq import / dump_moments (docs/format.md) */
                cJSON *od = cJSON_AddObjectToObject(o, "orig_dtype");
                for (int k = 0; k < LBQ_DS_COUNT; k++) if (pi->orig_dtype[k][0]) cJSON_AddStringToObject(od, lbl[k], pi->orig_dtype[k]);
            }
            cJSON_AddBoolToObject(o, "has_param", pi->has[LBQ_DS_PARAM]);
            cJSON_AddNumberToObject(o, "grads_T", (double)pi->grads_T);
            cJSON_AddItemToObject(o, "m", istat_json(&s[0], pi->shape.rank));
            cJSON_AddItemToObject(o, "v", istat_json(&s[1], pi->shape.rank));
            cJSON_AddItemToArray(cJSON_GetObjectItem(root, "params"), o);
            continue;
        }
        for (int k = 0; k < 2; k++) {
            char nf[24], rr[16], cr[16];
            snprintf(nf, sizeof nf, "%lld/%lld", (long long)s[k].nan, (long long)s[k].inf);
            if (isfinite(s[k].row_ratio)) snprintf(rr, sizeof rr, "%.4g", s[k].row_ratio); else snprintf(rr, sizeof rr, "-");
            if (isfinite(s[k].col_ratio)) snprintf(cr, sizeof cr, "%.4g", s[k].col_ratio); else snprintf(cr, sizeof cr, "-");
            char ne[24];
            snprintf(ne, sizeof ne, "%lld", (long long)pi->shape.numel);
            printf("%-34s %-14s %-5s %9s %-2s %11.3e %11.3e %10.3e %7.3f %7s %9s %9s\n",
                   k ? "" : pi->name, k ? "" : shp, k ? "" : dtype_col(pi),
                   k ? "" : ne, k ? "v" : "m",
                   s[k].n ? s[k].min : NAN, s[k].n ? s[k].max : NAN, s[k].n ? s[k].sum_abs / (double)s[k].n : NAN,
                   s[k].n ? 100.0 * (double)s[k].zero / (double)s[k].n : NAN, nf, rr, cr);
        }
    }
    if (json) {
        cJSON_AddNumberToObject(root, "total_elements", (double)total);
        LBQ_TRY(lbq_json_write(out ? out : "-", root));
    } else {
        printf("total: %d parameters, %lld elements per state (%.2f MB of fp32 m+v)\n", lbq_file_nparams(f), (long long)total, (double)total * 8.0 / 1e6);
        int conv = 0;
        for (int i = 0; i < lbq_file_nparams(f); i++) {
            const struct lbq_param_info *pi = lbq_file_param(f, i);
            conv |= pi->orig_dtype[LBQ_DS_M][0] && strcmp(dtype_col(pi), dtype_short(pi->dtype_bits[LBQ_DS_M])) != 0;
        }
        if (conv) printf("dtype: m's dtype in the optimizer before the import (attribute orig_dtype), stored as float32\n");
    }
cleanup:
    if (rc) exitc = cli_fail(rc);
    cJSON_Delete(root);
    free(buf);
    if (!rc) cli_print_read_notes(f);     /* negative v (issue 16) */
    lbq_file_close(f);
    return exitc;
}
