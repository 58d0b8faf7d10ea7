// SPDX-License-Identifier: GPL-2.0
/*
 * svmgpu placement advice (docs/driver.md "Advice", docs/api.md
 * svmgpu_ctx_advise()).
 *
 * ADVISE keeps attributes per address range of an svm (one device's mirror
 * of one process address space), in the spirit of cudaMemAdvise, kfd's
 * SVM_ATTR and Xe's madvise:
 *
 *   preferred location  none, system or device.  A device fault on a range
 *                       whose preferred location is the device migrates the
 *                       2 MiB-aligned neighbourhood of the fault (clamped to
 *                       the VMA and to the advised range) to device memory
 *                       before mapping it (svmgpu_fault.c); system moves
 *                       that neighbourhood's pages in this device's memory
 *                       back to system memory on a device fault.
 *   accessed-by         the device reaches the range where it is: device
 *                       faults never migrate it, either way (PREFETCH
 *                       still moves it).
 *   read-mostly         device read faults do not migrate, either way;
 *                       writes do.
 *
 * Pages without advice behave as before: the device maps them where they
 * are.  The attributes live in a maple tree indexed by page-aligned VA,
 * one entry (an xa_mk_value() of DRM_SVMGPU_ADVICE_* bits) per range of
 * equal attributes; a partial update splits ranges, equal neighbours are
 * merged again, and an svm keeps at most advice_max_ranges ranges
 * (svmgpu_advice_room()).  ADVISE writes with the mmap lock held for writing; the
 * UNMAP notifier (svmgpu_advise_unmap()) may run with it held only for
 * reading (6.1's munmap() downgrades it before unmapping, exit_mmap() and
 * the OOM reaper hold it for reading), which is safe because each of its
 * stores (one per gap of the VMA tree) is one mtree_store_range(), atomic
 * under the tree's own lock, like every store.  A hugetlbfs truncation
 * notifies without the mmap lock, but over a range its VMAs still cover:
 * no store then.  The tree is in RCU mode and the fault path reads under
 * rcu_read_lock() (mas_walk()).
 *
 * munmap() and mremap() drop the advice of the addresses they unmap: ADVISE
 * makes sure the svm's chunk notifiers cover the advised range and their
 * invalidate callback calls svmgpu_advise_unmap() for MMU_NOTIFY_UNMAP,
 * which drops it where no VMA is left.  The advice does not follow
 * mremap() to the new address.  mprotect(), MADV_DONTNEED (hugetlb
 * mappings' too), hugetlbfs truncation and the old range of
 * mremap(MREMAP_DONTUNMAP) keep it.  It goes away with the svm (the last
 * context).
 */
#include <linux/maple_tree.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/xarray.h>
#include <drm/drm_drv.h>
#include <drm/drm_print.h>

#include <uapi/drm/svmgpu_drm.h>

#include "svmgpu_drv.h"

#define SVMGPU_ADVICE_ALL	(DRM_SVMGPU_ADVICE_LOC_MASK | \
				 DRM_SVMGPU_ADVICE_ACCESSED_BY | \
				 DRM_SVMGPU_ADVICE_READ_MOSTLY)

/*
 * Each range is a slot of a maple tree node (up to 16 in 256 bytes, about
 * 32 bytes a range with the nodes' slack): the default is some 2 MiB per
 * svm, and a loop of munmap() and mmap(MAP_FIXED) of single pages over an
 * advised range, which the VMAs' max_map_count does not bound (they merge
 * back), stops there.
 */
static unsigned int advice_max_ranges = 65536;
module_param(advice_max_ranges, uint, 0644);
MODULE_PARM_DESC(advice_max_ranges,
		 "ranges of distinct advice one process keeps on a device at most (default 65536, 0 = no limit); past it ADVISE SET fails with -ENOMEM and munmap() keeps the advice of a hole it would split off");

/**
 * svmgpu_advise_init() - an svm starts without advice
 * @svm: the svm being created
 */
void svmgpu_advise_init(struct svmgpu_svm *svm)
{
	/* RCU mode: the fault path reads without the tree's lock. */
	mt_init_flags(&svm->advice, MT_FLAGS_USE_RCU);
	atomic_long_set(&svm->advice_ranges, 0);
	svm->advice_recount = jiffies;
}

/**
 * svmgpu_advise_fini() - free the advice of an svm being freed
 * @svm: the svm
 */
void svmgpu_advise_fini(struct svmgpu_svm *svm)
{
	mtree_destroy(&svm->advice);
}

static u32 svmgpu_advice_bits(void *entry)
{
	return entry ? (u32)xa_to_value(entry) : 0;
}

/**
 * svmgpu_advise_lookup() - the advice of one page
 * @svm: the svm
 * @va: the page's address
 * @first: out, first byte of the range with the same advice
 * @last: out, last byte of that range (inclusive)
 *
 * Return: the DRM_SVMGPU_ADVICE_* bits of @va (0: no advice).
 */
u32 svmgpu_advise_lookup(struct svmgpu_svm *svm, u64 va, u64 *first, u64 *last)
{
	MA_STATE(mas, &svm->advice, va, va);
	void *entry;

	rcu_read_lock();
	entry = mas_walk(&mas);
	*first = mas.index;
	*last = mas.last;
	rcu_read_unlock();
	return svmgpu_advice_bits(entry);
}

/*
 * How many ranges have advice: a walk of the tree under RCU, by 1024 with
 * a reschedule in between if @can_sleep.  Concurrent stores may make it
 * off by the ranges they change.
 */
static unsigned long svmgpu_advice_count(struct svmgpu_svm *svm, bool can_sleep)
{
	MA_STATE(mas, &svm->advice, 0, 0);
	unsigned long n = 0, index = 0;
	unsigned int k;
	void *entry;

	do {
		k = 0;
		rcu_read_lock();
		mas_set(&mas, index);
		mas_for_each(&mas, entry, ULONG_MAX) {
			n++;
			if (can_sleep && ++k == 1024)
				break;
		}
		index = mas.last + 1;
		rcu_read_unlock();
		if (can_sleep)
			cond_resched();
	} while (entry && index);
	return n;
}

/*
 * Is there room for @grow more ranges under advice_max_ranges?  The
 * counter is an upper bound (merges and erasures do not lower it); past
 * the cap the tree is counted and the count kept.  From the UNMAP notifier
 * (!@can_sleep), which must stay cheap, at most every 100 ms: a walk of up
 * to the cap's ranges in one RCU section, which an munmap() loop that
 * erases a range and splits another could otherwise have on every call.
 */
static bool svmgpu_advice_room(struct svmgpu_svm *svm, unsigned long grow, bool can_sleep)
{
	unsigned long max = READ_ONCE(advice_max_ranges), n;

	/* An update that adds no range always goes (the cap may have been lowered). */
	if (!grow || !max || atomic_long_read(&svm->advice_ranges) + grow <= max)
		return true;
	if (!can_sleep) {
		if (time_before(jiffies, READ_ONCE(svm->advice_recount)))
			return false;
		WRITE_ONCE(svm->advice_recount, jiffies + HZ / 10);
	}
	n = svmgpu_advice_count(svm, can_sleep);
	atomic_long_set(&svm->advice_ranges, n);
	return n + grow <= max;
}

/* Store @bits over [first, last]; 0 erases.  The caller serializes writers. */
static int svmgpu_advice_store(struct svmgpu_svm *svm, u64 first, u64 last, u32 bits,
			       gfp_t gfp)
{
	return mtree_store_range(&svm->advice, first, last,
				 bits ? xa_mk_value(bits) : NULL, gfp);
}

/*
 * Merge the ranges of equal advice that meet between @from and @to (both
 * inclusive).  Each store may still allocate (the tree is in RCU mode:
 * stores copy nodes); without memory the ranges stay split, still right.
 */
static void svmgpu_advice_merge(struct svmgpu_svm *svm, u64 from, u64 to)
{
	u64 addr = from;

	while (addr <= to) {
		u64 a, b, c, d;
		u32 x, y;

		cond_resched();
		x = svmgpu_advise_lookup(svm, addr, &a, &b);
		if (b >= to || b == ULONG_MAX)
			break;
		y = svmgpu_advise_lookup(svm, b + 1, &c, &d);
		if (x && x == y && !svmgpu_advice_store(svm, a, d, x, GFP_KERNEL_ACCOUNT))
			continue;	/* look at the merged range again */
		addr = b + 1;
	}
}

/*
 * At most how many ranges an update of [start, end) to @bits (under some
 * mask) adds: one for a range it splits at @start, one at @end, and, if
 * @bits is not 0, one for each gap it covers.  A range it covers keeps
 * being one range or none (its bits change as a whole), and merges only
 * lower the count, so an update that clears bits or covers no gap adds
 * nothing but its splits.
 */
static unsigned long svmgpu_advice_grow(struct svmgpu_svm *svm, u64 start, u64 end, u32 bits)
{
	unsigned long n = 0;
	u64 first, last;
	u32 old;

	old = svmgpu_advise_lookup(svm, start, &first, &last);
	n += old && first < start;
	old = svmgpu_advise_lookup(svm, end - 1, &first, &last);
	n += old && last > end - 1;
	while (bits && start < end) {
		n += !svmgpu_advise_lookup(svm, start, &first, &last);
		if (last >= end - 1)
			break;
		start = last + 1;
		cond_resched();
	}
	return n;
}

/*
 * Set @mask to @bits over [start, end): the ranges it covers are split at
 * @start and @end, the rest of their attributes kept.  -ENOMEM, the advice
 * unchanged, if the ranges it could add (svmgpu_advice_grow()) could pass
 * advice_max_ranges.
 */
static int svmgpu_advice_update(struct svmgpu_svm *svm, u64 start, u64 end, u32 mask,
				u32 bits)
{
	unsigned long grow = svmgpu_advice_grow(svm, start, end, bits);
	u64 addr = start;
	int ret = 0;

	if (!svmgpu_advice_room(svm, grow, true))
		return -ENOMEM;
	atomic_long_add(grow, &svm->advice_ranges);
	while (addr < end) {
		u64 first, last, piece;
		u32 old;

		old = svmgpu_advise_lookup(svm, addr, &first, &last);
		piece = min(last, end - 1);
		ret = svmgpu_advice_store(svm, addr, piece, (old & ~mask) | bits,
					  GFP_KERNEL_ACCOUNT);
		if (ret)
			break;
		if (piece == ULONG_MAX)
			break;
		addr = piece + 1;
		cond_resched();
	}
	svmgpu_advice_merge(svm, start ? start - 1 : 0, end);
	return ret;
}

/*
 * The first address of @mm at or after @addr (below @end) that no VMA
 * covers, and in @hole_end where that gap ends (at most @end); @end if
 * every page of [@addr, @end) is in a VMA.  The VMA tree's ranges only:
 * no VMA is dereferenced, so no mmap lock is needed (the tree is in RCU
 * mode; a hugetlbfs truncation notifies with only the file's i_mmap lock).
 */
static u64 svmgpu_advise_next_hole(struct mm_struct *mm, u64 addr, u64 end, u64 *hole_end)
{
	MA_STATE(mas, &mm->mm_mt, 0, 0);

	rcu_read_lock();
	while (addr < end) {
		mas_set(&mas, addr);
		if (!mas_walk(&mas)) {
			*hole_end = mas.last >= end - 1 ? end : mas.last + 1;
			break;
		}
		addr = mas.last >= end - 1 ? end : mas.last + 1;
	}
	rcu_read_unlock();
	return addr;
}

/*
 * Would erasing [first, last] split a range in two (the one way an
 * erasure adds a range)?  A range that begins before @first and ends
 * after @last.
 */
static bool svmgpu_advice_splits(struct svmgpu_svm *svm, u64 first, u64 last)
{
	u64 a, b;

	return svmgpu_advise_lookup(svm, first, &a, &b) && a < first && b > last;
}

/**
 * svmgpu_advise_unmap() - [start, end) of the svm's mm was unmapped
 * @svm: the svm
 * @start: first byte
 * @end: end
 *
 * From the chunk notifiers (MMU_NOTIFY_UNMAP), maybe in reclaim: no
 * sleeping allocation.  Without memory for a split the advice stays (a
 * later mapping at these addresses would inherit a hint, never data).
 * Not GFP_ATOMIC: nothing here is urgent enough for the atomic reserves.
 *
 * Each hole punched in an advised range splits it, and the pieces stay
 * until advice covers them again or the svm goes: a loop of munmap() and
 * mmap(MAP_FIXED) of single pages would grow the tree with no bound of its
 * own (the VMAs merge again, so max_map_count does not hold it).  So a
 * hole that would split a range off is left advised once the svm has
 * advice_max_ranges ranges (svmgpu_advice_room()); an erasure that splits
 * nothing always goes.  The gfp flags here charge only the maple tree's
 * retry: 6.1 first allocates nodes with its own GFP_NOWAIT, uncharged,
 * and its node cache is not SLAB_ACCOUNT.
 *
 * The advice goes only where no VMA is left: munmap() takes the VMAs out
 * of the tree before it unmaps (6.1's do_mas_align_munmap()), and so does
 * mremap() for the range it moved from.  MMU_NOTIFY_UNMAP also comes for
 * pages a mapping that stays loses: MADV_DONTNEED, hugetlbfs truncation
 * and hole punching of hugetlb mappings (__unmap_hugepage_range()), and
 * the page-table move of mremap(), MREMAP_DONTUNMAP's included.  Those
 * keep their advice, as MADV_DONTNEED of other memory does.
 */
void svmgpu_advise_unmap(struct svmgpu_svm *svm, u64 start, u64 end)
{
	struct mm_struct *mm = svm->mn.mm;
	u64 first, last, hole_end;

	if (start >= end)
		return;
	/* exit_mmap(): the advice goes with the svm, nothing to split. */
	if (!atomic_read(&mm->mm_users))
		return;
	/* Nothing advised there (the common case): no store at all. */
	if (!svmgpu_advise_lookup(svm, start, &first, &last) && last >= end - 1)
		return;
	for (start = svmgpu_advise_next_hole(mm, start, end, &hole_end); start < end;
	     start = svmgpu_advise_next_hole(mm, hole_end, end, &hole_end)) {
		if (svmgpu_advice_splits(svm, start, hole_end - 1)) {
			if (!svmgpu_advice_room(svm, 1, false)) {
				drm_dbg(&svm->sdev->drm, "advice_max_ranges: the advice of 0x%llx-0x%llx stays\n",
					start, hole_end);
				continue;
			}
			atomic_long_inc(&svm->advice_ranges);
		}
		if (svmgpu_advice_store(svm, start, hole_end - 1, 0,
					GFP_NOWAIT | __GFP_ACCOUNT | __GFP_NOWARN))
			drm_dbg(&svm->sdev->drm, "no memory to drop the advice of 0x%llx-0x%llx\n",
				start, hole_end);
	}
}

/* Every page of [start, end) is in a VMA.  mmap lock held. */
static bool svmgpu_advise_mapped(struct mm_struct *mm, u64 start, u64 end)
{
	while (start < end) {
		struct vm_area_struct *vma = vma_lookup(mm, start);

		if (!vma)
			return false;
		start = vma->vm_end;
	}
	return true;
}

/*
 * The advice bits SET changes (@mask) and their new value (@bits) for
 * @attr = @value.  Checked before any lookup: a bad input is -EINVAL
 * whatever the context handle (docs/driver.md, "uapi reference").
 */
static int svmgpu_advise_bits(u32 attr, u32 value, u32 *mask, u32 *bits)
{
	switch (attr) {
	case DRM_SVMGPU_ATTR_PREFERRED_LOC:
		if (value > DRM_SVMGPU_LOC_DEVICE)
			return -EINVAL;
		*mask = DRM_SVMGPU_ADVICE_LOC_MASK;
		*bits = value;
		return 0;
	case DRM_SVMGPU_ATTR_ACCESSED_BY:
		if (value > 1)
			return -EINVAL;
		*mask = DRM_SVMGPU_ADVICE_ACCESSED_BY;
		*bits = value ? *mask : 0;
		return 0;
	case DRM_SVMGPU_ATTR_READ_MOSTLY:
		if (value > 1)
			return -EINVAL;
		*mask = DRM_SVMGPU_ADVICE_READ_MOSTLY;
		*bits = value ? *mask : 0;
		return 0;
	default:
		return -EINVAL;
	}
}

/*
 * Take the mmap_lock of the caller's address space, whose svm *@svmp is
 * (a reference held).  When the lock is not free, the reference is dropped
 * and the section @idx left while it is waited for (svmgpu_dev_lock_mm()):
 * the teardown of the svm's last context (a CTX_DESTROY, a close) waits
 * for its references, and a new context of the process waits for that
 * teardown.  With the lock, the svm is looked up again.
 *
 * Return: 0, the lock and a reference to the same svm held; -EINTR (in the
 * section) or -ENODEV (@idx -1 when unplugged), or -ENODEV when the svm
 * is another or dead by then (its last context destroyed meanwhile): no
 * lock held, *@svmp NULL.
 */
static int svmgpu_advise_lock_mm(struct svmgpu_svm **svmp, bool write, int *idx)
{
	struct svmgpu_svm *svm = *svmp;
	struct svmgpu_device *sdev = svm->sdev;
	struct mm_struct *mm = current->mm;
	u64 serial = svm->serial;
	u32 id = svm->ctx_id;
	int ret;

	if (write ? mmap_write_trylock(mm) : mmap_read_trylock(mm))
		return 0;
	svmgpu_svm_unref(svm);
	*svmp = NULL;
	ret = svmgpu_dev_lock_mm(sdev, mm, write, idx);
	if (ret)
		return ret;
	/*
	 * The id, and the address, may be another svm's by now (another
	 * process's): the serial is never reused.
	 */
	*svmp = svmgpu_svm_lookup(sdev, id);
	if (*svmp && (*svmp)->serial == serial && !READ_ONCE((*svmp)->dead))
		return 0;
	if (write)
		mmap_write_unlock(mm);
	else
		mmap_read_unlock(mm);
	if (*svmp)
		svmgpu_svm_unref(*svmp);
	*svmp = NULL;
	return -ENODEV;
}

/*
 * The mmap_lock is waited for outside the caller's section @idx and
 * without the reference *@svmp (svmgpu_advise_lock_mm(): *@svmp NULL after
 * an error).
 */
static int svmgpu_advise_set(struct svmgpu_svm **svmp, u64 start, u64 end, u32 mask,
			     u32 bits, int *idx)
{
	struct mm_struct *mm = current->mm;
	int ret;

	if (mask == DRM_SVMGPU_ADVICE_LOC_MASK && bits == DRM_SVMGPU_LOC_DEVICE &&
	    !(*svmp)->sdev->devmem)
		return -EOPNOTSUPP;

	/* A range that is not mapped costs no notifier. */
	ret = svmgpu_advise_lock_mm(svmp, false, idx);
	if (ret)
		return ret;
	ret = svmgpu_advise_mapped(mm, start, end) ? 0 : -EFAULT;
	mmap_read_unlock(mm);
	if (ret)
		return ret;
	/*
	 * Notifiers first (they cannot be inserted under the mmap lock): an
	 * munmap() after the store below is then seen by them.
	 */
	ret = svmgpu_svm_watch(*svmp, start, end);
	if (ret)
		return ret;
	ret = svmgpu_advise_lock_mm(svmp, true, idx);
	if (ret)
		return ret;
	if (!svmgpu_advise_mapped(mm, start, end))
		ret = -EFAULT;
	else
		ret = svmgpu_advice_update(*svmp, start, end, mask, bits);
	mmap_write_unlock(mm);
	return ret;
}

/* The advice at @start and how far it reaches, at most to @end. */
static void svmgpu_advise_get(struct svmgpu_svm *svm, u64 start, u64 end, u32 *value,
			      u64 *size)
{
	u64 first, last;

	*value = svmgpu_advise_lookup(svm, start, &first, &last);
	*size = min(last, end - 1) - start + 1;
}

/**
 * svmgpu_ioctl_advise() - DRM_IOCTL_SVMGPU_ADVISE
 * @drm: the device
 * @data: struct drm_svmgpu_advise
 * @file: the file
 *
 * Return: 0 or a negative errno (docs/api.md, svmgpu_ctx_advise()).
 */
int svmgpu_ioctl_advise(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct svmgpu_device *sdev = to_svmgpu(drm);
	struct svmgpu_file *sf = file->driver_priv;
	struct drm_svmgpu_advise *args = data;
	struct svmgpu_svm *svm = NULL;
	u32 mask = 0, bits = 0;
	struct svmgpu_ctx *ctx;
	u64 end;
	int ret, idx;

	if (args->op != DRM_SVMGPU_ADVISE_SET && args->op != DRM_SVMGPU_ADVISE_GET)
		return -EINVAL;
	if (args->op == DRM_SVMGPU_ADVISE_GET && (args->attr || args->value))
		return -EINVAL;
	if (args->op == DRM_SVMGPU_ADVISE_SET &&
	    svmgpu_advise_bits(args->attr, args->value, &mask, &bits))
		return -EINVAL;
	if (args->flags || args->pad)
		return -EINVAL;
	if (!args->size || !PAGE_ALIGNED(args->start) || !PAGE_ALIGNED(args->size) ||
	    args->start + args->size < args->start || args->start + args->size > TASK_SIZE)
		return -EINVAL;
	end = args->start + args->size;
	if (!svmgpu_dev_enter(drm, &idx))
		return -ENODEV;

	mutex_lock(&sf->lock);
	ctx = args->ctx_handle ? xa_load(&sf->ctxs, args->ctx_handle) : NULL;
	ret = !ctx ? -ENOENT : ctx->mm != current->mm ? -EACCES : 0;
	if (!ret) {
		svm = svmgpu_svm_lookup(sdev, ctx->svm->ctx_id);
		if (!svm)
			ret = -ENODEV;
	}
	mutex_unlock(&sf->lock);
	if (ret)
		goto out;

	if (READ_ONCE(svm->dead))
		ret = -ENODEV;
	else if (args->op == DRM_SVMGPU_ADVISE_SET)
		ret = svmgpu_advise_set(&svm, args->start, end, mask, bits, &idx);
	else
		svmgpu_advise_get(svm, args->start, end, &args->value, &args->size);
	if (svm)
		svmgpu_svm_unref(svm);
out:
	if (idx >= 0)
		svmgpu_dev_exit(drm, idx);
	return ret;
}
