// SPDX-License-Identifier: GPL-2.0
/*
 * svmgpu asynchronous PREFETCH (DRM_SVMGPU_PREFETCH_ASYNC, docs/driver.md
 * "Device memory", "Asynchronous PREFETCH").
 *
 * The ioctl (svmgpu_ioctl_prefetch(), svmgpu_devmem.c) checks everything it
 * can while the caller waits: the arguments, the device, and here that every
 * page of the range is mapped; it reserves the completion event in the
 * file's DRM event space, so that the event can always be sent, and queues
 * a request on the file.  One work item per file runs the file's requests
 * in order, each in chunks of at most 2 MiB (2 MiB-aligned): per chunk it
 * enters the device (svmgpu_dev_enter()), takes the address space only if it
 * is still alive (mmget_not_zero(): the request holds the mm_struct with
 * mmgrab(), never its address space, so exit is not held up) and runs the
 * same migration as the synchronous PREFETCH, svmgpu_devmem_prefetch(),
 * which holds the mmap lock for that chunk only.  So munmap() and exit wait
 * for at most one chunk, and unbind's svmgpu_dev_unplug() too (not for
 * the chunk's wait for the mmap lock, which is outside the section:
 * svmgpu_dev_lock_mm()): the request then ends with -ENODEV (and the
 * following ones at their first chunk), its event still sent to the open
 * file.  When the work is done with a request it sends its event.
 *
 * Bounds: the work items run on their own workqueue, svmgpu_prefetch_wq
 * (unbound, freezable, SVMGPU_PREFETCH_ACTIVE at a time), never on
 * svmgpu_wq or a device's fault_wq, so no prefetch holds up fault,
 * scheduler or recovery work.
 * One execution runs at most SVMGPU_PREFETCH_STEPS chunks, then queues the
 * work again behind the other files' (remove's flush of svmgpu_wq and
 * postclose's cancel_work_sync() wait for one execution at most).  To
 * system memory, a VMA with no anon_vma is skipped whole, in one step: no
 * page was ever instantiated in it, so none is in device memory (a
 * never-touched PROT_NONE reservation of terabytes costs one lookup).  A
 * request stops, with -ECANCELED, once the process that queued it is
 * dying (a fatal signal, a group exit) or the OOM killer has reaped its
 * address space (MMF_OOM_SKIP), as the synchronous call stops on a fatal
 * signal.
 *
 * Cancellation: postclose (svmgpu_prefetch_file_fini()) runs when the file
 * is released (close of the last reference, process exit): it tells the
 * work to stop between chunks, waits for it (cancel_work_sync()) and frees
 * the requests left without sending their events (the DRM core has already
 * unlinked the file's pending events; drm_event_cancel_free() frees them).
 * Nothing of the file's is left running after postclose, which is what
 * lets rmmod (no file open) free the module.
 *
 * Removal needs no flush here: every chunk runs inside svmgpu_dev_enter()
 * (but for its waits for the mmap lock), so remove's svmgpu_dev_unplug()
 * waits for this device's running chunk and every later chunk, or the
 * running one once it has the lock, fails with -ENODEV before it touches
 * the device.
 *
 * The mm reference: the last mmput() of an address space that exited while
 * a chunk ran would tear it down in the work, so the work uses
 * mmput_async().  The mm_struct itself (mmgrab()) and the queuing
 * process's struct pid are dropped with the request; every execution of
 * the work first drops the mm_structs of pending requests whose address
 * space has exited (mm_users 0, for good), which end with -ECANCELED when
 * their turn comes: behind a long request, a file shared with fork()
 * children that queued and exited would otherwise keep up to an event
 * space's worth of dead mm_structs and page-table roots.
 *
 * Lock order: pf->lock (spinlock) nests inside nothing and takes nothing;
 * the chunks run with no lock of this file held (svmgpu_devmem.c's order:
 * mmap_lock, then the dm locks).
 */
#include <linux/debugfs.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/sched/signal.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_print.h>

#include <uapi/drm/svmgpu_drm.h>

#include "svmgpu_drv.h"

/* Bytes one chunk migrates at most, with the mmap lock held. */
#define SVMGPU_PREFETCH_CHUNK	SZ_2M
/* Chunks (or skipped VMAs) one execution of a file's work runs at most. */
#define SVMGPU_PREFETCH_STEPS	8
/* Work items of svmgpu_prefetch_wq running at once, all devices. */
#define SVMGPU_PREFETCH_ACTIVE	2

static struct workqueue_struct *svmgpu_prefetch_wq;

/**
 * struct svmgpu_prefetch_req - one asynchronous PREFETCH
 * @base: the reserved DRM event; first, as drm_send_event() kfree()s it
 * @ev: what read() returns
 * @link: in pf->pending, protected by pf->lock
 * @mm: the caller's mm_struct (mmgrab(): not its address space); NULL
 *	once dropped because the address space exited (pf->lock)
 * @tgid: the caller's process (get_task_pid()): its death stops the request
 * @next: first byte not yet migrated (work only)
 * @end: end of the range
 * @since: svmgpu_devmem_lru_now() at the first chunk: regions used after it
 *	are not evicted for this request (work only)
 * @moved: pages moved so far (work only)
 */
struct svmgpu_prefetch_req {
	struct drm_pending_event base;
	struct drm_svmgpu_event_prefetch ev;
	struct list_head link;
	struct mm_struct *mm;
	struct pid *tgid;
	u64 next;
	u64 end;
	u64 since;
	unsigned long moved;
};

/*
 * Every page of [start, end) of @mm in a VMA?  The mmap_lock is waited for
 * outside the section @idx (svmgpu_dev_lock_mm()).
 */
static int svmgpu_prefetch_mapped(struct svmgpu_device *sdev, struct mm_struct *mm,
				  u64 start, u64 end, int *idx)
{
	int ret;

	ret = svmgpu_dev_lock_mm(sdev, mm, false, idx);
	if (ret)
		return ret;
	while (start < end) {
		struct vm_area_struct *vma = vma_lookup(mm, start);

		if (!vma) {
			ret = -EFAULT;
			break;
		}
		start = vma->vm_end;
	}
	mmap_read_unlock(mm);
	return ret;
}

/**
 * svmgpu_prefetch_queue() - queue an asynchronous PREFETCH
 * @sdev: the device, entered (svmgpu_dev_enter()), with local memory
 * @file: the caller's file
 * @args: the checked arguments; @args->id is set
 * @idx: the caller's section: left while the mmap_lock is waited for; -1
 *	when the device was unplugged meanwhile (the return is then -ENODEV)
 *
 * Return: 0, -EFAULT (a page of the range is not mapped), -ENOBUFS (the
 * file's event space is full), -ENOMEM, -ESRCH (no mm), -EINTR, -ENODEV.
 */
int svmgpu_prefetch_queue(struct svmgpu_device *sdev, struct drm_file *file,
			  struct drm_svmgpu_prefetch *args, int *idx)
{
	struct svmgpu_file *sf = file->driver_priv;
	struct svmgpu_prefetch_file *pf = &sf->prefetch;
	struct svmgpu_prefetch_req *req;
	struct mm_struct *mm = current->mm;
	unsigned long flags;
	int ret;

	if (!mm)
		return -ESRCH;
	ret = svmgpu_prefetch_mapped(sdev, mm, args->start, args->start + args->size, idx);
	if (ret)
		return ret;
	req = kzalloc(sizeof(*req), GFP_KERNEL_ACCOUNT);
	if (!req)
		return -ENOMEM;
	req->ev.base.type = DRM_SVMGPU_EVENT_PREFETCH;
	req->ev.base.length = sizeof(req->ev);
	req->ev.start = args->start;
	req->ev.size = args->size;
	req->ev.flags = args->flags;
	req->next = args->start;
	req->end = args->start + args->size;
	/*
	 * Under event_lock, so that -ENOBUFS is the only "no room" answer.
	 * Not -EAGAIN: drmIoctl() (libdrm, libsvmgpu) retries that at once,
	 * forever, as nothing reads the events meanwhile.
	 */
	ret = -ENOBUFS;
	spin_lock_irqsave(&sdev->drm.event_lock, flags);
	if (file->event_space >= sizeof(req->ev))
		ret = drm_event_reserve_init_locked(&sdev->drm, file, &req->base,
						    &req->ev.base);
	spin_unlock_irqrestore(&sdev->drm.event_lock, flags);
	if (ret) {
		kfree(req);
		return ret;
	}
	mmgrab(mm);
	req->mm = mm;
	req->tgid = get_task_pid(current, PIDTYPE_TGID);

	/* Counted before the work can see it: done never passes queued. */
	atomic64_inc(&sdev->stats.prefetch_queued);
	/*
	 * The id is read under the lock: a running work can take the request
	 * at once, finish it and send its event, and a read() frees it.
	 */
	spin_lock(&pf->lock);
	req->ev.id = ++pf->next_id;
	args->id = req->ev.id;
	list_add_tail(&req->link, &pf->pending);
	spin_unlock(&pf->lock);
	queue_work(svmgpu_prefetch_wq, &pf->work);
	return 0;
}

static void svmgpu_prefetch_free(struct svmgpu_prefetch_req *req)
{
	if (req->mm)
		mmdrop(req->mm);
	put_pid(req->tgid);
}

/*
 * Let go of the mm_structs of @pf's pending requests whose address space
 * has exited: mm_users never rises from 0 (mmget_not_zero()), so they can
 * only end with -ECANCELED.  A batch at a time, mmdrop() outside pf->lock.
 */
static void svmgpu_prefetch_drop_exited(struct svmgpu_prefetch_file *pf)
{
	struct mm_struct *dead[16];
	struct svmgpu_prefetch_req *req;
	unsigned int n, i;

	do {
		n = 0;
		spin_lock(&pf->lock);
		list_for_each_entry(req, &pf->pending, link) {
			if (!req->mm || atomic_read(&req->mm->mm_users))
				continue;
			dead[n++] = req->mm;
			req->mm = NULL;
			if (n == ARRAY_SIZE(dead))
				break;
		}
		spin_unlock(&pf->lock);
		for (i = 0; i < n; i++)
			mmdrop(dead[i]);
		atomic64_add(n, &pf->sdev->stats.prefetch_mm_dropped);
	} while (n == ARRAY_SIZE(dead));
}

/* The process that queued @req is dying or its address space was reaped. */
static bool svmgpu_prefetch_doomed(struct svmgpu_prefetch_req *req)
{
	struct task_struct *task;
	bool doomed;

	if (test_bit(MMF_OOM_SKIP, &req->mm->flags))
		return true;
	rcu_read_lock();
	task = pid_task(req->tgid, PIDTYPE_TGID);
	doomed = !task || fatal_signal_pending(task) ||
		 (task->signal->flags & SIGNAL_GROUP_EXIT);
	rcu_read_unlock();
	return doomed;
}

/*
 * *@skip: the end of [@addr, @end)'s first VMA if nothing of it moves
 * @to_dev (svmgpu_devmem_vma_unmoved(): a PROT_NONE reservation to device
 * memory, one never touched to system memory), else @addr: skipped in one
 * step, not 2 MiB at a time, as the synchronous PREFETCH does.  The
 * mmap_lock is waited for outside the section @idx.
 * Return: 0, -EINTR or -ENODEV (svmgpu_dev_lock_mm()).
 */
static int svmgpu_prefetch_skip(struct svmgpu_device *sdev, struct mm_struct *mm, u64 addr,
				u64 end, bool to_dev, int *idx, u64 *skip)
{
	struct vm_area_struct *vma;
	int ret;

	*skip = addr;
	ret = svmgpu_dev_lock_mm(sdev, mm, false, idx);
	if (ret)
		return ret;
	vma = vma_lookup(mm, addr);
	if (vma && svmgpu_devmem_vma_unmoved(vma, to_dev))
		*skip = min_t(u64, end, vma->vm_end);
	mmap_read_unlock(mm);
	return 0;
}

/*
 * Run at most *@steps of @req's chunks.  Return: true when @req is done
 * (its event filled in), false when it is not (out of steps: @req stays
 * first; or the file is closing: postclose frees it).
 */
static bool svmgpu_prefetch_run(struct svmgpu_prefetch_file *pf,
				struct svmgpu_prefetch_req *req, unsigned int *steps)
{
	struct svmgpu_device *sdev = pf->sdev;
	bool to_dev = req->ev.flags & DRM_SVMGPU_PREFETCH_DEVICE;
	int ret = 0, idx;

	while (req->next < req->end && !ret) {
		u64 next = min(req->end, ALIGN_DOWN(req->next, SVMGPU_PREFETCH_CHUNK) +
				       SVMGPU_PREFETCH_CHUNK);
		u64 skip;

		if (READ_ONCE(pf->closing) || !*steps)
			return false;
		--*steps;
		if (!svmgpu_dev_enter(&sdev->drm, &idx)) {
			ret = -ENODEV;
			break;
		}
		if (!req->mm || svmgpu_prefetch_doomed(req) || !mmget_not_zero(req->mm)) {
			svmgpu_dev_exit(&sdev->drm, idx);
			ret = -ECANCELED;
			break;
		}
		if (req->next == req->ev.start)
			req->since = svmgpu_devmem_lru_now(sdev);
		ret = svmgpu_prefetch_skip(sdev, req->mm, req->next, req->end, to_dev,
					   &idx, &skip);
		if (!ret && skip > req->next)
			next = skip;
		else if (!ret)
			ret = svmgpu_devmem_prefetch(sdev, req->mm, req->next, next,
						     to_dev, req->since, &req->moved, &idx);
		mmput_async(req->mm);
		if (idx >= 0)
			svmgpu_dev_exit(&sdev->drm, idx);
		req->next = next;
		cond_resched();
	}
	req->ev.pages = req->moved;
	req->ev.result = ret;
	return true;
}

static void svmgpu_prefetch_work(struct work_struct *work)
{
	struct svmgpu_prefetch_file *pf = container_of(work, struct svmgpu_prefetch_file,
						       work);
	unsigned int steps = SVMGPU_PREFETCH_STEPS;
	struct svmgpu_prefetch_req *req;

	svmgpu_prefetch_drop_exited(pf);
	for (;;) {
		spin_lock(&pf->lock);
		req = list_first_entry_or_null(&pf->pending, struct svmgpu_prefetch_req,
					       link);
		spin_unlock(&pf->lock);
		if (!req)
			return;
		if (!svmgpu_prefetch_run(pf, req, &steps)) {
			/* Out of steps: behind the other files' work. */
			if (!READ_ONCE(pf->closing))
				queue_work(svmgpu_prefetch_wq, &pf->work);
			return;
		}
		spin_lock(&pf->lock);
		list_del(&req->link);
		spin_unlock(&pf->lock);
		svmgpu_prefetch_free(req);
		atomic64_inc(&pf->sdev->stats.prefetch_done);
		/* Frees @req (or, the file gone meanwhile, the DRM core does). */
		drm_send_event(&pf->sdev->drm, &req->base);
	}
}

/**
 * svmgpu_prefetch_file_init() - a new file's asynchronous PREFETCH state
 * @sf: the file
 */
void svmgpu_prefetch_file_init(struct svmgpu_file *sf)
{
	struct svmgpu_prefetch_file *pf = &sf->prefetch;

	pf->sdev = sf->sdev;
	spin_lock_init(&pf->lock);
	INIT_LIST_HEAD(&pf->pending);
	INIT_WORK(&pf->work, svmgpu_prefetch_work);
}

/**
 * svmgpu_prefetch_file_fini() - cancel a released file's PREFETCHes
 * @sf: the file (postclose: no ioctl of it runs or will)
 *
 * The running chunk ends, the rest is dropped without events.
 */
void svmgpu_prefetch_file_fini(struct svmgpu_file *sf)
{
	struct svmgpu_prefetch_file *pf = &sf->prefetch;
	struct svmgpu_prefetch_req *req, *tmp;

	WRITE_ONCE(pf->closing, true);
	cancel_work_sync(&pf->work);
	list_for_each_entry_safe(req, tmp, &pf->pending, link) {
		list_del(&req->link);
		svmgpu_prefetch_free(req);
		atomic64_inc(&pf->sdev->stats.prefetch_cancelled);
		drm_event_cancel_free(&pf->sdev->drm, &req->base);
	}
}

static int svmgpu_prefetch_show(struct seq_file *m, void *unused)
{
	struct svmgpu_device *sdev = m->private;
	s64 queued = atomic64_read(&sdev->stats.prefetch_queued);
	s64 done = atomic64_read(&sdev->stats.prefetch_done);
	s64 cancelled = atomic64_read(&sdev->stats.prefetch_cancelled);

	seq_printf(m, "async_queued: %lld\n", queued);
	seq_printf(m, "async_done: %lld\n", done);
	seq_printf(m, "async_cancelled: %lld\n", cancelled);
	seq_printf(m, "async_pending: %lld\n", queued - done - cancelled);
	seq_printf(m, "async_mm_dropped: %lld\n",
		   (s64)atomic64_read(&sdev->stats.prefetch_mm_dropped));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(svmgpu_prefetch);

/**
 * svmgpu_prefetch_debugfs_init() - debugfs svmgpu_prefetch of a DRM minor
 * @minor: the minor
 */
void svmgpu_prefetch_debugfs_init(struct drm_minor *minor)
{
	debugfs_create_file("svmgpu_prefetch", 0444, minor->debugfs_root,
			    to_svmgpu(minor->dev), &svmgpu_prefetch_fops);
}

/**
 * svmgpu_prefetch_init() - the prefetch workqueue (module init)
 *
 * Return: 0 or -ENOMEM.
 */
int svmgpu_prefetch_init(void)
{
	svmgpu_prefetch_wq = alloc_workqueue("svmgpu_prefetch", WQ_UNBOUND | WQ_FREEZABLE,
					     SVMGPU_PREFETCH_ACTIVE);
	return svmgpu_prefetch_wq ? 0 : -ENOMEM;
}

/**
 * svmgpu_prefetch_fini() - destroy the prefetch workqueue (module exit)
 *
 * Every file is closed, so every work item was cancelled by its postclose.
 */
void svmgpu_prefetch_fini(void)
{
	destroy_workqueue(svmgpu_prefetch_wq);
}
