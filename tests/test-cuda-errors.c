/* test-cuda-errors.c - CUDA failures reach the caller with the failing call and the CUDA error
 * text, from any thread; sticky errors are reported as such (docs/cuda.md, "Errors").  Runs without
 * a GPU:
 *
 * 1. lbq_cuda_test_error (the message and bookkeeping a failed CUDA call produces) raised inside
 *    OpenMP workers and carried by lbq-errslot.h, the way the engine's parallel loops carry it: the
 *    caller's lbq_errmsg() names the call and the CUDA text, not a stale message;
 * 2. the CPU engine's per-chunk GPU path (eps = 0, device 1) fails inside its OpenMP workers on a
 *    machine without a device: the caller gets "no CUDA device (<reason>)", not the stale message;
 *    the device-resident engine (eps > 0) the same;
 * 3. a sticky code (cudaErrorIllegalAddress, 700) is reported as sticky, and every later CUDA entry
 *    point (lbq_cuda_check, lbq_cuda_qdq) fails with that message. */
#include "lbq.h"
#include "lbq-impl.h"
#include "lbq-metrics.h"
#include "lbq-errslot.h"
#include "cuda/lbq-cuda.h"
#include "lbq-test.h"

#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static int write_file(const char *path, double eps)
{
    enum { R = 64, C = 1000 };
    static float m[R * C], v[R * C];
    for (int i = 0; i < R * C; i++) { m[i] = (float)(t_normal() * 1e-3); v[i] = m[i] * m[i]; }
    const struct lbq_shape sh = { 2, { R, C }, R * C };
    struct lbq_h5w *w = NULL;
    int dm, dv;
    int rc = lbq_h5w_open(path, &w);
    if (rc == LBQ_OK) rc = lbq_h5w_dset(w, "p", "exp_avg", LBQ_W_F32, &sh, &dm);
    if (rc == LBQ_OK) rc = lbq_h5w_write(w, dm, 0, sh.numel, m);
    if (rc == LBQ_OK) rc = lbq_h5w_dset(w, "p", "exp_avg_sq", LBQ_W_F32, &sh, &dv);
    if (rc == LBQ_OK) rc = lbq_h5w_write(w, dv, 0, sh.numel, v);
    if (rc == LBQ_OK) rc = lbq_h5w_attr_f64(w, "", "eps", eps);
    if (rc == LBQ_OK) return lbq_h5w_commit(w);
    lbq_h5w_abort(w);
    return rc;
}

static int eval_device1(const char *path)
{
    struct lbq_file *f = NULL;
    int rc = lbq_file_open(path, NULL, &f);
    if (rc != LBQ_OK) return rc;
    struct lbq_config conf;
    memset(&conf, 0, sizeof conf);
    lbq_qspec_parse("block128-dtree:b4", NULL, &conf.m);
    lbq_qspec_parse("block128-linear:b4", NULL, &conf.v);
    conf.has_m = conf.has_v = 1;
    struct lbq_eval_opts eo = { (int64_t)1 << 20, 10.0, 1, NULL, NULL, NULL };    /* small slabs: several chunks */
    struct lbq_param_eval ev;
    lbq_err(LBQ_OK, "stale message");
    rc = lbq_eval_param(f, 0, &conf, 1, &eo, &ev);
    lbq_file_close(f);
    return rc;
}

int main(void)
{
    const int cuda_build = strstr(lbq_cuda_build_info(), "not built") == NULL;
    const int have_dev = lbq_cuda_device_count() > 0;
#ifdef _OPENMP
    omp_set_num_threads(4);
#endif
    /* 1. from worker threads */
    struct lbq_errslot es = LBQ_ERRSLOT_INIT;
    int workers = 0;
    #pragma omp parallel reduction(+ : workers)
    {
        workers = 1;
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        if (tid == 1) lbq_errslot_put(&es, lbq_cuda_test_error("cudaMemcpyAsync(sl.d_x, sl.h_x, bytes, cudaMemcpyHostToDevice, sl.s)", 2));
    }
    lbq_err(LBQ_OK, "stale message");
    if (workers < 2) lbq_errslot_put(&es, lbq_cuda_test_error("cudaMemcpyAsync(sl.d_x, sl.h_x, bytes, cudaMemcpyHostToDevice, sl.s)", 2));
    int rc = lbq_errslot_raise(&es);
    printf("test-cuda-errors: %d threads; worker error: %s\n", workers, lbq_errmsg());
    CHECK_EQ_INT(rc, LBQ_ERR_CUDA);
    CHECK_MSG(strstr(lbq_errmsg(), "cudaMemcpyAsync(sl.d_x") != NULL, "the failing call is named: '%s'", lbq_errmsg());
    if (cuda_build) {
        CHECK_MSG(strstr(lbq_errmsg(), "out of memory (cudaErrorMemoryAllocation)") != NULL, "the CUDA text and name: '%s'", lbq_errmsg());
        CHECK_MSG(strstr(lbq_errmsg(), "sticky") == NULL, "cudaErrorMemoryAllocation is not sticky: '%s'", lbq_errmsg());
    }

    /* 2. the engines' worker threads without a device */
    char dir[] = "/tmp/lbq-test-cuda-errors-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char p0[300], p1[300];
    snprintf(p0, sizeof p0, "%s/eps0.h5", dir);
    snprintf(p1, sizeof p1, "%s/eps.h5", dir);
    CHECK_OK(write_file(p0, 0.0));
    CHECK_OK(write_file(p1, 1e-8));
    if (!have_dev) {
        const char *paths[2] = { p0, p1 };
        for (int k = 0; k < 2; k++) {
            rc = eval_device1(paths[k]);
            printf("test-cuda-errors: %s engine without a device: %s\n", k ? "device-resident" : "per-chunk", lbq_errmsg());
            CHECK_EQ_INT(rc, LBQ_ERR_CUDA);
            CHECK_MSG(strncmp(lbq_errmsg(), "no CUDA device (", 16) == 0, "%s: '%s'", paths[k], lbq_errmsg());
        }
    } else {
        printf("test-cuda-errors: a CUDA device is present: the no-device checks are skipped\n");
    }
    unlink(p0); unlink(p1); rmdir(dir);

    /* 3. sticky errors (last: they poison this process's CUDA state, as a real one does) */
    if (cuda_build) {
        rc = lbq_cuda_test_error("k_table_qdq<<<grid, 256, 0, s>>>", 700);
        printf("test-cuda-errors: sticky: %s\n", lbq_errmsg());
        CHECK_EQ_INT(rc, LBQ_ERR_CUDA);
        CHECK(strstr(lbq_errmsg(), "k_table_qdq") != NULL);
        CHECK(strstr(lbq_errmsg(), "cudaErrorIllegalAddress") != NULL);
        CHECK(strstr(lbq_errmsg(), "sticky error") != NULL);
        lbq_err(LBQ_OK, "stale message");
        CHECK_EQ_INT(lbq_cuda_check(), LBQ_ERR_CUDA);
        CHECK_MSG(strstr(lbq_errmsg(), "cudaErrorIllegalAddress") && strstr(lbq_errmsg(), "earlier"),
                  "later calls report the sticky error: '%s'", lbq_errmsg());
        float x[4] = { 1, 2, 3, 4 }, xh[4];
        struct lbq_qspec qs;
        struct lbq_qplan p;
        CHECK_OK(lbq_qspec_parse("block128-dtree:b4", NULL, &qs));
        CHECK_OK(lbq_qplan_init(&p, &qs, LBQ_ROLE_M, 1));
        CHECK_EQ_INT(lbq_cuda_qdq(&p, NULL, 0, 4, x, xh, NULL), LBQ_ERR_CUDA);
        CHECK(strstr(lbq_errmsg(), "sticky error") != NULL);
    }
    return TEST_END();
}
