/* cmd-plot.c - `lbq plot`: redraw the figures of a results JSON (lbq.sweep or lbq.simulate). */
#include "cli.h"
#include "plot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char lbq_usage_plot[] =
"usage: lbq plot RESULTS.json -o DIR [--quiet]\n"
"\n"
"Draw the paper-style figures (docs/figures.md) of a results file with gnuplot (pngcairo and\n"
"pdfcairo; Debian: gnuplot-nox): for 'lbq sweep' results (schema lbq.sweep) fig1-error-vs-bits,\n"
"fig2-error-vs-block, fig3-zero-point, fig4-swamping, fig5-heatmap, fig6-codebooks and\n"
"fig7-memory-vs-error, each that the results have data for; for 'lbq simulate --json' results\n"
"(schema lbq.simulate) simulate-swamping (file simulations) or simulate-final-vs-beta (synthetic).\n"
"Each figure is written as DIR/NAME.png and DIR/NAME.pdf, with its data as DIR/NAME.dat (TSV; its\n"
"first lines give the gnuplot command that redraws it).  The gnuplot scripts are found through\n"
"LBQ_PLOTS_DIR, else the source tree lbq was built from, else <lbq's directory>/../plots.\n"
"\n"
"  -o, --output DIR   output directory (created if missing)\n"
"  -q, --quiet        no summary line on stderr\n";

enum { O_OUT = 1, O_QUIET };
static const struct cli_opt opts[] = { { "output", 1, O_OUT }, { "quiet", 0, O_QUIET }, { 0, 0, 0 } };

#define MAX_JSON_BYTES (256L << 20)
#define MAX_JSON_VALUES (1L << 23)   /* cJSON spends ~80 bytes per value: at most ~700 MB parsed */

/* an upper bound on the number of values in a JSON text: separators and openers outside strings */
static long json_values(const char *s, size_t n)
{
    long k = 1;
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = 0;
        } else if (c == '"') in_str = 1;
        else if (c == ',' || c == '[' || c == '{') k++;
    }
    return k;
}

/* whole file, NUL-terminated; NULL with *status and lbq_errmsg set */
static char *read_all(const char *path, size_t *len, int *status)
{
    FILE *fp = fopen(path, "rb");
    *status = LBQ_ERR_IO;
    if (!fp) { lbq_err(LBQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    struct stat sb;
    if (fstat(fileno(fp), &sb) == 0 && S_ISDIR(sb.st_mode)) { fclose(fp); lbq_err(LBQ_ERR_IO, "%s: is a directory", path); return NULL; }
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap);
    while (s) {
        if (n + 1 >= cap) {
            if (cap >= (size_t)MAX_JSON_BYTES + 2) { free(s); fclose(fp); *status = lbq_err(LBQ_ERR_FORMAT, "%s: larger than %ld MiB; not an lbq results file", path, MAX_JSON_BYTES >> 20); return NULL; }
            char *t = realloc(s, cap * 2);
            if (!t) { free(s); s = NULL; break; }
            s = t; cap *= 2;
        }
        size_t r = fread(s + n, 1, cap - 1 - n, fp);
        n += r;
        if (r == 0) break;
    }
    if (!s) { fclose(fp); *status = lbq_err(LBQ_ERR_NOMEM, "%s: out of memory", path); return NULL; }
    if (ferror(fp)) { free(s); fclose(fp); lbq_err(LBQ_ERR_IO, "%s: read error", path); return NULL; }
    fclose(fp);
    s[n] = 0;
    *len = n;
    *status = LBQ_OK;
    return s;
}

int cmd_plot(int argc, char **argv)
{
    struct cli_parser p = { "plot", opts, argc, argv, 1, {0}, 0 };
    const char *val, *dir = NULL;
    int id, quiet = 0, rc = LBQ_OK;
    while ((id = cli_next(&p, &val)) != 0) {
        if (id < 0) return LBQ_EXIT_USAGE;
        if (id == 'h') return cli_help("plot");
        if (id == O_OUT) dir = val;
        else if (id == O_QUIET) { quiet = 1; g_cli_quiet = 1; }
    }
    if (p.npos != 1) return cli_usage_error("plot", p.npos ? "expected one RESULTS.json, got %d arguments" : "missing RESULTS.json%.0d", p.npos);
    if (!dir || !*dir) return cli_usage_error("plot", "missing -o DIR");
    const char *path = p.positional[0];
    if (cli_check_outdir("-o", dir, path)) return LBQ_EXIT_OUTPUT;
    size_t len = 0;
    char *text = read_all(path, &len, &rc);
    if (!text) return cli_fail(rc);
    if (json_values(text, len) > MAX_JSON_VALUES) {
        free(text);
        return cli_fail(lbq_err(LBQ_ERR_FORMAT, "%s: more than %ld JSON values; larger than any results file lbq plot reads", path, MAX_JSON_VALUES));
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        long off = end && end >= text ? (long)(end - text) : -1;
        free(text);
        return cli_fail(lbq_err(LBQ_ERR_FORMAT, "%s: not valid JSON (%s at byte %ld)", path, off >= (long)len ? "ends early" : "syntax error", off));
    }
    free(text);
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "schema_version");
    int kind = 0;
    if (!cJSON_IsObject(root)) rc = lbq_err(LBQ_ERR_FORMAT, "%s: not an lbq results file (the top level is not an object)", path);
    else if (!cJSON_IsString(schema))
        rc = lbq_err(LBQ_ERR_FORMAT, "%s: bad key 'schema': expected \"lbq.sweep\" or \"lbq.simulate\", got %s", path,
                     schema ? "another type" : "nothing (missing)");
    else if (strcmp(schema->valuestring, "lbq.sweep") == 0) kind = 1;
    else if (strcmp(schema->valuestring, "lbq.simulate") == 0) kind = 2;
    else {
        char s[64];
        size_t k = 0;
        for (const char *c = schema->valuestring; *c && k + 1 < sizeof s; c++) s[k++] = (*c >= 0x20 && *c < 0x7f) ? *c : '?';
        s[k] = 0;
        rc = lbq_err(LBQ_ERR_FORMAT, "%s: bad key 'schema': \"%s\" is not \"lbq.sweep\" or \"lbq.simulate\" (lbq plot draws those)", path, s);
    }
    /* lbq.sweep/2 only added keys (SOLO edge-case counts), /3 the aggregates over tensors and the structural-zero split (fig3 shows it only from /3; the
     * figures rank by their element-weighted mean; older files by the pooled totals, and say so);
     * lbq.simulate/2 added m_plan/v_plan and writes null (not 0) for the swamping metrics of fp32
     * states: older versions still plot */
    const int vmax = kind == 1 ? 3 : 2;
    if (!rc && (!cJSON_IsNumber(ver) || ver->valuedouble < 1 || ver->valuedouble > vmax || ver->valuedouble != (int)ver->valuedouble))
        rc = lbq_err(LBQ_ERR_FORMAT, "%s: bad key 'schema_version': expected %s%s", path, vmax == 3 ? "1, 2 or 3" : "1 or 2", cJSON_IsNumber(ver) ? " (written by a newer lbq?)" : "");
    if (!rc) {
        rc = kind == 1 ? lbq_plot_sweep(root, dir, quiet) : lbq_plot_simulate(root, dir, quiet);
        if (rc == LBQ_ERR_FORMAT || rc == LBQ_ERR_DATA) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", lbq_errmsg());
            lbq_err(rc, "%s: %s", path, msg);
        }
    }
    cJSON_Delete(root);
    return rc ? cli_fail(rc) : 0;
}
