/* cmd-import.c - `lbq import CKPT -o OUT.h5`: an existing PyTorch checkpoint -> moment file.
 *
 * The work is done by the Python package python/lbq (lbq.checkpoint, docs/import.md): this command
 * checks the options, finds the package and the interpreter, and replaces itself with
 *     /usr/bin/python3 -m lbq.checkpoint ARGS...
 * with the package's directory put first on PYTHONPATH.  The package is looked up in
 *     $LBQ_PYTHONPATH, <dir of lbq>/../share/lbq/python (an installed prefix),
 *     <dir of lbq>/python, <dir of lbq>/../python (a build/ folder in the sources), and the source
 *     tree lbq was built from (LBQ_PYTHON_DIR);
 * the interpreter is $LBQ_PYTHON, else /usr/bin/python3 (Debian's, with python3-torch/python3-h5py). */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef LBQ_PYTHON_DIR
#define LBQ_PYTHON_DIR ""
#endif

const char lbq_usage_import[] =
"usage: lbq import CKPT -o OUT.h5 [--model FILE] [--model-key K] [--optim-key K] [--names FILE]\n"
"                  [--order FILE] [--rule auto|all|nanogpt|hf|hf-bias] [--no-param] [--compression gzip]\n"
"                  [--trust-pickle] [--source TEXT] [-q]\n"
"\n"
"Convert a PyTorch checkpoint into a moment file (docs/format.md) for inspect, analyze, quantize.\n"
"CKPT is one of (docs/import.md):\n"
"  a torch.save'd dict with a model and an optimizer state dict (nanoGPT/llm.c ckpt.pt; keys model,\n"
"      model_state_dict, state_dict, ... and optimizer, optimizer_state_dict, optim, ...)\n"
"  a Hugging Face Trainer checkpoint directory (optimizer.pt, and pytorch_model.bin or\n"
"      model.safetensors, trainer_state.json)\n"
"  an optimizer state dict file, with the model state dict given by --model\n"
"Optimizer states are named from the model's parameter order under a grouping rule (all: one group;\n"
"nanogpt: dim>=2 then dim<2; hf: decayed, then biases and LayerNorm weights; hf-bias: then biases),\n"
"checked shape by shape; tied weights and frozen parameters are handled; a mismatch or an ambiguity\n"
"is refused in one line.\n"
"bf16/fp16 states are stored exactly as float32 with their dtype in the attribute orig_dtype; step,\n"
"betas, eps, lr and weight_decay come from the param groups.  Runs /usr/bin/python3 -m lbq.checkpoint\n"
"(needs python3-torch and python3-h5py).\n"
"\n"
"  -o, --output OUT.h5  output moment file (required; written under a temporary name, then renamed)\n"
"  --model FILE         the model state dict (torch file, .safetensors, or a shard .index.json)\n"
"  --model-key K        key of the model state dict inside CKPT\n"
"  --optim-key K        key of the optimizer state dict inside CKPT\n"
"  --names FILE         one parameter name per optimizer index, in index order (no inference)\n"
"  --order FILE         the model's parameter names in model.named_parameters() order (needed for\n"
"                       safetensors models, whose keys are sorted)\n"
"  --rule R             only this grouping rule (default auto: every rule; they must agree)\n"
"  --no-param           do not store the parameter values\n"
"  --compression gzip   gzip-compress the datasets\n"
"  --trust-pickle       unpickle anything (default: only tensors and plain data)\n"
"  --source TEXT        the file's source attribute (default: 'lbq import CKPT')\n"
"  -q, --quiet          no notices on stderr\n";

enum { O_OUT = 1, O_MODEL, O_MKEY, O_OKEY, O_NAMES, O_ORDER, O_RULE, O_NOPARAM, O_COMP, O_TRUST, O_QUIET, O_SOURCE };
static const struct cli_opt opts[] = {
    { "output", 1, O_OUT }, { "model", 1, O_MODEL }, { "model-key", 1, O_MKEY }, { "optim-key", 1, O_OKEY },
    { "names", 1, O_NAMES }, { "order", 1, O_ORDER }, { "rule", 1, O_RULE }, { "no-param", 0, O_NOPARAM },
    { "compression", 1, O_COMP }, { "trust-pickle", 0, O_TRUST }, { "quiet", 0, O_QUIET }, { "source", 1, O_SOURCE },
    { 0, 0, 0 },
};

static int has_package(const char *dir)
{
    char p[2 * PATH_MAX + 128];
    if (!dir || !*dir) return 0;
    snprintf(p, sizeof p, "%s/lbq/checkpoint.py", dir);
    return access(p, R_OK) == 0;
}

/* the directory holding the lbq package, in the order documented above; NULL if none */
static const char *find_package(char *buf, size_t n)
{
    const char *env = getenv("LBQ_PYTHONPATH");
    if (env && *env) return has_package(env) ? env : NULL;
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(buf, n, "%s/../share/lbq/python", exe);
            if (has_package(buf)) return buf;
            snprintf(buf, n, "%s/python", exe);
            if (has_package(buf)) return buf;
            snprintf(buf, n, "%s/../python", exe);         /* build/ inside the source tree */
            if (has_package(buf)) return buf;
        }
    }
    if (has_package(LBQ_PYTHON_DIR)) return LBQ_PYTHON_DIR;
    return NULL;
}

int cmd_import(int argc, char **argv)
{
    struct cli_parser p = { "import", opts, argc, argv, 1, {0}, 0 };
    const char *val, *out = NULL, *model = NULL;
    int id;
    /* the python command line: interpreter -m lbq.checkpoint CKPT -o OUT [options] */
    char **pa = calloc((size_t)argc + 8, sizeof *pa);
    if (!pa) { fprintf(stderr, "lbq: error: out of memory\n"); return LBQ_EXIT_FAIL; }
    int na = 3;     /* [0] python, [1] -m, [2] lbq.checkpoint, options, then -- CKPT */
    while ((id = cli_next(&p, &val)) != 0) {
        if (id < 0) { free(pa); return LBQ_EXIT_USAGE; }
        if (id == 'h') { free(pa); return cli_help("import"); }
        static const char *const flag[] = { [O_OUT] = "--output", [O_MODEL] = "--model", [O_MKEY] = "--model-key",
            [O_OKEY] = "--optim-key", [O_NAMES] = "--names", [O_ORDER] = "--order", [O_RULE] = "--rule",
            [O_NOPARAM] = "--no-param", [O_COMP] = "--compression", [O_TRUST] = "--trust-pickle",
            [O_QUIET] = "--quiet", [O_SOURCE] = "--source" };
        if (id == O_OUT) out = val;
        if (id == O_MODEL) model = val;
        if (id == O_RULE && strcmp(val, "auto") && strcmp(val, "all") && strcmp(val, "nanogpt") && strcmp(val, "hf") && strcmp(val, "hf-bias")) {
            free(pa);
            return cli_usage_error("import", "--rule: unknown rule '%s' (auto, all, nanogpt, hf, hf-bias)", val);
        }
        if (id == O_COMP && strcmp(val, "gzip")) { free(pa); return cli_usage_error("import", "--compression: '%s' (only gzip)", val); }
        if ((id == O_MODEL || id == O_NAMES || id == O_ORDER || id == O_MKEY || id == O_OKEY) && !*val) {
            free(pa);
            return cli_usage_error("import", "%s: empty value", flag[id]);
        }
        pa[na++] = (char *)flag[id];
        if (val) pa[na++] = (char *)val;
    }
    if (p.npos != 1) { free(pa); return cli_usage_error("import", p.npos ? "expected one CKPT, got %d arguments" : "missing CKPT%.0d", p.npos); }
    if (!out) { free(pa); return cli_usage_error("import", "missing -o OUT.h5"); }
    if (!*out) { free(pa); return cli_usage_error("import", "-o: empty value"); }
    /* never write over the checkpoint or the model file (docs/cli.md, "Output files") */
    int exitc = cli_check_output("-o", out, p.positional[0], CLI_OUT_H5);
    if (!exitc && model) exitc = cli_check_output("-o", out, model, CLI_OUT_H5);
    if (exitc) { free(pa); return exitc; }
    char buf[PATH_MAX + 64];
    const char *pkg = find_package(buf, sizeof buf);
    if (!pkg) {
        free(pa);
        fprintf(stderr, "lbq: error: cannot find the lbq Python package (lbq/checkpoint.py) for 'lbq import'; set LBQ_PYTHONPATH to the python/ folder of the lbq sources\n");
        return LBQ_EXIT_FAIL;
    }
    const char *py = getenv("LBQ_PYTHON");
    if (!py || !*py) py = "/usr/bin/python3";
    if (access(py, X_OK) != 0) {
        free(pa);
        fprintf(stderr, "lbq: error: %s: %s ('lbq import' needs Debian's python3 with python3-torch and python3-h5py; scripts/setup.sh --with-python)\n", py, strerror(errno));
        return LBQ_EXIT_FAIL;
    }
    const char *old = getenv("PYTHONPATH");
    size_t len = strlen(pkg) + (old ? strlen(old) : 0) + 2;
    char *pp = malloc(len);
    if (!pp) { free(pa); fprintf(stderr, "lbq: error: out of memory\n"); return LBQ_EXIT_FAIL; }
    snprintf(pp, len, "%s%s%s", pkg, old && *old ? ":" : "", old && *old ? old : "");
    setenv("PYTHONPATH", pp, 1);
    free(pp);
    pa[0] = (char *)py; pa[1] = "-m"; pa[2] = "lbq.checkpoint";
    pa[na++] = "--";
    pa[na++] = (char *)p.positional[0];
    pa[na] = NULL;
    fflush(stdout); fflush(stderr);
    execv(py, pa);
    fprintf(stderr, "lbq: error: cannot run %s: %s\n", py, strerror(errno));
    free(pa);
    return LBQ_EXIT_FAIL;
}
