// SPDX-License-Identifier: MIT
/*
 * svm_hostile: process death at the scheduler's hard bound (issue 12).
 * A process whose queues hold its 2 x save_areas_per_process save areas
 * (the per-process ceiling: half under its cap, half past it) and whose
 * further queues are refused an area for good is SIGKILLed: every area
 * comes back, no preemption times out, nothing is lost or hung, and other
 * processes' queues run with exact bytes, before and after the kill, in
 * several rounds.  The kernel log and kmemleak (the debug kernel) are
 * judged after the suite.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "svmgpu_guest.h"
#include "svmgpu_test.h"

#define PAGE	4096ul
#define SIZE	(64 * PAGE)

static long long sched_value(const char *name)
{
	return sg_debugfs_value("svmgpu_sched", name);
}

/* Wait up to 10 s for sched counter @name to be @n; return it. */
static long long sched_value_becomes(const char *name, long long n)
{
	int i;

	for (i = 0; i < 1000 && sched_value(name) != n; i++)
		usleep(10000);
	return sched_value(name);
}

static const char *const saved_names[] = {
	"timeslice_ms", "hang_timeout_ms", "preempt_timeout_ms",
	"save_areas_per_process", "save_areas_max", "save_areas_wait_ms",
};

#define NSAVED	(sizeof(saved_names) / sizeof(saved_names[0]))

FIXTURE(hostile) {
	long long saved[NSAVED];
	unsigned int nhw;
	int fd;
	uint32_t ctx;
	pid_t kid;
};

FIXTURE_SETUP(hostile)
{
	struct drm_svmgpu_get_info info = { 0 };
	unsigned int i;

	for (i = 0; i < NSAVED; i++)
		self->saved[i] = sg_param_read(saved_names[i]);
	self->fd = sg_open();
	if (self->fd < 0)
		SKIP(return, "no render node");
	if (sched_value("enabled") != 1)
		SKIP(return, "scheduler off (device without CAPS.PREEMPT, or preempt=0)");
	ASSERT_EQ(sg_info(self->fd, &info), 0);
	self->nhw = info.num_queues;
	ASSERT_EQ(sg_ctx_create(self->fd, &self->ctx), 0);
}

FIXTURE_TEARDOWN(hostile)
{
	unsigned int i;

	/* First: the child's refused queues must not get areas as the caps go back. */
	if (self->kid > 0) {
		kill(self->kid, SIGKILL);
		waitpid(self->kid, NULL, 0);
	}
	for (i = 0; i < NSAVED; i++)
		if (self->saved[i] >= 0)
			sg_param_write(saved_names[i], self->saved[i]);
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * A child with @n queues in WAITs nobody satisfies: 0 when all are
 * submitted, the child's pid in *@pid.
 */
static int fork_waiters(unsigned int n, pid_t *pid)
{
	struct sg_peer child;
	int ret;

	*pid = sg_peer_fork(&child);
	if (*pid < 0)
		return -1;
	if (!*pid) {
		uint64_t *word = sg_map_anon(4096);
		int fd = sg_open();
		struct svmgpu_cmd c;
		uint32_t ctx, q;
		unsigned int j;

		if (fd < 0 || !word || sg_ctx_create(fd, &ctx))
			_exit(2);
		word[0] = 0;
		for (j = 0; j < n; j++) {
			c = sg_wait_eq(word, 1, 0);
			if (sg_queue_create(fd, ctx, 0, &q) || sg_submit(fd, q, &c, 1, NULL))
				_exit(3);
		}
		if (sg_peer_post(&child))
			_exit(4);
		for (;;)
			pause();
	}
	ret = sg_peer_wait(&child);
	sg_peer_close(&child);
	return ret;
}

/* FILLs with @v on @nq new queues of @ctx at once, all exact: 0 or a step. */
static int fills_run(int fd, uint32_t ctx, unsigned int nq, int v)
{
	unsigned char *b = sg_map_anon(nq * SIZE);
	struct drm_svmgpu_wait w;
	uint32_t q[16];
	uint64_t seq[16];
	unsigned int i;
	int ret = 0;

	if (!b || nq > 16)
		return 1;
	memset(b, 0xee, nq * SIZE);
	for (i = 0; i < nq; i++) {
		struct svmgpu_cmd c = sg_fill(b + i * SIZE, SIZE, (v + i) & 0xff, 1);

		if (sg_queue_create(fd, ctx, 0, &q[i]) || sg_submit(fd, q[i], &c, 1, &seq[i]))
			return 2;
	}
	for (i = 0; i < nq; i++) {
		if (sg_wait(fd, q[i], seq[i], seq[i], 30ull * 1000000000, &w) || w.nr_errors)
			ret = ret ? ret : 3;
		else if (!sg_all_bytes(b + i * SIZE, (v + i) & 0xff, SIZE))
			ret = ret ? ret : 4;
		sg_queue_destroy(fd, q[i]);
	}
	munmap(b, nq * SIZE);
	return ret;
}

/*
 * save_areas_per_process 2 (ceiling 4), save_areas_wait_ms 300: a child's
 * nhw + 4 queues in WAITs take 2 areas under its cap and, after the wait,
 * 2 past it (save_areas_over 2), no more; the rest are refused for good.
 * This process's 4 FILLs run meanwhile.  SIGKILL of the child: its areas
 * come back (save_areas_used and _over as before), and 8 FILLs on 8 new
 * queues run exact.  Three rounds, then no preemption timed out, no hang,
 * no replay lost.
 */
TEST_TIMEOUT(240)
TEST_F(hostile, kill_at_save_area_ceiling_frees_and_others_run)
{
	long long pto0 = sched_value("preempt_timeouts");
	long long lost0 = sched_value("replays_lost");
	long long hangs0 = sg_dev_counter("hangs");
	long long used0, max;
	int round, st;

	ASSERT_GE(pto0, 0);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	ASSERT_EQ(sg_param_write("timeslice_ms", 50), 0);
	ASSERT_EQ(sg_param_write("preempt_timeout_ms", 60000), 0);
	ASSERT_EQ(sg_param_write("save_areas_per_process", 2), 0);
	ASSERT_EQ(sg_param_write("save_areas_wait_ms", 300), 0);
	used0 = sched_value("save_areas_used");
	ASSERT_GE(used0, 0);
	ASSERT_EQ(sched_value("save_areas_over"), 0);
	/* The device's cap well above what the child can hold under it. */
	max = sg_param_read("save_areas_max");
	if (max < used0 + 16)
		ASSERT_EQ(sg_param_write("save_areas_max", used0 + 16), 0);

	for (round = 0; round < 3; round++) {
		long long used, over;

		ASSERT_EQ(fork_waiters(self->nhw + 4, &self->kid), 0);
		over = sched_value_becomes("save_areas_over", 2);
		used = sched_value_becomes("save_areas_used", used0 + 2);
		/* Two more waits: no grant comes past the ceiling. */
		usleep(600000);
		over = sched_value("save_areas_over");
		used = sched_value("save_areas_used");
		TH_LOG("round %d: the child's %u queues hold %lld areas under the caps, %lld past",
		       round, self->nhw + 4, used - used0, over);
		EXPECT_EQ(used, used0 + 2);
		EXPECT_EQ(over, 2);
		EXPECT_EQ(fills_run(self->fd, self->ctx, 4, 0x10 + round), 0);

		ASSERT_EQ(kill(self->kid, SIGKILL), 0);
		ASSERT_EQ(waitpid(self->kid, &st, 0), self->kid);
		self->kid = 0;
		EXPECT_TRUE(WIFSIGNALED(st));
		EXPECT_EQ(sched_value_becomes("save_areas_over", 0), 0);
		EXPECT_EQ(sched_value_becomes("save_areas_used", used0), used0);
		EXPECT_EQ(fills_run(self->fd, self->ctx, 8, 0x40 + round), 0);
	}
	EXPECT_EQ(sched_value("preempt_timeouts"), pto0);
	EXPECT_EQ(sg_dev_counter("hangs"), hangs0);
	EXPECT_EQ(sched_value("replays_lost"), lost0);
}

TEST_HARNESS_MAIN
