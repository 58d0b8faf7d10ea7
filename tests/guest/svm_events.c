// SPDX-License-Identifier: MIT
/*
 * svm_events: pollable completions.  SUBMIT with DRM_SVMGPU_SUBMIT_EVENT
 * queues exactly one struct drm_svmgpu_event_complete on the render node's
 * file, read with read() after poll()/epoll (the DRM event convention), when
 * the submission completes, fails or its queue is destroyed; the file's
 * event space bounds the requests (-ENOSPC).  DRM_SVMGPU_SUBMIT_NONBLOCK
 * returns -EAGAIN instead of sleeping for ring room or (without the
 * driver's scheduler) a hardware queue.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/mman.h>

#include "svmgpu_guest.h"
#include "svmgpu_test.h"

#define EV_SIZE		sizeof(struct drm_svmgpu_event_complete)
/* The DRM core's event space per file (drm_file.c: 4 KiB). */
#define EV_SPACE	4096
#define BUF_SIZE	(64 * 1024)

/* SUBMIT without sg_ioctl()'s retry on EAGAIN. */
static int ev_submit(int fd, uint32_t q, const struct svmgpu_cmd *cmds, uint32_t n,
		     uint32_t flags, uint64_t user_data, uint64_t *seq)
{
	struct drm_svmgpu_submit a = {
		.flags = flags, .queue_handle = q, .count = n,
		.cmds = (uintptr_t)cmds, .user_data = user_data,
	};
	int ret;

	do {
		ret = ioctl(fd, DRM_IOCTL_SVMGPU_SUBMIT, &a);
	} while (ret == -1 && errno == EINTR);
	if (seq)
		*seq = a.seq;
	return ret ? -errno : 0;
}

/* Wait up to @ms for POLLIN, read whatever events are there; count or -errno. */
static int ev_read(int fd, struct drm_svmgpu_event_complete *ev, unsigned int max, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t len;
	int ret;

	ret = poll(&p, 1, ms);
	if (ret < 0)
		return -errno;
	if (!ret)
		return 0;
	if (!(p.revents & POLLIN))
		return -EIO;
	len = read(fd, ev, max * EV_SIZE);
	if (len < 0)
		return -errno;
	if (len % EV_SIZE)
		return -EPROTO;
	return (int)(len / EV_SIZE);
}

/* Read exactly @n events within 30 s; -ETIMEDOUT if fewer came. */
static int ev_read_n(int fd, struct drm_svmgpu_event_complete *ev, unsigned int n)
{
	unsigned int got = 0, tries;
	int ret;

	for (tries = 0; got < n && tries < 300; tries++) {
		ret = ev_read(fd, ev + got, n - got, 100);
		if (ret < 0)
			return ret;
		got += ret;
	}
	return got == n ? 0 : -ETIMEDOUT;
}

static int ev_check_header(const struct drm_svmgpu_event_complete *e)
{
	return e->base.type == DRM_SVMGPU_EVENT_COMPLETE && e->base.length == EV_SIZE;
}

FIXTURE(events) {
	int fd;
	uint32_t ctx;
	uint32_t q;
};

FIXTURE_SETUP(events)
{
	self->fd = sg_open();
	if (self->fd < 0)
		SKIP(return, "no render node: %s", strerror(errno));
	ASSERT_EQ(sg_ctx_create(self->fd, &self->ctx), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 4, &self->q), 0);
}

FIXTURE_TEARDOWN(events)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* Three queues' submissions complete; one epoll on the file reaps all three. */
TEST_F(events, three_queues_one_epoll)
{
	struct drm_svmgpu_event_complete ev[4];
	struct epoll_event ee = { .events = EPOLLIN }, out;
	unsigned char *src[3], *dst[3];
	uint64_t seq[3];
	uint32_t q[3];
	int ep, i, j, got = 0, seen = 0;

	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_GE(ep, 0);
	ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, self->fd, &ee), 0);
	/* Nothing is pending yet. */
	ASSERT_EQ(epoll_wait(ep, &out, 1, 0), 0);
	for (i = 0; i < 3; i++) {
		struct svmgpu_cmd c[2];

		src[i] = malloc(BUF_SIZE);
		dst[i] = malloc(BUF_SIZE);
		ASSERT_TRUE(src[i] && dst[i]);
		memset(src[i], 0, BUF_SIZE);
		memset(dst[i], 0x5a, BUF_SIZE);
		ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q[i]), 0);
		c[0] = sg_fill(src[i], BUF_SIZE, 0x11 * (i + 1), 1);
		c[1] = sg_copy(dst[i], src[i], BUF_SIZE);
		ASSERT_EQ(ev_submit(self->fd, q[i], c, 2, DRM_SVMGPU_SUBMIT_EVENT,
				    0xc0de0000ull + i, &seq[i]), 0);
		ASSERT_EQ(seq[i], 2);
	}
	while (got < 3) {
		int n = epoll_wait(ep, &out, 1, 30000);

		ASSERT_EQ(n, 1);
		ASSERT_TRUE(out.events & EPOLLIN);
		n = read(self->fd, ev + got, sizeof(ev) - got * EV_SIZE);
		ASSERT_GT(n, 0);
		ASSERT_EQ(n % EV_SIZE, 0);
		got += n / EV_SIZE;
	}
	ASSERT_EQ(got, 3);
	for (i = 0; i < 3; i++) {
		const struct drm_svmgpu_event_complete *e = &ev[i];
		int k;

		ASSERT_TRUE(ev_check_header(e));
		k = (int)(e->user_data - 0xc0de0000ull);
		ASSERT_GE(k, 0);
		ASSERT_LT(k, 3);
		ASSERT_FALSE(seen & (1 << k));
		seen |= 1 << k;
		EXPECT_EQ(e->queue_handle, q[k]);
		EXPECT_EQ(e->first_seq, 1);
		EXPECT_EQ(e->seq, seq[k]);
		EXPECT_GE(e->completed_seq, seq[k]);
		EXPECT_EQ(e->result, 0);
		EXPECT_EQ(e->nr_errors, 0);
		EXPECT_EQ(e->err_seq, 0);
		EXPECT_EQ(e->err_code, 0);
		EXPECT_EQ(e->err_va, 0);
	}
	ASSERT_EQ(seen, 7);
	/* The data is there when the event is, byte by byte. */
	for (i = 0; i < 3; i++) {
		for (j = 0; j < BUF_SIZE; j++)
			ASSERT_EQ(dst[i][j], 0x11 * (i + 1));
		free(src[i]);
		free(dst[i]);
	}
	/* Exactly once: nothing more is pending. */
	EXPECT_EQ(epoll_wait(ep, &out, 1, 200), 0);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(sg_queue_destroy(self->fd, q[i]), 0);
	EXPECT_EQ(ev_read(self->fd, ev, 4, 0), 0);
	close(ep);
}

/* The event of a submission with a failing command carries its error. */
TEST_F(events, event_reports_failed_command)
{
	struct drm_svmgpu_event_complete ev[2];
	struct svmgpu_cmd c[3];
	unsigned char *bad, *ok;
	uint64_t seq;

	bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(bad, MAP_FAILED);
	ok = malloc(4096);
	ASSERT_NE(ok, NULL);
	memset(ok, 0, 4096);
	c[0] = sg_fill(ok, 4096, 0x77, 1);
	c[1] = sg_fill(bad + 64, 16, 0x12, 1);
	c[2] = sg_nop();
	ASSERT_EQ(ev_submit(self->fd, self->q, c, 3, DRM_SVMGPU_SUBMIT_EVENT, 42, &seq), 0);
	ASSERT_EQ(seq, 3);
	ASSERT_EQ(ev_read_n(self->fd, ev, 1), 0);
	ASSERT_TRUE(ev_check_header(&ev[0]));
	EXPECT_EQ(ev[0].user_data, 42);
	EXPECT_EQ(ev[0].queue_handle, self->q);
	EXPECT_EQ(ev[0].first_seq, 1);
	EXPECT_EQ(ev[0].seq, 3);
	EXPECT_EQ(ev[0].completed_seq, 3);
	EXPECT_EQ(ev[0].result, 0);
	EXPECT_EQ(ev[0].nr_errors, 1);
	EXPECT_EQ(ev[0].err_seq, 2);
	EXPECT_EQ(ev[0].err_code, SVMGPU_ERR_FAULT_CANCELLED);
	EXPECT_EQ(ev[0].err_va, (uintptr_t)(bad + 64));
	EXPECT_EQ(ev[0].err_access, SVMGPU_ACCESS_WRITE);
	ASSERT_TRUE(sg_all_bytes(ok, 0x77, 4096));
	/* The queue goes on; the next event has no error. */
	c[0] = sg_nop();
	ASSERT_EQ(ev_submit(self->fd, self->q, c, 1, DRM_SVMGPU_SUBMIT_EVENT, 43, &seq), 0);
	ASSERT_EQ(ev_read_n(self->fd, ev, 1), 0);
	EXPECT_EQ(ev[0].user_data, 43);
	EXPECT_EQ(ev[0].seq, 4);
	EXPECT_EQ(ev[0].first_seq, 4);
	EXPECT_EQ(ev[0].nr_errors, 0);
	EXPECT_EQ(ev[0].err_code, 0);
	EXPECT_EQ(ev_read(self->fd, ev, 2, 100), 0);
	munmap(bad, 4096);
	free(ok);
}

/* A queue destroyed with a submission stuck on a WAIT: its event says -ECANCELED. */
TEST_F(events, destroyed_queue_cancels_event)
{
	struct drm_svmgpu_event_complete ev[3];
	uint64_t *flag = malloc(8), seq;
	struct svmgpu_cmd c[2];
	uint32_t q;

	ASSERT_NE(flag, NULL);
	*flag = 0;
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	c[0] = sg_nop();
	ASSERT_EQ(ev_submit(self->fd, q, c, 1, DRM_SVMGPU_SUBMIT_EVENT, 1, &seq), 0);
	ASSERT_EQ(ev_read_n(self->fd, ev, 1), 0);
	EXPECT_EQ(ev[0].result, 0);
	c[0] = sg_wait_eq(flag, 1, 0);
	c[1] = sg_nop();
	ASSERT_EQ(ev_submit(self->fd, q, c, 2, DRM_SVMGPU_SUBMIT_EVENT, 2, &seq), 0);
	ASSERT_EQ(seq, 3);
	ASSERT_EQ(ev_submit(self->fd, q, c + 1, 1, DRM_SVMGPU_SUBMIT_EVENT, 3, &seq), 0);
	/* Stuck behind the WAIT: no event. */
	EXPECT_EQ(ev_read(self->fd, ev, 3, 300), 0);
	ASSERT_EQ(sg_queue_destroy(self->fd, q), 0);
	ASSERT_EQ(ev_read_n(self->fd, ev, 2), 0);
	EXPECT_EQ(ev[0].user_data, 2);
	EXPECT_EQ(ev[0].first_seq, 2);
	EXPECT_EQ(ev[0].seq, 3);
	EXPECT_EQ(ev[0].completed_seq, 1);
	EXPECT_EQ(ev[0].result, -ECANCELED);
	EXPECT_EQ(ev[0].queue_handle, q);
	EXPECT_EQ(ev[1].user_data, 3);
	EXPECT_EQ(ev[1].seq, 4);
	EXPECT_EQ(ev[1].result, -ECANCELED);
	EXPECT_EQ(ev_read(self->fd, ev, 3, 200), 0);
	free(flag);
}

/*
 * The events of a destroyed queue, read only after a new queue was made:
 * they carry the old queue's handle, which the new queue does not get
 * (handles are not reused), so nothing attributes them to the new queue's
 * commands of the same sequence numbers.
 */
TEST_F(events, unread_events_of_a_destroyed_queue_name_no_new_queue)
{
	struct drm_svmgpu_event_complete ev[4];
	uint64_t *flag = malloc(8), seq;
	uint32_t old, q[3];
	struct svmgpu_cmd c;
	int i;

	ASSERT_NE(flag, NULL);
	*flag = 0;
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &old), 0);
	c = sg_wait_eq(flag, 1, 0);
	ASSERT_EQ(ev_submit(self->fd, old, &c, 1, DRM_SVMGPU_SUBMIT_EVENT, 7, &seq), 0);
	ASSERT_EQ(seq, 1);
	ASSERT_EQ(sg_queue_destroy(self->fd, old), 0);
	/* Each new queue's first command is seq 1 too. */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q[i]), 0);
		EXPECT_NE(q[i], old);
		c = sg_nop();
		ASSERT_EQ(ev_submit(self->fd, q[i], &c, 1, DRM_SVMGPU_SUBMIT_EVENT, 8 + i, &seq), 0);
		ASSERT_EQ(seq, 1);
		ASSERT_EQ(sg_wait(self->fd, q[i], seq, seq, SG_TIMEOUT_NS, NULL), 0);
		ASSERT_EQ(sg_queue_destroy(self->fd, q[i]), 0);
	}
	EXPECT_NE(q[0], q[1]);
	EXPECT_NE(q[1], q[2]);
	ASSERT_EQ(ev_read_n(self->fd, ev, 4), 0);
	EXPECT_EQ(ev[0].queue_handle, old);
	EXPECT_EQ(ev[0].user_data, 7);
	EXPECT_EQ(ev[0].seq, 1);
	EXPECT_EQ(ev[0].result, -ECANCELED);
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(ev[1 + i].queue_handle, q[i]);
		EXPECT_EQ(ev[1 + i].user_data, 8 + i);
		EXPECT_EQ(ev[1 + i].result, 0);
	}
	free(flag);
}

/*
 * A file closed with events pending on a stuck queue, and with events
 * delivered but never read: the driver frees them (kmemleak on the debug
 * kernel checks it), the device keeps working.
 */
TEST_F(events, close_with_pending_events)
{
	uint64_t *flag = malloc(8), seq;
	struct svmgpu_cmd c[2];
	uint32_t ctx, q;
	int fd, i;

	ASSERT_NE(flag, NULL);
	*flag = 0;
	for (i = 0; i < 3; i++) {
		fd = sg_open();
		ASSERT_GE(fd, 0);
		ASSERT_EQ(sg_ctx_create(fd, &ctx), 0);
		ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q), 0);
		c[0] = sg_nop();
		ASSERT_EQ(ev_submit(fd, q, c, 1, DRM_SVMGPU_SUBMIT_EVENT, 1, &seq), 0);
		ASSERT_EQ(sg_wait(fd, q, seq, seq, SG_TIMEOUT_NS, NULL), 0);
		c[0] = sg_wait_eq(flag, 1, 0);
		c[1] = sg_nop();
		ASSERT_EQ(ev_submit(fd, q, c, 2, DRM_SVMGPU_SUBMIT_EVENT, 2, &seq), 0);
		ASSERT_EQ(ev_submit(fd, q, c + 1, 1, DRM_SVMGPU_SUBMIT_EVENT, 3, &seq), 0);
		close(fd);
	}
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_nop()), 0);
	free(flag);
}

/* A full ring behind a never-satisfied WAIT: NONBLOCK gets -EAGAIN, nothing queued. */
TEST_F(events, nonblock_full_ring)
{
	struct drm_svmgpu_event_complete ev[2];
	uint64_t *flag = malloc(8), seq;
	struct svmgpu_cmd c[3];

	ASSERT_NE(flag, NULL);
	*flag = 0;
	/* Ring of 4 holds 3. */
	c[0] = sg_wait_eq(flag, 1, 0);
	c[1] = sg_nop();
	c[2] = sg_nop();
	ASSERT_EQ(ev_submit(self->fd, self->q, c, 2, DRM_SVMGPU_SUBMIT_NONBLOCK, 0, &seq), 0);
	ASSERT_EQ(seq, 2);
	/* Room for one: two do not fit, one does. */
	EXPECT_EQ(ev_submit(self->fd, self->q, c + 1, 2, DRM_SVMGPU_SUBMIT_NONBLOCK, 0, &seq),
		  -EAGAIN);
	ASSERT_EQ(ev_submit(self->fd, self->q, c + 1, 1,
			    DRM_SVMGPU_SUBMIT_NONBLOCK | DRM_SVMGPU_SUBMIT_EVENT, 9, &seq), 0);
	ASSERT_EQ(seq, 3);
	/* Full: -EAGAIN every time, with or without an event, and no event is used up. */
	for (int i = 0; i < 100; i++)
		ASSERT_EQ(ev_submit(self->fd, self->q, c + 1, 1,
				    DRM_SVMGPU_SUBMIT_NONBLOCK | DRM_SVMGPU_SUBMIT_EVENT, 7, &seq),
			  -EAGAIN);
	EXPECT_EQ(ev_read(self->fd, ev, 2, 100), 0);
	/* Release the WAIT: everything completes, seq 4 is next. */
	__atomic_store_n(flag, 1, __ATOMIC_SEQ_CST);
	ASSERT_EQ(ev_read_n(self->fd, ev, 1), 0);
	EXPECT_EQ(ev[0].user_data, 9);
	EXPECT_EQ(ev[0].seq, 3);
	EXPECT_EQ(ev[0].result, 0);
	EXPECT_EQ(ev[0].nr_errors, 0);
	ASSERT_EQ(ev_submit(self->fd, self->q, c + 1, 1, DRM_SVMGPU_SUBMIT_NONBLOCK, 0, &seq), 0);
	EXPECT_EQ(seq, 4);
	ASSERT_EQ(sg_wait(self->fd, self->q, seq, 1, SG_TIMEOUT_NS, NULL), 0);
	EXPECT_EQ(ev_read(self->fd, ev, 2, 100), 0);
	free(flag);
}

/*
 * Every hardware queue held by a stuck queue: NONBLOCK on an idle queue gets
 * -EAGAIN; with the scheduler (debugfs svmgpu_sched "enabled: 1") it is
 * queued and completes while the others are still stuck (they are
 * preempted for it).
 */
TEST_F(events, nonblock_no_hardware_queue)
{
	int sched = sg_debugfs_value("svmgpu_sched", "enabled") == 1;
	struct drm_svmgpu_get_info info;
	uint64_t *flag = malloc(8), seq;
	uint32_t q[SVMGPU_MAX_QUEUES + 1];
	struct svmgpu_cmd c[2];
	unsigned int i;

	ASSERT_NE(flag, NULL);
	*flag = 0;
	ASSERT_EQ(sg_info(self->fd, &info), 0);
	ASSERT_LE(info.num_queues, SVMGPU_MAX_QUEUES);
	c[0] = sg_wait_eq(flag, 1, 0);
	c[1] = sg_nop();
	for (i = 0; i <= info.num_queues; i++)
		ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q[i]), 0);
	for (i = 0; i < info.num_queues; i++)
		ASSERT_EQ(ev_submit(self->fd, q[i], c, 1, DRM_SVMGPU_SUBMIT_NONBLOCK, 0, &seq), 0);
	if (sched) {
		ASSERT_EQ(ev_submit(self->fd, q[info.num_queues], c + 1, 1,
				    DRM_SVMGPU_SUBMIT_NONBLOCK, 0, &seq), 0);
		ASSERT_EQ(sg_wait(self->fd, q[info.num_queues], seq, seq, SG_TIMEOUT_NS, NULL), 0);
		/* The stuck ones were preempted for it, not completed. */
		EXPECT_EQ(sg_wait(self->fd, q[0], 1, 1, 0, NULL), -ETIMEDOUT);
	} else {
		EXPECT_EQ(ev_submit(self->fd, q[info.num_queues], c + 1, 1,
				    DRM_SVMGPU_SUBMIT_NONBLOCK | DRM_SVMGPU_SUBMIT_EVENT, 5, &seq),
			  -EAGAIN);
	}
	__atomic_store_n(flag, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < info.num_queues; i++)
		ASSERT_EQ(sg_wait(self->fd, q[i], 1, 1, SG_TIMEOUT_NS, NULL), 0);
	/* Blocking: waits for a hardware queue, gets one. */
	ASSERT_EQ(ev_submit(self->fd, q[info.num_queues], c + 1, 1, 0, 0, &seq), 0);
	EXPECT_EQ(seq, sched ? 2 : 1);
	ASSERT_EQ(sg_wait(self->fd, q[info.num_queues], seq, seq, SG_TIMEOUT_NS, NULL), 0);
	for (i = 0; i <= info.num_queues; i++)
		ASSERT_EQ(sg_queue_destroy(self->fd, q[i]), 0);
	free(flag);
}

/*
 * The file's event space (4 KiB) bounds the requests: the next one fails
 * with -ENOSPC and submits nothing; reading the events frees the space.
 * Rejected submissions never use any.
 */
TEST_F(events, event_space_exhausted)
{
	const unsigned int max = EV_SPACE / EV_SIZE;
	struct drm_svmgpu_event_complete ev[EV_SPACE / EV_SIZE + 1];
	uint64_t *flag = malloc(8), seq, last = 0;
	struct svmgpu_cmd c[2], bad;
	unsigned int i;
	uint32_t q;

	ASSERT_NE(flag, NULL);
	*flag = 0;
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 256, &q), 0);
	c[0] = sg_wait_eq(flag, 1, 0);
	c[1] = sg_nop();
	bad = sg_nop();
	bad.hdr.opcode = 200;
	/* Rejected before the event: none of these holds space. */
	for (i = 0; i < 2 * max; i++) {
		ASSERT_EQ(ev_submit(self->fd, 4242, c + 1, 1, DRM_SVMGPU_SUBMIT_EVENT, 1, &seq),
			  -ENOENT);
		ASSERT_EQ(ev_submit(self->fd, q, &bad, 1, DRM_SVMGPU_SUBMIT_EVENT, 1, &seq),
			  -EINVAL);
		ASSERT_EQ(ev_submit(self->fd, q, (void *)8, 1, DRM_SVMGPU_SUBMIT_EVENT, 1, &seq),
			  -EFAULT);
		ASSERT_EQ(ev_submit(self->fd, q, c + 1, 0, DRM_SVMGPU_SUBMIT_EVENT, 1, &seq),
			  -EINVAL);
	}
	ASSERT_EQ(ev_submit(self->fd, q, c, 1, 0, 0, &seq), 0);
	for (i = 0; i < max; i++) {
		ASSERT_EQ(ev_submit(self->fd, q, c + 1, 1, DRM_SVMGPU_SUBMIT_EVENT, 100 + i,
				    &seq), 0);
		ASSERT_EQ(seq, i + 2);
		last = seq;
	}
	EXPECT_EQ(ev_submit(self->fd, q, c + 1, 1, DRM_SVMGPU_SUBMIT_EVENT, 999, &seq), -ENOSPC);
	EXPECT_EQ(ev_submit(self->fd, q, c + 1, 1,
			    DRM_SVMGPU_SUBMIT_EVENT | DRM_SVMGPU_SUBMIT_NONBLOCK, 999, &seq),
		  -ENOSPC);
	/* Without an event it still submits: nothing of the -ENOSPC ones was queued. */
	ASSERT_EQ(ev_submit(self->fd, q, c + 1, 1, 0, 0, &seq), 0);
	EXPECT_EQ(seq, last + 1);
	__atomic_store_n(flag, 1, __ATOMIC_SEQ_CST);
	ASSERT_EQ(ev_read_n(self->fd, ev, max), 0);
	for (i = 0; i < max; i++) {
		ASSERT_TRUE(ev_check_header(&ev[i]));
		EXPECT_EQ(ev[i].user_data, 100 + i);
		EXPECT_EQ(ev[i].seq, i + 2);
		EXPECT_EQ(ev[i].first_seq, i + 2);
		EXPECT_EQ(ev[i].result, 0);
	}
	EXPECT_EQ(ev_read(self->fd, ev, 2, 100), 0);
	/* Read, the space is free again. */
	ASSERT_EQ(ev_submit(self->fd, q, c + 1, 1, DRM_SVMGPU_SUBMIT_EVENT, 5, &seq), 0);
	ASSERT_EQ(ev_read_n(self->fd, ev, 1), 0);
	EXPECT_EQ(ev[0].user_data, 5);
	EXPECT_EQ(ev[0].seq, seq);
	ASSERT_EQ(sg_queue_destroy(self->fd, q), 0);
	free(flag);
}

/* struct drm_svmgpu_submit before @user_data was appended */
struct submit_v1 {
	__u32 flags, pad, queue_handle, count;
	__u64 cmds, seq;
};

/* Every new field rejects bad input with the exact errno and no event. */
TEST_F(events, bad_flags_and_fields)
{
	struct drm_svmgpu_event_complete ev[1];
	struct svmgpu_cmd c = sg_nop();
	struct drm_svmgpu_submit a = {
		.queue_handle = self->q, .count = 1, .cmds = (uintptr_t)&c,
	};
	unsigned int bit;

	for (bit = 2; bit < 32; bit++) {
		a.flags = 1u << bit;
		EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_SUBMIT, &a), -EINVAL);
		a.flags = DRM_SVMGPU_SUBMIT_EVENT | (1u << bit);
		EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_SUBMIT, &a), -EINVAL);
	}
	a.flags = DRM_SVMGPU_SUBMIT_EVENT;
	a.pad = 1;
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_SUBMIT, &a), -EINVAL);
	a.pad = 0;
	a.seq = 1;
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_SUBMIT, &a), -EINVAL);
	a.seq = 0;
	/* user_data only with an event */
	a.flags = 0;
	a.user_data = 1;
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_SUBMIT, &a), -EINVAL);
	a.flags = DRM_SVMGPU_SUBMIT_NONBLOCK;
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_SUBMIT, &a), -EINVAL);
	/* Bad handles with an event: -ENOENT, no event. */
	EXPECT_EQ(ev_submit(self->fd, 0, &c, 1, DRM_SVMGPU_SUBMIT_EVENT, 1, NULL), -ENOENT);
	EXPECT_EQ(ev_submit(self->fd, 4242, &c, 1, DRM_SVMGPU_SUBMIT_EVENT, 1, NULL), -ENOENT);
	EXPECT_EQ(ev_submit(self->fd, self->q, &c, 4,
			    DRM_SVMGPU_SUBMIT_EVENT | DRM_SVMGPU_SUBMIT_NONBLOCK, 1, NULL), -EINVAL);
	EXPECT_EQ(ev_read(self->fd, ev, 1, 100), 0);
	/* An old caller's structure, without user_data, still works. */
	{
		struct submit_v1 old = {
			.queue_handle = self->q, .count = 1, .cmds = (uintptr_t)&c,
		};

		ASSERT_EQ(sg_ioctl(self->fd, DRM_IOWR(DRM_COMMAND_BASE + DRM_SVMGPU_SUBMIT,
						      struct submit_v1), &old), 0);
		EXPECT_EQ(old.seq, 1);
	}
}

TEST_HARNESS_MAIN
