/* map-file.c - a user codebook read from a text file (--map-file levels.txt).
 *
 * Format: numbers separated by white space, commas or newlines; '#' starts a comment.  2 to 256
 * finite values in [-1, 1]; sorted on load.  The bitwidth is ceil(log2(count)). */
#include "lbq-quant-impl.h"

#include <errno.h>
#include <stdio.h>

static int file_build(const struct lbq_qspec *s, int bits, int is_signed, float *levels)
{
    (void)bits; (void)is_signed;
    FILE *fp = fopen(s->map_file, "r");
    if (!fp) return -lbq_err(LBQ_ERR_IO, "%s: cannot open map file: %s", s->map_file, strerror(errno));
    int n = 0, rc = LBQ_OK, c;
    char tok[64]; int tl = 0, comment = 0;
    for (;;) {
        c = fgetc(fp);
        if (c == '#') comment = 1;
        if (c == '\n') comment = 0;
        int sep = (c == EOF || c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || comment);
        if (!sep && tl < (int)sizeof tok - 1) { tok[tl++] = (char)c; continue; }
        if (tl > 0) {
            tok[tl] = 0; tl = 0;
            char *end; errno = 0;
            double v = strtod(tok, &end);
            if (*end || errno || !isfinite(v) || v < -1.0 || v > 1.0) {
                rc = lbq_err(LBQ_ERR_ARG, "%s: bad level '%s' (want a number in [-1, 1])", s->map_file, tok);
                break;
            }
            if (n == LBQ_MAX_LEVELS) { rc = lbq_err(LBQ_ERR_ARG, "%s: more than 256 levels", s->map_file); break; }
            levels[n++] = (float)v;
        }
        if (c == EOF) break;
    }
    fclose(fp);
    if (rc != LBQ_OK) return -rc;
    if (n < 2) return -lbq_err(LBQ_ERR_ARG, "%s: a map needs at least 2 levels, found %d", s->map_file, n);
    lbq_levels_sort(levels, n);
    return n;
}

const struct lbq_map lbq_map_file = {
    .name = "file", .aliases = "user",
    .help = "user codebook from --map-file (2..256 levels in [-1,1]; bits = ceil(log2 n))",
    .min_bits = 1, .max_bits = 8, .sign_ok = LBQ_SIGNED_OK | LBQ_UNSIGNED_OK,
    .build = file_build,
    .user_levels = 1,
};
