/* misc.c - build and runtime facts; big buffers. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE     /* MADV_HUGEPAGE, MAP_ANONYMOUS */
#endif
#include "lbq-impl.h"

#include <stdatomic.h>
/* AddressSanitizer cannot see overflows of an mmap'ed buffer: sanitizer builds use malloc */
#if defined(__SANITIZE_ADDRESS__)
#define LBQ_BIG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LBQ_BIG_ASAN 1
#endif
#endif
#if defined(__linux__) && !defined(LBQ_BIG_ASAN)
#include <sys/mman.h>
#define LBQ_BIG_MMAP 1
#else
#define LBQ_BIG_MMAP 0
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

int lbq_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

float lbq_uniform(uint64_t seed, uint32_t stream, uint64_t i) { return lbq_philox_uniform(seed, stream, i); }

/* ---- big buffers (lbq-impl.h) ---------------------------------------------------------------- */
#define BIG_ALIGN ((size_t)2 << 20)

#if LBQ_BIG_MMAP
static size_t big_round(size_t bytes) { return (bytes + BIG_ALIGN - 1) & ~(BIG_ALIGN - 1); }

static struct { void *p; size_t len; } g_keep[LBQ_BIG_KEEP];     /* freed mappings, len 0 = empty */
static atomic_flag g_keep_lock = ATOMIC_FLAG_INIT;

static void keep_lock(void) { while (atomic_flag_test_and_set_explicit(&g_keep_lock, memory_order_acquire)) { } }
static void keep_unlock(void) { atomic_flag_clear_explicit(&g_keep_lock, memory_order_release); }

/* a fresh mapping of len (a multiple of 2 MiB) bytes at a 2 MiB boundary, or NULL */
static void *big_map(size_t len)
{
    size_t over = len + BIG_ALIGN;
    char *b = mmap(NULL, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED) return NULL;
    uintptr_t a = ((uintptr_t)b + BIG_ALIGN - 1) & ~(uintptr_t)(BIG_ALIGN - 1);
    size_t head = (size_t)(a - (uintptr_t)b), tail = over - head - len;
    if (head) munmap(b, head);
    if (tail) munmap((char *)a + len, tail);
#ifdef MADV_HUGEPAGE
    madvise((void *)a, len, MADV_HUGEPAGE);        /* advice only: without THP, 4 KiB pages */
#endif
    return (void *)a;
}
#endif

void *lbq_big_alloc(size_t bytes)
{
#if LBQ_BIG_MMAP
    if (bytes >= LBQ_BIG_MIN) {
        size_t len = big_round(bytes);
        int best = -1;
        keep_lock();
        for (int i = 0; i < LBQ_BIG_KEEP; i++)      /* the smallest kept mapping that fits */
            if (g_keep[i].len >= len && (best < 0 || g_keep[i].len < g_keep[best].len)) best = i;
        void *p = NULL;
        size_t have = 0;
        if (best >= 0) { p = g_keep[best].p; have = g_keep[best].len; g_keep[best].p = NULL; g_keep[best].len = 0; }
        keep_unlock();
        if (p) {    /* the rest back to the system: the mapping's length is then len (lbq_big_free) */
            if (have > len) munmap((char *)p + len, have - len);
            return p;
        }
        return big_map(len);
    }
#endif
    return malloc(bytes ? bytes : 1);
}

void lbq_big_free(void *p, size_t bytes)
{
    (void)bytes;        /* unused where big buffers are plain malloc (not Linux, sanitizer builds) */
    if (!p) return;
#if LBQ_BIG_MMAP
    if (bytes >= LBQ_BIG_MIN) {
        size_t len = big_round(bytes);
        keep_lock();
        for (int i = 0; i < LBQ_BIG_KEEP; i++)
            if (!g_keep[i].len) { g_keep[i].p = p; g_keep[i].len = len; p = NULL; break; }
        keep_unlock();
        if (p) munmap(p, len);
        return;
    }
#endif
    free(p);
}

void lbq_big_trim(void)
{
#if LBQ_BIG_MMAP
    for (int i = 0; i < LBQ_BIG_KEEP; i++) {
        keep_lock();
        void *p = g_keep[i].p;
        size_t len = g_keep[i].len;
        g_keep[i].p = NULL; g_keep[i].len = 0;
        keep_unlock();
        if (p) munmap(p, len);
    }
#endif
}
