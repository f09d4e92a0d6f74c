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
/* AVX-512 (F, VL, BW, DQ) builds of AVX2 code (32 registers), called only where the CPU has them */
#  define LBQ_AVX512_VLBWDQ __attribute__((target("avx2,avx512f,avx512vl,avx512bw,avx512dq")))

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


/* lbq_exp2f (quantizers/qcore.h) for 8 lanes of non-NaN y, operation for operation: 0 below -150,
 * +inf from 128, the two-step scaling into the subnormal range as the scalar function does it */
LBQ_AVX2_INLINE __m256 lbq_exp2f8(__m256 y)
{
    const __m256 big = _mm256_cmp_ps(y, _mm256_set1_ps(128.0f), _CMP_GE_OQ);
    const __m256 small = _mm256_cmp_ps(y, _mm256_set1_ps(-150.0f), _CMP_LT_OQ);
    y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_or_ps(big, small));     /* keep n in range */
    __m256 n = _mm256_round_ps(y, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_mul_ps(_mm256_sub_ps(y, n), _mm256_set1_ps(0.693147180559945309f));
    __m256 p = _mm256_set1_ps(1.0f / 3628800.0f);
    p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(1.0f / 362880.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(1.0f / 40320.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(1.0f / 5040.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(0.5f));
    p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(1.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(1.0f));
    __m256i ni = _mm256_cvttps_epi32(n);                        /* n is integral: exact */
    __m256i sub = _mm256_cmpgt_epi32(_mm256_set1_epi32(-126), ni);       /* ni < -126 */
    /* 2^ni (ni >= -126) or 2^(ni + 64) (ni in [-150, -127]): both normal */
    __m256i e = _mm256_add_epi32(ni, _mm256_and_si256(sub, _mm256_set1_epi32(64)));
    __m256 sc = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23));
    __m256 r = _mm256_mul_ps(p, sc);
    r = _mm256_blendv_ps(r, _mm256_mul_ps(r, _mm256_set1_ps(5.42101086242752217e-20f)), _mm256_castsi256_ps(sub)); /* 2^-64 */
    r = _mm256_blendv_ps(r, _mm256_castsi256_ps(_mm256_set1_epi32(0x7f800000)), big);
    return _mm256_andnot_ps(small, r);
}

/* lbq_philox_uniform (quantizers/qcore.h) for the 8 indices base .. base + 7, which must not
 * cross a multiple of 2^32 (the high counter word is the same in every lane): Philox4x32-10 with
 * the 32x32 -> 64-bit products of the even and odd lanes (vpmuludq), the same draws bit for bit */
LBQ_AVX2_INLINE __m256i lbq_mulhilo8(__m256i a, __m256i m, __m256i *lo)
{
    __m256i pe = _mm256_mul_epu32(a, m);                                /* lanes 0, 2, 4, 6 */
    __m256i po = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);         /* lanes 1, 3, 5, 7 */
    *lo = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xaa);
    return _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xaa);
}
LBQ_AVX2_INLINE __m256 lbq_philox_uniform8(uint64_t seed, uint32_t stream, uint64_t base)
{
    const __m256i m0 = _mm256_set1_epi32((int32_t)0xD2511F53u), m1 = _mm256_set1_epi32((int32_t)0xCD9E8D57u);
    __m256i c0 = _mm256_add_epi32(_mm256_set1_epi32((int32_t)(uint32_t)base), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i c1 = _mm256_set1_epi32((int32_t)(uint32_t)(base >> 32)), c2 = _mm256_set1_epi32((int32_t)stream);
    __m256i c3 = _mm256_set1_epi32(0x6c62710a);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        __m256i l0, l1;
        __m256i h0 = lbq_mulhilo8(c0, m0, &l0), h1 = lbq_mulhilo8(c2, m1, &l1);
        __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(h1, c1), _mm256_set1_epi32((int32_t)k0));
        __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(h0, c3), _mm256_set1_epi32((int32_t)k1));
        c1 = l1; c3 = l0; c0 = n0; c2 = n2;
        k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
    }
    return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(c0, 8)), _mm256_set1_ps(1.0f / 16777216.0f));
}

/* Four independent vectors at a time, stage by stage, so that the long dependent chains of the
 * polynomials and of Philox's rounds overlap (the same operations per lane as the one-vector
 * functions above; the interleaving changes only the order of independent instructions). */
#define LBQ_X4 _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++)

/* lbq_log2f8 and lbq_exp2f8 on NV <= 8 independent vectors, stage by stage (the Horner chains are
 * latency-bound: more chains in flight keep the multipliers and adders busy); the operations of
 * each lane are those of the one-vector functions.  NV is a constant where they are inlined. */
#define LBQ_XN _Pragma("GCC unroll 8") for (int j = 0; j < NV; j++)
LBQ_AVX2_INLINE void lbq_log2f8xn(__m256 *v, const int NV)
{
    const __m256 tiny = _mm256_set1_ps(1.17549435e-38f), one = _mm256_set1_ps(1.0f);
    __m256 sub[8], big[8], m[8], t[8], t2[8], p[8];
    __m256i e[8], u[8];
    LBQ_XN {
        sub[j] = _mm256_cmp_ps(v[j], tiny, _CMP_LT_OQ);
        v[j] = _mm256_blendv_ps(v[j], _mm256_mul_ps(v[j], _mm256_set1_ps(8388608.0f)), sub[j]);
        e[j] = _mm256_and_si256(_mm256_castps_si256(sub[j]), _mm256_set1_epi32(-23));
        u[j] = _mm256_castps_si256(v[j]);
        e[j] = _mm256_add_epi32(e[j], _mm256_sub_epi32(_mm256_and_si256(_mm256_srli_epi32(u[j], 23), _mm256_set1_epi32(0xff)),
                                                       _mm256_set1_epi32(127)));
        m[j] = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(u[j], _mm256_set1_epi32(0x007fffff)),
                                                   _mm256_set1_epi32(0x3f800000)));
        big[j] = _mm256_cmp_ps(m[j], _mm256_set1_ps(1.41421356f), _CMP_GT_OQ);
        m[j] = _mm256_blendv_ps(m[j], _mm256_mul_ps(m[j], _mm256_set1_ps(0.5f)), big[j]);
        e[j] = _mm256_sub_epi32(e[j], _mm256_castps_si256(big[j]));
    }
    LBQ_XN t[j] = _mm256_div_ps(_mm256_sub_ps(m[j], one), _mm256_add_ps(m[j], one));
    LBQ_XN { t2[j] = _mm256_mul_ps(t[j], t[j]); p[j] = _mm256_set1_ps(1.0f / 13.0f); }
    LBQ_XN p[j] = _mm256_add_ps(_mm256_mul_ps(p[j], t2[j]), _mm256_set1_ps(1.0f / 11.0f));
    LBQ_XN p[j] = _mm256_add_ps(_mm256_mul_ps(p[j], t2[j]), _mm256_set1_ps(1.0f / 9.0f));
    LBQ_XN p[j] = _mm256_add_ps(_mm256_mul_ps(p[j], t2[j]), _mm256_set1_ps(1.0f / 7.0f));
    LBQ_XN p[j] = _mm256_add_ps(_mm256_mul_ps(p[j], t2[j]), _mm256_set1_ps(1.0f / 5.0f));
    LBQ_XN p[j] = _mm256_add_ps(_mm256_mul_ps(p[j], t2[j]), _mm256_set1_ps(1.0f / 3.0f));
    LBQ_XN p[j] = _mm256_add_ps(_mm256_mul_ps(p[j], t2[j]), one);
    LBQ_XN {
        __m256 lnm = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(2.0f), t[j]), p[j]);
        v[j] = _mm256_add_ps(_mm256_cvtepi32_ps(e[j]), _mm256_mul_ps(lnm, _mm256_set1_ps(1.44269504088896341f)));
    }
}

LBQ_AVX2_INLINE void lbq_exp2f8xn(__m256 *y, const int NV)
{
    __m256 big[8], small[8], f[8], p[8];
    __m256i ni[8], sub[8];
    LBQ_XN {
        big[j] = _mm256_cmp_ps(y[j], _mm256_set1_ps(128.0f), _CMP_GE_OQ);
        small[j] = _mm256_cmp_ps(y[j], _mm256_set1_ps(-150.0f), _CMP_LT_OQ);
        y[j] = _mm256_blendv_ps(y[j], _mm256_setzero_ps(), _mm256_or_ps(big[j], small[j]));
        __m256 n = _mm256_round_ps(y[j], _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        f[j] = _mm256_mul_ps(_mm256_sub_ps(y[j], n), _mm256_set1_ps(0.693147180559945309f));
        ni[j] = _mm256_cvttps_epi32(n);
        p[j] = _mm256_set1_ps(1.0f / 3628800.0f);
    }
    LBQ_XN p[j] = _mm256_add_ps(_mm256_mul_ps(p[j], f[j]), _mm256_set1_ps(1.0f / 362880.0f));
    LBQ_XN p[j] = _mm256_add_ps(_mm256_mul_ps(p[j], f[j]), _mm256_set1_ps(1.0f / 40320.0f));
    LBQ_XN p[j] = _mm256_add_ps(_mm256_mul_ps(p[j], f[j]), _mm256_set1_ps(1.0f / 5040.0f));
    LBQ_XN p[j] = _mm256_add_ps(_mm256_mul_ps(p[j], f[j]), _mm256_set1_ps(1.0f / 720.0f));
    LBQ_XN p[j] = _mm256_add_ps(_mm256_mul_ps(p[j], f[j]), _mm256_set1_ps(1.0f / 120.0f));
    LBQ_XN p[j] = _mm256_add_ps(_mm256_mul_ps(p[j], f[j]), _mm256_set1_ps(1.0f / 24.0f));
    LBQ_XN p[j] = _mm256_add_ps(_mm256_mul_ps(p[j], f[j]), _mm256_set1_ps(1.0f / 6.0f));
    LBQ_XN p[j] = _mm256_add_ps(_mm256_mul_ps(p[j], f[j]), _mm256_set1_ps(0.5f));
    LBQ_XN p[j] = _mm256_add_ps(_mm256_mul_ps(p[j], f[j]), _mm256_set1_ps(1.0f));
    LBQ_XN p[j] = _mm256_add_ps(_mm256_mul_ps(p[j], f[j]), _mm256_set1_ps(1.0f));
    LBQ_XN {
        sub[j] = _mm256_cmpgt_epi32(_mm256_set1_epi32(-126), ni[j]);
        __m256i e = _mm256_add_epi32(ni[j], _mm256_and_si256(sub[j], _mm256_set1_epi32(64)));
        __m256 sc = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23));
        __m256 r = _mm256_mul_ps(p[j], sc);
        r = _mm256_blendv_ps(r, _mm256_mul_ps(r, _mm256_set1_ps(5.42101086242752217e-20f)), _mm256_castsi256_ps(sub[j]));
        r = _mm256_blendv_ps(r, _mm256_castsi256_ps(_mm256_set1_epi32(0x7f800000)), big[j]);
        y[j] = _mm256_andnot_ps(small[j], r);
    }
}

LBQ_AVX2_INLINE void lbq_log2f8x4(__m256 *v) { lbq_log2f8xn(v, 4); }
LBQ_AVX2_INLINE void lbq_exp2f8x4(__m256 *y) { lbq_exp2f8xn(y, 4); }

/* Philox4x32-10 with the rounds that act on per-run constants done once in scalar: within a run
 * (no 2^32 crossing) c1 = the high index word, c2 = stream and c3 are the same in every lane, so
 * round 1's product of c2 and the words it makes (the new c0 and c1) are constants, and round 2's
 * product of that c0 (its new c3) too; round 10 needs only the new c0 (one product).  17 vector
 * products per lane instead of 20, the same words as lbq_philox_uniform. */
struct lbq_philox_run {
    uint32_t k0[10], k1[10];    /* the round keys */
    uint32_t r1c0, r1c1;        /* c0, c1 after round 1 */
    uint32_t r2hi, r2c3;        /* round 2: high and low word of M0 * r1c0 */
};
LBQ_AVX2_INLINE void lbq_philox_run_init(struct lbq_philox_run *r, uint64_t seed, uint32_t stream, uint32_t hiword)
{
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int i = 0; i < 10; i++) { r->k0[i] = k0; r->k1[i] = k1; k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
    uint64_t p1 = (uint64_t)0xCD9E8D57u * stream;
    r->r1c0 = (uint32_t)(p1 >> 32) ^ hiword ^ r->k0[0];
    r->r1c1 = (uint32_t)p1;
    uint64_t p0 = (uint64_t)0xD2511F53u * r->r1c0;
    r->r2hi = (uint32_t)(p0 >> 32);
    r->r2c3 = (uint32_t)p0;
}
LBQ_AVX2_INLINE __m256i lbq_mulhi8(__m256i a, __m256i m)
{
    __m256i pe = _mm256_mul_epu32(a, m), po = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    return _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xaa);
}

/* lbq_philox_uniform8 for base, base + 8, base + 16, base + 24 (no 2^32 crossing in base .. base + 31) */
LBQ_AVX2_INLINE void lbq_philox_uniform8x4(const struct lbq_philox_run *R, uint64_t base, __m256 *u)
{
    const __m256i m0 = _mm256_set1_epi32((int32_t)0xD2511F53u), m1 = _mm256_set1_epi32((int32_t)0xCD9E8D57u);
    __m256i c0[4], c1[4], c2[4], c3[4];
    /* round 1: c0 = r1c0, c1 = r1c1 (constants); c2 = hi(M0 c0) ^ c3 ^ k1, c3 = lo(M0 c0) */
    LBQ_X4 {
        __m256i ci = _mm256_add_epi32(_mm256_set1_epi32((int32_t)((uint32_t)base + 8u * (uint32_t)j)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256i lo, hi = lbq_mulhilo8(ci, m0, &lo);
        c2[j] = _mm256_xor_si256(hi, _mm256_set1_epi32((int32_t)(0x6c62710au ^ R->k1[0])));
        c3[j] = lo;
    }
    /* round 2: M0 c0 is the constant r2hi:r2c3 */
    LBQ_X4 {
        __m256i lo, hi = lbq_mulhilo8(c2[j], m1, &lo);
        c0[j] = _mm256_xor_si256(hi, _mm256_set1_epi32((int32_t)(R->r1c1 ^ R->k0[1])));
        c2[j] = _mm256_xor_si256(c3[j], _mm256_set1_epi32((int32_t)(R->r2hi ^ R->k1[1])));
        c1[j] = lo;
        c3[j] = _mm256_set1_epi32((int32_t)R->r2c3);
    }
    for (int r = 2; r < 9; r++) {
        const __m256i k0 = _mm256_set1_epi32((int32_t)R->k0[r]), k1 = _mm256_set1_epi32((int32_t)R->k1[r]);
        LBQ_X4 {
            __m256i l0, l1;
            __m256i h0 = lbq_mulhilo8(c0[j], m0, &l0), h1 = lbq_mulhilo8(c2[j], m1, &l1);
            __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(h1, c1[j]), k0);
            __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(h0, c3[j]), k1);
            c1[j] = l1; c3[j] = l0; c0[j] = n0; c2[j] = n2;
        }
    }
    /* round 10: only c0 */
    LBQ_X4 {
        __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(lbq_mulhi8(c2[j], m1), c1[j]), _mm256_set1_epi32((int32_t)R->k0[9]));
        u[j] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(n0, 8)), _mm256_set1_ps(1.0f / 16777216.0f));
    }
}

#else
#  define LBQ_HAVE_AVX2_CODE 0
#endif

#endif
