// SPDX-License-Identifier: MIT
/*
 * svm_prefetch: asynchronous PREFETCH (DRM_SVMGPU_PREFETCH_ASYNC,
 * docs/driver.md "Asynchronous PREFETCH", docs/api.md
 * svmgpu_device_prefetch_async()).  The ioctl checks its input at once and
 * returns an id; the migration runs in the driver's work, in order per
 * file, and a DRM event with the id, the status and the pages moved
 * follows on the file.  Every byte is checked after each move, the
 * residency and the debugfs counters agree with the events; munmap of the
 * range, close, exit and unbind while requests are pending end them
 * (with an event, or cancelled without one) and leave nothing behind.
 *
 * Buffers of whole megabytes are 2 MiB-aligned (sg_map_2m()): a PMD shared
 * with a neighbour that stays in system memory can be collapsed by
 * khugepaged, which brings its few device-private pages back (docs/driver.md
 * "Busy pages"), so an unaligned buffer's counts are not exact.
 *
 * Needs a device with local memory (make check's LOCAL_MEM); without it
 * only the argument checks and the -EOPNOTSUPP case run.
 */
#define _GNU_SOURCE
#include <glob.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <svmgpu.h>

#include "svmgpu_guest.h"
#include "svmgpu_test.h"

#define PAGE	4096ul
#define MB	(1024ul * 1024)
#define EV_SIZE	sizeof(struct drm_svmgpu_event_prefetch)

/* Asynchronous PREFETCH: 0 or -errno; *id (may be NULL) as returned. */
static int pf_async(int fd, const void *p, uint64_t size, uint32_t flags, uint64_t *id)
{
	struct drm_svmgpu_prefetch pf = {
		.flags = flags | DRM_SVMGPU_PREFETCH_ASYNC,
		.start = (uintptr_t)p,
		.size = size,
		.id = 77,
		.pages = 77,
	};
	int ret = sg_ioctl(fd, DRM_IOCTL_SVMGPU_PREFETCH, &pf);

	if (id)
		*id = pf.id;
	/*
	 * Never pages from the ioctl itself, and no id when refused (an
	 * unplugged device's -ENODEV comes from the DRM core: nothing is
	 * copied back then).
	 */
	if (ret == -ENODEV)
		return ret;
	if (pf.pages || (ret && pf.id))
		return -EPROTO;
	return ret;
}

/*
 * Read exactly @n prefetch events within @secs seconds (any other event is
 * an error): 0, -ETIMEDOUT, -EPROTO.
 */
static int ev_read_n(int fd, struct drm_svmgpu_event_prefetch *ev, unsigned int n,
		     unsigned int secs)
{
	double end = sg_now_s() + secs;
	unsigned int got = 0;

	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t len;

		if (sg_now_s() > end)
			return -ETIMEDOUT;
		if (poll(&p, 1, 100) <= 0)
			continue;
		len = read(fd, ev + got, (n - got) * EV_SIZE);
		if (len < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		if (len % EV_SIZE)
			return -EPROTO;
		for (; len; len -= EV_SIZE, got++)
			if (ev[got].base.type != DRM_SVMGPU_EVENT_PREFETCH ||
			    ev[got].base.length != EV_SIZE)
				return -EPROTO;
	}
	return 0;
}

/*
 * Seconds left until @end (at least 1): each test's waits share one budget
 * below its TEST_TIMEOUT, so a slow wait fails its assertion with
 * -ETIMEDOUT instead of the harness killing the test.
 */
static unsigned int left_s(double end)
{
	double s = end - sg_now_s();

	return s > 1 ? (unsigned int)s : 1;
}

/* Is an event pending on @fd right now? */
static int ev_pending(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static long long pf_counter(const char *name)
{
	return sg_debugfs_value("svmgpu_prefetch", name);
}

/* Wait (at most 20 s) for debugfs async_pending to be 0; returns it. */
static long long pf_pending_settles(void)
{
	long long v = -1;
	int i;

	for (i = 0; i < 1000; i++) {
		v = pf_counter("async_pending");
		if (!v)
			break;
		usleep(20000);
	}
	return v;
}

/*
 * The blockers below: a request that provably runs for longer than a few
 * system calls, a PREFETCH to system memory of sg_map_blocker()'s 16 TiB.  Queued first on
 * a file, it holds back the file's later requests until its address range
 * or address space is gone, which makes "the request starts after the
 * munmap (the exit)" certain.  Every user ends it (munmap, exit or close),
 * so its size costs nothing: it only has to outlast any stall of the test
 * on a loaded host (64 GiB, 0.1-0.3 s under KVM, did not: review-prefetch2
 * MED 1).
 */

/* The device's BDF if it was bound when the program started, else "". */
static char bound_bdf[64];

/*
 * Bind the device again if a test left it unbound (an ASSERT or a timeout
 * in the unbind case): every later test and program needs it.
 */
static void rebind_if_unbound(void)
{
	int fd;

	if (!bound_bdf[0] || sg_driver_bound(bound_bdf))
		return;
	if (sg_driver_bind(bound_bdf, true))
		return;
	fd = sg_open_wait(20);
	if (fd >= 0)
		close(fd);
}

FIXTURE(pf) {
	int fd;
	uint32_t ctx;
	uint32_t q;
	int local;
};

FIXTURE_SETUP(pf)
{
	self->fd = sg_open();
	if (self->fd < 0)
		SKIP(return, "no render node: %s", strerror(errno));
	self->local = sg_has_local_mem(self->fd);
	ASSERT_EQ(sg_ctx_create(self->fd, &self->ctx), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &self->q), 0);
}

FIXTURE_TEARDOWN(pf)
{
	if (self->fd >= 0)
		close(self->fd);
	rebind_if_unbound();
}

/* The old 32-byte struct, as a binary built before ASYNC passes it. */
struct old_prefetch {
	__u32 flags, pad;
	__u64 start, size, pages;
};

#define OLD_IOCTL_PREFETCH \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SVMGPU_PREFETCH, struct old_prefetch)

/*
 * Every input the synchronous PREFETCH refuses, ASYNC refuses at once with
 * the same errno, queues nothing and sends no event; so do bad flag
 * combinations, a hole in the range (-EFAULT, nothing moved) and, in the
 * library, an ASYNC bit in @where.
 */
TEST_F(pf, rejected_inputs_exact_errno)
{
	unsigned char *p = sg_map_anon(4 * PAGE);
	const uint32_t D = DRM_SVMGPU_PREFETCH_DEVICE, S = DRM_SVMGPU_PREFETCH_SYSTEM;
	struct svmgpu_device *dev;
	struct drm_svmgpu_prefetch pf;
	struct old_prefetch old;
	uint64_t id = 5;
	long long queued0 = pf_counter("async_queued");

	ASSERT_NE(p, NULL);
	ASSERT_GE(queued0, 0);
	/* flags: ASYNC alone, with both, with an unknown bit */
	EXPECT_EQ(pf_async(self->fd, p, PAGE, 0, &id), -EINVAL);
	EXPECT_EQ(id, 0);
	EXPECT_EQ(pf_async(self->fd, p, PAGE, D | S, NULL), -EINVAL);
	EXPECT_EQ(pf_async(self->fd, p, PAGE, D | 0x8, NULL), -EINVAL);
	EXPECT_EQ(pf_async(self->fd, p, PAGE, S | 0x80000000u, NULL), -EINVAL);
	/* range: unaligned start, unaligned size, empty, wrapping, past user space */
	EXPECT_EQ(pf_async(self->fd, p + 1, PAGE, D, NULL), -EINVAL);
	EXPECT_EQ(pf_async(self->fd, p, PAGE + 8, D, NULL), -EINVAL);
	EXPECT_EQ(pf_async(self->fd, p, 0, S, NULL), -EINVAL);
	EXPECT_EQ(pf_async(self->fd, (void *)~0xfffull, 2 * PAGE, D, NULL), -EINVAL);
	EXPECT_EQ(pf_async(self->fd, (void *)(1ull << 62), PAGE, S, NULL), -EINVAL);
	/* pad */
	memset(&pf, 0, sizeof(pf));
	pf.flags = D | DRM_SVMGPU_PREFETCH_ASYNC;
	pf.pad = 1;
	pf.start = (uintptr_t)p;
	pf.size = PAGE;
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_PREFETCH, &pf), -EINVAL);
	EXPECT_EQ(pf.id, 0);
	/* The library: NULL device, ASYNC in @where of either call. */
	EXPECT_EQ(svmgpu_device_prefetch_async(NULL, p, PAGE, SVMGPU_PREFETCH_DEVICE, &id),
		  -EINVAL);
	ASSERT_EQ(svmgpu_device_open(0, &dev), 0);
	EXPECT_EQ(svmgpu_device_prefetch_async(dev, p, PAGE,
					       SVMGPU_PREFETCH_DEVICE | DRM_SVMGPU_PREFETCH_ASYNC,
					       &id), -EINVAL);
	EXPECT_EQ(svmgpu_device_prefetch(dev, p, PAGE,
					 SVMGPU_PREFETCH_DEVICE | DRM_SVMGPU_PREFETCH_ASYNC,
					 NULL), -EINVAL);
	EXPECT_EQ(svmgpu_device_prefetch_async(dev, p, PAGE, 0, &id), -EINVAL);
	EXPECT_EQ(id, 0);

	if (!self->local) {
		EXPECT_EQ(pf_async(self->fd, p, PAGE, D, NULL), -EOPNOTSUPP);
		EXPECT_EQ(pf_async(self->fd, p, PAGE, S, NULL), -EOPNOTSUPP);
		EXPECT_EQ(svmgpu_device_prefetch_async(dev, p, PAGE, SVMGPU_PREFETCH_SYSTEM,
						       &id), -EOPNOTSUPP);
	} else {
		/* Larger than device memory: -ENOSPC before anything is queued. */
		long long cap = sg_devmem_value("capacity");
		size_t big = cap + 2 * MB;
		unsigned char *q;

		ASSERT_GT(cap, 0);
		q = mmap(NULL, big, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		ASSERT_NE(q, MAP_FAILED);
		EXPECT_EQ(pf_async(self->fd, q, big, D, NULL), -ENOSPC);
		munmap(q, big);
		/* A hole: -EFAULT, nothing queued, nothing moved (sync moves the head). */
		ASSERT_EQ(munmap(p + 2 * PAGE, PAGE), 0);
		p[0] = 1;
		EXPECT_EQ(pf_async(self->fd, p, 4 * PAGE, D, &id), -EFAULT);
		EXPECT_EQ(svmgpu_device_prefetch_async(dev, p, 4 * PAGE, SVMGPU_PREFETCH_DEVICE,
						       &id), -EFAULT);
		EXPECT_EQ(id, 0);
		EXPECT_EQ(sg_residency(self->fd, p, 2 * PAGE), 0);
		EXPECT_EQ(p[0], 1);
		munmap(p + 3 * PAGE, PAGE);
		/* An old binary's shorter struct still works (synchronous). */
		memset(&old, 0, sizeof(old));
		old.flags = D;
		old.start = (uintptr_t)p;
		old.size = 2 * PAGE;
		EXPECT_EQ(sg_ioctl(self->fd, OLD_IOCTL_PREFETCH, &old), 0);
		EXPECT_EQ(old.pages, 2);
		EXPECT_EQ(sg_residency(self->fd, p, 2 * PAGE), 2);
		old.flags = D | 0x8;
		EXPECT_EQ(sg_ioctl(self->fd, OLD_IOCTL_PREFETCH, &old), -EINVAL);
	}
	EXPECT_EQ(svmgpu_device_close(dev), 0);
	/* Nothing was queued: no event, the counter unchanged. */
	EXPECT_FALSE(ev_pending(self->fd));
	EXPECT_EQ(pf_counter("async_queued"), queued0);
	munmap(p, 2 * PAGE);
}

/*
 * 16 MiB to device memory and back, asynchronously: each event carries
 * the id, the range, the flags, status 0 and exactly the pages moved; the
 * residency and debugfs agree; the device reads the pattern out of device
 * memory and every byte is there after the way back.
 */
TEST_TIMEOUT(120)
TEST_F(pf, async_16m_to_device_and_back_every_byte)
{
	size_t size = 16 * MB, n = size / PAGE;
	unsigned char *a = sg_map_2m(size), *b = sg_map_2m(size);
	struct drm_svmgpu_event_prefetch ev;
	long long used0, queued0, done0;
	uint64_t id1 = 0, id2 = 0;
	double end = sg_now_s() + 90;

	if (!self->local)
		SKIP(return, "the device has no local memory");
	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	used0 = sg_devmem_value("used");
	queued0 = pf_counter("async_queued");
	done0 = pf_counter("async_done");
	ASSERT_GE(used0, 0);
	ASSERT_GE(queued0, 0);
	sg_fill_pat(a, size, 0xa5);
	memset(b, 0, size);

	ASSERT_EQ(pf_async(self->fd, a, size, DRM_SVMGPU_PREFETCH_DEVICE, &id1), 0);
	EXPECT_NE(id1, 0);
	ASSERT_EQ(ev_read_n(self->fd, &ev, 1, left_s(end)), 0);
	EXPECT_EQ(ev.id, id1);
	EXPECT_EQ(ev.start, (uintptr_t)a);
	EXPECT_EQ(ev.size, size);
	EXPECT_EQ(ev.flags, DRM_SVMGPU_PREFETCH_DEVICE | DRM_SVMGPU_PREFETCH_ASYNC);
	EXPECT_EQ(ev.result, 0);
	EXPECT_EQ(ev.pages, n);
	EXPECT_EQ(sg_residency(self->fd, a, size), (long long)n);
	EXPECT_EQ(sg_devmem_value("used"), used0 + (long long)size);
	EXPECT_EQ(pf_counter("async_queued"), queued0 + 1);
	EXPECT_EQ(pf_counter("async_done"), done0 + 1);
	EXPECT_EQ(pf_counter("async_pending"), 0);

	/* The device reads it where it is. */
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_copy(b, a, size)), 0);
	EXPECT_EQ(sg_check_pat(b, size, 0xa5), -1);
	EXPECT_EQ(sg_residency(self->fd, a, size), (long long)n);

	ASSERT_EQ(pf_async(self->fd, a, size, DRM_SVMGPU_PREFETCH_SYSTEM, &id2), 0);
	EXPECT_GT(id2, id1);
	ASSERT_EQ(ev_read_n(self->fd, &ev, 1, left_s(end)), 0);
	EXPECT_EQ(ev.id, id2);
	EXPECT_EQ(ev.flags, DRM_SVMGPU_PREFETCH_SYSTEM | DRM_SVMGPU_PREFETCH_ASYNC);
	EXPECT_EQ(ev.result, 0);
	EXPECT_EQ(ev.pages, n);
	EXPECT_EQ(sg_residency(self->fd, a, size), 0);
	EXPECT_EQ(sg_devmem_used_settles(NULL, used0), used0);
	EXPECT_EQ(sg_check_pat(a, size, 0xa5), -1);
	EXPECT_FALSE(ev_pending(self->fd));
	munmap(a, size);
	munmap(b, size);
}

/*
 * Several in flight on one file, waited for with epoll: they run in the
 * order they were made (a buffer sent to the device and straight back
 * ends in system memory), each event with its id, in id order; through
 * the library, the same completions come out of svmgpu_device_wait_events()
 * as SVMGPU_EVENT_PREFETCH events.
 */
TEST_TIMEOUT(120)
TEST_F(pf, several_in_flight_complete_in_order)
{
	enum { NB = 4 };
	size_t size = 4 * MB, n = size / PAGE;
	struct drm_svmgpu_event_prefetch ev[NB + 1];
	struct svmgpu_queue_event qe[NB];
	struct epoll_event ee = { .events = EPOLLIN }, out;
	unsigned char *buf[NB];
	struct svmgpu_device *dev;
	uint64_t id[NB + 1];
	long long used0;
	int i, ep;
	double end = sg_now_s() + 90;

	if (!self->local)
		SKIP(return, "the device has no local memory");
	used0 = sg_devmem_value("used");
	for (i = 0; i < NB; i++) {
		buf[i] = sg_map_2m(size);
		ASSERT_NE(buf[i], NULL);
		sg_fill_pat(buf[i], size, 0x10 + i);
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_GE(ep, 0);
	ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, self->fd, &ee), 0);
	EXPECT_EQ(epoll_wait(ep, &out, 1, 0), 0);

	for (i = 0; i < NB; i++)
		ASSERT_EQ(pf_async(self->fd, buf[i], size, DRM_SVMGPU_PREFETCH_DEVICE, &id[i]), 0);
	/* Buffer 0 back at once: behind its way there. */
	ASSERT_EQ(pf_async(self->fd, buf[0], size, DRM_SVMGPU_PREFETCH_SYSTEM, &id[NB]), 0);
	for (i = 1; i <= NB; i++)
		EXPECT_EQ(id[i], id[i - 1] + 1);
	ASSERT_EQ(epoll_wait(ep, &out, 1, left_s(end) * 1000), 1);
	EXPECT_TRUE(out.events & EPOLLIN);
	ASSERT_EQ(ev_read_n(self->fd, ev, NB + 1, left_s(end)), 0);
	for (i = 0; i <= NB; i++) {
		EXPECT_EQ(ev[i].id, id[i]);
		EXPECT_EQ(ev[i].result, 0);
		EXPECT_EQ(ev[i].pages, n);
	}
	EXPECT_EQ(epoll_wait(ep, &out, 1, 0), 0);
	EXPECT_EQ(sg_residency(self->fd, buf[0], size), 0);
	for (i = 1; i < NB; i++)
		EXPECT_EQ(sg_residency(self->fd, buf[i], size), (long long)n);
	EXPECT_EQ(sg_devmem_value("used"), used0 + (long long)((NB - 1) * size));

	/* The library: back to system memory, reaped from its event API. */
	ASSERT_EQ(svmgpu_device_open(0, &dev), 0);
	for (i = 1; i < NB; i++) {
		ASSERT_EQ(svmgpu_device_prefetch_async(dev, buf[i], size, SVMGPU_PREFETCH_SYSTEM,
						       &id[i]), 0);
		EXPECT_NE(id[i], 0);
	}
	for (i = 1; i < NB; ) {
		int k, got = svmgpu_device_wait_events(dev, qe, NB,
						       left_s(end) * 1000000000ull);

		ASSERT_GT(got, 0);
		for (k = 0; k < got; k++, i++) {
			ASSERT_LT(i, NB);
			EXPECT_EQ(qe[k].queue, SVMGPU_EVENT_PREFETCH);
			EXPECT_EQ(qe[k].user_data, id[i]);
			EXPECT_EQ(qe[k].seq, n);
			EXPECT_EQ(qe[k].first_seq, 0);
			EXPECT_EQ(qe[k].result, 0);
			EXPECT_EQ(qe[k].err.count, 0);
		}
	}
	EXPECT_EQ(svmgpu_device_reap_events(dev, qe, NB), 0);
	EXPECT_EQ(svmgpu_device_close(dev), 0);
	for (i = 0; i < NB; i++) {
		EXPECT_EQ(sg_residency(self->fd, buf[i], size), 0);
		EXPECT_EQ(sg_check_pat(buf[i], size, 0x10 + i), -1);
		munmap(buf[i], size);
	}
	EXPECT_EQ(sg_devmem_used_settles(NULL, used0), used0);
	close(ep);
}

/*
 * Completions pending beyond what one reap asks for: prefetch events are
 * smaller than submit events, and the library must never store more than
 * @max of them (a read sized for @max submit events holds more prefetch
 * events: it wrote past the caller's array).  Three done, reaped two at a
 * time, then one by one through wait; nothing is written past @max.
 */
TEST_TIMEOUT(120)
TEST_F(pf, reap_returns_at_most_max_events)
{
	enum { NB = 5 };
	struct svmgpu_queue_event qe[NB + 1];
	struct svmgpu_device *dev;
	unsigned char *buf;
	uint64_t id[NB];
	int i, got, k;

	if (!self->local)
		SKIP(return, "the device has no local memory");
	buf = sg_map_anon(NB * PAGE);
	ASSERT_NE(buf, NULL);
	sg_fill_pat(buf, NB * PAGE, 0x77);
	ASSERT_EQ(svmgpu_device_open(0, &dev), 0);
	for (i = 0; i < NB; i++)
		ASSERT_EQ(svmgpu_device_prefetch_async(dev, buf + i * PAGE, PAGE,
						       SVMGPU_PREFETCH_DEVICE, &id[i]), 0);
	ASSERT_EQ(pf_pending_settles(), 0);
	memset(qe, 0xa5, sizeof(qe));
	got = svmgpu_device_reap_events(dev, qe, 2);
	ASSERT_EQ(got, 2);
	for (k = 2; k < NB + 1; k++)	/* untouched past max */
		EXPECT_EQ(qe[k].user_data, 0xa5a5a5a5a5a5a5a5ull);
	for (k = 0; k < 2; k++) {
		EXPECT_EQ(qe[k].queue, SVMGPU_EVENT_PREFETCH);
		EXPECT_EQ(qe[k].user_data, id[k]);
		EXPECT_EQ(qe[k].result, 0);
	}
	for (i = 2; i < NB; i++) {
		memset(qe, 0xa5, sizeof(qe));
		got = svmgpu_device_wait_events(dev, qe, 1, 10000000000ull);
		ASSERT_EQ(got, 1);
		EXPECT_EQ(qe[0].user_data, id[i]);
		EXPECT_EQ(qe[1].user_data, 0xa5a5a5a5a5a5a5a5ull);
	}
	EXPECT_EQ(svmgpu_device_reap_events(dev, qe, NB), 0);
	EXPECT_EQ(svmgpu_device_close(dev), 0);
	EXPECT_EQ(sg_check_pat(buf, NB * PAGE, 0x77), -1);
	munmap(buf, NB * PAGE);
}

/*
 * The only bound on a file's pending requests is its DRM event space
 * (4 KiB): exactly 85 prefetch events (48 bytes) fit, the 86th request is
 * refused with -ENOBUFS (not -EAGAIN: sg_ioctl() and drmIoctl() retry
 * that forever) and not counted, a SUBMIT with an event then gets
 * its own "full" answer (-ENOSPC, 80 bytes do not fit the 16 left); once
 * the 85 events are read, in id order, a request is taken again.
 */
TEST_TIMEOUT(120)
TEST_F(pf, event_space_full_is_enobufs_until_drained)
{
	enum { FIT = 4096 / EV_SIZE, CAP = 200 };
	struct drm_svmgpu_event_prefetch ev[FIT];
	struct svmgpu_cmd fill;
	struct drm_svmgpu_submit sub;
	struct svmgpu_device *dev;
	long long queued0;
	double end = sg_now_s() + 90;
	uint64_t id0 = 0, id;
	unsigned char *p;
	int i, n, ret = 0;

	if (!self->local)
		SKIP(return, "the device has no local memory");
	ASSERT_EQ(FIT, 85);
	p = sg_map_anon(PAGE);
	ASSERT_NE(p, NULL);
	p[0] = 0x42;
	queued0 = pf_counter("async_queued");
	ASSERT_GE(queued0, 0);
	/* To system memory: nothing to move, each done at once. */
	for (n = 0; n < CAP; n++) {
		ret = pf_async(self->fd, p, PAGE, DRM_SVMGPU_PREFETCH_SYSTEM, &id);
		if (ret)
			break;
		if (!n)
			id0 = id;
		EXPECT_EQ(id, id0 + n);
	}
	EXPECT_EQ(ret, -ENOBUFS);
	EXPECT_EQ(n, FIT);
	EXPECT_EQ(pf_counter("async_queued") - queued0, FIT);
	/* Still full once they are done: the space comes back on read. */
	ASSERT_EQ(pf_pending_settles(), 0);
	EXPECT_EQ(pf_async(self->fd, p, PAGE, DRM_SVMGPU_PREFETCH_SYSTEM, NULL), -ENOBUFS);
	fill = sg_fill(p, PAGE, 0x7e, 1);
	memset(&sub, 0, sizeof(sub));
	sub.flags = DRM_SVMGPU_SUBMIT_EVENT;
	sub.queue_handle = self->q;
	sub.count = 1;
	sub.cmds = (uintptr_t)&fill;
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_SUBMIT, &sub), -ENOSPC);
	EXPECT_EQ(pf_counter("async_queued") - queued0, FIT);
	/* Drained in id order, then a request is taken again. */
	ASSERT_EQ(ev_read_n(self->fd, ev, FIT, left_s(end)), 0);
	for (i = 0; i < FIT; i++) {
		EXPECT_EQ(ev[i].id, id0 + i);
		EXPECT_EQ(ev[i].result, 0);
		EXPECT_EQ(ev[i].pages, 0);
	}
	EXPECT_FALSE(ev_pending(self->fd));
	ASSERT_EQ(pf_async(self->fd, p, PAGE, DRM_SVMGPU_PREFETCH_SYSTEM, &id), 0);
	EXPECT_EQ(id, id0 + FIT);
	ASSERT_EQ(ev_read_n(self->fd, ev, 1, left_s(end)), 0);
	EXPECT_EQ(ev[0].id, id);
	EXPECT_EQ(ev[0].result, 0);
	EXPECT_EQ(pf_counter("async_queued") - queued0, FIT + 1);
	/* The library returns it too, instead of retrying (drmIoctl()). */
	ASSERT_EQ(svmgpu_device_open(0, &dev), 0);
	for (i = 0; i < FIT; i++)
		ASSERT_EQ(svmgpu_device_prefetch_async(dev, p, PAGE, SVMGPU_PREFETCH_SYSTEM,
						       &id), 0);
	EXPECT_EQ(svmgpu_device_prefetch_async(dev, p, PAGE, SVMGPU_PREFETCH_SYSTEM, &id),
		  -ENOBUFS);
	EXPECT_EQ(id, 0);
	EXPECT_EQ(svmgpu_device_close(dev), 0);
	EXPECT_EQ(pf_pending_settles(), 0);
	EXPECT_EQ(p[0], 0x42);
	munmap(p, PAGE);
}

/*
 * Queue an asynchronous PREFETCH of a @huge PROT_NONE, MAP_NORESERVE
 * reservation towards @where, and one of a 4 MiB buffer behind it on the
 * same file (from device memory when @where is system memory): the
 * reservation completes at once with 0 pages, and the buffer then moves
 * as usual, every byte intact.
 */
static void pf_reservation_then_buffer(int fd, size_t huge, uint32_t where,
				       unsigned char pat, int timeout_s)
{
	bool to_dev = where == DRM_SVMGPU_PREFETCH_DEVICE;
	size_t size = 4 * MB, n = size / PAGE;
	struct drm_svmgpu_event_prefetch ev[2];
	unsigned char *r, *a = sg_map_2m(size);
	uint64_t pages = 0;
	double t0;

	ASSERT_NE(a, NULL);
	r = mmap(NULL, huge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(r, MAP_FAILED);
	sg_fill_pat(a, size, pat);
	if (!to_dev) {
		ASSERT_EQ(sg_prefetch(fd, a, size, DRM_SVMGPU_PREFETCH_DEVICE, &pages), 0);
		EXPECT_EQ(pages, n);
	}
	t0 = sg_now_s();
	ASSERT_EQ(pf_async(fd, r, huge, where, NULL), 0);
	ASSERT_EQ(pf_async(fd, a, size, where, NULL), 0);
	ASSERT_EQ(ev_read_n(fd, ev, 2, timeout_s), 0);
	TH_LOG("%zu GiB PROT_NONE and 4 MiB to %s memory in %.2f s", huge >> 30,
	       to_dev ? "device" : "system", sg_now_s() - t0);
	EXPECT_EQ(ev[0].result, 0);
	EXPECT_EQ(ev[0].pages, 0);
	EXPECT_EQ(ev[0].size, huge);
	EXPECT_EQ(ev[1].result, 0);
	EXPECT_EQ(ev[1].pages, n);
	EXPECT_EQ(sg_residency(fd, a, size), to_dev ? (long long)n : 0);
	EXPECT_EQ(sg_check_pat(a, size, pat), -1);
	munmap(r, huge);
	munmap(a, size);
}

/*
 * To system memory, a never-touched reservation costs one step whatever
 * its size (its VMA has no anon_vma: nothing of it can be in device
 * memory): 1 TiB completes at once with 0 pages.  Walked in 2 MiB chunks
 * it took 524288 of them.
 */
TEST_TIMEOUT(60)
TEST_F(pf, system_prefetch_skips_untouched_reservation)
{
	if (!self->local)
		SKIP(return, "the device has no local memory");
	pf_reservation_then_buffer(self->fd, 1ul << 40, DRM_SVMGPU_PREFETCH_SYSTEM,
				   0x6b, 20);
}

/*
 * The same towards device memory: a PROT_NONE reservation never moves
 * there, and the asynchronous PREFETCH skips it in one step, as the
 * synchronous one does.  16 TiB walked in 2 MiB chunks took 8 million
 * steps of the shared prefetch workqueue (minutes of kworker time); the
 * 4 MiB buffer queued behind it waited for them.
 */
TEST_TIMEOUT(60)
TEST_F(pf, device_prefetch_skips_a_prot_none_reservation)
{
	if (!self->local)
		SKIP(return, "the device has no local memory");
	pf_reservation_then_buffer(self->fd, SG_BLOCKER, DRM_SVMGPU_PREFETCH_DEVICE,
				   0x6d, 30);
}

struct sync_pf {
	int fd;
	void *p;
	uint64_t size, pages;
	uint32_t where;
	bool residency;		/* a RESIDENCY instead (ret: its pages or -errno) */
	long long ret;
	int started, done;
	double returned;
};

static void *sync_pf_run(void *arg)
{
	struct sync_pf *s = arg;

	__atomic_store_n(&s->started, 1, __ATOMIC_RELEASE);
	if (s->residency)
		s->ret = sg_residency(s->fd, s->p, s->size);
	else
		s->ret = sg_prefetch(s->fd, s->p, s->size, s->where, &s->pages);
	s->returned = sg_now_s();
	__atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * The synchronous PREFETCH on huge ranges.  To device memory, 16 TiB of
 * PROT_NONE (never taken by device memory) and, to system memory, 16 TiB
 * never touched (no anonymous page) are each one step: 0 pages at once.
 * To system memory, 16 TiB with one page touched is 8 million windows
 * with nothing to move: the walk lets a writer of the mmap_lock in (an
 * mmap() of another thread returns while the PREFETCH still runs), and it
 * ends with -EFAULT once the range is unmapped.  Before, the walk held the
 * mmap_lock for all of it (minutes on TCG; a soft lockup on a
 * non-preemptible kernel), with no point to reschedule.
 */
TEST_TIMEOUT(120)
TEST_F(pf, sync_prefetch_of_a_huge_range_yields)
{
	struct sync_pf s = { .fd = self->fd, .size = SG_BLOCKER };
	uint64_t pages = 1;
	pthread_t t;
	void *r, *m;
	double t0;
	int done;

	if (!self->local)
		SKIP(return, "the device has no local memory");
	r = mmap(NULL, SG_BLOCKER, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(r, MAP_FAILED);
	t0 = sg_now_s();
	EXPECT_EQ(sg_prefetch(self->fd, r, SG_BLOCKER, DRM_SVMGPU_PREFETCH_DEVICE, &pages), 0);
	EXPECT_EQ(pages, 0);
	pages = 1;
	EXPECT_EQ(sg_prefetch(self->fd, r, SG_BLOCKER, DRM_SVMGPU_PREFETCH_SYSTEM, &pages), 0);
	EXPECT_EQ(pages, 0);
	TH_LOG("16 TiB of PROT_NONE to device and to system memory in %.2f s", sg_now_s() - t0);
	munmap(r, SG_BLOCKER);

	s.p = sg_map_blocker();
	ASSERT_NOT_NULL(s.p);
	s.where = DRM_SVMGPU_PREFETCH_SYSTEM;
	t0 = sg_now_s();
	ASSERT_EQ(pthread_create(&t, NULL, sync_pf_run, &s), 0);
	/* well inside the ioctl by then: its walk takes far longer */
	while (!__atomic_load_n(&s.started, __ATOMIC_ACQUIRE))
		usleep(1000);
	usleep(200000);
	m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	done = __atomic_load_n(&s.done, __ATOMIC_ACQUIRE);
	EXPECT_NE(m, MAP_FAILED);
	TH_LOG("an mmap() during the PREFETCH returned after %.2f s, the PREFETCH %s",
	       sg_now_s() - t0, done ? "done" : "still running");
	EXPECT_EQ(done, 0);
	munmap(m, PAGE);
	ASSERT_EQ(munmap(s.p, SG_BLOCKER), 0);
	pthread_join(t, NULL);
	EXPECT_EQ(s.ret, -EFAULT);
	EXPECT_EQ(s.pages, 0);
}

/*
 * munmap() of the range of a pending asynchronous PREFETCH, made certain
 * to come before the request starts (it waits behind a blocker whose range
 * is unmapped next): round 0 unmaps all of it, the event says -EFAULT with
 * 0 pages; round 1 unmaps the second half, the event says -EFAULT with
 * exactly the first half's pages moved, which are resident and keep every
 * byte (no THP in the range: see below).  The blocker ends with -EFAULT too; no page stays in device memory.
 */
TEST_TIMEOUT(120)
TEST_F(pf, munmap_while_async_prefetch_runs)
{
	size_t size = 4 * MB, n = size / PAGE;
	struct drm_svmgpu_event_prefetch ev[2];
	double end = sg_now_s() + 60;
	unsigned char *a, *big;
	uint64_t id[2];
	long long used0;
	int round;

	if (!self->local)
		SKIP(return, "the device has no local memory");
	used0 = sg_devmem_value("used");
	for (round = 0; round < 2; round++) {
		big = sg_map_blocker();
		ASSERT_NE(big, NULL);
		a = sg_map_2m(size);
		ASSERT_NE(a, NULL);
		/*
		 * No THP: unmapping half of one leaves its pages PTE-mapped
		 * parts of a compound page, which migrate_vma (6.1) skips.
		 */
		ASSERT_EQ(madvise(a, size, MADV_NOHUGEPAGE), 0);
		sg_fill_pat(a, size, 0x3c);
		ASSERT_EQ(pf_async(self->fd, big, SG_BLOCKER, DRM_SVMGPU_PREFETCH_SYSTEM, &id[0]), 0);
		ASSERT_EQ(pf_async(self->fd, a, size, DRM_SVMGPU_PREFETCH_DEVICE, &id[1]), 0);
		/* Round 0: all of it; round 1: the second half. */
		ASSERT_EQ(munmap(a + round * size / 2, size - round * size / 2), 0);
		ASSERT_EQ(munmap(big, SG_BLOCKER), 0);
		ASSERT_EQ(ev_read_n(self->fd, ev, 2, left_s(end)), 0);
		TH_LOG("round %d: blocker %d (%llu pages), request %d (%llu pages)", round,
		       ev[0].result, (unsigned long long)ev[0].pages, ev[1].result,
		       (unsigned long long)ev[1].pages);
		EXPECT_EQ(ev[0].id, id[0]);
		EXPECT_EQ(ev[0].result, -EFAULT);
		EXPECT_EQ(ev[0].pages, 0);
		EXPECT_EQ(ev[1].id, id[1]);
		EXPECT_EQ(ev[1].result, -EFAULT);
		EXPECT_EQ(ev[1].pages, round * n / 2);
		if (round) {
			EXPECT_EQ(sg_residency(self->fd, a, size / 2), (long long)n / 2);
			EXPECT_EQ(sg_check_pat(a, size / 2, 0x3c), -1);
			ASSERT_EQ(munmap(a, size / 2), 0);
		}
		EXPECT_EQ(sg_devmem_used_settles(NULL, used0), used0);
	}
}

/*
 * A child queues 4 x 4 MiB and closes its file (then exits, in the second
 * round without closing first): the pending requests are dropped, every
 * one counted done or cancelled, none left; after the close no page of
 * the child moves any more; device memory is back when it exits.
 */
TEST_TIMEOUT(120)
TEST_F(pf, close_and_exit_cancel_pending_prefetches)
{
	long long used0, q0, d0, c0;
	int round;

	if (!self->local)
		SKIP(return, "the device has no local memory");
	used0 = sg_devmem_value("used");
	for (round = 0; round < 2; round++) {
		int st;
		pid_t pid;

		q0 = pf_counter("async_queued");
		d0 = pf_counter("async_done");
		c0 = pf_counter("async_cancelled");
		pid = fork();
		ASSERT_GE(pid, 0);
		if (!pid) {
			size_t size = 16 * MB;
			unsigned char *a = sg_map_2m(size);
			int fd = sg_open(), fd2, i;
			long long r1, r2;

			if (!a || fd < 0)
				_exit(10);
			sg_fill_pat(a, size, 0x77);
			for (i = 0; i < 4; i++)
				if (pf_async(fd, a + i * size / 4, size / 4,
					     DRM_SVMGPU_PREFETCH_DEVICE, NULL))
					_exit(11);
			if (round)
				_exit(0);
			close(fd);
			/* Released: its work has stopped, nothing moves any more. */
			fd2 = sg_open();
			if (fd2 < 0)
				_exit(12);
			r1 = sg_residency(fd2, a, size);
			usleep(300000);
			r2 = sg_residency(fd2, a, size);
			if (r1 < 0 || r1 != r2)
				_exit(13);
			if (sg_check_pat(a, size, 0x77) != -1)
				_exit(14);
			_exit(0);
		}
		ASSERT_EQ(waitpid(pid, &st, 0), pid);
		ASSERT_TRUE(WIFEXITED(st));
		EXPECT_EQ(WEXITSTATUS(st), 0);
		EXPECT_EQ(pf_pending_settles(), 0);
		EXPECT_EQ(pf_counter("async_queued") - q0, 4);
		TH_LOG("round %d: %lld done, %lld cancelled", round,
		       pf_counter("async_done") - d0, pf_counter("async_cancelled") - c0);
		EXPECT_EQ(pf_counter("async_done") - d0 + pf_counter("async_cancelled") - c0, 4);
		EXPECT_EQ(sg_devmem_used_settles(NULL, used0), used0);
	}
}

/*
 * The file outlives the address space: a fork() child queues, on the
 * parent's file, a blocker of its own memory and then a 4 MiB PREFETCH to
 * the device, and exits.  The 4 MiB request provably starts after the exit
 * (behind the blocker, which the exit ends), so both events say
 * -ECANCELED, the second with 0 pages, in every round; no page stays in
 * device memory.
 */
TEST_TIMEOUT(120)
TEST_F(pf, exited_address_space_ends_with_ecanceled)
{
	struct drm_svmgpu_event_prefetch ev[2];
	long long used0;
	int st, i;
	double end = sg_now_s() + 90;

	if (!self->local)
		SKIP(return, "the device has no local memory");
	used0 = sg_devmem_value("used");
	for (i = 0; i < 3; i++) {
		pid_t pid = fork();

		ASSERT_GE(pid, 0);
		if (!pid) {
			size_t size = 4 * MB;
			unsigned char *a = sg_map_2m(size), *big = sg_map_blocker();

			if (!a || !big)
				_exit(10);
			memset(a, 1, size);
			if (pf_async(self->fd, big, SG_BLOCKER, DRM_SVMGPU_PREFETCH_SYSTEM, NULL))
				_exit(11);
			_exit(pf_async(self->fd, a, size, DRM_SVMGPU_PREFETCH_DEVICE, NULL) ? 12 : 0);
		}
		ASSERT_EQ(waitpid(pid, &st, 0), pid);
		ASSERT_TRUE(WIFEXITED(st));
		ASSERT_EQ(WEXITSTATUS(st), 0);
		ASSERT_EQ(ev_read_n(self->fd, ev, 2, left_s(end)), 0);
		TH_LOG("round %d: blocker %d, request %d (%llu pages)", i, ev[0].result,
		       ev[1].result, (unsigned long long)ev[1].pages);
		EXPECT_EQ(ev[0].result, -ECANCELED);
		EXPECT_EQ(ev[1].result, -ECANCELED);
		EXPECT_EQ(ev[1].pages, 0);
		EXPECT_GT(ev[1].id, ev[0].id);
		EXPECT_EQ(sg_devmem_used_settles(NULL, used0), used0);
	}
}

/*
 * Exited address spaces are let go of before their turn (review-prefetch
 * L3): behind a blocker of this process, five fork() children each queue
 * a 1 MiB PREFETCH of their own memory on the shared file and exit.  While
 * the blocker still runs (no event yet, six pending), the five mm_structs
 * are dropped (debugfs async_mm_dropped + 5); the blocker's own, of a live
 * process, is not.  Then the blocker's range goes: it ends with -EFAULT,
 * the five with -ECANCELED and 0 pages, in id order.
 */
TEST_TIMEOUT(120)
TEST_F(pf, exited_mms_dropped_before_their_turn)
{
	enum { NK = 5 };
	struct drm_svmgpu_event_prefetch ev[NK + 1];
	double end = sg_now_s() + 90;
	long long dropped0, dropped = -1;
	unsigned char *big;
	uint64_t id;
	int i, st;

	if (!self->local)
		SKIP(return, "the device has no local memory");
	dropped0 = pf_counter("async_mm_dropped");
	ASSERT_GE(dropped0, 0);
	big = sg_map_blocker();
	ASSERT_NE(big, NULL);
	ASSERT_EQ(pf_async(self->fd, big, SG_BLOCKER, DRM_SVMGPU_PREFETCH_SYSTEM, &id), 0);
	for (i = 0; i < NK; i++) {
		pid_t pid = fork();

		ASSERT_GE(pid, 0);
		if (!pid) {
			unsigned char *a = sg_map_anon(MB);

			if (!a)
				_exit(10);
			memset(a, 2, MB);
			_exit(pf_async(self->fd, a, MB, DRM_SVMGPU_PREFETCH_DEVICE, NULL) ? 11 : 0);
		}
		ASSERT_EQ(waitpid(pid, &st, 0), pid);
		ASSERT_TRUE(WIFEXITED(st));
		ASSERT_EQ(WEXITSTATUS(st), 0);
	}
	for (i = 0; i < 500; i++) {
		dropped = pf_counter("async_mm_dropped") - dropped0;
		if (dropped >= NK)
			break;
		usleep(20000);
	}
	TH_LOG("%lld mm_structs dropped after %.2f s, %lld pending", dropped, i * 0.02,
	       pf_counter("async_pending"));
	EXPECT_EQ(dropped, NK);
	EXPECT_FALSE(ev_pending(self->fd));
	ASSERT_EQ(munmap(big, SG_BLOCKER), 0);
	ASSERT_EQ(ev_read_n(self->fd, ev, NK + 1, left_s(end)), 0);
	EXPECT_EQ(ev[0].id, id);
	EXPECT_EQ(ev[0].result, -EFAULT);
	for (i = 1; i <= NK; i++) {
		EXPECT_EQ(ev[i].id, id + i);
		EXPECT_EQ(ev[i].result, -ECANCELED);
		EXPECT_EQ(ev[i].pages, 0);
	}
	EXPECT_EQ(pf_counter("async_mm_dropped") - dropped0, NK);
	EXPECT_EQ(pf_pending_settles(), 0);
}

/*
 * The sysfs function-level reset of the device, "" if there is none.
 */
static void flr_path(char *out, size_t len)
{
	char bdf[64];

	out[0] = 0;
	if (sg_find_bdf(bdf, sizeof(bdf)))
		return;
	snprintf(out, len, "/sys/bus/pci/devices/%s/reset", bdf);
	if (access(out, W_OK))
		out[0] = 0;
}

/*
 * Seven requests over four 8 MiB buffers (each to the device, then 0 and
 * 1 back to system memory, then 0 to the device again) and a reset
 * through @reset (the sysfs FLR or debugfs svmgpu_reset) written while
 * they run: the reset happened (resets + 1), requests were pending when it
 * was asked for, every one ends with an event in id order whose result is
 * 0 or -EIO (docs/driver.md: migrations wait the reset out, device memory
 * keeps its contents; -EIO only if the copy engine was abandoned), at most
 * its pages moved, where a request ended with 0 the residency is its
 * direction's, every byte of every buffer is exact, nothing is pending or
 * cancelled, and the device works afterwards: a synchronous PREFETCH, a
 * device COPY and a later asynchronous PREFETCH, all exact; device memory
 * back to what it was.
 */
static void pf_across_reset(int fd, uint32_t ctx, const char *reset)
{
	enum { NB = 4, NR = 7 };
	static const struct { int buf; uint32_t where; } req[NR] = {
		{ 0, DRM_SVMGPU_PREFETCH_DEVICE }, { 1, DRM_SVMGPU_PREFETCH_DEVICE },
		{ 2, DRM_SVMGPU_PREFETCH_DEVICE }, { 3, DRM_SVMGPU_PREFETCH_DEVICE },
		{ 0, DRM_SVMGPU_PREFETCH_SYSTEM }, { 1, DRM_SVMGPU_PREFETCH_SYSTEM },
		{ 0, DRM_SVMGPU_PREFETCH_DEVICE },
	};
	size_t size = 8 * MB, n = size / PAGE;
	struct drm_svmgpu_event_prefetch ev[NR];
	long long used0, q0, d0, c0, resets0, pending;
	unsigned char *a = sg_map_2m(NB * size), *b = sg_map_2m(size);
	double end = sg_now_s() + 90, t0;
	int last[NB] = { -1, -1, -1, -1 };
	uint64_t id[NR], pages;
	uint32_t q;
	int i;

	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	used0 = sg_devmem_value("used");
	q0 = pf_counter("async_queued");
	d0 = pf_counter("async_done");
	c0 = pf_counter("async_cancelled");
	resets0 = sg_dev_counter("resets");
	ASSERT_GE(used0, 0);
	ASSERT_GE(resets0, 0);
	for (i = 0; i < NB; i++)
		sg_fill_pat(a + i * size, size, 0x21 + i);
	for (i = 0; i < NR; i++)
		ASSERT_EQ(pf_async(fd, a + req[i].buf * size, size, req[i].where, &id[i]), 0);
	pending = pf_counter("async_pending");
	t0 = sg_now_s();
	ASSERT_EQ(sg_write_file(reset, "1"), 0);
	TH_LOG("%lld of %d requests pending at the reset, which took %.2f s", pending, NR,
	       sg_now_s() - t0);
	EXPECT_GT(pending, 0);
	EXPECT_EQ(sg_dev_counter("resets"), resets0 + 1);

	ASSERT_EQ(ev_read_n(fd, ev, NR, left_s(end)), 0);
	for (i = 0; i < NR; i++) {
		TH_LOG("request %d: result %d, %llu pages", i, ev[i].result,
		       (unsigned long long)ev[i].pages);
		EXPECT_EQ(ev[i].id, id[i]);
		EXPECT_EQ(ev[i].start, (uintptr_t)(a + req[i].buf * size));
		EXPECT_EQ(ev[i].size, size);
		EXPECT_EQ(ev[i].flags, req[i].where | DRM_SVMGPU_PREFETCH_ASYNC);
		EXPECT_TRUE(ev[i].result == 0 || ev[i].result == -EIO);
		EXPECT_LE(ev[i].pages, n);
		last[req[i].buf] = ev[i].result ? -1 : i;
	}
	for (i = 0; i < NB; i++) {
		if (last[i] >= 0)
			EXPECT_EQ(sg_residency(fd, a + i * size, size),
				  req[last[i]].where == DRM_SVMGPU_PREFETCH_DEVICE ? (long long)n : 0);
		EXPECT_EQ(sg_check_pat(a + i * size, size, 0x21 + i), -1);
	}
	EXPECT_EQ(pf_pending_settles(), 0);
	EXPECT_EQ(pf_counter("async_queued") - q0, NR);
	EXPECT_EQ(pf_counter("async_done") - d0, NR);
	EXPECT_EQ(pf_counter("async_cancelled") - c0, 0);

	/*
	 * The device works again: PREFETCH both ways, a COPY on a new queue
	 * (the reset may have stopped the older ones), all exact.
	 */
	ASSERT_EQ(sg_prefetch(fd, a + size, size, DRM_SVMGPU_PREFETCH_DEVICE, &pages), 0);
	EXPECT_EQ(sg_residency(fd, a + size, size), (long long)n);
	memset(b, 0, size);
	ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(fd, q, sg_copy(b, a + size, size)), 0);
	EXPECT_EQ(sg_queue_destroy(fd, q), 0);
	EXPECT_EQ(sg_check_pat(b, size, 0x22), -1);
	ASSERT_EQ(pf_async(fd, a, NB * size, DRM_SVMGPU_PREFETCH_SYSTEM, &id[0]), 0);
	ASSERT_EQ(ev_read_n(fd, ev, 1, left_s(end)), 0);
	EXPECT_EQ(ev[0].id, id[0]);
	EXPECT_EQ(ev[0].result, 0);
	EXPECT_EQ(sg_residency(fd, a, NB * size), 0);
	for (i = 0; i < NB; i++)
		EXPECT_EQ(sg_check_pat(a + i * size, size, 0x21 + i), -1);
	EXPECT_EQ(sg_devmem_used_settles(NULL, used0), used0);
	EXPECT_FALSE(ev_pending(fd));
	munmap(a, NB * size);
	munmap(b, size);
}

TEST_TIMEOUT(120)
TEST_F(pf, flr_with_prefetches_pending)
{
	char reset[128];

	if (!self->local)
		SKIP(return, "the device has no local memory");
	flr_path(reset, sizeof(reset));
	if (!reset[0])
		SKIP(return, "no sysfs reset file");
	pf_across_reset(self->fd, self->ctx, reset);
}

TEST_TIMEOUT(120)
TEST_F(pf, driver_reset_with_prefetches_pending)
{
	char reset[256];

	if (!self->local)
		SKIP(return, "the device has no local memory");
	if (sg_debugfs_path("svmgpu_reset", reset, sizeof(reset)))
		SKIP(return, "no debugfs reset file");
	pf_across_reset(self->fd, self->ctx, reset);
}

/*
 * SIGKILL at random points of a process's long asynchronous PREFETCHes
 * (seeds 1..8, $SVMGPU_PF_SEEDS for more; a failure names its seed): the
 * child opens the device, fills 16 MiB, queues six requests (16 MiB to the
 * device, back, 8 MiB there again, ...) and tells the parent, then waits
 * for events forever.  Odd seeds are killed 0-3 ms after the child says
 * its fill is done (among its six PREFETCH ioctls and the first chunks: the
 * log counts the kills that left 1-5 queued), even ones 0-100 ms after the
 * six were queued (mid-migration).  Each child dies of the signal within
 * 20 s (no hang), and afterwards: nothing pending, every request queued
 * counted done or cancelled, device memory back where it was (its pages
 * returned to the allocator), and the device still prefetches and copies
 * exactly.  kmemleak (the debug kernel) runs after the suite.
 */
TEST_TIMEOUT(120)
TEST_F(pf, kill9_at_random_points_of_async_prefetches)
{
	const char *env = getenv("SVMGPU_PF_SEEDS");
	unsigned int seeds = env ? (unsigned int)atoi(env) : 8, seed, mid = 0, part = 0;
	long long used0, q0, d0, c0, q1;
	size_t size = 4 * MB;
	unsigned char *a = sg_map_2m(size), *b = sg_map_2m(size);

	if (!self->local)
		SKIP(return, "the device has no local memory");
	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	used0 = sg_devmem_value("used");
	q0 = pf_counter("async_queued");
	d0 = pf_counter("async_done");
	c0 = pf_counter("async_cancelled");
	ASSERT_GE(used0, 0);
	for (seed = 1; seed <= seeds; seed++) {
		unsigned int r = seed * 2654435761u;
		int pipefd[2], st = 0, i;
		long long pending = 0, qs;
		pid_t pid;
		char c;

		ASSERT_EQ(pipe(pipefd), 0);
		qs = pf_counter("async_queued");
		pid = fork();
		ASSERT_GE(pid, 0);
		if (!pid) {
			size_t big = 16 * MB;
			unsigned char *m = sg_map_anon(big);
			int fd = sg_open();
			struct pollfd p = { .fd = fd, .events = POLLIN };
			static const uint32_t where[2] = {
				DRM_SVMGPU_PREFETCH_DEVICE, DRM_SVMGPU_PREFETCH_SYSTEM,
			};

			close(pipefd[0]);
			if (!m || fd < 0)
				_exit(10);
			sg_fill_pat(m, big, seed);
			if (write(pipefd[1], "f", 1) != 1)
				_exit(12);
			for (i = 0; i < 6; i++)
				if (pf_async(fd, m, i < 2 ? big : big / 2, where[i & 1], NULL))
					_exit(11);
			if (write(pipefd[1], "q", 1) != 1)
				_exit(12);
			for (;;)
				poll(&p, 1, 1000);
		}
		close(pipefd[1]);
		/* the child has its 16 MiB in place: the kills land among its requests */
		ASSERT_EQ(read(pipefd[0], &c, 1), 1);
		ASSERT_EQ(c, 'f');
		if (seed & 1) {
			usleep((r >> 8) % 3000);
		} else {
			ASSERT_EQ(read(pipefd[0], &c, 1), 1);
			usleep((r >> 8) % 100000);
		}
		pending = pf_counter("async_pending");
		ASSERT_EQ(kill(pid, SIGKILL), 0);
		for (i = 0; i < 2000 && waitpid(pid, &st, WNOHANG) != pid; i++)
			usleep(10000);
		close(pipefd[0]);
		qs = pf_counter("async_queued") - qs;
		TH_LOG("seed %u: killed %s with %lld queued, %lld pending, status 0x%x after %.2f s",
		       seed, seed & 1 ? "0-3 ms into its requests" : "after queueing", qs,
		       pending, st, i * 0.01);
		ASSERT_GE(qs, 0);
		ASSERT_LE(qs, 6);
		if (seed & 1)
			part += qs > 0 && qs < 6;
		ASSERT_LT(i, 2000);	/* no hang: it died within 20 s */
		ASSERT_TRUE(WIFSIGNALED(st));
		EXPECT_EQ(WTERMSIG(st), SIGKILL);
		mid += pending > 0;
		EXPECT_EQ(pf_pending_settles(), 0);
		EXPECT_EQ(sg_devmem_used_settles(NULL, used0), used0);
	}
	q1 = pf_counter("async_queued");
	TH_LOG("%u kills, %u with requests pending, %u between its first and sixth request; %lld queued, %lld done, %lld cancelled",
	       seeds, mid, part, q1 - q0, pf_counter("async_done") - d0,
	       pf_counter("async_cancelled") - c0);
	/* Every even seed's child queued its six before the kill. */
	EXPECT_GE(q1 - q0, 6 * (seeds / 2));
	EXPECT_EQ(pf_counter("async_done") - d0 + pf_counter("async_cancelled") - c0, q1 - q0);
	EXPECT_GT(mid, 0);

	/* The device still works, byte for byte. */
	sg_fill_pat(a, size, 0x99);
	ASSERT_EQ(sg_prefetch(self->fd, a, size, DRM_SVMGPU_PREFETCH_DEVICE, NULL), 0);
	EXPECT_EQ(sg_residency(self->fd, a, size), (long long)(size / PAGE));
	memset(b, 0, size);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_copy(b, a, size)), 0);
	EXPECT_EQ(sg_check_pat(b, size, 0x99), -1);
	munmap(a, size);
	munmap(b, size);
	EXPECT_EQ(sg_devmem_used_settles(NULL, used0), used0);
}

/*
 * The early -ENOSPC ("larger than device memory") counts only what can
 * move: a DAX buffer's mapping in the range never moves (skipped, not
 * counted), and the DAX pool is not device memory migration can use.
 * With devmem_limit_mb 8, a 16 MiB DAX buffer followed by 4 MiB of
 * anonymous memory (20 MiB, 4 of it to move) is prefetched, sync and
 * async: 1024 pages, all 4 MiB resident, every byte; the DAX bytes alone
 * past the capacity are no reason to refuse.
 */
TEST_TIMEOUT(120)
TEST_F(pf, dax_bytes_do_not_count_against_capacity)
{
	struct drm_svmgpu_devmem_alloc da = { .size = 16 * MB };
	struct drm_svmgpu_event_prefetch ev;
	char saved[32] = "0";
	const char *param = "/sys/module/svmgpu/parameters/devmem_limit_mb";
	size_t dsz = 16 * MB, asz = 4 * MB;
	unsigned char *d, *a;
	uint64_t pages = 0;
	long long used0;
	int f;

	if (!self->local)
		SKIP(return, "the device has no local memory");
	if (sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_DEVMEM_ALLOC, &da))
		SKIP(return, "no DAX pool of 16 MiB");
	f = open(param, O_RDONLY);
	ASSERT_GE(f, 0);
	ASSERT_GT(read(f, saved, sizeof(saved) - 1), 0);
	close(f);
	used0 = sg_devmem_value("used");
	/* The buffer at a 2 MiB-aligned address of an anonymous reservation. */
	a = mmap(NULL, dsz + asz + 2 * MB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(a, MAP_FAILED);
	d = (unsigned char *)(((uintptr_t)a + 2 * MB - 1) & ~(2 * MB - 1));
	ASSERT_EQ(mmap(d, dsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, self->fd,
		       (off_t)da.offset), d);
	a = d + dsz;
	sg_fill_pat(a, asz, 0x4d);
	ASSERT_EQ(sg_write_file(param, "8"), 0);
	EXPECT_EQ(sg_prefetch(self->fd, d, dsz + asz, DRM_SVMGPU_PREFETCH_DEVICE, &pages), 0);
	EXPECT_EQ(pages, asz / PAGE);
	EXPECT_EQ(sg_residency(self->fd, a, asz), (long long)(asz / PAGE));
	EXPECT_EQ(sg_prefetch(self->fd, a, asz, DRM_SVMGPU_PREFETCH_SYSTEM, NULL), 0);
	EXPECT_EQ(pf_async(self->fd, d, dsz + asz, DRM_SVMGPU_PREFETCH_DEVICE, NULL), 0);
	EXPECT_EQ(ev_read_n(self->fd, &ev, 1, 60), 0);
	EXPECT_EQ(ev.result, 0);
	EXPECT_EQ(ev.pages, asz / PAGE);
	sg_write_file(param, saved);
	EXPECT_EQ(sg_check_pat(a, asz, 0x4d), -1);
	munmap(d, dsz + asz);
	EXPECT_EQ(sg_devmem_used_settles(NULL, used0), used0);
}

/*
 * Unbind while requests are pending on an open file: each ends with an
 * event, 0 or -ENODEV, the file stays readable, the data is all there
 * (unbind moved it back to system memory); then the device is bound again.
 */
TEST_TIMEOUT(120)
TEST_F(pf, zz_unbind_with_prefetches_pending)
{
	size_t size = 4 * MB;
	struct drm_svmgpu_event_prefetch ev[3];
	char bdf[64];
	unsigned char *a;
	int i, fd;

	if (!self->local)
		SKIP(return, "the device has no local memory");
	if (sg_find_bdf(bdf, sizeof(bdf)) || access(SG_DRV "/unbind", W_OK))
		SKIP(return, "cannot unbind through sysfs");
	a = sg_map_2m(3 * size);
	ASSERT_NE(a, NULL);
	sg_fill_pat(a, 3 * size, 0x5e);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(pf_async(self->fd, a + i * size, size, DRM_SVMGPU_PREFETCH_DEVICE, NULL),
			  0);
	ASSERT_EQ(sg_driver_bind(bdf, false), 0);
	ASSERT_EQ(ev_read_n(self->fd, ev, 3, 60), 0);	/* the unbind took < 40 s */
	for (i = 0; i < 3; i++) {
		TH_LOG("request %d: result %d, %llu pages", i, ev[i].result,
		       (unsigned long long)ev[i].pages);
		EXPECT_TRUE(ev[i].result == 0 || ev[i].result == -ENODEV);
		if (i)
			EXPECT_GT(ev[i].id, ev[i - 1].id);
	}
	EXPECT_EQ(pf_async(self->fd, a, size, DRM_SVMGPU_PREFETCH_DEVICE, NULL), -ENODEV);
	EXPECT_EQ(sg_check_pat(a, 3 * size, 0x5e), -1);
	close(self->fd);
	self->fd = -1;
	ASSERT_EQ(sg_driver_bind(bdf, true), 0);	/* else the teardown binds it */
	fd = sg_open_wait(20);
	ASSERT_GE(fd, 0);
	close(fd);
	munmap(a, 3 * size);
}

/*
 * Unbind while a synchronous PREFETCH and a RESIDENCY walk 16 TiB with one
 * page touched: minutes of windows with nothing to move or count, each
 * inside drm_dev_enter().  Remove's drm_dev_unplug() waits for the window
 * each is in, then both end with -ENODEV; the unbind takes seconds, not
 * the rest of the walks; the touched page keeps its byte, and the device
 * binds and works again.
 */
TEST_TIMEOUT(180)
TEST_F(pf, zz_unbind_during_sync_prefetch_and_residency_of_a_huge_range)
{
	struct sync_pf s[2] = {
		{ .fd = self->fd, .size = SG_BLOCKER, .where = DRM_SVMGPU_PREFETCH_SYSTEM },
		{ .fd = self->fd, .size = SG_BLOCKER, .residency = true },
	};
	pthread_t t[2];
	double t0, t1;
	char bdf[64];
	int i, fd;
	unsigned char *p;

	if (!self->local)
		SKIP(return, "the device has no local memory");
	if (sg_find_bdf(bdf, sizeof(bdf)) || access(SG_DRV "/unbind", W_OK))
		SKIP(return, "cannot unbind through sysfs");
	p = sg_map_blocker();
	ASSERT_NOT_NULL(p);
	for (i = 0; i < 2; i++) {
		s[i].p = p;
		ASSERT_EQ(pthread_create(&t[i], NULL, sync_pf_run, &s[i]), 0);
		while (!__atomic_load_n(&s[i].started, __ATOMIC_ACQUIRE))
			usleep(1000);
	}
	usleep(300000);		/* well inside both walks */
	for (i = 0; i < 2; i++)
		ASSERT_EQ(__atomic_load_n(&s[i].done, __ATOMIC_ACQUIRE), 0);
	t0 = sg_now_s();
	ASSERT_EQ(sg_driver_bind(bdf, false), 0);
	t1 = sg_now_s();
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	TH_LOG("unbind took %.2f s; PREFETCH %lld after %.2f s, RESIDENCY %lld after %.2f s",
	       t1 - t0, s[0].ret, s[0].returned - t0, s[1].ret, s[1].returned - t0);
	EXPECT_LT(t1 - t0, 30.0);
	EXPECT_EQ(s[0].ret, -ENODEV);
	EXPECT_EQ(s[0].pages, 0);
	EXPECT_EQ(s[1].ret, -ENODEV);
	EXPECT_EQ(p[0], 1);
	EXPECT_EQ(sg_prefetch(self->fd, p, PAGE, DRM_SVMGPU_PREFETCH_SYSTEM, NULL), -ENODEV);
	EXPECT_EQ(sg_residency(self->fd, p, PAGE), -ENODEV);
	close(self->fd);
	self->fd = -1;
	ASSERT_EQ(sg_driver_bind(bdf, true), 0);	/* else the teardown binds it */
	fd = sg_open_wait(20);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(sg_residency(fd, p, PAGE), 0);
	close(fd);
	munmap(p, SG_BLOCKER);
}

/* The harness, then the device bound again whatever a test did. */
int main(int argc, char **argv)
{
	int ret;

	if (!sg_find_bdf(bound_bdf, sizeof(bound_bdf)) && !sg_driver_bound(bound_bdf))
		bound_bdf[0] = 0;
	ret = svmgpu_test_main(argc, argv);
	rebind_if_unbound();
	return ret;
}
