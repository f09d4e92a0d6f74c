/* json.c - writing output files atomically (JSON, TSV, any text), the output-path rules shared
 * with the HDF5 writer (src/h5io.c), and NaN-safe JSON numbers.
 *
 * Output rules (docs/cli.md, "Output files"):
 *   - "-" is stdout.
 *   - An existing directory is refused; so is any path that resolves to an input file of this
 *     process (lbq_input_register: same device and inode).
 *   - An existing special file (a character device such as /dev/null, a FIFO or pipe, a socket:
 *     what /dev/stdout resolves to when stdout is not a regular file) is written in place: it
 *     cannot be renamed onto and is never replaced.
 *   - Anything else is written to TARGET.tmp-<pid> and renamed onto TARGET, where TARGET is the
 *     path with its final symlinks followed: a symlink's target is replaced, never the link.
 *   - Temporary names are registered (lbq_tmp_add) while they exist, so that a signal handler
 *     of the program can remove them (lbq_tmp_unlink_all). */
#include "lbq-impl.h"
#include "lbq-json.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <stdio.h>
#include <unistd.h>

cJSON *lbq_json_num(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

void lbq_json_add_num(cJSON *obj, const char *key, double v)
{
    cJSON_AddItemToObject(obj, key, lbq_json_num(v));
}

/* ---- inputs of this process ------------------------------------------------------------------ */
#define LBQ_NINPUTS 64
static struct { dev_t dev; ino_t ino; char *path; } g_inputs[LBQ_NINPUTS];
static int g_ninputs;
static pthread_mutex_t g_inputs_mu = PTHREAD_MUTEX_INITIALIZER;

void lbq_input_register(const char *path)
{
    struct stat sb;
    if (!path || stat(path, &sb) != 0) return;
    pthread_mutex_lock(&g_inputs_mu);
    int dup = 0;
    for (int i = 0; i < g_ninputs; i++) dup |= g_inputs[i].dev == sb.st_dev && g_inputs[i].ino == sb.st_ino;
    if (!dup && g_ninputs < LBQ_NINPUTS) {
        g_inputs[g_ninputs].dev = sb.st_dev;
        g_inputs[g_ninputs].ino = sb.st_ino;
        g_inputs[g_ninputs].path = strdup(path);
        if (g_inputs[g_ninputs].path) g_ninputs++;
    }
    pthread_mutex_unlock(&g_inputs_mu);
}

int lbq_same_file(const char *a, const char *b)
{
    if (!a || !b) return 0;
    if (strcmp(a, b) == 0) return 1;
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int lbq_output_not_input(const char *path)
{
    struct stat sb;
    if (!path || strcmp(path, "-") == 0 || stat(path, &sb) != 0) return LBQ_OK;
    int rc = LBQ_OK;
    pthread_mutex_lock(&g_inputs_mu);
    for (int i = 0; i < g_ninputs && rc == LBQ_OK; i++)
        if (g_inputs[i].dev == sb.st_dev && g_inputs[i].ino == sb.st_ino)
            rc = lbq_err(LBQ_ERR_OUTPUT, "%s: is the input file %s; lbq never writes over an input", path, g_inputs[i].path);
    pthread_mutex_unlock(&g_inputs_mu);
    return rc;
}

/* ---- symlinks ------------------------------------------------------------------------------- */
char *lbq_output_target(const char *path)
{
    char *cur = strdup(path);
    for (int hop = 0; cur && hop < 40; hop++) {
        struct stat lb;
        if (lstat(cur, &lb) != 0 || !S_ISLNK(lb.st_mode)) return cur;
        char link[PATH_MAX];
        ssize_t n = readlink(cur, link, sizeof link - 1);
        if (n <= 0) return cur;
        link[n] = 0;
        char *next;
        const char *slash = strrchr(cur, '/');
        if (link[0] == '/' || !slash) next = strdup(link);
        else {
            size_t dl = (size_t)(slash - cur) + 1;
            next = malloc(dl + (size_t)n + 1);
            if (next) { memcpy(next, cur, dl); memcpy(next + dl, link, (size_t)n + 1); }
        }
        free(cur);
        cur = next;
    }
    return cur;     /* a loop: the open that follows fails with ELOOP */
}

/* ---- temporary files ------------------------------------------------------------------------- */
#define LBQ_NTMP 16
#define LBQ_TMP_LEN (PATH_MAX + 64)
static char g_tmp[LBQ_NTMP][LBQ_TMP_LEN];
static atomic_int g_tmp_state[LBQ_NTMP];        /* 0 free, 1 being filled, 2 registered */

void lbq_tmp_add(const char *tmp)
{
    if (!tmp || strlen(tmp) >= LBQ_TMP_LEN) return;
    for (int i = 0; i < LBQ_NTMP; i++) {
        int want = 0;
        if (!atomic_compare_exchange_strong(&g_tmp_state[i], &want, 1)) continue;
        memcpy(g_tmp[i], tmp, strlen(tmp) + 1);
        atomic_store(&g_tmp_state[i], 2);
        return;
    }
}

void lbq_tmp_remove(const char *tmp)
{
    if (!tmp) return;
    for (int i = 0; i < LBQ_NTMP; i++)
        if (atomic_load(&g_tmp_state[i]) == 2 && strcmp(g_tmp[i], tmp) == 0) { atomic_store(&g_tmp_state[i], 0); return; }
}

void lbq_tmp_unlink_all(void)
{
    for (int i = 0; i < LBQ_NTMP; i++)
        if (atomic_load(&g_tmp_state[i]) == 2) unlink(g_tmp[i]);
}

char *lbq_tmp_name(const char *target)
{
    char *tmp = malloc(strlen(target) + 32);
    if (tmp) sprintf(tmp, "%s.tmp-%ld", target, (long)getpid());
    return tmp;
}

/* ---- names ---------------------------------------------------------------------------------- */
/* the length of the valid UTF-8 sequence at s (1-4), 0 if the bytes there are not one */
static int utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80 ? 4 : 0;
    }
    return 0;
}

size_t lbq_name_escape(const char *in, char *out, size_t cap, int mode)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t n = 0;
    char e[8];
    int full = !out || cap == 0;
    if (!full) out[0] = 0;
    while (*s) {
        int k = utf8_len(s), el;
        if (k == 0) el = snprintf(e, sizeof e, mode == LBQ_ESC_JSON ? "\\\\x%02x" : "\\x%02x", *s), k = 1;
        else if (mode == LBQ_ESC_NAME && *s == '\\') el = snprintf(e, sizeof e, "\\\\");
        else if (mode == LBQ_ESC_NAME && *s == '\t') el = snprintf(e, sizeof e, "\\t");
        else if (mode == LBQ_ESC_NAME && *s == '\n') el = snprintf(e, sizeof e, "\\n");
        else if (mode == LBQ_ESC_NAME && *s == '\r') el = snprintf(e, sizeof e, "\\r");
        else if (mode == LBQ_ESC_NAME && (*s < 0x20 || *s == 0x7f)) el = snprintf(e, sizeof e, "\\x%02x", *s);
        else { memcpy(e, s, (size_t)k); el = k; }
        /* never cut an escape or a character in two: stop at the last whole one that fits */
        if (!full && n + (size_t)el < cap) { memcpy(out + n, e, (size_t)el); out[n + (size_t)el] = 0; }
        else full = 1;
        n += (size_t)el;
        s += k;
    }
    return n;
}

/* ---- writing -------------------------------------------------------------------------------- */
static int write_in_place(const char *path, const char *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) return lbq_err(LBQ_ERR_OUTPUT, "%s: cannot write: %s", path, strerror(errno));
    int ok = fwrite(data, 1, len, fp) == len;
    ok = (fflush(fp) == 0) && ok;
    int e = errno;
    ok = (fclose(fp) == 0) && ok;
    if (!ok) return lbq_err(LBQ_ERR_OUTPUT, "%s: write failed: %s", path, strerror(e ? e : errno));
    return LBQ_OK;
}

int lbq_write_atomic(const char *path, const char *data, size_t len)
{
    if (strcmp(path, "-") == 0) {
        if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0)
            return lbq_err(LBQ_ERR_OUTPUT, "stdout: write failed");
        return LBQ_OK;
    }
    int rc = LBQ_OK;
    struct stat sb;
    int exists = stat(path, &sb) == 0;
    if (exists && S_ISDIR(sb.st_mode)) return lbq_err(LBQ_ERR_OUTPUT, "%s: is a directory", path);
    if ((rc = lbq_output_not_input(path)) != LBQ_OK) return rc;
    if (exists && !S_ISREG(sb.st_mode)) return write_in_place(path, data, len);    /* a device, FIFO, socket: never replaced */
    char *target = lbq_output_target(path);
    char *tmp = target ? lbq_tmp_name(target) : NULL;
    FILE *fp = NULL;
    if (!tmp) { free(target); return lbq_err(LBQ_ERR_NOMEM, "out of memory"); }
    lbq_tmp_add(tmp);       /* before it exists: a signal from here on removes it */
    fp = fopen(tmp, "wb");
    if (!fp) { rc = lbq_err(LBQ_ERR_OUTPUT, "%s: cannot write: %s", path, strerror(errno)); goto cleanup; }
    if (fwrite(data, 1, len, fp) != len) { rc = lbq_err(LBQ_ERR_OUTPUT, "%s: write failed: %s", path, strerror(errno)); goto cleanup; }
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) { rc = lbq_err(LBQ_ERR_OUTPUT, "%s: write failed: %s", path, strerror(errno)); goto cleanup; }
    if (fclose(fp) != 0) { fp = NULL; rc = lbq_err(LBQ_ERR_OUTPUT, "%s: write failed: %s", path, strerror(errno)); goto cleanup; }
    fp = NULL;
    if (rename(tmp, target) != 0) { rc = lbq_err(LBQ_ERR_OUTPUT, "%s: cannot rename into place: %s", path, strerror(errno)); goto cleanup; }
    lbq_tmp_remove(tmp);
    free(tmp);
    free(target);
    return LBQ_OK;
cleanup:
    if (fp) fclose(fp);
    if (tmp) { unlink(tmp); lbq_tmp_remove(tmp); }
    free(tmp);
    free(target);
    return rc;
}

struct lbq_wstream {
    char *path, *target, *tmp;      /* tmp NULL: written in place (a device, FIFO, socket) */
    FILE *fp;
    int   rc;
};

void lbq_wstream_abort(struct lbq_wstream *w)
{
    if (!w) return;
    if (w->fp) fclose(w->fp);
    if (w->tmp) { unlink(w->tmp); lbq_tmp_remove(w->tmp); }
    free(w->tmp); free(w->target); free(w->path);
    free(w);
}

int lbq_wstream_open(const char *path, struct lbq_wstream **out)
{
    *out = NULL;
    struct stat sb;
    int exists = stat(path, &sb) == 0, rc;
    if (exists && S_ISDIR(sb.st_mode)) return lbq_err(LBQ_ERR_OUTPUT, "%s: is a directory", path);
    if ((rc = lbq_output_not_input(path)) != LBQ_OK) return rc;
    struct lbq_wstream *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) { free(w); return lbq_err(LBQ_ERR_NOMEM, "out of memory"); }
    if (exists && !S_ISREG(sb.st_mode)) {
        w->fp = fopen(path, "wb");
    } else {
        w->target = lbq_output_target(path);
        w->tmp = w->target ? lbq_tmp_name(w->target) : NULL;
        if (!w->tmp) { lbq_wstream_abort(w); return lbq_err(LBQ_ERR_NOMEM, "out of memory"); }
        lbq_tmp_add(w->tmp);
        w->fp = fopen(w->tmp, "wb");
    }
    if (!w->fp) { rc = lbq_err(LBQ_ERR_OUTPUT, "%s: cannot write: %s", path, strerror(errno)); lbq_wstream_abort(w); return rc; }
    *out = w;
    return LBQ_OK;
}

void lbq_wstream_put(struct lbq_wstream *w, const char *data, size_t len)
{
    if (w->rc || len == 0) return;
    if (fwrite(data, 1, len, w->fp) != len) w->rc = lbq_err(LBQ_ERR_OUTPUT, "%s: write failed: %s", w->path, strerror(errno));
}

void lbq_wstream_put_json(struct lbq_wstream *w, const char *text)
{
    size_t n = strlen(text), need = lbq_name_escape(text, NULL, 0, LBQ_ESC_JSON);
    if (need == n) { lbq_wstream_put(w, text, n); return; }
    char *e = malloc(need + 1);
    if (!e) { if (!w->rc) w->rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); return; }
    lbq_name_escape(text, e, need + 1, LBQ_ESC_JSON);
    lbq_wstream_put(w, e, need);
    free(e);
}

int lbq_wstream_commit(struct lbq_wstream *w)
{
    int rc = w->rc;
    if (!rc && w->tmp && (fflush(w->fp) != 0 || fsync(fileno(w->fp)) != 0))
        rc = lbq_err(LBQ_ERR_OUTPUT, "%s: write failed: %s", w->path, strerror(errno));
    if (!rc && !w->tmp && fflush(w->fp) != 0) rc = lbq_err(LBQ_ERR_OUTPUT, "%s: write failed: %s", w->path, strerror(errno));
    FILE *fp = w->fp;
    w->fp = NULL;
    if (fclose(fp) != 0 && !rc) rc = lbq_err(LBQ_ERR_OUTPUT, "%s: write failed: %s", w->path, strerror(errno));
    if (!rc && w->tmp) {
        if (rename(w->tmp, w->target) != 0) rc = lbq_err(LBQ_ERR_OUTPUT, "%s: cannot rename into place: %s", w->path, strerror(errno));
        else { lbq_tmp_remove(w->tmp); free(w->tmp); w->tmp = NULL; }
    }
    lbq_wstream_abort(w);       /* frees; unlinks the temporary file after a failure */
    return rc;
}

char *lbq_read_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    char *s = NULL;
    long n = -1;
    if (fseek(fp, 0, SEEK_END) == 0) n = ftell(fp);
    if (n >= 0 && n < (1L << 30) && fseek(fp, 0, SEEK_SET) == 0) s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, fp) != (size_t)n) { free(s); s = NULL; }
    if (s) s[n] = 0;
    fclose(fp);
    return s;
}

int lbq_json_write(const char *path, const cJSON *root)
{
    char *s = cJSON_Print(root);
    if (!s) return lbq_err(LBQ_ERR_NOMEM, "out of memory printing JSON");
    /* JSON is UTF-8: a byte that is not (in a file path, say; names are escaped at lbq_file_open)
     * becomes the text \xHH (the only non-ASCII bytes of printed JSON are inside strings) */
    size_t need = lbq_name_escape(s, NULL, 0, LBQ_ESC_JSON);
    if (need != strlen(s)) {
        char *e = malloc(need + 1);
        if (!e) { free(s); return lbq_err(LBQ_ERR_NOMEM, "out of memory"); }
        lbq_name_escape(s, e, need + 1, LBQ_ESC_JSON);
        free(s);
        s = e;
    }
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (!t) { free(s); return lbq_err(LBQ_ERR_NOMEM, "out of memory"); }
    t[n] = '\n'; t[n + 1] = 0;
    int rc = lbq_write_atomic(path, t, n + 1);
    free(t);
    return rc;
}
