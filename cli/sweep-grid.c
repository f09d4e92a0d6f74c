/* sweep-grid.c - the grid's pairing of v-only maps with a recipe's m quantizer, and grid labels,
 * shared by `lbq sweep` and `lbq recommend` (cli/sweep-grid.h). */
#include "sweep-grid.h"
#include "cli.h"

int cli_grid_pair_m(const struct lbq_map *map, const struct lbq_qdefaults *d, struct lbq_qspec *m,
                    const struct lbq_recipe **recipe)
{
    for (int r = 0; r < lbq_recipe_count(); r++) {
        const struct lbq_recipe *rp = lbq_recipe_at(r);
        struct lbq_qspec vs, ms;
        struct lbq_qplan tp;
        if (!rp || !rp->m_spec || !rp->v_spec) continue;
        if (!lbq_qspec_supported(rp->v_spec, d, &vs) || vs.map != map) continue;
        if (!lbq_qspec_supported(rp->m_spec, d, &ms) || !lbq_qplan_supported(&tp, &ms, LBQ_ROLE_M, 2)) continue;
        *m = ms;
        *recipe = rp;
        return 1;
    }
    return 0;
}

void cli_grid_label(char *buf, size_t n, const struct lbq_qspec *m, int has_m, const struct lbq_qspec *v, int has_v)
{
    const char *ms = has_m ? m->text : "fp32", *vs = has_v ? v->text : "fp32";
    if (strcmp(ms, vs) == 0) snprintf(buf, n, "%s", ms);
    else snprintf(buf, n, "%s/%s", ms, vs);
}
