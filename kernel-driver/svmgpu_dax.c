// SPDX-License-Identifier: GPL-2.0
/*
 * svmgpu DAX-style device memory (docs/driver.md "DAX-style device memory").
 *
 * The top dax_mb MiB of the device's local memory (BAR4, hw-spec 5a) form
 * the DAX pool: buffers of it are allocated with DEVMEM_ALLOC and mapped
 * with mmap(MAP_SHARED) of the render node, with the rules of
 * drivers/dax/device.c: addresses aligned to the buffer's alignment (2 MiB,
 * 1 GiB when its size is a multiple of 1 GiB and the pool allows it), a
 * misaligned MAP_FIXED or a MAP_PRIVATE mapping refused with -EINVAL.  CPU
 * faults map 2 MiB at a time, with 4 KiB entries (no 2 MiB CPU entries on
 * 6.1: see svmgpu_dax_fault()); the device maps 2 MiB / 1 GiB leaves.
 *
 * Kernel 6.1: a huge mapping of pfns without struct pages is unsafe
 * (GUP-fast takes a huge pmd that is not devmap for a THP; pmd_special came
 * in 6.12), so, as device-dax does, the pool gets struct pages with
 * memremap_pages(MEMORY_DEVICE_GENERIC) and is mapped with pfn_t
 * PFN_DEV|PFN_MAP (devmap) entries: GUP then takes a reference on the
 * ZONE_DEVICE page (refcount 1 while unused: a GENERIC page is never
 * freed).  On the Debian kernel this pagemap sits beside the
 * MEMORY_DEVICE_COHERENT one of the rest of BAR4; on the debug kernel the
 * rest is MEMORY_DEVICE_PRIVATE on a free physical range, whose data
 * svmgpu_devmem.c reaches through memremap(MEMREMAP_WB) of the rest of
 * BAR4 (no overlap with the pool).
 *
 * The VMA is VM_MIXEDMAP (special: vm_normal_page() skips its devmap
 * entries; fork copies them, vma_needs_copy(), taking no reference).
 *
 * hmm_range_fault() refuses VM_MIXEDMAP VMAs, so the device fault path
 * (svmgpu_svm_fault()), under the mmap lock it takes for hmm anyway, hands
 * a window whose VMA is a DAX one (svmgpu_dax_vma()) to
 * svmgpu_dax_hmm_range(): for a DAX VMA of this device it faults the CPU
 * side for what the device asked (so that the device maps only what the
 * CPU maps, and mprotect()/munmap() notifiers cover it) and fills the hmm
 * pfns from the buffer, with the order of the 2 MiB / 1 GiB chunk, which
 * svmgpu_mmu.c maps with aperture 1 and huge leaves.  The window never
 * crosses a VMA boundary (svmgpu_fault_resolve() clamps it to the VMA).
 *
 * Lifetimes: a buffer (kref) is held by its handle (the file's
 * sf->dax_bos) and by every VMA (open/close); it holds the pool (kref),
 * whose allocator lives until the last buffer is gone.  The VMA's file
 * holds the drm_device.  Removal: after svmgpu_dev_unplug() (faults and
 * mmap() run inside svmgpu_dev_enter()) svmgpu_dax_unplug() zaps every
 * mapping of the device's address_space; later faults get SIGBUS.
 *
 * Page references: get_user_pages() (vmsplice, O_DIRECT, process_vm_*)
 * takes references on the pool's pages that are tied to neither the buffer
 * nor its mappings.  A released buffer whose pages are still referenced
 * (page_ref_count() > 1) is held back on the pool's busy list, not returned
 * to the allocator, so that no other user gets memory the kernel may still
 * read or DMA into; the retry work (every 100 ms while the list is not
 * empty) and every DEVMEM_ALLOC give it back once the references are gone.
 * svmgpu_dax_fini() waits at most SVMGPU_DAX_FINI_WAIT for them; after
 * that it leaks the pool (pagemap, struct pages and allocator stay, with a
 * warning): a page is never freed under a reference, and removal never
 * hangs.  The pagemap has no ops, so nothing in it calls into the module.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/genalloc.h>
#include <linux/highmem.h>
#include <linux/hmm.h>
#include <linux/huge_mm.h>
#include <linux/kref.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/pfn_t.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_print.h>

#include <svmgpu/svmgpu_hw.h>
#include <uapi/drm/svmgpu_drm.h>

#include "svmgpu_drv.h"

static unsigned int dax_mb = 32;
module_param(dax_mb, uint, 0644);
MODULE_PARM_DESC(dax_mb,
		 "MiB at the top of device-local memory for DAX-style buffers (DEVMEM_ALLOC), rounded down to 2 MiB, at most half of it; read when a device is bound (default 32, 0 = none)");

static unsigned int dax_user_percent = 100;
module_param(dax_user_percent, uint, 0644);
MODULE_PARM_DESC(dax_user_percent,
		 "Percent of the DAX pool the buffers of one user (uid) may hold, held-back ones included; DEVMEM_ALLOC past it gives -EDQUOT (default 100 = no cap)");

/* mmap offset of a buffer: its handle << SVMGPU_DAX_OFF_SHIFT. */
#define SVMGPU_DAX_OFF_SHIFT	40
#define SVMGPU_DAX_MAX_HANDLE	((1u << 20) - 1)

/* How long svmgpu_dax_fini() waits for page references before leaking. */
#define SVMGPU_DAX_FINI_WAIT	(5 * HZ)
/* Retry period of buffers held back by page references. */
#define SVMGPU_DAX_RETRY	(HZ / 10)

/**
 * struct svmgpu_dax - the DAX pool of one device
 * @ref: held by the device (until svmgpu_dax_fini()) and by every buffer
 * @sdev: the device
 * @pgmap: MEMORY_DEVICE_GENERIC pagemap of the pool
 * @phys: physical address of the pool (in BAR4)
 * @local: its offset in device-local memory
 * @size: bytes
 * @lock: protects the allocations from @gp, @busy, @dead and @users
 * @gp: the allocator, a bit a 2 MiB chunk of the pool's physical range
 *	(genalloc: it allocates nothing at run time, so it cannot fail half
 *	way; 6.1's drm_buddy, the first one, corrupted its free lists when a
 *	block allocation of a split failed)
 * @users: bytes held per uid (xa_mk_value() of 2 MiB units), for
 *	dax_user_percent
 * @busy: released buffers whose pages are still referenced (held back)
 * @retry: gives @busy back to @gp once the references are gone
 * @dead: svmgpu_dax_fini() has run: no page is looked at any more
 * @used: bytes allocated
 * @buffers: buffers alive (held back ones included)
 * @held_back: buffers on @busy
 * @held_back_total: buffers ever held back
 * @cpu_pte: CPU faults (each maps up to 2 MiB with 4 KiB entries)
 * @dev_huge: device 2 MiB / 1 GiB leaves written
 * @dev_small: device 4 KiB leaves written
 */
struct svmgpu_dax {
	struct kref ref;
	struct svmgpu_device *sdev;
	struct dev_pagemap pgmap;
	phys_addr_t phys;
	u64 local;
	u64 size;
	struct mutex lock;		/* allocations, @busy, @dead, @users */
	struct gen_pool *gp;
	struct xarray users;
	struct list_head busy;
	struct delayed_work retry;
	bool dead;
	atomic64_t used;
	atomic64_t buffers;
	atomic64_t held_back;
	atomic64_t held_back_total;
	atomic64_t cpu_pte;
	atomic64_t dev_huge[2];
	atomic64_t dev_small;
};

/**
 * struct svmgpu_dax_bo - a DAX buffer
 * @ref: held by the handle and by every VMA
 * @pool: the pool it came from
 * @size: bytes (multiple of @align)
 * @align: 2 MiB or 1 GiB: each chunk of @align bytes is contiguous and
 *	aligned in physical memory
 * @uid: the user it is charged to (dax_user_percent)
 * @busy: on the pool's @busy list once released while referenced
 * @chunk: pool offset of each chunk of @align bytes
 */
struct svmgpu_dax_bo {
	struct kref ref;
	struct svmgpu_dax *pool;
	u64 size;
	u64 align;
	kuid_t uid;
	struct list_head busy;
	u64 chunk[];
};

static void svmgpu_dax_release(struct kref *ref)
{
	struct svmgpu_dax *pool = container_of(ref, struct svmgpu_dax, ref);

	gen_pool_destroy(pool->gp);
	xa_destroy(&pool->users);
	mutex_destroy(&pool->lock);
	kfree(pool);
}

/* Physical address of byte @off of @bo. */
static phys_addr_t svmgpu_dax_bo_phys(struct svmgpu_dax_bo *bo, u64 off)
{
	return bo->pool->phys + bo->chunk[off / bo->align] + off % bo->align;
}

/*
 * Does a page of @bo have a reference besides its own (GUP: a pipe, an I/O
 * in flight)?  Called with pool->lock held, before pool->dead, once no
 * mapping of @bo is left (so no new reference can be taken).
 */
static bool svmgpu_dax_bo_referenced(struct svmgpu_dax_bo *bo)
{
	u64 off;

	for (off = 0; off < bo->size; off += PAGE_SIZE) {
		if (page_ref_count(pfn_to_page(PHYS_PFN(svmgpu_dax_bo_phys(bo, off)))) > 1)
			return true;
		if (!(off & (SZ_2M - 1)))
			cond_resched();
	}
	return false;
}

/* Bytes the buffers of @uid hold in @pool; pool->lock held. */
static u64 svmgpu_dax_user_bytes(struct svmgpu_dax *pool, kuid_t uid)
{
	void *entry = xa_load(&pool->users, __kuid_val(uid));

	return entry ? (u64)xa_to_value(entry) * SZ_2M : 0;
}

/* Set what @uid holds in @pool to @bytes (a multiple of 2 MiB); pool->lock held. */
static int svmgpu_dax_user_set(struct svmgpu_dax *pool, kuid_t uid, u64 bytes)
{
	if (!bytes) {
		xa_erase(&pool->users, __kuid_val(uid));
		return 0;
	}
	return xa_err(xa_store(&pool->users, __kuid_val(uid),
			       xa_mk_value(bytes / SZ_2M), GFP_KERNEL));
}

/* Give @n chunks of @align bytes at pool offsets @chunk back to the allocator. */
static void svmgpu_dax_chunks_free(struct svmgpu_dax *pool, const u64 *chunk, u64 n, u64 align)
{
	u64 i;

	for (i = 0; i < n; i++)
		gen_pool_free(pool->gp, pool->phys + chunk[i], align);
}

/*
 * Allocate @size bytes as chunks of @align bytes, each aligned to @align in
 * physical memory, into @chunk (pool offsets): 0, or -ENOSPC with nothing
 * allocated.  pool->lock held.
 */
static int svmgpu_dax_chunks_alloc(struct svmgpu_dax *pool, u64 *chunk, u64 size, u64 align)
{
	struct genpool_data_align data = { .align = align };
	u64 i, n = size / align;
	unsigned long addr;

	for (i = 0; i < n; i++) {
		addr = gen_pool_alloc_algo(pool->gp, align, gen_pool_first_fit_align, &data);
		if (!addr) {
			svmgpu_dax_chunks_free(pool, chunk, i, align);
			return -ENOSPC;
		}
		chunk[i] = addr - pool->phys;
	}
	return 0;
}

/* Give @bo's memory back to the allocator; pool->lock held. */
static void svmgpu_dax_bo_free_locked(struct svmgpu_dax_bo *bo)
{
	struct svmgpu_dax *pool = bo->pool;

	/* Lowering an existing entry allocates nothing: it cannot fail. */
	svmgpu_dax_user_set(pool, bo->uid, svmgpu_dax_user_bytes(pool, bo->uid) - bo->size);
	svmgpu_dax_chunks_free(pool, bo->chunk, bo->size / bo->align, bo->align);
	atomic64_sub(bo->size, &pool->used);
	atomic64_dec(&pool->buffers);
	kvfree(bo);
}

/*
 * Free the held-back buffers whose pages are no longer referenced (all of
 * them once the pool is dead); pool->lock held.  Return: how many were
 * freed (the caller drops as many pool references, after unlocking).
 */
static unsigned int svmgpu_dax_retry_locked(struct svmgpu_dax *pool)
{
	struct svmgpu_dax_bo *bo, *next;
	unsigned int freed = 0;

	list_for_each_entry_safe(bo, next, &pool->busy, busy) {
		if (!pool->dead && svmgpu_dax_bo_referenced(bo))
			continue;
		list_del(&bo->busy);
		atomic64_dec(&pool->held_back);
		svmgpu_dax_bo_free_locked(bo);
		freed++;
	}
	return freed;
}

static void svmgpu_dax_pool_put_n(struct svmgpu_dax *pool, unsigned int n)
{
	while (n--)
		kref_put(&pool->ref, svmgpu_dax_release);
}

/*
 * The retry work: runs only while the device holds the pool (it is
 * cancelled in svmgpu_dax_fini() before that reference goes), so the pool
 * outlives it even when it frees the last buffer.
 */
static void svmgpu_dax_retry_work(struct work_struct *work)
{
	struct svmgpu_dax *pool = container_of(to_delayed_work(work), struct svmgpu_dax,
					       retry);
	unsigned int freed;
	bool again;

	mutex_lock(&pool->lock);
	freed = svmgpu_dax_retry_locked(pool);
	again = !pool->dead && !list_empty(&pool->busy);
	if (again)
		schedule_delayed_work(&pool->retry, SVMGPU_DAX_RETRY);
	mutex_unlock(&pool->lock);
	svmgpu_dax_pool_put_n(pool, freed);
}

static void svmgpu_dax_bo_release(struct kref *ref)
{
	struct svmgpu_dax_bo *bo = container_of(ref, struct svmgpu_dax_bo, ref);
	struct svmgpu_dax *pool = bo->pool;

	mutex_lock(&pool->lock);
	if (!pool->dead && svmgpu_dax_bo_referenced(bo)) {
		/* Held back (and keeps its pool reference) until unreferenced. */
		list_add_tail(&bo->busy, &pool->busy);
		atomic64_inc(&pool->held_back);
		atomic64_inc(&pool->held_back_total);
		schedule_delayed_work(&pool->retry, SVMGPU_DAX_RETRY);
		mutex_unlock(&pool->lock);
		return;
	}
	svmgpu_dax_bo_free_locked(bo);
	mutex_unlock(&pool->lock);
	kref_put(&pool->ref, svmgpu_dax_release);
}

static void svmgpu_dax_bo_put(struct svmgpu_dax_bo *bo)
{
	kref_put(&bo->ref, svmgpu_dax_bo_release);
}

/**
 * svmgpu_dax_size() - bytes at the top of local memory the DAX pool takes
 * @sdev: the device, after svmgpu_dax_init()
 *
 * Return: the pool's size, 0 without one.
 */
u64 svmgpu_dax_size(struct svmgpu_device *sdev)
{
	return sdev->dax ? sdev->dax->size : 0;
}

/**
 * svmgpu_dax_used() - bytes of the pool held by buffers
 * @sdev: the device
 *
 * Buffers freed while still mapped or referenced count until their memory
 * is back.  Hibernation refuses while this is not 0: the pool is device
 * memory, which is not in the image.
 *
 * Return: the bytes, 0 without a pool.
 */
u64 svmgpu_dax_used(struct svmgpu_device *sdev)
{
	return sdev->dax ? atomic64_read(&sdev->dax->used) : 0;
}

/**
 * svmgpu_dax_init() - set up the DAX pool at the top of local memory
 * @sdev: the device, CAPS read
 *
 * Return: 0 (also without one) or a negative errno.
 */
int svmgpu_dax_init(struct svmgpu_device *sdev)
{
	struct pci_dev *pdev = sdev->pdev;
	u64 local = svmgpu_read64(sdev, SVMGPU_REG_LOCAL_MEM_SIZE);
	u64 size = (u64)READ_ONCE(dax_mb) << 20;
	struct dev_pagemap *conflict;
	struct svmgpu_dax *pool;
	void *ret_ptr;
	int ret;

	if (!(sdev->caps & SVMGPU_CAPS_LOCAL_MEM))
		return 0;
	/*
	 * A pool an earlier binding leaked (svmgpu_dax_fini(): pages still
	 * referenced) still maps the top of local memory: device memory
	 * must not be handed out over it, and memremap_pages() would WARN.
	 * The device cannot be bound again until reboot.
	 */
	if (local && local <= pci_resource_len(pdev, SVMGPU_BAR_LOCAL)) {
		conflict = get_dev_pagemap(PHYS_PFN(pci_resource_start(pdev, SVMGPU_BAR_LOCAL) +
						    local - 1), NULL);
		if (conflict) {
			put_dev_pagemap(conflict);
			drm_err(&sdev->drm, "the DAX pool of an earlier binding is still referenced: cannot bind until reboot\n");
			return -EBUSY;
		}
	}
	/* dax_mb MiB rounded down to 2 MiB, at most half of local memory. */
	size = round_down(min(size, local / 2), SZ_2M);
	if (!size)
		return 0;
	if (local % SVMGPU_LOCAL_MEM_GRANULE || local > SVMGPU_LOCAL_MEM_MAX ||
	    local > pci_resource_len(pdev, SVMGPU_BAR_LOCAL) ||
	    !(pci_resource_flags(pdev, SVMGPU_BAR_LOCAL) & IORESOURCE_MEM)) {
		drm_err(&sdev->drm, "local memory of %llu bytes does not fit BAR4 (%llu bytes)\n",
			local, (u64)pci_resource_len(pdev, SVMGPU_BAR_LOCAL));
		return -ENODEV;
	}
	pool = kzalloc(sizeof(*pool), GFP_KERNEL);
	if (!pool)
		return -ENOMEM;
	kref_init(&pool->ref);
	pool->sdev = sdev;
	pool->size = size;
	pool->local = local - size;
	pool->phys = pci_resource_start(pdev, SVMGPU_BAR_LOCAL) + pool->local;
	mutex_init(&pool->lock);
	xa_init(&pool->users);
	INIT_LIST_HEAD(&pool->busy);
	INIT_DELAYED_WORK(&pool->retry, svmgpu_dax_retry_work);
	if (!IS_ALIGNED(pool->phys, SZ_2M)) {
		drm_err(&sdev->drm, "BAR4 at %pa is not 2 MiB aligned\n", &pool->phys);
		ret = -ENODEV;
		goto err_free;
	}
	pool->gp = gen_pool_create(ilog2(SZ_2M), dev_to_node(&pdev->dev));
	if (!pool->gp || gen_pool_add(pool->gp, pool->phys, size, dev_to_node(&pdev->dev))) {
		ret = -ENOMEM;
		goto err_pool;
	}
	pool->pgmap.type = MEMORY_DEVICE_GENERIC;
	pool->pgmap.range.start = pool->phys;
	pool->pgmap.range.end = pool->phys + size - 1;
	pool->pgmap.nr_range = 1;
	ret_ptr = memremap_pages(&pool->pgmap, dev_to_node(&pdev->dev));
	if (IS_ERR(ret_ptr)) {
		ret = PTR_ERR(ret_ptr);
		drm_err(&sdev->drm, "memremap_pages of the DAX pool failed: %d\n", ret);
		goto err_pool;
	}
	sdev->dax = pool;
	drm_info(&sdev->drm, "%llu MiB of device memory for DAX-style buffers\n", size >> 20);
	return 0;

err_pool:
	if (pool->gp)
		gen_pool_destroy(pool->gp);
err_free:
	mutex_destroy(&pool->lock);
	kfree(pool);
	return ret;
}

/**
 * svmgpu_dax_unplug() - remove every CPU mapping of DAX buffers
 * @sdev: the device, after svmgpu_dev_unplug(): no fault or mmap() maps again
 */
void svmgpu_dax_unplug(struct svmgpu_device *sdev)
{
	if (sdev->dax)
		unmap_mapping_range(sdev->drm.anon_inode->i_mapping, 0, 0, 1);
}

/* Pages of the pool still referenced (GUP); the first one in @first. */
static unsigned long svmgpu_dax_pool_referenced(struct svmgpu_dax *pool, unsigned long *first)
{
	unsigned long pfn, n = 0;

	for (pfn = PHYS_PFN(pool->phys); pfn < PHYS_PFN(pool->phys + pool->size); pfn++) {
		if (page_ref_count(pfn_to_page(pfn)) > 1 && !n++)
			*first = pfn;
		if (!(pfn & (PTRS_PER_PMD - 1)))
			cond_resched();
	}
	return n;
}

/**
 * svmgpu_dax_fini() - remove the DAX pool's pages
 * @sdev: the device; no CPU or device mapping of the pool is left
 *
 * Waits up to SVMGPU_DAX_FINI_WAIT for page references taken by
 * get_user_pages() to go, then frees the held-back buffers and removes the
 * pagemap.  If pages are still referenced then, the pool is leaked instead
 * (its pages, pagemap and allocator stay; a warning names the first pfn and
 * the count; a later bind of the device finds the pagemap and fails with
 * -EBUSY, svmgpu_dax_init()):
 * never a page freed under a reference, never a hang with device_lock held.
 * Buffers still held by handles keep the allocator until they go.
 */
void svmgpu_dax_fini(struct svmgpu_device *sdev)
{
	struct svmgpu_dax *pool = sdev->dax;
	unsigned long deadline = jiffies + SVMGPU_DAX_FINI_WAIT, first = 0, n;
	unsigned int freed;

	if (!pool)
		return;
	while ((n = svmgpu_dax_pool_referenced(pool, &first)) &&
	       time_before(jiffies, deadline))
		msleep(20);
	mutex_lock(&pool->lock);
	pool->dead = true;
	freed = n ? 0 : svmgpu_dax_retry_locked(pool);
	mutex_unlock(&pool->lock);
	cancel_delayed_work_sync(&pool->retry);
	sdev->dax = NULL;
	if (n) {
		drm_warn(&sdev->drm, "%lu DAX pages still referenced after %u s (first pfn 0x%lx): leaking the DAX pool's %llu MiB until reboot\n",
			 n, SVMGPU_DAX_FINI_WAIT / HZ, first, pool->size >> 20);
		return;
	}
	svmgpu_dax_pool_put_n(pool, freed);
	memunmap_pages(&pool->pgmap);
	kref_put(&pool->ref, svmgpu_dax_release);
}

/* Zero a new buffer through the direct map of its pages. */
static void svmgpu_dax_bo_clear(struct svmgpu_dax_bo *bo)
{
	u64 off;

	for (off = 0; off < bo->size; off += PAGE_SIZE) {
		clear_page(page_address(pfn_to_page(PHYS_PFN(svmgpu_dax_bo_phys(bo, off)))));
		if (!(off & (SZ_2M - 1)))
			cond_resched();
	}
}

static struct svmgpu_dax_bo *svmgpu_dax_bo_create(struct svmgpu_dax *pool, u64 size)
{
	unsigned int percent = READ_ONCE(dax_user_percent), freed;
	kuid_t uid = current_uid();
	struct svmgpu_dax_bo *bo;
	u64 align = SZ_2M, held;
	int ret;

	/* 1 GiB chunks only from a 1 GiB-aligned pool (docs/driver.md), else 2 MiB. */
	if (IS_ALIGNED(size, SZ_1G) && IS_ALIGNED(pool->phys, SZ_1G))
		align = SZ_1G;
	bo = kvzalloc(struct_size(bo, chunk, size / SZ_2M), GFP_KERNEL);
	if (!bo)
		return ERR_PTR(-ENOMEM);
	mutex_lock(&pool->lock);
	freed = svmgpu_dax_retry_locked(pool);
	held = svmgpu_dax_user_bytes(pool, uid);
	if (percent < 100 && held + size > div_u64(pool->size * percent, 100)) {
		ret = -EDQUOT;
		goto unlock;
	}
	ret = svmgpu_dax_chunks_alloc(pool, bo->chunk, size, align);
	if (ret && align == SZ_1G) {
		align = SZ_2M;
		ret = svmgpu_dax_chunks_alloc(pool, bo->chunk, size, align);
	}
	if (!ret) {
		ret = svmgpu_dax_user_set(pool, uid, held + size);
		if (ret)
			svmgpu_dax_chunks_free(pool, bo->chunk, size / align, align);
	}
unlock:
	mutex_unlock(&pool->lock);
	svmgpu_dax_pool_put_n(pool, freed);
	if (ret) {
		kvfree(bo);
		return ERR_PTR(ret == -ENOSPC ? -ENOSPC : ret);
	}
	bo->size = size;
	bo->align = align;
	bo->uid = uid;
	kref_init(&bo->ref);
	bo->pool = pool;
	kref_get(&pool->ref);
	atomic64_add(size, &pool->used);
	atomic64_inc(&pool->buffers);
	svmgpu_dax_bo_clear(bo);
	return bo;
}

/**
 * svmgpu_ioctl_devmem_alloc() - DRM_IOCTL_SVMGPU_DEVMEM_ALLOC
 * @drm: the device
 * @data: struct drm_svmgpu_devmem_alloc
 * @file: the caller's file
 *
 * Return: 0 or a negative errno (see the uapi header).
 */
int svmgpu_ioctl_devmem_alloc(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct svmgpu_device *sdev = to_svmgpu(drm);
	struct drm_svmgpu_devmem_alloc *args = data;
	struct svmgpu_file *sf = file->driver_priv;
	struct svmgpu_dax_bo *bo;
	struct svmgpu_dax *pool;
	u64 size, align;
	u32 handle;
	int idx, ret;

	size = round_up(args->size, SZ_2M);
	if (args->flags || args->handle || args->offset || args->align ||
	    !args->size || size < args->size)
		return -EINVAL;
	if (!svmgpu_dev_enter(drm, &idx))
		return -ENODEV;
	pool = sdev->dax;
	if (!pool) {
		ret = -EOPNOTSUPP;
		goto out;
	}
	if (size > pool->size) {
		ret = -EINVAL;
		goto out;
	}
	bo = svmgpu_dax_bo_create(pool, size);
	if (IS_ERR(bo)) {
		ret = PTR_ERR(bo);
		goto out;
	}
	/*
	 * Once in the xarray, another thread's FREE of the (predictable)
	 * handle can drop the last reference: nothing of @bo is touched
	 * after xa_alloc().
	 */
	align = bo->align;
	ret = xa_alloc(&sf->dax_bos, &handle, bo, XA_LIMIT(1, SVMGPU_DAX_MAX_HANDLE),
		       GFP_KERNEL);
	if (ret) {
		svmgpu_dax_bo_put(bo);
		ret = ret == -EBUSY ? -ENOSPC : ret;
		goto out;
	}
	args->size = size;
	args->handle = handle;
	args->offset = (u64)handle << SVMGPU_DAX_OFF_SHIFT;
	args->align = align;
out:
	svmgpu_dev_exit(drm, idx);
	return ret;
}

/**
 * svmgpu_ioctl_devmem_free() - DRM_IOCTL_SVMGPU_DEVMEM_FREE
 * @drm: the device
 * @data: struct drm_svmgpu_devmem_free
 * @file: the caller's file
 *
 * Return: 0, -EINVAL (non-zero pad) or -ENOENT (unknown handle).
 */
int svmgpu_ioctl_devmem_free(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct drm_svmgpu_devmem_free *args = data;
	struct svmgpu_file *sf = file->driver_priv;
	struct svmgpu_dax_bo *bo;

	if (args->pad)
		return -EINVAL;
	bo = xa_erase(&sf->dax_bos, args->handle);
	if (!bo)
		return -ENOENT;
	svmgpu_dax_bo_put(bo);
	return 0;
}

/**
 * svmgpu_dax_file_fini() - drop the handles of a closing file
 * @sf: the file; mappings keep their buffers
 */
void svmgpu_dax_file_fini(struct svmgpu_file *sf)
{
	struct svmgpu_dax_bo *bo;
	unsigned long handle;

	xa_for_each(&sf->dax_bos, handle, bo) {
		xa_erase(&sf->dax_bos, handle);
		svmgpu_dax_bo_put(bo);
	}
	xa_destroy(&sf->dax_bos);
}

/* The buffer of @pgoff in @sf, referenced, or NULL. */
static struct svmgpu_dax_bo *svmgpu_dax_bo_lookup(struct svmgpu_file *sf, unsigned long pgoff)
{
	unsigned long handle = pgoff >> (SVMGPU_DAX_OFF_SHIFT - PAGE_SHIFT);
	struct svmgpu_dax_bo *bo;

	xa_lock(&sf->dax_bos);
	bo = xa_load(&sf->dax_bos, handle);
	if (bo)
		kref_get(&bo->ref);
	xa_unlock(&sf->dax_bos);
	return bo;
}

/* Byte offset in the buffer of the page at @addr of a DAX VMA. */
static u64 svmgpu_dax_vma_off(struct vm_area_struct *vma, unsigned long addr)
{
	return (((vma->vm_pgoff << PAGE_SHIFT) & ((1ull << SVMGPU_DAX_OFF_SHIFT) - 1)) +
		(addr - vma->vm_start)) & PAGE_MASK;
}

static void svmgpu_dax_vm_open(struct vm_area_struct *vma)
{
	struct svmgpu_dax_bo *bo = vma->vm_private_data;

	kref_get(&bo->ref);
}

static void svmgpu_dax_vm_close(struct vm_area_struct *vma)
{
	svmgpu_dax_bo_put(vma->vm_private_data);
}

/* No split at an address inside a chunk (munmap, mprotect, mremap). */
static int svmgpu_dax_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	struct svmgpu_dax_bo *bo = vma->vm_private_data;

	return IS_ALIGNED(addr, bo->align) ? 0 : -EINVAL;
}

/* mremap() to an address that is not aligned is undone with -EINVAL. */
static int svmgpu_dax_mremap(struct vm_area_struct *vma)
{
	struct svmgpu_dax_bo *bo = vma->vm_private_data;

	return IS_ALIGNED(vma->vm_start, bo->align) ? 0 : -EINVAL;
}

/* Insert the 4 KiB devmap entry of @addr of @vma; mkwrite with @write. */
static vm_fault_t svmgpu_dax_insert_pte(struct vm_area_struct *vma, struct svmgpu_dax_bo *bo,
					unsigned long addr, bool write)
{
	pfn_t pfn = phys_to_pfn_t(svmgpu_dax_bo_phys(bo, svmgpu_dax_vma_off(vma, addr)),
				  PFN_DEV | PFN_MAP);

	return write ? vmf_insert_mixed_mkwrite(vma, addr, pfn) : vmf_insert_mixed(vma, addr, pfn);
}

/*
 * A CPU fault: the 4 KiB entries of the whole 2 MiB around the address
 * (within the VMA and the buffer), the faulting one first, mkwrite for a
 * write; devmap entries of the pool's ZONE_DEVICE pages.  SIGBUS once the
 * device is gone.
 *
 * No 2 MiB CPU entries on 6.1 (device-dax's vmf_insert_pfn_pmd()):
 * MADV_COLD and MADV_PAGEOUT (madvise_cold_or_pageout_pte_range():
 * pmd_trans_huge() is false for a devmap pmd on x86, pmd_trans_unstable()
 * then finds it "bad") clear a devmap PMD with no TLB flush and no mmu
 * notifier (fixed in 6.5), and no VMA flag keeps can_madv_lru_vma() off
 * without other effects (VM_LOCKED, VM_PFNMAP, VM_HUGETLB).  4 KiB devmap
 * PTEs are special: those paths skip them (vm_normal_page() is NULL).  The
 * device still maps the buffer with 2 MiB / 1 GiB leaves.
 */
static vm_fault_t svmgpu_dax_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct svmgpu_dax_bo *bo = vma->vm_private_data;
	struct svmgpu_dax *pool = bo->pool;
	unsigned long haddr = vmf->address & PMD_MASK;
	bool write = vmf->flags & FAULT_FLAG_WRITE;
	vm_fault_t ret = VM_FAULT_SIGBUS;
	unsigned long addr;
	u64 off;
	int idx;

	if (!svmgpu_dev_enter(&pool->sdev->drm, &idx))
		return VM_FAULT_SIGBUS;
	off = svmgpu_dax_vma_off(vma, vmf->address);
	if (off >= bo->size)
		goto out;
	ret = svmgpu_dax_insert_pte(vma, bo, vmf->address & PAGE_MASK, write);
	if (ret != VM_FAULT_NOPAGE)
		goto out;
	atomic64_inc(&pool->cpu_pte);
	/* The rest of the 2 MiB, in the VMA and the buffer (not dirtied). */
	for (addr = max(haddr, vma->vm_start); addr < min(haddr + SZ_2M, vma->vm_end);
	     addr += PAGE_SIZE) {
		if (addr == (vmf->address & PAGE_MASK))
			continue;
		if (svmgpu_dax_vma_off(vma, addr) >= bo->size ||
		    svmgpu_dax_insert_pte(vma, bo, addr, false) != VM_FAULT_NOPAGE)
			break;
	}
out:
	svmgpu_dev_exit(&pool->sdev->drm, idx);
	return ret;
}

static const struct vm_operations_struct svmgpu_dax_vm_ops = {
	.open = svmgpu_dax_vm_open,
	.close = svmgpu_dax_vm_close,
	.may_split = svmgpu_dax_may_split,
	.mremap = svmgpu_dax_mremap,
	.fault = svmgpu_dax_fault,
};

/**
 * svmgpu_dax_mmap() - file_operations.mmap of the render node
 * @filp: the DRM file
 * @vma: the new mapping
 *
 * Return: 0; -EINVAL for MAP_PRIVATE, an unknown offset, an offset or
 * address or length not aligned to the buffer's alignment, a range past
 * the buffer's end; -ENODEV once the device is gone.
 */
int svmgpu_dax_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct drm_file *file = filp->private_data;
	struct svmgpu_file *sf = file->driver_priv;
	struct drm_device *drm = file->minor->dev;
	unsigned long len = vma->vm_end - vma->vm_start;
	struct svmgpu_dax_bo *bo;
	int idx, ret = -EINVAL;
	u64 off;

	if (!svmgpu_dev_enter(drm, &idx))
		return -ENODEV;
	/* VM_MAYSHARE: an O_RDONLY file's MAP_SHARED has no VM_SHARED. */
	if (!(vma->vm_flags & VM_MAYSHARE))
		goto out;
	bo = svmgpu_dax_bo_lookup(sf, vma->vm_pgoff);
	if (!bo)
		goto out;
	off = svmgpu_dax_vma_off(vma, vma->vm_start);
	if (!IS_ALIGNED(off | vma->vm_start | len, bo->align) ||
	    off >= bo->size || len > bo->size - off) {
		svmgpu_dax_bo_put(bo);
		goto out;
	}
	vma->vm_flags |= VM_MIXEDMAP | VM_DONTEXPAND | VM_DONTDUMP;
	vma->vm_ops = &svmgpu_dax_vm_ops;
	vma->vm_private_data = bo;
	ret = 0;
out:
	svmgpu_dev_exit(drm, idx);
	return ret;
}

/*
 * Does the caller map @filp over mmap offset @pgoff with a DAX mapping of
 * another buffer than @bo?  What an mremap() of it moves: it passes the
 * mapping's offset, whose handle may be freed, or name another buffer
 * now.  Caller holds the mmap_lock.  The DRM core's one address_space per
 * device, whose interval tree would find it at once, is not for modules to
 * walk.
 */
static bool svmgpu_dax_mapped_other(struct file *filp, unsigned long pgoff,
				    struct svmgpu_dax_bo *bo)
{
	struct vm_area_struct *vma;
	struct vma_iterator vmi;

	/* both callers (mmap, mremap) hold it for writing */
	lockdep_assert_held_write(&current->mm->mmap_lock);
	vma_iter_init(&vmi, current->mm, 0);
	for_each_vma(vmi, vma)
		if (vma->vm_file == filp && vma->vm_ops == &svmgpu_dax_vm_ops &&
		    pgoff - vma->vm_pgoff < vma_pages(vma) && vma->vm_private_data != bo)
			return true;
	return false;
}

/**
 * svmgpu_dax_get_unmapped_area() - file_operations.get_unmapped_area
 * @filp: the DRM file
 * @addr: hint, or the MAP_FIXED address
 * @len: length
 * @pgoff: the mmap offset in pages
 * @flags: MAP_* flags
 *
 * An address aligned to the buffer's alignment, as dax_get_unmapped_area()
 * does: a larger area is asked for and the aligned part of it returned.
 *
 * Return: the address, or -EINVAL for a MAP_FIXED mapping that
 * svmgpu_dax_mmap() would refuse (refused here, before mmap() unmaps what
 * is there): MAP_PRIVATE, an unknown offset, an address, length or offset
 * not aligned, a range past the buffer's end; except at an offset where
 * the caller maps another buffer (svmgpu_dax_mapped_other(): an mremap()
 * of that mapping), whose address is let through.
 */
unsigned long svmgpu_dax_get_unmapped_area(struct file *filp, unsigned long addr,
					   unsigned long len, unsigned long pgoff,
					   unsigned long flags)
{
	struct drm_file *file = filp->private_data;
	struct svmgpu_dax_bo *bo = svmgpu_dax_bo_lookup(file->driver_priv, pgoff);
	unsigned long align = bo ? bo->align : SZ_2M, off, ret;

	off = (pgoff << PAGE_SHIFT) & ((1ull << SVMGPU_DAX_OFF_SHIFT) - 1);
	if (flags & MAP_FIXED) {
		/*
		 * What svmgpu_dax_mmap() would refuse, refused here, before
		 * mmap() unmaps what is at @addr.  MAP_PRIVATE whatever the
		 * handle: mremap() of a shared mapping passes MAP_SHARED.
		 * mremap() of a mapping whose handle was freed (or names
		 * another buffer now) comes here too: it has unmapped the
		 * destination already, and its buffer's alignment is
		 * checked by svmgpu_dax_mremap(), which undoes the move.
		 */
		if ((flags & MAP_TYPE) == MAP_PRIVATE)
			ret = -EINVAL;
		else if (bo && IS_ALIGNED(addr | off | len, align) && off < bo->size &&
			 len <= bo->size - off)
			ret = addr;
		else if (svmgpu_dax_mapped_other(filp, pgoff, bo))
			ret = addr;
		else
			ret = -EINVAL;
		goto out;
	}
	off &= align - 1;
	if (len + align < len) {
		ret = -ENOMEM;
		goto out;
	}
	ret = current->mm->get_unmapped_area(filp, addr, len + align, pgoff, flags);
	if (!IS_ERR_VALUE(ret))
		ret += (off - ret) & (align - 1);
out:
	if (bo)
		svmgpu_dax_bo_put(bo);
	return ret;
}

/**
 * svmgpu_dax_pfn_local() - does the device map a leaf of the DAX pool?
 * @sdev: the device
 * @pfn: the leaf's first pfn
 * @size: the leaf's size
 * @off: out, its offset in device-local memory (aperture 1)
 *
 * Counts the leaf (debugfs svmgpu_dax) when it is.
 *
 * Return: true if [@pfn, @pfn + @size) lies in @sdev's DAX pool.
 */
bool svmgpu_dax_pfn_local(struct svmgpu_device *sdev, unsigned long pfn, u64 size,
			  u64 *off)
{
	struct svmgpu_dax *pool = sdev->dax;
	phys_addr_t phys = PFN_PHYS(pfn);

	if (!pool || phys < pool->phys || phys + size > pool->phys + pool->size)
		return false;
	*off = pool->local + (phys - pool->phys);
	if (size == SZ_2M || size == SZ_1G)
		atomic64_inc(&pool->dev_huge[size == SZ_1G]);
	else
		atomic64_inc(&pool->dev_small);
	return true;
}

/**
 * svmgpu_dax_vma() - is @vma a mapping of a DAX buffer (of any svmgpu)?
 * @vma: a VMA or NULL; the mmap lock held
 *
 * Return: true for a DAX buffer's mapping, which hmm_range_fault() refuses
 * (VM_MIXEDMAP): the device fault path uses svmgpu_dax_hmm_range() there.
 */
bool svmgpu_dax_vma(const struct vm_area_struct *vma)
{
	return vma && vma->vm_ops == &svmgpu_dax_vm_ops;
}

/**
 * svmgpu_dax_vma_local() - is @vma a mapping of a DAX buffer of @sdev?
 * @sdev: the device
 * @vma: a VMA or NULL; the mmap lock held
 *
 * Return: true if @vma maps a buffer of @sdev's DAX pool (its pages are in
 * @sdev's local memory, for RESIDENCY and PREFETCH).
 */
bool svmgpu_dax_vma_local(struct svmgpu_device *sdev, const struct vm_area_struct *vma)
{
	struct svmgpu_dax_bo *bo;

	if (!svmgpu_dax_vma(vma))
		return false;
	bo = vma->vm_private_data;
	return bo->pool == sdev->dax;
}

/**
 * svmgpu_dax_hmm_range() - hmm pfns of a DAX mapping for the device
 * @sdev: the device
 * @vma: the VMA of @range->start, a DAX one (svmgpu_dax_vma()); the mmap
 *	lock read-held (by the caller, across the whole call)
 * @range: [start, end); notifier_seq read before the mmap lock was taken;
 *	out: hmm_pfns filled like hmm_range_fault() does
 * @req: the pages the device faulted on, sorted, as for svmgpu_svm_fault()
 * @nreq: entries of @req
 *
 * The CPU side is faulted for what the device asked: each requested page
 * for writing only where the device wrote, and each other 2 MiB of the
 * range for reading (a CPU fault maps the 2 MiB around its address), so
 * that the device maps only what the CPU maps and mprotect()/munmap()
 * notifiers cover it.  Then every page is reported valid, writable if the
 * VMA is, with the order of the buffer's chunk where the whole chunk lies
 * in the VMA at a matching alignment.
 *
 * Return: 0; -EPERM for a write request when the VMA is not writable (an
 * mprotect() since the fault was taken: no retry can map it); -EFAULT for
 * a DAX VMA of another device, a range that runs past @vma (the VMAs
 * changed since the window was chosen: the caller retries page by page)
 * or a CPU fault that failed.
 */
int svmgpu_dax_hmm_range(struct svmgpu_device *sdev, struct vm_area_struct *vma,
			 struct hmm_range *range, const u64 *req, unsigned int nreq)
{
	struct svmgpu_dax_bo *bo = vma->vm_private_data;
	struct mm_struct *mm = vma->vm_mm;
	unsigned long addr, flags;
	unsigned int r;
	bool track;
	int ret;

	lockdep_assert_held(&mm->mmap_lock);
	if (bo->pool != sdev->dax || range->start < vma->vm_start ||
	    range->end > vma->vm_end)
		return -EFAULT;
	for (r = 0; r < nreq; r++)
		if ((req[r] & SVMGPU_FAULT_REQ_WRITE) && !(vma->vm_flags & VM_WRITE))
			return -EPERM;
	for (r = 0; r < nreq; r++) {
		ret = fixup_user_fault(mm, req[r] & PAGE_MASK,
				       (req[r] & SVMGPU_FAULT_REQ_WRITE) ?
				       FAULT_FLAG_WRITE : 0, NULL);
		if (ret)
			return ret;
	}
	/* The 2 MiB blocks of the range that no request faulted: for reading. */
	for (addr = range->start, r = 0; addr < range->end;
	     addr = (addr | (SZ_2M - 1)) + 1) {
		while (r < nreq && (req[r] & PAGE_MASK) < (addr & ~(SZ_2M - 1)))
			r++;
		if (r < nreq && ((req[r] ^ addr) & ~(SZ_2M - 1)) == 0)
			continue;
		ret = fixup_user_fault(mm, addr, 0, NULL);
		if (ret)
			return ret;
	}
	flags = HMM_PFN_VALID | ((vma->vm_flags & VM_WRITE) ? HMM_PFN_WRITE : 0);
	/*
	 * Soft-dirty tracking on (clear_refs cleared VM_SOFTDIRTY): a page
	 * the device did not ask to write stays read-only for it, so that
	 * its first write faults and the CPU write fault marks the page
	 * soft-dirty.  Leaves of one page, then: a huge leaf is writable or
	 * not as a whole.
	 */
	track = IS_ENABLED(CONFIG_MEM_SOFT_DIRTY) && !(vma->vm_flags & VM_SOFTDIRTY);
	for (addr = range->start, r = 0; addr < range->end; addr += PAGE_SIZE) {
		u64 off = svmgpu_dax_vma_off(vma, addr);
		unsigned long order = 0, *pfn;
		u64 csize;

		pfn = &range->hmm_pfns[(addr - range->start) >> PAGE_SHIFT];
		if (track) {
			*pfn = PHYS_PFN(svmgpu_dax_bo_phys(bo, off)) | HMM_PFN_VALID;
			while (r < nreq && (req[r] & PAGE_MASK) < addr)
				r++;
			for (; r < nreq && (req[r] & PAGE_MASK) == addr; r++)
				if (req[r] & SVMGPU_FAULT_REQ_WRITE)
					*pfn |= flags & HMM_PFN_WRITE;
			continue;
		}
		for (csize = bo->align; csize >= SZ_2M; csize = csize == SZ_1G ? SZ_2M : 0) {
			unsigned long cva = addr & ~(csize - 1);

			if (cva >= vma->vm_start && cva + csize <= vma->vm_end &&
			    IS_ALIGNED(off - (addr - cva), csize)) {
				order = ilog2(csize) - PAGE_SHIFT;
				break;
			}
		}
		*pfn = PHYS_PFN(svmgpu_dax_bo_phys(bo, off)) | flags |
		       (order << HMM_PFN_ORDER_SHIFT);
	}
	return 0;
}

static int svmgpu_dax_show(struct seq_file *m, void *unused)
{
	struct svmgpu_device *sdev = m->private;
	struct svmgpu_dax *pool;
	int idx;

	if (!svmgpu_dev_enter(&sdev->drm, &idx))
		return -ENODEV;
	pool = sdev->dax;
	if (pool) {
		seq_printf(m, "size: %llu\n", pool->size);
		seq_printf(m, "local_offset: %llu\n", pool->local);
		seq_printf(m, "used: %lld\n", atomic64_read(&pool->used));
		seq_printf(m, "buffers: %lld\n", atomic64_read(&pool->buffers));
		seq_printf(m, "held_back: %lld\n", atomic64_read(&pool->held_back));
		seq_printf(m, "held_back_total: %lld\n",
			   atomic64_read(&pool->held_back_total));
		seq_printf(m, "cpu_pte_faults: %lld\n", atomic64_read(&pool->cpu_pte));
		seq_printf(m, "device_2m_leaves: %lld\n", atomic64_read(&pool->dev_huge[0]));
		seq_printf(m, "device_1g_leaves: %lld\n", atomic64_read(&pool->dev_huge[1]));
		seq_printf(m, "device_4k_leaves: %lld\n", atomic64_read(&pool->dev_small));
	} else {
		seq_puts(m, "size: 0\nused: 0\nbuffers: 0\n");
	}
	svmgpu_dev_exit(&sdev->drm, idx);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(svmgpu_dax);

/**
 * svmgpu_dax_debugfs_init() - debugfs svmgpu_dax of a DRM minor
 * @minor: the minor
 */
void svmgpu_dax_debugfs_init(struct drm_minor *minor)
{
	debugfs_create_file("svmgpu_dax", 0444, minor->debugfs_root,
			    to_svmgpu(minor->dev), &svmgpu_dax_fops);
}
