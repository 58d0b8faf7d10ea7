// SPDX-License-Identifier: MIT
/*
 * uapi_errors: every ioctl rejects bad flags, bad pad, bad handles and bad
 * sizes with the documented errno, before doing anything.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include "svmgpu_guest.h"
#include "svmgpu_test.h"

FIXTURE(uapi) {
	int fd;
	uint32_t ctx;
	uint32_t q;
};

FIXTURE_SETUP(uapi)
{
	self->fd = sg_open();
	if (self->fd < 0)
		SKIP(return, "no render node: %s", strerror(errno));
	ASSERT_EQ(sg_ctx_create(self->fd, &self->ctx), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 4, &self->q), 0);
}

FIXTURE_TEARDOWN(uapi)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(uapi, get_info_reports_caps)
{
	struct drm_svmgpu_get_info info;

	ASSERT_EQ(sg_info(self->fd, &info), 0);
	EXPECT_GE(info.num_queues, 1);
	EXPECT_LE(info.num_queues, SVMGPU_MAX_QUEUES);
	EXPECT_GE(info.num_engines, 1);
	EXPECT_GE(info.fault_ring_entries, SVMGPU_FAULT_RING_MIN);
	EXPECT_GE(info.max_contexts, 1);
	EXPECT_GE(info.max_ring_entries, 256);
}

TEST_F(uapi, ctx_create_bad_flags_pad)
{
	struct drm_svmgpu_ctx_create a = { .flags = 1 };

	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_CTX_CREATE, &a), -EINVAL);
	a = (struct drm_svmgpu_ctx_create){ .pad = 1 };
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_CTX_CREATE, &a), -EINVAL);
	a = (struct drm_svmgpu_ctx_create){ .pad2 = 1 };
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_CTX_CREATE, &a), -EINVAL);
	a = (struct drm_svmgpu_ctx_create){ .handle = 7 };
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_CTX_CREATE, &a), -EINVAL);
}

TEST_F(uapi, ctx_destroy_bad_args)
{
	struct drm_svmgpu_ctx_destroy a = { .handle = self->ctx, .flags = 1 };

	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_CTX_DESTROY, &a), -EINVAL);
	a = (struct drm_svmgpu_ctx_destroy){ .handle = self->ctx, .pad = 1 };
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_CTX_DESTROY, &a), -EINVAL);
	a = (struct drm_svmgpu_ctx_destroy){ .handle = self->ctx, .pad2 = 1 };
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_CTX_DESTROY, &a), -EINVAL);
	EXPECT_EQ(sg_ctx_destroy(self->fd, 0), -ENOENT);
	EXPECT_EQ(sg_ctx_destroy(self->fd, 12345), -ENOENT);
	/* Still has a queue. */
	EXPECT_EQ(sg_ctx_destroy(self->fd, self->ctx), -EBUSY);
	ASSERT_EQ(sg_queue_destroy(self->fd, self->q), 0);
	EXPECT_EQ(sg_ctx_destroy(self->fd, self->ctx), 0);
	EXPECT_EQ(sg_ctx_destroy(self->fd, self->ctx), -ENOENT);
}

/*
 * Handles are not reused: a destroyed context's or queue's handle names
 * no new one (a GET_STATS with CLEAR through a stale handle would wipe a
 * new context's counters; a stale queue's unread events would name the
 * new queue).
 */
TEST_F(uapi, destroyed_handles_are_not_given_again)
{
	struct drm_svmgpu_get_stats s;
	uint32_t ctx, q;

	ASSERT_EQ(sg_queue_destroy(self->fd, self->q), 0);
	ASSERT_EQ(sg_ctx_destroy(self->fd, self->ctx), 0);
	ASSERT_EQ(sg_ctx_create(self->fd, &ctx), 0);
	EXPECT_NE(ctx, self->ctx);
	ASSERT_EQ(sg_queue_create(self->fd, ctx, 4, &q), 0);
	EXPECT_NE(q, self->q);
	EXPECT_EQ(sg_stats(self->fd, self->ctx, 1, &s), -ENOENT);
	EXPECT_EQ(sg_queue_destroy(self->fd, self->q), -ENOENT);
	EXPECT_EQ(sg_ctx_destroy(self->fd, self->ctx), -ENOENT);
}

TEST_F(uapi, queue_create_bad_args)
{
	struct drm_svmgpu_queue_create a = { .ctx_handle = self->ctx, .flags = 1 };
	uint32_t q;

	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_QUEUE_CREATE, &a), -EINVAL);
	a = (struct drm_svmgpu_queue_create){ .ctx_handle = self->ctx, .priority = 4 };
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_QUEUE_CREATE, &a), -EINVAL);
	a = (struct drm_svmgpu_queue_create){ .ctx_handle = self->ctx, .handle = 1 };
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_QUEUE_CREATE, &a), -EINVAL);
	EXPECT_EQ(sg_queue_create(self->fd, self->ctx, 3, &q), -EINVAL);
	EXPECT_EQ(sg_queue_create(self->fd, self->ctx, 1, &q), -EINVAL);
	EXPECT_EQ(sg_queue_create(self->fd, self->ctx, 8192, &q), -EINVAL);
	EXPECT_EQ(sg_queue_create(self->fd, self->ctx, 0x80000000u, &q), -EINVAL);
	EXPECT_EQ(sg_queue_create(self->fd, 0, 0, &q), -ENOENT);
	EXPECT_EQ(sg_queue_create(self->fd, 999, 0, &q), -ENOENT);
}

/* More queues than hardware queues: they take turns, all complete. */
TEST_F(uapi, more_queues_than_hardware)
{
	struct drm_svmgpu_get_info info;
	unsigned int n, i;
	uint32_t q[2 * SVMGPU_MAX_QUEUES + 1];
	uint64_t seq[2 * SVMGPU_MAX_QUEUES + 1];
	unsigned char *dst;

	ASSERT_EQ(sg_info(self->fd, &info), 0);
	n = 2 * info.num_queues + 1;
	dst = mmap(NULL, n * 4096, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(dst, MAP_FAILED);
	for (i = 0; i < n; i++)
		ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 2, &q[i]), 0);
	for (i = 0; i < n; i++) {
		struct svmgpu_cmd c = sg_fill(dst + i * 4096, 4096, i + 1, 1);

		ASSERT_EQ(sg_submit(self->fd, q[i], &c, 1, &seq[i]), 0);
	}
	for (i = 0; i < n; i++) {
		struct drm_svmgpu_wait w;

		ASSERT_EQ(sg_wait(self->fd, q[i], seq[i], seq[i], SG_TIMEOUT_NS, &w), 0);
		EXPECT_EQ(w.err_code, 0);
		EXPECT_TRUE(sg_all_bytes(dst + i * 4096, i + 1, 4096));
	}
	for (i = 0; i < n; i++)
		EXPECT_EQ(sg_queue_destroy(self->fd, q[i]), 0);
}

/*
 * One process of the test below: @nq queues on a context of its own, each
 * round a command on every queue, alternately one that is cancelled (a
 * write to a PROT_NONE page) and one that succeeds, until @secs have
 * passed.  Returns the number of commands whose outcome was wrong.
 */
static unsigned int lend_worker(unsigned int nq, unsigned int id, double secs)
{
	uint32_t ctx, q[SVMGPU_MAX_QUEUES];
	uint64_t seq[SVMGPU_MAX_QUEUES];
	unsigned int i, r, wrong = 0;
	unsigned char *dst, *bad;
	struct timespec t0, t;
	int fd = sg_open();

	if (fd < 0 || sg_ctx_create(fd, &ctx))
		return 1000;
	dst = mmap(NULL, nq * 4096, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dst == MAP_FAILED || bad == MAP_FAILED)
		return 1000;
	for (i = 0; i < nq; i++)
		if (sg_queue_create(fd, ctx, 2, &q[i]))
			return 1000;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (r = 0;; r++) {
		for (i = 0; i < nq; i++) {
			struct svmgpu_cmd c = (i + r + id) % 2 ?
				sg_fill(bad + 8 * i, 8, 1, 1) :
				sg_fill(dst + i * 4096, 4096, (r + i) % 200 + 1, 1);

			if (sg_submit(fd, q[i], &c, 1, &seq[i]))
				return 1000;
		}
		for (i = 0; i < nq; i++) {
			struct drm_svmgpu_wait w;
			int ok;

			if (sg_wait(fd, q[i], seq[i], seq[i], SG_TIMEOUT_NS, &w))
				return 1000;
			if ((i + r + id) % 2)
				ok = w.err_code == SVMGPU_ERR_FAULT_CANCELLED &&
				     w.err_va == (uintptr_t)(bad + 8 * i) &&
				     w.err_access == SVMGPU_ACCESS_WRITE;
			else
				ok = w.err_code == 0 &&
				     sg_all_bytes(dst + i * 4096, (r + i) % 200 + 1, 4096);
			if (!ok && !wrong++)
				fprintf(stderr, "# process %u round %u queue %u: error %u va 0x%llx access %u\n",
					id, r, i, w.err_code, (unsigned long long)w.err_va,
					w.err_access);
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec + (t.tv_nsec - t0.tv_nsec) / 1e9 > secs)
			break;
	}
	close(fd);
	return wrong;
}

/*
 * Queues borrow hardware queues in turn.  A failed command leaves its error
 * in the hardware queue's status until the next borrower enables it: that
 * error is never charged to the next borrower, and never resumes a hardware
 * queue while it is being programmed for another queue.  Four processes
 * with more queues between them than the device has keep the hardware
 * queues changing hands while errors arrive.
 */
TEST_F(uapi, errors_stay_with_their_queue_across_borrowers)
{
	struct drm_svmgpu_get_info info;
	unsigned int nq, p, wrong = 0;
	pid_t pid[4];
	int status;

	ASSERT_EQ(sg_info(self->fd, &info), 0);
	nq = info.num_queues / 2 + 1;
	for (p = 0; p < 4; p++) {
		pid[p] = fork();
		ASSERT_GE(pid[p], 0);
		if (!pid[p])
			_exit(lend_worker(nq, p, 3.0) ? 1 : 0);
	}
	for (p = 0; p < 4; p++) {
		ASSERT_EQ(waitpid(pid[p], &status, 0), pid[p]);
		wrong += !WIFEXITED(status) || WEXITSTATUS(status);
	}
	EXPECT_EQ(wrong, 0);
}

/* A file may hold 256 queues. */
TEST_F(uapi, queue_create_limit)
{
	uint32_t q[256], extra;
	unsigned int n = 0, i;

	while (n < 256 && !sg_queue_create(self->fd, self->ctx, 2, &q[n]))
		n++;
	/* The fixture holds one. */
	EXPECT_EQ(n, 255);
	EXPECT_EQ(sg_queue_create(self->fd, self->ctx, 2, &extra), -EBUSY);
	for (i = 0; i < n; i++)
		EXPECT_EQ(sg_queue_destroy(self->fd, q[i]), 0);
}

TEST_F(uapi, queue_destroy_bad_args)
{
	struct drm_svmgpu_queue_destroy a = { .handle = self->q, .flags = 1 };

	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_QUEUE_DESTROY, &a), -EINVAL);
	a = (struct drm_svmgpu_queue_destroy){ .handle = self->q, .pad = 1 };
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_QUEUE_DESTROY, &a), -EINVAL);
	a = (struct drm_svmgpu_queue_destroy){ .handle = self->q, .pad2 = 1 };
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_QUEUE_DESTROY, &a), -EINVAL);
	EXPECT_EQ(sg_queue_destroy(self->fd, 0), -ENOENT);
	EXPECT_EQ(sg_queue_destroy(self->fd, 777), -ENOENT);
	EXPECT_EQ(sg_queue_destroy(self->fd, self->ctx == self->q ? 999 : self->ctx + 100), -ENOENT);
	EXPECT_EQ(sg_queue_destroy(self->fd, self->q), 0);
	EXPECT_EQ(sg_queue_destroy(self->fd, self->q), -ENOENT);
}

TEST_F(uapi, submit_bad_args)
{
	struct svmgpu_cmd c[4] = { sg_nop(), sg_nop(), sg_nop(), sg_nop() };
	struct drm_svmgpu_submit a;

	a = (struct drm_svmgpu_submit){ .queue_handle = self->q, .count = 1,
					.cmds = (uintptr_t)c, .flags = 0x4 };
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_SUBMIT, &a), -EINVAL);
	a.flags = 0x80000000u;
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_SUBMIT, &a), -EINVAL);
	/* user_data without DRM_SVMGPU_SUBMIT_EVENT */
	a.flags = DRM_SVMGPU_SUBMIT_NONBLOCK;
	a.user_data = 1;
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_SUBMIT, &a), -EINVAL);
	a.user_data = 0;
	a.flags = 0;
	a.pad = 1;
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_SUBMIT, &a), -EINVAL);
	a.pad = 0;
	a.seq = 5;
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_SUBMIT, &a), -EINVAL);
	/* Bad handle, bad count (ring of 4 holds 3), bad pointer. */
	EXPECT_EQ(sg_submit(self->fd, 0, c, 1, NULL), -ENOENT);
	EXPECT_EQ(sg_submit(self->fd, 4242, c, 1, NULL), -ENOENT);
	EXPECT_EQ(sg_submit(self->fd, self->q, c, 0, NULL), -EINVAL);
	EXPECT_EQ(sg_submit(self->fd, self->q, c, 4, NULL), -EINVAL);
	EXPECT_EQ(sg_submit(self->fd, self->q, (void *)8, 1, NULL), -EFAULT);
}

TEST_F(uapi, submit_bad_commands)
{
	struct svmgpu_cmd c = sg_nop();
	struct drm_svmgpu_wait w;
	uint64_t seq;

	c.hdr.opcode = 0x99;
	EXPECT_EQ(sg_submit(self->fd, self->q, &c, 1, NULL), -EINVAL);
	c = sg_nop();
	c.hdr.flags = 0x80;
	EXPECT_EQ(sg_submit(self->fd, self->q, &c, 1, NULL), -EINVAL);
	c = sg_nop();
	c.hdr.rsvd0 = 1;
	EXPECT_EQ(sg_submit(self->fd, self->q, &c, 1, NULL), -EINVAL);
	c = sg_nop();
	c.hdr.rsvd1 = 1;
	EXPECT_EQ(sg_submit(self->fd, self->q, &c, 1, NULL), -EINVAL);
	c = sg_nop();
	c.hdr.seq = 1;
	EXPECT_EQ(sg_submit(self->fd, self->q, &c, 1, NULL), -EINVAL);

	/* Nothing reached the ring: the first valid command gets seq 1. */
	c = sg_nop();
	ASSERT_EQ(sg_submit(self->fd, self->q, &c, 1, &seq), 0);
	EXPECT_EQ(seq, 1);
	ASSERT_EQ(sg_wait(self->fd, self->q, seq, seq, SG_TIMEOUT_NS, &w), 0);
	EXPECT_EQ(w.err_code, 0);
	EXPECT_EQ(w.completed_seq, 1);

	/* A bad payload is the device's to reject: the command fails. */
	c = sg_fill(&w, 8, 0, 3);
	ASSERT_EQ(sg_run(self->fd, self->q, c, &w), 0);
	EXPECT_EQ(w.err_code, SVMGPU_ERR_BAD_COMMAND);
}

TEST_F(uapi, wait_bad_args)
{
	struct svmgpu_cmd c = sg_nop();
	struct drm_svmgpu_wait a;
	uint64_t seq;

	ASSERT_EQ(sg_submit(self->fd, self->q, &c, 1, &seq), 0);
	a = (struct drm_svmgpu_wait){ .queue_handle = self->q, .seq = seq, .flags = 1 };
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_WAIT, &a), -EINVAL);
	a = (struct drm_svmgpu_wait){ .queue_handle = self->q, .seq = seq, .pad = 1 };
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_WAIT, &a), -EINVAL);
	a = (struct drm_svmgpu_wait){ .queue_handle = self->q, .seq = seq, .pad2 = 1 };
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_WAIT, &a), -EINVAL);
	EXPECT_EQ(sg_wait(self->fd, 0, seq, seq, 0, NULL), -ENOENT);
	EXPECT_EQ(sg_wait(self->fd, 5555, seq, seq, 0, NULL), -ENOENT);
	EXPECT_EQ(sg_wait(self->fd, self->q, 0, 0, 0, NULL), -EINVAL);
	EXPECT_EQ(sg_wait(self->fd, self->q, seq + 1, seq, 0, NULL), -EINVAL);
	EXPECT_EQ(sg_wait(self->fd, self->q, seq, seq + 1, 0, NULL), -EINVAL);
	EXPECT_EQ(sg_wait(self->fd, self->q, seq, 0, SG_TIMEOUT_NS, NULL), 0);
}

TEST_F(uapi, wait_times_out)
{
	static uint64_t flag;
	struct svmgpu_cmd c = sg_wait_eq(&flag, 1, 0);
	struct drm_svmgpu_wait w;
	uint64_t seq;

	flag = 0;
	ASSERT_EQ(sg_submit(self->fd, self->q, &c, 1, &seq), 0);
	EXPECT_EQ(sg_wait(self->fd, self->q, seq, seq, 0, &w), -ETIMEDOUT);
	EXPECT_EQ(sg_wait(self->fd, self->q, seq, seq, 20000000ull, &w), -ETIMEDOUT);
	flag = 1;
	EXPECT_EQ(sg_wait(self->fd, self->q, seq, seq, SG_TIMEOUT_NS, &w), 0);
	EXPECT_EQ(w.err_code, 0);
}

TEST_F(uapi, get_stats_bad_args)
{
	struct drm_svmgpu_get_stats s;

	memset(&s, 0, sizeof(s));
	s.ctx_handle = self->ctx;
	s.flags = 2;
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_GET_STATS, &s), -EINVAL);
	s.flags = 0;
	s.pad = 1;
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_GET_STATS, &s), -EINVAL);
	s.pad = 0;
	s.pad2 = 1;
	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_GET_STATS, &s), -EINVAL);
	EXPECT_EQ(sg_stats(self->fd, 0, 0, &s), -ENOENT);
	EXPECT_EQ(sg_stats(self->fd, 31337, 0, &s), -ENOENT);
	EXPECT_EQ(sg_stats(self->fd, self->ctx, 1, &s), 0);
}

/* Handles of one file are not visible through another file. */
TEST_F(uapi, handles_are_per_file)
{
	int fd2 = sg_open();
	struct drm_svmgpu_get_stats s;
	struct svmgpu_cmd c = sg_nop();

	ASSERT_GE(fd2, 0);
	EXPECT_EQ(sg_stats(fd2, self->ctx, 0, &s), -ENOENT);
	EXPECT_EQ(sg_submit(fd2, self->q, &c, 1, NULL), -ENOENT);
	close(fd2);
}

/* A forked child shares the file but not the parent's contexts. */
TEST_F(uapi, child_cannot_use_parent_context)
{
	int status;
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (!pid) {
		struct svmgpu_cmd c = sg_nop();
		struct drm_svmgpu_get_stats s;
		uint32_t q;

		if (sg_submit(self->fd, self->q, &c, 1, NULL) != -EACCES)
			_exit(1);
		if (sg_queue_create(self->fd, self->ctx, 0, &q) != -EACCES)
			_exit(2);
		if (sg_stats(self->fd, self->ctx, 0, &s) != -EACCES)
			_exit(3);
		if (sg_ctx_destroy(self->fd, self->ctx) != -EACCES)
			_exit(4);
		if (sg_queue_destroy(self->fd, self->q) != -EACCES)
			_exit(5);
		if (sg_wait(self->fd, self->q, 1, 1, 0, NULL) != -EACCES)
			_exit(6);
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
	/* Still usable by the parent. */
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_nop()), 0);
}

TEST_F(uapi, unknown_ioctl)
{
	struct drm_svmgpu_get_info info = { 0 };

	EXPECT_EQ(sg_ioctl(self->fd, DRM_IOWR(DRM_COMMAND_BASE + 0x30,
					      struct drm_svmgpu_get_info), &info), -EINVAL);
}

static void on_alarm(int sig)
{
	(void)sig;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * WAIT's timeout is a deadline fixed on entry: a signal every 50 ms
 * (SA_RESTART, so the kernel restarts the ioctl) must not restart the 1 s
 * timeout each time.  It used to never return.
 */
TEST_F(uapi, wait_interrupted_keeps_deadline)
{
	static uint64_t flag;
	struct svmgpu_cmd c = sg_wait_eq(&flag, 1, 0);
	struct itimerval it = { { 0, 50000 }, { 0, 50000 } }, off = { 0 };
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	struct drm_svmgpu_wait w;
	uint64_t seq;
	double t0, took;
	int ret;

	flag = 0;
	ASSERT_EQ(sg_submit(self->fd, self->q, &c, 1, &seq), 0);
	ASSERT_EQ(sigaction(SIGALRM, &sa, NULL), 0);
	ASSERT_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
	t0 = mono_s();
	ret = sg_wait(self->fd, self->q, seq, seq, 1000000000ull, &w);
	took = mono_s() - t0;
	setitimer(ITIMER_REAL, &off, NULL);
	EXPECT_EQ(ret, -ETIMEDOUT);
	EXPECT_GE(took, 0.95);
	EXPECT_LT(took, 3.0);
	flag = 1;
	EXPECT_EQ(sg_wait(self->fd, self->q, seq, seq, SG_TIMEOUT_NS, &w), 0);
}

static int param_read(const char *path)
{
	char buf[32] = "";
	int f = open(path, O_RDONLY);

	if (f < 0)
		return -1;
	if (read(f, buf, sizeof(buf) - 1) < 0)
		buf[0] = 0;
	close(f);
	return atoi(buf);
}

static int param_write(const char *path, int v)
{
	char buf[32];
	int f = open(path, O_WRONLY), ret = 0;

	if (f < 0)
		return -errno;
	snprintf(buf, sizeof(buf), "%d", v);
	if (write(f, buf, strlen(buf)) < 0)
		ret = -errno;
	close(f);
	return ret;
}

/* A child that creates a context and keeps it until told; its result in *ret. */
static pid_t ctx_holder(int *go_fd, int *res_fd)
{
	int go[2], res[2];
	pid_t pid;

	if (pipe(go) || pipe(res))
		return -1;
	pid = fork();
	if (!pid) {
		uint32_t ctx;
		int fd = sg_open(), ret = fd < 0 ? -ENODEV : sg_ctx_create(fd, &ctx);
		char c;

		if (write(res[1], &ret, sizeof(ret)) != sizeof(ret))
			_exit(1);
		if (read(go[0], &c, 1) < 0)
			_exit(2);
		_exit(0);
	}
	close(go[0]);
	close(res[1]);
	*go_fd = go[1];
	*res_fd = res[0];
	return pid;
}

/*
 * One user cannot take every hardware context: beyond the module parameter
 * max_user_contexts (one per process with a context), CTX_CREATE fails with
 * -EMFILE until one goes away.
 */
TEST(per_user_context_limit)
{
	static const char *param = "/sys/module/svmgpu/parameters/max_user_contexts";
	int old = param_read(param), go[4], res[4], r[4], i, status;
	pid_t pid[4];

	if (old < 0)
		SKIP(return, "no max_user_contexts parameter");
	ASSERT_EQ(param_write(param, 2), 0);
	for (i = 0; i < 3; i++) {
		pid[i] = ctx_holder(&go[i], &res[i]);
		ASSERT_GE(pid[i], 0);
		ASSERT_EQ(read(res[i], &r[i], sizeof(r[i])), sizeof(r[i]));
	}
	EXPECT_EQ(r[0], 0);
	EXPECT_EQ(r[1], 0);
	EXPECT_EQ(r[2], -EMFILE);
	/* One goes away: room for another. */
	ASSERT_EQ(write(go[0], "x", 1), 1);
	ASSERT_EQ(waitpid(pid[0], &status, 0), pid[0]);
	pid[3] = ctx_holder(&go[3], &res[3]);
	ASSERT_GE(pid[3], 0);
	ASSERT_EQ(read(res[3], &r[3], sizeof(r[3])), sizeof(r[3]));
	EXPECT_EQ(r[3], 0);
	for (i = 1; i < 4; i++) {
		ASSERT_EQ(write(go[i], "x", 1), 1);
		ASSERT_EQ(waitpid(pid[i], &status, 0), pid[i]);
	}
	ASSERT_EQ(param_write(param, old), 0);
}

/*
 * Queue rings are the creator's memory: charged to its memory cgroup when
 * created, uncharged when destroyed, as every other kernel allocation a
 * process makes for itself.  Before, 256 queues of 4096 entries per file
 * (and files without number) took 64 MiB each of DMA memory no cgroup
 * saw.  A child in a cgroup of its own creates 32 rings of 256 KiB.
 */
static int ring_charge_child(int res)
{
	enum { N = 32, ENTRIES = 4096 };
	uint32_t ctx, q[N];
	long long v[3];
	char mem[128];
	int fd, i;

	if (sg_cg_enter("svmgpu-rings", mem, sizeof(mem)))
		return 10;
	fd = sg_open();
	if (fd < 0 || sg_ctx_create(fd, &ctx))
		return 11;
	v[0] = sg_file_ll(mem);
	for (i = 0; i < N; i++) {
		struct drm_svmgpu_queue_create a = {
			.ctx_handle = ctx, .ring_entries = ENTRIES,
		};

		if (sg_ioctl(fd, DRM_IOCTL_SVMGPU_QUEUE_CREATE, &a))
			return 12;
		q[i] = a.handle;
	}
	v[1] = sg_file_ll(mem);
	for (i = 0; i < N; i++)
		if (sg_queue_destroy(fd, q[i]))
			return 13;
	v[2] = sg_file_ll(mem);
	close(fd);
	return write(res, v, sizeof(v)) == sizeof(v) ? 0 : 14;
}

TEST(queue_rings_are_charged_to_the_creators_memory_cgroup)
{
	const long long ring = 4096 * 64, rings = 32 * ring;
	long long v[3] = { 0 };
	int res[2], status;
	const char *why;
	pid_t pid;

	if (sg_cg_memory(&why))
		SKIP(return, "cgroup2: %s", why);
	ASSERT_EQ(pipe(res), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid)
		_exit(ring_charge_child(res[1]));
	close(res[1]);		/* a child that fails early: read() sees EOF */
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	EXPECT_EQ(read(res[0], v, sizeof(v)), sizeof(v));
	close(res[0]);
	EXPECT_EQ(rmdir(SG_CG_ROOT "/svmgpu-rings"), 0);
	TH_LOG("memory.current: %lld, %lld with 32 rings of 256 KiB, %lld once destroyed",
	       v[0], v[1], v[2]);
	EXPECT_GE(v[1] - v[0], rings);
	/* the per-CPU charge caches may keep a batch of 256 KiB each */
	EXPECT_LE(v[2], v[0] + 4 * ring);
}

/*
 * Under swiotlb=force (no IOMMU) every DMA mapping bounces and device
 * writes would never reach process memory: context creation is refused.
 * Booted without it, contexts work (the refusal is not spurious).
 */
TEST(swiotlb_force_refuses_to_mirror)
{
	char cmdline[4096] = "";
	int f = open("/proc/cmdline", O_RDONLY), fd = sg_open(), forced;
	uint32_t ctx;

	ASSERT_GE(f, 0);
	ASSERT_GE(read(f, cmdline, sizeof(cmdline) - 1), 0);
	close(f);
	ASSERT_GE(fd, 0);
	forced = strstr(cmdline, "swiotlb=force") && !strstr(cmdline, "intel_iommu=on");
	EXPECT_EQ(sg_ctx_create(fd, &ctx), forced ? -EOPNOTSUPP : 0);
	close(fd);
}

TEST_HARNESS_MAIN
