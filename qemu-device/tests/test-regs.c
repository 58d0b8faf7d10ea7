/*
 * svmgpu core: the register file — identification, reset values, access
 * sizes and split 64-bit accesses, W1C and masks, contexts, reset, and
 * arbitrary register writes in arbitrary order.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "test-env.h"

TEST(identification_and_reset_values)
{
    TestDev t;
    SvmgpuCoreConfig cfg;

    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    cfg.local_mem_size = 1ull << 33;
    t.ram = NULL;
    td_init_cfg(&t, &cfg);
    svmgpu_core_reset(t.core);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ID), SVMGPU_ID_MAGIC);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_VERSION), 0x00010002);   /* 1.2: FFMA */
    ASSERT_EQ(rd32(&t, SVMGPU_REG_NUM_QUEUES), 8);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_NUM_ENGINES), 2);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_SETS), 64);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_WAYS), 4);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_RING_ENTRIES), 256);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_NUM_CONTEXTS), 4096);
    ASSERT_EQ(rd(&t, SVMGPU_REG_LOCAL_MEM_SIZE), 1ull << 33);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_LOCAL_MEM_SIZE + 4), 2);
    /* bit4: local memory, bit5: preempt, bit6: FFMA/DFMA */
    ASSERT_EQ(rd32(&t, SVMGPU_REG_CAPS), 0x7f);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_LINK_BANDWIDTH), 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_LINK_LATENCY), 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_CONTROL), 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_STATUS), SVMGPU_STATUS_IDLE);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INTR_STATUS), 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INTR_MASK), 0);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CTX_TABLE_BASE), 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_STATUS)), SVMGPU_Q_STATUS_IDLE);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(7, SVMGPU_Q_SIZE)), 0);
    /* absent queue and undefined offsets read 0 */
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(8, SVMGPU_Q_STATUS)), 0);
    ASSERT_EQ(rd32(&t, 0x0ff0), 0);
    ASSERT_EQ(rd32(&t, 0xfffc), 0);
    td_fini(&t);
}

TEST(bad_configs_are_rejected)
{
    SvmgpuCoreConfig cfg;
    const char *err = NULL;

    svmgpu_core_default_config(&cfg);
    cfg.num_queues = 17;
    ASSERT_NULL(svmgpu_core_new(&cfg, &td_ops, NULL, &err));
    ASSERT_NOT_NULL(err);
    svmgpu_core_default_config(&cfg);
    cfg.tlb_sets = 3;
    ASSERT_NULL(svmgpu_core_new(&cfg, &td_ops, NULL, &err));
    svmgpu_core_default_config(&cfg);
    cfg.tlb_ways = 0;
    ASSERT_NULL(svmgpu_core_new(&cfg, &td_ops, NULL, &err));
    svmgpu_core_default_config(&cfg);
    cfg.fault_ring_entries = 2;
    ASSERT_NULL(svmgpu_core_new(&cfg, &td_ops, NULL, &err));
    svmgpu_core_default_config(&cfg);
    cfg.num_engines = 0;
    ASSERT_NULL(svmgpu_core_new(&cfg, &td_ops, NULL, &err));
    /* an unknown compute engine is an error, not the fast one */
    svmgpu_core_default_config(&cfg);
    cfg.engine = SVMGPU_ENGINE_REFERENCE + 1;
    err = NULL;
    ASSERT_NULL(svmgpu_core_new(&cfg, &td_ops, NULL, &err));
    ASSERT_STREQ(err, "engine must be SVMGPU_ENGINE_FAST or "
                 "SVMGPU_ENGINE_REFERENCE");
}

/* hw-spec §2: local-mem-size is 0 or a multiple of 2 MiB up to 64 GiB */
TEST(bad_local_memory_configs_are_rejected)
{
    static const uint64_t bad[] = {
        4096, (2ull << 20) + 4096, (1ull << 20), SVMGPU_LOCAL_MEM_MAX + (2 << 20),
        SVMGPU_LOCAL_MEM_MAX * 2, ~0ull & ~((2ull << 20) - 1),
    };
    static uint8_t dummy[1];
    SvmgpuCoreConfig cfg;
    const char *err;
    unsigned i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        svmgpu_core_default_config(&cfg);
        cfg.local_mem_size = bad[i];
        cfg.local_mem = dummy;
        err = NULL;
        ASSERT_NULL(svmgpu_core_new(&cfg, &td_ops, NULL, &err));
        ASSERT_STREQ(err, "local-mem-size must be 0 or a multiple of 2 MiB "
                     "up to 64 GiB");
    }
    /* a size without memory, memory without a size */
    svmgpu_core_default_config(&cfg);
    cfg.local_mem_size = 2ull << 20;
    err = NULL;
    ASSERT_NULL(svmgpu_core_new(&cfg, &td_ops, NULL, &err));
    ASSERT_STREQ(err, "local memory needs both a size and a host pointer");
    svmgpu_core_default_config(&cfg);
    cfg.local_mem = dummy;
    err = NULL;
    ASSERT_NULL(svmgpu_core_new(&cfg, &td_ops, NULL, &err));
    ASSERT_STREQ(err, "local memory needs both a size and a host pointer");
}

/* No local memory: CAPS bit 4 clear, LOCAL_MEM_SIZE 0; the link registers */
TEST(caps_without_local_memory_and_link_registers)
{
    TestDev t;
    SvmgpuCoreConfig cfg;

    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    cfg.link_bandwidth = 16000;
    cfg.link_latency = 500;
    td_init_cfg(&t, &cfg);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_CAPS), 0x6f);
    ASSERT_EQ(rd(&t, SVMGPU_REG_LOCAL_MEM_SIZE), 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_LINK_BANDWIDTH), 16000);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_LINK_LATENCY), 500);
    /* RO */
    wr32(&t, SVMGPU_REG_LINK_BANDWIDTH, 1);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_LINK_BANDWIDTH), 16000);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_LINK_READ_BYTES), 0);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_LOCAL_WRITE_BYTES), 0);
    td_fini(&t);
}

TEST(access_sizes_and_split_64bit)
{
    TestDev t;

    td_init(&t);
    /* 64-bit register written as two halves */
    wr32(&t, SVMGPU_REG_TLB_INV_START, 0x89abc000);
    wr32(&t, SVMGPU_REG_TLB_INV_START + 4, 0x1234);
    ASSERT_EQ(rd(&t, SVMGPU_REG_TLB_INV_START), 0x0000123489abc000ull);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_INV_START + 4), 0x1234);
    /* low half alone keeps the high half */
    wr32(&t, SVMGPU_REG_TLB_INV_START, 0x1000);
    ASSERT_EQ(rd(&t, SVMGPU_REG_TLB_INV_START), 0x0000123400001000ull);
    /* base registers drop their low bits */
    wr(&t, SVMGPU_REG_CTX_TABLE_BASE, RAM_BASE + 0x123);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CTX_TABLE_BASE), RAM_BASE);
    /* unsupported sizes and misaligned accesses are ignored */
    ASSERT_EQ(svmgpu_core_mmio_read(t.core, SVMGPU_REG_ID, 2), 0);
    ASSERT_EQ(svmgpu_core_mmio_read(t.core, SVMGPU_REG_ID + 2, 4), 0);
    ASSERT_EQ(svmgpu_core_mmio_read(t.core, SVMGPU_REG_ID + 4, 8), 0);
    ASSERT_EQ(svmgpu_core_mmio_read(t.core, SVMGPU_BAR_REGS_SIZE, 4), 0);
    svmgpu_core_mmio_write(t.core, SVMGPU_REG_INTR_MASK, 5, 1);
    svmgpu_core_mmio_write(t.core, SVMGPU_BAR_REGS_SIZE - 4, 5, 8);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INTR_MASK), 0);
    /* read-only registers ignore writes */
    wr32(&t, SVMGPU_REG_ID, 0);
    wr32(&t, SVMGPU_REG_FAULT_PUT, 5);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ID), SVMGPU_ID_MAGIC);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 0);
    ASSERT_GE(atomic_load(&t.guest_errors), 3);
    td_fini(&t);
}

TEST(w1c_and_interrupt_mask)
{
    TestDev t;

    td_init(&t);
    wr32(&t, SVMGPU_REG_CTX_ENABLE, 5000);          /* error */
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), SVMGPU_ERROR_CTX);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_ERROR);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INTR_STATUS), SVMGPU_INTR_ERROR);
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_ERROR]), 1);
    ASSERT_TRUE(svmgpu_core_intx_level(t.core));
    wr32(&t, SVMGPU_REG_ERROR_STATUS, 0);           /* writing 0 clears nothing */
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), SVMGPU_ERROR_CTX);
    wr32(&t, SVMGPU_REG_ERROR_STATUS, SVMGPU_ERROR_CTX);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), 0);
    wr32(&t, SVMGPU_REG_INTR_STATUS, SVMGPU_INTR_ERROR);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INTR_STATUS), 0);
    ASSERT_FALSE(svmgpu_core_intx_level(t.core));
    /* masked: latched but not signalled; unmasking signals */
    wr32(&t, SVMGPU_REG_INTR_MASK, SVMGPU_INTR_ERROR);
    wr32(&t, SVMGPU_REG_CTX_ENABLE, 5000);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INTR_STATUS), SVMGPU_INTR_ERROR);
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_ERROR]), 1);
    ASSERT_FALSE(svmgpu_core_intx_level(t.core));
    wr32(&t, SVMGPU_REG_INTR_MASK, 0);
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_ERROR]), 2);
    ASSERT_TRUE(svmgpu_core_intx_level(t.core));
    td_fini(&t);
}

TEST(contexts)
{
    TestDev t;
    struct svmgpu_ctx_entry *e;
    uint64_t reads;

    td_init(&t);
    ctx_create(&t, 3);
    wr32(&t, SVMGPU_REG_CTX_SELECT, 3);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_CTX_STATE), SVMGPU_CTX_STATE_ENABLED);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), 0);
    /* invalid entry, misaligned root, beyond the table, table outside RAM */
    e = pa_ptr(&t, CTX_TABLE_PA + 4 * 32);
    e->pt_root = alloc_page(&t);
    wr32(&t, SVMGPU_REG_CTX_ENABLE, 4);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), SVMGPU_ERROR_CTX);
    ASSERT_EQ(rd(&t, SVMGPU_REG_ERROR_ADDR), CTX_TABLE_PA + 4 * 32);
    wr32(&t, SVMGPU_REG_ERROR_STATUS, ~0u);
    e->flags = SVMGPU_CTX_VALID;
    e->pt_root |= 8;
    wr32(&t, SVMGPU_REG_CTX_ENABLE, 4);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), SVMGPU_ERROR_CTX);
    wr32(&t, SVMGPU_REG_ERROR_STATUS, ~0u);
    /* bits above 51 are not an address to mask away */
    e->pt_root = (e->pt_root & ~8ull) | 1ull << 60;
    wr32(&t, SVMGPU_REG_CTX_ENABLE, 4);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), SVMGPU_ERROR_CTX);
    wr32(&t, SVMGPU_REG_CTX_SELECT, 4);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_CTX_STATE), 0);
    wr32(&t, SVMGPU_REG_CTX_SELECT, 3);
    wr32(&t, SVMGPU_REG_ERROR_STATUS, ~0u);
    wr32(&t, SVMGPU_REG_CTX_ENABLE, 1024);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), SVMGPU_ERROR_CTX);
    wr32(&t, SVMGPU_REG_ERROR_STATUS, ~0u);
    wr32(&t, SVMGPU_REG_CTX_TABLE_ENTRIES, 100000);     /* clamped */
    ASSERT_EQ(rd32(&t, SVMGPU_REG_CTX_TABLE_ENTRIES), SVMGPU_MAX_CONTEXTS);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), SVMGPU_ERROR_REG);
    wr32(&t, SVMGPU_REG_ERROR_STATUS, ~0u);
    wr(&t, SVMGPU_REG_CTX_TABLE_BASE, 0x7fff0000000ull);
    wr32(&t, SVMGPU_REG_CTX_ENABLE, 3);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), SVMGPU_ERROR_CTX);
    /* an entry past 2^64 is not read at its wrapped address (0): the base is reported */
    wr32(&t, SVMGPU_REG_ERROR_STATUS, ~0u);
    wr(&t, SVMGPU_REG_CTX_TABLE_BASE, 0xfffffffffffff000ull);
    reads = atomic_load(&t.dma_reads);
    wr32(&t, SVMGPU_REG_CTX_ENABLE, 128);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), SVMGPU_ERROR_CTX);
    ASSERT_EQ(rd(&t, SVMGPU_REG_ERROR_ADDR), 0xfffffffffffff000ull);
    ASSERT_EQ(atomic_load(&t.dma_reads), reads);
    wr32(&t, SVMGPU_REG_CTX_SELECT, 3);
    /* disable queues a whole-context invalidation */
    wr32(&t, SVMGPU_REG_CTX_DISABLE, 3);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_CTX_STATE), 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_INV_REQ_SEQ), 1);
    run(&t);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_INV_DONE_SEQ), 1);
    wr32(&t, SVMGPU_REG_CTX_DISABLE, 99999);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_ERROR_STATUS) & SVMGPU_ERROR_REG);
    td_fini(&t);
}

/* A function reset (FLR) from inside CTX_ENABLE's read of the entry. */
static TestDev *flr_dev;
static bool flr_fails_read;
static SvmgpuCoreOps flr_ops;   /* the core keeps a pointer to its ops */

static int flr_dma_read(void *opaque, uint64_t addr, void *buf, uint64_t len)
{
    if (flr_dev && addr == CTX_TABLE_PA + 3 * 32ull) {
        flr_dev = NULL;
        svmgpu_core_reset(((TestDev *)opaque)->core);
        if (flr_fails_read) {
            return -1;
        }
    }
    return td_dma_read(opaque, addr, buf, len);
}

/*
 * A reset in the middle of CTX_ENABLE (an IOMMU's event write can do an
 * FLR from inside the device's DMA) ends it: whether the read then fails or
 * returns a valid entry, the reset device has no error latched, no error
 * vector sent and no context enabled (§12).
 */
TEST(reset_during_ctx_enable_leaves_nothing)
{
    SvmgpuCoreConfig cfg;
    struct svmgpu_ctx_entry *e;
    TestDev t;
    int fails;

    for (fails = 0; fails < 2; fails++) {
        svmgpu_core_default_config(&cfg);
        cfg.sync = true;
        flr_ops = td_ops;
        flr_ops.dma_read = flr_dma_read;
        td_init_ops(&t, &cfg, &flr_ops);
        e = pa_ptr(&t, CTX_TABLE_PA + 3 * 32);
        e->pt_root = alloc_page(&t);
        e->flags = SVMGPU_CTX_VALID;
        flr_fails_read = fails;
        flr_dev = &t;
        wr32(&t, SVMGPU_REG_CTX_ENABLE, 3);
        ASSERT_NULL(flr_dev);
        ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), 0);
        ASSERT_EQ(rd(&t, SVMGPU_REG_ERROR_ADDR), 0);
        ASSERT_EQ(rd32(&t, SVMGPU_REG_INTR_STATUS), 0);
        ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_ERROR]), 0);
        wr32(&t, SVMGPU_REG_CTX_SELECT, 3);
        ASSERT_NE(rd32(&t, SVMGPU_REG_CTX_STATE), SVMGPU_CTX_STATE_ENABLED);
        td_fini(&t);
    }
}

TEST(soft_reset_clears_everything)
{
    TestDev t;
    struct svmgpu_cmd c;

    td_init(&t);
    ctx_create(&t, 0);
    queue_setup(&t, 0, 0, 16);
    map_range(&t, 0, 0x10000, 0x1000, SVMGPU_PTE_WRITABLE);
    c = cmd_signal(0x10000, 1);
    submit(&t, 0, &c);
    c = cmd_copy(0x10000, 0x90000, 8);      /* stalls on a fault */
    submit(&t, 0, &c);
    wr32(&t, SVMGPU_REG_INTR_MASK, 0x10);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 1);
    ASSERT_GT(rd(&t, SVMGPU_REG_CNT_TLB_MISSES), 0);
    wr32(&t, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_RESET | SVMGPU_CONTROL_ENABLE);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_CONTROL), 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_STATUS), SVMGPU_STATUS_IDLE);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_SEQ), 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INTR_MASK), 0);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_TLB_MISSES), 0);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_COMMANDS), 0);
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(0, SVMGPU_Q_BASE)), 0);
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(0, SVMGPU_Q_COMPL_SEQ)), 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_STATUS)), SVMGPU_Q_STATUS_IDLE);
    wr32(&t, SVMGPU_REG_CTX_SELECT, 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_CTX_STATE), 0);
    /* the TLB is empty: after re-setup the old translation is gone */
    td_fini(&t);
}

/* Random register writes of any value in any order never break the core. */
TEST(random_register_storm)
{
    TestDev t;
    unsigned i;
    uint64_t x = 0x9e3779b97f4a7c15ull;

    td_init(&t);
    ctx_create(&t, 0);
    queue_setup(&t, 0, 0, 16);
    for (i = 0; i < 200000; i++) {
        uint64_t off;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        off = (x >> 8) & 0x1ffc;
        if (off == SVMGPU_REG_CONTROL && (x & 2)) {
            continue;       /* keep resets rare */
        }
        if (x & 1) {
            wr(&t, off & ~7ull, x * 0x2545f4914f6cdd1dull);
        } else {
            wr32(&t, off, (uint32_t)(x >> 32));
        }
        if ((i & 63) == 0) {
            run(&t);
        }
        rd32(&t, (x >> 20) & 0x1ffc);
    }
    run(&t);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ID), SVMGPU_ID_MAGIC);
    td_fini(&t);
}

TEST_HARNESS_MAIN
