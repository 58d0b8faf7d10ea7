/*
 * svmgpu device core: internal state shared by the hardware blocks.
 *
 * Locks, in acquisition order (a lock may be taken while holding the ones
 * above it, never the other way round):
 *
 *   outer        the environment's lock (QEMU: the BQL), held by MMIO and
 *                reset callers.  Engines take it only inside the dma/map
 *                ops (possibly holding fault_lock, xlate, atomic_lock),
 *                never with a tlb stripe lock or lock held.  Nothing that
 *                holds it ever waits for an engine: reset, queue
 *                disable/enable and pause are latched (generations below)
 *                and complete when the step in flight ends.  The MMIO path
 *                itself takes only the tlb stripe locks and lock.
 *   fault_lock   serializes fault-record writes to the fault ring (held
 *                across that DMA); fault.c
 *   xlate        rwlock: engines hold it for reading around one
 *                translation and the memory accesses that use it (a
 *                bounded run of accesses, cut short as soon as
 *                inval_waiting is set); invalidation holds it for writing
 *                (waits for them)
 *   atomic_lock  makes read-modify-write accesses atomic between engines
 *   lock         all register state, queue state visible to registers,
 *                contexts, interrupts, counters.  Never held across DMA or
 *                across any other lock's acquisition but the tlb stripe
 *                locks (the reset flushes the TLB).  The contexts' roots
 *                and the walk counter are also read and counted without
 *                it (atomics): the MMU takes no core lock on a TLB miss.
 *   tlb.stripe[].lock
 *                the TLB sets of one stripe, its LRU clock and counters;
 *                tlb.c, which holds one stripe at a time and takes no
 *                other lock
 *
 * A queue's execution state (SvmgpuQueueExec) belongs to the engine that
 * owns the queue (q % num_engines) while in_step is set, and to whoever
 * holds `lock` with in_step clear otherwise.
 *
 * Generations: every reset bumps core->gen, and every reset, queue enable
 * and queue disable bumps the queue's qgen.  A step remembers both when it
 * starts (step_gen, step_dgen).  Once its queue's qgen moved on, the step
 * is stale: it writes no guest memory (svmgpu_q_stale() before every DMA
 * write and every store through a map window), changes no register, raises
 * no interrupt, and when it ends its execution state is thrown away.  So
 * no register access ever waits for an engine step.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SVMGPU_CORE_INTERNAL_H
#define SVMGPU_CORE_INTERNAL_H

#include <pthread.h>

#include "svmgpu_core.h"

/* Guest structures are little-endian and are used in place. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "the svmgpu core supports little-endian hosts only"
#endif

#define SVMGPU_COPY_CHUNK       (64 * 1024)    /* engine bounce buffer */
#define SVMGPU_COPY_SLICE       (1024 * 1024)  /* bytes per step */
#define SVMGPU_ISA_SLICE        4096           /* wave-instructions per step */
#define SVMGPU_WAIT_POLL_NS     100000ull
#define SVMGPU_INVAL_QUEUE      64
#define SVMGPU_INJ_IRQ_QUEUE    256            /* delayed interrupt messages */
#define SVMGPU_MAP_WINDOWS      8              /* guest RAM maps per step */
#define SVMGPU_MAP_WINDOW_MAX   (64ull << 20)  /* default map_window */
#define SVMGPU_MAP_RUNS         16             /* written runs kept a window */
#define SVMGPU_XLATE_RUN        (256 * 1024)   /* COPY/FILL bytes per hold */

/*
 * Device-local memory (docs/hw-spec.md §5a): a translation of an aperture-1
 * leaf is this tag | the byte offset in local memory, so the TLB, the map
 * cache and the engines carry it like a DMA address (those are below
 * 2^52).  svmgpu_map_get(), svmgpu_mem_read() and svmgpu_mem_write()
 * resolve it to core->cfg.local_mem; it never reaches the dma/map ops.
 */
#define SVMGPU_PA_LOCAL         (1ull << 63)

static inline bool svmgpu_pa_local(uint64_t pa)
{
    return pa & SVMGPU_PA_LOCAL;
}

/* ---- TLB (tlb.c) ---- */
typedef struct SvmgpuTlbEntry {
    uint64_t vpn;       /* va >> shift */
    uint64_t pa;        /* page base DMA address */
    uint64_t lru;
    uint32_t ctx;
    uint8_t shift;      /* 12, 21 or 30; 0 = invalid */
    uint8_t writable;
} SvmgpuTlbEntry;

/*
 * A lock stripe: set s of the TLB belongs to stripe s % SVMGPU_TLB_STRIPES.
 * Its lock protects its sets' entries and the fields below; aligned to a
 * cache line and padded to two, so that engines missing the TLB in
 * different stripes neither wait for each other nor pass a line back and
 * forth.
 */
#define SVMGPU_TLB_STRIPES  16

typedef struct SvmgpuTlbStripe {
    pthread_mutex_t lock;
    uint64_t tick;          /* LRU clock of its sets */
    uint64_t hits, misses, evictions;
} __attribute__((aligned(64))) SvmgpuTlbStripe;

typedef struct SvmgpuTlb {
    uint32_t sets, ways;
    SvmgpuTlbEntry *e;  /* sets * ways */
    SvmgpuTlbStripe *stripe;    /* SVMGPU_TLB_STRIPES, 64-byte aligned */
    /*
     * Valid 2 MiB and 1 GiB entries; atomic, moved with the entry under
     * its stripe's lock.  A lookup probes a size's sets only while some
     * entry of that size exists (most guests map 4 KiB pages only); an
     * insert racing the lookup only makes it a miss, which the walk
     * answers exactly.
     */
    uint32_t large[2];
    /*
     * Bumped by every flush (a reset) before it empties the stripes: a
     * walk that began before it inserts nothing (svmgpu_tlb_insert()), so
     * no entry of the old page tables outlives the reset (hw-spec §12: the
     * TLB is empty).  Atomic.
     */
    uint64_t gen;
} SvmgpuTlb;

int svmgpu_tlb_init(SvmgpuTlb *tlb, uint32_t sets, uint32_t ways);
void svmgpu_tlb_destroy(SvmgpuTlb *tlb);
bool svmgpu_tlb_lookup(SvmgpuTlb *tlb, uint32_t ctx, uint64_t va,
                       SvmgpuTlbEntry *out);
static inline uint64_t svmgpu_tlb_gen(SvmgpuTlb *tlb)
{
    return __atomic_load_n(&tlb->gen, __ATOMIC_ACQUIRE);
}
void svmgpu_tlb_insert(SvmgpuTlb *tlb, uint64_t gen, uint32_t ctx, uint64_t va,
                       unsigned shift, uint64_t pa, bool writable);
void svmgpu_tlb_remove(SvmgpuTlb *tlb, uint32_t ctx, uint64_t va,
                       unsigned shift);
/* all: every context; else ctx, and [start, start+size) unless whole. */
void svmgpu_tlb_invalidate(SvmgpuTlb *tlb, bool all, uint32_t ctx,
                           bool whole, uint64_t start, uint64_t size);
void svmgpu_tlb_flush(SvmgpuTlb *tlb);
void svmgpu_tlb_counters(SvmgpuTlb *tlb, uint64_t *hits, uint64_t *misses,
                         uint64_t *evictions);

/* Count @n TLB hits served from an engine's copy of a TLB entry. */
void svmgpu_tlb_count_hits(SvmgpuTlb *tlb, uint64_t n);

/* ---- MMU (mmu.c) ---- */
typedef enum SvmgpuXlateStatus {
    SVMGPU_XLATE_OK,
    SVMGPU_XLATE_FAULT,         /* reason in result */
    SVMGPU_XLATE_INVALID_VA,
    SVMGPU_XLATE_CTX_INVALID,
} SvmgpuXlateStatus;

typedef struct SvmgpuXlate {
    uint64_t pa;        /* DMA address of va, or SVMGPU_PA_LOCAL | offset */
    uint64_t len;       /* bytes from va to the end of its page */
    unsigned shift;     /* leaf size */
    bool writable;
    uint8_t reason;     /* enum svmgpu_fault_reason on FAULT */
} SvmgpuXlate;

/* One page walk, no TLB.  Returns OK or FAULT (reason set). */
SvmgpuXlateStatus svmgpu_mmu_walk(SvmgpuCore *core, uint64_t root,
                                  uint64_t va, unsigned access,
                                  SvmgpuXlate *out);
/* TLB lookup, walk on miss.  Caller holds core->xlate for reading. */
SvmgpuXlateStatus svmgpu_mmu_translate(SvmgpuCore *core, uint32_t ctx,
                                       uint64_t va, unsigned access,
                                       SvmgpuXlate *out);

/* ---- Queues (queue.c) ---- */
typedef enum SvmgpuStep {
    SVMGPU_STEP_DONE,   /* command finished (ok or error in exec) */
    SVMGPU_STEP_MORE,   /* yield; command continues next step */
    SVMGPU_STEP_FAULT,  /* stalled on a fault (recorded or ring full) */
    SVMGPU_STEP_WAIT,   /* WAIT not satisfied yet */
    SVMGPU_STEP_IDLE,   /* nothing to do */
} SvmgpuStep;

typedef struct SvmgpuLaunch SvmgpuLaunch;
typedef struct SvmgpuFastLaunch SvmgpuFastLaunch;
typedef struct SvmgpuMapCache SvmgpuMapCache;

typedef struct SvmgpuQueueExec {
    bool has_cmd;
    struct svmgpu_cmd cmd;
    uint64_t progress;      /* bytes done (COPY/FILL) */
    uint64_t wait_start;
    bool wait_started;
    bool restored;          /* resumed from a save area (§16): runs once
                             * head != tail */
    SvmgpuLaunch *launch;   /* LAUNCH state, isa.c (reference engine) */
    SvmgpuFastLaunch *fast; /* LAUNCH state, isa-fast.c (fast engine) */
    /* result of a failed command */
    uint32_t err_code;
    uint32_t err_info;
    uint64_t err_va;
    /* pending fault, set when the step returns FAULT */
    uint64_t fault_va;
    uint8_t fault_access;
    uint8_t fault_reason;
} SvmgpuQueueExec;

typedef struct SvmgpuQueue {
    unsigned index;
    /* registers, protected by core->lock */
    uint64_t base;
    uint32_t size;
    uint32_t ctx;
    uint64_t compl_addr;
    uint64_t save_addr;     /* Q_SAVE_ADDR (§16) */
    uint32_t priority;      /* Q_PRIORITY */
    uint32_t start;         /* Q_START */
    uint32_t head, tail;
    bool enabled;
    bool error;
    bool bad_config;        /* halted by a failed enable: CLEAR_ERROR can't */
    bool stall_fault;       /* waiting for REPLAY/CANCEL of fault_seq */
    bool stall_ring_full;   /* waiting for fault ring space */
    bool inj_fault_stalled; /* INJ_STALL_FAULT_RING withheld its record */
    bool cancel;            /* CANCEL received: fail the command */
    bool poll;              /* WAIT should be re-evaluated */
    bool waiting;           /* WAIT not satisfied */
    bool in_step;           /* an engine is running a step */
    bool preempt_pending;   /* PREEMPT requested, state not saved yet */
    bool preempted;         /* state saved at l_save_addr (§16) */
    bool resume;            /* RESUME: load the save area first */
    uint32_t qgen;          /* bumped by reset/enable/disable; atomic reads */
    uint32_t step_gen;      /* qgen when the running step began */
    uint32_t step_dgen;     /* core->gen when the running step began */
    uint32_t step_ctx;      /* l_ctx when the running step began: a
                             * re-enable under the step cannot move it */
    uint64_t link_until;    /* engine-owned: link model, the step's data
                             * is on the link until then (CLOCK_MONOTONIC
                             * ns); 0 = no wait */
    uint64_t next_poll;     /* WAIT re-check time (ns) */
    uint32_t fault_seq;
    uint64_t compl_seq;
    uint32_t err_code, err_info;
    uint64_t err_va, err_seq;
    /* latched at enable */
    uint64_t l_base;
    uint32_t l_size, l_ctx;
    uint64_t l_compl_addr;
    uint64_t l_save_addr;
    uint32_t l_priority;
    /* engine-owned, see the locking comment */
    SvmgpuQueueExec x;
} SvmgpuQueue;

void svmgpu_queue_exec_reset(SvmgpuQueueExec *x);
/*
 * One step of queue q; called by its engine with in_step set.  @buf: the
 * engine's bounce buffer, @save_buf: its save area buffer (RESUME).
 */
SvmgpuStep svmgpu_queue_step(SvmgpuCore *core, SvmgpuQueue *q,
                             uint8_t *buf, void *save_buf);

/* ---- Preemption (save.c, hw-spec §16) ---- */
/*
 * Save queue q's state to its save area and stop it (PREEMPT); called by
 * its engine with in_step set, like a step.  @buf: SVMGPU_SAVE_AREA_SIZE
 * bytes of the engine's.
 */
void svmgpu_queue_save(SvmgpuCore *core, SvmgpuQueue *q, void *buf);
typedef enum SvmgpuRestore {
    SVMGPU_RESTORE_OK,          /* x holds the saved state (or none) */
    SVMGPU_RESTORE_REFUSED,     /* queue halted with ERR_SAVE_AREA */
    SVMGPU_RESTORE_RING_DMA,    /* the ring entry could not be read */
} SvmgpuRestore;
/* RESUME: read, check and load q's save area; in a step of q. */
SvmgpuRestore svmgpu_queue_restore(SvmgpuCore *core, SvmgpuQueue *q,
                                   void *buf);
/*
 * The engines' LAUNCH state to and from the save area's LAUNCH fields
 * (wg, executed, wg_running, nwaves, cur, waves, regs).  Export from
 * NULL writes the state of a launch not begun.  Import gets an area
 * that svmgpu_save_check() accepted; it returns false only when host
 * memory is short.
 */
void svmgpu_launch_export(const SvmgpuLaunch *l,
                          const struct svmgpu_cmd_launch *c,
                          struct svmgpu_save_area *a);
bool svmgpu_launch_import(SvmgpuLaunch **lp,
                          const struct svmgpu_cmd_launch *c,
                          const struct svmgpu_save_area *a);
void svmgpu_fast_export(const SvmgpuFastLaunch *l,
                        const struct svmgpu_cmd_launch *c,
                        struct svmgpu_save_area *a);
bool svmgpu_fast_import(SvmgpuFastLaunch **lp,
                        const struct svmgpu_cmd_launch *c,
                        const struct svmgpu_save_area *a);
/* Workgroups of a LAUNCH, or 0 if its grid is malformed. */
uint64_t svmgpu_launch_wg_total(const struct svmgpu_cmd_launch *c);

/* Wave-instructions per LAUNCH step (SvmgpuCoreConfig.isa_slice). */
static inline unsigned svmgpu_isa_slice(const SvmgpuCore *core);

/* ---- Compute engine (isa.c) ---- */
void svmgpu_launch_free(SvmgpuLaunch *l);
/* Returns DONE (x->err_code set on failure), MORE or FAULT. */
SvmgpuStep svmgpu_launch_step(SvmgpuCore *core, SvmgpuQueue *q,
                              SvmgpuMapCache *mc);

/*
 * The fast engine (isa-fast.c, docs/compute-engine.md): the same contract
 * and results as svmgpu_launch_step(), state in x->fast.
 */
void svmgpu_fast_free(SvmgpuFastLaunch *l);
SvmgpuStep svmgpu_fast_step(SvmgpuCore *core, SvmgpuQueue *q,
                            SvmgpuMapCache *mc);

/* ---- Faults (fault.c) ---- */
/*
 * Write a record for the fault in q->x.fault_* and stall the queue (on
 * FAULT_STALL, or RING_FULL_STALL if the record could not be written).
 */
void svmgpu_fault_report(SvmgpuCore *core, SvmgpuQueue *q, uint32_t ctx);
/* FAULT_REPLY write; core->lock held. */
void svmgpu_fault_reply_locked(SvmgpuCore *core, uint64_t val);

/* ---- Guest RAM map cache (queue.c) ---- */
/*
 * Host mappings of guest RAM by DMA address, kept for one engine step so
 * that bulk copies and kernel accesses cost a pointer computation instead
 * of a map/unmap (or dma_read/dma_write) per page or per word.  Keyed by
 * DMA address only, which is not enough behind an IOMMU: once the device
 * let an invalidation complete, the driver may unmap the IOVA, free its
 * page and hand the IOVA to a new page.  So every window records the DMA
 * mapping generation (core->map_gen) it was mapped in, and
 * svmgpu_map_get() never serves a new access from a system-memory window
 * of an older generation: it unmaps that window and maps again.
 * Device-local windows are physical and never go stale.
 *
 * Written bytes are reported as the runs of pages written, never as the
 * span between them: a 64 MiB window over a buffer of scattered pages
 * would otherwise report the memory in between as written too, and under
 * TCG that drops the translations of the code the CPUs run from it, on
 * every step (qemu-device/README.md, "Written memory").  The run being
 * extended is [dlo, dhi); the others wait in run[] and are reported at
 * release, or at once (ops->dirty, ops->local_dirty) when run[] is full.
 * Pages here are counted from the window's start (a window that starts
 * mid-page may report an unwritten neighbour: slower, never a loss).
 */
typedef struct SvmgpuMapRun {
    uint64_t lo, hi;        /* written offsets in the window */
} SvmgpuMapRun;

typedef struct SvmgpuMapWin {
    uint64_t pa, len;
    uint8_t *host;          /* NULL: slot empty (a stale window unmapped) */
    uint64_t dlo, dhi;      /* the run being written; none if dlo >= dhi */
    uint32_t nruns;         /* runs waiting in run[]; 0 if [dlo, dhi) is */
    uint32_t id;            /* unique within the step */
    uint32_t gen;           /* core->map_gen when mapped */
    bool is_write;
    bool local;             /* device-local memory: no map/unmap */
    SvmgpuMapRun run[SVMGPU_MAP_RUNS];
} SvmgpuMapWin;

/* Data bytes of a step (hw-spec §5a counters), index local * 2 + write */
enum {
    SVMGPU_BYTES_LINK_READ,
    SVMGPU_BYTES_LINK_WRITE,
    SVMGPU_BYTES_LOCAL_READ,
    SVMGPU_BYTES_LOCAL_WRITE,
};

struct SvmgpuMapCache {
    SvmgpuCore *core;
    SvmgpuMapWin w[SVMGPU_MAP_WINDOWS];
    unsigned n, next;
    int pin;                /* window not to replace, or -1 */
    uint32_t ids;           /* last window id handed out */
    uint64_t bytes[4];      /* SVMGPU_BYTES_*, added to the counters and
                             * the link at release */
    uint64_t bursts;        /* system-memory bursts (link model) */
    uint64_t link_until;    /* set by release, see SvmgpuQueue */
};

void svmgpu_map_init(SvmgpuCore *core, SvmgpuMapCache *mc);
/*
 * Host pointer for DMA address pa, usable for *len bytes (shortened to
 * the end of the window), or NULL if that memory cannot be mapped.
 * *win receives the window index (for svmgpu_map_dirty()).  The pointer
 * is good for accesses under the core->xlate hold it was got in (and
 * until the next svmgpu_map_get() of the step, unless its window is
 * mc->pin): after dropping xlate, get it again.
 */
uint8_t *svmgpu_map_get(SvmgpuCore *core, SvmgpuMapCache *mc, uint64_t pa,
                        uint64_t *len, bool is_write, unsigned *win);
/* A write that does not touch the run being written: queue.c. */
void svmgpu_map_dirty_run(SvmgpuMapCache *mc, unsigned win, uint64_t lo,
                          uint64_t hi);
/*
 * Whether written bytes [lo, hi) (hi > lo) lie in the pages of run
 * [rlo, rhi) (rhi > rlo), or the page after or before them.
 */
static inline bool svmgpu_map_touches(uint64_t rlo, uint64_t rhi,
                                      uint64_t lo, uint64_t hi)
{
    const unsigned sh = SVMGPU_PAGE_SHIFT;

    return lo >> sh <= ((rhi - 1) >> sh) + 1 &&
           ((hi - 1) >> sh) + 1 >= rlo >> sh;
}
/*
 * [p, p + len) of window win was written (after the write).  A write in
 * the pages of the current run, or the page after or before it, extends
 * the run; any other takes up a waiting run it touches, or starts a new
 * one.
 */
static inline void svmgpu_map_dirty(SvmgpuMapCache *mc, unsigned win,
                                    const uint8_t *p, uint64_t len)
{
    SvmgpuMapWin *w = &mc->w[win];
    uint64_t lo = p - w->host, hi = lo + len;

    if (__builtin_expect(w->dlo < w->dhi && len &&
                         svmgpu_map_touches(w->dlo, w->dhi, lo, hi), 1)) {
        if (lo < w->dlo) {
            w->dlo = lo;
        }
        if (hi > w->dhi) {
            w->dhi = hi;
        }
        return;
    }
    svmgpu_map_dirty_run(mc, win, lo, hi);
}
/*
 * Count n data bytes read or written (an atomic: both) by one access,
 * in device-local memory or (one burst) in system memory.
 */
static inline void svmgpu_map_count(SvmgpuMapCache *mc, bool local, bool wr,
                                    uint64_t n)
{
    mc->bytes[local * 2 + wr] += n;
    mc->bursts += !local;
}
/* The same for the access through window win. */
static inline void svmgpu_map_count_win(SvmgpuMapCache *mc, unsigned win,
                                        bool wr, uint64_t n)
{
    svmgpu_map_count(mc, mc->w[win].local, wr, n);
}
/*
 * Unmap every window, add the step's bytes to the counters and reserve
 * the link for them (mc->link_until).
 */
void svmgpu_map_release(SvmgpuCore *core, SvmgpuQueue *q, SvmgpuMapCache *mc);

/*
 * Data access by DMA address or SVMGPU_PA_LOCAL | offset (not counted):
 * 0, or -1 if a byte is not accessible.
 */
int svmgpu_mem_read(SvmgpuCore *core, uint64_t pa, void *buf, uint64_t len);
int svmgpu_mem_write(SvmgpuCore *core, uint64_t pa, const void *buf,
                     uint64_t len);

/* ---- Memory access helpers (queue.c) ---- */
typedef enum SvmgpuAccessResult {
    SVMGPU_ACC_OK,
    SVMGPU_ACC_FAULT,   /* x->fault_* set */
    SVMGPU_ACC_ERROR,   /* x->err_* set */
} SvmgpuAccessResult;

SvmgpuAccessResult svmgpu_xlate_failed(SvmgpuQueue *q, SvmgpuXlateStatus st,
                                       const SvmgpuXlate *t, uint64_t va,
                                       unsigned access);
/* Read or write len bytes (not crossing a page) at va of the queue's ctx. */
SvmgpuAccessResult svmgpu_vm_access(SvmgpuCore *core, SvmgpuQueue *q,
                                    SvmgpuMapCache *mc, uint64_t va,
                                    void *buf, unsigned len, unsigned access);
/* Atomic op of size 4/8 at va; *old receives the previous value. */
SvmgpuAccessResult svmgpu_vm_atomic(SvmgpuCore *core, SvmgpuQueue *q,
                                    SvmgpuMapCache *mc,
                                    uint64_t va, unsigned size, unsigned op,
                                    uint64_t operand, uint64_t compare,
                                    uint64_t *old);
void svmgpu_set_error(SvmgpuQueueExec *x, uint32_t code, uint64_t va,
                      unsigned access, unsigned reason);
uint64_t svmgpu_atomic_compute(unsigned op, unsigned size, uint64_t old,
                               uint64_t operand, uint64_t compare);

/* ---- Top level (core.c) ---- */
typedef struct SvmgpuInval {
    uint64_t due;           /* INJ_INVAL_DELAY_US: not before (device ns) */
    uint32_t seq;
    uint32_t ctx;
    uint32_t flags;
    uint64_t start, size;
} SvmgpuInval;

/*
 * A context's page-table root (page aligned, §6) | SVMGPU_CTX_ROOT_ON while
 * it is enabled; the flag cleared by CTX_DISABLE, 0 after a reset.
 * Written under core->lock with atomic stores; the MMU reads it with one
 * atomic load and no lock (svmgpu_mmu_translate(): every TLB miss).
 */
typedef struct SvmgpuContext {
    uint64_t root;
} SvmgpuContext;

#define SVMGPU_CTX_ROOT_ON  1ull

struct SvmgpuCore {
    SvmgpuCoreConfig cfg;
    const SvmgpuCoreOps *ops;
    void *opaque;

    pthread_mutex_t lock;
    pthread_cond_t work_cond;   /* engines and control wait here */
    pthread_cond_t idle_cond;   /* step/inval finished */
    pthread_rwlock_t xlate;
    pthread_mutex_t atomic_lock;
    pthread_mutex_t fault_lock;
    SvmgpuTlb tlb;
    /*
     * Invalidations waiting for (or holding) xlate for writing; atomic.
     * An engine holding xlate for reading across several accesses drops
     * it at the next access boundary once this is non-zero.
     */
    unsigned inval_waiting;
    /*
     * DMA mapping generation; atomic.  Bumped when a TLB invalidation
     * completes (with xlate held for writing, so no access of an engine
     * is in flight) and by svmgpu_core_dma_unmapped() (the environment
     * unmapped DMA addresses: IOMMU unmap, bus mastering off).  A map
     * window of an older generation serves no new access (queue.c).
     */
    uint32_t map_gen;

    /* everything below: protected by lock */
    bool quit;
    bool paused;                /* VM stopped: no new steps */
    unsigned active;            /* steps + invalidations in progress */
    uint32_t gen;               /* reset generation */
    bool ctl_busy;              /* an invalidation batch is running */
    uint32_t ctl_gen;           /* ... begun in this reset generation */
    uint32_t ts_hi;             /* TIMESTAMP high half, latched by low read */
    uint64_t wait_polls;        /* timed WAIT re-checks (idle engines: 0) */
    uint32_t control;
    uint32_t error_status;
    uint64_t error_addr;
    uint32_t intr_status, intr_mask;
    uint64_t ctx_table_base;
    uint32_t ctx_table_entries;
    uint32_t ctx_select;
    SvmgpuContext *ctxs;        /* SVMGPU_MAX_CONTEXTS */
    uint32_t inv_ctx, inv_flags;
    uint64_t inv_start, inv_size;
    uint32_t inv_req_seq, inv_done_seq;
    uint64_t inv_done_addr;
    SvmgpuInval invq[SVMGPU_INVAL_QUEUE];
    unsigned invq_len;
    bool inval_busy;
    uint64_t fault_ring_base;
    uint32_t fault_put, fault_get;
    uint32_t fault_seq;
    uint64_t reply_lo;          /* low half of a split FAULT_REPLY write */
    uint64_t cnt_walks;         /* atomic: counted without the lock */
    uint64_t cnt_faults, cnt_replays, cnt_cancels;
    uint64_t cnt_commands, cnt_instructions, cnt_invalidations;
    uint64_t cnt_bytes[4];      /* SVMGPU_BYTES_* */
    uint64_t cnt_preemptions;   /* queue states saved (§16) */
    uint64_t link_free;         /* link model: busy until (monotonic ns) */
    /* round-robin cursor per engine and priority (§16.3) */
    unsigned rr[SVMGPU_MAX_ENGINES][SVMGPU_Q_PRIORITY_MAX + 1];
    SvmgpuQueue queues[SVMGPU_MAX_QUEUES];
    uint8_t *bufs[SVMGPU_MAX_ENGINES]; /* engine bounce buffers */
    void *save_bufs[SVMGPU_MAX_ENGINES]; /* SVMGPU_SAVE_AREA_SIZE each */
    /* fault injection (inject.c, hw-spec §15), protected by lock */
    uint32_t inj_hang_queues, inj_drop_irqs, inj_inval_refuse;
    uint32_t inj_corrupt_compl;
    uint32_t inj_irq_delay_us, inj_inval_delay_us, inj_stall_fault_ring;
    uint32_t inj_enable_refuse; /* kept by CONTROL.RESET (the reset fails) */
    /* INJ_IRQ_DELAY_US: messages to send, oldest first (a ring) */
    struct { uint64_t due; uint32_t vectors; } irq_delayed[SVMGPU_INJ_IRQ_QUEUE];
    unsigned irq_delayed_first, irq_delayed_n;
    bool inval_refused;         /* a refused request holds DONE_SEQ back */
    bool fatal;                 /* INJ_FATAL: engines stopped until reset */
    uint64_t cnt_injected;
};

/* inject.c: fault injection (hw-spec §15); all with core->lock held */
void svmgpu_inject_reset_locked(SvmgpuCore *core, bool control_reset);
bool svmgpu_inject_read_locked(SvmgpuCore *core, uint64_t off, uint32_t *val);
bool svmgpu_inject_write_locked(SvmgpuCore *core, uint64_t off, uint32_t v);
/* true: do not send this interrupt message */
bool svmgpu_inject_drop_irq_locked(SvmgpuCore *core, int vector);
/* true: refuse invalidation request @seq (and everything after it) */
bool svmgpu_inject_refuse_inval_locked(SvmgpuCore *core, uint32_t seq);
/* true: write queue @queue's next completion record corrupted */
bool svmgpu_inject_corrupt_compl_locked(SvmgpuCore *core, unsigned queue);
/* true: the message for @vector was queued to be sent later */
bool svmgpu_inject_delay_irq_locked(SvmgpuCore *core, unsigned vector);
/* Send the delayed messages that are due. */
void svmgpu_inject_flush_irqs_locked(SvmgpuCore *core);
/* Device time a new invalidation request may complete (counts a delay). */
uint64_t svmgpu_inject_inval_due_locked(SvmgpuCore *core, uint32_t seq);
/* Earliest device time something delayed is due, or 0 if nothing is. */
uint64_t svmgpu_inject_next_due_locked(SvmgpuCore *core);
/* true: write no fault record for q now (it stalls as RING_FULL) */
bool svmgpu_inject_stall_fault_locked(SvmgpuCore *core, SvmgpuQueue *q);
/* a CONTROL.ENABLE write is refused (INJ_ENABLE_REFUSE): the device stays off */
bool svmgpu_inject_refuse_enable_locked(SvmgpuCore *core);

/* Set ERROR_STATUS bit(s), ERROR_ADDR and raise the error vector. */
void svmgpu_error_locked(SvmgpuCore *core, uint32_t bit, uint64_t addr,
                         const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void svmgpu_intr_locked(SvmgpuCore *core, uint32_t bits);
/* Halt q with error @code (Q_ERROR_*, error and queue vectors). */
void svmgpu_queue_fail_locked(SvmgpuCore *core, SvmgpuQueue *q,
                              uint32_t code, uint64_t va);

/* A new queue generation: a step in flight on q is stale from now on. */
static inline void svmgpu_queue_bump_gen_locked(SvmgpuQueue *q)
{
    __atomic_store_n(&q->qgen, q->qgen + 1, __ATOMIC_RELEASE);
}
void svmgpu_guest_error(SvmgpuCore *core, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void svmgpu_trace(SvmgpuCore *core, SvmgpuTraceEvent ev, uint64_t a,
                  uint64_t b, uint64_t c);
uint64_t svmgpu_now(SvmgpuCore *core);
/*
 * Link model: @bytes in @bursts bursts of a step begun in device generation
 * @dgen enter the link at @now (ns) or when it is free; returns when it is
 * free again (0 if nothing is paced: no bursts, link-bandwidth 0, sync mode,
 * or a reset since the step began).  Lock held.
 */
uint64_t svmgpu_link_reserve_locked(SvmgpuCore *core, uint32_t dgen,
                                    uint64_t now, uint64_t bytes,
                                    uint64_t bursts);
/* Wake engines (e.g. WAITs after a SIGNAL); lock held. */
void svmgpu_kick_locked(SvmgpuCore *core);

/*
 * True once the queue was reset, disabled or re-enabled after the running
 * step began: the step must not write guest memory any more.  Called by
 * the engine running q's step, without locks.
 */
static inline bool svmgpu_q_stale(SvmgpuQueue *q)
{
    return __atomic_load_n(&q->qgen, __ATOMIC_ACQUIRE) != q->step_gen;
}

static inline unsigned svmgpu_isa_slice(const SvmgpuCore *core)
{
    return core->cfg.isa_slice ? core->cfg.isa_slice : SVMGPU_ISA_SLICE;
}

/* Host atomic read-modify-write of size 4/8 at p; returns the old value. */
uint64_t svmgpu_atomic_host(void *p, unsigned size, unsigned op,
                            uint64_t operand, uint64_t compare);

/*
 * The DMA address of entry @idx (of @size bytes) of a table the guest put
 * at @base: false when the entry would reach past 2^64, which the device
 * must not wrap to address 0 (a failed DMA instead).
 */
static inline bool svmgpu_table_entry(uint64_t base, uint64_t idx,
                                      uint64_t size, uint64_t *addr)
{
    uint64_t off = idx * size;          /* tables are at most 4 MiB */

    if (base > UINT64_MAX - off || size - 1 > UINT64_MAX - (base + off)) {
        return false;
    }
    *addr = base + off;
    return true;
}

/*
 * The DMA address of ring slot @head of a command ring at @base of @size
 * entries: false when it reaches past 2^64 (*@addr is then @base, the
 * address an error reports).
 */
static inline bool svmgpu_ring_entry(uint64_t base, uint32_t head,
                                     uint32_t size, uint64_t *addr)
{
    *addr = base;
    return svmgpu_table_entry(base, head & (size - 1), SVMGPU_CMD_SIZE, addr);
}

static inline uint64_t svmgpu_min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static inline uint64_t svmgpu_max64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

#endif /* SVMGPU_CORE_INTERNAL_H */
