// SPDX-License-Identifier: GPL-2.0
/*
 * svmgpu debugfs (under /sys/kernel/debug/dri/<minor>/):
 *   svmgpu_device    device counters (registers) and driver counters
 *   svmgpu_contexts  every address space and its contexts' counters
 *   svmgpu_reset     write 1 to reset the device
 *   svmgpu_inject_inval_timeout
 *                    write N: the next N TLB invalidations time out (tests
 *                    of the fence-and-recover path)
 *   svmgpu_inject_fault_delay
 *                    write MS (at most 60000): the next fault work sleeps
 *                    that long before resolving (a fault stuck in I/O)
 *   svmgpu_inject_register_delay
 *                    write MS (at most 10000): the next new address space
 *                    (svm) sleeps that long in the id table before it is
 *                    registered (svmgpu_svm.c)
 *   svmgpu_inject_dispatch_delay
 *                    write MS (at most 4000, below the 5 s a teardown
 *                    waits for it): the fault IRQ thread sleeps that long
 *                    before it dispatches its next batch (svmgpu_fault.c)
 *   svmgpu_inject_stop_delay
 *                    write MS (at most 20000): the next queue stop sleeps
 *                    that long before it disables the hardware queue, the
 *                    engine running on meanwhile (svmgpu_queue.c); 0
 *                    ends a sleep under way
 *   svmgpu_inject_copy_delay
 *                    write US (at most 10000): each of the next 1024 pages
 *                    CPU copies through BAR4 move is followed by that sleep
 *                    (svmgpu_devmem.c)
 *   svmgpu_inject_fault_nomem
 *                    read/write N: the next N fault groups resolve as out
 *                    of memory (svmgpu_fault.c)
 *   svmgpu_inject_leak
 *                    write N (at most 16): N 32-byte objects holding
 *                    "svmgpu-kmemleak-canary" are leaked on purpose, so
 *                    that the test runner's kmemleak check shows it finds
 *                    what the driver leaks (images/guest-tests.sh)
 *
 * Locks: sdev->hw_sem (read) for registers; an svm lookup reference and
 * svm->lock for the context list.
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <drm/drm_debugfs.h>
#include <drm/drm_file.h>
#include <drm/drm_print.h>

#include "svmgpu_drv.h"

static const struct {
	const char *name;
	u32 reg;
} svmgpu_hw_counters[] = {
	{ "tlb_hits", SVMGPU_REG_CNT_TLB_HITS },
	{ "tlb_misses", SVMGPU_REG_CNT_TLB_MISSES },
	{ "tlb_evictions", SVMGPU_REG_CNT_TLB_EVICTIONS },
	{ "tlb_invalidations", SVMGPU_REG_CNT_TLB_INVALIDATIONS },
	{ "page_walks", SVMGPU_REG_CNT_PAGE_WALKS },
	{ "faults", SVMGPU_REG_CNT_FAULTS },
	{ "replays", SVMGPU_REG_CNT_REPLAYS },
	{ "cancels", SVMGPU_REG_CNT_CANCELS },
	{ "commands", SVMGPU_REG_CNT_COMMANDS },
	{ "instructions", SVMGPU_REG_CNT_INSTRUCTIONS },
	{ "link_read_bytes", SVMGPU_REG_CNT_LINK_READ_BYTES },
	{ "link_write_bytes", SVMGPU_REG_CNT_LINK_WRITE_BYTES },
	{ "local_read_bytes", SVMGPU_REG_CNT_LOCAL_READ_BYTES },
	{ "local_write_bytes", SVMGPU_REG_CNT_LOCAL_WRITE_BYTES },
	{ "preemptions", SVMGPU_REG_CNT_PREEMPTIONS },
};

static int svmgpu_debugfs_device(struct seq_file *m, void *unused)
{
	struct drm_info_node *node = m->private;
	struct svmgpu_device *sdev = to_svmgpu(node->minor->dev);
	struct svmgpu_dev_stats *s = &sdev->stats;
	unsigned int i;

	if (svmgpu_hw_enter(sdev)) {
		seq_printf(m, "status: 0x%08x error_status: 0x%08x\n",
			   svmgpu_read32(sdev, SVMGPU_REG_STATUS),
			   svmgpu_read32(sdev, SVMGPU_REG_ERROR_STATUS));
		for (i = 0; i < ARRAY_SIZE(svmgpu_hw_counters); i++)
			seq_printf(m, "hw_%s: %llu\n", svmgpu_hw_counters[i].name,
				   svmgpu_read64(sdev, svmgpu_hw_counters[i].reg));
		svmgpu_hw_exit(sdev);
	}
	seq_printf(m, "fault_records: %lld\n", atomic64_read(&s->fault_records));
	seq_printf(m, "fault_records_unregistered: %lld\n",
		   atomic64_read(&s->fault_records_unregistered));
	seq_printf(m, "fault_flushes: %lld\n", atomic64_read(&s->fault_flushes));
	seq_printf(m, "fault_flush_timeouts: %lld\n",
		   atomic64_read(&s->fault_flush_timeouts));
	seq_printf(m, "svms_unpublished: %lld\n", atomic64_read(&s->svms_unpublished));
	seq_printf(m, "chunks_refused: %lld\n", atomic64_read(&s->chunks_refused));
	seq_printf(m, "mm_lock_waits: %lld\n", atomic64_read(&s->mm_lock_waits));
	/*
	 * the driver's view: usable, held by a PCI reset, fenced, not back
	 * from a reset, off the bus
	 */
	seq_printf(m, "hw_ready: %d\nin_reset: %d\nfenced: %d\nwedged: %d\ngone: %d\n",
		   READ_ONCE(sdev->hw_ready), READ_ONCE(sdev->in_reset),
		   READ_ONCE(sdev->fenced), READ_ONCE(sdev->wedged),
		   READ_ONCE(sdev->gone));
	seq_printf(m, "fault_batches: %lld\n", atomic64_read(&s->fault_batches));
	seq_printf(m, "replays: %lld\n", atomic64_read(&s->replays));
	seq_printf(m, "cancels: %lld\n", atomic64_read(&s->cancels));
	seq_printf(m, "tlb_invalidations: %lld\n", atomic64_read(&s->tlb_invalidations));
	seq_printf(m, "tlb_inval_ns: %lld\n", atomic64_read(&s->tlb_inval_ns));
	seq_printf(m, "tlb_inval_timeouts: %lld\n", atomic64_read(&s->tlb_inval_timeouts));
	seq_printf(m, "fault_delays_injected: %lld\n",
		   atomic64_read(&s->fault_delays_injected));
	seq_printf(m, "resets: %lld\n", atomic64_read(&s->resets));
	seq_printf(m, "hangs: %lld\n", atomic64_read(&s->hangs));
	seq_printf(m, "hang_cmds: %lld\n", atomic64_read(&s->hang_cmds));
	seq_printf(m, "hang_reset_ns: %lld\n", atomic64_read(&s->hang_reset_ns));
	seq_printf(m, "watchdog_polls: %lld\n", atomic64_read(&s->watchdog_polls));
	seq_printf(m, "compl_corrupt: %lld\n", atomic64_read(&s->compl_corrupt));
	seq_printf(m, "fatal_errors: %lld\n", atomic64_read(&s->fatal_errors));
	seq_printf(m, "errors: %lld\n", atomic64_read(&s->errors));
	for (i = 0; i < sdev->num_queues; i++) {
		struct svmgpu_queue *q;
		u32 ctx_id = 0;

		/*
		 * The context only while the queue is bound: a queue reference
		 * does not keep it (QUEUE_DESTROY unbinds, CTX_DESTROY frees).
		 */
		spin_lock(&sdev->hwq_lock);
		q = sdev->hwq[i];
		if (q) {
			kref_get(&q->refs);
			ctx_id = q->ctx->svm->ctx_id;
		}
		spin_unlock(&sdev->hwq_lock);
		if (!q)
			continue;
		spin_lock(&q->lock);
		seq_printf(m, "hwq%u: ctx %u entries %u last %llu completed %llu error_entries %llu\n",
			   i, ctx_id, q->entries, q->last_seq, q->completed_seq, q->nerrs);
		spin_unlock(&q->lock);
		svmgpu_queue_put(q);
	}
	return 0;
}

static int svmgpu_debugfs_contexts(struct seq_file *m, void *unused)
{
	struct drm_info_node *node = m->private;
	struct svmgpu_device *sdev = to_svmgpu(node->minor->dev);
	struct svmgpu_svm *svm;
	struct svmgpu_ctx *ctx;
	unsigned long id;

	xa_for_each(&sdev->svms, id, svm) {
		struct svmgpu_svm_stats *s;

		svm = svmgpu_svm_lookup(sdev, id);
		if (!svm)
			continue;
		s = &svm->stats;
		seq_printf(m, "context %u%s: pages_mapped %lld huge_2m %lld huge_1g %lld pages_unmapped %lld invalidations %lld tlb_invalidations %lld tlb_inval_ns %lld\n",
			   svm->ctx_id, READ_ONCE(svm->dead) ? " (dead)" : "",
			   atomic64_read(&s->pages_mapped), atomic64_read(&s->huge_2m),
			   atomic64_read(&s->huge_1g), atomic64_read(&s->pages_unmapped),
			   atomic64_read(&s->invalidations),
			   atomic64_read(&s->tlb_invalidations),
			   atomic64_read(&s->tlb_inval_ns));
		mutex_lock(&svm->lock);
		list_for_each_entry(ctx, &svm->ctxs, link)
			seq_printf(m, "  ctx %u: faults %lld batches %lld replays %lld cancels %lld submitted %lld failed %lld\n",
				   ctx->handle,
				   atomic64_read(&ctx->cnt[SVMGPU_CS_FAULTS]),
				   atomic64_read(&ctx->cnt[SVMGPU_CS_BATCHES]),
				   atomic64_read(&ctx->cnt[SVMGPU_CS_REPLAYS]),
				   atomic64_read(&ctx->cnt[SVMGPU_CS_CANCELS]),
				   atomic64_read(&ctx->cnt[SVMGPU_CS_SUBMITTED]),
				   atomic64_read(&ctx->cnt[SVMGPU_CS_FAILED]));
		mutex_unlock(&svm->lock);
		svmgpu_svm_unref(svm);
	}
	return 0;
}

static const struct drm_info_list svmgpu_debugfs_list[] = {
	{ "svmgpu_device", svmgpu_debugfs_device, 0 },
	{ "svmgpu_contexts", svmgpu_debugfs_contexts, 0 },
};

/*
 * The write-only files below are debugfs attributes (simple_attr): a
 * number, parsed by kstrtoull() with base 0, is handed to the set function;
 * anything else is -EINVAL.
 */
static int svmgpu_reset_set(void *data, u64 val)
{
	return val ? svmgpu_device_reset(data, false) : 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(svmgpu_reset_fops, NULL, svmgpu_reset_set, "%llu\n");

/* A test hook's count or delay: at most @max, else -EINVAL. */
static int svmgpu_inject_store(atomic_t *hook, u64 val, u64 max)
{
	if (val > max)
		return -EINVAL;
	atomic_set(hook, val);
	return 0;
}

/* Test hook: the next N TLB invalidations are handled as timed out. */
static int svmgpu_inject_inval_set(void *data, u64 val)
{
	struct svmgpu_device *sdev = data;

	return svmgpu_inject_store(&sdev->inject_inval_timeouts, val, INT_MAX);
}
DEFINE_DEBUGFS_ATTRIBUTE(svmgpu_inject_inval_fops, NULL, svmgpu_inject_inval_set, "%llu\n");

/*
 * Test hook: the next fault work sleeps this many milliseconds first
 * (below the hung-task detector's 120 s).
 */
static int svmgpu_inject_delay_set(void *data, u64 val)
{
	struct svmgpu_device *sdev = data;

	return svmgpu_inject_store(&sdev->inject_fault_delay_ms, val, 60000);
}
DEFINE_DEBUGFS_ATTRIBUTE(svmgpu_inject_delay_fops, NULL, svmgpu_inject_delay_set, "%llu\n");

/*
 * Test hook: the next new svm sleeps this many milliseconds between its
 * publication in the id table and its registration, holding the global
 * creation lock and its mmap_lock (write): short.
 */
static int svmgpu_inject_register_delay_set(void *data, u64 val)
{
	struct svmgpu_device *sdev = data;

	return svmgpu_inject_store(&sdev->inject_register_delay_ms, val, 10000);
}
DEFINE_DEBUGFS_ATTRIBUTE(svmgpu_inject_register_delay_fops, NULL,
			 svmgpu_inject_register_delay_set, "%llu\n");

/*
 * Test hook: the fault IRQ thread sleeps this many milliseconds before it
 * dispatches its next batch.  Every fault of the device waits, and so do
 * resets, suspend and removal (disable_irq() and free_irq() wait for the
 * thread): short.
 */
static int svmgpu_inject_dispatch_delay_set(void *data, u64 val)
{
	struct svmgpu_device *sdev = data;

	return svmgpu_inject_store(&sdev->inject_dispatch_delay_ms, val, 4000);
}
DEFINE_DEBUGFS_ATTRIBUTE(svmgpu_inject_dispatch_delay_fops, NULL,
			 svmgpu_inject_dispatch_delay_set, "%llu\n");

/*
 * Test hook: the next queue stop (QUEUE_DESTROY, a reset, process exit)
 * sleeps this many milliseconds before it disables the hardware queue,
 * while the engine goes on running the queue's command.  Writing 0 disarms
 * it and ends a sleep under way: a test holds a stop for as long as it
 * needs, and no longer.
 */
static int svmgpu_inject_stop_delay_set(void *data, u64 val)
{
	struct svmgpu_device *sdev = data;
	int ret;

	ret = svmgpu_inject_store(&sdev->inject_stop_delay_ms, val, 20000);
	if (!ret && !val) {
		/* fully ordered: a stop that sees the new count sees the delay 0 */
		atomic_inc_return(&sdev->inject_stop_ends);
		wake_up_all(&sdev->inject_wq);
	}
	return ret;
}
DEFINE_DEBUGFS_ATTRIBUTE(svmgpu_inject_stop_delay_fops, NULL,
			 svmgpu_inject_stop_delay_set, "%llu\n");

/*
 * Test hook: leak @val small objects on purpose (kmemleak's canary, see
 * the comment at the top).  Their pointers are dropped at once.
 */
static int svmgpu_inject_leak_set(void *data, u64 val)
{
	static const char canary[32] = "svmgpu-kmemleak-canary";
	u64 i;

	if (val > 16)
		return -EINVAL;
	for (i = 0; i < val; i++)
		if (!kmemdup(canary, sizeof(canary), GFP_KERNEL))
			return -ENOMEM;
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(svmgpu_inject_leak_fops, NULL, svmgpu_inject_leak_set, "%llu\n");

/**
 * svmgpu_debugfs_init() - create the debugfs files of a DRM minor
 * @minor: the minor
 */
void svmgpu_debugfs_init(struct drm_minor *minor)
{
	drm_debugfs_create_files(svmgpu_debugfs_list, ARRAY_SIZE(svmgpu_debugfs_list),
				 minor->debugfs_root, minor);
	debugfs_create_file_unsafe("svmgpu_reset", 0200, minor->debugfs_root,
				   to_svmgpu(minor->dev), &svmgpu_reset_fops);
	debugfs_create_file_unsafe("svmgpu_inject_inval_timeout", 0200, minor->debugfs_root,
				   to_svmgpu(minor->dev), &svmgpu_inject_inval_fops);
	debugfs_create_file_unsafe("svmgpu_inject_fault_delay", 0200, minor->debugfs_root,
				   to_svmgpu(minor->dev), &svmgpu_inject_delay_fops);
	debugfs_create_file_unsafe("svmgpu_inject_register_delay", 0200, minor->debugfs_root,
				   to_svmgpu(minor->dev), &svmgpu_inject_register_delay_fops);
	debugfs_create_file_unsafe("svmgpu_inject_dispatch_delay", 0200, minor->debugfs_root,
				   to_svmgpu(minor->dev), &svmgpu_inject_dispatch_delay_fops);
	debugfs_create_file_unsafe("svmgpu_inject_stop_delay", 0200, minor->debugfs_root,
				   to_svmgpu(minor->dev), &svmgpu_inject_stop_delay_fops);
	debugfs_create_file_unsafe("svmgpu_inject_leak", 0200, minor->debugfs_root,
				   to_svmgpu(minor->dev), &svmgpu_inject_leak_fops);
	debugfs_create_atomic_t("svmgpu_inject_fault_nomem", 0600, minor->debugfs_root,
				&to_svmgpu(minor->dev)->inject_fault_nomem);
	svmgpu_recovery_debugfs_init(minor);
	svmgpu_sched_debugfs_init(minor);
	svmgpu_devmem_debugfs_init(minor);
	svmgpu_prefetch_debugfs_init(minor);
	svmgpu_dax_debugfs_init(minor);
}
