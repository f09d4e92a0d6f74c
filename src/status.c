/* status.c - status strings and the per-thread error detail. */
#include "lbq.h"

#include "lbq-impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static _Thread_local char g_errmsg[1024];

const char *lbq_status_str(int status)
{
    switch (status) {
    case LBQ_OK:              return "ok";
    case LBQ_ERR_IO:          return "I/O error";
    case LBQ_ERR_FORMAT:      return "bad input file";
    case LBQ_ERR_NOMEM:       return "out of memory";
    case LBQ_ERR_ARG:         return "invalid argument";
    case LBQ_ERR_UNSUPPORTED: return "unsupported";
    case LBQ_ERR_CUDA:        return "CUDA error";
    case LBQ_ERR_DATA:        return "bad data";
    case LBQ_ERR_INTERRUPTED: return "interrupted";
    case LBQ_ERR_OUTPUT:      return "cannot write output";
    default:                  return "unknown error";
    }
}

const char *lbq_errmsg(void) { return g_errmsg; }

/* the one place the library prints: a broken invariant (LBQ_ASSERT) */
void lbq_assert_fail(const char *cond, const char *file, int line)
{
    fprintf(stderr, "lbq: internal error: %s (%s:%d)\n", cond, file, line);
    fflush(stderr);
    abort();
}

int lbq_err(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_errmsg, sizeof g_errmsg, fmt, ap);
    va_end(ap);
    return status;
}
