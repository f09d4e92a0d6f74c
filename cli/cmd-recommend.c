/* cmd-recommend.c - `lbq recommend`: one quantizer per tensor for m and v under a memory budget,
 * minimizing the element-weighted update error (docs/metrics.md, "Recommendation"). */
#include "cli.h"
#include "lbq-json.h"
#include "lbq-report.h"
#include "lbq-recommend.h"
#include "lbq-sweep.h"
#include "sweep-grid.h"

#include <errno.h>
#include <sys/stat.h>

const char lbq_usage_recommend[] =
"usage: lbq recommend FILE (--budget BITS | --budget-gb G --params N) [-o PLAN.json] [options]\n"
"       lbq recommend SWEEP/results.json (--budget BITS | ...) [-o PLAN.json] [options]\n"
"\n"
"Choose, for every parameter, one quantizer for m and v from a candidate set so that the\n"
"element-weighted mean of the per-tensor update rel-L2 (sum numel * update_rel_l2 / sum numel) is\n"
"smallest while the states fit the budget.  Candidates that send a positive v to 0, whose v map can\n"
"(--v-zero-floor), or whose update blow-up fraction exceeds --max-blowup, are vetoed.  Each tensor is read once; every\n"
"candidate is evaluated on it by the analyze engine.  Given a sweep's results.json (or its\n"
"directory) instead of the .h5, no tensor is read: the candidates are that sweep's configurations\n"
"(its grid and its recipe:NAME points) and their per-parameter rows (configs[].params).\n"
"Prints the plan per tensor and its totals\n"
"next to every published recipe at its own memory; -o writes the plan (schema lbq.plan/1), which\n"
"'lbq analyze FILE --plan PLAN.json' re-evaluates.  Definitions: docs/metrics.md.\n"
"\n"
"  --budget BITS       bits per element, averaged over m and v, scales included (e.g. 4.5)\n"
"  --budget-gb G       the budget as G GB (1e9 bytes) of m+v states for --params N parameters:\n"
"  --params N          BITS = G * 8e9 / (2 N)\n"
"  --candidates LIST   comma-separated; default grid,fp32,recipes.  Items: grid (the sweep's default\n"
"                      grid: maps " LBQ_SWEEP_MAPS " x norms " LBQ_SWEEP_NORMS "\n"
"                      x bits " LBQ_SWEEP_BITS " x blocks " LBQ_SWEEP_BLOCKS ", one spec for m and v;\n"
"                      the log map quantizes v only), fp32, recipes (every published recipe's\n"
"                      per-tensor choice, its fp32 exemptions included), a recipe name, SPEC (m and\n"
"                      v), or MSPEC/VSPEC where either may be fp32.  With a results.json: grid is\n"
"                      its grid, recipes its recipe points, a spec must be one of its configurations;\n"
"                      fp32 is exact (32 bits, no error)\n"
"  --v-zero-floor Z    veto a v quantizer that can send a positive v up to more than Z times its scale\n"
"                      to exactly 0 (a zero level: docs/metrics.md \"zero floor\"; default 1e-5, which\n"
"                      admits 8-bit DE and fp8 and refuses 2-5-bit DE, linsq and uniform; 1: off)\n"
"  --max-blowup F      veto a candidate on a tensor whose update blow-up fraction\n"
"                      #(|u^| > 10|u|)/n exceeds F (default 0.001)\n"
"  -o, --output PLAN   write the plan (JSON, schema lbq.plan/1)\n"
"  --curve TSV         also solve at budgets from the minimum to 9 bits/element in steps of 0.25 and\n"
"                      write objective vs memory of those plans and of the recipes (plots/recommend.gp)\n"
"  --tensor GLOB, --mem-limit SIZE, --m-name/--v-name PAT, --device D   as in 'lbq analyze --help'\n"
"                      (an .h5 input only)\n"
"  -q, --quiet         no notices on stderr\n";

enum { O_BUDGET = 1, O_BUDGET_GB, O_PARAMS, O_CANDS, O_MAXBLOW, O_VFLOOR, O_OUT, O_TENSOR, O_MEM, O_MNAME, O_VNAME, O_DEVICE, O_QUIET, O_CURVE };
static const struct cli_opt opts[] = {
    { "budget", 1, O_BUDGET }, { "budget-gb", 1, O_BUDGET_GB }, { "params", 1, O_PARAMS }, { "candidates", 1, O_CANDS },
    { "max-blowup", 1, O_MAXBLOW }, { "v-zero-floor", 1, O_VFLOOR }, { "output", 1, O_OUT }, { "tensor", 1, O_TENSOR }, { "mem-limit", 1, O_MEM },
    { "m-name", 1, O_MNAME }, { "v-name", 1, O_VNAME }, { "device", 1, O_DEVICE }, { "quiet", 0, O_QUIET }, { "curve", 1, O_CURVE }, { 0, 0, 0 },
};

struct cand {
    struct lbq_config c;
    int offered;            /* in the candidate set (recipes are always evaluated, for the comparison) */
    int recipe;             /* index of the recipe, or -1 */
    const char *rname;      /* the recipe's name (recipe >= 0) */
    const cJSON *sweep;     /* from a results.json: its configs[] object (NULL: fp32, exact) */
};

struct cres {               /* one candidate on one tensor */
    double bits_m, bits_v;  /* storage in bits, scales and parameters included */
    double upd, cosv, blowup, m_rel, v_rel, zc;
    int64_t collapsed;      /* v > 0 dequantized to 0 */
    int kept_fp32, veto;
    char m_plan[128], v_plan[128];
};

/* The zero floor of a v plan text ("fp32": 0): the largest v / scale it sends to exactly 0
 * (lbq_qplan_zero_floor); cached, since every tensor repeats the candidates' texts */
static double v_zero_floor(const char *vplan)
{
    static struct { char t[128]; double z; } cache[1024];
    static int n;
    if (strcmp(vplan, "fp32") == 0) return 0.0;
    for (int i = 0; i < n; i++) if (strcmp(cache[i].t, vplan) == 0) return cache[i].z;
    struct lbq_qdefaults d;
    struct lbq_qspec sp;
    struct lbq_qplan pl;
    double z = 1.0;         /* a text that does not parse: vetoed (cannot happen for the engine's own) */
    lbq_qdefaults_init(&d);
    if (lbq_qspec_supported(vplan, &d, &sp) && lbq_qplan_supported(&pl, &sp, LBQ_ROLE_V, 2))
        z = lbq_qplan_zero_floor(&pl);
    if (n < 1024) { snprintf(cache[n].t, sizeof cache[n].t, "%s", vplan); cache[n++].z = z; }
    return z;
}

#define MAXC 4096
static struct cand *g_c;
static int g_nc;

static int add_cand(const struct lbq_config *c, int offered, int recipe)
{
    for (int i = 0; i < g_nc; i++)
        if (strcmp(g_c[i].c.label, c->label) == 0) { g_c[i].offered |= offered; return 0; }
    if (g_nc == MAXC) return -1;
    memset(&g_c[g_nc], 0, sizeof g_c[g_nc]);
    g_c[g_nc].c = *c; g_c[g_nc].offered = offered; g_c[g_nc].recipe = recipe;
    g_c[g_nc].rname = recipe >= 0 ? lbq_recipe_at(recipe)->name : NULL;
    g_nc++;
    return 0;
}

static void set_label(struct lbq_config *c)
{
    lbq_sweep_label(c->label, sizeof c->label, &c->m, c->has_m, &c->v, c->has_v);
}

/* the sweep's default grid, as `lbq sweep` builds it (both states; a v-only map, log, with the m
 * quantizer of the recipe that uses it for v: lbq_sweep_pair_m) */
static int add_grid(void)
{
    const char *maps = LBQ_SWEEP_MAPS, *norms = LBQ_SWEEP_NORMS, *blocks = LBQ_SWEEP_BLOCKS;
    int blist[16], nb = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", blocks);
    for (char *t = strtok(buf, ","); t && nb < 16; t = strtok(NULL, ",")) blist[nb++] = atoi(t);
    int b0, b1;
    if (sscanf(LBQ_SWEEP_BITS, "%d-%d", &b0, &b1) != 2) return -1;
    char mb[256], nbuf[256];
    snprintf(mb, sizeof mb, "%s", maps);
    /* strtok is not reentrant: split the lists first */
    const char *mlist[32]; int nm = 0;
    const char *nlist[8]; int nn = 0;
    for (char *t = strtok(mb, ","); t && nm < 32; t = strtok(NULL, ",")) mlist[nm++] = t;
    snprintf(nbuf, sizeof nbuf, "%s", norms);
    for (char *t = strtok(nbuf, ","); t && nn < 8; t = strtok(NULL, ",")) nlist[nn++] = t;
    for (int mi = 0; mi < nm; mi++)
        for (int ni = 0; ni < nn; ni++)
            for (int bits = b0; bits <= b1; bits++) {
                int64_t blk0 = 0;
                const struct lbq_norm *norm = lbq_norm_find(nlist[ni], &blk0);
                const struct lbq_map *map = lbq_map_find(mlist[mi]);
                if (!norm || !map) continue;
                if (map->fixed_bits && bits != map->fixed_bits) continue;
                int nbl = norm->blockwise ? nb : 1;
                for (int ki = 0; ki < nbl; ki++) {
                    struct lbq_qdefaults d;
                    lbq_qdefaults_init(&d);
                    d.bits = bits;
                    if (norm->blockwise) d.block = blist[ki];
                    char spec[128];
                    snprintf(spec, sizeof spec, "%s-%s", norm->name, map->name);
                    struct lbq_qspec s;
                    if (lbq_qspec_parse(spec, &d, &s) != LBQ_OK) continue;     /* unsupported combination */
                    struct lbq_qplan tp;
                    struct lbq_config c;
                    memset(&c, 0, sizeof c);
                    c.has_m = lbq_qplan_init(&tp, &s, LBQ_ROLE_M, 2) == LBQ_OK;
                    c.has_v = lbq_qplan_init(&tp, &s, LBQ_ROLE_V, 2) == LBQ_OK;
                    if (!c.has_m && !c.has_v) continue;
                    c.m = s; c.v = s;
                    const struct lbq_recipe *mr;
                    if (!c.has_m && lbq_sweep_pair_m(map, &d, &c.m, &mr)) c.has_m = 1;
                    set_label(&c);
                    if (add_cand(&c, 1, -1)) return -1;
                }
            }
    lbq_err(LBQ_OK, "%s", "");
    return 0;
}

static int add_recipe(const struct lbq_recipe *r, int ri, int offered)
{
    struct lbq_config c;
    memset(&c, 0, sizeof c);
    struct lbq_qdefaults d;
    lbq_qdefaults_init(&d);
    if (lbq_qspec_parse(r->m_spec, &d, &c.m) || lbq_qspec_parse(r->v_spec, &d, &c.v)) return -1;
    c.has_m = c.has_v = 1;
    c.recipe = r;
    snprintf(c.label, sizeof c.label, "recipe:%s", r->name);
    return add_cand(&c, offered, ri);
}

/* one state of a MSPEC/VSPEC item; "fp32" leaves it unquantized */
static int parse_state(const char *item, const char *txt, enum lbq_role role, struct lbq_qspec *s, int *has)
{
    if (strcmp(txt, "fp32") == 0) { *has = 0; return 0; }
    struct lbq_qdefaults d;
    lbq_qdefaults_init(&d);
    struct lbq_qplan tp;
    if (lbq_qspec_parse(txt, &d, s) != LBQ_OK || lbq_qplan_init(&tp, s, role, 2) != LBQ_OK) {
        cli_usage_error("recommend", "--candidates: '%s': %s", item, lbq_errmsg());
        return -1;
    }
    *has = 1;
    return 0;
}

static int parse_candidates(const char *list)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    int any = 0;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        any = 1;
        if (strcmp(t, "grid") == 0) { if (add_grid()) return cli_usage_error("recommend", "--candidates: more than %d candidates", MAXC); continue; }
        if (strcmp(t, "recipes") == 0) {
            for (int r = 0; r < lbq_recipe_count(); r++) add_recipe(lbq_recipe_at(r), r, 1);
            continue;
        }
        struct lbq_config c;
        memset(&c, 0, sizeof c);
        if (strcmp(t, "fp32") == 0) { set_label(&c); add_cand(&c, 1, -1); continue; }
        const char *rn = strncmp(t, "recipe:", 7) == 0 ? t + 7 : t;
        const struct lbq_recipe *r = lbq_recipe_find(rn);
        if (r) {
            for (int k = 0; k < lbq_recipe_count(); k++) if (lbq_recipe_at(k) == r) add_recipe(r, k, 1);
            continue;
        }
        char *slash = strchr(t, '/');
        char ms[256], vs[256];
        if (slash) { snprintf(ms, sizeof ms, "%.*s", (int)(slash - t), t); snprintf(vs, sizeof vs, "%s", slash + 1); }
        else { snprintf(ms, sizeof ms, "%s", t); snprintf(vs, sizeof vs, "%s", t); }
        if (!strchr(ms, '-') && strcmp(ms, "fp32") != 0 && !strchr(vs, '-')) {
            const char *s = lbq_name_suggest(t);
            return cli_usage_error("recommend", "--candidates: '%s' is not grid, fp32, recipes, a recipe or a quantizer spec%s%s%s", t,
                                   s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
        }
        if (parse_state(t, ms, LBQ_ROLE_M, &c.m, &c.has_m) || parse_state(t, vs, LBQ_ROLE_V, &c.v, &c.has_v)) return LBQ_EXIT_USAGE;
        set_label(&c);
        if (add_cand(&c, 1, -1)) return cli_usage_error("recommend", "--candidates: more than %d candidates", MAXC);
    }
    if (!any) return cli_usage_error("recommend", "--candidates: empty list");
    return 0;
}


/* ---- a sweep's results.json as the input ------------------------------------------------------ */
/* FILE is a sweep's results: a directory (DIR/results.json) or a file whose first byte that is not
 * white space is '{' (an HDF5 file starts with its signature) */
static int sweep_input(const char *in, char *path, size_t n)
{
    struct stat st;
    if (stat(in, &st) == 0 && S_ISDIR(st.st_mode)) { snprintf(path, n, "%s/results.json", in); return 1; }
    FILE *fp = fopen(in, "rb");
    if (!fp) return 0;
    int ch;
    do ch = fgetc(fp); while (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r');
    fclose(fp);
    if (ch != '{') return 0;
    snprintf(path, n, "%s", in);
    return 1;
}

static const char *const g_row_nums[] = { "update_rel_l2", "update_cosine", "update_blowup_frac", "m_rel_l2", "v_rel_l2", "v_zero_collapse" };

/* Everything the solver needs, checked before any work: schema lbq.sweep/2 or later, configs with a
 * label, m_spec and v_spec, and per-parameter rows (configs[].params) naming the same tensors in
 * the same order in every configuration, each with its plans, bits and errors. */
static int sweep_check(const char *path, const cJSON *root)
{
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(root, "schema"), *sv = cJSON_GetObjectItemCaseSensitive(root, "schema_version");
    if (!cJSON_IsString(sc) || strcmp(sc->valuestring, "lbq.sweep") != 0)
        return lbq_err(LBQ_ERR_FORMAT, "%s: not an lbq sweep results file (schema is not \"lbq.sweep\")", path);
    if (!cJSON_IsNumber(sv) || sv->valuedouble < 2)
        return lbq_err(LBQ_ERR_FORMAT, "%s: schema lbq.sweep/%g is older than 2, whose results changed meaning (docs/schema.md); rerun lbq sweep",
                       path, cJSON_IsNumber(sv) ? sv->valuedouble : 0.0);
    const cJSON *cf = cJSON_GetObjectItemCaseSensitive(root, "configs");
    if (!cJSON_IsArray(cf) || cJSON_GetArraySize(cf) == 0) return lbq_err(LBQ_ERR_FORMAT, "%s: no configurations (key 'configs')", path);
    const cJSON *c, *p0 = NULL;
    int k = 0;
    cJSON_ArrayForEach(c, cf) {
        const cJSON *lab = cJSON_GetObjectItemCaseSensitive(c, "label"), *pa = cJSON_GetObjectItemCaseSensitive(c, "params");
        if (!cJSON_IsString(lab)) return lbq_err(LBQ_ERR_FORMAT, "%s: configs[%d] has no label", path, k);
        for (int s = 0; s < 2; s++) {
            const cJSON *sp = cJSON_GetObjectItemCaseSensitive(c, s ? "v_spec" : "m_spec");
            if (!cJSON_IsString(sp) && !cJSON_IsNull(sp))
                return lbq_err(LBQ_ERR_FORMAT, "%s: configs[%d] (%s): '%s' is not a string or null", path, k, lab->valuestring, s ? "v_spec" : "m_spec");
        }
        if (!cJSON_IsArray(pa) || cJSON_GetArraySize(pa) == 0)
            return lbq_err(LBQ_ERR_FORMAT, "%s: configs[%d] (%s) has no per-parameter rows (configs[].params): recommend needs each tensor's errors and bits; rerun lbq sweep so that it writes them",
                           path, k, lab->valuestring);
        if (!p0) p0 = pa;
        if (cJSON_GetArraySize(pa) != cJSON_GetArraySize(p0))
            return lbq_err(LBQ_ERR_FORMAT, "%s: configs[%d] (%s) has %d parameter rows, configs[0] has %d", path, k, lab->valuestring,
                           cJSON_GetArraySize(pa), cJSON_GetArraySize(p0));
        int i = 0;
        const cJSON *r;
        cJSON_ArrayForEach(r, pa) {
            const cJSON *r0 = cJSON_GetArrayItem(p0, i);
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(r, "name"), *ne = cJSON_GetObjectItemCaseSensitive(r, "numel");
            const cJSON *nm0 = cJSON_GetObjectItemCaseSensitive(r0, "name"), *ne0 = cJSON_GetObjectItemCaseSensitive(r0, "numel");
            if (!cJSON_IsString(nm) || !cJSON_IsNumber(ne) || !(ne->valuedouble >= 1))
                return lbq_err(LBQ_ERR_FORMAT, "%s: configs[%d].params[%d]: no name or numel", path, k, i);
            if (strcmp(nm->valuestring, nm0->valuestring) != 0 || ne->valuedouble != ne0->valuedouble)
                return lbq_err(LBQ_ERR_FORMAT, "%s: configs[%d].params[%d] is '%s', configs[0] has '%s' there: every configuration must cover the same tensors",
                               path, k, i, nm->valuestring, nm0->valuestring);
            for (int q = 0; q < 2; q++) {
                const char *key = q ? "bits_per_elem_v" : "bits_per_elem_m", *pk = q ? "v_plan" : "m_plan";
                const cJSON *b = cJSON_GetObjectItemCaseSensitive(r, key), *pl = cJSON_GetObjectItemCaseSensitive(r, pk);
                if (!cJSON_IsNumber(b) || !isfinite(b->valuedouble) || b->valuedouble < 0)
                    return lbq_err(LBQ_ERR_FORMAT, "%s: configs[%d].params[%d] (%s): no '%s'", path, k, i, nm->valuestring, key);
                if (!cJSON_IsString(pl)) return lbq_err(LBQ_ERR_FORMAT, "%s: configs[%d].params[%d] (%s): no '%s'", path, k, i, nm->valuestring, pk);
            }
            for (size_t q = 0; q < sizeof g_row_nums / sizeof g_row_nums[0]; q++) {
                const cJSON *x = cJSON_GetObjectItemCaseSensitive(r, g_row_nums[q]);
                if (!cJSON_IsNumber(x) && !cJSON_IsNull(x))
                    return lbq_err(LBQ_ERR_FORMAT, "%s: configs[%d].params[%d] (%s): no '%s'", path, k, i, nm->valuestring, g_row_nums[q]);
            }
            if (!cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(r, "kept_fp32")))
                return lbq_err(LBQ_ERR_FORMAT, "%s: configs[%d].params[%d] (%s): no 'kept_fp32'", path, k, i, nm->valuestring);
            i++;
        }
        k++;
    }
    return LBQ_OK;
}

static int add_sweep_cand(const cJSON *cfg, int offered)
{
    struct lbq_config c;
    memset(&c, 0, sizeof c);
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(cfg, "m_spec"), *vs = cJSON_GetObjectItemCaseSensitive(cfg, "v_spec");
    const cJSON *rn = cJSON_GetObjectItemCaseSensitive(cfg, "recipe");
    snprintf(c.label, sizeof c.label, "%s", cJSON_GetObjectItemCaseSensitive(cfg, "label")->valuestring);
    c.has_m = cJSON_IsString(ms); c.has_v = cJSON_IsString(vs);
    if (c.has_m) snprintf(c.m.text, sizeof c.m.text, "%s", ms->valuestring);
    if (c.has_v) snprintf(c.v.text, sizeof c.v.text, "%s", vs->valuestring);
    int before = g_nc;
    if (add_cand(&c, offered, -1)) return -1;
    if (g_nc > before) {
        g_c[g_nc - 1].sweep = cfg;
        if (cJSON_IsString(rn)) { g_c[g_nc - 1].recipe = 0; g_c[g_nc - 1].rname = rn->valuestring; }
    }
    return 0;
}

/* --candidates against a sweep's configurations: grid, recipes, fp32 (exact), a recipe, a spec */
static int parse_candidates_sweep(const char *list, const char *path, const cJSON *configs)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    int any = 0;
    const cJSON *cf;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        any = 1;
        int isrec = strcmp(t, "recipes") == 0, found = 0;
        if (isrec || strcmp(t, "grid") == 0) {
            cJSON_ArrayForEach(cf, configs) {
                if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(cf, "recipe")) != isrec) continue;
                if (add_sweep_cand(cf, 1)) return cli_usage_error("recommend", "--candidates: more than %d candidates", MAXC);
                found = 1;
            }
            if (!found)
                return cli_usage_error("recommend", "--candidates: %s has no %s configurations%s", path, isrec ? "recipe:NAME" : "grid",
                                       isrec ? " (a sweep by an older lbq, or with --state m or v): leave 'recipes' out of --candidates or rerun lbq sweep" : "");
            continue;
        }
        struct lbq_config c;
        memset(&c, 0, sizeof c);
        if (strcmp(t, "fp32") == 0) { set_label(&c); add_cand(&c, 1, -1); continue; }
        const char *rn = strncmp(t, "recipe:", 7) == 0 ? t + 7 : t;
        const struct lbq_recipe *r = lbq_recipe_find(rn);
        if (r) {
            cJSON_ArrayForEach(cf, configs) {
                const cJSON *x = cJSON_GetObjectItemCaseSensitive(cf, "recipe");
                if (cJSON_IsString(x) && strcmp(x->valuestring, r->name) == 0) { add_sweep_cand(cf, 1); found = 1; }
            }
            if (!found) return cli_usage_error("recommend", "--candidates: recipe '%s' is not among the configurations of %s", r->name, path);
            continue;
        }
        char *slash = strchr(t, '/');
        char ms[256], vs[256];
        if (slash) { snprintf(ms, sizeof ms, "%.*s", (int)(slash - t), t); snprintf(vs, sizeof vs, "%s", slash + 1); }
        else { snprintf(ms, sizeof ms, "%s", t); snprintf(vs, sizeof vs, "%s", t); }
        if (!strchr(ms, '-') && strcmp(ms, "fp32") != 0 && !strchr(vs, '-'))
            return cli_usage_error("recommend", "--candidates: '%s' is not grid, fp32, recipes, a recipe or a quantizer spec", t);
        if (parse_state(t, ms, LBQ_ROLE_M, &c.m, &c.has_m) || parse_state(t, vs, LBQ_ROLE_V, &c.v, &c.has_v)) return LBQ_EXIT_USAGE;
        cJSON_ArrayForEach(cf, configs) {
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(cf, "m_spec"), *b = cJSON_GetObjectItemCaseSensitive(cf, "v_spec");
            if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(cf, "recipe"))) continue;
            if (cJSON_IsString(a) != c.has_m || cJSON_IsString(b) != c.has_v) continue;
            if ((c.has_m && strcmp(a->valuestring, c.m.text)) || (c.has_v && strcmp(b->valuestring, c.v.text))) continue;
            add_sweep_cand(cf, 1);
            found = 1;
            break;
        }
        if (!found) return cli_usage_error("recommend", "--candidates: '%s' is not a configuration of %s", t, path);
    }
    if (!any) return cli_usage_error("recommend", "--candidates: empty list");
    return 0;
}

static double row_num(const cJSON *row, const char *key)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(row, key);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static double bits_of(const struct lbq_qsize *s) { return (double)(s->code_bits + s->scale_bits + s->param_bits); }

int cmd_recommend(int argc, char **argv)
{
    struct cli_parser p = { "recommend", opts, argc, argv, 1, {0}, 0 };
    struct lbq_open_opts oo = { 0, 0, 0 };
    const char *val, *out = NULL, *curve = NULL, *cands = "grid,fp32,recipes", *device = "auto";
    double budget = 0, budget_gb = 0, nparams = 0, max_blowup = 1e-3, max_vfloor = 1e-5;
    long long mem = 1LL << 30;
    int id, have_budget = 0, have_gb = 0, mem_set = 0, device_set = 0;
    while ((id = cli_next(&p, &val)) != 0) {
        if (id < 0) return LBQ_EXIT_USAGE;
        if (id == 'h') return cli_help("recommend");
        switch (id) {
        case O_BUDGET: if (cli_double("recommend", "--budget", val, 1e-6, 1e6, &budget)) return LBQ_EXIT_USAGE; have_budget = 1; break;
        case O_BUDGET_GB: if (cli_double("recommend", "--budget-gb", val, 1e-12, 1e12, &budget_gb)) return LBQ_EXIT_USAGE; have_gb = 1; break;
        case O_PARAMS: if (cli_double("recommend", "--params", val, 1.0, 1e15, &nparams)) return LBQ_EXIT_USAGE; break;
        case O_CANDS: cands = val; break;
        case O_MAXBLOW: if (cli_double("recommend", "--max-blowup", val, 0.0, 1.0, &max_blowup)) return LBQ_EXIT_USAGE; break;
        case O_VFLOOR: if (cli_double("recommend", "--v-zero-floor", val, 0.0, 1.0, &max_vfloor)) return LBQ_EXIT_USAGE; break;
        case O_OUT: out = val; break;
        case O_TENSOR: oo.tensor_glob = val; break;
        case O_MEM: if (cli_bytes("recommend", "--mem-limit", val, &mem)) return LBQ_EXIT_USAGE; mem_set = 1; break;
        case O_MNAME: oo.m_name = val; break;
        case O_VNAME: oo.v_name = val; break;
        case O_DEVICE: device = val; device_set = 1; break;
        case O_QUIET: g_cli_quiet = 1; break;
        case O_CURVE: curve = val; break;
        }
    }
    if (p.npos != 1) return cli_usage_error("recommend", p.npos ? "expected one FILE, got %d arguments" : "missing FILE%.0d", p.npos);
    if (have_budget && have_gb) return cli_usage_error("recommend", "give either --budget or --budget-gb, not both");
    if (!have_budget && !have_gb) return cli_usage_error("recommend", "missing budget: --budget BITS (bits per element, m and v averaged) or --budget-gb G --params N");
    if (have_gb) {
        if (nparams <= 0) return cli_usage_error("recommend", "--budget-gb needs --params N (the model's parameter count)");
        budget = budget_gb * 8e9 / (2.0 * nparams);
    } else if (nparams > 0) return cli_usage_error("recommend", "--params goes with --budget-gb");
    if (cli_check_output("-o", out, p.positional[0], CLI_OUT_TEXT)) return LBQ_EXIT_OUTPUT;
    if (cli_check_output("--curve", curve, p.positional[0], CLI_OUT_TEXT)) return LBQ_EXIT_OUTPUT;
    /* the input: an .h5 (every candidate evaluated here) or a sweep's results.json (its rows) */
    char spath[4096];
    const int from_sweep = sweep_input(p.positional[0], spath, sizeof spath);
    cJSON *sroot = NULL;
    const cJSON *sconfigs = NULL;
    if (from_sweep) {
        if (oo.tensor_glob || oo.m_name || oo.v_name || mem_set || device_set)
            return cli_usage_error("recommend", "%s is a sweep's results: --tensor, --mem-limit, --m-name, --v-name and --device apply to an .h5 input",
                                   p.positional[0]);
        if (out && cli_check_output("-o", out, spath, CLI_OUT_TEXT)) return LBQ_EXIT_OUTPUT;
        if (curve && cli_check_output("--curve", curve, spath, CLI_OUT_TEXT)) return LBQ_EXIT_OUTPUT;
        char *txt = lbq_read_file(spath);
        if (!txt) return cli_fail(lbq_err(LBQ_ERR_IO, "%s: cannot read: %s", spath, strerror(errno)));
        sroot = cJSON_Parse(txt);
        free(txt);
        if (!sroot) return cli_fail(lbq_err(LBQ_ERR_FORMAT, "%s: not valid JSON", spath));
        int sr0 = sweep_check(spath, sroot);
        if (sr0) { cJSON_Delete(sroot); return cli_fail(sr0); }
        sconfigs = cJSON_GetObjectItemCaseSensitive(sroot, "configs");
    }
    g_c = calloc(MAXC, sizeof *g_c);
    if (!g_c) { cJSON_Delete(sroot); return cli_fail(lbq_err(LBQ_ERR_NOMEM, "out of memory")); }
    g_nc = 0;
    int exitc = from_sweep ? parse_candidates_sweep(cands, spath, sconfigs) : parse_candidates(cands);
    if (exitc) { free(g_c); cJSON_Delete(sroot); return exitc; }
    if (from_sweep) {       /* the recipes it holds, for the comparison */
        const cJSON *cf;
        cJSON_ArrayForEach(cf, sconfigs) if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(cf, "recipe"))) add_sweep_cand(cf, 0);
    } else for (int r = 0; r < lbq_recipe_count(); r++) add_recipe(lbq_recipe_at(r), r, 0);     /* for the comparison */
    int noffered = 0;
    for (int c = 0; c < g_nc; c++) noffered += g_c[c].offered;
    int use_dev = 0;
    if (!from_sweep) {
        int dr = cli_device_select("recommend", device, &use_dev);
        if (dr == -2) { free(g_c); return LBQ_EXIT_USAGE; }
        if (dr == -1) { free(g_c); return LBQ_EXIT_CUDA; }
    }

    int rc = LBQ_OK;
    struct lbq_file *f = NULL;
    struct lbq_config *cl = NULL;
    struct cres *res = NULL;
    struct lbq_param_eval *ev = NULL;
    struct lbq_mck_item *items = NULL;
    int *nitems = NULL, *choice = NULL, *map = NULL;
    const char **pname = NULL;
    double *pnumel = NULL;
    const char *srcfile = NULL;
    cJSON *root = NULL;
    int np = 0, nc = g_nc;
    if (from_sweep) {
        const cJSON *fj = cJSON_GetObjectItemCaseSensitive(sroot, "file");
        srcfile = cJSON_IsString(fj) ? fj->valuestring : spath;
        np = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(sconfigs, 0), "params"));
    } else {
        cli_guard_file(p.positional[0]);
        rc = lbq_file_open(p.positional[0], &oo, &f);
        if (!rc) rc = lbq_file_set_mem_limit(f, mem);
        if (rc) goto cleanup;
        cli_print_file_notes(f);
        np = lbq_file_nparams(f);
        srcfile = lbq_file_path(f);
    }
    cl = calloc((size_t)nc, sizeof *cl);
    res = calloc((size_t)np * (size_t)nc, sizeof *res);
    ev = calloc((size_t)nc, sizeof *ev);
    items = calloc((size_t)np * (size_t)nc, sizeof *items);
    nitems = calloc((size_t)np, sizeof *nitems);
    choice = calloc((size_t)np, sizeof *choice);
    map = calloc((size_t)np * (size_t)nc, sizeof *map);
    pname = calloc((size_t)np, sizeof *pname);
    pnumel = calloc((size_t)np, sizeof *pnumel);
    if (!cl || !res || !ev || !items || !nitems || !choice || !map || !pname || !pnumel) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
    for (int c = 0; c < nc; c++) cl[c] = g_c[c].c;
    double N = 0;
    if (from_sweep) {       /* the candidates' rows: bits = bits/element x numel (an integer, recovered exactly) */
        const cJSON *r;
        int i = 0;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(sconfigs, 0), "params")) {
            pname[i] = cJSON_GetObjectItemCaseSensitive(r, "name")->valuestring;
            pnumel[i] = cJSON_GetObjectItemCaseSensitive(r, "numel")->valuedouble;
            N += pnumel[i];
            i++;
        }
        for (int c = 0; c < nc; c++) {
            const cJSON *pa = g_c[c].sweep ? cJSON_GetObjectItemCaseSensitive(g_c[c].sweep, "params") : NULL;
            for (i = 0; i < np; i++) {
                struct cres *q = &res[(size_t)i * nc + c];
                double n = pnumel[i];
                if (!pa) {      /* fp32: both states exact */
                    q->bits_m = q->bits_v = 32.0 * n;
                    q->upd = 0; q->cosv = 1; q->blowup = 0; q->m_rel = 0; q->v_rel = 0; q->zc = 0;
                    snprintf(q->m_plan, sizeof q->m_plan, "fp32");
                    snprintf(q->v_plan, sizeof q->v_plan, "fp32");
                    continue;
                }
                const cJSON *row = cJSON_GetArrayItem(pa, i);
                q->bits_m = nearbyint(row_num(row, "bits_per_elem_m") * n);
                q->bits_v = nearbyint(row_num(row, "bits_per_elem_v") * n);
                q->upd = row_num(row, "update_rel_l2"); q->cosv = row_num(row, "update_cosine"); q->blowup = row_num(row, "update_blowup_frac");
                q->m_rel = row_num(row, "m_rel_l2"); q->v_rel = row_num(row, "v_rel_l2"); q->zc = row_num(row, "v_zero_collapse");
                q->kept_fp32 = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "kept_fp32"));
                snprintf(q->m_plan, sizeof q->m_plan, "%s", cJSON_GetObjectItemCaseSensitive(row, "m_plan")->valuestring);
                snprintf(q->v_plan, sizeof q->v_plan, "%s", cJSON_GetObjectItemCaseSensitive(row, "v_plan")->valuestring);
                /* a state the configuration leaves in fp32 has no error (the rows write null there) */
                if (isnan(q->m_rel) && strcmp(q->m_plan, "fp32") == 0) q->m_rel = 0;
                if (isnan(q->v_rel) && strcmp(q->v_plan, "fp32") == 0) q->v_rel = 0;
                q->collapsed = q->zc > 0;       /* zero_collapse = positive_to_zero / positive */
                q->veto = q->collapsed > 0 || q->blowup > max_blowup || !isfinite(q->upd) || v_zero_floor(q->v_plan) > max_vfloor;
            }
        }
    }
    struct lbq_eval_opts eo = { mem, 10.0, use_dev, NULL, NULL, NULL };
    for (int i = 0; i < np && !from_sweep; i++) {
        const struct lbq_param_info *pi = lbq_file_param(f, i);
        pname[i] = pi->name; pnumel[i] = (double)pi->shape.numel;
        N += (double)pi->shape.numel;
        LBQ_TRY(lbq_eval_param(f, i, cl, nc, &eo, ev));       /* every candidate, one read of the tensor */
        for (int c = 0; c < nc; c++) {
            struct cres *r = &res[(size_t)i * nc + c];
            struct lbq_state_res mr, vr;
            struct lbq_update_res ur;
            lbq_state_result(&ev[c].acc.m, &mr);
            lbq_state_result(&ev[c].acc.v, &vr);
            lbq_update_result(&ev[c].acc.u, &ur);
            r->bits_m = bits_of(&ev[c].m_size); r->bits_v = bits_of(&ev[c].v_size);
            r->upd = ur.rel_l2; r->cosv = ur.cosine; r->blowup = ur.blowup_frac;
            r->m_rel = mr.rel_l2; r->v_rel = vr.rel_l2; r->zc = vr.zero_collapse;
            r->collapsed = ev[c].acc.v.pos_to_zero;
            r->kept_fp32 = ev[c].kept_fp32;
            snprintf(r->m_plan, sizeof r->m_plan, "%s", ev[c].m_plan);
            snprintf(r->v_plan, sizeof r->v_plan, "%s", ev[c].v_plan);
            r->veto = r->collapsed > 0 || r->blowup > max_blowup || !isfinite(r->upd) || v_zero_floor(r->v_plan) > max_vfloor;
        }
    }
    /* the knapsack over the offered candidates: cost = bits of m + v, error = numel * update rel-L2 */
    for (int i = 0; i < np; i++) {
        double n = pnumel[i];
        int k = 0;
        for (int c = 0; c < nc; c++) {
            if (!g_c[c].offered) continue;
            const struct cres *r = &res[(size_t)i * nc + c];
            struct lbq_mck_item *it = &items[(size_t)i * noffered + k];
            it->cost = r->bits_m + r->bits_v; it->err = n * r->upd; it->veto = r->veto;
            map[(size_t)i * noffered + k] = c;
            k++;
        }
        nitems[i] = k;
    }
    struct lbq_mck_result sr;
    double budget_bits = budget * 2.0 * N;
    rc = lbq_mck_solve(np, nitems, items, budget_bits, 0, choice, &sr);
    if (rc == LBQ_ERR_ARG && sr.min_cost > 0 && budget_bits < sr.min_cost) {
        fprintf(stderr, "lbq recommend: error: budget %.4g bits/element is below the minimum achievable %.4f bits/element with these candidates (vetoed ones excluded)\n",
                budget, sr.min_cost / (2.0 * N));
        exitc = LBQ_EXIT_USAGE;
        rc = LBQ_OK;
        goto cleanup;
    }
    if (rc == LBQ_ERR_ARG && strstr(lbq_errmsg(), "every candidate is vetoed")) {
        int g = -1;
        sscanf(strstr(lbq_errmsg(), "group ") + 6, "%d", &g);
        rc = lbq_err(LBQ_ERR_ARG, "recommend: tensor '%s': every candidate is vetoed (add fp32 to --candidates, or raise --max-blowup)",
                     g >= 0 && g < np ? pname[g] : "?");
    }
    if (rc) goto cleanup;
    /* the table */
    double pb_m = 0, pb_v = 0, pobj = 0;
    if (from_sweep) printf("%s (the sweep %s): plan for %.4g bits/element (m and v averaged, scales included), %d candidates x %d parameters\n",
                           srcfile, spath, budget, noffered, np);
    else printf("%s: plan for %.4g bits/element (m and v averaged, scales included), %d candidates x %d parameters\n",
                srcfile, budget, noffered, np);
    printf("objective: element-weighted mean of the per-tensor update rel-L2; veto: v>0 -> 0, blow-up fraction > %g, v zero floor > %g\n", max_blowup, max_vfloor);
    printf("%-30s %9s %-22s %-26s %11s %9s %9s %9s %8s\n", "parameter", "numel", "m", "v", "bits m/v", "upd relL2", "m rel-L2", "v rel-L2", "blowup%");
    for (int i = 0; i < np; i++) {
        int c = map[(size_t)i * noffered + choice[i]];
        const struct cres *r = &res[(size_t)i * nc + c];
        double n = pnumel[i];
        pb_m += r->bits_m; pb_v += r->bits_v; pobj += n * r->upd;
        char bits[32];
        snprintf(bits, sizeof bits, "%.2f/%.2f", r->bits_m / n, r->bits_v / n);
        printf("%-30.30s %9lld %-22.22s %-26.26s %11s %9.3e %9.3e %9.3e %8.3f\n", pname[i], (long long)n,
               r->m_plan, r->v_plan, bits, r->upd, r->m_rel, r->v_rel, 100.0 * r->blowup);
    }
    pobj /= N;
    printf("%.*s\n", 140, "--------------------------------------------------------------------------------------------------------------------------------------------");
    printf("PLAN: %.3f bits/element (m %.2f + v %.2f)   element-weighted update rel-L2 %.4e\n", (pb_m + pb_v) / (2 * N), pb_m / N, pb_v / N, pobj);
    if (sr.gap == 0) printf("solver: optimal over the candidates (exact dynamic program, unit %.4g bits)\n", sr.unit);
    else printf("solver: dynamic program over units of %.4g bits: objective within %.3e of the optimum (lower bound %.4e)\n", sr.unit, sr.gap / N, sr.lower_bound / N);
    printf("minimum achievable with these candidates: %.3f bits/element\n", sr.min_cost / (2 * N));
    printf("\npublished recipes, each at its own memory (same objective; vetoed = tensors the plan's veto would refuse):\n");
    printf("%-10s %10s %14s %8s %s\n", "recipe", "bits/elem", "upd relL2 (ew)", "vetoed", "vs plan");
    struct { double bits, obj; int vetoed; } rec[32];
    int nrec = 0;
    for (int c = 0; c < nc && nrec < 32; c++) {
        if (g_c[c].recipe < 0) continue;
        double b = 0, o = 0;
        int vt = 0;
        for (int i = 0; i < np; i++) {
            const struct cres *r = &res[(size_t)i * nc + c];
            b += r->bits_m + r->bits_v; o += pnumel[i] * r->upd; vt += r->veto;
        }
        rec[nrec].bits = b / (2 * N); rec[nrec].obj = o / N; rec[nrec].vetoed = vt;
        printf("%-10s %10.3f %14.4e %8d %s\n", g_c[c].rname, rec[nrec].bits, rec[nrec].obj, vt,
               rec[nrec].bits > budget ? "over the budget" : (pobj <= rec[nrec].obj ? "plan better or equal" : "plan worse"));
        nrec++;
    }
    if (!nrec) printf("(none: %s holds no recipe:NAME configuration)\n", from_sweep ? spath : "this run");
    if (curve) {        /* plans at a ladder of budgets, the recipes, and this plan: plots/recommend.gp */
        size_t cap = 65536, len = 0;
        char *tb = malloc(cap);
        int *ch2 = malloc(sizeof(int) * (size_t)np);
        if (!tb || !ch2) { free(tb); free(ch2); rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
        len += (size_t)snprintf(tb + len, cap - len, "# lbq recommend %s --curve: gnuplot -e \"datafile='FILE'; outfile='recommend'\" plots/recommend.gp\n"
                                "# block 0: plans (budget, bits/element, element-weighted update rel-L2, lower bound)\n", srcfile);
        double lo = ceil(sr.min_cost / (2 * N) * 4.0) / 4.0;
        for (double b = lo; b <= 9.0 + 1e-9 && len + 256 < cap; b += 0.25) {
            struct lbq_mck_result r2;
            if (lbq_mck_solve(np, nitems, items, b * 2.0 * N, (int64_t)1 << 16, ch2, &r2) != LBQ_OK) continue;
            len += (size_t)snprintf(tb + len, cap - len, "%g\t%.6g\t%.6g\t%.6g\n", b, r2.cost / (2 * N), r2.err / N, r2.lower_bound / N);
        }
        len += (size_t)snprintf(tb + len, cap - len, "\n\n# block 1: recipes (bits/element, objective, name, label x, label y)\n");
        for (int k = 0, c = 0; c < nc && len + 256 < cap; c++) {
            if (g_c[c].recipe < 0) continue;
            /* the label above-right of its point, below-right when another recipe sits just right at about the same error */
            int below = 0;
            for (int j = 0; j < nrec; j++)
                if (j != k && rec[j].bits > rec[k].bits && rec[j].bits - rec[k].bits < 0.6 && rec[j].obj > 0 && rec[k].obj > 0 &&
                    fabs(log10(rec[j].obj / rec[k].obj)) < 0.08) below = 1;
            len += (size_t)snprintf(tb + len, cap - len, "%.6g\t%.6g\t%s\t%.6g\t%.6g\n", rec[k].bits, rec[k].obj, g_c[c].rname,
                                    rec[k].bits + 0.08, below ? rec[k].obj / 1.35 : rec[k].obj * 1.3);
            k++;
        }
        len += (size_t)snprintf(tb + len, cap - len, "\n\n# block 2: this plan (bits/element, objective, budget)\n%.6g\t%.6g\t%g\n",
                                (pb_m + pb_v) / (2 * N), pobj, budget);
        free(ch2);
        fflush(stdout);
        rc = lbq_write_atomic(curve, tb, len);
        free(tb);
        if (rc) goto cleanup;
        cli_note("wrote %s", curve);
    }
    if (out) {
        root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "schema", "lbq.plan");
        cJSON_AddNumberToObject(root, "schema_version", 1);
        cJSON_AddStringToObject(root, "lbq_version", LBQ_VERSION_STRING);
        cJSON_AddStringToObject(root, "file", srcfile);
        if (from_sweep) {
            const cJSON *hp = cJSON_GetObjectItemCaseSensitive(sroot, "hparams");
            cJSON_AddItemToObject(root, "hparams", hp ? cJSON_Duplicate(hp, 1) : cJSON_CreateNull());
            cJSON_AddStringToObject(root, "from_sweep", spath);
        } else cJSON_AddItemToObject(root, "hparams", lbq_hparams_json(f));
        lbq_json_add_num(root, "budget_bits_per_elem", budget);
        cJSON_AddStringToObject(root, "objective", "element-weighted mean of update rel_l2");
        cJSON *vo = cJSON_AddObjectToObject(root, "veto");
        cJSON_AddBoolToObject(vo, "v_collapse", 1);
        lbq_json_add_num(vo, "max_blowup_frac", max_blowup);
        lbq_json_add_num(vo, "max_v_zero_floor", max_vfloor);
        cJSON *ca = cJSON_AddArrayToObject(root, "candidates");
        for (int c = 0; c < nc; c++) if (g_c[c].offered) cJSON_AddItemToArray(ca, cJSON_CreateString(g_c[c].c.label));
        cJSON *so = cJSON_AddObjectToObject(root, "solver");
        lbq_json_add_num(so, "unit_bits", sr.unit);
        lbq_json_add_num(so, "objective_lower_bound", sr.lower_bound / N);
        lbq_json_add_num(so, "gap", sr.gap / N);
        lbq_json_add_num(so, "min_bits_per_elem", sr.min_cost / (2 * N));
        cJSON *to = cJSON_AddObjectToObject(root, "totals");
        cJSON_AddNumberToObject(to, "numel", N);
        lbq_json_add_num(to, "bits_per_elem", (pb_m + pb_v) / (2 * N));
        lbq_json_add_num(to, "bits_per_elem_m", pb_m / N);
        lbq_json_add_num(to, "bits_per_elem_v", pb_v / N);
        lbq_json_add_num(to, "update_rel_l2_ew", pobj);
        cJSON *ra = cJSON_AddArrayToObject(root, "recipes");
        for (int c = 0, k = 0; c < nc; c++) {
            if (g_c[c].recipe < 0) continue;
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", g_c[c].rname);
            lbq_json_add_num(o, "bits_per_elem", rec[k].bits);
            lbq_json_add_num(o, "update_rel_l2_ew", rec[k].obj);
            cJSON_AddNumberToObject(o, "vetoed_tensors", rec[k].vetoed);
            cJSON_AddItemToArray(ra, o);
            k++;
        }
        cJSON *pa = cJSON_AddArrayToObject(root, "params");
        for (int i = 0; i < np; i++) {
            int c = map[(size_t)i * noffered + choice[i]];
            const struct cres *r = &res[(size_t)i * nc + c];
            const struct lbq_config *cc = &g_c[c].c;
            double n = pnumel[i];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", pname[i]);
            cJSON_AddNumberToObject(o, "numel", n);
            cJSON_AddStringToObject(o, "candidate", cc->label);
            cJSON_AddStringToObject(o, "m", cc->has_m && !r->kept_fp32 ? cc->m.text : "fp32");
            cJSON_AddStringToObject(o, "v", cc->has_v && !r->kept_fp32 ? cc->v.text : "fp32");
            cJSON_AddStringToObject(o, "m_plan", r->m_plan);
            cJSON_AddStringToObject(o, "v_plan", r->v_plan);
            cJSON_AddNumberToObject(o, "bits_m", r->bits_m);
            cJSON_AddNumberToObject(o, "bits_v", r->bits_v);
            lbq_json_add_num(o, "bits_per_elem_m", r->bits_m / n);
            lbq_json_add_num(o, "bits_per_elem_v", r->bits_v / n);
            lbq_json_add_num(o, "update_rel_l2", r->upd);
            lbq_json_add_num(o, "update_cosine", r->cosv);
            lbq_json_add_num(o, "update_blowup_frac", r->blowup);
            lbq_json_add_num(o, "m_rel_l2", r->m_rel);
            lbq_json_add_num(o, "v_rel_l2", r->v_rel);
            lbq_json_add_num(o, "v_zero_collapse", r->zc);
            cJSON_AddItemToArray(pa, o);
        }
        fflush(stdout);
        LBQ_TRY(lbq_json_write(out, root));
        cli_note("wrote %s", out);
    }
cleanup:
    if (rc) exitc = cli_fail(rc);
    cJSON_Delete(root);
    free(cl); free(res); free(ev); free(items); free(nitems); free(choice); free(map); free(g_c); free(pname); free(pnumel);
    g_c = NULL;
    if (!exitc && f) cli_print_read_notes(f);
    lbq_file_close(f);
    cJSON_Delete(sroot);
    return exitc;
}
