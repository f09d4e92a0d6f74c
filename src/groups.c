/* groups.c - the role group of a tensor (embedding, attention, MLP, norm, bias, convolution, output
 * head, other) from its name and shape, by the rule documented in docs/metrics.md ("Groups"), and
 * user rules `--group REGEX=NAME` tried first. */
#include "lbq-impl.h"
#include "lbq-analysis.h"

#include <ctype.h>
#include <regex.h>

static const char *const builtin_names[LBQ_GROUP_NBUILTIN] = {
    "embedding", "attention", "mlp", "norm", "bias", "conv", "head", "other" };

/* The built-in rule, tried in this order on the name (POSIX extended, case-insensitive); a
 * component is a run between '.' or '/'.  min_rank/max_rank: the shape condition (0: none). */
static const struct { const char *re; int group, min_rank, max_rank; } builtin_rules[] = {
    /* a normalization layer's weight or bias: a component containing "norm", or ln, ln_f, ln1,
     * bn1, gn, ... */
    { "(^|[./])([a-z0-9_]*norm[a-z0-9_]*|(ln|bn|gn)(_?[0-9a-z])?[0-9]*)[./]", LBQ_GROUP_NORM, 0, 0 },
    /* any other bias vector */
    { "(^|[./_])bias$", LBQ_GROUP_BIAS, 0, 1 },
    /* a 1-D scale that is not a bias is a normalization's (BatchNorm in a Sequential: "downsample.1.weight") */
    { "(^|[./])(weight|scale|gamma)$", LBQ_GROUP_NORM, 1, 1 },
    { "(^|[./_])(wte|wpe|emb|embed|embeds|embedding|embeddings|tok_embeddings|pos_embed|pos_embedding|position_embeddings|word_embeddings|token_embedding)([./_]|$)", LBQ_GROUP_EMBEDDING, 0, 0 },
    { "(^|[./])(lm_head|head|classifier|output_layer)[./]|^(fc|out|output|logits)\\.[a-z_]+$", LBQ_GROUP_HEAD, 0, 0 },
    { "", LBQ_GROUP_CONV, 3, 0 },     /* any tensor of rank >= 3 (a convolution kernel) */
    { "(^|[./_])conv[a-z0-9_]*[./]", LBQ_GROUP_CONV, 2, 0 },
    { "(^|[./_])(attn|attention|self_attn|self_attention|cross_attn|c_attn|qkv|q_proj|k_proj|v_proj|o_proj|out_proj|query|key|value|wq|wk|wv|wo)([./_]|$)", LBQ_GROUP_ATTENTION, 0, 0 },
    { "(^|[./_])(mlp|ffn|ff|feed_forward|feedforward|fc[0-9]*|c_fc|c_proj|up_proj|down_proj|gate_proj|intermediate|w[123])([./_]|$)", LBQ_GROUP_MLP, 0, 0 },
};
#define NBUILTIN_RULES ((int)(sizeof builtin_rules / sizeof builtin_rules[0]))

struct lbq_groups {
    int     ngroups;
    char    names[LBQ_GROUPS_MAX][40];
    int     nrules;
    regex_t re[LBQ_GROUPS_MAX];
    int     group[LBQ_GROUPS_MAX];
    regex_t bre[NBUILTIN_RULES];
    int     bre_ok[NBUILTIN_RULES];
};

int lbq_groups_new(struct lbq_groups **out)
{
    *out = NULL;
    struct lbq_groups *g = calloc(1, sizeof *g);
    if (!g) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    for (int i = 0; i < LBQ_GROUP_NBUILTIN; i++) snprintf(g->names[i], sizeof g->names[i], "%s", builtin_names[i]);
    g->ngroups = LBQ_GROUP_NBUILTIN;
    for (int i = 0; i < NBUILTIN_RULES; i++) {
        if (!builtin_rules[i].re[0]) continue;
        if (regcomp(&g->bre[i], builtin_rules[i].re, REG_EXTENDED | REG_ICASE | REG_NOSUB) != 0) {
            lbq_groups_free(g);
            return lbq_err(LBQ_ERR_ARG, "internal: built-in group rule %d does not compile", i);
        }
        g->bre_ok[i] = 1;
    }
    *out = g;
    return LBQ_OK;
}

int lbq_groups_add_rule(struct lbq_groups *g, const char *spec)
{
    const char *eq = strrchr(spec, '=');
    if (!eq || eq == spec || !eq[1])
        return lbq_err(LBQ_ERR_ARG, "--group '%s': expected REGEX=NAME", spec);
    const char *name = eq + 1;
    size_t nl = strlen(name);
    if (nl > 32) return lbq_err(LBQ_ERR_ARG, "--group '%s': group name longer than 32 characters", spec);
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
            return lbq_err(LBQ_ERR_ARG, "--group '%s': group name '%s' may only have letters, digits, '_', '-' and '.'", spec, name);
    if (g->nrules >= LBQ_GROUPS_MAX) return lbq_err(LBQ_ERR_ARG, "--group: at most %d rules", LBQ_GROUPS_MAX);
    char *re = malloc((size_t)(eq - spec) + 1);
    if (!re) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    memcpy(re, spec, (size_t)(eq - spec));
    re[eq - spec] = 0;
    int e = regcomp(&g->re[g->nrules], re, REG_EXTENDED | REG_NOSUB);
    if (e != 0) {
        char msg[200];
        regerror(e, &g->re[g->nrules], msg, sizeof msg);
        int rc = lbq_err(LBQ_ERR_ARG, "--group '%s': bad regular expression '%s': %s", spec, re, msg);
        free(re);
        return rc;
    }
    free(re);
    int gi = -1;
    for (int i = 0; i < g->ngroups; i++) if (strcmp(g->names[i], name) == 0) gi = i;
    if (gi < 0) {
        if (g->ngroups >= LBQ_GROUPS_MAX) {
            regfree(&g->re[g->nrules]);
            return lbq_err(LBQ_ERR_ARG, "--group '%s': at most %d groups", spec, LBQ_GROUPS_MAX);
        }
        gi = g->ngroups++;
        snprintf(g->names[gi], sizeof g->names[gi], "%s", name);
    }
    g->group[g->nrules++] = gi;
    return LBQ_OK;
}

int lbq_groups_classify(const struct lbq_groups *g, const char *name, const struct lbq_shape *shape)
{
    for (int i = 0; i < g->nrules; i++)
        if (regexec(&g->re[i], name, 0, NULL, 0) == 0) return g->group[i];
    int rank = shape ? shape->rank : 0;
    for (int i = 0; i < NBUILTIN_RULES; i++) {
        if (builtin_rules[i].min_rank && rank < builtin_rules[i].min_rank) continue;
        if (builtin_rules[i].max_rank && rank > builtin_rules[i].max_rank) continue;
        if (g->bre_ok[i] && regexec(&g->bre[i], name, 0, NULL, 0) != 0) continue;
        return builtin_rules[i].group;
    }
    return LBQ_GROUP_OTHER;
}

int lbq_groups_count(const struct lbq_groups *g) { return g->ngroups; }
const char *lbq_groups_name(const struct lbq_groups *g, int i) { return i >= 0 && i < g->ngroups ? g->names[i] : "?"; }

void lbq_groups_free(struct lbq_groups *g)
{
    if (!g) return;
    for (int i = 0; i < g->nrules; i++) regfree(&g->re[i]);
    for (int i = 0; i < NBUILTIN_RULES; i++) if (g->bre_ok[i]) regfree(&g->bre[i]);
    free(g);
}
