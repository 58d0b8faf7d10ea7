/*
 * A host environment for the svmgpu device core (qemu-device/core): a flat
 * fake RAM for DMA, counted interrupts, a manual clock, helpers to build
 * contexts, page tables and queues, and a runner that executes one command
 * on the memory of this very process by mirroring each page the device
 * faults on (a minimal SVM driver).  Shared by the host tests (through
 * test-env.h, which adds the harness's assertions) and by svmgpu-sim.  It
 * does not exit, and prints only in tests (alloc_pa() with
 * abort_on_exhaustion; guest errors with SVMGPU_TEST_VERBOSE set).  The
 * core runs in sync mode unless its user starts the engine threads.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SVMGPU_CORE_ENV_H
#define SVMGPU_CORE_ENV_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "svmgpu_core.h"

#define RAM_BASE        0x40000000ull   /* 1 GiB aligned: 1G leaves hit RAM */
#define RAM_SIZE        (64ull << 20)  /* the tests' RAM; core_env_init() takes any */
#define CTX_TABLE_PA    RAM_BASE
#define FAULT_RING_PA   (RAM_BASE + 0x10000)
#define ALLOC_START     (RAM_BASE + 0x100000)

typedef struct TestDev {
    SvmgpuCore *core;
    uint8_t *ram;
    uint64_t ram_size;
    bool abort_on_exhaustion;   /* alloc_pa(): abort (tests) or fail */
    bool exhausted;             /* an alloc_pa() failed */
    uint64_t next_pa;
    uint64_t now;
    atomic_uint irqs[64];
    atomic_uint levels;         /* level() calls: a message dropped or late */
    atomic_uint guest_errors;
    atomic_uint dma_reads;
    atomic_int maps;            /* outstanding map() calls */
    /* RAM pages reported written (dirty(), or unmap() with is_write) */
    uint8_t *written;
    atomic_uint dirties;        /* dirty() calls */
    /* device-local memory (cfg local_mem_size), mmap()ed by core_env_init */
    uint8_t *local;
    uint64_t local_size;
    uint64_t local_dirty_lo, local_dirty_hi;    /* local_dirty() union */
    atomic_uint local_dirties;                  /* local_dirty() calls */
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
    if (addr < RAM_BASE || len > t->ram_size || addr - RAM_BASE > t->ram_size - len) {
        return -1;
    }
    memcpy(buf, pa_ptr(t, addr), len);
    return 0;
}

static int td_dma_write(void *opaque, uint64_t addr, const void *buf,
                        uint64_t len)
{
    TestDev *t = opaque;

    if (addr < RAM_BASE || len > t->ram_size || addr - RAM_BASE > t->ram_size - len) {
        return -1;
    }
    memcpy(pa_ptr(t, addr), buf, len);
    return 0;
}

static void *td_map(void *opaque, uint64_t addr, uint64_t *len, bool is_write)
{
    TestDev *t = opaque;

    if (addr < RAM_BASE || addr - RAM_BASE >= t->ram_size) {
        return NULL;
    }
    if (*len > t->ram_size - (addr - RAM_BASE)) {
        *len = t->ram_size - (addr - RAM_BASE);
    }
    atomic_fetch_add(&t->maps, 1);
    return pa_ptr(t, addr);
}

/* Mark the RAM pages of [ptr, ptr + len) written (other memory: ignored). */
static void td_written(TestDev *t, void *ptr, uint64_t len)
{
    uint64_t off = (uint8_t *)ptr - t->ram, pg;

    if ((uint8_t *)ptr < t->ram || off >= t->ram_size) {
        return;                 /* a test's own mapping */
    }
    for (pg = off >> 12; len && pg <= (off + len - 1) >> 12; pg++) {
        t->written[pg] = 1;
    }
}

static void td_unmap(void *opaque, void *ptr, uint64_t len, bool is_write)
{
    TestDev *t = opaque;

    if (is_write) {
        td_written(t, ptr, len);
    }
    atomic_fetch_sub(&t->maps, 1);
}

static void td_dirty(void *opaque, void *ptr, uint64_t len)
{
    TestDev *t = opaque;

    atomic_fetch_add(&t->dirties, 1);
    td_written(t, ptr, len);
}

static void td_local_dirty(void *opaque, uint64_t offset, uint64_t len)
{
    TestDev *t = opaque;

    /* the union is exact in sync mode (the tests that check it) */
    if (!atomic_fetch_add(&t->local_dirties, 1) ||
        offset < t->local_dirty_lo) {
        t->local_dirty_lo = offset;
    }
    if (offset + len > t->local_dirty_hi) {
        t->local_dirty_hi = offset + len;
    }
}

static void td_irq(void *opaque, unsigned vector)
{
    TestDev *t = opaque;

    if (vector < 64) {
        atomic_fetch_add(&t->irqs[vector], 1);
    }
}

static void td_level(void *opaque)
{
    TestDev *t = opaque;

    atomic_fetch_add(&t->levels, 1);
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
    .dirty = td_dirty,
    .irq = td_irq,
    .level = td_level,
    .now_ns = td_now,
    .guest_error = td_guest_error,
    .local_dirty = td_local_dirty,
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

/* Zeroed RAM at @align; 0 when the RAM is used up (or abort, in tests). */
static inline uint64_t alloc_pa(TestDev *t, uint64_t size, uint64_t align)
{
    uint64_t pa = (t->next_pa + align - 1) & ~(align - 1);

    if (pa + size > RAM_BASE + t->ram_size || pa + size < pa) {
        if (t->abort_on_exhaustion) {
            printf("# test RAM exhausted\n");
            abort();
        }
        t->exhausted = true;
        return 0;
    }
    t->next_pa = pa + size;
    memset(pa_ptr(t, pa), 0, size);
    return pa;
}

static inline uint64_t alloc_page(TestDev *t)
{
    return alloc_pa(t, 4096, 4096);
}

/*
 * Set up a device on @ram_size bytes of RAM (at least 2 MiB): ctx table,
 * fault ring, enabled.  Returns 0, -ENOMEM, or -EINVAL with *err from
 * svmgpu_core_new().
 */
static inline int core_env_init(TestDev *t, const SvmgpuCoreConfig *cfg,
                                const SvmgpuCoreOps *ops, uint64_t ram_size,
                                const char **err)
{
    SvmgpuCoreConfig c = *cfg;

    memset(t, 0, sizeof(*t));
    if (ram_size < (2ull << 20)) {
        return -EINVAL;
    }
    t->ram = calloc(1, ram_size);
    t->written = calloc(1, ram_size >> 12);
    if (!t->ram || !t->written) {
        free(t->ram);
        free(t->written);
        return -ENOMEM;
    }
    t->ram_size = ram_size;
    t->next_pa = ALLOC_START;
    t->now = 1000;
    if (c.local_mem_size && !c.local_mem &&
        c.local_mem_size <= SVMGPU_LOCAL_MEM_MAX) {
        /* zero pages on demand, as a device's VRAM (QEMU: host RAM) */
        void *p = mmap(NULL, c.local_mem_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

        if (p == MAP_FAILED) {
            free(t->ram);
            free(t->written);
            t->ram = NULL;
            return -ENOMEM;
        }
        t->local = p;
        t->local_size = c.local_mem_size;
        c.local_mem = p;
    }
    t->core = svmgpu_core_new(&c, ops, t, err);
    if (!t->core) {
        free(t->ram);
        free(t->written);
        t->ram = NULL;
        if (t->local) {
            munmap(t->local, t->local_size);
            t->local = NULL;
        }
        return -EINVAL;
    }
    wr(t, SVMGPU_REG_CTX_TABLE_BASE, CTX_TABLE_PA);
    wr32(t, SVMGPU_REG_CTX_TABLE_ENTRIES, 1024);
    wr(t, SVMGPU_REG_FAULT_RING_BASE, FAULT_RING_PA);
    wr32(t, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_ENABLE);
    return 0;
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

/* Stop the threads, free the core and the RAM. */
static inline void core_env_fini(TestDev *t)
{
    unsigned i;

    if (t->nthreads) {
        svmgpu_core_stop(t->core);
        for (i = 0; i < t->nthreads; i++) {
            pthread_join(t->threads[i], NULL);
        }
    }
    svmgpu_core_free(t->core);
    free(t->ram);
    free(t->written);
    if (t->local) {
        munmap(t->local, t->local_size);
    }
}

/* Context id with a fresh root, enabled. */
static inline void ctx_create(TestDev *t, uint32_t id)
{
    struct svmgpu_ctx_entry *e = pa_ptr(t, CTX_TABLE_PA + id * 32ull);

    t->roots[id] = alloc_page(t);
    if (!t->roots[id]) {
        return;
    }
    e->pt_root = t->roots[id];
    e->flags = SVMGPU_CTX_VALID;
    wr32(t, SVMGPU_REG_CTX_ENABLE, id);
}

static inline uint64_t *pte_slot(TestDev *t, uint64_t table, uint64_t va,
                                 int lvl)
{
    return (uint64_t *)pa_ptr(t, table) + SVMGPU_PT_INDEX(va, lvl);
}

/*
 * Map va -> pa with a leaf at level 1 (4K), 2 (2M) or 3 (1G).  False if a
 * page-table page could not be allocated.
 */
static inline bool map_leaf(TestDev *t, uint32_t ctx, uint64_t va, uint64_t pa,
                            int leaf_lvl, uint64_t flags)
{
    uint64_t table = t->roots[ctx];
    int lvl;

    for (lvl = 4; lvl > leaf_lvl; lvl--) {
        uint64_t *p = pte_slot(t, table, va, lvl);

        if (!(*p & SVMGPU_PTE_VALID)) {
            uint64_t page = alloc_page(t);

            if (!page) {
                return false;
            }
            *p = page | SVMGPU_PTE_VALID;
        }
        table = *p & SVMGPU_PTE_ADDR_MASK;
    }
    *pte_slot(t, table, va, leaf_lvl) = pa | flags | SVMGPU_PTE_VALID |
        (leaf_lvl > 1 ? SVMGPU_PTE_LEAF : 0);
    return true;
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
        if ((lvl == 1 || (pte & SVMGPU_PTE_LEAF)) &&
            (pte & SVMGPU_PTE_APERTURE_MASK) ==
            SVMGPU_APERTURE_LOCAL << SVMGPU_PTE_APERTURE_SHIFT) {
            /* device-local memory: ADDR is an offset in it (hw-spec 5a) */
            return t->local + (pte & SVMGPU_PTE_ADDR_MASK) + (va & mask);
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


/* ------------------------------------------------------------------------
 * Running a command on this process's memory.
 */

/* What a mirrored run did, per page and access kind. */
typedef struct CoreMirrorFault {
    uint64_t page;              /* page VA */
    uint8_t access;             /* enum svmgpu_access */
    uint8_t resolved;           /* mirrored (1) or cancelled (0) */
    uint32_t count;             /* fault records for this page and access */
} CoreMirrorFault;

typedef struct CoreMirror {
    TestDev dev;
    SvmgpuCoreConfig cfg;
    uint64_t ram_size;          /* device RAM (page tables and mirrors) */
    /* the pages mirrored, with their bytes as mirrored */
    uint64_t *pages;
    uint8_t *snapshots;
    size_t npages, pages_cap;
    /* fault log, in order of first occurrence */
    CoreMirrorFault *faults;
    size_t nfaults, faults_cap;
    uint64_t fault_records;     /* records served */
    /* this process's mappings (/proc/self/maps), reloaded on a miss */
    struct { uint64_t start, end; bool r, w; } *maps;
    size_t nmaps, maps_cap;
    /* device counters after the run */
    uint64_t instructions, tlb_hits, tlb_misses, replays, cancels;
} CoreMirror;

/* A fresh runner with the core's default configuration (sync mode). */
static inline void core_mirror_init(CoreMirror *m, uint64_t ram_size)
{
    memset(m, 0, sizeof(*m));
    svmgpu_core_default_config(&m->cfg);
    m->cfg.sync = true;
    m->ram_size = ram_size;
}

static inline void core_mirror_free(CoreMirror *m)
{
    free(m->pages);
    free(m->snapshots);
    free(m->faults);
    free(m->maps);
    m->maps = NULL;
    m->pages = NULL;
    m->snapshots = NULL;
    m->faults = NULL;
}

static inline int core_mirror_log(CoreMirror *m, uint64_t page, uint8_t access,
                                  bool resolved)
{
    size_t i;

    for (i = 0; i < m->nfaults; i++) {
        if (m->faults[i].page == page && m->faults[i].access == access) {
            m->faults[i].count++;
            m->faults[i].resolved = resolved;
            return 0;
        }
    }
    if (m->nfaults == m->faults_cap) {
        size_t cap = m->faults_cap ? m->faults_cap * 2 : 64;
        CoreMirrorFault *f = realloc(m->faults, cap * sizeof(*f));

        if (!f) {
            return -ENOMEM;
        }
        m->faults = f;
        m->faults_cap = cap;
    }
    m->faults[m->nfaults++] = (CoreMirrorFault) {
        .page = page, .access = access, .resolved = resolved, .count = 1,
    };
    return 0;
}

/* Reload this process's mappings.  0 or -errno. */
static inline int core_mirror_load_maps(CoreMirror *m)
{
    FILE *f = fopen("/proc/self/maps", "r");
    unsigned long long start, end;
    char perms[8], line[512];

    if (!f) {
        return -errno;
    }
    m->nmaps = 0;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%llx-%llx %4s", &start, &end, perms) != 3) {
            continue;
        }
        if (m->nmaps == m->maps_cap) {
            size_t cap = m->maps_cap ? m->maps_cap * 2 : 64;
            void *n = realloc(m->maps, cap * sizeof(*m->maps));

            if (!n) {
                fclose(f);
                return -ENOMEM;
            }
            m->maps = n;
            m->maps_cap = cap;
        }
        m->maps[m->nmaps].start = start;
        m->maps[m->nmaps].end = end;
        m->maps[m->nmaps].r = perms[0] == 'r';
        m->maps[m->nmaps++].w = perms[1] == 'w';
    }
    fclose(f);
    return 0;
}

/* The protection of @page in this process: -1 unmapped, else bit 0 r, bit 1 w. */
static inline int core_mirror_prot(CoreMirror *m, uint64_t page)
{
    int pass;
    size_t i;

    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < m->nmaps; i++) {
            if (page >= m->maps[i].start && page < m->maps[i].end) {
                return (m->maps[i].r ? 1 : 0) | (m->maps[i].w ? 2 : 0);
            }
        }
        if (pass == 0 && core_mirror_load_maps(m)) {
            break;
        }
    }
    return -1;
}

/*
 * Serve one fault as a minimal SVM driver would: a page of this process
 * that can be read is copied into fresh device RAM and mapped at the same
 * VA, writable if the process can write it; anything else (unmapped,
 * unreadable, a write to a read-only page, a non-canonical VA) is
 * cancelled.  Returns 1 when mirrored, 0 when it must be cancelled,
 * -ENOMEM when the device RAM is used up.
 */
static inline int core_mirror_page(CoreMirror *m, const struct svmgpu_fault_record *r)
{
    TestDev *t = &m->dev;
    uint64_t page = r->va & ~(uint64_t)(SVMGPU_PAGE_SIZE - 1), pa;
    int prot;

    if (r->reason != SVMGPU_FAULT_NOT_PRESENT || (page >> 47)) {
        return 0;
    }
    prot = core_mirror_prot(m, page);
    if (prot < 0 || !(prot & 1) || (r->access != SVMGPU_ACCESS_READ && !(prot & 2))) {
        return 0;
    }
    if (m->npages == m->pages_cap) {
        size_t cap = m->pages_cap ? m->pages_cap * 2 : 256;
        uint64_t *p = realloc(m->pages, cap * sizeof(*p));
        uint8_t *s;

        if (!p) {
            return -ENOMEM;
        }
        m->pages = p;
        s = realloc(m->snapshots, cap * SVMGPU_PAGE_SIZE);
        if (!s) {
            return -ENOMEM;
        }
        m->snapshots = s;
        m->pages_cap = cap;
    }
    pa = alloc_page(t);
    if (!pa) {
        return -ENOMEM;
    }
    memcpy(pa_ptr(t, pa), (const void *)(uintptr_t)page, SVMGPU_PAGE_SIZE);
    memcpy(m->snapshots + m->npages * SVMGPU_PAGE_SIZE, pa_ptr(t, pa), SVMGPU_PAGE_SIZE);
    if (!map_leaf(t, 0, page, pa, 1, (prot & 2) ? SVMGPU_PTE_WRITABLE : 0)) {
        return -ENOMEM;
    }
    m->pages[m->npages++] = page;
    return 1;
}

/*
 * core_mirror_run - execute one command on a fresh core, on this process's
 * memory.  Pages are mirrored into the core's RAM as it faults on them,
 * faults that cannot be served are cancelled (the command then fails with
 * FAULT_CANCELLED, as under the driver), and when the command has ended the
 * bytes the device changed are copied back into the process (only those:
 * the process may itself have changed other bytes of the same pages
 * meanwhile, e.g. its heap).  @done receives the completion record with
 * err_code 0 if the command succeeded.  Returns 0 when the command ended,
 * -ENOMEM when the device RAM (ram_size) or host memory ran out, -EIO if
 * the core neither completed nor faulted, -EINVAL if the core could not be
 * created.
 */
static inline int core_mirror_run(CoreMirror *m, const struct svmgpu_cmd *cmd,
                                  struct svmgpu_completion *done)
{
    TestDev *t = &m->dev;
    struct svmgpu_cmd c = *cmd;
    struct svmgpu_completion *cp;
    const char *err = NULL;
    uint64_t seq;
    size_t i;
    int ret;

    m->npages = m->nfaults = 0;
    m->fault_records = 0;
    ret = core_mirror_load_maps(m);
    if (ret) {
        return ret;
    }
    ret = core_env_init(t, &m->cfg, &td_ops, m->ram_size, &err);
    if (ret) {
        return ret;
    }
    ctx_create(t, 0);
    queue_setup(t, 0, 0, 64);
    if (t->exhausted) {
        core_env_fini(t);
        return -ENOMEM;
    }
    seq = submit(t, 0, &c);
    for (;;) {
        uint32_t put, get;
        bool cancelled = false;

        cp = compl(t, 0);
        if (cp->seq == seq) {
            break;
        }
        put = rd32(t, SVMGPU_REG_FAULT_PUT);
        get = rd32(t, SVMGPU_REG_FAULT_GET);
        if (put == get) {
            ret = -EIO;         /* neither done nor faulting */
            break;
        }
        for (; get != put && !ret; get++) {
            struct svmgpu_fault_record *r = fault_rec(t, get);
            int mirrored = 1;

            m->fault_records++;
            if (!va_ptr(t, 0, r->va) || r->reason != SVMGPU_FAULT_NOT_PRESENT) {
                mirrored = core_mirror_page(m, r);
            }
            if (mirrored < 0) {
                ret = mirrored;
                break;
            }
            ret = core_mirror_log(m, r->va & ~(uint64_t)(SVMGPU_PAGE_SIZE - 1),
                                  r->access, mirrored);
            if (!ret && !mirrored) {
                wr(t, SVMGPU_REG_FAULT_REPLY,
                   SVMGPU_FAULT_REPLY_CANCEL_VAL(r->queue, r->seq));
                cancelled = true;
            }
        }
        wr32(t, SVMGPU_REG_FAULT_GET, get);
        if (ret) {
            break;
        }
        if (cancelled) {
            run(t);
        } else {
            reply(t, SVMGPU_FAULT_REPLY_REPLAY);
        }
    }
    *done = *cp;
    if (done->err_seq != seq) {
        done->err_code = 0;
    }
    m->instructions = rd(t, SVMGPU_REG_CNT_INSTRUCTIONS);
    m->tlb_hits = rd(t, SVMGPU_REG_CNT_TLB_HITS);
    m->tlb_misses = rd(t, SVMGPU_REG_CNT_TLB_MISSES);
    m->replays = rd(t, SVMGPU_REG_CNT_REPLAYS);
    m->cancels = rd(t, SVMGPU_REG_CNT_CANCELS);
    for (i = 0; !ret && i < m->npages; i++) {
        const uint8_t *dev_page = va_ptr(t, 0, m->pages[i]);
        const uint8_t *snap = m->snapshots + i * SVMGPU_PAGE_SIZE;
        uint8_t *cpu_page = (uint8_t *)(uintptr_t)m->pages[i];
        unsigned int b;

        for (b = 0; b < SVMGPU_PAGE_SIZE; b++) {
            if (dev_page[b] != snap[b]) {
                cpu_page[b] = dev_page[b];
            }
        }
    }
    core_env_fini(t);
    return ret;
}

#endif /* SVMGPU_CORE_ENV_H */
