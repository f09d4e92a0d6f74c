/* test-schema.c - the JSON that lbq writes, validated against the documented schemas in
 * docs/schemas/ (*.json) (a JSON-Schema subset: type (string or list), const, required, properties,
 * items, $ref to a file in that directory).  Runs the real binary on the bundled sample.  The
 * validator itself is checked first on documents that must fail, so the test can fail. */
#include "lbq.h"
#include "lbq-test.h"
#include "lbq-json.h"

#include <cJSON.h>
#include <sys/wait.h>
#include <unistd.h>

static cJSON *load_schema(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/schemas/%s", LBQ_SRC_DIR, name);
    char *s = lbq_read_file(path);
    cJSON *j = s ? cJSON_Parse(s) : NULL;
    free(s);
    if (!j) fprintf(stderr, "cannot load schema %s\n", path);
    return j;
}

static int type_ok(const cJSON *v, const char *t)
{
    if (!strcmp(t, "object")) return cJSON_IsObject(v);
    if (!strcmp(t, "array")) return cJSON_IsArray(v);
    if (!strcmp(t, "number")) return cJSON_IsNumber(v);
    if (!strcmp(t, "string")) return cJSON_IsString(v);
    if (!strcmp(t, "boolean")) return cJSON_IsBool(v);
    if (!strcmp(t, "null")) return cJSON_IsNull(v);
    return 0;
}

/* returns the number of violations, printing the first few with their JSON path */
static int validate(const cJSON *v, const cJSON *schema, const char *path, int *printed)
{
    int bad = 0;
    const cJSON *ref = cJSON_GetObjectItem(schema, "$ref");
    if (cJSON_IsString(ref)) {
        cJSON *s = load_schema(ref->valuestring);
        if (!s) return 1;
        bad = validate(v, s, path, printed);
        cJSON_Delete(s);
        return bad;
    }
#define FAIL(...) do { bad++; if ((*printed)++ < 10) { fprintf(stderr, "  %s: ", path); fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
    const cJSON *t = cJSON_GetObjectItem(schema, "type");
    if (cJSON_IsString(t) && !type_ok(v, t->valuestring)) FAIL("not of type %s", t->valuestring);
    if (cJSON_IsArray(t)) {
        int ok = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, t) if (cJSON_IsString(it) && type_ok(v, it->valuestring)) ok = 1;
        if (!ok) FAIL("not of any allowed type");
    }
    const cJSON *c = cJSON_GetObjectItem(schema, "const");
    if (c && !cJSON_Compare(v, c, 1)) FAIL("differs from the constant");
    const cJSON *req = cJSON_GetObjectItem(schema, "required"), *it;
    if (cJSON_IsArray(req) && cJSON_IsObject(v))
        cJSON_ArrayForEach(it, req) if (cJSON_IsString(it) && !cJSON_HasObjectItem(v, it->valuestring)) FAIL("missing key '%s'", it->valuestring);
    const cJSON *props = cJSON_GetObjectItem(schema, "properties");
    if (cJSON_IsObject(props) && cJSON_IsObject(v))
        cJSON_ArrayForEach(it, props) {
            const cJSON *sub = cJSON_GetObjectItem(v, it->string);
            if (!sub) continue;
            char p[512];
            snprintf(p, sizeof p, "%s.%s", path, it->string);
            bad += validate(sub, it, p, printed);
        }
    const cJSON *items = cJSON_GetObjectItem(schema, "items");
    if (cJSON_IsObject(items) && cJSON_IsArray(v)) {
        int i = 0;
        cJSON_ArrayForEach(it, v) {
            char p[512];
            snprintf(p, sizeof p, "%s[%d]", path, i++);
            bad += validate(it, items, p, printed);
        }
    }
    return bad;
#undef FAIL
}

static int run(char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) { freopen("/dev/null", "w", stdout); execv(argv[0], argv); _exit(127); }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int check_file(const char *json_path, const char *schema_name)
{
    char *s = lbq_read_file(json_path);
    cJSON *doc = s ? cJSON_Parse(s) : NULL;
    free(s);
    cJSON *sch = load_schema(schema_name);
    int printed = 0, bad = (doc && sch) ? validate(doc, sch, "$", &printed) : 1;
    cJSON_Delete(doc); cJSON_Delete(sch);
    return bad;
}

int main(void)
{
    const char *lbq = getenv("LBQ");
    if (!lbq) { fprintf(stderr, "LBQ not set; run through ctest\n"); return 77; }
    /* the validator rejects what it must */
    {
        cJSON *sch = load_schema("lbq.analyze-3.json");
        int printed = 100;
        cJSON *d1 = cJSON_Parse("{\"schema\":\"lbq.analyze\"}");
        cJSON *d2 = cJSON_Parse("[1,2]");
        CHECK(sch && validate(d1, sch, "$", &printed) > 0);
        CHECK(sch && validate(d2, sch, "$", &printed) > 0);
        cJSON_Delete(d1); cJSON_Delete(d2); cJSON_Delete(sch);
    }
    char dir[] = "/tmp/lbq-schema-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char sample[1024], j[512], sw[512], sim[512], syn[512], ins[512];
    snprintf(sample, sizeof sample, "%s/data/sample-late.h5", LBQ_SRC_DIR);
    snprintf(j, sizeof j, "%s/a.json", dir);
    snprintf(ins, sizeof ins, "%s/i.json", dir);
    snprintf(sw, sizeof sw, "%s/sw", dir);
    snprintf(sim, sizeof sim, "%s/sim.json", dir);
    snprintf(syn, sizeof syn, "%s/syn.json", dir);
    char *a1[] = { (char *)lbq, "analyze", sample, "--recipe", "lpmm4", "--params", "7e9", "--json", j, "-q", NULL };
    CHECK_EQ_INT(run(a1), 0);
    CHECK_EQ_INT(check_file(j, "lbq.analyze-3.json"), 0);
    char *a2[] = { (char *)lbq, "inspect", sample, "-o", ins, "-q", NULL };
    CHECK_EQ_INT(run(a2), 0);
    CHECK_EQ_INT(check_file(ins, "lbq.inspect-1.json"), 0);
    char *a3[] = { (char *)lbq, "sweep", sample, "-o", sw, "--map", "dtree,log", "--norm", "block,rank1", "--bits", "2,4", "--block", "128", "--no-plot", "-q", NULL };
    CHECK_EQ_INT(run(a3), 0);
    char swj[600];
    snprintf(swj, sizeof swj, "%s/results.json", sw);
    CHECK_EQ_INT(check_file(swj, "lbq.sweep-3.json"), 0);
    char *a4[] = { (char *)lbq, "simulate", sample, "--recipe", "bnb8", "--json", sim, "-q", NULL };
    CHECK_EQ_INT(run(a4), 0);
    CHECK_EQ_INT(check_file(sim, "lbq.simulate-2.json"), 0);
    char *a5[] = { (char *)lbq, "simulate", "--source", "synthetic", "--quant-v", "block128-uniform:b2", "--betas", "0.8:0.9:0.05", "--json", syn, "-q", NULL };
    CHECK_EQ_INT(run(a5), 0);
    CHECK_EQ_INT(check_file(syn, "lbq.simulate-2.json"), 0);
    /* simulate: the tensor bnb8 keeps in fp32 is marked, stored as fp32 and has no swamping numbers
     * (null, not 0); the quantized ones have their plan and numbers */
    {
        char *s = lbq_read_file(sim);
        cJSON *d = s ? cJSON_Parse(s) : NULL;
        free(s);
        const cJSON *it;
        int nkept = 0, nq = 0;
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(d, "params")) {
            const cJSON *sum = cJSON_GetObjectItem(it, "summary");
            const char *mp = cJSON_GetStringValue(cJSON_GetObjectItem(it, "m_plan")), *vp = cJSON_GetStringValue(cJSON_GetObjectItem(it, "v_plan"));
            CHECK(mp && vp);
            if (!mp || !vp) continue;
            if (cJSON_IsTrue(cJSON_GetObjectItem(it, "kept_fp32"))) {
                nkept++;
                CHECK(!strcmp(mp, "fp32") && !strcmp(vp, "fp32"));
                CHECK(cJSON_IsNull(cJSON_GetObjectItem(sum, "mean_swamp_v")) && cJSON_IsNull(cJSON_GetObjectItem(sum, "stuck_all_m")));
                CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(sum, "final_v_rel")) == 0.0);
            } else {
                nq++;
                CHECK(strcmp(mp, "fp32") != 0 && strcmp(vp, "fp32") != 0);
                CHECK(cJSON_IsNumber(cJSON_GetObjectItem(sum, "mean_swamp_v")) && cJSON_IsNumber(cJSON_GetObjectItem(sum, "stuck_all_m")));
            }
        }
        CHECK_EQ_INT(nkept, 1);     /* blocks.1.ln1.weight (96 elements) */
        CHECK_EQ_INT(nq, 2);
        cJSON_Delete(d);
    }
    /* --sample: the sampled documents validate, and carry the sample object and the intervals */
    {
        char sj[512], ssw[512], sswj[600];
        snprintf(sj, sizeof sj, "%s/as.json", dir);
        snprintf(ssw, sizeof ssw, "%s/sws", dir);
        snprintf(sswj, sizeof sswj, "%s/results.json", ssw);
        char *b1[] = { (char *)lbq, "analyze", sample, "--recipe", "lpmm4", "--sample", "20%", "--json", sj, "-q", NULL };
        CHECK_EQ_INT(run(b1), 0);
        CHECK_EQ_INT(check_file(sj, "lbq.analyze-3.json"), 0);
        char *b2[] = { (char *)lbq, "sweep", sample, "-o", ssw, "--map", "dtree,linear", "--norm", "block,rank1", "--bits", "2,4",
                       "--block", "128", "--sample", "0.2", "--no-plot", "--no-swamp", "-q", NULL };
        CHECK_EQ_INT(run(b2), 0);
        CHECK_EQ_INT(check_file(sswj, "lbq.sweep-3.json"), 0);
        char *s1 = lbq_read_file(sj), *s2 = lbq_read_file(sswj);
        cJSON *d1 = s1 ? cJSON_Parse(s1) : NULL, *d2 = s2 ? cJSON_Parse(s2) : NULL;
        free(s1); free(s2);
        CHECK(cJSON_IsObject(cJSON_GetObjectItem(d1, "sample")));
        CHECK(cJSON_IsObject(cJSON_GetObjectItem(cJSON_GetObjectItem(d1, "totals"), "ci")));
        CHECK(cJSON_IsObject(cJSON_GetObjectItem(d2, "sample")));
        int nsampled = 0, nexact = 0;
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(d2, "configs")) {
            int smp = cJSON_IsTrue(cJSON_GetObjectItem(c, "sampled"));
            nsampled += smp; nexact += !smp;
            CHECK(smp == cJSON_IsObject(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "totals"), "ci")));
        }
        CHECK(nexact >= 1);     /* the front, re-run exactly */
        CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(d2, "sample"), "reevaluated_exact")), nexact);
        printf("sampled sweep: %d configurations sampled, %d re-run exactly\n", nsampled, nexact);
        cJSON_Delete(d1); cJSON_Delete(d2);
    }
    /* the sweep read every tensor exactly once */
    {
        char *s = lbq_read_file(swj);
        cJSON *d = s ? cJSON_Parse(s) : NULL;
        free(s);
        const cJSON *t = cJSON_GetObjectItem(d, "timing");
        double el = cJSON_GetNumberValue(cJSON_GetObjectItem(t, "elements"));
        CHECK(el > 0);
        CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(t, "elements_read_m")) == el);
        CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(t, "elements_read_v")) == el);
        cJSON_Delete(d);
    }
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_EQ_INT(system(cmd), 0);
    return TEST_END();
}
