/* h5io.c - reading lbq moment files and writing lbq's own HDF5 outputs (docs/format.md).
 *
 * libhdf5's own error printing is switched off; every failure becomes one lbq error naming the
 * file and, where relevant, the tensor and dataset. */
#include "lbq-impl.h"
#include "lbq-json.h"

#include <errno.h>
#include <fnmatch.h>
#include <hdf5.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const g_ds_label[LBQ_DS_COUNT] = { "exp_avg", "exp_avg_sq", "param", "grads" };

struct lbq_param_rec {
    struct lbq_param_info info;     /* info.name: the name escaped for display (lbq_name_escape) */
    char   *raw;                    /* the name as stored in the file (the {name} of the pattern) */
    char   *path[LBQ_DS_COUNT];     /* dataset paths, NULL if absent */
    int64_t read[LBQ_DS_COUNT];
    int64_t chunk_bytes[LBQ_DS_COUNT];  /* uncompressed bytes of one chunk (chunked layout), else 0 */
    int64_t negv, negv_end;         /* negative v values seen in the first pass over [0, negv_end) */
    uint64_t hash[2];               /* fingerprint of m and v over [0, hash_end) (lbq_file_fingerprint) */
    int64_t hash_end[2];
    int     hash_set;               /* given by lbq_file_fingerprint_set (MPI: another rank read it) */
    uint64_t hash_given;
    int     soft;                   /* exp_avg reached through a soft link */
    int     alias;                  /* exp_avg has other names (soft link, or hard links rc > 1) */
    unsigned char key[16];          /* exp_avg's object (address or token), when haskey */
    int     haskey;
};

struct lbq_file {
    char   *path;
    hid_t   fid;
    hsize_t fsize;                  /* bytes, from stat() at open */
    struct lbq_hparams hp;
    struct lbq_param_rec *params;
    int     nparams, cap;
    char  **notes;
    int     nnotes;
    /* discovery state */
    char    m_pre[LBQ_NAME_MAX], m_suf[LBQ_NAME_MAX], v_pre[LBQ_NAME_MAX], v_suf[LBQ_NAME_MAX];
    const char *glob;
    int     rc;
    /* reads: the chunked datasets of the parameter being read stay open (with their chunk cache)
     * until a read of another parameter, a failed read or lbq_file_close */
    hid_t   rd[LBQ_DS_COUNT];
    int     rd_param[LBQ_DS_COUNT];
    int     rd_keep[LBQ_DS_COUNT];  /* chunked: kept open; other layouts are closed after the read */
    size_t  cache_bytes;            /* chunk cache per open dataset (at least one chunk: rd_open) */
    int64_t mem_limit;              /* lbq_file_set_mem_limit; 0: none */
    int     no_hash;                /* lbq_file_set_fingerprint(f, 0): reads compute no fingerprint */
};

/* libhdf5 closes what is still open at exit (H5_term_library, registered with atexit).  After a
 * failed close (a full disk: the flush of the close fails) libhdf5 1.10 keeps the file's ID but
 * not a consistent file object, and closing it again at exit faults (H5F__close_cb).  So lbq
 * registers the exit-time H5close itself and skips it once a close of an output has failed
 * (g_h5_poisoned); the process exits all the same, its descriptors closed by the kernel. */
static volatile int g_h5_poisoned;
static void h5_atexit(void) { if (!g_h5_poisoned) H5close(); }
static void h5_init(void) { if (H5dont_atexit() >= 0) atexit(h5_atexit); }
static void h5_quiet(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, h5_init);       /* before any other call into libhdf5 */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static int add_note(struct lbq_file *f, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int add_note(struct lbq_file *f, const char *fmt, ...)
{
    char buf[LBQ_NAME_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **nn = realloc(f->notes, sizeof(char *) * (size_t)(f->nnotes + 1));
    if (!nn) return LBQ_ERR_NOMEM;
    f->notes = nn;
    f->notes[f->nnotes] = strdup(buf);
    if (!f->notes[f->nnotes]) return LBQ_ERR_NOMEM;
    f->nnotes++;
    return LBQ_OK;
}

/* split a "{name}" pattern into prefix/suffix; a pattern without {name} names the dataset
 * inside each parameter group ("exp_avg" == "{name}/exp_avg"). */
static void split_pattern(const char *pat, char *pre, char *suf)
{
    const char *p = strstr(pat, "{name}");
    if (!p) { pre[0] = 0; snprintf(suf, LBQ_NAME_MAX, "/%s", pat); return; }
    size_t k = (size_t)(p - pat);
    if (k >= LBQ_NAME_MAX) k = LBQ_NAME_MAX - 1;
    memcpy(pre, pat, k); pre[k] = 0;
    snprintf(suf, LBQ_NAME_MAX, "%s", p + 6);
}

/* A number type whose bit fields fit its size.  A corrupt datatype message can decode to, e.g.,
 * precision 0 or fields past the end, and libhdf5 1.10 converts such a type with out-of-bounds bit
 * copies (a crash, not an error): refuse it before any read. */
static int h5_type_sane(hid_t t)
{
    H5T_class_t c = H5Tget_class(t);
    size_t size = H5Tget_size(t), prec = H5Tget_precision(t);
    int off = H5Tget_offset(t);
    if (c != H5T_INTEGER && c != H5T_FLOAT) return 0;
    if (size < 1 || size > 16 || prec < 1 || off < 0 || (size_t)off + prec > 8 * size) return 0;
    if (c == H5T_FLOAT) {
        size_t sp, ep, es, mp, ms, lo = (size_t)off, hi = (size_t)off + prec;
        if (H5Tget_fields(t, &sp, &ep, &es, &mp, &ms) < 0) return 0;
        if (es < 1 || es > 32 || ms < 1 || sp < lo || sp >= hi || ep < lo || ep + es > hi || mp < lo || mp + ms > hi) return 0;
    }
    return 1;
}

/* The stored data of a dataset with numel > 0 must be there (docs/format.md, "Storage"): a moment
 * file stores every element.  Checked before anything is allocated for the tensor, so a small file
 * that declares a huge shape (an unwritten chunked dataset reads as its fill value, from no bytes)
 * is a format error, not a huge allocation.
 *   contiguous  H5Dget_storage_size >= numel x element size (0 when never written)
 *   chunked     every chunk covering the extent is allocated (H5Dget_num_chunks); with filters the
 *               data may be far larger than its storage, so the bytes are not compared
 *   compact     storage == numel x element size (libhdf5 1.10 reads a short compact buffer without
 *               checking it: a crash, fuzz finding #3)
 *   any layout  the storage it declares fits in the file
 *   external files and virtual datasets are refused (their data are not in this file) */
static int ds_storage_check(struct lbq_file *f, hid_t d, const char *pname, const char *label,
                            int rank, int64_t numel, size_t esize, int64_t *chunk_bytes)
{
    int rc = LBQ_OK;
    hid_t dcpl = H5Dget_create_plist(d);
    if (dcpl < 0) return lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': %s has an unreadable storage layout", f->path, pname, label);
    H5D_layout_t lay = H5Pget_layout(dcpl);
    hsize_t need = (hsize_t)numel * (hsize_t)esize;
    if (lay == H5D_VIRTUAL) { rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': %s is a virtual dataset (not supported)", f->path, pname, label); goto cleanup; }
    if (lay == H5D_CONTIGUOUS && H5Pget_external_count(dcpl) > 0) {
        rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': %s keeps its data in external files (not supported)", f->path, pname, label);
        goto cleanup;
    }
    if (lay != H5D_COMPACT && lay != H5D_CONTIGUOUS && lay != H5D_CHUNKED) {
        rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': %s has an unknown storage layout (corrupt?)", f->path, pname, label);
        goto cleanup;
    }
    hsize_t have = H5Dget_storage_size(d);
    if (lay == H5D_COMPACT && have != need) {
        rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': %s has corrupt compact storage", f->path, pname, label);
        goto cleanup;
    }
    if (have > f->fsize) {
        rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': %s claims %llu bytes of storage in a file of %llu bytes (truncated or corrupt?)",
                     f->path, pname, label, (unsigned long long)have, (unsigned long long)f->fsize);
        goto cleanup;
    }
    if (lay == H5D_CONTIGUOUS && have < need) {
        if (have == 0) rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': %s has no data written (%lld elements declared)", f->path, pname, label, (long long)numel);
        else rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': %s stores %llu bytes, its %lld elements need %llu (truncated or corrupt?)",
                          f->path, pname, label, (unsigned long long)have, (long long)numel, (unsigned long long)need);
        goto cleanup;
    }
    if (lay == H5D_CHUNKED) {
        hsize_t cd[LBQ_MAX_RANK + 1], dims[LBQ_MAX_RANK + 1], want = 1, got = 0;
        hid_t s = H5Dget_space(d);
        int ok = s >= 0 && H5Pget_chunk(dcpl, LBQ_MAX_RANK + 1, cd) == rank && H5Sget_simple_extent_dims(s, dims, NULL) == rank;
        for (int i = 0; ok && i < rank; i++) {
            if (cd[i] == 0) { ok = 0; break; }
            want *= (dims[i] + cd[i] - 1) / cd[i];      /* <= numel <= 2^42: no overflow */
        }
        if (!ok) {
            if (s >= 0) H5Sclose(s);
            rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': %s has a corrupt chunk layout", f->path, pname, label);
            goto cleanup;
        }
        double cb = (double)esize;
        for (int i = 0; i < rank; i++) cb *= (double)(cd[i] < dims[i] ? cd[i] : dims[i]);   /* a chunk past the extent holds no more */
        *chunk_bytes = cb > 4e18 ? (int64_t)4e18 : (int64_t)cb;
#if H5_VERSION_GE(1, 10, 5)
        /* (1.10.8 refuses H5S_ALL here, though documented; the whole dataspace counts every chunk) */
        herr_t e = H5Dget_num_chunks(d, s, &got);
        H5Sclose(s);
        if (e < 0) {
            rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': %s has an unreadable chunk index (truncated or corrupt?)", f->path, pname, label);
            goto cleanup;
        }
#else
        H5Sclose(s);
        /* no H5Dget_num_chunks before 1.10.5: whole chunks' bytes, for unfiltered data only */
        hsize_t cbytes = esize;
        for (int i = 0; i < rank; i++) cbytes *= cd[i];
        got = H5Pget_nfilters(dcpl) > 0 ? want : have / cbytes;
#endif
        if (got < want) {
            rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': %s has %llu of its %llu chunks written (a sparse or unfinished dataset; every element must be stored)",
                         f->path, pname, label, (unsigned long long)got, (unsigned long long)want);
            goto cleanup;
        }
    }
cleanup:
    H5Pclose(dcpl);
    return rc;
}

/* Inspect a dataset: float class, storage width, shape, stored data.  Returns LBQ_OK or an error. */
static int ds_probe(struct lbq_file *f, const char *dpath, const char *pname, const char *label,
                    struct lbq_shape *shape, int *bits, int64_t *chunk_bytes)
{
    *chunk_bytes = 0;
    int rc = LBQ_OK;
    hid_t d = -1, t = -1, s = -1;
    d = H5Dopen2(f->fid, dpath, H5P_DEFAULT);
    if (d < 0) { rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': cannot open %s", f->path, pname, label); goto cleanup; }
    t = H5Dget_type(d);
    if (t < 0) { rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': %s has an unreadable type", f->path, pname, label); goto cleanup; }
    H5T_class_t cls = H5Tget_class(t);
    if (cls != H5T_FLOAT) {
        const char *what = cls == H5T_INTEGER ? "integer" : cls == H5T_STRING ? "string" : "non-float";
        rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': %s has %s data (want float32, float16 or float64)", f->path, pname, label, what);
        goto cleanup;
    }
    if (!h5_type_sane(t)) { rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': %s has a corrupt float type", f->path, pname, label); goto cleanup; }
    *bits = (int)(H5Tget_size(t) * 8);
    s = H5Dget_space(d);
    int r = (s >= 0) ? H5Sget_simple_extent_ndims(s) : -1;
    if (r < 0 || r > LBQ_MAX_RANK + 1) { rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': %s has an unsupported dataspace (rank %d)", f->path, pname, label, r); goto cleanup; }
    hsize_t dims[LBQ_MAX_RANK + 1];
    H5Sget_simple_extent_dims(s, dims, NULL);
    memset(shape, 0, sizeof *shape);
    shape->rank = r;
    shape->numel = 1;
    for (int i = 0; i < r; i++) {
        if (dims[i] > ((hsize_t)1 << 40)) { rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': %s has an absurd dimension %llu", f->path, pname, label, (unsigned long long)dims[i]); goto cleanup; }
        if (i < LBQ_MAX_RANK) shape->dim[i] = (int64_t)dims[i];
        shape->numel *= (int64_t)dims[i];
        if (shape->numel > ((int64_t)1 << 42)) { rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': %s is absurdly large", f->path, pname, label); goto cleanup; }
    }
    /* a 0-d scalar is skipped (exp_avg) or refused by the shape checks; nothing to read of an empty one */
    if (r >= 1 && shape->numel > 0) rc = ds_storage_check(f, d, pname, label, r, shape->numel, H5Tget_size(t), chunk_bytes);
cleanup:
    if (s >= 0) H5Sclose(s);
    if (t >= 0) H5Tclose(t);
    if (d >= 0) H5Dclose(d);
    return rc;
}

static int link_exists_dataset(hid_t fid, const char *path)
{
    /* check each component exists, then that the object opens as a dataset */
    char *buf = strdup(path);
    int ok = buf != NULL;
    for (char *p = buf ? buf + 1 : NULL; ok && p && *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        htri_t e = H5Lexists(fid, buf, H5P_DEFAULT);
        *p = '/';
        if (e <= 0) ok = 0;
    }
    if (ok && H5Lexists(fid, buf, H5P_DEFAULT) <= 0) ok = 0;
    if (ok) {
        hid_t d = H5Dopen2(fid, buf, H5P_DEFAULT);
        if (d < 0) ok = 0; else H5Dclose(d);
    }
    free(buf);
    return ok;
}

/* a malloc'd a + b + c */
static char *cat3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *r = malloc(la + lb + lc + 1);
    if (r) { memcpy(r, a, la); memcpy(r + la, b, lb); memcpy(r + la + lb, c, lc + 1); }
    return r;
}

/* The display name of a raw parameter name (docs/format.md, "Parameter names"): LBQ_OK, or an
 * error naming the parameter (its first 80 bytes) when the escaped name does not fit LBQ_NAME_MAX. */
static int display_name(struct lbq_file *f, const char *raw, char *disp)
{
    size_t need = lbq_name_escape(raw, disp, LBQ_NAME_MAX, LBQ_ESC_NAME);
    if (need < LBQ_NAME_MAX) return LBQ_OK;
    size_t cut = 80;
    while (cut > 0 && ((unsigned char)disp[cut] & 0xC0) == 0x80) cut--;     /* whole UTF-8 characters */
    disp[cut] = 0;
    return lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s...' (%zu bytes): parameter names longer than %d bytes are not supported",
                   f->path, disp, strlen(raw), LBQ_NAME_MAX - 1);
}

/* The string attribute orig_dtype of a dataset (written by `lbq import` and dump_moments: the state's
 * dtype in the optimizer before the float32 conversion, docs/format.md) into out[n]; "" when absent.
 * Only a scalar fixed-length string naming a float dtype is taken; anything else is a note. */
static int read_orig_dtype(struct lbq_file *f, const char *dpath, const char *pname, const char *label, char *out, size_t n)
{
    static const char *const known[] = { "float32", "bfloat16", "float16", "float64" };
    int rc = LBQ_OK, ok = 0;
    char buf[16] = {0};
    out[0] = 0;
    hid_t d = H5Dopen2(f->fid, dpath, H5P_DEFAULT), a = -1, t = -1, s = -1, mt = -1;
    if (d < 0) return LBQ_OK;
    if (H5Aexists(d, "orig_dtype") <= 0) goto cleanup;
    a = H5Aopen(d, "orig_dtype", H5P_DEFAULT);
    if (a < 0) goto bad;
    t = H5Aget_type(a);
    s = H5Aget_space(a);
    if (t < 0 || s < 0 || H5Tget_class(t) != H5T_STRING || H5Tis_variable_str(t) != 0 || H5Sget_simple_extent_type(s) != H5S_SCALAR) goto bad;
    size_t sz = H5Tget_size(t);
    if (sz < 1 || sz >= sizeof buf) goto bad;
    mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, sz);
    H5Tset_strpad(mt, H5T_STR_NULLTERM);
    if (H5Aread(a, mt, buf) < 0) goto bad;
    buf[sizeof buf - 1] = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) if (strcmp(buf, known[i]) == 0) ok = 1;
    if (!ok) goto bad;
    snprintf(out, n, "%s", buf);
    goto cleanup;
bad:
    rc = add_note(f, "tensor '%s': attribute orig_dtype of %s is not a known float dtype string; ignored", pname, label);
cleanup:
    if (mt >= 0) H5Tclose(mt);
    if (s >= 0) H5Sclose(s);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    H5Dclose(d);
    return rc;
}

static int shape_eq(const struct lbq_shape *a, const struct lbq_shape *b)
{
    if (a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++) if (a->dim[i] != b->dim[i]) return 0;
    return 1;
}

static int add_param(struct lbq_file *f, const char *raw, const char *mpath, int soft)
{
    int rc = LBQ_OK;
    struct lbq_param_rec rec;
    memset(&rec, 0, sizeof rec);
    char *vpath = NULL, *sib = NULL;
    if ((rc = display_name(f, raw, rec.info.name)) != LBQ_OK) return rc;
    const char *name = rec.info.name;       /* in messages */
    rec.soft = soft;
    {   /* exp_avg's object: the same dataset under two names is one parameter (lbq_file_open) */
#if H5_VERSION_GE(1, 12, 0)
        H5O_info2_t oi;
        if (H5Oget_info_by_name3(f->fid, mpath, &oi, H5O_INFO_BASIC, H5P_DEFAULT) >= 0) {
            memcpy(rec.key, &oi.token, sizeof oi.token < sizeof rec.key ? sizeof oi.token : sizeof rec.key);
            rec.alias = soft || oi.rc > 1;
            rec.haskey = 1;
        }
#elif H5_VERSION_GE(1, 10, 3)
        H5O_info_t oi;
        if (H5Oget_info_by_name2(f->fid, mpath, &oi, H5O_INFO_BASIC, H5P_DEFAULT) >= 0) {
            memcpy(rec.key, &oi.addr, sizeof oi.addr);
            rec.alias = soft || oi.rc > 1;
            rec.haskey = 1;
        }
#else
        H5O_info_t oi;
        if (H5Oget_info_by_name(f->fid, mpath, &oi, H5P_DEFAULT) >= 0) {
            memcpy(rec.key, &oi.addr, sizeof oi.addr);
            rec.alias = soft || oi.rc > 1;
            rec.haskey = 1;
        }
#endif
    }
    struct lbq_shape ms, vs, ps;
    int bits = 0;
    LBQ_TRY(ds_probe(f, mpath, name, g_ds_label[LBQ_DS_M], &ms, &bits, &rec.chunk_bytes[LBQ_DS_M]));
    if (ms.rank == 0) { rc = add_note(f, "tensor '%s': 0-d scalar state skipped", name); goto cleanup; }
    if (ms.numel == 0) { rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': exp_avg is empty (shape with a zero dimension)", f->path, name); goto cleanup; }
    if (ms.rank > LBQ_MAX_RANK) { rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': rank %d > %d", f->path, name, ms.rank, LBQ_MAX_RANK); goto cleanup; }
    rec.info.shape = ms; rec.info.has[LBQ_DS_M] = 1; rec.info.dtype_bits[LBQ_DS_M] = bits;
    vpath = cat3(f->v_pre, raw, f->v_suf);
    if (!vpath) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
    if (!link_exists_dataset(f->fid, vpath)) { rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': exp_avg_sq missing (looked for '%s')", f->path, name, vpath); goto cleanup; }
    LBQ_TRY(ds_probe(f, vpath, name, g_ds_label[LBQ_DS_V], &vs, &bits, &rec.chunk_bytes[LBQ_DS_V]));
    if (!shape_eq(&ms, &vs)) {
        char a[128], b[128];
        lbq_shape_str(&ms, a, sizeof a); lbq_shape_str(&vs, b, sizeof b);
        rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': shape mismatch: exp_avg %s vs exp_avg_sq %s", f->path, name, a, b);
        goto cleanup;
    }
    rec.info.has[LBQ_DS_V] = 1; rec.info.dtype_bits[LBQ_DS_V] = bits;
    rec.path[LBQ_DS_M] = strdup(mpath);
    rec.path[LBQ_DS_V] = strdup(vpath);
    rec.raw = strdup(raw);
    if (!rec.raw) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
    /* param and grads live beside exp_avg, in the parameter's group (layouts whose m is not inside
     * a group of its own, e.g. --m-name '{name}.m', carry no param/grads) */
    const char *slash = strrchr(mpath, '/');
    size_t dirlen = slash ? (size_t)(slash - mpath) : 0;
    for (int k = LBQ_DS_PARAM; k <= LBQ_DS_GRADS && slash; k++) {
        free(sib);
        sib = malloc(dirlen + strlen(g_ds_label[k]) + 2);
        if (!sib) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
        snprintf(sib, dirlen + strlen(g_ds_label[k]) + 2, "%.*s/%s", (int)dirlen, mpath, g_ds_label[k]);
        if (!link_exists_dataset(f->fid, sib)) continue;
        LBQ_TRY(ds_probe(f, sib, name, g_ds_label[k], &ps, &bits, &rec.chunk_bytes[k]));
        if (k == LBQ_DS_PARAM && !shape_eq(&ms, &ps)) { rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': param shape differs from exp_avg", f->path, name); goto cleanup; }
        if (k == LBQ_DS_GRADS) {
            int ok = ps.rank == ms.rank + 1;
            for (int i = 0; ok && i < ms.rank; i++) ok = ps.dim[i + 1] == ms.dim[i];
            if (!ok) { rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': grads must have shape [T, *exp_avg.shape]", f->path, name); goto cleanup; }
            rec.info.grads_T = ps.dim[0];
            if (ps.dim[0] == 0) continue;
        }
        rec.info.has[k] = 1; rec.info.dtype_bits[k] = bits;
        rec.path[k] = strdup(sib);
    }
    for (int k = 0; k < LBQ_DS_COUNT; k++) {
        if (rec.info.has[k] && !rec.path[k]) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
        if (rec.info.has[k] && k != LBQ_DS_GRADS)
            LBQ_TRY(read_orig_dtype(f, rec.path[k], name, g_ds_label[k], rec.info.orig_dtype[k], sizeof rec.info.orig_dtype[k]));
        if (rec.info.has[k] && rec.info.dtype_bits[k] != 32)
            LBQ_TRY(add_note(f, "tensor '%s': %s is float%d, converted to float32", name, g_ds_label[k], rec.info.dtype_bits[k]));
    }
    if (f->nparams == f->cap) {
        int nc = f->cap ? 2 * f->cap : 16;
        struct lbq_param_rec *np = realloc(f->params, sizeof *np * (size_t)nc);
        if (!np) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
        f->params = np; f->cap = nc;
    }
    f->params[f->nparams++] = rec;
    free(vpath); free(sib);
    return LBQ_OK;
cleanup:
    for (int k = 0; k < LBQ_DS_COUNT; k++) free(rec.path[k]);
    free(rec.raw); free(vpath); free(sib);
    return rc;
}

static herr_t visit_cb(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)g;
    struct lbq_file *f = data;
    size_t lp = strlen(f->m_pre), ls = strlen(f->m_suf), ln = strlen(name);
    if (ln <= lp + ls) return 0;
    if (strncmp(name, f->m_pre, lp) != 0 || strcmp(name + ln - ls, f->m_suf) != 0) return 0;
    /* the parameter name, of any length (HDF5 names are unbounded; LBQ_NAME_MAX bounds the
     * displayed name, add_param) */
    size_t k = ln - lp - ls;
    char *raw = malloc(k + 1);
    if (!raw) { f->rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); return -1; }
    memcpy(raw, name + lp, k);
    raw[k] = 0;
    int rc = LBQ_OK;
    if (f->glob && fnmatch(f->glob, raw, 0) != 0) goto done;
    if (info->type == H5L_TYPE_EXTERNAL) {
        char disp[LBQ_NAME_MAX];
        if ((rc = display_name(f, raw, disp)) == LBQ_OK)
            rc = lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': %s is an external link to another file (not supported)", f->path, disp, g_ds_label[LBQ_DS_M]);
        goto done;
    }
    hid_t d = H5Dopen2(f->fid, name, H5P_DEFAULT);
    if (d < 0) goto done;       /* a group that happens to carry the name, a dangling soft link */
    H5Dclose(d);
    rc = add_param(f, raw, name, info->type == H5L_TYPE_SOFT);
done:
    free(raw);
    if (rc) { f->rc = rc; return -1; }
    return 0;
}

/* One dataset reached under several names (a soft link, or hard links) is one parameter, under
 * the first of its hard-link names in path order (a soft link's name only when it has none):
 * the others are dropped with a notice.  Runs after the sort. */
static int drop_aliases(struct lbq_file *f)
{
    int rc = LBQ_OK, n = 0;
    char *drop = calloc((size_t)f->nparams + 1, 1);
    if (!drop) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    for (int i = 0; i < f->nparams; i++) {
        struct lbq_param_rec *a = &f->params[i];
        if (!a->haskey) continue;
        for (int j = 0; j < i && !drop[i]; j++) {
            struct lbq_param_rec *b = &f->params[j];
            if (drop[j] || !b->haskey || !(a->alias || b->alias) || memcmp(a->key, b->key, sizeof a->key) != 0) continue;
            int lose = (b->soft && !a->soft) ? j : i;       /* a hard-link name beats a soft link's */
            int keep = lose == i ? j : i;
            drop[lose] = 1;
            LBQ_TRY(add_note(f, "tensor '%s': exp_avg is %s to the dataset of tensor '%s': counted once, as '%s'",
                             f->params[lose].info.name, f->params[lose].soft ? "a soft link" : "another name (hard link)",
                             f->params[keep].info.name, f->params[keep].info.name));
        }
    }
    for (int i = 0; i < f->nparams; i++) {
        if (!drop[i]) { f->params[n++] = f->params[i]; continue; }
        for (int k = 0; k < LBQ_DS_COUNT; k++) free(f->params[i].path[k]);
        free(f->params[i].raw);
    }
    f->nparams = n;
cleanup:
    free(drop);
    return rc;
}

/* The order H5Lvisit(H5_INDEX_NAME, H5_ITER_INC) reports datasets in: depth first, the links of
 * each group by strcmp of their names.  On full paths that is strcmp component by component, so a
 * '/' sorts below every other byte ("a/x" before "a-b" and "a.b"), and the end of a string below
 * '/'. */
static int path_cmp(const char *pa, const char *pb)
{
    const unsigned char *a = (const unsigned char *)pa, *b = (const unsigned char *)pb;
    for (;; a++, b++) {
        int ka = *a == '/' ? 1 : *a ? *a + 1 : 0;
        int kb = *b == '/' ? 1 : *b ? *b + 1 : 0;
        if (ka != kb) return ka - kb;
        if (ka == 0) return 0;
    }
}

static int param_order(const void *x, const void *y)
{
    return path_cmp(((const struct lbq_param_rec *)x)->path[LBQ_DS_M], ((const struct lbq_param_rec *)y)->path[LBQ_DS_M]);
}

static int read_hparam(hid_t fid, const char *path, const char *name, double *out, int *has)
{
    int rc = LBQ_OK;
    *has = 0;
    if (H5Aexists(fid, name) <= 0) return LBQ_OK;
    hid_t a = H5Aopen(fid, name, H5P_DEFAULT);
    if (a < 0) return LBQ_OK;
    hid_t t = H5Aget_type(a), s = H5Aget_space(a);
    H5T_class_t c = H5Tget_class(t);
    if ((c == H5T_FLOAT || c == H5T_INTEGER) && !h5_type_sane(t))
        rc = lbq_err(LBQ_ERR_FORMAT, "%s: attribute %s has a corrupt number type", path, name);
    else if ((c == H5T_FLOAT || c == H5T_INTEGER) && H5Sget_simple_extent_npoints(s) == 1) {
        double v;
        if (H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0 && isfinite(v)) { *out = v; *has = 1; }
    }
    H5Sclose(s); H5Tclose(t); H5Aclose(a);
    return rc;
}

/* why H5Fopen failed: 1 the file is locked (a writer holds it), 2 its superblock says a writer has
 * it open (libver latest: a writer still running or one that crashed) */
static herr_t open_err_walk(unsigned n, const H5E_error2_t *e, void *data)
{
    (void)n;
    int *why = data;
    if (e->desc && strstr(e->desc, "unable to lock")) *why = 1;
    else if (e->desc && strstr(e->desc, "already open for write") && *why == 0) *why = 2;
    return 0;
}

int lbq_file_open(const char *path, const struct lbq_open_opts *opts, struct lbq_file **out)
{
    int rc = LBQ_OK;
    struct lbq_file *f = NULL;
    *out = NULL;
    h5_quiet();
    struct stat sb;
    if (stat(path, &sb) != 0) return lbq_err(LBQ_ERR_IO, "%s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) {
        char opt[4096];
        char ts[4096];
        snprintf(opt, sizeof opt, "%s/optimizer.pt", path);
        snprintf(ts, sizeof ts, "%s/trainer_state.json", path);
        if (access(opt, F_OK) == 0 || access(ts, F_OK) == 0)
            return lbq_err(LBQ_ERR_IO, "%s: is a directory, not an HDF5 file (a Hugging Face Trainer checkpoint? convert it with 'lbq import %s -o moments.h5')", path, path);
        return lbq_err(LBQ_ERR_IO, "%s: is a directory, not an HDF5 file", path);
    }
    if (access(path, R_OK) != 0) return lbq_err(LBQ_ERR_IO, "%s: %s", path, strerror(errno));
    if (sb.st_size == 0) return lbq_err(LBQ_ERR_FORMAT, "%s: empty file, not HDF5", path);
    if (H5Fis_hdf5(path) <= 0) {
        /* a PyTorch checkpoint (torch.save: zip or pickle; safetensors: length + '{'): say how to convert it */
        unsigned char head[9] = {0};
        FILE *fp = fopen(path, "rb");
        size_t got = fp ? fread(head, 1, sizeof head, fp) : 0;
        if (fp) fclose(fp);
        int ckpt = (got >= 4 && memcmp(head, "PK\x03\x04", 4) == 0) || (got >= 2 && head[0] == 0x80 && head[1] <= 5)
                   || (got == 9 && head[8] == '{');
        if (ckpt) return lbq_err(LBQ_ERR_FORMAT, "%s: not an HDF5 file (a PyTorch checkpoint? convert it with 'lbq import %s -o moments.h5')", path, path);
        return lbq_err(LBQ_ERR_FORMAT, "%s: not an HDF5 file", path);
    }
    f = calloc(1, sizeof *f);
    if (!f) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    f->fid = -1;
    for (int k = 0; k < LBQ_DS_COUNT; k++) { f->rd[k] = -1; f->rd_param[k] = -1; f->rd_keep[k] = 0; }
    f->cache_bytes = (size_t)1 << 20;        /* libhdf5's default; the engine raises it */
    f->fsize = (hsize_t)sb.st_size;
    f->path = strdup(path);
    if (!f->path) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
    lbq_input_register(path);       /* never an output of this process (src/json.c) */
    H5Eclear2(H5E_DEFAULT);
    /* libhdf5's metadata cache grows adaptively with the objects visited (about 10 KB per tensor of
     * a file of many tensors: 230 MB for 20,000); a fixed 4 MiB keeps memory bounded whatever the
     * parameter count (issue 16 item 11; docs/cli.md "Memory") */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0) {
        H5AC_cache_config_t mdc;
        memset(&mdc, 0, sizeof mdc);
        mdc.version = H5AC__CURR_CACHE_CONFIG_VERSION;
        if (H5Pget_mdc_config(fapl, &mdc) >= 0) {
            mdc.set_initial_size = 1; mdc.initial_size = 4 << 20; mdc.max_size = 4 << 20; mdc.min_size = 1 << 20;
            mdc.incr_mode = H5C_incr__off; mdc.flash_incr_mode = H5C_flash_incr__off; mdc.decr_mode = H5C_decr__off;
            H5Pset_mdc_config(fapl, &mdc);
        }
    }
    f->fid = H5Fopen(path, H5F_ACC_RDONLY, fapl >= 0 ? fapl : H5P_DEFAULT);
    int why = 0;        /* read H5Fopen's error stack before another call into libhdf5 clears it */
    if (f->fid < 0) H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, open_err_walk, &why);
    if (fapl >= 0) H5Pclose(fapl);
    if (f->fid < 0) {
        if (why == 1) rc = lbq_err(LBQ_ERR_IO, "%s: locked by another process that has it open for writing (HDF5 file locking); "
                                   "wait until the writer closes it", path);
        else if (why == 2) rc = lbq_err(LBQ_ERR_FORMAT, "%s: marked as open for writing by a writer that did not close it "
                                        "(crashed, or still running with SWMR); if no writer is left, 'h5clear -s FILE' clears the mark", path);
        else rc = lbq_err(LBQ_ERR_FORMAT, "%s: cannot open as HDF5 (truncated or corrupt?)", path);
        goto cleanup;
    }
    split_pattern(opts && opts->m_name ? opts->m_name : "exp_avg", f->m_pre, f->m_suf);
    split_pattern(opts && opts->v_name ? opts->v_name : "exp_avg_sq", f->v_pre, f->v_suf);
    f->glob = opts ? opts->tensor_glob : NULL;
    /* root hyper-parameters */
    struct lbq_hparams *hp = &f->hp;
    double step = 0;
    hp->beta1 = 0.9; hp->beta2 = 0.999; hp->eps = 1e-8; hp->lr = 1e-3;
    LBQ_TRY(read_hparam(f->fid, path, "step", &step, &hp->has_step));
    LBQ_TRY(read_hparam(f->fid, path, "beta1", &hp->beta1, &hp->has_beta1));
    LBQ_TRY(read_hparam(f->fid, path, "beta2", &hp->beta2, &hp->has_beta2));
    LBQ_TRY(read_hparam(f->fid, path, "eps", &hp->eps, &hp->has_eps));
    LBQ_TRY(read_hparam(f->fid, path, "lr", &hp->lr, &hp->has_lr));
    if (hp->has_step && !(step >= 0 && step <= 4e18)) { rc = lbq_err(LBQ_ERR_FORMAT, "%s: attribute step = %g out of range", path, step); goto cleanup; }
    hp->step = (int64_t)step;
    if (!hp->has_beta1) LBQ_TRY(add_note(f, "attribute beta1 absent: using default 0.9"));
    if (!hp->has_beta2) LBQ_TRY(add_note(f, "attribute beta2 absent: using default 0.999"));
    if (!hp->has_eps)   LBQ_TRY(add_note(f, "attribute eps absent: using default 1e-8"));
    if (!hp->has_step)  LBQ_TRY(add_note(f, "attribute step absent: no bias correction"));
    if (hp->has_beta1 && !(hp->beta1 >= 0 && hp->beta1 < 1)) { rc = lbq_err(LBQ_ERR_FORMAT, "%s: attribute beta1 = %g out of [0, 1)", path, hp->beta1); goto cleanup; }
    if (hp->has_eps && !(hp->eps >= 0 && isfinite(hp->eps))) { rc = lbq_err(LBQ_ERR_FORMAT, "%s: attribute eps = %g must be >= 0", path, hp->eps); goto cleanup; }
    if (hp->has_beta2 && !(hp->beta2 >= 0 && hp->beta2 < 1)) { rc = lbq_err(LBQ_ERR_FORMAT, "%s: attribute beta2 = %g out of [0, 1)", path, hp->beta2); goto cleanup; }
    /* H5_ITER_NATIVE, then sort: with H5_ITER_INC, libhdf5 1.10 first copies a dense (HDF5 1.8+
     * format, > 8 links) group's links into a table to sort it, and when a corrupt name index or
     * link heap makes that copy fail half-way it frees the uninitialised rest of the table (a crash
     * inside libhdf5, fuzz/README.md finding 5).  In native order it walks the index directly and
     * fails cleanly; sorting by path afterwards gives the parameters in H5_ITER_INC's order.  (A
     * group hard-linked under two names is still entered once, under the name met first in native
     * order, which for a 1.8+ format group is hash order: docs/format.md.) */
    if (H5Lvisit(f->fid, H5_INDEX_NAME, H5_ITER_NATIVE, visit_cb, f) < 0) {
        rc = f->rc ? f->rc : lbq_err(LBQ_ERR_FORMAT, "%s: cannot walk the file (truncated or corrupt?)", path);
        goto cleanup;
    }
    if (f->nparams > 1) qsort(f->params, (size_t)f->nparams, sizeof *f->params, param_order);
    LBQ_TRY(drop_aliases(f));
    if (f->nparams == 0) {
        if (f->glob) rc = lbq_err(LBQ_ERR_ARG, "%s: no parameter matches --tensor '%s'", path, f->glob);
        else rc = lbq_err(LBQ_ERR_FORMAT, "%s: no parameters found (no dataset '%s{name}%s'; see docs/format.md, --m-name)", path, f->m_pre, f->m_suf);
        goto cleanup;
    }
    *out = f;
    return LBQ_OK;
cleanup:
    lbq_file_close(f);
    return rc;
}

static void rd_close(struct lbq_file *f)
{
    for (int k = 0; k < LBQ_DS_COUNT; k++) {
        if (f->rd[k] >= 0) H5Dclose(f->rd[k]);
        f->rd[k] = -1;
        f->rd_param[k] = -1;
    }
}

/* "16G": a size of at least b bytes, rounded up to a whole MiB or GiB */
static void size_str(double b, char *out, size_t cap)
{
    if (b <= 1024.0 * 1048576.0) snprintf(out, cap, "%.0fM", ceil(b / 1048576.0));
    else snprintf(out, cap, "%.0fG", ceil(b / 1073741824.0));
}

int lbq_file_set_mem_limit(struct lbq_file *f, int64_t bytes)
{
    f->mem_limit = bytes;
    if (bytes <= 0) return LBQ_OK;
    for (int i = 0; i < f->nparams; i++)
        for (int k = LBQ_DS_M; k <= LBQ_DS_V; k++) {     /* what the bounded commands read (simulate reads grads, unbounded) */
            int64_t cb = f->params[i].chunk_bytes[k];
            if (!f->params[i].path[k] || cb <= bytes / 16) continue;
            char need[32], have[32];
            size_str(16.0 * (double)cb, need, sizeof need);
            size_str((double)bytes, have, sizeof have);
            return lbq_err(LBQ_ERR_ARG, "%s: tensor '%s': %s is stored in chunks of %.1f MiB (uncompressed), more than the "
                           "1/16 of --mem-limit %s that the chunk cache of one dataset may use; rerun with --mem-limit %s or more, "
                           "or rechunk the file (docs/format.md, 'Reading in slabs')",
                           f->path, f->params[i].info.name, g_ds_label[k], (double)cb / 1048576.0, have, need);
        }
    return LBQ_OK;
}

void lbq_file_set_chunk_cache(struct lbq_file *f, int64_t bytes)
{
    size_t b = bytes < ((int64_t)1 << 20) ? (size_t)1 << 20 : (size_t)bytes;
    if (b == f->cache_bytes) return;
    f->cache_bytes = b;
    rd_close(f);                    /* reopened with the new cache on the next read */
}

/* the dataset ds of parameter p, open (kept open for the next reads) */
static hid_t rd_open(struct lbq_file *f, int p, enum lbq_ds ds)
{
    if (f->rd_param[ds] == p && f->rd[ds] >= 0) return f->rd[ds];
    for (int k = 0; k < LBQ_DS_COUNT; k++)
        if (f->rd_param[k] != p && f->rd[k] >= 0) { H5Dclose(f->rd[k]); f->rd[k] = -1; f->rd_param[k] = -1; }
    if (f->rd[ds] >= 0) H5Dclose(f->rd[ds]);
    /* chunk cache: a chunk that spans two slabs is decompressed once; w0 = 1 evicts chunks that
     * were read completely first (the reads stream through the tensor) */
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    /* the cache holds at least one whole chunk: a chunk larger than the cache would be read and
     * decompressed again for every slab that touches it (lbq_file_set_mem_limit bounds its size) */
    size_t cache = f->cache_bytes;
    int64_t cb = f->params[p].chunk_bytes[ds];
    if (cb > 0 && (size_t)cb + 4096 > cache) cache = (size_t)cb + 4096;
    if (dapl >= 0) H5Pset_chunk_cache(dapl, 12421, cache, 1.0);
    f->rd[ds] = H5Dopen2(f->fid, f->params[p].path[ds], dapl >= 0 ? dapl : H5P_DEFAULT);
    if (dapl >= 0) H5Pclose(dapl);
    f->rd_param[ds] = f->rd[ds] >= 0 ? p : -1;
    /* Only chunked datasets stay open (the cache is for them).  A contiguous dataset is reopened
     * for every read, as libhdf5 1.10 can overflow a buffer when a second read goes through the
     * handle of a corrupt contiguous dataset (fuzz finding 10, tests/regress/fuzz-h5). */
    f->rd_keep[ds] = 0;
    if (f->rd[ds] >= 0) {
        hid_t dcpl = H5Dget_create_plist(f->rd[ds]);
        if (dcpl >= 0) { f->rd_keep[ds] = H5Pget_layout(dcpl) == H5D_CHUNKED; H5Pclose(dcpl); }
    }
    return f->rd[ds];
}

void lbq_file_close(struct lbq_file *f)
{
    if (!f) return;
    rd_close(f);
    if (f->fid >= 0) H5Fclose(f->fid);
    for (int i = 0; i < f->nparams; i++) {
        for (int k = 0; k < LBQ_DS_COUNT; k++) free(f->params[i].path[k]);
        free(f->params[i].raw);
    }
    free(f->params);
    for (int i = 0; i < f->nnotes; i++) free(f->notes[i]);
    free(f->notes);
    free(f->path);
    free(f);
}

const struct lbq_hparams *lbq_file_hparams(const struct lbq_file *f) { return &f->hp; }
int lbq_file_nparams(const struct lbq_file *f) { return f->nparams; }
const struct lbq_param_info *lbq_file_param(const struct lbq_file *f, int i) { return &f->params[i].info; }
const char *lbq_file_path(const struct lbq_file *f) { return f->path; }
const char *lbq_file_param_raw_name(const struct lbq_file *f, int i) { return f->params[i].raw; }
int64_t lbq_file_negative_v(const struct lbq_file *f, int p) { return f->params[p].negv; }
int lbq_file_nnotes(const struct lbq_file *f) { return f->nnotes; }
const char *lbq_file_note(const struct lbq_file *f, int i) { return f->notes[i]; }
int64_t lbq_file_elems_read(const struct lbq_file *f, int p, enum lbq_ds ds) { return f->params[p].read[ds]; }

int lbq_file_fingerprint(const struct lbq_file *f, int p, uint64_t *h)
{
    const struct lbq_param_rec *r = &f->params[p];
    if (r->hash_set) { *h = r->hash_given; return 1; }
    int64_t n = r->info.shape.numel;
    if (r->hash_end[0] != n || r->hash_end[1] != n) return 0;
    uint64_t x = n ? r->hash[0] : 0xcbf29ce484222325ULL, y = n ? r->hash[1] : 0xcbf29ce484222325ULL;
    *h = (x ^ (y * 0x9e3779b97f4a7c15ULL)) * 0x100000001b3ULL;
    return 1;
}

void lbq_file_set_fingerprint(struct lbq_file *f, int on) { f->no_hash = !on; }

void lbq_file_fingerprint_set(struct lbq_file *f, int p, uint64_t h)
{
    f->params[p].hash_set = 1;
    f->params[p].hash_given = h;
}

int lbq_file_fingerprint_read(struct lbq_file *f, int p)
{
    struct lbq_param_rec *r = &f->params[p];
    uint64_t h;
    if (lbq_file_fingerprint(f, p, &h)) return LBQ_OK;
    f->no_hash = 0;
    int64_t n = r->info.shape.numel, re = lbq_shape_row_elems(&r->info.shape);
    int64_t slab = f->mem_limit > 0 ? f->mem_limit / 8 / (int64_t)sizeof(float) : ((int64_t)1 << 24);
    if (re < 1) re = 1;
    if (slab < re) slab = re;
    slab -= slab % re;
    float *buf = malloc(sizeof(float) * (size_t)(slab < n ? slab : (n ? n : 1)));
    if (!buf) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    int rc = LBQ_OK;
    for (int ds = 0; ds < 2 && !rc; ds++)
        for (int64_t off = r->hash_end[ds]; off < n && !rc; off += slab)
            rc = lbq_file_read(f, p, (enum lbq_ds)ds, 0, off, n - off < slab ? n - off : slab, buf);
    free(buf);
    return rc;
}

int lbq_file_read(struct lbq_file *f, int p, enum lbq_ds ds, int64_t t, int64_t off, int64_t n, float *out)
{
    int rc = LBQ_OK;
    hid_t d = -1, fs = -1, ms = -1;
    float *tmp = NULL;
    struct lbq_param_rec *r = &f->params[p];
    const struct lbq_shape *sh = &r->info.shape;
    if (!r->path[ds]) return lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s' has no %s", f->path, r->info.name, g_ds_label[ds]);
    if (off < 0 || n < 0 || off + n > sh->numel) return lbq_err(LBQ_ERR_ARG, "read of '%s' out of range", r->info.name);
    if (ds == LBQ_DS_GRADS && (t < 0 || t >= r->info.grads_T)) return lbq_err(LBQ_ERR_ARG, "grads step %lld out of range", (long long)t);
    if (n == 0) return LBQ_OK;
    int64_t re = lbq_shape_row_elems(sh);
    int64_t row0 = off / re, row1 = (off + n + re - 1) / re;
    int64_t nrow = row1 - row0;
    int aligned = (off % re == 0) && ((off + n) % re == 0);
    float *dst = out;
    if (!aligned) {
        tmp = malloc(sizeof(float) * (size_t)(nrow * re));
        if (!tmp) return lbq_err(LBQ_ERR_NOMEM, "out of memory reading '%s'", r->info.name);
        dst = tmp;
    }
    d = rd_open(f, p, ds);
    if (d < 0) { rc = lbq_err(LBQ_ERR_FORMAT, "%s: cannot open %s of '%s'", f->path, g_ds_label[ds], r->info.name); goto cleanup; }
    fs = H5Dget_space(d);
    hsize_t start[LBQ_MAX_RANK + 1] = {0}, count[LBQ_MAX_RANK + 1] = {0};
    int k = 0;
    if (ds == LBQ_DS_GRADS) { start[0] = (hsize_t)t; count[0] = 1; k = 1; }
    for (int i = 0; i < sh->rank; i++) { start[k + i] = 0; count[k + i] = (hsize_t)sh->dim[i]; }
    start[k] = (hsize_t)row0; count[k] = (hsize_t)nrow;
    if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0) { rc = lbq_err(LBQ_ERR_FORMAT, "%s: bad selection in '%s'", f->path, r->info.name); goto cleanup; }
    hsize_t mn = (hsize_t)(nrow * re);
    ms = H5Screate_simple(1, &mn, NULL);
    if (H5Dread(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, dst) < 0) {
        rc = lbq_err(LBQ_ERR_FORMAT, "%s: cannot read %s of '%s' (file truncated or corrupt?)", f->path, g_ds_label[ds], r->info.name);
        goto cleanup;
    }
    if (!aligned) memcpy(out, tmp + (off - row0 * re), sizeof(float) * (size_t)n);
    r->read[ds] += nrow * re;
    if (ds <= LBQ_DS_V && off == r->hash_end[ds] && !f->no_hash) {    /* the fingerprint: each element once, in order */
        uint64_t h = r->hash_end[ds] ? r->hash[ds] : 0xcbf29ce484222325ULL;
        for (int64_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, &out[i], sizeof u);
            h = (h ^ u) * 0x100000001b3ULL;         /* FNV-1a over 32-bit words */
        }
        r->hash[ds] = h;
        r->hash_end[ds] = off + n;
    }
    if (ds == LBQ_DS_V && off >= r->negv_end) {     /* v >= 0 in Adam: count what is not, once */
        int64_t neg = 0;
        for (int64_t i = 0; i < n; i++) neg += out[i] < 0.0f;
        r->negv += neg;
        r->negv_end = off + n;
    }
cleanup:
    if (d >= 0 && (rc != LBQ_OK || !f->rd_keep[ds])) {    /* and after any failed read */
        H5Dclose(d);
        f->rd[ds] = -1;
        f->rd_param[ds] = -1;
    }
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    free(tmp);
    return rc;
}

/* ---- writer ---------------------------------------------------------------------------------- */
struct lbq_h5w {
    char  *path, *target, *tmp;     /* as given; with its symlinks followed; target.tmp-<pid> */
    hid_t  fid;
    hid_t  *ds;
    struct lbq_shape *shape;
    int    nds, cap;
};

int lbq_h5w_open(const char *path, struct lbq_h5w **out)
{
    int rc = LBQ_OK;
    struct lbq_h5w *w = NULL;
    *out = NULL;
    h5_quiet();
    /* the output rules of src/json.c: never an input, never a device or a directory (HDF5 needs a
     * regular file), a symlink's target replaced and not the link */
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) return lbq_err(LBQ_ERR_OUTPUT, "%s: exists and is not a regular file", path);
    if ((rc = lbq_output_not_input(path)) != LBQ_OK) return rc;
    w = calloc(1, sizeof *w);
    if (!w) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    w->fid = -1;
    w->path = strdup(path);
    w->target = lbq_output_target(path);
    w->tmp = w->target ? lbq_tmp_name(w->target) : NULL;
    if (!w->path || !w->tmp) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
    lbq_tmp_add(w->tmp);        /* before it exists: a signal from here on removes it */
    w->fid = H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (w->fid < 0) {
        const char *dir_err = "cannot create file";
        FILE *probe = fopen(w->tmp, "wb");
        if (!probe) dir_err = strerror(errno); else { fclose(probe); unlink(w->tmp); }
        rc = lbq_err(LBQ_ERR_OUTPUT, "%s: %s", path, dir_err);
        goto cleanup;
    }
    *out = w;
    return LBQ_OK;
cleanup:
    if (w) { if (w->tmp) lbq_tmp_remove(w->tmp); free(w->path); free(w->target); free(w->tmp); free(w); }
    return rc;
}

static hid_t wtype_h5(enum lbq_wtype t)
{
    switch (t) {
    case LBQ_W_U8:  return H5T_NATIVE_UINT8;
    case LBQ_W_F64: return H5T_NATIVE_DOUBLE;
    case LBQ_W_I64: return H5T_NATIVE_INT64;
    default:        return H5T_NATIVE_FLOAT;
    }
}

int lbq_h5w_dset(struct lbq_h5w *w, const char *group, const char *name, enum lbq_wtype type,
                 const struct lbq_shape *shape, int *ds)
{
    int rc = LBQ_OK;
    hid_t sp = -1, lcpl = -1, d = -1;
    if (w->nds == w->cap) {
        int nc = w->cap ? 2 * w->cap : 32;
        hid_t *nd = realloc(w->ds, sizeof *nd * (size_t)nc);
        if (!nd) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
        w->ds = nd;
        struct lbq_shape *ns = realloc(w->shape, sizeof *ns * (size_t)nc);
        if (!ns) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
        w->shape = ns; w->cap = nc;
    }
    char path[LBQ_NAME_MAX * 2];
    snprintf(path, sizeof path, "%s%s%s", group && *group ? group : "", group && *group ? "/" : "", name);
    hsize_t dims[LBQ_MAX_RANK];
    int rank = shape->rank;
    for (int i = 0; i < rank; i++) dims[i] = (hsize_t)shape->dim[i];
    sp = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    d = H5Dcreate2(w->fid, path, wtype_h5(type), sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (d < 0) { rc = lbq_err(LBQ_ERR_OUTPUT, "%s: cannot create dataset '%s'", w->path, path); goto cleanup; }
    w->ds[w->nds] = d; w->shape[w->nds] = *shape;
    *ds = w->nds++;
    d = -1;
cleanup:
    if (d >= 0) H5Dclose(d);
    if (lcpl >= 0) H5Pclose(lcpl);
    if (sp >= 0) H5Sclose(sp);
    return rc;
}

int lbq_h5w_write(struct lbq_h5w *w, int ds, int64_t off, int64_t n, const void *data)
{
    int rc = LBQ_OK;
    hid_t fs = -1, ms = -1;
    const struct lbq_shape *sh = &w->shape[ds];
    hid_t d = w->ds[ds];
    hid_t t = H5Dget_type(d);
    hid_t mt = H5Tget_native_type(t, H5T_DIR_ASCEND);
    fs = H5Dget_space(d);
    if (sh->rank > 0) {
        int64_t re = lbq_shape_row_elems(sh);
        if (off % re || n % re) { rc = lbq_err(LBQ_ERR_ARG, "internal: unaligned write"); goto cleanup; }
        hsize_t start[LBQ_MAX_RANK] = {0}, count[LBQ_MAX_RANK];
        for (int i = 0; i < sh->rank; i++) count[i] = (hsize_t)sh->dim[i];
        start[0] = (hsize_t)(off / re); count[0] = (hsize_t)(n / re);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    }
    hsize_t mn = (hsize_t)n;
    ms = sh->rank ? H5Screate_simple(1, &mn, NULL) : H5Screate(H5S_SCALAR);
    if (H5Dwrite(d, mt, ms, fs, H5P_DEFAULT, data) < 0) rc = lbq_err(LBQ_ERR_OUTPUT, "%s: write failed (disk full?)", w->path);
cleanup:
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    H5Tclose(mt); H5Tclose(t);
    return rc;
}

static int attr_write(struct lbq_h5w *w, const char *obj, const char *name, hid_t type, const void *v)
{
    int rc = LBQ_OK;
    hid_t sp = H5Screate(H5S_SCALAR);
    const char *o = (obj && *obj) ? obj : "/";
    hid_t a = H5Acreate_by_name(w->fid, o, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, type, v) < 0) rc = lbq_err(LBQ_ERR_OUTPUT, "%s: cannot write attribute %s on '%s'", w->path, name, o);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

int lbq_h5w_attr_str(struct lbq_h5w *w, const char *obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(value) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    int rc = attr_write(w, obj, name, t, value);
    H5Tclose(t);
    return rc;
}
int lbq_h5w_attr_f64(struct lbq_h5w *w, const char *obj, const char *name, double value)
{ return attr_write(w, obj, name, H5T_NATIVE_DOUBLE, &value); }
int lbq_h5w_attr_i64(struct lbq_h5w *w, const char *obj, const char *name, int64_t value)
{ return attr_write(w, obj, name, H5T_NATIVE_INT64, &value); }

static void h5w_free(struct lbq_h5w *w)
{
    free(w->ds); free(w->shape); free(w->path); free(w->target); free(w->tmp); free(w);
}

int lbq_h5w_commit(struct lbq_h5w *w)
{
    int rc = LBQ_OK;
    for (int i = 0; i < w->nds; i++) {
        if (w->ds[i] >= 0 && H5Dclose(w->ds[i]) < 0 && rc == LBQ_OK) rc = lbq_err(LBQ_ERR_OUTPUT, "%s: write failed (disk full?)", w->path);
        w->ds[i] = -1;
    }
    w->nds = 0;
    if (rc == LBQ_OK && H5Fflush(w->fid, H5F_SCOPE_GLOBAL) < 0) rc = lbq_err(LBQ_ERR_OUTPUT, "%s: write failed (disk full?)", w->path);
    if (rc != LBQ_OK) goto cleanup;
    if (H5Fclose(w->fid) < 0) { w->fid = -1; g_h5_poisoned = 1; rc = lbq_err(LBQ_ERR_OUTPUT, "%s: closing failed (disk full?)", w->path); goto cleanup; }
    w->fid = -1;
    if (rename(w->tmp, w->target) != 0) { rc = lbq_err(LBQ_ERR_OUTPUT, "%s: cannot rename into place: %s", w->path, strerror(errno)); goto cleanup; }
    lbq_tmp_remove(w->tmp);
    h5w_free(w);
    return LBQ_OK;
cleanup:
    lbq_h5w_abort(w);
    return rc;
}

void lbq_h5w_abort(struct lbq_h5w *w)
{
    if (!w) return;
    /* After a failed write (a full disk) the closes below flush what libhdf5 still holds.  The
     * temporary file is emptied first, so that those flushes find room (the file is deleted
     * anyway); should a close fail all the same, the exit-time H5close is skipped (h5_atexit). */
    if (w->fid >= 0 && truncate(w->tmp, 0) != 0) { /* nothing to free: the closes may still succeed */ }
    for (int i = 0; i < w->nds; i++) if (w->ds[i] >= 0 && H5Dclose(w->ds[i]) < 0) g_h5_poisoned = 1;
    if (w->fid >= 0 && H5Fclose(w->fid) < 0) g_h5_poisoned = 1;
    unlink(w->tmp);
    lbq_tmp_remove(w->tmp);
    h5w_free(w);
}

/* ---- one dense matrix (lbq shampoo FILE --dataset PATH) -----------------------------------------
 * The same checks as the moment reader's ds_probe before anything is allocated or read: open: a
 * float type whose bit fields fit its size (h5_type_sane), a rank-2 square dataspace; check (after
 * the caller's limit on the order): its stored data present and inside the file (ds_storage_check;
 * its messages name the dataset as the "tensor"). */
int lbq_h5_matrix_open(const char *path, const char *dataset, struct lbq_h5_matrix *m)
{
    memset(m, 0, sizeof *m);
    m->fid = m->did = -1;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    snprintf(m->what, sizeof m->what, "%s:%s", path, dataset);
    if (access(path, R_OK) != 0) return lbq_err(LBQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (stat(path, &sb) != 0) return lbq_err(LBQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (H5Fis_hdf5(path) <= 0) return lbq_err(LBQ_ERR_FORMAT, "%s: not an HDF5 file", path);
    hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), did = -1, tid = -1, sid = -1;
    if (fid < 0) return lbq_err(LBQ_ERR_FORMAT, "%s: cannot open as HDF5", path);
    m->fid = fid;
    int rc = LBQ_OK;
    did = H5Dopen2(fid, dataset, H5P_DEFAULT);
    if (did < 0) { rc = lbq_err(LBQ_ERR_FORMAT, "%s: no dataset '%s' (missing, or a group)", path, dataset); goto cleanup; }
    m->did = did;
    tid = H5Dget_type(did);
    if (tid < 0 || H5Tget_class(tid) != H5T_FLOAT) {
        rc = lbq_err(LBQ_ERR_FORMAT, "%s: dataset is not floating-point (a preconditioner must be float16/32/64)", m->what);
        goto cleanup;
    }
    if (!h5_type_sane(tid)) { rc = lbq_err(LBQ_ERR_FORMAT, "%s: dataset has a corrupt float type", m->what); goto cleanup; }
    sid = H5Dget_space(did);
    int rank = sid < 0 ? -1 : H5Sget_simple_extent_ndims(sid);
    hsize_t dims[2] = { 0, 0 };
    if (rank != 2) { rc = lbq_err(LBQ_ERR_FORMAT, "%s: rank %d, expected a square matrix (rank 2)", m->what, rank); goto cleanup; }
    H5Sget_simple_extent_dims(sid, dims, NULL);
    if (dims[0] != dims[1]) {
        rc = lbq_err(LBQ_ERR_FORMAT, "%s: not square: shape [%llu, %llu]", m->what, (unsigned long long)dims[0], (unsigned long long)dims[1]);
        goto cleanup;
    }
    m->order = (int64_t)dims[0];       /* as the caller prints it (a corrupt huge one: negative) */
    m->fsize = (uint64_t)sb.st_size;
    m->esize = (int64_t)H5Tget_size(tid);
    m->path = path;
    m->dataset = dataset;
cleanup:
    if (sid >= 0) H5Sclose(sid);
    if (tid >= 0) H5Tclose(tid);
    if (rc) lbq_h5_matrix_close(m);
    return rc;
}

int lbq_h5_matrix_check(struct lbq_h5_matrix *m)
{
    if (m->order < 1 || m->order > ((int64_t)1 << 20)) return lbq_err(LBQ_ERR_FORMAT, "%s: order %lld out of range", m->what, (long long)m->order);
    struct lbq_file tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.path = (char *)m->path;
    tmp.fsize = (hsize_t)m->fsize;
    int64_t chunk_bytes = 0;
    return ds_storage_check(&tmp, (hid_t)m->did, m->dataset, "matrix", 2, m->order * m->order, (size_t)m->esize, &chunk_bytes);
}

int lbq_h5_matrix_read(struct lbq_h5_matrix *m, double *out)
{
    if (H5Dread((hid_t)m->did, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
        return lbq_err(LBQ_ERR_FORMAT, "%s: read failed (truncated or corrupt file?)", m->what);
    return LBQ_OK;
}

void lbq_h5_matrix_close(struct lbq_h5_matrix *m)
{
    if (m->did >= 0) H5Dclose((hid_t)m->did);
    if (m->fid >= 0) H5Fclose((hid_t)m->fid);
    m->did = m->fid = -1;
}
