/* shampoo.c - 4-bit Shampoo's preconditioner quantization analysis (lbq-shampoo.h,
 * docs/shampoo.md): inputs (synthetic A2, HDF5 dataset, gradient stream), the inverse 4th root
 * by eigendecomposition, Bjorck rectification, row-wise block quantization and NRE / AE. */
#include "lbq-shampoo.h"
#include "lbq-impl.h"

#include <cblas.h>
#include <errno.h>
#include <float.h>
#include <hdf5.h>
#include <lapacke.h>
#include <time.h>
#include <unistd.h>

static const char *const g_scheme_name[LBQ_SH_NSCHEMES] = { "A", "U", "U+OR", "B", "(A,B)", "(U,B)", "(U,B)+OR" };
static const char *const g_scheme_key[LBQ_SH_NSCHEMES]  = { "A", "U", "U_OR", "B", "AB", "UB", "UB_OR" };

const char *lbq_sh_scheme_name(int s) { return (s >= 0 && s < LBQ_SH_NSCHEMES) ? g_scheme_name[s] : "?"; }
const char *lbq_sh_scheme_key(int s)  { return (s >= 0 && s < LBQ_SH_NSCHEMES) ? g_scheme_key[s] : "?"; }

static double *dalloc(size_t n) { return malloc(sizeof(double) * (n ? n : 1)); }
static size_t  nn(int n) { return (size_t)n * (size_t)n; }

void lbq_sh_mat_free(struct lbq_sh_mat *m)
{
    if (!m) return;
    free(m->a); free(m->w); free(m->e);
    memset(m, 0, sizeof *m);
}

/* copy the upper triangle of a row-major symmetric matrix into its lower triangle */
static void mirror_upper(int n, double *x)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++) x[(size_t)i * n + j] = x[(size_t)j * n + i];
}

/* x <- (x + x^T) / 2 */
static void symmetrize(int n, double *x)
{
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double s = 0.5 * (x[(size_t)i * n + j] + x[(size_t)j * n + i]);
            x[(size_t)i * n + j] = x[(size_t)j * n + i] = s;
        }
}

/* ---- building blocks -------------------------------------------------------------------------- */
/* eigendecomposition in place: x (symmetric) -> rows = eigenvectors, w ascending */
static int eigh(int n, double *x, double *w)
{
    /* column-major view of a symmetric row-major matrix is the same matrix; the eigenvector
     * columns of the column-major result are the rows of the row-major view */
    lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'U', n, x, n, w);
    if (info == LAPACK_WORK_MEMORY_ERROR || info == LAPACK_TRANSPOSE_MEMORY_ERROR)
        return lbq_err(LBQ_ERR_NOMEM, "out of memory in the eigendecomposition (order %d)", n);
    if (info != 0) return lbq_err(LBQ_ERR_DATA, "eigendecomposition of an order-%d matrix failed (LAPACK dsyevd info %d)", n, (int)info);
    return LBQ_OK;
}

/* x = s^T s with s = diag(sqrt(d)) e, d >= 0 */
static void scaled_gram(int n, const double *d, const double *e, double *x, double *work)
{
    for (int i = 0; i < n; i++) {
        double s = sqrt(d[i]);
        const double *er = e + (size_t)i * n;
        double *wr = work + (size_t)i * n;
        for (int j = 0; j < n; j++) wr[j] = s * er[j];
    }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, n, n, 1.0, work, n, 0.0, x, n);
    mirror_upper(n, x);
}

void lbq_sh_compose(int n, const double *w, const double *e, double *x, double *work)
{
    scaled_gram(n, w, e, x, work);
}

static int root_diag(int n, const double *w, double eps, int neg_policy, double *d, int *nneg)
{
    double wmax = -INFINITY;
    int neg = 0;
    for (int i = 0; i < n; i++) if (w[i] > wmax) wmax = w[i];
    if (!(wmax > 0) || !isfinite(wmax))
        return lbq_err(LBQ_ERR_DATA, "inverse root undefined: largest eigenvalue is %g (the matrix is not positive semidefinite or is zero)", wmax);
    for (int i = 0; i < n; i++) {
        double l = w[i];
        if (l < 0) { l = neg_policy == LBQ_SH_NEG_CLAMP ? 0.0 : -l; neg++; }
        d[i] = pow(l + eps * wmax, -0.25);
        if (!isfinite(d[i]))
            return lbq_err(LBQ_ERR_DATA, "inverse root undefined: eigenvalue %g with damping eps = %g gives no finite (.)^(-1/4); use --eps > 0", w[i], eps);
    }
    if (nneg) *nneg = neg;
    return LBQ_OK;
}

int lbq_sh_root_from_eig(int n, const double *w, const double *e, double eps, int neg_policy, double *f, double *work, int *nneg)
{
    double *d = dalloc((size_t)n);
    if (!d) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    int rc = root_diag(n, w, eps, neg_policy, d, nneg);
    if (rc == LBQ_OK) scaled_gram(n, d, e, f, work);
    free(d);
    return rc;
}

int lbq_sh_invroot(int n, double *x, double eps, int neg_policy, double *f, double *w, double *work, int *nneg)
{
    int rc = eigh(n, x, w);
    if (rc) return rc;
    return lbq_sh_root_from_eig(n, w, x, eps, neg_policy, f, work, nneg);
}

/* ||P - I||_F from the upper triangle of P */
static double orth_from_upper(int n, const double *p)
{
    double s = 0;
    for (int i = 0; i < n; i++) {
        const double *pr = p + (size_t)i * n;
        double d = pr[i] - 1.0;
        s += d * d;
        double o = 0;
        for (int j = i + 1; j < n; j++) o += pr[j] * pr[j];
        s += 2.0 * o;
    }
    return sqrt(s);
}

double lbq_sh_orth_err(int n, const double *v, double *work)
{
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, n, n, 1.0, v, n, 0.0, work, n);
    return orth_from_upper(n, work);
}

double lbq_sh_bjorck_step(int n, double *v, double *work)
{
    double *p = work, *t = work + nn(n);
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, n, n, 1.0, v, n, 0.0, p, n);   /* P = V V^T */
    double orth = orth_from_upper(n, p);
    memcpy(t, v, sizeof(double) * nn(n));
    /* V <- 1.5 V - 0.5 P V  (P symmetric, upper triangle) */
    cblas_dsymm(CblasRowMajor, CblasLeft, CblasUpper, n, n, -0.5, p, n, t, n, 1.5, v, n);
    return orth;
}

int lbq_sh_qdq_rows(const struct lbq_qplan *p, int n, const double *x, int keep_diag, double *y)
{
    if (p->norm->global_stats)
        return lbq_err(LBQ_ERR_ARG, "quantizer '%s': row-wise quantization needs a normalization without tensor statistics (for example block64)", p->spec.text);
    float *xf = malloc(sizeof(float) * 3 * (size_t)n);
    if (!xf) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    float *xh = xf + n, *sc = xh + n;
    int rc = LBQ_OK;
    for (int i = 0; i < n && rc == LBQ_OK; i++) {
        const double *xr = x + (size_t)i * n;
        double *yr = y + (size_t)i * n;
        for (int j = 0; j < n; j++) {
            if (!(fabs(xr[j]) <= FLT_MAX)) {
                rc = lbq_err(LBQ_ERR_DATA, "value %g at (%d, %d) is not a finite float32; cannot quantize", xr[j], i, j);
                break;
            }
            xf[j] = (float)xr[j];
        }
        if (rc) break;
        if (keep_diag) xf[i] = 0.0f;
        rc = lbq_qdq(p, NULL, 0, n, xf, xh, NULL, sc, NULL, NULL);
        for (int j = 0; j < n && rc == LBQ_OK; j++) yr[j] = (double)xh[j];
        if (keep_diag) yr[i] = xr[i];
    }
    free(xf);
    return rc;
}

/* 2 atan2(|a/|a| - b/|b||, |a/|a| + b/|b||): the angle, accurate also near 0 */
static double angle_deg(double sd, double ss)
{
    return 2.0 * atan2(sqrt(sd), sqrt(ss)) * (180.0 / 3.14159265358979323846);
}

void lbq_sh_compare(int n, const double *f, const double *x, struct lbq_sh_err *out)
{
    double ff = 0, xx = 0, dd = 0, ffo = 0, xxo = 0, ddo = 0;
    for (int i = 0; i < n; i++) {
        const double *fr = f + (size_t)i * n, *xr = x + (size_t)i * n;
        for (int j = 0; j < n; j++) {
            double a = fr[j], b = xr[j], d = a - b;
            if (i == j) { ff += a * a; xx += b * b; dd += d * d; continue; }
            ffo += a * a; xxo += b * b; ddo += d * d;
        }
    }
    double nf = sqrt(ff + ffo), nx = sqrt(xx + xxo), nfo = sqrt(ffo), nxo = sqrt(xxo);
    double sd = 0, ss = 0, sdo = 0, sso = 0;
    if (nf > 0 && nx > 0) {
        for (int i = 0; i < n; i++) {
            const double *fr = f + (size_t)i * n, *xr = x + (size_t)i * n;
            for (int j = 0; j < n; j++) {
                double a = fr[j] / nf, b = xr[j] / nx;
                sd += (a - b) * (a - b); ss += (a + b) * (a + b);
                if (i != j && nfo > 0 && nxo > 0) {
                    double ao = fr[j] / nfo, bo = xr[j] / nxo;
                    sdo += (ao - bo) * (ao - bo); sso += (ao + bo) * (ao + bo);
                }
            }
        }
    }
    out->nre = nf > 0 ? sqrt(dd + ddo) / nf : NAN;
    out->ae = (nf > 0 && nx > 0) ? angle_deg(sd, ss) : NAN;
    out->nre_off = nfo > 0 ? sqrt(ddo) / nfo : NAN;
    out->ae_off = (nfo > 0 && nxo > 0) ? angle_deg(sdo, sso) : NAN;
}

void lbq_sh_lemma1(int n, const double *e, const double *v, double *alpha, double *min_dot)
{
    double amax = 0, dmin = INFINITY;
    for (int i = 0; i < n; i++) {
        const double *er = e + (size_t)i * n, *vr = v + (size_t)i * n;
        double s = 0, dot = 0;
        for (int j = 0; j < n; j++) { double d = vr[j] - er[j]; s += d * d; dot += er[j] * vr[j]; }
        if (sqrt(s) > amax) amax = sqrt(s);
        if (dot < dmin) dmin = dot;
    }
    *alpha = amax;
    *min_dot = dmin;
}

/* ---- inputs ----------------------------------------------------------------------------------- */
static int mat_alloc(struct lbq_sh_mat *m, int n, int with_a)
{
    memset(m, 0, sizeof *m);
    m->n = n;
    m->w = dalloc((size_t)n);
    m->e = dalloc(nn(n));
    if (with_a) m->a = dalloc(nn(n));
    if (!m->w || !m->e || (with_a && !m->a)) {
        lbq_sh_mat_free(m);
        return lbq_err(LBQ_ERR_NOMEM, "out of memory for an order-%d matrix (%.0f MB each)", n, 8.0 * (double)nn(n) / 1e6);
    }
    return LBQ_OK;
}

static int check_order(long long n, const char *what)
{
    if (n < 2) return lbq_err(LBQ_ERR_ARG, "%s: order %lld is too small (need a matrix of order >= 2)", what, n);
    if (n > LBQ_SH_MAX_ORDER) return lbq_err(LBQ_ERR_UNSUPPORTED, "%s: order %lld exceeds the limit of %d", what, n, LBQ_SH_MAX_ORDER);
    return LBQ_OK;
}

/* uniform in (0, 1) with 48 random bits from two Philox draws */
static double sh_unif(uint64_t seed, uint64_t idx)
{
    double a = lbq_philox_uniform(seed, 0x53480001u, 2 * idx), b = lbq_philox_uniform(seed, 0x53480001u, 2 * idx + 1);
    return a + b * (1.0 / 16777216.0) + 0x1p-49;
}

int lbq_sh_synthetic_a2(int n, double cond, double lmax, int n_small, uint64_t seed, struct lbq_sh_mat *out)
{
    memset(out, 0, sizeof *out);
    int rc = check_order(n, "synthetic A2");
    if (rc) return rc;
    if (!(cond >= 1) || !isfinite(cond)) return lbq_err(LBQ_ERR_ARG, "synthetic A2: condition number %g must be >= 1", cond);
    if (!(lmax > 0) || !isfinite(lmax)) return lbq_err(LBQ_ERR_ARG, "synthetic A2: lambda_max %g must be > 0", lmax);
    if (n_small < 0 || n_small > n) return lbq_err(LBQ_ERR_ARG, "synthetic A2: %d small eigenvalues out of range 0..%d", n_small, n);
    if ((rc = mat_alloc(out, n, 1))) return rc;
    double *g = out->e, *tau = dalloc((size_t)n);
    if (!tau) { lbq_sh_mat_free(out); return lbq_err(LBQ_ERR_NOMEM, "out of memory"); }
    /* Gaussian matrix, Box-Muller on Philox uniforms */
    size_t total = nn(n);
    for (size_t k = 0; k < total; k += 2) {
        double u1 = sh_unif(seed, k), u2 = sh_unif(seed, k + 1);
        double r = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
        g[k] = r * cos(th);
        if (k + 1 < total) g[k + 1] = r * sin(th);
    }
    lapack_int info = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, n, n, g, n, tau);
    double *sgn = out->w;   /* borrow: signs of diag(R) */
    if (info == 0) {
        for (int j = 0; j < n; j++) sgn[j] = g[(size_t)j * n + j] < 0 ? -1.0 : 1.0;
        info = LAPACKE_dorgqr(LAPACK_COL_MAJOR, n, n, n, g, n, tau);
    }
    free(tau);
    if (info != 0) {
        lbq_sh_mat_free(out);
        if (info == LAPACK_WORK_MEMORY_ERROR) return lbq_err(LBQ_ERR_NOMEM, "out of memory in the QR factorization");
        return lbq_err(LBQ_ERR_DATA, "synthetic A2: QR factorization failed (LAPACK info %d)", (int)info);
    }
    /* column j of the column-major Q is row j of e; Q diag(sign(r_jj)) is Haar distributed */
    for (int j = 0; j < n; j++) {
        double *er = g + (size_t)j * n;
        for (int i = 0; i < n; i++) er[i] *= sgn[j];
    }
    for (int i = 0; i < n; i++) out->w[i] = (i < n_small) ? lmax / cond : lmax;
    double *work = dalloc(nn(n));
    if (!work) { lbq_sh_mat_free(out); return lbq_err(LBQ_ERR_NOMEM, "out of memory"); }
    lbq_sh_compose(n, out->w, out->e, out->a, work);
    free(work);
    return LBQ_OK;
}

int lbq_sh_from_dense(int n, double *a, const char *what, struct lbq_sh_mat *out)
{
    memset(out, 0, sizeof *out);
    int rc = check_order(n, what);
    if (rc) { free(a); return rc; }
    double amax = 0, asym = 0;
    int ai = 0, aj = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double v = a[(size_t)i * n + j];
            if (!isfinite(v)) {
                free(a);
                return lbq_err(LBQ_ERR_DATA, "%s: element (%d, %d) is %s; the matrix must be finite", what, i, j, isnan(v) ? "NaN" : "infinite");
            }
            if (fabs(v) > amax) amax = fabs(v);
            if (j > i) {
                double d = fabs(v - a[(size_t)j * n + i]);
                if (d > asym) { asym = d; ai = i; aj = j; }
            }
        }
    if (amax == 0) { free(a); return lbq_err(LBQ_ERR_DATA, "%s: the matrix is all zero", what); }
    if (asym > LBQ_SH_SYM_TOL * amax) {
        free(a);
        return lbq_err(LBQ_ERR_DATA, "%s: not symmetric: |a(%d,%d) - a(%d,%d)| = %.3g is %.2g of max|a| (tolerance %g)",
                       what, ai, aj, aj, ai, asym, asym / amax, LBQ_SH_SYM_TOL);
    }
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double s = 0.5 * (a[(size_t)i * n + j] + a[(size_t)j * n + i]);
            a[(size_t)i * n + j] = a[(size_t)j * n + i] = s;
        }
    if ((rc = mat_alloc(out, n, 0))) { free(a); return rc; }
    out->a = a;
    memcpy(out->e, a, sizeof(double) * nn(n));
    if ((rc = eigh(n, out->e, out->w))) { lbq_sh_mat_free(out); return rc; }
    double wmax = out->w[n - 1], wmin = out->w[0];
    if (!(wmax > 0)) {
        lbq_sh_mat_free(out);
        return lbq_err(LBQ_ERR_DATA, "%s: not positive semidefinite: largest eigenvalue %.4g", what, wmax);
    }
    if (wmin < -LBQ_SH_PSD_TOL * wmax) {
        lbq_sh_mat_free(out);
        return lbq_err(LBQ_ERR_DATA, "%s: not positive semidefinite: smallest eigenvalue %.4g = %.3g x the largest (tolerance -%g)",
                       what, wmin, wmin / wmax, LBQ_SH_PSD_TOL);
    }
    for (int i = 0; i < n; i++) if (out->w[i] < 0) { out->w[i] = 0; out->nclamped++; }
    return LBQ_OK;
}

int lbq_sh_read_h5(const char *path, const char *dataset, struct lbq_sh_mat *out)
{
    memset(out, 0, sizeof *out);
    struct lbq_h5_matrix hm;            /* h5io.c: the moment reader's checks */
    int rc = lbq_h5_matrix_open(path, dataset, &hm);
    if (rc) return rc;
    double *a = NULL;
    if ((rc = check_order((long long)hm.order, hm.what)) || (rc = lbq_h5_matrix_check(&hm))) goto done;
    int n = (int)hm.order;
    a = dalloc(nn(n));
    if (!a) { rc = lbq_err(LBQ_ERR_NOMEM, "%s: out of memory for order %d", hm.what, n); goto done; }
    if ((rc = lbq_h5_matrix_read(&hm, a))) goto done;
    lbq_h5_matrix_close(&hm);
    rc = lbq_sh_from_dense(n, a, hm.what, out);
    a = NULL;
done:
    free(a);
    lbq_h5_matrix_close(&hm);
    return rc;
}

int lbq_sh_from_grads(struct lbq_file *f, int p, int side, double ridge, struct lbq_sh_mat *out)
{
    memset(out, 0, sizeof *out);
    const struct lbq_param_info *in = lbq_file_param(f, p);
    if (!in) return lbq_err(LBQ_ERR_ARG, "no parameter %d", p);
    if (!in->has[LBQ_DS_GRADS] || in->grads_T < 1)
        return lbq_err(LBQ_ERR_ARG, "%s: parameter '%s' has no gradient stream ('grads')", lbq_file_path(f), in->name);
    if (in->shape.rank < 1 || in->shape.numel < 1)
        return lbq_err(LBQ_ERR_ARG, "%s: parameter '%s' is a scalar; Shampoo needs a matrix", lbq_file_path(f), in->name);
    if (!(ridge >= 0) || !isfinite(ridge)) return lbq_err(LBQ_ERR_ARG, "ridge %g must be >= 0", ridge);
    int64_t rows = in->shape.dim[0], cols = in->shape.numel / rows;
    int64_t n64 = side ? cols : rows, k64 = side ? rows : cols;
    char what[LBQ_NAME_MAX + 64];
    snprintf(what, sizeof what, "%s %s preconditioner of '%s'", lbq_file_path(f), side ? "right (sum G^T G)" : "left (sum G G^T)", in->name);
    int rc = check_order((long long)n64, what);
    if (rc) return rc;
    int n = (int)n64;
    double *a = dalloc(nn(n)), *g = dalloc((size_t)in->shape.numel);
    float *gf = malloc(sizeof(float) * (size_t)in->shape.numel);
    if (!a || !g || !gf) { free(a); free(g); free(gf); return lbq_err(LBQ_ERR_NOMEM, "%s: out of memory", what); }
    memset(a, 0, sizeof(double) * nn(n));
    for (int64_t t = 0; t < in->grads_T; t++) {
        if ((rc = lbq_file_read(f, p, LBQ_DS_GRADS, t, 0, in->shape.numel, gf))) break;
        for (int64_t i = 0; i < in->shape.numel; i++) {
            if (!isfinite(gf[i])) {
                rc = lbq_err(LBQ_ERR_DATA, "%s: grads[%lld] element %lld is %s", what, (long long)t, (long long)i, isnan(gf[i]) ? "NaN" : "infinite");
                break;
            }
            g[i] = gf[i];
        }
        if (rc) break;
        /* G is rows x cols row-major: L += G G^T (n = rows, k = cols); R += G^T G (n = cols, k = rows) */
        cblas_dsyrk(CblasRowMajor, CblasUpper, side ? CblasTrans : CblasNoTrans, n, (int)k64, 1.0, g, (int)cols, 1.0, a, n);
    }
    free(g); free(gf);
    if (rc) { free(a); return rc; }
    mirror_upper(n, a);
    for (int i = 0; i < n; i++) a[(size_t)i * n + i] += ridge;
    return lbq_sh_from_dense(n, a, what, out);
}

/* ---- the analysis ----------------------------------------------------------------------------- */
void lbq_sh_opts_init(struct lbq_sh_opts *o)
{
    o->eps = 1e-6;
    o->bjorck = 1;
    o->bjorck_max = 4;
    o->schemes = 0;
    o->neg_policy = LBQ_SH_NEG_ABS;
    o->symmetrize = 1;
}

int lbq_sh_reference(const struct lbq_sh_mat *m, double eps, double *f)
{
    double *work = dalloc(nn(m->n));
    if (!work) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    int rc = lbq_sh_root_from_eig(m->n, m->w, m->e, eps, LBQ_SH_NEG_ABS, f, work, NULL);
    free(work);
    return rc;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int lbq_sh_run(const struct lbq_sh_mat *m, const double *fref, const struct lbq_qplan *plan,
               const struct lbq_sh_opts *o, struct lbq_sh_result *r)
{
    double t0 = now_s();
    int n = m->n, rc = LBQ_OK;
    memset(r, 0, sizeof *r);
    snprintf(r->spec, sizeof r->spec, "%s", plan->spec.text);
    snprintf(r->map, sizeof r->map, "%s", plan->spec.map->name);
    r->bits = plan->bits;
    r->block = plan->block;
    r->alpha = r->min_dot = NAN;
    if (o->bjorck < 0 || o->bjorck > LBQ_SH_MAX_BJORCK || o->bjorck_max < 0 || o->bjorck_max > LBQ_SH_MAX_BJORCK)
        return lbq_err(LBQ_ERR_ARG, "Bjorck steps must be in 0..%d", LBQ_SH_MAX_BJORCK);
    if (!plan->is_signed) return lbq_err(LBQ_ERR_ARG, "quantizer '%s': Shampoo's matrices need a signed plan", plan->spec.text);
    unsigned want = o->schemes ? o->schemes : (1u << LBQ_SH_NSCHEMES) - 1;
#define WANT(s) ((want >> (s)) & 1u)
    size_t N = nn(n);
    double *x = dalloc(N), *fx = dalloc(N), *y = dalloc(N), *v = NULL, *work = dalloc(2 * N), *w = dalloc((size_t)n);
    if (!x || !fx || !y || !work || !w) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory (order %d)", n); goto cleanup; }

    /* B: the inverse root itself, off-diagonal quantized */
    if (WANT(LBQ_SH_B)) {
        LBQ_TRY(lbq_sh_qdq_rows(plan, n, fref, 1, y));
        lbq_sh_compare(n, fref, y, &r->err[LBQ_SH_B]);
        r->have[LBQ_SH_B] = 1;
    }
    /* A and (A,B): g1 = quantize A with the diagonal in fp32 */
    if (WANT(LBQ_SH_A) || WANT(LBQ_SH_AB)) {
        int nneg = 0;
        LBQ_TRY(lbq_sh_qdq_rows(plan, n, m->a, 1, x));
        if (o->symmetrize) symmetrize(n, x);
        LBQ_TRY(lbq_sh_invroot(n, x, o->eps, o->neg_policy, fx, w, work, &nneg));
        if (WANT(LBQ_SH_A)) { lbq_sh_compare(n, fref, fx, &r->err[LBQ_SH_A]); r->have[LBQ_SH_A] = 1; r->nneg[LBQ_SH_A] = nneg; }
        if (WANT(LBQ_SH_AB)) {
            LBQ_TRY(lbq_sh_qdq_rows(plan, n, fx, 1, y));
            lbq_sh_compare(n, fref, y, &r->err[LBQ_SH_AB]);
            r->have[LBQ_SH_AB] = 1; r->nneg[LBQ_SH_AB] = nneg;
        }
    }
    /* U, U+OR, (U,B), (U,B)+OR and the Bjorck curve */
    if (WANT(LBQ_SH_U) || WANT(LBQ_SH_U_OR) || WANT(LBQ_SH_UB) || WANT(LBQ_SH_UB_OR) || o->bjorck_max > 0) {
        int tmax = o->bjorck_max > o->bjorck ? o->bjorck_max : o->bjorck;
        int curve = o->bjorck_max > 0;
        if (!(v = dalloc(N))) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory (order %d)", n); goto cleanup; }
        LBQ_TRY(lbq_sh_qdq_rows(plan, n, m->e, 0, v));
        lbq_sh_lemma1(n, m->e, v, &r->alpha, &r->min_dot);
        double *d = dalloc((size_t)n);
        if (!d) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
        rc = root_diag(n, m->w, o->eps, o->neg_policy, d, NULL);
        for (int t = 0; t <= tmax && rc == LBQ_OK; t++) {
            int at0 = (t == 0), atb = (t == o->bjorck);
            int need = curve || (at0 && (WANT(LBQ_SH_U) || WANT(LBQ_SH_UB))) || (atb && (WANT(LBQ_SH_U_OR) || WANT(LBQ_SH_UB_OR)));
            struct lbq_sh_bjpoint *bp = &r->curve[t];
            bp->t = t;
            if (need) {
                int nneg = 0;
                /* f(V diag(w) V^T) by eigendecomposition */
                lbq_sh_compose(n, m->w, v, x, work);
                if ((rc = lbq_sh_invroot(n, x, o->eps, o->neg_policy, fx, w, work, &nneg))) break;
                lbq_sh_compare(n, fref, fx, &bp->err);
                /* PIRU's shortcut V diag(f(w)) V^T */
                scaled_gram(n, d, v, y, work);
                lbq_sh_compare(n, fref, y, &bp->direct);
                if (at0 && WANT(LBQ_SH_U)) { r->err[LBQ_SH_U] = bp->err; r->have[LBQ_SH_U] = 1; r->nneg[LBQ_SH_U] = nneg; }
                if (atb && WANT(LBQ_SH_U_OR)) { r->err[LBQ_SH_U_OR] = bp->err; r->have[LBQ_SH_U_OR] = 1; r->nneg[LBQ_SH_U_OR] = nneg; }
                if ((at0 && WANT(LBQ_SH_UB)) || (atb && WANT(LBQ_SH_UB_OR))) {
                    if ((rc = lbq_sh_qdq_rows(plan, n, fx, 1, y))) break;
                    struct lbq_sh_err e;
                    lbq_sh_compare(n, fref, y, &e);
                    if (at0 && WANT(LBQ_SH_UB)) { r->err[LBQ_SH_UB] = e; r->have[LBQ_SH_UB] = 1; r->nneg[LBQ_SH_UB] = nneg; }
                    if (atb && WANT(LBQ_SH_UB_OR)) { r->err[LBQ_SH_UB_OR] = e; r->have[LBQ_SH_UB_OR] = 1; r->nneg[LBQ_SH_UB_OR] = nneg; }
                }
            } else {
                bp->err.nre = bp->err.ae = bp->err.nre_off = bp->err.ae_off = NAN;
                bp->direct = bp->err;
            }
            if (t < tmax) bp->orth = lbq_sh_bjorck_step(n, v, work);
            else bp->orth = lbq_sh_orth_err(n, v, work);
        }
        free(d);
        if (rc) goto cleanup;
        r->npoints = curve ? tmax + 1 : 0;
    }
#undef WANT
    r->seconds = now_s() - t0;
cleanup:
    free(x); free(fx); free(y); free(v); free(work); free(w);
    return rc;
}

/* ---- published numbers -------------------------------------------------------------------------- */
struct paper_row {
    const char *map; int bits; int block; int matrix; int offdiag;
    double v[LBQ_SH_NSCHEMES][2];   /* NRE, AE; 0 = not published */
};

/* order of v: A, U, U+OR, B, (A,B), (U,B), (U,B)+OR (OR marks assigned as in the research note) */
static const struct paper_row g_paper[] = {
    /* Table 5 (= Table 1 at 4 bits): f = A^(-1/4), 4-bit, block 64 */
    { "dtree", 4, 64, 1, 0, { {0.6241, 17.319}, {0.0709, 4.0426}, {0.0455, 2.5615}, {0.0398, 2.2802}, {0.6243, 17.364}, {0.0811, 4.6296}, {0.0604, 3.4230} } },
    { "dtree", 4, 64, 2, 0, { {0.4615, 17.189}, {0.1224, 7.0144}, {0.0878, 4.9960}, {0.0853, 4.8914}, {0.4649, 17.650}, {0.1485, 8.5168}, {0.1224, 6.9817} } },
    { "linsq", 4, 64, 1, 0, { {0.6243, 17.293}, {0.0543, 3.1066}, {0.0343, 1.9456}, {0.0315, 1.8050}, {0.6243, 17.301}, {0.0626, 3.5833}, {0.0466, 2.6494} } },
    { "linsq", 4, 64, 2, 0, { {0.4465, 15.338}, {0.0942, 5.3998}, {0.0669, 3.8166}, {0.0661, 3.7887}, {0.4483, 15.654}, {0.1150, 6.5901}, {0.0941, 5.3716} } },
    /* Table 6: off-diagonal part, 4-bit, block 64 */
    { "dtree", 4, 64, 1, 1, { {0.9549, 59.360}, {0.2328, 13.287}, {0.1480, 8.4365}, {0.1314, 7.5513}, {0.9561, 59.825}, {0.2666, 15.281}, {0.1977, 11.322} } },
    { "dtree", 4, 64, 2, 1, { {0.6247, 25.913}, {0.1994, 11.444}, {0.1427, 8.1415}, {0.1391, 7.9813}, {0.6314, 26.948}, {0.2420, 13.911}, {0.1992, 11.393} } },
    { "linsq", 4, 64, 1, 1, { {0.9547, 58.336}, {0.1786, 10.213}, {0.1122, 6.4096}, {0.1041, 5.9554}, {0.9548, 58.601}, {0.2063, 11.778}, {0.1530, 8.7337} } },
    { "linsq", 4, 64, 2, 1, { {0.6010, 20.780}, {0.1534, 8.8027}, {0.1088, 6.2176}, {0.1078, 6.1755}, {0.6047, 21.666}, {0.1873, 10.745}, {0.1532, 8.7534} } },
    /* Table 1: 8-bit A, block 64 */
    { "dtree", 8, 64, 1, 0, { {0.2192, 8.3014} } },
    { "dtree", 8, 64, 2, 0, { {0.1896, 10.877} } },
    { "linsq", 8, 64, 1, 0, { {0.2164, 7.9751} } },
    { "linsq", 8, 64, 2, 0, { {0.1310, 7.4717} } },
    /* Table 7: 8-bit, block 256, A1 only */
    { "dtree", 8, 256, 1, 0, { {0.2192, 8.3014}, {0.0060, 0.3421}, {0.0037, 0.2140}, {0.0029, 0.1655}, {0.2193, 8.3051}, {0.0067, 0.3810}, {0.0047, 0.2712} } },
    { "dtree", 8, 256, 1, 1, { {0.5001, 23.644}, {0.0197, 1.1273}, {0.0123, 0.7022}, {0.0097, 0.5553}, {0.5003, 23.649}, {0.0219, 1.2577}, {0.0156, 0.8955} } },
    { "linsq", 8, 256, 1, 0, { {0.2164, 7.9751}, {0.0037, 0.2121}, {0.0023, 0.1312}, {0.0021, 0.1203}, {0.2164, 7.9755}, {0.0043, 0.2439}, {0.0031, 0.1791} } },
    { "linsq", 8, 256, 1, 1, { {0.4875, 21.447}, {0.0122, 0.6994}, {0.0076, 0.4343}, {0.0070, 0.4035}, {0.4875, 21.448}, {0.0141, 0.8079}, {0.0104, 0.5935} } },
};

int lbq_sh_paper(const char *map, int bits, int64_t block, int matrix, int scheme, int offdiag, double *nre, double *ae)
{
    *nre = *ae = NAN;
    if (!map || scheme < 0 || scheme >= LBQ_SH_NSCHEMES) return 0;
    for (size_t i = 0; i < sizeof g_paper / sizeof g_paper[0]; i++) {
        const struct paper_row *p = &g_paper[i];
        if (strcmp(p->map, map) != 0 || p->bits != bits || p->block != block || p->matrix != matrix || p->offdiag != offdiag) continue;
        if (p->v[scheme][0] <= 0) return 0;
        *nre = p->v[scheme][0];
        *ae = p->v[scheme][1];
        return 1;
    }
    return 0;
}
