/* misc.c - build and runtime facts. */
#include "lbq.h"

#ifdef _OPENMP
#include <omp.h>
#endif

int lbq_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
