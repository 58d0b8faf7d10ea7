/*
 * svmgpu core: TLB fill, hit without walking, LRU eviction, context
 * tagging, invalidation by range/context/all, huge entries beside small
 * ones, two threads sharing the TLB under invalidations, resets racing a
 * translating thread, and invalidation racing a kernel that is running on
 * the engine threads.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "test-env.h"
#include "internal.h"

static SvmgpuXlateStatus xl(TestDev *t, uint32_t ctx, uint64_t va,
                            unsigned acc, SvmgpuXlate *x)
{
    SvmgpuXlateStatus st;

    pthread_rwlock_rdlock(&t->core->xlate);
    st = svmgpu_mmu_translate(t->core, ctx, va, acc, x);
    pthread_rwlock_unlock(&t->core->xlate);
    return st;
}

TEST(hit_does_not_walk)
{
    TestDev t;
    SvmgpuXlate x;
    uint64_t pa;
    unsigned reads;

    td_init(&t);
    ctx_create(&t, 0);
    pa = alloc_page(&t);
    map_leaf(&t, 0, 0x5000, pa, 1, 0);
    ASSERT_EQ(xl(&t, 0, 0x5008, SVMGPU_ACCESS_READ, &x), SVMGPU_XLATE_OK);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_TLB_MISSES), 1);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_PAGE_WALKS), 1);
    reads = atomic_load(&t.dma_reads);
    ASSERT_EQ(xl(&t, 0, 0x5ff0, SVMGPU_ACCESS_READ, &x), SVMGPU_XLATE_OK);
    ASSERT_EQ(x.pa, pa + 0xff0);
    ASSERT_EQ(x.len, 0x10);
    ASSERT_EQ(atomic_load(&t.dma_reads), reads);      /* no walk */
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_TLB_HITS), 1);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_PAGE_WALKS), 1);
    /* a failed walk is not cached */
    ASSERT_EQ(xl(&t, 0, 0x9000, SVMGPU_ACCESS_READ, &x), SVMGPU_XLATE_FAULT);
    ASSERT_EQ(xl(&t, 0, 0x9000, SVMGPU_ACCESS_READ, &x), SVMGPU_XLATE_FAULT);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_PAGE_WALKS), 3);
    td_fini(&t);
}

/* 1 set x 2 ways: the least recently used entry goes. */
TEST(lru_eviction)
{
    SvmgpuCoreConfig cfg;
    TestDev t;
    SvmgpuXlate x;

    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    cfg.tlb_sets = 1;
    cfg.tlb_ways = 2;
    td_init_cfg(&t, &cfg);
    ctx_create(&t, 0);
    map_range(&t, 0, 0x10000, 0x3000, 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_SETS), 1);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_WAYS), 2);
    xl(&t, 0, 0x10000, 1, &x);          /* miss A */
    xl(&t, 0, 0x11000, 1, &x);          /* miss B */
    xl(&t, 0, 0x10000, 1, &x);          /* hit A: B is now LRU */
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_TLB_EVICTIONS), 0);
    xl(&t, 0, 0x12000, 1, &x);          /* miss C evicts B */
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_TLB_EVICTIONS), 1);
    xl(&t, 0, 0x10000, 1, &x);          /* A still there */
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_TLB_HITS), 2);
    xl(&t, 0, 0x11000, 1, &x);          /* B gone */
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_TLB_MISSES), 4);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_TLB_EVICTIONS), 2);
    td_fini(&t);
}

/* Same VA in two contexts; invalidating one leaves the other. */
TEST(context_tags_and_invalidation_scopes)
{
    TestDev t;
    SvmgpuXlate x;
    uint64_t pa0, pa1, pa2;
    uint32_t seq;

    td_init(&t);
    ctx_create(&t, 0);
    ctx_create(&t, 1);
    pa0 = alloc_page(&t);
    pa1 = alloc_page(&t);
    pa2 = alloc_page(&t);
    map_leaf(&t, 0, 0x7000, pa0, 1, 0);
    map_leaf(&t, 1, 0x7000, pa1, 1, 0);
    map_leaf(&t, 0, 0x20000, pa2, 1, 0);
    ASSERT_EQ((xl(&t, 0, 0x7000, 1, &x), x.pa), pa0);
    ASSERT_EQ((xl(&t, 1, 0x7000, 1, &x), x.pa), pa1);
    xl(&t, 0, 0x20000, 1, &x);

    /* Re-point both without invalidating: the TLB still has the old. */
    *leaf_pte(&t, 0, 0x7000) = pa2 | SVMGPU_PTE_VALID;
    *leaf_pte(&t, 1, 0x7000) = pa2 | SVMGPU_PTE_VALID;
    ASSERT_EQ((xl(&t, 0, 0x7000, 1, &x), x.pa), pa0);

    /* Range invalidation of ctx 0 covering only 0x7000. */
    seq = invalidate(&t, 0, 0, 0x7800, 0x10);
    ASSERT_EQ(seq, 1);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_INVAL_BUSY);
    run(&t);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_INV_DONE_SEQ), 1);
    ASSERT_FALSE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_INVAL_BUSY);
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_INVAL]), 1);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_INTR_STATUS) & SVMGPU_INTR_INVAL);
    ASSERT_EQ((xl(&t, 0, 0x7000, 1, &x), x.pa), pa2);
    ASSERT_EQ((xl(&t, 1, 0x7000, 1, &x), x.pa), pa1);      /* ctx 1 kept */

    /* whole context 1 */
    invalidate(&t, 1, SVMGPU_TLB_INV_WHOLE_CONTEXT, 0, 0);
    run(&t);
    ASSERT_EQ((xl(&t, 1, 0x7000, 1, &x), x.pa), pa2);

    /* all contexts, with DONE_ADDR written */
    wr(&t, SVMGPU_REG_TLB_INV_DONE_ADDR, RAM_BASE + 0x20000);
    *leaf_pte(&t, 0, 0x20000) = pa0 | SVMGPU_PTE_VALID;
    seq = invalidate(&t, 7, SVMGPU_TLB_INV_ALL_CONTEXTS, 0, 0);
    run(&t);
    ASSERT_EQ(*(uint64_t *)pa_ptr(&t, RAM_BASE + 0x20000), seq);
    ASSERT_EQ((xl(&t, 0, 0x20000, 1, &x), x.pa), pa0);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_TLB_INVALIDATIONS), 3);
    td_fini(&t);
}

/* A 2M entry partly covered by a 4K invalidation is removed whole. */
TEST(huge_entry_partial_invalidation)
{
    TestDev t;
    SvmgpuXlate x;
    uint64_t pa = 0, pb = 0;

    td_init(&t);
    ctx_create(&t, 0);
    pa = alloc_pa(&t, 2 << 20, 2 << 20);
    pb = alloc_pa(&t, 2 << 20, 2 << 20);
    map_leaf(&t, 0, 0x40000000, pa, 2, 0);
    ASSERT_EQ((xl(&t, 0, 0x40123456, 1, &x), x.pa), pa + 0x123456);
    ASSERT_EQ(x.shift, 21);
    *pte_slot(&t, *pte_slot(&t, *pte_slot(&t, t.roots[0], 0x40000000, 4) &
                            SVMGPU_PTE_ADDR_MASK, 0x40000000, 3) &
              SVMGPU_PTE_ADDR_MASK, 0x40000000, 2) =
        pb | SVMGPU_PTE_VALID | SVMGPU_PTE_LEAF;
    invalidate(&t, 0, 0, 0x401ff000, 0x1000);
    run(&t);
    ASSERT_EQ((xl(&t, 0, 0x40000000, 1, &x), x.pa), pb);
    td_fini(&t);
}

/*
 * Lookups probe the 2 MiB and 1 GiB sets only while entries of that size
 * exist (tlb.c): such entries still hit after 4 KiB traffic, and once
 * the last of them is invalidated or flushed by a reset, new ones do too.
 */
TEST(huge_entries_hit_beside_small_ones_until_invalidated)
{
    TestDev t;
    SvmgpuXlate x;
    uint64_t pa2m, walks;
    unsigned i;

    td_init(&t);
    ctx_create(&t, 0);
    pa2m = alloc_pa(&t, 2 << 20, 2 << 20);
    map_leaf(&t, 0, 0x40000000, pa2m, 2, 0);
    map_leaf(&t, 0, 0x80000000ull, 0x40000000ull, 3, 0); /* 1 GiB, not RAM */
    map_range(&t, 0, 0x100000, 0x20000, 0);
    ASSERT_EQ((xl(&t, 0, 0x400ff008, 1, &x), x.shift), 21);
    ASSERT_EQ((xl(&t, 0, 0x80000010ull, 1, &x), x.shift), 30);
    for (i = 0; i < 32; i++) {
        ASSERT_EQ(xl(&t, 0, 0x100000 + i * 0x1000, 1, &x), SVMGPU_XLATE_OK);
    }
    walks = rd(&t, SVMGPU_REG_CNT_PAGE_WALKS);
    ASSERT_EQ(walks, 34);
    ASSERT_EQ((xl(&t, 0, 0x40100000, 1, &x), x.pa), pa2m + 0x100000);
    ASSERT_EQ((xl(&t, 0, 0xbffffff8ull, 1, &x), x.pa), 0x7ffffff8ull);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_PAGE_WALKS), walks);    /* both hit */

    /* the 2 MiB entry goes: it walks again, then hits again */
    invalidate(&t, 0, 0, 0x40000000, 0x1000);
    run(&t);
    ASSERT_EQ((xl(&t, 0, 0x40000008, 1, &x), x.pa), pa2m + 8);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_PAGE_WALKS), walks + 1);
    ASSERT_EQ((xl(&t, 0, 0x40000010, 1, &x), x.pa), pa2m + 0x10);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_PAGE_WALKS), walks + 1);

    /* a reset empties the TLB: a huge entry made after it hits */
    svmgpu_core_reset(t.core);
    wr(&t, SVMGPU_REG_CTX_TABLE_BASE, CTX_TABLE_PA);
    wr32(&t, SVMGPU_REG_CTX_TABLE_ENTRIES, 1024);
    wr32(&t, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_ENABLE);
    wr32(&t, SVMGPU_REG_CTX_ENABLE, 0);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_TLB_HITS), 0);
    ASSERT_EQ((xl(&t, 0, 0x401ffff0, 1, &x), x.pa), pa2m + 0x1ffff0);
    ASSERT_EQ((xl(&t, 0, 0x40000000, 1, &x), x.pa), pa2m);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_PAGE_WALKS), 1);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_TLB_HITS), 1);
    td_fini(&t);
}

/*
 * Two threads translating page after page of their own contexts, more
 * pages than the TLB holds, while invalidations sweep it: the TLB's lock
 * stripes (tlb.c) must give every lookup the page it maps and count every
 * lookup once.
 */
#define SHARE_PAGES     384
#define SHARE_LOOKUPS   40000

typedef struct {
    TestDev *t;
    uint32_t ctx;
    uint64_t pa[SHARE_PAGES];
    uint64_t pa2m;
    unsigned wrong;
    bool done;
} ShareArg;

static uint64_t lookups(TestDev *t)
{
    return rd(t, SVMGPU_REG_CNT_TLB_HITS) + rd(t, SVMGPU_REG_CNT_TLB_MISSES);
}

static void *share_translate(void *opaque)
{
    ShareArg *a = opaque;
    SvmgpuXlate x;
    unsigned i, k;

    for (i = 0; i < SHARE_LOOKUPS; i++) {
        if (a->ctx == 0 && i % 64 == 0) {
            k = (i * 4099u) % (2 << 20);
            a->wrong += xl(a->t, 0, 0x40000000 + k, 1, &x) != SVMGPU_XLATE_OK ||
                        x.pa != a->pa2m + k;
            continue;
        }
        k = (i * 7u) % SHARE_PAGES;
        a->wrong += xl(a->t, a->ctx, 0x100000 + k * 0x1000ull + 8, 1, &x) !=
                    SVMGPU_XLATE_OK || x.pa != a->pa[k] + 8;
    }
    __atomic_store_n(&a->done, true, __ATOMIC_RELEASE);
    return NULL;
}

TEST_TIMEOUT(120)
TEST(two_translators_share_the_tlb)
{
    TestDev t;
    ShareArg a[2];
    pthread_t th[2];
    unsigned i, k, rounds = 0;

    td_init(&t);
    memset(a, 0, sizeof(a));
    for (i = 0; i < 2; i++) {
        ctx_create(&t, i);
        a[i].t = &t;
        a[i].ctx = i;
        map_range(&t, i, 0x100000, SHARE_PAGES * 0x1000ull, 0);
        for (k = 0; k < SHARE_PAGES; k++) {
            a[i].pa[k] = *leaf_pte(&t, i, 0x100000 + k * 0x1000ull) &
                         SVMGPU_PTE_ADDR_MASK;
        }
    }
    a[0].pa2m = alloc_pa(&t, 2 << 20, 2 << 20);
    map_leaf(&t, 0, 0x40000000, a[0].pa2m, 2, 0);
    for (i = 0; i < 2; i++) {
        ASSERT_EQ(pthread_create(&th[i], NULL, share_translate, &a[i]), 0);
    }
    /* until both are done; at least one 2 MiB invalidation (round 2) */
    while (rounds < 3 || !__atomic_load_n(&a[0].done, __ATOMIC_ACQUIRE) ||
           !__atomic_load_n(&a[1].done, __ATOMIC_ACQUIRE)) {
        /* a range of either context, the 2 MiB page, a whole context */
        k = rounds % 4;
        invalidate(&t, rounds & 1, k == 3 ? SVMGPU_TLB_INV_WHOLE_CONTEXT : 0,
                   k == 2 ? 0x40000000 : 0x100000 + (rounds % 97) * 0x1000ull,
                   k == 2 ? 0x1000 : 0x10000);
        run(&t);
        rounds++;
        usleep(200);
    }
    for (i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        ASSERT_EQ(a[i].wrong, 0);
    }
    ASSERT_EQ(lookups(&t), 2 * SHARE_LOOKUPS);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_TLB_MISSES),
              rd(&t, SVMGPU_REG_CNT_PAGE_WALKS));
    ASSERT_GT(rd(&t, SVMGPU_REG_CNT_TLB_EVICTIONS), 0);
    ASSERT_GT(rd(&t, SVMGPU_REG_CNT_TLB_HITS), 0);
    td_fini(&t);
}

/*
 * Resets racing a translating thread: each round the device is reset and
 * context 0 comes back with new page tables mapping the page elsewhere.
 * A lookup that begins after round r is published must never return the
 * page of an earlier round: the reset clears the roots before it bumps
 * the TLB generation, so a walk of the old tables inserts nothing.
 */
#define RESET_ROUNDS    200

typedef struct {
    TestDev *t;
    uint64_t pa[RESET_ROUNDS];
    unsigned epoch;             /* the round published last */
    bool stop;
    unsigned stale, ok;
} ResetArg;

static void *reset_translate(void *opaque)
{
    ResetArg *a = opaque;
    SvmgpuXlate x;
    unsigned e, r;

    while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE)) {
        e = __atomic_load_n(&a->epoch, __ATOMIC_ACQUIRE);
        if (xl(a->t, 0, 0x7000, 1, &x) != SVMGPU_XLATE_OK) {
            continue;           /* between a reset and the enable */
        }
        a->ok++;
        for (r = 0; r < e; r++) {
            a->stale += x.pa == a->pa[r];
        }
    }
    return NULL;
}

static void reset_round_ctx(TestDev *t, ResetArg *a, unsigned r)
{
    struct svmgpu_ctx_entry *e = pa_ptr(t, CTX_TABLE_PA);

    t->roots[0] = alloc_page(t);
    a->pa[r] = alloc_page(t);
    map_leaf(t, 0, 0x7000, a->pa[r], 1, 0);
    e->pt_root = t->roots[0];
    e->flags = SVMGPU_CTX_VALID;
    wr32(t, SVMGPU_REG_CTX_ENABLE, 0);
}

TEST_TIMEOUT(120)
TEST(reset_racing_a_translator_leaves_no_old_entry)
{
    TestDev t;
    ResetArg a;
    pthread_t th;
    unsigned r;

    td_init(&t);
    memset(&a, 0, sizeof(a));
    a.t = &t;
    reset_round_ctx(&t, &a, 0);
    ASSERT_EQ(pthread_create(&th, NULL, reset_translate, &a), 0);
    for (r = 1; r < RESET_ROUNDS; r++) {
        usleep(100);
        svmgpu_core_reset(t.core);
        wr(&t, SVMGPU_REG_CTX_TABLE_BASE, CTX_TABLE_PA);
        wr32(&t, SVMGPU_REG_CTX_TABLE_ENTRIES, 1024);
        wr32(&t, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_ENABLE);
        reset_round_ctx(&t, &a, r);
        __atomic_store_n(&a.epoch, r, __ATOMIC_RELEASE);
    }
    usleep(1000);
    __atomic_store_n(&a.stop, true, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    ASSERT_EQ(a.stale, 0);
    ASSERT_GT(a.ok, RESET_ROUNDS);
    td_fini(&t);
}

TEST(bad_invalidation_requests_complete_as_noop)
{
    TestDev t;
    uint32_t seq;

    td_init(&t);
    seq = invalidate(&t, SVMGPU_MAX_CONTEXTS, 0, 0, 0x1000);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_ERROR_STATUS) & SVMGPU_ERROR_INVAL);
    seq = invalidate(&t, 0, 0, ~0ull - 10, 0x1000);
    run(&t);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_INV_DONE_SEQ), seq);
    ASSERT_EQ(seq, 2);
    /* W1C */
    wr32(&t, SVMGPU_REG_ERROR_STATUS, SVMGPU_ERROR_INVAL);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), 0);
    /* more requests than the queue holds still all complete */
    for (seq = 0; seq < 200; seq++) {
        invalidate(&t, 0, 0, seq << 12, 0x1000);
    }
    run(&t);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_INV_DONE_SEQ), 202);
    td_fini(&t);
}

#define I(op, rd, ra, rb, imm) SVMGPU_ISA_ENCODE(SVMGPU_OP_##op, rd, ra, rb, imm)

/*
 * Invalidation racing an in-flight command: a kernel spins reading a
 * word through page A until it sees 2.  The host re-points the page to B
 * (holding 2), invalidates, waits for completion, then poisons A.  After
 * completion the kernel must never see the poison, and must finish.
 */
TEST_TIMEOUT(60)
TEST(invalidation_races_running_kernel)
{
    SvmgpuCoreConfig cfg;
    TestDev t;
    struct svmgpu_cmd c;
    uint64_t pa_a, pa_b, code = 0x100000, data = 0x200000, out = 0x300000;
    uint64_t prog[] = {
        I(MOVI, 1, 0, 0, data),
        I(MOVI, 2, 0, 0, out),
        I(MOVI, 5, 0, 0, 0xdead),
        I(LOOP, 0, 0, 0, 0),
        I(LD64, 3, 1, 0, 0),
        I(SEQ, 4, 3, 0xff, 0xdead),
        I(IF, 0, 4, 0, 0),
        I(ST64, 0, 2, 5, 8),            /* out[1] = poison seen */
        I(ENDIF, 0, 0, 0, 0),
        I(SEQ, 4, 3, 0xff, 2),
        I(BREAK, 0, 4, 0, 0),
        I(ENDLOOP, 0, 0, 0, 0),
        I(ST64, 0, 2, 3, 0),            /* out[0] = last value */
        I(EXIT, 0, 0, 0, 0),
    };
    unsigned i;
    uint32_t seq;
    volatile uint64_t *o;

    svmgpu_core_default_config(&cfg);
    td_init_cfg(&t, &cfg);
    ctx_create(&t, 0);
    map_range(&t, 0, code, 0x1000, 0);
    map_range(&t, 0, out, 0x1000, SVMGPU_PTE_WRITABLE);
    memcpy(va_ptr(&t, 0, code), prog, sizeof(prog));
    pa_a = alloc_page(&t);
    pa_b = alloc_page(&t);
    *(uint64_t *)pa_ptr(&t, pa_a) = 1;
    *(uint64_t *)pa_ptr(&t, pa_b) = 2;
    map_leaf(&t, 0, data, pa_a, 1, 0);
    o = va_ptr(&t, 0, out);
    queue_setup(&t, 0, 0, 16);
    td_start_threads(&t, cfg.num_engines);

    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_LAUNCH;
    c.launch.code_va = code;
    c.launch.grid_x = c.launch.grid_y = c.launch.grid_z = 1;
    c.launch.wg_size = 1;
    c.launch.budget = 1ull << 40;
    push(&t, 0, &c);
    doorbell(&t, 0);
    /* let it spin through the TLB for a while */
    for (i = 0; i < 5000 && rd(&t, SVMGPU_REG_CNT_INSTRUCTIONS) < 20000; i++) {
        usleep(1000);
    }
    ASSERT_GE(rd(&t, SVMGPU_REG_CNT_INSTRUCTIONS), 20000);
    ASSERT_EQ(o[0], 0);
    __atomic_store_n(leaf_pte(&t, 0, data), pa_b | SVMGPU_PTE_VALID,
                     __ATOMIC_SEQ_CST);
    seq = invalidate(&t, 0, 0, data, 0x1000);
    while ((int32_t)(rd32(&t, SVMGPU_REG_TLB_INV_DONE_SEQ) - seq) < 0) {
        usleep(100);
    }
    __atomic_store_n((uint64_t *)pa_ptr(&t, pa_a), 0xdead, __ATOMIC_SEQ_CST);
    for (i = 0; i < 20000 && compl(&t, 0)->seq != c.hdr.seq; i++) {
        usleep(1000);
    }
    ASSERT_EQ(compl(&t, 0)->seq, c.hdr.seq);
    ASSERT_EQ(compl(&t, 0)->err_code, 0);
    ASSERT_EQ(o[0], 2);
    ASSERT_EQ(o[1], 0);             /* never used the stale page */
    td_fini(&t);
}

TEST_HARNESS_MAIN
