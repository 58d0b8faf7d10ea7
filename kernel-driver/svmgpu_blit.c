// SPDX-License-Identifier: GPL-2.0
/*
 * svmgpu migration copies by the device's COPY engine (docs/driver.md
 * "Device memory", docs/hw-spec.md 4, 5, 5a, 8).
 *
 * One migration batch (at most SVMGPU_BLIT_PAGES pages, locked by
 * migrate_vma_setup() or migrate_device_range()) is copied by the device
 * itself, as amdkfd's svm_migrate_copy_memory_gart() copies through a
 * kernel-owned GART window:
 *
 *   - hardware context 0, which is never handed to a process (context ids
 *     are allocated from 1), has the driver's own page tables: a window of
 *     two 2 MiB halves, entry i of the batch's source at SVMGPU_BLIT_SRC +
 *     i * 4 KiB and of its destination at SVMGPU_BLIT_DST + i * 4 KiB;
 *     system pages with aperture 0 (mapped for the batch only, with one
 *     scatterlist: behind an IOMMU one IOVA range and one IOTLB flush per
 *     batch), device pages with aperture 1;
 *   - the last hardware queue is the driver's: svmgpu_blit_create() takes it
 *     out of sdev->num_queues, so neither the scheduler nor the queue code
 *     ever binds it; it runs a batch a fault waits for (migrate_to_ram(),
 *     migrate-on-fault) at the highest Q_PRIORITY, any other (PREFETCH,
 *     eviction) at NORMAL's (re-latched per batch: the queue is idle between
 *     batches), so that a stream of PREFETCHes does not starve the user
 *     queues on its engine (the hang watchdog counts a busy copy queue as
 *     higher-priority work: svmgpu_blit_starves());
 *   - one COPY per run of consecutive entries that move, one FILL of zeros
 *     per run of holes that move to the device (device memory is not
 *     cleared); the window's TLB entries are invalidated before the
 *     commands are queued.
 *
 * The caller sleeps until the queue's completion record (Q_COMPL_ADDR, in
 * memory: no register read, which under a vIOMMU competes with the engine
 * for QEMU's lock) shows the batch's last command, polled with a growing
 * back-off (20 us to 1 ms; the queue's interrupt vector is not requested),
 * at most copy_timeout_ms (at least 10) plus twice the batch's time over a
 * modelled link (LINK_BANDWIDTH).  The slow polls also read STATUS: a fatal
 * device error, a failed command without record or a device that reads
 * all-ones ends the wait at once.  After SVMGPU_BLIT_MAX_TIMEOUTS batches
 * in a row timed out the CPU copies for copy_engine_backoff_ms, then one
 * batch re-probes the engine: a timeout again doubles the back-off (up to
 * 5 minutes), a success or a device reset ends it.  A timeout while a
 * user queue of a higher Q_PRIORITY was busy on the copy queue's engine
 * (strict priority, hw-spec 16.3: the batch was starved, the engine is
 * fine; only with the scheduler on, which alone applies Q_PRIORITY to user
 * queues) does not count as one (engine_starved), but is not free: after
 * SVMGPU_BLIT_MAX_TIMEOUTS starved batches in a row the CPU copies for
 * copy_engine_backoff_ms, not doubled and without a warning, and a starved
 * re-probe backs off as long again.  A batch
 * has a fixed cost (mapping, TLB invalidation,
 * submission, the poll: about 0.1 ms under TCG, more behind a vIOMMU),
 * more than the CPU needs for a few pages: batches of fewer than
 * copy_engine_min_pages pages (a CPU fault's single page) are left to the
 * CPU.
 *
 * Never losing data: on any failure -- copy_engine=0 (module parameter,
 * for tests and comparison), a device without a queue to spare, a DMA
 * mapping failure, a device removed, in a PCI reset, fenced or reset while
 * the batch ran, a failed command, a timeout -- svmgpu_blit_copy() returns
 * a negative errno once the engine is shown to write none of the batch's
 * pages any more, and the caller copies the whole batch with the CPU.
 * Neither copy writes a source page, so a partial engine copy followed by
 * the CPU copy leaves exactly the source's data.  Shown stopped
 * (svmgpu_blit_stopped()): the queue disabled and Q_STATUS.IDLE, and
 * STATUS.RESET_PENDING clear -- a reset, and a fence above all (a TLB
 * invalidation timeout resets the device without waiting), lets a step
 * begun before it run on (hw-spec 12); or the device held by a PCI reset,
 * suspend or removal that quiesced it.  Not shown within copy_timeout_ms
 * (at least 1 s): the device is reset (hang_work), and again bounded by 5
 * x that time.  Still not shown (a device that reads all-ones, or a fenced
 * device removed): the batch fails with -EBUSY and is abandoned: its
 * destination pages (the ones the engine could still write) are held with
 * their DMA mapping (svmgpu_blit_hold(), dst[] cleared, so migrate_vma
 * keeps the sources) and given back only once the engine is shown stopped
 * (the next batch checks) or at teardown; until then no batch uses the
 * engine (the window keeps mapping only held pages).
 *
 * A device reset disables the queue and context 0 (svmgpu_hw_program()
 * only loads the contexts of processes); the next batch sees
 * sdev->stats.resets changed and enables both again.
 *
 * Lock order: the batch's page locks (migrate_vma_setup()), blit->lock,
 * sdev->hw_sem (read; around register accesses only, never across the wait,
 * so that a reset's writer never waits for a batch), sdev->inval_lock
 * (svmgpu_tlb_invalidate(), outside hw_sem).  The CPU fallback's
 * dm->access_sem is taken by the caller after blit->lock is dropped.
 *
 *   blit->lock (mutex) the window's page tables, the ring, @sys, @sgt,
 *              @dma, @tail, @seq, @gen, @live, @prio, @held, the
 *              timeout count and the back-off: one batch at a time
 */
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/migrate.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <drm/drm_print.h>

#include "svmgpu_blit.h"
#include "svmgpu_drv.h"

static bool copy_engine = true;
module_param(copy_engine, bool, 0644);
MODULE_PARM_DESC(copy_engine,
		 "migrations copy with the device's COPY engine (default Y); N: with the CPU");

static unsigned int copy_engine_min_pages = 16;
module_param(copy_engine_min_pages, uint, 0644);
MODULE_PARM_DESC(copy_engine_min_pages,
		 "batches of fewer pages copy with the CPU: the engine's cost per batch exceeds theirs (default 16)");

static unsigned int copy_timeout_ms = 2000;
module_param(copy_timeout_ms, uint, 0644);
MODULE_PARM_DESC(copy_timeout_ms,
		 "a migration batch the engine did not copy in this time (at least 10, plus twice its time over a modelled link) is copied by the CPU (default 2000)");

static unsigned int copy_engine_backoff_ms = 10000;
module_param(copy_engine_backoff_ms, uint, 0644);
MODULE_PARM_DESC(copy_engine_backoff_ms,
		 "after 3 batches in a row timed out the CPU copies for this long (at least 10), then one batch re-probes the engine; each failed re-probe doubles it, up to 5 min (default 10000)");

/* Batches timed out in a row after which the CPU copies for a back-off. */
#define SVMGPU_BLIT_MAX_TIMEOUTS	3
/* The longest back-off. */
#define SVMGPU_BLIT_BACKOFF_MAX_MS	(5 * 60 * 1000)

/* Q_PRIORITY of a batch nobody waits for in a fault (user NORMAL's). */
#define SVMGPU_BLIT_PRIO_NORMAL	1

/* The window: 1 GiB (level-4 entry 0, level-3 entry 1), two level-1 tables. */
#define SVMGPU_BLIT_SRC		BIT_ULL(30)
#define SVMGPU_BLIT_DST		(SVMGPU_BLIT_SRC + (2ull << 20))
#define SVMGPU_BLIT_SIZE	(4ull << 20)

/* Ring entries: more than the commands of one batch (one per page at most). */
#define SVMGPU_BLIT_RING	1024

enum {
	SVMGPU_BLIT_L4,
	SVMGPU_BLIT_L3,
	SVMGPU_BLIT_L2,
	SVMGPU_BLIT_L1_SRC,
	SVMGPU_BLIT_L1_DST,
	SVMGPU_BLIT_COMPL,	/* the queue's completion record */
	SVMGPU_BLIT_TABLES,
};

/**
 * struct svmgpu_blit_held - the pages of a batch the engine was not shown
 *	to have stopped with (still DMA-mapped)
 * @link: in blit->held
 * @sgt: the batch's system pages' mapping
 * @dir: its direction
 * @nsrc: entries of @src
 * @src: to device memory, the batch's system source pages (a reference
 *	each: @sgt maps them, and the engine may still read them, so they
 *	must not be freed); NULL otherwise
 * @n: entries of @pages
 * @pages: the batch's destination pages (locked, a reference each: the
 *	engine may still write them)
 */
struct svmgpu_blit_held {
	struct list_head link;
	struct sg_table sgt;
	enum dma_data_direction dir;
	unsigned long nsrc;
	struct page **src;
	unsigned long n;
	struct page *pages[];
};

/**
 * struct svmgpu_blit - the driver's copy queue of one device
 * @sdev: the device
 * @hwq: the hardware queue kept for it
 * @lock: one batch at a time; protects everything below
 * @pt: the window's page tables (DMA-coherent, SVMGPU_BLIT_TABLES pages)
 * @pt_dma: their DMA address
 * @ring: the command ring (DMA-coherent)
 * @ring_dma: its DMA address
 * @sys: the batch's system pages, in order
 * @sgt: @sys mapped for the device (one IOVA range behind an IOMMU)
 * @dma: DMA address of each entry's system page
 * @tail: next ring slot
 * @seq: seq of the last command queued
 * @gen: sdev->stats.resets when the queue and context 0 were enabled
 * @live: the queue and context 0 are enabled (since @gen)
 * @prio: the Q_PRIORITY latched at the last enable
 * @link_mbps: LINK_BANDWIDTH (0: link not modelled)
 * @compl: the queue's completion record (in the @pt allocation)
 * @timeouts_in_row: batches timed out in a row since @timeouts_gen
 * @starved_in_row: starved batches in a row since @timeouts_gen
 * @timeouts_gen: sdev->stats.resets at the last timeout
 * @off: the engine is backed off (since @off_since, for
 *	copy_engine_backoff_ms << @off_shift), or on probation after
 * @off_shift: failed re-probes since @off began
 * @off_since: jiffies when the last back-off began
 * @held: abandoned batches' pages (struct svmgpu_blit_held)
 * @batches: batches the engine copied
 * @bytes: bytes it copied or zero-filled
 * @fallbacks: batches it did not copy (the CPU did)
 * @timeouts: of those, timed out
 * @starved: timeouts not counted: a higher-priority user queue was busy on
 *	the copy queue's engine
 * @errors: of those, a failed command or enable
 * @resets: of those, the device was reset, removed or fenced meanwhile
 * @setup_errors: of those, never queued: the device not ready, fenced or
 *	removed, a DMA mapping, window or TLB invalidation failure
 * @wait_max_us: the longest wait for a batch the engine finished, since bind
 * @abandoned: batches whose engine was not shown stopped (-EBUSY)
 * @held_pages: pages in @held
 */
struct svmgpu_blit {
	struct svmgpu_device *sdev;
	u32 hwq;
	struct mutex lock;		/* one batch at a time */
	__le64 *pt;
	dma_addr_t pt_dma;
	struct svmgpu_cmd *ring;
	dma_addr_t ring_dma;
	struct page *sys[SVMGPU_BLIT_PAGES];
	struct sg_table sgt;
	dma_addr_t dma[SVMGPU_BLIT_PAGES];
	u32 tail;
	u64 seq;
	u64 gen;
	bool live;
	u32 prio;
	u32 link_mbps;
	struct svmgpu_completion *compl;
	unsigned int timeouts_in_row;
	unsigned int starved_in_row;
	u64 timeouts_gen;
	bool off;
	unsigned int off_shift;
	unsigned long off_since;
	struct list_head held;

	atomic64_t batches;
	atomic64_t bytes;
	atomic64_t fallbacks;
	atomic64_t timeouts;
	atomic64_t starved;
	atomic64_t errors;
	atomic64_t resets;
	atomic64_t abandoned;
	atomic64_t held_pages;
	atomic64_t setup_errors;
	u64 wait_max_us;
};

static __le64 *svmgpu_blit_table(struct svmgpu_blit *blit, int t)
{
	return blit->pt + t * (PAGE_SIZE / sizeof(u64));
}

static dma_addr_t svmgpu_blit_table_dma(struct svmgpu_blit *blit, int t)
{
	return blit->pt_dma + t * PAGE_SIZE;
}

static u64 svmgpu_blit_pte(struct svmgpu_blit *blit, int t, unsigned long i)
{
	return le64_to_cpu(READ_ONCE(svmgpu_blit_table(blit, t)[i]));
}

static void svmgpu_blit_set_pte(struct svmgpu_blit *blit, int t, unsigned long i, u64 v)
{
	WRITE_ONCE(svmgpu_blit_table(blit, t)[i], cpu_to_le64(v));
}

/**
 * svmgpu_blit_create() - set up the driver's copy queue
 * @sdev: the device, its queues not yet used (probe)
 *
 * Takes the last hardware queue out of sdev->num_queues.
 *
 * Return: the copy queue, or NULL if the device has no queue to spare or
 * memory ran out (migrations then copy with the CPU).
 */
struct svmgpu_blit *svmgpu_blit_create(struct svmgpu_device *sdev)
{
	struct device *dev = &sdev->pdev->dev;
	struct svmgpu_blit *blit;

	if (sdev->num_queues < 2)
		return NULL;
	/*
	 * The engine has no segment boundary (a COPY crosses any address):
	 * a batch's physically contiguous run crossing 4 GiB is one segment
	 * (DMA-API debugging would report the default 4 GiB boundary).
	 */
	if (dma_set_seg_boundary(dev, ULONG_MAX))
		return NULL;
	blit = kzalloc(sizeof(*blit), GFP_KERNEL);
	if (!blit)
		return NULL;
	blit->sdev = sdev;
	mutex_init(&blit->lock);
	INIT_LIST_HEAD(&blit->held);
	blit->pt = dma_alloc_coherent(dev, SVMGPU_BLIT_TABLES * PAGE_SIZE,
				      &blit->pt_dma, GFP_KERNEL);
	blit->ring = dma_alloc_coherent(dev, SVMGPU_BLIT_RING * sizeof(*blit->ring),
					&blit->ring_dma, GFP_KERNEL);
	if (!blit->pt || !blit->ring) {
		svmgpu_blit_destroy(blit);
		return NULL;
	}
	svmgpu_blit_set_pte(blit, SVMGPU_BLIT_L4, 0,
			    svmgpu_blit_table_dma(blit, SVMGPU_BLIT_L3) | SVMGPU_PTE_VALID);
	svmgpu_blit_set_pte(blit, SVMGPU_BLIT_L3, (SVMGPU_BLIT_SRC >> 30) & 511,
			    svmgpu_blit_table_dma(blit, SVMGPU_BLIT_L2) | SVMGPU_PTE_VALID);
	svmgpu_blit_set_pte(blit, SVMGPU_BLIT_L2, (SVMGPU_BLIT_SRC >> 21) & 511,
			    svmgpu_blit_table_dma(blit, SVMGPU_BLIT_L1_SRC) | SVMGPU_PTE_VALID);
	svmgpu_blit_set_pte(blit, SVMGPU_BLIT_L2, (SVMGPU_BLIT_DST >> 21) & 511,
			    svmgpu_blit_table_dma(blit, SVMGPU_BLIT_L1_DST) | SVMGPU_PTE_VALID);
	blit->compl = (void *)svmgpu_blit_table(blit, SVMGPU_BLIT_COMPL);
	sdev->num_queues--;
	blit->hwq = sdev->num_queues;
	return blit;
}

/**
 * svmgpu_blit_destroy() - free the copy queue
 * @blit: the copy queue or NULL; the device is stopped (no batch runs)
 */
void svmgpu_blit_destroy(struct svmgpu_blit *blit)
{
	struct device *dev;

	if (!blit)
		return;
	dev = &blit->sdev->pdev->dev;
	/* svmgpu_blit_release() ran before the pages were waited for. */
	WARN_ON_ONCE(!list_empty(&blit->held));
	if (blit->ring)
		dma_free_coherent(dev, SVMGPU_BLIT_RING * sizeof(*blit->ring),
				  blit->ring, blit->ring_dma);
	if (blit->pt)
		dma_free_coherent(dev, SVMGPU_BLIT_TABLES * PAGE_SIZE, blit->pt,
				  blit->pt_dma);
	mutex_destroy(&blit->lock);
	kfree(blit);
}

/*
 * Enable context 0 and the queue at Q_PRIORITY @prio (first batch, after a
 * reset or a failed batch).  Caller is inside svmgpu_hw_enter().
 */
static int svmgpu_blit_start(struct svmgpu_blit *blit, u64 gen, u32 prio)
{
	struct svmgpu_device *sdev = blit->sdev;
	u32 q = blit->hwq, status;

	if (svmgpu_ctx_entry_set(sdev, 0, svmgpu_blit_table_dma(blit, SVMGPU_BLIT_L4)))
		return -EIO;
	svmgpu_write32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_CONTROL), 0);
	svmgpu_write64(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_BASE), blit->ring_dma);
	svmgpu_write32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_SIZE), SVMGPU_BLIT_RING);
	svmgpu_write32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_CTX), 0);
	svmgpu_write64(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_COMPL_ADDR),
		       svmgpu_blit_table_dma(blit, SVMGPU_BLIT_COMPL));
	if (sdev->caps & SVMGPU_CAPS_PREEMPT) {
		svmgpu_write64(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_SAVE_ADDR), 0);
		svmgpu_write32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_PRIORITY), prio);
		svmgpu_write32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_START), 0);
	}
	svmgpu_write32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_CONTROL), SVMGPU_Q_CONTROL_ENABLE);
	status = svmgpu_read32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_STATUS));
	if (status & SVMGPU_Q_STATUS_ERROR) {
		drm_err_ratelimited(&sdev->drm, "copy queue %u: enable failed, error %u\n", q,
				    svmgpu_read32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_ERROR_CODE)));
		svmgpu_write32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_CONTROL), 0);
		return -EIO;
	}
	blit->link_mbps = svmgpu_read32(sdev, SVMGPU_REG_LINK_BANDWIDTH);
	if (blit->link_mbps == U32_MAX)
		blit->link_mbps = 0;
	blit->tail = 0;
	blit->gen = gen;
	WRITE_ONCE(blit->prio, prio);
	WRITE_ONCE(blit->live, true);
	return 0;
}

/*
 * Re-latch Q_PRIORITY of the live queue: it is idle between batches (every
 * command completed), so a disable and an enable at the same ring index
 * take no step away.  Caller is inside svmgpu_hw_enter().
 */
static void svmgpu_blit_set_prio(struct svmgpu_blit *blit, u32 prio)
{
	struct svmgpu_device *sdev = blit->sdev;
	u32 q = blit->hwq;

	if (blit->prio == prio)
		return;
	if (sdev->caps & SVMGPU_CAPS_PREEMPT) {
		svmgpu_write32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_CONTROL), 0);
		svmgpu_write32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_PRIORITY), prio);
		svmgpu_write32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_START), blit->tail);
		svmgpu_write32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_CONTROL),
			       SVMGPU_Q_CONTROL_ENABLE);
	}
	WRITE_ONCE(blit->prio, prio);
}

/**
 * svmgpu_blit_starves() - does the copy queue keep a queue's engine busy?
 * @blit: the copy queue or NULL
 * @i: a hardware queue
 * @prio: its Q_PRIORITY
 * @engines: NUM_ENGINES
 *
 * For the hang watchdog (svmgpu_watchdog_starved()): a queue on the copy
 * queue's engine below its priority makes no progress while a batch runs.
 * Caller is inside svmgpu_hw_enter().
 *
 * Return: true if the copy queue is enabled, runs a batch and outranks @i.
 */
bool svmgpu_blit_starves(struct svmgpu_blit *blit, u32 i, u32 prio, u32 engines)
{
	u32 status;

	if (!blit || !READ_ONCE(blit->live) || READ_ONCE(blit->prio) <= prio ||
	    blit->hwq % engines != i % engines)
		return false;
	status = svmgpu_read32(blit->sdev, SVMGPU_REG_Q(blit->hwq, SVMGPU_Q_STATUS));
	return status != U32_MAX && (status & SVMGPU_Q_STATUS_ENABLED) &&
	       !(status & (SVMGPU_Q_STATUS_IDLE | SVMGPU_Q_STATUS_ERROR));
}

/* Entries of a batch that move: a source selected and a destination. */
static unsigned long svmgpu_blit_moving(const unsigned long *src, const unsigned long *dst,
					unsigned long npages)
{
	unsigned long i, n = 0;

	for (i = 0; i < npages; i++)
		if ((src[i] & MIGRATE_PFN_MIGRATE) && migrate_pfn_to_page(dst[i]))
			n++;
	return n;
}

/*
 * Map the batch's system pages for the device with one scatterlist (one
 * IOVA range and one IOTLB flush at unmap behind an IOMMU, instead of one
 * per page) and note each entry's DMA address in @dma.  @to_dev gives the
 * side the system pages are on.
 *
 * Return: 0 or a negative errno (nothing left mapped).
 */
static int svmgpu_blit_dma_map(struct svmgpu_blit *blit, const unsigned long *src,
			       const unsigned long *dst, unsigned long npages, bool to_dev)
{
	struct device *dev = &blit->sdev->pdev->dev;
	enum dma_data_direction dir = to_dev ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
	unsigned long i, k = 0, nsys = 0;
	struct scatterlist *sg;
	unsigned int j, off;
	int ret;

	for (i = 0; i < npages; i++) {
		struct page *page = migrate_pfn_to_page(to_dev ? src[i] : dst[i]);

		if ((src[i] & MIGRATE_PFN_MIGRATE) && migrate_pfn_to_page(dst[i]) && page)
			blit->sys[nsys++] = page;
	}
	blit->sgt.orig_nents = 0;
	if (!nsys)
		return 0;
	ret = sg_alloc_table_from_pages_segment(&blit->sgt, blit->sys, nsys, 0,
						nsys << PAGE_SHIFT,
						dma_get_max_seg_size(dev), GFP_KERNEL);
	if (ret)
		return ret;
	ret = dma_map_sgtable(dev, &blit->sgt, dir, 0);
	if (ret) {
		sg_free_table(&blit->sgt);
		blit->sgt.orig_nents = 0;
		return ret;
	}
	/* The DMA segments cover the pages in order, page by page. */
	i = 0;
	for_each_sgtable_dma_sg(&blit->sgt, sg, j) {
		for (off = 0; off < sg_dma_len(sg) && k < nsys; off += PAGE_SIZE, k++) {
			while (!((src[i] & MIGRATE_PFN_MIGRATE) && migrate_pfn_to_page(dst[i]) &&
				 migrate_pfn_to_page(to_dev ? src[i] : dst[i])))
				i++;
			blit->dma[i++] = sg_dma_address(sg) + off;
		}
	}
	if (WARN_ON_ONCE(k != nsys)) {
		dma_unmap_sgtable(dev, &blit->sgt, dir, 0);
		sg_free_table(&blit->sgt);
		blit->sgt.orig_nents = 0;
		return -EIO;
	}
	return 0;
}

/*
 * Fill the window for the batch: both halves' entries of the entries that
 * move (the system pages mapped by svmgpu_blit_dma_map()); the others stay
 * invalid.
 *
 * Return: 0 or -EINVAL (not a page of this device's memory).
 */
static int svmgpu_blit_map(struct svmgpu_blit *blit, const unsigned long *src,
			   const unsigned long *dst, unsigned long npages, bool to_dev)
{
	struct svmgpu_device *sdev = blit->sdev;
	const u64 local = SVMGPU_APERTURE_LOCAL << SVMGPU_PTE_APERTURE_SHIFT;
	unsigned long i;

	for (i = 0; i < npages; i++) {
		struct page *spage = migrate_pfn_to_page(src[i]);
		struct page *dpage = migrate_pfn_to_page(dst[i]);
		u64 off, s = 0, d;

		if (!(src[i] & MIGRATE_PFN_MIGRATE) || !dpage)
			continue;
		if (!svmgpu_devmem_page_offset(sdev, to_dev ? dpage : spage, &off))
			return -EINVAL;
		if (to_dev) {
			if (spage)
				s = blit->dma[i] | SVMGPU_PTE_VALID;
			d = off | local | SVMGPU_PTE_VALID | SVMGPU_PTE_WRITABLE;
		} else {
			s = off | local | SVMGPU_PTE_VALID;
			d = blit->dma[i] | SVMGPU_PTE_VALID | SVMGPU_PTE_WRITABLE;
		}
		svmgpu_blit_set_pte(blit, SVMGPU_BLIT_L1_SRC, i, s);
		svmgpu_blit_set_pte(blit, SVMGPU_BLIT_L1_DST, i, d);
	}
	return 0;
}

/* Undo svmgpu_blit_dma_map() and _map(): the engine no longer reaches the pages. */
static void svmgpu_blit_unmap(struct svmgpu_blit *blit, bool to_dev)
{
	struct device *dev = &blit->sdev->pdev->dev;

	if (blit->sgt.orig_nents) {
		dma_unmap_sgtable(dev, &blit->sgt, to_dev ? DMA_TO_DEVICE : DMA_FROM_DEVICE, 0);
		sg_free_table(&blit->sgt);
		blit->sgt.orig_nents = 0;
	}
	memset(svmgpu_blit_table(blit, SVMGPU_BLIT_L1_SRC), 0, PAGE_SIZE);
	memset(svmgpu_blit_table(blit, SVMGPU_BLIT_L1_DST), 0, PAGE_SIZE);
}

/*
 * Queue one COPY per run of consecutive moving entries with a source, one
 * FILL of zeros per run without (holes moving to the device), and ring the
 * doorbell.  Caller is inside svmgpu_hw_enter(), the queue live.
 *
 * Return: bytes the commands move.
 */
static u64 svmgpu_blit_queue(struct svmgpu_blit *blit, unsigned long npages)
{
	struct svmgpu_device *sdev = blit->sdev;
	unsigned long i = 0, j;
	u64 bytes = 0;

	while (i < npages) {
		bool fill = !svmgpu_blit_pte(blit, SVMGPU_BLIT_L1_SRC, i);
		struct svmgpu_cmd *c;
		u64 size;

		if (!svmgpu_blit_pte(blit, SVMGPU_BLIT_L1_DST, i)) {
			i++;
			continue;
		}
		for (j = i + 1; j < npages; j++)
			if (!svmgpu_blit_pte(blit, SVMGPU_BLIT_L1_DST, j) ||
			    !svmgpu_blit_pte(blit, SVMGPU_BLIT_L1_SRC, j) != fill)
				break;
		size = (u64)(j - i) << PAGE_SHIFT;
		c = &blit->ring[blit->tail];
		memset(c, 0, sizeof(*c));
		c->hdr.seq = ++blit->seq;
		if (fill) {
			c->hdr.opcode = SVMGPU_CMD_FILL;
			c->fill.dst = SVMGPU_BLIT_DST + ((u64)i << PAGE_SHIFT);
			c->fill.size = size;
			c->fill.width = 8;
		} else {
			c->hdr.opcode = SVMGPU_CMD_COPY;
			c->copy.dst = SVMGPU_BLIT_DST + ((u64)i << PAGE_SHIFT);
			c->copy.src = SVMGPU_BLIT_SRC + ((u64)i << PAGE_SHIFT);
			c->copy.size = size;
		}
		blit->tail = (blit->tail + 1) % SVMGPU_BLIT_RING;
		bytes += size;
		i = j;
	}
	wmb();	/* commands complete before the doorbell */
	svmgpu_write32(sdev, SVMGPU_REG_Q(blit->hwq, SVMGPU_Q_TAIL), blit->tail);
	return bytes;
}

/* A reset, removal or fence happened since the queue was enabled. */
static bool svmgpu_blit_lost(struct svmgpu_blit *blit)
{
	struct svmgpu_device *sdev = blit->sdev;

	return READ_ONCE(sdev->fenced) || atomic64_read(&sdev->stats.resets) != blit->gen;
}

/* The deadline of a batch of @bytes (copy_timeout_ms, the link's time). */
static unsigned long svmgpu_blit_timeout(struct svmgpu_blit *blit, u64 bytes)
{
	u64 ms = max(READ_ONCE(copy_timeout_ms), 10u);

	/* B MB/s is B * 1000 bytes per ms; twice that time, for slack. */
	if (blit->link_mbps)
		ms += div_u64(bytes * 2, (u64)blit->link_mbps * 1000);
	return msecs_to_jiffies(ms);
}

/*
 * The registers' view, for the slow polls of svmgpu_blit_wait(): a device
 * that reads all-ones (removed, link down) is -ENODEV; a fatal error (no
 * engine step runs until a reset) or a failed command whose record was not
 * written is -EIO; the last command seen complete in Q_COMPL_SEQ (a corrupt
 * record) is 0.
 *
 * Return: 0, 1 (still running) or a negative errno.
 */
static int svmgpu_blit_poll_regs(struct svmgpu_blit *blit, u64 last)
{
	struct svmgpu_device *sdev = blit->sdev;
	u32 q = blit->hwq, st, qs;
	int ret = 1;
	u64 done;

	if (!svmgpu_hw_enter(sdev))
		return -ENODEV;
	/* All 64 bits: a reset zeroes it, and (u32)last may be 0 too. */
	done = svmgpu_read64(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_COMPL_SEQ));
	qs = svmgpu_read32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_STATUS));
	st = svmgpu_read32(sdev, SVMGPU_REG_STATUS);
	if (st == U32_MAX || qs == U32_MAX) {
		ret = -ENODEV;
	} else if ((st & SVMGPU_STATUS_ERROR) &&
		   (svmgpu_read32(sdev, SVMGPU_REG_ERROR_STATUS) & SVMGPU_ERROR_FATAL)) {
		drm_err_ratelimited(&sdev->drm, "copy queue %u: fatal device error\n", q);
		/* its interrupt may be lost, and no watchdog runs without a user queue */
		svmgpu_device_fatal(sdev);
		ret = -EIO;
	} else if (qs & SVMGPU_Q_STATUS_ERROR) {
		drm_err_ratelimited(&sdev->drm, "copy queue %u: command %u failed: error %u\n", q,
				    svmgpu_read32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_ERROR_SEQ)),
				    svmgpu_read32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_ERROR_CODE)));
		ret = -EIO;
	} else if (done == last) {
		ret = 0;
	}
	svmgpu_hw_exit(sdev);
	return ret;
}

/*
 * Wait until commands [first, last] (moving @bytes) completed: the
 * completion record in memory, with a growing back-off; the registers at
 * the slow polls.
 *
 * Return: 0, -EIO (a command failed, or a fatal device error), -ENODEV (the
 * device was reset, removed or fenced meanwhile, or reads all-ones) or
 * -ETIMEDOUT.
 */
static int svmgpu_blit_wait(struct svmgpu_blit *blit, u64 first, u64 last, u64 bytes)
{
	struct svmgpu_device *sdev = blit->sdev;
	unsigned long deadline = jiffies + svmgpu_blit_timeout(blit, bytes);
	unsigned int delay = 20;
	int ret;

	for (;;) {
		u64 seq, err;

		usleep_range(delay, delay + delay / 2);
		if (svmgpu_blit_lost(blit))
			return -ENODEV;
		/* seq is written last (hw-spec 8.2): err_seq is as new. */
		seq = le64_to_cpu(READ_ONCE(*(__le64 *)&blit->compl->seq));
		rmb();	/* seq before the rest of the record */
		err = le64_to_cpu(READ_ONCE(*(__le64 *)&blit->compl->err_seq));
		if (err - first <= last - first) {
			u32 code = le32_to_cpu(READ_ONCE(*(__le32 *)&blit->compl->err_code));

			drm_err_ratelimited(&sdev->drm, "copy queue %u: command %llu failed: error %u\n",
					    blit->hwq, err, code);
			return -EIO;
		}
		if (seq == last)
			return 0;
		if (delay < 1000) {
			delay *= 2;
		} else {
			ret = svmgpu_blit_poll_regs(blit, last);
			if (ret <= 0)
				return ret;
		}
		if (time_after(jiffies, deadline))
			return -ETIMEDOUT;
	}
}

/*
 * Is the engine shown to write none of the last batch's pages any more?
 * The queue is disabled (again: harmless) and reads IDLE, and no step begun
 * before a reset still runs (STATUS.RESET_PENDING: a fence resets the
 * device without waiting for it, hw-spec 12).  A device held by a PCI
 * reset, suspend or removal was quiesced then, unless it is fenced.
 *
 * Return: 1 yes, 0 not yet, -ENODEV never (reads all-ones, or removed
 * without being shown stopped).
 */
static int svmgpu_blit_stopped(struct svmgpu_blit *blit)
{
	struct svmgpu_device *sdev = blit->sdev;
	u32 q = blit->hwq, qs, st;
	int ret;

	if (READ_ONCE(sdev->gone))
		return -ENODEV;		/* off the bus: never shown stopped */
	if (!svmgpu_hw_enter(sdev)) {
		if (!READ_ONCE(sdev->fenced))
			return 1;
		return READ_ONCE(sdev->in_reset) ? 0 : -ENODEV;
	}
	svmgpu_write32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_CONTROL), 0);
	qs = svmgpu_read32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_STATUS));
	st = svmgpu_read32(sdev, SVMGPU_REG_STATUS);
	if (qs == U32_MAX || st == U32_MAX)
		ret = -ENODEV;
	else
		ret = (qs & SVMGPU_Q_STATUS_IDLE) && !(st & SVMGPU_STATUS_RESET_PENDING);
	svmgpu_hw_exit(sdev);
	return ret;
}

/*
 * After a failed batch: wait until the engine is shown stopped
 * (svmgpu_blit_stopped()) before the caller copies with the CPU and the
 * pages are unmapped and freed.  Not within copy_timeout_ms (at least
 * 1 s): as for a user queue that does not go idle, the device is reset (a
 * step in progress then writes nothing once it ends) and the wait goes on,
 * bounded by 5 x that time.
 *
 * Return: true if shown stopped.
 */
static bool svmgpu_blit_stop(struct svmgpu_blit *blit)
{
	struct svmgpu_device *sdev = blit->sdev;
	unsigned long wait = msecs_to_jiffies(max(READ_ONCE(copy_timeout_ms), 1000u));
	unsigned long deadline = jiffies + wait;
	bool asked = false;
	int ret;

	WRITE_ONCE(blit->live, false);
	for (;;) {
		ret = svmgpu_blit_stopped(blit);
		if (ret)
			return ret > 0;
		if (time_after(jiffies, deadline)) {
			if (asked)
				return false;
			asked = true;
			drm_err(&sdev->drm, "copy queue %u not shown stopped after its disable: resetting the device\n",
				blit->hwq);
			/* under hw_sem: not after removal's flush of hang_work */
			if (svmgpu_hw_enter(sdev)) {
				if (!READ_ONCE(sdev->resetting))
					svmgpu_request_reset(sdev);
				svmgpu_hw_exit(sdev);
			}
			deadline = jiffies + 5 * wait;
		}
		usleep_range(100, 200);
	}
}

/*
 * The engine was not shown stopped: hold the batch's destination pages
 * (locked, with their reference) and its DMA mapping until it is, and
 * clear dst[] so that the migration keeps the sources.  To device memory
 * the mapping is of the sources, which the migration then gives back to
 * the process: a reference keeps each from being freed (munmap) while
 * still mapped for the engine.
 */
static void svmgpu_blit_hold(struct svmgpu_blit *blit, const unsigned long *src,
			     unsigned long *dst, unsigned long npages, bool to_dev)
{
	struct svmgpu_blit_held *h;
	unsigned long i, n = 0;

	/* two arrays, each within the order-1 limit of __GFP_NOFAIL */
	h = kmalloc(struct_size(h, pages, npages), GFP_KERNEL | __GFP_NOFAIL);
	for (i = 0; i < npages; i++) {
		struct page *page = migrate_pfn_to_page(dst[i]);

		if (!(src[i] & MIGRATE_PFN_MIGRATE) || !page)
			continue;
		h->pages[n++] = page;
		dst[i] = 0;
	}
	h->n = n;
	h->nsrc = 0;
	h->src = to_dev ? kmalloc_array(npages, sizeof(*h->src), GFP_KERNEL | __GFP_NOFAIL) :
			  NULL;
	for (i = 0; to_dev && i < npages; i++) {
		struct page *page = migrate_pfn_to_page(src[i]);

		if (!(src[i] & MIGRATE_PFN_MIGRATE) || !page)
			continue;
		get_page(page);
		h->src[h->nsrc++] = page;
	}
	h->sgt = blit->sgt;
	h->dir = to_dev ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
	blit->sgt.orig_nents = 0;
	list_add_tail(&h->link, &blit->held);
	atomic64_add(n, &blit->held_pages);
	atomic64_inc(&blit->abandoned);
	drm_err(&blit->sdev->drm, "copy queue %u: batch abandoned, %lu pages held until the engine is shown stopped\n",
		blit->hwq, n);
}

/* Give back the held pages and their DMA mapping.  Under blit->lock, or at teardown. */
static void svmgpu_blit_free_held(struct svmgpu_blit *blit)
{
	struct device *dev = &blit->sdev->pdev->dev;
	struct svmgpu_blit_held *h, *tmp;
	unsigned long i;

	list_for_each_entry_safe(h, tmp, &blit->held, link) {
		if (h->sgt.orig_nents) {
			dma_unmap_sgtable(dev, &h->sgt, h->dir, 0);
			sg_free_table(&h->sgt);
		}
		for (i = 0; i < h->n; i++) {
			unlock_page(h->pages[i]);
			put_page(h->pages[i]);
		}
		for (i = 0; i < h->nsrc; i++)
			put_page(h->src[i]);
		kfree(h->src);
		atomic64_sub(h->n, &blit->held_pages);
		list_del(&h->link);
		kfree(h);
	}
}

/*
 * Give back the held pages if the engine is shown stopped: are some still
 * held?  Under blit->lock.
 */
static bool svmgpu_blit_held_still(struct svmgpu_blit *blit)
{
	lockdep_assert_held(&blit->lock);
	if (!list_empty(&blit->held) && svmgpu_blit_stopped(blit) > 0)
		svmgpu_blit_free_held(blit);
	return !list_empty(&blit->held);
}

/**
 * svmgpu_blit_release() - give back every held page (teardown)
 * @blit: the copy queue or NULL; the device quiesced or fenced (removal)
 *
 * Before the device memory's pages are waited for (memunmap_pages()).
 */
void svmgpu_blit_release(struct svmgpu_blit *blit)
{
	if (!blit)
		return;
	mutex_lock(&blit->lock);
	svmgpu_blit_free_held(blit);
	mutex_unlock(&blit->lock);
}

/* The current back-off in ms (0: the engine is on). */
static unsigned int svmgpu_blit_backoff_ms(struct svmgpu_blit *blit)
{
	u64 ms = max(READ_ONCE(copy_engine_backoff_ms), 10u);

	if (!READ_ONCE(blit->off))
		return 0;
	return min_t(u64, ms << min(READ_ONCE(blit->off_shift), 20u), SVMGPU_BLIT_BACKOFF_MAX_MS);
}

/* Whether the engine is backed off now.  Under blit->lock. */
static bool svmgpu_blit_backed_off(struct svmgpu_blit *blit, u64 resets)
{
	lockdep_assert_held(&blit->lock);
	if (blit->off && blit->timeouts_gen != resets) {
		/* A device reset since: the engine is tried again at once. */
		WRITE_ONCE(blit->off, false);
		blit->timeouts_in_row = 0;
		blit->starved_in_row = 0;
	}
	return blit->off &&
	       time_before(jiffies, blit->off_since +
			   msecs_to_jiffies(svmgpu_blit_backoff_ms(blit)));
}

/*
 * Whether a user queue of a higher Q_PRIORITY than @prio keeps the copy
 * queue's engine busy (hw-spec 16.3: strict priority per engine): a batch
 * that timed out then was starved, the engine is not at fault.  As
 * svmgpu_watchdog_starved(): enabled, and neither idle nor in a WAIT,
 * stalled, halted or preempted.
 */
static bool svmgpu_blit_outranked(struct svmgpu_blit *blit, u32 prio)
{
	const u32 idle = SVMGPU_Q_STATUS_IDLE | SVMGPU_Q_STATUS_WAITING |
			 SVMGPU_Q_STATUS_FAULT_STALL | SVMGPU_Q_STATUS_RING_FULL_STALL |
			 SVMGPU_Q_STATUS_ERROR | SVMGPU_Q_STATUS_PREEMPTED;
	struct svmgpu_device *sdev = blit->sdev;
	u32 engines = max(sdev->num_engines, 1U), j, status;
	bool busy = false;

	/* Without the scheduler user queues run at Q_PRIORITY 0: never above. */
	if (!sdev->sched.enabled)
		return false;
	if (!svmgpu_hw_enter(sdev))
		return false;
	for (j = blit->hwq % engines; j < sdev->num_queues && !busy; j += engines) {
		struct svmgpu_queue *o = svmgpu_hwq_get(sdev, j);

		if (!o)
			continue;
		if (o->prio > prio && READ_ONCE(o->hw_live)) {
			status = svmgpu_read32(sdev, SVMGPU_REG_Q(j, SVMGPU_Q_STATUS));
			busy = status != U32_MAX && (status & SVMGPU_Q_STATUS_ENABLED) &&
			       !(status & idle);
		}
		svmgpu_queue_put(o);
	}
	svmgpu_hw_exit(sdev);
	return busy;
}

/*
 * A batch timed out while outranked: not the engine's fault, so no warning
 * and no doubling, but SVMGPU_BLIT_MAX_TIMEOUTS in a row (or a starved
 * re-probe) back off for copy_engine_backoff_ms: a busy higher-priority
 * queue moves migration to the CPU for a while, it never makes every batch
 * wait its whole deadline under blit->lock.  Under blit->lock.
 */
static void svmgpu_blit_starved(struct svmgpu_blit *blit)
{
	lockdep_assert_held(&blit->lock);
	atomic64_inc(&blit->starved);
	if (blit->timeouts_gen != blit->gen) {
		WRITE_ONCE(blit->timeouts_in_row, 0);
		blit->starved_in_row = 0;
		WRITE_ONCE(blit->off, false);
	}
	WRITE_ONCE(blit->timeouts_gen, blit->gen);
	if (!blit->off) {
		if (++blit->starved_in_row < SVMGPU_BLIT_MAX_TIMEOUTS)
			return;
		WRITE_ONCE(blit->off_shift, 0);
		WRITE_ONCE(blit->off, true);
	}
	blit->starved_in_row = 0;
	blit->off_since = jiffies;
}

/* A batch timed out (not starved): count it, back off. Under blit->lock. */
static void svmgpu_blit_timed_out(struct svmgpu_blit *blit)
{
	lockdep_assert_held(&blit->lock);
	atomic64_inc(&blit->timeouts);
	if (blit->timeouts_gen != blit->gen) {
		WRITE_ONCE(blit->timeouts_in_row, 0);
		blit->starved_in_row = 0;
	}
	WRITE_ONCE(blit->timeouts_in_row, blit->timeouts_in_row + 1);
	WRITE_ONCE(blit->timeouts_gen, blit->gen);
	if (blit->off) {
		/* A failed re-probe: twice as long. */
		WRITE_ONCE(blit->off_shift, blit->off_shift + 1);
	} else if (blit->timeouts_in_row >= SVMGPU_BLIT_MAX_TIMEOUTS) {
		WRITE_ONCE(blit->off_shift, 0);
		WRITE_ONCE(blit->off, true);
	} else {
		return;
	}
	blit->off_since = jiffies;
	drm_warn(&blit->sdev->drm, "copy queue %u: %u batches timed out, the CPU copies for %u ms\n",
		 blit->hwq, blit->timeouts_in_row, svmgpu_blit_backoff_ms(blit));
}

/**
 * svmgpu_blit_copy() - copy a migration batch with the device's COPY engine
 * @blit: the copy queue (NULL: none)
 * @src: migrate_pfn entries of the sources (MIGRATE_PFN_MIGRATE: moves)
 * @dst: migrate_pfn entries of the destinations (0: does not move)
 * @npages: entries, at most SVMGPU_BLIT_PAGES
 * @to_dev: system pages to device pages (a source without a page is
 *	zero-filled), else device pages to system pages
 * @urgent: a fault waits for the batch: the highest Q_PRIORITY, else
 *	NORMAL's
 *
 * Every entry that moves has one page of this device's memory on its
 * device side.  Sleeps until done.
 *
 * Return: 0 when the engine copied every entry that moves (or none
 * moves); -EBUSY when the engine was not shown stopped after a failure:
 * the batch is abandoned, every moving entry's dst[] is cleared (its page
 * held, svmgpu_blit_hold()) and the caller must not copy; otherwise a
 * negative errno, and the caller must copy the whole batch itself
 * (-EOPNOTSUPP: no engine, copy_engine=0, fewer entries than
 * copy_engine_min_pages, backed off after SVMGPU_BLIT_MAX_TIMEOUTS
 * timeouts in a row, or pages still held; -ENOMEM: DMA mapping; -EIO: a
 * command failed or a fatal device error; -ENODEV: the device was removed,
 * fenced or reset; -ETIMEDOUT; -EINVAL: not a device page).
 */
int svmgpu_blit_copy(struct svmgpu_blit *blit, const unsigned long *src,
		     unsigned long *dst, unsigned long npages, bool to_dev, bool urgent)
{
	u32 prio = urgent ? SVMGPU_Q_PRIORITY_MAX : SVMGPU_BLIT_PRIO_NORMAL;
	struct svmgpu_device *sdev;
	u64 first, gen, bytes = 0, t0;
	bool counted = false;	/* a failure is in @errors, @timeouts, @starved or @resets */
	unsigned long n;
	bool held;
	int ret;

	if (!blit)
		return -EOPNOTSUPP;
	if (WARN_ON_ONCE(npages > SVMGPU_BLIT_PAGES))
		return -EINVAL;
	n = svmgpu_blit_moving(src, dst, npages);
	if (!n)
		return 0;
	/*
	 * An abandoned batch's pages: given back once the engine is shown
	 * stopped, also by a copy the engine will not do (copy_engine=0,
	 * a single page), or they stay held until unbind.  Only then is
	 * blit->lock taken for such a copy: it is held through a batch.
	 */
	if (!list_empty_careful(&blit->held)) {
		mutex_lock(&blit->lock);
		held = svmgpu_blit_held_still(blit);
		mutex_unlock(&blit->lock);
		if (held)
			return -EOPNOTSUPP;
	}
	if (!READ_ONCE(copy_engine) || n < READ_ONCE(copy_engine_min_pages))
		return -EOPNOTSUPP;
	sdev = blit->sdev;
	mutex_lock(&blit->lock);
	/* Held again meanwhile (another copy abandoned its batch)? */
	if (svmgpu_blit_held_still(blit)) {
		mutex_unlock(&blit->lock);
		return -EOPNOTSUPP;
	}
	gen = atomic64_read(&sdev->stats.resets);
	if (svmgpu_blit_backed_off(blit, gen)) {
		mutex_unlock(&blit->lock);
		return -EOPNOTSUPP;
	}
	/* Removed, in a PCI reset or fenced: no set-up for nothing. */
	if (!READ_ONCE(sdev->hw_ready) || READ_ONCE(sdev->fenced)) {
		ret = -ENODEV;
		goto out;
	}
	ret = svmgpu_blit_dma_map(blit, src, dst, npages, to_dev);
	if (ret)
		goto out;
	ret = svmgpu_blit_map(blit, src, dst, npages, to_dev);
	if (ret)
		goto out;
	/* The window's previous translations go (no DMA in flight for it). */
	ret = svmgpu_tlb_invalidate(sdev, NULL, SVMGPU_BLIT_SRC, SVMGPU_BLIT_SIZE, 0);
	if (ret)
		goto out;
	if (!svmgpu_hw_enter(sdev)) {
		ret = -ENODEV;
		goto out;
	}
	gen = atomic64_read(&sdev->stats.resets);
	if (READ_ONCE(sdev->fenced)) {
		ret = -ENODEV;
	} else if (!blit->live || blit->gen != gen) {
		ret = svmgpu_blit_start(blit, gen, prio);
		counted = ret != 0;
		if (ret)
			atomic64_inc(&blit->errors);
	} else {
		svmgpu_blit_set_prio(blit, prio);
	}
	if (!ret) {
		first = blit->seq + 1;
		bytes = svmgpu_blit_queue(blit, npages);
	}
	svmgpu_hw_exit(sdev);
	if (ret)
		goto out;
	counted = true;
	t0 = ktime_get_ns();
	ret = svmgpu_blit_wait(blit, first, blit->seq, bytes);
	if (ret) {
		if (ret == -ETIMEDOUT) {
			/* Before the stop: it would show the user queue's engine free. */
			if (svmgpu_blit_outranked(blit, prio))
				svmgpu_blit_starved(blit);
			else
				svmgpu_blit_timed_out(blit);
		} else if (ret == -EIO) {
			atomic64_inc(&blit->errors);
		} else {
			atomic64_inc(&blit->resets);
		}
		if (!svmgpu_blit_stop(blit)) {
			svmgpu_blit_hold(blit, src, dst, npages, to_dev);
			ret = -EBUSY;
		}
	} else {
		u64 wait_us = div_u64(ktime_get_ns() - t0, NSEC_PER_USEC);

		WRITE_ONCE(blit->timeouts_in_row, 0);
		blit->starved_in_row = 0;
		WRITE_ONCE(blit->off, false);
		if (wait_us > blit->wait_max_us)
			WRITE_ONCE(blit->wait_max_us, wait_us);
	}
out:
	svmgpu_blit_unmap(blit, to_dev);
	if (ret) {
		atomic64_inc(&blit->fallbacks);
		if (!counted)
			atomic64_inc(&blit->setup_errors);
	} else if (bytes) {
		atomic64_inc(&blit->batches);
		atomic64_add(bytes, &blit->bytes);
	}
	mutex_unlock(&blit->lock);
	return ret;
}

/**
 * svmgpu_blit_show() - the copy queue's lines of debugfs svmgpu_devmem
 * @blit: the copy queue or NULL
 * @m: the seq_file
 */
void svmgpu_blit_show(struct svmgpu_blit *blit, struct seq_file *m)
{
	seq_printf(m, "copy_engine: %d\n", blit && READ_ONCE(copy_engine));
	if (!blit)
		return;
	seq_printf(m, "copy_queue: %u\n", blit->hwq);
	seq_printf(m, "copy_queue_priority: %u\n", READ_ONCE(blit->prio));
	seq_printf(m, "engine_batches: %lld\n", atomic64_read(&blit->batches));
	seq_printf(m, "engine_bytes: %lld\n", atomic64_read(&blit->bytes));
	seq_printf(m, "engine_fallbacks: %lld\n", atomic64_read(&blit->fallbacks));
	seq_printf(m, "engine_timeouts: %lld\n", atomic64_read(&blit->timeouts));
	seq_printf(m, "engine_errors: %lld\n", atomic64_read(&blit->errors));
	seq_printf(m, "engine_resets: %lld\n", atomic64_read(&blit->resets));
	seq_printf(m, "engine_abandoned: %lld\n", atomic64_read(&blit->abandoned));
	seq_printf(m, "engine_held_pages: %lld\n", atomic64_read(&blit->held_pages));
	seq_printf(m, "engine_starved: %lld\n", atomic64_read(&blit->starved));
	seq_printf(m, "engine_setup_errors: %lld\n", atomic64_read(&blit->setup_errors));
	seq_printf(m, "engine_wait_max_us: %llu\n", READ_ONCE(blit->wait_max_us));
	/* The back-off, 0 when on (a device reset ends it). */
	seq_printf(m, "engine_backoff_ms: %u\n",
		   READ_ONCE(blit->timeouts_gen) == atomic64_read(&blit->sdev->stats.resets) ?
		   svmgpu_blit_backoff_ms(blit) : 0);
}
