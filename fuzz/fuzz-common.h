/* fuzz-common.h - helpers shared by the libFuzzer harnesses (fuzz/fuzz-*.c) and by the regression
 * replay (tests/test-fuzz-regress.c), which includes the harness sources with LBQ_FUZZ_REPLAY
 * defined so that a regression input goes through exactly the same calls and checks.
 *
 *  - FUZZ_CHECK(cond, ...): an invariant.  Under libFuzzer a violation prints one line and aborts
 *    (a crash with a reproducer); in the replay it counts a failure and goes on.
 *  - fuzz_tmp_path(): a per-process scratch file name in /dev/shm (tmpfs; else $TMPDIR or /tmp).
 *  - fuzz_quiet_begin/end(): stdout and stderr of the code under test go to /dev/null while it runs
 *    (the CLI prints usage errors); the sanitizers and libFuzzer write to fd 2 directly. */
#ifndef LBQ_FUZZ_COMMON_H
#define LBQ_FUZZ_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef LBQ_FUZZ_REPLAY
static int g_fuzz_failures = 0;
#define FUZZ_FAILED() (g_fuzz_failures++)
#else
#define FUZZ_FAILED() abort()
#endif

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static inline void fuzz_report(const char *file, int line, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* fd 2 directly: stderr may be redirected to /dev/null at this moment */
    char out[1300];
    int n = snprintf(out, sizeof out, "%s:%d: fuzz invariant violated: %s\n", file, line, buf);
    if (n > 0) { ssize_t w = write(2, out, (size_t)n < sizeof out ? (size_t)n : sizeof out - 1); (void)w; }
}

#define FUZZ_CHECK(cond, ...) do { if (!(cond)) { fuzz_report(__FILE__, __LINE__, __VA_ARGS__); FUZZ_FAILED(); } } while (0)

/* FNV-1a: derives the knobs of a run (defaults, rank, ...) from the input itself */
static inline uint64_t fuzz_hash(const uint8_t *d, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) { h ^= d[i]; h *= 1099511628211ULL; }
    return h;
}

/* a scratch path unique to this process: <dir>/lbq-fuzz-<tag>-<pid><ext> */
static inline const char *fuzz_tmp_path(const char *tag, const char *ext, char *buf, size_t len)
{
    const char *dir = "/dev/shm";
    if (access(dir, W_OK) != 0) {
        dir = getenv("TMPDIR");
        if (!dir || !*dir) dir = "/tmp";
    }
    snprintf(buf, len, "%s/lbq-fuzz-%s-%ld%s", dir, tag, (long)getpid(), ext);
    return buf;
}

static inline int fuzz_write_file(const char *path, const uint8_t *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    size_t w = n ? fwrite(data, 1, n, fp) : 0;
    int ok = (w == n);
    if (fclose(fp) != 0) ok = 0;
    return ok ? 0 : -1;
}

/* Redirect stdout/stderr (the FILE streams, not the descriptors) to /dev/null. */
static FILE *g_fuzz_null, *g_fuzz_saved_out, *g_fuzz_saved_err;
static inline void fuzz_quiet_begin(void)
{
    if (!g_fuzz_null) g_fuzz_null = fopen("/dev/null", "w");
    if (!g_fuzz_null) return;
    g_fuzz_saved_out = stdout; g_fuzz_saved_err = stderr;
    stdout = g_fuzz_null; stderr = g_fuzz_null;
}
static inline void fuzz_quiet_end(void)
{
    if (!g_fuzz_saved_out) return;
    fflush(g_fuzz_null);
    stdout = g_fuzz_saved_out; stderr = g_fuzz_saved_err;
    g_fuzz_saved_out = g_fuzz_saved_err = NULL;
}

/* One line, not empty: what every lbq error detail must be. */
static inline int fuzz_msg_ok(const char *m)
{
    return m && m[0] && !strchr(m, '\n');
}

#endif
