/* plan.h - plan files (schema lbq.plan/1, docs/schema.md) written by `lbq recommend -o` and read by
 * `lbq analyze --plan`: per tensor, the m and v quantizer specs (or "fp32"). */
#ifndef LBQ_CLI_PLAN_H
#define LBQ_CLI_PLAN_H

#include "lbq.h"
#include "lbq-metrics.h"

struct cli_plan_entry { char name[LBQ_NAME_MAX]; int64_t numel; char m[128], v[128]; };
struct cli_plan { char path[1024]; int n; struct cli_plan_entry *e; };

/* Load and validate a plan: LBQ_ERR_IO (unreadable), LBQ_ERR_FORMAT (not an lbq.plan/1 document,
 * a bad entry, a spec that does not parse), each with a message naming the file. */
int  cli_plan_load(const char *path, struct cli_plan **out);
void cli_plan_free(struct cli_plan *p);
/* Every tensor of f must be in the plan with the same numel, and (all_tensors) every plan tensor
 * in f: LBQ_ERR_FORMAT naming the tensor otherwise. */
int  cli_plan_check(const struct cli_plan *p, const struct lbq_file *f, int all_tensors);
/* The configuration of tensor `name` (quantize_all, no recipe). */
int  cli_plan_config(const struct cli_plan *p, const char *name, struct lbq_config *conf);

#endif
