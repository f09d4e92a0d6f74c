/* cmd-list.c - `lbq list`: the registries (maps, normalizations, recipes). */
#include "cli.h"
#include "lbq-json.h"

#include <string.h>

const char lbq_usage_list[] =
"usage: lbq list [--json] [--bits B] [--codebook-cpu CAP]\n"
"\n"
"Print every registered map (codebook), normalization and recipe with its aliases and one line of\n"
"help.  A quantizer spec is NORM-MAP[:opt...], for example rank1-linear, block128-dtree, block-log:b2.\n"
"\n"
"  --json     machine-readable output on stdout (schema lbq.list/1, docs/schema.md), with the\n"
"             levels of every table map at --bits (default 4), signed and unsigned\n"
"  --bits B   bitwidth for the levels in --json (1-8)\n"
"  --codebook-cpu CAP  PyTorch CPU kernel whose fp32 codebooks the levels reproduce: avx2 (default),\n"
"             avx512 or default (the spec option :cpu-CAP; docs/quantizers.md)\n";

enum { O_JSON = 1, O_BITS, O_CPU };
static const struct cli_opt opts[] = { { "json", 0, O_JSON }, { "bits", 1, O_BITS }, { "codebook-cpu", 1, O_CPU }, { 0, 0, 0 } };

static cJSON *levels_json(const struct lbq_map *m, int bits, int is_signed, const char *cpu)
{
    struct lbq_qdefaults d;
    lbq_qdefaults_init(&d);
    d.bits = bits;
    struct lbq_qspec s;
    char spec[96];
    snprintf(spec, sizeof spec, "tensor-%s:cpu-%s", m->name, cpu);
    if (lbq_qspec_parse(spec, &d, &s) != LBQ_OK) {     /* maps without a torch-built codebook */
        snprintf(spec, sizeof spec, "tensor-%s", m->name);
        if (lbq_qspec_parse(spec, &d, &s) != LBQ_OK) return cJSON_CreateNull();
    }
    struct lbq_qplan p;
    if (lbq_qplan_init(&p, &s, is_signed ? LBQ_ROLE_M : LBQ_ROLE_V, 2) != LBQ_OK) return cJSON_CreateNull();
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < p.nlev; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(p.q[i]));
    return a;
}

int cmd_list(int argc, char **argv)
{
    struct cli_parser p = { "list", opts, argc, argv, 1, {0}, 0 };
    const char *val;
    int id, json = 0;
    long long bits = 4;
    const char *cpu = "avx2";
    while ((id = cli_next(&p, &val)) != 0) {
        if (id < 0) return LBQ_EXIT_USAGE;
        if (id == 'h') return cli_help("list");
        if (id == O_JSON) json = 1;
        if (id == O_BITS && cli_int("list", "--bits", val, 1, 8, &bits)) return LBQ_EXIT_USAGE;
        if (id == O_CPU) {
            if (strcmp(val, "avx2") && strcmp(val, "avx512") && strcmp(val, "default"))
                return cli_usage_error("list", "--codebook-cpu: '%s' is not avx2, avx512 or default", val);
            cpu = val;
        }
    }
    if (p.npos) return cli_usage_error("list", "unexpected argument '%s'", p.positional[0]);
    if (!json) {
        printf("maps (codebooks):\n");
        for (int i = 0; i < lbq_map_count(); i++) {
            const struct lbq_map *m = lbq_map_at(i);
            char bits_s[16];
            if (m->fixed_bits) snprintf(bits_s, sizeof bits_s, "%d", m->fixed_bits);
            else snprintf(bits_s, sizeof bits_s, "%d-%d", m->min_bits, m->max_bits);
            printf("  %-9s bits %-4s %-8s %s\n", m->name, bits_s,
                   m->sign_ok == (LBQ_SIGNED_OK | LBQ_UNSIGNED_OK) ? "+/-" : m->sign_ok == LBQ_UNSIGNED_OK ? "unsigned" : "signed", m->help);
            if (m->aliases[0]) printf("  %-9s           aliases: %s\n", "", m->aliases);
        }
        printf("\nnormalizations:\n");
        for (int i = 0; i < lbq_norm_count(); i++) {
            const struct lbq_norm *n = lbq_norm_at(i);
            printf("  %-9s %s\n", n->name, n->help);
            if (n->aliases[0]) printf("  %-9s aliases: %s\n", "", n->aliases);
        }
        printf("\nrecipes (--recipe):\n");
        for (int i = 0; i < lbq_recipe_count(); i++) {
            const struct lbq_recipe *r = lbq_recipe_at(i);
            printf("  %-9s %s\n  %-9s m: %s  v: %s\n", r->name, r->help, "", r->m_spec, r->v_spec);
        }
        printf("\nspec options (NORM-MAP:opt:opt): bN bits, nz exclude the zero code, dre FP8 range expansion,\n"
               "signed/unsigned override the role, sr stochastic rounding, pX log-map quantile, cpu-avx2/cpu-avx512/\n"
               "cpu-default the PyTorch CPU kernel a codebook reproduces (avx2 by default), argmin lpmm's torch\n"
               "'nearest' tie rule, torchao torchao's rounding and 1e-12 scale clip, guarded lbq's guarded log-map\n"
               "blocks, coat COAT's plain fp8 scale, fit SOLO's block size (largest divisor of numel).\n");
        return 0;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "schema", "lbq.list");
    cJSON_AddNumberToObject(root, "schema_version", 1);
    cJSON_AddStringToObject(root, "lbq_version", LBQ_VERSION_STRING);
    cJSON_AddNumberToObject(root, "bits", (double)bits);
    cJSON_AddStringToObject(root, "codebook_cpu", cpu);
    cJSON *maps = cJSON_AddArrayToObject(root, "maps");
    for (int i = 0; i < lbq_map_count(); i++) {
        const struct lbq_map *m = lbq_map_at(i);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", m->name);
        cJSON_AddStringToObject(o, "aliases", m->aliases);
        cJSON_AddStringToObject(o, "help", m->help);
        cJSON_AddNumberToObject(o, "min_bits", m->min_bits);
        cJSON_AddNumberToObject(o, "max_bits", m->max_bits);
        cJSON_AddBoolToObject(o, "signed", (m->sign_ok & LBQ_SIGNED_OK) != 0);
        cJSON_AddBoolToObject(o, "unsigned", (m->sign_ok & LBQ_UNSIGNED_OK) != 0);
        cJSON_AddBoolToObject(o, "needs_block", m->needs_block);
        if (lbq_map_fixed_table(m)) {
            int b = m->fixed_bits ? m->fixed_bits : (int)bits;
            cJSON_AddItemToObject(o, "levels_signed", (m->sign_ok & LBQ_SIGNED_OK) ? levels_json(m, b, 1, cpu) : cJSON_CreateNull());
            cJSON_AddItemToObject(o, "levels_unsigned", (m->sign_ok & LBQ_UNSIGNED_OK) ? levels_json(m, b, 0, cpu) : cJSON_CreateNull());
        }
        cJSON_AddItemToArray(maps, o);
    }
    cJSON *norms = cJSON_AddArrayToObject(root, "normalizations");
    for (int i = 0; i < lbq_norm_count(); i++) {
        const struct lbq_norm *n = lbq_norm_at(i);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", n->name);
        cJSON_AddStringToObject(o, "aliases", n->aliases);
        cJSON_AddStringToObject(o, "help", n->help);
        cJSON_AddBoolToObject(o, "blockwise", n->blockwise);
        cJSON_AddItemToArray(norms, o);
    }
    cJSON *recs = cJSON_AddArrayToObject(root, "recipes");
    for (int i = 0; i < lbq_recipe_count(); i++) {
        const struct lbq_recipe *r = lbq_recipe_at(i);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", r->name);
        cJSON_AddStringToObject(o, "help", r->help);
        cJSON_AddStringToObject(o, "m", r->m_spec);
        cJSON_AddStringToObject(o, "v", r->v_spec);
        cJSON_AddItemToArray(recs, o);
    }
    int rc = lbq_json_write("-", root);
    cJSON_Delete(root);
    return rc ? cli_fail(rc) : 0;
}
