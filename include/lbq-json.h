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
/* Write data to path through a temporary name and rename ("-" = stdout).  The output rules of
 * src/json.c: a directory or an input of this process is refused (LBQ_ERR_OUTPUT); an existing
 * device or FIFO is written in place; a symlink's target is replaced, never the link. */
int    lbq_write_atomic(const char *path, const char *data, size_t len);

/* Output paths (src/json.c; used by lbq_write_atomic and the HDF5 writer):
 *   lbq_input_register(P)    P (stat: device and inode) is an input of this process; lbq_file_open
 *                            registers every moment file it opens
 *   lbq_output_not_input(P)  LBQ_OK, or LBQ_ERR_OUTPUT when P resolves to a registered input
 *   lbq_same_file(A, B)      1 when A and B are the same path or the same file (device and inode)
 *   lbq_output_target(P)     P with its final symlinks followed (malloc'd; NULL: out of memory)
 *   lbq_tmp_name(T)          "T.tmp-<pid>" (malloc'd)
 *   lbq_tmp_add/remove(TMP)  register a temporary file while it may exist (at most 16 at once)
 *   lbq_tmp_unlink_all()     unlink every registered one: async-signal-safe, for signal handlers */
/* Names (docs/format.md, "Parameter names"): escape `in` into out[cap] (NUL-terminated, cut at a
 * whole character or escape when it does not fit); returns the length the whole escaped text needs.
 *   LBQ_ESC_NAME  parameter names as lbq shows them everywhere (JSON, TSV, tables, messages): a
 *                 byte that is not valid UTF-8 and a control byte become \xHH; tab, newline and
 *                 CR \t \n \r; a backslash \\.  lbq_file_open applies it to every name.
 *   LBQ_ESC_UTF8  only the bytes that are not valid UTF-8 become \xHH
 *   LBQ_ESC_JSON  as LBQ_ESC_UTF8 inside printed JSON text (the backslash itself escaped: \\xHH) */
enum { LBQ_ESC_NAME = 0, LBQ_ESC_UTF8 = 1, LBQ_ESC_JSON = 2 };
size_t lbq_name_escape(const char *in, char *out, size_t cap, int mode);
void   lbq_input_register(const char *path);
int    lbq_output_not_input(const char *path);
int    lbq_same_file(const char *a, const char *b);
char  *lbq_output_target(const char *path);
char  *lbq_tmp_name(const char *target);
void   lbq_tmp_add(const char *tmp);
void   lbq_tmp_remove(const char *tmp);
void   lbq_tmp_unlink_all(void);
/* Read a whole (text) file, NUL-terminated; NULL if it cannot be read.  Caller frees. */
char  *lbq_read_file(const char *path);
/* A file written as a stream, with the rules of lbq_write_atomic (no "-"): open, put any number of
 * times (the first failure sticks), then commit (rename into place) or abort; both free it.
 * lbq_wstream_put_json escapes bytes that are not UTF-8 as lbq_json_write does. */
struct lbq_wstream;
int    lbq_wstream_open(const char *path, struct lbq_wstream **out);
void   lbq_wstream_put(struct lbq_wstream *w, const char *data, size_t len);
void   lbq_wstream_put_json(struct lbq_wstream *w, const char *text);
int    lbq_wstream_commit(struct lbq_wstream *w);
void   lbq_wstream_abort(struct lbq_wstream *w);
/* Pretty-print root and write it atomically. */
int    lbq_json_write(const char *path, const cJSON *root);

#ifdef __cplusplus
}
#endif
#endif
