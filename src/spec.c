/* spec.c - quantizer spec parsing, plans (resolved codebooks) and storage accounting. */
#include "lbq-impl.h"
#include "../quantizers/torchmap.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>

/* ---- small numeric helpers used by the maps ---- */
int lbq_levels_from_hex(const uint32_t *tab, int n, float *levels)
{
    for (int i = 0; i < n; i++) levels[i] = lbq_hexf(tab[i]);
    return n;
}

void lbq_levels_sort(float *a, int n)
{
    for (int i = 1; i < n; i++) {
        float v = a[i]; int j = i - 1;
        while (j >= 0 && a[j] > v) { a[j + 1] = a[j]; j--; }
        a[j + 1] = v;
    }
}

float lbq_select_kth(float *a, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        float pivot = a[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) { float t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return a[k];
    }
    return a[k];
}

float lbq_quantile(float *a, int64_t n, double p)
{
    if (n <= 0) return 0.0f;
    int64_t lo;
    float w;
    lbq_quantile_pos(n, p, &lo, &w);
    float vlo = lbq_select_kth(a, n, lo);
    if (!lbq_quantile_needs_hi(n, lo, w)) return vlo;
    /* the next order statistic is the minimum of the part above lo */
    float vhi = a[lo + 1];
    for (int64_t i = lo + 2; i < n; i++) if (a[i] < vhi) vhi = a[i];
    return lbq_quantile_lerp(vlo, vhi, w);
}

int64_t lbq_shape_row_elems(const struct lbq_shape *s)
{
    if (s->rank <= 1 || s->dim[0] == 0) return 1;
    return s->numel / s->dim[0];
}

void lbq_shape_str(const struct lbq_shape *s, char *buf, size_t len)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, len - o, "[");
    for (int d = 0; d < s->rank && o < len; d++)
        o += (size_t)snprintf(buf + o, len - o, d ? ", %lld" : "%lld", (long long)s->dim[d]);
    if (o < len) snprintf(buf + o, len - o, "]");
}

const char *lbq_cpu_name(int cpu)
{
    return cpu == LBQ_CPU_AVX512 ? "avx512" : cpu == LBQ_CPU_DEFAULT ? "default" : "avx2";
}

/* ---- specs ---- */
void lbq_qdefaults_init(struct lbq_qdefaults *d)
{
    memset(d, 0, sizeof *d);
    d->bits = 4; d->block = 128; d->round = LBQ_ROUND_NEAREST; d->seed = 0; d->quantile = 0.1f;
}

void lbq_qspec_format(const struct lbq_qspec *s, char *buf, size_t len)
{
    char norm[48];
    if (s->norm->blockwise) snprintf(norm, sizeof norm, "%s%lld", s->norm->name, (long long)s->block);
    else snprintf(norm, sizeof norm, "%s", s->norm->name);
    int o = snprintf(buf, len, "%s-%s:b%d", norm, s->map->name, s->bits);
    if (o < 0 || (size_t)o >= len) return;
    if (s->nz) o += snprintf(buf + o, len - (size_t)o, ":nz");
    if (s->dre && (size_t)o < len) o += snprintf(buf + o, len - (size_t)o, ":dre");
    if (s->sign == 1 && (size_t)o < len) o += snprintf(buf + o, len - (size_t)o, ":signed");
    if (s->sign == 0 && (size_t)o < len) o += snprintf(buf + o, len - (size_t)o, ":unsigned");
    if (s->round == LBQ_ROUND_STOCHASTIC && (size_t)o < len) o += snprintf(buf + o, len - (size_t)o, ":sr");
    if (s->cpu && (size_t)o < len) o += snprintf(buf + o, len - (size_t)o, ":cpu-%s", lbq_cpu_name(s->cpu));
    if (s->tie && (size_t)o < len) o += snprintf(buf + o, len - (size_t)o, s->tie == 2 ? ":torchao" : ":argmin");
    if (s->guarded && (size_t)o < len) o += snprintf(buf + o, len - (size_t)o, ":guarded");
    if (s->coat && (size_t)o < len) o += snprintf(buf + o, len - (size_t)o, ":coat");
    if (s->fit && (size_t)o < len) o += snprintf(buf + o, len - (size_t)o, ":fit");
    if (s->map->qdq && s->map->needs_block && (size_t)o < len)
    {
        /* the shortest decimal that reads back as the same float */
        char q[32];
        for (int prec = 6; prec <= 9; prec++) {
            snprintf(q, sizeof q, "%.*g", prec, (double)s->quantile);
            if ((float)strtod(q, NULL) == s->quantile) break;
        }
        snprintf(buf + o, len - (size_t)o, ":p%s", q);
    }
}

static int parse_main(const char *mainpart, const char *whole, struct lbq_qspec *out)
{
    size_t len = strlen(mainpart);
    /* try every '-' or '/' as the NORM|MAP split: names themselves may contain '-' */
    for (size_t i = 1; i + 1 < len; i++) {
        if (mainpart[i] != '-' && mainpart[i] != '/') continue;
        char norm[128], map[128];
        if (i >= sizeof norm || len - i >= sizeof map) continue;
        memcpy(norm, mainpart, i); norm[i] = 0;
        snprintf(map, sizeof map, "%s", mainpart + i + 1);
        int64_t blk = -1;
        const struct lbq_norm *n = lbq_norm_find(norm, &blk);
        const struct lbq_map *m = lbq_map_find(map);
        if (n && m) {
            out->norm = n; out->map = m;
            if (blk >= 0) {     /* an explicit size, e.g. block128; block0 is an error below */
                if (blk < 1) return lbq_err(LBQ_ERR_ARG, "quantizer '%s': block size must be >= 1 (got %lld)", whole, (long long)blk);
                out->block = blk;
            }
            return LBQ_OK;
        }
    }
    /* explain the first split */
    const char *dash = strpbrk(mainpart, "-/");
    if (!dash) return lbq_err(LBQ_ERR_ARG, "quantizer '%s': expected NORM-MAP (for example rank1-linear, block128-dtree); see 'lbq list'", whole);
    char norm[128], map[128];
    size_t k = (size_t)(dash - mainpart);
    if (k >= sizeof norm) k = sizeof norm - 1;
    memcpy(norm, mainpart, k); norm[k] = 0;
    snprintf(map, sizeof map, "%s", dash + 1);
    int64_t blk = 0;
    if (!lbq_norm_find(norm, &blk)) {
        const char *sug = lbq_name_suggest(norm);
        return lbq_err(LBQ_ERR_ARG, "quantizer '%s': unknown normalization '%s'%s%s%s; see 'lbq list'", whole, norm,
                       sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
    }
    const char *sug = lbq_name_suggest(map);
    return lbq_err(LBQ_ERR_ARG, "quantizer '%s': unknown map '%s'%s%s%s; see 'lbq list'", whole, map,
                   sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
}

int lbq_qspec_parse(const char *text, const struct lbq_qdefaults *d, struct lbq_qspec *out)
{
    struct lbq_qdefaults dd;
    if (!d) { lbq_qdefaults_init(&dd); d = &dd; }
    memset(out, 0, sizeof *out);
    if (!text || !*text) return lbq_err(LBQ_ERR_ARG, "empty quantizer spec");
    if (strlen(text) >= 120) return lbq_err(LBQ_ERR_ARG, "quantizer spec too long");
    out->bits = d->bits; out->block = d->block; out->sign = -1; out->round = d->round;
    out->seed = d->seed; out->quantile = d->quantile;
    if (d->map_file) snprintf(out->map_file, sizeof out->map_file, "%s", d->map_file);

    char buf[128];
    snprintf(buf, sizeof buf, "%s", text);
    char *opts = strchr(buf, ':');
    if (opts) *opts++ = 0;
    if (buf[0] && buf[strlen(buf) - 1] == ':') return lbq_err(LBQ_ERR_ARG, "quantizer '%s': empty option after ':'", text);
    if (opts && !*opts) return lbq_err(LBQ_ERR_ARG, "quantizer '%s': empty option after ':'", text);
    int rc = parse_main(buf, text, out);
    if (rc) return rc;
    int bits_opt = 0;
    unsigned seen = 0;          /* option classes given: a second one repeats or contradicts (issue 16) */
    const char *seen_text[6] = { 0 };
    while (opts && *opts) {
        char *next = strchr(opts, ':');
        if (next) *next++ = 0;
        char *end;
        int cls = lbq_streq_ci(opts, "nz") ? 0 : lbq_streq_ci(opts, "dre") ? 1
                : (lbq_streq_ci(opts, "signed") || lbq_streq_ci(opts, "unsigned")) ? 2
                : (lbq_streq_ci(opts, "sr") || lbq_streq_ci(opts, "nearest")) ? 3
                : ((opts[0] == 'b' || opts[0] == 'B') && isdigit((unsigned char)opts[1])) ? 4
                : ((opts[0] == 'p' || opts[0] == 'P') && (isdigit((unsigned char)opts[1]) || opts[1] == '.')) ? 5 : -1;
        if (cls >= 0 && (seen & (1u << cls)))
            return lbq_err(LBQ_ERR_ARG, "quantizer '%s': ':%s' repeats or contradicts ':%s' (give each option once)", text, opts, seen_text[cls]);
        if (cls >= 0) { seen |= 1u << cls; seen_text[cls] = opts; }
        if (lbq_streq_ci(opts, "nz")) out->nz = 1;
        else if (lbq_streq_ci(opts, "dre")) out->dre = 1;
        else if (lbq_streq_ci(opts, "signed")) out->sign = 1;
        else if (lbq_streq_ci(opts, "unsigned")) out->sign = 0;
        else if (lbq_streq_ci(opts, "sr")) out->round = LBQ_ROUND_STOCHASTIC;
        else if (lbq_streq_ci(opts, "nearest")) out->round = LBQ_ROUND_NEAREST;
        else if (lbq_streq_ci(opts, "cpu-avx2")) out->cpu = LBQ_CPU_AVX2;
        else if (lbq_streq_ci(opts, "cpu-avx512")) out->cpu = LBQ_CPU_AVX512;
        else if (lbq_streq_ci(opts, "cpu-default")) out->cpu = LBQ_CPU_DEFAULT;
        else if (lbq_streq_ci(opts, "argmin")) out->tie = 1;
        else if (lbq_streq_ci(opts, "torchao")) out->tie = 2;
        else if (lbq_streq_ci(opts, "guarded")) out->guarded = 1;
        else if (lbq_streq_ci(opts, "coat")) out->coat = 1;
        else if (lbq_streq_ci(opts, "fit")) out->fit = 1;
        else if ((opts[0] == 'b' || opts[0] == 'B') && isdigit((unsigned char)opts[1])) {
            long b = strtol(opts + 1, &end, 10);
            if (*end) return lbq_err(LBQ_ERR_ARG, "quantizer '%s': bad bits option '%s'", text, opts);
            if (b < 1 || b > 8) return lbq_err(LBQ_ERR_ARG, "quantizer '%s': bits %ld out of range (1-8)", text, b);
            out->bits = (int)b; bits_opt = 1;
        } else if ((opts[0] == 'p' || opts[0] == 'P') && (isdigit((unsigned char)opts[1]) || opts[1] == '.')) {
            errno = 0;
            double p = strtod(opts + 1, &end);
            if (*end || errno || !(p > 0.0 && p < 1.0))
                return lbq_err(LBQ_ERR_ARG, "quantizer '%s': quantile '%s' must be in (0, 1)", text, opts + 1);
            out->quantile = (float)p;
        } else return lbq_err(LBQ_ERR_ARG, "quantizer '%s': unknown option ':%s' (known: bN, nz, dre, signed, unsigned, sr, nearest, pX, cpu-avx2, cpu-avx512, cpu-default, argmin, torchao, guarded, coat, fit)", text, opts);
        opts = next;
    }
    const struct lbq_map *m = out->map;
    if (out->bits < 1 || out->bits > 8) return lbq_err(LBQ_ERR_ARG, "quantizer '%s': bits %d out of range (1-8)", text, out->bits);
    if (m->fixed_bits) {
        if ((bits_opt || d->bits_set) && out->bits != m->fixed_bits)
            return lbq_err(LBQ_ERR_ARG, "quantizer '%s': map '%s' is %d-bit only (got bits %d)", text, m->name, m->fixed_bits, out->bits);
        out->bits = m->fixed_bits;
    }
    if (out->bits < m->min_bits || out->bits > m->max_bits)
        return lbq_err(LBQ_ERR_ARG, "quantizer '%s': map '%s' supports %d-%d bits (got %d)", text, m->name, m->min_bits, m->max_bits, out->bits);
    if (out->norm->blockwise && out->block < 1)
        return lbq_err(LBQ_ERR_ARG, "quantizer '%s': block size must be >= 1 (got %lld)", text, (long long)out->block);
    if (out->norm->blockwise && out->block > ((int64_t)1 << 30))
        return lbq_err(LBQ_ERR_ARG, "quantizer '%s': block size %lld too large (max 2^30)", text, (long long)out->block);
    if (m->needs_block && !out->norm->blockwise)
        return lbq_err(LBQ_ERR_ARG, "quantizer '%s': map '%s' needs block normalization (for example block128-%s)", text, m->name, m->name);
    /* fp8 maps always round to nearest even (the hardware cast); a stochastic request is dropped
     * so the canonical text does not claim it (a sweep's --round stochastic still covers them) */
    if (out->round == LBQ_ROUND_STOCHASTIC && m->qdq && !m->needs_block) out->round = LBQ_ROUND_NEAREST;
    if (out->dre && !m->qdq)
        return lbq_err(LBQ_ERR_ARG, "quantizer '%s': ':dre' applies to fp8 maps only", text);
    if (out->dre && !out->norm->blockwise)
        return lbq_err(LBQ_ERR_ARG, "quantizer '%s': ':dre' needs block normalization (COAT uses block128)", text);
    if (out->cpu && !m->build)
        return lbq_err(LBQ_ERR_ARG, "quantizer '%s': ':cpu-%s' applies to codebook maps only", text, lbq_cpu_name(out->cpu));
    if (out->tie && (!m->build || out->round != LBQ_ROUND_NEAREST))
        return lbq_err(LBQ_ERR_ARG, "quantizer '%s': ':%s' applies to nearest rounding on codebook maps only", text, out->tie == 2 ? "torchao" : "argmin");
    if (out->guarded && !(m->qdq && m->needs_block))
        return lbq_err(LBQ_ERR_ARG, "quantizer '%s': ':guarded' applies to the log map only", text);
    if (out->coat && !(m->qdq && !m->needs_block))
        return lbq_err(LBQ_ERR_ARG, "quantizer '%s': ':coat' applies to fp8 maps only", text);
    if (out->coat && out->dre)
        return lbq_err(LBQ_ERR_ARG, "quantizer '%s': ':coat' is the plain fp8 scale; ':dre' already follows COAT's expansion kernel", text);
    if (out->fit && !out->norm->blockwise)
        return lbq_err(LBQ_ERR_ARG, "quantizer '%s': ':fit' applies to block normalization only", text);
    if (out->nz && !m->build)
        return lbq_err(LBQ_ERR_ARG, "quantizer '%s': ':nz' applies to codebook maps only", text);
    if (out->sign == 1 && !(m->sign_ok & LBQ_SIGNED_OK))
        return lbq_err(LBQ_ERR_ARG, "quantizer '%s': map '%s' is unsigned only", text, m->name);
    if (m->user_levels) {
        if (!out->map_file[0]) return lbq_err(LBQ_ERR_ARG, "quantizer '%s': map '%s' needs --map-file LEVELS.txt", text, m->name);
        /* the bitwidth follows from the number of levels: read the file now, so its errors surface
         * here and the spec text carries the true bits */
        float lev[LBQ_MAX_LEVELS];
        int n = m->build(out, out->bits, 1, lev);
        if (n < 0) return -n;
        int b = 1;
        while ((1 << b) < n) b++;
        if (bits_opt && out->bits != b)
            return lbq_err(LBQ_ERR_ARG, "quantizer '%s': %s has %d levels, i.e. %d bits (got :b%d)", text, out->map_file, n, b, out->bits);
        out->bits = b;
    }
    lbq_qspec_format(out, out->text, sizeof out->text);
    return LBQ_OK;
}

int lbq_qspec_supported(const char *text, const struct lbq_qdefaults *d, struct lbq_qspec *out)
{
    struct lbq_qspec tmp;
    int ok = lbq_qspec_parse(text, d, out ? out : &tmp) == LBQ_OK;
    lbq_err(LBQ_OK, "%s", "");
    return ok;
}

/* ---- plans ---- */
int lbq_qplan_init(struct lbq_qplan *p, const struct lbq_qspec *s, enum lbq_role role, int rank)
{
    memset(p, 0, sizeof *p);
    p->spec = *s;
    p->norm = s->norm;
    p->block = s->block;
    p->bits = s->bits;
    p->stream = (uint32_t)role;
    if (rank < s->norm->min_rank && s->norm->fallback) {
        p->norm = s->norm->fallback;
        if (s->norm->fallback_block) p->block = s->norm->fallback_block;
    }
    p->is_signed = (s->sign >= 0) ? s->sign : (role == LBQ_ROLE_M);
    int need = p->is_signed ? LBQ_SIGNED_OK : LBQ_UNSIGNED_OK;
    if (!(s->map->sign_ok & need))
        return lbq_err(LBQ_ERR_ARG, "quantizer '%s': map '%s' is %s only, but %s is %s (use it for %s, or add :%s)",
                       s->text, s->map->name, p->is_signed ? "unsigned" : "signed",
                       role == LBQ_ROLE_M ? "m (exp_avg)" : "v (exp_avg_sq)", p->is_signed ? "signed" : "unsigned",
                       p->is_signed ? "v" : "m", p->is_signed ? "unsigned" : "signed");
    for (int i = 0; i < LBQ_MAX_LEVELS; i++) { p->q[i] = LBQ_INF; p->mid[i] = LBQ_INF; }
    if (!s->map->build) return LBQ_OK;
    float lev[LBQ_MAX_LEVELS];
    int n = s->map->build(s, s->bits, p->is_signed, lev);
    if (n < 0) {
        if (-n == LBQ_ERR_ARG && !lbq_errmsg()[0])
            return lbq_err(LBQ_ERR_ARG, "quantizer '%s': map '%s' is not defined at %d bits %s", s->text, s->map->name, s->bits, p->is_signed ? "signed" : "unsigned");
        if (-n == LBQ_ERR_ARG && !s->map->user_levels)
            return lbq_err(LBQ_ERR_ARG, "quantizer '%s': map '%s' is not defined at %d bits %s", s->text, s->map->name, s->bits, p->is_signed ? "signed" : "unsigned");
        return -n;
    }
    if (s->map->user_levels) {
        int b = 1;
        while ((1 << b) < n) b++;
        p->bits = b;
    }
    LBQ_ASSERT(n <= (1 << p->bits));      /* a map's build() gives at most 2^bits levels */
    if (s->nz) {        /* exclude zero: every zero level becomes the nonzero level of smallest
                           magnitude (the positive one on a tie); the table stays sorted */
        int best = -1;
        for (int i = 0; i < n; i++)
            if (lev[i] != 0.0f && (best < 0 || lbq_absf(lev[i]) < lbq_absf(lev[best]) ||
                                   (lbq_absf(lev[i]) == lbq_absf(lev[best]) && lev[i] > 0.0f))) best = i;
        if (best >= 0) {
            float nzv = lev[best];
            for (int i = 0; i < n; i++) if (lev[i] == 0.0f) lev[i] = nzv;
            lbq_levels_sort(lev, n);
        }
    }
    p->nlev = n;
    p->npow2 = 1;
    while (p->npow2 < n) p->npow2 <<= 1;
    for (int i = 0; i < n; i++) p->q[i] = lev[i];
    for (int i = 0; i + 1 < n; i++) p->mid[i] = (lev[i] + lev[i + 1]) * 0.5f;
    return LBQ_OK;
}

void lbq_qplan_fit(struct lbq_qplan *p, int64_t numel)
{
    if (!p->norm->blockwise || numel <= 0) return;
    const struct lbq_qspec *s = &p->spec;
    if (!(s->fit || (s->map->qdq && s->map->needs_block && !s->guarded))) return;
    if (numel <= p->block) { p->block = numel; return; }
    for (int64_t b = p->block; b > 1; b--)
        if (numel % b == 0) { p->block = b; return; }
    p->block = 1;
}

int lbq_map_example_levels(const struct lbq_map *m, int bits, float xp, float *lev)
{
    if (m->kind != LBQ_MAP_LOG || bits < 1 || bits > 8) return 0;
    int nmax = (1 << bits) - 1;
    float alpha = lbq_log_alpha(xp, nmax), up[256];
    up[0] = 1.0f;
    for (int k = 1; k <= nmax; k++) up[k] = up[k - 1] * alpha;
    for (int k = 0; k <= nmax; k++) lev[k] = up[nmax - k];     /* ascending, as the tables */
    return nmax + 1;
}

int lbq_qplan_supported(struct lbq_qplan *p, const struct lbq_qspec *s, enum lbq_role role, int rank)
{
    struct lbq_qplan tmp;
    int ok = lbq_qplan_init(p ? p : &tmp, s, role, rank) == LBQ_OK;
    lbq_err(LBQ_OK, "%s", "");
    return ok;
}

void lbq_qplan_size(const struct lbq_qplan *p, const struct lbq_shape *shape, struct lbq_qsize *out)
{
    memset(out, 0, sizeof *out);
    out->code_bits = shape->numel * p->bits;
    out->scale_bits = 32 * p->norm->nscales(p, shape);
    if (p->spec.map->nparams && p->norm->blockwise)
        out->param_bits = 32 * (int64_t)p->spec.map->nparams(&p->spec) * ((shape->numel + p->block - 1) / p->block);
    out->bits_per_elem = shape->numel ? (double)(out->code_bits + out->scale_bits + out->param_bits) / (double)shape->numel : 0.0;
}

double lbq_qplan_zero_floor(const struct lbq_qplan *p)
{
    const struct lbq_map *m = p->spec.map;
    if (lbq_map_is_fp8(m))      /* half the smallest subnormal (ties to even: 0), over the largest finite value */
        return m->kind == LBQ_MAP_FP8_E4M3 ? ldexp(1.0, -10) / 448.0 : ldexp(1.0, -17) / 57344.0;
    if (m->kind != LBQ_MAP_TABLE) return 0.0;           /* the log map has no zero level */
    int z = -1;
    for (int i = 0; i < p->nlev; i++) if (p->q[i] == 0.0f) { z = i; break; }
    if (z < 0) return 0.0;
    int sr = p->spec.round == LBQ_ROUND_STOCHASTIC;
    double f = INFINITY;
    if (z + 1 < p->nlev) f = sr ? (double)p->q[z + 1] : (double)p->mid[z];
    if (z > 0) { double g = sr ? -(double)p->q[z - 1] : -(double)p->mid[z - 1]; if (g < f) f = g; }
    return isfinite(f) ? f : 1.0;
}

void lbq_qplan_global_scales(const struct lbq_qplan *p, const struct lbq_tstats *st, int64_t nsc, float *out)
{
    if (nsc == 1) { out[0] = st->absmax; return; }
    int64_t o = 0;
    for (int d = 0; d < st->shape.rank && d < 8; d++)
        if ((p->norm->scale_dims & (1u << d)) || ((p->norm->scale_dims & LBQ_SCALE_DIM_LAST) && d == st->shape.rank - 1)) {
            memcpy(out + o, st->dimmax[d], sizeof(float) * (size_t)st->shape.dim[d]);
            o += st->shape.dim[d];
        }
}
