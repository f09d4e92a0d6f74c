/* quantize.c - lbq's quantized-file format (docs/format.md, "quantized files"): the datasets and
 * attributes `lbq quantize` writes, one state of one parameter at a time, read in slabs. */
#include "lbq-impl.h"

int lbq_quantize_header(struct lbq_h5w *w, const struct lbq_file *f, const char *config_label)
{
    int rc = LBQ_OK;
    const struct lbq_hparams *hp = lbq_file_hparams(f);
    LBQ_TRY(lbq_h5w_attr_i64(w, "", "lbq_format", 1));
    LBQ_TRY(lbq_h5w_attr_i64(w, "", "lbq_quantized", 1));
    LBQ_TRY(lbq_h5w_attr_str(w, "", "source_file", lbq_file_path(f)));
    LBQ_TRY(lbq_h5w_attr_str(w, "", "config", config_label));
    if (hp->has_step) LBQ_TRY(lbq_h5w_attr_i64(w, "", "step", hp->step));
    LBQ_TRY(lbq_h5w_attr_f64(w, "", "beta1", hp->beta1));
    LBQ_TRY(lbq_h5w_attr_f64(w, "", "beta2", hp->beta2));
    LBQ_TRY(lbq_h5w_attr_f64(w, "", "eps", hp->eps));
cleanup:
    return rc;
}

static int64_t gcd64(int64_t a, int64_t b) { while (b) { int64_t t = a % b; a = b; b = t; } return a; }
static int64_t lcm64(int64_t a, int64_t b) { return a / gcd64(a, b) * b; }

int lbq_quantize_state(struct lbq_file *f, int p, enum lbq_ds ds, const struct lbq_qplan *pl, struct lbq_h5w *w,
                       int64_t mem, const char *label, int64_t *nonfinite_out)
{
    int rc = LBQ_OK;
    *nonfinite_out = 0;
    const struct lbq_param_info *pi = lbq_file_param(f, p);
    const char *gname = lbq_file_param_raw_name(f, p);     /* the input's group path (pi->name is for display) */
    const struct lbq_shape *sh = &pi->shape;
    const int64_t N = sh->numel;
    float *x = NULL, *xh = NULL, *sc = NULL, *bsc = NULL, *bp = NULL;
    uint8_t *codes = NULL, *packed = NULL;
    struct lbq_tstats st;
    int have_st = 0;
    int dq, dc = -1, ds_sc = -1, dp = -1;
    char name[LBQ_NAME_MAX + 64];
    int64_t re = lbq_shape_row_elems(sh);
    int64_t unit = lcm64(lcm64(re, 8), pl ? (pl->norm->blockwise ? pl->block : 1) : 1);
    int64_t slab = mem / 16;
    slab = (slab / unit) * unit;
    if (slab < unit) slab = unit;
    if (slab > N) slab = N;
    const size_t fb = sizeof(float) * (size_t)slab;     /* big buffers (src/misc.c) */
    x = lbq_big_alloc(fb);
    xh = lbq_big_alloc(fb);
    if (!x || !xh) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory (lower --mem-limit)"); goto cleanup; }
    LBQ_TRY(lbq_h5w_dset(w, gname, label, LBQ_W_F32, sh, &dq));
    if (!pl) {
        for (int64_t off = 0; off < N; off += slab) {
            int64_t n = N - off < slab ? N - off : slab;
            LBQ_TRY(lbq_file_read(f, p, ds, 0, off, n, x));
            LBQ_TRY(lbq_h5w_write(w, dq, off, n, x));
        }
        snprintf(name, sizeof name, "%s/%s", gname, label);
        LBQ_TRY(lbq_h5w_attr_i64(w, name, "quantized", 0));
        goto cleanup;
    }
    sc = lbq_big_alloc(fb);
    bsc = malloc(sizeof(float) * (size_t)(pl->norm->blockwise ? slab / pl->block + 1 : 1));
    codes = lbq_big_alloc((size_t)slab);
    packed = lbq_big_alloc((size_t)slab + 8);
    lbq_big_trim();
    int npar = pl->spec.map->nparams && pl->norm->blockwise ? pl->spec.map->nparams(&pl->spec) : 0;
    if (npar) bp = malloc(sizeof(float) * (size_t)(npar * (slab / pl->block + 1)));
    if (!sc || !bsc || !codes || !packed || (npar && !bp)) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
    struct lbq_shape cs = { 1, { (N * pl->bits + 7) / 8 }, (N * pl->bits + 7) / 8 };
    snprintf(name, sizeof name, "%s.codes", label);
    LBQ_TRY(lbq_h5w_dset(w, gname, name, LBQ_W_U8, &cs, &dc));
    int64_t nsc = pl->norm->nscales(pl, sh);
    struct lbq_shape ss = { 1, { nsc }, nsc };
    snprintf(name, sizeof name, "%s.scales", label);
    LBQ_TRY(lbq_h5w_dset(w, gname, name, LBQ_W_F32, &ss, &ds_sc));
    if (npar) {
        int64_t nb = (N + pl->block - 1) / pl->block;
        struct lbq_shape ps = { 2, { nb, npar }, nb * npar };
        snprintf(name, sizeof name, "%s.params", label);
        LBQ_TRY(lbq_h5w_dset(w, gname, name, LBQ_W_F32, &ps, &dp));
    }
    if (pl->norm->global_stats) {
        LBQ_TRY(lbq_tstats_init(&st, sh));
        have_st = 1;
        for (int64_t off = 0; off < N; off += slab) {
            int64_t n = N - off < slab ? N - off : slab;
            LBQ_TRY(lbq_file_read(f, p, ds, 0, off, n, x));
            lbq_tstats_add(&st, off, n, x);
        }
    }
    int64_t nonfinite = 0;
    for (int64_t off = 0; off < N; off += slab) {
        int64_t n = N - off < slab ? N - off : slab;
        LBQ_TRY(lbq_file_read(f, p, ds, 0, off, n, x));
        for (int64_t i = 0; i < n; i++) nonfinite += !isfinite(x[i]);
        /* sc: the scratch of per-element scales where needed; bsc: the stored one per block */
        LBQ_TRY(lbq_qdq_stored(pl, have_st ? &st : NULL, off, n, x, xh, codes, bsc, bp, sc));
        LBQ_TRY(lbq_h5w_write(w, dq, off, n, xh));
        lbq_pack(codes, n, pl->bits, packed);
        LBQ_TRY(lbq_h5w_write(w, dc, off * pl->bits / 8, (n * pl->bits + 7) / 8, packed));
        if (pl->norm->blockwise) {
            int64_t nb = (n + pl->block - 1) / pl->block;
            LBQ_TRY(lbq_h5w_write(w, ds_sc, off / pl->block, nb, bsc));
            if (npar) LBQ_TRY(lbq_h5w_write(w, dp, (off / pl->block) * npar, nb * npar, bp));
        }
    }
    if (!pl->norm->blockwise) {     /* global statistics are the stored scales */
        float *all = malloc(sizeof(float) * (size_t)nsc);
        if (!all) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
        lbq_qplan_global_scales(pl, &st, nsc, all);
        rc = lbq_h5w_write(w, ds_sc, 0, nsc, all);
        free(all);
        if (rc) goto cleanup;
    }
    *nonfinite_out = nonfinite;     /* the caller warns */
    snprintf(name, sizeof name, "%s/%s", gname, label);
    LBQ_TRY(lbq_h5w_attr_i64(w, name, "quantized", 1));
    LBQ_TRY(lbq_h5w_attr_i64(w, name, "nonfinite_inputs", nonfinite));
    LBQ_TRY(lbq_h5w_attr_str(w, name, "spec", pl->spec.text));
    LBQ_TRY(lbq_h5w_attr_str(w, name, "norm", pl->norm->name));
    LBQ_TRY(lbq_h5w_attr_str(w, name, "map", pl->spec.map->name));
    LBQ_TRY(lbq_h5w_attr_i64(w, name, "bits", pl->bits));
    LBQ_TRY(lbq_h5w_attr_i64(w, name, "block", pl->norm->blockwise ? pl->block : 0));
    LBQ_TRY(lbq_h5w_attr_i64(w, name, "signed", pl->is_signed));
    LBQ_TRY(lbq_h5w_attr_str(w, name, "code_order", "lsb-first"));
    struct lbq_qsize qs;
    lbq_qplan_size(pl, sh, &qs);
    LBQ_TRY(lbq_h5w_attr_f64(w, name, "bits_per_elem", qs.bits_per_elem));
cleanup:
    if (have_st) lbq_tstats_free(&st);
    lbq_big_free(x, fb); lbq_big_free(xh, fb); lbq_big_free(sc, fb); free(bp); free(bsc);
    lbq_big_free(codes, (size_t)slab); lbq_big_free(packed, (size_t)slab + 8);
    return rc;
}

