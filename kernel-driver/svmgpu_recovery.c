// SPDX-License-Identifier: GPL-2.0
/*
 * svmgpu recovery: the queue watchdog.
 *
 * While a hardware queue is bound, a delayed work item runs every
 * SVMGPU_WATCHDOG_MS and looks at each bound queue:
 *
 * - Interrupts that did not come: a completion record ahead of what the
 *   driver collected, or a queue halted in ERROR, that the previous tick
 *   already saw with the same completed seq, was not collected by its
 *   interrupt (dropped, or later than one period).  The watchdog services
 *   the queue as the interrupt thread would (svmgpu_queue_service()) and
 *   counts it in watchdog_polls: such completions arrive within two periods.
 * - Hangs: a queue's progress is its completed seq.  A queue with commands
 *   pending whose completed seq has not moved for hang_timeout_ms, measured
 *   from the later of its last progress and its bind, is hung unless it is
 *   stalled on a fault (the fault handler owns it: it replies or cancels),
 *   being preempted (preempt_timeout_ms is the scheduler's), or starved: a
 *   queue of a higher priority keeps its engine busy (strict priority per
 *   engine, hw-spec 16.3), so the clock runs only while it could progress.
 *   An endless kernel (within its budget), a WAIT never satisfied and an
 *   engine that stopped are all hangs.  svmgpu_queue_hang_reset() resets
 *   the queue alone; only if its engine does not let go is the device reset.
 * - Corrupt completion records (a seq never submitted, noticed by
 *   svmgpu_queue_update()): the queue is reset the same way.
 * - A fatal device error (ERROR_STATUS.FATAL) whose interrupt did not
 *   come: the device is reset (svmgpu_device_fatal()).
 * - Fault records not consumed on two ticks in a row (a dropped fault
 *   interrupt): the fault thread is woken (irq_wake_thread()).
 * - A queue stalled on a full fault ring while the ring has room, for
 *   SVMGPU_FAULT_STALL_MS (INJ_STALL_FAULT_RING: the device withholds fault
 *   records): the device is reset with replay (svmgpu_hang_work()).  A queue
 *   bound with nothing pending (its last interrupt dropped, WAIT collected
 *   the completion) gives its hardware queue back.
 * - A function that no longer answers config reads (pci_device_is_present():
 *   its slot powered off or the device unplugged behind the driver's back)
 *   is held until remove (svmgpu_device_lost(), from lost_work, which checks
 *   again under reset_lock) rather than reset against registers that read 0;
 *   hang_work does the same check before it resets.
 *
 * debugfs svmgpu_inject reads the device's INJ_* registers (hw-spec 15) and
 * writes one ("hang_queues 0x1", "drop_irqs 3", "inval_refuse 1",
 * "corrupt_compl 1", "fatal 1", "stall_fault_ring 1", "enable_refuse 1"):
 * svmgpu-reg inject drives it.
 *
 * Lock order: nothing is held across a tick; per queue, sdev->hw_sem (read)
 * then q->lock as in svmgpu_fence.c, and the hang reset takes
 * q->submit_lock with nothing held (svmgpu_queue.c).
 */
#include <linux/debugfs.h>
#include <linux/interrupt.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <drm/drm_file.h>
#include <drm/drm_print.h>

#include "svmgpu_blit.h"
#include "svmgpu_drv.h"

#define SVMGPU_WATCHDOG_MS	100
/*
 * A stall on a fault ring with room this long is the device's (hw-spec 15);
 * a fault record the device just wrote is consumed within a few ticks.
 */
#define SVMGPU_FAULT_STALL_MS	1000

unsigned int svmgpu_hang_timeout_ms = 10000;
module_param_named(hang_timeout_ms, svmgpu_hang_timeout_ms, uint, 0644);
MODULE_PARM_DESC(hang_timeout_ms,
		 "Reset a queue whose commands made no progress for this long, failing them with DRM_SVMGPU_ERR_HANG (ms, 0 = never; default 10000)");

/* The completion record's seq is ahead of what was collected.  Caller holds q->lock. */
static bool svmgpu_compl_ahead(struct svmgpu_queue *q)
{
	u64 seq;

	lockdep_assert_held(&q->lock);
	if (!q->compl)
		return false;
	seq = le64_to_cpu(READ_ONCE(*(__le64 *)&q->compl->seq)) - q->seq_base;
	return seq > q->completed_seq && seq <= q->last_seq;
}

/*
 * Whether a bound queue of a higher Q_PRIORITY keeps the engine of hardware
 * queue @i busy (hw-spec 16.3: strict priority per engine, queue q on
 * engine q mod NUM_ENGINES): enabled, not idle, and neither in a WAIT nor
 * stalled nor halted (those leave the engine to the lower queues).  A queue
 * so starved could not make progress: its hang clock does not run.  The
 * driver's copy queue counts too (svmgpu_blit_starves()).  Only
 * with the scheduler, which writes Q_PRIORITY.  Caller is inside
 * svmgpu_hw_enter().
 */
static bool svmgpu_watchdog_starved(struct svmgpu_device *sdev, u32 i, u32 prio)
{
	const u32 idle = SVMGPU_Q_STATUS_IDLE | SVMGPU_Q_STATUS_WAITING |
			 SVMGPU_Q_STATUS_FAULT_STALL | SVMGPU_Q_STATUS_RING_FULL_STALL |
			 SVMGPU_Q_STATUS_ERROR | SVMGPU_Q_STATUS_PREEMPTED;
	u32 engines = max(sdev->num_engines, 1U), j, status;
	bool starved = false;

	if (!sdev->sched.enabled)
		return false;
	for (j = i % engines; j < sdev->num_queues && !starved; j += engines) {
		struct svmgpu_queue *o;

		if (j == i)
			continue;
		o = svmgpu_hwq_get(sdev, j);
		if (!o)
			continue;
		if (o->prio > prio && READ_ONCE(o->hw_live)) {
			status = svmgpu_read32(sdev, SVMGPU_REG_Q(j, SVMGPU_Q_STATUS));
			starved = (status & SVMGPU_Q_STATUS_ENABLED) && !(status & idle);
		}
		svmgpu_queue_put(o);
	}
	/* The driver's copy queue (migrations) outranks it on its engine. */
	if (!starved)
		starved = svmgpu_blit_starves(svmgpu_devmem_blit(sdev), i, prio, engines);
	return starved;
}

/*
 * One tick for queue @q bound to hardware queue @i.  Return: false if the
 * hardware is gone (the watchdog stops).
 */
static bool svmgpu_watchdog_check(struct svmgpu_device *sdev, u32 i,
				  struct svmgpu_queue *q, unsigned int timeout_ms)
{
	bool pending, lost, stalled, starved, corrupt, hung = false;
	u32 status, gen;

	if (!svmgpu_hw_enter(sdev))
		return false;
	status = svmgpu_read32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_STATUS));
	spin_lock(&q->lock);
	pending = q->hw_live && !q->stopped && READ_ONCE(q->hwq) == i &&
		  ((status & SVMGPU_Q_STATUS_ERROR) || svmgpu_compl_ahead(q));
	lost = pending && q->wd_pending && q->wd_seq == q->completed_seq;
	q->wd_pending = pending && !lost;
	spin_unlock(&q->lock);
	if (lost) {
		atomic64_inc(&sdev->stats.watchdog_polls);
		drm_dbg(&sdev->drm, "hw queue %u: completion without interrupt, polled\n", i);
		svmgpu_queue_service(sdev, i, q);
	}
	starved = svmgpu_watchdog_starved(sdev, i, q->prio);
	svmgpu_hw_exit(sdev);
	/* Idle but bound: its last completion was not collected by an interrupt. */
	if (lost || READ_ONCE(q->completed_seq) == READ_ONCE(q->last_seq))
		svmgpu_queue_unbind_idle(q);

	stalled = status & (SVMGPU_Q_STATUS_FAULT_STALL | SVMGPU_Q_STATUS_RING_FULL_STALL);
	spin_lock(&q->lock);
	corrupt = q->compl_corrupt && !q->stopped;
	if (corrupt) {
		hung = false;
	} else if (q->completed_seq != q->wd_seq || q->completed_seq == q->last_seq ||
		   stalled || starved || q->stopped || q->preempting || !q->hw_live) {
		/*
		 * A queue being preempted is the scheduler's (preempt_timeout_ms).
		 * Not live: claimed but not started yet (q->hwq is set before
		 * svmgpu_queue_hw_start() sets the clock), its clock is stale.
		 * Starved by a higher priority on its engine: not its fault.
		 */
		q->wd_seq = q->completed_seq;
		q->wd_stamp = jiffies;
	} else if (timeout_ms && READ_ONCE(q->hwq) == i &&
		   time_after(jiffies, q->wd_stamp + msecs_to_jiffies(timeout_ms))) {
		hung = true;
	}
	gen = q->bind_gen;
	spin_unlock(&q->lock);
	if (hung || corrupt)
		svmgpu_queue_hang_reset(q, i, gen, corrupt);
	return true;
}

/*
 * Fault records the fault thread has not consumed, unchanged since the last
 * tick: their interrupt did not come; wake the thread.
 *
 * A queue stalled on a full fault ring (Q_STATUS.RING_FULL_STALL) while the
 * ring has room (FAULT_PUT - FAULT_GET < FAULT_RING_ENTRIES), both
 * unchanged, for SVMGPU_FAULT_STALL_MS: the device withholds its fault records
 * (INJ_STALL_FAULT_RING, hw-spec 15), nothing the driver can reply to will
 * come.  Recovery is a device reset with replay, as for a fatal error: the
 * bound queues are saved first (a PREEMPT drops the stall, the faulting
 * step is retried on resume) and resumed after it.  Caller is inside
 * svmgpu_hw_enter().
 */
static void svmgpu_watchdog_faults(struct svmgpu_device *sdev)
{
	u32 put = svmgpu_read32(sdev, SVMGPU_REG_FAULT_PUT);
	u32 get = READ_ONCE(sdev->fault_get);
	u32 i, hw_get, hw_put;
	bool stall = false;

	if (put != get && put == sdev->wd_fault_put && get == sdev->wd_fault_get) {
		atomic64_inc(&sdev->stats.watchdog_polls);
		irq_wake_thread(sdev->irq[SVMGPU_VEC_FAULT], &sdev->vec[SVMGPU_VEC_FAULT]);
	}
	sdev->wd_fault_put = put;
	sdev->wd_fault_get = get;

	/*
	 * Occupancy from a fresh GET and then PUT: a PUT read before a later
	 * GET could show a full ring as having room.  The ring must be
	 * unchanged for the whole interval too: records still move (a slow
	 * fault thread) is not a device withholding them.
	 */
	hw_get = svmgpu_read32(sdev, SVMGPU_REG_FAULT_GET);
	hw_put = svmgpu_read32(sdev, SVMGPU_REG_FAULT_PUT);
	if (hw_put - hw_get < sdev->fault_entries)
		for (i = 0; i < sdev->num_queues && !stall; i++)
			stall = svmgpu_read32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_STATUS)) &
				SVMGPU_Q_STATUS_RING_FULL_STALL;
	if (!stall || hw_get != sdev->wd_stall_get || hw_put != sdev->wd_stall_put)
		sdev->wd_fault_stall = 0;
	sdev->wd_stall_get = hw_get;
	sdev->wd_stall_put = hw_put;
	if (!stall)
		return;
	if (!sdev->wd_fault_stall) {
		sdev->wd_fault_stall = jiffies | 1;
	} else if (time_after(jiffies, sdev->wd_fault_stall +
			      msecs_to_jiffies(SVMGPU_FAULT_STALL_MS))) {
		drm_err(&sdev->drm, "a queue stalls on a fault ring with room for %u ms: the device withholds fault records\n",
			SVMGPU_FAULT_STALL_MS);
		sdev->wd_fault_stall = 0;
		atomic64_inc(&sdev->fault_stall_resets);
		svmgpu_request_reset(sdev);
	}
}

static void svmgpu_watchdog_work(struct work_struct *work)
{
	struct svmgpu_device *sdev = container_of(to_delayed_work(work),
						  struct svmgpu_device, watchdog);
	unsigned int timeout_ms = READ_ONCE(svmgpu_hang_timeout_ms);
	bool busy = false, ready = true;
	u32 i;

	if (svmgpu_hw_enter(sdev)) {
		if (!pci_device_is_present(sdev->pdev)) {
			queue_work(svmgpu_wq, &sdev->lost_work);
			svmgpu_hw_exit(sdev);
			return;
		}
		/* A fatal error whose interrupt did not come. */
		if (svmgpu_read32(sdev, SVMGPU_REG_ERROR_STATUS) & SVMGPU_ERROR_FATAL)
			svmgpu_device_fatal(sdev);
		svmgpu_watchdog_faults(sdev);
		svmgpu_hw_exit(sdev);
	}
	for (i = 0; i < sdev->num_queues && ready; i++) {
		struct svmgpu_queue *q = svmgpu_hwq_get(sdev, i);

		if (!q)
			continue;
		busy = true;
		ready = svmgpu_watchdog_check(sdev, i, q, timeout_ms);
		svmgpu_queue_put(q);
	}
	/* Under hw_sem: removal cancels the work after hw_ready went false. */
	if (busy && ready && svmgpu_hw_enter(sdev)) {
		svmgpu_watchdog_kick(sdev);
		svmgpu_hw_exit(sdev);
	}
}

/**
 * svmgpu_watchdog_kick() - make sure the watchdog runs
 * @sdev: the device
 *
 * Called when a hardware queue is bound.  Caller is inside svmgpu_hw_enter().
 */
void svmgpu_watchdog_kick(struct svmgpu_device *sdev)
{
	queue_delayed_work(svmgpu_wq, &sdev->watchdog,
			   msecs_to_jiffies(SVMGPU_WATCHDOG_MS));
}

/* A hung queue's engine did not let go of it, or a fatal error: reset the device. */
static void svmgpu_hang_work(struct work_struct *work)
{
	struct svmgpu_device *sdev = container_of(work, struct svmgpu_device, hang_work);

	if (svmgpu_device_lost(sdev))
		return;
	drm_err(&sdev->drm, "resetting the device (a hung queue did not stop, a fatal error or a stalled fault ring)\n");
	/* Healthy queues are saved first and replayed after it. */
	svmgpu_device_reset_since(sdev, true, atomic64_read(&sdev->hang_gen));
}

/**
 * svmgpu_request_reset() - have hang_work reset the device (with replay)
 * @sdev: the device
 *
 * Call after the cause was seen: hang_work skips its reset if one
 * completed since (its own reset of the device then followed the cause,
 * as a reset resets and counts itself with hw_sem held for writing; a
 * caller inside svmgpu_hw_enter() cannot read the count in between).
 */
void svmgpu_request_reset(struct svmgpu_device *sdev)
{
	svmgpu_request_reset_since(sdev, atomic64_read(&sdev->stats.resets));
}

/**
 * svmgpu_request_reset_since() - svmgpu_request_reset() for a cause seen at
 *	reset count @gen
 * @sdev: the device
 * @gen: stats.resets read when the cause was seen, inside svmgpu_hw_enter()
 */
void svmgpu_request_reset_since(struct svmgpu_device *sdev, u64 gen)
{
	s64 old = atomic64_read(&sdev->hang_gen);

	/*
	 * Never backwards: a caller's cause may be older than a request made
	 * after a reset since (that reset then served it as well).
	 */
	while (old < (s64)gen && !atomic64_try_cmpxchg(&sdev->hang_gen, &old, gen))
		;
	queue_work(svmgpu_wq, &sdev->hang_work);
}

/*
 * The watchdog saw the function not answer config reads, and stopped.  If
 * it answers again (a moment's absence: a link retraining), the watchdog
 * goes on; its next tick stops it if no queue is bound.
 */
static void svmgpu_lost_work(struct work_struct *work)
{
	struct svmgpu_device *sdev = container_of(work, struct svmgpu_device, lost_work);

	if (!svmgpu_device_lost(sdev) && svmgpu_hw_enter(sdev)) {
		svmgpu_watchdog_kick(sdev);
		svmgpu_hw_exit(sdev);
	}
}

/**
 * svmgpu_device_fatal() - the device reported ERROR_STATUS.FATAL
 * @sdev: the device
 *
 * Its engines stopped until a reset (hw-spec 15): reset it from a work
 * item.  Queues with work fail with DRM_SVMGPU_ERR_RESET.  Caller is inside
 * svmgpu_hw_enter(); counted once per reset.
 */
void svmgpu_device_fatal(struct svmgpu_device *sdev)
{
	/* Once until the reset it asks for is done (interrupt and watchdog). */
	if (!atomic_xchg(&sdev->fatal_pending, 1)) {
		svmgpu_request_reset(sdev);
		atomic64_inc(&sdev->stats.fatal_errors);
		drm_err(&sdev->drm, "fatal device error\n");
	}
}

/**
 * svmgpu_recovery_init() - set up the watchdog (probe)
 * @sdev: the device
 */
void svmgpu_recovery_init(struct svmgpu_device *sdev)
{
	INIT_DELAYED_WORK(&sdev->watchdog, svmgpu_watchdog_work);
	INIT_WORK(&sdev->hang_work, svmgpu_hang_work);
	INIT_WORK(&sdev->lost_work, svmgpu_lost_work);
}

/**
 * svmgpu_recovery_fini() - stop the watchdog (remove, after hw_ready went false)
 * @sdev: the device
 */
void svmgpu_recovery_fini(struct svmgpu_device *sdev)
{
	cancel_delayed_work_sync(&sdev->watchdog);
	cancel_work_sync(&sdev->hang_work);
	cancel_work_sync(&sdev->lost_work);
}

static const struct {
	const char *name;
	u32 reg;
} svmgpu_inject_regs[] = {
	{ "hang_queues", SVMGPU_REG_INJ_HANG_QUEUES },
	{ "drop_irqs", SVMGPU_REG_INJ_DROP_IRQS },
	{ "inval_refuse", SVMGPU_REG_INJ_INVAL_REFUSE },
	{ "corrupt_compl", SVMGPU_REG_INJ_CORRUPT_COMPL },
	{ "fatal", SVMGPU_REG_INJ_FATAL },
	{ "stall_fault_ring", SVMGPU_REG_INJ_STALL_FAULT_RING },
	{ "enable_refuse", SVMGPU_REG_INJ_ENABLE_REFUSE },
};

/* debugfs svmgpu_inject: the device's INJ_* registers (hw-spec 15). */
static int svmgpu_inject_show(struct seq_file *m, void *unused)
{
	struct svmgpu_device *sdev = m->private;
	unsigned int i;

	if (!svmgpu_hw_enter(sdev))
		return -ENODEV;
	for (i = 0; i < ARRAY_SIZE(svmgpu_inject_regs); i++)
		seq_printf(m, "%s: 0x%x\n", svmgpu_inject_regs[i].name,
			   svmgpu_read32(sdev, svmgpu_inject_regs[i].reg));
	seq_printf(m, "injected: %llu\n", svmgpu_read64(sdev, SVMGPU_REG_CNT_INJECTED));
	seq_printf(m, "fault_stall_resets: %lld\n", atomic64_read(&sdev->fault_stall_resets));
	svmgpu_hw_exit(sdev);
	return 0;
}

static int svmgpu_inject_open(struct inode *inode, struct file *f)
{
	return single_open(f, svmgpu_inject_show, inode->i_private);
}

/* "NAME VALUE": write VALUE to the INJ_ register NAME. */
static ssize_t svmgpu_inject_write_reg(struct file *f, const char __user *ubuf,
				       size_t len, loff_t *ppos)
{
	struct svmgpu_device *sdev = file_inode(f)->i_private;
	char buf[48], *val;
	unsigned int i;
	u32 v;
	int ret;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = 0;
	val = strchr(buf, ' ');
	if (!val)
		return -EINVAL;
	*val++ = 0;
	ret = kstrtou32(strim(val), 0, &v);
	if (ret)
		return ret;
	for (i = 0; i < ARRAY_SIZE(svmgpu_inject_regs); i++)
		if (!strcmp(buf, svmgpu_inject_regs[i].name))
			break;
	if (i == ARRAY_SIZE(svmgpu_inject_regs))
		return -EINVAL;
	if (!svmgpu_hw_enter(sdev))
		return -ENODEV;
	svmgpu_write32(sdev, svmgpu_inject_regs[i].reg, v);
	svmgpu_hw_exit(sdev);
	return len;
}

static const struct file_operations svmgpu_inject_reg_fops = {
	.owner = THIS_MODULE,
	.open = svmgpu_inject_open,
	.read = seq_read,
	.write = svmgpu_inject_write_reg,
	.llseek = seq_lseek,
	.release = single_release,
};

/**
 * svmgpu_recovery_debugfs_init() - debugfs svmgpu_inject of a DRM minor
 * @minor: the minor
 */
void svmgpu_recovery_debugfs_init(struct drm_minor *minor)
{
	debugfs_create_file("svmgpu_inject", 0600, minor->debugfs_root,
			    to_svmgpu(minor->dev), &svmgpu_inject_reg_fops);
}
