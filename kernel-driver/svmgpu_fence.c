// SPDX-License-Identifier: GPL-2.0
/*
 * svmgpu command submission and completion: 64-bit sequence numbers.
 *
 * Why not dma_fence: a command may fault and wait for hmm_range_fault(),
 * which allocates memory and waits for page locks and I/O.  A dma_fence must
 * signal without such dependencies (Documentation/driver-api/dma-buf.rst,
 * "Indefinite DMA Fences" and "Recoverable Hardware Page Faults
 * Implications"), so exporting one would let reclaim wait on a fence that
 * waits on reclaim.  Commands therefore complete through per-queue sequence
 * numbers: SUBMIT returns the seq of the last command; WAIT sleeps until the
 * queue's completion record reaches a seq.  The device writes the completion
 * record (its seq last) and raises the queue vector for every command,
 * because the driver sets SVMGPU_CMD_FLAG_IRQ on each.
 *
 * A failed command halts the hardware queue; the queue vector's thread logs
 * the failure (Q_ERROR_*) in the queue's error log and resumes the queue at
 * the next command (CLEAR_ERROR).  WAIT reports logged failures.  When a
 * completion leaves the queue idle, the thread gives its hardware queue
 * back; SUBMIT borrows one again.
 *
 * SUBMIT with DRM_SVMGPU_SUBMIT_EVENT reserves a DRM event on the file
 * (drm_event_reserve_init_locked(), within the file's event space) and
 * queues it on q->events; svmgpu_queue_signal_events() sends it with
 * drm_send_event() once its last command completed or the queue's stop
 * disabled its hardware queue (q->stop_done), which svmgpu_queue_stop()
 * guarantees by flushing them all.  When the file closes first, the DRM
 * core unlinks its pending events (file_priv = NULL) before postclose
 * destroys the queues, whose flush then frees them.
 *
 * SUBMIT waits for room in the ring (and for a hang reset, q->hang_reset,
 * to end) without q->submit_lock, then takes it and checks again.  Only
 * without the scheduler does it sleep holding it, for a free hardware
 * queue (svmgpu_queue_bind()), and a hang reset of the queue's previous
 * binding wakes it to let go.  The scheduler work, the hang reset and a device
 * reset take it to preempt, save or fail the queue, and a preempted queue
 * makes no room until they have resumed it.
 *
 * Lock order: q->submit_lock, sdev->hw_sem (read), q->lock, then (not
 * nested: events are sent after q->lock is dropped) drm->event_lock.
 */
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <drm/drm_drv.h>
#include <drm/drm_print.h>
#include <uapi/drm/svmgpu_drm.h>

#include "svmgpu_drv.h"
#include "svmgpu_trace.h"

/**
 * struct svmgpu_event - a completion event of one submission
 * @base: the DRM pending event; first, as drm_send_event() kfree()s it
 * @ev: what read() returns
 * @link: in q->events, protected by q->lock
 */
struct svmgpu_event {
	struct drm_pending_event base;
	struct drm_svmgpu_event_complete ev;
	struct list_head link;
};

/*
 * The earliest logged failure with a seq in [@first, @last] into *@err (its
 * entry, with @err->seq that failure's), and how many there are; false if
 * none.  Caller holds q->lock.
 */
static bool svmgpu_queue_find_err(struct svmgpu_queue *q, u64 first, u64 last,
				  struct svmgpu_err *err, u32 *count)
{
	u64 i, lo, hi, n = 0, nerrs = q->nerrs;
	bool found = false;

	lockdep_assert_held(&q->lock);
	for (i = nerrs > SVMGPU_ERROR_LOG ? nerrs - SVMGPU_ERROR_LOG : 0; i < nerrs; i++) {
		const struct svmgpu_err *e = &q->errs[i % SVMGPU_ERROR_LOG];

		lo = max(e->seq, first);
		hi = min(e->last, last);
		if (lo > hi)
			continue;
		if (!found || lo < err->seq) {
			*err = *e;
			err->seq = lo;
			found = true;
		}
		n += hi - lo + 1;
	}
	*count = min_t(u64, n, U32_MAX);
	return found;
}

/**
 * svmgpu_queue_signal_events() - send the events of completed submissions
 * @q: the queue
 *
 * Once the stop of the queue has disabled its hardware queue, sends every
 * pending event, with result -ECANCELED for a submission that did not
 * complete.
 */
void svmgpu_queue_signal_events(struct svmgpu_queue *q)
{
	struct svmgpu_event *e, *tmp;
	struct svmgpu_err err;
	LIST_HEAD(done);

	spin_lock(&q->lock);
	list_for_each_entry_safe(e, tmp, &q->events, link) {
		struct drm_svmgpu_event_complete *ev = &e->ev;

		/*
		 * Not before the stop has disabled the hardware queue (as
		 * WAIT): the command may still be writing the buffer the
		 * process reuses once the event arrives.
		 */
		if (ev->seq > q->completed_seq && !q->stop_done)
			break;
		if (svmgpu_queue_find_err(q, ev->first_seq, ev->seq, &err, &ev->nr_errors)) {
			ev->err_seq = err.seq;
			ev->err_va = err.va;
			ev->err_code = err.code;
			ev->err_access = SVMGPU_ERROR_INFO_ACCESS(err.info);
			ev->err_reason = SVMGPU_ERROR_INFO_REASON(err.info);
		}
		ev->completed_seq = q->completed_seq;
		ev->result = q->completed_seq >= ev->seq ? 0 : -ECANCELED;
		list_move_tail(&e->link, &done);
	}
	spin_unlock(&q->lock);
	list_for_each_entry_safe(e, tmp, &done, link) {
		list_del(&e->link);
		drm_send_event(&q->sdev->drm, &e->base);
	}
}

/*
 * Reserve an event of @file for a submission of queue @handle, or return
 * an ERR_PTR: -ENOSPC when the file's event space is used up.
 */
static struct svmgpu_event *svmgpu_event_reserve(struct drm_device *drm,
						 struct drm_file *file, u32 handle,
						 u64 user_data)
{
	struct svmgpu_event *e;
	unsigned long flags;
	int ret = -ENOSPC;

	e = kzalloc(sizeof(*e), GFP_KERNEL_ACCOUNT);
	if (!e)
		return ERR_PTR(-ENOMEM);
	e->ev.base.type = DRM_SVMGPU_EVENT_COMPLETE;
	e->ev.base.length = sizeof(e->ev);
	e->ev.user_data = user_data;
	e->ev.queue_handle = handle;
	INIT_LIST_HEAD(&e->link);
	/* Under event_lock, so that -ENOSPC is the only "no room" answer. */
	spin_lock_irqsave(&drm->event_lock, flags);
	if (file->event_space >= sizeof(e->ev))
		ret = drm_event_reserve_init_locked(drm, file, &e->base, &e->ev.base);
	spin_unlock_irqrestore(&drm->event_lock, flags);
	if (ret) {
		kfree(e);
		return ERR_PTR(ret);
	}
	return e;
}

/*
 * Record the failures of commands @seq to @last once, as one entry.  Caller
 * holds q->lock.
 */
static void svmgpu_queue_log_errors(struct svmgpu_queue *q, u64 seq, u64 last, u32 code,
				    u64 va, u32 info)
{
	struct svmgpu_err *e;

	lockdep_assert_held(&q->lock);
	seq = max(seq, q->last_err_seq + 1);
	last = min(last, q->last_seq);
	if (seq > last)
		return;
	e = &q->errs[q->nerrs % SVMGPU_ERROR_LOG];
	e->seq = seq;
	e->last = last;
	e->code = code;
	e->va = va;
	e->info = info;
	q->nerrs++;
	q->last_err_seq = last;
	atomic64_add(last - seq + 1, &q->ctx->cnt[SVMGPU_CS_FAILED]);
}

/* Record one failure once.  Caller holds q->lock. */
static void svmgpu_queue_log_error(struct svmgpu_queue *q, u64 seq, u32 code,
				   u64 va, u32 info)
{
	svmgpu_queue_log_errors(q, seq, seq, code, va, info);
}

/**
 * svmgpu_queue_update() - pick up completions from the completion record
 * @q: the queue
 *
 * The device writes the record's error fields before its seq, so a failure
 * is logged here before WAIT can see its command complete.
 */
void svmgpu_queue_update(struct svmgpu_queue *q)
{
	struct svmgpu_completion *c;
	bool woke = false;
	u64 seq = 0, raw;

	spin_lock(&q->lock);
	c = q->compl;
	if (c) {
		raw = le64_to_cpu(READ_ONCE(*(__le64 *)&c->seq));
		seq = raw - q->seq_base;
		dma_rmb();	/* the rest of the record was written before seq */
		if (seq > q->completed_seq && seq <= q->last_seq) {
			u64 err_seq = le64_to_cpu(READ_ONCE(*(__le64 *)&c->err_seq)) -
				      q->seq_base;

			if (err_seq && err_seq <= seq)
				svmgpu_queue_log_error(q, err_seq, READ_ONCE(c->err_code),
						       READ_ONCE(c->err_va),
						       READ_ONCE(c->err_info));
			q->completed_seq = seq;
			/*
			 * A good record written after a corrupt one replaces
			 * it: the watchdog must not reset the queue for it
			 * later, failing commands submitted since.
			 */
			q->compl_corrupt = false;
			woke = true;
		} else if (seq > q->last_seq && raw && !q->compl_corrupt) {
			/*
			 * A seq never submitted (0 is a record not yet
			 * written): the record cannot be trusted.  The
			 * watchdog resets the queue.
			 */
			q->compl_corrupt = true;
			drm_err_ratelimited(&q->sdev->drm,
					    "queue %u: corrupt completion record (seq 0x%llx)\n",
					    q->handle, raw);
		}
	}
	spin_unlock(&q->lock);
	if (woke) {
		trace_svmgpu_complete(q->hwq, seq);
		wake_up_all(&q->wq);
		svmgpu_queue_signal_events(q);
	}
}

/**
 * svmgpu_queue_fail_locked() - log @code for every command not yet completed
 * @q: the queue, whose engine has let go of it
 * @code: the error code to log
 *
 * Counts them complete; the caller wakes the waiters.  Caller holds q->lock.
 */
void svmgpu_queue_fail_locked(struct svmgpu_queue *q, u32 code)
{
	lockdep_assert_held(&q->lock);
	svmgpu_queue_log_errors(q, q->completed_seq + 1, q->last_seq, code, 0, 0);
	q->completed_seq = q->last_seq;
}

/**
 * svmgpu_queue_fail_pending() - fail every command not yet completed
 * @q: the queue
 * @code: the error code to log (DRM_SVMGPU_ERR_RESET)
 *
 * Used when a reset abandons the commands of a queue.  A queue already
 * stopped is left alone: its context may be gone (QUEUE_DESTROY stops the
 * queue, then CTX_DESTROY frees the context), and a queue reference does not
 * keep the context alive.
 */
void svmgpu_queue_fail_pending(struct svmgpu_queue *q, u32 code)
{
	spin_lock(&q->lock);
	if (q->stopped) {
		spin_unlock(&q->lock);
		return;
	}
	svmgpu_queue_fail_locked(q, code);
	spin_unlock(&q->lock);
	wake_up_all(&q->wq);
	svmgpu_queue_signal_events(q);
}

/**
 * svmgpu_queue_fail_one() - fail the command a queue halted on, not rerun it
 * @q: the queue, unbound
 * @seq: that command's seq (Q_ERROR_SEQ less seq_base; if 0 or not pending,
 *	the first pending command)
 * @code: the error code to log (DRM_SVMGPU_ERR_SAVE_AREA)
 * @va: the error address
 *
 * Logs the failure and counts the commands up to @seq complete (the device
 * ran those before it), so that a fresh start runs the next one.  Caller
 * holds q->submit_lock.
 */
void svmgpu_queue_fail_one(struct svmgpu_queue *q, u64 seq, u32 code, u64 va)
{
	spin_lock(&q->lock);
	if (q->stopped || q->completed_seq == q->last_seq) {
		spin_unlock(&q->lock);
		return;
	}
	if (seq <= q->completed_seq || seq > q->last_seq)
		seq = q->completed_seq + 1;
	svmgpu_queue_log_error(q, seq, code, va, 0);
	q->completed_seq = seq;
	spin_unlock(&q->lock);
	wake_up_all(&q->wq);
	svmgpu_queue_signal_events(q);
}

/**
 * svmgpu_queue_service() - collect what hardware queue @i did for @q
 * @sdev: the device
 * @i: the hardware queue
 * @q: the queue bound to it
 *
 * Logs a failure and resumes the queue at the next command, collects
 * completions.  Run by the queue and error interrupt threads and by the
 * watchdog for an interrupt that did not come.  Caller is inside
 * svmgpu_hw_enter().
 */
void svmgpu_queue_service(struct svmgpu_device *sdev, u32 i, struct svmgpu_queue *q)
{
	u32 status, code = 0, info = 0;
	u64 seq = 0, va = 0;
	bool failed = false, restart = false;

	/*
	 * Under q->lock, hw_live says the hardware queue runs @q's ring: an
	 * error of its previous borrower, or one racing with an unbind, is not
	 * @q's, and resuming would re-enable a queue being (re)programmed.
	 */
	spin_lock(&q->lock);
	status = svmgpu_read32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_STATUS));
	if ((status & SVMGPU_Q_STATUS_ERROR) && q->hw_live && !q->stopped &&
	    READ_ONCE(q->hwq) == i) {
		code = svmgpu_read32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_ERROR_CODE));
		info = svmgpu_read32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_ERROR_INFO));
		va = svmgpu_read64(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_ERROR_VA));
		seq = svmgpu_read64(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_ERROR_SEQ));
		/* 0: a RESUME refused with its area unreadable, logged by the scheduler */
		if (seq) {
			seq -= q->seq_base;
			svmgpu_queue_log_error(q, seq, code, va, info);
		}
		/*
		 * Resume at the next command.  Not after a failed save or a
		 * refused RESUME (ERR_SAVE_AREA; a failed save also disables
		 * the queue): CLEAR_ERROR there restarts at a stale head or
		 * re-runs the saved command from scratch.  The scheduler
		 * fails that one command and restarts the queue behind it
		 * (svmgpu_sched_restart()).
		 */
		if ((status & SVMGPU_Q_STATUS_ENABLED) && code != SVMGPU_ERR_SAVE_AREA)
			svmgpu_write32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_CONTROL),
				       SVMGPU_Q_CONTROL_ENABLE |
				       SVMGPU_Q_CONTROL_CLEAR_ERROR);
		else
			restart = true;
		failed = true;
	}
	spin_unlock(&q->lock);
	if (restart)
		svmgpu_sched_kick(sdev);
	if (failed) {
		trace_svmgpu_cmd_error(i, seq, code, va, info);
		drm_dbg(&sdev->drm, "queue %u: command %llu failed: error %u va 0x%llx info 0x%x\n",
			i, seq, code, va, info);
	}
	svmgpu_queue_update(q);
}

/**
 * svmgpu_queue_irq_thread() - threaded handler of a queue vector
 * @irq: the interrupt
 * @arg: the struct svmgpu_vec of the vector
 *
 * Return: IRQ_HANDLED.
 */
irqreturn_t svmgpu_queue_irq_thread(int irq, void *arg)
{
	struct svmgpu_vec *vec = arg;
	struct svmgpu_device *sdev = vec->sdev;
	u32 i = vec->index - SVMGPU_VEC_QUEUE(0);
	struct svmgpu_queue *q;

	if (!svmgpu_hw_enter(sdev))
		return IRQ_HANDLED;
	svmgpu_write32(sdev, SVMGPU_REG_INTR_STATUS, SVMGPU_INTR_QUEUE(i));
	q = svmgpu_hwq_get(sdev, i);
	if (q)
		svmgpu_queue_service(sdev, i, q);
	svmgpu_hw_exit(sdev);
	/* A preemption done: the scheduler gives the hardware queue on. */
	if (q && READ_ONCE(q->preempting))
		svmgpu_sched_kick(sdev);
	if (q) {
		/* Out of hw_sem: unbinding enters it again. */
		svmgpu_queue_unbind_idle(q);
		svmgpu_queue_put(q);
	}
	return IRQ_HANDLED;
}

/**
 * svmgpu_error_irq_thread() - threaded handler of the error vector
 * @irq: the interrupt
 * @arg: the device
 *
 * Return: IRQ_HANDLED.
 */
irqreturn_t svmgpu_error_irq_thread(int irq, void *arg)
{
	struct svmgpu_device *sdev = arg;
	u32 err, i;

	if (!svmgpu_hw_enter(sdev))
		return IRQ_HANDLED;
	svmgpu_write32(sdev, SVMGPU_REG_INTR_STATUS, SVMGPU_INTR_ERROR);
	err = svmgpu_read32(sdev, SVMGPU_REG_ERROR_STATUS);
	svmgpu_write32(sdev, SVMGPU_REG_ERROR_STATUS, err);
	atomic64_inc(&sdev->stats.errors);
	if (err & SVMGPU_ERROR_QUEUE) {
		for (i = 0; i < sdev->num_queues; i++) {
			struct svmgpu_queue *q = svmgpu_hwq_get(sdev, i);

			if (!q)
				continue;
			svmgpu_queue_service(sdev, i, q);
			svmgpu_queue_put(q);
		}
	}
	if (err & SVMGPU_ERROR_FATAL)
		svmgpu_device_fatal(sdev);
	if (err & ~(SVMGPU_ERROR_QUEUE | SVMGPU_ERROR_FAULT_RING_FULL))
		drm_err_ratelimited(&sdev->drm, "device error 0x%x at 0x%llx\n", err,
				    svmgpu_read64(sdev, SVMGPU_REG_ERROR_ADDR));
	svmgpu_hw_exit(sdev);
	return IRQ_HANDLED;
}

static bool svmgpu_cmd_valid(const struct svmgpu_cmd *c)
{
	if (c->hdr.opcode > SVMGPU_CMD_TIMESTAMP)
		return false;
	if (c->hdr.flags & ~SVMGPU_CMD_FLAGS_VALID)
		return false;
	return !c->hdr.rsvd0 && !c->hdr.rsvd1 && !c->hdr.seq;
}

static u32 svmgpu_queue_room(struct svmgpu_queue *q)
{
	u32 busy;

	svmgpu_queue_update(q);
	spin_lock(&q->lock);
	busy = q->last_seq - q->completed_seq;
	spin_unlock(&q->lock);
	return q->entries - 1 - busy;
}

int svmgpu_ioctl_submit(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct svmgpu_device *sdev = to_svmgpu(drm);
	struct drm_svmgpu_submit *args = data;
	bool nonblock = args->flags & DRM_SVMGPU_SUBMIT_NONBLOCK;
	struct svmgpu_event *ev = NULL;
	struct svmgpu_cmd *cmds;
	struct svmgpu_queue *q;
	u32 i, n = args->count;
	int ret = 0, idx;
	u64 seq = 0;

	if ((args->flags & ~(DRM_SVMGPU_SUBMIT_EVENT | DRM_SVMGPU_SUBMIT_NONBLOCK)) ||
	    args->pad || args->seq ||
	    (args->user_data && !(args->flags & DRM_SVMGPU_SUBMIT_EVENT))) {
		drm_dbg(drm, "submit: bad flags, non-zero pad or seq, user_data without EVENT\n");
		return -EINVAL;
	}
	if (!svmgpu_dev_enter(drm, &idx))
		return -ENODEV;
	q = svmgpu_queue_lookup(file->driver_priv, args->queue_handle, &ret);
	svmgpu_dev_exit(drm, idx);
	if (!q) {
		drm_dbg(drm, "submit: queue %u: %d\n", args->queue_handle, ret);
		return ret;
	}
	if (!n || n > q->entries - 1) {
		drm_dbg(drm, "submit: bad count %u\n", n);
		ret = -EINVAL;
		goto out_put;
	}
	cmds = kvmalloc_array(n, sizeof(*cmds), GFP_KERNEL);
	if (!cmds) {
		ret = -ENOMEM;
		goto out_put;
	}
	if (copy_from_user(cmds, u64_to_user_ptr(args->cmds), (size_t)n * sizeof(*cmds))) {
		ret = -EFAULT;
		goto out_free;
	}
	for (i = 0; i < n; i++) {
		if (!svmgpu_cmd_valid(&cmds[i])) {
			drm_dbg(drm, "submit: bad command %u (opcode %u)\n", i,
				cmds[i].hdr.opcode);
			ret = -EINVAL;
			goto out_free;
		}
	}
	if (args->flags & DRM_SVMGPU_SUBMIT_EVENT) {
		ev = svmgpu_event_reserve(drm, file, args->queue_handle, args->user_data);
		if (IS_ERR(ev)) {
			ret = PTR_ERR(ev);
			ev = NULL;
			drm_dbg(drm, "submit: no event: %d\n", ret);
			goto out_free;
		}
	}

	/*
	 * The sleeps (room in the ring, a free hardware queue) are outside
	 * svmgpu_dev_enter(): device removal stops the queue to end them.
	 */
retry:
	/*
	 * Wait for room without submit_lock: the scheduler work, the hang
	 * reset and a device reset take it to preempt, save or fail the
	 * queue, and a preempted queue makes no room until it is resumed.
	 */
	if (!nonblock) {
		ret = wait_event_interruptible(q->wq, READ_ONCE(q->stopped) ||
					       (!READ_ONCE(q->hang_reset) &&
						svmgpu_queue_room(q) >= n));
		if (ret)
			goto out_free;
	}
	/* Nothing is queued yet: restarted (SA_RESTART) like the waits. */
	if (mutex_lock_interruptible(&q->submit_lock)) {
		ret = -ERESTARTSYS;
		goto out_free;
	}
	if (!READ_ONCE(q->stopped) &&
	    (READ_ONCE(q->hang_reset) || svmgpu_queue_room(q) < n)) {
		if (nonblock) {
			ret = -EAGAIN;
			goto out_unlock;
		}
		/* Another submitter took the room, or a hang reset runs. */
		mutex_unlock(&q->submit_lock);
		goto retry;
	}
	if (READ_ONCE(q->stopped) || !q->ring) {
		ret = -ECANCELED;
		goto out_unlock;
	}
	/*
	 * Without the scheduler an unbound queue is idle: borrow a hardware
	 * queue for this work.  With it, the commands go into the ring and
	 * the scheduler runs them (svmgpu_sched_submit()).
	 */
	if (!sdev->sched.enabled) {
		ret = svmgpu_queue_bind(q, nonblock);
		if (ret == -EAGAIN && !nonblock) {
			/* A hang reset waits for submit_lock (svmgpu_queue_bind()). */
			mutex_unlock(&q->submit_lock);
			goto retry;
		}
		if (ret)
			goto out_unlock;
	}
	if (!svmgpu_dev_enter(drm, &idx)) {
		ret = -ENODEV;
		goto out_unlock;
	}
	if (READ_ONCE(q->stopped) || !q->ring) {
		svmgpu_dev_exit(drm, idx);
		ret = -ECANCELED;
		goto out_unlock;
	}
	for (i = 0; i < n; i++) {
		spin_lock(&q->lock);
		seq = q->last_seq + 1;
		spin_unlock(&q->lock);
		cmds[i].hdr.seq = q->seq_base + seq;
		cmds[i].hdr.flags |= SVMGPU_CMD_FLAG_IRQ;
		memcpy(&q->ring[q->tail], &cmds[i], sizeof(cmds[i]));
		q->tail = (q->tail + 1) & (q->entries - 1);
		spin_lock(&q->lock);
		q->last_seq = seq;
		spin_unlock(&q->lock);
		trace_svmgpu_submit(q->hwq, seq, cmds[i].hdr.opcode);
	}
	if (ev) {
		/* Before the doorbell: the commands cannot complete yet. */
		ev->ev.first_seq = seq - n + 1;
		ev->ev.seq = seq;
		spin_lock(&q->lock);
		list_add_tail(&ev->link, &q->events);
		spin_unlock(&q->lock);
		ev = NULL;
	}
	wmb();	/* commands in memory before the doorbell */
	if (q->hwq == SVMGPU_HWQ_NONE) {
		svmgpu_sched_submit(q);
	} else if (svmgpu_hw_enter(sdev)) {
		svmgpu_write32(sdev, SVMGPU_REG_Q(q->hwq, SVMGPU_Q_TAIL), q->tail);
		svmgpu_hw_exit(sdev);
	}
	svmgpu_dev_exit(drm, idx);
	atomic64_add(n, &q->ctx->cnt[SVMGPU_CS_SUBMITTED]);
	args->seq = seq;
out_unlock:
	mutex_unlock(&q->submit_lock);
	/*
	 * A completion interrupt that found submit_lock held skipped the
	 * unbind; the completion was visible before that interrupt.
	 */
	svmgpu_queue_unbind_idle(q);
out_free:
	if (ev)
		drm_event_cancel_free(drm, &ev->base);
	kvfree(cmds);
out_put:
	svmgpu_queue_put(q);
	return ret;
}

static bool svmgpu_queue_done(struct svmgpu_queue *q, u64 seq)
{
	bool done;

	svmgpu_queue_update(q);
	spin_lock(&q->lock);
	done = q->completed_seq >= seq || q->stop_done;
	spin_unlock(&q->lock);
	return done;
}

int svmgpu_ioctl_wait(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct drm_svmgpu_wait *args = data;
	struct svmgpu_queue *q;
	struct svmgpu_err first;
	ktime_t deadline = 0;
	u32 count;
	int ret = 0, idx;
	long left;

	if (args->flags || args->pad || args->pad2) {
		drm_dbg(drm, "wait: non-zero flags or pad\n");
		return -EINVAL;
	}
	/* The deadline is fixed on entry; a restart gets the time left. */
	if (args->timeout_ns && args->timeout_ns != U64_MAX)
		deadline = ktime_add_ns(ktime_get(),
					min_t(u64, args->timeout_ns, KTIME_MAX / 2));
	if (!svmgpu_dev_enter(drm, &idx))
		return -ENODEV;
	q = svmgpu_queue_lookup(file->driver_priv, args->queue_handle, &ret);
	svmgpu_dev_exit(drm, idx);
	if (!q) {
		drm_dbg(drm, "wait: queue %u: %d\n", args->queue_handle, ret);
		return ret;
	}
	spin_lock(&q->lock);
	if (!args->seq || args->seq > q->last_seq || args->first_seq > args->seq)
		ret = -EINVAL;
	spin_unlock(&q->lock);
	if (ret) {
		drm_dbg(drm, "wait: bad seq %llu / first_seq %llu\n", args->seq,
			args->first_seq);
		goto out;
	}

	if (!args->timeout_ns) {
		left = svmgpu_queue_done(q, args->seq);
	} else if (args->timeout_ns == U64_MAX) {
		left = wait_event_interruptible(q->wq, svmgpu_queue_done(q, args->seq));
	} else {
		left = wait_event_interruptible_hrtimeout(q->wq,
							  svmgpu_queue_done(q, args->seq),
							  ktime_sub(deadline, ktime_get()));
		if (left == -ETIME)
			left = 0;
		if (left == -ERESTARTSYS) {
			/*
			 * Restarted (SA_RESTART) or retried on EINTR, the
			 * ioctl waits only for what is left, at least 1 ns
			 * (0 would poll).
			 */
			s64 ns = ktime_to_ns(ktime_sub(deadline, ktime_get()));

			args->timeout_ns = max_t(s64, ns, 1);
		}
	}
	if (left < 0) {
		ret = left;
		goto out;
	}

	spin_lock(&q->lock);
	args->completed_seq = q->completed_seq;
	args->err_seq = 0;
	args->err_va = 0;
	args->err_code = 0;
	args->err_access = 0;
	args->err_reason = 0;
	if (svmgpu_queue_find_err(q, args->first_seq, args->seq, &first, &count)) {
		args->err_seq = first.seq;
		args->err_va = first.va;
		args->err_code = first.code;
		args->err_access = SVMGPU_ERROR_INFO_ACCESS(first.info);
		args->err_reason = SVMGPU_ERROR_INFO_REASON(first.info);
	}
	args->nr_errors = count;
	/*
	 * -ECANCELED only once the stop has disabled the hardware queue
	 * (stop_done): a stop still in progress is a timeout for a WAIT that
	 * polls or runs out, since its command may still be writing.
	 */
	if (q->completed_seq < args->seq)
		ret = q->stop_done ? -ECANCELED : -ETIMEDOUT;
	spin_unlock(&q->lock);
out:
	svmgpu_queue_put(q);
	return ret;
}
