/* plot.c - placeholder until the plotting module lands: reports that figures are unavailable. */
#include "plot.h"
#include "lbq.h"

int lbq_plot_sweep(const cJSON *results, const char *dir, int quiet)
{
    (void)results; (void)dir; (void)quiet;
    return lbq_err(LBQ_ERR_UNSUPPORTED, "figures are not available in this build yet (use --no-plot)");
}

int lbq_plot_simulate(const cJSON *results, const char *dir, int quiet)
{
    (void)results; (void)dir; (void)quiet;
    return lbq_err(LBQ_ERR_UNSUPPORTED, "figures are not available in this build yet");
}
