/* test-spec.c - quantizer spec parsing (lbq_qspec_parse / lbq_qspec_format): every name and alias
 * of every map and normalization, the paper's naming ("B128/DE", "Rank-1/Linear"), block suffixes,
 * options, errors (status LBQ_ERR_ARG and a message naming the bad part), the canonical text round
 * trip, the recipes (specs and fp32-exclusion rules, from the reference notes) and ':nz'. */
#include "lbq.h"
#include "lbq-test.h"
#include "qcore.h"

#include <ctype.h>
#include <stdint.h>
#include <unistd.h>

static const struct lbq_map *M(const char *n) { return lbq_map_find(n); }
static const struct lbq_norm *N(const char *n) { return lbq_norm_find(n, NULL); }

static char g_levels[256];       /* a valid --map-file for the 'file' map */

static int parse(const char *text, struct lbq_qspec *s)
{
    struct lbq_qdefaults d;
    lbq_qdefaults_init(&d);
    d.map_file = g_levels;
    return lbq_qspec_parse(text, &d, s);
}

/* status and every substring in the (NULL-terminated) list must appear in the message */
static void expect_err_d(const char *text, const struct lbq_qdefaults *d, int status, const char *const *subs)
{
    struct lbq_qspec s;
    int rc = lbq_qspec_parse(text, d, &s);
    int ok = rc == status;
    for (int i = 0; subs && subs[i]; i++) if (!strstr(lbq_errmsg(), subs[i])) ok = 0;
    CHECK_MSG(ok, "spec '%s': rc %d (want %d), message '%s'", text ? text : "(null)", rc, status, lbq_errmsg());
}
#define EXPECT_ERR(text, ...) do { const char *subs_[] = { __VA_ARGS__, NULL }; expect_err_d(text, NULL, LBQ_ERR_ARG, subs_); } while (0)
#define EXPECT_ERR_D(text, d, ...) do { const char *subs_[] = { __VA_ARGS__, NULL }; expect_err_d(text, d, LBQ_ERR_ARG, subs_); } while (0)

/* the fields a spec text carries */
static int spec_eq(const struct lbq_qspec *a, const struct lbq_qspec *b, char *why, size_t len)
{
    if (a->norm != b->norm) { snprintf(why, len, "norm %s vs %s", a->norm->name, b->norm->name); return 0; }
    if (a->map != b->map) { snprintf(why, len, "map %s vs %s", a->map->name, b->map->name); return 0; }
    if (a->bits != b->bits) { snprintf(why, len, "bits %d vs %d", a->bits, b->bits); return 0; }
    if (a->norm->blockwise && a->block != b->block) { snprintf(why, len, "block %lld vs %lld", (long long)a->block, (long long)b->block); return 0; }
    if (a->sign != b->sign) { snprintf(why, len, "sign %d vs %d", a->sign, b->sign); return 0; }
    if (a->round != b->round) { snprintf(why, len, "round %d vs %d", a->round, b->round); return 0; }
    if (a->nz != b->nz || a->dre != b->dre) { snprintf(why, len, "nz/dre"); return 0; }
    if (a->map == M("log") && a->quantile != b->quantile) { snprintf(why, len, "quantile %.9g vs %.9g", (double)a->quantile, (double)b->quantile); return 0; }
    return 1;
}

/* parse(format(s)) == s and s.text == format(s) */
static void check_roundtrip(const struct lbq_qspec *s, const char *from)
{
    char buf[160], why[128] = "";
    lbq_qspec_format(s, buf, sizeof buf);
    CHECK_MSG(strcmp(buf, s->text) == 0, "'%s': text '%s' != format '%s'", from, s->text, buf);
    struct lbq_qspec t;
    int rc = parse(buf, &t);
    CHECK_MSG(rc == LBQ_OK && spec_eq(s, &t, why, sizeof why), "'%s' -> '%s' does not parse back to the same spec: %s %s",
              from, buf, rc ? lbq_errmsg() : "", why);
    if (rc == LBQ_OK) CHECK_MSG(strcmp(t.text, buf) == 0, "'%s': canonical text not stable: '%s' -> '%s'", from, buf, t.text);
}

/* split "a,b,c" into names */
static int split_aliases(const char *primary, const char *aliases, char out[][64], int max)
{
    int n = 0;
    snprintf(out[n++], 64, "%s", primary);
    const char *a = aliases;
    while (a && *a && n < max) {
        const char *e = strchr(a, ',');
        size_t len = e ? (size_t)(e - a) : strlen(a);
        if (len && len < 64) { memcpy(out[n], a, len); out[n][len] = 0; n++; }
        a = e ? e + 1 : NULL;
    }
    return n;
}

static void upper(char *s) { for (; *s; s++) *s = (char)toupper((unsigned char)*s); }

/* ---- every name and alias ------------------------------------------------------------------ */
static void test_names(void)
{
    char mnames[16][64], nnames[16][64];
    int tested = 0;
    for (int mi = 0; mi < lbq_map_count(); mi++) {
        const struct lbq_map *m = lbq_map_at(mi);
        int nm = split_aliases(m->name, m->aliases, mnames, 16);
        for (int a = 0; a < nm; a++) {
            CHECK_MSG(lbq_map_find(mnames[a]) == m, "map alias '%s' of %s", mnames[a], m->name);
            char up[64];
            snprintf(up, sizeof up, "%.63s", mnames[a]);
            upper(up);
            CHECK_MSG(lbq_map_find(up) == m, "map alias '%s' (upper case) of %s", up, m->name);
        }
        for (int ni = 0; ni < lbq_norm_count(); ni++) {
            const struct lbq_norm *n = lbq_norm_at(ni);
            int nn = split_aliases(n->name, n->aliases, nnames, 16);
            for (int a = 0; a < nm; a++)
                for (int b = 0; b < nn; b++)
                    for (int sep = 0; sep < 2; sep++)
                        for (int blk = 0; blk < (n->blockwise ? 2 : 1); blk++) {
                            char text[160];
                            snprintf(text, sizeof text, "%.63s%s%s%.63s%s", nnames[b], blk ? "48" : "", sep ? "/" : "-", mnames[a],
                                     m == M("log") ? ":unsigned" : "");
                            struct lbq_qspec s;
                            int rc = parse(text, &s);
                            int want_ok = !(m->needs_block && !n->blockwise);
                            if (!want_ok) { CHECK_MSG(rc == LBQ_ERR_ARG, "'%s' accepted", text); continue; }
                            CHECK_MSG(rc == LBQ_OK && s.map == m && s.norm == n && (!n->blockwise || s.block == (blk ? 48 : 128)),
                                      "'%s' -> rc %d %s map %s norm %s block %lld", text, rc, rc ? lbq_errmsg() : "",
                                      rc ? "-" : s.map->name, rc ? "-" : s.norm->name, rc ? 0LL : (long long)s.block);
                            if (rc == LBQ_OK) check_roundtrip(&s, text);
                            tested++;
                        }
        }
    }
    CHECK(tested > 500);
    /* the names used by the papers and the reference implementations */
    struct { const char *text; const char *norm; int64_t block; const char *map; } paper[] = {
        { "B128/DE", "block", 128, "dtree" },           { "B2048/DE", "block", 2048, "dtree" },
        { "B128/DE-0", "block", 128, "dtree0" },        { "Rank-1/Linear", "rank1", 0, "linear" },
        { "rank-1-linear", "rank1", 0, "linear" },      { "rank1/power-1", "rank1", 0, "linear" },
        { "block128-dynamic-tree", "block", 128, "dtree" }, { "group128-nonlinear", "block", 128, "dtree" },
        { "group64-nonlinear-nozero", "block", 64, "dtree0" }, { "tensor-linear-2", "tensor", 0, "linsq" },
        { "rank1-linear-2", "rank1", 0, "linsq" },      { "per-tensor-linear-square", "tensor", 0, "linsq" },
        { "dim0-linear", "row", 0, "linear" },          { "per-col/uniform", "col", 0, "uniform" },
        { "b256-dtree", "block", 256, "dtree" },        { "block128-qema", "block", 128, "log" },
        { "block128-e4m3", "block", 128, "fp8e4m3" },   { "sm3-int", "rank1", 0, "uniform" },
    };
    for (size_t k = 0; k < sizeof paper / sizeof paper[0]; k++) {
        struct lbq_qspec s;
        int rc = parse(paper[k].text, &s);
        CHECK_MSG(rc == LBQ_OK && s.norm == N(paper[k].norm) && s.map == M(paper[k].map) && (!paper[k].block || s.block == paper[k].block),
                  "'%s': rc %d %s", paper[k].text, rc, rc ? lbq_errmsg() : (s.text));
    }
    struct lbq_qspec s;
    CHECK_OK(parse("B128/DE", &s));
    CHECK_MSG(strcmp(s.text, "block128-dtree:b4") == 0, "B128/DE -> '%s'", s.text);
    CHECK_OK(parse("Rank-1/Linear:SR", &s));
    CHECK_MSG(strcmp(s.text, "rank1-linear:b4:sr") == 0, "Rank-1/Linear:SR -> '%s'", s.text);
    CHECK_OK(parse("block128-qema:b2:p0.05", &s));
    CHECK_MSG(strcmp(s.text, "block128-log:b2:p0.05") == 0, "-> '%s'", s.text);
    CHECK_OK(parse("block128-e4m3:dre", &s));
    CHECK_MSG(strcmp(s.text, "block128-fp8e4m3:b8:dre") == 0, "-> '%s'", s.text);

    /* lookups */
    int64_t blk = -5;
    CHECK(lbq_norm_find("block128", &blk) == N("block") && blk == 128);
    CHECK(lbq_norm_find("B64", &blk) == N("block") && blk == 64);
    CHECK(lbq_norm_find("tensor128", &blk) == NULL);
    CHECK(lbq_norm_find("rank1x", NULL) == NULL);
    CHECK(lbq_map_find("nosuchmap") == NULL);
    CHECK(lbq_map_find("") == NULL);
    CHECK_MSG(lbq_name_suggest("dtre") && strcmp(lbq_name_suggest("dtre"), "dtree") == 0, "suggest dtre");
    CHECK_MSG(lbq_name_suggest("lpmm") && strcmp(lbq_name_suggest("lpmm"), "lpmm4") == 0, "suggest lpmm");
    CHECK(lbq_name_suggest("completely-unrelated") == NULL);
}

/* ---- block sizes and options ---------------------------------------------------------------- */
static void test_options(void)
{
    struct lbq_qspec s;
    struct lbq_qdefaults d;
    CHECK_OK(parse("block64-dtree", &s)); CHECK_EQ_INT(s.block, 64);
    CHECK_OK(parse("group32-dtree", &s)); CHECK_EQ_INT(s.block, 32);
    CHECK_OK(parse("blockwise7-dtree", &s)); CHECK_EQ_INT(s.block, 7);
    CHECK_OK(parse("B1-dtree", &s)); CHECK_EQ_INT(s.block, 1);
    CHECK_OK(parse("block1073741824-dtree", &s)); CHECK_EQ_INT(s.block, (int64_t)1 << 30);
    lbq_qdefaults_init(&d);
    d.block = 64;
    CHECK_OK(lbq_qspec_parse("block-dtree", &d, &s)); CHECK_EQ_INT(s.block, 64);
    CHECK_MSG(strcmp(s.text, "block64-dtree:b4") == 0, "'%s'", s.text);
    CHECK_OK(lbq_qspec_parse("block32-dtree", &d, &s)); CHECK_EQ_INT(s.block, 32);   /* the spec wins */

    /* defaults */
    CHECK_OK(parse("block-dtree", &s));
    CHECK(s.bits == 4 && s.block == 128 && s.sign == -1 && s.round == LBQ_ROUND_NEAREST && s.seed == 0 &&
          s.quantile == 0.1f && !s.nz && !s.dre);
    lbq_qdefaults_init(&d);
    d.bits = 3; d.round = LBQ_ROUND_STOCHASTIC; d.seed = 77; d.quantile = 0.25f;
    CHECK_OK(lbq_qspec_parse("block-log", &d, &s));
    CHECK(s.bits == 3 && s.round == LBQ_ROUND_STOCHASTIC && s.seed == 77 && s.quantile == 0.25f);

    /* options */
    CHECK_OK(parse("block128-dtree:b2", &s)); CHECK_EQ_INT(s.bits, 2);
    CHECK_OK(parse("block128-dtree:B7", &s)); CHECK_EQ_INT(s.bits, 7);
    CHECK_OK(parse("block128-dtree:nz", &s)); CHECK_EQ_INT(s.nz, 1);
    CHECK_OK(parse("block128-fp8e5m2:dre", &s)); CHECK_EQ_INT(s.dre, 1);
    CHECK_OK(parse("block128-dtree:signed", &s)); CHECK_EQ_INT(s.sign, 1);
    CHECK_OK(parse("block128-dtree:unsigned", &s)); CHECK_EQ_INT(s.sign, 0);
    /* a repeated or contradicting option is refused (issue 16; the last one used to win silently) */
    CHECK(parse("block128-dtree:signed:unsigned", &s) == LBQ_ERR_ARG && strstr(lbq_errmsg(), "':unsigned' repeats or contradicts ':signed'"));
    CHECK(parse("block128-dtree:b4:b5", &s) == LBQ_ERR_ARG && strstr(lbq_errmsg(), "':b5' repeats or contradicts ':b4'"));
    CHECK(parse("block128-dtree:sr:sr", &s) == LBQ_ERR_ARG);
    CHECK(parse("block128-log:p0.1:p0.1", &s) == LBQ_ERR_ARG);
    CHECK(parse("block128-dtree:nz:nz", &s) == LBQ_ERR_ARG);
    CHECK_OK(parse("block128-dtree:sr", &s)); CHECK_EQ_INT(s.round, LBQ_ROUND_STOCHASTIC);
    CHECK(parse("block128-dtree:SR:nearest", &s) == LBQ_ERR_ARG && strstr(lbq_errmsg(), "':nearest' repeats or contradicts ':SR'"));
    CHECK_OK(parse("block128-dtree:nearest", &s)); CHECK_EQ_INT(s.round, LBQ_ROUND_NEAREST);
    CHECK_OK(parse("block128-log:p0.05", &s)); CHECK(s.quantile == 0.05f);
    CHECK_OK(parse("block128-log:P.5", &s)); CHECK(s.quantile == 0.5f);
    CHECK_OK(parse("block128-log:b3:p0.2:sr:unsigned", &s));
    CHECK(s.bits == 3 && s.quantile == 0.2f && s.round == LBQ_ROUND_STOCHASTIC && s.sign == 0);
    CHECK_MSG(strcmp(s.text, "block128-log:b3:unsigned:sr:p0.2") == 0, "'%s'", s.text);
    CHECK_OK(parse("block128-fp8e4m3", &s)); CHECK_EQ_INT(s.bits, 8);      /* default 4, fixed 8 */
    CHECK_OK(parse("block128-fp8e4m3:b8", &s)); CHECK_EQ_INT(s.bits, 8);
    lbq_qdefaults_init(&d);
    d.bits = 4;                                        /* not explicitly set: the map's 8 wins */
    CHECK_OK(lbq_qspec_parse("tensor-fp8e5m2", &d, &s)); CHECK_EQ_INT(s.bits, 8);
    d.bits = 8; d.bits_set = 1;
    CHECK_OK(lbq_qspec_parse("tensor-fp8e5m2", &d, &s)); CHECK_EQ_INT(s.bits, 8);
    d.bits = 5; d.bits_set = 1;
    CHECK_OK(lbq_qspec_parse("tensor-dtree", &d, &s)); CHECK_EQ_INT(s.bits, 5);
    CHECK_OK(lbq_qspec_parse("tensor-dtree:b6", &d, &s)); CHECK_EQ_INT(s.bits, 6);   /* the spec wins */
}

/* ---- errors ----------------------------------------------------------------------------------- */
static void test_errors(void)
{
    struct lbq_qspec s;
    struct lbq_qdefaults d;
    EXPECT_ERR("", "empty");
    CHECK_EQ_INT(lbq_qspec_parse(NULL, NULL, &s), LBQ_ERR_ARG);
    char longspec[200];
    memset(longspec, 'x', sizeof longspec);
    memcpy(longspec, "block128-dtree:", 15);
    longspec[150] = 0;
    EXPECT_ERR(longspec, "too long");
    EXPECT_ERR("dtree", "'dtree'", "NORM-MAP");
    /* unknown names with suggestions */
    EXPECT_ERR("block128-dtre", "block128-dtre", "unknown map 'dtre'", "did you mean 'dtree'");
    EXPECT_ERR("block128-lineer:b4", "unknown map 'lineer'", "did you mean 'linear'");
    EXPECT_ERR("blck-dtree", "unknown normalization 'blck'", "did you mean 'block'");
    EXPECT_ERR("rnk1-linear", "unknown normalization 'rnk1'", "did you mean 'rank1'");
    EXPECT_ERR("block128-zzqqxxyy", "unknown map 'zzqqxxyy'");
    CHECK_MSG(strstr(lbq_errmsg(), "did you mean") == NULL, "no suggestion expected: %s", lbq_errmsg());
    EXPECT_ERR("tensor128-dtree", "unknown normalization 'tensor128'");
    /* bits */
    EXPECT_ERR("block128-dtree:b0", "bits 0", "1-8");
    EXPECT_ERR("block128-dtree:b9", "bits 9", "1-8");
    EXPECT_ERR("block128-dtree:b12", "bits 12");
    EXPECT_ERR("block128-dtree:b-1", ":b-1");
    EXPECT_ERR("block128-dtree:b4x", "b4x");
    EXPECT_ERR("block128-dtree:bx", ":bx");
    const int badbits[] = { 0, 9, -1 };
    for (int k = 0; k < 3; k++) {
        lbq_qdefaults_init(&d);
        d.bits = badbits[k];
        char want[32];
        snprintf(want, sizeof want, "bits %d", badbits[k]);
        EXPECT_ERR_D("block128-dtree", &d, want, "block128-dtree");
    }
    /* block sizes */
    EXPECT_ERR("block0-dtree", "block", "block0-dtree");
    EXPECT_ERR("block1073741825-dtree", "too large");
    lbq_qdefaults_init(&d);
    d.block = 0;
    EXPECT_ERR_D("block-dtree", &d, "block size must be >= 1");
    d.block = -3;
    EXPECT_ERR_D("block-dtree", &d, "block size must be >= 1");
    /* map/normalization compatibility */
    EXPECT_ERR("rank1-log", "rank1-log", "needs block");
    EXPECT_ERR("tensor-log:b2", "needs block");
    EXPECT_ERR("row-log", "needs block");
    EXPECT_ERR("col-log", "needs block");
    EXPECT_ERR("block128-log:signed", "unsigned only");
    EXPECT_ERR("block128-dtree:dre", "fp8");
    EXPECT_ERR("tensor-fp8e4m3:dre", "needs block");
    EXPECT_ERR("rank1-fp8e5m2:dre", "needs block");
    EXPECT_ERR("block128-log:nz", "codebook maps only");
    EXPECT_ERR("block128-fp8e4m3:nz", "codebook maps only");
    /* fp8 with an explicit bitwidth other than 8 */
    EXPECT_ERR("block128-fp8e4m3:b4", "8-bit only", "bits 4");
    EXPECT_ERR("tensor-fp8e5m2:b7", "8-bit only");
    lbq_qdefaults_init(&d);
    d.bits = 4; d.bits_set = 1;
    EXPECT_ERR_D("block128-fp8e4m3", &d, "8-bit only");
    /* options */
    EXPECT_ERR("block128-dtree:xyz", ":xyz", "unknown option");
    /* an empty option must not end option parsing silently: "::sr" is refused or honoured */
    int rc = parse("block128-dtree:b4::sr", &s);
    CHECK_MSG(rc == LBQ_ERR_ARG || (rc == LBQ_OK && s.round == LBQ_ROUND_STOCHASTIC),
              "'block128-dtree:b4::sr' accepted with the ':sr' after the empty option ignored (round %d)", s.round);
    rc = parse("block128-dtree::b9", &s);
    CHECK_MSG(rc == LBQ_ERR_ARG, "'block128-dtree::b9' accepted (bits %d)", s.bits);
    EXPECT_ERR("block128-log:p0", "quantile", "(0, 1)");
    EXPECT_ERR("block128-log:p1", "quantile '1'");
    EXPECT_ERR("block128-log:p1.5", "quantile '1.5'");
    EXPECT_ERR("block128-log:p0.5x", "quantile '0.5x'");
    EXPECT_ERR("block128-log:p-0.1", ":p-0.1");
    EXPECT_ERR("block128-log:pnan", ":pnan");
    /* the file map needs --map-file */
    lbq_qdefaults_init(&d);
    EXPECT_ERR_D("block128-file", &d, "--map-file");
    /* a failed parse leaves no stale state: parse again successfully */
    CHECK_OK(parse("block128-dtree", &s));
}

/* ---- canonical text round trip over the whole space --------------------------------------------- */
static void test_roundtrip_all(void)
{
    int n = 0;
    const char *opts[] = { "", ":nz", ":signed", ":unsigned", ":sr", ":sr:signed", ":nz:unsigned:sr", ":dre", ":p0.05", ":p0.3:sr" };
    for (int mi = 0; mi < lbq_map_count(); mi++)
        for (int ni = 0; ni < lbq_norm_count(); ni++)
            for (int bits = 1; bits <= 8; bits++)
                for (int o = 0; o < (int)(sizeof opts / sizeof opts[0]); o++) {
                    const struct lbq_map *m = lbq_map_at(mi);
                    const struct lbq_norm *nm = lbq_norm_at(ni);
                    char text[128];
                    snprintf(text, sizeof text, "%s%s-%s:b%d%s", nm->name, nm->blockwise ? "96" : "", m->name,
                             m->fixed_bits ? m->fixed_bits : bits, opts[o]);
                    struct lbq_qspec s;
                    if (parse(text, &s) != LBQ_OK) continue;
                    check_roundtrip(&s, text);
                    n++;
                }
    CHECK_MSG(n > 300, "%d specs round-tripped", n);
    /* quantiles that need more than 6 significant digits */
    const char *qs[] = { "block128-log:p0.123456789", "block128-log:p0.3333333", "block128-log:p0.0001234567" };
    for (int k = 0; k < 3; k++) {
        struct lbq_qspec s;
        CHECK_OK(parse(qs[k], &s));
        check_roundtrip(&s, qs[k]);
    }
}

/* ---- recipes ------------------------------------------------------------------------------------ */
static void test_recipes(void)
{
    /* the specs of the reference notes (peers-lpmm-bitsandbytes-torchao.md, papers-*.md) */
    struct { const char *name; const char *mnorm; int64_t mblock; const char *mmap; int mbits;
             const char *vnorm; int64_t vblock; const char *vmap; int vbits; int dre; } want[] = {
        { "lpmm4",    "block", 128, "dtree",   4, "rank1", 0,   "linear",  4, 0 },
        { "bnb8",     "block", 256, "dtree",   8, "block", 256, "dtree",   8, 0 },
        { "torchao4", "block", 128, "dtree",   4, "block", 128, "linear",  4, 0 },
        { "solo42",   "block", 128, "dtree",   4, "block", 128, "log",     2, 0 },
        { "coat",     "block", 128, "fp8e4m3", 8, "block", 128, "fp8e4m3", 8, 1 },
    };
    CHECK(lbq_recipe_count() >= 5);
    for (int i = 0; i < lbq_recipe_count(); i++) {
        const struct lbq_recipe *r = lbq_recipe_at(i);
        CHECK(lbq_recipe_find(r->name) == r);
        struct lbq_qspec ms, vs;
        struct lbq_qplan p;
        CHECK_MSG(lbq_qspec_parse(r->m_spec, NULL, &ms) == LBQ_OK, "recipe %s m '%s': %s", r->name, r->m_spec, lbq_errmsg());
        CHECK_MSG(lbq_qspec_parse(r->v_spec, NULL, &vs) == LBQ_OK, "recipe %s v '%s': %s", r->name, r->v_spec, lbq_errmsg());
        for (int rank = 1; rank <= 3; rank++) {
            CHECK_MSG(lbq_qplan_init(&p, &ms, LBQ_ROLE_M, rank) == LBQ_OK && p.is_signed, "recipe %s m plan rank %d: %s", r->name, rank, lbq_errmsg());
            CHECK_MSG(lbq_qplan_init(&p, &vs, LBQ_ROLE_V, rank) == LBQ_OK && !p.is_signed, "recipe %s v plan rank %d: %s", r->name, rank, lbq_errmsg());
        }
        for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
            if (strcmp(want[k].name, r->name) != 0) continue;
            CHECK_MSG(ms.norm == N(want[k].mnorm) && ms.map == M(want[k].mmap) && ms.bits == want[k].mbits &&
                      (!want[k].mblock || ms.block == want[k].mblock) && ms.dre == want[k].dre,
                      "recipe %s m spec '%s'", r->name, ms.text);
            CHECK_MSG(vs.norm == N(want[k].vnorm) && vs.map == M(want[k].vmap) && vs.bits == want[k].vbits &&
                      (!want[k].vblock || vs.block == want[k].vblock) && vs.dre == want[k].dre,
                      "recipe %s v spec '%s'", r->name, vs.text);
            if (vs.map == M("log")) CHECK(vs.quantile == 0.1f);
        }
    }
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) CHECK_MSG(lbq_recipe_find(want[k].name) != NULL, "recipe %s", want[k].name);
    CHECK(lbq_recipe_find("LPMM4") == lbq_recipe_find("lpmm4"));
    CHECK(lbq_recipe_find("nope") == NULL);
    CHECK(lbq_recipe_at(-1) == NULL && lbq_recipe_at(lbq_recipe_count()) == NULL);

    /* fp32 exclusion: lpmm numel <= 4096; bitsandbytes numel < 4096; torchao numel < 4096 or
     * numel % 128 != 0; SOLO numel < 128 or % 4 (2-bit packing); COAT none */
    const struct lbq_recipe *lp = lbq_recipe_find("lpmm4"), *bnb = lbq_recipe_find("bnb8"),
                            *ao = lbq_recipe_find("torchao4"), *solo = lbq_recipe_find("solo42"), *coat = lbq_recipe_find("coat");
    const int64_t ns[] = { 1, 127, 128, 129, 4095, 4096, 4097, 4224, 8192, 8200, 1 << 20, (1 << 20) + 64 };
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        int64_t n = ns[k];
        CHECK_MSG(lbq_recipe_keeps_fp32(lp, n) == (n <= 4096), "lpmm4 numel %lld", (long long)n);
        CHECK_MSG(lbq_recipe_keeps_fp32(bnb, n) == (n < 4096), "bnb8 numel %lld", (long long)n);
        CHECK_MSG(lbq_recipe_keeps_fp32(ao, n) == (n < 4096 || n % 128 != 0), "torchao4 numel %lld", (long long)n);
        CHECK_MSG(lbq_recipe_keeps_fp32(solo, n) == (n < 128 || n % 4 != 0), "solo42 numel %lld", (long long)n);
        CHECK_MSG(lbq_recipe_keeps_fp32(coat, n) == 0, "coat numel %lld", (long long)n);
    }
    CHECK_EQ_INT(lbq_recipe_keeps_fp32(NULL, 5), 0);
}

/* ---- ':nz' removes exact zero from every codebook that has one -------------------------------------- */
static void test_nz(void)
{
    int maps_with_zero = 0;
    for (int mi = 0; mi < lbq_map_count(); mi++) {
        const struct lbq_map *m = lbq_map_at(mi);
        if (!m->build || m == M("file")) continue;
        for (int bits = m->min_bits; bits <= m->max_bits; bits++)
            for (int sg = 0; sg < 2; sg++) {
                char t0[64], t1[64];
                snprintf(t0, sizeof t0, "tensor-%s:b%d", m->name, bits);
                snprintf(t1, sizeof t1, "tensor-%s:b%d:nz", m->name, bits);
                struct lbq_qspec s0, s1;
                struct lbq_qplan p0, p1;
                CHECK_OK(parse(t0, &s0));
                CHECK_OK(parse(t1, &s1));
                if (lbq_qplan_init(&p0, &s0, sg ? LBQ_ROLE_M : LBQ_ROLE_V, 2) != LBQ_OK) continue;   /* uniform s1 */
                CHECK_OK(lbq_qplan_init(&p1, &s1, sg ? LBQ_ROLE_M : LBQ_ROLE_V, 2));
                int had_zero = 0, zeros = 0, sorted = 1, lost = 0, invented = 0;
                for (int i = 0; i < p0.nlev; i++) if (p0.q[i] == 0.0f) had_zero = 1;
                for (int i = 0; i < p1.nlev; i++) {
                    if (p1.q[i] == 0.0f) zeros++;
                    if (i && p1.q[i] < p1.q[i - 1]) sorted = 0;
                    /* every level of the nz map is a level of the plain map */
                    int found = 0;
                    for (int j = 0; j < p0.nlev; j++) if (p0.q[j] == p1.q[i]) found = 1;
                    if (!found) invented++;
                }
                /* every nonzero level of the plain map survives */
                for (int j = 0; j < p0.nlev; j++) {
                    if (p0.q[j] == 0.0f) continue;
                    int found = 0;
                    for (int i = 0; i < p1.nlev; i++) if (p1.q[i] == p0.q[j]) found = 1;
                    if (!found) lost++;
                }
                maps_with_zero += had_zero;
                CHECK_EQ_INT(p1.nlev, p0.nlev);
                CHECK_MSG(zeros == 0, "%s %s: %d zero levels with :nz", t1, sg ? "signed" : "unsigned", zeros);
                CHECK_MSG(sorted && lost == 0 && invented == 0, "%s %s: sorted %d lost %d invented %d", t1, sg ? "signed" : "unsigned", sorted, lost, invented);
                if (!had_zero)   /* nothing to remove: identical codebook */
                    CHECK_MSG(memcmp(p0.q, p1.q, sizeof p0.q) == 0, "%s: :nz changed a map without zero", t1);
                /* midpoints follow the levels */
                for (int i = 0; i + 1 < p1.nlev; i++) CHECK(p1.mid[i] == (p1.q[i] + p1.q[i + 1]) * 0.5f);
                /* quantizing 0 inside a nonzero block no longer gives 0 */
                if (had_zero) {
                    float x[3] = { 1.0f, 0.0f, 0.5f }, xh[3], sc[3];
                    char tb[80];
                    snprintf(tb, sizeof tb, "block3-%s:b%d:nz", m->name, bits);
                    struct lbq_qspec sb;
                    struct lbq_qplan pb;
                    CHECK_OK(parse(tb, &sb));
                    CHECK_OK(lbq_qplan_init(&pb, &sb, sg ? LBQ_ROLE_M : LBQ_ROLE_V, 1));
                    CHECK_OK(lbq_qdq(&pb, NULL, 0, 3, x, xh, NULL, sc, NULL, NULL));
                    CHECK_MSG(xh[1] != 0.0f, "%s: 0 -> 0 with :nz", tb);
                }
            }
    }
    CHECK(maps_with_zero >= 20);     /* dtree, dtree0 (signed), uniform, linsq (signed) at many widths */
}

/* ---- status strings and pinned numbers ------------------------------------------------------------ */
static void test_status(void)
{
    CHECK(LBQ_OK == 0 && LBQ_ERR_IO == 1 && LBQ_ERR_FORMAT == 2 && LBQ_ERR_NOMEM == 3 && LBQ_ERR_ARG == 4 &&
          LBQ_ERR_UNSUPPORTED == 5 && LBQ_ERR_CUDA == 6 && LBQ_ERR_DATA == 7 && LBQ_ERR_INTERRUPTED == 8 &&
          LBQ_ERR_OUTPUT == 9);
    for (int st = 0; st <= 9; st++) CHECK(strcmp(lbq_status_str(st), "unknown error") != 0);
    CHECK(strcmp(lbq_status_str(99), "unknown error") == 0);
    CHECK_EQ_INT(lbq_err(LBQ_ERR_DATA, "x=%d", 5), LBQ_ERR_DATA);
    CHECK(strcmp(lbq_errmsg(), "x=5") == 0);
}

int main(void)
{
    snprintf(g_levels, sizeof g_levels, "/tmp/lbq-test-spec-XXXXXX");
    int fd = mkstemp(g_levels);
    if (fd < 0) { perror("mkstemp"); return 1; }
    const char lv[] = "-1 -0.25 0 0.5 1\n";
    if (write(fd, lv, sizeof lv - 1) != (ssize_t)(sizeof lv - 1)) { perror("write"); return 1; }
    close(fd);

    test_names();
    test_options();
    test_errors();
    test_roundtrip_all();
    test_recipes();
    test_nz();
    test_status();

    unlink(g_levels);
    return TEST_END();
}
