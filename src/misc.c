/* misc.c - build and runtime facts. */
#include "lbq-impl.h"

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

float lbq_uniform(uint64_t seed, uint32_t stream, uint64_t i) { return lbq_philox_uniform(seed, stream, i); }
