// SPDX-License-Identifier: MIT
/*
 * svm_sparse: the device's faults cost memory only for the pages it touched.
 * Fault-around mirrors the pages around a fault that the CPU already maps,
 * with the CPU's permission, and never populates, COW-copies or dirties a
 * page the device did not ask for.
 *
 * Issue 10, case 5: the device writing one word in every 64th page of
 * 64 MiB used to make all 16,384 pages of an anonymous mapping resident,
 * and COW-copy all 16,384 pages of a MAP_PRIVATE file mapping the CPU had
 * only read.
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
#define SIZE	(64 * MB)
#define STRIDE	64			/* pages */
#define NWRITES	(SIZE / PAGE / STRIDE)	/* 256 */

FIXTURE(sparse) {
	int fd;
	uint32_t ctx;
	uint32_t q;
};

FIXTURE_SETUP(sparse)
{
	self->fd = sg_open();
	if (self->fd < 0)
		SKIP(return, "no render node: %s", strerror(errno));
	ASSERT_EQ(sg_ctx_create(self->fd, &self->ctx), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 1024, &self->q), 0);
}

FIXTURE_TEARDOWN(sparse)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* Small pages only: a THP would make the kernel itself populate 2 MiB. */
static void *map_small(size_t size, int prot, int flags, int fd)
{
	void *p = mmap(NULL, size, prot, flags, fd, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, size, MADV_NOHUGEPAGE);
	return p;
}

/*
 * map_small() inside one of the driver's notifier chunks (chunk_shift,
 * 64 MiB by default): fault-around never crosses a chunk, so a mapping
 * that straddles one would fault once more for its far side.
 */
static void *map_small_one_chunk(size_t size, int prot, int flags, int fd)
{
	unsigned long shift = 26;
	size_t chunk;
	char buf[16] = "", *r, *a;
	void *p;
	int f = open("/sys/module/svmgpu/parameters/chunk_shift", O_RDONLY);

	if (f >= 0) {
		if (read(f, buf, sizeof(buf) - 1) > 0)
			shift = strtoul(buf, NULL, 10);
		close(f);
	}
	chunk = 1ul << shift;
	r = mmap(NULL, 2 * chunk, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED)
		return NULL;
	a = (char *)(((uintptr_t)r + chunk - 1) & ~(uintptr_t)(chunk - 1));
	p = mmap(a, size, prot, flags | MAP_FIXED, fd, 0);
	if (a > r)
		munmap(r, a - r);
	munmap(a + size, r + 2 * chunk - (a + size));
	if (p == MAP_FAILED)
		return NULL;
	madvise(p, size, MADV_NOHUGEPAGE);
	return p;
}

static size_t resident_pages(void *p, size_t size)
{
	size_t n = size / PAGE, i, r = 0;
	unsigned char *vec = malloc(n);

	if (!vec || mincore(p, size, vec)) {
		free(vec);
		return (size_t)-1;
	}
	for (i = 0; i < n; i++)
		r += vec[i] & 1;
	free(vec);
	return r;
}

/* smaps "Anonymous:" of the mapping starting at @p, in kB, or -1. */
static long smaps_anon_kb(void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0;
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;

		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			if (in)
				break;
			in = start == (uintptr_t)p;
			continue;
		}
		if (in && sscanf(line, "Anonymous: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* One 8-byte device write in every STRIDE-th page; waits for all of them. */
static int write_sparse(int fd, uint32_t q, unsigned char *p)
{
	struct svmgpu_cmd cmds[64];
	struct drm_svmgpu_wait w;
	uint64_t seq, first = 0;
	size_t i, n = 0;
	int ret;

	for (i = 0; i < NWRITES; i++) {
		cmds[n++] = sg_fill(p + i * STRIDE * PAGE + 8 * (i % 500), 8,
				    0xd00d000000000000ull + i, 8);
		if (n == 64 || i == NWRITES - 1) {
			ret = sg_submit(fd, q, cmds, n, &seq);
			if (ret)
				return ret;
			if (!first)
				first = seq - n + 1;
			n = 0;
		}
	}
	ret = sg_wait(fd, q, seq, first, SG_TIMEOUT_NS, &w);
	if (ret)
		return ret;
	if (w.err_code || w.nr_errors) {
		fprintf(stderr, "# sparse write failed: error %u va 0x%llx\n",
			w.err_code, (unsigned long long)w.err_va);
		return -EIO;
	}
	return 0;
}

/* Every word the device wrote has its value; everything else is @fill. */
static int check_sparse(const unsigned char *p, int fill)
{
	size_t i;

	for (i = 0; i < SIZE / PAGE; i++) {
		const unsigned char *pg = p + i * PAGE;
		size_t off = 8 * ((i / STRIDE) % 500), b;

		for (b = 0; b < PAGE; b++) {
			if (i % STRIDE == 0 && b >= off && b < off + 8) {
				uint64_t v;

				memcpy(&v, pg + off, 8);
				if (v != 0xd00d000000000000ull + i / STRIDE)
					return -(int)i - 1;
				b = off + 7;
				continue;
			}
			if (pg[b] != (unsigned char)fill)
				return -(int)i - 1;
		}
	}
	return 0;
}

/* Issue 10 case 5, anonymous: only the 256 written pages become resident. */
TEST_F(sparse, anon_every_64th_page_written_only_those_resident)
{
	unsigned char *p = map_small(SIZE, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1);
	struct drm_svmgpu_get_stats st;
	size_t res;

	ASSERT_NOT_NULL(p);
	ASSERT_EQ(resident_pages(p, SIZE), 0);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 1, &st), 0);
	ASSERT_EQ(write_sparse(self->fd, self->q, p), 0);
	res = resident_pages(p, SIZE);
	TH_LOG("resident after the device wrote %lu pages: %zu of %lu",
	       NWRITES, res, SIZE / PAGE);
	ASSERT_EQ(res, NWRITES);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 0, &st), 0);
	EXPECT_EQ(st.pages_mapped, NWRITES);
	EXPECT_EQ(st.cancels, 0);
	EXPECT_EQ(st.failed, 0);
	/* The CPU reads the device's words, and zeroes everywhere else. */
	EXPECT_EQ(check_sparse(p, 0), 0);
	munmap(p, SIZE);
}

static int make_file(size_t size, int byte)
{
	char path[] = "/tmp/svmgpu-sparse-XXXXXX";
	int fd = mkstemp(path);
	char *buf;
	size_t off;

	if (fd < 0)
		return -1;
	unlink(path);
	buf = malloc(MB);
	if (!buf) {
		close(fd);
		return -1;
	}
	memset(buf, byte, MB);
	for (off = 0; off < size; off += MB) {
		if (pwrite(fd, buf, MB, off) != (ssize_t)MB) {
			free(buf);
			close(fd);
			return -1;
		}
	}
	free(buf);
	return fd;
}

/*
 * Issue 10 case 5, MAP_PRIVATE file the CPU has read: the device's sparse
 * writes COW-copy the written pages only; the file is unchanged.
 */
TEST_TIMEOUT(120)
TEST_F(sparse, private_file_read_then_sparse_device_writes_copy_only_those)
{
	int f = make_file(SIZE, 0x5c);
	unsigned char *m, buf[PAGE];
	volatile unsigned char sink = 0;
	long anon_kb;
	size_t i;

	ASSERT_GE(f, 0);
	m = map_small(SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, f);
	ASSERT_NOT_NULL(m);
	for (i = 0; i < SIZE; i += PAGE)
		sink += m[i];
	(void)sink;
	ASSERT_EQ(smaps_anon_kb(m), 0);
	ASSERT_EQ(write_sparse(self->fd, self->q, m), 0);
	anon_kb = smaps_anon_kb(m);
	TH_LOG("COW-copied after the device wrote %lu pages: %ld kB", NWRITES, anon_kb);
	ASSERT_EQ(anon_kb, (long)(NWRITES * PAGE / 1024));
	EXPECT_EQ(check_sparse(m, 0x5c), 0);
	for (i = 0; i < SIZE; i += STRIDE * PAGE) {
		ASSERT_EQ(pread(f, buf, PAGE, i), (ssize_t)PAGE);
		ASSERT_TRUE(sg_all_bytes(buf, 0x5c, PAGE));
	}
	munmap(m, SIZE);
	close(f);
}

/*
 * Fault-around still batches where the CPU already maps the pages: a
 * device FILL over memory the CPU wrote, and a device read of a file the
 * CPU read, take far fewer faults (and fault batches) than pages.
 */
TEST_F(sparse, fault_around_batches_cpu_mapped_pages)
{
	size_t size = 16 * MB, pages = size / PAGE;
	unsigned char *p = map_small(size, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1);
	unsigned char *dst = map_small(size, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1);
	struct drm_svmgpu_get_stats st;
	int f = make_file(size, 0x6d);
	unsigned char *m;
	volatile unsigned char sink = 0;
	size_t i;

	ASSERT_NOT_NULL(p);
	ASSERT_NOT_NULL(dst);
	ASSERT_GE(f, 0);
	memset(p, 0x01, size);
	memset(dst, 0x02, size);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 1, &st), 0);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(p, size, 0x6c, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(p, 0x6c, size));
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 0, &st), 0);
	TH_LOG("write: %llu faults, %llu batches for %zu pages",
	       (unsigned long long)st.faults, (unsigned long long)st.fault_batches, pages);
	EXPECT_LT(st.faults, pages / 16);
	EXPECT_LT(st.fault_batches, pages / 16);

	m = map_small(size, PROT_READ, MAP_PRIVATE, f);
	ASSERT_NOT_NULL(m);
	for (i = 0; i < size; i += PAGE)
		sink += m[i];
	(void)sink;
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 1, &st), 0);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_copy(dst, m, size)), 0);
	ASSERT_TRUE(sg_all_bytes(dst, 0x6d, size));
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 0, &st), 0);
	TH_LOG("read: %llu faults, %llu batches for %zu pages",
	       (unsigned long long)st.faults, (unsigned long long)st.fault_batches, pages);
	EXPECT_LT(st.faults, pages / 16);
	EXPECT_EQ(smaps_anon_kb(m), 0);
	munmap(m, size);
	close(f);
}

/*
 * A device write next to pages the CPU maps read-only (a private file the
 * CPU read): the neighbours are mirrored read-only, so a later device write
 * to one of them takes its own write fault and COW-copies that page only.
 */
TEST_F(sparse, private_file_neighbours_mirrored_read_only)
{
	size_t size = 16 * PAGE;
	int f = make_file(MB, 0x7e), attempt;
	unsigned char *m = NULL, *dst = map_small(size, PROT_READ | PROT_WRITE,
						 MAP_PRIVATE | MAP_ANONYMOUS, -1);
	struct drm_svmgpu_get_stats st;
	volatile unsigned char sink = 0;
	size_t i;

	ASSERT_GE(f, 0);
	ASSERT_NOT_NULL(dst);
	/*
	 * Up to 3 fresh mappings: the mm may invalidate a mirrored page on
	 * its own (compaction migrating a shmem page) between the mirroring
	 * and the read, which then faults once.  A neighbour that is not
	 * mirrored faults every time.  Inside one notifier chunk: a mapping
	 * across a chunk boundary faults once for its far side (fault-around
	 * stays in one chunk), which once made this test depend on where
	 * mmap() put the file.
	 */
	for (attempt = 0; attempt < 3; attempt++) {
		if (m)
			munmap(m, size);
		memset(dst, 0, size);
		m = map_small_one_chunk(size, PROT_READ | PROT_WRITE, MAP_PRIVATE, f);
		ASSERT_NOT_NULL(m);
		for (i = 0; i < size; i += PAGE)
			sink += m[i];
		(void)sink;
		ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(dst, size, 0, 1)), 0);
		ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(m + 3 * PAGE, 8, 0x11, 1)), 0);
		ASSERT_EQ(smaps_anon_kb(m), 4);
		/* A read of the neighbours is already mirrored: no fault. */
		ASSERT_EQ(sg_stats(self->fd, self->ctx, 1, &st), 0);
		ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_copy(dst, m, size)), 0);
		ASSERT_EQ(sg_stats(self->fd, self->ctx, 0, &st), 0);
		if (!st.faults)
			break;
		TH_LOG("attempt %d: %llu faults, %llu invalidations", attempt,
		       (unsigned long long)st.faults, (unsigned long long)st.invalidations);
	}
	EXPECT_EQ(st.faults, 0);
	EXPECT_TRUE(sg_all_bytes(dst, 0x7e, 3 * PAGE));
	EXPECT_TRUE(sg_all_bytes(dst + 3 * PAGE, 0x11, 8));
	EXPECT_TRUE(sg_all_bytes(dst + 3 * PAGE + 8, 0x7e, size - 3 * PAGE - 8));
	/* A write to one takes a write-protect fault and copies just it. */
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 1, &st), 0);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(m + 9 * PAGE, 8, 0x22, 1)), 0);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 0, &st), 0);
	EXPECT_GE(st.faults, 1);
	EXPECT_EQ(smaps_anon_kb(m), 8);
	EXPECT_EQ(m[9 * PAGE], 0x22);
	EXPECT_EQ(m[8 * PAGE], 0x7e);
	munmap(m, size);
	close(f);
}

/*
 * A device writing sequentially through anonymous memory nobody touched
 * (small pages: no THP to fault 2 MiB at once) streams: once the pages
 * below a fault are the device's, the next ones are requested with it, so
 * it takes far fewer faults than pages; the same after a fork made every
 * page copy-on-write.  A sparse writer is never streamed (test above).
 */
TEST_F(sparse, sequential_device_write_streams_over_untouched_and_cow_pages)
{
	size_t size = 8 * MB, pages = size / PAGE;
	unsigned char *p = map_small(size, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1);
	struct drm_svmgpu_get_stats st;
	int go[2], st_child;
	pid_t child;
	char c;

	ASSERT_NOT_NULL(p);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 1, &st), 0);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(p, size, 0x31, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(p, 0x31, size));
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 0, &st), 0);
	TH_LOG("untouched: %llu faults for %zu pages", (unsigned long long)st.faults, pages);
	EXPECT_LT(st.faults, pages / 16);
	EXPECT_EQ(resident_pages(p, size), pages);

	/* A child keeps every page shared copy-on-write. */
	ASSERT_EQ(pipe(go), 0);
	child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		close(go[1]);
		if (read(go[0], &c, 1) < 0)
			_exit(1);
		_exit(sg_all_bytes(p, 0x31, size) ? 0 : 2);
	}
	close(go[0]);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 1, &st), 0);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(p, size, 0x32, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(p, 0x32, size));
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 0, &st), 0);
	TH_LOG("after fork: %llu faults for %zu pages", (unsigned long long)st.faults, pages);
	EXPECT_LT(st.faults, pages / 16);
	ASSERT_EQ(write(go[1], "x", 1), 1);
	ASSERT_EQ(waitpid(child, &st_child, 0), child);
	EXPECT_TRUE(WIFEXITED(st_child) && WEXITSTATUS(st_child) == 0);
	munmap(p, size);
}

/* ---- memory cgroup accounting of the fault path ---- */

/*
 * The device page tables the driver allocates while resolving a process's
 * faults (on a kernel work item) are charged to that process's memory
 * cgroup.  The device writes one byte in each 2 MiB of 1 GiB: 512 pages of
 * data (2 MiB, charged to the mm by the kernel), 512 CPU page tables (2 MiB,
 * allocated by hmm on the work item: charged to the process only through
 * the work's active memcg), and 512 level-1 device tables of 4 KiB plus
 * their 4 KiB pfn arrays (4 MiB).  Without the driver's charging the
 * cgroup saw 2 MiB.
 */
TEST_TIMEOUT(120)
TEST_F(sparse, fault_path_page_tables_charged_to_memcg)
{
	size_t size = 1024 * MB, step = 2 * MB, i;
	char path[128], name[32];
	long long before, after;
	const char *why;
	unsigned char *p;

	if (sg_cg_memory(&why))
		SKIP(return, "cgroup2: %s", why);
	snprintf(name, sizeof(name), "sparse-%d", getpid());
	ASSERT_EQ(sg_cg_enter(name, path, sizeof(path)), 0);

	p = map_small(size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	ASSERT_NOT_NULL(p);
	before = sg_file_ll(path);
	ASSERT_GE(before, 0);
	for (i = 0; i < size; i += step)
		ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(p + i, 1, 0x42, 1)), 0);
	after = sg_file_ll(path);
	TH_LOG("cgroup charged %lld kB for %zu device-written pages", (after - before) / 1024,
	       size / step);
	/* 4 MiB of own pages and CPU tables, and at least 3 of the driver's 4 MiB. */
	EXPECT_GE(after - before, (long long)(7 * MB));
	for (i = 0; i < size; i += step)
		ASSERT_EQ(p[i], 0x42);
	munmap(p, size);
	/* Leave the group so that it can go. */
	EXPECT_EQ(sg_cg_leave(name), 0);
}

TEST_HARNESS_MAIN
