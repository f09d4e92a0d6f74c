/* lbq-errslot.h - carry the first error of a parallel loop, with its message, to the calling thread.
 * lbq_err() keeps its detail per thread (src/status.c), so an error returned inside an OpenMP
 * worker would otherwise reach the caller as a bare status with a stale or empty lbq_errmsg().
 *
 *   struct lbq_errslot es = LBQ_ERRSLOT_INIT;
 *   #pragma omp parallel for
 *   for (...) { int rc = work(); lbq_errslot_put(&es, rc); }
 *   if (es.rc) return lbq_errslot_raise(&es);
 *
 * lbq_errslot_put keeps the first non-OK status and copies its message under a critical section;
 * lbq_errslot_raise sets the caller's lbq_errmsg() to it and returns the status. */
#ifndef LBQ_ERRSLOT_H
#define LBQ_ERRSLOT_H

#include "lbq.h"

#include <stdio.h>

struct lbq_errslot {
    int  rc;
    char msg[1024];
};
#define LBQ_ERRSLOT_INIT { 0, { 0 } }

static inline void lbq_errslot_put(struct lbq_errslot *s, int rc)
{
    if (rc == LBQ_OK) return;
    #pragma omp critical(lbq_errslot)
    {
        if (s->rc == LBQ_OK) {
            s->rc = rc;
            snprintf(s->msg, sizeof s->msg, "%s", lbq_errmsg());
        }
    }
}

static inline int lbq_errslot_raise(const struct lbq_errslot *s)
{
    if (s->rc == LBQ_OK) return LBQ_OK;
    return lbq_err(s->rc, "%s", s->msg[0] ? s->msg : lbq_status_str(s->rc));
}

#endif
