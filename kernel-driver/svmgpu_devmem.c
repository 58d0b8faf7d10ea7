// SPDX-License-Identifier: GPL-2.0
/*
 * svmgpu device-local memory (docs/hw-spec.md 5a, docs/driver.md "Device
 * memory").
 *
 * When CAPS.LOCAL_MEM is set the device has LOCAL_MEM_SIZE bytes of memory
 * behind BAR4.  The driver hands it out page by page with the kernel's
 * genalloc (a bitmap of pages) and gives it struct pages with
 * memremap_pages(), so
 * that process memory can be migrated into it with migrate_vma_*() and the
 * device maps those pages with aperture 1 (svmgpu_mmu.c):
 *
 *   MEMORY_DEVICE_COHERENT  the pages are BAR4 itself: the CPU maps them in
 *                           place (the BAR is coherent, cacheable memory).
 *                           The only choice on kernels without
 *                           CONFIG_DEVICE_PRIVATE (Debian's).
 *   MEMORY_DEVICE_PRIVATE   the pages live on a free physical range
 *                           (request_free_mem_region()); the CPU cannot map
 *                           them, a CPU access faults and migrate_to_ram()
 *                           copies the page back to system memory.  The
 *                           default where the kernel has DEVICE_PRIVATE.
 *
 * The module parameter devmem_type (auto, coherent, private, off) overrides
 * the choice.  The pagemap owner is the svmgpu_device: hmm_range_fault() of
 * this device (dev_private_owner = sdev) sees its own private pages, any
 * other walker sees them as needing migration.
 *
 * Data moves with the device's COPY engine, one batch of up to
 * SVMGPU_MIGRATE_BATCH pages at a time, through a kernel-owned context
 * mapping both sides (svmgpu_blit.c).  A batch the engine did not copy
 * (copy_engine=0, fewer pages than copy_engine_min_pages, a reset, an
 * error, a timeout) is copied whole by the CPU
 * through a cacheable mapping of BAR4 (coherent: the direct map of the
 * pages; private: memremap(MEMREMAP_WB) of the BAR): svmgpu_devmem_copy().
 *
 * Pages are allocated from a gen_pool over the pagemap's physical range,
 * one bit a page.  Its allocations and frees take no lock and allocate
 * nothing: page_free may run in atomic context, even in interrupt context
 * (the last put_page() of a coherent page can come from a network or
 * block completion), and gives its page back at once; and an allocation
 * fails only when the memory is used up.  (drm_buddy, the first
 * allocator, allocates its blocks when it splits one, and 6.1's undoes a
 * split whose allocation failed on a block still on its free list: a
 * failed GFP_KERNEL allocation, an OOM victim's or fault injection's,
 * corrupted the allocator; svm_failnth found it.)
 *
 * A PCI function reset turns BAR4's decoding off for its duration (the PCI
 * core clears PCI_COMMAND before reset_prepare's caller resets): a CPU copy
 * then would read nothing.  Every CPU copy through BAR4 holds @access_sem
 * for read; svmgpu_devmem_reset_prepare() takes it for write after the
 * device is quiet and svmgpu_devmem_reset_done() drops it, so copies wait
 * out the reset.  AER or DPC recovery resets the link without
 * reset_prepare: error_detected bumps @recoveries first, and a CPU copy
 * that a recovery began under is done again (svmgpu_devmem_copy()).  Not
 * covered: a link that DPC (or firmware) took down before error_detected
 * (a check then finds the function absent, -ENODEV), and resets that call
 * neither (the upstream port's own sysfs reset, a driver resetting the
 * secondary bus directly).
 * (Coherent pages mapped into processes are not covered: user accesses
 * during a reset see an undecoded BAR.)
 *
 * Removal: every page in use is migrated back to system memory, in its
 * owner's address space, then by pfn with migrate_device_range() for what
 * is left (svmgpu_devmem_evict_all(); the processes keep their data), then
 * memunmap_pages() waits for the last page reference.
 *
 * Eviction under pressure: device memory is divided into 2 MiB regions,
 * each with a count of pages in use and a stamp from @clock, renewed when a
 * page of the region is allocated (migration into device memory) or mapped
 * by the device (a device fault, svmgpu_mmu.c).  Before a batch migrates to
 * device memory, svmgpu_devmem_make_room() evicts whole regions, least
 * recently used first.  Each device page records its owner, an mm (held
 * by mmgrab()) and an address, so that a region's pages are evicted in
 * their owners' address spaces with migrate_vma_*() under the owner's
 * mmap_lock, as amdkfd evicts: the VMA found under that lock is what keeps
 * the pages' anon_vma alive for the migration's rmap walks, which
 * migrate_device_range() on another process's pfns would not have (an exit
 * or munmap() during the copy, then a walk of a freed anon_vma).  Another
 * process's mmap_lock is only tried, never waited for, while the
 * migration's own is held: two processes evicting each other cannot
 * deadlock, and a victim busy with its own mmap_lock is left for this
 * time.  Bounded: a region is tried at most once per migration, and
 * never one used since that migration started.  Migrate-on-fault
 * (svmgpu_devmem_fault_place()) also leaves alone regions used in the last
 * evict_min_age_ms: when only such regions are left, the fault maps the
 * pages where they are (system memory, over the link) instead, so two
 * processes whose working sets do not fit together cannot evict each
 * other's pages between a migration and the device's replay forever; the
 * fault always resolves.
 *
 * Lock order: mmap_lock (read, migrate_vma_setup()), dm->evict_lock
 * (released before the victim is evicted), an eviction's victim's
 * mmap_lock (read, trylock only: svmgpu_devmem_evict_region()), dm->lock,
 * dm->free_lock; a batch's copy runs with its pages locked and no dm lock
 * held, taking either svmgpu_blit.c's locks or, for the CPU copy after
 * them, dm->access_sem (read).  svm->pt_lock is taken by the notifiers
 * that migrate_vma_setup() and migrate_vma_pages() run, and by
 * svmgpu_svm_unmap_migrating() after setup, with up to
 * SVMGPU_MIGRATE_BATCH collected pages locked and across the device's TLB
 * invalidation (page lock -> pt_lock, as for the CLEAR notifiers; no
 * pt_lock holder takes a page lock); of the dm locks only dm->free_lock
 * is taken under it (svmgpu_devmem_touch(): pt_lock -> free_lock), and
 * none is held when it is taken.
 *
 *   dm->access_sem (rwsem) BAR4 decodes: read by CPU copies, write across a
 *                  PCI reset
 *   dm->lock       (mutex) page allocation (its @frozen check and the
 *                  owner record it writes)
 *   dm->free_lock  (spinlock, irq-safe) the owner records
 *                  (the mm references they hold are dropped after it)
 *   dm->evict_lock (mutex) the choice of a victim region (not held while
 *                  it is evicted)
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/genalloc.h>
#include <linux/highmem.h>
#include <linux/hmm.h>
#include <linux/io.h>
#include <linux/memremap.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <drm/drm_drv.h>
#include <drm/drm_print.h>

/* genalloc: selected, not chosen (x86's MCE code selects it). */
#if !IS_ENABLED(CONFIG_GENERIC_ALLOCATOR)
#error "svmgpu needs CONFIG_GENERIC_ALLOCATOR"
#endif

#include <uapi/drm/svmgpu_drm.h>

#include "svmgpu_blit.h"
#include "svmgpu_drv.h"
#include "svmgpu_trace.h"

static char *devmem_type = "auto";
module_param(devmem_type, charp, 0444);
MODULE_PARM_DESC(devmem_type,
		 "device-local memory as: auto (private if the kernel has DEVICE_PRIVATE, else coherent), coherent, private, off");

static unsigned int evict_min_age_ms = 20;
module_param(evict_min_age_ms, uint, 0644);
MODULE_PARM_DESC(evict_min_age_ms,
		 "device-memory regions used more recently are not evicted for a migration on device fault (default 20)");

static unsigned int thrash_ms = 1000;
module_param(thrash_ms, uint, 0644);
MODULE_PARM_DESC(thrash_ms,
		 "length of a thrash period (refaults, counted in evictions, turn eviction on fault off), doubled for a period that re-thrashes soon after the last, 0 = never (default 1000)");

static unsigned int devmem_limit_mb;
module_param(devmem_limit_mb, uint, 0644);
MODULE_PARM_DESC(devmem_limit_mb,
		 "use at most this many MiB of device memory, for testing oversubscription (0 = all, default)");

/* Pages one migrate_vma_setup() call covers. */
#define SVMGPU_MIGRATE_BATCH	512

/*
 * A PREFETCH window whose pages did not all move because some were busy
 * (another reference or the page lock held elsewhere for a moment:
 * migrate_vma_setup() skips such a page) is tried again this many times,
 * the mmap lock dropped for SVMGPU_BUSY_PAUSE_US in between.  A page that
 * stays busy (a pin, a pipe's reference) costs that much and stays where
 * it is: PREFETCH is a placement hint (docs/driver.md "Device memory").
 */
#define SVMGPU_BUSY_RETRIES	2
#define SVMGPU_BUSY_PAUSE_US	500

/*
 * The end of the migration window that begins at @addr: the next 2 MiB
 * boundary (SVMGPU_MIGRATE_BATCH pages), or @end.  A window aligned to a
 * PMD splits a THP within one window and never leaves a page table half
 * migrated until the next window: khugepaged collapses a PMD that has at
 * most max_ptes_swap (64) non-present entries, and by the time it
 * collapses it swaps in (migrate_to_ram()) every device-private entry it
 * finds, so a PMD that one window had left with a few of them and the next
 * window filled could come back to system memory whole.
 */
static unsigned long svmgpu_devmem_window_end(unsigned long addr, unsigned long end)
{
	const unsigned long win = SVMGPU_MIGRATE_BATCH * PAGE_SIZE;

	return min(ALIGN_DOWN(addr, win) + win, end);
}

/* An eviction unit: 2 MiB of device memory, SVMGPU_MIGRATE_BATCH pages. */
#define SVMGPU_REGION_SHIFT	21

/**
 * struct svmgpu_devmem_region - LRU state of 2 MiB of device memory
 * @pages: pages in use
 * @stamp: dm->clock when last used
 * @used_at: jiffies when last used
 * @mm: the mm of the last page a migration on device fault brought into it
 *	(compared only), NULL once the region is empty.  A PREFETCH's pages
 *	leave it as it is: PREFETCH needs no svm, so no .free_notifier would
 *	ever forget its mm (svmgpu_devmem_forget_mm()); only faults feed the
 *	refault history
 * @chunk: that page's 2 MiB virtual chunk (VA >> SVMGPU_REGION_SHIFT)
 */
struct svmgpu_devmem_region {
	atomic_t pages;
	u64 stamp;
	unsigned long used_at;
	struct mm_struct *mm;
	unsigned long chunk;
};

/**
 * struct svmgpu_devmem_owner - where a device page lives, for its eviction
 * @mm: the mm it was migrated into device memory for, or the device last
 *	mapped it for (a reference on the mm_struct, mmgrab(), not on its
 *	address space); NULL while the page is free
 * @va: its address there.  A hint: mremap() moves the page unseen, and a
 *	fork() child shares it; the device's next mapping of it renews both
 *	(svmgpu_devmem_touch())
 */
struct svmgpu_devmem_owner {
	struct mm_struct *mm;
	unsigned long va;
};

/*
 * @va of a record whose page was freed while its @mm reference was the
 * last: left for svmgpu_devmem_reap() to drop (svmgpu_devmem_page_free()).
 */
#define SVMGPU_OWNER_DEAD	1UL

/**
 * struct svmgpu_thrash_hist - a 2 MiB virtual chunk evicted for a migration
 *	on fault, or unmapped at the end of a thrash period
 * @mm: its mm, for comparison only (no reference: see svmgpu_thrash_range)
 * @chunk: VA >> SVMGPU_REGION_SHIFT
 * @clock: dm->evict_clock then
 * @pin: unmapped at a period's end (it was mapped over the link)
 */
struct svmgpu_thrash_hist {
	struct mm_struct *mm;
	unsigned long chunk;
	u64 clock;
	bool pin;
};

/* A period that re-thrashes soon after the last is up to 2^5 x thrash_ms. */
#define SVMGPU_THRASH_BACKOFF_MAX	5

/* Ranges a thrash period maps remotely, remembered for its end. */
#define SVMGPU_THRASH_RANGES	32

/**
 * struct svmgpu_thrash_range - device faults of one mm mapped in place
 *	during a thrash period
 * @mm: the mm, for comparison only (no reference: a stale one matches
 *	nothing, or an mm whose device PTEs then refault for nothing)
 * @start: first byte
 * @end: end
 */
struct svmgpu_thrash_range {
	struct mm_struct *mm;
	unsigned long start;
	unsigned long end;
};

/**
 * struct svmgpu_devmem - the device-local memory of one device
 * @sdev: the device
 * @pgmap: the ZONE_DEVICE pagemap; @pgmap.owner is @sdev
 * @res: MEMORY_DEVICE_PRIVATE: the free physical range the pages live on
 * @bar: physical address of BAR4
 * @size: LOCAL_MEM_SIZE
 * @vaddr: MEMORY_DEVICE_PRIVATE: BAR4 mapped cacheable, for CPU copies
 * @access_sem: read-held by CPU copies through BAR4, write-held across a
 *	PCI function reset; protects @suspended
 * @suspended: between the system-sleep suspend and resume callbacks
 *	(svmgpu_devmem_suspend()): the function may be in D3hot, where BAR4
 *	reads all ones and drops writes, so CPU copies are refused
 * @suspended_refused: CPU copies refused while @suspended
 * @lock: serializes page allocations; protects @frozen
 * @frozen: hibernation froze the device (svmgpu_devmem_freeze()): no page
 *	is allocated until it thaws
 * @frozen_refused: allocations (and checks for room) refused while @frozen
 * @pool: the allocator of device pages (their physical addresses, a bit
 *	each; lock-free, usable from page_free in any context)
 * @free_lock: protects @owners
 * @used: bytes of device pages in use (allocated and not yet freed)
 * @to_dev: pages migrated to device memory
 * @to_sys: pages migrated to system memory (prefetch, eviction)
 * @cpu_faults: migrate_to_ram() calls
 * @evicted: pages migrated out at removal
 * @lost: pages moved out zero-filled at removal, their data gone with the
 *	device (svmgpu_devmem_reachable())
 * @evict_lock: one choice of a victim region at a time
 * @owners: the owner of each device page, by its offset
 * @reap: regions with records of freed pages whose mm references
 *	svmgpu_devmem_reap() is to drop (a bit per region)
 * @reap_work: runs svmgpu_devmem_reap()
 * @reaped: mm references it dropped
 * @evict_mm_busy: owners whose pages an eviction left, their mmap_lock
 *	contended or the mm exiting
 * @regions: LRU state of each 2 MiB region
 * @nregions: entries of @regions
 * @clock: the LRU clock
 * @lru_evictions: regions evicted under pressure
 * @lru_evicted: pages they moved to system memory
 * @fault_migrations: migrations on device fault that moved pages
 * @fault_to_dev: pages they moved to device memory
 * @fault_to_sys: pages they moved to system memory
 * @fault_no_room: migrations on device fault that found no room
 * @busy_retried: busy pages a PREFETCH window was tried again for
 * @busy_left: busy pages a PREFETCH left where they were after its retries
 * @blit: the device's copy queue (svmgpu_blit.c), NULL without one
 * @cpu_copied: pages the CPU copied (copy_engine=0, or a batch the engine
 *	did not copy)
 * @recoveries: PCI error recoveries begun (svmgpu_devmem_error_detected()):
 *	a CPU copy that one began under is done again
 * @copies_redone: CPU copies done again for that (each redo counts)
 * @inject_copy_delay_us: test hook (debugfs svmgpu_inject_copy_delay): a
 *	page a CPU copy moves is followed by this sleep while
 *	@inject_copy_delay_left is positive, so that a test can make a
 *	recovery fall inside a copy
 * @inject_copy_delay_left: pages still to be slowed so (the hook ends by
 *	itself, even if the test that armed it is killed)
 * @evict_clock: pages LRU eviction moved to system memory so far
 * @thrash_lock: protects the thrash_ fields below but the atomic ones,
 *	@hist and @hist_next
 * @hist: the last 2 x @nregions chunks evicted for migrations on fault
 *	or unmapped at a period's end (a ring)
 * @hist_next: the next entry of @hist to write
 * @forget_gen: svmgpu_devmem_forget_mm() calls so far (written under
 *	@thrash_lock): an eviction records the mm it read before its copy
 *	only if no mm was forgotten meanwhile
 * @thrash_base: @evict_clock when the current refault window began
 * @thrash_pages: pages refaults migrated in since then
 * @thrash_until: jiffies until which migrations on fault evict nothing
 * @thrash_len: that period's length in jiffies
 * @thrash_ms_then: thrash_ms when it began (a lower one ends it)
 * @thrash_backoff: the period lasts thrash_ms << @thrash_backoff
 * @thrash_ended: a period ended (@thrash_end_clock is valid)
 * @thrash_end_clock: @evict_clock when the last period ended
 * @thrash_periods: times that began
 * @thrash_refaults: pages migrated on fault within capacity of evictions
 *	of their chunk's eviction
 * @thrash_ranges: what faults mapped in place during the period
 * @nthrash_ranges: entries of @thrash_ranges
 * @thrash_inflight: faults that noted a range in @thrash_ranges and have
 *	not mapped it yet (svmgpu_devmem_thrash_mapped()): the end waits
 * @thrash_all: more than SVMGPU_THRASH_RANGES: every device mapping goes
 * @thrash_end: at the period's end, removes the device mappings of
 *	@thrash_ranges, so that the next access faults and can migrate
 * @thrash_unpinned: ranges it unmapped
 */
struct svmgpu_devmem {
	struct svmgpu_device *sdev;
	struct dev_pagemap pgmap;
	struct resource *res;
	phys_addr_t bar;
	u64 size;
	void *vaddr;

	struct rw_semaphore access_sem;	/* BAR4 decodes; @suspended */
	bool suspended;
	atomic64_t suspended_refused;
	struct mutex lock;		/* page allocation, @frozen */
	bool frozen;
	atomic64_t frozen_refused;
	struct gen_pool *pool;
	spinlock_t free_lock;		/* @owners */
	struct svmgpu_devmem_owner *owners;
	unsigned long *reap;
	struct work_struct reap_work;
	atomic64_t reaped;

	atomic64_t used;
	atomic64_t to_dev;
	atomic64_t to_sys;
	atomic64_t cpu_faults;
	atomic64_t evicted;
	atomic64_t lost;

	struct mutex evict_lock;	/* the choice of a victim region */
	struct svmgpu_devmem_region *regions;
	unsigned long nregions;
	atomic64_t clock;
	atomic64_t lru_evictions;
	atomic64_t lru_evicted;
	atomic64_t evict_mm_busy;
	atomic64_t fault_migrations;
	atomic64_t fault_to_dev;
	atomic64_t fault_to_sys;
	atomic64_t fault_no_room;
	atomic64_t busy_retried;
	atomic64_t busy_left;
	struct svmgpu_blit *blit;
	atomic64_t cpu_copied;
	atomic_t recoveries;
	atomic64_t copies_redone;
	atomic_t inject_copy_delay_us;
	atomic_t inject_copy_delay_left;

	atomic64_t evict_clock;
	spinlock_t thrash_lock;		/* thrash state, @hist */
	struct svmgpu_thrash_hist *hist;
	unsigned long hist_next;
	unsigned long forget_gen;
	u64 thrash_base;
	unsigned long thrash_pages;
	unsigned long thrash_until;
	unsigned long thrash_len;
	unsigned int thrash_ms_then;
	unsigned int thrash_backoff;
	bool thrash_ended;
	u64 thrash_end_clock;
	atomic64_t thrash_periods;
	atomic64_t thrash_refaults;
	struct svmgpu_thrash_range thrash_ranges[SVMGPU_THRASH_RANGES];
	unsigned int nthrash_ranges;
	unsigned int thrash_inflight;
	bool thrash_all;
	struct delayed_work thrash_end;
	atomic64_t thrash_unpinned;
};

static struct svmgpu_devmem *page_to_devmem(struct page *page)
{
	return container_of(page->pgmap, struct svmgpu_devmem, pgmap);
}

static bool svmgpu_devmem_private(struct svmgpu_devmem *dm)
{
	return dm->pgmap.type == MEMORY_DEVICE_PRIVATE;
}

static u64 svmgpu_devmem_offset(struct svmgpu_devmem *dm, struct page *page)
{
	return ((u64)page_to_pfn(page) << PAGE_SHIFT) - dm->pgmap.range.start;
}

/**
 * svmgpu_devmem_page_offset() - is a page this device's local memory?
 * @sdev: the device
 * @page: any page
 * @offset: out, its byte offset in device-local memory
 *
 * Return: true if @page is one of @sdev's device pages.
 */
bool svmgpu_devmem_page_offset(struct svmgpu_device *sdev, struct page *page,
			       u64 *offset)
{
	struct svmgpu_devmem *dm = sdev->devmem;

	if (!dm || !is_zone_device_page(page) || page->pgmap != &dm->pgmap)
		return false;
	*offset = svmgpu_devmem_offset(dm, page);
	return true;
}

static struct svmgpu_devmem_region *svmgpu_devmem_region(struct svmgpu_devmem *dm, u64 off)
{
	return &dm->regions[off >> SVMGPU_REGION_SHIFT];
}

/* The owner record of the page at byte offset @off. */
static struct svmgpu_devmem_owner *svmgpu_devmem_owner(struct svmgpu_devmem *dm, u64 off)
{
	return &dm->owners[off >> PAGE_SHIFT];
}

/* Pages of region @idx: SVMGPU_MIGRATE_BATCH but for a short last one. */
static unsigned long svmgpu_devmem_region_pages(struct svmgpu_devmem *dm, unsigned long idx,
						unsigned long *first)
{
	*first = idx << (SVMGPU_REGION_SHIFT - PAGE_SHIFT);
	return min_t(unsigned long, SVMGPU_MIGRATE_BATCH,
		     (dm->size >> PAGE_SHIFT) - *first);
}

static void svmgpu_devmem_region_touch(struct svmgpu_devmem *dm,
				       struct svmgpu_devmem_region *r)
{
	WRITE_ONCE(r->stamp, atomic64_inc_return(&dm->clock));
	WRITE_ONCE(r->used_at, jiffies);
}

/**
 * svmgpu_devmem_touch() - the device maps a page of device memory
 * @sdev: the device
 * @off: the page's offset in device memory
 * @mm: the mm it maps it for, if it is a page of @sdev's pagemap
 *	(svmgpu_devmem_page_offset()), else NULL
 * @va: its address there
 *
 * The page's owner record follows it: a page a fork() child shares, or
 * that mremap() moved, is evicted from where the device last used it.
 * The page may have been freed since the mapping was looked up (the
 * mapping is then dropped as stale): a free page's record stays empty.
 */
void svmgpu_devmem_touch(struct svmgpu_device *sdev, u64 off, struct mm_struct *mm,
			 unsigned long va)
{
	struct svmgpu_devmem *dm = sdev->devmem;
	struct svmgpu_devmem_owner *o;
	struct mm_struct *old = NULL;
	unsigned long flags;

	if (!dm || off >= dm->size)
		return;
	svmgpu_devmem_region_touch(dm, svmgpu_devmem_region(dm, off));
	o = svmgpu_devmem_owner(dm, off);
	if (!mm || (READ_ONCE(o->mm) == mm && READ_ONCE(o->va) == va))
		return;
	mmgrab(mm);
	spin_lock_irqsave(&dm->free_lock, flags);
	if (o->mm && o->va != SVMGPU_OWNER_DEAD) {
		old = o->mm;
		o->mm = mm;
		o->va = va;
	} else {
		old = mm;	/* free: not ours to name */
	}
	spin_unlock_irqrestore(&dm->free_lock, flags);
	mmdrop(old);
}

/* Bytes of device memory the driver hands out (devmem_limit_mb). */
static u64 svmgpu_devmem_capacity(struct svmgpu_devmem *dm)
{
	u64 limit = (u64)READ_ONCE(devmem_limit_mb) << 20;

	return limit ? min(limit, dm->size) : dm->size;
}

static u64 svmgpu_devmem_capacity_pages(struct svmgpu_devmem *dm)
{
	return svmgpu_devmem_capacity(dm) >> PAGE_SHIFT;
}

/*
 * Thrashing: a working set larger than device memory, placed on device
 * faults with least-recently-used eviction, evicts exactly the pages it
 * needs next when it is swept in order (each pass migrates everything
 * in and out again: ~1% of the in-memory throughput at 1.5x).  So, as
 * UVM's thrashing mitigation pins a thrashing page where it is, once
 * migrations on fault refault enough they stop evicting for a period: a
 * fault that finds no free device memory maps its pages where they are
 * (system memory, over the link), so the part of the working set already
 * in device memory stays there and the rest is reached remotely, with no
 * migration at all.  Explicit PREFETCH still evicts.
 *
 * Detection counts events, not time, as the kernel's workingset refault
 * distance does, so that it costs the same wasted migration however slow
 * the machine is.  @evict_clock counts the pages LRU eviction moved out.
 * An eviction for a migration on fault remembers the 2 MiB virtual chunk
 * (mm, VA) the region last received, with the clock (@hist, a ring of
 * 2 x nregions entries: older ones are too far anyway).  A migration on
 * fault of a chunk evicted fewer than capacity pages of evictions ago is
 * a refault: with device memory that much larger it would not have been
 * evicted.  A period begins once refaults migrate capacity/4 pages within
 * one window of capacity pages of evictions.  Evicting a cold buffer for
 * a new working set never refaults (the cold buffer is not touched
 * again), so a phase change starts nothing.
 *
 * The pin is temporary: a page the device maps remotely never faults
 * again, so it would stay remote for good.  The faults of a period note
 * what they map in place (@thrash_ranges); when the period ends, the
 * device mappings of those ranges are removed once (@thrash_end), so the
 * next access faults and can migrate; their chunks go into @hist marked
 * "pin", and a fault of such a chunk fewer than capacity pages of
 * evictions after the end is a re-thrash at once: a new period begins
 * before it migrates anything.  A period that begins that soon after the
 * last lasts twice as long (up to 2^SVMGPU_THRASH_BACKOFF_MAX x
 * thrash_ms); one that begins later is back to thrash_ms.  A period of the
 * maximum length marks no pins: the clock stands still during periods, so
 * pins re-stamped at every end would never age out, and a working set
 * that changed (the pinned part alone now fits) would stay remote for good.
 * The next period then needs capacity/4 pages of real refaults.
 */
static bool svmgpu_devmem_period_locked(struct svmgpu_devmem *dm)
{
	unsigned int ms = READ_ONCE(thrash_ms);
	unsigned long now = jiffies;

	lockdep_assert_held(&dm->thrash_lock);
	/* A lower thrash_ms ends a running period at once. */
	return ms && ms >= dm->thrash_ms_then && time_before(now, dm->thrash_until) &&
	       time_before_eq(dm->thrash_until, now + dm->thrash_len);
}

static bool svmgpu_devmem_in_period(struct svmgpu_devmem *dm, bool *pending)
{
	bool ret;

	spin_lock(&dm->thrash_lock);
	ret = svmgpu_devmem_period_locked(dm);
	*pending = !ret && (dm->nthrash_ranges || dm->thrash_all);
	spin_unlock(&dm->thrash_lock);
	return ret;
}

static bool svmgpu_devmem_thrashing(struct svmgpu_devmem *dm)
{
	bool pending, ret = svmgpu_devmem_in_period(dm, &pending);

	/* Ended before its work ran (thrash_ms lowered): unpin now. */
	if (pending)
		mod_delayed_work(svmgpu_wq, &dm->thrash_end, 0);
	return ret;
}

/* Begin a period; under thrash_lock.  Return: its length in jiffies. */
static unsigned long svmgpu_devmem_thrash_begin(struct svmgpu_devmem *dm)
{
	unsigned int ms = READ_ONCE(thrash_ms);
	u64 clock = atomic64_read(&dm->evict_clock);

	lockdep_assert_held(&dm->thrash_lock);
	/* Soon after the last one (in evictions): back off. */
	if (dm->thrash_ended &&
	    clock - dm->thrash_end_clock < svmgpu_devmem_capacity_pages(dm))
		dm->thrash_backoff = min(dm->thrash_backoff + 1, SVMGPU_THRASH_BACKOFF_MAX);
	else
		dm->thrash_backoff = 0;
	dm->thrash_ms_then = ms;
	dm->thrash_len = msecs_to_jiffies(ms) << dm->thrash_backoff;
	dm->thrash_until = jiffies + dm->thrash_len;
	dm->thrash_base = clock;
	dm->thrash_pages = 0;
	atomic64_inc(&dm->thrash_periods);
	return dm->thrash_len;
}

/*
 * Whether a migration on fault of [@start, @end) of @mm refaults: a chunk
 * of it was evicted fewer than capacity pages of evictions ago.  @pin: one
 * was unmapped at a period's end that recently (a re-thrash).
 */
static bool svmgpu_devmem_refault(struct svmgpu_devmem *dm, struct mm_struct *mm,
				  unsigned long start, unsigned long end, bool *pin)
{
	unsigned long first = start >> SVMGPU_REGION_SHIFT;
	unsigned long last = (end - 1) >> SVMGPU_REGION_SHIFT, i;
	u64 clock = atomic64_read(&dm->evict_clock);
	u64 cap = svmgpu_devmem_capacity_pages(dm);
	bool ret = false;

	*pin = false;
	spin_lock(&dm->thrash_lock);
	for (i = 0; i < 2 * dm->nregions; i++) {
		struct svmgpu_thrash_hist *h = &dm->hist[i];

		if (h->mm != mm || h->chunk < first || h->chunk > last ||
		    clock - h->clock >= cap)
			continue;
		ret = true;
		*pin |= h->pin;
	}
	spin_unlock(&dm->thrash_lock);
	return ret;
}

/* Remember that @chunk of @mm was evicted (or unpinned: @pin). */
static void svmgpu_devmem_hist_add(struct svmgpu_devmem *dm, struct mm_struct *mm,
				   unsigned long chunk, bool pin)
{
	struct svmgpu_thrash_hist *h;

	lockdep_assert_held(&dm->thrash_lock);
	h = &dm->hist[dm->hist_next];
	dm->hist_next = (dm->hist_next + 1) % (2 * dm->nregions);
	h->mm = mm;
	h->chunk = chunk;
	h->clock = atomic64_read(&dm->evict_clock);
	h->pin = pin;
}

/**
 * svmgpu_devmem_forget_mm() - drop every note of an mm about to be freed
 * @sdev: the device
 * @mm: the mm of an svm of @sdev, from its .free_notifier (the mm_struct
 *	may be freed right after it, and the next one allocated may reuse the
 *	address); NULL (an svm never registered): nothing
 *
 * The refault history, the ranges of a thrash period and the regions name
 * mms by address only.  A process whose mm_struct reused the address of
 * one that thrashed would otherwise see the other's evictions and pins as
 * its own refaults (a period begun by a process's very first faults).
 * Runs from an SRCU callback with BH disabled: takes only thrash_lock, and
 * only while the device is there (its devmem goes after svmgpu_dev_unplug()).
 */
void svmgpu_devmem_forget_mm(struct svmgpu_device *sdev, struct mm_struct *mm)
{
	struct svmgpu_devmem *dm;
	struct svmgpu_svm *svm;
	unsigned long i;
	bool live = false;
	int idx;

	if (!mm || !svmgpu_dev_enter(&sdev->drm, &idx))
		return;
	dm = sdev->devmem;
	if (!dm)
		goto out;
	/*
	 * The process made a new svm on the device meanwhile (the old one
	 * left the id table before its last put): the mm lives, and the
	 * notes are the new svm's too.  xa_lock: no svm leaves the table.
	 */
	xa_lock(&sdev->svms);
	xa_for_each(&sdev->svms, i, svm) {
		if (svmgpu_svm_mm(svm) == mm) {
			live = true;
			break;
		}
	}
	xa_unlock(&sdev->svms);
	if (live)
		goto out;
	spin_lock(&dm->thrash_lock);
	/* First the regions, then forget_gen (svmgpu_devmem_evict_lru()). */
	for (i = 0; i < dm->nregions; i++)
		cmpxchg(&dm->regions[i].mm, mm, NULL);
	for (i = 0; i < 2 * dm->nregions; i++)
		if (dm->hist[i].mm == mm)
			dm->hist[i].mm = NULL;
	for (i = 0; i < dm->nthrash_ranges; i++)
		if (dm->thrash_ranges[i].mm == mm)
			dm->thrash_ranges[i].mm = NULL;
	/* pairs with the smp_rmb() in svmgpu_devmem_evict_lru() */
	smp_store_release(&dm->forget_gen, dm->forget_gen + 1);
	spin_unlock(&dm->thrash_lock);
out:
	svmgpu_dev_exit(&sdev->drm, idx);
}

/*
 * A migration on fault moved @pages pages in.  @refault: of a chunk evicted
 * recently; @pin: unpinned recently, which begins a period at once (before
 * it migrates: @pages is 0 then).  Return: true if a period began.
 */
static bool svmgpu_devmem_thrash_note(struct svmgpu_devmem *dm, u64 pages, bool pin)
{
	u64 cap = svmgpu_devmem_capacity_pages(dm);
	u64 clock = atomic64_read(&dm->evict_clock);
	unsigned long len = 0;
	bool ret;

	if (!READ_ONCE(thrash_ms))
		return false;
	spin_lock(&dm->thrash_lock);
	atomic64_add(pages, &dm->thrash_refaults);
	/* Another fault began one meanwhile. */
	ret = svmgpu_devmem_period_locked(dm);
	if (ret)
		goto out;
	/* Refaults count within a window of capacity pages of evictions. */
	if (clock - dm->thrash_base >= cap) {
		dm->thrash_base = clock;
		dm->thrash_pages = 0;
	}
	dm->thrash_pages += pages;
	if (pin || dm->thrash_pages >= cap / 4)
		len = svmgpu_devmem_thrash_begin(dm);
	ret = len;
out:
	spin_unlock(&dm->thrash_lock);
	if (len)
		mod_delayed_work(svmgpu_wq, &dm->thrash_end, len + 1);
	return ret;
}

/*
 * A fault during a period maps [start, end) of @mm where it is: noted, and
 * in flight until svmgpu_devmem_thrash_mapped() (the end waits for it).
 */
static void svmgpu_devmem_thrash_range(struct svmgpu_devmem *dm, struct mm_struct *mm,
				       unsigned long start, unsigned long end)
{
	struct svmgpu_thrash_range *r;
	unsigned int i;

	spin_lock(&dm->thrash_lock);
	dm->thrash_inflight++;
	for (i = 0; i < dm->nthrash_ranges; i++) {
		r = &dm->thrash_ranges[i];
		/* Merge with an entry it touches (sweeps come in order). */
		if (r->mm == mm && start <= r->end && end >= r->start) {
			r->start = min(r->start, start);
			r->end = max(r->end, end);
			goto out;
		}
	}
	if (dm->nthrash_ranges == SVMGPU_THRASH_RANGES) {
		dm->thrash_all = true;
		goto out;
	}
	r = &dm->thrash_ranges[dm->nthrash_ranges++];
	r->mm = mm;
	r->start = start;
	r->end = end;
out:
	spin_unlock(&dm->thrash_lock);
}

/*
 * The end of a thrash period: remove the device mappings of what its faults
 * mapped in place (of every svm of the device when too much was noted), once.
 */
static void svmgpu_devmem_thrash_end(struct work_struct *work)
{
	struct svmgpu_devmem *dm = container_of(to_delayed_work(work), struct svmgpu_devmem,
						thrash_end);
	struct svmgpu_thrash_range *ranges;
	struct svmgpu_svm *svm;
	unsigned long id, left, c;
	unsigned int n, i, k;
	bool all, pin;

	ranges = kmalloc_array(SVMGPU_THRASH_RANGES, sizeof(*ranges), GFP_KERNEL);
	if (!ranges)
		return;
	spin_lock(&dm->thrash_lock);
	if (svmgpu_devmem_period_locked(dm)) {
		/* A new period: its own end comes later. */
		left = time_after(dm->thrash_until, jiffies) ? dm->thrash_until - jiffies : 0;
		spin_unlock(&dm->thrash_lock);
		kfree(ranges);
		mod_delayed_work(svmgpu_wq, &dm->thrash_end, left + 1);
		return;
	}
	/*
	 * A fault noted its range but has not mapped it: unmapping now would
	 * leave its mapping remote for good.  Its svmgpu_devmem_thrash_mapped()
	 * runs this again.
	 */
	if (dm->thrash_inflight) {
		spin_unlock(&dm->thrash_lock);
		kfree(ranges);
		return;
	}
	n = dm->nthrash_ranges;
	all = dm->thrash_all;
	/* Over for good: a thrash_ms raised again does not bring it back. */
	dm->thrash_until = jiffies;
	memcpy(ranges, dm->thrash_ranges, n * sizeof(*ranges));
	dm->nthrash_ranges = 0;
	dm->thrash_all = false;
	dm->thrash_ended = true;
	dm->thrash_end_clock = atomic64_read(&dm->evict_clock);
	/*
	 * Their refaults are a re-thrash at once (at most a ring's worth),
	 * unless the back-off is at its maximum: a period stops the clock that
	 * ages the pins, so re-pinning then could keep them remote for good
	 * (after a phase change, or one process re-touching a page per period).
	 * The next period must come from real refaults again: the pins of
	 * earlier ends, still recent by the clock, become plain refaults.
	 */
	pin = dm->thrash_backoff < SVMGPU_THRASH_BACKOFF_MAX;
	for (i = 0; !pin && i < 2 * dm->nregions; i++)
		dm->hist[i].pin = false;
	for (i = 0, k = 0; pin && i < n; i++)
		for (c = ranges[i].start >> SVMGPU_REGION_SHIFT;
		     c <= (ranges[i].end - 1) >> SVMGPU_REGION_SHIFT && k < 2 * dm->nregions;
		     c++, k++)
			svmgpu_devmem_hist_add(dm, ranges[i].mm, c, true);
	spin_unlock(&dm->thrash_lock);
	xa_for_each(&dm->sdev->svms, id, svm) {
		svm = svmgpu_svm_lookup(dm->sdev, id);
		if (!svm)
			continue;
		mutex_lock(&svm->pt_lock);
		for (i = 0; i < n || (all && !i); i++) {
			if (all) {
				svmgpu_mmu_unmap(svm, 0, 1ull << SVMGPU_VA_BITS);
				break;
			}
			if (ranges[i].mm && ranges[i].mm == svmgpu_svm_mm(svm))
				svmgpu_mmu_unmap(svm, ranges[i].start, ranges[i].end);
		}
		mutex_unlock(&svm->pt_lock);
		svmgpu_svm_unref(svm);
	}
	atomic64_add(all ? SVMGPU_THRASH_RANGES : n, &dm->thrash_unpinned);
	kfree(ranges);
}

/**
 * svmgpu_devmem_thrash_mapped() - faults have mapped what a period noted
 * @sdev: the device
 * @noted: ranges svmgpu_devmem_fault_place() noted for them (@noted out)
 *
 * Called after the device mappings of a fault whose placement noted ranges
 * mapped in place are made (or failed): a period's end that came meanwhile
 * waited for it and runs now.
 */
void svmgpu_devmem_thrash_mapped(struct svmgpu_device *sdev, unsigned int noted)
{
	struct svmgpu_devmem *dm = sdev->devmem;
	bool kick;

	if (!dm || !noted)
		return;
	spin_lock(&dm->thrash_lock);
	if (WARN_ON_ONCE(dm->thrash_inflight < noted))
		noted = dm->thrash_inflight;
	dm->thrash_inflight -= noted;
	kick = !dm->thrash_inflight && !svmgpu_devmem_period_locked(dm) &&
	       (dm->nthrash_ranges || dm->thrash_all);
	spin_unlock(&dm->thrash_lock);
	if (kick)
		mod_delayed_work(svmgpu_wq, &dm->thrash_end, 0);
}

/* The kernel address of a device page's data. */
static void *svmgpu_devmem_kaddr(struct svmgpu_devmem *dm, struct page *page)
{
	if (svmgpu_devmem_private(dm))
		return dm->vaddr + svmgpu_devmem_offset(dm, page);
	return page_address(page);
}

/*
 * Allocate one device page, initialized (refcount 1) and locked, as
 * migrate_vma_pages() wants its destination pages, for address @va of
 * @mm.  @fault: a migration on device fault's (the refault history's).
 * Under dm->lock.
 */
static struct page *svmgpu_devmem_alloc_page(struct svmgpu_devmem *dm, struct mm_struct *mm,
					     unsigned long va, bool fault)
{
	struct svmgpu_devmem_owner *o;
	struct svmgpu_devmem_region *r;
	struct mm_struct *old;
	unsigned long addr;
	struct page *page;
	u64 off;

	lockdep_assert_held(&dm->lock);
	if (dm->frozen) {
		atomic64_inc(&dm->frozen_refused);
		return NULL;
	}
	if (atomic64_read(&dm->used) + PAGE_SIZE > svmgpu_devmem_capacity(dm))
		return NULL;
	/*
	 * First fit: the lowest free page.  It keeps migrations on the pages
	 * (and 2 MiB regions) freed last, where the copy engine's mappings
	 * are: PREFETCH to device memory of 16 MiB moved 0.59 GB/s so, 0.21
	 * with next fit, 0.31 with drm_buddy (one run each, debian kernel,
	 * 512 MiB).  The scan from the bitmap's start reads every page in use
	 * below the first free one: cheap at these sizes, not at 64 GiB.
	 */
	addr = gen_pool_alloc(dm->pool, PAGE_SIZE);
	if (!addr)
		return NULL;
	page = pfn_to_page(PHYS_PFN(addr));
	off = addr - dm->pgmap.range.start;
	/*
	 * zone_device_page_init() in the other order: lock first, then take
	 * the pgmap reference and set the refcount to 1.  Removal's
	 * migrate_device_range() (get_page_unless_zero(), then
	 * trylock_page()) can then never hold the lock of a page being
	 * allocated, which would make lock_page() sleep here under dm->lock
	 * while it holds that page's lock.  A free device page is never
	 * locked (its last reference goes after migrate_*_finalize() unlocked
	 * it).
	 */
	if (WARN_ON_ONCE(!trylock_page(page)))
		lock_page(page);
	/* Never fails: no allocation outlives svmgpu_devmem_fini()'s start. */
	if (WARN_ON_ONCE(!percpu_ref_tryget_live(&page->pgmap->ref))) {
		unlock_page(page);
		gen_pool_free(dm->pool, addr, PAGE_SIZE);
		return NULL;
	}
	/*
	 * A device page keeps its flags when it is freed (page_free: 6.1's
	 * free_zone_device_page() clears only ->mapping and AnonExclusive),
	 * and migration copies a source's LRU state onto it: one that held an
	 * mlocked page (Unevictable) and was unmapped in device memory, then
	 * given an active page (Active), is both, and migrate_to_ram's
	 * folio_migrate_flags() hits VM_BUG_ON_FOLIO(unevictable) on it (the
	 * fuzzer found it with mlock and PREFETCH).  Start clean, as the page
	 * allocator's pages do, and not swap-backed (a lazily freed page
	 * moved here stays one), whatever the page held before.
	 *
	 * But dirty: the device may write the page, and nothing would mark
	 * it so (a device-private entry has no dirty bit, the device's
	 * mappings are not the CPU's).  A page freed lazily (MADV_FREE:
	 * clean, not swap-backed) would leave device memory clean, by our
	 * copy or the core's (a long-term pin of a coherent page), and
	 * reclaim would discard it with what the device wrote.  Migration
	 * copies the bit onto the page that leaves (folio_migrate_flags());
	 * an anonymous page outside the swap cache is written to swap anyway,
	 * so only a lazily freed page is kept the longer.
	 */
	ClearPageActive(page);
	ClearPageUnevictable(page);
	ClearPageMlocked(page);
	ClearPageReferenced(page);
	ClearPageWorkingset(page);
	ClearPageSwapBacked(page);
	SetPageDirty(page);
	set_page_count(page, 1);
	atomic64_add(PAGE_SIZE, &dm->used);
	r = svmgpu_devmem_region(dm, off);
	atomic_inc(&r->pages);
	svmgpu_devmem_region_touch(dm, r);
	/* Its owner, for eviction (svmgpu_devmem_evict_lru()). */
	o = svmgpu_devmem_owner(dm, off);
	mmgrab(mm);
	spin_lock_irq(&dm->free_lock);
	/* a dead record the reaper has not seen yet: dropped here instead */
	old = o->mm;
	WARN_ON_ONCE(old && o->va != SVMGPU_OWNER_DEAD);
	o->mm = mm;
	o->va = va;
	spin_unlock_irq(&dm->free_lock);
	if (old)
		mmdrop(old);
	/*
	 * For the refault history: which chunk of which mm it holds.  A
	 * PREFETCH's page leaves the note of the region's last fault.
	 */
	if (fault) {
		WRITE_ONCE(r->mm, mm);
		WRITE_ONCE(r->chunk, va >> SVMGPU_REGION_SHIFT);
	}
	return page;
}

/* Drop the mm references of region @idx's dead owner records. */
static void svmgpu_devmem_reap_region(struct svmgpu_devmem *dm, unsigned long idx)
{
	unsigned long first, n = svmgpu_devmem_region_pages(dm, idx, &first), i;

	for (i = 0; i < n; i++) {
		struct svmgpu_devmem_owner *o = &dm->owners[first + i];
		struct mm_struct *mm = NULL;

		spin_lock_irq(&dm->free_lock);
		if (o->mm && o->va == SVMGPU_OWNER_DEAD) {
			mm = o->mm;
			o->mm = NULL;
		}
		spin_unlock_irq(&dm->free_lock);
		if (mm) {
			atomic64_inc(&dm->reaped);
			mmdrop(mm);
		}
	}
}

static void svmgpu_devmem_reap(struct work_struct *work)
{
	struct svmgpu_devmem *dm = container_of(work, struct svmgpu_devmem, reap_work);
	unsigned long idx;

	for_each_set_bit(idx, dm->reap, dm->nregions)
		if (test_and_clear_bit(idx, dm->reap))
			svmgpu_devmem_reap_region(dm, idx);
}

/*
 * The last reference to a device page went: it goes back to the
 * allocator, its owner's mm reference with it.  This
 * runs in any context (under a page table lock; in an I/O completion
 * interrupt, the put_page() of a pinned coherent page), where __mmdrop()
 * may not: the mm's last reference (its process exited, this page
 * outlived it) is left in the record for svmgpu_devmem_reap().
 */
static void svmgpu_devmem_page_free(struct page *page)
{
	struct svmgpu_devmem *dm = page_to_devmem(page);
	u64 off = svmgpu_devmem_offset(dm, page);
	struct svmgpu_devmem_owner *o = svmgpu_devmem_owner(dm, off);
	struct svmgpu_devmem_region *r;
	unsigned long flags;
	bool reap = false;

	r = svmgpu_devmem_region(dm, off);
	/* Empty: the next fault's page names it (a race only loses a note). */
	if (atomic_dec_and_test(&r->pages))
		WRITE_ONCE(r->mm, NULL);
	spin_lock_irqsave(&dm->free_lock, flags);
	if (o->mm && !atomic_add_unless(&o->mm->mm_count, -1, 1)) {
		o->va = SVMGPU_OWNER_DEAD;
		set_bit(off >> SVMGPU_REGION_SHIFT, dm->reap);
		reap = true;
	} else {
		o->mm = NULL;
	}
	spin_unlock_irqrestore(&dm->free_lock, flags);
	gen_pool_free(dm->pool, dm->pgmap.range.start + off, PAGE_SIZE);
	atomic64_sub(PAGE_SIZE, &dm->used);
	if (reap)
		schedule_work(&dm->reap_work);
}

/*
 * The device cannot take data any more: removed (or being removed), gone
 * from the bus (svmgpu_device_lost()), or its link is down (AER).  A CPU
 * copy into BAR4 would be lost.
 */
static bool svmgpu_devmem_offline(struct svmgpu_devmem *dm)
{
	struct svmgpu_device *sdev = dm->sdev;
	bool ready, held;

	if (pci_channel_offline(sdev->pdev) || READ_ONCE(sdev->gone))
		return true;
	/*
	 * Without hw_sem.  A suspend sets in_reset before it clears
	 * hw_ready, a resume sets hw_ready before it clears in_reset (each
	 * with smp_wmb()), so the two are never both false on the way.  Two
	 * reads can still straddle a change: hw_ready is read again after
	 * in_reset, and a read that saw it change is done again.
	 */
	do {
		ready = READ_ONCE(sdev->hw_ready);
		smp_rmb();	/* pairs with the suspend's smp_wmb() */
		held = READ_ONCE(sdev->in_reset);
		smp_rmb();	/* pairs with the resume's smp_wmb() */
	} while (READ_ONCE(sdev->hw_ready) != ready);
	return !ready && !held;
}

/*
 * Whether the CPU can copy out of or into the device's memory now, through
 * BAR4: 0; -EAGAIN while its link is frozen (AER or DPC recovery: BAR4
 * reads all ones, but the data may come back) or the system sleeps
 * (svmgpu_devmem_suspend(): D3hot decodes no memory); -ENODEV once the function
 * is gone from the bus (svmgpu_device_lost(), a permanent failure, or, not
 * found yet, it does not answer config reads): its data went with it.
 * Caller holds dm->access_sem: no PCI reset the driver was told of (during
 * which the function may not answer either) is in progress.
 */
static int svmgpu_devmem_reachable(struct svmgpu_devmem *dm)
{
	struct pci_dev *pdev = dm->sdev->pdev;

	lockdep_assert_held(&dm->access_sem);
	if (READ_ONCE(dm->sdev->gone) || pdev->error_state == pci_channel_io_perm_failure)
		return -ENODEV;
	if (pci_channel_offline(pdev) || dm->suspended)
		return -EAGAIN;
	return pci_device_is_present(pdev) ? 0 : -ENODEV;
}

/* A batch that does not move: its destination pages go, dst[] is cleared. */
static void svmgpu_devmem_drop_dst(unsigned long *dst, unsigned long npages)
{
	unsigned long i;

	for (i = 0; i < npages; i++) {
		struct page *page = migrate_pfn_to_page(dst[i]);

		if (page) {
			unlock_page(page);
			put_page(page);
		}
		dst[i] = 0;
	}
}

/*
 * Removal's batch out of a device whose memory cannot be read any more
 * (svmgpu_devmem_copy()): the destinations are zero-filled and counted.
 */
static void svmgpu_devmem_salvage(struct svmgpu_devmem *dm, const unsigned long *src,
				  unsigned long *dst, unsigned long npages)
{
	unsigned long i, n = 0;

	for (i = 0; i < npages; i++) {
		struct page *dpage = migrate_pfn_to_page(dst[i]);

		if (!(src[i] & MIGRATE_PFN_MIGRATE) || !dpage)
			continue;
		clear_highpage(dpage);
		n++;
	}
	atomic64_add(n, &dm->lost);
}

/*
 * Copy the entries of a batch that move (MIGRATE_PFN_MIGRATE and a
 * destination) between system and device memory: with the device's COPY
 * engine (svmgpu_blit.c; @urgent: a fault waits for it), or, if it did not
 * copy the batch, with the CPU through a cacheable mapping of BAR4, the
 * whole batch again (the sources are intact, so a partial engine copy is
 * simply overwritten).  To the device, an entry without a source page is
 * zero-filled.
 *
 * A CPU copy counts only if the device's memory was reachable before it
 * and still is once it is done (svmgpu_devmem_reachable(), under
 * access_sem; also every SVMGPU_DEVMEM_CHECK_PAGES pages: on real PCIe
 * each read of a function that left completes only at the completion
 * timeout, so the rest of a batch is not read once it is found gone):
 * else what was read or written is what the bus returned or dropped, and
 * the batch does not move, the sources staying where they
 * were (a CPU access of a device-private page then gets SIGBUS, a PREFETCH
 * -EIO); @salvage (removal, which must empty device memory): out of it,
 * the destinations are then zero-filled, move, and are counted in @lost.
 * A PCI error recovery that began during the copy (its bus reset turns
 * BAR4's decoding off for a while, reads then return what the bus gives)
 * and ended before the next check is seen by @recoveries: the copy is done
 * again, up to SVMGPU_DEVMEM_COPY_TRIES times in all.  A CPU copy of a
 * task that was killed stops at the next page, the batch not moving
 * (except @salvage: removal must go on whoever asked for it); a
 * PREFETCH, a fault or an eviction may be killed mid-batch without
 * holding a PCI reset or an unbind that waits for access_sem.
 *
 * Return: 0; -EIO when the batch must not move: the engine was not shown
 * stopped (its destination pages are held by svmgpu_blit.c), or it goes
 * to a device that is offline; -ENODEV: the device is gone, its data with
 * it; -EAGAIN: its link is frozen, or recoveries kept coming, the data may
 * come back; -EINTR: the task was killed.  dst[] is cleared (the pages
 * freed) in all these cases, so the migration keeps every source.
 */
#define SVMGPU_DEVMEM_CHECK_PAGES	64
#define SVMGPU_DEVMEM_COPY_TRIES	3

/* svmgpu_devmem_reachable(), and no recovery began since @seq. */
static int svmgpu_devmem_still_reachable(struct svmgpu_devmem *dm, int seq)
{
	int ret = svmgpu_devmem_reachable(dm);

	/*
	 * The copy's BAR4 loads and stores before the count's load.  The
	 * link reset comes milliseconds after error_detected's increment
	 * (the PCI core resets only once every driver was told), so a copy
	 * that met the reset sees the count moved.
	 */
	smp_mb();
	if (!ret && atomic_read(&dm->recoveries) != seq)
		ret = -EAGAIN;
	return ret;
}

/*
 * How many entries of a migration moved; with @done, their bits are set
 * there from bit @off on (the entries' offsets in a window).
 */
static unsigned long svmgpu_migrated_mark(const unsigned long *src,
					  const unsigned long *dst,
					  unsigned long npages, unsigned long *done,
					  unsigned long off)
{
	unsigned long i, n = 0;

	for (i = 0; i < npages; i++) {
		if (!(src[i] & MIGRATE_PFN_MIGRATE) || !dst[i])
			continue;
		n++;
		if (done)
			__set_bit(off + i, done);
	}
	return n;
}

static unsigned long svmgpu_migrated(const unsigned long *src,
				     const unsigned long *dst, unsigned long npages)
{
	return svmgpu_migrated_mark(src, dst, npages, NULL, 0);
}

static int svmgpu_devmem_copy(struct svmgpu_devmem *dm, const unsigned long *src,
			      unsigned long *dst, unsigned long npages, bool to_dev,
			      bool urgent, bool salvage)
{
	unsigned long i, n = 0;
	unsigned int tries = 0, delay;
	int ret, seq;

	/* Nothing moves (its pages were taken meanwhile): nothing to wait for. */
	if (!svmgpu_migrated(src, dst, npages))
		return 0;
	ret = svmgpu_blit_copy(dm->blit, src, dst, npages, to_dev, urgent);
	if (!ret)
		return 0;
	if (ret == -EBUSY)
		return -EIO;
	if (to_dev && svmgpu_devmem_offline(dm)) {
		svmgpu_devmem_drop_dst(dst, npages);
		return -EIO;
	}
	down_read(&dm->access_sem);
again:
	seq = atomic_read(&dm->recoveries);
	/* the count, then the error state the PCI core set before the call */
	smp_rmb();
	ret = svmgpu_devmem_reachable(dm);
	if (ret == -EAGAIN && dm->suspended)
		atomic64_inc(&dm->suspended_refused);
	n = 0;
	delay = atomic_read(&dm->inject_copy_delay_us);
	for (i = 0; i < npages && !ret; i++) {
		struct page *spage = migrate_pfn_to_page(src[i]);
		struct page *dpage = migrate_pfn_to_page(dst[i]);
		void *to, *from;

		if (!(src[i] & MIGRATE_PFN_MIGRATE) || !dpage)
			continue;
		if (!salvage && fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		if (to_dev) {
			to = svmgpu_devmem_kaddr(dm, dpage);
			if (spage) {
				from = kmap_local_page(spage);
				memcpy(to, from, PAGE_SIZE);
				kunmap_local(from);
			} else {
				/* Not yet populated: device memory is not cleared. */
				memset(to, 0, PAGE_SIZE);
			}
		} else {
			to = kmap_local_page(dpage);
			memcpy(to, svmgpu_devmem_kaddr(dm, spage), PAGE_SIZE);
			kunmap_local(to);
		}
		if (!(++n % SVMGPU_DEVMEM_CHECK_PAGES))
			ret = svmgpu_devmem_still_reachable(dm, seq);
		if (delay && atomic_dec_if_positive(&dm->inject_copy_delay_left) >= 0)
			usleep_range(delay, delay + delay / 4 + 1);
		cond_resched();
	}
	if (!ret && n)
		ret = svmgpu_devmem_still_reachable(dm, seq);
	if (ret == -EAGAIN && ++tries < SVMGPU_DEVMEM_COPY_TRIES &&
	    !svmgpu_devmem_reachable(dm)) {
		/* a recovery came and went: BAR4 decodes again */
		if (to_dev && svmgpu_devmem_offline(dm)) {
			/* not back in service (a failed recovery): as above */
			ret = -EIO;
		} else {
			atomic64_inc(&dm->copies_redone);
			goto again;
		}
	}
	up_read(&dm->access_sem);
	if (ret && salvage && !to_dev) {
		svmgpu_devmem_salvage(dm, src, dst, npages);
		ret = 0;
	} else if (ret) {
		svmgpu_devmem_drop_dst(dst, npages);
		return ret;
	}
	atomic64_add(n, &dm->cpu_copied);
	return 0;
}

/*
 * Copy the source pages of a migration out of device memory into newly
 * allocated system pages; fills @dst.  @vma may be NULL (eviction).
 * @salvage: removal's eviction (svmgpu_devmem_copy()).
 *
 * Return: 0, or -EIO, -ENODEV, -EAGAIN, -EINTR (nothing moves, dst[] is
 * cleared: svmgpu_devmem_copy()).
 */
static int svmgpu_devmem_copy_to_sys(struct svmgpu_devmem *dm,
				     struct vm_area_struct *vma, unsigned long start,
				     const unsigned long *src, unsigned long *dst,
				     unsigned long npages, gfp_t gfp, bool urgent, bool salvage)
{
	unsigned long i;

	for (i = 0; i < npages; i++) {
		struct page *spage = migrate_pfn_to_page(src[i]);
		struct page *dpage;

		dst[i] = 0;
		if (!spage || !(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		if (WARN_ON_ONCE(page_to_devmem(spage) != dm))
			continue;
		if (vma)
			dpage = alloc_page_vma(gfp, vma, start + (i << PAGE_SHIFT));
		else
			dpage = alloc_page(gfp);
		if (!dpage)
			continue;
		lock_page(dpage);
		/* dirty from the device page (svmgpu_devmem_alloc_page()) */
		dst[i] = migrate_pfn(page_to_pfn(dpage));
		if (src[i] & MIGRATE_PFN_WRITE)
			dst[i] |= MIGRATE_PFN_WRITE;
	}
	return svmgpu_devmem_copy(dm, src, dst, npages, false, urgent, salvage);
}

static int svmgpu_devmem_batch(struct svmgpu_devmem *dm, struct vm_area_struct *vma,
			       unsigned long start, unsigned long end, bool to_dev,
			       unsigned long *src, unsigned long *dst,
			       unsigned long *moved, u64 since, unsigned long min_age,
			       bool urgent, unsigned long *busy, unsigned long *done);

static int svmgpu_devmem_va_cmp(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/*
 * Where in @mm is the anonymous @page now, if its owner record is stale?
 * mremap() moves a VMA's pages with their linear index (page->index stays,
 * the VMA's vm_pgoff follows them), so the VMA of the page's anon_vma
 * whose index range holds it has it at the matching address.  The page's
 * fields are read without its lock, as hints: a wrong address only finds
 * nothing of ours to move.  0 if none.
 */
static bool svmgpu_devmem_vma_holds(struct vm_area_struct *vma, unsigned long mapping,
				    pgoff_t index)
{
	return (unsigned long)vma->anon_vma == mapping && index >= vma->vm_pgoff &&
	       index - vma->vm_pgoff < vma_pages(vma);
}

/*
 * @hint: the VMA the last page was found in, tried first, then updated;
 * @walks: how many more walks of the VMAs the caller allows.
 */
static unsigned long svmgpu_devmem_find_va(struct mm_struct *mm, struct page *page,
					   struct vm_area_struct **hint, unsigned int *walks)
{
	unsigned long mapping = (unsigned long)READ_ONCE(page->mapping);
	pgoff_t index = READ_ONCE(page->index);
	struct vm_area_struct *vma = *hint;
	struct vma_iterator vmi;

	if (!(mapping & PAGE_MAPPING_ANON))
		return 0;
	mapping &= ~PAGE_MAPPING_FLAGS;
	if (!vma || !svmgpu_devmem_vma_holds(vma, mapping, index)) {
		if (!*walks)
			return 0;
		(*walks)--;
		vma_iter_init(&vmi, mm, 0);
		for_each_vma(vmi, vma)
			if (svmgpu_devmem_vma_holds(vma, mapping, index))
				break;
		cond_resched();
	}
	*hint = vma;
	return vma ? vma->vm_start + ((index - vma->vm_pgoff) << PAGE_SHIFT) : 0;
}

/*
 * Stale records one eviction looks for with a walk of the VMAs: a page a
 * fork() child maps, whose record names its exited parent's mm, is never
 * found so, and would cost a walk each time.
 */
#define SVMGPU_EVICT_FIND_MAX	64

/*
 * The addresses in @mm of the pages of region @idx it owns, into @vas, the
 * stale ones (svmgpu_devmem_find_va()) found again and their records
 * renewed.  @pos: scratch (SVMGPU_MIGRATE_BATCH entries).  Return: how many.
 */
static unsigned long svmgpu_devmem_owned(struct svmgpu_devmem *dm, unsigned long idx,
					 struct mm_struct *mm, unsigned long *vas,
					 unsigned long *pos)
{
	unsigned long first, n = svmgpu_devmem_region_pages(dm, idx, &first);
	unsigned long pfn = PHYS_PFN(dm->pgmap.range.start) + first;
	unsigned int walks = SVMGPU_EVICT_FIND_MAX;
	struct vm_area_struct *hint = NULL;
	unsigned long i, k, nva = 0, old;
	struct svmgpu_devmem_owner *o;

	spin_lock_irq(&dm->free_lock);
	for (i = 0; i < n; i++) {
		if (dm->owners[first + i].mm != mm ||
		    dm->owners[first + i].va == SVMGPU_OWNER_DEAD)
			continue;
		pos[nva] = i;
		vas[nva++] = dm->owners[first + i].va;
	}
	spin_unlock_irq(&dm->free_lock);
	for (k = 0; k < nva; k++) {
		struct page *page = pfn_to_page(pfn + pos[k]);
		struct vm_area_struct *vma = vma_lookup(mm, vas[k]);

		if (vma && linear_page_index(vma, vas[k]) == READ_ONCE(page->index))
			continue;
		old = vas[k];
		vas[k] = svmgpu_devmem_find_va(mm, page, &hint, &walks);
		if (!vas[k])
			continue;
		/* unless the page was freed and given another address meanwhile */
		o = &dm->owners[first + pos[k]];
		spin_lock_irq(&dm->free_lock);
		if (o->mm == mm && o->va == old)
			o->va = vas[k];
		spin_unlock_irq(&dm->free_lock);
	}
	return nva;
}

/*
 * Move to system memory the pages of region @idx that @mm owns, from the
 * addresses their owner records name (svmgpu_devmem_owned()), as PREFETCH
 * would: with migrate_vma_*() on a VMA found under @mm's mmap_lock
 * (read-held by the caller), which keeps the VMA and so the pages'
 * anon_vma alive until the migration's last rmap walk.  A record still
 * wrong finds nothing of ours there, or another of our pages of @mm that
 * then moves too.  @vas: scratch of SVMGPU_MIGRATE_BATCH entries.
 *
 * Return: pages moved.
 */
static unsigned long svmgpu_devmem_evict_mm(struct svmgpu_devmem *dm, unsigned long idx,
					    struct mm_struct *mm, unsigned long *src,
					    unsigned long *dst, unsigned long *vas, bool urgent)
{
	unsigned long i, j, nva, moved = 0;

	lockdep_assert_held(&mm->mmap_lock);
	/* dst is free until the first batch */
	nva = svmgpu_devmem_owned(dm, idx, mm, vas, dst);
	sort(vas, nva, sizeof(*vas), svmgpu_devmem_va_cmp, NULL);
	/* Each run of consecutive addresses in one VMA and window at a time. */
	for (i = 0; i < nva && !fatal_signal_pending(current); i = j) {
		unsigned long a = vas[i], b = a + PAGE_SIZE;
		struct vm_area_struct *vma = a ? vma_lookup(mm, a) : NULL;

		for (j = i + 1; j < nva && vas[j] <= b; j++)
			b = vas[j] + PAGE_SIZE;
		if (vma && !svmgpu_devmem_vma_unmoved(vma, false)) {
			b = svmgpu_devmem_window_end(a, min(b, vma->vm_end));
			svmgpu_devmem_batch(dm, vma, a, b, false, src, dst, &moved, 0, 0,
					    urgent, NULL, NULL);
		} else {
			b = vma ? vma->vm_end : a + PAGE_SIZE;
		}
		/* what is left of the run, if anything, goes next */
		for (j = i + 1; j < nva && vas[j] < b; j++)
			;
	}
	return moved;
}

/* At most this many owners of one region are evicted at a time. */
#define SVMGPU_EVICT_MMS	8

/* Removal's tries of owners' mmap_locks: this apart, this long in all. */
#define SVMGPU_OWNER_LOCK_WAIT_MS	5
#define SVMGPU_OWNER_LOCK_BUDGET_MS	2000

/*
 * Read-lock an owner's mmap_lock: only tried while the caller holds its
 * own (@budget NULL); removal tries again every SVMGPU_OWNER_LOCK_WAIT_MS
 * while *@budget (jiffies of waiting) lasts, one budget of waits for all
 * its owners, never waiting on the lock: it holds the device lock, maybe
 * in a context no signal reaches, and an owner stuck with its lock held
 * (or a writer queued behind a stuck reader) must not hold it up, however
 * many regions that owner has.  The budget counts the time each sleep
 * took, not the time asked for: an msleep() lasts a jiffy or more beyond
 * it (12 ms for 5 at HZ=250), which made the 2 s budget 6.5 s on Debian's
 * kernel; nor the time the evictions of other owners took, which would
 * leave a later owner one try.
 */
static bool svmgpu_devmem_owner_lock(struct mm_struct *mm, long *budget)
{
	while (!mmap_read_trylock(mm)) {
		unsigned long t = jiffies;

		if (!budget || *budget <= 0)
			return false;
		msleep(SVMGPU_OWNER_LOCK_WAIT_MS);
		*budget -= max(jiffies - t, 1UL);
	}
	return true;
}

/*
 * Evict region @idx: each owner's pages in its own address space
 * (svmgpu_devmem_evict_mm()).  @cur: the mm whose mmap_lock the caller
 * read-holds (a migration's), or NULL (removal, whose @budget bounds
 * its waits).  Another owner's lock is only tried while @cur's is held
 * (two processes evicting each other must not wait for each other's
 * lock), while @budget lasts at removal (svmgpu_devmem_owner_lock()); an owner
 * that is exiting (its pages go with it) or whose lock was not had is
 * left, counted in evict_mm_busy.
 *
 * Return: pages moved.
 */
static unsigned long svmgpu_devmem_evict_region(struct svmgpu_devmem *dm, unsigned long idx,
						struct mm_struct *cur, long *budget,
						unsigned long *src, unsigned long *dst,
						unsigned long *vas, bool urgent)
{
	unsigned long first, n = svmgpu_devmem_region_pages(dm, idx, &first);
	struct mm_struct *mms[SVMGPU_EVICT_MMS];
	unsigned long i, moved = 0;
	unsigned int k, nmm = 0;

	spin_lock_irq(&dm->free_lock);
	for (i = 0; i < n && nmm < SVMGPU_EVICT_MMS; i++) {
		struct mm_struct *mm = dm->owners[first + i].mm;

		if (!mm || dm->owners[first + i].va == SVMGPU_OWNER_DEAD)
			continue;
		for (k = 0; k < nmm && mms[k] != mm; k++)
			;
		if (k == nmm) {
			mmgrab(mm);
			mms[nmm++] = mm;
		}
	}
	spin_unlock_irq(&dm->free_lock);

	for (k = 0; k < nmm; k++) {
		struct mm_struct *mm = mms[k];

		if (mm == cur) {
			moved += svmgpu_devmem_evict_mm(dm, idx, mm, src, dst, vas, urgent);
		} else if (!mmget_not_zero(mm)) {
			atomic64_inc(&dm->evict_mm_busy);
		} else {
			if (svmgpu_devmem_owner_lock(mm, budget)) {
				moved += svmgpu_devmem_evict_mm(dm, idx, mm, src, dst, vas,
								urgent);
				mmap_read_unlock(mm);
			} else {
				atomic64_inc(&dm->evict_mm_busy);
			}
			/* Not the last put under @cur's lock: exit_mmap() takes another. */
			mmput_async(mm);
		}
		mmdrop(mm);
	}
	return moved;
}

/*
 * Evict the least recently used region that was not used since @since (a
 * @clock value) nor, with @min_age, in the last @min_age jiffies, for a
 * migration of @cur (svmgpu_devmem_evict_region()).  @src, @dst and @vas
 * hold SVMGPU_MIGRATE_BATCH entries.  @fault: for a migration on device
 * fault, whose evictions are remembered for its refault history.
 *
 * Eviction never uses migrate_device_range() on another process's pages:
 * without that process's mmap_lock nothing keeps its anon_vma alive, and
 * an exit or munmap() during the copy would leave the final rmap walk
 * (remove_migration_ptes()) on freed memory.
 *
 * Return: pages moved to system memory, or -ENOSPC if no region qualifies.
 */
static long svmgpu_devmem_evict_lru(struct svmgpu_devmem *dm, struct mm_struct *cur,
				    u64 since, unsigned long min_age, unsigned long *src,
				    unsigned long *dst, unsigned long *vas, bool fault)
{
	unsigned long chunk, gen, i, best = ULONG_MAX, moved, first;
	struct svmgpu_devmem_region *r;
	struct mm_struct *mm;
	u64 stamp = U64_MAX;

	mutex_lock(&dm->evict_lock);
	for (i = 0; i < dm->nregions; i++) {
		r = &dm->regions[i];
		if (!atomic_read(&r->pages) || READ_ONCE(r->stamp) >= since)
			continue;
		if (min_age && time_before(jiffies, READ_ONCE(r->used_at) + min_age))
			continue;
		if (READ_ONCE(r->stamp) < stamp) {
			stamp = READ_ONCE(r->stamp);
			best = i;
		}
	}
	if (best == ULONG_MAX) {
		mutex_unlock(&dm->evict_lock);
		return -ENOSPC;
	}
	r = &dm->regions[best];
	gen = READ_ONCE(dm->forget_gen);
	/*
	 * The gen before the mm: an mm read after it was alive when the gen
	 * was (svmgpu_devmem_forget_mm() clears the regions, then moves the
	 * gen with smp_store_release()).
	 */
	smp_rmb();
	mm = READ_ONCE(r->mm);
	chunk = READ_ONCE(r->chunk);
	/* Tried now: not again in this migration, whatever the outcome. */
	svmgpu_devmem_region_touch(dm, r);
	/*
	 * The choice is made: evict without the lock, so that a victim whose
	 * device TLB invalidation stalls (up to its timeout) holds up no other
	 * migration on the device.  Two evictions of one region are safe:
	 * each page is collected by at most one migration.
	 */
	mutex_unlock(&dm->evict_lock);
	/* a fault's eviction is as urgent as the fault (copy queue priority) */
	moved = svmgpu_devmem_evict_region(dm, best, cur, NULL, src, dst, vas, fault);
	atomic64_inc(&dm->lru_evictions);
	atomic64_add(moved, &dm->lru_evicted);
	atomic64_add(moved, &dm->evict_clock);
	if (fault && moved && mm) {
		spin_lock(&dm->thrash_lock);
		/*
		 * Not if an mm was forgotten meanwhile: it may have been this
		 * one, and another process may have its address now.
		 */
		if (READ_ONCE(dm->forget_gen) == gen)
			svmgpu_devmem_hist_add(dm, mm, chunk, false);
		spin_unlock(&dm->thrash_lock);
	}
	trace_svmgpu_evict((u64)best << SVMGPU_REGION_SHIFT,
			   svmgpu_devmem_region_pages(dm, best, &first), moved);
	return moved;
}

/* Whether @npages device pages can be allocated now (no eviction). */
static bool svmgpu_devmem_has_room(struct svmgpu_devmem *dm, unsigned long npages)
{
	u64 avail, cap, used;
	bool frozen;

	mutex_lock(&dm->lock);
	avail = gen_pool_avail(dm->pool);
	frozen = dm->frozen;
	mutex_unlock(&dm->lock);
	if (frozen) {
		atomic64_inc(&dm->frozen_refused);
		return false;
	}
	cap = svmgpu_devmem_capacity(dm);
	used = atomic64_read(&dm->used);
	avail = min(avail, cap > used ? cap - used : 0);
	return avail >= (u64)npages << PAGE_SHIFT;
}

/*
 * Evict until @npages pages are free, at most one try per region, for a
 * migration of @cur (its mmap_lock read-held).  @src and @dst are scratch
 * (SVMGPU_MIGRATE_BATCH entries).  Return: whether a region was evicted
 * (tried: its stamp is renewed, so no later call of this migration takes
 * it again).
 */
static bool svmgpu_devmem_make_room(struct svmgpu_devmem *dm, struct mm_struct *cur,
				    unsigned long npages, u64 since, unsigned long min_age,
				    unsigned long *src, unsigned long *dst, bool fault)
{
	unsigned long tries, *vas;
	bool evicted = false;

	vas = kvmalloc_array(SVMGPU_MIGRATE_BATCH, sizeof(*vas), GFP_KERNEL);
	if (!vas)
		return false;
	for (tries = 0; tries < dm->nregions; tries++) {
		if (svmgpu_devmem_has_room(dm, npages))
			break;
		/* A killed task's evictions would copy nothing (svmgpu_devmem_copy()). */
		if (fatal_signal_pending(current))
			break;
		if (svmgpu_devmem_evict_lru(dm, cur, since, min_age, src, dst, vas,
					    fault) < 0)
			break;
		evicted = true;
	}
	kvfree(vas);
	return evicted;
}

/* Entries of a collected migration that will move (pages and holes). */
static unsigned long svmgpu_devmem_selected(const unsigned long *src, unsigned long npages)
{
	unsigned long i, n = 0;

	for (i = 0; i < npages; i++)
		if (src[i] & MIGRATE_PFN_MIGRATE)
			n++;
	return n;
}

static vm_fault_t svmgpu_devmem_migrate_to_ram(struct vm_fault *vmf)
{
	struct svmgpu_devmem *dm = page_to_devmem(vmf->page);
	unsigned long src = 0, dst = 0, moved;
	int ret;
	struct migrate_vma args = {
		.vma = vmf->vma,
		.start = vmf->address & PAGE_MASK,
		.end = (vmf->address & PAGE_MASK) + PAGE_SIZE,
		.src = &src,
		.dst = &dst,
		.pgmap_owner = dm->sdev,
		.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
		.fault_page = vmf->page,
	};

	atomic64_inc(&dm->cpu_faults);
	if (migrate_vma_setup(&args))
		return VM_FAULT_SIGBUS;
	svmgpu_svm_unmap_migrating(dm->sdev, vmf->vma->vm_mm, args.start, args.src,
				   args.npages);
	ret = svmgpu_devmem_copy_to_sys(dm, vmf->vma, args.start, args.src, args.dst,
					args.npages, GFP_HIGHUSER_MOVABLE, true, false);
	if (ret) {
		migrate_vma_finalize(&args);
		/*
		 * Not moved: its data went with the device (as a memory error
		 * would take it), or, for now (a frozen link, the engine not
		 * shown stopped), the access faults again.  A killed task gets
		 * SIGBUS whatever stopped the copy (-EINTR, or a frozen link
		 * it would otherwise fault on until the recovery ends): a
		 * kernel access (uaccess, GUP) must fail to let it die, and
		 * the SIGKILL's group exit comes before the SIGBUS.
		 */
		if (ret == -ENODEV || fatal_signal_pending(current))
			return VM_FAULT_SIGBUS;
		return 0;
	}
	/*
	 * No page for it: out of memory.  Unless the entry had no page
	 * either: the PTE was zapped (MADV_DONTNEED under the mmap_lock read)
	 * since the fault saw it, which collect takes for a hole to populate;
	 * the fault runs again and finds the PTE empty.
	 */
	if ((src & MIGRATE_PFN_MIGRATE) && migrate_pfn_to_page(src) && !dst) {
		migrate_vma_finalize(&args);
		return VM_FAULT_OOM;
	}
	migrate_vma_pages(&args);
	moved = svmgpu_migrated(args.src, args.dst, args.npages);
	atomic64_add(moved, &dm->to_sys);
	migrate_vma_finalize(&args);
	trace_svmgpu_migrate(args.start, args.end, false, moved, 0);
	return 0;
}

static const struct dev_pagemap_ops svmgpu_devmem_ops = {
	.page_free = svmgpu_devmem_page_free,
	.migrate_to_ram = svmgpu_devmem_migrate_to_ram,
};

/*
 * May @page, mapped in @vma at a PTE (map order 0) or in a PMD (@order 9),
 * move to device memory?  6.1's migrate_vma_setup() never moves a KSM page
 * (shared by construction; see below) nor collects a PTE-mapped THP
 * ("FIXME support THP"; a PMD-mapped one is split first), and
 * migrate_vma_pages() refuses, without an error, every page with a mapping
 * (file, shmem, and anonymous pages in the swap cache) except the zero
 * pages, which are holes to it.  Such pages are not handed to it: each
 * would cost a CPU unmap, a device copy and the restore for nothing, and
 * is not busy either (svmgpu_devmem_busy()).
 *
 * The KSM case is not only cost: there 6.1 replaces every mapping of the
 * page with a migration entry (try_to_migrate()) only to restore them,
 * racing with ksmd, and once left a migration entry on an unlocked page
 * behind (kernel BUG in the next walker waiting on it, svm_devmem_mm's KSM
 * case on the debug kernel).  Filtering PageKsm() here only narrows that:
 * ksmd may merge the page between this snapshot and migrate_vma_setup(),
 * so a mergeable VMA is never migrated to device memory at all
 * (svmgpu_devmem_never_to_dev()).  That leaves a page shared
 * copy-on-write with a fork() child (or parent) whose own VMA is
 * mergeable (one side called MADV_MERGEABLE after the fork): ksmd may
 * merge it holding only that process's mmap_lock.  So a page mapped more
 * than once does not move either: it stays in system memory until a write
 * gives this process its own copy, or the relative unmaps it.  A page
 * mapped once here stays so until migrate_vma_finalize(): our mmap_lock,
 * held from here, keeps this process from forking, and nobody else can map
 * our private page.  An entry the snapshot reports as a hole (a swap or a
 * migration entry: compaction of a shared page) may be a shared page by
 * the time setup collects it; the window is short (one batch), but an
 * eviction in it is not, so a run that evicted is snapshotted again
 * (svmgpu_devmem_run_to_dev()).
 */
static bool svmgpu_devmem_can_move(struct vm_area_struct *vma, struct page *page,
				   unsigned int order)
{
	if (is_zero_pfn(page_to_pfn(page)))
		return true;
	/*
	 * The huge zero page (not exported to modules): the only page without
	 * a mapping that an anonymous VMA maps at a PMD.  Setup splits it
	 * into zero PTEs, which are holes to it.
	 */
	if (order && vma_is_anonymous(vma) && !PageAnon(page) && !page_mapping(page))
		return true;
	if (is_zone_device_page(page) || PageKsm(page) || !PageAnon(page) ||
	    PageSwapCache(page) || page_mapcount(page) > 1)
		return false;
	return order || !PageCompound(page);
}

/*
 * A VMA whose pages never move, either way: skipped by PREFETCH, neither
 * moved nor counted (a placement hint), and not counted against device
 * memory (svmgpu_devmem_too_big()).  Our DAX buffers (svmgpu_dax.c:
 * pinned device memory, of this device or another), and what 6.1's
 * migrate_vma_setup() refuses with -EINVAL: hugetlb, VM_SPECIAL (VM_IO,
 * VM_PFNMAP, VM_MIXEDMAP, VM_DONTEXPAND) and fs-dax mappings.
 */
static bool svmgpu_devmem_skip_vma(struct vm_area_struct *vma)
{
	return svmgpu_dax_vma(vma) || is_vm_hugetlb_page(vma) ||
	       (vma->vm_flags & VM_SPECIAL) || vma_is_dax(vma);
}

/*
 * A VMA none of whose pages can move to device memory: the ones skipped
 * above, shared ones (6.1 moves no page with a mapping: can_move()), ones
 * without read access (hmm reports every entry an error, so no hole moves
 * either: hole_moves()) and mergeable ones (MADV_MERGEABLE).  ksmd turns
 * a page of a mergeable VMA into a KSM page before it registers it in its
 * stable tree; a migration collecting the page in that gap replaces its
 * PTE with a migration entry that 6.1's rmap walk of a KSM page without a
 * stable node never restores, leaving it on an unlocked page (kernel BUG
 * in the next walker).  ksmd merges only in VM_MERGEABLE VMAs and setting
 * the flag takes the mmap_lock for writing, which every migration holds
 * for reading from its snapshot to migrate_vma_finalize().  The per-entry
 * checks decide for each page; this is their VMA-wide part, checked first
 * (svmgpu_devmem_movable()), and what must not be counted against device
 * memory (svmgpu_devmem_too_big()).
 */
static bool svmgpu_devmem_never_to_dev(struct vm_area_struct *vma)
{
	return svmgpu_devmem_skip_vma(vma) ||
	       (vma->vm_flags & (VM_SHARED | VM_MERGEABLE)) ||
	       !(vma->vm_flags & VM_READ);
}

/*
 * A snapshot of [start, end) of @vma by hmm_range_fault() without faulting
 * (mmap_lock read-held) through an interval notifier that is never
 * inserted, so never invalidated: it may be stale when it returns, which
 * only means that a page arriving meanwhile is placed by the next fault or
 * PREFETCH.  @pfns has room for the range.
 */
static int svmgpu_devmem_snapshot(struct svmgpu_devmem *dm, struct vm_area_struct *vma,
				  unsigned long start, unsigned long end,
				  unsigned long *pfns)
{
	struct mmu_interval_notifier mni = { .mm = vma->vm_mm };
	struct hmm_range range = {
		.notifier = &mni,
		.start = start,
		.end = end,
		.hmm_pfns = pfns,
		.dev_private_owner = dm->sdev,
	};

	return hmm_range_fault(&range);
}

static struct page *svmgpu_devmem_snapshot_page(unsigned long pfn)
{
	return (pfn & HMM_PFN_VALID) ? hmm_pfn_to_page(pfn) : NULL;
}

/*
 * A hole (no page) moves to device memory only in an anonymous VMA, where
 * setup populates it there; not where hmm reports an error (a VMA without
 * read access: a PROT_NONE reservation would be filled with device pages
 * the process cannot touch).
 */
static bool svmgpu_devmem_hole_moves(struct vm_area_struct *vma, unsigned long pfn)
{
	return vma_is_anonymous(vma) && !(pfn & HMM_PFN_ERROR);
}

/*
 * Which entries of [start, end) of @vma would a migration to (@to_dev) or
 * from this device's memory move?  Sets their bits in @movable and returns
 * how many.  migrate_vma_setup() splits every THP of its range and
 * announces all of it to the mmu notifiers even when it selects nothing,
 * so only runs of entries that can move are handed to it
 * (svmgpu_devmem_can_move()).  A hole of an anonymous VMA moves to device
 * memory (it is populated there, svmgpu_devmem_hole_moves()); so does an
 * entry hmm does not report, which on the
 * debug kernel includes another device's private page (pfn 0 like a hole:
 * setup then selects nothing there).  @pfns has room for the range.  If
 * the walk fails: nothing to device memory, everything from it.  @pages
 * (if not NULL) gets the bits of the entries set that have a page (not a
 * hole): the ones that fail to move only when they are busy
 * (svmgpu_devmem_busy()).
 */
static unsigned long svmgpu_devmem_movable(struct svmgpu_devmem *dm,
					   struct vm_area_struct *vma,
					   unsigned long start, unsigned long end,
					   bool to_dev, unsigned long *pfns,
					   unsigned long *movable, unsigned long *pages)
{
	unsigned long i, n = (end - start) >> PAGE_SHIFT, count = 0;
	u64 off;

	bitmap_zero(movable, n);
	if (pages)
		bitmap_zero(pages, n);
	if (to_dev && svmgpu_devmem_never_to_dev(vma))
		return 0;
	/*
	 * Without a snapshot the per-page checks cannot be made: nothing
	 * moves to device memory (a KSM or shared page must not), while
	 * setup can still bring this device's pages back: it selects only
	 * them.  hmm reports every entry of a mapping without read access as
	 * an error, with no page: its device pages (it lost read access
	 * after they moved) would never leave by PREFETCH or eviction (nor
	 * could hibernation, which refuses while any is there, be made to
	 * succeed), and a process could keep all of device memory so.
	 */
	if (!(vma->vm_flags & VM_READ) ||
	    svmgpu_devmem_snapshot(dm, vma, start, end, pfns)) {
		if (to_dev)
			return 0;
		bitmap_fill(movable, n);
		return n;
	}
	for (i = 0; i < n; i++) {
		struct page *page = svmgpu_devmem_snapshot_page(pfns[i]);
		unsigned int order = hmm_pfn_to_map_order(pfns[i]);

		if (to_dev ? (page ? svmgpu_devmem_can_move(vma, page, order) :
				  svmgpu_devmem_hole_moves(vma, pfns[i])) :
			     (page && svmgpu_devmem_page_offset(dm->sdev, page, &off))) {
			__set_bit(i, movable);
			count++;
			if (pages && page)
				__set_bit(i, pages);
		}
	}
	return count;
}

/*
 * Of the entries of [start, end) whose bits are set in @pages (each had a
 * page that could move), how many did not move?  Each one was busy when
 * migrate_vma_setup() looked (its lock held or an extra reference taken
 * elsewhere) or is now (a migration entry of compaction, NUMA balancing or
 * a CPU fault reads as pfn 0), or was unmapped meanwhile: worth another
 * look.  0 if the walk fails.
 */
static unsigned long svmgpu_devmem_busy(struct svmgpu_devmem *dm, struct vm_area_struct *vma,
					unsigned long start, unsigned long end, bool to_dev,
					unsigned long *pfns, const unsigned long *pages)
{
	unsigned long i, n = (end - start) >> PAGE_SHIFT, busy = 0;
	u64 off;

	if (bitmap_empty(pages, n) || svmgpu_devmem_snapshot(dm, vma, start, end, pfns))
		return 0;
	for_each_set_bit(i, pages, n) {
		struct page *page = svmgpu_devmem_snapshot_page(pfns[i]);
		bool ours = page && svmgpu_devmem_page_offset(dm->sdev, page, &off);

		if (to_dev ? !ours : (!page || ours))
			busy++;
	}
	return busy;
}

/*
 * Migrate [start, end) of one VMA, at most SVMGPU_MIGRATE_BATCH pages, to
 * device memory, evicting regions not used since @since (and, with
 * @min_age, not in the last @min_age jiffies) to make room.  *moved counts
 * the pages that moved.
 *
 * Return: 0, -ENOSPC when device memory ran out (what fit moved), -ENOMEM,
 * -EIO when the batch could not be copied (svmgpu_devmem_copy(): nothing
 * of it moved), -EAGAIN when it evicted a region and nothing moved yet:
 * the window is to be looked at again.
 */
static int svmgpu_devmem_run_to_dev(struct svmgpu_devmem *dm,
				    struct vm_area_struct *vma,
				    unsigned long start, unsigned long end,
				    unsigned long *src, unsigned long *dst,
				    unsigned long *moved, unsigned long *done,
				    unsigned long off, u64 since,
				    unsigned long min_age, bool urgent)
{
	struct migrate_vma args = {
		.vma = vma,
		.start = start,
		.end = end,
		.src = src,
		.dst = dst,
		.pgmap_owner = dm->sdev,
		.flags = MIGRATE_VMA_SELECT_SYSTEM,
	};
	unsigned long i, need;
	int ret;

	ret = migrate_vma_setup(&args);
	if (ret)
		return ret;
	if (!args.cpages)
		return 0;
	/*
	 * Room only for the pages that really move: pages already in device
	 * memory are not collected, so a range that is resident evicts
	 * nothing.  Eviction runs with none of the range's pages held (they
	 * are put back).  After one, the caller looks at the window again
	 * (-EAGAIN): an entry the snapshot took for a hole (a swap or
	 * migration entry) may be a page mapped twice by then, which must not
	 * be collected (svmgpu_devmem_can_move()).  Without one, what fits
	 * moves now.
	 */
	need = svmgpu_devmem_selected(src, args.npages);
	if (!svmgpu_devmem_has_room(dm, need)) {
		bool evicted;

		memset(dst, 0, args.npages * sizeof(*dst));
		migrate_vma_finalize(&args);
		evicted = svmgpu_devmem_make_room(dm, vma->vm_mm, need, since, min_age,
						  src, dst, urgent);
		/* Nothing fits: do not unmap pages that cannot move. */
		if (!svmgpu_devmem_has_room(dm, 1))
			return -ENOSPC;
		if (evicted)
			return -EAGAIN;
		ret = migrate_vma_setup(&args);
		if (ret)
			return ret;
		if (!args.cpages)
			return 0;
	}
	svmgpu_svm_unmap_migrating(dm->sdev, vma->vm_mm, start, src, args.npages);

	mutex_lock(&dm->lock);
	for (i = 0; i < args.npages; i++) {
		struct page *spage = migrate_pfn_to_page(src[i]);
		struct page *dpage;

		dst[i] = 0;
		if (!(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		if (ret) {
			/* Out of device memory: leave the rest in place. */
			continue;
		}
		/* urgent: a device fault's (the refault history's) */
		dpage = svmgpu_devmem_alloc_page(dm, vma->vm_mm, start + (i << PAGE_SHIFT),
						 urgent);
		if (!dpage) {
			ret = -ENOSPC;
			continue;
		}
		dst[i] = migrate_pfn(page_to_pfn(dpage));
		if ((src[i] & MIGRATE_PFN_WRITE) ||
		    (!spage && (vma->vm_flags & VM_WRITE)))
			dst[i] |= MIGRATE_PFN_WRITE;
	}
	mutex_unlock(&dm->lock);
	if (svmgpu_devmem_copy(dm, src, dst, args.npages, true, urgent, false))
		ret = -EIO;

	migrate_vma_pages(&args);
	i = svmgpu_migrated_mark(src, dst, args.npages, done, off);
	*moved += i;
	atomic64_add(i, &dm->to_dev);
	migrate_vma_finalize(&args);
	trace_svmgpu_migrate(start, end, true, i, ret);
	return ret;
}

static int svmgpu_devmem_run_to_sys(struct svmgpu_devmem *dm,
				    struct vm_area_struct *vma,
				    unsigned long start, unsigned long end,
				    unsigned long *src, unsigned long *dst,
				    unsigned long *moved, unsigned long *done,
				    unsigned long off, bool urgent)
{
	struct migrate_vma args = {
		.vma = vma,
		.start = start,
		.end = end,
		.src = src,
		.dst = dst,
		.pgmap_owner = dm->sdev,
		.flags = svmgpu_devmem_private(dm) ?
			 MIGRATE_VMA_SELECT_DEVICE_PRIVATE :
			 MIGRATE_VMA_SELECT_DEVICE_COHERENT,
	};
	unsigned long i;
	int ret;

	ret = migrate_vma_setup(&args);
	if (ret)
		return ret;
	if (!args.cpages)
		return 0;
	svmgpu_svm_unmap_migrating(dm->sdev, vma->vm_mm, start, src, args.npages);
	if (svmgpu_devmem_copy_to_sys(dm, vma, start, src, dst, args.npages,
				      GFP_HIGHUSER_MOVABLE, urgent, false))
		ret = -EIO;
	/*
	 * An entry without a page (a hole: pte_none) is selected too and needs
	 * no destination; only a page that could not be copied is a failure.
	 */
	for (i = 0; i < args.npages && !ret; i++)
		if (migrate_pfn_to_page(src[i]) && (src[i] & MIGRATE_PFN_MIGRATE) && !dst[i])
			ret = -ENOMEM;
	migrate_vma_pages(&args);
	i = svmgpu_migrated_mark(src, dst, args.npages, done, off);
	*moved += i;
	atomic64_add(i, &dm->to_sys);
	migrate_vma_finalize(&args);
	trace_svmgpu_migrate(start, end, false, i, ret);
	return ret;
}

/*
 * Migrate [start, end) of one VMA, at most SVMGPU_MIGRATE_BATCH pages, to
 * (@to_dev) or from device memory: each run of entries that can move
 * (svmgpu_devmem_movable()) goes to svmgpu_devmem_run_to_dev/_sys(); a
 * batch with none calls neither.  @urgent: a fault waits for it.  @busy
 * (if not NULL): pages that could move and did not, though nothing failed
 * (svmgpu_devmem_busy(), a second look when fewer moved).  @done (if not
 * NULL): the bits of the entries that moved are set, from bit 0 for @start.
 */
static int svmgpu_devmem_batch(struct svmgpu_devmem *dm, struct vm_area_struct *vma,
			       unsigned long start, unsigned long end, bool to_dev,
			       unsigned long *src, unsigned long *dst,
			       unsigned long *moved, u64 since, unsigned long min_age,
			       bool urgent, unsigned long *busy, unsigned long *done)
{
	DECLARE_BITMAP(movable, SVMGPU_MIGRATE_BATCH);
	DECLARE_BITMAP(pages, SVMGPU_MIGRATE_BATCH);
	unsigned long n = (end - start) >> PAGE_SHIFT, i, j, count, before;
	unsigned long restarts = 0;
	int ret = 0;

	if (busy)
		*busy = 0;
again:
	before = *moved;
	count = svmgpu_devmem_movable(dm, vma, start, end, to_dev, dst, movable,
				      busy ? pages : NULL);
	if (!count)
		return 0;
	for (i = find_first_bit(movable, n); i < n && !ret;
	     i = find_next_bit(movable, n, j)) {
		unsigned long a = start + (i << PAGE_SHIFT), b;

		j = find_next_zero_bit(movable, n, i);
		b = start + (j << PAGE_SHIFT);
		if (to_dev)
			ret = svmgpu_devmem_run_to_dev(dm, vma, a, b, src, dst, moved,
						       done, i, since, min_age, urgent);
		else
			ret = svmgpu_devmem_run_to_sys(dm, vma, a, b, src, dst, moved,
						       done, i, urgent);
	}
	/*
	 * Evicted for a run: a new snapshot (bounded: each -EAGAIN took a
	 * region not tried since @since, so regions run out at last).
	 */
	if (ret == -EAGAIN && restarts++ <= dm->nregions &&
	    !fatal_signal_pending(current)) {
		ret = 0;
		goto again;
	}
	if (ret == -EAGAIN)
		ret = -ENOSPC;
	if (busy && !ret && *moved - before < count)
		*busy = svmgpu_devmem_busy(dm, vma, start, end, to_dev, dst, pages);
	return ret;
}

/**
 * svmgpu_devmem_fault_out() - make this device's read-only pages writable
 * @sdev: the device
 * @vma: the VMA of the pages, mmap_lock read-held
 * @start: first VA
 * @pfns: what hmm_range_fault() returned for [@start, ...)
 * @npages: entries of @pfns
 *
 * hmm_range_fault() reports a page of its own dev_private_owner as it is,
 * without faulting it for writing, so a device write to a read-only private
 * page (shared with a fork() child, say) would never be resolved.  Such a
 * page is migrated to system memory, where the next hmm_range_fault()
 * breaks COW as for any page.
 *
 * Return: 0 if there was no such page, -EBUSY if pages moved (fault again),
 * or a negative errno.
 */
int svmgpu_devmem_fault_out(struct svmgpu_device *sdev, struct vm_area_struct *vma,
			    unsigned long start, const unsigned long *pfns,
			    unsigned long npages)
{
	struct svmgpu_devmem *dm = sdev->devmem;
	unsigned long i, src, dst, moved = 0;
	int ret;

	/* A write the VMA does not allow fails anyway: nothing to move. */
	if (!dm || !svmgpu_devmem_private(dm) || !(vma->vm_flags & VM_WRITE))
		return 0;
	for (i = 0; i < npages; i++) {
		unsigned long va = start + (i << PAGE_SHIFT);
		u64 off;

		if (!(pfns[i] & HMM_PFN_VALID) || (pfns[i] & HMM_PFN_WRITE) ||
		    !svmgpu_devmem_page_offset(sdev, hmm_pfn_to_page(pfns[i]), &off))
			continue;
		ret = svmgpu_devmem_batch(dm, vma, va, va + PAGE_SIZE, false, &src,
					  &dst, &moved, 0, 0, true, NULL, NULL);
		/*
		 * -EIO: an abandoned engine batch kept the page where it was;
		 * replay the fault, the next try copies with the CPU.  Unless
		 * the device is gone: its data with it, nothing to replay.
		 */
		if (ret == -EIO)
			return READ_ONCE(sdev->gone) ? -ENODEV : -EBUSY;
		if (ret)
			return ret;
	}
	return moved ? -EBUSY : 0;
}

/**
 * svmgpu_devmem_vma_unmoved() - does PREFETCH skip @vma whole?
 * @vma: a VMA of the range
 * @to_dev: towards device memory, else system memory
 *
 * To device memory, a VMA it never takes; to system memory, one without
 * anonymous pages (device pages are anonymous).  Caller holds the
 * mmap_lock.
 */
bool svmgpu_devmem_vma_unmoved(struct vm_area_struct *vma, bool to_dev)
{
	return svmgpu_devmem_skip_vma(vma) ||
	       (to_dev ? svmgpu_devmem_never_to_dev(vma) : !vma->anon_vma);
}

/*
 * Migrate the caller's [start, end) to device or system memory, evicting
 * for it regions not used since @since.  Every page of the range must be
 * in a VMA.  A window with busy pages is tried again (SVMGPU_BUSY_RETRIES).
 * *moved counts each page of the range that moved once, however often it
 * did: a page another migration (a CPU fault, khugepaged, a concurrent
 * PREFETCH) took back between two tries of its window and that the next
 * try moved again is one page, so *moved never exceeds the range.
 * @idx: the caller's svmgpu_dev_enter() section, begun again at every window
 * (svmgpu_dev_reenter()) and left while the mmap_lock is waited for
 * (svmgpu_dev_lock_mm()): -1 and -ENODEV once unplugged, @dm not touched
 * after.
 */
static int svmgpu_devmem_migrate(struct svmgpu_devmem *dm, struct mm_struct *mm,
				 unsigned long start, unsigned long end,
				 bool to_dev, u64 since, unsigned long *moved, int *idx)
{
	DECLARE_BITMAP(done, SVMGPU_MIGRATE_BATCH);
	unsigned long *src, *dst, addr = start, busy, moves = 0, w, counted = 0;
	unsigned int tries = 0;
	bool yielded = false;
	int ret = 0;

	src = kvcalloc(SVMGPU_MIGRATE_BATCH, sizeof(*src), GFP_KERNEL);
	dst = kvcalloc(SVMGPU_MIGRATE_BATCH, sizeof(*dst), GFP_KERNEL);
	if (!src || !dst) {
		ret = -ENOMEM;
		goto out;
	}
	ret = svmgpu_dev_lock_mm(dm->sdev, mm, false, idx);
	if (ret)
		goto out;
	while (addr < end && !ret) {
		struct vm_area_struct *vma = vma_lookup(mm, addr);
		unsigned long next;

		if (!vma) {
			ret = -EFAULT;
			break;
		}
		/* A VMA where nothing can move is skipped whole. */
		if (svmgpu_devmem_vma_unmoved(vma, to_dev)) {
			addr = min_t(unsigned long, end, vma->vm_end);
			tries = 0;
			continue;
		}
		/*
		 * A huge range of windows with nothing to move takes no sleep:
		 * yield (and the mmap_lock to a writer) between windows, and
		 * stop for an unplug, which waits for one window of this
		 * ioctl.
		 */
		if (!svmgpu_dev_reenter(dm->sdev, idx)) {
			ret = -ENODEV;
			break;
		}
		/* at least one window between yields: a stream of writers starves nothing */
		if (!tries && !yielded && (need_resched() || mmap_lock_is_contended(mm))) {
			mmap_read_unlock(mm);
			cond_resched();
			ret = svmgpu_dev_lock_mm(dm->sdev, mm, false, idx);
			if (ret)
				goto out;
			yielded = true;
			continue;
		}
		yielded = false;
		next = svmgpu_devmem_window_end(addr, min(end, vma->vm_end));
		if (!tries) {
			bitmap_zero(done, SVMGPU_MIGRATE_BATCH);
			counted = 0;
		}
		ret = svmgpu_devmem_batch(dm, vma, addr, next, to_dev, src, dst,
					  &moves, since, 0, false, &busy, done);
		/* The window's pages that moved for the first time. */
		w = bitmap_weight(done, SVMGPU_MIGRATE_BATCH);
		*moved += w - counted;
		counted = w;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
		} else if (!ret && busy && tries < SVMGPU_BUSY_RETRIES) {
			/* The same window again, its VMA looked up again. */
			tries++;
			atomic64_add(busy, &dm->busy_retried);
			mmap_read_unlock(mm);
			usleep_range(SVMGPU_BUSY_PAUSE_US, 2 * SVMGPU_BUSY_PAUSE_US);
			ret = svmgpu_dev_lock_mm(dm->sdev, mm, false, idx);
			if (ret)
				goto out;
			continue;
		}
		if (!ret && busy)
			atomic64_add(busy, &dm->busy_left);
		tries = 0;
		addr = next;
	}
	mmap_read_unlock(mm);
out:
	kvfree(src);
	kvfree(dst);
	return ret;
}

/**
 * svmgpu_devmem_fault_place() - migrate on device fault (preferred location)
 * @sdev: the device
 * @vma: an anonymous VMA holding [@start, @end); mmap_lock read-held
 * @start: first byte, page-aligned
 * @end: end, page-aligned
 * @to_dev: to device memory (else this device's pages go to system memory)
 * @since: svmgpu_devmem_lru_now() when the fault's placement began: what
 *	it migrated since is not evicted for it
 * @noted: incremented when a thrash period noted [@start, @end) as mapped in
 *	place; the caller passes the total to svmgpu_devmem_thrash_mapped()
 *	once its device mappings are made
 *
 * Best effort: what does not fit (only regions used in the last
 * evict_min_age_ms, or by this fault, are left) stays where it is and the
 * fault maps it there.
 *
 * Return: 0, or -ENOMEM / -EINTR.
 */
int svmgpu_devmem_fault_place(struct svmgpu_device *sdev, struct vm_area_struct *vma,
			      u64 start, u64 end, bool to_dev, u64 since, unsigned int *noted)
{
	struct svmgpu_devmem *dm = sdev->devmem;
	unsigned long min_age = msecs_to_jiffies(READ_ONCE(evict_min_age_ms));
	unsigned long *src, *dst, addr, moved = 0;
	bool thrashing, refault = false, pin = false;
	int ret = 0;

	if (!dm || start >= end)
		return 0;
	thrashing = to_dev && svmgpu_devmem_thrashing(dm);
	if (to_dev && !thrashing && READ_ONCE(thrash_ms)) {
		refault = svmgpu_devmem_refault(dm, vma->vm_mm, start, end, &pin);
		/* Unpinned at a period's end and back at once: re-thrash. */
		if (pin)
			thrashing = svmgpu_devmem_thrash_note(dm, 0, true);
	}
	/* Thrashing: since = 0 leaves no region to evict (see above). */
	if (thrashing)
		since = 0;
	lockdep_assert_held(&vma->vm_mm->mmap_lock);
	src = kvcalloc(SVMGPU_MIGRATE_BATCH, sizeof(*src), GFP_KERNEL);
	dst = kvcalloc(SVMGPU_MIGRATE_BATCH, sizeof(*dst), GFP_KERNEL);
	if (!src || !dst) {
		ret = -ENOMEM;
		goto out;
	}
	/*
	 * Thrashing and no free device memory: nothing can move, so do not
	 * collect the pages at all (migrate_vma_setup() would unmap them from
	 * the CPU and every mirror, and split huge pages, for nothing).
	 */
	if (thrashing && !svmgpu_devmem_has_room(dm, 1))
		ret = -ENOSPC;
	for (addr = start; addr < end && !ret; ) {
		unsigned long next = svmgpu_devmem_window_end(addr, end);

		ret = svmgpu_devmem_batch(dm, vma, addr, next, to_dev, src, dst,
					  &moved, since, min_age, true, NULL, NULL);
		addr = next;
	}
	/* What does not fit is mapped in place: unpinned when the period ends. */
	if (thrashing && ret == -ENOSPC) {
		svmgpu_devmem_thrash_range(dm, vma->vm_mm, start, end);
		(*noted)++;
	}
	if (ret == -ENOSPC) {
		atomic64_inc(&dm->fault_no_room);
		ret = 0;
	}
	/* Not copied (svmgpu_devmem_copy()): mapped where it is. */
	if (ret == -EIO)
		ret = 0;
	if (refault && !thrashing && moved)
		svmgpu_devmem_thrash_note(dm, moved, false);
	/* A placement that found every page already there migrated nothing. */
	if (moved) {
		atomic64_inc(&dm->fault_migrations);
		atomic64_add(moved, to_dev ? &dm->fault_to_dev : &dm->fault_to_sys);
	}
out:
	kvfree(src);
	kvfree(dst);
	return ret;
}

/**
 * svmgpu_devmem_lru_now() - the LRU clock, for svmgpu_devmem_fault_place()
 * @sdev: the device
 *
 * Return: a stamp later than every region's use so far.
 */
u64 svmgpu_devmem_lru_now(struct svmgpu_device *sdev)
{
	return sdev->devmem ? atomic64_read(&sdev->devmem->clock) + 1 : 0;
}

/**
 * svmgpu_devmem_prefetch() - PREFETCH's migration of [@start, @end) of @mm
 * @sdev: the device, entered, with local memory
 * @mm: the address space, a user reference held
 * @start: first byte, page-aligned
 * @end: end, page-aligned
 * @to_dev: to device memory, else to system memory
 * @since: svmgpu_devmem_lru_now() when the PREFETCH began: regions used
 *	since are not evicted for it
 * @moved: pages moved are added here
 * @idx: the caller's svmgpu_dev_enter() section: left while the mmap_lock
 *	is waited for, begun again at every window; -1 when the device was
 *	unplugged meanwhile (the return is then -ENODEV)
 *
 * Takes the mmap lock for the whole range, dropped for the pause before a
 * busy window is tried again and, between windows, when a task or a writer
 * of the lock waits.  Used by the synchronous ioctl
 * and, a chunk at a time, by the asynchronous one (svmgpu_prefetch.c).
 *
 * Return: 0 or as DRM_IOCTL_SVMGPU_PREFETCH.
 */
int svmgpu_devmem_prefetch(struct svmgpu_device *sdev, struct mm_struct *mm, u64 start,
			   u64 end, bool to_dev, u64 since, unsigned long *moved, int *idx)
{
	return svmgpu_devmem_migrate(sdev->devmem, mm, start, end, to_dev, since, moved, idx);
}

/* Check a uapi range: page-aligned, non-empty, not wrapping, user space. */
static int svmgpu_devmem_range_ok(u64 start, u64 size)
{
	if (!size || !PAGE_ALIGNED(start) || !PAGE_ALIGNED(size))
		return -EINVAL;
	if (start + size < start || start + size > TASK_SIZE)
		return -EINVAL;
	return 0;
}

/*
 * Whether a PREFETCH to device memory of [start, start + size) can never
 * fit: more bytes than device memory holds, not counting the mappings
 * nothing of which moves there (svmgpu_devmem_never_to_dev(); a DAX pool
 * is not memory migration can use either, a PROT_NONE arena gets none).
 * Private file mappings count: their copied-on-write pages move.  Only
 * ranges larger than the capacity walk the VMAs (the mmap_lock waited for
 * outside the section @idx, svmgpu_dev_lock_mm()).
 *
 * Return: 0 (it may fit), -ENOSPC (it cannot), -ESRCH (no mm), -EINTR or
 * -ENODEV (svmgpu_dev_lock_mm()).
 */
static int svmgpu_devmem_too_big(struct svmgpu_device *sdev, u64 start, u64 size, int *idx)
{
	u64 cap = svmgpu_devmem_capacity(sdev->devmem), skipped = 0;
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	int ret;

	if (size <= cap)
		return 0;
	if (!mm)
		return -ESRCH;
	ret = svmgpu_dev_lock_mm(sdev, mm, false, idx);
	if (ret)
		return ret;
	for (vma = find_vma(mm, start); vma && vma->vm_start < start + size;
	     vma = find_vma(mm, vma->vm_end)) {
		if (svmgpu_devmem_never_to_dev(vma))
			skipped += min_t(u64, vma->vm_end, start + size) -
				   max_t(u64, vma->vm_start, start);
	}
	mmap_read_unlock(mm);
	return size - skipped > cap ? -ENOSPC : 0;
}

/**
 * svmgpu_ioctl_prefetch() - DRM_IOCTL_SVMGPU_PREFETCH
 * @drm: the device
 * @data: struct drm_svmgpu_prefetch
 * @file: the file
 *
 * Return: 0 or a negative errno (docs/api.md, svmgpu_prefetch()).
 */
int svmgpu_ioctl_prefetch(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct svmgpu_device *sdev = to_svmgpu(drm);
	struct drm_svmgpu_prefetch *args = data;
	u32 where = args->flags & DRM_SVMGPU_PREFETCH_WHERE_MASK;
	unsigned long moved = 0;
	struct mm_struct *mm;
	int ret, idx;

	args->pages = 0;
	args->id = 0;
	if ((args->flags & ~(DRM_SVMGPU_PREFETCH_WHERE_MASK | DRM_SVMGPU_PREFETCH_ASYNC)) ||
	    args->pad ||
	    (where != DRM_SVMGPU_PREFETCH_DEVICE && where != DRM_SVMGPU_PREFETCH_SYSTEM))
		return -EINVAL;
	ret = svmgpu_devmem_range_ok(args->start, args->size);
	if (ret)
		return ret;
	if (!svmgpu_dev_enter(drm, &idx))
		return -ENODEV;
	if (!sdev->devmem) {
		ret = -EOPNOTSUPP;
		goto out;
	}
	if (where == DRM_SVMGPU_PREFETCH_DEVICE) {
		ret = svmgpu_devmem_too_big(sdev, args->start, args->size, &idx);
		if (ret)
			goto out;
	}
	if (args->flags & DRM_SVMGPU_PREFETCH_ASYNC) {
		ret = svmgpu_prefetch_queue(sdev, file, args, &idx);
		goto out;
	}
	mm = get_task_mm(current);
	if (!mm) {
		ret = -ESRCH;
		goto out;
	}
	ret = svmgpu_devmem_migrate(sdev->devmem, mm, args->start,
				    args->start + args->size,
				    where == DRM_SVMGPU_PREFETCH_DEVICE,
				    svmgpu_devmem_lru_now(sdev), &moved, &idx);
	mmput(mm);
	args->pages = moved;
out:
	if (idx >= 0)
		svmgpu_dev_exit(drm, idx);
	return ret;
}

/*
 * Count the pages of [start, end) (inside one VMA) in device memory; the
 * mmap_lock waited for outside the section @idx (svmgpu_dev_lock_mm():
 * -ENODEV and @idx -1 once unplugged, @dm not touched after).
 */
static int svmgpu_devmem_count(struct svmgpu_devmem *dm, struct mm_struct *mm,
			       struct mmu_interval_notifier *mni,
			       unsigned long start, unsigned long end,
			       unsigned long *pfns, u64 *pages, int *idx)
{
	struct hmm_range range = {
		.notifier = mni,
		.start = start,
		.end = end,
		.hmm_pfns = pfns,
		.dev_private_owner = dm->sdev,
	};
	unsigned long i, n;
	int ret;

	do {
		/*
		 * Invalidations without end (a thread of the process in an
		 * mprotect() loop over the window) retry without end: the
		 * caller stays killable.
		 */
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
		range.notifier_seq = mmu_interval_read_begin(mni);
		ret = svmgpu_dev_lock_mm(dm->sdev, mm, false, idx);
		if (ret)
			return ret;
		ret = hmm_range_fault(&range);
		mmap_read_unlock(mm);
		if (ret == -EBUSY)
			continue;
		if (ret)
			return ret;
		n = 0;
		for (i = 0; i < (end - start) >> PAGE_SHIFT; i++) {
			u64 off;

			if ((pfns[i] & HMM_PFN_VALID) &&
			    svmgpu_devmem_page_offset(dm->sdev,
						      hmm_pfn_to_page(pfns[i]), &off))
				n++;
		}
	} while (mmu_interval_read_retry(mni, range.notifier_seq));
	*pages += n;
	return 0;
}

/**
 * svmgpu_ioctl_residency() - DRM_IOCTL_SVMGPU_RESIDENCY
 * @drm: the device
 * @data: struct drm_svmgpu_residency
 * @file: the file
 *
 * A snapshot: pages may move as soon as it returns.
 *
 * Return: 0 or a negative errno (docs/api.md, svmgpu_residency()).
 */
int svmgpu_ioctl_residency(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct svmgpu_device *sdev = to_svmgpu(drm);
	struct drm_svmgpu_residency *args = data;
	struct mmu_interval_notifier mni;
	unsigned long *pfns = NULL;
	u64 addr, end;
	struct mm_struct *mm;
	int ret, idx;

	args->pages = 0;
	if (args->flags || args->pad)
		return -EINVAL;
	ret = svmgpu_devmem_range_ok(args->start, args->size);
	if (ret)
		return ret;
	if (!svmgpu_dev_enter(drm, &idx))
		return -ENODEV;
	if (!sdev->devmem) {
		ret = -EOPNOTSUPP;
		goto out;
	}
	mm = get_task_mm(current);
	if (!mm) {
		ret = -ESRCH;
		goto out;
	}
	end = args->start + args->size;
	/*
	 * Outside the section: the mm's first interval notifier (no context
	 * made it, svmgpu_svm_get()) registers its interval tree, which waits
	 * for the mmap_lock (for writing).
	 */
	svmgpu_dev_exit(drm, idx);
	ret = mmu_interval_notifier_insert(&mni, mm, args->start, args->size,
					   &svmgpu_seq_ops);
	idx = -1;
	/* A signal stopped the mm's first one: restart (as CTX_CREATE does). */
	if (ret == -EINTR)
		ret = -ERESTARTSYS;
	if (ret)
		goto out_mm;
	if (!svmgpu_dev_enter(drm, &idx)) {
		idx = -1;
		ret = -ENODEV;
		goto out_mni;
	}
	pfns = kvcalloc(SVMGPU_MIGRATE_BATCH, sizeof(*pfns), GFP_KERNEL);
	if (!pfns) {
		ret = -ENOMEM;
		goto out_mni;
	}
	for (addr = args->start; addr < end && !ret;) {
		struct vm_area_struct *vma;
		u64 next;
		bool dax;

		ret = svmgpu_dev_lock_mm(sdev, mm, false, &idx);
		if (ret)
			break;
		vma = vma_lookup(mm, addr);
		next = vma ? min3(end, (u64)vma->vm_end,
				  addr + SVMGPU_MIGRATE_BATCH * PAGE_SIZE) : 0;
		/* A DAX buffer of this device: every page is in its memory. */
		dax = svmgpu_dax_vma(vma);
		if (dax && svmgpu_dax_vma_local(sdev, vma))
			args->pages += (next - addr) >> PAGE_SHIFT;
		mmap_read_unlock(mm);
		if (!vma) {
			ret = -EFAULT;
			break;
		}
		if (dax) {
			addr = next;
			continue;
		}
		ret = svmgpu_devmem_count(sdev->devmem, mm, &mni, addr, next,
					  pfns, &args->pages, &idx);
		addr = next;
		if (ret == -ENODEV)
			break;	/* not in a section any more */
		if (fatal_signal_pending(current))
			ret = -EINTR;
		else if (!ret && !svmgpu_dev_reenter(sdev, &idx))
			ret = -ENODEV;	/* an unplug waits for one window */
		cond_resched();
	}
	kvfree(pfns);
out_mni:
	/* Outside the section too: it waits for an invalidation in progress. */
	if (idx >= 0)
		svmgpu_dev_exit(drm, idx);
	idx = -1;
	mmu_interval_notifier_remove(&mni);
out_mm:
	mmput(mm);
out:
	if (idx >= 0)
		svmgpu_dev_exit(drm, idx);
	return ret;
}

/*
 * Migrate every page in use back to system memory (removal): first in
 * each owner's address space (svmgpu_devmem_evict_region(), its mmap_lock
 * tried), then, once the pages of exiting owners are freed by their exit
 * (up to SVMGPU_EXIT_WAIT_MS), whatever is left by pfn with
 * migrate_device_range(): pages whose owner record could not be followed
 * (a fork() child maps them, their owner exited), whose owner's lock was
 * not had, or whose copy failed.  Those few are the only ones migrated
 * without a VMA that holds their anon_vma: an munmap() or exit of their
 * mapper at this very moment is the one race left (the kernel does not
 * export folio_get_anon_vma()).
 * A page that is locked or being freed at that moment is retried, and so is one a
 * short-term pin holds (a vmsplice()d page, O_DIRECT I/O): until the pin
 * is dropped, for as long as that takes, as memunmap_pages() would wait
 * for it anyway.  Stopping earlier left such a page mapped in device
 * memory, and memunmap_pages() then waited until the process unmapped it.
 * From a device gone from the bus the pages move zero-filled: their data
 * went with it.  So do they from a device whose link an error recovery
 * froze: no wait would bring them back, as the PCI core sets the channel
 * back to normal only in its resume step, under the device lock this
 * removal holds (and BAR4 decodes again only once the slot_reset step
 * restored the config space).
 */
/* Is a page in use owned by an mm whose process is exiting (mm_users 0)? */
static bool svmgpu_devmem_owner_exiting(struct svmgpu_devmem *dm)
{
	unsigned long idx, first, n, i;
	bool ret = false;

	for (idx = 0; idx < dm->nregions && !ret; idx++) {
		if (!atomic_read(&dm->regions[idx].pages))
			continue;
		n = svmgpu_devmem_region_pages(dm, idx, &first);
		spin_lock_irq(&dm->free_lock);
		for (i = 0; i < n && !ret; i++) {
			struct svmgpu_devmem_owner *o = &dm->owners[first + i];

			ret = o->mm && o->va != SVMGPU_OWNER_DEAD &&
			      !atomic_read(&o->mm->mm_users);
		}
		spin_unlock_irq(&dm->free_lock);
		cond_resched();
	}
	return ret;
}

/* How long removal waits for exiting owners to free their pages. */
#define SVMGPU_EXIT_WAIT_MS	2000

static void svmgpu_devmem_evict_all(struct svmgpu_devmem *dm)
{
	unsigned long first = PHYS_PFN(dm->pgmap.range.start);
	unsigned long npages = dm->size >> PAGE_SHIFT;
	long budget = msecs_to_jiffies(SVMGPU_OWNER_LOCK_BUDGET_MS);
	unsigned long deadline;
	unsigned long *src, *dst, *vas, pfn, idx;
	int pass;

	src = kvcalloc(SVMGPU_MIGRATE_BATCH, sizeof(*src), GFP_KERNEL | __GFP_NOFAIL);
	dst = kvcalloc(SVMGPU_MIGRATE_BATCH, sizeof(*dst), GFP_KERNEL | __GFP_NOFAIL);
	vas = kvcalloc(SVMGPU_MIGRATE_BATCH, sizeof(*vas), GFP_KERNEL | __GFP_NOFAIL);
	for (idx = 0; idx < dm->nregions; idx++) {
		if (!atomic_read(&dm->regions[idx].pages))
			continue;
		atomic64_add(svmgpu_devmem_evict_region(dm, idx, NULL, &budget, src, dst,
							vas, false),
			     &dm->evicted);
		cond_resched();
	}
	/* An exiting owner's exit_mmap() frees its pages: not by pfn under it. */
	deadline = jiffies + msecs_to_jiffies(SVMGPU_EXIT_WAIT_MS);
	while (time_before(jiffies, deadline) && svmgpu_devmem_owner_exiting(dm))
		msleep(20);
	for (pass = 0; atomic64_read(&dm->used); pass++) {
		for (pfn = first; pfn < first + npages; pfn += SVMGPU_MIGRATE_BATCH) {
			unsigned long n = min_t(unsigned long, SVMGPU_MIGRATE_BATCH,
						first + npages - pfn);

			migrate_device_range(src, pfn, n);
			svmgpu_devmem_copy_to_sys(dm, NULL, 0, src, dst, n,
						  GFP_HIGHUSER_MOVABLE | __GFP_NOFAIL, false, true);
			migrate_device_pages(src, dst, n);
			atomic64_add(svmgpu_migrated(src, dst, n), &dm->evicted);
			migrate_device_finalize(src, dst, n);
			cond_resched();
		}
		if (!atomic64_read(&dm->used))
			break;
		if (pass == 100)
			drm_warn(&dm->sdev->drm, "%lld bytes of device memory still in use after eviction: waiting for their pins to go\n",
				 atomic64_read(&dm->used));
		msleep(pass < 100 ? 20 : 500);
	}
	kvfree(vas);
	kvfree(src);
	kvfree(dst);
	if (atomic64_read(&dm->lost))
		drm_err(&dm->sdev->drm, "%lld pages of process memory lost with the device\n",
			atomic64_read(&dm->lost));
}

/**
 * svmgpu_devmem_reset_prepare() - keep CPU copies off BAR4 during a PCI reset
 * @sdev: the device, already quiet (svmgpu_hw_suspend())
 *
 * Waits for the copies in progress; new ones (migrate_to_ram(), PREFETCH)
 * wait until svmgpu_devmem_reset_done().
 */
void svmgpu_devmem_reset_prepare(struct svmgpu_device *sdev)
{
	if (sdev->devmem)
		down_write(&sdev->devmem->access_sem);
}

void svmgpu_devmem_reset_done(struct svmgpu_device *sdev)
{
	if (sdev->devmem)
		up_write(&sdev->devmem->access_sem);
}

/**
 * svmgpu_devmem_suspend() - system sleep: no CPU copy through BAR4
 * @sdev: the device, already quiet (svmgpu_hw_suspend())
 *
 * The PCI core puts the function in D3hot after the suspend callbacks,
 * where BAR4 decodes nothing.  A device fault's work (its queue is not
 * freezable) may still migrate or evict meanwhile: its copy is refused
 * (-EAGAIN, svmgpu_devmem_copy()), the pages stay where they are, instead
 * of system pages filled from all-ones reads or device pages written into
 * nothing.  Waits for the copies in progress.  A flag and not the held
 * rwsem: resume may run in another task.
 */
void svmgpu_devmem_suspend(struct svmgpu_device *sdev)
{
	struct svmgpu_devmem *dm = sdev->devmem;

	if (!dm)
		return;
	down_write(&dm->access_sem);
	dm->suspended = true;
	up_write(&dm->access_sem);
}

/**
 * svmgpu_devmem_resume() - after system sleep: CPU copies again
 * @sdev: the device, back in D0 (the PCI core restored it)
 */
void svmgpu_devmem_resume(struct svmgpu_device *sdev)
{
	struct svmgpu_devmem *dm = sdev->devmem;

	if (!dm)
		return;
	down_write(&dm->access_sem);
	dm->suspended = false;
	up_write(&dm->access_sem);
}

struct svmgpu_blit *svmgpu_devmem_blit(struct svmgpu_device *sdev)
{
	return sdev->devmem ? sdev->devmem->blit : NULL;
}

/* Bytes of device memory that hold process pages. */
u64 svmgpu_devmem_used(struct svmgpu_device *sdev)
{
	return sdev->devmem ? atomic64_read(&sdev->devmem->used) : 0;
}

/**
 * svmgpu_devmem_freeze() - hibernation: no process page in device memory
 * @sdev: the device
 *
 * Device memory is not in the hibernation image.  Checks that no page is
 * in it and, atomically with that check (under dm->lock, as allocations),
 * stops allocating until svmgpu_devmem_thaw(): a device fault's work or an
 * asynchronous PREFETCH still running while processes are frozen maps in
 * system memory instead.
 *
 * Return: 0, or -EBUSY with the bytes in use in *@used.
 */
int svmgpu_devmem_freeze(struct svmgpu_device *sdev, u64 *used)
{
	struct svmgpu_devmem *dm = sdev->devmem;
	int ret = 0;

	*used = 0;
	if (!dm)
		return 0;
	mutex_lock(&dm->lock);
	*used = atomic64_read(&dm->used);
	if (*used)
		ret = -EBUSY;
	else
		dm->frozen = true;
	mutex_unlock(&dm->lock);
	return ret;
}

/**
 * svmgpu_devmem_thaw() - allocate device memory again
 * @sdev: the device
 */
void svmgpu_devmem_thaw(struct svmgpu_device *sdev)
{
	struct svmgpu_devmem *dm = sdev->devmem;

	if (!dm)
		return;
	mutex_lock(&dm->lock);
	dm->frozen = false;
	mutex_unlock(&dm->lock);
}

static const char *svmgpu_devmem_type_name(struct svmgpu_devmem *dm)
{
	return svmgpu_devmem_private(dm) ? "private" : "coherent";
}

/**
 * svmgpu_devmem_init() - manage the device-local memory, if any
 * @sdev: the device, LOCAL_MEM_SIZE and CAPS read
 *
 * Return: 0 (also without local memory, or devmem_type=off) or a negative
 * errno.
 */
int svmgpu_devmem_init(struct svmgpu_device *sdev)
{
	struct pci_dev *pdev = sdev->pdev;
	u64 size = svmgpu_read64(sdev, SVMGPU_REG_LOCAL_MEM_SIZE);
	struct svmgpu_devmem *dm;
	bool priv;
	unsigned int paused;
	void *ret_ptr;
	int ret;

	if (!(sdev->caps & SVMGPU_CAPS_LOCAL_MEM) || !size ||
	    sysfs_streq(devmem_type, "off"))
		return 0;
	if (sysfs_streq(devmem_type, "auto")) {
		priv = IS_ENABLED(CONFIG_DEVICE_PRIVATE);
	} else if (sysfs_streq(devmem_type, "private")) {
		if (!IS_ENABLED(CONFIG_DEVICE_PRIVATE)) {
			drm_err(&sdev->drm, "devmem_type=private: this kernel has no CONFIG_DEVICE_PRIVATE\n");
			return -EINVAL;
		}
		priv = true;
	} else if (sysfs_streq(devmem_type, "coherent")) {
		priv = false;
	} else {
		drm_err(&sdev->drm, "devmem_type=%s: not auto, coherent, private or off\n",
			devmem_type);
		return -EINVAL;
	}
	/* The top of local memory is the DAX pool (svmgpu_dax.c). */
	size -= svmgpu_dax_size(sdev);
	if (size % SVMGPU_LOCAL_MEM_GRANULE || size > SVMGPU_LOCAL_MEM_MAX ||
	    size > pci_resource_len(pdev, SVMGPU_BAR_LOCAL) ||
	    !(pci_resource_flags(pdev, SVMGPU_BAR_LOCAL) & IORESOURCE_MEM)) {
		drm_err(&sdev->drm, "local memory of %llu bytes does not fit BAR4 (%llu bytes)\n",
			size, (u64)pci_resource_len(pdev, SVMGPU_BAR_LOCAL));
		return -ENODEV;
	}

	dm = kzalloc(sizeof(*dm), GFP_KERNEL);
	if (!dm)
		return -ENOMEM;
	dm->sdev = sdev;
	dm->size = size;
	dm->bar = pci_resource_start(pdev, SVMGPU_BAR_LOCAL);
	init_rwsem(&dm->access_sem);
	mutex_init(&dm->lock);
	spin_lock_init(&dm->free_lock);
	mutex_init(&dm->evict_lock);
	spin_lock_init(&dm->thrash_lock);
	INIT_DELAYED_WORK(&dm->thrash_end, svmgpu_devmem_thrash_end);
	dm->thrash_until = jiffies;
	dm->nregions = DIV_ROUND_UP(size, 1ull << SVMGPU_REGION_SHIFT);
	dm->regions = kvcalloc(dm->nregions, sizeof(*dm->regions), GFP_KERNEL);
	dm->hist = kvcalloc(2 * dm->nregions, sizeof(*dm->hist), GFP_KERNEL);
	dm->owners = kvcalloc(size >> PAGE_SHIFT, sizeof(*dm->owners), GFP_KERNEL);
	dm->reap = bitmap_zalloc(dm->nregions, GFP_KERNEL);
	INIT_WORK(&dm->reap_work, svmgpu_devmem_reap);
	if (!dm->regions || !dm->hist || !dm->owners || !dm->reap) {
		ret = -ENOMEM;
		goto err_free;
	}
	if (priv) {
#if IS_ENABLED(CONFIG_DEVICE_PRIVATE)
		dm->res = request_free_mem_region(&iomem_resource, size, "svmgpu devmem");
#endif
		if (IS_ERR_OR_NULL(dm->res)) {
			ret = dm->res ? PTR_ERR(dm->res) : -ENOMEM;
			dm->res = NULL;
			goto err_free;
		}
		dm->vaddr = memremap(dm->bar, size, MEMREMAP_WB);
		if (!dm->vaddr) {
			ret = -ENOMEM;
			goto err_res;
		}
		dm->pgmap.type = MEMORY_DEVICE_PRIVATE;
		dm->pgmap.range.start = dm->res->start;
		dm->pgmap.range.end = dm->res->end;
	} else {
		dm->pgmap.type = MEMORY_DEVICE_COHERENT;
		dm->pgmap.range.start = dm->bar;
		dm->pgmap.range.end = dm->bar + size - 1;
	}
	dm->pgmap.nr_range = 1;
	dm->pgmap.ops = &svmgpu_devmem_ops;
	dm->pgmap.owner = sdev;
	/* min order PAGE_SHIFT: a bit a page, the pages' physical addresses */
	dm->pool = gen_pool_create(PAGE_SHIFT, dev_to_node(&pdev->dev));
	paused = svmgpu_inject_pause();
	ret = dm->pool ? gen_pool_add(dm->pool, dm->pgmap.range.start, size,
				      dev_to_node(&pdev->dev)) : -ENOMEM;
	ret_ptr = ret ? NULL : memremap_pages(&dm->pgmap, dev_to_node(&pdev->dev));
	svmgpu_inject_resume(paused);
	if (ret) {
		ret = -ENOMEM;
		goto err_vaddr;
	}
	if (IS_ERR(ret_ptr)) {
		ret = PTR_ERR(ret_ptr);
		drm_err(&sdev->drm, "memremap_pages of %s device memory failed: %d\n",
			svmgpu_devmem_private(dm) ? "private" : "coherent", ret);
		goto err_vaddr;
	}
	BUILD_BUG_ON(SVMGPU_MIGRATE_BATCH > SVMGPU_BLIT_PAGES);
	/* Takes the last hardware queue: before the queues are used. */
	dm->blit = svmgpu_blit_create(sdev);
	sdev->devmem = dm;
	drm_info(&sdev->drm, "%llu MiB of device memory (%s), copies by %s\n", size >> 20,
		 svmgpu_devmem_type_name(dm), dm->blit ? "the COPY engine" : "the CPU");
	return 0;

err_vaddr:
	if (dm->pool)
		gen_pool_destroy(dm->pool);
	if (dm->vaddr)
		memunmap(dm->vaddr);
err_res:
	if (dm->res)
		release_mem_region(dm->res->start, resource_size(dm->res));
err_free:
	kvfree(dm->hist);
	bitmap_free(dm->reap);
	kvfree(dm->owners);
	kvfree(dm->regions);
	mutex_destroy(&dm->evict_lock);
	mutex_destroy(&dm->lock);
	kfree(dm);
	return ret;
}

/**
 * svmgpu_devmem_fini() - migrate everything out and release device memory
 * @sdev: the device; no new device PTE maps local memory any more
 */
void svmgpu_devmem_fini(struct svmgpu_device *sdev)
{
	struct svmgpu_devmem *dm = sdev->devmem;
	unsigned long idx;

	if (!dm)
		return;
	/* The svms are dead: nothing to unpin. */
	cancel_delayed_work_sync(&dm->thrash_end);
	/* Pages an abandoned copy batch held: the device is stopped or fenced now. */
	svmgpu_blit_release(dm->blit);
	svmgpu_devmem_evict_all(dm);
	/* Waits for the last reference of every page (page_free). */
	memunmap_pages(&dm->pgmap);
	/* No page_free any more: the records' last mm references go now. */
	cancel_work_sync(&dm->reap_work);
	for (idx = 0; idx < dm->nregions; idx++)
		svmgpu_devmem_reap_region(dm, idx);
	/* No page left: no migration (nor copy) can start any more. */
	svmgpu_blit_destroy(dm->blit);
	sdev->devmem = NULL;
	/* every page was freed (memunmap_pages() waited): none allocated */
	gen_pool_destroy(dm->pool);
	if (dm->vaddr)
		memunmap(dm->vaddr);
	if (dm->res)
		release_mem_region(dm->res->start, resource_size(dm->res));
	kvfree(dm->hist);
	bitmap_free(dm->reap);
	kvfree(dm->owners);
	kvfree(dm->regions);
	mutex_destroy(&dm->evict_lock);
	mutex_destroy(&dm->lock);
	kfree(dm);
}

static int svmgpu_devmem_show(struct seq_file *m, void *unused)
{
	struct svmgpu_device *sdev = m->private;
	struct svmgpu_devmem *dm;
	int idx;

	if (!svmgpu_dev_enter(&sdev->drm, &idx))
		return -ENODEV;
	dm = sdev->devmem;
	if (dm) {
		seq_printf(m, "type: %s\n", svmgpu_devmem_type_name(dm));
		seq_printf(m, "size: %llu\n", dm->size);
		seq_printf(m, "capacity: %llu\n", svmgpu_devmem_capacity(dm));
		seq_printf(m, "used: %lld\n", atomic64_read(&dm->used));
		seq_printf(m, "to_device_pages: %lld\n", atomic64_read(&dm->to_dev));
		seq_printf(m, "to_system_pages: %lld\n", atomic64_read(&dm->to_sys));
		seq_printf(m, "cpu_faults: %lld\n", atomic64_read(&dm->cpu_faults));
		seq_printf(m, "evicted_pages: %lld\n", atomic64_read(&dm->evicted));
		seq_printf(m, "lost_pages: %lld\n", atomic64_read(&dm->lost));
		seq_printf(m, "to_device_bytes: %lld\n",
			   atomic64_read(&dm->to_dev) << PAGE_SHIFT);
		seq_printf(m, "to_system_bytes: %lld\n",
			   atomic64_read(&dm->to_sys) << PAGE_SHIFT);
		seq_printf(m, "lru_evictions: %lld\n", atomic64_read(&dm->lru_evictions));
		seq_printf(m, "lru_evicted_pages: %lld\n", atomic64_read(&dm->lru_evicted));
		seq_printf(m, "evict_owners_busy: %lld\n", atomic64_read(&dm->evict_mm_busy));
		seq_printf(m, "owners_reaped: %lld\n", atomic64_read(&dm->reaped));
		seq_printf(m, "fault_migrations: %lld\n",
			   atomic64_read(&dm->fault_migrations));
		seq_printf(m, "fault_to_device_pages: %lld\n",
			   atomic64_read(&dm->fault_to_dev));
		seq_printf(m, "fault_to_system_pages: %lld\n",
			   atomic64_read(&dm->fault_to_sys));
		seq_printf(m, "fault_no_room: %lld\n", atomic64_read(&dm->fault_no_room));
		seq_printf(m, "frozen_refusals: %lld\n",
			   atomic64_read(&dm->frozen_refused));
		seq_printf(m, "suspended_refusals: %lld\n",
			   atomic64_read(&dm->suspended_refused));
		seq_printf(m, "prefetch_busy_retried: %lld\n", atomic64_read(&dm->busy_retried));
		seq_printf(m, "prefetch_busy_left: %lld\n", atomic64_read(&dm->busy_left));
		seq_printf(m, "cpu_copy_pages: %lld\n", atomic64_read(&dm->cpu_copied));
		seq_printf(m, "cpu_copies_redone: %lld\n",
			   atomic64_read(&dm->copies_redone));
		svmgpu_blit_show(dm->blit, m);
		seq_printf(m, "thrash_periods: %lld\n", atomic64_read(&dm->thrash_periods));
		seq_printf(m, "thrashing: %d\n", svmgpu_devmem_thrashing(dm));
		seq_printf(m, "thrash_unpinned: %lld\n", atomic64_read(&dm->thrash_unpinned));
		seq_printf(m, "thrash_refaults: %lld\n", atomic64_read(&dm->thrash_refaults));
		seq_printf(m, "thrash_period_ms: %u\n",
			   jiffies_to_msecs(READ_ONCE(dm->thrash_len)));
	} else {
		seq_puts(m, "type: none\nsize: 0\nused: 0\n");
	}
	svmgpu_dev_exit(&sdev->drm, idx);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(svmgpu_devmem);

/*
 * Test hook: the next SVMGPU_DEVMEM_DELAY_PAGES pages CPU copies move are
 * each followed by a sleep of this many microseconds (0 ends it).  At the
 * cap, a 512-page batch takes at most 512 x 12.5 ms = 6.4 s a try.
 */
#define SVMGPU_DEVMEM_DELAY_MAX_US	10000
#define SVMGPU_DEVMEM_DELAY_PAGES	1024

static int svmgpu_devmem_delay_set(void *data, u64 val)
{
	struct svmgpu_device *sdev = data;

	if (val > SVMGPU_DEVMEM_DELAY_MAX_US)
		return -EINVAL;
	if (!sdev->devmem)
		return -ENODEV;
	atomic_set(&sdev->devmem->inject_copy_delay_us, val);
	atomic_set(&sdev->devmem->inject_copy_delay_left,
		   val ? SVMGPU_DEVMEM_DELAY_PAGES : 0);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(svmgpu_devmem_delay_fops, NULL, svmgpu_devmem_delay_set, "%llu\n");

/**
 * svmgpu_devmem_error_detected() - a PCI error recovery begins
 * @sdev: the device
 *
 * Called by error_detected before the recovery may reset the link: a CPU
 * copy through BAR4 in progress is done again (svmgpu_devmem_copy()).
 */
void svmgpu_devmem_error_detected(struct svmgpu_device *sdev)
{
	if (sdev->devmem) {
		atomic_inc(&sdev->devmem->recoveries);
		/* before the link reset the PCI core does after this call */
		smp_mb__after_atomic();
	}
}

/**
 * svmgpu_devmem_debugfs_init() - debugfs svmgpu_devmem of a DRM minor
 * @minor: the minor
 */
void svmgpu_devmem_debugfs_init(struct drm_minor *minor)
{
	debugfs_create_file("svmgpu_devmem", 0444, minor->debugfs_root,
			    to_svmgpu(minor->dev), &svmgpu_devmem_fops);
	debugfs_create_file_unsafe("svmgpu_inject_copy_delay", 0200, minor->debugfs_root,
				   to_svmgpu(minor->dev), &svmgpu_devmem_delay_fops);
}
