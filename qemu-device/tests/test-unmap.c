/*
 * svmgpu core: the device never reaches a page through a DMA address the
 * IOMMU took away (docs/hw-spec.md §1, §6).  Behind a vIOMMU
 * the map cache of an engine step is keyed by IOVA.  Once a TLB
 * invalidation completed, the driver unmaps the IOVA, the page is freed,
 * and a strict IOMMU hands the same IOVA to the next page it maps.  Here
 * the fake environment plays that: IOVA X maps to host page H1 (the page
 * that gets freed) until the "unmap", to H2 (the new page) after it.  Two
 * pages of one COPY (or FILL, or kernel) are both translated to X, with
 * the unmap in between; the second must land in H2 and leave H1 alone.
 * Before the map cache had a generation, the step reused its window of X
 * and wrote the second page into the freed H1.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <unistd.h>

#include "test-env.h"
#include "internal.h"

#define VA_SRC  0x100000ull     /* two source pages */
#define VA_DST  0x200000ull     /* VA_A = VA_DST, VA_B = VA_DST + 4096 */

/* ---- an environment whose IOVA X changes pages ---- */
static struct {
    TestDev *t;
    uint64_t iova;          /* X */
    uint8_t *h1;            /* X's page until the unmap (then freed) */
    uint8_t *h2;            /* X's page after it */
    atomic_bool remapped;
    atomic_uint maps_x;     /* map() calls for X */
    uint64_t hook_pte;      /* a dma_read of it unmaps X first (0: none) */
    /* threaded test: the first map() of X waits here */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool gate_closed, gate_blocked;
} rm = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
};

static uint8_t h2_page[4096] __attribute__((aligned(4096)));

/* What the driver and the IOMMU do after an invalidation: unmap X, remap. */
static void unmap_and_remap_x(void)
{
    atomic_store(&rm.remapped, true);
    svmgpu_core_dma_unmapped(rm.t->core);   /* the IOMMU unmap notifier */
}

static int rm_dma_read(void *o, uint64_t addr, void *buf, uint64_t len)
{
    if (rm.hook_pte && addr == rm.hook_pte) {
        rm.hook_pte = 0;
        unmap_and_remap_x();
    }
    return td_dma_read(o, addr, buf, len);
}

static void *rm_map(void *o, uint64_t addr, uint64_t *len, bool is_write)
{
    TestDev *t = o;
    bool remapped = atomic_load(&rm.remapped);

    if (addr != rm.iova) {
        return td_map(o, addr, len, is_write);
    }
    atomic_fetch_add(&rm.maps_x, 1);
    atomic_fetch_add(&t->maps, 1);
    pthread_mutex_lock(&rm.lock);
    if (rm.gate_closed) {
        rm.gate_blocked = true;
        pthread_cond_broadcast(&rm.cond);
        while (rm.gate_closed) {
            pthread_cond_wait(&rm.cond, &rm.lock);
        }
    }
    pthread_mutex_unlock(&rm.lock);
    *len = svmgpu_min64(*len, 4096);
    return remapped ? rm.h2 : rm.h1;
}

static const SvmgpuCoreOps rm_ops = {
    .dma_read = rm_dma_read,
    .dma_write = td_dma_write,
    .map = rm_map,
    .unmap = td_unmap,
    .irq = td_irq,
    .now_ns = td_now,
    .guest_error = td_guest_error,
};

static uint8_t pat_a(unsigned i)
{
    return (uint8_t)(i * 7 + 1);
}

static uint8_t pat_b(unsigned i)
{
    return (uint8_t)(0x80 ^ (i * 13 + 5));
}

/*
 * A device on @ops configured as @cfg, with maps of only what is accessed
 * (as behind intel-iommu) and context 0's queue 0.
 */
static void accessed_maps_init(TestDev *t, SvmgpuCoreConfig *cfg,
                               const SvmgpuCoreOps *ops)
{
    cfg->map_window = 0;
    td_init_ops(t, cfg, ops);
    ctx_create(t, 0);
    queue_setup(t, 0, 0, 16);
}

/*
 * A device on rm_ops with one engine, maps of only what is accessed (as
 * behind intel-iommu), source pages A and B with their patterns, and
 * VA_A and VA_B both translated to the IOVA X.
 */
static void rm_setup(TestDev *t, bool sync)
{
    SvmgpuCoreConfig cfg;
    unsigned i;

    svmgpu_core_default_config(&cfg);
    cfg.sync = sync;
    cfg.num_engines = 1;
    rm.t = t;
    accessed_maps_init(t, &cfg, &rm_ops);
    map_range(t, 0, VA_SRC, 2 * 4096, 0);
    rm.iova = alloc_page(t);
    rm.h1 = pa_ptr(t, rm.iova);
    rm.h2 = h2_page;
    memset(h2_page, 0, sizeof(h2_page));
    atomic_store(&rm.remapped, false);
    atomic_store(&rm.maps_x, 0);
    rm.hook_pte = 0;
    rm.gate_closed = rm.gate_blocked = false;
    ASSERT_TRUE(map_leaf(t, 0, VA_DST, rm.iova, 1, SVMGPU_PTE_WRITABLE));
    ASSERT_TRUE(map_leaf(t, 0, VA_DST + 4096, rm.iova, 1,
                         SVMGPU_PTE_WRITABLE));
    for (i = 0; i < 4096; i++) {
        ((uint8_t *)va_ptr(t, 0, VA_SRC))[i] = pat_a(i);
        ((uint8_t *)va_ptr(t, 0, VA_SRC + 4096))[i] = pat_b(i);
    }
}

/* Index of the first byte of p that is not pat(i), or -1. */
static long first_bad(const uint8_t *p, uint8_t (*pat)(unsigned))
{
    unsigned i;

    for (i = 0; i < 4096; i++) {
        if (p[i] != pat(i)) {
            return i;
        }
    }
    return -1;
}

static uint8_t pat_zero(unsigned i)
{
    return 0;
}

/* X was unmapped while the window on it was still in the step's cache. */
TEST(copy_after_iommu_unmap_lands_in_the_new_page)
{
    TestDev t;
    struct svmgpu_cmd c;

    rm_setup(&t, true);
    /* the walk of VA_B: the unmap happens between page A and page B */
    rm.hook_pte = (uint64_t)((uint8_t *)leaf_pte(&t, 0, VA_DST + 4096) -
                             t.ram) + RAM_BASE;
    c = cmd_copy(VA_DST, VA_SRC, 2 * 4096);
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_NONE);
    ASSERT_EQ(compl(&t, 0)->seq, c.hdr.seq);
    ASSERT_EQ(rm.hook_pte, 0);                  /* the unmap ran */
    ASSERT_EQ(first_bad(rm.h1, pat_a), -1);     /* page A, before it */
    ASSERT_EQ(first_bad(rm.h2, pat_b), -1);     /* page B, after it */
    ASSERT_EQ(atomic_load(&rm.maps_x), 2);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_LINK_WRITE_BYTES), 2 * 4096);
    td_fini(&t);
}

/* Without an unmap the step keeps its window: one map() of X for both. */
TEST(copy_without_unmap_reuses_the_window)
{
    TestDev t;
    struct svmgpu_cmd c;

    rm_setup(&t, true);
    c = cmd_copy(VA_DST, VA_SRC, 2 * 4096);
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_NONE);
    ASSERT_EQ(first_bad(rm.h1, pat_b), -1);     /* B overwrote A, in H1 */
    ASSERT_EQ(first_bad(rm.h2, pat_zero), -1);
    ASSERT_EQ(atomic_load(&rm.maps_x), 1);
    td_fini(&t);
}

TEST(fill_after_iommu_unmap_lands_in_the_new_page)
{
    TestDev t;
    struct svmgpu_cmd c;
    unsigned i;

    rm_setup(&t, true);
    rm.hook_pte = (uint64_t)((uint8_t *)leaf_pte(&t, 0, VA_DST + 4096) -
                             t.ram) + RAM_BASE;
    c = cmd_fill(VA_DST, 2 * 4096, 0x5a, 1);
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_NONE);
    ASSERT_EQ(rm.hook_pte, 0);
    for (i = 0; i < 4096; i++) {
        ASSERT_EQ(rm.h1[i], 0x5a);
        ASSERT_EQ(rm.h2[i], 0x5a);
    }
    ASSERT_EQ(atomic_load(&rm.maps_x), 2);
    td_fini(&t);
}

/*
 * The real interleaving, with engine and control threads: the engine
 * maps X for page A (and sits in map()); the driver asks for a TLB
 * invalidation, which waits for the engine's hold on the translations;
 * page A is written (X is still H1: the invalidation has not completed),
 * the engine lets the invalidation in at the page boundary, and page B,
 * whose PTE names X too, is written after it: the window of X must be
 * mapped again, and the driver's unmap and remap of X (modelled by the
 * fake map() returning H2 from now on) must be seen.
 */
TEST_TIMEOUT(60)
TEST(copy_across_a_completed_invalidation_maps_again)
{
    TestDev t;
    struct svmgpu_cmd c;
    uint32_t seq;
    unsigned i;

    rm_setup(&t, false);
    rm.gate_closed = true;
    td_start_threads(&t, 1);
    c = cmd_copy(VA_DST, VA_SRC, 2 * 4096);
    c.hdr.seq = 77;
    push(&t, 0, &c);
    doorbell(&t, 0);
    pthread_mutex_lock(&rm.lock);
    while (!rm.gate_blocked) {
        pthread_cond_wait(&rm.cond, &rm.lock);
    }
    pthread_mutex_unlock(&rm.lock);
    /* the engine holds xlate inside page A's map() of X */
    seq = invalidate(&t, 0, 0, VA_DST, 4096);
    for (i = 0; i < 100000 &&
         !__atomic_load_n(&t.core->inval_waiting, __ATOMIC_SEQ_CST); i++) {
        usleep(200);
    }
    ASSERT_NE(__atomic_load_n(&t.core->inval_waiting, __ATOMIC_SEQ_CST), 0);
    /*
     * inval_waiting is raised before the control thread asks for xlate:
     * wait until it is queued for it (the lock prefers writers, so a
     * reader is refused), or the engine could take xlate again at the
     * page boundary and write page B before the invalidation.
     */
    for (i = 0; i < 100000; i++) {
        if (pthread_rwlock_tryrdlock(&t.core->xlate) == EBUSY) {
            break;
        }
        pthread_rwlock_unlock(&t.core->xlate);
        usleep(200);
    }
    ASSERT_LT(i, 100000);
    ASSERT_NE(rd32(&t, SVMGPU_REG_TLB_INV_DONE_SEQ), seq);
    /* later maps of X: the page the driver maps after the invalidation */
    atomic_store(&rm.remapped, true);
    pthread_mutex_lock(&rm.lock);
    rm.gate_closed = false;
    pthread_cond_broadcast(&rm.cond);
    pthread_mutex_unlock(&rm.lock);
    for (i = 0; i < 100000 &&
         __atomic_load_n(&compl(&t, 0)->seq, __ATOMIC_ACQUIRE) != 77; i++) {
        usleep(200);
    }
    ASSERT_EQ(__atomic_load_n(&compl(&t, 0)->seq, __ATOMIC_ACQUIRE), 77);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_NONE);
    /*
     * The control thread writes DONE_SEQ after it let go of xlate, so the
     * engine may complete the copy first: wait for it (what matters is
     * where page B landed, below).
     */
    for (i = 0; i < 100000 && rd32(&t, SVMGPU_REG_TLB_INV_DONE_SEQ) != seq;
         i++) {
        usleep(200);
    }
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_INV_DONE_SEQ), seq);
    ASSERT_EQ(first_bad(rm.h1, pat_a), -1);
    ASSERT_EQ(first_bad(rm.h2, pat_b), -1);
    ASSERT_EQ(atomic_load(&rm.maps_x), 2);
    td_fini(&t);
}

#define I(op, rd, ra, rb, imm) \
    SVMGPU_ISA_ENCODE(SVMGPU_OP_##op, rd, ra, rb, imm)
#define CODE    0x10000ull

/* A device on rm_ops for kernels: @engine, one queue, maps as accessed. */
static void rm_kernel_init(TestDev *t, unsigned engine)
{
    SvmgpuCoreConfig cfg;

    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    cfg.engine = engine;
    rm.t = t;
    accessed_maps_init(t, &cfg, &rm_ops);
}

/* @n instructions at CODE, in ordinary memory. */
static void rm_kernel_code(TestDev *t, const uint64_t *prog, size_t n)
{
    map_range(t, 0, CODE, 0x1000, 0);
    memcpy(va_ptr(t, 0, CODE), prog, n * sizeof(*prog));
}

/* IOVA X: H1 until the unmap, then H2 (zeroed). */
static void rm_kernel_x(TestDev *t)
{
    rm.iova = alloc_page(t);
    rm.h1 = pa_ptr(t, rm.iova);
    rm.h2 = h2_page;
    memset(h2_page, 0, sizeof(h2_page));
    atomic_store(&rm.remapped, false);
    atomic_store(&rm.maps_x, 0);
}

/*
 * Launch the kernel at CODE (one workgroup of @wg_size) with X unmapped
 * by the walk of @hook_va: it completes without an error and the unmap
 * ran.
 */
static void rm_kernel_run(TestDev *t, uint64_t hook_va, uint32_t wg_size)
{
    struct svmgpu_cmd c;

    rm.hook_pte = (uint64_t)((uint8_t *)leaf_pte(t, 0, hook_va) -
                             t->ram) + RAM_BASE;
    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_LAUNCH;
    c.launch.code_va = CODE;
    c.launch.grid_x = c.launch.grid_y = c.launch.grid_z = 1;
    c.launch.wg_size = wg_size;
    submit(t, 0, &c);
    ASSERT_EQ(compl(t, 0)->seq, c.hdr.seq);
    ASSERT_EQ(compl(t, 0)->err_code, SVMGPU_ERR_NONE);
    ASSERT_EQ(rm.hook_pte, 0);                  /* the unmap ran */
}

/* H1 got 0x1111 (before the unmap), H2 0x2222 (after), nothing else. */
static void rm_kernel_check_h1_h2(void)
{
    uint64_t v;
    unsigned i;

    memcpy(&v, rm.h1, 8);
    ASSERT_EQ(v, 0x1111);
    memcpy(&v, rm.h2, 8);
    ASSERT_EQ(v, 0x2222);
    for (i = 8; i < 4096; i++) {
        ASSERT_EQ(rm.h1[i], 0);
        ASSERT_EQ(rm.h2[i], 0);
    }
    ASSERT_EQ(atomic_load(&rm.maps_x), 2);
}

/*
 * A kernel stores to VA_A, then to VA_B (both X, unmapped in between by
 * the walk of VA_B): the second store must reach H2, on both engines.
 */
static void kernel_stores_after_unmap(unsigned engine)
{
    static const uint64_t prog[] = {
        I(MOVI, 1, 0, 0, (int32_t)VA_DST),
        I(MOVI, 2, 0, 0, 0x1111),
        I(MOVI, 3, 0, 0, 0x2222),
        I(ST64, 0, 1, 2, 0),
        I(ST64, 0, 1, 3, 0x1000),
        I(EXIT, 0, 0, 0, 0),
    };
    TestDev t;

    rm_kernel_init(&t, engine);
    rm_kernel_code(&t, prog, sizeof(prog) / sizeof(prog[0]));
    rm_kernel_x(&t);
    ASSERT_TRUE(map_leaf(&t, 0, VA_DST, rm.iova, 1, SVMGPU_PTE_WRITABLE));
    ASSERT_TRUE(map_leaf(&t, 0, VA_DST + 4096, rm.iova, 1,
                         SVMGPU_PTE_WRITABLE));
    rm_kernel_run(&t, VA_DST + 4096, 1);
    rm_kernel_check_h1_h2();
    td_fini(&t);
}

TEST(kernel_store_after_iommu_unmap_lands_in_the_new_page_fast)
{
    kernel_stores_after_unmap(SVMGPU_ENGINE_FAST);
}

TEST(kernel_store_after_iommu_unmap_lands_in_the_new_page_reference)
{
    kernel_stores_after_unmap(SVMGPU_ENGINE_REFERENCE);
}

/*
 * A kernel stores to VA_A (X, so H1), then loads from VA_SRC, whose walk
 * unmaps X (as the vIOMMU's notifier would, in the middle of the step),
 * then stores to VA_A again: the step's copy of VA_A's translation must
 * not serve the second store, which reaches H2 (X's page now).  Before,
 * a kernel kept writing the unmapped page until its step ended.  With
 * wg_size 64, the stores are whole-gang stores of one address.
 */
static void kernel_same_page_after_unmap(unsigned engine, uint32_t wg_size)
{
    static const uint64_t prog[] = {
        I(MOVI, 1, 0, 0, (int32_t)VA_DST),
        I(MOVI, 2, 0, 0, 0x1111),
        I(MOVI, 3, 0, 0, 0x2222),
        I(MOVI, 5, 0, 0, (int32_t)VA_SRC),
        I(ST64, 0, 1, 2, 0),
        I(LD64, 4, 5, 0, 0),
        I(ST64, 0, 1, 3, 0),
        I(EXIT, 0, 0, 0, 0),
    };
    TestDev t;

    rm_kernel_init(&t, engine);
    rm_kernel_code(&t, prog, sizeof(prog) / sizeof(prog[0]));
    map_range(&t, 0, VA_SRC, 0x1000, 0);
    rm_kernel_x(&t);
    ASSERT_TRUE(map_leaf(&t, 0, VA_DST, rm.iova, 1, SVMGPU_PTE_WRITABLE));
    rm_kernel_run(&t, VA_SRC, wg_size);
    rm_kernel_check_h1_h2();
    td_fini(&t);
}

TEST(kernel_same_page_after_iommu_unmap_reaches_the_new_page_fast)
{
    kernel_same_page_after_unmap(SVMGPU_ENGINE_FAST, 1);
}

TEST(kernel_same_page_after_iommu_unmap_reaches_the_new_page_reference)
{
    kernel_same_page_after_unmap(SVMGPU_ENGINE_REFERENCE, 1);
}

TEST(gang_same_page_after_iommu_unmap_reaches_the_new_page_fast)
{
    kernel_same_page_after_unmap(SVMGPU_ENGINE_FAST, 64);
}

TEST(gang_same_page_after_iommu_unmap_reaches_the_new_page_reference)
{
    kernel_same_page_after_unmap(SVMGPU_ENGINE_REFERENCE, 64);
}

/*
 * The kernel's code page is X: H1 holds one program, H2 (what X names
 * after the unmap) another that differs after the load whose walk unmaps
 * X.  Both engines go on with H2's instructions: the fast engine's
 * decoded copy of H1 is not used after the unmap, as the reference's
 * translation of the code page is not.
 */
#define VA_OUT  0x300000ull

static void code_page_after_unmap(unsigned engine)
{
    static const uint64_t prog_h1[] = {
        I(MOVI, 5, 0, 0, (int32_t)VA_SRC),
        I(LD64, 4, 5, 0, 0),
        I(MOVI, 2, 0, 0, 0x1111),
        I(MOVI, 1, 0, 0, (int32_t)VA_OUT),
        I(ST64, 0, 1, 2, 0),
        I(EXIT, 0, 0, 0, 0),
    };
    static const uint64_t prog_h2[] = {
        I(MOVI, 5, 0, 0, (int32_t)VA_SRC),
        I(LD64, 4, 5, 0, 0),
        I(MOVI, 2, 0, 0, 0x2222),
        I(MOVI, 1, 0, 0, (int32_t)VA_OUT),
        I(ST64, 0, 1, 2, 0),
        I(EXIT, 0, 0, 0, 0),
    };
    TestDev t;

    rm_kernel_init(&t, engine);
    map_range(&t, 0, VA_SRC, 0x1000, 0);
    map_range(&t, 0, VA_OUT, 0x1000, SVMGPU_PTE_WRITABLE);
    rm_kernel_x(&t);
    memcpy(rm.h1, prog_h1, sizeof(prog_h1));
    memcpy(rm.h2, prog_h2, sizeof(prog_h2));
    ASSERT_TRUE(map_leaf(&t, 0, CODE, rm.iova, 1, 0));
    rm_kernel_run(&t, VA_SRC, 1);
    ASSERT_EQ(*(uint64_t *)va_ptr(&t, 0, VA_OUT), 0x2222);
    ASSERT_EQ(atomic_load(&rm.maps_x), 2);
    td_fini(&t);
}

TEST(code_page_after_iommu_unmap_is_fetched_again_fast)
{
    code_page_after_unmap(SVMGPU_ENGINE_FAST);
}

TEST(code_page_after_iommu_unmap_is_fetched_again_reference)
{
    code_page_after_unmap(SVMGPU_ENGINE_REFERENCE);
}

/*
 * ---- bus mastering off in the middle of a large leaf ----
 *
 * COPY and FILL go a leaf at a time, and a 2 MiB leaf is one window of up
 * to the step's slice.  Bus mastering off (or an IOMMU unmap) mid-chunk
 * must stop them at the next 4 KiB page (hw-spec §1), not at the end of
 * the chunk.  Here the map() of the watched 2 MiB region itself turns bus
 * mastering off, so its window is stale from its first byte: one page
 * lands through it, then the DMA of the next page fails.
 */
static struct {
    TestDev *t;
    uint64_t lo;            /* the watched region [lo, lo + 2 MiB) */
    atomic_bool off;        /* bus mastering off: its DMA fails */
} bm;

static bool bm_hits(uint64_t addr, uint64_t len)
{
    return addr < bm.lo + (2u << 20) && bm.lo < addr + len;
}

static int bm_dma_read(void *o, uint64_t addr, void *buf, uint64_t len)
{
    if (atomic_load(&bm.off) && bm_hits(addr, len)) {
        return -1;
    }
    return td_dma_read(o, addr, buf, len);
}

static int bm_dma_write(void *o, uint64_t addr, const void *buf, uint64_t len)
{
    if (atomic_load(&bm.off) && bm_hits(addr, len)) {
        return -1;
    }
    return td_dma_write(o, addr, buf, len);
}

static void *bm_map(void *o, uint64_t addr, uint64_t *len, bool is_write)
{
    if (bm_hits(addr, 1)) {
        if (atomic_load(&bm.off)) {
            return NULL;
        }
        atomic_store(&bm.off, true);
        svmgpu_core_dma_unmapped(bm.t->core);   /* PCI_COMMAND.MASTER off */
    }
    return td_map(o, addr, len, is_write);
}

static const SvmgpuCoreOps bm_ops = {
    .dma_read = bm_dma_read,
    .dma_write = bm_dma_write,
    .map = bm_map,
    .unmap = td_unmap,
    .irq = td_irq,
    .now_ns = td_now,
    .guest_error = td_guest_error,
};

#define VA_BIG_A    0x400000ull     /* 2 MiB leaves */
#define VA_BIG_B    0x600000ull
#define BM_SIZE     (64u << 10)

/*
 * One engine in sync mode, maps of only what is accessed; VA_BIG_A and
 * VA_BIG_B are 2 MiB leaves, one of them (@watched) over the region whose
 * first map() turns bus mastering off.  A holds the pattern pat_a per page.
 */
static void bm_setup(TestDev *t, uint64_t watched, uint8_t **a, uint8_t **b)
{
    SvmgpuCoreConfig cfg;
    uint64_t pa, pb;
    unsigned i;

    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    cfg.num_engines = 1;
    bm.t = t;
    atomic_store(&bm.off, false);
    accessed_maps_init(t, &cfg, &bm_ops);
    pa = alloc_pa(t, 2u << 20, 2u << 20);
    pb = alloc_pa(t, 2u << 20, 2u << 20);
    ASSERT_NE(pa, 0);
    ASSERT_NE(pb, 0);
    ASSERT_TRUE(map_leaf(t, 0, VA_BIG_A, pa, 2, SVMGPU_PTE_WRITABLE));
    ASSERT_TRUE(map_leaf(t, 0, VA_BIG_B, pb, 2, SVMGPU_PTE_WRITABLE));
    bm.lo = watched == VA_BIG_A ? pa : pb;
    *a = pa_ptr(t, pa);
    *b = pa_ptr(t, pb);
    for (i = 0; i < BM_SIZE; i++) {
        (*a)[i] = pat_a(i % 4096);
    }
}

/* Pages of p[0, BM_SIZE) that hold pat_a, from the first; -1 past a gap. */
static long pages_with_pat_a(const uint8_t *p)
{
    long pages = 0;
    unsigned i;

    for (i = 0; i < BM_SIZE; i += 4096) {
        if (first_bad(p + i, pat_a) == -1) {
            if (pages != (long)(i / 4096)) {
                return -1;
            }
            pages++;
        }
    }
    return pages;
}

/* The destination's window goes stale: one page lands, then ERR_DMA. */
TEST(copy_stops_a_page_after_bus_master_off_on_its_destination)
{
    TestDev t;
    struct svmgpu_cmd c;
    uint8_t *a, *b;

    bm_setup(&t, VA_BIG_B, &a, &b);
    c = cmd_copy(VA_BIG_B, VA_BIG_A, BM_SIZE);
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->seq, c.hdr.seq);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_DMA);
    ASSERT_EQ(compl(&t, 0)->err_va, VA_BIG_B + 4096);
    ASSERT_EQ(pages_with_pat_a(b), 1);
    td_fini(&t);
}

/* The source's window goes stale: one page is read through it, no more. */
TEST(copy_stops_a_page_after_bus_master_off_on_its_source)
{
    TestDev t;
    struct svmgpu_cmd c;
    uint8_t *a, *b;

    bm_setup(&t, VA_BIG_A, &a, &b);
    c = cmd_copy(VA_BIG_B, VA_BIG_A, BM_SIZE);
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_DMA);
    ASSERT_EQ(compl(&t, 0)->err_va, VA_BIG_A + 4096);
    ASSERT_EQ(compl(&t, 0)->err_info,
              SVMGPU_ERROR_INFO(SVMGPU_ACCESS_READ, 0));
    ASSERT_EQ(pages_with_pat_a(b), 1);
    td_fini(&t);
}

TEST(fill_stops_a_page_after_bus_master_off)
{
    TestDev t;
    struct svmgpu_cmd c;
    uint8_t *a, *b;
    unsigned i, filled = 0;

    bm_setup(&t, VA_BIG_B, &a, &b);
    c = cmd_fill(VA_BIG_B, BM_SIZE, 0x5a, 1);
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_DMA);
    ASSERT_EQ(compl(&t, 0)->err_va, VA_BIG_B + 4096);
    for (i = 0; i < BM_SIZE; i++) {
        filled += b[i] == 0x5a;
    }
    ASSERT_EQ(filled, 4096);
    for (i = 0; i < 4096; i++) {
        ASSERT_EQ(b[i], 0x5a);
    }
    td_fini(&t);
}

TEST_HARNESS_MAIN
