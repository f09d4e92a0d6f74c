/* torchmap.c - the peers' codebook constructors in fp32, as PyTorch 1.13 computes them on the CPU.
 *
 * torch.linspace(start, end, steps), float32 (ATen RangeFactoriesKernel, read to learn its
 * arithmetic): step = (end - start) / (steps - 1) in float; element i is
 *   start + i*step            for i <  steps/2,
 *   end - (steps-1-i)*step    for i >= steps/2.
 * The output is written by a vectorized loop in chunks of two vectors (8 lanes each for the AVX2
 * and DEFAULT kernels, 16 for AVX-512) and the tail (fewer than two vectors) element by element.
 * A vector starting at element j holds base + k*step, k = 0..lanes-1 (a product and a sum, each
 * rounded), with base = the value of element j by the rule above.  In the AVX2 and AVX-512 kernels
 * that rule (for base and for every element of the tail) is one fused multiply-add, rounded once;
 * in the DEFAULT kernel it rounds twice.  Lane counts and fused rounding are the only differences
 * between capabilities, and they move the last bit of some levels (docs/quantizers.md).  Checked
 * against torch for every map, bitwidth 1-8, sign and capability (tests/test-codebooks.c).
 *
 * Elementwise ops the constructors apply afterwards are exact fp32 operations, identical on every
 * kernel: (a + b) / 2, a * s (s = the Python scalar rounded to float), -a, sign(a) * (|a| * |a|)
 * (torch.pow with exponent 2 is a square). */
#include "lbq-quant-impl.h"
#include "torchmap.h"

#include <stdio.h>

/* a + b*c rounded once (fma) or twice */
static float mad(float a, float b, float c, int fused) { return fused ? fmaf(b, c, a) : a + b * c; }

static float linspace_elem(float start, float end, float step, int steps, int i, int fused)
{
    if (i < steps / 2) return mad(start, step, (float)i, fused);
    return mad(end, -step, (float)(steps - 1 - i), fused);
}

void lbq_torch_linspace(float start, float end, int steps, int cpu, float *out)
{
    if (steps <= 0) return;
    if (steps == 1) { out[0] = start; return; }
    const int fused = cpu != LBQ_CPU_DEFAULT;
    const int lanes = (cpu == LBQ_CPU_AVX512) ? 16 : 8;
    const float step = (end - start) / (float)(steps - 1);
    int i = 0;
    for (; i + 2 * lanes <= steps; i += lanes) {        /* two vectors per chunk: lane groups */
        float base = linspace_elem(start, end, step, steps, i, fused);
        for (int k = 0; k < lanes; k++) out[i + k] = base + (float)k * step;
        i += lanes;
        base = linspace_elem(start, end, step, steps, i, fused);
        for (int k = 0; k < lanes; k++) out[i + k] = base + (float)k * step;
    }
    for (; i < steps; i++) out[i] = linspace_elem(start, end, step, steps, i, fused);
}

int lbq_torch_dynamic_map(int bits, int is_signed, int cpu, float *levels)
{
    if (bits == 1) {            /* lpmm: a 1-bit map is {-1, 1} signed, {0, 1} unsigned */
        levels[0] = is_signed ? -1.0f : 0.0f; levels[1] = 1.0f;
        return 2;
    }
    /* lpmm calls create_dynamic_map(signed, E = bits-1, bits) signed and (False, bits-1, bits-1)
     * unsigned: no "additional items".  Decade i = 0..E-1 holds the midpoints of
     * linspace(0.1, 1, n_i + 1), n_i = 2^i (signed) or 2^(i+1), times 10^(i-E+1). */
    const int E = bits - 1;
    int n = 0;
    float b[257];
    for (int i = 0; i < E; i++) {
        int ni = is_signed ? (1 << i) : (1 << (i + 1));
        lbq_torch_linspace(0.1f, 1.0f, ni + 1, cpu, b);
        int e = i - (E - 1);    /* Python 10 ** e: an int (1) for e = 0, else the double pow(10, e) */
        float s = (e == 0) ? 1.0f : (float)pow(10.0, (double)e);
        for (int j = 0; j < ni; j++) {
            float mean = (b[j] + b[j + 1]) / 2.0f;
            levels[n++] = s * mean;
        }
        if (is_signed)
            for (int j = 0; j < ni; j++) levels[n++] = (-s) * ((b[j] + b[j + 1]) / 2.0f);
    }
    levels[n++] = 0.0f;
    levels[n++] = 1.0f;
    lbq_levels_sort(levels, n);
    return n;
}

int lbq_torch_pow_map(int bits, int is_signed, int p, int cpu, float *levels)
{
    if (bits == 1) {
        levels[0] = is_signed ? -1.0f : 0.0f; levels[1] = 1.0f;
        return 2;
    }
    const int n = 1 << bits;
    if (is_signed) lbq_torch_linspace(-1.0f, 1.0f, n, cpu, levels);     /* no zero level */
    else {
        float t[257];
        lbq_torch_linspace(0.0f, 1.0f, n + 1, cpu, t);                    /* zero dropped */
        for (int i = 0; i < n; i++) levels[i] = t[i + 1];
    }
    if (p == 2)
        for (int i = 0; i < n; i++) {
            float a = lbq_absf(levels[i]), sq = a * a;
            levels[i] = (levels[i] < 0.0f) ? -sq : (levels[i] > 0.0f) ? sq : 0.0f;
        }
    return n;
}

int lbq_torch_linear2_map(int bits, int is_signed, int cpu, float *levels)
{
    const int n = 1 << bits;
    if (is_signed) {
        lbq_torch_linspace(-1.0f, 1.0f, n, cpu, levels);
        levels[(1 << (bits - 1)) - 1] = 0.0f;       /* the zero code */
    } else lbq_torch_linspace(0.0f, 1.0f, n, cpu, levels);
    for (int i = 0; i < n; i++) {
        float a = lbq_absf(levels[i]), sq = a * a;
        levels[i] = (levels[i] < 0.0f) ? -sq : (levels[i] > 0.0f) ? sq : 0.0f;
    }
    lbq_levels_sort(levels, n);     /* already ascending except at 1 bit ({0, 1}) */
    return n;
}
