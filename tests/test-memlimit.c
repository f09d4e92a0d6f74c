/* test-memlimit.c - bounded memory: a synthetic file whose m and v (64 MiB each) are many times the
 * --mem-limit (16 MiB) is analyzed (rank-1: two streaming passes), inspected and quantized by the
 * real `lbq` binary; the children's peak RSS (getrusage) must stay under the limit plus a documented
 * overhead (LBQ_RSS_OVERHEAD: the program, libraries, HDF5 caches and per-thread chunk buffers), and
 * the analyze results must equal the in-memory run's byte for byte.  The in-memory run's RSS must
 * exceed that bound, so the test can fail. */
#define _DEFAULT_SOURCE 1     /* wait4 */
#include "lbq.h"
#include "lbq-test.h"
#include "lbq-json.h"

#include <fcntl.h>

#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROWS 2048
#define COLS 8192
#define LIMIT_MB 16
#define LBQ_RSS_OVERHEAD_MB 48

static long run(char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) { dup2(fd, 1); }
        execv(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) < 0) return -1;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { fprintf(stderr, "%s %s exited with %d\n", argv[0], argv[1], WEXITSTATUS(st)); return -1; }
    return ru.ru_maxrss;    /* KiB */
}

int main(void)
{
#ifdef LBQ_SANITIZE_BUILD
    printf("skipped: sanitizer shadow memory inflates RSS\n");
    return 77;
#endif
    const char *lbq = getenv("LBQ");
    if (!lbq) { fprintf(stderr, "LBQ (path of the lbq binary) not set; run through ctest\n"); return 77; }
    char dir[] = "/tmp/lbq-memlimit-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char file[256], j1[256], j2[256], q[256];
    snprintf(file, sizeof file, "%s/big.h5", dir);
    snprintf(j1, sizeof j1, "%s/stream.json", dir);
    snprintf(j2, sizeof j2, "%s/memory.json", dir);
    snprintf(q, sizeof q, "%s/q.h5", dir);
    /* write the file in slabs so this process stays small too */
    struct lbq_h5w *w = NULL;
    struct lbq_shape sh = { 2, { ROWS, COLS }, (int64_t)ROWS * COLS };
    int dm, dv;
    CHECK_OK(lbq_h5w_open(file, &w));
    CHECK_OK(lbq_h5w_dset(w, "big.weight", "exp_avg", LBQ_W_F32, &sh, &dm));
    CHECK_OK(lbq_h5w_dset(w, "big.weight", "exp_avg_sq", LBQ_W_F32, &sh, &dv));
    CHECK_OK(lbq_h5w_attr_i64(w, "", "step", 100));
    float *m = malloc(sizeof(float) * 64 * COLS), *v = malloc(sizeof(float) * 64 * COLS);
    for (int r0 = 0; r0 < ROWS; r0 += 64) {
        for (int64_t i = 0; i < 64 * COLS; i++) {
            double g = t_normal() * 1e-3 * (((r0 + i / COLS) % 101 == 0) ? 20.0 : 1.0);
            m[i] = (float)g;
            v[i] = (float)(g * g * (0.5 + t_uniform())) + 1e-14f;
        }
        CHECK_OK(lbq_h5w_write(w, dm, (int64_t)r0 * COLS, 64 * COLS, m));
        CHECK_OK(lbq_h5w_write(w, dv, (int64_t)r0 * COLS, 64 * COLS, v));
    }
    free(m); free(v);
    CHECK_OK(lbq_h5w_commit(w));

    long bound = (LIMIT_MB + LBQ_RSS_OVERHEAD_MB) * 1024L;
    char limit[16];
    snprintf(limit, sizeof limit, "%dM", LIMIT_MB);
    char *a1[] = { (char *)lbq, "analyze", file, "--quant-m", "block128-dtree", "--quant-v", "rank1-linear", "--mem-limit", limit, "--json", j1, "-q", "--device", "cpu", NULL };
    long r1 = run(a1);
    printf("analyze --mem-limit %s: peak RSS %ld KiB (bound %ld KiB)\n", limit, r1, bound);
    CHECK(r1 > 0 && r1 < bound);
    char *a2[] = { (char *)lbq, "analyze", file, "--quant-m", "block128-dtree", "--quant-v", "rank1-linear", "--mem-limit", "2G", "--json", j2, "-q", "--device", "cpu", NULL };
    long r2 = run(a2);
    printf("analyze --mem-limit 2G: peak RSS %ld KiB\n", r2);
    CHECK(r2 > bound);              /* the in-memory path really holds the tensors: the test can fail */
    char *s1 = lbq_read_file(j1), *s2 = lbq_read_file(j2);
    CHECK(s1 && s2 && strcmp(s1, s2) == 0);     /* streaming == in-memory, byte for byte */
    free(s1); free(s2);
    char *a3[] = { (char *)lbq, "inspect", file, "--mem-limit", limit, "-q", NULL };
    long r3 = run(a3);
    printf("inspect --mem-limit %s: peak RSS %ld KiB\n", limit, r3);
    CHECK(r3 > 0 && r3 < bound);
    char *a4[] = { (char *)lbq, "quantize", file, "--quant", "rank1-linear", "--mem-limit", limit, "-o", q, "-q", NULL };
    long r4 = run(a4);
    printf("quantize --mem-limit %s: peak RSS %ld KiB\n", limit, r4);
    CHECK(r4 > 0 && r4 < bound);
    unlink(file); unlink(j1); unlink(j2); unlink(q);
    rmdir(dir);
    return TEST_END();
}
