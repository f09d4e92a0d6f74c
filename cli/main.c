/* main.c - `lbq`: dispatch to subcommands. */
#include "cli.h"
#include "lbq-mpi.h"
#include "lbq-cuda.h"

#include <string.h>

static const char g_main_usage[] =
"usage: lbq <command> [options]\n"
"\n"
"lbq shows what low-bit quantizers (8/4/3/2-bit, FP8) do to the Adam optimizer states (m = exp_avg,\n"
"v = exp_avg_sq) of your own model, dumped to HDF5 (docs/format.md).\n"
"\n"
"commands:\n";

static const char g_main_tail[] =
"\n"
"global options: -h/--help, --version.  'lbq help <command>' or 'lbq <command> --help' for details.\n"
"example: lbq analyze data/sample-late.h5 --recipe lpmm4\n";

static void print_main_usage(FILE *out)
{
    fputs(g_main_usage, out);
    for (int i = 0; i < lbq_ncommands; i++)
        fprintf(out, "  %-10s %s\n", lbq_commands[i].name, lbq_commands[i].summary);
    fputs(g_main_tail, out);
}

static const char u_help[] = "usage: lbq help [COMMAND]\n\nPrint the command table, or the help of COMMAND.\n";
static int cmd_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) { fputs(u_help, stdout); return 0; }
    if (argc < 2) { print_main_usage(stdout); return 0; }
    if (argc > 2) return cli_usage_error("help", "expected at most one COMMAND, got %d", argc - 1);
    const struct lbq_cmd *c = cli_find_cmd(argv[1]);
    if (!c) return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
    fputs(c->usage, stdout);
    return 0;
}

extern const char lbq_usage_inspect[], lbq_usage_list[], lbq_usage_quantize[], lbq_usage_analyze[],
    lbq_usage_simulate[], lbq_usage_theory[], lbq_usage_sweep[], lbq_usage_bench[];
extern const char lbq_usage_plot[];
extern const char lbq_usage_shampoo[];
extern const char lbq_usage_selftest[];
extern const char lbq_usage_import[];
int cmd_import(int argc, char **argv);      /* cmd-import.c */
extern const char lbq_usage_recommend[];
int cmd_recommend(int argc, char **argv);   /* cmd-recommend.c */

const struct lbq_cmd lbq_commands[] = {
    { "import",   cmd_import,   "convert a PyTorch checkpoint (nanoGPT ckpt.pt, HF Trainer dir, state dicts) into a moment file", lbq_usage_import },
    { "inspect",  cmd_inspect,  "list the parameters of a moment file with statistics of m and v", lbq_usage_inspect },
    { "list",     cmd_list,     "list maps, normalizations and recipes", lbq_usage_list },
    { "quantize", cmd_quantize, "quantize m and v and write packed codes, scales and dequantized tensors", lbq_usage_quantize },
    { "analyze",  cmd_analyze,  "per-parameter quantization, update and zero-point errors, memory", lbq_usage_analyze },
    { "simulate", cmd_simulate, "multi-step EMA simulation with quantized states: swamping, drift, collapse", lbq_usage_simulate },
    { "sweep",    cmd_sweep,    "maps x normalizations x bits x block sizes: results.json, results.tsv, figures", lbq_usage_sweep },
    { "recommend", cmd_recommend, "choose a quantizer per tensor under a memory budget (bits/element or GB): table and plan JSON", lbq_usage_recommend },
    { "plot",     cmd_plot,     "redraw the figures (PNG + PDF, gnuplot) of a sweep or simulate results JSON", lbq_usage_plot },
    { "theory",   cmd_theory,   "SOLO swamping thresholds and the precision-specific beta1 table", lbq_usage_theory },
    { "shampoo",  cmd_shampoo,  "4-bit Shampoo: preconditioner vs eigenvector quantization, Bjorck rectification, A^(-1/4) errors", lbq_usage_shampoo },
    { "bench",    cmd_bench,    "quantizer, analyze and sweep throughput next to a same-run memcpy baseline", lbq_usage_bench },
    { "selftest", cmd_selftest, "every quantizer on the CPU and the GPU, compared bit for bit (skipped without a GPU)", lbq_usage_selftest },
    { "help",     cmd_help,     "show help for a command", u_help },
};
const int lbq_ncommands = (int)(sizeof lbq_commands / sizeof lbq_commands[0]);

const struct lbq_cmd *cli_find_cmd(const char *name)
{
    for (int i = 0; i < lbq_ncommands; i++)
        if (strcmp(name, lbq_commands[i].name) == 0) return &lbq_commands[i];
    return NULL;
}

static int run_main(int argc, char **argv)
{
    if (argc < 2) { if (lbq_mpi_rank() == 0) print_main_usage(stderr); return LBQ_EXIT_USAGE; }
    const char *a = argv[1];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) { print_main_usage(stdout); return 0; }
    if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
        const char *mpi = lbq_mpi_build_info();     /* NULL without MPI: the line is unchanged */
        /* CUDA builds with a device also name the device and whether it runs SASS or JIT PTX */
        char dev[700] = "";
        if (lbq_cuda_device_count() > 0) snprintf(dev, sizeof dev, "; CUDA device: %s", lbq_cuda_device_info());
        if (mpi) printf("lbq %s (C11; CUDA: %s%s; OpenMP threads: %d; MPI: %s)\n", LBQ_VERSION_STRING, lbq_cuda_build_info(), dev, lbq_threads(), mpi);
        else printf("lbq %s (C11; CUDA: %s%s; OpenMP threads: %d)\n", LBQ_VERSION_STRING, lbq_cuda_build_info(), dev, lbq_threads());
        return 0;
    }
    if (a[0] == '-') return cli_usage_error(NULL, "unknown option '%s'", a);
    const struct lbq_cmd *c = cli_find_cmd(a);
    if (!c) return cli_usage_error(NULL, "unknown command '%s'", a);
    /* under mpirun: sweep and analyze share their work; every other command runs on rank 0 alone */
    if (lbq_mpi_rank() != 0 && !lbq_mpi_distributed(c->name)) return 0;
    cli_signals_install();      /* INT, TERM, HUP remove the temporary output files (cli-util.c) */
    /* the commands that read a moment file run under the crash guard (cli-util.c); a first argument
     * that is not an option is their FILE (they refine the name before opening it) */
    static const char *const readers[] = { "inspect", "analyze", "quantize", "simulate", "sweep", "shampoo", "recommend" };
    int guard = 0;
    for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++) guard |= strcmp(c->name, readers[i]) == 0;
    if (guard) cli_guard_begin(argc > 2 && (argv[2][0] != '-' || argv[2][1] == 0) ? argv[2] : NULL);
    int rc = c->run(argc - 1, argv + 1);
    cli_guard_end();
    return rc;
}

int main(int argc, char **argv)
{
    lbq_mpi_init(&argc, &argv);
    int rc = run_main(argc, argv);
    lbq_mpi_finalize();
    return rc;
}
