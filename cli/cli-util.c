/* cli-util.c - option parsing, number parsing, errors and exit codes, shared quantizer options,
 * the crash guard. */
#define _GNU_SOURCE             /* dl_iterate_phdr, the program counter in ucontext_t (crash guard) */
#include "cli.h"
#include "lbq-json.h"
#include "lbq-mpi.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int g_cli_quiet = 0;

void cli_note(const char *fmt, ...)
{
    if (g_cli_quiet) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("lbq: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_print_file_notes(const struct lbq_file *f)
{
    for (int i = 0; i < lbq_file_nnotes(f); i++) cli_note("%s: %s", lbq_file_path(f), lbq_file_note(f, i));
}

void cli_print_read_notes(const struct lbq_file *f)
{
    if (!f) return;
    int64_t total = 0;
    int ntens = 0;
    for (int i = 0; i < lbq_file_nparams(f); i++) {
        int64_t n = lbq_file_negative_v(f, i);
        if (!n) continue;
        total += n;
        if (++ntens <= 5)
            cli_note("warning: %s: tensor '%s': %lld negative values in exp_avg_sq (Adam's v is >= 0; the unsigned v quantizers give them their lowest code)",
                     lbq_file_path(f), lbq_file_param(f, i)->name, (long long)n);
    }
    if (ntens > 5) cli_note("warning: %s: %lld negative exp_avg_sq values in %d tensors in all", lbq_file_path(f), (long long)total, ntens);
}

int cli_fail(int status)
{
    const char *m = lbq_errmsg();
    fprintf(stderr, "lbq: error: %s\n", m && *m ? m : lbq_status_str(status));
    return cli_exit_code(status);
}

int cli_exit_code(int status)
{
    switch (status) {
    case LBQ_ERR_ARG: case LBQ_ERR_UNSUPPORTED: return LBQ_EXIT_USAGE;
    case LBQ_ERR_FORMAT: return LBQ_EXIT_INPUT;
    case LBQ_ERR_IO: return LBQ_EXIT_INPUT;
    case LBQ_ERR_DATA: return LBQ_EXIT_DATA;
    case LBQ_ERR_CUDA: return LBQ_EXIT_CUDA;
    case LBQ_ERR_INTERRUPTED: return LBQ_EXIT_INTERRUPT;
    case LBQ_ERR_OUTPUT: return LBQ_EXIT_OUTPUT;
    default: return LBQ_EXIT_FAIL;
    }
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    /* under MPI every rank parses the same arguments: only rank 0 reports a usage error */
    if (lbq_mpi_rank() != 0) return LBQ_EXIT_USAGE;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "lbq%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'lbq %s%s--help')\n", cmd ? cmd : "", cmd ? " " : "");
    va_end(ap);
    return LBQ_EXIT_USAGE;
}

int cli_help(const char *cmd)
{
    const struct lbq_cmd *c = cli_find_cmd(cmd);
    if (c) fputs(c->usage, stdout);
    return 0;
}

/* Conflicting repeats: an option that takes a value, given twice with different values, is an
 * error (the last one used to win silently).  The values seen, per option of the table in use. */
#define CLI_SEEN_MAX 128
static const struct cli_opt *g_seen_table;
static const char *g_seen_val[CLI_SEEN_MAX];

int cli_next(struct cli_parser *p, const char **val)
{
    *val = NULL;
    if (g_seen_table != p->opts) { g_seen_table = p->opts; memset(g_seen_val, 0, sizeof g_seen_val); }
    while (p->i < p->argc) {
        char *a = p->argv[p->i++];
        if (strcmp(a, "--") == 0) {
            while (p->i < p->argc) {
                if (p->npos == 8) { cli_usage_error(p->cmd, "too many arguments"); return -1; }
                p->positional[p->npos++] = p->argv[p->i++];
            }
            return 0;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) return 'h';
        if (a[0] != '-' || a[1] == 0) {
            if (p->npos == 8) { cli_usage_error(p->cmd, "too many arguments"); return -1; }
            p->positional[p->npos++] = a;
            continue;
        }
        const char *given = a;      /* as typed, for messages */
        if (a[1] != '-') {
            if (strcmp(a, "-o") == 0) a = "--output";
            else if (strcmp(a, "-q") == 0) a = "--quiet";
            else { cli_usage_error(p->cmd, "unknown option '%s'", a); return -1; }
            int known = 0;
            for (const struct cli_opt *o = p->opts; o && o->name; o++) known |= strcmp(o->name, a + 2) == 0;
            if (!known) { cli_usage_error(p->cmd, "unknown option '%s'", given); return -1; }
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        for (const struct cli_opt *o = p->opts; o && o->name; o++) {
            if (strlen(o->name) != len || strncmp(o->name, name, len) != 0) continue;
            if (o->takes_value) {
                if (eq) *val = eq + 1;
                else if (p->i < p->argc) *val = p->argv[p->i++];
                else { cli_usage_error(p->cmd, "option '--%s' needs a value", o->name); return -1; }
                long k = (long)(o - p->opts);
                if (k < CLI_SEEN_MAX && o->takes_value != 2) {     /* 2: repeatable (--group) */
                    if (g_seen_val[k] && strcmp(g_seen_val[k], *val) != 0) {
                        cli_usage_error(p->cmd, "option '--%s' given twice, as '%s' and '%s' (give it once)", o->name, g_seen_val[k], *val);
                        return -1;
                    }
                    g_seen_val[k] = *val;
                }
            } else if (eq) { cli_usage_error(p->cmd, "option '--%s' takes no value", o->name); return -1; }
            return o->id;
        }
        cli_usage_error(p->cmd, "unknown option '--%.*s'", (int)len, name);
        return -1;
    }
    return 0;
}

int cli_int(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) { cli_usage_error(cmd, "%s: '%s' is not an integer", opt, s); return -1; }
    if (v < lo || v > hi) { cli_usage_error(cmd, "%s: %lld out of range (%lld-%lld)", opt, v, lo, hi); return -1; }
    *out = v;
    return 0;
}

int cli_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    /* ERANGE: a number too small (1e-320) or too large (1e400) for a double is out of range, not "not a number" */
    if (end == s || *end || (!isfinite(v) && errno != ERANGE)) { cli_usage_error(cmd, "%s: '%s' is not a number", opt, s); return -1; }
    if (errno == ERANGE || v < lo || v > hi) { cli_usage_error(cmd, "%s: %s out of range (%.10g-%.10g)", opt, s, lo, hi); return -1; }
    *out = v;
    return 0;
}

int cli_bytes(const char *cmd, const char *opt, const char *s, long long *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    double mul = 1;
    if (*end == 'k' || *end == 'K') { mul = 1024.0; end++; }
    else if (*end == 'm' || *end == 'M') { mul = 1048576.0; end++; }
    else if (*end == 'g' || *end == 'G') { mul = 1073741824.0; end++; }
    if (*end == 'i' || *end == 'B') end++;
    if (*end == 'B') end++;
    if (errno || end == s || *end || !(v > 0) || v * mul > 1e15) { cli_usage_error(cmd, "%s: '%s' is not a size (for example 256M, 1G)", opt, s); return -1; }
    *out = (long long)(v * mul);
    if (*out < 1048576) { cli_usage_error(cmd, "%s: %s is below the minimum of 1M", opt, s); return -1; }
    return 0;
}

/* ---- shared quantizer options ---- */
enum { QO_QUANT = CLI_QOPT_IDS_BASE, QO_QM, QO_QV, QO_RECIPE, QO_BITS, QO_BLOCK, QO_ROUND, QO_SEED,
       QO_QUANTILE, QO_MAPFILE, QO_ALL };

const struct cli_opt cli_qopt_table[] = {
    { "quant", 1, QO_QUANT }, { "quant-m", 1, QO_QM }, { "quant-v", 1, QO_QV }, { "recipe", 1, QO_RECIPE },
    { "bits", 1, QO_BITS }, { "block", 1, QO_BLOCK }, { "round", 1, QO_ROUND }, { "seed", 1, QO_SEED },
    { "quantile", 1, QO_QUANTILE }, { "map-file", 1, QO_MAPFILE }, { "quantize-all", 0, QO_ALL },
    { 0, 0, 0 },
};

void cli_qopts_init(struct cli_qopts *q)
{
    memset(q, 0, sizeof *q);
    lbq_qdefaults_init(&q->d);
}

int cli_qopts_take(struct cli_qopts *q, const char *cmd, int id, const char *val)
{
    long long iv; double dv;
    switch (id) {
    case QO_QUANT: q->quant = val; return 1;
    case QO_QM: q->quant_m = val; return 1;
    case QO_QV: q->quant_v = val; return 1;
    case QO_RECIPE: q->recipe = val; return 1;
    case QO_BITS: if (cli_int(cmd, "--bits", val, 1, 8, &iv)) return -1; q->d.bits = (int)iv; q->d.bits_set = 1; return 1;
    case QO_BLOCK: if (cli_int(cmd, "--block", val, 1, (long long)1 << 30, &iv)) return -1; q->d.block = iv; return 1;
    case QO_ROUND:
        if (strcmp(val, "nearest") == 0) q->d.round = LBQ_ROUND_NEAREST;
        else if (strcmp(val, "stochastic") == 0 || strcmp(val, "sr") == 0) q->d.round = LBQ_ROUND_STOCHASTIC;
        else { cli_usage_error(cmd, "--round: '%s' is not 'nearest' or 'stochastic'", val); return -1; }
        return 1;
    case QO_SEED: if (cli_int(cmd, "--seed", val, 0, 0x7fffffffffffffffLL, &iv)) return -1; q->d.seed = (uint64_t)iv; return 1;
    case QO_QUANTILE: if (cli_double(cmd, "--quantile", val, 1e-9, 1.0 - 1e-9, &dv)) return -1; q->d.quantile = (float)dv; return 1;
    case QO_MAPFILE: q->d.map_file = val; return 1;
    case QO_ALL: q->quantize_all = 1; return 1;
    default: return 0;
    }
}

static int parse_spec(const char *cmd, const char *opt, const char *text, const struct lbq_qdefaults *d, struct lbq_qspec *out)
{
    (void)cmd; (void)opt;
    int rc = lbq_qspec_parse(text, d, out);
    if (rc) { cli_fail(rc); return -1; }
    return 0;
}

int cli_qopts_config(struct cli_qopts *q, const char *cmd, struct lbq_config *out)
{
    memset(out, 0, sizeof *out);
    out->quantize_all = q->quantize_all;
    const char *qm = q->quant_m, *qv = q->quant_v;
    if (q->d.map_file && !q->quant && !qm && !qv && !q->recipe) q->quant = "block-file";
    if (q->recipe) {
        if (q->quant || qm || qv) { cli_usage_error(cmd, "--recipe cannot be combined with --quant/--quant-m/--quant-v"); return -1; }
        out->recipe = lbq_recipe_find(q->recipe);
        if (!out->recipe) {
            const char *s = lbq_name_suggest(q->recipe);
            fprintf(stderr, "lbq: error: unknown recipe '%s'%s%s%s; see 'lbq list'\n", q->recipe,
                    s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
            return -1;
        }
        struct lbq_qdefaults d = q->d;
        d.bits_set = 0;
        if (parse_spec(cmd, "--recipe", out->recipe->m_spec, &d, &out->m)) return -1;
        if (parse_spec(cmd, "--recipe", out->recipe->v_spec, &d, &out->v)) return -1;
        out->has_m = out->has_v = 1;
        /* the label names the recipe, and anything the options changed in it */
        snprintf(out->label, sizeof out->label, "%s%s", out->recipe->name,
                 q->d.round == LBQ_ROUND_STOCHASTIC ? " (--round stochastic)" : "");
        return 0;
    }
    if (q->quant) {
        if (!qm) qm = q->quant;
        if (!qv) qv = q->quant;
    }
    if (!qm && !qv) { cli_usage_error(cmd, "say what to quantize: --quant SPEC, --quant-m/--quant-v SPEC or --recipe NAME"); return -1; }
    if (qm) { if (parse_spec(cmd, "--quant-m", qm, &q->d, &out->m)) return -1; out->has_m = 1; }
    if (qv) { if (parse_spec(cmd, "--quant-v", qv, &q->d, &out->v)) return -1; out->has_v = 1; }
    if (strcmp(cmd, "analyze") == 0) {     /* the evaluation unit (src/metrics.c) is a common multiple of the blocks */
        int64_t bm = out->has_m && out->m.norm->blockwise ? out->m.block : 1, bv = out->has_v && out->v.norm->blockwise ? out->v.block : 1;
        int64_t a = bm, b = bv;
        while (b) { int64_t t = a % b; a = b; b = t; }
        double l = (double)bm / (double)a * (double)bv;
        if (l > 16777216.0) {
            if (bm == 1 || bv == 1 || bm == bv) cli_usage_error(cmd, "block size %lld is larger than 2^24 = 16777216, the largest that analyze evaluates", (long long)(bm > bv ? bm : bv));
            else cli_usage_error(cmd, "the block sizes of m and v (%lld, %lld) must have a common multiple <= 2^24 = 16777216 for analyze", (long long)bm, (long long)bv);
            return -1;
        }
    }
    snprintf(out->label, sizeof out->label, "m=%s v=%s", out->has_m ? out->m.text : "fp32", out->has_v ? out->v.text : "fp32");
    return 0;
}

/* ---- output paths (docs/cli.md, "Output files") --------------------------------------------- */
static int out_error(const char *opt, const char *out, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int out_error(const char *opt, const char *out, const char *fmt, ...)
{
    if (lbq_mpi_rank() != 0) return LBQ_EXIT_OUTPUT;      /* every rank validates; rank 0 reports */
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "lbq: error: %s %s: ", opt, out);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return LBQ_EXIT_OUTPUT;
}

/* Remove the temporary files of killed lbq runs in DIR: BASE.tmp-<pid> (BASE NULL: any NAME.tmp-<pid>
 * or NAME.tmp-<pid>.EXT, the figures' temporaries) whose process is gone.  A live process's (another
 * lbq writing there now) are left alone. */
static void clean_stale_tmp(const char *dir, const char *base)
{
    if (lbq_mpi_rank() != 0) return;
    DIR *d = opendir(dir);
    if (!d) return;
    size_t bl = base ? strlen(base) : 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name, *t = NULL;
        if (base) {
            if (strncmp(n, base, bl) != 0 || strncmp(n + bl, ".tmp-", 5) != 0) continue;
            t = n + bl;
        } else {
            for (const char *q = strstr(n, ".tmp-"); q; q = strstr(q + 1, ".tmp-")) t = q;
            if (!t || t == n) continue;
        }
        char *end;
        errno = 0;
        long pid = strtol(t + 5, &end, 10);
        if (errno || end == t + 5 || pid <= 0) continue;
        if (*end && (base || *end != '.' || strchr(end + 1, '.'))) continue;
        if (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;   /* alive */
        char full[PATH_MAX + 512];
        if (strcmp(dir, ".") == 0) snprintf(full, sizeof full, "%s", n);
        else snprintf(full, sizeof full, "%s/%s", dir, n);
        struct stat sb;
        if (lstat(full, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        if (unlink(full) == 0) cli_note("removed %s, left by an interrupted lbq run (process %ld is gone)", full, pid);
    }
    closedir(d);
}

int cli_check_output(const char *opt, const char *out, const char *in, int kind)
{
    if (out && kind == CLI_OUT_H5 && strcmp(out, "-") == 0) return out_error(opt, out, "HDF5 cannot be written to stdout; give a file name");
    if (!out || strcmp(out, "-") == 0) return 0;
    if (!*out) return out_error(opt, "''", "empty path");
    if (in && lbq_same_file(out, in)) return out_error(opt, out, "is the input file %s; lbq never writes over an input", in);
    struct stat sb;
    int exists = stat(out, &sb) == 0;
    if (exists && S_ISDIR(sb.st_mode)) return out_error(opt, out, "is a directory");
    if (exists && !S_ISREG(sb.st_mode)) {
        if (kind == CLI_OUT_H5) return out_error(opt, out, "exists and is not a regular file");
        return 0;       /* a device or a FIFO (/dev/null, /dev/stdout to a pipe): written in place */
    }
    /* the directory the file is created in: that of the symlink's final target */
    char *target = lbq_output_target(out);
    if (!target) return out_error(opt, out, "out of memory");
    char *slash = strrchr(target, '/');
    const char *dir = ".", *base = target;
    if (slash == target) { dir = "/"; base = target + 1; }
    else if (slash) { *slash = 0; dir = target; base = slash + 1; }
    int rc = 0;
    if (stat(dir, &sb) != 0) rc = out_error(opt, out, "directory %s: %s", dir, strerror(errno));
    else if (!S_ISDIR(sb.st_mode)) rc = out_error(opt, out, "%s is not a directory", dir);
    else if (access(dir, W_OK | X_OK) != 0) rc = out_error(opt, out, "cannot write in directory %s: %s", dir, strerror(errno));
    else if (*base) clean_stale_tmp(dir, base);
    free(target);
    return rc;
}

int cli_check_outdir(const char *opt, const char *dir, const char *in)
{
    if (!dir) return 0;
    if (!*dir) return out_error(opt, "''", "empty path");
    if (in && lbq_same_file(dir, in)) return out_error(opt, dir, "is the input file %s; lbq never writes over an input", in);
    struct stat sb;
    if (stat(dir, &sb) != 0) return 0;      /* created later, with its parents */
    if (!S_ISDIR(sb.st_mode)) return out_error(opt, dir, "exists and is not a directory");
    clean_stale_tmp(dir, NULL);
    return 0;
}

/* ---- SIGINT, SIGTERM, SIGHUP: no temporary file left ------------------------------------------ */
static void on_term_signal(int sig)
{
    lbq_tmp_unlink_all();           /* async-signal-safe: unlink on fixed buffers */
    signal(sig, SIG_DFL);
    raise(sig);                     /* the default action: the shell sees the signal (130 for INT) */
}

void cli_signals_install(void)
{
    static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction sa, old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;  /* nohup: stays ignored */
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_term_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}

/* ---- crash guard -------------------------------------------------------------------------------
 * libhdf5 1.10 trusts parts of a file it decodes: some corrupt files make it read through NULL or
 * past a buffer inside the library (fuzz/README.md, findings 6 and 7), which no check in lbq can
 * see coming.  While a command that reads a moment file runs, a fault (SIGSEGV, SIGBUS, SIGFPE,
 * SIGILL) raised by the kernel outside lbq's own code becomes one line,
 *     lbq: error: FILE: libhdf5 crashed reading this file (corrupt HDF5?)
 * and exit 3 (bad input), after removing the registered temporary output file.  A fault in lbq's
 * own code (the program counter inside this executable, where lbqlib is linked statically), a
 * signal sent with kill(), or any fault outside a guarded command keeps the previous action (a core
 * dump): the guard must not hide lbq's own bugs.  The handler runs on an alternate stack, so a
 * stack overflow inside libhdf5 is caught too, and uses only async-signal-safe calls (unlink,
 * write, _exit, sigaction, raise); everything it prints is formatted beforehand.
 * Left out of sanitizer builds, whose own handlers must report such crashes. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CLI_GUARD 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define CLI_GUARD 0
#endif
#endif
#if !defined(CLI_GUARD) && defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
#define CLI_GUARD 1
#endif
#ifndef CLI_GUARD
#define CLI_GUARD 0
#endif

#if CLI_GUARD
#include <link.h>
#include <ucontext.h>

#define GUARD_TEXT 4608
static const int g_guard_sig[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL };
#define GUARD_NSIG ((int)(sizeof g_guard_sig / sizeof g_guard_sig[0]))
static struct sigaction g_guard_old[GUARD_NSIG];
static volatile sig_atomic_t g_guard_on;
/* the message and the temporary file name, double-buffered: a new text is written into the buffer
 * not in use, then published by the index */
static char g_guard_msg[2][GUARD_TEXT], g_guard_tmp[2][GUARD_TEXT];
static volatile sig_atomic_t g_guard_msg_i = -1, g_guard_tmp_i = -1;
static size_t g_guard_msg_len[2];
/* lbq's own machine code: the executable segments of the object this file is linked into */
static uintptr_t g_self_lo[8], g_self_hi[8];
static int g_self_n;
static _Alignas(64) char g_guard_stack[65536];

static int self_segments(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    uintptr_t me = (uintptr_t)data;
    int mine = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = (uintptr_t)info->dlpi_addr + (uintptr_t)ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && me >= lo && me < lo + ph->p_memsz) mine = 1;
    }
    if (!mine) return 0;
    for (int i = 0; i < info->dlpi_phnum && g_self_n < 8; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        g_self_lo[g_self_n] = (uintptr_t)info->dlpi_addr + (uintptr_t)ph->p_vaddr;
        g_self_hi[g_self_n] = g_self_lo[g_self_n] + ph->p_memsz;
        g_self_n++;
    }
    return 1;
}

static int fault_in_lbq(const void *ctx)
{
    const ucontext_t *uc = ctx;
#if defined(__x86_64__)
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#else
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.pc;
#endif
    for (int i = 0; i < g_self_n; i++)
        if (pc >= g_self_lo[i] && pc < g_self_hi[i]) return 1;
    return 0;
}

static void guard_handler(int sig, siginfo_t *si, void *ctx)
{
    if (!g_guard_on || si->si_code <= 0 || fault_in_lbq(ctx)) {
        /* not ours to explain: back to the previous action, which the fault meets again when this
         * returns (a signal sent by kill() is raised again instead) */
        for (int i = 0; i < GUARD_NSIG; i++)
            if (g_guard_sig[i] == sig) sigaction(sig, &g_guard_old[i], NULL);
        if (si->si_code <= 0) raise(sig);
        return;
    }
    int t = g_guard_tmp_i, m = g_guard_msg_i;
    if (t >= 0) unlink(g_guard_tmp[t]);
    lbq_tmp_unlink_all();           /* every registered temporary output (src/json.c) */
    if (m >= 0 && write(STDERR_FILENO, g_guard_msg[m], g_guard_msg_len[m]) < 0) _exit(LBQ_EXIT_INPUT);
    _exit(LBQ_EXIT_INPUT);
}

void cli_guard_file(const char *file)
{
    int i = g_guard_msg_i == 0 ? 1 : 0;
    int n;
    if (file) n = snprintf(g_guard_msg[i], GUARD_TEXT, "lbq: error: %s: libhdf5 crashed reading this file (corrupt HDF5?)\n", file);
    else n = snprintf(g_guard_msg[i], GUARD_TEXT, "lbq: error: libhdf5 crashed reading the input file (corrupt HDF5?)\n");
    if (n < 0) return;
    if (n >= GUARD_TEXT) { n = GUARD_TEXT - 1; g_guard_msg[i][n - 1] = '\n'; }   /* a path of 4 KB: cut, one line all the same */
    g_guard_msg_len[i] = (size_t)n;
    g_guard_msg_i = i;
}

void cli_guard_tmp(const char *out)
{
    if (!out) { g_guard_tmp_i = -1; return; }
    int i = g_guard_tmp_i == 0 ? 1 : 0;
    /* the temporary name of lbq_write_atomic (src/json.c) and lbq_h5w_open (src/h5io.c), docs/cli.md */
    int n = snprintf(g_guard_tmp[i], GUARD_TEXT, "%s.tmp-%ld", out, (long)getpid());
    if (n < 0 || n >= GUARD_TEXT) { g_guard_tmp_i = -1; return; }
    g_guard_tmp_i = i;
}

void cli_guard_begin(const char *file)
{
    if (!g_self_n) dl_iterate_phdr(self_segments, (void *)(uintptr_t)&guard_handler);
    cli_guard_file(file);
    cli_guard_tmp(NULL);
    stack_t ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_sp = g_guard_stack;
    ss.ss_size = sizeof g_guard_stack;
    int onstack = sigaltstack(&ss, NULL) == 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = guard_handler;
    sa.sa_flags = SA_SIGINFO | (onstack ? SA_ONSTACK : 0);
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < GUARD_NSIG; i++) sigaction(g_guard_sig[i], &sa, &g_guard_old[i]);
    g_guard_on = 1;
}

void cli_guard_end(void)
{
    if (!g_guard_on) return;
    g_guard_on = 0;
    for (int i = 0; i < GUARD_NSIG; i++) sigaction(g_guard_sig[i], &g_guard_old[i], NULL);
    cli_guard_tmp(NULL);
}
#else
void cli_guard_begin(const char *file) { (void)file; }
void cli_guard_file(const char *file) { (void)file; }
void cli_guard_tmp(const char *out) { (void)out; }
void cli_guard_end(void) {}
#endif
