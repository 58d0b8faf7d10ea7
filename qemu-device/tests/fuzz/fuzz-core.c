/*
 * libFuzzer harness over the svmgpu core: the input is a program of
 * register writes/reads, guest-memory pokes, queue commands, direct page
 * walks, sync runs and PREEMPT/RESUME against a device whose context 0
 * maps a 2 MiB window of fake RAM.  Anything the guest controls is
 * fuzzed: registers, page tables, rings, commands, kernels and save areas
 * (valid ones, bit-flipped ones and random ones, resumed on any queue).
 * ASan/UBSan/LSan turn any crash, undefined behaviour or leak into a
 * failure.
 *
 * With bit 7 of the input's size set, every few map()s the environment
 * takes the device's DMA addresses away (svmgpu_core_dma_unmapped(), as an
 * IOMMU unmap does): an engine then maps again while it still holds older
 * mappings, and must still unmap each one.
 *
 * One more oracle, for migration and TCG code invalidation: every byte the
 * device changed, in RAM or in device-local memory, must lie in a page it
 * reported written (dma_write(), unmap() with is_write, dirty(), and
 * local_dirty() for local memory).  The harness keeps shadows of both
 * with its own writes (set-up, pokes, rings, save areas); after each
 * operation the pages reported written are taken into the shadows as they
 * are, and at the end of the input a page that differs from its shadow
 * (changed, and not reported since its last report) aborts.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svmgpu_core.h"
#include "internal.h"

#define RAM_BASE    0x40000000ull
#define RAM_SIZE    (2u << 20)
#define CTX_TABLE   (RAM_BASE + 0x0000)
#define FAULT_RING  (RAM_BASE + 0x1000)
#define ROOT        (RAM_BASE + 0x2000)
#define L3          (RAM_BASE + 0x3000)
#define L2          (RAM_BASE + 0x4000)
#define L1          (RAM_BASE + 0x5000)
#define RINGS       (RAM_BASE + 0x8000)     /* 4 queues x 16 x 64 B */
#define COMPLS      (RAM_BASE + 0x7000)
#define SAVES       (RAM_BASE + 0x100000)   /* NQ save areas, in VA range */
#define LOCAL_SIZE  (4u << 20)             /* device-local memory */
#define AP_LOCAL    (SVMGPU_APERTURE_LOCAL << SVMGPU_PTE_APERTURE_SHIFT)
#define NQ          4
#define QENTRIES    16

#define RAM_PAGES   (RAM_SIZE / 4096)
#define LOCAL_PAGES (LOCAL_SIZE / 4096)

typedef struct Fuzz {
    uint8_t *ram;
    uint8_t *shadow;            /* RAM as the harness itself wrote it */
    uint8_t *local;             /* device-local memory, or NULL */
    uint8_t *local_shadow;
    uint64_t now;
    uint32_t tail[NQ];
    int maps;
    uint8_t written[RAM_PAGES];         /* reported written by the device */
    uint8_t local_written[LOCAL_PAGES];
    SvmgpuCore *core;
    unsigned unmap_every;       /* an IOMMU unmap every that many map()s */
    unsigned map_calls;
} Fuzz;

/* Pages of [off, off + len) of a memory of @pages pages: reported written. */
static void mark(uint8_t *w, unsigned pages, uint64_t off, uint64_t len)
{
    uint64_t pg;

    for (pg = off >> 12; len && pg < pages && pg <= (off + len - 1) >> 12;
         pg++) {
        w[pg] = 1;
    }
}

static int f_read(void *o, uint64_t a, void *buf, uint64_t len)
{
    Fuzz *f = o;

    if (a < RAM_BASE || len > RAM_SIZE || a - RAM_BASE > RAM_SIZE - len) {
        return -1;
    }
    memcpy(buf, f->ram + (a - RAM_BASE), len);
    return 0;
}

static int f_write(void *o, uint64_t a, const void *buf, uint64_t len)
{
    Fuzz *f = o;

    if (a < RAM_BASE || len > RAM_SIZE || a - RAM_BASE > RAM_SIZE - len) {
        return -1;
    }
    memcpy(f->ram + (a - RAM_BASE), buf, len);
    mark(f->written, RAM_PAGES, a - RAM_BASE, len);
    return 0;
}

static void *f_map(void *o, uint64_t a, uint64_t *len, bool is_write)
{
    Fuzz *f = o;

    if (a < RAM_BASE || a - RAM_BASE >= RAM_SIZE) {
        return NULL;
    }
    if (*len > RAM_SIZE - (a - RAM_BASE)) {
        *len = RAM_SIZE - (a - RAM_BASE);
    }
    f->maps++;
    /*
     * The environment takes DMA addresses away while an engine holds
     * mappings (an IOMMU unmap in QEMU's glue, from another thread): the
     * engine must map again for its next access and still unmap all.
     */
    if (f->unmap_every && ++f->map_calls % f->unmap_every == 0) {
        svmgpu_core_dma_unmapped(f->core);
    }
    return f->ram + (a - RAM_BASE);
}

static void f_unmap(void *o, void *p, uint64_t len, bool is_write)
{
    Fuzz *f = o;

    if (is_write) {
        mark(f->written, RAM_PAGES, (uint8_t *)p - f->ram, len);
    }
    f->maps--;
}

static void f_dirty(void *o, void *p, uint64_t len)
{
    Fuzz *f = o;

    mark(f->written, RAM_PAGES, (uint8_t *)p - f->ram, len);
}

static void f_local_dirty(void *o, uint64_t off, uint64_t len)
{
    Fuzz *f = o;

    mark(f->local_written, LOCAL_PAGES, off, len);
}

static void f_irq(void *o, unsigned v)
{
}

static uint64_t f_now(void *o)
{
    return ((Fuzz *)o)->now;
}

static const SvmgpuCoreOps f_ops = {
    .dma_read = f_read,
    .dma_write = f_write,
    .irq = f_irq,
    .now_ns = f_now,
    .local_dirty = f_local_dirty,
};

/* unmap() reports the span written */
static const SvmgpuCoreOps f_ops_map = {
    .dma_read = f_read,
    .dma_write = f_write,
    .map = f_map,
    .unmap = f_unmap,
    .irq = f_irq,
    .now_ns = f_now,
    .local_dirty = f_local_dirty,
};

/* dirty() reports each run of pages written, as QEMU's glue does */
static const SvmgpuCoreOps f_ops_map_dirty = {
    .dma_read = f_read,
    .dma_write = f_write,
    .map = f_map,
    .unmap = f_unmap,
    .dirty = f_dirty,
    .irq = f_irq,
    .now_ns = f_now,
    .local_dirty = f_local_dirty,
};

/* The harness's own write of RAM: to RAM and to its shadow. */
static void poke(Fuzz *f, uint64_t pa, const void *src, size_t len)
{
    memcpy(f->ram + (pa - RAM_BASE), src, len);
    memcpy(f->shadow + (pa - RAM_BASE), src, len);
}

static void put64(Fuzz *f, uint64_t pa, uint64_t v)
{
    poke(f, pa, &v, 8);
}

/* Pages reported written since the last call: the shadows take them. */
static void take_written(Fuzz *f)
{
    unsigned pg;

    for (pg = 0; pg < RAM_PAGES; pg++) {
        if (f->written[pg]) {
            memcpy(f->shadow + pg * 4096ull, f->ram + pg * 4096ull, 4096);
            f->written[pg] = 0;
        }
    }
    for (pg = 0; f->local && pg < LOCAL_PAGES; pg++) {
        if (f->local_written[pg]) {
            memcpy(f->local_shadow + pg * 4096ull, f->local + pg * 4096ull,
                   4096);
            f->local_written[pg] = 0;
        }
    }
}

/* The oracle: a page that differs from its shadow was never reported. */
static void check_written(Fuzz *f)
{
    unsigned pg;

    take_written(f);
    for (pg = 0; pg < RAM_PAGES; pg++) {
        if (memcmp(f->ram + pg * 4096ull, f->shadow + pg * 4096ull, 4096)) {
            fprintf(stderr, "RAM page 0x%x changed, not reported written\n",
                    pg * 4096);
            abort();
        }
    }
    for (pg = 0; f->local && pg < LOCAL_PAGES; pg++) {
        if (memcmp(f->local + pg * 4096ull, f->local_shadow + pg * 4096ull,
                   4096)) {
            fprintf(stderr, "local page 0x%x changed, not reported "
                    "written\n", pg * 4096);
            abort();
        }
    }
}

static void setup(Fuzz *f, SvmgpuCore *c)
{
    unsigned i;

    /* ctx 0: VA [0, 2 MiB) -> RAM, writable 4K pages; VA 1 GiB: 2M leaf */
    put64(f, CTX_TABLE, ROOT);
    put64(f, CTX_TABLE + 8, SVMGPU_CTX_VALID);
    put64(f, ROOT, L3 | SVMGPU_PTE_VALID);
    put64(f, L3, L2 | SVMGPU_PTE_VALID);
    put64(f, L3 + 8, RAM_BASE | SVMGPU_PTE_VALID | SVMGPU_PTE_LEAF |
          SVMGPU_PTE_WRITABLE);     /* 1G leaf, mostly outside RAM */
    put64(f, L2, L1 | SVMGPU_PTE_VALID);
    put64(f, L2 + 8, RAM_BASE | SVMGPU_PTE_VALID | SVMGPU_PTE_LEAF);
    for (i = 0; i < 512; i++) {
        put64(f, L1 + i * 8, (RAM_BASE + i * 4096ull) | SVMGPU_PTE_VALID |
              (i & 1 ? 0 : SVMGPU_PTE_WRITABLE));
    }
    put64(f, L1 + 100 * 8, 0);      /* a hole */
    /*
     * Device-local memory (when the input gives the device some): VA
     * 0x190000.. 4K pages at scattered local offsets, VA 4 MiB and 6 MiB:
     * 2M leaves on both local granules, VA 8 MiB: one past the end.
     */
    for (i = 400; i < 450; i++) {
        put64(f, L1 + i * 8, ((i * 37ull) % (LOCAL_SIZE / 4096)) * 4096 |
              SVMGPU_PTE_VALID | AP_LOCAL | (i & 1 ? 0 : SVMGPU_PTE_WRITABLE));
    }
    put64(f, L2 + 16, 0 | SVMGPU_PTE_VALID | SVMGPU_PTE_LEAF | AP_LOCAL |
          SVMGPU_PTE_WRITABLE);
    put64(f, L2 + 24, (2u << 20) | SVMGPU_PTE_VALID | SVMGPU_PTE_LEAF |
          AP_LOCAL | SVMGPU_PTE_WRITABLE);
    put64(f, L2 + 32, LOCAL_SIZE | SVMGPU_PTE_VALID | SVMGPU_PTE_LEAF |
          AP_LOCAL);
    svmgpu_core_mmio_write(c, SVMGPU_REG_CTX_TABLE_BASE, CTX_TABLE, 8);
    svmgpu_core_mmio_write(c, SVMGPU_REG_CTX_TABLE_ENTRIES, 4, 4);
    svmgpu_core_mmio_write(c, SVMGPU_REG_FAULT_RING_BASE, FAULT_RING, 8);
    svmgpu_core_mmio_write(c, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_ENABLE, 4);
    svmgpu_core_mmio_write(c, SVMGPU_REG_CTX_ENABLE, 0, 4);
    for (i = 0; i < NQ; i++) {
        svmgpu_core_mmio_write(c, SVMGPU_REG_Q(i, SVMGPU_Q_BASE),
                               RINGS + i * QENTRIES * 64ull, 8);
        svmgpu_core_mmio_write(c, SVMGPU_REG_Q(i, SVMGPU_Q_SIZE), QENTRIES, 4);
        svmgpu_core_mmio_write(c, SVMGPU_REG_Q(i, SVMGPU_Q_COMPL_ADDR),
                               COMPLS + i * 64ull, 8);
        svmgpu_core_mmio_write(c, SVMGPU_REG_Q(i, SVMGPU_Q_SAVE_ADDR),
                               SAVES + i * (uint64_t)SVMGPU_SAVE_AREA_SIZE, 8);
        svmgpu_core_mmio_write(c, SVMGPU_REG_Q(i, SVMGPU_Q_PRIORITY), i & 3, 4);
        svmgpu_core_mmio_write(c, SVMGPU_REG_Q(i, SVMGPU_Q_CONTROL),
                               SVMGPU_Q_CONTROL_ENABLE, 4);
    }
}

typedef struct Input {
    const uint8_t *p;
    size_t n;
} Input;

static uint64_t take(Input *in, unsigned bytes)
{
    uint64_t v = 0;
    unsigned i;

    for (i = 0; i < bytes && in->n; i++, in->n--) {
        v |= (uint64_t)*in->p++ << (8 * i);
    }
    return v;
}

/*
 * PREEMPT ring r's hardware queue, or RESUME ring r on hardware queue hw
 * from its save area: as saved, with bits flipped, or overwritten with
 * input bytes.
 */
static void preempt_resume(Fuzz *f, SvmgpuCore *c, Input *in)
{
    uint8_t how = take(in, 1);
    unsigned r = how % NQ, hw = (how >> 2) % 8, k, n;
    uint64_t save = SAVES + r * (uint64_t)SVMGPU_SAVE_AREA_SIZE;
    uint8_t *area = f->ram + (save - RAM_BASE);
    uint8_t *sarea = f->shadow + (save - RAM_BASE);
    uint32_t start;
    bool more;

    if (!(how & 0x20)) {
        svmgpu_core_mmio_write(c, SVMGPU_REG_Q(hw, SVMGPU_Q_CONTROL),
                               SVMGPU_Q_CONTROL_ENABLE |
                               SVMGPU_Q_CONTROL_PREEMPT, 4);
        svmgpu_core_run_sync_budget(c, 1 + take(in, 1) % 64, &more);
        return;
    }
    switch ((how >> 6) & 3) {
    case 0:         /* as saved */
        break;
    case 1:         /* bits flipped anywhere in the structure */
    case 2:
        n = 1 + take(in, 1) % 8;
        for (k = 0; k < n; k++) {
            uint32_t bit = take(in, 3) %
                           (sizeof(struct svmgpu_save_area) * 8);

            area[bit / 8] ^= 1u << (bit % 8);
            sarea[bit / 8] ^= 1u << (bit % 8);  /* the device's bytes stay */
        }
        break;
    default:        /* the header and some of the rest from the input */
        n = take(in, 2) % sizeof(struct svmgpu_save_area);
        for (k = 0; k < n && in->n; k++) {
            area[k] = sarea[k] = take(in, 1);
        }
        break;
    }
    memcpy(&start, area + offsetof(struct svmgpu_save_area, head), 4);
    if (take(in, 1) & 1) {
        start = take(in, 1) % QENTRIES;
    }
    svmgpu_core_mmio_write(c, SVMGPU_REG_Q(hw, SVMGPU_Q_CONTROL), 0, 4);
    svmgpu_core_mmio_write(c, SVMGPU_REG_Q(hw, SVMGPU_Q_BASE),
                           RINGS + r * QENTRIES * 64ull, 8);
    svmgpu_core_mmio_write(c, SVMGPU_REG_Q(hw, SVMGPU_Q_SIZE), QENTRIES, 4);
    svmgpu_core_mmio_write(c, SVMGPU_REG_Q(hw, SVMGPU_Q_COMPL_ADDR),
                           COMPLS + r * 64ull, 8);
    svmgpu_core_mmio_write(c, SVMGPU_REG_Q(hw, SVMGPU_Q_SAVE_ADDR), save, 8);
    svmgpu_core_mmio_write(c, SVMGPU_REG_Q(hw, SVMGPU_Q_START), start, 4);
    svmgpu_core_mmio_write(c, SVMGPU_REG_Q(hw, SVMGPU_Q_CONTROL),
                           SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_RESUME,
                           4);
    svmgpu_core_mmio_write(c, SVMGPU_REG_Q(hw, SVMGPU_Q_TAIL), f->tail[r], 4);
    svmgpu_core_run_sync_budget(c, 1 + take(in, 1) % 64, &more);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    SvmgpuCoreConfig cfg;
    Fuzz f;
    SvmgpuCore *c;
    Input in = { data, size };
    unsigned ops = 0;

    static uint8_t *ram, *shadow, *local, *local_shadow;

    if (!ram) {
        ram = malloc(RAM_SIZE);     /* reused: one allocation per process */
        shadow = malloc(RAM_SIZE);
        local = malloc(LOCAL_SIZE);
        local_shadow = malloc(LOCAL_SIZE);
        if (!ram || !shadow || !local || !local_shadow) {
            return 0;
        }
    }
    memset(ram, 0, RAM_SIZE);
    memset(shadow, 0, RAM_SIZE);
    memset(&f, 0, sizeof(f));
    f.ram = ram;
    f.shadow = shadow;
    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    cfg.num_queues = 8;
    cfg.tlb_sets = 4;
    cfg.tlb_ways = 2;
    cfg.fault_ring_entries = 4;
    /* small map() windows: evictions within a step; or only what is used */
    cfg.map_window = size & 2 ? 0 : 4096;
    /* inputs with bit 2 of their size: device-local memory; bit 3: link */
    if (size & 4) {
        memset(local, 0, LOCAL_SIZE);
        memset(local_shadow, 0, LOCAL_SIZE);
        f.local = local;
        f.local_shadow = local_shadow;
        cfg.local_mem = local;
        cfg.local_mem_size = LOCAL_SIZE;
    }
    cfg.link_bandwidth = size & 8 ? 1000 : 0;
    /* bit 4: short kernel steps, a safe point every few instructions */
    cfg.isa_slice = size & 16 ? 1 + size % 7 : 0;
    cfg.engine = size & 32 ? SVMGPU_ENGINE_REFERENCE : SVMGPU_ENGINE_FAST;
    /* odd-sized inputs use the map() fast path; bit 6: with dirty() */
    c = svmgpu_core_new(&cfg, !(size & 1) ? &f_ops :
                        size & 64 ? &f_ops_map_dirty : &f_ops_map, &f, NULL);
    if (!c) {
        return 0;
    }
    /* bit 7: DMA addresses taken away while mapped (dma_unmapped()) */
    f.core = c;
    f.unmap_every = size & 128 ? 1 + size % 5 : 0;
    setup(&f, c);

    while (in.n && ops++ < 256) {
        uint8_t op = take(&in, 1);

        switch (op % 10) {
        case 0: {       /* register write */
            uint64_t off = take(&in, 2) & 0x1ffc;
            unsigned sz = take(&in, 1) & 1 ? 8 : 4;
            uint64_t v = take(&in, 8);

            if (sz == 8) {
                off &= ~7ull;
            }
            if (off == SVMGPU_REG_CTX_TABLE_BASE ||
                off == SVMGPU_REG_FAULT_RING_BASE) {
                v = RAM_BASE + (v & (RAM_SIZE - 1));    /* mostly useful */
            }
            svmgpu_core_mmio_write(c, off, v, sz);
            break;
        }
        case 1: {       /* register read */
            uint64_t off = take(&in, 2) & 0x1ffc;

            svmgpu_core_mmio_read(c, off, take(&in, 1) & 1 ? 8 : 4);
            break;
        }
        case 2: {       /* poke guest memory (page tables, data, code) */
            uint64_t off = take(&in, 3) % (RAM_SIZE - 8);

            put64(&f, RAM_BASE + off, take(&in, 8));
            break;
        }
        case 3:         /* command on one of the queues */
        case 4: {
            unsigned q = take(&in, 1) % NQ;
            struct svmgpu_cmd cmd;
            uint64_t slot;

            memset(&cmd, 0, sizeof(cmd));
            cmd.hdr.opcode = take(&in, 1) % 9;
            cmd.hdr.flags = take(&in, 1) & 3;
            cmd.hdr.seq = ops;
            cmd.raw[0] = take(&in, 1) & 1 ? take(&in, 8) : take(&in, 3);
            cmd.raw[1] = take(&in, 1) & 1 ? take(&in, 8) : take(&in, 3);
            cmd.raw[2] = take(&in, 3);
            cmd.raw[3] = take(&in, 2);
            cmd.raw[4] = take(&in, 1) & 1 ? take(&in, 8) : take(&in, 2);
            if (cmd.hdr.opcode == SVMGPU_CMD_LAUNCH) {
                cmd.launch.grid_x = 1 + take(&in, 1) % 3;
                cmd.launch.grid_y = 1 + take(&in, 1) % 2;
                cmd.launch.grid_z = 1;
                cmd.launch.wg_size = take(&in, 2) % 300;
                cmd.launch.budget = 1 + take(&in, 2) % 4096;
                cmd.launch.rsvd = 0;
            }
            if (cmd.hdr.opcode == SVMGPU_CMD_WAIT) {
                cmd.wait.timeout_ns = take(&in, 2);
            }
            slot = RINGS + (q * QENTRIES + f.tail[q]) * 64ull;
            poke(&f, slot, &cmd, sizeof(cmd));
            f.tail[q] = (f.tail[q] + 1) % QENTRIES;
            svmgpu_core_mmio_write(c, SVMGPU_REG_Q(q, SVMGPU_Q_TAIL),
                                   f.tail[q], 4);
            break;
        }
        case 5: {       /* bounded, as the QEMU device's x-sync mode */
            bool more;

            svmgpu_core_run_sync_budget(c, 64, &more);
            break;
        }
        case 6:
            f.now += take(&in, 4);
            break;
        case 7: {       /* a raw walk from a fuzzed root */
            SvmgpuXlate x;
            uint64_t root = RAM_BASE + (take(&in, 3) & (RAM_SIZE - 4096) &
                                        ~4095ull);

            svmgpu_mmu_walk(c, root, take(&in, 6), 1 + take(&in, 1) % 3, &x);
            break;
        }
        case 8: {       /* fault-handler behaviour: drain, replay/cancel */
            uint32_t put = svmgpu_core_mmio_read(c, SVMGPU_REG_FAULT_PUT, 4);
            struct svmgpu_fault_record rec;

            if (take(&in, 1) & 1) {
                memcpy(&rec, f.ram + (FAULT_RING - RAM_BASE) +
                       (put - 1) % 4 * 32, sizeof(rec));
                svmgpu_core_mmio_write(c, SVMGPU_REG_FAULT_REPLY,
                                       SVMGPU_FAULT_REPLY_CANCEL_VAL(rec.queue,
                                                                     rec.seq),
                                       8);
            }
            svmgpu_core_mmio_write(c, SVMGPU_REG_FAULT_GET, put, 4);
            svmgpu_core_mmio_write(c, SVMGPU_REG_FAULT_REPLY,
                                   SVMGPU_FAULT_REPLY_REPLAY, 8);
            break;
        }
        case 9:
            preempt_resume(&f, c, &in);
            break;
        }
        take_written(&f);
    }
    {
        bool more;

        svmgpu_core_run_sync_budget(c, 1024, &more);
    }
    svmgpu_core_reset(c);
    svmgpu_core_free(c);
    if (f.maps) {
        abort();    /* a map() without its unmap() */
    }
    check_written(&f);
    return 0;
}
