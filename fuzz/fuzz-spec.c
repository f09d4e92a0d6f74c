/* fuzz-spec.c - libFuzzer harness: quantizer specs, recipes, plans, qdq invariants and the CLI's
 * option parsing of analyze / quantize / sweep.
 *
 * Input: text.  The first line (up to '\n' or NUL) is a quantizer spec; everything after the first
 * line is (a) the contents of the --map-file codebook when the spec's map is 'file', and (b) split
 * on '\n' and NUL into the arguments of `lbq analyze|quantize|sweep` (the first line is argv[1]).
 *
 * Per input:
 *  - lbq_map_find / lbq_norm_find / lbq_recipe_find / lbq_name_suggest on the first line; a found
 *    recipe's specs must parse and plan;
 *  - lbq_qspec_parse with the library defaults and with defaults derived from a hash of the input
 *    (bits 1-8, --bits given or not, block 1..2^30 or an invalid 0/-5, nearest/stochastic, seed,
 *    quantile, a map file); a failure must leave a one-line message; a success must give a
 *    canonical text that parses again to the same text;
 *  - for a valid spec, lbq_qplan_init for m and v at ranks 1-3, and for each valid plan lbq_qdq
 *    on a fixed 256-element tensor (one finite, one with NaN/+-Inf) with these invariants:
 *    status OK, codes < 2^bits (and < the number of levels for table maps), no NaN output, |x^| at
 *    most the tensor's max |x| (finite input), the same result when the range is done in two
 *    pieces, pack/unpack round trip, finite storage size;
 *  - with LBQ_FUZZ_WITH_CLI (the libFuzzer build, which links cli/): cmd_analyze, cmd_quantize and
 *    cmd_sweep on the argument list.  The harness links with -Wl,--wrap so lbq_file_open fails with
 *    an I/O error (no file is read), mkdir fails (sweep creates its -o DIR before opening the
 *    input) and any write (lbq_h5w_open, lbq_write_atomic) would be an invariant violation: only
 *    the argument parsing, spec building and sweep configuration run.
 *
 * With LBQ_FUZZ_REPLAY this file is included by tests/test-fuzz-regress.c (no libFuzzer entry). */
#include "lbq.h"
#include "fuzz-common.h"

#include <errno.h>
#include <math.h>
#include <sys/stat.h>

#ifdef LBQ_FUZZ_WITH_CLI
#include "cli.h"
#endif

#define SPEC_N 256

static float g_spec_x[2][SPEC_N];     /* [0] finite, [1] with NaN and +-Inf */
static int   g_spec_init = 0;
static char  g_spec_mapfile[512];

static void spec_init(void)
{
    if (g_spec_init) return;
    g_spec_init = 1;
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < SPEC_N; i++) {
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
        double u = (double)((s * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
        float v = (float)((u - 0.5) * 2e-3);
        if (i % 17 == 0) v = 0.0f;                  /* exact zeros */
        if (i >= 128 && i < 160) v = 0.0f;          /* an all-zero stretch (zero-scale blocks) */
        if (i >= 192 && i < 200) v = 3e-4f;         /* a constant stretch */
        g_spec_x[0][i] = v;
    }
    g_spec_x[0][5] = 0.75f;                         /* outlier */
    g_spec_x[0][9] = 1e-40f;                        /* subnormal */
    g_spec_x[0][10] = -2.5e-38f;
    g_spec_x[0][77] = -0.5f;
    memcpy(g_spec_x[1], g_spec_x[0], sizeof g_spec_x[0]);
    g_spec_x[1][3] = NAN; g_spec_x[1][40] = INFINITY; g_spec_x[1][41] = -INFINITY; g_spec_x[1][255] = NAN;
    for (int i = 200; i < 208; i++) g_spec_x[1][i] = NAN;   /* an all-NaN stretch */
    fuzz_tmp_path("levels", ".txt", g_spec_mapfile, sizeof g_spec_mapfile);
}

static void spec_shape(int rank, struct lbq_shape *sh)
{
    memset(sh, 0, sizeof *sh);
    sh->rank = rank;
    sh->numel = SPEC_N;
    if (rank == 1) sh->dim[0] = 256;
    else if (rank == 2) { sh->dim[0] = 8; sh->dim[1] = 32; }
    else { sh->dim[0] = 4; sh->dim[1] = 8; sh->dim[2] = 8; }
}

static void spec_clear_err(void) { lbq_err(LBQ_OK, "%s", ""); }

static int spec_feq(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

/* qdq of one tensor with one plan: the invariants listed at the top */
static void spec_check_qdq(const struct lbq_qplan *p, int rank, int role, int variant)
{
    struct lbq_shape sh;
    spec_shape(rank, &sh);
    const int64_t N = SPEC_N;
    float x[SPEC_N], xh[SPEC_N], xh2[SPEC_N], sc[SPEC_N], bp[4 * SPEC_N + 8], bp2[4 * SPEC_N + 8];
    uint8_t codes[SPEC_N], codes2[SPEC_N], packed[SPEC_N + 8], back[SPEC_N];
    float absmax = 0.0f;
    for (int i = 0; i < SPEC_N; i++) {
        float v = g_spec_x[variant][i];
        x[i] = (role == LBQ_ROLE_V) ? fabsf(v) : v;
        if (isfinite(x[i]) && fabsf(x[i]) > absmax) absmax = fabsf(x[i]);
    }
    struct lbq_tstats st;
    int have_st = 0;
    if (p->norm->global_stats) {
        if (lbq_tstats_init(&st, &sh) != LBQ_OK) return;
        have_st = 1;
        lbq_tstats_add(&st, 0, N, x);
        FUZZ_CHECK(st.seen == N, "tstats seen %lld != %lld", (long long)st.seen, (long long)N);
    }
    const char *txt = p->spec.text;
    spec_clear_err();
    int rc = lbq_qdq(p, have_st ? &st : NULL, 0, N, x, xh, codes, sc, bp, NULL);
    FUZZ_CHECK(rc == LBQ_OK, "'%s' rank %d role %d: lbq_qdq failed: %d %s", txt, rank, role, rc, lbq_errmsg());
    if (rc != LBQ_OK) goto out;
    int lim = p->bits >= 8 ? 256 : (1 << p->bits);
    if (!p->spec.map->qdq && p->nlev > 0 && p->nlev < lim) lim = p->nlev;
    for (int i = 0; i < SPEC_N; i++) {
        FUZZ_CHECK(codes[i] < lim, "'%s' rank %d role %d: code[%d] = %d >= %d", txt, rank, role, i, codes[i], lim);
        FUZZ_CHECK(!isnan(xh[i]), "'%s' rank %d role %d variant %d: x^[%d] is NaN (x = %g)", txt, rank, role, variant, i, (double)x[i]);
        if (isfinite(x[i]))
            FUZZ_CHECK(fabsf(xh[i]) <= absmax * 1.001f + 1e-37f, "'%s' rank %d role %d: |x^[%d]| = %g > max|x| = %g",
                       txt, rank, role, i, (double)xh[i], (double)absmax);
    }
    /* the same tensor in two pieces: identical codes and values */
    int64_t split = p->norm->blockwise ? ((N / 2) / p->block) * p->block : 100;
    if (split > 0 && split < N) {
        int rc1 = lbq_qdq(p, have_st ? &st : NULL, 0, split, x, xh2, codes2, sc, bp2, NULL);
        int rc2 = lbq_qdq(p, have_st ? &st : NULL, split, N - split, x + split, xh2 + split, codes2 + split, sc, bp2, NULL);
        FUZZ_CHECK(rc1 == LBQ_OK && rc2 == LBQ_OK, "'%s': split qdq failed (%d, %d): %s", txt, rc1, rc2, lbq_errmsg());
        if (rc1 == LBQ_OK && rc2 == LBQ_OK)
            for (int i = 0; i < SPEC_N; i++) {
                FUZZ_CHECK(codes2[i] == codes[i] && spec_feq(xh2[i], xh[i]),
                           "'%s' rank %d role %d: split at %lld changes element %d: code %d/%d x^ %g/%g",
                           txt, rank, role, (long long)split, i, codes[i], codes2[i], (double)xh[i], (double)xh2[i]);
                if (codes2[i] != codes[i] || !spec_feq(xh2[i], xh[i])) break;
            }
    }
    /* a misaligned start is refused, not mis-quantized */
    if (p->norm->blockwise && p->block > 1) {
        spec_clear_err();
        rc = lbq_qdq(p, have_st ? &st : NULL, 1, N - 1, x + 1, xh2, NULL, sc, NULL, NULL);
        FUZZ_CHECK(rc == LBQ_ERR_ARG && fuzz_msg_ok(lbq_errmsg()), "'%s': misaligned qdq gave %d", txt, rc);
    }
    /* pack / unpack */
    if (p->bits >= 1 && p->bits <= 8) {
        lbq_pack(codes, N, p->bits, packed);
        lbq_unpack(packed, N, p->bits, back);
        FUZZ_CHECK(memcmp(back, codes, (size_t)N) == 0, "'%s': pack/unpack at %d bits is not a round trip", txt, p->bits);
    }
    struct lbq_qsize qs;
    lbq_qplan_size(p, &sh, &qs);
    FUZZ_CHECK(qs.code_bits == N * p->bits && isfinite(qs.bits_per_elem) && qs.bits_per_elem > 0,
               "'%s': storage size %lld code bits, %g bits/elem", txt, (long long)qs.code_bits, qs.bits_per_elem);
out:
    if (have_st) lbq_tstats_free(&st);
}

static void spec_check_plans(const struct lbq_qspec *s)
{
    for (int role = 0; role < 2; role++)
        for (int rank = 1; rank <= 3; rank++) {
            struct lbq_qplan p;
            spec_clear_err();
            int rc = lbq_qplan_init(&p, s, (enum lbq_role)role, rank);
            if (rc != LBQ_OK) {
                FUZZ_CHECK(fuzz_msg_ok(lbq_errmsg()), "'%s': lbq_qplan_init failed (%d) without a one-line message: '%s'",
                           s->text, rc, lbq_errmsg());
                continue;
            }
            FUZZ_CHECK(p.bits >= 1 && p.bits <= 8, "'%s': plan bits %d", s->text, p.bits);
            FUZZ_CHECK(!p.norm->blockwise || (p.block >= 1 && p.block <= ((int64_t)1 << 30)), "'%s': plan block %lld", s->text, (long long)p.block);
            if (!s->map->qdq) {
                FUZZ_CHECK(p.nlev >= 1 && p.nlev <= (1 << p.bits) && p.npow2 >= p.nlev && p.npow2 <= 256,
                           "'%s': plan levels %d (npow2 %d) for %d bits", s->text, p.nlev, p.npow2, p.bits);
                for (int i = 0; i + 1 < p.nlev; i++)
                    FUZZ_CHECK(p.q[i] <= p.q[i + 1], "'%s': levels not sorted at %d", s->text, i);
                for (int i = 0; i < p.nlev; i++)
                    FUZZ_CHECK(isfinite(p.q[i]) && fabsf(p.q[i]) <= 1.0f, "'%s': level %d = %g", s->text, i, (double)p.q[i]);
            }
            spec_check_qdq(&p, rank, role, 0);
            spec_check_qdq(&p, rank, role, 1);
        }
}

/* parse, round-trip the canonical text, plan and qdq */
static void spec_parse_and_check(const char *text, const struct lbq_qdefaults *d, int roundtrip)
{
    struct lbq_qspec s;
    spec_clear_err();
    int rc = lbq_qspec_parse(text, d, &s);
    if (rc != LBQ_OK) {
        FUZZ_CHECK(rc == LBQ_ERR_ARG || (rc == LBQ_ERR_IO && d && d->map_file), "lbq_qspec_parse('%s') returned %d", text, rc);
        FUZZ_CHECK(fuzz_msg_ok(lbq_errmsg()), "lbq_qspec_parse('%s') failed without a one-line message: '%s'", text, lbq_errmsg());
        return;
    }
    FUZZ_CHECK(s.text[0] && s.map && s.norm && s.bits >= 1 && s.bits <= 8, "lbq_qspec_parse('%s'): incomplete spec", text);
    FUZZ_CHECK(!s.norm->blockwise || (s.block >= 1 && s.block <= ((int64_t)1 << 30)), "'%s': block %lld", text, (long long)s.block);
    if (roundtrip) {
        struct lbq_qspec s2;
        spec_clear_err();
        int rc2 = lbq_qspec_parse(s.text, d, &s2);
        FUZZ_CHECK(rc2 == LBQ_OK, "canonical text '%s' of '%s' does not parse: %s", s.text, text, lbq_errmsg());
        if (rc2 == LBQ_OK)
            FUZZ_CHECK(strcmp(s2.text, s.text) == 0, "canonical text of '%s' is '%s', of that '%s'", text, s.text, s2.text);
    }
    spec_check_plans(&s);
}

#ifdef LBQ_FUZZ_WITH_CLI
/* ---- CLI argument parsing, with the file work cut off (see -Wl,--wrap in fuzz/Makefile) ---------- */
static int g_in_cli = 0;

int __real_mkdir(const char *path, mode_t mode);
int __wrap_mkdir(const char *path, mode_t mode)
{
    if (g_in_cli) { errno = EACCES; return -1; }
    return __real_mkdir(path, mode);
}
int __wrap_lbq_file_open(const char *path, const struct lbq_open_opts *opts, struct lbq_file **out)
{
    (void)opts;
    *out = NULL;
    return lbq_err(LBQ_ERR_IO, "%s: fuzz harness: input files are not read", path);
}
int __wrap_lbq_h5w_open(const char *path, struct lbq_h5w **out)
{
    *out = NULL;
    FUZZ_CHECK(0, "CLI parsing reached lbq_h5w_open('%s')", path);
    return LBQ_ERR_IO;
}
int __wrap_lbq_write_atomic(const char *path, const char *data, size_t len)
{
    (void)data; (void)len;
    FUZZ_CHECK(0, "CLI parsing reached lbq_write_atomic('%s')", path);
    return LBQ_ERR_IO;
}
int __wrap_lbq_json_write(const char *path, const void *root)
{
    (void)root;
    FUZZ_CHECK(0, "CLI parsing reached lbq_json_write('%s')", path);
    return LBQ_ERR_IO;
}

static void spec_cli(char *args, size_t len)
{
    static char *argv[66];
    int argc = 1;
    char *p = args, *end = args + len;
    while (p <= end && argc < 65) {
        argv[argc++] = p;
        while (p < end && *p) p++;
        p++;
    }
    argv[argc] = NULL;
    static const char *const names[3] = { "analyze", "quantize", "sweep" };
    int (*const fns[3])(int, char **) = { cmd_analyze, cmd_quantize, cmd_sweep };
    for (int k = 0; k < 3; k++) {
        argv[0] = (char *)names[k];
        g_cli_quiet = 0;
        g_in_cli = 1;
        fuzz_quiet_begin();
        int ex = fns[k](argc, argv);
        fuzz_quiet_end();
        g_in_cli = 0;
        FUZZ_CHECK(ex >= 0 && ex <= LBQ_EXIT_CUDA, "lbq %s: exit code %d", names[k], ex);
    }
}
#endif

/* One input.  Returns 0. */
static int spec_one(const uint8_t *data, size_t size)
{
    spec_init();
    if (size > 4096) return 0;
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    size_t l1 = 0;
    while (l1 < size && data[l1] != '\n' && data[l1] != 0) l1++;
    const uint8_t *rest = l1 < size ? data + l1 + 1 : data + size;   /* raw bytes after the first line */
    size_t rest_len = l1 < size ? size - l1 - 1 : 0;
    for (size_t i = 0; i < size; i++) if (buf[i] == '\n') buf[i] = 0;
    const char *line = buf;                         /* the first line */

    /* name lookups */
    int64_t blk = 0;
    (void)lbq_map_find(line);
    (void)lbq_norm_find(line, &blk);
    const char *sug = lbq_name_suggest(line);
    FUZZ_CHECK(!sug || (lbq_map_find(sug) || lbq_norm_find(sug, NULL) || lbq_recipe_find(sug)),
               "lbq_name_suggest('%s') = '%s', which is no known name", line, sug);
    const struct lbq_recipe *r = lbq_recipe_find(line);
    if (r) {
        struct lbq_qspec sm, sv;
        FUZZ_CHECK(lbq_qspec_parse(r->m_spec, NULL, &sm) == LBQ_OK && lbq_qspec_parse(r->v_spec, NULL, &sv) == LBQ_OK,
                   "recipe %s: its specs do not parse: %s", r->name, lbq_errmsg());
        spec_parse_and_check(r->m_spec, NULL, 1);
        spec_parse_and_check(r->v_spec, NULL, 1);
    }

    /* the spec with the library defaults */
    spec_parse_and_check(line, NULL, 1);

    /* and with defaults derived from the input */
    uint64_t h = fuzz_hash(data, size);
    static const int64_t blocks[8] = { 1, 7, 32, 128, 2048, (int64_t)1 << 30, 0, -5 };
    static const float quants[4] = { 0.1f, 0.5f, 1e-9f, 0.999999f };
    struct lbq_qdefaults d;
    lbq_qdefaults_init(&d);
    d.bits = 1 + (int)(h % 8);
    d.bits_set = (int)((h >> 3) & 1);
    d.block = blocks[(h >> 4) & 7];
    d.round = (int)((h >> 7) & 1);
    d.seed = h >> 8;
    d.quantile = quants[(h >> 9) & 3];
    d.map_file = g_spec_mapfile;
    fuzz_write_file(g_spec_mapfile, rest, rest_len);   /* the codebook of the 'file' map: line 2 on */
    spec_parse_and_check(line, &d, d.round == LBQ_ROUND_NEAREST);

#ifdef LBQ_FUZZ_WITH_CLI
    /* the argument list: every line and NUL-separated piece (the first line included) */
    spec_cli(buf, size);
#endif
    free(buf);
    return 0;
}

#ifndef LBQ_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return spec_one(data, size);
}
#endif
