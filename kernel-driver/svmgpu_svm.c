// SPDX-License-Identifier: GPL-2.0
/*
 * svmgpu per-process address-space mirror (Documentation/mm/hmm.rst).
 *
 * One struct svmgpu_svm exists per (device, mm).  It is the mmu_notifier
 * subscription returned by mmu_notifier_get() for the device's own ops, so
 * every context a process creates on one device shares it; each context
 * holds one mmu_notifier_get() reference and drops it with
 * mmu_notifier_put().  .free_notifier runs from an SRCU callback after the
 * last put; it hands the final device-reference drop to a work item because
 * that may sleep.  Module exit calls mmu_notifier_synchronize() and then
 * drains the work queue.
 *
 * Stopping points: the mm goes away (.release), the device goes away
 * (svmgpu_svm_kill_all() from remove) and the last context goes away
 * (svmgpu_svm_put_ctx()).  All three go through svmgpu_svm_kill(), which
 * stops the queues, marks the svm dead so that nothing maps again, removes
 * every device PTE with a TLB invalidation, disables the device context
 * and frees the page tables.
 *
 * Mirroring: interval notifiers cover the address space in aligned chunks
 * (chunk_shift), created the first time the device faults in a chunk and
 * removed with the last context.  Their invalidate callback takes
 * svm->pt_lock (trylock when the range is not blockable), sets the
 * sequence, removes the PTEs, invalidates the TLB, waits for it and
 * DMA-unmaps the pages.  The fault path follows hmm.rst: read the sequence,
 * hmm_range_fault() under the mmap read lock, take svm->pt_lock, check
 * mmu_interval_read_retry(), write the PTEs.
 *
 * Lock order: mmap_lock (write, creation only), svmgpu_create_lock;
 * sdev->teardown_sem, svm->lock, svm->notifier_lock, mmap_lock, svm->pt_lock,
 * sdev->inval_lock.  Inserting an interval notifier takes no mmap_lock:
 * the mm's interval tree is registered at creation (svmgpu_svm_get()).
 *
 * svmgpu_create_lock (global: mmu_notifier_get_locked() passes only the mm
 * to .alloc_notifier) covers creation and the decision that a context is
 * an svm's last; it is never held while waiting for a fault.  The teardown
 * kills the svm under sdev->teardown_sem (read), which removal takes for
 * writing, then waits for the fault work's references with neither that
 * nor a section held: a teardown stuck behind a slow fault delays only
 * creators in the same mm.
 */
#include <linux/delay.h>
#include <linux/hmm.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/cred.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/userfaultfd_k.h>
#include <drm/drm_drv.h>
#include <drm/drm_print.h>

#include "svmgpu_drv.h"
#include "svmgpu_trace.h"

static unsigned int chunk_shift = 26;
module_param(chunk_shift, uint, 0444);
MODULE_PARM_DESC(chunk_shift,
		 "log2 of the VA chunk one interval notifier covers (21..39, default 26 = 64 MiB)");

/*
 * mmu_notifier_get() calls .alloc_notifier with only the mm; the device
 * being bound is passed here, under svmgpu_create_lock, which also
 * serializes creation against the last-context teardown.
 */
static DEFINE_MUTEX(svmgpu_create_lock);
static struct svmgpu_device *svmgpu_creating;
/* The last svm's serial (svm->serial). */
static atomic64_t svmgpu_svm_serial = ATOMIC64_INIT(0);

static unsigned int max_user_contexts = 256;
module_param(max_user_contexts, uint, 0644);
MODULE_PARM_DESC(max_user_contexts,
		 "hardware contexts (processes with a context) one user may have on a device (default 256 of 1023); more fail with -EMFILE");

/*
 * A chunk's notifier and its xarray slot are unreclaimable kernel memory
 * (about 100 bytes) kept until the last context goes, and every munmap(),
 * mprotect() or exit over the chunk runs its callback: an ADVISE over a
 * huge PROT_NONE reservation, which costs the process nothing, would
 * otherwise make millions.  The default covers 16 TiB at chunk_shift 26.
 */
static unsigned int max_chunks = 262144;
module_param(max_chunks, uint, 0644);
MODULE_PARM_DESC(max_chunks,
		 "notifier chunks one address space may have on a device (default 262144: 16 TiB of 64 MiB chunks, about 25 MiB); past it ADVISE fails with -ENOMEM and device faults in new chunks are cancelled");

static unsigned int svmgpu_chunk_shift(void)
{
	return clamp(chunk_shift, 21u, 39u);
}

/**
 * svmgpu_chunk_covers() - does one notifier chunk hold all of [start, end)?
 * @svm: the svm
 * @start: first VA
 * @end: one past the last VA
 *
 * Return: true if the range lies in a single chunk.
 */
bool svmgpu_chunk_covers(struct svmgpu_svm *svm, u64 start, u64 end)
{
	return (start >> svmgpu_chunk_shift()) == ((end - 1) >> svmgpu_chunk_shift());
}

/**
 * svmgpu_chunk_bounds() - the chunk around a VA
 * @va: the VA
 * @start: out, first VA of the chunk
 * @end: out, one past its last VA
 */
void svmgpu_chunk_bounds(u64 va, u64 *start, u64 *end)
{
	u64 size = 1ull << svmgpu_chunk_shift();

	*start = va & ~(size - 1);
	*end = *start + size;
}

/*
 * Undo what svmgpu_mn_alloc() published for an svm that was never
 * registered: mmu_notifier_get() calls .free_notifier at once when
 * registering fails after .alloc_notifier (mm_take_all_locks() gives up with
 * -EINTR when a signal is pending).  No context ever used it.  Not under
 * svmgpu_create_lock: a work item; device removal flushes it.
 */
static void svmgpu_svm_unpublish(struct svmgpu_svm *svm)
{
	struct svmgpu_device *sdev = svm->sdev;

	xa_erase(&sdev->svms, svm->ctx_id);
	svmgpu_svm_unref(svm);
	wait_for_completion(&svm->unused);
	svmgpu_svm_kill(svm);
	ida_free(&sdev->ctx_ida, svm->ctx_id);
	atomic64_inc(&sdev->stats.svms_unpublished);
}

static void svmgpu_svm_free_work(struct work_struct *work)
{
	struct svmgpu_svm *svm = container_of(work, struct svmgpu_svm, free_work);
	struct svmgpu_device *sdev = svm->sdev;

	if (!svm->registered)
		svmgpu_svm_unpublish(svm);
	xa_destroy(&svm->chunks);
	svmgpu_advise_fini(svm);
	mutex_destroy(&svm->pt_lock);
	mutex_destroy(&svm->alloc_lock);
	mutex_destroy(&svm->notifier_lock);
	mutex_destroy(&svm->lock);
	kfree(svm);
	drm_dev_put(&sdev->drm);
}

/**
 * svmgpu_svm_ctx_enable() - (re)load an svm's context-table entry
 * @sdev: the device
 * @svm: the svm, with its root table
 *
 * While a PCI reset or suspend holds the device (sdev->in_reset) the entry
 * is only written: svmgpu_hw_program() loads every valid entry when the
 * device comes back.
 *
 * Return: 0, -ENODEV once the device is removed or while it is wedged (a
 * reset did not bring it back), or -EIO if the device rejected the context
 * (the entry is cleared again).
 */
int svmgpu_svm_ctx_enable(struct svmgpu_device *sdev, struct svmgpu_svm *svm)
{
	int ret;

	down_read(&sdev->hw_sem);
	if (!sdev->hw_ready && !sdev->in_reset) {
		up_read(&sdev->hw_sem);
		return -ENODEV;
	}
	ret = svmgpu_ctx_entry_set(sdev, svm->ctx_id, svm->root->dma);
	up_read(&sdev->hw_sem);
	return ret;
}

/**
 * svmgpu_ctx_entry_set() - write a context-table entry and load it
 * @sdev: the device, sdev->hw_sem read-held, hardware ready or held by a
 *	PCI reset (then only the entry is written: the reprogramming after the
 *	reset loads it)
 * @id: the context id (0: the driver's copy queue, svmgpu_blit.c)
 * @pt_root: DMA address of its top-level page table
 *
 * Writes CTX_ENABLE and checks that the device took the entry with
 * CTX_SELECT/CTX_STATE, under sdev->inval_lock (the context registers'
 * lock, as for CTX_DISABLE): the global, write-1-to-clear
 * ERROR_STATUS.CTX could be another enabler's rejection, or be cleared by
 * the error interrupt first.  A rejected entry is cleared again.
 *
 * Return: 0, or -EIO if the device rejected the context.
 */
int svmgpu_ctx_entry_set(struct svmgpu_device *sdev, u32 id, dma_addr_t pt_root)
{
	struct svmgpu_ctx_entry *e = &sdev->ctx_table[id];
	int ret = 0;

	lockdep_assert_held(&sdev->hw_sem);
	e->pt_root = pt_root;
	e->rsvd0 = 0;
	e->rsvd1[0] = 0;
	e->rsvd1[1] = 0;
	wmb();	/* entry visible before WRITE_ONCE of flags */
	WRITE_ONCE(e->flags, SVMGPU_CTX_VALID);
	wmb();	/* entry complete before the device reads it */
	if (!sdev->hw_ready)
		return 0;
	mutex_lock(&sdev->inval_lock);
	svmgpu_write32(sdev, SVMGPU_REG_CTX_ENABLE, id);
	svmgpu_write32(sdev, SVMGPU_REG_CTX_SELECT, id);
	if (!(svmgpu_read32(sdev, SVMGPU_REG_CTX_STATE) & SVMGPU_CTX_STATE_ENABLED)) {
		drm_err_ratelimited(&sdev->drm, "device rejected context %u\n", id);
		memset(e, 0, sizeof(*e));
		ret = -EIO;
	}
	mutex_unlock(&sdev->inval_lock);
	return ret;
}

/*
 * Clear an svm's context-table entry so that no reprogramming loads it
 * again.  hw_sem orders this against svmgpu_hw_program(); the table exists
 * while the hardware is ready, held by a PCI reset, or wedged (a reset
 * may bring it back and load the table).
 */
static void svmgpu_svm_ctx_clear(struct svmgpu_device *sdev, struct svmgpu_svm *svm)
{
	down_read(&sdev->hw_sem);
	if (sdev->hw_ready || sdev->in_reset || sdev->wedged)
		memset(&sdev->ctx_table[svm->ctx_id], 0,
		       sizeof(sdev->ctx_table[svm->ctx_id]));
	up_read(&sdev->hw_sem);
}

/* Hardware contexts (svms) of a user on a device.  Under svmgpu_create_lock. */
static unsigned int svmgpu_user_contexts(struct svmgpu_device *sdev, kuid_t uid)
{
	struct svmgpu_svm *svm;
	unsigned long id;
	unsigned int n = 0;

	lockdep_assert_held(&svmgpu_create_lock);
	/* xa_lock: an unregistered svm is erased and freed by a work item. */
	xa_lock(&sdev->svms);
	xa_for_each(&sdev->svms, id, svm)
		if (uid_eq(svm->uid, uid))
			n++;
	xa_unlock(&sdev->svms);
	return n;
}

static struct mmu_notifier *svmgpu_mn_alloc(struct mm_struct *mm)
{
	struct svmgpu_device *sdev = svmgpu_creating;
	kuid_t uid = current_uid();
	struct svmgpu_svm *svm;
	unsigned int delay;
	int id, ret, i;

	lockdep_assert_held(&svmgpu_create_lock);
	if (svmgpu_user_contexts(sdev, uid) >= max_user_contexts) {
		drm_dbg(&sdev->drm, "uid %u has %u contexts already\n",
			from_kuid(&init_user_ns, uid), max_user_contexts);
		return ERR_PTR(-EMFILE);
	}
	svm = kzalloc(sizeof(*svm), GFP_KERNEL_ACCOUNT);
	if (!svm)
		return ERR_PTR(-ENOMEM);
	svm->sdev = sdev;
	svm->serial = atomic64_inc_return(&svmgpu_svm_serial);
	svm->uid = uid;
	kref_init(&svm->refs);
	init_completion(&svm->unused);
	mutex_init(&svm->lock);
	INIT_LIST_HEAD(&svm->ctxs);
	for (i = 0; i < SVMGPU_PRIO_NUM; i++)
		INIT_LIST_HEAD(&svm->capped[i]);
	mutex_init(&svm->notifier_lock);
	xa_init(&svm->chunks);
	mutex_init(&svm->alloc_lock);
	mutex_init(&svm->pt_lock);
	svm->self_unmap = true;
	INIT_WORK(&svm->free_work, svmgpu_svm_free_work);
	svmgpu_fault_svm_init(svm);
	svmgpu_advise_init(svm);

	id = ida_alloc_range(&sdev->ctx_ida, 1, SVMGPU_CTX_TABLE_ENTRIES - 1,
			     GFP_KERNEL);
	if (id < 0) {
		ret = id == -ENOSPC ? -EBUSY : id;
		goto err_free;
	}
	svm->ctx_id = id;
	ret = svmgpu_mmu_init(svm);
	if (ret)
		goto err_ida;
	ret = svmgpu_svm_ctx_enable(sdev, svm);
	if (ret)
		goto err_mmu;
	ret = xa_insert(&sdev->svms, id, svm, GFP_KERNEL);
	if (ret)
		goto err_ctx;
	drm_dev_get(&sdev->drm);
	/* Test hook: published, not yet registered (svmgpu_fault_dispatch()). */
	delay = atomic_xchg(&sdev->inject_register_delay_ms, 0);
	if (delay)
		msleep(delay);
	return &svm->mn;

err_ctx:
	/* Cleared first, as svmgpu_svm_kill() does. */
	svmgpu_svm_ctx_clear(sdev, svm);
	mutex_lock(&svm->pt_lock);
	svmgpu_mmu_ctx_disable(svm);
	mutex_unlock(&svm->pt_lock);
err_mmu:
	mutex_lock(&svm->pt_lock);
	svmgpu_mmu_fini(svm);
	mutex_unlock(&svm->pt_lock);
err_ida:
	ida_free(&sdev->ctx_ida, id);
err_free:
	mutex_destroy(&svm->pt_lock);
	mutex_destroy(&svm->alloc_lock);
	mutex_destroy(&svm->notifier_lock);
	mutex_destroy(&svm->lock);
	kfree(svm);
	return ERR_PTR(ret);
}

static void svmgpu_mn_free(struct mmu_notifier *mn)
{
	struct svmgpu_svm *svm = container_of(mn, struct svmgpu_svm, mn);

	/* The mm_struct is freed after this returns: its address may recur. */
	svmgpu_devmem_forget_mm(svm->sdev, mn->mm);
	/* SRCU callback context: the device put may sleep. */
	queue_work(svmgpu_wq, &svm->free_work);
}

static void svmgpu_mn_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct svmgpu_svm *svm = container_of(mn, struct svmgpu_svm, mn);

	/*
	 * The mm is being torn down: stop every queue of the process and
	 * remove every device mapping before its pages are freed.
	 */
	svmgpu_svm_kill(svm);
}

const struct mmu_notifier_ops svmgpu_mn_ops_template = {
	.release = svmgpu_mn_release,
	.alloc_notifier = svmgpu_mn_alloc,
	.free_notifier = svmgpu_mn_free,
};

/*
 * Leave the caller's svmgpu_dev_enter() section @idx, wait for the svm of
 * a teardown to go (when @gen >= 0: until svm_gen is past it) and take
 * the mmap_lock for writing, then enter a new section.  Those waits last
 * as long as a fault of this process stuck in I/O: the device's unbind
 * must not wait for them (it waits for its sections).
 * Return: 0, the lock held, in a new section; -EINTR, in a new section;
 * -ENODEV, unplugged meanwhile (@idx -1).
 */
static int svmgpu_svm_lock_mm(struct svmgpu_device *sdev, int *idx, long gen)
{
	int ret = 0;

	svmgpu_dev_exit(&sdev->drm, *idx);
	if (gen >= 0 &&
	    wait_event_killable(sdev->svm_wq, atomic_long_read(&sdev->svm_gen) != gen))
		ret = -EINTR;
	else if (mmap_write_lock_killable(current->mm))
		ret = -EINTR;
	if (!svmgpu_dev_enter(&sdev->drm, idx)) {
		*idx = -1;
		if (!ret)
			mmap_write_unlock(current->mm);
		return -ENODEV;
	}
	return ret;
}

static bool svmgpu_seq_invalidate(struct mmu_interval_notifier *mni,
				  const struct mmu_notifier_range *range,
				  unsigned long cur_seq)
{
	mmu_interval_set_seq(mni, cur_seq);
	return true;
}

/*
 * An interval notifier that only moves its sequence: RESIDENCY's snapshot
 * (mmu_interval_read_retry()), and the one that makes sure an mm has its
 * interval tree (svmgpu_svm_get()).
 */
const struct mmu_interval_notifier_ops svmgpu_seq_ops = {
	.invalidate = svmgpu_seq_invalidate,
};

/**
 * svmgpu_svm_get() - the caller's svm on a device, created on first use
 * @sdev: the device
 * @idx: the caller's svmgpu_dev_enter() section: left while waiting for the
 *	mmap_lock or for a teardown, begun again after (-1 when the device
 *	was unplugged meanwhile: the return is then -ENODEV)
 *
 * Takes one mmu_notifier reference and counts one context.
 *
 * Return: the svm or an ERR_PTR().
 */
struct svmgpu_svm *svmgpu_svm_get(struct svmgpu_device *sdev, int *idx)
{
	struct mmu_interval_notifier itree = {};
	struct mmu_notifier *mn;
	struct svmgpu_svm *svm;
	long gen = -1;
	int ret;

	if (!current->mm)
		return ERR_PTR(-EINVAL);
retry:
	/*
	 * mmap_lock before svmgpu_create_lock, and killable: a fault of this
	 * process stuck in I/O holds it for reading, and must hold up only
	 * this creator, not every other process's creation and teardown
	 * (nor, outside the section, the device's unbind).
	 */
	ret = svmgpu_svm_lock_mm(sdev, idx, gen);
	if (ret)
		return ERR_PTR(ret);
	/*
	 * The mm's interval tree, registered now with the lock held for
	 * writing: a chunk notifier inserted later (a device fault, an
	 * ADVISE) would register it itself, which takes the mmap_lock for
	 * writing, uninterruptibly, inside the device's sections.  A notifier
	 * inserted and removed registers it once per mm (has_itree stays);
	 * before mmu_notifier_get_locked(), whose failure is the one to unwind.
	 */
	ret = mmu_interval_notifier_insert_locked(&itree, current->mm, 0, PAGE_SIZE,
						  &svmgpu_seq_ops);
	if (ret) {
		mmap_write_unlock(current->mm);
		/* mm_take_all_locks() gives up on a signal: restart the ioctl */
		return ERR_PTR(ret == -EINTR ? -ERESTARTSYS : ret);
	}
	/*
	 * May wait for an invalidation of the mm in progress (none waits for
	 * its mmap_lock): not under svmgpu_create_lock, every process's.
	 */
	mmu_interval_notifier_remove(&itree);
	mutex_lock(&svmgpu_create_lock);
	gen = atomic_long_read(&sdev->svm_gen);
	svmgpu_creating = sdev;
	mn = mmu_notifier_get_locked(&sdev->mn_ops, current->mm);
	svmgpu_creating = NULL;
	if (IS_ERR(mn)) {
		mutex_unlock(&svmgpu_create_lock);
		mmap_write_unlock(current->mm);
		/* A signal interrupted the registration: restart the ioctl. */
		if (PTR_ERR(mn) == -EINTR)
			return ERR_PTR(-ERESTARTSYS);
		return ERR_CAST(mn);
	}
	svm = container_of(mn, struct svmgpu_svm, mn);
	/* mn.mm is set: the fault IRQ thread may hand it faults (dispatch) */
	smp_store_release(&svm->registered, true);
	if (svm->closing) {
		/*
		 * This mm's last context is being torn down: its svm stays
		 * listed until the teardown's mmu_notifier_put().  Wait for
		 * a teardown to end (ours put the last reference on it, or
		 * its own does), then get a new one.
		 */
		mmu_notifier_put(mn);
		mutex_unlock(&svmgpu_create_lock);
		mmap_write_unlock(current->mm);
		goto retry;
	}
	mmap_write_unlock(current->mm);
	if (READ_ONCE(svm->dead)) {
		mmu_notifier_put(mn);
		mutex_unlock(&svmgpu_create_lock);
		return ERR_PTR(-ENODEV);
	}
	svm->nctx++;
	mutex_unlock(&svmgpu_create_lock);
	return svm;
}

static void svmgpu_svm_refs_release(struct kref *kref)
{
	struct svmgpu_svm *svm = container_of(kref, struct svmgpu_svm, refs);

	complete(&svm->unused);
}

/**
 * svmgpu_svm_lookup() - find the svm of a hardware context id
 * @sdev: the device
 * @ctx_id: the id from a fault record
 *
 * Return: the svm with a reference (drop it with svmgpu_svm_unref()), or
 * NULL if no live svm has that id.
 */
struct svmgpu_svm *svmgpu_svm_lookup(struct svmgpu_device *sdev, u32 ctx_id)
{
	struct svmgpu_svm *svm;

	xa_lock(&sdev->svms);
	svm = xa_load(&sdev->svms, ctx_id);
	if (svm && !kref_get_unless_zero(&svm->refs))
		svm = NULL;
	xa_unlock(&sdev->svms);
	return svm;
}

/**
 * svmgpu_svm_mm() - the mm of an svm found in the id table
 * @svm: the svm
 *
 * svmgpu_mn_alloc() publishes an svm before mmu_notifier_get() registers
 * it and sets mn.mm: read it only once svmgpu_svm_get() marked it
 * registered (never, if a signal interrupted the registration).  For
 * comparisons: the mm is not pinned.
 *
 * Return: the mm, or NULL while (or if) not registered.
 */
struct mm_struct *svmgpu_svm_mm(struct svmgpu_svm *svm)
{
	/* Acquire: pairs with svmgpu_svm_get()'s release. */
	return smp_load_acquire(&svm->registered) ? svm->mn.mm : NULL;
}

/**
 * svmgpu_svm_unref() - drop a svmgpu_svm_lookup() reference
 * @svm: the svm
 */
void svmgpu_svm_unref(struct svmgpu_svm *svm)
{
	kref_put(&svm->refs, svmgpu_svm_refs_release);
}

/**
 * svmgpu_svm_kill() - stop an svm for good
 * @svm: the svm
 *
 * Stops the queues of every context of the svm, forbids new mappings,
 * removes every device PTE (TLB invalidation included), disables the device
 * context and frees the page tables.  Idempotent; may sleep.
 */
void svmgpu_svm_kill(struct svmgpu_svm *svm)
{
	struct svmgpu_device *sdev = svm->sdev;
	struct svmgpu_queue *q;
	struct svmgpu_ctx *ctx;

	/*
	 * The queues stop first: a fault resolved meanwhile still maps, where
	 * one cancelled for a dead svm would fail its command before the stop
	 * (WAIT 0 with ERR_FAULT_CANCELLED instead of -ECANCELED).  No queue
	 * is created in between: QUEUE_CREATE checks dead under svm->lock.
	 */
	mutex_lock(&svm->lock);
	list_for_each_entry(ctx, &svm->ctxs, link)
		list_for_each_entry(q, &ctx->queues, link)
			svmgpu_queue_stop(q);
	WRITE_ONCE(svm->dead, true);
	mutex_unlock(&svm->lock);

	/* alloc_lock: svmgpu_mmu_prepare() walks tables without pt_lock. */
	mutex_lock(&svm->alloc_lock);
	mutex_lock(&svm->pt_lock);
	if (!svm->pt_freed) {
		svmgpu_mmu_unmap(svm, 0, 1ull << SVMGPU_VA_BITS);
		/* Cleared first: a reset's reprogramming must not load it again. */
		svmgpu_svm_ctx_clear(sdev, svm);
		svmgpu_mmu_ctx_disable(svm);
		svmgpu_mmu_fini(svm);
	}
	mutex_unlock(&svm->pt_lock);
	mutex_unlock(&svm->alloc_lock);
}

/**
 * svmgpu_svm_put_ctx() - a context of the svm goes away
 * @svm: the svm
 * @idx: the caller's svmgpu_dev_enter() section, or NULL outside any: left
 *	while the teardown waits for the fault work, begun again after (-1
 *	when the device was unplugged meanwhile)
 *
 * The last context tears the mirror down (svm killed, its fault records
 * taken from the ring, no fault handler use left, interval notifiers
 * removed, context id freed) before the final mmu_notifier_put().  Waits
 * for the fault IRQ thread (svmgpu_fault_flush()), which takes neither
 * teardown_sem nor any svm lock, and for the svm's fault work, which may
 * wait for the mmap_lock behind a fault of the process stuck in I/O: with
 * neither teardown_sem nor the section held, so that the device's removal
 * does not wait for that.
 */
void svmgpu_svm_put_ctx(struct svmgpu_svm *svm, int *idx)
{
	struct svmgpu_device *sdev = svm->sdev;
	struct svmgpu_chunk *chunk;
	unsigned long i;

	mutex_lock(&svmgpu_create_lock);
	if (--svm->nctx) {
		mmu_notifier_put(&svm->mn);
		mutex_unlock(&svmgpu_create_lock);
		return;
	}
	/*
	 * The teardown may wait long (a fault stuck in I/O holds a
	 * reference): not under svmgpu_create_lock, which every other
	 * process's creation and teardown needs.  A creator in this mm finds
	 * the svm closing and waits.
	 */
	svm->closing = true;
	mutex_unlock(&svmgpu_create_lock);
	drm_dev_get(&sdev->drm);
	/*
	 * Before the svm leaves the id table, until it is killed and its
	 * records are taken: removal, which kills what it finds there and
	 * then stops the device, must not stop it under this teardown.
	 */
	down_read(&sdev->teardown_sem);

	/*
	 * svmgpu_svm_unmap_migrating() finds the svm through the id table:
	 * once out of it, this device's migrations must not leave its PTEs
	 * to that function, and none may be left from before.
	 */
	mutex_lock(&svm->pt_lock);
	svm->self_unmap = false;
	svmgpu_mmu_unmap(svm, 0, 1ull << SVMGPU_VA_BITS);
	mutex_unlock(&svm->pt_lock);

	/* No new lookups by the fault handler. */
	xa_erase(&sdev->svms, svm->ctx_id);
	svmgpu_svm_unref(svm);
	/*
	 * Fault work still running finds it dead: it maps nothing, and
	 * cancels what it has (the id is still this svm's).
	 */
	svmgpu_svm_kill(svm);
	/* The id's records go before the id does: none meets its next owner. */
	svmgpu_fault_flush(sdev);
	up_read(&sdev->teardown_sem);

	/*
	 * The fault work's references: one may wait for the mmap_lock, and
	 * then, unplugged meanwhile, uses nothing of the device.
	 */
	if (idx)
		svmgpu_dev_exit(&sdev->drm, *idx);
	wait_for_completion(&svm->unused);

	/* No device PTE is left; remove the notifiers (may wait for one). */
	mutex_lock(&svm->notifier_lock);
	xa_for_each(&svm->chunks, i, chunk) {
		mmu_interval_notifier_remove(&chunk->notifier);
		kfree(chunk);
		/* an ADVISE over a huge reservation leaves millions */
		cond_resched();
	}
	xa_destroy(&svm->chunks);
	svm->nchunks = 0;
	mutex_unlock(&svm->notifier_lock);

	ida_free(&sdev->ctx_ida, svm->ctx_id);
	/* The svm may be freed from here on. */
	mmu_notifier_put(&svm->mn);
	atomic_long_inc(&sdev->svm_gen);
	wake_up_all(&sdev->svm_wq);
	if (idx && !svmgpu_dev_enter(&sdev->drm, idx))
		*idx = -1;
	drm_dev_put(&sdev->drm);
}

/**
 * svmgpu_svm_kill_all() - the device goes away: stop every svm
 * @sdev: the device
 */
void svmgpu_svm_kill_all(struct svmgpu_device *sdev)
{
	struct svmgpu_svm *svm;
	unsigned long id;

	xa_for_each(&sdev->svms, id, svm) {
		svm = svmgpu_svm_lookup(sdev, id);
		if (!svm)
			continue;
		svmgpu_svm_kill(svm);
		svmgpu_svm_unref(svm);
	}
}

static bool svmgpu_chunk_invalidate(struct mmu_interval_notifier *mni,
				    const struct mmu_notifier_range *range,
				    unsigned long cur_seq)
{
	struct svmgpu_chunk *chunk = container_of(mni, struct svmgpu_chunk, notifier);
	struct svmgpu_svm *svm = chunk->svm;
	u64 start = max(range->start, mni->interval_tree.start);
	u64 end = min(range->end, mni->interval_tree.last + 1);

	if (mmu_notifier_range_blockable(range)) {
		mutex_lock(&svm->pt_lock);
	} else if (!mutex_trylock(&svm->pt_lock)) {
		return false;
	} else if (svmgpu_mmu_range_mapped(svm, start, end)) {
		/* Removing them means waiting for the device: not here. */
		mutex_unlock(&svm->pt_lock);
		return false;
	}
	mmu_interval_set_seq(mni, cur_seq);
	/*
	 * This device's own migrate_vma_setup() (pgmap_owner = sdev)
	 * announces its whole range, but only the pages it selects move: it
	 * removes their device PTEs itself (svmgpu_svm_unmap_migrating()),
	 * the others stay mapped, as nouveau and test_hmm do.  The sequence
	 * still moves on, so a fault racing with the migration retries.
	 * Except the zero page: collect selects a zero-page CPU PTE without
	 * replacing it, so the device may map it again after
	 * svmgpu_svm_unmap_migrating(); migrate_vma_pages() then installs
	 * the new page under its own MIGRATE event (holes) and does not
	 * notify the intervals again.  Its leaves go on every own MIGRATE.
	 */
	if (range->event != MMU_NOTIFY_MIGRATE || range->owner != svm->sdev ||
	    !svm->self_unmap)
		svmgpu_mmu_unmap(svm, start, end);
	else
		svmgpu_mmu_unmap_zero(svm, start, end);
	mutex_unlock(&svm->pt_lock);
	if (range->event == MMU_NOTIFY_UNMAP)
		svmgpu_advise_unmap(svm, start, end);
	return true;
}

/**
 * svmgpu_svm_unmap_migrating() - remove the device PTEs of pages that move
 * @sdev: the device whose migrate_vma_setup() (pgmap_owner = @sdev) ran
 * @mm: the migrated mm
 * @start: VA of @src[0]
 * @src: the migration's collected entries
 * @npages: entries of @src
 *
 * The chunk notifiers leave this device's own migrations to this function
 * (svmgpu_chunk_invalidate()): it removes the device translations of every
 * selected entry (a page or a hole) of the svm of @mm on @sdev, and waits
 * for the TLB invalidation (one for the whole batch), before the data is
 * copied.  Entries that stay where they are keep their translations.  A
 * device has at most one svm per mm with self_unmap set: the search stops
 * there.  May sleep.
 */
void svmgpu_svm_unmap_migrating(struct svmgpu_device *sdev, struct mm_struct *mm,
				unsigned long start, const unsigned long *src,
				unsigned long npages)
{
	struct svmgpu_svm *svm;
	unsigned long id;

	xa_for_each(&sdev->svms, id, svm) {
		bool done;

		svm = svmgpu_svm_lookup(sdev, id);
		if (!svm)
			continue;
		if (svmgpu_svm_mm(svm) != mm) {
			svmgpu_svm_unref(svm);
			continue;
		}
		mutex_lock(&svm->pt_lock);
		/* One going away has !self_unmap: its notifiers unmap all. */
		done = svm->self_unmap;
		if (done)
			svmgpu_mmu_unmap_selected(svm, start, src, npages);
		mutex_unlock(&svm->pt_lock);
		svmgpu_svm_unref(svm);
		if (done)
			break;
	}
}

static const struct mmu_interval_notifier_ops svmgpu_chunk_ops = {
	.invalidate = svmgpu_chunk_invalidate,
};

/* The interval notifier of the chunk holding @va, inserted on first use. */
static struct svmgpu_chunk *svmgpu_chunk_get(struct svmgpu_svm *svm, u64 va)
{
	unsigned long idx = va >> svmgpu_chunk_shift();
	struct svmgpu_chunk *chunk;
	u64 start, end;
	int ret;

	mutex_lock(&svm->notifier_lock);
	chunk = xa_load(&svm->chunks, idx);
	if (chunk)
		goto out;
	if (READ_ONCE(svm->dead)) {
		chunk = ERR_PTR(-ENODEV);
		goto out;
	}
	if (svm->nchunks >= READ_ONCE(max_chunks)) {
		atomic64_inc(&svm->sdev->stats.chunks_refused);
		chunk = ERR_PTR(-ENOSPC);
		goto out;
	}
	chunk = kzalloc(sizeof(*chunk), GFP_KERNEL_ACCOUNT);
	if (!chunk) {
		chunk = ERR_PTR(-ENOMEM);
		goto out;
	}
	chunk->svm = svm;
	svmgpu_chunk_bounds(va, &start, &end);
	ret = mmu_interval_notifier_insert(&chunk->notifier, svm->mn.mm, start,
					   end - start, &svmgpu_chunk_ops);
	if (!ret) {
		ret = xa_insert(&svm->chunks, idx, chunk, GFP_KERNEL_ACCOUNT);
		if (ret)
			mmu_interval_notifier_remove(&chunk->notifier);
		else
			svm->nchunks++;
	}
	if (ret) {
		kfree(chunk);
		chunk = ERR_PTR(ret);
	}
out:
	mutex_unlock(&svm->notifier_lock);
	return chunk;
}

/**
 * svmgpu_svm_watch() - make sure chunk notifiers cover [start, end)
 * @svm: the svm
 * @start: first byte
 * @end: end
 *
 * Not under the mmap lock (inserting a notifier may take it, lockdep says;
 * it does not: svmgpu_svm_get() registered the mm's interval tree).
 *
 * Return: 0, -ENOMEM (also: more chunks than max_chunks, refused before
 * any is made when the range alone needs more), -ENODEV (the svm is dead)
 * or -EINTR (a fatal signal).
 */
int svmgpu_svm_watch(struct svmgpu_svm *svm, u64 start, u64 end)
{
	unsigned int shift = svmgpu_chunk_shift();
	u64 cstart, cend;

	if (end > start &&
	    ((end - 1) >> shift) - (start >> shift) >= READ_ONCE(max_chunks)) {
		atomic64_inc(&svm->sdev->stats.chunks_refused);
		return -ENOMEM;
	}
	for (; start < end; start = cend) {
		struct svmgpu_chunk *chunk = svmgpu_chunk_get(svm, start);

		/* ADVISE's errno for max_chunks is -ENOMEM (docs/api.md). */
		if (IS_ERR(chunk))
			return PTR_ERR(chunk) == -ENOSPC ? -ENOMEM : PTR_ERR(chunk);
		svmgpu_chunk_bounds(start, &cstart, &cend);
		if (fatal_signal_pending(current))
			return -EINTR;
	}
	return 0;
}

/*
 * Fault the requested pages, each run of contiguous pages of one access kind
 * with one hmm_range_fault() over exactly that run: hmm faults every page
 * from the first one that needs a fault to the end of the range it is
 * given (a whole empty page-table span at once), so a wider range would
 * populate pages nobody asked for.
 *
 * Return: 0, -EBUSY (invalidated meanwhile: start again), -ENODEV
 * (unplugged while the mmap_lock was waited for, svmgpu_dev_lock_mm()) or
 * an error of hmm_range_fault().
 */
static int svmgpu_svm_fault_req(struct svmgpu_svm *svm, struct svmgpu_chunk *chunk,
				const u64 *req, unsigned int nreq, int *idx)
{
	struct mm_struct *mm = svm->mn.mm;
	struct vm_area_struct *vma;
	unsigned long pfns[16];
	unsigned int r, n, i;
	int ret = 0;

	for (r = 0; r < nreq; r += n) {
		u64 va = req[r] & PAGE_MASK, kind = req[r] & SVMGPU_FAULT_REQ_WRITE;
		struct hmm_range range = {
			.notifier = &chunk->notifier,
			.start = va,
			.hmm_pfns = pfns,
			.default_flags = HMM_PFN_REQ_FAULT |
					 (kind ? HMM_PFN_REQ_WRITE : 0),
			.dev_private_owner = svm->sdev,
		};

		for (n = 1; n < ARRAY_SIZE(pfns) && r + n < nreq; n++)
			if ((req[r + n] & PAGE_MASK) != va + ((u64)n << PAGE_SHIFT) ||
			    (req[r + n] & SVMGPU_FAULT_REQ_WRITE) != kind)
				break;
		range.end = va + ((u64)n << PAGE_SHIFT);
		range.notifier_seq = mmu_interval_read_begin(range.notifier);
		ret = svmgpu_dev_lock_mm(svm->sdev, mm, false, idx);
		if (ret)
			break;
		vma = vma_lookup(mm, va);
		/* The run was built before: its VMA may have been split since. */
		if (vma && range.end > vma->vm_end) {
			n = (vma->vm_end - va) >> PAGE_SHIFT;
			range.end = vma->vm_end;
		}
		if (svmgpu_dax_vma(vma)) {
			/* Faulted with the window (svmgpu_dax_hmm_range()). */
			mmap_read_unlock(mm);
			continue;
		}
		if (vma && userfaultfd_armed(vma)) {
			/*
			 * hmm_range_fault() cannot wait for a userfaultfd
			 * handler: handle_userfault() without
			 * FAULT_FLAG_ALLOW_RETRY fails the fault (SIGBUS, and
			 * a stack dump with CONFIG_DEBUG_VM).  Only faults
			 * that never reach it are taken: a page the CPU maps
			 * may be faulted writable (COW of the zero page, say)
			 * unless the range is registered for write-protect
			 * tracking.  A page that would need the handler
			 * (missing, minor, write-protected) is the device's
			 * fault error.
			 */
			range.default_flags = 0;
			ret = hmm_range_fault(&range);
			for (i = 0; !ret && i < n; i++)
				if (!(pfns[i] & HMM_PFN_VALID) ||
				    (kind && !(pfns[i] & HMM_PFN_WRITE) &&
				     userfaultfd_wp(vma)))
					ret = -EFAULT;
			if (!ret && kind) {
				range.default_flags = HMM_PFN_REQ_FAULT |
						      HMM_PFN_REQ_WRITE;
				ret = hmm_range_fault(&range);
				/*
				 * Its own read-only private pages too (fork,
				 * mprotect): moving them never reaches the
				 * handler.
				 */
				if (!ret)
					ret = svmgpu_devmem_fault_out(svm->sdev, vma, va,
								      pfns, n);
			}
		} else {
			ret = hmm_range_fault(&range);
			/* Its own private pages come back as they are. */
			if (!ret && kind && vma)
				ret = svmgpu_devmem_fault_out(svm->sdev, vma, va,
							      pfns, n);
		}
		mmap_read_unlock(mm);
		if (ret)
			break;
	}
	return ret;
}

/**
 * svmgpu_svm_fault() - mirror a range into the device page table
 * @svm: the svm; the caller holds a lookup reference and an mm user
 *	reference (mmget_not_zero())
 * @start: first VA, page aligned
 * @end: one past the last VA, in the same chunk and VMA as @start
 * @req: the pages the device faulted on, sorted by VA: page-aligned VAs in
 *	[@start, @end), each ORed with SVMGPU_FAULT_REQ_WRITE if the access
 *	was a write
 * @nreq: entries of @req
 * @mapped: out, number of pages hmm returned for the range
 * @idx: the caller's svmgpu_dev_enter() section, left while the mmap_lock
 *	is waited for (svmgpu_dev_lock_mm()): -1 once unplugged
 *
 * Only the pages of @req are faulted, for writing only where the device
 * wrote (which breaks COW there and nowhere else).  The rest of the window
 * is then mirrored from a snapshot that faults nothing: where the CPU
 * already maps a page, with the permission of the CPU PTE.  Nothing is
 * populated, COW-copied or dirtied for a page the device did not ask for.
 * The snapshot must find every requested page (writable where asked),
 * or everything starts again: it was invalidated in between.
 *
 * Return: 0; -EFAULT/-EPERM when hmm_range_fault() cannot fault a requested
 * page (-EFAULT also when the VMA at @start ends before @end now); -EBUSY
 * when it kept being invalidated past the timeout; -ENODEV when the svm is
 * dead or the device was unplugged (@idx -1); -ENOSPC when the chunk is new
 * and the svm has max_chunks (cancelled at once: waiting frees no chunk);
 * -ENOMEM.
 */
int svmgpu_svm_fault(struct svmgpu_svm *svm, u64 start, u64 end, const u64 *req,
		     unsigned int nreq, u64 *mapped, int *idx)
{
	struct svmgpu_device *sdev = svm->sdev;
	struct mm_struct *mm = svm->mn.mm;
	unsigned long npages = (end - start) >> PAGE_SHIFT;
	unsigned long timeout, *pfns, i;
	struct hmm_range range = {};
	struct vm_area_struct *vma;
	struct svmgpu_chunk *chunk;
	bool flush, write = false;
	unsigned int r;
	int ret;

	for (r = 0; r < nreq; r++) {
		if (WARN_ON_ONCE((req[r] & PAGE_MASK) < start ||
				 (req[r] & PAGE_MASK) >= end))
			return -EINVAL;
		write |= req[r] & SVMGPU_FAULT_REQ_WRITE;
	}
	chunk = svmgpu_chunk_get(svm, start);
	if (IS_ERR(chunk))
		return PTR_ERR(chunk);
	ret = svmgpu_mmu_prepare(svm, start, end);
	if (ret)
		return ret;
	pfns = kvmalloc_array(npages, sizeof(*pfns), GFP_KERNEL_ACCOUNT);
	if (!pfns)
		return -ENOMEM;

	range.notifier = &chunk->notifier;
	range.start = start;
	range.end = end;
	range.hmm_pfns = pfns;
	range.default_flags = 0;	/* a snapshot: fault nothing */
	range.pfn_flags_mask = 0;
	range.dev_private_owner = sdev;

	timeout = jiffies + msecs_to_jiffies(HMM_RANGE_DEFAULT_TIMEOUT);
	for (;;) {
		if (time_after(jiffies, timeout)) {
			ret = -EBUSY;
			break;
		}
		/* a retry races the CPU (mprotect in a loop): let it run */
		cond_resched();
		ret = svmgpu_svm_fault_req(svm, chunk, req, nreq, idx);
		if (ret == -EBUSY)
			continue;
		if (ret)
			break;

		range.notifier_seq = mmu_interval_read_begin(range.notifier);
		ret = svmgpu_dev_lock_mm(sdev, mm, false, idx);
		if (ret)
			break;
		/* A DAX buffer's mapping is not for hmm (svmgpu_dax.c). */
		vma = vma_lookup(mm, start);
		/*
		 * The window was clamped to a VMA that may end earlier now
		 * (munmap, a DAX mapping put in its place): hmm would report
		 * the rest as errors, retried here until the timeout.  Page
		 * by page instead (-EFAULT), each in its own VMA.
		 */
		if (vma && end > vma->vm_end)
			ret = -EFAULT;
		else if (svmgpu_dax_vma(vma))
			ret = svmgpu_dax_hmm_range(sdev, vma, &range, req, nreq);
		else
			ret = hmm_range_fault(&range);
		mmap_read_unlock(mm);
		if (ret == -EBUSY)
			continue;
		if (ret)
			break;
		for (r = 0; r < nreq; r++) {
			unsigned long pfn = pfns[((req[r] & PAGE_MASK) - start) >> PAGE_SHIFT];

			if (!(pfn & HMM_PFN_VALID) || (pfn & HMM_PFN_ERROR) ||
			    ((req[r] & SVMGPU_FAULT_REQ_WRITE) && !(pfn & HMM_PFN_WRITE)))
				break;
		}
		if (r < nreq) {
			ret = -EBUSY;
			continue;	/* lost since it was faulted */
		}

		mutex_lock(&svm->pt_lock);
		if (mmu_interval_read_retry(range.notifier, range.notifier_seq)) {
			mutex_unlock(&svm->pt_lock);
			continue;
		}
		flush = false;
		ret = svmgpu_mmu_map(svm, start, pfns, npages, &flush);
		if (flush)
			svmgpu_tlb_invalidate(sdev, svm, 0, 0,
					      SVMGPU_TLB_INV_WHOLE_CONTEXT);
		mutex_unlock(&svm->pt_lock);
		break;
	}
	if (!ret) {
		*mapped = 0;
		for (i = 0; i < npages; i++)
			if (pfns[i] & HMM_PFN_VALID)
				(*mapped)++;
	}
	kvfree(pfns);
	trace_svmgpu_hmm_fault(svm->ctx_id, start, end, write, ret);
	return ret;
}
