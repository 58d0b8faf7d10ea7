/*
 * svmgpu: a PCIe GPU with shared virtual memory.
 *
 * This file glues the device core (core/, plain C) to QEMU: PCI config
 * space, BAR0 registers, MSI-X in BAR2 (exclusive), DMA through the PCI
 * address space (so a vIOMMU applies), the engine worker threads, resets,
 * tracing and guest-error logging.  docs/hw-spec.md is the contract with
 * the driver.
 *
 * Threads and locks:
 *  - MMIO handlers run with the BQL held and call into the core, which
 *    takes its own short locks, never blocks on guest memory (except
 *    CTX_ENABLE's read of one context entry) and never waits for an engine
 *    step: reset, queue disable/enable and VM pause are latched and
 *    complete when the step in flight ends (docs/hw-spec.md §12).  No
 *    MMIO handler ever releases the BQL, and BAR0 keeps QEMU's memory
 *    re-entrancy guard.
 *  - Engine and control threads (one per engine + one, unless "x-sync" is
 *    on) are registered with RCU.  All device DMA, from any thread, goes
 *    to RAM only: translation, the check that the target is directly
 *    accessible RAM, and the copy (or the map() of a window) happen in one
 *    RCU critical section, and never through QEMU's bounce buffer.  A DMA
 *    address that resolves to MMIO (our own BARs included), to nothing, or
 *    is refused by the vIOMMU fails, which the core reports as a device
 *    error.  Bus mastering off: the address space is empty, DMA fails.
 *  - The engines keep host mappings of DMA addresses for one step (the
 *    core's map cache).  Behind a vIOMMU those are IOVAs, which the guest
 *    may unmap and reuse for another page: bus mastering off and every
 *    unmap the vIOMMU reports (an UNMAP-only IOMMU notifier, registered by
 *    a MemoryListener on our DMA address space) call
 *    svmgpu_core_dma_unmapped(), and no engine uses an older mapping for a
 *    new access.  The core does the same for its own TLB invalidations.
 *  - Without a vIOMMU engines never take the BQL.  Behind one, they take
 *    it around each translation: a refused IOVA makes the vIOMMU record a
 *    fault and raise its own interrupt from inside the translation, which
 *    needs the BQL.  Nothing that holds the BQL waits for them, and nothing
 *    drops it.  Unrealize (any unplug: an ACPI or native slot eject from
 *    a vCPU, a system reset or QMP completing one) marks the device gone,
 *    from when on every new DMA, BAR0 access and interrupt of it is a
 *    no-op, resets the core (a step in flight writes no more than a reset
 *    lets it, docs/hw-spec.md §12) and stops the threads.  Without a
 *    vIOMMU it joins them at once (they never wait for the BQL).  Behind
 *    one it does not wait: the last thread to end schedules a bottom half
 *    in the main loop that joins them, frees the core and drops the
 *    reference unrealize took (svmgpu_reap_bh).
 *  - Device-local memory (BAR4, docs/hw-spec.md §5a) is a RAM region the
 *    core reads and writes through its host pointer from the engine
 *    threads, exactly as the guest CPUs do through the BAR; the engines
 *    report what they wrote (svmgpu_local_dirty) for migration and TCG.
 *    Another device's DMA to it (or ours, aperture 0) finds RAM and works
 *    as memory; the unbacked tail of the BAR is MMIO and is not DMA-able.
 *  - Interrupts: the core calls svmgpu_irq() from any thread, possibly
 *    holding core locks; it only records the vector and schedules a
 *    bottom half (guarded by the device's re-entrancy guard), which
 *    notifies MSI-X (or sets INTx to follow INTR_STATUS) under the BQL.
 *    MMIO handlers, x-sync included, only schedule that bottom half: an
 *    MSI-X message aimed at our own BARs is dropped by the guard instead
 *    of recursing into the handler.  One aimed at a config register
 *    through MMCONFIG is written at once and may reset us (FLR) or unplug
 *    us (a hotplug slot's power control): the bottom half stops there, and
 *    an unplug inside it, inside a config write or inside a BAR0 access
 *    (a vIOMMU that reports a refused DMA of ours with a write or message
 *    of its own) keeps the device's memory and core until that callback
 *    has returned (in_callback).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/resource.h>
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "qemu/rcu.h"
#include "qemu/thread.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "exec/memory.h"
#include "exec/exec-all.h"
#include "exec/ram_addr.h"
#include "hw/pci/pci.h"
#include "hw/pci/pcie.h"
#include "hw/pci/msix.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "sysemu/runstate.h"
#include "sysemu/sysemu.h"
#include "svmgpu/svmgpu_hw.h"
#include "core/svmgpu_core.h"
#include "trace.h"

#define TYPE_SVMGPU "svmgpu"
OBJECT_DECLARE_SIMPLE_TYPE(SvmgpuState, SVMGPU)

/*
 * An IOMMU_NOTIFIER_UNMAP notifier on an IOMMU region of our DMA space:
 * one per region, over all of it, however many sections the region shows
 * in our address space (@sections of them).
 */
typedef struct SvmgpuIommuNotifier {
    IOMMUNotifier n;
    MemoryRegion *mr;
    SvmgpuState *s;
    unsigned sections;
    QLIST_ENTRY(SvmgpuIommuNotifier) next;
} SvmgpuIommuNotifier;

typedef struct SvmgpuThread {
    SvmgpuState *s;
    int engine;                 /* -1: control thread */
    QemuThread thread;
} SvmgpuThread;

struct SvmgpuState {
    PCIDevice parent_obj;

    MemoryRegion regs;
    MemoryRegion local_bar;     /* BAR4 container: pow2 size */
    MemoryRegion local_ram;     /* device-local memory, local_mem_size */
    MemoryRegion local_tail;    /* the rest of BAR4: reads 0 */
    SvmgpuCore *core;
    QEMUBH *irq_bh;
    QEMUBH *sync_bh;            /* x-sync: work left by the per-write bound */
    VMChangeStateEntry *vmstate_change;
    uint32_t pending_vectors;   /* atomic: vectors to signal */
    SvmgpuThread threads[SVMGPU_MAX_ENGINES + 1];
    unsigned nthreads;
    bool gone;                  /* atomic: unrealized, everything a no-op */
    unsigned resets;            /* BQL: svmgpu_reset() calls */
    unsigned in_callback;       /* BQL: callbacks an MSI may unplug us from */
    bool free_deferred;         /* BQL: unplugged in one: unref_bh frees */
    bool reap_deferred;         /* atomic: the last thread reaps (above) */
    unsigned threads_left;      /* atomic: threads not yet ended */

    bool dma_needs_bql;         /* behind a vIOMMU: translate under BQL */
    /* IOMMU unmaps make the engines map again (svmgpu_core_dma_unmapped) */
    MemoryListener iommu_listener;
    QLIST_HEAD(, SvmgpuIommuNotifier) iommu_notifiers;
    bool iommu_listening;
    Notifier machine_done;      /* cold plug: svmgpu_dma_setup() then */
    bool iommu_refused;         /* the vIOMMU took no notifier (warned) */

    /* properties */
    uint32_t queues;
    uint32_t engines;
    uint32_t tlb_sets;
    uint32_t tlb_ways;
    uint32_t fault_ring_entries;
    uint64_t local_mem_size;
    uint32_t link_bandwidth;    /* MB/s, 0 = link not modelled */
    uint32_t link_latency;      /* ns per burst */
    int32_t engine_nice;        /* host nice value of the engine threads */
    bool iommu_notify;          /* "x-iommu-unmap-notify" */
    bool sync;                  /* "x-sync" (tests) */
    char *engine;               /* "x-engine": fast | reference */
    uint32_t inject[8];         /* "x-inject-*" (tests, hw-spec §15) */
};

/* x-sync: steps run per register write or bottom half, at most. */
#define SVMGPU_SYNC_STEPS   64

/* ------------------------------------------------------------------ */
/* core environment */

/* Take the BQL for a DMA translation if it may be needed and not held. */
static bool svmgpu_dma_lock(SvmgpuState *s)
{
    if (!s->dma_needs_bql || qemu_mutex_iothread_locked()) {
        return false;
    }
    qemu_mutex_lock_iothread();
    return true;
}

static void svmgpu_dma_unlock(bool locked)
{
    if (locked) {
        qemu_mutex_unlock_iothread();
    }
}

/*
 * Translate [addr, addr + *len) and, in the same RCU critical section,
 * take a reference to the RAM it lands in: a host pointer for up to *len
 * bytes (shortened), or NULL if the target is not directly accessible RAM
 * (MMIO, our own BARs, nothing, refused by the vIOMMU).  Never the bounce
 * buffer.  Release with svmgpu_ram_put(), which marks written bytes dirty
 * and drops the reference.  The BQL is held if dma_needs_bql.
 */
static void *svmgpu_ram_get(SvmgpuState *s, uint64_t addr, uint64_t *len,
                            bool is_write)
{
    AddressSpace *as = pci_get_address_space(&s->parent_obj);
    hwaddr l = *len, xlat;
    MemoryRegion *mr;
    void *host = NULL;

    RCU_READ_LOCK_GUARD();
    mr = address_space_translate(as, addr, &xlat, &l, is_write,
                                 MEMTXATTRS_UNSPECIFIED);
    if (l && memory_access_is_direct(mr, is_write)) {
        memory_region_ref(mr);
        host = (uint8_t *)memory_region_get_ram_ptr(mr) + xlat;
        *len = MIN(l, *len);
        /* as address_space_map(): lets generic-fuzz supply DMA data */
        fuzz_dma_read_cb(addr, *len, mr);
    }
    return host;
}

typedef struct SvmgpuUnref {
    struct rcu_head rcu;
    MemoryRegion *mr;
} SvmgpuUnref;

static void svmgpu_unref_rcu(SvmgpuUnref *u)
{
    memory_region_unref(u->mr);
    g_free(u);
}

/*
 * Release a window of svmgpu_ram_get() that outlived its RCU critical
 * section: address_space_unmap() marks the written bytes dirty and drops
 * the region's reference.  That can be the last reference of its owner: a
 * peer device whose BAR4 we reach (hw-spec 5a), unplugged (its slot
 * powered off by the guest) while the window was open, or a DIMM's
 * backend deleted after its unplug.  The owner is then finalized right
 * there, which needs the BQL.  So a caller without the BQL (the engine
 * threads) keeps a reference of its own across the unmap and leaves it to
 * call_rcu(), whose callbacks run batched under the BQL, as QEMU drops
 * its own memory maps' references.
 */
static void svmgpu_ram_put(SvmgpuState *s, void *ptr, uint64_t len,
                           bool is_write)
{
    AddressSpace *as = pci_get_address_space(&s->parent_obj);
    SvmgpuUnref *u = NULL;
    ram_addr_t offset;
    MemoryRegion *mr;

    if (!qemu_mutex_iothread_locked()) {
        mr = memory_region_from_host(ptr, &offset);
        if (mr) {
            memory_region_ref(mr);
            u = g_new(SvmgpuUnref, 1);
            u->mr = mr;
        }
    }
    address_space_unmap(as, ptr, len, is_write, is_write ? len : 0);
    if (u) {
        call_rcu(u, svmgpu_unref_rcu, rcu);
    }
}

/*
 * The copy itself; the BQL is held if dma_needs_bql.  One RCU critical
 * section from translation to unmap: the memory map that held the
 * region's owner is not freed before it ends, so the unmap never drops
 * the owner's last reference (svmgpu_ram_put()).
 */
static int svmgpu_dma_locked(SvmgpuState *s, uint64_t addr, uint8_t *p,
                             uint64_t len, bool is_write)
{
    AddressSpace *as = pci_get_address_space(&s->parent_obj);

    RCU_READ_LOCK_GUARD();
    while (len) {
        uint64_t l = len;
        void *host = svmgpu_ram_get(s, addr, &l, is_write);

        if (!host) {
            trace_svmgpu_dma_error(addr, len, is_write);
            return -1;
        }
        if (is_write) {
            memcpy(host, p, l);
        } else {
            memcpy(p, host, l);
        }
        address_space_unmap(as, host, l, is_write, is_write ? l : 0);
        addr += l;
        p += l;
        len -= l;
    }
    return 0;
}

static int svmgpu_dma(SvmgpuState *s, uint64_t addr, void *buf, uint64_t len,
                      bool is_write)
{
    bool locked;
    int ret = -1;

    if (len && addr + len - 1 < addr) {     /* may end at 2^64 */
        trace_svmgpu_dma_error(addr, len, is_write);
        return -1;
    }
    locked = svmgpu_dma_lock(s);
    /* Unrealized: its DMA address space is being destroyed. */
    if (!qatomic_read(&s->gone)) {
        ret = svmgpu_dma_locked(s, addr, buf, len, is_write);
    }
    svmgpu_dma_unlock(locked);
    return ret;
}

static void *svmgpu_map(void *opaque, uint64_t addr, uint64_t *len,
                        bool is_write)
{
    SvmgpuState *s = opaque;
    bool locked = svmgpu_dma_lock(s);
    void *host = NULL;

    if (!qatomic_read(&s->gone)) {
        host = svmgpu_ram_get(s, addr, len, is_write);
    }
    svmgpu_dma_unlock(locked);
    return host;
}

/*
 * @ptr may point inside the mapping (the written sub-range): for RAM,
 * address_space_unmap() finds the region from any host address in it and
 * marks [ptr, ptr + len) dirty (TCG code invalidation, migration).
 */
static void svmgpu_unmap(void *opaque, void *ptr, uint64_t len, bool is_write)
{
    svmgpu_ram_put(opaque, ptr, len, is_write);
}

static int svmgpu_dma_read(void *opaque, uint64_t addr, void *buf,
                           uint64_t len)
{
    return svmgpu_dma(opaque, addr, buf, len, false);
}

static int svmgpu_dma_write(void *opaque, uint64_t addr, const void *buf,
                            uint64_t len)
{
    return svmgpu_dma(opaque, addr, (void *)buf, len, true);
}

static void svmgpu_irq(void *opaque, unsigned vector)
{
    SvmgpuState *s = opaque;

    qatomic_or(&s->pending_vectors, 1u << vector);
    qemu_bh_schedule(s->irq_bh);
}

/* No message: the bottom half updates the INTx level (MSI-X off). */
static void svmgpu_level(void *opaque)
{
    SvmgpuState *s = opaque;

    qemu_bh_schedule(s->irq_bh);
}

static uint64_t svmgpu_now(void *opaque)
{
    return qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
}

static void svmgpu_guest_error(void *opaque, const char *msg)
{
    qemu_log_mask(LOG_GUEST_ERROR, "svmgpu: %s\n", msg);
    trace_svmgpu_guest_error(msg);
}

static void svmgpu_trace(void *opaque, SvmgpuTraceEvent ev, uint64_t a,
                         uint64_t b, uint64_t c)
{
    switch (ev) {
    case SVMGPU_TRACE_DOORBELL:
        trace_svmgpu_doorbell(a, b);
        break;
    case SVMGPU_TRACE_TLB_MISS:
        trace_svmgpu_tlb_miss(a, b, c);
        break;
    case SVMGPU_TRACE_FAULT:
        trace_svmgpu_fault(a, b, c & 0xffff, (c >> 16) & 0xff,
                           (c >> 24) & 0xff, c >> 32);
        break;
    case SVMGPU_TRACE_REPLY:
        trace_svmgpu_fault_reply(a, b, c);
        break;
    case SVMGPU_TRACE_INVAL_SUBMIT:
        trace_svmgpu_inval_submit(a, b & 0xffffffff, b >> 32, c);
        break;
    case SVMGPU_TRACE_INVAL_DONE:
        trace_svmgpu_inval_done(a, b);
        break;
    case SVMGPU_TRACE_COMPLETE:
        trace_svmgpu_complete(a, b, c);
        break;
    case SVMGPU_TRACE_ERROR:
        trace_svmgpu_error(a, b);
        break;
    case SVMGPU_TRACE_PREEMPT:
        trace_svmgpu_preempt(a, b, c & 0xff, c >> 8);
        break;
    case SVMGPU_TRACE_RESUME:
        trace_svmgpu_resume(a, b, c & 0xff, c >> 8);
        break;
    }
}

/*
 * Engines wrote [offset, offset + len) of RAM region mr through its host
 * pointer: what address_space_write() and address_space_unmap() do after
 * writing RAM (physmem.c's static invalidate_and_set_dirty()).
 * memory_region_set_dirty() alone would mark the TCG code bitmap dirty
 * without dropping the translations of code the CPUs run from that memory
 * (a DAX mapping is plain memory to a process): they would go on running
 * the old code, and the CPUs' own later writes to those pages would no
 * longer be checked for code.  Inside an RCU read section, as physmem's
 * callers are: the TB invalidation reads the TB hash table's map, which a
 * resize frees after a grace period (review-s15-flr).
 */
static void svmgpu_ram_dirty(MemoryRegion *mr, ram_addr_t offset,
                             uint64_t len)
{
    ram_addr_t addr = memory_region_get_ram_addr(mr) + offset;
    uint8_t mask = memory_region_get_dirty_log_mask(mr);

    RCU_READ_LOCK_GUARD();
    mask = cpu_physical_memory_range_includes_clean(addr, len, mask);
#ifdef CONFIG_TCG
    /* the code bit is in the mask under TCG only */
    if (mask & (1 << DIRTY_MEMORY_CODE)) {
        tb_invalidate_phys_range(addr, addr + len);
        mask &= ~(1 << DIRTY_MEMORY_CODE);
    }
#endif
    cpu_physical_memory_set_dirty_range(addr, len, mask);
}

/* Device-local memory, written through its host pointer. */
static void svmgpu_local_dirty(void *opaque, uint64_t offset, uint64_t len)
{
    SvmgpuState *s = opaque;

    svmgpu_ram_dirty(&s->local_ram, offset, len);
}

/*
 * Guest RAM written through a window svmgpu_map() handed out (and not yet
 * unmapped, so the region is referenced): the core reports each run of
 * pages it wrote, so that the span between two buffers' pages — often
 * memory the CPUs run code from — is not marked (README.md, "Written
 * memory").
 */
static void svmgpu_ram_written(void *opaque, void *ptr, uint64_t len)
{
    ram_addr_t offset;
    MemoryRegion *mr = memory_region_from_host(ptr, &offset);

    assert(mr);                 /* as address_space_unmap() */
    svmgpu_ram_dirty(mr, offset, len);
}

static const SvmgpuCoreOps svmgpu_core_ops = {
    .dma_read = svmgpu_dma_read,
    .dma_write = svmgpu_dma_write,
    .map = svmgpu_map,
    .unmap = svmgpu_unmap,
    .dirty = svmgpu_ram_written,
    .irq = svmgpu_irq,
    .level = svmgpu_level,
    .now_ns = svmgpu_now,
    .guest_error = svmgpu_guest_error,
    .trace = svmgpu_trace,
    .local_dirty = svmgpu_local_dirty,
};

/* ------------------------------------------------------------------ */
/* interrupts (BQL held) */

/*
 * A message the guest aimed at a config register is written before
 * msix_notify() returns (MMCONFIG is the host bridge's: our re-entrancy
 * guard does not stop it): at our Device Control's FLR bit it resets us, at
 * a hotplug slot's power control (a root port's Slot Control, an SHPC) it
 * unplugs us, svmgpu_exit() and pci_config_free() included.  So after each
 * message the loop stops if either happened, and svmgpu_exit() keeps our
 * memory until after this callback (in_callback: aio_bh_call() still
 * writes our re-entrancy guard when it returns).
 */
static void svmgpu_irq_bh(void *opaque)
{
    SvmgpuState *s = opaque;
    PCIDevice *pdev = PCI_DEVICE(s);
    uint32_t pending = qatomic_xchg(&s->pending_vectors, 0);
    unsigned v, resets = s->resets;

    if (qatomic_read(&s->gone)) {
        return;
    }
    s->in_callback++;
    if (msix_enabled(pdev)) {
        for (v = 0; v < SVMGPU_NUM_VECTORS(s->queues); v++) {
            if (pending & (1u << v)) {
                trace_svmgpu_irq(v);
                msix_notify(pdev, v);
                /* reset: what was pending is cleared; unplugged: gone */
                if (qatomic_read(&s->gone) || s->resets != resets) {
                    goto out;
                }
            }
        }
        pci_set_irq(pdev, 0);
    } else {
        pci_set_irq(pdev, svmgpu_core_intx_level(s->core));
    }
out:
    s->in_callback--;
}

/* ------------------------------------------------------------------ */
/* MMIO */

static uint64_t svmgpu_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    SvmgpuState *s = opaque;
    uint64_t val;

    /* an access through a flat view older than the unplug */
    if (qatomic_read(&s->gone)) {
        return 0;
    }
    s->in_callback++;
    val = svmgpu_core_mmio_read(s->core, addr, size);
    s->in_callback--;
    trace_svmgpu_mmio_read(addr, size, val);
    return val;
}

/* Pending MSI-X of ours forgotten (CONTROL.RESET, FLR, system reset). */
static void svmgpu_clear_pending_irqs(SvmgpuState *s)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    unsigned v;

    qatomic_set(&s->pending_vectors, 0);
    if (msix_present(pdev)) {
        for (v = 0; v < SVMGPU_NUM_VECTORS(s->queues); v++) {
            msix_clr_pending(pdev, v);
        }
    }
}

/* x-sync: a bounded amount of work; what is left runs from sync_bh. */
static void svmgpu_run_sync(SvmgpuState *s)
{
    bool more;

    svmgpu_core_run_sync_budget(s->core, SVMGPU_SYNC_STEPS, &more);
    if (more && !qatomic_read(&s->gone)) {
        qemu_bh_schedule(s->sync_bh);
    }
}

static void svmgpu_sync_bh(void *opaque)
{
    SvmgpuState *s = opaque;

    /*
     * A stopped VM's memory does not change (§12): on resume.  A guest in
     * S3 is not stopped (its wakeup calls no state-change handler).
     */
    if (qatomic_read(&s->gone) ||
        !(runstate_is_running() || runstate_check(RUN_STATE_SUSPENDED))) {
        return;
    }
    s->in_callback++;
    svmgpu_run_sync(s);
    if (!qatomic_read(&s->gone)) {
        qemu_bh_schedule(s->irq_bh);
    }
    s->in_callback--;
}

static void svmgpu_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                              unsigned size)
{
    SvmgpuState *s = opaque;

    if (qatomic_read(&s->gone)) {
        return;
    }
    trace_svmgpu_mmio_write(addr, size, val);
    /*
     * The write's DMA (a context entry read by CTX_ENABLE, an x-sync step)
     * may unplug us: a vIOMMU that reports a refused translation with a
     * write or a message of its own (amd-iommu's event log and MSI,
     * virtio-iommu's fault queue) can be aimed at our slot's power
     * control.  svmgpu_exit() then keeps the core until this returns.
     */
    s->in_callback++;
    svmgpu_core_mmio_write(s->core, addr, val, size);
    if (qatomic_read(&s->gone)) {
        goto out;
    }
    if (addr == SVMGPU_REG_CONTROL && (val & SVMGPU_CONTROL_RESET)) {
        svmgpu_clear_pending_irqs(s);
    }
    if (s->sync) {
        svmgpu_run_sync(s);
        if (qatomic_read(&s->gone)) {
            goto out;
        }
    }
    /*
     * Never deliver from here: the bottom half does, under the device's
     * re-entrancy guard (an MSI-X address inside our BARs must not call
     * back into this handler).  INTx follows INTR_STATUS there too.
     */
    qemu_bh_schedule(s->irq_bh);
out:
    s->in_callback--;
}

static const MemoryRegionOps svmgpu_mmio_ops = {
    .read = svmgpu_mmio_read,
    .write = svmgpu_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 4,
        .max_access_size = 8,
    },
    .impl = {
        .min_access_size = 4,
        .max_access_size = 8,
    },
};

/* BAR4 beyond local-mem-size: not backed, reads 0, writes ignored. */
static uint64_t svmgpu_local_tail_read(void *opaque, hwaddr addr,
                                       unsigned size)
{
    return 0;
}

static void svmgpu_local_tail_write(void *opaque, hwaddr addr, uint64_t val,
                                    unsigned size)
{
}

static const MemoryRegionOps svmgpu_local_tail_ops = {
    .read = svmgpu_local_tail_read,
    .write = svmgpu_local_tail_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 1,
        .max_access_size = 8,
    },
};

/*
 * Device-local memory (docs/hw-spec.md §5a): host RAM, zero at creation,
 * registered for migration like any RAM region (memory_region_init_ram()
 * calls vmstate_register_ram()), never cleared by a reset.  BAR4 is its
 * size rounded up to a power of two; the tail reads 0.
 */
static bool svmgpu_init_local_mem(SvmgpuState *s, Error **errp)
{
    uint64_t size = s->local_mem_size, bar = pow2ceil(size);
    Error *err = NULL;

    if (size % SVMGPU_LOCAL_MEM_GRANULE || size > SVMGPU_LOCAL_MEM_MAX) {
        error_setg(errp, "svmgpu: local-mem-size must be 0 or a multiple of "
                   "2 MiB up to 64 GiB, not %" PRIu64, size);
        return false;
    }
    if (!size) {
        return true;
    }
    memory_region_init_ram(&s->local_ram, OBJECT(s), "svmgpu-local-mem",
                           size, &err);
    if (err) {
        error_propagate(errp, err);
        return false;
    }
    memory_region_init(&s->local_bar, OBJECT(s), "svmgpu-local-bar", bar);
    memory_region_add_subregion(&s->local_bar, 0, &s->local_ram);
    if (bar > size) {
        memory_region_init_io(&s->local_tail, OBJECT(s),
                              &svmgpu_local_tail_ops, s, "svmgpu-local-tail",
                              bar - size);
        memory_region_add_subregion(&s->local_bar, size, &s->local_tail);
    }
    return true;
}

/*
 * Undo svmgpu_init_local_mem() (unrealize, or realize failing after it).
 * A subregion holds a reference to its owner, the device: drop them, or
 * the device is never finalized (as msix_uninit() does for its exclusive
 * BAR); a device plugged again may then reuse the RAM's migration name
 * (as ivshmem).
 */
static void svmgpu_fini_local_mem(SvmgpuState *s)
{
    if (!s->local_mem_size) {
        return;
    }
    memory_region_del_subregion(&s->local_bar, &s->local_ram);
    if (s->local_mem_size < memory_region_size(&s->local_bar)) {
        memory_region_del_subregion(&s->local_bar, &s->local_tail);
    }
    vmstate_unregister_ram(&s->local_ram, DEVICE(s));
}

/* ------------------------------------------------------------------ */
/* threads */

static void svmgpu_reap_bh(void *opaque);

static void *svmgpu_thread_main(void *opaque)
{
    SvmgpuThread *t = opaque;

    rcu_register_thread();
#ifdef CONFIG_LINUX
    /*
     * "engine-nice": on Linux, setpriority() of a thread id sets that
     * thread's nice value alone.  Raising it needs no privilege.
     */
    if (t->engine >= 0 && t->s->engine_nice) {
        int ret = setpriority(PRIO_PROCESS, qemu_get_thread_id(),
                              t->s->engine_nice);

        trace_svmgpu_engine_nice(t->engine, t->s->engine_nice,
                                 ret ? errno : 0);
        if (ret) {
            /* e.g. EPERM: QEMU already runs at a higher nice value */
            warn_report("svmgpu: engine %d: engine-nice %d not applied: %s",
                        t->engine, t->s->engine_nice, strerror(errno));
        }
    }
#endif
    if (t->engine < 0) {
        svmgpu_core_control_thread(t->s->core);
    } else {
        svmgpu_core_engine_thread(t->s->core, t->engine);
    }
    rcu_unregister_thread();
    /*
     * Unrealized behind a vIOMMU: the last thread hands the rest to the
     * main loop (its last touch of the device: joined right after).
     * reap_deferred was set before the core was told to stop, which is
     * what ended this thread, under core->lock.
     */
    if (qatomic_read(&t->s->reap_deferred) &&
        qatomic_fetch_dec(&t->s->threads_left) == 1) {
        aio_bh_schedule_oneshot(qemu_get_aio_context(), svmgpu_reap_bh,
                                t->s);
    }
    return NULL;
}

/* Engines do not touch guest memory while the VM is stopped. */
static void svmgpu_vm_state_change(void *opaque, bool running,
                                   RunState state)
{
    SvmgpuState *s = opaque;

    if (s->sync) {
        /* x-sync: what sync_bh left while stopped runs on resume */
        if (running) {
            qemu_bh_schedule(s->sync_bh);
        }
        return;
    }
    svmgpu_core_pause(s->core, !running);
}

static void svmgpu_start_threads(SvmgpuState *s)
{
    unsigned i;

    qatomic_set(&s->threads_left, s->engines + 1);
    for (i = 0; i <= s->engines; i++) {
        SvmgpuThread *t = &s->threads[s->nthreads++];

        t->s = s;
        t->engine = i < s->engines ? (int)i : -1;
        qemu_thread_create(&t->thread, t->engine < 0 ? "svmgpu-ctl" :
                           "svmgpu-engine", svmgpu_thread_main, t,
                           QEMU_THREAD_JOINABLE);
    }
}

static void svmgpu_join_threads(SvmgpuState *s)
{
    unsigned i;

    for (i = 0; i < s->nthreads; i++) {
        qemu_thread_join(&s->threads[i].thread);
    }
    s->nthreads = 0;
}

/* What the threads use: freed once they have ended. */
static void svmgpu_free_core(SvmgpuState *s)
{
    qemu_bh_delete(s->irq_bh);
    s->irq_bh = NULL;
    qemu_bh_delete(s->sync_bh);
    s->sync_bh = NULL;
    svmgpu_core_free(s->core);
    s->core = NULL;
}

/* Main loop, BQL held: every thread has ended or is about to. */
static void svmgpu_reap_bh(void *opaque)
{
    SvmgpuState *s = opaque;

    trace_svmgpu_reap(s->nthreads);
    svmgpu_join_threads(s);
    svmgpu_free_core(s);
    object_unref(OBJECT(s));
}

/*
 * Stop the threads (BQL held).  Without a vIOMMU they never take the BQL:
 * joined at once.  Behind one, a step may be waiting for the BQL to
 * translate, so they are not waited for here and the BQL is not dropped:
 * the last one schedules svmgpu_reap_bh(), which the device's reference
 * waits for.  Return: true if they were joined (the core may be freed).
 */
static bool svmgpu_stop_threads(SvmgpuState *s)
{
    if (!s->nthreads) {
        return true;
    }
    if (s->dma_needs_bql) {
        object_ref(OBJECT(s));
        qatomic_set(&s->reap_deferred, true);
    }
    svmgpu_core_pause(s->core, true);
    svmgpu_core_stop(s->core);
    if (s->dma_needs_bql) {
        return false;
    }
    svmgpu_join_threads(s);
    return true;
}

/* ------------------------------------------------------------------ */
/* DMA address unmaps */

/*
 * The vIOMMU unmapped [iova, iova + size) (the guest invalidated its
 * IOTLB): the engines' host mappings of IOVAs may now be stale, so they
 * map again before the next access (docs/hw-spec.md §1).  Runs with the
 * BQL held, from the vCPU that invalidated; only bumps a counter.
 */
static void svmgpu_iommu_unmap_notify(IOMMUNotifier *n, IOMMUTLBEntry *iotlb)
{
    SvmgpuIommuNotifier *in = container_of(n, SvmgpuIommuNotifier, n);

    trace_svmgpu_dma_unmapped(iotlb->iova, iotlb->addr_mask + 1);
    svmgpu_core_dma_unmapped(in->s->core);
}

/*
 * An IOMMU region entered our bus-master address space (bus mastering on,
 * DMA remapping enabled): be told of its unmaps, as vhost does.  UNMAP
 * only, which intel-iommu takes without caching mode.  A vIOMMU that
 * refuses (intel-iommu with snoop-control) leaves the device with the
 * generation bumps of its own TLB invalidations and of bus mastering off.
 * Cost (intel-iommu 7.2): every page-selective IOTLB invalidation of our
 * domain reads our context entry and calls us; a domain-selective or
 * global one walks our whole IOMMU page table under the BQL
 * (vtd_sync_shadow_page_table) and keeps every leaf it saw in its
 * iova_tree, so QEMU's memory grows with the guest's mappings.  A correct
 * driver unmaps only after a TLB invalidation, which remaps by itself, so
 * this is opt-in, for bring-up: property x-iommu-unmap-notify.
 *
 * One notifier per region, over [0, 2^64): intel-iommu's region shows in
 * our space as two sections (its interrupt window at 0xfee00000 splits it),
 * and memory_region_notify_iommu_one() asserts that an event lies inside a
 * plain notifier's range: a notifier per section would let any guest
 * invalidation across 0xfee00000 abort QEMU.
 */
static void svmgpu_iommu_region_add(MemoryListener *listener,
                                    MemoryRegionSection *section)
{
    SvmgpuState *s = container_of(listener, SvmgpuState, iommu_listener);
    IOMMUMemoryRegion *iommu_mr;
    SvmgpuIommuNotifier *in;
    Error *err = NULL;
    int idx;

    if (!memory_region_is_iommu(section->mr)) {
        return;
    }
    QLIST_FOREACH(in, &s->iommu_notifiers, next) {
        if (in->mr == section->mr) {
            in->sections++;
            return;
        }
    }
    iommu_mr = IOMMU_MEMORY_REGION(section->mr);
    idx = memory_region_iommu_attrs_to_index(iommu_mr,
                                             MEMTXATTRS_UNSPECIFIED);
    in = g_new0(SvmgpuIommuNotifier, 1);
    iommu_notifier_init(&in->n, svmgpu_iommu_unmap_notify,
                        IOMMU_NOTIFIER_UNMAP, 0, UINT64_MAX, idx);
    in->mr = section->mr;
    in->s = s;
    in->sections = 1;
    if (memory_region_register_iommu_notifier(section->mr, &in->n, &err)) {
        if (!s->iommu_refused) {
            s->iommu_refused = true;
            warn_reportf_err(err, "svmgpu: no IOMMU unmap notifications "
                             "(only TLB invalidations and bus mastering "
                             "off remap DMA): ");
        } else {
            error_free(err);
        }
        g_free(in);
        return;
    }
    QLIST_INSERT_HEAD(&s->iommu_notifiers, in, next);
}

static void svmgpu_iommu_region_del(MemoryListener *listener,
                                    MemoryRegionSection *section)
{
    SvmgpuState *s = container_of(listener, SvmgpuState, iommu_listener);
    SvmgpuIommuNotifier *in;

    if (!memory_region_is_iommu(section->mr)) {
        return;
    }
    QLIST_FOREACH(in, &s->iommu_notifiers, next) {
        if (in->mr == section->mr) {
            if (--in->sections == 0) {
                memory_region_unregister_iommu_notifier(in->mr, &in->n);
                QLIST_REMOVE(in, next);
                g_free(in);
            }
            break;
        }
    }
    /* the IOVAs are gone with the region */
    svmgpu_core_dma_unmapped(s->core);
}

static void svmgpu_iommu_listen(SvmgpuState *s)
{
    s->iommu_listener = (MemoryListener) {
        .name = "svmgpu-iommu",
        .region_add = svmgpu_iommu_region_add,
        .region_del = svmgpu_iommu_region_del,
    };
    QLIST_INIT(&s->iommu_notifiers);
    memory_listener_register(&s->iommu_listener,
                             pci_get_address_space(&s->parent_obj));
    s->iommu_listening = true;
}

static void svmgpu_iommu_unlisten(SvmgpuState *s)
{
    SvmgpuIommuNotifier *in, *tmp;

    if (!s->iommu_listening) {
        return;
    }
    /* calls region_del for every section still there */
    memory_listener_unregister(&s->iommu_listener);
    QLIST_FOREACH_SAFE(in, &s->iommu_notifiers, next, tmp) {
        memory_region_unregister_iommu_notifier(in->mr, &in->n);
        QLIST_REMOVE(in, next);
        g_free(in);
    }
    s->iommu_listening = false;
}

/*
 * Without a vIOMMU, map() windows larger than an access only look up guest
 * RAM.  Behind one, looking up an IOVA the driver did not map would report
 * a DMA fault to the guest: map only what is accessed, translate under the
 * BQL (a vIOMMU's fault report needs it), and with x-iommu-unmap-notify
 * follow its unmaps.  Decided once the device's DMA address space is
 * known: at realize for a hot-plugged device, at machine-done for a
 * cold-plugged one, which may be realized before the vIOMMU (listed after
 * it on the command line) has set itself up on the bus.
 * Nothing has run a command yet (the VM has not started).
 */
static void svmgpu_dma_setup(SvmgpuState *s)
{
    if (pci_device_iommu_address_space(PCI_DEVICE(s)) == &address_space_memory) {
        return;
    }
    s->dma_needs_bql = true;    /* published by the core's lock below */
    svmgpu_core_map_only_accessed(s->core);
    if (s->iommu_notify) {
        svmgpu_iommu_listen(s);
    }
}

static void svmgpu_machine_done(Notifier *n, void *data)
{
    SvmgpuState *s = container_of(n, SvmgpuState, machine_done);

    svmgpu_dma_setup(s);
}

/* ------------------------------------------------------------------ */
/* device */

static void svmgpu_realize(PCIDevice *pdev, Error **errp)
{
    SvmgpuState *s = SVMGPU(pdev);
    SvmgpuCoreConfig cfg;
    const char *err = NULL;
    unsigned i;

    if (s->engine_nice < 0 || s->engine_nice > 19) {
        error_setg(errp, "svmgpu: engine-nice must be 0..19, not %d",
                   s->engine_nice);
        return;
    }
#ifndef CONFIG_LINUX
    if (s->engine_nice) {
        error_setg(errp, "svmgpu: engine-nice needs a Linux host");
        return;
    }
#endif
    svmgpu_core_default_config(&cfg);
    cfg.num_queues = s->queues;
    cfg.num_engines = s->engines;
    cfg.tlb_sets = s->tlb_sets;
    cfg.tlb_ways = s->tlb_ways;
    cfg.fault_ring_entries = s->fault_ring_entries;
    cfg.local_mem_size = s->local_mem_size;
    cfg.link_bandwidth = s->link_bandwidth;
    cfg.link_latency = s->link_latency;
    cfg.sync = s->sync;
    cfg.inject_hang_queues = s->inject[0];
    cfg.inject_drop_irqs = s->inject[1];
    cfg.inject_inval_refuse = s->inject[2];
    cfg.inject_corrupt_compl = s->inject[3];
    cfg.inject_irq_delay_us = s->inject[4];
    cfg.inject_inval_delay_us = s->inject[5];
    cfg.inject_stall_fault_ring = s->inject[6];
    cfg.inject_enable_refuse = s->inject[7];
    if (!s->engine || !strcmp(s->engine, "fast")) {
        cfg.engine = SVMGPU_ENGINE_FAST;
    } else if (!strcmp(s->engine, "reference")) {
        cfg.engine = SVMGPU_ENGINE_REFERENCE;
    } else {
        error_setg(errp, "svmgpu: x-engine must be 'fast' or 'reference', "
                   "not '%s'", s->engine);
        return;
    }
    if (!svmgpu_init_local_mem(s, errp)) {
        return;
    }
    if (cfg.local_mem_size) {
        cfg.local_mem = memory_region_get_ram_ptr(&s->local_ram);
    }
    s->core = svmgpu_core_new(&cfg, &svmgpu_core_ops, s, &err);
    if (!s->core) {
        error_setg(errp, "svmgpu: %s", err);
        svmgpu_fini_local_mem(s);
        return;
    }

    pci_config_set_interrupt_pin(pdev->config, 1);
    if (pcie_endpoint_cap_init(pdev, 0x80) < 0) {
        error_setg(errp, "svmgpu: cannot add the PCIe capability");
        goto fail_core;
    }
    pcie_cap_flr_init(pdev);
    /* Device Control's error reporting enables, which AER needs. */
    pcie_cap_deverr_init(pdev);
    /*
     * AER, so that a driver's error handlers can be exercised: an error
     * injected by the guest's aer_inject, or by QEMU's pcie_aer_inject_error
     * (uncorrectable, with SERR# on in the command register), reaches them
     * through the root port (hw-spec 1).  Nothing here raises one itself.
     */
    if (pcie_aer_init(pdev, PCI_ERR_VER, 0x100, PCI_ERR_SIZEOF, errp) < 0) {
        goto fail_core;
    }

    /* BAR0 keeps the memory re-entrancy guard, vIOMMU or not. */
    memory_region_init_io(&s->regs, OBJECT(s), &svmgpu_mmio_ops, s,
                          "svmgpu-regs", SVMGPU_BAR_REGS_SIZE);
    pci_register_bar(pdev, SVMGPU_BAR_REGS, PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_TYPE_64, &s->regs);

    if (msix_init_exclusive_bar(pdev, SVMGPU_NUM_VECTORS(s->queues),
                                SVMGPU_BAR_MSIX, errp)) {
        goto fail_core;
    }
    if (s->local_mem_size) {
        pci_register_bar(pdev, SVMGPU_BAR_LOCAL,
                         PCI_BASE_ADDRESS_SPACE_MEMORY |
                         PCI_BASE_ADDRESS_MEM_TYPE_64 |
                         PCI_BASE_ADDRESS_MEM_PREFETCH, &s->local_bar);
    }
    for (i = 0; i < SVMGPU_NUM_VECTORS(s->queues); i++) {
        msix_vector_use(pdev, i);
    }

    /* A cold-plugged device's DMA address space is made at machine-done. */
    if (phase_check(PHASE_MACHINE_READY)) {
        svmgpu_dma_setup(s);
    } else {
        s->machine_done.notify = svmgpu_machine_done;
        qemu_add_machine_init_done_notifier(&s->machine_done);
    }
    s->irq_bh = qemu_bh_new_guarded(svmgpu_irq_bh, s,
                                    &DEVICE(pdev)->mem_reentrancy_guard);
    s->sync_bh = qemu_bh_new_guarded(svmgpu_sync_bh, s,
                                     &DEVICE(pdev)->mem_reentrancy_guard);
    s->vmstate_change = qemu_add_vm_change_state_handler(
        svmgpu_vm_state_change, s);
    if (!s->sync) {
        /*
         * Paused only if the VM is stopped: a guest in S3 is not, and its
         * wakeup (RUNNING again) calls no state-change handler, so a
         * device hot-plugged during S3 would never run.
         */
        svmgpu_core_pause(s->core, !(runstate_is_running() ||
                                     runstate_check(RUN_STATE_SUSPENDED)));
        svmgpu_start_threads(s);
    }
    return;

fail_core:
    pcie_aer_exit(pdev);
    svmgpu_core_free(s->core);
    s->core = NULL;
    svmgpu_fini_local_mem(s);
}

/*
 * Main loop: the reference svmgpu_exit() took inside a callback, and the
 * core it did not free there (threads joined, none to reap it).
 */
static void svmgpu_unref_bh(void *opaque)
{
    SvmgpuState *s = opaque;

    if (s->free_deferred) {
        s->free_deferred = false;
        svmgpu_free_core(s);
    }
    object_unref(OBJECT(s));
}

static void svmgpu_exit(PCIDevice *pdev)
{
    SvmgpuState *s = SVMGPU(pdev);
    bool joined;

    if (s->in_callback) {
        /*
         * Unplugged by an MSI-X message of ours (svmgpu_irq_bh()) or by
         * a vIOMMU's report of a DMA of ours (svmgpu_mmio_write()): the
         * callback reads our state, and perhaps the core's, when that
         * returns, and neither may be freed before it ends.
         */
        trace_svmgpu_unplugged_in_callback();
        object_ref(OBJECT(s));
        aio_bh_schedule_oneshot(qemu_get_aio_context(), svmgpu_unref_bh, s);
    }

    if (s->vmstate_change) {
        qemu_del_vm_change_state_handler(s->vmstate_change);
        s->vmstate_change = NULL;
    }
    if (s->machine_done.notify) {
        qemu_remove_machine_init_done_notifier(&s->machine_done);
        s->machine_done.notify = NULL;
    }
    qatomic_set(&s->gone, true);
    /*
     * As a reset: a step in flight writes nothing more through what it
     * mapped (gen), and maps nothing new (map_gen); it never waits.
     */
    svmgpu_core_reset(s->core);
    /* before the threads may end and their bottom half free the core */
    svmgpu_iommu_unlisten(s);
    joined = svmgpu_stop_threads(s);
    msix_uninit_exclusive_bar(pdev);
    pcie_aer_exit(pdev);
    if (joined && s->in_callback) {
        s->free_deferred = true;
    } else if (joined) {
        svmgpu_free_core(s);
    }
    svmgpu_fini_local_mem(s);
}

static void svmgpu_reset(DeviceState *dev)
{
    SvmgpuState *s = SVMGPU(dev);

    trace_svmgpu_reset();
    s->resets++;
    /* Registers at reset values now; a step in flight writes nothing. */
    svmgpu_core_reset(s->core);
    svmgpu_clear_pending_irqs(s);
    pci_set_irq(PCI_DEVICE(s), 0);
    pcie_cap_deverr_reset(PCI_DEVICE(s));
}

static void svmgpu_write_config(PCIDevice *pdev, uint32_t addr, uint32_t val,
                                int len)
{
    SvmgpuState *s = SVMGPU(pdev);
    bool master = pci_get_word(pdev->config + PCI_COMMAND) &
                  PCI_COMMAND_MASTER;
    bool msix = msix_enabled(pdev);

    /*
     * Unmasking MSI-X sends what is pending, and a message may unplug us
     * (svmgpu_irq_bh()): then config space and the core are freed.
     */
    s->in_callback++;
    pci_default_write_config(pdev, addr, val, len);
    s->in_callback--;
    if (qatomic_read(&s->gone)) {
        return;
    }
    if (msix != msix_enabled(pdev)) {
        /* MSI-X off: INTx is the level of INTR_STATUS at once (§9) */
        qemu_bh_schedule(s->irq_bh);
    }
    if (master && !(pci_get_word(pdev->config + PCI_COMMAND) &
                    PCI_COMMAND_MASTER)) {
        /*
         * Bus mastering off: DMA fails from now on (the address space is
         * empty), and no host mapping made before serves a new access (a
         * kernel's wave-instruction under way ends on what it resolved, a
         * COPY or FILL its page, docs/hw-spec.md §1).
         */
        trace_svmgpu_bus_master_off();
        svmgpu_core_dma_unmapped(s->core);
    }
    pcie_cap_flr_write_config(pdev, addr, val, len);
    pcie_aer_write_config(pdev, addr, val, len);
}

static Property svmgpu_properties[] = {
    DEFINE_PROP_UINT32("queues", SvmgpuState, queues, 8),
    DEFINE_PROP_UINT32("engines", SvmgpuState, engines, 2),
    DEFINE_PROP_UINT32("tlb-sets", SvmgpuState, tlb_sets, 64),
    DEFINE_PROP_UINT32("tlb-ways", SvmgpuState, tlb_ways, 4),
    DEFINE_PROP_UINT32("fault-ring-entries", SvmgpuState, fault_ring_entries,
                       256),
    DEFINE_PROP_SIZE("local-mem-size", SvmgpuState, local_mem_size, 0),
    DEFINE_PROP_UINT32("link-bandwidth", SvmgpuState, link_bandwidth, 0),
    DEFINE_PROP_UINT32("link-latency", SvmgpuState, link_latency, 0),
    DEFINE_PROP_INT32("engine-nice", SvmgpuState, engine_nice, 0),
    /* bring-up: behind a vIOMMU, an UNMAP notifier remaps the windows */
    DEFINE_PROP_BOOL("x-iommu-unmap-notify", SvmgpuState, iommu_notify, false),
    DEFINE_PROP_BOOL("x-sync", SvmgpuState, sync, false),
    /* compute engine: fast (default) or the reference interpreter */
    DEFINE_PROP_STRING("x-engine", SvmgpuState, engine),
    /* reset values of the INJ_* registers (hw-spec §15) */
    DEFINE_PROP_UINT32("x-inject-hang-queues", SvmgpuState, inject[0], 0),
    DEFINE_PROP_UINT32("x-inject-drop-irqs", SvmgpuState, inject[1], 0),
    DEFINE_PROP_UINT32("x-inject-inval-refuse", SvmgpuState, inject[2], 0),
    DEFINE_PROP_UINT32("x-inject-corrupt-compl", SvmgpuState, inject[3], 0),
    DEFINE_PROP_UINT32("x-inject-irq-delay-us", SvmgpuState, inject[4], 0),
    DEFINE_PROP_UINT32("x-inject-inval-delay-us", SvmgpuState, inject[5], 0),
    DEFINE_PROP_UINT32("x-inject-stall-fault-ring", SvmgpuState, inject[6], 0),
    DEFINE_PROP_UINT32("x-inject-enable-refuse", SvmgpuState, inject[7], 0),
    DEFINE_PROP_END_OF_LIST(),
};

static const VMStateDescription vmstate_svmgpu = {
    .name = TYPE_SVMGPU,
    .unmigratable = 1,
};

static void svmgpu_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = svmgpu_realize;
    k->exit = svmgpu_exit;
    k->config_write = svmgpu_write_config;
    k->vendor_id = SVMGPU_PCI_VENDOR_ID;
    k->device_id = SVMGPU_PCI_DEVICE_ID;
    k->revision = SVMGPU_PCI_REVISION;
    k->class_id = SVMGPU_PCI_CLASS;
    dc->desc = "svmgpu shared-virtual-memory GPU";
    dc->vmsd = &vmstate_svmgpu;
    dc->reset = svmgpu_reset;
    device_class_set_props(dc, svmgpu_properties);
    set_bit(DEVICE_CATEGORY_DISPLAY, dc->categories);
}

static const TypeInfo svmgpu_info = {
    .name = TYPE_SVMGPU,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(SvmgpuState),
    .class_init = svmgpu_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_PCIE_DEVICE },
        { }
    },
};

static void svmgpu_register_types(void)
{
    type_register_static(&svmgpu_info);
}

type_init(svmgpu_register_types)
