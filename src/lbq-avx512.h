/* lbq-avx512.h - AVX-512 building blocks of the log map's CPU loop (src/simd.c): lbq_log2f in 16
 * lanes and Philox4x32-10 in 64-bit lanes.  Compiled for AVX-512 F by attribute (the rest of lbq is
 * not) and called only after lbq_simd_level() has seen AVX-512 F on the CPU (level 3).  The same
 * IEEE single operations per lane as quantizers/qcore.h, no FMA (the build's -ffp-contract=off
 * keeps every product and sum separately rounded), so every lane has the scalar function's bits. */
#ifndef LBQ_AVX512_H
#define LBQ_AVX512_H

#include "lbq-avx2.h"

#if LBQ_HAVE_AVX2_CODE
#  define LBQ_AVX512 __attribute__((target("avx512f")))
#  define LBQ_AVX512_INLINE __attribute__((target("avx512f"), always_inline)) static inline

/* lbq_log2f for 4 x 16 lanes of positive finite x, stage by stage (lbq_log2f8x4 with masks).  For a
 * positive x the exponent field is u >> 23 (no sign bit), as the scalar (u >> 23) & 0xff. */
LBQ_AVX512_INLINE void lbq_log2f16x4(__m512 *v)
{
    const __m512 tiny = _mm512_set1_ps(1.17549435e-38f), one = _mm512_set1_ps(1.0f);
    __m512 m[4], t[4], t2[4], p[4];
    __m512i e[4];
    LBQ_X4 {
        __mmask16 sub = _mm512_cmp_ps_mask(v[j], tiny, _CMP_LT_OQ);
        __m512 x = _mm512_mask_mul_ps(v[j], sub, v[j], _mm512_set1_ps(8388608.0f));
        __m512i u = _mm512_castps_si512(x);
        e[j] = _mm512_sub_epi32(_mm512_srli_epi32(u, 23), _mm512_set1_epi32(127));
        e[j] = _mm512_mask_sub_epi32(e[j], sub, e[j], _mm512_set1_epi32(23));
        m[j] = _mm512_castsi512_ps(_mm512_ternarylogic_epi32(u, _mm512_set1_epi32(0x007fffff),
                                                             _mm512_set1_epi32(0x3f800000), 0xea)); /* (u & a) | b */
        __mmask16 big = _mm512_cmp_ps_mask(m[j], _mm512_set1_ps(1.41421356f), _CMP_GT_OQ);
        m[j] = _mm512_mask_mul_ps(m[j], big, m[j], _mm512_set1_ps(0.5f));
        e[j] = _mm512_mask_add_epi32(e[j], big, e[j], _mm512_set1_epi32(1));
    }
    LBQ_X4 t[j] = _mm512_div_ps(_mm512_sub_ps(m[j], one), _mm512_add_ps(m[j], one));
    LBQ_X4 { t2[j] = _mm512_mul_ps(t[j], t[j]); p[j] = _mm512_set1_ps(1.0f / 13.0f); }
    LBQ_X4 p[j] = _mm512_add_ps(_mm512_mul_ps(p[j], t2[j]), _mm512_set1_ps(1.0f / 11.0f));
    LBQ_X4 p[j] = _mm512_add_ps(_mm512_mul_ps(p[j], t2[j]), _mm512_set1_ps(1.0f / 9.0f));
    LBQ_X4 p[j] = _mm512_add_ps(_mm512_mul_ps(p[j], t2[j]), _mm512_set1_ps(1.0f / 7.0f));
    LBQ_X4 p[j] = _mm512_add_ps(_mm512_mul_ps(p[j], t2[j]), _mm512_set1_ps(1.0f / 5.0f));
    LBQ_X4 p[j] = _mm512_add_ps(_mm512_mul_ps(p[j], t2[j]), _mm512_set1_ps(1.0f / 3.0f));
    LBQ_X4 p[j] = _mm512_add_ps(_mm512_mul_ps(p[j], t2[j]), one);
    LBQ_X4 {
        __m512 lnm = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(2.0f), t[j]), p[j]);
        v[j] = _mm512_add_ps(_mm512_cvtepi32_ps(e[j]), _mm512_mul_ps(lnm, _mm512_set1_ps(1.44269504088896341f)));
    }
}

/* Philox4x32-10 (lbq_philox_uniform) for the 32 indices base .. base + 31 (no 2^32 crossing; R from
 * lbq_philox_run_init with base >> 32), as 2 x 16 uniform floats.  Each counter word lives in the low
 * half of a 64-bit lane: vpmuludq gives the whole 32x32 -> 64 product of the low halves, its high
 * word is a shift, its low word is the product itself (the high half of a lane is never read by a
 * product or by the final vpmovqd, so the bits it carries through the XORs do not matter); the
 * three-way XORs are one vpternlogd each.  Four chains of 8 indices, stage by stage. */
LBQ_AVX512_INLINE void lbq_philox_uniform16x2(const struct lbq_philox_run *R, uint64_t base, __m512 *u)
{
    const __m512i m0 = _mm512_set1_epi32((int32_t)0xD2511F53u), m1 = _mm512_set1_epi32((int32_t)0xCD9E8D57u);
    __m512i c0[4], c1[4], c2[4], c3[4];
    LBQ_X4 {    /* round 1: c0, c1 are the constants r1c0, r1c1 */
        __m512i ci = _mm512_add_epi64(_mm512_set1_epi64((int64_t)((uint32_t)base + 8u * (uint32_t)j)),
                                      _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7));
        __m512i p0 = _mm512_mul_epu32(ci, m0);
        c2[j] = _mm512_xor_si512(_mm512_srli_epi64(p0, 32), _mm512_set1_epi32((int32_t)(0x6c62710au ^ R->k1[0])));
        c3[j] = p0;
    }
    LBQ_X4 {    /* round 2: M0 c0 is the constant r2hi:r2c3 */
        __m512i p1 = _mm512_mul_epu32(c2[j], m1);
        c0[j] = _mm512_xor_si512(_mm512_srli_epi64(p1, 32), _mm512_set1_epi32((int32_t)(R->r1c1 ^ R->k0[1])));
        c2[j] = _mm512_xor_si512(c3[j], _mm512_set1_epi32((int32_t)(R->r2hi ^ R->k1[1])));
        c1[j] = p1;
        c3[j] = _mm512_set1_epi32((int32_t)R->r2c3);
    }
    for (int r = 2; r < 8; r++) {
        const __m512i k0 = _mm512_set1_epi32((int32_t)R->k0[r]), k1 = _mm512_set1_epi32((int32_t)R->k1[r]);
        LBQ_X4 {
            __m512i p0 = _mm512_mul_epu32(c0[j], m0), p1 = _mm512_mul_epu32(c2[j], m1);
            c0[j] = _mm512_ternarylogic_epi32(_mm512_srli_epi64(p1, 32), c1[j], k0, 0x96);
            c2[j] = _mm512_ternarylogic_epi32(_mm512_srli_epi64(p0, 32), c3[j], k1, 0x96);
            c1[j] = p1; c3[j] = p0;
        }
    }
    LBQ_X4 {    /* round 9: round 10 reads only its c1 and c2 (its new c0 would feed no product) */
        __m512i p0 = _mm512_mul_epu32(c0[j], m0);
        c1[j] = _mm512_mul_epu32(c2[j], m1);
        c2[j] = _mm512_ternarylogic_epi32(_mm512_srli_epi64(p0, 32), c3[j], _mm512_set1_epi32((int32_t)R->k1[8]), 0x96);
    }
    __m256i w[4];
    LBQ_X4 {    /* round 10: only c0 */
        __m512i p1 = _mm512_mul_epu32(c2[j], m1);
        w[j] = _mm512_cvtepi64_epi32(_mm512_ternarylogic_epi32(_mm512_srli_epi64(p1, 32), c1[j],
                                                               _mm512_set1_epi32((int32_t)R->k0[9]), 0x96));
    }
    for (int h = 0; h < 2; h++) {
        __m512i c = _mm512_inserti64x4(_mm512_castsi256_si512(w[2 * h]), w[2 * h + 1], 1);
        u[h] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(c, 8)), _mm512_set1_ps(1.0f / 16777216.0f));
    }
}

#endif
#endif
