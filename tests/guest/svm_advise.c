// SPDX-License-Identifier: MIT
/*
 * svm_advise: placement advice and oversubscription of device-local memory
 * (docs/driver.md "Advice" and "Eviction").  ADVISE keeps attributes per
 * address range (split and merged by partial updates, dropped by munmap and
 * mremap, kept by mprotect and by what empties a mapping that stays); a
 * device fault on a range preferring the device migrates it there,
 * read-mostly and accessed-by ranges stay where they are.  Every rejected ADVISE input gets its exact errno.
 * An ADVISE needing more notifier chunks than max_chunks is refused whole;
 * an svm keeps at most advice_max_ranges ranges, whatever munmap() punches.
 * Oversubscription (eviction) is svm_oversub.
 *
 * The migration cases need a device with local-mem-size > 0 (make
 * run/check give it 256 MiB); without one the argument checks, the split
 * and unmap cases and the -EOPNOTSUPP case run.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sys/time.h>
#include <sys/uio.h>

#include "svm_advise.h"

FIXTURE(adv) {
	int fd;
	uint32_t ctx;
	uint32_t q;
	int local;
	long long dsize;
};

FIXTURE_SETUP(adv)
{
	self->fd = sg_open();
	if (self->fd < 0)
		SKIP(return, "no render node: %s", strerror(errno));
	self->local = sg_has_local_mem(self->fd);
	self->dsize = self->local ? sg_devmem_value("size") : 0;
	ASSERT_EQ(sg_ctx_create(self->fd, &self->ctx), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &self->q), 0);
}

FIXTURE_TEARDOWN(adv)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(adv, rejected_inputs_exact_errno)
{
	unsigned char *p = sg_map_anon(4 * PAGE);
	struct drm_svmgpu_advise a;
	uint32_t loc = self->local ? DRM_SVMGPU_LOC_DEVICE : DRM_SVMGPU_LOC_SYSTEM;
	int fd = self->fd, status;
	uint32_t c = self->ctx;
	uint64_t same;
	pid_t pid;

	ASSERT_NE(p, NULL);
	/* op, attr, value */
	memset(&a, 0, sizeof(a));
	a.ctx_handle = c;
	a.start = (uintptr_t)p;
	a.size = PAGE;
	EXPECT_EQ(sg_ioctl(fd, DRM_IOCTL_SVMGPU_ADVISE, &a), -EINVAL);
	a.op = 3;
	EXPECT_EQ(sg_ioctl(fd, DRM_IOCTL_SVMGPU_ADVISE, &a), -EINVAL);
	EXPECT_EQ(advise(fd, c, p, PAGE, 0, 0), -EINVAL);
	EXPECT_EQ(advise(fd, c, p, PAGE, 4, 0), -EINVAL);
	EXPECT_EQ(advise(fd, c, p, PAGE, DRM_SVMGPU_ATTR_PREFERRED_LOC, 3), -EINVAL);
	EXPECT_EQ(advise(fd, c, p, PAGE, DRM_SVMGPU_ATTR_ACCESSED_BY, 2), -EINVAL);
	EXPECT_EQ(advise(fd, c, p, PAGE, DRM_SVMGPU_ATTR_READ_MOSTLY, 2), -EINVAL);
	/* flags and pad: zero, for SET and GET */
	a.op = DRM_SVMGPU_ADVISE_SET;
	a.attr = DRM_SVMGPU_ATTR_READ_MOSTLY;
	a.value = 1;
	a.flags = 1;
	EXPECT_EQ(sg_ioctl(fd, DRM_IOCTL_SVMGPU_ADVISE, &a), -EINVAL);
	a.flags = 0x80000000u;
	EXPECT_EQ(sg_ioctl(fd, DRM_IOCTL_SVMGPU_ADVISE, &a), -EINVAL);
	a.flags = 0;
	a.pad = 1;
	EXPECT_EQ(sg_ioctl(fd, DRM_IOCTL_SVMGPU_ADVISE, &a), -EINVAL);
	a.op = DRM_SVMGPU_ADVISE_GET;
	a.attr = 0;
	a.value = 0;
	EXPECT_EQ(sg_ioctl(fd, DRM_IOCTL_SVMGPU_ADVISE, &a), -EINVAL);
	a.pad = 0;
	a.flags = 2;
	EXPECT_EQ(sg_ioctl(fd, DRM_IOCTL_SVMGPU_ADVISE, &a), -EINVAL);
	a.flags = 0;
	/* nothing was set by the rejected SETs */
	EXPECT_EQ(sg_ioctl(fd, DRM_IOCTL_SVMGPU_ADVISE, &a), 0);
	EXPECT_EQ(a.value, 0u);
	a.size = PAGE;
	a.value = 0;
	/* GET takes no attribute or value */
	a.op = DRM_SVMGPU_ADVISE_GET;
	a.attr = DRM_SVMGPU_ATTR_READ_MOSTLY;
	EXPECT_EQ(sg_ioctl(fd, DRM_IOCTL_SVMGPU_ADVISE, &a), -EINVAL);
	a.attr = 0;
	a.value = 1;
	EXPECT_EQ(sg_ioctl(fd, DRM_IOCTL_SVMGPU_ADVISE, &a), -EINVAL);
	/* range rules */
	EXPECT_EQ(advise(fd, c, p + 1, PAGE, DRM_SVMGPU_ATTR_READ_MOSTLY, 1), -EINVAL);
	EXPECT_EQ(advise(fd, c, p, PAGE + 8, DRM_SVMGPU_ATTR_READ_MOSTLY, 1), -EINVAL);
	EXPECT_EQ(advise(fd, c, p, 0, DRM_SVMGPU_ATTR_READ_MOSTLY, 1), -EINVAL);
	EXPECT_EQ(advise(fd, c, (void *)~0xfffull, 2 * PAGE, DRM_SVMGPU_ATTR_READ_MOSTLY, 1),
		  -EINVAL);
	EXPECT_EQ(advise(fd, c, (void *)(1ull << 62), PAGE, DRM_SVMGPU_ATTR_READ_MOSTLY, 1),
		  -EINVAL);
	EXPECT_EQ(advice_at(fd, c, p + 8, PAGE, NULL), -EINVAL);
	EXPECT_EQ(advice_at(fd, c, p, 0, NULL), -EINVAL);
	/* a bad attribute or value is -EINVAL before the context is looked up */
	EXPECT_EQ(advise(fd, 0, p, PAGE, 4, 0), -EINVAL);
	EXPECT_EQ(advise(fd, c + 1000, p, PAGE, DRM_SVMGPU_ATTR_READ_MOSTLY, 2), -EINVAL);
	/* contexts: none, unknown */
	EXPECT_EQ(advise(fd, 0, p, PAGE, DRM_SVMGPU_ATTR_READ_MOSTLY, 1), -ENOENT);
	EXPECT_EQ(advise(fd, c + 1000, p, PAGE, DRM_SVMGPU_ATTR_READ_MOSTLY, 1), -ENOENT);
	EXPECT_EQ(advice_at(fd, c + 1000, p, PAGE, NULL), -ENOENT);
	/* a hole: -EFAULT and nothing changed, not even before the hole */
	ASSERT_EQ(munmap(p + 2 * PAGE, PAGE), 0);
	EXPECT_EQ(advise(fd, c, p, 4 * PAGE, DRM_SVMGPU_ATTR_PREFERRED_LOC, loc), -EFAULT);
	EXPECT_EQ(advice_at(fd, c, p, 2 * PAGE, &same), 0);
	EXPECT_EQ(same, 2 * PAGE);
	/* without local memory there is no device to prefer */
	if (!self->local)
		EXPECT_EQ(advise(fd, c, p, PAGE, DRM_SVMGPU_ATTR_PREFERRED_LOC,
				 DRM_SVMGPU_LOC_DEVICE), -EOPNOTSUPP);
	/* another process (a fork child sharing the file): -EACCES */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid)
		_exit(advise(fd, c, p, PAGE, DRM_SVMGPU_ATTR_READ_MOSTLY, 1) == -EACCES &&
		      advise(fd, c, p, PAGE, 4, 0) == -EINVAL &&
		      advice_at(fd, c, p, PAGE, NULL) == -EACCES ? 0 : 1);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
	EXPECT_EQ(advice_at(fd, c, p, PAGE, NULL), 0);
	munmap(p, 2 * PAGE);
	munmap(p + 3 * PAGE, PAGE);
}

/* A partial update splits the advised range; equal neighbours merge again. */
TEST_F(adv, partial_advice_splits_and_merges)
{
	unsigned char *p = sg_map_anon(16 * PAGE);
	uint32_t loc = self->local ? DRM_SVMGPU_LOC_DEVICE : DRM_SVMGPU_LOC_SYSTEM;
	int fd = self->fd;
	uint32_t c = self->ctx;
	uint64_t same;

	ASSERT_NE(p, NULL);
	EXPECT_EQ(advice_at(fd, c, p, 16 * PAGE, &same), 0);
	EXPECT_EQ(same, 16 * PAGE);
	ASSERT_EQ(advise(fd, c, p, 16 * PAGE, DRM_SVMGPU_ATTR_READ_MOSTLY, 1), 0);
	ASSERT_EQ(advise(fd, c, p + 4 * PAGE, 4 * PAGE, DRM_SVMGPU_ATTR_PREFERRED_LOC, loc), 0);
	ASSERT_EQ(advise(fd, c, p + 6 * PAGE, PAGE, DRM_SVMGPU_ATTR_ACCESSED_BY, 1), 0);
	/* [0,4) RM, [4,6) RM|loc, [6,7) RM|loc|AB, [7,8) RM|loc, [8,16) RM */
	EXPECT_EQ(advice_at(fd, c, p, 16 * PAGE, &same), DRM_SVMGPU_ADVICE_READ_MOSTLY);
	EXPECT_EQ(same, 4 * PAGE);
	EXPECT_EQ(advice_at(fd, c, p + 4 * PAGE, 12 * PAGE, &same),
		  DRM_SVMGPU_ADVICE_READ_MOSTLY | loc);
	EXPECT_EQ(same, 2 * PAGE);
	EXPECT_EQ(advice_at(fd, c, p + 6 * PAGE, 10 * PAGE, &same),
		  DRM_SVMGPU_ADVICE_READ_MOSTLY | loc | DRM_SVMGPU_ADVICE_ACCESSED_BY);
	EXPECT_EQ(same, PAGE);
	EXPECT_EQ(advice_at(fd, c, p + 7 * PAGE, 9 * PAGE, &same),
		  DRM_SVMGPU_ADVICE_READ_MOSTLY | loc);
	EXPECT_EQ(same, PAGE);
	EXPECT_EQ(advice_at(fd, c, p + 8 * PAGE, 8 * PAGE, &same), DRM_SVMGPU_ADVICE_READ_MOSTLY);
	EXPECT_EQ(same, 8 * PAGE);
	/* GET reports at most the size it was given */
	EXPECT_EQ(advice_at(fd, c, p + 8 * PAGE, 2 * PAGE, &same), DRM_SVMGPU_ADVICE_READ_MOSTLY);
	EXPECT_EQ(same, 2 * PAGE);
	/* Undo the middle: one range again. */
	ASSERT_EQ(advise(fd, c, p + 6 * PAGE, PAGE, DRM_SVMGPU_ATTR_ACCESSED_BY, 0), 0);
	EXPECT_EQ(advice_at(fd, c, p + 4 * PAGE, 12 * PAGE, &same),
		  DRM_SVMGPU_ADVICE_READ_MOSTLY | loc);
	EXPECT_EQ(same, 4 * PAGE);
	ASSERT_EQ(advise(fd, c, p + 4 * PAGE, 4 * PAGE, DRM_SVMGPU_ATTR_PREFERRED_LOC,
			 DRM_SVMGPU_LOC_NONE), 0);
	EXPECT_EQ(advice_at(fd, c, p, 16 * PAGE, &same), DRM_SVMGPU_ADVICE_READ_MOSTLY);
	EXPECT_EQ(same, 16 * PAGE);
	ASSERT_EQ(advise(fd, c, p, 16 * PAGE, DRM_SVMGPU_ATTR_READ_MOSTLY, 0), 0);
	EXPECT_EQ(advice_at(fd, c, p, 16 * PAGE, &same), 0);
	EXPECT_EQ(same, 16 * PAGE);
	munmap(p, 16 * PAGE);
}

/*
 * munmap and mremap drop the advice of the addresses they unmap, mprotect
 * keeps it; with local memory, the advised range is in device memory and
 * its bytes follow mremap and mprotect exactly.
 */
TEST_F(adv, munmap_mremap_mprotect_of_advised_migrated_range)
{
	size_t size = 8 * MB;
	unsigned char *p = sg_map_anon(size), *q, *b = sg_map_anon(size);
	uint32_t loc = self->local ? DRM_SVMGPU_LOC_DEVICE : DRM_SVMGPU_LOC_SYSTEM;
	long long used0 = self->local ? sg_devmem_value("used") : 0;
	int fd = self->fd;
	uint32_t c = self->ctx;
	uint64_t same;

	ASSERT_NE(p, NULL);
	ASSERT_NE(b, NULL);
	fill_pat(p, size, 0x3c);
	ASSERT_EQ(advise(fd, c, p, size, DRM_SVMGPU_ATTR_PREFERRED_LOC, loc), 0);
	if (self->local) {
		EXPECT_EQ(prefetch_resident(fd, p, size), (long long)(size / PAGE));
	}

	/* mprotect: advice and bytes stay; the device reads them. */
	ASSERT_EQ(mprotect(p, 2 * MB, PROT_READ), 0);
	EXPECT_EQ(advice_at(fd, c, p, size, &same), loc);
	EXPECT_EQ(same, size);
	ASSERT_EQ(dev_copy(fd, self->q, b, p, size), 0);
	EXPECT_EQ(check_pat(b, size, 0x3c), -1);
	ASSERT_EQ(mprotect(p, 2 * MB, PROT_READ | PROT_WRITE), 0);

	/* munmap of the last 2 MiB: its advice goes, a new mapping has none. */
	ASSERT_EQ(unmap_and_map_again(p + 6 * MB, 2 * MB), 0);
	EXPECT_EQ(advice_at(fd, c, p + 6 * MB, 2 * MB, &same), 0);
	EXPECT_EQ(same, 2 * MB);
	EXPECT_EQ(advice_at(fd, c, p, 6 * MB, &same), loc);
	EXPECT_EQ(same, 6 * MB);

	/* mremap of [2 MiB, 4 MiB) elsewhere: the bytes move, the advice does not. */
	q = mmap(NULL, 2 * MB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(q, MAP_FAILED);
	ASSERT_EQ(mremap(p + 2 * MB, 2 * MB, 2 * MB, MREMAP_MAYMOVE | MREMAP_FIXED, q), q);
	EXPECT_EQ(advice_at(fd, c, q, 2 * MB, &same), 0);
	ASSERT_EQ(mmap(p + 2 * MB, 2 * MB, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), p + 2 * MB);
	EXPECT_EQ(advice_at(fd, c, p, size, &same), loc);
	EXPECT_EQ(same, 2 * MB);
	EXPECT_EQ(advice_at(fd, c, p + 2 * MB, size - 2 * MB, &same), 0);
	EXPECT_EQ(same, 2 * MB);
	EXPECT_EQ(advice_at(fd, c, p + 4 * MB, 4 * MB, &same), loc);
	EXPECT_EQ(same, 2 * MB);
	memset(b, 0, size);
	ASSERT_EQ(dev_copy(fd, self->q, b, q, 2 * MB), 0);
	{
		size_t i;
		long bad = -1;

		for (i = 0; i < 2 * MB && bad < 0; i++)
			if (b[i] != pat(2 * MB + i, 0x3c) || q[i] != pat(2 * MB + i, 0x3c))
				bad = (long)i;
		EXPECT_EQ(bad, -1);
	}
	munmap(q, 2 * MB);
	munmap(p, size);
	munmap(b, size);
	if (self->local)
		EXPECT_EQ(sg_devmem_used_settles(NULL, used0), used0);
}

/*
 * mremap(MREMAP_DONTUNMAP) moves the pages and leaves the old range mapped,
 * empty: its advice stays there (the kernel reports the page-table move as
 * an unmap, which used to drop it) and does not follow the pages.  A
 * munmap() of the old range then drops it.
 */
TEST_F(adv, mremap_dontunmap_keeps_the_old_ranges_advice)
{
	size_t size = 4 * MB;
	uint32_t bits = DRM_SVMGPU_ADVICE_ACCESSED_BY;
	unsigned char *p = sg_map_anon(size), *q;
	uint64_t same;

	ASSERT_NE(p, NULL);
	fill_pat(p, size, 0x5d);
	ASSERT_EQ(advise(self->fd, self->ctx, p, size, DRM_SVMGPU_ATTR_ACCESSED_BY, 1), 0);
	q = mremap(p, size, size, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL);
	ASSERT_NE(q, MAP_FAILED);
	EXPECT_EQ(advice_at(self->fd, self->ctx, p, size, &same), bits);
	EXPECT_EQ(same, size);
	EXPECT_EQ(advice_at(self->fd, self->ctx, q, size, &same), 0);
	EXPECT_EQ(same, size);
	EXPECT_EQ(check_pat(q, size, 0x5d), -1);
	EXPECT_TRUE(sg_all_bytes(p, 0, size));

	ASSERT_EQ(unmap_and_map_again(p, size), 0);
	EXPECT_EQ(advice_at(self->fd, self->ctx, p, size, &same), 0);
	EXPECT_EQ(same, size);
	munmap(p, size);
	munmap(q, size);
}

/*
 * A hugetlb mapping that loses its pages but stays keeps its advice, as
 * other memory does: MADV_DONTNEED, a hole punched in its hugetlbfs file
 * and the file truncated to 0 each unmap pages with MMU_NOTIFY_UNMAP
 * (__unmap_hugepage_range()), the event munmap() sends, and each dropped
 * the advice.  munmap() still does.
 */
TEST_F(adv, hugetlb_mapping_keeps_its_advice_until_munmap)
{
	size_t size = 4 * MB;
	uint32_t bits = DRM_SVMGPU_ADVICE_ACCESSED_BY;
	unsigned char *p;
	uint64_t same;
	long huge0;
	int mfd;

	/* the pool's size comes back when the test ends, however (the harness) */
	huge0 = sg_nr_hugepages(-1);
	if (huge0 < 0 || svmgpu_test_restore_file(SG_NR_HUGEPAGES) ||
	    sg_nr_hugepages(huge0 + 2) < 0 || sg_nr_hugepages(-1) < huge0 + 2)
		SKIP(return, "cannot reserve 2 huge pages");
	mfd = memfd_create("svm_advise", MFD_HUGETLB);
	if (mfd < 0)
		SKIP(return, "memfd_create(MFD_HUGETLB): %s", strerror(errno));
	ASSERT_EQ(ftruncate(mfd, size), 0);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_NE(p, MAP_FAILED);
	memset(p, 0x6e, size);
	ASSERT_EQ(advise(self->fd, self->ctx, p, size, DRM_SVMGPU_ATTR_ACCESSED_BY, 1), 0);

	ASSERT_EQ(madvise(p, 2 * MB, MADV_DONTNEED), 0);
	EXPECT_EQ(advice_at(self->fd, self->ctx, p, size, &same), bits);
	EXPECT_EQ(same, size);
	/* shared: the page comes back from the file */
	EXPECT_TRUE(sg_all_bytes(p, 0x6e, size));

	ASSERT_EQ(fallocate(mfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2 * MB, 2 * MB), 0);
	EXPECT_EQ(advice_at(self->fd, self->ctx, p, size, &same), bits);
	EXPECT_EQ(same, size);
	EXPECT_TRUE(sg_all_bytes(p + 2 * MB, 0, 2 * MB));

	ASSERT_EQ(ftruncate(mfd, 0), 0);
	EXPECT_EQ(advice_at(self->fd, self->ctx, p, size, &same), bits);
	EXPECT_EQ(same, size);

	ASSERT_EQ(unmap_and_map_again(p, size), 0);
	EXPECT_EQ(advice_at(self->fd, self->ctx, p, size, &same), 0);
	EXPECT_EQ(same, size);
	munmap(p, size);
	close(mfd);
}

/*
 * Preferred location device: the device's first touch migrates the range
 * (reads and writes, populated or not); without advice nothing moves.
 */
TEST_F(adv, migrate_on_device_fault_with_preferred_device)
{
	size_t size = 8 * MB, n = size / PAGE;
	unsigned char *a = sg_map_2m(size), *b = sg_map_2m(size);
	unsigned char *c = sg_map_2m(size), *d = sg_map_2m(size);
	long long fm0, fp0;

	if (!self->local)
		SKIP(return, "the device has no local memory");
	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	ASSERT_NE(c, NULL);
	ASSERT_NE(d, NULL);
	fill_pat(a, size, 0x11);
	fill_pat(c, size, 0x22);
	memset(b, 0, size);
	fm0 = sg_devmem_value("fault_migrations");
	fp0 = sg_devmem_value("fault_to_device_pages");
	ASSERT_GE(fm0, 0);

	/* No advice: the device reads c where it is. */
	ASSERT_EQ(dev_copy(self->fd, self->q, b, c, size), 0);
	EXPECT_EQ(sg_residency(self->fd, c, size), 0);
	EXPECT_EQ(sg_devmem_value("fault_migrations"), fm0);
	EXPECT_EQ(check_pat(b, size, 0x22), -1);

	/* Preferred device: read faults migrate a, write faults migrate d (never touched). */
	ASSERT_EQ(advise(self->fd, self->ctx, a, size, DRM_SVMGPU_ATTR_PREFERRED_LOC,
			 DRM_SVMGPU_LOC_DEVICE), 0);
	ASSERT_EQ(advise(self->fd, self->ctx, d, size, DRM_SVMGPU_ATTR_PREFERRED_LOC,
			 DRM_SVMGPU_LOC_DEVICE), 0);
	ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
	EXPECT_GE(sg_residency(self->fd, a, size), (long long)n - BUSY_SLACK);
	EXPECT_EQ(sg_residency(self->fd, b, size), 0);
	ASSERT_EQ(dev_fill(self->fd, self->q, d, size, 0x6b), 0);
	EXPECT_GE(sg_residency(self->fd, d, size), (long long)n - BUSY_SLACK);
	EXPECT_GE(sg_devmem_value("fault_migrations") - fm0,
		  2 * (long long)(size / (2 * MB)) - 2);
	EXPECT_GE(sg_devmem_value("fault_to_device_pages") - fp0,
		  sg_residency(self->fd, a, size) + sg_residency(self->fd, d, size));
	EXPECT_EQ(check_pat(b, size, 0x11), -1);
	EXPECT_EQ(check_pat(a, size, 0x11), -1);
	EXPECT_TRUE(sg_all_bytes(d, 0x6b, size));
	munmap(a, size);
	munmap(b, size);
	munmap(c, size);
	munmap(d, size);
}

/*
 * A range prefetched to the device and preferring it: the device's faults
 * on it (its device mappings come with the first access) find every page in
 * place, migrate nothing and count no migration; the bytes are exact.
 */
TEST_F(adv, fault_on_resident_range_migrates_nothing)
{
	size_t size = 8 * MB, n = size / PAGE;
	unsigned char *a = sg_map_2m(size), *b = sg_map_2m(size);
	long long fm0, fp0, ev0;

	if (!self->local)
		SKIP(return, "the device has no local memory");
	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	fill_pat(a, size, 0x5a);
	memset(b, 0, size);
	ASSERT_EQ(advise(self->fd, self->ctx, a, size, DRM_SVMGPU_ATTR_PREFERRED_LOC,
			 DRM_SVMGPU_LOC_DEVICE), 0);
	ASSERT_EQ(prefetch_resident(self->fd, a, size), (long long)n);
	fm0 = sg_devmem_value("fault_migrations");
	fp0 = sg_devmem_value("fault_to_device_pages");
	ev0 = sg_devmem_value("lru_evictions");
	ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
	EXPECT_EQ(check_pat(b, size, 0x5a), -1);
	EXPECT_EQ(sg_residency(self->fd, a, size), (long long)n);
	EXPECT_EQ(sg_devmem_value("fault_migrations"), fm0);
	EXPECT_EQ(sg_devmem_value("fault_to_device_pages"), fp0);
	EXPECT_EQ(sg_devmem_value("lru_evictions"), ev0);
	munmap(a, size);
	munmap(b, size);
}

/*
 * Read-mostly with preferred location system, the range prefetched to the
 * device: device reads leave it there (read-mostly holds whichever the
 * preferred location); the device's first touch of the other 2 MiB, a
 * write, moves that 2 MiB back to system memory.
 */
TEST_F(adv, read_mostly_holds_with_preferred_system)
{
	size_t size = 4 * MB, n = size / PAGE;
	unsigned char *a = sg_map_2m(size), *b = sg_map_2m(size);

	if (!self->local)
		SKIP(return, "the device has no local memory");
	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	fill_pat(a, size, 0x4d);
	ASSERT_EQ(prefetch_resident(self->fd, a, size), (long long)n);
	ASSERT_EQ(advise(self->fd, self->ctx, a, size, DRM_SVMGPU_ATTR_PREFERRED_LOC,
			 DRM_SVMGPU_LOC_SYSTEM), 0);
	ASSERT_EQ(advise(self->fd, self->ctx, a, size, DRM_SVMGPU_ATTR_READ_MOSTLY, 1), 0);
	/* Reads of the first 2 MiB; the last 2 MiB is first touched by a write. */
	ASSERT_EQ(dev_copy(self->fd, self->q, b, a, 2 * MB), 0);
	EXPECT_EQ(check_pat(b, 2 * MB, 0x4d), -1);
	EXPECT_EQ(sg_residency(self->fd, a, size), (long long)n);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(a + 2 * MB + 8, 8, 0x99, 1)), 0);
	EXPECT_EQ(sg_residency(self->fd, a, 2 * MB), (long long)(n / 2));
	EXPECT_EQ(sg_residency(self->fd, a + 2 * MB, 2 * MB), 0);
	EXPECT_TRUE(sg_all_bytes(a + 2 * MB + 8, 0x99, 8));
	munmap(a, size);
	munmap(b, size);
}

/*
 * Read-mostly and accessed-by ranges stay in system memory on device reads;
 * a first device write to a read-mostly range migrates its 2 MiB.
 */
TEST_F(adv, read_mostly_and_accessed_by_not_migrated_on_reads)
{
	size_t size = 8 * MB, i;
	unsigned char *a = sg_map_2m(size), *b = sg_map_2m(size), *c = sg_map_2m(size);
	long long fm0;
	long bad = -1;

	if (!self->local)
		SKIP(return, "the device has no local memory");
	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	ASSERT_NE(c, NULL);
	fill_pat(a, size, 0x44);
	fill_pat(c, size, 0x55);
	ASSERT_EQ(advise(self->fd, self->ctx, a, size, DRM_SVMGPU_ATTR_PREFERRED_LOC,
			 DRM_SVMGPU_LOC_DEVICE), 0);
	ASSERT_EQ(advise(self->fd, self->ctx, a, size, DRM_SVMGPU_ATTR_READ_MOSTLY, 1), 0);
	ASSERT_EQ(advise(self->fd, self->ctx, c, size, DRM_SVMGPU_ATTR_PREFERRED_LOC,
			 DRM_SVMGPU_LOC_DEVICE), 0);
	ASSERT_EQ(advise(self->fd, self->ctx, c, size, DRM_SVMGPU_ATTR_ACCESSED_BY, 1), 0);
	fm0 = sg_devmem_value("fault_migrations");

	/* Reads of the first 4 MiB of a, of all of c: nothing moves. */
	ASSERT_EQ(dev_copy(self->fd, self->q, b, a, 4 * MB), 0);
	EXPECT_EQ(check_pat(b, 4 * MB, 0x44), -1);
	EXPECT_EQ(sg_residency(self->fd, a, size), 0);
	ASSERT_EQ(dev_copy(self->fd, self->q, b, c, size), 0);
	EXPECT_EQ(check_pat(b, size, 0x55), -1);
	EXPECT_EQ(sg_residency(self->fd, c, size), 0);
	EXPECT_EQ(sg_devmem_value("fault_migrations"), fm0);

	/* The device's first touch of a's last 2 MiB is a write: that 2 MiB moves. */
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(a + 6 * MB + 8, 8, 0x99, 1)), 0);
	EXPECT_GT(sg_residency(self->fd, a + 6 * MB, 2 * MB), 0);
	EXPECT_EQ(sg_residency(self->fd, a, 6 * MB), 0);
	/* Once, or twice if the fault was resolved again for pages that were busy. */
	EXPECT_GE(sg_devmem_value("fault_migrations"), fm0 + 1);
	EXPECT_LE(sg_devmem_value("fault_migrations"), fm0 + 2);
	EXPECT_TRUE(sg_all_bytes(a + 6 * MB + 8, 0x99, 8));
	for (i = 0; i < size && bad < 0; i++)
		if (!(i >= 6 * MB + 8 && i < 6 * MB + 16) && a[i] != pat(i, 0x44))
			bad = (long)i;
	EXPECT_EQ(bad, -1);
	munmap(a, size);
	munmap(b, size);
	munmap(c, size);
}

/*
 * A placement that moves nothing leaves the device's mappings alone: the
 * migration announces its whole range (MMU_NOTIFY_MIGRATE with this device
 * as owner) but only the pages it selects lose their device PTEs.  PREFETCH
 * to system memory of a range with nothing in device memory, and PREFETCH
 * to the device of a resident range, are followed by device reads that
 * fault nothing.  The pages that do move lose their old translations: the
 * device reads what the CPU wrote after the move, never the old pages.
 */
/*
 * Device faults and unmapped pages a placement that moves nothing may still
 * see: compaction may move a few 4 KiB pages of a or b meanwhile (a CLEAR,
 * each page unmapped and faulted again).  Unmapping the range of a
 * migration that moves nothing is 512 (t) or 1024 (a) pages.
 */
#define STRAY_SLACK	16ull

TEST_F(adv, placement_that_moves_nothing_keeps_device_mappings)
{
	size_t size = 4 * MB, n = size / PAGE;
	unsigned char *a = sg_map_2m(size), *b = sg_map_2m(size), *t = sg_map_2m(2 * MB);
	struct drm_svmgpu_get_stats st;
	uint64_t pages = 1;

	if (!self->local)
		SKIP(return, "the device has no local memory");
	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	ASSERT_NE(t, NULL);
	/*
	 * a in 4 KiB pages (no THP split removes its device PTEs for the
	 * migration), b too (khugepaged cannot collapse it); t a THP.
	 */
	ASSERT_EQ(madvise(a, size, MADV_NOHUGEPAGE), 0);
	ASSERT_EQ(madvise(b, size, MADV_NOHUGEPAGE), 0);
	madvise(t, 2 * MB, MADV_HUGEPAGE);
	fill_pat(a, size, 0x71);
	fill_pat(t, 2 * MB, 0x70);
	memset(b, 0, size);
	/* The device maps t, a (system memory) and b. */
	ASSERT_EQ(dev_copy(self->fd, self->q, b, t, 2 * MB), 0);
	EXPECT_EQ(check_pat(b, 2 * MB, 0x70), -1);
	ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
	EXPECT_EQ(check_pat(b, size, 0x71), -1);

	/*
	 * Nothing of a or t is in device memory: PREFETCH to system moves
	 * nothing, and does not split t.
	 */
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 1, &st), 0);
	ASSERT_EQ(sg_prefetch(self->fd, a, size, DRM_SVMGPU_PREFETCH_SYSTEM, &pages), 0);
	EXPECT_EQ(pages, 0ull);
	pages = 1;
	ASSERT_EQ(sg_prefetch(self->fd, t, 2 * MB, DRM_SVMGPU_PREFETCH_SYSTEM, &pages), 0);
	EXPECT_EQ(pages, 0ull);
	ASSERT_EQ(dev_copy(self->fd, self->q, b, t, 2 * MB), 0);
	EXPECT_EQ(check_pat(b, 2 * MB, 0x70), -1);
	ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 0, &st), 0);
	EXPECT_LE(st.faults, STRAY_SLACK);
	EXPECT_LE(st.pages_unmapped, STRAY_SLACK);
	EXPECT_EQ(check_pat(b, size, 0x71), -1);

	/* a moves: its device PTEs go; the CPU then writes new bytes. */
	ASSERT_EQ(prefetch_resident(self->fd, a, size), (long long)n);
	fill_pat(a, size, 0x72);
	ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
	EXPECT_EQ(check_pat(b, size, 0x72), -1);

	/* a resident again and mapped by the device: PREFETCH to the device moves nothing. */
	ASSERT_EQ(prefetch_resident(self->fd, a, size), (long long)n);
	ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 1, &st), 0);
	pages = 1;
	ASSERT_EQ(sg_prefetch(self->fd, a, size, DRM_SVMGPU_PREFETCH_DEVICE, &pages), 0);
	EXPECT_EQ(pages, 0ull);
	memset(b, 0, size);
	ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 0, &st), 0);
	EXPECT_LE(st.faults, STRAY_SLACK);
	EXPECT_LE(st.pages_unmapped, STRAY_SLACK);
	EXPECT_EQ(check_pat(b, size, 0x72), -1);
	EXPECT_EQ(check_pat(a, size, 0x72), -1);
	munmap(a, size);
	munmap(b, size);
	munmap(t, 2 * MB);
}

/*
 * fault_around = 1 with preferred location device: one COPY reads pages of
 * a 2 MiB neighbourhood and writes other pages of it.  Each fault places
 * the whole neighbourhood but maps only its own page; the second fault
 * finds everything in place and must not take the first page's mapping
 * away, or the two faults undo each other forever (the COPY times out).
 */
TEST_F(adv, fault_around_one_page_two_pages_of_one_neighbourhood)
{
	const char *param = "/sys/module/svmgpu/parameters/fault_around";
	unsigned char *a = sg_map_2m(2 * MB);
	struct drm_svmgpu_get_stats st;
	char old[32] = "";
	size_t i, span = 64 * 1024;
	long long fp0;
	long bad = -1;
	int f, ret;

	if (!self->local)
		SKIP(return, "the device has no local memory");
	ASSERT_NE(a, NULL);
	f = open(param, O_RDONLY);
	ASSERT_GE(f, 0);
	ASSERT_GT(read(f, old, sizeof(old) - 1), 0);
	close(f);
	/* old comes back below, or whatever ends the test (the harness) */
	ASSERT_EQ(svmgpu_test_restore_file(param), 0);
	ASSERT_EQ(sg_write_file(param, "1"), 0);
	fill_pat(a, 2 * MB, 0x19);
	fp0 = sg_devmem_value("fault_to_device_pages");
	ASSERT_EQ(advise(self->fd, self->ctx, a, 2 * MB, DRM_SVMGPU_ATTR_PREFERRED_LOC,
			 DRM_SVMGPU_LOC_DEVICE), 0);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 1, &st), 0);
	ret = sg_run_ok(self->fd, self->q, sg_copy(a + MB, a, span));
	ASSERT_EQ(sg_write_file(param, old), 0);
	ASSERT_EQ(ret, 0);
	for (i = 0; i < 2 * MB && bad < 0; i++)
		if (a[i] != pat(i >= MB && i < MB + span ? i - MB : i, 0x19))
			bad = (long)i;
	EXPECT_EQ(bad, -1);
	EXPECT_GE(sg_residency(self->fd, a, 2 * MB), (long long)(2 * MB / PAGE) - BUSY_SLACK);
	/* The faults placed pages (BUSY_SLACK alone lets residency be 0). */
	EXPECT_GT(sg_devmem_value("fault_to_device_pages"), fp0);
	/* One fault per page, a few more for retries; never a loop. */
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 0, &st), 0);
	EXPECT_LE(st.faults, 4 * 2 * span / PAGE);
	munmap(a, 2 * MB);
}

/* Offset of the first byte of p[0, n) that is not @v, or -1. */
static long check_byte(const unsigned char *p, size_t n, unsigned char v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != v)
			return (long)i;
	return -1;
}

/*
 * Pages that move back to system memory lose the device's translations of
 * their old place: after a CPU access moved them (migrate_to_ram, device-
 * private memory only) and after a PREFETCH to system memory, a device
 * FILL through the writable mappings it had lands in the new pages, where
 * the CPU reads it.  a is in 4 KiB pages: no THP split unmaps it anyway.
 */
TEST_F(adv, moves_to_system_memory_remove_the_old_device_mappings)
{
	size_t size = 2 * MB, n = size / PAGE;
	unsigned char *a = sg_map_2m(size);
	uint64_t pages = 0;

	if (!self->local)
		SKIP(return, "the device has no local memory");
	ASSERT_NE(a, NULL);
	ASSERT_EQ(madvise(a, size, MADV_NOHUGEPAGE), 0);
	memset(a, 0x10, size);

	/* The device maps a in device memory, writable; the CPU reads it. */
	ASSERT_EQ(prefetch_resident(self->fd, a, size), (long long)n);
	ASSERT_EQ(dev_fill(self->fd, self->q, a, size, 0x11), 0);
	EXPECT_EQ(check_byte(a, size, 0x11), -1);
	ASSERT_EQ(dev_fill(self->fd, self->q, a, size, 0x22), 0);
	EXPECT_EQ(check_byte(a, size, 0x22), -1);

	/* The same with PREFETCH to system memory (both memory types). */
	ASSERT_EQ(prefetch_resident(self->fd, a, size), (long long)n);
	ASSERT_EQ(dev_fill(self->fd, self->q, a, size, 0x33), 0);
	ASSERT_EQ(sg_prefetch(self->fd, a, size, DRM_SVMGPU_PREFETCH_SYSTEM, &pages), 0);
	EXPECT_EQ(pages, (uint64_t)n);
	EXPECT_EQ(sg_residency(self->fd, a, size), 0ll);
	ASSERT_EQ(dev_fill(self->fd, self->q, a, size, 0x44), 0);
	EXPECT_EQ(check_byte(a, size, 0x44), -1);
	munmap(a, size);
}

/*
 * A migration that selects pages but cannot move them (a pipe holds a
 * reference: vmsplice'd, not read) leaves their device mappings alone.  a
 * is resident but for PINNED pages in a row, and the device maps all of
 * it; PREFETCH to the device hands that run to migrate_vma_setup(), whose
 * MMU_NOTIFY_MIGRATE announces it, and moves none of it: the device's next
 * COPY of a faults at most once (the notifiers unmapping the run: PINNED
 * pages unmapped).
 */
#define PINNED	16	/* a pipe's default capacity in pages */

TEST_F(adv, migration_that_cannot_move_pinned_pages_keeps_device_mappings)
{
	size_t size = 2 * MB, n = size / PAGE;
	unsigned char *a = sg_map_2m(size), *b = sg_map_2m(size);
	unsigned char *pin;
	struct drm_svmgpu_get_stats st;
	struct iovec iov;
	uint64_t pages = 1;
	int p[2];

	if (!self->local)
		SKIP(return, "the device has no local memory");
	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	ASSERT_EQ(madvise(a, size, MADV_NOHUGEPAGE), 0);
	ASSERT_EQ(madvise(b, size, MADV_NOHUGEPAGE), 0);
	fill_pat(a, size, 0x4c);
	memset(b, 0, size);
	ASSERT_EQ(prefetch_resident(self->fd, a, size), (long long)n);
	pin = a + 7 * PAGE;
	ASSERT_EQ(sg_prefetch(self->fd, pin, PINNED * PAGE, DRM_SVMGPU_PREFETCH_SYSTEM,
			      &pages), 0);
	ASSERT_EQ(pages, (uint64_t)PINNED);
	ASSERT_EQ(pipe(p), 0);
	iov.iov_base = pin;
	iov.iov_len = PINNED * PAGE;
	ASSERT_EQ(vmsplice(p[1], &iov, 1, 0), (ssize_t)(PINNED * PAGE));
	ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
	EXPECT_EQ(check_pat(b, size, 0x4c), -1);

	ASSERT_EQ(sg_stats(self->fd, self->ctx, 1, &st), 0);
	pages = 1;
	ASSERT_EQ(sg_prefetch(self->fd, a, size, DRM_SVMGPU_PREFETCH_DEVICE, &pages), 0);
	EXPECT_EQ(pages, 0ull);
	EXPECT_EQ(sg_residency(self->fd, a, size), (long long)n - PINNED);
	memset(b, 0, size);
	ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 0, &st), 0);
	EXPECT_LE(st.faults, 1ull);
	EXPECT_LE(st.pages_unmapped, 1ull);
	EXPECT_EQ(check_pat(b, size, 0x4c), -1);
	close(p[0]);
	close(p[1]);
	munmap(a, size);
	munmap(b, size);
}

/*
 * The first interval notifier of a process registers the mm's interval
 * tree, which takes every lock of the mm and gives up if any signal is
 * pending: its first CTX_CREATE (which registers it, so that no device
 * fault or ADVISE does it inside the device's sections), or a RESIDENCY
 * before any context.  With a handler installed with SA_RESTART, such a
 * signal restarts the ioctl, as for every other one.  Before, ADVISE and
 * RESIDENCY returned -EINTR, which neither documents.  Each round is a
 * fresh process (a fresh mm) under SIGALRM every 20 us, with the ioctls
 * called directly (no retry on EINTR): a CTX_CREATE and an ADVISE, or a
 * RESIDENCY.
 */
static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	static const struct itimerval off;

	/* enough to hit the window; fewer, should a restart meet one each time */
	if (++alarms == 2000)
		setitimer(ITIMER_REAL, &off, NULL);
}

static int first_notifier_child(int residency)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	struct itimerval it = { .it_interval = { 0, 20 }, .it_value = { 0, 20 } };
	struct itimerval off = { 0 };
	struct drm_svmgpu_ctx_create cc = { 0 };
	unsigned char *p = sg_map_anon(16 * PAGE);
	int fd = sg_open(), ret;

	if (fd < 0 || !p)
		return 100;
	p[0] = 1;
	if (sigaction(SIGALRM, &sa, NULL) || setitimer(ITIMER_REAL, &it, NULL))
		return 101;
	if (residency) {
		struct drm_svmgpu_residency rs = {
			.start = (uintptr_t)p, .size = 16 * PAGE,
		};

		ret = ioctl(fd, DRM_IOCTL_SVMGPU_RESIDENCY, &rs) ? -errno : 0;
	} else if (ioctl(fd, DRM_IOCTL_SVMGPU_CTX_CREATE, &cc)) {
		ret = -errno;
	} else {
		struct drm_svmgpu_advise a = {
			.ctx_handle = cc.handle, .op = DRM_SVMGPU_ADVISE_SET,
			.start = (uintptr_t)p, .size = 16 * PAGE,
			.attr = DRM_SVMGPU_ATTR_READ_MOSTLY, .value = 1,
		};

		ret = ioctl(fd, DRM_IOCTL_SVMGPU_ADVISE, &a) ? -errno : 0;
	}
	setitimer(ITIMER_REAL, &off, NULL);
	if (ret) {
		fprintf(stderr, "# %s: %d (%s), %d alarms\n",
			residency ? "RESIDENCY" : "CTX_CREATE or ADVISE",
			ret, strerror(-ret), (int)alarms);
		return ret == -EINTR ? 1 : 2;
	}
	/* A signal came while the ioctl ran (else the round proves nothing). */
	return alarms ? 0 : 3;
}

TEST_TIMEOUT(300)
TEST_F(adv, first_notifier_of_a_process_restarts_after_a_signal)
{
	int round, kind, status, counts[4] = { 0 };
	pid_t pid;

	for (round = 0; round < 60; round++) {
		kind = self->local ? round & 1 : 0;	/* RESIDENCY needs local memory */
		pid = fork();
		ASSERT_GE(pid, 0);
		if (!pid)
			_exit(first_notifier_child(kind));
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_LT(WEXITSTATUS(status), 4);
		counts[WEXITSTATUS(status)]++;
	}
	TH_LOG("60 rounds: %d restarted cleanly with a signal, %d without one, %d -EINTR, %d other errors",
	       counts[0], counts[3], counts[1], counts[2]);
	EXPECT_EQ(counts[1], 0);
	EXPECT_EQ(counts[2], 0);
	EXPECT_GT(counts[0], 0);
}

/*
 * A notifier chunk (chunk_shift, 64 MiB) is unreclaimable kernel memory
 * kept until the last context goes.  An ADVISE over a huge PROT_NONE
 * reservation, which costs the process nothing, made one per chunk:
 * 524,288 for 32 TiB, some 50 MiB of slab.  Past max_chunks the ADVISE is
 * refused whole (-ENOMEM, debugfs chunks_refused) and nothing is set;
 * small ranges still work.  A process with max_chunks chunks has its
 * device faults in a new chunk cancelled at once, and those in its chunks
 * still resolved, even once max_chunks is lowered below what it holds.
 */
TEST_TIMEOUT(120)
TEST_F(adv, advice_over_a_huge_reservation_is_refused_past_max_chunks)
{
	size_t huge = 32ull << 40, chunk;
	long long refused = sg_dev_counter("chunks_refused"), shift;
	unsigned char *r, *b;
	uint64_t same;
	int status, i;
	double t0;
	pid_t pid;

	shift = sg_param_read("chunk_shift");
	if (shift < 21 || sg_param_read("max_chunks") < 0 || refused < 0)
		SKIP(return, "no chunk_shift, max_chunks or chunks_refused");
	ASSERT_EQ(sg_param_read("max_chunks"), 262144);
	r = mmap(NULL, huge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED)
		SKIP(return, "no 32 TiB of address space: %s", strerror(errno));
	t0 = sg_now_s();
	EXPECT_EQ(advise(self->fd, self->ctx, r, huge, DRM_SVMGPU_ATTR_READ_MOSTLY, 1), -ENOMEM);
	TH_LOG("ADVISE of 32 TiB refused after %.3f s", sg_now_s() - t0);
	EXPECT_EQ(sg_dev_counter("chunks_refused"), refused + 1);
	EXPECT_EQ(advice_at(self->fd, self->ctx, r + (huge >> 1), PAGE, &same), 0);
	EXPECT_EQ(advise(self->fd, self->ctx, r, 4 * MB, DRM_SVMGPU_ATTR_READ_MOSTLY, 1), 0);
	EXPECT_EQ(advice_at(self->fd, self->ctx, r, PAGE, &same),
		  (long long)DRM_SVMGPU_ADVICE_READ_MOSTLY);
	EXPECT_EQ(munmap(r, huge), 0);

	/* A new process (its own chunks) under max_chunks 2: a third chunk is refused. */
	chunk = 1ull << shift;
	b = mmap(NULL, 4 * chunk, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(b, MAP_FAILED);
	b = (unsigned char *)(((uintptr_t)b + chunk - 1) & ~(uintptr_t)(chunk - 1));
	for (i = 0; i < 3; i++)
		memset(b + i * chunk, 0x11 * (i + 1), PAGE);
	ASSERT_EQ(svmgpu_test_restore_file(SG_PARAMS "max_chunks"), 0);
	ASSERT_EQ(sg_param_write("max_chunks", 2), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		/* Exits with the number of the first check that failed. */
		int fd = sg_open(), step = 0;
		uint32_t c, q;

#define CHECK(cond) do { step++; if (!(cond)) _exit(step); } while (0)
		CHECK(fd >= 0 && !sg_ctx_create(fd, &c) && !sg_queue_create(fd, c, 0, &q));
		CHECK(sg_run_ok(fd, q, sg_fill(b, PAGE, 0xa1, 1)) == 0);
		CHECK(sg_run_ok(fd, q, sg_fill(b + chunk, PAGE, 0xa2, 1)) == 0);
		CHECK(sg_run_ok(fd, q, sg_fill(b + 2 * chunk, PAGE, 0xa3, 1)) != 0);
		CHECK(sg_run_ok(fd, q, sg_fill(b + PAGE, PAGE, 0xa4, 1)) == 0);
		CHECK(sg_all_bytes(b, 0xa1, PAGE));
		CHECK(sg_all_bytes(b + chunk, 0xa2, PAGE));
		CHECK(sg_all_bytes(b + 2 * chunk, 0x33, PAGE));
		CHECK(sg_all_bytes(b + PAGE, 0xa4, PAGE));
		/* Lowered below the two it holds: they keep working. */
		CHECK(sg_param_write("max_chunks", 1) == 0);
		CHECK(sg_run_ok(fd, q, sg_fill(b + chunk + PAGE, PAGE, 0xa5, 1)) == 0);
		CHECK(sg_all_bytes(b + chunk + PAGE, 0xa5, PAGE));
		CHECK(sg_run_ok(fd, q, sg_fill(b + 2 * chunk, PAGE, 0xa6, 1)) != 0);
		CHECK(sg_all_bytes(b + 2 * chunk, 0x33, PAGE));
#undef CHECK
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_EQ(sg_param_write("max_chunks", 262144), 0);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
	/*
	 * Each fault in the third chunk refused and cancelled, not retried as an
	 * out-of-memory (which refused it 9 times); resolving a batch may
	 * look a chunk up twice.
	 */
	EXPECT_GE(sg_dev_counter("chunks_refused"), refused + 3);
	EXPECT_LE(sg_dev_counter("chunks_refused"), refused + 5);
}

/* Ranges with advice in [@p, @p + @size), walked with GET; -errno on error. */
static long long advised_ranges(int fd, uint32_t ctx, unsigned char *p, size_t size)
{
	unsigned char *end = p + size;
	long long n = 0, bits;
	uint64_t same;

	while (p < end) {
		bits = advice_at(fd, ctx, p, end - p, &same);
		if (bits < 0)
			return bits;
		if (!same)
			return -EPROTO;
		n += bits != 0;
		p += same;
	}
	return n;
}

/*
 * advice_max_ranges at its default, written back however the test ends;
 * false without the parameter.
 */
static bool max_ranges_saved(void)
{
	if (sg_param_read("advice_max_ranges") < 0)
		return false;
	ASSERT_EQ(sg_param_read("advice_max_ranges"), 65536);
	ASSERT_EQ(svmgpu_test_restore_file(SG_PARAMS "advice_max_ranges"), 0);
	return true;
}

/*
 * Each hole munmap() punches in an advised range splits it, and a loop of
 * munmap() and mmap(MAP_FIXED) of single pages (the VMAs merge back, so
 * max_map_count does not stop it) grew an svm's tree without bound.  With
 * advice_max_ranges 16: the holes split the range until it is 16 ranges,
 * later holes keep their advice (a hint, never data); a SET that splits
 * nothing and fills no gap still works there, one that could pass the cap
 * fails with -ENOMEM, nothing changed; unmapping the whole buffer
 * erases everything (no split, always done) and makes room again.
 */
TEST_F(adv, munmap_holes_stop_splitting_at_advice_max_ranges)
{
	size_t size = 64 * PAGE;
	unsigned char *p = sg_map_anon(size);
	int fd = self->fd, i;
	uint32_t c = self->ctx;
	uint64_t same;

	ASSERT_NE(p, NULL);
	if (!max_ranges_saved())
		SKIP(return, "no advice_max_ranges");
	ASSERT_EQ(sg_param_write("advice_max_ranges", 16), 0);
	ASSERT_EQ(advise(fd, c, p, size, DRM_SVMGPU_ATTR_READ_MOSTLY, 1), 0);
	for (i = 1; i < 64; i += 2)
		ASSERT_EQ(unmap_and_map_again(p + i * PAGE, PAGE), 0);
	/*
	 * Without the cap: 32 ranges, one per page left advised.  With it:
	 * pages 0, 2, ..., 28 (the first 15 holes split), then [30, 63) as one,
	 * holes 31 to 61 left advised; hole 63 trims the range's end, which
	 * splits nothing, so it goes.
	 */
	EXPECT_EQ(advised_ranges(fd, c, p, size), 16);
	EXPECT_EQ(advice_at(fd, c, p + PAGE, PAGE, &same), 0);
	EXPECT_EQ(advice_at(fd, c, p + 30 * PAGE, size - 30 * PAGE, &same),
		  (long long)DRM_SVMGPU_ADVICE_READ_MOSTLY);
	EXPECT_EQ(same, 33 * PAGE);
	EXPECT_EQ(advice_at(fd, c, p + 63 * PAGE, PAGE, &same), 0);
	/* At the cap, a SET that splits nothing and fills no gap still works. */
	EXPECT_EQ(advise(fd, c, p + 30 * PAGE, 33 * PAGE, DRM_SVMGPU_ATTR_ACCESSED_BY, 1), 0);
	EXPECT_EQ(advice_at(fd, c, p + 30 * PAGE, size - 30 * PAGE, &same),
		  (long long)(DRM_SVMGPU_ADVICE_READ_MOSTLY | DRM_SVMGPU_ADVICE_ACCESSED_BY));
	EXPECT_EQ(same, 33 * PAGE);
	EXPECT_EQ(advise(fd, c, p + 30 * PAGE, 33 * PAGE, DRM_SVMGPU_ATTR_ACCESSED_BY, 0), 0);
	/* One that fills the 16 gaps could pass it: -ENOMEM, nothing changed. */
	EXPECT_EQ(advise(fd, c, p, size, DRM_SVMGPU_ATTR_ACCESSED_BY, 1), -ENOMEM);
	EXPECT_EQ(advice_at(fd, c, p, PAGE, &same), (long long)DRM_SVMGPU_ADVICE_READ_MOSTLY);
	EXPECT_EQ(same, PAGE);
	EXPECT_EQ(advised_ranges(fd, c, p, size), 16);

	ASSERT_EQ(munmap(p, size), 0);
	EXPECT_EQ(advised_ranges(fd, c, p, size), 0);
	p = sg_map_anon(size);
	ASSERT_NE(p, NULL);
	EXPECT_EQ(advise(fd, c, p, size, DRM_SVMGPU_ATTR_ACCESSED_BY, 1), 0);
	EXPECT_EQ(advice_at(fd, c, p, size, &same), (long long)DRM_SVMGPU_ADVICE_ACCESSED_BY);
	EXPECT_EQ(same, size);
	ASSERT_EQ(sg_param_write("advice_max_ranges", 65536), 0);
	munmap(p, size);
}

/*
 * advice_max_ranges lowered at run time below the ranges an svm already
 * has (16 three-page ranges, the cap set to 8): nothing is dropped, and
 * the svm is held where it is.  An update that adds no range still goes
 * (advice changed over exactly one range, a hole that trims a range's
 * end); one that would split a range or fill a gap fails with -ENOMEM,
 * nothing changed; a hole that would split a range keeps its advice.
 * Clearing all of it adds nothing, so it goes, and the next SET counts the
 * tree again (the counter, an upper bound, still says 16) and finds room.
 */
TEST_F(adv, advice_max_ranges_lowered_below_what_an_svm_has)
{
	size_t size = 64 * PAGE;
	unsigned char *p = sg_map_anon(size);
	int fd = self->fd, i;
	uint32_t c = self->ctx;
	uint64_t same;

	ASSERT_NE(p, NULL);
	if (!max_ranges_saved())
		SKIP(return, "no advice_max_ranges");
	for (i = 0; i < 16; i++)
		ASSERT_EQ(advise(fd, c, p + 4 * i * PAGE, 3 * PAGE,
				 DRM_SVMGPU_ATTR_READ_MOSTLY, 1), 0);
	ASSERT_EQ(advised_ranges(fd, c, p, size), 16);
	ASSERT_EQ(sg_param_write("advice_max_ranges", 8), 0);

	/* Over exactly one range: no range added. */
	EXPECT_EQ(advise(fd, c, p, 3 * PAGE, DRM_SVMGPU_ATTR_ACCESSED_BY, 1), 0);
	EXPECT_EQ(advice_at(fd, c, p, 3 * PAGE, &same),
		  (long long)(DRM_SVMGPU_ADVICE_READ_MOSTLY | DRM_SVMGPU_ADVICE_ACCESSED_BY));
	EXPECT_EQ(same, 3 * PAGE);
	EXPECT_EQ(advise(fd, c, p, 3 * PAGE, DRM_SVMGPU_ATTR_ACCESSED_BY, 0), 0);
	/* A split, a gap filled: -ENOMEM, the advice as it was. */
	EXPECT_EQ(advise(fd, c, p + PAGE, PAGE, DRM_SVMGPU_ATTR_ACCESSED_BY, 1), -ENOMEM);
	EXPECT_EQ(advise(fd, c, p + 3 * PAGE, PAGE, DRM_SVMGPU_ATTR_READ_MOSTLY, 1), -ENOMEM);
	EXPECT_EQ(advice_at(fd, c, p, 4 * PAGE, &same), (long long)DRM_SVMGPU_ADVICE_READ_MOSTLY);
	EXPECT_EQ(same, 3 * PAGE);
	EXPECT_EQ(advice_at(fd, c, p + 3 * PAGE, PAGE, &same), 0);
	EXPECT_EQ(advised_ranges(fd, c, p, size), 16);

	/* A hole at a range's end goes; one in its middle keeps the advice. */
	ASSERT_EQ(unmap_and_map_again(p + 6 * PAGE, PAGE), 0);
	ASSERT_EQ(unmap_and_map_again(p + 9 * PAGE, PAGE), 0);
	EXPECT_EQ(advice_at(fd, c, p + 4 * PAGE, 3 * PAGE, &same),
		  (long long)DRM_SVMGPU_ADVICE_READ_MOSTLY);
	EXPECT_EQ(same, 2 * PAGE);
	EXPECT_EQ(advice_at(fd, c, p + 8 * PAGE, 3 * PAGE, &same),
		  (long long)DRM_SVMGPU_ADVICE_READ_MOSTLY);
	EXPECT_EQ(same, 3 * PAGE);
	EXPECT_EQ(advised_ranges(fd, c, p, size), 16);

	/* Cleared over the whole buffer: no split, so it goes; then room again. */
	EXPECT_EQ(advise(fd, c, p, size, DRM_SVMGPU_ATTR_READ_MOSTLY, 0), 0);
	EXPECT_EQ(advised_ranges(fd, c, p, size), 0);
	EXPECT_EQ(advise(fd, c, p + PAGE, PAGE, DRM_SVMGPU_ATTR_ACCESSED_BY, 1), 0);
	EXPECT_EQ(advice_at(fd, c, p + PAGE, PAGE, &same), (long long)DRM_SVMGPU_ADVICE_ACCESSED_BY);
	EXPECT_EQ(advised_ranges(fd, c, p, size), 1);
	ASSERT_EQ(sg_param_write("advice_max_ranges", 65536), 0);
	munmap(p, size);
}

/* The stuck process's threads (below): the ADVISE and the destroyer. */
struct adv_behind {
	int fd;
	uint32_t ctx, q;
	pid_t creator;		/* its CTX_CREATE waits for the mmap_lock */
	pid_t adviser;		/* the ADVISE's thread, once it runs */
	unsigned char *buf;
	int ready;
	int advised;		/* the ADVISE's return */
	int destroyed[2];	/* QUEUE_DESTROY's and CTX_DESTROY's */
};

/* Stack touched before the stall: no page fault behind the mmap_lock writer. */
#define BEHIND_STACK	(256 * 1024)

static void *advise_behind_creator(void *arg)
{
	struct adv_behind *b = arg;
	char task[48];
	int i;

	__atomic_store_n(&b->adviser, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	snprintf(task, sizeof(task), "/proc/self/task/%d", (int)b->creator);
	for (i = 0; i < 8000 && !sg_asleep_in_ioctl(task, DRM_IOCTL_SVMGPU_CTX_CREATE, "D"); i++) {
		__atomic_store_n(&b->ready, 1, __ATOMIC_RELEASE);
		usleep(5000);
	}
	b->advised = advise(b->fd, b->ctx, b->buf, 2 * MB, DRM_SVMGPU_ATTR_READ_MOSTLY, 1);
	return NULL;
}

static void *destroy_behind_advise(void *arg)
{
	struct adv_behind *b = arg;
	char task[48];
	pid_t tid;
	int i;

	for (i = 0; i < 2000 && !(tid = __atomic_load_n(&b->adviser, __ATOMIC_ACQUIRE)); i++)
		usleep(5000);
	snprintf(task, sizeof(task), "/proc/self/task/%d", (int)tid);
	for (i = 0; i < 8000 && !sg_asleep_in_ioctl(task, DRM_IOCTL_SVMGPU_ADVISE, "D"); i++)
		usleep(5000);
	b->destroyed[0] = sg_queue_destroy(b->fd, b->q);
	b->destroyed[1] = sg_ctx_destroy(b->fd, b->ctx);
	return NULL;
}

/*
 * An ADVISE waiting for its process's mmap_lock holds no reference to the
 * svm (svmgpu_advise_lock_mm()), so the svm's last context can be torn
 * down meanwhile, with the device bound: a fault of the process stalled
 * 8 s holds the lock for reading, a CTX_CREATE (another file) waits for it
 * for writing, the ADVISE behind it; another thread destroys the ADVISE's
 * queue and context, the svm's last.  Once the lock is free, the ADVISE
 * finds the svm gone (looked up again by its serial) and fails with
 * -ENODEV, the destroy returns 0 (its teardown waited for the stalled
 * fault), the CTX_CREATE gets a new svm, and the buffer keeps its bytes.
 */
TEST_TIMEOUT(120)
TEST(advise_whose_address_space_is_torn_down_while_it_waits)
{
	char inject[256];
	long long before = sg_dev_counter("fault_delays_injected");
	int st = 0;
	pid_t pid;

	if (sg_debugfs_path("svmgpu_inject_fault_delay", inject, sizeof(inject)) || before < 0)
		SKIP(return, "no debugfs fault-delay hook");
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		struct adv_behind b = { .creator = getpid() };
		unsigned char *p, *stack[2];
		long long waits0, waits;
		struct svmgpu_cmd fill;
		pthread_t t[2];
		uint32_t ctx2;
		int i, fd2, ret;

		prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
		b.fd = sg_child_queue(&p, &b.ctx, &b.q);
		fill = sg_fill(p, PAGE, 0x7e, 1);
		b.buf = sg_map_anon(2 * MB);
		fd2 = sg_open();
		if (b.fd < 0 || fd2 < 0 || !b.buf)
			_exit(11);
		memset(b.buf, 0x6a, 2 * MB);
		for (i = 0; i < 2; i++) {
			pthread_attr_t attr;

			stack[i] = sg_map_anon(BEHIND_STACK);
			if (!stack[i])
				_exit(12);
			memset(stack[i], 0, BEHIND_STACK);
			if (pthread_attr_init(&attr) ||
			    pthread_attr_setstack(&attr, stack[i], BEHIND_STACK) ||
			    pthread_create(&t[i], &attr,
					   i ? destroy_behind_advise : advise_behind_creator, &b))
				_exit(12);
		}
		for (i = 0; i < 2000 && !__atomic_load_n(&b.ready, __ATOMIC_ACQUIRE); i++)
			usleep(5000);
		waits0 = sg_dev_counter("mm_lock_waits");
		ret = sg_stall_fault(inject, 8000, b.fd, b.q, &fill, before);
		if (ret)
			_exit(12 + ret);
		if (sg_ctx_create(fd2, &ctx2))
			_exit(16);
		for (i = 0; i < 2; i++)
			if (pthread_join(t[i], NULL))
				_exit(17);
		waits = sg_dev_counter("mm_lock_waits");
		if (b.advised != -ENODEV || b.destroyed[0] || b.destroyed[1] || waits <= waits0) {
			fprintf(stderr, "# ADVISE %d (expected %d), QUEUE_DESTROY %d, CTX_DESTROY %d, mm_lock_waits %lld -> %lld\n",
				b.advised, -ENODEV, b.destroyed[0], b.destroyed[1], waits0, waits);
			_exit(18);
		}
		_exit(sg_all_bytes(b.buf, 0x6a, 2 * MB) ? 0 : 19);
	}
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(WEXITSTATUS(st), 0);
	EXPECT_EQ(sg_dev_counter("gone"), 0);
}

TEST_HARNESS_MAIN
