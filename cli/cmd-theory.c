/* cmd-theory.c - `lbq theory`: SOLO's swamping thresholds and precision-specific beta1 table. */
#include "cli.h"
#include "lbq-json.h"
#include "lbq-sim.h"

/* the human table: stdout, or stderr when the JSON goes to stdout (--json -) */
static FILE *tout;

const char lbq_usage_theory[] =
"usage: lbq theory [--map M[,M...]] [--bits B | --bits LO-HI] [--beta B] [--json OUT]\n"
"\n"
"SOLO's theory beside lbq's measurements (docs/metrics.md, 'theory'):\n"
"  swamping threshold  beta* = 1 - r, r = the upper-median over levels of half the smaller adjacent\n"
"                      gap of the unsigned map: an EMA with beta >= beta* leaves most codes stuck;\n"
"  r_median, r_max     median and largest half-gap (q[i+1]-q[i])/2 of the signed map;\n"
"  beta' table         for target bits b' and a reference b known to work with beta (default 0.9),\n"
"                      the largest beta' with beta'/(1-beta') r_median(b') <= beta/(1-beta) r_median(b),\n"
"                      using the signed map (default dtree, as SOLO).\n"
"\n"
"  --map M[,M...]  maps (default dtree,uniform,linear,dtree0,linsq)\n"
"  --bits B|LO-HI  bitwidths for the thresholds (default 2-8)\n"
"  --beta B        reference beta for the beta' table (default 0.9)\n"
"  --json OUT      JSON (schema lbq.theory/1)\n";

enum { O_MAP = 1, O_BITS, O_BETA, O_JSON };
static const struct cli_opt opts[] = { { "map", 1, O_MAP }, { "bits", 1, O_BITS }, { "beta", 1, O_BETA }, { "json", 1, O_JSON }, { 0, 0, 0 } };

static int plan_map(const char *map, int bits, enum lbq_role role, struct lbq_qplan *p)
{
    char spec[96];
    struct lbq_qspec s;
    struct lbq_qdefaults d;
    lbq_qdefaults_init(&d);
    d.bits = bits;
    snprintf(spec, sizeof spec, "tensor-%s", map);
    int rc = lbq_qspec_parse(spec, &d, &s);
    if (rc) return rc;
    return lbq_qplan_init(p, &s, role, 2);
}

int cmd_theory(int argc, char **argv)
{
    struct cli_parser p = { "theory", opts, argc, argv, 1, {0}, 0 };
    const char *val, *maps = "dtree,uniform,linear,dtree0,linsq", *json_out = NULL;
    long long blo = 2, bhi = 8;
    double beta = 0.9;
    int id, rc = LBQ_OK, exitc = 0;
    while ((id = cli_next(&p, &val)) != 0) {
        if (id < 0) return LBQ_EXIT_USAGE;
        if (id == 'h') return cli_help("theory");
        if (id == O_MAP) maps = val;
        if (id == O_JSON) json_out = val;
        if (id == O_BETA && cli_double("theory", "--beta", val, 0.0, 0.999999, &beta)) return LBQ_EXIT_USAGE;
        if (id == O_BITS) {
            const char *dash = strchr(val, '-');
            if (dash) {
                char a[16];
                snprintf(a, sizeof a, "%.*s", (int)(dash - val), val);
                if (cli_int("theory", "--bits", a, 1, 8, &blo) || cli_int("theory", "--bits", dash + 1, 1, 8, &bhi)) return LBQ_EXIT_USAGE;
                if (bhi < blo) return cli_usage_error("theory", "--bits: empty range '%s'", val);
            } else {
                if (cli_int("theory", "--bits", val, 1, 8, &blo)) return LBQ_EXIT_USAGE;
                bhi = blo;
            }
        }
    }
    if (p.npos) return cli_usage_error("theory", "unexpected argument '%s'", p.positional[0]);
    if (cli_check_output("--json", json_out, NULL, CLI_OUT_TEXT)) return LBQ_EXIT_OUTPUT;
    tout = (json_out && strcmp(json_out, "-") == 0) ? stderr : stdout;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "schema", "lbq.theory");
    cJSON_AddNumberToObject(root, "schema_version", 1);
    cJSON_AddStringToObject(root, "lbq_version", LBQ_VERSION_STRING);
    cJSON *ja = cJSON_AddArrayToObject(root, "maps");
    fprintf(tout, "swamping threshold beta* (unsigned map) and half-gaps r_median / r_max (signed map)\n");
    fprintf(tout, "%-9s %4s %10s %10s %10s\n", "map", "bits", "beta*", "r_median", "r_max");
    char buf[256];
    snprintf(buf, sizeof buf, "%s", maps);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        const struct lbq_map *m = lbq_map_find(tok);
        if (!m) { rc = lbq_err(LBQ_ERR_ARG, "--map: unknown map '%s'", tok); goto cleanup; }
        if (!lbq_map_fixed_table(m)) { rc = lbq_err(LBQ_ERR_ARG, "--map: '%s' has no fixed codebook (theory needs a table map)", tok); goto cleanup; }
        cJSON *mo = cJSON_CreateObject();
        cJSON_AddStringToObject(mo, "map", m->name);
        cJSON *rows = cJSON_AddArrayToObject(mo, "bits");
        cJSON_AddItemToArray(ja, mo);
        for (int b = (int)blo; b <= (int)bhi; b++) {
            struct lbq_qplan pu, ps;
            double bs = NAN, rmed = NAN, rmax = NAN;
            if (plan_map(m->name, b, LBQ_ROLE_V, &pu) == LBQ_OK) bs = lbq_theory_beta_star(&pu);
            if (plan_map(m->name, b, LBQ_ROLE_M, &ps) == LBQ_OK) { rmed = lbq_theory_r_median(&ps); rmax = lbq_theory_r_max(&ps); }
            fprintf(tout, "%-9s %4d %10.4f %10.6f %10.6f\n", m->name, b, bs, rmed, rmax);
            cJSON *r = cJSON_CreateObject();
            cJSON_AddNumberToObject(r, "bits", b);
            lbq_json_add_num(r, "beta_star", bs);
            lbq_json_add_num(r, "r_median_signed", rmed);
            lbq_json_add_num(r, "r_max_signed", rmax);
            cJSON_AddItemToArray(rows, r);
        }
    }
    /* precision-specific beta1 table with the first map (signed) */
    snprintf(buf, sizeof buf, "%s", maps);
    char *first = strtok(buf, ",");
    const struct lbq_map *m0 = lbq_map_find(first);
    fprintf(tout, "\nprecision-specific beta1 (SOLO): beta' for target bits b' (rows) given beta = %g at reference bits b (columns), map %s\n", beta, m0->name);
    fprintf(tout, "%6s", "b'\\b");
    for (int b = 8; b >= 5; b--) fprintf(tout, " %8d", b);
    fprintf(tout, "\n");
    cJSON *tab = cJSON_AddObjectToObject(root, "beta_prime");
    cJSON_AddStringToObject(tab, "map", m0->name);
    cJSON_AddNumberToObject(tab, "beta", beta);
    cJSON *trows = cJSON_AddArrayToObject(tab, "rows");
    for (int bt = 4; bt >= 2; bt--) {
        struct lbq_qplan pt;
        if ((rc = plan_map(m0->name, bt, LBQ_ROLE_M, &pt)) != LBQ_OK) goto cleanup;
        double rt = lbq_theory_r_median(&pt);
        fprintf(tout, "%6d", bt);
        cJSON *row = cJSON_CreateObject();
        cJSON_AddNumberToObject(row, "target_bits", bt);
        cJSON *vals = cJSON_AddArrayToObject(row, "beta_prime_for_ref_bits_8_7_6_5");
        for (int b = 8; b >= 5; b--) {
            struct lbq_qplan pr;
            if ((rc = plan_map(m0->name, b, LBQ_ROLE_M, &pr)) != LBQ_OK) goto cleanup;
            double bp = lbq_theory_beta_prime(beta, lbq_theory_r_median(&pr), rt);
            fprintf(tout, " %8.3f", bp);
            cJSON_AddItemToArray(vals, lbq_json_num(bp));
        }
        fprintf(tout, "\n");
        cJSON_AddItemToArray(trows, row);
    }
    if (json_out) rc = lbq_json_write(json_out, root);
cleanup:
    if (rc) exitc = cli_fail(rc);
    cJSON_Delete(root);
    return exitc;
}
