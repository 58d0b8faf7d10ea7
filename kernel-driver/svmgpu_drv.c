// SPDX-License-Identifier: GPL-2.0
/*
 * svmgpu: DRM render driver for the svmgpu shared-virtual-memory GPU.
 *
 * docs/hw-spec.md is the contract with the device; docs/driver.md describes
 * the driver.  This file: PCI probe/remove, device bring-up and reset,
 * interrupts, the ioctl table and the module.
 *
 * Lock order: sdev->teardown_sem, sdev->reset_lock, sdev->hw_sem
 * (write), sdev->inval_lock.
 *
 * Lifetimes: every ioctl runs its device-touching parts inside
 * svmgpu_dev_enter()/svmgpu_dev_exit() (drm_dev_enter() with the device's
 * own SRCU), so remove's svmgpu_dev_unplug() waits for them, and so do
 * the fault work items and PREFETCH chunks; everything
 * else that reaches registers (notifiers, interrupt threads, postclose,
 * work items) goes through svmgpu_hw_enter(), which fails once hw_ready
 * is false (removed, or the device is held by a PCI reset, AER recovery
 * or suspend: svmgpu_hw_suspend()/svmgpu_hw_resume(), or wedged: a reset
 * did not bring it back, the next one tries again).
 */
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
#include <linux/iopoll.h>
#include <linux/module.h>
#include <linux/mmu_notifier.h>
#include <linux/pci.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_ioctl.h>
#include <drm/drm_managed.h>
#include <drm/drm_print.h>

#include <svmgpu/svmgpu_hw.h>
#include <uapi/drm/svmgpu_drm.h>

#include "svmgpu_drv.h"

#define CREATE_TRACE_POINTS
#include "svmgpu_trace.h"

#define DRIVER_NAME	"svmgpu"
#define DRIVER_DESC	"svmgpu shared-virtual-memory GPU"
#define DRIVER_DATE	"20261202"
#define DRIVER_MAJOR	0
/* 3: DRM_SVMGPU_PREFETCH_ASYNC (libsvmgpu checks it, docs/api.md) */
#define DRIVER_MINOR	3

struct workqueue_struct *svmgpu_wq;

static int svmgpu_ioctl_get_info(struct drm_device *drm, void *data,
				 struct drm_file *file)
{
	struct svmgpu_device *sdev = to_svmgpu(drm);
	struct drm_svmgpu_get_info *args = data;
	int idx;

	if (args->flags || args->pad) {
		drm_dbg(drm, "get_info: non-zero flags or pad\n");
		return -EINVAL;
	}
	if (!svmgpu_dev_enter(drm, &idx))
		return -ENODEV;

	args->hw_id = sdev->hw_id;
	args->hw_version = sdev->hw_version;
	args->pci_vendor = sdev->pdev->vendor;
	args->pci_device = sdev->pdev->device;
	args->num_queues = sdev->num_queues;
	args->num_engines = sdev->num_engines;
	args->caps = sdev->caps;
	args->fault_ring_entries = sdev->fault_entries;
	args->tlb_sets = sdev->tlb_sets;
	args->tlb_ways = sdev->tlb_ways;
	args->max_contexts = SVMGPU_CTX_TABLE_ENTRIES - 1;
	args->max_ring_entries = SVMGPU_MAX_RING_ENTRIES;
	svmgpu_dev_exit(drm, idx);
	return 0;
}

#define SVMGPU_IOCTL(name, func) \
	DRM_IOCTL_DEF_DRV(SVMGPU_##name, svmgpu_ioctl_##func, DRM_RENDER_ALLOW)

static const struct drm_ioctl_desc svmgpu_ioctls[] = {
	SVMGPU_IOCTL(GET_INFO, get_info),
	SVMGPU_IOCTL(CTX_CREATE, ctx_create),
	SVMGPU_IOCTL(CTX_DESTROY, ctx_destroy),
	SVMGPU_IOCTL(QUEUE_CREATE, queue_create),
	SVMGPU_IOCTL(QUEUE_DESTROY, queue_destroy),
	SVMGPU_IOCTL(SUBMIT, submit),
	SVMGPU_IOCTL(WAIT, wait),
	SVMGPU_IOCTL(GET_STATS, get_stats),
	SVMGPU_IOCTL(PREFETCH, prefetch),
	SVMGPU_IOCTL(RESIDENCY, residency),
	SVMGPU_IOCTL(ADVISE, advise),
	SVMGPU_IOCTL(DEVMEM_ALLOC, devmem_alloc),
	SVMGPU_IOCTL(DEVMEM_FREE, devmem_free),
};

static int svmgpu_open(struct drm_device *drm, struct drm_file *file)
{
	struct svmgpu_file *sf;

	sf = kzalloc(sizeof(*sf), GFP_KERNEL);
	if (!sf)
		return -ENOMEM;
	sf->sdev = to_svmgpu(drm);
	mutex_init(&sf->lock);
	xa_init_flags(&sf->ctxs, XA_FLAGS_ALLOC1);
	xa_init_flags(&sf->queues, XA_FLAGS_ALLOC1);
	xa_init_flags(&sf->dax_bos, XA_FLAGS_ALLOC1);
	svmgpu_prefetch_file_init(sf);
	file->driver_priv = sf;
	return 0;
}

static void svmgpu_postclose(struct drm_device *drm, struct drm_file *file)
{
	struct svmgpu_file *sf = file->driver_priv;

	/* First: no PREFETCH work of the file runs after this. */
	svmgpu_prefetch_file_fini(sf);
	svmgpu_file_fini(sf);
	svmgpu_dax_file_fini(sf);
	xa_destroy(&sf->ctxs);
	xa_destroy(&sf->queues);
	mutex_destroy(&sf->lock);
	kfree(sf);
}

static const struct file_operations svmgpu_fops = {
	.owner = THIS_MODULE,
	.open = drm_open,
	.release = drm_release,
	.unlocked_ioctl = drm_ioctl,
	.compat_ioctl = drm_compat_ioctl,
	.poll = drm_poll,
	.read = drm_read,
	.llseek = noop_llseek,
	.mmap = svmgpu_dax_mmap,
	.get_unmapped_area = svmgpu_dax_get_unmapped_area,
};

static const struct drm_driver svmgpu_drm_driver = {
	.driver_features = DRIVER_RENDER,
	.open = svmgpu_open,
	.postclose = svmgpu_postclose,
	.ioctls = svmgpu_ioctls,
	.num_ioctls = ARRAY_SIZE(svmgpu_ioctls),
	.fops = &svmgpu_fops,
#ifdef CONFIG_DEBUG_FS
	.debugfs_init = svmgpu_debugfs_init,
#endif
	.name = DRIVER_NAME,
	.desc = DRIVER_DESC,
	.date = DRIVER_DATE,
	.major = DRIVER_MAJOR,
	.minor = DRIVER_MINOR,
};

/*
 * Program the global registers from the driver's memory (bring-up and after
 * a reset).  Caller holds sdev->hw_sem for writing or owns the device.
 */
static int svmgpu_hw_program(struct svmgpu_device *sdev)
{
	u32 status, i;

	svmgpu_write32(sdev, SVMGPU_REG_INTR_MASK, 0);
	svmgpu_write64(sdev, SVMGPU_REG_CTX_TABLE_BASE, sdev->ctx_table_dma);
	svmgpu_write32(sdev, SVMGPU_REG_CTX_TABLE_ENTRIES, SVMGPU_CTX_TABLE_ENTRIES);
	svmgpu_write64(sdev, SVMGPU_REG_FAULT_RING_BASE, sdev->fault_ring_dma);
	sdev->fault_get = svmgpu_read32(sdev, SVMGPU_REG_FAULT_PUT);
	svmgpu_write32(sdev, SVMGPU_REG_FAULT_GET, sdev->fault_get);
	/* What the ring held is dropped: a flush waiting for it is done. */
	smp_store_release(&sdev->fault_done, sdev->fault_get);
	WRITE_ONCE(sdev->fault_gen, sdev->fault_gen + 1);
	svmgpu_fault_flush_wake(sdev);
	*sdev->inval_done = cpu_to_le64(svmgpu_read32(sdev, SVMGPU_REG_TLB_INV_DONE_SEQ));
	svmgpu_write64(sdev, SVMGPU_REG_TLB_INV_DONE_ADDR, sdev->inval_done_dma);
	svmgpu_write32(sdev, SVMGPU_REG_ERROR_STATUS, U32_MAX);
	svmgpu_write32(sdev, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_ENABLE);
	status = svmgpu_read32(sdev, SVMGPU_REG_STATUS);
	if (status == U32_MAX) {
		/* All ones: no device answers (gone from the bus, or frozen). */
		drm_err(&sdev->drm, "device does not answer\n");
		return -ENODEV;
	}
	if (!(status & SVMGPU_STATUS_ENABLED)) {
		drm_err(&sdev->drm, "device did not enable\n");
		return -EIO;
	}
	/* Contexts still in the table (after a reset) are loaded again. */
	for (i = 1; i < SVMGPU_CTX_TABLE_ENTRIES; i++)
		if (READ_ONCE(sdev->ctx_table[i].flags) & SVMGPU_CTX_VALID)
			svmgpu_write32(sdev, SVMGPU_REG_CTX_ENABLE, i);
	return 0;
}

/*
 * Wait up to @timeout_us for the reset the device was given to complete:
 * true once no engine step runs any more, false if it did not or the device
 * reads all-ones (gone or frozen: no proof it stopped).
 */
static bool svmgpu_hw_quiet_wait(struct svmgpu_device *sdev, u32 timeout_us)
{
	u32 status;

	readl_poll_timeout(sdev->regs + SVMGPU_REG_STATUS, status,
			   status == U32_MAX ||
			   !(status & (SVMGPU_STATUS_ENABLED | SVMGPU_STATUS_RESET_PENDING)),
			   200, timeout_us);
	if (status == U32_MAX)
		return false;
	if (!(status & (SVMGPU_STATUS_ENABLED | SVMGPU_STATUS_RESET_PENDING)))
		return true;
	drm_warn(&sdev->drm, "device reset still pending, status 0x%x\n", status);
	return false;
}

/*
 * Reset the device and wait (0.4 s at most) until no engine step runs any
 * more.
 *
 * Return: true once the device does no more DMA; false if the reset did not
 * complete (the caller must then fence it: svmgpu_hw_fence_dma()).
 */
static bool svmgpu_hw_quiesce(struct svmgpu_device *sdev)
{
	/*
	 * The registers reset at once; an engine step begun before the reset
	 * may run on briefly, writing nothing (STATUS.RESET_PENDING, hw-spec
	 * §12).  Wait for it to end before memory it could reach is reused.
	 */
	svmgpu_write32(sdev, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_RESET);
	return svmgpu_hw_quiet_wait(sdev, 400 * USEC_PER_MSEC);
}

/*
 * After a PCI reset, a resume or error recovery, before the device is
 * reprogrammed: an engine step begun before may still run
 * (STATUS.RESET_PENDING, hw-spec §12), and must be over before the memory
 * quarantined for it is freed (svmgpu_stop_end(): the reprogramming counts
 * as the reset that frees it).  False if it is not over within 2.4 s (as
 * long as svmgpu_device_reset() gives it, fence included) or the device
 * reads all-ones.
 */
static bool svmgpu_hw_settled(struct svmgpu_device *sdev)
{
	u32 status;

	readl_poll_timeout(sdev->regs + SVMGPU_REG_STATUS, status,
			   status == U32_MAX || !(status & SVMGPU_STATUS_RESET_PENDING),
			   200, 2400 * USEC_PER_MSEC);
	if (status != U32_MAX && !(status & SVMGPU_STATUS_RESET_PENDING))
		return true;
	drm_warn(&sdev->drm, "device not settled after a PCI reset or resume, status 0x%x\n",
		 status);
	return false;
}

/*
 * The device could not be shown to have stopped (a reset that did not
 * complete, a frozen link), or did not come back from a reset: turn its bus
 * mastering off so that it can reach no memory the driver is about to give
 * back.  svmgpu_hw_restart() turns it on again.  @why: for the log.  Caller
 * holds sdev->hw_sem for writing.
 */
static void svmgpu_hw_fence_dma(struct svmgpu_device *sdev, const char *why)
{
	lockdep_assert_held_write(&sdev->hw_sem);
	pci_clear_master(sdev->pdev);
	WRITE_ONCE(sdev->fenced, true);
	svmgpu_fault_flush_wake(sdev);
	/* A device found gone was said to be so (svmgpu_device_lost()). */
	if (!READ_ONCE(sdev->gone))
		drm_err(&sdev->drm, "device %s: bus mastering off\n", why);
}

static irqreturn_t svmgpu_irq_hard(int irq, void *arg)
{
	return IRQ_WAKE_THREAD;
}

static irqreturn_t svmgpu_vec_inval(int irq, void *arg)
{
	struct svmgpu_vec *vec = arg;

	/* Hard IRQ: the BAR stays mapped until this handler is freed. */
	svmgpu_write32(vec->sdev, SVMGPU_REG_INTR_STATUS, SVMGPU_INTR_INVAL);
	wake_up_all(&vec->sdev->inval_wq);
	return IRQ_HANDLED;
}

static irqreturn_t svmgpu_vec_error(int irq, void *arg)
{
	struct svmgpu_vec *vec = arg;

	return svmgpu_error_irq_thread(irq, vec->sdev);
}

static irqreturn_t svmgpu_vec_fault(int irq, void *arg)
{
	struct svmgpu_vec *vec = arg;

	return svmgpu_fault_irq_thread(irq, vec->sdev);
}

static void svmgpu_irq_fini(struct svmgpu_device *sdev)
{
	int i;

	for (i = sdev->nvec - 1; i >= 0; i--)
		free_irq(sdev->irq[i], &sdev->vec[i]);
	sdev->nvec = 0;
}

#if IS_ENABLED(CONFIG_FAULT_INJECTION_DEBUG_FS)
/*
 * Test hook, as i915's inject_probe_failure: the n-th memory allocation of
 * a probe from its own code on fails (the probing task's fail-nth,
 * Documentation/fault-injection/fault-injection.rst, set to n there, and
 * cleared when the probe returns, what was left of it in
 * inject_probe_fail_nth_left: 0 once the allocation was failed).  From
 * there, not from the bind: failures inside the DRM device's allocation
 * and the PCI enable crash 6.1's DRM core (put_device() of an ERR_PTR in
 * drm_minor_alloc_release()) and ACPICA (a _PRT object used after it was
 * freed).  svm_failnth's probe sweep; the first probe after a write takes
 * it (0 then).
 */
static unsigned int inject_probe_fail_nth;
module_param(inject_probe_fail_nth, uint, 0600);
MODULE_PARM_DESC(inject_probe_fail_nth,
		 "test: fail the probe's n-th allocation after the PCI enable (0 = off)");
static unsigned int inject_probe_fail_nth_left;
module_param(inject_probe_fail_nth_left, uint, 0400);
MODULE_PARM_DESC(inject_probe_fail_nth_left,
		 "test: what the last armed probe left of its count (0: failed one)");
static struct task_struct *inject_probe_task;	/* the probe that took it */

static void svmgpu_probe_inject(void)
{
	unsigned int n = xchg(&inject_probe_fail_nth, 0);

	if (n) {
		WRITE_ONCE(inject_probe_task, current);
		current->fail_nth = n;
	}
}

/* When the probe returns: the count is not left armed in its task. */
static void svmgpu_probe_inject_end(void)
{
	if (READ_ONCE(inject_probe_task) != current)
		return;
	WRITE_ONCE(inject_probe_fail_nth_left, xchg(&current->fail_nth, 0));
	WRITE_ONCE(inject_probe_task, NULL);
}

#else
static void svmgpu_probe_inject(void)
{
}

static void svmgpu_probe_inject_end(void)
{
}

#endif

static int svmgpu_irq_init(struct svmgpu_device *sdev)
{
	u32 n = SVMGPU_NUM_VECTORS(sdev->num_queues);
	unsigned int paused;
	int i, ret;

	for (i = 0; i < n; i++) {
		irq_handler_t hard = svmgpu_irq_hard, thread;

		sdev->vec[i].sdev = sdev;
		sdev->vec[i].index = i;
		sdev->irq[i] = pci_irq_vector(sdev->pdev, i);
		switch (i) {
		case SVMGPU_VEC_ERROR:
			thread = svmgpu_vec_error;
			break;
		case SVMGPU_VEC_FAULT:
			thread = svmgpu_vec_fault;
			break;
		case SVMGPU_VEC_INVAL:
			hard = svmgpu_vec_inval;
			thread = NULL;
			break;
		default:
			thread = svmgpu_queue_irq_thread;
			break;
		}
		paused = svmgpu_inject_pause();
		ret = request_threaded_irq(sdev->irq[i], hard, thread, IRQF_ONESHOT,
					   DRIVER_NAME, &sdev->vec[i]);
		svmgpu_inject_resume(paused);
		if (ret) {
			svmgpu_irq_fini(sdev);
			return ret;
		}
		sdev->nvec = i + 1;
	}
	return 0;
}

static void svmgpu_mem_fini(struct svmgpu_device *sdev)
{
	struct device *dev = &sdev->pdev->dev;

	if (sdev->ctx_table)
		dma_free_coherent(dev, SVMGPU_CTX_TABLE_ENTRIES * sizeof(*sdev->ctx_table),
				  sdev->ctx_table, sdev->ctx_table_dma);
	if (sdev->fault_ring)
		dma_free_coherent(dev, (size_t)sdev->fault_entries *
				  sizeof(*sdev->fault_ring),
				  sdev->fault_ring, sdev->fault_ring_dma);
	if (sdev->inval_done)
		dma_free_coherent(dev, sizeof(u64), sdev->inval_done,
				  sdev->inval_done_dma);
	kfree(sdev->fault_batch);
	sdev->ctx_table = NULL;
	sdev->fault_ring = NULL;
	sdev->inval_done = NULL;
	sdev->fault_batch = NULL;
}

static int svmgpu_mem_init(struct svmgpu_device *sdev)
{
	struct device *dev = &sdev->pdev->dev;

	sdev->ctx_table = dma_alloc_coherent(dev, SVMGPU_CTX_TABLE_ENTRIES *
					     sizeof(*sdev->ctx_table),
					     &sdev->ctx_table_dma, GFP_KERNEL);
	sdev->fault_ring = dma_alloc_coherent(dev, (size_t)sdev->fault_entries *
					      sizeof(*sdev->fault_ring),
					      &sdev->fault_ring_dma, GFP_KERNEL);
	sdev->inval_done = dma_alloc_coherent(dev, sizeof(u64), &sdev->inval_done_dma,
					      GFP_KERNEL);
	sdev->fault_batch = svmgpu_fault_batch_alloc();
	if (!sdev->ctx_table || !sdev->fault_ring || !sdev->inval_done ||
	    !sdev->fault_batch) {
		/* what did get allocated: the caller's unwinding starts below it */
		svmgpu_mem_fini(sdev);
		return -ENOMEM;
	}
	return 0;
}

/*
 * First half of every reset: no queue binds a hardware queue any more, every
 * bound queue is stopped for good (its pending commands fail with
 * DRM_SVMGPU_ERR_RESET), and the interrupts are off.  The memory of a queue
 * stopped here is freed before the device is quiesced only if its hardware
 * queue went idle (the engine let go of it, hw-spec 8); otherwise its ring,
 * completion record and save area are quarantined until the reset has
 * completed (svmgpu_sched_quarantine_dma()).  Caller holds
 * sdev->reset_lock.
 */
static void svmgpu_stop_begin(struct svmgpu_device *sdev)
{
	int i;

	lockdep_assert_held(&sdev->reset_lock);
	spin_lock(&sdev->hwq_lock);
	sdev->resetting = true;
	spin_unlock(&sdev->hwq_lock);

	svmgpu_queues_stop_all(sdev);
	/*
	 * Not the INVAL vector: invalidations already inside
	 * svmgpu_hw_enter() wait for it, and the caller's down_write() of
	 * hw_sem waits for them.  Its handler is hard-IRQ only and takes no
	 * lock.
	 */
	for (i = 0; i < sdev->nvec; i++)
		if (i != SVMGPU_VEC_INVAL)
			disable_irq(sdev->irq[i]);
}

/* Undo svmgpu_stop_begin().  Caller holds sdev->reset_lock. */
static void svmgpu_stop_end(struct svmgpu_device *sdev)
{
	int i;

	lockdep_assert_held(&sdev->reset_lock);
	for (i = 0; i < sdev->nvec; i++)
		if (i != SVMGPU_VEC_INVAL)
			enable_irq(sdev->irq[i]);
	spin_lock(&sdev->hwq_lock);
	sdev->resetting = false;
	spin_unlock(&sdev->hwq_lock);
	wake_up_all(&sdev->hwq_wq);
	/*
	 * Save areas, rings and completion records quarantined before a
	 * reset that completed (stats.resets moved) are freed now, also
	 * without the scheduler (its work never runs then).
	 */
	svmgpu_sched_release_quarantine(sdev);
	/* Queues saved before the reset, or waiting through it, run again. */
	svmgpu_sched_kick(sdev);
}

/*
 * Reprogram the device after a reset.  Caller holds sdev->hw_sem for
 * writing.  A fenced device gets its bus mastering back first.
 */
static int svmgpu_hw_restart(struct svmgpu_device *sdev)
{
	int ret;

	lockdep_assert_held_write(&sdev->hw_sem);
	mutex_lock(&sdev->inval_lock);
	if (sdev->fenced) {
		pci_set_master(sdev->pdev);
		sdev->fenced = false;
	}
	ret = svmgpu_hw_program(sdev);
	svmgpu_tlb_reset(sdev);
	mutex_unlock(&sdev->inval_lock);
	/*
	 * The reset cleared ERROR_STATUS.FATAL: a later one is a new error.
	 * Every svmgpu_device_fatal() holds hw_sem for reading, so none is
	 * lost between the reset and this.
	 */
	atomic_set(&sdev->fatal_pending, 0);
	atomic64_inc(&sdev->stats.resets);
	return ret;
}

/*
 * The device is about to lose its state (FLR, AER, suspend): stop it like a
 * reset does and mark the hardware unusable (hw_ready false, in_reset true)
 * until svmgpu_hw_resume().  @touch: the device still answers (not a frozen
 * link), quiesce it first.
 */
static void svmgpu_hw_suspend_locked(struct svmgpu_device *sdev, bool touch)
{
	lockdep_assert_held(&sdev->reset_lock);
	/* A wedged device is held too: the PCI reset may bring it back. */
	if (sdev->in_reset || (!sdev->hw_ready && !sdev->wedged))
		return;
	svmgpu_stop_begin(sdev);
	down_write(&sdev->hw_sem);
	/*
	 * hw_ready goes false below and invalidations then complete at once,
	 * so the device must be shown stopped, or fenced, first.
	 */
	mutex_lock(&sdev->inval_lock);
	if (!touch || !svmgpu_hw_quiesce(sdev))
		svmgpu_hw_fence_dma(sdev, "not quiesced");
	mutex_unlock(&sdev->inval_lock);
	/*
	 * in_reset first: svmgpu_devmem_offline() reads both without hw_sem,
	 * and hw_ready false with in_reset false means the device is gone.
	 */
	WRITE_ONCE(sdev->in_reset, true);
	smp_wmb();	/* pairs with svmgpu_devmem_offline() */
	WRITE_ONCE(sdev->hw_ready, false);
	WRITE_ONCE(sdev->wedged, false);
	up_write(&sdev->hw_sem);
	/* A teardown waiting for the fault thread stops (svmgpu_fault_flush()). */
	svmgpu_fault_flush_wake(sdev);
}

/*
 * AER or DPC recovery has the link frozen: the device may come back (error
 * recovery holds it and resets it, a reset of ours waits for that).
 */
static bool svmgpu_link_frozen(struct svmgpu_device *sdev)
{
	return sdev->pdev->error_state == pci_channel_io_frozen;
}

/* The function does not answer config reads, its link not frozen. */
static bool svmgpu_device_absent(struct svmgpu_device *sdev)
{
	return !svmgpu_link_frozen(sdev) && !pci_device_is_present(sdev->pdev);
}

/*
 * The device was found gone from the bus (@when: where, for the log): it is
 * held until remove.  Set before it is stopped, so that nothing waits for
 * hardware queues that read 0 to go idle.  Caller holds sdev->reset_lock
 * and calls svmgpu_fail_pending() once the device is stopped.
 */
static void svmgpu_set_gone_locked(struct svmgpu_device *sdev,
				   const char *when)
{
	lockdep_assert_held(&sdev->reset_lock);
	drm_err(&sdev->drm, "device gone from the bus%s: stopped until it is removed\n",
		when);
	WRITE_ONCE(sdev->gone, true);
}

/*
 * Nothing resumes the scheduler's saved and waiting queues (the device is
 * gone, or did not come back): fail them (svmgpu_sched_fail_all()), and let
 * SUBMITs waiting for a hardware queue fail with -ENODEV.
 */
static void svmgpu_fail_pending(struct svmgpu_device *sdev)
{
	svmgpu_sched_fail_all(sdev);
	wake_up_all(&sdev->hwq_wq);
}

/*
 * svmgpu_device_lost() under sdev->reset_lock: also the first step of a
 * reset (a fence's recovery, a hang's, debugfs), which would otherwise
 * program registers that read all-ones, fail, and leave the device fenced
 * but not known to be gone.
 */
static bool svmgpu_device_lost_locked(struct svmgpu_device *sdev)
{
	lockdep_assert_held(&sdev->reset_lock);
	if (READ_ONCE(sdev->gone))
		return true;
	if ((!sdev->hw_ready && !sdev->wedged) || sdev->in_reset ||
	    !svmgpu_device_absent(sdev))
		return false;
	svmgpu_set_gone_locked(sdev, "");
	svmgpu_hw_suspend_locked(sdev, false);
	svmgpu_fail_pending(sdev);
	return true;
}

/**
 * svmgpu_device_reset() - reset the device and bring it back
 * @sdev: the device
 * @replay: save the bound queues first and resume them after the reset
 *	(recovery from a fatal error or a hung engine; svmgpu_sched_save_all())
 *
 * Every queue with work not saved is stopped for good (once its hardware
 * queue is disabled, its pending commands fail with DRM_SVMGPU_ERR_RESET:
 * WAIT returns 0 with that error); address spaces
 * survive: their context-table entries are loaded again and their page
 * tables are kept, the TLB starts empty.
 *
 * A function that no longer answers config reads is held until remove
 * instead (svmgpu_device_lost()), found before the reset or during it.  A
 * device that answers but does not come back is left wedged: not ready,
 * bus mastering off, every request for it failing with -ENODEV; its address
 * spaces and device memory stay, and the next reset tries again.
 *
 * Return: 0, -ENODEV once removed or found gone from the bus, -EBUSY while
 * a PCI reset, error recovery or suspend holds the device or AER/DPC has
 * its link frozen, or -EIO if it did not come back (now wedged).
 */
int svmgpu_device_reset(struct svmgpu_device *sdev, bool replay)
{
	return svmgpu_device_reset_since(sdev, replay, U64_MAX);
}

/**
 * svmgpu_device_reset_since() - svmgpu_device_reset() unless done since @gen
 * @sdev: the device
 * @replay: as svmgpu_device_reset()
 * @gen: sdev->stats.resets when the reset was asked for, read after its
 *	cause was seen; U64_MAX: reset anyway
 *
 * A work item that asked for a reset may find, once it has the reset lock,
 * that another reset (debugfs, a hang, an FLR's reset_done) ran meanwhile
 * and already cleared its cause.  A second one would stop for good the
 * queues that one replayed.  Not if that reset failed (the device is not
 * ready): this one tries again.
 *
 * Return: 0 if a reset since @gen served it, else as svmgpu_device_reset().
 */
int svmgpu_device_reset_since(struct svmgpu_device *sdev, bool replay, u64 gen)
{
	bool gone = false, held = false, quiet;
	int ret;

	mutex_lock(&sdev->reset_lock);
	if (gen != U64_MAX && atomic64_read(&sdev->stats.resets) != gen && sdev->hw_ready) {
		mutex_unlock(&sdev->reset_lock);
		drm_info(&sdev->drm, "reset already done since it was asked for\n");
		return 0;
	}
	/*
	 * Not against registers that read all-ones: held until remove (gone
	 * before, or found gone now).
	 */
	if (svmgpu_device_lost_locked(sdev)) {
		mutex_unlock(&sdev->reset_lock);
		return -ENODEV;
	}
	/* Held, or its link frozen: error recovery resets it, not us. */
	if (sdev->in_reset || svmgpu_link_frozen(sdev)) {
		mutex_unlock(&sdev->reset_lock);
		return -EBUSY;
	}
	/*
	 * With the scheduler, a recovery reset saves the bound queues first
	 * and replays them after: only those whose save fails lose their
	 * commands.
	 */
	if (replay) {
		spin_lock(&sdev->hwq_lock);
		sdev->resetting = true;
		spin_unlock(&sdev->hwq_lock);
		svmgpu_sched_save_all(sdev);
	}
	svmgpu_stop_begin(sdev);
	down_write(&sdev->hw_sem);
	if (sdev->hw_ready || sdev->wedged) {
		mutex_lock(&sdev->inval_lock);
		quiet = svmgpu_hw_quiesce(sdev);
		if (!quiet)
			svmgpu_hw_fence_dma(sdev, "not quiesced");
		mutex_unlock(&sdev->inval_lock);
		/*
		 * Not reprogrammed (nor unfenced) while a step may still run:
		 * given 2 s more (fenced, it reaches no system memory), then
		 * wedged, and the areas quarantined from before stay so.
		 */
		if (!quiet)
			quiet = svmgpu_hw_quiet_wait(sdev, 2 * USEC_PER_SEC);
		ret = quiet ? svmgpu_hw_restart(sdev) : -EIO;
		drm_info(&sdev->drm, "device reset%s\n", ret ? " failed" : "");
		if (ret) {
			/*
			 * Not back: nothing may wait for it (invalidations
			 * would time out one by one) or reach memory.
			 */
			gone = svmgpu_device_absent(sdev);
			if (gone) {
				svmgpu_set_gone_locked(sdev, " during a reset");
				ret = -ENODEV;
			}
			svmgpu_hw_fence_dma(sdev, "not back after a reset");
			/*
			 * Held as svmgpu_hw_suspend() leaves it: until remove
			 * if gone, or for the error recovery that froze its
			 * link meanwhile (its slot_reset brings it back).
			 */
			held = gone || svmgpu_link_frozen(sdev);
			WRITE_ONCE(sdev->in_reset, held);
			smp_wmb();	/* pairs with svmgpu_devmem_offline() */
		}
		/* A wedged device that came back is usable again. */
		WRITE_ONCE(sdev->hw_ready, !ret);
		WRITE_ONCE(sdev->wedged, ret && !held);
	} else {
		ret = -ENODEV;
	}
	up_write(&sdev->hw_sem);
	if (!held)
		svmgpu_stop_end(sdev);
	if (ret)
		svmgpu_fail_pending(sdev);
	mutex_unlock(&sdev->reset_lock);
	return ret;
}

static void svmgpu_recover_work(struct work_struct *work)
{
	struct svmgpu_device *sdev = container_of(work, struct svmgpu_device,
						  recover_work);

	drm_info(&sdev->drm, "recovering the fenced device\n");
	svmgpu_device_reset_since(sdev, false, READ_ONCE(sdev->fence_gen));
}

/**
 * svmgpu_device_fence() - stop the device's DMA now, recover it later
 * @sdev: the device
 *
 * For a TLB invalidation that did not complete: the device may still reach
 * pages the kernel is about to get back, so it is reset (CONTROL.RESET) and
 * its bus mastering is turned off before the caller returns; a work item
 * reprograms it (svmgpu_device_reset(): queues with work are stopped, their
 * commands fail with DRM_SVMGPU_ERR_RESET).  Until then every invalidation
 * completes at once.  Caller is inside svmgpu_hw_enter() and holds
 * sdev->inval_lock (svm->pt_lock possibly too): nothing here sleeps for long
 * (the reset's step in progress: at most svmgpu_hw_quiesce()'s bound).
 */
void svmgpu_device_fence(struct svmgpu_device *sdev)
{
	lockdep_assert_held(&sdev->inval_lock);
	if (sdev->fenced)
		return;
	/*
	 * Bus mastering gates system memory only: an engine step begun before
	 * the reset may still write device-local memory (hw-spec 5a, 12) that
	 * the caller is about to free.  Wait for it to end (within one step).
	 * Not shown ended within the bound, it goes on anyway: the step is
	 * stale from the reset on and writes nothing more but the one page or
	 * word it was writing (hw-spec 12), and the recovery's reset waits
	 * 2.4 s more before the device runs again, or wedges it.
	 */
	svmgpu_hw_quiesce(sdev);
	pci_clear_master(sdev->pdev);
	WRITE_ONCE(sdev->fence_gen, atomic64_read(&sdev->stats.resets));
	WRITE_ONCE(sdev->fenced, true);
	svmgpu_fault_flush_wake(sdev);
	drm_err(&sdev->drm, "device fenced: bus mastering off until it is reset\n");
	queue_work(svmgpu_wq, &sdev->recover_work);
}

static void svmgpu_hw_suspend(struct svmgpu_device *sdev, bool touch)
{
	mutex_lock(&sdev->reset_lock);
	svmgpu_hw_suspend_locked(sdev, touch);
	mutex_unlock(&sdev->reset_lock);
}

/**
 * svmgpu_device_lost() - hold the device if it no longer answers on the bus
 * @sdev: the device
 *
 * Its slot was powered off or it was unplugged without the driver being
 * removed first (a surprise removal no hotplug driver reported): if the
 * function does not answer config reads while the device is in use and no
 * PCI reset, error recovery or suspend holds it (an FLR in progress may
 * not answer either), hold it as a PCI reset would (svmgpu_hw_suspend()
 * without touching it) until remove comes, with @gone set so that nothing
 * waits for hardware queues that read 0 to go idle.  Bound queues fail
 * their pending commands with DRM_SVMGPU_ERR_RESET and their waiters
 * return; so do the scheduler's saved and waiting queues
 * (svmgpu_sched_fail_all()), and a SUBMIT that needs a hardware queue
 * fails with -ENODEV (svmgpu_queue_bind()).  Called from the recovery work
 * (svmgpu_recovery.c).
 *
 * Return: true if the device was found gone (now, or before).
 */
bool svmgpu_device_lost(struct svmgpu_device *sdev)
{
	bool gone;

	mutex_lock(&sdev->reset_lock);
	gone = svmgpu_device_lost_locked(sdev);
	mutex_unlock(&sdev->reset_lock);
	return gone;
}

/*
 * Reprogram the device after svmgpu_hw_suspend(); interrupts back on.  A
 * device found gone (svmgpu_device_lost()) stays held until it is removed,
 * whatever a PCI reset, error recovery or resume then finds at its address:
 * its queues were failed and its state is lost.  @slot_reset: called by
 * AER/DPC recovery's slot_reset (one that fails there holds the device as
 * gone: see below).
 *
 * Return: 0, -ENODEV for a device gone, or an error of svmgpu_hw_restart().
 */
static int svmgpu_hw_resume(struct svmgpu_device *sdev, bool slot_reset)
{
	int ret;

	mutex_lock(&sdev->reset_lock);
	if (!sdev->in_reset || READ_ONCE(sdev->gone)) {
		ret = sdev->in_reset ? -ENODEV : 0;
		mutex_unlock(&sdev->reset_lock);
		return ret;
	}
	down_write(&sdev->hw_sem);
	ret = svmgpu_hw_settled(sdev) ? svmgpu_hw_restart(sdev) : -EIO;
	/*
	 * Not svmgpu_device_absent(): AER's slot_reset runs with the link
	 * still marked frozen (until its resume).
	 */
	if (ret && !pci_device_is_present(sdev->pdev)) {
		/* Gone while held: as svmgpu_device_lost() leaves it. */
		svmgpu_set_gone_locked(sdev, " while held");
		svmgpu_hw_fence_dma(sdev, "gone");
		up_write(&sdev->hw_sem);
		svmgpu_fail_pending(sdev);
		mutex_unlock(&sdev->reset_lock);
		return -ENODEV;
	}
	if (ret && svmgpu_link_frozen(sdev)) {
		svmgpu_hw_fence_dma(sdev, "not back after a reset");
		if (!slot_reset) {
			/*
			 * A PCI reset (reset_done) while error recovery has
			 * the link frozen: still held, for its slot_reset.
			 */
			up_write(&sdev->hw_sem);
			mutex_unlock(&sdev->reset_lock);
			drm_err(&sdev->drm, "device did not come back after a reset: %d\n", ret);
			return ret;
		}
		/*
		 * AER/DPC recovery's slot_reset did not bring it back: the
		 * recovery fails and leaves the link marked frozen for good
		 * (6.1 tells the driver nothing more), so no reset of ours
		 * may run: held as gone until remove, its work failed.
		 */
		drm_err(&sdev->drm, "device did not come back after a slot reset: %d\n", ret);
		svmgpu_set_gone_locked(sdev, " or failed for good (not back after a slot reset)");
		up_write(&sdev->hw_sem);
		svmgpu_fail_pending(sdev);
		mutex_unlock(&sdev->reset_lock);
		return ret;
	}
	/* Not back: as a failed svmgpu_device_reset() leaves it, wedged. */
	if (ret)
		svmgpu_hw_fence_dma(sdev, "not back after a reset");
	WRITE_ONCE(sdev->hw_ready, !ret);
	WRITE_ONCE(sdev->wedged, ret != 0);
	/* hw_ready first: svmgpu_devmem_offline() reads both without hw_sem */
	smp_wmb();
	WRITE_ONCE(sdev->in_reset, false);
	up_write(&sdev->hw_sem);
	svmgpu_stop_end(sdev);
	if (ret)
		svmgpu_fail_pending(sdev);
	mutex_unlock(&sdev->reset_lock);
	if (ret)
		drm_err(&sdev->drm, "device did not come back after a reset: %d\n", ret);
	else
		drm_info(&sdev->drm, "device reprogrammed after a PCI reset or resume\n");
	return ret;
}

static void svmgpu_reset_prepare(struct pci_dev *pdev)
{
	struct svmgpu_device *sdev = pci_get_drvdata(pdev);

	svmgpu_hw_suspend(sdev, true);
	/* BAR4 stops decoding: no CPU copy of device memory until done. */
	svmgpu_devmem_reset_prepare(sdev);
}

static void svmgpu_reset_done(struct pci_dev *pdev)
{
	struct svmgpu_device *sdev = pci_get_drvdata(pdev);

	svmgpu_devmem_reset_done(sdev);
	svmgpu_hw_resume(sdev, false);
}

/*
 * The PCI core gave the function up (error_detected with
 * pci_channel_io_perm_failure: kernels that report a failed recovery so,
 * not 6.1): held until remove as a function gone from the bus is
 * (svmgpu_device_lost()), whatever state recovery left it in; its data in
 * device memory is lost (svmgpu_devmem_reachable()).
 */
static void svmgpu_device_perm_failure(struct svmgpu_device *sdev)
{
	mutex_lock(&sdev->reset_lock);
	if (!READ_ONCE(sdev->gone) &&
	    (sdev->hw_ready || sdev->wedged || sdev->in_reset)) {
		svmgpu_set_gone_locked(sdev, " or failed for good (PCI error recovery gave up)");
		svmgpu_hw_suspend_locked(sdev, false);
		svmgpu_fail_pending(sdev);
	}
	mutex_unlock(&sdev->reset_lock);
}

static pci_ers_result_t svmgpu_error_detected(struct pci_dev *pdev,
					      pci_channel_state_t state)
{
	struct svmgpu_device *sdev = pci_get_drvdata(pdev);

	drm_err(&sdev->drm, "PCI error, channel state %d\n", state);
	/* a CPU copy through BAR4 under way is done again */
	svmgpu_devmem_error_detected(sdev);
	/* Held until remove (svmgpu_device_lost()): no vote for its bus. */
	if (READ_ONCE(sdev->gone))
		return PCI_ERS_RESULT_NONE;
	if (state == pci_channel_io_perm_failure) {
		svmgpu_device_perm_failure(sdev);
		return PCI_ERS_RESULT_DISCONNECT;
	}
	svmgpu_hw_suspend(sdev, state == pci_channel_io_normal);
	return PCI_ERS_RESULT_NEED_RESET;
}

static pci_ers_result_t svmgpu_slot_reset(struct pci_dev *pdev)
{
	struct svmgpu_device *sdev = pci_get_drvdata(pdev);

	/* Held until remove (svmgpu_device_lost()): no vote for its bus. */
	if (READ_ONCE(sdev->gone))
		return PCI_ERS_RESULT_NONE;
	pci_restore_state(pdev);
	pci_save_state(pdev);
	if (svmgpu_hw_resume(sdev, true))
		return PCI_ERS_RESULT_DISCONNECT;
	return PCI_ERS_RESULT_RECOVERED;
}

static void svmgpu_error_resume(struct pci_dev *pdev)
{
	struct svmgpu_device *sdev = pci_get_drvdata(pdev);

	/* Recovery without a slot reset (PCI_ERS_RESULT_CAN_RECOVER paths). */
	svmgpu_hw_resume(sdev, false);
	drm_info(&sdev->drm, "PCI error recovery done\n");
}

static const struct pci_error_handlers svmgpu_err_handlers = {
	.error_detected = svmgpu_error_detected,
	.slot_reset = svmgpu_slot_reset,
	.resume = svmgpu_error_resume,
	.reset_prepare = svmgpu_reset_prepare,
	.reset_done = svmgpu_reset_done,
};

static int svmgpu_pm_suspend(struct device *dev)
{
	struct svmgpu_device *sdev = pci_get_drvdata(to_pci_dev(dev));

	svmgpu_hw_suspend(sdev, true);
	/* D3hot next: BAR4 decodes nothing until resume */
	svmgpu_devmem_suspend(sdev);
	return 0;
}

static int svmgpu_pm_resume(struct device *dev)
{
	struct svmgpu_device *sdev = pci_get_drvdata(to_pci_dev(dev));
	int ret;

	svmgpu_devmem_resume(sdev);
	ret = svmgpu_hw_resume(sdev, false);

	/* A device gone is held until remove: not a failed resume. */
	return ret && READ_ONCE(sdev->gone) ? 0 : ret;
}

/*
 * Hibernation: device memory is not part of the image (ZONE_DEVICE pages are
 * not saved) and comes back empty, so refuse while it holds process pages
 * or DAX buffers (allocated only by ioctls, which frozen processes make
 * none of), and allocate no device page until thawed: a device fault's
 * work (its queue is not freezable) or an asynchronous PREFETCH may still
 * run after this check, while processes are frozen.  Suspend to RAM keeps it (the device keeps
 * its memory, hw-spec 5a).
 */
static int svmgpu_pm_freeze(struct device *dev)
{
	struct svmgpu_device *sdev = pci_get_drvdata(to_pci_dev(dev));
	u64 used;
	int ret;

	used = svmgpu_dax_used(sdev);
	if (used) {
		drm_err(&sdev->drm, "cannot hibernate: %llu bytes of DAX buffers in device memory\n",
			used);
		return -EBUSY;
	}
	if (svmgpu_devmem_freeze(sdev, &used)) {
		drm_err(&sdev->drm, "cannot hibernate: %llu bytes of process memory in device memory\n",
			used);
		return -EBUSY;
	}
	ret = svmgpu_pm_suspend(dev);
	if (ret)
		svmgpu_devmem_thaw(sdev);
	return ret;
}

/* After a hibernation image was made (thaw) or restored (restore). */
static int svmgpu_pm_thaw(struct device *dev)
{
	struct svmgpu_device *sdev = pci_get_drvdata(to_pci_dev(dev));
	int ret = svmgpu_pm_resume(dev);

	svmgpu_devmem_thaw(sdev);
	return ret;
}

static const struct dev_pm_ops svmgpu_pm_ops = {
	.suspend = pm_sleep_ptr(svmgpu_pm_suspend),
	.resume = pm_sleep_ptr(svmgpu_pm_resume),
	.freeze = pm_sleep_ptr(svmgpu_pm_freeze),
	.thaw = pm_sleep_ptr(svmgpu_pm_thaw),
	.poweroff = pm_sleep_ptr(svmgpu_pm_suspend),
	.restore = pm_sleep_ptr(svmgpu_pm_thaw),
};

static void svmgpu_drm_release(struct drm_device *drm, void *arg)
{
	struct svmgpu_device *sdev = to_svmgpu(drm);

	if (sdev->fault_wq)
		destroy_workqueue(sdev->fault_wq);
	cleanup_srcu_struct(&sdev->unplug_srcu);
	ida_destroy(&sdev->ctx_ida);
	xa_destroy(&sdev->svms);
	mutex_destroy(&sdev->inval_lock);
	mutex_destroy(&sdev->reset_lock);
}

static int svmgpu_read_params(struct svmgpu_device *sdev)
{
	sdev->num_queues = svmgpu_read32(sdev, SVMGPU_REG_NUM_QUEUES);
	sdev->num_engines = svmgpu_read32(sdev, SVMGPU_REG_NUM_ENGINES);
	sdev->caps = svmgpu_read32(sdev, SVMGPU_REG_CAPS);
	svmgpu_sched_enable(sdev);
	sdev->fault_entries = svmgpu_read32(sdev, SVMGPU_REG_FAULT_RING_ENTRIES);
	sdev->tlb_sets = svmgpu_read32(sdev, SVMGPU_REG_TLB_SETS);
	sdev->tlb_ways = svmgpu_read32(sdev, SVMGPU_REG_TLB_WAYS);
	if (sdev->num_queues < SVMGPU_MIN_QUEUES || sdev->num_queues > SVMGPU_MAX_QUEUES ||
	    sdev->fault_entries < SVMGPU_FAULT_RING_MIN ||
	    sdev->fault_entries > SVMGPU_FAULT_RING_MAX ||
	    !is_power_of_2(sdev->fault_entries) ||
	    svmgpu_read32(sdev, SVMGPU_REG_NUM_CONTEXTS) < SVMGPU_CTX_TABLE_ENTRIES) {
		drm_err(&sdev->drm, "unsupported geometry: %u queues, %u fault entries\n",
			sdev->num_queues, sdev->fault_entries);
		return -ENODEV;
	}
	return 0;
}

static int svmgpu_probe_device(struct pci_dev *pdev)
{
	struct svmgpu_device *sdev;
	int ret, nvec;

	sdev = devm_drm_dev_alloc(&pdev->dev, &svmgpu_drm_driver,
				  struct svmgpu_device, drm);
	if (IS_ERR(sdev))
		return PTR_ERR(sdev);
	sdev->pdev = pdev;
	pci_set_drvdata(pdev, sdev);
	sdev->mn_ops = svmgpu_mn_ops_template;
	ida_init(&sdev->ctx_ida);
	xa_init(&sdev->svms);
	mutex_init(&sdev->inval_lock);
	init_waitqueue_head(&sdev->inval_wq);
	init_waitqueue_head(&sdev->fault_done_wq);
	spin_lock_init(&sdev->hwq_lock);
	init_waitqueue_head(&sdev->hwq_wq);
	init_rwsem(&sdev->hw_sem);
	init_rwsem(&sdev->teardown_sem);
	init_waitqueue_head(&sdev->svm_wq);
	init_waitqueue_head(&sdev->inject_wq);
	mutex_init(&sdev->reset_lock);
	INIT_WORK(&sdev->recover_work, svmgpu_recover_work);
	svmgpu_recovery_init(sdev);
	svmgpu_sched_init(sdev);
	ret = init_srcu_struct(&sdev->unplug_srcu);
	if (ret)
		return ret;
	/* 23 characters at most (WQ_NAME_LEN): "svmgpu-flt-" and the BDF */
	sdev->fault_wq = alloc_workqueue("svmgpu-flt-%s", WQ_UNBOUND, 0, pci_name(pdev));
	ret = drmm_add_action_or_reset(&sdev->drm, svmgpu_drm_release, NULL);
	if (ret)
		return ret;
	if (!sdev->fault_wq)
		return -ENOMEM;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	svmgpu_probe_inject();
	ret = pcim_iomap_regions(pdev, BIT(SVMGPU_BAR_REGS), DRIVER_NAME);
	if (ret)
		return ret;
	sdev->regs = pcim_iomap_table(pdev)[SVMGPU_BAR_REGS];
	pci_set_master(pdev);
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(52));
	if (ret)
		return ret;

	sdev->hw_id = svmgpu_read32(sdev, SVMGPU_REG_ID);
	sdev->hw_version = svmgpu_read32(sdev, SVMGPU_REG_VERSION);
	if (sdev->hw_id != SVMGPU_ID_MAGIC) {
		dev_err(&pdev->dev, "unexpected ID register 0x%08x\n", sdev->hw_id);
		return -ENODEV;
	}
	if ((sdev->hw_version >> 16) != SVMGPU_VERSION_MAJOR) {
		dev_err(&pdev->dev, "unsupported device version %u.%u\n",
			sdev->hw_version >> 16, sdev->hw_version & 0xffff);
		return -ENODEV;
	}
	ret = svmgpu_read_params(sdev);
	if (ret)
		return ret;

	nvec = SVMGPU_NUM_VECTORS(sdev->num_queues);
	ret = pci_alloc_irq_vectors(pdev, nvec, nvec, PCI_IRQ_MSIX);
	if (ret < 0)
		return ret;

	ret = svmgpu_dax_init(sdev);
	if (ret)
		goto err_vectors;
	ret = svmgpu_devmem_init(sdev);
	if (ret)
		goto err_dax;
	ret = svmgpu_mem_init(sdev);
	if (ret)
		goto err_devmem;
	svmgpu_hw_quiesce(sdev);
	ret = svmgpu_irq_init(sdev);
	if (ret)
		goto err_mem;
	ret = svmgpu_hw_program(sdev);
	if (ret)
		goto err_irq;
	WRITE_ONCE(sdev->hw_ready, true);
	/* Config space as programmed, for error recovery (slot_reset). */
	pci_save_state(pdev);

	ret = drm_dev_register(&sdev->drm, 0);
	if (ret)
		goto err_hw;

	drm_info(&sdev->drm, "svmgpu %u.%u: %u queues, %u engines, caps 0x%x, %u fault entries\n",
		 sdev->hw_version >> 16, sdev->hw_version & 0xffff, sdev->num_queues,
		 sdev->num_engines, sdev->caps, sdev->fault_entries);
	return 0;

err_hw:
	down_write(&sdev->hw_sem);
	WRITE_ONCE(sdev->hw_ready, false);
	svmgpu_hw_quiesce(sdev);
	up_write(&sdev->hw_sem);
err_irq:
	/*
	 * What the device's interrupts or the programming queued meanwhile (a
	 * fatal error's hang work, the watchdog, the scheduler), before the
	 * vectors go (a reset disables and enables them): not ready, nothing
	 * queues it again.  devres frees sdev after this returns.
	 */
	cancel_work_sync(&sdev->recover_work);
	svmgpu_recovery_fini(sdev);
	svmgpu_sched_fini(sdev);
	svmgpu_irq_fini(sdev);
err_mem:
	svmgpu_hw_quiesce(sdev);
	svmgpu_mem_fini(sdev);
err_devmem:
	svmgpu_devmem_fini(sdev);
err_dax:
	svmgpu_dax_fini(sdev);
err_vectors:
	pci_free_irq_vectors(pdev);
	return ret;
}

static int svmgpu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	int ret = svmgpu_probe_device(pdev);

	svmgpu_probe_inject_end();
	return ret;
}

/*
 * Stop the device's DMA for good (removal, shutdown): under reset_lock and
 * hw_sem, so a reset under way finishes first, the device is quiesced
 * (fenced if it does not quiesce; not ready: a reset or suspend already
 * quiesced or fenced it) and left neither ready, in reset nor wedged, so
 * that nothing (a fence's recovery, a hang reset, the scheduler) brings it
 * back.  The recovery work is cancelled after: hw_ready is false, so no
 * invalidation fences the device and queues it again.
 */
static void svmgpu_hw_stop_for_good(struct svmgpu_device *sdev)
{
	mutex_lock(&sdev->reset_lock);
	down_write(&sdev->hw_sem);
	if (sdev->hw_ready && !svmgpu_hw_quiesce(sdev))
		svmgpu_hw_fence_dma(sdev, "not quiesced");
	WRITE_ONCE(sdev->hw_ready, false);
	WRITE_ONCE(sdev->in_reset, false);
	WRITE_ONCE(sdev->wedged, false);
	up_write(&sdev->hw_sem);
	mutex_unlock(&sdev->reset_lock);
	cancel_work_sync(&sdev->recover_work);
	svmgpu_recovery_fini(sdev);
}

/*
 * No section begins any more (svmgpu_dev_enter() fails), and the ones
 * begun have ended.
 */
static void svmgpu_dev_unplug(struct svmgpu_device *sdev)
{
	WRITE_ONCE(sdev->unplugged, true);
	synchronize_srcu(&sdev->unplug_srcu);
}

/**
 * svmgpu_dev_lock_mm() - take an mmap_lock without holding up the unplug
 * @sdev: the device
 * @mm: the address space
 * @write: for writing, else for reading
 * @idx: the caller's svmgpu_dev_enter() section
 *
 * The lock is tried first; when it is not free, the section is left while
 * the lock is waited for (killably) and begun again once it is had.  The
 * wait lasts as long as the holder, a fault of the process stuck in I/O
 * for one, or a writer queued behind it: the device's unbind must not
 * wait for it (it waits for its sections).  Nothing the section protects
 * (sdev->devmem, an svm's mirror) is touched between the two.
 *
 * Return: 0, the lock held, in a section; -EINTR (a fatal signal), in a
 * section, the lock not held; -ENODEV, unplugged meanwhile: neither the
 * lock nor a section held (@idx -1).
 */
int svmgpu_dev_lock_mm(struct svmgpu_device *sdev, struct mm_struct *mm, bool write,
		       int *idx)
{
	int ret;

	if (write ? mmap_write_trylock(mm) : mmap_read_trylock(mm))
		return 0;
	atomic64_inc(&sdev->stats.mm_lock_waits);
	svmgpu_dev_exit(&sdev->drm, *idx);
	ret = write ? mmap_write_lock_killable(mm) : mmap_read_lock_killable(mm);
	if (svmgpu_dev_enter(&sdev->drm, idx))
		return ret;
	*idx = -1;
	if (!ret) {
		if (write)
			mmap_write_unlock(mm);
		else
			mmap_read_unlock(mm);
	}
	return -ENODEV;
}

static void svmgpu_remove(struct pci_dev *pdev)
{
	struct svmgpu_device *sdev = pci_get_drvdata(pdev);

	/*
	 * No new ioctls (drm_ioctl() fails with -ENODEV), then wait for every
	 * section that uses the device (svmgpu_dev_enter(): ioctls, DAX
	 * faults and mmap(), PREFETCH chunks).  Sleeping parts of SUBMIT and
	 * WAIT are outside them: they end when their queue is stopped below.
	 */
	drm_dev_unplug(&sdev->drm);
	svmgpu_dev_unplug(sdev);
	/* No CPU fault maps device memory of DAX buffers again: remove them. */
	svmgpu_dax_unplug(sdev);

	/*
	 * Stop every address space while the hardware is still there, with
	 * last-context teardowns blocked (creation is: every CTX_CREATE
	 * creates inside svmgpu_dev_enter()), then reset the device so that
	 * it does no more DMA, and only then free what it used.  Teardowns in
	 * flight (their svms already out of the id table) kill their svm and
	 * take its fault records first; they wait for the fault work without
	 * teardown_sem, and touch no hardware after.  reset_lock: no
	 * debugfs or recovery reset runs meanwhile.  Not svmgpu_create_lock:
	 * creation on other devices goes on.
	 */
	down_write(&sdev->teardown_sem);
	svmgpu_svm_kill_all(sdev);
	svmgpu_hw_stop_for_good(sdev);
	svmgpu_sched_fini(sdev);
	svmgpu_irq_fini(sdev);
	/*
	 * Fault work is not waited for: it uses the device inside sections
	 * only, which svmgpu_dev_unplug() above waited for; one still waiting
	 * for an mmap_lock (a writer queued behind a fault stuck in I/O)
	 * finds the device unplugged and drops its records
	 * (svmgpu_fault_work()); its svm reference keeps the drm device, and
	 * with it sdev->fault_wq, until it ends.  (A last-context teardown
	 * waits for that reference holding neither teardown_sem nor a
	 * section: svmgpu_svm_put_ctx().)  Asynchronous PREFETCH work
	 * is not on svmgpu_wq either: svmgpu_dev_unplug() waited for the
	 * running chunk (svmgpu_prefetch.c).
	 */
	flush_workqueue(svmgpu_wq);
	svmgpu_mem_fini(sdev);
	up_write(&sdev->teardown_sem);
	/* The svms are dead: no device PTE maps local memory any more. */
	svmgpu_devmem_fini(sdev);
	svmgpu_dax_fini(sdev);
	pci_free_irq_vectors(pdev);
	pci_clear_master(pdev);
}

/*
 * Reboot, poweroff, kexec: the device stops all DMA and stays stopped, as
 * on removal (svmgpu_hw_stop_for_good()), so that nothing turns bus
 * mastering on again over memory a kexec'd kernel owns.  Processes may
 * still run: their ioctls find the device not ready.
 */
static void svmgpu_shutdown(struct pci_dev *pdev)
{
	struct svmgpu_device *sdev = pci_get_drvdata(pdev);

	if (!sdev)
		return;
	svmgpu_hw_stop_for_good(sdev);
	cancel_delayed_work_sync(&sdev->sched.work);
}

static const struct pci_device_id svmgpu_pci_ids[] = {
	{ PCI_DEVICE(SVMGPU_PCI_VENDOR_ID, SVMGPU_PCI_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, svmgpu_pci_ids);

static struct pci_driver svmgpu_pci_driver = {
	.name = DRIVER_NAME,
	.id_table = svmgpu_pci_ids,
	.probe = svmgpu_probe,
	.remove = svmgpu_remove,
	.shutdown = svmgpu_shutdown,
	.err_handler = &svmgpu_err_handlers,
	.driver.pm = pm_sleep_ptr(&svmgpu_pm_ops),
};

static int __init svmgpu_init(void)
{
	int ret;

	svmgpu_wq = alloc_workqueue("svmgpu", WQ_UNBOUND, 0);
	if (!svmgpu_wq)
		return -ENOMEM;
	ret = svmgpu_prefetch_init();
	if (ret)
		goto err_wq;
	ret = pci_register_driver(&svmgpu_pci_driver);
	if (ret)
		goto err_prefetch;
	return 0;

err_prefetch:
	svmgpu_prefetch_fini();
err_wq:
	destroy_workqueue(svmgpu_wq);
	return ret;
}

static void __exit svmgpu_exit(void)
{
	pci_unregister_driver(&svmgpu_pci_driver);
	/* Run every pending .free_notifier, then the work items they queued. */
	mmu_notifier_synchronize();
	destroy_workqueue(svmgpu_wq);
	svmgpu_prefetch_fini();
}

module_init(svmgpu_init);
module_exit(svmgpu_exit);

MODULE_DESCRIPTION(DRIVER_DESC);
MODULE_LICENSE("GPL");
