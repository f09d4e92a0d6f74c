/* cmd-selftest.c - `lbq selftest`: the CPU reference's consistency checks (everywhere) and, with a
 * CUDA device, the bit-for-bit agreement of lbq_cuda_qdq with lbq_qdq (src/cuda/cuda-selftest.c). */
#include "cli.h"
#include "lbq-cuda.h"

#include <string.h>

const char lbq_usage_selftest[] =
"usage: lbq selftest [--device auto|cpu|cuda] [--max-report N] [--quick] [--bench [--bench-elems N]] [--big N]\n"
"\n"
"Check the quantizers on generated tensors: every registered map x normalization x several\n"
"bitwidths and block sizes x nearest/stochastic rounding x m/v role, on odd sizes (1 to 4099),\n"
"2-D and 3-D shapes, all-zero blocks, a single outlier, denormals, NaN and +-Inf.\n"
"\n"
"  CPU (always, no device needed): a range quantized in chunks equals the whole range; the\n"
"  engine's call (no codes) gives the same values; every value decodes from its code and scale.\n"
"  CUDA (with a device): lbq_cuda_qdq against lbq_qdq, codes and dequantized values compared bit\n"
"  for bit, on whole and chunked ranges, streamed in one piece and in many.\n"
"\n"
"  --device D      auto (default): CUDA checks when a device is present, else they are skipped;\n"
"                  cpu: CPU checks only; cuda: require a device (exit 6 without one)\n"
"  --max-report N  mismatches listed (default 10)\n"
"  --quick         a smaller case set\n"
"  --bench         after the checks, the GPU bandwidth benchmark (lbq_cuda_bench): GB/s of every\n"
"                  kernel next to a device-to-device memcpy baseline of the same run (docs/cuda.md);\n"
"                  needs a device\n"
"  --bench-elems N elements of the benchmark tensor (default 16777216)\n"
"  --big N         also one tensor of N elements (e.g. 2148000000 > 2^31; about 9N bytes of host\n"
"                  memory) through the GPU against the CPU, bit for bit; needs a device\n"
"\n"
"exit status: 0 every check passed (with --device auto and no device the CUDA part is skipped),\n"
"1 a mismatch or a failed check, 6 no CUDA device for --device cuda, or a CUDA runtime error.\n";

int cmd_selftest(int argc, char **argv);

enum { O_DEVICE = 1, O_MAXREP, O_QUICK, O_BENCH, O_BENCH_ELEMS, O_BIG };
static const struct cli_opt opts[] = {
    { "device", 1, O_DEVICE }, { "max-report", 1, O_MAXREP }, { "quick", 0, O_QUICK },
    { "bench", 0, O_BENCH }, { "bench-elems", 1, O_BENCH_ELEMS }, { "big", 1, O_BIG }, { 0, 0, 0 },
};

int cmd_selftest(int argc, char **argv)
{
    struct cli_parser p = { "selftest", opts, argc, argv, 1, {0}, 0 };
    const char *val, *device = "auto";
    int id, quick = 0, bench = 0;
    long long max_report = 10, bench_elems = 0, big = 0;
    while ((id = cli_next(&p, &val)) != 0) {
        if (id < 0) return LBQ_EXIT_USAGE;
        if (id == 'h') return cli_help("selftest");
        if (id == O_DEVICE) device = val;
        if (id == O_MAXREP && cli_int("selftest", "--max-report", val, 0, 1000000, &max_report)) return LBQ_EXIT_USAGE;
        if (id == O_QUICK) quick = 1;
        if (id == O_BENCH) bench = 1;
        if (id == O_BIG && cli_int("selftest", "--big", val, 1, 1LL << 36, &big)) return LBQ_EXIT_USAGE;
        if (id == O_BENCH_ELEMS && cli_int("selftest", "--bench-elems", val, 4096, 1LL << 31, &bench_elems)) return LBQ_EXIT_USAGE;
    }
    if (p.npos) return cli_usage_error("selftest", "unexpected argument '%s'", p.positional[0]);
    int use_cuda = 0, is_auto = 0;
    char nodev[256] = "";
    if (strcmp(device, "auto") == 0) {
        is_auto = 1;
        use_cuda = lbq_cuda_check() == LBQ_OK;
        if (!use_cuda) snprintf(nodev, sizeof nodev, "%s", lbq_errmsg());
    } else if (strcmp(device, "cuda") == 0 || strcmp(device, "gpu") == 0) {
        if (lbq_cuda_check() != LBQ_OK) {
            fprintf(stderr, "lbq selftest: error: --device cuda: %s\n", lbq_errmsg());
            return LBQ_EXIT_CUDA;
        }
        use_cuda = 1;
    } else if (strcmp(device, "cpu") != 0) {
        return cli_usage_error("selftest", "--device: '%s' is not auto, cpu or cuda", device);
    }

    struct lbq_selftest_opts o = { 1, use_cuda, quick, (int)max_report, stdout };
    struct lbq_selftest_result r;
    int rc = lbq_selftest(&o, &r);
    fflush(stdout);
    if (rc != LBQ_OK) return cli_fail(rc);
    if (is_auto && !use_cuda) printf("lbq selftest: %s: skipped\n", nodev);
    if (r.cpu_failures || r.cuda_mismatches) {
        fprintf(stderr, "lbq selftest: FAILED: %lld cpu check failures, %lld cuda mismatches\n",
                (long long)r.cpu_failures, (long long)r.cuda_mismatches);
        return LBQ_EXIT_FAIL;
    }
    if (use_cuda) {                     /* the device-resident engine against its CPU twin */
        rc = lbq_devq_selfcheck();
        printf("lbq selftest: cuda engine (analyze/sweep) against its CPU twin: %s\n", rc == LBQ_OK ? "all accumulators agree bit for bit" : lbq_errmsg());
        fflush(stdout);
        if (rc == LBQ_ERR_DATA) return LBQ_EXIT_FAIL;
        if (rc != LBQ_OK) return cli_fail(rc);
    }
    if (big && use_cuda) {
        rc = lbq_cuda_selftest_big(big, stdout);
        fflush(stdout);
        if (rc == LBQ_ERR_DATA) { fprintf(stderr, "lbq selftest: FAILED: %s\n", lbq_errmsg()); return LBQ_EXIT_FAIL; }
        if (rc != LBQ_OK) return cli_fail(rc);
    } else if (big) {
        printf("lbq selftest: --big needs a CUDA device: skipped\n");
    }
    if (bench && use_cuda) {
        struct lbq_cuda_bench_row rows[32];
        int nrows = 0;
        rc = lbq_cuda_bench(bench_elems, 0, rows, 32, &nrows);
        if (rc != LBQ_OK) return cli_fail(rc);
        lbq_cuda_bench_print(stdout, rows, nrows);
    } else if (bench) {
        printf("lbq selftest: --bench needs a CUDA device: skipped\n");
    }
    return LBQ_EXIT_OK;
}
