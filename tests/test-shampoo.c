/* test-shampoo.c - 4-bit Shampoo's preconditioner analysis (src/shampoo.c, `lbq shampoo`).
 *
 *  1. exactness: f(A) of a diagonal matrix, f(A)^4 (A + eps lmax I) = I, NRE of an unquantized
 *     path, Bjorck on an orthogonal matrix;
 *  2. Bjorck rectification lowers ||V^T V - I||_F monotonically;
 *  3. Lemma 1 of the paper on orthogonal perturbations: NRE <= 2 max||du_i||, cos AE >= (1-beta)^2;
 *  4. the acceptance check on the synthetic A2 (order 1200, 4-bit, block 64): the paper's
 *     ordering and rough magnitudes (tolerances justified at the check);
 *  5. inputs and errors: dense checks, HDF5 datasets, the gradient stream, and the CLI's exit codes
 *     and one-line messages.
 * Runtime: about 5-10 s of CPU on the 2-core machine (the order-1200 case dominates). */
#define _XOPEN_SOURCE 700      /* mkdtemp */
#include "lbq-test.h"
#include "lbq-shampoo.h"

#include <cJSON.h>
#include <fcntl.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void mkplan(const char *map, int bits, int block, struct lbq_qplan *p)
{
    char spec[64];
    struct lbq_qdefaults d;
    struct lbq_qspec s;
    lbq_qdefaults_init(&d);
    snprintf(spec, sizeof spec, "block%d-%s:b%d", block, map, bits);
    CHECK_OK(lbq_qspec_parse(spec, &d, &s));
    CHECK_OK(lbq_qplan_init(p, &s, LBQ_ROLE_M, 2));
}

static double *dmat(int n) { return calloc((size_t)n * (size_t)n, sizeof(double)); }

/* ---- 1. exactness ------------------------------------------------------------------------------ */
static void test_exact(void)
{
    /* f(A) of a diagonal matrix is the diagonal (d_i + eps max d)^(-1/4), exactly up to rounding */
    const int n = 5;
    const double d[5] = { 4.0, 1.0, 0.25, 1e-3, 2.0 }, eps = 1e-6;
    double *a = dmat(n);
    for (int i = 0; i < n; i++) a[i * n + i] = d[i];
    struct lbq_sh_mat m;
    CHECK_OK(lbq_sh_from_dense(n, a, "diag", &m));
    double *f = dmat(n);
    CHECK_OK(lbq_sh_reference(&m, eps, f));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (i == j) CHECK_REL(f[i * n + j], pow(d[i] + eps * 4.0, -0.25), 1e-13);
            else CHECK_NEAR(f[i * n + j], 0.0, 1e-15);
        }
    struct lbq_sh_err e;
    lbq_sh_compare(n, f, f, &e);
    CHECK(e.nre == 0.0 && e.ae == 0.0);
    CHECK(isnan(e.nre_off));        /* no off-diagonal mass: undefined, not 0 */
    free(f);
    lbq_sh_mat_free(&m);

    /* synthetic A2: E orthogonal, A = E^T diag(w) E, and F = f(A) satisfies F^4 (A + eps lmax I) = I */
    const int N = 160;
    CHECK_OK(lbq_sh_synthetic_a2(N, 100.0, 1.0, N / 2, 7, &m));
    double *work = dmat(2 * N), *F = dmat(N), *X = dmat(N), *Y = dmat(N), *w = calloc(N, sizeof(double));
    CHECK(lbq_sh_orth_err(N, m.e, work) < 1e-12);
    CHECK_OK(lbq_sh_reference(&m, eps, F));
    /* Y = F^2, X = Y^2 = F^4, then max |X (A + eps I) - I| */
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < N; k++) s += F[i * N + k] * F[k * N + j];
            Y[i * N + j] = s;
        }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < N; k++) s += Y[i * N + k] * Y[k * N + j];
            X[i * N + j] = s;
        }
    double dev = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < N; k++) s += X[i * N + k] * (m.a[k * N + j] + (k == j ? eps : 0.0));
            double t = fabs(s - (i == j ? 1.0 : 0.0));
            if (t > dev) dev = t;
        }
    CHECK_MSG(dev < 1e-9, "max |F^4 (A + eps I) - I| = %g", dev);

    /* unquantized path: f(E^T diag(w) E) by a second eigendecomposition equals f(A) */
    lbq_sh_compose(N, m.w, m.e, X, work);
    int nneg = -1;
    CHECK_OK(lbq_sh_invroot(N, X, eps, LBQ_SH_NEG_ABS, Y, w, work, &nneg));
    CHECK_EQ_INT(nneg, 0);
    lbq_sh_compare(N, F, Y, &e);
    CHECK_MSG(e.nre < 1e-10 && e.ae < 1e-8 && e.nre_off < 1e-10, "unquantized NRE %g AE %g", e.nre, e.ae);

    /* Bjorck leaves an orthogonal matrix orthogonal */
    memcpy(X, m.e, sizeof(double) * N * N);
    for (int t = 0; t < 3; t++) lbq_sh_bjorck_step(N, X, work);
    CHECK(lbq_sh_orth_err(N, X, work) < 1e-12);
    double alpha, mind;
    lbq_sh_lemma1(N, m.e, X, &alpha, &mind);
    CHECK(alpha < 1e-12 && fabs(mind - 1.0) < 1e-12);

    /* 8 bits is far more accurate than 4 on U (sanity of the row-wise quantizer) */
    struct lbq_qplan p4, p8;
    mkplan("linsq", 4, 64, &p4);
    mkplan("linsq", 8, 64, &p8);
    double a4, a8;
    CHECK_OK(lbq_sh_qdq_rows(&p4, N, m.e, 0, X));
    lbq_sh_lemma1(N, m.e, X, &a4, &mind);
    CHECK_OK(lbq_sh_qdq_rows(&p8, N, m.e, 0, X));
    lbq_sh_lemma1(N, m.e, X, &a8, &mind);
    CHECK_MSG(a8 < a4 / 8 && a4 > 0, "alpha 4-bit %g, 8-bit %g", a4, a8);
    /* keep_diag: the diagonal comes back exactly */
    CHECK_OK(lbq_sh_qdq_rows(&p4, N, m.a, 1, X));
    int diag_ok = 1;
    for (int i = 0; i < N; i++) if (X[i * N + i] != m.a[i * N + i]) diag_ok = 0;
    CHECK(diag_ok);

    free(work); free(F); free(X); free(Y); free(w);
    lbq_sh_mat_free(&m);

    /* the published table is reachable */
    double pn, pa;
    CHECK(lbq_sh_paper("linsq", 4, 64, 2, LBQ_SH_A, 0, &pn, &pa) && pn == 0.4465 && pa == 15.338);
    CHECK(lbq_sh_paper("dtree", 8, 256, 1, LBQ_SH_UB_OR, 1, &pn, &pa) && pn == 0.0156);
    CHECK(!lbq_sh_paper("dtree", 3, 64, 2, LBQ_SH_A, 0, &pn, &pa) && isnan(pn));
}

/* ---- 2. Bjorck monotone, 3. Lemma 1 ------------------------------------------------------------- */
static void test_bjorck_lemma1(void)
{
    const int N = 256;
    struct lbq_sh_mat m;
    CHECK_OK(lbq_sh_synthetic_a2(N, 400.0, 1.0, N / 2, 3, &m));
    double *F = dmat(N), *V = dmat(N), *X = dmat(N), *FX = dmat(N), *work = dmat(2 * N), *w = calloc(N, sizeof(double));
    CHECK_OK(lbq_sh_reference(&m, 1e-6, F));
    static const char *const maps[2] = { "linsq", "dtree" };
    static const int bits[3] = { 3, 4, 8 };
    for (int mi = 0; mi < 2; mi++)
        for (int bi = 0; bi < 3; bi++) {
            struct lbq_qplan p;
            mkplan(maps[mi], bits[bi], 64, &p);
            CHECK_OK(lbq_sh_qdq_rows(&p, N, m.e, 0, V));
            /* ||V^T V - I|| falls strictly at every step until it reaches rounding level (the
             * iteration converges quadratically once ||V^T V - I||_2 < 1; 5 steps suffice here) */
            double prev = lbq_sh_bjorck_step(N, V, work), first = prev;
            CHECK_MSG(first > 1e-3, "%s %d-bit: quantized U is orthogonal already? %g", maps[mi], bits[bi], first);
            for (int t = 1; t <= 5; t++) {
                double o = lbq_sh_bjorck_step(N, V, work);
                if (prev > 1e-12) CHECK_MSG(o < prev, "%s %d-bit: orth step %d: %g -> %g", maps[mi], bits[bi], t, prev, o);
                prev = o;
            }
            CHECK_MSG(prev < 1e-3 * first, "%s %d-bit: 6 steps only %g -> %g", maps[mi], bits[bi], first, prev);
            /* orthogonal to rounding: Lemma 1 applies to dU = V - U */
            for (int t = 0; t < 30 && lbq_sh_orth_err(N, V, work) > 1e-13; t++) lbq_sh_bjorck_step(N, V, work);
            CHECK(lbq_sh_orth_err(N, V, work) < 1e-12);
            double alpha, mind;
            lbq_sh_lemma1(N, m.e, V, &alpha, &mind);
            lbq_sh_compose(N, m.w, V, X, work);
            CHECK_OK(lbq_sh_invroot(N, X, 1e-6, LBQ_SH_NEG_ABS, FX, w, work, NULL));
            struct lbq_sh_err e;
            lbq_sh_compare(N, F, FX, &e);
            CHECK_MSG(e.nre <= 2 * alpha, "%s %d-bit: Lemma 1(1): NRE %g > 2 alpha = %g", maps[mi], bits[bi], e.nre, 2 * alpha);
            CHECK_MSG(cos(e.ae * 3.14159265358979323846 / 180.0) >= mind * mind - 1e-12,
                      "%s %d-bit: Lemma 1(2): cos AE %g < (1-beta)^2 = %g", maps[mi], bits[bi], cos(e.ae * 3.14159265358979323846 / 180.0), mind * mind);
            CHECK(e.nre > 0 && e.nre < 1);
        }
    free(F); free(V); free(X); free(FX); free(work); free(w);
    lbq_sh_mat_free(&m);
}

/* ---- 4. the acceptance check -------------------------------------------------------------- */
static void run_a2(int n, double cond, uint64_t seed, int bjmax, struct lbq_sh_result r[2])
{
    struct lbq_sh_mat m;
    CHECK_OK(lbq_sh_synthetic_a2(n, cond, 1.0, n / 2, seed, &m));
    double *F = dmat(n);
    CHECK_OK(lbq_sh_reference(&m, 1e-6, F));
    struct lbq_sh_opts o;
    lbq_sh_opts_init(&o);
    o.bjorck = 1;
    o.bjorck_max = bjmax;
    static const char *const maps[2] = { "linsq", "dtree" };
    for (int k = 0; k < 2; k++) {
        struct lbq_qplan p;
        mkplan(maps[k], 4, 64, &p);
        CHECK_OK(lbq_sh_run(&m, F, &p, &o, &r[k]));
    }
    free(F);
    lbq_sh_mat_free(&m);
}

static void test_a2(void)
{
    /* Ordering on a smaller A2 (order 384, two seeds): U-side schemes, where the gaps are large.
     * DT's levels near +-1 are coarser than Linear-2's, so every U/B scheme must be worse with DT;
     * one Bjorck step must help; B (one quantization of the target) must beat U; composing with
     * B must cost more than U alone; quantizing A must be far worse than quantizing U. */
    for (uint64_t seed = 1; seed <= 2; seed++) {
        struct lbq_sh_result r[2];
        run_a2(384, 500.0, seed, 1, r);
        const struct lbq_sh_result *L = &r[0], *D = &r[1];
        static const int us[] = { LBQ_SH_U, LBQ_SH_U_OR, LBQ_SH_B, LBQ_SH_UB, LBQ_SH_UB_OR };
        for (size_t i = 0; i < sizeof us / sizeof us[0]; i++)
            CHECK_MSG(D->err[us[i]].nre > L->err[us[i]].nre && D->err[us[i]].ae > L->err[us[i]].ae,
                      "order 384 seed %d: %s: DT %g not worse than Linear-2 %g", (int)seed, lbq_sh_scheme_name(us[i]),
                      D->err[us[i]].nre, L->err[us[i]].nre);
        for (int k = 0; k < 2; k++) {
            const struct lbq_sh_err *e = r[k].err;
            CHECK(e[LBQ_SH_U_OR].nre < e[LBQ_SH_U].nre && e[LBQ_SH_UB_OR].nre < e[LBQ_SH_UB].nre);
            CHECK(e[LBQ_SH_B].nre < e[LBQ_SH_U].nre && e[LBQ_SH_UB].nre > e[LBQ_SH_U].nre);
            CHECK(e[LBQ_SH_A].nre > 3 * e[LBQ_SH_U].nre && e[LBQ_SH_AB].nre >= e[LBQ_SH_A].nre * 0.99);
            CHECK(e[LBQ_SH_U_OR].nre_off > 0 && e[LBQ_SH_U_OR].nre_off < e[LBQ_SH_U].nre_off);
            CHECK(r[k].curve[1].orth < r[k].curve[0].orth);
        }
    }

    /* The acceptance check: order 1200 (as the paper), cond 500, half the eigenvalues small, seed 0.
     *
     * Paper, Linear-2, A2: A 0.4465, U 0.0942, U+OR 0.0669 (NRE); DT above Linear-2 in every cell.
     * lbq measures (seed 0): A 0.431, U 0.0879, U+OR 0.0597.  Over seeds 0-3 the spread is 0.007
     * (Linear-2) and 0.025 (DT) for A and < 0.0005 for U and U+OR (1.44M entries average out), so
     * the tolerances below are about systematic differences, not noise:
     *  - U, U+OR (tolerance 20% relative): these depend on Lambda only weakly (U 0.088 at cond
     *    500, 0.095 at 2000, 0.100 at 1e4), the paper's Lambda is unpublished, and its quantizer
     *    and QR/sign conventions differ in details; measured deviations are -7% and -11%.
     *  - A (tolerance 25% relative): the A column depends strongly on Lambda and on how f treats
     *    the negative eigenvalues of the quantized, indefinite g(A) (A: 0.29 at cond 100, 0.43 at
     *    500, 0.51 at 1e3, 0.71 at 1e4, with |lambda|); cond 500 was chosen to land in the
     *    published ballpark (docs/shampoo.md), so this bound pins the calibration, not a prediction.
     *  - Ordering (strict): A >> U > U+OR, and DT's NRE above Linear-2's for all seven schemes.
     *    The smallest DT-vs-Linear-2 margin is the A column (0.458 vs 0.431 at seed 0, >= 0.027
     *    over seeds 0-3).  (The AE of A is not checked: it is carried by the few eigenvalues of
     *    g(A) that land near 0 and swings by 5 degrees between seeds.) */
    double t0 = now_s();
    struct lbq_sh_result r[2];
    run_a2(1200, 500.0, 0, 1, r);
    const struct lbq_sh_err *L = r[0].err, *D = r[1].err;
    printf("A2 order 1200 cond 500, 4-bit block 64 (paper A2 in brackets):\n");
    double pn, pa;
    for (int s = 0; s < LBQ_SH_NSCHEMES; s++) {
        lbq_sh_paper("linsq", 4, 64, 2, s, 0, &pn, &pa);
        double dn, da;
        lbq_sh_paper("dtree", 4, 64, 2, s, 0, &dn, &da);
        printf("  %-9s Linear-2 %.4f / %6.3f deg [%.4f / %6.3f]   DT %.4f / %6.3f deg [%.4f / %6.3f]\n", lbq_sh_scheme_name(s),
               L[s].nre, L[s].ae, pn, pa, D[s].nre, D[s].ae, dn, da);
    }
    CHECK_REL(L[LBQ_SH_A].nre, 0.4465, 0.25);
    CHECK_REL(L[LBQ_SH_U].nre, 0.0942, 0.20);
    CHECK_REL(L[LBQ_SH_U_OR].nre, 0.0669, 0.20);
    CHECK(L[LBQ_SH_A].nre > 3 * L[LBQ_SH_U].nre && L[LBQ_SH_U].nre > L[LBQ_SH_U_OR].nre);
    for (int s = 0; s < LBQ_SH_NSCHEMES; s++) {
        CHECK(r[0].have[s] && r[1].have[s]);
        CHECK_MSG(D[s].nre > L[s].nre, "order 1200: %s: DT NRE %g not above Linear-2 %g", lbq_sh_scheme_name(s), D[s].nre, L[s].nre);
    }
    /* the rest of the paper's A2 column, same 20% band (U-side) and 25% (A-side), and DT's */
    static const int rest[] = { LBQ_SH_B, LBQ_SH_UB, LBQ_SH_UB_OR };
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++) {
        lbq_sh_paper("linsq", 4, 64, 2, rest[i], 0, &pn, &pa);
        CHECK_REL(L[rest[i]].nre, pn, 0.20);
        lbq_sh_paper("dtree", 4, 64, 2, rest[i], 0, &pn, &pa);
        CHECK_REL(D[rest[i]].nre, pn, 0.20);
    }
    lbq_sh_paper("dtree", 4, 64, 2, LBQ_SH_A, 0, &pn, &pa);
    CHECK_REL(D[LBQ_SH_A].nre, pn, 0.25);
    /* Off-diagonal parts (paper Table 6) of the U-side schemes.  These barely depend on Lambda --
     * B's is exactly Lambda-independent for a two-valued Lambda, since the off-diagonal of f(A) is
     * then a multiple of that of a random orthogonal projector -- so they test lbq's quantizer and
     * the blocks-within-rows layout against the paper directly.  Measured (seed 0): B, U+OR and
     * (U,B)+OR within 0.4% of the paper for both maps, U and (U,B) +3.4% to +4.9%.  Tolerances:
     * 2% and 8%. */
    static const int offs[] = { LBQ_SH_U, LBQ_SH_U_OR, LBQ_SH_B, LBQ_SH_UB, LBQ_SH_UB_OR };
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        double tol = (offs[i] == LBQ_SH_U || offs[i] == LBQ_SH_UB) ? 0.08 : 0.02;
        lbq_sh_paper("linsq", 4, 64, 2, offs[i], 1, &pn, &pa);
        CHECK_REL(L[offs[i]].nre_off, pn, tol);
        lbq_sh_paper("dtree", 4, 64, 2, offs[i], 1, &pn, &pa);
        CHECK_REL(D[offs[i]].nre_off, pn, tol);
    }
    printf("  (order-1200 check: %.1f s)\n", now_s() - t0);
}

/* ---- 5. inputs and errors --------------------------------------------------------------------- */
static int write_ds(const char *path, const char *name, int rank, const hsize_t *dims, hid_t type, const void *data)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return -1;
    hid_t s = H5Screate_simple(rank, dims, NULL), pl = H5Pcreate(H5P_DATASET_CREATE);
    if (!data) {             /* huge and never written: chunked, so the file stays tiny */
        hsize_t ch[2] = { 64, 64 };
        H5Pset_chunk(pl, rank, ch);
    }
    hid_t lc = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lc, 1);
    hid_t d = H5Dcreate2(f, name, type, s, lc, pl, H5P_DEFAULT);
    H5Pclose(lc);
    int rc = d < 0 ? -1 : 0;
    if (d >= 0 && data && H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) rc = -1;
    if (d >= 0) H5Dclose(d);
    H5Pclose(pl); H5Sclose(s); H5Fclose(f);
    return rc;
}

/* run the lbq binary; returns the exit code, stderr in err */
static int run_lbq(const char *lbq, const char *const *args, char *err, size_t nerr)
{
    char ef[] = "/tmp/lbq-sh-err-XXXXXX";
    int fd = mkstemp(ef);
    if (fd < 0) return -1;
    char *argv[32];
    int k = 0;
    argv[k++] = (char *)lbq;
    argv[k++] = (char *)"shampoo";
    for (int i = 0; args[i] && k < 30; i++) argv[k++] = (char *)args[i];
    argv[k] = NULL;
    fflush(stdout); fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int nul = open("/dev/null", O_WRONLY);
        dup2(nul, 1); dup2(fd, 2);
        execv(lbq, argv);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    ssize_t n = pread(fd, err, nerr - 1, 0);
    err[n > 0 ? n : 0] = 0;
    close(fd);
    unlink(ef);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static int nlines(const char *s) { int n = 0; for (; *s; s++) if (*s == '\n') n++; return n; }

static void test_inputs(void)
{
    struct lbq_sh_mat m;
    /* dense checks */
    double *a = dmat(3);
    a[0] = 1; a[4] = NAN; a[8] = 1;
    CHECK_EQ_INT(lbq_sh_from_dense(3, a, "nan", &m), LBQ_ERR_DATA);
    CHECK(strstr(lbq_errmsg(), "NaN") != NULL);
    a = dmat(3);
    a[0] = 2; a[1] = 1; a[3] = 0; a[4] = 2; a[8] = 2;
    CHECK_EQ_INT(lbq_sh_from_dense(3, a, "asym", &m), LBQ_ERR_DATA);
    CHECK(strstr(lbq_errmsg(), "not symmetric") != NULL);
    a = dmat(2);
    a[0] = 1; a[1] = a[2] = 2; a[3] = 1;          /* eigenvalues 3 and -1 */
    CHECK_EQ_INT(lbq_sh_from_dense(2, a, "indef", &m), LBQ_ERR_DATA);
    CHECK(strstr(lbq_errmsg(), "positive semidefinite") != NULL);
    a = dmat(2);
    CHECK_EQ_INT(lbq_sh_from_dense(2, a, "zero", &m), LBQ_ERR_DATA);
    a = dmat(1);
    a[0] = 1;
    CHECK_EQ_INT(lbq_sh_from_dense(1, a, "tiny", &m), LBQ_ERR_ARG);
    CHECK_EQ_INT(lbq_sh_synthetic_a2(LBQ_SH_MAX_ORDER + 1, 10, 1, 1, 0, &m), LBQ_ERR_UNSUPPORTED);
    CHECK_EQ_INT(lbq_sh_synthetic_a2(8, 0.5, 1, 1, 0, &m), LBQ_ERR_ARG);
    /* a PSD matrix with a rounding-level negative eigenvalue is accepted and clamped */
    a = dmat(2);
    a[0] = 1; a[1] = a[2] = 1; a[3] = 1 - 1e-12;
    CHECK_OK(lbq_sh_from_dense(2, a, "psd", &m));
    CHECK(m.w[0] >= 0 && m.w[1] > 1.9);
    lbq_sh_mat_free(&m);

    /* HDF5 datasets */
    char dir[] = "/tmp/lbq-sh-XXXXXX";
    if (!mkdtemp(dir)) { CHECK(0); return; }
    char ok[256], rect[256], nanf[256], big[256], intf[256], vec[256], asym[256];
    snprintf(ok, sizeof ok, "%s/ok.h5", dir);
    snprintf(rect, sizeof rect, "%s/rect.h5", dir);
    snprintf(nanf, sizeof nanf, "%s/nan.h5", dir);
    snprintf(big, sizeof big, "%s/big.h5", dir);
    snprintf(intf, sizeof intf, "%s/int.h5", dir);
    snprintf(vec, sizeof vec, "%s/vec.h5", dir);
    snprintf(asym, sizeof asym, "%s/asym.h5", dir);
    float pd[9] = { 4, 1, 0, 1, 3, 0.5f, 0, 0.5f, 2 }, pn[9], pa[9], r12[12] = { 0 };
    memcpy(pn, pd, sizeof pd); pn[4] = NAN;
    memcpy(pa, pd, sizeof pd); pa[1] = 1.5f;
    int iv[9] = { 1, 0, 0, 0, 1, 0, 0, 0, 1 };
    hsize_t d33[2] = { 3, 3 }, d34[2] = { 3, 4 }, dbig[2] = { 9000, 9000 }, d9[1] = { 9 };
    CHECK(write_ds(ok, "precond/L", 2, d33, H5T_NATIVE_FLOAT, pd) == 0);
    CHECK(write_ds(rect, "L", 2, d34, H5T_NATIVE_FLOAT, r12) == 0);
    CHECK(write_ds(nanf, "L", 2, d33, H5T_NATIVE_FLOAT, pn) == 0);
    CHECK(write_ds(big, "L", 2, dbig, H5T_NATIVE_FLOAT, NULL) == 0);
    CHECK(write_ds(intf, "L", 2, d33, H5T_NATIVE_INT, iv) == 0);
    CHECK(write_ds(vec, "L", 1, d9, H5T_NATIVE_FLOAT, pd) == 0);
    CHECK(write_ds(asym, "L", 2, d33, H5T_NATIVE_FLOAT, pa) == 0);
    CHECK_OK(lbq_sh_read_h5(ok, "precond/L", &m));
    CHECK(m.n == 3 && m.w[0] > 0 && fabs(m.w[0] + m.w[1] + m.w[2] - 9.0) < 1e-6);
    lbq_sh_mat_free(&m);
    CHECK_EQ_INT(lbq_sh_read_h5(ok, "nope", &m), LBQ_ERR_FORMAT);
    CHECK_EQ_INT(lbq_sh_read_h5(ok, "precond", &m), LBQ_ERR_FORMAT);     /* a group */
    CHECK_EQ_INT(lbq_sh_read_h5(rect, "L", &m), LBQ_ERR_FORMAT);
    CHECK(strstr(lbq_errmsg(), "not square") != NULL);
    CHECK_EQ_INT(lbq_sh_read_h5(nanf, "L", &m), LBQ_ERR_DATA);
    CHECK_EQ_INT(lbq_sh_read_h5(big, "L", &m), LBQ_ERR_UNSUPPORTED);
    CHECK(strstr(lbq_errmsg(), "8192") != NULL);
    CHECK_EQ_INT(lbq_sh_read_h5(intf, "L", &m), LBQ_ERR_FORMAT);
    CHECK_EQ_INT(lbq_sh_read_h5(vec, "L", &m), LBQ_ERR_FORMAT);
    CHECK_EQ_INT(lbq_sh_read_h5(asym, "L", &m), LBQ_ERR_DATA);
    /* the moment reader's storage check (h5io.c) guards this reader too: chunked, never written */
    char unwritten[600];
    hsize_t d100[2] = { 100, 100 };
    snprintf(unwritten, sizeof unwritten, "%s/unwritten.h5", dir);
    CHECK(write_ds(unwritten, "L", 2, d100, H5T_NATIVE_FLOAT, NULL) == 0);
    CHECK_EQ_INT(lbq_sh_read_h5(unwritten, "L", &m), LBQ_ERR_FORMAT);
    CHECK_MSG(strstr(lbq_errmsg(), "chunks written") != NULL, "%s", lbq_errmsg());
    CHECK_EQ_INT(lbq_sh_read_h5("/nonexistent/x.h5", "L", &m), LBQ_ERR_IO);

    /* the gradient stream: L = ridge I + sum G G^T has trace n ridge + sum ||G||_F^2 */
    char sample[512];
    snprintf(sample, sizeof sample, "%s/data/sample-late.h5", LBQ_SRC_DIR);
    struct lbq_file *f = NULL;
    CHECK_OK(lbq_file_open(sample, NULL, &f));
    int pp = -1, pnog = -1;
    for (int i = 0; f && i < lbq_file_nparams(f); i++) {
        if (strcmp(lbq_file_param(f, i)->name, "blocks.1.mlp.fc1.weight") == 0) pp = i;
        if (strcmp(lbq_file_param(f, i)->name, "blocks.0.attn.proj.weight") == 0) pnog = i;
    }
    CHECK(pp >= 0 && pnog >= 0);
    if (pp >= 0) {
        const struct lbq_param_info *in = lbq_file_param(f, pp);
        float *g = malloc(sizeof(float) * (size_t)in->shape.numel);
        double fro = 0;
        for (int64_t t = 0; t < in->grads_T; t++) {
            CHECK_OK(lbq_file_read(f, pp, LBQ_DS_GRADS, t, 0, in->shape.numel, g));
            for (int64_t i = 0; i < in->shape.numel; i++) fro += (double)g[i] * g[i];
        }
        free(g);
        for (int side = 0; side < 2; side++) {
            CHECK_OK(lbq_sh_from_grads(f, pp, side, 1e-6, &m));
            CHECK_EQ_INT(m.n, side ? 96 : 384);
            double tr = 0, ws = 0;
            for (int i = 0; i < m.n; i++) { tr += m.a[i * m.n + i]; ws += m.w[i]; }
            CHECK_REL(tr, fro + m.n * 1e-6, 1e-9);
            CHECK_REL(ws, tr, 1e-9);
            CHECK(m.w[0] >= 1e-6 * (1 - 1e-6));       /* PSD sum + ridge */
            lbq_sh_mat_free(&m);
        }
    }
    if (pnog >= 0) {
        CHECK_EQ_INT(lbq_sh_from_grads(f, pnog, 0, 1e-6, &m), LBQ_ERR_ARG);
        CHECK(strstr(lbq_errmsg(), "no gradient stream") != NULL);
    }
    lbq_file_close(f);

    /* the CLI: one stderr line and the documented exit code per failure; a small run works */
    const char *lbq = getenv("LBQ");
    if (lbq && access(lbq, X_OK) == 0) {
        char err[4096], json[300];
        snprintf(json, sizeof json, "%s/out.json", dir);
        struct { const char *args[12]; int code; const char *needle; } cases[] = {
            { { rect, "--dataset", "L", NULL }, 3, "not square" },
            { { big, "--dataset", "L", NULL }, 2, "8192" },
            { { nanf, "--dataset", "L", NULL }, 5, "NaN" },
            { { asym, "--dataset", "L", NULL }, 5, "not symmetric" },
            { { ok, "--dataset", "missing", NULL }, 3, "no dataset" },
            { { ok, "--dataset", "precond/L", "--order", "5", NULL }, 2, "--synthetic" },
            { { sample, "--from-grads", "blocks.0.attn.proj.weight", NULL }, 2, "no gradient stream" },
            { { sample, "--from-grads", "nosuch", NULL }, 2, "blocks.1.mlp.fc1.weight" },
            { { "--synthetic", "a2", "--order", "9000", NULL }, 2, "out of range" },
            { { "--synthetic", "b7", NULL }, 2, "a2" },
            { { "--synthetic", "a2", "--maps", "log", NULL }, 2, "log" },
            { { NULL }, 2, "--synthetic" },
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            int code = run_lbq(lbq, cases[i].args, err, sizeof err);
            CHECK_MSG(code == cases[i].code, "case %zu: exit %d, want %d (%s)", i, code, cases[i].code, err);
            CHECK_MSG(nlines(err) == 1 && strstr(err, cases[i].needle), "case %zu: stderr '%s' lacks '%s' or is not one line", i, err, cases[i].needle);
        }
        const char *args[] = { "--synthetic", "a2", "--order", "96", "--bits", "4", "--block-8bit", "0", "--json", json, "-q", NULL };
        CHECK_EQ_INT(run_lbq(lbq, args, err, sizeof err), 0);
        FILE *jf = fopen(json, "r");
        char *buf = calloc(1, 1 << 20);
        size_t nr = jf ? fread(buf, 1, (1 << 20) - 1, jf) : 0;
        if (jf) fclose(jf);
        cJSON *root = nr ? cJSON_Parse(buf) : NULL;
        CHECK(root != NULL);
        if (root) {
            cJSON *s = cJSON_GetObjectItem(root, "schema"), *v = cJSON_GetObjectItem(root, "schema_version");
            cJSON *c = cJSON_GetObjectItem(root, "configs");
            CHECK(cJSON_IsString(s) && strcmp(s->valuestring, "lbq.shampoo") == 0);
            CHECK(cJSON_IsNumber(v) && v->valuedouble == 1);
            CHECK(cJSON_IsArray(c) && cJSON_GetArraySize(c) == 2);
            cJSON *c0 = cJSON_GetArrayItem(c, 0);
            CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(c0, "schemes")) == LBQ_SH_NSCHEMES);
            CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(c0, "bjorck_curve")) == 5);
            cJSON_Delete(root);
        }
        free(buf);
        unlink(json);
    } else {
        printf("(LBQ not set: CLI checks skipped)\n");
    }
    const char *files[] = { ok, rect, nanf, big, intf, vec, asym };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) unlink(files[i]);
    rmdir(dir);
}

int main(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    double t0 = now_s();
    test_exact();
    test_bjorck_lemma1();
    test_inputs();
    test_a2();
    printf("test-shampoo: %.1f s\n", now_s() - t0);
    return TEST_END();
}
