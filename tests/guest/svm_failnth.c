// SPDX-License-Identifier: MIT
/*
 * svm_failnth: every memory allocation of an ioctl and of a CPU fault on
 * device memory, failed in turn with the kernel's own fault injection:
 * /proc/thread-self/fail-nth
 * (Documentation/fault-injection/fault-injection.rst) makes the n-th
 * allocation of this task fail, for n = 1, 2, ... until the call makes
 * fewer than n (every n up to 64, then a quarter more each time).
 * failslab and fail_page_alloc take every allocation that may fail
 * (sleeping ones, order 0, user pages), none by chance.  Not yet the
 * probe: a first sweep of a sysfs bind counted one allocation (the
 * write's buffer) and none of the probe's, though pci_call_probe() probes
 * in the writing task for a device without a NUMA node (this guest's are
 * -1): not understood, left out until it is.
 *
 * Each call with a failed allocation returns 0 (it fell back) or exactly
 * -ENOMEM, and loses nothing: what it did create works, what it did not is
 * not there, the bytes are exact, and the device works after it.  The
 * runner fails a run with any kernel warning on the console, and its
 * kmemleak scan after the unload any object leaked on the way.  Needs the
 * debug kernel's CONFIG_FAULT_INJECTION_DEBUG_FS, FAILSLAB and
 * FAIL_PAGE_ALLOC: skipped without.
 */
#define _GNU_SOURCE
#include "svm_advise.h"

#define FAILSLAB	"/sys/kernel/debug/failslab/"
#define FAIL_PAGE	"/sys/kernel/debug/fail_page_alloc/"
/* More allocations than any of these calls makes: a sweep that ends here failed. */
#define MAX_N	100000u

/* Every allocation counted, none failed by chance, nothing printed. */
static const char *const knobs[][2] = {
	{ FAILSLAB "ignore-gfp-wait", "N" },
	{ FAILSLAB "verbose", "0" },
	{ FAIL_PAGE "ignore-gfp-wait", "N" },
	{ FAIL_PAGE "ignore-gfp-highmem", "N" },
	{ FAIL_PAGE "min-order", "0" },
	{ FAIL_PAGE "verbose", "0" },
};

FIXTURE(fn) {
	int fd, nth, local;
	uint32_t ctx, q;
};

FIXTURE_SETUP(fn)
{
	unsigned int i;

	self->fd = -1;
	self->nth = open("/proc/thread-self/fail-nth", O_RDWR);
	if (self->nth < 0 || access(FAILSLAB, F_OK) || access(FAIL_PAGE, F_OK))
		SKIP(return, "no fail-nth, failslab and fail_page_alloc (debug kernel only)");
	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		ASSERT_EQ(svmgpu_test_restore_file(knobs[i][0]), 0);
		ASSERT_EQ(sg_write_file(knobs[i][0], knobs[i][1]), 0);
	}
	self->fd = sg_open();
	ASSERT_GE(self->fd, 0);
	ASSERT_EQ(sg_ctx_create(self->fd, &self->ctx), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &self->q), 0);
	self->local = sg_has_local_mem(self->fd);
}

FIXTURE_TEARDOWN(fn)
{
	if (self->nth >= 0)
		close(self->nth);
	if (self->fd >= 0)
		close(self->fd);
}

/* The n-th allocation of this task from now on fails. */
static int fail_nth(int nth, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(nth, buf, len, 0) == len ? 0 : -1;
}

/*
 * End the injection: 1 if the n-th allocation was failed, 0 if the call
 * made fewer (the count was left), -1 on error.
 */
static int fail_nth_end(int nth)
{
	char buf[16] = "";
	ssize_t r = pread(nth, buf, sizeof(buf) - 1, 0);
	int left = r > 0 ? atoi(buf) : -1;

	if (fail_nth(nth, 0) || left < 0)
		return -1;
	return left == 0;
}

/* Every n up to 64, then a quarter more each time (a bound on a long sweep). */
static unsigned int next_n(unsigned int n)
{
	return n < 64 ? n + 1 : n + n / 4;
}

/* A failed call: exactly -ENOMEM, or 0 where the call fell back. */
static int enomem_or_ok(int ret)
{
	if (ret && ret != -ENOMEM)
		TH_LOG("a call with an allocation failed returned %d (%s)", ret, strerror(-ret));
	return !ret || ret == -ENOMEM;
}

/*
 * CTX_CREATE, the first of the process each time (its last context was
 * destroyed, so the svm, its notifier and its device context are made
 * again): -ENOMEM leaves no context; a context made works.
 */
TEST_F(fn, context_creation)
{
	unsigned char *buf = sg_map_anon(PAGE);
	unsigned int n, failed = 0;
	uint32_t ctx, q, last = self->ctx;
	int ret, hit;

	ASSERT_NE(buf, NULL);
	/* only this test's contexts: the fixture's go first */
	ASSERT_EQ(sg_queue_destroy(self->fd, self->q), 0);
	ASSERT_EQ(sg_ctx_destroy(self->fd, self->ctx), 0);
	for (n = 1; n < MAX_N; n = next_n(n)) {
		ctx = 0;
		ASSERT_EQ(fail_nth(self->nth, n), 0);
		ret = sg_ctx_create(self->fd, &ctx);
		hit = fail_nth_end(self->nth);
		ASSERT_GE(hit, 0);
		ASSERT_TRUE(hit ? enomem_or_ok(ret) : !ret);
		failed += hit && ret;
		if (!ret) {
			ASSERT_EQ(sg_queue_create(self->fd, ctx, 0, &q), 0);
			ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(buf, PAGE, n & 0xff, 1)), 0);
			ASSERT_TRUE(sg_all_bytes(buf, n & 0xff, PAGE));
			ASSERT_EQ(sg_queue_destroy(self->fd, q), 0);
			ASSERT_EQ(sg_ctx_destroy(self->fd, ctx), 0);
			last = ctx;
		} else {
			/* handles are cyclic: a context it kept would be the next one */
			EXPECT_EQ(sg_ctx_destroy(self->fd, last + 1), -ENOENT);
		}
		if (!hit)
			break;
	}
	TH_LOG("CTX_CREATE: %u allocations tried, %u failed it", n - 1, failed);
	EXPECT_LT(n, MAX_N);
	EXPECT_GT(failed, 0);
	self->ctx = 0;
	ASSERT_EQ(sg_ctx_create(self->fd, &self->ctx), 0);
	munmap(buf, PAGE);
}

/* QUEUE_CREATE: -ENOMEM leaves no queue; a queue made runs a FILL. */
TEST_F(fn, queue_creation)
{
	unsigned char *buf = sg_map_anon(PAGE);
	unsigned int n, failed = 0;
	uint32_t q, last = self->q;
	int ret, hit;

	ASSERT_NE(buf, NULL);
	for (n = 1; n < MAX_N; n = next_n(n)) {
		q = 0;
		ASSERT_EQ(fail_nth(self->nth, n), 0);
		ret = sg_queue_create(self->fd, self->ctx, 0, &q);
		hit = fail_nth_end(self->nth);
		ASSERT_GE(hit, 0);
		ASSERT_TRUE(hit ? enomem_or_ok(ret) : !ret);
		failed += hit && ret;
		if (!ret) {
			ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(buf, PAGE, n & 0xff, 1)), 0);
			ASSERT_TRUE(sg_all_bytes(buf, n & 0xff, PAGE));
			ASSERT_EQ(sg_queue_destroy(self->fd, q), 0);
			last = q;
		} else {
			/* handles are cyclic: a queue it kept would be the next one */
			EXPECT_EQ(sg_queue_destroy(self->fd, last + 1), -ENOENT);
		}
		if (!hit)
			break;
	}
	TH_LOG("QUEUE_CREATE: %u allocations tried, %u failed it", n - 1, failed);
	EXPECT_LT(n, MAX_N);
	EXPECT_GT(failed, 0);
	munmap(buf, PAGE);
}

/*
 * SUBMIT of a FILL into untouched memory: a SUBMIT that fails queued
 * nothing (the buffer keeps the last FILL's bytes, the next command's
 * sequence number follows); one that returns 0 fills it.
 */
TEST_F(fn, submission)
{
	size_t size = 16 * PAGE;
	unsigned char *buf = sg_map_anon(size);
	unsigned int n, failed = 0, last = 0;
	uint64_t seq, nop_seq = 0, prev;
	struct svmgpu_cmd c;
	int ret, hit;

	ASSERT_NE(buf, NULL);
	c = sg_nop();
	ASSERT_EQ(sg_submit(self->fd, self->q, &c, 1, &nop_seq), 0);
	ASSERT_EQ(sg_wait(self->fd, self->q, nop_seq, nop_seq, SG_TIMEOUT_NS, NULL), 0);
	for (n = 1; n < MAX_N; n = next_n(n)) {
		c = sg_fill(buf, size, n & 0xff, 1);
		seq = 0;
		ASSERT_EQ(fail_nth(self->nth, n), 0);
		ret = sg_submit(self->fd, self->q, &c, 1, &seq);
		hit = fail_nth_end(self->nth);
		ASSERT_GE(hit, 0);
		ASSERT_TRUE(hit ? enomem_or_ok(ret) : !ret);
		failed += hit && ret;
		if (!ret) {
			ASSERT_EQ(sg_wait(self->fd, self->q, seq, seq, SG_TIMEOUT_NS, NULL), 0);
			last = n & 0xff;
		}
		/* the NOP's number follows the last command queued: none was lost */
		prev = ret ? nop_seq : seq;
		c = sg_nop();
		ASSERT_EQ(sg_submit(self->fd, self->q, &c, 1, &nop_seq), 0);
		ASSERT_EQ(sg_wait(self->fd, self->q, nop_seq, nop_seq, SG_TIMEOUT_NS, NULL), 0);
		EXPECT_EQ(nop_seq, prev + 1);
		ASSERT_TRUE(sg_all_bytes(buf, last, size));
		if (!hit)
			break;
	}
	TH_LOG("SUBMIT: %u allocations tried, %u failed it", n - 1, failed);
	EXPECT_LT(n, MAX_N);
	EXPECT_GT(n, 1);
	munmap(buf, size);
}

/*
 * ADVISE SET over the middle of an advised range (a split at both ends):
 * -ENOMEM leaves the advice as it was; 0 sets it.
 */
TEST_F(fn, advice)
{
	size_t size = 8 * PAGE;
	unsigned char *buf = sg_map_anon(size);
	unsigned int n, failed = 0;
	int ret, hit;

	ASSERT_NE(buf, NULL);
	for (n = 1; n < MAX_N; n = next_n(n)) {
		ASSERT_EQ(advise(self->fd, self->ctx, buf, size,
				     DRM_SVMGPU_ATTR_READ_MOSTLY, 1), 0);
		ASSERT_EQ(fail_nth(self->nth, n), 0);
		ret = advise(self->fd, self->ctx, buf + 2 * PAGE, 2 * PAGE,
				 DRM_SVMGPU_ATTR_ACCESSED_BY, 1);
		hit = fail_nth_end(self->nth);
		ASSERT_GE(hit, 0);
		ASSERT_TRUE(hit ? enomem_or_ok(ret) : !ret);
		failed += hit && ret;
		EXPECT_EQ(advice_at(self->fd, self->ctx, buf + 2 * PAGE, PAGE, NULL),
			  DRM_SVMGPU_ADVICE_READ_MOSTLY |
			  (ret ? 0 : DRM_SVMGPU_ADVICE_ACCESSED_BY));
		/* cleared again: nothing split */
		ASSERT_EQ(advise(self->fd, self->ctx, buf, size,
				     DRM_SVMGPU_ATTR_ACCESSED_BY, 0), 0);
		ASSERT_EQ(advise(self->fd, self->ctx, buf, size,
				     DRM_SVMGPU_ATTR_READ_MOSTLY, 0), 0);
		if (!hit)
			break;
	}
	TH_LOG("ADVISE: %u allocations tried, %u failed it", n - 1, failed);
	EXPECT_LT(n, MAX_N);
	EXPECT_GT(n, 1);
	munmap(buf, size);
}

/*
 * PREFETCH to device memory and back to system memory (its pages
 * allocated in this task): a failed one moves some pages or none, never
 * loses a byte.
 */
TEST_F(fn, prefetch_both_ways)
{
	size_t size = 32 * PAGE;
	unsigned char *buf = sg_map_anon(size);
	unsigned int n, failed = 0, way;
	int ret, hit;

	if (!self->local)
		SKIP(return, "the device has no local memory");
	ASSERT_NE(buf, NULL);
	for (way = 0; way < 2; way++) {
		uint32_t to = way ? DRM_SVMGPU_PREFETCH_SYSTEM : DRM_SVMGPU_PREFETCH_DEVICE;

		failed = 0;
		for (n = 1; n < MAX_N; n = next_n(n)) {
			sg_fill_pat(buf, size, n);
			if (way)
				ASSERT_EQ(sg_prefetch(self->fd, buf, size,
						      DRM_SVMGPU_PREFETCH_DEVICE, NULL), 0);
			ASSERT_EQ(fail_nth(self->nth, n), 0);
			ret = sg_prefetch(self->fd, buf, size, to, NULL);
			hit = fail_nth_end(self->nth);
			ASSERT_GE(hit, 0);
			ASSERT_TRUE(hit ? enomem_or_ok(ret) : !ret);
			failed += hit && ret;
			/* the device, then the CPU, read every byte */
			ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_atomic_add(buf, 0, 8)), 0);
			ASSERT_EQ(sg_check_pat(buf, size, n), -1);
			if (!hit)
				break;
		}
		TH_LOG("PREFETCH to %s: %u allocations tried, %u failed it",
		       way ? "system" : "device", n - 1, failed);
		EXPECT_LT(n, MAX_N);
		EXPECT_GT(n, 1);
	}
	munmap(buf, size);
}

/*
 * A CPU read of a page in device memory: migrate_to_ram() allocates the
 * system page in this task.  Without it the fault returns VM_FAULT_OOM
 * (the page stays where it is, nothing lost) and the access is tried
 * again: the read sees the byte.
 */
TEST_F(fn, cpu_fault_on_device_memory)
{
	unsigned char *buf = sg_map_anon(PAGE);
	volatile unsigned char *v = buf;
	unsigned int n, failed = 0;
	unsigned char got;
	int hit;

	if (!self->local || !sg_devmem_private(NULL))
		SKIP(return, "no device-private memory (coherent pages are read in place)");
	ASSERT_NE(buf, NULL);
	for (n = 1; n < MAX_N; n = next_n(n)) {
		sg_fill_pat(buf, PAGE, n);
		ASSERT_EQ(sg_prefetch(self->fd, buf, PAGE, DRM_SVMGPU_PREFETCH_DEVICE, NULL), 0);
		ASSERT_EQ(sg_residency(self->fd, buf, PAGE), 1);
		ASSERT_EQ(fail_nth(self->nth, n), 0);
		got = v[PAGE / 2];
		hit = fail_nth_end(self->nth);
		ASSERT_GE(hit, 0);
		failed += hit;
		EXPECT_EQ(got, sg_pat(PAGE / 2, n));
		EXPECT_EQ(sg_check_pat(buf, PAGE, n), -1);
		if (!hit)
			break;
	}
	TH_LOG("migrate_to_ram: %u allocations tried", n - 1);
	EXPECT_LT(n, MAX_N);
	EXPECT_GT(failed, 0);
	munmap(buf, PAGE);
}

/*
 * DEVMEM_ALLOC of a DAX buffer: -ENOMEM leaves no handle; a buffer made is
 * mapped, zero-filled, written and freed.
 */
TEST_F(fn, dax_buffer)
{
	struct drm_svmgpu_devmem_alloc a;
	struct drm_svmgpu_devmem_free f;
	unsigned int n, failed = 0;
	int ret, hit;

	for (n = 1; n < MAX_N; n = next_n(n)) {
		a = (struct drm_svmgpu_devmem_alloc){ .size = 2 * MB };
		ASSERT_EQ(fail_nth(self->nth, n), 0);
		ret = sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_DEVMEM_ALLOC, &a);
		hit = fail_nth_end(self->nth);
		ASSERT_GE(hit, 0);
		if (n == 1 && !hit && (ret == -EOPNOTSUPP || ret == -ENOSPC))
			SKIP(return, "no DAX pool to allocate from (%d)", ret);
		ASSERT_TRUE(hit ? enomem_or_ok(ret) : !ret);
		failed += hit && ret;
		f = (struct drm_svmgpu_devmem_free){ .handle = a.handle };
		if (!ret) {
			unsigned char *p = mmap(NULL, a.size, PROT_READ | PROT_WRITE, MAP_SHARED,
						self->fd, a.offset);

			ASSERT_NE(p, MAP_FAILED);
			EXPECT_TRUE(sg_all_bytes(p, 0, a.size));
			memset(p, n & 0xff, a.size);
			EXPECT_TRUE(sg_all_bytes(p, n & 0xff, a.size));
			ASSERT_EQ(munmap(p, a.size), 0);
			ASSERT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_DEVMEM_FREE, &f), 0);
		} else {
			f.handle = 1;
			EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_DEVMEM_FREE, &f), -ENOENT);
		}
		if (!hit)
			break;
	}
	TH_LOG("DEVMEM_ALLOC: %u allocations tried, %u failed it", n - 1, failed);
	EXPECT_LT(n, MAX_N);
	EXPECT_GT(n, 1);
}

TEST_HARNESS_MAIN
