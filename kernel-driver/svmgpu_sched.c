// SPDX-License-Identifier: GPL-2.0
/*
 * svmgpu queue scheduler: priorities, timeslices and preemption (hw-spec 16).
 *
 * Any number of software queues share the device's NUM_QUEUES hardware
 * queues.  On a device that preempts (SVMGPU_CAPS_PREEMPT) a queue with
 * work and no hardware queue waits on the runlist of its priority; the
 * scheduler work hands free hardware queues out highest priority first,
 * first come first served within a priority.  The last hardware queue is
 * kept for HIGH priority, which so starts without waiting for a
 * preemption.  When queues wait and none is free, a bound queue of a lower
 * priority is preempted at once, and one of the same priority once it has
 * held its hardware queue for timeslice_ms:
 * Q_CONTROL = ENABLE | PREEMPT makes the device stop it at its next safe
 * point and write its exact state to the queue's save area.  The queue then
 * goes to the tail of its runlist and is later resumed (RESUME, Q_START =
 * the saved head) on whatever hardware queue is free; its commands continue
 * where they stopped, with their seqs, completions and interrupts as if they
 * had never stopped.  A queue never keeps others waiting: an endless kernel
 * or a WAIT nobody satisfies is preempted like any other.  A preemption not
 * done within preempt_timeout_ms is a hang: svmgpu_queue_hang_reset() fails
 * the queue's commands with DRM_SVMGPU_ERR_HANG, others go on.
 *
 * A recovery reset (svmgpu_device_reset() for a fatal error or a hung engine
 * that did not let go; not the debugfs reset, an FLR or a fence, which drop
 * the work in flight as before) first saves every bound queue (the save
 * works under ERROR_STATUS.FATAL, hw-spec 16.1); the saved queues are
 * resumed after the reset, so their commands are replayed, not lost.  A
 * queue whose save does not complete (held by a hang, its save area write
 * failed) has its pending commands failed with DRM_SVMGPU_ERR_RESET and
 * stays usable.
 *
 * Save areas: SVMGPU_SAVE_AREA_SIZE (72 KiB) of memory charged to the memory
 * cgroup of the queue's creator (GFP_KERNEL_ACCOUNT; dma_alloc_noncontiguous:
 * single pages behind an IOMMU), needed only while a queue is bound
 * (Q_SAVE_ADDR is latched at enable) or holds a saved state.  A queue gets
 * one when it is bound and gives it back when it goes idle, to a cache of
 * at most 2 * NUM_QUEUES areas (an area is reused only for a queue of the
 * memory cgroup it is charged to); so memory follows the queues with work,
 * not the queues created.  Areas held by queues are capped per device
 * (save_areas_max, quarantined ones included) and per process
 * (save_areas_per_process, the queues of one svm): a queue that would need
 * one beyond a cap waits, parked off the runlists (below), until one is given back
 * (it is never bound unpreemptible, which would let one process keep every
 * hardware queue); no command fails for it.  The caps are soft, since the
 * queues holding every area may wait for the refused queue, or for
 * nothing, for good (svmgpu_save_decide()).  Past the device's cap alone,
 * a HIGH queue or one of a process holding less than its share of
 * save_areas_max gets one at once; otherwise a queue refused for
 * save_areas_wait_ms gets one.  Areas past a cap are counted apart
 * (save_areas_over), so they never hold the device's cap shut for others.
 * The one hard bound is per process, 2 * save_areas_per_process areas in
 * all: a refusal for good waits for an area of the queue's own process.
 * No device-wide ceiling: areas that other processes hold in WAITs could
 * fill it for good.  Memory stays bounded per user by max_user_contexts x
 * 2 * save_areas_per_process areas, charged to each creator's memory
 * cgroup.  An area past a cap is allocated without reclaim; when an
 * allocation fails (past a cap or under), the queue waits and tries again
 * after a tenth of save_areas_wait_ms: it never runs unpreemptible.
 * The area of a queue whose hardware queue did not go idle when disabled
 * is quarantined until the device reset this queues (the
 * device may still write it); a saved state in it is lost.  So are the
 * queue's ring (the device reads it) and completion record (it writes it)
 * once the queue is stopped, whatever stops it (QUEUE_DESTROY, an exit, a
 * reset's stop, removal), unless a reset completed since: they wait on
 * sched.dma_quarantine (svmgpu_sched_quarantine_dma()) and are freed with
 * the areas, after the next reset or at removal.
 *
 * Without CAPS.PREEMPT, or with module parameter preempt=0 at probe,
 * SUBMIT waits for a free hardware queue as before (svmgpu_queue_bind()).
 *
 * Lock order (outer first):
 *
 *   sdev->reset_lock                 svmgpu_sched_save_all() (reset)
 *     q->submit_lock                 a queue's binding, @save, @saved
 *       sdev->hw_sem (read)          registers
 *         q->lock (spin)             @preempting, @slice_start, hw_live
 *       sched.lock (spin)            runlists, parked queues, queue list, save cache,
 *                                    both quarantines and their counts
 *         sdev->hwq_lock (spin)      hardware queue -> queue table
 *
 * sched.lock is never held with q->lock or across a register access; the
 * work takes one queue's submit_lock at a time with nothing else held.
 */
#include <linux/debugfs.h>
#include <linux/dma-mapping.h>
#include <linux/iopoll.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/memcontrol.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <drm/drm_file.h>
#include <drm/drm_print.h>
#include <uapi/drm/svmgpu_drm.h>

#include "svmgpu_drv.h"

/* How long a device reset waits for each queue's state save. */
#define SVMGPU_SAVE_ALL_TIMEOUT_US	(200 * USEC_PER_MSEC)
/* After a failed save-area allocation, every this-many-th try reclaims. */
#define SVMGPU_SAVE_FULL_TRY		10

static bool svmgpu_preempt = true;
module_param_named(preempt, svmgpu_preempt, bool, 0444);
MODULE_PARM_DESC(preempt,
		 "Timeslice and preempt queues on a device with CAPS.PREEMPT (read at probe; default on)");

static unsigned int svmgpu_timeslice_ms = 10;
module_param_named(timeslice_ms, svmgpu_timeslice_ms, uint, 0644);
MODULE_PARM_DESC(timeslice_ms,
		 "A queue holding a hardware queue this long while a queue of its priority waits is preempted (ms, 1..10000; default 10)");

/*
 * 2 s: on an emulated (TCG) device under host load the engine thread or the
 * guest's vCPU can be descheduled for hundreds of ms; a hung queue is still
 * found long before hang_timeout_ms.
 */
static unsigned int svmgpu_preempt_timeout_ms = 2000;
module_param_named(preempt_timeout_ms, svmgpu_preempt_timeout_ms, uint, 0644);
MODULE_PARM_DESC(preempt_timeout_ms,
		 "A queue whose preemption did not complete in this long is hung: its commands fail with DRM_SVMGPU_ERR_HANG (ms, 10..60000; default 2000)");

static unsigned int svmgpu_save_areas_max = 512;
module_param_named(save_areas_max, svmgpu_save_areas_max, uint, 0644);
MODULE_PARM_DESC(save_areas_max,
		 "Save areas (72 KiB each) held by the queues of one device before a queue needing one waits save_areas_wait_ms for one past the cap (at once for a HIGH queue or a process below its share) (1..65536; default 512)");

static unsigned int svmgpu_save_areas_per_process = 64;
module_param_named(save_areas_per_process, svmgpu_save_areas_per_process, uint, 0644);
MODULE_PARM_DESC(save_areas_per_process,
		 "Save areas held by the queues of one process on a device before a queue needing one waits save_areas_wait_ms for one past the cap; twice this is the process's hard ceiling (1..65536; default 64)");

/*
 * The caps are soft: a queue refused an area this long gets one past them,
 * so that other processes' queues holding every area in WAITs (that only
 * it would satisfy, or that nobody satisfies) cannot keep it from running
 * for good.  Only its own process's ceiling can.
 */
static unsigned int svmgpu_save_areas_wait_ms = 1000;
module_param_named(save_areas_wait_ms, svmgpu_save_areas_wait_ms, uint, 0644);
MODULE_PARM_DESC(save_areas_wait_ms,
		 "A queue refused a save area at a cap this long gets one past the cap, up to 2 x save_areas_per_process for its process (ms, 1..600000; default 1000)");

static unsigned int svmgpu_save_max(void)
{
	return clamp(READ_ONCE(svmgpu_save_areas_max), 1U, 65536U);
}

static unsigned int svmgpu_save_per_process(void)
{
	return clamp(READ_ONCE(svmgpu_save_areas_per_process), 1U, 65536U);
}

static unsigned int svmgpu_preempt_timeout(void)
{
	return clamp(READ_ONCE(svmgpu_preempt_timeout_ms), 10U, 60000U);
}

static u64 svmgpu_slice_ns(void)
{
	return (u64)clamp(READ_ONCE(svmgpu_timeslice_ms), 1U, 10000U) * NSEC_PER_MSEC;
}

/**
 * svmgpu_sched_kick() - run the scheduler soon
 * @sdev: the device
 */
void svmgpu_sched_kick(struct svmgpu_device *sdev)
{
	if (sdev->sched.enabled && READ_ONCE(sdev->hw_ready))
		mod_delayed_work(svmgpu_wq, &sdev->sched.work, 0);
}

static unsigned long svmgpu_save_wait_jiffies(void)
{
	return msecs_to_jiffies(clamp(READ_ONCE(svmgpu_save_areas_wait_ms), 1U, 600000U));
}

/*
 * Jiffies until @q, refused an area at a cap, may take one past it (0: it
 * may now).  A queue never refused has the whole wait ahead.  Unsigned
 * arithmetic from a clock never ahead of jiffies: an old clock stays
 * expired.
 */
static unsigned long svmgpu_save_wait_left(struct svmgpu_queue *q)
{
	unsigned long since = READ_ONCE(q->save_wait) & ~1UL;
	unsigned long wait = svmgpu_save_wait_jiffies();
	unsigned long elapsed = jiffies - since;

	if (!READ_ONCE(q->save_wait))
		return wait;
	return elapsed >= wait ? 0 : wait - elapsed;
}

/* Start @q's clock at a cap, unless it runs.  Caller holds sched.lock. */
static void svmgpu_save_wait_start(struct svmgpu_queue *q)
{
	if (!q->save_wait)
		WRITE_ONCE(q->save_wait, jiffies | 1);
}

static void svmgpu_save_wait_clear(struct svmgpu_sched *s, struct svmgpu_queue *q)
{
	spin_lock(&s->lock);
	WRITE_ONCE(q->save_wait, 0);
	q->save_retry = 0;
	spin_unlock(&s->lock);
}

enum svmgpu_save_grant {
	SVMGPU_SAVE_REFUSE,	/* wait on the runlist */
	SVMGPU_SAVE_UNDER,	/* under both caps: nsave_used, svm->nsave */
	SVMGPU_SAVE_OVER,	/* past a cap: nsave_over, svm->nsave_over */
};

/*
 * May @q take one more save area, and counted how.  Its process holds at
 * most 2 x save_areas_per_process in all: the only hard bound, so a
 * refusal for good only ever waits for an area of @q's own process (a
 * device-wide bound, which others' areas held in WAITs could fill for
 * good, would not).  Under both caps (the device's, quarantined areas
 * included, and its process's): yes.  Past a cap, counted apart: at once
 * if only the device's cap is reached and @q is HIGH or its process holds
 * less than its share (save_areas_max / processes holding areas), else
 * once refused for save_areas_wait_ms; after an allocation failed (past
 * a cap or under), not before @q->save_retry.  @left: jiffies until a refusal may
 * end by the clock (MAX_JIFFY_OFFSET: only when an area of its process
 * comes back).  Caller holds sched.lock.
 */
static enum svmgpu_save_grant svmgpu_save_decide(struct svmgpu_sched *s,
						 struct svmgpu_queue *q,
						 unsigned long *left)
{
	struct svmgpu_svm *svm = q->ctx->svm;
	unsigned int max = svmgpu_save_max(), per = svmgpu_save_per_process();
	unsigned int mine = svm->nsave + svm->nsave_over;
	bool dev_full, proc_full;

	lockdep_assert_held(&s->lock);
	*left = MAX_JIFFY_OFFSET;
	dev_full = s->nsave_used + s->nquarantine >= max;
	proc_full = svm->nsave >= per;
	if (mine >= 2 * per)
		return SVMGPU_SAVE_REFUSE;
	if (q->save_retry && time_before(jiffies, q->save_retry)) {
		*left = max(q->save_retry - jiffies, 1UL);
		return SVMGPU_SAVE_REFUSE;
	}
	if (!dev_full && !proc_full)
		return SVMGPU_SAVE_UNDER;
	if (!proc_full && (q->prio == SVMGPU_PRIO_NUM - 1 ||
			   (u64)mine * max_t(unsigned int, s->nholders, 1) < max))
		return SVMGPU_SAVE_OVER;
	*left = svmgpu_save_wait_left(q);
	return *left ? SVMGPU_SAVE_REFUSE : SVMGPU_SAVE_OVER;
}

/*
 * Parked queues.  A queue with work that svmgpu_save_decide() refuses an
 * area is taken off its runlist, so that SUBMIT, the pick and the
 * timeslicing, all under sched.lock, only ever see queues that could be
 * bound (refused for good, any number of them costs them nothing; the
 * timed ones are all unparked at once below, and each is decided again
 * at the next walk: O(K) then, see driver.md):
 *  - refused for good (its process holds 2 x save_areas_per_process): on
 *    its svm's @capped list of its priority.  Only an area of that process
 *    coming back, or the queue that took the room leaving the runlists
 *    without it, lets one more of them run: the head of the highest
 *    priority's list is unparked, one at a time (a process freeing areas
 *    does not make every other SUBMIT walk its queues; FIFO within a
 *    priority, and its LOW work never holds up its NORMAL or HIGH work);
 *  - refused until a clock runs out (save_areas_wait_ms, save_retry): on
 *    sched.capped_timed, all unparked when the earliest clock runs out
 *    (sched.cap_wake) or any area is given back or leaves the quarantine
 *    (a cap may no longer be reached); not when an allocation past a cap
 *    fails (its area was only counted, nothing came back).
 * A change of the save_areas_* parameters unparks every queue.  Parked
 * queues keep the runlist's reference.  A parked queue never holds an
 * area: SUBMIT leaves it parked (its new commands run once it is
 * unparked), and one that got an area anyway is unparked by
 * svmgpu_sched_enqueue().  All under sched.lock.
 */
enum {
	SVMGPU_RUNNABLE,	/* on its runlist, or on none */
	SVMGPU_CAPPED_TIMED,	/* on sched.capped_timed */
	SVMGPU_CAPPED_GOOD,	/* on its svm's capped list */
};

/* @q, parked, back to the tail of its runlist (the caller kicks the work). */
static void svmgpu_sched_unpark(struct svmgpu_sched *s, struct svmgpu_queue *q)
{
	lockdep_assert_held(&s->lock);
	list_move_tail(&q->run_link, &s->runlist[q->prio]);
	q->capped = SVMGPU_RUNNABLE;
	s->ncapped--;
}

static void svmgpu_sched_kick_sched(struct svmgpu_sched *s)
{
	svmgpu_sched_kick(container_of(s, struct svmgpu_device, sched));
}

/* Every queue refused until a clock runs out may be bound now. */
static void svmgpu_sched_unpark_timed(struct svmgpu_sched *s)
{
	struct svmgpu_queue *q, *tmp;

	lockdep_assert_held(&s->lock);
	s->cap_wake = 0;
	if (list_empty(&s->capped_timed))
		return;
	list_for_each_entry_safe(q, tmp, &s->capped_timed, run_link)
		svmgpu_sched_unpark(s, q);
	svmgpu_sched_kick_sched(s);
}

/*
 * @svm is below its ceiling: one of its queues refused for good may run,
 * the first of the highest priority.
 */
static void svmgpu_sched_cap_recheck(struct svmgpu_sched *s, struct svmgpu_svm *svm)
{
	int p;

	lockdep_assert_held(&s->lock);
	if (svm->nsave + svm->nsave_over >= 2 * svmgpu_save_per_process())
		return;
	for (p = SVMGPU_PRIO_NUM - 1; p >= 0; p--) {
		if (!list_empty(&svm->capped[p])) {
			svmgpu_sched_unpark(s, list_first_entry(&svm->capped[p],
								struct svmgpu_queue,
								run_link));
			svmgpu_sched_kick_sched(s);
			return;
		}
	}
}

/*
 * Park @q, refused an area (@left as svmgpu_save_decide() gave it); its
 * clock at the cap starts here, whoever refused it first.
 */
static void svmgpu_sched_park(struct svmgpu_sched *s, struct svmgpu_queue *q,
			      unsigned long left)
{
	lockdep_assert_held(&s->lock);
	/*
	 * Not once the device is found gone or wedged: svmgpu_sched_fail_all()
	 * unparks every queue, then sweeps only the runlists, so a queue parked
	 * again meanwhile (by another SUBMIT's first_eligible(), say) would keep
	 * its commands pending, and a WAIT on them would sleep until a reset.
	 * gone and wedged are set before fail_all() takes this lock.
	 */
	if (READ_ONCE(q->sdev->gone) || READ_ONCE(q->sdev->wedged))
		return;
	svmgpu_save_wait_start(q);
	if (q->capped == SVMGPU_RUNNABLE)
		s->ncapped++;
	if (left == MAX_JIFFY_OFFSET) {
		list_move_tail(&q->run_link, &q->ctx->svm->capped[q->prio]);
		q->capped = SVMGPU_CAPPED_GOOD;
		return;
	}
	list_move_tail(&q->run_link, &s->capped_timed);
	q->capped = SVMGPU_CAPPED_TIMED;
	left = (jiffies + max(left, 1UL)) | 1;
	if (!s->cap_wake || time_before(left, s->cap_wake)) {
		/* The work sets its timer for the earliest (slice()). */
		s->cap_wake = left;
		svmgpu_sched_kick_sched(s);
	}
	/* Its process has room: the next of its queues refused for good may have it. */
	svmgpu_sched_cap_recheck(s, q->ctx->svm);
}

/* Take @q off its runlist or parked list. */
static void svmgpu_sched_unlink(struct svmgpu_sched *s, struct svmgpu_queue *q)
{
	lockdep_assert_held(&s->lock);
	list_del_init(&q->run_link);
	if (q->capped != SVMGPU_RUNNABLE) {
		q->capped = SVMGPU_RUNNABLE;
		s->ncapped--;
	}
	svmgpu_sched_cap_recheck(s, q->ctx->svm);
}

/*
 * The caps or the wait changed: every parked queue is looked at again
 * (every live queue walked; the parameters rarely change).
 */
static void svmgpu_sched_cap_params(struct svmgpu_sched *s)
{
	unsigned int now[3] = { svmgpu_save_max(), svmgpu_save_per_process(),
				READ_ONCE(svmgpu_save_areas_wait_ms) };
	struct svmgpu_queue *q;

	lockdep_assert_held(&s->lock);
	if (!memcmp(now, s->cap_params, sizeof(now)))
		return;
	memcpy(s->cap_params, now, sizeof(now));
	list_for_each_entry(q, &s->queues, all_link)
		if (q->capped != SVMGPU_RUNNABLE)
			svmgpu_sched_unpark(s, q);
	s->cap_wake = 0;
	svmgpu_sched_kick_sched(s);
}

/*
 * Count @q's area in (@n 1) or out (@n -1), in the counters it was granted
 * under (@q->save_over), and the processes holding areas; an area given
 * back (@n -1) may end a refusal (@back: it was really held, not only
 * counted while an allocation failed).  Caller holds sched.lock.
 */
static void svmgpu_save_count(struct svmgpu_sched *s, struct svmgpu_queue *q, int n,
			      bool back)
{
	struct svmgpu_svm *svm = q->ctx->svm;
	bool held = svm->nsave + svm->nsave_over;

	lockdep_assert_held(&s->lock);
	if (q->save_over) {
		s->nsave_over += n;
		svm->nsave_over += n;
	} else {
		s->nsave_used += n;
		svm->nsave += n;
	}
	s->nholders += (int)!!(svm->nsave + svm->nsave_over) - (int)held;
	if (n < 0 && back)
		svmgpu_sched_unpark_timed(s);
	if (n < 0)
		svmgpu_sched_cap_recheck(s, svm);
}

static struct svmgpu_save_buf *svmgpu_save_alloc(struct svmgpu_device *sdev, gfp_t extra)
{
	struct svmgpu_save_buf *b;

	b = kmalloc(sizeof(*b), GFP_KERNEL_ACCOUNT | extra);
	if (!b)
		return NULL;
	/*
	 * 18 pages charged to the caller's memory cgroup, one range for the
	 * device (Q_SAVE_ADDR): behind an IOMMU, pages from anywhere mapped
	 * at one IOVA, no order-5 allocation; without one, contiguous
	 * memory.  Only the device reads and writes it: no CPU mapping, no
	 * sync.
	 */
	b->sgt = dma_alloc_noncontiguous(&sdev->pdev->dev, SVMGPU_SAVE_AREA_SIZE,
					 DMA_BIDIRECTIONAL,
					 GFP_KERNEL_ACCOUNT | __GFP_NOWARN | extra, 0);
	if (!b->sgt) {
		kfree(b);
		return NULL;
	}
	b->dma = sg_dma_address(b->sgt->sgl);
	return b;
}

/*
 * A cached area @b may serve @q: it is charged to @q's memory cgroup (an
 * uncharged one to the root's), so that no queue's areas are charged to
 * another cgroup and bypass its limit.  Caller holds sched.lock.
 */
static bool svmgpu_save_same_memcg(struct svmgpu_save_buf *b, struct svmgpu_queue *q)
{
	struct mem_cgroup *m;
	bool same;

	if (!memcg_kmem_enabled())
		return true;
	rcu_read_lock();
	m = page_memcg(sg_page(b->sgt->sgl));
	same = m ? m == q->memcg : !q->memcg || !q->memcg->css.parent;
	rcu_read_unlock();
	return same;
}

/*
 * A save area for @q, from the cache or new.  One past a cap is allocated
 * without reclaim (its memory cgroup may be at its limit: no stall of the
 * scheduler work for every process).  Failing, either is refused like a
 * cap: @q is never bound without one (unpreemptible, it would keep its
 * hardware queue while others wait: a process could fill its memory
 * cgroup to its limit for that).  Caller holds q->submit_lock.
 * Return: 0 (@q has one), -ENOBUFS at a cap or without memory (wait).
 */
static int svmgpu_sched_get_save(struct svmgpu_queue *q)
{
	struct svmgpu_device *sdev = q->sdev;
	struct svmgpu_sched *s = &sdev->sched;
	enum svmgpu_save_grant grant;
	struct svmgpu_save_buf *b;
	unsigned long left;
	bool nomem;

	lockdep_assert_held(&q->submit_lock);
	if (q->save)
		return 0;
	spin_lock(&s->lock);
	grant = svmgpu_save_decide(s, q, &left);
	if (grant == SVMGPU_SAVE_REFUSE) {
		/* From the first refusal: the wait is not restarted. */
		svmgpu_save_wait_start(q);
		spin_unlock(&s->lock);
		return -ENOBUFS;
	}
	q->save_over = grant == SVMGPU_SAVE_OVER;
	/* Counted from here: a racing queue sees the cap. */
	svmgpu_save_count(s, q, 1, false);
	nomem = atomic_dec_if_positive(&s->inj_save_nomem) >= 0;
	list_for_each_entry(b, &s->save_free, link)
		if (svmgpu_save_same_memcg(b, q))
			break;
	if (nomem || list_entry_is_head(b, &s->save_free, link)) {
		b = NULL;
	} else {
		list_del(&b->link);
		s->nsave_free--;
	}
	spin_unlock(&s->lock);
	if (!b && !nomem) {
		/*
		 * Past a cap, or tried again after a failure (from the
		 * scheduler work, for every process): without reclaim, but
		 * for every SVMGPU_SAVE_FULL_TRY-th try, so that an area
		 * that needs compaction (contiguous, without an IOMMU) is
		 * had at last.
		 */
		bool light = q->save_over || q->save_fails % SVMGPU_SAVE_FULL_TRY;
		/* Charged to the queue's creator, also from the work. */
		struct mem_cgroup *old = set_active_memcg(q->memcg);

		b = svmgpu_save_alloc(sdev, light ? __GFP_NORETRY : 0);
		set_active_memcg(old);
	}
	spin_lock(&s->lock);
	if (b) {
		WRITE_ONCE(q->save_wait, 0);
		q->save_retry = 0;
		q->save_fails = 0;
		s->nsave_over_cap += q->save_over;
	} else {
		/*
		 * Only counted while it was allocated: no timed refusal ends
		 * with it, but one of its process refused for good meanwhile
		 * may run.
		 */
		svmgpu_save_count(s, q, -1, false);
		/*
		 * Waits again, its clock kept, and retries after a tenth of
		 * save_areas_wait_ms (slice() wakes the work then): no
		 * allocation in a loop, at once or timed.
		 */
		q->save_retry = (jiffies + max(svmgpu_save_wait_jiffies() / 10, 1UL)) | 1;
		q->save_fails++;
	}
	spin_unlock(&s->lock);
	if (!b) {
		if (q->save_over) {
			/* The count was only transient: no kick for this one. */
			q->save_over = false;
			return -ENOBUFS;
		}
		/* A queue may be waiting for an area. */
		svmgpu_sched_kick(sdev);
		drm_warn_once(&sdev->drm, "no memory for a save area: the queue waits\n");
		return -ENOBUFS;
	}
	q->save = b;
	return 0;
}

static void svmgpu_save_free(struct svmgpu_device *sdev, struct svmgpu_save_buf *b)
{
	dma_free_noncontiguous(&sdev->pdev->dev, SVMGPU_SAVE_AREA_SIZE, b->sgt,
			       DMA_BIDIRECTIONAL);
	kfree(b);
}

/**
 * svmgpu_sched_put_save() - give @q's save area back (it holds no state)
 * @q: the queue
 *
 * Caller holds q->submit_lock.
 */
void svmgpu_sched_put_save(struct svmgpu_queue *q)
{
	struct svmgpu_device *sdev = q->sdev;
	struct svmgpu_sched *s = &sdev->sched;
	struct svmgpu_save_buf *b = q->save;

	lockdep_assert_held(&q->submit_lock);
	if (!b)
		return;
	q->save = NULL;
	q->saved = false;
	spin_lock(&s->lock);
	svmgpu_save_count(s, q, -1, true);
	q->save_over = false;
	if (READ_ONCE(sdev->hw_ready)) {
		/* Full: the oldest goes (it may be a cgroup's nobody uses now). */
		list_add(&b->link, &s->save_free);
		b = NULL;
		if (s->nsave_free < 2 * sdev->num_queues) {
			s->nsave_free++;
		} else {
			b = list_last_entry(&s->save_free, struct svmgpu_save_buf, link);
			list_del(&b->link);
		}
	}
	spin_unlock(&s->lock);
	if (b)
		svmgpu_save_free(sdev, b);
	/* A queue may be waiting for an area. */
	svmgpu_sched_kick(sdev);
}

/*
 * @q's hardware queue did not go idle when disabled: the device may still
 * write its save area until the device reset that follows (hang_work), a
 * reset past count @gen.  Keep the area out of use until then.  Caller
 * holds q->submit_lock.
 */
static void svmgpu_sched_quarantine_save(struct svmgpu_queue *q, u64 gen)
{
	struct svmgpu_device *sdev = q->sdev;
	struct svmgpu_sched *s = &sdev->sched;
	struct svmgpu_save_buf *b = q->save;

	lockdep_assert_held(&q->submit_lock);
	if (!b)
		return;
	q->save = NULL;
	q->saved = false;
	b->reset_gen = gen;
	spin_lock(&s->lock);
	svmgpu_save_count(s, q, -1, true);
	q->save_over = false;
	list_add_tail(&b->link, &s->save_quarantine);
	s->nquarantine++;
	spin_unlock(&s->lock);
	svmgpu_sched_kick(sdev);
	drm_warn(&sdev->drm, "queue %u: save area quarantined until the device reset\n",
		 q->handle);
}

static unsigned int svmgpu_dma_quar_count(const struct svmgpu_dma_quar *d)
{
	return !!d->ring + !!d->compl;
}

static void svmgpu_dma_quar_free(struct svmgpu_device *sdev, struct svmgpu_dma_quar *d)
{
	struct device *dev = &sdev->pdev->dev;

	if (d->ring)
		dma_free_coherent(dev, d->ring_size, d->ring, d->ring_dma);
	if (d->compl)
		dma_free_coherent(dev, sizeof(*d->compl), d->compl, d->compl_dma);
	kfree(d);
}

/*
 * Move the quarantined rings and records from before device reset count
 * @gen to @list.  Caller holds sched.lock.  "Before": an entry's count is
 * never newer than the one read, but @gen may be stale (read before an
 * entry was added): only an older entry goes.
 */
static void svmgpu_sched_take_dma(struct svmgpu_sched *s, u64 gen, struct list_head *list)
{
	struct svmgpu_dma_quar *d, *tmp;

	lockdep_assert_held(&s->lock);
	list_for_each_entry_safe(d, tmp, &s->dma_quarantine, link)
		if (d->reset_gen < gen) {
			list_move(&d->link, list);
			s->ndma_quarantine -= svmgpu_dma_quar_count(d);
			s->dma_released += svmgpu_dma_quar_count(d);
		}
}

static void svmgpu_dma_quar_free_list(struct svmgpu_device *sdev, struct list_head *list)
{
	struct svmgpu_dma_quar *d, *tmp;

	list_for_each_entry_safe(d, tmp, list, link) {
		list_del(&d->link);
		svmgpu_dma_quar_free(sdev, d);
	}
}

/**
 * svmgpu_sched_quarantine_dma() - free a stopped queue's ring and record
 *	once no engine step can reach them
 * @sdev: the device
 * @d: the queue's q->dma_quar, filled in (@d->reset_gen: q->dma_busy_gen);
 *	taken over
 *
 * For a queue whose hardware queue did not go idle when disabled: the
 * engine may still read its ring and write its completion record until the
 * device reset that svmgpu_sched_unbound() queued has completed (hw-spec
 * 12).  Counted in dma_quarantined, and in dma_released when freed: at
 * once if a reset completed since @d->reset_gen (or the device does no DMA
 * for good: svmgpu_sched_fini() ran), else by
 * svmgpu_sched_release_quarantine() after the next reset, or at removal.
 * Caller holds no spinlock (process context).
 */
void svmgpu_sched_quarantine_dma(struct svmgpu_device *sdev, struct svmgpu_dma_quar *d)
{
	struct svmgpu_sched *s = &sdev->sched;
	unsigned int n = svmgpu_dma_quar_count(d);
	LIST_HEAD(list);
	bool kept;
	u64 gen;

	spin_lock(&s->lock);
	gen = atomic64_read(&sdev->stats.resets);
	kept = !s->dma_final && d->reset_gen >= gen;
	s->dma_quarantined += n;
	if (s->dma_final) {
		list_add(&d->link, &list);
		s->dma_released += n;
	} else {
		list_add_tail(&d->link, &s->dma_quarantine);
		s->ndma_quarantine += n;
		/* A reset completed since: that one is over already. */
		svmgpu_sched_take_dma(s, gen, &list);
	}
	spin_unlock(&s->lock);
	if (kept)
		drm_warn(&sdev->drm, "ring and completion record quarantined until the device reset\n");
	svmgpu_dma_quar_free_list(sdev, &list);
}

/**
 * svmgpu_sched_release_quarantine() - free what a device reset let go of
 * @sdev: the device
 *
 * Quarantined save areas, rings and completion records from before a
 * device reset (stats.resets counts it once the device was reprogrammed):
 * nothing reaches them now; free them.  Called by the scheduler work and
 * at the end of every reset (svmgpu_stop_end(): also without the
 * scheduler, whose work then never runs).  Process context, no spinlock
 * held.
 */
void svmgpu_sched_release_quarantine(struct svmgpu_device *sdev)
{
	struct svmgpu_sched *s = &sdev->sched;
	struct svmgpu_save_buf *b, *tmp;
	LIST_HEAD(dma_list);
	LIST_HEAD(list);
	u64 gen;

	spin_lock(&s->lock);
	/* Under the lock: not older than an entry added before it was taken. */
	gen = atomic64_read(&sdev->stats.resets);
	svmgpu_sched_take_dma(s, gen, &dma_list);
	list_for_each_entry_safe(b, tmp, &s->save_quarantine, link)
		if (b->reset_gen < gen) {
			list_move(&b->link, &list);
			s->nquarantine--;
		}
	/* Under the device's cap again, maybe. */
	if (!list_empty(&list))
		svmgpu_sched_unpark_timed(s);
	/* A parked queue's clock ran out. */
	if (s->cap_wake && !time_before(jiffies, s->cap_wake))
		svmgpu_sched_unpark_timed(s);
	svmgpu_sched_cap_params(s);
	spin_unlock(&s->lock);
	list_for_each_entry_safe(b, tmp, &list, link) {
		list_del(&b->link);
		svmgpu_save_free(sdev, b);
	}
	svmgpu_dma_quar_free_list(sdev, &dma_list);
}

/* Commands submitted and not collected as complete. */
static u64 svmgpu_queue_pending(struct svmgpu_queue *q)
{
	u64 n;

	svmgpu_queue_update(q);
	spin_lock(&q->lock);
	n = q->last_seq - q->completed_seq;
	spin_unlock(&q->lock);
	return n;
}

/*
 * The first queue on runlist @p that a bind would not refuse a save area:
 * one refused meanwhile is parked, so it keeps no lower priority from the
 * free hardware queues.  Caller holds sched.lock.
 */
static struct svmgpu_queue *svmgpu_sched_first_eligible(struct svmgpu_sched *s, int p)
{
	struct svmgpu_queue *q, *tmp;
	unsigned long left;

	lockdep_assert_held(&s->lock);
	list_for_each_entry_safe(q, tmp, &s->runlist[p], run_link) {
		if (READ_ONCE(q->save) || svmgpu_save_decide(s, q, &left) != SVMGPU_SAVE_REFUSE)
			return q;
		svmgpu_sched_park(s, q, left);
	}
	return NULL;
}

/* Put @q at the tail of its runlist (the list holds a reference). */
static bool svmgpu_sched_enqueue(struct svmgpu_queue *q)
{
	struct svmgpu_sched *s = &q->sdev->sched;
	bool added = false;

	spin_lock(&s->lock);
	/*
	 * A device found gone runs nothing again, a wedged one nothing until
	 * a reset brings it back, and svmgpu_sched_fail_all() (after gone or
	 * wedged was set, under this lock) may have swept the runlists
	 * already: a queue put there now would wait until remove.
	 */
	if (READ_ONCE(q->sdev->gone) || READ_ONCE(q->sdev->wedged)) {
		spin_unlock(&s->lock);
		return false;
	}
	if (list_empty(&q->run_link) && !READ_ONCE(q->stopped) &&
	    READ_ONCE(q->hwq) == SVMGPU_HWQ_NONE) {
		unsigned long left;

		kref_get(&q->refs);
		list_add_tail(&q->run_link, &s->runlist[q->prio]);
		added = true;
		/* At a cap already: parked, its clock starts now. */
		if (!q->save && svmgpu_save_decide(s, q, &left) == SVMGPU_SAVE_REFUSE)
			svmgpu_sched_park(s, q, left);
	} else if (q->capped != SVMGPU_RUNNABLE && q->save) {
		/* Parked, yet it holds an area: nothing else would unpark it. */
		svmgpu_sched_unpark(s, q);
		added = true;
	}
	spin_unlock(&s->lock);
	if (added)
		svmgpu_sched_kick(q->sdev);
	return true;
}

/*
 * Put @q (with work) on its runlist, or, the device gone or wedged, fail its
 * commands (DRM_SVMGPU_ERR_RESET) as svmgpu_sched_fail_all() does.
 * Caller holds q->submit_lock.
 */
static void svmgpu_sched_requeue(struct svmgpu_queue *q)
{
	lockdep_assert_held(&q->submit_lock);
	if (svmgpu_sched_enqueue(q))
		return;
	q->saved = false;
	svmgpu_queue_fail_pending(q, DRM_SVMGPU_ERR_RESET);
	svmgpu_sched_put_save(q);
}

/* Take @q off its runlist.  Return: true if it was on it (drop its reference). */
static bool svmgpu_sched_dequeue(struct svmgpu_queue *q)
{
	struct svmgpu_sched *s = &q->sdev->sched;
	bool was;

	spin_lock(&s->lock);
	was = !list_empty(&q->run_link);
	if (was)
		svmgpu_sched_unlink(s, q);
	spin_unlock(&s->lock);
	return was;
}

/*
 * The last hardware queue is kept for HIGH priority (of 2 or more): a HIGH
 * queue then starts at once, without waiting for a preemption, and the
 * device serves it first (Q_PRIORITY) at the next step boundary.  The
 * engines, not the hardware queues, bound throughput, so the others lose
 * nothing but a little concurrency.
 */
static bool svmgpu_hwq_allowed(struct svmgpu_device *sdev, struct svmgpu_queue *q, u32 i)
{
	return q->prio >= SVMGPU_PRIO_NUM - 1 || sdev->num_queues < 2 ||
	       i != sdev->num_queues - 1;
}

/*
 * Claim a free hardware queue for @q: one on the engine that serves the
 * fewest bound queues (hardware queue i is on engine i mod NUM_ENGINES,
 * hw-spec 8), so queues share the engines evenly, not by which hardware
 * queue happened to be free.  Caller holds q->submit_lock.
 */
static bool svmgpu_sched_claim(struct svmgpu_queue *q)
{
	struct svmgpu_device *sdev = q->sdev;
	u32 load[SVMGPU_MAX_QUEUES] = { 0 };
	u32 i, best = SVMGPU_HWQ_NONE;
	u32 ne = clamp_t(u32, sdev->num_engines, 1, SVMGPU_MAX_QUEUES);

	spin_lock(&sdev->hwq_lock);
	for (i = 0; i < sdev->num_queues; i++)
		load[i % ne] += !!sdev->hwq[i];
	for (i = 0; i < sdev->num_queues && !svmgpu_hwq_closed(sdev); i++) {
		if (sdev->hwq[i] || !svmgpu_hwq_allowed(sdev, q, i))
			continue;
		if (best == SVMGPU_HWQ_NONE || load[i % ne] < load[best % ne])
			best = i;
	}
	if (best != SVMGPU_HWQ_NONE) {
		sdev->hwq[best] = q;
		q->hwq = best;
	}
	spin_unlock(&sdev->hwq_lock);
	return best != SVMGPU_HWQ_NONE;
}

static void svmgpu_sched_release_hwq(struct svmgpu_queue *q)
{
	struct svmgpu_device *sdev = q->sdev;

	spin_lock(&sdev->hwq_lock);
	if (q->hwq != SVMGPU_HWQ_NONE && sdev->hwq[q->hwq] == q)
		sdev->hwq[q->hwq] = NULL;
	q->hwq = SVMGPU_HWQ_NONE;
	spin_unlock(&sdev->hwq_lock);
}

/*
 * Bind @q (with work) to a free hardware queue: a fresh start at its first
 * pending command, or RESUME from its save area.  Caller holds
 * q->submit_lock.  Return: 0 (bound, or nothing left to run), -EAGAIN if
 * no hardware queue is free, -ENOBUFS if it must wait for a save area
 * (a cap), -ECANCELED if stopped, -ENODEV, -EIO.
 */
static int svmgpu_sched_start(struct svmgpu_queue *q)
{
	struct svmgpu_device *sdev = q->sdev;
	u64 pending;
	u32 start;
	int ret;

	lockdep_assert_held(&q->submit_lock);
	if (q->hwq != SVMGPU_HWQ_NONE)
		return 0;
	if (READ_ONCE(q->stopped) || !q->ring)
		return -ECANCELED;
	pending = svmgpu_queue_pending(q);
	if (!pending) {
		svmgpu_save_wait_clear(&sdev->sched, q);
		svmgpu_sched_put_save(q);
		return 0;
	}
	/* Never without an area: it would run unpreemptible. */
	if (svmgpu_sched_get_save(q))
		return -ENOBUFS;
	if (!svmgpu_sched_claim(q))
		return -EAGAIN;
	start = q->saved ? q->resume_head :
		(u32)(q->tail - pending) & (q->entries - 1);
	if (!svmgpu_hw_enter(sdev)) {
		ret = -ENODEV;
	} else {
		ret = svmgpu_queue_hw_start(sdev, q, start, q->saved);
		svmgpu_hw_exit(sdev);
	}
	if (ret) {
		svmgpu_sched_release_hwq(q);
		wake_up_all(&sdev->hwq_wq);
		return ret;
	}
	atomic64_inc(&q->st_binds);
	if (q->saved)
		atomic64_inc(&q->st_resumes);
	q->saved = false;
	/* Bound: never on a runlist as well (the list's reference). */
	if (svmgpu_sched_dequeue(q))
		svmgpu_queue_put(q);
	return 0;
}

/**
 * svmgpu_sched_submit() - @q got commands while it has no hardware queue
 * @q: the queue
 *
 * Binds it at once if a hardware queue is free and no queue of its
 * priority or higher waits, else puts it on its runlist.  Caller holds
 * q->submit_lock.
 */
void svmgpu_sched_submit(struct svmgpu_queue *q)
{
	struct svmgpu_sched *s = &q->sdev->sched;
	bool ahead = false;
	int ret, p;

	lockdep_assert_held(&q->submit_lock);
	if (q->hwq != SVMGPU_HWQ_NONE)
		return;
	/* Queues refused a save area are not ahead of it. */
	spin_lock(&s->lock);
	svmgpu_sched_cap_params(s);
	if (q->capped != SVMGPU_RUNNABLE) {
		/*
		 * Parked: queued already, its new commands run once it is
		 * unparked.  Started here, it could get an area and stay
		 * parked, and the wake-up it waits for never come.
		 */
		spin_unlock(&s->lock);
		return;
	}
	for (p = q->prio; p < SVMGPU_PRIO_NUM && !ahead; p++)
		ahead = svmgpu_sched_first_eligible(s, p);
	spin_unlock(&s->lock);
	if (!ahead) {
		ret = svmgpu_sched_start(q);
		if (ret != -EAGAIN && ret != -ENOBUFS) {
			if (ret && ret != -ECANCELED) {
				svmgpu_queue_fail_pending(q, DRM_SVMGPU_ERR_RESET);
				svmgpu_sched_put_save(q);
			}
			return;
		}
	}
	svmgpu_sched_requeue(q);
}

/**
 * svmgpu_sched_unbound() - @q gave its hardware queue back
 * @q: the queue
 * @hwq: the hardware queue it had
 * @idle: the hardware queue went idle when disabled (else its save area is
 *	quarantined until the device reset, and so are its ring and completion
 *	record once the queue is stopped: q->dma_busy)
 * @gen: stats.resets read while the disable was seen, inside
 *	svmgpu_hw_enter(): no reset can have completed in between
 *
 * Counts its time on the hardware; a queue without a saved state gives its
 * save area back.  Not idle, the device may still write the area: a saved
 * state in it is lost (its pending commands fail with DRM_SVMGPU_ERR_RESET,
 * as when save_all could not save it; rerun from their start, they would
 * apply what was done twice), and unless a reset is under way one since
 * @gen is asked for (hang_work; none if one completed since), which alone
 * frees the quarantined area and reclaims the engine.  Caller holds
 * q->submit_lock.
 */
void svmgpu_sched_unbound(struct svmgpu_queue *q, u32 hwq, bool idle, u64 gen)
{
	struct svmgpu_device *sdev = q->sdev;
	u64 now = ktime_get_ns();

	lockdep_assert_held(&q->submit_lock);
	spin_lock(&q->lock);
	if (q->slice_start && now > q->slice_start)
		atomic64_add(now - q->slice_start, &q->st_hw_ns);
	q->slice_start = 0;
	q->preempting = false;
	spin_unlock(&q->lock);
	if (idle && atomic_add_unless(&sdev->sched.inj_unbind_busy, -1, 0)) {
		drm_info(&sdev->drm, "queue %u (hw queue %u): injected: taken as not idle\n",
			 q->handle, hwq);
		idle = false;
	}
	if (!idle) {
		/*
		 * The engine may still read the ring and write the completion
		 * record: freed, they are quarantined until a reset since now.
		 */
		q->dma_busy = true;
		q->dma_busy_gen = gen;
		if (q->saved) {
			drm_warn(&sdev->drm, "queue %u (hw queue %u): saved state lost (not idle): its commands fail\n",
				 q->handle, hwq);
			atomic64_inc(&sdev->stats.replays_lost);
			q->saved = false;
			svmgpu_queue_fail_pending(q, DRM_SVMGPU_ERR_RESET);
		}
		svmgpu_sched_quarantine_save(q, gen);
		/*
		 * Not while a reset is under way: it counts itself past @gen
		 * (read before its quiesce: no queue is bound, so none
		 * unbinds, between its count and its end), or fails and leaves
		 * the device wedged until the next one.
		 */
		if (!READ_ONCE(sdev->resetting))
			svmgpu_request_reset_since(sdev, gen);
	} else if (!q->saved) {
		svmgpu_sched_put_save(q);
	}
	svmgpu_sched_kick(sdev);
}

/*
 * @q on hardware queue @i halted on its save area: its save failed (the
 * device disabled it, ERR_SAVE_AREA) or RESUME refused the area (halted in
 * ERROR, ERR_SAVE_AREA).  CLEAR_ERROR would restart at a stale head or run
 * the saved command again from scratch; instead that one command fails, the
 * saved state is dropped and the queue starts fresh behind it (Q_START).
 * Caller holds q->submit_lock.
 */
static void svmgpu_sched_halted(struct svmgpu_device *sdev, struct svmgpu_queue *q, u32 i)
{
	u32 status, code;
	u64 seq, va;
	bool live;

	lockdep_assert_held(&q->submit_lock);
	if (q->hwq != i || !svmgpu_hw_enter(sdev))
		return;
	status = svmgpu_read32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_STATUS));
	code = svmgpu_read32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_ERROR_CODE));
	va = svmgpu_read64(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_ERROR_VA));
	seq = svmgpu_read64(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_ERROR_SEQ));
	svmgpu_hw_exit(sdev);
	spin_lock(&q->lock);
	live = q->hw_live && !q->stopped && !q->preempting;
	spin_unlock(&q->lock);
	if (!live || (status & SVMGPU_Q_STATUS_PREEMPT_PENDING))
		return;
	/*
	 * hw_live: the driver did not disable it; a failed save does, and
	 * leaves ERR_SAVE_AREA.  A device reset (a fence after an invalidation
	 * timeout, before the recovery work has run) disables it too, with
	 * every register back to 0: that queue is the reset's to fail.
	 */
	if (code != SVMGPU_ERR_SAVE_AREA)
		return;
	if ((status & SVMGPU_Q_STATUS_ENABLED) && !(status & SVMGPU_Q_STATUS_ERROR))
		return;
	q->saved = false;
	svmgpu_queue_unbind(q);
	/*
	 * A save with no command in progress (Q_ERROR_SEQ 0: the next one
	 * was not fetched) lost nothing: a fresh start runs that command.  A
	 * refused RESUME with seq 0 (its area unreadable) lost the command at
	 * the saved head, the first one pending (conservatively: whether the
	 * area held it in progress cannot be told).
	 */
	if (!seq && !(status & SVMGPU_Q_STATUS_ENABLED)) {
		drm_warn(&sdev->drm, "queue %u (hw queue %u): save area not written, no command in progress: none fails\n",
			 q->handle, i);
	} else {
		if (seq)
			drm_warn(&sdev->drm, "queue %u (hw queue %u): save area %s: command %llu fails\n",
				 q->handle, i,
				 status & SVMGPU_Q_STATUS_ENABLED ? "refused" : "not written",
				 seq - q->seq_base);
		else
			drm_warn(&sdev->drm, "queue %u (hw queue %u): save area unreadable: the saved command fails\n",
				 q->handle, i);
		atomic64_inc(&sdev->stats.replays_lost);
		/* the unbind collected its completions: the first pending did not run */
		svmgpu_queue_fail_one(q, seq ? seq - q->seq_base : 0, SVMGPU_ERR_SAVE_AREA, va);
	}
	if (svmgpu_queue_pending(q) && !READ_ONCE(q->stopped))
		svmgpu_sched_requeue(q);
	else
		svmgpu_sched_put_save(q);
}

/* Look for queues halted on their save area (above). */
static void svmgpu_sched_halted_all(struct svmgpu_device *sdev)
{
	u32 i, status, code;

	for (i = 0; i < sdev->num_queues; i++) {
		struct svmgpu_queue *q = svmgpu_hwq_get(sdev, i);
		bool halted = false;

		if (!q)
			continue;
		if (svmgpu_hw_enter(sdev)) {
			status = svmgpu_read32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_STATUS));
			code = svmgpu_read32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_ERROR_CODE));
			svmgpu_hw_exit(sdev);
			/* A reset disables it with code 0: not a failed save. */
			halted = code == SVMGPU_ERR_SAVE_AREA &&
				 (!(status & SVMGPU_Q_STATUS_ENABLED) ||
				  (status & SVMGPU_Q_STATUS_ERROR));
		}
		if (halted && READ_ONCE(q->hw_live) && !READ_ONCE(q->preempting)) {
			mutex_lock(&q->submit_lock);
			svmgpu_sched_halted(sdev, q, i);
			mutex_unlock(&q->submit_lock);
		}
		svmgpu_queue_put(q);
	}
}

/*
 * @q on hardware queue @i was asked to preempt: if its state is saved, give
 * the hardware queue back and queue it to be resumed; if the request came
 * to nothing (the queue halted in an error, or was disabled), forget it; if
 * it is still pending after preempt_timeout_ms, the queue is hung.
 * Return: jiffies until it should be looked at again, 0 if done.
 */
static unsigned long svmgpu_sched_finish(struct svmgpu_device *sdev,
					 struct svmgpu_queue *q, u32 i)
{
	unsigned long again = 0;
	bool hung = false;
	u32 status = 0, head = 0, gen = 0;

	mutex_lock(&q->submit_lock);
	if (q->hwq != i || !READ_ONCE(q->preempting))
		goto out;
	if (!svmgpu_hw_enter(sdev))
		goto out;
	status = svmgpu_read32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_STATUS));
	head = svmgpu_read32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_HEAD));
	svmgpu_hw_exit(sdev);
	if (status & SVMGPU_Q_STATUS_PREEMPTED) {
		spin_lock(&q->lock);
		atomic64_add(ktime_get_ns() - q->preempt_ns, &sdev->stats.preempt_ns_total);
		spin_unlock(&q->lock);
		q->saved = true;
		q->resume_head = head;
		atomic64_inc(&q->st_preemptions);
		atomic64_inc(&sdev->stats.preemptions);
		svmgpu_queue_unbind(q);
		if (svmgpu_queue_pending(q) && !READ_ONCE(q->stopped))
			svmgpu_sched_requeue(q);
		else
			svmgpu_sched_put_save(q);
	} else if (!(status & SVMGPU_Q_STATUS_PREEMPT_PENDING)) {
		spin_lock(&q->lock);
		q->preempting = false;
		spin_unlock(&q->lock);
		/* The save failed (disabled, ERR_SAVE_AREA): fail that command. */
		svmgpu_sched_halted(sdev, q, i);
	} else if (time_after(jiffies, READ_ONCE(q->preempt_stamp) +
			      msecs_to_jiffies(svmgpu_preempt_timeout()))) {
		hung = true;
		gen = q->bind_gen;
	} else {
		again = 1;
	}
out:
	mutex_unlock(&q->submit_lock);
	if (hung) {
		atomic64_inc(&sdev->stats.preempt_timeouts);
		atomic64_inc(&q->st_resets);
		drm_warn(&sdev->drm, "queue %u (hw queue %u): preemption not done in %u ms: hung\n",
			 q->handle, i, svmgpu_preempt_timeout());
		svmgpu_queue_hang_reset(q, i, gen, false);
	}
	return again;
}

/* Finish or time out every preemption in flight.  Return: as above, the least. */
static unsigned long svmgpu_sched_finish_all(struct svmgpu_device *sdev)
{
	unsigned long next = MAX_JIFFY_OFFSET, again;
	u32 i;

	for (i = 0; i < sdev->num_queues; i++) {
		struct svmgpu_queue *q = svmgpu_hwq_get(sdev, i);

		if (!q)
			continue;
		if (READ_ONCE(q->preempting)) {
			again = svmgpu_sched_finish(sdev, q, i);
			if (again)
				next = min(next, again);
		}
		svmgpu_queue_put(q);
	}
	return next;
}

/*
 * Highest-priority waiting queue a bind would not refuse a save area,
 * taken off its runlist (with its reference).
 */
static struct svmgpu_queue *svmgpu_sched_pick(struct svmgpu_device *sdev)
{
	struct svmgpu_sched *s = &sdev->sched;
	struct svmgpu_queue *q = NULL;
	bool free = false, free_any = false;
	int p;
	u32 i;

	spin_lock(&s->lock);
	spin_lock(&sdev->hwq_lock);
	for (i = 0; i < sdev->num_queues && !svmgpu_hwq_closed(sdev); i++) {
		free_any |= !sdev->hwq[i];
		free |= !sdev->hwq[i] && (sdev->num_queues < 2 || i != sdev->num_queues - 1);
	}
	spin_unlock(&sdev->hwq_lock);
	for (p = SVMGPU_PRIO_NUM - 1; p >= 0 && free_any && !q; p--) {
		/* Below HIGH, the last hardware queue does not count. */
		if (p < SVMGPU_PRIO_NUM - 1 && !free)
			break;
		q = svmgpu_sched_first_eligible(s, p);
		if (q)
			svmgpu_sched_unlink(s, q);
	}
	spin_unlock(&s->lock);
	return q;
}

/* Hand the free hardware queues to the waiting queues, highest priority first. */
static void svmgpu_sched_fill(struct svmgpu_device *sdev)
{
	struct svmgpu_sched *s = &sdev->sched;
	unsigned int skips = 0;
	struct svmgpu_queue *q;
	int ret, p;

	/* Each waiting queue is skipped for want of a save area at most once. */
	spin_lock(&s->lock);
	for (p = 0; p < SVMGPU_PRIO_NUM; p++)
		skips += list_count_nodes(&s->runlist[p]);
	spin_unlock(&s->lock);
	while ((q = svmgpu_sched_pick(sdev))) {
		bool requeued = false;

		mutex_lock(&q->submit_lock);
		ret = svmgpu_sched_start(q);
		if (ret && ret != -EAGAIN && ret != -ECANCELED && ret != -ENOBUFS) {
			svmgpu_queue_fail_pending(q, DRM_SVMGPU_ERR_RESET);
			svmgpu_sched_put_save(q);
		}
		if (ret == -EAGAIN || ret == -ENOBUFS) {
			bool lost = false;

			/*
			 * Taken meanwhile: back to the head of its list.  At a
			 * save-area cap: to its tail, others may have one.
			 * Not once the device is found gone or wedged: as in
			 * svmgpu_sched_enqueue(), svmgpu_sched_fail_all() may
			 * have swept the lists while this queue was off them.
			 */
			spin_lock(&s->lock);
			if (READ_ONCE(sdev->gone) || READ_ONCE(sdev->wedged)) {
				lost = !READ_ONCE(q->stopped);
			} else if (list_empty(&q->run_link) && !READ_ONCE(q->stopped)) {
				unsigned long left;

				if (ret == -EAGAIN)
					list_add(&q->run_link, &s->runlist[q->prio]);
				else
					list_add_tail(&q->run_link, &s->runlist[q->prio]);
				if (ret == -ENOBUFS &&
				    svmgpu_save_decide(s, q, &left) == SVMGPU_SAVE_REFUSE)
					svmgpu_sched_park(s, q, left);
				requeued = true;
			}
			spin_unlock(&s->lock);
			if (lost) {
				/* as svmgpu_sched_requeue() for a refused queue */
				q->saved = false;
				svmgpu_queue_fail_pending(q, DRM_SVMGPU_ERR_RESET);
				svmgpu_sched_put_save(q);
			}
		}
		mutex_unlock(&q->submit_lock);
		if (!requeued)
			svmgpu_queue_put(q);
		if (ret == -EAGAIN || (ret == -ENOBUFS && !skips--))
			break;
	}
}

struct svmgpu_victim {
	struct svmgpu_queue *q;
	u32 hwq;
	u32 prio;
	u64 since;
	bool taken;
};

/* Ask @q on hardware queue @i to preempt. */
static void svmgpu_sched_preempt(struct svmgpu_device *sdev, struct svmgpu_queue *q, u32 i)
{
	bool dropped;
	u32 status;

	if (!svmgpu_hw_enter(sdev))
		return;
	spin_lock(&q->lock);
	/*
	 * ENABLE | PREEMPT on a disabled queue is a fresh enable (the ring
	 * again from Q_START): only an enabled queue not halted is asked.
	 */
	status = svmgpu_read32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_STATUS));
	/*
	 * A preemption the device dropped (its command failed, or a CANCEL
	 * came first: hw-spec 16.1) leaves @preempting set until the work's
	 * finish() looks.  Once the queue's ERROR was cleared
	 * (svmgpu_queue_service()) it runs on: asked again, or a reset's
	 * save_all() would take it for a failed save.  Still halted, it is
	 * not asked (nor saved) either way.
	 */
	dropped = q->preempting &&
		  !(status & (SVMGPU_Q_STATUS_PREEMPT_PENDING | SVMGPU_Q_STATUS_PREEMPTED));
	if (q->hw_live && (!q->preempting || dropped) && READ_ONCE(q->hwq) == i && !q->stopped &&
	    (status & SVMGPU_Q_STATUS_ENABLED) && !(status & SVMGPU_Q_STATUS_ERROR)) {
		svmgpu_write32(sdev, SVMGPU_REG_Q(i, SVMGPU_Q_CONTROL),
			       SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_PREEMPT);
		q->preempting = true;
		q->preempt_stamp = jiffies;
		q->preempt_ns = ktime_get_ns();
	}
	spin_unlock(&q->lock);
	svmgpu_hw_exit(sdev);
}

/*
 * Timeslicing: for each waiting queue (highest priority first), preempt a
 * bound queue of a lower priority at once, or one of its own priority whose
 * slice is used up, the one bound longest first.  Queues being preempted
 * already count as freeing a hardware queue.  Return: jiffies until the
 * next slice ends (MAX_JIFFY_OFFSET if none matters).
 */
static unsigned long svmgpu_sched_slice(struct svmgpu_device *sdev)
{
	struct svmgpu_victim v[SVMGPU_MAX_QUEUES];
	struct svmgpu_sched *s = &sdev->sched;
	u32 waiting[SVMGPU_MAX_QUEUES], nwait = 0, nv = 0, inflight = 0, i, w;
	u64 now = ktime_get_ns(), slice = svmgpu_slice_ns(), wake_ns = U64_MAX;
	unsigned long cap_wake = MAX_JIFFY_OFFSET;
	struct svmgpu_queue *q;
	int p;

	spin_lock(&s->lock);
	for (p = SVMGPU_PRIO_NUM - 1; p >= 0; p--) {
		struct svmgpu_queue *tmp;

		list_for_each_entry_safe(q, tmp, &s->runlist[p], run_link) {
			unsigned long left;

			if (nwait == sdev->num_queues)
				break;
			/* Refused a save area meanwhile: it would not get the hwq. */
			if (!READ_ONCE(q->save) &&
			    svmgpu_save_decide(s, q, &left) == SVMGPU_SAVE_REFUSE) {
				svmgpu_sched_park(s, q, left);
				continue;
			}
			waiting[nwait++] = p;
		}
	}
	/* Look again when the earliest parked queue's wait at the cap is over. */
	if (s->cap_wake)
		cap_wake = time_before(jiffies, s->cap_wake) ? s->cap_wake - jiffies : 1;
	spin_unlock(&s->lock);
	if (!nwait)
		return cap_wake;

	for (i = 0; i < sdev->num_queues; i++) {
		bool cand;

		q = svmgpu_hwq_get(sdev, i);
		if (!q)
			continue;
		spin_lock(&q->lock);
		inflight += q->preempting;
		cand = !q->preempting && q->hw_live && q->save && !q->stopped;
		if (cand) {
			v[nv].q = q;
			v[nv].hwq = i;
			v[nv].prio = q->prio;
			v[nv].since = q->slice_start;
			v[nv].taken = false;
			nv++;
		}
		spin_unlock(&q->lock);
		if (!cand)
			svmgpu_queue_put(q);
	}

	for (w = inflight; w < nwait; w++) {
		struct svmgpu_victim *best = NULL;

		for (i = 0; i < nv; i++) {
			struct svmgpu_victim *c = &v[i];

			if (c->taken || c->prio > waiting[w])
				continue;
			if (c->prio == waiting[w] && (s64)(now - c->since) < (s64)slice) {
				wake_ns = min(wake_ns, c->since + slice - now);
				continue;
			}
			if (!best || c->prio < best->prio ||
			    (c->prio == best->prio && c->since < best->since))
				best = c;
		}
		if (!best)
			continue;
		best->taken = true;
		svmgpu_sched_preempt(sdev, best->q, best->hwq);
		inflight++;
	}
	for (i = 0; i < nv; i++)
		svmgpu_queue_put(v[i].q);
	if (inflight)
		return 1;
	if (wake_ns == U64_MAX)
		return cap_wake;
	return min(max(nsecs_to_jiffies(wake_ns), 1UL), cap_wake);
}

static void svmgpu_sched_work(struct work_struct *work)
{
	struct svmgpu_device *sdev = container_of(to_delayed_work(work),
						  struct svmgpu_device, sched.work);
	unsigned long next;

	svmgpu_sched_release_quarantine(sdev);
	svmgpu_sched_halted_all(sdev);
	next = svmgpu_sched_finish_all(sdev);
	svmgpu_sched_fill(sdev);
	next = min(next, svmgpu_sched_slice(sdev));
	/* Under hw_sem: removal cancels the work after hw_ready went false. */
	if (next != MAX_JIFFY_OFFSET && svmgpu_hw_enter(sdev)) {
		queue_delayed_work(svmgpu_wq, &sdev->sched.work, next);
		svmgpu_hw_exit(sdev);
	}
}

/**
 * svmgpu_sched_save_all() - save every bound queue before a device reset
 * @sdev: the device
 *
 * Caller holds sdev->reset_lock and has set sdev->resetting (nothing binds).
 * Each bound queue is preempted and waited for; a saved queue gives its
 * hardware queue back and waits on its runlist to be resumed after the
 * reset.  One whose save does not complete is disabled and its pending
 * commands fail with DRM_SVMGPU_ERR_RESET; it stays usable.
 */
void svmgpu_sched_save_all(struct svmgpu_device *sdev)
{
	u32 i, status;

	lockdep_assert_held(&sdev->reset_lock);
	if (!sdev->sched.enabled || READ_ONCE(sdev->fenced))
		return;
	for (i = 0; i < sdev->num_queues; i++) {
		struct svmgpu_queue *q = svmgpu_hwq_get(sdev, i);
		bool saved = false;
		int ret = -ENODEV;

		if (!q)
			continue;
		mutex_lock(&q->submit_lock);
		if (q->hwq != i)
			goto next;
		/*
		 * Never bound without a save area (svmgpu_sched_start()); one
		 * without would not be saved: as a failed save.
		 */
		if (q->save)
			svmgpu_sched_preempt(sdev, q, i);
		if (q->save && svmgpu_hw_enter(sdev)) {
			ret = readl_poll_timeout(sdev->regs + SVMGPU_REG_Q(i, SVMGPU_Q_STATUS),
						 status,
						 !(status & SVMGPU_Q_STATUS_PREEMPT_PENDING),
						 50, SVMGPU_SAVE_ALL_TIMEOUT_US);
			saved = !ret && (status & SVMGPU_Q_STATUS_PREEMPTED);
			if (saved)
				q->resume_head = svmgpu_read32(sdev,
							       SVMGPU_REG_Q(i, SVMGPU_Q_HEAD));
			svmgpu_hw_exit(sdev);
		}
		atomic64_inc(&q->st_resets);
		if (saved) {
			q->saved = true;
			atomic64_inc(&q->st_preemptions);
			atomic64_inc(&sdev->stats.preemptions);
			svmgpu_queue_unbind(q);
			/* Not idle: the state was lost, and counted so (unbound()). */
			if (q->saved)
				atomic64_inc(&sdev->stats.replays_saved);
			if (svmgpu_queue_pending(q))
				svmgpu_sched_requeue(q);
			else
				svmgpu_sched_put_save(q);
		} else {
			drm_warn(&sdev->drm, "queue %u (hw queue %u): state not saved before the reset: its commands fail\n",
				 q->handle, i);
			atomic64_inc(&sdev->stats.replays_lost);
			q->saved = false;
			svmgpu_queue_unbind(q);
			svmgpu_queue_fail_pending(q, DRM_SVMGPU_ERR_RESET);
			svmgpu_sched_put_save(q);
		}
next:
		mutex_unlock(&q->submit_lock);
		svmgpu_queue_put(q);
	}
}

/**
 * svmgpu_sched_fail_all() - the device did not come back from a reset
 * @sdev: the device, hw_ready false
 *
 * Every queue on a runlist (saved by svmgpu_sched_save_all() or waiting for
 * a hardware queue) has its pending commands failed with
 * DRM_SVMGPU_ERR_RESET and its saved state dropped: no WAIT hangs on a
 * device that will not run them.  Caller holds sdev->reset_lock.
 */
void svmgpu_sched_fail_all(struct svmgpu_device *sdev)
{
	struct svmgpu_sched *s = &sdev->sched;
	struct svmgpu_queue *q;
	int p;

	lockdep_assert_held(&sdev->reset_lock);
	if (!s->enabled)
		return;
	spin_lock(&s->lock);
	list_for_each_entry(q, &s->queues, all_link)
		if (q->capped != SVMGPU_RUNNABLE)
			svmgpu_sched_unpark(s, q);
	s->cap_wake = 0;
	spin_unlock(&s->lock);
	for (p = 0; p < SVMGPU_PRIO_NUM; p++) {
		for (;;) {
			spin_lock(&s->lock);
			q = list_first_entry_or_null(&s->runlist[p], struct svmgpu_queue,
						     run_link);
			if (q) {
				svmgpu_sched_unlink(s, q);
				WRITE_ONCE(q->save_wait, 0);
				q->save_retry = 0;
			}
			spin_unlock(&s->lock);
			if (!q)
				break;
			mutex_lock(&q->submit_lock);
			q->saved = false;
			svmgpu_queue_fail_pending(q, DRM_SVMGPU_ERR_RESET);
			svmgpu_sched_put_save(q);
			mutex_unlock(&q->submit_lock);
			/* The runlist's reference. */
			svmgpu_queue_put(q);
		}
	}
}

/**
 * svmgpu_sched_queue_init() - a new queue of priority @prio
 * @q: the queue
 * @prio: Q_PRIORITY (0..SVMGPU_PRIO_NUM - 1)
 *
 * Called by QUEUE_CREATE (current is the creator).
 */
void svmgpu_sched_queue_init(struct svmgpu_queue *q, u32 prio)
{
	q->prio = prio;
	/* QUEUE_CREATE: current is the creator; its save areas are charged here. */
	q->memcg = get_mem_cgroup_from_mm(current->mm);
	INIT_LIST_HEAD(&q->run_link);
	INIT_LIST_HEAD(&q->all_link);
}

/**
 * svmgpu_sched_queue_add() - list a created queue (debugfs)
 * @q: the queue
 */
void svmgpu_sched_queue_add(struct svmgpu_queue *q)
{
	struct svmgpu_sched *s = &q->sdev->sched;

	spin_lock(&s->lock);
	list_add_tail(&q->all_link, &s->queues);
	spin_unlock(&s->lock);
}

/**
 * svmgpu_sched_queue_stop() - take a stopped queue out of the scheduler
 * @q: the queue, stopped and unbound
 *
 * Caller holds q->submit_lock.
 */
void svmgpu_sched_queue_stop(struct svmgpu_queue *q)
{
	struct svmgpu_sched *s = &q->sdev->sched;
	bool queued;

	lockdep_assert_held(&q->submit_lock);
	queued = svmgpu_sched_dequeue(q);
	spin_lock(&s->lock);
	list_del_init(&q->all_link);
	WRITE_ONCE(q->save_wait, 0);
	q->save_retry = 0;
	spin_unlock(&s->lock);
	/* No area is allocated for it from here: no zombie cgroup is kept. */
	mem_cgroup_put(q->memcg);
	q->memcg = NULL;
	svmgpu_sched_put_save(q);
	/* The list's reference; the caller still holds one. */
	if (queued)
		svmgpu_queue_put(q);
}

/**
 * svmgpu_sched_init() - set the scheduler up (probe, before the registers)
 * @sdev: the device
 */
void svmgpu_sched_init(struct svmgpu_device *sdev)
{
	struct svmgpu_sched *s = &sdev->sched;
	int p;

	spin_lock_init(&s->lock);
	for (p = 0; p < SVMGPU_PRIO_NUM; p++)
		INIT_LIST_HEAD(&s->runlist[p]);
	INIT_LIST_HEAD(&s->queues);
	INIT_LIST_HEAD(&s->save_free);
	INIT_LIST_HEAD(&s->save_quarantine);
	INIT_LIST_HEAD(&s->dma_quarantine);
	INIT_LIST_HEAD(&s->capped_timed);
	INIT_DELAYED_WORK(&s->work, svmgpu_sched_work);
}

/**
 * svmgpu_sched_enable() - use the scheduler if the device preempts (probe)
 * @sdev: the device, CAPS read
 */
void svmgpu_sched_enable(struct svmgpu_device *sdev)
{
	struct device *dev = &sdev->pdev->dev;

	sdev->sched.enabled = svmgpu_preempt && (sdev->caps & SVMGPU_CAPS_PREEMPT);
	/*
	 * A save area is one DMA range of 72 KiB (Q_SAVE_ADDR); the PCI
	 * default segment limit (64 KiB) is not the device's.
	 */
	if (sdev->sched.enabled && dma_get_max_seg_size(dev) < SVMGPU_SAVE_AREA_SIZE)
		dma_set_max_seg_size(dev, SVMGPU_SAVE_AREA_SIZE);
}

/**
 * svmgpu_sched_fini() - stop the scheduler (remove, after hw_ready went false)
 * @sdev: the device
 */
void svmgpu_sched_fini(struct svmgpu_device *sdev)
{
	struct svmgpu_sched *s = &sdev->sched;
	struct svmgpu_save_buf *b, *tmp;
	LIST_HEAD(dma_list);
	LIST_HEAD(list);

	cancel_delayed_work_sync(&s->work);
	spin_lock(&s->lock);
	list_splice_init(&s->save_free, &list);
	/* The device is gone (removal fenced or reset it): nothing writes them. */
	list_splice_init(&s->save_quarantine, &list);
	list_splice_init(&s->dma_quarantine, &dma_list);
	s->dma_released += s->ndma_quarantine;
	s->ndma_quarantine = 0;
	/* A ring freed from now on (none should be) goes back at once. */
	s->dma_final = true;
	s->nsave_free = 0;
	s->nquarantine = 0;
	/* Every queue was stopped: none holds or waits for an area. */
	WARN_ON(s->nsave_used || s->nsave_over || s->nholders || s->ncapped);
	spin_unlock(&s->lock);
	list_for_each_entry_safe(b, tmp, &list, link)
		svmgpu_save_free(sdev, b);
	svmgpu_dma_quar_free_list(sdev, &dma_list);
}

static const char *const svmgpu_prio_names[SVMGPU_PRIO_NUM] = {
	"low", "normal", "high",
};

/* debugfs svmgpu_sched: the scheduler and every queue. */
static int svmgpu_sched_show(struct seq_file *m, void *unused)
{
	struct svmgpu_device *sdev = m->private;
	struct svmgpu_sched *s = &sdev->sched;
	struct svmgpu_queue *q;
	u64 now = ktime_get_ns();

	seq_printf(m, "enabled: %d\ntimeslice_ms: %u\npreempt_timeout_ms: %u\n",
		   s->enabled, READ_ONCE(svmgpu_timeslice_ms),
		   svmgpu_preempt_timeout());
	seq_printf(m, "preemptions: %lld\npreempt_ns_total: %lld\npreempt_timeouts: %lld\nreplays_saved: %lld\nreplays_lost: %lld\n",
		   atomic64_read(&sdev->stats.preemptions),
		   atomic64_read(&sdev->stats.preempt_ns_total),
		   atomic64_read(&sdev->stats.preempt_timeouts),
		   atomic64_read(&sdev->stats.replays_saved),
		   atomic64_read(&sdev->stats.replays_lost));
	spin_lock(&s->lock);
	seq_printf(m, "save_areas_cached: %u\nsave_areas_used: %u\nsave_areas_quarantined: %u\nsave_areas_over: %u\nsave_areas_over_cap: %llu\nsave_areas_holders: %u\nqueues_parked: %u\n",
		   s->nsave_free, s->nsave_used, s->nquarantine,
		   s->nsave_over, s->nsave_over_cap, s->nholders, s->ncapped);
	seq_printf(m, "dma_quarantine_held: %u\ndma_quarantined: %llu\ndma_released: %llu\n",
		   s->ndma_quarantine, s->dma_quarantined, s->dma_released);
	list_for_each_entry(q, &s->queues, all_link) {
		u32 hwq = READ_ONCE(q->hwq);
		u64 since = READ_ONCE(q->slice_start);
		u64 hw_ns = atomic64_read(&q->st_hw_ns);
		const char *state;

		if (hwq != SVMGPU_HWQ_NONE)
			state = READ_ONCE(q->preempting) ? "preempting" : "running";
		else if (q->capped != SVMGPU_RUNNABLE)
			state = "parked";
		else if (!list_empty(&q->run_link))
			state = "waiting";
		else
			state = "idle";
		if (hwq != SVMGPU_HWQ_NONE && since && now > since)
			hw_ns += now - since;
		seq_printf(m, "queue %u: ctx %u prio %s state %s hwq %d last %llu completed %llu hw_us %llu binds %lld preemptions %lld resumes %lld resets %lld save %s\n",
			   q->handle, q->ctx->svm->ctx_id, svmgpu_prio_names[q->prio], state,
			   hwq == SVMGPU_HWQ_NONE ? -1 : (int)hwq, READ_ONCE(q->last_seq),
			   READ_ONCE(q->completed_seq), div_u64(hw_ns, NSEC_PER_USEC),
			   atomic64_read(&q->st_binds), atomic64_read(&q->st_preemptions),
			   atomic64_read(&q->st_resumes), atomic64_read(&q->st_resets),
			   READ_ONCE(q->save) ? "yes" : "no");
	}
	spin_unlock(&s->lock);
	return 0;
}

static int svmgpu_sched_open(struct inode *inode, struct file *f)
{
	return single_open(f, svmgpu_sched_show, inode->i_private);
}

static const struct file_operations svmgpu_sched_fops = {
	.owner = THIS_MODULE,
	.open = svmgpu_sched_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
};

/**
 * svmgpu_sched_debugfs_init() - debugfs svmgpu_sched of a DRM minor
 * @minor: the minor
 */
void svmgpu_sched_debugfs_init(struct drm_minor *minor)
{
	struct svmgpu_device *sdev = to_svmgpu(minor->dev);

	debugfs_create_file("svmgpu_sched", 0400, minor->debugfs_root, sdev,
			    &svmgpu_sched_fops);
	debugfs_create_atomic_t("svmgpu_inject_unbind_busy", 0600, minor->debugfs_root,
				&sdev->sched.inj_unbind_busy);
	debugfs_create_atomic_t("svmgpu_inject_bad_save_area", 0600, minor->debugfs_root,
				&sdev->sched.inj_bad_save_area);
	debugfs_create_atomic_t("svmgpu_inject_save_nomem", 0600, minor->debugfs_root,
				&sdev->sched.inj_save_nomem);
}
