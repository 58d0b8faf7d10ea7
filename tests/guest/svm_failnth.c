// SPDX-License-Identifier: MIT
/*
 * svm_failnth: every memory allocation of an ioctl and of a CPU fault on
 * device memory, failed in turn with the kernel's own fault injection:
 * /proc/thread-self/fail-nth
 * (Documentation/fault-injection/fault-injection.rst) makes the n-th
 * allocation of this task fail, for n = 1, 2, ... until the call makes
 * fewer than n (every n up to 64, then a quarter more each time; every n
 * with SVMGPU_FAILNTH_EVERY=1).
 * failslab and fail_page_alloc take every allocation that may fail
 * (sleeping ones, order 0, user pages), none by chance.  The probe too,
 * through a sysfs bind.
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
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "svm_advise.h"
#include "failnth.h"

/* More allocations than any of these calls makes: a sweep that ends here failed. */
#define MAX_N	100000u

FIXTURE(fn) {
	int fd, nth, local;
	uint32_t ctx, q;
	char bdf[32];	/* the device a test unbinds: bound again after it */
	long long dax_mb;	/* dax_mb before the test changed it; -1: not */
	int node;	/* the render node's minor if the test made it (mknod); -1: not */
};

FIXTURE_SETUP(fn)
{
	self->fd = -1;
	self->node = -1;
	self->dax_mb = -1;
	self->nth = open("/proc/thread-self/fail-nth", O_RDWR);
	if (self->nth < 0 || !sg_fault_injection_setup())
		SKIP(return, "no fail-nth, failslab and fail_page_alloc (debug kernel only)");
	self->fd = sg_open();
	ASSERT_GE(self->fd, 0);
	ASSERT_EQ(sg_ctx_create(self->fd, &self->ctx), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &self->q), 0);
	self->local = sg_has_local_mem(self->fd);
}

static void unlink_render_node(int minor)
{
	char node[64];

	snprintf(node, sizeof(node), "/dev/dri/renderD%d", minor);
	unlink(node);
}

FIXTURE_TEARDOWN(fn)
{
	if (self->node >= 0)
		unlink_render_node(self->node);
	if (self->bdf[0] && !sg_driver_bound(self->bdf)) {
		sg_param_write("inject_probe_fail_nth", 0);
		if (self->dax_mb >= 0)
			sg_param_write("dax_mb", self->dax_mb);
		sg_driver_bind(self->bdf, true);
	}
	if (self->nth >= 0)
		close(self->nth);
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * End the injection: 1 if the n-th allocation was failed, 0 if the call
 * made fewer (the count was left), -1 on error.
 */
static int fail_nth_end(int nth)
{
	int left = svmgpu_test_fail_nth_left(nth);

	if (svmgpu_test_fail_nth_set(nth, 0) || left < 0)
		return -1;
	return left == 0;
}

/*
 * Every n up to 64, then a quarter more each time (a bound on a long
 * sweep); every n with SVMGPU_FAILNTH_EVERY=1 in the environment.
 */
static bool every_n(void)
{
	const char *e = getenv("SVMGPU_FAILNTH_EVERY");

	return e && *e == '1';
}

static unsigned int next_n(unsigned int n)
{
	return n < 64 || every_n() ? n + 1 : n + n / 4;
}

/*
 * A failed call: exactly -ENOMEM (or one of @other, 0-terminated), or 0
 * where the call fell back.
 */
static int enomem_or_ok(int ret, const int *other)
{
	unsigned int i;

	if (!ret || ret == -ENOMEM)
		return 1;
	for (i = 0; other[i]; i++)
		if (ret == other[i])
			return 1;
	TH_LOG("a call with an allocation failed returned %d (%s)", ret, strerror(-ret));
	return 0;
}

/*
 * One sweep: for n = 1, 2, ... prepare(), call() with the n-th allocation
 * of this task failed, check() what it left; until the call makes fewer
 * than n.  The call returns 0 or -errno; arg is the test's own state.
 */
struct sweep {
	const char *name;
	void (*prepare)(FIXTURE(fn) *self, void *arg, unsigned int n);
	int (*call)(FIXTURE(fn) *self, void *arg, unsigned int n);
	void (*check)(FIXTURE(fn) *self, void *arg, unsigned int n, int ret);
	/* some failed allocation must fail the call, not only be survived */
	bool must_fail;
	/* errors other than -ENOMEM that a failed allocation may give */
	int other[3];
	/*
	 * The count is armed by call() itself, later than its start, and
	 * left() says what was left of it (0: the allocation was failed).
	 */
	int (*left)(FIXTURE(fn) *self, void *arg);
};

static void sweep(FIXTURE(fn) *self, const struct sweep *s, void *arg)
{
	unsigned int n, failed = 0;
	int ret, hit;

	for (n = 1; n < MAX_N; n = next_n(n)) {
		if (s->prepare)
			s->prepare(self, arg, n);
		if (!s->left)
			ASSERT_EQ(svmgpu_test_fail_nth_set(self->nth, n), 0);
		ret = s->call(self, arg, n);
		hit = fail_nth_end(self->nth);
		ASSERT_GE(hit, 0);
		if (s->left) {
			int left = s->left(self, arg);

			ASSERT_GE(left, 0);
			hit = !left;
		}
		ASSERT_TRUE(hit ? enomem_or_ok(ret, s->other) : !ret);
		failed += hit && ret;
		s->check(self, arg, n, ret);
		if (!hit)
			break;
	}
	TH_LOG("%s: %u allocations tried, %u failed it", s->name, n - 1, failed);
	EXPECT_LT(n, MAX_N);
	/* the call's first allocation at least was failed */
	EXPECT_GT(n, 1);
	if (s->must_fail)
		EXPECT_GT(failed, 0);
}

/* The test's buffer and the handle of the last context or queue it made. */
struct made {
	unsigned char *buf;
	uint32_t handle, last;
};

/* A FILL of the page through queue q with n's byte. */
static void fill_works(FIXTURE(fn) *self, uint32_t q, struct made *m, unsigned int n)
{
	ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(m->buf, PAGE, n & 0xff, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(m->buf, n & 0xff, PAGE));
}

/*
 * CTX_CREATE, the first of the process each time (its last context was
 * destroyed, so the svm, its notifier and its device context are made
 * again): -ENOMEM leaves no context; a context made works.
 */
static int ctx_create(FIXTURE(fn) *self, void *arg, unsigned int n)
{
	struct made *m = arg;

	m->handle = 0;
	return sg_ctx_create(self->fd, &m->handle);
}

static void ctx_created(FIXTURE(fn) *self, void *arg, unsigned int n, int ret)
{
	struct made *m = arg;
	uint32_t q;

	if (ret) {
		/* handles are cyclic: a context it kept would be the next one */
		EXPECT_EQ(sg_ctx_destroy(self->fd, m->last + 1), -ENOENT);
		return;
	}
	ASSERT_EQ(sg_queue_create(self->fd, m->handle, 0, &q), 0);
	fill_works(self, q, m, n);
	ASSERT_EQ(sg_queue_destroy(self->fd, q), 0);
	ASSERT_EQ(sg_ctx_destroy(self->fd, m->handle), 0);
	m->last = m->handle;
}

TEST_F(fn, context_creation)
{
	static const struct sweep s = { "CTX_CREATE", NULL, ctx_create, ctx_created, true };
	struct made m = { .buf = sg_map_anon(PAGE), .last = self->ctx };

	ASSERT_NE(m.buf, NULL);
	/* only this test's contexts: the fixture's go first */
	ASSERT_EQ(sg_queue_destroy(self->fd, self->q), 0);
	ASSERT_EQ(sg_ctx_destroy(self->fd, self->ctx), 0);
	sweep(self, &s, &m);
	self->ctx = 0;
	ASSERT_EQ(sg_ctx_create(self->fd, &self->ctx), 0);
	munmap(m.buf, PAGE);
}

/* QUEUE_CREATE: -ENOMEM leaves no queue; a queue made runs a FILL. */
static int queue_create(FIXTURE(fn) *self, void *arg, unsigned int n)
{
	struct made *m = arg;

	m->handle = 0;
	return sg_queue_create(self->fd, self->ctx, 0, &m->handle);
}

static void queue_created(FIXTURE(fn) *self, void *arg, unsigned int n, int ret)
{
	struct made *m = arg;

	if (ret) {
		/* handles are cyclic: a queue it kept would be the next one */
		EXPECT_EQ(sg_queue_destroy(self->fd, m->last + 1), -ENOENT);
		return;
	}
	fill_works(self, m->handle, m, n);
	ASSERT_EQ(sg_queue_destroy(self->fd, m->handle), 0);
	m->last = m->handle;
}

TEST_F(fn, queue_creation)
{
	static const struct sweep s = { "QUEUE_CREATE", NULL, queue_create, queue_created, true };
	struct made m = { .buf = sg_map_anon(PAGE), .last = self->q };

	ASSERT_NE(m.buf, NULL);
	sweep(self, &s, &m);
	munmap(m.buf, PAGE);
}

/*
 * SUBMIT of a FILL into untouched memory: a SUBMIT that fails queued
 * nothing (the buffer keeps the last FILL's bytes, the next command's
 * sequence number follows); one that returns 0 fills it.
 */
struct submitted {
	unsigned char *buf;
	size_t size;
	uint64_t seq, nop_seq;
	unsigned int last;
};

static int submit(FIXTURE(fn) *self, void *arg, unsigned int n)
{
	struct submitted *s = arg;
	struct svmgpu_cmd c = sg_fill(s->buf, s->size, n & 0xff, 1);

	s->seq = 0;
	return sg_submit(self->fd, self->q, &c, 1, &s->seq);
}

static void nop_follows(FIXTURE(fn) *self, struct submitted *s)
{
	struct svmgpu_cmd c = sg_nop();

	ASSERT_EQ(sg_submit(self->fd, self->q, &c, 1, &s->nop_seq), 0);
	ASSERT_EQ(sg_wait(self->fd, self->q, s->nop_seq, s->nop_seq, SG_TIMEOUT_NS, NULL), 0);
}

static void submitted(FIXTURE(fn) *self, void *arg, unsigned int n, int ret)
{
	struct submitted *s = arg;
	uint64_t prev = ret ? s->nop_seq : s->seq;

	if (!ret) {
		ASSERT_EQ(sg_wait(self->fd, self->q, s->seq, s->seq, SG_TIMEOUT_NS, NULL), 0);
		s->last = n & 0xff;
	}
	/* the NOP's number follows the last command queued: none was lost */
	nop_follows(self, s);
	EXPECT_EQ(s->nop_seq, prev + 1);
	ASSERT_TRUE(sg_all_bytes(s->buf, s->last, s->size));
}

TEST_F(fn, submission)
{
	static const struct sweep sw = { "SUBMIT", NULL, submit, submitted, false };
	struct submitted s = { .size = 16 * PAGE };

	s.buf = sg_map_anon(s.size);
	ASSERT_NE(s.buf, NULL);
	nop_follows(self, &s);
	sweep(self, &sw, &s);
	munmap(s.buf, s.size);
}

/*
 * ADVISE SET over the middle of an advised range (a split at both ends):
 * -ENOMEM leaves the advice as it was; 0 sets it.
 */
#define ADVISE_SIZE	(8 * PAGE)

static void advised(FIXTURE(fn) *self, void *arg, unsigned int n)
{
	ASSERT_EQ(advise(self->fd, self->ctx, arg, ADVISE_SIZE, DRM_SVMGPU_ATTR_READ_MOSTLY, 1), 0);
}

static int advise_middle(FIXTURE(fn) *self, void *arg, unsigned int n)
{
	return advise(self->fd, self->ctx, (char *)arg + 2 * PAGE, 2 * PAGE,
		      DRM_SVMGPU_ATTR_ACCESSED_BY, 1);
}

static void advice_kept(FIXTURE(fn) *self, void *arg, unsigned int n, int ret)
{
	EXPECT_EQ(advice_at(self->fd, self->ctx, (char *)arg + 2 * PAGE, PAGE, NULL),
		  DRM_SVMGPU_ADVICE_READ_MOSTLY | (ret ? 0 : DRM_SVMGPU_ADVICE_ACCESSED_BY));
	/* cleared again: nothing split */
	ASSERT_EQ(advise(self->fd, self->ctx, arg, ADVISE_SIZE, DRM_SVMGPU_ATTR_ACCESSED_BY, 0), 0);
	ASSERT_EQ(advise(self->fd, self->ctx, arg, ADVISE_SIZE, DRM_SVMGPU_ATTR_READ_MOSTLY, 0), 0);
}

TEST_F(fn, advice)
{
	static const struct sweep s = { "ADVISE", advised, advise_middle, advice_kept, false };
	unsigned char *buf = sg_map_anon(ADVISE_SIZE);

	ASSERT_NE(buf, NULL);
	sweep(self, &s, buf);
	munmap(buf, ADVISE_SIZE);
}

/*
 * PREFETCH to device memory and back to system memory (its pages
 * allocated in this task): a failed one moves some pages or none, never
 * loses a byte.
 */
#define PREFETCH_SIZE	(32 * PAGE)

static void patterned(FIXTURE(fn) *self, void *arg, unsigned int n)
{
	sg_fill_pat(arg, PREFETCH_SIZE, n);
}

static void on_device(FIXTURE(fn) *self, void *arg, unsigned int n)
{
	patterned(self, arg, n);
	ASSERT_EQ(sg_prefetch(self->fd, arg, PREFETCH_SIZE, DRM_SVMGPU_PREFETCH_DEVICE, NULL), 0);
}

static int prefetch_device(FIXTURE(fn) *self, void *arg, unsigned int n)
{
	return sg_prefetch(self->fd, arg, PREFETCH_SIZE, DRM_SVMGPU_PREFETCH_DEVICE, NULL);
}

static int prefetch_system(FIXTURE(fn) *self, void *arg, unsigned int n)
{
	return sg_prefetch(self->fd, arg, PREFETCH_SIZE, DRM_SVMGPU_PREFETCH_SYSTEM, NULL);
}

static void pattern_kept(FIXTURE(fn) *self, void *arg, unsigned int n, int ret)
{
	/* the device, then the CPU, read every byte */
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_atomic_add(arg, 0, 8)), 0);
	ASSERT_EQ(sg_check_pat(arg, PREFETCH_SIZE, n), -1);
}

TEST_F(fn, prefetch_both_ways)
{
	static const struct sweep to_device = {
		"PREFETCH to device", patterned, prefetch_device, pattern_kept, false
	};
	static const struct sweep to_system = {
		"PREFETCH to system", on_device, prefetch_system, pattern_kept, false
	};
	unsigned char *buf;

	if (!self->local)
		SKIP(return, "the device has no local memory");
	buf = sg_map_anon(PREFETCH_SIZE);
	ASSERT_NE(buf, NULL);
	sweep(self, &to_device, buf);
	sweep(self, &to_system, buf);
	munmap(buf, PREFETCH_SIZE);
}

/*
 * A CPU read of a page in device memory: migrate_to_ram() allocates the
 * system page in this task.  Without it the fault returns VM_FAULT_OOM
 * (the page stays where it is, nothing lost) and the access is tried
 * again: the read sees the byte.
 */
static void page_on_device(FIXTURE(fn) *self, void *arg, unsigned int n)
{
	sg_fill_pat(arg, PAGE, n);
	ASSERT_EQ(sg_prefetch(self->fd, arg, PAGE, DRM_SVMGPU_PREFETCH_DEVICE, NULL), 0);
	ASSERT_EQ(sg_residency(self->fd, arg, PAGE), 1);
}

static int cpu_read(FIXTURE(fn) *self, void *arg, unsigned int n)
{
	volatile unsigned char *v = arg;

	/* the fault cannot fail: it is retried until it is served */
	return v[PAGE / 2] == sg_pat(PAGE / 2, n) ? 0 : -EIO;
}

static void page_read(FIXTURE(fn) *self, void *arg, unsigned int n, int ret)
{
	EXPECT_EQ(sg_check_pat(arg, PAGE, n), -1);
}

TEST_F(fn, cpu_fault_on_device_memory)
{
	static const struct sweep s = { "migrate_to_ram", page_on_device, cpu_read, page_read, false };
	unsigned char *buf;

	if (!self->local || !sg_devmem_private(NULL))
		SKIP(return, "no device-private memory (coherent pages are read in place)");
	buf = sg_map_anon(PAGE);
	ASSERT_NE(buf, NULL);
	sweep(self, &s, buf);
	munmap(buf, PAGE);
}

/*
 * The probe: its n-th allocation from its own code on fails (the driver's
 * inject_probe_fail_nth sets the probing task's fail-nth after the DRM
 * device's allocation and the PCI enable, whose failures crash 6.1's DRM
 * core and ACPICA; a sysfs bind probes in the writing task, this one, as
 * the guest's PCI functions have no NUMA node).  A bind that failed
 * returns -ENOMEM (-ENOSPC from the MSI-X vectors, -EBUSY from the BAR's
 * request), leaves the function unbound with no render node, and the next
 * bind works; one that succeeded runs a FILL.  The kmemleak scan after the unload sees what a
 * failed probe left.  Without the DAX pool (dax_mb=0): mapping it
 * allocates the kernel's page tables with GFP_ATOMIC, and 6.1's x86
 * panics when that fails (spp_getpage()).  Not in make check
 * (SVMGPU_FAILNTH_PROBE=1 runs it): in one CI run a bind that succeeded
 * left a device whose render node could not be opened (not seen since, in
 * a run of every n either), and the suite's later programs without a
 * device.  Such a bind now says which n, the node is made if devtmpfs did
 * not make it (probed()), and a device still without one is unbound, so
 * that the teardown binds it again without injection.
 */
struct bound {
	int bind;
	char bdf[32];
	unsigned char *buf;
};

static int probe_bind(FIXTURE(fn) *self, void *arg, unsigned int n)
{
	struct bound *b = arg;
	ssize_t len = strlen(b->bdf);

	int ret;

	if (sg_param_write("inject_probe_fail_nth", n))
		return -EPROTO;
	ret = pwrite(b->bind, b->bdf, len, 0) == len ? 0 : -errno;
	/* a probe ran and took the count */
	if (sg_param_read("inject_probe_fail_nth"))
		return -EPROTO;
	return ret;
}

/* What the probe left of its count: 0 once it failed the allocation. */
static int probe_left(FIXTURE(fn) *self, void *arg)
{
	return sg_param_read("inject_probe_fail_nth_left");
}

/*
 * What udev does: renderD@minor in /dev/dri made from sysfs's major:minor,
 * if devtmpfs did not make it.  1 if made, 0 if it was there, or -errno.
 */
static int make_render_node(int minor)
{
	char node[64], sys[64];
	unsigned int maj, min;
	struct stat st;
	FILE *f;
	int ok;

	snprintf(node, sizeof(node), "/dev/dri/renderD%d", minor);
	if (!stat(node, &st))
		return 0;
	snprintf(sys, sizeof(sys), "/sys/class/drm/renderD%d/dev", minor);
	f = fopen(sys, "r");
	if (!f)
		return -errno;
	ok = fscanf(f, "%u:%u", &maj, &min) == 2;
	fclose(f);
	if (!ok)
		return -EINVAL;
	mkdir("/dev/dri", 0755);	/* devtmpfs removes it once empty */
	if (mknod(node, S_IFCHR | 0600, makedev(maj, min)))
		return -errno;
	return 1;
}

/*
 * A bind that succeeded may have no render node in /dev: a failed
 * allocation in device_add()'s devtmpfs_create_node() (the node's name) is
 * ignored by 6.1 (and by later kernels): the device is registered, and on
 * a system with udev the uevent makes the node.  The guest has no udev, so
 * the test makes it as udev would, then removes it after the unbind
 * (devtmpfs removes only its own nodes).
 */
static void probed(FIXTURE(fn) *self, void *arg, unsigned int n, int ret)
{
	struct bound *b = arg;
	int i, fd = -1, minor = -1, made;
	uint32_t ctx, q;

	if (ret) {
		EXPECT_FALSE(sg_driver_bound(b->bdf));
		EXPECT_LT(sg_drm_minors(b->bdf, NULL, NULL), 0);	/* no render node */
		return;
	}
	ASSERT_TRUE(sg_driver_bound(b->bdf));
	/* the bind registered it before it returned: a little slack only */
	for (i = 0; i < 100; i++) {
		if (sg_drm_minors(b->bdf, &minor, NULL) >= 0 && (fd = sg_open_render(minor)) >= 0)
			break;
		usleep(20000);
	}
	if (fd < 0) {
		made = minor >= 0 ? make_render_node(minor) : -ENODEV;
		TH_LOG("bound with fail-nth %u, no render node to open: renderD%d %s", n, minor,
		       made == 1 ? "made from sysfs (devtmpfs did not)" :
		       made ? strerror(-made) : "there, but it does not open");
		if (made == 1) {
			self->node = minor;
			fd = sg_open_render(minor);
		}
		/* the teardown binds it again without injection: no later test without it */
		if (fd < 0)
			sg_driver_bind(b->bdf, false);
	}
	ASSERT_GE(fd, 0);
	ASSERT_EQ(sg_ctx_create(fd, &ctx), 0);
	ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(fd, q, sg_fill(b->buf, PAGE, n & 0xff, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(b->buf, n & 0xff, PAGE));
	close(fd);
	ASSERT_EQ(sg_driver_bind(b->bdf, false), 0);
	/* not devtmpfs's: it stays after the unbind */
	if (self->node >= 0) {
		unlink_render_node(self->node);
		self->node = -1;
	}
}

/* ~1 s a bind on the debug kernel: every n of ~1200 takes 20 minutes */
TEST_TIMEOUT(every_n() ? 3600 : 240)
TEST_F(fn, probe)
{
	/*
	 * -ENOSPC: MSI-X vectors that could not be set up; -EBUSY: the BAR's
	 * resource not allocated (pci_request_region() says "can't reserve")
	 */
	static const struct sweep s = {
		"probe", NULL, probe_bind, probed, true, { -ENOSPC, -EBUSY }, probe_left
	};
	struct bound b = { .buf = sg_map_anon(PAGE) };

	ASSERT_NE(b.buf, NULL);
	if (!getenv("SVMGPU_FAILNTH_PROBE"))
		SKIP(return, "SVMGPU_FAILNTH_PROBE=1 to run (6.1 mishandles more failures here)");
	if (sg_param_read("inject_probe_fail_nth") < 0)
		SKIP(return, "no inject_probe_fail_nth (a kernel without fault injection)");
	ASSERT_EQ(sg_find_bdf(b.bdf, sizeof(b.bdf)), 0);
	ASSERT_EQ(svmgpu_test_restore_file(SG_PARAMS "dax_mb"), 0);
	ASSERT_EQ(svmgpu_test_restore_file(SG_PARAMS "inject_probe_fail_nth"), 0);
	self->dax_mb = sg_param_read("dax_mb");
	ASSERT_GE(self->dax_mb, 0);
	ASSERT_EQ(sg_param_write("dax_mb", 0), 0);
	close(self->fd);
	self->fd = -1;
	snprintf(self->bdf, sizeof(self->bdf), "%s", b.bdf);
	ASSERT_EQ(sg_driver_bind(b.bdf, false), 0);
	b.bind = open(SG_DRV "/bind", O_WRONLY);
	ASSERT_GE(b.bind, 0);
	sweep(self, &s, &b);
	close(b.bind);
	/* bound again as it was: with its DAX pool */
	ASSERT_EQ(sg_param_write("dax_mb", self->dax_mb), 0);
	ASSERT_EQ(sg_driver_bind(b.bdf, true), 0);
	munmap(b.buf, PAGE);
}

/*
 * DEVMEM_ALLOC of a DAX buffer: -ENOMEM leaves no handle; a buffer made is
 * mapped, zero-filled, written and freed.
 */
static int dax_alloc(FIXTURE(fn) *self, void *arg, unsigned int n)
{
	struct drm_svmgpu_devmem_alloc *a = arg;

	*a = (struct drm_svmgpu_devmem_alloc){ .size = 2 * MB };
	return sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_DEVMEM_ALLOC, a);
}

static void dax_allocated(FIXTURE(fn) *self, void *arg, unsigned int n, int ret)
{
	struct drm_svmgpu_devmem_alloc *a = arg;
	struct drm_svmgpu_devmem_free f = { .handle = ret ? 1 : a->handle };
	unsigned char *p;

	if (ret) {
		/* handles are the lowest free: a buffer it kept would be 1 */
		EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_DEVMEM_FREE, &f), -ENOENT);
		return;
	}
	p = mmap(NULL, a->size, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, a->offset);
	ASSERT_NE(p, MAP_FAILED);
	EXPECT_TRUE(sg_all_bytes(p, 0, a->size));
	memset(p, n & 0xff, a->size);
	EXPECT_TRUE(sg_all_bytes(p, n & 0xff, a->size));
	ASSERT_EQ(munmap(p, a->size), 0);
	ASSERT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_DEVMEM_FREE, &f), 0);
}

TEST_F(fn, dax_buffer)
{
	static const struct sweep s = { "DEVMEM_ALLOC", NULL, dax_alloc, dax_allocated, false };
	struct drm_svmgpu_devmem_alloc a = { .size = 2 * MB };
	struct drm_svmgpu_devmem_free f = { 0 };
	int ret = sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_DEVMEM_ALLOC, &a);

	if (ret == -EOPNOTSUPP || ret == -ENOSPC)
		SKIP(return, "no DAX pool to allocate from (%d)", ret);
	ASSERT_EQ(ret, 0);
	f.handle = a.handle;
	ASSERT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_DEVMEM_FREE, &f), 0);
	sweep(self, &s, &a);
}

TEST_HARNESS_MAIN
