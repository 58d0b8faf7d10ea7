/*
 * svmgpu core: page-table walker — every leaf size with every permission,
 * and every malformed-entry case of docs/hw-spec.md §5.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "test-env.h"
#include "internal.h"

#define VA_1G   0x0000004000000000ull   /* 1 GiB aligned */

static const uint64_t perms[] = { 0, SVMGPU_PTE_WRITABLE };
static const unsigned accesses[] = {
    SVMGPU_ACCESS_READ, SVMGPU_ACCESS_WRITE, SVMGPU_ACCESS_ATOMIC,
};

/* Every leaf level x permission x access kind, through the raw walker. */
TEST(walk_leaf_sizes_and_permissions)
{
    TestDev t;
    int lvl;
    unsigned p, a;

    td_init(&t);
    ctx_create(&t, 0);
    for (lvl = 1; lvl <= 3; lvl++) {
        for (p = 0; p < 2; p++) {
            uint64_t shift = SVMGPU_PT_LEVEL_SHIFT(lvl);
            uint64_t va = VA_1G * (1 + lvl * 2 + p);
            uint64_t pa = lvl == 3 ? RAM_BASE :
                          alloc_pa(&t, 1ull << shift, 1ull << shift);
            uint64_t off = lvl == 1 ? 0x123 : (1ull << shift) - 0x1000 + 0x10;

            map_leaf(&t, 0, va, pa, lvl, perms[p]);
            for (a = 0; a < 3; a++) {
                SvmgpuXlate x;
                SvmgpuXlateStatus st;

                st = svmgpu_mmu_walk(t.core, t.roots[0], va + off,
                                     accesses[a], &x);
                if (accesses[a] != SVMGPU_ACCESS_READ && !perms[p]) {
                    ASSERT_EQ(st, SVMGPU_XLATE_FAULT);
                    ASSERT_EQ(x.reason, SVMGPU_FAULT_WRITE_PROTECT);
                } else {
                    ASSERT_EQ(st, SVMGPU_XLATE_OK);
                }
                ASSERT_EQ(x.pa, pa + off);
                ASSERT_EQ(x.shift, shift);
                ASSERT_EQ(x.len, (1ull << shift) - off);
                ASSERT_EQ(x.writable, !!perms[p]);
            }
        }
    }
    td_fini(&t);
}

/* The same through commands: COPY reads and writes each leaf size. */
TEST(copy_through_each_leaf_size)
{
    TestDev t;
    struct svmgpu_cmd c;
    int lvl;

    td_init(&t);
    ctx_create(&t, 0);
    queue_setup(&t, 0, 0, 16);
    map_range(&t, 0, 0x10000, 0x2000, SVMGPU_PTE_WRITABLE);
    for (lvl = 1; lvl <= 3; lvl++) {
        uint64_t shift = SVMGPU_PT_LEVEL_SHIFT(lvl);
        uint64_t va = VA_1G * (8 + lvl);
        uint64_t pa = lvl == 3 ? RAM_BASE :
                      alloc_pa(&t, 1ull << shift, 1ull << shift);
        uint64_t off = (1ull << shift) - 0x800;   /* last 2 KiB of the leaf */
        uint8_t *src = pa_ptr(&t, pa + off);
        unsigned i;

        if (lvl == 3) {
            off = 0x200000 - 0x800;
            src = pa_ptr(&t, pa + off);
        }
        map_leaf(&t, 0, va, pa, lvl, SVMGPU_PTE_WRITABLE);
        for (i = 0; i < 0x800; i++) {
            src[i] = i * 7 + lvl;
        }
        c = cmd_copy(0x10000, va + off, 0x800);
        submit(&t, 0, &c);
        ASSERT_EQ(compl(&t, 0)->seq, c.hdr.seq);
        ASSERT_EQ(compl(&t, 0)->err_code, 0);
        ASSERT_EQ(memcmp(va_ptr(&t, 0, 0x10000), src, 0x800), 0);
        /* and write back into the leaf */
        memset(va_ptr(&t, 0, 0x11000), 0xa5, 0x100);
        c = cmd_copy(va + off + 0x10, 0x11000, 0x100);
        submit(&t, 0, &c);
        ASSERT_EQ(compl(&t, 0)->err_code, 0);
        ASSERT_EQ(src[0x10], 0xa5);
        ASSERT_EQ(src[0x10f], 0xa5);
        ASSERT_EQ(src[0x110], (uint8_t)(0x110 * 7 + lvl));
    }
    td_fini(&t);
}

static SvmgpuXlateStatus walk(TestDev *t, uint64_t va, unsigned acc,
                              SvmgpuXlate *x)
{
    return svmgpu_mmu_walk(t->core, t->roots[0], va, acc, x);
}

TEST(not_present_at_every_level)
{
    TestDev t;
    SvmgpuXlate x;
    uint64_t va = 0x123456789000ull;
    int lvl;

    td_init(&t);
    ctx_create(&t, 0);
    map_leaf(&t, 0, va, alloc_page(&t), 1, 0);
    ASSERT_EQ(walk(&t, va, SVMGPU_ACCESS_READ, &x), SVMGPU_XLATE_OK);
    for (lvl = 1; lvl <= 4; lvl++) {
        uint64_t table = t.roots[0], *p = NULL, saved;
        int l;

        for (l = 4; l >= lvl; l--) {
            p = pte_slot(&t, table, va, l);
            table = *p & SVMGPU_PTE_ADDR_MASK;
        }
        saved = *p;
        *p &= ~SVMGPU_PTE_VALID;
        ASSERT_EQ(walk(&t, va, SVMGPU_ACCESS_READ, &x), SVMGPU_XLATE_FAULT);
        ASSERT_EQ(x.reason, SVMGPU_FAULT_NOT_PRESENT);
        *p = saved;
    }
    td_fini(&t);
}

TEST(malformed_entries_are_bad_pte)
{
    TestDev t;
    SvmgpuXlate x;
    uint64_t va = 0x200000000ull, *p;

    td_init(&t);
    ctx_create(&t, 0);
    map_leaf(&t, 0, va, alloc_page(&t), 1, SVMGPU_PTE_WRITABLE);
    p = leaf_pte(&t, 0, va);

    /* reserved bits 63:52 */
    *p |= 1ull << 60;
    ASSERT_EQ(walk(&t, va, SVMGPU_ACCESS_READ, &x), SVMGPU_XLATE_FAULT);
    ASSERT_EQ(x.reason, SVMGPU_FAULT_BAD_PTE);
    *p &= ~(1ull << 60);
    /* device-local and reserved apertures */
    *p |= SVMGPU_APERTURE_LOCAL << SVMGPU_PTE_APERTURE_SHIFT;
    ASSERT_EQ(walk(&t, va, SVMGPU_ACCESS_READ, &x), SVMGPU_XLATE_FAULT);
    ASSERT_EQ(x.reason, SVMGPU_FAULT_BAD_PTE);
    *p |= SVMGPU_PTE_APERTURE_MASK;
    ASSERT_EQ(walk(&t, va, SVMGPU_ACCESS_READ, &x), SVMGPU_XLATE_FAULT);
    *p &= ~SVMGPU_PTE_APERTURE_MASK;
    /* software bits are ignored */
    *p |= SVMGPU_PTE_SW_MASK;
    ASSERT_EQ(walk(&t, va, SVMGPU_ACCESS_WRITE, &x), SVMGPU_XLATE_OK);

    /* LEAF at level 4 */
    p = pte_slot(&t, t.roots[0], 0x8000000000ull * 3, 4);
    *p = RAM_BASE | SVMGPU_PTE_VALID | SVMGPU_PTE_LEAF;
    ASSERT_EQ(walk(&t, 0x8000000000ull * 3, SVMGPU_ACCESS_READ, &x),
              SVMGPU_XLATE_FAULT);
    ASSERT_EQ(x.reason, SVMGPU_FAULT_BAD_PTE);

    /* misaligned 2M and 1G leaves */
    map_leaf(&t, 0, 0x40000000ull * 5, RAM_BASE + 0x1000, 2, 0);
    ASSERT_EQ(walk(&t, 0x40000000ull * 5, SVMGPU_ACCESS_READ, &x),
              SVMGPU_XLATE_FAULT);
    ASSERT_EQ(x.reason, SVMGPU_FAULT_BAD_PTE);
    map_leaf(&t, 0, 0x40000000ull * 9, RAM_BASE + 0x200000, 3, 0);
    ASSERT_EQ(walk(&t, 0x40000000ull * 9, SVMGPU_ACCESS_READ, &x),
              SVMGPU_XLATE_FAULT);
    ASSERT_EQ(x.reason, SVMGPU_FAULT_BAD_PTE);
    td_fini(&t);
}

TEST(table_outside_ram_is_walk_dma)
{
    TestDev t;
    SvmgpuXlate x;
    uint64_t va = 0x7000000000ull;

    td_init(&t);
    ctx_create(&t, 0);
    *pte_slot(&t, t.roots[0], va, 4) = 0x1000 | SVMGPU_PTE_VALID;
    ASSERT_EQ(walk(&t, va, SVMGPU_ACCESS_READ, &x), SVMGPU_XLATE_FAULT);
    ASSERT_EQ(x.reason, SVMGPU_FAULT_WALK_DMA);
    /* the biggest address a PTE can hold */
    *pte_slot(&t, t.roots[0], va, 4) = SVMGPU_PTE_ADDR_MASK | SVMGPU_PTE_VALID;
    ASSERT_EQ(walk(&t, va, SVMGPU_ACCESS_READ, &x), SVMGPU_XLATE_FAULT);
    ASSERT_EQ(x.reason, SVMGPU_FAULT_WALK_DMA);
    td_fini(&t);
}

/* A table that points at itself is walked exactly four times. */
TEST(cyclic_tables_terminate)
{
    TestDev t;
    SvmgpuXlate x;
    uint64_t *root;
    unsigned i, before;

    td_init(&t);
    ctx_create(&t, 0);
    root = pa_ptr(&t, t.roots[0]);
    for (i = 0; i < 512; i++) {
        root[i] = t.roots[0] | SVMGPU_PTE_VALID | SVMGPU_PTE_WRITABLE;
    }
    before = atomic_load(&t.dma_reads);
    ASSERT_EQ(walk(&t, 0x0000123456789abcull, SVMGPU_ACCESS_WRITE, &x),
              SVMGPU_XLATE_OK);
    ASSERT_EQ(atomic_load(&t.dma_reads) - before, 4);
    ASSERT_EQ(x.pa, t.roots[0] + 0xabc);
    td_fini(&t);
}

TEST(translate_rejects_wide_va_and_disabled_ctx)
{
    TestDev t;
    SvmgpuXlate x;

    td_init(&t);
    ctx_create(&t, 0);
    ASSERT_EQ(svmgpu_mmu_translate(t.core, 0, 1ull << 48, 1, &x),
              SVMGPU_XLATE_INVALID_VA);
    ASSERT_EQ(svmgpu_mmu_translate(t.core, 0, ~0ull, 1, &x),
              SVMGPU_XLATE_INVALID_VA);
    ASSERT_EQ(svmgpu_mmu_translate(t.core, 5, 0x1000, 1, &x),
              SVMGPU_XLATE_CTX_INVALID);
    ASSERT_EQ(svmgpu_mmu_translate(t.core, SVMGPU_MAX_CONTEXTS, 0x1000, 1, &x),
              SVMGPU_XLATE_CTX_INVALID);
    td_fini(&t);
}

/*
 * Tables the guest places (context table, fault ring, command rings, save
 * areas) never wrap past 2^64 to address 0; one may end exactly there.
 */
TEST(table_entries_never_wrap_to_address_0)
{
    uint64_t addr = 1;

    ASSERT_TRUE(svmgpu_table_entry(0x1000, 3, 32, &addr));
    ASSERT_EQ(addr, 0x1060);
    ASSERT_TRUE(svmgpu_table_entry(0xfffffffffffff000ull, 127, 32, &addr));
    ASSERT_EQ(addr, 0xffffffffffffffe0ull);
    addr = 1;
    ASSERT_FALSE(svmgpu_table_entry(0xfffffffffffff000ull, 128, 32, &addr));
    ASSERT_FALSE(svmgpu_table_entry(0xfffffffffffff000ull, 0,
                                    SVMGPU_SAVE_AREA_SIZE, &addr));
    ASSERT_FALSE(svmgpu_table_entry(0xffffffffffffffe1ull, 0, 32, &addr));
    ASSERT_EQ(addr, 1);                 /* untouched when refused */
    ASSERT_TRUE(svmgpu_ring_entry(0xffffffffffffe000ull, 63, 64, &addr));
    ASSERT_EQ(addr, 0xffffffffffffefc0ull);
    ASSERT_TRUE(svmgpu_ring_entry(0xffffffffffffe000ull, 64 + 63, 128, &addr));
    ASSERT_EQ(addr, 0xffffffffffffffc0ull);
    ASSERT_FALSE(svmgpu_ring_entry(0xffffffffffffe000ull, 128, 256, &addr));
    ASSERT_EQ(addr, 0xffffffffffffe000ull);     /* the base, for the error */
}

TEST_HARNESS_MAIN
