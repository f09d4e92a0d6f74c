/* recommend.c - multiple-choice knapsack for `lbq recommend` (lbq-recommend.h, docs/metrics.md). */
#include "lbq-impl.h"
#include "lbq-recommend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct pitem { double cost, err; int idx; int64_t up, dn; };

static int cmp_pitem(const void *a, const void *b)
{
    const struct pitem *x = a, *y = b;
    if (x->cost != y->cost) return x->cost < y->cost ? -1 : 1;
    if (x->err != y->err) return x->err < y->err ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* (err, cost) lexicographic: 1 if (e1, c1) is strictly better than (e2, c2) */
static int better(double e1, double c1, double e2, double c2)
{
    if (e1 != e2) return e1 < e2;
    return c1 < c2;
}

/* One DP over the units: `which` 0 uses up (rounded-up units) and records back pointers, 1 uses dn.
 * Returns the optimal (err) at U. */
static double run_dp(int G, struct pitem *const *pl, const int *np, int64_t U, int which, int32_t *back, double *e0, double *c0, double *e1, double *c1)
{
    for (int64_t u = 0; u <= U; u++) { e0[u] = 0.0; c0[u] = 0.0; }
    for (int g = 0; g < G; g++) {
        const struct pitem *it = pl[g];
        int32_t *bk = back ? back + (int64_t)g * (U + 1) : NULL;
        for (int64_t u = 0; u <= U; u++) {
            double be = INFINITY, bc = INFINITY;
            int32_t bi = -1;
            for (int k = 0; k < np[g]; k++) {
                int64_t cu = which ? it[k].dn : it[k].up;
                if (cu > u) break;              /* sorted by cost: the units are monotone too */
                double e = e0[u - cu] + it[k].err, c = c0[u - cu] + it[k].cost;
                if (bi < 0 || better(e, c, be, bc)) { be = e; bc = c; bi = k; }
            }
            e1[u] = be; c1[u] = bc;
            if (bk) bk[u] = bi;
        }
        double *t = e0; e0 = e1; e1 = t;
        t = c0; c0 = c1; c1 = t;
    }
    /* after G swaps the result is in the array passed as e0 or e1, depending on parity */
    return e0[U];
}

int lbq_mck_solve(int ngroups, const int *nitems, const struct lbq_mck_item *items, double budget,
                  int64_t max_units, int *choice, struct lbq_mck_result *res)
{
    memset(res, 0, sizeof *res);
    if (ngroups <= 0 || !nitems || !items || !choice) return lbq_err(LBQ_ERR_ARG, "recommend: no tensors to choose for");
    if (!isfinite(budget) || budget < 0) return lbq_err(LBQ_ERR_ARG, "recommend: the budget must be a finite number >= 0");
    if (max_units <= 0) max_units = (int64_t)1 << 18;
    int64_t cap = ((int64_t)1 << 25) / ngroups - 1;
    if (cap < 1) return lbq_err(LBQ_ERR_ARG, "recommend: %d tensors are too many for the solver", ngroups);
    if (max_units > cap) max_units = cap;

    int rc = LBQ_OK;
    struct pitem **pl = calloc((size_t)ngroups, sizeof *pl);
    int *np = calloc((size_t)ngroups, sizeof *np);
    double *base = calloc((size_t)ngroups, sizeof *base);
    int32_t *back = NULL;
    double *w = NULL;
    if (!pl || !np || !base) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto done; }
    int64_t off = 0;
    double min_cost = 0.0;
    for (int g = 0; g < ngroups; g++) {
        if (nitems[g] <= 0) { rc = lbq_err(LBQ_ERR_ARG, "recommend: group %d has no candidates", g); goto done; }
        pl[g] = malloc(sizeof(struct pitem) * (size_t)nitems[g]);
        if (!pl[g]) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto done; }
        int n = 0;
        for (int k = 0; k < nitems[g]; k++) {
            const struct lbq_mck_item *it = &items[off + k];
            if (!isfinite(it->cost) || it->cost < 0) { rc = lbq_err(LBQ_ERR_ARG, "recommend: group %d item %d: cost must be finite and >= 0", g, k); goto done; }
            if (it->veto || !isfinite(it->err) || it->err < 0) continue;
            pl[g][n].cost = it->cost; pl[g][n].err = it->err; pl[g][n].idx = k;
            n++;
        }
        off += nitems[g];
        if (n == 0) { rc = lbq_err(LBQ_ERR_ARG, "recommend: group %d: every candidate is vetoed", g); goto done; }
        qsort(pl[g], (size_t)n, sizeof(struct pitem), cmp_pitem);
        /* keep the Pareto-efficient items: cheapest first, each strictly better in error than all cheaper ones */
        int m = 0;
        for (int k = 0; k < n; k++)
            if (m == 0 || pl[g][k].err < pl[g][m - 1].err) pl[g][m++] = pl[g][k];
        np[g] = m;
        base[g] = pl[g][0].cost;
        min_cost += base[g];
    }
    res->min_cost = min_cost;
    if (budget < min_cost * (1.0 - 1e-12)) {
        rc = lbq_err(LBQ_ERR_ARG, "recommend: the budget %.17g bits is below the minimum achievable %.17g bits", budget, min_cost);
        goto done;
    }
    double R = budget - min_cost;
    if (R < 0) R = 0;
    int integral = floor(R) <= (double)max_units;
    for (int g = 0; g < ngroups && integral; g++)
        for (int k = 0; k < np[g]; k++) {
            double c = pl[g][k].cost - base[g];
            if (c != floor(c) || c > 9e15) { integral = 0; break; }
        }
    double q;
    int64_t U;
    if (integral) { q = 1.0; U = (int64_t)floor(R); }
    else if (R > 0) { q = R / (double)max_units; U = max_units; }
    else { q = 1.0; U = 0; }
    res->unit = q; res->units = U;
    for (int g = 0; g < ngroups; g++) {
        int m = 0;
        for (int k = 0; k < np[g]; k++) {
            double c = pl[g][k].cost - base[g];
            struct pitem it = pl[g][k];
            if (integral) { it.up = it.dn = (int64_t)c; }
            else if (U == 0) { it.up = it.dn = c > 0 ? 1 : 0; }
            else {
                double x = c / q;
                it.up = x > (double)U ? U + 1 : (int64_t)ceil(x);
                it.dn = x > (double)U ? U + 1 : (int64_t)floor(x);
            }
            if (it.dn > U) continue;            /* does not fit even alone */
            pl[g][m++] = it;
        }
        np[g] = m;                              /* the cheapest item (dn = up = 0) always stays */
    }
    back = malloc(sizeof(int32_t) * (size_t)ngroups * (size_t)(U + 1));
    w = malloc(sizeof(double) * 4 * (size_t)(U + 1));
    if (!back || !w) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory (solver: %d tensors x %lld units)", ngroups, (long long)(U + 1)); goto done; }
    double *e0 = w, *c0 = w + (U + 1), *e1 = w + 2 * (U + 1), *c1 = w + 3 * (U + 1);
    run_dp(ngroups, pl, np, U, 0, back, e0, c0, e1, c1);
    int64_t u = U;
    double cost = 0.0, err = 0.0;
    for (int g = ngroups - 1; g >= 0; g--) {
        int32_t k = back[(int64_t)g * (U + 1) + u];
        if (k < 0) { rc = lbq_err(LBQ_ERR_ARG, "recommend: internal error: no choice for group %d", g); goto done; }
        choice[g] = pl[g][k].idx;
        u -= pl[g][k].up;
    }
    off = 0;
    for (int g = 0; g < ngroups; g++) { cost += items[off + choice[g]].cost; err += items[off + choice[g]].err; off += nitems[g]; }
    res->cost = cost; res->err = err;
    if (integral || U == 0) res->lower_bound = err;
    else {
        double lb = run_dp(ngroups, pl, np, U, 1, NULL, e0, c0, e1, c1);
        res->lower_bound = lb < err ? lb : err;
    }
    res->gap = err - res->lower_bound;
    if (res->gap < 0) res->gap = 0;
done:
    if (pl) for (int g = 0; g < ngroups; g++) free(pl[g]);
    free(pl); free(np); free(base); free(back); free(w);
    return rc;
}
