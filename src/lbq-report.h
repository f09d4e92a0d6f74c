/* lbq-report.h - JSON renderings of results shared by analyze and sweep (docs/schema.md). */
#ifndef LBQ_REPORT_H
#define LBQ_REPORT_H

#include "lbq-json.h"
#include "lbq-metrics.h"

/* {"m": {...}, "v": {...}, "update": {...}}; sizes may be NULL; with_hist adds the histograms */
cJSON *lbq_acc_json(const struct lbq_acc *a, const struct lbq_qsize *msz, const struct lbq_qsize *vsz, int with_hist);
cJSON *lbq_hparams_json(const struct lbq_file *f);

#endif
