// SPDX-License-Identifier: GPL-2.0
/*
 * svmgpu fault ring service (docs/hw-spec.md 7).
 *
 * The fault vector's threaded handler drains every record between GET and
 * PUT into a batch and writes GET back at once, so that queues stalled on a
 * full ring can fault again while the batch is handled.  It resolves
 * nothing itself: it hands each context's records to that address space's
 * own work item (svm->fault_work, on the device's unbound fault_wq), so
 * that one process whose faults are slow (mmap_lock contention, I/O,
 * FUSE) never delays another's.  Records of a context that is gone are cancelled at
 * once.  The last-context teardown waits, after CTX_DISABLE and before the
 * context id is freed, until the thread has dispatched every record the
 * ring held (svmgpu_fault_flush()), so that no record of an id's previous
 * owner reaches the next one; should one still come (the flush gave up on a
 * device that does not move FAULT_PUT sanely), it is cancelled if the id's
 * svm is not registered yet, as a gone context's.
 *
 * Each svm's work sorts its records by (page, access) so that duplicates
 * are resolved once (a read is never cancelled just because a write to the
 * same page was refused), and neighbouring faults that fall in one VMA and
 * one notifier chunk are resolved by one svmgpu_svm_fault() over a window
 * grown by fault_around pages.  Only the faulting pages are faulted (for
 * writing only where the device wrote); the rest of the window is mirrored
 * only where the CPU already maps a page, with the CPU PTE's permission.  A
 * fault whose address has no VMA, whose VMA forbids the access, or that
 * would need a userfaultfd handler is cancelled: the device fails the
 * command and reports the address and access kind in its error status,
 * which WAIT hands to userspace.  A fault that ran out of memory is left to
 * the replay (the device faults again) a bounded number of times, with a
 * backoff, before it is cancelled.  Each svm's batch ends with a REPLAY;
 * queues whose fault was resolved retry their access, the others (of this
 * svm or of another still being resolved) fault again.
 *
 * Only the IRQ thread touches sdev->fault_get, sdev->fault_done and
 * sdev->fault_batch, inside svmgpu_hw_enter(); svmgpu_hw_program() sets
 * them under sdev->hw_sem for writing (the thread may be woken meanwhile,
 * by the watchdog or a flush, and waits for it).  A
 * queued fault work holds an svm reference (svmgpu_svm_lookup()), so the
 * last-context teardown, which waits for every reference, drains it.  The
 * work uses the device inside a section (svmgpu_dev_enter()), left while
 * it waits for the mmap_lock (svmgpu_dev_lock_mm()): the removal waits for
 * no fault queued behind a writer; once unplugged, the work drops its
 * records.  Locks
 * taken by the work: mmap_lock (read), below svmgpu_svm_fault()
 * svm->pt_lock; svm->fault_lock (spinlock) only around its record list;
 * svmgpu_reply_lock (spinlock) around the two halves of FAULT_REPLY.
 */
#include <linux/delay.h>
#include <linux/hmm.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/sizes.h>
#include <linux/sort.h>
#include <drm/drm_print.h>

#include <uapi/drm/svmgpu_drm.h>

#include "svmgpu_blit.h"
#include "svmgpu_drv.h"
#include "svmgpu_trace.h"

unsigned int svmgpu_fault_around = 512;
module_param_named(fault_around, svmgpu_fault_around, uint, 0644);
MODULE_PARM_DESC(fault_around,
		 "pages mapped around a fault (power of two, 1..262144, default 512 = 2 MiB)");

/* Records handled per drain. */
#define SVMGPU_FAULT_BATCH	256

/* Pages streamed ahead of a sequential device write at most. */
#define SVMGPU_FAULT_STREAM	64

/* Longest a teardown waits for the fault thread (svmgpu_fault_flush()). */
#define SVMGPU_FAULT_FLUSH_MS	5000

/* Out-of-memory replays of one svm before its faults are cancelled. */
#define SVMGPU_NOMEM_RETRIES	8

/* FAULT_REPLY is written as two halves: one reply at a time. */
static DEFINE_SPINLOCK(svmgpu_reply_lock);

/*
 * FAULT_DUP: a duplicate of the page's first record, which decides for it
 * (svmgpu_fault_dups_decided()).
 */
enum { FAULT_PENDING, FAULT_RESOLVED, FAULT_CANCEL, FAULT_NOMEM, FAULT_DUP };

/*
 * Can mapping pages resolve it?  A bad PTE or a failed table read cannot:
 * replaying would fault forever.
 */
static bool svmgpu_fault_fixable(const struct svmgpu_fault *f)
{
	return f->reason == SVMGPU_FAULT_NOT_PRESENT ||
	       f->reason == SVMGPU_FAULT_WRITE_PROTECT;
}

static int svmgpu_fault_cmp(const void *a, const void *b)
{
	const struct svmgpu_fault *fa = a, *fb = b;

	if (fa->ctx != fb->ctx)
		return fa->ctx < fb->ctx ? -1 : 1;
	if (fa->va != fb->va)
		return fa->va < fb->va ? -1 : 1;
	/*
	 * Of one page, the unresolvable ones last (each cancelled on its
	 * own), then the most demanding access first: it decides the group.
	 */
	if (svmgpu_fault_fixable(fa) != svmgpu_fault_fixable(fb))
		return svmgpu_fault_fixable(fa) ? -1 : 1;
	return fb->access - fa->access;
}

static bool svmgpu_fault_is_write(const struct svmgpu_fault *f)
{
	return f->access == SVMGPU_ACCESS_WRITE || f->access == SVMGPU_ACCESS_ATOMIC;
}

/* Does the VMA allow the access at all?  Caller holds the mmap lock. */
static bool svmgpu_vma_allows(struct vm_area_struct *vma, bool write)
{
	if (vma->vm_flags & (VM_IO | VM_PFNMAP))
		return false;
	if (!(vma->vm_flags & VM_READ))
		return false;
	return !write || (vma->vm_flags & VM_WRITE);
}

/**
 * svmgpu_fault_flush_wake() - wake the waiters of svmgpu_fault_flush()
 * @sdev: the device
 *
 * Call after the ring moved (a batch dispatched, a reset's new generation)
 * or the device stopped draining it (held by a reset, fenced), with that
 * state written.  wq_has_sleeper() is a full barrier, paired with the one
 * in the waiter's prepare_to_wait(): a waiter it does not find queued sees
 * the new state when it checks its condition.
 */
void svmgpu_fault_flush_wake(struct svmgpu_device *sdev)
{
	if (wq_has_sleeper(&sdev->fault_done_wq))
		wake_up_all(&sdev->fault_done_wq);
}

/* The ring is dispatched up to @done.  Inside svmgpu_hw_enter(). */
static void svmgpu_fault_done_set(struct svmgpu_device *sdev, u32 done)
{
	if (READ_ONCE(sdev->fault_done) == done)
		return;
	/* Release: the batch's lookups and cancels are done before. */
	smp_store_release(&sdev->fault_done, done);
	svmgpu_fault_flush_wake(sdev);
}

static u32 svmgpu_fault_drain(struct svmgpu_device *sdev, struct svmgpu_fault *batch)
{
	u32 put, get = sdev->fault_get, n = 0, gen = sdev->fault_gen;

	put = svmgpu_read32(sdev, SVMGPU_REG_FAULT_PUT);
	if (put - get > sdev->fault_entries) {
		drm_err_ratelimited(&sdev->drm, "bad FAULT_PUT %u (GET %u)\n", put, get);
		return 0;
	}
	dma_rmb();	/* records were written before PUT moved */
	while (get != put && n < SVMGPU_FAULT_BATCH) {
		struct svmgpu_fault_record *r = &sdev->fault_ring[get % sdev->fault_entries];
		struct svmgpu_fault *f = &batch[n];

		f->addr = READ_ONCE(r->va);
		f->va = f->addr & PAGE_MASK;
		f->ctx = READ_ONCE(r->ctx);
		f->seq = READ_ONCE(r->seq);
		f->queue = READ_ONCE(r->queue);
		f->access = READ_ONCE(r->access);
		f->reason = READ_ONCE(r->reason);
		f->gen = gen;
		f->state = FAULT_PENDING;
		trace_svmgpu_fault(f->ctx, f->queue, f->addr, f->access,
				   f->reason, f->seq);
		get++;
		/*
		 * A malformed record cannot be replied to usefully: drop it.
		 * The copy queue's (context 0, a driver bug or a bad window
		 * entry) is cancelled like any context without an svm, so its
		 * batch fails at once (svmgpu_blit.c) instead of timing out.
		 */
		if (f->queue >= sdev->num_queues + !!svmgpu_devmem_blit(sdev) ||
		    f->access < SVMGPU_ACCESS_READ || f->access > SVMGPU_ACCESS_ATOMIC)
			continue;
		n++;
	}
	sdev->fault_get = get;
	svmgpu_write32(sdev, SVMGPU_REG_FAULT_GET, get);
	return n;
}

/* What svmgpu_svm_fault()'s return value makes of a fault. */
static u8 svmgpu_fault_outcome(int ret)
{
	switch (ret) {
	case 0:
		return FAULT_RESOLVED;
	case -EBUSY:		/* invalidated past the timeout: replay and see */
		return FAULT_PENDING;
	case -ENOMEM:		/* the driver's memory: replay, bounded */
		return FAULT_NOMEM;
	default:
		return FAULT_CANCEL;
	}
}

/*
 * A device writing sequentially through anonymous memory it has not
 * touched (split THP, pages dropped by MADV_DONTNEED, COW-shared after a
 * fork) would take one fault per page.  When the pages just below @va are
 * mapped writable in the device, it is streaming: request the next pages
 * for writing too, as many as the stream already covers (1, 2, 4 ... up to
 * SVMGPU_FAULT_STREAM), like readahead.  Never for file mappings (no block
 * allocated, no page cache COW-copied), and never further than the stream
 * is long, so a sparse writer (one page here and there) is never given a
 * page it did not write.  Appends to @req; returns the new count.
 */
static u32 svmgpu_fault_stream(struct svmgpu_svm *svm, u64 va, u64 end, u64 *req,
			       u32 nreq)
{
	u64 d = 1, n, p;

	mutex_lock(&svm->pt_lock);
	while (d < SVMGPU_FAULT_STREAM && va >= ((d + 1) << PAGE_SHIFT) &&
	       svmgpu_mmu_present(svm, va - (d << PAGE_SHIFT), true))
		d <<= 1;
	mutex_unlock(&svm->pt_lock);
	if (d == 1)
		return nreq;	/* the page below is not the device's: no stream */
	/* Leave room for one request per fault record still to come. */
	if (nreq >= SVMGPU_SVM_REQS - SVMGPU_SVM_FAULTS)
		return nreq;
	n = min3(d, (end - va) / PAGE_SIZE - 1,
		 (u64)(SVMGPU_SVM_REQS - SVMGPU_SVM_FAULTS - nreq));
	for (p = 1; p <= n; p++)
		req[nreq++] = (va + (p << PAGE_SHIFT)) | SVMGPU_FAULT_REQ_WRITE;
	return nreq;
}

/* Is one of the pending faults batch[first..last) a write to [start, end)? */
static bool svmgpu_fault_writes(const struct svmgpu_fault *batch, u32 first, u32 last,
				u64 start, u64 end)
{
	u32 k;

	for (k = first; k < last; k++)
		if (batch[k].state == FAULT_PENDING && batch[k].va >= start &&
		    batch[k].va < end && svmgpu_fault_is_write(&batch[k]))
			return true;
	return false;
}

/*
 * Placement advice (svmgpu_advise.c) for the window [start, end) that the
 * pending faults batch[first..last) of @vma (anonymous) will mirror: each
 * 2 MiB-aligned neighbourhood the window touches, clamped to the VMA and
 * split where the advice changes, is migrated before it is mapped where
 * the preferred location is set and neither accessed-by nor (without a
 * write fault there) read-mostly says otherwise; one neighbourhood never
 * evicts another of the same window.  Best effort: whatever stays where it
 * was is mapped there.  mmap_lock read-held.  @noted: ranges a thrash
 * period noted, for svmgpu_devmem_thrash_mapped() after the mapping.
 */
static void svmgpu_fault_place(struct svmgpu_svm *svm, struct vm_area_struct *vma,
			       struct svmgpu_fault *batch, u32 first, u32 last,
			       u64 start, u64 end, unsigned int *noted)
{
	u64 addr, next, since = svmgpu_devmem_lru_now(svm->sdev);

	if (!svm->sdev->devmem)
		return;
	for (addr = max(start & ~(u64)(SZ_2M - 1), (u64)vma->vm_start); addr < end;
	     addr = next) {
		u64 afirst, alast, bend = min((addr | (SZ_2M - 1)) + 1, (u64)vma->vm_end);
		u32 adv, loc;

		adv = svmgpu_advise_lookup(svm, addr, &afirst, &alast);
		next = min(bend - 1, alast) + 1;
		loc = adv & DRM_SVMGPU_ADVICE_LOC_MASK;
		if (loc == DRM_SVMGPU_LOC_NONE || (adv & DRM_SVMGPU_ADVICE_ACCESSED_BY))
			continue;
		if ((adv & DRM_SVMGPU_ADVICE_READ_MOSTLY) &&
		    !svmgpu_fault_writes(batch, first, last, addr, next))
			continue;
		if (svmgpu_devmem_fault_place(svm->sdev, vma, addr, next,
					      loc == DRM_SVMGPU_LOC_DEVICE, since, noted))
			break;	/* no memory, or killed: map what is there */
	}
}

/*
 * Cancel the pending faults of batch[first..last): the device was unplugged
 * while the mmap_lock was waited for, or the svm was killed.
 */
static void svmgpu_fault_cancel_rest(struct svmgpu_fault *batch, u32 first, u32 last)
{
	for (; first < last; first++)
		if (batch[first].state == FAULT_PENDING)
			batch[first].state = FAULT_CANCEL;
}

/*
 * Resolve the pending faults of one svm, batch[first..last), sorted by VA.
 * @req has room for SVMGPU_SVM_REQS requests.  Caller holds an mm user
 * reference, in the section @idx, which is left while the mmap_lock is
 * waited for (svmgpu_dev_lock_mm()): -1 once the device is unplugged, the
 * faults left cancelled, nothing of the device touched after.
 */
static void svmgpu_fault_resolve(struct svmgpu_svm *svm, struct svmgpu_fault *batch,
				 u32 first, u32 last, u64 *req, int *idx)
{
	struct mm_struct *mm = svm->mn.mm;
	u64 window = (u64)clamp(roundup_pow_of_two(max(svmgpu_fault_around, 1u)),
				1ul, 1ul << 18) << PAGE_SHIFT;
	u32 i, j, k, nreq;

	for (i = first; i < last; i = j) {
		struct vm_area_struct *vma;
		u64 start, end, cstart, cend, mapped = 0;
		unsigned int noted = 0;
		bool anon, single;
		int ret;

		j = i + 1;
		if (batch[i].state != FAULT_PENDING)
			continue;
		/* A group at a time: the unplug waits for one, not the batch. */
		if (i > first && !svmgpu_dev_reenter(svm->sdev, idx)) {
			svmgpu_fault_cancel_rest(batch, i, last);
			return;
		}
		/* Killed meanwhile (its last context went): nothing maps now. */
		if (READ_ONCE(svm->dead)) {
			svmgpu_fault_cancel_rest(batch, i, last);
			return;
		}

		if (!svmgpu_fault_fixable(&batch[i])) {
			drm_err_ratelimited(&svm->sdev->drm,
					    "ctx %u: unresolvable fault at 0x%llx (reason %u)\n",
					    svm->ctx_id, batch[i].addr, batch[i].reason);
			batch[i].state = FAULT_CANCEL;
			continue;
		}

		/*
		 * Already mapped by the window of an earlier group?  A failed
		 * walk is not cached, but a write-protect fault may have left a
		 * read-only TLB entry behind: flush that page before the replay.
		 */
		mutex_lock(&svm->pt_lock);
		if (!READ_ONCE(svm->dead) &&
		    svmgpu_mmu_present(svm, batch[i].va, svmgpu_fault_is_write(&batch[i]))) {
			batch[i].state = FAULT_RESOLVED;
			if (batch[i].reason == SVMGPU_FAULT_WRITE_PROTECT)
				svmgpu_tlb_invalidate(svm->sdev, svm, batch[i].va,
						      PAGE_SIZE, 0);
			mutex_unlock(&svm->pt_lock);
			continue;
		}
		mutex_unlock(&svm->pt_lock);

		if (svmgpu_dev_lock_mm(svm->sdev, mm, false, idx)) {
			/* -EINTR: not for a worker, which takes no signal */
			svmgpu_fault_cancel_rest(batch, i, last);
			return;
		}
		/* Killed while the lock was waited for: no placement either. */
		if (READ_ONCE(svm->dead)) {
			mmap_read_unlock(mm);
			svmgpu_fault_cancel_rest(batch, i, last);
			return;
		}
		vma = vma_lookup(mm, batch[i].va);
		if (!vma || !svmgpu_vma_allows(vma, svmgpu_fault_is_write(&batch[i]))) {
			mmap_read_unlock(mm);
			batch[i].state = FAULT_CANCEL;
			continue;
		}
		svmgpu_chunk_bounds(batch[i].va, &cstart, &cend);
		start = max3(batch[i].va & ~(window - 1), (u64)vma->vm_start, cstart);
		end = min3((batch[i].va | (window - 1)) + 1, (u64)vma->vm_end, cend);
		anon = vma_is_anonymous(vma);
		/*
		 * Grow the group over the following faults in this VMA and
		 * chunk.  Only the faulting pages are requested; the window
		 * around them is mirrored where the CPU already maps pages.
		 */
		for (; j < last; j++) {
			struct svmgpu_fault *f = &batch[j];

			/* an unresolvable one is cancelled as the first of its own group */
			if (!svmgpu_fault_fixable(f) ||
			    f->va >= min_t(u64, vma->vm_end, cend) ||
			    (svmgpu_fault_is_write(f) && !(vma->vm_flags & VM_WRITE)))
				break;
			end = max(end, min3((f->va | (window - 1)) + 1,
					    (u64)vma->vm_end, cend));
		}
		if (anon)
			svmgpu_fault_place(svm, vma, batch, i, j, start, end, &noted);
		mmap_read_unlock(mm);

		nreq = 0;
		for (k = i; k < j; k++) {
			bool w = svmgpu_fault_is_write(&batch[k]);
			u64 last = nreq ? req[nreq - 1] : 0;

			if (batch[k].state != FAULT_PENDING)
				continue;
			/* Duplicates follow their most demanding fault; streamed pages too. */
			if (nreq && batch[k].va <= (last & PAGE_MASK) &&
			    ((last & SVMGPU_FAULT_REQ_WRITE) || !w))
				continue;
			req[nreq++] = batch[k].va | (w ? SVMGPU_FAULT_REQ_WRITE : 0);
			if (w && anon)
				nreq = svmgpu_fault_stream(svm, batch[k].va, end, req, nreq);
		}

		/* Test hook: the driver's own memory ran out. */
		if (unlikely(atomic_dec_if_positive(&svm->sdev->inject_fault_nomem) >= 0))
			ret = -ENOMEM;
		else
			ret = svmgpu_svm_fault(svm, start, end, req, nreq, &mapped, idx);
		single = ret == -EFAULT || ret == -EPERM;
		if (single) {
			/* A requested page cannot be faulted: one by one. */
			for (k = i; k < j && *idx >= 0; k++) {
				if (batch[k].state != FAULT_PENDING)
					continue;
				req[0] = batch[k].va |
					(svmgpu_fault_is_write(&batch[k]) ?
					 SVMGPU_FAULT_REQ_WRITE : 0);
				ret = svmgpu_svm_fault(svm, batch[k].va,
						       batch[k].va + PAGE_SIZE,
						       req, 1, &mapped, idx);
				batch[k].state = svmgpu_fault_outcome(ret);
			}
		}
		if (*idx < 0) {
			/*
			 * What it noted is not given back: the device memory
			 * goes with the device (svmgpu_devmem_fini()).
			 */
			svmgpu_fault_cancel_rest(batch, i, last);
			return;
		}
		/* Mapped (or not): a thrash period's end may run. */
		svmgpu_devmem_thrash_mapped(svm->sdev, noted);
		if (single)
			continue;
		for (k = i; k < j; k++)
			if (batch[k].state == FAULT_PENDING)
				batch[k].state = svmgpu_fault_outcome(ret);
	}
}

/*
 * After a group of duplicates of one page was decided by its first (most
 * demanding) fault: a cancelled fault cancels the duplicates of the same
 * kind, but a refused write says nothing about a read of that page, so
 * reads that followed a cancelled write go back to pending to be resolved
 * on their own.  Returns true if any did.
 */
static bool svmgpu_fault_split_cancelled(struct svmgpu_fault *batch, u32 first, u32 last)
{
	struct svmgpu_fault *rep = NULL;
	bool again = false;
	u32 k;

	for (k = first; k < last; k++) {
		if (!rep || batch[k].va != rep->va) {
			rep = &batch[k];
			continue;
		}
		if (rep->state != FAULT_CANCEL)
			continue;
		if (svmgpu_fault_is_write(&batch[k]) == svmgpu_fault_is_write(rep)) {
			batch[k].state = FAULT_CANCEL;
		} else {
			batch[k].state = FAULT_PENDING;
			again = true;
		}
	}
	return again;
}

/*
 * The duplicates left once the batch is decided go as their page's first
 * record: cancelled with it if it was cancelled (only out of memory
 * retries get here: svmgpu_fault_split_cancelled() took the others),
 * whatever their access, else replayed.  Left replayed, a live duplicate
 * of a cancelled stale record faulted again and began a new round of
 * retries.
 */
static void svmgpu_fault_dups_decided(struct svmgpu_fault *batch, u32 n)
{
	u32 k, first = 0;

	for (k = 0; k < n; k++) {
		if (batch[k].va != batch[first].va)
			first = k;
		if (batch[k].state == FAULT_DUP)
			batch[k].state = batch[first].state == FAULT_CANCEL ?
					 FAULT_CANCEL : FAULT_RESOLVED;
	}
}

/*
 * CANCEL the failed records of @batch, then one REPLAY.  Not a record from
 * before a reset (an svm's fault work may outlast one): the device numbers
 * faults from 1 again, and the CANCEL would fail a stall of the new
 * generation that has the same queue and seq, maybe another process's.
 * @svm: if not NULL, the records' svm: the CANCELs sent count in its
 * contexts' cancels (SVMGPU_CS_CANCELS), those not sent do not.
 */
static u32 svmgpu_fault_reply(struct svmgpu_device *sdev, struct svmgpu_svm *svm,
			      struct svmgpu_fault *batch, u32 n)
{
	u32 i, gen, cancels = 0;

	if (!svmgpu_hw_enter(sdev))
		return 0;
	/* Stable: svmgpu_hw_program() moves it with hw_sem write-held. */
	gen = sdev->fault_gen;
	/*
	 * Counted before the CANCELs are sent: the queue is stalled on the
	 * fault now, bound to its hardware queue; once cancelled it may end
	 * and give it back, and svmgpu_ctx_account() would find no context.
	 */
	for (i = 0; svm && i < n; i++)
		if (batch[i].state == FAULT_CANCEL && batch[i].gen == gen)
			svmgpu_ctx_account(sdev, batch[i].queue, svm, SVMGPU_CS_CANCELS, 1);
	spin_lock(&svmgpu_reply_lock);
	for (i = 0; i < n; i++) {
		if (batch[i].state != FAULT_CANCEL || batch[i].gen != gen)
			continue;
		svmgpu_write64(sdev, SVMGPU_REG_FAULT_REPLY,
			       SVMGPU_FAULT_REPLY_CANCEL_VAL(batch[i].queue, batch[i].seq));
		trace_svmgpu_fault_reply(batch[i].ctx, batch[i].queue, batch[i].addr,
					 batch[i].seq, true);
		cancels++;
	}
	svmgpu_write64(sdev, SVMGPU_REG_FAULT_REPLY, SVMGPU_FAULT_REPLY_REPLAY);
	spin_unlock(&svmgpu_reply_lock);
	svmgpu_hw_exit(sdev);

	atomic64_inc(&sdev->stats.replays);
	atomic64_add(cancels, &sdev->stats.cancels);
	return cancels;
}

/*
 * Resolve one svm's records; caller holds an svm reference, in the
 * section @idx (svmgpu_fault_resolve()): -1 on return if the device was
 * unplugged meanwhile, the records then neither replied to nor counted.
 */
static void svmgpu_fault_svm_batch(struct svmgpu_svm *svm, struct svmgpu_fault *batch,
				   u32 n, int *idx)
{
	struct svmgpu_device *sdev = svm->sdev;
	bool nomem = false, resolved = false;
	u32 k, queues = 0;

	sort(batch, n, sizeof(*batch), svmgpu_fault_cmp, NULL);
	if (READ_ONCE(svm->dead) || !mmget_not_zero(svm->mn.mm)) {
		/* Context or process gone: nothing can map this. */
		for (k = 0; k < n; k++)
			batch[k].state = FAULT_CANCEL;
	} else {
		/*
		 * What the fault path allocates for the process (page tables,
		 * notifiers) is charged to its memory cgroup, not to whoever
		 * ran this work.
		 */
		struct mem_cgroup *memcg = get_mem_cgroup_from_mm(svm->mn.mm);
		struct mem_cgroup *old = set_active_memcg(memcg);

		/* Duplicates: the first (most demanding) one stands for all that it can. */
		for (k = 1; k < n; k++)
			if (batch[k].va == batch[k - 1].va && svmgpu_fault_fixable(&batch[k]))
				batch[k].state = FAULT_DUP;
		svmgpu_fault_resolve(svm, batch, 0, n, svm->fault_req, idx);
		if (*idx >= 0 && svmgpu_fault_split_cancelled(batch, 0, n))
			svmgpu_fault_resolve(svm, batch, 0, n, svm->fault_req, idx);
		set_active_memcg(old);
		mem_cgroup_put(memcg);
		mmput_async(svm->mn.mm);
		/* The removal resets the device: no reply; nothing to count in. */
		if (*idx < 0)
			return;
	}

	for (k = 0; k < n; k++) {
		nomem |= batch[k].state == FAULT_NOMEM;
		resolved |= batch[k].state == FAULT_RESOLVED;
	}
	if (nomem && ++svm->nomem_retries > SVMGPU_NOMEM_RETRIES) {
		drm_err_ratelimited(&sdev->drm,
				    "ctx %u: out of memory resolving faults, cancelling\n",
				    svm->ctx_id);
		for (k = 0; k < n; k++)
			if (batch[k].state == FAULT_NOMEM)
				batch[k].state = FAULT_CANCEL;
		svm->nomem_retries = 0;
	} else if (nomem) {
		/*
		 * Let reclaim make progress before the device faults again;
		 * out of the section: a removal does not wait for the backoff.
		 */
		svmgpu_dev_exit(&sdev->drm, *idx);
		msleep(1u << min(svm->nomem_retries, 8u));
		if (!svmgpu_dev_enter(&sdev->drm, idx)) {
			*idx = -1;
			return;
		}
	} else if (resolved) {
		svm->nomem_retries = 0;
	}
	svmgpu_fault_dups_decided(batch, n);

	for (k = 0; k < n; k++)
		queues |= BIT(batch[k].queue);
	svmgpu_fault_reply(sdev, svm, batch, n);
	atomic64_inc(&sdev->stats.fault_batches);
	for (k = 0; k < sdev->num_queues; k++) {
		if (!(queues & BIT(k)))
			continue;
		svmgpu_ctx_account(sdev, k, svm, SVMGPU_CS_BATCHES, 1);
		svmgpu_ctx_account(sdev, k, svm, SVMGPU_CS_REPLAYS, 1);
	}
}

/* svm->fault_work: resolve what the IRQ thread handed over, then drop its reference. */
static void svmgpu_fault_work(struct work_struct *work)
{
	struct svmgpu_svm *svm = container_of(work, struct svmgpu_svm, fault_work);
	unsigned int delay;
	int idx;
	u32 n;

	/*
	 * Test hook (debugfs): a fault stuck in I/O, as hmm_range_fault()
	 * would be, with the svm reference and the mmap_lock (read) held.
	 */
	delay = atomic_xchg(&svm->sdev->inject_fault_delay_ms, 0);
	if (delay) {
		struct mm_struct *mm = svm->mn.mm;
		bool live = mmget_not_zero(mm);

		if (live)
			mmap_read_lock(mm);
		atomic64_inc(&svm->sdev->stats.fault_delays_injected);
		msleep(delay);
		if (live) {
			mmap_read_unlock(mm);
			mmput_async(mm);
		}
	}

	spin_lock(&svm->fault_lock);
	n = svm->nfault_pending;
	memcpy(svm->fault_batch, svm->fault_pending, n * sizeof(*svm->fault_batch));
	svm->nfault_pending = 0;
	spin_unlock(&svm->fault_lock);

	/*
	 * Inside a section: the removal's unplug waits for it, except while
	 * the mmap_lock is waited for (svmgpu_dev_lock_mm()): a writer queued
	 * behind a fault stuck in I/O does not hold the removal up.  Once
	 * unplugged, the records are dropped: the removal resets the device.
	 */
	if (n && svmgpu_dev_enter(&svm->sdev->drm, &idx)) {
		svmgpu_fault_svm_batch(svm, svm->fault_batch, n, &idx);
		if (idx >= 0)
			svmgpu_dev_exit(&svm->sdev->drm, idx);
	}
	svmgpu_svm_unref(svm);
}

/**
 * svmgpu_fault_svm_init() - set up an svm's fault work
 * @svm: the svm being created
 */
void svmgpu_fault_svm_init(struct svmgpu_svm *svm)
{
	spin_lock_init(&svm->fault_lock);
	INIT_WORK(&svm->fault_work, svmgpu_fault_work);
}

/*
 * Hand each context's records of a drained batch to its svm's work; cancel
 * the records of contexts that are gone.  Runs in the IRQ thread.
 */
static void svmgpu_fault_dispatch(struct svmgpu_device *sdev, struct svmgpu_fault *batch,
				  u32 n)
{
	u32 i, j, k, cancels = 0;

	sort(batch, n, sizeof(*batch), svmgpu_fault_cmp, NULL);
	for (i = 0; i < n; i = j) {
		struct svmgpu_svm *svm;
		bool stale;

		for (j = i + 1; j < n && batch[j].ctx == batch[i].ctx; j++)
			;
		svm = svmgpu_svm_lookup(sdev, batch[i].ctx);
		/*
		 * A freed context id is reused at once.  svmgpu_fault_flush()
		 * took its previous owner's records first, unless it gave up:
		 * such a record could meet a new svm that mmu_notifier_get()
		 * has not registered yet, which has no mm (or never will:
		 * svmgpu_svm_unpublish()).  Stale either way, cancelled like a
		 * dead context's.
		 */
		stale = svm && !svmgpu_svm_mm(svm);
		if (!svm || READ_ONCE(svm->dead) || stale) {
			for (k = i; k < j; k++)
				batch[k].state = FAULT_CANCEL;
			cancels += j - i;
			if (stale)
				atomic64_add(j - i, &sdev->stats.fault_records_unregistered);
			if (svm)
				svmgpu_svm_unref(svm);
			continue;
		}
		spin_lock(&svm->fault_lock);
		for (k = i; k < j && svm->nfault_pending < SVMGPU_SVM_FAULTS; k++)
			svm->fault_pending[svm->nfault_pending++] = batch[k];
		spin_unlock(&svm->fault_lock);
		for (k = i; k < j; k++) {
			batch[k].state = FAULT_RESOLVED;	/* not ours to reply */
			svmgpu_ctx_account(sdev, batch[k].queue, svm, SVMGPU_CS_FAULTS, 1);
		}
		/* The queued work owns the reference; one already queued has its own. */
		if (!queue_work(sdev->fault_wq, &svm->fault_work))
			svmgpu_svm_unref(svm);
	}
	atomic64_add(n, &sdev->stats.fault_records);
	if (cancels) {
		svmgpu_fault_reply(sdev, NULL, batch, n);
		atomic64_inc(&sdev->stats.fault_batches);
	}
}

/**
 * svmgpu_fault_irq_thread() - threaded handler of the fault vector
 * @irq: the interrupt
 * @arg: the device
 *
 * Return: IRQ_HANDLED.
 */
irqreturn_t svmgpu_fault_irq_thread(int irq, void *arg)
{
	struct svmgpu_device *sdev = arg;
	struct svmgpu_fault *batch = sdev->fault_batch;
	u32 n = 0, gen = 0, done = 0, delay;

	for (;;) {
		if (!svmgpu_hw_enter(sdev))
			break;
		/* The last pass's batch is dispatched, unless a reset dropped it. */
		if (n && sdev->fault_gen == gen)
			svmgpu_fault_done_set(sdev, done);
		/* Clear first, then rescan: a record racing the clear re-raises. */
		svmgpu_write32(sdev, SVMGPU_REG_INTR_STATUS, SVMGPU_INTR_FAULT);
		n = svmgpu_fault_drain(sdev, batch);
		gen = sdev->fault_gen;
		done = sdev->fault_get;
		if (!n)		/* dropped malformed records are done too */
			svmgpu_fault_done_set(sdev, done);
		svmgpu_hw_exit(sdev);
		if (!n)
			break;
		/* Test hook: a slow dispatch, which svmgpu_fault_flush() waits for. */
		if (unlikely(atomic_read(&sdev->inject_dispatch_delay_ms))) {
			delay = atomic_xchg(&sdev->inject_dispatch_delay_ms, 0);
			if (delay)
				msleep(delay);
		}
		svmgpu_fault_dispatch(sdev, batch, n);
	}
	return IRQ_HANDLED;
}

/* Has the thread dispatched the ring up to @put? */
static bool svmgpu_fault_reached(struct svmgpu_device *sdev, u32 put)
{
	/* Acquire: pairs with svmgpu_fault_done_set()'s release. */
	return (s32)(smp_load_acquire(&sdev->fault_done) - put) >= 0;
}

/*
 * Is the wait of svmgpu_fault_flush() over: the ring dispatched up to
 * @put of generation @gen, or reset since (a new generation: its records
 * are dropped), or the hardware not usable or fenced (the thread drains
 * nothing more; svmgpu_hw_suspend_locked() and the fences wake the
 * waiters)?
 */
static bool svmgpu_fault_flushed(struct svmgpu_device *sdev, u32 put, u32 gen)
{
	return READ_ONCE(sdev->fault_gen) != gen || !READ_ONCE(sdev->hw_ready) ||
	       READ_ONCE(sdev->fenced) || svmgpu_fault_reached(sdev, put);
}

/**
 * svmgpu_fault_flush() - wait until the ring's records are dispatched
 * @sdev: the device; the caller holds sdev->teardown_sem (read), so that
 *	the interrupts are not freed meanwhile
 *
 * The last-context teardown calls this after CTX_DISABLE and before it
 * frees the context id, with the svm already out of the id table: the
 * disabled context writes no record any more, those it wrote lie before
 * the FAULT_PUT read here, and the thread (woken: the interrupt may be
 * lost, INJ_DROP_IRQS) cancels them as a gone context's.  So no record of
 * an id's previous owner meets the next one.  Immediate when the ring is
 * empty; bounded by SVMGPU_FAULT_FLUSH_MS (a device that does not move
 * FAULT_PUT sanely), when svmgpu_fault_dispatch()'s check of the new
 * owner is what is left.
 */
void svmgpu_fault_flush(struct svmgpu_device *sdev)
{
	u32 done, put, gen;

	lockdep_assert_held(&sdev->teardown_sem);
	if (svmgpu_hw_enter(sdev)) {
		/* Before PUT, which it never passes; see svmgpu_fault_reached(). */
		done = smp_load_acquire(&sdev->fault_done);
		put = svmgpu_read32(sdev, SVMGPU_REG_FAULT_PUT);
		gen = sdev->fault_gen;
		/*
		 * PUT behind what was dispatched, or farther ahead than two
		 * rings (a full ring, and a batch in dispatch that may have
		 * skipped a ring of malformed records): a device fenced
		 * (CONTROL.RESET reads PUT 0), gone (all ones) or insane; the
		 * thread drains nothing from it.  Only a batch in dispatch is
		 * left to wait for.
		 */
		if (put - done > 2 * sdev->fault_entries || READ_ONCE(sdev->fenced)) {
			svmgpu_hw_exit(sdev);
			goto sync;
		}
		if (svmgpu_fault_reached(sdev, put)) {
			svmgpu_hw_exit(sdev);
			return;
		}
		atomic64_inc(&sdev->stats.fault_flushes);
		/* The interrupt may be lost (INJ_DROP_IRQS). */
		irq_wake_thread(sdev->irq[SVMGPU_VEC_FAULT], &sdev->vec[SVMGPU_VEC_FAULT]);
		svmgpu_hw_exit(sdev);
		if (!wait_event_timeout(sdev->fault_done_wq,
					svmgpu_fault_flushed(sdev, put, gen),
					msecs_to_jiffies(SVMGPU_FAULT_FLUSH_MS))) {
			atomic64_inc(&sdev->stats.fault_flush_timeouts);
			drm_err_ratelimited(&sdev->drm,
					    "fault records up to %u not taken in %u ms\n",
					    put, SVMGPU_FAULT_FLUSH_MS);
		}
		if (READ_ONCE(sdev->fault_gen) == gen && svmgpu_fault_reached(sdev, put))
			return;
	}
sync:
	/*
	 * Not usable (removed, or held by a reset), fenced or timed out: the
	 * thread stops at its next svmgpu_hw_enter() or drains nothing, and a
	 * reset drops the ring; a batch it drained before may still be in
	 * dispatch.  Removed: no interrupt any more.
	 */
	if (sdev->nvec > SVMGPU_VEC_FAULT)
		synchronize_irq(sdev->irq[SVMGPU_VEC_FAULT]);
}

/**
 * svmgpu_fault_batch_alloc() - allocate the IRQ thread's batch buffer
 *
 * Return: the buffer or NULL.
 */
void *svmgpu_fault_batch_alloc(void)
{
	return kcalloc(SVMGPU_FAULT_BATCH, sizeof(struct svmgpu_fault), GFP_KERNEL);
}
