/* lbq-mpi.h - scale-out of `lbq sweep` and `lbq analyze` over MPI ranks (`mpirun -n N lbq ...`).
 *
 * Built with -DLBQ_MPI=ON (LBQ_WITH_MPI), cli/mpi.c implements this over MPI; otherwise its stub half
 * makes every call the single-process identity (rank 0 of 1), so a build without MPI behaves exactly
 * as before.
 * The library (src/) knows nothing of MPI.
 *
 * Model: every rank runs the same command with the same arguments.  Work items (parameters, or
 * parameter x configuration-chunk units in a sweep) are partitioned by lbq_mpi_partition(), the same
 * on every rank; each rank evaluates its own; lbq_mpi_collect() brings the results to rank 0 in item
 * order, so rank 0 folds them exactly as one process would and writes the same outputs.  Only rank 0
 * prints tables, notes and progress and writes files (lbq_mpi_init() sends the other ranks' stdout to
 * /dev/null and silences their notes); the others print errors only.
 *
 * Errors: a failing rank jumps to its command's cleanup, which calls lbq_mpi_agree(rc); healthy
 * ranks call lbq_mpi_agree() before every other collective (collect, broadcast, sum), so the calls
 * pair up and every rank learns of the failure.  The lowest failing rank prints its message
 * (lbq_mpi_fail()), the others exit with the same code silently. */
#ifndef LBQ_MPI_H
#define LBQ_MPI_H

#include <stddef.h>
#include <stdint.h>

/* MPI_Init when started by an MPI launcher (mpirun, srun, mpiexec; see docs in cli/mpi.c).  Call
 * first thing in main; never fails (a failing MPI_Init aborts inside MPI). */
void lbq_mpi_init(int *argc, char ***argv);
void lbq_mpi_finalize(void);
int  lbq_mpi_rank(void);
int  lbq_mpi_size(void);
/* "Open MPI v4.1.4, 2 ranks" in an MPI build, NULL without MPI (for `lbq --version`) */
const char *lbq_mpi_build_info(void);
/* commands that distribute their work; every other command runs on rank 0 only */
int  lbq_mpi_distributed(const char *cmd);

/* Deterministic greedy partition of n items with weights w[] over the ranks: heaviest first (ties:
 * lower index), each to the least-loaded rank (ties: lower rank).  owner[i] receives the rank. */
void lbq_mpi_partition(const int64_t *w, int n, int *owner);
/* on rank 0 (unless quiet): "CMD: N MPI ranks, ...; load per rank max/mean ..." */
void lbq_mpi_note_balance(const char *cmd, const int64_t *w, const int *owner, int n, const char *what);

/* Collective: agree on a status (or an exit code).  Returns 0 when every rank passed 0, otherwise
 * the value of the lowest rank that passed non-zero (on every rank).  Once a failure has been agreed,
 * later calls return it again without communicating (every rank took the same path). */
int  lbq_mpi_agree(int status);
/* cli_fail(status) on the rank that reports the agreed error, the same exit code silently elsewhere */
int  lbq_mpi_fail(int status);

/* Collective: bring one blob per item to rank 0, in item order.  On a rank r != 0, for each item it
 * owns in increasing order, get(ud, i, &len) returns a malloc'd blob of len bytes (freed here; NULL =
 * out of memory, which aborts the job).  On rank 0, put(ud, i, blob, len) is called for every item
 * in order: blob is NULL for rank 0's own items (their data is local).  Returns put's first non-zero
 * status (on rank 0; later items are still received, not put), LBQ_OK elsewhere.  Call
 * lbq_mpi_agree() before (so no rank is missing) and after (to share rank 0's status). */
typedef void *(*lbq_mpi_get_fn)(void *ud, int item, size_t *len);
typedef int   (*lbq_mpi_put_fn)(void *ud, int item, const void *blob, size_t len);
int  lbq_mpi_collect(const int *owner, int n, lbq_mpi_get_fn get, lbq_mpi_put_fn put, void *ud);

/* Collective: element-wise sum of v[n] over all ranks, result on every rank */
void lbq_mpi_sum_i64(int64_t *v, int n);
/* Collective: rank 0's v[n] to every rank */
void lbq_mpi_bcast_int(int *v, int n);

#endif
