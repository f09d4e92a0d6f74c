/* test-crash-guard.c - the CLI's crash guard (cli/cli-util.c, cli_guard_*), in forked children:
 *   - a fault inside a shared library (here libc's strlen, memcpy on a SIGBUS page; in lbq, libhdf5)
 *     while guarded: exit 3, exactly the one line naming the file (or the generic line), the
 *     registered OUT.tmp-<pid> removed;
 *   - a stack overflow while guarded: caught on the alternate stack, same line and exit (the
 *     recursion runs in this executable, so the test forgets the executable's code range to make it
 *     count as a library's);
 *   - a fault in the program's own code, a SIGSEGV sent with raise(), and any fault after
 *     cli_guard_end: the default action (death by the signal), so lbq's own bugs are not hidden.
 * Skipped (77) in sanitizer builds, where the guard is compiled out. */
#include "../cli/cli-util.c"    /* first: it defines _GNU_SOURCE */

#include "lbq-test.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* what cli-util.c needs from the rest of the CLI */
int lbq_mpi_rank(void) { return 0; }
const struct lbq_cmd *cli_find_cmd(const char *name) { (void)name; return NULL; }

#if CLI_GUARD
static char g_dir[512];

enum scenario { LIB_SEGV, LIB_SEGV_NONAME, LIB_SIGBUS, OVERFLOW, OWN_SEGV, RAISED, AFTER_END };

static void lib_segv(void)
{
    size_t (*volatile fn)(const char *) = strlen;
    const char *volatile s = NULL;
    fn(s);
}

static void lib_sigbus(void)
{
    char path[800];
    snprintf(path, sizeof path, "%s/short", g_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, 4096) != 0) _exit(90);
    long pg = sysconf(_SC_PAGESIZE);
    char *map = mmap(NULL, (size_t)(4 * pg), PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) _exit(91);
    static char dst[64];
    void *(*volatile fn)(void *, const void *, size_t) = memcpy;
    fn(dst, map + 3 * pg, sizeof dst);      /* a page wholly past the end of the file */
}

static volatile int g_depth_limit = 1 << 30;
static int recurse(int d)
{
    volatile char buf[4096];
    buf[0] = (char)d;
    buf[sizeof buf - 1] = 0;
    if (d < g_depth_limit) return recurse(d + 1) + buf[0] + buf[sizeof buf - 1];
    return 0;
}

static void own_segv(void)
{
    volatile int *volatile p = NULL;
    *p = 1;
}

static void child(enum scenario sc, const char *out)
{
    cli_guard_begin(sc == LIB_SEGV_NONAME ? NULL : "moments.h5");
    if (sc != LIB_SEGV_NONAME) cli_guard_file("corrupt.h5");
    cli_guard_tmp(out);
    char tmp[800];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", out, (long)getpid());
    FILE *fp = fopen(tmp, "w");
    if (!fp) _exit(92);
    fputs("partial", fp);
    fclose(fp);
    switch (sc) {
    case LIB_SEGV: case LIB_SEGV_NONAME: lib_segv(); break;
    case LIB_SIGBUS: lib_sigbus(); break;
    case OVERFLOW: g_self_n = 0; recurse(0); break;
    case OWN_SEGV: own_segv(); break;
    case RAISED: raise(SIGSEGV); break;
    case AFTER_END: cli_guard_end(); lib_segv(); break;
    }
    _exit(93);      /* not reached */
}

/* run a scenario; returns the wait status, stderr in err */
static int run(enum scenario sc, const char *out, char *err, size_t nerr, pid_t *pid_out)
{
    char errpath[800];
    snprintf(errpath, sizeof errpath, "%s/stderr", g_dir);
    fflush(stdout); fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, STDERR_FILENO) < 0) _exit(94);
        struct rlimit rl = { 0, 0 };
        setrlimit(RLIMIT_CORE, &rl);        /* no core files from the default-action cases */
        child(sc, out);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    *pid_out = pid;
    err[0] = 0;
    FILE *fp = fopen(errpath, "r");
    if (fp) { size_t n = fread(err, 1, nerr - 1, fp); err[n] = 0; fclose(fp); }
    return st;
}

static int exists(const char *out, pid_t pid)
{
    char tmp[800];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", out, (long)pid);
    struct stat sb;
    int e = stat(tmp, &sb) == 0;
    unlink(tmp);
    return e;
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "%s/lbq-crash-guard.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_dir)) { perror("mkdtemp"); return 1; }
    char out[700], err[8192];
    snprintf(out, sizeof out, "%s/out.h5", g_dir);
    const char *named = "lbq: error: corrupt.h5: libhdf5 crashed reading this file (corrupt HDF5?)\n";
    const char *generic = "lbq: error: libhdf5 crashed reading the input file (corrupt HDF5?)\n";
    pid_t pid;
    int st;

    const struct { enum scenario sc; const char *what, *want; } caught[] = {
        { LIB_SEGV, "SIGSEGV in a library", named },
        { LIB_SEGV_NONAME, "SIGSEGV in a library, no file named", generic },
        { LIB_SIGBUS, "SIGBUS in a library", named },
        { OVERFLOW, "stack overflow", named },
    };
    for (size_t i = 0; i < sizeof caught / sizeof caught[0]; i++) {
        st = run(caught[i].sc, out, err, sizeof err, &pid);
        CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 3, "%s: status %#x (want exit 3)", caught[i].what, st);
        CHECK_MSG(strcmp(err, caught[i].want) == 0, "%s: stderr '%s'", caught[i].what, err);
        CHECK_MSG(!exists(out, pid), "%s: the temporary output was not removed", caught[i].what);
    }

    const struct { enum scenario sc; const char *what; } passed_on[] = {
        { OWN_SEGV, "SIGSEGV in the program's own code" },
        { RAISED, "SIGSEGV sent with raise()" },
        { AFTER_END, "SIGSEGV in a library after cli_guard_end" },
    };
    for (size_t i = 0; i < sizeof passed_on / sizeof passed_on[0]; i++) {
        st = run(passed_on[i].sc, out, err, sizeof err, &pid);
        CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "%s: status %#x (want death by SIGSEGV)", passed_on[i].what, st);
        CHECK_MSG(strstr(err, "libhdf5") == NULL, "%s: stderr '%s'", passed_on[i].what, err);
        exists(out, pid);
    }

    char path[800];
    snprintf(path, sizeof path, "%s/short", g_dir); unlink(path);
    snprintf(path, sizeof path, "%s/stderr", g_dir); unlink(path);
    rmdir(g_dir);
    return TEST_END();
}
#else
int main(void)
{
    (void)g_t_pass; (void)g_t_fail;
    printf("crash guard compiled out (sanitizer build): skipped\n");
    return 77;
}
#endif
