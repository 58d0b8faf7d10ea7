// SPDX-License-Identifier: GPL-2.0
/*
 * svmgpu contexts and queues: handles, hardware queue binding, statistics.
 *
 * A context is bound to the mm of the process that created it and holds
 * one reference on that mm's svm.  A queue belongs to one context (which
 * cannot be destroyed while it has queues) and owns its ring; it borrows a
 * hardware queue while it has work: SUBMIT binds an idle queue to a free
 * hardware queue (waiting for one if needed) and the completion that leaves
 * it idle gives the hardware queue back, so any number of queues share the
 * NUM_QUEUES hardware queues.  Queues are stopped for good when their queue is
 * destroyed, when the svm is killed (mm exit, device removal) or when the
 * device is reset; a stopped queue keeps its handle until destroyed, fails
 * SUBMIT and WAIT with -ECANCELED, and has released its hardware queue and
 * its DMA memory (kept from the allocator until a device reset if its
 * hardware queue did not go idle: the scheduler's quarantine).  A queue
 * that made no progress for hang_timeout_ms is reset by the watchdog
 * instead (svmgpu_queue_hang_reset()): its pending commands fail with
 * DRM_SVMGPU_ERR_HANG, it gives its hardware queue back and stays usable.
 *
 * Lock order: sf->lock, svm->lock, q->submit_lock, sdev->hw_sem (read),
 * then q->lock or sdev->hwq_lock (never one inside the other); the
 * scheduler's sched.lock (save areas, the quarantine of a stopped queue's
 * ring and record) is taken under q->submit_lock without hw_sem or q->lock
 * (sdev->hwq_lock nests inside it).  The watchdog's hang reset takes
 * q->submit_lock with nothing held.  q->hwq changes under q->submit_lock
 * and sdev->hwq_lock.  A queue's stop counts as a lock between svm->lock
 * and q->submit_lock (svmgpu_queue_stop_map, for lockdep): a second stopper
 * waits for the first, so it must hold nothing the stop takes.
 */
#include <linux/capability.h>
#include <linux/dma-mapping.h>
#include <linux/delay.h>
#include <linux/iopoll.h>
#include <linux/memcontrol.h>
#include <linux/sched/mm.h>
#include <linux/dma-map-ops.h>
#include <linux/slab.h>
#include <linux/swiotlb.h>
#include <drm/drm_drv.h>
#include <drm/drm_print.h>
#include <uapi/drm/svmgpu_drm.h>

#include "svmgpu_drv.h"
#include "svmgpu_trace.h"

#define SVMGPU_QUEUE_STOP_TIMEOUT_US	(2 * USEC_PER_SEC)

/*
 * The mirror maps process pages with DMA_ATTR_SKIP_CPU_SYNC and no syncs: a
 * bounce buffer would never be copied back.  Under swiotlb=force, DMA
 * mappings made by the DMA-direct path (no IOMMU translation) all bounce.
 * Nor may the CPU's caches need maintenance for the device's accesses (a
 * platform whose DMA is not coherent: never x86): the CPU would read stale
 * lines, or write them back over what the device wrote.
 */
static bool svmgpu_dma_bounces(struct svmgpu_device *sdev)
{
	struct device *dev = &sdev->pdev->dev;

	return (is_swiotlb_force_bounce(dev) && !get_dma_ops(dev)) || !dev_is_dma_coherent(dev);
}

static struct svmgpu_file *to_sf(struct drm_file *file)
{
	return file->driver_priv;
}

/* Look up a context of the caller.  Caller holds sf->lock. */
static struct svmgpu_ctx *svmgpu_ctx_lookup(struct svmgpu_file *sf, u32 handle,
					    int *err)
{
	struct svmgpu_ctx *ctx = handle ? xa_load(&sf->ctxs, handle) : NULL;

	lockdep_assert_held(&sf->lock);
	if (!ctx) {
		*err = -ENOENT;
		return NULL;
	}
	if (ctx->mm != current->mm) {
		*err = -EACCES;
		return NULL;
	}
	return ctx;
}

int svmgpu_ioctl_ctx_create(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct svmgpu_device *sdev = to_svmgpu(drm);
	struct drm_svmgpu_ctx_create *args = data;
	struct svmgpu_file *sf = to_sf(file);
	struct svmgpu_svm *svm;
	struct svmgpu_ctx *ctx;
	u32 handle;
	int ret, i, idx;

	if (args->flags || args->pad || args->pad2 || args->handle) {
		drm_dbg(drm, "ctx_create: non-zero flags, pad or handle\n");
		return -EINVAL;
	}
	if (svmgpu_dma_bounces(sdev)) {
		drm_err_once(drm, "DMA needs bounce buffers (swiotlb=force) or cache maintenance (not coherent): device writes would not reach process memory as the CPU sees it; refusing to mirror\n");
		return -EOPNOTSUPP;
	}
	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL_ACCOUNT);
	if (!ctx)
		return -ENOMEM;
	INIT_LIST_HEAD(&ctx->queues);
	spin_lock_init(&ctx->base_lock);
	for (i = 0; i < SVMGPU_CS_NUM; i++)
		atomic64_set(&ctx->cnt[i], 0);

	/* Device state (context id, table entry, DMA memory) from here. */
	if (!svmgpu_dev_enter(drm, &idx)) {
		kfree(ctx);
		return -ENODEV;
	}
	svm = svmgpu_svm_get(sdev, &idx);
	if (IS_ERR(svm)) {
		if (idx >= 0)
			svmgpu_dev_exit(drm, idx);
		kfree(ctx);
		return PTR_ERR(svm);
	}
	ctx->svm = svm;
	ctx->mm = current->mm;
	svmgpu_ctx_clear_base(ctx);

	mutex_lock(&svm->lock);
	list_add_tail(&ctx->link, &svm->ctxs);
	mutex_unlock(&svm->lock);

	mutex_lock(&sf->lock);
	/* Cyclic, as queue handles: a stale handle names no new context. */
	ret = xa_alloc_cyclic(&sf->ctxs, &handle, ctx, xa_limit_31b, &sf->next_ctx,
			      GFP_KERNEL);
	if (ret > 0)		/* wrapped: not an error */
		ret = 0;
	if (!ret)
		ctx->handle = handle;
	mutex_unlock(&sf->lock);
	if (ret)
		svmgpu_ctx_free(ctx, &idx);
	else
		args->handle = handle;
	if (idx >= 0)
		svmgpu_dev_exit(drm, idx);
	return ret;
}

/**
 * svmgpu_ctx_free() - drop a context that has no queues and no handle
 * @ctx: the context
 * @idx: the caller's svmgpu_dev_enter() section, or NULL outside any: may
 *	be left and begun again (-1 once unplugged, svmgpu_svm_put_ctx())
 */
void svmgpu_ctx_free(struct svmgpu_ctx *ctx, int *idx)
{
	struct svmgpu_svm *svm = ctx->svm;

	mutex_lock(&svm->lock);
	list_del(&ctx->link);
	mutex_unlock(&svm->lock);
	svmgpu_svm_put_ctx(svm, idx);
	kfree(ctx);
}

int svmgpu_ioctl_ctx_destroy(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct drm_svmgpu_ctx_destroy *args = data;
	struct svmgpu_file *sf = to_sf(file);
	struct svmgpu_ctx *ctx;
	int ret = 0, idx;

	if (args->flags || args->pad || args->pad2) {
		drm_dbg(drm, "ctx_destroy: non-zero flags or pad\n");
		return -EINVAL;
	}
	if (!svmgpu_dev_enter(drm, &idx))
		return -ENODEV;
	mutex_lock(&sf->lock);
	ctx = svmgpu_ctx_lookup(sf, args->handle, &ret);
	if (ctx && !list_empty_careful(&ctx->queues))
		ret = -EBUSY;
	else if (ctx)
		xa_erase(&sf->ctxs, args->handle);
	mutex_unlock(&sf->lock);
	if (ret)
		drm_dbg(drm, "ctx_destroy: handle %u: %d\n", args->handle, ret);
	else
		svmgpu_ctx_free(ctx, &idx);
	/* the context is gone either way: 0 even if unplugged meanwhile */
	if (idx >= 0)
		svmgpu_dev_exit(drm, idx);
	return ret;
}

static void svmgpu_queue_release(struct kref *kref)
{
	struct svmgpu_queue *q = container_of(kref, struct svmgpu_queue, refs);

	WARN_ON(!list_empty(&q->events));
	/* NULL once svmgpu_queue_free_mem() gave the memory up. */
	kfree(q->dma_quar);
	mutex_destroy(&q->submit_lock);
	mem_cgroup_put(q->memcg);
	kfree(q);
}

/**
 * svmgpu_queue_put() - drop a queue reference
 * @q: the queue
 */
void svmgpu_queue_put(struct svmgpu_queue *q)
{
	kref_put(&q->refs, svmgpu_queue_release);
}

/**
 * svmgpu_hwq_get() - the queue bound to a hardware queue
 * @sdev: the device
 * @hwq: hardware queue index
 *
 * Return: the queue with a reference, or NULL.
 */
struct svmgpu_queue *svmgpu_hwq_get(struct svmgpu_device *sdev, u32 hwq)
{
	struct svmgpu_queue *q;

	if (hwq >= sdev->num_queues)
		return NULL;
	spin_lock(&sdev->hwq_lock);
	q = sdev->hwq[hwq];
	if (q)
		kref_get(&q->refs);
	spin_unlock(&sdev->hwq_lock);
	return q;
}

/**
 * svmgpu_ctx_account() - add to a counter of the context of a hardware queue
 * @sdev: the device
 * @hwq: hardware queue index from a fault record
 * @svm: if not NULL, count only if the queue's context uses this svm
 * @field: enum svmgpu_ctx_counter
 * @n: amount
 */
void svmgpu_ctx_account(struct svmgpu_device *sdev, u32 hwq, struct svmgpu_svm *svm,
			int field, u64 n)
{
	struct svmgpu_queue *q;

	if (hwq >= sdev->num_queues)
		return;
	spin_lock(&sdev->hwq_lock);
	q = sdev->hwq[hwq];
	if (q && (!svm || q->ctx->svm == svm))
		atomic64_add(n, &q->ctx->cnt[field]);
	spin_unlock(&sdev->hwq_lock);
}

/**
 * svmgpu_queue_hw_start() - program and enable the hardware queue of @q
 * @sdev: the device
 * @q: the queue, q->hwq claimed
 * @start: ring index to start at (Q_START, scheduler only; else 0)
 * @resume: continue from the state in q->save (RESUME)
 *
 * With the scheduler, the queue also gets its save area and priority and
 * the doorbell is rung up to q->tail.  Caller holds q->submit_lock and is
 * inside svmgpu_hw_enter().
 *
 * Return: 0 (also for a RESUME refused at once: the scheduler handles it as
 * one refused later), or -EIO if the enable failed.
 */
int svmgpu_queue_hw_start(struct svmgpu_device *sdev, struct svmgpu_queue *q, u32 start,
			  bool resume)
{
	u32 i = q->hwq, status, ctl = SVMGPU_Q_CONTROL_ENABLE;
	bool sched = sdev->sched.enabled, refused;

	svmgpu_write32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_CONTROL), 0);
	svmgpu_write64(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_BASE), q->ring_dma);
	svmgpu_write32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_SIZE), q->entries);
	svmgpu_write32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_CTX), q->ctx->svm->ctx_id);
	svmgpu_write64(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_COMPL_ADDR), q->compl_dma);
	if (sched) {
		u64 save = q->save ? q->save->dma : 0;

		/*
		 * Test hook: an area on no memory, so that the save fails on
		 * the bus, or the RESUME finds the area unreadable (§16.1).
		 */
		if (save && unlikely(atomic_dec_if_positive(&sdev->sched.inj_bad_save_area) >= 0))
			save = SVMGPU_INJ_BAD_SAVE_ADDR;
		svmgpu_write64(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_SAVE_ADDR), save);
		svmgpu_write32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_PRIORITY), q->prio);
		svmgpu_write32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_START), start);
		if (resume && q->save)
			ctl |= SVMGPU_Q_CONTROL_RESUME;
	}
	spin_lock(&q->lock);
	svmgpu_write32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_CONTROL), ctl);
	status = svmgpu_read32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_STATUS));
	/*
	 * A RESUME whose area the device refused before this read (halted in
	 * ERROR, ERR_SAVE_AREA) is bound and live as one refused later: the
	 * scheduler fails the saved command alone and starts the queue again
	 * behind it (svmgpu_sched_halted()).
	 */
	refused = (ctl & SVMGPU_Q_CONTROL_RESUME) && (status & SVMGPU_Q_STATUS_ERROR) &&
		  svmgpu_read32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_ERROR_CODE)) ==
		  SVMGPU_ERR_SAVE_AREA;
	q->hw_live = !(status & SVMGPU_Q_STATUS_ERROR) || refused;
	/*
	 * The hang clock starts now, not at the queue's last progress (also
	 * after a preemption: a queue waiting its turn is not hung).
	 */
	q->wd_seq = q->completed_seq;
	q->wd_stamp = jiffies;
	q->wd_pending = false;
	q->bind_gen++;
	q->preempting = false;
	q->slice_start = ktime_get_ns();
	spin_unlock(&q->lock);
	if (sched && !(status & SVMGPU_Q_STATUS_ERROR) && q->tail != start)
		svmgpu_write32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_TAIL), q->tail);
	svmgpu_watchdog_kick(sdev);
	if (refused) {
		svmgpu_sched_kick(sdev);
		return 0;
	}
	if (status & SVMGPU_Q_STATUS_ERROR) {
		drm_err(&sdev->drm, "queue %u: enable failed, error %u\n", i,
			svmgpu_read32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_ERROR_CODE)));
		svmgpu_write32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_CONTROL), 0);
		return -EIO;
	}
	return 0;
}

/*
 * Give the ring and the completion record up.  If a hardware queue of @q
 * did not go idle when disabled (@q->dma_busy), the engine may still read
 * the ring or write the record until a device reset has completed (hw-spec
 * 8, 12): they go to the scheduler's quarantine, which frees them then (at
 * once if one completed since).  Caller holds q->submit_lock, or @q was
 * never bound.
 */
static void svmgpu_queue_free_mem(struct svmgpu_device *sdev, struct svmgpu_queue *q)
{
	struct svmgpu_dma_quar *d = q->dma_quar;
	struct device *dev = &sdev->pdev->dev;
	struct svmgpu_completion *compl;
	struct svmgpu_cmd *ring;

	spin_lock(&q->lock);
	ring = q->ring;
	compl = q->compl;
	q->ring = NULL;
	q->compl = NULL;
	spin_unlock(&q->lock);
	q->dma_quar = NULL;
	if (d && q->dma_busy && (ring || compl)) {
		d->reset_gen = q->dma_busy_gen;
		d->ring = ring;
		d->ring_dma = q->ring_dma;
		d->ring_size = (size_t)q->entries * SVMGPU_CMD_SIZE;
		d->compl = compl;
		d->compl_dma = q->compl_dma;
		svmgpu_sched_quarantine_dma(sdev, d);
		return;
	}
	/* Never set without an entry: allocated with the queue. */
	WARN_ON(q->dma_busy && (ring || compl));
	kfree(d);
	if (ring)
		dma_free_coherent(dev, (size_t)q->entries * SVMGPU_CMD_SIZE,
				  ring, q->ring_dma);
	if (compl)
		dma_free_coherent(dev, sizeof(*compl), compl, q->compl_dma);
}

int svmgpu_ioctl_queue_create(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct svmgpu_device *sdev = to_svmgpu(drm);
	struct drm_svmgpu_queue_create *args = data;
	struct svmgpu_file *sf = to_sf(file);
	struct device *dev = &sdev->pdev->dev;
	u32 entries = args->ring_entries;
	struct svmgpu_queue *q;
	u32 prio;
	struct svmgpu_ctx *ctx;
	struct svmgpu_svm *svm;
	u32 handle;
	int ret = 0, idx;

	if (args->flags || args->handle || args->hw_queue) {
		drm_dbg(drm, "queue_create: non-zero flags or output\n");
		return -EINVAL;
	}
	/* uapi LOW, NORMAL, HIGH are Q_PRIORITY 0, 1, 2; DEFAULT is NORMAL. */
	if (args->priority > DRM_SVMGPU_PRIORITY_HIGH) {
		drm_dbg(drm, "queue_create: bad priority %u\n", args->priority);
		return -EINVAL;
	}
	prio = args->priority ? args->priority - 1 : 1;
	if (!entries)
		entries = SVMGPU_DEFAULT_RING_ENTRIES;
	if (entries < SVMGPU_QUEUE_MIN_ENTRIES || entries > SVMGPU_MAX_RING_ENTRIES ||
	    !is_power_of_2(entries)) {
		drm_dbg(drm, "queue_create: bad ring_entries %u\n", entries);
		return -EINVAL;
	}
	/*
	 * As drm_sched's users (amdgpu): above normal needs CAP_SYS_NICE;
	 * without the scheduler priorities are ignored, so nothing to guard.
	 */
	if (prio > 1 && sdev->sched.enabled && !capable(CAP_SYS_NICE)) {
		drm_dbg(drm, "queue_create: high priority without CAP_SYS_NICE\n");
		return -EACCES;
	}

	/* DMA memory of the device from here. */
	if (!svmgpu_dev_enter(drm, &idx))
		return -ENODEV;
	q = kzalloc(sizeof(*q), GFP_KERNEL_ACCOUNT);
	if (!q) {
		svmgpu_dev_exit(drm, idx);
		return -ENOMEM;
	}
	kref_init(&q->refs);
	q->sdev = sdev;
	q->entries = entries;
	q->hwq = SVMGPU_HWQ_NONE;
	q->seq_base = atomic64_add_return(1ull << 40, &sdev->seq_epoch);
	mutex_init(&q->submit_lock);
	spin_lock_init(&q->lock);
	init_waitqueue_head(&q->wq);
	INIT_LIST_HEAD(&q->link);
	INIT_LIST_HEAD(&q->events);
	svmgpu_sched_queue_init(q, prio);
	/*
	 * The creator's memory, charged to its cgroup (up to 256 KiB a ring,
	 * 256 queues a file, files without number): where the pages come
	 * from the page allocator (not CMA or a swiotlb pool), as on x86.
	 */
	q->ring = dma_alloc_coherent(dev, (size_t)entries * SVMGPU_CMD_SIZE,
				     &q->ring_dma, GFP_KERNEL_ACCOUNT);
	q->compl = dma_alloc_coherent(dev, sizeof(*q->compl), &q->compl_dma,
				      GFP_KERNEL_ACCOUNT);
	/* Taken into quarantine with them, if need be, without allocating. */
	q->dma_quar = kzalloc(sizeof(*q->dma_quar), GFP_KERNEL_ACCOUNT);
	if (!q->ring || !q->compl || !q->dma_quar) {
		ret = -ENOMEM;
		goto err_free;
	}

	mutex_lock(&sf->lock);
	ctx = svmgpu_ctx_lookup(sf, args->ctx_handle, &ret);
	if (!ctx)
		goto err_unlock;
	q->ctx = ctx;
	svm = ctx->svm;

	if (sf->nqueues >= SVMGPU_MAX_FILE_QUEUES) {
		ret = -EBUSY;
		goto err_unlock;
	}
	mutex_lock(&svm->lock);
	if (svm->dead)
		ret = -ENODEV;
	else
		list_add_tail(&q->link, &ctx->queues);
	mutex_unlock(&svm->lock);
	if (ret)
		goto err_unlock;

	/*
	 * Cyclic: completion events of a destroyed queue may still be unread,
	 * and carry its handle; a new queue does not take it (before 2^31
	 * more).  1 is a wrap, not an error.
	 */
	ret = xa_alloc_cyclic(&sf->queues, &handle, q, xa_limit_31b,
			      &sf->next_queue, GFP_KERNEL);
	if (ret < 0) {
		mutex_lock(&svm->lock);
		svmgpu_queue_stop(q);
		list_del(&q->link);
		mutex_unlock(&svm->lock);
		mutex_unlock(&sf->lock);
		svmgpu_queue_put(q);
		svmgpu_dev_exit(drm, idx);
		return ret;
	}
	q->handle = handle;
	sf->nqueues++;
	svmgpu_sched_queue_add(q);
	mutex_unlock(&sf->lock);
	args->handle = handle;
	svmgpu_dev_exit(drm, idx);
	return 0;

err_unlock:
	mutex_unlock(&sf->lock);
	drm_dbg(drm, "queue_create: ctx %u: %d\n", args->ctx_handle, ret);
err_free:
	svmgpu_queue_free_mem(sdev, q);
	svmgpu_queue_put(q);
	svmgpu_dev_exit(drm, idx);
	return ret;
}

/**
 * svmgpu_queue_unbind() - give @q's hardware queue back
 * @q: the queue
 *
 * Disables the hardware queue @q is bound to and waits until the engine has
 * let go of it (the interrupted command is abandoned, unless its state was
 * saved), then gives the hardware queue back.  Caller holds q->submit_lock.
 *
 * Return: false if the engine did not let go in time.
 */
bool svmgpu_queue_unbind(struct svmgpu_queue *q)
{
	struct svmgpu_device *sdev = q->sdev;
	u32 hwq = q->hwq, status;
	bool idle = true;
	u64 gen;

	lockdep_assert_held(&q->submit_lock);
	if (hwq == SVMGPU_HWQ_NONE)
		return true;
	/*
	 * Used only if the unbind is injected as not idle (the device held,
	 * removed or wedged is not disabled here).
	 */
	gen = atomic64_read(&sdev->stats.resets);
	if (svmgpu_hw_enter(sdev)) {
		spin_lock(&q->lock);
		svmgpu_write32(sdev, SVMGPU_REG_Q(hwq, SVMGPU_Q_CONTROL), 0);
		q->hw_live = false;
		spin_unlock(&q->lock);
		/* A device gone from the bus does no DMA: nothing to wait for. */
		if (!READ_ONCE(sdev->gone) &&
		    readl_poll_timeout(sdev->regs + SVMGPU_REG_Q(hwq, SVMGPU_Q_STATUS),
				       status, status & SVMGPU_Q_STATUS_IDLE, 100,
				       SVMGPU_QUEUE_STOP_TIMEOUT_US)) {
			drm_err(&sdev->drm, "queue %u: not idle after disable (0x%x)\n",
				hwq, status);
			idle = false;
		}
		/* No reset completes while this is entered: it follows the disable. */
		gen = atomic64_read(&sdev->stats.resets);
		svmgpu_hw_exit(sdev);
	} else {
		spin_lock(&q->lock);
		q->hw_live = false;
		spin_unlock(&q->lock);
	}
	svmgpu_queue_update(q);
	spin_lock(&sdev->hwq_lock);
	if (sdev->hwq[hwq] == q)
		sdev->hwq[hwq] = NULL;
	q->hwq = SVMGPU_HWQ_NONE;
	spin_unlock(&sdev->hwq_lock);
	wake_up_all(&sdev->hwq_wq);
	svmgpu_sched_unbound(q, hwq, idle, gen);
	trace_svmgpu_queue_unbind(hwq, q->last_seq, q->completed_seq);
	return idle;
}

/* Claim a free hardware queue for @q.  Return: true if @q is bound. */
static bool svmgpu_hwq_claim(struct svmgpu_queue *q)
{
	struct svmgpu_device *sdev = q->sdev;
	bool bound = false;
	u32 i;

	spin_lock(&sdev->hwq_lock);
	for (i = 0; i < sdev->num_queues && !svmgpu_hwq_closed(sdev); i++) {
		if (!sdev->hwq[i]) {
			sdev->hwq[i] = q;
			q->hwq = i;
			bound = true;
			break;
		}
	}
	spin_unlock(&sdev->hwq_lock);
	return bound;
}

/**
 * svmgpu_queue_bind() - give an idle queue a hardware queue
 * @q: the queue, with nothing outstanding
 * @nonblock: fail with -EAGAIN instead of waiting for a hardware queue
 *
 * Waits (interruptibly) until a hardware queue is free, programs it with
 * the queue's ring and enables it; the ring restarts at slot 0.  Caller
 * holds q->submit_lock.
 *
 * Return: 0, -ECANCELED if the queue was stopped, -ENODEV, -EIO,
 * -ERESTARTSYS, or -EAGAIN: with @nonblock, no hardware queue is free;
 * without it, a hang reset of the queue's previous binding waits for
 * q->submit_lock, so the caller drops it, waits for the reset and retries.
 */
int svmgpu_queue_bind(struct svmgpu_queue *q, bool nonblock)
{
	struct svmgpu_device *sdev = q->sdev;
	int ret;

	lockdep_assert_held(&q->submit_lock);
	if (q->hwq != SVMGPU_HWQ_NONE)
		return 0;
	/* A device gone from the bus gives no hardware queue out again. */
	if (nonblock) {
		if (!READ_ONCE(q->stopped) && !READ_ONCE(sdev->gone) &&
		    !svmgpu_hwq_claim(q))
			return -EAGAIN;
	} else {
		/*
		 * A hang reset of its previous binding waits for submit_lock:
		 * let go (-EAGAIN, the caller waits without it and retries).
		 */
		ret = wait_event_interruptible(sdev->hwq_wq, READ_ONCE(q->stopped) ||
					       READ_ONCE(sdev->gone) ||
					       READ_ONCE(q->hang_reset) ||
					       svmgpu_hwq_claim(q));
		if (ret)
			return ret;
	}
	if (q->hwq == SVMGPU_HWQ_NONE)
		return READ_ONCE(sdev->gone) ? -ENODEV :
		       READ_ONCE(q->stopped) ? -ECANCELED : -EAGAIN;
	q->tail = 0;
	if (READ_ONCE(q->stopped)) {
		ret = -ECANCELED;
	} else if (!svmgpu_hw_enter(sdev)) {
		ret = -ENODEV;
	} else {
		ret = svmgpu_queue_hw_start(sdev, q, 0, false);
		svmgpu_hw_exit(sdev);
	}
	if (ret) {
		spin_lock(&sdev->hwq_lock);
		sdev->hwq[q->hwq] = NULL;
		q->hwq = SVMGPU_HWQ_NONE;
		spin_unlock(&sdev->hwq_lock);
		wake_up_all(&sdev->hwq_wq);
		return ret;
	}
	trace_svmgpu_queue_bind(q->hwq, q->last_seq, q->completed_seq);
	return 0;
}

/**
 * svmgpu_queue_unbind_idle() - give the hardware queue back once idle
 * @q: the queue
 *
 * Called after completions.  Skips the queue if a submission holds it (that
 * submission's completion calls again).
 */
void svmgpu_queue_unbind_idle(struct svmgpu_queue *q)
{
	bool idle;

	if (READ_ONCE(q->hwq) == SVMGPU_HWQ_NONE || !mutex_trylock(&q->submit_lock))
		return;
	svmgpu_queue_update(q);
	spin_lock(&q->lock);
	idle = q->completed_seq == q->last_seq;
	spin_unlock(&q->lock);
	if (idle)
		svmgpu_queue_unbind(q);
	mutex_unlock(&q->submit_lock);
}

/*
 * A second stopper waits for the first as flush_work() waits for a work:
 * lockdep sees the wait as taking svmgpu_queue_stop_map, which the first
 * stopper holds over its whole stop.  A lock that a waiter holds (svm->lock)
 * and the stop path takes is then reported, not a silent deadlock.
 */
#ifdef CONFIG_LOCKDEP
static struct lock_class_key svmgpu_queue_stop_key;
static struct lockdep_map svmgpu_queue_stop_map =
	STATIC_LOCKDEP_MAP_INIT("svmgpu_queue_stop", &svmgpu_queue_stop_key);
#endif

static bool svmgpu_queue_stop_over(struct svmgpu_queue *q)
{
	bool over;

	spin_lock(&q->lock);
	over = q->stop_finished;
	spin_unlock(&q->lock);
	return over;
}

/**
 * svmgpu_queue_stop_failed() - stop a queue for good, failing its commands
 * @q: the queue
 * @code: the error logged for each command not completed (0: none; its
 *	waiters get -ECANCELED)
 *
 * Disables and releases its hardware queue (the running command is
 * abandoned), then fails what did not complete with @code and wakes the
 * waiters, frees the ring (quarantined until a device reset if the hardware
 * queue did not go idle) and sends every pending completion event.  A
 * second caller (a reset's svmgpu_queues_stop_all() against QUEUE_DESTROY,
 * svmgpu_svm_kill()) returns only once the first is done: it may go on to
 * free the context, which the first still uses.  No caller holds
 * q->submit_lock.
 */
void svmgpu_queue_stop_failed(struct svmgpu_queue *q, u32 code)
{
	struct svmgpu_device *sdev = q->sdev;
	unsigned int delay;

	/* Wake a submitter waiting for room or a hardware queue first. */
	spin_lock(&q->lock);
	if (q->stopped) {
		spin_unlock(&q->lock);
		lock_map_acquire(&svmgpu_queue_stop_map);
		lock_map_release(&svmgpu_queue_stop_map);
		wait_event(q->wq, svmgpu_queue_stop_over(q));
		return;
	}
	q->stopped = true;
	spin_unlock(&q->lock);
	lock_map_acquire(&svmgpu_queue_stop_map);
	wake_up_all(&q->wq);
	wake_up_all(&sdev->hwq_wq);

	/* Test hook: the engine runs on while the stop is slow. */
	if (unlikely(atomic_read(&sdev->inject_stop_delay_ms))) {
		int ends = atomic_read(&sdev->inject_stop_ends);

		delay = atomic_xchg(&sdev->inject_stop_delay_ms, 0);
		if (delay)
			wait_event_timeout(sdev->inject_wq,
					   atomic_read(&sdev->inject_stop_ends) != ends,
					   msecs_to_jiffies(delay));
	}
	mutex_lock(&q->submit_lock);
	svmgpu_queue_unbind(q);
	/*
	 * Only now do waiters return (-ECANCELED, or @code): the command they
	 * waited for may have been running until the unbind, and a byte the
	 * process writes after the WAIT returns must not be overwritten by it.
	 */
	spin_lock(&q->lock);
	if (code)
		svmgpu_queue_fail_locked(q, code);
	q->stop_done = true;
	spin_unlock(&q->lock);
	svmgpu_sched_queue_stop(q);
	svmgpu_queue_free_mem(sdev, q);
	/* Under submit_lock: no SUBMIT adds an event after this. */
	svmgpu_queue_signal_events(q);
	mutex_unlock(&q->submit_lock);
	trace_svmgpu_queue_stop(q->hwq, q->last_seq, q->completed_seq);
	spin_lock(&q->lock);
	q->stop_finished = true;
	spin_unlock(&q->lock);
	lock_map_release(&svmgpu_queue_stop_map);
	wake_up_all(&q->wq);
}

/**
 * svmgpu_queue_stop() - stop a queue for good
 * @q: the queue
 *
 * svmgpu_queue_stop_failed() with no error logged: waiters of commands
 * not completed get -ECANCELED.  Idempotent.
 */
void svmgpu_queue_stop(struct svmgpu_queue *q)
{
	svmgpu_queue_stop_failed(q, 0);
}

/**
 * svmgpu_queue_hang_reset() - reset a queue that made no progress
 * @q: the queue
 * @hwq: the hardware queue the watchdog found it hung on
 * @bind_gen: @q->bind_gen then: a queue bound again since (idle, then a
 *	SUBMIT bound it, maybe to @hwq) is left alone
 * @corrupt: reset for a corrupt completion record, not a hang
 *
 * Disables the hardware queue and waits for its engine to let go (hw-spec
 * 8: asynchronous, Q_STATUS.IDLE), collects what completed meanwhile, fails
 * every command still pending with DRM_SVMGPU_ERR_HANG and gives the
 * hardware queue back.  The queue stays usable: the next SUBMIT borrows a
 * hardware queue again.  If the engine does not let go, the device is reset
 * (sdev->hang_work).  Other queues are not touched.  For a corrupt record
 * nothing is collected from it: every command not seen complete before
 * fails with DRM_SVMGPU_ERR_RESET, and the record is cleared.
 */
void svmgpu_queue_hang_reset(struct svmgpu_queue *q, u32 hwq, u32 bind_gen, bool corrupt)
{
	struct svmgpu_device *sdev = q->sdev;
	ktime_t start = ktime_get();
	u64 first, last;

	spin_lock(&q->lock);
	if (q->stopped || q->hang_reset) {
		spin_unlock(&q->lock);
		return;
	}
	q->hang_reset = true;
	spin_unlock(&q->lock);
	/*
	 * A SUBMIT waiting for room in the ring, or (without the scheduler)
	 * for a hardware queue, lets go of submit_lock.
	 */
	wake_up_all(&q->wq);
	wake_up_all(&sdev->hwq_wq);

	mutex_lock(&q->submit_lock);
	if (q->hwq != hwq || q->bind_gen != bind_gen) {
		/*
		 * It moved meanwhile (preempted, saved by a device reset,
		 * gave its hardware queue back, maybe bound again to @hwq):
		 * not the hung binding.
		 */
		spin_lock(&q->lock);
		q->hang_reset = false;
		spin_unlock(&q->lock);
		mutex_unlock(&q->submit_lock);
		wake_up_all(&q->wq);
		return;
	}
	q->saved = false;
	/* Not idle: svmgpu_sched_unbound() queued the device reset. */
	svmgpu_queue_unbind(q);
	spin_lock(&q->lock);
	first = q->completed_seq + 1;
	last = q->last_seq;
	if (corrupt && q->compl) {
		/* The engine let go: nothing writes the record now. */
		WRITE_ONCE(q->compl->seq, 0);
		q->compl_corrupt = false;
	}
	spin_unlock(&q->lock);
	if (corrupt) {
		atomic64_inc(&sdev->stats.compl_corrupt);
		if (first <= last)
			svmgpu_queue_fail_pending(q, DRM_SVMGPU_ERR_RESET);
		drm_warn(&sdev->drm, "queue %u (hw queue %u): corrupt completion record: reset, %llu commands failed\n",
			 q->handle, hwq, last + 1 - first);
	} else if (first <= last) {
		/* Counted before a waiter sees the error (svm_hang reads them then). */
		atomic64_inc(&sdev->stats.hangs);
		atomic64_add(last - first + 1, &sdev->stats.hang_cmds);
		atomic64_set(&sdev->stats.hang_reset_ns,
			     ktime_to_ns(ktime_sub(ktime_get(), start)));
		svmgpu_queue_fail_pending(q, DRM_SVMGPU_ERR_HANG);
		drm_warn(&sdev->drm, "queue %u (hw queue %u): no progress for %u ms at command %llu: reset, %llu commands failed\n",
			 q->handle, hwq, READ_ONCE(svmgpu_hang_timeout_ms), first,
			 last - first + 1);
	}
	/* No saved state outlives the commands it would run. */
	svmgpu_sched_put_save(q);
	spin_lock(&q->lock);
	q->hang_reset = false;
	spin_unlock(&q->lock);
	mutex_unlock(&q->submit_lock);
	wake_up_all(&q->wq);
}

static void svmgpu_queue_destroy(struct svmgpu_queue *q)
{
	struct svmgpu_svm *svm = q->ctx->svm;

	mutex_lock(&svm->lock);
	svmgpu_queue_stop(q);
	list_del(&q->link);
	mutex_unlock(&svm->lock);
	svmgpu_queue_put(q);
}

int svmgpu_ioctl_queue_destroy(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct drm_svmgpu_queue_destroy *args = data;
	struct svmgpu_file *sf = to_sf(file);
	struct svmgpu_queue *q;
	int ret = 0, idx;

	if (args->flags || args->pad || args->pad2) {
		drm_dbg(drm, "queue_destroy: non-zero flags or pad\n");
		return -EINVAL;
	}
	if (!svmgpu_dev_enter(drm, &idx))
		return -ENODEV;
	mutex_lock(&sf->lock);
	q = args->handle ? xa_load(&sf->queues, args->handle) : NULL;
	if (!q)
		ret = -ENOENT;
	else if (q->ctx->mm != current->mm)
		ret = -EACCES;
	if (ret) {
		mutex_unlock(&sf->lock);
		svmgpu_dev_exit(drm, idx);
		drm_dbg(drm, "queue_destroy: handle %u: %d\n", args->handle, ret);
		return ret;
	}
	xa_erase(&sf->queues, args->handle);
	sf->nqueues--;
	svmgpu_queue_destroy(q);
	mutex_unlock(&sf->lock);
	svmgpu_dev_exit(drm, idx);
	return 0;
}

/**
 * svmgpu_queue_lookup() - find a queue of the caller by handle
 * @sf: the file
 * @handle: the queue handle
 * @err: out, -ENOENT or -EACCES on failure
 *
 * Return: the queue with a reference, or NULL.
 */
struct svmgpu_queue *svmgpu_queue_lookup(struct svmgpu_file *sf, u32 handle, int *err)
{
	struct svmgpu_queue *q;

	mutex_lock(&sf->lock);
	q = handle ? xa_load(&sf->queues, handle) : NULL;
	if (!q)
		*err = -ENOENT;
	else if (q->ctx->mm != current->mm)
		*err = -EACCES;
	else
		kref_get(&q->refs);
	mutex_unlock(&sf->lock);
	return *err ? NULL : q;
}

static void svmgpu_ctx_snapshot(struct svmgpu_ctx *ctx, u64 *v)
{
	struct svmgpu_svm_stats *s = &ctx->svm->stats;

	v[0] = atomic64_read(&s->pages_mapped);
	v[1] = atomic64_read(&s->huge_2m);
	v[2] = atomic64_read(&s->huge_1g);
	v[3] = atomic64_read(&s->pages_unmapped);
	v[4] = atomic64_read(&s->invalidations);
	v[5] = atomic64_read(&s->tlb_invalidations);
	v[6] = atomic64_read(&s->tlb_inval_ns);
}

/**
 * svmgpu_ctx_clear_base() - start the svm counters of a context from now
 * @ctx: the context
 */
void svmgpu_ctx_clear_base(struct svmgpu_ctx *ctx)
{
	u64 v[ARRAY_SIZE(ctx->base)];

	svmgpu_ctx_snapshot(ctx, v);
	spin_lock(&ctx->base_lock);
	memcpy(ctx->base, v, sizeof(v));
	spin_unlock(&ctx->base_lock);
}

static u64 svmgpu_ctx_read(struct svmgpu_ctx *ctx, int field, bool clear)
{
	return clear ? atomic64_xchg(&ctx->cnt[field], 0) : atomic64_read(&ctx->cnt[field]);
}

int svmgpu_ioctl_get_stats(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct drm_svmgpu_get_stats *args = data;
	struct svmgpu_file *sf = to_sf(file);
	u64 v[ARRAY_SIZE(((struct svmgpu_ctx *)NULL)->base)];
	struct svmgpu_ctx *ctx;
	bool clear;
	int ret = 0, i, idx;

	if ((args->flags & ~DRM_SVMGPU_STATS_CLEAR) || args->pad || args->pad2) {
		drm_dbg(drm, "get_stats: bad flags or non-zero pad\n");
		return -EINVAL;
	}
	clear = args->flags & DRM_SVMGPU_STATS_CLEAR;
	if (!svmgpu_dev_enter(drm, &idx))
		return -ENODEV;
	mutex_lock(&sf->lock);
	ctx = svmgpu_ctx_lookup(sf, args->ctx_handle, &ret);
	if (!ctx) {
		mutex_unlock(&sf->lock);
		svmgpu_dev_exit(drm, idx);
		drm_dbg(drm, "get_stats: handle %u: %d\n", args->ctx_handle, ret);
		return ret;
	}
	memset(args->reserved, 0, sizeof(args->reserved));
	args->faults = svmgpu_ctx_read(ctx, SVMGPU_CS_FAULTS, clear);
	args->fault_batches = svmgpu_ctx_read(ctx, SVMGPU_CS_BATCHES, clear);
	args->replays = svmgpu_ctx_read(ctx, SVMGPU_CS_REPLAYS, clear);
	args->cancels = svmgpu_ctx_read(ctx, SVMGPU_CS_CANCELS, clear);
	args->submitted = svmgpu_ctx_read(ctx, SVMGPU_CS_SUBMITTED, clear);
	args->failed = svmgpu_ctx_read(ctx, SVMGPU_CS_FAILED, clear);
	svmgpu_ctx_snapshot(ctx, v);
	spin_lock(&ctx->base_lock);
	for (i = 0; i < ARRAY_SIZE(v); i++) {
		u64 now = v[i];

		v[i] -= ctx->base[i];
		if (clear)
			ctx->base[i] = now;
	}
	spin_unlock(&ctx->base_lock);
	mutex_unlock(&sf->lock);
	svmgpu_dev_exit(drm, idx);
	args->pages_mapped = v[0];
	args->huge_2m_mapped = v[1];
	args->huge_1g_mapped = v[2];
	args->pages_unmapped = v[3];
	args->invalidations = v[4];
	args->tlb_invalidations = v[5];
	args->tlb_inval_ns = v[6];
	return 0;
}

/**
 * svmgpu_file_fini() - destroy every queue and context of a closing file
 * @sf: the file
 *
 * Runs at the last close, possibly in another process than the one that
 * created the contexts (fork) or after that process's mm is gone.
 */
void svmgpu_file_fini(struct svmgpu_file *sf)
{
	struct svmgpu_queue *q;
	struct svmgpu_ctx *ctx;
	unsigned long idx;

	mutex_lock(&sf->lock);
	xa_for_each(&sf->queues, idx, q) {
		xa_erase(&sf->queues, idx);
		sf->nqueues--;
		svmgpu_queue_destroy(q);
	}
	mutex_unlock(&sf->lock);

	/* Contexts are freed without sf->lock: the svm teardown may sleep long. */
	for (;;) {
		idx = 0;
		mutex_lock(&sf->lock);
		ctx = xa_find(&sf->ctxs, &idx, ULONG_MAX, XA_PRESENT);
		if (ctx)
			xa_erase(&sf->ctxs, idx);
		mutex_unlock(&sf->lock);
		if (!ctx)
			break;
		svmgpu_ctx_free(ctx, NULL);
	}
}

/**
 * svmgpu_queues_stop_all() - stop every bound queue with work (device reset)
 * @sdev: the device; sdev->resetting set, so that no queue binds again
 *
 * A bound queue whose commands all completed only gives its hardware queue
 * back: a queue stays bound after its last completion until an interrupt,
 * the watchdog's next tick or a submission unbinds it (a WAIT collects the
 * completion itself and unbinds nothing), and stopping it would fail the
 * next SUBMIT of a process that lost nothing.  submit_lock is tried for
 * up to 0.5 s: its holders are brief (the interrupt thread's or the
 * watchdog's unbind of that very idle queue, a submission pushing
 * commands), and one still holding it then is taken as busy (never a
 * wait without bound under reset_lock).
 */
void svmgpu_queues_stop_all(struct svmgpu_device *sdev)
{
	u32 i;

	for (i = 0; i < sdev->num_queues; i++) {
		struct svmgpu_queue *q = svmgpu_hwq_get(sdev, i);
		bool idle = false, locked;
		int tries = 0;

		if (!q)
			continue;
		while (!(locked = mutex_trylock(&q->submit_lock)) && ++tries <= 50)
			usleep_range(5000, 10000);
		/*
		 * Unbound meanwhile (idle, or saved by the scheduler: it runs
		 * again after the reset), whether or not its submit_lock is
		 * now held by a SUBMIT that waits for a hardware queue (none
		 * is given out in a reset): nothing of it is on the device.
		 */
		if (READ_ONCE(q->hwq) != i) {
			if (locked)
				mutex_unlock(&q->submit_lock);
			svmgpu_queue_put(q);
			continue;
		}
		if (locked) {
			svmgpu_queue_update(q);
			spin_lock(&q->lock);
			idle = q->completed_seq == q->last_seq && !q->stopped;
			spin_unlock(&q->lock);
			if (idle)
				svmgpu_queue_unbind(q);
			mutex_unlock(&q->submit_lock);
		}
		/* Failed once the engine let go, not before (a WAIT returns then). */
		if (!idle)
			svmgpu_queue_stop_failed(q, DRM_SVMGPU_ERR_RESET);
		svmgpu_queue_put(q);
	}
}
