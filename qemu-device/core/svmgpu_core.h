/*
 * svmgpu device core: the hardware blocks of docs/hw-spec.md in plain C.
 *
 * The core knows nothing about QEMU.  Its environment (guest memory, MSI-X,
 * clock, logging, tracing) comes in through SvmgpuCoreOps; the QEMU glue
 * (svmgpu-pci.c), the host unit tests and the fuzzer each provide one.
 *
 * Threads: the embedder either creates one thread per engine running
 * svmgpu_core_engine_thread() plus one running svmgpu_core_control_thread(),
 * or (sync mode) calls svmgpu_core_run_sync() after every register write.
 * MMIO entry points may be called from any thread, concurrently with the
 * engines; they never wait for an engine step and never block on guest
 * memory except CTX_ENABLE's read of one context entry.  Requests that
 * need an engine to stop (reset, queue disable/enable, pause) are latched:
 * registers change at once, the step in flight finishes on its own without
 * writing memory, and STATUS.RESET_PENDING / Q_STATUS.ENABLE_PENDING show
 * that it still runs (docs/hw-spec.md §12).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SVMGPU_CORE_H
#define SVMGPU_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svmgpu/svmgpu_hw.h"

typedef struct SvmgpuCore SvmgpuCore;

/* Trace points; the glue maps them onto QEMU trace events. */
typedef enum SvmgpuTraceEvent {
    SVMGPU_TRACE_DOORBELL,      /* a = queue, b = tail */
    SVMGPU_TRACE_TLB_MISS,      /* a = ctx, b = va, c = access */
    /* a = queue, b = va, c = ctx | access << 16 | reason << 24 | seq << 32 */
    SVMGPU_TRACE_FAULT,
    SVMGPU_TRACE_REPLY,         /* a = op, b = queue, c = seq */
    SVMGPU_TRACE_INVAL_SUBMIT,  /* a = seq, b = ctx | flags << 32, c = start */
    SVMGPU_TRACE_INVAL_DONE,    /* a = seq */
    SVMGPU_TRACE_COMPLETE,      /* a = queue, b = seq, c = error code */
    SVMGPU_TRACE_ERROR,         /* a = ERROR_STATUS bit, b = address */
    /* a = queue, b = head, c = kind | error << 8 (§16: state saved or not) */
    SVMGPU_TRACE_PREEMPT,
    /* a = queue, b = head, c = kind | error << 8 (§16: state loaded or not) */
    SVMGPU_TRACE_RESUME,
} SvmgpuTraceEvent;

typedef struct SvmgpuCoreOps {
    /*
     * Guest memory by DMA address.  Return 0, or -1 if any byte of the range
     * is not accessible (the access then has no defined effect).  Called from
     * engine threads and from the MMIO path, never with core->lock or a
     * TLB lock held (the only core locks an MMIO access takes).
     */
    int (*dma_read)(void *opaque, uint64_t addr, void *buf, uint64_t len);
    int (*dma_write)(void *opaque, uint64_t addr, const void *buf,
                     uint64_t len);
    /*
     * Optional fast path: a host pointer to the RAM at [addr, addr + *len),
     * *len possibly shortened, or NULL if that memory is not directly
     * accessible (the core then uses dma_read/dma_write).  The core keeps
     * a few such windows for at most one engine step (see map_window).
     * Every non-NULL map is followed by exactly one unmap() of a sub-range
     * [ptr, ptr + len) of it: with is_write set, that sub-range covers
     * every byte the core wrote through the mapping (and is what must be
     * marked dirty); with is_write clear, nothing was written, or all of
     * it was reported through dirty() below.
     */
    void *(*map)(void *opaque, uint64_t addr, uint64_t *len, bool is_write);
    void (*unmap)(void *opaque, void *ptr, uint64_t len, bool is_write);
    /*
     * Optional: the core wrote [ptr, ptr + len) through a mapping it still
     * holds (QEMU: what unmap() with is_write marks; a map() that returns
     * a bounce buffer must not have it).  With it, the core reports each
     * run of pages it wrote and unmaps with is_write clear; without it,
     * unmap() gets the span from the first written byte to the last,
     * which may cover memory between the runs that nobody wrote.
     * Called from engine threads (and, with x-sync, the MMIO path),
     * possibly holding xlate (read) or atomic_lock; must not call back
     * into the core.
     */
    void (*dirty)(void *opaque, void *ptr, uint64_t len);
    /*
     * Signal an MSI-X vector.  Must not block or call back into the core:
     * it may be called with core locks held, from any thread.
     */
    void (*irq)(void *opaque, unsigned vector);
    /*
     * Optional: INTR_STATUS gained an unmasked cause whose message an
     * injection dropped or delayed (INJ_DROP_IRQS, INJ_IRQ_DELAY_US):
     * update the INTx level, which no injection affects (§15).  Same rules
     * as irq.
     */
    void (*level)(void *opaque);
    /* Device clock in ns (monotonic). */
    uint64_t (*now_ns)(void *opaque);
    /* Optional: a guest error message (no trailing newline). */
    void (*guest_error)(void *opaque, const char *msg);
    /* Optional: trace point. */
    void (*trace)(void *opaque, SvmgpuTraceEvent ev, uint64_t a, uint64_t b,
                  uint64_t c);
    /*
     * Optional: the engines wrote [offset, offset + len) of device-local
     * memory (SvmgpuCoreConfig.local_mem) through its host pointer (QEMU:
     * mark it dirty for migration).  Called from engine threads without
     * core locks.
     */
    void (*local_dirty)(void *opaque, uint64_t offset, uint64_t len);
} SvmgpuCoreOps;

typedef struct SvmgpuCoreConfig {
    uint32_t num_queues;        /* 1..SVMGPU_MAX_QUEUES */
    uint32_t num_engines;       /* 1..SVMGPU_MAX_ENGINES */
    uint32_t tlb_sets;          /* power of two, 1..4096 */
    uint32_t tlb_ways;          /* 1..16 */
    uint32_t fault_ring_entries; /* power of two, SVMGPU_FAULT_RING_MIN..MAX */
    /*
     * Device-local memory (docs/hw-spec.md §5a): local_mem_size bytes (0 or
     * a multiple of SVMGPU_LOCAL_MEM_GRANULE up to SVMGPU_LOCAL_MEM_MAX) at
     * the host pointer local_mem, owned by the embedder, which the engines
     * read and write directly (aperture 1); NULL when the size is 0.
     */
    uint64_t local_mem_size;
    void *local_mem;
    /* Link model (§5a): MB/s (10^6 bytes/s) of system-memory data, 0 = off */
    uint32_t link_bandwidth;
    uint32_t link_latency;      /* ns per burst (when link_bandwidth != 0) */
    bool sync;                  /* no threads: svmgpu_core_run_sync() */
    /*
     * map() windows: 0 = map only bytes the device accesses; else ask for
     * up to this many bytes (a power of two) from the aligned block around
     * an access, so one map serves many pages.  Use 0 when looking up an
     * address has side effects (a vIOMMU reports a fault for an unmapped
     * IOVA).
     */
    uint64_t map_window;
    /* LAUNCH's interpreter, SVMGPU_ENGINE_* (docs/compute-engine.md) */
    uint32_t engine;
    /*
     * Tests only: wave-instructions per engine step, 0 = the default
     * (4096).  Small values put a safe point (PREEMPT, §16) after nearly
     * every instruction.
     */
    uint32_t isa_slice;
    /* Reset values of the INJ_* registers (hw-spec §15; tests only) */
    uint32_t inject_hang_queues;
    uint32_t inject_drop_irqs;
    uint32_t inject_inval_refuse;
    uint32_t inject_corrupt_compl;
    uint32_t inject_irq_delay_us;       /* clamped to SVMGPU_INJ_DELAY_MAX_US */
    uint32_t inject_inval_delay_us;     /* clamped to SVMGPU_INJ_DELAY_MAX_US */
    uint32_t inject_stall_fault_ring;
    uint32_t inject_enable_refuse;
} SvmgpuCoreConfig;

/* The fast engine is the default; the reference is the plain interpreter. */
#define SVMGPU_ENGINE_FAST          0
#define SVMGPU_ENGINE_REFERENCE     1

#define SVMGPU_CORE_MAX_TLB_SETS    4096
#define SVMGPU_CORE_MAX_TLB_WAYS    16

/* Fill @cfg with the defaults of docs/hw-spec.md §2. */
void svmgpu_core_default_config(SvmgpuCoreConfig *cfg);
/* NULL + message in @err (if not NULL) when @cfg is out of range. */
SvmgpuCore *svmgpu_core_new(const SvmgpuCoreConfig *cfg,
                            const SvmgpuCoreOps *ops, void *opaque,
                            const char **err);
/* Stops and joins nothing: the embedder must have stopped its threads. */
void svmgpu_core_free(SvmgpuCore *core);

/* BAR0 access; @size is 4 or 8, @offset naturally aligned. */
uint64_t svmgpu_core_mmio_read(SvmgpuCore *core, uint64_t offset,
                               unsigned size);
void svmgpu_core_mmio_write(SvmgpuCore *core, uint64_t offset, uint64_t val,
                            unsigned size);

/* Device reset (system reset, FLR, CONTROL.RESET). */
void svmgpu_core_reset(SvmgpuCore *core);

/*
 * Hold the engines (VM stopped): no new step starts; the steps in progress
 * end on their own (the call does not wait for them).  Registers keep
 * working.
 */
void svmgpu_core_pause(SvmgpuCore *core, bool paused);

/*
 * The environment took DMA addresses away from the device (an IOMMU unmap,
 * bus mastering turned off): an engine takes no new host pointer from a
 * mapping made before this call; the pointers it already holds serve
 * until its current hold of core->xlate ends (a bounded run of accesses,
 * like a device's DMA in flight).  Atomic; never blocks; any thread, any
 * locks held.
 */
void svmgpu_core_dma_unmapped(SvmgpuCore *core);

/*
 * From now on map() only what is accessed (map_window 0), as behind an
 * IOMMU.  Only before the first command runs (the environment learnt late
 * that it translates DMA); the engines see it at their next lock.
 */
void svmgpu_core_map_only_accessed(SvmgpuCore *core);

/* Number of timed WAIT re-checks by engine threads so far (tests). */
uint64_t svmgpu_core_wait_polls(SvmgpuCore *core);

/* True if an unmasked INTR_STATUS bit is set (INTx level). */
bool svmgpu_core_intx_level(SvmgpuCore *core);

/* Thread bodies; they return after svmgpu_core_stop(). */
void svmgpu_core_engine_thread(SvmgpuCore *core, unsigned engine);
void svmgpu_core_control_thread(SvmgpuCore *core);
void svmgpu_core_stop(SvmgpuCore *core);

/*
 * Sync mode: run invalidations and every runnable queue until nothing can
 * make progress.  Returns the number of steps taken.
 */
unsigned svmgpu_core_run_sync(SvmgpuCore *core);

/*
 * Sync mode with bounded work: at most @max_steps steps.  *@more is set if
 * work was left because of the bound (call again later); a queue that is
 * only waiting (WAIT, stall) does not count as work left.
 */
unsigned svmgpu_core_run_sync_budget(SvmgpuCore *core, unsigned max_steps,
                                     bool *more);

#endif /* SVMGPU_CORE_H */
