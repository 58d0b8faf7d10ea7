// SPDX-License-Identifier: MIT
/*
 * svm_reclaim: what the device writes survives whatever the kernel's memory
 * management does to the page afterwards.  The device writes through DMA,
 * which the CPU page tables never see; the driver marks every page it had
 * mapped writable dirty when the mapping goes, so that reclaim writes it out
 * (or keeps it) instead of discarding it.  Each scenario writes with the
 * device, lets the kernel reclaim or write back, and checks every byte.
 *
 * Issue 10, case 1: memory given back with MADV_FREE (as malloc does), then
 * written by the device, then reclaimed: the CPU used to read zeroes.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "svmgpu_guest.h"
#include "svmgpu_test.h"

#define PAGE	4096ul
#define MB	(1024ul * 1024)

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif

FIXTURE(reclaim) {
	int fd;
	uint32_t ctx;
	uint32_t q;
};

FIXTURE_SETUP(reclaim)
{
	self->fd = sg_open();
	if (self->fd < 0)
		SKIP(return, "no render node: %s", strerror(errno));
	ASSERT_EQ(sg_ctx_create(self->fd, &self->ctx), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &self->q), 0);
}

FIXTURE_TEARDOWN(reclaim)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* Anonymous memory in small pages: THP would make the kernel's own choices. */
static unsigned char *map_small(size_t size, int flags)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, size, MADV_NOHUGEPAGE);
	return p;
}

/* Index of the first byte that is not @v, or @n. */
static size_t first_not(const unsigned char *p, int v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != (unsigned char)v)
			break;
	return i;
}

/*
 * A CPU-only control beside each scenario: lazy-free pages the device never
 * touched must be discarded by MADV_PAGEOUT, or the scenario proves nothing.
 */
static int lazyfree_is_discarded(void)
{
	size_t size = 16 * PAGE;
	unsigned char *c = map_small(size, MAP_PRIVATE | MAP_ANONYMOUS);
	int ret;

	if (!c)
		return 0;
	memset(c, 0x22, size);
	if (madvise(c, size, MADV_FREE) || madvise(c, size, MADV_PAGEOUT)) {
		munmap(c, size);
		return 0;
	}
	ret = first_not(c, 0, size) == size;
	munmap(c, size);
	return ret;
}

/* Issue 10 case 1: MADV_FREE, device FILL, MADV_PAGEOUT. */
TEST_F(reclaim, madv_free_then_device_fill_then_pageout)
{
	size_t size = 64 * PAGE;
	unsigned char *p = map_small(size, MAP_PRIVATE | MAP_ANONYMOUS);

	ASSERT_NOT_NULL(p);
	if (!lazyfree_is_discarded())
		SKIP(return, "MADV_PAGEOUT does not discard lazy-free pages here");
	memset(p, 0x11, size);
	ASSERT_EQ(madvise(p, size, MADV_FREE), 0);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(p, size, 0x5a, 1)), 0);
	ASSERT_EQ(madvise(p, size, MADV_PAGEOUT), 0);
	EXPECT_EQ(first_not(p, 0x5a, size), size);
}

/* The same with never-touched pages in between and writes of other kinds. */
TEST_F(reclaim, madv_free_then_device_atomic_and_signal_then_pageout)
{
	size_t size = 16 * PAGE, i;
	unsigned char *p = map_small(size, MAP_PRIVATE | MAP_ANONYMOUS);
	uint64_t *w = (uint64_t *)p;

	ASSERT_NOT_NULL(p);
	if (!lazyfree_is_discarded())
		SKIP(return, "MADV_PAGEOUT does not discard lazy-free pages here");
	for (i = 0; i < size; i += 2 * PAGE)
		memset(p + i, 0, PAGE);	/* even pages present, odd ones never touched */
	ASSERT_EQ(madvise(p, size, MADV_FREE), 0);
	for (i = 0; i < size / PAGE; i++) {
		uint64_t *word = &w[i * PAGE / 8 + 3];

		if (i % 2)
			ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_signal(word, 0x1000 + i)), 0);
		else
			ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_atomic_add(word, 0x1000 + i, 8)), 0);
	}
	ASSERT_EQ(madvise(p, size, MADV_PAGEOUT), 0);
	for (i = 0; i < size / PAGE; i++)
		EXPECT_EQ(w[i * PAGE / 8 + 3], 0x1000 + i);
}

/*
 * The device mapping goes before reclaim does: mprotect() removes the
 * writable device leaves (the driver marks the pages dirty then), and the
 * later reclaim must still keep the data.
 */
TEST_F(reclaim, madv_free_device_fill_mprotect_then_pageout)
{
	size_t size = 32 * PAGE;
	unsigned char *p = map_small(size, MAP_PRIVATE | MAP_ANONYMOUS);

	ASSERT_NOT_NULL(p);
	if (!lazyfree_is_discarded())
		SKIP(return, "MADV_PAGEOUT does not discard lazy-free pages here");
	memset(p, 0x11, size);
	ASSERT_EQ(madvise(p, size, MADV_FREE), 0);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(p, size, 0x6b, 1)), 0);
	ASSERT_EQ(mprotect(p, size, PROT_READ), 0);
	ASSERT_EQ(mprotect(p, size, PROT_READ | PROT_WRITE), 0);
	ASSERT_EQ(madvise(p, size, MADV_PAGEOUT), 0);
	EXPECT_EQ(first_not(p, 0x6b, size), size);
}

/*
 * The address space's device mirror is torn down (last context destroyed)
 * while it maps written pages: the teardown marks them dirty.
 */
TEST(madv_free_device_fill_last_context_destroyed_then_pageout)
{
	size_t size = 32 * PAGE;
	unsigned char *p = map_small(size, MAP_PRIVATE | MAP_ANONYMOUS);
	uint32_t ctx, q;
	int fd = sg_open();

	if (fd < 0)
		SKIP(return, "no render node: %s", strerror(errno));
	ASSERT_NOT_NULL(p);
	if (!lazyfree_is_discarded())
		SKIP(return, "MADV_PAGEOUT does not discard lazy-free pages here");
	ASSERT_EQ(sg_ctx_create(fd, &ctx), 0);
	ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q), 0);
	memset(p, 0x11, size);
	ASSERT_EQ(madvise(p, size, MADV_FREE), 0);
	ASSERT_EQ(sg_run_ok(fd, q, sg_fill(p, size, 0x7c, 1)), 0);
	ASSERT_EQ(sg_queue_destroy(fd, q), 0);
	ASSERT_EQ(sg_ctx_destroy(fd, ctx), 0);
	close(fd);
	ASSERT_EQ(madvise(p, size, MADV_PAGEOUT), 0);
	EXPECT_EQ(first_not(p, 0x7c, size), size);
}

static int swap_active(void)
{
	char buf[256] = "";
	int f = open("/proc/swaps", O_RDONLY), n;

	if (f < 0)
		return 0;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	/* The header line only means no swap. */
	return n > 0 && strchr(buf, '\n') && strchr(buf, '\n')[1];
}

/*
 * Shared anonymous memory (shmem) the CPU only read: its PTEs are writable
 * and clean.  The device writes, reclaim runs (to swap when there is any;
 * without swap a clean shmem page can still be dropped), every byte stays.
 */
TEST_F(reclaim, shmem_read_by_cpu_then_device_fill_then_pageout)
{
	size_t size = 64 * PAGE, i;
	unsigned char *p = map_small(size, MAP_SHARED | MAP_ANONYMOUS);
	unsigned char vec[64];
	volatile unsigned char sink = 0;
	int resident = 0;

	ASSERT_NOT_NULL(p);
	for (i = 0; i < size; i += PAGE)
		sink += p[i];
	(void)sink;
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(p, size, 0x3c, 1)), 0);
	ASSERT_EQ(madvise(p, size, MADV_PAGEOUT), 0);
	ASSERT_EQ(mincore(p, size, vec), 0);
	for (i = 0; i < size / PAGE; i++)
		resident += vec[i] & 1;
	TH_LOG("swap %s; %d of 64 pages resident after MADV_PAGEOUT",
	       swap_active() ? "on" : "off", resident);
	EXPECT_EQ(first_not(p, 0x3c, size), size);

	/* And once more after a CPU write in between (dirty PTEs). */
	memset(p, 0x01, size);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(p + PAGE, size - 2 * PAGE, 0x3d, 1)), 0);
	ASSERT_EQ(madvise(p, size, MADV_PAGEOUT), 0);
	EXPECT_EQ(first_not(p, 0x01, PAGE), PAGE);
	EXPECT_EQ(first_not(p + PAGE, 0x3d, size - 2 * PAGE), size - 2 * PAGE);
	EXPECT_EQ(first_not(p + size - PAGE, 0x01, PAGE), PAGE);
}

static int thp_enabled(void)
{
	char buf[128] = "";
	int f = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY);

	if (f < 0)
		return 0;
	if (read(f, buf, sizeof(buf) - 1) < 0)
		buf[0] = 0;
	close(f);
	return !strstr(buf, "[never]");
}

static unsigned char *map_thp(unsigned char **raw)
{
	size_t size = 2 * MB;
	unsigned char *p;

	*raw = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*raw == MAP_FAILED)
		return NULL;
	p = (unsigned char *)(((uintptr_t)*raw + size - 1) & ~(size - 1));
	if (madvise(p, size, MADV_HUGEPAGE))
		return NULL;
	memset(p, 0x11, size);
	return p;
}

/* A lazy-free huge page written through a 2 MiB device leaf, then reclaimed. */
TEST_F(reclaim, thp_madv_free_device_fill_then_pageout)
{
	size_t size = 2 * MB;
	struct drm_svmgpu_get_stats st;
	unsigned char *raw, *p;

	if (!thp_enabled())
		SKIP(return, "THP disabled");
	p = map_thp(&raw);
	ASSERT_NOT_NULL(p);
	ASSERT_EQ(madvise(p, size, MADV_FREE), 0);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 1, &st), 0);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(p, size, 0x4e, 1)), 0);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 0, &st), 0);
	TH_LOG("2 MiB device leaves: %llu", (unsigned long long)st.huge_2m_mapped);
	ASSERT_EQ(madvise(p, size, MADV_PAGEOUT), 0);
	EXPECT_EQ(first_not(p, 0x4e, size), size);
}

/*
 * The huge page is split under the device: MADV_DONTNEED of its second half
 * splits the PMD (the device's 2 MiB leaf goes), then the first half is
 * reclaimed.  The first half keeps the device's data, the second reads zero.
 */
TEST_F(reclaim, thp_device_fill_split_by_dontneed_then_pageout)
{
	size_t size = 2 * MB;
	unsigned char *raw, *p;

	if (!thp_enabled())
		SKIP(return, "THP disabled");
	p = map_thp(&raw);
	ASSERT_NOT_NULL(p);
	ASSERT_EQ(madvise(p, size, MADV_FREE), 0);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(p, size, 0x5f, 1)), 0);
	ASSERT_EQ(madvise(p + size / 2, size / 2, MADV_DONTNEED), 0);
	ASSERT_EQ(madvise(p, size / 2, MADV_PAGEOUT), 0);
	EXPECT_EQ(first_not(p, 0x5f, size / 2), size / 2);
	EXPECT_EQ(first_not(p + size / 2, 0, size / 2), size / 2);
}

/* ---- file-backed shared memory on a disk-backed filesystem ---- */

#define RD_MNT	"/tmp/svmgpu-ext4"

static int run(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int drop_caches(void)
{
	int f = open("/proc/sys/vm/drop_caches", O_WRONLY);
	int ret;

	sync();
	if (f < 0)
		return -errno;
	ret = write(f, "3\n", 2) == 2 ? 0 : -errno;
	close(f);
	return ret;
}

/* ext4 on /dev/ram0 (brd): returns 0, or a reason to skip in @why. */
static int mount_ext4(char *why, size_t len)
{
	struct stat s;

	if (stat("/dev/ram0", &s) || !S_ISBLK(s.st_mode)) {
		snprintf(why, len, "no /dev/ram0 (brd)");
		return -1;
	}
	if (run("command -v mkfs.ext4 >/dev/null 2>&1")) {
		snprintf(why, len, "no mkfs.ext4 in the guest");
		return -1;
	}
	/* No journal and no checksums: nothing ext4 would load a module for. */
	if (run("mkfs.ext4 -q -F -O ^has_journal,^metadata_csum /dev/ram0 >/dev/null 2>&1")) {
		snprintf(why, len, "mkfs.ext4 /dev/ram0 failed");
		return -1;
	}
	mkdir(RD_MNT, 0755);
	if (mount("/dev/ram0", RD_MNT, "ext4", 0, NULL)) {
		snprintf(why, len, "mount ext4: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Device writes to a MAP_SHARED file on ext4 reach the disk: written back by
 * msync(), evicted from the page cache, read back from the block device after
 * a remount.  A second round of device writes lands after the writeback has
 * write-protected the pages, so it must fault them writable again and dirty
 * them anew.
 */
TEST_F(reclaim, ext4_shared_file_device_writes_reach_disk)
{
	size_t size = 64 * PAGE, i;
	unsigned char *m, *buf = malloc(size);
	char why[128];
	int f;

	ASSERT_NOT_NULL(buf);
	if (mount_ext4(why, sizeof(why)))
		SKIP(return, "%s", why);
	f = open(RD_MNT "/data", O_RDWR | O_CREAT | O_TRUNC, 0644);
	ASSERT_GE(f, 0);
	memset(buf, 0x41, size);
	ASSERT_EQ(pwrite(f, buf, size, 0), (ssize_t)size);
	ASSERT_EQ(fsync(f), 0);
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	ASSERT_NE(m, MAP_FAILED);
	for (i = 0; i < size; i += PAGE)
		ASSERT_EQ(m[i], 0x41);	/* clean, write-protected CPU PTEs */

	/* Round 1: the first half, then writeback. */
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(m, size / 2, 0x42, 1)), 0);
	ASSERT_EQ(msync(m, size, MS_SYNC), 0);
	/* Round 2: every other page, after writeback cleaned the pages. */
	for (i = 0; i < size / PAGE; i += 2)
		ASSERT_EQ(sg_run_ok(self->fd, self->q,
				    sg_fill(m + i * PAGE + 100, 200, 0x43, 1)), 0);
	ASSERT_EQ(msync(m, size, MS_SYNC), 0);
	ASSERT_EQ(munmap(m, size), 0);
	ASSERT_EQ(close(f), 0);

	ASSERT_EQ(drop_caches(), 0);
	ASSERT_EQ(umount(RD_MNT), 0);
	ASSERT_EQ(mount("/dev/ram0", RD_MNT, "ext4", 0, NULL), 0);
	f = open(RD_MNT "/data", O_RDONLY);
	ASSERT_GE(f, 0);
	ASSERT_EQ(pread(f, buf, size, 0), (ssize_t)size);
	close(f);
	umount(RD_MNT);
	for (i = 0; i < size / PAGE; i++) {
		unsigned char *pg = buf + i * PAGE;
		int base = i < size / PAGE / 2 ? 0x42 : 0x41;

		if (i % 2 == 0) {
			EXPECT_EQ(first_not(pg, base, 100), 100);
			EXPECT_EQ(first_not(pg + 100, 0x43, 200), 200);
			EXPECT_EQ(first_not(pg + 300, base, PAGE - 300), PAGE - 300);
		} else {
			EXPECT_EQ(first_not(pg, base, PAGE), PAGE);
		}
	}
	free(buf);
}

TEST_HARNESS_MAIN
