/* gen-h5-seeds.c - writes the small valid moment files that seed fuzz-h5 (fuzz/corpus/fuzz-h5/).
 *
 *   build-fuzz/gen-h5-seeds DIR      (fuzz/run.sh --seeds does this)
 *
 * Together with tests/data/fx-*.h5 (h5py, superblock 0, the bad-input fixtures) they cover the
 * on-disk structures the reader walks: the lbq writer's own output (lbq_h5w_*), the latest file
 * format (superblock 3, version 2 object headers, compact and dense link storage in fractal heaps,
 * fixed-array / extensible-array / version 2 B-tree chunk indexes), chunked datasets with the
 * deflate, shuffle and fletcher32 filters, compact and contiguous layouts, float16 / big-endian
 * float32 / float64 data, integer and float root attributes, nested groups and gradient streams.
 * Every file stays under 16 KiB.  Values are deterministic. */
#include "lbq.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *g_dir;
static int g_fail = 0;

#define H5CHK(x) do { if ((x) < 0) { fprintf(stderr, "gen-h5-seeds: %s:%d: %s failed\n", __FILE__, __LINE__, #x); g_fail = 1; } } while (0)

static const char *path_of(const char *name)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/%s", g_dir, name);
    return buf;
}

static void moments(float *m, float *v, int n, int salt)
{
    for (int i = 0; i < n; i++) {
        double t = sin(0.7 * i + salt) * 1e-3;
        m[i] = (float)t;
        v[i] = (float)(t * t + 1e-7 * (1 + (i + salt) % 5));
    }
}

/* 1. lbq's own writer */
static void seed_writer(void)
{
    struct lbq_h5w *w;
    int ds;
    float m[64], v[64], g[64];
    if (lbq_h5w_open(path_of("writer.h5"), &w)) { fprintf(stderr, "%s\n", lbq_errmsg()); g_fail = 1; return; }
    lbq_h5w_attr_i64(w, "", "lbq_format", 1);
    lbq_h5w_attr_i64(w, "", "step", 100);
    lbq_h5w_attr_f64(w, "", "beta1", 0.9);
    lbq_h5w_attr_f64(w, "", "beta2", 0.999);
    lbq_h5w_attr_f64(w, "", "eps", 1e-8);
    lbq_h5w_attr_f64(w, "", "lr", 1e-3);
    struct lbq_shape s2 = { 2, { 4, 8 }, 32 }, s1 = { 1, { 6 }, 6 }, s3 = { 3, { 3, 2, 2 }, 12 }, sg = { 4, { 2, 3, 2, 2 }, 24 };
    moments(m, v, 32, 1);
    lbq_h5w_dset(w, "w", "exp_avg", LBQ_W_F32, &s2, &ds); lbq_h5w_write(w, ds, 0, 32, m);
    lbq_h5w_dset(w, "w", "exp_avg_sq", LBQ_W_F32, &s2, &ds); lbq_h5w_write(w, ds, 0, 32, v);
    lbq_h5w_dset(w, "w", "param", LBQ_W_F32, &s2, &ds); lbq_h5w_write(w, ds, 0, 32, m);
    moments(m, v, 6, 2);
    lbq_h5w_dset(w, "b", "exp_avg", LBQ_W_F32, &s1, &ds); lbq_h5w_write(w, ds, 0, 6, m);
    lbq_h5w_dset(w, "b", "exp_avg_sq", LBQ_W_F32, &s1, &ds); lbq_h5w_write(w, ds, 0, 6, v);
    moments(m, v, 12, 3);
    for (int i = 0; i < 24; i++) g[i] = (float)(0.5e-3 * cos(i));
    lbq_h5w_dset(w, "blk/emb", "exp_avg", LBQ_W_F32, &s3, &ds); lbq_h5w_write(w, ds, 0, 12, m);
    lbq_h5w_dset(w, "blk/emb", "exp_avg_sq", LBQ_W_F32, &s3, &ds); lbq_h5w_write(w, ds, 0, 12, v);
    lbq_h5w_dset(w, "blk/emb", "grads", LBQ_W_F32, &sg, &ds); lbq_h5w_write(w, ds, 0, 24, g);
    if (lbq_h5w_commit(w)) { fprintf(stderr, "%s\n", lbq_errmsg()); g_fail = 1; }
}

static hid_t create(const char *name, int latest)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (latest) H5CHK(H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST));
    hid_t f = H5Fcreate(path_of(name), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0) { fprintf(stderr, "gen-h5-seeds: cannot create %s\n", path_of(name)); exit(1); }
    return f;
}

static void attr_d(hid_t obj, const char *name, hid_t ftype, double v)
{
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT);
    H5CHK(H5Awrite(a, H5T_NATIVE_DOUBLE, &v));
    H5Aclose(a); H5Sclose(s);
}

/* dataset `name` in loc: file type ftype, rank/dims, data (float32 in memory), creation plist dcpl */
static void dset(hid_t loc, const char *name, hid_t ftype, int rank, const hsize_t *dims, const hsize_t *maxdims,
                 hid_t dcpl, const float *data)
{
    hid_t s = H5Screate_simple(rank, dims, maxdims);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(loc, name, ftype, s, lcpl, dcpl, H5P_DEFAULT);
    H5CHK(d);
    if (data) H5CHK(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    H5Dclose(d); H5Pclose(lcpl); H5Sclose(s);
}

/* 2. latest format, chunked + deflate + shuffle + fletcher32 (fixed-array index), float64 v */
static void seed_latest_filters(void)
{
    float m[32], v[32];
    hid_t f = create("latest-filters.h5", 1);
    attr_d(f, "step", H5T_STD_I32LE, 7);
    attr_d(f, "beta1", H5T_IEEE_F32LE, 0.9);
    attr_d(f, "beta2", H5T_IEEE_F64LE, 0.95);
    attr_d(f, "eps", H5T_IEEE_F64BE, 1e-6);
    hsize_t dims[2] = { 4, 8 }, chunk[2] = { 2, 4 };
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, chunk);
    H5Pset_fletcher32(dcpl);
    H5Pset_shuffle(dcpl);
    H5Pset_deflate(dcpl, 6);
    moments(m, v, 32, 4);
    dset(f, "layer/w/exp_avg", H5T_IEEE_F32LE, 2, dims, NULL, dcpl, m);
    dset(f, "layer/w/exp_avg_sq", H5T_IEEE_F64LE, 2, dims, NULL, H5P_DEFAULT, v);
    H5Pclose(dcpl);
    H5Fclose(f);
}

/* 3. float16 compact m, big-endian float32 v, 1-D */
static void seed_f16_compact(void)
{
    float m[5], v[5];
    hid_t f = create("f16-compact.h5", 0);
    attr_d(f, "step", H5T_STD_I64LE, 3);
    hid_t f16 = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(f16, 15, 10, 5, 0, 10);
    H5Tset_size(f16, 2);
    H5Tset_ebias(f16, 15);
    hsize_t dims[1] = { 5 };
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_layout(dcpl, H5D_COMPACT);
    moments(m, v, 5, 5);
    dset(f, "bias/exp_avg", f16, 1, dims, NULL, dcpl, m);
    dset(f, "bias/exp_avg_sq", H5T_IEEE_F32BE, 1, dims, NULL, H5P_DEFAULT, v);
    dset(f, "bias/param", f16, 1, dims, NULL, dcpl, m);
    H5Pclose(dcpl); H5Tclose(f16);
    H5Fclose(f);
}

/* 4. latest format, dense links (more than 8 in the root: fractal heap + v2 B-tree name index),
 *    tiny tensors, a decoy group named exp_avg and a zero-step gradient stream */
static void seed_dense(void)
{
    float m[4], v[4];
    hid_t f = create("dense-links.h5", 1);
    attr_d(f, "beta1", H5T_IEEE_F64LE, 0.8);
    attr_d(f, "lr", H5T_IEEE_F64LE, 0.01);
    hsize_t d1[1] = { 2 }, dg[2] = { 0, 2 };
    for (int i = 0; i < 10; i++) {
        char n[64];
        moments(m, v, 2, 10 + i);
        snprintf(n, sizeof n, "p%02d/exp_avg", i); dset(f, n, H5T_IEEE_F32LE, 1, d1, NULL, H5P_DEFAULT, m);
        snprintf(n, sizeof n, "p%02d/exp_avg_sq", i); dset(f, n, H5T_IEEE_F32LE, 1, d1, NULL, H5P_DEFAULT, v);
    }
    dset(f, "p00/grads", H5T_IEEE_F32LE, 2, dg, NULL, H5P_DEFAULT, NULL);
    hid_t g = H5Gcreate2(f, "decoy/exp_avg", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) {        /* intermediate group */
        hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
        H5Pset_create_intermediate_group(lcpl, 1);
        g = H5Gcreate2(f, "decoy/exp_avg", lcpl, H5P_DEFAULT, H5P_DEFAULT);
        H5Pclose(lcpl);
    }
    if (g >= 0) H5Gclose(g);
    H5Fclose(f);
}

/* 5. latest format, chunked with unlimited dimensions: extensible-array (one unlimited dim) and
 *    version 2 B-tree (two) chunk indexes; gradient stream [T, ...] chunked by step */
static void seed_unlimited(void)
{
    float m[24], v[24], g[48];
    hid_t f = create("unlimited-chunks.h5", 1);
    attr_d(f, "step", H5T_STD_U16LE, 50);
    attr_d(f, "eps", H5T_IEEE_F32LE, 1e-8);
    hsize_t dims[2] = { 4, 6 }, max1[2] = { H5S_UNLIMITED, 6 }, max2[2] = { H5S_UNLIMITED, H5S_UNLIMITED }, chunk[2] = { 2, 3 };
    hsize_t dg[3] = { 2, 4, 6 }, mg[3] = { H5S_UNLIMITED, 4, 6 }, cg[3] = { 1, 4, 6 };
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, chunk);
    moments(m, v, 24, 6);
    for (int i = 0; i < 48; i++) g[i] = (float)(1e-3 * sin(3.0 * i));
    dset(f, "fc/exp_avg", H5T_IEEE_F32LE, 2, dims, max1, dcpl, m);
    dset(f, "fc/exp_avg_sq", H5T_IEEE_F32LE, 2, dims, max2, dcpl, v);
    H5Pclose(dcpl);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 3, cg);
    dset(f, "fc/grads", H5T_IEEE_F32LE, 3, dg, mg, dcpl, g);
    H5Pclose(dcpl);
    H5Fclose(f);
}

/* 6. edge values: NaN / Inf / huge / subnormal / exact zeros in m and v (earliest format) */
static void seed_edge_values(void)
{
    float m[16], v[16];
    hid_t f = create("edge-values.h5", 0);
    attr_d(f, "step", H5T_STD_I64LE, 1);
    attr_d(f, "beta1", H5T_IEEE_F64LE, 0.9);
    attr_d(f, "beta2", H5T_IEEE_F64LE, 0.999);
    attr_d(f, "eps", H5T_IEEE_F64LE, 1e-8);
    moments(m, v, 16, 7);
    m[0] = NAN; m[1] = INFINITY; m[2] = -3e38f; m[3] = 1e-45f; m[4] = 0.0f; m[5] = -0.0f;
    v[6] = 0.0f; v[7] = INFINITY; v[8] = 3e38f; v[9] = 1e-45f; v[10] = -1e-3f; v[11] = NAN;
    hsize_t dims[2] = { 2, 8 };
    dset(f, "x/exp_avg", H5T_IEEE_F32LE, 2, dims, NULL, H5P_DEFAULT, m);
    dset(f, "x/exp_avg_sq", H5T_IEEE_F32LE, 2, dims, NULL, H5P_DEFAULT, v);
    H5Fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: gen-h5-seeds DIR\n"); return 2; }
    g_dir = argv[1];
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    seed_writer();
    seed_latest_filters();
    seed_f16_compact();
    seed_dense();
    seed_unlimited();
    seed_edge_values();
    return g_fail;
}
