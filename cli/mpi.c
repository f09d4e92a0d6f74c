/* mpi.c - the MPI layer of the lbq CLI (cli/lbq-mpi.h describes the model).
 *
 * With -DLBQ_MPI=ON (LBQ_WITH_MPI defined) this is MPI; otherwise (the default build, and any build
 * that compiles the cli sources without it, e.g. fuzz/Makefile) the stub at the end: one process,
 * rank 0 of 1, every call the identity, so sweep and analyze behave exactly as the serial program.
 *
 * MPI is initialised only when an MPI launcher started the process (Open MPI's mpirun/mpiexec, srun
 * with PMIx or PMI-2, MPICH's hydra): a plain `lbq ...` in an MPI build runs exactly as the serial
 * program, without touching MPI.  LBQ_MPI=1 in the environment forces MPI_Init (singleton), LBQ_MPI=0
 * prevents it. */
#include "lbq-mpi.h"
#include "cli.h"

#ifdef LBQ_WITH_MPI
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int g_init = 0;          /* we called MPI_Init */
static int g_rank = 0, g_size = 1;
static int g_failed = 0;        /* agreed failure (sticky) */
static int g_report = 1;        /* this rank prints the agreed error */
static char g_info[160];

enum { TAG_LEN = 4242, TAG_DATA = 4243 };

static int launched_by_mpi(void)
{
    const char *force = getenv("LBQ_MPI");
    if (force && *force) return strcmp(force, "0") != 0;
    static const char *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "MPI_LOCALNRANKS" };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

/* Wait for a request without spinning a core: ranks wait for each other (rank 0's swamping runs and
 * figures, a slower rank) on nodes they may share with OpenMP threads or other jobs.  Progress is made
 * inside MPI_Test; after a short busy phase, 0.5 ms sleeps. */
static void wait_req(MPI_Request *rq)
{
    int done = 0;
    for (int k = 0;; k++) {
        MPI_Test(rq, &done, MPI_STATUS_IGNORE);
        if (done) return;
        if (k >= 64) { struct timespec ts = { 0, 500000 }; nanosleep(&ts, NULL); }
    }
}

/* last resort: one line, then the whole job goes down */
static void die(const char *what)
{
    fprintf(stderr, "lbq: error: rank %d: %s\n", g_rank, what);
    fflush(stderr);
    if (g_init) MPI_Abort(MPI_COMM_WORLD, LBQ_EXIT_FAIL);
    exit(LBQ_EXIT_FAIL);
}

void lbq_mpi_init(int *argc, char ***argv)
{
    if (!launched_by_mpi()) {
        /* `srun` without an MPI plugin starts N independent copies: say so (each does the whole job) */
        const char *nt = getenv("SLURM_STEP_NUM_TASKS");
        if (nt && atoi(nt) > 1)
            fprintf(stderr, "lbq: warning: one of %s Slurm tasks, but not started as an MPI rank (srun --mpi=pmix?): "
                            "this task does the whole job alone\n", nt);
        return;
    }
    int provided = 0;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);     /* only the main thread calls MPI */
    g_init = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    if (g_rank != 0) {          /* only rank 0 prints tables and notes; the others errors only */
        g_cli_quiet = 1;
        if (!freopen("/dev/null", "w", stdout)) { /* stdout stays; rank 0-only code paths still hold */ }
    }
}

void lbq_mpi_finalize(void)
{
    if (!g_init) return;
    fflush(stdout);
    fflush(stderr);
    MPI_Request rq;             /* meet first, so MPI_Finalize's own synchronisation does not spin */
    MPI_Ibarrier(MPI_COMM_WORLD, &rq);
    wait_req(&rq);
    MPI_Finalize();
    g_init = 0;
}

int lbq_mpi_rank(void) { return g_rank; }
int lbq_mpi_size(void) { return g_size; }

const char *lbq_mpi_build_info(void)
{
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(lib, &len);     /* allowed before MPI_Init */
    lib[len < (int)sizeof lib ? len : (int)sizeof lib - 1] = 0;
    size_t n = strcspn(lib, ",\n");         /* "Open MPI v4.1.4, package: ..." -> "Open MPI v4.1.4" */
    if (n > 100) n = 100;
    snprintf(g_info, sizeof g_info, "yes (%.*s, %d rank%s)", (int)n, lib, g_size, g_size == 1 ? "" : "s");
    return g_info;
}

int lbq_mpi_distributed(const char *cmd)
{
    return strcmp(cmd, "sweep") == 0 || strcmp(cmd, "analyze") == 0;
}

struct witem { int64_t w; int i; };
static int witem_cmp(const void *a, const void *b)
{
    const struct witem *x = a, *y = b;
    if (x->w != y->w) return x->w > y->w ? -1 : 1;     /* heaviest first */
    return (x->i > y->i) - (x->i < y->i);               /* then by index */
}

void lbq_mpi_partition(const int64_t *w, int n, int *owner)
{
    if (n <= 0) return;
    struct witem *it = malloc(sizeof *it * (size_t)n);
    int64_t *load = calloc((size_t)g_size, sizeof *load);
    if (!it || !load) die("out of memory (partition)");
    for (int i = 0; i < n; i++) { it[i].w = w[i]; it[i].i = i; }
    qsort(it, (size_t)n, sizeof *it, witem_cmp);
    for (int k = 0; k < n; k++) {
        int best = 0;
        for (int r = 1; r < g_size; r++) if (load[r] < load[best]) best = r;
        owner[it[k].i] = best;
        load[best] += it[k].w;
    }
    free(it);
    free(load);
}

void lbq_mpi_note_balance(const char *cmd, const int64_t *w, const int *owner, int n, const char *what)
{
    if (g_size <= 1) return;
    int64_t *load = calloc((size_t)g_size, sizeof *load);
    int *cnt = calloc((size_t)g_size, sizeof *cnt);
    if (!load || !cnt) { free(load); free(cnt); return; }
    int64_t tot = 0, mx = 0;
    for (int i = 0; i < n; i++) { load[owner[i]] += w[i]; cnt[owner[i]]++; tot += w[i]; }
    int mn_cnt = n;
    for (int r = 0; r < g_size; r++) { if (load[r] > mx) mx = load[r]; if (cnt[r] < mn_cnt) mn_cnt = cnt[r]; }
    double mean = (double)tot / g_size;
    cli_note("%s: %d MPI ranks, %d %s; work per rank max %lld, mean %.0f (imbalance %.2f)%s", cmd, g_size, n, what,
             (long long)mx, mean, mean > 0 ? (double)mx / mean : 1.0, mn_cnt == 0 ? "; some ranks have nothing to do" : "");
    free(load);
    free(cnt);
}

int lbq_mpi_agree(int status)
{
    if (g_failed) return g_failed;
    if (g_size <= 1) return status;
    int *all = malloc(sizeof(int) * (size_t)g_size);
    if (!all) die("out of memory (agree)");
    MPI_Request rq;
    MPI_Iallgather(&status, 1, MPI_INT, all, 1, MPI_INT, MPI_COMM_WORLD, &rq);
    wait_req(&rq);
    int first = -1;
    for (int r = 0; r < g_size && first < 0; r++) if (all[r] != 0) first = r;
    int v = first >= 0 ? all[first] : 0;
    free(all);
    if (first >= 0) { g_failed = v; g_report = (first == g_rank); }
    return v;
}

int lbq_mpi_fail(int status)
{
    return g_report ? cli_fail(status) : cli_exit_code(status);
}

static void send_blob(const void *p, size_t len)
{
    uint64_t l = (uint64_t)len;
    MPI_Request rq;
    MPI_Isend(&l, 1, MPI_UINT64_T, 0, TAG_LEN, MPI_COMM_WORLD, &rq);
    wait_req(&rq);
    const char *c = p;
    for (size_t off = 0; off < len;) {
        size_t k = len - off < ((size_t)1 << 30) ? len - off : ((size_t)1 << 30);
        MPI_Isend(c + off, (int)k, MPI_BYTE, 0, TAG_DATA, MPI_COMM_WORLD, &rq);
        wait_req(&rq);
        off += k;
    }
}

static void *recv_blob(int from, size_t *len)
{
    uint64_t l = 0;
    MPI_Request rq;
    MPI_Irecv(&l, 1, MPI_UINT64_T, from, TAG_LEN, MPI_COMM_WORLD, &rq);
    wait_req(&rq);
    char *p = malloc(l ? (size_t)l : 1);
    if (!p) die("out of memory (receiving results)");
    for (size_t off = 0; off < (size_t)l;) {
        size_t k = (size_t)l - off < ((size_t)1 << 30) ? (size_t)l - off : ((size_t)1 << 30);
        MPI_Irecv(p + off, (int)k, MPI_BYTE, from, TAG_DATA, MPI_COMM_WORLD, &rq);
        wait_req(&rq);
        off += k;
    }
    *len = (size_t)l;
    return p;
}

int lbq_mpi_collect(const int *owner, int n, lbq_mpi_get_fn get, lbq_mpi_put_fn put, void *ud)
{
    int rc = LBQ_OK;
    if (g_rank != 0) {
        for (int i = 0; i < n; i++) {
            if (owner[i] != g_rank) continue;
            size_t len = 0;
            void *b = get(ud, i, &len);
            if (!b) die("out of memory (sending results)");
            send_blob(b, len);
            free(b);
        }
        return LBQ_OK;
    }
    for (int i = 0; i < n; i++) {
        if (owner[i] == 0) { if (!rc) rc = put(ud, i, NULL, 0); continue; }
        size_t len = 0;
        void *b = recv_blob(owner[i], &len);
        if (!rc) rc = put(ud, i, b, len);
        free(b);
    }
    return rc;
}

void lbq_mpi_sum_i64(int64_t *v, int n)
{
    if (g_size <= 1) return;
    MPI_Request rq;
    MPI_Iallreduce(MPI_IN_PLACE, v, n, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD, &rq);
    wait_req(&rq);
}

void lbq_mpi_bcast_int(int *v, int n)
{
    if (g_size <= 1) return;
    MPI_Request rq;
    MPI_Ibcast(v, n, MPI_INT, 0, MPI_COMM_WORLD, &rq);
    wait_req(&rq);
}

#else   /* no MPI: the single-process identity */

void lbq_mpi_init(int *argc, char ***argv) { (void)argc; (void)argv; }
void lbq_mpi_finalize(void) {}
int  lbq_mpi_rank(void) { return 0; }
int  lbq_mpi_size(void) { return 1; }
const char *lbq_mpi_build_info(void) { return NULL; }
int  lbq_mpi_distributed(const char *cmd) { (void)cmd; return 1; }

void lbq_mpi_partition(const int64_t *w, int n, int *owner)
{
    (void)w;
    for (int i = 0; i < n; i++) owner[i] = 0;
}

void lbq_mpi_note_balance(const char *cmd, const int64_t *w, const int *owner, int n, const char *what)
{
    (void)cmd; (void)w; (void)owner; (void)n; (void)what;
}

int lbq_mpi_agree(int status) { return status; }
int lbq_mpi_fail(int status) { return cli_fail(status); }

int lbq_mpi_collect(const int *owner, int n, lbq_mpi_get_fn get, lbq_mpi_put_fn put, void *ud)
{
    (void)owner; (void)get;
    int rc = LBQ_OK;
    for (int i = 0; i < n && !rc; i++) rc = put(ud, i, NULL, 0);
    return rc;
}

void lbq_mpi_sum_i64(int64_t *v, int n) { (void)v; (void)n; }
void lbq_mpi_bcast_int(int *v, int n) { (void)v; (void)n; }

#endif
