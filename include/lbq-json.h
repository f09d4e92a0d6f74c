/* lbq-json.h - JSON output helpers (cJSON).  Results carry {"schema": "lbq.<kind>", "schema_version": N};
 * schemas are documented in docs/schema.md.  Non-finite numbers are written as null. */
#ifndef LBQ_JSON_H
#define LBQ_JSON_H

#include <cJSON.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

cJSON *lbq_json_num(double v);
void   lbq_json_add_num(cJSON *obj, const char *key, double v);
/* Write data to path through a temporary name and rename ("-" = stdout). */
int    lbq_write_atomic(const char *path, const char *data, size_t len);
/* Read a whole (text) file, NUL-terminated; NULL if it cannot be read.  Caller frees. */
char  *lbq_read_file(const char *path);
/* Pretty-print root and write it atomically. */
int    lbq_json_write(const char *path, const cJSON *root);

#ifdef __cplusplus
}
#endif
#endif
