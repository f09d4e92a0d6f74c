/* cli-util.c - option parsing, number parsing, errors and exit codes, shared quantizer options. */
#include "cli.h"
#include "lbq-mpi.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int g_cli_quiet = 0;

void cli_note(const char *fmt, ...)
{
    if (g_cli_quiet) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("lbq: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_print_file_notes(const struct lbq_file *f)
{
    for (int i = 0; i < lbq_file_nnotes(f); i++) cli_note("%s: %s", lbq_file_path(f), lbq_file_note(f, i));
}

int cli_fail(int status)
{
    const char *m = lbq_errmsg();
    fprintf(stderr, "lbq: error: %s\n", m && *m ? m : lbq_status_str(status));
    return cli_exit_code(status);
}

int cli_exit_code(int status)
{
    switch (status) {
    case LBQ_ERR_ARG: case LBQ_ERR_UNSUPPORTED: return LBQ_EXIT_USAGE;
    case LBQ_ERR_FORMAT: return LBQ_EXIT_INPUT;
    case LBQ_ERR_IO: return LBQ_EXIT_INPUT;
    case LBQ_ERR_DATA: return LBQ_EXIT_DATA;
    case LBQ_ERR_CUDA: return LBQ_EXIT_CUDA;
    case LBQ_ERR_INTERRUPTED: return LBQ_EXIT_INTERRUPT;
    case LBQ_ERR_OUTPUT: return LBQ_EXIT_OUTPUT;
    default: return LBQ_EXIT_FAIL;
    }
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    /* under MPI every rank parses the same arguments: only rank 0 reports a usage error */
    if (lbq_mpi_rank() != 0) return LBQ_EXIT_USAGE;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "lbq%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'lbq %s%s--help')\n", cmd ? cmd : "", cmd ? " " : "");
    va_end(ap);
    return LBQ_EXIT_USAGE;
}

int cli_help(const char *cmd)
{
    const struct lbq_cmd *c = cli_find_cmd(cmd);
    if (c) fputs(c->usage, stdout);
    return 0;
}

int cli_next(struct cli_parser *p, const char **val)
{
    *val = NULL;
    while (p->i < p->argc) {
        char *a = p->argv[p->i++];
        if (strcmp(a, "--") == 0) {
            while (p->i < p->argc) {
                if (p->npos == 8) { cli_usage_error(p->cmd, "too many arguments"); return -1; }
                p->positional[p->npos++] = p->argv[p->i++];
            }
            return 0;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) return 'h';
        if (a[0] != '-' || a[1] == 0) {
            if (p->npos == 8) { cli_usage_error(p->cmd, "too many arguments"); return -1; }
            p->positional[p->npos++] = a;
            continue;
        }
        if (a[1] != '-') {
            if (strcmp(a, "-o") == 0) a = "--output";
            else if (strcmp(a, "-q") == 0) a = "--quiet";
            else { cli_usage_error(p->cmd, "unknown option '%s'", a); return -1; }
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        for (const struct cli_opt *o = p->opts; o && o->name; o++) {
            if (strlen(o->name) != len || strncmp(o->name, name, len) != 0) continue;
            if (o->takes_value) {
                if (eq) *val = eq + 1;
                else if (p->i < p->argc) *val = p->argv[p->i++];
                else { cli_usage_error(p->cmd, "option '--%s' needs a value", o->name); return -1; }
            } else if (eq) { cli_usage_error(p->cmd, "option '--%s' takes no value", o->name); return -1; }
            return o->id;
        }
        cli_usage_error(p->cmd, "unknown option '--%.*s'", (int)len, name);
        return -1;
    }
    return 0;
}

int cli_int(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) { cli_usage_error(cmd, "%s: '%s' is not an integer", opt, s); return -1; }
    if (v < lo || v > hi) { cli_usage_error(cmd, "%s: %lld out of range (%lld-%lld)", opt, v, lo, hi); return -1; }
    *out = v;
    return 0;
}

int cli_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) { cli_usage_error(cmd, "%s: '%s' is not a number", opt, s); return -1; }
    if (v < lo || v > hi) { cli_usage_error(cmd, "%s: %g out of range (%g-%g)", opt, v, lo, hi); return -1; }
    *out = v;
    return 0;
}

int cli_bytes(const char *cmd, const char *opt, const char *s, long long *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    double mul = 1;
    if (*end == 'k' || *end == 'K') { mul = 1024.0; end++; }
    else if (*end == 'm' || *end == 'M') { mul = 1048576.0; end++; }
    else if (*end == 'g' || *end == 'G') { mul = 1073741824.0; end++; }
    if (*end == 'i' || *end == 'B') end++;
    if (*end == 'B') end++;
    if (errno || end == s || *end || !(v > 0) || v * mul > 1e15) { cli_usage_error(cmd, "%s: '%s' is not a size (for example 256M, 1G)", opt, s); return -1; }
    *out = (long long)(v * mul);
    if (*out < 1048576) { cli_usage_error(cmd, "%s: %s is below the minimum of 1M", opt, s); return -1; }
    return 0;
}

/* ---- shared quantizer options ---- */
enum { QO_QUANT = CLI_QOPT_IDS_BASE, QO_QM, QO_QV, QO_RECIPE, QO_BITS, QO_BLOCK, QO_ROUND, QO_SEED,
       QO_QUANTILE, QO_MAPFILE, QO_ALL };

const struct cli_opt cli_qopt_table[] = {
    { "quant", 1, QO_QUANT }, { "quant-m", 1, QO_QM }, { "quant-v", 1, QO_QV }, { "recipe", 1, QO_RECIPE },
    { "bits", 1, QO_BITS }, { "block", 1, QO_BLOCK }, { "round", 1, QO_ROUND }, { "seed", 1, QO_SEED },
    { "quantile", 1, QO_QUANTILE }, { "map-file", 1, QO_MAPFILE }, { "quantize-all", 0, QO_ALL },
    { 0, 0, 0 },
};

void cli_qopts_init(struct cli_qopts *q)
{
    memset(q, 0, sizeof *q);
    lbq_qdefaults_init(&q->d);
}

int cli_qopts_take(struct cli_qopts *q, const char *cmd, int id, const char *val)
{
    long long iv; double dv;
    switch (id) {
    case QO_QUANT: q->quant = val; return 1;
    case QO_QM: q->quant_m = val; return 1;
    case QO_QV: q->quant_v = val; return 1;
    case QO_RECIPE: q->recipe = val; return 1;
    case QO_BITS: if (cli_int(cmd, "--bits", val, 1, 8, &iv)) return -1; q->d.bits = (int)iv; q->d.bits_set = 1; return 1;
    case QO_BLOCK: if (cli_int(cmd, "--block", val, 1, (long long)1 << 30, &iv)) return -1; q->d.block = iv; return 1;
    case QO_ROUND:
        if (strcmp(val, "nearest") == 0) q->d.round = LBQ_ROUND_NEAREST;
        else if (strcmp(val, "stochastic") == 0 || strcmp(val, "sr") == 0) q->d.round = LBQ_ROUND_STOCHASTIC;
        else { cli_usage_error(cmd, "--round: '%s' is not 'nearest' or 'stochastic'", val); return -1; }
        return 1;
    case QO_SEED: if (cli_int(cmd, "--seed", val, 0, 0x7fffffffffffffffLL, &iv)) return -1; q->d.seed = (uint64_t)iv; return 1;
    case QO_QUANTILE: if (cli_double(cmd, "--quantile", val, 1e-9, 1.0 - 1e-9, &dv)) return -1; q->d.quantile = (float)dv; return 1;
    case QO_MAPFILE: q->d.map_file = val; return 1;
    case QO_ALL: q->quantize_all = 1; return 1;
    default: return 0;
    }
}

static int parse_spec(const char *cmd, const char *opt, const char *text, const struct lbq_qdefaults *d, struct lbq_qspec *out)
{
    (void)cmd; (void)opt;
    int rc = lbq_qspec_parse(text, d, out);
    if (rc) { cli_fail(rc); return -1; }
    return 0;
}

int cli_qopts_config(struct cli_qopts *q, const char *cmd, struct lbq_config *out)
{
    memset(out, 0, sizeof *out);
    out->quantize_all = q->quantize_all;
    const char *qm = q->quant_m, *qv = q->quant_v;
    if (q->d.map_file && !q->quant && !qm && !qv && !q->recipe) q->quant = "block-file";
    if (q->recipe) {
        if (q->quant || qm || qv) { cli_usage_error(cmd, "--recipe cannot be combined with --quant/--quant-m/--quant-v"); return -1; }
        out->recipe = lbq_recipe_find(q->recipe);
        if (!out->recipe) {
            const char *s = lbq_name_suggest(q->recipe);
            fprintf(stderr, "lbq: error: unknown recipe '%s'%s%s%s; see 'lbq list'\n", q->recipe,
                    s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
            return -1;
        }
        struct lbq_qdefaults d = q->d;
        d.bits_set = 0;
        if (parse_spec(cmd, "--recipe", out->recipe->m_spec, &d, &out->m)) return -1;
        if (parse_spec(cmd, "--recipe", out->recipe->v_spec, &d, &out->v)) return -1;
        out->has_m = out->has_v = 1;
        /* the label names the recipe, and anything the options changed in it */
        snprintf(out->label, sizeof out->label, "%s%s", out->recipe->name,
                 q->d.round == LBQ_ROUND_STOCHASTIC ? " (--round stochastic)" : "");
        return 0;
    }
    if (q->quant) {
        if (!qm) qm = q->quant;
        if (!qv) qv = q->quant;
    }
    if (!qm && !qv) { cli_usage_error(cmd, "say what to quantize: --quant SPEC, --quant-m/--quant-v SPEC or --recipe NAME"); return -1; }
    if (qm) { if (parse_spec(cmd, "--quant-m", qm, &q->d, &out->m)) return -1; out->has_m = 1; }
    if (qv) { if (parse_spec(cmd, "--quant-v", qv, &q->d, &out->v)) return -1; out->has_v = 1; }
    snprintf(out->label, sizeof out->label, "m=%s v=%s", out->has_m ? out->m.text : "fp32", out->has_v ? out->v.text : "fp32");
    return 0;
}
