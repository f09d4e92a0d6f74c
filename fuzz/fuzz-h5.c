/* fuzz-h5.c - libFuzzer harness: the HDF5 moment-file reader (src/h5io.c) and the evaluation that
 * reads it (lbq_eval_param, the engine of analyze and sweep).
 *
 * The input is written to a scratch file in /dev/shm (lbq_file_open takes a path; it stats and
 * access()es it before HDF5 sees it, so an in-memory file image would skip part of the code under
 * test), then:
 *  - lbq_file_open with the default dataset names; a failure must leave a one-line message;
 *  - for every parameter (up to 16): the discovered shape is consistent (rank 1-8, numel = product
 *    of the dims, m and v present); lbq_file_read of small ranges of m and v (the start, an
 *    unaligned middle range, the end), of param, and of the first and last gradient step;
 *  - lbq_eval_param with three configurations (lpmm4, SOLO's log map with stochastic rounding,
 *    COAT's fp8 with dynamic range expansion; all tensors quantized) on files of at most 2^16
 *    elements: finite elements + excluded non-finite ones = numel, and no NaN in the state metrics;
 *  - shampoo's matrix reader (lbq_sh_read_h5, through h5io.c's lbq_h5_matrix_open/_check/_read)
 *    on each parameter's exp_avg (when it is not square, or square of order <= 64) and on the
 *    fixed names "A" and "precond/L": it succeeds with an order >= 2 or fails with a one-line
 *    message and a data/format/size status;
 *  - after lbq_file_close no HDF5 object of any file is still open (H5Fget_obj_count).
 * libhdf5's error printing stays off (lbq_file_open calls H5Eset_auto2(..., NULL, NULL)); the
 * harness also disables HDF5 filter plugins (HDF5_PLUGIN_PRELOAD=::).
 *
 * With LBQ_FUZZ_REPLAY this file is included by tests/test-fuzz-regress.c (no libFuzzer entry). */
#include "lbq.h"
#include "lbq-metrics.h"
#include "lbq-shampoo.h"
#include "fuzz-common.h"

#include <hdf5.h>
#include <math.h>

#define H5F_MAX_PARAMS   16
#define H5F_READ_N       48
#define H5F_EVAL_MAX     (1 << 16)
#define H5F_ROW_MAX      (1 << 22)    /* lbq_file_read buffers whole rows: skip reads of larger rows */

static char g_h5_path[512];
static int  g_h5_init = 0;
static struct lbq_config g_h5_conf[3];

static void h5f_init(void)
{
    if (g_h5_init) return;
    g_h5_init = 1;
    setenv("HDF5_PLUGIN_PRELOAD", "::", 1);
    fuzz_tmp_path("h5", ".h5", g_h5_path, sizeof g_h5_path);
    static const char *const recipes[3] = { "lpmm4", "solo42", "coat" };
    for (int i = 0; i < 3; i++) {
        struct lbq_config *c = &g_h5_conf[i];
        memset(c, 0, sizeof *c);
        c->recipe = lbq_recipe_find(recipes[i]);
        if (!c->recipe || lbq_qspec_parse(c->recipe->m_spec, NULL, &c->m) || lbq_qspec_parse(c->recipe->v_spec, NULL, &c->v)) {
            fuzz_report(__FILE__, __LINE__, "recipe %s unusable: %s", recipes[i], lbq_errmsg());
            abort();
        }
        c->has_m = c->has_v = 1;
        c->quantize_all = 1;
        snprintf(c->label, sizeof c->label, "%s", recipes[i]);
    }
}

static void h5f_clear_err(void) { lbq_err(LBQ_OK, "%s", ""); }

static void h5f_read(struct lbq_file *f, int p, enum lbq_ds ds, int64_t t, int64_t off, int64_t n, int64_t numel)
{
    float buf[H5F_READ_N + 1];
    if (n <= 0 || n > H5F_READ_N || off < 0 || off + n > numel) return;
    h5f_clear_err();
    int rc = lbq_file_read(f, p, ds, t, off, n, buf);
    if (rc != LBQ_OK)
        FUZZ_CHECK(fuzz_msg_ok(lbq_errmsg()) && rc != LBQ_ERR_ARG,
                   "lbq_file_read(param %d, ds %d, t %lld, [%lld, +%lld)) failed with %d and message '%s'",
                   p, (int)ds, (long long)t, (long long)off, (long long)n, rc, lbq_errmsg());
}

static void h5f_check_eval(struct lbq_file *f, int p, const struct lbq_param_info *pi)
{
    struct lbq_param_eval ev[3];
    struct lbq_eval_opts eo = { 1 << 20, 10.0, 0, NULL, NULL, NULL };
    h5f_clear_err();
    int rc = lbq_eval_param(f, p, g_h5_conf, 3, &eo, ev);
    if (rc != LBQ_OK) {
        FUZZ_CHECK(fuzz_msg_ok(lbq_errmsg()), "lbq_eval_param('%s') failed (%d) without a one-line message", pi->name, rc);
        return;
    }
    for (int c = 0; c < 3; c++) {
        const struct lbq_acc *a = &ev[c].acc;
        FUZZ_CHECK(a->m.n + a->m.nonfinite == pi->shape.numel && a->v.n + a->v.nonfinite == pi->shape.numel,
                   "'%s' %s: %lld + %lld non-finite elements of m for numel %lld", pi->name, g_h5_conf[c].label,
                   (long long)a->m.n, (long long)a->m.nonfinite, (long long)pi->shape.numel);
        struct lbq_state_res mr, vr;
        lbq_state_result(&a->m, &mr);
        lbq_state_result(&a->v, &vr);
        FUZZ_CHECK(!isnan(mr.rel_l2) && !isnan(vr.rel_l2) && !isnan(mr.rel_mean_abs_err) && !isnan(vr.rel_mean_abs_err) &&
                   !isnan(mr.zero_collapse) && !isnan(vr.zero_collapse),
                   "'%s' %s: NaN state metric (m rel_l2 %g, v rel_l2 %g)", pi->name, g_h5_conf[c].label, mr.rel_l2, vr.rel_l2);
        struct lbq_update_res ur;
        lbq_update_result(&a->u, &ur);
        /* no NaN in the update metrics, for any eps >= 0 (eps = 0 with v = 0 gave 0/0 before the fix
         * of finding #4, tests/regress/fuzz-h5/eps-zero-v-zero.h5; 0 < eps < 1e-150 overflowed m/eps in
         * the sums before the update was accumulated scaled by eps, tests/regress/fuzz-h5/eps-1e-300-v-zero.h5) */
        FUZZ_CHECK(!isnan(ur.rel_l2) && !isnan(ur.cosine) && !isnan(ur.blowup_frac) && !isnan(ur.collapse_share),
                   "'%s' %s: NaN update metric (rel_l2 %g, cosine %g; eps %g)", pi->name, g_h5_conf[c].label, ur.rel_l2, ur.cosine,
                   lbq_file_hparams(f)->eps);
        FUZZ_CHECK(isfinite(ev[c].m_size.bits_per_elem) && isfinite(ev[c].v_size.bits_per_elem), "'%s': storage size not finite", pi->name);
    }
}

static void h5f_check_file(struct lbq_file *f)
{
    int np = lbq_file_nparams(f);
    FUZZ_CHECK(np > 0, "lbq_file_open succeeded with %d parameters", np);
    const struct lbq_hparams *hp = lbq_file_hparams(f);
    FUZZ_CHECK(hp->beta1 >= 0 && hp->beta1 < 1 && hp->beta2 >= 0 && hp->beta2 < 1,
               "hyper-parameters out of range: beta1 %g beta2 %g", hp->beta1, hp->beta2);
    for (int i = 0; i < lbq_file_nnotes(f); i++) FUZZ_CHECK(lbq_file_note(f, i) != NULL, "note %d is NULL", i);
    int64_t total = 0;
    for (int p = 0; p < np; p++) {
        const struct lbq_param_info *pi = lbq_file_param(f, p);
        const struct lbq_shape *sh = &pi->shape;
        FUZZ_CHECK(memchr(pi->name, 0, sizeof pi->name) != NULL, "parameter %d: name not terminated", p);
        FUZZ_CHECK(sh->rank >= 1 && sh->rank <= LBQ_MAX_RANK, "'%s': rank %d", pi->name, sh->rank);
        if (sh->rank < 1 || sh->rank > LBQ_MAX_RANK) continue;
        int64_t prod = 1;
        for (int d = 0; d < sh->rank; d++) { FUZZ_CHECK(sh->dim[d] > 0, "'%s': dim[%d] = %lld", pi->name, d, (long long)sh->dim[d]); prod *= sh->dim[d]; }
        FUZZ_CHECK(prod == sh->numel && sh->numel > 0 && sh->numel <= ((int64_t)1 << 42), "'%s': numel %lld, product of dims %lld",
                   pi->name, (long long)sh->numel, (long long)prod);
        FUZZ_CHECK(pi->has[LBQ_DS_M] && pi->has[LBQ_DS_V], "'%s': m or v missing", pi->name);
        FUZZ_CHECK(!pi->has[LBQ_DS_GRADS] || pi->grads_T > 0, "'%s': grads with T = %lld", pi->name, (long long)pi->grads_T);
        total += sh->numel;
        if (p >= H5F_MAX_PARAMS) continue;
        const int64_t N = sh->numel, re = lbq_shape_row_elems(sh);
        if (re > H5F_ROW_MAX) continue;
        const int64_t n = N < H5F_READ_N ? N : H5F_READ_N;
        for (int ds = LBQ_DS_M; ds <= LBQ_DS_PARAM; ds++) {
            if (!pi->has[ds]) continue;
            h5f_read(f, p, (enum lbq_ds)ds, 0, 0, n, N);
            h5f_read(f, p, (enum lbq_ds)ds, 0, N - n, n, N);
            if (N > 3) h5f_read(f, p, (enum lbq_ds)ds, 0, N / 3, (N - N / 3) < 7 ? N - N / 3 : 7, N);
        }
        if (pi->has[LBQ_DS_GRADS]) {
            h5f_read(f, p, LBQ_DS_GRADS, 0, 0, n, N);
            h5f_read(f, p, LBQ_DS_GRADS, pi->grads_T - 1, N - n, n, N);
        }
        if (N <= H5F_EVAL_MAX && total <= H5F_EVAL_MAX) h5f_check_eval(f, p, pi);
    }
}

static void h5f_check_matrix(const char *dataset)
{
    struct lbq_sh_mat m;
    h5f_clear_err();
    int rc = lbq_sh_read_h5(g_h5_path, dataset, &m);
    if (rc == LBQ_OK) {
        FUZZ_CHECK(m.n >= 2 && m.n <= 8192, "lbq_sh_read_h5('%s') gave order %d", dataset, m.n);
        lbq_sh_mat_free(&m);
    } else {
        FUZZ_CHECK(rc == LBQ_ERR_FORMAT || rc == LBQ_ERR_IO || rc == LBQ_ERR_NOMEM || rc == LBQ_ERR_DATA ||
                   rc == LBQ_ERR_ARG || rc == LBQ_ERR_UNSUPPORTED, "lbq_sh_read_h5('%s') returned %d (%s)", dataset, rc, lbq_errmsg());
        FUZZ_CHECK(fuzz_msg_ok(lbq_errmsg()), "lbq_sh_read_h5('%s') failed (%d) without a one-line message: '%s'", dataset, rc, lbq_errmsg());
    }
}

static int h5f_one(const uint8_t *data, size_t size)
{
    h5f_init();
    if (fuzz_write_file(g_h5_path, data, size) != 0) return 0;
    struct lbq_file *f = NULL;
    h5f_clear_err();
    int rc = lbq_file_open(g_h5_path, NULL, &f);
    if (rc != LBQ_OK) {
        FUZZ_CHECK(f == NULL, "lbq_file_open failed but returned a file");
        FUZZ_CHECK(rc == LBQ_ERR_FORMAT || rc == LBQ_ERR_IO || rc == LBQ_ERR_NOMEM,
                   "lbq_file_open returned %d (%s)", rc, lbq_errmsg());
        FUZZ_CHECK(fuzz_msg_ok(lbq_errmsg()), "lbq_file_open failed (%d) without a one-line message: '%s'", rc, lbq_errmsg());
    } else {
        h5f_check_file(f);
        char ds[LBQ_NAME_MAX + 16];
        for (int p = 0; p < lbq_file_nparams(f) && p < H5F_MAX_PARAMS; p++) {
            const struct lbq_param_info *pi = lbq_file_param(f, p);
            if (pi->shape.rank == 2 && pi->shape.dim[0] == pi->shape.dim[1] && pi->shape.dim[0] > 64) continue;
            snprintf(ds, sizeof ds, "%s/exp_avg", pi->name);
            h5f_check_matrix(ds);
        }
        lbq_file_close(f);
    }
    h5f_check_matrix("A");
    h5f_check_matrix("precond/L");
    ssize_t open_ids = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
    FUZZ_CHECK(open_ids == 0, "%zd HDF5 objects still open after lbq_file_open/close (rc %d)", open_ids, rc);
    if (open_ids > 0) {     /* do not let one leak poison the next inputs */
        hid_t ids[64];
        ssize_t k = H5Fget_obj_ids(H5F_OBJ_ALL, H5F_OBJ_ALL, 64, ids);
        for (ssize_t i = 0; i < k; i++) {
            H5I_type_t t = H5Iget_type(ids[i]);
            if (t == H5I_FILE) H5Fclose(ids[i]);
            else if (t == H5I_DATASET) H5Dclose(ids[i]);
            else if (t == H5I_GROUP) H5Gclose(ids[i]);
            else if (t == H5I_DATATYPE) H5Tclose(ids[i]);
            else if (t == H5I_ATTR) H5Aclose(ids[i]);
        }
    }
    unlink(g_h5_path);
    return 0;
}

#ifndef LBQ_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return h5f_one(data, size);
}
#endif
