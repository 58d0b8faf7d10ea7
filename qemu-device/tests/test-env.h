/*
 * Host test environment for the svmgpu core: a flat fake RAM for DMA,
 * counted interrupts, a manual clock, and helpers to build contexts, page
 * tables and queues.  The core runs in sync mode unless a test starts the
 * engine threads itself.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SVMGPU_TEST_ENV_H
#define SVMGPU_TEST_ENV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "svmgpu_test.h"
#include "svmgpu_core.h"

#define RAM_BASE        0x40000000ull   /* 1 GiB aligned: 1G leaves hit RAM */
#define RAM_SIZE        (64ull << 20)
#define CTX_TABLE_PA    RAM_BASE
#define FAULT_RING_PA   (RAM_BASE + 0x10000)
#define ALLOC_START     (RAM_BASE + 0x100000)

typedef struct TestDev {
    SvmgpuCore *core;
    uint8_t *ram;
    uint64_t next_pa;
    uint64_t now;
    atomic_uint irqs[64];
    atomic_uint guest_errors;
    atomic_uint dma_reads;
    atomic_int maps;            /* outstanding map() calls */
    uint64_t roots[8];
    struct { uint64_t ring, compl; uint32_t size, tail; } q[SVMGPU_MAX_QUEUES];
    pthread_t threads[SVMGPU_MAX_ENGINES + 1];
    unsigned nthreads;
    uint64_t seq;
} TestDev;

static inline void *pa_ptr(TestDev *t, uint64_t pa)
{
    return t->ram + (pa - RAM_BASE);
}

static int td_dma_read(void *opaque, uint64_t addr, void *buf, uint64_t len)
{
    TestDev *t = opaque;

    atomic_fetch_add(&t->dma_reads, 1);
    if (addr < RAM_BASE || len > RAM_SIZE || addr - RAM_BASE > RAM_SIZE - len) {
        return -1;
    }
    memcpy(buf, pa_ptr(t, addr), len);
    return 0;
}

static int td_dma_write(void *opaque, uint64_t addr, const void *buf,
                        uint64_t len)
{
    TestDev *t = opaque;

    if (addr < RAM_BASE || len > RAM_SIZE || addr - RAM_BASE > RAM_SIZE - len) {
        return -1;
    }
    memcpy(pa_ptr(t, addr), buf, len);
    return 0;
}

static void *td_map(void *opaque, uint64_t addr, uint64_t *len, bool is_write)
{
    TestDev *t = opaque;

    if (addr < RAM_BASE || addr - RAM_BASE >= RAM_SIZE) {
        return NULL;
    }
    if (*len > RAM_SIZE - (addr - RAM_BASE)) {
        *len = RAM_SIZE - (addr - RAM_BASE);
    }
    atomic_fetch_add(&t->maps, 1);
    return pa_ptr(t, addr);
}

static void td_unmap(void *opaque, void *ptr, uint64_t len, bool is_write)
{
    TestDev *t = opaque;

    atomic_fetch_sub(&t->maps, 1);
}

static void td_irq(void *opaque, unsigned vector)
{
    TestDev *t = opaque;

    if (vector < 64) {
        atomic_fetch_add(&t->irqs[vector], 1);
    }
}

static uint64_t td_now(void *opaque)
{
    TestDev *t = opaque;

    return __atomic_load_n(&t->now, __ATOMIC_RELAXED);
}

static void td_guest_error(void *opaque, const char *msg)
{
    TestDev *t = opaque;

    atomic_fetch_add(&t->guest_errors, 1);
    if (getenv("SVMGPU_TEST_VERBOSE")) {
        printf("# guest error: %s\n", msg);
    }
}

static const SvmgpuCoreOps td_ops = {
    .dma_read = td_dma_read,
    .dma_write = td_dma_write,
    .map = td_map,
    .unmap = td_unmap,
    .irq = td_irq,
    .now_ns = td_now,
    .guest_error = td_guest_error,
};

static inline uint64_t rd(TestDev *t, uint64_t off)
{
    return svmgpu_core_mmio_read(t->core, off, 8);
}

static inline uint32_t rd32(TestDev *t, uint64_t off)
{
    return svmgpu_core_mmio_read(t->core, off, 4);
}

static inline void wr(TestDev *t, uint64_t off, uint64_t v)
{
    svmgpu_core_mmio_write(t->core, off, v, 8);
}

static inline void wr32(TestDev *t, uint64_t off, uint32_t v)
{
    svmgpu_core_mmio_write(t->core, off, v, 4);
}

static inline void run(TestDev *t)
{
    svmgpu_core_run_sync(t->core);
}

static inline uint64_t alloc_pa(TestDev *t, uint64_t size, uint64_t align)
{
    uint64_t pa = (t->next_pa + align - 1) & ~(align - 1);

    if (pa + size > RAM_BASE + RAM_SIZE) {
        printf("# test RAM exhausted\n");
        abort();
    }
    t->next_pa = pa + size;
    memset(pa_ptr(t, pa), 0, size);
    return pa;
}

static inline uint64_t alloc_page(TestDev *t)
{
    return alloc_pa(t, 4096, 4096);
}

/* Configure a device: ctx table, fault ring, enabled. */
/* The same environment without the map() fast path (bounce buffers). */
static const SvmgpuCoreOps td_ops_nomap = {
    .dma_read = td_dma_read,
    .dma_write = td_dma_write,
    .irq = td_irq,
    .now_ns = td_now,
    .guest_error = td_guest_error,
};

static inline void td_init_ops(TestDev *t, const SvmgpuCoreConfig *cfg,
                               const SvmgpuCoreOps *ops)
{
    const char *err = NULL;

    memset(t, 0, sizeof(*t));
    t->ram = calloc(1, RAM_SIZE);
    ASSERT_NOT_NULL(t->ram);
    t->next_pa = ALLOC_START;
    t->now = 1000;
    t->core = svmgpu_core_new(cfg, ops, t, &err);
    ASSERT_NOT_NULL(t->core);
    wr(t, SVMGPU_REG_CTX_TABLE_BASE, CTX_TABLE_PA);
    wr32(t, SVMGPU_REG_CTX_TABLE_ENTRIES, 1024);
    wr(t, SVMGPU_REG_FAULT_RING_BASE, FAULT_RING_PA);
    wr32(t, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_ENABLE);
}

static inline void td_init_cfg(TestDev *t, const SvmgpuCoreConfig *cfg)
{
    td_init_ops(t, cfg, &td_ops);
}

static inline void td_init(TestDev *t)
{
    SvmgpuCoreConfig cfg;

    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    td_init_cfg(t, &cfg);
}

static void *td_engine_main(void *arg);

typedef struct { TestDev *t; int idx; } TdThreadArg;

static inline void *td_engine_main(void *arg)
{
    TdThreadArg *a = arg;

    if (a->idx < 0) {
        svmgpu_core_control_thread(a->t->core);
    } else {
        svmgpu_core_engine_thread(a->t->core, a->idx);
    }
    free(a);
    return NULL;
}

/* Threaded mode: one thread per engine plus the control thread. */
static inline void td_start_threads(TestDev *t, unsigned engines)
{
    unsigned i;

    for (i = 0; i <= engines; i++) {
        TdThreadArg *a = malloc(sizeof(*a));

        a->t = t;
        a->idx = i == engines ? -1 : (int)i;
        pthread_create(&t->threads[t->nthreads++], NULL, td_engine_main, a);
    }
}

static inline void td_fini(TestDev *t)
{
    unsigned i;

    if (t->nthreads) {
        svmgpu_core_stop(t->core);
        for (i = 0; i < t->nthreads; i++) {
            pthread_join(t->threads[i], NULL);
        }
    }
    svmgpu_core_free(t->core);
    /* every map() was paired with an unmap() */
    ASSERT_EQ(atomic_load(&t->maps), 0);
    free(t->ram);
}

/* Context id with a fresh root, enabled. */
static inline void ctx_create(TestDev *t, uint32_t id)
{
    struct svmgpu_ctx_entry *e = pa_ptr(t, CTX_TABLE_PA + id * 32ull);

    t->roots[id] = alloc_page(t);
    e->pt_root = t->roots[id];
    e->flags = SVMGPU_CTX_VALID;
    wr32(t, SVMGPU_REG_CTX_ENABLE, id);
}

static inline uint64_t *pte_slot(TestDev *t, uint64_t table, uint64_t va,
                                 int lvl)
{
    return (uint64_t *)pa_ptr(t, table) + SVMGPU_PT_INDEX(va, lvl);
}

/* Map va -> pa with a leaf at level 1 (4K), 2 (2M) or 3 (1G). */
static inline void map_leaf(TestDev *t, uint32_t ctx, uint64_t va, uint64_t pa,
                            int leaf_lvl, uint64_t flags)
{
    uint64_t table = t->roots[ctx];
    int lvl;

    for (lvl = 4; lvl > leaf_lvl; lvl--) {
        uint64_t *p = pte_slot(t, table, va, lvl);

        if (!(*p & SVMGPU_PTE_VALID)) {
            *p = alloc_page(t) | SVMGPU_PTE_VALID;
        }
        table = *p & SVMGPU_PTE_ADDR_MASK;
    }
    *pte_slot(t, table, va, leaf_lvl) = pa | flags | SVMGPU_PTE_VALID |
        (leaf_lvl > 1 ? SVMGPU_PTE_LEAF : 0);
}

/* Pointer to the leaf PTE of a 4K mapping (must exist). */
static inline uint64_t *leaf_pte(TestDev *t, uint32_t ctx, uint64_t va)
{
    uint64_t table = t->roots[ctx];
    int lvl;

    for (lvl = 4; lvl > 1; lvl--) {
        uint64_t *p = pte_slot(t, table, va, lvl);

        if (*p & SVMGPU_PTE_LEAF) {
            return p;
        }
        table = *p & SVMGPU_PTE_ADDR_MASK;
    }
    return pte_slot(t, table, va, 1);
}

/* Back [va, va+size) with fresh 4K pages; returns the host pointer of va. */
static inline void map_range(TestDev *t, uint32_t ctx, uint64_t va,
                             uint64_t size, uint64_t flags)
{
    uint64_t off;

    for (off = 0; off < size; off += 4096) {
        map_leaf(t, ctx, va + off, alloc_page(t), 1, flags);
    }
}

/* Host pointer for a mapped VA (walks the test's own tables). */
static inline void *va_ptr(TestDev *t, uint32_t ctx, uint64_t va)
{
    uint64_t table = t->roots[ctx];
    int lvl;

    for (lvl = 4; lvl >= 1; lvl--) {
        uint64_t pte = *pte_slot(t, table, va, lvl);
        uint64_t mask = (1ull << SVMGPU_PT_LEVEL_SHIFT(lvl)) - 1;

        if (!(pte & SVMGPU_PTE_VALID)) {
            return NULL;
        }
        if (lvl == 1 || (pte & SVMGPU_PTE_LEAF)) {
            return pa_ptr(t, (pte & SVMGPU_PTE_ADDR_MASK) + (va & mask));
        }
        table = pte & SVMGPU_PTE_ADDR_MASK;
    }
    return NULL;
}

static inline void queue_setup(TestDev *t, unsigned q, uint32_t ctx,
                               uint32_t entries)
{
    t->q[q].ring = alloc_pa(t, entries * 64ull, 4096);
    t->q[q].compl = alloc_pa(t, 64, 64);
    t->q[q].size = entries;
    t->q[q].tail = 0;
    wr(t, SVMGPU_REG_Q(q, SVMGPU_Q_BASE), t->q[q].ring);
    wr32(t, SVMGPU_REG_Q(q, SVMGPU_Q_SIZE), entries);
    wr32(t, SVMGPU_REG_Q(q, SVMGPU_Q_CTX), ctx);
    wr(t, SVMGPU_REG_Q(q, SVMGPU_Q_COMPL_ADDR), t->q[q].compl);
    wr32(t, SVMGPU_REG_Q(q, SVMGPU_Q_CONTROL), SVMGPU_Q_CONTROL_ENABLE);
}

static inline struct svmgpu_completion *compl(TestDev *t, unsigned q)
{
    return pa_ptr(t, t->q[q].compl);
}

/* Write a command at the tail (without ringing); returns its seq. */
static inline uint64_t push(TestDev *t, unsigned q, struct svmgpu_cmd *c)
{
    struct svmgpu_cmd *slot = pa_ptr(t, t->q[q].ring + t->q[q].tail * 64ull);

    if (!c->hdr.seq) {
        c->hdr.seq = ++t->seq;
    }
    *slot = *c;
    t->q[q].tail = (t->q[q].tail + 1) % t->q[q].size;
    return c->hdr.seq;
}

static inline void doorbell(TestDev *t, unsigned q)
{
    wr32(t, SVMGPU_REG_Q(q, SVMGPU_Q_TAIL), t->q[q].tail);
}

/* push + doorbell + run (sync). */
static inline uint64_t submit(TestDev *t, unsigned q, struct svmgpu_cmd *c)
{
    uint64_t seq = push(t, q, c);

    doorbell(t, q);
    run(t);
    return seq;
}

static inline uint32_t qstatus(TestDev *t, unsigned q)
{
    return rd32(t, SVMGPU_REG_Q(q, SVMGPU_Q_STATUS));
}

static inline struct svmgpu_cmd cmd_copy(uint64_t dst, uint64_t src,
                                         uint64_t size)
{
    struct svmgpu_cmd c;

    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_COPY;
    c.copy.dst = dst;
    c.copy.src = src;
    c.copy.size = size;
    return c;
}

static inline struct svmgpu_cmd cmd_fill(uint64_t dst, uint64_t size,
                                         uint64_t value, uint32_t width)
{
    struct svmgpu_cmd c;

    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_FILL;
    c.fill.dst = dst;
    c.fill.size = size;
    c.fill.value = value;
    c.fill.width = width;
    return c;
}

static inline struct svmgpu_cmd cmd_signal(uint64_t va, uint64_t value)
{
    struct svmgpu_cmd c;

    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_SIGNAL;
    c.signal.va = va;
    c.signal.value = value;
    return c;
}

/* Resume a halted queue at the next command. */
static inline void clear_error(TestDev *t, unsigned q)
{
    wr32(t, SVMGPU_REG_Q(q, SVMGPU_Q_CONTROL),
         SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_CLEAR_ERROR);
}

static inline struct svmgpu_fault_record *fault_rec(TestDev *t, uint32_t idx)
{
    uint32_t n = rd32(t, SVMGPU_REG_FAULT_RING_ENTRIES);

    return pa_ptr(t, FAULT_RING_PA + (idx & (n - 1)) * 32ull);
}

static inline void reply(TestDev *t, uint64_t v)
{
    wr(t, SVMGPU_REG_FAULT_REPLY, v);
    run(t);
}

/* Submit an invalidation and process it (sync mode). */
static inline uint32_t invalidate(TestDev *t, uint32_t ctx, uint32_t flags,
                                  uint64_t start, uint64_t size)
{
    wr32(t, SVMGPU_REG_TLB_INV_CTX, ctx);
    wr32(t, SVMGPU_REG_TLB_INV_FLAGS, flags);
    wr(t, SVMGPU_REG_TLB_INV_START, start);
    wr(t, SVMGPU_REG_TLB_INV_SIZE, size);
    wr32(t, SVMGPU_REG_TLB_INV_SUBMIT, 1);
    return rd32(t, SVMGPU_REG_TLB_INV_REQ_SEQ);
}

#endif /* SVMGPU_TEST_ENV_H */
