/* gnuplot.h - the one gnuplot runner of lbq's figures (sweep, plot, simulate --plot, shampoo --plot).
 *
 * Rules, the same for every command (docs/cli.md "Figures and gnuplot"):
 *  - gnuplot is looked up on PATH; missing: LBQ_ERR_UNSUPPORTED (exit 2).
 *  - the scripts: $LBQ_PLOTS_DIR when set and non-empty (a directory without lbq-style.gp there is
 *    an error, never a silent fallback), else the source tree lbq was built from, else
 *    <lbq's directory>/../plots; none found, or a figure's script missing: LBQ_ERR_UNSUPPORTED.
 *  - a figure gnuplot fails to draw (non-zero exit, a signal, no or an empty PNG/PDF):
 *    LBQ_ERR_OUTPUT (exit 4), "NAME: gnuplot failed: REASON", where REASON is gnuplot's last
 *    stderr line that is not a warning; its temporary outputs are removed, its .dat stays.
 * gnuplot runs as fork + chdir(DIR) + execv with stdin/stdout on /dev/null: no shell sees a path. */
#ifndef LBQ_CLI_GNUPLOT_H
#define LBQ_CLI_GNUPLOT_H

#include <limits.h>
#include <stddef.h>

struct cli_gnuplot {
    char gp[PATH_MAX];          /* absolute path of the gnuplot executable */
    char plots[PATH_MAX];       /* absolute path of the scripts directory */
    const char *dir;            /* output directory (created by cli_gnuplot_open) */
};

/* Find gnuplot and the scripts, then create DIR with its parents.  An lbq status. */
int cli_gnuplot_open(struct cli_gnuplot *g, const char *dir);

/* One figure: write DIR/NAME.dat (atomically) as a two-line header that says how to redraw it
 * ("# lbq DESC data; ...") followed by `data`, then run plots/SCRIPT.gp on it with the -e
 * assignments datafile, outfile and `vars`, and rename its PNG and PDF over DIR/NAME.png/.pdf.
 * Returns LBQ_OK or an lbq status; *gnuplot_failed (nullable) is set to 1 when the status is the
 * LBQ_ERR_OUTPUT of a gnuplot failure (so a caller drawing several figures may go on). */
int cli_gnuplot_figure(const struct cli_gnuplot *g, const char *name, const char *script, const char *desc,
                       const char *vars, size_t nvars, const char *data, size_t ndata, int *gnuplot_failed);

/* mkdir -p: DIR and its missing parents; an lbq status (LBQ_ERR_OUTPUT naming DIR on failure). */
int lbq_mkdirs(const char *dir);
/* Texts that reach gnuplot or a data file: printable ASCII only, without the characters a shell or
 * gnuplot could give a meaning ("$\`) and without tabs; at most n-1 bytes. */
void cli_text_clean(char *dst, size_t n, const char *src);
/* Texts in messages: control characters and non-ASCII bytes replaced by '?', nothing else. */
void cli_text_clean_msg(char *dst, size_t n, const char *src);

#endif
