/* cuda-selftest.c - agreement checks: the CUDA backend (lbq_cuda_qdq) against the CPU reference
 * (lbq_qdq), bit for bit, and device-free consistency checks of the CPU reference itself, over every
 * registered map x normalization (so a new map or normalization is covered without editing this
 * file).  Plain C, no CUDA types: in CUDA builds it is a source of the lbqcuda target, in CPU-only
 * builds cuda-stub.c includes it, so `lbq selftest` runs the CPU checks everywhere. */
#include "lbq-impl.h"
#include "lbq-cuda.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the case set ------------------------------------------------------------------------------ */
struct st_shape { int rank; int64_t dim[3]; };
static const struct st_shape g_shapes[] = {
    { 1, { 1 } }, { 1, { 3 } }, { 1, { 127 } }, { 1, { 129 } }, { 1, { 1023 } }, { 1, { 4099 } },
    { 2, { 1, 1 } }, { 2, { 3, 43 } }, { 2, { 129, 33 } }, { 3, { 3, 5, 7 } }, { 3, { 5, 9, 91 } },
};
#define ST_NSHAPES ((int)(sizeof g_shapes / sizeof g_shapes[0]))
#define ST_MAXN 4352                    /* >= every numel above ([129, 33]: 4257) */
static const int g_quick_shapes[] = { 1, 3, 5, 7, 10 };   /* 3, 129, 4099, [3,43], [5,9,91] */
#define ST_NQUICK_SHAPES ((int)(sizeof g_quick_shapes / sizeof g_quick_shapes[0]))

/* block sizes: 1, odd, a warp, the usual ones, > 512 (whole-CUDA-block teams), > every tensor */
static const int64_t g_blocks[] = { 1, 5, 32, 128, 1000, 2048, 8192 };
static const int64_t g_quick_blocks[] = { 1, 128, 1000 };
static const int g_bits[] = { 1, 2, 3, 4, 5, 8 };
static const int g_quick_bits[] = { 2, 4, 8 };

enum { PAT_NORMAL, PAT_SPECIAL, PAT_ZERO, PAT_DENORMAL, PAT_COUNT };
static const char *const g_pat_names[PAT_COUNT] = { "normal", "special", "zeros", "denormals" };

/* per map: option variants beyond the plain spec */
struct st_variant { const char *opt; int bits_only; int block_only; };

struct st_ctx {
    const struct lbq_selftest_opts *o;
    struct lbq_selftest_result *r;
    int reported;
    int64_t ncase;              /* running case number (the GPU piece size alternates with it) */
    uint64_t rng;
    char map_file[64];
    float x[ST_MAXN], xh[ST_MAXN], xh2[ST_MAXN], xg[ST_MAXN], sc[ST_MAXN], bp[2 * ST_MAXN + 2], scr[ST_MAXN];
    uint8_t c[ST_MAXN], c2[ST_MAXN], cg[ST_MAXN];
};

static double st_uniform(struct st_ctx *c)
{
    c->rng ^= c->rng >> 12; c->rng ^= c->rng << 25; c->rng ^= c->rng >> 27;
    return (double)((c->rng * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}

/* m-like (signed) or v-like (non-negative) values with a spread of magnitudes */
static float st_value(struct st_ctx *c, int is_v)
{
    double u = st_uniform(c) * 2.0 - 1.0, mag = exp(-6.0 * st_uniform(c));
    double m = u * mag * 1e-3;
    return (float)(is_v ? m * m * 1e3 : m);
}

static void st_generate(struct st_ctx *c, int pat, int is_v, int64_t n)
{
    float *x = c->x;
    switch (pat) {
    case PAT_NORMAL:
        for (int64_t i = 0; i < n; i++) x[i] = st_value(c, is_v);
        break;
    case PAT_SPECIAL:
        for (int64_t i = 0; i < n; i++) {
            float v = st_value(c, is_v);
            if (i < 300) v = (i % 2) ? -0.0f : 0.0f;                    /* all-zero leading blocks */
            else if (i % 7 == 3) v = (float)(1 + i % 5) * 1e-40f;       /* denormals */
            else if (i % 11 == 5) v = lbq_u2f(0x7fc00000u);             /* NaN */
            else if (i % 13 == 6) v = LBQ_INF;
            else if (i % 17 == 8) v = -LBQ_INF;
            else if (i % 5 == 2) v = (float)(i % 16) * (1.0f / 16.0f) * 1e-3f;   /* on a dyadic grid: ties */
            x[i] = (is_v && !(i % 17 == 8)) ? lbq_absf(v) : v;
        }
        if (n > 0) x[n / 2] = is_v ? 1e3f : -1e3f;                      /* one outlier */
        if (n > 301) x[n - 1] = 5e-4f;                                   /* the ragged end is not empty */
        break;
    case PAT_ZERO:
        for (int64_t i = 0; i < n; i++) x[i] = (i % 3 == 1) ? -0.0f : 0.0f;
        break;
    default:    /* denormals only: absmax, scales and quantiles in the subnormal range */
        for (int64_t i = 0; i < n; i++) {
            uint32_t mant = 1u + (uint32_t)(st_uniform(c) * 8388606.0);
            float v = lbq_u2f(mant);
            x[i] = (!is_v && st_uniform(c) < 0.5) ? -v : v;
        }
        break;
    }
}

/* ---- reporting ------------------------------------------------------------------------------- */
struct st_case {
    const struct lbq_qplan *p;
    const char *role, *pat;
    char shape[48];
};

static void st_report(struct st_ctx *c, const char *what, const struct st_case *k, int64_t i,
                      const uint8_t *c_ref, const float *x_ref, const uint8_t *c_got, const float *x_got)
{
    if (!c->o->out || c->reported >= c->o->max_report) return;
    c->reported++;
    fprintf(c->o->out, "lbq selftest: %s: %s (%s) shape %s data %s: element %lld x=%.9g [%08x]: "
            "reference code %d xhat %.9g [%08x], got code %d xhat %.9g [%08x]\n",
            what, k->p->spec.text, k->role, k->shape, k->pat, (long long)i, (double)c->x[i], lbq_f2u(c->x[i]),
            c_ref ? c_ref[i] : -1, (double)x_ref[i], lbq_f2u(x_ref[i]),
            c_got ? c_got[i] : -1, (double)x_got[i], lbq_f2u(x_got[i]));
}

/* Elements whose code (when both are given) or value bits differ; the first are reported. */
static int64_t st_compare(struct st_ctx *c, const char *what, const struct st_case *k, int64_t n,
                          const uint8_t *c_ref, const float *x_ref, const uint8_t *c_got, const float *x_got)
{
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        int differ = lbq_f2u(x_ref[i]) != lbq_f2u(x_got[i]) || (c_ref && c_got && c_ref[i] != c_got[i]);
        if (!differ) continue;
        st_report(c, what, k, i, c_ref, x_ref, c_got, x_got);
        bad++;
    }
    return bad;
}

/* Range split used by the chunked runs: whole blocks for blockwise norms, odd pieces otherwise. */
static int64_t st_chunk(const struct lbq_qplan *p, int64_t n)
{
    if (p->norm->blockwise) {
        int64_t nb = (n + p->block - 1) / p->block;
        return p->block * (nb >= 3 ? nb / 3 : 1);
    }
    return n / 3 + 1;
}

/* ---- CPU consistency checks ------------------------------------------------------------------ */
static int st_cpu_checks(struct st_ctx *c, const struct st_case *k, const struct lbq_tstats *st, int64_t n)
{
    const struct lbq_qplan *p = k->p;
    int64_t bad = 0;
    /* 1. chunked ranges give the whole-range result */
    const int64_t ch = st_chunk(p, n);
    for (int64_t o = 0; o < n; o += ch) {
        int64_t len = (n - o < ch) ? n - o : ch;
        int rc = lbq_qdq(p, st, o, len, c->x + o, c->xh2 + o, c->c2 + o, c->scr + o, NULL, NULL);
        if (rc != LBQ_OK) return rc;
    }
    bad += st_compare(c, "cpu chunked != whole", k, n, c->c, c->xh, c->c2, c->xh2);
    /* 2. the engine's call (no codes, scratch instead of scales) gives the same values */
    int rc = lbq_qdq(p, st, 0, n, c->x, c->xh2, NULL, NULL, NULL, c->scr);
    if (rc != LBQ_OK) return rc;
    bad += st_compare(c, "cpu without codes != with codes", k, n, NULL, c->xh, NULL, c->xh2);
    /* 3. every value decodes from its code and the stored scale / block parameter */
    const struct lbq_map *m = p->spec.map;
    int decodable = 1;
    for (int64_t i = 0; i < n; i++) {
        int code = c->c[i];
        if (m->build) c->xh2[i] = (code < p->nlev) ? p->q[code] * c->sc[i] : -LBQ_INF;
        else if (m->kind == LBQ_MAP_LOG)
            c->xh2[i] = (code <= (1 << p->bits) - 1) ? lbq_log_level(c->bp[i / p->block], code) * c->sc[i] : -LBQ_INF;
        else if (lbq_map_is_fp8(m) && !p->spec.dre)
            c->xh2[i] = lbq_fp8_value(code, m->kind == LBQ_MAP_FP8_E5M2) * c->sc[i];
        else { decodable = 0; break; }          /* COAT groups: value needs k and g as well */
    }
    if (decodable) bad += st_compare(c, "cpu value != decode(code, scale)", k, n, NULL, c->xh, NULL, c->xh2);
    c->r->cpu_failures += bad;
    return LBQ_OK;
}

/* ---- GPU comparison --------------------------------------------------------------------------- */
static int st_cuda_checks(struct st_ctx *c, const struct st_case *k, const struct lbq_tstats *st, int64_t n)
{
    const struct lbq_qplan *p = k->p;
    /* odd cases stream in small pieces (several per call, both streams), even cases in one */
    lbq_cuda_set_piece_elems((c->ncase & 1) ? (p->norm->blockwise ? 2 * p->block : 301) : 0);
    int64_t bad = 0;
    int rc = lbq_cuda_qdq(p, st, 0, n, c->x, c->xg, c->cg);
    if (rc == LBQ_ERR_CUDA) return rc;
    if (rc != LBQ_OK) {                         /* a map or normalization without a kernel */
        if (c->o->out && c->reported < c->o->max_report) {
            c->reported++;
            fprintf(c->o->out, "lbq selftest: cuda: %s (%s): %s\n", p->spec.text, k->role, lbq_errmsg());
        }
        c->r->cuda_mismatches += n;
        c->r->cuda_cases++;
        return LBQ_OK;
    }
    bad += st_compare(c, "cuda != cpu", k, n, c->c, c->xh, c->cg, c->xg);
    /* the engine's call: a range in chunks, no codes */
    const int64_t ch = st_chunk(p, n);
    for (int64_t o = 0; o < n; o += ch) {
        int64_t len = (n - o < ch) ? n - o : ch;
        rc = lbq_cuda_qdq(p, st, o, len, c->x + o, c->xg + o, NULL);
        if (rc != LBQ_OK) return rc;
    }
    bad += st_compare(c, "cuda chunked != cpu", k, n, NULL, c->xh, NULL, c->xg);
    c->r->cuda_mismatches += bad;
    c->r->cuda_cases++;
    return LBQ_OK;
}

/* One plan on one shape: every data pattern. */
static int st_run_shape(struct st_ctx *c, const struct lbq_qspec *qs, enum lbq_role role, const struct st_shape *shp)
{
    struct lbq_shape sh;
    memset(&sh, 0, sizeof sh);
    sh.rank = shp->rank;
    sh.numel = 1;
    for (int d = 0; d < shp->rank; d++) { sh.dim[d] = shp->dim[d]; sh.numel *= shp->dim[d]; }
    const int64_t n = sh.numel;
    if (n > ST_MAXN) return lbq_err(LBQ_ERR_ARG, "selftest: internal: shape of %lld elements > ST_MAXN", (long long)n);
    struct lbq_qplan p;
    int rc = lbq_qplan_init(&p, qs, role, sh.rank);
    if (rc == LBQ_ERR_ARG) { c->r->skipped++; return LBQ_OK; }     /* not defined here (bits, sign) */
    if (rc != LBQ_OK) return rc;
    struct lbq_tstats st;
    rc = lbq_tstats_init(&st, &sh);
    if (rc != LBQ_OK) return rc;
    struct st_case k;
    k.p = &p;
    k.role = (role == LBQ_ROLE_M) ? "m" : "v";
    lbq_shape_str(&sh, k.shape, sizeof k.shape);
    for (int pat = 0; pat < PAT_COUNT && rc == LBQ_OK; pat++) {
        c->rng = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(c->ncase * 7919 + 1);
        st_generate(c, pat, role == LBQ_ROLE_V, n);
        k.pat = g_pat_names[pat];
        lbq_tstats_reset(&st);
        lbq_tstats_add(&st, 0, n, c->x);
        rc = lbq_qdq(&p, &st, 0, n, c->x, c->xh, c->c, c->sc, c->bp, NULL);
        if (rc != LBQ_OK) break;
        c->r->cases++;
        c->r->elems += n;
        if (c->o->cpu) rc = st_cpu_checks(c, &k, &st, n);
        if (rc == LBQ_OK && c->o->cuda) rc = st_cuda_checks(c, &k, &st, n);
        c->ncase++;
    }
    lbq_tstats_free(&st);
    return rc;
}

static int st_write_map_file(struct st_ctx *c)
{
    snprintf(c->map_file, sizeof c->map_file, "/tmp/lbq-selftest-XXXXXX");
    int fd = mkstemp(c->map_file);
    if (fd < 0) { c->map_file[0] = 0; return lbq_err(LBQ_ERR_IO, "selftest: cannot create a temporary codebook in /tmp"); }
    static const char levels[] = "# lbq selftest codebook: 11 uneven levels\n"
                                 "-1 -0.6 -0.25 -0.05 0 0.02 0.1 0.3333 0.5 0.75 1\n";
    ssize_t w = write(fd, levels, sizeof levels - 1);
    close(fd);
    if (w != (ssize_t)(sizeof levels - 1)) return lbq_err(LBQ_ERR_IO, "selftest: cannot write %s", c->map_file);
    return LBQ_OK;
}

static int st_run_all(struct st_ctx *c)
{
    const int quick = c->o->quick;
    const int64_t *blocks = quick ? g_quick_blocks : g_blocks;
    const int nblocks = quick ? (int)(sizeof g_quick_blocks / sizeof g_quick_blocks[0]) : (int)(sizeof g_blocks / sizeof g_blocks[0]);
    const int *bitsv = quick ? g_quick_bits : g_bits;
    const int nbits = quick ? (int)(sizeof g_quick_bits / sizeof g_quick_bits[0]) : (int)(sizeof g_bits / sizeof g_bits[0]);
    for (int mi = 0; mi < lbq_map_count(); mi++) {
        const struct lbq_map *m = lbq_map_at(mi);
        const int one_width = m->fixed_bits || m->user_levels;
        /* options that select other code paths: ':nz' tables, ':dre' fp8 groups, another quantile */
        struct st_variant var[3] = { { "", 0, 0 } };
        int nvar = 1;
        if (m->build) var[nvar++] = (struct st_variant){ ":nz", 4, 0 };
        if (m->qdq && m->nparams && !m->needs_block) var[nvar++] = (struct st_variant){ ":dre", 0, 1 };
        if (m->qdq && m->needs_block) var[nvar++] = (struct st_variant){ ":p0.5", 2, 0 };
        for (int ni = 0; ni < lbq_norm_count(); ni++) {
            const struct lbq_norm *nm = lbq_norm_at(ni);
            const int nbl = nm->blockwise ? nblocks : 1;
            for (int bi = 0; bi < nbl; bi++)
            for (int vi = 0; vi < nvar; vi++) {
                if (var[vi].block_only && !nm->blockwise) continue;
                for (int bti = 0; bti < nbits; bti++) {
                    int bits = bitsv[bti];
                    if (one_width) {                    /* fp8: 8 bits; file: from the codebook */
                        if (bti > 0) break;
                        bits = m->fixed_bits ? m->fixed_bits : 4;
                    } else if (bits < m->min_bits || bits > m->max_bits) continue;
                    if (var[vi].bits_only && bits != var[vi].bits_only) continue;
                    for (int rnd = 0; rnd < 2; rnd++)
                    for (int role = 0; role < 2; role++) {
                        struct lbq_qdefaults d;
                        lbq_qdefaults_init(&d);
                        d.bits = bits;
                        d.block = nm->blockwise ? blocks[bi] : 128;
                        d.round = rnd ? LBQ_ROUND_STOCHASTIC : LBQ_ROUND_NEAREST;
                        d.seed = 0x5EEDull + (uint64_t)bits;
                        d.map_file = c->map_file;
                        char text[96];
                        snprintf(text, sizeof text, "%s-%s%s", nm->name, m->name, var[vi].opt);
                        struct lbq_qspec qs;
                        int rc = lbq_qspec_parse(text, &d, &qs);
                        if (rc == LBQ_ERR_ARG) { c->r->skipped++; continue; }  /* e.g. log needs block */
                        if (rc != LBQ_OK) return rc;
                        /* shapes: 2-D/3-D only where the normalization reads the shape */
                        const int multi = nm->global_stats && nm->min_rank >= 2;
                        const int nsh = quick ? ST_NQUICK_SHAPES : ST_NSHAPES;
                        for (int si = 0; si < nsh; si++) {
                            const struct st_shape *shp = &g_shapes[quick ? g_quick_shapes[si] : si];
                            if (shp->rank > 1 && !multi) continue;
                            rc = st_run_shape(c, &qs, (enum lbq_role)role, shp);
                            if (rc != LBQ_OK) return rc;
                        }
                    }
                }
            }
        }
    }
    return LBQ_OK;
}

int lbq_selftest(const struct lbq_selftest_opts *o, struct lbq_selftest_result *r)
{
    memset(r, 0, sizeof *r);
    if (o->cuda) {
        int rc = lbq_cuda_check();
        if (rc != LBQ_OK) return rc;
    }
    struct st_ctx *c = calloc(1, sizeof *c);
    if (!c) return lbq_err(LBQ_ERR_NOMEM, "selftest: out of memory");
    c->o = o;
    c->r = r;
    int rc = st_write_map_file(c);
    int64_t old_piece = 0;
    if (rc == LBQ_OK && o->cuda) old_piece = lbq_cuda_set_piece_elems(0);
    if (rc == LBQ_OK) rc = st_run_all(c);
    if (o->cuda) lbq_cuda_set_piece_elems(old_piece);
    if (c->map_file[0]) remove(c->map_file);
    if (rc == LBQ_OK && o->out) {
        if (o->cpu)
            fprintf(o->out, "lbq selftest: cpu: %lld cases, %lld elements (%lld combinations not defined): %s%lld failures\n",
                    (long long)r->cases, (long long)r->elems, (long long)r->skipped,
                    r->cpu_failures ? "" : "ok, ", (long long)r->cpu_failures);
        if (o->cuda)
            fprintf(o->out, "lbq selftest: cuda: %lld cases against the cpu: %s%lld mismatched elements\n",
                    (long long)r->cuda_cases, r->cuda_mismatches ? "" : "all codes and values agree bit for bit, ",
                    (long long)r->cuda_mismatches);
    }
    free(c);
    return rc;
}

int lbq_cuda_selftest(FILE *out, int max_report)
{
    struct lbq_selftest_opts o = { 0, 1, 0, max_report, out };
    struct lbq_selftest_result r;
    int rc = lbq_selftest(&o, &r);
    if (rc != LBQ_OK) return rc;
    if (r.cuda_mismatches)
        return lbq_err(LBQ_ERR_DATA, "%lld elements differ between the CPU and CUDA in %lld cases",
                       (long long)r.cuda_mismatches, (long long)r.cuda_cases);
    return LBQ_OK;
}

int lbq_cuda_selftest_big(int64_t n, FILE *out)
{
    int rc = lbq_cuda_check();
    if (rc != LBQ_OK) return rc;
    if (n < 1) return lbq_err(LBQ_ERR_ARG, "selftest --big: %lld elements", (long long)n);
    struct lbq_qspec qs;
    struct lbq_qplan p;
    rc = lbq_qspec_parse("block128-dtree:b4:sr", NULL, &qs);
    if (rc == LBQ_OK) rc = lbq_qplan_init(&p, &qs, LBQ_ROLE_M, 1);
    if (rc != LBQ_OK) return rc;
    float *x = malloc(sizeof(float) * (size_t)n), *xc = malloc(sizeof(float) * (size_t)n);
    float *xg = malloc(sizeof(float) * (size_t)n);
    if (!x || !xc || !xg) { free(x); free(xc); free(xg); return lbq_err(LBQ_ERR_NOMEM, "selftest --big: out of memory for 3 x %lld floats", (long long)n); }
    const int64_t R = (int64_t)1 << 24;           /* a multiple of the block */
    const int64_t nr = (n + R - 1) / R;
    int bad_rc = LBQ_OK;
    #pragma omp parallel for schedule(dynamic, 1)
    for (int64_t r = 0; r < nr; r++) {
        int64_t o = r * R, len = (n - o < R) ? n - o : R;
        uint64_t z = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(r + 1) * 0xBF58476D1CE4E5B9ULL;
        for (int64_t i = 0; i < len; i++) {
            z ^= z >> 12; z ^= z << 25; z ^= z >> 27;
            double u = (double)((z * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
            x[o + i] = (float)((u - 0.5) * 1e-3 * ((i % 1000) == 7 ? 50.0 : 1.0));
        }
        float *scr = malloc(sizeof(float) * (size_t)len);
        int e = scr ? lbq_qdq(&p, NULL, o, len, x + o, xc + o, NULL, NULL, NULL, scr) : LBQ_ERR_NOMEM;
        free(scr);
        if (e != LBQ_OK) {
            #pragma omp critical(lbq_big)
            bad_rc = e;
        }
    }
    if (bad_rc != LBQ_OK) { free(x); free(xc); free(xg); return lbq_err(bad_rc, "selftest --big: the CPU reference failed"); }
    rc = lbq_cuda_qdq(&p, NULL, 0, n, x, xg, NULL);
    int64_t bad = 0, first = -1;
    if (rc == LBQ_OK)
        for (int64_t i = 0; i < n; i++)
            if (lbq_f2u(xc[i]) != lbq_f2u(xg[i])) { if (first < 0) first = i; bad++; }
    if (rc == LBQ_OK && out)
        fprintf(out, "lbq selftest: big tensor: %lld elements (2^31 = 2147483648), %s: %s%lld mismatched values%s\n",
                (long long)n, p.spec.text, bad ? "" : "GPU equals CPU bit for bit, ", (long long)bad,
                n > ((int64_t)1 << 31) ? "" : " (not above 2^31)");
    if (rc == LBQ_OK && bad)
        rc = lbq_err(LBQ_ERR_DATA, "selftest --big: %lld of %lld values differ, first at %lld", (long long)bad, (long long)n, (long long)first);
    free(x); free(xc); free(xg);
    return rc;
}

void lbq_cuda_bench_print(FILE *out, const struct lbq_cuda_bench_row *rows, int nrows)
{
    fprintf(out, "%-40s %12s %10s %10s %8s\n", "kernel", "MB moved", "ms", "GB/s", "of copy");
    for (int i = 0; i < nrows; i++)
        fprintf(out, "%-40s %12.1f %10.3f %10.1f %7.0f%%\n", rows[i].name, rows[i].bytes / 1e6, rows[i].ms,
                rows[i].gbps, rows[i].of_copy * 100.0);
}
