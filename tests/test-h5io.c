/* test-h5io.c - the HDF5 moment-file reader and lbq's HDF5 writer (src/h5io.c).
 *
 * Fixtures are written both with the lbq_h5w_* API and with the raw HDF5 C API into a temporary
 * directory (removed at the end).  Checked: round trips for 1-D/2-D/3-D and odd shapes, reads at
 * arbitrary unaligned flat ranges, float16/float64 conversion notices, nested groups, --m-name /
 * --v-name patterns, --tensor globs, root attributes and their defaults, 0-d scalars, malformed
 * files (status and a message naming the file and the tensor), and the writer's commit/abort
 * semantics and refusal of bad output paths (including /dev/full, which must stay a device).
 * Issue 16: parameter names of any length (refused, naming the parameter, past LBQ_NAME_MAX) and
 * their escaping (lbq_name_escape), a dataset under two names counted once, external links
 * refused, a file locked by a writer named as such, negative v counted once, outputs that are
 * inputs refused, symlinked outputs replacing their target, registered temporary files. */
#include "lbq.h"
#include "lbq-json.h"
#include "lbq-test.h"

#include <dirent.h>
#include <errno.h>
#include <hdf5.h>
#include <stdint.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_dir[256];

static const char *P(const char *name)       /* path inside the temp dir (rotating buffers) */
{
    static char buf[8][600];
    static int k = 0;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static void rm_rf(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        chmod(path, 0700);
        DIR *d = opendir(path);
        if (d) {
            struct dirent *de;
            char sub[1024];
            while ((de = readdir(d)) != NULL) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
                snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
                rm_rf(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else unlink(path);
}

static int exists(const char *path) { struct stat sb; return stat(path, &sb) == 0; }

/* names in g_dir starting with `prefix` */
static int count_prefix(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) n++;
    closedir(d);
    return n;
}

static int has_all(const char *msg, const char *const *subs)
{
    for (int i = 0; subs[i]; i++) if (!strstr(msg, subs[i])) return 0;
    return 1;
}

/* Run fn(arg) in a child process without root privileges (uid/gid 65534) when running as root,
 * so permission cases are meaningful; returns 1 if fn returned 1, 0 otherwise, -1 if unavailable. */
static int as_unprivileged(int (*fn)(const char *), const char *arg)
{
    if (geteuid() != 0) return fn(arg);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
        _exit(fn(arg) ? 0 : 1);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return 0;
    if (WEXITSTATUS(status) == 3) return -1;
    return WEXITSTATUS(status) == 0;
}

static int open_fails_io(const char *path)
{
    struct lbq_file *f = (struct lbq_file *)1;
    int rc = lbq_file_open(path, NULL, &f);
    int ok = rc == LBQ_ERR_IO && f == NULL && strstr(lbq_errmsg(), path) && strstr(lbq_errmsg(), strerror(EACCES));
    if (!ok) fprintf(stderr, "  unreadable file: rc %d '%s'\n", rc, lbq_errmsg());
    return ok;
}
static int writer_fails_io(const char *path)
{
    struct lbq_h5w *w = (struct lbq_h5w *)1;
    int rc = lbq_h5w_open(path, &w);
    int ok = rc == LBQ_ERR_OUTPUT && w == NULL && strstr(lbq_errmsg(), path) && strstr(lbq_errmsg(), strerror(EACCES));
    if (!ok) fprintf(stderr, "  read-only directory: rc %d '%s'\n", rc, lbq_errmsg());
    if (rc == LBQ_OK && w) lbq_h5w_abort(w);
    return ok;
}

/* ---- raw HDF5 fixture writing --------------------------------------------------------------- */
static hid_t h5_create(const char *path)
{
    return H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
}

static hid_t f16_type(void)
{
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(t, 15, 10, 5, 0, 10);
    H5Tset_size(t, 2);
    H5Tset_ebias(t, 15);
    return t;
}

/* create dataset `path` (intermediate groups created) of file type ftype, write from memory type
 * mtype (data may be NULL: no write) */
static int h5_ds(hid_t fid, const char *path, hid_t ftype, int rank, const hsize_t *dims, hid_t mtype, const void *data)
{
    hid_t sp = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(fid, path, ftype, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    int ok = d >= 0;
    if (ok && data) ok = H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0;
    if (d >= 0) H5Dclose(d);
    H5Pclose(lcpl);
    H5Sclose(sp);
    CHECK_MSG(ok, "fixture dataset %s", path);
    return ok;
}

static void h5_attr_f64(hid_t obj, const char *name, double v)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_DOUBLE, &v);
    H5Aclose(a); H5Sclose(sp);
}
static void h5_attr_i64(hid_t obj, const char *name, int64_t v)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a); H5Sclose(sp);
}

/* an m/v pair of float32 from data (n = product of dims) */
static void h5_pair(hid_t fid, const char *group, int rank, const hsize_t *dims, const float *m, const float *v)
{
    char p[512];
    snprintf(p, sizeof p, "%s/exp_avg", group);
    h5_ds(fid, p, H5T_IEEE_F32LE, rank, dims, H5T_NATIVE_FLOAT, m);
    snprintf(p, sizeof p, "%s/exp_avg_sq", group);
    h5_ds(fid, p, H5T_IEEE_F32LE, rank, dims, H5T_NATIVE_FLOAT, v);
}

static void fill(float *x, int64_t n, float base)
{
    for (int64_t i = 0; i < n; i++) x[i] = base + (float)i * 0.5f + (float)t_normal();
}

static int find_param(const struct lbq_file *f, const char *name)
{
    for (int i = 0; i < lbq_file_nparams(f); i++) if (strcmp(lbq_file_param(f, i)->name, name) == 0) return i;
    return -1;
}

static int note_has(const struct lbq_file *f, const char *a, const char *b)
{
    for (int i = 0; i < lbq_file_nnotes(f); i++)
        if (strstr(lbq_file_note(f, i), a) && (!b || strstr(lbq_file_note(f, i), b))) return 1;
    return 0;
}

/* ================================================================================================
 * 1. Round trip through lbq's writer: shapes, grads, attributes, unaligned range reads
 * ============================================================================================== */
struct tens { const char *group; struct lbq_shape shape; int grads_T; float *m, *v, *param, *grads; };

static void write_lbq_fixture(const char *path, struct tens *ts, int nt)
{
    struct lbq_h5w *w = NULL;
    CHECK_OK(lbq_h5w_open(path, &w));
    if (!w) return;
    for (int k = 0; k < nt; k++) {
        struct tens *t = &ts[k];
        int64_t n = t->shape.numel, re = lbq_shape_row_elems(&t->shape);
        const char *names[3] = { "exp_avg", "exp_avg_sq", "param" };
        float *data[3] = { t->m, t->v, t->param };
        for (int j = 0; j < 3; j++) {
            if (!data[j]) continue;
            int ds = -1;
            CHECK_OK(lbq_h5w_dset(w, t->group, names[j], LBQ_W_F32, &t->shape, &ds));
            /* write in chunks of whole rows: 1 row, then 2, then the rest */
            int64_t off = 0, rows = 1;
            while (off < n) {
                int64_t len = rows * re;
                if (off + len > n) len = n - off;
                CHECK_OK(lbq_h5w_write(w, ds, off, len, data[j] + off));
                off += len; rows++;
            }
        }
        if (t->grads_T) {
            struct lbq_shape gs = t->shape;
            memmove(gs.dim + 1, gs.dim, sizeof(int64_t) * (size_t)gs.rank);
            gs.dim[0] = t->grads_T; gs.rank++; gs.numel *= t->grads_T;
            int ds = -1;
            CHECK_OK(lbq_h5w_dset(w, t->group, "grads", LBQ_W_F32, &gs, &ds));
            CHECK_OK(lbq_h5w_write(w, ds, 0, gs.numel, t->grads));
        }
    }
    CHECK_OK(lbq_h5w_attr_i64(w, "", "step", 100));
    CHECK_OK(lbq_h5w_attr_f64(w, "", "beta1", 0.8));
    CHECK_OK(lbq_h5w_attr_f64(w, "", "beta2", 0.95));
    CHECK_OK(lbq_h5w_attr_f64(w, "", "eps", 1e-6));
    CHECK_OK(lbq_h5w_attr_f64(w, "", "lr", 3e-4));
    CHECK_OK(lbq_h5w_attr_str(w, "", "producer", "test-h5io"));
    CHECK_OK(lbq_h5w_commit(w));
}

static void test_roundtrip(void)
{
    struct tens ts[] = {
        { "w1d", { 1, { 129 }, 129 }, 0, 0, 0, 0, 0 },
        { "layers/0/w", { 2, { 33, 65 }, 33 * 65 }, 3, 0, 0, 0, 0 },
        { "c3", { 3, { 5, 7, 9 }, 315 }, 0, 0, 0, 0, 0 },
        { "one", { 1, { 1 }, 1 }, 2, 0, 0, 0, 0 },
        { "odd", { 2, { 7, 1 }, 7 }, 0, 0, 0, 0, 0 },
        { "r4", { 4, { 2, 3, 1, 5 }, 30 }, 0, 0, 0, 0, 0 },
    };
    const int nt = (int)(sizeof ts / sizeof ts[0]);
    for (int k = 0; k < nt; k++) {
        int64_t n = ts[k].shape.numel;
        ts[k].m = malloc(sizeof(float) * (size_t)n); fill(ts[k].m, n, (float)k);
        ts[k].v = malloc(sizeof(float) * (size_t)n); fill(ts[k].v, n, 100.0f + (float)k);
        if (k % 2 == 0) { ts[k].param = malloc(sizeof(float) * (size_t)n); fill(ts[k].param, n, -5.0f); }
        if (ts[k].grads_T) { ts[k].grads = malloc(sizeof(float) * (size_t)(n * ts[k].grads_T)); fill(ts[k].grads, n * ts[k].grads_T, 7.0f); }
    }
    const char *path = P("fixture-lbq.h5");
    write_lbq_fixture(path, ts, nt);

    struct lbq_file *f = NULL;
    CHECK_OK(lbq_file_open(path, NULL, &f));
    if (!f) return;
    CHECK(strcmp(lbq_file_path(f), path) == 0);
    CHECK_EQ_INT(lbq_file_nparams(f), nt);
    const struct lbq_hparams *hp = lbq_file_hparams(f);
    CHECK(hp->has_step && hp->step == 100 && hp->has_beta1 && hp->beta1 == 0.8 && hp->has_beta2 && hp->beta2 == 0.95 &&
          hp->has_eps && hp->eps == 1e-6 && hp->has_lr && hp->lr == 3e-4);
    CHECK_MSG(lbq_file_nnotes(f) == 0, "%d notes, first: %s", lbq_file_nnotes(f), lbq_file_nnotes(f) ? lbq_file_note(f, 0) : "");
    for (int k = 0; k < nt; k++) {
        int p = find_param(f, ts[k].group);
        CHECK_MSG(p >= 0, "parameter %s not found", ts[k].group);
        if (p < 0) continue;
        const struct lbq_param_info *pi = lbq_file_param(f, p);
        const struct lbq_shape *sh = &ts[k].shape;
        int same = pi->shape.rank == sh->rank && pi->shape.numel == sh->numel;
        for (int d = 0; same && d < sh->rank; d++) same = pi->shape.dim[d] == sh->dim[d];
        CHECK_MSG(same, "%s: shape", ts[k].group);
        CHECK(pi->has[LBQ_DS_M] && pi->has[LBQ_DS_V] && pi->has[LBQ_DS_PARAM] == (ts[k].param != NULL) && pi->has[LBQ_DS_GRADS] == (ts[k].grads_T > 0));
        CHECK(pi->dtype_bits[LBQ_DS_M] == 32 && pi->dtype_bits[LBQ_DS_V] == 32);
        CHECK_EQ_INT(pi->grads_T, ts[k].grads_T);
        int64_t n = sh->numel, re = lbq_shape_row_elems(sh);
        CHECK_EQ_INT(re, sh->rank <= 1 ? 1 : n / sh->dim[0]);
        float *buf = malloc(sizeof(float) * (size_t)n);
        /* full reads */
        const float *want[4] = { ts[k].m, ts[k].v, ts[k].param, NULL };
        for (int ds = 0; ds < 3; ds++) {
            if (!want[ds]) {
                int rc = lbq_file_read(f, p, (enum lbq_ds)ds, 0, 0, n, buf);
                CHECK_MSG(rc == LBQ_ERR_FORMAT && strstr(lbq_errmsg(), ts[k].group), "%s: read of absent dataset: rc %d %s", ts[k].group, rc, lbq_errmsg());
                continue;
            }
            CHECK_OK(lbq_file_read(f, p, (enum lbq_ds)ds, 0, 0, n, buf));
            CHECK_MSG(memcmp(buf, want[ds], sizeof(float) * (size_t)n) == 0, "%s ds %d: full read differs", ts[k].group, ds);
        }
        for (int t = 0; t < ts[k].grads_T; t++) {
            CHECK_OK(lbq_file_read(f, p, LBQ_DS_GRADS, t, 0, n, buf));
            CHECK_MSG(memcmp(buf, ts[k].grads + t * n, sizeof(float) * (size_t)n) == 0, "%s grads[%d] differs", ts[k].group, t);
        }
        /* unaligned flat ranges equal the slice of the full read; whole rows are charged */
        int bad = 0, badcount = 0;
        for (int r = 0; r < 60; r++) {
            int64_t off = (int64_t)(t_uniform() * n), len = (int64_t)(t_uniform() * (n - off + 1));
            if (r == 0) { off = 0; len = n; }
            if (r == 1) { off = n - 1; len = 1; }
            if (r == 2) { off = n; len = 0; }
            int ds = r % 2;
            int64_t before = lbq_file_elems_read(f, p, (enum lbq_ds)ds);
            memset(buf, 0xff, sizeof(float) * (size_t)n);
            CHECK_OK(lbq_file_read(f, p, (enum lbq_ds)ds, 0, off, len, buf));
            if (memcmp(buf, want[ds] + off, sizeof(float) * (size_t)len) != 0) bad++;
            int64_t rows = len ? ((off + len + re - 1) / re - off / re) : 0;
            if (lbq_file_elems_read(f, p, (enum lbq_ds)ds) - before != rows * re) badcount++;
            if (ts[k].grads_T && len) {
                int t = r % ts[k].grads_T;
                CHECK_OK(lbq_file_read(f, p, LBQ_DS_GRADS, t, off, len, buf));
                if (memcmp(buf, ts[k].grads + t * n + off, sizeof(float) * (size_t)len) != 0) bad++;
            }
        }
        CHECK_MSG(bad == 0, "%s: %d range reads differ from the full read", ts[k].group, bad);
        CHECK_MSG(badcount == 0, "%s: %d reads charged a wrong element count", ts[k].group, badcount);
        /* out of range */
        CHECK_EQ_INT(lbq_file_read(f, p, LBQ_DS_M, 0, 0, n + 1, buf), LBQ_ERR_ARG);
        CHECK_EQ_INT(lbq_file_read(f, p, LBQ_DS_M, 0, -1, 1, buf), LBQ_ERR_ARG);
        CHECK_EQ_INT(lbq_file_read(f, p, LBQ_DS_M, 0, 1, -1, buf), LBQ_ERR_ARG);
        if (ts[k].grads_T) {
            CHECK_EQ_INT(lbq_file_read(f, p, LBQ_DS_GRADS, ts[k].grads_T, 0, 1, buf), LBQ_ERR_ARG);
            CHECK_EQ_INT(lbq_file_read(f, p, LBQ_DS_GRADS, -1, 0, 1, buf), LBQ_ERR_ARG);
        }
        free(buf);
    }
    lbq_file_close(f);

    /* --tensor globs (fnmatch without FNM_PATHNAME: '*' also matches '/') */
    struct { const char *glob; int n; const char *one; } globs[] = {
        { "layers/*", 1, "layers/0/w" }, { "w1*", 1, "w1d" }, { "*", nt, NULL }, { "[co]*", 3, "c3" }, { "*0*", 1, "layers/0/w" },
    };
    for (size_t g = 0; g < sizeof globs / sizeof globs[0]; g++) {
        struct lbq_open_opts oo = { NULL, NULL, globs[g].glob };
        f = NULL;
        CHECK_OK(lbq_file_open(path, &oo, &f));
        if (!f) continue;
        CHECK_MSG(lbq_file_nparams(f) == globs[g].n, "glob '%s': %d parameters", globs[g].glob, lbq_file_nparams(f));
        if (globs[g].one) CHECK_MSG(find_param(f, globs[g].one) >= 0, "glob '%s' misses %s", globs[g].glob, globs[g].one);
        lbq_file_close(f);
    }
    struct lbq_open_opts oo = { NULL, NULL, "nomatch*" };
    f = (struct lbq_file *)1;
    int rc = lbq_file_open(path, &oo, &f);
    CHECK_MSG(rc == LBQ_ERR_ARG && f == NULL && strstr(lbq_errmsg(), "nomatch*") && strstr(lbq_errmsg(), path), "glob without match: %d %s", rc, lbq_errmsg());

    for (int k = 0; k < nt; k++) { free(ts[k].m); free(ts[k].v); free(ts[k].param); free(ts[k].grads); }
}

/* ================================================================================================
 * 2. Raw HDF5 fixtures: float16/float64, nested groups, defaults, scalars, name patterns
 * ============================================================================================== */
static void test_raw_fixtures(void)
{
    /* float16 / float64 / nested groups / no root attributes */
    const char *path = P("fixture-raw.h5");
    hid_t fid = h5_create(path);
    CHECK(fid >= 0);
    hsize_t d2[2] = { 9, 13 }, d1[1] = { 1023 };
    static float h16[117], v16[117];
    static double m64[1023], v64[1023];
    for (int i = 0; i < 117; i++) { h16[i] = (float)((i * 37) % 2001 - 1000) / 64.0f; v16[i] = (float)(i % 50) / 1024.0f; }
    for (int i = 0; i < 1023; i++) { m64[i] = (i % 3 ? 1.0 : -1.0) / (double)(i + 3); v64[i] = 1e-7 * i + 1e-300; }
    hid_t t16 = f16_type();
    h5_ds(fid, "model/layer0/weight/exp_avg", t16, 2, d2, H5T_NATIVE_FLOAT, h16);
    h5_ds(fid, "model/layer0/weight/exp_avg_sq", t16, 2, d2, H5T_NATIVE_FLOAT, v16);
    h5_ds(fid, "model/layer0/weight/param", H5T_IEEE_F32LE, 2, d2, H5T_NATIVE_FLOAT, h16);
    h5_ds(fid, "model/bias/exp_avg", H5T_IEEE_F64LE, 1, d1, H5T_NATIVE_DOUBLE, m64);
    h5_ds(fid, "model/bias/exp_avg_sq", H5T_IEEE_F64LE, 1, d1, H5T_NATIVE_DOUBLE, v64);
    /* 0-d scalar state (skipped with a notice) */
    float sc = 1.5f;
    h5_ds(fid, "scal/exp_avg", H5T_IEEE_F32LE, 0, NULL, H5T_NATIVE_FLOAT, &sc);
    h5_ds(fid, "scal/exp_avg_sq", H5T_IEEE_F32LE, 0, NULL, H5T_NATIVE_FLOAT, &sc);
    /* grads with T = 0: not a gradient stream */
    hsize_t dg0[3] = { 0, 9, 13 };
    h5_ds(fid, "model/layer0/weight/grads", H5T_IEEE_F32LE, 3, dg0, H5T_NATIVE_FLOAT, NULL);
    /* a group that merely carries the name exp_avg is not a dataset */
    H5Gclose(H5Gcreate2(fid, "decoy/exp_avg", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Tclose(t16);
    H5Fclose(fid);

    struct lbq_file *f = NULL;
    CHECK_OK(lbq_file_open(path, NULL, &f));
    if (f) {
        CHECK_EQ_INT(lbq_file_nparams(f), 2);
        int pw = find_param(f, "model/layer0/weight"), pb = find_param(f, "model/bias");
        CHECK(pw >= 0 && pb >= 0);
        CHECK(find_param(f, "scal") < 0 && find_param(f, "decoy") < 0);
        /* defaults and their notices */
        const struct lbq_hparams *hp = lbq_file_hparams(f);
        CHECK(!hp->has_step && !hp->has_beta1 && !hp->has_beta2 && !hp->has_eps && !hp->has_lr);
        CHECK(hp->beta1 == 0.9 && hp->beta2 == 0.999 && hp->eps == 1e-8 && hp->lr == 1e-3);
        CHECK(note_has(f, "beta1", "0.9") && note_has(f, "beta2", "0.999") && note_has(f, "eps", "1e-8") && note_has(f, "step", NULL));
        CHECK_MSG(note_has(f, "scal", "0-d"), "no notice for the 0-d scalar");
        CHECK_MSG(note_has(f, "model/layer0/weight", "float16") && note_has(f, "model/bias", "float64"), "no conversion notices");
        CHECK(!note_has(f, "model/layer0/weight", "param is float"));   /* param is float32 */
        for (int i = 0; i < lbq_file_nnotes(f); i++) printf("  note: %s\n", lbq_file_note(f, i));
        if (pw >= 0) {
            const struct lbq_param_info *pi = lbq_file_param(f, pw);
            CHECK(pi->dtype_bits[LBQ_DS_M] == 16 && pi->dtype_bits[LBQ_DS_V] == 16 && pi->dtype_bits[LBQ_DS_PARAM] == 32);
            CHECK(pi->shape.rank == 2 && pi->shape.dim[0] == 9 && pi->shape.dim[1] == 13);
            CHECK(!pi->has[LBQ_DS_GRADS] && pi->grads_T == 0);
            float buf[117];
            CHECK_OK(lbq_file_read(f, pw, LBQ_DS_M, 0, 0, 117, buf));
            CHECK_MSG(memcmp(buf, h16, sizeof buf) == 0, "float16 m (exactly representable values) differs");
            CHECK_OK(lbq_file_read(f, pw, LBQ_DS_V, 0, 0, 117, buf));
            CHECK_MSG(memcmp(buf, v16, sizeof buf) == 0, "float16 v differs");
            CHECK_OK(lbq_file_read(f, pw, LBQ_DS_M, 0, 20, 31, buf));
            CHECK(memcmp(buf, h16 + 20, 31 * sizeof(float)) == 0);
        }
        if (pb >= 0) {
            const struct lbq_param_info *pi = lbq_file_param(f, pb);
            CHECK(pi->dtype_bits[LBQ_DS_M] == 64 && pi->dtype_bits[LBQ_DS_V] == 64 && !pi->has[LBQ_DS_PARAM]);
            static float buf[1023];
            int bad = 0;
            CHECK_OK(lbq_file_read(f, pb, LBQ_DS_M, 0, 0, 1023, buf));
            for (int i = 0; i < 1023; i++) if (buf[i] != (float)m64[i]) bad++;      /* rounded to nearest */
            CHECK_OK(lbq_file_read(f, pb, LBQ_DS_V, 0, 5, 1000, buf));
            for (int i = 0; i < 1000; i++) if (buf[i] != (float)v64[i + 5]) bad++;
            CHECK_MSG(bad == 0, "float64 -> float32: %d values not rounded to nearest", bad);
        }
        lbq_file_close(f);
    }

    /* --m-name / --v-name patterns */
    path = P("fixture-names.h5");
    fid = h5_create(path);
    hsize_t d3[1] = { 3 }, d5[2] = { 5, 2 };
    float a3[3] = { 1, 2, 3 }, b3[3] = { 4, 5, 6 }, a10[10] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    h5_ds(fid, "state/w1/m", H5T_IEEE_F32LE, 1, d3, H5T_NATIVE_FLOAT, a3);
    h5_ds(fid, "state/w1/v", H5T_IEEE_F32LE, 1, d3, H5T_NATIVE_FLOAT, b3);
    h5_ds(fid, "state/blk/w2/m", H5T_IEEE_F32LE, 2, d5, H5T_NATIVE_FLOAT, a10);
    h5_ds(fid, "state/blk/w2/v", H5T_IEEE_F32LE, 2, d5, H5T_NATIVE_FLOAT, a10);
    h5_ds(fid, "state/blk/w2/param", H5T_IEEE_F32LE, 2, d5, H5T_NATIVE_FLOAT, a10);
    h5_attr_i64(fid, "step", 7);
    H5Fclose(fid);
    struct lbq_open_opts oo = { "state/{name}/m", "state/{name}/v", NULL };
    f = NULL;
    CHECK_OK(lbq_file_open(path, &oo, &f));
    if (f) {
        CHECK_EQ_INT(lbq_file_nparams(f), 2);
        int p1 = find_param(f, "w1"), p2 = find_param(f, "blk/w2");
        CHECK(p1 >= 0 && p2 >= 0);
        CHECK(lbq_file_hparams(f)->has_step && lbq_file_hparams(f)->step == 7);
        float buf[10];
        if (p1 >= 0) { CHECK_OK(lbq_file_read(f, p1, LBQ_DS_V, 0, 0, 3, buf)); CHECK(memcmp(buf, b3, sizeof b3) == 0); }
        if (p2 >= 0) {
            CHECK(lbq_file_param(f, p2)->has[LBQ_DS_PARAM]);             /* param beside m */
            CHECK_OK(lbq_file_read(f, p2, LBQ_DS_M, 0, 3, 6, buf)); CHECK(memcmp(buf, a10 + 3, 6 * sizeof(float)) == 0);
        }
        lbq_file_close(f);
    }
    /* a pattern without {name} names the dataset inside each parameter group */
    struct lbq_open_opts o2 = { "m", "v", NULL };
    f = NULL;
    CHECK_OK(lbq_file_open(path, &o2, &f));
    if (f) {
        CHECK(lbq_file_nparams(f) == 2 && find_param(f, "state/w1") >= 0 && find_param(f, "state/blk/w2") >= 0);
        lbq_file_close(f);
    }
    /* default names find nothing here */
    f = (struct lbq_file *)1;
    int rc = lbq_file_open(path, NULL, &f);
    CHECK_MSG(rc == LBQ_ERR_FORMAT && f == NULL && strstr(lbq_errmsg(), "no parameters") && strstr(lbq_errmsg(), path), "%d %s", rc, lbq_errmsg());
    /* v pattern that does not match */
    struct lbq_open_opts o3 = { "state/{name}/m", "state/{name}/vv", NULL };
    rc = lbq_file_open(path, &o3, &f);
    CHECK_MSG(rc == LBQ_ERR_FORMAT && strstr(lbq_errmsg(), "exp_avg_sq missing") && strstr(lbq_errmsg(), "/vv'") &&
              (strstr(lbq_errmsg(), "'w1'") || strstr(lbq_errmsg(), "'blk/w2'")), "%d %s", rc, lbq_errmsg());
}

/* ================================================================================================
 * 3. Malformed inputs
 * ============================================================================================== */
/* expect lbq_file_open(path) to fail with `status` and every substring in the message */
static void expect_open_fail(const char *path, int status, const char *what, const char *const *subs)
{
    struct lbq_file *f = (struct lbq_file *)1;
    int rc = lbq_file_open(path, NULL, &f);
    CHECK_MSG(rc == status && f == NULL && has_all(lbq_errmsg(), subs), "%s: rc %d (want %d), message '%s'", what, rc, status, lbq_errmsg());
    if (rc == LBQ_OK && f && f != (struct lbq_file *)1) lbq_file_close(f);
}
#define EXPECT_OPEN_FAIL(path, status, what, ...) do { const char *s_[] = { __VA_ARGS__, NULL }; expect_open_fail(path, status, what, s_); } while (0)

static void test_malformed(void)
{
    const char *p;
    hsize_t d45[2] = { 4, 5 }, d35[2] = { 3, 5 }, d4[1] = { 4 };
    float x20[20];
    for (int i = 0; i < 20; i++) x20[i] = (float)i;

    p = P("does-not-exist.h5");
    EXPECT_OPEN_FAIL(p, LBQ_ERR_IO, "missing file", p);
    p = P("adir.h5");
    mkdir(p, 0755);
    EXPECT_OPEN_FAIL(p, LBQ_ERR_IO, "directory", p, "directory");
    p = P("empty.h5");
    fclose(fopen(p, "w"));
    EXPECT_OPEN_FAIL(p, LBQ_ERR_FORMAT, "empty file", p, "empty");
    p = P("text.h5");
    FILE *fp = fopen(p, "w");
    fputs("this is not an HDF5 file\nexp_avg 1 2 3\n", fp);
    fclose(fp);
    EXPECT_OPEN_FAIL(p, LBQ_ERR_FORMAT, "text file", p, "not an HDF5");

    /* truncated: a valid file cut to half its size */
    p = P("truncated.h5");
    hid_t fid = h5_create(p);
    static float big[16384];
    for (int i = 0; i < 16384; i++) big[i] = (float)i;
    hsize_t dbig[2] = { 128, 128 };
    h5_pair(fid, "w", 2, dbig, big, big);
    H5Fclose(fid);
    struct stat sb;
    stat(p, &sb);
    CHECK(truncate(p, sb.st_size / 2) == 0);
    EXPECT_OPEN_FAIL(p, LBQ_ERR_FORMAT, "truncated HDF5", p);

    /* integer and string datasets */
    p = P("int.h5");
    fid = h5_create(p);
    int32_t i20[20];
    for (int i = 0; i < 20; i++) i20[i] = i;
    h5_ds(fid, "wint/exp_avg", H5T_STD_I32LE, 2, d45, H5T_NATIVE_INT32, i20);
    h5_ds(fid, "wint/exp_avg_sq", H5T_IEEE_F32LE, 2, d45, H5T_NATIVE_FLOAT, x20);
    H5Fclose(fid);
    EXPECT_OPEN_FAIL(p, LBQ_ERR_FORMAT, "integer m", p, "wint", "integer");
    p = P("intv.h5");
    fid = h5_create(p);
    h5_ds(fid, "wint/exp_avg", H5T_IEEE_F32LE, 2, d45, H5T_NATIVE_FLOAT, x20);
    h5_ds(fid, "wint/exp_avg_sq", H5T_STD_I64LE, 2, d45, H5T_NATIVE_INT32, i20);
    H5Fclose(fid);
    EXPECT_OPEN_FAIL(p, LBQ_ERR_FORMAT, "integer v", p, "wint", "exp_avg_sq", "integer");
    p = P("string.h5");
    fid = h5_create(p);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 8);
    char s4[4][8] = { "a", "bb", "ccc", "dddd" };
    h5_ds(fid, "wstr/exp_avg", st, 1, d4, st, s4);
    h5_ds(fid, "wstr/exp_avg_sq", st, 1, d4, st, s4);
    H5Tclose(st);
    H5Fclose(fid);
    EXPECT_OPEN_FAIL(p, LBQ_ERR_FORMAT, "string m", p, "wstr", "string");

    /* shape mismatch, missing v, zero size, bad grads, bad param */
    p = P("mismatch.h5");
    fid = h5_create(p);
    h5_ds(fid, "wmm/exp_avg", H5T_IEEE_F32LE, 2, d45, H5T_NATIVE_FLOAT, x20);
    h5_ds(fid, "wmm/exp_avg_sq", H5T_IEEE_F32LE, 2, d35, H5T_NATIVE_FLOAT, x20);
    H5Fclose(fid);
    EXPECT_OPEN_FAIL(p, LBQ_ERR_FORMAT, "m/v shape mismatch", p, "wmm", "shape mismatch", "[4, 5]", "[3, 5]");
    p = P("nov.h5");
    fid = h5_create(p);
    h5_ds(fid, "good/exp_avg", H5T_IEEE_F32LE, 1, d4, H5T_NATIVE_FLOAT, x20);
    h5_ds(fid, "good/exp_avg_sq", H5T_IEEE_F32LE, 1, d4, H5T_NATIVE_FLOAT, x20);
    h5_ds(fid, "lonely/exp_avg", H5T_IEEE_F32LE, 2, d45, H5T_NATIVE_FLOAT, x20);
    H5Fclose(fid);
    EXPECT_OPEN_FAIL(p, LBQ_ERR_FORMAT, "v missing", p, "lonely", "exp_avg_sq missing");
    p = P("zero.h5");
    fid = h5_create(p);
    hsize_t d0[2] = { 0, 5 };
    h5_ds(fid, "wzero/exp_avg", H5T_IEEE_F32LE, 2, d0, H5T_NATIVE_FLOAT, NULL);
    h5_ds(fid, "wzero/exp_avg_sq", H5T_IEEE_F32LE, 2, d0, H5T_NATIVE_FLOAT, NULL);
    H5Fclose(fid);
    EXPECT_OPEN_FAIL(p, LBQ_ERR_FORMAT, "zero-size tensor", p, "wzero", "empty");
    p = P("grads.h5");
    fid = h5_create(p);
    hsize_t dg[3] = { 2, 5, 4 };
    static float g40[40];
    h5_pair(fid, "wg", 2, d45, x20, x20);
    h5_ds(fid, "wg/grads", H5T_IEEE_F32LE, 3, dg, H5T_NATIVE_FLOAT, g40);
    H5Fclose(fid);
    EXPECT_OPEN_FAIL(p, LBQ_ERR_FORMAT, "grads of the wrong shape", p, "wg", "grads");
    p = P("grads2.h5");
    fid = h5_create(p);
    h5_pair(fid, "wg", 2, d45, x20, x20);
    h5_ds(fid, "wg/grads", H5T_IEEE_F32LE, 2, d45, H5T_NATIVE_FLOAT, x20);   /* missing the T axis */
    H5Fclose(fid);
    EXPECT_OPEN_FAIL(p, LBQ_ERR_FORMAT, "grads without T axis", p, "wg", "grads");
    p = P("grads3.h5");                                  /* an extra trailing axis */
    fid = h5_create(p);
    hsize_t dg4[4] = { 2, 4, 5, 1 };
    h5_pair(fid, "wg", 2, d45, x20, x20);
    h5_ds(fid, "wg/grads", H5T_IEEE_F32LE, 4, dg4, H5T_NATIVE_FLOAT, g40);
    H5Fclose(fid);
    EXPECT_OPEN_FAIL(p, LBQ_ERR_FORMAT, "grads with an extra axis", p, "wg", "grads");
    p = P("param.h5");
    fid = h5_create(p);
    h5_pair(fid, "wp", 2, d45, x20, x20);
    h5_ds(fid, "wp/param", H5T_IEEE_F32LE, 2, d35, H5T_NATIVE_FLOAT, x20);
    H5Fclose(fid);
    EXPECT_OPEN_FAIL(p, LBQ_ERR_FORMAT, "param of the wrong shape", p, "wp", "param");

    /* hyper-parameters out of range; a file with no parameters */
    p = P("beta.h5");
    fid = h5_create(p);
    h5_pair(fid, "w", 1, d4, x20, x20);
    h5_attr_f64(fid, "beta1", 1.5);
    H5Fclose(fid);
    EXPECT_OPEN_FAIL(p, LBQ_ERR_FORMAT, "beta1 = 1.5", p, "beta1");
    p = P("beta2.h5");
    fid = h5_create(p);
    h5_pair(fid, "w", 1, d4, x20, x20);
    h5_attr_f64(fid, "beta2", -0.1);
    H5Fclose(fid);
    EXPECT_OPEN_FAIL(p, LBQ_ERR_FORMAT, "beta2 = -0.1", p, "beta2");
    p = P("noparams.h5");
    fid = h5_create(p);
    h5_ds(fid, "something/else", H5T_IEEE_F32LE, 1, d4, H5T_NATIVE_FLOAT, x20);
    H5Fclose(fid);
    EXPECT_OPEN_FAIL(p, LBQ_ERR_FORMAT, "no parameters", p, "no parameters");
    p = P("onlyscalar.h5");
    fid = h5_create(p);
    h5_ds(fid, "s/exp_avg", H5T_IEEE_F32LE, 0, NULL, H5T_NATIVE_FLOAT, x20);
    h5_ds(fid, "s/exp_avg_sq", H5T_IEEE_F32LE, 0, NULL, H5T_NATIVE_FLOAT, x20);
    H5Fclose(fid);
    EXPECT_OPEN_FAIL(p, LBQ_ERR_FORMAT, "only a 0-d scalar", p, "no parameters");

    /* unreadable file (meaningless as root, who can read anything) */
    p = P("unreadable.h5");
    fid = h5_create(p);
    h5_pair(fid, "w", 1, d4, x20, x20);
    H5Fclose(fid);
    chmod(p, 0);
    chmod(g_dir, 0755);                                      /* let the unprivileged child in */
    int r = as_unprivileged(open_fails_io, p);
    if (r < 0) printf("  (cannot drop privileges: unreadable-file case skipped)\n");
    else CHECK_MSG(r == 1, "unreadable file not refused with LBQ_ERR_IO");
    chmod(g_dir, 0700);
    chmod(p, 0644);

    lbq_file_close(NULL);
}

/* ================================================================================================
 * 4. The writer: temporary name + rename on commit, abort, bad output paths
 * ============================================================================================== */
static void expect_w_fail(const char *path, const char *what, const char *sub)
{
    struct lbq_h5w *w = (struct lbq_h5w *)1;
    int rc = lbq_h5w_open(path, &w);
    CHECK_MSG(rc == LBQ_ERR_OUTPUT && w == NULL && strstr(lbq_errmsg(), path) && (!sub || strstr(lbq_errmsg(), sub)),
              "writer %s: rc %d, message '%s'", what, rc, lbq_errmsg());
    if (rc == LBQ_OK && w && w != (struct lbq_h5w *)1) lbq_h5w_abort(w);
}

static void test_writer(void)
{
    const char *out = P("out.h5");
    struct lbq_h5w *w = NULL;
    struct lbq_shape s2 = { 2, { 4, 3 }, 12 }, s1 = { 1, { 5 }, 5 }, s0 = { 0, { 0 }, 1 };
    float f12[12];
    uint8_t u5[5] = { 0, 1, 127, 128, 255 };
    double d5[5] = { 1.0 / 3, -2.5, 1e-300, 1e300, 0 };
    int64_t i5[5] = { -1, 0, 1, INT64_MAX, INT64_MIN };
    for (int i = 0; i < 12; i++) f12[i] = (float)i / 7.0f;

    /* output appears only at commit */
    CHECK_OK(lbq_h5w_open(out, &w));
    if (w) {
        int a = -1, b = -1, c = -1, d = -1, e = -1;
        CHECK_OK(lbq_h5w_dset(w, "grp/sub", "f", LBQ_W_F32, &s2, &a));
        CHECK_OK(lbq_h5w_dset(w, "", "u", LBQ_W_U8, &s1, &b));
        CHECK_OK(lbq_h5w_dset(w, "grp", "d", LBQ_W_F64, &s1, &c));
        CHECK_OK(lbq_h5w_dset(w, "grp", "i", LBQ_W_I64, &s1, &d));
        CHECK_OK(lbq_h5w_dset(w, "", "scalar", LBQ_W_F64, &s0, &e));
        CHECK_OK(lbq_h5w_write(w, a, 0, 6, f12));
        CHECK_OK(lbq_h5w_write(w, a, 6, 6, f12 + 6));
        CHECK_EQ_INT(lbq_h5w_write(w, a, 1, 3, f12), LBQ_ERR_ARG);          /* not whole rows */
        CHECK_OK(lbq_h5w_write(w, b, 0, 5, u5));
        CHECK_OK(lbq_h5w_write(w, c, 0, 5, d5));
        CHECK_OK(lbq_h5w_write(w, d, 0, 5, i5));
        double pi = 3.25;
        CHECK_OK(lbq_h5w_write(w, e, 0, 1, &pi));
        CHECK_OK(lbq_h5w_attr_str(w, "", "spec", "block128-dtree:b4"));
        CHECK_OK(lbq_h5w_attr_f64(w, "grp", "x", 2.5));
        CHECK_OK(lbq_h5w_attr_i64(w, "grp/sub/f", "n", -42));
        CHECK_MSG(!exists(out), "output exists before commit");
        CHECK_MSG(count_prefix(g_dir, "out.h5.") == 1, "%d temporaries beside the output before commit", count_prefix(g_dir, "out.h5."));
        CHECK_OK(lbq_h5w_commit(w));
        CHECK(exists(out));
        CHECK_MSG(count_prefix(g_dir, "out.h5.") == 0, "temporary left after commit");
        /* read back with the raw HDF5 API */
        hid_t fid = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
        CHECK(fid >= 0);
        float rf[12] = { 0 };
        uint8_t ru[5] = { 0 };
        double rd[5] = { 0 }, rs = 0, ax = 0;
        int64_t ri[5] = { 0 }, an = 0;
        hid_t ds = H5Dopen2(fid, "grp/sub/f", H5P_DEFAULT);
        hid_t sp = H5Dget_space(ds);
        hsize_t dims[2] = { 0, 0 };
        CHECK(H5Sget_simple_extent_ndims(sp) == 2 && H5Sget_simple_extent_dims(sp, dims, NULL) == 2 && dims[0] == 4 && dims[1] == 3);
        H5Sclose(sp);
        H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, rf); H5Dclose(ds);
        ds = H5Dopen2(fid, "u", H5P_DEFAULT); H5Dread(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, ru); H5Dclose(ds);
        ds = H5Dopen2(fid, "grp/d", H5P_DEFAULT); H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, rd); H5Dclose(ds);
        ds = H5Dopen2(fid, "grp/i", H5P_DEFAULT); H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, ri); H5Dclose(ds);
        ds = H5Dopen2(fid, "scalar", H5P_DEFAULT); H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &rs); H5Dclose(ds);
        CHECK(memcmp(rf, f12, sizeof rf) == 0 && memcmp(ru, u5, sizeof ru) == 0 && memcmp(rd, d5, sizeof rd) == 0 &&
              memcmp(ri, i5, sizeof ri) == 0 && rs == 3.25);
        hid_t at = H5Aopen_by_name(fid, "grp", "x", H5P_DEFAULT, H5P_DEFAULT);
        H5Aread(at, H5T_NATIVE_DOUBLE, &ax); H5Aclose(at);
        at = H5Aopen_by_name(fid, "grp/sub/f", "n", H5P_DEFAULT, H5P_DEFAULT);
        H5Aread(at, H5T_NATIVE_INT64, &an); H5Aclose(at);
        at = H5Aopen(fid, "spec", H5P_DEFAULT);
        hid_t at_t = H5Aget_type(at);
        char sbuf[64] = { 0 };
        CHECK(H5Tget_class(at_t) == H5T_STRING && H5Tget_size(at_t) < sizeof sbuf);
        H5Aread(at, at_t, sbuf);
        H5Tclose(at_t); H5Aclose(at);
        CHECK(ax == 2.5 && an == -42 && strcmp(sbuf, "block128-dtree:b4") == 0);
        H5Fclose(fid);
    }

    /* an existing output stays intact until commit replaces it */
    w = NULL;
    CHECK_OK(lbq_h5w_open(out, &w));
    if (w) {
        int a = -1;
        struct lbq_shape s3 = { 1, { 3 }, 3 };
        CHECK_OK(lbq_h5w_dset(w, "", "new", LBQ_W_F32, &s3, &a));
        CHECK_OK(lbq_h5w_write(w, a, 0, 3, f12));
        hid_t fid = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
        CHECK_MSG(fid >= 0 && H5Lexists(fid, "grp", H5P_DEFAULT) > 0 && H5Lexists(fid, "new", H5P_DEFAULT) <= 0, "old output changed before commit");
        if (fid >= 0) H5Fclose(fid);
        CHECK_OK(lbq_h5w_commit(w));
        fid = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
        CHECK_MSG(fid >= 0 && H5Lexists(fid, "grp", H5P_DEFAULT) <= 0 && H5Lexists(fid, "new", H5P_DEFAULT) > 0, "commit did not replace the output");
        if (fid >= 0) H5Fclose(fid);
    }

    /* abort leaves nothing (and does not touch an existing output) */
    const char *out2 = P("aborted.h5");
    w = NULL;
    CHECK_OK(lbq_h5w_open(out2, &w));
    if (w) {
        int a = -1;
        CHECK_OK(lbq_h5w_dset(w, "g", "f", LBQ_W_F32, &s2, &a));
        CHECK_OK(lbq_h5w_write(w, a, 0, 12, f12));
        lbq_h5w_abort(w);
    }
    CHECK(!exists(out2));
    CHECK_MSG(count_prefix(g_dir, "aborted.h5") == 0, "abort left a temporary");
    w = NULL;
    CHECK_OK(lbq_h5w_open(out, &w));
    lbq_h5w_abort(w);
    CHECK_MSG(exists(out) && count_prefix(g_dir, "out.h5.") == 0, "abort touched the existing output or left a temporary");
    lbq_h5w_abort(NULL);

    /* bad output paths fail cleanly with LBQ_ERR_OUTPUT and a message naming the path */
    const char *dirp = P("outdir");
    mkdir(dirp, 0755);
    expect_w_fail(dirp, "path is a directory", "not a regular file");
    CHECK(count_prefix(dirp, "") == 2);                          /* only . and .. */
    expect_w_fail(P("no/such/dir/out.h5"), "missing directory", NULL);
    const char *afile = P("plainfile");
    fclose(fopen(afile, "w"));
    char under_file[700];
    snprintf(under_file, sizeof under_file, "%s/out.h5", afile);
    expect_w_fail(under_file, "parent is a file", NULL);
    const char *ro = P("readonly");
    mkdir(ro, 0555);
    chmod(ro, 0555);
    char ro_out[700];
    snprintf(ro_out, sizeof ro_out, "%s/out.h5", ro);
    chmod(g_dir, 0755);
    int r = as_unprivileged(writer_fails_io, ro_out);
    if (r < 0) printf("  (cannot drop privileges: read-only directory case skipped)\n");
    else CHECK_MSG(r == 1, "read-only directory not refused with LBQ_ERR_OUTPUT");
    CHECK(count_prefix(ro, "out.h5") == 0);
    chmod(g_dir, 0700);

    /* /dev/full: refused without creating, replacing or writing anything */
    struct stat before, after;
    if (stat("/dev/full", &before) == 0 && S_ISCHR(before.st_mode)) {
        expect_w_fail("/dev/full", "/dev/full", "not a regular file");
        CHECK(stat("/dev/full", &after) == 0 && S_ISCHR(after.st_mode) && after.st_rdev == before.st_rdev && after.st_ino == before.st_ino);
        char tmpname[64];
        snprintf(tmpname, sizeof tmpname, "/dev/full.tmp-%ld", (long)getpid());
        CHECK_MSG(!exists(tmpname), "%s was created", tmpname);
        CHECK(count_prefix("/dev", "full.") == 0);
    } else printf("  (no /dev/full: case skipped)\n");
}


/* ================================================================================================
 * 5. Issue 16: names, links, locks, negative v, output rules
 * ============================================================================================== */
static void esc_is(const char *in, int mode, const char *want)
{
    char out[256];
    size_t n = lbq_name_escape(in, out, sizeof out, mode);
    CHECK_MSG(strcmp(out, want) == 0 && n == strlen(want), "escape(mode %d): got '%s' (%zu), want '%s'", mode, out, n, want);
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    if (fp) { fputs(text, fp); fclose(fp); }
}

static int file_is(const char *path, const char *text)
{
    char buf[256] = {0};
    FILE *fp = fopen(path, "r");
    if (!fp) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    return strcmp(buf, text) == 0;
}

/* h5_pair for names of any length */
static void h5_pair_long(hid_t fid, const char *group, const hsize_t *dims, const float *m, const float *v)
{
    size_t n = strlen(group) + 16;
    char *p = malloc(n);
    snprintf(p, n, "%s/exp_avg", group);
    h5_ds(fid, p, H5T_IEEE_F32LE, 1, dims, H5T_NATIVE_FLOAT, m);
    snprintf(p, n, "%s/exp_avg_sq", group);
    h5_ds(fid, p, H5T_IEEE_F32LE, 1, dims, H5T_NATIVE_FLOAT, v);
    free(p);
}

static void test_issue16(void)
{
    /* escaping */
    esc_is("plain.name/x", LBQ_ESC_NAME, "plain.name/x");
    esc_is("w\xff\xfe", LBQ_ESC_NAME, "w\\xff\\xfe");
    esc_is("t\tab\nc\r", LBQ_ESC_NAME, "t\\tab\\nc\\r");
    esc_is("a\\b", LBQ_ESC_NAME, "a\\\\b");
    esc_is("\x01\x7f", LBQ_ESC_NAME, "\\x01\\x7f");
    esc_is("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", LBQ_ESC_NAME, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");   /* valid UTF-8 kept */
    esc_is("\xc0\x80", LBQ_ESC_NAME, "\\xc0\\x80");                 /* overlong */
    esc_is("\xed\xa0\x80", LBQ_ESC_NAME, "\\xed\\xa0\\x80");       /* a surrogate */
    esc_is("\xf4\x90\x80\x80", LBQ_ESC_NAME, "\\xf4\\x90\\x80\\x80");  /* > U+10FFFF */
    esc_is("\xe2\x82", LBQ_ESC_NAME, "\\xe2\\x82");               /* cut short */
    esc_is("t\tb\\\xff", LBQ_ESC_UTF8, "t\tb\\\\xff");
    esc_is("\"a\xff\"", LBQ_ESC_JSON, "\"a\\\\xff\"");
    char small[8];
    size_t need = lbq_name_escape("ab\xff\xfe", small, sizeof small, LBQ_ESC_NAME);
    CHECK_EQ_INT(need, 10);
    CHECK_MSG(strcmp(small, "ab\\xff") == 0, "cut at a whole escape: '%s'", small);

    /* names: up to 511 bytes kept; longer ones refused naming the parameter, not dropped */
    char *n511 = malloc(600), *n600 = malloc(700), *n5000 = malloc(5100);
    memset(n511, 'k', 511); n511[511] = 0;
    memset(n600, 'a', 600); n600[600] = 0;
    memset(n5000, 'z', 5000); n5000[5000] = 0;
    float m[4] = { 1, 2, 3, 4 }, v[4] = { 0.5f, -1e-9f, 0.25f, -2 };
    hsize_t d4[1] = { 4 };
    const char *fl = P("long-names.h5");
    hid_t fid = h5_create(fl);
    h5_pair_long(fid, n511, d4, m, v);
    h5_pair_long(fid, n600, d4, m, v);
    h5_pair_long(fid, n5000, d4, m, v);
    h5_pair(fid, "b", 1, d4, m, v);
    H5Fclose(fid);
    struct lbq_file *f = NULL;
    int rc = lbq_file_open(fl, NULL, &f);
    CHECK_MSG(rc == LBQ_ERR_FORMAT && strstr(lbq_errmsg(), "parameter names longer than 511 bytes are not supported") &&
              ((strstr(lbq_errmsg(), "tensor 'aaaaaaaaaa") && strstr(lbq_errmsg(), "(600 bytes)")) ||
               (strstr(lbq_errmsg(), "tensor 'zzzzzzzzzz") && strstr(lbq_errmsg(), "(5000 bytes)"))), "long name: rc %d '%s'", rc, lbq_errmsg());
    lbq_file_close(f); f = NULL;
    struct lbq_open_opts oo = { NULL, NULL, "[bk]*" };
    CHECK_OK(lbq_file_open(fl, &oo, &f));
    if (f) {
        CHECK_EQ_INT(lbq_file_nparams(f), 2);
        int i = find_param(f, n511);
        CHECK_MSG(i >= 0, "the 511-byte name is kept whole");
        if (i >= 0) CHECK(strcmp(lbq_file_param_raw_name(f, i), n511) == 0);
        lbq_file_close(f); f = NULL;
    }
    struct lbq_open_opts oz = { NULL, NULL, "z*" };
    rc = lbq_file_open(fl, &oz, &f);
    CHECK_MSG(rc == LBQ_ERR_FORMAT && strstr(lbq_errmsg(), "(5000 bytes)"), "5000-byte name: rc %d '%s'", rc, lbq_errmsg());
    lbq_file_close(f); f = NULL;

    /* escaped names; the raw name stays available; negative v counted once over repeated reads */
    const char *fe = P("odd-names.h5");
    fid = h5_create(fe);
    h5_pair(fid, "w\xff\xfe", 1, d4, m, v);
    h5_pair(fid, "t\tab", 1, d4, m, v);
    H5Fclose(fid);
    CHECK_OK(lbq_file_open(fe, NULL, &f));
    if (f) {
        CHECK_EQ_INT(lbq_file_nparams(f), 2);
        int a = find_param(f, "w\\xff\\xfe"), b = find_param(f, "t\\tab");
        CHECK_MSG(a >= 0 && b >= 0, "escaped display names");
        if (a >= 0) {
            CHECK(strcmp(lbq_file_param_raw_name(f, a), "w\xff\xfe") == 0);
            float x[4];
            CHECK_OK(lbq_file_read(f, a, LBQ_DS_V, 0, 0, 2, x));
            CHECK_OK(lbq_file_read(f, a, LBQ_DS_V, 0, 2, 2, x));
            CHECK_OK(lbq_file_read(f, a, LBQ_DS_V, 0, 0, 4, x));       /* a second pass */
            CHECK_EQ_INT(lbq_file_negative_v(f, a), 2);
        }
        if (b >= 0) CHECK_EQ_INT(lbq_file_negative_v(f, b), 0);
        lbq_file_close(f); f = NULL;
    }

    /* one dataset under several names: counted once, with a notice; a soft link alone is kept */
    const char *fs = P("links.h5");
    fid = h5_create(fs);
    h5_pair(fid, "w", 1, d4, m, v);
    H5Gclose(H5Gcreate2(fid, "alias", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Lcreate_soft("/w/exp_avg", fid, "alias/exp_avg", H5P_DEFAULT, H5P_DEFAULT);
    H5Lcreate_soft("/w/exp_avg_sq", fid, "alias/exp_avg_sq", H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(H5Gcreate2(fid, "x", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Lcreate_hard(fid, "/w/exp_avg", fid, "x/exp_avg", H5P_DEFAULT, H5P_DEFAULT);
    H5Lcreate_hard(fid, "/w/exp_avg_sq", fid, "x/exp_avg_sq", H5P_DEFAULT, H5P_DEFAULT);
    h5_ds(fid, "store/m", H5T_IEEE_F32LE, 1, d4, H5T_NATIVE_FLOAT, m);
    H5Gclose(H5Gcreate2(fid, "only", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Lcreate_soft("/store/m", fid, "only/exp_avg", H5P_DEFAULT, H5P_DEFAULT);
    h5_ds(fid, "only/exp_avg_sq", H5T_IEEE_F32LE, 1, d4, H5T_NATIVE_FLOAT, v);
    H5Fclose(fid);
    CHECK_OK(lbq_file_open(fs, NULL, &f));
    if (f) {
        CHECK_EQ_INT(lbq_file_nparams(f), 2);
        CHECK(find_param(f, "w") >= 0);         /* the first hard-link name in path order: 'w' < 'x' */
        CHECK(find_param(f, "only") >= 0);
        CHECK(find_param(f, "alias") < 0 && find_param(f, "x") < 0);
        CHECK(note_has(f, "tensor 'alias': exp_avg is a soft link to the dataset of tensor 'w'", "counted once"));
        CHECK(note_has(f, "tensor 'x': exp_avg is another name (hard link) to the dataset of tensor 'w'", NULL));
        lbq_file_close(f); f = NULL;
    }
    const char *fx = P("extlink.h5");
    fid = h5_create(fx);
    H5Gclose(H5Gcreate2(fid, "e", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Lcreate_external(fs, "/w/exp_avg", fid, "e/exp_avg", H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(fid);
    rc = lbq_file_open(fx, NULL, &f);
    CHECK_MSG(rc == LBQ_ERR_FORMAT && strstr(lbq_errmsg(), "tensor 'e': exp_avg is an external link to another file"), "external link: rc %d '%s'", rc, lbq_errmsg());
    lbq_file_close(f); f = NULL;

    /* a file locked by a writer (an exclusive flock, as libhdf5's writers take) */
    int fd = open(fs, O_RDONLY);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
        rc = lbq_file_open(fs, NULL, &f);
        CHECK_MSG(rc == LBQ_ERR_IO && strstr(lbq_errmsg(), "locked by another process that has it open for writing"), "locked: rc %d '%s'", rc, lbq_errmsg());
        lbq_file_close(f); f = NULL;
        flock(fd, LOCK_UN);
    } else printf("  (flock unavailable: locked-file case skipped)\n");
    if (fd >= 0) close(fd);

    /* outputs never write an input of this process: the input itself, a symlink, a hard link */
    CHECK_OK(lbq_file_open(fe, NULL, &f));      /* registers fe */
    lbq_file_close(f); f = NULL;
    struct stat s0, s1;
    stat(fe, &s0);
    const char *lk = P("input-link.h5"), *hl = P("input-hard.h5");
    CHECK(symlink(fe, lk) == 0);
    CHECK(link(fe, hl) == 0);
    const char *outs[3] = { fe, lk, hl };
    for (int k = 0; k < 3; k++) {
        rc = lbq_write_atomic(outs[k], "x\n", 2);
        CHECK_MSG(rc == LBQ_ERR_OUTPUT && strstr(lbq_errmsg(), "is the input file"), "write_atomic %s: rc %d '%s'", outs[k], rc, lbq_errmsg());
        struct lbq_h5w *w = NULL;
        rc = lbq_h5w_open(outs[k], &w);
        CHECK_MSG(rc == LBQ_ERR_OUTPUT && w == NULL && strstr(lbq_errmsg(), "is the input file"), "h5w_open %s: rc %d '%s'", outs[k], rc, lbq_errmsg());
        if (w) lbq_h5w_abort(w);
    }
    CHECK(stat(fe, &s1) == 0 && s1.st_size == s0.st_size && s1.st_mtime == s0.st_mtime && s1.st_ino == s0.st_ino);
    CHECK(lbq_same_file(lk, fe) && lbq_same_file(hl, fe) && !lbq_same_file(fs, fe));

    /* a symlinked output: the target is replaced, the link stays */
    const char *tg = P("target.txt"), *ln = P("out-link.txt");
    write_text(tg, "old\n");
    CHECK(symlink("target.txt", ln) == 0);
    CHECK_OK(lbq_write_atomic(ln, "new\n", 4));
    struct stat ls;
    CHECK(lstat(ln, &ls) == 0 && S_ISLNK(ls.st_mode));
    CHECK(file_is(tg, "new\n"));
    CHECK(count_prefix(g_dir, "target.txt.tmp-") == 0);
    struct lbq_h5w *w = NULL;
    const char *hl2 = P("h5-link.h5"), *ht = P("h5-target.h5");
    CHECK(symlink("h5-target.h5", hl2) == 0);     /* dangling: the target is created */
    CHECK_OK(lbq_h5w_open(hl2, &w));
    if (w) CHECK_OK(lbq_h5w_commit(w));
    CHECK(lstat(hl2, &ls) == 0 && S_ISLNK(ls.st_mode));
    CHECK(stat(ht, &ls) == 0 && S_ISREG(ls.st_mode) && H5Fis_hdf5(ht) > 0);
    /* a character device is written in place (JSON and text), never replaced */
    CHECK_OK(lbq_write_atomic("/dev/null", "x\n", 2));
    CHECK(stat("/dev/null", &ls) == 0 && S_ISCHR(ls.st_mode));

    /* registered temporary files: unlinked by lbq_tmp_unlink_all (the signal handlers), once removed no more */
    const char *t1 = P("a.tmp-1"), *t2 = P("b.tmp-2");
    write_text(t1, "1"); write_text(t2, "2");
    lbq_tmp_add(t1); lbq_tmp_add(t2);
    lbq_tmp_remove(t2);
    lbq_tmp_unlink_all();
    CHECK(!exists(t1) && exists(t2));
    lbq_tmp_remove(t1);
    free(n511); free(n600); free(n5000);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/lbq-test-h5io-XXXXXX");
    if (!mkdtemp(g_dir)) { perror("mkdtemp"); return 1; }
    test_roundtrip();
    test_raw_fixtures();
    test_malformed();
    test_writer();
    test_issue16();
    rm_rf(g_dir);
    CHECK_MSG(!exists(g_dir), "temp dir %s not removed", g_dir);
    return TEST_END();
}
