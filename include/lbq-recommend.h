/* lbq-recommend.h - the solver behind `lbq recommend` (docs/metrics.md, "Recommendation"):
 * a multiple-choice knapsack.  Each group (a tensor) has a list of items (candidate quantizers of
 * its m and v) with a cost (bits) and an error term; choose one item per group so that the summed
 * cost stays within the budget and the summed error is smallest.  Vetoed items are never chosen. */
#ifndef LBQ_RECOMMEND_H
#define LBQ_RECOMMEND_H

#include "lbq.h"

#ifdef __cplusplus
extern "C" {
#endif

struct lbq_mck_item {
    double cost;        /* >= 0, finite (bits) */
    double err;         /* >= 0; a non-finite error counts as vetoed */
    int    veto;        /* nonzero: never chosen */
};

struct lbq_mck_result {
    double cost, err;       /* of the returned choice */
    double lower_bound;     /* no choice within the budget has an error below this (<= err) */
    double gap;             /* err - lower_bound: 0 = proven optimal */
    double unit;            /* discretization step of the costs above the cheapest choice (bits) */
    double min_cost;        /* the cheapest choice over non-vetoed items (the smallest feasible budget) */
    int64_t units;          /* number of cost units the DP spans */
};

/* Solve: items of group g are items[off[g] .. off[g] + nitems[g]) with off the prefix sums of nitems.
 * choice[ngroups] receives the index (within its group) of the chosen item.
 *
 * Method: costs are taken relative to each group's cheapest allowed item; the remaining budget is
 * cut into at most max_units units of size q (0: default 2^18, and at most 2^25 / ngroups - 1), and
 * a dynamic program over the units is run twice: with every item's cost rounded up (the choice
 * returned: its true cost is within the budget) and rounded down (a relaxation: its optimum is a
 * lower bound of the true optimum).  When all costs and the budget are integers and the remaining
 * budget fits in max_units, q = 1 and the result is exactly optimal (gap 0).
 * Ties in error go to the lower cost, then to the lower item index.
 *
 * Errors: LBQ_ERR_ARG (bad arguments; a group whose items are all vetoed; a budget below
 * min_cost, which res->min_cost then reports), LBQ_ERR_NOMEM. */
int lbq_mck_solve(int ngroups, const int *nitems, const struct lbq_mck_item *items, double budget,
                  int64_t max_units, int *choice, struct lbq_mck_result *res);

#ifdef __cplusplus
}
#endif
#endif
