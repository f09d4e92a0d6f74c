/* test-recommend.c - the multiple-choice knapsack solver of `lbq recommend` (src/recommend.c)
 * against brute force on many small random instances: exact mode (integer costs) must find the
 * optimum (lowest error, then lowest cost); discretized mode must stay within the budget, bracket
 * the true optimum between its lower bound and its error, and do at least as well as the true
 * optimum at the budget reduced by ngroups units (docs/metrics.md, "Recommendation"). */
#include "lbq.h"
#include "lbq-recommend.h"
#include "lbq-test.h"

#define MAXG 7
#define MAXK 6

struct inst { int G; int n[MAXG]; struct lbq_mck_item it[MAXG * MAXK]; };

static int irand(int lo, int hi) { return lo + (int)(t_uniform() * (hi - lo + 1)); }

/* brute force: best (err, cost) with cost <= budget; returns 0 if none */
static int brute(const struct inst *in, double budget, double *best_e, double *best_c, double *min_c)
{
    int idx[MAXG] = { 0 }, found = 0;
    *min_c = INFINITY;
    for (;;) {
        double c = 0, e = 0;
        int ok = 1, off = 0;
        for (int g = 0; g < in->G; g++) {
            const struct lbq_mck_item *it = &in->it[off + idx[g]];
            if (it->veto || !isfinite(it->err)) ok = 0;
            c += it->cost; e += it->err; off += in->n[g];
        }
        if (ok && c < *min_c) *min_c = c;
        if (ok && c <= budget && (!found || e < *best_e || (e == *best_e && c < *best_c))) { *best_e = e; *best_c = c; found = 1; }
        int g = 0;
        while (g < in->G && ++idx[g] == in->n[g]) idx[g++] = 0;
        if (g == in->G) break;
    }
    return found;
}

static void make(struct inst *in, int integral, double vetop)
{
    in->G = irand(1, MAXG);
    int off = 0;
    for (int g = 0; g < in->G; g++) {
        in->n[g] = irand(1, MAXK);
        for (int k = 0; k < in->n[g]; k++) {
            struct lbq_mck_item *it = &in->it[off + k];
            it->cost = integral ? irand(0, 30) : 1000.0 * t_uniform();
            it->err = integral ? irand(0, 20) : t_uniform();
            it->veto = t_uniform() < vetop;
            if (t_uniform() < 0.03) it->err = NAN;      /* a non-finite error counts as vetoed */
        }
        off += in->n[g];
    }
}

int main(void)
{
    int n_exact = 0, n_disc = 0, n_below = 0, n_allveto = 0;
    for (int trial = 0; trial < 4000; trial++) {
        struct inst in;
        int integral = trial % 2 == 0;
        make(&in, integral, 0.15);
        double maxc = 0;
        for (int k = 0, off = 0; k < in.G; off += in.n[k], k++) {
            double mx = 0;
            for (int j = 0; j < in.n[k]; j++) if (in.it[off + j].cost > mx) mx = in.it[off + j].cost;
            maxc += mx;
        }
        double budget = integral ? (double)irand(0, (int)maxc + 5) : t_uniform() * (maxc + 50.0);
        double be = 0, bc = 0, minc = 0;
        int found = brute(&in, budget, &be, &bc, &minc);
        int choice[MAXG];
        struct lbq_mck_result res;
        int64_t units = integral ? 0 : (trial % 4 == 1 ? 40 : 1 << 16);
        int rc = lbq_mck_solve(in.G, in.n, in.it, budget, units, choice, &res);
        if (!isfinite(minc)) {              /* some group has only vetoed items */
            CHECK_MSG(rc == LBQ_ERR_ARG, "trial %d: all-vetoed group: rc %d", trial, rc);
            n_allveto++;
            continue;
        }
        if (!found) {                       /* the budget is below the cheapest choice */
            CHECK_MSG(rc == LBQ_ERR_ARG, "trial %d: budget %g below min %g: rc %d", trial, budget, minc, rc);
            CHECK_REL(res.min_cost, minc, 1e-12);
            n_below++;
            continue;
        }
        CHECK_MSG(rc == LBQ_OK, "trial %d: rc %d (%s)", trial, rc, lbq_errmsg());
        if (rc) continue;
        CHECK_REL(res.min_cost, minc, 1e-12);
        /* the choice is valid, and its reported cost and error are its own */
        double c = 0, e = 0;
        int valid = 1;
        for (int g = 0, off = 0; g < in.G; off += in.n[g], g++) {
            if (choice[g] < 0 || choice[g] >= in.n[g]) { valid = 0; break; }
            const struct lbq_mck_item *it = &in.it[off + choice[g]];
            if (it->veto || !isfinite(it->err)) valid = 0;
            c += it->cost; e += it->err;
        }
        CHECK_MSG(valid, "trial %d: invalid or vetoed choice", trial);
        if (!valid) continue;
        CHECK_REL(res.cost, c, 1e-12);
        CHECK_REL(res.err, e, 1e-12);
        CHECK_MSG(c <= budget * (1 + 1e-12) + 1e-9, "trial %d: cost %g over budget %g", trial, c, budget);
        if (integral) {
            CHECK_MSG(e == be && c == bc, "trial %d: exact mode: (err %g, cost %g) vs brute force (%g, %g)", trial, e, c, be, bc);
            CHECK_MSG(res.gap == 0 && res.unit == 1.0, "trial %d: exact mode reports gap %g unit %g", trial, res.gap, res.unit);
            n_exact++;
        } else {
            CHECK_MSG(res.lower_bound <= be + 1e-9 && be <= e + 1e-9, "trial %d: optimum %g not in [%g, %g]", trial, be, res.lower_bound, e);
            CHECK_MSG(e - be <= res.gap + 1e-9, "trial %d: err %g - optimum %g exceeds the reported gap %g", trial, e, be, res.gap);
            /* the documented guarantee: at least as good as the optimum at budget - G*unit */
            double be2 = 0, bc2 = 0, m2 = 0;
            if (brute(&in, budget - in.G * res.unit, &be2, &bc2, &m2))
                CHECK_MSG(e <= be2 + 1e-9, "trial %d: err %g worse than the optimum %g at budget - G*unit", trial, e, be2);
            if (units >= 1 << 16) CHECK_MSG(e == be, "trial %d: fine discretization missed the optimum (%g vs %g)", trial, e, be);
            n_disc++;
        }
    }
    printf("instances: %d exact, %d discretized, %d below the minimum, %d with an all-vetoed group\n", n_exact, n_disc, n_below, n_allveto);
    CHECK(n_exact > 1000 && n_disc > 1000 && n_below > 20 && n_allveto > 20);
    /* argument errors */
    struct lbq_mck_item one = { 1, 1, 0 };
    int n1 = 1, ch;
    struct lbq_mck_result r;
    CHECK(lbq_mck_solve(0, &n1, &one, 10, 0, &ch, &r) == LBQ_ERR_ARG);
    CHECK(lbq_mck_solve(1, &n1, &one, NAN, 0, &ch, &r) == LBQ_ERR_ARG);
    CHECK(lbq_mck_solve(1, &n1, &one, 0.5, 0, &ch, &r) == LBQ_ERR_ARG && strstr(lbq_errmsg(), "minimum achievable"));
    CHECK_OK(lbq_mck_solve(1, &n1, &one, 1, 0, &ch, &r));
    CHECK(ch == 0 && r.cost == 1 && r.err == 1);
    return TEST_END();
}
