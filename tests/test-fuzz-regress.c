/* test-fuzz-regress.c - replays every fuzzer finding (the files in tests/regress/<harness>/) and
 * the fuzz seed corpora (fuzz/corpus/<harness>/) through the same entry points and invariants as the libFuzzer
 * harnesses, in the normal build (no libFuzzer; under ASan + UBSan in `make test-asan`).
 *
 *  - fuzz-spec inputs: spec_one() of fuzz/fuzz-spec.c (specs, recipes, plans, qdq invariants), and
 *    the CLI part through the lbq binary: `lbq analyze|quantize|sweep ARGS` with the input's lines
 *    as ARGS, run in an empty scratch directory with stdin from /dev/null: no signal, exit 0-6;
 *  - fuzz-h5 inputs: h5f_one() of fuzz/fuzz-h5.c (lbq_file_open, reads, lbq_eval_param, no HDF5
 *    object left open), and, where a sidecar FILE.expect exists, the status and message it pins;
 *    the seeds of fuzz/corpus/fuzz-h5 (valid files) must open;
 *  - fuzz-json inputs: `lbq plot FILE -o DIR` through the binary, with gnuplot unreachable (PATH
 *    pointing nowhere): no signal, exit 1, 2, 3 or 5, one line on stderr, nothing written.
 * The binary parts need LBQ (set by ctest); without it they are skipped with a note.
 * Inputs that crash libhdf5 itself (an upstream bug class, fuzz/README.md) are not shipped here. */
#define LBQ_FUZZ_REPLAY 1
#include "../fuzz/fuzz-spec.c"
#include "../fuzz/fuzz-h5.c"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

/* libhdf5 leaks internal blocks when it abandons a corrupt file (fuzz/lsan.supp); lbq's own
 * allocations stay checked.  Used by LeakSanitizer in sanitizer builds, ignored otherwise. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libhdf5_serial.so\nleak:libhdf5.so\n"; }

static int g_inputs = 0, g_bin_runs = 0;
static const char *g_lbq = NULL;
static char g_scratch[256];

static uint8_t *slurp_file(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t cap = 4096, len = 0;
    uint8_t *b = malloc(cap);
    for (;;) {
        if (!b) break;
        if (len == cap) { uint8_t *t = realloc(b, cap * 2); if (!t) { free(b); b = NULL; break; } b = t; cap *= 2; }
        size_t r = fread(b + len, 1, cap - len, fp);
        if (r == 0) break;
        len += r;
    }
    fclose(fp);
    *n = len;
    return b;
}

/* run the lbq binary in the scratch directory; returns the exit code, or -signal; stderr in err */
static int run_lbq(char *const argv[], char *err, size_t nerr)
{
    int fds[2];
    if (pipe(fds) != 0) return -100;
    pid_t pid = fork();
    if (pid < 0) return -101;
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);
        if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(fds[1], 2) < 0) _exit(126);
        close(fds[0]);
        if (chdir(g_scratch) != 0) _exit(126);
        setenv("PATH", "/nonexistent-lbq-fuzz", 1);
        unsetenv("LBQ_PLOTS_DIR");
        execv(g_lbq, argv);
        _exit(127);
    }
    close(fds[1]);
    size_t n = 0;
    for (;;) {
        char buf[1024];
        ssize_t r = read(fds[0], buf, sizeof buf);
        if (r <= 0) break;
        for (ssize_t i = 0; i < r && n + 1 < nerr; i++) err[n++] = buf[i];
    }
    err[n] = 0;
    close(fds[0]);
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) return -102;
    g_bin_runs++;
    if (WIFSIGNALED(st)) return -WTERMSIG(st);
    return WEXITSTATUS(st);
}

static void rm_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *de;
            char sub[1024];
            while ((de = readdir(d)) != NULL) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
                snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
                rm_tree(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else unlink(path);
}

static int scratch_empty(void)
{
    DIR *d = opendir(g_scratch);
    int n = 0;
    struct dirent *de;
    if (!d) return 0;
    while ((de = readdir(d)) != NULL) if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(d);
    return n == 0;
}

/* the CLI part of a fuzz-spec input: its lines (and NUL-separated pieces) as arguments */
static void replay_cli(const char *name, const uint8_t *data, size_t size)
{
    if (!g_lbq) return;
    char *buf = malloc(size + 1);
    if (!buf) return;
    memcpy(buf, data, size);
    buf[size] = 0;
    for (size_t i = 0; i < size; i++) if (buf[i] == '\n') buf[i] = 0;
    char *argv[68];
    int argc = 2;
    for (char *p = buf, *end = buf + size; p <= end && argc < 66; p += strlen(p) + 1) argv[argc++] = p;
    argv[argc] = NULL;
    argv[0] = (char *)"lbq";
    static const char *const cmds[3] = { "analyze", "quantize", "sweep" };
    for (int k = 0; k < 3; k++) {
        char err[4096];
        argv[1] = (char *)cmds[k];
        int ex = run_lbq(argv, err, sizeof err);
        FUZZ_CHECK(ex >= 0 && ex <= 6, "%s: lbq %s: exit %d (negative: signal)\n%s", name, cmds[k], ex, err);
        rm_tree(g_scratch);
        mkdir(g_scratch, 0700);
    }
    free(buf);
}

static void replay_json(const char *name, const char *path)
{
    if (!g_lbq) return;
    char err[4096], abspath[2048];
    if (path[0] == '/') snprintf(abspath, sizeof abspath, "%s", path);
    else { char cwd[512]; snprintf(abspath, sizeof abspath, "%s/%s", getcwd(cwd, sizeof cwd) ? cwd : ".", path); }
    char *argv[] = { (char *)"lbq", (char *)"plot", abspath, (char *)"-o", (char *)"figs", NULL };
    int ex = run_lbq(argv, err, sizeof err);
    FUZZ_CHECK(ex == 1 || ex == 2 || ex == 3 || ex == 5, "%s: lbq plot: exit %d (negative: signal)\n%s", name, ex, err);
    size_t l = strlen(err);
    FUZZ_CHECK(l > 0 && strchr(err, '\n') == err + l - 1, "%s: lbq plot: stderr is not one line:\n%s", name, err);
    FUZZ_CHECK(scratch_empty(), "%s: lbq plot wrote into its output directory without gnuplot", name);
    rm_tree(g_scratch);
    mkdir(g_scratch, 0700);
}

/* An optional sidecar FILE.expect pins what a fuzz-h5 finding must now give: "STATUS SUBSTRING",
 * e.g. "2 attribute step = 1e+300 out of range" (2 = LBQ_ERR_FORMAT). */
static void check_expect(const char *path)
{
    char ep[1100], line[512];
    snprintf(ep, sizeof ep, "%s.expect", path);
    FILE *fp = fopen(ep, "r");
    if (!fp) return;
    if (!fgets(line, sizeof line, fp)) line[0] = 0;
    fclose(fp);
    line[strcspn(line, "\n")] = 0;
    char *sp = strchr(line, ' ');
    int want = atoi(line);
    const char *sub = sp ? sp + 1 : "";
    struct lbq_file *f = NULL;
    int rc = lbq_file_open(path, NULL, &f);
    FUZZ_CHECK(rc == want && strstr(lbq_errmsg(), sub), "%s: lbq_file_open gave %d '%s', expected %d '%s'", path, rc,
               rc ? lbq_errmsg() : "", want, sub);
    lbq_file_close(f);
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int is_regular(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* a valid seed of fuzz/corpus/fuzz-h5 must open */
static void check_opens(const char *path)
{
    struct lbq_file *f = NULL;
    int rc = lbq_file_open(path, NULL, &f);
    FUZZ_CHECK(rc == LBQ_OK, "%s: valid seed does not open: %s", path, lbq_errmsg());
    lbq_file_close(f);
}

static void replay_dir(const char *dir, int harness, int seeds)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || ends_with(de->d_name, ".expect") || ends_with(de->d_name, ".md")) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (!is_regular(path)) continue;
        size_t n = 0;
        uint8_t *data = slurp_file(path, &n);
        if (!data) { FUZZ_CHECK(0, "%s: cannot read", path); continue; }
        int before = g_fuzz_failures;
        if (harness == 0) { spec_one(data, n); replay_cli(path, data, n); }
        else if (harness == 1) { h5f_one(data, n); if (seeds) check_opens(path); else check_expect(path); }
        else replay_json(path, path);
        g_inputs++;
        if (g_fuzz_failures != before) fprintf(stderr, "  ^ %s\n", path);
        free(data);
    }
    closedir(d);
}

int main(void)
{
    g_lbq = getenv("LBQ");
    if (g_lbq && access(g_lbq, X_OK) != 0) g_lbq = NULL;
    if (!g_lbq) fprintf(stderr, "note: LBQ (the lbq binary) not set: the CLI and plot replays are skipped\n");
    snprintf(g_scratch, sizeof g_scratch, "%s/lbq-fuzz-regress-%ld", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid());
    rm_tree(g_scratch);
    if (mkdir(g_scratch, 0700) != 0) { perror(g_scratch); return 1; }
    static const char *const names[3] = { "fuzz-spec", "fuzz-h5", "fuzz-json" };
    for (int h = 0; h < 3; h++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/tests/regress/%s", LBQ_SRC_DIR, names[h]);
        replay_dir(dir, h, 0);
        snprintf(dir, sizeof dir, "%s/fuzz/corpus/%s", LBQ_SRC_DIR, names[h]);
        replay_dir(dir, h, 1);
    }
    rm_tree(g_scratch);
    unlink(g_spec_mapfile);
    printf("%s: %d inputs replayed (%d runs of the lbq binary), %d invariant failures\n", __FILE__, g_inputs, g_bin_runs, g_fuzz_failures);
    return g_fuzz_failures > 0;
}
