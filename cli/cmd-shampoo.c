/* cmd-shampoo.c - `lbq shampoo`: 4-bit Shampoo's preconditioner quantization errors (A vs U vs B,
 * Bjorck rectification) in the paper's table layout, JSON (lbq.shampoo/1) and the Bjorck figure.
 * docs/shampoo.md. */
#define _XOPEN_SOURCE 700      /* realpath */
#include "cli.h"
#include "plot.h"
#include "lbq-json.h"
#include "lbq-shampoo.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char lbq_usage_shampoo[] =
"usage: lbq shampoo --synthetic a2 [--order N] [--cond C] [--small-frac F] [--seed S] [options]\n"
"       lbq shampoo FILE --dataset PATH [options]\n"
"       lbq shampoo FILE --from-grads PARAM [--side left|right] [--ridge R] [options]\n"
"\n"
"4-bit Shampoo's analysis of a preconditioner A = U diag(w) U^T (docs/shampoo.md): the error in\n"
"f(A) = (A + eps*lambda_max*I)^(-1/4) caused by quantizing\n"
"  A         A itself, diagonal kept in fp32 (the naive baseline)\n"
"  U         the eigenvector matrix, blocks within each eigenvector (w kept)\n"
"  U+OR      U, then t Bjorck steps V <- 1.5V - 0.5 V V^T V (--bjorck t)\n"
"  B         the inverse root B = f(A), off-diagonal (diagonal in fp32)\n"
"  (A,B) (U,B) (U,B)+OR   f of the first, then B quantized (paper App. D)\n"
"as NRE = ||f(A) - f(g(A))||_F / ||f(A)||_F and AE (degrees), for the whole matrix and for its\n"
"off-diagonal part, next to the paper's published values (A2 for --synthetic, A1 otherwise).\n"
"\n"
"input (one of):\n"
"  --synthetic a2      random orthogonal U (QR of a seeded Gaussian matrix) and two eigenvalues:\n"
"                      lambda_max/cond for the first F*n eigenvectors, lambda_max for the rest\n"
"    --order N         order (2-8192, default 1200)\n"
"    --cond C          lambda_max / lambda_min (default 500; docs/shampoo.md explains the choice)\n"
"    --small-frac F    share of small eigenvalues (default 0.5)\n"
"    --seed S          generator seed (default 0)\n"
"  FILE --dataset PATH a square symmetric PSD matrix stored in an HDF5 dataset\n"
"  FILE --from-grads PARAM   Shampoo's preconditioner from a moment file's 'grads' stream:\n"
"                      L = ridge*I + sum_t G_t G_t^T (--side left, default) or\n"
"                      R = ridge*I + sum_t G_t^T G_t (--side right)\n"
"    --ridge R         initial ridge epsilon*I (default: the --eps value, as L0 = eps*I)\n"
"quantizers:\n"
"  --maps M[,M...]     maps (default linsq,dtree: Linear-2 and DT)\n"
"  --bits B[,B...]     bitwidths (default 3,4,8)\n"
"  --block N           block size within a row (default 64)\n"
"  --block-8bit N      also run 8 bits at this block size, as the paper's Table 7 (default 256; 0 = no)\n"
"analysis:\n"
"  --eps E             damping epsilon of f (default 1e-6)\n"
"  --negative abs|clamp  f of a quantized, indefinite g(A): |lambda| (default; A^s through the SVD,\n"
"                      as the paper defines it) or max(lambda, 0)\n"
"  --bjorck T          Bjorck steps of U+OR and (U,B)+OR (0-16, default 1)\n"
"  --bjorck-max T      Bjorck curve t = 0..T for the figure (0-16, default 4; 0 = none)\n"
"  --schemes S[,S...]  only these of A, U, U+OR, B, AB, UB, UB+OR (default all)\n"
"output:\n"
"  --json OUT          everything (schema lbq.shampoo/1), written atomically\n"
"  --tsv OUT           the Bjorck-curve data of the figure (TSV)\n"
"  --plot DIR          the figure DIR/shampoo-bjorck.png and .pdf (gnuplot; data in .dat)\n"
"  -q, --quiet         no progress notes on stderr\n"
"\n"
"examples: lbq shampoo --synthetic a2 --order 1200 --json a2.json --plot out/\n"
"          lbq shampoo data/sample-late.h5 --from-grads blocks.1.attn.proj.weight\n";

enum { O_SYN = 1, O_ORDER, O_COND, O_FRAC, O_SEED, O_DATASET, O_GRADS, O_SIDE, O_RIDGE, O_MAPS, O_BITS,
       O_BLOCK, O_BLOCK8, O_EPS, O_BJ, O_BJMAX, O_SCHEMES, O_NEG, O_JSON, O_TSV, O_PLOT, O_QUIET };
static const struct cli_opt opts[] = {
    { "synthetic", 1, O_SYN }, { "order", 1, O_ORDER }, { "cond", 1, O_COND }, { "small-frac", 1, O_FRAC },
    { "seed", 1, O_SEED }, { "dataset", 1, O_DATASET }, { "from-grads", 1, O_GRADS }, { "side", 1, O_SIDE },
    { "ridge", 1, O_RIDGE }, { "maps", 1, O_MAPS }, { "bits", 1, O_BITS }, { "block", 1, O_BLOCK },
    { "block-8bit", 1, O_BLOCK8 }, { "eps", 1, O_EPS }, { "bjorck", 1, O_BJ }, { "bjorck-max", 1, O_BJMAX },
    { "schemes", 1, O_SCHEMES }, { "negative", 1, O_NEG },
    { "json", 1, O_JSON }, { "tsv", 1, O_TSV }, { "plot", 1, O_PLOT }, { "quiet", 0, O_QUIET }, { 0, 0, 0 },
};

#define MAX_MAPS 8
#define MAX_BITS 8
#define MAX_CFG  (MAX_MAPS * (MAX_BITS + 1))

struct input_desc {
    char   kind[16];            /* synthetic-a2 | dataset | grads */
    char   text[LBQ_NAME_MAX + 128];
    const char *file, *dataset, *param;
    int    side;
    double ridge;
    int64_t grads_T;
    int    order, n_small;
    double cond, small_frac;
    uint64_t seed;
};

/* the map's registered name in 4-Bit Shampoo's terms (map slot label_shampoo) */
static const struct lbq_map *reg_map(const char *m)
{
    for (int i = 0; i < lbq_map_count(); i++) if (strcmp(lbq_map_at(i)->name, m) == 0) return lbq_map_at(i);
    return NULL;
}

static const char *map_label(const char *m)
{
    const struct lbq_map *r = reg_map(m);
    return r && r->label_shampoo ? r->label_shampoo : m;
}

/* texts that reach gnuplot or a data file: printable ASCII without quotes, $, \ and backquotes */
static void clean(char *dst, size_t n, const char *src)
{
    size_t k = 0;
    for (; src && *src && k + 1 < n; src++) {
        unsigned char c = (unsigned char)*src;
        dst[k++] = (c < 0x20 || c > 0x7e || c == '"' || c == '\'' || c == '$' || c == '\\' || c == '`') ? '_' : (char)c;
    }
    dst[k] = 0;
}

static void fmt_cell(char *buf, size_t n, double v, int digits)
{
    if (isfinite(v)) snprintf(buf, n, "%.*f", digits, v);
    else snprintf(buf, n, "-");
}

/* ---- table -------------------------------------------------------------------------------------- */
static void print_tables(const struct lbq_sh_result *r, int nr, int paper_matrix, const struct lbq_sh_opts *o)
{
    const char *pm = paper_matrix == 2 ? "A2" : "A1";
    for (int i = 0; i < nr; i++) {
        int first = 1;
        for (int k = 0; k < i; k++) if (r[k].bits == r[i].bits && r[k].block == r[i].block) first = 0;
        if (!first) continue;
        printf("\n%d-bit, block %lld (within rows)%*s f = A^(-1/4)        off-diagonal        paper %s: f         paper %s: off-diag\n",
               r[i].bits, (long long)r[i].block, r[i].block >= 100 ? 0 : 1, "", pm, pm);
        printf("%-9s %-9s %8s %8s   %8s %8s   %8s %8s   %8s %8s\n", "map", "scheme", "NRE", "AE(deg)", "NRE", "AE(deg)", "NRE", "AE(deg)", "NRE", "AE(deg)");
        for (int k = i; k < nr; k++) {
            if (r[k].bits != r[i].bits || r[k].block != r[i].block) continue;
            int labelled = 0;
            for (int s = 0; s < LBQ_SH_NSCHEMES; s++) {
                if (!r[k].have[s]) continue;
                char name[24], c[8][16];
                double pn, pa, pno, pao;
                lbq_sh_paper(r[k].map, r[k].bits, r[k].block, paper_matrix, s, 0, &pn, &pa);
                lbq_sh_paper(r[k].map, r[k].bits, r[k].block, paper_matrix, s, 1, &pno, &pao);
                if ((s == LBQ_SH_U_OR || s == LBQ_SH_UB_OR) && o->bjorck != 1) {
                    snprintf(name, sizeof name, "%s%d", lbq_sh_scheme_name(s), o->bjorck);
                    pn = pa = pno = pao = NAN;   /* the paper's OR is one step */
                } else snprintf(name, sizeof name, "%s", lbq_sh_scheme_name(s));
                const struct lbq_sh_err *e = &r[k].err[s];
                fmt_cell(c[0], 16, e->nre, 4); fmt_cell(c[1], 16, e->ae, 3);
                fmt_cell(c[2], 16, e->nre_off, 4); fmt_cell(c[3], 16, e->ae_off, 3);
                fmt_cell(c[4], 16, pn, 4); fmt_cell(c[5], 16, pa, 3);
                fmt_cell(c[6], 16, pno, 4); fmt_cell(c[7], 16, pao, 3);
                printf("%-9s %-9s %8s %8s   %8s %8s   %8s %8s   %8s %8s%s\n", labelled++ ? "" : map_label(r[k].map),
                       name, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
                       r[k].nneg[s] ? "  *" : "");
            }
        }
    }
    int anyneg = 0;
    for (int k = 0; k < nr; k++) for (int s = 0; s < LBQ_SH_NSCHEMES; s++) if (r[k].nneg[s]) anyneg = 1;
    if (anyneg) printf("* the quantized matrix g(A) had negative eigenvalues; f used %s (counts in the JSON)\n",
                       o->neg_policy == LBQ_SH_NEG_CLAMP ? "0 for them (--negative clamp)" : "their absolute values (--negative abs, the SVD definition)");

    /* the Bjorck curves */
    int any = 0;
    for (int k = 0; k < nr; k++) if (r[k].npoints) any = 1;
    if (!any) return;
    printf("\nBjorck rectification of the quantized U: ||V_t^T V_t - I||_F and the error in f(A) after t steps\n"
           "(f: f(V_t diag(w) V_t^T) by eigendecomposition; direct: V_t diag(f(w)) V_t^T without it)\n");
    printf("%-9s %4s %6s %3s %11s %8s %8s %8s %8s\n", "map", "bits", "block", "t", "orth", "NRE", "AE(deg)", "NRE dir", "AE dir");
    for (int k = 0; k < nr; k++)
        for (int t = 0; t < r[k].npoints; t++) {
            const struct lbq_sh_bjpoint *b = &r[k].curve[t];
            char c[4][16];
            fmt_cell(c[0], 16, b->err.nre, 4); fmt_cell(c[1], 16, b->err.ae, 3);
            fmt_cell(c[2], 16, b->direct.nre, 4); fmt_cell(c[3], 16, b->direct.ae, 3);
            printf("%-9s %4d %6lld %3d %11.4e %8s %8s %8s %8s\n", t == 0 ? map_label(r[k].map) : "", r[k].bits, (long long)r[k].block,
                   b->t, b->orth, c[0], c[1], c[2], c[3]);
        }
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* eigenvalue min, 10%, 50%, 90% (nearest rank) and max */
static int eig_quantiles(const struct lbq_sh_mat *m, double q[5])
{
    double *w = malloc(sizeof(double) * (size_t)m->n);
    if (!w) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    memcpy(w, m->w, sizeof(double) * (size_t)m->n);
    qsort(w, (size_t)m->n, sizeof(double), cmp_dbl);
    static const double p[5] = { 0, 0.1, 0.5, 0.9, 1 };
    for (int i = 0; i < 5; i++) q[i] = w[(int)floor(p[i] * (m->n - 1) + 0.5)];
    free(w);
    return LBQ_OK;
}

/* ---- JSON --------------------------------------------------------------------------------------- */
static void add_err(cJSON *o, const char *prefix, const struct lbq_sh_err *e)
{
    char k[64];
    snprintf(k, sizeof k, "%snre", prefix); lbq_json_add_num(o, k, e->nre);
    snprintf(k, sizeof k, "%sae_deg", prefix); lbq_json_add_num(o, k, e->ae);
    snprintf(k, sizeof k, "%snre_offdiag", prefix); lbq_json_add_num(o, k, e->nre_off);
    snprintf(k, sizeof k, "%sae_offdiag_deg", prefix); lbq_json_add_num(o, k, e->ae_off);
}

static cJSON *build_json(const struct input_desc *in, const struct lbq_sh_mat *m, const struct lbq_sh_opts *o,
                         const struct lbq_sh_result *r, int nr, int paper_matrix, double total_s)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "schema", "lbq.shampoo");
    cJSON_AddNumberToObject(root, "schema_version", 1);
    cJSON_AddStringToObject(root, "lbq_version", LBQ_VERSION_STRING);
    cJSON *ji = cJSON_AddObjectToObject(root, "input");
    cJSON_AddStringToObject(ji, "kind", in->kind);
    cJSON_AddStringToObject(ji, "description", in->text);
    if (in->file) cJSON_AddStringToObject(ji, "file", in->file);
    if (in->dataset) cJSON_AddStringToObject(ji, "dataset", in->dataset);
    if (in->param) {
        cJSON_AddStringToObject(ji, "param", in->param);
        cJSON_AddStringToObject(ji, "side", in->side ? "right" : "left");
        cJSON_AddNumberToObject(ji, "grads_T", (double)in->grads_T);
        lbq_json_add_num(ji, "ridge", in->ridge);
    }
    if (strcmp(in->kind, "synthetic-a2") == 0) {
        lbq_json_add_num(ji, "cond_set", in->cond);
        cJSON_AddNumberToObject(ji, "n_small", in->n_small);
        cJSON_AddNumberToObject(ji, "seed", (double)in->seed);
        lbq_json_add_num(ji, "lambda_max_set", 1.0);
    }
    cJSON_AddNumberToObject(ji, "order", m->n);
    double wmin = INFINITY, wmax = -INFINITY, wpos = INFINITY;
    for (int i = 0; i < m->n; i++) {
        if (m->w[i] < wmin) wmin = m->w[i];
        if (m->w[i] > wmax) wmax = m->w[i];
        if (m->w[i] > 0 && m->w[i] < wpos) wpos = m->w[i];
    }
    lbq_json_add_num(ji, "lambda_max", wmax);
    lbq_json_add_num(ji, "lambda_min", wmin);
    lbq_json_add_num(ji, "cond", wmin > 0 ? wmax / wmin : INFINITY);
    lbq_json_add_num(ji, "cond_damped", (wmax + o->eps * wmax) / (wmin + o->eps * wmax));
    cJSON_AddNumberToObject(ji, "eigenvalues_clamped", m->nclamped);
    double q[5];
    if (eig_quantiles(m, q) == LBQ_OK) {
        cJSON *jq = cJSON_AddObjectToObject(ji, "eigenvalue_quantiles");
        lbq_json_add_num(jq, "min", q[0]); lbq_json_add_num(jq, "p10", q[1]); lbq_json_add_num(jq, "median", q[2]);
        lbq_json_add_num(jq, "p90", q[3]); lbq_json_add_num(jq, "max", q[4]);
    }
    cJSON *ja = cJSON_AddObjectToObject(root, "analysis");
    lbq_json_add_num(ja, "eps", o->eps);
    cJSON_AddStringToObject(ja, "f", "(A + eps*lambda_max(A)*I)^(-1/4) by eigendecomposition");
    cJSON_AddStringToObject(ja, "negative", o->neg_policy == LBQ_SH_NEG_CLAMP ? "clamp" : "abs");
    cJSON_AddBoolToObject(ja, "symmetrize", o->symmetrize != 0);
    cJSON_AddNumberToObject(ja, "bjorck", o->bjorck);
    cJSON_AddNumberToObject(ja, "bjorck_max", o->bjorck_max);
    cJSON_AddStringToObject(ja, "paper_matrix", paper_matrix == 2 ? "A2" : "A1");
    lbq_json_add_num(ja, "seconds", total_s);
    cJSON *jc = cJSON_AddArrayToObject(root, "configs");
    for (int k = 0; k < nr; k++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "map", r[k].map);
        cJSON_AddStringToObject(c, "map_label", map_label(r[k].map));
        cJSON_AddNumberToObject(c, "bits", r[k].bits);
        cJSON_AddNumberToObject(c, "block", (double)r[k].block);
        cJSON_AddStringToObject(c, "spec", r[k].spec);
        lbq_json_add_num(c, "lemma1_alpha", r[k].alpha);
        lbq_json_add_num(c, "lemma1_min_dot", r[k].min_dot);
        lbq_json_add_num(c, "seconds", r[k].seconds);
        cJSON *js = cJSON_AddArrayToObject(c, "schemes");
        for (int s = 0; s < LBQ_SH_NSCHEMES; s++) {
            if (!r[k].have[s]) continue;
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "scheme", lbq_sh_scheme_key(s));
            cJSON_AddStringToObject(e, "label", lbq_sh_scheme_name(s));
            cJSON_AddNumberToObject(e, "bjorck", (s == LBQ_SH_U_OR || s == LBQ_SH_UB_OR) ? o->bjorck : 0);
            add_err(e, "", &r[k].err[s]);
            cJSON_AddNumberToObject(e, "negative_eigenvalues", r[k].nneg[s]);
            double pn, pa, pno, pao;
            int h1 = lbq_sh_paper(r[k].map, r[k].bits, r[k].block, paper_matrix, s, 0, &pn, &pa);
            int h2 = lbq_sh_paper(r[k].map, r[k].bits, r[k].block, paper_matrix, s, 1, &pno, &pao);
            if ((s == LBQ_SH_U_OR || s == LBQ_SH_UB_OR) && o->bjorck != 1) h1 = h2 = 0;
            if (h1 || h2) {
                cJSON *p = cJSON_AddObjectToObject(e, "paper");
                cJSON_AddStringToObject(p, "matrix", paper_matrix == 2 ? "A2" : "A1");
                lbq_json_add_num(p, "nre", h1 ? pn : NAN);
                lbq_json_add_num(p, "ae_deg", h1 ? pa : NAN);
                lbq_json_add_num(p, "nre_offdiag", h2 ? pno : NAN);
                lbq_json_add_num(p, "ae_offdiag_deg", h2 ? pao : NAN);
            } else cJSON_AddNullToObject(e, "paper");
            cJSON_AddItemToArray(js, e);
        }
        cJSON *jb = cJSON_AddArrayToObject(c, "bjorck_curve");
        for (int t = 0; t < r[k].npoints; t++) {
            const struct lbq_sh_bjpoint *b = &r[k].curve[t];
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "t", b->t);
            lbq_json_add_num(e, "orth", b->orth);
            add_err(e, "", &b->err);
            add_err(e, "direct_", &b->direct);
            cJSON_AddItemToArray(jb, e);
        }
        cJSON_AddItemToArray(jc, c);
    }
    return root;
}

/* ---- figure data and gnuplot ---------------------------------------------------------------------- */
struct sbuf { char *p; size_t n, cap; int oom; };
static void sb_printf(struct sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || b->oom) return;
    size_t l = (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1;
    if (b->n + l + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->n + l + 1) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) { b->oom = 1; return; }
        b->p = np; b->cap = nc;
    }
    memcpy(b->p + b->n, tmp, l);
    b->n += l;
    b->p[b->n] = 0;
}

static void sb_num(struct sbuf *b, double v)
{
    if (isfinite(v)) sb_printf(b, "\t%.9g", v); else sb_printf(b, "\t?");
}

/* series of the figure: the configs at the main block size that have a curve */
static int fig_series(const struct lbq_sh_result *r, int nr, int64_t block, int *idx)
{
    int ns = 0;
    for (int k = 0; k < nr; k++) if (r[k].npoints > 1 && r[k].block == block) idx[ns++] = k;
    return ns;
}

/* the linetype of plots/lbq-style.gp the sweep figures give the map (map slot `line`) */
static int fig_lt(const char *map, int j)
{
    const struct lbq_map *r = reg_map(map);
    return r && r->line > 0 ? r->line : 10 + j % 6;
}

static int fig_dt(int bits) { return bits == 4 ? 1 : bits == 3 ? 2 : bits == 8 ? 3 : 4; }

/* the data (blocks per series: t, orth, NRE, AE, NRE direct, AE direct, NRE offdiag, AE offdiag)
 * and the gnuplot variables after datafile/outfile */
static void fig_data(const struct lbq_sh_result *r, int nr, int64_t block, const char *title,
                     struct sbuf *data, struct sbuf *vars)
{
    int idx[MAX_CFG], ns = fig_series(r, nr, block, idx);
    char lcs[256] = "", dts[256] = "";
    for (int j = 0; j < ns; j++) {
        const struct lbq_sh_result *c = &r[idx[j]];
        size_t l = strlen(lcs), m = strlen(dts);
        snprintf(lcs + l, sizeof lcs - l, "%s%d", j ? " " : "", fig_lt(c->map, j));
        snprintf(dts + m, sizeof dts - m, "%s%d", j ? " " : "", fig_dt(c->bits));
        if (j) sb_printf(data, "\n\n");
        sb_printf(data, "t\t%s %d-bit\torth\tNRE\tAE_deg\tNRE_direct\tAE_direct_deg\tNRE_offdiag\tAE_offdiag_deg\n", map_label(c->map), c->bits);
        for (int t = 0; t < c->npoints; t++) {
            const struct lbq_sh_bjpoint *b = &c->curve[t];
            sb_printf(data, "%d", b->t);
            sb_num(data, b->orth); sb_num(data, b->orth);
            sb_num(data, b->err.nre); sb_num(data, b->err.ae);
            sb_num(data, b->direct.nre); sb_num(data, b->direct.ae);
            sb_num(data, b->err.nre_off); sb_num(data, b->err.ae_off);
            sb_printf(data, "\n");
        }
    }
    char ct[512];
    clean(ct, sizeof ct, title);
    sb_printf(vars, "nseries=%d; lcs0='%s'; dts0='%s'; title='%s'; ", ns, lcs, dts, ct);
}

static int make_plot(const char *dir, const struct lbq_sh_result *r, int nr, int64_t block, const char *title, int quiet)
{
    int idx[MAX_CFG];
    if (fig_series(r, nr, block, idx) == 0)
        return lbq_err(LBQ_ERR_ARG, "--plot: no Bjorck curve at block %lld to draw (--bjorck-max 0?)", (long long)block);
    struct cli_gnuplot g;               /* cli/gnuplot.c: the runner of every figure */
    int rc = cli_gnuplot_open(&g, dir);
    if (rc) return rc;
    struct sbuf data = { 0 }, vars = { 0 };
    fig_data(r, nr, block, title, &data, &vars);
    if (data.oom || vars.oom) rc = lbq_err(LBQ_ERR_NOMEM, "out of memory");
    else rc = cli_gnuplot_figure(&g, "shampoo-bjorck", "shampoo", "shampoo Bjorck-curve", vars.p, vars.n, data.p, data.n, NULL);
    if (!rc && !quiet) {
        char d[256];
        clean(d, sizeof d, dir);
        cli_note("wrote %s/shampoo-bjorck.png, .pdf and .dat", d);
    }
    free(data.p); free(vars.p);
    return rc;
}

/* scheme names without parentheses and commas, '_' as '+', any case: "UB+OR" == "(U,B)+OR" */
static int scheme_eq(const char *user, const char *label)
{
    char a[32], b[32];
    size_t k = 0;
    for (const char *s = user; *s && k + 1 < sizeof a; s++) if (*s != '(' && *s != ')' && *s != ',') a[k++] = *s == '_' ? '+' : *s;
    a[k] = 0;
    k = 0;
    for (const char *s = label; *s && k + 1 < sizeof b; s++) if (*s != '(' && *s != ')' && *s != ',') b[k++] = *s;
    b[k] = 0;
    return strcasecmp(a, b) == 0;
}

/* ---- main ------------------------------------------------------------------------------------------ */
static int parse_list(const char *cmd, const char *opt, const char *val, char out[][32], int max, int *n)
{
    char buf[512];
    *n = 0;
    if (strlen(val) >= sizeof buf) return cli_usage_error(cmd, "%s: list too long", opt);
    snprintf(buf, sizeof buf, "%s", val);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n == max) return cli_usage_error(cmd, "%s: at most %d entries", opt, max);
        if (strlen(tok) >= 32 || !*tok) return cli_usage_error(cmd, "%s: bad entry '%s'", opt, tok);
        snprintf(out[(*n)++], 32, "%s", tok);
    }
    if (*n == 0) return cli_usage_error(cmd, "%s: empty list", opt);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int make_plan(const char *map, int bits, long long block, struct lbq_qplan *p)
{
    char spec[320];
    struct lbq_qspec s;
    struct lbq_qdefaults d;
    lbq_qdefaults_init(&d);
    d.bits = bits;
    d.bits_set = 1;
    d.block = block;
    snprintf(spec, sizeof spec, "block%lld-%s:b%d", block, map, bits);
    int rc = lbq_qspec_parse(spec, &d, &s);
    if (rc) return rc;
    if (!(s.map->sign_ok & LBQ_SIGNED_OK)) return lbq_err(LBQ_ERR_ARG, "--maps: '%s' has no signed form", map);
    return lbq_qplan_init(p, &s, LBQ_ROLE_M, 2);
}

int cmd_shampoo(int argc, char **argv)
{
    const char *C = "shampoo";
    struct cli_parser p = { C, opts, argc, argv, 1, {0}, 0 };
    const char *val, *synthetic = NULL, *dataset = NULL, *grads = NULL, *json_out = NULL, *tsv_out = NULL, *plot_dir = NULL;
    long long order = 1200, seed = 0, block = 64, block8 = 256, bj = 1, bjmax = 4, side = 0;
    double cond = 500, frac = 0.5, eps = 1e-6, ridge = NAN;
    char maps[MAX_MAPS][32], bitsl[MAX_BITS][32];
    int nmaps = 2, nbits = 3, id, quiet = 0;
    unsigned schemes = 0;
    int neg = LBQ_SH_NEG_ABS;
    snprintf(maps[0], 32, "linsq"); snprintf(maps[1], 32, "dtree");
    snprintf(bitsl[0], 32, "3"); snprintf(bitsl[1], 32, "4"); snprintf(bitsl[2], 32, "8");
    int set_order = 0, set_cond = 0, set_frac = 0, set_seed = 0, set_side = 0, set_bjmax = 0;
    while ((id = cli_next(&p, &val)) != 0) {
        if (id < 0) return LBQ_EXIT_USAGE;
        if (id == 'h') return cli_help(C);
        switch (id) {
        case O_SYN: synthetic = val; break;
        case O_ORDER: if (cli_int(C, "--order", val, 2, LBQ_SH_MAX_ORDER, &order)) return LBQ_EXIT_USAGE; set_order = 1; break;
        case O_COND: if (cli_double(C, "--cond", val, 1.0, 1e300, &cond)) return LBQ_EXIT_USAGE; set_cond = 1; break;
        case O_FRAC: if (cli_double(C, "--small-frac", val, 0.0, 1.0, &frac)) return LBQ_EXIT_USAGE; set_frac = 1; break;
        case O_SEED: if (cli_int(C, "--seed", val, 0, 0x7fffffffffffffffLL, &seed)) return LBQ_EXIT_USAGE; set_seed = 1; break;
        case O_DATASET: dataset = val; break;
        case O_GRADS: grads = val; break;
        case O_SIDE:
            if (strcmp(val, "left") == 0 || strcmp(val, "L") == 0) side = 0;
            else if (strcmp(val, "right") == 0 || strcmp(val, "R") == 0) side = 1;
            else return cli_usage_error(C, "--side: '%s' is not left or right", val);
            set_side = 1;
            break;
        case O_RIDGE: if (cli_double(C, "--ridge", val, 0.0, 1e300, &ridge)) return LBQ_EXIT_USAGE; break;
        case O_MAPS: if (parse_list(C, "--maps", val, maps, MAX_MAPS, &nmaps)) return LBQ_EXIT_USAGE; break;
        case O_BITS: if (parse_list(C, "--bits", val, bitsl, MAX_BITS, &nbits)) return LBQ_EXIT_USAGE; break;
        case O_BLOCK: if (cli_int(C, "--block", val, 1, 1 << 30, &block)) return LBQ_EXIT_USAGE; break;
        case O_BLOCK8: if (cli_int(C, "--block-8bit", val, 0, 1 << 30, &block8)) return LBQ_EXIT_USAGE; break;
        case O_EPS: if (cli_double(C, "--eps", val, 0.0, 1.0, &eps)) return LBQ_EXIT_USAGE; break;
        case O_BJ: if (cli_int(C, "--bjorck", val, 0, LBQ_SH_MAX_BJORCK, &bj)) return LBQ_EXIT_USAGE; break;
        case O_BJMAX: if (cli_int(C, "--bjorck-max", val, 0, LBQ_SH_MAX_BJORCK, &bjmax)) return LBQ_EXIT_USAGE; set_bjmax = 1; break;
        case O_SCHEMES: {
            char sl[LBQ_SH_NSCHEMES * 2][32];
            int ns;
            if (parse_list(C, "--schemes", val, sl, LBQ_SH_NSCHEMES * 2, &ns)) return LBQ_EXIT_USAGE;
            schemes = 0;
            for (int i = 0; i < ns; i++) {
                int found = -1;
                for (int s = 0; s < LBQ_SH_NSCHEMES; s++)
                    if (scheme_eq(sl[i], lbq_sh_scheme_name(s))) found = s;
                if (found < 0) return cli_usage_error(C, "--schemes: unknown scheme '%s' (A, U, U+OR, B, AB, UB, UB+OR)", sl[i]);
                schemes |= 1u << found;
            }
            break;
        }
        case O_NEG:
            if (strcmp(val, "abs") == 0) neg = LBQ_SH_NEG_ABS;
            else if (strcmp(val, "clamp") == 0) neg = LBQ_SH_NEG_CLAMP;
            else return cli_usage_error(C, "--negative: '%s' is not abs or clamp", val);
            break;
        case O_JSON: json_out = val; break;
        case O_TSV: tsv_out = val; break;
        case O_PLOT: plot_dir = val; break;
        case O_QUIET: quiet = 1; g_cli_quiet = 1; break;
        default: break;
        }
    }
    /* input selection */
    int ninputs = (synthetic != NULL) + (dataset != NULL) + (grads != NULL);
    if (ninputs == 0) return cli_usage_error(C, "say what to analyze: --synthetic a2, FILE --dataset PATH or FILE --from-grads PARAM");
    if (ninputs > 1) return cli_usage_error(C, "--synthetic, --dataset and --from-grads exclude each other");
    if (synthetic) {
        if (strcmp(synthetic, "a2") != 0 && strcmp(synthetic, "A2") != 0) return cli_usage_error(C, "--synthetic: '%s' is not a known matrix (only a2)", synthetic);
        if (p.npos) return cli_usage_error(C, "--synthetic takes no FILE (got '%s')", p.positional[0]);
    } else {
        if (p.npos == 0) return cli_usage_error(C, "%s needs a FILE", dataset ? "--dataset" : "--from-grads");
        if (p.npos > 1) return cli_usage_error(C, "unexpected argument '%s'", p.positional[1]);
        if (set_order || set_cond || set_frac || set_seed) return cli_usage_error(C, "--order, --cond, --small-frac and --seed are for --synthetic");
    }
    if (set_side && !grads) return cli_usage_error(C, "--side is for --from-grads");
    if (!isnan(ridge) && !grads) return cli_usage_error(C, "--ridge is for --from-grads");
    /* --schemes without a U-based scheme: no Bjorck curve unless asked for */
    const unsigned ubits = (1u << LBQ_SH_U) | (1u << LBQ_SH_U_OR) | (1u << LBQ_SH_UB) | (1u << LBQ_SH_UB_OR);
    if (schemes && !(schemes & ubits) && !set_bjmax) bjmax = 0;
    if (bjmax > 0 && bjmax < bj) bjmax = bj;
    if ((plot_dir || tsv_out) && bjmax == 0) return cli_usage_error(C, "--plot and --tsv draw the Bjorck curve: they need --bjorck-max >= 1");
    if (cli_check_output("--json", json_out, p.npos ? p.positional[0] : NULL, CLI_OUT_TEXT) ||
        cli_check_output("--tsv", tsv_out, p.npos ? p.positional[0] : NULL, CLI_OUT_TEXT) ||
        cli_check_outdir("--plot", plot_dir, p.npos ? p.positional[0] : NULL)) return LBQ_EXIT_OUTPUT;

    /* configurations: each bitwidth at --block, then 8 bits at --block-8bit */
    struct lbq_qplan plans[MAX_CFG];
    int ncfg = 0, rc = LBQ_OK, exitc = 0;
    int bitsv[MAX_BITS];
    for (int b = 0; b < nbits; b++) {
        long long v;
        if (cli_int(C, "--bits", bitsl[b], 1, 8, &v)) return LBQ_EXIT_USAGE;
        bitsv[b] = (int)v;
    }
    for (int b = 0; b < nbits; b++)
        for (int m = 0; m < nmaps; m++)
            if ((rc = make_plan(maps[m], bitsv[b], block, &plans[ncfg++]))) return cli_fail(rc);
    if (block8 > 0 && block8 != block)
        for (int m = 0; m < nmaps; m++)
            if ((rc = make_plan(maps[m], 8, block8, &plans[ncfg++]))) return cli_fail(rc);

    struct lbq_sh_opts o;
    lbq_sh_opts_init(&o);
    o.eps = eps; o.bjorck = (int)bj; o.bjorck_max = (int)bjmax; o.schemes = schemes; o.neg_policy = neg;

    /* the matrix */
    struct input_desc in;
    memset(&in, 0, sizeof in);
    struct lbq_sh_mat mat;
    memset(&mat, 0, sizeof mat);
    double t0 = now_s();
    struct lbq_file *f = NULL;
    double *fref = NULL;
    struct lbq_sh_result *res = NULL;
    cJSON *root = NULL;
    if (synthetic) {
        snprintf(in.kind, sizeof in.kind, "synthetic-a2");
        in.order = (int)order; in.cond = cond; in.small_frac = frac; in.seed = (uint64_t)seed;
        in.n_small = (int)floor(frac * (double)order + 0.5);
        snprintf(in.text, sizeof in.text, "synthetic A2, order %lld, cond %g (%d eigenvalues lambda_max/cond, %lld lambda_max), seed %lld",
                 order, cond, in.n_small, order - in.n_small, seed);
        rc = lbq_sh_synthetic_a2((int)order, cond, 1.0, in.n_small, (uint64_t)seed, &mat);
    } else if (dataset) {
        snprintf(in.kind, sizeof in.kind, "dataset");
        in.file = p.positional[0]; in.dataset = dataset;
        snprintf(in.text, sizeof in.text, "%s:%s", in.file, dataset);
        cli_guard_file(in.file);
        rc = lbq_sh_read_h5(in.file, dataset, &mat);
    } else {
        snprintf(in.kind, sizeof in.kind, "grads");
        in.file = p.positional[0]; in.param = grads; in.side = (int)side;
        in.ridge = isnan(ridge) ? eps : ridge;
        cli_guard_file(in.file);
        rc = lbq_file_open(in.file, NULL, &f);
        if (rc == LBQ_OK) {
            int pi = -1;
            for (int i = 0; i < lbq_file_nparams(f); i++) if (strcmp(lbq_file_param(f, i)->name, grads) == 0) pi = i;
            if (pi < 0) {
                char list[1024] = "";
                for (int i = 0; i < lbq_file_nparams(f); i++) {
                    const struct lbq_param_info *pp = lbq_file_param(f, i);
                    if (!pp->has[LBQ_DS_GRADS]) continue;
                    size_t l = strlen(list);
                    snprintf(list + l, sizeof list - l, "%s%s", l ? ", " : "", pp->name);
                }
                rc = lbq_err(LBQ_ERR_ARG, "%s: no parameter '%s' (parameters with grads: %s)", in.file, grads, list[0] ? list : "none");
            } else {
                in.grads_T = lbq_file_param(f, pi)->grads_T;
                rc = lbq_sh_from_grads(f, pi, (int)side, in.ridge, &mat);
                snprintf(in.text, sizeof in.text, "%s: %s of %s, %lld steps + %g*I", in.file,
                         side ? "R = sum G^T G" : "L = sum G G^T", grads, (long long)in.grads_T, in.ridge);
            }
        }
    }
    if (rc) goto cleanup;
    if (mat.nclamped && !quiet) cli_note("%d eigenvalues in [-%g*lambda_max, 0) clamped to 0 (rounding noise)", mat.nclamped, LBQ_SH_PSD_TOL);

    int n = mat.n;
    double wmin = mat.w[0], wmax = mat.w[0];
    for (int i = 0; i < n; i++) { if (mat.w[i] < wmin) wmin = mat.w[i]; if (mat.w[i] > wmax) wmax = mat.w[i]; }
    printf("lbq shampoo: %s\n", in.text);
    printf("order %d, lambda_max %.4g, lambda_min %.4g, cond %.4g; f(A) = (A + %g*lambda_max*I)^(-1/4); OR = %lld Bjorck step%s\n",
           n, wmax, wmin, wmin > 0 ? wmax / wmin : INFINITY, eps, bj, bj == 1 ? "" : "s");

    double q[5];
    if ((rc = eig_quantiles(&mat, q))) goto cleanup;
    printf("eigenvalues: min %.4g, 10%% %.4g, median %.4g, 90%% %.4g, max %.4g\n", q[0], q[1], q[2], q[3], q[4]);

    if (!(fref = malloc(sizeof(double) * (size_t)n * (size_t)n))) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
    if ((rc = lbq_sh_reference(&mat, eps, fref))) goto cleanup;
    if (!(res = calloc((size_t)ncfg, sizeof *res))) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
    for (int k = 0; k < ncfg; k++) {
        if ((rc = lbq_sh_run(&mat, fref, &plans[k], &o, &res[k]))) goto cleanup;
        if (!quiet) cli_note("shampoo: %s (%d/%d) %.1f s", res[k].spec, k + 1, ncfg, res[k].seconds);
    }
    int paper_matrix = synthetic ? 2 : 1;
    print_tables(res, ncfg, paper_matrix, &o);
    double total = now_s() - t0;

    if (json_out) {
        root = build_json(&in, &mat, &o, res, ncfg, paper_matrix, total);
        if ((rc = lbq_json_write(json_out, root))) goto cleanup;
    }
    char title[LBQ_NAME_MAX + 200];
    {
        const char *base = in.file ? strrchr(in.file, '/') : NULL;
        base = base ? base + 1 : in.file;
        if (synthetic) snprintf(title, sizeof title, "Bjorck steps on quantized U, block %lld: synthetic A2, order %d, cond %g", block, n, cond);
        else if (dataset) snprintf(title, sizeof title, "Bjorck steps on quantized U, block %lld: %s:%s (order %d)", block, base, dataset, n);
        else snprintf(title, sizeof title, "Bjorck steps on quantized U, block %lld: %s of %s in %s (order %d)", block, side ? "R" : "L", grads, base, n);
    }
    if (tsv_out) {
        struct sbuf data = { 0 }, vars = { 0 };
        fig_data(res, ncfg, block, title, &data, &vars);
        rc = (data.oom || vars.oom) ? lbq_err(LBQ_ERR_NOMEM, "out of memory") : lbq_write_atomic(tsv_out, data.p ? data.p : "", data.n);
        free(data.p); free(vars.p);
        if (rc) goto cleanup;
    }
    if (plot_dir && (rc = make_plot(plot_dir, res, ncfg, block, title, quiet))) goto cleanup;

cleanup:
    if (rc) exitc = cli_fail(rc);
    cJSON_Delete(root);
    free(res);
    free(fref);
    lbq_sh_mat_free(&mat);
    lbq_file_close(f);
    return exitc;
}
