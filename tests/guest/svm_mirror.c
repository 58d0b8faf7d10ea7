// SPDX-License-Identifier: MIT
/*
 * svm_mirror: the device reads and writes process memory through plain
 * pointers, and the driver keeps its page tables coherent with every change
 * the kernel makes to the address space.  Scenarios after hmm-tests.c; each
 * checks the data the CPU sees and the driver's counters.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "svmgpu_guest.h"
#include "svmgpu_test.h"

#define PAGE	4096ul
#define MB	(1024ul * 1024)

FIXTURE(svm) {
	int fd;
	uint32_t ctx;
	uint32_t q;
};

FIXTURE_SETUP(svm)
{
	self->fd = sg_open();
	if (self->fd < 0)
		SKIP(return, "no render node: %s", strerror(errno));
	ASSERT_EQ(sg_ctx_create(self->fd, &self->ctx), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &self->q), 0);
}

FIXTURE_TEARDOWN(svm)
{
	if (self->fd >= 0)
		close(self->fd);
}

static void *map_anon(size_t size, int prot)
{
	void *p = mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* The device copies CPU-written memory into never-touched memory. */
TEST_F(svm, anon_read_write)
{
	size_t size = 64 * PAGE;
	unsigned char *src = map_anon(size, PROT_READ | PROT_WRITE);
	unsigned char *dst = map_anon(size, PROT_READ | PROT_WRITE);
	struct drm_svmgpu_get_stats st;
	size_t i;

	ASSERT_NOT_NULL(src);
	ASSERT_NOT_NULL(dst);
	for (i = 0; i < size; i++)
		src[i] = (unsigned char)(i * 7 + 1);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 1, &st), 0);

	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_copy(dst, src, size)), 0);
	ASSERT_EQ(memcmp(dst, src, size), 0);

	ASSERT_EQ(sg_stats(self->fd, self->ctx, 0, &st), 0);
	EXPECT_GE(st.faults, 2);	/* at least one read and one write fault */
	EXPECT_GE(st.pages_mapped, 2 * 64);
	EXPECT_EQ(st.cancels, 0);
	EXPECT_GE(st.replays, 1);
	EXPECT_EQ(st.submitted, 1);
	EXPECT_EQ(st.failed, 0);

	/* Mirrored now: the same copy again takes no fault. */
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 1, &st), 0);
	memset(dst, 0, size);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_copy(dst, src, size)), 0);
	ASSERT_EQ(memcmp(dst, src, size), 0);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 0, &st), 0);
	EXPECT_EQ(st.faults, 0);
}

/* Never-touched memory reads as zeroes (zero page), then takes a write. */
TEST_F(svm, zero_page_then_write)
{
	size_t size = 16 * PAGE;
	unsigned char *a = map_anon(size, PROT_READ | PROT_WRITE);
	unsigned char *b = map_anon(size, PROT_READ | PROT_WRITE);
	struct drm_svmgpu_get_stats st;

	ASSERT_NOT_NULL(a);
	ASSERT_NOT_NULL(b);
	memset(b, 0xff, size);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_copy(b, a, size)), 0);
	ASSERT_TRUE(sg_all_bytes(b, 0, size));

	ASSERT_EQ(sg_stats(self->fd, self->ctx, 1, &st), 0);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(a, size, 0x5a, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(a, 0x5a, size));
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 0, &st), 0);
	EXPECT_GE(st.faults, 1);	/* write-protect fault on the zero page */
	EXPECT_GE(st.invalidations, 1);	/* zero page replaced by a real page */
}

/* A device write to read-only memory fails with the fault address. */
TEST_F(svm, mprotect_read_write_cancelled)
{
	size_t size = 4 * PAGE;
	unsigned char *p = map_anon(size, PROT_READ | PROT_WRITE);
	unsigned char *ok = map_anon(PAGE, PROT_READ | PROT_WRITE);
	struct drm_svmgpu_get_stats st;
	struct drm_svmgpu_wait w;

	ASSERT_NOT_NULL(p);
	ASSERT_NOT_NULL(ok);
	memset(p, 0x11, size);
	ASSERT_EQ(mprotect(p, size, PROT_READ), 0);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 1, &st), 0);

	ASSERT_EQ(sg_run(self->fd, self->q, sg_fill(p + PAGE, PAGE, 0x22, 1), &w), 0);
	EXPECT_EQ(w.err_code, SVMGPU_ERR_FAULT_CANCELLED);
	EXPECT_EQ(w.err_va, (uintptr_t)(p + PAGE));
	EXPECT_EQ(w.err_access, SVMGPU_ACCESS_WRITE);
	EXPECT_EQ(w.nr_errors, 1);
	ASSERT_TRUE(sg_all_bytes(p, 0x11, size));

	ASSERT_EQ(sg_stats(self->fd, self->ctx, 0, &st), 0);
	EXPECT_EQ(st.cancels, 1);
	EXPECT_EQ(st.failed, 1);

	/* The queue keeps working, and the process was not killed. */
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(ok, PAGE, 0x33, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(ok, 0x33, PAGE));
	/* Reading the read-only memory is fine. */
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_copy(ok, p, PAGE)), 0);
	ASSERT_TRUE(sg_all_bytes(ok, 0x11, PAGE));
}

/*
 * A refused write says nothing about a read of the same page.  Two queues
 * fault on one read-only page at once, one reading and one writing; the
 * driver may see both faults in one batch.  Once broke: the read was merged
 * into the write as a duplicate and cancelled with it (found by
 * svmgpu-torture: "read of a read-only page failed").
 */
TEST_F(svm, read_and_refused_write_of_one_page_in_one_batch)
{
	unsigned char *dst = map_anon(PAGE, PROT_READ | PROT_WRITE);
	uint32_t q2;
	int i, read_failures = 0, write_cancels = 0;

	ASSERT_NOT_NULL(dst);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q2), 0);
	for (i = 0; i < 64; i++) {
		unsigned char *p = map_anon(PAGE, PROT_READ | PROT_WRITE);
		struct svmgpu_cmd rd = sg_copy(dst, p, PAGE);
		struct svmgpu_cmd wr = sg_fill(p, PAGE, 0x55, 1);
		struct drm_svmgpu_wait wr_w, rd_w;
		uint64_t wr_seq, rd_seq;

		ASSERT_NOT_NULL(p);
		memset(p, 0x44, PAGE);
		memset(dst, 0, PAGE);
		ASSERT_EQ(mprotect(p, PAGE, PROT_READ), 0);
		/* Both submitted before either is waited for. */
		ASSERT_EQ(sg_submit(self->fd, q2, &wr, 1, &wr_seq), 0);
		ASSERT_EQ(sg_submit(self->fd, self->q, &rd, 1, &rd_seq), 0);
		ASSERT_EQ(sg_wait(self->fd, q2, wr_seq, wr_seq, SG_TIMEOUT_NS, &wr_w), 0);
		ASSERT_EQ(sg_wait(self->fd, self->q, rd_seq, rd_seq, SG_TIMEOUT_NS, &rd_w), 0);
		if (rd_w.err_code) {
			TH_LOG("iteration %d: read failed, error %u access %u", i,
			       rd_w.err_code, rd_w.err_access);
			read_failures++;
		} else {
			EXPECT_TRUE(sg_all_bytes(dst, 0x44, PAGE));
		}
		if (wr_w.err_code == SVMGPU_ERR_FAULT_CANCELLED &&
		    wr_w.err_access == SVMGPU_ACCESS_WRITE)
			write_cancels++;
		EXPECT_TRUE(sg_all_bytes(p, 0x44, PAGE));
		munmap(p, PAGE);
	}
	EXPECT_EQ(read_failures, 0);
	EXPECT_EQ(write_cancels, 64);
	ASSERT_EQ(sg_queue_destroy(self->fd, q2), 0);
}

/* A device read of PROT_NONE memory fails with the fault address. */
TEST_F(svm, prot_none_read_cancelled)
{
	unsigned char *p = map_anon(2 * PAGE, PROT_NONE);
	unsigned char *dst = map_anon(PAGE, PROT_READ | PROT_WRITE);
	struct drm_svmgpu_wait w;

	ASSERT_NOT_NULL(p);
	ASSERT_NOT_NULL(dst);
	ASSERT_EQ(sg_run(self->fd, self->q, sg_copy(dst, p + 100, 64), &w), 0);
	EXPECT_EQ(w.err_code, SVMGPU_ERR_FAULT_CANCELLED);
	EXPECT_EQ(w.err_va, (uintptr_t)(p + 100));
	EXPECT_EQ(w.err_access, SVMGPU_ACCESS_READ);
}

static int make_file(size_t size, int byte)
{
	char path[] = "/tmp/svmgpu-XXXXXX";
	int fd = mkstemp(path);
	char *buf;

	if (fd < 0)
		return -1;
	unlink(path);
	buf = malloc(size);
	memset(buf, byte, size);
	if (pwrite(fd, buf, size, 0) != (ssize_t)size) {
		free(buf);
		close(fd);
		return -1;
	}
	free(buf);
	return fd;
}

/* Device writes to a shared file mapping reach the file; reads see it. */
TEST_F(svm, shared_file_mapping)
{
	size_t size = 8 * PAGE;
	int f = make_file(size, 0x41);
	unsigned char *m, *dst = map_anon(size, PROT_READ | PROT_WRITE);
	unsigned char buf[PAGE];

	ASSERT_GE(f, 0);
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	ASSERT_NE(m, MAP_FAILED);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_copy(dst, m, size)), 0);
	ASSERT_TRUE(sg_all_bytes(dst, 0x41, size));

	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(m + 2 * PAGE, PAGE, 0x42, 1)), 0);
	ASSERT_EQ(pread(f, buf, PAGE, 2 * PAGE), (ssize_t)PAGE);
	ASSERT_TRUE(sg_all_bytes(buf, 0x42, PAGE));
	ASSERT_EQ(pread(f, buf, PAGE, 3 * PAGE), (ssize_t)PAGE);
	ASSERT_TRUE(sg_all_bytes(buf, 0x41, PAGE));

	/* A write through the file is seen by the device. */
	memset(buf, 0x43, PAGE);
	ASSERT_EQ(pwrite(f, buf, PAGE, 5 * PAGE), (ssize_t)PAGE);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_copy(dst, m + 5 * PAGE, PAGE)), 0);
	ASSERT_TRUE(sg_all_bytes(dst, 0x43, PAGE));
	munmap(m, size);
	close(f);
}

/* A device write to a private file mapping does not reach the file. */
TEST_F(svm, private_file_mapping_write)
{
	size_t size = 4 * PAGE;
	int f = make_file(size, 0x51);
	unsigned char *m;
	unsigned char buf[PAGE];

	ASSERT_GE(f, 0);
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, f, 0);
	ASSERT_NE(m, MAP_FAILED);
	ASSERT_EQ(m[0], 0x51);	/* the CPU maps the file page (read-only, COW) */
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(m, size, 0x52, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(m, 0x52, size));
	ASSERT_EQ(pread(f, buf, PAGE, 0), (ssize_t)PAGE);
	ASSERT_TRUE(sg_all_bytes(buf, 0x51, PAGE));
	munmap(m, size);
	close(f);
}

/* MADV_DONTNEED drops the pages: the device then reads zeroes. */
TEST_F(svm, madv_dontneed_reads_zero)
{
	size_t size = 8 * PAGE;
	unsigned char *p = map_anon(size, PROT_READ | PROT_WRITE);
	unsigned char *dst = map_anon(size, PROT_READ | PROT_WRITE);
	struct drm_svmgpu_get_stats st;

	ASSERT_NOT_NULL(p);
	ASSERT_NOT_NULL(dst);
	memset(p, 0xab, size);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_copy(dst, p, size)), 0);
	ASSERT_TRUE(sg_all_bytes(dst, 0xab, size));

	ASSERT_EQ(sg_stats(self->fd, self->ctx, 1, &st), 0);
	ASSERT_EQ(madvise(p, size, MADV_DONTNEED), 0);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 0, &st), 0);
	EXPECT_GE(st.invalidations, 1);
	EXPECT_GE(st.pages_unmapped, 8);
	EXPECT_GE(st.tlb_invalidations, 1);

	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_copy(dst, p, size)), 0);
	ASSERT_TRUE(sg_all_bytes(dst, 0, size));
}

/* After munmap the device access is cancelled, not served stale pages. */
TEST_F(svm, munmap_then_access_cancelled)
{
	size_t size = 4 * PAGE;
	unsigned char *p = map_anon(size, PROT_READ | PROT_WRITE);
	unsigned char *dst = map_anon(PAGE, PROT_READ | PROT_WRITE);
	struct drm_svmgpu_get_stats st;
	struct drm_svmgpu_wait w;

	ASSERT_NOT_NULL(p);
	memset(p, 0x61, size);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_copy(dst, p, PAGE)), 0);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 1, &st), 0);
	ASSERT_EQ(munmap(p, size), 0);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 0, &st), 0);
	EXPECT_GE(st.pages_unmapped, 1);

	ASSERT_EQ(sg_run(self->fd, self->q, sg_copy(dst, p + PAGE, 8), &w), 0);
	EXPECT_EQ(w.err_code, SVMGPU_ERR_FAULT_CANCELLED);
	EXPECT_EQ(w.err_va, (uintptr_t)(p + PAGE));
	EXPECT_EQ(w.err_access, SVMGPU_ACCESS_READ);
}

/* mremap moves mirrored pages: the new address works, the old one faults. */
TEST_F(svm, mremap_mirrored_range)
{
	size_t size = 8 * PAGE;
	unsigned char *p = map_anon(size, PROT_READ | PROT_WRITE);
	unsigned char *hole = map_anon(size, PROT_NONE);
	unsigned char *dst = map_anon(size, PROT_READ | PROT_WRITE);
	unsigned char *np;
	struct drm_svmgpu_wait w;

	ASSERT_NOT_NULL(p);
	ASSERT_NOT_NULL(hole);
	memset(p, 0x71, size);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_copy(dst, p, size)), 0);
	np = mremap(p, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, hole);
	ASSERT_EQ(np, hole);
	memset(dst, 0, size);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_copy(dst, np, size)), 0);
	ASSERT_TRUE(sg_all_bytes(dst, 0x71, size));
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(np, PAGE, 0x72, 1)), 0);
	ASSERT_EQ(np[0], 0x72);

	ASSERT_EQ(sg_run(self->fd, self->q, sg_copy(dst, p, 8), &w), 0);
	EXPECT_EQ(w.err_code, SVMGPU_ERR_FAULT_CANCELLED);
	EXPECT_EQ(w.err_va, (uintptr_t)p);
}

/* mprotect downgrade of memory the device has mapped writable. */
TEST_F(svm, mprotect_downgrade_while_mirrored)
{
	size_t size = 4 * PAGE;
	unsigned char *p = map_anon(size, PROT_READ | PROT_WRITE);
	unsigned char *dst = map_anon(size, PROT_READ | PROT_WRITE);
	struct drm_svmgpu_get_stats st;
	struct drm_svmgpu_wait w;

	ASSERT_NOT_NULL(p);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(p, size, 0x81, 1)), 0);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 1, &st), 0);
	ASSERT_EQ(mprotect(p, size, PROT_READ), 0);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 0, &st), 0);
	EXPECT_GE(st.invalidations, 1);

	ASSERT_EQ(sg_run(self->fd, self->q, sg_fill(p + 3 * PAGE, PAGE, 0x82, 1), &w), 0);
	EXPECT_EQ(w.err_code, SVMGPU_ERR_FAULT_CANCELLED);
	EXPECT_EQ(w.err_va, (uintptr_t)(p + 3 * PAGE));
	EXPECT_EQ(w.err_access, SVMGPU_ACCESS_WRITE);
	ASSERT_TRUE(sg_all_bytes(p, 0x81, size));
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_copy(dst, p, size)), 0);
	ASSERT_TRUE(sg_all_bytes(dst, 0x81, size));
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

/* A transparent huge page becomes one 2 MiB device leaf. */
TEST_F(svm, thp_device_huge_page)
{
	size_t size = 2 * MB;
	unsigned char *raw = map_anon(2 * size, PROT_READ | PROT_WRITE);
	unsigned char *p, *dst = map_anon(size, PROT_READ | PROT_WRITE);
	struct drm_svmgpu_get_stats st;

	if (!thp_enabled())
		SKIP(return, "THP disabled");
	ASSERT_NOT_NULL(raw);
	p = (unsigned char *)(((uintptr_t)raw + size - 1) & ~(size - 1));
	ASSERT_EQ(madvise(p, size, MADV_HUGEPAGE), 0);
	memset(p, 0x91, size);
	memset(dst, 0, size);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 1, &st), 0);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_copy(dst, p, size)), 0);
	ASSERT_TRUE(sg_all_bytes(dst, 0x91, size));
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 0, &st), 0);
	EXPECT_GE(st.huge_2m_mapped, 1);
}

/* At least @n pages in the pool, until the test ends: how many it has. */
static int reserve_hugepages(int n)
{
	char buf[32];
	int f = open("/proc/sys/vm/nr_hugepages", O_RDWR);
	int have;

	if (f < 0 || svmgpu_test_restore_file("/proc/sys/vm/nr_hugepages")) {
		if (f >= 0)
			close(f);
		return 0;
	}
	if (read(f, buf, sizeof(buf) - 1) <= 0) {
		close(f);
		return 0;
	}
	have = atoi(buf);
	if (have < n) {
		snprintf(buf, sizeof(buf), "%d\n", n);
		if (pwrite(f, buf, strlen(buf), 0) < 0)
			have = 0;
		if (pread(f, buf, sizeof(buf) - 1, 0) > 0)
			have = atoi(buf);
	}
	close(f);
	return have;
}

/* A hugetlbfs page is read and written through a 2 MiB device leaf. */
TEST_F(svm, hugetlbfs_page)
{
	size_t size = 2 * MB;
	unsigned char *p, *dst;
	struct drm_svmgpu_get_stats st;

	if (reserve_hugepages(4) < 2)
		SKIP(return, "cannot reserve huge pages");
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (p == MAP_FAILED)
		SKIP(return, "MAP_HUGETLB: %s", strerror(errno));
	dst = map_anon(size, PROT_READ | PROT_WRITE);
	memset(p, 0xa1, size);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 1, &st), 0);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_copy(dst, p, size)), 0);
	ASSERT_TRUE(sg_all_bytes(dst, 0xa1, size));
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(p + MB, PAGE, 0xa2, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(p + MB, 0xa2, PAGE));
	ASSERT_TRUE(sg_all_bytes(p, 0xa1, MB));
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 0, &st), 0);
	EXPECT_GE(st.huge_2m_mapped, 1);
	munmap(p, size);
}

static unsigned char global_buf[3 * PAGE + 123];

/* Stack and global variables are device-accessible as they are. */
TEST_F(svm, stack_and_globals)
{
	unsigned char stack_buf[1000];
	uint64_t counter = 5;

	memset(stack_buf, 0, sizeof(stack_buf));
	ASSERT_EQ(sg_run_ok(self->fd, self->q,
			    sg_fill(global_buf, sizeof(global_buf), 0xb1, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(global_buf, 0xb1, sizeof(global_buf)));
	ASSERT_EQ(sg_run_ok(self->fd, self->q,
			    sg_copy(stack_buf, global_buf + 17, sizeof(stack_buf))), 0);
	ASSERT_TRUE(sg_all_bytes(stack_buf, 0xb1, sizeof(stack_buf)));
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_atomic_add(&counter, 37, 8)), 0);
	ASSERT_EQ(counter, 42);
}

/*
 * Code the device writes is the code the CPU then runs.  Under TCG the
 * CPUs run translations of guest code, which QEMU drops when that memory
 * is written; the device reports what it wrote page run by page run
 * (qemu-device/README.md, "Written memory").  64 pages of code (scattered
 * in guest RAM, as anonymous pages are), each run by the CPU, then
 * rewritten by the device (a COPY each, one submission), return their new
 * values; every other page of the 128 is not written and still returns its
 * own.  Then one FILL rewrites all of them.  Three rounds, so the CPU's
 * own rewrite is seen too.
 */
TEST_F(svm, device_written_code_runs)
{
	const size_t n = 64;
	unsigned char *code = map_anon(2 * n * PAGE, PROT_READ | PROT_WRITE | PROT_EXEC);
	unsigned char *src = map_anon(2 * n * PAGE, PROT_READ | PROT_WRITE);
	unsigned int round;
	size_t i;

	if (!code)
		SKIP(return, "no PROT_EXEC anonymous memory: %s", strerror(errno));
	ASSERT_NOT_NULL(src);
	for (round = 0; round < 3; round++) {
		struct svmgpu_cmd c[64];
		struct drm_svmgpu_wait w;
		uint64_t seq;

		for (i = 0; i < 2 * n; i++) {
			sg_put_ret(code + i * PAGE, i + round);
			ASSERT_EQ(sg_call_code(code + i * PAGE), (int)(i + round));
			ASSERT_EQ(sg_call_code(code + i * PAGE), (int)(i + round));
			sg_put_ret(src + i * PAGE, 128 + i / 2 + round);
		}
		/* the even pages: one command each, all in one submission */
		for (i = 0; i < n; i++)
			c[i] = sg_copy(code + 2 * i * PAGE, src + 2 * i * PAGE, 8);
		ASSERT_EQ(sg_submit(self->fd, self->q, c, n, &seq), 0);
		ASSERT_EQ(sg_wait(self->fd, self->q, seq, seq - n + 1, SG_TIMEOUT_NS, &w), 0);
		ASSERT_EQ(w.err_seq, 0);
		for (i = 0; i < 2 * n; i++)
			ASSERT_EQ(sg_call_code(code + i * PAGE),
				  (int)(i % 2 ? i + round : 128 + i / 2 + round));
		/*
		 * One FILL of all 128 pages with "mov eax, v; ret" every 8
		 * bytes: one command over the scattered pages (in more than
		 * 16 runs of a window, QEMU is told of some during the
		 * command).  From round 1 on, offset 8 * i was run in the
		 * round before, so a translation the FILL's report does not
		 * drop would return the old value.
		 */
		ASSERT_EQ(sg_run_ok(self->fd, self->q,
				    sg_fill(code, 2 * n * PAGE,
					    0xb8 | (uint64_t)(60 + round) << 8 | 0xc3ull << 40, 8)), 0);
		for (i = 0; i < 2 * n; i++)
			ASSERT_EQ(sg_call_code(code + i * PAGE + 8 * (i % 512)), (int)(60 + round));
	}
	munmap(code, 2 * n * PAGE);
	munmap(src, 2 * n * PAGE);
}

/* 256 MiB of never-touched memory, first touched by the device. */
TEST_TIMEOUT(240)
TEST_F(svm, first_touch_256m)
{
	size_t size = 256 * MB, i;
	uint64_t *p = map_anon(size, PROT_READ | PROT_WRITE);
	struct drm_svmgpu_get_stats st;

	ASSERT_NOT_NULL(p);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 1, &st), 0);
	ASSERT_EQ(sg_run_ok(self->fd, self->q,
			    sg_fill(p, size, 0x0123456789abcdefull, 8)), 0);
	for (i = 0; i < size / 8; i += 511)
		if (p[i] != 0x0123456789abcdefull)
			break;
	ASSERT_GE(i, size / 8);
	ASSERT_EQ(p[size / 8 - 1], 0x0123456789abcdefull);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 0, &st), 0);
	EXPECT_GE(st.pages_mapped, size / PAGE);
	/* Fault-around: far fewer faults than pages. */
	EXPECT_LT(st.faults, size / PAGE / 16);
	munmap(p, size);
}

static int read_text(const char *path, char *buf, size_t size)
{
	int f = open(path, O_RDONLY), len;

	if (f < 0)
		return -1;
	len = read(f, buf, size - 1);
	close(f);
	if (len < 0)
		return -1;
	buf[len] = 0;
	return len;
}

/* debugfs shows the address space and this context's counters; tracepoints exist. */
TEST_F(svm, debugfs_and_tracepoints)
{
	static char buf[65536];
	unsigned char *src = map_anon(4 * PAGE, PROT_READ | PROT_WRITE);
	unsigned char *dst = map_anon(4 * PAGE, PROT_READ | PROT_WRITE);
	char want[64], path[256];
	const char *ev[] = { "svmgpu_fault", "svmgpu_map", "svmgpu_invalidate",
			     "svmgpu_submit", "svmgpu_complete" };
	unsigned int i;

	memset(src, 1, 4 * PAGE);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_copy(dst, src, 4 * PAGE)), 0);
	if (sg_debugfs_path("svmgpu_contexts", path, sizeof(path)) ||
	    read_text(path, buf, sizeof(buf)) < 0)
		SKIP(return, "no debugfs");
	snprintf(want, sizeof(want), "  ctx %u: faults ", self->ctx);
	ASSERT_NOT_NULL(strstr(buf, want));
	ASSERT_NOT_NULL(strstr(buf, "pages_mapped "));
	ASSERT_EQ(sg_debugfs_path("svmgpu_device", path, sizeof(path)), 0);
	ASSERT_GT(read_text(path, buf, sizeof(buf)), 0);
	ASSERT_NOT_NULL(strstr(buf, "hw_faults: "));
	ASSERT_NOT_NULL(strstr(buf, "tlb_inval_ns: "));
	for (i = 0; i < sizeof(ev) / sizeof(ev[0]); i++) {
		snprintf(path, sizeof(path), "/sys/kernel/debug/tracing/events/svmgpu/%s/format",
			 ev[i]);
		if (access("/sys/kernel/debug/tracing/events", F_OK))
			break;	/* no tracefs in this guest */
		EXPECT_EQ(access(path, R_OK), 0);
	}
}

TEST_HARNESS_MAIN
