/* lbq-avx2.h - AVX2 building blocks shared by the vectorized CPU loops (src/simd.c, src/accum.c).
 * x86 with gcc or clang only; elsewhere LBQ_HAVE_AVX2_CODE is 0 and the portable loops are used.
 * Functions are compiled for AVX2 by attribute (the rest of lbq is not), and called only after
 * lbq_simd_level() has seen AVX2 on the CPU. */
#ifndef LBQ_AVX2_H
#define LBQ_AVX2_H

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#  define LBQ_HAVE_AVX2_CODE 1
#  include <immintrin.h>
#  define LBQ_AVX2 __attribute__((target("avx2")))
#  define LBQ_AVX2_INLINE __attribute__((target("avx2"), always_inline)) static inline

/* lbq_log2f (quantizers/qcore.h) for 8 lanes of positive finite x, operation for operation, so
 * every lane has the bits of the scalar function */
LBQ_AVX2_INLINE __m256 lbq_log2f8(__m256 x)
{
    const __m256 tiny = _mm256_set1_ps(1.17549435e-38f);
    __m256 sub = _mm256_cmp_ps(x, tiny, _CMP_LT_OQ);
    x = _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(8388608.0f)), sub);
    __m256i e = _mm256_and_si256(_mm256_castps_si256(sub), _mm256_set1_epi32(-23));
    __m256i u = _mm256_castps_si256(x);
    e = _mm256_add_epi32(e, _mm256_sub_epi32(_mm256_and_si256(_mm256_srli_epi32(u, 23), _mm256_set1_epi32(0xff)),
                                             _mm256_set1_epi32(127)));
    __m256 m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(u, _mm256_set1_epi32(0x007fffff)),
                                                   _mm256_set1_epi32(0x3f800000)));
    __m256 big = _mm256_cmp_ps(m, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ);
    m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
    e = _mm256_sub_epi32(e, _mm256_castps_si256(big));            /* +1 where big */
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 t = _mm256_div_ps(_mm256_sub_ps(m, one), _mm256_add_ps(m, one));
    __m256 t2 = _mm256_mul_ps(t, t);
    __m256 p = _mm256_set1_ps(1.0f / 13.0f);
    p = _mm256_add_ps(_mm256_mul_ps(p, t2), _mm256_set1_ps(1.0f / 11.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, t2), _mm256_set1_ps(1.0f / 9.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, t2), _mm256_set1_ps(1.0f / 7.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, t2), _mm256_set1_ps(1.0f / 5.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, t2), _mm256_set1_ps(1.0f / 3.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, t2), one);
    __m256 lnm = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(2.0f), t), p);
    return _mm256_add_ps(_mm256_cvtepi32_ps(e), _mm256_mul_ps(lnm, _mm256_set1_ps(1.44269504088896341f)));
}

#else
#  define LBQ_HAVE_AVX2_CODE 0
#endif

#endif
