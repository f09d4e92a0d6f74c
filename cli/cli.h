/* cli.h - the lbq command-line program: subcommand table, option parsing, exit codes.
 * Only cli/ prints and decides exit codes; the library returns statuses. */
#ifndef LBQ_CLI_H
#define LBQ_CLI_H

#include "lbq.h"
#include "lbq-metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the library's error-path idiom, for cli code (cli/ does not include the library's private
 * lbq-impl.h): on a non-zero status, keep it in `rc` and jump to `cleanup` */
#ifndef LBQ_TRY
#define LBQ_TRY(expr) do { int lbq_rc_ = (expr); if (lbq_rc_ != LBQ_OK) { rc = lbq_rc_; goto cleanup; } } while (0)
#endif

/* exit codes (docs/cli.md) */
enum {
    LBQ_EXIT_OK = 0, LBQ_EXIT_FAIL = 1, LBQ_EXIT_USAGE = 2, LBQ_EXIT_INPUT = 3, LBQ_EXIT_OUTPUT = 4,
    LBQ_EXIT_DATA = 5, LBQ_EXIT_CUDA = 6, LBQ_EXIT_INTERRUPT = 130,
};

struct lbq_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;    /* one line for the command table */
    const char *usage;      /* full help text */
};
extern const struct lbq_cmd lbq_commands[];
extern const int lbq_ncommands;
const struct lbq_cmd *cli_find_cmd(const char *name);

/* Options: a table per command.  kind: 0 flag, 1 takes a value. */
struct cli_opt { const char *name; int takes_value; int id; };   /* takes_value 2: a value, repeatable */
struct cli_parser {
    const char *cmd;
    const struct cli_opt *opts;
    int argc; char **argv; int i;
    const char *positional[8]; int npos;
};
/* Iterate: returns the option id, 0 at the end, -1 on error (message printed, exit 2),
 * 'h' for --help/-h.  *val gets the value of an option that takes one. */
int cli_next(struct cli_parser *p, const char **val);

/* Print "lbq: error: ..." with lbq_errmsg() and map a status to an exit code. */
int cli_fail(int status);
int cli_exit_code(int status);      /* the exit code of a status, without printing */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
int cli_help(const char *cmd);      /* print the command's usage to stdout, return 0 */

/* number parsing with range checks; return 0 on success, print a usage error otherwise */
int cli_int(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out);
int cli_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);
int cli_bytes(const char *cmd, const char *opt, const char *s, long long *out);   /* 256M, 1G */

/* Quantizer options shared by analyze, quantize, simulate, sweep */
struct cli_qopts {
    const char *quant, *quant_m, *quant_v, *recipe;
    struct lbq_qdefaults d;
    int quantize_all;
};
void cli_qopts_init(struct cli_qopts *q);
/* Handle one option id from the shared table; returns 1 if consumed, 0 if not ours, -1 error. */
int  cli_qopts_take(struct cli_qopts *q, const char *cmd, int id, const char *val);
/* Build the config (m and v specs, recipe) from the options; prints its own errors. */
int  cli_qopts_config(struct cli_qopts *q, const char *cmd, struct lbq_config *out);
#define CLI_QOPT_IDS_BASE 1000
extern const struct cli_opt cli_qopt_table[];   /* terminated by {0} */

/* Global verbosity: -q / -v */
extern int g_cli_quiet;
void cli_note(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* print the notices an opened file collected */
void cli_print_file_notes(const struct lbq_file *f);
/* after the work: a warning for the negative v values read (lbq_file_negative_v), per tensor (at
 * most 5 lines, then a total) */
void cli_print_read_notes(const struct lbq_file *f);

/* Crash guard (cli-util.c; fuzz/README.md, findings 6 and 7).  libhdf5 can crash inside itself on
 * a corrupt file.  Between cli_guard_begin and cli_guard_end, such a fault prints one line
 * "lbq: error: FILE: libhdf5 crashed reading this file (corrupt HDF5?)" and exits 3, after
 * unlinking the temporary output registered with cli_guard_tmp.  Faults in lbq's own code keep
 * their default action.  No-ops in sanitizer builds.
 *   cli_guard_begin(FILE)  install the handlers (main.c, around the commands that read a moment file)
 *   cli_guard_file(FILE)   name the file being read (NULL: "the input file")
 *   cli_guard_tmp(OUT)     OUT.tmp-<pid>, the atomic-write temporary of OUT, exists now (NULL: none)
 *   cli_guard_end()        restore the previous handlers */
void cli_guard_begin(const char *file);
void cli_guard_file(const char *file);
void cli_guard_tmp(const char *out);
void cli_guard_end(void);

/* Output paths (cli-util.c; docs/cli.md, "Output files").  Every command calls these for each
 * output at option-validation time, before any input is read.  One error line and
 * LBQ_EXIT_OUTPUT (4) for an output that resolves to the input IN (the same path, or the same
 * device and inode: through ./, symlinks, hard links), an existing directory (a file output), a
 * missing or non-writable directory to create it in; CLI_OUT_H5 outputs must moreover be regular
 * files if they exist.  Stale OUT.tmp-<pid> files of killed lbq runs (the process is gone) next to
 * the output (in DIR, for a directory output) are removed with a notice.  0: go on.  OUT NULL or
 * "-": nothing to check.  OPT names the option in the message ("-o", "--json"). */
enum { CLI_OUT_TEXT = 0, CLI_OUT_H5 = 1 };
int cli_check_output(const char *opt, const char *out, const char *in, int kind);
int cli_check_outdir(const char *opt, const char *dir, const char *in);
/* SIGINT, SIGTERM and SIGHUP remove the temporary files of the outputs being written
 * (lbq_tmp_unlink_all), then take their default action (main.c installs this for every command;
 * a command that catches SIGINT itself restores this handler when it is done). */
void cli_signals_install(void);

/* --device auto|cpu|cuda: 0 ok, -1 no device for explicit cuda (message printed), -2 usage */
int cli_device_select(const char *cmd, const char *dev, int *use_cuda);

int cmd_inspect(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_theory(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_selftest(int argc, char **argv);
int cmd_shampoo(int argc, char **argv);

#endif
