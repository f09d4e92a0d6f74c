/* plan.c - reading lbq.plan/1 files (cli/plan.h, docs/schema.md). */
#include "cli.h"
#include "plan.h"
#include "lbq-json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void cli_plan_free(struct cli_plan *p)
{
    if (!p) return;
    free(p->e);
    free(p);
}

static int parse_state(const char *path, const char *name, const char *which, const char *txt, struct lbq_qspec *s, int *has)
{
    if (strcmp(txt, "fp32") == 0) { *has = 0; return LBQ_OK; }
    struct lbq_qdefaults d;
    lbq_qdefaults_init(&d);
    if (lbq_qspec_parse(txt, &d, s) != LBQ_OK)
        return lbq_err(LBQ_ERR_FORMAT, "%s: tensor '%s': %s spec '%s' does not parse: %s", path, name, which, txt, lbq_errmsg());
    *has = 1;
    return LBQ_OK;
}

int cli_plan_load(const char *path, struct cli_plan **out)
{
    *out = NULL;
    char *s = lbq_read_file(path);
    if (!s) return lbq_err(LBQ_ERR_IO, "--plan %s: cannot read: %s", path, strerror(errno ? errno : EIO));
    cJSON *root = cJSON_Parse(s);
    free(s);
    int rc = LBQ_OK;
    struct cli_plan *p = calloc(1, sizeof *p);
    if (!p) { cJSON_Delete(root); return lbq_err(LBQ_ERR_NOMEM, "out of memory"); }
    snprintf(p->path, sizeof p->path, "%s", path);
    const cJSON *sc = cJSON_GetObjectItem(root, "schema"), *sv = cJSON_GetObjectItem(root, "schema_version");
    const cJSON *pa = cJSON_GetObjectItem(root, "params");
    if (!root || !cJSON_IsString(sc) || strcmp(sc->valuestring, "lbq.plan") != 0 || !cJSON_IsArray(pa)) {
        rc = lbq_err(LBQ_ERR_FORMAT, "--plan %s: not an lbq plan (schema lbq.plan, written by 'lbq recommend -o')", path); goto fail;
    }
    if (!cJSON_IsNumber(sv) || sv->valuedouble != 1) { rc = lbq_err(LBQ_ERR_FORMAT, "--plan %s: schema_version %g is not 1", path, cJSON_IsNumber(sv) ? sv->valuedouble : -1.0); goto fail; }
    p->n = cJSON_GetArraySize(pa);
    p->e = calloc((size_t)(p->n ? p->n : 1), sizeof *p->e);
    if (!p->e) { rc = lbq_err(LBQ_ERR_NOMEM, "out of memory"); goto fail; }
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, pa) {
        const cJSON *nm = cJSON_GetObjectItem(it, "name"), *ne = cJSON_GetObjectItem(it, "numel");
        const cJSON *m = cJSON_GetObjectItem(it, "m"), *v = cJSON_GetObjectItem(it, "v");
        if (!cJSON_IsString(nm) || !cJSON_IsNumber(ne) || !cJSON_IsString(m) || !cJSON_IsString(v)) {
            rc = lbq_err(LBQ_ERR_FORMAT, "--plan %s: params[%d] lacks name, numel, m or v", path, i); goto fail;
        }
        struct cli_plan_entry *e = &p->e[i];
        snprintf(e->name, sizeof e->name, "%s", nm->valuestring);
        e->numel = (int64_t)ne->valuedouble;
        snprintf(e->m, sizeof e->m, "%s", m->valuestring);
        snprintf(e->v, sizeof e->v, "%s", v->valuestring);
        for (int j = 0; j < i; j++)
            if (strcmp(p->e[j].name, e->name) == 0) { rc = lbq_err(LBQ_ERR_FORMAT, "--plan %s: tensor '%s' appears twice", path, e->name); goto fail; }
        struct lbq_config c;
        if ((rc = cli_plan_config(p, e->name, &c)) != LBQ_OK) goto fail;     /* the specs parse */
        i++;
    }
    cJSON_Delete(root);
    *out = p;
    return LBQ_OK;
fail:
    cJSON_Delete(root);
    cli_plan_free(p);
    return rc;
}

static const struct cli_plan_entry *find(const struct cli_plan *p, const char *name)
{
    for (int i = 0; i < p->n; i++) if (strcmp(p->e[i].name, name) == 0) return &p->e[i];
    return NULL;
}

int cli_plan_check(const struct cli_plan *p, const struct lbq_file *f, int all_tensors)
{
    int np = lbq_file_nparams(f);
    if (all_tensors)
        for (int j = 0; j < p->n; j++) {
            int found = 0;
            for (int i = 0; i < np && !found; i++) found = strcmp(lbq_file_param(f, i)->name, p->e[j].name) == 0;
            if (!found) return lbq_err(LBQ_ERR_FORMAT, "--plan %s: tensor '%s' is not in %s", p->path, p->e[j].name, lbq_file_path(f));
        }
    for (int i = 0; i < np; i++) {
        const struct lbq_param_info *pi = lbq_file_param(f, i);
        const struct cli_plan_entry *e = find(p, pi->name);
        if (!e) return lbq_err(LBQ_ERR_FORMAT, "--plan %s: tensor '%s' of %s is not in the plan", p->path, pi->name, lbq_file_path(f));
        if (e->numel != pi->shape.numel)
            return lbq_err(LBQ_ERR_FORMAT, "--plan %s: tensor '%s' has %lld elements in the plan, %lld in %s", p->path, pi->name,
                           (long long)e->numel, (long long)pi->shape.numel, lbq_file_path(f));
    }
    return LBQ_OK;
}

int cli_plan_config(const struct cli_plan *p, const char *name, struct lbq_config *conf)
{
    memset(conf, 0, sizeof *conf);
    const struct cli_plan_entry *e = find(p, name);
    if (!e) return lbq_err(LBQ_ERR_FORMAT, "--plan %s: tensor '%s' is not in the plan", p->path, name);
    int rc = parse_state(p->path, e->name, "m", e->m, &conf->m, &conf->has_m);
    if (!rc) rc = parse_state(p->path, e->name, "v", e->v, &conf->v, &conf->has_v);
    if (rc) return rc;
    conf->quantize_all = 1;
    snprintf(conf->label, sizeof conf->label, "m=%s v=%s", e->m, e->v);
    return LBQ_OK;
}
