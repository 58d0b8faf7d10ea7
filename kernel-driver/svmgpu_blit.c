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
 *     ever binds it, and it runs at the highest Q_PRIORITY;
 *   - one COPY per run of consecutive entries that move, one FILL of zeros
 *     per run of holes that move to the device (device memory is not
 *     cleared); the window's TLB entries are invalidated before the
 *     commands are queued.
 *
 * The caller sleeps until the queue's Q_COMPL_SEQ reaches the batch's last
 * command (polled: the queue's interrupt vector is not requested), at most
 * copy_timeout_ms.  A batch has a fixed cost (mapping, TLB invalidation,
 * submission, the poll: about 0.1 ms under TCG, more behind a vIOMMU),
 * more than the CPU needs for a few pages: batches of fewer than
 * copy_engine_min_pages pages (a CPU fault's single page) are left to the
 * CPU.
 *
 * Never losing data: on any failure -- copy_engine=0 (module parameter,
 * for tests and comparison), a device without a queue to spare, a DMA
 * mapping failure, a device removed, in a PCI reset, fenced or reset while
 * the batch ran, a failed command, a timeout -- svmgpu_blit_copy() returns
 * a negative errno once the engine can no longer write the batch's pages
 * (the queue disabled and idle; or the device reset, which lets a step in
 * progress write nothing, hw-spec 12), and the caller copies the whole batch
 * with the CPU.  Neither copy writes a source page, so a partial engine
 * copy followed by the CPU copy leaves exactly the source's data.
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
 *              @dma, @tail, @seq, @gen, @live: one batch at a time
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
		 "a migration batch the engine did not copy in this time is copied by the CPU (default 2000)");

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
	SVMGPU_BLIT_TABLES,
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
 * @batches: batches the engine copied
 * @bytes: bytes it copied or zero-filled
 * @fallbacks: batches it did not copy (the CPU did)
 * @timeouts: of those, timed out
 * @errors: of those, a failed command or enable
 * @resets: of those, the device was reset, removed or fenced meanwhile
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

	atomic64_t batches;
	atomic64_t bytes;
	atomic64_t fallbacks;
	atomic64_t timeouts;
	atomic64_t errors;
	atomic64_t resets;
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
	blit = kzalloc(sizeof(*blit), GFP_KERNEL);
	if (!blit)
		return NULL;
	blit->sdev = sdev;
	mutex_init(&blit->lock);
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
 * Enable context 0 and the queue (first batch, after a reset or a failed
 * batch).  Caller is inside svmgpu_hw_enter().
 */
static int svmgpu_blit_start(struct svmgpu_blit *blit, u64 gen)
{
	struct svmgpu_device *sdev = blit->sdev;
	struct svmgpu_ctx_entry *e = &sdev->ctx_table[0];
	u32 q = blit->hwq, status;

	e->pt_root = svmgpu_blit_table_dma(blit, SVMGPU_BLIT_L4);
	e->rsvd0 = 0;
	e->rsvd1[0] = 0;
	e->rsvd1[1] = 0;
	wmb();	/* entry visible before WRITE_ONCE of flags */
	WRITE_ONCE(e->flags, SVMGPU_CTX_VALID);
	wmb();	/* entry complete before the device reads it */
	svmgpu_write32(sdev, SVMGPU_REG_CTX_ENABLE, 0);
	if (svmgpu_read32(sdev, SVMGPU_REG_ERROR_STATUS) & SVMGPU_ERROR_CTX) {
		svmgpu_write32(sdev, SVMGPU_REG_ERROR_STATUS, SVMGPU_ERROR_CTX);
		drm_err_ratelimited(&sdev->drm, "copy queue: device rejected context 0\n");
		return -EIO;
	}
	svmgpu_write32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_CONTROL), 0);
	svmgpu_write64(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_BASE), blit->ring_dma);
	svmgpu_write32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_SIZE), SVMGPU_BLIT_RING);
	svmgpu_write32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_CTX), 0);
	svmgpu_write64(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_COMPL_ADDR), 0);
	if (sdev->caps & SVMGPU_CAPS_PREEMPT) {
		svmgpu_write64(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_SAVE_ADDR), 0);
		svmgpu_write32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_PRIORITY),
			       SVMGPU_Q_PRIORITY_MAX);
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
	blit->tail = 0;
	blit->gen = gen;
	blit->live = true;
	return 0;
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

/* The reset, removal or fence that ends a batch: the engine is stopped. */
static bool svmgpu_blit_lost(struct svmgpu_blit *blit)
{
	struct svmgpu_device *sdev = blit->sdev;

	return READ_ONCE(sdev->fenced) || atomic64_read(&sdev->stats.resets) != blit->gen;
}

/*
 * Wait until commands [first, last] completed.
 *
 * Return: 0, -EIO (a command failed), -ENODEV (the device was reset,
 * removed or fenced meanwhile) or -ETIMEDOUT.
 */
static int svmgpu_blit_wait(struct svmgpu_blit *blit, u64 first, u64 last)
{
	struct svmgpu_device *sdev = blit->sdev;
	unsigned long deadline = jiffies + msecs_to_jiffies(READ_ONCE(copy_timeout_ms));
	u32 q = blit->hwq;
	int ret;

	for (;;) {
		u32 done, status, err;

		usleep_range(20, 50);
		if (!svmgpu_hw_enter(sdev))
			return -ENODEV;
		if (svmgpu_blit_lost(blit)) {
			svmgpu_hw_exit(sdev);
			return -ENODEV;
		}
		/*
		 * COMPL_SEQ before STATUS: a failed command sets both, so a
		 * last command seen complete without ERROR succeeded.
		 */
		done = svmgpu_read32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_COMPL_SEQ));
		status = svmgpu_read32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_STATUS));
		err = svmgpu_read32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_ERROR_SEQ));
		ret = 1;
		if ((status & SVMGPU_Q_STATUS_ERROR) ||
		    (u32)(err - first) <= (u32)(last - first)) {
			status = svmgpu_read32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_ERROR_CODE));
			drm_err_ratelimited(&sdev->drm, "copy queue %u: command %u failed: error %u\n",
					    q, err, status);
			ret = -EIO;
		} else if (done == (u32)last) {
			ret = 0;
		}
		svmgpu_hw_exit(sdev);
		if (ret <= 0)
			return ret;
		if (time_after(jiffies, deadline))
			return -ETIMEDOUT;
	}
}

/*
 * After a failed batch: make sure the engine writes none of its pages any
 * more before the caller copies them with the CPU and they are unmapped.
 */
static void svmgpu_blit_stop(struct svmgpu_blit *blit)
{
	struct svmgpu_device *sdev = blit->sdev;
	unsigned long wait = msecs_to_jiffies(max(READ_ONCE(copy_timeout_ms), 1000u));
	unsigned long deadline = jiffies + wait;
	u32 q = blit->hwq, status = 0;
	bool idle = true;

	blit->live = false;
	/* Removed or in a PCI reset: quiesced or fenced by then. */
	if (!svmgpu_hw_enter(sdev))
		return;
	/* Reset meanwhile: a step begun before writes nothing (hw-spec 12). */
	if (!svmgpu_blit_lost(blit)) {
		svmgpu_write32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_CONTROL), 0);
		for (;;) {
			status = svmgpu_read32(sdev, SVMGPU_REG_Q(q, SVMGPU_Q_STATUS));
			if ((status & SVMGPU_Q_STATUS_IDLE) || status == U32_MAX ||
			    svmgpu_blit_lost(blit))
				break;
			if (time_after(jiffies, deadline)) {
				idle = false;
				break;
			}
			usleep_range(100, 200);
		}
	}
	svmgpu_hw_exit(sdev);
	if (idle)
		return;
	/*
	 * The engine may still be in a step of this batch: the CPU copy and
	 * the freeing of the batch's pages must not happen under it.  As for a
	 * user queue that does not go idle, reset the device (a step in
	 * progress then writes nothing) and wait for that reset, bounded.
	 */
	drm_err(&sdev->drm, "copy queue %u not idle after disable (status 0x%x): resetting the device\n",
		q, status);
	if (!READ_ONCE(sdev->resetting))
		queue_work(svmgpu_wq, &sdev->hang_work);
	deadline = jiffies + 5 * wait;
	while (!svmgpu_blit_lost(blit) && time_before(jiffies, deadline))
		msleep(20);
	if (!svmgpu_blit_lost(blit))
		drm_err(&sdev->drm, "copy queue %u: no device reset came; its batch's pages are released anyway\n",
			q);
}

/**
 * svmgpu_blit_copy() - copy a migration batch with the device's COPY engine
 * @blit: the copy queue (NULL: none)
 * @src: migrate_pfn entries of the sources (MIGRATE_PFN_MIGRATE: moves)
 * @dst: migrate_pfn entries of the destinations (0: does not move)
 * @npages: entries, at most SVMGPU_BLIT_PAGES
 * @to_dev: system pages to device pages (a source without a page is
 *	zero-filled), else device pages to system pages
 *
 * Every entry that moves has one page of this device's memory on its
 * device side.  Sleeps until done.
 *
 * Return: 0 when the engine copied every entry that moves (or none
 * moves); otherwise a negative errno, and the caller must copy the whole
 * batch itself (-EOPNOTSUPP: no engine, copy_engine=0, or fewer entries
 * than copy_engine_min_pages; -ENOMEM: DMA mapping; -EIO: a
 * command failed; -ENODEV: the device was removed, fenced or reset;
 * -ETIMEDOUT; -EINVAL: not a device page).
 */
int svmgpu_blit_copy(struct svmgpu_blit *blit, const unsigned long *src,
		     const unsigned long *dst, unsigned long npages, bool to_dev)
{
	struct svmgpu_device *sdev;
	u64 first, bytes = 0;
	unsigned long n;
	int ret;

	if (!blit || !READ_ONCE(copy_engine))
		return -EOPNOTSUPP;
	if (WARN_ON_ONCE(npages > SVMGPU_BLIT_PAGES))
		return -EINVAL;
	n = svmgpu_blit_moving(src, dst, npages);
	if (!n)
		return 0;
	if (n < READ_ONCE(copy_engine_min_pages))
		return -EOPNOTSUPP;
	sdev = blit->sdev;
	mutex_lock(&blit->lock);
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
	if (READ_ONCE(sdev->fenced)) {
		ret = -ENODEV;
	} else if (!blit->live || blit->gen != atomic64_read(&sdev->stats.resets)) {
		ret = svmgpu_blit_start(blit, atomic64_read(&sdev->stats.resets));
		if (ret)
			atomic64_inc(&blit->errors);
	}
	if (!ret) {
		first = blit->seq + 1;
		bytes = svmgpu_blit_queue(blit, npages);
	}
	svmgpu_hw_exit(sdev);
	if (ret)
		goto out;
	ret = svmgpu_blit_wait(blit, first, blit->seq);
	if (ret) {
		if (ret == -ETIMEDOUT)
			atomic64_inc(&blit->timeouts);
		else if (ret == -EIO)
			atomic64_inc(&blit->errors);
		else
			atomic64_inc(&blit->resets);
		svmgpu_blit_stop(blit);
	}
out:
	svmgpu_blit_unmap(blit, to_dev);
	if (ret) {
		atomic64_inc(&blit->fallbacks);
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
	seq_printf(m, "engine_batches: %lld\n", atomic64_read(&blit->batches));
	seq_printf(m, "engine_bytes: %lld\n", atomic64_read(&blit->bytes));
	seq_printf(m, "engine_fallbacks: %lld\n", atomic64_read(&blit->fallbacks));
	seq_printf(m, "engine_timeouts: %lld\n", atomic64_read(&blit->timeouts));
	seq_printf(m, "engine_errors: %lld\n", atomic64_read(&blit->errors));
	seq_printf(m, "engine_resets: %lld\n", atomic64_read(&blit->resets));
}
