/* test-codebooks.c - every peer codebook (dtree, dtree0, linear, pow2, linsq at bits 1-8, signed and
 * unsigned, under PyTorch's avx2, avx512 and default CPU kernels) against golden data bit for bit;
 * the original 4- and 8-bit reference tables; structural checks for every map x sign x bitwidth:
 * count, sorted, range. */
#include "lbq.h"
#include "lbq-test.h"
#include "qcore.h"

#include <stdint.h>

/* parse tests/data/codebooks_fp32_hex.txt: section whose header starts with `prefix` and contains
 * `variant`; returns the number of values */
static int load_ref(const char *prefix, const char *variant, uint32_t *out)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/codebooks_fp32_hex.txt", LBQ_SRC_DIR);
    FILE *fp = fopen(path, "r");
    if (!fp) return -1;
    char line[4096];
    int in = 0, n = 0;
    while (fgets(line, sizeof line, fp)) {
        if (strncmp(line, "## ", 3) == 0) {
            if (in) break;
            in = strncmp(line + 3, prefix, strlen(prefix)) == 0 && strstr(line, variant) != NULL;
            continue;
        }
        if (!in) continue;
        char *c = strchr(line, ':');
        if (!c) continue;
        char *hash = strchr(c, '#');
        if (hash) *hash = 0;
        char *tok = strtok(c + 1, " \t\n");
        while (tok && n < 256) { out[n++] = (uint32_t)strtoul(tok, NULL, 16); tok = strtok(NULL, " \t\n"); }
    }
    fclose(fp);
    return n;
}

static int plan_for(const char *spec, int bits, int is_signed, struct lbq_qplan *p)
{
    struct lbq_qdefaults d;
    lbq_qdefaults_init(&d);
    d.bits = bits;
    struct lbq_qspec s;
    int rc = lbq_qspec_parse(spec, &d, &s);
    if (rc) return rc;
    return lbq_qplan_init(p, &s, is_signed ? LBQ_ROLE_M : LBQ_ROLE_V, 2);
}

static void check_ref(const char *spec, int bits, int is_signed, const char *prefix)
{
    uint32_t ref[256];
    int n = load_ref(prefix, "native", ref);
    CHECK_MSG(n == (1 << bits), "reference section '%s' has %d values", prefix, n);
    struct lbq_qplan p;
    CHECK_OK(plan_for(spec, bits, is_signed, &p));
    CHECK_EQ_INT(p.nlev, n);
    int bad = 0;
    for (int i = 0; i < n && i < p.nlev; i++) {
        uint32_t got = lbq_f2u(p.q[i]);
        if (got != ref[i]) { if (bad < 5) fprintf(stderr, "  %s b%d[%d]: %08x vs ref %08x\n", spec, bits, i, got, ref[i]); bad++; }
    }
    CHECK_MSG(bad == 0, "%s %d-bit %s: %d entries differ from the reference", spec, bits, is_signed ? "signed" : "unsigned", bad);
}

static int cpu_of(const char *cap)
{
    return strcmp(cap, "avx512") == 0 ? 1 : strcmp(cap, "default") == 0 ? 2 : strcmp(cap, "avx2") == 0 ? 0 : -1;
}

/* Every line of tests/data/codebooks-golden.txt (scripts/gen-codebooks.py: the peers' codebooks
 * for every map, bits 1-8, sign and PyTorch CPU kernel) against the plan the spec
 * "tensor-MAP:bB:cpu-CAP" builds, bit for bit.  Returns the number of tables compared. */
static int check_golden(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/codebooks-golden.txt", LBQ_SRC_DIR);
    FILE *fp = fopen(path, "r");
    CHECK_MSG(fp != NULL, "cannot open %s", path);
    if (!fp) return 0;
    static char line[8192];
    int tables = 0;
    while (fgets(line, sizeof line, fp)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char map[32], sg[4], cap[16], src[16];
        int bits = 0, off = 0;
        if (sscanf(line, "%31s %d %3s %15s %15s%n", map, &bits, sg, cap, src, &off) != 5) { CHECK_MSG(0, "bad golden line: %.60s", line); continue; }
        uint32_t ref[256];
        int n = 0;
        for (char *t = strtok(line + off, " \t\n"); t && n < 256; t = strtok(NULL, " \t\n")) ref[n++] = (uint32_t)strtoul(t, NULL, 16);
        CHECK_MSG(n == (1 << bits), "golden %s b%d %s %s: %d values", map, bits, sg, cap, n);
        CHECK_MSG(cpu_of(cap) >= 0, "golden: unknown capability %s", cap);
        char spec[96];
        snprintf(spec, sizeof spec, "tensor-%s:b%d:cpu-%s", map, bits, cap);
        struct lbq_qplan p;
        int rc = plan_for(spec, bits, sg[0] == 's', &p);
        CHECK_MSG(rc == LBQ_OK, "%s: %s", spec, lbq_errmsg());
        if (rc) continue;
        CHECK_EQ_INT(p.spec.cpu, cpu_of(cap));
        CHECK_MSG(p.nlev == n, "%s %s: %d levels, golden %d", spec, sg, p.nlev, n);
        int bad = 0;
        for (int i = 0; i < n && i < p.nlev; i++)
            if (lbq_f2u(p.q[i]) != ref[i]) {
                if (bad < 3) fprintf(stderr, "  %s %s [%d]: %08x vs golden %08x (%s)\n", spec, sg, i, lbq_f2u(p.q[i]), ref[i], src);
                bad++;
            }
        CHECK_MSG(bad == 0, "%s %s: %d levels differ from the golden table (%s)", spec, sg, bad, src);
        tables++;
    }
    fclose(fp);
    return tables;
}

int main(void)
{
    /* every (map, bits 1-8, sign, capability) the peers define: 5 maps x 8 x 2 x 3 */
    int tables = check_golden();
    CHECK_MSG(tables == 5 * 8 * 2 * 3, "golden codebooks: %d tables compared, want 240", tables);
    /* the default capability is avx2 (torch's own default) */
    {
        struct lbq_qplan a, b;
        CHECK_OK(plan_for("tensor-dtree:b7", 7, 0, &a));
        CHECK_OK(plan_for("tensor-dtree:b7:cpu-avx2", 7, 0, &b));
        CHECK(memcmp(a.q, b.q, sizeof a.q) == 0);
        CHECK_EQ_INT(a.spec.cpu, 0);
        CHECK_OK(plan_for("tensor-dtree:b7:cpu-default", 7, 0, &b));
        CHECK(memcmp(a.q, b.q, sizeof a.q) != 0);   /* 44 of 128 levels differ (the example) */
        CHECK(strstr(b.spec.text, ":cpu-default") != NULL);
        CHECK(strstr(a.spec.text, ":cpu-") == NULL);
    }

    /* golden tables */
    check_ref("tensor-dtree", 4, 1, "lpmm nonlinear (DE) signed b=4");
    check_ref("tensor-dtree", 4, 0, "lpmm nonlinear (DE) unsigned b=4");
    check_ref("tensor-dtree", 8, 1, "lpmm nonlinear (DE) signed b=8");
    check_ref("tensor-dtree", 8, 0, "lpmm nonlinear (DE) unsigned b=8");
    check_ref("tensor-dtree0", 4, 0, "lpmm nonlinear-nozero (DE-0) unsigned b=4");
    check_ref("tensor-dtree0", 8, 0, "lpmm nonlinear-nozero (DE-0) unsigned b=8");
    check_ref("tensor-linear", 4, 0, "lpmm power-1 (Linear, no zero) unsigned b=4");
    check_ref("tensor-linear", 8, 0, "lpmm power-1 (Linear, no zero) unsigned b=8");
    check_ref("tensor-linear", 4, 1, "lpmm power-1 signed b=4");
    check_ref("tensor-linear", 4, 0, "torchao 4-bit unsigned qmap");

    /* published small maps (research notes section 0 and 2.3) */
    struct lbq_qplan p;
    static const float de2s[] = { -0.55f, 0.0f, 0.55f, 1.0f }, de2u[] = { 0.0f, 0.325f, 0.775f, 1.0f };
    static const float de3s[] = { -0.775f, -0.325f, -0.055f, 0.0f, 0.055f, 0.325f, 0.775f, 1.0f };
    static const float l2_3[] = { -1.0f, -0.5102f, -0.1837f, 0.0f, 0.0204f, 0.1837f, 0.5102f, 1.0f };
    static const float l2_4[] = { -1.0f, -0.7511f, -0.5378f, -0.3600f, -0.2178f, -0.1111f, -0.0400f, 0.0f,
                                  0.0044f, 0.0400f, 0.1111f, 0.2178f, 0.3600f, 0.5378f, 0.7511f, 1.0f };
    CHECK_OK(plan_for("tensor-dtree", 2, 1, &p)); for (int i = 0; i < 4; i++) CHECK_NEAR(p.q[i], de2s[i], 1e-6);
    CHECK_OK(plan_for("tensor-dtree", 2, 0, &p)); for (int i = 0; i < 4; i++) CHECK_NEAR(p.q[i], de2u[i], 1e-6);
    CHECK_OK(plan_for("tensor-dtree", 3, 1, &p)); for (int i = 0; i < 8; i++) CHECK_NEAR(p.q[i], de3s[i], 1e-6);
    CHECK_OK(plan_for("tensor-linsq", 3, 1, &p)); for (int i = 0; i < 8; i++) CHECK_NEAR(p.q[i], l2_3[i], 6e-5);
    CHECK_OK(plan_for("tensor-linsq", 4, 1, &p)); for (int i = 0; i < 16; i++) CHECK_NEAR(p.q[i], l2_4[i], 6e-5);
    CHECK_OK(plan_for("tensor-dtree0", 4, 0, &p)); CHECK_NEAR(p.q[0], 0.00325, 1e-7);   /* DE-0 smallest level */
    CHECK_OK(plan_for("tensor-linear", 4, 0, &p)); CHECK_NEAR(p.q[0], 0.0625, 0);        /* Linear smallest level */

    /* structure of every table map at every bitwidth and sign where defined */
    for (int mi = 0; mi < lbq_map_count(); mi++) {
        const struct lbq_map *m = lbq_map_at(mi);
        if (!m->build || strcmp(m->name, "file") == 0) continue;
        for (int b = m->min_bits; b <= m->max_bits; b++)
            for (int sg = 0; sg < 2; sg++) {
                if (!(m->sign_ok & (sg ? LBQ_SIGNED_OK : LBQ_UNSIGNED_OK))) continue;
                char spec[64];
                snprintf(spec, sizeof spec, "tensor-%s", m->name);
                int rc = plan_for(spec, b, sg, &p);
                if (rc) { CHECK_MSG(strcmp(m->name, "uniform") == 0 && sg && b == 1, "%s b%d %s: %s", m->name, b, sg ? "s" : "u", lbq_errmsg()); continue; }
                CHECK_MSG(p.nlev >= 2 && p.nlev <= (1 << b), "%s b%d: %d levels", m->name, b, p.nlev);
                int sorted = 1, inrange = 1;
                for (int i = 0; i < p.nlev; i++) {
                    if (i && p.q[i] < p.q[i - 1]) sorted = 0;
                    if (p.q[i] > 1.0f || p.q[i] < (sg ? -1.0f : 0.0f)) inrange = 0;
                }
                CHECK_MSG(sorted, "%s b%d %s not sorted", m->name, b, sg ? "signed" : "unsigned");
                CHECK_MSG(inrange, "%s b%d %s out of range", m->name, b, sg ? "signed" : "unsigned");
                CHECK_MSG(p.q[p.nlev - 1] == 1.0f, "%s b%d: largest level %g != 1", m->name, b, (double)p.q[p.nlev - 1]);
                /* midpoints */
                for (int i = 0; i + 1 < p.nlev; i++) CHECK(p.mid[i] == (p.q[i] + p.q[i + 1]) * 0.5f);
            }
    }
    return TEST_END();
}
