/* cmd-sweep.c - `lbq sweep`: maps x normalizations x bitwidths x block sizes over a moment file,
 * reading each tensor once, with results.json, results.tsv and the paper-style figures. */
#include "cli.h"
#include "lbq-report.h"
#include "lbq-sim.h"
#include "lbq-mpi.h"
#include "plot.h"
#include "sweep-grid.h"

#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char lbq_usage_sweep[] =
"usage: lbq sweep FILE -o DIR [--map LIST] [--norm LIST] [--bits LIST] [--block LIST] [--state m|v|both]\n"
"                 [--quiet] [--no-plot] [--no-swamp] [--resume] [--tensor GLOB] [--mem-limit SIZE]\n"
"                 [--m-name PAT] [--v-name PAT] [--checkpoint N] [--device auto|cpu|cuda|twin]\n"
"\n"
"Evaluate every combination map x normalization x bitwidth (x block size for 'block') on every\n"
"parameter and write DIR/results.json (schema lbq.sweep/3, docs/schema.md), DIR/results.tsv (one row\n"
"per config x parameter plus a TOTAL row per config) and the figures (docs/figures.md) as PNG and PDF.\n"
"Each tensor is read once per sweep (twice only when it exceeds --mem-limit and a config needs\n"
"tensor-wide statistics).  Combinations a map does not support are skipped (log: block only and\n"
"unsigned, so with --state both its m stays fp32).\n"
"\n"
"  --map LIST     default dtree,dtree0,linear,linsq,log,uniform\n"
"  --norm LIST    default block,rank1 (also tensor, row, col)\n"
"  --bits LIST    e.g. 2-8 (default) or 2,4,8\n"
"  --block LIST   default 32,64,128,256,512,2048\n"
"  --state S      which states are quantized: m, v or both (default both; the other stays fp32)\n"
"  --round/--seed/--quantile   as in 'lbq analyze --help' (also used by the swamping runs)\n"
"  --tensor GLOB, --mem-limit SIZE, --m-name/--v-name PAT, --device D   as in 'lbq analyze --help'\n"
"                 (--device auto: the GPU only when one is present and passes its self-check)\n"
"  -o, --output DIR   output directory (created with its parents if missing)\n"
"  --no-plot      skip the figures ('lbq plot DIR/results.json -o DIR' makes them later)\n"
"  --no-swamp     skip SOLO's synthetic swamping runs (figure 4)\n"
"  --resume       keep the configs already in DIR/results.json and evaluate only the missing ones\n"
"  --checkpoint N evaluate N configurations at a time and save the results after each batch, so an\n"
"                 interrupted sweep (Ctrl-C) keeps them for --resume; each tensor is then read once\n"
"                 per batch (default: one batch, one read)\n"
"  -q, --quiet    no progress bar or notices (the bar is shown only when stderr is a terminal)\n";

enum { O_OUT = 1, O_MAP, O_NORM, O_BITS, O_BLOCK, O_STATE, O_QUIET, O_NOPLOT, O_NOSWAMP, O_RESUME, O_TENSOR, O_MEM,
       O_ROUND, O_SEED, O_QUANTILE, O_MNAME, O_VNAME, O_CHECKPOINT, O_DEVICE };
static const struct cli_opt opts[] = {
    { "output", 1, O_OUT }, { "map", 1, O_MAP }, { "norm", 1, O_NORM }, { "bits", 1, O_BITS }, { "block", 1, O_BLOCK },
    { "state", 1, O_STATE }, { "quiet", 0, O_QUIET }, { "no-plot", 0, O_NOPLOT }, { "no-swamp", 0, O_NOSWAMP },
    { "resume", 0, O_RESUME }, { "tensor", 1, O_TENSOR }, { "mem-limit", 1, O_MEM }, { "round", 1, O_ROUND },
    { "seed", 1, O_SEED }, { "quantile", 1, O_QUANTILE }, { "m-name", 1, O_MNAME }, { "v-name", 1, O_VNAME }, { "device", 1, O_DEVICE },
    { "checkpoint", 1, O_CHECKPOINT }, { 0, 0, 0 },
};

static volatile sig_atomic_t g_interrupted = 0;
static void on_sigint(int sig) { (void)sig; g_interrupted = 1; }

#define MAX_LIST 64
struct sweep_axes {
    const struct lbq_map  *maps[MAX_LIST];  int nmaps;
    const struct lbq_norm *norms[MAX_LIST]; int nnorms;
    int     bits[MAX_LIST];  int nbits;
    int64_t blocks[MAX_LIST]; int nblocks;
    int     state;           /* 0 m, 1 v, 2 both */
};

static int parse_int_list(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out, int *n)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    *n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *dash = strchr(tok + 1, '-');
        long long a, b;
        if (dash) {
            *dash = 0;
            if (cli_int(cmd, opt, tok, lo, hi, &a) || cli_int(cmd, opt, dash + 1, lo, hi, &b)) return -1;
            if (b < a) { cli_usage_error(cmd, "%s: empty range %lld-%lld", opt, a, b); return -1; }
        } else {
            if (cli_int(cmd, opt, tok, lo, hi, &a)) return -1;
            b = a;
        }
        for (long long v = a; v <= b; v++) {
            int dup = 0;
            for (int k = 0; k < *n; k++) dup |= out[k] == v;       /* repeated values count once */
            if (dup) continue;
            if (*n == MAX_LIST) { cli_usage_error(cmd, "%s: more than %d values", opt, MAX_LIST); return -1; }
            out[(*n)++] = v;
        }
    }
    if (*n == 0) { cli_usage_error(cmd, "%s: empty list", opt); return -1; }
    return 0;
}

struct sweep_conf {
    struct lbq_config c;
    const struct lbq_map *map;
    const struct lbq_norm *norm;
    int bits;
    int64_t block;
    int done;               /* loaded from a previous results.json (--resume) */
    int evaluated;          /* evaluated in this run */
};

static int build_configs(const struct sweep_axes *ax, const struct lbq_qdefaults *d0, struct sweep_conf **out, int *nout)
{
    int cap = ax->nmaps * ax->nnorms * ax->nbits * (ax->nblocks + 1) + 1, n = 0;
    if (cap > 100000) return lbq_err(LBQ_ERR_ARG, "sweep: %d configurations is more than 100000; narrow --map/--norm/--bits/--block", cap);
    struct sweep_conf *cs = calloc((size_t)cap, sizeof *cs);
    if (!cs) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    for (int mi = 0; mi < ax->nmaps; mi++)
        for (int ni = 0; ni < ax->nnorms; ni++)
            for (int bi = 0; bi < ax->nbits; bi++) {
                const struct lbq_norm *nm = ax->norms[ni];
                int nbl = nm->blockwise ? ax->nblocks : 1;
                for (int ki = 0; ki < nbl; ki++) {
                    struct lbq_qdefaults d = *d0;
                    d.bits = ax->bits[bi]; d.bits_set = 0;
                    int64_t blk = nm->blockwise ? ax->blocks[ki] : 0;
                    if (blk) d.block = blk;
                    char spec[128];
                    snprintf(spec, sizeof spec, "%s-%s", nm->name, ax->maps[mi]->name);
                    struct lbq_qspec s;
                    if (!lbq_qspec_supported(spec, &d, &s)) continue;          /* unsupported combination */
                    if (ax->maps[mi]->fixed_bits && ax->bits[bi] != ax->maps[mi]->fixed_bits) continue;
                    struct sweep_conf *c = &cs[n];
                    c->map = ax->maps[mi]; c->norm = nm; c->bits = s.bits; c->block = blk;
                    struct lbq_qplan tp;
                    int m_ok = (ax->state != 1) && lbq_qplan_supported(&tp, &s, LBQ_ROLE_M, 2);
                    int v_ok = (ax->state != 0) && lbq_qplan_supported(&tp, &s, LBQ_ROLE_V, 2);
                    if (!m_ok && !v_ok) continue;
                    c->c.m = s; c->c.v = s;
                    c->c.has_m = m_ok; c->c.has_v = v_ok;
                    snprintf(c->c.label, sizeof c->c.label, "%s", s.text);
                    n++;
                }
            }
    *out = cs; *nout = n;
    return LBQ_OK;
}

static int g_bar_open;          /* a progress bar line is on stderr without its newline */

/* the bar; the ETA shows "--" until 2% of the work and 1 s have passed (earlier estimates swing) */
static void progress(int quiet, double frac, double elapsed, const char *what)
{
    if (quiet || !isatty(2) || lbq_mpi_size() > 1) return;     /* MPI: no bar (rank 0 sees its share only) */
    int w = 30, f = (int)(frac * w + 0.5);
    char eta[16];
    if (frac >= 0.02 && elapsed >= 1.0) snprintf(eta, sizeof eta, "%4.0fs", elapsed * (1.0 - frac) / frac);
    else snprintf(eta, sizeof eta, "  --");
    fprintf(stderr, "\r[%.*s%*s] %5.1f%% ETA %s %-40.40s", f, "##############################", w - f, "", 100.0 * frac, eta, what);
    g_bar_open = 1;
    if (frac >= 1.0) { fputc('\n', stderr); g_bar_open = 0; }
}

/* end the bar's line before any other message (an error, an interrupt) */
static void progress_end(void)
{
    if (g_bar_open) { fputc('\n', stderr); g_bar_open = 0; }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* the rows of one configuration (struct lbq_param_row, src/report.c): rendered into results.json
 * and results.tsv at each write */
struct rowlist { struct lbq_param_row *r; int n, cap; };

static int rows_push(struct rowlist *l, const struct lbq_param_row *r)
{
    if (l->n == l->cap) {
        int nc = l->cap ? 2 * l->cap : 16;
        struct lbq_param_row *p = realloc(l->r, sizeof *p * (size_t)nc);
        if (!p) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
        l->r = p; l->cap = nc;
    }
    l->r[l->n++] = *r;
    return LBQ_OK;
}

static void tsv_append(char **buf, size_t *len, size_t *cap, const char *line, int n)
{
    if (n < 0) return;
    if (*len + (size_t)n + 1 > *cap) {
        size_t nc = (*cap ? *cap * 2 : 65536) + (size_t)n;
        char *nb = realloc(*buf, nc);
        if (!nb) return;
        *buf = nb; *cap = nc;
    }
    memcpy(*buf + *len, line, (size_t)n + 1);
    *len += (size_t)n;
}

/* one results.tsv line of configuration c */
static void tsv_line(char **buf, size_t *len, size_t *cap, const struct sweep_conf *c, const struct lbq_param_row *r, int as_stored)
{
    char prefix[1024], line[2048];
    snprintf(prefix, sizeof prefix, "%s\t%s\t%s\t%d\t%lld\t%s", c->c.label, c->map->name, c->norm->name, c->bits, (long long)c->block,
             c->c.has_m ? (c->c.has_v ? "both" : "m") : "v");
    int n = lbq_param_row_tsv(line, sizeof line, prefix, r, as_stored);
    if (n >= (int)sizeof line) n = (int)sizeof line - 1;
    tsv_append(buf, len, cap, line, n);
}

/* Heatmap of |m| for the parameter with the strongest row/column outlier structure, gathered from
 * the evaluation pass's slabs (no extra read): per parameter of 2 or more dimensions (N-D as
 * dim[0] rows x the other dims flattened), row and column maxima and a max-pooled grid of at most
 * 128 x 128 cells. */
static struct lbq_file *g_sweep_file;

struct heat {
    int      np;
    float  **rowmax, **colmax, **grid;
    int64_t *pr, *pc, *gr, *gc;
};

static void heat_cb(void *ud, int p, int64_t off, int64_t n, const float *m, const float *v)
{
    (void)v;
    struct heat *h = ud;
    const struct lbq_param_info *pi = lbq_file_param(g_sweep_file, p);
    /* an N-D tensor (N >= 2) as a matrix of dim[0] rows x (the other dims, flattened) columns, the
     * row-major order of the file: a conv weight [out, in, kh, kw] is out x (in*kh*kw) */
    if (pi->shape.rank < 2 || pi->shape.dim[0] <= 0) return;
    int64_t R = pi->shape.dim[0], C = pi->shape.numel / pi->shape.dim[0];
    if (!h->rowmax[p]) {
        h->pr[p] = (R + 127) / 128; h->pc[p] = (C + 127) / 128;
        h->gr[p] = (R + h->pr[p] - 1) / h->pr[p]; h->gc[p] = (C + h->pc[p] - 1) / h->pc[p];
        h->rowmax[p] = calloc((size_t)R, sizeof(float));
        h->colmax[p] = calloc((size_t)C, sizeof(float));
        h->grid[p] = calloc((size_t)(h->gr[p] * h->gc[p]), sizeof(float));
        if (!h->rowmax[p] || !h->colmax[p] || !h->grid[p]) return;
    }
    if (!h->grid[p]) return;
    for (int64_t k = 0; k < n; k++) {
        float a = fabsf(m[k]);
        if (!isfinite(a)) continue;
        int64_t i = (off + k) / C, j = (off + k) % C;
        if (a > h->rowmax[p][i]) h->rowmax[p][i] = a;
        if (a > h->colmax[p][j]) h->colmax[p][j] = a;
        float *g = &h->grid[p][(i / h->pr[p]) * h->gc[p] + j / h->pc[p]];
        if (a > *g) *g = a;
    }
}

static cJSON *heatmap_json(struct lbq_file *f, const struct heat *h)
{
    int best = -1;
    double best_ratio = 0;
    for (int i = 0; i < lbq_file_nparams(f); i++) {
        if (!h->grid[i]) continue;
        const struct lbq_param_info *pi = lbq_file_param(f, i);
        double r = lbq_max_over_nonzero_median(h->rowmax[i], pi->shape.dim[0]), c = lbq_max_over_nonzero_median(h->colmax[i], pi->shape.numel / pi->shape.dim[0]);
        if (r > best_ratio) { best_ratio = r; best = i; }
        if (c > best_ratio) { best_ratio = c; best = i; }
    }
    if (best < 0) return cJSON_CreateNull();
    const struct lbq_param_info *pi = lbq_file_param(f, best);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "param", pi->name);
    cJSON_AddStringToObject(o, "state", "m");
    cJSON_AddNumberToObject(o, "rows", (double)pi->shape.dim[0]);
    cJSON_AddNumberToObject(o, "cols", (double)(pi->shape.numel / pi->shape.dim[0]));
    cJSON *shp = cJSON_AddArrayToObject(o, "shape");
    for (int d = 0; d < pi->shape.rank; d++) cJSON_AddItemToArray(shp, cJSON_CreateNumber((double)pi->shape.dim[d]));
    cJSON_AddNumberToObject(o, "pool_rows", (double)h->pr[best]);
    cJSON_AddNumberToObject(o, "pool_cols", (double)h->pc[best]);
    lbq_json_add_num(o, "max_over_median", best_ratio);
    cJSON *vals = cJSON_AddArrayToObject(o, "values");
    for (int64_t i = 0; i < h->gr[best]; i++) {
        cJSON *row = cJSON_CreateArray();
        for (int64_t j = 0; j < h->gc[best]; j++) cJSON_AddItemToArray(row, cJSON_CreateNumber(h->grid[best][i * h->gc[best] + j]));
        cJSON_AddItemToArray(vals, row);
    }
    return o;
}

static cJSON *codebooks_json(int bits)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "bits", bits);
    cJSON *a = cJSON_AddArrayToObject(o, "maps");
    for (int i = 0; i < lbq_map_count(); i++) {
        const struct lbq_map *m = lbq_map_at(i);
        if (!lbq_map_fixed_table(m)) continue;
        cJSON *mo = cJSON_CreateObject();
        cJSON_AddStringToObject(mo, "name", m->name);
        for (int sg = 1; sg >= 0; sg--) {
            struct lbq_qdefaults d;
            lbq_qdefaults_init(&d);
            d.bits = bits;
            char spec[64];
            snprintf(spec, sizeof spec, "tensor-%s", m->name);
            struct lbq_qspec s;
            struct lbq_qplan p;
            if (!lbq_qspec_supported(spec, &d, &s) || !lbq_qplan_supported(&p, &s, sg ? LBQ_ROLE_M : LBQ_ROLE_V, 2)) { cJSON_AddNullToObject(mo, sg ? "signed" : "unsigned"); continue; }
            cJSON *lv = cJSON_AddArrayToObject(mo, sg ? "signed" : "unsigned");
            for (int k = 0; k < p.nlev; k++) cJSON_AddItemToArray(lv, cJSON_CreateNumber(p.q[k]));
        }
        cJSON_AddItemToArray(a, mo);
    }
    /* maps without a fixed codebook (the log map, SOLO): levels alpha^k * max, alpha = xp^(1/N), depend on
     * each block's p-quantile xp (relative to the block max); shown for one example block, xp = 1e-3 */
    for (int i = 0; i < lbq_map_count() && bits >= 1 && bits <= 8; i++) {
        const struct lbq_map *m = lbq_map_at(i);
        float lev[256];
        int nl = lbq_map_example_levels(m, bits, 1e-3f, lev);
        if (nl <= 0) continue;
        cJSON *mo = cJSON_CreateObject();
        cJSON_AddStringToObject(mo, "name", m->name);
        cJSON_AddNumberToObject(mo, "example_xp", 1e-3);
        cJSON_AddNullToObject(mo, "signed");
        cJSON *lv = cJSON_AddArrayToObject(mo, "unsigned");
        for (int k = 0; k < nl; k++) cJSON_AddItemToArray(lv, cJSON_CreateNumber(lev[k]));
        cJSON_AddItemToArray(a, mo);
    }
    return o;
}

/* SOLO's synthetic case study for figure 4: final state vs beta for uniform, dtree and log(SR) */
static int swamping_json(const struct sweep_axes *ax, const struct lbq_qdefaults *d, cJSON **out)
{
    cJSON *o = cJSON_CreateObject();
    struct lbq_sim_opts so;
    lbq_sim_opts_init(&so);
    so.steps = 100; so.size = 1000; so.start = 1.0; so.every = 100; so.seed = d->seed;
    cJSON_AddNumberToObject(o, "steps", so.steps);
    cJSON_AddNumberToObject(o, "size", (double)so.size);
    cJSON_AddNumberToObject(o, "start", so.start);
    cJSON *runs = cJSON_AddArrayToObject(o, "runs");
    /* the maps of the study (map slot `swamp`) in its order, where the sweep's --map has them */
    const struct lbq_map *maps[16];
    int nsw = 0;
    for (int ord = 1; ord <= lbq_map_count() && nsw < 16; ord++)
        for (int i = 0; i < lbq_map_count(); i++)
            if (lbq_map_at(i)->swamp.order == ord && nsw < 16) maps[nsw++] = lbq_map_at(i);
    int bitsv[] = { 2, 3, 4 };
    for (int mi = 0; mi < nsw; mi++) {
        int wanted = 0;
        for (int k = 0; k < ax->nmaps; k++) if (ax->maps[k] == maps[mi]) wanted = 1;
        if (!wanted) continue;
        for (int bi = 0; bi < 3; bi++) {
            char spec[64];
            snprintf(spec, sizeof spec, "block128-%s:b%d%s", maps[mi]->name, bitsv[bi], maps[mi]->swamp.sr ? ":sr" : "");
            struct lbq_config c;
            memset(&c, 0, sizeof c);
            int rc = lbq_qspec_parse(spec, d, &c.v);
            if (rc) { cJSON_Delete(o); return rc; }
            c.has_v = 1;
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "map", maps[mi]->name);
            cJSON_AddNumberToObject(r, "bits", bitsv[bi]);
            cJSON_AddStringToObject(r, "spec", c.v.text);
            cJSON *b = cJSON_AddArrayToObject(r, "beta"), *fm = cJSON_AddArrayToObject(r, "final_mean"), *f32 = cJSON_AddArrayToObject(r, "final_mean_fp32");
            for (int k = 0; k <= 19; k++) {
                double beta = 0.80 + 0.01 * k;
                struct lbq_sim_result res;
                rc = lbq_simulate_synthetic(&c, beta, &so, &res);
                if (rc) { cJSON_Delete(r); cJSON_Delete(o); return rc; }
                cJSON_AddItemToArray(b, cJSON_CreateNumber(beta));
                cJSON_AddItemToArray(fm, lbq_json_num(res.final_mean));
                cJSON_AddItemToArray(f32, lbq_json_num(res.final_mean_fp32));
                lbq_sim_result_free(&res);
            }
            cJSON_AddItemToArray(runs, r);
        }
    }
    *out = o;
    return LBQ_OK;
}


struct sweep_out {
    const struct sweep_axes *ax;
    const struct lbq_qdefaults *d;
    struct sweep_conf *cs;
    int nconf;
    const cJSON *prev;
    struct lbq_acc *tot;
    struct rowlist *rows;
    double *el, *bm, *bv;
    struct lbq_file *f;
    const struct heat *heat;
    int unused;
    int noswamp;
    const char *dir;
    double t0;
    int64_t total_el;
    int64_t reads_other[2];     /* MPI: elements of m and v read by the other ranks (so far) */
};

/* Write DIR/results.json and DIR/results.tsv with every configuration carried over (--resume) or
 * evaluated so far.  `final` adds the swamping runs.  *out receives the JSON root (caller frees). */
static int write_results(const struct sweep_out *so, int final, cJSON **out)
{
    int rc = LBQ_OK;
    char path[4096];
    static const char tsv_head[] = "config\tmap\tnorm\tbits\tblock\tstates\tparam\tnumel\tm_rel_l2\tv_rel_l2\tv_zero_collapse\tupdate_rel_l2\tupdate_cosine\tupdate_blowup_frac\tbits_per_elem_m\tbits_per_elem_v\tv_solo_zero_blocks\tv_solo_tiny_blocks\tv_solo_zero_quantile_blocks"
                                   "\tm_zero_kept\tm_zero_lifted\tm_nonzero_collapsed\tm_lifted_uh_share"
                                   "\tv_zero_kept\tv_zero_lifted\tv_nonzero_collapsed\tv_lifted_uh_share\n";
    size_t tsv_cap = sizeof tsv_head + 65536, tsv_len = sizeof tsv_head - 1;
    char *tsv = malloc(tsv_cap);
    cJSON *root = cJSON_CreateObject();
    *out = NULL;
    if (!tsv || !root) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
    memcpy(tsv, tsv_head, sizeof tsv_head);
    const struct sweep_axes *ax = so->ax;
    struct lbq_file *f = so->f;
    cJSON_AddStringToObject(root, "schema", "lbq.sweep");
    cJSON_AddNumberToObject(root, "schema_version", 3);
    cJSON_AddStringToObject(root, "lbq_version", LBQ_VERSION_STRING);
    cJSON_AddStringToObject(root, "file", lbq_file_path(f));
    cJSON_AddItemToObject(root, "hparams", lbq_hparams_json(f));
    cJSON *axj = cJSON_AddObjectToObject(root, "axes");
    cJSON *a1 = cJSON_AddArrayToObject(axj, "maps");
    for (int i = 0; i < ax->nmaps; i++) cJSON_AddItemToArray(a1, cJSON_CreateString(ax->maps[i]->name));
    cJSON *a2 = cJSON_AddArrayToObject(axj, "norms");
    for (int i = 0; i < ax->nnorms; i++) cJSON_AddItemToArray(a2, cJSON_CreateString(ax->norms[i]->name));
    cJSON *a3 = cJSON_AddArrayToObject(axj, "bits");
    for (int i = 0; i < ax->nbits; i++) cJSON_AddItemToArray(a3, cJSON_CreateNumber(ax->bits[i]));
    cJSON *a4 = cJSON_AddArrayToObject(axj, "blocks");
    for (int i = 0; i < ax->nblocks; i++) cJSON_AddItemToArray(a4, cJSON_CreateNumber((double)ax->blocks[i]));
    cJSON_AddStringToObject(axj, "state", ax->state == 0 ? "m" : ax->state == 1 ? "v" : "both");
    cJSON *cj = cJSON_AddArrayToObject(root, "configs");
    for (int c = 0; c < so->nconf; c++) {
        const struct sweep_conf *sc = &so->cs[c];
        if (sc->done) {     /* carried over from the previous results.json */
            const cJSON *it;
            cJSON_ArrayForEach(it, cJSON_GetObjectItem(so->prev, "configs")) {
                const cJSON *lab = cJSON_GetObjectItem(it, "label");
                if (!cJSON_IsString(lab) || strcmp(lab->valuestring, sc->c.label) != 0) continue;
                cJSON_AddItemToArray(cj, cJSON_Duplicate(it, 1));
                const cJSON *pr, *tj = cJSON_GetObjectItem(it, "totals");
                struct lbq_param_row row;
                cJSON_ArrayForEach(pr, cJSON_GetObjectItem(it, "params")) {
                    lbq_param_row_from_json(&row, pr);
                    tsv_line(&tsv, &tsv_len, &tsv_cap, sc, &row, 1);
                }
                if (cJSON_IsObject(tj)) {
                    lbq_total_row_from_json(&row, tj, sc->c.has_m, sc->c.has_v);
                    tsv_line(&tsv, &tsv_len, &tsv_cap, sc, &row, 1);
                }
                break;
            }
            continue;
        }
        if (!sc->evaluated) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", c);
        cJSON_AddStringToObject(o, "label", sc->c.label);
        cJSON_AddStringToObject(o, "map", sc->map->name);
        cJSON_AddStringToObject(o, "norm", sc->norm->name);
        cJSON_AddNumberToObject(o, "bits", sc->bits);
        cJSON_AddNumberToObject(o, "block", (double)sc->block);
        if (sc->c.has_m) cJSON_AddStringToObject(o, "m_spec", sc->c.m.text); else cJSON_AddNullToObject(o, "m_spec");
        if (sc->c.has_v) cJSON_AddStringToObject(o, "v_spec", sc->c.v.text); else cJSON_AddNullToObject(o, "v_spec");
        if (sc->map->build) cJSON_AddStringToObject(o, "codebook_cpu", lbq_cpu_name(sc->c.has_m ? sc->c.m.cpu : sc->c.v.cpu));
        else cJSON_AddNullToObject(o, "codebook_cpu");
        double el = so->el[c], bm = el > 0 ? so->bm[c] / el : NAN, bv = el > 0 ? so->bv[c] / el : NAN;
        cJSON *t = lbq_acc_json(&so->tot[c], NULL, NULL, 1);
        cJSON_AddNumberToObject(t, "numel", el);
        lbq_json_add_num(t, "bits_per_elem_m", bm);
        lbq_json_add_num(t, "bits_per_elem_v", bv);
        cJSON_AddItemToObject(o, "totals", t);
        cJSON *pa = cJSON_AddArrayToObject(o, "params");
        for (int k = 0; k < so->rows[c].n; k++) {
            tsv_line(&tsv, &tsv_len, &tsv_cap, sc, &so->rows[c].r[k], 1);
            cJSON_AddItemToArray(pa, lbq_param_row_json(&so->rows[c].r[k]));
        }
        cJSON_AddItemToArray(cj, o);
        struct lbq_param_row total;
        lbq_total_row(&total, &so->tot[c], el, bm, bv, sc->c.has_m, sc->c.has_v);
        tsv_line(&tsv, &tsv_len, &tsv_cap, sc, &total, 0);
    }
    cJSON_AddItemToObject(root, "codebooks", codebooks_json(ax->nbits == 1 ? ax->bits[0] : 4));
    cJSON_AddItemToObject(root, "heatmap", so->heat->grid ? heatmap_json(f, so->heat) : cJSON_CreateNull());
    if (final && !so->noswamp) {
        cJSON *sw = NULL;
        LBQ_TRY(swamping_json(ax, so->d, &sw));
        cJSON_AddItemToObject(root, "swamping", sw);
    } else if (so->prev && cJSON_GetObjectItem(so->prev, "swamping")) {
        cJSON_AddItemToObject(root, "swamping", cJSON_Duplicate(cJSON_GetObjectItem(so->prev, "swamping"), 1));
    }
    cJSON *tj = cJSON_AddObjectToObject(root, "timing");
    lbq_json_add_num(tj, "seconds", now_s() - so->t0);
    cJSON_AddNumberToObject(tj, "threads", lbq_threads());
    int64_t rm = so->reads_other[0], rv = so->reads_other[1];
    for (int i = 0; i < lbq_file_nparams(f); i++) { rm += lbq_file_elems_read(f, i, LBQ_DS_M); rv += lbq_file_elems_read(f, i, LBQ_DS_V); }
    cJSON_AddNumberToObject(tj, "elements", (double)so->total_el);
    cJSON_AddNumberToObject(tj, "elements_read_m", (double)rm);
    cJSON_AddNumberToObject(tj, "elements_read_v", (double)rv);
    snprintf(path, sizeof path, "%s/results.json", so->dir);
    LBQ_TRY(lbq_json_write(path, root));
    snprintf(path, sizeof path, "%s/results.tsv", so->dir);
    LBQ_TRY(lbq_write_atomic(path, tsv, tsv_len));
    *out = root;
    root = NULL;
cleanup:
    cJSON_Delete(root);
    free(tsv);
    return rc;
}

/* One parameter's results for configurations j0..j1-1 of the current batch, folded into the
 * per-configuration totals and rows.  Called in parameter order (the totals are floating-point sums). */
struct fold_ctx {
    struct lbq_file *f;
    const int *todo;            /* the batch's configuration indices */
    int first_batch;
    const struct sweep_conf *cs;
    struct lbq_acc *tot;
    double *el, *bm, *bv;
    struct rowlist *rows;
    int *oom;                   /* set when a row could not be stored */
};

static void fold_param(const struct fold_ctx *x, int i, int j0, int j1, const struct lbq_param_eval *ev)
{
    const struct lbq_param_info *pi = lbq_file_param(x->f, i);
    if (x->first_batch && j0 == 0 && j1 > j0 && ev[0].acc.m.nonfinite) {
        progress_end();
        cli_note("warning: tensor '%s': %lld elements with NaN/Inf in m or v, excluded from the metrics",
                 pi->name, (long long)ev[0].acc.m.nonfinite);
    }
    for (int j = j0; j < j1; j++) {
        int c = x->todo[j];
        const struct lbq_param_eval *e = &ev[j - j0];
        double nn = (double)pi->shape.numel;
        lbq_acc_merge(&x->tot[c], &e->acc);
        x->el[c] += nn; x->bm[c] += e->m_size.bits_per_elem * nn; x->bv[c] += e->v_size.bits_per_elem * nn;
        struct lbq_param_row row;
        lbq_param_row_from_eval(&row, pi->name, pi->shape.numel, e, x->cs[c].c.has_m, x->cs[c].c.has_v);
        if (rows_push(&x->rows[c], &row)) *x->oom = 1;
    }
}

/* ---- MPI (cli/lbq-mpi.h) -----------------------------------------------------------------------
 * A batch's work is np x K units: unit i*K+k is parameter i with the batch's configuration chunk k
 * (K = 1 unless there are fewer parameters than ranks).  Units are partitioned by element-configs;
 * each rank keeps its units' results until the batch ends, then rank 0 receives them in unit order
 * (parameter order for every configuration) and folds them as one process would. */
struct sweep_mpi {
    int np, K, nb, nunits;
    int *owner, *owner0;        /* owner of each unit; of each parameter's chunk 0 (heat map data) */
    int64_t *w;
    struct lbq_param_eval **store;
    const struct fold_ctx *fx;
};

static void mpi_plan_free(struct sweep_mpi *mp)
{
    if (mp->store) for (int u = 0; u < mp->nunits; u++) free(mp->store[u]);
    free(mp->store); free(mp->owner); free(mp->owner0); free(mp->w);
    mp->store = NULL; mp->owner = mp->owner0 = NULL; mp->w = NULL; mp->nunits = 0;
}

/* Configuration chunks give the same bits as one call only if every chunk evaluates with the same
 * slab chunking, which lbq_eval_param derives from the batch's block sizes (the library's rule). */
static int config_split_ok(const struct sweep_axes *ax, const struct lbq_qdefaults *d)
{
    int64_t b[MAX_LIST + 1];
    int n = 0;
    for (int i = 0; i < ax->nblocks && n < MAX_LIST; i++) b[n++] = ax->blocks[i];
    b[n++] = d->block;
    return lbq_eval_blocks_split_ok(b, n);
}

static int mpi_plan(struct sweep_mpi *mp, struct lbq_file *f, int nb, int split_ok, int note)
{
    mpi_plan_free(mp);
    int np = lbq_file_nparams(f), size = lbq_mpi_size();
    int K = 1;
    if (size > 1 && np < size && split_ok) { K = (size + np - 1) / np; if (K > nb) K = nb; }
    mp->np = np; mp->K = K; mp->nb = nb; mp->nunits = np * K;
    mp->owner = calloc((size_t)mp->nunits, sizeof *mp->owner);
    mp->owner0 = calloc((size_t)np, sizeof *mp->owner0);
    mp->w = calloc((size_t)mp->nunits, sizeof *mp->w);
    mp->store = calloc((size_t)mp->nunits, sizeof *mp->store);
    if (!mp->owner || !mp->owner0 || !mp->w || !mp->store) { mpi_plan_free(mp); return lbq_err(LBQ_ERR_NOMEM, "out of memory"); }
    for (int i = 0; i < np; i++)
        for (int k = 0; k < K; k++)
            mp->w[i * K + k] = lbq_file_param(f, i)->shape.numel * (int64_t)((k + 1) * nb / K - k * nb / K);
    lbq_mpi_partition(mp->w, mp->nunits, mp->owner);
    for (int i = 0; i < np; i++) mp->owner0[i] = mp->owner[i * K];
    if (note) lbq_mpi_note_balance("sweep", mp->w, mp->owner, mp->nunits, K > 1 ? "units (tensor x configuration chunk)" : "tensors");
    return LBQ_OK;
}

static void *mpi_get_unit(void *ud, int u, size_t *len)
{
    struct sweep_mpi *mp = ud;
    int k = u % mp->K;
    *len = sizeof(struct lbq_param_eval) * (size_t)((k + 1) * mp->nb / mp->K - k * mp->nb / mp->K);
    void *b = mp->store[u];
    mp->store[u] = NULL;        /* freed by lbq_mpi_collect */
    return b;
}

static int mpi_put_unit(void *ud, int u, const void *blob, size_t len)
{
    struct sweep_mpi *mp = ud;
    int i = u / mp->K, k = u % mp->K, j0 = k * mp->nb / mp->K, j1 = (k + 1) * mp->nb / mp->K;
    if (blob && len != sizeof(struct lbq_param_eval) * (size_t)(j1 - j0))
        return lbq_err(LBQ_ERR_UNSUPPORTED, "MPI: unit %d: %zu bytes received (the same lbq binary must run on every rank)", u, len);
    const struct lbq_param_eval *ev = blob ? blob : mp->store[u];
    if (!ev) return lbq_err(LBQ_ERR_NOMEM, "MPI: unit %d: no results", u);
    fold_param(mp->fx, i, j0, j1, ev);
    return LBQ_OK;
}

/* heat map data of one parameter: {present, pr, pc, gr, gc}, then rowmax[R], colmax[C], grid[gr*gc] */
static void *mpi_get_heat(void *ud, int p, size_t *len)
{
    const struct heat *h = ud;
    int present = h->grid && h->rowmax && h->colmax && h->grid[p] && h->rowmax[p] && h->colmax[p];
    const struct lbq_param_info *pi = lbq_file_param(g_sweep_file, p);
    int64_t R = present ? pi->shape.dim[0] : 0, C = present ? pi->shape.numel / pi->shape.dim[0] : 0, G = present ? h->gr[p] * h->gc[p] : 0;
    *len = 5 * sizeof(int64_t) + sizeof(float) * (size_t)(R + C + G);
    char *b = malloc(*len);
    if (!b) return NULL;
    int64_t hd[5] = { present, present ? h->pr[p] : 0, present ? h->pc[p] : 0, present ? h->gr[p] : 0, present ? h->gc[p] : 0 };
    memcpy(b, hd, sizeof hd);
    if (present) {
        float *x = (float *)(b + sizeof hd);
        memcpy(x, h->rowmax[p], sizeof(float) * (size_t)R);
        memcpy(x + R, h->colmax[p], sizeof(float) * (size_t)C);
        memcpy(x + R + C, h->grid[p], sizeof(float) * (size_t)G);
    }
    return b;
}

static int mpi_put_heat(void *ud, int p, const void *blob, size_t len)
{
    struct heat *h = ud;
    int64_t hd[5];
    if (!blob || !h->grid || !h->rowmax || !h->colmax || len < sizeof hd) return LBQ_OK;   /* rank 0's own, or no heat map */
    memcpy(hd, blob, sizeof hd);
    if (!hd[0]) return LBQ_OK;
    const struct lbq_param_info *pi = lbq_file_param(g_sweep_file, p);
    int64_t R = pi->shape.dim[0], C = pi->shape.rank >= 2 && R > 0 ? pi->shape.numel / R : 0, G = hd[3] * hd[4];
    if (pi->shape.rank < 2 || len != sizeof hd + sizeof(float) * (size_t)(R + C + G))
        return lbq_err(LBQ_ERR_UNSUPPORTED, "MPI: heat map data of parameter %d: %zu bytes received", p, len);
    const float *x = (const float *)((const char *)blob + sizeof hd);
    h->rowmax[p] = malloc(sizeof(float) * (size_t)R);
    h->colmax[p] = malloc(sizeof(float) * (size_t)C);
    h->grid[p] = malloc(sizeof(float) * (size_t)G);
    if (!h->rowmax[p] || !h->colmax[p] || !h->grid[p]) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    memcpy(h->rowmax[p], x, sizeof(float) * (size_t)R);
    memcpy(h->colmax[p], x + R, sizeof(float) * (size_t)C);
    memcpy(h->grid[p], x + R + C, sizeof(float) * (size_t)G);
    h->pr[p] = hd[1]; h->pc[p] = hd[2]; h->gr[p] = hd[3]; h->gc[p] = hd[4];
    return LBQ_OK;
}

/* the end of a batch: every rank's units to rank 0 (folded there), the heat map data after the first
 * batch, and the elements read by the other ranks (timing.elements_read_*) */
static int mpi_gather_batch(struct sweep_mpi *mp, struct sweep_out *so, struct heat *heat, int first)
{
    int rc = lbq_mpi_agree(LBQ_OK);     /* every rank evaluated its units (or one failed) */
    if (rc) return rc;
    rc = lbq_mpi_collect(mp->owner, mp->nunits, mpi_get_unit, mpi_put_unit, mp);
    if ((rc = lbq_mpi_agree(rc))) return rc;
    if (first) {
        rc = lbq_mpi_collect(mp->owner0, mp->np, mpi_get_heat, mpi_put_heat, heat);
        if ((rc = lbq_mpi_agree(rc))) return rc;
    }
    int64_t mine[2] = { 0, 0 }, all[2];
    for (int i = 0; i < mp->np; i++) { mine[0] += lbq_file_elems_read(so->f, i, LBQ_DS_M); mine[1] += lbq_file_elems_read(so->f, i, LBQ_DS_V); }
    all[0] = mine[0]; all[1] = mine[1];
    lbq_mpi_sum_i64(all, 2);
    so->reads_other[0] = all[0] - mine[0]; so->reads_other[1] = all[1] - mine[1];
    return LBQ_OK;
}

/* --resume: rank 0 read DIR/results.json; every rank needs the same configurations to evaluate */
static int mpi_share_done(struct sweep_conf *cs, int nconf)
{
    if (lbq_mpi_size() == 1) return LBQ_OK;
    int *dn = malloc(sizeof(int) * (size_t)(nconf + 1));
    int rc = lbq_mpi_agree(dn ? LBQ_OK : lbq_err(LBQ_ERR_NOMEM, "out of memory"));
    if (rc) { free(dn); return rc; }
    for (int c = 0; c < nconf; c++) dn[c] = cs[c].done;
    lbq_mpi_bcast_int(dn, nconf);
    for (int c = 0; c < nconf; c++) cs[c].done = dn[c];
    free(dn);
    return LBQ_OK;
}

int cmd_sweep(int argc, char **argv)
{
    struct cli_parser p = { "sweep", opts, argc, argv, 1, {0}, 0 };
    struct lbq_open_opts oo = { 0, 0, 0 };
    struct lbq_qdefaults d;
    struct sweep_axes ax;
    const char *val, *dir = NULL, *device = NULL;
    const char *maps_s = LBQ_SWEEP_MAPS, *norms_s = LBQ_SWEEP_NORMS, *bits_s = LBQ_SWEEP_BITS, *blocks_s = LBQ_SWEEP_BLOCKS;
    long long mem = 1LL << 30, tmp[MAX_LIST];
    int id, rc = LBQ_OK, exitc = 0, quiet = 0, noplot = 0, noswamp = 0, resume = 0, checkpoint = 0;
    lbq_qdefaults_init(&d);
    memset(&ax, 0, sizeof ax);
    ax.state = 2;
    while ((id = cli_next(&p, &val)) != 0) {
        if (id < 0) return LBQ_EXIT_USAGE;
        if (id == 'h') return cli_help("sweep");
        double dv; long long iv;
        switch (id) {
        case O_OUT: dir = val; break;
        case O_MAP: maps_s = val; break;
        case O_NORM: norms_s = val; break;
        case O_BITS: bits_s = val; break;
        case O_BLOCK: blocks_s = val; break;
        case O_STATE:
            if (strcmp(val, "m") == 0) ax.state = 0; else if (strcmp(val, "v") == 0) ax.state = 1; else if (strcmp(val, "both") == 0) ax.state = 2;
            else return cli_usage_error("sweep", "--state: '%s' is not m, v or both", val);
            break;
        case O_QUIET: quiet = 1; g_cli_quiet = 1; break;
        case O_NOPLOT: noplot = 1; break;
        case O_NOSWAMP: noswamp = 1; break;
        case O_RESUME: resume = 1; break;
        case O_TENSOR: oo.tensor_glob = val; break;
        case O_CHECKPOINT: if (cli_int("sweep", "--checkpoint", val, 1, 1000000, &iv)) return LBQ_EXIT_USAGE; checkpoint = (int)iv; break;
        case O_MNAME: oo.m_name = val; break;
        case O_VNAME: oo.v_name = val; break;
        case O_MEM: if (cli_bytes("sweep", "--mem-limit", val, &mem)) return LBQ_EXIT_USAGE; break;
        case O_DEVICE: device = val; break;
        case O_ROUND:
            if (strcmp(val, "nearest") == 0) d.round = LBQ_ROUND_NEAREST;
            else if (strcmp(val, "stochastic") == 0 || strcmp(val, "sr") == 0) d.round = LBQ_ROUND_STOCHASTIC;
            else return cli_usage_error("sweep", "--round: '%s' is not 'nearest' or 'stochastic'", val);
            break;
        case O_SEED: if (cli_int("sweep", "--seed", val, 0, 0x7fffffffffffffffLL, &iv)) return LBQ_EXIT_USAGE; d.seed = (uint64_t)iv; break;
        case O_QUANTILE: if (cli_double("sweep", "--quantile", val, 1e-9, 1 - 1e-9, &dv)) return LBQ_EXIT_USAGE; d.quantile = (float)dv; break;
        }
    }
    if (p.npos != 1) return cli_usage_error("sweep", p.npos ? "expected one FILE, got %d arguments" : "missing FILE%.0d", p.npos);
    if (!dir) return cli_usage_error("sweep", "missing -o DIR");
    if (cli_check_outdir("-o", dir, p.positional[0])) return LBQ_EXIT_OUTPUT;
    /* axes */
    char buf[512];
    snprintf(buf, sizeof buf, "%s", maps_s);
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        const struct lbq_map *m = lbq_map_find(t);
        if (!m) { const char *s = lbq_name_suggest(t); return cli_usage_error("sweep", "--map: unknown map '%s'%s%s%s", t, s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : ""); }
        if (!m->sweepable) return cli_usage_error("sweep", "--map: the '%s' map is not swept (use analyze --map-file)", m->name);
        int dup = 0;
        for (int k = 0; k < ax.nmaps; k++) dup |= ax.maps[k] == m;
        if (!dup && ax.nmaps < MAX_LIST) ax.maps[ax.nmaps++] = m;
    }
    snprintf(buf, sizeof buf, "%s", norms_s);
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        int64_t blk = 0;
        const struct lbq_norm *n = lbq_norm_find(t, &blk);
        if (!n || blk) return cli_usage_error("sweep", "--norm: unknown normalization '%s' (known: tensor, block, rank1, row, col; sizes go in --block)", t);
        int dup = 0;
        for (int k = 0; k < ax.nnorms; k++) dup |= ax.norms[k] == n;
        if (!dup && ax.nnorms < MAX_LIST) ax.norms[ax.nnorms++] = n;
    }
    if (parse_int_list("sweep", "--bits", bits_s, 1, 8, tmp, &ax.nbits)) return LBQ_EXIT_USAGE;
    for (int i = 0; i < ax.nbits; i++) ax.bits[i] = (int)tmp[i];
    if (parse_int_list("sweep", "--block", blocks_s, 1, 1 << 24, tmp, &ax.nblocks)) return LBQ_EXIT_USAGE;
    for (int i = 0; i < ax.nblocks; i++) ax.blocks[i] = tmp[i];
    if (ax.nmaps == 0 || ax.nnorms == 0) return cli_usage_error("sweep", "empty --map or --norm");
    /* device: given, or auto when a CUDA device is present (silently the CPU without one) */
    int use_dev = 0;
    if (device || lbq_cuda_device_count() > 0) {
        int dr = cli_device_select("sweep", device ? device : "auto", &use_dev);
        if (dr == -2) return LBQ_EXIT_USAGE;
        if (dr < 0) return LBQ_EXIT_CUDA;
    }

    struct lbq_file *f = NULL;
    struct sweep_conf *cs = NULL;
    struct lbq_config *cl = NULL;
    struct rowlist *rows = NULL;
    int rows_oom = 0;
    struct lbq_acc *tot = NULL;
    double *bm = NULL, *bv = NULL, *el = NULL;
    cJSON *root = NULL, *prev = NULL;
    char path[4096];
    int nconf = 0, heat_ok = 0;
    struct heat heat;
    memset(&heat, 0, sizeof heat);
    struct sweep_mpi mp;
    memset(&mp, 0, sizeof mp);
    double t0 = now_s();
    LBQ_TRY(build_configs(&ax, &d, &cs, &nconf));
    if (nconf == 0) { rc = lbq_err(LBQ_ERR_ARG, "no valid configuration in this sweep"); goto cleanup; }
    cli_guard_file(p.positional[0]);
    rc = lbq_file_open(p.positional[0], &oo, &f);       /* input errors first: no empty output dir */
    if (!rc) rc = lbq_file_set_mem_limit(f, mem);       /* the file's chunking vs --mem-limit */
    if (rc) goto cleanup;
    cli_print_file_notes(f);
    if (lbq_mpi_rank() == 0) LBQ_TRY(lbq_mkdirs(dir));     /* MPI: rank 0 writes, and reads --resume */
    snprintf(path, sizeof path, "%s/results.json", dir);
    if (resume && lbq_mpi_rank() == 0) {
        char *s = lbq_read_file(path);
        if (s) {
            prev = cJSON_Parse(s);
            free(s);
            if (!prev || !cJSON_IsArray(cJSON_GetObjectItem(prev, "configs"))) { rc = lbq_err(LBQ_ERR_FORMAT, "%s: not an lbq sweep results file; cannot --resume", path); goto cleanup; }
            cJSON *it;
            cJSON_ArrayForEach(it, cJSON_GetObjectItem(prev, "configs")) {
                const cJSON *lab = cJSON_GetObjectItem(it, "label");
                if (!cJSON_IsString(lab)) continue;
                for (int c = 0; c < nconf; c++) if (strcmp(cs[c].c.label, lab->valuestring) == 0) cs[c].done = 1;
            }
        }
    }
    LBQ_TRY(mpi_share_done(cs, nconf));
    int np = lbq_file_nparams(f);
    int ntodo = 0;
    for (int c = 0; c < nconf; c++) if (!cs[c].done) ntodo++;
    cli_note("sweep: %d configurations (%d to evaluate) x %d parameters", nconf, ntodo, np);
    cl = calloc((size_t)nconf, sizeof *cl);
    rows = calloc((size_t)nconf, sizeof *rows);
    tot = calloc((size_t)nconf, sizeof *tot);
    bm = calloc((size_t)nconf, sizeof *bm); bv = calloc((size_t)nconf, sizeof *bv); el = calloc((size_t)nconf, sizeof *el);
    if (!cl || !rows || !tot || !bm || !bv || !el) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
    for (int c = 0; c < nconf; c++) lbq_acc_zero(&tot[c]);
    signal(SIGINT, on_sigint);
    heat.np = np;
    heat.rowmax = calloc((size_t)np, sizeof(float *)); heat.colmax = calloc((size_t)np, sizeof(float *)); heat.grid = calloc((size_t)np, sizeof(float *));
    heat.pr = calloc((size_t)np, sizeof(int64_t)); heat.pc = calloc((size_t)np, sizeof(int64_t));
    heat.gr = calloc((size_t)np, sizeof(int64_t)); heat.gc = calloc((size_t)np, sizeof(int64_t));
    heat_ok = heat.rowmax && heat.colmax && heat.grid && heat.pr && heat.pc && heat.gr && heat.gc;
    g_sweep_file = f;
    int64_t total_el = 0;
    for (int i = 0; i < np; i++) total_el += lbq_file_param(f, i)->shape.numel;
    struct sweep_out so = { &ax, &d, cs, nconf, prev, tot, rows, el, bm, bv, f, &heat, 0, noswamp, dir, t0, total_el, { 0, 0 } };
    int split_ok = config_split_ok(&ax, &d);
    /* batches of --checkpoint configurations (default: all at once, so each tensor is read once);
     * after each batch the results so far are saved, so an interrupted sweep can be resumed */
    int batch = checkpoint > 0 ? checkpoint : (ntodo > 0 ? ntodo : 1);
    int *todo = malloc(sizeof(int) * (size_t)(nconf + 1));
    if (!todo) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
    int nt = 0;
    for (int c = 0; c < nconf; c++) if (!cs[c].done) todo[nt++] = c;
    int64_t work = (int64_t)nt * total_el, done_work = 0;
    for (int b0 = 0; b0 < nt; b0 += batch) {
        int nb = (nt - b0 < batch) ? nt - b0 : batch;
        for (int j = 0; j < nb; j++) cl[j] = cs[todo[b0 + j]].c;
        struct lbq_eval_opts eo = { mem, 10.0, use_dev, (heat_ok && b0 == 0) ? heat_cb : NULL, &heat };
        struct fold_ctx fx = { f, todo + b0, b0 == 0, cs, tot, el, bm, bv, rows, &rows_oom };
        /* which (parameter x configuration chunk) units are ours: with one process, K = 1 and all */
        rc = mpi_plan(&mp, f, nb, split_ok, b0 == 0);
        if (rc) { free(todo); goto cleanup; }
        mp.fx = &fx;
        for (int i = 0; i < np; i++) {
            if (g_interrupted) {
                rc = lbq_err(LBQ_ERR_INTERRUPTED, b0 ? "interrupted: the configurations of earlier batches are saved in %s/results.json; rerun with --resume"
                                                    : "interrupted: nothing written (use --checkpoint N to save partial results)", dir);
                free(todo);
                goto cleanup;
            }
            const struct lbq_param_info *pi = lbq_file_param(f, i);
            for (int k = 0; k < mp.K; k++) {
                if (mp.owner[i * mp.K + k] != lbq_mpi_rank()) continue;
                int j0 = k * nb / mp.K, j1 = (k + 1) * nb / mp.K;
                progress(quiet, (double)done_work / (double)(work ? work : 1), now_s() - t0, pi->name);
                struct lbq_param_eval *tmpev = calloc((size_t)(j1 - j0), sizeof *tmpev);
                if (!tmpev) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); free(todo); goto cleanup; }
                eo.slab_cb = (heat_ok && b0 == 0 && k == 0) ? heat_cb : NULL;
                rc = lbq_eval_param(f, i, cl + j0, j1 - j0, &eo, tmpev);
                if (rc) { free(tmpev); free(todo); goto cleanup; }
                done_work += (int64_t)(j1 - j0) * pi->shape.numel;
                if (lbq_mpi_size() > 1) { mp.store[i * mp.K + k] = tmpev; continue; }     /* folded on rank 0 below */
                /* fold each configuration's result into its totals and rows now: memory stays O(configs) */
                fold_param(&fx, i, j0, j1, tmpev);
                free(tmpev);
            }
        }
        if (lbq_mpi_size() > 1) {
            rc = mpi_gather_batch(&mp, &so, &heat, b0 == 0);
            if (rc) { free(todo); goto cleanup; }
        }
        for (int j = 0; j < nb; j++) cs[todo[b0 + j]].evaluated = 1;
        if (rows_oom) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); free(todo); goto cleanup; }
        if (b0 + nb < nt) {         /* a checkpoint: everything evaluated so far, no swamping runs yet */
            cJSON *cp = NULL;
            rc = lbq_mpi_rank() == 0 ? write_results(&so, 0, &cp) : LBQ_OK;
            cJSON_Delete(cp);
            rc = lbq_mpi_agree(rc);
            if (rc) { free(todo); goto cleanup; }
        }
    }
    free(todo);
    if (lbq_mpi_rank() != 0) goto cleanup;      /* MPI: rank 0 writes the results */
    progress(quiet, 1.0, now_s() - t0, "done");
    LBQ_TRY(write_results(&so, 1, &root));
    cli_note("wrote %s/results.json and %s/results.tsv (%d configurations, %.1f s)", dir, dir, nconf, now_s() - t0);
    if (!noplot) LBQ_TRY(lbq_plot_sweep(root, dir, quiet));
cleanup:
    cli_signals_install();      /* back to the handler that removes temporary files (main.c) */
    progress_end();         /* an error or "interrupted" starts on a line of its own */
    for (int i = 0; i < heat.np; i++) {
        if (heat.rowmax) free(heat.rowmax[i]);
        if (heat.colmax) free(heat.colmax[i]);
        if (heat.grid) free(heat.grid[i]);
    }
    free(heat.rowmax); free(heat.colmax); free(heat.grid); free(heat.pr); free(heat.pc); free(heat.gr); free(heat.gc);
    mpi_plan_free(&mp);
    rc = lbq_mpi_agree(rc);     /* pairs with the other ranks' next agreement; identity without MPI */
    if (rc) exitc = lbq_mpi_fail(rc);
    cJSON_Delete(root); cJSON_Delete(prev);
    if (rows) for (int c = 0; c < nconf; c++) free(rows[c].r);
    free(rows);
    free(cs); free(cl); free(tot); free(bm); free(bv); free(el);
    if (!rc) cli_print_read_notes(f);     /* negative v (issue 16) */
    lbq_file_close(f);
    return exitc;
}
