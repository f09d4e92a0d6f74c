/* plot.c - the paper-style figures (docs/figures.md): results JSON -> DIR/<fig>.dat (TSV) -> gnuplot
 * (plots/<fig>.gp) -> DIR/<fig>.png and DIR/<fig>.pdf.
 *
 * Two phases.  First every part of the results object a figure uses is checked and copied into
 * plain C arrays; a wrong type, a missing key or an oversized array stops everything with one
 * error naming the key, before any file is written.  Then each figure's data file is written
 * (atomically) and gnuplot is run on it: fork + chdir(DIR) + execv, so no shell ever sees a path,
 * and the -e assignments name only files this code chose (relative to DIR) plus texts from the
 * JSON that are reduced to plain printable ASCII with single quotes doubled.  gnuplot writes to
 * temporary names that are renamed over DIR/<fig>.png/.pdf only when it succeeded. */
#define _XOPEN_SOURCE 700      /* realpath */
#include "plot.h"
#include "gnuplot.h"
#include "cli.h"
#include "lbq-json.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- limits on hostile input ------------------------------------------------------------------ */
#define MAX_CONFIGS   100000
#define MAX_BINS      100000
#define MAX_LEVELS    65536
#define MAX_CB_MAPS   64
#define MAX_HEAT      1024        /* rows and columns of the pooled heatmap grid */
#define MAX_RUNS      1024
#define MAX_POINTS    100000      /* per series (beta grid, simulate steps) */
#define MAX_SERIES    24          /* lines in one panel; further maps are left out (noted) */
#define MAX_SIM_PARAMS 10         /* parameters drawn by the simulate figure (one colour each) */
#define MAX_FIGS      16
#define MAX_GROUPS    32

/* ---- growable text buffer ---------------------------------------------------------------------- */
struct sbuf { char *p; size_t n, cap; int oom; };

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->n + n + 1) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) { b->oom = 1; return; }
        b->p = np; b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_puts(struct sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    sb_putn(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* a data cell: "?" (gnuplot's missing marker, set in plots/lbq-style.gp) for undefined values */
static void sb_num(struct sbuf *b, double v)
{
    if (isfinite(v)) sb_printf(b, "%.9g", v); else sb_puts(b, "?");
}

static void sb_free(struct sbuf *b) { free(b->p); memset(b, 0, sizeof *b); }


/* ---- JSON access with errors that name the key ----------------------------------------------- */
static const char *jtype(const cJSON *j)
{
    if (!j) return "nothing (missing)";
    if (cJSON_IsNull(j)) return "null";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsObject(j)) return "an object";
    return "an invalid value";
}

static int bad(const char *path, const char *key, const char *want, const cJSON *got)
{
    return lbq_err(LBQ_ERR_FORMAT, "bad key '%s%s%s': expected %s, got %s", path, *path && key ? "." : "", key ? key : "",
                   want, jtype(got));
}

enum { J_OPT = 0, J_REQ = 1 };

/* object member `key` of o: required or optional; null counts as absent when optional */
static int j_obj(const cJSON *o, const char *path, const char *key, int req, const cJSON **out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!j || (cJSON_IsNull(j) && !req)) return req ? bad(path, key, "an object", j) : LBQ_OK;
    if (!cJSON_IsObject(j)) return bad(path, key, "an object", j);
    *out = j;
    return LBQ_OK;
}

static int j_arr(const cJSON *o, const char *path, const char *key, int req, int maxn, const cJSON **out, int *n)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL; *n = 0;
    if (!j || (cJSON_IsNull(j) && !req)) return req ? bad(path, key, "an array", j) : LBQ_OK;
    if (!cJSON_IsArray(j)) return bad(path, key, "an array", j);
    int k = cJSON_GetArraySize(j);
    if (k > maxn) return lbq_err(LBQ_ERR_FORMAT, "bad key '%s%s%s': %d entries, more than the %d lbq plot accepts", path, *path ? "." : "", key, k, maxn);
    *out = j; *n = k;
    return LBQ_OK;
}

static int j_str(const cJSON *o, const char *path, const char *key, int req, const char **out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!j || (cJSON_IsNull(j) && !req)) return req ? bad(path, key, "a string", j) : LBQ_OK;
    if (!cJSON_IsString(j) || !j->valuestring) return bad(path, key, "a string", j);
    *out = j->valuestring;
    return LBQ_OK;
}

/* a number; null (how lbq writes NaN) gives NaN; absent gives NaN unless required */
static int j_num(const cJSON *o, const char *path, const char *key, int req, double *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NAN;
    if (!j) return req ? bad(path, key, "a number", j) : LBQ_OK;
    if (cJSON_IsNull(j)) return LBQ_OK;
    if (!cJSON_IsNumber(j)) return bad(path, key, "a number or null", j);
    *out = j->valuedouble;
    return LBQ_OK;
}

/* a required integer in [lo, hi] */
static int j_int(const cJSON *o, const char *path, const char *key, double lo, double hi, long long *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    char want[96];
    snprintf(want, sizeof want, "an integer in %.0f..%.0f", lo, hi);
    if (!j || !cJSON_IsNumber(j)) return bad(path, key, want, j);
    double v = j->valuedouble;
    if (!(v >= lo && v <= hi) || v != floor(v))
        return lbq_err(LBQ_ERR_FORMAT, "bad key '%s%s%s': expected %s, got %g", path, *path ? "." : "", key, want, v);
    *out = (long long)v;
    return LBQ_OK;
}

/* an array of numbers (null -> NaN), copied; *out = NULL and *n = 0 when optional and absent */
static int j_nums(const cJSON *o, const char *path, const char *key, int req, int maxn, double **out, int *n)
{
    const cJSON *a;
    *out = NULL; *n = 0;
    int k, rc = j_arr(o, path, key, req, maxn, &a, &k);
    if (rc || !a) return rc;
    double *v = malloc(sizeof(double) * (size_t)(k ? k : 1));
    if (!v) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, a) {
        if (cJSON_IsNull(it)) v[i] = NAN;
        else if (cJSON_IsNumber(it)) v[i] = it->valuedouble;
        else {
            free(v);
            char p[512];
            snprintf(p, sizeof p, "%s%s%s[%d]", path, *path ? "." : "", key, i);
            return bad(p, NULL, "a number or null", it);
        }
        i++;
    }
    *out = v; *n = k;
    return LBQ_OK;
}

/* ---- names, colours ---------------------------------------------------------------------------
 * Labels and colours come from the registries' display slots (struct lbq_map: label, line; struct
 * lbq_norm: label, abbrev, point), looked up by the exact name a results.json carries.  Linetypes
 * are defined in plots/lbq-style.gp: 1..8 the maps with a `line` slot, 9 black (fp32, exact,
 * Pareto front), 10..15 further maps, 21..28 bitwidths 1..8, 31..40 a categorical palette. */
static const struct lbq_map *reg_map(const char *name)
{
    for (int i = 0; i < lbq_map_count(); i++) if (strcmp(lbq_map_at(i)->name, name) == 0) return lbq_map_at(i);
    return NULL;
}

static const struct lbq_norm *reg_norm(const char *name)
{
    for (int i = 0; i < lbq_norm_count(); i++) if (strcmp(lbq_norm_at(i)->name, name) == 0) return lbq_norm_at(i);
    return NULL;
}

/* the registered name of the normalization of this kind (enum lbq_norm_kind), "" if none */
static const char *norm_of_kind(int kind)
{
    for (int i = 0; i < lbq_norm_count(); i++) if (lbq_norm_at(i)->kind == kind) return lbq_norm_at(i)->name;
    return "";
}

/* a config's normalization is of this kind (enum lbq_norm_kind) */
static int norm_is(const char *norm, int kind)
{
    const struct lbq_norm *n = reg_norm(norm);
    return n && n->kind == kind;
}

struct ctx {
    const char *unknown[32];    /* maps without a paper name: colours by first appearance */
    int nunknown;
    char notes[512];            /* figures left out, for the summary line */
};

static void note(struct ctx *c, const char *fmt, ...)
{
    size_t l = strlen(c->notes);
    if (l + 4 >= sizeof c->notes) return;
    if (l) { strcat(c->notes, "; "); l += 2; }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->notes + l, sizeof c->notes - l, fmt, ap);
    va_end(ap);
}

/* a map with a paper colour and label, or NULL */
static const struct lbq_map *known_map(const char *m)
{
    const struct lbq_map *r = reg_map(m);
    return r && r->line > 0 ? r : NULL;
}

static int map_lt(struct ctx *c, const char *m)
{
    const struct lbq_map *k = known_map(m);
    if (k) return k->line;
    for (int i = 0; i < c->nunknown; i++) if (strcmp(c->unknown[i], m) == 0) return 10 + i % 6;
    if (c->nunknown < 32) c->unknown[c->nunknown++] = m;
    return 10 + (c->nunknown - 1) % 6;
}

static void map_label(const char *m, char *buf, size_t n)
{
    const struct lbq_map *k = known_map(m);
    if (k) snprintf(buf, n, "%s", k->label ? k->label : k->name); else cli_text_clean(buf, n < 33 ? n : 33, m);   /* <= 32 chars */
}

static void norm_prefix(const char *norm, long long block, char *buf, size_t n)
{
    char t[24];
    const struct lbq_norm *r = reg_norm(norm);
    if (r && r->blockwise && r->abbrev) snprintf(buf, n, "%s%lld", r->abbrev, block);
    else if (r && r->label) snprintf(buf, n, "%s", r->label);
    else { cli_text_clean(t, sizeof t, norm); snprintf(buf, n, "%s", t); }
}

/* "B128/DE", "Rank-1/Linear" */
static void series_label(const char *norm, long long block, const char *map, char *buf, size_t n)
{
    char a[24], b[36];
    norm_prefix(norm, block, a, sizeof a);
    map_label(map, b, sizeof b);
    snprintf(buf, n, "%s/%s", a, b);
}

/* ---- figure jobs ------------------------------------------------------------------------------- */
struct fig {
    const char *name;           /* DIR/<name>.{dat,png,pdf}, plots/<script>.gp */
    const char *script;
    struct sbuf data;           /* the .dat content after its first comment line */
    struct sbuf vars;           /* gnuplot assignments after datafile and outfile: "k='v'; k2=3; " */
};

struct figs { struct fig f[MAX_FIGS]; int n; };

static struct fig *fig_new(struct figs *fs, const char *name, const char *script)
{
    struct fig *f = &fs->f[fs->n++];
    memset(f, 0, sizeof *f);
    f->name = name; f->script = script;
    return f;
}

static void figs_free(struct figs *fs)
{
    for (int i = 0; i < fs->n; i++) { sb_free(&fs->f[i].data); sb_free(&fs->f[i].vars); }
    fs->n = 0;
}

/* name='text' with the text cleaned and single quotes doubled (gnuplot's single-quoted strings
 * have no other escapes, no macro or backquote substitution) */
static void var_str(struct sbuf *v, const char *name, const char *text)
{
    char t[512];
    cli_text_clean(t, sizeof t, text);
    sb_printf(v, "%s='", name);
    for (const char *s = t; *s; s++) {
        sb_putn(v, s, 1);
        if (*s == '\'') sb_putn(v, s, 1);     /* '' is a quote inside a single-quoted string */
    }
    sb_puts(v, "'; ");
}

static void var_strf(struct sbuf *v, const char *name, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void var_strf(struct sbuf *v, const char *name, const char *fmt, ...)
{
    char t[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t, sizeof t, fmt, ap);
    va_end(ap);
    var_str(v, name, t);
}

/* ---- wide tables: one block per panel, column 1 = x, one column per line ------------------------ */
struct wcol { char title[64]; int lt, dt; double *y; };
struct wide {
    int nx, ncol;
    int brk;                    /* undefined cells break lines ("NaN") instead of being skipped ("?") */
    double *x;
    struct wcol col[2 * MAX_SERIES + 2];
};

static int wide_init(struct wide *w, const double *x, int nx)
{
    memset(w, 0, sizeof *w);
    w->x = malloc(sizeof(double) * (size_t)(nx ? nx : 1));
    if (!w->x) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    if (nx) memcpy(w->x, x, sizeof(double) * (size_t)nx);
    w->nx = nx;
    return LBQ_OK;
}

/* a new column (all undefined); NULL when the panel is full */
static double *wide_col(struct wide *w, const char *title, int lt, int dt)
{
    if (w->ncol == (int)(sizeof w->col / sizeof w->col[0])) return NULL;
    struct wcol *c = &w->col[w->ncol];
    c->y = malloc(sizeof(double) * (size_t)(w->nx ? w->nx : 1));
    if (!c->y) return NULL;
    for (int i = 0; i < w->nx; i++) c->y[i] = NAN;
    cli_text_clean(c->title, sizeof c->title, title);
    c->lt = lt; c->dt = dt;
    w->ncol++;
    return c->y;
}

/* drop columns without a usable value (positive when the axis is logarithmic): gnuplot would
 * draw their key entry without a line */
static void wide_prune(struct wide *w, int logy)
{
    int k = 0;
    for (int i = 0; i < w->ncol; i++) {
        int ok = 0;
        for (int j = 0; j < w->nx; j++) {
            double v = w->col[i].y[j];
            if (isfinite(v) && (!logy || v > 0)) ok = 1;
            else if (logy && isfinite(v) && v <= 0) w->col[i].y[j] = NAN;
        }
        if (ok) w->col[k++] = w->col[i]; else free(w->col[i].y);
    }
    w->ncol = k;
}

static void wide_free(struct wide *w)
{
    for (int i = 0; i < w->ncol; i++) free(w->col[i].y);
    free(w->x);
    memset(w, 0, sizeof *w);
}

/* append the panel as data block `panel` of f: header, rows, two blank lines; and its variables
 * lcsN / dtsN (linetype and dashtype per data column) and ptitleN */
static void wide_emit(struct fig *f, int panel, const struct wide *w, const char *xname, const char *ptitle)
{
    if (panel > 0) sb_puts(&f->data, "\n\n");
    sb_puts(&f->data, xname);
    for (int i = 0; i < w->ncol; i++) { sb_puts(&f->data, "\t"); sb_puts(&f->data, w->col[i].title); }
    sb_puts(&f->data, "\n");
    for (int j = 0; j < w->nx; j++) {
        sb_num(&f->data, w->x[j]);
        for (int i = 0; i < w->ncol; i++) {
            double v = w->col[i].y[j];
            sb_puts(&f->data, "\t");
            if (w->brk && !isfinite(v)) sb_puts(&f->data, "NaN"); else sb_num(&f->data, v);
        }
        sb_puts(&f->data, "\n");
    }
    char name[32], lcs[8 * (2 * MAX_SERIES + 2)] = "", dts[8 * (2 * MAX_SERIES + 2)] = "";
    for (int i = 0; i < w->ncol; i++) {
        size_t l = strlen(lcs), m = strlen(dts);
        snprintf(lcs + l, sizeof lcs - l, "%s%d", i ? " " : "", w->col[i].lt);
        snprintf(dts + m, sizeof dts - m, "%s%d", i ? " " : "", w->col[i].dt);
    }
    snprintf(name, sizeof name, "lcs%d", panel); var_str(&f->vars, name, lcs);
    snprintf(name, sizeof name, "dts%d", panel); var_str(&f->vars, name, dts);
    snprintf(name, sizeof name, "ptitle%d", panel); var_str(&f->vars, name, ptitle ? ptitle : "");
}

/* ---- helpers on number sets -------------------------------------------------------------------- */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* sort and deduplicate in place; returns the new count */
static int uniq(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int k = 0;
    for (int i = 0; i < n; i++) if (k == 0 || v[i] != v[k - 1]) v[k++] = v[i];
    return k;
}

static int find_x(const double *x, int n, double v)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (x[mid] == v) return mid;
        if (x[mid] < v) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

/* ================================================================================================
 * sweep results (schema lbq.sweep/1 to /3)
 * ================================================================================================ */
struct hist { double lo, hi; int bins; double *exact, *quant; };

struct cfg {
    const char *label, *map, *norm;
    const char *recipe;         /* a published recipe's point (configs[].recipe), or NULL */
    const char *m_recipe;       /* a v-only map's point whose m is that recipe's m quantizer, or NULL */
    int bits;
    long long block;
    int has_m, has_v;
    double m, v, u, bm, bv;     /* rel-L2 of m, v, update (the ranking statistic when `ranked`, else
                                 * the pooled totals); bits per element incl. scales */
    int ranked;                 /* from "aggregates" (lbq.sweep/3) */
    int ng;                     /* role groups (lbq.sweep/3 "groups"): names, update rel-L2 (the ranking statistic) */
    const char *gname[MAX_GROUPS];
    double gu[MAX_GROUPS];
    struct hist h;              /* bins == 0: none */
    /* structural-zero split of v (totals.v.zero_split, schema lbq.sweep/3): fp32 zeros kept at 0,
     * fp32 zeros lifted, non-zero v, non-zero v collapsed to 0; has_vz = 0 when absent */
    int has_vz;
    double vz_kept, vz_lifted, vz_nonzero, vz_collapsed;
};

struct cbmap { const char *name; double *lev[2]; int n[2]; double xp; };   /* xp: the log map's example block */   /* [0] signed, [1] unsigned */
struct swrun { const char *map; int bits; double *beta, *fm, *f32; int n; };

struct sweep {
    struct cfg *c; int nc;      /* the grid's configurations */
    struct cfg *rec; int nrec;  /* the published recipes' (configs with a "recipe" key): fig7 only */
    double eps;                 /* hparams.eps (Adam's epsilon), NaN if absent */
    int cb_bits; struct cbmap cb[MAX_CB_MAPS]; int ncb;
    char heat_shape[160];       /* "64 x 3 x 3 x 3" for an N-D tensor (N > 2), else empty */
    const char *heat_param; double heat_rows, heat_cols, heat_ratio; long long pr, pc; int hr, hc; double *heat;
    struct swrun *runs; int nruns;
};

static void sweep_free(struct sweep *s)
{
    for (int i = 0; i < s->nc; i++) { free(s->c[i].h.exact); free(s->c[i].h.quant); }
    for (int i = 0; i < s->nrec; i++) { free(s->rec[i].h.exact); free(s->rec[i].h.quant); }
    free(s->c); free(s->rec);
    for (int i = 0; i < s->ncb; i++) { free(s->cb[i].lev[0]); free(s->cb[i].lev[1]); }
    free(s->heat);
    for (int i = 0; i < s->nruns; i++) { free(s->runs[i].beta); free(s->runs[i].fm); free(s->runs[i].f32); }
    free(s->runs);
    memset(s, 0, sizeof *s);
}

static int load_hist(const cJSON *u, const char *path, struct hist *h)
{
    const cJSON *ho;
    char p[256];
    long long bins;
    int rc = j_obj(u, path, "hist_log10_inv_sqrt_v", J_OPT, &ho);
    if (rc || !ho) return rc;
    snprintf(p, sizeof p, "%s.hist_log10_inv_sqrt_v", path);
    if ((rc = j_num(ho, p, "lo", J_REQ, &h->lo)) || (rc = j_num(ho, p, "hi", J_REQ, &h->hi))) return rc;
    if (!isfinite(h->lo) || !isfinite(h->hi) || !(h->hi > h->lo)) return bad(p, "hi", "finite lo < hi", cJSON_GetObjectItem(ho, "hi"));
    if ((rc = j_int(ho, p, "bins", 1, MAX_BINS, &bins))) return rc;
    int ne, nq;
    if ((rc = j_nums(ho, p, "exact", J_REQ, MAX_BINS, &h->exact, &ne))) return rc;
    if ((rc = j_nums(ho, p, "quant", J_REQ, MAX_BINS, &h->quant, &nq))) return rc;
    if (ne != bins || nq != bins)
        return lbq_err(LBQ_ERR_FORMAT, "bad key '%s.%s': %d entries, expected bins = %lld", p, ne != bins ? "exact" : "quant", ne != bins ? ne : nq, bins);
    h->bins = (int)bins;
    return LBQ_OK;
}

/* totals.v.zero_split (optional: sweep files before schema 3 have none) */
static int load_zero_split(const cJSON *sv, const char *path, struct cfg *c)
{
    const cJSON *z;
    char p[256];
    int rc = j_obj(sv, path, "zero_split", J_OPT, &z);
    c->has_vz = 0;
    if (rc || !z) return rc;
    snprintf(p, sizeof p, "%s.zero_split", path);
    if ((rc = j_num(z, p, "kept", J_REQ, &c->vz_kept)) || (rc = j_num(z, p, "lifted", J_REQ, &c->vz_lifted)) ||
        (rc = j_num(z, p, "nonzero", J_REQ, &c->vz_nonzero)) || (rc = j_num(z, p, "collapsed", J_REQ, &c->vz_collapsed)))
        return rc;
    c->has_vz = 1;
    return LBQ_OK;
}

static int load_config(const cJSON *o, int i, struct cfg *c)
{
    char p[64], p2[160];
    const cJSON *t, *sm, *sv, *su, *spec;
    long long bits, block;
    int rc;
    snprintf(p, sizeof p, "configs[%d]", i);
    if (!cJSON_IsObject(o)) return bad(p, NULL, "an object", o);
    c->m = c->v = c->u = c->bm = c->bv = NAN;
    if ((rc = j_str(o, p, "label", J_OPT, &c->label)) || (rc = j_str(o, p, "map", J_REQ, &c->map)) ||
        (rc = j_str(o, p, "norm", J_REQ, &c->norm)) || (rc = j_int(o, p, "bits", 1, 64, &bits)) ||
        (rc = j_int(o, p, "block", 0, 1e15, &block)))
        return rc;
    c->bits = (int)bits; c->block = block;
    if ((rc = j_str(o, p, "recipe", J_OPT, &c->recipe)) || (rc = j_str(o, p, "m_from_recipe", J_OPT, &c->m_recipe))) return rc;
    c->has_m = c->has_v = 1;
    spec = cJSON_GetObjectItemCaseSensitive(o, "m_spec");
    if (spec && !cJSON_IsNull(spec) && !cJSON_IsString(spec)) return bad(p, "m_spec", "a string or null", spec);
    if (spec && cJSON_IsNull(spec)) c->has_m = 0;
    spec = cJSON_GetObjectItemCaseSensitive(o, "v_spec");
    if (spec && !cJSON_IsNull(spec) && !cJSON_IsString(spec)) return bad(p, "v_spec", "a string or null", spec);
    if (spec && cJSON_IsNull(spec)) c->has_v = 0;
    if ((rc = j_obj(o, p, "totals", J_REQ, &t))) return rc;
    snprintf(p2, sizeof p2, "%s.totals", p);
    if ((rc = j_obj(t, p2, "m", J_REQ, &sm)) || (rc = j_obj(t, p2, "v", J_REQ, &sv)) || (rc = j_obj(t, p2, "update", J_REQ, &su)))
        return rc;
    if ((rc = j_num(t, p2, "bits_per_elem_m", J_OPT, &c->bm)) || (rc = j_num(t, p2, "bits_per_elem_v", J_OPT, &c->bv))) return rc;
    snprintf(p2, sizeof p2, "%s.totals.m", p);
    if ((rc = j_num(sm, p2, "rel_l2", J_REQ, &c->m))) return rc;
    snprintf(p2, sizeof p2, "%s.totals.v", p);
    if ((rc = j_num(sv, p2, "rel_l2", J_REQ, &c->v))) return rc;
    if ((rc = load_zero_split(sv, p2, c))) return rc;
    snprintf(p2, sizeof p2, "%s.totals.update", p);
    if ((rc = j_num(su, p2, "rel_l2", J_REQ, &c->u))) return rc;
    if ((rc = load_hist(su, p2, &c->h))) return rc;
    /* lbq.sweep/3: the errors every figure shows and ranks by are the ranking statistic, the
     * element-weighted mean of per-tensor values (docs/metrics.md); the pooled totals otherwise */
    const cJSON *ag;
    if ((rc = j_obj(o, p, "aggregates", J_OPT, &ag))) return rc;
    c->ranked = ag != NULL;
    if (ag) {
        static const char *const key[3] = { "m_rel_l2", "v_rel_l2", "update_rel_l2" };
        double *dst[3] = { &c->m, &c->v, &c->u };
        for (int k = 0; k < 3; k++) {
            const cJSON *a;
            snprintf(p2, sizeof p2, "%s.aggregates", p);
            if ((rc = j_obj(ag, p2, key[k], J_REQ, &a))) return rc;
            snprintf(p2, sizeof p2, "%s.aggregates.%s", p, key[k]);
            if ((rc = j_num(a, p2, "weighted_mean", J_REQ, dst[k]))) return rc;
        }
    }
    const cJSON *ga = cJSON_GetObjectItemCaseSensitive(o, "groups"), *g;
    if (ga && !cJSON_IsArray(ga)) return bad(p, "groups", "an array", ga);
    cJSON_ArrayForEach(g, ga) {
        const cJSON *a, *u;
        if (c->ng >= MAX_GROUPS) break;
        snprintf(p2, sizeof p2, "%s.groups[%d]", p, c->ng);
        if ((rc = j_str(g, p2, "name", J_REQ, &c->gname[c->ng])) || (rc = j_obj(g, p2, "aggregates", J_REQ, &a))) return rc;
        snprintf(p2, sizeof p2, "%s.groups[%d].aggregates", p, c->ng);
        if ((rc = j_obj(a, p2, "update_rel_l2", J_REQ, &u))) return rc;
        snprintf(p2, sizeof p2, "%s.groups[%d].aggregates.update_rel_l2", p, c->ng);
        if ((rc = j_num(u, p2, "weighted_mean", J_REQ, &c->gu[c->ng]))) return rc;
        c->ng++;
    }
    return LBQ_OK;
}

static int load_sweep(const cJSON *root, struct sweep *s)
{
    const cJSON *a, *it, *o;
    int n, rc;
    memset(s, 0, sizeof *s);
    if (!cJSON_IsObject(root)) return bad("", "(top level)", "an object", root);
    if ((rc = j_arr(root, "", "configs", J_REQ, MAX_CONFIGS, &a, &n))) return rc;
    s->c = calloc((size_t)(n ? n : 1), sizeof *s->c);
    s->rec = calloc((size_t)(n ? n : 1), sizeof *s->rec);
    if (!s->c || !s->rec) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    int k = 0;
    cJSON_ArrayForEach(it, a) {
        struct cfg c;
        memset(&c, 0, sizeof c);
        rc = load_config(it, k++, &c);
        /* the recipes' points go to fig7 only; the grid figures (fig1-fig3) see the grid */
        if (c.recipe) s->rec[s->nrec++] = c; else s->c[s->nc++] = c;
        if (rc) return rc;
    }
    /* Adam's epsilon: where a v quantized to zero lands in figure 3 */
    if ((rc = j_obj(root, "", "hparams", J_OPT, &o))) return rc;
    s->eps = NAN;
    if (o && (rc = j_num(o, "hparams", "eps", J_OPT, &s->eps))) return rc;
    /* codebooks */
    if ((rc = j_obj(root, "", "codebooks", J_OPT, &o))) return rc;
    if (o) {
        long long bits;
        const cJSON *maps;
        int nm;
        if ((rc = j_int(o, "codebooks", "bits", 1, 64, &bits)) || (rc = j_arr(o, "codebooks", "maps", J_REQ, MAX_CB_MAPS, &maps, &nm))) return rc;
        s->cb_bits = (int)bits;
        cJSON_ArrayForEach(it, maps) {
            char p[64];
            snprintf(p, sizeof p, "codebooks.maps[%d]", s->ncb);
            struct cbmap *m = &s->cb[s->ncb++];
            if (!cJSON_IsObject(it)) return bad(p, NULL, "an object", it);
            if ((rc = j_str(it, p, "name", J_REQ, &m->name)) || (rc = j_nums(it, p, "signed", J_OPT, MAX_LEVELS, &m->lev[0], &m->n[0])) ||
                (rc = j_nums(it, p, "unsigned", J_OPT, MAX_LEVELS, &m->lev[1], &m->n[1])) || (rc = j_num(it, p, "example_xp", J_OPT, &m->xp)))
                return rc;
        }
    }
    /* heatmap */
    if ((rc = j_obj(root, "", "heatmap", J_OPT, &o))) return rc;
    if (o) {
        const cJSON *vals, *row;
        int nr;
        if ((rc = j_str(o, "heatmap", "param", J_REQ, &s->heat_param)) || (rc = j_num(o, "heatmap", "rows", J_OPT, &s->heat_rows)) ||
            (rc = j_num(o, "heatmap", "cols", J_OPT, &s->heat_cols)) || (rc = j_num(o, "heatmap", "max_over_median", J_OPT, &s->heat_ratio)))
            return rc;
        double *shp = NULL;
        int nshp = 0;
        if ((rc = j_nums(o, "heatmap", "shape", J_OPT, 8, &shp, &nshp))) return rc;
        for (int d = 0; d < nshp; d++) {
            size_t l = strlen(s->heat_shape);
            if (!(shp[d] >= 0 && shp[d] < 1e15)) continue;
            snprintf(s->heat_shape + l, sizeof s->heat_shape - l, "%s%.0f", d ? " x " : "", shp[d]);
        }
        if (nshp <= 2) s->heat_shape[0] = 0;      /* 2-D: rows x cols says it all */
        free(shp);
        s->pr = s->pc = 1;
        if (cJSON_GetObjectItemCaseSensitive(o, "pool_rows") && (rc = j_int(o, "heatmap", "pool_rows", 1, 1e12, &s->pr))) return rc;
        if (cJSON_GetObjectItemCaseSensitive(o, "pool_cols") && (rc = j_int(o, "heatmap", "pool_cols", 1, 1e12, &s->pc))) return rc;
        if ((rc = j_arr(o, "heatmap", "values", J_REQ, MAX_HEAT, &vals, &nr))) return rc;
        int i = 0;
        cJSON_ArrayForEach(row, vals) {
            char p[64];
            snprintf(p, sizeof p, "heatmap.values[%d]", i);
            if (!cJSON_IsArray(row)) return bad(p, NULL, "an array of numbers", row);
            int nc = cJSON_GetArraySize(row);
            if (i == 0) {
                if (nc < 1 || nc > MAX_HEAT) return lbq_err(LBQ_ERR_FORMAT, "bad key '%s': %d columns (1..%d accepted)", p, nc, MAX_HEAT);
                s->hr = nr; s->hc = nc;
                s->heat = malloc(sizeof(double) * (size_t)nr * (size_t)nc);
                if (!s->heat) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
            } else if (nc != s->hc) return lbq_err(LBQ_ERR_FORMAT, "bad key '%s': %d columns, row 0 has %d", p, nc, s->hc);
            int j = 0;
            const cJSON *x;
            cJSON_ArrayForEach(x, row) {
                if (cJSON_IsNull(x)) s->heat[(size_t)i * (size_t)nc + (size_t)j] = NAN;
                else if (cJSON_IsNumber(x)) s->heat[(size_t)i * (size_t)nc + (size_t)j] = x->valuedouble;
                else { char q[80]; snprintf(q, sizeof q, "%s[%d]", p, j); return bad(q, NULL, "a number or null", x); }
                j++;
            }
            i++;
        }
    }
    /* SOLO case study */
    if ((rc = j_obj(root, "", "swamping", J_OPT, &o))) return rc;
    if (o) {
        const cJSON *runs;
        int nr;
        if ((rc = j_arr(o, "swamping", "runs", J_REQ, MAX_RUNS, &runs, &nr))) return rc;
        s->runs = calloc((size_t)(nr ? nr : 1), sizeof *s->runs);
        if (!s->runs) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
        cJSON_ArrayForEach(it, runs) {
            char p[64];
            long long bits;
            int n1, n2, n3;
            snprintf(p, sizeof p, "swamping.runs[%d]", s->nruns);
            struct swrun *r = &s->runs[s->nruns++];
            if (!cJSON_IsObject(it)) return bad(p, NULL, "an object", it);
            if ((rc = j_str(it, p, "map", J_REQ, &r->map)) || (rc = j_int(it, p, "bits", 1, 64, &bits)) ||
                (rc = j_nums(it, p, "beta", J_REQ, MAX_POINTS, &r->beta, &n1)) || (rc = j_nums(it, p, "final_mean", J_REQ, MAX_POINTS, &r->fm, &n2)) ||
                (rc = j_nums(it, p, "final_mean_fp32", J_REQ, MAX_POINTS, &r->f32, &n3)))
                return rc;
            if (n2 != n1 || n3 != n1)
                return lbq_err(LBQ_ERR_FORMAT, "bad key '%s.%s': %d entries, 'beta' has %d", p, n2 != n1 ? "final_mean" : "final_mean_fp32", n2 != n1 ? n2 : n3, n1);
            r->bits = (int)bits; r->n = n1;
        }
    }
    return LBQ_OK;
}

/* the block size closest to 128 (in log ratio; the smaller on a tie) among block configs passing `want` */
static long long pick_block(const struct sweep *s, const char *map, int bits)
{
    long long best = 0;
    double bd = INFINITY;
    for (int i = 0; i < s->nc; i++) {
        const struct cfg *c = &s->c[i];
        if (!norm_is(c->norm, LBQ_NORM_BLOCK) || c->block <= 0 || (map && strcmp(c->map, map)) || (bits && c->bits != bits)) continue;
        double d = fabs(log2((double)c->block / 128.0));
        if (d < bd || (d == bd && c->block < best)) { bd = d; best = c->block; }
    }
    return best;
}

/* the bitwidth for "fixed bits" figures: 4 if any config passing has it, else the (lower) median */
static int pick_bits(const struct sweep *s, int need_hist)
{
    double b[64];
    int n = 0;
    for (int i = 0; i < s->nc; i++) {
        if (need_hist && !s->c[i].h.bins) continue;
        if (!need_hist && !norm_is(s->c[i].norm, LBQ_NORM_BLOCK)) continue;
        int seen = 0;
        for (int k = 0; k < n; k++) if (b[k] == s->c[i].bits) seen = 1;
        if (!seen && n < 64) b[n++] = s->c[i].bits;
    }
    if (!n) return 0;
    n = uniq(b, n);
    for (int k = 0; k < n; k++) if (b[k] == 4) return 4;
    return (int)b[(n - 1) / 2];
}

/* maps in order of first appearance among configs passing the filter */
static int list_maps(const struct sweep *s, int norm, const char **maps, int max, int *dropped)
{
    int n = 0;
    *dropped = 0;
    for (int i = 0; i < s->nc; i++) {
        if (norm >= 0 && !norm_is(s->c[i].norm, norm)) continue;
        int seen = 0;
        for (int k = 0; k < n; k++) if (strcmp(maps[k], s->c[i].map) == 0) seen = 1;
        if (seen) continue;
        if (n < max) maps[n++] = s->c[i].map; else (*dropped)++;
    }
    return n;
}

static const struct cfg *find_cfg(const struct sweep *s, int norm, const char *map, int bits, long long block)
{
    for (int i = 0; i < s->nc; i++) {
        const struct cfg *c = &s->c[i];
        if (norm_is(c->norm, norm) && strcmp(c->map, map) == 0 && c->bits == bits && (block < 0 || c->block == block)) return c;
    }
    return NULL;
}

static double cfg_val(const struct cfg *c, int which)
{
    if (!c) return NAN;
    /* a v-only map's m is a recipe's quantizer, not the map's own: no m value for the map */
    return which == 0 ? (c->has_m && !c->m_recipe ? c->m : NAN) : which == 1 ? (c->has_v ? c->v : NAN) : c->u;
}

static const char *const g_panel_key[3] = { "m", "v", "update" };
static const char *const g_panel_title[3] = { "first moment m", "second moment v", "update m/(sqrt(v)+eps)" };

/* the earlier column of w whose values equal column c's at every x (both undefined counts as equal,
 * at least one defined value needed), or -1 */
static int wide_same_as(const struct wide *w, int c)
{
    for (int i = 0; i < c; i++) {
        int same = 1, any = 0;
        for (int j = 0; j < w->nx && same; j++) {
            double a = w->col[i].y[j], b = w->col[c].y[j];
            if (isfinite(a) != isfinite(b) || (isfinite(a) && a != b)) same = 0;
            if (isfinite(a)) any = 1;
        }
        if (same && any && w->col[i].dt == w->col[c].dt) return i;
    }
    return -1;
}

/* emit the non-empty panels of w[3]; returns how many; the key goes to the panel with most lines.
 * A line that coincides with an earlier one of its panel is listed in dupN (the scripts draw it
 * dotted with open circles) and its key entry says so: "B128/DE-0 (m: same as B128/DE)". */
static int emit_state_panels(struct fig *f, struct wide w[3], const char *xname)
{
    int np = 0, keyp = 0, best = -1, keyk = -1;
    char list[32] = "";
    for (int k = 0; k < 3; k++) {
        wide_prune(&w[k], 1);
        if (w[k].ncol > best) { best = w[k].ncol; keyk = k; }
    }
    if (keyk >= 0 && w[keyk].ncol > 0) {
        struct wide *kw = &w[keyk];
        char nt[2 * MAX_SERIES + 2][sizeof kw->col[0].title];
        for (int c = 0; c < kw->ncol; c++) snprintf(nt[c], sizeof nt[c], "%s", kw->col[c].title);
        for (int c = 0; c < kw->ncol; c++) {
            char where[24] = "", other[64] = "";
            for (int k = 0; k < 3; k++) {
                int ck = -1;
                for (int i = 0; i < w[k].ncol; i++) if (strcmp(w[k].col[i].title, kw->col[c].title) == 0) ck = i;
                int o = ck >= 0 ? wide_same_as(&w[k], ck) : -1;
                if (o < 0) continue;
                size_t l = strlen(where);
                snprintf(where + l, sizeof where - l, "%s%s", l ? ", " : "", g_panel_key[k]);
                /* "Rank-1/DE-0 (m: same as DE)": the other's prefix left out where both share it */
                const char *ot = w[k].col[o].title, *sl = strchr(ot, '/');
                if (sl && strncmp(ot, kw->col[c].title, (size_t)(sl - ot + 1)) == 0) ot = sl + 1;
                snprintf(other, sizeof other, "%s", ot);
            }
            if (where[0]) {
                char t[sizeof kw->col[c].title + sizeof where + sizeof other + 16];
                snprintf(t, sizeof t, "%s (%s: same as %s)", kw->col[c].title, where, other);
                cli_text_clean(nt[c], sizeof nt[c], t);
            }
        }
        for (int c = 0; c < kw->ncol; c++) memcpy(kw->col[c].title, nt[c], sizeof nt[c]);
    }
    for (int k = 0; k < 3; k++) {
        if (!w[k].ncol) continue;
        if (k == keyk) keyp = np;
        char dup[8 * (2 * MAX_SERIES + 2)] = "", nm[16];
        for (int c = 0; c < w[k].ncol; c++)
            if (wide_same_as(&w[k], c) >= 0) { size_t l = strlen(dup); snprintf(dup + l, sizeof dup - l, "%s%d", l ? " " : "", c + 1); }
        if (dup[0]) { snprintf(nm, sizeof nm, "dup%d", np); var_str(&f->vars, nm, dup); }
        wide_emit(f, np++, &w[k], xname, g_panel_title[k]);
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", l ? " " : "", g_panel_key[k]);
    }
    sb_printf(&f->vars, "npanels=%d; keypanel=%d; ", np, keyp);
    var_str(&f->vars, "panels", list);
    return np;
}

/* a v-only map's series (log): its update values carry a recipe's m quantizer; the key says whose */
static void key_m_recipe(const struct sweep *s, const char *map, char *t, size_t n)
{
    for (int i = 0; i < s->nc; i++) {
        if (strcmp(s->c[i].map, map) || !s->c[i].m_recipe) continue;
        char r[40];
        cli_text_clean(r, sizeof r, s->c[i].m_recipe);
        size_t l = strlen(t);
        snprintf(t + l, n - l, ", m as %s", r);
        return;
    }
}

/* which statistic over tensors the figures' errors are (load_config): every configuration's
 * element-weighted mean when the file has the aggregates, else the pooled totals */
static const char *stat_label(const struct sweep *s)
{
    int ranked = s->nc > 0;
    for (int i = 0; i < s->nc; i++) ranked &= s->c[i].ranked;
    return ranked ? "element-weighted mean over tensors" : "pooled over elements";
}

static int fig1(struct ctx *cx, const struct sweep *s, struct figs *fs)
{
    long long B = pick_block(s, NULL, 0);
    if (!B) { note(cx, "fig1 skipped: no block-wise config"); return LBQ_OK; }
    double bits[64];
    int nb = 0, dropped;
    for (int i = 0; i < s->nc; i++)
        if (norm_is(s->c[i].norm, LBQ_NORM_BLOCK) && s->c[i].block == B && nb < 64) bits[nb++] = s->c[i].bits;
    nb = uniq(bits, nb);
    const char *maps[MAX_SERIES];
    int nm = list_maps(s, LBQ_NORM_BLOCK, maps, MAX_SERIES, &dropped);
    if (dropped) note(cx, "fig1: %d maps beyond %d not drawn", dropped, MAX_SERIES);
    struct wide w[3];
    int rc = LBQ_OK;
    memset(w, 0, sizeof w);
    for (int k = 0; k < 3 && !rc; k++) {
        if ((rc = wide_init(&w[k], bits, nb))) break;
        for (int m = 0; m < nm; m++) {
            char t[80];
            series_label(norm_of_kind(LBQ_NORM_BLOCK), B, maps[m], t, sizeof t);
            key_m_recipe(s, maps[m], t, sizeof t);
            double *y = wide_col(&w[k], t, map_lt(cx, maps[m]), 1);
            if (!y) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); break; }
            for (int j = 0; j < nb; j++) y[j] = cfg_val(find_cfg(s, LBQ_NORM_BLOCK, maps[m], (int)bits[j], B), k);
        }
    }
    if (!rc) {
        struct fig *f = fig_new(fs, "fig1-error-vs-bits", "fig1-error-vs-bits");
        if (emit_state_panels(f, w, "bits") == 0) { fs->n--; sb_free(&f->data); sb_free(&f->vars); note(cx, "fig1 skipped: no finite errors"); }
        else { var_strf(&f->vars, "title", "Quantization error vs bitwidth (block-wise absmax, B = %lld)", B); var_str(&f->vars, "statlab", stat_label(s)); }
    }
    for (int k = 0; k < 3; k++) wide_free(&w[k]);
    return rc;
}

static int fig2(struct ctx *cx, const struct sweep *s, struct figs *fs)
{
    int b = pick_bits(s, 0);
    if (!b) { note(cx, "fig2 skipped: no block-wise config"); return LBQ_OK; }
    double blk[256];
    int nbl = 0, dropped;
    for (int i = 0; i < s->nc; i++)
        if (norm_is(s->c[i].norm, LBQ_NORM_BLOCK) && s->c[i].bits == b && s->c[i].block > 0 && nbl < 256) blk[nbl++] = (double)s->c[i].block;
    nbl = uniq(blk, nbl);
    if (nbl < 2) { note(cx, "fig2 skipped: fewer than 2 block sizes at %d bits", b); return LBQ_OK; }
    const char *maps[MAX_SERIES];
    int nm = list_maps(s, LBQ_NORM_BLOCK, maps, MAX_SERIES, &dropped);
    struct wide w[3];
    int rc = LBQ_OK, has_r1 = 0;
    memset(w, 0, sizeof w);
    for (int k = 0; k < 3 && !rc; k++) {
        if ((rc = wide_init(&w[k], blk, nbl))) break;
        for (int m = 0; m < nm; m++) {
            char t[80];
            map_label(maps[m], t, sizeof t);
            key_m_recipe(s, maps[m], t, sizeof t);
            int lt = map_lt(cx, maps[m]);
            double *y = wide_col(&w[k], t, lt, 1);
            if (!y) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); break; }
            for (int j = 0; j < nbl; j++) y[j] = cfg_val(find_cfg(s, LBQ_NORM_BLOCK, maps[m], b, (long long)blk[j]), k);
            const struct cfg *r1 = find_cfg(s, LBQ_NORM_RANK1, maps[m], b, -1);
            if (r1) {
                has_r1 = 1;
                series_label(r1->norm, 0, maps[m], t, sizeof t);
                double *z = wide_col(&w[k], t, lt, 2);
                if (!z) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); break; }
                for (int j = 0; j < nbl; j++) z[j] = cfg_val(r1, k);
            }
        }
    }
    if (!rc) {
        struct fig *f = fig_new(fs, "fig2-error-vs-block", "fig2-error-vs-block");
        if (emit_state_panels(f, w, "block") == 0) { fs->n--; sb_free(&f->data); sb_free(&f->vars); note(cx, "fig2 skipped: no finite errors"); }
        else { var_strf(&f->vars, "title", "Quantization error vs block size at %d bits%s", b, has_r1 ? " (dashed: rank-1 normalization)" : ""); var_str(&f->vars, "statlab", stat_label(s)); }
    }
    for (int k = 0; k < 3; k++) wide_free(&w[k]);
    return rc;
}

static int fig3(struct ctx *cx, const struct sweep *s, struct figs *fs)
{
    int b = pick_bits(s, 1);
    if (!b) { note(cx, "fig3 skipped: no update histogram"); return LBQ_OK; }
    /* lpmm's zero-point figure: its four quantizers, as specs resolved by the registries */
    static const char *const cand[] = { "block-dtree", "block-dtree0", "block-linear", "rank1-linear" };
    const struct cfg *sel[4];
    int ns = 0;
    for (int k = 0; k < 4; k++) {
        struct lbq_qspec q;
        if (!lbq_qspec_supported(cand[k], NULL, &q)) continue;
        long long B = q.norm->blockwise ? pick_block(s, q.map->name, b) : -1;
        if (B == 0) continue;
        const struct cfg *c = find_cfg(s, q.norm->kind, q.map->name, b, B);
        if (!c || !c->h.bins || !c->has_v) continue;
        if (ns && (c->h.bins != sel[0]->h.bins || c->h.lo != sel[0]->h.lo || c->h.hi != sel[0]->h.hi)) continue;
        sel[ns++] = c;
    }
    if (!ns) { note(cx, "fig3 skipped: none of B128/DE, B128/DE-0, B128/Linear, Rank-1/Linear at %d bits", b); return LBQ_OK; }
    const struct hist *h0 = &sel[0]->h;
    double *x = malloc(sizeof(double) * (size_t)h0->bins);
    if (!x) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    double bw = (h0->hi - h0->lo) / h0->bins;
    for (int j = 0; j < h0->bins; j++) x[j] = h0->lo + (j + 0.5) * bw;
    struct fig *f = fig_new(fs, "fig3-zero-point", "fig3-zero-point");
    int np = 0, rc = LBQ_OK;
    for (int k = 0; k < ns && !rc; k++) {
        struct wide w;
        char t[80];
        if ((rc = wide_init(&w, x, h0->bins))) break;
        double *e = wide_col(&w, "fp32 (exact)", 9, 1);
        series_label(sel[k]->norm, sel[k]->block, sel[k]->map, t, sizeof t);
        double *q = e ? wide_col(&w, t, map_lt(cx, sel[k]->map), 1) : NULL;
        if (!q) { wide_free(&w); rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); break; }
        for (int j = 0; j < h0->bins; j++) { e[j] = h0->exact[j]; q[j] = sel[k]->h.quant[j]; }
        wide_prune(&w, 0);              /* counts stay as they are: the script draws empty bins at the axis */
        if (w.ncol == 2) {
            /* the bin of v = 0, log10(1/eps): how many more elements the quantizer sent there */
            /* (the bins whose centre is within half a bin of it: 1/eps may be rounded to either side of
             * a bin edge) */
            double e0 = isfinite(s->eps) && s->eps > 0 ? s->eps : 1e-8, x0 = -log10(e0), ne = 0, nq = 0;
            int hit = 0;
            for (int j = 0; j < h0->bins; j++)
                if (fabs(x[j] - x0) <= 0.5 * bw * (1 + 1e-9) && isfinite(h0->exact[j]) && isfinite(sel[k]->h.quant[j])) {
                    ne += h0->exact[j]; nq += sel[k]->h.quant[j]; hit = 1;
                }
            char nm[32];
            if (hit) {
                snprintf(nm, sizeof nm, "note%d", np);
                var_strf(&f->vars, nm, "h = %.4g: fp32 %.0f, quantized %.0f", x0, ne, nq);
                snprintf(nm, sizeof nm, "counts%d", np);
                /* the structural-zero split (docs/metrics.md): which of the quantized count were
                 * zeros already, and which zeros left the bin */
                if (sel[k]->has_vz) {
                    var_strf(&f->vars, nm, "fp32 zeros: %.0f kept, %.0f lifted", sel[k]->vz_kept, sel[k]->vz_lifted);
                    snprintf(nm, sizeof nm, "split%d", np);
                    var_strf(&f->vars, nm, "non-zero v collapsed to 0: %.0f", sel[k]->vz_collapsed);
                } else
                    var_strf(&f->vars, nm, "(no zero split: results.json before schema 3)");
            }
            wide_emit(f, np++, &w, "log10_inv_sqrt_v", t);
        }
        wide_free(&w);
    }
    free(x);
    if (!rc && np == 0) { fs->n--; sb_free(&f->data); sb_free(&f->vars); note(cx, "fig3 skipped: empty histograms"); return LBQ_OK; }
    sb_printf(&f->vars, "npanels=%d; binwidth=%.9g; xlo=%.9g; xhi=%.9g; ", np, bw, h0->lo, h0->hi);
    var_strf(&f->vars, "title", "Zero-point problem: log10(1/(sqrt(v)+eps)), fp32 v (grey) vs %d-bit v (line)", b);
    return rc;
}

static int fig4(struct ctx *cx, const struct sweep *s, struct figs *fs)
{
    if (!s->nruns) { note(cx, "fig4 skipped: no swamping runs (sweep --no-swamp?)"); return LBQ_OK; }
    const char *maps[8];
    int nm = 0;
    /* the study's maps first, in its order (map slot `swamp`), then any others */
    for (int ord = 1; ord <= lbq_map_count(); ord++)
        for (int r = 0; r < lbq_map_count(); r++) {
            const struct lbq_map *rm = lbq_map_at(r);
            if (rm->swamp.order != ord || nm >= 8) continue;
            for (int i = 0; i < s->nruns; i++) if (strcmp(s->runs[i].map, rm->name) == 0) { maps[nm++] = rm->name; break; }
        }
    for (int i = 0; i < s->nruns && nm < 8; i++) {
        int seen = 0;
        for (int k = 0; k < nm; k++) if (strcmp(maps[k], s->runs[i].map) == 0) seen = 1;
        if (!seen) maps[nm++] = s->runs[i].map;
    }
    struct fig *f = fig_new(fs, "fig4-swamping", "fig4-swamping");
    int np = 0, rc = LBQ_OK;
    for (int m = 0; m < nm && !rc; m++) {
        int tot = 0;
        for (int i = 0; i < s->nruns; i++) if (strcmp(s->runs[i].map, maps[m]) == 0) tot += s->runs[i].n;
        double *x = malloc(sizeof(double) * (size_t)(tot ? tot : 1));
        if (!x) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); break; }
        int nx = 0;
        for (int i = 0; i < s->nruns; i++)
            if (strcmp(s->runs[i].map, maps[m]) == 0)
                for (int j = 0; j < s->runs[i].n; j++) if (isfinite(s->runs[i].beta[j])) x[nx++] = s->runs[i].beta[j];
        nx = uniq(x, nx);
        struct wide w;
        rc = wide_init(&w, x, nx);
        free(x);
        if (rc) break;
        double *y32 = wide_col(&w, "fp32", 9, 1);
        if (!y32) { wide_free(&w); rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); break; }
        for (int bits = 1; bits <= 64 && !rc; bits++) {
            double *y = NULL;
            for (int i = 0; i < s->nruns; i++) {
                const struct swrun *r = &s->runs[i];
                if (strcmp(r->map, maps[m]) || r->bits != bits) continue;
                char t[32];
                snprintf(t, sizeof t, "%d-bit", bits);
                if (!y && w.ncol == (int)(sizeof w.col / sizeof w.col[0])) break;     /* panel full: bitwidths beyond are left out */
                if (!y && !(y = wide_col(&w, t, bits <= 8 ? 20 + bits : 9, 1))) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); break; }
                for (int j = 0; j < r->n; j++) {
                    int row = isfinite(r->beta[j]) ? find_x(w.x, w.nx, r->beta[j]) : -1;
                    if (row < 0) continue;
                    if (!isfinite(y[row])) y[row] = r->fm[j];
                    if (!isfinite(y32[row])) y32[row] = r->f32[j];
                }
            }
        }
        wide_prune(&w, 0);
        if (!rc && w.ncol > 1) {
            char t[80], mt[40];
            const struct lbq_map *rm = reg_map(maps[m]);
            if (rm && rm->swamp.order > 0 && rm->swamp.label) snprintf(t, sizeof t, "%s", rm->swamp.label);
            else { const struct lbq_map *k = known_map(maps[m]); if (k) snprintf(mt, sizeof mt, "%s", k->label ? k->label : k->name); else cli_text_clean(mt, sizeof mt, maps[m]); snprintf(t, sizeof t, "%s", mt); }
            wide_emit(f, np++, &w, "beta", t);
        }
        wide_free(&w);
    }
    if (!rc && np == 0) { fs->n--; sb_free(&f->data); sb_free(&f->vars); note(cx, "fig4 skipped: no finite swamping results"); return LBQ_OK; }
    sb_printf(&f->vars, "npanels=%d; ", np);
    var_str(&f->vars, "title", "Signal swamping (SOLO case study, synthetic): mean state after 100 EMA steps vs beta");
    return rc;
}

static int fig5(struct ctx *cx, const struct sweep *s, struct figs *fs)
{
    if (!s->heat) { note(cx, "fig5 skipped: no heatmap"); return LBQ_OK; }
    int ok = 0;
    for (size_t i = 0; i < (size_t)s->hr * (size_t)s->hc; i++) if (isfinite(s->heat[i]) && s->heat[i] > 0) ok = 1;
    if (!ok || s->hr < 2 || s->hc < 2) { note(cx, "fig5 skipped: heatmap has no positive values or is smaller than 2 x 2"); return LBQ_OK; }
    struct fig *f = fig_new(fs, "fig5-heatmap", "fig5-heatmap");
    sb_puts(&f->data, "col\trow\tmax_abs_m\n");
    for (int i = 0; i < s->hr; i++) {
        for (int j = 0; j < s->hc; j++) {
            double v = s->heat[(size_t)i * (size_t)s->hc + (size_t)j];
            sb_printf(&f->data, "%.9g\t%.9g\t", ((double)j + 0.5) * (double)s->pc, ((double)i + 0.5) * (double)s->pr);
            if (isfinite(v) && v > 0) sb_printf(&f->data, "%.9g\n", v); else sb_puts(&f->data, "NaN\n");
        }
        sb_puts(&f->data, "\n");
    }
    /* the profiles: maximum over rows of each column, over columns of each row, as staircases: each
     * cell's value from its lower to its upper edge (two points), so the steps line up with the
     * cells of the map */
    sb_puts(&f->data, "\ncol\tmax_abs_m\n");
    for (int j = 0; j < s->hc; j++) {
        double mx = NAN;
        for (int i = 0; i < s->hr; i++) { double v = s->heat[(size_t)i * (size_t)s->hc + (size_t)j]; if (v > 0 && !(v <= mx)) mx = v; }
        for (int e = 0; e < 2; e++) { sb_printf(&f->data, "%.9g\t", ((double)j + e) * (double)s->pc); sb_num(&f->data, mx); sb_puts(&f->data, "\n"); }
    }
    sb_puts(&f->data, "\n\nrow\tmax_abs_m\n");
    for (int i = 0; i < s->hr; i++) {
        double mx = NAN;
        for (int j = 0; j < s->hc; j++) { double v = s->heat[(size_t)i * (size_t)s->hc + (size_t)j]; if (v > 0 && !(v <= mx)) mx = v; }
        for (int e = 0; e < 2; e++) { sb_printf(&f->data, "%.9g\t", ((double)i + e) * (double)s->pr); sb_num(&f->data, mx); sb_puts(&f->data, "\n"); }
    }
    char p[128];
    cli_text_clean(p, sizeof p, s->heat_param);
    double rows = isfinite(s->heat_rows) ? s->heat_rows : (double)s->hr * (double)s->pr;
    double cols = isfinite(s->heat_cols) ? s->heat_cols : (double)s->hc * (double)s->pc;
    if (s->heat_shape[0]) var_strf(&f->vars, "title", "|m| of %s [%s] as %.0f x %.0f, max over %lld x %lld cells", p, s->heat_shape, rows, cols, s->pr, s->pc);
    else var_strf(&f->vars, "title", "|m| of %s [%.0f x %.0f], max over %lld x %lld cells", p, rows, cols, s->pr, s->pc);
    sb_printf(&f->vars, "ndims=%d; ", s->heat_shape[0] ? 3 : 2);
    if (isfinite(s->heat_ratio)) var_strf(&f->vars, "subtitle", "largest row/column max over median row/column max: %.0f", s->heat_ratio);
    sb_printf(&f->vars, "nrows=%.9g; ncols=%.9g; ", rows, cols);
    return LBQ_OK;
}

/* the earlier codebook map of panel sg with the same levels as map m, or -1 */
static int cb_same_as(const struct sweep *s, int sg, int m)
{
    for (int o = 0; o < m; o++) {
        if (s->cb[o].n[sg] != s->cb[m].n[sg] || s->cb[o].n[sg] <= 0) continue;
        int same = 1;
        for (int k = 0; k < s->cb[m].n[sg] && same; k++) if (s->cb[o].lev[sg][k] != s->cb[m].lev[sg][k]) same = 0;
        if (same) return o;
    }
    return -1;
}

static int fig6(struct ctx *cx, const struct sweep *s, struct figs *fs)
{
    if (!s->ncb) { note(cx, "fig6 skipped: no codebooks"); return LBQ_OK; }
    struct fig *f = fig_new(fs, "fig6-codebooks", "fig6-codebooks");
    int np = 0;
    /* panels: unsigned (v) on [0, 1] (with the map names), the same on a log axis, where the levels
     * near 0 differ visibly (DE's 0 against DE-0's smallest level), and signed (m) on [-1, 1]; every
     * map keeps its row in all panels */
    static const char *const ptitle[3] = { "unsigned (v), linear axis", "unsigned (v), log axis", "signed (m), linear axis" };
    static const int psg[3] = { 1, 1, 0 };
    int rowof[MAX_CB_MAPS], nrow = 0;
    char lab[MAX_CB_MAPS][128];
    for (int m = 0; m < s->ncb; m++) {
        rowof[m] = -1;
        if (s->cb[m].n[0] <= 0 && s->cb[m].n[1] <= 0) continue;
        rowof[m] = nrow++;
        char t[40];
        map_label(s->cb[m].name, t, sizeof t);
        if (isfinite(s->cb[m].xp)) snprintf(lab[m], sizeof lab[m], "%s, xp = %g", t, s->cb[m].xp);
        else snprintf(lab[m], sizeof lab[m], "%s", t);
        for (int sg = 0; sg < 2; sg++) {
            int o = cb_same_as(s, sg, m);
            if (o < 0) continue;
            char ot[40];
            map_label(s->cb[o].name, ot, sizeof ot);
            size_t l = strlen(lab[m]);
            snprintf(lab[m] + l, sizeof lab[m] - l, " (%s: same as %s)", sg ? "unsigned" : "signed", ot);
        }
    }
    for (int pn = 0; pn < 3; pn++) {
        int sg = psg[pn], any = 0;
        struct sbuf blk = { 0 };
        sb_printf(&blk, "%slevel\trow\tmap\tlt\n", np ? "\n\n" : "");
        for (int m = 0; m < s->ncb; m++) {
            if (rowof[m] < 0) continue;
            char cl[128];
            cli_text_clean(cl, sizeof cl, lab[m]);
            if (s->cb[m].n[sg] <= 0) {      /* no levels here: the row stays, empty (its name in the ytics) */
                sb_printf(&blk, "NaN\t%d\t%s\t%d\n", nrow - 1 - rowof[m], cl, map_lt(cx, s->cb[m].name));
                continue;
            }
            for (int k = 0; k < s->cb[m].n[sg]; k++) {
                double v = s->cb[m].lev[sg][k];
                if (!isfinite(v)) continue;
                sb_num(&blk, v);
                sb_printf(&blk, "\t%d\t%s\t%d\n", nrow - 1 - rowof[m], cl, map_lt(cx, s->cb[m].name));
                any = 1;
            }
        }
        if (any) {
            sb_putn(&f->data, blk.p, blk.n);
            char nm[32];
            snprintf(nm, sizeof nm, "ptitle%d", np);
            var_str(&f->vars, nm, ptitle[pn]);
            sb_printf(&f->vars, "nrows%d=%d; logx%d=%d; signed%d=%d; ", np, nrow, np, pn == 1, np, sg == 0);
            np++;
        }
        if (blk.oom) f->data.oom = 1;
        sb_free(&blk);
    }
    if (!np) { fs->n--; sb_free(&f->data); sb_free(&f->vars); note(cx, "fig6 skipped: empty codebooks"); return LBQ_OK; }
    sb_printf(&f->vars, "npanels=%d; ", np);
    var_strf(&f->vars, "title", "%d-bit codebooks (quantization levels of each map)", s->cb_bits);
    return LBQ_OK;
}

struct pt { double x, y; int c; };
static int cmp_pt(const void *a, const void *b)
{
    const struct pt *p = a, *q = b;
    if (p->x != q->x) return p->x < q->x ? -1 : 1;
    return (p->y > q->y) - (p->y < q->y);
}

/* fig7's label placer.  Every label is a box (w x h inches) placed next to its point at the spot of
 * least cost among 64 (16 directions: right, left, above, below, the diagonals and the 8 between;
 * at 1 to 4 steps of 0.16 in away):
 * 1e6 per label it would overlap (so labels never overlap while any spot is free), 1e5 per recipe
 * star under it, 1e4 outside the plot area, 300 per recipe star and 15 per front point nearer to it
 * than its own point, 100 per front point and 0.5 per other point under it, 8 per Pareto segment
 * it crosses, 6 per step away.
 * A label placed away from its point gets a leader line. */
struct f7lab { double x, y, w, h, px, py; int ring; };
struct f7pts { const double *x, *y; const int *mark; int n; const double *fx, *fy; int nf; };

/* the number of the n front segments (fx, fy: the front's points left to right) that cross the box */
static int f7_segs(double cx, double cy, double w, double h, const struct f7pts *P)
{
    int hits = 0;
    for (int k = 0; k + 1 < P->nf; k++)
        for (int t = 0; t <= 16; t++) {
            double x = P->fx[k] + (P->fx[k + 1] - P->fx[k]) * t / 16.0, y = P->fy[k] + (P->fy[k + 1] - P->fy[k]) * t / 16.0;
            if (fabs(x - cx) < w / 2 && fabs(y - cy) < h / 2) { hits++; break; }
        }
    return hits;
}

static double f7_cost(double cx, double cy, double w, double h, double px, double py, const struct f7lab *L, int nl,
                      const struct f7pts *P, double pw, double ph)
{
    double cost = 0, pr = 0.06, own = hypot(cx - px, cy - py);
    if (cx - w / 2 < 0 || cx + w / 2 > pw || cy - h / 2 < 0 || cy + h / 2 > ph) cost += 1e4;
    for (int o = 0; o < nl; o++)
        if (fabs(L[o].x - cx) < (L[o].w + w) / 2 + 0.03 && fabs(L[o].y - cy) < (L[o].h + h) / 2 + 0.02) cost += 1e6;
    for (int k = 0; k < P->n; k++) {
        if (fabs(P->x[k] - cx) < w / 2 + pr && fabs(P->y[k] - cy) < h / 2 + pr) cost += P->mark[k] == 2 ? 1e5 : P->mark[k] ? 40 : 0.5;
        /* a label nearer to another marked point than to its own reads as that point's */
        if (P->mark[k] && (P->x[k] != px || P->y[k] != py) && hypot(cx - P->x[k], cy - P->y[k]) < own) cost += P->mark[k] == 2 ? 300 : 15;
    }
    return cost + 8 * f7_segs(cx, cy, w, h, P);
}

/* places a w x h label for the point (px, py) (inches; r: the point's radius plus a gap) and
 * appends it to L */
static void f7_place(double px, double py, double r, double w, double h, struct f7lab *L, int *nl, const struct f7pts *P, double pw, double ph)
{
    static const double dir[16][2] = { { 1, 0 }, { -1, 0 }, { 0, 1 }, { 0, -1 }, { 1, 1 }, { -1, 1 }, { 1, -1 }, { -1, -1 },
                                       { 1, 0.5 }, { -1, 0.5 }, { 1, -0.5 }, { -1, -0.5 }, { 0.5, 1 }, { -0.5, 1 }, { 0.5, -1 }, { -0.5, -1 } };
    double best = INFINITY, bx = px, by = py + r + h / 2;
    int bring = 1;
    for (int ring = 1; ring <= 4; ring++)
        for (int k = 0; k < 16; k++) {
            double d = r + (ring - 1) * 0.16, dg = fabs(dir[k][0]) == fabs(dir[k][1]) ? 0.75 : 1.0;
            double cx = px + dir[k][0] * (dg * d + w / 2), cy = py + dir[k][1] * (dg * d + h / 2);
            double c = f7_cost(cx, cy, w, h, px, py, L, *nl, P, pw, ph) + 10.0 * (ring - 1) + 0.01 * k;
            if (c < best) { best = c; bx = cx; by = cy; bring = ring; }
        }
    struct f7lab *B = &L[*nl];
    B->x = bx; B->y = by; B->w = w; B->h = h; B->px = px; B->py = py; B->ring = bring;
    (*nl)++;
}

/* a leader from a point to its label placed away from it (ring > 1): from the point's edge to the
 * box's edge, as one two-row segment of the data file (data coordinates) */
static void f7_leader(struct sbuf *b, const struct f7lab *B, double r, double lx0, double lx1, double ly0, double ly1, double pw, double ph)
{
    double dx = B->x - B->px, dy = B->y - B->py, d = hypot(dx, dy);
    if (B->ring <= 1 || !(d > 0)) return;
    double s = fmin(dx ? (B->w / 2 + 0.02) / fabs(dx) : INFINITY, dy ? (B->h / 2 + 0.02) / fabs(dy) : INFINITY);
    double x0 = B->px + dx / d * r * 0.8, y0 = B->py + dy / d * r * 0.8, x1 = B->x - dx * s, y1 = B->y - dy * s;
    if ((x1 - x0) * dx + (y1 - y0) * dy <= 0) return;
    sb_printf(b, "%.9g\t%.9g\n%.9g\t%.9g\n\n", exp2(lx0 + x0 / pw * (lx1 - lx0)), pow(10, ly0 + y0 / ph * (ly1 - ly0)),
              exp2(lx0 + x1 / pw * (lx1 - lx0)), pow(10, ly0 + y1 / ph * (ly1 - ly0)));
}

static int fig7(struct ctx *cx, const struct sweep *s, struct figs *fs)
{
    struct pt *pts = malloc(sizeof *pts * (size_t)(s->nc ? s->nc : 1));
    if (!pts) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    int n = 0;
    for (int i = 0; i < s->nc; i++) {
        const struct cfg *c = &s->c[i];
        double x = (c->bm + c->bv) / 2;
        if (isfinite(x) && x > 0 && isfinite(c->u) && c->u > 0) { pts[n].x = x; pts[n].y = c->u; pts[n].c = i; n++; }
    }
    if (!n) { free(pts); note(cx, "fig7 skipped: no config with bits per element and update error"); return LBQ_OK; }
    /* the published recipes' points (configs with a "recipe" key): their own memory and error */
    int nrec = 0, *rec = malloc(sizeof(int) * (size_t)(s->nrec ? s->nrec : 1));
    if (!rec) { free(pts); return lbq_err(LBQ_ERR_NOMEM, "out of memory"); }
    for (int i = 0; i < s->nrec; i++) {
        const struct cfg *c = &s->rec[i];
        double x = (c->bm + c->bv) / 2;
        if (isfinite(x) && x > 0 && isfinite(c->u) && c->u > 0) rec[nrec++] = i;
    }
    /* series: (map, norm) classes, in order of first appearance */
    struct { const char *map, *norm; } cls[MAX_SERIES];
    int ncls = 0, dropped = 0;
    for (int k = 0; k < n; k++) {
        const struct cfg *c = &s->c[pts[k].c];
        int seen = 0;
        for (int j = 0; j < ncls; j++) if (strcmp(cls[j].map, c->map) == 0 && strcmp(cls[j].norm, c->norm) == 0) seen = 1;
        if (seen) continue;
        if (ncls < MAX_SERIES) { cls[ncls].map = c->map; cls[ncls].norm = c->norm; ncls++; } else dropped++;
    }
    if (dropped) note(cx, "fig7: %d map/normalization classes beyond %d not drawn", dropped, MAX_SERIES);
    struct fig *f = fig_new(fs, "fig7-memory-vs-error", "fig7-memory-vs-error");
    char lcs[8 * MAX_SERIES] = "", pts_s[8 * MAX_SERIES] = "";
    for (int j = 0; j < ncls; j++) {
        char t[120], mt[40];
        map_label(cls[j].map, mt, sizeof mt);
        const struct lbq_norm *rn = reg_norm(cls[j].norm);
        if (rn && rn->blockwise && rn->label) snprintf(t, sizeof t, "%s/%s", rn->label, mt);
        else { norm_prefix(cls[j].norm, 0, t, sizeof t); size_t l = strlen(t); snprintf(t + l, sizeof t - l, "/%s", mt); }
        /* a v-only map's class: say whose m quantizer it carries */
        const char *mr = NULL;
        for (int k = 0; k < n && !mr; k++) {
            const struct cfg *c = &s->c[pts[k].c];
            if (!strcmp(c->map, cls[j].map) && !strcmp(c->norm, cls[j].norm) && c->m_recipe) mr = c->m_recipe;
        }
        if (mr) {
            char mrc[40];
            cli_text_clean(mrc, sizeof mrc, mr);
            size_t l = strlen(t);
            snprintf(t + l, sizeof t - l, ", m as %s", mrc);
        }
        sb_printf(&f->data, "%s%s\tupdate_rel_l2\tconfig\n", j ? "\n\n" : "", t);
        for (int k = 0; k < n; k++) {
            const struct cfg *c = &s->c[pts[k].c];
            if (strcmp(c->map, cls[j].map) || strcmp(c->norm, cls[j].norm)) continue;
            char lab[64];
            cli_text_clean(lab, sizeof lab, c->label ? c->label : "");
            sb_printf(&f->data, "%.9g\t%.9g\t%s\n", pts[k].x, pts[k].y, lab);
        }
        int pt = rn && rn->point ? rn->point : 13;
        size_t l = strlen(lcs), l2 = strlen(pts_s);
        snprintf(lcs + l, sizeof lcs - l, "%s%d", j ? " " : "", map_lt(cx, cls[j].map));
        snprintf(pts_s + l2, sizeof pts_s - l2, "%s%d", j ? " " : "", pt);
    }
    /* the axes, fixed here (the script uses them as they are) so that the labels can be placed
     * without collisions: x log2, y log10, over the grid's and the recipes' points, 3% / 5% margins
     * (8% on the right, for the recipes' names) */
    double xmn = INFINITY, xmx = -INFINITY, ymn = INFINITY, ymx = -INFINITY;
    for (int k = 0; k < n; k++) {
        xmn = fmin(xmn, pts[k].x); xmx = fmax(xmx, pts[k].x); ymn = fmin(ymn, pts[k].y); ymx = fmax(ymx, pts[k].y);
    }
    for (int r = 0; r < nrec; r++) {
        const struct cfg *c = &s->rec[rec[r]];
        double x = (c->bm + c->bv) / 2;
        xmn = fmin(xmn, x); xmx = fmax(xmx, x); ymn = fmin(ymn, c->u); ymx = fmax(ymx, c->u);
    }
    double lx0 = log2(xmn), lx1 = log2(xmx), ly0 = log10(ymn), ly1 = log10(ymx);
    if (lx1 - lx0 < 0.5) { double c = (lx0 + lx1) / 2; lx0 = c - 0.25; lx1 = c + 0.25; }
    if (ly1 - ly0 < 0.5) { double c = (ly0 + ly1) / 2; ly0 = c - 0.25; ly1 = c + 0.25; }
    double dx = lx1 - lx0, dy = ly1 - ly0;
    lx0 -= 0.03 * dx; lx1 += 0.08 * dx; ly0 -= 0.05 * dy; ly1 += 0.05 * dy;
    sb_printf(&f->vars, "xlo=%.9g; xhi=%.9g; ylo=%.9g; yhi=%.9g; ", exp2(lx0), exp2(lx1), pow(10, ly0), pow(10, ly1));
    /* Pareto front of the grid: sorted by x (then y), keep each point below every point left of it */
    qsort(pts, (size_t)n, sizeof *pts, cmp_pt);
    int nfr0 = 0;
    double b0 = INFINITY;
    for (int k = 0; k < n; k++) if (pts[k].y < b0) { b0 = pts[k].y; nfr0++; }
    /* the plot area in inches, as plots/fig7-memory-vs-error.gp computes it: 7 in wide, at least 5 in
     * high, higher when the key and the front list need it */
    int lrows = nfr0 < 26 ? nfr0 : 26;
    double ltop = 0.6 + (ncls + 2 + (nrec > 0)) * 0.25 + 0.2, need = ltop + (lrows + 1) * 0.21 + 0.8 + 0.45;
    const double PW = 7.0, PH = need - 0.8 - 0.45 - 0.7 > 5.0 ? need - 0.8 - 0.45 - 0.7 : 5.0;
    sb_printf(&f->vars, "ph=%.6g; ", PH);
    #define F7_IN_X(v) ((log2(v) - lx0) / (lx1 - lx0) * PW)
    #define F7_IN_Y(v) ((log10(v) - ly0) / (ly1 - ly0) * PH)
    #define F7_X_OF(i) exp2(lx0 + (i) / PW * (lx1 - lx0))
    #define F7_Y_OF(i) pow(10, ly0 + (i) / PH * (ly1 - ly0))
    int np = n + nrec;
    int *fr = malloc(sizeof(int) * (size_t)n), *mark = calloc((size_t)np, sizeof(int));
    double *px = malloc(sizeof(double) * (size_t)np), *py = malloc(sizeof(double) * (size_t)np);
    struct f7lab *L = malloc(sizeof *L * (size_t)np);
    if (!fr || !mark || !px || !py || !L) {
        free(fr); free(mark); free(px); free(py); free(L); free(pts); free(rec);
        return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    }
    double best = INFINITY;
    int nfront = 0;
    for (int k = 0; k < n; k++) {
        px[k] = F7_IN_X(pts[k].x); py[k] = F7_IN_Y(pts[k].y);
        if (!(pts[k].y < best)) continue;
        best = pts[k].y;
        fr[nfront++] = k;
        mark[k] = 1;
    }
    for (int r = 0; r < nrec; r++) {
        const struct cfg *c = &s->rec[rec[r]];
        px[n + r] = F7_IN_X((c->bm + c->bv) / 2); py[n + r] = F7_IN_Y(c->u); mark[n + r] = 2;
    }
    double *fx = malloc(sizeof(double) * (size_t)(nfront ? nfront : 1)), *fy = malloc(sizeof(double) * (size_t)(nfront ? nfront : 1));
    if (!fx || !fy) {
        free(fx); free(fy); free(fr); free(mark); free(px); free(py); free(L); free(pts); free(rec);
        return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    }
    for (int q = 0; q < nfront; q++) { fx[q] = px[fr[q]]; fy[q] = py[fr[q]]; }
    struct f7pts P = { px, py, mark, np, fx, fy, nfront };
    int nl = 0;
    /* the recipes' names first (the longer labels; 10 pt, about 0.105 in per character as the PNG
     * draws it; a star is about 0.2 in across), then the front's numbers (9 pt, about 0.095 in per
     * digit; a circled point about 0.13 in), every one placed against all labels placed before it */
    const double RS = 0.14, RF = 0.09;
    char rname[64][40];
    for (int r = 0; r < nrec && r < 64; r++) {
        cli_text_clean(rname[r], sizeof rname[r], s->rec[rec[r]].recipe);
        f7_place(px[n + r], py[n + r], RS, 0.105 * (double)strlen(rname[r]) + 0.04, 0.18, L, &nl, &P, PW, PH);
    }
    /* label_x, label_y: the label's centre in data coordinates; box_*: its box in inches on the
     * plot area (x, y of the centre, width, height), for tests/cli/test-figures.sh's overlap check */
    sb_puts(&f->data, "\n\nPareto front\tupdate_rel_l2\tconfig\tnumber\tlabel_x\tlabel_y\tbox_x\tbox_y\tbox_w\tbox_h\n");
    for (int q = 0; q < nfront; q++) {
        const struct pt *Q = &pts[fr[q]];
        char num[16];
        snprintf(num, sizeof num, "%d", q + 1);
        f7_place(px[fr[q]], py[fr[q]], RF, 0.095 * (double)strlen(num) + 0.04, 0.16, L, &nl, &P, PW, PH);
        char lab[64];
        const struct cfg *c = &s->c[Q->c];
        cli_text_clean(lab, sizeof lab, c->label ? c->label : "");
        const struct f7lab *B = &L[nl - 1];
        sb_printf(&f->data, "%.9g\t%.9g\t%s\t%d\t%.9g\t%.9g\t%.4f\t%.4f\t%.4f\t%.4f\n", Q->x, Q->y, lab, q + 1, F7_X_OF(B->x), F7_Y_OF(B->y),
                  B->x, B->y, B->w, B->h);
        if (q < 200) {          /* the numbered list next to the plot: every point (200 at most) */
            char nm[32], item[160];
            snprintf(nm, sizeof nm, "front%d", q + 1);
            /* a v-only map's point: its v spec and whose m it carries (the full label is long) */
            const char *sl = c->m_recipe && c->label ? strrchr(c->label, '/') : NULL;
            if (sl) {
                char vs[64], mr[40];
                cli_text_clean(vs, sizeof vs, sl + 1);
                cli_text_clean(mr, sizeof mr, c->m_recipe);
                snprintf(item, sizeof item, "%s, m as %s", vs, mr);
            } else snprintf(item, sizeof item, "%s", lab);
            var_str(&f->vars, nm, item);
        }
    }
    if (nfront > 200) note(cx, "fig7: the list names the first 200 of %d Pareto points", nfront);
    /* the recipes: each at its own memory (m and v, scales and the tensors it keeps in fp32
     * included) and update error, evaluated by the sweep as configurations recipe:NAME */
    sb_puts(&f->data, "\n\nrecipe\tupdate_rel_l2\tconfig\tname\tlabel_x\tlabel_y\tbox_x\tbox_y\tbox_w\tbox_h\n");
    for (int r = 0; r < nrec && r < 64; r++) {
        const struct cfg *c = &s->rec[rec[r]];
        char lab[64];
        cli_text_clean(lab, sizeof lab, c->label ? c->label : "");
        sb_printf(&f->data, "%.9g\t%.9g\t%s\t%s\t%.9g\t%.9g\t%.4f\t%.4f\t%.4f\t%.4f\n", (c->bm + c->bv) / 2, c->u, lab, rname[r],
                  F7_X_OF(L[r].x), F7_Y_OF(L[r].y), L[r].x, L[r].y, L[r].w, L[r].h);
    }
    if (nrec > 64) note(cx, "fig7: the first 64 of %d recipes drawn", nrec);
    if (!nrec) sb_puts(&f->data, "NaN\tNaN\tnone\tnone\tNaN\tNaN\tNaN\tNaN\tNaN\tNaN\n");
    /* the leaders of the labels placed away from their points */
    sb_puts(&f->data, "\n\nleader x\tleader y\n");
    int nlead = 0;
    for (int k = 0; k < nl; k++) {
        size_t before = f->data.n;
        f7_leader(&f->data, &L[k], k < (nrec < 64 ? nrec : 64) ? RS : RF, lx0, lx1, ly0, ly1, PW, PH);
        nlead += f->data.n > before;
    }
    if (!nlead) sb_puts(&f->data, "NaN\tNaN\n");
    #undef F7_IN_X
    #undef F7_IN_Y
    #undef F7_X_OF
    #undef F7_Y_OF
    free(fr); free(mark); free(px); free(py); free(L); free(pts); free(rec); free(fx); free(fy);
    sb_printf(&f->vars, "nseries=%d; nfront=%d; nrecipes=%d; ", ncls, nfront, nrec < 64 ? nrec : 64);
    var_str(&f->vars, "lcs0", lcs);
    var_str(&f->vars, "pts0", pts_s);
    var_str(&f->vars, "title", "Memory vs update error for every configuration (line: Pareto front)");
    var_str(&f->vars, "statlab", stat_label(s));
    return LBQ_OK;
}

/* Figure 8: the update error of each role group (the element-weighted mean over the group's
 * tensors) for the configurations that are a published recipe's m or v quantizer (docs/figures.md) */
static int fig8(struct ctx *cx, const struct sweep *s, struct figs *fs)
{
    const char *gn[MAX_GROUPS];
    int ng = 0, sel[MAX_SERIES], ns = 0;
    char stitle[MAX_SERIES][200];     /* "LABEL (WHO)": 64 + 128 + 4 */
    /* the series: the published recipes themselves (configs recipe:NAME, with their own m and v
     * quantizers and fp32 exemptions); a sweep without them (--no-recipes, older files): the grid
     * configurations that are a recipe's m or v quantizer, applied to both states */
    const struct cfg *src = s->nrec ? s->rec : s->c;
    int nsrc = s->nrec ? s->nrec : s->nc;
    for (int i = 0; i < nsrc && ns < MAX_SERIES; i++) {
        const struct cfg *c = &src[i];
        if (!c->ng || !c->label) continue;
        if (c->recipe) {
            char rn[40];
            cli_text_clean(rn, sizeof rn, c->recipe);
            snprintf(stitle[ns], sizeof stitle[ns], "%s (recipe)", rn);
        } else {
            char who[128] = "";
            for (int r = 0; r < lbq_recipe_count(); r++) {
                const struct lbq_recipe *rp = lbq_recipe_at(r);
                if (!rp) continue;
                int m = rp->m_spec && strcmp(rp->m_spec, c->label) == 0, v = rp->v_spec && strcmp(rp->v_spec, c->label) == 0;
                if (!m && !v) continue;
                size_t l = strlen(who);
                snprintf(who + l, sizeof who - l, "%s%s %s", l ? ", " : "", rp->name, m && v ? "m+v" : m ? "m" : "v");
            }
            if (!who[0]) continue;
            char lab[64];
            cli_text_clean(lab, sizeof lab, c->label);
            snprintf(stitle[ns], sizeof stitle[ns], "%s (%s)", lab, who);
        }
        sel[ns++] = i;
        for (int g = 0; g < c->ng; g++) {
            int seen = 0;
            for (int k = 0; k < ng; k++) seen |= strcmp(gn[k], c->gname[g]) == 0;
            if (!seen && ng < MAX_GROUPS) gn[ng++] = c->gname[g];
        }
    }
    if (!ns || !ng) { note(cx, "fig8 skipped: no published recipe's quantizer among the configurations (or no groups)"); return LBQ_OK; }
    struct fig *f = fig_new(fs, "fig8-groups", "fig8-groups");
    char lcs[4 * MAX_SERIES + 1] = "";
    for (int k = 0; k < ns; k++) {
        const struct cfg *c = &src[sel[k]];
        sb_printf(&f->data, "%sgroup\tupdate_rel_l2\tgroup_name\tconfig\n", k ? "\n\n" : "");
        for (int g = 0; g < ng; g++) {
            double y = NAN;
            for (int j = 0; j < c->ng; j++) if (strcmp(c->gname[j], gn[g]) == 0) y = c->gu[j];
            char gl[48];
            cli_text_clean(gl, sizeof gl, gn[g]);
            sb_printf(&f->data, "%d\t", g);
            if (isfinite(y) && y > 0) sb_num(&f->data, y); else sb_puts(&f->data, "?");
            sb_printf(&f->data, "\t%s\t%s\n", gl, stitle[k]);
        }
        char nm[32];
        snprintf(nm, sizeof nm, "stitle%d", k + 1);
        var_str(&f->vars, nm, stitle[k]);
        size_t l = strlen(lcs);
        snprintf(lcs + l, sizeof lcs - l, "%s%d", l ? " " : "", 31 + k % 10);     /* categorical colours */
    }
    for (int g = 0; g < ng; g++) {
        char nm[32], gl[48];
        snprintf(nm, sizeof nm, "gname%d", g + 1);
        cli_text_clean(gl, sizeof gl, gn[g]);
        var_str(&f->vars, nm, gl);
    }
    sb_printf(&f->vars, "nseries=%d; ngroups=%d; ", ns, ng);
    var_str(&f->vars, "lcs0", lcs);
    var_str(&f->vars, "title", s->nrec ? "Update error per role group for each published recipe" : "Update error per role group for the published recipes' quantizers");
    return LBQ_OK;
}

/* ================================================================================================
 * running gnuplot (cli/gnuplot.c)
 * ================================================================================================ */
static int run_figs(struct ctx *cx, struct figs *fs, const char *dir, int quiet)
{
    struct cli_gnuplot g;
    int rc = cli_gnuplot_open(&g, dir);
    if (rc) return rc;
    int nfail = 0, first_rc = LBQ_OK, made = 0;
    char first_msg[700] = "", made_list[512] = "";
    for (int i = 0; i < fs->n; i++) {
        struct fig *f = &fs->f[i];
        if (f->data.oom || f->vars.oom) return lbq_err(LBQ_ERR_NOMEM, "%s: out of memory", f->name);
        int failed = 0;
        rc = cli_gnuplot_figure(&g, f->name, f->script, f->name, f->vars.p, f->vars.n, f->data.p, f->data.n, &failed);
        if (rc && !failed) return rc;
        if (rc) {
            if (!nfail++) { first_rc = rc; snprintf(first_msg, sizeof first_msg, "%s", lbq_errmsg()); }
            continue;
        }
        made++;
        size_t l = strlen(made_list);
        snprintf(made_list + l, sizeof made_list - l, "%s%s", l ? ", " : "", f->name);
    }
    if (nfail) {    /* one error line, which also says what was made */
        char more[64] = "";
        if (nfail > 1) snprintf(more, sizeof more, "; %d more figures failed", nfail - 1);
        return lbq_err(first_rc, "%s%s; %d other figure%s written", first_msg, more, made, made == 1 ? "" : "s");
    }
    if (!quiet) {
        char d[256];
        cli_text_clean_msg(d, sizeof d, dir);
        if (made) cli_note("wrote %d figure%s (PNG + PDF) to %s: %s", made, made == 1 ? "" : "s", d, made_list);
        if (cx->notes[0]) cli_note("%s", cx->notes);
    }
    return LBQ_OK;
}

int lbq_plot_sweep(const cJSON *results, const char *dir, int quiet)
{
    struct sweep s;
    struct ctx cx;
    struct figs fs;
    memset(&cx, 0, sizeof cx);
    fs.n = 0;
    int rc = load_sweep(results, &s);
    if (!rc) rc = fig1(&cx, &s, &fs);
    if (!rc) rc = fig2(&cx, &s, &fs);
    if (!rc) rc = fig3(&cx, &s, &fs);
    if (!rc) rc = fig4(&cx, &s, &fs);
    if (!rc) rc = fig5(&cx, &s, &fs);
    if (!rc) rc = fig6(&cx, &s, &fs);
    if (!rc) rc = fig7(&cx, &s, &fs);
    if (!rc) rc = fig8(&cx, &s, &fs);
    if (!rc && fs.n == 0) rc = lbq_err(LBQ_ERR_DATA, "no figure can be drawn from these results (%s)", cx.notes);
    if (!rc) rc = run_figs(&cx, &fs, dir, quiet);
    figs_free(&fs);
    sweep_free(&s);
    return rc;
}

void lbq_plot_sweep_clear(const char *dir)
{
    static const char *const names[] = { "fig1-error-vs-bits", "fig2-error-vs-block", "fig3-zero-point", "fig4-swamping",
                                         "fig5-heatmap", "fig6-codebooks", "fig7-memory-vs-error" };
    static const char *const ext[] = { "png", "pdf", "dat" };
    char p[4096];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        for (size_t k = 0; k < 3; k++) {
            snprintf(p, sizeof p, "%s/%s.%s", dir, names[i], ext[k]);
            unlink(p);
        }
}

/* ================================================================================================
 * simulate results (schema lbq.simulate/1 and /2)
 * ================================================================================================ */
/* one drawn series of simulate-swamping: a parameter's m or v, columns swamped and unchanged */
struct sim_series { int param, state, ns; double *step, *col[2]; };

/* the earliest series before a whose column c coincides with a's (same steps, same values, same
 * undefined points, something defined), or -1 */
static int sim_same_as(const struct sim_series *sr, int a, int c)
{
    for (int b = 0; b < a; b++) {
        if (sr[b].ns != sr[a].ns) continue;
        int same = 1, any = 0;
        for (int j = 0; j < sr[a].ns && same; j++) {
            double x = sr[a].col[c][j], y = sr[b].col[c][j];
            if (sr[a].step[j] != sr[b].step[j] || isfinite(x) != isfinite(y) || (isfinite(x) && x != y)) same = 0;
            if (isfinite(x)) any = 1;
        }
        if (same && any) return b;
    }
    return -1;
}

static int sim_file(struct ctx *cx, const cJSON *params, int np, struct figs *fs, const char *label)
{
    const cJSON *it;
    int i = 0, rc = LBQ_OK, nser = 0, nkept = 0, nlisted = 0, ndrawn = 0, nquant = 0, drawn_state[2] = { 0, 0 };
    struct sim_series sr[2 * MAX_SIM_PARAMS];
    char names[MAX_SIM_PARAMS][96];
    char fp32[160] = "";
    static const int ptv[MAX_SIM_PARAMS] = { 7, 5, 9, 11, 13, 15, 4, 6, 8, 10 };   /* point type per parameter */
    static const char *const stn[2] = { "m", "v" };
    (void)np;
    cJSON_ArrayForEach(it, params) {
        char p[48];
        const char *name;
        const cJSON *ser;
        double *step = NULL, *sw[2] = { NULL, NULL }, *un[2] = { NULL, NULL };
        int ns, nsw[2] = { 0, 0 }, nun[2] = { 0, 0 };
        snprintf(p, sizeof p, "params[%d]", i);
        if (!cJSON_IsObject(it)) { rc = bad(p, NULL, "an object", it); break; }
        if ((rc = j_str(it, p, "name", J_REQ, &name)) || (rc = j_obj(it, p, "series", J_REQ, &ser))) break;
        const cJSON *kj = cJSON_GetObjectItemCaseSensitive(it, "kept_fp32");
        if (kj && !cJSON_IsBool(kj) && !cJSON_IsNull(kj)) { rc = bad(p, "kept_fp32", "a boolean", kj); break; }
        int kept = kj && cJSON_IsTrue(kj);
        snprintf(p, sizeof p, "params[%d].series", i);
        if (!(rc = j_nums(ser, p, "step", J_REQ, MAX_POINTS, &step, &ns)) &&
            !(rc = j_nums(ser, p, "swamp_m", J_OPT, MAX_POINTS, &sw[0], &nsw[0])) &&
            !(rc = j_nums(ser, p, "swamp_v", J_OPT, MAX_POINTS, &sw[1], &nsw[1])) &&
            !(rc = j_nums(ser, p, "unchanged_m", J_OPT, MAX_POINTS, &un[0], &nun[0])) &&
            !(rc = j_nums(ser, p, "unchanged_v", J_OPT, MAX_POINTS, &un[1], &nun[1]))) {
            static const char *const keys[2][2] = { { "swamp_m", "swamp_v" }, { "unchanged_m", "unchanged_v" } };
            for (int k = 0; k < 2 && !rc; k++) {
                if (sw[k] && nsw[k] != ns) rc = lbq_err(LBQ_ERR_FORMAT, "bad key '%s.%s': %d entries, 'step' has %d", p, keys[0][k], nsw[k], ns);
                else if (un[k] && nun[k] != ns) rc = lbq_err(LBQ_ERR_FORMAT, "bad key '%s.%s': %d entries, 'step' has %d", p, keys[1][k], nun[k], ns);
            }
        }
        if (!rc && kept) {
            /* a tensor the recipe keeps in fp32 is not drawn (it has no codes: lbq.simulate/1 wrote
             * 0s that would read as "never swamped"); a line under the key names it */
            char t[96];
            cli_text_clean(t, 80, name);
            size_t l = strlen(fp32);
            if (nlisted == nkept && (nkept == 0 || l + strlen(t) + 2 < 60)) { snprintf(fp32 + l, sizeof fp32 - l, "%s%s", l ? ", " : "", t); nlisted++; }
            nkept++;
        } else if (!rc) {
            /* the states with a defined point (an fp32 state's swamping is null since lbq.simulate/2) */
            int has[2] = { 0, 0 };
            for (int k = 0; k < 2; k++)
                for (int j = 0; j < ns; j++)
                    if (isfinite(step[j]) && ((sw[k] && isfinite(sw[k][j])) || (un[k] && isfinite(un[k][j])))) has[k] = 1;
            if (has[0] || has[1]) nquant++;
            if ((has[0] || has[1]) && ndrawn < MAX_SIM_PARAMS) {
                cli_text_clean(names[ndrawn], 80, name);
                for (int k = 0; k < 2 && !rc; k++) {
                    if (!has[k]) continue;
                    struct sim_series *q = &sr[nser];
                    q->param = ndrawn; q->state = k; q->ns = ns;
                    q->step = malloc(sizeof(double) * (size_t)(ns ? ns : 1));
                    q->col[0] = malloc(sizeof(double) * (size_t)(ns ? ns : 1));
                    q->col[1] = malloc(sizeof(double) * (size_t)(ns ? ns : 1));
                    if (!q->step || !q->col[0] || !q->col[1]) { free(q->step); free(q->col[0]); free(q->col[1]); rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); break; }
                    for (int j = 0; j < ns; j++) {
                        q->step[j] = step[j];
                        q->col[0][j] = sw[k] ? sw[k][j] : NAN;
                        q->col[1][j] = un[k] ? un[k][j] : NAN;
                    }
                    nser++;
                    drawn_state[k] = 1;
                }
                ndrawn++;
            }
        }
        free(step); free(sw[0]); free(sw[1]); free(un[0]); free(un[1]);
        if (rc) break;
        i++;
    }
    if (!rc && nquant > MAX_SIM_PARAMS) note(cx, "simulate-swamping: only the first %d of %d quantized parameters drawn", MAX_SIM_PARAMS, nquant);
    if (!rc && nser == 0) {
        note(cx, nkept ? "simulate-swamping skipped: every tensor is kept in fp32" : "simulate-swamping skipped: no swamping series");
        return LBQ_OK;
    }
    struct fig *f = rc ? NULL : fig_new(fs, "simulate-swamping", "simulate-swamping");
    if (f) {
        /* coinciding series (house style): drawn dotted with large open circles over the earlier one
         * (dup0: swamped panel, dup1: unchanged panel), and a line of the legend says which */
        int same[2 * MAX_SIM_PARAMS][2];
        char dup[2][8 * 2 * MAX_SIM_PARAMS] = { "", "" };
        for (int a = 0; a < nser; a++)
            for (int c = 0; c < 2; c++) {
                same[a][c] = sim_same_as(sr, a, c);
                if (same[a][c] >= 0) {
                    size_t l = strlen(dup[c]);
                    snprintf(dup[c] + l, sizeof dup[c] - l, "%s%d", l ? " " : "", a + 1);
                }
            }
        /* the legend line: per earlier series b that later ones coincide with, "v of X, Y: same as
         * v of Z" (names while the line stays short, else a count), "(swamped only)" where only one
         * panel coincides */
        char dupnote[400] = "";
        for (int pass = 0; pass < 2 && !dupnote[0]; pass++) {
            for (int b = 0; b < nser; b++)
                for (int onlyc = -1; onlyc < 2; onlyc++) {      /* -1: both panels, 0/1: that one only */
                    char who[300] = "";
                    int nw = 0, st = -1, mixed = 0;
                    for (int a = b + 1; a < nser; a++) {
                        int s0 = same[a][0] == b, s1 = same[a][1] == b;
                        if (!(onlyc < 0 ? s0 && s1 : onlyc == 0 ? s0 && !s1 : s1 && !s0)) continue;
                        if (st >= 0 && st != sr[a].state) mixed = 1;
                        st = sr[a].state;
                        size_t l = strlen(who);
                        snprintf(who + l, sizeof who - l, "%s%s", l ? ", " : "", names[sr[a].param]);
                        nw++;
                    }
                    if (!nw) continue;
                    char what[320];
                    if (pass == 0 && !mixed) snprintf(what, sizeof what, "%s of %.280s", stn[st], who);
                    else if (!mixed) snprintf(what, sizeof what, "%s of %d tensors", stn[st], nw);
                    else snprintf(what, sizeof what, "%d series", nw);
                    char piece[1024];
                    snprintf(piece, sizeof piece, "%s same as %s of %s%s", what, stn[sr[b].state],
                             names[sr[b].param], onlyc < 0 ? "" : onlyc == 0 ? " (swamped panel)" : " (unchanged panel)");
                    if (strlen(dupnote) + strlen(piece) + 3 < sizeof dupnote) {
                        if (dupnote[0]) strcat(dupnote, "; ");
                        strcat(dupnote, piece);
                    }
                }
            if (pass == 0 && strlen(dupnote) > 80) dupnote[0] = 0;      /* too long for one line: counts */
        }
        char lcs[8 * 2 * MAX_SIM_PARAMS] = "", dts[8 * 2 * MAX_SIM_PARAMS] = "", keyblk[8 * 2 * MAX_SIM_PARAMS] = "", pts_s[8 * 2 * MAX_SIM_PARAMS] = "";
        for (int a = 0; a < nser; a++) {
            char t[512];
            cli_text_clean(t, sizeof t, names[sr[a].param]);
            sb_printf(&f->data, "%sstep\t%s\t%s (%s)\n", a ? "\n\n" : "", t, names[sr[a].param], stn[sr[a].state]);
            for (int j = 0; j < sr[a].ns; j++) {
                if (!isfinite(sr[a].step[j])) continue;
                sb_num(&f->data, sr[a].step[j]); sb_puts(&f->data, "\t");
                sb_num(&f->data, sr[a].col[0][j]); sb_puts(&f->data, "\t");
                sb_num(&f->data, sr[a].col[1][j]); sb_puts(&f->data, "\n");
            }
            size_t l = strlen(lcs), l2 = strlen(dts), l4 = strlen(pts_s);
            snprintf(lcs + l, sizeof lcs - l, "%s%d", a ? " " : "", 31 + sr[a].param % 10);
            snprintf(dts + l2, sizeof dts - l2, "%s%d", a ? " " : "", sr[a].state ? 2 : 1);
            snprintf(pts_s + l4, sizeof pts_s - l4, "%s%d", a ? " " : "", ptv[sr[a].param % MAX_SIM_PARAMS]);
            if (a == 0 || sr[a - 1].param != sr[a].param) {   /* one key entry per parameter: its first series */
                size_t l3 = strlen(keyblk);
                snprintf(keyblk + l3, sizeof keyblk - l3, "%s%d", l3 ? " " : "", a + 1);
            }
        }
        sb_printf(&f->vars, "nseries=%d; ", nser);
        var_str(&f->vars, "lcs0", lcs);
        var_str(&f->vars, "dts0", dts);
        var_str(&f->vars, "pts0", pts_s);
        var_str(&f->vars, "keys0", keyblk);
        if (dup[0][0]) var_str(&f->vars, "dup0", dup[0]);
        if (dup[1][0]) var_str(&f->vars, "dup1", dup[1]);
        if (dupnote[0]) var_strf(&f->vars, "dupnote", "coinciding lines (dotted, open circles): %s", dupnote);
        /* the m / v key entries only for the states drawn */
        var_str(&f->vars, "states", drawn_state[0] && drawn_state[1] ? "m v" : drawn_state[0] ? "m" : "v");
        if (nkept) {
            if (nlisted < nkept) var_strf(&f->vars, "fp32note", "kept in fp32 by the recipe, not drawn (%d tensors): %s and %d more", nkept, fp32, nkept - nlisted);
            else var_strf(&f->vars, "fp32note", "kept in fp32 by the recipe, not drawn: %s", fp32);
        }
        var_strf(&f->vars, "title", "Signal swamping over the simulation: %s%s", label,
                 drawn_state[0] && drawn_state[1] ? " (solid: m, dashed: v)" : "");
    }
    for (int a = 0; a < nser; a++) { free(sr[a].step); free(sr[a].col[0]); free(sr[a].col[1]); }
    return rc;
}

struct brow { double beta, fm, f32; };
static int cmp_brow(const void *a, const void *b) { return cmp_double(&((const struct brow *)a)->beta, &((const struct brow *)b)->beta); }

static int sim_synth(struct ctx *cx, const cJSON *runs, int nr, struct figs *fs, const char *vlabel)
{
    struct brow *r = malloc(sizeof *r * (size_t)(nr ? nr : 1));
    if (!r) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    const cJSON *it, *sum;
    int i = 0, n = 0, rc = LBQ_OK;
    cJSON_ArrayForEach(it, runs) {
        char p[48];
        snprintf(p, sizeof p, "runs[%d]", i);
        if (!cJSON_IsObject(it)) { rc = bad(p, NULL, "an object", it); break; }
        double b, fm, f32;
        if ((rc = j_num(it, p, "beta", J_REQ, &b)) || (rc = j_obj(it, p, "summary", J_REQ, &sum))) break;
        snprintf(p, sizeof p, "runs[%d].summary", i);
        if ((rc = j_num(sum, p, "final_mean", J_REQ, &fm)) || (rc = j_num(sum, p, "final_mean_fp32", J_REQ, &f32))) break;
        if (isfinite(b)) { r[n].beta = b; r[n].fm = fm; r[n].f32 = f32; n++; }
        i++;
    }
    if (rc) { free(r); return rc; }
    qsort(r, (size_t)n, sizeof *r, cmp_brow);
    double *x = malloc(sizeof(double) * (size_t)(n ? n : 1));
    if (!x) { free(r); return lbq_err(LBQ_ERR_NOMEM, "out of memory"); }
    for (int k = 0; k < n; k++) x[k] = r[k].beta;
    struct wide w;
    if ((rc = wide_init(&w, x, n))) { free(r); free(x); return rc; }
    free(x);
    char t[128];
    snprintf(t, sizeof t, "quantized: %s", vlabel);
    double *y32 = wide_col(&w, "fp32", 9, 1), *yq = y32 ? wide_col(&w, t, 23, 1) : NULL;
    if (!yq) { wide_free(&w); free(r); return lbq_err(LBQ_ERR_NOMEM, "out of memory"); }
    for (int k = 0; k < n; k++) { y32[k] = r[k].f32; yq[k] = r[k].fm; }
    free(r);
    wide_prune(&w, 0);
    if (w.ncol == 0) { wide_free(&w); note(cx, "simulate-final-vs-beta skipped: no finite final means"); return LBQ_OK; }
    struct fig *f = fig_new(fs, "simulate-final-vs-beta", "simulate-final-vs-beta");
    wide_emit(f, 0, &w, "beta", "");
    wide_free(&w);
    sb_printf(&f->vars, "npanels=1; ");
    var_strf(&f->vars, "title", "Synthetic EMA (SOLO case study): mean state at the end vs beta");
    return LBQ_OK;
}

int lbq_plot_simulate(const cJSON *results, const char *dir, int quiet)
{
    struct ctx cx;
    struct figs fs;
    memset(&cx, 0, sizeof cx);
    fs.n = 0;
    if (!cJSON_IsObject(results)) return bad("", "(top level)", "an object", results);
    const cJSON *conf, *params, *runs;
    const char *label = NULL, *vspec = NULL;
    int np, nr, rc;
    if ((rc = j_obj(results, "", "config", J_OPT, &conf))) return rc;
    if (conf && ((rc = j_str(conf, "config", "label", J_OPT, &label)) || (rc = j_str(conf, "config", "v", J_OPT, &vspec)))) return rc;
    if ((rc = j_arr(results, "", "params", J_OPT, MAX_CONFIGS, &params, &np)) || (rc = j_arr(results, "", "runs", J_OPT, MAX_POINTS, &runs, &nr)))
        return rc;
    if (!params && !runs) return bad("", "params", "an array (or 'runs' for a synthetic simulation)", NULL);
    char lab[128];
    cli_text_clean(lab, sizeof lab, label ? label : "");
    if (params) rc = sim_file(&cx, params, np, &fs, lab);
    if (!rc && runs) {
        char v[96];
        cli_text_clean(v, sizeof v, vspec ? vspec : (label ? label : "?"));
        rc = sim_synth(&cx, runs, nr, &fs, v);
    }
    if (!rc && fs.n == 0) rc = lbq_err(LBQ_ERR_DATA, "no figure can be drawn from these results (%s)", cx.notes);
    if (!rc) rc = run_figs(&cx, &fs, dir, quiet);
    figs_free(&fs);
    return rc;
}
