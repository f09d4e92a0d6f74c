/* json.c - writing results JSON atomically, and NaN-safe numbers. */
#include "lbq-impl.h"
#include "lbq-json.h"

#include <errno.h>
#include <sys/stat.h>
#include <stdio.h>
#include <unistd.h>

cJSON *lbq_json_num(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

void lbq_json_add_num(cJSON *obj, const char *key, double v)
{
    cJSON_AddItemToObject(obj, key, lbq_json_num(v));
}

int lbq_write_atomic(const char *path, const char *data, size_t len)
{
    if (strcmp(path, "-") == 0) {
        if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0)
            return lbq_err(LBQ_ERR_OUTPUT, "stdout: write failed");
        return LBQ_OK;
    }
    int rc = LBQ_OK;
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))      /* never rename over a device or a directory */
        return lbq_err(LBQ_ERR_OUTPUT, "%s: exists and is not a regular file", path);
    char *tmp = malloc(strlen(path) + 32);
    FILE *fp = NULL;
    if (!tmp) return lbq_err(LBQ_ERR_NOMEM, "out of memory");
    sprintf(tmp, "%s.tmp-%ld", path, (long)getpid());
    fp = fopen(tmp, "wb");
    if (!fp) { rc = lbq_err(LBQ_ERR_OUTPUT, "%s: cannot write: %s", path, strerror(errno)); goto cleanup; }
    if (fwrite(data, 1, len, fp) != len) { rc = lbq_err(LBQ_ERR_OUTPUT, "%s: write failed: %s", path, strerror(errno)); goto cleanup; }
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) { rc = lbq_err(LBQ_ERR_OUTPUT, "%s: write failed: %s", path, strerror(errno)); goto cleanup; }
    if (fclose(fp) != 0) { fp = NULL; rc = lbq_err(LBQ_ERR_OUTPUT, "%s: write failed: %s", path, strerror(errno)); goto cleanup; }
    fp = NULL;
    if (rename(tmp, path) != 0) { rc = lbq_err(LBQ_ERR_OUTPUT, "%s: cannot rename into place: %s", path, strerror(errno)); goto cleanup; }
    free(tmp);
    return LBQ_OK;
cleanup:
    if (fp) fclose(fp);
    unlink(tmp);
    free(tmp);
    return rc;
}

char *lbq_read_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    char *s = NULL;
    long n = -1;
    if (fseek(fp, 0, SEEK_END) == 0) n = ftell(fp);
    if (n >= 0 && n < (1L << 30) && fseek(fp, 0, SEEK_SET) == 0) s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, fp) != (size_t)n) { free(s); s = NULL; }
    if (s) s[n] = 0;
    fclose(fp);
    return s;
}

int lbq_json_write(const char *path, const cJSON *root)
{
    char *s = cJSON_Print(root);
    if (!s) return lbq_err(LBQ_ERR_NOMEM, "out of memory printing JSON");
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (!t) { free(s); return lbq_err(LBQ_ERR_NOMEM, "out of memory"); }
    t[n] = '\n'; t[n + 1] = 0;
    int rc = lbq_write_atomic(path, t, n + 1);
    free(t);
    return rc;
}
