/* SPDX-License-Identifier: GPL-2.0 */
/*
 * svmgpu driver internals.
 *
 * Objects and lifetimes (docs/driver.md has the long version):
 *
 *   svmgpu_device   one PCI function; the DRM device is embedded.
 *   svmgpu_file     one open file: handle tables of contexts and queues.
 *   svmgpu_svm      one (device, mm) pair: the device context (context id,
 *                   page tables, interval notifiers).  Obtained with
 *                   mmu_notifier_get(), shared by every context of the
 *                   process, freed by .free_notifier after the last
 *                   mmu_notifier_put().
 *   svmgpu_ctx      a uapi context: a reference on an svm plus statistics.
 *   svmgpu_queue    a uapi queue: a ring that borrows a hardware queue
 *                   while it has work.
 *
 * Lock order (outer first):
 *
 *   mmap_lock (write)              svm creation (mmu_notifier_get_locked())
 *     svmgpu_create_lock (svm.c)   svm creation, the decision to tear one down
 *   sdev->teardown_sem             (read) one svm's teardown; (write) removal
 *   (svmgpu_sched.c has the scheduler's: q->submit_lock, hw_sem, q->lock;
 *    q->submit_lock, sched.lock, hwq_lock)
 *     sf->lock                     handle tables of one file
 *       svm->lock                  contexts and queues of an svm, svm->dead
 *         q->submit_lock           ring writes of one queue
 *       svm->notifier_lock         chunk notifiers (may take mmap_lock)
 *       svm->alloc_lock            page-table allocation (GFP_KERNEL)
 *       mmap_lock                  (hmm_range_fault)
 *         svm->pt_lock             device PTEs: the hmm "update lock",
 *                                  also taken by the interval notifiers
 *           dm->free_lock          (spinlock, irq-safe) device page owner
 *                                  records (svmgpu_devmem.c has its order)
 *           sdev->inval_lock       TLB invalidation registers
 *           sdev->hwq_lock         (spinlock) hw queue -> queue table
 *           q->lock                (spinlock) completion state; never
 *                                  nested with sdev->hwq_lock either way
 *
 * Nothing allocates memory with GFP_KERNEL under svm->pt_lock, because the
 * notifiers that take it run from reclaim.
 */
#ifndef SVMGPU_DRV_H
#define SVMGPU_DRV_H

#include <linux/io.h>
#include <linux/io-64-nonatomic-lo-hi.h>
#include <linux/mmu_notifier.h>
#include <linux/completion.h>
#include <linux/kref.h>
#include <linux/maple_tree.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/sched.h>
#include <linux/pci.h>
#include <linux/spinlock.h>
#include <linux/srcu.h>
#include <linux/uidgid.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <drm/drm_device.h>
#include <drm/drm_drv.h>
#include <drm/drm_file.h>

#include <svmgpu/svmgpu_hw.h>

struct svmgpu_svm;
struct svmgpu_queue;
struct svmgpu_fault;
struct svmgpu_device;
struct svmgpu_devmem;
struct svmgpu_dax;

/**
 * struct svmgpu_vec - what an interrupt handler gets
 * @sdev: the device
 * @index: MSI-X vector index
 */
struct svmgpu_vec {
	struct svmgpu_device *sdev;
	u32 index;
};

/* Hardware contexts the driver binds (context table entries). */
#define SVMGPU_CTX_TABLE_ENTRIES	1024
/* Largest ring a queue may ask for, in commands. */
#define SVMGPU_MAX_RING_ENTRIES		4096
#define SVMGPU_DEFAULT_RING_ENTRIES	256
/* Failed commands remembered per queue for WAIT. */
#define SVMGPU_ERROR_LOG		32
/* Queues one file may have. */
#define SVMGPU_MAX_FILE_QUEUES		256
/* svmgpu_queue.hwq of a queue without a hardware queue. */
#define SVMGPU_HWQ_NONE			U32_MAX

/**
 * struct svmgpu_dev_stats - device-wide driver counters (debugfs)
 * @fault_records: fault records drained from the ring
 * @fault_records_unregistered: records cancelled because their context
 *	id's svm was not registered yet (a reused id: a record of its previous
 *	owner that svmgpu_fault_flush() did not take, svmgpu_fault_dispatch())
 * @fault_flushes: last-context teardowns that found records not yet
 *	dispatched and waited for the fault thread (svmgpu_fault_flush())
 * @fault_flush_timeouts: ... and gave up after SVMGPU_FAULT_FLUSH_MS
 * @svms_unpublished: svms whose registration failed (a signal interrupted
 *	mmu_notifier_get()), taken out of the id table again
 * @chunks_refused: notifier chunks not made because their address space
 *	had max_chunks (an ADVISE refused whole counts once)
 * @mm_lock_waits: ioctls and fault works that left their section to wait
 *	for an mmap_lock (svmgpu_dev_lock_mm())
 * @fault_batches: batches handled
 * @replays: REPLAYs written
 * @cancels: CANCELs written
 * @tlb_invalidations: TLB invalidations waited for
 * @tlb_inval_ns: time spent waiting for them
 * @tlb_inval_timeouts: invalidations that did not complete in time
 * @resets: device resets
 * @errors: error interrupts
 * @fault_delays_injected: fault works delayed by svmgpu_inject_fault_delay
 * @hangs: queues reset by the watchdog after hang_timeout_ms without progress
 * @hang_cmds: commands failed with DRM_SVMGPU_ERR_HANG
 * @hang_reset_ns: time of the last hang reset, disable to hardware queue back
 * @watchdog_polls: completions or queue errors the watchdog collected because
 *	no interrupt had within one watchdog period (lost or late interrupts)
 * @compl_corrupt: queues reset for a corrupt completion record
 * @fatal_errors: fatal device errors (ERROR_STATUS.FATAL), each followed by
 *	a device reset
 * @prefetch_queued: asynchronous PREFETCHes queued (svmgpu_prefetch.c)
 * @prefetch_done: ... done, their events sent
 * @prefetch_cancelled: ... dropped by postclose without an event
 * @prefetch_mm_dropped: mm_structs of exited processes that pending
 *	requests let go of before their turn came
 */
struct svmgpu_dev_stats {
	atomic64_t fault_records;
	atomic64_t fault_records_unregistered;
	atomic64_t fault_flushes;
	atomic64_t fault_flush_timeouts;
	atomic64_t svms_unpublished;
	atomic64_t chunks_refused;
	atomic64_t mm_lock_waits;
	atomic64_t fault_batches;
	atomic64_t replays;
	atomic64_t cancels;
	atomic64_t tlb_invalidations;
	atomic64_t tlb_inval_ns;
	atomic64_t tlb_inval_timeouts;
	atomic64_t resets;
	atomic64_t errors;
	atomic64_t fault_delays_injected;
	atomic64_t hangs;
	atomic64_t hang_cmds;
	atomic64_t hang_reset_ns;
	atomic64_t watchdog_polls;
	atomic64_t compl_corrupt;
	atomic64_t fatal_errors;
	atomic64_t preemptions;
	atomic64_t preempt_timeouts;
	atomic64_t preempt_ns_total;
	atomic64_t replays_saved;
	atomic64_t replays_lost;
	atomic64_t prefetch_queued;
	atomic64_t prefetch_done;
	atomic64_t prefetch_cancelled;
	atomic64_t prefetch_mm_dropped;
};

/* Software queue priorities (Q_PRIORITY 0..2; 3 is kept for the kernel). */
#define SVMGPU_PRIO_NUM			3

/*
 * Test hook svmgpu_inject_bad_save_area: a 4 KiB-aligned Q_SAVE_ADDR that
 * no guest memory decodes, beyond the widest vIOMMU address (48 bits).
 */
#define SVMGPU_INJ_BAD_SAVE_ADDR	BIT_ULL(51)

/**
 * struct svmgpu_save_buf - one save area
 * @sgt: its pages (dma_alloc_noncontiguous(): one DMA range)
 * @dma: DMA address (Q_SAVE_ADDR)
 * @link: in sched.save_free or sched.save_quarantine
 * @reset_gen: in quarantine: stats.resets when it went there (the device
 *	may still write it until the next reset)
 */
struct svmgpu_save_buf {
	u64 reset_gen;
	struct sg_table *sgt;
	dma_addr_t dma;
	struct list_head link;
};

/**
 * struct svmgpu_dma_quar - a stopped queue's ring and completion record,
 *	kept from the allocator until a device reset (sched.dma_quarantine)
 * @link: in sched.dma_quarantine
 * @reset_gen: stats.resets when the queue's hardware queue last did not go
 *	idle when disabled: the engine may still read @ring and write @compl
 *	until a reset has completed (hw-spec 8, 12)
 * @ring: the ring (dma_alloc_coherent()), NULL if none
 * @ring_dma: its DMA address
 * @ring_size: its size in bytes
 * @compl: the completion record (dma_alloc_coherent()), NULL if none
 * @compl_dma: its DMA address
 *
 * Allocated with its queue (q->dma_quar), so that putting the memory in
 * quarantine never fails; freed with the memory.
 */
struct svmgpu_dma_quar {
	struct list_head link;
	u64 reset_gen;
	struct svmgpu_cmd *ring;
	dma_addr_t ring_dma;
	size_t ring_size;
	struct svmgpu_completion *compl;
	dma_addr_t compl_dma;
};

/**
 * struct svmgpu_sched - the queue scheduler (svmgpu_sched.c)
 * @lock: protects @runlist, @queues, @save_free, @nsave_free, the area
 *	counts, both quarantines and their counts, every svm's
 *	nsave/nsave_over and every queue's @run_link, @all_link, @save_wait
 *	(spinlock; sdev->hwq_lock nests inside)
 * @runlist: per priority, queues with work waiting for a hardware queue
 * @queues: every live queue of the device (debugfs)
 * @save_free: cached save areas (struct svmgpu_save_buf)
 * @nsave_free: entries in @save_free
 * @save_quarantine: areas of queues whose unbind timed out, kept until a
 *	device reset (the device may still write them)
 * @nsave_used: areas held by queues (q->save) under the caps, device-wide
 * @nsave_over: areas held by queues past a cap (q->save_over), device-wide
 * @nholders: processes (svms) holding areas, under the caps or past them
 * @nsave_over_cap: areas handed out past a cap (soft caps), since probe
 * @nquarantine: entries in @save_quarantine
 * @dma_quarantine: rings and completion records of stopped queues whose
 *	hardware queue did not go idle when last disabled (struct
 *	svmgpu_dma_quar), kept until a device reset; protected by @lock
 * @ndma_quarantine: buffers (rings and records) in @dma_quarantine, @lock
 * @dma_quarantined: buffers that went through @dma_quarantine since
 *	probe, @lock
 * @dma_released: of those, buffers freed since probe, @lock
 * @dma_final: svmgpu_sched_fini() ran (the device does no DMA for good):
 *	nothing is quarantined any more, @lock
 * @capped_timed: queues with work refused an area until a clock runs out
 *	(save_wait, save_retry) or an area is given back, off the runlists
 *	(queues refused for good wait on their svm's @capped)
 * @ncapped: queues parked, on @capped_timed or an svm's @capped
 * @cap_wake: jiffies | 1 when the earliest clock of @capped_timed runs
 *	out, 0: none
 * @cap_params: save_areas_max, _per_process and _wait_ms when the parked
 *	queues were last looked at (a change unparks them all)
 * @inj_unbind_busy: debugfs svmgpu_inject_unbind_busy: the next this many
 *	unbinds are taken as not idle (the recovery of a hardware queue that
 *	did not stop, which the device cannot be made to show)
 * @inj_bad_save_area: debugfs svmgpu_inject_bad_save_area: the next this
 *	many starts with a save area program SVMGPU_INJ_BAD_SAVE_ADDR instead,
 *	an address no memory decodes
 * @inj_save_nomem: debugfs svmgpu_inject_save_nomem: the next this many
 *	save areas a queue needs are refused as if no memory were left
 *	(neither the cache nor a new allocation)
 * @work: hands out hardware queues, timeslices, finishes preemptions
 * @enabled: the device preempts (SVMGPU_CAPS_PREEMPT): the scheduler runs
 */
struct svmgpu_sched {
	spinlock_t lock;		/* runlists, queue list, save cache, quarantines */
	struct list_head runlist[SVMGPU_PRIO_NUM];
	struct list_head queues;
	struct list_head save_free;
	unsigned int nsave_free;
	struct list_head save_quarantine;
	unsigned int nsave_used;
	unsigned int nsave_over;
	unsigned int nholders;
	u64 nsave_over_cap;
	unsigned int nquarantine;
	struct list_head dma_quarantine;
	unsigned int ndma_quarantine;
	u64 dma_quarantined;
	u64 dma_released;
	bool dma_final;
	struct list_head capped_timed;
	unsigned int ncapped;
	unsigned long cap_wake;
	unsigned int cap_params[3];
	atomic_t inj_unbind_busy;
	atomic_t inj_bad_save_area;
	atomic_t inj_save_nomem;
	struct delayed_work work;
	bool enabled;
};

/**
 * struct svmgpu_device - one svmgpu PCI function
 * @drm: the DRM device, embedded; see to_svmgpu()
 * @pdev: the PCI device
 * @regs: BAR0 mapping
 * @hw_id: ID register as read at probe
 * @hw_version: VERSION register as read at probe
 * @num_queues: NUM_QUEUES register
 * @num_engines: NUM_ENGINES register
 * @caps: CAPS register
 * @fault_entries: FAULT_RING_ENTRIES register
 * @tlb_sets: TLB_SETS register
 * @tlb_ways: TLB_WAYS register
 * @irq: Linux interrupt number of each MSI-X vector
 * @vec: handler argument of each vector
 * @nvec: vectors requested
 * @hw_ready: hardware programmed and interrupts requested; false while
 *	removed, during a PCI reset, error recovery or suspend (@in_reset)
 *	and while @wedged
 * @in_reset: a PCI reset (FLR), AER recovery or system suspend stopped the
 *	device and reset_done/slot_reset/resume will reprogram it; protected by
 *	@hw_sem (written under it for writing) and @reset_lock
 * @fenced: a TLB invalidation timed out and the device was reset with bus
 *	mastering off: it reaches no memory until @recover_work reprograms it;
 *	set with @hw_sem read-held (under @inval_lock), cleared with it
 *	write-held
 * @wedged: a reset did not bring the device back (it answers, its link is
 *	not frozen): @hw_ready false, bus mastering off, its work failed; a
 *	later reset (debugfs, a PCI reset) tries again; written under
 *	@reset_lock and @hw_sem for writing
 * @gone: the function left the bus without remove (svmgpu_device_lost()):
 *	nothing waits on its registers any more; set once under @reset_lock,
 *	read with READ_ONCE()
 * @lost_work: checks whether the function left the bus (the watchdog saw it
 *	not answer: svmgpu_device_lost())
 * @recover_work: reprograms a fenced device (svmgpu_device_reset())
 * @fence_gen: @stats.resets when the device was fenced: a reset done since
 *	(@resets moved) reprogrammed it, and @recover_work does not reset it
 *	again; written under @inval_lock
 * @watchdog: the queue watchdog (svmgpu_recovery.c), queued while a hardware
 *	queue is bound
 * @wd_fault_put: FAULT_PUT at the last watchdog tick (watchdog only)
 * @wd_fault_get: @fault_get at the last watchdog tick (watchdog only)
 * @wd_fault_stall: jiffies since a queue stalls on a fault ring with room
 *	(INJ_STALL_FAULT_RING), 0 if none (watchdog only)
 * @wd_stall_get: FAULT_GET at the last tick, for the stall (watchdog only)
 * @wd_stall_put: FAULT_PUT at the last tick, for the stall (watchdog only)
 * @fault_stall_resets: device resets for such a stall
 * @hang_work: resets the device when a hung queue's engine did not let go
 *	or after a fatal device error (svmgpu_request_reset())
 * @hang_gen: the newest @stats.resets a reset was asked for at
 *	(svmgpu_request_reset_since()): a reset done since served it, and
 *	@hang_work does not reset again
 * @fatal_pending: a fatal error's reset is queued or running; cleared by
 *	every reset (svmgpu_hw_restart(), @hw_sem held for writing)
 * @inject_inval_timeouts: test hook (debugfs svmgpu_inject_inval_timeout):
 *	the next this many TLB invalidations are handled as timed out
 * @inject_fault_nomem: test hook (debugfs svmgpu_inject_fault_nomem): the
 *	next this many fault groups resolve as out of memory (-ENOMEM)
 * @inject_fault_delay_ms: test hook (debugfs svmgpu_inject_fault_delay):
 *	the next fault work sleeps this long, holding its svm reference, before
 *	it resolves anything (a fault stuck in I/O, FUSE or mmap_lock)
 * @inject_register_delay_ms: test hook (debugfs
 *	svmgpu_inject_register_delay): the next new svm sleeps this long once
 *	published in the id table, before mmu_notifier_get() registers it
 * @inject_dispatch_delay_ms: test hook (debugfs
 *	svmgpu_inject_dispatch_delay): the fault IRQ thread sleeps this long
 *	before it dispatches its next batch
 * @inject_stop_delay_ms: test hook (debugfs svmgpu_inject_stop_delay): the
 *	next svmgpu_queue_stop() sleeps this long before it disables the
 *	queue's hardware queue
 * @inject_stop_ends: test hook: bumped by a write of 0 to
 *	svmgpu_inject_stop_delay, which ends such a sleep early
 * @inject_wq: woken when @inject_stop_ends changes
 * @teardown_sem: read-held by each last-context teardown (outside
 *	svmgpu_create_lock) until its svm is killed and its fault records
 *	taken; write-held by removal, which must not stop the device under
 *	such a teardown
 * @svm_gen: teardowns completed; a creator that found its mm's svm closing
 *	waits on @svm_wq for it to change
 * @svm_wq: woken when a teardown completes
 * @mn_ops: this device's mmu_notifier ops; their address is the key that
 *	makes mmu_notifier_get() return one svm per (device, mm)
 * @ctx_table: the context table (DMA-coherent)
 * @ctx_table_dma: its DMA address
 * @ctx_ida: allocator of hardware context ids (1 .. entries - 1)
 * @svms: hardware context id -> svm; the xarray lock protects lookups by
 *	the fault handler, which take a reference on the svm with
 *	svmgpu_svm_tryget()
 * @fault_ring: the fault ring (DMA-coherent)
 * @fault_ring_dma: its DMA address
 * @fault_get: next record to consume; only the fault IRQ thread uses it
 *	(and svmgpu_hw_program())
 * @fault_done: records before this ring position are dispatched; written by
 *	the fault IRQ thread and svmgpu_hw_program() under @hw_sem (read and
 *	write), read by svmgpu_fault_flush()
 * @fault_gen: the ring's generation: svmgpu_hw_program() starts a new one
 *	(dropping the records of the last), under @hw_sem for writing
 * @fault_done_wq: woken when @fault_done or @fault_gen move
 * @fault_batch: the fault IRQ thread's batch buffer
 * @inval_lock: serializes TLB invalidation requests
 * @inval_done: DMA-coherent u64 the device writes TLB_INV_DONE_SEQ to
 * @inval_done_dma: its DMA address
 * @inval_wq: woken by the INVAL vector
 * @hwq_lock: protects @hwq
 * @hwq: queue bound to each hardware queue, protected by @hwq_lock
 * @resetting: no new queue may bind, protected by @hwq_lock (nor on a
 *	fenced device until its recovery: svmgpu_hwq_closed())
 * @hwq_wq: woken when a hardware queue is released
 * @hw_sem: read-held by everything that touches registers; written by
 *	reset and remove, which change @hw_ready
 * @reset_lock: serializes device resets
 * @seq_epoch: next queue's svmgpu_queue.seq_base
 * @stats: driver counters
 * @devmem: device-local memory (svmgpu_devmem.c), NULL without it
 * @dax: the DAX pool of device memory (svmgpu_dax.c), NULL without it
 * @fault_wq: the device's fault work items (svm->fault_work): its own
 *	queue, not the module's svmgpu_wq, whose flush by remove would wait
 *	for every device's faults (one stuck in I/O included); remove does not
 *	flush this one (svmgpu_fault_work() uses the device in sections only)
 * @unplug_srcu: the sections that use the device (svmgpu_dev_enter())
 * @unplugged: set once, by remove, before it waits for @unplug_srcu
 */
struct svmgpu_device {
	struct drm_device drm;
	struct pci_dev *pdev;
	void __iomem *regs;
	u32 hw_id;
	u32 hw_version;
	u32 num_queues;
	u32 num_engines;
	u32 caps;
	u32 fault_entries;
	u32 tlb_sets;
	u32 tlb_ways;
	int irq[SVMGPU_NUM_VECTORS(SVMGPU_MAX_QUEUES)];
	struct svmgpu_vec vec[SVMGPU_NUM_VECTORS(SVMGPU_MAX_QUEUES)];
	int nvec;
	bool hw_ready;
	bool in_reset;
	bool fenced;
	bool wedged;
	bool gone;
	struct work_struct recover_work;
	u64 fence_gen;
	struct delayed_work watchdog;
	u32 wd_fault_put;
	u32 wd_fault_get;
	unsigned long wd_fault_stall;
	u32 wd_stall_get;
	u32 wd_stall_put;
	atomic64_t fault_stall_resets;
	struct work_struct hang_work;
	atomic64_t hang_gen;
	struct work_struct lost_work;
	atomic_t fatal_pending;
	atomic_t inject_inval_timeouts;
	atomic_t inject_fault_nomem;
	atomic_t inject_fault_delay_ms;
	atomic_t inject_register_delay_ms;
	atomic_t inject_dispatch_delay_ms;
	atomic_t inject_stop_delay_ms;
	atomic_t inject_stop_ends;
	wait_queue_head_t inject_wq;

	struct mmu_notifier_ops mn_ops;
	struct rw_semaphore teardown_sem;
	atomic_long_t svm_gen;
	wait_queue_head_t svm_wq;

	struct svmgpu_ctx_entry *ctx_table;
	dma_addr_t ctx_table_dma;
	struct ida ctx_ida;
	struct xarray svms;

	struct svmgpu_fault_record *fault_ring;
	dma_addr_t fault_ring_dma;
	u32 fault_get;
	u32 fault_done;
	u32 fault_gen;
	wait_queue_head_t fault_done_wq;
	struct svmgpu_fault *fault_batch;

	struct mutex inval_lock;	/* TLB_INV_* registers, inval_seq */
	u32 inval_seq;			/* requests queued since the last reset */
	u64 *inval_done;
	dma_addr_t inval_done_dma;
	wait_queue_head_t inval_wq;

	spinlock_t hwq_lock;		/* @hwq, @resetting */
	struct svmgpu_queue *hwq[SVMGPU_MAX_QUEUES];
	bool resetting;
	wait_queue_head_t hwq_wq;

	struct svmgpu_sched sched;

	struct rw_semaphore hw_sem;
	struct mutex reset_lock;	/* one reset at a time */
	atomic64_t seq_epoch;
	struct svmgpu_dev_stats stats;
	struct svmgpu_devmem *devmem;
	struct svmgpu_dax *dax;
	struct workqueue_struct *fault_wq;
	struct srcu_struct unplug_srcu;
	bool unplugged;
};

#define to_svmgpu(d) container_of(d, struct svmgpu_device, drm)

/**
 * struct svmgpu_prefetch_file - asynchronous PREFETCHes of a file (svmgpu_prefetch.c)
 * @sdev: the device
 * @lock: protects @pending and @next_id
 * @pending: queued requests, oldest first; the work runs the first
 * @next_id: id of the last request queued, protected by @lock
 * @work: runs the requests in order, on svmgpu_prefetch_wq
 * @closing: postclose began: the work stops between chunks
 */
struct svmgpu_prefetch_file {
	struct svmgpu_device *sdev;
	spinlock_t lock;		/* @pending, @next_id */
	struct list_head pending;
	u64 next_id;
	struct work_struct work;
	bool closing;
};

/**
 * struct svmgpu_file - per open file state
 * @sdev: the device
 * @lock: protects @ctxs and @queues
 * @ctxs: context handles, protected by @lock
 * @queues: queue handles, protected by @lock
 * @nqueues: queues in @queues, protected by @lock
 * @dax_bos: DAX buffer handles (svmgpu_dax.c), its own lock
 * @prefetch: asynchronous PREFETCHes (svmgpu_prefetch.c)
 */
struct svmgpu_file {
	struct svmgpu_device *sdev;
	struct mutex lock;		/* @ctxs, @queues */
	struct xarray ctxs;
	u32 next_ctx;			/* @ctxs: handles not reused soon */
	struct xarray queues;
	u32 next_queue;			/* @queues: handles not reused soon */
	unsigned int nqueues;
	struct xarray dax_bos;
	struct svmgpu_prefetch_file prefetch;
};

/**
 * struct svmgpu_pt - one device page table (4 KiB, 512 entries)
 * @cpu: the entries, in DMA-coherent memory
 * @dma: their DMA address
 * @child: next-level tables (levels 4..2 only); linked once by the
 *	allocator under svm->alloc_lock and freed only when the svm's page
 *	tables are destroyed; readers under svm->pt_lock use READ_ONCE()
 * @pfn: levels 3..1: the pfn of each leaf's page (head page of a huge
 *	leaf), so that removing a writable leaf can mark its page dirty;
 *	protected by svm->pt_lock
 * @nr_mapped: leaves with a DMA mapping in this table, protected by
 *	svm->pt_lock
 */
struct svmgpu_pt {
	u64 *cpu;
	dma_addr_t dma;
	struct svmgpu_pt **child;
	unsigned long *pfn;
	unsigned int nr_mapped;
};

/**
 * struct svmgpu_fault - one fault record being handled
 * @va: page-aligned faulting VA
 * @addr: faulting VA as reported
 * @ctx: hardware context id
 * @seq: fault sequence number (for CANCEL)
 * @queue: hardware queue
 * @access: enum svmgpu_access
 * @reason: enum svmgpu_fault_reason
 * @state: pending, resolved, cancel, out of memory (svmgpu_fault.c)
 */
struct svmgpu_fault {
	u64 va;
	u64 addr;
	u32 ctx;
	u32 seq;
	u32 gen;	/* @fault_gen when drained: seqs start again at a reset */
	u16 queue;
	u8 access;
	u8 reason;
	u8 state;
};

/* Fault records an svm's fault work takes at a time. */
#define SVMGPU_SVM_FAULTS	64
/* Requests of one svmgpu_svm_fault(): the faults and the pages streamed. */
#define SVMGPU_SVM_REQS		(SVMGPU_SVM_FAULTS + 192)

/**
 * struct svmgpu_svm_stats - address-space counters (monotonic)
 * @pages_mapped: 4 KiB pages mapped
 * @huge_2m: 2 MiB leaves written
 * @huge_1g: 1 GiB leaves written
 * @pages_unmapped: 4 KiB pages unmapped by invalidations
 * @invalidations: notifier invalidations that removed PTEs
 * @tlb_invalidations: TLB invalidations waited for
 * @tlb_inval_ns: time spent in them
 */
struct svmgpu_svm_stats {
	atomic64_t pages_mapped;
	atomic64_t huge_2m;
	atomic64_t huge_1g;
	atomic64_t pages_unmapped;
	atomic64_t invalidations;
	atomic64_t tlb_invalidations;
	atomic64_t tlb_inval_ns;
};

/**
 * struct svmgpu_svm - the device's mirror of one process address space
 * @mn: the mmu_notifier subscription from mmu_notifier_get(); @mn.mm is the
 *	mirrored mm
 * @sdev: the device (a drm_dev_get() reference, dropped after free)
 * @ctx_id: hardware context id
 * @serial: this svm among every svm of the module, never reused (ctx ids
 *	and addresses are)
 * @refs: references taken by the fault IRQ thread (svmgpu_svm_lookup()),
 *	one of which each queued @fault_work owns, plus one for the
 *	contexts, dropped by the last one
 * @unused: completed when @refs drops to zero
 * @nctx: contexts using this svm, protected by svmgpu_create_lock
 * @closing: the last context went and the teardown runs (set under
 *	svmgpu_create_lock): mmu_notifier_get() may still return this svm
 *	until the teardown's mmu_notifier_put(), and a creator then waits
 * @uid: the user that created it (per-user context limit)
 * @registered: mmu_notifier_get() returned it at least once (set under
 *	svmgpu_create_lock, with release: @mn.mm is set); an svm freed
 *	without it was never registered and svmgpu_svm_free_work() undoes
 *	svmgpu_mn_alloc(); the fault IRQ thread hands faults only to a
 *	registered svm (its id may be a reused one's, svmgpu_fault_dispatch())
 * @lock: protects @ctxs and @dead transitions
 * @ctxs: contexts of this svm, protected by @lock
 * @dead: the mm is gone, the device is removed, or the last context went:
 *	no more device PTEs may be written; set under @lock once the queues
 *	stopped, read under @pt_lock by the mapping
 * @notifier_lock: protects @chunks and insertion of interval notifiers
 * @chunks: interval notifiers by chunk index, protected by @notifier_lock
 * @alloc_lock: serializes page-table allocation
 * @pt_lock: the update lock: protects every PTE, @root's contents and
 *	@pt_freed
 * @root: level-4 table
 * @pt_freed: page tables are gone (device removed or svm torn down)
 * @self_unmap: this device's own migrations remove the device PTEs of the
 *	pages they move (svmgpu_svm_unmap_migrating()), so the notifiers
 *	leave the rest of their range mapped; cleared, with every PTE
 *	removed, before the svm leaves sdev->svms; protected by @pt_lock
 * @stats: counters
 * @free_work: drops the device reference after .free_notifier
 * @fault_lock: protects @fault_pending and @nfault_pending
 * @fault_pending: records the fault IRQ thread handed to this svm; when
 *	full, more are dropped (the REPLAY that ends the queued work makes
 *	their queues fault again)
 * @nfault_pending: entries of @fault_pending, protected by @fault_lock
 * @fault_work: resolves this svm's faults; queued with an svm reference
 * @fault_batch: the work's own copy of the records
 * @fault_req: the work's requests for svmgpu_svm_fault()
 * @nomem_retries: consecutive fault batches that ran out of memory; only
 *	the fault work uses it
 * @advice: placement advice by address range (svmgpu_advise.c)
 * @advice_ranges: at least the ranges with advice in @advice (an upper
 *	bound, made exact by a count when it reaches advice_max_ranges)
 * @advice_recount: jiffies before which the UNMAP notifier does not count
 *	again after finding the cap reached
 */
struct svmgpu_svm {
	struct mmu_notifier mn;
	struct svmgpu_device *sdev;
	u32 ctx_id;
	u64 serial;
	struct kref refs;
	struct completion unused;
	unsigned int nctx;
	bool closing;
	kuid_t uid;
	bool registered;

	struct mutex lock;		/* @ctxs, @dead */
	struct list_head ctxs;
	bool dead;

	struct mutex notifier_lock;	/* @chunks, @nchunks */
	struct xarray chunks;
	unsigned long nchunks;		/* entries of @chunks */

	struct mutex alloc_lock;	/* page-table allocation */
	struct mutex pt_lock;		/* PTEs, @root, @pt_freed */
	struct svmgpu_pt *root;
	bool pt_freed;
	bool self_unmap;

	struct svmgpu_svm_stats stats;
	unsigned int nsave;		/* save areas of its queues, sched.lock */
	unsigned int nsave_over;	/* those past a cap, sched.lock */
	/* its queues refused an area for good, per priority, sched.lock */
	struct list_head capped[SVMGPU_PRIO_NUM];
	struct work_struct free_work;

	spinlock_t fault_lock;		/* @fault_pending, @nfault_pending */
	struct svmgpu_fault fault_pending[SVMGPU_SVM_FAULTS];
	unsigned int nfault_pending;
	struct work_struct fault_work;
	struct svmgpu_fault fault_batch[SVMGPU_SVM_FAULTS];
	u64 fault_req[SVMGPU_SVM_REQS];
	unsigned int nomem_retries;

	struct maple_tree advice;
	atomic_long_t advice_ranges;
	unsigned long advice_recount;
};

/**
 * struct svmgpu_chunk - an interval notifier over one aligned chunk of VA
 * @notifier: the interval notifier
 * @svm: owner
 */
struct svmgpu_chunk {
	struct mmu_interval_notifier notifier;
	struct svmgpu_svm *svm;
};

/* Per-context counters, indexes of svmgpu_ctx.cnt */
enum svmgpu_ctx_counter {
	SVMGPU_CS_FAULTS,
	SVMGPU_CS_BATCHES,
	SVMGPU_CS_REPLAYS,
	SVMGPU_CS_CANCELS,
	SVMGPU_CS_SUBMITTED,
	SVMGPU_CS_FAILED,
	SVMGPU_CS_NUM,
};

/**
 * struct svmgpu_ctx - a uapi context
 * @svm: the address space (one svm reference per context)
 * @mm: the mm the context is bound to (not a reference: compared only)
 * @handle: handle in the file's table
 * @link: in svm->ctxs, protected by svm->lock
 * @queues: queues of this context, protected by svm->lock
 * @cnt: own counters (enum svmgpu_ctx_counter)
 * @base_lock: protects @base
 * @base: svm counters at creation or last clear, protected by @base_lock
 */
struct svmgpu_ctx {
	struct svmgpu_svm *svm;
	struct mm_struct *mm;
	u32 handle;
	struct list_head link;
	struct list_head queues;
	atomic64_t cnt[SVMGPU_CS_NUM];
	spinlock_t base_lock;		/* @base */
	u64 base[7];
};

/**
 * struct svmgpu_err - one entry of a queue's error log: commands that failed
 *	together (a reset, a hang or a stop fails every pending command at
 *	once, up to a ring's worth, in one entry; a device error is one)
 * @seq: the first one's sequence number
 * @last: the last one's
 * @va: fault VA / pc / offending VA
 * @code: enum svmgpu_error or DRM_SVMGPU_ERR_RESET
 * @info: SVMGPU_ERROR_INFO(access, reason)
 */
struct svmgpu_err {
	u64 seq;
	u64 last;
	u64 va;
	u32 code;
	u32 info;
};

/**
 * struct svmgpu_queue - a uapi queue, bound to a hardware queue while busy
 * @refs: handle table + waiters; freed on the last put
 * @sdev: the device
 * @ctx: the context (outlives the queue: CTX_DESTROY refuses while queues exist)
 * @handle: handle in the file's table
 * @hwq: hardware queue index, or SVMGPU_HWQ_NONE; written under
 *	@submit_lock and sdev->hwq_lock
 * @link: in ctx->queues, protected by svm->lock
 * @entries: ring entries
 * @ring: the ring (DMA-coherent), NULL once freed
 * @ring_dma: its DMA address
 * @compl: completion record (DMA-coherent)
 * @compl_dma: its DMA address
 * @seq_base: added to the queue's sequence numbers in the commands the
 *	device sees, so that a hardware queue's sticky error record of a
 *	previous owner never matches (each queue gets its own 2^40 range)
 * @submit_lock: serializes SUBMIT; protects @tail and @last_seq writes
 * @tail: next ring slot to write, protected by @submit_lock
 * @lock: protects @completed_seq, @stopped, @errs, @nerrs
 * @last_seq: last submitted seq (written under both locks)
 * @completed_seq: last completed seq, protected by @lock
 * @stopped: queue disabled for good, protected by @lock
 * @stop_done: svmgpu_queue_stop() has disabled its hardware queue (the
 *	device writes nothing more for it): WAIT reports -ECANCELED, and
 *	events of unfinished submissions are sent, only then; protected by @lock
 * @stop_finished: svmgpu_queue_stop() is over (a second caller waits for
 *	it on @wq: the first may still use the context); protected by @lock
 * @errs: ring of the last failure entries, protected by @lock
 * @nerrs: entries logged so far, protected by @lock
 * @last_err_seq: seq of the last failure logged, protected by @lock
 * @wq: waiters for completions and ring space
 * @events: pending struct svmgpu_event of SUBMIT_EVENT submissions in seq
 *	order, protected by @lock; each is sent (or freed, the file gone)
 *	exactly once, at completion or when the queue stops
 * @hang_reset: the watchdog is resetting the queue: SUBMIT lets go of
 *	@submit_lock and waits; protected by @lock
 * @wd_seq: @completed_seq when the watchdog last saw progress, protected by @lock
 * @wd_stamp: jiffies of that progress (or of the bind), protected by @lock
 * @bind_gen: bindings so far (svmgpu_queue_hw_start()), written under
 *	@submit_lock and @lock: a hang reset decided on one binding leaves a
 *	later one alone
 * @wd_pending: the last watchdog tick saw a completion or error no interrupt
 *	had collected, with @completed_seq then @wd_seq; protected by @lock
 * @compl_corrupt: the completion record named a seq never submitted; the
 *	watchdog resets the queue; protected by @lock
 * @dma_quar: the entry that takes @ring and @compl into the scheduler's
 *	quarantine when the queue is stopped (allocated with the queue; NULL
 *	once its memory is given up), protected by @submit_lock
 * @dma_busy: a hardware queue of this queue did not go idle when disabled
 *	(svmgpu_sched_unbound()): @ring and @compl are quarantined when freed
 *	unless a reset completed since @dma_busy_gen; protected by @submit_lock
 * @dma_busy_gen: stats.resets when @dma_busy was last set, @submit_lock
 */
struct svmgpu_queue {
	struct kref refs;
	struct svmgpu_device *sdev;
	struct svmgpu_ctx *ctx;
	u32 handle;
	u32 hwq;
	struct list_head link;
	u32 entries;
	struct svmgpu_cmd *ring;
	dma_addr_t ring_dma;
	struct svmgpu_completion *compl;
	dma_addr_t compl_dma;
	u64 seq_base;

	struct mutex submit_lock;	/* ring writes, @tail */
	u32 tail;

	spinlock_t lock;		/* completion state, @hw_live */
	u64 last_seq;
	u64 completed_seq;
	bool stopped;
	bool stop_done;
	bool stop_finished;
	/*
	 * The hardware queue @hwq runs this queue's ring: set when enabling it,
	 * cleared when disabling it, both under @lock, so that an error seen on
	 * the hardware queue is never taken for this queue's before it runs
	 * (a previous borrower's error stays in Q_STATUS until re-enabled).
	 */
	bool hw_live;
	struct svmgpu_err errs[SVMGPU_ERROR_LOG];
	u64 nerrs;
	u64 last_err_seq;
	wait_queue_head_t wq;
	struct list_head events;
	bool hang_reset;
	u64 wd_seq;
	unsigned long wd_stamp;
	u32 bind_gen;
	bool wd_pending;
	bool compl_corrupt;
	struct svmgpu_dma_quar *dma_quar;
	bool dma_busy;
	u64 dma_busy_gen;

	/* Scheduling (svmgpu_sched.c) */
	u32 prio;			/* Q_PRIORITY, fixed at creation */
	struct list_head run_link;	/* in sched.runlist[prio] or parked, sched.lock */
	u8 capped;			/* parked: off the runlists (svmgpu_sched.c), sched.lock */
	struct list_head all_link;	/* in sched.queues, sched.lock */
	struct svmgpu_save_buf *save;	/* save area, @submit_lock */
	struct mem_cgroup *memcg;	/* creator's: charged for @save */
	unsigned long save_wait;	/* first refusal at a cap (jiffies), 0: none; sched.lock */
	unsigned long save_retry;	/* no area before (jiffies), 0: none; sched.lock */
	unsigned int save_fails;	/* allocations failed in a row, @submit_lock */
	bool save_over;			/* @save is past a cap; @submit_lock, sched.lock */
	bool saved;			/* @save holds a state to RESUME, @submit_lock */
	u32 resume_head;		/* ring index of the saved state, @submit_lock */
	bool preempting;		/* PREEMPT written, not finished; @lock */
	unsigned long preempt_stamp;	/* jiffies of the PREEMPT write, @lock */
	u64 preempt_ns;			/* ktime (ns) of the PREEMPT write, @lock */
	u64 slice_start;		/* ktime (ns) of the last bind, @lock */
	atomic64_t st_preemptions;	/* states saved */
	atomic64_t st_resumes;		/* binds with RESUME */
	atomic64_t st_binds;		/* binds */
	atomic64_t st_hw_ns;		/* time bound to a hardware queue */
	atomic64_t st_resets;		/* hang resets, device-reset replays */
};

static inline u32 svmgpu_read32(struct svmgpu_device *sdev, u32 reg)
{
	return readl(sdev->regs + reg);
}

static inline void svmgpu_write32(struct svmgpu_device *sdev, u32 reg, u32 val)
{
	writel(val, sdev->regs + reg);
}

static inline u64 svmgpu_read64(struct svmgpu_device *sdev, u32 reg)
{
	return lo_hi_readq(sdev->regs + reg);
}

static inline void svmgpu_write64(struct svmgpu_device *sdev, u32 reg, u64 val)
{
	lo_hi_writeq(val, sdev->regs + reg);
}

/**
 * svmgpu_hw_enter() - start touching registers
 * @sdev: the device
 *
 * Return: true with sdev->hw_sem read-held if the hardware is there; false
 * (nothing held) once it was removed.
 */
static inline bool svmgpu_hw_enter(struct svmgpu_device *sdev)
{
	down_read(&sdev->hw_sem);
	if (sdev->hw_ready)
		return true;
	up_read(&sdev->hw_sem);
	return false;
}

static inline void svmgpu_hw_exit(struct svmgpu_device *sdev)
{
	up_read(&sdev->hw_sem);
}

/**
 * svmgpu_dev_enter() - begin a section that uses the device
 * @drm: the device
 * @idx: the section's index, for svmgpu_dev_exit()
 *
 * drm_dev_enter() with the device's own SRCU: remove (svmgpu_dev_unplug())
 * waits for the sections of this device only.  6.1's drm_dev_unplug()
 * waits for the drm_dev_enter() sections of every DRM device (one SRCU for
 * all of them), and ours wait on user address spaces: the mmap_lock, a
 * copy from user memory, a creation behind a fault stuck in I/O.  Inside
 * drm_dev_enter() they would hold up the unbind of every DRM device for
 * as long as that I/O takes.
 *
 * Return: true in a section; false (none held) once the device is unplugged.
 */
static inline bool svmgpu_dev_enter(struct drm_device *drm, int *idx)
{
	struct svmgpu_device *sdev = to_svmgpu(drm);

	*idx = srcu_read_lock(&sdev->unplug_srcu);
	if (!READ_ONCE(sdev->unplugged))
		return true;
	srcu_read_unlock(&sdev->unplug_srcu, *idx);
	return false;
}

static inline void svmgpu_dev_exit(struct drm_device *drm, int idx)
{
	srcu_read_unlock(&to_svmgpu(drm)->unplug_srcu, idx);
}

/* Unplugged: no section begins any more (READ_ONCE: a hint outside one). */
static inline bool svmgpu_dev_is_unplugged(struct svmgpu_device *sdev)
{
	return READ_ONCE(sdev->unplugged);
}

/**
 * svmgpu_dev_reenter() - end a svmgpu_dev_enter() section and begin another
 * @sdev: the device
 * @idx: the section's index; -1 once the device was found unplugged
 *
 * For an ioctl that walks a long range inside a section: at every step,
 * so that the device's unplug waits for one step.
 *
 * Return: true in a new section; false (none held, @idx -1) once the
 * device is unplugged.
 */
static inline bool svmgpu_dev_reenter(struct svmgpu_device *sdev, int *idx)
{
	svmgpu_dev_exit(&sdev->drm, *idx);
	if (svmgpu_dev_enter(&sdev->drm, idx))
		return true;
	*idx = -1;
	return false;
}

int svmgpu_dev_lock_mm(struct svmgpu_device *sdev, struct mm_struct *mm, bool write,
		       int *idx);

/*
 * No queue may bind a hardware queue: a reset is under way, or the device
 * was fenced (svmgpu_device_fence()) and its recovery's reset has not run
 * yet: that reset stops every bound queue for good, so a saved queue
 * resumed meanwhile would lose the work a runlist keeps through it.  The
 * reset's svmgpu_stop_end() wakes the waiters and kicks the scheduler.  A
 * wedged device (fenced too, not ready) binds and fails the start with
 * -ENODEV, as documented.  Caller holds sdev->hwq_lock.
 */
static inline bool svmgpu_hwq_closed(struct svmgpu_device *sdev)
{
	lockdep_assert_held(&sdev->hwq_lock);
	return sdev->resetting ||
	       (READ_ONCE(sdev->fenced) && READ_ONCE(sdev->hw_ready));
}

/* svmgpu_drv.c */
extern struct workqueue_struct *svmgpu_wq;
int svmgpu_device_reset(struct svmgpu_device *sdev, bool replay);
int svmgpu_device_reset_since(struct svmgpu_device *sdev, bool replay, u64 gen);
void svmgpu_device_fence(struct svmgpu_device *sdev);

/* svmgpu_mmu.c: device page tables and TLB */
int svmgpu_mmu_init(struct svmgpu_svm *svm);
void svmgpu_mmu_fini(struct svmgpu_svm *svm);
int svmgpu_mmu_prepare(struct svmgpu_svm *svm, u64 start, u64 end);
int svmgpu_mmu_map(struct svmgpu_svm *svm, u64 start, unsigned long *pfns,
		   unsigned long npages, bool *flush);
bool svmgpu_mmu_range_mapped(struct svmgpu_svm *svm, u64 start, u64 end);
void svmgpu_mmu_unmap(struct svmgpu_svm *svm, u64 start, u64 end);
void svmgpu_mmu_unmap_zero(struct svmgpu_svm *svm, u64 start, u64 end);
void svmgpu_mmu_unmap_selected(struct svmgpu_svm *svm, u64 start,
			       const unsigned long *src, unsigned long npages);
bool svmgpu_mmu_present(struct svmgpu_svm *svm, u64 va, bool write);
int svmgpu_tlb_invalidate(struct svmgpu_device *sdev, struct svmgpu_svm *svm,
			  u64 start, u64 size, u32 flags);
void svmgpu_tlb_reset(struct svmgpu_device *sdev);
void svmgpu_mmu_ctx_disable(struct svmgpu_svm *svm);

/* svmgpu_svm.c: per-mm state, notifiers, hmm */
extern const struct mmu_notifier_ops svmgpu_mn_ops_template;
bool svmgpu_chunk_covers(struct svmgpu_svm *svm, u64 start, u64 end);
void svmgpu_chunk_bounds(u64 va, u64 *start, u64 *end);
struct svmgpu_svm *svmgpu_svm_get(struct svmgpu_device *sdev, int *idx);
void svmgpu_svm_put_ctx(struct svmgpu_svm *svm, int *idx);
struct svmgpu_svm *svmgpu_svm_lookup(struct svmgpu_device *sdev, u32 ctx_id);
void svmgpu_svm_unref(struct svmgpu_svm *svm);
struct mm_struct *svmgpu_svm_mm(struct svmgpu_svm *svm);
void svmgpu_svm_kill(struct svmgpu_svm *svm);
void svmgpu_svm_kill_all(struct svmgpu_device *sdev);
int svmgpu_svm_ctx_enable(struct svmgpu_device *sdev, struct svmgpu_svm *svm);
int svmgpu_ctx_entry_set(struct svmgpu_device *sdev, u32 id, dma_addr_t pt_root);
/* svmgpu_svm_fault() request: the device wrote this page */
#define SVMGPU_FAULT_REQ_WRITE	1ull
int svmgpu_svm_fault(struct svmgpu_svm *svm, u64 start, u64 end, const u64 *req,
		     unsigned int nreq, u64 *mapped, int *idx);
extern const struct mmu_interval_notifier_ops svmgpu_seq_ops;

/* svmgpu_fault.c */
irqreturn_t svmgpu_fault_irq_thread(int irq, void *arg);
void svmgpu_fault_flush(struct svmgpu_device *sdev);
void svmgpu_fault_flush_wake(struct svmgpu_device *sdev);
extern unsigned int svmgpu_fault_around;
void *svmgpu_fault_batch_alloc(void);
void svmgpu_fault_svm_init(struct svmgpu_svm *svm);

/* svmgpu_queue.c */
int svmgpu_ioctl_ctx_create(struct drm_device *drm, void *data, struct drm_file *file);
int svmgpu_ioctl_ctx_destroy(struct drm_device *drm, void *data, struct drm_file *file);
int svmgpu_ioctl_queue_create(struct drm_device *drm, void *data, struct drm_file *file);
int svmgpu_ioctl_queue_destroy(struct drm_device *drm, void *data, struct drm_file *file);
int svmgpu_ioctl_get_stats(struct drm_device *drm, void *data, struct drm_file *file);
void svmgpu_file_fini(struct svmgpu_file *sf);
void svmgpu_ctx_free(struct svmgpu_ctx *ctx, int *idx);
void svmgpu_ctx_clear_base(struct svmgpu_ctx *ctx);
struct svmgpu_queue *svmgpu_queue_lookup(struct svmgpu_file *sf, u32 handle, int *err);
void svmgpu_queues_stop_all(struct svmgpu_device *sdev);
int svmgpu_queue_bind(struct svmgpu_queue *q, bool nonblock);
void svmgpu_queue_unbind_idle(struct svmgpu_queue *q);
void svmgpu_queue_stop(struct svmgpu_queue *q);
void svmgpu_queue_stop_failed(struct svmgpu_queue *q, u32 code);
void svmgpu_queue_put(struct svmgpu_queue *q);
struct svmgpu_queue *svmgpu_hwq_get(struct svmgpu_device *sdev, u32 hwq);
void svmgpu_ctx_account(struct svmgpu_device *sdev, u32 hwq, struct svmgpu_svm *svm,
			int field, u64 n);
void svmgpu_queue_hang_reset(struct svmgpu_queue *q, u32 hwq, u32 bind_gen, bool corrupt);
bool svmgpu_queue_unbind(struct svmgpu_queue *q);
int svmgpu_queue_hw_start(struct svmgpu_device *sdev, struct svmgpu_queue *q, u32 start,
			  bool resume);

/* svmgpu_sched.c: priorities, timeslices, preemption */
void svmgpu_sched_init(struct svmgpu_device *sdev);
void svmgpu_sched_enable(struct svmgpu_device *sdev);
void svmgpu_sched_fini(struct svmgpu_device *sdev);
void svmgpu_sched_kick(struct svmgpu_device *sdev);
void svmgpu_sched_submit(struct svmgpu_queue *q);
void svmgpu_sched_unbound(struct svmgpu_queue *q, u32 hwq, bool idle, u64 gen);
void svmgpu_sched_put_save(struct svmgpu_queue *q);
void svmgpu_sched_quarantine_dma(struct svmgpu_device *sdev, struct svmgpu_dma_quar *d);
void svmgpu_sched_release_quarantine(struct svmgpu_device *sdev);
void svmgpu_sched_save_all(struct svmgpu_device *sdev);
void svmgpu_sched_fail_all(struct svmgpu_device *sdev);
void svmgpu_sched_queue_init(struct svmgpu_queue *q, u32 prio);
void svmgpu_sched_queue_add(struct svmgpu_queue *q);
void svmgpu_sched_queue_stop(struct svmgpu_queue *q);
void svmgpu_sched_debugfs_init(struct drm_minor *minor);

/* svmgpu_recovery.c: the queue watchdog */
extern unsigned int svmgpu_hang_timeout_ms;
void svmgpu_recovery_init(struct svmgpu_device *sdev);
void svmgpu_recovery_fini(struct svmgpu_device *sdev);
void svmgpu_watchdog_kick(struct svmgpu_device *sdev);
void svmgpu_device_fatal(struct svmgpu_device *sdev);
void svmgpu_request_reset(struct svmgpu_device *sdev);
void svmgpu_request_reset_since(struct svmgpu_device *sdev, u64 gen);
bool svmgpu_device_lost(struct svmgpu_device *sdev);
void svmgpu_recovery_debugfs_init(struct drm_minor *minor);

/* svmgpu_fence.c: sequence numbers and completion */
int svmgpu_ioctl_submit(struct drm_device *drm, void *data, struct drm_file *file);
int svmgpu_ioctl_wait(struct drm_device *drm, void *data, struct drm_file *file);
irqreturn_t svmgpu_queue_irq_thread(int irq, void *arg);
irqreturn_t svmgpu_error_irq_thread(int irq, void *arg);
void svmgpu_queue_update(struct svmgpu_queue *q);
void svmgpu_queue_service(struct svmgpu_device *sdev, u32 i, struct svmgpu_queue *q);
void svmgpu_queue_fail_pending(struct svmgpu_queue *q, u32 code);
void svmgpu_queue_fail_locked(struct svmgpu_queue *q, u32 code);
void svmgpu_queue_fail_one(struct svmgpu_queue *q, u64 seq, u32 code, u64 va);
void svmgpu_queue_signal_events(struct svmgpu_queue *q);

/* svmgpu_devmem.c: device-local memory */
int svmgpu_devmem_init(struct svmgpu_device *sdev);
void svmgpu_devmem_fini(struct svmgpu_device *sdev);
void svmgpu_devmem_reset_prepare(struct svmgpu_device *sdev);
void svmgpu_devmem_reset_done(struct svmgpu_device *sdev);
void svmgpu_devmem_error_detected(struct svmgpu_device *sdev);
u64 svmgpu_devmem_used(struct svmgpu_device *sdev);
int svmgpu_devmem_freeze(struct svmgpu_device *sdev, u64 *used);
void svmgpu_devmem_thaw(struct svmgpu_device *sdev);
void svmgpu_devmem_suspend(struct svmgpu_device *sdev);
void svmgpu_devmem_resume(struct svmgpu_device *sdev);
bool svmgpu_devmem_page_offset(struct svmgpu_device *sdev, struct page *page,
			       u64 *offset);
void svmgpu_devmem_forget_mm(struct svmgpu_device *sdev, struct mm_struct *mm);
int svmgpu_devmem_fault_out(struct svmgpu_device *sdev, struct vm_area_struct *vma,
			    unsigned long start, const unsigned long *pfns,
			    unsigned long npages);
int svmgpu_ioctl_prefetch(struct drm_device *drm, void *data, struct drm_file *file);
int svmgpu_ioctl_residency(struct drm_device *drm, void *data, struct drm_file *file);
void svmgpu_devmem_debugfs_init(struct drm_minor *minor);
void svmgpu_devmem_touch(struct svmgpu_device *sdev, u64 off, struct mm_struct *mm,
			 unsigned long va);
int svmgpu_devmem_fault_place(struct svmgpu_device *sdev, struct vm_area_struct *vma,
			      u64 start, u64 end, bool to_dev, u64 since, unsigned int *noted);
void svmgpu_devmem_thrash_mapped(struct svmgpu_device *sdev, unsigned int noted);
u64 svmgpu_devmem_lru_now(struct svmgpu_device *sdev);
int svmgpu_devmem_prefetch(struct svmgpu_device *sdev, struct mm_struct *mm, u64 start,
			   u64 end, bool to_dev, u64 since, unsigned long *moved, int *idx);
bool svmgpu_devmem_vma_unmoved(struct vm_area_struct *vma, bool to_dev);

/* svmgpu_prefetch.c: asynchronous PREFETCH */
struct drm_svmgpu_prefetch;
int svmgpu_prefetch_queue(struct svmgpu_device *sdev, struct drm_file *file,
			  struct drm_svmgpu_prefetch *args, int *idx);
void svmgpu_prefetch_file_init(struct svmgpu_file *sf);
void svmgpu_prefetch_file_fini(struct svmgpu_file *sf);
void svmgpu_prefetch_debugfs_init(struct drm_minor *minor);
int svmgpu_prefetch_init(void);
void svmgpu_prefetch_fini(void);

/* svmgpu_dax.c: DAX-style buffers of device memory */
struct hmm_range;
u64 svmgpu_dax_size(struct svmgpu_device *sdev);
u64 svmgpu_dax_used(struct svmgpu_device *sdev);
int svmgpu_dax_init(struct svmgpu_device *sdev);
void svmgpu_dax_unplug(struct svmgpu_device *sdev);
void svmgpu_dax_fini(struct svmgpu_device *sdev);
int svmgpu_ioctl_devmem_alloc(struct drm_device *drm, void *data, struct drm_file *file);
int svmgpu_ioctl_devmem_free(struct drm_device *drm, void *data, struct drm_file *file);
void svmgpu_dax_file_fini(struct svmgpu_file *sf);
int svmgpu_dax_mmap(struct file *filp, struct vm_area_struct *vma);
unsigned long svmgpu_dax_get_unmapped_area(struct file *filp, unsigned long addr,
					   unsigned long len, unsigned long pgoff,
					   unsigned long flags);
bool svmgpu_dax_pfn_local(struct svmgpu_device *sdev, unsigned long pfn, u64 size,
			  u64 *off);
bool svmgpu_dax_vma(const struct vm_area_struct *vma);
bool svmgpu_dax_vma_local(struct svmgpu_device *sdev, const struct vm_area_struct *vma);
int svmgpu_dax_hmm_range(struct svmgpu_device *sdev, struct vm_area_struct *vma,
			 struct hmm_range *range, const u64 *req, unsigned int nreq);
void svmgpu_dax_debugfs_init(struct drm_minor *minor);

/* svmgpu_advise.c: placement advice */
void svmgpu_advise_init(struct svmgpu_svm *svm);
void svmgpu_advise_fini(struct svmgpu_svm *svm);
u32 svmgpu_advise_lookup(struct svmgpu_svm *svm, u64 va, u64 *first, u64 *last);
void svmgpu_advise_unmap(struct svmgpu_svm *svm, u64 start, u64 end);
int svmgpu_ioctl_advise(struct drm_device *drm, void *data, struct drm_file *file);
int svmgpu_svm_watch(struct svmgpu_svm *svm, u64 start, u64 end);
void svmgpu_svm_unmap_migrating(struct svmgpu_device *sdev, struct mm_struct *mm,
				unsigned long start, const unsigned long *src,
				unsigned long npages);

/* svmgpu_debugfs.c */
void svmgpu_debugfs_init(struct drm_minor *minor);

/*
 * The probe's fault injection (inject_probe_fail_nth, svmgpu_drv.c) paused
 * across a kernel call it must not reach, one that reports a failed
 * allocation with a warning of its own or mishandles it in 6.1:
 * request_threaded_irq() (its /proc/irq entries are made ignoring the
 * failure and removed with a WARN), gen_pool_add() (a vzalloc without
 * __GFP_NOWARN), memremap_pages() (x86's add_pages() WARNs on any
 * failure).  The count goes on after the call; a no-op for a task whose
 * count is not armed.
 */
static inline unsigned int svmgpu_inject_pause(void)
{
#if IS_ENABLED(CONFIG_FAULT_INJECTION_DEBUG_FS)
	return xchg(&current->fail_nth, 0);
#else
	return 0;
#endif
}

static inline void svmgpu_inject_resume(unsigned int n)
{
#if IS_ENABLED(CONFIG_FAULT_INJECTION_DEBUG_FS)
	current->fail_nth = n;
#endif
}

#endif /* SVMGPU_DRV_H */
