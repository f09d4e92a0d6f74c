/* torchmap.h - the peers' codebook constructors reproduced in fp32 arithmetic, operation for
 * operation as PyTorch 1.13's CPU kernels execute them (torchmap.c).  The peers build their
 * codebooks with torch.linspace and elementwise tensor ops on the CPU; the last bit of a level
 * depends on which ATen CPU kernel ran (docs/quantizers.md, "Codebooks to the last bit"). */
#ifndef LBQ_TORCHMAP_H
#define LBQ_TORCHMAP_H

#include "lbq.h"     /* enum lbq_cpu, lbq_cpu_name */

/* torch.linspace(start, end, steps) in float32 under capability `cpu`; out[steps]. */
void lbq_torch_linspace(float start, float end, int steps, int cpu, float *out);

/* lpmm create_general_qmap / 4-bit Shampoo create_linear_map, sorted ascending; return the count.
 *   dynamic:  lpmm 'nonlinear' (= bitsandbytes/torchao create_dynamic_map at 4 and 8 bits)
 *   pow:      lpmm 'power-p' (p = 1 or 2)
 *   linear2:  4-bit Shampoo 'linear-2' (create_linear_map(signed, bits, 2)) */
int lbq_torch_dynamic_map(int bits, int is_signed, int cpu, float *levels);
int lbq_torch_pow_map(int bits, int is_signed, int p, int cpu, float *levels);
int lbq_torch_linear2_map(int bits, int is_signed, int cpu, float *levels);

#endif
