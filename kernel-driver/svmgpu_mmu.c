// SPDX-License-Identifier: GPL-2.0
/*
 * svmgpu device page tables and TLB invalidation (docs/hw-spec.md 5, 6).
 *
 * Each svm has a four-level table tree in DMA-coherent memory.  Tables are
 * allocated before the hmm sequence starts (svmgpu_mmu_prepare(), with
 * GFP_KERNEL under svm->alloc_lock) and linked under svm->pt_lock; they are
 * freed only with the whole tree, under both locks, so a walker under
 * either lock never sees a table go away.
 *
 * Every leaf the driver writes owns a DMA mapping of its page, recorded by
 * the software bit SVMGPU_PTE_SW_DMA, and the page's pfn is kept beside it
 * (svmgpu_pt.pfn).  Unmapping is two-phase so that no memory is allocated in
 * the notifier: clear VALID (the device can no longer walk to the page),
 * invalidate the TLB and wait, then walk again and, for every leaf that still
 * has the software bit but no VALID, mark the page dirty if the leaf was
 * writable (svmgpu_reap()) and DMA-unmap it.
 *
 * Dirty tracking: the device writes through DMA, which the CPU page tables
 * never see, and its page tables have no dirty bit.  Like RDMA ODP
 * (ib_umem_odp_unmap_dma_pages()) and KVM, every leaf the device had mapped
 * writable marks its page (folio) dirty when it is removed, whatever removes
 * it: a notifier invalidation (reclaim, MADV_FREE, writeback's
 * write-protect, munmap...), the replacement of a read-only leaf, the svm's
 * teardown or the device's removal.  Otherwise reclaim would discard a clean
 * lazy-free anon page, or drop a clean swap-cache or shmem page, holding data
 * only the device wrote.
 *
 * Device-local pages (svmgpu_devmem.c) are mapped with aperture 1 and their
 * byte offset in local memory.  Such a leaf has no DMA mapping but is
 * tracked the same way (SVMGPU_PTE_SW_DMA, so that every removal path finds
 * it) with SVMGPU_PTE_SW_LOCAL beside it: removing it neither DMA-unmaps nor
 * dirties anything (device pages are anonymous; migration moves their data).
 *
 * Lock order: svm->alloc_lock, then svm->pt_lock, then sdev->hw_sem (read,
 * svmgpu_hw_enter()), then sdev->inval_lock.
 */
#include <linux/dma-mapping.h>
#include <linux/hmm.h>
#include <linux/ktime.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <drm/drm_print.h>

#include "svmgpu_drv.h"
#include "svmgpu_trace.h"

/* Lowest software bit of a PTE: the leaf owns a DMA mapping. */
#define SVMGPU_PTE_SW_DMA	(SVMGPU_PTE_SW_MASK & -SVMGPU_PTE_SW_MASK)
/* Next software bit: the leaf maps device-local memory (no DMA mapping). */
#define SVMGPU_PTE_SW_LOCAL	(SVMGPU_PTE_SW_DMA << 1)

#define SVMGPU_INVAL_TIMEOUT	(5 * HZ)

/*
 * Device-readable leaves are mapped DMA_TO_DEVICE (the zero page and other
 * shared read-only pages may be mapped many times), writable ones
 * DMA_BIDIRECTIONAL; the WRITABLE bit of a leaf says which.  The mirror is
 * coherent shared memory, not a buffer handed over: no CPU syncs (the device
 * is cache-coherent PCI), and a page legitimately mapped by several address
 * spaces is not an error.
 */
#define SVMGPU_DMA_ATTRS	DMA_ATTR_SKIP_CPU_SYNC

static inline enum dma_data_direction svmgpu_dma_dir(bool write)
{
	return write ? DMA_BIDIRECTIONAL : DMA_TO_DEVICE;
}

static inline u64 pte_get(struct svmgpu_pt *pt, unsigned int i)
{
	return le64_to_cpu(READ_ONCE(((__le64 *)pt->cpu)[i]));
}

static inline void pte_set(struct svmgpu_pt *pt, unsigned int i, u64 v)
{
	WRITE_ONCE(((__le64 *)pt->cpu)[i], cpu_to_le64(v));
}

static inline u64 level_size(int level)
{
	return 1ull << SVMGPU_PT_LEVEL_SHIFT(level);
}

/*
 * Tables are charged to a memory cgroup: the caller's when a context is
 * created, the mirrored process's on the fault path (the fault work sets
 * it with set_active_memcg()).
 */
static struct svmgpu_pt *svmgpu_pt_alloc(struct svmgpu_device *sdev, int level)
{
	struct svmgpu_pt *pt;

	pt = kzalloc(sizeof(*pt), GFP_KERNEL_ACCOUNT);
	if (!pt)
		return NULL;
	pt->cpu = dma_alloc_coherent(&sdev->pdev->dev, SVMGPU_PAGE_SIZE,
				     &pt->dma, GFP_KERNEL_ACCOUNT);
	if (!pt->cpu)
		goto err_free;
	if (level > 1) {
		pt->child = kcalloc(SVMGPU_PT_ENTRIES, sizeof(*pt->child),
				    GFP_KERNEL_ACCOUNT);
		if (!pt->child)
			goto err_dma;
	}
	/* Levels 3..1 may hold leaves: remember their pages. */
	if (level < SVMGPU_PT_LEVELS) {
		pt->pfn = kcalloc(SVMGPU_PT_ENTRIES, sizeof(*pt->pfn), GFP_KERNEL_ACCOUNT);
		if (!pt->pfn)
			goto err_child;
	}
	return pt;

err_child:
	kfree(pt->child);
err_dma:
	dma_free_coherent(&sdev->pdev->dev, SVMGPU_PAGE_SIZE, pt->cpu, pt->dma);
err_free:
	kfree(pt);
	return NULL;
}

static void svmgpu_pt_free(struct svmgpu_device *sdev, struct svmgpu_pt *pt,
			   int level)
{
	unsigned int i;

	if (!pt)
		return;
	if (level > 1) {
		for (i = 0; i < SVMGPU_PT_ENTRIES; i++)
			svmgpu_pt_free(sdev, pt->child[i], level - 1);
		kfree(pt->child);
	}
	kfree(pt->pfn);
	dma_free_coherent(&sdev->pdev->dev, SVMGPU_PAGE_SIZE, pt->cpu, pt->dma);
	kfree(pt);
}

/**
 * svmgpu_mmu_init() - allocate the root table of an svm
 * @svm: the svm
 *
 * Return: 0 or -ENOMEM.
 */
int svmgpu_mmu_init(struct svmgpu_svm *svm)
{
	svm->root = svmgpu_pt_alloc(svm->sdev, SVMGPU_PT_LEVELS);
	return svm->root ? 0 : -ENOMEM;
}

/**
 * svmgpu_mmu_fini() - free the whole table tree
 * @svm: the svm, with no leaf mapped any more
 *
 * Caller holds svm->pt_lock and the device no longer uses the context.
 */
void svmgpu_mmu_fini(struct svmgpu_svm *svm)
{
	lockdep_assert_held(&svm->pt_lock);
	svmgpu_pt_free(svm->sdev, svm->root, SVMGPU_PT_LEVELS);
	svm->root = NULL;
	svm->pt_freed = true;
}

/**
 * svmgpu_mmu_prepare() - make sure level-1 tables exist for a VA range
 * @svm: the svm
 * @start: first VA
 * @end: one past the last VA
 *
 * Allocates with GFP_KERNEL outside svm->pt_lock and links new tables under
 * it.  Never touches leaves.
 *
 * Return: 0, -ENOMEM, or -ENODEV when the tables are gone.
 */
int svmgpu_mmu_prepare(struct svmgpu_svm *svm, u64 start, u64 end)
{
	struct svmgpu_device *sdev = svm->sdev;
	u64 va;
	int ret = 0;

	mutex_lock(&svm->alloc_lock);
	for (va = start & ~(level_size(2) - 1); va < end; va += level_size(2)) {
		struct svmgpu_pt *pt;
		int level;

		mutex_lock(&svm->pt_lock);
		pt = svm->root;
		mutex_unlock(&svm->pt_lock);
		if (!pt) {
			ret = -ENODEV;
			break;
		}
		for (level = SVMGPU_PT_LEVELS; level > 1; level--) {
			unsigned int idx = SVMGPU_PT_INDEX(va, level);
			struct svmgpu_pt *child = READ_ONCE(pt->child[idx]);

			if (!child) {
				child = svmgpu_pt_alloc(sdev, level - 1);
				if (!child) {
					ret = -ENOMEM;
					goto out;
				}
				mutex_lock(&svm->pt_lock);
				if (svm->pt_freed) {
					mutex_unlock(&svm->pt_lock);
					svmgpu_pt_free(sdev, child, level - 1);
					ret = -ENODEV;
					goto out;
				}
				WRITE_ONCE(pt->child[idx], child);
				/* A huge leaf in the slot stays until it is unmapped. */
				if (!(pte_get(pt, idx) & SVMGPU_PTE_VALID))
					pte_set(pt, idx, child->dma | SVMGPU_PTE_VALID);
				mutex_unlock(&svm->pt_lock);
			}
			pt = child;
		}
	}
out:
	mutex_unlock(&svm->alloc_lock);
	return ret;
}

/*
 * Walk to the table of @level that holds the entry for @va, linking empty
 * slots on the way back to their child table.  Returns NULL if a table is
 * missing or if a huge leaf above @level covers @va (@leaf_pt and @leaf_level
 * then say where).
 */
static struct svmgpu_pt *svmgpu_walk(struct svmgpu_svm *svm, u64 va, int level,
				     struct svmgpu_pt **leaf_pt, int *leaf_level)
{
	struct svmgpu_pt *pt = svm->root;
	int l;

	*leaf_pt = NULL;
	for (l = SVMGPU_PT_LEVELS; pt && l > level; l--) {
		unsigned int idx = SVMGPU_PT_INDEX(va, l);
		u64 pte = pte_get(pt, idx);
		struct svmgpu_pt *child = READ_ONCE(pt->child[idx]);

		if ((pte & SVMGPU_PTE_VALID) && (pte & SVMGPU_PTE_LEAF)) {
			*leaf_pt = pt;
			*leaf_level = l;
			return NULL;
		}
		if (!child)
			return NULL;
		if (!(pte & SVMGPU_PTE_VALID))
			pte_set(pt, idx, child->dma | SVMGPU_PTE_VALID);
		pt = child;
	}
	return pt;
}

/* What svmgpu_zap() does with the leaves it finds. */
enum svmgpu_zap_mode {
	SVMGPU_ZAP_ALL,		/* clear every leaf */
	SVMGPU_ZAP_DRY,		/* clear nothing, report the first one */
	SVMGPU_ZAP_ZERO,	/* clear only leaves of the zero page */
};

static bool svmgpu_zap(struct svmgpu_pt *pt, int level, u64 base, u64 start,
		       u64 end, u64 *lo, u64 *hi, enum svmgpu_zap_mode mode);

/* Try to map @pfn's huge page of @level at the slot covering @va. */
static int svmgpu_map_huge(struct svmgpu_svm *svm, u64 va, unsigned long pfn,
			   int level, bool *flush)
{
	struct device *dev = &svm->sdev->pdev->dev;
	u64 size = level_size(level);
	u64 hva = va & ~(size - 1);
	unsigned long npfn = page_to_pfn(hmm_pfn_to_page(pfn)) - ((va - hva) >> PAGE_SHIFT);
	struct svmgpu_pt *pt, *lpt;
	unsigned int idx;
	int llevel;
	dma_addr_t dma;
	u64 pte, new, off;

	if (npfn & ((size >> PAGE_SHIFT) - 1))
		return -EINVAL;
	pt = svmgpu_walk(svm, va, level, &lpt, &llevel);
	if (!pt)
		return -EINVAL;
	idx = SVMGPU_PT_INDEX(va, level);
	pte = pte_get(pt, idx);
	if ((pte & SVMGPU_PTE_VALID) && (pte & SVMGPU_PTE_LEAF))
		return 0;	/* same page, by the mirror invariant */
	if (pt->child[idx]) {
		u64 lo = U64_MAX, hi = 0;

		/* Smaller leaves below: keep them. */
		if (svmgpu_zap(pt->child[idx], level - 1, hva, hva, hva + size,
			       &lo, &hi, SVMGPU_ZAP_DRY))
			return -EBUSY;
	}

	/* A DAX buffer (svmgpu_dax.c): local memory, no DMA mapping. */
	if (svmgpu_dax_pfn_local(svm->sdev, npfn, size, &off)) {
		if (off & (size - 1))
			return -EINVAL;
		dma = off;
		new = off | (SVMGPU_APERTURE_LOCAL << SVMGPU_PTE_APERTURE_SHIFT) |
		      SVMGPU_PTE_VALID | SVMGPU_PTE_LEAF | SVMGPU_PTE_SW_DMA |
		      SVMGPU_PTE_SW_LOCAL;
		goto set;
	}
	dma = dma_map_page_attrs(dev, pfn_to_page(npfn), 0, size,
				 svmgpu_dma_dir(pfn & HMM_PFN_WRITE), SVMGPU_DMA_ATTRS);
	if (dma_mapping_error(dev, dma))
		return -ENOMEM;
	if (dma & (size - 1)) {
		dma_unmap_page_attrs(dev, dma, size, svmgpu_dma_dir(pfn & HMM_PFN_WRITE),
				     SVMGPU_DMA_ATTRS);
		return -EINVAL;
	}
	new = dma | SVMGPU_PTE_VALID | SVMGPU_PTE_LEAF | SVMGPU_PTE_SW_DMA;
set:
	if (pfn & HMM_PFN_WRITE)
		new |= SVMGPU_PTE_WRITABLE;
	pt->pfn[idx] = npfn;
	pte_set(pt, idx, new);
	pt->nr_mapped++;
	/* A previous link may be cached as a walk result: flush it. */
	if (pte & SVMGPU_PTE_VALID)
		*flush = true;
	atomic64_add(size >> PAGE_SHIFT, &svm->stats.pages_mapped);
	atomic64_inc(level == 2 ? &svm->stats.huge_2m : &svm->stats.huge_1g);
	trace_svmgpu_map(svm->ctx_id, hva, size, dma, !!(pfn & HMM_PFN_WRITE));
	return 0;
}

static int svmgpu_map_small(struct svmgpu_svm *svm, u64 va, unsigned long pfn,
			    bool *flush)
{
	struct device *dev = &svm->sdev->pdev->dev;
	bool write = pfn & HMM_PFN_WRITE;
	struct svmgpu_pt *pt, *lpt;
	unsigned int idx;
	int llevel;
	bool local = false;
	dma_addr_t dma;
	u64 off;
	u64 pte, new;

	pt = svmgpu_walk(svm, va, 1, &lpt, &llevel);
	if (!pt && lpt)
		return 0;	/* a huge leaf maps this very page */
	if (!pt)
		return -ENOMEM;
	idx = SVMGPU_PT_INDEX(va, 1);
	pte = pte_get(pt, idx);
	if (pte & SVMGPU_PTE_VALID)
		return 0;
	if (svmgpu_devmem_page_offset(svm->sdev, hmm_pfn_to_page(pfn), &off)) {
		/* a page of our pagemap: its owner record follows the mapping */
		svmgpu_devmem_touch(svm->sdev, off, svm->mn.mm, va);
		local = true;
	} else if (svmgpu_dax_pfn_local(svm->sdev, page_to_pfn(hmm_pfn_to_page(pfn)),
					PAGE_SIZE, &off)) {
		svmgpu_devmem_touch(svm->sdev, off, NULL, 0);
		local = true;
	}
	if (local) {
		dma = off;
		new = off | (SVMGPU_APERTURE_LOCAL << SVMGPU_PTE_APERTURE_SHIFT) |
		      SVMGPU_PTE_VALID | SVMGPU_PTE_SW_DMA | SVMGPU_PTE_SW_LOCAL;
		goto set;
	}
	dma = dma_map_page_attrs(dev, hmm_pfn_to_page(pfn), 0, PAGE_SIZE,
				 svmgpu_dma_dir(write), SVMGPU_DMA_ATTRS);
	if (dma_mapping_error(dev, dma))
		return -ENOMEM;
	new = dma | SVMGPU_PTE_VALID | SVMGPU_PTE_SW_DMA;
set:
	if (write)
		new |= SVMGPU_PTE_WRITABLE;
	pt->pfn[idx] = page_to_pfn(hmm_pfn_to_page(pfn));
	pte_set(pt, idx, new);
	pt->nr_mapped++;
	atomic64_inc(&svm->stats.pages_mapped);
	trace_svmgpu_map(svm->ctx_id, va, PAGE_SIZE, dma, write);
	return 0;
}

/**
 * svmgpu_mmu_map() - write device PTEs for pages returned by hmm_range_fault
 * @svm: the svm
 * @start: VA of @pfns[0]; the range lies inside one interval notifier chunk
 * @pfns: hmm pfns
 * @npages: number of @pfns
 * @flush: set when an existing entry changed and the TLB must be
 *	invalidated before the faulting accesses are replayed
 *
 * Caller holds svm->pt_lock and has checked mmu_interval_read_retry().
 * Pages without HMM_PFN_VALID are skipped.  Read-only pages are mapped
 * without WRITABLE; a read-only leaf whose page is now writable is removed
 * (with a TLB invalidation) and mapped again.  Where the CPU maps a huge
 * page (hmm_pfn_to_map_order()) and the device supports that leaf size, a
 * device huge page is used.
 *
 * Return: 0 or a negative errno (mapping failed part way; what was mapped
 * stays mapped and is tracked).
 */
int svmgpu_mmu_map(struct svmgpu_svm *svm, u64 start, unsigned long *pfns,
		   unsigned long npages, bool *flush)
{
	struct svmgpu_device *sdev = svm->sdev;
	u64 lo = U64_MAX, hi = 0;
	unsigned long i;
	int ret;

	lockdep_assert_held(&svm->pt_lock);
	if (READ_ONCE(svm->dead) || !svm->root)
		return -ENODEV;

	/*
	 * A read-only leaf of a page now writable is replaced, not upgraded:
	 * its DMA mapping is device-read-only.
	 */
	for (i = 0; i < npages; i++) {
		u64 va = start + ((u64)i << PAGE_SHIFT);

		if ((pfns[i] & HMM_PFN_VALID) && (pfns[i] & HMM_PFN_WRITE) &&
		    svmgpu_mmu_present(svm, va, false) &&
		    !svmgpu_mmu_present(svm, va, true)) {
			lo = min(lo, va);
			hi = va + PAGE_SIZE;
		}
	}
	if (lo < hi)
		svmgpu_mmu_unmap(svm, lo, hi);

	i = 0;
	while (i < npages) {
		u64 va = start + ((u64)i << PAGE_SHIFT);
		unsigned long pfn = pfns[i];
		unsigned int order;
		int level;

		if (!(pfn & HMM_PFN_VALID) || (pfn & HMM_PFN_ERROR)) {
			i++;
			continue;
		}
		order = hmm_pfn_to_map_order(pfn);
		for (level = 3; level >= 2; level--) {
			u64 size = level_size(level);
			u32 cap = level == 3 ? SVMGPU_CAPS_LEAF_1G : SVMGPU_CAPS_LEAF_2M;
			u64 hva = va & ~(size - 1);

			if (!(sdev->caps & cap) ||
			    order + PAGE_SHIFT < SVMGPU_PT_LEVEL_SHIFT(level))
				continue;
			/* The whole leaf must lie in the notifier's chunk. */
			if (!svmgpu_chunk_covers(svm, hva, hva + size) ||
			    !svmgpu_chunk_covers(svm, start, hva + 1))
				continue;
			if (!svmgpu_map_huge(svm, va, pfn, level, flush))
				break;
		}
		if (level >= 2) {
			u64 next = (va | (level_size(level) - 1)) + 1;

			i = (next - start) >> PAGE_SHIFT;
			continue;
		}
		ret = svmgpu_map_small(svm, va, pfn, flush);
		if (ret)
			return ret;
		i++;
	}
	return 0;
}

/*
 * Phase one of an unmap: clear VALID of every leaf overlapping [start, end)
 * that owns a DMA mapping, widening [*lo, *hi) to the leaves' extent.
 */
static bool svmgpu_zap(struct svmgpu_pt *pt, int level, u64 base, u64 start,
		       u64 end, u64 *lo, u64 *hi, enum svmgpu_zap_mode mode)
{
	bool dry = mode == SVMGPU_ZAP_DRY;

	u64 size = level_size(level);
	unsigned int i, first, last;
	bool found = false;

	first = start > base ? (start - base) / size : 0;
	last = min_t(u64, SVMGPU_PT_ENTRIES, DIV_ROUND_UP(end - base, size));
	for (i = first; i < last; i++) {
		u64 va = base + i * size;
		u64 pte = pte_get(pt, i);

		if ((level == 1 || (pte & SVMGPU_PTE_LEAF)) &&
		    (pte & SVMGPU_PTE_SW_DMA)) {
			if (mode == SVMGPU_ZAP_ZERO &&
			    ((pte & SVMGPU_PTE_SW_LOCAL) || !is_zero_pfn(pt->pfn[i])))
				continue;
			found = true;
			if (dry)
				return true;
			pte_set(pt, i, pte & ~SVMGPU_PTE_VALID);
			*lo = min(*lo, va);
			*hi = max(*hi, va + size);
			continue;
		}
		if (level > 1 && pt->child[i] &&
		    svmgpu_zap(pt->child[i], level - 1, va, max(start, va),
			       min(end, va + size), lo, hi, mode)) {
			found = true;
			if (dry)
				return true;
		}
	}
	return found;
}

/*
 * Phase two: the device can no longer reach the leaves phase one left
 * without VALID (the TLB invalidation completed).  Mark the pages of the
 * writable ones dirty, then DMA-unmap them all.
 *
 * set_page_dirty() without the page lock, as ib_umem_odp does: the notifier
 * may be called with the page lock held (reclaim, truncation, writeback's
 * folio_mkclean()) or not, so it cannot be taken here.  What the lock would
 * protect against is the page being truncated and its mapping (the inode)
 * freed under us; that cannot happen while the device still maps the page:
 * the CPU page table still maps it too (the notifier runs before the kernel
 * removes the CPU PTE, and no CPU PTE goes without this notifier removing
 * the device leaf first, under svm->pt_lock), and that mapping's VMA holds
 * the file.  The same holds for the teardown paths, which run under
 * svm->pt_lock with the notifiers still registered.  A compound page is
 * dirtied through its head, i.e. the whole folio.
 */
static u64 svmgpu_reap(struct svmgpu_svm *svm, struct svmgpu_pt *pt, int level,
		       u64 base, u64 start, u64 end)
{
	struct device *dev = &svm->sdev->pdev->dev;
	u64 size = level_size(level);
	unsigned int i, first, last;
	u64 pages = 0;

	first = start > base ? (start - base) / size : 0;
	last = min_t(u64, SVMGPU_PT_ENTRIES, DIV_ROUND_UP(end - base, size));
	for (i = first; i < last; i++) {
		u64 va = base + i * size;
		u64 pte = pte_get(pt, i);

		if ((level == 1 || (pte & SVMGPU_PTE_LEAF)) &&
		    (pte & SVMGPU_PTE_SW_DMA)) {
			if (pte & SVMGPU_PTE_VALID)
				continue;
			if (pte & SVMGPU_PTE_SW_LOCAL)
				goto cleared;
			if (pte & SVMGPU_PTE_WRITABLE)
				set_page_dirty(pfn_to_page(pt->pfn[i]));
			dma_unmap_page_attrs(dev, pte & SVMGPU_PTE_ADDR_MASK, size,
					     svmgpu_dma_dir(pte & SVMGPU_PTE_WRITABLE),
					     SVMGPU_DMA_ATTRS);
cleared:
			pte_set(pt, i, 0);
			pt->pfn[i] = 0;
			pt->nr_mapped--;
			pages += size >> PAGE_SHIFT;
			continue;
		}
		if (level > 1 && pt->child[i])
			pages += svmgpu_reap(svm, pt->child[i], level - 1, va,
					     max(start, va), min(end, va + size));
	}
	return pages;
}

/**
 * svmgpu_mmu_range_mapped() - does any leaf overlap a range?
 * @svm: the svm
 * @start: first VA
 * @end: one past the last VA
 *
 * Caller holds svm->pt_lock.
 *
 * Return: true if a leaf with a DMA mapping overlaps [@start, @end).
 */
bool svmgpu_mmu_range_mapped(struct svmgpu_svm *svm, u64 start, u64 end)
{
	u64 lo = U64_MAX, hi = 0;

	lockdep_assert_held(&svm->pt_lock);
	if (!svm->root)
		return false;
	return svmgpu_zap(svm->root, SVMGPU_PT_LEVELS, 0, start, end, &lo, &hi,
			  SVMGPU_ZAP_DRY);
}

/**
 * svmgpu_mmu_present() - is a VA mapped with enough permission?
 * @svm: the svm
 * @va: the VA
 * @write: write permission needed
 *
 * Caller holds svm->pt_lock.
 *
 * Return: true if the device can access @va as asked.
 */
bool svmgpu_mmu_present(struct svmgpu_svm *svm, u64 va, bool write)
{
	struct svmgpu_pt *pt = svm->root;
	int level;

	lockdep_assert_held(&svm->pt_lock);
	for (level = SVMGPU_PT_LEVELS; pt; level--) {
		u64 pte = pte_get(pt, SVMGPU_PT_INDEX(va, level));

		if (!(pte & SVMGPU_PTE_VALID))
			return false;
		if (level == 1 || (pte & SVMGPU_PTE_LEAF))
			return !write || (pte & SVMGPU_PTE_WRITABLE);
		pt = READ_ONCE(pt->child[SVMGPU_PT_INDEX(va, level)]);
	}
	return false;
}

/*
 * Phases two and three of an unmap whose leaves, within [lo, hi), lost
 * VALID: one TLB invalidation over their extent, then the reap.  Leaves in
 * between that kept VALID are left alone by the reap.
 */
static void svmgpu_mmu_unmap_finish(struct svmgpu_svm *svm, u64 start,
				    u64 end, u64 lo, u64 hi)
{
	u64 pages;

	svmgpu_tlb_invalidate(svm->sdev, svm, lo, hi - lo, 0);
	pages = svmgpu_reap(svm, svm->root, SVMGPU_PT_LEVELS, 0, lo, hi);
	atomic64_add(pages, &svm->stats.pages_unmapped);
	atomic64_inc(&svm->stats.invalidations);
	trace_svmgpu_invalidate(svm->ctx_id, start, end, lo, hi, pages);
}

/**
 * svmgpu_mmu_unmap() - remove device translations of a range
 * @svm: the svm
 * @start: first VA
 * @end: one past the last VA
 *
 * Clears the leaves, invalidates the device TLB for their extent and waits
 * for it, then DMA-unmaps the pages.  A huge leaf that overlaps the range
 * partly is removed whole.  Caller holds svm->pt_lock.
 */
void svmgpu_mmu_unmap(struct svmgpu_svm *svm, u64 start, u64 end)
{
	u64 lo = U64_MAX, hi = 0;

	lockdep_assert_held(&svm->pt_lock);
	if (!svm->root || start >= end)
		return;
	if (!svmgpu_zap(svm->root, SVMGPU_PT_LEVELS, 0, start, end, &lo, &hi,
			SVMGPU_ZAP_ALL))
		return;
	svmgpu_mmu_unmap_finish(svm, start, end, lo, hi);
}

/**
 * svmgpu_mmu_unmap_zero() - remove device translations of the zero page
 * @svm: the svm
 * @start: first VA
 * @end: one past the last VA
 *
 * Like svmgpu_mmu_unmap() for the leaves of [@start, @end) that map the
 * zero page only.  A migration to device memory leaves a zero-page CPU
 * PTE in place until migrate_vma_pages() replaces it, which does not
 * invalidate the mmu notifiers' ranges (svmgpu_chunk_invalidate()).
 * Caller holds svm->pt_lock.
 */
void svmgpu_mmu_unmap_zero(struct svmgpu_svm *svm, u64 start, u64 end)
{
	u64 lo = U64_MAX, hi = 0;

	lockdep_assert_held(&svm->pt_lock);
	if (!svm->root || start >= end)
		return;
	if (!svmgpu_zap(svm->root, SVMGPU_PT_LEVELS, 0, start, end, &lo, &hi,
			SVMGPU_ZAP_ZERO))
		return;
	svmgpu_mmu_unmap_finish(svm, start, end, lo, hi);
}

/**
 * svmgpu_mmu_unmap_selected() - remove device translations of migrating pages
 * @svm: the svm
 * @start: VA of @src[0]
 * @src: a collected migration's entries
 * @npages: entries of @src
 *
 * Clears the leaves of every entry with MIGRATE_PFN_MIGRATE (a huge leaf
 * that overlaps one is removed whole), then invalidates the device TLB
 * once for their extent and waits, then DMA-unmaps the pages.  Caller
 * holds svm->pt_lock.
 */
void svmgpu_mmu_unmap_selected(struct svmgpu_svm *svm, u64 start,
			       const unsigned long *src, unsigned long npages)
{
	u64 lo = U64_MAX, hi = 0;
	unsigned long i, j;
	bool found = false;

	lockdep_assert_held(&svm->pt_lock);
	if (!svm->root)
		return;
	for (i = 0; i < npages; i = j + 1) {
		for (j = i; j < npages && (src[j] & MIGRATE_PFN_MIGRATE); j++)
			;
		if (j > i &&
		    svmgpu_zap(svm->root, SVMGPU_PT_LEVELS, 0,
			       start + ((u64)i << PAGE_SHIFT),
			       start + ((u64)j << PAGE_SHIFT), &lo, &hi,
			       SVMGPU_ZAP_ALL))
			found = true;
	}
	if (found)
		svmgpu_mmu_unmap_finish(svm, start,
					start + ((u64)npages << PAGE_SHIFT), lo, hi);
}

static bool svmgpu_inval_done(struct svmgpu_device *sdev, u32 seq)
{
	u32 done = (u32)le64_to_cpu(READ_ONCE(*(__le64 *)sdev->inval_done));

	return (s32)(done - seq) >= 0;
}

/*
 * Queue one invalidation request (or a context disable, which queues a
 * whole-context invalidation) and wait for the device to complete it.
 */
static int svmgpu_inval(struct svmgpu_device *sdev, struct svmgpu_svm *svm,
			bool disable, u64 start, u64 size, u32 flags)
{
	ktime_t t0 = ktime_get();
	bool inject, queued;
	int ret = 0;
	u32 seq;
	u64 ns;

	if (!svmgpu_hw_enter(sdev))
		return 0;	/* removed or in a PCI reset: the device was reset, no DMA */
	mutex_lock(&sdev->inval_lock);
	if (sdev->fenced) {
		/* Reset with bus mastering off until recovered: no DMA. */
		mutex_unlock(&sdev->inval_lock);
		svmgpu_hw_exit(sdev);
		return 0;
	}
	if (disable) {
		svmgpu_write32(sdev, SVMGPU_REG_CTX_DISABLE, svm->ctx_id);
	} else {
		svmgpu_write32(sdev, SVMGPU_REG_TLB_INV_CTX, svm ? svm->ctx_id : 0);
		svmgpu_write64(sdev, SVMGPU_REG_TLB_INV_START, start);
		svmgpu_write64(sdev, SVMGPU_REG_TLB_INV_SIZE, size);
		svmgpu_write32(sdev, SVMGPU_REG_TLB_INV_FLAGS, flags);
		svmgpu_write32(sdev, SVMGPU_REG_TLB_INV_SUBMIT, 1);
	}
	/*
	 * The driver counts its requests: a register that reads back wrong
	 * (all-ones from a link in error, 0 from a BAR that stopped
	 * decoding, where the writes above were dropped too) would make
	 * any DONE_SEQ look like a completion, while the engines, bus
	 * mastering on, may still use the old translations.  A request the
	 * device did not count is not shown complete: fenced like a timeout.
	 */
	seq = ++sdev->inval_seq;
	queued = svmgpu_read32(sdev, SVMGPU_REG_TLB_INV_REQ_SEQ) == seq;
	inject = atomic_add_unless(&sdev->inject_inval_timeouts, -1, 0);
	if (!queued || inject ||
	    !wait_event_timeout(sdev->inval_wq, svmgpu_inval_done(sdev, seq),
				SVMGPU_INVAL_TIMEOUT)) {
		u32 done = svmgpu_read32(sdev, SVMGPU_REG_TLB_INV_DONE_SEQ);

		/*
		 * Requests are one at a time (inval_lock): done is exactly
		 * seq once this one completed.  Not trusted from a BAR that
		 * stopped decoding (0) or a link in error (all-ones): with
		 * seq at 0, or past 2^31, either could pass for it.
		 */
		if (done == seq && svmgpu_read32(sdev, SVMGPU_REG_ID) != SVMGPU_ID_MAGIC)
			queued = false;
		if (!queued || done != seq || inject) {
			atomic64_inc(&sdev->stats.tlb_inval_timeouts);
			drm_err_ratelimited(&sdev->drm,
					    "TLB invalidation %u %s (done %u)\n", seq,
					    queued ? "timed out" : "not queued", done);
			/*
			 * The device may still reach the pages the caller
			 * gives back: cut its DMA off before returning.
			 */
			svmgpu_device_fence(sdev);
			ret = -ETIMEDOUT;
		}
	}
	mutex_unlock(&sdev->inval_lock);
	svmgpu_hw_exit(sdev);

	ns = ktime_to_ns(ktime_sub(ktime_get(), t0));
	atomic64_inc(&sdev->stats.tlb_invalidations);
	atomic64_add(ns, &sdev->stats.tlb_inval_ns);
	if (svm) {
		atomic64_inc(&svm->stats.tlb_invalidations);
		atomic64_add(ns, &svm->stats.tlb_inval_ns);
	}
	trace_svmgpu_tlb_inval(svm ? svm->ctx_id : 0, start, size, flags, ns, ret);
	return ret;
}

/**
 * svmgpu_tlb_invalidate() - invalidate device TLB entries and wait
 * @sdev: the device
 * @svm: the context to invalidate (ignored with SVMGPU_TLB_INV_ALL_CONTEXTS)
 * @start: first VA
 * @size: bytes
 * @flags: SVMGPU_TLB_INV_* flags
 *
 * Waits until the device guarantees that no engine uses a removed
 * translation (docs/hw-spec.md 6).  May sleep.
 *
 * Return: 0 or -ETIMEDOUT.
 */
int svmgpu_tlb_invalidate(struct svmgpu_device *sdev, struct svmgpu_svm *svm,
			  u64 start, u64 size, u32 flags)
{
	return svmgpu_inval(sdev, svm, false, start, size, flags);
}

/**
 * svmgpu_mmu_ctx_disable() - disable a device context and flush its TLB
 * @svm: the svm
 *
 * Caller holds svm->pt_lock.
 */
void svmgpu_mmu_ctx_disable(struct svmgpu_svm *svm)
{
	lockdep_assert_held(&svm->pt_lock);
	svmgpu_inval(svm->sdev, svm, true, 0, 0, 0);
}

/**
 * svmgpu_tlb_reset() - forget invalidation sequence numbers after a reset
 * @sdev: the device
 *
 * Caller holds sdev->inval_lock.
 */
void svmgpu_tlb_reset(struct svmgpu_device *sdev)
{
	lockdep_assert_held(&sdev->inval_lock);
	sdev->inval_seq = 0;
	WRITE_ONCE(*(__le64 *)sdev->inval_done, 0);
	wake_up_all(&sdev->inval_wq);
}
