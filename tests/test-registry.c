/* test-registry.c - the capability-slot contract of every registered map and normalization
 * (include/lbq.h; docs/adding-a-quantizer.md): the layers above quantizers/ decide by these slots
 * alone, so a new entry that sets them inconsistently fails here, before any caller misbehaves.
 *  - map kind: LBQ_MAP_TABLE exactly when build() is set; log and fp8 kinds have qdq();
 *  - user_levels maps are table maps and not sweepable; lbq_map_fixed_table excludes them;
 *  - a `line` is 1..8 and unique; a sweepable map with a line has a label;
 *  - the swamping study's orders are 1..n without gaps or repeats, each with a label;
 *  - normalization kinds are distinct; blockwise norms are of kind block and have an abbrev;
 *  - a fallback is a registered normalization that needs no fallback itself (min_rank <= 1), with
 *    a block size exactly when it is blockwise;
 *  - scale_dims only on non-blockwise norms; every norm has a label;
 *  - lbq_qspec_supported / lbq_qplan_supported agree with parse / plan_init and leave no message.
 * Built twice: as test-registry, and as xq-test-registry with the map of tests/extra-quantizer. */
#include "lbq-test.h"
#include "lbq.h"

#include <string.h>

int main(void)
{
    int lines[16] = { 0 }, orders[64] = { 0 }, maxord = 0;
#ifdef LBQ_EXPECT_MAPS
    /* the tests/extra-quantizer build (xq-test-registry): the extra registry line took effect */
    CHECK_EQ_INT(lbq_map_count(), LBQ_EXPECT_MAPS);
#endif
    for (int i = 0; i < lbq_map_count(); i++) {
        const struct lbq_map *m = lbq_map_at(i);
        CHECK_MSG((m->kind == LBQ_MAP_TABLE) == (m->build != NULL), "map %s: kind %d, build %s", m->name, m->kind, m->build ? "set" : "NULL");
        if (m->kind != LBQ_MAP_TABLE) CHECK_MSG(m->qdq != NULL, "map %s: kind %d without qdq", m->name, m->kind);
        CHECK_MSG(m->kind >= LBQ_MAP_TABLE && m->kind <= LBQ_MAP_FP8_E5M2, "map %s: kind %d", m->name, m->kind);
        if (m->user_levels) {
            CHECK_MSG(m->kind == LBQ_MAP_TABLE && !m->sweepable && !lbq_map_fixed_table(m), "map %s: user levels", m->name);
        } else {
            CHECK_MSG(m->sweepable, "map %s: not sweepable without a reason (user levels)", m->name);
        }
        CHECK_MSG(m->line >= 0 && m->line <= 8, "map %s: line %d", m->name, m->line);
        if (m->line > 0) {
            CHECK_MSG(lines[m->line]++ == 0, "map %s: line %d used twice", m->name, m->line);
            CHECK_MSG(m->label && *m->label, "map %s: a line but no label", m->name);
        }
        if (m->swamp.order) {
            CHECK_MSG(m->swamp.order > 0 && m->swamp.order < 64 && orders[m->swamp.order]++ == 0, "map %s: swamp order %d", m->name, m->swamp.order);
            CHECK_MSG(m->swamp.label && *m->swamp.label, "map %s: swamp without a label", m->name);
            if (m->swamp.order > maxord) maxord = m->swamp.order;
        }
    }
    for (int k = 1; k <= maxord; k++) CHECK_MSG(orders[k] == 1, "swamp order %d: %d maps", k, orders[k]);
    int kinds[16] = { 0 };
    for (int i = 0; i < lbq_norm_count(); i++) {
        const struct lbq_norm *n = lbq_norm_at(i);
        CHECK_MSG(n->kind >= 0 && n->kind < 16 && kinds[n->kind]++ == 0, "norm %s: kind %d repeated", n->name, n->kind);
        CHECK_MSG(n->label && *n->label, "norm %s: no label", n->name);
        if (n->blockwise) CHECK_MSG(n->kind == LBQ_NORM_BLOCK && n->abbrev && *n->abbrev && n->scale_dims == 0, "norm %s: blockwise slots", n->name);
        if (n->fallback) {
            int reg = 0;
            for (int j = 0; j < lbq_norm_count(); j++) reg |= lbq_norm_at(j) == n->fallback;
            CHECK_MSG(reg, "norm %s: fallback not registered", n->name);
            CHECK_MSG(n->fallback->min_rank <= 1, "norm %s: fallback %s needs a fallback itself", n->name, n->fallback->name);
            CHECK_MSG((n->fallback_block > 0) == (n->fallback->blockwise != 0), "norm %s: fallback block %lld", n->name, (long long)n->fallback_block);
        } else {
            CHECK_MSG(n->min_rank <= 1, "norm %s: min_rank %d without a fallback", n->name, n->min_rank);
        }
    }
    /* probes: same verdict as parse / plan_init, and no error detail left behind */
    for (int i = 0; i < lbq_map_count(); i++)
        for (int j = 0; j < lbq_norm_count(); j++) {
            if (lbq_map_at(i)->user_levels) continue;
            char text[96];
            snprintf(text, sizeof text, "%s-%s", lbq_norm_at(j)->name, lbq_map_at(i)->name);
            struct lbq_qspec a, b;
            int ok = lbq_qspec_parse(text, NULL, &a) == LBQ_OK;
            CHECK_MSG(lbq_qspec_supported(text, NULL, &b) == ok, "%s: probe disagrees with parse", text);
            CHECK_MSG(lbq_errmsg()[0] == 0, "%s: probe left '%s'", text, lbq_errmsg());
            if (!ok) continue;
            for (int role = 0; role < 2; role++) {
                struct lbq_qplan p1, p2;
                int pok = lbq_qplan_init(&p1, &a, (enum lbq_role)role, 2) == LBQ_OK;
                CHECK_MSG(lbq_qplan_supported(&p2, &a, (enum lbq_role)role, 2) == pok, "%s role %d: plan probe disagrees", text, role);
                CHECK_MSG(lbq_errmsg()[0] == 0, "%s: plan probe left '%s'", text, lbq_errmsg());
            }
        }
    /* the rank-1 fallback is a value: block with 128, whatever the spec's block */
    struct lbq_qspec s;
    struct lbq_qdefaults d;
    lbq_qdefaults_init(&d);
    d.block = 32;
    CHECK_OK(lbq_qspec_parse("rank1-linear", &d, &s));
    struct lbq_qplan p;
    CHECK_OK(lbq_qplan_init(&p, &s, LBQ_ROLE_V, 1));
    CHECK(p.norm->kind == LBQ_NORM_BLOCK && p.block == 128);
    return TEST_END();
}
