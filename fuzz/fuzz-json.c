/* fuzz-json.c - libFuzzer harness: the results-JSON reader of `lbq plot` (cli/cmd-plot.c, cli/plot.c).
 *
 * Per input:
 *  - the bytes are written to a scratch file and `lbq plot FILE -o DIR` runs through cmd_plot, the
 *    real entry (file reading, cJSON parsing, schema and version checks, then lbq_plot_sweep or
 *    lbq_plot_simulate);
 *  - the bytes are also parsed with cJSON directly and given to both lbq_plot_sweep and
 *    lbq_plot_simulate whatever their "schema" says, so the validation and figure-data code behind
 *    the schema check is reached by every mutation.
 * gnuplot is made unreachable: PATH is set to a directory that does not exist, so after validating
 * the results and building every figure's data in memory, plot.c stops with "gnuplot not found"
 * before it creates the output directory.  The harness links with -Wl,--wrap so that mkdir,
 * lbq_write_atomic and lbq_json_write are invariant violations here: no input may get plot to
 * write anything.  Invariants: the status is an error of the documented kinds (bad input file,
 * bad data, unsupported = gnuplot missing, out of memory) with a one-line message, and the exit
 * code of cmd_plot is the documented one for it.
 *
 * What plot.c would need to be fuzzed without this PATH trick: a function that validates a
 * results object and returns the figure jobs (the first phase of lbq_plot_sweep/lbq_plot_simulate)
 * separately from run_figs; see fuzz/README.md. */
#include "lbq.h"
#include "fuzz-common.h"
#include "cli.h"
#include "plot.h"

#include <cJSON.h>
#include <errno.h>
#include <sys/stat.h>

#define JSON_NOWHERE "/nonexistent-lbq-fuzz"

static char g_json_path[512];
static int  g_json_init = 0;
static int  g_in_plot = 0;

int __real_mkdir(const char *path, mode_t mode);
int __wrap_mkdir(const char *path, mode_t mode)
{
    if (g_in_plot) {
        FUZZ_CHECK(0, "lbq plot reached mkdir('%s')", path);
        errno = EACCES;
        return -1;
    }
    return __real_mkdir(path, mode);
}
int __wrap_lbq_write_atomic(const char *path, const char *data, size_t len)
{
    (void)data; (void)len;
    FUZZ_CHECK(0, "lbq plot reached lbq_write_atomic('%s')", path);
    return LBQ_ERR_IO;
}
int __wrap_lbq_json_write(const char *path, const cJSON *root)
{
    (void)root;
    FUZZ_CHECK(0, "lbq plot reached lbq_json_write('%s')", path);
    return LBQ_ERR_IO;
}

static void json_init(void)
{
    if (g_json_init) return;
    g_json_init = 1;
    setenv("PATH", JSON_NOWHERE, 1);
    unsetenv("LBQ_PLOTS_DIR");
    fuzz_tmp_path("json", ".json", g_json_path, sizeof g_json_path);
}

static void json_check_status(const char *what, int rc)
{
    FUZZ_CHECK(rc == LBQ_ERR_FORMAT || rc == LBQ_ERR_DATA || rc == LBQ_ERR_UNSUPPORTED || rc == LBQ_ERR_NOMEM,
               "%s returned %d (%s)", what, rc, lbq_errmsg());
    FUZZ_CHECK(fuzz_msg_ok(lbq_errmsg()), "%s failed (%d) without a one-line message: '%s'", what, rc, lbq_errmsg());
}

static int json_one(const uint8_t *data, size_t size)
{
    json_init();
    if (size > (1u << 20)) return 0;
    /* 1. the command, through a file */
    if (fuzz_write_file(g_json_path, data, size) == 0) {
        char *argv[] = { (char *)"plot", g_json_path, (char *)"-o", (char *)JSON_NOWHERE "/out", NULL };
        lbq_err(LBQ_OK, "%s", "");
        g_in_plot = 1;
        fuzz_quiet_begin();
        int ex = cmd_plot(4, argv);
        fuzz_quiet_end();
        g_in_plot = 0;
        FUZZ_CHECK(ex == LBQ_EXIT_INPUT || ex == LBQ_EXIT_DATA || ex == LBQ_EXIT_USAGE || ex == LBQ_EXIT_FAIL,
                   "lbq plot: exit code %d (%s)", ex, lbq_errmsg());
        FUZZ_CHECK(fuzz_msg_ok(lbq_errmsg()), "lbq plot: exit %d without a one-line message: '%s'", ex, lbq_errmsg());
        unlink(g_json_path);
    }
    /* 2. both readers on whatever parses */
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    if (root) {
        g_in_plot = 1;
        fuzz_quiet_begin();
        lbq_err(LBQ_OK, "%s", "");
        int rc = lbq_plot_sweep(root, JSON_NOWHERE "/out", 1);
        fuzz_quiet_end();
        json_check_status("lbq_plot_sweep", rc);
        fuzz_quiet_begin();
        lbq_err(LBQ_OK, "%s", "");
        rc = lbq_plot_simulate(root, JSON_NOWHERE "/out", 1);
        fuzz_quiet_end();
        g_in_plot = 0;
        json_check_status("lbq_plot_simulate", rc);
        cJSON_Delete(root);
    }
    return 0;
}

#ifndef LBQ_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return json_one(data, size);
}
#endif
