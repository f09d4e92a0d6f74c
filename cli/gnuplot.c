/* gnuplot.c - the one gnuplot runner (gnuplot.h): finding gnuplot and the scripts, writing a
 * figure's data file, running gnuplot and putting its PNG and PDF in place. */
#define _XOPEN_SOURCE 700      /* realpath */
#include "gnuplot.h"
#include "cli.h"
#include "lbq-json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* texts that reach a data file: printable ASCII without the characters a shell or gnuplot could
 * give a meaning ("$\`) and without tabs */
void cli_text_clean(char *dst, size_t n, const char *src)
{
    size_t k = 0;
    for (; src && *src && k + 1 < n; src++) {
        unsigned char c = (unsigned char)*src;
        dst[k++] = (c < 0x20 || c > 0x7e || c == '"' || c == '$' || c == '\\' || c == '`') ? '_' : (char)c;
    }
    dst[k] = 0;
}

/* texts in messages: control characters and non-ASCII bytes replaced, nothing else */
void cli_text_clean_msg(char *dst, size_t n, const char *src)
{
    size_t k = 0;
    for (; src && *src && k + 1 < n; src++) {
        unsigned char c = (unsigned char)*src;
        dst[k++] = (c < 0x20 || c > 0x7e) ? '?' : (char)c;
    }
    dst[k] = 0;
}

static int find_exe(const char *name, char *out, size_t n)
{
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *e = strchr(path, ':');
        size_t l = e ? (size_t)(e - path) : strlen(path);
        if (l == 0) snprintf(out, n, "./%s", name);
        else snprintf(out, n, "%.*s/%s", (int)l, path, name);
        struct stat sb;
        if (stat(out, &sb) == 0 && S_ISREG(sb.st_mode) && access(out, X_OK) == 0) {
            char *r = realpath(out, NULL);     /* absolute: gnuplot is started inside DIR */
            if (r && strlen(r) < n) snprintf(out, n, "%s", r);
            free(r);
            return 1;
        }
        path += l + (e ? 1 : 0);
    }
    return 0;
}

static int dir_has_scripts(const char *dir)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/lbq-style.gp", dir);
    return access(p, R_OK) == 0;
}

static int find_plots_dir(char *out, size_t n)
{
    char cand[PATH_MAX + 32];
    const char *e = getenv("LBQ_PLOTS_DIR");
    if (e && *e) {
        if (!dir_has_scripts(e)) return lbq_err(LBQ_ERR_UNSUPPORTED, "LBQ_PLOTS_DIR=%s: no lbq gnuplot scripts there (lbq-style.gp missing)", e);
        snprintf(cand, sizeof cand, "%s", e);
    } else {
        /* an installed lbq: <prefix>/bin/lbq -> <prefix>/share/lbq/plots; then the source tree it was
         * built from; then <dir of the binary>/../plots */
        char exe[PATH_MAX];
        ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
        cand[0] = 0;
        if (l > 0) {
            exe[l] = 0;
            char *sl = strrchr(exe, '/');
            if (sl) *sl = 0;
            snprintf(cand, sizeof cand, "%s/../share/lbq/plots", exe);
            if (!dir_has_scripts(cand)) cand[0] = 0;
        } else exe[0] = 0;
#ifdef LBQ_PLOTS_DIR
        if (!cand[0] && dir_has_scripts(LBQ_PLOTS_DIR)) snprintf(cand, sizeof cand, "%s", LBQ_PLOTS_DIR);
#endif
        if (!cand[0] && exe[0]) {
            snprintf(cand, sizeof cand, "%s/../plots", exe);
            if (!dir_has_scripts(cand)) cand[0] = 0;
        }
        if (!cand[0]) return lbq_err(LBQ_ERR_UNSUPPORTED, "gnuplot scripts not found: set LBQ_PLOTS_DIR to the plots/ directory of the lbq sources");
    }
    char *r = realpath(cand, NULL);   /* absolute: gnuplot runs inside the output directory */
    if (!r) return lbq_err(LBQ_ERR_UNSUPPORTED, "%s: %s", cand, strerror(errno));
    if (strlen(r) >= n) { free(r); return lbq_err(LBQ_ERR_UNSUPPORTED, "plots directory path too long"); }
    snprintf(out, n, "%s", r);
    free(r);
    return LBQ_OK;
}

int lbq_mkdirs(const char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) == 0) return S_ISDIR(sb.st_mode) ? LBQ_OK : lbq_err(LBQ_ERR_OUTPUT, "%s: exists and is not a directory", dir);
    size_t l = strlen(dir);
    char *p = malloc(l + 1);
    if (!p) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    memcpy(p, dir, l + 1);
    for (size_t i = 1; i <= l; i++) {
        if (p[i] != '/' && p[i] != 0) continue;
        char c = p[i];
        p[i] = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            free(p);
            return lbq_err(LBQ_ERR_OUTPUT, "%s: cannot create directory: %s", dir, strerror(e));
        }
        p[i] = c;
    }
    free(p);
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) return lbq_err(LBQ_ERR_OUTPUT, "%s: cannot create directory", dir);
    return LBQ_OK;
}

int cli_gnuplot_open(struct cli_gnuplot *g, const char *dir)
{
    memset(g, 0, sizeof *g);
    g->dir = dir;
    if (strlen(dir) > PATH_MAX - 256) return lbq_err(LBQ_ERR_OUTPUT, "output directory path too long (%zu bytes)", strlen(dir));
    if (!find_exe("gnuplot", g->gp, sizeof g->gp)) return lbq_err(LBQ_ERR_UNSUPPORTED, "gnuplot not found (install gnuplot-nox)");
    int rc = find_plots_dir(g->plots, sizeof g->plots);
    if (rc) return rc;
    return lbq_mkdirs(dir);
}

/* the line of gnuplot's stderr that says what went wrong: the last one that is not a warning,
 * an echo of the command or the caret under it */
static void gnuplot_reason(const char *err, char *out, size_t n)
{
    out[0] = 0;
    const char *s = err;
    while (s && *s) {
        const char *e = strchr(s, '\n');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        size_t a = 0;
        while (a < l && (s[a] == ' ' || s[a] == '\t' || s[a] == '^')) a++;
        char t[256];
        snprintf(t, sizeof t, "%.*s", (int)(l - a < 255 ? l - a : 255), s + a);
        if (t[0] && !strstr(t, "warning:")) cli_text_clean_msg(out, n, t);
        s = e ? e + 1 : NULL;
    }
    if (!out[0]) snprintf(out, n, "no message");
}

/* growable byte buffer */
struct gbuf { char *p; size_t n, cap; int oom; };
static void gb_put(struct gbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->n + n + 1) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) { b->oom = 1; return; }
        b->p = np; b->cap = nc;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void gb_str(struct gbuf *b, const char *s) { gb_put(b, s, strlen(s)); }

static int run_gnuplot(const char *gp, const char *dir, const char *script, const char *expr, char *why, size_t nwhy)
{
    int fds[2];
    if (pipe(fds) != 0) { snprintf(why, nwhy, "pipe: %s", strerror(errno)); return -1; }
    char *argv[] = { (char *)"gnuplot", (char *)"-e", (char *)expr, (char *)script, NULL };
    fflush(stdout); fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) { close(fds[0]); close(fds[1]); snprintf(why, nwhy, "fork: %s", strerror(errno)); return -1; }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);
        if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(fds[1], 2) < 0) _exit(126);
        close(fds[0]);
        if (chdir(dir) != 0) { static const char m[] = "lbq: cannot enter the output directory\n"; ssize_t w = write(2, m, sizeof m - 1); (void)w; _exit(126); }
        execv(gp, argv);
        static const char m[] = "lbq: cannot execute gnuplot\n";
        ssize_t w = write(2, m, sizeof m - 1);
        (void)w;
        _exit(127);
    }
    close(fds[1]);
    struct gbuf err = { 0 };
    char buf[4096];
    for (;;) {
        ssize_t r = read(fds[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (err.n < 65536) gb_put(&err, buf, (size_t)r);
    }
    close(fds[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) { st = -1; break; }
    }
    int ok = st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!ok) gnuplot_reason(err.p ? err.p : "", why, nwhy);
    if (!ok && st != -1 && WIFSIGNALED(st)) snprintf(why, nwhy, "killed by signal %d", WTERMSIG(st));
    free(err.p);
    return ok ? 0 : -1;
}

int cli_gnuplot_figure(const struct cli_gnuplot *g, const char *name, const char *script, const char *desc,
                       const char *vars, size_t nvars, const char *data, size_t ndata, int *gnuplot_failed)
{
    const char *dir = g->dir;
    if (gnuplot_failed) *gnuplot_failed = 0;
    char sp[PATH_MAX + 64], dat[PATH_MAX + 64], tmpbase[128];
    snprintf(sp, sizeof sp, "%s/%s.gp", g->plots, script);
    if (access(sp, R_OK) != 0) return lbq_err(LBQ_ERR_UNSUPPORTED, "%s: missing gnuplot script %s", name, sp);
    snprintf(tmpbase, sizeof tmpbase, ".%s.tmp-%ld", name, (long)getpid());
    struct gbuf ex = { 0 }, file = { 0 };
    char t[PATH_MAX + 300];
    snprintf(t, sizeof t, "datafile='%s.dat'; outfile='%s'; ", name, tmpbase);
    gb_str(&ex, t);
    gb_put(&ex, vars ? vars : "", vars ? nvars : 0);
    /* the data file starts with the command that redraws it (final names, the script's path cleaned) */
    char csp[PATH_MAX];
    cli_text_clean(csp, sizeof csp, sp);
    snprintf(t, sizeof t, "# lbq %s data; redraw from this directory with:\n# gnuplot -e \"datafile='%s.dat'; outfile='%s'; ", desc, name, name);
    gb_str(&file, t);
    gb_put(&file, vars ? vars : "", vars ? nvars : 0);
    snprintf(t, sizeof t, "\" %s\n", csp);
    gb_str(&file, t);
    gb_put(&file, data ? data : "", data ? ndata : 0);
    int rc = LBQ_OK;
    if (ex.oom || file.oom) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto done; }
    snprintf(dat, sizeof dat, "%s/%s.dat", dir, name);
    if ((rc = lbq_write_atomic(dat, file.p, file.n))) goto done;
    char why[300];
    int ok = run_gnuplot(g->gp, dir, sp, ex.p, why, sizeof why) == 0;
    char tp[2][PATH_MAX + 160], fp[2][PATH_MAX + 64];
    static const char *const ext[2] = { "png", "pdf" };
    for (int k = 0; k < 2; k++) {
        snprintf(tp[k], sizeof tp[k], "%s/%s.%s", dir, tmpbase, ext[k]);
        snprintf(fp[k], sizeof fp[k], "%s/%s.%s", dir, name, ext[k]);
        struct stat sb;
        if (ok && (stat(tp[k], &sb) != 0 || sb.st_size == 0)) { ok = 0; snprintf(why, sizeof why, "no %s output", ext[k]); }
    }
    for (int k = 0; k < 2 && ok; k++)
        if (rename(tp[k], fp[k]) != 0) { ok = 0; snprintf(why, sizeof why, "cannot rename into place: %s", strerror(errno)); }
    if (!ok) {
        unlink(tp[0]); unlink(tp[1]);
        if (gnuplot_failed) *gnuplot_failed = 1;
        rc = lbq_err(LBQ_ERR_OUTPUT, "%s: gnuplot failed: %s", name, why);
    }
done:
    free(ex.p); free(file.p);
    return rc;
}
