/* cmd-sweep.c - `lbq sweep`: maps x normalizations x bitwidths x block sizes over a moment file,
 * reading each tensor once, with results.json, results.tsv and the paper-style figures. */
#include "cli.h"
#include "lbq-report.h"
#include "lbq-sweep.h"
#include "lbq-analysis.h"
#include "lbq-sim.h"
#include "lbq-mpi.h"
#include "plot.h"
#include "sweep-grid.h"
#include "lbq-sample.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char lbq_usage_sweep[] =
"usage: lbq sweep FILE -o DIR [--map LIST] [--norm LIST] [--bits LIST] [--block LIST] [--state m|v|both]\n"
"                 [--quiet] [--no-plot] [--no-swamp] [--no-recipes] [--resume] [--tensor GLOB] [--mem-limit SIZE]\n"
"                 [--m-name PAT] [--v-name PAT] [--checkpoint N] [--device auto|cpu|cuda|twin] [--sample F]\n"
"\n"
"Evaluate every combination map x normalization x bitwidth (x block size for 'block') on every\n"
"parameter and write DIR/results.json (schema lbq.sweep/3, docs/schema.md), DIR/results.tsv (one row\n"
"per config x parameter, a TOTAL row per config (pooled over elements), then TOTAL:weighted_mean,\n"
"TOTAL:median, TOTAL:worst and GROUP:NAME:STAT rows per role group) and the figures (docs/figures.md) as PNG and PDF.\n"
"Each tensor is read once per sweep (twice only when it exceeds --mem-limit and a config needs\n"
"tensor-wide statistics).  Combinations a map does not support are skipped (log: block only and\n"
"unsigned; with --state both its m is the m quantizer of the recipe that uses log for v, solo42's).\n"
"With --state both every published recipe ('lbq list') is one more configuration, recipe:NAME,\n"
"with its own m and v quantizers and fp32 exemptions (figure 7; 'lbq recommend DIR').\n"
"\n"
"  --map LIST     default dtree,dtree0,linear,linsq,log,uniform\n"
"  --norm LIST    default block,rank1 (also tensor, row, col)\n"
"  --bits LIST    e.g. 2-8 (default) or 2,4,8\n"
"  --block LIST   default 32,64,128,256,512,2048\n"
"  --state S      which states are quantized: m, v or both (default both; the other stays fp32)\n"
"  --round/--seed/--quantile   as in 'lbq analyze --help' (also used by the swamping runs)\n"
"  --tensor GLOB, --mem-limit SIZE, --m-name/--v-name PAT, --device D, --group REGEX=NAME\n"
"                 as in 'lbq analyze --help'\n"
"                 (--device auto: the GPU only when one is present and passes its self-check)\n"
"  -o, --output DIR   output directory (created with its parents if missing)\n"
"  --no-plot      skip the figures ('lbq plot DIR/results.json -o DIR' makes them later)\n"
"  --no-swamp     skip SOLO's synthetic swamping runs (figure 4)\n"
"  --no-recipes   leave out the published recipes' configurations (recipe:NAME; fig7 marks none)\n"
"  --resume       keep the configs already in DIR/results.json and evaluate only the missing ones;\n"
"                 refused unless that file was made from the same input (path, size, time, tensor\n"
"                 fingerprint) with the same options; its configs outside this list are kept\n"
"  --checkpoint N evaluate N configurations at a time and save the results after each batch, so an\n"
"                 interrupted sweep (Ctrl-C) keeps them for --resume; each tensor is then read once\n"
"                 per batch (default: one batch, one read)\n"
"  --sample F     evaluate a seeded (--seed) sample of whole blocks, F of each tensor (0.05 or 5%%), with a\n"
"                 95%% interval for every aggregate, then re-evaluate exactly the configurations on or\n"
"                 near the Pareto front (docs/metrics.md, sampled evaluation)\n"
"  -q, --quiet    no progress bar or notices (the bar is shown only when stderr is a terminal)\n";

enum { O_OUT = 1, O_MAP, O_NORM, O_BITS, O_BLOCK, O_STATE, O_QUIET, O_NOPLOT, O_NOSWAMP, O_NORECIPES, O_RESUME, O_TENSOR, O_MEM,
       O_ROUND, O_SEED, O_QUANTILE, O_MNAME, O_VNAME, O_CHECKPOINT, O_DEVICE, O_SAMPLE, O_GROUP };
static const struct cli_opt opts[] = {
    { "output", 1, O_OUT }, { "map", 1, O_MAP }, { "norm", 1, O_NORM }, { "bits", 1, O_BITS }, { "block", 1, O_BLOCK },
    { "state", 1, O_STATE }, { "quiet", 0, O_QUIET }, { "no-plot", 0, O_NOPLOT }, { "no-swamp", 0, O_NOSWAMP }, { "no-recipes", 0, O_NORECIPES },
    { "resume", 0, O_RESUME }, { "tensor", 1, O_TENSOR }, { "mem-limit", 1, O_MEM }, { "round", 1, O_ROUND },
    { "seed", 1, O_SEED }, { "quantile", 1, O_QUANTILE }, { "m-name", 1, O_MNAME }, { "v-name", 1, O_VNAME }, { "device", 1, O_DEVICE },
    { "checkpoint", 1, O_CHECKPOINT }, { "sample", 1, O_SAMPLE }, { "group", 2, O_GROUP }, { 0, 0, 0 },
};

static volatile sig_atomic_t g_interrupted = 0;
static void on_sigint(int sig) { (void)sig; g_interrupted = 1; }

#define MAX_LIST LBQ_SWEEP_MAX_LIST
#define sweep_axes lbq_sweep_axes

static int parse_int_list(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out, int *n)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    *n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *dash = strchr(tok + 1, '-');
        long long a, b;
        if (dash) {
            *dash = 0;
            if (cli_int(cmd, opt, tok, lo, hi, &a) || cli_int(cmd, opt, dash + 1, lo, hi, &b)) return -1;
            if (b < a) { cli_usage_error(cmd, "%s: empty range %lld-%lld", opt, a, b); return -1; }
        } else {
            if (cli_int(cmd, opt, tok, lo, hi, &a)) return -1;
            b = a;
        }
        for (long long v = a; v <= b; v++) {
            int dup = 0;
            for (int k = 0; k < *n; k++) dup |= out[k] == v;       /* repeated values count once */
            if (dup) continue;
            if (*n == MAX_LIST) { cli_usage_error(cmd, "%s: more than %d values", opt, MAX_LIST); return -1; }
            out[(*n)++] = v;
        }
    }
    if (*n == 0) { cli_usage_error(cmd, "%s: empty list", opt); return -1; }
    return 0;
}

static int g_bar_open;          /* a progress bar line is on stderr without its newline */

/* the bar; the ETA shows "--" until 2% of the work and 1 s have passed (earlier estimates swing) */
static void progress(int quiet, double frac, double elapsed, const char *what)
{
    if (quiet || !isatty(2) || lbq_mpi_size() > 1) return;     /* MPI: no bar (rank 0 sees its share only) */
    int w = 30, f = (int)(frac * w + 0.5);
    char eta[16];
    if (frac >= 0.02 && elapsed >= 1.0) snprintf(eta, sizeof eta, "%4.0fs", elapsed * (1.0 - frac) / frac);
    else snprintf(eta, sizeof eta, "  --");
    fprintf(stderr, "\r[%.*s%*s] %5.1f%% ETA %s %-40.40s", f, "##############################", w - f, "", 100.0 * frac, eta, what);
    g_bar_open = 1;
    if (frac >= 1.0) { fputc('\n', stderr); g_bar_open = 0; }
}

/* end the bar's line before any other message (an error, an interrupt) */
static void progress_end(void)
{
    if (g_bar_open) { fputc('\n', stderr); g_bar_open = 0; }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- MPI (cli/lbq-mpi.h) -----------------------------------------------------------------------
 * A batch's work is np x K units: unit i*K+k is parameter i with the batch's configuration chunk k
 * (K = 1 unless there are fewer parameters than ranks).  Units are partitioned by element-configs;
 * each rank keeps its units' results until the batch ends, then rank 0 receives them in unit order
 * (parameter order for every configuration) and folds them as one process would. */
struct sweep_mpi {
    int np, K, nb, nunits;
    int *owner, *owner0;        /* owner of each unit; of each parameter's chunk 0 (heat map data) */
    int64_t *w;
    struct lbq_param_eval **store;
    struct lbq_sweep *sw;
    const int *todo;            /* the batch's configuration indices */
};

static void mpi_plan_free(struct sweep_mpi *mp)
{
    if (mp->store) for (int u = 0; u < mp->nunits; u++) free(mp->store[u]);
    free(mp->store); free(mp->owner); free(mp->owner0); free(mp->w);
    mp->store = NULL; mp->owner = mp->owner0 = NULL; mp->w = NULL; mp->nunits = 0;
}

/* Configuration chunks give the same bits as one call only if every chunk evaluates with the same
 * slab chunking, which lbq_eval_param derives from the batch's block sizes (the library's rule). */
static int config_split_ok(const struct sweep_axes *ax, const struct lbq_qdefaults *d)
{
    int64_t b[MAX_LIST + 1];
    int n = 0;
    for (int i = 0; i < ax->nblocks && n < MAX_LIST; i++) b[n++] = ax->blocks[i];
    b[n++] = d->block;
    return lbq_eval_blocks_split_ok(b, n);
}

static int mpi_plan(struct sweep_mpi *mp, struct lbq_file *f, int nb, int split_ok, int note)
{
    mpi_plan_free(mp);
    int np = lbq_file_nparams(f), size = lbq_mpi_size();
    int K = 1;
    if (size > 1 && np < size && split_ok) { K = (size + np - 1) / np; if (K > nb) K = nb; }
    mp->np = np; mp->K = K; mp->nb = nb; mp->nunits = np * K;
    mp->owner = calloc((size_t)mp->nunits, sizeof *mp->owner);
    mp->owner0 = calloc((size_t)np, sizeof *mp->owner0);
    mp->w = calloc((size_t)mp->nunits, sizeof *mp->w);
    mp->store = calloc((size_t)mp->nunits, sizeof *mp->store);
    if (!mp->owner || !mp->owner0 || !mp->w || !mp->store) { mpi_plan_free(mp); return lbq_err(LBQ_ERR_NOMEM, "out of memory"); }
    for (int i = 0; i < np; i++)
        for (int k = 0; k < K; k++)
            mp->w[i * K + k] = lbq_file_param(f, i)->shape.numel * (int64_t)((k + 1) * nb / K - k * nb / K);
    lbq_mpi_partition(mp->w, mp->nunits, mp->owner);
    for (int i = 0; i < np; i++) mp->owner0[i] = mp->owner[i * K];
    if (note) lbq_mpi_note_balance("sweep", mp->w, mp->owner, mp->nunits, K > 1 ? "units (tensor x configuration chunk)" : "tensors");
    return LBQ_OK;
}

static void *mpi_get_unit(void *ud, int u, size_t *len)
{
    struct sweep_mpi *mp = ud;
    int k = u % mp->K;
    *len = sizeof(struct lbq_param_eval) * (size_t)((k + 1) * mp->nb / mp->K - k * mp->nb / mp->K);
    void *b = mp->store[u];
    mp->store[u] = NULL;        /* freed by lbq_mpi_collect */
    return b;
}

static int mpi_put_unit(void *ud, int u, const void *blob, size_t len)
{
    struct sweep_mpi *mp = ud;
    int i = u / mp->K, k = u % mp->K, j0 = k * mp->nb / mp->K, j1 = (k + 1) * mp->nb / mp->K;
    if (blob && len != sizeof(struct lbq_param_eval) * (size_t)(j1 - j0))
        return lbq_err(LBQ_ERR_UNSUPPORTED, "MPI: unit %d: %zu bytes received (the same lbq binary must run on every rank)", u, len);
    const struct lbq_param_eval *ev = blob ? blob : mp->store[u];
    if (!ev) return lbq_err(LBQ_ERR_NOMEM, "MPI: unit %d: no results", u);
    return lbq_sweep_fold(mp->sw, i, mp->todo + j0, j1 - j0, ev);
}

static void *mpi_get_heat(void *ud, int p, size_t *len) { return lbq_sweep_heat_pack(ud, p, len); }

static int mpi_put_heat(void *ud, int p, const void *blob, size_t len)
{
    if (!blob) return LBQ_OK;       /* rank 0's own parameter: done when it was evaluated */
    return lbq_sweep_heat_unpack(ud, p, blob, len);
}

/* the end of a batch: every rank's units to rank 0 (folded there), the heat map data and the tensor
 * fingerprints after the first batch, and the elements read by the other ranks (timing.elements_read_*) */
static int mpi_gather_batch(struct sweep_mpi *mp, struct lbq_sweep *sw, struct lbq_file *f, int first)
{
    int rc = lbq_mpi_agree(LBQ_OK);     /* every rank evaluated its units (or one failed) */
    if (rc) return rc;
    rc = lbq_mpi_collect(mp->owner, mp->nunits, mpi_get_unit, mpi_put_unit, mp);
    if ((rc = lbq_mpi_agree(rc))) return rc;
    if (first) {
        rc = lbq_mpi_collect(mp->owner0, mp->np, mpi_get_heat, mpi_put_heat, sw);
        if ((rc = lbq_mpi_agree(rc))) return rc;
        /* each parameter's fingerprint from the rank that read its chunk 0 */
        int64_t *fp = calloc((size_t)(mp->np ? mp->np : 1), sizeof *fp);
        if ((rc = lbq_mpi_agree(fp ? LBQ_OK : lbq_err(LBQ_ERR_NOMEM, "out of memory")))) { free(fp); return rc; }
        for (int i = 0; i < mp->np; i++) {
            uint64_t h;
            if (mp->owner0[i] == lbq_mpi_rank() && lbq_file_fingerprint(f, i, &h)) memcpy(&fp[i], &h, sizeof h);
        }
        lbq_mpi_sum_i64(fp, mp->np);
        for (int i = 0; i < mp->np; i++) {
            uint64_t h;
            memcpy(&h, &fp[i], sizeof h);
            if (mp->owner0[i] != lbq_mpi_rank()) lbq_file_fingerprint_set(f, i, h);
        }
        free(fp);
    }
    int64_t mine[2] = { 0, 0 }, all[2];
    for (int i = 0; i < mp->np; i++) { mine[0] += lbq_file_elems_read(f, i, LBQ_DS_M); mine[1] += lbq_file_elems_read(f, i, LBQ_DS_V); }
    all[0] = mine[0]; all[1] = mine[1];
    lbq_mpi_sum_i64(all, 2);
    lbq_sweep_set_reads_other(sw, all[0] - mine[0], all[1] - mine[1]);
    return LBQ_OK;
}

/* --resume: rank 0 read DIR/results.json; every rank needs the same configurations to evaluate */
static int mpi_share_done(struct lbq_sweep *sw)
{
    int nconf = lbq_sweep_nconf(sw);
    if (lbq_mpi_size() == 1) return LBQ_OK;
    int *dn = malloc(sizeof(int) * (size_t)(nconf + 1));
    int rc = lbq_mpi_agree(dn ? LBQ_OK : lbq_err(LBQ_ERR_NOMEM, "out of memory"));
    if (rc) { free(dn); return rc; }
    for (int c = 0; c < nconf; c++) dn[c] = lbq_sweep_conf(sw, c)->done;
    lbq_mpi_bcast_int(dn, nconf);
    for (int c = 0; c < nconf; c++) lbq_sweep_conf(sw, c)->done = dn[c];
    free(dn);
    return LBQ_OK;
}

/* The topmost component of dir that does not exist yet (malloc'd), or NULL when dir exists. */
static char *first_missing_dir(const char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) == 0) return NULL;
    char *t = strdup(dir);
    if (!t) return NULL;
    size_t n = strlen(t);
    for (size_t i = 1; i <= n; i++) {
        if (t[i] != '/' && t[i] != 0) continue;
        char c = t[i];
        t[i] = 0;
        if (stat(t, &sb) != 0) return t;
        t[i] = c;
    }
    free(t);
    return NULL;
}

/* rmdir dir and its parents up to `top` (each only if empty) */
static void remove_created_dirs(const char *dir, const char *top)
{
    char *t = strdup(dir);
    if (!t) return;
    size_t lt = strlen(top);
    for (;;) {
        size_t n = strlen(t);
        while (n > 1 && t[n - 1] == '/') t[--n] = 0;
        if (n < lt || rmdir(t) != 0) break;
        if (n == lt) break;
        char *sl = strrchr(t, '/');
        if (!sl) break;
        *sl = 0;
    }
    free(t);
}

/* One sweep writes a directory at a time: an exclusive flock on DIR/.lbq-lock, held until the
 * process ends (the kernel releases it whatever ends the process, kill -9 included). */
static int dir_lock(const char *dir, int *fd_out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/.lbq-lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return lbq_err(LBQ_ERR_OUTPUT, "%s: cannot create the lock file %s: %s", dir, path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return lbq_err(LBQ_ERR_OUTPUT, "%s: another lbq sweep is writing into this directory (%s is locked); wait for it or use another -o", dir, path);
        return lbq_err(LBQ_ERR_OUTPUT, "%s: cannot lock %s: %s", dir, path, strerror(e));
    }
    *fd_out = fd;
    return LBQ_OK;
}

static int interrupted(const char *dir, int checkpoint, int wrote)
{
    if (wrote) return lbq_err(LBQ_ERR_INTERRUPTED, "interrupted: the configurations of earlier batches are saved in %s/results.json; rerun with --resume", dir);
    if (checkpoint) return lbq_err(LBQ_ERR_INTERRUPTED, "interrupted: nothing written (the first batch of %d configurations had not finished)", checkpoint);
    return lbq_err(LBQ_ERR_INTERRUPTED, "interrupted: nothing written (use --checkpoint N to save partial results)");
}

int cmd_sweep(int argc, char **argv)
{
    struct cli_parser p = { "sweep", opts, argc, argv, 1, {0}, 0 };
    struct lbq_open_opts oo = { 0, 0, 0 };
    struct lbq_qdefaults d;
    struct sweep_axes ax;
    const char *val, *dir = NULL, *device = NULL;
    const char *maps_s = LBQ_SWEEP_MAPS, *norms_s = LBQ_SWEEP_NORMS, *bits_s = LBQ_SWEEP_BITS, *blocks_s = LBQ_SWEEP_BLOCKS;
    long long mem = 1LL << 30, tmp[MAX_LIST];
    int id, rc = LBQ_OK, exitc = 0, quiet = 0, noplot = 0, noswamp = 0, resume = 0, checkpoint = 0, sampled = 0, ngroup_specs = 0;
    struct lbq_sample_opts smp = { 1.0, 0 };
    struct lbq_sample_acc *sout = NULL;
    const char *group_specs[LBQ_GROUPS_MAX];
    lbq_qdefaults_init(&d);
    memset(&ax, 0, sizeof ax);
    ax.state = 2;
    while ((id = cli_next(&p, &val)) != 0) {
        if (id < 0) return LBQ_EXIT_USAGE;
        if (id == 'h') return cli_help("sweep");
        double dv; long long iv;
        switch (id) {
        case O_OUT: dir = val; break;
        case O_MAP: maps_s = val; break;
        case O_NORM: norms_s = val; break;
        case O_BITS: bits_s = val; break;
        case O_BLOCK: blocks_s = val; break;
        case O_STATE:
            if (strcmp(val, "m") == 0) ax.state = 0; else if (strcmp(val, "v") == 0) ax.state = 1; else if (strcmp(val, "both") == 0) ax.state = 2;
            else return cli_usage_error("sweep", "--state: '%s' is not m, v or both", val);
            break;
        case O_QUIET: quiet = 1; g_cli_quiet = 1; break;
        case O_NOPLOT: noplot = 1; break;
        case O_NOSWAMP: noswamp = 1; break;
        case O_NORECIPES: ax.no_recipes = 1; break;
        case O_RESUME: resume = 1; break;
        case O_TENSOR: oo.tensor_glob = val; break;
        case O_CHECKPOINT: if (cli_int("sweep", "--checkpoint", val, 1, 1000000, &iv)) return LBQ_EXIT_USAGE; checkpoint = (int)iv; break;
        case O_MNAME: oo.m_name = val; break;
        case O_VNAME: oo.v_name = val; break;
        case O_MEM: if (cli_bytes("sweep", "--mem-limit", val, &mem)) return LBQ_EXIT_USAGE; break;
        case O_DEVICE: device = val; break;
        case O_SAMPLE: if (lbq_sample_parse(val, &smp.frac)) return cli_usage_error("sweep", "%s", lbq_errmsg()); sampled = 1; break;
        case O_GROUP:
            if (ngroup_specs >= LBQ_GROUPS_MAX) return cli_usage_error("sweep", "--group: at most %d rules", LBQ_GROUPS_MAX);
            group_specs[ngroup_specs++] = val;
            break;
        case O_ROUND:
            if (strcmp(val, "nearest") == 0) d.round = LBQ_ROUND_NEAREST;
            else if (strcmp(val, "stochastic") == 0 || strcmp(val, "sr") == 0) d.round = LBQ_ROUND_STOCHASTIC;
            else return cli_usage_error("sweep", "--round: '%s' is not 'nearest' or 'stochastic'", val);
            break;
        case O_SEED: if (cli_int("sweep", "--seed", val, 0, 0x7fffffffffffffffLL, &iv)) return LBQ_EXIT_USAGE; d.seed = (uint64_t)iv; break;
        case O_QUANTILE: if (cli_double("sweep", "--quantile", val, 1e-9, 1 - 1e-9, &dv)) return LBQ_EXIT_USAGE; d.quantile = (float)dv; break;
        }
    }
    if (p.npos != 1) return cli_usage_error("sweep", p.npos ? "expected one FILE, got %d arguments" : "missing FILE%.0d", p.npos);
    if (!dir) return cli_usage_error("sweep", "missing -o DIR");
    if (sampled && (resume || checkpoint || lbq_mpi_size() > 1))
        return cli_usage_error("sweep", "--sample cannot be combined with %s", resume ? "--resume" : checkpoint ? "--checkpoint" : "MPI (run one process)");
    smp.seed = d.seed;
    if (cli_check_outdir("-o", dir, p.positional[0])) return LBQ_EXIT_OUTPUT;
    /* axes */
    char buf[512];
    snprintf(buf, sizeof buf, "%s", maps_s);
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        const struct lbq_map *m = lbq_map_find(t);
        if (!m) { const char *s = lbq_name_suggest(t); return cli_usage_error("sweep", "--map: unknown map '%s'%s%s%s", t, s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : ""); }
        if (!m->sweepable) return cli_usage_error("sweep", "--map: the '%s' map is not swept (use analyze --map-file)", m->name);
        int dup = 0;
        for (int k = 0; k < ax.nmaps; k++) dup |= ax.maps[k] == m;
        if (!dup && ax.nmaps < MAX_LIST) ax.maps[ax.nmaps++] = m;
    }
    snprintf(buf, sizeof buf, "%s", norms_s);
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        int64_t blk = 0;
        const struct lbq_norm *n = lbq_norm_find(t, &blk);
        if (!n || blk) return cli_usage_error("sweep", "--norm: unknown normalization '%s' (known: tensor, block, rank1, row, col; sizes go in --block)", t);
        int dup = 0;
        for (int k = 0; k < ax.nnorms; k++) dup |= ax.norms[k] == n;
        if (!dup && ax.nnorms < MAX_LIST) ax.norms[ax.nnorms++] = n;
    }
    if (parse_int_list("sweep", "--bits", bits_s, 1, 8, tmp, &ax.nbits)) return LBQ_EXIT_USAGE;
    for (int i = 0; i < ax.nbits; i++) ax.bits[i] = (int)tmp[i];
    if (parse_int_list("sweep", "--block", blocks_s, 1, 1 << 24, tmp, &ax.nblocks)) return LBQ_EXIT_USAGE;
    for (int i = 0; i < ax.nblocks; i++) ax.blocks[i] = tmp[i];
    if (ax.nmaps == 0 || ax.nnorms == 0) return cli_usage_error("sweep", "empty --map or --norm");
    /* device: given, or auto when a CUDA device is present (silently the CPU without one) */
    int use_dev = 0;
    if (device || lbq_cuda_device_count() > 0) {
        int dr = cli_device_select("sweep", device ? device : "auto", &use_dev);
        if (dr == -2) return LBQ_EXIT_USAGE;
        if (dr < 0) return LBQ_EXIT_CUDA;
    }

    /* --group rules: a bad one is a usage error, before any work */
    struct lbq_groups *groups = NULL;
    if (lbq_groups_new(&groups)) return cli_fail(LBQ_ERR_NOMEM);
    for (int k = 0; k < ngroup_specs; k++)
        if (lbq_groups_add_rule(groups, group_specs[k])) { cli_usage_error("sweep", "%s", lbq_errmsg()); lbq_groups_free(groups); return LBQ_EXIT_USAGE; }
    struct lbq_file *f = NULL;
    struct lbq_sweep *sw = NULL;
    struct lbq_config *cl = NULL;
    struct lbq_param_eval *tmpev = NULL;
    cJSON *summary = NULL;
    char path[4096];
    int nconf = 0, *todo = NULL, wrote = 0, lock_fd = -1;
    char *created = NULL;       /* the topmost directory of -o DIR this run created */
    struct sweep_mpi mp;
    memset(&mp, 0, sizeof mp);
    double t0 = now_s();
    struct lbq_sweep_ident ident = { oo.tensor_glob, oo.m_name, oo.v_name };
    LBQ_TRY(lbq_sweep_new(&ax, &d, &ident, &sw));
    nconf = lbq_sweep_nconf(sw);
    cli_guard_file(p.positional[0]);
    rc = lbq_file_open(p.positional[0], &oo, &f);       /* input errors first: no empty output dir */
    if (!rc) rc = lbq_file_set_mem_limit(f, mem);       /* the file's chunking vs --mem-limit */
    if (rc) goto cleanup;
    cli_print_file_notes(f);
    if (lbq_mpi_rank() == 0) {      /* MPI: rank 0 writes, takes the lock and reads --resume */
        created = first_missing_dir(dir);
        LBQ_TRY(lbq_mkdirs(dir));
        LBQ_TRY(dir_lock(dir, &lock_fd));
    }
    rc = lbq_mpi_agree(rc);
    if (rc) goto cleanup;
    LBQ_TRY(lbq_sweep_begin(sw, f, mem, lbq_mpi_rank() == 0 ? dir : NULL));
    LBQ_TRY(lbq_sweep_set_groups(sw, groups));
    snprintf(path, sizeof path, "%s/results.json", dir);
    if (resume && lbq_mpi_rank() == 0) rc = lbq_sweep_resume(sw, path);
    rc = lbq_mpi_agree(rc);
    if (rc) goto cleanup;
    LBQ_TRY(mpi_share_done(sw));
    int np = lbq_file_nparams(f);
    int ntodo = 0;
    for (int c = 0; c < nconf; c++) if (!lbq_sweep_conf(sw, c)->done) ntodo++;
    cli_note("sweep: %d configurations (%d to evaluate) x %d parameters", nconf, ntodo, np);
    cl = calloc((size_t)nconf, sizeof *cl);
    if (sampled) {          /* --sample: the replicate slots of one parameter's evaluation */
        sout = malloc(sizeof *sout * (size_t)nconf);
        if (!sout) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
        LBQ_TRY(lbq_sweep_set_sample(sw, &smp));
    }
    todo = malloc(sizeof(int) * (size_t)(nconf + 1));
    if (!cl || !todo) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
    signal(SIGINT, on_sigint);
    int64_t total_el = 0;
    for (int i = 0; i < np; i++) total_el += lbq_file_param(f, i)->shape.numel;
    int split_ok = config_split_ok(&ax, &d);
    /* batches of --checkpoint configurations (default: all at once, so each tensor is read once);
     * after each batch the results so far are saved, so an interrupted sweep can be resumed */
    int batch = checkpoint > 0 ? checkpoint : (ntodo > 0 ? ntodo : 1);
    int nt = 0;
    for (int c = 0; c < nconf; c++) if (!lbq_sweep_conf(sw, c)->done) todo[nt++] = c;
    int64_t work = (int64_t)nt * total_el, done_work = 0;
    for (int b0 = 0; b0 < nt; b0 += batch) {
        int nb = (nt - b0 < batch) ? nt - b0 : batch;
        for (int j = 0; j < nb; j++) cl[j] = lbq_sweep_conf(sw, todo[b0 + j])->c;
        struct lbq_eval_opts eo = { mem, 10.0, use_dev, NULL, sw, &g_interrupted };   /* Ctrl-C stops inside a tensor */
        /* which (parameter x configuration chunk) units are ours: with one process, K = 1 and all */
        rc = mpi_plan(&mp, f, nb, split_ok, b0 == 0);
        if (rc) goto cleanup;
        mp.sw = sw;
        mp.todo = todo + b0;
        for (int i = 0; i < np; i++) {
            if (g_interrupted) { rc = interrupted(dir, checkpoint, wrote); goto cleanup; }
            const struct lbq_param_info *pi = lbq_file_param(f, i);
            for (int k = 0; k < mp.K; k++) {
                if (mp.owner[i * mp.K + k] != lbq_mpi_rank()) continue;
                int j0 = k * nb / mp.K, j1 = (k + 1) * nb / mp.K;
                progress(quiet, (double)done_work / (double)(work ? work : 1), now_s() - t0, pi->name);
                tmpev = calloc((size_t)(j1 - j0), sizeof *tmpev);
                if (!tmpev) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
                int heat = b0 == 0 && k == 0;       /* the heat map's data: from the first batch's reads */
                eo.slab_cb = heat ? lbq_sweep_heat_slab : NULL;
                rc = sampled ? lbq_eval_param_sampled(f, i, cl + j0, j1 - j0, &eo, &smp, sout, tmpev)
                             : lbq_eval_param(f, i, cl + j0, j1 - j0, &eo, tmpev);
                if (rc == LBQ_ERR_INTERRUPTED && g_interrupted) rc = interrupted(dir, checkpoint, wrote);
                if (rc) goto cleanup;
                done_work += (int64_t)(j1 - j0) * pi->shape.numel;
                if (b0 == 0 && j0 == 0 && j1 > j0 && tmpev[0].acc.m.nonfinite) {
                    progress_end();
                    cli_note("warning: tensor '%s': %lld elements with NaN/Inf in m or v, excluded from the metrics",
                             pi->name, (long long)tmpev[0].acc.m.nonfinite);
                }
                if (heat && lbq_mpi_rank() == 0) lbq_sweep_heat_done(sw, i);   /* other ranks ship it first */
                if (lbq_mpi_size() > 1) { mp.store[i * mp.K + k] = tmpev; tmpev = NULL; continue; }   /* folded on rank 0 below */
                /* fold each configuration's result into its totals and rows now: memory stays O(configs) */
                rc = sampled ? lbq_sweep_fold_sampled(sw, i, todo + b0 + j0, j1 - j0, tmpev, sout)
                             : lbq_sweep_fold(sw, i, todo + b0 + j0, j1 - j0, tmpev);
                free(tmpev);
                tmpev = NULL;
                if (rc) goto cleanup;
            }
        }
        if (lbq_mpi_size() > 1) {
            rc = mpi_gather_batch(&mp, sw, f, b0 == 0);
            if (rc) goto cleanup;
        }
        for (int j = 0; j < nb; j++) lbq_sweep_conf(sw, todo[b0 + j])->evaluated = 1;
        /* every tensor has been read: an earlier run's directory must have been made from the same */
        if (b0 == 0 && lbq_mpi_rank() == 0) rc = lbq_sweep_check_fingerprint(sw, 0);
        if ((rc = lbq_mpi_agree(rc))) goto cleanup;
        if (b0 + nb < nt) {         /* a checkpoint: everything evaluated so far, no swamping runs yet */
            if (lbq_mpi_rank() == 0) {
                if (!wrote) lbq_plot_sweep_clear(dir);     /* no figure of an earlier run beside these results */
                rc = lbq_sweep_write(sw, dir, 0, noswamp, NULL);
                if (!rc) wrote = 1;
            }
            if ((rc = lbq_mpi_agree(rc))) goto cleanup;
        }
    }
    if (sampled) {          /* the configurations on or near the Pareto front, again, exactly */
        double ts = now_s() - t0;
        int nn = 0;
        LBQ_TRY(lbq_sweep_sample_front(sw, todo, &nn));
        cli_note("sweep --sample: re-evaluating exactly the %d configurations on or near the Pareto front", nn);
        for (int j = 0; j < nn; j++) cl[j] = lbq_sweep_conf(sw, todo[j])->c;
        struct lbq_eval_opts eo = { mem, 10.0, use_dev, NULL, sw, &g_interrupted };
        free(tmpev);
        tmpev = calloc((size_t)(nn > 0 ? nn : 1), sizeof *tmpev);
        if (!tmpev) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto cleanup; }
        for (int i = 0; i < np && nn > 0; i++) {
            if (g_interrupted) { rc = interrupted(dir, checkpoint, wrote); goto cleanup; }
            progress(quiet, (double)i / np, now_s() - t0, "exact re-run of the front");
            rc = lbq_eval_param(f, i, cl, nn, &eo, tmpev);
            if (rc == LBQ_ERR_INTERRUPTED && g_interrupted) rc = interrupted(dir, checkpoint, wrote);
            if (rc) goto cleanup;
            LBQ_TRY(lbq_sweep_fold(sw, i, todo, nn, tmpev));
        }
        lbq_sweep_sample_times(sw, ts, now_s() - t0 - ts);
    }
    if (lbq_mpi_rank() != 0) goto cleanup;      /* MPI: rank 0 writes the results */
    if (g_interrupted) { rc = interrupted(dir, checkpoint, wrote); goto cleanup; }    /* during the last parameter */
    progress(quiet, 1.0, now_s() - t0, "done");
    lbq_plot_sweep_clear(dir);
    LBQ_TRY(lbq_sweep_write(sw, dir, 1, noswamp, noplot ? NULL : &summary));
    wrote = 1;
    cli_note("wrote %s/results.json and %s/results.tsv (%d configurations, %.1f s)", dir, dir, lbq_sweep_written(sw), now_s() - t0);
    if (g_interrupted) {
        rc = lbq_err(LBQ_ERR_INTERRUPTED, "interrupted: the results are written, the figures are not ('lbq plot %s/results.json -o %s' draws them)", dir, dir);
        goto cleanup;
    }
    if (!noplot) LBQ_TRY(lbq_plot_sweep(summary, dir, quiet));
cleanup:
    cli_signals_install();      /* back to the handler that removes temporary files (main.c) */
    progress_end();         /* an error or "interrupted" starts on a line of its own */
    free(tmpev);
    mpi_plan_free(&mp);
    rc = lbq_mpi_agree(rc);     /* pairs with the other ranks' next agreement; identity without MPI */
    if (rc) exitc = lbq_mpi_fail(rc);
    cJSON_Delete(summary);
    lbq_sweep_free(sw);
    lbq_groups_free(groups);
    free(cl); free(todo); free(sout);
    if (!rc) cli_print_read_notes(f);     /* negative v (issue 16) */
    lbq_file_close(f);
    /* a failed run that wrote nothing leaves no directory it created (and no lock file in it) */
    if (rc && !wrote && created && lbq_mpi_rank() == 0) {
        snprintf(path, sizeof path, "%s/.lbq-lock", dir);
        unlink(path);
        remove_created_dirs(dir, created);
    }
    if (lock_fd >= 0) close(lock_fd);       /* the lock goes with it (and with the process, whatever kills it) */
    free(created);
    return exitc;
}
