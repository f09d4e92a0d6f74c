/*
 * lbq-shampoo.h - second-order optimizer states: 4-bit Shampoo's quantization-error analysis
 * (Wang, Zhou, Li, Huang, NeurIPS 2024; docs/shampoo.md).
 *
 * A symmetric positive (semi)definite preconditioner A = U diag(w) U^T of order n is stored in
 * three ways and the error each causes in f(A) = (A + eps * lambda_max(A) * I)^(-1/4) is measured:
 *   A         quantize A itself, its diagonal kept in fp32 (the paper's naive baseline);
 *   U         quantize the eigenvector matrix U (w kept exactly), then f(V diag(w) V^T);
 *   U+OR      the same after t Bjorck steps V <- 1.5 V - 0.5 V V^T V;
 *   B         quantize the inverse root B = f(A), off-diagonal only (diagonal in fp32);
 *   (A,B), (U,B), (U,B)+OR   g2 o f o g1 (paper App. D): f of the first, then B quantized.
 * Errors: NRE = ||f(A) - X||_F / ||f(A)||_F and AE = angle between f(A) and X (degrees), for the
 * whole matrix and for its off-diagonal part (paper Table 6).
 *
 * Conventions: matrices are double, row-major, n*n.  An eigenvector matrix is stored as E = U^T,
 * so row i of E is the unit eigenvector of w[i] -- the paper quantizes "blocks within an
 * eigenvector", which is then blocks within a row.  Quantization goes through lbq_qdq (float32)
 * one row at a time with a block plan, so blocks never span rows when n % block != 0.
 * Eigendecompositions: LAPACKE_dsyevd; products: CBLAS.  Every function returns an lbq status
 * and records a one-line detail (lbq_errmsg); nothing prints or exits.
 */
#ifndef LBQ_SHAMPOO_H
#define LBQ_SHAMPOO_H

#include "lbq.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LBQ_SH_MAX_ORDER  8192
#define LBQ_SH_MAX_BJORCK 16

/* eigenvalues below -LBQ_SH_PSD_TOL * lambda_max make an input matrix "not PSD"; smaller
 * negative ones are rounding noise of a PSD matrix and are clamped to 0 */
#define LBQ_SH_PSD_TOL    1e-4
/* relative asymmetry max|a_ij - a_ji| / max|a| accepted (and symmetrized) in an input matrix */
#define LBQ_SH_SYM_TOL    1e-5

enum lbq_sh_scheme {
    LBQ_SH_A = 0, LBQ_SH_U, LBQ_SH_U_OR, LBQ_SH_B, LBQ_SH_AB, LBQ_SH_UB, LBQ_SH_UB_OR, LBQ_SH_NSCHEMES
};
const char *lbq_sh_scheme_name(int scheme);         /* "A", "U", "U+OR", "B", "(A,B)", ... */
const char *lbq_sh_scheme_key(int scheme);          /* JSON keys: "A", "U", "U_OR", "B", "AB", "UB", "UB_OR" */

/* errors of X against a reference F */
struct lbq_sh_err {
    double nre, ae;             /* whole matrix: NRE, AE in degrees */
    double nre_off, ae_off;     /* off-diagonal parts only (paper Table 6) */
};

/* A symmetric PSD matrix with its eigendecomposition A = E^T diag(w) E. */
struct lbq_sh_mat {
    int     n;
    double *a;                  /* n*n, symmetric */
    double *w;                  /* n eigenvalues (ascending for LAPACK results), all >= 0 */
    double *e;                  /* n*n, row i = unit eigenvector of w[i] */
    int     nclamped;           /* tiny negative eigenvalues clamped to 0 (rounding noise) */
};
void lbq_sh_mat_free(struct lbq_sh_mat *m);

/* ---- inputs ----------------------------------------------------------------------------------- */
/* The paper's synthetic A2: E = a Haar-random orthogonal matrix (QR of a Gaussian matrix drawn
 * with Philox from `seed`, signs fixed by diag(R)), w = lmax / cond for the first n_small
 * eigenvectors and lmax for the rest.  2 <= n <= LBQ_SH_MAX_ORDER, cond >= 1, 0 <= n_small <= n. */
int lbq_sh_synthetic_a2(int n, double cond, double lmax, int n_small, uint64_t seed, struct lbq_sh_mat *out);
/* Take ownership of a (n*n, malloc'ed): check finite and symmetric (LBQ_SH_SYM_TOL), symmetrize,
 * eigendecompose, check PSD (LBQ_SH_PSD_TOL) and lambda_max > 0.  `what` names the source in
 * errors.  On failure a is freed. */
int lbq_sh_from_dense(int n, double *a, const char *what, struct lbq_sh_mat *out);
/* A square symmetric PSD matrix from an HDF5 dataset (any float type; rank 2). */
int lbq_sh_read_h5(const char *path, const char *dataset, struct lbq_sh_mat *out);
/* Shampoo's preconditioner from a gradient stream: L = ridge I + sum_t G_t G_t^T (side 0) or
 * R = ridge I + sum_t G_t^T G_t (side 1), G_t = grads[t] reshaped to (dim0, numel/dim0). */
int lbq_sh_from_grads(struct lbq_file *f, int param, int side, double ridge, struct lbq_sh_mat *out);

/* What f does with negative eigenvalues of a quantized g(A) (a quantized PSD matrix can be
 * indefinite): ABS uses |lambda|, i.e. A^s = U Sigma^s U^T from the SVD, as the paper defines A^s;
 * CLAMP projects onto the PSD cone first (lambda -> 0, so f sees only the damping). */
enum lbq_sh_neg { LBQ_SH_NEG_ABS = 0, LBQ_SH_NEG_CLAMP = 1 };

/* ---- building blocks -------------------------------------------------------------------------- */
/* F = E^T diag((|w_i| or max(w_i, 0)) + eps * max_j w_j)^(-1/4)) E (neg_policy).  work: n*n.
 * nneg (nullable): number of negative w_i.  LBQ_ERR_DATA if max w <= 0. */
int lbq_sh_root_from_eig(int n, const double *w, const double *e, double eps, int neg_policy, double *f, double *work, int *nneg);
/* F = f(X) by eigendecomposition; x is destroyed (it receives E), w gets the eigenvalues. */
int lbq_sh_invroot(int n, double *x, double eps, int neg_policy, double *f, double *w, double *work, int *nneg);
/* X = E^T diag(w) E (w >= 0).  work: n*n. */
void lbq_sh_compose(int n, const double *w, const double *e, double *x, double *work);
/* One Bjorck step on the rows of v (v <- 1.5 v - 0.5 v v^T v); returns ||v v^T - I||_F of the
 * input.  work: 2*n*n. */
double lbq_sh_bjorck_step(int n, double *v, double *work);
/* ||v v^T - I||_F (= ||v^T v - I||_F).  work: n*n. */
double lbq_sh_orth_err(int n, const double *v, double *work);
/* y = D(Q(x)) row by row through lbq_qdq (float32), blocks within each row.  keep_diag: the
 * diagonal is kept exactly (quantized as 0, then restored), as the paper's QTensorDiagReal. */
int lbq_sh_qdq_rows(const struct lbq_qplan *p, int n, const double *x, int keep_diag, double *y);
/* NRE and AE of x against the reference f (whole and off-diagonal). */
void lbq_sh_compare(int n, const double *f, const double *x, struct lbq_sh_err *out);
/* Lemma 1 quantities of rows v against rows e: alpha = max_i ||v_i - e_i||_2 and
 * min_i <e_i, v_i>. */
void lbq_sh_lemma1(int n, const double *e, const double *v, double *alpha, double *min_dot);

/* ---- the analysis ----------------------------------------------------------------------------- */
struct lbq_sh_opts {
    double   eps;               /* damping of f (paper: 1e-6) */
    int      bjorck;            /* t of U+OR and (U,B)+OR (paper: 1) */
    int      bjorck_max;        /* Bjorck curve for t = 0..bjorck_max (clamped to >= bjorck) */
    unsigned schemes;           /* bit (1u << scheme) per scheme to compute; 0 = all */
    int      neg_policy;        /* enum lbq_sh_neg */
    int      symmetrize;        /* A scheme: f of (g(A) + g(A)^T)/2 (1) or of g(A)'s lower triangle (0) */
};
void lbq_sh_opts_init(struct lbq_sh_opts *o);   /* eps 1e-6, bjorck 1, bjorck_max 4, all, ABS, symmetrize */

struct lbq_sh_bjpoint {
    int    t;
    double orth;                /* ||V_t^T V_t - I||_F */
    struct lbq_sh_err err;      /* f(V_t diag(w) V_t^T) vs f(A) */
    struct lbq_sh_err direct;   /* V_t diag((w + eps w_max)^(-1/4)) V_t^T vs f(A) (PIRU's shortcut) */
};

struct lbq_sh_result {
    char     spec[128];         /* canonical quantizer spec, e.g. "block64-linsq:b4" */
    char     map[32];
    int      bits;
    int64_t  block;
    int      have[LBQ_SH_NSCHEMES];
    struct lbq_sh_err err[LBQ_SH_NSCHEMES];
    int      nneg[LBQ_SH_NSCHEMES];   /* negative eigenvalues of g1(A) (handled by neg_policy) */
    double   alpha, min_dot;    /* Lemma 1 quantities of the quantized U (t = 0) */
    int      npoints;           /* Bjorck curve t = 0..npoints-1 (0 if no U scheme ran) */
    struct lbq_sh_bjpoint curve[LBQ_SH_MAX_BJORCK + 1];
    double   seconds;
};

/* f(A) of the matrix (from its eigendecomposition). */
int lbq_sh_reference(const struct lbq_sh_mat *m, double eps, double *f);
/* All requested schemes for one quantizer plan (signed, block normalization).  fref = f(A). */
int lbq_sh_run(const struct lbq_sh_mat *m, const double *fref, const struct lbq_qplan *plan,
               const struct lbq_sh_opts *o, struct lbq_sh_result *r);

/* The paper's published numbers (Tables 1, 5, 6, 7), or 0 if it has none for this cell.
 * matrix: 1 = A1 (real), 2 = A2 (synthetic).  map "linsq" or "dtree". */
int lbq_sh_paper(const char *map, int bits, int64_t block, int matrix, int scheme, int offdiag,
                 double *nre, double *ae);

#ifdef __cplusplus
}
#endif
#endif
