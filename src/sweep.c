/* sweep.c - a sweep's result as a library object (include/lbq-sweep.h): the grid, per-configuration
 * totals, compact per-parameter rows, heat-map statistics, --resume with its identity check, and the
 * results.json / results.tsv renderings, each in one place. */
#define _GNU_SOURCE     /* realpath, O_TMPFILE */
#include "lbq-impl.h"
#include "lbq-json.h"
#include "lbq-report.h"
#include "lbq-sim.h"
#include "lbq-sweep.h"
#include "lbq-sample.h"
#include "lbq-analysis.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct heatst {
    float  **rowmax, **colmax, **grid;
    int64_t *pr, *pc, *gr, *gc;
    int      ok;
    int      best;          /* the parameter whose grid is kept, -1: none yet */
    double   best_ratio;
};

struct lbq_sweep {
    struct lbq_sweep_axes ax;
    struct lbq_qdefaults d;
    char   *tensor_glob, *m_name, *v_name;
    struct lbq_sweep_conf *cs;
    int     nconf;
    struct lbq_file *f;
    int     np;
    int64_t mem_limit;
    char   *spill_dir;
    struct lbq_acc *tot;
    double *el, *bm, *bv;
    /* rows: record (c, p) at ((c * np) + p) * recsz, in memory or in an unlinked file */
    size_t  recsz;
    char   *mem;
    int     fd;
    int     store_ready;
    struct heatst h;
    /* --resume */
    cJSON  *prev;
    char   *prev_path;
    const cJSON **carried;      /* [nconf]: the previous results' object of a done configuration */
    const cJSON **extra;        /* previous configurations not in this list, kept */
    int     nextra;
    double  t0;
    int64_t total_el, reads_other[2];
    /* --sample: the options, each configuration's replicate totals, the configurations re-run
     * exactly, the two phases' seconds */
    struct lbq_sample_opts smp;
    int     sampled;
    struct lbq_sample_acc *stot;
    uint8_t *exact;
    double  t_sampled, t_exact;
    /* role groups (docs/metrics.md "Groups"): each parameter's group, and per configuration and
     * group the pooled sums (lbq_pool) */
    const struct lbq_groups *groups;
    int     ng, *group_of;
    struct lbq_pool *gpool;     /* [nconf * ng] */
};

int lbq_sweep_set_groups(struct lbq_sweep *s, const struct lbq_groups *g)
{
    s->groups = g;
    s->ng = lbq_groups_count(g);
    free(s->group_of); free(s->gpool);
    s->group_of = calloc((size_t)s->np + 1, sizeof *s->group_of);
    s->gpool = calloc((size_t)s->nconf * (size_t)s->ng + 1, sizeof *s->gpool);
    if (!s->group_of || !s->gpool) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    for (int p = 0; p < s->np; p++)
        s->group_of[p] = lbq_groups_classify(g, lbq_file_param(s->f, p)->name, &lbq_file_param(s->f, p)->shape);
    return LBQ_OK;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *dupz(const char *s) { return s ? strdup(s) : NULL; }

/* ---- the grid ---------------------------------------------------------------------------------- */
int lbq_sweep_pair_m(const struct lbq_map *map, const struct lbq_qdefaults *d, struct lbq_qspec *m,
                     const struct lbq_recipe **recipe)
{
    for (int r = 0; r < lbq_recipe_count(); r++) {
        const struct lbq_recipe *rp = lbq_recipe_at(r);
        struct lbq_qspec vs, ms;
        struct lbq_qplan tp;
        if (!rp || !rp->m_spec || !rp->v_spec) continue;
        if (!lbq_qspec_supported(rp->v_spec, d, &vs) || vs.map != map) continue;
        if (!lbq_qspec_supported(rp->m_spec, d, &ms) || !lbq_qplan_supported(&tp, &ms, LBQ_ROLE_M, 2)) continue;
        *m = ms;
        *recipe = rp;
        return 1;
    }
    return 0;
}

void lbq_sweep_label(char *buf, size_t n, const struct lbq_qspec *m, int has_m, const struct lbq_qspec *v, int has_v)
{
    const char *ms = has_m ? m->text : "fp32", *vs = has_v ? v->text : "fp32";
    if (strcmp(ms, vs) == 0) snprintf(buf, n, "%s", ms);
    else snprintf(buf, n, "%s/%s", ms, vs);
}

int lbq_sweep_new(const struct lbq_sweep_axes *ax, const struct lbq_qdefaults *d0, const struct lbq_sweep_ident *id,
                  struct lbq_sweep **out)
{
    *out = NULL;
    int cap = ax->nmaps * ax->nnorms * ax->nbits * (ax->nblocks + 1) + 1 + lbq_recipe_count(), n = 0;
    if (cap > 100000) return lbq_err(LBQ_ERR_ARG, "sweep: %d configurations is more than 100000; narrow --map/--norm/--bits/--block", cap);
    struct lbq_sweep *s = calloc(1, sizeof *s);
    struct lbq_sweep_conf *cs = calloc((size_t)cap, sizeof *cs);
    if (!s || !cs) { free(s); free(cs); return lbq_err(LBQ_ERR_NOMEM, "out of memory"); }
    s->fd = -1;
    s->h.best = -1;
    s->ax = *ax;
    s->d = *d0;
    s->t0 = now_s();
    s->tensor_glob = dupz(id ? id->tensor_glob : NULL);
    s->m_name = dupz(id && id->m_name ? id->m_name : "exp_avg");
    s->v_name = dupz(id && id->v_name ? id->v_name : "exp_avg_sq");
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
                    struct lbq_qspec q;
                    if (!lbq_qspec_supported(spec, &d, &q)) continue;          /* unsupported combination */
                    if (ax->maps[mi]->fixed_bits && ax->bits[bi] != ax->maps[mi]->fixed_bits) continue;
                    struct lbq_sweep_conf *c = &cs[n];
                    c->map = ax->maps[mi]; c->norm = nm; c->bits = q.bits; c->block = blk;
                    struct lbq_qplan tp;
                    int m_ok = (ax->state != 1) && lbq_qplan_supported(&tp, &q, LBQ_ROLE_M, 2);
                    int v_ok = (ax->state != 0) && lbq_qplan_supported(&tp, &q, LBQ_ROLE_V, 2);
                    if (!m_ok && !v_ok) continue;
                    c->c.m = q; c->c.v = q;
                    c->c.has_m = m_ok; c->c.has_v = v_ok;
                    snprintf(c->c.label, sizeof c->c.label, "%s", q.text);
                    /* a v-only map (log) with both states: m by the recipe that uses this map for v,
                     * so that its memory and update error are a real optimizer's */
                    if (ax->state == 2 && !m_ok && lbq_sweep_pair_m(ax->maps[mi], &d, &c->c.m, &c->m_recipe)) {
                        c->c.has_m = 1;
                        lbq_sweep_label(c->c.label, sizeof c->c.label, &c->c.m, 1, &c->c.v, 1);
                    }
                    n++;
                }
            }
    /* with both states: every published recipe as one more configuration (label recipe:NAME), its
     * m and v quantizers and fp32 exemptions as the recipe has them (fig7, lbq recommend DIR) */
    for (int r = 0; r < lbq_recipe_count() && ax->state == 2 && !ax->no_recipes; r++) {
        const struct lbq_recipe *rp = lbq_recipe_at(r);
        struct lbq_sweep_conf *c = &cs[n];
        if (!lbq_qspec_supported(rp->m_spec, d0, &c->c.m) || !lbq_qspec_supported(rp->v_spec, d0, &c->c.v)) {
            memset(c, 0, sizeof *c);
            continue;
        }
        c->c.has_m = c->c.has_v = 1;
        c->c.recipe = rp;
        c->recipe = rp;
        c->map = c->c.v.map; c->norm = c->c.v.norm; c->bits = c->c.v.bits; c->block = c->c.v.norm->blockwise ? c->c.v.block : 0;
        snprintf(c->c.label, sizeof c->c.label, "recipe:%s", rp->name);
        n++;
    }
    s->cs = cs;
    s->nconf = n;
    *out = s;
    if (n == 0) return lbq_err(LBQ_ERR_ARG, "no valid configuration in this sweep");
    return LBQ_OK;
}

int lbq_sweep_nconf(const struct lbq_sweep *s) { return s->nconf; }
struct lbq_sweep_conf *lbq_sweep_conf(struct lbq_sweep *s, int c) { return &s->cs[c]; }

static void heat_free_param(struct heatst *h, int p)
{
    if (h->rowmax) { free(h->rowmax[p]); h->rowmax[p] = NULL; }
    if (h->colmax) { free(h->colmax[p]); h->colmax[p] = NULL; }
    if (h->grid) { free(h->grid[p]); h->grid[p] = NULL; }
}

void lbq_sweep_free(struct lbq_sweep *s)
{
    if (!s) return;
    for (int i = 0; i < s->np; i++) heat_free_param(&s->h, i);
    free(s->h.rowmax); free(s->h.colmax); free(s->h.grid); free(s->h.pr); free(s->h.pc); free(s->h.gr); free(s->h.gc);
    if (s->fd >= 0) close(s->fd);
    free(s->mem);
    free(s->tot); free(s->el); free(s->bm); free(s->bv); free(s->stot); free(s->exact);
    free(s->group_of); free(s->gpool);
    cJSON_Delete(s->prev);
    free(s->prev_path);
    free(s->carried); free(s->extra);
    free(s->cs);
    free(s->tensor_glob); free(s->m_name); free(s->v_name); free(s->spill_dir);
    free(s);
}

int lbq_sweep_begin(struct lbq_sweep *s, struct lbq_file *f, int64_t mem_limit, const char *spill_dir)
{
    s->f = f;
    s->np = lbq_file_nparams(f);
    s->mem_limit = mem_limit > 0 ? mem_limit : ((int64_t)1 << 30);
    s->spill_dir = dupz(spill_dir);
    int nc = s->nconf, np = s->np;
    s->tot = calloc((size_t)nc, sizeof *s->tot);
    s->el = calloc((size_t)nc, sizeof *s->el); s->bm = calloc((size_t)nc, sizeof *s->bm); s->bv = calloc((size_t)nc, sizeof *s->bv);
    s->carried = calloc((size_t)nc, sizeof *s->carried);
    if (!s->tot || !s->el || !s->bm || !s->bv || !s->carried) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    for (int c = 0; c < nc; c++) lbq_acc_zero(&s->tot[c]);
    struct heatst *h = &s->h;
    size_t n1 = (size_t)(np ? np : 1);
    h->rowmax = calloc(n1, sizeof(float *)); h->colmax = calloc(n1, sizeof(float *)); h->grid = calloc(n1, sizeof(float *));
    h->pr = calloc(n1, sizeof(int64_t)); h->pc = calloc(n1, sizeof(int64_t)); h->gr = calloc(n1, sizeof(int64_t)); h->gc = calloc(n1, sizeof(int64_t));
    h->ok = h->rowmax && h->colmax && h->grid && h->pr && h->pc && h->gr && h->gc;
    for (int i = 0; i < np; i++) s->total_el += lbq_file_param(f, i)->shape.numel;
    /* a row without its name (the file's parameter names it): the name must come first */
    _Static_assert(offsetof(struct lbq_param_row, name) == 0, "struct lbq_param_row: name first");
    s->recsz = sizeof(struct lbq_param_row) - sizeof(((struct lbq_param_row *)0)->name);
    return LBQ_OK;
}

/* the row store, allocated at the first fold (only the rank that folds has one) */
static int store_init(struct lbq_sweep *s)
{
    if (s->store_ready) return LBQ_OK;
    double need = (double)s->nconf * (double)s->np * (double)s->recsz;
    if (need <= (double)(s->mem_limit / 8)) {
        s->mem = malloc(need > 0 ? (size_t)need : 1);
        if (!s->mem) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    } else {
        const char *dir = s->spill_dir ? s->spill_dir : ".";
        int fd = -1;
#ifdef O_TMPFILE
        fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#endif
        if (fd < 0) {
            size_t l = strlen(dir) + 32;
            char *t = malloc(l);
            if (!t) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
            snprintf(t, l, "%s/.lbq-rows-XXXXXX", dir);
            fd = mkstemp(t);
            if (fd >= 0) unlink(t);        /* never visible: gone with the process, even after kill -9 */
            free(t);
        }
        if (fd < 0) return lbq_err(LBQ_ERR_OUTPUT, "%s: cannot create the sweep's row file: %s", dir, strerror(errno));
        s->fd = fd;
    }
    s->store_ready = 1;
    return LBQ_OK;
}

static int rec_put(struct lbq_sweep *s, int c, int p, const struct lbq_param_row *r)
{
    size_t off = ((size_t)c * (size_t)s->np + (size_t)p) * s->recsz;
    const char *src = (const char *)r + sizeof r->name;
    if (s->mem) { memcpy(s->mem + off, src, s->recsz); return LBQ_OK; }
    if (pwrite(s->fd, src, s->recsz, (off_t)off) != (ssize_t)s->recsz)
        return lbq_err(LBQ_ERR_OUTPUT, "%s: writing the sweep's row file failed: %s", s->spill_dir ? s->spill_dir : ".", strerror(errno));
    return LBQ_OK;
}

static int rec_get(const struct lbq_sweep *s, int c, int p, struct lbq_param_row *r)
{
    size_t off = ((size_t)c * (size_t)s->np + (size_t)p) * s->recsz;
    char *dst = (char *)r + sizeof r->name;
    if (s->mem) memcpy(dst, s->mem + off, s->recsz);
    else if (pread(s->fd, dst, s->recsz, (off_t)off) != (ssize_t)s->recsz)
        return lbq_err(LBQ_ERR_OUTPUT, "%s: reading the sweep's row file failed: %s", s->spill_dir ? s->spill_dir : ".", strerror(errno));
    snprintf(r->name, sizeof r->name, "%s", lbq_file_param(s->f, p)->name);
    return LBQ_OK;
}

/* ---- folding ------------------------------------------------------------------------------------ */
int lbq_sweep_fold(struct lbq_sweep *s, int p, const int *conf, int n, const struct lbq_param_eval *ev)
{
    int rc = store_init(s);
    if (rc) return rc;
    const struct lbq_param_info *pi = lbq_file_param(s->f, p);
    double nn = (double)pi->shape.numel;
    for (int j = 0; j < n; j++) {
        int c = conf[j];
        const struct lbq_param_eval *e = &ev[j];
        lbq_acc_merge(&s->tot[c], &e->acc);
        if (s->gpool) lbq_pool_add(&s->gpool[(size_t)c * (size_t)s->ng + (size_t)s->group_of[p]], &e->acc, nn, e->m_size.bits_per_elem, e->v_size.bits_per_elem);
        s->el[c] += nn; s->bm[c] += e->m_size.bits_per_elem * nn; s->bv[c] += e->v_size.bits_per_elem * nn;
        struct lbq_param_row row;
        lbq_param_row_from_eval(&row, pi->name, pi->shape.numel, e, s->cs[c].c.has_m, s->cs[c].c.has_v);
        if ((rc = rec_put(s, c, p, &row))) return rc;
    }
    return LBQ_OK;
}

/* ---- --sample ------------------------------------------------------------------------------------ */
int lbq_sweep_set_sample(struct lbq_sweep *s, const struct lbq_sample_opts *o)
{
    s->smp = *o;
    s->sampled = 1;
    s->stot = malloc(sizeof *s->stot * (size_t)s->nconf);
    s->exact = calloc((size_t)s->nconf, 1);
    if (!s->stot || !s->exact) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    for (int c = 0; c < s->nconf; c++) lbq_sample_acc_zero(&s->stot[c]);
    return LBQ_OK;
}

int lbq_sweep_fold_sampled(struct lbq_sweep *s, int p, const int *conf, int n, const struct lbq_param_eval *ev,
                           const struct lbq_sample_acc *sout)
{
    int rc = store_init(s);
    if (rc) return rc;
    struct lbq_ci *ci = malloc(sizeof *ci * LBQ_SM_COUNT);
    if (!ci) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    const struct lbq_param_info *pi = lbq_file_param(s->f, p);
    double nn = (double)pi->shape.numel;
    for (int j = 0; j < n && !rc; j++) {
        int c = conf[j];
        const struct lbq_param_eval *e = &ev[j];
        lbq_acc_merge(&s->tot[c], &e->acc);
        lbq_sample_acc_merge(&s->stot[c], &sout[j]);
        s->el[c] += nn; s->bm[c] += e->m_size.bits_per_elem * nn; s->bv[c] += e->v_size.bits_per_elem * nn;
        struct lbq_param_row row;
        lbq_param_row_from_eval(&row, pi->name, pi->shape.numel, e, s->cs[c].c.has_m, s->cs[c].c.has_v);
        lbq_sample_ci(&sout[j], 1.0, ci);
        lbq_param_row_set_ci(&row, ci);
        rc = rec_put(s, c, p, &row);
    }
    free(ci);
    return rc;
}

int lbq_sweep_sample_front(struct lbq_sweep *s, int *todo, int *n)
{
    int rc = LBQ_OK, nconf = s->nconf;
    double *x = calloc((size_t)nconf, sizeof *x), *y = calloc((size_t)nconf, sizeof *y);
    double *lo = calloc((size_t)nconf, sizeof *lo), *hi = calloc((size_t)nconf, sizeof *hi);
    uint8_t *near = calloc((size_t)nconf, 1);
    struct lbq_ci *ci = malloc(sizeof *ci * LBQ_SM_COUNT);
    *n = 0;
    if (!x || !y || !lo || !hi || !near || !ci) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto out; }
    for (int c = 0; c < nconf; c++) {
        x[c] = y[c] = NAN;
        if (!s->cs[c].evaluated || !(s->el[c] > 0)) continue;
        lbq_sample_ci(&s->stot[c], 1.0, ci);
        x[c] = (s->bm[c] + s->bv[c]) / s->el[c] / 2;
        y[c] = ci[LBQ_SM_U_REL_L2].est; lo[c] = ci[LBQ_SM_U_REL_L2].lo; hi[c] = ci[LBQ_SM_U_REL_L2].hi;
    }
    lbq_sample_near_front(nconf, x, y, lo, hi, near);
    for (int c = 0; c < nconf; c++) {
        if (!near[c]) continue;
        todo[(*n)++] = c;
        s->exact[c] = 1;
        lbq_acc_zero(&s->tot[c]); s->el[c] = s->bm[c] = s->bv[c] = 0;
    }
out:
    free(x); free(y); free(lo); free(hi); free(near); free(ci);
    return rc;
}

void lbq_sweep_sample_times(struct lbq_sweep *s, double sampled, double exact) { s->t_sampled = sampled; s->t_exact = exact; }

void lbq_sweep_set_reads_other(struct lbq_sweep *s, int64_t m, int64_t v) { s->reads_other[0] = m; s->reads_other[1] = v; }

/* ---- heat map ----------------------------------------------------------------------------------
 * Per parameter of 2 or more dimensions (N-D as dim[0] rows x the other dims flattened, the file's
 * row-major order: a conv weight [out, in, kh, kw] is out x (in*kh*kw)), row and column maxima of
 * |m| and a max-pooled grid of at most 128 x 128 cells, gathered from the evaluation pass's slabs. */
void lbq_sweep_heat_slab(void *ud, int p, int64_t off, int64_t n, const float *m, const float *v)
{
    (void)v;
    struct lbq_sweep *s = ud;
    struct heatst *h = &s->h;
    const struct lbq_param_info *pi = lbq_file_param(s->f, p);
    if (!h->ok || pi->shape.rank < 2 || pi->shape.dim[0] <= 0) return;
    int64_t R = pi->shape.dim[0], C = pi->shape.numel / pi->shape.dim[0];
    if (!h->rowmax[p]) {
        h->pr[p] = (R + 127) / 128; h->pc[p] = (C + 127) / 128;
        h->gr[p] = (R + h->pr[p] - 1) / h->pr[p]; h->gc[p] = (C + h->pc[p] - 1) / h->pc[p];
        h->rowmax[p] = calloc((size_t)R, sizeof(float));
        h->colmax[p] = calloc((size_t)C, sizeof(float));
        h->grid[p] = calloc((size_t)(h->gr[p] * h->gc[p]), sizeof(float));
        if (!h->rowmax[p] || !h->colmax[p] || !h->grid[p]) { heat_free_param(h, p); h->rowmax[p] = NULL; return; }
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

/* the parameter with the strongest row/column outlier structure (max/median of the nonzero maxima):
 * the largest ratio, the earlier parameter on a tie, never a ratio of 0 or NaN */
void lbq_sweep_heat_done(struct lbq_sweep *s, int p)
{
    struct heatst *h = &s->h;
    if (!h->ok || !h->grid[p] || !h->rowmax[p] || !h->colmax[p]) return;
    const struct lbq_param_info *pi = lbq_file_param(s->f, p);
    double r = lbq_max_over_nonzero_median(h->rowmax[p], pi->shape.dim[0]);
    double c = lbq_max_over_nonzero_median(h->colmax[p], pi->shape.numel / pi->shape.dim[0]);
    double x = 0;
    if (r > x) x = r;
    if (c > x) x = c;
    free(h->rowmax[p]); h->rowmax[p] = NULL;
    free(h->colmax[p]); h->colmax[p] = NULL;
    if (x > 0 && (h->best < 0 || x > h->best_ratio || (x == h->best_ratio && p < h->best))) {
        if (h->best >= 0) heat_free_param(h, h->best);
        h->best = p;
        h->best_ratio = x;
    } else {
        heat_free_param(h, p);
    }
}

/* {present, pr, pc, gr, gc}, then rowmax[R], colmax[C], grid[gr*gc] */
void *lbq_sweep_heat_pack(struct lbq_sweep *s, int p, size_t *len)
{
    struct heatst *h = &s->h;
    int present = h->ok && h->grid[p] && h->rowmax[p] && h->colmax[p];
    const struct lbq_param_info *pi = lbq_file_param(s->f, p);
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
    if (h->ok) heat_free_param(h, p);
    return b;
}

int lbq_sweep_heat_unpack(struct lbq_sweep *s, int p, const void *blob, size_t len)
{
    struct heatst *h = &s->h;
    int64_t hd[5];
    if (!h->ok || len < sizeof hd) return LBQ_OK;
    memcpy(hd, blob, sizeof hd);
    if (!hd[0]) return LBQ_OK;
    const struct lbq_param_info *pi = lbq_file_param(s->f, p);
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
    lbq_sweep_heat_done(s, p);
    return LBQ_OK;
}

static cJSON *heatmap_json(const struct lbq_sweep *s)
{
    const struct heatst *h = &s->h;
    int best = h->best;
    if (!h->ok || best < 0 || !h->grid[best]) return cJSON_CreateNull();
    const struct lbq_param_info *pi = lbq_file_param(s->f, best);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "param", pi->name);
    cJSON_AddStringToObject(o, "state", "m");
    cJSON_AddNumberToObject(o, "rows", (double)pi->shape.dim[0]);
    cJSON_AddNumberToObject(o, "cols", (double)(pi->shape.numel / pi->shape.dim[0]));
    cJSON *shp = cJSON_AddArrayToObject(o, "shape");
    for (int d = 0; d < pi->shape.rank; d++) cJSON_AddItemToArray(shp, cJSON_CreateNumber((double)pi->shape.dim[d]));
    cJSON_AddNumberToObject(o, "pool_rows", (double)h->pr[best]);
    cJSON_AddNumberToObject(o, "pool_cols", (double)h->pc[best]);
    lbq_json_add_num(o, "max_over_median", h->best_ratio);
    cJSON *vals = cJSON_AddArrayToObject(o, "values");
    for (int64_t i = 0; i < h->gr[best]; i++) {
        cJSON *row = cJSON_CreateArray();
        for (int64_t j = 0; j < h->gc[best]; j++) cJSON_AddItemToArray(row, cJSON_CreateNumber(h->grid[best][i * h->gc[best] + j]));
        cJSON_AddItemToArray(vals, row);
    }
    return o;
}

/* ---- codebooks and SOLO's swamping study (figures 6 and 4) -------------------------------------- */
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
            struct lbq_qspec q;
            struct lbq_qplan p;
            if (!lbq_qspec_supported(spec, &d, &q) || !lbq_qplan_supported(&p, &q, sg ? LBQ_ROLE_M : LBQ_ROLE_V, 2)) { cJSON_AddNullToObject(mo, sg ? "signed" : "unsigned"); continue; }
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
static int swamping_json(const struct lbq_sweep_axes *ax, const struct lbq_qdefaults *d, cJSON **out)
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

/* ---- identity (results.json "identity", docs/schema.md) ----------------------------------------- */
static const char *round_name(int r) { return r == LBQ_ROUND_STOCHASTIC ? "stochastic" : "nearest"; }

/* the fingerprint of the tensors read: FNV-1a over each parameter's name and m/v fingerprint
 * (lbq_file_fingerprint); 0 when a parameter has not been read whole */
static int file_fingerprint(const struct lbq_sweep *s, char out[17])
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int p = 0; p < s->np; p++) {
        uint64_t x;
        if (!lbq_file_fingerprint(s->f, p, &x)) return 0;
        for (const unsigned char *c = (const unsigned char *)lbq_file_param(s->f, p)->name; *c; c++) h = (h ^ *c) * 0x100000001b3ULL;
        for (int k = 0; k < 8; k++) h = (h ^ ((x >> (8 * k)) & 0xff)) * 0x100000001b3ULL;
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    return 1;
}

static char *real_path(const char *p)
{
    char *r = realpath(p, NULL);
    return r ? r : strdup(p);
}

static cJSON *identity_json(const struct lbq_sweep *s, int with_fp)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "lbq_version", LBQ_VERSION_STRING);
    cJSON *in = cJSON_AddObjectToObject(o, "input");
    char *rp = real_path(lbq_file_path(s->f));
    cJSON_AddStringToObject(in, "path", rp ? rp : lbq_file_path(s->f));
    free(rp);
    struct stat sb;
    char mt[64] = "";
    if (stat(lbq_file_path(s->f), &sb) == 0) {
        cJSON_AddNumberToObject(in, "size", (double)sb.st_size);
        snprintf(mt, sizeof mt, "%lld.%09ld", (long long)sb.st_mtim.tv_sec, (long)sb.st_mtim.tv_nsec);
        cJSON_AddStringToObject(in, "mtime", mt);
    } else {
        cJSON_AddNullToObject(in, "size");
        cJSON_AddNullToObject(in, "mtime");
    }
    cJSON_AddNumberToObject(in, "params", s->np);
    char fp[17];
    if (with_fp && file_fingerprint(s, fp)) cJSON_AddStringToObject(in, "fingerprint", fp);
    else cJSON_AddNullToObject(in, "fingerprint");
    cJSON *op = cJSON_AddObjectToObject(o, "options");
    cJSON_AddStringToObject(op, "state", s->ax.state == 0 ? "m" : s->ax.state == 1 ? "v" : "both");
    if (s->tensor_glob) cJSON_AddStringToObject(op, "tensor", s->tensor_glob); else cJSON_AddNullToObject(op, "tensor");
    cJSON_AddStringToObject(op, "m_name", s->m_name);
    cJSON_AddStringToObject(op, "v_name", s->v_name);
    cJSON_AddStringToObject(op, "round", round_name(s->d.round));
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)s->d.seed);
    cJSON_AddStringToObject(op, "seed", seed);
    cJSON_AddNumberToObject(op, "quantile", s->d.quantile);
    return o;
}

static char *jtext(const cJSON *v)
{
    if (!v) return strdup("(none)");
    if (cJSON_IsString(v)) return strdup(v->valuestring);
    if (cJSON_IsNull(v)) return strdup("(none)");
    char *t = cJSON_PrintUnformatted(v);
    return t ? t : strdup("?");
}

/* the first difference of the pre-work identity: LBQ_ERR_ARG naming it */
static int identity_compare(const struct lbq_sweep *s, const char *path, const cJSON *old, const cJSON *now)
{
    static const struct { const char *obj, *key, *what; } keys[] = {
        { NULL, "lbq_version", "lbq version" },
        { "options", "state", "--state" },
        { "options", "tensor", "--tensor" },
        { "options", "m_name", "--m-name" },
        { "options", "v_name", "--v-name" },
        { "options", "round", "--round" },
        { "options", "seed", "--seed" },
        { "options", "quantile", "--quantile" },
        { "input", "path", "input file" },
        { "input", "size", "input file size (bytes)" },
        { "input", "mtime", "input file modification time" },
        { "input", "params", "number of parameters" },
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *a = keys[i].obj ? cJSON_GetObjectItemCaseSensitive(old, keys[i].obj) : old;
        const cJSON *b = keys[i].obj ? cJSON_GetObjectItemCaseSensitive(now, keys[i].obj) : now;
        const cJSON *x = a ? cJSON_GetObjectItemCaseSensitive(a, keys[i].key) : NULL;
        const cJSON *y = b ? cJSON_GetObjectItemCaseSensitive(b, keys[i].key) : NULL;
        if (x && y && cJSON_Compare(x, y, 1)) continue;
        char *tx = jtext(x), *ty = jtext(y);
        int rc = lbq_err(LBQ_ERR_ARG, "%s: cannot --resume: %s differs: %s there, %s in this run", path, keys[i].what, tx ? tx : "?", ty ? ty : "?");
        free(tx); free(ty);
        (void)s;
        return rc;
    }
    return LBQ_OK;
}

/* ---- --resume ----------------------------------------------------------------------------------- */
static const char *const row_num_keys[] = {
    "numel", "m_rel_l2", "v_rel_l2", "v_zero_collapse", "update_rel_l2", "update_cosine", "update_blowup_frac",
    "bits_per_elem_m", "bits_per_elem_v", "v_solo_zero_blocks", "v_solo_tiny_blocks", "v_solo_zero_quantile_blocks",
};

static int num_or_null(const cJSON *o, const char *k) { const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k); return v && (cJSON_IsNumber(v) || cJSON_IsNull(v)); }

/* one configuration of the previous results, whole: NULL when sound, else what is wrong (in buf) */
static const char *conf_check(const struct lbq_sweep *s, const cJSON *it, char *buf, size_t n)
{
    static const char *const strs[] = { "label", "map", "norm" };
    for (size_t i = 0; i < 3; i++)
        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, strs[i]))) { snprintf(buf, n, "no string '%s'", strs[i]); return buf; }
    if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(it, "bits")) || !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(it, "block")))
        { snprintf(buf, n, "no number 'bits' or 'block'"); return buf; }
    for (int k = 0; k < 2; k++) {
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(it, k ? "v_spec" : "m_spec");
        if (!sp || !(cJSON_IsString(sp) || cJSON_IsNull(sp))) { snprintf(buf, n, "no '%s' (a string or null)", k ? "v_spec" : "m_spec"); return buf; }
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "totals");
    if (!cJSON_IsObject(t) || !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(t, "numel"))) { snprintf(buf, n, "no 'totals' with 'numel'"); return buf; }
    static const char *const parts[] = { "m", "v", "update" };
    for (int k = 0; k < 3; k++) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(t, parts[k]);
        if (!cJSON_IsObject(o) || !num_or_null(o, "rel_l2")) { snprintf(buf, n, "no 'totals.%s.rel_l2'", parts[k]); return buf; }
    }
    const cJSON *pa = cJSON_GetObjectItemCaseSensitive(it, "params");
    if (!cJSON_IsArray(pa)) { snprintf(buf, n, "no 'params' array"); return buf; }
    if (cJSON_GetArraySize(pa) != s->np) { snprintf(buf, n, "%d parameters, the input has %d", cJSON_GetArraySize(pa), s->np); return buf; }
    int i = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, pa) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(r, "name");
        const struct lbq_param_info *pi = lbq_file_param(s->f, i);
        if (!cJSON_IsObject(r) || !cJSON_IsString(nm)) { snprintf(buf, n, "params[%d]: no 'name'", i); return buf; }
        if (strcmp(nm->valuestring, pi->name) != 0) { snprintf(buf, n, "params[%d] is '%.200s', the input's is '%.200s'", i, nm->valuestring, pi->name); return buf; }
        for (size_t k = 0; k < sizeof row_num_keys / sizeof row_num_keys[0]; k++)
            if (!num_or_null(r, row_num_keys[k])) { snprintf(buf, n, "params[%d]: no '%s'", i, row_num_keys[k]); return buf; }
        if ((double)pi->shape.numel != cJSON_GetObjectItemCaseSensitive(r, "numel")->valuedouble)
            { snprintf(buf, n, "params[%d] ('%.200s'): numel differs from the input's", i, pi->name); return buf; }
        if (!cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(r, "kept_fp32")) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "m_plan")) ||
            !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "v_plan")))
            { snprintf(buf, n, "params[%d]: no 'kept_fp32', 'm_plan' or 'v_plan'", i); return buf; }
        i++;
    }
    return NULL;
}

/* a carried configuration that has this run's label must also be this run's configuration */
static const char *conf_same(const struct lbq_sweep_conf *sc, const cJSON *it, char *buf, size_t n)
{
    const char *mp = cJSON_GetObjectItemCaseSensitive(it, "map")->valuestring, *nm = cJSON_GetObjectItemCaseSensitive(it, "norm")->valuestring;
    if (strcmp(mp, sc->map->name) || strcmp(nm, sc->norm->name) || cJSON_GetObjectItemCaseSensitive(it, "bits")->valuedouble != sc->bits ||
        cJSON_GetObjectItemCaseSensitive(it, "block")->valuedouble != (double)sc->block)
        { snprintf(buf, n, "map, norm, bits or block differ from this run's"); return buf; }
    for (int k = 0; k < 2; k++) {
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(it, k ? "v_spec" : "m_spec");
        int has = k ? sc->c.has_v : sc->c.has_m;
        const char *want = k ? sc->c.v.text : sc->c.m.text;
        if (has != cJSON_IsString(sp) || (has && strcmp(sp->valuestring, want) != 0))
            { snprintf(buf, n, "%s differs from this run's (%s)", k ? "v_spec" : "m_spec", has ? want : "null"); return buf; }
    }
    return NULL;
}

int lbq_sweep_resume(struct lbq_sweep *s, const char *path)
{
    char *txt = lbq_read_file(path);
    if (!txt) {
        if (access(path, F_OK) != 0) return LBQ_OK;      /* nothing to resume: a fresh sweep */
        return lbq_err(LBQ_ERR_IO, "%s: cannot read it; cannot --resume", path);
    }
    cJSON *prev = cJSON_Parse(txt);
    free(txt);
    free(s->prev_path);
    s->prev_path = strdup(path);
    s->prev = prev;
    const cJSON *sch = cJSON_GetObjectItemCaseSensitive(prev, "schema");
    const cJSON *cf = cJSON_GetObjectItemCaseSensitive(prev, "configs");
    if (!prev || !cJSON_IsArray(cf) || !cJSON_IsString(sch) || strcmp(sch->valuestring, "lbq.sweep") != 0)
        return lbq_err(LBQ_ERR_FORMAT, "%s: not an lbq sweep results file; cannot --resume", path);
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(prev, "schema_version");
    if (!cJSON_IsNumber(ver) || ver->valuedouble != 3)
        return lbq_err(LBQ_ERR_FORMAT, "%s: schema version is not 3 (this lbq writes lbq.sweep/3); cannot --resume", path);
    const cJSON *old = cJSON_GetObjectItemCaseSensitive(prev, "identity");
    if (!cJSON_IsObject(old))
        return lbq_err(LBQ_ERR_FORMAT, "%s: no 'identity' block (written by an older lbq or by hand), so what produced it is unknown; cannot --resume (sweep into a new directory)", path);
    cJSON *now = identity_json(s, 0);
    if (!now) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    int rc = identity_compare(s, path, old, now);
    cJSON_Delete(now);
    if (rc) return rc;
    cJSON *hp = lbq_hparams_json(s->f);
    int same_hp = hp && cJSON_Compare(hp, cJSON_GetObjectItemCaseSensitive(prev, "hparams"), 1);
    cJSON_Delete(hp);
    if (!same_hp) return lbq_err(LBQ_ERR_ARG, "%s: cannot --resume: the input's hyper-parameters (step, betas, eps, lr) differ from its 'hparams'", path);
    int ncf = cJSON_GetArraySize(cf), k = 0;
    s->extra = calloc((size_t)(ncf ? ncf : 1), sizeof *s->extra);
    if (!s->extra) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    const cJSON *it;
    char why[600];
    cJSON_ArrayForEach(it, cf) {
        const char *bad = cJSON_IsObject(it) ? conf_check(s, it, why, sizeof why) : "not an object";
        const cJSON *lab = cJSON_GetObjectItemCaseSensitive(it, "label");
        const char *ls = cJSON_IsString(lab) ? lab->valuestring : "?";
        if (bad) return lbq_err(LBQ_ERR_FORMAT, "%s: configs[%d] ('%.100s'): %s; cannot --resume", path, k, ls, bad);
        for (int j = 0; j < s->nextra; j++)
            if (strcmp(cJSON_GetObjectItemCaseSensitive(s->extra[j], "label")->valuestring, ls) == 0)
                return lbq_err(LBQ_ERR_FORMAT, "%s: configs[%d]: label '%.100s' appears twice; cannot --resume", path, k, ls);
        int found = -1;
        for (int c = 0; c < s->nconf && found < 0; c++) if (strcmp(s->cs[c].c.label, ls) == 0) found = c;
        if (found >= 0) {
            if (s->carried[found]) return lbq_err(LBQ_ERR_FORMAT, "%s: configs[%d]: label '%.100s' appears twice; cannot --resume", path, k, ls);
            if ((bad = conf_same(&s->cs[found], it, why, sizeof why)))
                return lbq_err(LBQ_ERR_FORMAT, "%s: configs[%d] ('%.100s'): %s; cannot --resume", path, k, ls, bad);
            s->carried[found] = it;
            s->cs[found].done = 1;
        } else {
            s->extra[s->nextra++] = it;
        }
        k++;
    }
    return LBQ_OK;
}

int lbq_sweep_check_fingerprint(struct lbq_sweep *s, int read_missing)
{
    char fp[17];
    if (!s->prev) return LBQ_OK;
    if (!file_fingerprint(s, fp)) {
        if (!read_missing) return LBQ_OK;
        for (int p = 0; p < s->np; p++) { int rc = lbq_file_fingerprint_read(s->f, p); if (rc) return rc; }
        if (!file_fingerprint(s, fp)) return LBQ_OK;
    }
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(s->prev, "identity"), "input");
    const cJSON *old = cJSON_GetObjectItemCaseSensitive(in, "fingerprint");
    if (cJSON_IsString(old) && strcmp(old->valuestring, fp) == 0) return LBQ_OK;
    return lbq_err(LBQ_ERR_ARG, "%s: cannot --resume: the tensors of %s differ from those it was made from (fingerprint %s there, %s in this run)",
                   s->prev_path ? s->prev_path : "results.json", lbq_file_path(s->f), cJSON_IsString(old) ? old->valuestring : "(none)", fp);
}

/* ---- rendering ----------------------------------------------------------------------------------
 * results.json is printed as cJSON_Print would print the whole document, one configuration and one
 * row at a time: each piece is printed alone and indented to its depth (cJSON's format: an object's
 * members one tab deeper than the object, arrays on one line), at the place of a raw marker. */
#define MARK "\001"

static void put_indented(struct lbq_wstream *w, const char *t, size_t len, int depth)
{
    static const char tabs[] = "\t\t\t\t\t\t\t\t";
    char *buf = malloc(len + 1);
    if (!buf) { lbq_wstream_put_json(w, ""); return; }
    memcpy(buf, t, len);
    buf[len] = 0;
    char *p = buf;
    for (;;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        lbq_wstream_put_json(w, p);
        if (!nl) break;
        lbq_wstream_put(w, "\n", 1);
        lbq_wstream_put(w, tabs, (size_t)depth);
        p = nl + 1;
    }
    free(buf);
}

/* print o (which may hold one raw MARK) at depth; at the mark, call fill */
static int put_node(struct lbq_wstream *w, const cJSON *o, int depth, int (*fill)(void *ud, struct lbq_wstream *w), void *ud)
{
    char *t = cJSON_Print(o);
    if (!t) return lbq_err(LBQ_ERR_NOMEM, "out of memory printing JSON");
    char *m = fill ? strstr(t, MARK) : NULL;
    int rc = LBQ_OK;
    if (m) {
        put_indented(w, t, (size_t)(m - t), depth);
        rc = fill(ud, w);
        put_indented(w, m + 1, strlen(m + 1), depth);
    } else {
        put_indented(w, t, strlen(t), depth);
    }
    free(t);
    return rc;
}

struct tsvw { struct lbq_wstream *w; char line[4096], prefix[1024]; };

static void tsv_prefix(struct tsvw *tw, const char *label, const char *map, const char *norm, int bits, long long block, int has_m, int has_v)
{
    snprintf(tw->prefix, sizeof tw->prefix, "%s\t%s\t%s\t%d\t%lld\t%s", label, map, norm, bits, block, has_m ? (has_v ? "both" : "m") : "v");
}

static void tsv_row(struct tsvw *tw, const struct lbq_param_row *r, int as_stored)
{
    int n = lbq_param_row_tsv(tw->line, sizeof tw->line, tw->prefix, r, as_stored);
    if (n >= (int)sizeof tw->line) n = (int)sizeof tw->line - 1;
    if (n > 0) lbq_wstream_put(tw->w, tw->line, (size_t)n);
}

struct conf_fill { struct lbq_sweep *s; int c; struct tsvw *tw; };

static int fill_rows(void *ud, struct lbq_wstream *w)
{
    struct conf_fill *x = ud;
    struct lbq_param_row row;
    lbq_wstream_put(w, "[", 1);
    for (int p = 0; p < x->s->np; p++) {
        int rc = rec_get(x->s, x->c, p, &row);
        if (rc) return rc;
        if (x->s->sampled && x->s->exact[x->c]) row.ci_mode = 2;      /* --sample: re-run exactly */
        if (x->tw) tsv_row(x->tw, &row, 1);
        if (!w) continue;
        if (p) lbq_wstream_put(w, ", ", 2);
        cJSON *o = lbq_param_row_json(&row);
        if (!o) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
        if (x->s->groups) cJSON_AddStringToObject(o, "group", lbq_groups_name(x->s->groups, x->s->group_of[p]));
        rc = put_node(w, o, 4, NULL, NULL);
        cJSON_Delete(o);
        if (rc) return rc;
    }
    lbq_wstream_put(w, "]", 1);
    return LBQ_OK;
}

struct row_src { struct lbq_sweep *s; int c; };
static int row_get(void *ud, int k, struct lbq_param_row *r)
{
    const struct row_src *x = ud;
    return rec_get(x->s, x->c, k, r);
}

/* an evaluated configuration's object; params: a raw marker, or left out (summary); with groups,
 * its aggregates and groups (src/analysis.c), and the aggregate rows of results.tsv in tsv[] */
static cJSON *conf_json(struct lbq_sweep *s, int c, int with_params, struct lbq_param_row *tsv, int *ntsv)
{
    const struct lbq_sweep_conf *sc = &s->cs[c];
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
    if (sc->recipe) cJSON_AddStringToObject(o, "recipe", sc->recipe->name);
    if (sc->m_recipe) cJSON_AddStringToObject(o, "m_from_recipe", sc->m_recipe->name);
    double el = s->el[c], bm = el > 0 ? s->bm[c] / el : NAN, bv = el > 0 ? s->bv[c] / el : NAN;
    cJSON *t = lbq_acc_json(&s->tot[c], NULL, NULL, 1);
    cJSON_AddNumberToObject(t, "numel", el);
    lbq_json_add_num(t, "bits_per_elem_m", bm);
    lbq_json_add_num(t, "bits_per_elem_v", bv);
    if (s->sampled && !s->exact[c]) {
        struct lbq_ci *ci = malloc(sizeof *ci * LBQ_SM_COUNT);
        if (ci) { lbq_sample_ci(&s->stot[c], 1.0, ci); cJSON_AddItemToObject(t, "ci", lbq_sample_ci_json(ci)); }
        free(ci);
    }
    cJSON_AddItemToObject(o, "totals", t);
    if (s->sampled) cJSON_AddBoolToObject(o, "sampled", !s->exact[c]);
    if (ntsv) *ntsv = 0;
    if (s->groups) {
        double pooled[LBQ_NMET];
        struct row_src rs = { s, c };
        lbq_pooled_values(&s->tot[c], bm, bv, sc->c.has_m, sc->c.has_v, pooled);
        if (lbq_conf_aggregates(s->np, row_get, &rs, s->group_of, s->groups, s->gpool + (size_t)c * (size_t)s->ng,
                                pooled, (int64_t)el, o, tsv, ntsv)) { cJSON_Delete(o); return NULL; }
    }
    if (with_params) cJSON_AddRawToObject(o, "params", MARK);
    return o;
}

/* a carried configuration's TSV rows, rebuilt from its JSON */
static void tsv_carried(struct tsvw *tw, const cJSON *it, int has_m, int has_v)
{
    struct lbq_param_row row;
    const cJSON *pr, *tj = cJSON_GetObjectItemCaseSensitive(it, "totals");
    cJSON_ArrayForEach(pr, cJSON_GetObjectItemCaseSensitive(it, "params")) {
        lbq_param_row_from_json(&row, pr);
        tsv_row(tw, &row, 1);
    }
    if (cJSON_IsObject(tj)) {
        lbq_total_row_from_json(&row, tj, has_m, has_v);
        tsv_row(tw, &row, 1);
    }
}

struct doc_fill { struct lbq_sweep *s; struct tsvw *tw; };

/* the configs array: this list's configurations (carried or evaluated), then the earlier run's
 * configurations that are not in this list */
static int fill_configs(void *ud, struct lbq_wstream *w)
{
    struct doc_fill *x = ud;
    struct lbq_sweep *s = x->s;
    int first = 1, rc = LBQ_OK;
    lbq_wstream_put(w, "[", 1);
    for (int c = 0; c < s->nconf && !rc; c++) {
        const struct lbq_sweep_conf *sc = &s->cs[c];
        if (!sc->done && !sc->evaluated) continue;
        if (!first) lbq_wstream_put(w, ", ", 2);
        first = 0;
        tsv_prefix(x->tw, sc->c.label, sc->map->name, sc->norm->name, sc->bits, (long long)sc->block, sc->c.has_m, sc->c.has_v);
        if (sc->done) {
            rc = put_node(w, s->carried[c], 2, NULL, NULL);
            tsv_carried(x->tw, s->carried[c], sc->c.has_m, sc->c.has_v);
            continue;
        }
        struct lbq_param_row *arows = malloc(sizeof *arows * (size_t)(4 + 4 * s->ng));
        int narows = 0;
        cJSON *o = arows ? conf_json(s, c, 1, arows, &narows) : NULL;
        if (!o) { free(arows); return lbq_err(LBQ_ERR_NOMEM, "out of memory"); }
        struct conf_fill cf = { s, c, x->tw };
        rc = put_node(w, o, 2, fill_rows, &cf);
        cJSON_Delete(o);
        double el = s->el[c];
        struct lbq_param_row total;
        lbq_total_row(&total, &s->tot[c], el, el > 0 ? s->bm[c] / el : NAN, el > 0 ? s->bv[c] / el : NAN, sc->c.has_m, sc->c.has_v);
        if (s->sampled && !s->exact[c]) {
            struct lbq_ci *ci = malloc(sizeof *ci * LBQ_SM_COUNT);
            if (!ci) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
            lbq_sample_ci(&s->stot[c], 1.0, ci);
            lbq_param_row_set_ci(&total, ci);
            free(ci);
        } else if (s->sampled) total.ci_mode = 2;
        tsv_row(x->tw, &total, 0);
        for (int k = 0; k < narows; k++) tsv_row(x->tw, &arows[k], 0);     /* TOTAL:STAT, GROUP:NAME:STAT */
        free(arows);
    }
    for (int k = 0; k < s->nextra && !rc; k++) {
        const cJSON *it = s->extra[k];
        if (!first) lbq_wstream_put(w, ", ", 2);
        first = 0;
        int has_m = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "m_spec")), has_v = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "v_spec"));
        tsv_prefix(x->tw, cJSON_GetObjectItemCaseSensitive(it, "label")->valuestring, cJSON_GetObjectItemCaseSensitive(it, "map")->valuestring,
                   cJSON_GetObjectItemCaseSensitive(it, "norm")->valuestring, (int)cJSON_GetObjectItemCaseSensitive(it, "bits")->valuedouble,
                   (long long)cJSON_GetObjectItemCaseSensitive(it, "block")->valuedouble, has_m, has_v);
        rc = put_node(w, it, 2, NULL, NULL);
        tsv_carried(x->tw, it, has_m, has_v);
    }
    lbq_wstream_put(w, "]", 1);
    return rc;
}

static const char tsv_head[] = "config\tmap\tnorm\tbits\tblock\tstates\tparam\tnumel\tm_rel_l2\tv_rel_l2\tv_zero_collapse\tupdate_rel_l2\tupdate_cosine\tupdate_blowup_frac\tbits_per_elem_m\tbits_per_elem_v\tv_solo_zero_blocks\tv_solo_tiny_blocks\tv_solo_zero_quantile_blocks"
                                "\tm_zero_kept\tm_zero_lifted\tm_nonzero_collapsed\tm_lifted_uh_share"
                                "\tv_zero_kept\tv_zero_lifted\tv_nonzero_collapsed\tv_lifted_uh_share\n";

/* the document's top level; configs: a raw marker (the stream) or the summary's array */
static int doc_json(struct lbq_sweep *s, int final, int noswamp, int summary, cJSON **out)
{
    const struct lbq_sweep_axes *ax = &s->ax;
    cJSON *root = cJSON_CreateObject();
    if (!root) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    cJSON_AddStringToObject(root, "schema", "lbq.sweep");
    cJSON_AddNumberToObject(root, "schema_version", 3);
    cJSON_AddStringToObject(root, "ranking_statistic", lbq_agg_key[LBQ_AGG_RANK]);
    cJSON_AddStringToObject(root, "lbq_version", LBQ_VERSION_STRING);
    cJSON_AddStringToObject(root, "file", lbq_file_path(s->f));
    cJSON_AddItemToObject(root, "identity", identity_json(s, 1));
    cJSON_AddItemToObject(root, "hparams", lbq_hparams_json(s->f));
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
    if (s->sampled) {       /* what was sampled, and which configurations were re-run exactly */
        cJSON *sj = cJSON_AddObjectToObject(root, "sample");
        cJSON_AddNumberToObject(sj, "fraction", s->smp.frac);
        cJSON_AddNumberToObject(sj, "seed", (double)s->smp.seed);
        cJSON_AddNumberToObject(sj, "groups", LBQ_SAMPLE_GROUPS);
        cJSON_AddNumberToObject(sj, "level", 0.95);
        int64_t dr = 0, ne = 0;
        for (int c = 0; c < s->nconf; c++) if (s->cs[c].evaluated) { dr = s->stot[c].drawn; ne = s->stot[c].numel; break; }
        cJSON_AddNumberToObject(sj, "elements_drawn", (double)dr);
        cJSON_AddNumberToObject(sj, "elements", (double)ne);
        cJSON_AddStringToObject(sj, "exact_rule", "update rel_l2 vs bits per element: re-run exactly unless some configuration with no more bits has its upper bound below this one's lower bound");
        cJSON *ex = cJSON_AddArrayToObject(sj, "reevaluated_exact");
        for (int c = 0; c < s->nconf; c++) if (s->exact[c]) cJSON_AddItemToArray(ex, cJSON_CreateString(s->cs[c].c.label));
        lbq_json_add_num(sj, "seconds_sampled", s->t_sampled);
        lbq_json_add_num(sj, "seconds_exact", s->t_exact);
    }
    if (!summary) {
        cJSON_AddRawToObject(root, "configs", MARK);
    } else {
        cJSON *cj = cJSON_AddArrayToObject(root, "configs");
        for (int c = 0; c < s->nconf; c++) {
            if (s->cs[c].done) {
                cJSON *d = cJSON_Duplicate(s->carried[c], 1);
                cJSON_DeleteItemFromObjectCaseSensitive(d, "params");
                cJSON_AddItemToArray(cj, d);
            } else if (s->cs[c].evaluated) {
                cJSON_AddItemToArray(cj, conf_json(s, c, 0, NULL, NULL));
            }
        }
        for (int k = 0; k < s->nextra; k++) {
            cJSON *d = cJSON_Duplicate(s->extra[k], 1);
            cJSON_DeleteItemFromObjectCaseSensitive(d, "params");
            cJSON_AddItemToArray(cj, d);
        }
    }
    cJSON_AddItemToObject(root, "codebooks", codebooks_json(ax->nbits == 1 ? ax->bits[0] : 4));
    cJSON_AddItemToObject(root, "heatmap", heatmap_json(s));
    if (final && !noswamp) {
        cJSON *sw = NULL;
        int rc = swamping_json(ax, &s->d, &sw);
        if (rc) { cJSON_Delete(root); return rc; }
        cJSON_AddItemToObject(root, "swamping", sw);
    } else if (s->prev && cJSON_GetObjectItemCaseSensitive(s->prev, "swamping")) {
        cJSON_AddItemToObject(root, "swamping", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(s->prev, "swamping"), 1));
    }
    cJSON *tj = cJSON_AddObjectToObject(root, "timing");
    lbq_json_add_num(tj, "seconds", now_s() - s->t0);
    cJSON_AddNumberToObject(tj, "threads", lbq_threads());
    int64_t rm = s->reads_other[0], rv = s->reads_other[1];
    for (int i = 0; i < s->np; i++) { rm += lbq_file_elems_read(s->f, i, LBQ_DS_M); rv += lbq_file_elems_read(s->f, i, LBQ_DS_V); }
    cJSON_AddNumberToObject(tj, "elements", (double)s->total_el);
    cJSON_AddNumberToObject(tj, "elements_read_m", (double)rm);
    cJSON_AddNumberToObject(tj, "elements_read_v", (double)rv);
    *out = root;
    return LBQ_OK;
}

int lbq_sweep_write(struct lbq_sweep *s, const char *dir, int final, int noswamp, cJSON **summary)
{
    if (summary) *summary = NULL;
    size_t pl = strlen(dir) + 32;
    char *pj = malloc(pl), *pt = malloc(pl);
    struct lbq_wstream *wj = NULL;
    struct tsvw *tw = calloc(1, sizeof *tw);
    cJSON *root = NULL;
    int rc = LBQ_OK;
    if (!pj || !pt || !tw) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto done; }
    snprintf(pj, pl, "%s/results.json", dir);
    snprintf(pt, pl, "%s/results.tsv", dir);
    if ((rc = lbq_sweep_check_fingerprint(s, 1))) goto done;
    if ((rc = doc_json(s, final, noswamp, 0, &root))) goto done;
    if ((rc = lbq_wstream_open(pj, &wj))) goto done;
    if ((rc = lbq_wstream_open(pt, &tw->w))) goto done;
    lbq_wstream_put(tw->w, tsv_head, sizeof tsv_head - 2);          /* --sample: the interval columns too */
    if (s->sampled) lbq_wstream_put(tw->w, lbq_param_row_tsv_ci_head, strlen(lbq_param_row_tsv_ci_head));
    lbq_wstream_put(tw->w, "\n", 1);
    struct doc_fill df = { s, tw };
    rc = put_node(wj, root, 0, fill_configs, &df);
    lbq_wstream_put(wj, "\n", 1);
    if (rc) goto done;
    struct lbq_wstream *w = wj;
    wj = NULL;
    if ((rc = lbq_wstream_commit(w))) goto done;
    w = tw->w;
    tw->w = NULL;
    if ((rc = lbq_wstream_commit(w))) goto done;
    if (summary) {
        cJSON *sum = NULL;
        if ((rc = doc_json(s, 0, 1, 1, &sum))) goto done;
        /* the swamping runs just written, not computed again */
        cJSON *sw = cJSON_DetachItemFromObjectCaseSensitive(root, "swamping");
        cJSON_DeleteItemFromObjectCaseSensitive(sum, "swamping");
        if (sw) cJSON_AddItemToObject(sum, "swamping", sw);
        *summary = sum;
    }
done:
    if (wj) lbq_wstream_abort(wj);
    if (tw && tw->w) lbq_wstream_abort(tw->w);
    cJSON_Delete(root);
    free(tw); free(pj); free(pt);
    return rc;
}

int lbq_sweep_written(const struct lbq_sweep *s)
{
    int n = s->nextra;
    for (int c = 0; c < s->nconf; c++) n += s->cs[c].done || s->cs[c].evaluated;
    return n;
}
