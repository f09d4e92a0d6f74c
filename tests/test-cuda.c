/* test-cuda.c - the CUDA backend against the CPU reference, bit for bit (docs/cuda.md).
 * Skipped (exit 77) without a CUDA device or in a CPU-only build.
 *
 * 1. A direct loop over the registries (lbq_map_at x lbq_norm_at, so a new map or normalization is
 *    covered automatically) on three shapes with ordinary and special values: lbq_qdq and
 *    lbq_cuda_qdq must give identical codes and dequantized values, also when the GPU streams the
 *    range in many small pieces.
 * 2. The full agreement suite of `lbq selftest --device cuda` (lbq_cuda_selftest). */
#include "lbq.h"
#include "cuda/lbq-cuda.h"
#include "lbq-test.h"

#include <stdint.h>
#include <unistd.h>

#define NMAX 4257

static float g_x[NMAX], g_xc[NMAX], g_xg[NMAX], g_sc[NMAX];
static uint8_t g_cc[NMAX], g_cg[NMAX];

static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, sizeof u); return u; }

static void fill(int64_t n, int is_v)
{
    for (int64_t i = 0; i < n; i++) {
        float v = (float)(t_normal() * 1e-3 * exp(-4.0 * t_uniform()));
        if (i % 97 == 5) v = 0.0f;
        if (i % 101 == 7) v = 3e-41f;                 /* denormal */
        if (i % 211 == 11) v = NAN;
        if (i % 223 == 13) v = INFINITY;
        if (i < 128) v = 0.0f;                        /* an all-zero block */
        g_x[i] = is_v ? (float)fabs(v) : v;
    }
    if (n > 200) g_x[n / 3] = is_v ? 50.0f : -50.0f;  /* one outlier */
}

/* one spec on one shape: CPU and GPU must agree on every code and value */
static void compare(const struct lbq_qspec *qs, enum lbq_role role, const struct lbq_shape *sh, int64_t piece)
{
    struct lbq_qplan p;
    if (lbq_qplan_init(&p, qs, role, sh->rank) != LBQ_OK) return;      /* not defined here */
    const int64_t n = sh->numel;
    struct lbq_tstats st;
    CHECK_OK(lbq_tstats_init(&st, sh));
    fill(n, role == LBQ_ROLE_V);
    lbq_tstats_add(&st, 0, n, g_x);
    CHECK_OK(lbq_qdq(&p, &st, 0, n, g_x, g_xc, g_cc, g_sc, NULL, NULL));
    lbq_cuda_set_piece_elems(piece);
    int rc = lbq_cuda_qdq(&p, &st, 0, n, g_x, g_xg, g_cg);
    CHECK_MSG(rc == LBQ_OK, "%s (%s): lbq_cuda_qdq: %s", p.spec.text, role ? "v" : "m", lbq_errmsg());
    if (rc == LBQ_OK) {
        int64_t bad = 0, first = -1;
        for (int64_t i = 0; i < n; i++)
            if (g_cc[i] != g_cg[i] || f2u(g_xc[i]) != f2u(g_xg[i])) { if (first < 0) first = i; bad++; }
        CHECK_MSG(bad == 0, "%s (%s) numel %lld piece %lld: %lld elements differ, first %lld: x=%a cpu %d/%a gpu %d/%a",
                  p.spec.text, role ? "v" : "m", (long long)n, (long long)piece, (long long)bad, (long long)first,
                  first >= 0 ? (double)g_x[first] : 0.0, first >= 0 ? g_cc[first] : 0, first >= 0 ? (double)g_xc[first] : 0.0,
                  first >= 0 ? g_cg[first] : 0, first >= 0 ? (double)g_xg[first] : 0.0);
    }
    lbq_tstats_free(&st);
}

int main(void)
{
    if (lbq_cuda_device_count() == 0) {
        lbq_cuda_check();
        printf("test-cuda: %s: skipped\n", lbq_errmsg());
        return 77;
    }
    /* a codebook for the 'file' map */
    char mapfile[] = "/tmp/lbq-test-cuda-XXXXXX";
    int fd = mkstemp(mapfile);
    CHECK(fd >= 0);
    if (fd >= 0) {
        static const char lev[] = "-1 -0.5 -0.1 0 0.05 0.3 0.8 1\n";
        CHECK(write(fd, lev, sizeof lev - 1) == (ssize_t)(sizeof lev - 1));
        close(fd);
    }
    static const struct lbq_shape shapes[] = {
        { 1, { 4099 }, 4099 }, { 2, { 129, 33 }, 4257 }, { 3, { 5, 9, 91 }, 4095 },
    };
    static const int64_t blocks[] = { 1, 128, 1000 };
    for (int mi = 0; mi < lbq_map_count(); mi++)
        for (int ni = 0; ni < lbq_norm_count(); ni++)
            for (int bi = 0; bi < 3; bi++) {
                const struct lbq_map *m = lbq_map_at(mi);
                const struct lbq_norm *nm = lbq_norm_at(ni);
                if (!nm->blockwise && bi > 0) continue;
                for (int dre = 0; dre <= (m->qdq && !m->needs_block); dre++)
                    for (int rnd = 0; rnd < 2; rnd++) {
                        struct lbq_qdefaults d;
                        lbq_qdefaults_init(&d);
                        d.bits = m->fixed_bits ? m->fixed_bits : (m->needs_block ? 2 : 4);
                        d.block = blocks[bi];
                        d.round = rnd ? LBQ_ROUND_STOCHASTIC : LBQ_ROUND_NEAREST;
                        d.seed = 42;
                        d.map_file = mapfile;
                        char text[96];
                        snprintf(text, sizeof text, "%s-%s%s", nm->name, m->name, dre ? ":dre" : "");
                        struct lbq_qspec qs;
                        if (lbq_qspec_parse(text, &d, &qs) != LBQ_OK) continue;   /* e.g. log needs block */
                        for (int role = 0; role < 2; role++)
                            for (int s = 0; s < 3; s++) {
                                compare(&qs, (enum lbq_role)role, &shapes[s], 0);
                                compare(&qs, (enum lbq_role)role, &shapes[s], 1000);   /* many pieces */
                            }
                    }
            }
    lbq_cuda_set_piece_elems(0);
    remove(mapfile);
    CHECK_OK(lbq_cuda_selftest(stderr, 10));
    return TEST_END();
}
