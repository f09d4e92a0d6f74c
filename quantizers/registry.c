/* registry.c - the two registries (maps, normalizations) and the recipes.  Adding a map or a
 * normalization: one new file defining a `const struct lbq_map`/`lbq_norm`, one line in
 * registry.def (docs/adding-a-quantizer.md).  Tests and `lbq list` loop over these tables. */
#include "lbq-quant-impl.h"

#include <ctype.h>

/* The tables, from registry.def (one line per entry).  A build may compile in further entries with
 * -DLBQ_EXTRA_REGISTRY='"file.def"' (lines of the same form, appended after the shipped ones): the
 * tests/extra-quantizer target uses it to show that a new map needs one file and one such line,
 * and nothing else (docs/adding-a-quantizer.md). */
#define LBQ_MAP(obj) extern const struct lbq_map obj;
#define LBQ_NORM(obj) extern const struct lbq_norm obj;
#include "registry.def"
#ifdef LBQ_EXTRA_REGISTRY
#include LBQ_EXTRA_REGISTRY
#endif
#undef LBQ_MAP
#undef LBQ_NORM

static const struct lbq_map *const g_maps[] = {
#define LBQ_MAP(obj) &obj,
#define LBQ_NORM(obj)
#include "registry.def"
#ifdef LBQ_EXTRA_REGISTRY
#include LBQ_EXTRA_REGISTRY
#endif
#undef LBQ_MAP
#undef LBQ_NORM
};

static const struct lbq_norm *const g_norms[] = {
#define LBQ_MAP(obj)
#define LBQ_NORM(obj) &obj,
#include "registry.def"
#ifdef LBQ_EXTRA_REGISTRY
#include LBQ_EXTRA_REGISTRY
#endif
#undef LBQ_MAP
#undef LBQ_NORM
};

/* fp32 exclusion rules: lpmm numel <= 4096; bitsandbytes numel < 4096; torchao numel < 4096 or
 * numel % block != 0; SOLO numel < 128 or numel not a multiple of the 2-bit packing (4; SOLO
 * itself would still quantize m when numel % 4 == 2, docs/quantizers.md); COAT keeps none. */
static const struct lbq_recipe g_recipes[] = {
    { "lpmm4",    "lpmm 4-bit AdamW (paper): m block128-dtree, v rank1-linear, 4 bits; numel<=4096 fp32",
      "block128-dtree:b4", "rank1-linear:b4", 4096, 0, 0 },
    { "bnb8",     "bitsandbytes AdamW8bit: m and v block256-dtree, 8 bits; numel<4096 fp32",
      "block256-dtree:b8", "block256-dtree:b8", -1, 4096, 0 },
    { "torchao4", "torchao AdamW4bit: m block128-dtree, v block128-linear, 4 bits; numel<4096 or %128 fp32",
      "block128-dtree:b4", "block128-linear:b4", -1, 4096, 128 },
    { "solo42",   "SOLO 4/2: m block128-dtree 4 bits, v block128-log 2 bits (p=0.1, stochastic in the log domain), blocks fitted to numel; numel<128 or %4 fp32",
      "block128-dtree:b4:fit", "block128-log:b2:sr", -1, 128, 4 },
    { "coat",     "COAT: m and v fp8e4m3 with dynamic range expansion, block128",
      "block128-fp8e4m3:dre", "block128-fp8e4m3:dre", -1, 0, 0 },
};

int lbq_map_count(void) { return (int)(sizeof g_maps / sizeof g_maps[0]); }
const struct lbq_map *lbq_map_at(int i) { return (i >= 0 && i < lbq_map_count()) ? g_maps[i] : NULL; }
int lbq_norm_count(void) { return (int)(sizeof g_norms / sizeof g_norms[0]); }
const struct lbq_norm *lbq_norm_at(int i) { return (i >= 0 && i < lbq_norm_count()) ? g_norms[i] : NULL; }
int lbq_recipe_count(void) { return (int)(sizeof g_recipes / sizeof g_recipes[0]); }
const struct lbq_recipe *lbq_recipe_at(int i) { return (i >= 0 && i < lbq_recipe_count()) ? &g_recipes[i] : NULL; }

int lbq_streq_ci(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

int lbq_name_matches(const char *name, const char *primary, const char *aliases)
{
    if (lbq_streq_ci(name, primary)) return 1;
    const char *a = aliases;
    while (a && *a) {
        const char *e = strchr(a, ',');
        size_t len = e ? (size_t)(e - a) : strlen(a);
        char buf[64];
        if (len < sizeof buf) {
            memcpy(buf, a, len); buf[len] = 0;
            if (lbq_streq_ci(name, buf)) return 1;
        }
        a = e ? e + 1 : NULL;
    }
    return 0;
}

const struct lbq_map *lbq_map_find(const char *name)
{
    for (int i = 0; i < lbq_map_count(); i++)
        if (lbq_name_matches(name, g_maps[i]->name, g_maps[i]->aliases)) return g_maps[i];
    return NULL;
}

const struct lbq_norm *lbq_norm_find(const char *name, int64_t *block)
{
    for (int i = 0; i < lbq_norm_count(); i++)
        if (lbq_name_matches(name, g_norms[i]->name, g_norms[i]->aliases)) return g_norms[i];
    /* blockwise norms with a size suffix: "block128", "B128", "group64" */
    size_t len = strlen(name);
    size_t k = len;
    while (k > 0 && isdigit((unsigned char)name[k - 1])) k--;
    if (k == len || k == 0 || len - k > 12) return NULL;   /* *block stays untouched: no size given */
    char base[64];
    if (k >= sizeof base) return NULL;
    memcpy(base, name, k); base[k] = 0;
    for (int i = 0; i < lbq_norm_count(); i++) {
        const struct lbq_norm *n = g_norms[i];
        if (n->blockwise && lbq_name_matches(base, n->name, n->aliases)) {
            if (block) *block = strtoll(name + k, NULL, 10);
            return n;
        }
    }
    return NULL;
}

const struct lbq_recipe *lbq_recipe_find(const char *name)
{
    for (int i = 0; i < lbq_recipe_count(); i++)
        if (lbq_streq_ci(name, g_recipes[i].name)) return &g_recipes[i];
    return NULL;
}

int lbq_recipe_keeps_fp32(const struct lbq_recipe *r, int64_t numel)
{
    if (!r) return 0;
    if (r->fp32_max_numel >= 0 && numel <= r->fp32_max_numel) return 1;
    if (r->fp32_min_numel > 0 && numel < r->fp32_min_numel) return 1;
    if (r->fp32_indivisible > 0 && numel % r->fp32_indivisible != 0) return 1;
    return 0;
}

static int edit_distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63 || lb > 63) return 99;
    int d[64][64];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int c = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int v = d[i - 1][j - 1] + c;
            if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            d[i][j] = v;
        }
    return d[la][lb];
}

const char *lbq_name_suggest(const char *name)
{
    const char *best = NULL;
    int bd = 3;     /* suggest only close names */
    for (int i = 0; i < lbq_map_count(); i++) {
        int d = edit_distance(name, g_maps[i]->name);
        if (d < bd) { bd = d; best = g_maps[i]->name; }
    }
    for (int i = 0; i < lbq_norm_count(); i++) {
        int d = edit_distance(name, g_norms[i]->name);
        if (d < bd) { bd = d; best = g_norms[i]->name; }
    }
    for (int i = 0; i < lbq_recipe_count(); i++) {
        int d = edit_distance(name, g_recipes[i].name);
        if (d < bd) { bd = d; best = g_recipes[i].name; }
    }
    return best;
}
