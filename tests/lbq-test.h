/* lbq-test.h - a tiny check framework for lbq's plain-C tests.
 * CHECK* print file:line and the expression on failure and count failures; a test's main ends with
 * `return TEST_END();` which prints "N passed, N failed" and returns non-zero on any failure.
 * GPU tests return 77 (ctest SKIP_RETURN_CODE) when no device is present. */
#ifndef LBQ_TEST_H
#define LBQ_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_t_pass = 0, g_t_fail = 0;

#define CHECK(cond) do { if (cond) g_t_pass++; else { g_t_fail++; \
    fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_MSG(cond, ...) do { if (cond) g_t_pass++; else { g_t_fail++; \
    fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
#define CHECK_EQ_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); if (a_ == b_) g_t_pass++; \
    else { g_t_fail++; fprintf(stderr, "%s:%d: %s == %s failed: %lld vs %lld\n", __FILE__, __LINE__, #a, #b, a_, b_); } } while (0)
#define CHECK_NEAR(a, b, tol) do { double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol); \
    if (fabs(a_ - b_) <= t_ || (a_ == b_)) g_t_pass++; else { g_t_fail++; \
    fprintf(stderr, "%s:%d: |%s - %s| <= %s failed: %.9g vs %.9g (diff %.3g)\n", __FILE__, __LINE__, #a, #b, #tol, a_, b_, fabs(a_ - b_)); } } while (0)
#define CHECK_REL(a, b, rtol) CHECK_NEAR(a, b, (rtol) * fabs((double)(b)) + 1e-300)
#define CHECK_OK(expr) do { int rc_ = (expr); if (rc_ == 0) g_t_pass++; else { g_t_fail++; \
    fprintf(stderr, "%s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #expr, rc_, lbq_errmsg()); } } while (0)
#define TEST_END() (printf("%s: %d passed, %d failed\n", __FILE__, g_t_pass, g_t_fail), g_t_fail > 0)

/* deterministic xorshift64* generator for test inputs */
static unsigned long long g_t_rng = 0x9E3779B97F4A7C15ULL;
static inline double t_uniform(void)
{
    g_t_rng ^= g_t_rng >> 12; g_t_rng ^= g_t_rng << 25; g_t_rng ^= g_t_rng >> 27;
    return (double)((g_t_rng * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}
static inline double t_normal(void)
{
    double u1 = t_uniform(), u2 = t_uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

#endif
