// SPDX-License-Identifier: MIT
/*
 * lib_events: completions through the device's fd.  svmgpu_queue_submit_flags()
 * with SVMGPU_SUBMIT_EVENT, one epoll on svmgpu_device_fd() for many queues,
 * svmgpu_device_reap_events() with the failed command's error, and
 * SVMGPU_SUBMIT_NONBLOCK's -EAGAIN, svmgpu_device_wait_events() (WAIT
 * across several queues); each bad argument's exact errno.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "svmgpu.h"
#include "svmgpu_test.h"

#define SIZE	(32 * 1024)

FIXTURE(ev) {
	struct svmgpu_device *dev;
	struct svmgpu_context *ctx;
};

FIXTURE_SETUP(ev)
{
	int ret = svmgpu_device_open(0, &self->dev);

	if (ret)
		SKIP(return, "no svmgpu device: %s", strerror(-ret));
	ASSERT_EQ(svmgpu_context_create(self->dev, &self->ctx), 0);
}

FIXTURE_TEARDOWN(ev)
{
	if (self->dev) {
		svmgpu_context_destroy(self->ctx);
		svmgpu_device_close(self->dev);
	}
}

/* Reap exactly @n events, sleeping in epoll_wait(); 0 or -errno. */
static int reap_n(struct svmgpu_device *dev, struct svmgpu_queue_event *ev, int n)
{
	struct epoll_event ee = { .events = EPOLLIN }, out;
	int ep = epoll_create1(EPOLL_CLOEXEC), got = 0, ret = 0;

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, svmgpu_device_fd(dev), &ee))
		return -errno;
	while (got < n) {
		ret = epoll_wait(ep, &out, 1, 30000);
		if (ret <= 0) {
			ret = ret ? -errno : -ETIMEDOUT;
			break;
		}
		ret = svmgpu_device_reap_events(dev, ev + got, n - got);
		if (ret < 0)
			break;
		got += ret;
		ret = 0;
	}
	close(ep);
	return ret;
}

TEST_F(ev, four_queues_reaped_from_one_fd)
{
	struct svmgpu_queue_event ev[5];
	struct svmgpu_queue *q[4];
	unsigned char *buf[4];
	int i, j, seen = 0;

	for (i = 0; i < 4; i++) {
		struct svmgpu_cmd c;
		uint64_t seq;

		buf[i] = malloc(SIZE);
		ASSERT_NE(buf[i], NULL);
		memset(buf[i], 0, SIZE);
		ASSERT_EQ(svmgpu_queue_create(self->ctx, 0, &q[i]), 0);
		ASSERT_EQ(svmgpu_cmd_fill(&c, buf[i], SIZE, 0xa0 + i, 1, 0), 0);
		ASSERT_EQ(svmgpu_queue_submit_flags(q[i], &c, 1, SVMGPU_SUBMIT_EVENT, 1000 + i,
						    &seq), 0);
		ASSERT_EQ(seq, 1);
	}
	ASSERT_EQ(reap_n(self->dev, ev, 4), 0);
	for (i = 0; i < 4; i++) {
		int k = (int)ev[i].user_data - 1000;

		ASSERT_GE(k, 0);
		ASSERT_LT(k, 4);
		ASSERT_FALSE(seen & (1 << k));
		seen |= 1 << k;
		EXPECT_EQ(ev[i].queue, (uint32_t)svmgpu_queue_id(q[k]));
		EXPECT_EQ(ev[i].seq, 1);
		EXPECT_EQ(ev[i].first_seq, 1);
		EXPECT_EQ(ev[i].result, 0);
		EXPECT_EQ(ev[i].err.count, 0);
		for (j = 0; j < SIZE; j++)
			ASSERT_EQ(buf[k][j], 0xa0 + k);
	}
	EXPECT_EQ(svmgpu_device_reap_events(self->dev, ev, 5), 0);
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(svmgpu_queue_destroy(q[i]), 0);
		free(buf[i]);
	}
}

TEST_F(ev, failed_command_in_event)
{
	struct svmgpu_queue_event ev[1];
	struct svmgpu_queue *q;
	struct svmgpu_cmd c[2];
	unsigned char *bad;

	bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(bad, MAP_FAILED);
	ASSERT_EQ(svmgpu_queue_create(self->ctx, 0, &q), 0);
	ASSERT_EQ(svmgpu_cmd_nop(&c[0], 0), 0);
	ASSERT_EQ(svmgpu_cmd_fill(&c[1], bad + 128, 8, 1, 1, 0), 0);
	ASSERT_EQ(svmgpu_queue_submit_flags(q, c, 2, SVMGPU_SUBMIT_EVENT, 77, NULL), 0);
	ASSERT_EQ(reap_n(self->dev, ev, 1), 0);
	EXPECT_EQ(ev[0].user_data, 77);
	EXPECT_EQ(ev[0].result, -EFAULT);
	EXPECT_EQ(ev[0].err.seq, 2);
	EXPECT_EQ(ev[0].err.va, (uintptr_t)(bad + 128));
	EXPECT_EQ(ev[0].err.code, SVMGPU_ERR_FAULT_CANCELLED);
	EXPECT_EQ(ev[0].err.access, SVMGPU_ACCESS_WRITE);
	EXPECT_EQ(ev[0].err.queue, (uint32_t)svmgpu_queue_id(q));
	EXPECT_EQ(ev[0].err.count, 1);
	/* A destroyed queue's pending event: -ECANCELED. */
	{
		uint64_t *flag = calloc(1, 8);

		ASSERT_NE(flag, NULL);
		ASSERT_EQ(svmgpu_cmd_wait(&c[0], flag, SVMGPU_WAIT_EQ, 1, ~0ull, 0, 0), 0);
		ASSERT_EQ(svmgpu_queue_submit_flags(q, c, 1, SVMGPU_SUBMIT_EVENT, 78, NULL), 0);
		EXPECT_EQ(svmgpu_device_reap_events(self->dev, ev, 1), 0);
		ASSERT_EQ(svmgpu_queue_destroy(q), 0);
		ASSERT_EQ(reap_n(self->dev, ev, 1), 0);
		EXPECT_EQ(ev[0].user_data, 78);
		EXPECT_EQ(ev[0].result, -ECANCELED);
		EXPECT_EQ(ev[0].err.count, 0);
		free(flag);
	}
	munmap(bad, 4096);
}

TEST_F(ev, nonblock_and_bad_arguments)
{
	struct svmgpu_queue_event ev[1];
	uint64_t *flag = calloc(1, 8), seq;
	struct svmgpu_queue *q;
	struct svmgpu_cmd c[2];

	ASSERT_NE(flag, NULL);
	*flag = 0;
	ASSERT_EQ(svmgpu_queue_create(self->ctx, 2, &q), 0);
	ASSERT_EQ(svmgpu_cmd_wait(&c[0], flag, SVMGPU_WAIT_EQ, 1, ~0ull, 0, 0), 0);
	ASSERT_EQ(svmgpu_cmd_nop(&c[1], 0), 0);
	/* Ring of 2 holds 1. */
	ASSERT_EQ(svmgpu_queue_submit_flags(q, c, 1, SVMGPU_SUBMIT_NONBLOCK, 0, &seq), 0);
	EXPECT_EQ(svmgpu_queue_submit_flags(q, c + 1, 1, SVMGPU_SUBMIT_NONBLOCK, 0, &seq),
		  -EAGAIN);
	EXPECT_EQ(svmgpu_queue_submit_flags(q, c + 1, 1,
					    SVMGPU_SUBMIT_NONBLOCK | SVMGPU_SUBMIT_EVENT, 3, &seq),
		  -EAGAIN);
	EXPECT_EQ(svmgpu_queue_submit_flags(q, c + 1, 1, 0x4, 0, &seq), -EINVAL);
	EXPECT_EQ(svmgpu_queue_submit_flags(q, c + 1, 1, SVMGPU_SUBMIT_NONBLOCK, 5, &seq),
		  -EINVAL);
	EXPECT_EQ(svmgpu_queue_submit_flags(NULL, c + 1, 1, 0, 0, &seq), -EINVAL);
	EXPECT_EQ(svmgpu_queue_submit_flags(q, NULL, 1, 0, 0, &seq), -EINVAL);
	EXPECT_EQ(svmgpu_queue_submit_flags(q, c + 1, 0, 0, 0, &seq), -EINVAL);
	EXPECT_EQ(svmgpu_device_reap_events(NULL, ev, 1), -EINVAL);
	EXPECT_EQ(svmgpu_device_reap_events(self->dev, NULL, 1), -EINVAL);
	EXPECT_EQ(svmgpu_device_reap_events(self->dev, ev, 0), -EINVAL);
	EXPECT_EQ(svmgpu_device_reap_events(self->dev, ev, 1), 0);
	__atomic_store_n(flag, 1, __ATOMIC_SEQ_CST);
	ASSERT_EQ(svmgpu_queue_wait(q, 1, 30000000000ull, NULL), 0);
	ASSERT_EQ(svmgpu_queue_submit_flags(q, c + 1, 1, SVMGPU_SUBMIT_NONBLOCK, 0, &seq), 0);
	EXPECT_EQ(seq, 2);
	ASSERT_EQ(svmgpu_queue_wait(q, 2, 30000000000ull, NULL), 0);
	ASSERT_EQ(svmgpu_queue_destroy(q), 0);
	free(flag);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * WAIT across several queues: A waits for a word the CPU writes later, B
 * and C fill buffers.  svmgpu_device_wait_events() sleeps until B's and
 * C's submissions are done (bytes exact), then times out on A alone (no
 * sooner than asked; timeout 0 only reaps), and returns A's event once the
 * word is written, with no timeout.  Bad arguments: -EINVAL.
 */
TEST_TIMEOUT(60)
TEST_F(ev, wait_events_across_queues)
{
	struct svmgpu_queue_event ev[4];
	uint64_t *word = calloc(1, 8), seq;
	unsigned char *buf[2];
	struct svmgpu_queue *q[3];
	struct svmgpu_cmd c;
	int i, j, n, got = 0, seen = 0;
	double t0;

	ASSERT_NE(word, NULL);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(svmgpu_queue_create(self->ctx, 0, &q[i]), 0);
	ASSERT_EQ(svmgpu_cmd_wait(&c, word, SVMGPU_WAIT_EQ, 1, ~0ull, 0, 0), 0);
	ASSERT_EQ(svmgpu_queue_submit_flags(q[0], &c, 1, SVMGPU_SUBMIT_EVENT, 100, &seq), 0);
	for (i = 0; i < 2; i++) {
		buf[i] = malloc(SIZE);
		ASSERT_NE(buf[i], NULL);
		memset(buf[i], 0, SIZE);
		ASSERT_EQ(svmgpu_cmd_fill(&c, buf[i], SIZE, 0x5a + i, 1, 0), 0);
		ASSERT_EQ(svmgpu_queue_submit_flags(q[1 + i], &c, 1, SVMGPU_SUBMIT_EVENT, 101 + i,
						    &seq), 0);
	}
	while (got < 2) {
		n = svmgpu_device_wait_events(self->dev, ev, 4, 30000000000ull);
		ASSERT_GE(n, 1);
		ASSERT_LE(got + n, 2);
		for (i = 0; i < n; i++) {
			int k = (int)ev[i].user_data - 101;

			ASSERT_GE(k, 0);
			ASSERT_LT(k, 2);
			ASSERT_FALSE(seen & (1 << k));
			seen |= 1 << k;
			EXPECT_EQ(ev[i].queue, (uint32_t)svmgpu_queue_id(q[1 + k]));
			EXPECT_EQ(ev[i].result, 0);
			for (j = 0; j < SIZE; j++)
				ASSERT_EQ(buf[k][j], 0x5a + k);
		}
		got += n;
	}
	/* Only A is left, and it waits. */
	t0 = now_ms();
	EXPECT_EQ(svmgpu_device_wait_events(self->dev, ev, 4, 50000000ull), -ETIMEDOUT);
	EXPECT_GE(now_ms() - t0, 50.0);
	EXPECT_EQ(svmgpu_device_wait_events(self->dev, ev, 4, 0), -ETIMEDOUT);
	EXPECT_EQ(svmgpu_device_wait_events(NULL, ev, 4, 0), -EINVAL);
	EXPECT_EQ(svmgpu_device_wait_events(self->dev, NULL, 4, 0), -EINVAL);
	EXPECT_EQ(svmgpu_device_wait_events(self->dev, ev, 0, 0), -EINVAL);
	EXPECT_EQ(svmgpu_device_wait_events(self->dev, ev, (unsigned int)INT_MAX + 1u, 0),
		  -EINVAL);
	__atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
	ASSERT_EQ(svmgpu_device_wait_events(self->dev, ev, 4, SVMGPU_TIMEOUT_INFINITE), 1);
	EXPECT_EQ(ev[0].user_data, 100);
	EXPECT_EQ(ev[0].queue, (uint32_t)svmgpu_queue_id(q[0]));
	EXPECT_EQ(ev[0].result, 0);
	EXPECT_EQ(svmgpu_device_reap_events(self->dev, ev, 4), 0);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(svmgpu_queue_destroy(q[i]), 0);
	free(buf[0]);
	free(buf[1]);
	free(word);
}

TEST_HARNESS_MAIN
